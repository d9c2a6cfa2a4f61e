"""Every command's words in one table: the argparse parser (cli.build_parser), the quick reader of
`use`, `status`, `list` and `eks-token` (cli._quick_args) and TAB completion (completion.py) are all made from it.

Plain data with no imports beyond the light ones: completion reads it at every TAB, the quick reader
at every shell start. Choices that live elsewhere are named by a function, called only when needed.
"""

from __future__ import annotations

from geodesic_stage.lifetimes import PROMPT_RENEW_TIMEOUT, SSO_CHECK_MAX_SECONDS, SSO_LISTING_MAX_SECONDS


class Option:
    """One option: a switch when `value` is None, else the type its value is read as."""

    __slots__ = ("name", "help", "value", "metavar", "choices", "repeat", "group", "default", "kept")

    def __init__(self, name, help, value=None, metavar=None, choices=None, repeat=False, group=None, default=None, kept=False):
        self.name, self.help, self.value, self.metavar, self.default = name, help, value, metavar, default
        # Recorded by `stage use` so that a renewal chooses as the use did (context.used_with): no secret, nothing of one call.
        self.kept = kept
        # A function giving the values it takes (imported only when asked), and whether it may be given again.
        self.choices, self.repeat = choices, repeat
        # The help section it is listed under; a name starting with "!" makes its options exclusive of each other.
        self.group = group

    @property
    def dest(self) -> str:
        """The attribute argparse stores it in: --mfa-token -> mfa_token."""
        return self.name[2:].replace("-", "_")


class Positional:
    __slots__ = ("name", "help", "nargs", "metavar")

    def __init__(self, name, help=None, nargs=None, metavar=None):
        self.name, self.help, self.nargs, self.metavar = name, help, nargs, metavar


class Command:
    """A command's positionals and options; `actions`, for a command whose first word is an action
    of its own (keys), maps each action to a Command of its own."""

    __slots__ = ("positionals", "options", "actions")

    def __init__(self, positionals=(), options=(), actions=None):
        self.positionals, self.options, self.actions = tuple(positionals), tuple(options), actions

    @property
    def takes_stage(self) -> bool:
        return any(p.name == "stage" for p in self.positionals)


def positive_seconds(text: str) -> float:
    """The value type of a number of seconds above 0 (--max-time)."""
    import argparse  # only the parser calls it

    try:
        value = float(text)
    except ValueError:
        value = 0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds above 0")
    return value


def _formats():
    from geodesic_stage.render import FORMATS

    return FORMATS


def _topologies():
    from geodesic_stage.config.stages_file import TOPOLOGIES

    return TOPOLOGIES


def _init_topologies():
    return (*_topologies(), "sso")


_STAGE = "stage options"
STAGE_OPTIONS = (
    Option("--profile", "use this AWS profile instead of resolving the stage", str, group=_STAGE, kept=True),
    Option("--role", "role part of the profile name (default: admin)", str, group=_STAGE, kept=True),
    Option("--namespace", "namespace part of the profile name (default: $NAMESPACE)", str, group=_STAGE, kept=True),
    Option("--region", "override the profile's region", str, group=_STAGE, kept=True),
)
MFA_OPTIONS = (
    Option("--duration", "role session length", int, "SECONDS", group=_STAGE, kept=True),
    Option("--mfa-token", "the MFA code, for use without a terminal", str, "CODE", group=_STAGE),
    Option("--direct", "AssumeRole with the MFA code (mfa_mode = direct)", group=_STAGE, kept=True),
    Option("--session-duration", "MFA session length (default 43200)", int, "SECONDS", group=_STAGE, kept=True),
)
_STAGE_ARGUMENT = Positional("stage")
_PROFILE = Positional("profile")
_SSO = "Identity Center (--topology sso; signs in if needed, then lists the accounts it sees)"

# In the order `geodesic-stage --help` lists them.
COMMANDS = {
    "use": Command([_STAGE_ARGUMENT], [
        Option("--no-prompt", "use cached sessions only; exit 3 if a code is needed"),
        Option("--as-used", "with the choices the shell's stage was used with (GEODESIC_STAGE_USED_WITH) under this "
               "run's own: what a login shell that inherits expired credentials runs"),
        Option("--serve", "export a loopback credential endpoint that renews by itself instead of the keys "
               "(runs longer than the role's hour)", group="!serve", kept=True),
        Option("--no-serve", "export the keys where GEODESIC_STAGE_SERVE or the stages file says serve", group="!serve", kept=True),
        *STAGE_OPTIONS, *MFA_OPTIONS,
    ]),
    "status": Command((), [Option("--verify", "ask STS who these credentials are"), *STAGE_OPTIONS]),
    "list": Command((), [Option("--json", "one JSON array for scripts"), *STAGE_OPTIONS]),
    "env": Command([_STAGE_ARGUMENT], [
        Option("--format", "the output's form (default: sh)", str, choices=_formats, default="sh"),
        Option("--show", "print the keys even when stdout is a terminal"),
        *STAGE_OPTIONS, *MFA_OPTIONS,
    ]),
    "exec": Command(
        [_STAGE_ARGUMENT, Positional("argv", "the command and its arguments", "+", "-- COMMAND")], [
            Option("--serve", "give the command a loopback credential endpoint that renews by itself until it ends, "
                   "instead of keys that last the role's hour at most"),
            *STAGE_OPTIONS, *MFA_OPTIONS,
        ],
    ),
    "logout": Command((), [Option("--forget", "delete cached MFA and role sessions too"), *STAGE_OPTIONS]),
    "refresh": Command((), [
        Option("--bounded", f"give up after {PROMPT_RENEW_TIMEOUT} s in all (the prompt hook's renewal; stage use waits longer)"),
        *STAGE_OPTIONS,
    ]),
    "credential-process": Command([_STAGE_ARGUMENT], STAGE_OPTIONS),
    "console": Command([Positional("stage", "default: the stage this shell holds", "?")], [
        Option("--open", "open the URL with $BROWSER instead of printing it"), *STAGE_OPTIONS, *MFA_OPTIONS,
    ]),
    "init": Command((), [
        Option("--topology", "how the stages map to AWS accounts (sso: IAM Identity Center)", str, choices=_init_topologies),
        Option("--namespace", "first part of each profile name (default: $NAMESPACE)", str),
        Option("--role", "last part of each profile name and of the root role (default: admin)", str),
        Option("--region", "region of every profile", str),
        Option("--root-account-id", "the root (master) account", str, "ID"),
        Option("--mfa-serial", "your MFA device's ARN", str, "ARN", group="!mfa"),
        Option("--mfa-user", "your IAM user in the root account: arn:aws:iam::ROOT:mfa/USER", str, "USER", group="!mfa"),
        Option("--source-profile", "the profile holding your long-lived keys", str, "NAME"),
        Option("--stage", "a stage, repeated; the account id is needed for organization and accounts", str, "NAME[=ACCOUNT_ID]", repeat=True),
        Option("--sso-session", "the [sso-session NAME] section to write and use", str, "NAME", group=_SSO),
        Option("--sso-start-url", "your AWS access portal URL (default: the session's, if present)", str, "URL", group=_SSO),
        Option("--sso-region", "the Identity Center region (default: the session's, if present)", str, "REGION", group=_SSO),
        Option("--sso-role", "the permission set every stage profile uses", str, "PERMISSION_SET", group=_SSO),
        Option(
            "--max-time",
            f"give up listing the accounts after this long, writing nothing (default: {SSO_LISTING_MAX_SECONDS}, "
            "enough for 7,000 accounts at the portal's 20 calls a second)",
            positive_seconds, "SECONDS", group=_SSO, default=SSO_LISTING_MAX_SECONDS,
        ),
        Option("--dry-run", "print the change as a unified diff; write nothing"),
        Option("--force", "overwrite profiles of ours that were edited by hand"),
    ]),
    "doctor": Command((), [
        Option("--namespace", "namespace of the stage profiles (default: $NAMESPACE)", str),
        Option("--role", "role part of the profile names (default: admin)", str),
        Option("--topology", "check against this topology instead of the stages file's or the inferred one", str, choices=_topologies),
        Option("--offline", "skip the checks that call AWS (clock skew, EKS clusters)"),
        Option(
            "--max-time", f"check Identity Center permission sets for this long at most (default: {SSO_CHECK_MAX_SECONDS})",
            positive_seconds, "SECONDS", default=SSO_CHECK_MAX_SECONDS,
        ),
    ]),
    # kubectl's exec plugin (the kubeconfig `stage use` writes runs it), at every kubectl and helm call.
    "eks-token": Command([_STAGE_ARGUMENT], [
        Option("--cluster", "the EKS cluster (default: the stage's eks_cluster in the stages file)", str, "NAME"),
        Option("--eks-region", "the cluster's region (default: eks_region, else the stage's region)", str, "REGION"),
        *STAGE_OPTIONS,
    ]),
    "keys": Command(actions={
        "add": Command([_PROFILE]),
        "import": Command([_PROFILE]),
        "list": Command(),
        "remove": Command([_PROFILE]),
        "passwd": Command(),
        "rotate": Command([_PROFILE], [
            Option("--delete-inactive", "delete the user's other key first if it is inactive"),
            Option("--keep-inactive", "deactivate the old key but do not delete it"),
            Option("--mfa-token", "the MFA code, for use without a terminal", str, "CODE"),
        ]),
    }),
}
# Help of each keys action (the parser shows it; completion needs none).
ACTION_HELP = {
    "add": "store a profile's keys, typed on the terminal (never on the command line)",
    "import": "move a profile's keys from ~/.aws/credentials into the store (checked with STS first)",
    "list": "profiles, key ids and the age of each key (no passphrase needed)",
    "remove": "drop a profile's keys from the store (IAM keeps them)",
    "passwd": "change the store's passphrase (typed twice)",
    "rotate": "new key in IAM, checked, then the old one deactivated and deleted",
}
GLOBAL_OPTIONS = ("--help", "--version", "--debug")

"""The command line: parse, run one command, turn errors into a line and an exit code."""

from __future__ import annotations

import sys
from types import SimpleNamespace

from geodesic_stage import __version__, log
from geodesic_stage.errors import Interrupted, StageError

COMMANDS = ("use", "status", "list", "env", "exec", "logout", "refresh", "credential_process", "console", "init", "doctor", "keys")
_BY_NAME = {name.replace("_", "-"): name for name in COMMANDS}

# The words of the commands run at every prompt and shell start, read without argparse: building a
# parser (with the gettext, locale and shutil it loads) costs more than a cached `use` does all told.
# A word this table does not know (help, a typo, a missing stage) goes to argparse, which knows every
# command and says every error. command: (positionals, switches, options taking a value: their type)
_STAGE_VALUES = {"--profile": str, "--role": str, "--namespace": str, "--region": str}
_QUICK = {
    "use": (("stage",), ("--no-prompt", "--direct"),
            {**_STAGE_VALUES, "--duration": int, "--mfa-token": str, "--session-duration": int}),
    "status": ((), ("--verify",), _STAGE_VALUES),
    "list": ((), ("--json",), _STAGE_VALUES),
}


def _quick_args(words) -> SimpleNamespace | None:
    """What argparse would make of `words` for a plain use, status or list; None for anything else."""
    debug = 0
    while words[debug:debug + 1] == ["--debug"]:
        debug += 1
    command = words[debug] if debug < len(words) else "status"
    if command not in _QUICK:
        return None
    positionals, switches, valued = _QUICK[command]
    found = {"debug": bool(debug), "command": command, **dict.fromkeys(positionals)}
    found.update({_dest(option): None for option in valued})
    found.update({_dest(switch): False for switch in switches})
    given = []
    rest = iter(words[debug + 1:])
    for word in rest:
        option, equals, value = word.partition("=")
        if word in switches or word == "--debug":
            found[_dest(word)] = True
        elif option in valued:
            value = value if equals else next(rest, None)
            if value is None or value.startswith("-"):
                return None
            try:
                found[_dest(option)] = valued[option](value)
            except ValueError:
                return None
        elif word.startswith("-") or len(given) == len(positionals):
            return None
        else:
            given.append(word)
    if len(given) != len(positionals):
        return None
    found.update(zip(positionals, given))
    # __import__ rather than importlib.import_module, which would load importlib and warnings for it.
    module = __import__(f"geodesic_stage.commands.{command}", fromlist=["run"])
    return SimpleNamespace(**found, run=module.run)


def _dest(option: str) -> str:
    """The attribute argparse stores an option in: --mfa-token -> mfa_token."""
    return option[2:].replace("-", "_")


def positive_seconds(text: str) -> float:
    """argparse's type for a number of seconds above 0 (--max-time)."""
    import argparse

    try:
        value = float(text)
    except ValueError:
        value = 0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds above 0")
    return value


def _stage_options(parser, mfa: bool = True) -> None:
    group = parser.add_argument_group("stage options")
    group.add_argument("--profile", help="use this AWS profile instead of resolving the stage")
    group.add_argument("--role", help="role part of the profile name (default: admin)")
    group.add_argument("--namespace", help="namespace part of the profile name (default: $NAMESPACE)")
    group.add_argument("--region", help="override the profile's region")
    if mfa:
        group.add_argument("--duration", type=int, metavar="SECONDS", help="role session length")
        group.add_argument("--mfa-token", metavar="CODE", help="the MFA code, for use without a terminal")
        group.add_argument("--direct", action="store_true", help="AssumeRole with the MFA code (mfa_mode = direct)")
        group.add_argument("--session-duration", type=int, metavar="SECONDS", help="MFA session length (default 43200)")


def build_parser(only: str | None = None):
    """The whole command line (an argparse parser); with `only`, just that command's part (all one run of it needs)."""
    import argparse
    from importlib import import_module

    class _Parser(argparse.ArgumentParser):
        """No abbreviated options: `stage use --he` would be --help, whose text the function evals."""

        def __init__(self, *args, **kwargs):
            kwargs.setdefault("allow_abbrev", False)
            super().__init__(*args, **kwargs)

        def error(self, message):
            self.print_usage(sys.stderr)
            raise StageError(f"{message} (see --help)")

    parser = _Parser(
        prog="geodesic-stage",
        description="Assume a stage's AWS role with MFA in the current shell (the `stage` function wraps this).",
        epilog="example: stage use testing",
    )
    parser.add_argument("--version", action="version", version=f"geodesic-stage {__version__}")
    parser.add_argument("--debug", action="store_true", help="show each decision on stderr (secrets redacted)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in (only,) if only else COMMANDS:
        module = import_module(f"geodesic_stage.commands.{name}")
        command = sub.add_parser(
            name.replace("_", "-"),
            help=module.HELP,
            description=module.HELP,
            epilog=f"example: {module.EXAMPLE}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        module.add_arguments(command)
        if getattr(module, "STAGE_OPTIONS", True):
            _stage_options(command, mfa=getattr(module, "NEEDS_MFA", True))
        command.set_defaults(run=module.run)
    return parser


def _command_of(argv) -> str | None:
    """The command argv runs, if nothing before it needs the whole parser (help, an unknown word)."""
    for word in argv:
        if word != "--debug":
            return None if word.startswith("-") else _BY_NAME.get(word)
    return None


def main(argv=None) -> int:
    words = sys.argv[1:] if argv is None else argv
    from geodesic_stage import passphrase

    passphrase.take_from_environment()  # before anything can start a process that would inherit it
    if words[:1] == ["__complete"]:
        # TAB completion, at every key press: none of the parsers below.
        from geodesic_stage import completion

        return completion.main(words[1:])
    try:
        args = _quick_args(words)
        if args is None:
            # Building every command's parser imports every command module: pay only for the one asked for.
            parser = build_parser(_command_of(words))
            args = parser.parse_args(words)
            if not getattr(args, "command", None):
                args = parser.parse_args([*words, "status"])
        if getattr(args, "debug", False):
            log.enable_debug()
        from geodesic_stage.context import Context

        return args.run(args, Context.from_args(args)) or 0
    except StageError as e:
        log.say(e.message)
        return e.exit_code
    except KeyboardInterrupt:
        log.say(Interrupted("interrupted; nothing changed").message)
        return Interrupted.exit_code
    except BrokenPipeError:
        return 1

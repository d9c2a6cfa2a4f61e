"""What every command starts from: the parsed files and the user's request."""

from __future__ import annotations

import os
from types import SimpleNamespace

from geodesic_stage import log
from geodesic_stage.config import awsconfig, chain, resolve
from geodesic_stage.errors import ConfigError
from geodesic_stage.model import Stage
from geodesic_stage.options import COMMANDS
from geodesic_stage.record import replace
from geodesic_stage.render import SERVED_PROFILE
from geodesic_stage.config.stages_file import StagesFile, load_stages


# What `stage use` exports that says a stage is held: STAGE and the credentials' end, each set, ...
IN_USE = ("STAGE", "AWS_CREDENTIAL_EXPIRATION")
# ... and one of these: the keys, or the profile the shell's credential endpoint serves (`use --serve`).
# Keys without an end are the user's own, exported by hand. stage.sh's __geodesic_stage_current asks
# the same of the same variables (tests/test_stage_in_use.py).
HELD_BY = ("AWS_ACCESS_KEY_ID", SERVED_PROFILE)


def stage_in_use(environ=os.environ) -> str | None:
    """The stage this shell holds: the one place that decides it for status, list, console, refresh and doctor."""
    held = all(environ.get(name) for name in IN_USE) and any(environ.get(name) for name in HELD_BY)
    return environ.get("STAGE") if held else None


def served_profile(environ=os.environ) -> str | None:
    """The profile this shell's credential endpoint serves, when the shell holds its stage that way:
    with no keys exported, which every SDK would take before the endpoint."""
    if environ.get("AWS_ACCESS_KEY_ID") or not stage_in_use(environ):
        return None
    return environ.get(SERVED_PROFILE)


# The options of `stage use` its block records (in render.USED_WITH, as shell words), so that a renewal
# in this shell or in a login shell started from it keeps the region, role, profile, duration and
# serving chosen: those the options table marks kept (never --mfa-token, nor --no-prompt, which is that call's).
# option: (attribute, type)
_KEPT = {o.name: (o.dest, o.value or bool) for o in COMMANDS["use"].options if o.kept}


def used_with(args) -> str:
    """The record of the options `args` (a use's, or a renewal's) hold, for render.USED_WITH: '' for none."""
    chosen = [(option, getattr(args, name, None)) for option, (name, _) in _KEPT.items()]
    chosen = [(option, value) for option, value in chosen if value is not None and value is not False]  # 0 is a value
    if not chosen:
        return ""
    from geodesic_stage.render import quote  # POSIX quoting, which shlex.split reads back (shlex costs a cached use its import)

    return " ".join(option if value is True else f"{option} {quote(str(value))}" for option, value in chosen)


def recorded_use() -> dict:
    """The options the shell's stage was used with, read back from render.USED_WITH: {attribute: value}."""
    from geodesic_stage.render import USED_WITH

    text = os.environ.get(USED_WITH, "")
    if not text:
        return {}
    import shlex

    def refused(what: str) -> ConfigError:
        return ConfigError(f"{USED_WITH} is not a record of 'stage use' ({what}); run 'stage use' again")

    try:
        words = iter(shlex.split(text))
    except ValueError as e:
        raise refused(str(e))
    found = {}
    for word in words:
        if word not in _KEPT:
            raise refused(f"{word!r}")
        name, kind = _KEPT[word]
        value = True if kind is bool else next(words, None)
        if value is None:
            raise refused(f"{word} without a value")
        try:
            found[name] = kind(value)
        except ValueError:
            raise refused(f"{word} {value!r}")
    return found


def _may_hold_keys(profile: str) -> bool:
    """keystore.may_hold, asked only of a source the files give no keys: other stages never load the key store's module."""
    from geodesic_stage.keys import store

    return store.may_hold(profile)


class Context:
    def __init__(self, request: resolve.Request, stages: StagesFile, config_path: str):
        self.request = request
        self.stages = stages
        self.config_path = config_path
        self._profiles: dict[str, dict] | None = None
        self._credentials: dict[str, dict] | None = None
        self._sso_sessions: dict[str, dict] | None = None

    @classmethod
    def from_args(cls, args) -> "Context":
        request = resolve.Request(
            namespace=getattr(args, "namespace", None) or os.environ.get("NAMESPACE") or None,
            role=getattr(args, "role", None),
            profile=getattr(args, "profile", None),
            region=getattr(args, "region", None),
        )
        context = cls(request=request, stages=load_stages(), config_path=awsconfig.config_path())
        log.debug(f"AWS config {context.config_path}; stages file {context.stages.path or '(none found)'}")
        return context

    @property
    def profiles(self) -> dict[str, dict]:
        """Every profile as botocore sees them: the config's, with the credentials file's merged in."""
        if self._profiles is None:
            self._profiles = chain.merged(awsconfig.load_profiles(self.config_path), self.credentials)
        return self._profiles

    @property
    def credentials(self) -> dict[str, dict]:
        if self._credentials is None:
            self._credentials = awsconfig.load_credentials()
        return self._credentials

    @property
    def sso_sessions(self) -> dict[str, dict]:
        """The config's [sso-session] sections, read once (list and doctor resolve thousands of stages)."""
        if self._sso_sessions is None:
            self._sso_sessions = awsconfig.load_sso_sessions(self.config_path)
        return self._sso_sessions

    def stage(self, name: str) -> Stage:
        return resolve.resolve_stage(
            name, self.profiles, self.stages, self.request, self.config_path, self.credentials, _may_hold_keys,
            sso_sessions=lambda: self.sso_sessions,
        )

    def known_stages(self) -> dict[str, str]:
        return resolve.known_stages(self.profiles, self.stages, self.request)

    def settings(self, args):
        """The Settings of this run: the stages file's, or the flags'."""
        from geodesic_stage.model import Settings

        direct = getattr(args, "direct", False)
        return Settings(
            mfa_mode="direct" if direct else self.stages.mfa_mode,
            session_seconds=getattr(args, "session_duration", None) or self.stages.session_duration,
            role_seconds=getattr(args, "duration", None),
        )

    def as_used(self, args) -> SimpleNamespace:
        """This run's own options over those the shell's stage was used with (recorded_use), as a renewal
        must keep them; the request takes them. The options, for settings() and used_with()."""
        recorded = recorded_use()
        chosen = {}
        for name, _ in _KEPT.values():
            own = getattr(args, name, None)
            chosen[name] = own if own is not None and own is not False else recorded.get(name)
        self.request = replace(self.request, **{
            name: chosen[name] for name in ("namespace", "role", "profile", "region") if chosen[name] is not None
        })
        return SimpleNamespace(**chosen)

    def current_stage(self) -> Stage | None:
        """The stage this shell holds (stage_in_use), resolved through its AWS_PROFILE (or the served one)."""
        name = stage_in_use()
        if not name:
            return None
        profile = served_profile() or os.environ.get("AWS_PROFILE")
        if profile and not self.request.profile:
            self.request = replace(self.request, profile=profile)
        return self.stage(name)

"""What every command starts from: the parsed files and the user's request."""

from __future__ import annotations

import os

from geodesic_stage import awsconfig, chain, log, resolve
from geodesic_stage.model import Stage
from geodesic_stage.record import replace
from geodesic_stage.stages import StagesFile, load_stages


def stage_in_use() -> str | None:
    """The stage this shell holds: STAGE, with the keys `stage use` exported beside it.
    The one place that decides it for status, list, console and refresh."""
    name = os.environ.get("STAGE")
    return name if name and os.environ.get("AWS_ACCESS_KEY_ID") else None


def _may_hold_keys(profile: str) -> bool:
    """keystore.may_hold, asked only of a source the files give no keys: other stages never load the key store's module."""
    from geodesic_stage import keystore

    return keystore.may_hold(profile)


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
        return resolve.resolve(
            name, self.profiles, self.stages, self.request, self.config_path, self.credentials, _may_hold_keys,
            sso_sessions=lambda: self.sso_sessions,
        )

    def known_stages(self) -> dict[str, str]:
        return resolve.known_stages(self.profiles, self.stages, self.request)

    def settings(self, args):
        """The credentials.Settings of this run (imported here: status and list need none of that module)."""
        from geodesic_stage.credentials import Settings

        direct = getattr(args, "direct", False)
        return Settings(
            mfa_mode="direct" if direct else self.stages.mfa_mode,
            session_seconds=getattr(args, "session_duration", None) or self.stages.session_duration,
            role_seconds=getattr(args, "duration", None),
        )

    def current_stage(self) -> Stage | None:
        """The stage this shell holds (stage_in_use), resolved through its AWS_PROFILE."""
        name = stage_in_use()
        if not name:
            return None
        profile = os.environ.get("AWS_PROFILE")
        if profile and not self.request.profile:
            self.request = replace(self.request, profile=profile)
        return self.stage(name)

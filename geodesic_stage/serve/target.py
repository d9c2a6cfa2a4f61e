"""What an endpoint serves: a profile as `stage use` or `exec` resolved it, and how its credentials
are kept fresh there: from the shared cache, renewed from the MFA session (or the Identity Center
sign-in) inside the cache's renewal window (lifetimes.CACHE_RENEW_SECONDS), never by asking a person."""

from __future__ import annotations

from geodesic_stage.config.stages_file import MFA_MODES
from geodesic_stage.errors import StageError
from geodesic_stage.lifetimes import DEFAULT_SESSION_SECONDS
from geodesic_stage.model import Credentials, Settings
from geodesic_stage.record import Record

# What a URL path carries as it is (RFC 3986's unreserved characters); every other byte is %XX.
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~-")


class NotServed(StageError):
    """A request for a profile this endpoint does not serve."""


class Target(Record):
    """One stage as a command resolved it: enough for the endpoint to resolve it again and renew
    it as that command would. Its path names the profile, so one endpoint serves each profile its
    shell has held at a path of its own (a job started before a switch keeps its account)."""

    stage: str
    profile: str
    region: str | None = None
    mfa_mode: str = "session"
    session_seconds: int = DEFAULT_SESSION_SECONDS
    role_seconds: int | None = None

    @property
    def path(self) -> str:
        return "/" + "".join(chr(b) if b in _UNRESERVED else f"%{b:02X}" for b in self.profile.encode("utf-8"))

    def url(self, port: int) -> str:
        """The endpoint's URL for this target: loopback only, as every SDK requires of a plain-HTTP one."""
        return f"http://127.0.0.1:{port}{self.path}"

    def to_json(self) -> dict:
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, data) -> Target | None:
        """The target a record holds, or None for anything that is not one (a damaged record serves nothing)."""
        if not isinstance(data, dict) or set(data) - set(cls._fields):
            return None
        texts = ("stage", "profile")
        if not all(isinstance(data.get(k), str) and data[k] for k in texts):
            return None
        if data.get("region") is not None and not isinstance(data["region"], str):
            return None
        if data.get("mfa_mode", "session") not in MFA_MODES:
            return None
        numbers = [data.get("session_seconds", DEFAULT_SESSION_SECONDS), data.get("role_seconds")]
        if not isinstance(numbers[0], int) or not (numbers[1] is None or isinstance(numbers[1], int)):
            return None
        return cls(**data)


def of(stage_name: str, profile: str, region: str | None, settings) -> Target:
    """The target of a command that resolved `stage_name` to `profile` with these model.Settings."""
    return Target(
        stage=stage_name, profile=profile, region=region, mfa_mode=settings.mfa_mode,
        session_seconds=settings.session_seconds, role_seconds=settings.role_seconds,
    )


class Renewer:
    """The credentials of a target, one renewal at a time: requests that arrive while one renews
    wait for it and are then served from the cache it filled."""

    def __init__(self):
        import threading

        self._lock = threading.Lock()

    def credentials(self, target: Target) -> Credentials:
        """Raises StageError with a message for the client: what a person must do, when only a person can renew."""
        # Imported here: the server process starts light, and a cache hit never loads boto3 (creds.obtain).
        from geodesic_stage.auth import mfa
        from geodesic_stage.config import awsconfig
        from geodesic_stage.config.resolve import Request
        from geodesic_stage.config.stages_file import load_stages
        from geodesic_stage.context import Context
        from geodesic_stage.creds.obtain import obtain

        with self._lock:
            # Resolved again at each request, as `stage refresh` does: an edited config counts from the next one.
            context = Context(Request(profile=target.profile, region=target.region), load_stages(), awsconfig.config_path())
            stage = context.stage(target.stage)
            settings = Settings(mfa_mode=target.mfa_mode, session_seconds=target.session_seconds, role_seconds=target.role_seconds)
            # As refresh says it: --direct puts every code into AssumeRole, with no MFA session to renew from.
            expired = "" if target.mfa_mode == "direct" else "the MFA session has expired: "
            advice = f"{expired}run 'stage use {target.stage}'"
            return obtain(stage, settings, mfa.never(stage.profile, advice)).credentials

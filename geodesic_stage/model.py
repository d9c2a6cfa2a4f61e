"""The small values everything else passes around."""

from __future__ import annotations

from datetime import datetime

from geodesic_stage.config.chain import Chain
from geodesic_stage.record import Record


class SsoSession(Record):
    """An Identity Center sign-in: an `[sso-session NAME]` section, or a legacy profile's
    `sso_start_url` + `sso_region` (name None). One token serves every profile naming it."""

    start_url: str
    region: str
    name: str | None = None
    scopes: tuple[str, ...] = ()


class SsoRole(Record):
    """A permission set in an account, reached with an Identity Center token (GetRoleCredentials)."""

    session: SsoSession
    account_id: str
    role_name: str


class Profile(Record):
    """An AWS config profile that assumes a role, or (with `sso`) an Identity Center one:
    what a stage resolves to."""

    name: str
    role_arn: str
    source_profile: str | None = None
    mfa_serial: str | None = None
    region: str | None = None
    external_id: str | None = None
    role_session_name: str | None = None
    duration_seconds: int | None = None
    mfa_process: str | None = None
    sso: SsoRole | None = None

    @property
    def account_id(self) -> str:
        if self.sso:
            return self.sso.account_id
        parts = self.role_arn.split(":")
        return parts[4] if len(parts) > 5 else ""

    @property
    def role_name(self) -> str:
        if self.sso:
            return self.sso.role_name
        return self.role_arn.rsplit("/", 1)[-1] if "/" in self.role_arn else ""


class Stage(Record):
    name: str
    profile: Profile
    # How the profile's credentials are got, link by link (None: the profile's own source, one role).
    chain: Chain | None = None
    # The Identity Center sign-in a role chain starts from (its root is an SSO profile).
    sso_root: SsoRole | None = None


class Credentials(Record):
    """AWS keys; an IAM user's long-term keys have no session token and no expiration."""

    _secret = ("secret_access_key", "session_token")
    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: datetime | None

    @property
    def temporary(self) -> bool:
        """Session credentials: GetSessionToken refuses them, and AWS caps roles assumed with them at one hour."""
        return bool(self.session_token)

    def seconds_left(self, at: datetime) -> float:
        return (self.expiration - at).total_seconds()


class Session(Record):
    """Credentials for a stage, and how long the MFA session behind them lasts."""

    stage: Stage
    credentials: Credentials
    session_expiration: datetime

"""The small values everything else passes around."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Optional, Tuple

if TYPE_CHECKING:
    from geodesic_stage.chain import Chain


@dataclass(frozen=True)
class SsoSession:
    """An Identity Center sign-in: an `[sso-session NAME]` section, or a legacy profile's
    `sso_start_url` + `sso_region` (name None). One token serves every profile naming it."""

    start_url: str
    region: str
    name: Optional[str] = None
    scopes: Tuple[str, ...] = ()


@dataclass(frozen=True)
class SsoRole:
    """A permission set in an account, reached with an Identity Center token (GetRoleCredentials)."""

    session: SsoSession
    account_id: str
    role_name: str


@dataclass(frozen=True)
class Profile:
    """An AWS config profile that assumes a role, or (with `sso`) an Identity Center one:
    what a stage resolves to."""

    name: str
    role_arn: str
    source_profile: Optional[str] = None
    mfa_serial: Optional[str] = None
    region: Optional[str] = None
    external_id: Optional[str] = None
    role_session_name: Optional[str] = None
    duration_seconds: Optional[int] = None
    mfa_process: Optional[str] = None
    sso: Optional[SsoRole] = None

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


@dataclass(frozen=True)
class Stage:
    name: str
    profile: Profile
    # How the profile's credentials are got, link by link (None: the profile's own source, one role).
    chain: Optional["Chain"] = None
    # The Identity Center sign-in a role chain starts from (its root is an SSO profile).
    sso_root: Optional[SsoRole] = None


@dataclass(frozen=True)
class Credentials:
    """AWS keys; an IAM user's long-term keys have no session token and no expiration."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str = field(repr=False)
    expiration: Optional[datetime]

    @property
    def temporary(self) -> bool:
        """Session credentials: GetSessionToken refuses them, and AWS caps roles assumed with them at one hour."""
        return bool(self.session_token)

    def seconds_left(self, at: datetime) -> float:
        return (self.expiration - at).total_seconds()


@dataclass(frozen=True)
class Session:
    """Credentials for a stage, and how long the MFA session behind them lasts."""

    stage: Stage
    credentials: Credentials
    session_expiration: datetime

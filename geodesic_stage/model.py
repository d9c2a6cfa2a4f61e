"""The small values everything else passes around."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from geodesic_stage.chain import Chain


@dataclass(frozen=True)
class Profile:
    """An AWS config profile that assumes a role: what a stage resolves to."""

    name: str
    role_arn: str
    source_profile: Optional[str] = None
    mfa_serial: Optional[str] = None
    region: Optional[str] = None
    external_id: Optional[str] = None
    role_session_name: Optional[str] = None
    duration_seconds: Optional[int] = None
    mfa_process: Optional[str] = None

    @property
    def account_id(self) -> str:
        parts = self.role_arn.split(":")
        return parts[4] if len(parts) > 5 else ""

    @property
    def role_name(self) -> str:
        return self.role_arn.rsplit("/", 1)[-1] if "/" in self.role_arn else ""


@dataclass(frozen=True)
class Stage:
    name: str
    profile: Profile
    # How the profile's credentials are got, link by link (None: the profile's own source, one role).
    chain: Optional["Chain"] = None


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

"""The small values everything else passes around."""

from __future__ import annotations

from datetime import datetime

from geodesic_stage.lifetimes import DEFAULT_SESSION_SECONDS
from geodesic_stage.record import Record


# Kinds of root link, named after the setting that makes them.
STATIC = "static keys"
PROCESS = "credential_process"
SSO = "sso"
LOGIN = "login_session"
WEB_IDENTITY = "web_identity_token_file"
NAMED = "credential_source"
# Where static keys kept by `geodesic-stage keys` live, in place of a file.
KEY_STORE = "key store"


class SsoSession(Record):
    """An Identity Center sign-in: an `[sso-session NAME]` section, or a legacy profile's
    `sso_start_url` + `sso_region` (name None). One token serves every profile naming it."""

    start_url: str
    region: str
    name: str | None = None
    scopes: tuple[str, ...] = ()


class SsoToken(Record):
    """An Identity Center sign-in's token, as the AWS CLI v2 caches it (with its client registration, to refresh it)."""

    _secret = ("access_token", "refresh_token", "client_secret")
    access_token: str
    expires_at: datetime
    refresh_token: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    registration_expires_at: datetime | None = None

    def refreshable(self, at: datetime) -> bool:
        return bool(self.refresh_token and self.client_id and self.client_secret and self.registration_expires_at
                    and self.registration_expires_at > at)

    def lasts_until(self, at: datetime) -> datetime:
        """How long renewals can go on without a person: the refresh's end, else the token's."""
        return self.registration_expires_at if self.refreshable(at) else self.expires_at


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


class Source(Record):
    """The root link: credentials got without assuming a role and without a prompt.

    `profile` names the profile that holds the source (for NAMED, the role profile whose
    credential_source it is); no secret is kept here: static keys are read when used."""

    profile: str
    kind: str
    # Static keys that carry aws_session_token: temporary, so no GetSessionToken from them.
    temporary: bool = False
    credential_source: str | None = None
    # STATIC: which file holds the keys ("credentials" or "config"), as botocore looks, or KEY_STORE.
    file: str | None = None

    @property
    def may_be_long_term(self) -> bool:
        """Whether these may be an IAM user's own keys, the only ones GetSessionToken accepts.
        A credential_process or the environment may hold either: the credentials decide then."""
        if self.kind == STATIC:
            return not self.temporary
        return self.kind == PROCESS or self.credential_source == "Environment"


class RoleLink(Record):
    """One AssumeRole, with the settings botocore passes to it (and keys its cache by)."""

    profile: str
    role_arn: str
    mfa_serial: str | None = None
    external_id: str | None = None
    role_session_name: str | None = None
    duration_seconds: int | None = None


class Chain(Record):
    source: Source
    roles: tuple[RoleLink, ...] = ()

    @property
    def final(self) -> Source | RoleLink:
        """The link whose credentials the profile gives (its cache entry serves a cached use)."""
        return self.roles[-1] if self.roles else self.source

    @property
    def profile(self) -> str:
        return self.final.profile

    @property
    def session_serial(self) -> str | None:
        """The MFA device whose session (GetSessionToken) can start this chain: the first
        role's, when the source may be an IAM user's long-term keys."""
        if self.roles and self.roles[0].mfa_serial and self.source.may_be_long_term:
            return self.roles[0].mfa_serial
        return None

    def describe(self) -> str:
        """`cpco (static keys) -> cpco-identity-admin -> cpco-testing-admin`, for messages."""
        return " -> ".join([f"{self.source.profile} ({self.source.kind})", *(r.profile for r in self.roles)])


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


class StageCredentials(Record):
    """A stage's credentials, and until when they can be renewed without a person: the MFA session's
    end, or the Identity Center sign-in's (with its refresh)."""

    stage: Stage
    credentials: Credentials
    session_expiration: datetime


class Settings(Record):
    """How this run gets credentials: the stages file's mfa_mode and durations, or the flags'."""

    mfa_mode: str = "session"
    session_seconds: int = DEFAULT_SESSION_SECONDS
    role_seconds: int | None = None

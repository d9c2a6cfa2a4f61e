"""An Identity Center profile as botocore reads it: the account and permission set, and the sign-in behind them."""

from __future__ import annotations

from collections.abc import Mapping

from geodesic_stage.errors import ConfigError
from geodesic_stage.model import SsoRole, SsoSession

ROLE_KEYS = ("sso_account_id", "sso_role_name")


def is_sso(section: Mapping[str, str]) -> bool:
    """An SSO profile, as botocore decides: it names an account or a role to sign in to."""
    return any(key in section for key in ROLE_KEYS)


def role_of(profile: str, section: Mapping[str, str], sso_sessions: Mapping[str, Mapping[str, str]], where: str) -> SsoRole:
    """The profile's account and permission set and the sign-in behind them; botocore's rules, our messages."""
    values = dict(section)
    name = section.get("sso_session")
    if name is not None:
        session = sso_sessions.get(name)
        if session is None:
            raise ConfigError(f"profile {profile!r} in {where} names sso_session = {name}, but there is no [sso-session {name}] section")
        for key, value in session.items():
            if values.get(key, value) != value:
                raise ConfigError(
                    f"profile {profile!r} in {where}: {key} = {values[key]} differs from [sso-session {name}]'s {value}; keep one"
                )
            values[key] = value
    missing = [k for k in (*ROLE_KEYS, "sso_start_url", "sso_region") if not values.get(k)]
    if missing:
        place = f"[sso-session {name}]" if name is not None else f"profile {profile!r}"
        raise ConfigError(f"profile {profile!r} in {where} uses Identity Center but lacks {', '.join(missing)}; add it to {place}")
    scopes = tuple(s.strip() for s in values.get("sso_registration_scopes", "").split(",") if s.strip())
    return SsoRole(
        session=SsoSession(start_url=values["sso_start_url"], region=values["sso_region"], name=name, scopes=scopes),
        account_id=values["sso_account_id"],
        role_name=values["sso_role_name"],
    )


def describe(session: SsoSession) -> str:
    return f"sso-session {session.name}" if session.name is not None else f"start URL {session.start_url}"

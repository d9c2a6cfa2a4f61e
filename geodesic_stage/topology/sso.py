"""The profiles `init --topology sso` writes: one per account the Identity Center token can see
with the permission set, and the `[sso-session]` section they share. Pure functions."""

import re
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Tuple

from geodesic_stage.config.edit import SSO_PROFILE_KEYS, SSO_SESSION_KEYS
from geodesic_stage.model import SsoSession

DEFAULT_SCOPES = ("sso:account:access",)
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class Account:
    account_id: str
    name: str
    roles: Tuple[str, ...]


@dataclass(frozen=True)
class SsoStage:
    stage: str
    profile: str
    account_id: str


def stage_name(account_name: str, namespace: str) -> str:
    """`acme-testing` is stage `testing` in namespace acme; other names are kept, made safe for a profile name."""
    name = account_name[len(namespace) + 1:] if account_name.startswith(f"{namespace}-") else account_name
    return _UNSAFE.sub("-", name.strip()).strip("-").lower() or "account"


def stages(accounts: Iterable[Account], namespace: str, role: str, permission_set: str) -> List[SsoStage]:
    """A stage per account holding the permission set, by account name; a name met twice gets its account id."""
    chosen = sorted((a for a in accounts if permission_set in a.roles), key=lambda a: (a.name, a.account_id))
    seen: Dict[str, int] = {}
    for account in chosen:
        name = stage_name(account.name, namespace)
        seen[name] = seen.get(name, 0) + 1
    result = []
    for account in chosen:
        name = stage_name(account.name, namespace)
        if seen[name] > 1:
            name = f"{name}-{account.account_id}"
        result.append(SsoStage(name, f"{namespace}-{name}-{role}", account.account_id))
    return result


def render_session(session: SsoSession) -> str:
    values = {"sso_start_url": session.start_url, "sso_region": session.region,
              "sso_registration_scopes": ",".join(session.scopes)}
    return "\n".join([f"[sso-session {session.name}]"] + [f"{k}={values[k]}" for k in SSO_SESSION_KEYS if values[k]]) + "\n"


def render_profile(stage: SsoStage, session_name: str, permission_set: str, region: Optional[str]) -> str:
    values = {"sso_session": session_name, "sso_account_id": stage.account_id, "sso_role_name": permission_set,
              "region": region}
    return "\n".join([f"[profile {stage.profile}]"] + [f"{k}={values[k]}" for k in SSO_PROFILE_KEYS if values[k]]) + "\n"


def blocks(session: SsoSession, stages_: Iterable[SsoStage], permission_set: str, region: Optional[str]) -> Dict[str, str]:
    """Section text by the name `configedit.apply` knows it by, the session first."""
    found = {f"sso-session {session.name}": render_session(session)}
    for stage in stages_:
        found[stage.profile] = render_profile(stage, session.name, permission_set, region)
    return found

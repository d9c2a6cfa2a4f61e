"""A permission set's credentials from Identity Center (GetRoleCredentials), cached under botocore's
SSO key as the AWS CLI v2 caches them: for an Identity Center stage, or a role chain's root."""

from __future__ import annotations

from geodesic_stage import log
from geodesic_stage.creds import cached
from geodesic_stage.lifetimes import CALL_MARGIN_SECONDS
from geodesic_stage.model import Credentials, SsoRole


def credentials(role: SsoRole, can_sign_in: bool, stage_name: str, what: str = "", window: float | None = None) -> Credentials:
    """Cached role credentials, else GetRoleCredentials with a live token (refreshed or signed in as needed)."""
    return cached.sso_role(role, what).through(lambda: _buy(role, can_sign_in, stage_name), window)


def root_credentials(role: SsoRole, can_sign_in: bool, stage_name: str) -> Credentials:
    """A role chain's first credentials: the SSO root's cached ones while they last the AssumeRole call, else new."""
    return credentials(role, can_sign_in, stage_name, "the Identity Center role of the chain's root", CALL_MARGIN_SECONDS)


def _buy(role: SsoRole, can_sign_in: bool, stage_name: str):
    from geodesic_stage.aws import sso_api
    from geodesic_stage.sso import token
    from geodesic_stage.store.cli_cache import entry_from_credentials

    advice = f"run 'stage use {stage_name}' in a terminal to sign in"
    live = token.access_token(role.session, can_sign_in, advice)
    try:
        creds = sso_api.role_credentials(role.session.region, live, role.account_id, role.role_name)
    except sso_api.TokenRejected:
        # Revoked or signed out elsewhere: the cached token is of no use to anyone.
        log.debug("the portal refused the cached token; it is dropped")
        token.forget(role.session)
        live = token.access_token(role.session, can_sign_in, advice)
        creds = sso_api.role_credentials(role.session.region, live, role.account_id, role.role_name)
    entry = {"ProviderType": "sso", **entry_from_credentials(creds)}
    entry["Credentials"]["AccountId"] = role.account_id
    return creds, entry

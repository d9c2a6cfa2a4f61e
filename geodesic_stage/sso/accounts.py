"""`init --topology sso`: sign in (if needed), ask Identity Center which accounts the token sees
with the permission set (ListAccounts, ListAccountRoles), and render their profiles."""

import os
import re

from geodesic_stage import log
from geodesic_stage.auth import mfa
from geodesic_stage.config import awsconfig, resolve
from geodesic_stage.errors import ConfigError
from geodesic_stage.model import SsoSession
from geodesic_stage.sso import listing, token
from geodesic_stage.topology import sso as sso_topology

_NAME = re.compile(r"[A-Za-z0-9_.-]+\Z")


def blocks(args, context):
    """The sections to write, and a stage to suggest trying."""
    session = _session(args, context)
    permission_set = args.sso_role
    namespace = resolve.namespace_of(context.request, context.stages)
    missing = [flag for flag, value in (("--sso-role PERMISSION_SET", permission_set), ("--namespace NAME", namespace)) if not value]
    if missing:
        raise ConfigError(f"init --topology sso needs {', '.join(missing)}")
    live = token.access_token(session, _can_sign_in(), "run this init in a terminal to sign in")
    log.say(f"asking Identity Center which accounts you can reach with {permission_set}...")
    accounts = listing.read(session, live, permission_set, args.max_time)
    role = resolve.role_of(context.request, context.stages)
    stages = sso_topology.stages(accounts, namespace, role, permission_set)
    if not stages:
        seen = sorted({r for a in accounts for r in a.roles})
        raise ConfigError(
            f"no account you can reach has the permission set {permission_set!r}"
            + (f"; the ones you have: {', '.join(seen)}" if seen else "; your sign-in sees no accounts")
        )
    region = args.region or context.stages.region or session.region
    return sso_topology.blocks(session, stages, permission_set, region), stages[-1].stage


def _session(args, context) -> SsoSession:
    name = args.sso_session
    if not name or not _NAME.match(name):
        raise ConfigError("init --topology sso needs --sso-session NAME (letters, digits, '.', '_' or '-')")
    present = awsconfig.load_sso_sessions(context.config_path).get(name, {}) if os.path.exists(context.config_path) else {}
    start_url = args.sso_start_url or present.get("sso_start_url")
    region = args.sso_region or present.get("sso_region")
    missing = [flag for flag, value in (("--sso-start-url URL", start_url), ("--sso-region REGION", region)) if not value]
    if missing:
        raise ConfigError(f"init --topology sso needs {', '.join(missing)} (no [sso-session {name}] in {context.config_path} gives it)")
    if not start_url.startswith("https://"):
        raise ConfigError(f"--sso-start-url {start_url!r}: give your AWS access portal URL, https://...")
    scopes = tuple(s.strip() for s in present.get("sso_registration_scopes", "").split(",") if s.strip())
    return SsoSession(start_url, region, name, scopes or sso_topology.DEFAULT_SCOPES)


def _can_sign_in() -> bool:
    return mfa._has_terminal()

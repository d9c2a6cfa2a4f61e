"""Credentials for a stage: the one entry point of every command that needs them.

The stage's kind chooses its provider once: an Identity Center stage's permission set
(sso_role), or its role chain (walk). Each serves from its cache entry (cached) while the
entry lasts, and no boto3 is imported until a call must be made.
"""

from __future__ import annotations

from geodesic_stage import clock
from geodesic_stage.creds import cached
from geodesic_stage.model import Credentials, Settings, Stage, StageCredentials


def from_cache(stage: Stage) -> StageCredentials | None:
    """The stage's cached credentials (its final link's entry) if they last long enough; no network, no boto3."""
    entry = entry_of(stage)
    creds = entry.get() if entry else None
    return StageCredentials(stage, creds, renewable_until(stage, creds)) if creds else None


def obtain(stage: Stage, settings: Settings, mfa) -> StageCredentials:
    """Cached credentials, else new ones, asking `mfa` for a code only where a link needs one
    (and signing in to Identity Center only where `mfa` has a person at a terminal)."""
    found = from_cache(stage)
    if found:
        return found
    if stage.profile.sso:
        from geodesic_stage.creds import sso_role

        creds = sso_role.credentials(stage.profile.sso, mfa.terminal, stage.name, stage.profile.name)
        return StageCredentials(stage, creds, renewable_until(stage, creds))
    from geodesic_stage.auth import passphrase
    from geodesic_stage.creds import walk

    # A command that may not ask for a code (refresh, credential-process) may not ask for the key store's passphrase.
    passphrase.allow_prompt(mfa.can_ask)
    creds = walk.walk(stage, settings, mfa)
    return StageCredentials(stage, creds, renewable_until(stage, creds))


def entry_of(stage: Stage) -> cached.Entry | None:
    """The cache entry that serves the stage: its permission set's, or its chain's final role's."""
    if stage.profile.sso:
        return cached.sso_role(stage.profile.sso, stage.profile.name)
    final = stage.chain.roles[-1] if stage.chain.roles else None
    return cached.role(final) if final else None


def renewable_until(stage: Stage, creds: Credentials):
    """Until when the prompt hook can renew these without a person: the MFA session's end, or the
    Identity Center sign-in's (with its refresh), else the credentials' own."""
    role = stage.profile.sso or stage.sso_root
    if role:
        from geodesic_stage.sso import token

        return token.lasts_until(role.session, clock.now(), creds.expiration)
    entry = cached.mfa_session(stage.chain)
    session = entry.get() if entry else None
    return session.expiration if session else creds.expiration


def mfa_session_for(links, profile, settings: Settings, mfa) -> Credentials:
    """The MFA session that starts `links` (`keys rotate` signs IAM calls with it): cached, else bought."""
    from geodesic_stage.creds import mfa_session, sources

    found = mfa_session.cached_session(links)
    if found:
        return found
    return mfa_session.buy(links, profile, settings, mfa, sources.obtain(links.source, profile.region or "us-east-1"))

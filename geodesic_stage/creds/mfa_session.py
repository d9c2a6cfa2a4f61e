"""The MFA session: one code buys GetSessionToken on an IAM user's long-term keys, cached for every
shell and every chain that starts from those keys and that device."""

from __future__ import annotations

from geodesic_stage import log
from geodesic_stage.creds import cached
from geodesic_stage.lifetimes import MFA_LOCK_SECONDS
from geodesic_stage.model import Chain, Credentials, Profile, Settings


def entry(links: Chain) -> cached.Entry | None:
    """The cache entry of the chain's MFA session; None when the chain cannot have one."""
    return cached.mfa_session(links)


def cached_session(links: Chain) -> Credentials | None:
    found = entry(links)
    return found.get() if found else None


def buy(links: Chain, profile: Profile, settings: Settings, mfa, keys: Credentials) -> Credentials:
    """GetSessionToken with the source's long-term keys and a code, once for every chain that
    starts from those keys and that device: other shells wait on the lock and reuse it."""
    from geodesic_stage.aws import sts

    serial = links.session_serial
    if not mfa.can_ask:
        # Refusing now beats waiting on another shell's prompt: the prompt hook must not hang.
        mfa.code(serial, None)
    session = entry(links)
    with session.locked(MFA_LOCK_SECONDS, _say_waiting):
        # The shell that held the lock may have just bought the session.
        found = session.get()
        if found:
            log.debug("MFA session bought by another shell while waiting")
            return found
        log.debug(f"no MFA session cached for {links.source.profile} + {serial}: GetSessionToken with a code")
        creds = mfa.with_code(serial, lambda code: sts.get_session_token(profile, keys, serial, code, settings.session_seconds))
        from geodesic_stage.store.cli_cache import entry_from_credentials

        session.put(entry_from_credentials(creds))
        return creds


def _say_waiting() -> None:
    log.say("another shell is asking for the MFA code; waiting for it...")

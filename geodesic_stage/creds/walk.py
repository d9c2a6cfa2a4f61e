"""A role chain walked as the AWS CLI walks it, from the deepest link still cached.

session mode (default): when the chain starts from an IAM user's long-term keys and its first
role has mfa_serial, the MFA session's keys (mfa_session) assume that role without a code.
direct mode, and any role assumed with temporary credentials: the code goes into that role's
AssumeRole, as the AWS CLI does (AWS carries no MFA context down a chain, so a later link's
mfa_serial asks again). Every role link lands under the AWS CLI's cache key for it.
"""

from __future__ import annotations

from geodesic_stage import log
from geodesic_stage.config import chain
from geodesic_stage.creds import cached, mfa_session
from geodesic_stage.errors import ConfigError
from geodesic_stage.lifetimes import CHAINED_ROLE_SECONDS
from geodesic_stage.model import Chain, Credentials, RoleLink, Settings, Stage


def walk(stage: Stage, settings: Settings, mfa) -> Credentials:
    """The stage's final credentials, each role in turn, every one cached under botocore's key."""
    from geodesic_stage.aws import sts

    links, profile = stage.chain, stage.profile
    serial = links.session_serial if settings.mfa_mode == "session" else None
    # Nothing STS would refuse gets a code typed for it.
    chain.check(links, profile.region, settings.role_seconds, settings.session_seconds if serial else None)
    log.debug(f"mfa_mode {settings.mfa_mode}; {profile.name} is reached by {links.describe()}")
    start, creds = _deepest_cached(links)
    if not mfa.can_ask:
        _refuse_early(links, start, serial, mfa)
    from_mfa_session = False
    if creds is None:
        creds, from_mfa_session = _first_credentials(stage, settings, serial, mfa)
    user = next((r.mfa_serial for r in links.roles if r.mfa_serial), None)
    for index in range(start, len(links.roles)):
        link = links.roles[index]
        duration = _duration(link, creds, settings.role_seconds if index == len(links.roles) - 1 else None)
        lasting = f" for {duration} s" if duration else ""
        if link.mfa_serial and not (index == 0 and from_mfa_session):
            log.debug(f"AssumeRole {link.role_arn}{lasting} with an MFA code for {link.mfa_serial} (direct)")
            creds, assumed = mfa.with_code(
                link.mfa_serial, lambda code: sts.assume_role(profile, link, creds, code=code, duration=duration)
            )
        else:
            signer = "the MFA session's keys" if index == 0 and from_mfa_session else (
                "the source's credentials" if index == 0 else f"the credentials of {links.roles[index - 1].profile}"
            )
            log.debug(f"AssumeRole {link.role_arn}{lasting} with {signer}")
            creds, assumed = sts.assume_role(profile, link, creds, duration=duration, serial=user)
        from geodesic_stage.store.cli_cache import entry_from_credentials

        cached.role(link).put(entry_from_credentials(creds, assumed))
    if creds.expiration is None:
        raise ConfigError(f"profile {profile.name!r} gives long-term keys, not a session; add a role_arn to it")
    return creds


def _refuse_early(links: Chain, start: int, serial: str | None, mfa) -> None:
    """A walk that will need a code it cannot get stops before its first call: the prompt hook
    must not assume half a chain. (A first role that an MFA session may serve is left to that.)"""
    for index in range(start, len(links.roles)):
        link = links.roles[index]
        if link.mfa_serial and not (index == 0 and serial):
            mfa.code(link.mfa_serial, None)


def _deepest_cached(links: Chain) -> tuple[int, Credentials | None]:
    """(index of the first role still to assume, the cached credentials to assume it with)."""
    for index in range(len(links.roles) - 1, -1, -1):
        found = cached.role(links.roles[index]).get()
        if found:
            return index + 1, found
    return 0, None


def _first_credentials(stage: Stage, settings: Settings, serial: str | None, mfa):
    """The credentials the first role is assumed with: the MFA session's when the chain can have one,
    else the source's own. (credentials, whether they are the MFA session's)"""
    from geodesic_stage.creds import sources

    links, profile = stage.chain, stage.profile
    if stage.sso_root:
        from geodesic_stage.creds import sso_role

        # Our Identity Center sign-in, not botocore's: it can sign in at a terminal and refresh the token.
        return sso_role.root_credentials(stage.sso_root, mfa.terminal, stage.name), False
    if serial:
        found = mfa_session.cached_session(links)
        if found:
            log.debug(f"MFA session for {serial} from cache")
            return found, True
    source = sources.obtain(links.source, profile.region or "us-east-1")
    if serial and not source.temporary:
        return mfa_session.buy(links, profile, settings, mfa, source), True
    if serial:
        log.debug(f"the source of {profile.name} is temporary credentials: the MFA code goes into AssumeRole (direct)")
    return source, False


def _duration(link: RoleLink, creds: Credentials, requested: int | None) -> int | None:
    """--duration (final link only), else the profile's duration_seconds; capped at an hour
    when assumed with session or role credentials, as AWS caps it."""
    duration = requested or link.duration_seconds
    if not creds.temporary:
        return duration
    if duration and duration > CHAINED_ROLE_SECONDS:
        log.debug(f"roles assumed with session credentials last at most {CHAINED_ROLE_SECONDS} s; --direct from long-term keys gives longer")
    return min(duration or CHAINED_ROLE_SECONDS, CHAINED_ROLE_SECONDS)

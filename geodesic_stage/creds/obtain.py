"""Credentials for a stage: from the cache when it can, walking its chain when it must.

session mode (default): when the chain starts from an IAM user's long-term keys and its
first role has mfa_serial, one code buys an MFA session (GetSessionToken), cached for every
shell and every chain starting from those keys and that device; the roles are then assumed
without a code. direct mode, and any role whose credentials come from temporary ones: the
code goes into that role's AssumeRole, as the AWS CLI does. Every role link lands under
the AWS CLI's cache key for it.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from geodesic_stage.store import cache
from geodesic_stage.config import chain
from geodesic_stage import clock, log
from geodesic_stage.sso import access as sso
from geodesic_stage.config.chain import Chain, RoleLink
from geodesic_stage.errors import AwsError, ConfigError, MfaRejected
from geodesic_stage.auth.mfa import MfaSource
from geodesic_stage.model import Credentials, Profile, Session, Stage
from geodesic_stage.record import Record
from geodesic_stage.config.stages_file import DEFAULT_SESSION_SECONDS

# A cached entry with less left than this is renewed rather than served: botocore's
# window, inside which `aws --profile` would discard it and ask for a code. (The prompt
# hook renews at 10 minutes, as the spec says; a new login shell at this figure.)
RENEW_SECONDS = 15 * 60
# An MFA session must outlast the AssumeRole call made with it.
SESSION_MARGIN_SECONDS = 60
# AWS caps role sessions assumed with session or role credentials at one hour.
CHAINED_ROLE_SECONDS = 3600
LOCK_TIMEOUT_SECONDS = 120


class Settings(Record):
    mfa_mode: str = "session"
    session_seconds: int = DEFAULT_SESSION_SECONDS
    role_seconds: int | None = None


def from_cache(stage: Stage) -> Session | None:
    """The stage's cached credentials (its final link's entry) if they last long enough; no network, no boto3."""
    if stage.profile.sso:
        return sso.from_cache(stage)
    links = stage.chain
    now = clock.now()
    key = cache.link_key(links.final)
    if key is None:
        log.debug(f"{stage.profile.name}: its final link ({links.source.kind}) has no cache entry of ours")
        return None
    entry = cache.role_cache().get(key)
    creds = cache.fresh(cache.credentials_from_entry(entry), now, RENEW_SECONDS)
    if creds is None:
        log.debug(f"cache miss for {links.profile} (key {key}): {_why_missed(entry, now)}")
        return None
    log.debug(f"cache hit for {links.profile} (key {key}), {clock.minutes_left(creds.expiration, now)} min left")
    return Session(stage, creds, _renewable_until(stage, creds, now))


def obtain(stage: Stage, settings: Settings, mfa: MfaSource) -> Session:
    """Cached credentials, else new ones walked down the chain, asking `mfa` for a code only where a link needs one
    (and signing in to Identity Center only where `mfa` has a person at a terminal)."""
    if stage.profile.sso:
        return sso.obtain(stage, can_sign_in=mfa.terminal)
    found = from_cache(stage)
    if found:
        return found
    from geodesic_stage.auth import passphrase

    # A command that may not ask for a code (refresh, credential-process) may not ask for the key store's passphrase.
    passphrase.allow_prompt(mfa.can_ask)
    return _walk(stage, settings, mfa)


def mfa_session(links: Chain, profile: Profile, settings: Settings, mfa: MfaSource) -> Credentials:
    """The MFA session that starts `links` (`keys rotate` signs IAM calls with it): cached, else bought."""
    found = _cached_mfa_session(links, clock.now())
    if found:
        return found
    from geodesic_stage.creds import sources

    return _mfa_session(links, profile, settings, mfa, sources.obtain(links.source, profile.region or "us-east-1"))


def _walk(stage: Stage, settings: Settings, mfa: MfaSource) -> Session:
    """From the deepest link still cached (else the source, or the MFA session), each role in turn,
    every one cached under botocore's key for it, as the AWS CLI walks the same chain."""
    from geodesic_stage.aws import sts

    links, profile = stage.chain, stage.profile
    serial = links.session_serial if settings.mfa_mode == "session" else None
    # Nothing STS would refuse gets a code typed for it.
    chain.check(links, profile.region, settings.role_seconds, settings.session_seconds if serial else None)
    log.debug(f"mfa_mode {settings.mfa_mode}; {profile.name} is reached by {links.describe()}")
    now = clock.now()
    start, creds = _deepest_cached(links, now)
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
            creds, assumed = _with_code(
                mfa, link.mfa_serial, lambda code: sts.assume_role(profile, link, creds, code=code, duration=duration)
            )
        else:
            signer = "the MFA session's keys" if index == 0 and from_mfa_session else (
                "the source's credentials" if index == 0 else f"the credentials of {links.roles[index - 1].profile}"
            )
            log.debug(f"AssumeRole {link.role_arn}{lasting} with {signer}")
            creds, assumed = sts.assume_role(profile, link, creds, duration=duration, serial=user)
        _store(cache.role_cache(), cache.link_key(link), cache.entry_from_credentials(creds, assumed))
    if creds.expiration is None:
        raise ConfigError(f"profile {profile.name!r} gives long-term keys, not a session; add a role_arn to it")
    return Session(stage, creds, _renewable_until(stage, creds, clock.now()))


def _renewable_until(stage: Stage, creds: Credentials, now):
    """Until when the prompt hook can renew these without a person: the MFA session's end, or the
    Identity Center sign-in's (with its refresh), else the credentials' own."""
    if stage.sso_root:
        return sso.session_end(stage.sso_root, creds, now)
    session = _cached_mfa_session(stage.chain, now)
    return session.expiration if session else creds.expiration


def _refuse_early(links: Chain, start: int, serial: str | None, mfa: MfaSource) -> None:
    """A walk that will need a code it cannot get stops before its first call: the prompt hook
    must not assume half a chain. (A first role that an MFA session may serve is left to that.)"""
    for index in range(start, len(links.roles)):
        link = links.roles[index]
        if link.mfa_serial and not (index == 0 and serial):
            mfa.code(link.mfa_serial, None)


def _deepest_cached(links: Chain, now) -> tuple[int, Credentials | None]:
    """(index of the first role still to assume, the cached credentials to assume it with)."""
    for index in range(len(links.roles) - 1, -1, -1):
        key = cache.link_key(links.roles[index])
        found = cache.fresh(cache.credentials_from_entry(cache.role_cache().get(key)), now, RENEW_SECONDS)
        if found:
            log.debug(f"link {links.roles[index].profile} from cache (key {key})")
            return index + 1, found
    return 0, None


def _first_credentials(stage: Stage, settings: Settings, serial: str | None, mfa: MfaSource):
    """The credentials the first role is assumed with: the MFA session's when the chain can have one,
    else the source's own. (credentials, whether they are the MFA session's)"""
    from geodesic_stage.creds import sources

    links, profile = stage.chain, stage.profile
    if stage.sso_root:
        # Our Identity Center sign-in, not botocore's: it can sign in at a terminal and refresh the token.
        return sso.root_credentials(stage.sso_root, mfa.terminal, stage.name), False

    if serial:
        found = _cached_mfa_session(links, clock.now())
        if found:
            log.debug(f"MFA session for {serial} from cache")
            return found, True
    source = sources.obtain(links.source, profile.region or "us-east-1")
    if serial and not source.temporary:
        return _mfa_session(links, profile, settings, mfa, source), True
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


def _why_missed(entry: dict | None, now) -> str:
    if entry is None:
        return "no readable entry (absent, corrupt or not ours)"
    creds = cache.credentials_from_entry(entry)
    if creds is None:
        return "the entry holds no usable credentials"
    return f"{int(creds.seconds_left(now))} s left, under the {RENEW_SECONDS} s renewal margin or beyond any session"


def _cached_mfa_session(links: Chain, now) -> Credentials | None:
    serial = links.session_serial
    if not serial:
        return None
    entry = cache.session_cache().get(_session_key(links, serial))
    return cache.fresh(cache.credentials_from_entry(entry), now, SESSION_MARGIN_SECONDS)


def _session_key(links: Chain, serial: str) -> str:
    """Whose MFA session this is: the source profile's keys and the device. Keys that come from
    the environment differ from shell to shell, so their key id is part of the owner."""
    owner = links.source.profile
    if links.source.credential_source == "Environment":
        owner += "|" + os.environ.get("AWS_ACCESS_KEY_ID", "")
    return cache.session_cache_key(owner, serial)


def _mfa_session(links: Chain, profile: Profile, settings: Settings, mfa: MfaSource, keys: Credentials) -> Credentials:
    """GetSessionToken with the source's long-term keys and a code, once for every chain that
    starts from those keys and that device: other shells wait on the lock and reuse it."""
    from contextlib import ExitStack

    from geodesic_stage.store import lock
    from geodesic_stage.aws import sts

    serial = links.session_serial
    if not mfa.can_ask:
        # Refusing now beats waiting on another shell's prompt: the prompt hook must not hang.
        mfa.code(serial, None)
    key = _session_key(links, serial)
    lock_path = os.path.join(cache.session_cache_dir(), key + ".lock")
    with ExitStack() as held:
        try:
            cache.private_directory(cache.session_cache_dir())
            held.enter_context(lock.exclusive(lock_path, LOCK_TIMEOUT_SECONDS, _say_waiting))
        except OSError as e:
            # A cache nobody can write holds no session to share: go on without the lock.
            log.debug(f"no lock at {lock_path} ({e.strerror})")
        # The shell that held the lock may have just bought the session.
        found = _cached_mfa_session(links, clock.now())
        if found:
            log.debug("MFA session bought by another shell while waiting")
            return found
        log.debug(f"no MFA session cached for {links.source.profile} + {serial}: GetSessionToken with a code")
        creds = _with_code(mfa, serial, lambda code: sts.get_session_token(profile, keys, serial, code, settings.session_seconds))
        _store(cache.session_cache(), key, cache.entry_from_credentials(creds))
        return creds


def _say_waiting() -> None:
    log.say("another shell is asking for the MFA code; waiting for it...")


def _with_code(mfa: MfaSource, serial: str, call: Callable[[str], object]):
    notice = None
    for attempt in range(1, mfa.attempts + 1):
        code = mfa.code(serial, notice)
        try:
            return call(code)
        except MfaRejected:
            log.debug(f"MFA code rejected, attempt {attempt} of {mfa.attempts}")
            notice = f"AWS rejected that code ({attempt} of {mfa.attempts}); enter the next code your device shows."
    raise AwsError(
        f"AWS rejected the MFA code for {serial} ({mfa.attempts} tries); "
        "check that the device is the one in mfa_serial and that its clock is right"
    )


def _store(target: cache.JsonFileCache, key: str, entry: dict) -> None:
    try:
        target.put(key, entry)
    except OSError as e:
        # One warning per run, though the MFA session and the role may both fail to land.
        if not _uncached:
            log.say(f"could not cache credentials in {target.directory} ({e.strerror}); they work in this shell only")
        _uncached.append(target.directory)


_uncached = []

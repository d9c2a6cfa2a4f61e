"""Credentials for a stage: from the cache when it can, from STS when it must.

session mode (default): one MFA code buys an MFA session (GetSessionToken),
cached for every shell; each stage's role is assumed from it without a code.
direct mode: AssumeRole with the code itself, as the AWS CLI does.
Either way the role credentials land under the AWS CLI's cache key.
"""

import os
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Callable, Optional

from geodesic_stage import cache, clock, lock, log, sso
from geodesic_stage.errors import AwsError, MfaRejected
from geodesic_stage.mfa import MfaSource
from geodesic_stage.model import Credentials, Profile, Session, Stage

# A cached entry with less left than this is renewed rather than served: botocore's
# window, inside which `aws --profile` would discard it and ask for a code. (The prompt
# hook renews at 10 minutes, as the spec says; a new login shell at this figure.)
RENEW_SECONDS = 15 * 60
# An MFA session must outlast the AssumeRole call made with it.
SESSION_MARGIN_SECONDS = 60
# AWS caps role sessions assumed with session credentials at one hour.
CHAINED_ROLE_SECONDS = 3600
LOCK_TIMEOUT_SECONDS = 120


@dataclass(frozen=True)
class Settings:
    mfa_mode: str = "session"
    session_seconds: int = 12 * 3600
    role_seconds: Optional[int] = None


def from_cache(stage: Stage) -> Optional[Session]:
    """The stage's cached role credentials if they last long enough; no network, no boto3."""
    if stage.profile.sso:
        return sso.from_cache(stage)
    profile = stage.profile
    now = clock.now()
    key = cache.cli_cache_key(profile)
    entry = cache.role_cache().get(key)
    creds = cache.fresh(cache.credentials_from_entry(entry), now, RENEW_SECONDS)
    if creds is None:
        log.debug(f"cache miss for {profile.name} (key {key}): {_why_missed(entry, now)}")
        return None
    log.debug(f"cache hit for {profile.name} (key {key}), {clock.minutes_left(creds.expiration, now)} min left")
    if stage.sso_root:
        return Session(stage, creds, sso.session_end(stage.sso_root, creds, now))
    session = _cached_mfa_session(profile, now)
    return Session(stage, creds, session.expiration if session else creds.expiration)


def obtain(stage: Stage, settings: Settings, mfa: MfaSource) -> Session:
    """Cached credentials, else new ones from STS, asking `mfa` for a code only if needed
    (an Identity Center stage: signing in only where `mfa` has a person at a terminal)."""
    if stage.profile.sso:
        return sso.obtain(stage, can_sign_in=mfa.terminal)
    if stage.sso_root:
        return from_cache(stage) or _assume_from_sso(stage, settings, mfa)
    return from_cache(stage) or _assume(stage, settings, mfa)


def _assume(stage: Stage, settings: Settings, mfa: MfaSource) -> Session:
    from geodesic_stage import sts

    profile = stage.profile
    # --duration, else the profile's duration_seconds, as the AWS CLI reads it.
    duration = settings.role_seconds or profile.duration_seconds
    if not profile.mfa_serial:
        log.debug(f"{profile.name} has no mfa_serial: AssumeRole {profile.role_arn} with the source keys")
        creds, user = sts.assume_role(profile, duration=duration)
        session_expiration = creds.expiration
    elif settings.mfa_mode == "direct":
        log.debug(f"mfa_mode direct: AssumeRole {profile.role_arn} with an MFA code")
        creds, user = _with_code(mfa, profile, lambda code: sts.assume_role(profile, code=code, duration=duration))
        session_expiration = creds.expiration
    else:
        mfa_session = _mfa_session(profile, settings, mfa)
        if duration and duration > CHAINED_ROLE_SECONDS:
            log.debug(f"role sessions from an MFA session last at most {CHAINED_ROLE_SECONDS} s; --direct gives longer")
        duration = min(duration or CHAINED_ROLE_SECONDS, CHAINED_ROLE_SECONDS)
        log.debug(f"mfa_mode session: AssumeRole {profile.role_arn} for {duration} s with the MFA session's keys")
        creds, user = sts.assume_role(profile, credentials=mfa_session, duration=duration)
        session_expiration = mfa_session.expiration
    _store(cache.role_cache(), cache.cli_cache_key(profile), cache.entry_from_credentials(creds, user))
    return Session(stage, creds, session_expiration)


def _assume_from_sso(stage: Stage, settings: Settings, mfa: MfaSource) -> Session:
    """A role chain whose root is an Identity Center profile: its role credentials (cached under
    botocore's SSO key), then each AssumeRole in turn, every link cached under its own key.
    Temporary credentials: a link's MFA code goes into its AssumeRole, and AWS caps it at one hour."""
    from geodesic_stage import sts
    from geodesic_stage.chain import RoleLink

    root = stage.sso_root
    creds = sso.cached_role_credentials(root, clock.now(), SESSION_MARGIN_SECONDS)
    if creds is None:
        creds = sso.role_credentials(root, mfa.terminal, stage.name)
    log.debug(f"chain {stage.chain.describe()}: from the Identity Center role of {stage.chain.source.profile}")
    links = list(stage.chain.roles)
    for index, link in enumerate(links):
        final = index == len(links) - 1
        profile = stage.profile if final else _link_profile(link, stage.profile.region)
        key = cache.cli_cache_key(profile)
        cached = cache.fresh(cache.credentials_from_entry(cache.role_cache().get(key)), clock.now(), RENEW_SECONDS)
        if cached and not final:
            creds = cached
            continue
        duration = min((settings.role_seconds if final else None) or link.duration_seconds or CHAINED_ROLE_SECONDS,
                       CHAINED_ROLE_SECONDS)
        source = creds
        if link.mfa_serial:
            creds, user = _with_code_only(mfa, profile, lambda code: sts.assume_role(profile, credentials=source, code=code, duration=duration))
        else:
            creds, user = sts.assume_role(profile, credentials=source, duration=duration)
        _store(cache.role_cache(), key, cache.entry_from_credentials(creds, user))
    return Session(stage, creds, sso.session_end(root, creds, clock.now()))


def _link_profile(link, region) -> Profile:
    return Profile(
        name=link.profile, role_arn=link.role_arn, mfa_serial=link.mfa_serial, region=region,
        external_id=link.external_id, role_session_name=link.role_session_name, duration_seconds=link.duration_seconds,
    )


def _why_missed(entry: Optional[dict], now) -> str:
    if entry is None:
        return "no readable entry (absent, corrupt or not ours)"
    creds = cache.credentials_from_entry(entry)
    if creds is None:
        return "the entry holds no usable credentials"
    return f"{int(creds.seconds_left(now))} s left, under the {RENEW_SECONDS} s renewal margin or beyond any session"


def _cached_mfa_session(profile: Profile, now) -> Optional[Credentials]:
    if not (profile.source_profile and profile.mfa_serial):
        return None
    entry = cache.session_cache().get(cache.session_cache_key(profile.source_profile, profile.mfa_serial))
    return cache.fresh(cache.credentials_from_entry(entry), now, SESSION_MARGIN_SECONDS)


def _mfa_session(profile: Profile, settings: Settings, mfa: MfaSource) -> Credentials:
    from geodesic_stage import sts

    found = _cached_mfa_session(profile, clock.now())
    if found:
        log.debug(f"MFA session for {profile.mfa_serial} from cache")
        return found
    if not mfa.can_ask:
        # Refusing now beats waiting on another shell's prompt: the prompt hook must not hang.
        mfa.code(profile.mfa_serial, None)
    key = cache.session_cache_key(profile.source_profile, profile.mfa_serial)
    lock_path = os.path.join(cache.session_cache_dir(), key + ".lock")
    with ExitStack() as held:
        try:
            cache.private_directory(cache.session_cache_dir())
            held.enter_context(lock.exclusive(lock_path, LOCK_TIMEOUT_SECONDS, _say_waiting))
        except OSError as e:
            # A cache nobody can write holds no session to share: go on without the lock.
            log.debug(f"no lock at {lock_path} ({e.strerror})")
        # The shell that held the lock may have just bought the session.
        found = _cached_mfa_session(profile, clock.now())
        if found:
            log.debug("MFA session bought by another shell while waiting")
            return found
        log.debug(f"no MFA session cached for {profile.source_profile} + {profile.mfa_serial}: GetSessionToken with a code")
        creds = _with_code(mfa, profile, lambda code: sts.get_session_token(profile, code, settings.session_seconds))
        _store(cache.session_cache(), key, cache.entry_from_credentials(creds))
        return creds


def _say_waiting() -> None:
    log.say("another shell is asking for the MFA code; waiting for it...")


def _with_code(mfa: MfaSource, profile: Profile, call: Callable[[str], object]):
    from geodesic_stage import sts

    # Missing source keys are worth knowing before typing a code, not after.
    sts.require_source(profile)
    return _with_code_only(mfa, profile, call)


def _with_code_only(mfa: MfaSource, profile: Profile, call: Callable[[str], object]):
    notice = None
    for attempt in range(1, mfa.attempts + 1):
        code = mfa.code(profile.mfa_serial, notice)
        try:
            return call(code)
        except MfaRejected:
            log.debug(f"MFA code rejected, attempt {attempt} of {mfa.attempts}")
            notice = f"AWS rejected that code ({attempt} of {mfa.attempts}); enter the next code your device shows."
    raise AwsError(
        f"AWS rejected the MFA code for {profile.mfa_serial} ({mfa.attempts} tries); "
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

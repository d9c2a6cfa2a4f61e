"""The Identity Center token, where and as the AWS CLI v2 keeps it: `~/.aws/sso/cache/<key>.json`
(cachekeys.sso_token_key), so `aws sso login` and `stage use` sign in for each other; and kept live:
refreshed silently (once, under a lock, for every shell), else a new sign-in at the terminal (login),
also once for every shell. Nothing here imports botocore until a call must be made."""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from geodesic_stage import cachekeys, clock, log
from geodesic_stage.config.sso import describe
from geodesic_stage.errors import Interrupted, MfaUnavailable
from geodesic_stage.lifetimes import (
    CACHE_RENEW_SECONDS, CALL_MARGIN_SECONDS, LONGEST_TOKEN_DAYS, REFRESH_LOCK_SECONDS, SIGN_IN_LOCK_SECONDS,
)
from geodesic_stage.model import SsoSession, SsoToken
from geodesic_stage.store import cli_cache


def load(session: SsoSession) -> SsoToken | None:
    """The cached token, or None for a missing, damaged or foreign entry."""
    entry = cli_cache.token_cache().get(cachekeys.sso_token_key(session))
    if entry is None:
        return None
    try:
        access, expires = entry["accessToken"], clock.parse_timestamp(entry["expiresAt"])
        if not (isinstance(access, str) and access and access.isprintable()):
            return None
        registration = entry.get("registrationExpiresAt")
        fields = [entry.get(k) for k in ("refreshToken", "clientId", "clientSecret")]
        if not all(v is None or (isinstance(v, str) and v.isprintable()) for v in fields):
            fields = [None, None, None]
        return SsoToken(access, expires, *fields, clock.parse_timestamp(registration) if registration else None)
    except (KeyError, TypeError, ValueError):
        return None


def save(session: SsoSession, token: SsoToken) -> None:
    entry = {
        "startUrl": session.start_url,
        "region": session.region,
        "accessToken": token.access_token,
        "expiresAt": clock.rfc3339(token.expires_at),
    }
    if token.client_id and token.client_secret and token.registration_expires_at:
        entry.update(clientId=token.client_id, clientSecret=token.client_secret,
                     registrationExpiresAt=clock.rfc3339(token.registration_expires_at))
    if token.refresh_token:
        entry["refreshToken"] = token.refresh_token
    cli_cache.token_cache().put(cachekeys.sso_token_key(session), entry)


def keep(session: SsoSession, token: SsoToken) -> None:
    """save, where a cache that cannot be written only costs other shells a sign-in."""
    try:
        save(session, token)
    except OSError as e:
        log.say(f"could not save the sign-in in {cli_cache.token_dir()} ({e.strerror}); other shells will sign in again")


def forget(session: SsoSession) -> bool:
    return cli_cache.token_cache().delete(cachekeys.sso_token_key(session))


def lock_path(session: SsoSession, purpose: str = "") -> str:
    """The lock that one sign-in (purpose "") or one refresh ("refresh") holds for every shell."""
    suffix = f".{purpose}" if purpose else ""
    return os.path.join(cli_cache.session_cache_dir(), f"sso-{cachekeys.sso_token_key(session)}{suffix}.lock")


def minutes_left(session: SsoSession, at: datetime) -> int | None:
    """Minutes the cached token lasts (0: expired, None: signed out)."""
    token = load(session)
    return clock.minutes_left(token.expires_at, at) if token else None


def state(session: SsoSession, at: datetime) -> str:
    """'valid', 'refreshable' or 'signed out', for status, list and doctor."""
    token = load(session)
    if token and token.expires_at - at > timedelta(seconds=CALL_MARGIN_SECONDS):
        return "valid"
    if token and token.refreshable(at):
        return "refreshable"
    return "signed out"


def describe_sign_in(session: SsoSession, at: datetime) -> str:
    """`sso-session acme: signed in, 479 min left, renewable` for status and doctor."""
    token = load(session)
    now_state = state(session, at)
    detail = {
        "valid": f"signed in, {clock.minutes_left(token.expires_at, at) if token else 0} min left",
        "refreshable": "token expired, renewable without a sign-in",
        "signed out": "signed out",
    }[now_state]
    if now_state == "valid" and token.refreshable(at):
        detail += ", renewable without a sign-in"
    return f"{describe(session)}: {detail}"


def lasts_until(session: SsoSession, at: datetime, fallback: datetime) -> datetime:
    """Until when role credentials from this sign-in can be renewed without a person."""
    token = load(session)
    return max(token.lasts_until(at), fallback) if token else fallback


# A live token.


def access_token(session: SsoSession, can_sign_in: bool, advice: str) -> str:
    """A live access token: the cached one, refreshed silently if it must be, else a new sign-in."""
    now = clock.now()
    token = load(session)
    if token and token.expires_at - now > timedelta(days=LONGEST_TOKEN_DAYS):
        token = None
    if token and token.expires_at - now > timedelta(seconds=CACHE_RENEW_SECONDS):
        log.debug(f"token for {describe(session)} from cache, {clock.minutes_left(token.expires_at, now)} min left")
        return token.access_token
    if token and token.refreshable(now):
        refreshed = _refresh_once(session)
        if refreshed:
            return refreshed.access_token
    if token and token.expires_at - now > timedelta(seconds=CALL_MARGIN_SECONDS):
        return token.access_token
    if not can_sign_in:
        login = f"aws sso login --sso-session {session.name}" if session.name else "aws sso login --profile PROFILE"
        raise MfaUnavailable(f"not signed in to Identity Center ({describe(session)}); {advice}, or '{login}'")
    return _sign_in_once(session).access_token


def _held(session: SsoSession, purpose: str, timeout: float, on_wait, timeout_message: str):
    """The token's lock for `purpose` (an ExitStack), held while one shell renews or signs in for all;
    none where the cache cannot be written."""
    from contextlib import ExitStack  # not on a cache hit's path

    from geodesic_stage.store import files, lock
    from geodesic_stage.store.cli_cache import session_cache_dir

    held = ExitStack()
    try:
        files.private_directory(session_cache_dir())
        held.enter_context(lock.exclusive(lock_path(session, purpose), timeout, on_wait, timeout_message))
    except OSError as e:
        log.debug(f"no {purpose or 'sign-in'} lock ({e.strerror})")
    return held


def _renewed_meanwhile(session: SsoSession) -> SsoToken | None:
    """The token another shell saved while this one waited on the lock, if it lasts."""
    token = load(session)
    if token and token.expires_at - clock.now() > timedelta(seconds=CACHE_RENEW_SECONDS):
        log.debug("token renewed by another shell while waiting")
        return token
    return None


def _refresh_once(session: SsoSession) -> SsoToken | None:
    """Refresh under a lock: a refresh token is good once, so shells renewing together take turns,
    and the later ones use what the first one saved."""
    message = f"another shell has been renewing the Identity Center token for {REFRESH_LOCK_SECONDS} s; try again"
    waiting = lambda: log.debug("another shell is renewing the Identity Center token; waiting for it")  # noqa: E731
    with _held(session, "refresh", REFRESH_LOCK_SECONDS, waiting, message):
        found = _renewed_meanwhile(session)
        if found:
            return found
        token = load(session)
        return refresh(session, token) if token and token.refreshable(clock.now()) else None


def _sign_in_once(session: SsoSession) -> SsoToken:
    """A new token asked of the person at the terminal, saved for every shell before the lock is let go:
    a shell waiting on it reads this token, not none."""
    from geodesic_stage.sso import login

    try:
        terminal = open("/dev/tty", "w")
    except OSError:
        raise MfaUnavailable(f"signing in to Identity Center ({describe(session)}) needs a terminal; run 'stage use' in one")
    message = "another shell has been signing in to Identity Center for too long; finish there, or press Ctrl-C and try again"
    waiting = lambda: login.say(terminal, "another shell is signing in to Identity Center; waiting for it...")  # noqa: E731
    with terminal:
        try:
            held = _held(session, "", SIGN_IN_LOCK_SECONDS, waiting, message)
        except KeyboardInterrupt:
            raise Interrupted("stopped waiting for the other shell's sign-in; nothing changed")
        with held:
            token = _renewed_meanwhile(session) or login.device_grant(session, terminal)
            keep(session, token)
    return token


def refresh(session: SsoSession, token: SsoToken) -> SsoToken | None:
    from geodesic_stage.aws import sso_api

    log.debug(f"token for {describe(session)} expires {clock.rfc3339(token.expires_at)}: refreshing it")
    response = sso_api.refresh_token(session.region, token.client_id, token.client_secret, token.refresh_token)
    if not response or not response.get("accessToken"):
        return None
    new = SsoToken(
        access_token=response["accessToken"],
        expires_at=clock.now() + timedelta(seconds=int(response.get("expiresIn") or 0)),
        refresh_token=response.get("refreshToken") or token.refresh_token,
        client_id=token.client_id,
        client_secret=token.client_secret,
        registration_expires_at=token.registration_expires_at,
    )
    keep(session, new)
    return new


def sign_out(session: SsoSession) -> bool:
    """Forget the session's token here, and end it at AWS too when AWS can be reached (sso:Logout),
    as `aws sso logout` does; the local part never waits on the network."""
    token = load(session)
    forgotten = forget(session)
    if token and token.expires_at > clock.now():
        from geodesic_stage.aws import sso_api
        from geodesic_stage.errors import AwsError

        try:
            sso_api.logout(session.region, token.access_token)
            log.debug(f"signed out of {describe(session)} at AWS")
        except AwsError as e:
            log.say(f"forgot the sign-in to {describe(session)} here; AWS was not told ({e.message})")
    return forgotten

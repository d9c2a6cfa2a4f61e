"""A live Identity Center access token: the cached one, refreshed silently (once, under a lock, for
every shell), else a new sign-in at the terminal; and signing out."""

from __future__ import annotations

from contextlib import ExitStack
from datetime import timedelta

from geodesic_stage import clock, log
from geodesic_stage.config.sso import describe
from geodesic_stage.errors import Interrupted, MfaUnavailable
from geodesic_stage.lifetimes import (
    CACHE_RENEW_SECONDS, CALL_MARGIN_SECONDS, LONGEST_TOKEN_DAYS, REFRESH_LOCK_SECONDS, SIGN_IN_LOCK_SECONDS,
)
from geodesic_stage.model import SsoSession
from geodesic_stage.sso import token as tokens
from geodesic_stage.sso.token import Token


def access_token(session: SsoSession, can_sign_in: bool, advice: str) -> str:
    """A live access token: the cached one, refreshed silently if it must be, else a new sign-in."""
    now = clock.now()
    token = tokens.load(session)
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


def _held(session: SsoSession, purpose: str, timeout: float, on_wait, timeout_message: str) -> ExitStack:
    """The token's lock for `purpose`, held while one shell renews or signs in for all; none where the cache cannot be written."""
    from geodesic_stage.store import files, lock
    from geodesic_stage.store.cli_cache import session_cache_dir

    held = ExitStack()
    try:
        files.private_directory(session_cache_dir())
        held.enter_context(lock.exclusive(tokens.lock_path(session, purpose), timeout, on_wait, timeout_message))
    except OSError as e:
        log.debug(f"no {purpose or 'sign-in'} lock ({e.strerror})")
    return held


def _renewed_meanwhile(session: SsoSession) -> Token | None:
    """The token another shell saved while this one waited on the lock, if it lasts."""
    token = tokens.load(session)
    if token and token.expires_at - clock.now() > timedelta(seconds=CACHE_RENEW_SECONDS):
        log.debug("token renewed by another shell while waiting")
        return token
    return None


def _refresh_once(session: SsoSession) -> Token | None:
    """Refresh under a lock: a refresh token is good once, so shells renewing together take turns,
    and the later ones use what the first one saved."""
    message = f"another shell has been renewing the Identity Center token for {REFRESH_LOCK_SECONDS} s; try again"
    waiting = lambda: log.debug("another shell is renewing the Identity Center token; waiting for it")  # noqa: E731
    with _held(session, "refresh", REFRESH_LOCK_SECONDS, waiting, message):
        found = _renewed_meanwhile(session)
        if found:
            return found
        token = tokens.load(session)
        return refresh(session, token) if token and token.refreshable(clock.now()) else None


def _sign_in_once(session: SsoSession) -> Token:
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
            tokens.keep(session, token)
    return token


def refresh(session: SsoSession, token: Token) -> Token | None:
    from geodesic_stage.aws import sso_api

    log.debug(f"token for {describe(session)} expires {clock.rfc3339(token.expires_at)}: refreshing it")
    response = sso_api.refresh_token(session.region, token.client_id, token.client_secret, token.refresh_token)
    if not response or not response.get("accessToken"):
        return None
    new = Token(
        access_token=response["accessToken"],
        expires_at=clock.now() + timedelta(seconds=int(response.get("expiresIn") or 0)),
        refresh_token=response.get("refreshToken") or token.refresh_token,
        client_id=token.client_id,
        client_secret=token.client_secret,
        registration_expires_at=token.registration_expires_at,
    )
    tokens.keep(session, new)
    return new


def sign_out(session: SsoSession) -> bool:
    """Forget the session's token here, and end it at AWS too when AWS can be reached (sso:Logout),
    as `aws sso logout` does; the local part never waits on the network."""
    token = tokens.load(session)
    forgotten = tokens.forget(session)
    if token and token.expires_at > clock.now():
        from geodesic_stage.aws import sso_api
        from geodesic_stage.errors import AwsError

        try:
            sso_api.logout(session.region, token.access_token)
            log.debug(f"signed out of {describe(session)} at AWS")
        except AwsError as e:
            log.say(f"forgot the sign-in to {describe(session)} here; AWS was not told ({e.message})")
    return forgotten

"""Signing in to Identity Center inside a container: the OIDC device authorization grant.

There is no browser in a container: the verification URL (with the code in it) and the
code go to the terminal, never to stdout (which the shell evals); $BROWSER opens the URL
only when it is set. Two shells signing in at once: one signs in, the other waits on a
lock and uses its token. Ctrl-C stops waiting with nothing changed.
"""

import os
import shlex
import time
from contextlib import ExitStack
from datetime import timedelta

from geodesic_stage import cachekeys, clock, log
from geodesic_stage.aws import sso_api
from geodesic_stage.config.sso import describe
from geodesic_stage.errors import Interrupted, MfaUnavailable
from geodesic_stage.lifetimes import (
    CACHE_RENEW_SECONDS, DEVICE_POLL_SECONDS, DEVICE_SLOW_DOWN_SECONDS, REGISTRATION_MARGIN_SECONDS, SIGN_IN_LOCK_SECONDS,
)
from geodesic_stage.model import SsoSession
from geodesic_stage.sso import token as tokens
from geodesic_stage.store import cli_cache, files, lock


def sign_in(session: SsoSession) -> tokens.Token:
    """A new token for the session, asked of the person at the terminal; saved for every shell."""
    try:
        terminal = open("/dev/tty", "w")
    except OSError:
        raise MfaUnavailable(f"signing in to Identity Center ({describe(session)}) needs a terminal; run 'stage use' in one")
    with terminal, ExitStack() as held:
        try:
            files.private_directory(cli_cache.session_cache_dir())
            held.enter_context(lock.exclusive(
                tokens.lock_path(session), SIGN_IN_LOCK_SECONDS, lambda: _say(terminal, "another shell is signing in to Identity Center; waiting for it..."),
                timeout_message="another shell has been signing in to Identity Center for too long; finish there, or press Ctrl-C and try again",
            ))
        except OSError as e:
            log.debug(f"no sign-in lock ({e.strerror})")
        except KeyboardInterrupt:
            raise Interrupted("stopped waiting for the other shell's sign-in; nothing changed")
        # The shell that held the lock may have just signed in.
        token = tokens.load(session)
        if token and token.expires_at - clock.now() > timedelta(seconds=CACHE_RENEW_SECONDS):
            log.debug("signed in by another shell while waiting")
            return token
        try:
            token = _device_grant(session, terminal)
        except KeyboardInterrupt:
            _say(terminal, "")
            raise Interrupted("sign-in cancelled; nothing changed")
        # Saved before the lock is let go: a shell waiting on it reads this token, not none.
        tokens.keep(session, token)
    return token


def _say(terminal, text: str) -> None:
    terminal.write(text + "\n")
    terminal.flush()


def _device_grant(session: SsoSession, terminal) -> tokens.Token:
    client = _registration(session)
    device = sso_api.start_device_authorization(session.region, client["clientId"], client["clientSecret"], session.start_url)
    url = device.get("verificationUriComplete") or device.get("verificationUri")
    code = device.get("userCode", "")
    _say(terminal, f"Sign in to AWS Identity Center ({describe(session)}): open\n    {url}\nand confirm the code {code}. Waiting... (Ctrl-C to stop)")
    _open_browser(url)
    interval = int(device.get("interval") or DEVICE_POLL_SECONDS)
    while True:
        time.sleep(interval)
        try:
            response = sso_api.poll_token(session.region, client["clientId"], client["clientSecret"], device["deviceCode"])
            break
        except sso_api.Pending as pending:
            if pending.slow_down:
                interval += DEVICE_SLOW_DOWN_SECONDS
                log.debug(f"slow_down: polling every {interval} s")
    _say(terminal, "Signed in.")
    return tokens.Token(
        access_token=response["accessToken"],
        expires_at=clock.now() + timedelta(seconds=int(response.get("expiresIn") or 0)),
        refresh_token=response.get("refreshToken"),
        client_id=client["clientId"],
        client_secret=client["clientSecret"],
        registration_expires_at=clock.parse_timestamp(client["expiresAt"]),
    )


def _registration(session: SsoSession) -> dict:
    """The cached client registration (the AWS CLI v2's entry), else a new one, cached."""
    store = cli_cache.token_cache()
    key = cachekeys.sso_registration_key(session)
    found = store.get(key)
    try:
        if found and clock.parse_timestamp(found["expiresAt"]) - clock.now() > timedelta(seconds=REGISTRATION_MARGIN_SECONDS) \
                and isinstance(found["clientId"], str) and isinstance(found["clientSecret"], str):
            log.debug("client registration from cache")
            return found
    except (KeyError, TypeError, ValueError):
        pass
    name = f"geodesic-stage-{session.name}" if session.name else f"geodesic-stage-anonymous-{int(clock.now().timestamp())}"
    response = sso_api.register_client(session.region, name, session.scopes)
    registration = {
        "clientId": response["clientId"],
        "clientSecret": response["clientSecret"],
        "expiresAt": clock.rfc3339(_from_epoch(response["clientSecretExpiresAt"])),
    }
    if session.scopes:
        registration["scopes"] = list(session.scopes)
    try:
        store.put(key, registration)
    except OSError as e:
        log.debug(f"could not cache the client registration ({e.strerror})")
    return registration


def _from_epoch(seconds):
    from datetime import datetime, timezone

    return datetime.fromtimestamp(int(seconds), timezone.utc)


def _open_browser(url: str) -> None:
    browser = os.environ.get("BROWSER")
    if not browser:
        return
    import subprocess

    try:
        subprocess.Popen([*shlex.split(browser), url], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
    except (OSError, ValueError) as e:
        log.say(f"could not start $BROWSER ({getattr(e, 'strerror', None) or e}); open the URL yourself")

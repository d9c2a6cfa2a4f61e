"""Signing in to Identity Center inside a container: the OIDC device authorization grant.

There is no browser in a container: the verification URL (with the code in it) and the
code go to the terminal, never to stdout (which the shell evals); $BROWSER opens the URL
only when it is set. Two shells signing in at once: one signs in, the other waits on a
lock and uses its token. Ctrl-C stops waiting with nothing changed.
"""

import os
import time
from contextlib import ExitStack
from datetime import timedelta

from geodesic_stage import browser, cache, clock, lock, log, sso, sso_client
from geodesic_stage.errors import Interrupted, MfaUnavailable
from geodesic_stage.model import SsoSession

# RFC 8628: slow_down adds five seconds to the interval; the interval defaults to five.
SLOW_DOWN_SECONDS = 5
DEFAULT_INTERVAL = 5
# A device code lasts ten minutes at AWS; the other shell may wait that long and a little more.
LOCK_TIMEOUT_SECONDS = 11 * 60
# A cached registration this close to its end is replaced, as the AWS CLI does.
REGISTRATION_MARGIN = timedelta(minutes=15)


def sign_in(session: SsoSession) -> sso.Token:
    """A new token for the session, asked of the person at the terminal; saved for every shell."""
    try:
        terminal = open("/dev/tty", "w")
    except OSError:
        raise MfaUnavailable(f"signing in to Identity Center ({sso.describe(session)}) needs a terminal; run 'stage use' in one")
    with terminal, ExitStack() as held:
        try:
            cache.private_directory(cache.session_cache_dir())
            held.enter_context(lock.exclusive(
                sso.lock_path(session), LOCK_TIMEOUT_SECONDS, lambda: _say(terminal, "another shell is signing in to Identity Center; waiting for it..."),
                timeout_message="another shell has been signing in to Identity Center for too long; finish there, or press Ctrl-C and try again",
            ))
        except OSError as e:
            log.debug(f"no sign-in lock ({e.strerror})")
        except KeyboardInterrupt:
            raise Interrupted("stopped waiting for the other shell's sign-in; nothing changed")
        # The shell that held the lock may have just signed in.
        token = sso.load_token(session)
        if token and token.expires_at - clock.now() > timedelta(seconds=sso.RENEW_SECONDS):
            log.debug("signed in by another shell while waiting")
            return token
        try:
            token = _device_grant(session, terminal)
        except KeyboardInterrupt:
            _say(terminal, "")
            raise Interrupted("sign-in cancelled; nothing changed")
        # Saved before the lock is let go: a shell waiting on it reads this token, not none.
        sso._keep(session, token)
    return token


def _say(terminal, text: str) -> None:
    terminal.write(text + "\n")
    terminal.flush()


def _device_grant(session: SsoSession, terminal) -> sso.Token:
    client = _registration(session)
    device = sso_client.start_device_authorization(session.region, client["clientId"], client["clientSecret"], session.start_url)
    url = device.get("verificationUriComplete") or device.get("verificationUri")
    code = device.get("userCode", "")
    _say(terminal, f"Sign in to AWS Identity Center ({sso.describe(session)}): open\n    {url}\nand confirm the code {code}. Waiting... (Ctrl-C to stop)")
    _open_browser(url)
    interval = int(device.get("interval") or DEFAULT_INTERVAL)
    while True:
        time.sleep(interval)
        try:
            response = sso_client.poll_token(session.region, client["clientId"], client["clientSecret"], device["deviceCode"])
            break
        except sso_client.Pending as pending:
            if pending.slow_down:
                interval += SLOW_DOWN_SECONDS
                log.debug(f"slow_down: polling every {interval} s")
    _say(terminal, "Signed in.")
    return sso.Token(
        access_token=response["accessToken"],
        expires_at=clock.now() + timedelta(seconds=int(response.get("expiresIn") or 0)),
        refresh_token=response.get("refreshToken"),
        client_id=client["clientId"],
        client_secret=client["clientSecret"],
        registration_expires_at=clock.parse_timestamp(client["expiresAt"]),
    )


def _registration(session: SsoSession) -> dict:
    """The cached client registration (the AWS CLI v2's entry), else a new one, cached."""
    store = sso.token_cache()
    key = sso.registration_key(session)
    found = store.get(key)
    try:
        if found and clock.parse_timestamp(found["expiresAt"]) - clock.now() > REGISTRATION_MARGIN \
                and isinstance(found["clientId"], str) and isinstance(found["clientSecret"], str):
            log.debug("client registration from cache")
            return found
    except (KeyError, TypeError, ValueError):
        pass
    name = f"geodesic-stage-{session.name}" if session.name else f"geodesic-stage-anonymous-{int(clock.now().timestamp())}"
    response = sso_client.register_client(session.region, name, session.scopes)
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
    if not os.environ.get("BROWSER"):
        return
    why = browser.open_url(url)
    if why:
        log.say(f"{why}; open the URL yourself")

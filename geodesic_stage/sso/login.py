"""Signing in to Identity Center inside a container: the OIDC device authorization grant.

There is no browser in a container: the verification URL (with the code in it) and the
code go to the terminal, never to stdout (which the shell evals); $BROWSER opens the URL
only when it is set. (sso.access makes sure that of two shells only one signs in.)
"""

import os
import time
from datetime import timedelta

from geodesic_stage import cachekeys, clock, log
from geodesic_stage.auth import browser
from geodesic_stage.aws import sso_api
from geodesic_stage.config.sso import describe
from geodesic_stage.errors import Interrupted
from geodesic_stage.lifetimes import DEVICE_POLL_SECONDS, DEVICE_SLOW_DOWN_SECONDS, REGISTRATION_MARGIN_SECONDS
from geodesic_stage.model import SsoSession, SsoToken
from geodesic_stage.store import cli_cache


def say(terminal, text: str) -> None:
    terminal.write(text + "\n")
    terminal.flush()


def device_grant(session: SsoSession, terminal) -> SsoToken:
    """A new token, approved by the person at `terminal` (an open /dev/tty); Ctrl-C stops waiting."""
    try:
        return _device_grant(session, terminal)
    except KeyboardInterrupt:
        say(terminal, "")
        raise Interrupted("sign-in cancelled; nothing changed")


def _device_grant(session: SsoSession, terminal) -> SsoToken:
    client = _registration(session)
    device = sso_api.start_device_authorization(session.region, client["clientId"], client["clientSecret"], session.start_url)
    url = device.get("verificationUriComplete") or device.get("verificationUri")
    code = device.get("userCode", "")
    say(terminal, f"Sign in to AWS Identity Center ({describe(session)}): open\n    {url}\nand confirm the code {code}. Waiting... (Ctrl-C to stop)")
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
    say(terminal, "Signed in.")
    return SsoToken(
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
    if not os.environ.get("BROWSER"):
        return
    why = browser.open_url(url)
    if why:
        log.say(f"{why}; open the URL yourself")

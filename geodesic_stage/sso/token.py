"""The Identity Center token, where and as the AWS CLI v2 keeps it: `~/.aws/sso/cache/<key>.json`
(cachekeys.sso_token_key), so `aws sso login` and `stage use` sign in for each other.
Nothing here imports botocore: a cache hit never pays for it."""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from geodesic_stage import cachekeys, clock, log
from geodesic_stage.config.sso import describe
from geodesic_stage.lifetimes import CALL_MARGIN_SECONDS
from geodesic_stage.model import SsoSession
from geodesic_stage.record import Record
from geodesic_stage.store import cli_cache


class Token(Record):
    _secret = ("access_token", "refresh_token", "client_secret")
    access_token: str
    expires_at: datetime
    refresh_token: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    registration_expires_at: datetime | None = None

    def refreshable(self, at: datetime) -> bool:
        return bool(self.refresh_token and self.client_id and self.client_secret and self.registration_expires_at
                    and self.registration_expires_at > at)

    def lasts_until(self, at: datetime) -> datetime:
        """How long renewals can go on without a person: the refresh's end, else the token's."""
        return self.registration_expires_at if self.refreshable(at) else self.expires_at


def load(session: SsoSession) -> Token | None:
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
        return Token(access, expires, *fields, clock.parse_timestamp(registration) if registration else None)
    except (KeyError, TypeError, ValueError):
        return None


def save(session: SsoSession, token: Token) -> None:
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


def keep(session: SsoSession, token: Token) -> None:
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

"""Identity Center (SSO) stages: what a profile says, the token, the role credentials.

The token lives where the AWS CLI v2 keeps it, `~/.aws/sso/cache/<sha1 of the sso-session
name, or of a legacy profile's start URL>.json`, in its format, so `aws sso login` and
`stage use` sign in for each other. Role credentials from GetRoleCredentials land in
`~/.aws/cli/cache/` under botocore's SSO key for the profile, as the AWS CLI v2 caches them.
Nothing here imports botocore: a cache hit never pays for it.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta
from collections.abc import Mapping

from geodesic_stage import cache, clock, log
from geodesic_stage.cache import sha1
from geodesic_stage.errors import ConfigError, MfaUnavailable
from geodesic_stage.model import Credentials, Session, SsoRole, SsoSession, Stage
from geodesic_stage.record import Record

# botocore's windows: role credentials and tokens closer than this to their end are renewed.
RENEW_SECONDS = 15 * 60
# A refresh is one HTTP call: a shell waits this long for another's.
REFRESH_LOCK_SECONDS = 30
# A token must outlast the GetRoleCredentials call made with it.
TOKEN_MARGIN_SECONDS = 60
# An Identity Center token lasts at most the longest session an administrator can set (90 days).
LONGEST_TOKEN = timedelta(days=91)
_ROLE_KEYS = ("sso_account_id", "sso_role_name")


def is_sso(section: Mapping[str, str]) -> bool:
    """An SSO profile, as botocore decides: it names an account or a role to sign in to."""
    return any(key in section for key in _ROLE_KEYS)


def role_of(profile: str, section: Mapping[str, str], sso_sessions: Mapping[str, Mapping[str, str]], where: str) -> SsoRole:
    """The profile's account and permission set and the sign-in behind them; botocore's rules, our messages."""
    values = dict(section)
    name = section.get("sso_session")
    if name is not None:
        session = sso_sessions.get(name)
        if session is None:
            raise ConfigError(f"profile {profile!r} in {where} names sso_session = {name}, but there is no [sso-session {name}] section")
        for key, value in session.items():
            if values.get(key, value) != value:
                raise ConfigError(
                    f"profile {profile!r} in {where}: {key} = {values[key]} differs from [sso-session {name}]'s {value}; keep one"
                )
            values[key] = value
    missing = [k for k in (*_ROLE_KEYS, "sso_start_url", "sso_region") if not values.get(k)]
    if missing:
        place = f"[sso-session {name}]" if name is not None else f"profile {profile!r}"
        raise ConfigError(f"profile {profile!r} in {where} uses Identity Center but lacks {', '.join(missing)}; add it to {place}")
    scopes = tuple(s.strip() for s in values.get("sso_registration_scopes", "").split(",") if s.strip())
    return SsoRole(
        session=SsoSession(start_url=values["sso_start_url"], region=values["sso_region"], name=name, scopes=scopes),
        account_id=values["sso_account_id"],
        role_name=values["sso_role_name"],
    )


def describe(session: SsoSession) -> str:
    return f"sso-session {session.name}" if session.name is not None else f"start URL {session.start_url}"


# The token, as the AWS CLI v2 keeps it.


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


def token_dir() -> str:
    return os.path.join(os.path.expanduser("~"), ".aws", "sso", "cache")


def token_cache() -> cache.JsonFileCache:
    return cache.JsonFileCache(token_dir())


def token_key(session: SsoSession) -> str:
    return sha1((session.name if session.name is not None else session.start_url).encode("utf-8")).hexdigest()


def load_token(session: SsoSession) -> Token | None:
    """The cached token, or None for a missing, damaged or foreign entry."""
    entry = token_cache().get(token_key(session))
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


def save_token(session: SsoSession, token: Token) -> None:
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
    token_cache().put(token_key(session), entry)


def forget_token(session: SsoSession) -> bool:
    return token_cache().delete(token_key(session))


def sign_out(session: SsoSession) -> bool:
    """Forget the session's token here, and end it at AWS too when AWS can be reached (sso:Logout),
    as `aws sso logout` does; the local part never waits on the network."""
    token = load_token(session)
    forgotten = forget_token(session)
    if token and token.expires_at > clock.now():
        from geodesic_stage import sso_client
        from geodesic_stage.errors import AwsError

        try:
            sso_client.logout(session.region, token.access_token)
            log.debug(f"signed out of {describe(session)} at AWS")
        except AwsError as e:
            log.say(f"forgot the sign-in to {describe(session)} here; AWS was not told ({e.message})")
    return forgotten


def registration_key(session: SsoSession) -> str:
    """The AWS CLI v2's key for the client registration it caches beside the tokens."""
    args = {
        "tool": "botocore",
        "startUrl": session.start_url,
        "region": session.region,
        "scopes": list(session.scopes) or None,
        "session_name": session.name,
    }
    return sha1(json.dumps(args, sort_keys=True).encode("utf-8")).hexdigest()


def token_minutes_left(session: SsoSession, at: datetime) -> int | None:
    """Minutes the cached token lasts (0: expired, None: signed out)."""
    token = load_token(session)
    return clock.minutes_left(token.expires_at, at) if token else None


def describe_sign_in(session: SsoSession, at: datetime) -> str:
    """`sso-session acme: signed in, 479 min left, renewable` for status and doctor."""
    token = load_token(session)
    state = token_state(session, at)
    detail = {
        "valid": f"signed in, {clock.minutes_left(token.expires_at, at) if token else 0} min left",
        "refreshable": "token expired, renewable without a sign-in",
        "signed out": "signed out",
    }[state]
    if state == "valid" and token.refreshable(at):
        detail += ", renewable without a sign-in"
    return f"{describe(session)}: {detail}"


def token_state(session: SsoSession, at: datetime) -> str:
    """'valid', 'refreshable' or 'signed out', for status, list and doctor."""
    token = load_token(session)
    if token and token.expires_at - at > timedelta(seconds=TOKEN_MARGIN_SECONDS):
        return "valid"
    if token and token.refreshable(at):
        return "refreshable"
    return "signed out"


# Role credentials, under botocore's SSOCredentialFetcher key.


def role_cache_key(role: SsoRole) -> str:
    args = {"roleName": role.role_name, "accountId": role.account_id}
    if role.session.name is not None:
        args["sessionName"] = role.session.name
    else:
        args["startUrl"] = role.session.start_url
    return sha1(json.dumps(args, sort_keys=True, separators=(",", ":")).encode("utf-8")).hexdigest()


def cached_role_credentials(role: SsoRole, at: datetime, min_seconds: float = RENEW_SECONDS) -> Credentials | None:
    entry = cache.role_cache().get(role_cache_key(role))
    return cache.fresh(cache.credentials_from_entry(entry), at, min_seconds)


def session_end(role: SsoRole, creds: Credentials, at: datetime) -> datetime:
    token = load_token(role.session)
    return max(token.lasts_until(at), creds.expiration) if token else creds.expiration


def from_cache(stage: Stage) -> Session | None:
    """The stage's cached role credentials if they last long enough; no network, no botocore."""
    role = stage.profile.sso
    now = clock.now()
    creds = cached_role_credentials(role, now)
    if creds is None:
        log.debug(f"cache miss for {stage.profile.name} (SSO key {role_cache_key(role)})")
        return None
    log.debug(f"cache hit for {stage.profile.name} (SSO key {role_cache_key(role)}), {clock.minutes_left(creds.expiration, now)} min left")
    return Session(stage, creds, session_end(role, creds, now))


def obtain(stage: Stage, can_sign_in: bool) -> Session:
    """Cached role credentials, else GetRoleCredentials with the token (refreshed or signed in as needed)."""
    found = from_cache(stage)
    if found:
        return found
    role = stage.profile.sso
    creds = role_credentials(role, can_sign_in, stage.name)
    return Session(stage, creds, session_end(role, creds, clock.now()))


def root_credentials(role: SsoRole, can_sign_in: bool, stage_name: str) -> Credentials:
    """A role chain's first credentials: the SSO root's cached ones while they last the AssumeRole call, else new."""
    found = cached_role_credentials(role, clock.now(), TOKEN_MARGIN_SECONDS)
    if found:
        log.debug(f"the Identity Center role of the chain's root from cache (SSO key {role_cache_key(role)})")
        return found
    return role_credentials(role, can_sign_in, stage_name)


def role_credentials(role: SsoRole, can_sign_in: bool, stage_name: str) -> Credentials:
    """GetRoleCredentials for the role, cached under botocore's key; for a chain's SSO root too."""
    from geodesic_stage import sso_client

    advice = f"run 'stage use {stage_name}' in a terminal to sign in"
    token = access_token(role.session, can_sign_in, advice)
    try:
        creds = sso_client.role_credentials(role.session.region, token, role.account_id, role.role_name)
    except sso_client.TokenRejected:
        # Revoked or signed out elsewhere: the cached token is of no use to anyone.
        log.debug("the portal refused the cached token; it is dropped")
        forget_token(role.session)
        token = access_token(role.session, can_sign_in, advice)
        creds = sso_client.role_credentials(role.session.region, token, role.account_id, role.role_name)
    entry = {"ProviderType": "sso", **cache.entry_from_credentials(creds)}
    entry["Credentials"]["AccountId"] = role.account_id
    try:
        cache.role_cache().put(role_cache_key(role), entry)
    except OSError as e:
        log.say(f"could not cache credentials in {cache.cli_cache_dir()} ({e.strerror}); they work in this shell only")
    return creds


def access_token(session: SsoSession, can_sign_in: bool, advice: str) -> str:
    """A live access token: the cached one, refreshed silently if it must be, else a new sign-in."""
    now = clock.now()
    token = load_token(session)
    if token and token.expires_at - now > LONGEST_TOKEN:
        token = None
    if token and token.expires_at - now > timedelta(seconds=RENEW_SECONDS):
        log.debug(f"token for {describe(session)} from cache, {clock.minutes_left(token.expires_at, now)} min left")
        return token.access_token
    if token and token.refreshable(now):
        refreshed = _refresh_once(session)
        if refreshed:
            return refreshed.access_token
    if token and token.expires_at - now > timedelta(seconds=TOKEN_MARGIN_SECONDS):
        return token.access_token
    if not can_sign_in:
        login = f"aws sso login --sso-session {session.name}" if session.name else "aws sso login --profile PROFILE"
        raise MfaUnavailable(f"not signed in to Identity Center ({describe(session)}); {advice}, or '{login}'")
    from geodesic_stage import sso_login

    return sso_login.sign_in(session).access_token


def _refresh_once(session: SsoSession) -> Token | None:
    """Refresh under a lock: a refresh token is good once, so shells renewing together take turns,
    and the later ones use what the first one saved."""
    from contextlib import ExitStack

    from geodesic_stage import lock

    with ExitStack() as held:
        try:
            cache.private_directory(cache.session_cache_dir())
            held.enter_context(lock.exclusive(
                lock_path(session)[: -len(".lock")] + ".refresh.lock", REFRESH_LOCK_SECONDS,
                lambda: log.debug("another shell is renewing the Identity Center token; waiting for it"),
                timeout_message=f"another shell has been renewing the Identity Center token for {REFRESH_LOCK_SECONDS} s; try again",
            ))
        except OSError as e:
            log.debug(f"no refresh lock ({e.strerror})")
        token = load_token(session)
        now = clock.now()
        if token and token.expires_at - now > timedelta(seconds=RENEW_SECONDS):
            log.debug("token renewed by another shell")
            return token
        return refresh(session, token) if token and token.refreshable(now) else None


def refresh(session: SsoSession, token: Token) -> Token | None:
    from geodesic_stage import sso_client

    log.debug(f"token for {describe(session)} expires {clock.rfc3339(token.expires_at)}: refreshing it")
    response = sso_client.refresh_token(session.region, token.client_id, token.client_secret, token.refresh_token)
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
    _keep(session, new)
    return new


def _keep(session: SsoSession, token: Token) -> None:
    try:
        save_token(session, token)
    except OSError as e:
        log.say(f"could not save the sign-in in {token_dir()} ({e.strerror}); other shells will sign in again")


def lock_path(session: SsoSession) -> str:
    return os.path.join(cache.session_cache_dir(), f"sso-{token_key(session)}.lock")

"""The Identity Center calls (sso-oidc and the SSO portal), through botocore.

Imported only when the cache cannot answer. Endpoints honour AWS_ENDPOINT_URL_SSO_OIDC
and AWS_ENDPOINT_URL_SSO, as botocore reads them; every failure becomes one of our errors.
The portal's calls go through botocore's adaptive retry mode, which paces a client to the rate
the portal allows once it throttles; `Patience` calls again while it still does, to a deadline.
"""

import functools
import time
from typing import Callable, Iterator, Optional

import botocore.exceptions as bex
import botocore.session
from botocore import UNSIGNED
from botocore.config import Config

from geodesic_stage import log
from geodesic_stage.aws import calls
from geodesic_stage.clock import rfc3339
from geodesic_stage.errors import AwsError, ConfigError
from geodesic_stage.model import Credentials
from geodesic_stage.store.cli_cache import credentials_from_entry

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
_SERVICES = {
    "sso-oidc": calls.Service("Identity Center's OIDC service", "AWS_ENDPOINT_URL_SSO_OIDC"),
    "sso": calls.Service("the Identity Center portal", "AWS_ENDPOINT_URL_SSO"),
}


class TokenRejected(AwsError):
    """The portal refused the access token (expired, revoked or signed out elsewhere)."""


class Pending(Exception):
    """The person has not approved the device code yet; `slow_down` asks for a longer interval."""

    def __init__(self, slow_down: bool):
        super().__init__("authorization pending")
        self.slow_down = slow_down


class DeviceCodeExpired(AwsError):
    pass


class Throttled(AwsError):
    """The portal answered TooManyRequestsException to every attempt botocore made."""


class OutOfTime(AwsError):
    """A Patience's deadline passed before the calls were done."""


class Patience:
    """Makes a portal call again while the portal throttles it, until `seconds` after this was made;
    `answered(throttles)` hears of each answer, with the throttled attempts it took."""

    def __init__(self, seconds: float, answered: Callable[[int], None] = lambda throttles: None):
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds
        self._answered = answered

    def __call__(self, call: Callable[[], dict]) -> dict:
        throttles = 0
        while True:
            if time.monotonic() > self.deadline:
                raise OutOfTime(f"gave up after {self.seconds:g} s" + (" of TooManyRequestsException" if throttles else ""))
            try:
                answer = call()
            except Throttled:
                throttles += 1
                continue
            self._answered(throttles)
            return answer


@functools.lru_cache(maxsize=None)
def _client(service: str, region: str):
    # These calls are unsigned and need no profile: a stray AWS_PROFILE (even an unknown one) is not read.
    session = botocore.session.Session(session_vars={"profile": (None, None, None, None)})
    config = Config(
        region_name=region, signature_version=UNSIGNED, connect_timeout=5, read_timeout=10,
        retries={"mode": "adaptive" if service == "sso" else "standard"},
    )
    try:
        return session.create_client(service, config=config)
    except (bex.InvalidRegionError, bex.NoRegionError):
        raise ConfigError(f"sso_region {region!r} is not an AWS region name; fix it in the AWS config")


def _call(service: str, region: str, operation: str, **kwargs) -> dict:
    return calls.call(_client(service, region), _SERVICES[service], operation, lambda code, message: _refused(service, operation, code), **kwargs)


def _refused(service: str, operation: str, code: str):
    if code == "UnauthorizedException":
        return TokenRejected(f"{_SERVICES[service].name} refused the sign-in token ({code})")
    if code in ("AuthorizationPendingException", "SlowDownException"):
        return Pending(slow_down=code == "SlowDownException")
    if code == "TooManyRequestsException":
        return Throttled(f"{_SERVICES[service].name} kept answering {operation} with {code}; try again later")
    if code == "ExpiredTokenException" and operation == "CreateToken":
        return DeviceCodeExpired("the sign-in code expired before it was approved; run the command again for a new one")
    return None


def register_client(region: str, name: str, scopes) -> dict:
    kwargs = {"clientName": name, "clientType": "public"}
    if scopes:
        kwargs["scopes"] = list(scopes)
    return _call("sso-oidc", region, "RegisterClient", **kwargs)


def start_device_authorization(region: str, client_id: str, client_secret: str, start_url: str) -> dict:
    return _call("sso-oidc", region, "StartDeviceAuthorization", clientId=client_id, clientSecret=client_secret, startUrl=start_url)


def poll_token(region: str, client_id: str, client_secret: str, device_code: str) -> dict:
    """One CreateToken with the device code: the token, or Pending, or DeviceCodeExpired."""
    return _call(
        "sso-oidc", region, "CreateToken",
        grantType=DEVICE_GRANT, clientId=client_id, clientSecret=client_secret, deviceCode=device_code,
    )


def refresh_token(region: str, client_id: str, client_secret: str, refresh: str) -> Optional[dict]:
    """A new access token for the refresh token, or None when it is no longer good."""
    try:
        return _call(
            "sso-oidc", region, "CreateToken",
            grantType="refresh_token", clientId=client_id, clientSecret=client_secret, refreshToken=refresh,
        )
    except (AwsError, Pending) as e:
        log.debug(f"token refresh refused: {getattr(e, 'message', e)}")
        return None


def role_credentials(region: str, access_token: str, account_id: str, role_name: str) -> Credentials:
    response = _call("sso", region, "GetRoleCredentials", accessToken=access_token, accountId=account_id, roleName=role_name)
    found = response.get("roleCredentials") or {}
    try:
        expiration = rfc3339(_from_millis(found["expiration"]))
    except (KeyError, TypeError, ValueError, OverflowError, OSError):
        expiration = None
    creds = credentials_from_entry({"Credentials": {
        "AccessKeyId": found.get("accessKeyId"), "SecretAccessKey": found.get("secretAccessKey"),
        "SessionToken": found.get("sessionToken"), "Expiration": expiration,
    }})
    if creds is None:
        raise AwsError("the Identity Center portal answered GetRoleCredentials without usable credentials")
    return creds


def _from_millis(value):
    from datetime import datetime, timezone

    return datetime.fromtimestamp(int(value) / 1000, timezone.utc)


def accounts(region: str, access_token: str, patience: Optional[Patience] = None) -> Iterator[dict]:
    yield from _pages("ListAccounts", "accountList", region, patience, accessToken=access_token)


def account_roles(region: str, access_token: str, account_id: str, patience: Optional[Patience] = None) -> Iterator[dict]:
    yield from _pages("ListAccountRoles", "roleList", region, patience, accessToken=access_token, accountId=account_id)


def _pages(operation: str, key: str, region: str, patience: Optional[Patience], **kwargs) -> Iterator[dict]:
    token = None
    while True:
        call = functools.partial(_call, "sso", region, operation, **kwargs, **({"nextToken": token} if token else {}))
        page = patience(call) if patience else call()
        yield from page.get(key) or ()
        token = page.get("nextToken")
        if not token:
            return


def logout(region: str, access_token: str) -> None:
    _call("sso", region, "Logout", accessToken=access_token)

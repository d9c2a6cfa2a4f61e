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
from botocore.parsers import ResponseParserError

from geodesic_stage import log
from geodesic_stage.cache import credentials_from_entry
from geodesic_stage.clock import rfc3339
from geodesic_stage.errors import AwsError, ConfigError
from geodesic_stage.model import Credentials

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
_SERVICE_NAMES = {"sso-oidc": "Identity Center's OIDC service", "sso": "the Identity Center portal"}
_ENDPOINT_VARIABLES = {"sso-oidc": "AWS_ENDPOINT_URL_SSO_OIDC", "sso": "AWS_ENDPOINT_URL_SSO"}


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
    client = _client(service, region)
    endpoint = client.meta.endpoint_url
    log.debug(f"{operation} at {endpoint}")
    try:
        return getattr(client, operation)(**kwargs)
    except bex.ClientError as e:
        code = _printable(e.response.get("Error", {}).get("Code", "Unknown"))
        if code == "UnauthorizedException":
            raise TokenRejected(f"{_SERVICE_NAMES[service]} at {endpoint} refused the sign-in token ({code})")
        if code in ("AuthorizationPendingException", "SlowDownException"):
            raise Pending(slow_down=code == "SlowDownException")
        if code == "TooManyRequestsException":
            raise Throttled(f"{_SERVICE_NAMES[service]} at {endpoint} kept answering {operation} with {code}; try again later")
        if code == "ExpiredTokenException" and operation == "create_token":
            raise DeviceCodeExpired("the sign-in code expired before it was approved; run the command again for a new one")
        message = _printable(e.response.get("Error", {}).get("Message", ""))
        raise AwsError(f"{_SERVICE_NAMES[service]} at {endpoint} refused {operation}: {code}{': ' + message if message else ''}")
    except (bex.EndpointConnectionError, bex.ConnectionError, bex.HTTPClientError) as e:
        raise AwsError(
            f"cannot reach {_SERVICE_NAMES[service]} at {endpoint} ({type(e).__name__}); "
            f"check the network or {_ENDPOINT_VARIABLES[service]}"
        )
    except ResponseParserError:
        raise AwsError(f"{_SERVICE_NAMES[service]} at {endpoint} answered {operation} with something unreadable")
    except bex.ParamValidationError as e:
        raise ConfigError(f"{operation}: {str(e).splitlines()[-1][:200]}")


def _printable(text) -> str:
    return "".join(c if c.isprintable() else "?" for c in str(text))[:300]


def register_client(region: str, name: str, scopes) -> dict:
    kwargs = {"clientName": name, "clientType": "public"}
    if scopes:
        kwargs["scopes"] = list(scopes)
    return _call("sso-oidc", region, "register_client", **kwargs)


def start_device_authorization(region: str, client_id: str, client_secret: str, start_url: str) -> dict:
    return _call("sso-oidc", region, "start_device_authorization", clientId=client_id, clientSecret=client_secret, startUrl=start_url)


def poll_token(region: str, client_id: str, client_secret: str, device_code: str) -> dict:
    """One CreateToken with the device code: the token, or Pending, or DeviceCodeExpired."""
    return _call(
        "sso-oidc", region, "create_token",
        grantType=DEVICE_GRANT, clientId=client_id, clientSecret=client_secret, deviceCode=device_code,
    )


def refresh_token(region: str, client_id: str, client_secret: str, refresh: str) -> Optional[dict]:
    """A new access token for the refresh token, or None when it is no longer good."""
    try:
        return _call(
            "sso-oidc", region, "create_token",
            grantType="refresh_token", clientId=client_id, clientSecret=client_secret, refreshToken=refresh,
        )
    except (AwsError, Pending) as e:
        log.debug(f"token refresh refused: {getattr(e, 'message', e)}")
        return None


def role_credentials(region: str, access_token: str, account_id: str, role_name: str) -> Credentials:
    response = _call("sso", region, "get_role_credentials", accessToken=access_token, accountId=account_id, roleName=role_name)
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
    yield from _pages("list_accounts", "accountList", region, patience, accessToken=access_token)


def account_roles(region: str, access_token: str, account_id: str, patience: Optional[Patience] = None) -> Iterator[dict]:
    yield from _pages("list_account_roles", "roleList", region, patience, accessToken=access_token, accountId=account_id)


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
    _call("sso", region, "logout", accessToken=access_token)

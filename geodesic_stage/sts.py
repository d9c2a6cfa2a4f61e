"""The STS calls, through boto3. Imported only when the cache cannot answer."""

import functools
import re
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Optional, Tuple

import boto3
import botocore.exceptions as bex
from botocore.config import Config
from botocore.parsers import ResponseParserError

from geodesic_stage import log
from geodesic_stage.awsconfig import credentials_path
from geodesic_stage.cache import credentials_from_entry
from geodesic_stage.errors import AwsError, ConfigError, MfaRejected
from geodesic_stage.model import Credentials, Profile

# Bounded waits: a dead endpoint costs seconds, not minutes. Attempts: AWS_MAX_ATTEMPTS or the
# profile's max_attempts, as the AWS CLI reads them, else standard mode's 3.
_CONFIG = Config(connect_timeout=5, read_timeout=5, retries={"mode": "standard"})
DEFAULT_REGION = "us-east-1"


def require_source(profile: Profile) -> None:
    """Raise ConfigError now if the source profile has no usable keys."""
    _session_for_source(profile)


@functools.lru_cache(maxsize=None)
def _session_for_source(profile: Profile):
    source = profile.source_profile
    if not source:
        raise ConfigError(f"profile {profile.name!r} has no source_profile; add source_profile = NAME of your long-lived keys")
    from geodesic_stage import keystore

    stored = keystore.source_keys(source)
    if stored:
        log.debug(f"source profile {source}: key {stored.access_key_id} from the key store")
        return boto3.Session(aws_access_key_id=stored.access_key_id, aws_secret_access_key=stored.secret_access_key)
    try:
        session = boto3.Session(profile_name=source)
        creds = session.get_credentials()
    except bex.ProfileNotFound:
        raise ConfigError(
            f"source profile {source!r} of {profile.name!r} is not in {credentials_path()} or the AWS config; "
            f"add [{source}] with aws_access_key_id and aws_secret_access_key"
        )
    except bex.BotoCoreError as e:
        raise ConfigError(f"source profile {source!r} cannot be used: {e}")
    if creds is None:
        raise ConfigError(
            f"source profile {source!r} has no credentials; add aws_access_key_id and "
            f"aws_secret_access_key under [{source}] in {credentials_path()}"
        )
    return session


def _client(profile: Profile, credentials: Optional[Credentials]):
    region = profile.region or DEFAULT_REGION
    if credentials is None:
        session = _session_for_source(profile)
    else:
        session = boto3.Session(
            aws_access_key_id=credentials.access_key_id,
            aws_secret_access_key=credentials.secret_access_key,
            aws_session_token=credentials.session_token,
        )
    try:
        return session.client("sts", region_name=region, config=_CONFIG)
    except bex.InvalidRegionError:
        raise ConfigError(f"profile {profile.name!r} has region {region!r}, which is not an AWS region name")


def _call(client, operation: str, **kwargs) -> dict:
    endpoint = client.meta.endpoint_url
    log.debug(f"STS {operation} at {endpoint}")
    try:
        return getattr(client, _snake(operation))(**kwargs)
    except bex.ClientError as e:
        error = e.response.get("Error", {})
        code, message = _printable(error.get("Code", "Unknown")), _printable(error.get("Message", ""))
        if code == "AccessDenied" and "MultiFactorAuthentication" in message:
            raise MfaRejected(f"AWS rejected the MFA code ({message})")
        raise AwsError(f"STS {operation} was refused at {endpoint}: {code}: {message}")
    except (bex.EndpointConnectionError, bex.ConnectionError, bex.HTTPClientError) as e:
        raise AwsError(f"cannot reach STS at {endpoint} ({type(e).__name__}); check the network or AWS_ENDPOINT_URL_STS")
    except ResponseParserError:
        # Its text quotes the body, which may hold credentials: name the endpoint only.
        raise AwsError(f"STS at {endpoint} answered {operation} with something that is not an STS response; check AWS_ENDPOINT_URL_STS")
    except bex.NoCredentialsError:
        raise ConfigError("no credentials to call STS with; check the source profile")


def _printable(text) -> str:
    """Text from the server as one printable line: no escape sequences reach the terminal."""
    return "".join(c if c.isprintable() else "?" for c in str(text))[:300]


def _snake(operation: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower()


def _credentials(response: dict, operation: str, client) -> Credentials:
    creds = credentials_from_entry({"Credentials": _jsonable(response.get("Credentials"))})
    if creds is None:
        raise AwsError(f"STS at {client.meta.endpoint_url} answered {operation} without usable credentials")
    return creds


def _jsonable(creds):
    if not isinstance(creds, dict):
        return None
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in creds.items()}


def role_session_name(profile: Profile) -> str:
    if profile.role_session_name:
        return profile.role_session_name
    user = (profile.mfa_serial or "").rsplit("/", 1)[-1]
    name = re.sub(r"[^\w+=,.@-]", "-", f"geodesic-stage-{user}" if user else "geodesic-stage")
    return name[:64]


def get_session_token(profile: Profile, code: str, duration: int) -> Credentials:
    client = _client(profile, None)
    response = _call(
        client, "GetSessionToken", DurationSeconds=duration, SerialNumber=profile.mfa_serial, TokenCode=code
    )
    return _credentials(response, "GetSessionToken", client)


def assume_role(
    profile: Profile,
    *,
    credentials: Optional[Credentials] = None,
    code: Optional[str] = None,
    duration: Optional[int] = None,
) -> tuple:
    """AssumeRole from the source profile (or given credentials); returns (Credentials, AssumedRoleUser)."""
    client = _client(profile, credentials)
    kwargs = {"RoleArn": profile.role_arn, "RoleSessionName": role_session_name(profile)}
    if profile.external_id:
        kwargs["ExternalId"] = profile.external_id
    if code is not None:
        kwargs["SerialNumber"] = profile.mfa_serial
        kwargs["TokenCode"] = code
    if duration:
        kwargs["DurationSeconds"] = duration
    response = _call(client, "AssumeRole", **kwargs)
    return _credentials(response, "AssumeRole", client), response.get("AssumedRoleUser") or {}


def caller_identity(profile: Profile, credentials: Credentials) -> dict:
    response = _call(_client(profile, credentials), "GetCallerIdentity")
    return {k: response.get(k) for k in ("Account", "Arn", "UserId")}


def server_date(profile: Profile) -> Tuple[datetime, Optional[str]]:
    """STS's clock: the Date header of a GetCallerIdentity signed with the profile's source keys,
    and the error code when STS refused the call (its answer still carries the date)."""
    client = _client(profile, None)
    refused = None
    try:
        metadata = client.get_caller_identity()["ResponseMetadata"]
    except bex.ClientError as e:
        metadata = e.response.get("ResponseMetadata", {})
        refused = e.response.get("Error", {}).get("Code", "Unknown")
    except (bex.EndpointConnectionError, bex.ConnectionError, bex.HTTPClientError) as e:
        raise AwsError(f"cannot reach STS at {client.meta.endpoint_url} ({type(e).__name__}); check the network or AWS_ENDPOINT_URL_STS")
    date = metadata.get("HTTPHeaders", {}).get("date")
    try:
        return parsedate_to_datetime(date), refused
    except (TypeError, ValueError):
        raise AwsError(f"STS at {client.meta.endpoint_url} answered without a Date header")

"""The STS calls, through boto3. Imported only when the cache cannot answer."""

import re
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Optional, Tuple

import boto3
import botocore.exceptions as bex
from botocore.config import Config

from geodesic_stage.aws import calls
from geodesic_stage.aws.calls import printable as _printable
from geodesic_stage.config.awsconfig import config_path, credentials_path
from geodesic_stage.errors import AwsError, ConfigError, MfaRejected
from geodesic_stage.model import Credentials, Profile, RoleLink
from geodesic_stage.store.cli_cache import credentials_from_entry

# Bounded waits: a dead endpoint costs seconds, not minutes. Attempts: AWS_MAX_ATTEMPTS or the
# stage profile's max_attempts (the profile every client here is made for), else standard mode's 3.
_CONFIG = Config(connect_timeout=5, read_timeout=5, retries={"mode": "standard"})
DEFAULT_REGION = "us-east-1"


def _client(profile: Profile, credentials: Credentials):
    """An STS client signed with exactly `credentials`, configured as `aws --profile STAGE` would be.

    Naming the profile keeps AWS_PROFILE and AWS_DEFAULT_PROFILE out of it; explicit keys keep
    the environment's keys out, and botocore never resolves (or prompts for) a profile's credentials."""
    region = profile.region or DEFAULT_REGION
    try:
        session = boto3.Session(
            profile_name=profile.name,
            aws_access_key_id=credentials.access_key_id,
            aws_secret_access_key=credentials.secret_access_key,
            aws_session_token=credentials.session_token or None,
        )
        return session.client("sts", region_name=region, config=_CONFIG)
    except bex.ProfileNotFound:
        raise ConfigError(f"profile {profile.name!r} is in neither {config_path()} nor {credentials_path()}")
    except bex.InvalidRegionError:
        raise ConfigError(f"profile {profile.name!r} has region {region!r}, which is not an AWS region name")
    except bex.BotoCoreError as e:
        raise ConfigError(f"profile {profile.name!r} cannot be used: {_printable(str(e).splitlines()[0] if str(e) else e)}")


STS = calls.Service("STS", "AWS_ENDPOINT_URL_STS", article="an")


def _mfa_rejected(code: str, message: str):
    return MfaRejected(f"AWS rejected the MFA code ({message})") if code == "AccessDenied" and "MultiFactorAuthentication" in message else None


def _call(client, operation: str, **kwargs) -> dict:
    return calls.call(client, STS, operation, _mfa_rejected, **kwargs)


def _credentials(response: dict, operation: str, client) -> Credentials:
    creds = credentials_from_entry({"Credentials": _jsonable(response.get("Credentials"))})
    if creds is None:
        raise AwsError(f"STS at {client.meta.endpoint_url} answered {operation} without usable credentials")
    return creds


def _jsonable(creds):
    if not isinstance(creds, dict):
        return None
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in creds.items()}


def role_session_name(link: RoleLink, serial: Optional[str] = None) -> str:
    """The link's role_session_name, else one naming the MFA user (the link's device, else `serial`)."""
    if link.role_session_name:
        return link.role_session_name
    user = (link.mfa_serial or serial or "").rsplit("/", 1)[-1]
    name = re.sub(r"[^\w+=,.@-]", "-", f"geodesic-stage-{user}" if user else "geodesic-stage")
    return name[:64]


def get_session_token(profile: Profile, credentials: Credentials, serial: str, code: str, duration: int) -> Credentials:
    """An MFA session; `credentials` must be an IAM user's long-term keys (AWS refuses any other)."""
    if credentials.temporary:
        raise ValueError("GetSessionToken needs long-term keys")  # the caller checks; a bug if reached
    client = _client(profile, credentials)
    response = _call(client, "GetSessionToken", DurationSeconds=duration, SerialNumber=serial, TokenCode=code)
    return _credentials(response, "GetSessionToken", client)


def assume_role(
    profile: Profile,
    link: RoleLink,
    credentials: Credentials,
    *,
    code: Optional[str] = None,
    duration: Optional[int] = None,
    serial: Optional[str] = None,
) -> tuple:
    """AssumeRole of one link, signed with `credentials`; returns (Credentials, AssumedRoleUser)."""
    client = _client(profile, credentials)
    kwargs = {"RoleArn": link.role_arn, "RoleSessionName": role_session_name(link, serial)}
    if link.external_id:
        kwargs["ExternalId"] = link.external_id
    if code is not None:
        kwargs["SerialNumber"] = link.mfa_serial
        kwargs["TokenCode"] = code
    if duration:
        kwargs["DurationSeconds"] = duration
    response = _call(client, "AssumeRole", **kwargs)
    return _credentials(response, "AssumeRole", client), response.get("AssumedRoleUser") or {}


def caller_identity(profile: Profile, credentials: Credentials) -> dict:
    response = _call(_client(profile, credentials), "GetCallerIdentity")
    return {k: response.get(k) for k in ("Account", "Arn", "UserId")}


def server_date(profile: Profile, credentials: Credentials) -> Tuple[datetime, Optional[str]]:
    """STS's clock: the Date header of a GetCallerIdentity signed with `credentials`,
    and the error code when STS refused the call (its answer still carries the date)."""
    client = _client(profile, credentials)
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

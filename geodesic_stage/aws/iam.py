"""IAM's access-key calls and GetCallerIdentity for a given key, through boto3.

Only `keys` commands import this. Clients are built from explicit keys on a
botocore session that ignores AWS_PROFILE, so a stale profile in the shell never
changes who signs. Endpoints honour AWS_ENDPOINT_URL_IAM and AWS_ENDPOINT_URL_STS.
"""

import re
from dataclasses import dataclass, field
from typing import List, Optional

import botocore.session
from botocore.config import Config

from geodesic_stage.aws import calls
from geodesic_stage.errors import AwsError

_CONFIG = Config(connect_timeout=5, read_timeout=10, retries={"mode": "standard"})
IAM_REGION = "us-east-1"  # IAM is global; its endpoint lives in us-east-1


@dataclass(frozen=True)
class Signer:
    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: Optional[str] = field(default=None, repr=False)


@dataclass(frozen=True)
class AccessKey:
    access_key_id: str
    status: str  # Active | Inactive
    created: str


@dataclass(frozen=True)
class NewKey:
    access_key_id: str
    secret_access_key: str = field(repr=False)
    created: str


class KeyRefused(AwsError):
    """STS does not (yet) accept the key: InvalidClientTokenId or SignatureDoesNotMatch."""


def _client(service: str, signer: Signer, region: str):
    # The profile variable is ignored: these calls are signed with the keys given, nothing else.
    session = botocore.session.Session(session_vars={"profile": (None, None, None, None)})
    return session.create_client(
        service,
        region_name=region,
        aws_access_key_id=signer.access_key_id,
        aws_secret_access_key=signer.secret_access_key,
        aws_session_token=signer.session_token,
        config=_CONFIG,
    )


_SERVICES = {"IAM": calls.Service("IAM", "AWS_ENDPOINT_URL_IAM", article="an"), "STS": calls.Service("STS", "AWS_ENDPOINT_URL_STS", article="an")}


def _key_refused(code: str, message: str):
    return KeyRefused(f"STS does not accept the key: {code}: {message}") if code in ("InvalidClientTokenId", "SignatureDoesNotMatch") else None


def _call(client, service: str, operation: str, **kwargs) -> dict:
    return calls.call(client, _SERVICES[service], operation, _key_refused, **kwargs)


def caller_identity(signer: Signer, region: Optional[str] = None) -> dict:
    """Account, Arn and UserId of the key's owner; KeyRefused when STS does not know the key."""
    response = _call(_client("sts", signer, region or IAM_REGION), "STS", "GetCallerIdentity")
    return {k: response.get(k) for k in ("Account", "Arn", "UserId")}


def user_name_of(arn: str) -> Optional[str]:
    """The IAM user's name in arn:aws:iam::ACCOUNT:user/PATH/NAME, or None for anything else."""
    match = re.fullmatch(r"arn:aws[\w-]*:iam::\d{12}:user/(?:[\w+=,.@/-]*/)?([\w+=,.@-]+)", arn or "")
    return match.group(1) if match else None


class Iam:
    """The access keys of one IAM user, changed with `signer` (the MFA session where there is one)."""

    def __init__(self, signer: Signer, user: str):
        self.user = user
        self._client = _client("iam", signer, IAM_REGION)

    def list_keys(self) -> List[AccessKey]:
        response = _call(self._client, "IAM", "ListAccessKeys", UserName=self.user)
        return [
            AccessKey(k["AccessKeyId"], k.get("Status", "Active"), _timestamp(k.get("CreateDate")))
            for k in response.get("AccessKeyMetadata", [])
        ]

    def create_key(self) -> NewKey:
        key = _call(self._client, "IAM", "CreateAccessKey", UserName=self.user)["AccessKey"]
        return NewKey(key["AccessKeyId"], key["SecretAccessKey"], _timestamp(key.get("CreateDate")))

    def deactivate(self, access_key_id: str) -> None:
        _call(self._client, "IAM", "UpdateAccessKey", UserName=self.user, AccessKeyId=access_key_id, Status="Inactive")

    def delete(self, access_key_id: str) -> None:
        _call(self._client, "IAM", "DeleteAccessKey", UserName=self.user, AccessKeyId=access_key_id)


def _timestamp(value) -> str:
    from geodesic_stage.clock import rfc3339

    return rfc3339(value) if hasattr(value, "astimezone") else str(value or "")

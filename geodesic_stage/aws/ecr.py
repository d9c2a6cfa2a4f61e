"""ECR's GetAuthorizationToken, through boto3, signed with a stage's own credentials.
Imported only when the cache cannot answer."""

from __future__ import annotations

import base64
from datetime import datetime

from geodesic_stage.aws import calls, sts
from geodesic_stage.errors import AwsError
from geodesic_stage.model import Credentials, Profile

ECR = calls.Service("ECR", "AWS_ENDPOINT_URL_ECR", article="an")


def authorization_token(profile: Profile, credentials: Credentials, account_id: str, region: str) -> tuple[str, datetime | None]:
    """(the password docker logs in to the account's registry with as user AWS, when AWS says it ends)."""
    client = sts.signed_client(profile, credentials, "ecr", region)
    answer = calls.call(client, ECR, "GetAuthorizationToken", registryIds=[account_id])
    try:
        data = answer["authorizationData"][0]
        user, _, password = base64.b64decode(data["authorizationToken"]).decode("utf-8").partition(":")
        expires = data["expiresAt"]
    except (KeyError, IndexError, TypeError, ValueError):
        raise AwsError(f"ECR at {client.meta.endpoint_url} answered GetAuthorizationToken without a token; check AWS_ENDPOINT_URL_ECR")
    if user != "AWS" or not password.isprintable():
        raise AwsError(f"ECR at {client.meta.endpoint_url} answered GetAuthorizationToken with a token of another form")
    return password, expires if isinstance(expires, datetime) else None

"""EKS bearer tokens, as aws-iam-authenticator reads them and `aws eks get-token` makes them.

`k8s-aws-v1.` + the unpadded base64url of a GetCallerIdentity URL presigned with the stage's
credentials and the signed header `x-k8s-aws-id: CLUSTER` (aws.eks.identity_url). The cluster takes
it for 15 minutes from its X-Amz-Date; kubectl is told less (lifetimes). Tokens are cached per
identity, cluster and region and served while they last the margin, without boto3 or botocore;
kubectl's own calls are answered before this cache is asked (served.py).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from geodesic_stage import cachekeys, clock, log
from geodesic_stage.eks.cluster import Cluster
from geodesic_stage.errors import ConfigError
from geodesic_stage.lifetimes import EKS_PRESIGN_SECONDS, EKS_TOKEN_MARGIN_SECONDS, EKS_TOKEN_SECONDS
from geodesic_stage.model import Credentials, Profile
from geodesic_stage.record import Record
from geodesic_stage.store.cli_cache import JsonFileCache, eks_cache_dir, secret_and_time

PREFIX = "k8s-aws-v1."
API_VERSIONS = ("client.authentication.k8s.io/v1beta1", "client.authentication.k8s.io/v1")


class Token(Record):
    _secret = ("value",)
    value: str
    expiration: datetime


def cached(identity: str, cluster: Cluster, now: datetime) -> Token | None:
    """The cached token while it lasts the margin (and is not from the future)."""
    found = secret_and_time(JsonFileCache(eks_cache_dir()).get(cachekeys.eks_token_key(identity, cluster)), "token", "expiration")
    if found is None or not found[0].startswith(PREFIX):
        return None
    left = (found[1] - now).total_seconds()
    return Token(*found) if EKS_TOKEN_MARGIN_SECONDS <= left <= EKS_TOKEN_SECONDS else None


def new(profile: Profile, credentials: Credentials, cluster: Cluster, now: datetime) -> Token:
    """A token signed with exactly `credentials` (STS in the cluster's region, AWS_ENDPOINT_URL_STS honoured)."""
    import base64

    from geodesic_stage.aws import eks

    url = eks.identity_url(profile, credentials, cluster.name, cluster.region, EKS_PRESIGN_SECONDS)
    log.debug(f"EKS token for {cluster.name} presigned at {url.split('?')[0]}")
    value = PREFIX + base64.urlsafe_b64encode(url.encode("utf-8")).decode("ascii").rstrip("=")
    expiration = now + timedelta(seconds=EKS_TOKEN_SECONDS)
    if credentials.expiration is not None:
        expiration = min(expiration, credentials.expiration)
    return Token(value, expiration)


def keep(identity: str, cluster: Cluster, token: Token) -> None:
    try:
        JsonFileCache(eks_cache_dir()).put(
            cachekeys.eks_token_key(identity, cluster), {"token": token.value, "expiration": clock.rfc3339(token.expiration)}
        )
    except OSError as e:
        log.debug(f"could not cache the EKS token in {eks_cache_dir()} ({e.strerror}); the next call makes another")


def api_version(exec_info: str | None) -> str:
    """The ExecCredential version kubectl asks for in KUBERNETES_EXEC_INFO (v1beta1 when it says none)."""
    try:
        asked = json.loads(exec_info)["apiVersion"] if exec_info else API_VERSIONS[0]
    except (ValueError, TypeError, KeyError):
        raise ConfigError("KUBERNETES_EXEC_INFO is not the JSON kubectl sends; run this command from kubectl's exec plugin")
    if asked not in API_VERSIONS:
        raise ConfigError(f"kubectl asks for an ExecCredential of {asked!r}; this command speaks {' and '.join(API_VERSIONS)}")
    return asked


def exec_credential(token: Token, version: str) -> str:
    return json.dumps({
        "kind": "ExecCredential",
        "apiVersion": version,
        "spec": {},
        "status": {"expirationTimestamp": clock.rfc3339(token.expiration), "token": token.value},
    }) + "\n"

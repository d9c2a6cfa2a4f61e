"""A cluster's endpoint and CA, as DescribeCluster gives them, cached beside the EKS tokens.

A description is served for lifetimes.EKS_DESCRIBE_SECONDS, then asked again (a re-created cluster
has a new endpoint and CA). A failure is kept too, so that the token command can say why kubectl has
no cluster; it is asked again at every `stage use`. boto3 is imported only to ask.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from geodesic_stage import cachekeys, clock, log
from geodesic_stage.eks.cluster import Cluster
from geodesic_stage.errors import AwsError
from geodesic_stage.lifetimes import EKS_DESCRIBE_SECONDS
from geodesic_stage.model import Credentials, Profile
from geodesic_stage.record import Record
from geodesic_stage.store.cli_cache import JsonFileCache, eks_cache_dir


class Description(Record):
    """The cluster's https endpoint and CA (base64 PEM, as EKS gives it), or what kept us from them."""

    described: datetime
    endpoint: str | None = None
    certificate_authority: str | None = None
    problem: str | None = None


def cached(account_id: str, cluster: Cluster) -> Description | None:
    entry = JsonFileCache(eks_cache_dir()).get(cachekeys.eks_cluster_key(account_id, cluster))
    try:
        described = clock.parse_timestamp(entry["described"])
        fields = {k: entry.get(k) for k in ("endpoint", "certificate_authority", "problem")}
        if not all(v is None or (isinstance(v, str) and v.isprintable()) for v in fields.values()):
            return None
        return Description(described=described, **fields)
    except (TypeError, KeyError, ValueError):
        return None


def current(profile: Profile, credentials: Credentials, cluster: Cluster) -> Description:
    """The cached description while it is young and whole; else DescribeCluster now (kept, failure or not).
    An unreachable EKS leaves a whole description as it was: better a stale endpoint than none."""
    now = clock.now()
    found = cached(profile.account_id, cluster)
    if found and not found.problem and now - found.described < timedelta(seconds=EKS_DESCRIBE_SECONDS):
        log.debug(f"EKS cluster {cluster.name} ({cluster.region}) from cache, described {found.described:%H:%M:%S}")
        return found
    fresh = ask(profile, credentials, cluster, now)
    if fresh.problem and fresh.problem.startswith("cannot reach") and found and not found.problem:
        return found
    _keep(profile.account_id, cluster, fresh)
    return fresh


def ask(profile: Profile, credentials: Credentials, cluster: Cluster, now: datetime) -> Description:
    """DescribeCluster signed with the stage's credentials; a refusal becomes a Description's problem."""
    from geodesic_stage.aws import calls, eks

    where = f"EKS cluster {cluster.name} in {cluster.region} (account {profile.account_id})"
    try:
        found = eks.describe_cluster(profile, credentials, cluster.name, cluster.region)
    except calls.Refused as e:
        if e.code == "ResourceNotFoundException":
            return Description(described=now, problem=f"{where} does not exist")
        if e.code.startswith("AccessDenied") or e.code in ("UnauthorizedOperation", "UnrecognizedClientException"):
            return Description(described=now, problem=f"the role of profile {profile.name} cannot describe {where} ({e.code})")
        return Description(described=now, problem=e.message)
    except AwsError as e:
        return Description(described=now, problem=e.message)
    endpoint = found.get("endpoint")
    authority = (found.get("certificateAuthority") or {}).get("data")
    if not (isinstance(endpoint, str) and endpoint.startswith("https://") and endpoint.isprintable()
            and isinstance(authority, str) and authority.isprintable()):
        status = found.get("status") if isinstance(found.get("status"), str) else "without an endpoint"
        return Description(described=now, problem=f"{where} is {calls.printable(status)}; try again once it is ACTIVE")
    return Description(described=now, endpoint=endpoint, certificate_authority=authority)


def _keep(account_id: str, cluster: Cluster, description: Description) -> None:
    entry = {"described": clock.rfc3339(description.described)}
    entry.update({k: v for k, v in description.__dict__.items() if k != "described" and v is not None})
    try:
        JsonFileCache(eks_cache_dir()).put(cachekeys.eks_cluster_key(account_id, cluster), entry)
    except OSError as e:
        log.debug(f"could not cache the description of {cluster.name} in {eks_cache_dir()} ({e.strerror})")

"""EKS's calls, through boto3, signed with a stage's own credentials: DescribeCluster, and the
presigned GetCallerIdentity URL an EKS token is made of. Imported only when the cache cannot answer."""

from __future__ import annotations

from geodesic_stage.aws import calls, sts
from geodesic_stage.model import Credentials, Profile

EKS = calls.Service("EKS", "AWS_ENDPOINT_URL_EKS", article="an")
# The header aws-iam-authenticator reads the cluster's name from; signed, so a token serves one cluster only.
CLUSTER_HEADER = "x-k8s-aws-id"


def describe_cluster(profile: Profile, credentials: Credentials, name: str, region: str) -> dict:
    """DescribeCluster's `cluster`; a refusal is calls.Refused with AWS's code (ResourceNotFoundException...)."""
    answer = calls.call(sts.signed_client(profile, credentials, "eks", region), EKS, "DescribeCluster", name=name)
    found = answer.get("cluster")
    return found if isinstance(found, dict) else {}


def identity_url(profile: Profile, credentials: Credentials, cluster: str, region: str, expires: int) -> str:
    """A GetCallerIdentity URL presigned (GET) in the cluster's region with the cluster's name signed in,
    as `aws eks get-token` makes it; STS is not called (AWS_ENDPOINT_URL_STS names the host)."""
    client = sts.signed_client(profile, credentials, "sts", region)

    def name_the_cluster(request, **kwargs):
        request.headers[CLUSTER_HEADER] = cluster

    client.meta.events.register("before-sign.sts.GetCallerIdentity", name_the_cluster)
    return client.generate_presigned_url("get_caller_identity", Params={}, ExpiresIn=expires, HttpMethod="GET")

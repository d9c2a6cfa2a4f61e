"""Every cache key, derived in one place, so that we and the AWS CLI find each other's entries.

The role and SSO keys are botocore's (botocore/credentials.py: CachedCredentialFetcher._create_cache_key,
AssumeRoleCredentialFetcher._get_credentials' arguments and SSOCredentialFetcher's; botocore/utils.py:
SSOTokenLoader for the token file): the SHA-1 of the call's arguments as sorted JSON, the AssumeRole one
with json.dumps' default separators, the SSO one with compact ones. The MFA session key is ours, and so
are those of what a stage's credentials sign (EKS tokens, ECR passwords) and of its kubeconfig and docker config.
"""

from __future__ import annotations

try:  # CPython's own SHA-1: hashlib loads OpenSSL first, some 3 ms of every cached use
    from _sha1 import sha1
except ImportError:
    from hashlib import sha1


def _digest(args: dict, separators=None) -> str:
    import json  # here: kubectl's cached token (eks_served_key) reads no JSON

    return sha1(json.dumps(args, sort_keys=True, separators=separators).encode("utf-8")).hexdigest()


def role_key(link) -> str:
    """botocore's AssumeRole key for a role link's (or role profile's) arguments: `aws --profile` reads it."""
    args = {"RoleArn": link.role_arn}
    if link.role_session_name is not None:
        args["RoleSessionName"] = link.role_session_name
    if link.external_id is not None:
        args["ExternalId"] = link.external_id
    if link.mfa_serial is not None:
        args["SerialNumber"] = link.mfa_serial
    if link.duration_seconds is not None:
        args["DurationSeconds"] = link.duration_seconds
    return _digest(args)


def sso_role_key(role) -> str:
    """botocore's SSO key for a permission set in an account (GetRoleCredentials)."""
    args = {"roleName": role.role_name, "accountId": role.account_id}
    if role.session.name is not None:
        args["sessionName"] = role.session.name
    else:
        args["startUrl"] = role.session.start_url
    return _digest(args, separators=(",", ":"))


def sso_token_key(session) -> str:
    """The AWS CLI v2's token file name: the SHA-1 of the sso-session name, or of a legacy profile's start URL."""
    return sha1((session.name if session.name is not None else session.start_url).encode("utf-8")).hexdigest()


def sso_registration_key(session) -> str:
    """The AWS CLI v2's key for the client registration it caches beside the tokens."""
    args = {
        "tool": "botocore",
        "startUrl": session.start_url,
        "region": session.region,
        "scopes": list(session.scopes) or None,
        "session_name": session.name,
    }
    return _digest(args)


def sso_listing_key(session) -> str:
    """Ours: the accounts an init read through a sign-in's portal, kept after a failure part way."""
    return "listing-" + sha1(f"{session.start_url} {session.region}".encode("utf-8")).hexdigest()


def mfa_session_key(owner: str, mfa_serial: str) -> str:
    """Ours: whose MFA session it is (the source profile, plus the key id for keys from the environment) and the device."""
    return "session-" + _digest({"SerialNumber": mfa_serial, "SourceProfile": owner})


def eks_token_key(identity: str, cluster) -> str:
    """An EKS token of an identity (creds.obtain.identity) for a cluster in its region."""
    return "token-" + _digest({"Identity": identity, "Cluster": cluster.name, "Region": cluster.region})


def eks_cluster_key(account_id: str, cluster) -> str:
    """What DescribeCluster said of a cluster, as the stage's account sees it."""
    return "cluster-" + _digest({"Account": account_id, "Name": cluster.name, "Region": cluster.region})


def eks_served_key(request: list) -> str:
    """kubectl's call for a token, answered as before while nothing it depends on changed: the words, the
    environment and the config files' stamps (eks.served.request)."""
    return "served-" + sha1("\0".join(request).encode("utf-8", "surrogateescape")).hexdigest()


def ecr_password_key(identity: str, registry) -> str:
    """An ECR password of an identity for a registry."""
    return "password-" + _digest({"Identity": identity, "Registry": registry.host})


def stage_file_key(stage: str, profile: str) -> str:
    """A file name for what is written per stage and profile (its kubeconfig, its docker config) that says
    whose it is; names that are not plain go by their digest."""
    import re

    name = f"{stage}.{profile}"
    if re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*", name):
        return name
    return "stage-" + sha1(name.encode("utf-8")).hexdigest()

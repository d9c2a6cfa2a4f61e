"""ECR passwords from GetAuthorizationToken, cached per identity and registry until half their life
(12 hours at AWS) is gone. A hit reads one file and loads neither boto3 nor botocore."""

from __future__ import annotations

import json
import os
from datetime import datetime

from geodesic_stage import cache, clock, log
from geodesic_stage.cache import sha1
from geodesic_stage.ecr.registries import Registry
from geodesic_stage.errors import AwsError
from geodesic_stage.model import Credentials, Profile
from geodesic_stage.record import Record


class Password(Record):
    _secret = ("value",)
    value: str
    renew_at: datetime


def directory() -> str:
    return os.path.join(cache.session_cache_dir(), "ecr")


def _key(identity: str, registry: Registry) -> str:
    return "password-" + sha1(json.dumps({"Identity": identity, "Registry": registry.host}, sort_keys=True).encode("utf-8")).hexdigest()


def cached(identity: str, registry: Registry, now: datetime) -> Password | None:
    entry = cache.JsonFileCache(directory()).get(_key(identity, registry))
    try:
        value, renew_at = entry["password"], clock.parse_timestamp(entry["renew_at"])
    except (TypeError, KeyError, ValueError):
        return None
    if not (isinstance(value, str) and value.isprintable()) or not now < renew_at <= now + cache.LONGEST_SESSION:
        return None
    return Password(value, renew_at)


def new(profile: Profile, credentials: Credentials, registry: Registry, now: datetime) -> Password:
    """GetAuthorizationToken in the registry's region, signed with exactly `credentials`; AWS_ENDPOINT_URL_ECR honoured."""
    import base64

    from geodesic_stage import sts

    client = sts._client(profile, credentials, "ecr", registry.region)
    answer = sts._call(client, "GetAuthorizationToken", registryIds=[registry.account_id])
    try:
        data = answer["authorizationData"][0]
        user, _, value = base64.b64decode(data["authorizationToken"]).decode("utf-8").partition(":")
        expires = data["expiresAt"]
    except (KeyError, IndexError, TypeError, ValueError):
        raise AwsError(f"ECR at {client.meta.endpoint_url} answered GetAuthorizationToken without a token; check AWS_ENDPOINT_URL_ECR")
    if user != "AWS" or not value.isprintable():
        raise AwsError(f"ECR at {client.meta.endpoint_url} answered GetAuthorizationToken with a token of another form")
    # Half the life left: a pull or push that starts now never outlives the password.
    return Password(value, now + (expires - now) / 2 if isinstance(expires, datetime) else now)


def keep(identity: str, registry: Registry, password: Password) -> None:
    try:
        cache.JsonFileCache(directory()).put(_key(identity, registry), {"password": password.value, "renew_at": clock.rfc3339(password.renew_at)})
    except OSError as e:
        log.debug(f"could not cache the ECR password in {directory()} ({e.strerror}); the next pull asks again")

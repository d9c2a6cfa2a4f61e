"""ECR passwords from GetAuthorizationToken, cached per identity and registry for the part of their
life (12 hours at AWS) that lifetimes gives them. A hit reads one file and loads neither boto3 nor botocore."""

from __future__ import annotations

from datetime import datetime, timedelta

from geodesic_stage import cachekeys, clock, log
from geodesic_stage.ecr.registries import Registry
from geodesic_stage.lifetimes import ECR_PASSWORD_SERVED_PART, LONGEST_SESSION_SECONDS
from geodesic_stage.model import Credentials, Profile
from geodesic_stage.record import Record
from geodesic_stage.store.cli_cache import JsonFileCache, ecr_cache_dir, secret_and_time


class Password(Record):
    _secret = ("value",)
    value: str
    renew_at: datetime


def cached(identity: str, registry: Registry, now: datetime) -> Password | None:
    found = secret_and_time(JsonFileCache(ecr_cache_dir()).get(cachekeys.ecr_password_key(identity, registry)), "password", "renew_at")
    if found is None or not now < found[1] <= now + timedelta(seconds=LONGEST_SESSION_SECONDS):
        return None
    return Password(*found)


def new(profile: Profile, credentials: Credentials, registry: Registry, now: datetime) -> Password:
    """GetAuthorizationToken in the registry's region, signed with exactly `credentials`; AWS_ENDPOINT_URL_ECR honoured."""
    from geodesic_stage.aws import ecr

    value, expires = ecr.authorization_token(profile, credentials, registry.account_id, registry.region)
    # A pull or push that starts while it is served never outlives the password.
    return Password(value, now + (expires - now) * ECR_PASSWORD_SERVED_PART if expires else now)


def keep(identity: str, registry: Registry, password: Password) -> None:
    try:
        JsonFileCache(ecr_cache_dir()).put(
            cachekeys.ecr_password_key(identity, registry), {"password": password.value, "renew_at": clock.rfc3339(password.renew_at)}
        )
    except OSError as e:
        log.debug(f"could not cache the ECR password in {ecr_cache_dir()} ({e.strerror}); the next pull asks again")

"""Our cache key is botocore's: a role session that `stage use` caches is the one
boto3 and the AWS CLI pick up for the same profile, and the other way round,
whatever the profile's optional AssumeRole settings hold."""

import itertools
from datetime import datetime, timedelta, timezone

import botocore.session
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geodesic_stage.config import awsconfig, resolve
from geodesic_stage import cachekeys
from geodesic_stage.config.stages_file import StagesFile

OPTIONAL = ("mfa_serial", "external_id", "role_session_name", "duration_seconds")
# Text a config line can hold as botocore reads it back: no line breaks or
# control characters, no whitespace at the ends (configparser strips it).
VALUE = st.text(
    st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=300
).filter(lambda v: v == v.strip())
QUOTES = st.sampled_from(["'", '"', "\\", "$(id)", "`id`", "\u00e9t\u00e9", "\U0001f512", "a" * 2048])
TEXT = st.one_of(VALUE, QUOTES, st.lists(QUOTES, min_size=2, max_size=4).map("".join))
PRESENT = list(itertools.product((False, True), repeat=len(OPTIONAL)))


class RecordingCache(dict):
    """botocore's cache interface; remembers every key botocore looked up."""

    def __init__(self, *args):
        super().__init__(*args)
        self.asked = []

    def __contains__(self, key):
        self.asked.append(key)
        return super().__contains__(key)


def _refuse_mfa(prompt):
    raise AssertionError("botocore missed the cache and asked for an MFA code")


def write_config(path, values: dict) -> None:
    lines = ["[profile cpco]", "aws_access_key_id = AKIAIOSFODNN7EXAMPLE", "aws_secret_access_key = secret", ""]
    lines += ["[profile cpco-testing-admin]", "source_profile = cpco"]
    lines += [f"{key} = {value}" for key, value in values.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def botocore_credentials(config_path, monkeypatch, role_cache: dict):
    """What boto3 gets for the profile, with `role_cache` as its AssumeRole cache (as the AWS CLI sets it up)."""
    for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config_path))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(config_path.parent / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    # A miss without mfa_serial goes straight to STS: let it find nothing listening, never the internet.
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    session = botocore.session.Session(profile="cpco-testing-admin")
    provider = session.get_component("credential_provider").get_provider("assume-role")
    provider.cache = role_cache
    provider._prompter = _refuse_mfa
    return session.get_credentials().get_frozen_credentials()


def our_key(config_path) -> str:
    profiles = awsconfig.load_profiles(str(config_path))
    stage = resolve.resolve_stage("testing", profiles, StagesFile(), resolve.Request(profile="cpco-testing-admin"))
    return cachekeys.role_key(stage.profile)


def cached_session(access_key: str) -> dict:
    expiration = datetime.now(timezone.utc) + timedelta(hours=1)
    return {
        "Credentials": {
            "AccessKeyId": access_key,
            "SecretAccessKey": "cached-secret",
            "SessionToken": "cached-token",
            "Expiration": expiration.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
    }


@pytest.mark.parametrize("present", PRESENT, ids=lambda p: "+".join(k for k, on in zip(OPTIONAL, p) if on) or "role_arn-only")
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    role_arn=TEXT,
    mfa_serial=TEXT,
    external_id=TEXT,
    role_session_name=TEXT,
    duration_seconds=st.integers(min_value=900, max_value=129600),
)
def test_boto3_uses_the_session_we_cached_for_the_profile(
    tmp_path_factory, monkeypatch, present, role_arn, mfa_serial, external_id, role_session_name, duration_seconds
):
    optional = dict(zip(OPTIONAL, (mfa_serial, external_id, role_session_name, str(duration_seconds))))
    values = {"role_arn": role_arn, **{k: v for (k, v), on in zip(optional.items(), present) if on}}
    config = tmp_path_factory.mktemp("aws") / "config"
    write_config(config, values)

    key = our_key(config)
    role_cache = RecordingCache({key: cached_session("ASIACACHEDBYSTAGE")})
    credentials = botocore_credentials(config, monkeypatch, role_cache)

    assert role_cache.asked == [key]
    assert credentials.access_key == "ASIACACHEDBYSTAGE"


def test_a_session_boto3_cached_under_another_profile_setting_is_not_ours(tmp_path, monkeypatch):
    """The key covers every AssumeRole argument: change one and it is a different session."""
    config = tmp_path / "config"
    profile = {"role_arn": "arn:aws:iam::323330167063:role/cpco-root-admin", "mfa_serial": "arn:aws:iam::323330167063:mfa/me"}
    write_config(config, dict(profile, external_id="one"))
    first = our_key(config)
    write_config(config, dict(profile, external_id="two"))
    role_cache = RecordingCache({first: cached_session("ASIAOTHERSETTINGS")})

    with pytest.raises(AssertionError, match="missed the cache"):
        botocore_credentials(config, monkeypatch, role_cache)
    assert role_cache.asked == [our_key(config)] and our_key(config) != first

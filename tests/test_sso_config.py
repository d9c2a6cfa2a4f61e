"""Pure Identity Center logic: what a profile says (botocore's rules), cache keys (botocore's and
the AWS CLI v2's), and the stages `init --topology sso` derives from accounts."""

import hashlib
import json

import pytest
from botocore.credentials import SSOCredentialFetcher
from hypothesis import given
from hypothesis import strategies as st

from geodesic_stage import cachekeys
from geodesic_stage.config import sso
from geodesic_stage.topology import sso as sso_topology
from geodesic_stage.errors import ConfigError
from geodesic_stage.model import SsoRole, SsoSession

SESSIONS = {"acme": {"sso_start_url": "https://acme.awsapps.com/start", "sso_region": "us-east-1",
                     "sso_registration_scopes": "sso:account:access, extra:scope"}}


def test_a_profile_naming_an_sso_session_takes_its_start_url_region_and_scopes():
    role = sso.role_of("p", {"sso_session": "acme", "sso_account_id": "1" * 12, "sso_role_name": "Admin"}, SESSIONS, "cfg")
    assert role == SsoRole(SsoSession("https://acme.awsapps.com/start", "us-east-1", "acme", ("sso:account:access", "extra:scope")), "1" * 12, "Admin")


def test_a_legacy_profile_is_its_own_session():
    section = {"sso_start_url": "https://x.awsapps.com/start", "sso_region": "eu-west-1", "sso_account_id": "2" * 12, "sso_role_name": "R"}
    assert sso.role_of("p", section, {}, "cfg").session == SsoSession("https://x.awsapps.com/start", "eu-west-1")


@pytest.mark.parametrize("section, message", [
    ({"sso_session": "nope", "sso_account_id": "1", "sso_role_name": "R"}, "no [sso-session nope] section"),
    ({"sso_session": "acme", "sso_account_id": "1", "sso_role_name": "R", "sso_region": "eu-west-1"}, "differs from [sso-session acme]"),
    ({"sso_session": "acme", "sso_role_name": "R"}, "lacks sso_account_id"),
    ({"sso_account_id": "1", "sso_role_name": "R", "sso_region": "eu-west-1"}, "lacks sso_start_url; add it to profile 'p'"),
])
def test_broken_sso_profiles_are_one_clear_line(section, message):
    with pytest.raises(ConfigError) as e:
        sso.role_of("p", section, SESSIONS, "cfg")
    assert message in e.value.message and "\n" not in e.value.message


@given(st.text(min_size=1, max_size=20), st.text(min_size=1, max_size=20), st.booleans())
def test_the_role_cache_key_is_botocores(account, role_name, named):
    session = SsoSession("https://acme.awsapps.com/start", "us-east-1", "acme" if named else None)
    fetcher = SSOCredentialFetcher(session.start_url, session.region, role_name, account, client_creator=None,
                                   sso_session_name=session.name)
    assert cachekeys.sso_role_key(SsoRole(session, account, role_name)) == fetcher._create_cache_key()


def test_the_token_and_registration_keys_are_the_aws_cli_v2s():
    named = SsoSession("https://acme.awsapps.com/start", "us-east-1", "acme", ("sso:account:access",))
    assert cachekeys.sso_token_key(named) == hashlib.sha1(b"acme").hexdigest()
    assert cachekeys.sso_token_key(SsoSession("https://acme.awsapps.com/start", "us-east-1")) == hashlib.sha1(b"https://acme.awsapps.com/start").hexdigest()
    expected = json.dumps({"tool": "botocore", "startUrl": named.start_url, "region": "us-east-1",
                           "scopes": ["sso:account:access"], "session_name": "acme"}, sort_keys=True)
    assert cachekeys.sso_registration_key(named) == hashlib.sha1(expected.encode()).hexdigest()


def test_stages_come_from_account_names_without_the_namespace():
    accounts = [
        sso_topology.Account("1" * 12, "acme-prod", ("AdministratorAccess",)),
        sso_topology.Account("2" * 12, "Audit Logs", ("AdministratorAccess",)),
        sso_topology.Account("3" * 12, "acme-dev", ("ReadOnlyAccess",)),
        sso_topology.Account("4" * 12, "prod", ("AdministratorAccess",)),
    ]
    found = sso_topology.stages(accounts, "acme", "admin", "AdministratorAccess")
    assert [(s.stage, s.profile) for s in found] == [
        ("audit-logs", "acme-audit-logs-admin"),
        ("prod-111111111111", "acme-prod-111111111111-admin"),
        ("prod-444444444444", "acme-prod-444444444444-admin"),
    ]


@given(st.text(max_size=30))
def test_any_account_name_gives_a_stage_name_a_profile_header_can_hold(name):
    stage = sso_topology.stage_name(name, "acme")
    assert stage and not any(c.isspace() or c in "[]" for c in stage)

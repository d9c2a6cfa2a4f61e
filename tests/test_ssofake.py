"""The Identity Center fake answers as AWS does: proved against the AWS CLI (v1 and v2, whose
`aws sso login` signs in at it) and botocore's own clients before any test of ours relies on it."""

import json
import subprocess
import threading
import time

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config

import cliv2
from conftest import clean_environ
from sso_support import SSO_REGION, START_URL, sso, sso_env, sso_home, token_path, write_token  # noqa: F401
from ssofake import SsoFake, organization, role_name_in_account


def identity(cli, env, profile):
    done = cli.run(env, "--profile", profile, "sts", "get-caller-identity", "--output", "json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_aws_cli_uses_a_token_from_the_fake_and_gets_the_account_and_permission_set_role(sso_env, sso_home, sso, aws_cli):
    write_token(sso_home, sso.cli_token(START_URL, SSO_REGION))
    who = identity(aws_cli, sso_env, "acme-testing-admin")
    assert who["Account"] == "333333333333"
    assert f"assumed-role/{role_name_in_account('AdministratorAccess')}/" in who["Arn"]
    assert sso.count("GetRoleCredentials") == 1


def test_the_aws_cli_uses_a_legacy_start_url_token(sso_env, sso_home, sso, aws_cli):
    write_token(sso_home, sso.cli_token(START_URL, SSO_REGION, refreshable=False), name=START_URL)
    who = identity(aws_cli, sso_env, "acme-legacy-admin")
    assert who["Account"] == "111111111111"
    assert role_name_in_account("ReadOnlyAccess") in who["Arn"]


def test_the_aws_cli_refreshes_an_expired_token_at_the_fake_and_saves_it(sso_env, sso_home, sso, aws_cli):
    old = sso.cli_token(START_URL, SSO_REGION, expires_in=-60)
    write_token(sso_home, old)
    assert identity(aws_cli, sso_env, "acme-prod-admin")["Account"] == "222222222222"
    assert sso.count("CreateToken") == 1
    new = json.loads(token_path(sso_home).read_text())
    assert new["accessToken"] != old["accessToken"] and new["refreshToken"] != old["refreshToken"]
    assert new["clientId"] == old["clientId"]


def test_the_aws_cli_is_refused_with_a_revoked_token(sso_env, sso_home, sso, aws_cli):
    write_token(sso_home, sso.cli_token(START_URL, SSO_REGION))
    sso.revoke_all()
    done = aws_cli.run(sso_env, "--profile", "acme-testing-admin", "sts", "get-caller-identity")
    assert done.returncode != 0
    assert "expired or is otherwise invalid" in done.stderr


def test_aws_sso_login_signs_in_at_the_fake_and_its_token_serves_the_aws_cli(sso_env, sso_home, sso, aws_v2):
    printed = cliv2.sso_login(aws_v2.environ(sso_env), sso.approve, "--sso-session", "acme")
    assert f"Successfully logged into Start URL: {START_URL}" in printed
    assert [sso.count(o) for o in ("RegisterClient", "StartDeviceAuthorization")] == [1, 1]
    token = json.loads(token_path(sso_home).read_text())
    assert token["startUrl"] == START_URL and token["region"] == SSO_REGION and token["refreshToken"]
    assert set(token) == set(sso.cli_token(START_URL, SSO_REGION)), "the tests' stand-in token has v2's fields"
    registrations = [p for p in token_path(sso_home).parent.glob("*.json") if p != token_path(sso_home)]
    assert [set(json.loads(p.read_text())) for p in registrations] == [{"clientId", "clientSecret", "expiresAt", "scopes"}]
    assert identity(aws_v2, sso_env, "acme-testing-admin")["Account"] == "333333333333"


@pytest.fixture
def oidc(sso):
    return boto3.client("sso-oidc", endpoint_url=sso.url, config=Config(signature_version=UNSIGNED, region_name=SSO_REGION))


def test_botocore_device_grant_pending_slow_down_approved_and_expired(oidc, sso):
    client = oidc.register_client(clientName="botocore-client-acme", clientType="public", scopes=["sso:account:access"])
    assert client["clientSecretExpiresAt"] > client["clientIdIssuedAt"]
    device = oidc.start_device_authorization(clientId=client["clientId"], clientSecret=client["clientSecret"], startUrl=START_URL)
    assert device["userCode"] in device["verificationUriComplete"] and device["interval"] >= 1
    grant = dict(grantType="urn:ietf:params:oauth:grant-type:device_code", clientId=client["clientId"],
                 clientSecret=client["clientSecret"], deviceCode=device["deviceCode"])
    with pytest.raises(oidc.exceptions.AuthorizationPendingException):
        oidc.create_token(**grant)
    sso.slow_down = 1
    with pytest.raises(oidc.exceptions.SlowDownException):
        oidc.create_token(**grant)
    sso.approve(device["userCode"])
    token = oidc.create_token(**grant)
    assert token["accessToken"] and token["refreshToken"] and token["expiresIn"] > 0
    refreshed = oidc.create_token(grantType="refresh_token", clientId=client["clientId"],
                                  clientSecret=client["clientSecret"], refreshToken=token["refreshToken"])
    assert refreshed["accessToken"] != token["accessToken"]
    assert sso.reused_refresh_tokens == 0
    with pytest.raises(oidc.exceptions.InvalidGrantException):  # a refresh token is good once
        oidc.create_token(grantType="refresh_token", clientId=client["clientId"],
                          clientSecret=client["clientSecret"], refreshToken=token["refreshToken"])
    assert sso.reused_refresh_tokens == 1
    with pytest.raises(oidc.exceptions.InvalidGrantException):  # one never issued is refused, not counted as reused
        oidc.create_token(grantType="refresh_token", clientId=client["clientId"],
                          clientSecret=client["clientSecret"], refreshToken="aor-never-issued")
    assert sso.reused_refresh_tokens == 1

    # A held refresh waits for its release; the grant then goes on as before.
    sso.hold_refreshes()
    held = {}
    waiting = threading.Thread(target=lambda: held.update(oidc.create_token(
        grantType="refresh_token", clientId=client["clientId"], clientSecret=client["clientSecret"],
        refreshToken=refreshed["refreshToken"])))
    waiting.start()
    deadline = time.monotonic() + 10
    while sso.held_refreshes == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sso.held_refreshes == 1 and held == {}
    sso.release_refreshes()
    waiting.join(10)
    assert held["accessToken"] and sso.held_refreshes == 0

    late = oidc.start_device_authorization(clientId=client["clientId"], clientSecret=client["clientSecret"], startUrl=START_URL)
    sso.expire_devices()
    with pytest.raises(oidc.exceptions.ExpiredTokenException):
        oidc.create_token(**dict(grant, deviceCode=late["deviceCode"]))


def test_botocore_portal_lists_pages_and_logs_out(sso, sso_home):
    token = sso.cli_token(START_URL, SSO_REGION)["accessToken"]
    portal = boto3.client("sso", endpoint_url=sso.url, config=Config(signature_version=UNSIGNED, region_name=SSO_REGION))
    accounts = [a for page in portal.get_paginator("list_accounts").paginate(accessToken=token) for a in page["accountList"]]
    assert [a["accountName"] for a in accounts] == ["acme-root", "acme-prod", "acme-testing"]
    roles = portal.list_account_roles(accessToken=token, accountId="111111111111")["roleList"]
    assert [r["roleName"] for r in roles] == ["AdministratorAccess", "ReadOnlyAccess"]
    portal.logout(accessToken=token)
    with pytest.raises(portal.exceptions.UnauthorizedException):
        portal.list_accounts(accessToken=token)


# The portal at an organization's scale: pages of 20 accounts with opaque tokens, a throttle.

@pytest.fixture
def portal(sts):
    fake = SsoFake(sts.url, organization(45), page_size=100, role_page_size=1)  # the portal caps accounts at 20
    fake.access_token = fake.cli_token(START_URL, SSO_REGION)["accessToken"]
    yield fake
    fake.close()


def portal_cli(cli, portal, *args, **environ) -> subprocess.CompletedProcess:
    """`aws sso ARGS` at the fake, as a user points the AWS CLI at a portal endpoint (v2: by a rule set)."""
    env = dict(clean_environ(), AWS_ENDPOINT_URL_SSO=portal.url, AWS_EC2_METADATA_DISABLED="true", **environ)
    return cli.run(env, "sso", *args, "--access-token", portal.access_token, "--region", SSO_REGION, "--output", "json")


def test_the_aws_cli_pages_through_accounts_twenty_at_a_time(portal, aws_cli):
    done = portal_cli(aws_cli, portal, "list-accounts")
    assert done.returncode == 0, done.stderr
    assert [a["accountId"] for a in json.loads(done.stdout)["accountList"]] == sorted(portal.accounts)
    assert portal.count("ListAccounts") == 3  # 20 + 20 + 5, though botocore asks for 100 a page at most
    portal.reset()
    # The CLI's own resumption token wraps ours, which only means something to the fake that issued it.
    first = json.loads(portal_cli(aws_cli, portal, "list-accounts", "--max-items", "30").stdout)
    rest = json.loads(portal_cli(aws_cli, portal, "list-accounts", "--starting-token", first["NextToken"]).stdout)
    assert [a["accountId"] for a in first["accountList"] + rest["accountList"]] == sorted(portal.accounts)


def test_the_aws_cli_pages_through_an_accounts_roles(portal, aws_cli):
    account = next(a for a, v in portal.accounts.items() if len(v["roles"]) == 3)
    done = portal_cli(aws_cli, portal, "list-account-roles", "--account-id", account)
    assert done.returncode == 0, done.stderr
    assert [r["roleName"] for r in json.loads(done.stdout)["roleList"]] == portal.accounts[account]["roles"]
    assert portal.count("ListAccountRoles") == 3


def test_the_aws_cli_reads_the_throttle_as_too_many_requests_and_retries_it(portal, aws_cli):
    portal.throttle(5, burst=1)
    done = portal_cli(aws_cli, portal, "list-accounts", AWS_MAX_ATTEMPTS="10")
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)["accountList"]) == 45
    assert portal.throttled > 0 and portal.count("ListAccounts") == 3

    portal.throttle(0)
    refused = portal_cli(aws_cli, portal, "list-accounts", AWS_MAX_ATTEMPTS="1")
    assert refused.returncode != 0
    assert "(TooManyRequestsException) when calling the ListAccounts operation" in refused.stderr
    assert "HTTP 429 Unknown Code" in refused.stderr


def test_the_aws_cli_gets_the_error_a_failing_page_is_given(portal, aws_cli):
    portal.fail("ListAccounts", from_call=2, status=401, code="UnauthorizedException")
    done = portal_cli(aws_cli, portal, "list-accounts")
    assert done.returncode != 0
    assert "(UnauthorizedException) when calling the ListAccounts operation" in done.stderr

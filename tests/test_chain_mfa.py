"""A chain with mfa_serial on its first link and on a later one: AWS carries no MFA context through
a role chain, so the later role's code is asked too, as the AWS CLI asks it. moto trusts every
AssumeRole; the STS proxy refuses, as the roles' trust policies would, an AssumeRole of a role that
wants MFA made with neither a code nor an MFA session (tests/stsproxy.py, `mfa_roles`)."""

import boto3
import botocore.exceptions
import pytest

from conftest import run_cli

MFA = "arn:aws:iam::323330167063:mfa/admin@cloudposse.co"
IDENTITY_ROLE = "arn:aws:iam::323330167063:role/cpco-identity-admin"
GUARDED_ROLE = "arn:aws:iam::126450723953:role/cpco-testing-guarded"
# Cloud Posse's identity-account layout, where the stage's role wants MFA as well as the team role.
CHAIN = f"""
[profile cpco-identity-admin]
region = us-west-2
role_arn = {IDENTITY_ROLE}
mfa_serial = {MFA}
source_profile = cpco

[profile cpco-testing-guarded]
region = us-west-2
role_arn = {GUARDED_ROLE}
mfa_serial = {MFA}
source_profile = cpco-identity-admin
"""
only_single = pytest.mark.parametrize("topology", ["single"])


@pytest.fixture
def guarded(home, sts):
    config = home / ".aws" / "config"
    config.write_text(config.read_text() + CHAIN)
    sts.mfa_roles |= {IDENTITY_ROLE, GUARDED_ROLE}
    return sts


def sts_client(sts, creds=None):
    creds = creds or {"AccessKeyId": "AKIAIOSFODNN7EXAMPLE", "SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}
    return boto3.client(
        "sts", endpoint_url=sts.url, region_name="us-east-1", aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds.get("SessionToken"),
    )


def refused(call) -> bool:
    try:
        call()
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"] == "AccessDenied"
    return False


@only_single
def test_the_proxy_refuses_a_guarded_role_without_mfa_as_its_trust_policy_would(guarded, topology):
    keys = sts_client(guarded)
    assert refused(lambda: keys.assume_role(RoleArn=IDENTITY_ROLE, RoleSessionName="test"))
    identity = keys.assume_role(RoleArn=IDENTITY_ROLE, RoleSessionName="test", SerialNumber=MFA, TokenCode="111111")["Credentials"]
    # Assumed with a code, the identity role still carries no MFA context into the next AssumeRole.
    assert refused(lambda: sts_client(guarded, identity).assume_role(RoleArn=GUARDED_ROLE, RoleSessionName="test"))
    sts_client(guarded, identity).assume_role(RoleArn=GUARDED_ROLE, RoleSessionName="test", SerialNumber=MFA, TokenCode="222222")
    # An MFA session's keys do carry it; keys from GetSessionToken without a code do not.
    session = keys.get_session_token(SerialNumber=MFA, TokenCode="333333")["Credentials"]
    sts_client(guarded, session).assume_role(RoleArn=IDENTITY_ROLE, RoleSessionName="test")
    plain = keys.get_session_token()["Credentials"]
    assert refused(lambda: sts_client(guarded, plain).assume_role(RoleArn=IDENTITY_ROLE, RoleSessionName="test"))


@only_single
def test_the_aws_cli_asks_a_code_for_each_guarded_link_and_the_proxy_lets_it_through(shell, guarded, topology):
    """The reference: botocore's AssumeRoleProvider prompts once for each role with mfa_serial."""
    s = shell()
    s.send("aws --profile cpco-testing-guarded sts get-caller-identity --query Arn --output text\r")
    s.answer_mfa("111111")
    s.answer_mfa("222222")
    s.prompt()
    assert "assumed-role/cpco-testing-guarded/" in s.transcript[-1]
    # botocore asks the outer role's code first, then resolves (and asks) the role it is assumed from.
    coded = {p["RoleArn"]: p.get("TokenCode") for p in guarded.parameters("AssumeRole")}
    assert coded == {GUARDED_ROLE: "111111", IDENTITY_ROLE: "222222"}


@only_single
@pytest.mark.parametrize("mode, first_call", [("", "GetSessionToken"), (" --direct", "AssumeRole")], ids=["session", "direct"])
def test_stage_use_asks_the_later_guarded_links_code_too(shell, guarded, topology, mode, first_call):
    s = shell()
    s.send(f"stage use testing --profile cpco-testing-guarded{mode}\r")
    s.answer_mfa("111111")
    s.answer_mfa("222222")
    s.prompt()

    assert s.run('echo "$AWS_PROFILE"') == "cpco-testing-guarded"
    assert [call for call in guarded.calls if call[1]] == [(first_call, "111111"), ("AssumeRole", "222222")]
    assert [(p["RoleArn"], p.get("SerialNumber")) for p in guarded.parameters("AssumeRole")][-1] == (GUARDED_ROLE, MFA)


@only_single
def test_with_no_way_to_ask_the_later_code_no_link_is_assumed(env, guarded, topology):
    """The MFA session would serve the first link; the later one's code cannot be had: exit 3 before any
    call, so the prompt hook never assumes half a chain."""
    assert run_cli(env, "use", "testing", "--mfa-token", "111111").returncode == 0  # buys the MFA session
    guarded.reset()

    done = run_cli(env, "use", "testing", "--profile", "cpco-testing-guarded", "--no-prompt")

    assert done.returncode == 3 and MFA in done.stderr, done.stderr
    assert guarded.calls == []

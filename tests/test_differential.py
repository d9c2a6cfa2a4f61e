"""Every profile the AWS CLI (v1 and v2) can use, `stage use` can use, and to the same effect.

One corpus of config files (the three topologies, chains 2 and 3 deep with mfa_serial on the
first link and on the last, temporary source keys, a credential_process source,
credential_source = Environment, a role profile only in the credentials file, a quoted
section name). For each profile, `aws --profile P sts get-caller-identity` (the code on
stdin where it asks) and `stage use` in one pty bash reach the same account and role; ours
asks one code per chain start, and never signs GetSessionToken with a session token. Then
each side reuses what the other cached, link by link, without a code."""

import json
import re
import sys

import boto3
import pytest

from conftest import mfa_prompts, run_cli

CODE = "123456"
MFA = "arn:aws:iam::323330167063:mfa/admin@cloudposse.co"
ENV_KEYS = {"AWS_ACCESS_KEY_ID": "AKIAENVIRONMENTKEYS1", "AWS_SECRET_ACCESS_KEY": "environment-secret"}
PROCESS = (
    f"credential_process = {sys.executable} -c \"import json; print(json.dumps(dict(Version=1, "
    "AccessKeyId='AKIAPROCESSKEYS00001', SecretAccessKey='process-secret')))\"\n"
)


def role(account, name, source="cpco", mfa=False, region="us-west-2"):
    lines = [f"region = {region}", f"role_arn = arn:aws:iam::{account}:role/{name}", f"source_profile = {source}"]
    return "\n".join(lines + ([f"mfa_serial = {MFA}"] if mfa else [])) + "\n"


CONFIG = (
    "[profile cpco-env-admin]\nregion = us-west-2\nrole_arn = arn:aws:iam::888888888888:role/env\n"
    f"credential_source = Environment\nmfa_serial = {MFA}\n"
    # The three topologies' stage profiles.
    + "[profile cpco-testing-admin]\n" + role(323330167063, "cpco-root-admin", mfa=True)
    + "[profile cpco-staging-admin]\n" + role(126450723953, "OrganizationAccountAccessRole", mfa=True)
    + "[profile cpco-prod-admin]\n" + role(845490276530, "cpco-prod-admin", mfa=True)
    + '[profile "cpco-quoted-admin"]\n' + role(555555555555, "quoted", mfa=True)
    # An identity account's team role, then the stage's: MFA on the first link.
    + "[profile cpco-identity-admin]\n" + role(323330167063, "cpco-identity-admin", mfa=True)
    + "[profile cpco-dev-terraform]\n" + role(222222222222, "terraform", source="cpco-identity-admin")
    + "[profile cpco-deep-admin]\n" + role(999999999999, "deep", source="cpco-dev-terraform")
    # MFA on the last link only.
    + "[profile cpco-identity-ops]\n" + role(323330167063, "ops")
    + "[profile cpco-sandbox-admin]\n" + role(333333333333, "sandbox", source="cpco-identity-ops", mfa=True)
    + "[profile cpco-sandbox-ops]\n" + role(333333333333, "ops", source="cpco-identity-ops")
    + "[profile cpco-lab-admin]\n" + role(444444444444, "lab", source="cpco-sandbox-ops", mfa=True)
    + "[profile cpco-temp-admin]\n" + role(666666666666, "temp", source="temp", mfa=True)
    + "[profile cpco-proc]\n" + PROCESS
    + "[profile cpco-proc-admin]\n" + role(777777777777, "proc", source="cpco-proc", mfa=True)
)
CREDENTIALS = (
    "[cpco]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"
    "[temp]\naws_access_key_id = ASIATEMPORARYKEYS001\naws_secret_access_key = temp-secret\n"
    "aws_session_token = FwoGZXIvYXdzEXAMPLETOKEN\n"
    "[cpco-audit-admin]\n" + role(111111111111, "audit", mfa=True)
)
# Profile, and the codes `stage use` may ask for it, walked in this order in one shell:
# a chain start (keys + device) costs one code, then serves every chain from it.
WALK = [
    ("cpco-env-admin", 1),  # the environment's long-term keys: an MFA session of their own
    ("cpco-testing-admin", 1),  # [cpco]'s keys: the MFA session every later [cpco] chain reuses
    ("cpco-staging-admin", 0),
    ("cpco-prod-admin", 0),
    ("cpco-audit-admin", 0),
    ("cpco-quoted-admin", 0),
    ("cpco-dev-terraform", 0),
    ("cpco-deep-admin", 0),
    ("cpco-sandbox-admin", 1),  # MFA on a role assumed with role credentials: the code goes into it
    ("cpco-lab-admin", 1),
    ("cpco-temp-admin", 1),  # temporary source keys: direct, never GetSessionToken
    ("cpco-proc-admin", 1),  # long-term keys from a credential_process: a session of their own
]


@pytest.fixture
def corpus(env, home, tmp_path):
    """Our user's HOME and an AWS CLI user's HOME holding the same files, each with its own cache."""
    homes = {"ours": home, "aws": tmp_path / "aws-home"}
    for path in homes.values():
        (path / ".aws").mkdir(parents=True, exist_ok=True)
        (path / ".aws" / "config").write_text(CONFIG)
        (path / ".aws" / "credentials").write_text(CREDENTIALS)
    return {name: dict(env, HOME=str(path), **ENV_KEYS) for name, path in homes.items()}


def account_and_role(arn: str) -> tuple:
    match = re.fullmatch(r"arn:aws:sts::(\d{12}):assumed-role/([^/]+)/.+", arn)
    assert match, arn
    return match.groups()


def identity_of(keys: dict, sts) -> tuple:
    client = boto3.client(
        "sts", endpoint_url=sts.url, region_name="us-east-1", aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"], aws_session_token=keys["AWS_SESSION_TOKEN"],
    )
    return account_and_role(client.get_caller_identity()["Arn"])


def aws_identity(cli, env: dict, profile: str):
    """(account, role) the AWS CLI reaches for the profile, and how many codes it asked for (on stdin:
    no terminal, so botocore's getpass reads there)."""
    done = cli.run(env, "--profile", profile, "sts", "get-caller-identity", "--output", "json", input=f"{CODE}\n" * 3)
    assert done.returncode == 0, done.stderr
    return account_and_role(json.loads(done.stdout)["Arn"]), done.stderr.count("Enter MFA code")


@pytest.mark.parametrize("topology", ["single"])
def test_each_profile_reaches_the_role_the_aws_cli_reaches_and_each_reuses_the_others_cache(corpus, sts, shell, topology, aws_cli):
    expected = {}
    for profile, _ in WALK:
        expected[profile], _ = aws_identity(aws_cli, corpus["aws"], profile)

    sts.reset()
    bash = shell(env=corpus["ours"])
    for profile, codes in WALK:
        before = mfa_prompts(bash)
        bash.child.sendline(f"stage use any --profile {profile}")
        if codes:
            bash.answer_mfa(CODE)
        printed = bash.prompt()
        assert mfa_prompts(bash) - before == codes, (profile, bash.transcript[-3:])
        keys = dict(zip(("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"),
                        bash.run('printf "%s %s %s\\n" "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" "$AWS_SESSION_TOKEN"').split()))
        assert identity_of(keys, sts) == expected[profile], (profile, printed)

    sessions = sts.parameters("GetSessionToken")
    assert len(sessions) == 3 and not any(call["WithSessionToken"] for call in sessions)
    assert {call["SerialNumber"] for call in sts.parameters("AssumeRole") if "TokenCode" in call} == {MFA}

    # The AWS CLI on our cache, and we on the AWS CLI's: no code, no purchase.
    sts.reset()
    for profile, _ in WALK:
        assert aws_identity(aws_cli, corpus["ours"], profile) == (expected[profile], 0), profile
        done = run_cli(corpus["aws"], "use", "any", "--profile", profile, "--no-prompt")
        assert done.returncode == 0, (profile, done.stderr)
    assert [a for a, _ in sts.calls if a != "GetCallerIdentity"] == []

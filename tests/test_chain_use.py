"""`stage use` on chains and sources without a terminal: what the environment holds never
chooses the source, a chain needs one code, and every failure is one line before a code is spent."""

import re

import pytest

from conftest import run_cli
from geodesic_stage import cachekeys
from geodesic_stage.model import Profile
from test_integration import assert_one_line_error

CODE = "123456"
MFA = "arn:aws:iam::323330167063:mfa/admin@cloudposse.co"
SOURCE_KEY = "AKIAIOSFODNN7EXAMPLE"
only_single = pytest.mark.parametrize("topology", ["single"])
# Cloud Posse's identity-account layout: the team role, then the stage's role from it.
CHAIN = f"""
[profile cpco-identity-admin]
region = us-west-2
role_arn = arn:aws:iam::323330167063:role/cpco-identity-admin
mfa_serial = {MFA}
source_profile = cpco

[profile cpco-testing-terraform]
region = us-west-2
role_arn = arn:aws:iam::126450723953:role/cpco-testing-terraform
source_profile = cpco-identity-admin
"""


def add_config(home, text: str) -> None:
    config = home / ".aws" / "config"
    config.write_text(config.read_text() + text)


def signers(sts, action: str) -> list:
    return [(call["Action"], call["WithSessionToken"]) for call in sts.parameters(action)]


@only_single
@pytest.mark.parametrize(
    "preset",
    [
        {"AWS_PROFILE": "nonexistent"},
        {"AWS_DEFAULT_PROFILE": "nonexistent"},
        {"AWS_ACCESS_KEY_ID": "ASIASTALEFROMBEFORE1", "AWS_SECRET_ACCESS_KEY": "stale", "AWS_SESSION_TOKEN": "stale"},
    ],
    ids=["AWS_PROFILE", "AWS_DEFAULT_PROFILE", "stale-keys"],
)
def test_what_the_shell_already_holds_never_chooses_the_source(env, sts, topology, preset):
    done = run_cli(dict(env, **preset), "use", "testing", "--mfa-token", CODE)

    assert done.returncode == 0, done.stderr
    assert signers(sts, "GetSessionToken") == [("GetSessionToken", False)]
    assert "Traceback" not in done.stderr


@only_single
def test_a_role_chain_takes_one_code_without_a_terminal_and_caches_every_link(env, sts, home, topology):
    add_config(home, CHAIN)

    done = run_cli(env, "use", "testing", "--profile", "cpco-testing-terraform", "--mfa-token", CODE)

    assert done.returncode == 0, done.stderr
    assert "AWS_PROFILE=cpco-testing-terraform" in done.stdout
    assert [a for a, _ in sts.calls] == ["GetSessionToken", "AssumeRole", "AssumeRole"]
    assert [p["RoleArn"].rsplit("/", 1)[1] for p in sts.parameters("AssumeRole")] == ["cpco-identity-admin", "cpco-testing-terraform"]
    assert all(p.get("DurationSeconds") == "3600" for p in sts.parameters("AssumeRole"))

    sts.reset()
    again = run_cli(env, "use", "testing", "--profile", "cpco-testing-terraform", "--no-prompt")
    assert again.returncode == 0 and sts.calls == []


@only_single
def test_a_role_chain_with_no_way_to_ask_exits_3_at_once(env, sts, home, topology):
    add_config(home, CHAIN)
    message = assert_one_line_error(run_cli(env, "use", "testing", "--profile", "cpco-testing-terraform", "--no-prompt"), 3)
    assert MFA in message
    assert sts.calls == []


@only_single
def test_temporary_source_keys_put_the_code_into_assume_role_never_get_session_token(env, sts, home, topology):
    (home / ".aws" / "credentials").write_text(
        "[cpco]\naws_access_key_id = ASIATEMPORARYKEYS001\naws_secret_access_key = s\naws_session_token = t\n"
    )

    done = run_cli(env, "use", "testing", "--mfa-token", CODE)

    assert done.returncode == 0, done.stderr
    assert sts.count("GetSessionToken") == 0
    [assumed] = sts.parameters("AssumeRole")
    assert (assumed["TokenCode"], assumed["SerialNumber"], assumed["DurationSeconds"]) == (CODE, MFA, "3600")


@only_single
def test_doctor_says_temporary_source_keys_go_direct(env, sts, home, topology):
    (home / ".aws" / "credentials").write_text(
        "[cpco]\naws_access_key_id = ASIATEMPORARYKEYS001\naws_secret_access_key = s\naws_session_token = t\n"
    )
    done = run_cli(env, "doctor", "--offline")
    assert "starts from temporary keys in [cpco] (aws_session_token)" in done.stdout
    assert "direct mode" in done.stdout


@only_single
@pytest.mark.parametrize(
    "source, exit_code, says",
    [
        ("credential_process = /nonexistent/bin/vault-helper --json", 2, "cannot run 'vault-helper'"),
        ("sso_session = corp\nsso_account_id = 111111111111\nsso_role_name = Admin\n"
         "[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = us-east-1", 3, "aws sso login --sso-session corp"),
    ],
    ids=["credential-process-missing", "sso-without-token"],
)
def test_a_source_that_cannot_give_credentials_is_one_line_and_spends_no_code(env, sts, home, topology, source, exit_code, says):
    (home / ".aws" / "credentials").write_text("")
    add_config(home, f"\n[profile cpco]\n{source}\n")

    message = assert_one_line_error(run_cli(env, "use", "testing", "--mfa-token", CODE), exit_code)

    assert says in message
    assert sts.calls == []


TESTING = {
    "region": "us-west-2",
    "role_arn": "arn:aws:iam::323330167063:role/cpco-root-admin",
    "mfa_serial": MFA,
    "source_profile": "cpco",
}


def stage_section(**settings) -> str:
    return "".join(f"{k} = {v}\n" for k, v in dict(TESTING, **settings).items())


def without_testing(home) -> str:
    """The config with the testing stage's profile taken out."""
    sections = re.split(r"\n(?=\[)", (home / ".aws" / "config").read_text())
    return "\n".join(s for s in sections if not s.startswith("[profile cpco-testing-admin]")) + "\n"


@only_single
@pytest.mark.parametrize(
    "setting, says",
    [
        ({"duration_seconds": "600"}, "duration_seconds = 600 is outside what AWS accepts (900 to 43200 seconds)"),
        ({"region": "us west 2"}, "is not an AWS region name"),
        ({"external_id": "x"}, "external_id must be"),
    ],
)
def test_settings_sts_would_refuse_fail_before_the_code_is_spent(env, sts, home, topology, setting, says):
    (home / ".aws" / "config").write_text(without_testing(home) + "\n[profile cpco-testing-admin]\n" + stage_section(**setting))

    message = assert_one_line_error(run_cli(env, "use", "testing", "--mfa-token", CODE), 2)

    assert says in message
    assert sts.calls == []


@only_single
def test_a_role_profile_only_in_the_credentials_file_is_a_stage(env, sts, home, topology):
    (home / ".aws" / "config").write_text(without_testing(home))
    credentials = home / ".aws" / "credentials"
    credentials.write_text(credentials.read_text() + "\n[cpco-testing-admin]\n" + stage_section())

    done = run_cli(env, "use", "testing", "--mfa-token", CODE)

    assert done.returncode == 0, done.stderr
    assert "AWS_PROFILE=cpco-testing-admin" in done.stdout


@only_single
def test_refresh_of_a_chain_whose_code_goes_direct_never_asks(env, sts, home, topology):
    """The prompt hook's renewal: MFA on the last link of a chain needs a new code, so it says so and stops."""
    add_config(home, f"""
[profile cpco-identity-ops]
region = us-west-2
role_arn = arn:aws:iam::323330167063:role/ops
source_profile = cpco

[profile cpco-sandbox-admin]
region = us-west-2
role_arn = arn:aws:iam::333333333333:role/sandbox
source_profile = cpco-identity-ops
mfa_serial = {MFA}
""")
    # A shell holding the stage, its role credentials about to expire.
    in_stage = dict(
        env, STAGE="sandbox", AWS_PROFILE="cpco-sandbox-admin", AWS_ACCESS_KEY_ID="ASIAEXAMPLEEXPIRING",
        AWS_SECRET_ACCESS_KEY="x", AWS_SESSION_TOKEN="y", AWS_CREDENTIAL_EXPIRATION="2026-01-01T00:00:00Z",
    )

    message = assert_one_line_error(run_cli(in_stage, "refresh"), 3)

    assert MFA in message and "stage use sandbox" in message
    assert sts.calls == []


@only_single
def test_an_mfa_session_bought_with_the_environments_keys_serves_those_keys_only(env, sts, home, topology):
    add_config(home, f"""
[profile cpco-ci-admin]
region = us-west-2
role_arn = arn:aws:iam::888888888888:role/ci
credential_source = Environment
mfa_serial = {MFA}
""")
    for key_id in ("AKIAFIRSTUSERKEYS001", "AKIASECONDUSERKEYS01"):
        keys = dict(env, AWS_ACCESS_KEY_ID=key_id, AWS_SECRET_ACCESS_KEY="s")
        done = run_cli(keys, "use", "ci", "--profile", "cpco-ci-admin", "--mfa-token", CODE)
        assert done.returncode == 0, done.stderr
        (home / ".aws" / "cli" / "cache" / f"{cachekeys.role_key(Profile('cpco-ci-admin', 'arn:aws:iam::888888888888:role/ci', mfa_serial=MFA))}.json").unlink()

    assert sts.count("GetSessionToken") == 2

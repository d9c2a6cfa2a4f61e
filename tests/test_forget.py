"""`stage logout --forget` before lending the laptop (issue 21): afterwards nothing cached buys or serves
credentials, for `stage use` or for `aws --profile`, whatever role the shell's stage was used with, down
every link of every chain, and back to the Identity Center sign-in a chain starts from."""

import re

from conftest import run_aws, run_cli
from sso_support import CONFIG, SSO_REGION, START_URL, sso, sso_env, sso_home, token_path, write_token  # noqa: F401
from test_chain_use import CHAIN, CODE, MFA, add_config, only_single
from test_integration import assert_one_line_error, exported


def served_by_the_aws_cli(env: dict, sts, profile: str) -> bool:
    """Whether `aws --profile PROFILE` answers without assuming a role (that is, from the cache)."""
    before = sts.count("AssumeRole")
    done = run_aws(env, "--profile", profile, "sts", "get-caller-identity")
    return done.returncode == 0 and sts.count("AssumeRole") == before


def forget(env: dict) -> str:
    done = run_cli(env, "logout", "--forget")
    assert done.returncode == 0 and "unset AWS_ACCESS_KEY_ID" in done.stdout, done.stderr
    return done.stderr.strip()


@only_single
def test_the_stage_the_shell_holds_is_forgotten_whatever_role_it_was_used_with(shell, env, sts, home, topology):
    add_config(home, CHAIN)
    s = shell()
    s.child.sendline("stage use testing --role terraform")
    s.answer_mfa(CODE)
    s.prompt()
    assert s.run('echo "$AWS_PROFILE"') == "cpco-testing-terraform"
    assert served_by_the_aws_cli(env, sts, "cpco-testing-terraform"), "the AWS CLI shares the role's cache entry"

    said = s.run("stage logout --forget")

    assert s.run('echo "[${AWS_PROFILE-}]"') == "[]"
    sts.reset()
    assert_one_line_error(run_cli(env, "use", "testing", "--role", "terraform", "--no-prompt"), 3)
    assert sts.calls == []
    assert not served_by_the_aws_cli(env, sts, "cpco-testing-terraform")
    # Both links of its chain through the identity account's role, and the MFA session.
    assert said == "geodesic-stage: forgot 3 cached session(s)"


@only_single
def test_a_role_another_shell_used_is_forgotten_too(env, sts, home, topology):
    add_config(home, CHAIN)
    assert run_cli(env, "use", "testing", "--role", "terraform", "--mfa-token", CODE).returncode == 0

    said = forget(env)

    assert_one_line_error(run_cli(env, "use", "testing", "--role", "terraform", "--no-prompt"), 3)
    assert not served_by_the_aws_cli(env, sts, "cpco-testing-terraform")
    assert said == "geodesic-stage: forgot 3 cached session(s)"


@only_single
def test_every_link_of_a_chain_through_an_identity_account_is_forgotten(env, sts, home, topology):
    add_config(home, f"""
[profile cpco-identity]
region = us-west-2
role_arn = arn:aws:iam::323330167063:role/cpco-identity
mfa_serial = {MFA}
source_profile = cpco

[profile cpco-sandbox-admin]
region = us-west-2
role_arn = arn:aws:iam::333333333333:role/sandbox
source_profile = cpco-identity
""")
    used = run_cli(env, "use", "sandbox", "--mfa-token", CODE)
    assert used.returncode == 0, used.stderr
    assert [action for action, _ in sts.calls] == ["GetSessionToken", "AssumeRole", "AssumeRole"]

    said = forget(env)

    sts.reset()
    assert_one_line_error(run_cli(env, "use", "sandbox", "--no-prompt"), 3)
    assert sts.calls == []
    assert not served_by_the_aws_cli(env, sts, "cpco-identity")
    # The identity link, the stage's link, the MFA session.
    assert said == "geodesic-stage: forgot 3 cached session(s)"


@only_single
def test_a_role_the_stages_file_gives_the_shells_profile_is_forgotten_too(env, sts, home, topology, tmp_path):
    """The shell's stage is forgotten as it was used, though no profile in the config names its role."""
    add_config(home, f"\n[profile cpco-testing-terraform]\nregion = us-west-2\nmfa_serial = {MFA}\nsource_profile = cpco\n")
    stages = tmp_path / "stages.conf"
    stages.write_text("namespace = cpco\n[stages]\n[[testing]]\nrole_arn = arn:aws:iam::323330167063:role/cpco-testing-terraform\n")
    env = dict(env, GEODESIC_STAGE_CONFIG=str(stages))
    used = run_cli(env, "use", "testing", "--role", "terraform", "--mfa-token", CODE)
    assert used.returncode == 0, used.stderr

    said = forget(dict(env, **exported(env, used.stdout)))

    assert_one_line_error(run_cli(env, "use", "testing", "--role", "terraform", "--no-prompt"), 3)
    assert said == "geodesic-stage: forgot 2 cached session(s)"


# A stage whose profile is chained from an Identity Center profile, and no stage that signs in directly.
SSO_CHAIN = "\n".join(
    section for section in re.split(r"\n(?=\[)", CONFIG)
    if section.startswith(("[sso-session ", "[profile acme-identity-sso]", "[profile acme-testing-terraform]"))
).replace("acme-testing-terraform", "acme-testing-admin")


def test_the_identity_center_sign_in_behind_a_chained_stage_is_forgotten_and_signed_out(sso_env, sso_home, sso, sts):
    (sso_home / ".aws" / "config").write_text(SSO_CHAIN)
    token = sso.cli_token(START_URL, SSO_REGION)
    write_token(sso_home, token)
    used = run_cli(sso_env, "use", "testing", "--no-prompt")
    assert used.returncode == 0, used.stderr

    said = forget(dict(sso_env, **exported(sso_env, used.stdout)))

    assert not token_path(sso_home).exists()
    assert list((sso_home / ".aws" / "cli" / "cache").glob("*.json")) == []
    assert sso.count("Logout") == 1 and not sso._valid_token(token["accessToken"])
    sts.reset()
    assert_one_line_error(run_cli(sso_env, "use", "testing", "--no-prompt"), 3)
    assert run_aws(sso_env, "--profile", "acme-testing-admin", "sts", "get-caller-identity").returncode != 0
    assert sts.count("AssumeRole") == 0
    # The stage's role, the SSO root's role credentials, the sign-in.
    assert said == "geodesic-stage: forgot 3 cached session(s)"

"""`init --topology sso` writes one profile per account the Identity Center sign-in sees with the
permission set, and the [sso-session] they share; every other byte of the file stays."""

import json

from conftest import run_aws, run_cli
from sso_support import SSO_REGION, START_URL, sso, sso_env, sso_home, write_token  # noqa: F401

OTHER = """# my own settings
[default]
region = eu-central-1

[profile personal]
aws_access_key_id = AKIAPERSONAL
aws_secret_access_key = secret ; keep
"""

ARGS = ("init", "--topology", "sso", "--sso-session", "acme", "--sso-start-url", START_URL,
        "--sso-region", SSO_REGION, "--sso-role", "AdministratorAccess", "--region", "us-west-2")


def test_init_writes_a_profile_per_account_and_keeps_every_other_byte(sso_env, sso_home, sso):
    config = sso_home / ".aws" / "config"
    config.write_text(OTHER)
    write_token(sso_home, sso.cli_token(START_URL, SSO_REGION))
    done = run_cli(sso_env, *ARGS)
    assert done.returncode == 0, done.stderr
    text = config.read_text()
    assert text.startswith(OTHER)
    assert text[len(OTHER):] == (
        "\n[sso-session acme]\nsso_start_url=https://acme.awsapps.com/start\nsso_region=us-east-1\n"
        "sso_registration_scopes=sso:account:access\n"
        "\n[profile acme-prod-admin]\nsso_session=acme\nsso_account_id=222222222222\nsso_role_name=AdministratorAccess\nregion=us-west-2\n"
        "\n[profile acme-root-admin]\nsso_session=acme\nsso_account_id=111111111111\nsso_role_name=AdministratorAccess\nregion=us-west-2\n"
        "\n[profile acme-testing-admin]\nsso_session=acme\nsso_account_id=333333333333\nsso_role_name=AdministratorAccess\nregion=us-west-2\n"
    )
    assert sso.count("ListAccounts") == 2  # two pages of the fake's three accounts
    # A second run changes nothing; the AWS CLI and stage use both take the profiles.
    again = run_cli(sso_env, *ARGS)
    assert again.returncode == 0 and config.read_text() == text
    assert json.loads(run_cli(sso_env, "list", "--json").stdout)[0]["stage"] == "prod"
    who = run_aws(sso_env, "--profile", "acme-testing-admin", "sts", "get-caller-identity", "--output", "json")
    assert json.loads(who.stdout)["Account"] == "333333333333"
    assert run_cli(sso_env, "use", "root", "--no-prompt").returncode == 0


def test_init_only_writes_accounts_with_the_permission_set_and_dry_run_shows_the_diff(sso_env, sso_home, sso):
    config = sso_home / ".aws" / "config"
    config.write_text(OTHER)
    write_token(sso_home, sso.cli_token(START_URL, SSO_REGION))
    args = [a if a != "AdministratorAccess" else "ReadOnlyAccess" for a in ARGS]
    done = run_cli(sso_env, *args, "--dry-run")
    assert done.returncode == 0, done.stderr
    assert config.read_text() == OTHER
    added = [line for line in done.stdout.splitlines() if line.startswith("+[")]
    assert added == ["+[sso-session acme]", "+[profile acme-prod-admin]", "+[profile acme-root-admin]"]


def test_init_without_a_sign_in_or_a_terminal_exits_3(sso_env, sso_home, sso):
    done = run_cli(sso_env, *ARGS)
    assert done.returncode == 3 and "run this init in a terminal" in done.stderr
    assert sso.count("StartDeviceAuthorization") == 0


def test_init_with_an_unknown_permission_set_names_the_ones_there_are(sso_env, sso_home, sso):
    write_token(sso_home, sso.cli_token(START_URL, SSO_REGION))
    args = [a if a != "AdministratorAccess" else "Billing" for a in ARGS]
    done = run_cli(sso_env, *args)
    assert done.returncode == 2
    assert "AdministratorAccess, ReadOnlyAccess" in done.stderr


def test_doctor_shows_each_sign_in_and_checks_assignments_online(sso_env, sso_home, sso):
    config = sso_home / ".aws" / "config"
    config.write_text(config.read_text().replace(
        "sso_account_id = 222222222222\nsso_role_name = AdministratorAccess",
        "sso_account_id = 222222222222\nsso_role_name = Billing",
    ) + "\n[profile acme-mixed-admin]\nrole_arn = arn:aws:iam::333333333333:role/x\nsso_role_name = Admin\nsource_profile = acme-identity-sso\n")
    offline = run_cli(sso_env, "doctor", "--offline")
    assert "identity center: sso-session acme at https://acme.awsapps.com/start in us-east-1: signed out" in offline.stdout
    assert "warning: not signed in to Identity Center (sso-session acme); fix: run 'stage use" in offline.stdout
    assert "legacy" in offline.stdout  # the legacy start URL is a sign-in of its own
    assert "profile acme-mixed-admin has role_arn and sso_role_name" in offline.stdout

    write_token(sso_home, sso.cli_token(START_URL, SSO_REGION))
    online = run_cli(sso_env, "doctor")
    assert "sso-session acme at https://acme.awsapps.com/start in us-east-1: signed in, 4" in online.stdout
    assert "error: profile acme-prod-admin: permission set Billing is not yours in account 222222222222 (acme-prod); " \
           "yours there: AdministratorAccess, ReadOnlyAccess" in online.stdout
    assert "acme-testing-admin" not in online.stdout
    assert online.returncode == 1 and "Traceback" not in online.stderr

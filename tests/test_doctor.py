"""`geodesic-stage doctor`: one line per finding with its fix; exit 1 on any error, 0 on warnings only."""

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from conftest import BIN, FakeClock, clean_environ, run_cli
from geodesic_stage.config import chain
from geodesic_stage.doctor import profiles as doctor
from geodesic_stage.errors import ConfigError
from geodesic_stage.model import Profile
from sso_support import SSO_REGION, START_URL, sso, sso_env, sso_home, write_token  # noqa: F401
from test_init import GOLDEN, TOPOLOGIES

DATA = Path(__file__).resolve().parent / "data"
ROOT_ROLE = "arn:aws:iam::323330167063:role/cpco-root-admin"


@pytest.fixture
def user(tmp_path, sts):
    """A user whose AWS config is given by the test: `user(config_text, stages=None)` gives the env."""
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "credentials").write_text((DATA / "credentials").read_text())

    def make(config: str, stages: str = None) -> dict:
        (home / ".aws" / "config").write_text(config)
        if stages is not None:
            (home / ".config" / "geodesic").mkdir(parents=True)
            (home / ".config" / "geodesic" / "stages.conf").write_text(stages)
        return dict(
            clean_environ(), HOME=str(home), AWS_ENDPOINT_URL_STS=sts.url, AWS_EC2_METADATA_DISABLED="true",
            PYTHONDONTWRITEBYTECODE="1",
        )

    make.home = home
    make.config = home / ".aws" / "config"
    return make


def golden(name: str, *edits) -> str:
    text = GOLDEN[name].read_text()
    for old, new in edits:
        assert old in text
        text = text.replace(old, new, 1)
    return text


@pytest.mark.parametrize("name", TOPOLOGIES)
def test_a_config_init_wrote_is_ok_including_the_clock(user, sts, name):
    env = user(golden(name))
    result = run_cli(env, "doctor")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == (
        f"ok: 4 stages (prod, root, staging, testing) in {user.config}, "
        f"topology {name} (inferred from the profiles); no problems found\n"
    )
    assert sts.count("GetCallerIdentity") == 1


def test_source_keys_sts_does_not_know_are_an_error_that_names_the_profile_not_the_keys(user, sts):
    """Rotated or deleted keys: STS refuses them, and doctor says which profile to fix."""
    env = user(golden("organization"))
    sts.unknown_keys = {"AKIAIOSFODNN7EXAMPLE"}

    result = run_cli(env, "doctor")

    assert result.returncode == 1
    assert result.stdout.splitlines()[0] == (
        "error: STS refused the keys of source profile 'cpco' (InvalidClientTokenId); "
        f"fix: check or rotate the keys under [cpco] in {user.home / '.aws' / 'credentials'}"
    )
    assert "AKIAIOSFODNN7EXAMPLE" not in result.stdout + result.stderr
    assert "wJalrXUtnFEMI" not in result.stdout + result.stderr


def test_single_declared_by_the_stages_file_catches_the_old_aws_config_setup_mistake(user):
    """geodesic's aws-config-setup gave each stage its own role name in the one account."""
    env = user(
        golden(
            "single",
            ("[profile cpco-staging-admin]\nregion=us-west-2\nrole_arn=arn:aws:iam::323330167063:role/cpco-root-admin\nmfa_serial=arn:aws:iam::323330167063:",
             "[profile cpco-staging-admin]\nregion=us-west-2\nrole_arn=arn:aws:iam::323330167063:role/cpco-root-admin\nmfa_serial=arn:aws:iam::215480124567:"),
            ("[profile cpco-testing-admin]\nregion=us-west-2\nrole_arn=arn:aws:iam::323330167063:role/cpco-root-admin",
             "[profile cpco-testing-admin]\nregion=us-west-2\nrole_arn=arn:aws:iam::323330167063:role/cpco-testing-admin"),
        ),
        stages="namespace = cpco\ntopology = single\n",
    )
    result = run_cli(env, "doctor", "--offline")
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "error: profile cpco-staging-admin: mfa_serial is in account 215480124567, not the root account 323330167063; "
        "fix: set mfa_serial=arn:aws:iam::323330167063:mfa/admin@cloudposse.co",
        "error: profile cpco-testing-admin assumes arn:aws:iam::323330167063:role/cpco-testing-admin; in the single "
        f"topology every stage assumes {ROOT_ROLE}; fix: set role_arn={ROOT_ROLE}",
        "2 error(s), 0 warning(s)",
    ]


def test_organization_inferred_catches_a_member_off_its_access_role_and_a_shared_account(user):
    env = user(golden(
        "organization",
        ("[profile cpco-root-admin]\nregion=us-west-2\n", "[profile cpco-root-admin]\n"),
        ("arn:aws:iam::845490276530:role/OrganizationAccountAccessRole", "arn:aws:iam::845490276530:role/cpco-prod-admin"),
        ("arn:aws:iam::215480124567:role/OrganizationAccountAccessRole", "arn:aws:iam::126450723953:role/OrganizationAccountAccessRole"),
    ))
    result = run_cli(env, "doctor", "--offline")
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "warning: profile cpco-root-admin has no region; fix: add region=REGION (e.g. us-west-2) to the profile",
        "error: profile cpco-prod-admin assumes arn:aws:iam::845490276530:role/cpco-prod-admin; in an organization each "
        "member stage assumes OrganizationAccountAccessRole; "
        "fix: set role_arn=arn:aws:iam::845490276530:role/OrganizationAccountAccessRole",
        "error: profile cpco-testing-admin is in account 126450723953, which stage 'staging' already uses; in the "
        "organization topology each stage has an account of its own; "
        "fix: set role_arn to a role in this stage's own account (one account for all is the single topology)",
        "2 error(s), 1 warning(s)",
    ]


def test_accounts_catches_the_access_role_a_bad_arn_and_a_missing_secret_without_printing_keys(user):
    env = user(golden(
        "accounts",
        ("arn:aws:iam::845490276530:role/cpco-prod-admin", "arn:aws:iam::84549027653:role/cpco-prod-admin"),
        ("arn:aws:iam::126450723953:role/cpco-testing-admin", "arn:aws:iam::126450723953:role/OrganizationAccountAccessRole"),
    ))
    credentials = user.home / ".aws" / "credentials"
    credentials.write_text("[cpco]\naws_access_key_id=AKIAIOSFODNN7EXAMPLE\n")
    result = run_cli(env, "doctor", "--topology", "accounts")
    assert result.returncode == 1, result.stderr
    assert not result.stderr, result.stderr
    assert result.stdout.splitlines() == [
        "error: profile cpco-prod-admin: role_arn 'arn:aws:iam::84549027653:role/cpco-prod-admin' is not an IAM role "
        "ARN; fix: set role_arn=arn:aws:iam::ACCOUNT_ID:role/ROLE_NAME",
        "error: profile 'cpco' in the credentials file has aws_access_key_id but no aws_secret_access_key; "
        "fix: add aws_secret_access_key to it (aws configure --profile cpco)",
        "error: profile cpco-testing-admin assumes OrganizationAccountAccessRole, which trusts a management account the "
        "accounts topology does not hold; fix: set role_arn=arn:aws:iam::126450723953:role/cpco-testing-admin",
        "warning: clock not checked against STS: no usable source keys to sign the call; fix: fix the source profile first",
        "3 error(s), 1 warning(s)",
    ]
    assert "AKIAIOSFODNN7EXAMPLE" not in result.stdout + result.stderr


def test_warnings_alone_exit_0(user):
    env = user(golden("single", ("[profile cpco-prod-admin]\nregion=us-west-2\n", "[profile cpco-prod-admin]\n")))
    result = run_cli(env, "doctor", "--offline")
    assert result.returncode == 0
    assert result.stdout.splitlines() == [
        "warning: profile cpco-prod-admin has no region; fix: add region=REGION (e.g. us-west-2) to the profile",
        "0 error(s), 1 warning(s)",
    ]


def test_namespace_and_stage_in_the_environment_must_match_a_profile(user):
    env = dict(user(golden("single")), NAMESPACE="acme", STAGE="qa")
    result = run_cli(env, "doctor", "--offline")
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"error: NAMESPACE=acme matches no profile in {user.config} (found cpco-prod-admin, cpco-root-admin, "
        "cpco-staging-admin, cpco-testing-admin); fix: set NAMESPACE (or --namespace, or namespace in the stages "
        "file) to the namespace of these profiles",
        "error: STAGE=qa is not a stage here (stages: prod, root, staging, testing); fix: export STAGE as one of "
        "them, or add that stage with 'geodesic-stage init --stage NAME=ACCOUNT_ID'",
        "2 error(s), 0 warning(s)",
    ]


def test_aws_config_file_pointing_nowhere_is_an_error(user, tmp_path):
    env = dict(user(golden("single")), AWS_CONFIG_FILE=str(tmp_path / "nowhere"))
    result = run_cli(env, "doctor", "--offline")
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"error: AWS_CONFIG_FILE={tmp_path / 'nowhere'} does not exist; fix: point AWS_CONFIG_FILE at your AWS config "
        "file, or unset it to use ~/.aws/config",
        "1 error(s), 0 warning(s)",
    ]


def test_a_cache_others_can_read_is_an_error(user):
    env = user(golden("organization"))
    directory = user.home / ".aws" / "cli" / "cache"
    directory.mkdir(parents=True)
    directory.chmod(0o755)
    (directory / "0123abcd.json").write_text("{}")
    (directory / "0123abcd.json").chmod(0o644)
    result = run_cli(env, "doctor", "--offline")
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"error: {directory} is open to others (mode 755); fix: chmod 700 {directory}",
        f"error: 1 cache file(s) in {directory} open to others (0123abcd.json); fix: chmod 600 {directory}/*.json",
        "2 error(s), 0 warning(s)",
    ]


def cache_as_the_aws_cli_v2_makes_it(directory: Path) -> None:
    """An entry written by the AWS CLI v2's own JSONFileCache (Debian's awscli): it makes the folders
    with the default mode (0755 under umask 022) and each file 0600."""
    assert Path("/usr/bin/aws").exists(), "Debian's awscli (the AWS CLI v2) is not installed (apt-get install awscli)"
    subprocess.run(
        ["/usr/bin/python3", "-W", "ignore", "-c",
         "import sys; from awscli.botocore.utils import JSONFileCache; JSONFileCache(sys.argv[1])['entry'] = {}",
         str(directory)],
        check=True, preexec_fn=lambda: os.umask(0o022),
    )


def test_the_aws_cli_v2s_cache_folders_others_can_list_are_a_warning_that_says_why(user):
    env = user(golden("organization"))
    folders = [user.home / ".aws" / "cli" / "cache", user.home / ".aws" / "sso" / "cache"]
    for folder in folders:
        cache_as_the_aws_cli_v2_makes_it(folder)
        assert (folder.stat().st_mode & 0o777, (folder / "entry.json").stat().st_mode & 0o777) == (0o755, 0o600)

    result = run_cli(env, "doctor", "--offline")
    assert result.returncode == 0, result.stdout
    assert result.stdout.splitlines() == [
        f"warning: others can list {folder} (mode 755, as the AWS CLI v2 makes it): they see the file names, not the "
        f"credentials (no file in it is open to others); fix: nothing needs doing; chmod 700 {folder} hides the names too"
        for folder in folders
    ] + ["0 error(s), 2 warning(s)"]


@pytest.mark.parametrize("folder, mode", [("cli/cache", 0o775), ("cli/cache/geodesic-stage", 0o755)],
                         ids=["aws-cli-cache-others-can-write", "our-own-folder"])
def test_a_cache_folder_others_can_write_or_our_own_open_to_others_is_still_an_error(user, folder, mode):
    env = user(golden("organization"))
    directory = user.home / ".aws" / folder
    directory.mkdir(parents=True)
    directory.chmod(mode)
    result = run_cli(env, "doctor", "--offline")
    assert result.returncode == 1
    assert f"error: {directory} is open to others (mode {mode:o}); fix: chmod 700 {directory}" in result.stdout.splitlines()


def shifted_clock(env: dict, shift: str, seconds: int) -> dict:
    """env with libfaketime moving the clock by `shift`; fails unless a process started with it
    really reads a clock `seconds` off (a preload the loader ignores would shift nothing)."""
    assert FakeClock.LIBRARY, "libfaketime is not installed (apt-get install libfaketime)"
    env = dict(env, LD_PRELOAD=FakeClock.LIBRARY, FAKETIME=shift, FAKETIME_DONT_FAKE_MONOTONIC="1")
    before = time.time()
    seen = float(subprocess.run([sys.executable, "-c", "import time; print(time.time())"], env=env,
                                capture_output=True, text=True, check=True).stdout)
    assert abs(seen - before - seconds) < 30, f"libfaketime moved the clock by {seen - before:.0f} s, not {seconds} s"
    return env


@pytest.mark.parametrize("shift, says", [("+10m", "ahead of"), ("-10m", "behind")])
def test_a_clock_ten_minutes_off_from_motos_date_header_is_an_error(user, moto_url, shift, says):
    """Docker on a laptop drifts; this shell's clock is moved, moto's is the true one."""
    env = shifted_clock(dict(user(golden("single")), AWS_ENDPOINT_URL_STS=moto_url), shift, 600 if shift[0] == "+" else -600)
    result = run_cli(env, "doctor")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 2 and lines[1] == "1 error(s), 0 warning(s)"
    # STS's Date is cut to the second and the call takes time: ten minutes, give or take a second.
    assert re.match(r"error: this clock is (10 min [01]|9 min 59) s ", lines[0]), lines[0]
    assert lines[0].endswith(
        f" s {says} STS (AWS rejects signatures more than 5 minutes off); "
        "fix: sync the clock (timedatectl set-ntp true; on a laptop, restart Docker Desktop)"
    )


def test_a_clock_four_minutes_off_is_within_what_aws_accepts(user, moto_url):
    env = shifted_clock(dict(user(golden("single")), AWS_ENDPOINT_URL_STS=moto_url), "-4m", -240)
    result = run_cli(env, "doctor")
    assert result.returncode == 0, result.stdout
    assert result.stdout.startswith("ok: 4 stages")


def test_sts_out_of_reach_is_an_error_that_offline_skips(user):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    env = dict(user(golden("single")), AWS_ENDPOINT_URL_STS=closed)
    result = run_cli(env, "doctor")
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"error: cannot reach STS at {closed} (EndpointConnectionError); "
        "fix: check the network or AWS_ENDPOINT_URL_STS, or pass --offline",
        "1 error(s), 0 warning(s)",
    ]
    assert run_cli(env, "doctor", "--offline").returncode == 0


# What doctor calls an MFA device is what the chain's own check (and so `stage use`) takes.

MFA = "arn:aws:iam::323330167063:mfa/admin@cloudposse.co"


@given(st.text(st.sampled_from("GAHT0123456789arn:aws-iam/mfa@.+=, \u00e9"), max_size=40))
@example("GAHT12345678")
@example(MFA)
@example("short")
def test_doctor_takes_the_mfa_serials_the_chains_check_takes(serial):
    profile = Profile(name="s", role_arn=ROOT_ROLE, source_profile="cpco", mfa_serial=serial, region="us-west-2")
    links = chain.Chain(chain.Source("cpco", chain.STATIC), (chain.RoleLink("s", ROOT_ROLE, mfa_serial=serial),))
    doctor_refuses = any("mfa_serial" in f.message for f in doctor.check_profiles({"testing": profile}, {}, {"testing": links}))
    try:
        chain.check(links)
        chain_refuses = False
    except ConfigError:
        chain_refuses = True
    assert doctor_refuses == chain_refuses


def test_a_hardware_tokens_serial_number_is_an_mfa_device_for_doctor_use_and_the_aws_cli(user, sts):
    """A hardware token (Gemalto's GAHT...) is named by its serial number, not an ARN; STS takes it."""
    env = user(golden("organization").replace(f"mfa_serial={MFA}", "mfa_serial=GAHT12345678"))
    assert "GAHT12345678" in user.config.read_text()

    checked = run_cli(env, "doctor", "--offline")
    assert checked.returncode == 0 and checked.stdout.startswith("ok: 4 stages"), checked.stdout
    used = run_cli(env, "use", "testing", "--mfa-token", "123456")
    assert used.returncode == 0, used.stderr
    assert [call["SerialNumber"] for call in sts.parameters("GetSessionToken")] == ["GAHT12345678"]
    theirs = subprocess.run(
        [str(BIN / "aws"), "--profile", "cpco-prod-admin", "sts", "get-caller-identity"], env=env, input="123456\n",
        capture_output=True, text=True, timeout=60, start_new_session=True,
    )
    assert theirs.returncode == 0, theirs.stderr
    assert [call["SerialNumber"] for call in sts.parameters("AssumeRole") if "TokenCode" in call] == ["GAHT12345678"]


def aws_with_code(env: dict, profile: str) -> subprocess.CompletedProcess:
    """`aws --profile PROFILE sts get-caller-identity`, the MFA code on stdin where it asks (no terminal: getpass reads there)."""
    return subprocess.run(
        [str(BIN / "aws"), "--profile", profile, "sts", "get-caller-identity", "--output", "json"], env=env,
        input="123456\n" * 3, capture_output=True, text=True, timeout=60, start_new_session=True,
    )


# Chains are judged by their root, as `stage use` judges them.

IDENTITY_CHAIN = """
# Cloud Posse's identity account: its team role (the users and their MFA devices live there), then each stage's role.
[profile cpco-identity-admin]
region=us-west-2
role_arn=arn:aws:iam::111111111111:role/cpco-identity-admin
mfa_serial=arn:aws:iam::111111111111:mfa/admin@cloudposse.co
source_profile=cpco

[profile cpco-root-admin]
region=us-west-2
role_arn=arn:aws:iam::323330167063:role/cpco-root-admin
source_profile=cpco-identity-admin

[profile cpco-prod-admin]
region=us-west-2
role_arn=arn:aws:iam::845490276530:role/cpco-prod-admin
source_profile=cpco-identity-admin

[profile cpco-testing-admin]
region=us-west-2
role_arn=arn:aws:iam::126450723953:role/cpco-testing-admin
source_profile=cpco-identity-admin
"""


def test_stages_chained_through_an_identity_role_are_ok_as_for_use_and_the_aws_cli(user, sts):
    env = user(IDENTITY_CHAIN)

    checked = run_cli(env, "doctor")
    assert checked.returncode == 0, checked.stdout
    assert checked.stdout == (
        f"ok: 4 stages (identity, prod, root, testing) in {user.config}, "
        "topology chained (through cpco-identity-admin; checked link by link); no problems found\n"
    )
    used = run_cli(env, "use", "testing", "--mfa-token", "123456")
    assert used.returncode == 0, used.stderr
    theirs = aws_with_code(env, "cpco-prod-admin")
    assert theirs.returncode == 0, theirs.stderr


def test_a_chained_layout_declared_as_one_of_the_three_topologies_is_checked_as_one(user):
    """The declaration is the user's word: the users' devices then belong in the root account."""
    env = user(IDENTITY_CHAIN, stages="namespace = cpco\ntopology = accounts\n")
    checked = run_cli(env, "doctor", "--offline")
    assert checked.returncode == 1
    assert "error: profile cpco-identity-admin: mfa_serial is in account 111111111111, not the root account 323330167063" in checked.stdout


def test_a_chain_whose_root_holds_no_keys_is_an_error_naming_the_root_as_use_says(user):
    env = user(IDENTITY_CHAIN)
    (user.home / ".aws" / "credentials").write_text("[cpco]\nregion = us-west-2\n")

    checked = run_cli(env, "doctor", "--offline")
    assert checked.returncode == 1
    assert checked.stdout.splitlines()[0] == (
        "error: source profile 'cpco' has no aws_access_key_id or aws_secret_access_key; fix: add aws_access_key_id and "
        f"aws_secret_access_key under [cpco] in {user.home / '.aws' / 'credentials'} (aws configure --profile cpco)"
    )
    used = run_cli(env, "use", "testing", "--mfa-token", "123456")
    assert used.returncode == 2 and "'cpco'" in used.stderr and "holds no credentials" in used.stderr, used.stderr


def test_stages_chained_from_identity_center_need_no_mfa_serial(sso_env, sso_home, sso):
    """acme-testing-terraform: a role assumed from a permission set's credentials; the sign-in is the second factor."""
    checked = run_cli(sso_env, "doctor", "--role", "terraform", "--offline")
    assert checked.returncode == 0, checked.stdout
    assert checked.stdout.startswith("ok: 2 stages (prod, testing)"), checked.stdout

    write_token(sso_home, sso.cli_token(START_URL, SSO_REGION))
    assert run_cli(sso_env, "use", "testing", "--role", "terraform", "--no-prompt").returncode == 0
    assert aws_with_code(sso_env, "acme-testing-terraform").returncode == 0


@pytest.mark.parametrize("root, needs_mfa", [
    (chain.Source("cpco", chain.STATIC, file="credentials"), True),
    (chain.Source("cpco", chain.STATIC, file=chain.KEY_STORE), True),
    (chain.Source("cpco", chain.PROCESS), True),
    (chain.Source("cpco", chain.SSO), False),
    (chain.Source("cpco", chain.LOGIN), False),
    (chain.Source("cpco", chain.STATIC, temporary=True, file="credentials"), False),
], ids=lambda value: value if isinstance(value, bool) else f"{value.kind}-{value.file}-{value.temporary}")
def test_an_mfa_device_is_asked_of_chains_that_may_start_from_an_iam_users_keys(root, needs_mfa):
    profile = Profile(name="s", role_arn=ROOT_ROLE, source_profile="id", region="us-west-2")
    for first in (None, MFA):  # MFA on no link, then on the first of two
        links = chain.Chain(root, (chain.RoleLink("id", ROOT_ROLE, mfa_serial=first), chain.RoleLink("s", ROOT_ROLE)))
        found = [f.message for f in doctor.check_profiles({"testing": profile}, {}, {"testing": links})]
        assert found == (["profile s has no mfa_serial"] if needs_mfa and not first else [])

"""`geodesic-stage init`: every stage's profile for a topology, and not one other byte changed."""

import os
import shlex
import stat
import tempfile
from pathlib import Path
from unittest import mock

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import clean_environ, run_cli
from geodesic_stage import cli
from test_topology import ACCOUNTS

DATA = Path(__file__).resolve().parent / "data"
GOLDEN = {
    "single": DATA / "single.config",
    "organization": DATA / "organization.config",
    "accounts": DATA / "golden" / "accounts.config",
}
TOPOLOGIES = sorted(GOLDEN)
# Who each stage is after `stage use`, per topology: (account, role), written out by hand from the spec.
ROOT_ADMIN = ("323330167063", "cpco-root-admin")
IDENTITIES = {
    "single": {"root": ROOT_ADMIN, "prod": ROOT_ADMIN, "staging": ROOT_ADMIN, "testing": ROOT_ADMIN},
    "organization": {
        "root": ROOT_ADMIN,
        "prod": ("845490276530", "OrganizationAccountAccessRole"),
        "staging": ("215480124567", "OrganizationAccountAccessRole"),
        "testing": ("126450723953", "OrganizationAccountAccessRole"),
    },
    "accounts": {
        "root": ROOT_ADMIN,
        "prod": ("845490276530", "cpco-prod-admin"),
        "staging": ("215480124567", "cpco-staging-admin"),
        "testing": ("126450723953", "cpco-testing-admin"),
    },
}


def golden_profiles(name: str) -> dict:
    """The golden file's profiles, name -> their text as init writes it, in file order."""
    blocks = GOLDEN[name].read_text().split("\n\n")
    return {block.split("\n", 1)[0][len("[profile "):-1]: block.rstrip("\n") + "\n" for block in blocks}


def init_args(name: str, *extra: str) -> list:
    """`init` for the cloudposse example team in the given topology."""
    stages = [f"{s}={a}" if name != "single" else s for s, a in ACCOUNTS.items()]
    return [
        "init", "--topology", name, "--namespace", "cpco", "--region", "us-west-2",
        "--root-account-id", "323330167063", "--mfa-user", "admin@cloudposse.co", "--source-profile", "cpco",
        *(f"--stage={s}" for s in stages), *extra,
    ]


@pytest.fixture
def user(tmp_path, sts):
    """A user with long-lived keys for `cpco` and no AWS config yet."""
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "credentials").write_text((DATA / "credentials").read_text())
    env = dict(
        clean_environ(), HOME=str(home), AWS_ENDPOINT_URL_STS=sts.url, AWS_EC2_METADATA_DISABLED="true",
        PYTHONDONTWRITEBYTECODE="1",
    )
    return home, env


@pytest.mark.parametrize("name", TOPOLOGIES)
def test_init_writes_the_golden_profiles_of_each_topology(user, name):
    home, env = user
    result = run_cli(env, *init_args(name))
    assert result.returncode == 0, result.stderr
    config = home / ".aws" / "config"
    assert config.read_bytes() == GOLDEN[name].read_bytes()
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert "4 profiles added (cpco-root-admin, cpco-prod-admin, cpco-staging-admin, cpco-testing-admin), 0 changed, 0 kept;" in result.stderr


def test_a_second_identical_run_changes_nothing_and_says_so(user):
    home, env = user
    assert run_cli(env, *init_args("single")).returncode == 0
    before = (home / ".aws" / "config").stat()
    again = run_cli(env, *init_args("single"))
    assert again.returncode == 0
    assert "already holds these 4 profiles; nothing to change" in again.stderr
    after = (home / ".aws" / "config").stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_init_replaces_our_profiles_in_place_and_keeps_everything_else(user):
    """A config written by hand: comments, odd spacing, other sections; testing and root are stale."""
    home, env = user
    config = home / ".aws" / "config"
    config.write_text((DATA / "golden" / "mixed-before.config").read_text())
    config.chmod(0o640)
    result = run_cli(env, *init_args("single"))
    assert result.returncode == 0, result.stderr
    assert config.read_bytes() == (DATA / "golden" / "mixed-after.config").read_bytes()
    assert stat.S_IMODE(config.stat().st_mode) == 0o640
    assert "2 profiles added (cpco-prod-admin, cpco-staging-admin), 2 changed (cpco-root-admin, cpco-testing-admin), 0 kept;" in result.stderr


def test_dry_run_prints_a_unified_diff_and_writes_nothing(user):
    home, env = user
    config = home / ".aws" / "config"
    config.write_text((DATA / "organization.config").read_text())
    result = run_cli(env, *init_args("single", "--dry-run"))
    assert result.returncode == 0, result.stderr
    assert config.read_text() == (DATA / "organization.config").read_text()
    assert result.stdout.startswith(f"--- {config}\n+++ {config} (after init)\n@@ ")
    assert "-role_arn=arn:aws:iam::126450723953:role/OrganizationAccountAccessRole\n" in result.stdout
    assert result.stdout.count("+role_arn=arn:aws:iam::323330167063:role/cpco-root-admin\n") == 3


def test_a_profile_edited_by_hand_is_named_and_kept_unless_forced(user):
    home, env = user
    config = home / ".aws" / "config"
    edited = (DATA / "organization.config").read_text().replace(
        "[profile cpco-prod-admin]\n", "[profile cpco-prod-admin]\nduration_seconds = 43200\n"
    )
    config.write_text(edited)
    refused = run_cli(env, *init_args("single"))
    assert refused.returncode == 2
    assert "not overwriting profiles edited by hand: cpco-prod-admin (line 7)" in refused.stderr
    assert "pass --force" in refused.stderr
    assert config.read_text() == edited
    forced = run_cli(env, *init_args("single", "--force"))
    assert forced.returncode == 0, forced.stderr
    assert config.read_text() == GOLDEN["single"].read_text()


def test_missing_inputs_exit_2_naming_the_flags_to_add(user):
    _, env = user
    result = run_cli(env, "init", "--topology", "organization", "--namespace", "cpco", "--stage", "prod=845490276530")
    assert result.returncode == 2
    assert result.stderr == (
        "geodesic-stage: init needs more to go on; add --region REGION, --root-account-id ID, "
        "--mfa-serial ARN (or --mfa-user USER), --source-profile NAME\n"
    )
    no_account = run_cli(env, *init_args("organization"), "--stage", "audit")
    assert no_account.returncode == 2
    assert "stage 'audit' has no account id; add --stage audit=ACCOUNT_ID" in no_account.stderr


def test_the_stages_file_supplies_the_inputs_and_flags_override_it(user):
    home, env = user
    stages = home / ".config" / "geodesic" / "stages.conf"
    stages.parent.mkdir(parents=True)
    stages.write_text(
        "namespace = cpco\ntopology = accounts\nregion = eu-west-1\nroot_account_id = 323330167063\n"
        "mfa_serial = arn:aws:iam::323330167063:mfa/admin@cloudposse.co\nsource_profile = cpco\n[stages]\n"
        + "".join(f"[[{s}]]\naccount_id = {a}\n" for s, a in ACCOUNTS.items())
    )
    result = run_cli(env, "init", "--region", "us-west-2")
    assert result.returncode == 0, result.stderr
    assert (home / ".aws" / "config").read_text() == GOLDEN["accounts"].read_text()


def test_init_checks_the_clusters_and_registries_of_the_stages_file_and_names_them(user):
    """geodesic's cluster names from a team-wide pattern; a pattern init cannot fill stops it before it writes."""
    home, env = user
    stages = home / ".config" / "geodesic" / "stages.conf"
    stages.parent.mkdir(parents=True)
    team = (
        "eks_cluster_pattern = {namespace}-{environment}-{stage}-eks-cluster\n[stages]\n"
        "[[prod]]\necr = true\n[[staging]]\neks_cluster = legacy\neks_region = eu-west-1\n"
    )
    stages.write_text(team)
    refused = run_cli(env, *init_args("organization"))
    assert refused.returncode == 2
    assert refused.stderr == (
        f"geodesic-stage: {stages}: eks_cluster_pattern uses {{environment}}, which has no value here; "
        "set environment = (e.g. uw2) in the stages file\n"
    )
    assert not (home / ".aws" / "config").exists()

    stages.write_text("environment = uw2\n" + team)
    done = run_cli(env, *init_args("organization"))
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines()[-1] == (
        "geodesic-stage: stage use will also point kubectl and docker at: "
        "root: cluster cpco-uw2-root-eks-cluster (us-west-2); "
        "prod: cluster cpco-uw2-prod-eks-cluster (us-west-2), registry 845490276530.dkr.ecr.us-west-2.amazonaws.com; "
        "staging: cluster legacy (eu-west-1); testing: cluster cpco-uw2-testing-eks-cluster (us-west-2)"
    )


def test_aws_config_file_is_honoured_and_a_symlink_stays_a_symlink(user, tmp_path):
    home, env = user
    real = tmp_path / "dotfiles" / "aws-config"
    real.parent.mkdir()
    real.write_text("[default]\nregion = eu-central-1\n")
    link = tmp_path / "config-link"
    link.symlink_to(real)
    result = run_cli(dict(env, AWS_CONFIG_FILE=str(link)), *init_args("single"))
    assert result.returncode == 0, result.stderr
    assert link.is_symlink()
    assert real.read_text() == "[default]\nregion = eu-central-1\n\n" + GOLDEN["single"].read_text()
    assert not (home / ".aws" / "config").exists()


@pytest.mark.parametrize("name", TOPOLOGIES)
def test_stage_use_works_for_every_stage_init_wrote(user, sts, name):
    """Each stage assumes its topology's role in its account, one MFA code for them all."""
    _, env = user
    assert run_cli(env, *init_args(name)).returncode == 0
    for stage, (account, role) in IDENTITIES[name].items():
        result = run_cli(env, "use", stage, "--mfa-token", "123456")
        assert result.returncode == 0, result.stderr
        exported = dict(shlex.split(line[len("export "):])[0].split("=", 1) for line in result.stdout.splitlines())
        assert (exported["STAGE"], exported["AWS_PROFILE"], exported["AWS_REGION"]) == (stage, f"cpco-{stage}-admin", "us-west-2")
        identity = boto3.client(
            "sts", endpoint_url=sts.url, region_name="us-west-2", aws_access_key_id=exported["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=exported["AWS_SECRET_ACCESS_KEY"], aws_session_token=exported["AWS_SESSION_TOKEN"],
        ).get_caller_identity()
        # moto names the account and role of the ARN it was asked to assume.
        assert identity["Account"] == account
        assert identity["Arn"].startswith(f"arn:aws:sts::{account}:assumed-role/{role}/")
    assert sts.count("GetSessionToken") == 1


# Round trip: hypothesis writes AWS config files a person might keep.
_text = st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\n\r"), max_size=20)
_newline = st.sampled_from(["\n", "\n", "\r\n"])
_comment = st.builds(lambda mark, text, nl: f"{mark}{text}{nl}", st.sampled_from(["#", ";", "  # ", "\t;"]), _text, _newline)
_blank = st.builds(lambda space, nl: space + nl, st.sampled_from(["", "  ", "\t"]), _newline)
_setting = st.builds(
    lambda key, sep, value, nl: f"{key}{sep}{value.strip() or 'x'}{nl}",
    st.sampled_from(["region", "output", "cli_pager", "sso_region", "endpoint_url", "aws_access_key_id"]),
    st.sampled_from(["=", " = ", "  =\t", " ="]),
    _text,
    _newline,
)
_nested = st.just("s3 =\n  endpoint_url = http://127.0.0.1:4566\n  addressing_style = path\n")
_headers = ["[default]", "[sso-session my-sso]", "[services local]", "[profile other]", "[ profile  spaced ]",
            "[profile cpco-prod-admin-old]", "[plugins]"]


@st.composite
def _foreign_section(draw, header):
    lead = draw(st.lists(st.one_of(_comment, _blank), max_size=2))
    keys = draw(st.lists(st.one_of(_setting, _comment, _blank, _nested), max_size=4).filter(_unique_keys))
    return "".join(lead) + header + draw(_newline) + "".join(keys)


def _unique_keys(lines) -> bool:
    keys = [line.split("=")[0].strip() for line in lines if "=" in line and not line.lstrip().startswith(("#", ";"))]
    return len(keys) == len(set(keys))


class Ours(str):
    """The name of one of our profiles, standing for its text in a config."""


@st.composite
def configs(draw):
    """(chunks, ours) where a chunk is text or the name of one of our profiles already in the file."""
    name = draw(st.sampled_from(TOPOLOGIES))
    profiles = [Ours(p) for p in golden_profiles(name)]
    headers = draw(st.permutations(_headers))[: draw(st.integers(0, len(_headers)))]
    chunks = [draw(_foreign_section(h)) for h in headers]
    for profile in draw(st.lists(st.sampled_from(profiles), unique=True, max_size=len(profiles))):
        chunks.insert(draw(st.integers(0, len(chunks))), profile)
    if chunks and not isinstance(chunks[-1], Ours) and draw(st.booleans()):
        chunks[-1] = chunks[-1].rstrip("\n")
    return name, profiles, chunks


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(configs())
def test_init_keeps_every_byte_outside_our_profiles_and_twice_is_a_no_op(case):
    name, profiles, chunks = case
    golden = golden_profiles(name)
    # Our profiles as an earlier init with other inputs wrote them.
    before = "".join(golden[c].replace("us-west-2", "eu-west-1") if isinstance(c, Ours) else c for c in chunks)
    with tempfile.TemporaryDirectory() as home:
        config = Path(home) / "config"
        config.write_bytes(before.encode())
        with mock.patch.dict(os.environ, dict(clean_environ(), HOME=home, AWS_CONFIG_FILE=str(config)), clear=True):
            assert cli.main(init_args(name)) == 0
            after = config.read_bytes().decode()
            assert cli.main(init_args(name)) == 0
            assert config.read_bytes().decode() == after
    kept = "".join(golden[c] if isinstance(c, Ours) else c for c in chunks)
    assert after.startswith(kept)
    added = after[len(kept):]
    present = [c for c in chunks if isinstance(c, Ours)]
    assert added.lstrip("\n") == "\n".join(golden[p] for p in profiles if p not in present)
    assert set(added[: len(added) - len(added.lstrip("\n"))]) <= {"\n"}

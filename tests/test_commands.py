"""Command behaviours a user relies on that no other story covers: profiles without MFA, the
one-hour cap on role sessions from an MFA session, status --verify, env --show, refresh and exec
edge cases, list's error rows, the AssumeRole parameters STS receives, the system stages file."""

import json
import re
import shlex
import subprocess

import pexpect
import pytest

from conftest import BIN, needs_root, run_cli

CODE = "123456"
ANY_TOPOLOGY = pytest.mark.parametrize("topology", ["single"])
TESTING = "[profile cpco-testing-admin]\n"


def exported(block: str) -> dict:
    return dict(shlex.split(line)[1].split("=", 1) for line in block.splitlines() if line.startswith("export "))


def edit_profile(home, drop=(), add=()) -> None:
    """Change the testing profile: drop the lines starting with `drop`, add the lines `add`."""
    config = home / ".aws" / "config"
    text = config.read_text()
    head, _, rest = text.partition(TESTING)
    body, blank, tail = rest.partition("\n\n")
    lines = [line for line in body.splitlines() if not line.startswith(tuple(drop))] + list(add)
    config.write_text(head + TESTING + "\n".join(lines) + blank + tail)


@ANY_TOPOLOGY
def test_a_profile_without_mfa_serial_assumes_its_role_with_the_source_keys_and_asks_nothing(env, topology, sts, home):
    edit_profile(home, drop=["mfa_serial"])
    done = run_cli(env, "use", "testing")
    assert done.returncode == 0, done.stderr
    assert exported(done.stdout)["STAGE"] == "testing"
    assert [a for a, _ in sts.calls] == ["AssumeRole"]
    [call] = sts.parameters("AssumeRole")
    assert "SerialNumber" not in call and "TokenCode" not in call
    assert call["WithSessionToken"] is False, "signed with the long-lived source keys"


@ANY_TOPOLOGY
def test_duration_above_an_hour_is_capped_from_an_mfa_session_but_not_in_direct_mode(env, topology, sts, home):
    assert run_cli(env, "use", "testing", "--mfa-token", CODE, "--duration", "7200").returncode == 0
    [call] = sts.parameters("AssumeRole")
    assert call["DurationSeconds"] == "3600" and call["WithSessionToken"] is True

    for role_file in (home / ".aws" / "cli" / "cache").glob("*.json"):
        role_file.unlink()  # so that the role is assumed again, this time with the code itself
    sts.reset()
    done = run_cli(env, "use", "testing", "--mfa-token", CODE, "--duration", "7200", "--direct")
    assert done.returncode == 0, done.stderr
    [call] = sts.parameters("AssumeRole")
    assert (call["DurationSeconds"], call["TokenCode"]) == ("7200", CODE)


@ANY_TOPOLOGY
def test_status_asks_sts_only_with_verify_and_names_the_assumed_role(env, topology, sts):
    shell = dict(env, **exported(run_cli(env, "use", "testing", "--mfa-token", CODE).stdout))
    sts.reset()
    plain = run_cli(shell, "status")
    assert plain.returncode == 0 and "identity" not in plain.stdout
    assert sts.calls == []

    verified = run_cli(shell, "status", "--verify")
    assert verified.returncode == 0, verified.stderr
    assert re.search(r"^identity +arn:aws:sts::323330167063:assumed-role/cpco-root-admin/\S+$", verified.stdout, re.M)
    assert [a for a, _ in sts.calls] == ["GetCallerIdentity"]


@ANY_TOPOLOGY
def test_env_show_prints_the_keys_to_a_terminal_when_asked(env, topology, sts):
    assert run_cli(env, "use", "testing", "--mfa-token", CODE).returncode == 0
    piped = exported(run_cli(env, "env", "testing").stdout)
    terminal = pexpect.spawn(str(BIN / "geodesic-stage"), ["env", "testing", "--show"], env=env, encoding="utf-8", timeout=60)
    printed = terminal.read().replace("\r\n", "\n")
    terminal.close()
    assert terminal.exitstatus == 0, printed
    assert exported(printed)["AWS_SECRET_ACCESS_KEY"] == piped["AWS_SECRET_ACCESS_KEY"]


@ANY_TOPOLOGY
def test_refresh_without_a_stage_in_use_is_a_usage_error_that_says_what_to_do(env, topology, sts):
    done = run_cli(env, "refresh")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.startswith("geodesic-stage: no stage in use") and "stage use STAGE" in done.stderr
    assert len(done.stderr.splitlines()) == 1
    assert sts.calls == []


@ANY_TOPOLOGY
def test_exec_of_a_command_that_does_not_exist_is_one_line_naming_it(env, topology, sts):
    done = run_cli(env, "exec", "testing", "--mfa-token", CODE, "--", "no-such-command-here", "arg")
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == "geodesic-stage: command not found: no-such-command-here\n"


def stages_file(tmp_path, text: str):
    path = tmp_path / "stages.conf"
    path.write_text(text)
    return str(path)


AUDIT_WITHOUT_PROFILE = "namespace = cpco\n[stages]\n[[audit]]\nprofile = cpco-audit-admin\n"


@ANY_TOPOLOGY
def test_list_json_gives_a_stage_that_cannot_resolve_an_error_row(env, topology, sts, tmp_path):
    env = dict(env, GEODESIC_STAGE_CONFIG=stages_file(tmp_path, AUDIT_WITHOUT_PROFILE))
    done = run_cli(env, "list", "--json")
    assert done.returncode == 0, done.stderr
    rows = {row["stage"]: row for row in json.loads(done.stdout)}
    assert sorted(rows) == ["audit", "prod", "root", "staging", "testing"]
    audit = rows.pop("audit")
    assert {k: v for k, v in audit.items() if k != "error"} == {
        "stage": "audit", "profile": "", "account": "", "role": "", "region": "", "left": None, "current": False,
    }
    assert isinstance(audit["error"], str) and audit["error"] and "\n" not in audit["error"]
    assert all("error" not in row and row["account"] == "323330167063" for row in rows.values())

    table = run_cli(env, "list")
    assert table.returncode == 0
    assert f"geodesic-stage: audit: {audit['error']}" in table.stderr, "the table's empty row says why on stderr"


@ANY_TOPOLOGY
def test_a_stage_whose_profile_is_missing_is_named_with_that_profile(env, topology, sts, tmp_path):
    env = dict(env, GEODESIC_STAGE_CONFIG=stages_file(tmp_path, AUDIT_WITHOUT_PROFILE))
    done = run_cli(env, "use", "audit", "--mfa-token", CODE)
    assert done.returncode == 2
    assert "cpco-audit-admin" in done.stderr and "did you mean 'audit'" not in done.stderr.lower()


@ANY_TOPOLOGY
def test_external_id_and_the_role_session_name_reach_sts(env, topology, sts, home):
    assert run_cli(env, "use", "prod", "--mfa-token", CODE).returncode == 0
    [default] = sts.parameters("AssumeRole")
    assert "ExternalId" not in default
    # With no role_session_name the session is named after the MFA user, as CloudTrail will show it.
    assert default["RoleSessionName"] == "geodesic-stage-admin@cloudposse.co"

    edit_profile(home, add=["external_id = partner-7f3a", "role_session_name = alice"])
    sts.reset()
    done = run_cli(env, "use", "testing")
    assert done.returncode == 0, done.stderr
    [call] = sts.parameters("AssumeRole")
    assert (call["ExternalId"], call["RoleSessionName"]) == ("partner-7f3a", "alice")
    keys = exported(done.stdout)
    identity = json.loads(subprocess.run(
        [str(BIN / "aws"), "sts", "get-caller-identity", "--output", "json"],
        env={k: v for k, v in dict(env, **keys).items() if k != "AWS_PROFILE"},
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    ).stdout)
    assert identity["Arn"].endswith(":assumed-role/cpco-root-admin/alice")


@needs_root
@ANY_TOPOLOGY
def test_the_system_stages_file_is_read_when_the_user_has_none(env, topology, sts, tmp_path):
    """/etc/geodesic/stages.conf, put in place in a mount namespace of this test's own (an overlay on /etc)."""
    system = stages_file(tmp_path, "namespace = cpco\n[stages]\n[[audit]]\naccount_id = 111111111111\nprofile = cpco-testing-admin\n")
    layer = tmp_path / "layer"
    layer.mkdir()
    script = (
        'set -e; mount --make-rprivate /; mount -t tmpfs tmpfs "$1"; mkdir "$1/upper" "$1/work"; '
        'mount -t overlay overlay -o "lowerdir=/etc,upperdir=$1/upper,workdir=$1/work" /etc; '
        'mkdir -p /etc/geodesic; cp "$2" /etc/geodesic/stages.conf; shift 2; exec "$@"'
    )

    def listed(environ):
        done = subprocess.run(
            ["unshare", "--mount", "sh", "-c", script, "-", str(layer), system, str(BIN / "geodesic-stage"), "list", "--json"],
            env=environ, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
        )
        assert done.returncode == 0, done.stderr
        return [row["stage"] for row in json.loads(done.stdout)]

    assert "audit" in listed(env)
    user_file = tmp_path / "home" / ".config" / "geodesic" / "stages.conf"
    user_file.parent.mkdir(parents=True)
    user_file.write_text("namespace = cpco\n")
    assert "audit" not in listed(env), "the user's own stages file comes first"

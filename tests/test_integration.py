"""Issue 2 end to end against moto's STS over HTTP: the command line, the real `aws`
command and boto3 sharing one cache, the commands around `use`, and every error a
user can cause. Each test is one thing a user does and what they then see."""

import json
import re
import socket
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from conftest import BIN, TESTING_IDENTITY, run_aws, run_cli
from ptyshell import MFA_PROMPT

CODE = "123456"
SERVED_VARIABLES = {"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN", "GEODESIC_STAGE_PROFILE"}
# What the spec says `stage use` exports, and so what `stage logout` must unset.
SPEC_VARIABLES = {
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
    "AWS_SESSION_EXPIRATION",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_PROFILE",
    "ASSUME_ROLE",
    "STAGE",
}
RFC3339_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\Z")
STS_WRITES = ("GetSessionToken", "AssumeRole")
# The stages each example config has, in the order a user might visit them.
STAGES = {"single": ("testing", "root"), "organization": ("testing", "root", "staging", "prod")}
only_single = pytest.mark.parametrize("topology", ["single"])


def eval_in_bash(env: dict, block: str, then: str = "") -> subprocess.CompletedProcess:
    """`eval` an export block in a fresh bash as the `stage` function does, then run `then`."""
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-c", 'eval "$(cat)" || exit 99\n' + then],
        env=env, input=block, capture_output=True, text=True, timeout=60, start_new_session=True,
    )


def exported(env: dict, block: str) -> dict:
    """The environment a shell holds after eval'ing the block."""
    done = eval_in_bash(env, block, "env -0")
    assert done.returncode == 0, done.stderr
    return dict(item.split("=", 1) for item in done.stdout.split("\0") if item)


def use(env: dict, stage: str, *extra) -> subprocess.CompletedProcess:
    done = run_cli(env, "use", stage, *extra)
    assert done.returncode == 0, done.stderr
    return done


def identity(done: subprocess.CompletedProcess) -> tuple:
    """(account, role) from `aws sts get-caller-identity --output json`."""
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    role = re.fullmatch(r"arn:aws:sts::\d+:assumed-role/([^/]+)/.+", answer["Arn"]).group(1)
    return answer["Account"], role


def sts_writes(sts) -> list:
    return [action for action, _ in sts.calls if action in STS_WRITES]


def cache_files(home: Path) -> list:
    root = home / ".aws" / "cli" / "cache"
    return sorted(str(p.relative_to(root)) for p in root.rglob("*.json")) if root.exists() else []


def assert_one_line_error(done: subprocess.CompletedProcess, exit_code: int) -> str:
    """The spec's contract for a failure: its code, one line on stderr, nothing on stdout."""
    assert done.returncode == exit_code, (done.returncode, done.stderr)
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


# 1. `use` prints an export block that gives a shell the stage's role.


def test_use_with_a_code_exports_every_variable_and_aws_answers_as_the_testing_role(env, sts, topology):
    block = use(env, "testing", "--mfa-token", CODE).stdout

    shell_env = exported(env, block)
    assert SPEC_VARIABLES <= shell_env.keys()
    assert RFC3339_UTC.match(shell_env["AWS_CREDENTIAL_EXPIRATION"])
    assert RFC3339_UTC.match(shell_env["AWS_SESSION_EXPIRATION"])
    assert shell_env["AWS_CREDENTIAL_EXPIRATION"] <= shell_env["AWS_SESSION_EXPIRATION"]
    assert shell_env["AWS_REGION"] == shell_env["AWS_DEFAULT_REGION"] == "us-west-2"
    assert shell_env["AWS_PROFILE"] == shell_env["ASSUME_ROLE"] == "cpco-testing-admin"
    assert shell_env["STAGE"] == "testing"

    answer = eval_in_bash(env, block, "aws sts get-caller-identity --output json")
    assert identity(answer) == TESTING_IDENTITY[topology]


# 2. and 3. One cache: what `use` bought, `aws` and boto3 reuse, and the other way round.

BOTO3_AS_THE_CLI_DOES = """
import json, os, boto3
from botocore.credentials import JSONFileCache
session = boto3.Session(profile_name="cpco-testing-admin")
# The AWS CLI gives the assume-role provider this cache; plain boto3 keeps one in memory only.
provider = session._session.get_component("credential_provider").get_provider("assume-role")
provider.cache = JSONFileCache(os.path.expanduser(os.path.join("~", ".aws", "cli", "cache")))
print(json.dumps(session.client("sts").get_caller_identity(), default=str))
"""


def test_aws_cli_with_the_profile_reuses_the_session_use_cached_without_prompting(env, sts, topology):
    use(env, "testing", "--mfa-token", CODE)
    sts.reset()

    answer = run_aws(env, "--profile", "cpco-testing-admin", "sts", "get-caller-identity", "--output", "json")

    assert identity(answer) == TESTING_IDENTITY[topology]
    assert "MFA" not in answer.stderr
    assert sts_writes(sts) == []


def test_boto3_with_the_cli_cache_reuses_the_session_use_cached_without_prompting(env, sts, topology):
    use(env, "testing", "--mfa-token", CODE)
    sts.reset()

    answer = subprocess.run(
        [sys.executable, "-c", BOTO3_AS_THE_CLI_DOES], env=env, capture_output=True, text=True,
        stdin=subprocess.DEVNULL, timeout=60, start_new_session=True,
    )

    assert identity(answer) == TESTING_IDENTITY[topology]
    assert sts_writes(sts) == []


def answer_own_mfa_prompt(argv: list, env: dict) -> str:
    """Run an AWS tool on a terminal, type the code at its own MFA prompt; returns what it printed."""
    child = pexpect.spawn(argv[0], argv[1:], env=env, encoding="utf-8", timeout=60)
    child.expect_exact(MFA_PROMPT)
    child.sendline(CODE)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    return child.before


def the_only_cache_entry(home: Path) -> dict:
    [name] = cache_files(home)
    return json.loads((home / ".aws" / "cli" / "cache" / name).read_text())


def assert_use_reuses(env, sts, entry: dict, topology: str) -> None:
    sts.reset()
    block = use(env, "testing").stdout
    assert sts.calls == []
    shell_env = exported(env, block)
    assert shell_env["AWS_ACCESS_KEY_ID"] == entry["Credentials"]["AccessKeyId"]
    assert RFC3339_UTC.match(shell_env["AWS_CREDENTIAL_EXPIRATION"])
    answer = eval_in_bash(env, block, "aws sts get-caller-identity --output json")
    assert identity(answer) == TESTING_IDENTITY[topology]


def test_use_picks_up_the_session_the_aws_cli_cached_after_asking_for_its_own_code(env, sts, home, topology):
    assert cache_files(home) == []
    answer_own_mfa_prompt(
        [str(BIN / "aws"), "--profile", "cpco-testing-admin", "sts", "get-caller-identity", "--output", "json"], env
    )
    assert sts.calls[0] == ("AssumeRole", CODE)

    assert_use_reuses(env, sts, the_only_cache_entry(home), topology)


def test_use_picks_up_the_session_boto3_cached_in_botocores_own_timestamp_format(env, sts, home, topology):
    answer_own_mfa_prompt([sys.executable, "-c", BOTO3_AS_THE_CLI_DOES], env)
    entry = the_only_cache_entry(home)
    # botocore writes `...UTC` where STS (and the AWS CLI, which keeps its text) say `...Z`.
    assert entry["Credentials"]["Expiration"].endswith("UTC")

    assert_use_reuses(env, sts, entry, topology)


# 4. The commands around `use`: exec, env, status, list, logout.


def test_exec_runs_a_command_as_the_stage_and_passes_its_exit_code_back(env, sts, topology):
    use(env, "testing", "--mfa-token", CODE)
    sts.reset()

    answer = run_cli(env, "exec", "testing", "--", "aws", "sts", "get-caller-identity", "--output", "json")
    assert identity(answer) == TESTING_IDENTITY[topology]
    assert sts_writes(sts) == []

    assert run_cli(env, "exec", "testing", "--", "sh", "-c", "exit 7").returncode == 7


def test_env_prints_the_same_credentials_as_sh_json_and_dotenv_to_a_pipe(env, sts, topology):
    use(env, "testing", "--mfa-token", CODE)
    printed = {}
    for fmt in ("sh", "json", "dotenv"):
        done = run_cli(env, "env", "testing", "--format", fmt)
        assert done.returncode == 0, done.stderr
        printed[fmt] = done.stdout

    from_sh = {k: v for k, v in exported(env, printed["sh"]).items() if k in SPEC_VARIABLES}
    from_json = json.loads(printed["json"])
    dotenv_env = exported(env, "set -a\n" + printed["dotenv"])  # dotenv's literal single quotes read back in sh too
    from_dotenv = {k: v for k, v in dotenv_env.items() if k in SPEC_VARIABLES}
    assert from_sh == from_json == from_dotenv
    # No profile name: where the output is used there may be no such profile (issue 11).
    assert from_sh.keys() == SPEC_VARIABLES - {"AWS_PROFILE", "ASSUME_ROLE"}
    assert from_sh["STAGE"] == "testing"


def list_rows(table: str) -> dict:
    """`list` output by stage: (marked current, [profile, account, role, region, left...])."""
    rows = {}
    for line in table.splitlines()[1:]:
        words = line.split()
        marked = words[0] == "*"
        words = words[1:] if marked else words
        rows[words[0]] = (marked, words[1:])
    return rows


@only_single
def test_env_to_a_terminal_refuses_to_show_the_keys_and_says_how_to_get_them(env, sts):
    shell_env = exported(env, use(env, "testing", "--mfa-token", CODE).stdout)

    child = pexpect.spawn(str(BIN / "geodesic-stage"), ["env", "testing"], env=env, encoding="utf-8", timeout=60)
    child.expect(pexpect.EOF)
    child.close()

    assert child.exitstatus == 2
    assert "redirect" in child.before and "--show" in child.before
    assert shell_env["AWS_ACCESS_KEY_ID"] not in child.before
    assert shell_env["AWS_SECRET_ACCESS_KEY"] not in child.before


def test_status_and_list_describe_the_stage_the_shell_holds(env, sts, topology):
    shell_env = exported(env, use(env, "testing", "--mfa-token", CODE).stdout)
    account, role = TESTING_IDENTITY[topology]

    status = run_cli(shell_env, "status")
    assert status.returncode == 0, status.stderr
    fields = dict(line.split(None, 1) for line in status.stdout.splitlines())
    assert fields["stage"] == "testing"
    assert fields["profile"] == "cpco-testing-admin"
    assert (fields["account"], fields["role"]) == (account, role)
    assert fields["region"] == "us-west-2"
    assert re.fullmatch(r"\S+Z \(\d+ min left\)", fields["expires"])

    listing = run_cli(shell_env, "list")
    assert listing.returncode == 0, listing.stderr
    rows = list_rows(listing.stdout)
    assert set(rows) == {"root", "prod", "staging", "testing"}
    marked, testing = rows["testing"]
    assert marked and testing[:4] == ["cpco-testing-admin", account, role, "us-west-2"]
    assert testing[5] == "min" and 0 < int(testing[4]) <= 60
    # A virtual root's stages share one role and so one cached session; elsewhere the others have none yet.
    shares_role = topology == "single"
    assert all((rows[stage][1][-1] == "min") == shares_role for stage in ("root", "prod", "staging"))
    assert [stage for stage, (marked, _) in rows.items() if marked] == ["testing"]

    outside = run_cli(env, "list")
    assert not any(marked for marked, _ in list_rows(outside.stdout).values())


def test_logout_prints_an_unset_block_for_every_variable_and_forget_drops_the_cache(env, sts, home):
    shell_env = exported(env, use(env, "testing", "--mfa-token", CODE).stdout)
    assert len(cache_files(home)) == 2  # the role credentials and the MFA session

    logout = run_cli(shell_env, "logout")
    assert logout.returncode == 0, logout.stderr
    assert re.fullmatch(r"unset( \w+)+\n", logout.stdout)
    # With the record of the options a use was given (which a renewal keeps), and what `stage use --serve`
    # exports in the keys' place (the endpoint and the profile it serves).
    assert set(logout.stdout.split()[1:]) == SPEC_VARIABLES | {"GEODESIC_STAGE_USED_WITH"} | SERVED_VARIABLES
    after = exported(shell_env, use(env, "testing").stdout + logout.stdout)
    assert SPEC_VARIABLES.isdisjoint(after)
    assert len(cache_files(home)) == 2

    forget = run_cli(shell_env, "logout", "--forget")
    assert forget.returncode == 0, forget.stderr
    assert forget.stdout == logout.stdout
    assert cache_files(home) == []


# 5. Every error a user can cause: one line, the spec's exit code, nothing for the shell to eval.


@only_single
def test_an_unknown_stage_names_the_stages_and_suggests_the_near_miss(env, sts):
    message = assert_one_line_error(run_cli(env, "use", "testin"), 2)
    assert all(stage in message for stage in ("root", "prod", "staging", "testing"))
    assert "did you mean 'testing'" in message.lower()

    far = assert_one_line_error(run_cli(env, "use", "nowhere"), 2)
    assert "testing" in far and "did you mean" not in far.lower()
    assert sts.calls == []


@only_single
def test_missing_source_credentials_name_the_profile_and_what_to_add(env, sts, home):
    (home / ".aws" / "credentials").write_text("[someone-else]\naws_access_key_id=AKIAOTHER\naws_secret_access_key=x\n")

    message = assert_one_line_error(run_cli(env, "use", "testing", "--mfa-token", CODE), 2)

    assert "'cpco'" in message and "aws_access_key_id" in message
    assert sts.calls == []


@only_single
def test_missing_source_credentials_are_reported_before_any_code_is_asked_for(env, sts, home, tmp_path):
    (home / ".aws" / "credentials").write_text("")
    asked = tmp_path / "asked"
    rewrite_config(home, lambda lines: [
        line + (f"mfa_process=touch {asked}; echo 123456\n" if line.startswith("source_profile") else "")
        for line in lines
    ])

    message = assert_one_line_error(run_cli(env, "use", "testing"), 2)

    assert "'cpco'" in message
    assert not asked.exists(), "the MFA code was asked for although it could not be used"


def rewrite_config(home: Path, change) -> Path:
    """Replace the AWS config's lines with change(lines)."""
    config = home / ".aws" / "config"
    config.write_text("".join(change(config.read_text().splitlines(keepends=True))))
    return config


@only_single
def test_a_profile_without_role_arn_is_a_configuration_error(env, sts, home):
    def drop_testing_role_arn(lines):
        testing = lines.index("[profile cpco-testing-admin]\n")
        return [line for i, line in enumerate(lines) if not (i > testing and line.startswith("role_arn"))]

    rewrite_config(home, drop_testing_role_arn)

    message = assert_one_line_error(run_cli(env, "use", "testing", "--mfa-token", CODE), 2)

    assert "cpco-testing-admin" in message and "role_arn" in message
    assert sts.calls == []


@only_single
def test_a_malformed_aws_config_is_named_with_its_line(env, sts, home):
    config = rewrite_config(home, lambda lines: lines[:2] + ["region us-west-2\n"] + lines[2:])

    message = assert_one_line_error(run_cli(env, "use", "testing", "--mfa-token", CODE), 2)

    assert f"{config}:3" in message


@only_single
def test_a_malformed_stages_file_is_named_with_its_line(env, sts, home):
    stages = home / "stages.conf"
    stages.write_text("namespace = cpco\n[stages]\n[[testing]\naccount_id = 126450723953\n")

    done = run_cli(dict(env, GEODESIC_STAGE_CONFIG=str(stages)), "use", "testing", "--mfa-token", CODE)

    assert f"{stages}:3" in assert_one_line_error(done, 2)


@only_single
def test_an_unreadable_aws_config_is_named(env, sts, home):
    message = assert_one_line_error(run_cli(dict(env, AWS_CONFIG_FILE=str(home)), "use", "testing"), 2)
    assert str(home) in message


@only_single
def test_no_terminal_and_no_code_exits_3_at_once_saying_how_to_give_one(env, sts):
    done = run_cli(env, "use", "testing", timeout=30)  # a wait for input that cannot come would time out

    message = assert_one_line_error(done, 3)
    assert "--mfa-token" in message
    assert sts.calls == []


@only_single
def test_a_code_sts_rejects_is_exit_1(env, sts, home):
    sts.rejected_codes = {"000000"}

    message = assert_one_line_error(run_cli(env, "use", "testing", "--mfa-token", "000000"), 1)

    assert "rejected" in message
    assert sts_writes(sts) == ["GetSessionToken"]
    assert cache_files(home) == []


@only_single
def test_an_unreachable_sts_is_exit_1_naming_the_endpoint(env, sts):
    with socket.socket() as s:  # bound but never listening: connections are refused
        s.bind(("127.0.0.1", 0))
        endpoint = f"http://127.0.0.1:{s.getsockname()[1]}"
        done = run_cli(dict(env, AWS_ENDPOINT_URL_STS=endpoint), "use", "testing", "--mfa-token", CODE)

    assert endpoint in assert_one_line_error(done, 1)


@only_single
def test_the_module_runs_as_a_program_and_tells_its_version(env):
    done = subprocess.run(
        [sys.executable, "-m", "geodesic_stage", "--version"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(r"geodesic-stage \d+\.\d+\S*\n", done.stdout)


# 6. One code for every stage: the MFA session is bought once, each role assumed once.


def test_one_code_serves_every_stage_and_a_second_use_costs_nothing(env, sts, home, topology):
    stages = STAGES[topology]
    config = (home / ".aws" / "config").read_text()
    roles = {stage: re.search(rf"\[profile cpco-{stage}-admin\][^[]*role_arn=(\S+)", config).group(1) for stage in stages}

    for i, stage in enumerate(stages):
        block = use(env, stage, *(("--mfa-token", CODE) if i == 0 else ())).stdout
        assert exported(env, block)["STAGE"] == stage

    assert sts.calls.count(("GetSessionToken", CODE)) == 1
    # Roles are assumed from the MFA session, with no code; stages that share a role share its session.
    assert sts.calls.count(("AssumeRole", None)) == len(set(roles.values()))
    assert sts_writes(sts) == ["GetSessionToken"] + ["AssumeRole"] * len(set(roles.values()))

    sts.reset()
    for stage in stages:
        use(env, stage)
    assert sts.calls == []

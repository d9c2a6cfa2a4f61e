"""The `stage` function as a person uses it: a real bash on a pseudo-terminal
with stage.sh sourced, MFA codes typed at the prompt, the local STS behind it."""

import json
import re
import shutil
import subprocess

import pytest

from conftest import BIN, DATA, TESTING_IDENTITY, run_cli
from ptyshell import MFA_PROMPT, PS1, STAGE_SH

# What the spec says `stage use` exports, in its words (kept apart from the product's own list on purpose).
EXPORTED = """AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_CREDENTIAL_EXPIRATION
AWS_SESSION_EXPIRATION AWS_REGION AWS_DEFAULT_REGION AWS_PROFILE ASSUME_ROLE STAGE""".split()
RFC3339_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\Z")
CODE = "123456"
# Stories that read the same in every topology run once, in the virtual-root one.
ANY_TOPOLOGY = pytest.mark.parametrize("topology", ["single"])
# The environment, sorted; without PS1, which the harness exports and whose text ends every prompt.
ENV = "env | grep -v '^PS1=' | sort"
# How `printf %q` shows the harness's unchanged PS1.
PS1_QUOTED = "PROMPT\\$\\ "


def label_minutes(prompt_line: str, stage: str) -> int:
    """The NN of a `[stage NNm] PROMPT$ ` prompt line; fails if the label is not there."""
    found = re.fullmatch(rf"\[{stage} (\d+)m\] {re.escape(PS1)}", prompt_line)
    assert found, f"no [{stage} NNm] label in {prompt_line!r}"
    return int(found.group(1))


def environment(shell) -> dict:
    return dict(line.split("=", 1) for line in shell.run(ENV).splitlines() if "=" in line)


def status(shell) -> int:
    return int(shell.run("echo $?"))


def use_with_code(shell, stage: str, code: str = CODE) -> str:
    """`stage use STAGE`, the code typed at the MFA prompt; returns the next prompt line."""
    shell.child.sendline(f"stage use {stage}")
    shell.answer_mfa(code)
    return shell.prompt()


def caller(shell) -> tuple:
    identity = json.loads(shell.run("aws sts get-caller-identity --output json"))
    account, role = identity["Arn"].split(":")[4], identity["Arn"].split("/")[1]
    assert identity["Account"] == account
    return account, role


def cached_files(home) -> list:
    return sorted((home / ".aws").rglob("*.json"))


def login_profile(home) -> None:
    """The sandbox user's ~/.bash_profile: the venv on PATH (/etc/profile resets it), a known prompt, stage.sh."""
    (home / ".bash_profile").write_text(f"PATH={BIN}:$PATH\nPS1='{PS1}'\nsource {STAGE_SH}\n")


def first_of_mfa_or_prompt(shell) -> str:
    """Wait for whichever comes first on a starting login shell: the MFA prompt or the shell prompt."""
    shell.expect(f"{re.escape(MFA_PROMPT)}|{re.escape(PS1)}")
    return shell.child.after


def run_login(env: dict, command: str) -> subprocess.CompletedProcess:
    """`bash -l -c COMMAND` with stdin /dev/null and no controlling terminal, as cron or `docker run` without -t."""
    return subprocess.run(
        ["bash", "-l", "-c", command],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,  # a safety net only: a hang would otherwise stall the suite
        start_new_session=True,
    )


def test_use_asks_for_the_code_on_the_terminal_and_exports_the_stage(shell, topology, sts):
    s = shell()
    s.child.sendline("stage use testing")
    s.answer_mfa("12345")
    s.expect("The code is the 6 digits your MFA device shows")
    assert sts.calls == [], "a 5-digit code must be refused by the prompt, not sent to AWS"
    s.send("\x7f" * 5 + CODE + "\r")

    assert 0 < label_minutes(s.prompt(), "testing") <= 60
    assert sts.count("GetSessionToken") == 1
    assert caller(s) == TESTING_IDENTITY[topology]
    exported = environment(s)
    assert all(exported.get(name) for name in EXPORTED), [n for n in EXPORTED if not exported.get(n)]
    assert exported["STAGE"] == "testing"
    assert exported["AWS_PROFILE"] == exported["ASSUME_ROLE"] == "cpco-testing-admin"
    assert exported["AWS_REGION"] == exported["AWS_DEFAULT_REGION"] == "us-west-2"
    assert RFC3339_UTC.match(exported["AWS_CREDENTIAL_EXPIRATION"])
    assert RFC3339_UTC.match(exported["AWS_SESSION_EXPIRATION"])


def test_switch_to_root_without_a_second_code_then_logout(shell, topology, sts):
    s = shell()
    use_with_code(s, "testing")
    sts.reset()

    switched = s.run("stage use root")
    assert MFA_PROMPT not in switched
    assert sts.count("GetSessionToken") == 0, "the MFA session is cached"
    label_minutes(s.last_prompt_line(), "root")
    assert caller(s) == ("323330167063", "cpco-root-admin")
    assert environment(s)["AWS_PROFILE"] == "cpco-root-admin"
    shown = s.run("stage")
    assert re.search(r"^stage\s+root$", shown, re.M)
    assert re.search(r"^profile\s+cpco-root-admin$", shown, re.M)
    assert re.search(r"^expires\s+\S+Z \(\d+ min left\)$", shown, re.M)

    s.run("stage logout")
    assert s.last_prompt_line() == PS1
    assert status(s) == 0
    assert not set(EXPORTED) & set(environment(s))
    assert "no stage in use" in s.run("stage")


@ANY_TOPOLOGY
def test_a_code_aws_rejects_is_asked_again_three_times_then_nothing_changes(shell, topology, sts, home):
    s = shell()
    before = s.run(ENV)
    sts.rejected_codes = {"111111"}

    s.child.sendline("stage use testing")
    for attempt in (1, 2):
        s.answer_mfa("111111")
        s.expect(re.escape(f"AWS rejected that code ({attempt} of 3); enter the next code"))
    s.answer_mfa("111111")
    s.prompt()

    assert "AWS rejected the MFA code" in s.transcript[-1] and "(3 tries)" in s.transcript[-1]
    assert s.last_prompt_line() == PS1
    assert status(s) == 1
    assert s.run(ENV) == before
    assert sts.count("GetSessionToken") == 3
    assert cached_files(home) == []


@ANY_TOPOLOGY
def test_ctrl_c_at_the_mfa_prompt_cancels_and_changes_nothing(shell, topology, sts, home):
    s = shell()
    before = s.run(ENV)

    s.child.sendline("stage use testing")
    s.expect(re.escape(MFA_PROMPT))
    s.send("\x03")
    s.prompt()

    assert "cancelled" in s.transcript[-1]
    assert status(s) == 130
    assert s.run(ENV) == before
    assert sts.calls == []
    assert cached_files(home) == []


@ANY_TOPOLOGY
def test_a_login_shell_for_a_stage_uses_it_once_and_a_nested_one_asks_nothing(shell, topology, sts, home):
    login_profile(home)
    s = shell(login=True, env={"STAGE": "testing"})
    s.answer_mfa(CODE)
    label_minutes(s.prompt(), "testing")
    assert caller(s) == TESTING_IDENTITY[topology]
    assert MFA_PROMPT not in s.run("true")
    calls = len(sts.calls)
    assert sts.count("GetSessionToken") == 1

    shutil.rmtree(home / ".aws" / "cli" / "cache")  # so only the credentials the shell holds can spare a code
    s.child.sendline("bash -l -i")
    assert first_of_mfa_or_prompt(s) == PS1
    label_minutes(s.last_prompt_line(), "testing")
    assert environment(s)["STAGE"] == "testing"
    assert len(sts.calls) == calls, "the nested shell holds unexpired credentials already"
    s.run("exit")
    label_minutes(s.last_prompt_line(), "testing")


@ANY_TOPOLOGY
def test_geodesic_stage_auto_false_keeps_a_login_shell_from_asking(shell, topology, sts, home):
    login_profile(home)
    s = shell(login=True, env={"STAGE": "testing", "GEODESIC_STAGE_AUTO": "false"})
    assert first_of_mfa_or_prompt(s) == PS1
    assert "AWS_ACCESS_KEY_ID" not in environment(s)
    assert sts.calls == []


@ANY_TOPOLOGY
def test_a_login_shell_without_a_terminal_hints_once_and_runs_its_command(topology, sts, home, env):
    login_profile(home)
    env = dict(env, STAGE="testing")
    done = run_login(env, "echo ran")
    assert (done.returncode, done.stdout) == (0, "ran\n")
    assert len(done.stderr.splitlines()) == 1 and "--mfa-token" in done.stderr
    assert sts.calls == []

    assert run_cli(env, "use", "testing", "--mfa-token", CODE).returncode == 0
    sts.reset()
    done = run_login(env, 'echo ran; echo "$AWS_PROFILE ${AWS_SESSION_TOKEN:+token}"')
    assert (done.returncode, done.stdout, done.stderr) == (0, "ran\ncpco-testing-admin token\n", "")
    assert sts.calls == [], "credentials come from the cache"


@ANY_TOPOLOGY
def test_use_without_a_terminal_or_code_exits_3_at_once(topology, sts, env):
    done = run_cli(env, "use", "testing")
    assert done.returncode == 3
    assert done.stdout == ""
    assert "--mfa-token" in done.stderr
    assert sts.calls == []


@ANY_TOPOLOGY
@pytest.mark.parametrize("mode", ["nounset", "posix"])
def test_sourcing_stage_sh_is_safe_under_set_u_and_posix(shell, topology, sts, mode):
    s = shell(source=False, options=["--posix"] if mode == "posix" else [])
    if mode == "nounset":
        s.run("set -u")
    options = s.run("set -o; shopt")
    assert re.search(rf"^{mode}\s+on$", options, re.M)

    assert s.run(f"source {STAGE_SH}") == ""
    assert s.run("set -o; shopt") == options

    refused = s.run("stage use nosuchstage")
    assert status(s) == 2
    assert "unknown stage 'nosuchstage'" in refused and all(st in refused for st in ("root", "testing", "prod"))
    assert s.run("echo alive") == "alive"

    label_minutes(use_with_code(s, "testing"), "testing")
    s.run("stage logout")
    assert s.last_prompt_line() == PS1
    assert s.run("set -o; shopt") == options


@ANY_TOPOLOGY
def test_geodesic_stage_prompt_false_leaves_ps1_alone(shell, topology, sts):
    s = shell(env={"GEODESIC_STAGE_PROMPT": "false"})
    assert use_with_code(s, "testing") == PS1
    assert s.run("printf '%q\\n' \"$PS1\"") == PS1_QUOTED
    assert environment(s)["STAGE"] == "testing"


@ANY_TOPOLOGY
def test_inside_geodesic_the_prompt_hook_joins_prompt_hooks(shell, topology, sts):
    s = shell(source=False)
    s.run(f"source {DATA / 'shell-geodesic-prompt.sh'}")
    prompt_command = s.run('printf "%s\\n" "$PROMPT_COMMAND"')
    s.run(f"source {STAGE_SH}")

    assert s.run('printf "%s\\n" "${PROMPT_HOOKS[@]}"').splitlines() == ["__geodesic_stage_prompt", "geodesic_prompt"]
    assert s.run('printf "%s\\n" "$PROMPT_COMMAND"') == prompt_command
    assert use_with_code(s, "testing") == f"[cpco-testing-admin] {PS1}", "geodesic draws the prompt from ASSUME_ROLE"
    assert s.run('printf "%s\\n" "$ASSUME_ROLE"') == "cpco-testing-admin"

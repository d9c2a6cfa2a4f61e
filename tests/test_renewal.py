"""Role credentials renew themselves from the MFA session, without a prompt (issue 3).

Time moves with libfaketime: the shell, everything it starts and a moto of its
own read one fake clock, which the test moves; nothing sleeps.
"""

import json
import re
import subprocess
import sys

import pytest

from conftest import mfa_prompts, run_cli
from ptyshell import PS1

MINUTES = 60
HOURS = 3600
ROLE_SESSION = re.compile(r"^arn:aws:sts::\d{12}:assumed-role/[\w+=,.@-]+/geodesic-stage-[\w+=,.@-]+$")


def press_enter(shell) -> str:
    """An empty command line: only the prompt hook runs. Returns the new prompt line."""
    shell.run("")
    return shell.last_prompt_line()


def label(stage: str, minutes: int) -> set:
    """The prompt line with `minutes` left, give or take the second that straddles a minute."""
    return {f"[{stage} {minutes}m] {PS1}", f"[{stage} {minutes - 1}m] {PS1}"}


def access_key(shell) -> str:
    return shell.run('echo "$AWS_ACCESS_KEY_ID"').strip()


def start_using(shell, stage: str, code: str) -> None:
    shell.child.sendline(f"stage use {stage}")
    shell.answer_mfa(code)
    shell.prompt()


@pytest.mark.parametrize("topology", ["organization"])
def test_a_working_day_renews_the_role_from_the_mfa_session_without_a_prompt(shell, clocked_env, fake_clock, fake_sts):
    s = shell(env=clocked_env)
    start_using(s, "testing", "123456")
    first_key = access_key(s)
    assert s.last_prompt_line() in label("testing", 60)

    # Ordinary prompts start nothing: same keys, no STS call, the label counts down.
    fake_clock.advance(30 * MINUTES)
    assert press_enter(s) in label("testing", 30)
    assert access_key(s) == first_key
    assert fake_stscalls(fake_sts) == ["GetSessionToken", "AssumeRole"]

    # 12 minutes left is still an ordinary prompt for the hook.
    fake_clock.advance(18 * MINUTES)
    assert press_enter(s) in label("testing", 12)
    assert access_key(s) == first_key
    assert fake_stscalls(fake_sts) == ["GetSessionToken", "AssumeRole"]

    # Fewer than 10 minutes left: the hook renews before anything expires.
    fake_clock.advance(7 * MINUTES)
    assert press_enter(s) in label("testing", 60)
    second_key = access_key(s)
    assert second_key != first_key

    # Idle past the one-hour role limit: the next Enter renews again.
    fake_clock.advance(2 * HOURS)
    assert press_enter(s) in label("testing", 60)
    third_key = access_key(s)
    assert third_key not in (first_key, second_key)
    assert ROLE_SESSION.match(s.run("aws sts get-caller-identity --query Arn --output text").strip())

    assert mfa_prompts(s) == 1
    assert fake_stscalls(fake_sts) == ["GetSessionToken", "AssumeRole", "AssumeRole", "AssumeRole", "GetCallerIdentity"]
    # Renewals used the MFA session's keys, never a code.
    assert all("TokenCode" not in r for r in fake_sts.parameters("AssumeRole"))


def fake_stscalls(proxy) -> list:
    return [action for action, _ in proxy.calls]


@pytest.mark.parametrize("topology", ["single"])
def test_once_the_mfa_session_expires_the_prompt_says_so_and_stage_use_asks_again(shell, clocked_env, fake_clock, fake_sts):
    s = shell(env=clocked_env)
    start_using(s, "testing", "123456")

    fake_clock.advance(12 * HOURS + 5 * MINUTES)
    s.child.sendline("")
    hint = s.expect(re.escape(PS1)).strip().splitlines()[:-1]
    assert s.last_prompt_line() == f"[testing expired] {PS1}"
    assert hint == ["geodesic-stage: credentials for testing have expired; run 'stage use testing' for a new MFA code or sign-in"]
    # The hint comes once, and nothing prompts from the hook.
    assert press_enter(s) == f"[testing expired] {PS1}"
    assert mfa_prompts(s) == 1
    assert fake_stscalls(fake_sts) == ["GetSessionToken", "AssumeRole"]

    start_using(s, "testing", "234567")
    assert s.last_prompt_line() in label("testing", 60)
    assert fake_sts.count("GetSessionToken") == 2


@pytest.mark.parametrize("topology", ["single"])
def test_stage_refresh_never_asks_for_a_code(shell, clocked_env, fake_clock, fake_sts):
    s = shell(env=clocked_env)
    start_using(s, "testing", "123456")
    key = access_key(s)
    fake_clock.advance(13 * HOURS)
    out = s.run("stage refresh; echo exit=$?")
    assert "the MFA session has expired: run 'stage use testing'" in out
    assert "exit=3" in out.splitlines()
    assert access_key(s) == key
    assert mfa_prompts(s) == 1


SDK_RUN = """
import sys, boto3
session = boto3.Session(profile_name="ci")
sts = session.client("sts")
for _ in sys.stdin:
    arn = sts.get_caller_identity()["Arn"]
    print(arn, session.get_credentials().get_frozen_credentials().access_key, flush=True)
"""


@pytest.mark.parametrize("topology", ["single"])
def test_an_sdk_using_credential_process_renews_by_itself_during_a_long_run(clocked_env, home, fake_clock, fake_sts):
    with (home / ".aws" / "config").open("a") as config:
        config.write("\n[profile ci]\nregion = us-west-2\ncredential_process = geodesic-stage credential-process testing\n")
    assert run_cli(clocked_env, "use", "testing", "--mfa-token", "123456").returncode == 0

    run = subprocess.Popen(
        [sys.executable, "-c", SDK_RUN], env=clocked_env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    try:
        run.stdin.write("call\n")
        run.stdin.flush()
        first_arn, first_key = run.stdout.readline().split()
        fake_clock.advance(65 * MINUTES)
        run.stdin.write("call\n")
        run.stdin.flush()
        second_arn, second_key = run.stdout.readline().split()
        run.stdin.close()
        assert run.wait(30) == 0
    finally:
        if run.poll() is None:
            run.kill()
    assert ROLE_SESSION.match(first_arn) and ROLE_SESSION.match(second_arn)
    assert second_key != first_key
    assert "MFA" not in run.stderr.read()
    assert fake_sts.count("GetSessionToken") == 1
    assert fake_sts.count("AssumeRole") == 2


@pytest.mark.parametrize("topology", ["single"])
def test_credential_process_after_the_mfa_session_expired_fails_clearly(clocked_env, fake_clock, fake_sts):
    assert run_cli(clocked_env, "use", "testing", "--mfa-token", "123456").returncode == 0
    assert json.loads(run_cli(clocked_env, "credential-process", "testing").stdout)["Version"] == 1

    fake_clock.advance(12 * HOURS + 5 * MINUTES)
    done = run_cli(clocked_env, "credential-process", "testing")
    assert done.returncode == 3
    assert done.stdout == ""
    assert "needs a new MFA code" in done.stderr and "stage use testing" in done.stderr
    assert fake_sts.count("GetSessionToken") == 1

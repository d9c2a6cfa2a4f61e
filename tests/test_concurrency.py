"""Shells and processes that need an MFA code at the same moment ask for it once (issue 3).

The MFA session's file lock makes the others wait with a message and then reuse
the session; flock dies with its holder, so a killed shell never strands them.
"""

import fcntl
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import BIN, run_cli
from geodesic_stage.store import lock
from geodesic_stage.errors import LockTimeout
from ptyshell import MFA_PROMPT

WAITING = "another shell is asking for the MFA code; waiting for it"


def descendants(pid: int) -> list:
    """Every process below `pid`, from /proc."""
    children = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (ValueError, OSError, IndexError):
            continue
        children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def geodesic_stage_process(shell) -> int:
    """The `geodesic-stage` command a shell is running."""
    [pid] = [
        p for p in descendants(shell.child.pid)
        if b"geodesic-stage" in Path(f"/proc/{p}/cmdline").read_bytes()
        and b"python" in Path(f"/proc/{p}/cmdline").read_bytes()
    ]
    return pid


def asking_and_waiting(shell, second_stage: str) -> tuple:
    """Two shells at the same moment: the first at its MFA prompt, the second waiting for it."""
    first, second = shell(), shell()
    first.child.sendline("stage use testing")
    first.expect(re.escape(MFA_PROMPT))
    second.child.sendline(f"stage use {second_stage}")
    second.expect(re.escape(WAITING))
    return first, second


@pytest.mark.parametrize("topology", ["single"])
def test_the_second_shell_waits_for_the_first_ones_code_and_reuses_its_session(shell, sts):
    first, second = asking_and_waiting(shell, "staging")
    first.send("123456\r")
    first.prompt()
    second.prompt()
    assert MFA_PROMPT not in "".join(second.transcript)
    assert second.run('echo "$STAGE $AWS_PROFILE"') == "staging cpco-staging-admin"
    assert first.run('echo "$STAGE $AWS_PROFILE"') == "testing cpco-testing-admin"
    assert sts.count("GetSessionToken") == 1


@pytest.mark.parametrize("topology", ["single"])
def test_a_shell_killed_at_its_prompt_does_not_strand_the_one_waiting(shell, sts):
    first, second = asking_and_waiting(shell, "testing")

    os.kill(geodesic_stage_process(first), signal.SIGKILL)
    first.prompt()

    second.answer_mfa("123456")
    second.prompt()
    assert second.run('echo "$STAGE"') == "testing"
    assert first.run('echo "[${STAGE-}]"') == "[]"
    assert sts.count("GetSessionToken") == 1


def test_waiting_for_a_shell_that_never_answers_is_bounded(tmp_path):
    path = str(tmp_path / "session.lock")
    holder = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(holder, fcntl.LOCK_EX)
    told = []
    try:
        with pytest.raises(LockTimeout) as refused:
            with lock.exclusive(path, 0.2, lambda: told.append("waiting")):
                pass
    finally:
        os.close(holder)
    assert told == ["waiting"]
    assert refused.value.exit_code == 3
    assert "answer it there, or press Ctrl-C and try again" in refused.value.message


def racing_profile(home: Path, tmp_path: Path) -> tuple:
    """An mfa_process that records each run and holds its code until the test releases it."""
    runs, release = tmp_path / "mfa-process-runs", tmp_path / "release"
    script = tmp_path / "mfa-process"
    script.write_text(
        f"#!/bin/sh\necho run >> '{runs}'\n"
        f"while [ ! -e '{release}' ]; do sleep 0.02; done\necho 123456\n"
    )
    script.chmod(0o755)
    config = home / ".aws" / "config"
    header = "[profile cpco-testing-admin]\n"
    config.write_text(config.read_text().replace(header, f"{header}mfa_process = {script}\n"))
    return runs, release


def wait_until(condition, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(0.02)


@pytest.mark.parametrize("topology", ["single"])
@pytest.mark.parametrize("racers", [2, 10])
def test_processes_racing_for_one_session_run_mfa_process_once(env, sts, home, tmp_path, racers):
    runs, release = racing_profile(home, tmp_path)
    errors = [tmp_path / f"stderr-{n}" for n in range(racers)]
    processes = [
        subprocess.Popen(
            [str(BIN / "geodesic-stage"), "use", "testing"], env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=error.open("w"), text=True, start_new_session=True,
        )
        for error in errors
    ]
    try:
        # Hold the code until every other process is waiting for the lock: a real race.
        wait_until(lambda: runs.exists(), "mfa_process to start")
        wait_until(lambda: sum(WAITING in e.read_text() for e in errors) == racers - 1, "the others to wait")
        release.touch()
        outputs = [p.communicate(timeout=60)[0] for p in processes]
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()

    assert [p.returncode for p in processes] == [0] * racers, [e.read_text() for e in errors]
    assert runs.read_text() == "run\n"
    assert sts.count("GetSessionToken") == 1
    keys = [re.search(r"^export AWS_ACCESS_KEY_ID=(\S+)$", out, re.M)[1] for out in outputs]
    assert all(re.fullmatch(r"[A-Z0-9]{16,}", key) for key in keys)

    cache = home / ".aws" / "cli" / "cache"
    files = list(cache.glob("*.json")) + list(cache.glob("geodesic-stage/*.json"))
    assert len(files) == 2
    for path in files:
        assert json.loads(path.read_text())["Credentials"]["AccessKeyId"]
    assert not list(cache.glob(".tmp-*")) and not list(cache.glob("geodesic-stage/.tmp-*"))


@pytest.mark.parametrize("topology", ["single"])
def test_refresh_never_waits_on_another_shells_prompt(env, sts, home):
    """The prompt hook runs `stage refresh`: with no MFA session it must refuse at once,
    not queue behind a shell whose user is still typing a code."""
    from geodesic_stage import cachekeys

    key = cachekeys.mfa_session_key("cpco", "arn:aws:iam::323330167063:mfa/admin@cloudposse.co")
    lock_dir = home / ".aws" / "cli" / "cache" / "geodesic-stage"
    lock_dir.mkdir(parents=True)
    holder = os.open(str(lock_dir / f"{key}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(holder, fcntl.LOCK_EX)
    try:
        # A shell holding testing's (expiring) keys, as the hook sees it.
        holding = dict(env, STAGE="testing", AWS_PROFILE="cpco-testing-admin", AWS_ACCESS_KEY_ID="ASIAEXPIRINGKEY00001",
                       AWS_CREDENTIAL_EXPIRATION="2026-01-01T00:00:00Z")
        done = run_cli(holding, "refresh")
    finally:
        os.close(holder)
    assert done.returncode == 3
    assert "waiting" not in done.stderr and "stage use testing" in done.stderr
    assert sts.calls == []

"""Secrets stay where they belong: never in any process's argv, never on stderr
(with --debug or without, in success or failure), never on a terminal unasked;
and the files we create are private whatever the umask."""

import re
import shlex
import socket
import stat
import subprocess
from pathlib import Path

import pytest

from conftest import BIN, DATA, run_cli

CODE = "123456"
only_single = pytest.mark.parametrize("topology", ["single"])
# The long-lived secret of the example credentials file.
SOURCE_SECRET = re.search(r"aws_secret_access_key=(\S+)", (DATA / "credentials").read_text())[1]


def secrets_in_cache(home: Path) -> set:
    """Every secret key and session token the cache holds, with the source's long-lived secret."""
    found = {SOURCE_SECRET}
    root = home / ".aws" / "cli" / "cache"
    for path in root.rglob("*.json"):
        text = path.read_text()
        found.update(re.findall(r'"(?:SecretAccessKey|SessionToken)": "([^"]+)"', text))
    return found


def leaked(text: str, secrets: set) -> list:
    return [s[:12] + "..." for s in secrets if s in text]


@only_single
def test_no_secret_is_ever_in_the_argv_of_a_process_during_mfa_process_and_exec(env, sts, home, tmp_path):
    """mfa_process and the exec'd command each record every process's argv while they run."""
    table = tmp_path / "argv-seen"
    snapshot = f"cat /proc/[0-9]*/cmdline >> '{table}' 2>/dev/null; echo >> '{table}'"
    script = tmp_path / "mfa-process"
    script.write_text(f"#!/bin/sh\n{snapshot}\necho {CODE}\n")
    script.chmod(0o755)
    config = home / ".aws" / "config"
    header = "[profile cpco-testing-admin]\n"
    config.write_text(config.read_text().replace(header, f"{header}mfa_process = {script}\n"))

    done = run_cli(env, "exec", "testing", "--", "sh", "-c", f'{snapshot}; test -n "$AWS_SESSION_TOKEN"')
    assert done.returncode == 0, done.stderr
    done = run_cli(env, "exec", "root", "--", "sh", "-c", snapshot)
    assert done.returncode == 0, done.stderr

    seen = table.read_bytes().decode("utf-8", "replace")
    assert "mfa-process" in seen and "geodesic-stage" in seen, "the snapshots saw the processes of the run"
    assert leaked(seen, secrets_in_cache(home)) == []


@only_single
def test_no_secret_reaches_stderr_or_debug_output_across_every_command(env, sts, home):
    runs = [
        ("use", "testing", "--mfa-token", "000000"),  # rejected
        ("use", "testing", "--mfa-token", CODE),
        ("use", "root"),
        ("status", "--verify"),
        ("list",),
        ("env", "testing", "--format", "json"),
        ("refresh",),
        ("credential-process", "testing"),
        ("exec", "testing", "--", "true"),
        ("doctor",),
        ("use", "nosuchstage"),
        ("logout",),
    ]
    sts.rejected_codes = {"000000"}
    current = dict(env, STAGE="testing", AWS_PROFILE="cpco-testing-admin")
    stderr = []
    with socket.socket() as closed:  # first, while nothing is cached, so it reaches for STS
        closed.bind(("127.0.0.1", 0))
        unreachable = dict(env, AWS_ENDPOINT_URL_STS=f"http://127.0.0.1:{closed.getsockname()[1]}")
        stderr.append(run_cli(unreachable, "--debug", "use", "staging", "--mfa-token", CODE).stderr)
    verified = []
    for args in runs:
        for debug in (["--debug"], []):
            done = run_cli(current, *debug, *args)
            stderr.append(done.stderr)
            if args[0] in ("status", "list", "logout"):
                stderr.append(done.stdout)  # nothing these print is a secret either
            if args[:2] == ("use", "testing") and done.returncode == 0:
                # From here on the commands run as in the shell that evaluated this block.
                current.update(shlex.split(line)[1].split("=", 1) for line in done.stdout.splitlines())
            if args == ("status", "--verify"):
                verified.append(done.stdout)

    assert len(verified) == 2 and all(
        re.search(r"^identity +arn:aws:sts::323330167063:assumed-role/cpco-root-admin/", out, re.M) for out in verified
    ), verified
    text = "".join(stderr)
    assert "geodesic-stage[debug]: STS AssumeRole" in text, "debug output was there to be read"
    assert "rejected" in text and "cannot reach STS" in text
    assert leaked(text, secrets_in_cache(home)) == []


@only_single
def test_a_terminal_session_shows_no_secret_unless_asked(shell, sts, home):
    s = shell()
    s.child.sendline("stage use testing")
    s.answer_mfa(CODE)
    s.prompt()
    for command in ("stage", "stage list", "stage status --verify", "stage refresh", "stage use root",
                    "geodesic-stage env testing", "stage logout"):
        s.run(command)
    transcript = "".join(s.transcript)
    assert "not printing secret keys to a terminal" in transcript
    assert leaked(transcript, secrets_in_cache(home)) == []


@only_single
@pytest.mark.parametrize("umask", ["000", "077", "022"])
def test_files_we_create_are_private_whatever_the_umask(env, sts, home, umask):
    done = subprocess.run(
        ["bash", "-c", f'umask {umask}; exec "$@"', "bash", str(BIN / "geodesic-stage"), "use", "testing",
         "--mfa-token", CODE],
        env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    created = home / ".aws" / "cli"
    modes = {}
    for path in [created, *created.rglob("*")]:
        mode = path.lstat().st_mode
        modes[str(path.relative_to(home))] = (stat.S_ISDIR(mode), oct(mode & 0o777))
    assert len(modes) == 6  # cli, cache, the role file, geodesic-stage, the session and its lock
    assert {m for is_dir, m in modes.values() if is_dir} == {"0o700"}, modes
    assert {m for is_dir, m in modes.values() if not is_dir} == {"0o600"}, modes
    assert SOURCE_SECRET not in "".join(p.read_text() for p in created.rglob("*.json")), "long-lived keys stay out of the cache"


@only_single
def test_a_cache_directory_others_can_read_is_tightened_when_we_write_to_it(env, sts, home):
    root = home / ".aws" / "cli" / "cache"
    root.mkdir(parents=True)
    root.chmod(0o755)
    assert run_cli(env, "use", "testing", "--mfa-token", CODE).returncode == 0
    assert oct(root.stat().st_mode & 0o777) == "0o700"

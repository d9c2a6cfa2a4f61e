"""When STS or the disk lets the user down: a bounded wait, one clear line naming
the endpoint, the shell's previous credentials kept, and a cache left whole.

Each fault is real and local: a socket that never answers, a tiny HTTP server
answering 500, `Throttling`, broken XML or hostile credentials, a DNS name that
cannot resolve, SIGINT and SIGKILL sent to the running process, and strace
injecting ENOSPC into (or holding) the cache's fsync.
"""

import fcntl
import os
import re
import signal
import socket
import subprocess
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

from conftest import BIN, needs_root, run_cli
from geodesic_stage.store import cli_cache
from geodesic_stage import clock
from ptyshell import STAGE_SH
from test_concurrency import descendants, wait_until

CODE = "123456"
only_single = pytest.mark.parametrize("topology", ["single"])
SERIAL = "arn:aws:iam::323330167063:mfa/admin@cloudposse.co"
CANARY = "executed"
THROTTLING = (
    '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
    "<Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>1</RequestId></ErrorResponse>"
)


class CannedSts:
    """An HTTP server on 127.0.0.1 that answers each STS request with `answer(action) -> (status, body)`."""

    def __init__(self, answer):
        self.actions = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                action = re.search(r"Action=(\w+)", body)[1]
                server.actions.append(action)
                status, data = answer(action)
                data = data.encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self):
        self._server.shutdown()
        self._server.server_close()


class SilentSts:
    """Accepts connections and never answers them."""

    def __init__(self):
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(16)
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        self.held = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                self.held.append(self._socket.accept()[0])
            except OSError:
                return

    def close(self):
        self._socket.close()
        for connection in self.held:
            connection.close()


@pytest.fixture
def canned():
    servers = []

    def start(answer):
        servers.append(CannedSts(answer))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def silent():
    server = SilentSts()
    yield server
    server.close()


def credentials_xml(action: str, key="ASIAHOSTILEEXAMPLE01", secret="secret", token="token") -> str:
    expiration = clock.rfc3339(clock.now() + timedelta(hours=1))
    return (
        f'<{action}Response xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><{action}Result><Credentials>'
        f"<AccessKeyId>{escape(key)}</AccessKeyId><SecretAccessKey>{escape(secret)}</SecretAccessKey>"
        f"<SessionToken>{escape(token)}</SessionToken><Expiration>{expiration}</Expiration>"
        f"</Credentials></{action}Result><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></{action}Response>"
    )


def one_line_failure(done, endpoint: str) -> str:
    assert done.returncode == 1, done.stderr
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    [line] = done.stderr.splitlines()
    assert endpoint in line
    return line


def cache_root(home: Path) -> Path:
    return home / ".aws" / "cli" / "cache"


def cached(home: Path) -> list:
    """Every file the cache holds but the lock: credentials and temp files alike."""
    root = cache_root(home)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and p.suffix != ".lock")


def in_bash(env: dict, script: str, cwd=None) -> subprocess.Popen:
    """A non-interactive bash with the `stage` function, running `script`."""
    return subprocess.Popen(
        ["bash", "--noprofile", "--norc", "-c", f"source {STAGE_SH}\n{script}"], env=env, cwd=cwd,
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )


# Networks that fail.


@only_single
def test_sts_that_accepts_and_never_answers_is_given_up_after_a_read_timeout(env, silent, home):
    # One attempt, as AWS_MAX_ATTEMPTS asks: the read timeout alone bounds the wait
    # (the subprocess's 30 s would expire under botocore's default of 60 s).
    done = run_cli(dict(env, AWS_ENDPOINT_URL_STS=silent.url, AWS_MAX_ATTEMPTS="1"),
                   "use", "testing", "--mfa-token", CODE, timeout=30)
    assert "cannot reach STS" in one_line_failure(done, silent.url)
    assert len(silent.held) == 1
    assert cached(home) == []


@only_single
@pytest.mark.parametrize(
    "status, body, code",
    [(500, "<html>Internal Server Error</html>", "500"), (400, THROTTLING, "Throttling")],
    ids=["500", "throttling"],
)
def test_a_failing_or_throttling_sts_is_tried_three_times_then_exit_1(env, canned, home, status, body, code):
    server = canned(lambda action: (status, body))
    done = run_cli(dict(env, AWS_ENDPOINT_URL_STS=server.url), "use", "testing", "--mfa-token", CODE)
    assert code in one_line_failure(done, server.url)
    assert server.actions == ["GetSessionToken"] * 3, "botocore's standard retry mode: three attempts"
    assert cached(home) == []


@needs_root
@only_single
def test_a_name_that_does_not_resolve_is_exit_1_naming_the_endpoint(env, home):
    """In a network namespace of its own (loopback only), the resolver fails at once and no query leaves the machine."""
    endpoint = "http://sts.nonexistent.invalid"
    done = subprocess.run(
        ["unshare", "--net", str(BIN / "geodesic-stage"), "use", "testing", "--mfa-token", CODE],
        env=dict(env, AWS_ENDPOINT_URL_STS=endpoint, AWS_MAX_ATTEMPTS="1"),
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60, start_new_session=True,
    )
    assert "check the network or AWS_ENDPOINT_URL_STS" in one_line_failure(done, endpoint)


@pytest.mark.parametrize("topology", ["organization"])
def test_a_shell_keeps_its_stage_when_switching_meets_a_throttling_sts(env, canned):
    server = canned(lambda action: (400, THROTTLING))
    shell = in_bash(env, f"""
        stage use testing --mfa-token {CODE} || exit 9
        before="$STAGE $AWS_ACCESS_KEY_ID $AWS_SESSION_TOKEN"
        AWS_ENDPOINT_URL_STS={server.url} stage use prod
        echo "rc=$?"
        [ "$STAGE $AWS_ACCESS_KEY_ID $AWS_SESSION_TOKEN" = "$before" ] && echo kept
    """)
    out, err = shell.communicate(timeout=60)
    assert out == "rc=1\nkept\n", err
    assert server.actions == ["AssumeRole"] * 3
    assert server.url in err and "Traceback" not in err


# Endpoints that answer nonsense.


@only_single
def test_broken_xml_from_sts_is_exit_1_without_quoting_the_body(env, canned, home):
    server = canned(lambda action: (200, credentials_xml(action, secret="LEAKED-SECRET")[:-40]))
    done = run_cli(dict(env, AWS_ENDPOINT_URL_STS=server.url), "use", "testing", "--mfa-token", CODE)
    assert "not an STS response" in one_line_failure(done, server.url)
    assert "LEAKED" not in done.stderr
    assert cached(home) == []


@only_single
def test_an_sts_error_message_reaches_the_terminal_as_one_printable_line(env, canned):
    # A line break, and C1 controls (CSI, NEL) that XML allows and some terminals obey.
    hostile = THROTTLING.replace("Rate exceeded", "Rate&#10;exceeded &#155;2J&#133;")
    server = canned(lambda action: (400, hostile))
    done = run_cli(dict(env, AWS_ENDPOINT_URL_STS=server.url, AWS_MAX_ATTEMPTS="1"), "use", "testing", "--mfa-token", CODE)
    line = one_line_failure(done, server.url)
    assert "Rate?exceeded ?2J?" in line


HOSTILE_SECRETS = [
    f"$(touch {CANARY})",
    f"`touch {CANARY}`",
    f"'; touch {CANARY}; '",
    f'"; touch {CANARY} #',
    "x" * 10_000,  # a long token travels back as a header, which the server caps at 64 KiB
    "sécret-ünicode",
]


@only_single
@pytest.mark.parametrize("secret", HOSTILE_SECRETS, ids=range(len(HOSTILE_SECRETS)))
def test_hostile_credentials_from_sts_reach_the_shell_exactly_and_never_run(env, canned, tmp_path, secret):
    server = canned(lambda action: (200, credentials_xml(action, secret=secret, token=secret)))
    shell = in_bash(dict(env, AWS_ENDPOINT_URL_STS=server.url), f"""
        stage use testing --mfa-token {CODE} || exit 9
        printf '%s' "$AWS_SECRET_ACCESS_KEY" > secret
        printf '%s' "$AWS_SESSION_TOKEN" > token
    """, cwd=tmp_path)
    out, err = shell.communicate(timeout=60)
    assert shell.returncode == 0, err
    assert not (tmp_path / CANARY).exists()
    assert (tmp_path / "secret").read_text() == secret == (tmp_path / "token").read_text()


@only_single
@pytest.mark.parametrize(
    "secret, says",
    [("two\nlines", "without usable credentials"), ("bell\x07", "not an STS response"), ("nul\0", "not an STS response")],
    ids=["newline", "control", "nul"],
)
def test_credentials_no_shell_can_hold_are_refused_with_exit_1(env, canned, home, secret, says):
    server = canned(lambda action: (200, credentials_xml(action, secret=secret)))
    done = run_cli(dict(env, AWS_ENDPOINT_URL_STS=server.url), "use", "testing", "--mfa-token", CODE)
    assert says in one_line_failure(done, server.url)
    assert cached(home) == []


# Interrupted and killed.


@only_single
def test_ctrl_c_during_the_sts_call_exits_130_and_leaves_shell_cache_and_lock_as_they_were(env, silent, home):
    shell = in_bash(dict(env, AWS_ENDPOINT_URL_STS=silent.url), f"""
        export AWS_ACCESS_KEY_ID=previous STAGE=prod
        stage use testing --mfa-token {CODE}
        echo "rc=$? $AWS_ACCESS_KEY_ID $STAGE"
    """)
    try:
        wait_until(lambda: silent.held, "the STS request to arrive")
        [command] = [p for p in descendants(shell.pid) if b"geodesic-stage" in Path(f"/proc/{p}/cmdline").read_bytes()]
        os.kill(command, signal.SIGINT)
        out, err = shell.communicate(timeout=30)
    finally:
        if shell.poll() is None:
            shell.kill()
    assert out == "rc=130 previous prod\n"
    assert "interrupted; nothing changed" in err and "Traceback" not in err
    assert cached(home) == []
    [lock_file] = cache_root(home).glob("geodesic-stage/*.lock")
    fd = os.open(lock_file, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises if the lock were still held
    finally:
        os.close(fd)


def strace(*injection: str) -> list:
    """Run the CLI under strace with a fault injected into fsync, the call only the cache makes."""
    return ["strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=fsync", "-e", ",".join(injection),
            str(BIN / "geodesic-stage")]


@only_single
def test_a_process_killed_while_writing_the_cache_leaves_nothing_that_piles_up(env, sts, home):
    session_dir = cache_root(home) / "geodesic-stage"
    # strace holds the first fsync for a minute: the temp file is written, not yet renamed.
    writer = subprocess.Popen(
        [*strace("inject=fsync:delay_enter=60000000:when=1"), "use", "testing", "--mfa-token", CODE],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )
    try:
        wait_until(lambda: session_dir.exists() and any(p.stat().st_size for p in session_dir.glob(".tmp-*.json")),
                   "the cache write to begin")
        os.killpg(writer.pid, signal.SIGKILL)  # strace and the CLI it runs
        writer.communicate(timeout=30)
    finally:
        if writer.poll() is None:
            writer.kill()
    [left] = session_dir.glob(".tmp-*.json")
    assert not list(session_dir.glob("session-*.json"))

    # Later: the killed writer's file is old; another writer is busy with a fresh one right now.
    an_hour_ago = time.time() - 3600
    os.utime(left, (an_hour_ago, an_hour_ago))
    busy = session_dir / ".tmp-busy.json"
    busy.write_text("{")
    done = run_cli(env, "use", "testing", "--mfa-token", CODE)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert sorted(p.name for p in session_dir.glob(".tmp-*")) == [busy.name]
    [session] = session_dir.glob("session-*.json")
    assert cli_cache.credentials_from_entry(cli_cache.JsonFileCache(str(session_dir)).get(session.stem))


@only_single
def test_a_full_disk_still_gives_the_shell_its_credentials_with_one_warning(env, sts, home):
    done = subprocess.run(
        [*strace("inject=fsync:error=ENOSPC"), "use", "testing", "--mfa-token", CODE],
        env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    assert re.search(r"^export AWS_SESSION_TOKEN=\S+$", done.stdout, re.M)
    assert done.stderr == (
        f"geodesic-stage: could not cache credentials in {cache_root(home)}/geodesic-stage "
        "(No space left on device); they work in this shell only\n"
    )
    assert cached(home) == []


@needs_root
@only_single
def test_a_read_only_cache_still_gives_the_shell_its_credentials_with_one_warning(env, sts, home):
    root = cache_root(home)
    root.mkdir(parents=True)
    root.chmod(0o500)
    # As root, only without CAP_DAC_OVERRIDE does a 0500 directory refuse writes.
    done = subprocess.run(
        ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", str(BIN / "geodesic-stage"),
         "use", "testing", "--mfa-token", CODE],
        env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    assert re.search(r"^export AWS_SESSION_TOKEN=\S+$", done.stdout, re.M)
    [warning] = done.stderr.splitlines()
    assert "could not cache credentials" in warning and "Permission denied" in warning
    assert list(root.iterdir()) == []

"""Long runs outlive the one-hour role (issue 24): a credential endpoint that every SDK and both
AWS CLIs read (AWS_CONTAINER_CREDENTIALS_FULL_URI + AWS_CONTAINER_AUTHORIZATION_TOKEN), served by
`geodesic-stage exec --serve` for one command and by `stage use --serve` for a shell.

Against real parts: moto's STS behind the counting proxy, boto3, the AWS CLI v1 (the venv's) and
v2 (Debian's awscli), a pty bash with stage.sh sourced. Time moves with libfaketime (conftest's
FakeClock): the endpoint, its clients and a moto of their own read one clock the test moves.
"""

import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

import cliv2
from conftest import BIN, mfa_prompts, run_cli
from ptyshell import PS1

CODE = "123456"
MINUTES = 60
HOURS = 3600
ROLE_SESSION = re.compile(r"^arn:aws:sts::(\d{12}):assumed-role/[\w+=,.@-]+/geodesic-stage-[\w+=,.@-]+$")
ANY_TOPOLOGY = pytest.mark.parametrize("topology", ["single"])
TWO_ACCOUNTS = pytest.mark.parametrize("topology", ["organization"])
# Printed by a command exec --serve runs: what the endpoint gave it, and what it holds besides.
SHOW_ENV = (
    "import json, os; print(json.dumps({k: v for k, v in os.environ.items() "
    "if k.startswith(('AWS_', 'STAGE', 'GEODESIC_STAGE_PROFILE'))}), flush=True); "
    "import sys; sys.stdin.read()"
)


# --- helpers ---------------------------------------------------------------------------------

def ask(url: str, token=None, method: str = "GET") -> tuple:
    """(status, JSON body) of one request to an endpoint, as an SDK makes it."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.request(method, parts.path, headers={} if token is None else {"Authorization": token})
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        connection.close()


def closed(url: str, seconds: float = 10) -> bool:
    """Whether nothing listens at the endpoint's port any more (waiting up to `seconds` for it to end)."""
    parts = urlsplit(url)
    deadline = time.monotonic() + seconds
    while True:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=2)
        try:
            connection.connect()
        except ConnectionRefusedError:
            return True
        except ConnectionResetError:
            pass  # taken into the backlog of a listener that was closing: it is ending, look again
        finally:
            connection.close()
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)


def running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def ended(pid: int, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while running(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def records(home: Path) -> list:
    """The shell endpoints' records (serve/<shell>.json): what each names, read as root may."""
    return [json.loads(p.read_text()) for p in sorted((home / ".aws" / "cli" / "cache" / "geodesic-stage" / "serve").glob("*.json"))]


def server_pid(record: dict) -> int:
    return int(record["server"].split("-")[-2])


def served_command(env: dict, *args, code=CODE) -> subprocess.Popen:
    """`geodesic-stage exec --serve testing -- python -c SHOW_ENV`: running until its stdin closes."""
    mfa = ["--mfa-token", code] if code else []
    return subprocess.Popen(
        [str(BIN / "geodesic-stage"), "exec", "--serve", *args, "testing", *mfa, "--", sys.executable, "-c", SHOW_ENV],
        env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )


def finish(run: subprocess.Popen) -> int:
    try:
        run.stdin.close()
        return run.wait(30)
    finally:
        if run.poll() is None:
            run.kill()


def use_serving(shell, stage: str, options: str = "--serve") -> str:
    """`stage use STAGE --serve` with the code typed at the prompt; returns the next prompt line."""
    shell.child.sendline(f"stage use {stage} {options}".rstrip())
    shell.answer_mfa(CODE)
    return shell.prompt()


def held(shell, name: str) -> str:
    return shell.run(f'printf "%s\\n" "${{{name}-<unset>}}"').strip()


# --- exec --serve: one command -----------------------------------------------------------------

@ANY_TOPOLOGY
def test_exec_serve_gives_the_command_an_endpoint_and_no_keys_and_ends_with_it(env, topology, sts):
    # Whatever the caller holds that would outrank the endpoint, the command does not get.
    caller = dict(env, AWS_PROFILE="someone-else", AWS_DEFAULT_PROFILE="x", AWS_ACCESS_KEY_ID="AKIAOLD",
                  AWS_SECRET_ACCESS_KEY="old", AWS_SESSION_TOKEN="old", AWS_CONTAINER_CREDENTIALS_RELATIVE_URI="/v2/x",
                  AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE="/nonexistent")
    run = served_command(caller)
    given = json.loads(run.stdout.readline())
    url, token = given["AWS_CONTAINER_CREDENTIALS_FULL_URI"], given["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/cpco-testing-admin", url)
    assert re.fullmatch(r"[0-9a-f]{64}", token)
    assert (given["AWS_REGION"], given["AWS_DEFAULT_REGION"], given["STAGE"]) == ("us-west-2", "us-west-2", "testing")
    outranking = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
                  "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "AWS_CREDENTIAL_EXPIRATION"}
    assert not outranking & given.keys()

    status, body = ask(url, token)
    assert status == 200 and set(body) == {"AccessKeyId", "SecretAccessKey", "Token", "Expiration"}
    assert body["AccessKeyId"].startswith("ASIA") and body["Expiration"].endswith("Z")
    assert finish(run) == 0
    assert closed(url), "the endpoint outlived its command"


@ANY_TOPOLOGY
def test_exec_serve_exits_with_the_commands_status_and_signals_reach_the_command(env, topology, sts):
    done = run_cli(env, "exec", "--serve", "testing", "--mfa-token", CODE, "--", "sh", "-c", "exit 7")
    assert done.returncode == 7, done.stderr

    waits = ("import json, os, signal, sys, time\n"
             "signal.signal(signal.SIGTERM, lambda *a: (print('TERM', os.getpid(), flush=True), sys.exit(3)))\n"
             "print(json.dumps(dict(os.environ)), flush=True)\n"
             "time.sleep(60)\n")
    run = subprocess.Popen(
        [str(BIN / "geodesic-stage"), "exec", "--serve", "testing", "--", sys.executable, "-c", waits],
        env=env, stdout=subprocess.PIPE, text=True, start_new_session=True,
    )
    try:
        url = json.loads(run.stdout.readline())["AWS_CONTAINER_CREDENTIALS_FULL_URI"]
        # The command is the process exec started (exec keeps the pid): a signal to it is the command's.
        run.send_signal(signal.SIGTERM)
        assert run.stdout.readline().split() == ["TERM", str(run.pid)]
        assert run.wait(30) == 3
    finally:
        if run.poll() is None:
            run.kill()
    assert closed(url)


@ANY_TOPOLOGY
def test_exec_without_serve_keeps_what_it_gave_before_and_leaves_a_served_shells_endpoint_behind(env, topology, sts):
    endpoint = {"AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1:9/cpco-testing-admin",
                "AWS_CONTAINER_AUTHORIZATION_TOKEN": "0" * 64, "GEODESIC_STAGE_PROFILE": "cpco-testing-admin"}
    caller = dict(env, AWS_CONTAINER_CREDENTIALS_RELATIVE_URI="/v2/credentials/mine", **endpoint)
    done = run_cli(caller, "exec", "testing", "--mfa-token", CODE, "--", sys.executable, "-c",
                   "import json, os; print(json.dumps(dict(os.environ)))")
    assert done.returncode == 0, done.stderr
    given = json.loads(done.stdout)
    assert given["AWS_ACCESS_KEY_ID"].startswith("ASIA")
    # A platform's own variable, which the keys outrank anyway, goes along as it did before --serve existed.
    assert given["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"] == "/v2/credentials/mine"
    assert not endpoint.keys() & given.keys()


@ANY_TOPOLOGY
def test_an_endpoint_answers_only_a_get_with_its_token(env, topology, sts):
    run = served_command(env)
    given = json.loads(run.stdout.readline())
    url, token = given["AWS_CONTAINER_CREDENTIALS_FULL_URI"], given["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
    try:
        refused = {
            "no token": ask(url),
            "a wrong token": ask(url, "0" * 64),
            "the token with its last digit changed": ask(url, token[:-1] + ("0" if token[-1] != "0" else "1")),
            "the token as a bearer": ask(url, f"Bearer {token}"),
            "a POST with the token": ask(url, token, "POST"),
            "a PUT with the token": ask(url, token, "PUT"),
        }
        for what, (status, body) in refused.items():
            assert status in (401, 403), what
            assert "AccessKeyId" not in body and "SecretAccessKey" not in body and "Token" not in body, what
        assert refused["no token"][0] == 401
        assert ask(url.rsplit("/", 1)[0] + "/cpco-prod-admin", token)[0] == 404, "only the profile exec resolved"
        assert ask(url, token)[0] == 200
    finally:
        finish(run)


NOBODY_ASKS = """
import http.client, json, os, sys
from urllib.parse import urlsplit
url = urlsplit(os.environ["URL"])
c = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
c.request("GET", url.path, headers={"Authorization": os.environ["TOKEN"]} if os.environ.get("TOKEN") else {})
r = c.getresponse()
print(r.status, json.dumps(json.loads(r.read())))
"""


def as_nobody(script: str, **environ) -> list:
    done = subprocess.run(
        ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "/usr/bin/python3", "-c", script],
        env=dict(environ, PATH="/usr/bin:/bin"), capture_output=True, text=True, timeout=60, cwd="/",
    )
    assert done.returncode == 0, done.stderr
    status, body = done.stdout.split(" ", 1)
    return [int(status), json.loads(body)]


@ANY_TOPOLOGY
def test_another_user_gets_nothing_even_with_the_token(env, topology, sts):
    if os.geteuid() != 0 or not shutil.which("setpriv") or not os.path.exists("/usr/bin/python3"):
        pytest.skip("needs root, setpriv and /usr/bin/python3 to ask as nobody")
    run = served_command(env)
    given = json.loads(run.stdout.readline())
    url, token = given["AWS_CONTAINER_CREDENTIALS_FULL_URI"], given["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
    try:
        # The token is this user's secret (its environment and 0600 files); were it to leak, the
        # endpoint still asks the kernel whose socket is calling.
        for answer in (as_nobody(NOBODY_ASKS, URL=url), as_nobody(NOBODY_ASKS, URL=url, TOKEN=token)):
            assert answer[0] in (401, 403) and "AccessKeyId" not in answer[1], answer
        assert as_nobody(NOBODY_ASKS, URL=url, TOKEN=token)[0] == 403
        assert ask(url, token)[0] == 200
    finally:
        finish(run)


# --- three hours, one code, three kinds of client ----------------------------------------------

CLIENTS = r"""
import json, os, subprocess, sys
import boto3

session = boto3.Session()
sts = session.client("sts")
cli_v1, cli_v2, v2_environ = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
ask = ["sts", "get-caller-identity", "--query", "Arn", "--output", "text"]
for _ in sys.stdin:
    seen = {"boto3": sts.get_caller_identity()["Arn"], "key": session.get_credentials().get_frozen_credentials().access_key}
    for name, argv, extra in (("cli_v1", [cli_v1], {}), ("cli_v2", [cli_v2], v2_environ)):
        done = subprocess.run(argv + ask, env=dict(os.environ, **extra), capture_output=True, text=True)
        seen[name] = done.stdout.strip() or done.stderr.strip()[-300:]
    print(json.dumps(seen), flush=True)
"""


@ANY_TOPOLOGY
def test_a_three_hour_run_with_one_hour_roles_needs_one_code_for_boto3_and_both_clis(clocked_env, fake_clock, fake_sts, tmp_path, topology):
    cli_v2 = cliv2.require()
    # Only the v2 process gets what sends its STS client to the local one (our botocore reads AWS_DATA_PATH too).
    v2_environ = {k: v for k, v in cliv2.environ(clocked_env, tmp_path / "v2-data").items() if clocked_env.get(k) != v}
    run = subprocess.Popen(
        [str(BIN / "geodesic-stage"), "exec", "--serve", "testing", "--mfa-token", CODE, "--",
         sys.executable, "-c", CLIENTS, str(BIN / "aws"), str(cli_v2), json.dumps(v2_environ)],
        env=clocked_env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )
    seen = []
    try:
        # Every 25 minutes for 3 h 20 min: each renewal lands inside the clients' 15-minute window.
        for step in range(9):
            if step:
                fake_clock.advance(25 * MINUTES)
            run.stdin.write("call\n")
            run.stdin.flush()
            line = run.stdout.readline()
            assert line, run.stderr.read() if run.poll() is not None else "no answer"
            seen.append(json.loads(line))
        run.stdin.close()
        assert run.wait(60) == 0, run.stderr.read()
    finally:
        if run.poll() is None:
            run.kill()
    for at, answer in enumerate(seen):
        for client in ("boto3", "cli_v1", "cli_v2"):
            assert ROLE_SESSION.match(answer[client]), f"{client} at {at * 25} min: {answer[client]}"
    keys = [answer["key"] for answer in seen]
    assert len(set(keys)) >= 4, "boto3 renewed its credentials from the endpoint by itself, once an hour or so"
    assert fake_sts.count("GetSessionToken") == 1, "one MFA code in the morning"
    assert [p.get("TokenCode") for p in fake_sts.parameters("GetSessionToken")] == [CODE]
    assert all("TokenCode" not in p for p in fake_sts.parameters("AssumeRole")), "renewals used no code"
    assert 4 <= fake_sts.count("AssumeRole") <= 9


@ANY_TOPOLOGY
def test_when_only_a_person_can_renew_the_endpoint_says_stage_use_and_prompts_nobody(clocked_env, fake_clock, fake_sts, topology):
    run = served_command(clocked_env)
    given = json.loads(run.stdout.readline())
    url, token = given["AWS_CONTAINER_CREDENTIALS_FULL_URI"], given["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
    try:
        fake_clock.advance(12 * HOURS + 5 * MINUTES)
        status, body = ask(url, token)
        assert status >= 400 and "AccessKeyId" not in body
        assert "needs a new MFA code" in body["Message"] and "stage use testing" in body["Message"]
    finally:
        finish(run)
    assert fake_sts.count("GetSessionToken") == 1


@ANY_TOPOLOGY
def test_serving_from_the_cache_loads_neither_boto3_nor_prompt_toolkit(env, topology, sts):
    assert run_cli(env, "use", "testing", "--mfa-token", CODE).returncode == 0
    sts.reset()
    client = ("import http.client, os; from urllib.parse import urlsplit; "
              "u = urlsplit(os.environ['AWS_CONTAINER_CREDENTIALS_FULL_URI']); c = http.client.HTTPConnection(u.hostname, u.port); "
              "c.request('GET', u.path, headers={'Authorization': os.environ['AWS_CONTAINER_AUTHORIZATION_TOKEN']}); "
              "print(c.getresponse().status)")
    # -X importtime reports every import of the command and of the server it forks (--debug keeps the
    # server's stderr); the command exec becomes is a Python of its own, without the flag.
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "geodesic_stage", "--debug", "exec", "--serve", "testing", "--",
         sys.executable, "-c", client],
        env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
    )
    assert (done.returncode, done.stdout.strip()) == (0, "200"), done.stderr[-2000:]
    assert closed("http://127.0.0.1:" + re.search(r"on 127\.0\.0\.1:(\d+)", done.stderr).group(1))
    imported = {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert "geodesic_stage.serve.endpoint" in imported, "the server's own imports are in the report"
    heavy = {m for m in imported if m.split(".")[0] in ("boto3", "botocore", "prompt_toolkit")}
    assert heavy == set()
    assert sts.calls == []


@ANY_TOPOLOGY
def test_a_cached_use_serve_takes_the_quick_reader_and_loads_neither_boto3_nor_prompt_toolkit(env, topology, sts, home):
    assert run_cli(env, "use", "testing", "--mfa-token", CODE).returncode == 0
    sts.reset()
    # This test's process stands in for the shell the endpoint lives for (it is the command's parent).
    in_shell = dict(env, GEODESIC_STAGE_SHELL_PID=str(os.getpid()))
    try:
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "geodesic_stage", "use", "testing", "--serve"],
            env=in_shell, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert "export AWS_CONTAINER_CREDENTIALS_FULL_URI=" in done.stdout
    finally:
        assert run_cli(in_shell, "logout").returncode == 0
    imported = {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert "geodesic_stage.serve.shells" in imported
    assert "argparse" not in imported, "the quick reader, not the parser, read the words"
    assert {m for m in imported if m.split(".")[0] in ("boto3", "botocore", "prompt_toolkit")} == set()
    assert records(home) == [] and sts.calls == []


# --- stage use --serve: one endpoint per shell --------------------------------------------------

@TWO_ACCOUNTS
def test_a_shell_serves_its_stage_reuses_its_endpoint_on_a_switch_and_stops_it_at_logout(shell, topology, sts, home):
    s = shell(env={"AWS_PROFILE": "mine", "AWS_DEFAULT_PROFILE": "also-mine"})
    line = use_serving(s, "testing")
    assert line in (f"[testing 60m] {PS1}", f"[testing 59m] {PS1}")
    url, token = held(s, "AWS_CONTAINER_CREDENTIALS_FULL_URI"), held(s, "AWS_CONTAINER_AUTHORIZATION_TOKEN")
    assert url.endswith("/cpco-testing-admin")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        assert held(s, name) == "<unset>", name
    assert (held(s, "ASSUME_ROLE"), held(s, "GEODESIC_STAGE_PROFILE"), held(s, "STAGE")) == ("cpco-testing-admin",) * 2 + ("testing",)
    assert s.run("aws sts get-caller-identity --query Account --output text").strip() == "126450723953"
    (record,) = records(home)
    server = server_pid(record)
    assert record["port"] == urlsplit(url).port and record["token"] == token
    mode = (home / ".aws" / "cli" / "cache" / "geodesic-stage" / "serve")
    assert mode.stat().st_mode & 0o777 == 0o700 and all(p.stat().st_mode & 0o777 == 0o600 for p in mode.iterdir())

    status = s.run("stage status")
    assert re.search(r"^profile\s+cpco-testing-admin$", status, re.M)
    assert re.search(rf"^served\s+{re.escape(url)}$", status, re.M)
    assert re.search(r"^\*\s+testing\s", s.run("stage list"), re.M)

    # The next use points the same endpoint at its stage; a job started under testing keeps testing.
    assert MFA_ASKED not in s.run("stage use prod --serve")
    prod_url = held(s, "AWS_CONTAINER_CREDENTIALS_FULL_URI")
    assert urlsplit(prod_url).port == urlsplit(url).port and held(s, "AWS_CONTAINER_AUTHORIZATION_TOKEN") == token
    assert [server_pid(r) for r in records(home)] == [server]
    assert s.run("aws sts get-caller-identity --query Account --output text").strip() == "845490276530"
    assert ask(url, token)[0] == 200 and ask(prod_url, token)[0] == 200

    s.run("stage logout")
    assert s.last_prompt_line() == PS1
    assert ended(server) and closed(url) and records(home) == []
    assert (held(s, "AWS_PROFILE"), held(s, "AWS_DEFAULT_PROFILE")) == ("mine", "also-mine")
    for name in ("AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN", "GEODESIC_STAGE_PROFILE", "STAGE"):
        assert held(s, name) == "<unset>", name
    assert mfa_prompts(s) == 1


MFA_ASKED = "Enter MFA code"


@ANY_TOPOLOGY
@pytest.mark.parametrize("ending", ["exit", "SIGHUP", "SIGKILL"])
def test_a_shells_endpoint_ends_with_the_shell_however_it_ends(shell, topology, sts, home, ending):
    s = shell()
    use_serving(s, "testing")
    url = held(s, "AWS_CONTAINER_CREDENTIALS_FULL_URI")
    (record,) = records(home)
    server = server_pid(record)
    assert running(server)
    if ending == "exit":
        s.child.sendline("exit")
    else:
        # SIGHUP is what closing the terminal sends the shell.
        os.kill(s.child.pid, getattr(signal, ending))
    assert ended(server), f"the endpoint outlived a shell that ended by {ending}"
    assert closed(url)


@ANY_TOPOLOGY
def test_serving_is_the_default_with_geodesic_stage_serve_or_the_stages_file(shell, env, topology, sts, tmp_path):
    s = shell(env={"GEODESIC_STAGE_SERVE": "true"})
    use_serving(s, "testing", "")
    assert held(s, "AWS_CONTAINER_CREDENTIALS_FULL_URI").endswith("/cpco-testing-admin")
    assert held(s, "AWS_ACCESS_KEY_ID") == "<unset>"
    s.run("stage use testing --no-serve")
    assert held(s, "AWS_ACCESS_KEY_ID").startswith("ASIA")
    assert held(s, "AWS_CONTAINER_CREDENTIALS_FULL_URI") == "<unset>"

    stages = tmp_path / "stages.conf"
    stages.write_text("namespace = cpco\nserve = true\n")
    t = shell(env={"GEODESIC_STAGE_CONFIG": str(stages)})
    t.run("stage use testing")
    assert held(t, "AWS_CONTAINER_CREDENTIALS_FULL_URI").endswith("/cpco-testing-admin")
    u = shell(env={"GEODESIC_STAGE_CONFIG": str(stages), "GEODESIC_STAGE_SERVE": "false"})
    u.run("stage use testing")
    assert held(u, "AWS_ACCESS_KEY_ID").startswith("ASIA")

    # Without the stage function there is no shell to live for: the default gives keys, --serve says why not.
    outside = run_cli(dict(env, GEODESIC_STAGE_SERVE="true"), "use", "testing")
    assert outside.returncode == 0 and "export AWS_ACCESS_KEY_ID=" in outside.stdout
    refused = run_cli(env, "use", "testing", "--serve")
    assert (refused.returncode, refused.stdout) == (2, "")
    assert "stage use testing --serve" in refused.stderr and "exec --serve testing" in refused.stderr


@ANY_TOPOLOGY
def test_a_served_shell_runs_three_hours_on_one_code_and_its_prompt_says_when_a_person_must_act(shell, clocked_env, fake_clock, fake_sts, topology):
    s = shell(env=clocked_env)
    use_serving(s, "testing")
    url = held(s, "AWS_CONTAINER_CREDENTIALS_FULL_URI")
    arns = []
    for _ in range(6):
        fake_clock.advance(35 * MINUTES)
        arns.append(s.run("aws sts get-caller-identity --query Arn --output text").strip())
        # The label reads like a shell holding keys: the hook renewed before it ran out.
        assert re.fullmatch(rf"\[testing \d+m\] {re.escape(PS1)}", s.last_prompt_line()), s.last_prompt_line()
    assert all(ROLE_SESSION.match(arn) for arn in arns), arns
    assert held(s, "AWS_CONTAINER_CREDENTIALS_FULL_URI") == url, "the same endpoint all along"
    assert mfa_prompts(s) == 1 and fake_sts.count("GetSessionToken") == 1

    # The MFA session ends: the prompt says so once, naming the use as it was made (a renewal keeps
    # --serve), and the endpoint refuses with what to run (any use buys the session it renews from).
    fake_clock.advance(9 * HOURS)
    assert "run 'stage use testing --serve' for a new MFA code" in s.run("")
    assert s.last_prompt_line() == f"[testing expired] {PS1}"
    # The CLI on the real clock: between its tries it sleeps, which fails under libfaketime (EINVAL).
    out = s.run("env -u LD_PRELOAD aws sts get-caller-identity --query Arn --output text")
    assert "needs a new MFA code" in out and "run 'stage use testing'" in out and "arn:aws:sts" not in out
    assert "stage use" not in s.run("")
    assert mfa_prompts(s) == 1


# In one account every stage's profile names the same role: geodesic's own check, asked, would name
# the first profile that holds it (cpco-root-admin), so the served stage answers it as keys do.
@pytest.mark.parametrize("topology", ["single", "organization"])
def test_inside_geodesic_its_prompt_shows_the_served_profile_and_none_after_logout(shell, home, env, sts, topology):
    from test_geodesic import MARKS, drawn, first_prompt, geodesic_login, start_geodesic

    geodesic_login(home, env)
    active, inactive = MARKS["plain"]
    s = start_geodesic(shell, home, PROMPT_STYLE="plain")
    assert drawn(first_prompt(s)) == (inactive, "none")
    assert drawn(use_serving(s, "testing")) == (active, "cpco-testing-admin")
    for _ in range(3):
        s.run("")
        assert drawn(s.last_prompt_line()) == (active, "cpco-testing-admin")
    s.run("stage logout")
    assert drawn(s.last_prompt_line()) == (inactive, "none")

    # A login shell started for a stage, serving by default, with the MFA session cached: no prompt,
    # and geodesic's own identity check (it runs at the first prompt) names the same profile.
    t = start_geodesic(shell, home, PROMPT_STYLE="plain", STAGE="testing", GEODESIC_STAGE_SERVE="true")
    assert drawn(first_prompt(t)) == (active, "cpco-testing-admin")
    assert held(t, "AWS_CONTAINER_CREDENTIALS_FULL_URI").endswith("/cpco-testing-admin")
    transcript = "".join(s.transcript + t.transcript)
    assert "!mixed!" not in transcript and "Mismatch" not in transcript
    assert mfa_prompts(s, t) == 1


@ANY_TOPOLOGY
def test_inside_geodesic_a_served_profile_it_renames_keeps_its_check_as_with_keys(shell, home, env, sts, topology, tmp_path):
    """geodesic names a `*-identity` (or `default`) profile after another profile with its role: a
    served one is left to its check too (tests/test_geodesic.py has the same with keys)."""
    from test_geodesic import CHECK, CHECK_PROFILE, counted_geodesic, drawn

    with (home / ".aws" / "config").open("a") as config:
        config.write("\n[profile cpco-dev-identity]\nregion=us-west-2\nrole_arn=arn:aws:iam::323330167063:role/cpco-root-admin\n"
                     "mfa_serial=arn:aws:iam::323330167063:mfa/admin@cloudposse.co\nsource_profile=cpco\n")
    s, aws = counted_geodesic(shell, home, env, tmp_path)
    assert drawn(use_serving(s, "dev", "--role identity --serve")) == ("√", "cpco-root-admin")
    # No AWS_PROFILE is exported: its check asks the endpoint's credentials, then the default profile.
    assert aws.runs() == [CHECK, CHECK_PROFILE.format("default")]


@ANY_TOPOLOGY
def test_an_endpoint_that_cannot_start_is_one_line_and_the_shell_is_unchanged(shell, topology, sts, home):
    blocked = home / ".aws" / "cli" / "cache" / "geodesic-stage" / "serve"
    blocked.parent.mkdir(parents=True, mode=0o700)
    blocked.write_text("not a directory")
    s = shell()
    s.child.sendline("stage use testing --serve")
    s.answer_mfa(CODE)
    said = s.prompt()
    out = s.transcript[-1]
    assert "geodesic-stage: the credential endpoint did not start (Not a directory)" in out and "Traceback" not in out
    assert said == PS1 and s.run("echo $?").strip() == "2"
    assert held(s, "AWS_CONTAINER_CREDENTIALS_FULL_URI") == held(s, "STAGE") == "<unset>"

"""`stage console`: a sign-in URL for the stage's credentials through the federation endpoint."""

import json
import os
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from conftest import run_cli


@pytest.fixture
def federation():
    """A stand-in for signin.aws.amazon.com/federation that records what it was sent."""
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            query = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
            seen.append(query)
            body = json.dumps({"SigninToken": "token-123"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/federation", seen
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("topology", ["organization"], indirect=True)
def test_console_trades_the_stage_session_for_a_sign_in_url(env, federation):
    url, seen = federation
    env = dict(env, GEODESIC_STAGE_FEDERATION_URL=url)
    exported = run_cli(env, "env", "testing", "--format", "json", "--mfa-token", "123456")
    creds = json.loads(exported.stdout)

    done = run_cli(env, "console", "testing")

    assert done.returncode == 0, done.stderr
    printed = urllib.parse.urlparse(done.stdout.strip())
    login = urllib.parse.parse_qs(printed.query)
    assert login["Action"] == ["login"] and login["SigninToken"] == ["token-123"]
    assert login["Destination"] == ["https://console.aws.amazon.com/"]
    session = json.loads(seen[0]["Session"][0])
    assert seen[0]["Action"] == ["getSigninToken"]
    assert session == {
        "sessionId": creds["AWS_ACCESS_KEY_ID"],
        "sessionKey": creds["AWS_SECRET_ACCESS_KEY"],
        "sessionToken": creds["AWS_SESSION_TOKEN"],
    }


@pytest.mark.parametrize("topology", ["single"], indirect=True)
def test_console_open_hands_the_url_to_browser(env, federation, tmp_path):
    url, _ = federation
    # The browser, started detached, writes its argument into a FIFO: reading it waits for the
    # browser however slowly it starts, with no timing to tune.
    opened = tmp_path / "opened"
    os.mkfifo(opened)
    reader = os.open(opened, os.O_RDWR)  # holds the FIFO open, so neither side blocks on open
    browser = tmp_path / "browser"
    browser.write_text(f'#!/bin/sh\nprintf "%s\\n" "$1" > {opened}\n')
    browser.chmod(0o755)
    env = dict(env, GEODESIC_STAGE_FEDERATION_URL=url, BROWSER=str(browser))
    exported = json.loads(run_cli(env, "env", "testing", "--format", "json", "--mfa-token", "123456").stdout)

    done = run_cli(dict(env, **exported), "console", "--open")

    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    with os.fdopen(reader, "r") as fifo:
        assert "SigninToken=token-123" in fifo.readline()


@pytest.mark.parametrize("topology", ["single"], indirect=True)
def test_console_without_a_stage_in_use_says_what_to_do(env, federation):
    url, _ = federation
    done = run_cli(dict(env, GEODESIC_STAGE_FEDERATION_URL=url), "console")
    assert done.returncode == 2
    assert "stage use" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("topology", ["single"], indirect=True)
def test_console_with_a_dead_federation_endpoint_names_it(env, tmp_path):
    exported = json.loads(run_cli(env, "env", "testing", "--format", "json", "--mfa-token", "123456").stdout)
    dead = "http://127.0.0.1:9/federation"
    done = run_cli(dict(env, GEODESIC_STAGE_FEDERATION_URL=dead, **exported), "console")
    assert done.returncode == 1
    assert dead in done.stderr and done.stdout == ""


@pytest.mark.parametrize("topology", ["single"], indirect=True)
def test_console_open_with_a_browser_that_cannot_start_prints_the_url_and_one_line_why(env, federation):
    url, _ = federation
    env = dict(env, GEODESIC_STAGE_FEDERATION_URL=url, BROWSER="/nonexistent/bin/open")

    done = run_cli(env, "--debug", "console", "testing", "--open", "--mfa-token", "123456")

    assert done.returncode == 0, done.stderr
    assert "SigninToken=token-123" in done.stdout
    why = [line for line in done.stderr.splitlines() if not line.startswith("geodesic-stage[debug]")]
    assert why == ["geodesic-stage: cannot start /nonexistent/bin/open (No such file or directory); open this URL yourself:"]
    assert "token-123" not in done.stderr

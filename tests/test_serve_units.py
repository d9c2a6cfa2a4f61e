"""The credential endpoint's pure parts (issue 24): who gets an answer, whose socket is calling,
how a profile becomes a path, when a shell serves, and how a process is named for as long as it runs."""

import os
import socket
import subprocess
import sys
from datetime import datetime, timezone
from types import SimpleNamespace
from urllib.parse import unquote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geodesic_stage.errors import ConfigError, MfaUnavailable
from geodesic_stage.model import Credentials
from geodesic_stage.serve import daemon, endpoint, shells
from geodesic_stage.serve.target import NotServed, Target

TOKEN = "5e" * 32
CREDS = Credentials("ASIAEXAMPLE", "secret", "session-token", datetime(2026, 11, 29, 3, 6, 21, tzinfo=timezone.utc))


def serves(path):
    if path != "/cpco-testing-admin":
        raise NotServed(f"nothing at {path}")
    return CREDS


def decide(method="GET", path="/cpco-testing-admin", authorization=TOKEN, peer_allowed=True, credentials_for=serves):
    return endpoint.decide(method, path, authorization, TOKEN, peer_allowed, credentials_for)


def test_a_get_with_the_token_gets_the_four_fields_every_sdk_reads():
    assert decide() == (200, {
        "AccessKeyId": "ASIAEXAMPLE", "SecretAccessKey": "secret", "Token": "session-token",
        "Expiration": "2026-11-29T03:06:21Z",
    })
    assert decide(path="/cpco-testing-admin?x=1")[0] == 200


@pytest.mark.parametrize("case, expected", [
    (dict(authorization=None), 401),
    (dict(authorization=""), 403),
    (dict(authorization=TOKEN.upper()), 403),
    (dict(authorization=f"Bearer {TOKEN}"), 403),
    (dict(authorization=TOKEN + " "), 403),
    (dict(authorization="\u00ff" * 64), 403),
    (dict(peer_allowed=False), 403),
    (dict(peer_allowed=False, authorization=None), 403),
    (dict(method="POST"), 403),
    (dict(method="HEAD"), 403),
    (dict(method="DELETE", authorization=None), 401),
])
def test_anything_but_a_get_with_the_token_from_this_user_gets_no_credentials(case, expected):
    status, body = decide(**case)
    assert status == expected
    assert set(body) == {"Code", "Message"} and body["Message"].startswith("geodesic-stage: ")


@settings(max_examples=300)
@given(st.text(max_size=80))
def test_only_the_token_itself_opens_the_endpoint(authorization):
    status, body = decide(authorization=authorization)
    assert (status == 200) == (authorization == TOKEN)
    assert ("SecretAccessKey" in body) == (status == 200)


def test_what_is_not_served_and_what_only_a_person_can_renew_are_errors_that_say_so():
    assert decide(path="/cpco-prod-admin")[0] == 404

    def needs_a_person(path):
        raise MfaUnavailable("profile 'cpco-testing-admin' needs a new MFA code; the MFA session has expired: run 'stage use testing'")

    status, body = decide(credentials_for=needs_a_person)
    assert status == 500 and body["Code"] == "MfaUnavailable"
    assert "run 'stage use testing'" in body["Message"] and "AccessKeyId" not in body


TCP = """  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:A29C 0100007F:B3A1 01 00000000:00000000 00:00000000 00000000  1000        0 4711 1 0
   1: 0100007F:B3A1 0100007F:A29C 01 00000000:00000000 00:00000000 00000000     0        0 4712 1 0
"""
TCP6 = """  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0000000000000000FFFF00000100007F:C000 0000000000000000FFFF00000100007F:B3A1 01 00000000:00000000 00:00000000 00000000 65534        0 4713 1 0
"""


@pytest.mark.skipif(sys.byteorder != "little", reason="the sample tables are a little-endian kernel's")
def test_the_uid_of_the_calling_socket_is_read_from_the_kernels_tables(tmp_path):
    (tmp_path / "tcp").write_text(TCP)
    (tmp_path / "tcp6").write_text(TCP6)
    tables = (str(tmp_path / "tcp"), str(tmp_path / "tcp6"))
    server = ("127.0.0.1", 0xB3A1)
    assert endpoint.peer_uid(("127.0.0.1", 0xA29C), server, tables) == 1000
    # A dual-stack client (Java, say) shows in tcp6 as ::ffff:127.0.0.1.
    assert endpoint.peer_uid(("127.0.0.1", 0xC000), server, tables) == 65534
    assert endpoint.peer_uid(("127.0.0.1", 0x1234), server, tables) is None
    assert endpoint.peer_uid(("127.0.0.1", 0xA29C), server, (str(tmp_path / "absent"),)) is None


def test_a_real_loopback_connection_is_found_as_this_users():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        with socket.create_connection(listener.getsockname()):
            accepted, address = listener.accept()
            with accepted:
                assert endpoint.peer_uid(address, listener.getsockname()) == os.geteuid()
                assert endpoint.allowed_uid(os.geteuid()) and endpoint.allowed_uid(0)


@settings(max_examples=300)
@given(st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40))
def test_any_profile_name_becomes_one_plain_path_segment(profile):
    path = Target(stage="testing", profile=profile).path
    assert path.startswith("/") and all(c.isascii() and c.isprintable() and c not in "/?#\\ " for c in path[1:])
    assert unquote(path[1:]) == profile
    assert Target(stage="t", profile=profile).url(41234) == f"http://127.0.0.1:41234{path}"


@pytest.mark.parametrize("data", [
    None, [], {}, {"stage": "testing"}, {"stage": "", "profile": "p"}, {"stage": "t", "profile": 3},
    {"stage": "t", "profile": "p", "mfa_mode": "rude"}, {"stage": "t", "profile": "p", "session_seconds": "1"},
    {"stage": "t", "profile": "p", "region": ["us-east-1"]}, {"stage": "t", "profile": "p", "extra": 1},
])
def test_a_damaged_record_serves_nothing(data):
    assert Target.from_json(data) is None


def test_a_target_round_trips_through_its_record():
    target = Target(stage="testing", profile="cpco-testing-admin", region="eu-west-1", mfa_mode="direct", role_seconds=1800)
    assert Target.from_json(target.to_json()) == target


@pytest.mark.parametrize("flags, environ, in_file, expected", [
    ((True, False), {}, False, True),
    ((False, True), {"GEODESIC_STAGE_SERVE": "true"}, True, False),
    ((False, False), {"GEODESIC_STAGE_SERVE": "true"}, False, True),
    ((False, False), {"GEODESIC_STAGE_SERVE": "false"}, True, False),
    ((False, False), {}, True, True),
    ((False, False), {}, False, False),
    ((False, False), {"GEODESIC_STAGE_SERVE": "TRUE"}, False, True),
])
def test_whether_use_serves_a_flag_then_the_variable_then_the_stages_file(monkeypatch, flags, environ, in_file, expected):
    monkeypatch.delenv("GEODESIC_STAGE_SERVE", raising=False)
    monkeypatch.setenv(shells.SHELL_VARIABLE, str(os.getppid()))
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    assert shells.wanted(*flags, SimpleNamespace(serve=in_file), "testing") is expected


def test_without_the_stage_function_the_default_gives_keys_and_serve_says_why_not(monkeypatch):
    monkeypatch.delenv(shells.SHELL_VARIABLE, raising=False)
    monkeypatch.setenv("GEODESIC_STAGE_SERVE", "true")
    assert shells.wanted(False, False, SimpleNamespace(serve=True), "testing") is False
    with pytest.raises(ConfigError) as error:
        shells.wanted(True, False, SimpleNamespace(serve=False), "testing")
    assert "stage use testing --serve" in error.value.message and "exec --serve testing" in error.value.message
    with pytest.raises(ConfigError):
        shells.wanted(True, True, SimpleNamespace(serve=False), "testing")
    monkeypatch.setenv("GEODESIC_STAGE_SERVE", "perhaps")
    with pytest.raises(ConfigError):
        shells.wanted(False, False, SimpleNamespace(serve=False), "testing")


def test_a_process_is_named_for_as_long_as_it_runs_and_no_longer():
    me = daemon.identity(os.getpid())
    assert me and daemon.alive(me) and daemon.pid_of(me) == os.getpid()
    child = subprocess.Popen(["sleep", "30"])
    name = daemon.identity(child.pid)
    assert daemon.alive(name)
    child.kill()
    child.wait()
    assert not daemon.alive(name)
    # A reused pid starts later: the name of the earlier process does not fit it.
    assert not daemon.alive(f"{me.split('-')[0]}-{os.getpid()}-1")
    assert not daemon.alive(None) and not daemon.alive("not-a-name")


def test_only_an_ancestor_counts_as_the_shell_an_endpoint_lives_for():
    assert daemon.is_ancestor(os.getppid())
    sibling = subprocess.Popen(["sleep", "30"])
    try:
        assert not daemon.is_ancestor(sibling.pid)
        assert not daemon.is_ancestor(os.getpid())
    finally:
        sibling.kill()
        sibling.wait()

"""The AWS CLI v2 reaches the loopback fakes through tests/cliv2.py's rule sets, and only through them:
2.9.19 ignores AWS_ENDPOINT_URL_STS and --endpoint-url for the STS client behind a role profile."""

import json
import subprocess

import pytest

import cliv2

CODE = "123456\n"


def v2(env: dict, *args) -> subprocess.CompletedProcess:
    return subprocess.run([str(cliv2.require()), *args], env=env, input=CODE, capture_output=True, text=True,
                          timeout=60, start_new_session=True)


@pytest.mark.parametrize("topology", ["single"])
def test_v2_reaches_the_loopback_sts_through_the_rule_set_and_without_one_fails_on_loopback(env, sts, tmp_path):
    arguments = ("--profile", "cpco-testing-admin", "sts", "get-caller-identity", "--output", "json")
    unrouted = cliv2.environ(dict(env, AWS_MAX_ATTEMPTS="1"), tmp_path / "none", endpoints={})
    done = v2(unrouted, "--endpoint-url", sts.url, *arguments)
    assert done.returncode != 0 and f'Failed to connect to proxy URL: "{cliv2.NOWHERE}"' in done.stderr, done.stderr
    assert sts.calls == []

    done = v2(cliv2.environ(env, tmp_path / "rules"), *arguments)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["Account"] == "323330167063"
    assert [action for action, _ in sts.calls] == ["AssumeRole", "GetCallerIdentity"]

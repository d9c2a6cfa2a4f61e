"""Which stage a shell holds: STAGE with the keys `stage use` exported beside it. status, list,
console and refresh answer the same way from the same environment."""

import json

import pytest

from conftest import run_cli

ANY_TOPOLOGY = pytest.mark.parametrize("topology", ["single"])
CODE = "123456"


def answers(env: dict) -> dict:
    """Whether each command sees a stage in use in `env`."""
    status = run_cli(env, "status")
    listed = json.loads(run_cli(env, "list", "--json").stdout)
    console = run_cli(dict(env, GEODESIC_STAGE_FEDERATION_URL="http://127.0.0.1:9/federation"), "console")
    refresh = run_cli(env, "refresh")
    return {
        "status": not status.stdout.startswith("no stage in use"),
        "list": any(row["current"] for row in listed),
        "console": "no stage in use" not in console.stderr,
        "refresh": "no stage in use" not in refresh.stderr,
    }


@ANY_TOPOLOGY
def test_every_command_agrees_on_whether_a_stage_is_in_use(env, topology, sts):
    exported = json.loads(run_cli(env, "env", "testing", "--format", "json", "--mfa-token", CODE).stdout)
    assert exported["STAGE"] == "testing"

    assert set(answers(dict(env, **exported)).values()) == {True}
    without_keys = {k: v for k, v in dict(env, **exported).items() if k != "AWS_ACCESS_KEY_ID"}
    assert set(answers(without_keys).values()) == {False}
    without_stage = {k: v for k, v in dict(env, **exported).items() if k != "STAGE"}
    assert set(answers(without_stage).values()) == {False}

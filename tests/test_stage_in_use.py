"""Which stage a shell holds: STAGE with the keys `stage use` exported beside it, or with the profile
its credential endpoint serves (`stage use --serve`). status, list, console and refresh answer the
same way from the same environment."""

import json

import pytest

from conftest import run_cli

ANY_TOPOLOGY = pytest.mark.parametrize("topology", ["single"])
CODE = "123456"
# What `stage use --serve` exports in the keys' place (no endpoint listens there: nothing here asks it).
SERVED = {"GEODESIC_STAGE_PROFILE": "cpco-testing-admin", "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1:9/cpco-testing-admin"}


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

    served = dict(without_keys, **SERVED)
    served = {k: v for k, v in served.items() if k not in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE")}
    assert set(answers(served).values()) == {True}
    # An endpoint the platform gives (EKS Pod Identity, ECS) beside a STAGE of the user's own is no stage of ours.
    platform = {k: v for k, v in served.items() if k != "GEODESIC_STAGE_PROFILE"}
    assert set(answers(platform).values()) == {False}


@ANY_TOPOLOGY
def test_bash_and_python_decide_it_from_the_same_variables(env, topology, sts):
    """stage.sh's __geodesic_stage_current and context.stage_in_use agree on every mix of the variables
    `stage use` and `stage use --serve` export: a user's own keys (no expiration) beside STAGE are no
    stage in use, nor is an endpoint a platform exports."""
    import itertools
    import subprocess

    from conftest import ROOT
    from geodesic_stage.context import HELD_BY, IN_USE, stage_in_use

    exported = dict(json.loads(run_cli(env, "env", "testing", "--format", "json", "--mfa-token", CODE).stdout), **SERVED)
    names = ("STAGE", "AWS_ACCESS_KEY_ID", "AWS_CREDENTIAL_EXPIRATION", "AWS_SESSION_TOKEN", *SERVED)
    assert set(IN_USE) | set(HELD_BY) <= set(names)
    for kept in itertools.product((True, False), repeat=len(names)):
        given = {name: exported[name] for name, keep in zip(names, kept) if keep}
        bash = subprocess.run(
            ["bash", "--norc", "--noprofile", "-c", f'. "{ROOT}/rootfs/etc/profile.d/stage.sh"; __geodesic_stage_current'],
            env={"PATH": env["PATH"], "HOME": env["HOME"], "GEODESIC_STAGE_AUTO": "false", **given},
            capture_output=True, timeout=30,
        ).returncode == 0
        assert bash == (stage_in_use(given) is not None), sorted(given)
    assert stage_in_use({k: exported[k] for k in ("STAGE", "AWS_ACCESS_KEY_ID")}) is None, "keys exported by hand"
    assert stage_in_use({k: exported[k] for k in ("STAGE", "AWS_CREDENTIAL_EXPIRATION", *SERVED)}) == "testing", "served"

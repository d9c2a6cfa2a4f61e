"""What `stage use`, `stage logout` and `geodesic-stage env` print: quoted so hostile values never run."""

import json
import os
import re
import subprocess
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geodesic_stage import render
from geodesic_stage.errors import ConfigError
from geodesic_stage.model import Credentials, Profile, Stage, StageCredentials

EXPIRES = datetime(2026, 11, 29, 3, 6, 21, tzinfo=timezone.utc)
SESSION_EXPIRES = datetime(2026, 11, 29, 14, 6, 21, tzinfo=timezone.utc)
# Relative to the directory bash runs in (the `workdir` fixture).
CANARY = "executed"
# Ways a value could break out of its quoting, each of which would create the canary file if run.
INJECTIONS = [
    f"$(touch {CANARY})",
    f"`touch {CANARY}`",
    f"'; touch {CANARY}; '",
    f"'$(touch {CANARY})'",
    f'"; touch {CANARY}; "',
    f"\ntouch {CANARY}\n",
    f"';touch {CANARY};'\n",
    f"'\\''; touch {CANARY} #",
    f"; touch {CANARY}",
    f"&& touch {CANARY}",
    f"| touch {CANARY}",
    f"${{IFS}}$(touch${{IFS}}{CANARY})",
    f"$((0))$(touch {CANARY})",
    f"\\'$(touch {CANARY})\\'",
    f"{{touch,{CANARY}}}",
    f"~;touch {CANARY}",
]
HOSTILE = st.lists(
    st.one_of(st.text(st.characters(blacklist_characters="\0", blacklist_categories=("Cs",))), st.sampled_from(INJECTIONS)),
    max_size=4,
).map("".join)
SAMPLE = dict(
    access_key="ASIAIOSFODNN7EXAMPLE", secret="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    token="FwoGZXIvYXdzEJr//////////wEaDH+token/with+slashes==", region="us-west-2",
    profile="cpco-testing-admin", stage="testing",
)
# Prints every variable a `use` may change (render.HANDED) the eval'd block left set, as NAME=VALUE NUL.
READ_BACK = 'eval "$(cat)" || exit 99; for n in ' + " ".join(render.HANDED) + '; do [ -n "${!n+set}" ] && printf "%s=%s\\0" "$n" "${!n}"; done; true'


def session(access_key, secret, token, region, profile, stage):
    return StageCredentials(
        stage=Stage(name=stage, profile=Profile(name=profile, role_arn="arn:aws:iam::126450723953:role/Admin", region=region)),
        credentials=Credentials(access_key, secret, token, EXPIRES),
        session_expiration=SESSION_EXPIRES,
    )


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("canary")


def eval_in_bash(block: str, cwd, environ=None) -> dict:
    """Pipe `block` into a real bash that evals it, and return the variables it then holds."""
    result = subprocess.run(
        ["bash", "--noprofile", "--norc", "-c", READ_BACK],
        input=block.encode("utf-8"),
        capture_output=True,
        cwd=cwd,
        env=dict({"PATH": os.environ["PATH"], "LC_ALL": "C.UTF-8"}, **(environ or {})),
        timeout=30,
    )
    assert result.returncode == 0, result.stderr.decode("utf-8", "replace")
    assert result.stderr == b""
    fields = result.stdout.decode("utf-8").split("\0")[:-1]
    return dict(field.split("=", 1) for field in fields)


# The block's first line: every variable a use may change (the keys' and the endpoint's, and what
# would outrank the endpoint), for the `stage` function to keep the user's own; the thresholds.
HEADER = (
    "__geodesic_stage_variables='AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN "
    "AWS_CREDENTIAL_EXPIRATION AWS_SESSION_EXPIRATION AWS_REGION AWS_DEFAULT_REGION AWS_PROFILE ASSUME_ROLE KUBECONFIG DOCKER_CONFIG "
    "STAGE GEODESIC_STAGE_USED_WITH AWS_CONTAINER_CREDENTIALS_FULL_URI AWS_CONTAINER_AUTHORIZATION_TOKEN GEODESIC_STAGE_PROFILE "
    "AWS_DEFAULT_PROFILE AWS_CONTAINER_CREDENTIALS_RELATIVE_URI AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE' "
    # where the shell finds the switches it can replay (switch.py)
    "__geodesic_stage_switches=" + render.quote(os.path.expanduser("~/.aws/cli/cache/geodesic-stage/switch")) + " "
    "__geodesic_stage_renew_at=600 __geodesic_stage_login_renew_at=900 __geodesic_stage_retry_after=60 __geodesic_stage_margin=60\n"
)
URL = "http://127.0.0.1:41234/cpco-testing-admin"
TOKEN = "9f" * 32


def test_use_block_exports_every_variable_the_spec_lists():
    block = render.render_exports(session(**SAMPLE))
    assert block == (
        HEADER
        + "export AWS_ACCESS_KEY_ID=ASIAIOSFODNN7EXAMPLE\n"
        "export AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"
        "export AWS_SESSION_TOKEN=FwoGZXIvYXdzEJr//////////wEaDH+token/with+slashes==\n"
        "export AWS_CREDENTIAL_EXPIRATION=2026-11-29T03:06:21Z\n"
        "export AWS_SESSION_EXPIRATION=2026-11-29T14:06:21Z\n"
        "export AWS_REGION=us-west-2\n"
        "export AWS_DEFAULT_REGION=us-west-2\n"
        "export AWS_PROFILE=cpco-testing-admin\n"
        "export ASSUME_ROLE=cpco-testing-admin\n"
        "export STAGE=testing\n"
    )


def test_a_served_use_block_exports_the_endpoint_and_unsets_what_would_outrank_it(workdir):
    block = render.render_endpoint_exports(session(**SAMPLE), URL, TOKEN)
    assert block == (
        HEADER
        + "unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE AWS_DEFAULT_PROFILE "
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE\n"
        f"export AWS_CONTAINER_CREDENTIALS_FULL_URI={URL}\n"
        f"export AWS_CONTAINER_AUTHORIZATION_TOKEN={TOKEN}\n"
        "export AWS_CREDENTIAL_EXPIRATION=2026-11-29T03:06:21Z\n"
        "export AWS_SESSION_EXPIRATION=2026-11-29T14:06:21Z\n"
        "export AWS_REGION=us-west-2\n"
        "export AWS_DEFAULT_REGION=us-west-2\n"
        "export GEODESIC_STAGE_PROFILE=cpco-testing-admin\n"
        "export ASSUME_ROLE=cpco-testing-admin\n"
        "export STAGE=testing\n"
    )
    before = {name: "old" for name in render.HANDED}
    held = eval_in_bash(block, workdir, before)
    assert not set(held) & {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", *render.OUTRANKING}
    assert held["AWS_CONTAINER_CREDENTIALS_FULL_URI"] == URL and held["AWS_CONTAINER_AUTHORIZATION_TOKEN"] == TOKEN


def test_the_stage_kubeconfig_and_docker_config_go_with_the_keys_and_with_the_endpoint(workdir):
    tools = {"KUBECONFIG": "/home/me/.aws/cli/cache/geodesic-stage/eks/kubeconfig/testing.cpco-testing-admin.json",
             "DOCKER_CONFIG": "/home/me/.aws/cli/cache/geodesic-stage/ecr/docker/testing.cpco-testing-admin"}
    for block in (render.render_exports(session(**SAMPLE), "", tools), render.render_endpoint_exports(session(**SAMPLE), URL, TOKEN, "", tools)):
        held = eval_in_bash(block, workdir)
        assert {name: held.get(name) for name in tools} == tools
        assert block.endswith("export STAGE=testing\n")


def test_exec_serve_gives_the_endpoint_the_region_and_the_stage_and_nothing_else():
    given = render.endpoint_environment(session(**dict(SAMPLE, region=None)), URL, TOKEN, {"AWS_REGION": "eu-west-1"})
    assert given == {
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": URL, "AWS_CONTAINER_AUTHORIZATION_TOKEN": TOKEN,
        "AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-1", "STAGE": "testing",
    }


@settings(max_examples=100, deadline=None)
@given(region=HOSTILE, profile=HOSTILE, stage=HOSTILE)
def test_hostile_names_in_a_served_block_eval_to_exactly_themselves_and_never_run(workdir, region, profile, stage):
    hostile = session(SAMPLE["access_key"], SAMPLE["secret"], SAMPLE["token"], region or None, profile, stage)
    held = eval_in_bash(render.render_endpoint_exports(hostile, URL, TOKEN), workdir)
    assert not (workdir / CANARY).exists()
    assert (held["GEODESIC_STAGE_PROFILE"], held["ASSUME_ROLE"], held["STAGE"]) == (profile, profile, stage)
    assert held.get("AWS_REGION") == (region or None)


def test_the_thresholds_stage_sh_falls_back_on_are_the_ones_python_hands_it():
    """One home: the block's first line hands them over; stage.sh's defaults, for a shell that
    has run no `stage use` yet, must say the same."""
    from ptyshell import STAGE_SH

    handed = dict(word.split("=", 1) for word in render.render_exports(session(**SAMPLE)).splitlines()[0].split()[-3:])
    script = STAGE_SH.read_text()
    for name, value in handed.items():
        defaults = set(re.findall(r"\$\{" + name + r":-(\d+)\}", script))
        assert defaults == {value}, f"{name}: stage.sh falls back on {defaults}, Python says {value}"


def test_inside_geodesic_the_block_hands_over_the_credentials_files_mtime_as_geodesics_hook_reads_it(tmp_path, monkeypatch):
    """geodesic's identity hook fingerprints `stat -c %Y` of ${AWS_SHARED_CREDENTIALS_FILE:-$GEODESIC_AWS_HOME/credentials}
    (a link itself, not what it points to); stage.sh answers the hook with the figure Python hands over."""
    import shlex

    def handed() -> dict:
        return dict(word.split("=", 1) for word in shlex.split(render.render_exports(session(**SAMPLE)).splitlines()[0]))

    def stat(path) -> str:
        return subprocess.run(["stat", "-c", "%Y", str(path)], capture_output=True, text=True).stdout.strip()

    target, aws = tmp_path / "keys", tmp_path / ".aws"
    target.write_text("[cpco]\n")
    aws.mkdir()
    (aws / "credentials").symlink_to(target)
    os.utime(target, (1_000_000_000, 1_000_000_000))
    os.utime(aws / "credentials", (1_500_000_000, 1_500_000_000), follow_symlinks=False)
    monkeypatch.delenv("AWS_SHARED_CREDENTIALS_FILE", raising=False)
    monkeypatch.delenv("GEODESIC_AWS_HOME", raising=False)
    assert "__geodesic_stage_credentials_mtime" not in handed(), "outside geodesic the block is as it was"

    monkeypatch.setenv("GEODESIC_AWS_HOME", str(aws))
    assert handed()["__geodesic_stage_credentials_mtime"] == stat(aws / "credentials") == "1500000000"
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(target))
    assert handed()["__geodesic_stage_credentials_mtime"] == stat(target) == "1000000000"
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    assert handed()["__geodesic_stage_credentials_mtime"] == stat(tmp_path / "none") == ""


def test_use_block_for_a_profile_without_region_leaves_the_region_alone(workdir):
    block = render.render_exports(session(**dict(SAMPLE, region=None)))
    assert "AWS_REGION" not in block.split("\n", 1)[1]
    held = eval_in_bash(block, workdir, {"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-1"})
    assert held["AWS_REGION"] == held["AWS_DEFAULT_REGION"] == "eu-west-1"
    assert held["STAGE"] == "testing"


def test_scripts_get_no_profile_name_and_a_regionless_profile_takes_the_callers_region():
    portable = render.portable_environment(session(**dict(SAMPLE, region=None)), {"AWS_DEFAULT_REGION": "eu-west-1"})
    assert list(portable) == [
        "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_CREDENTIAL_EXPIRATION",
        "AWS_SESSION_EXPIRATION", "AWS_REGION", "AWS_DEFAULT_REGION", "STAGE",
    ]
    assert portable["AWS_REGION"] == "eu-west-1"
    assert render.portable_environment(session(**SAMPLE), {"AWS_REGION": "eu-west-1"})["AWS_REGION"] == "us-west-2"


def test_logout_block_unsets_every_variable_use_sets(workdir):
    block = render.render_unset()
    assert block.endswith("\n") and block.count("\n") == 1
    assert block.split() == ["unset", *render.VARIABLES, *render.ENDPOINT_VARIABLES]
    assert eval_in_bash(block, workdir, {name: "old" for name in render.VARIABLES + render.ENDPOINT_VARIABLES}) == {}


def test_json_format_holds_the_same_variables():
    env = render.environment(session(**SAMPLE))
    assert json.loads(render.render(env, "json")) == env
    assert list(json.loads(render.render(env, "json"))) == list(env)


def test_dotenv_format_is_one_single_quoted_literal_line_per_variable():
    env = render.environment(session(**dict(SAMPLE, profile='we"ird $HOME`id`\\n', region=None)))
    lines = render.render(env, "dotenv").splitlines()
    assert lines[0] == "AWS_ACCESS_KEY_ID='ASIAIOSFODNN7EXAMPLE'"
    assert "AWS_PROFILE='we\"ird $HOME`id`\\n'" in lines
    assert [line.split("=", 1)[0] for line in lines] == list(env)


@pytest.mark.parametrize("value", ["it's", "two\nlines", "cr\rhere"])
def test_dotenv_refuses_values_it_cannot_carry_literally(value):
    with pytest.raises(ConfigError) as error:
        render.render({"AWS_PROFILE": value}, "dotenv")
    assert "--format sh" in error.value.message


@pytest.mark.parametrize("fmt", ["sh", "dotenv"])
def test_a_lone_surrogate_is_a_config_error_not_a_crash_on_output(fmt):
    with pytest.raises(ConfigError):
        render.render({"AWS_PROFILE": "bad\udc80"}, fmt)


def test_safe_values_stay_bare_and_others_are_single_quoted():
    assert render.quote("arn:aws:iam::1:role/a@b,c=d+e%f") == "arn:aws:iam::1:role/a@b,c=d+e%f"
    assert render.quote("") == "''"
    assert render.quote("it's") == "'it'\\''s'"
    assert render.quote("~") == "'~'"


@pytest.mark.parametrize("fmt", ["sh", "dotenv"])
def test_a_nul_byte_in_a_value_is_a_config_error_that_does_not_repeat_the_value(fmt):
    env = render.environment(session(**dict(SAMPLE, secret="sec\0ret-value")))
    with pytest.raises(ConfigError) as error:
        render.render(env, fmt)
    assert "NUL" in error.value.message
    assert "ret-value" not in error.value.message


def test_a_nul_byte_in_a_profile_name_is_refused_by_the_use_block():
    with pytest.raises(ConfigError):
        render.render_exports(session(**dict(SAMPLE, profile="cpco\0testing")))


def test_json_carries_a_nul_byte_escaped_rather_than_refusing_it():
    env = {"AWS_PROFILE": "a\0b"}
    text = render.render(env, "json")
    assert "\0" not in text
    assert json.loads(text) == env


@pytest.mark.parametrize("fmt", render.FORMATS)
@pytest.mark.parametrize("name", ["1ABC", "A B", "A;B", "$(touch x)", "", "A\nB"])
def test_variable_names_that_a_shell_cannot_hold_are_refused(fmt, name):
    if fmt == "json":
        assert json.loads(render.render({name: "v"}, fmt)) == {name: "v"}
        return
    with pytest.raises(ConfigError):
        render.render({name: "v"}, fmt)
    with pytest.raises(ConfigError):
        render.render_unset([name])


@settings(max_examples=200, deadline=None)
@given(access_key=HOSTILE, secret=HOSTILE, token=HOSTILE, region=HOSTILE, profile=HOSTILE, stage=HOSTILE)
def test_hostile_values_eval_to_exactly_themselves_and_never_run(workdir, access_key, secret, token, region, profile, stage):
    hostile = session(access_key, secret, token, region or None, profile, stage)
    held = eval_in_bash(render.render_exports(hostile), workdir, {"AWS_REGION": "stale", "AWS_DEFAULT_REGION": "stale"})
    assert not (workdir / CANARY).exists()
    kept = {} if region else {"AWS_REGION": "stale", "AWS_DEFAULT_REGION": "stale"}
    assert held == dict(kept, **render.environment(hostile))


@settings(max_examples=300, deadline=None)
@given(env=st.dictionaries(st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True), HOSTILE, max_size=6))
def test_json_output_round_trips_any_values_exactly(env):
    assert json.loads(render.render(env, "json")) == env


@settings(max_examples=200, deadline=None)
@given(env=st.dictionaries(st.sampled_from(render.VARIABLES), HOSTILE, max_size=6))
def test_dotenv_output_sourced_by_bash_is_literal_and_never_runs(workdir, env):
    try:
        block = render.render(env, "dotenv")
    except ConfigError:
        assert any("'" in v or "\n" in v or "\r" in v for v in env.values())
        return
    held = eval_in_bash("set -a\n" + block, workdir, {})
    assert not (workdir / CANARY).exists()
    assert {k: held.get(k) for k in env} == env

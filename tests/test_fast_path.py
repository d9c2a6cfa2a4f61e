"""The paths people feel stay light: a cached `stage use`, `status`, `list` and
`logout` never load boto3, botocore or prompt_toolkit, and an ordinary prompt
starts no process. Proved by what Python reports importing and by what strace
sees bash do, never by a stopwatch."""

import configparser
import json
import re
import shlex
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import DATA, run_cli
from geodesic_stage import awsconfig
from ptyshell import STAGE_SH

CODE = "123456"
HEAVY = ("boto3", "botocore", "prompt_toolkit")
ANY_TOPOLOGY = pytest.mark.parametrize("topology", ["single"])


def imported_modules(env: dict, *args) -> set:
    """The modules `python -X importtime -m geodesic_stage ARGS` loads; fails if the command fails."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "geodesic_stage", *args],
        env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("import time:")]
    return {line.rsplit("|", 1)[1].strip() for line in lines[1:]}


def heavy(modules: set) -> set:
    return {m for m in modules if m.split(".")[0] in HEAVY}


def exported(block: str) -> dict:
    """The variables an export block sets, as the shell would hold them."""
    return dict(shlex.split(line)[1].split("=", 1) for line in block.splitlines() if line.startswith("export "))


@ANY_TOPOLOGY
def test_a_cached_use_and_the_everyday_commands_never_load_boto3_or_prompt_toolkit(env, topology, sts):
    first = imported_modules(env, "use", "testing", "--mfa-token", CODE)
    assert "botocore.session" in first and "boto3" in first, "the first use talks to STS through boto3"

    sts.reset()
    cached = run_cli(env, "use", "testing")
    assert cached.returncode == 0 and sts.calls == []
    in_stage = dict(env, **exported(cached.stdout))

    for args, shell_env in ((("use", "testing"), env), (("status",), in_stage), (("list",), in_stage), (("logout",), in_stage)):
        modules = imported_modules(shell_env, *args)
        assert "geodesic_stage.cli" in modules
        assert heavy(modules) == set(), f"{' '.join(args)} imported {sorted(heavy(modules))}"
    assert sts.calls == []


CHAIN = """
[profile cpco-identity-admin]
region = us-west-2
role_arn = arn:aws:iam::323330167063:role/cpco-identity-admin
mfa_serial = arn:aws:iam::323330167063:mfa/admin@cloudposse.co
source_profile = cpco

[profile cpco-chain-admin]
region = us-west-2
role_arn = arn:aws:iam::126450723953:role/cpco-chain-admin
source_profile = cpco-identity-admin
"""


@ANY_TOPOLOGY
def test_a_cached_role_chain_is_served_from_its_final_link_without_boto3(env, topology, sts, home):
    config = home / ".aws" / "config"
    config.write_text(config.read_text() + CHAIN)
    first = run_cli(env, "use", "chain", "--mfa-token", CODE)
    assert first.returncode == 0, first.stderr
    assert [action for action, _ in sts.calls] == ["GetSessionToken", "AssumeRole", "AssumeRole"]

    sts.reset()
    modules = imported_modules(env, "use", "chain")
    assert "geodesic_stage.chain" in modules
    assert heavy(modules) == set(), f"a cached chain imported {sorted(heavy(modules))}"
    assert sts.calls == []


def strace_prompts(env: dict, tmp_path, before: list, geodesic: bool, at_start: str = ":") -> tuple:
    """An interactive bash (stdin a script) runs the lines `before`, then `at_start` and draws
    50 ordinary prompts between two markers; every prompt runs PROMPT_COMMAND, as at a terminal.

    Returns strace's lines between the markers (processes started there) and what bash printed."""
    start, end, log = tmp_path / "marker-start", tmp_path / "marker-end", tmp_path / "strace.log"
    start.write_text("")
    end.write_text("")
    setup = [f"source {DATA / 'shell-geodesic-prompt.sh'}"] if geodesic else []
    script = "\n".join(
        [*setup, f"source {STAGE_SH}", *before, f"{at_start}; : < {start}", *[""] * 50, f": < {end}",
         'printf "after %s %s\\n" "$AWS_CREDENTIAL_EXPIRATION" "${__geodesic_stage_state-}"', "exit"]
    ) + "\n"
    done = subprocess.run(
        ["strace", "-f", "-qq", "-o", str(log), "-e", "trace=execve,clone,clone3,fork,vfork,openat",
         "bash", "--noprofile", "--norc", "-i"],
        input=script, env=dict(env, PS1="PROMPT$ ", TZ="UTC"), capture_output=True, text=True, timeout=120,
    )
    trace = log.read_text().splitlines()
    begin = next(i for i, line in enumerate(trace) if str(start) in line)
    finish = next(i for i, line in enumerate(trace) if str(end) in line)
    prompts = done.stderr.count("PROMPT$ ")
    assert prompts > 50, done.stderr
    return trace[begin + 1 : finish], done.stdout


def processes(trace: list) -> list:
    return [line for line in trace if re.search(r"\b(execve|clone3?|v?fork)\(", line)]


@ANY_TOPOLOGY
@pytest.mark.parametrize("geodesic", [False, True], ids=["plain-bash", "geodesic-prompt-hooks"])
def test_an_ordinary_prompt_starts_no_process(env, topology, sts, tmp_path, geodesic):
    assert run_cli(env, "use", "testing", "--mfa-token", CODE).returncode == 0

    trace, after = strace_prompts(env, tmp_path, ["stage use testing"], geodesic)

    assert processes(trace) == []
    assert re.fullmatch(r"after \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ active\n", after)


@ANY_TOPOLOGY
@pytest.mark.parametrize("geodesic", [False, True], ids=["plain-bash", "geodesic-prompt-hooks"])
def test_credentials_about_to_expire_are_renewed_by_one_process_at_one_prompt(env, topology, sts, tmp_path, geodesic):
    assert run_cli(env, "use", "testing", "--mfa-token", CODE).returncode == 0
    cached = exported(run_cli(env, "use", "testing").stdout)["AWS_CREDENTIAL_EXPIRATION"]
    five_minutes_left = "printf -v AWS_CREDENTIAL_EXPIRATION '%(%Y-%m-%dT%H:%M:%SZ)T' $((EPOCHSECONDS + 300))"

    trace, after = strace_prompts(env, tmp_path, ["stage use testing"], geodesic, at_start=five_minutes_left)

    started = [line for line in processes(trace) if "execve(" in line]
    assert len(started) == 1 and "geodesic-stage" in started[0], processes(trace)
    assert after == f"after {cached} active\n", "the hook renewed from the cache"


def many_stages_config(stages: int, roles=("admin", "ops", "read", "audit", "billing")) -> str:
    """An organization of `stages` member accounts, a profile per role in each."""
    sections = []
    for i in range(stages):
        stage = "testing" if i == 0 else f"s{i:04d}"
        for role in roles:
            sections.append(
                f"[profile cpco-{stage}-{role}]\nregion = us-west-2\n"
                f"role_arn = arn:aws:iam::{100000000000 + i}:role/OrganizationAccountAccessRole-{role}\n"
                "mfa_serial = arn:aws:iam::323330167063:mfa/admin@cloudposse.co\nsource_profile = cpco\n"
            )
    return "\n".join(sections)


@ANY_TOPOLOGY
def test_with_5000_profiles_list_shows_1000_stages_and_use_stays_light(env, topology, sts, home):
    (home / ".aws" / "config").write_text(many_stages_config(1000))
    assert run_cli(env, "use", "testing", "--mfa-token", CODE).returncode == 0

    listed = run_cli(env, "list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert len(rows) == 1000
    assert [r["stage"] for r in rows if r["left"] is not None] == ["testing"]
    assert heavy(imported_modules(env, "use", "testing")) == set()


# Lines an AWS config file holds, and the odd ones configparser has rules for.
LINE = st.one_of(
    st.sampled_from(["", "  ", "# note", "; note", "  # indented note", "[DEFAULT]", "[]", "[ a ]", "[a] b", "[a]]"]),
    st.builds("[{}]".format, st.sampled_from(["default", "profile a", "profile  b", "a", "profile"])),
    st.builds(
        "{}{}{}{}".format,
        st.sampled_from(["", " ", "\t"]),
        st.sampled_from(["region", "Role_ARN", "s3", "a b", ""]),
        st.sampled_from(["=", " = ", ":", " : ", "=:", ""]),
        st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r"), max_size=12),
    ),
)


@settings(max_examples=400, deadline=None)
@given(lines=st.lists(LINE, max_size=12))
def test_the_quick_reader_reads_every_file_it_accepts_as_configparser_does(lines):
    text = "\n".join(lines)
    quick = awsconfig._plain_sections(text)
    if quick is None:
        return
    parser = configparser.RawConfigParser()
    parser.read_string(text)
    assert [(s, list(quick.items(s))) for s in quick.sections()] == [(s, parser.items(s)) for s in parser.sections()]

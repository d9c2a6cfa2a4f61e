"""The paths people feel stay light: a cached `stage use`, `status`, `list` and
`logout` never load boto3, botocore or prompt_toolkit, and an ordinary prompt
starts no process. Proved by what Python reports importing and by what strace
sees bash do, never by a stopwatch."""

import configparser
import json
import os
import re
import shlex
import subprocess
import sys

import pytest
from hypothesis import event, given, settings, target
from hypothesis import strategies as st

from conftest import DATA, run_cli
from geodesic_stage.config import awsconfig
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
    assert "geodesic_stage.config.chain" in modules
    assert heavy(modules) == set(), f"a cached chain imported {sorted(heavy(modules))}"
    assert sts.calls == []


# What a cached use, status or list may load beyond what the interpreter itself starts with (without
# site, so that how the package is installed does not count): os, the standard library its work needs
# (re also comes with the console script pip writes; names from 3.9 to 3.12) and our modules on that path. A module that joins these slows every `stage` at a prompt: bench/run's
# "x interpreter start" rows say by how much. Not here, among others: dataclasses (inspect, ast, dis),
# typing, argparse (gettext, locale, shutil), tempfile, subprocess, configparser, hashlib, contextlib,
# and the key store's module (asked only of a source profile the files give no keys).
FAST_STDLIB = {
    "os", "os.path", "posixpath", "genericpath", "stat", "_stat", "_collections_abc",
    "re", "re._casefix", "re._compiler", "re._constants", "re._parser", "sre_compile", "sre_constants", "sre_parse",
    "_sre", "enum", "functools", "_functools", "collections", "_collections", "collections.abc", "operator",
    "_operator", "keyword", "reprlib", "copyreg", "types", "itertools", "__future__",
    "json", "json.decoder", "json.encoder", "json.scanner", "_json", "datetime", "_datetime", "math", "_sha1",
    "zlib",  # the digest of a large AWS config (test_checked_once)
}
FAST_OURS = {
    "geodesic_stage", "geodesic_stage.cli", "geodesic_stage.commands", "geodesic_stage.commands.use",
    "geodesic_stage.commands.status", "geodesic_stage.commands.list", "geodesic_stage.context",
    "geodesic_stage.model", "geodesic_stage.record", "geodesic_stage.errors", "geodesic_stage.log",
    "geodesic_stage.clock", "geodesic_stage.lifetimes", "geodesic_stage.cachekeys", "geodesic_stage.render",
    "geodesic_stage.options",
    "geodesic_stage.config", "geodesic_stage.config.paths", "geodesic_stage.config.awsconfig", "geodesic_stage.config.textfile",
    "geodesic_stage.config.stages_file", "geodesic_stage.config.resolve", "geodesic_stage.config.chain",
    "geodesic_stage.config.sso",
    "geodesic_stage.config.checked",  # a large AWS config's digest (test_checked_once)
    "geodesic_stage.store", "geodesic_stage.store.cli_cache",
    "geodesic_stage.auth", "geodesic_stage.auth.passphrase", "geodesic_stage.auth.mfa",
    "geodesic_stage.creds", "geodesic_stage.creds.obtain", "geodesic_stage.creds.cached",
    "geodesic_stage.sso", "geodesic_stage.sso.token",
    "geodesic_stage.eks", "geodesic_stage.eks.cluster",  # whether the stages file gives the team EKS clusters
    "geodesic_stage.ecr", "geodesic_stage.ecr.registries",  # or ECR registries
}
# The entry point as pip's console script calls it (with no words: nothing), then its exit code and
# what sys.modules holds; run without site (-S) from this work tree.
LOADED = """
import sys
code = 0
try:
    if len(sys.argv) > 1:
        from geodesic_stage.cli import main
        code = main(sys.argv[1:])
finally:
    print("\\nloaded:", code, *sorted(sys.modules), file=sys.stderr)
"""


def loaded_modules(env: dict, *args) -> tuple:
    """(exit code, sys.modules) after `geodesic-stage ARGS` ran; with none, once the bare interpreter started."""
    done = subprocess.run(
        [sys.executable, "-S", "-c", LOADED, *args], env=dict(env, PYTHONPATH=str(DATA.parent.parent)),
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
    )
    code, *modules = done.stderr.rsplit("\nloaded: ", 1)[1].split()
    return int(code), set(modules)


def beyond_the_fast_path(env: dict, *args, exit_code: int = 0) -> set:
    code, modules = loaded_modules(env, *args)
    assert code == exit_code, f"geodesic-stage {' '.join(args)} exited {code}"
    return modules - loaded_modules(env)[1] - FAST_STDLIB - FAST_OURS


@ANY_TOPOLOGY
def test_a_cached_use_status_and_list_load_only_the_modules_of_the_fast_path(env, topology, sts, home):
    config = home / ".aws" / "config"
    config.write_text(config.read_text() + CHAIN)
    assert run_cli(env, "use", "testing", "--mfa-token", CODE).returncode == 0
    assert run_cli(env, "use", "chain").returncode == 0
    in_stage = dict(env, **exported(run_cli(env, "use", "testing").stdout))
    sts.reset()

    for args, shell_env in ((("use", "testing"), env), (("use", "chain"), env), (("--debug", "use", "testing", "--region", "eu-west-1"), env),
                            (("status",), in_stage), ((), in_stage), (("list",), in_stage), (("list", "--json"), env)):
        # --debug alone loads warnings, to show a library's warning as a debug line.
        debug_only = {"warnings"} if "--debug" in args else set()
        assert beyond_the_fast_path(shell_env, *args) - debug_only == set(), f"{' '.join(args) or '(bare)'} loaded more"
    # Run by the `stage` function, a cached use also keeps its block for the shell to replay (switch.py):
    # that module and the atomic writer, no more (no tempfile).
    from_the_function = dict(env, GEODESIC_STAGE_SHELL_PID=str(os.getpid()))
    assert beyond_the_fast_path(from_the_function, "use", "testing") == {"geodesic_stage.switch", "geodesic_stage.store.files"}
    assert sts.calls == []


# What kubectl's call for a cached token loads beyond the interpreter (test_eks drives a real kubectl):
# the words read quickly, the answer kept for them (eks.served) and the config files' stamps. No config
# file is read, and no JSON: json, re, datetime and collections together cost a hit more than all the rest of it.
FAST_EKS_TOKEN = {
    "geodesic_stage", "geodesic_stage.cli", "geodesic_stage.commands", "geodesic_stage.commands.eks_token",
    "geodesic_stage.errors", "geodesic_stage.log", "geodesic_stage.options", "geodesic_stage.lifetimes",
    "geodesic_stage.auth", "geodesic_stage.auth.passphrase", "geodesic_stage.eks", "geodesic_stage.eks.served",
    "geodesic_stage.cachekeys", "geodesic_stage.store", "geodesic_stage.store.cli_cache",
    "geodesic_stage.config", "geodesic_stage.config.paths", "geodesic_stage.config.textfile",
    "geodesic_stage.config.stages_file", "geodesic_stage.record",
}


@ANY_TOPOLOGY
def test_a_cached_eks_token_loads_only_the_modules_of_its_path(env, topology, sts, home):
    """kubectl runs the token command at every call: a cached token is its fast path."""
    assert run_cli(env, "use", "testing", "--mfa-token", CODE).returncode == 0
    # Named by flags, as the kubeconfig of `stage use` names it: the first call signs (no EKS call), the next are hits.
    argv = ("eks-token", "testing", "--profile", "cpco-testing-admin", "--cluster", "cpco-testing-eks", "--eks-region", "us-west-2")
    first = run_cli(env, *argv)
    assert first.returncode == 0, first.stderr
    sts.reset()

    code, modules = loaded_modules(env, *argv)
    assert code == 0
    assert modules - loaded_modules(env)[1] - FAST_STDLIB - FAST_EKS_TOKEN == set()
    assert {"json", "re", "datetime", "collections"}.isdisjoint(modules)
    assert sts.calls == []


@ANY_TOPOLOGY
def test_the_fast_path_check_sees_a_module_that_joins_it(env, topology):
    """The check above can fail: `use` with a word the quick reader leaves to argparse loads argparse."""
    assert "argparse" in beyond_the_fast_path(env, "use", "testing", "--mfa-tokn", CODE, exit_code=2)


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
def test_under_a_prompt_framework_with_promptvars_off_an_ordinary_prompt_starts_no_process(env, topology, sts, tmp_path):
    """The label put back in front of a PS1 written afresh at every prompt, as text: still pure bash."""
    assert run_cli(env, "use", "testing", "--mfa-token", CODE).returncode == 0
    framework = ['starship_precmd() { PS1="STAR PROMPT$ "; }', 'PROMPT_COMMAND="starship_precmd;$PROMPT_COMMAND"', "shopt -u promptvars"]

    trace, after = strace_prompts(env, tmp_path, [*framework, "stage use testing"], geodesic=False)

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


# An AWS config of `[section]` headers, comments, blank lines and `key = value` lines (each key once a
# section), which the quick reader must take, with now and then an odd line configparser has a rule for.
KEYS = st.sampled_from(["region", "Role_ARN", "mfa_serial", "s3", "output", "sso_start_url", "x-y", "a_b1"])
VALUES = st.text(st.sampled_from("aZ09 =:#;[]\t-_/.é\u00a0"), max_size=8)
SETTING = st.tuples(KEYS, st.sampled_from(["=", " = ", "  =\t", "= "]), VALUES).map(lambda t: ("setting", t[0].lower(), "".join(t)))
FILLER = st.sampled_from(["", "  ", "# note", "; note", "  # indented note", "\t; note"]).map(lambda line: ("filler", None, line))
ODD = st.sampled_from([
    # Made from a setting of the file itself (the line given is for a file without one).
    ("a setting repeated", "region = a"), ("a setting repeated in capitals", "REGION = a"),
    ("a setting with ':'", "region: a"), ("a setting with ':='", "region := a"), ("a setting indented", "  region = a"),
    # Fixed lines.
    ("indented setting", "  region = x"), ("indented new key", "  zz_key = x"), ("continuation", "\tmore"),
    ("colon", "region: x"), ("colon and equals", "s3 := x"), ("no delimiter", "region"), ("empty key", "= x"),
    ("DEFAULT", "[DEFAULT]"), ("empty header", "[]"), ("repeated header", "[profile a]"), ("repeated key", "region = again"),
    ("spaced header", "[ a ]"), ("text after header", "[a] b"), ("header of ]", "[a]]"), ("key with space", "a b = c"),
    ("uppercase repeat", "REGION = x"),
]).map(lambda odd: ("odd", odd[0], odd[1]))


def with_odd_line(lines: list, odd: tuple, where: int) -> list:
    """lines with the odd line put in at `where`; one made from a setting goes beside that setting."""
    lines = list(lines)
    settings_at = [i for i, (kind, _, _) in enumerate(lines) if kind == "setting"]
    _, name, line = odd
    if name.startswith("a setting") and settings_at:
        at = settings_at[where % len(settings_at)]
        key, _, value = lines[at][2].partition("=")
        line = {
            "a setting repeated": f"{key}={value}2",
            "a setting repeated in capitals": f"{key.upper()}={value}",
            "a setting with ':'": f"{key}:{value}",
            "a setting with ':='": f"{key}:={value}",
            "a setting indented": f"  {key}={value}",
        }[name]
        lines.insert(at + 1, ("odd", name, line))
    else:
        lines.insert(where % (len(lines) + 1), ("odd", name, line))
    return lines
HEADERS = st.sampled_from(["default", "profile a", "profile  b", "a", "sso-session x", "a] b", "profile cpco-testing-admin", "profile p2"])


def _unique_keys(body: list) -> list:
    seen, kept = set(), []
    for kind, key, line in body:
        if kind == "setting":
            if key in seen:
                continue
            seen.add(key)
        kept.append((kind, key, line))
    return kept


SECTION = st.tuples(HEADERS, st.lists(st.one_of(SETTING, SETTING, SETTING, FILLER), max_size=8).map(_unique_keys))
CONFIG = st.tuples(
    st.lists(FILLER, max_size=2), st.lists(SECTION, max_size=4, unique_by=lambda section: section[0]),
).map(lambda t: [*t[0], *(line for name, body in t[1] for line in [("header", name, f"[{name}]"), *body])])


def configparser_sections(text: str):
    """The sections and items configparser (botocore's parser) reads, or None where it refuses the file."""
    parser = configparser.RawConfigParser()
    try:
        parser.read_string(text)
    except configparser.Error:
        return None
    return [(s, parser.items(s)) for s in parser.sections()]


@settings(max_examples=300, deadline=None)
@given(config=CONFIG, odd=st.lists(st.tuples(ODD, st.integers(0, 40)), max_size=2))
def test_the_quick_reader_reads_every_file_it_accepts_as_configparser_does(config, odd):
    lines = config
    for line, where in odd:
        lines = with_odd_line(lines, line, where)
    text = "\n".join(line for _, _, line in lines)
    settings_read = sum(1 for kind, _, _ in lines if kind == "setting")
    target(float(settings_read), label="key = value lines")
    quick = awsconfig._plain_sections(text)
    expected = configparser_sections(text)
    odd_kinds = sorted({name for kind, name, _ in lines if kind == "odd"})
    if not odd_kinds:
        event(f"plain file with {min(settings_read, 5)}{'+' if settings_read >= 5 else ''} settings")
        assert quick is not None, "a plain file takes the quick path"
    for name in odd_kinds:
        event(f"{name}: {'read quickly' if quick is not None else 'left to configparser'}")
    if quick is not None:
        assert expected is not None, "the quick reader accepted a file configparser refuses"
        assert [(s, list(values.items())) for s, values in quick.items()] == expected

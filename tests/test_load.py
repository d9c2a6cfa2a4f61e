"""Many shells at once: 50 processes using 5 stages, and 20 login shells opening
together. All succeed, one MFA code is bought once, every cache file stays whole,
and no process is handed another stage's credentials."""

import json
import re
import subprocess
from pathlib import Path

import boto3
import pytest

from conftest import BIN
from geodesic_stage.store import cli_cache
from ptyshell import STAGE_SH

CODE = "123456"
organization = pytest.mark.parametrize("topology", ["organization"])
# The organization example's four stages, and a fifth added here: stage -> (account, role).
ROLES = {
    "root": ("323330167063", "cpco-root-admin"),
    "prod": ("845490276530", "OrganizationAccountAccessRole"),
    "staging": ("215480124567", "OrganizationAccountAccessRole"),
    "testing": ("126450723953", "OrganizationAccountAccessRole"),
    "dev": ("500120345678", "OrganizationAccountAccessRole"),
}
PROCESSES = 50


def five_stages_with_mfa_process(home: Path, tmp_path: Path) -> Path:
    """Add the dev stage, and an mfa_process that records each of its runs; returns that record."""
    runs = tmp_path / "mfa-process-runs"
    script = tmp_path / "mfa-process"
    script.write_text(f"#!/bin/sh\necho run >> '{runs}'\necho {CODE}\n")
    script.chmod(0o755)
    config = home / ".aws" / "config"
    config.write_text(
        config.read_text()
        + "\n[profile cpco-dev-admin]\nregion=us-west-2\n"
        f"role_arn=arn:aws:iam::{ROLES['dev'][0]}:role/OrganizationAccountAccessRole\n"
        "mfa_serial=arn:aws:iam::323330167063:mfa/admin@cloudposse.co\nsource_profile=cpco\n"
    )
    config.write_text(re.sub(r"(\[profile [^\]]+\]\n)", rf"\1mfa_process = {script}\n", config.read_text()))
    return runs


def all_at_once(env: dict, commands: list) -> list:
    """Start every command before waiting for any; (exit code, stdout, stderr) of each."""
    processes = [
        subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, start_new_session=True)
        for command in commands
    ]
    try:
        outputs = [p.communicate(timeout=300) for p in processes]
        return [(p.returncode, *output) for p, output in zip(processes, outputs)]
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()


def uses(env: dict) -> list:
    """PROCESSES runs of `geodesic-stage use`, the five stages in turn; (stage, exported key) of each."""
    stages = [list(ROLES)[n % len(ROLES)] for n in range(PROCESSES)]
    results = all_at_once(env, [[str(BIN / "geodesic-stage"), "use", stage] for stage in stages])
    for code, out, err in results:
        assert code == 0, err
    return [(stage, exported(out)) for stage, (_, out, _) in zip(stages, results)]


def exported(block: str) -> dict:
    found = dict(re.findall(r"^export (AWS_ACCESS_KEY_ID|AWS_SECRET_ACCESS_KEY|AWS_SESSION_TOKEN|STAGE)=(\S+)$", block, re.M))
    assert len(found) == 4, block
    return found


def identity(moto_url: str, creds: dict) -> tuple:
    """(account, role) STS sees for these credentials."""
    client = boto3.client(
        "sts", endpoint_url=moto_url, region_name="us-west-2", aws_access_key_id=creds["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=creds["AWS_SECRET_ACCESS_KEY"], aws_session_token=creds["AWS_SESSION_TOKEN"],
    )
    arn = client.get_caller_identity()["Arn"]
    account, role = re.fullmatch(r"arn:aws:sts::(\d+):assumed-role/([^/]+)/.+", arn).groups()
    return account, role


def cache_entries(home: Path) -> list:
    """Every cache file, parsed: one that is not valid JSON fails the test here."""
    root = home / ".aws" / "cli" / "cache"
    assert not list(root.rglob(".tmp-*")), "a temp file was left behind"
    return [json.loads(path.read_text()) for path in root.rglob("*.json")]


@organization
def test_fifty_processes_on_a_cold_cache_buy_one_mfa_session_and_each_gets_its_own_stage(env, sts, home, tmp_path, moto_url):
    runs = five_stages_with_mfa_process(home, tmp_path)
    results = uses(env)

    assert runs.read_text() == "run\n"
    assert sts.count("GetSessionToken") == 1
    entries = cache_entries(home)
    assert len(entries) == 1 + len(ROLES)
    assert all(cli_cache.credentials_from_entry(entry) for entry in entries)
    seen = {}
    for stage, creds in results:
        assert creds["STAGE"] == stage
        key = creds["AWS_ACCESS_KEY_ID"]
        seen.setdefault(key, identity(moto_url, creds))
        assert seen[key] == ROLES[stage], f"{stage} was given {seen[key]}"


@organization
def test_fifty_processes_on_a_warm_cache_get_their_own_stage_from_it_without_sts(env, sts, home, tmp_path):
    five_stages_with_mfa_process(home, tmp_path)
    for stage in ROLES:
        assert subprocess.run([str(BIN / "geodesic-stage"), "use", stage], env=env, capture_output=True,
                              timeout=60, stdin=subprocess.DEVNULL).returncode == 0
    cached = {}
    for entry in cache_entries(home):
        user = entry.get("AssumedRoleUser")
        if user:
            cached[user["Arn"].split(":")[4]] = entry["Credentials"]["AccessKeyId"]
    sts.reset()

    results = uses(env)

    assert sts.calls == []
    for stage, creds in results:
        assert creds["STAGE"] == stage
        assert creds["AWS_ACCESS_KEY_ID"] == cached[ROLES[stage][0]]
    assert len(cache_entries(home)) == 1 + len(ROLES)


@pytest.mark.parametrize("topology", ["single"])
def test_twenty_login_shells_opening_at_once_all_start_with_credentials_from_one_code(env, sts, home, tmp_path):
    runs = five_stages_with_mfa_process(home, tmp_path)
    (home / ".bash_profile").write_text(f"PATH={BIN}:$PATH\nsource {STAGE_SH}\n")
    report = 'printf "%s %s %s\\n" "$STAGE" "$AWS_PROFILE" "${AWS_SESSION_TOKEN:+token}"'
    results = all_at_once(dict(env, STAGE="testing"), [["bash", "-l", "-c", report]] * 20)

    assert [(code, out) for code, out, _ in results] == [(0, "testing cpco-testing-admin token\n")] * 20, results
    assert runs.read_text() == "run\n"
    assert sts.count("GetSessionToken") == 1

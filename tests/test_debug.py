"""`--debug` tells the user why (issue 7): which profile a stage became and why, whether
the cache served and why not, which STS calls were made; never a key, token or code."""

import json
import shlex
from datetime import datetime, timedelta, timezone

import pytest

from conftest import run_cli

CODE = "123456"


def exported(block: str) -> dict:
    return dict(shlex.split(line)[1].split("=", 1) for line in block.splitlines() if line.startswith("export "))


def secrets(home, *blocks: str) -> list:
    """Every secret the user holds: the long-lived keys, the MFA code, each issued key and token."""
    found = [CODE]
    for line in (home / ".aws" / "credentials").read_text().splitlines():
        if line.startswith(("aws_access_key_id", "aws_secret_access_key")):
            found.append(line.split("=", 1)[1].strip())
    for block in blocks:
        keys = exported(block)
        found += [keys["AWS_ACCESS_KEY_ID"], keys["AWS_SECRET_ACCESS_KEY"], keys["AWS_SESSION_TOKEN"]]
    for cached in (home / ".aws" / "cli" / "cache").rglob("*.json"):
        found += [v for k, v in json.loads(cached.read_text())["Credentials"].items() if k != "Expiration"]
    return found


def expire_cached_role(home, seconds: int) -> None:
    """The AWS CLI cache entry of the role now lasts `seconds` more, as if it had been in use for a while."""
    entry = next((home / ".aws" / "cli" / "cache").glob("*.json"))
    data = json.loads(entry.read_text())
    at = datetime.now(timezone.utc) + timedelta(seconds=seconds)
    data["Credentials"]["Expiration"] = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    entry.write_text(json.dumps(data))


@pytest.mark.parametrize("topology", ["single"])
def test_debug_shows_each_decision_and_never_a_secret(env, topology, sts, home):
    first = run_cli(env, "--debug", "use", "testing", "--mfa-token", CODE)
    assert first.returncode == 0, first.stderr
    said = first.stderr
    assert "stage testing: profile cpco-testing-admin (namespace-stage-role; namespace from --namespace or $NAMESPACE)" in said
    assert "cache miss for cpco-testing-admin" in said and "no readable entry" in said
    assert "no MFA session cached for cpco + arn:aws:iam::323330167063:mfa/admin@cloudposse.co" in said
    assert f"STS GetSessionToken at {sts.url}" in said
    assert "AssumeRole arn:aws:iam::323330167063:role/cpco-root-admin for 3600 s with the MFA session's keys" in said
    assert f"STS AssumeRole at {sts.url}" in said
    assert all(line.startswith("geodesic-stage[debug]: ") for line in said.splitlines())

    again = run_cli(env, "use", "testing", "--debug")
    assert "cache hit for cpco-testing-admin" in again.stderr and "STS " not in again.stderr

    expire_cached_role(home, 5 * 60)
    renewed = run_cli(env, "--debug", "use", "testing")
    assert renewed.returncode == 0, renewed.stderr
    assert "s left, under the 900 s renewal margin" in renewed.stderr
    assert "MFA session for arn:aws:iam::323330167063:mfa/admin@cloudposse.co from cache" in renewed.stderr
    assert "STS GetSessionToken" not in renewed.stderr and f"STS AssumeRole at {sts.url}" in renewed.stderr

    in_stage = dict(env, **exported(renewed.stdout))
    status = run_cli(in_stage, "--debug", "status")
    assert "stage testing: profile cpco-testing-admin (--profile, or AWS_PROFILE of this shell's stage)" in status.stderr

    everything = first.stderr + again.stderr + renewed.stderr + status.stderr
    leaked = [s for s in secrets(home, first.stdout, renewed.stdout) if s in everything]
    assert leaked == []
    assert (sts.count("GetSessionToken"), sts.count("AssumeRole")) == (1, 2)


@pytest.mark.parametrize("topology", ["organization"])
def test_debug_names_the_stages_file_and_the_entry_that_chose_the_profile(env, topology, sts, home, tmp_path):
    stages = tmp_path / "stages.conf"
    stages.write_text("[stages]\n[[qa]]\nprofile = cpco-testing-admin\n")
    done = run_cli(dict(env, GEODESIC_STAGE_CONFIG=str(stages)), "--debug", "use", "qa", "--mfa-token", CODE)
    assert done.returncode == 0, done.stderr
    assert f"stages file {stages}" in done.stderr
    assert f"stage qa: profile cpco-testing-admin (its entry in {stages})" in done.stderr
    assert "mfa_mode session" in done.stderr


@pytest.mark.parametrize("topology", ["organization"])
def test_a_librarys_warning_is_a_debug_line_never_on_the_users_screen(env, topology, sts, tmp_path):
    """As Debian's pyOpenSSL under a newer cryptography does (a CryptographyDeprecationWarning when botocore
    looks for it): a stand-in OpenSSL that warns, then is not there."""
    site = tmp_path / "site"
    (site / "OpenSSL").mkdir(parents=True)
    (site / "OpenSSL" / "__init__.py").write_text(
        'import warnings\nwarnings.warn("DSA is deprecated", UserWarning)\nraise ImportError("a stand-in")\n'
    )
    env = dict(env, PYTHONPATH=str(site))

    unreachable = dict(env, AWS_ENDPOINT_URL_STS="http://127.0.0.1:9")
    failed = run_cli(unreachable, "use", "testing", "--mfa-token", CODE)
    assert failed.returncode == 1
    assert len(failed.stderr.splitlines()) == 1 and failed.stderr.startswith("geodesic-stage: cannot reach STS"), failed.stderr
    asked = run_cli(dict(unreachable, PYTHONWARNINGS="default"), "use", "testing", "--mfa-token", CODE)
    assert "UserWarning: DSA is deprecated" in asked.stderr, "-W and PYTHONWARNINGS still rule"

    debugged = run_cli(env, "--debug", "use", "testing", "--mfa-token", CODE)
    assert debugged.returncode == 0, debugged.stderr
    said = debugged.stderr.splitlines()
    assert f"geodesic-stage[debug]: UserWarning from {site / 'OpenSSL' / '__init__.py'}:2: DSA is deprecated" in said
    assert all(line.startswith("geodesic-stage[debug]: ") for line in said)

    sts.reset()
    used = run_cli(env, "use", "prod")  # from the cached MFA session: through botocore again
    assert (used.returncode, used.stderr) == (0, "")
    assert [action for action, _ in sts.calls] == ["AssumeRole"]

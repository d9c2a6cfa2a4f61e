"""Input nobody should trust, end to end: names and regions from the config,
stage names typed by the user, cache files someone else touched and the output
of `mfa_process`. Each either reaches the shell quoted, exactly itself, or is
refused with one clear line; a canary file shows nothing ever ran.

(The rendering itself is property-tested in test_render.py, the config readers
are fuzzed in test_config_files.py, hostile STS answers are in test_faults.py.)
"""

import json
import os
import re
import shlex
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from conftest import needs_root, run_cli
from geodesic_stage import cachekeys
from geodesic_stage.store import cli_cache
from geodesic_stage import clock
from geodesic_stage.model import Profile
from ptyshell import STAGE_SH

CODE = "123456"
CANARY = "executed"
ROLE_ARN = "arn:aws:iam::323330167063:role/cpco-root-admin"
SERIAL = "arn:aws:iam::323330167063:mfa/admin@cloudposse.co"
# Ways out of a quoted word, without spaces (profile names split on them, as in botocore).
HOSTILE_PROFILE = f"cpco-testing-admin'$(touch${{IFS}}{CANARY})`touch${{IFS}}{CANARY}`;\"x"
HOSTILE_REGION = f"us-west-2'; touch {CANARY}; '$(touch {CANARY})\\"
only_single = pytest.mark.parametrize("topology", ["single"])
# The role cache key every stage of the single topology shares.
ROLE_KEY = cachekeys.role_key(Profile(name="any", role_arn=ROLE_ARN, mfa_serial=SERIAL, source_profile="cpco"))
SESSION_KEY = cachekeys.mfa_session_key("cpco", SERIAL)


def bash(env: dict, script: str, cwd: Path) -> subprocess.CompletedProcess:
    """A bash with the `stage` function running `script` in `cwd`, where a canary would land."""
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-c", f"source {STAGE_SH}\n{script}"], env=env, cwd=cwd,
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, start_new_session=True,
    )


def held(done: subprocess.CompletedProcess) -> dict:
    """Variables printed NUL-separated by `printf '%s=%s\\0'`."""
    return dict(item.split("=", 1) for item in done.stdout.split("\0") if item)


PRINT = 'for n in STAGE AWS_PROFILE ASSUME_ROLE AWS_REGION AWS_ACCESS_KEY_ID; do printf "%s=%s\\0" "$n" "${!n-}"; done'


def seed_cache(env: dict) -> None:
    done = run_cli(env, "use", "testing", "--mfa-token", CODE)
    assert done.returncode == 0, done.stderr


def role_file(home: Path) -> Path:
    return home / ".aws" / "cli" / "cache" / f"{ROLE_KEY}.json"


def session_file(home: Path) -> Path:
    return home / ".aws" / "cli" / "cache" / "geodesic-stage" / f"{SESSION_KEY}.json"


# Names and regions from the config.


@only_single
def test_a_hostile_profile_name_and_region_reach_the_shell_as_themselves(env, sts, home, tmp_path):
    seed_cache(env)
    # botocore reads a section name as shell words: quoted, so that it (and the AWS CLI) sees this name.
    (home / ".aws" / "config").write_text(
        f"[profile {shlex.quote(HOSTILE_PROFILE)}]\nregion = {HOSTILE_REGION}\nrole_arn = {ROLE_ARN}\n"
        f"mfa_serial = {SERIAL}\nsource_profile = cpco\n"
    )
    stages = tmp_path / "stages.conf"
    stages.write_text(f"[stages]\n[[testing]]\nprofile = {HOSTILE_PROFILE}\n")

    done = bash(dict(env, GEODESIC_STAGE_CONFIG=str(stages)), f"stage use testing || exit 9\n{PRINT}", tmp_path)

    assert done.returncode == 0, done.stderr
    assert not (tmp_path / CANARY).exists()
    assert held(done) == dict(
        STAGE="testing", AWS_PROFILE=HOSTILE_PROFILE, ASSUME_ROLE=HOSTILE_PROFILE, AWS_REGION=HOSTILE_REGION,
        AWS_ACCESS_KEY_ID=json.loads(role_file(home).read_text())["Credentials"]["AccessKeyId"],
    )


@only_single
def test_a_hostile_region_that_must_reach_sts_is_refused_with_exit_2(env, sts, tmp_path):
    done = bash(env, f"export STAGE=prod\nstage use testing --mfa-token {CODE} --region {shlex.quote(HOSTILE_REGION)}\n"
                     'echo "rc=$? $STAGE"', tmp_path)
    assert done.stdout == "rc=2 prod\n"
    assert "is not an AWS region name" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.splitlines()) == 1
    assert not (tmp_path / CANARY).exists()
    assert sts.calls == []


HOSTILE_STAGES = [
    f"$(touch {CANARY})",
    f"`touch {CANARY}`",
    f"testing; touch {CANARY}",
    f"testing'\n touch {CANARY}",
    "te\udcffsting",  # a byte that is not UTF-8, as Python hands it over
    "testing" * 10_000,  # 70 KB, near the kernel's limit for one argument
]


@only_single
@pytest.mark.parametrize("stage", HOSTILE_STAGES, ids=range(len(HOSTILE_STAGES)))
def test_a_hostile_stage_name_is_an_unknown_stage_and_nothing_runs(env, sts, tmp_path, stage):
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-c", f'source {STAGE_SH}\nstage use "$1"\necho "rc=$?"', "bash",
         os.fsencode(stage)],
        env=env, cwd=tmp_path, capture_output=True, timeout=60, stdin=subprocess.DEVNULL,
    )
    assert done.stdout == b"rc=2\n"
    [line] = done.stderr.splitlines()
    assert line.startswith(b"geodesic-stage: unknown stage ") and b"stages: prod, root, staging, testing" in line
    assert not (tmp_path / CANARY).exists()


# Cache files someone else touched.


def planted(key_id: str = "ASIAPLANTEDBYOTHERS1", hours: float = 1) -> dict:
    """A well-formed entry: good enough to be used, were it trusted."""
    return {"Credentials": {
        "AccessKeyId": key_id, "SecretAccessKey": "planted-secret", "SessionToken": "planted-token",
        "Expiration": clock.rfc3339(clock.now() + timedelta(hours=hours)),
    }}


def write(path: Path, content) -> None:
    path.write_bytes(content if isinstance(content, bytes) else json.dumps(content).encode())


def chown_nobody(path: Path) -> None:
    write(path, planted())
    os.chown(path, 65534, 65534)


def symlink_to_planted(path: Path) -> None:
    elsewhere = path.with_name("elsewhere")
    write(elsewhere, planted())
    elsewhere.chmod(0o600)
    path.unlink()
    path.symlink_to(elsewhere)


def writable_by(mode: int):
    def damage(path: Path) -> None:
        write(path, planted())
        path.chmod(mode)
    return damage


DAMAGE = {
    "truncated": lambda p: write(p, p.read_bytes()[:40]),
    "not-json": lambda p: write(p, b"this is not json"),
    "empty": lambda p: write(p, b""),
    "a-list": lambda p: write(p, [planted()]),
    "credentials-a-string": lambda p: write(p, {"Credentials": "ASIAPLANTEDBYOTHERS1"}),
    "a-key-missing": lambda p: write(p, {"Credentials": {k: v for k, v in planted()["Credentials"].items() if k != "SessionToken"}}),
    "numbers": lambda p: write(p, {"Credentials": dict(planted()["Credentials"], SecretAccessKey=12345)}),
    "bad-expiration": lambda p: write(p, {"Credentials": dict(planted()["Credentials"], Expiration="tomorrow")}),
    "expired": lambda p: write(p, planted(hours=-1)),
    "from-the-future": lambda p: write(p, planted(hours=40)),
    "nul-in-a-value": lambda p: write(p, {"Credentials": dict(planted()["Credentials"], SecretAccessKey="a\0b")}),
    "newline-in-a-value": lambda p: write(p, {"Credentials": dict(planted()["Credentials"], SessionToken="a\nb")}),
    "lone-surrogate": lambda p: write(p, b'{"Credentials": {"AccessKeyId": "\\udc80"}}'),
    "not-utf-8": lambda p: write(p, b'{"Credentials": "\xff\xfe"}'),
    "deeply-nested": lambda p: write(p, b"[" * 200_000 + b"]" * 200_000),
    "huge": lambda p: write(p, {"Credentials": planted()["Credentials"], "pad": "x" * (2 << 20)}),
    "a-directory": lambda p: (p.unlink(), p.mkdir()),
    "a-symlink": symlink_to_planted,
    "owned-by-nobody": chown_nobody,
    "group-writable": writable_by(0o620),
    "world-writable": writable_by(0o602),
}


# The MFA session file is read by the same code: a sample of the damage is enough there.
SESSION_DAMAGE = ["truncated", "a-key-missing", "from-the-future", "nul-in-a-value", "a-symlink", "owned-by-nobody", "world-writable"]


# Damage only root can do.
ROOT_ONLY = {"owned-by-nobody"}


@only_single
@pytest.mark.parametrize(
    "which, damage",
    [
        pytest.param(which, d, id=f"{which}-{d}", marks=[needs_root] if d in ROOT_ONLY else [])
        for which, names in (("role", DAMAGE), ("mfa-session", SESSION_DAMAGE))
        for d in names
    ],
)
def test_a_damaged_or_untrusted_cache_file_is_a_miss_and_is_replaced(env, sts, home, damage, which):
    seed_cache(env)
    path = role_file(home) if which == "role" else session_file(home)
    DAMAGE[damage](path)
    if which == "mfa-session":
        role_file(home).unlink()  # so that `use` needs the MFA session
    sts.reset()

    done = run_cli(env, "use", "testing", "--mfa-token", CODE)

    assert done.returncode == 0, done.stderr
    key = re.search(r"^export AWS_ACCESS_KEY_ID=(\S+)$", done.stdout, re.M)[1]
    assert key != "ASIAPLANTEDBYOTHERS1"
    expected = ["AssumeRole"] if which == "role" else ["GetSessionToken", "AssumeRole"]
    if damage == "a-directory":
        # Nothing can replace a directory: the credentials still work, with a warning.
        assert [a for a, _ in sts.calls if a != "GetCallerIdentity"] == expected
        assert "could not cache credentials" in done.stderr
        return
    assert done.stderr == ""
    assert [a for a, _ in sts.calls] == expected
    info = path.lstat()
    assert path.is_file() and not path.is_symlink()
    assert (info.st_uid, info.st_mode & 0o777) == (os.geteuid(), 0o600)
    assert cli_cache.credentials_from_entry(json.loads(path.read_text()))
    if which == "role":
        assert json.loads(path.read_text())["Credentials"]["AccessKeyId"] == key


@only_single
@pytest.mark.parametrize("value", [f"$(touch {CANARY})", f"`touch {CANARY}`", f"';touch {CANARY};'", "x" * 50_000])
def test_hostile_values_in_our_own_cache_reach_the_shell_exactly(env, sts, home, tmp_path, value):
    seed_cache(env)
    entry = planted()
    entry["Credentials"].update(AccessKeyId=value, SessionToken=value)
    write(role_file(home), entry)
    done = bash(env, 'stage use testing || exit 9\nprintf "%s\\0%s" "$AWS_ACCESS_KEY_ID" "$AWS_SESSION_TOKEN"', tmp_path)
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / CANARY).exists()
    assert done.stdout == f"{value}\0{value}"


# What mfa_process prints.


MFA_OUTPUTS = {
    "command-substitution": f"echo '$(touch {CANARY})'",
    "code-then-a-command": f"printf '123456\\n; touch {CANARY}\\n'",
    "backticks": f"echo '`touch {CANARY}`'",
    "nul": "printf '123\\0456'",
    "not-utf-8": "printf '12\\377\\3764'",
    "seven-digits": "echo 1234567",
    "very-long": "head -c 1000000 /dev/zero | tr '\\0' 1",
    "nothing": "true",
}


@only_single
@pytest.mark.parametrize("command", MFA_OUTPUTS.values(), ids=list(MFA_OUTPUTS))
def test_mfa_process_printing_anything_but_a_code_is_exit_3_without_echoing_it(env, sts, home, tmp_path, command):
    config = home / ".aws" / "config"
    header = "[profile cpco-testing-admin]\n"
    config.write_text(config.read_text().replace(header, f"{header}mfa_process = {command}\n"))
    done = bash(env, 'export STAGE=prod\nstage use testing\necho "rc=$? $STAGE"', tmp_path)
    assert done.stdout == "rc=3 prod\n"
    assert done.stderr == (
        "geodesic-stage: mfa_process of profile 'cpco-testing-admin' printed something other than a 6-digit code\n"
    )
    assert not (tmp_path / CANARY).exists()
    assert [a for a, _ in sts.calls] == []

"""Long-lived keys live encrypted in ~/.aws/geodesic-stage/keys.age, asked for only when
needed, and rotate in one command (issue 14).

Against moto on 127.0.0.1 serving IAM as well as STS: an IAM user and its key are made in
moto, imported from a sandbox credentials file, used by `stage use` in a pty bash, rotated.
"""

import os
import re
import shutil
import stat
import subprocess

import boto3
import pexpect
import pytest

from conftest import BIN, mfa_prompts, run_cli
from ptyshell import MFA_PROMPT, PS1

PASSPHRASE = "correct horse battery staple"
PASSPHRASE_PROMPT = "Passphrase for ~/.aws/geodesic-stage/keys.age:"
CODE = "123456"
only_single = pytest.mark.parametrize("topology", ["single"])
# Bytes around the keys that import must keep exactly: comments, another profile, CRLF, no final newline.
OTHER_BYTES = (
    "# my credentials\r\n[other]\r\naws_access_key_id = AKIAOTHEROTHEROTHER1\r\naws_secret_access_key = other/secret\r\n"
    "\r\n[cpco]\r\n; kept comment\r\nregion = us-west-2\r\n{keys}\r\n# trailing\r\n[last]\r\nfoo=bar"
)


def moto_iam(moto_url):
    return boto3.client(
        "iam", endpoint_url=moto_url, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )


@pytest.fixture
def user(moto_url):
    """A fresh IAM user in moto and its one access key: (name, key id, secret)."""
    iam = moto_iam(moto_url)
    name = f"alice{os.urandom(4).hex()}"
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return name, key["AccessKeyId"], key["SecretAccessKey"]


@pytest.fixture
def keys_env(env, moto_url, home, user):
    """The sandbox user's environment with IAM on moto and the user's key as [cpco] in the credentials file."""
    _, key_id, secret = user
    credentials = home / ".aws" / "credentials"
    credentials.write_bytes(OTHER_BYTES.format(keys=f"aws_access_key_id = {key_id}\r\naws_secret_access_key = {secret}").encode())
    return dict(env, AWS_ENDPOINT_URL_IAM=moto_url)


def with_passphrase(env, value=PASSPHRASE):
    return dict(env, GEODESIC_STAGE_PASSPHRASE=value)


def imported(keys_env):
    done = run_cli(with_passphrase(keys_env), "keys", "import", "cpco")
    assert done.returncode == 0, done.stderr
    return done


def store(home):
    return home / ".aws" / "geodesic-stage" / "keys.age"


def listed_keys(moto_url, user_name):
    return {k["AccessKeyId"]: k["Status"] for k in moto_iam(moto_url).list_access_keys(UserName=user_name)["AccessKeyMetadata"]}


def age_decrypt(path, passphrase) -> str:
    """`age -d FILE` as a person runs it: the passphrase typed at its terminal prompt."""
    child = pexpect.spawn("age", ["-d", str(path)], encoding="utf-8", timeout=60)
    child.expect("passphrase")
    child.sendline(passphrase)
    child.expect(pexpect.EOF)
    child.close()
    return child.before, child.exitstatus


@only_single
def test_import_moves_the_keys_into_the_store_and_keeps_every_other_byte(keys_env, home, user, topology, sts):
    name, key_id, secret = user
    done = imported(keys_env)
    assert key_id in done.stderr and f":user/{name}" in done.stderr and secret not in done.stderr
    assert sts.count("GetCallerIdentity") == 1

    credentials = (home / ".aws" / "credentials").read_bytes()
    assert credentials == OTHER_BYTES.format(keys="").replace("\r\n\r\n# trailing", "\r\n# trailing").encode()
    assert secret.encode() not in credentials and key_id.encode() not in credentials

    data = store(home).read_bytes()
    assert data.startswith(b"age-encryption.org/v1\n-> scrypt ")
    assert secret.encode() not in data and key_id.encode() not in data
    assert stat.S_IMODE(store(home).stat().st_mode) == 0o600
    assert stat.S_IMODE(store(home).parent.stat().st_mode) == 0o700

    text, status = age_decrypt(store(home), PASSPHRASE)
    assert status == 0 and secret in text and key_id in text

    # `keys list` needs no passphrase: what it shows is not secret.
    listing = run_cli(keys_env, "keys", "list")
    assert listing.returncode == 0, listing.stderr
    assert re.search(rf"^cpco\s+{key_id}\s+0 h\s*$", listing.stdout, re.M)
    assert secret not in listing.stdout + listing.stderr


@only_single
def test_import_refuses_keys_sts_does_not_know_and_changes_nothing(keys_env, home, user, topology, sts):
    sts.unknown_keys.add(user[1])
    before = (home / ".aws" / "credentials").read_bytes()
    done = run_cli(with_passphrase(keys_env), "keys", "import", "cpco")
    assert done.returncode == 1 and "do not work" in done.stderr and "nothing changed" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert (home / ".aws" / "credentials").read_bytes() == before
    assert not store(home).exists()


@only_single
def test_stage_use_asks_the_passphrase_then_the_code_once_and_a_second_stage_neither(keys_env, home, topology, sts, shell):
    imported(keys_env)
    s = shell(env=keys_env)
    s.child.sendline("stage use testing")
    s.expect(re.escape(PASSPHRASE_PROMPT))
    s.send(PASSPHRASE + "\r")
    s.answer_mfa(CODE)
    s.prompt()
    assert s.run('echo "$STAGE"') == "testing"
    assert PASSPHRASE not in "".join(s.transcript)

    s.child.sendline("stage use prod")
    s.expect([re.escape(PASSPHRASE_PROMPT), re.escape(MFA_PROMPT), re.escape(PS1)])
    assert PS1 in s.child.after, "the second stage asked for something"
    assert s.run('echo "$STAGE"') == "prod"
    assert mfa_prompts(s) == 1
    assert sts.count("GetSessionToken") == 1


@only_single
def test_a_wrong_passphrase_is_one_line_exit_2_and_no_code_is_spent(keys_env, home, topology, sts):
    imported(keys_env)
    sts.reset()
    done = run_cli(with_passphrase(keys_env, "wrong"), "use", "testing", "--mfa-token", CODE)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"geodesic-stage: wrong passphrase for {store(home)}; nothing changed"]
    assert done.stdout == "" and sts.calls == []


@only_single
def test_without_a_terminal_the_passphrase_comes_from_the_environment_or_a_file_or_exit_3(keys_env, home, topology, sts, tmp_path):
    imported(keys_env)
    sts.reset()
    done = run_cli(keys_env, "use", "testing", "--mfa-token", CODE)
    assert done.returncode == 3 and "GEODESIC_STAGE_PASSPHRASE" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and sts.calls == []

    secret_file = tmp_path / "passphrase"
    secret_file.write_text(PASSPHRASE + "\n")
    done = run_cli(dict(keys_env, GEODESIC_STAGE_PASSPHRASE_FILE=str(secret_file)), "use", "testing", "--mfa-token", CODE)
    assert done.returncode == 0, done.stderr
    assert sts.count("GetSessionToken") == 1

    # The variable leaves the environment once read: a command run by exec never sees it.
    (home / ".aws" / "cli" / "cache" / "geodesic-stage").rename(tmp_path / "sessions")
    for path in (home / ".aws" / "cli" / "cache").glob("*.json"):
        path.unlink()
    done = run_cli(with_passphrase(keys_env), "exec", "testing", "--mfa-token", CODE, "--", "env")
    assert done.returncode == 0, done.stderr
    assert "AWS_SESSION_TOKEN=" in done.stdout and PASSPHRASE not in done.stdout


@only_single
def test_renewal_and_credential_process_never_ask_for_the_passphrase(keys_env, home, topology, sts, shell):
    imported(keys_env)
    # A role assumed straight from the source keys (no mfa_serial) needs them at every renewal.
    with open(home / ".aws" / "config", "a") as f:
        f.write("\n[profile cpco-plain-admin]\nrole_arn=arn:aws:iam::323330167063:role/cpco-root-admin\nsource_profile=cpco\n")
    sts.reset()
    s = shell(env=keys_env)
    for command in ("geodesic-stage credential-process plain", "STAGE=plain AWS_PROFILE=cpco-plain-admin AWS_ACCESS_KEY_ID=ASIAEXPIRING AWS_CREDENTIAL_EXPIRATION=2026-01-01T00:00:00Z geodesic-stage refresh"):
        s.child.sendline(f"{command}; echo rc=$?")
        s.expect([re.escape(PASSPHRASE_PROMPT), r"rc=\d+"])
        assert s.child.after == "rc=3", f"{command} asked for the passphrase"
        s.prompt()
    assert "needs its passphrase and this command never asks" in "".join(s.transcript)
    assert sts.calls == []


@only_single
def test_a_damaged_store_is_one_clear_line_never_a_fallback(keys_env, home, user, topology, sts):
    imported(keys_env)
    data = store(home).read_bytes()
    # The plain keys back in the credentials file must not be used instead.
    (home / ".aws" / "credentials").write_text(f"[cpco]\naws_access_key_id = {user[1]}\naws_secret_access_key = {user[2]}\n")
    for damaged in (data[: len(data) // 2], b"not an age file\n", data[:-20] + bytes(20)):
        store(home).write_bytes(damaged)
        sts.reset()
        done = run_cli(with_passphrase(keys_env), "use", "testing", "--mfa-token", CODE)
        assert done.returncode == 2, done.stderr
        [line] = done.stderr.strip().splitlines()
        assert str(store(home)) in line and "damaged" in line and "restore it from a backup" in line
        assert sts.count("GetSessionToken") == 0


@only_single
def test_rotate_end_to_end(keys_env, home, user, moto_url, topology, sts):
    name, old_id, old_secret = user
    imported(keys_env)
    assert run_cli(with_passphrase(keys_env), "use", "testing", "--mfa-token", CODE).returncode == 0
    [session_file] = (home / ".aws" / "cli" / "cache" / "geodesic-stage").glob("session-*.json")

    sts.reset()
    done = run_cli(with_passphrase(keys_env), "keys", "rotate", "cpco")
    assert done.returncode == 0, done.stderr
    keys = listed_keys(moto_url, name)
    [new_id] = keys
    assert new_id != old_id and keys[new_id] == "Active"
    # No second code: the MFA session bought by `use` signs the IAM calls; it is dropped afterwards.
    assert sts.count("GetSessionToken") == 0
    assert not session_file.exists()
    assert new_id in done.stderr and old_secret not in done.stderr

    text, _ = age_decrypt(store(home), PASSPHRASE)
    assert new_id in text and old_id not in text and old_secret not in text
    listing = run_cli(keys_env, "keys", "list")
    assert new_id in listing.stdout and old_id not in listing.stdout

    # stage use works after `logout --forget`, from the new key.
    assert run_cli(keys_env, "logout", "--forget").returncode == 0
    sts.reset()
    done = run_cli(with_passphrase(keys_env), "use", "testing", "--mfa-token", CODE)
    assert done.returncode == 0, done.stderr
    [request] = [r for r in sts.requests if r["Action"] == "GetSessionToken"]
    assert sts.count("GetSessionToken") == 1


@only_single
def test_rotate_with_a_second_key_stops_and_names_it_unless_it_is_inactive_and_delete_inactive(keys_env, home, user, moto_url, topology, sts):
    name, old_id, _ = user
    imported(keys_env)
    iam = moto_iam(moto_url)
    second = iam.create_access_key(UserName=name)["AccessKey"]["AccessKeyId"]
    done = run_cli(with_passphrase(keys_env), "keys", "rotate", "cpco", "--mfa-token", CODE)
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert second in line and "(active)" in line and "nothing changed" in line
    assert listed_keys(moto_url, name) == {old_id: "Active", second: "Active"}

    iam.update_access_key(UserName=name, AccessKeyId=second, Status="Inactive")
    done = run_cli(with_passphrase(keys_env), "keys", "rotate", "cpco", "--mfa-token", CODE)
    assert done.returncode == 2 and "--delete-inactive" in done.stderr
    done = run_cli(with_passphrase(keys_env), "keys", "rotate", "cpco", "--mfa-token", CODE, "--delete-inactive", "--keep-inactive")
    assert done.returncode == 0, done.stderr
    keys = listed_keys(moto_url, name)
    assert second not in keys and keys.pop(old_id) == "Inactive"
    [(new_id, status)] = keys.items()
    assert status == "Active"


@only_single
def test_add_list_remove_and_passwd(keys_env, home, user, topology, sts, shell):
    _, key_id, secret = user
    s = shell(env=keys_env)
    s.child.sendline("geodesic-stage keys add cpco")
    s.expect("New passphrase for ~/.aws/geodesic-stage/keys.age:")
    s.send(PASSPHRASE + "\r")
    s.expect("Type the new passphrase again:")
    s.send(PASSPHRASE + "\r")
    s.expect("AWS access key id for cpco:")
    s.send(key_id + "\r")
    s.expect("AWS secret access key for cpco:")
    s.send(secret + "\r")
    s.prompt()
    assert secret not in "".join(s.transcript)
    assert key_id in s.run("geodesic-stage keys list")

    s.child.sendline("geodesic-stage keys passwd")
    s.expect(re.escape(PASSPHRASE_PROMPT))
    s.send(PASSPHRASE + "\r")
    s.expect("New passphrase for")
    s.send("new one\r")
    s.expect("Type the new passphrase again:")
    s.send("new one\r")
    s.prompt()
    assert age_decrypt(store(home), "new one")[1] == 0

    done = run_cli(with_passphrase(keys_env, "new one"), "keys", "remove", "cpco")
    assert done.returncode == 0, done.stderr
    assert "no keys stored" in run_cli(keys_env, "keys", "list").stderr


@only_single
def test_doctor_warns_of_a_plain_copy_and_hints_to_import(keys_env, home, user, topology, sts):
    done = run_cli(keys_env, "doctor", "--offline")
    assert "hint: source profile 'cpco' keeps its keys in plain text" in done.stderr
    imported(keys_env)
    assert "hint" not in run_cli(keys_env, "doctor", "--offline").stderr
    (home / ".aws" / "credentials").write_text(f"[cpco]\naws_access_key_id = {user[1]}\naws_secret_access_key = {user[2]}\n")
    done = run_cli(keys_env, "doctor", "--offline")
    assert "warning: source profile 'cpco' is in the key store and still in plain text" in done.stdout


@only_single
def test_a_cached_use_opens_no_key_store(keys_env, home, topology, sts, tmp_path):
    imported(keys_env)
    assert run_cli(with_passphrase(keys_env), "use", "testing", "--mfa-token", CODE).returncode == 0
    trace = tmp_path / "strace.log"
    done = subprocess.run(
        ["strace", "-f", "-qq", "-o", str(trace), "-e", "trace=%file", str(BIN / "geodesic-stage"), "use", "testing"],
        env=keys_env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    opened = [line for line in trace.read_text().splitlines() if re.search(r"\bopen(at)?\(", line)]
    assert any("/cli/cache/" in line for line in opened), "the trace sees the cache read"
    # At most a stat says the store exists (a chain may start there); nothing opens it or loads pyrage.
    assert [line for line in opened if "geodesic-stage/keys" in line or "pyrage" in line] == []


@only_single
def test_a_lost_index_is_rebuilt_from_the_store_with_the_passphrase(keys_env, home, user, topology, sts):
    imported(keys_env)
    index = home / ".aws" / "geodesic-stage" / "keys.index"
    index.unlink()
    done = run_cli(keys_env, "keys", "list")
    assert done.returncode == 3 and "GEODESIC_STAGE_PASSPHRASE" in done.stderr
    done = run_cli(with_passphrase(keys_env), "keys", "list")
    assert done.returncode == 0 and user[1] in done.stdout
    assert index.exists() and user[2] not in index.read_text()
    assert user[1] in run_cli(keys_env, "keys", "list").stdout

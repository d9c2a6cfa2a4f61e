"""A good citizen in the user's shell, in CI and in the image (issue 11): `stage` gives back
what it borrowed, its output works where no AWS config exists, it means exactly the stage
typed, it logs out whatever the cache says, its prompt hook keeps quiet and quick and its
label survives prompt frameworks. Real bash on a pty, the local STS, the real AWS CLI."""

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from conftest import BIN, ROOT, run_cli
from ptyshell import PS1, STAGE_SH

CODE = "123456"
MINUTES = 60
HOURS = 3600
pytestmark = pytest.mark.parametrize("topology", ["single"])


def use_with_code(shell, command: str, code: str = CODE) -> str:
    shell.child.sendline(command)
    shell.answer_mfa(code)
    return shell.prompt()


def value(shell, name: str) -> str:
    """NAME's value, or <unset>."""
    return shell.run(f'printf "%s\\n" "${{{name}-<unset>}}"')


def label(prompt_line: str) -> str:
    found = re.match(r"(\[[^]]*\]) ", prompt_line)
    return found.group(1) if found else ""


# 1. logout gives back the user's own values
def test_logout_gives_the_user_back_their_own_profile_and_region(shell, sts):
    s = shell()
    s.run("export AWS_PROFILE=cpco AWS_REGION=eu-west-1 AWS_DEFAULT_REGION=eu-west-1; unset STAGE ASSUME_ROLE")
    s.run("stage logout")
    assert value(s, "AWS_PROFILE") == "cpco", "with no stage in use there is nothing to log out of"
    use_with_code(s, "stage use testing")
    assert value(s, "AWS_PROFILE") == "cpco-testing-admin" and value(s, "AWS_REGION") == "us-west-2"
    s.run("stage use root")
    assert value(s, "AWS_PROFILE") == "cpco-root-admin"

    s.run("stage logout")
    assert s.last_prompt_line() == PS1
    assert [value(s, n) for n in ("AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION")] == ["cpco", "eu-west-1", "eu-west-1"]
    assert s.run('printenv AWS_PROFILE AWS_REGION AWS_DEFAULT_REGION') == "cpco\neu-west-1\neu-west-1", "still exported"
    assert [value(s, n) for n in ("STAGE", "ASSUME_ROLE", "AWS_ACCESS_KEY_ID", "AWS_SESSION_TOKEN")] == ["<unset>"] * 4
    # The user's own profile works again: the source keys, the user's region.
    identity = s.run("aws sts get-caller-identity --query Account --output text; echo exit=$?")
    assert identity.splitlines()[-1] == "exit=0", identity

    # A second round keeps what the user had before it, not what the first round set.
    s.run("export AWS_REGION=ap-south-1")
    s.run("stage use testing")
    s.run("stage logout")
    assert [value(s, n) for n in ("AWS_PROFILE", "AWS_REGION")] == ["cpco", "ap-south-1"]


# 2. a profile without a region leaves the user's region
def test_a_profile_without_a_region_leaves_the_users_region(shell, sts, home):
    config = home / ".aws" / "config"
    config.write_text(config.read_text() + "\n[profile cpco-dev-admin]\nrole_arn=arn:aws:iam::323330167063:role/cpco-root-admin\n"
                      "mfa_serial=arn:aws:iam::323330167063:mfa/admin@cloudposse.co\nsource_profile=cpco\n")
    s = shell()
    s.run("export AWS_REGION=eu-west-1 AWS_DEFAULT_REGION=eu-central-1")
    use_with_code(s, "stage use dev")
    assert [value(s, n) for n in ("STAGE", "AWS_REGION", "AWS_DEFAULT_REGION")] == ["dev", "eu-west-1", "eu-central-1"]
    # From a stage with a region to one without: the user's region, not the last stage's.
    s.run("stage use testing")
    assert value(s, "AWS_REGION") == "us-west-2"
    s.run("stage use dev")
    assert [value(s, n) for n in ("AWS_REGION", "AWS_DEFAULT_REGION")] == ["eu-west-1", "eu-central-1"]
    assert s.run("aws sts get-caller-identity --query Account --output text") == "323330167063"


# 3. env and exec where no AWS config exists: the way CI uses them
BOTO3_CALLER = "import boto3; print(boto3.client('sts').get_caller_identity()['Arn'])"
# The json output turned into an environment for a command, as a CI step would with jq.
FROM_JSON = "import json, os, sys; env = json.load(open(sys.argv[1])); os.execvpe(sys.argv[2], sys.argv[2:], {**os.environ, **env})"


def bare(sts_url: str, home: Path) -> list:
    """`env -i`: an empty HOME, nothing but PATH and the local STS."""
    return ["env", "-i", f"HOME={home}", f"PATH={BIN}:/usr/bin:/bin", f"AWS_ENDPOINT_URL_STS={sts_url}", "AWS_EC2_METADATA_DISABLED=true"]


@pytest.mark.parametrize("fmt", ["sh", "dotenv", "json"])
def test_env_output_works_on_a_machine_with_no_aws_config(env, sts, tmp_path, fmt):
    made = run_cli(env, "env", "testing", "--format", fmt, "--mfa-token", CODE)
    assert made.returncode == 0, made.stderr
    saved = tmp_path / f"ci.{fmt}"
    saved.write_text(made.stdout)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "AWS_PROFILE" not in made.stdout and "ASSUME_ROLE" not in made.stdout
    expected = "arn:aws:sts::323330167063:assumed-role/cpco-root-admin/"

    for reader in (["aws", "sts", "get-caller-identity", "--query", "Arn", "--output", "text"], [sys.executable, "-c", BOTO3_CALLER]):
        if fmt == "json":
            argv = [*bare(sts.url, empty), sys.executable, "-c", FROM_JSON, str(saved), *reader]
        else:
            argv = [*bare(sts.url, empty), "bash", "-c", f'set -a; . "$0"; exec "$@"', str(saved), *reader]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        assert done.returncode == 0, f"{reader[0]}: {done.stderr}"
        assert done.stdout.startswith(expected), done.stdout


def test_exec_works_for_a_command_with_another_home(env, sts, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    user = dict(env, AWS_PROFILE="cpco", AWS_DEFAULT_PROFILE="cpco")
    for reader in (["aws", "sts", "get-caller-identity", "--query", "Arn", "--output", "text"], [sys.executable, "-c", BOTO3_CALLER]):
        done = run_cli(user, "exec", "testing", "--mfa-token", CODE, "--", "env", f"HOME={empty}", *reader)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("arn:aws:sts::323330167063:assumed-role/cpco-root-admin/"), done.stdout


# 4. a stage name means exactly that stage when no namespace is known
def test_without_a_namespace_prod_never_means_another_namespaces_pre_prod(shell, sts, home, env):
    (home / ".aws" / "config").write_text(
        "".join(
            f"[profile {name}]\nregion=us-west-2\nrole_arn=arn:aws:iam::323330167063:role/cpco-root-admin\n"
            "mfa_serial=arn:aws:iam::323330167063:mfa/admin@cloudposse.co\nsource_profile=cpco\n\n"
            for name in ("acme-pre-prod-admin", "acme-us-east-1-prod-admin")
        )
        + "[profile cpco]\n"
    )
    s = shell(env={"NAMESPACE": ""})
    before = s.run("env | grep -v '^PS1=' | sort")
    refused = s.run("stage use prod; echo exit=$?")
    assert "unknown stage 'prod'; stages: pre-prod, us-east-1-prod. Did you mean 'pre-prod'?" in refused
    assert refused.splitlines()[-1] == "exit=2"
    assert s.last_prompt_line() == PS1 and s.run("env | grep -v '^PS1=' | sort") == before
    assert sts.calls == []
    assert label(use_with_code(s, "stage use pre-prod")) in ("[pre-prod 60m]", "[pre-prod 59m]")
    assert value(s, "AWS_PROFILE") == "acme-pre-prod-admin"


# 5. logout always logs out; a cache it cannot change is one warning line
def test_logout_forget_with_a_cache_it_cannot_change_still_logs_out(shell, sts, home):
    s = shell()
    s.run("export AWS_REGION=eu-west-1")
    use_with_code(s, "stage use testing")
    # A cache entry that cannot be removed (a directory where the session file was).
    sessions = home / ".aws" / "cli" / "cache" / "geodesic-stage"
    stuck = next(sessions.glob("session-*.json"))
    stuck.unlink()
    (stuck / "inside").mkdir(parents=True)

    said = s.run("stage logout --forget; echo exit=$?")
    lines = said.splitlines()
    assert lines[-1] == "exit=0"
    assert len(lines) == 2 and lines[0].startswith(f"geodesic-stage: warning: logged out, but could not drop {stuck} (Is a directory)")
    assert "Traceback" not in said
    assert s.last_prompt_line() == PS1
    assert [value(s, n) for n in ("STAGE", "AWS_ACCESS_KEY_ID", "AWS_REGION")] == ["<unset>", "<unset>", "eu-west-1"]
    assert list((home / ".aws" / "cli" / "cache").glob("*.json")) == [], "what could be forgotten was"


@pytest.fixture
def nobody_home():
    """A home owned by nobody, with a credential cache root made (as after `sudo -E aws ...`)."""
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv to run a command as nobody")
    base = Path(tempfile.mkdtemp(prefix="geodesic-stage-nobody-"))
    base.chmod(0o755)
    home = base / "home"
    (home / ".aws").mkdir(parents=True)
    shutil.copy(ROOT / "tests" / "data" / "single.config", home / ".aws" / "config")
    shutil.copy(ROOT / "tests" / "data" / "credentials", home / ".aws" / "credentials")
    subprocess.run(["chown", "-R", "nobody:", str(home)], check=True)
    (home / ".aws" / "cli" / "cache" / "geodesic-stage").mkdir(parents=True, mode=0o700)
    subprocess.run(["chown", "-R", "nobody:", str(home / ".aws" / "cli")], check=True)
    os.chown(home / ".aws" / "cli" / "cache", 0, 0)
    os.chown(home / ".aws" / "cli" / "cache" / "geodesic-stage", 0, 0)
    (home / ".aws" / "cli" / "cache").chmod(0o700)
    yield home
    shutil.rmtree(base)


def as_nobody(env: dict, home: Path, *args) -> subprocess.CompletedProcess:
    """geodesic-stage ARGS run as nobody: an interpreter nobody may run, with this venv's packages."""
    import sysconfig

    python = "/usr/bin/python3"  # the test's own may sit under root's home
    paths = os.pathsep.join([str(ROOT), sysconfig.get_paths()["purelib"]])
    return subprocess.run(
        ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", python, "-m", "geodesic_stage", *args],
        env=dict(env, HOME=str(home), PYTHONPATH=paths), capture_output=True, text=True, timeout=60,
        stdin=subprocess.DEVNULL, start_new_session=True,
    )


def test_a_cache_owned_by_another_user_is_named_by_doctor_use_and_logout(env, sts, nobody_home):
    if not os.path.exists("/usr/bin/python3") or as_nobody(env, nobody_home, "--version").returncode != 0:
        pytest.skip("no Python interpreter nobody can run with these packages")
    doctor = as_nobody(env, nobody_home, "doctor", "--offline")
    found = [line for line in doctor.stdout.splitlines() if "cannot write the credential cache" in line]
    assert doctor.returncode == 1
    assert found == [
        f"error: cannot write the credential cache: {nobody_home}/.aws/cli/cache belongs to root (uid 0), not to you; "
        f"fix: sudo chown -R nobody {nobody_home}/.aws && chmod -R u+rwX {nobody_home}/.aws"
    ], doctor.stdout

    used = as_nobody(env, nobody_home, "use", "testing", "--no-prompt")
    assert (used.returncode, used.stdout) == (2, "")
    assert used.stderr.startswith("geodesic-stage: cannot write the cache: ") and "MFA" not in used.stderr, used.stderr

    out = as_nobody(env, nobody_home, "logout", "--forget")
    assert out.returncode == 0 and out.stdout.startswith("unset AWS_ACCESS_KEY_ID")
    assert len(out.stderr.splitlines()) == 1 and "logged out, but could not drop" in out.stderr and "Permission denied" in out.stderr


# 6. the prompt hook's hints: once per expiry, and right for the mode
def test_in_direct_mode_the_hook_tries_no_renewal_and_hints_once_when_it_expires(shell, env, fake_clock, fake_sts):
    s = shell(env=fake_clock.apply(dict(env, AWS_ENDPOINT_URL_STS=fake_sts.url)))
    use_with_code(s, "stage use testing --direct")
    calls = len(fake_sts.calls)
    hint = "geodesic-stage: credentials for testing have expired; run 'stage use testing --direct' for a new MFA code or sign-in"

    fake_clock.advance(52 * MINUTES)
    for _ in range(3):  # the last ten minutes, an Enter a minute apart
        assert s.run("") == ""
        assert re.fullmatch(r"\[testing [5-8]m\]", label(s.last_prompt_line())), s.last_prompt_line()
        fake_clock.advance(MINUTES)
    assert len(fake_sts.calls) == calls, "direct mode has no MFA session to renew from"

    fake_clock.advance(10 * MINUTES)
    assert s.run("") == hint
    for _ in range(2):
        fake_clock.advance(MINUTES)
        assert s.run("") == "" and label(s.last_prompt_line()) == "[testing expired]"
    assert len(fake_sts.calls) == calls


# 7. a renewal at the prompt is bounded
@pytest.fixture
def blackhole():
    """An STS address on 127.0.0.x that takes connections and never answers; counts them."""
    server = socket.socket()
    server.bind(("127.0.0.2", 0))
    server.listen(16)
    accepted = []

    def hold():
        while True:
            try:
                accepted.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=hold, daemon=True).start()
    yield f"http://127.0.0.2:{server.getsockname()[1]}", accepted
    server.close()
    for connection in accepted:
        connection.close()


def test_a_renewal_at_the_prompt_against_an_sts_that_never_answers_takes_under_4_s(shell, env, sts, home, blackhole, fake_clock):
    url, accepted = blackhole
    s = shell(env=fake_clock.apply(env))
    use_with_code(s, "stage use testing")
    for entry in (home / ".aws" / "cli" / "cache").glob("*.json"):
        entry.unlink()  # the role must be assumed again: from the MFA session, at STS
    s.run(f"export AWS_ENDPOINT_URL_STS={url}")

    # Five minutes left: the prompt after this command renews.
    started = time.monotonic()
    said = s.run("printf -v AWS_CREDENTIAL_EXPIRATION '%(%Y-%m-%dT%H:%M:%SZ)T' $((EPOCHSECONDS + 300))")
    took = time.monotonic() - started
    assert took < 4, f"the prompt waited {took:.1f} s"
    assert accepted, "the hook tried STS"
    assert said.startswith("geodesic-stage: no answer from STS within 3 s") and len(said.splitlines()) == 1, said
    assert label(s.last_prompt_line()) in ("[testing 4m]", "[testing 5m]"), "the stale label"

    # No second try within the minute: the next Enter is an ordinary one, and quiet.
    tried = len(accepted)
    assert s.run("") == ""
    assert len(accepted) == tried

    # A minute later it tries again, as briefly, and says nothing it has said already.
    fake_clock.advance(61)
    started = time.monotonic()
    assert s.run("") == ""
    assert time.monotonic() - started < 4
    assert len(accepted) > tried
    assert label(s.last_prompt_line()) in ("[testing 3m]", "[testing 4m]")


# 8. the label survives prompt frameworks, a PROMPT_COMMAND array and promptvars off
FRAMEWORKS = {
    # __git_ps1 "PRE" "POST": writes PS1 afresh at each prompt; set up before stage.sh.
    "git_ps1": ['__git_ps1() { PS1="$1 (main)$2"; }', "PROMPT_COMMAND='__git_ps1 \"GIT\" \" PROMPT$ \"'", "source {stage_sh}"],
    # starship puts its precmd in front of whatever PROMPT_COMMAND holds, after stage.sh.
    "starship": ["source {stage_sh}", 'starship_precmd() { PS1="STAR PROMPT$ "; }', 'PROMPT_COMMAND="starship_precmd;$PROMPT_COMMAND"'],
    # bash 5.1+ runs each element of a PROMPT_COMMAND array.
    "array": ['first() { PS1="ONE PROMPT$ "; }', 'second() { PS1="TWO PROMPT$ "; }', "PROMPT_COMMAND=(first second)", "source {stage_sh}"],
    # A framework that appends itself to the array after stage.sh.
    "appended": ["source {stage_sh}", 'late() { PS1="LATE PROMPT$ "; }', "PROMPT_COMMAND+=(late)"],
}


@pytest.mark.parametrize("framework", sorted(FRAMEWORKS))
def test_the_label_survives_prompt_frameworks_and_promptvars_off(shell, sts, framework):
    s = shell(source=False)
    for line in FRAMEWORKS[framework]:
        s.run(line.replace("{stage_sh}", str(STAGE_SH)))
    drawn = s.run("")
    mark = s.last_prompt_line()
    assert label(mark) == "", mark

    prompt = use_with_code(s, "stage use testing")
    assert label(prompt) in ("[testing 60m]", "[testing 59m]"), prompt
    s.run("")
    assert label(s.last_prompt_line()) in ("[testing 60m]", "[testing 59m]")
    assert s.last_prompt_line().endswith(mark), "the framework's own prompt follows the label"

    s.run("shopt -u promptvars")
    s.run("")
    assert label(s.last_prompt_line()) in ("[testing 60m]", "[testing 59m]"), s.last_prompt_line()
    assert "${" not in s.last_prompt_line()

    s.run("stage logout")
    assert s.last_prompt_line() == mark
    assert drawn == ""


def test_a_hostile_stage_name_in_the_label_is_text_with_promptvars_on_or_off(shell, tmp_path):
    s = shell(env={"STAGE": "$(touch canary)`touch canary`\\w", "AWS_ACCESS_KEY_ID": "ASIAEXAMPLE"})
    s.run(f"cd {tmp_path}")
    s.run("printf -v AWS_CREDENTIAL_EXPIRATION '%(%Y-%m-%dT%H:%M:%SZ)T' $((EPOCHSECONDS + 1500))")
    for setting in ("-s", "-u"):
        s.run(f"shopt {setting} promptvars")
        s.run("")
        assert s.last_prompt_line().startswith("[$(touch canary)`touch canary`\\w 2"), s.last_prompt_line()
    assert not (tmp_path / "canary").exists()


# 9. codes as authenticator apps show them
def test_a_code_typed_or_pasted_with_a_space_or_dash_is_accepted(shell, sts, env):
    s = shell()
    assert label(use_with_code(s, "stage use testing", "123 456")) in ("[testing 60m]", "[testing 59m]")
    assert [p["TokenCode"] for p in sts.parameters("GetSessionToken")] == ["123456"]

    shutil.rmtree(Path(env["HOME"]) / ".aws" / "cli" / "cache")
    done = run_cli(env, "use", "testing", "--mfa-token", "234-567")
    assert done.returncode == 0, done.stderr
    assert [p["TokenCode"] for p in sts.parameters("GetSessionToken")] == ["123456", "234567"]

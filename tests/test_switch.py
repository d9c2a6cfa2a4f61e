"""A cached `stage use STAGE` replayed by the shell without Python (issue 23; geodesic_stage/switch.py
and stage.sh's __geodesic_stage_replay): the same variables and prompt as the command gives, no process
started, and the command runs again the moment anything its block came from has changed.

Every test counts the runs of `geodesic-stage` through a shim first on PATH that notes its words and
execs the real one: a replayed switch is one the shim never sees.
"""

import os
import re
import shlex
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import BIN, ROOT, CountedCommand, mfa_prompts, needs_root
from ptyshell import PS1

CODE = "123456"
MINUTES = 60
# What a shell's environment holds that is no stage's: asked for after each switch and compared.
SHOWN = "AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_CREDENTIAL_EXPIRATION AWS_SESSION_EXPIRATION " \
        "AWS_REGION AWS_DEFAULT_REGION AWS_PROFILE ASSUME_ROLE STAGE GEODESIC_STAGE_USED_WITH KUBECONFIG DOCKER_CONFIG"
SHOW = "for v in " + SHOWN + "; do printf '%s=%s;' \"$v\" \"${!v-<unset>}\"; done; echo"


class Runs(CountedCommand):
    """A `geodesic-stage` in front of the real one that notes the words of each run."""

    def __init__(self, directory, environ: dict):
        super().__init__(directory, environ, BIN / "geodesic-stage")


def records(home) -> list:
    where = home / ".aws" / "cli" / "cache" / "geodesic-stage" / "switch"
    return sorted(p.name for p in where.iterdir()) if where.is_dir() else []


def warm(s, runs) -> None:
    """testing and prod assumed (asking once), then each used from the cache once: both kept."""
    s.child.sendline("stage use testing")
    s.answer_mfa(CODE)
    s.prompt()
    for stage in ("prod", "testing", "prod"):
        s.run(f"stage use {stage}")
    assert runs.take() == ["use testing", "use prod", "use testing", "use prod"]


@pytest.fixture
def counted(shell, env, tmp_path):
    """A pty bash with stage.sh, its `geodesic-stage` runs counted: (shell, Runs)."""
    runs = Runs(tmp_path, env)
    return shell(env=runs.env), runs


@pytest.mark.parametrize("topology", ["organization"])
def test_a_cached_switch_starts_no_process_and_sets_what_the_command_sets(counted, home, sts):
    s, runs = counted
    warm(s, runs)
    assert records(home) == ["prod", "testing"]
    calls = len(sts.calls)

    replayed = {}
    for stage in ("testing", "prod", "testing"):
        s.run(f"stage use {stage}")
        assert re.search(rf"\[{stage} \d+m\] {re.escape(PS1)}$", s.last_prompt_line()), s.last_prompt_line()
        replayed[stage] = s.run(SHOW)
    assert runs.take() == [] and len(sts.calls) == calls
    # What the command itself sets for the same switch (its record put aside for once).
    for stage in ("testing", "prod"):
        s.run(f"mv ~/.aws/cli/cache/geodesic-stage/switch/{stage} ~/aside")
        s.run(f"stage use {stage}")
        assert runs.take() == [f"use {stage}"]
        assert s.run(SHOW) == replayed[stage]
        assert f"STAGE={stage};" in replayed[stage] and f"AWS_PROFILE=cpco-{stage}-admin;" in replayed[stage]
    # Logout gives the user's own values back after a replayed switch as after any other.
    s.run("stage logout")
    s.run("export AWS_REGION=eu-north-1")
    s.run("stage use testing")
    assert s.run('echo "$AWS_REGION"') == "us-west-2"
    s.run("stage logout")
    assert runs.take() == ["logout", "logout"]
    assert s.run('echo "${AWS_REGION-} ${STAGE-none} ${AWS_ACCESS_KEY_ID-none}"') == "eu-north-1 none none"
    assert mfa_prompts(s) == 1


CHANGES = {
    "the AWS config edited": "echo '# a comment' >> ~/.aws/config",
    "the AWS config replaced by an older copy": "cp ~/.aws/config ~/c && touch -d '2001-01-01' ~/c && mv ~/c ~/.aws/config",
    "the credentials file edited": "echo >> ~/.aws/credentials",
    "a stages file made": "mkdir -p ~/.config/geodesic && printf 'namespace = cpco\\n' > ~/.config/geodesic/stages.conf",
    "a variable it read now set": "export AWS_CONFIG_FILE=~/.aws/config",
    "a variable it read changed": "export NAMESPACE=cpco2",
    "a variable it read no longer exported": "export -n NAMESPACE",
    "the cached credentials renewed elsewhere": "touch ~/.aws/cli/cache/*.json",
}


@pytest.mark.parametrize("topology", ["organization"])
@pytest.mark.parametrize("change", sorted(CHANGES))
def test_a_change_to_what_the_block_came_from_runs_the_command_again(counted, home, sts, change):
    s, runs = counted
    warm(s, runs)
    s.run("sleep 0.02")  # later than the records by more than the file system's clock tick
    s.run(CHANGES[change])
    s.run("stage use testing")
    assert runs.take() == ["use testing"]
    if "NAMESPACE" not in CHANGES[change]:  # (a namespace without the stage's profile: no stage, nothing kept)
        # That run kept the block anew: from then on it is replayed again.
        s.run("stage use testing")
        assert runs.take() == []


@pytest.mark.parametrize("topology", ["organization"])
def test_options_run_the_command_and_leave_the_plain_switch_as_it_was(counted, home, sts):
    s, runs = counted
    warm(s, runs)
    s.run("stage use testing --region eu-west-1")
    assert s.run('echo "$AWS_REGION $GEODESIC_STAGE_USED_WITH"') == "eu-west-1 --region eu-west-1"
    s.run("stage use testing")
    assert s.run('echo "$AWS_REGION ${GEODESIC_STAGE_USED_WITH-none}"') == "us-west-2 none"
    assert runs.take() == ["use testing --region eu-west-1"]


@pytest.mark.parametrize("topology", ["organization"])
def test_a_served_shell_is_never_replayed(counted, home, sts):
    s, runs = counted
    warm(s, runs)
    s.run("export GEODESIC_STAGE_SERVE=true")
    for _ in range(2):
        s.run("stage use testing")
        assert s.run('echo "${AWS_CONTAINER_CREDENTIALS_FULL_URI%%:*} ${AWS_ACCESS_KEY_ID-none}"') == "http none"
    assert runs.take() == ["use testing", "use testing"]
    s.run("stage logout")


@pytest.mark.parametrize("topology", ["organization"])
def test_logout_forget_drops_every_record_and_the_next_use_asks(counted, home, sts):
    s, runs = counted
    warm(s, runs)
    assert "forgot" in s.run("stage logout --forget")
    assert records(home) == []
    s.child.sendline("stage use testing")
    s.answer_mfa(CODE)
    s.prompt()
    assert runs.take() == ["logout --forget", "use testing"]
    assert mfa_prompts(s) == 2


@pytest.mark.parametrize("topology", ["organization"])
def test_credentials_inside_the_cache_window_are_renewed_by_the_command_not_replayed(shell, clocked_env, fake_clock, fake_sts, tmp_path, home):
    runs = Runs(tmp_path, clocked_env)
    s = shell(env=runs.env)
    warm(s, runs)
    # 40 minutes on, 20 left: the command serves them from the cache and keeps them anew (the record
    # it kept before is over a quarter hour old), so the record below is fresh: its credentials are not.
    fake_clock.advance(40 * MINUTES)
    s.run("stage use prod")
    assert runs.take() == ["use prod"]
    fake_sts.reset()
    # 6 minutes more, the hour-long role has 14 left: inside the cache's 15-minute window.
    fake_clock.advance(6 * MINUTES)
    s.run("stage use prod")
    assert runs.take() == ["use prod"]
    assert [a for a, _ in fake_sts.calls] == ["AssumeRole"]
    # The renewal is no record (AWS was called); the next switch keeps one, the one after replays it.
    s.run("stage use prod")
    s.run("stage use prod")
    assert runs.take() == ["use prod"]


@pytest.mark.parametrize("topology", ["organization"])
def test_a_record_is_replayed_for_a_quarter_hour_at_most(shell, clocked_env, fake_clock, fake_sts, tmp_path, home):
    runs = Runs(tmp_path, clocked_env)
    s = shell(env=runs.env)
    warm(s, runs)
    fake_clock.advance(14 * MINUTES)
    s.run("stage use prod")
    assert runs.take() == []
    fake_clock.advance(2 * MINUTES)
    s.run("stage use prod")
    assert runs.take() == ["use prod"]


@pytest.mark.parametrize("topology", ["organization"])
def test_values_in_a_record_are_never_executed(shell, env, home, sts, tmp_path):
    odd = home / "it's $(touch pwned) `touch pwned2` \"x\""
    odd.mkdir()
    (odd / "config").write_text((home / ".aws" / "config").read_text())
    runs = Runs(tmp_path, dict(env, AWS_CONFIG_FILE=str(odd / "config")))
    s = shell(env=runs.env)
    warm(s, runs)
    s.run("cd ~")
    for stage in ("testing", "prod"):
        s.run(f"stage use {stage}")
        assert s.run('echo "$STAGE"') == stage
    assert runs.take() == []
    assert not list(home.glob("pwned*")) and not list(tmp_path.glob("pwned*"))


@needs_root
@pytest.mark.parametrize("topology", ["organization"])
def test_a_record_of_another_user_or_a_link_is_not_replayed(counted, home, sts):
    s, runs = counted
    warm(s, runs)
    where = home / ".aws" / "cli" / "cache" / "geodesic-stage" / "switch"
    os.chown(where / "testing", 65534, 65534)
    s.run("stage use testing")
    assert runs.take() == ["use testing"]
    (where / "prod").rename(where / "elsewhere")
    (where / "prod").symlink_to(where / "elsewhere")
    s.run("stage use prod")
    assert runs.take() == ["use prod"]


@pytest.mark.parametrize("topology", ["organization"])
@pytest.mark.parametrize("corrupt", ["cut short", "not bash", "an older format"])
def test_a_corrupt_record_is_a_miss_never_an_error(counted, home, sts, corrupt):
    s, runs = counted
    warm(s, runs)
    record = home / ".aws" / "cli" / "cache" / "geodesic-stage" / "switch" / "testing"
    text = record.read_text()
    record.write_text({"cut short": text[: len(text) // 2], "not bash": "((( '\n" + text,
                       "an older format": text.replace("__gs_format=1", "__gs_format=0")}[corrupt])
    assert s.run("stage use testing") == ""
    assert runs.take() == ["use testing"]
    assert s.run('echo "$STAGE"') == "testing"


@pytest.mark.parametrize("topology", ["organization"])
def test_records_are_private(counted, home, sts):
    s, runs = counted
    warm(s, runs)
    where = home / ".aws" / "cli" / "cache" / "geodesic-stage" / "switch"
    assert where.stat().st_mode & 0o777 == 0o700
    assert {(p.stat().st_mode & 0o777) for p in where.iterdir()} == {0o600}


# In-process: what makes a run unfit to keep, which the shell tests cannot provoke cheaply.
KEEP = """
import os, sys
from datetime import datetime, timedelta, timezone
sys.modules.pop("botocore", None)
from geodesic_stage import switch
switch.watch(["use", "testing"])
{body}
switch.keep("export STAGE=testing\\n", datetime.now(timezone.utc) + timedelta(hours=1))
print(sorted(os.listdir(switch.directory())) if os.path.isdir(switch.directory()) else [])
"""


@pytest.mark.parametrize("body, kept", [
    ("os.environ.get('NAMESPACE')", ["testing"]),
    ("print('warning: something', file=sys.stderr)", []),
    ("dict(os.environ)", []),
    ("open('relative-file', 'a').close(); open('relative-file').close()", []),
    ("import botocore", []),
    # a value that is no UTF-8 (bytes the environment decoded with surrogateescape): no shell word holds it
    ("os.environ['NAMESPACE'] = 'cpco\\udcff'; os.environ.get('NAMESPACE')", []),
])
def test_a_run_keeps_a_record_only_when_it_was_a_plain_quiet_cached_one(tmp_path, body, kept):
    environ = dict(os.environ, HOME=str(tmp_path), GEODESIC_STAGE_SHELL_PID="1", PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", KEEP.format(body=body)], env=environ, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == str(kept)


def test_a_run_not_made_by_the_stage_function_keeps_nothing(tmp_path):
    environ = {k: v for k, v in os.environ.items() if k != "GEODESIC_STAGE_SHELL_PID"}
    environ.update(HOME=str(tmp_path), PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", KEEP.format(body="")], env=environ, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "[]"


@pytest.mark.parametrize("topology", ["organization"])
@pytest.mark.parametrize("version", ["4.3.0", "4.5.1"])
def test_in_geodesic_a_cached_switch_starts_neither_the_aws_cli_nor_python(shell, home, env, sts, tmp_path, version):
    from test_geodesic import AwsCli, drawn, first_prompt, geodesic_login, start_geodesic

    runs = Runs(tmp_path, env)
    aws = AwsCli(tmp_path, runs.env)
    geodesic_login(home, aws.env)
    s = start_geodesic(shell, home, aws.env, GEODESIC_STANDIN_VERSION=version)
    first_prompt(s)
    warm(s, runs)
    aws.reset()
    for stage in ("testing", "prod", "testing"):
        s.run(f"stage use {stage}")
        assert drawn(s.last_prompt_line()) == ("√", f"cpco-{stage}-admin")
        assert s.run('echo "$ASSUME_ROLE"') == f"cpco-{stage}-admin"
    assert runs.take() == [] and aws.runs() == []
    # What geodesic's hook would have noted, as after the command's own switch.
    replayed = s.run('echo "$GEODESIC_AWS_ROLE_CACHE"')
    s.run("rm ~/.aws/cli/cache/geodesic-stage/switch/testing; stage use prod; stage use testing")
    assert runs.take() == ["use testing"] and aws.runs() == []
    assert s.run('echo "$GEODESIC_AWS_ROLE_CACHE"') == replayed


def test_fingerprint_of_aws_profile_is_what_declare_prints(tmp_path):
    """geodesic's hook fingerprints `declare -p AWS_PROFILE`; stage.sh writes it out for the usual
    exported name and asks declare for anything else (a value it would escape, a read-only name)."""
    script = f"""
source {ROOT / 'rootfs' / 'etc' / 'profile.d' / 'stage.sh'}
refresh_current_aws_role_if_needed() {{ :; }}
__geodesic_stage_credentials_mtime=5 AWS_ACCESS_KEY_ID=K
check() {{
    __geodesic_stage_answer
    local want
    want=$(declare -p AWS_PROFILE 2>/dev/null)
    [[ $want == 'declare -'*x*' '* ]] || want=""
    [[ $GEODESIC_AWS_ROLE_CACHE == "$want/5/K" ]] || echo "differs: $GEODESIC_AWS_ROLE_CACHE vs $want/5/K"
}}
for value in cpco-testing-admin 'a.b_c@d%e+f=g:h,i/j' '' 'with space' 'q"uote' 'd$ollar' 'b`t' $'nl\\nx' 'é'; do
    export AWS_PROFILE=$value; check
done
AWS_PROFILE=unexported; export -n AWS_PROFILE; check
declare -rx AWS_PROFILE=read-only; check
echo done
"""
    done = subprocess.run(["bash", "--noprofile", "--norc", "-c", script], capture_output=True, text=True, timeout=60,
                          env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)})
    assert done.stdout == "done\n", done.stdout + done.stderr


TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"), max_size=40)


@settings(max_examples=40, deadline=None)
@given(value=TEXT, block=TEXT)
def test_a_record_gives_bash_back_every_value_and_the_block_as_they_were(tmp_path_factory, value, block):
    from datetime import datetime, timedelta, timezone
    from unittest import mock

    from geodesic_stage import switch

    watched = switch._Watch("testing")
    watched.variables = {"NAMESPACE": value, "NOT_SET": None}
    with mock.patch.dict(sys.modules):
        sys.modules.pop("botocore", None)
        text = switch._record(watched, block, datetime.now(timezone.utc) + timedelta(hours=1), ())
    record = tmp_path_factory.mktemp("record") / "testing"
    record.write_text(text)
    shown = subprocess.run(["bash", "--noprofile", "--norc", "-c",
                            f'. {shlex.quote(str(record))}; printf "%s\\0" "${{__gs_names[@]}}" "${{__gs_set[@]}}" '
                            '"${__gs_values[@]}" "$__gs_block" "$__gs_format$__gs_whole"'],
                           capture_output=True, timeout=30)
    assert shown.returncode == 0 and shown.stderr == b""
    assert shown.stdout.decode("utf-8").split("\0")[:-1] == ["NAMESPACE", "NOT_SET", "1", "", value, "", block, "11"]

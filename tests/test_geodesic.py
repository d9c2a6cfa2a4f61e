"""stage.sh inside geodesic (issues 7 and 23): geodesic's prompt shows the stage's profile from
ASSUME_ROLE, its identity check is answered by what we just assumed (no AWS CLI started by a
switch or a renewal) yet still runs on keys we did not set, nested and second login shells ask
nothing, and scripts see no prompt.

The geodesic parts are stand-ins written for these tests (tests/data/geodesic-*.sh) from a reading
of geodesic 4.3.0 to 4.5.1: the PROMPT_HOOKS loop, the prompt with PROMPT_STYLE's marks, and the
identity hook with geodesic's names and fingerprint, which runs the `aws` on PATH (the real AWS
CLI, behind a shim that notes each run) twice when the fingerprint changes.
"""

import re
import subprocess

import pytest

from conftest import BIN, DATA, ROOT, CountedCommand, mfa_prompts, run_cli
from ptyshell import MFA_PROMPT, PS1

CODE = "123456"
MINUTES = 60
HOURS = 3600
# PROMPT_STYLE: (active mark, inactive mark) as geodesic draws them, colour stripped.
MARKS = {"plain": ("»", "·"), "unicode": ("✅", "❌"), "fancy": ("√", "✗"), "default": ("√", "✗")}
# geodesic's identity check: the keys in the environment, then the profile.
CHECK = "sts get-caller-identity --output text --query Arn"
CHECK_PROFILE = "--profile {} " + CHECK
# The long-lived keys of [cpco] in tests/data/credentials: an IAM user, not a stage's role.
USER_KEYS = "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


class AwsCli(CountedCommand):
    """An `aws` in front of the real AWS CLI that notes the arguments of each run; `env` puts it first on PATH."""

    def __init__(self, directory, environ: dict):
        super().__init__(directory, environ, BIN / "aws")


def geodesic_login(home, environ: dict) -> None:
    """The sandbox user's ~/.bash_profile: this test's PATH (/etc/profile resets it), then geodesic's profile.d."""
    (home / ".bash_profile").write_text(f"PATH='{environ['PATH']}'\nsource {DATA / 'geodesic-profile.sh'}\n")


def start_geodesic(shell, home, environ=None, **extra):
    """A geodesic login shell on a pty; its prompt ends in PS1 (GEODESIC_PROMPT_GLYPHS)."""
    s = shell(login=True, env=dict(environ or {}, GEODESIC_PROMPT_GLYPHS=PS1, **extra))
    return s


def first_prompt(s) -> str:
    """The first prompt of a starting login shell; fails on an MFA prompt before it."""
    s.expect(f"{re.escape(MFA_PROMPT)}|{re.escape(PS1)}")
    assert s.child.after == PS1, "the shell asked for an MFA code"
    return s.last_prompt_line()


def drawn(prompt_line: str) -> tuple:
    """(mark, role) of geodesic's ` MARK LEVEL [ROLE] DIR ` prompt."""
    found = re.fullmatch(rf" (\S+) \S+ \[([^]]+)\] \S+ {re.escape(PS1)}", prompt_line)
    assert found, f"not geodesic's prompt: {prompt_line!r}"
    return found.group(1), found.group(2)


def counted_geodesic(shell, home, environ: dict, tmp_path, **extra) -> tuple:
    """A geodesic login shell at its first prompt, its `aws` runs counted from there: (shell, AwsCli)."""
    aws = AwsCli(tmp_path, environ)
    geodesic_login(home, aws.env)
    s = start_geodesic(shell, home, aws.env, **extra)
    first_prompt(s)
    aws.reset()
    return s, aws


def use_with_code(s, stage: str) -> str:
    s.child.sendline(f"stage use {stage}")
    s.answer_mfa(CODE)
    return s.prompt()


def transcript(*shells) -> str:
    return "".join("".join(s.transcript) for s in shells)


@pytest.mark.parametrize("topology", ["organization"])
@pytest.mark.parametrize("style", sorted(MARKS))
def test_geodesics_prompt_shows_the_profile_while_in_use_and_none_after_logout(shell, home, env, sts, style, tmp_path):
    active, inactive = MARKS[style]
    s, aws = counted_geodesic(shell, home, env, tmp_path, PROMPT_STYLE=style)
    assert drawn(s.last_prompt_line()) == (inactive, "none")

    assert drawn(use_with_code(s, "testing")) == (active, "cpco-testing-admin")
    # We had just assumed the profile's role: geodesic's check was answered, not run.
    assert aws.runs() == [] and sts.count("GetCallerIdentity") == 0
    for _ in range(3):
        s.run("")
        assert drawn(s.last_prompt_line()) == (active, "cpco-testing-admin")
    assert aws.runs() == []
    assert (sts.count("GetSessionToken"), sts.count("AssumeRole")) == (1, 1)
    assert s.run('echo "$ASSUME_ROLE"') == "cpco-testing-admin"

    s.run("stage logout")
    assert drawn(s.last_prompt_line()) == (inactive, "none")
    # The shell is the user's again, which is not ours to answer: geodesic asks, finds no keys, shows [none].
    assert aws.runs() == [CHECK]
    assert "!mixed!" not in transcript(s) and "Mismatch" not in transcript(s)
    assert mfa_prompts(s) == 1


@pytest.mark.parametrize("topology", ["organization"])
@pytest.mark.parametrize("version", ["4.3.0", "4.5.1"])
def test_switching_stages_and_renewing_start_no_aws_cli(shell, home, clocked_env, fake_clock, fake_sts, version, tmp_path):
    s, aws = counted_geodesic(shell, home, clocked_env, tmp_path, GEODESIC_STANDIN_VERSION=version)

    assert drawn(use_with_code(s, "testing")) == ("√", "cpco-testing-admin")
    s.run("stage use prod")
    assert drawn(s.last_prompt_line()) == ("√", "cpco-prod-admin")
    s.run("stage use testing")
    assert drawn(s.last_prompt_line()) == ("√", "cpco-testing-admin")
    assert aws.runs() == []
    assert [a for a, _ in fake_sts.calls] == ["GetSessionToken", "AssumeRole", "AssumeRole"]
    fake_sts.reset()

    # Nine minutes left: the prompt hook renews, and geodesic's hook, after it, finds its answer.
    fake_clock.advance(51 * MINUTES)
    s.run("")
    assert drawn(s.last_prompt_line()) == ("√", "cpco-testing-admin")
    assert [a for a, _ in fake_sts.calls] == ["AssumeRole"]
    s.run("stage refresh")
    s.run("")
    assert drawn(s.last_prompt_line()) == ("√", "cpco-testing-admin")
    assert aws.runs() == []
    assert [a for a, _ in fake_sts.calls] == ["AssumeRole"]
    assert mfa_prompts(s) == 1 and "Mismatch" not in transcript(s)


@pytest.mark.parametrize("topology", ["organization"])
def test_keys_the_user_exports_by_hand_still_get_geodesics_check_and_its_mismatch_warning(shell, home, env, sts, tmp_path):
    s, aws = counted_geodesic(shell, home, env, tmp_path)
    use_with_code(s, "testing")
    aws.reset()

    said = s.run(f"export {USER_KEYS}; unset AWS_SESSION_TOKEN")
    assert "* AWS Credentials Mismatch! AWS_PROFILE is set to cpco-testing-admin" in said
    assert drawn(s.last_prompt_line()) == ("√", "!mixed!")
    assert aws.runs() == [CHECK, CHECK_PROFILE.format("cpco-testing-admin")]

    # Back to a stage: ours to answer again.
    aws.reset()
    s.run("stage use testing")
    assert drawn(s.last_prompt_line()) == ("√", "cpco-testing-admin")
    assert aws.runs() == []


@pytest.mark.parametrize("topology", ["organization"])
def test_geodesics_own_assume_role_still_gets_its_check_and_shows_mixed(shell, home, env, sts, tmp_path):
    s, aws = counted_geodesic(shell, home, env, tmp_path)
    use_with_code(s, "prod")
    s.run("stage use testing")
    aws.reset()

    # A login shell with AWS_PROFILE=cpco-prod-admin, holding testing's keys.
    s.child.sendline("assume-role cpco-prod-admin")
    assert drawn(first_prompt(s)) == ("√", "!mixed!")
    assert "* AWS Credentials Mismatch! AWS_PROFILE is set to cpco-prod-admin" in transcript(s)
    assert aws.runs() == [CHECK, CHECK_PROFILE.format("cpco-prod-admin")]

    s.run("exit")
    assert drawn(s.last_prompt_line()) == ("√", "cpco-testing-admin")
    assert mfa_prompts(s) == 1


@pytest.mark.parametrize("topology", ["single"])
def test_a_profile_geodesic_renames_keeps_its_check(shell, home, env, sts, tmp_path):
    """geodesic names a `*-identity` (or `default`) profile after another profile with its role,
    which only its own check knows how to do."""
    with (home / ".aws" / "config").open("a") as config:
        config.write("\n[profile cpco-dev-identity]\nregion=us-west-2\nrole_arn=arn:aws:iam::323330167063:role/cpco-root-admin\n"
                     "mfa_serial=arn:aws:iam::323330167063:mfa/admin@cloudposse.co\nsource_profile=cpco\n")
    s, aws = counted_geodesic(shell, home, env, tmp_path)

    s.child.sendline("stage use dev --role identity")
    s.answer_mfa(CODE)
    assert drawn(s.prompt()) == ("√", "cpco-root-admin")
    assert aws.runs() == [CHECK, CHECK_PROFILE.format("cpco-dev-identity")]


@pytest.mark.parametrize("topology", ["single"])
def test_outside_geodesic_or_without_its_identity_hook_nothing_is_answered(shell, home, sts):
    plain = shell()
    # A geodesic whose aws.sh has no refresh_current_aws_role_if_needed.
    hooks_only = shell(source=False, env={"GEODESIC_AWS_HOME": str(home / ".aws")})
    hooks_only.run(f"source {DATA / 'shell-geodesic-prompt.sh'}")
    hooks_only.run(f"source {ROOT / 'rootfs/etc/profile.d/stage.sh'}")
    use_with_code(plain, "testing")
    hooks_only.run("stage use testing")
    for s in (plain, hooks_only):
        assert s.run('echo "$STAGE ${GEODESIC_AWS_ROLE_CACHE-none}"') == "testing none"


@pytest.mark.parametrize("topology", ["single"])
def test_in_one_account_every_stage_shares_a_role_yet_the_prompt_names_the_chosen_one(shell, home, env, sts):
    geodesic_login(home, env)
    s = start_geodesic(shell, home)
    first_prompt(s)

    assert drawn(use_with_code(s, "testing"))[1] == "cpco-testing-admin"
    s.run("stage use prod")
    assert drawn(s.last_prompt_line())[1] == "cpco-prod-admin"
    s.run("stage use staging")
    assert drawn(s.last_prompt_line())[1] == "cpco-staging-admin"
    # Without AWS_PROFILE, geodesic names the role after the first profile that assumes it.
    s.run("unset AWS_PROFILE")
    assert drawn(s.last_prompt_line())[1] == "cpco-root-admin", "geodesic maps a role back to a profile"

    assert "!mixed!" not in transcript(s)
    assert mfa_prompts(s) == 1


@pytest.mark.parametrize("topology", ["organization"])
def test_a_nested_shell_in_the_last_quarter_hour_renews_before_geodesic_checks_and_asks_nothing(
    shell, home, clocked_env, fake_clock, fake_sts, tmp_path
):
    s, aws = counted_geodesic(shell, home, clocked_env, tmp_path)
    use_with_code(s, "testing")
    fake_sts.reset()
    aws.reset()

    # 13 minutes left: the AWS CLI already counts its cached copy as expired, so geodesic's
    # `aws --profile` check in a new shell would ask for a code; we renew first, and answer it.
    fake_clock.advance(47 * MINUTES)
    s.child.sendline("bash -l -i")
    assert drawn(first_prompt(s)) == ("√", "cpco-testing-admin")
    assert [a for a, _ in fake_sts.calls] == ["AssumeRole"]
    assert all("TokenCode" not in r for r in fake_sts.parameters("AssumeRole")), "renewed from the MFA session"
    assert aws.runs() == []

    fake_sts.reset()
    for _ in range(3):
        s.run("")
    assert fake_sts.calls == []
    s.run("exit")
    assert mfa_prompts(s) == 1


@pytest.mark.parametrize("topology", ["organization"])
def test_when_the_mfa_session_is_over_geodesic_shows_none_and_one_hint(shell, home, clocked_env, fake_clock, fake_sts):
    geodesic_login(home, clocked_env)
    s = start_geodesic(shell, home, clocked_env, PROMPT_STYLE="unicode")
    first_prompt(s)
    assert drawn(use_with_code(s, "testing")) == ("✅", "cpco-testing-admin")
    fake_sts.reset()

    fake_clock.advance(13 * HOURS)
    output = s.run("")
    assert drawn(s.last_prompt_line()) == ("❌", "none")
    assert "credentials for testing have expired; run 'stage use testing'" in output
    s.run("")
    assert drawn(s.last_prompt_line()) == ("❌", "none")
    assert fake_sts.calls == [], "nothing to renew from, and geodesic's hook saw no change"
    assert transcript(s).count("have expired") == 1

    # A new code brings the stage back.
    assert drawn(use_with_code(s, "testing")) == ("✅", "cpco-testing-admin")


@pytest.mark.parametrize("topology", ["single"])
def test_nested_and_second_login_shells_of_a_container_ask_nothing(shell, home, env, sts):
    geodesic_login(home, env)
    s = start_geodesic(shell, home, STAGE="testing")
    s.answer_mfa(CODE)
    assert drawn(s.prompt()) == ("√", "cpco-testing-admin")

    s.child.sendline("bash -l -i")
    assert drawn(first_prompt(s)) == ("√", "cpco-testing-admin")
    assert s.run('echo "$SHLVL $STAGE"').split()[1] == "testing"
    s.run("exit")

    # `docker exec -it CONTAINER bash -l` while the first shell is still open.
    second = start_geodesic(shell, home, STAGE="testing")
    assert drawn(first_prompt(second)) == ("√", "cpco-testing-admin")

    assert (sts.count("GetSessionToken"), sts.count("AssumeRole")) == (1, 1)
    assert mfa_prompts(s, second) == 1
    assert "!mixed!" not in transcript(s, second)


def login_command(env: dict, command: str) -> subprocess.CompletedProcess:
    """`bash -l -c COMMAND` with no terminal, as `docker run` without -t or a CI job."""
    return subprocess.run(
        ["bash", "-l", "-c", command], env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=60, start_new_session=True,
    )


@pytest.mark.parametrize("topology", ["single"])
def test_a_script_in_a_geodesic_login_shell_gets_cached_credentials_or_a_hint_and_no_prompt(home, env, sts):
    geodesic_login(home, env)
    environ = dict(env, STAGE="testing", GEODESIC_SHELL="true")
    arn = "aws sts get-caller-identity --query Arn --output text"

    done = login_command(environ, f"echo ran; {arn} || true")
    assert done.stdout == "ran\n"
    hint = [line for line in done.stderr.splitlines() if line.startswith("geodesic-stage:")]
    assert len(hint) == 1 and "--mfa-token" in hint[0]
    assert (sts.count("GetSessionToken"), sts.count("AssumeRole")) == (0, 0)

    assert run_cli(environ, "use", "testing", "--mfa-token", CODE).returncode == 0
    sts.reset()
    done = login_command(environ, f'{arn}; echo "$ASSUME_ROLE"')
    assert done.returncode == 0 and done.stderr == ""
    assert re.fullmatch(r"arn:aws:sts::323330167063:assumed-role/cpco-root-admin/\S+\ncpco-testing-admin\n", done.stdout)
    assert [a for a, _ in sts.calls] == ["GetCallerIdentity"], "only the script's own call; no prompt hook ran"

"""One MFA code buys a session that every stage and every shell reuses (issue 3).

Each story counts what the user is asked for (MFA prompts on the terminal, or
mfa_process runs) and the STS calls the counting proxy saw in front of moto.
"""

import json
import re
import stat

import pytest
from botocore.utils import parse_timestamp
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import BIN, mfa_prompts, run_cli
from ptyshell import MFA_PROMPT, PS1, STAGE_SH

ORGANIZATION_ACCOUNTS = {"root": "323330167063", "prod": "845490276530", "staging": "215480124567", "testing": "126450723953"}


def asked(shell, command: str, code: str = None) -> bool:
    """Type `command`; if it asks for an MFA code, answer `code` (or cancel). Whether it asked."""
    shell.child.sendline(command)
    shell.expect([re.escape(MFA_PROMPT), re.escape(PS1)])
    if PS1 in shell.child.after:
        return False
    shell.send(code + "\r" if code else "\x03")
    shell.prompt()
    return True


def caller_arn(shell) -> str:
    return shell.run("aws sts get-caller-identity --query Arn --output text").strip()


def write_stages_file(home, text: str) -> dict:
    path = home / "stages.conf"
    path.write_text(text)
    return {"GEODESIC_STAGE_CONFIG": str(path)}


def add_to_profile(home, profile: str, *lines: str) -> None:
    config = home / ".aws" / "config"
    header = f"[profile {profile}]\n"
    config.write_text(config.read_text().replace(header, header + "".join(line + "\n" for line in lines)))


def session_cache_files(home):
    return sorted((home / ".aws" / "cli" / "cache" / "geodesic-stage").glob("session-*.json"))


def role_cache_files(home):
    return sorted((home / ".aws" / "cli" / "cache").glob("*.json"))


@pytest.mark.parametrize("topology", ["organization"])
def test_one_code_serves_every_stage_every_shell_and_a_new_login_shell(shell, sts, home):
    first = shell()
    assert asked(first, "stage use testing", "123456")
    assert caller_arn(first).startswith(f"arn:aws:sts::{ORGANIZATION_ACCOUNTS['testing']}:assumed-role/")

    assert not asked(first, "stage use staging")
    assert caller_arn(first).startswith(f"arn:aws:sts::{ORGANIZATION_ACCOUNTS['staging']}:assumed-role/")
    assert not asked(first, "stage use prod")
    assert caller_arn(first).startswith(f"arn:aws:sts::{ORGANIZATION_ACCOUNTS['prod']}:assumed-role/")

    second = shell()
    assert not asked(second, "stage use testing")
    assert second.run('echo "$STAGE $AWS_PROFILE"') == "testing cpco-testing-admin"

    # A new login shell for another stage, as geodesic starts one: STAGE set, stage.sh in the profile
    # (after /etc/profile, which resets PATH and PS1).
    (home / ".bash_profile").write_text(f"PATH='{BIN}':$PATH\nPS1='{PS1}'\nsource {STAGE_SH}\n")
    login = shell(login=True, env={"STAGE": "prod"})
    login.prompt()
    assert login.run('echo "$STAGE $AWS_PROFILE"') == "prod cpco-prod-admin"
    assert caller_arn(login).startswith(f"arn:aws:sts::{ORGANIZATION_ACCOUNTS['prod']}:assumed-role/")

    assert mfa_prompts(first, second, login) == 1
    assert sts.count("GetSessionToken") == 1
    assert [code for _, code in sts.calls if code] == ["123456"]
    # Every role was assumed with the MFA session's credentials, not the long-lived keys and not a code.
    assert [(r["WithSessionToken"], "TokenCode" in r) for r in sts.parameters("AssumeRole")] == [(True, False)] * 3


def test_the_mfa_session_is_cached_privately_beside_the_aws_cli_cache(env, sts, home):
    assert run_cli(env, "use", "testing", "--mfa-token", "123456").returncode == 0
    [session] = session_cache_files(home)
    assert stat.S_IMODE(session.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(session.stat().st_mode) == 0o600
    assert json.loads(session.read_text())["Credentials"]["SessionToken"]


def test_the_mfa_session_lasts_twelve_hours_by_default(env, sts):
    assert run_cli(env, "use", "testing", "--mfa-token", "123456").returncode == 0
    [request] = sts.parameters("GetSessionToken")
    assert request["DurationSeconds"] == "43200"
    assert request["SerialNumber"] == "arn:aws:iam::323330167063:mfa/admin@cloudposse.co"
    # Role sessions assumed from it last the one hour AWS allows them.
    assert [r["DurationSeconds"] for r in sts.parameters("AssumeRole")] == ["3600"]


def test_session_duration_flag_sets_the_mfa_session_length(env, sts):
    assert run_cli(env, "use", "testing", "--mfa-token", "123456", "--session-duration", "7200").returncode == 0
    assert [r["DurationSeconds"] for r in sts.parameters("GetSessionToken")] == ["7200"]


def test_stages_file_session_duration_sets_the_mfa_session_length(env, sts, home):
    env = dict(env, **write_stages_file(home, "namespace = cpco\nsession_duration = 28800\n"))
    assert run_cli(env, "use", "testing", "--mfa-token", "123456").returncode == 0
    assert [r["DurationSeconds"] for r in sts.parameters("GetSessionToken")] == ["28800"]


def test_direct_mode_from_the_stages_file_assumes_the_role_with_the_code(env, sts, home):
    env = dict(env, **write_stages_file(home, "mfa_mode = direct\n"))
    add_to_profile(home, "cpco-testing-admin", "duration_seconds = 14400")
    done = run_cli(env, "use", "testing", "--mfa-token", "123456")
    assert done.returncode == 0, done.stderr
    assert sts.count("GetSessionToken") == 0
    [request] = sts.parameters("AssumeRole")
    assert request["TokenCode"] == "123456"
    assert request["SerialNumber"] == "arn:aws:iam::323330167063:mfa/admin@cloudposse.co"
    assert request["WithSessionToken"] is False
    assert request["DurationSeconds"] == "14400"
    assert session_cache_files(home) == []


def test_direct_flag_with_duration(env, sts, home):
    done = run_cli(env, "use", "testing", "--direct", "--duration", "21600", "--mfa-token", "123456")
    assert done.returncode == 0, done.stderr
    assert sts.count("GetSessionToken") == 0
    assert [(r["TokenCode"], r["DurationSeconds"]) for r in sts.parameters("AssumeRole")] == [("123456", "21600")]
    # The AWS CLI's cache now holds the role session: a second use asks nothing and calls nothing.
    sts.reset()
    assert run_cli(env, "use", "testing", "--direct").returncode == 0
    assert sts.calls == []


def test_mfa_process_supplies_the_code_without_a_prompt(shell, sts, home, tmp_path):
    runs = tmp_path / "mfa-process-runs"
    add_to_profile(home, "cpco-testing-admin", f"mfa_process = echo run >> {runs}; echo 654321")
    s = shell()
    assert not asked(s, "stage use testing")
    assert s.run('echo "$STAGE"') == "testing"
    assert runs.read_text() == "run\n"
    assert [code for _, code in sts.calls if code] == ["654321"]


@pytest.mark.parametrize(
    "process, complaint",
    [
        ("echo 'token expired' >&2; exit 1", "failed with exit code 1: token expired"),
        ("echo not-a-code", "printed something other than a 6-digit code"),
    ],
)
def test_a_failing_mfa_process_is_a_clear_error(env, sts, home, process, complaint):
    add_to_profile(home, "cpco-testing-admin", f"mfa_process = {process}")
    done = run_cli(env, "use", "testing")
    assert done.returncode == 3
    assert done.stdout == ""
    assert "mfa_process of profile 'cpco-testing-admin'" in done.stderr and complaint in done.stderr
    assert "Traceback" not in done.stderr
    assert sts.calls == []


def test_credential_process_prints_the_cached_session_for_sdks(env, sts, home):
    assert run_cli(env, "use", "testing", "--mfa-token", "123456").returncode == 0
    cached = json.loads(role_cache_files(home)[0].read_text())["Credentials"]
    sts.reset()
    done = run_cli(env, "credential-process", "testing")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document == {
        "Version": 1,
        "AccessKeyId": cached["AccessKeyId"],
        "SecretAccessKey": cached["SecretAccessKey"],
        "SessionToken": cached["SessionToken"],
        "Expiration": document["Expiration"],
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", document["Expiration"])
    # The same instant as the cached role credentials, as botocore reads both.
    assert parse_timestamp(document["Expiration"]) == parse_timestamp(cached["Expiration"])
    assert sts.calls == []


@pytest.mark.parametrize("topology", ["single"])
def test_the_aws_cli_with_our_credential_process_answers_as_the_stage_and_buys_from_the_mfa_session(env, sts, home, aws_cli):
    with (home / ".aws" / "config").open("a") as config:
        config.write("\n[profile ci]\nregion = us-west-2\ncredential_process = geodesic-stage credential-process testing\n")
    assert run_cli(env, "use", "testing", "--mfa-token", "123456").returncode == 0
    for entry in role_cache_files(home):  # the role session is bought again from the MFA session, no code
        entry.unlink()
    sts.reset()
    done = aws_cli.run(env, "--profile", "ci", "sts", "get-caller-identity", "--output", "json")
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(r"arn:aws:sts::323330167063:assumed-role/cpco-root-admin/.+", json.loads(done.stdout)["Arn"])
    assert [action for action, _ in sts.calls] == ["AssumeRole", "GetCallerIdentity"]


def test_credential_process_without_an_mfa_session_fails_clearly(env, sts):
    done = run_cli(env, "credential-process", "testing")
    assert done.returncode == 3
    assert done.stdout == ""
    assert "needs a new MFA code" in done.stderr and "stage use testing" in done.stderr
    assert "Traceback" not in done.stderr
    assert sts.calls == []


def test_logout_forget_drops_the_mfa_session_and_role_sessions(shell, sts, home):
    s = shell()
    assert asked(s, "stage use testing", "123456")
    assert not asked(s, "stage use prod")
    assert session_cache_files(home) and role_cache_files(home)

    s.run("stage logout --forget")
    assert s.run('echo "[${AWS_ACCESS_KEY_ID-}]"') == "[]"
    assert session_cache_files(home) == [] and role_cache_files(home) == []

    assert asked(s, "stage use prod", "234567")
    assert sts.count("GetSessionToken") == 2


# Codes as authenticator apps show them: six ASCII digits, spaces or dashes between them.
SEPARATOR = st.text(st.sampled_from(" -\t"), max_size=2)


@settings(max_examples=300, deadline=None)
@given(digits=st.text(st.sampled_from("0123456789"), min_size=6, max_size=6), gaps=st.lists(SEPARATOR, min_size=5, max_size=5),
       outer=st.tuples(st.sampled_from(["", " "]), st.sampled_from(["", " \n"])))
def test_a_code_with_spaces_or_dashes_between_its_digits_is_its_six_digits(digits, gaps, outer):
    from geodesic_stage.auth.mfa import normalize_code, valid_code

    typed = outer[0] + digits[0] + "".join(g + d for g, d in zip(gaps, digits[1:])) + outer[1]
    assert valid_code(typed)
    assert normalize_code(typed) == digits


@pytest.mark.parametrize("typed", ["12345", "1234567", "123 45", "-123456", "123456-", "12345a", "١٢٣٤٥٦", "12 34 5 6 7", "123_456", ""])
def test_anything_else_is_not_a_code(typed):
    from geodesic_stage.auth.mfa import valid_code

    assert not valid_code(typed)

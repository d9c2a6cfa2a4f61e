"""A renewal keeps what the user chose (issue 21): `stage use` with a region, a role and a duration,
then `stage refresh`, the prompt hook's renewal and a login shell started from that shell, which
inherits its environment only. The use block records its options in GEODESIC_STAGE_USED_WITH."""

import re
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import run_cli
from geodesic_stage import context, render
from ptyshell import PS1
from test_chain_use import MFA, add_config
from test_integration import assert_one_line_error
from test_render import HOSTILE, SAMPLE, eval_in_bash, session, workdir  # noqa: F401
from test_renewal import MINUTES, label, press_enter
from test_shell import login_profile

CODE = "123456"
CHOICES = "--role terraform --region eu-central-1 --duration 1800"
CHOSEN = "cpco-testing-terraform eu-central-1 eu-central-1"


def used_with_choices(shell, environ: dict, home):
    """A shell (and the sandbox's login profile) that used testing with CHOICES, its terraform role added."""
    add_config(home, f"""
[profile cpco-testing-terraform]
region = us-west-2
role_arn = arn:aws:iam::323330167063:role/cpco-testing-terraform
mfa_serial = {MFA}
source_profile = cpco
""")
    login_profile(home)
    s = shell(env=environ)
    s.child.sendline(f"stage use testing {CHOICES}")
    s.answer_mfa(CODE)
    s.prompt()
    return s


def held(s) -> str:
    return s.run('echo "$AWS_PROFILE $AWS_REGION $AWS_DEFAULT_REGION"')


@pytest.mark.parametrize("topology", ["single"])
def test_refresh_the_prompt_hook_and_a_login_shell_keep_the_region_role_and_duration_chosen(
    shell, clocked_env, fake_clock, fake_sts, home, topology,
):
    s = used_with_choices(shell, clocked_env, home)
    assert s.last_prompt_line() in label("testing", 30)
    assert held(s) == CHOSEN

    s.run("stage refresh")
    assert held(s) == CHOSEN

    # 9 minutes left: the prompt hook renews.
    fake_clock.advance(21 * MINUTES)
    assert press_enter(s) in label("testing", 30)
    assert held(s) == CHOSEN

    # 12 minutes left: a login shell started from this one renews as it starts.
    fake_clock.advance(18 * MINUTES)
    s.child.sendline("bash -l -i")
    assert s.prompt() in label("testing", 30)
    assert held(s) == CHOSEN
    s.run("exit")

    # Expired 5 minutes ago, the MFA session still on: a login shell renews them as they were used.
    fake_clock.advance(35 * MINUTES)
    s.child.sendline("bash -l -i")
    assert s.prompt() in label("testing", 30)
    assert held(s) == CHOSEN
    s.run("exit")

    assert {p["DurationSeconds"] for p in fake_sts.parameters("AssumeRole")} == {"1800"}
    assert {p["RoleArn"] for p in fake_sts.parameters("AssumeRole")} == {"arn:aws:iam::323330167063:role/cpco-testing-terraform"}

    # Once the MFA session is over, the hint says how to use the stage as it was used.
    fake_clock.advance(13 * 60 * MINUTES)
    s.child.sendline("")
    hint = s.expect(re.escape(PS1)).strip().splitlines()[0]
    assert hint == (
        f"geodesic-stage: credentials for testing have expired; run 'stage use testing {CHOICES}' for a new MFA code or sign-in"
    )


@pytest.mark.parametrize("topology", ["single"])
def test_a_login_shell_that_must_ask_for_a_code_buys_the_stage_as_it_was_used(shell, env, home, sts, topology):
    """Credentials and MFA session both over (here: forgotten): the login shell's `stage use` asks for
    a code, and that code buys the role, region and duration chosen, not the stage's defaults."""
    s = used_with_choices(shell, env, home)
    s.run("rm ~/.aws/cli/cache/*.json ~/.aws/cli/cache/geodesic-stage/*.json")
    s.run("export AWS_CREDENTIAL_EXPIRATION=2020-01-01T00:00:00Z AWS_SESSION_EXPIRATION=2020-01-01T00:00:00Z")
    sts.reset()
    s.child.sendline("bash -l -i")
    s.answer_mfa(CODE)
    s.prompt()
    assert held(s) == CHOSEN
    assert s.run('echo "$GEODESIC_STAGE_USED_WITH"') == CHOICES
    assert {p["DurationSeconds"] for p in sts.parameters("AssumeRole")} == {"1800"}
    s.run("exit")


@settings(max_examples=60, deadline=None)
@given(profile=HOSTILE, role=HOSTILE, region=HOSTILE, duration=st.none() | st.integers(0, 10**6), direct=st.booleans())
def test_the_record_of_any_choices_reads_back_as_those_choices(workdir, profile, role, region, duration, direct):  # noqa: F811
    given_options = SimpleNamespace(profile=profile, role=role, region=region, duration=duration, direct=direct, mfa_token=CODE)
    block = render.render_exports(session(**SAMPLE), context.used_with(given_options))

    record = eval_in_bash(block, workdir).get(render.USED_WITH, "")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(render.USED_WITH, record)
        read_back = context.recorded_use()

    expected = {"profile": profile, "role": role, "region": region, "duration": duration, "direct": direct or None}
    assert read_back == {k: v for k, v in expected.items() if v is not None}
    assert not (workdir / "executed").exists()


@pytest.mark.parametrize("topology", ["single"])
@pytest.mark.parametrize("record", ["--mfa-token 123456", "--region", "--duration soon", "--role 'unclosed"])
def test_refresh_refuses_a_record_stage_use_never_writes_in_one_line(env, sts, topology, record):
    in_stage = dict(
        env, STAGE="testing", AWS_PROFILE="cpco-testing-admin", AWS_ACCESS_KEY_ID="ASIAEXAMPLE", AWS_SECRET_ACCESS_KEY="x",
        AWS_SESSION_TOKEN="y", AWS_CREDENTIAL_EXPIRATION="2026-01-01T00:00:00Z", GEODESIC_STAGE_USED_WITH=record,
    )
    message = assert_one_line_error(run_cli(in_stage, "refresh"), 2)
    assert "GEODESIC_STAGE_USED_WITH" in message and "123456" not in message
    assert sts.calls == []

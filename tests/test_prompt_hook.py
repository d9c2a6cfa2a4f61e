"""The prompt hook's edges: a renewal that fails is tried again at most once a minute, and the
branch for bash before 5.0 (no EPOCHSECONDS) still labels and renews.

Time moves with libfaketime (conftest's FakeClock): the shell, what it starts and its moto share it."""

import re

import pytest

from ptyshell import PS1, STAGE_SH
from test_renewal import MINUTES, access_key, label, press_enter, start_using


@pytest.mark.parametrize("topology", ["single"])
def test_a_failed_renewal_is_tried_again_once_a_minute_not_at_every_prompt(shell, clocked_env, fake_clock, fake_sts):
    s = shell(env=clocked_env)
    start_using(s, "testing", "123456")
    first_key = access_key(s)

    fake_clock.advance(52 * MINUTES)
    fake_sts.denied_actions = {"AssumeRole"}
    fake_sts.reset()
    for _ in range(4):
        assert press_enter(s) in label("testing", 8)
    assert fake_sts.count("AssumeRole") == 1, "one attempt, then quiet for a minute"

    fake_clock.advance(61)
    press_enter(s)
    press_enter(s)
    assert fake_sts.count("AssumeRole") == 2, "a minute later, one more attempt"

    fake_sts.denied_actions = set()
    fake_clock.advance(61)
    assert press_enter(s) in label("testing", 60)
    assert access_key(s) != first_key
    assert fake_sts.count("AssumeRole") == 3


def before_bash_5(tmp_path):
    """stage.sh as bash 4 runs it: its bash-version test sees 4 (BASH_VERSINFO is read-only, so the
    copy reads another variable), and the shell has no EPOCHSECONDS (unset before sourcing)."""
    text = STAGE_SH.read_text()
    copy, found = re.subn(r"\bBASH_VERSINFO(\[0\])?", "__gs_test_bash_major", text)
    assert found, "stage.sh no longer tests the bash version: update this emulation"
    path = tmp_path / "stage-bash4.sh"
    path.write_text(copy)
    return f"unset EPOCHSECONDS; __gs_test_bash_major=4; source {path}"


@pytest.mark.parametrize("topology", ["single"])
def test_before_bash_5_the_label_counts_down_and_renews_without_epochseconds(shell, clocked_env, fake_clock, fake_sts, tmp_path):
    s = shell(env=clocked_env, source=False)
    errors = s.run(before_bash_5(tmp_path))
    assert errors == ""
    assert s.run('echo "${EPOCHSECONDS-none}"') == "none"
    since = len(s.transcript)
    start_using(s, "testing", "123456")
    assert s.last_prompt_line() in label("testing", 60)
    first_key = access_key(s)

    fake_clock.advance(30 * MINUTES)
    assert press_enter(s) in label("testing", 30)
    assert access_key(s) == first_key

    fake_clock.advance(25 * MINUTES)
    assert press_enter(s) in label("testing", 60), "renewed with fewer than 10 minutes left"
    assert access_key(s) != first_key
    printed = "".join(s.transcript[since:])
    assert "EPOCHSECONDS" not in printed and "unbound" not in printed and "syntax error" not in printed
    assert s.last_prompt_line().endswith(PS1)

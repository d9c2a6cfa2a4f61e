"""`stage list` at a terminal (issue 7): an aligned table with the current stage marked,
coloured for a person at a terminal, never with NO_COLOR or into a pipe."""

import re

import pytest

from ptyshell import MFA_PROMPT, PS1, plain

CODE = "123456"
SGR = re.compile(r"\x1b\[[0-9;]*m")


def raw_output(s, command: str) -> str:
    """What `command` wrote to the terminal, escapes and all: the lines between the command line and the next prompt."""
    s.child.sendline(command)
    s.child.expect(re.escape(PS1))
    return "\n".join(s.child.before.split("\n")[1:-1])


def table(output: str) -> list:
    return [line for line in plain(output).split("\n") if line.strip()]


def without_left(lines: list) -> list:
    """The table's lines cut before the LEFT column (the last one)."""
    column = lines[0].index("LEFT")
    return [line[:column].rstrip() for line in lines]


@pytest.mark.parametrize("topology", ["single"])
def test_list_at_a_terminal_is_aligned_marked_and_coloured_unless_no_color(shell, topology, sts):
    s = shell()
    s.child.sendline("stage use testing")
    s.answer_mfa(CODE)
    s.prompt()

    coloured = raw_output(s, "stage list")
    lines = table(coloured)
    assert lines[0].split() == ["STAGE", "PROFILE", "ACCOUNT", "ROLE", "REGION", "LEFT"]
    current = [line for line in lines if line.startswith("*")]
    assert len(current) == 1 and current[0].split()[1:3] == ["testing", "cpco-testing-admin"]
    assert re.search(r"\b(60|59) min$", current[0])
    # Aligned: every column starts where its heading does.
    for heading in ("PROFILE", "ACCOUNT", "REGION"):
        column = lines[0].index(heading)
        assert all(line[column - 2 : column] == "  " and line[column] != " " for line in lines[1:])
    assert "\x1b[1;32m*" in coloured, "the current stage stands out in green"

    for command in ("NO_COLOR=1 stage list", "stage list | cat"):
        uncoloured = raw_output(s, command)
        assert SGR.search(uncoloured) is None, command
        # The same table but for LEFT, whose minute may tick between two runs.
        assert without_left(table(uncoloured)) == without_left(lines), command
    assert MFA_PROMPT not in plain(coloured)

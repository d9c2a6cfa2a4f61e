"""TAB completion of `stage` and `geodesic-stage` (issue 7): commands, options, stage and
profile names from the user's config, in a real bash; light enough for every key press."""

import re
import subprocess
import sys

import pytest

from conftest import BIN
from geodesic_stage import cli, completion

ANY_TOPOLOGY = pytest.mark.parametrize("topology", ["single"])
HEAVY = ("boto3", "botocore", "prompt_toolkit")


def offered(shell, line: str) -> list:
    """What the function registered for `stage` offers at the end of `line`, as TAB would ask it;
    the function itself must print nothing (it would scribble over the command line)."""
    words = line.split(" ")
    shell.run(f"COMP_WORDS=({' '.join(repr(w) for w in words)}); COMP_CWORD={len(words) - 1}")
    printed = shell.run('$(complete -p stage | sed -n "s/.* -F \\([^ ]*\\) .*/\\1/p")')
    assert printed == "", printed
    return shell.run('printf "%s\\n" "${COMPREPLY[@]}"').split()


@ANY_TOPOLOGY
def test_tab_completes_a_stage_name_in_a_real_bash(shell, topology, sts):
    s = shell()
    s.send("stage use te\t")
    s.expect(re.escape("stage use testing "))
    s.send("\x15\r")  # Ctrl-U: clear the line, run nothing
    s.prompt()

    s.send("geodesic-stage cre\t")
    s.expect(re.escape("geodesic-stage credential-process "))
    s.send("\x15\r")
    s.prompt()
    assert sts.calls == []


@ANY_TOPOLOGY
def test_commands_options_and_values_are_offered(shell, topology, sts):
    s = shell()
    assert offered(s, "stage ") == list(completion.COMMANDS)
    assert offered(s, "stage l") == ["list", "logout"]
    assert offered(s, "stage --v") == ["--version"]
    assert offered(s, "stage use ") == ["prod", "root", "staging", "testing"]
    assert offered(s, "stage --debug use s") == ["staging"]
    assert offered(s, "stage use --no") == ["--no-prompt", "--no-serve"]
    assert offered(s, "stage use testing ") == [], "one stage per command"
    assert offered(s, "stage use --direct ") == ["prod", "root", "staging", "testing"], "a flag takes no value"
    assert offered(s, "stage env --format ") == ["sh", "json", "dotenv"]
    assert offered(s, "stage env --format json ") == ["prod", "root", "staging", "testing"]
    assert offered(s, "stage use --profile cpco-p") == ["cpco-prod-admin"]
    assert offered(s, "geodesic-stage init --topology ") == ["organization", "accounts", "single", "sso"]
    assert offered(s, "stage list --") == ["--help", "--json", "--profile", "--role", "--namespace", "--region"]
    assert offered(s, "stage h") == ["help"]
    assert offered(s, "stage help ") == [c for c in completion.COMMANDS if c != "help"]
    assert offered(s, "stage help l") == ["list", "logout"]
    assert offered(s, "stage help list ") == []


@ANY_TOPOLOGY
def test_stage_names_follow_the_namespace_and_the_stages_file(shell, topology, sts, home, tmp_path):
    stages = tmp_path / "stages.conf"
    stages.write_text("namespace = cpco\n[stages]\n[[audit]]\naccount_id = 111111111111\n")
    s = shell(env={"GEODESIC_STAGE_CONFIG": str(stages), "NAMESPACE": ""})
    assert offered(s, "stage use ") == ["audit", "prod", "root", "staging", "testing"]
    assert offered(s, "stage use --namespace acme ") == ["audit"], "no acme-* profiles; the stages file still names audit"


@ANY_TOPOLOGY
def test_a_broken_config_completes_nothing_and_prints_nothing(shell, topology, sts, home, env):
    (home / ".aws" / "config").write_text("[profile cpco-testing-admin\nrole_arn = \n")
    s = shell()
    assert offered(s, "stage use ") == []
    assert offered(s, "stage u") == ["use"], "commands need no config"
    # stage.sh hides stderr from the terminal; the command itself says nothing either.
    done = subprocess.run(
        [str(BIN / "geodesic-stage"), "__complete", "2", "stage", "use", ""],
        env=dict(env, HOME=str(home)), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


@ANY_TOPOLOGY
def test_completion_loads_no_aws_sdk_no_prompt_library_and_no_command_parser(env, topology):
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "geodesic_stage", "__complete", "2", "stage", "use", ""],
        env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0 and done.stdout == "prod\nroot\nstaging\ntesting\n"
    modules = {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines()[1:] if line.startswith("import time:")}
    assert "geodesic_stage.completion" in modules
    assert {m for m in modules if m.split(".")[0] in HEAVY} == set()
    assert {m for m in modules if m.startswith("geodesic_stage.commands")} == set()


def parser_options(name: str) -> set:
    """The options the real parser gives a command, less --help/-h and the hidden --debug."""
    command = cli.build_parser(name)._subparsers._group_actions[0].choices[name.replace("_", "-")]
    return {o for a in command._actions for o in a.option_strings if o.startswith("--")} - {"--help", "--debug"}


@pytest.mark.parametrize("name", cli.COMMANDS)
def test_the_completion_table_offers_exactly_what_each_command_accepts(name):
    takes_stage, options = completion.COMMANDS[name.replace("_", "-")]
    assert set(options) == parser_options(name)
    command = cli.build_parser(name)._subparsers._group_actions[0].choices[name.replace("_", "-")]
    positionals = [a.dest for a in command._actions if not a.option_strings]
    assert takes_stage == ("stage" in positionals)
    takes_value = {o for a in command._actions for o in a.option_strings if a.nargs != 0}
    # Exactly: a flag wrongly taken for one with a value would swallow the stage after it.
    assert {o for o in options if o in completion.TAKES_VALUE} == takes_value - {"--help", "-h", "--debug"}
    assert set(completion.COMMANDS) == {n.replace("_", "-") for n in cli.COMMANDS} | {"help"}


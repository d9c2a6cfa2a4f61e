"""Help and abbreviations: `stage use|refresh|logout` eval what the command prints, so no
spelling of an option may put help text on stdout there (argparse would read `--he` as --help)."""

import pytest

from conftest import run_cli

ANY_TOPOLOGY = pytest.mark.parametrize("topology", ["single"])
ENV = "env | grep -v '^PS1=' | sort"


@ANY_TOPOLOGY
@pytest.mark.parametrize("line", ["stage use --he", "stage use --hel", "stage use testing --hel", "stage refresh --he", "stage logout --hel"])
def test_an_abbreviated_help_is_never_evaluated_by_the_function(shell, topology, sts, line):
    s = shell()
    before = s.run(ENV)
    printed = s.run(line)
    assert s.run("echo $?") != "0"
    assert "usage: geodesic-stage" in printed, "the user sees the usage on the terminal (stderr)"
    # Evaluated, the help text's lines would be commands: `usage:` not found, `stage` running status.
    assert "command not found" not in printed and "no stage in use" not in printed, printed
    assert s.run(ENV) == before
    assert sts.calls == []


@ANY_TOPOLOGY
@pytest.mark.parametrize("args", [["use", "--he"], ["use", "testing", "--hel"], ["status", "--verif"], ["--vers"]])
def test_no_option_is_taken_by_a_prefix_of_its_name(env, topology, args):
    done = run_cli(env, *args)
    assert done.returncode == 2
    assert done.stdout == ""
    assert "unrecognized arguments" in done.stderr or "required" in done.stderr, done.stderr


@ANY_TOPOLOGY
@pytest.mark.parametrize("words", [[], ["use"], ["credential-process"], ["--debug", "keys"]])
def test_help_before_a_command_is_its_help_option(env, topology, sts, words):
    debug = words[:1] == ["--debug"]
    asked = run_cli(env, *words[:debug], "help", *words[debug:])
    assert (asked.returncode, asked.stderr) == (0, "")
    assert asked.stdout == run_cli(env, *words, "--help").stdout
    assert asked.stdout.startswith(f"usage: geodesic-stage {' '.join(words[debug:])}".rstrip())
    assert sts.calls == []


@ANY_TOPOLOGY
def test_stage_help_in_a_shell_prints_the_help_and_changes_nothing(shell, topology, sts):
    s = shell()
    before = s.run(ENV)
    printed = s.run("stage help use")
    assert s.run("echo $?") == "0"
    assert printed.startswith("usage: geodesic-stage use") and "--mfa-token" in printed
    assert s.run(ENV) == before


@ANY_TOPOLOGY
def test_help_for_a_command_that_does_not_exist_names_the_commands(env, topology):
    done = run_cli(env, "help", "nosuch")
    assert done.returncode == 2 and done.stdout == ""
    assert "invalid choice: 'nosuch'" in done.stderr and "'use'" in done.stderr

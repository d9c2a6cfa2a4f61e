"""The words of a plain `use`, `status` or `list` are read without argparse (cli._quick_args): whatever
it reads, argparse reads the same; whatever it does not know, it leaves to argparse."""

import io
from contextlib import redirect_stderr, redirect_stdout

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from geodesic_stage import cli
from geodesic_stage.errors import StageError

WORDS = st.sampled_from([
    "use", "status", "list", "env", "logout", "testing", "prod", "", "--debug", "--debug=1", "--no-prompt", "--direct",
    "--verify", "--json", "--profile", "--profile=p", "--profile=", "--role", "--namespace=acme", "--region",
    "--duration", "--duration=3600", "--mfa-token", "--mfa-token=123456", "--session-duration", "3600", "12x",
    "123456", "-5", "-", "--", "-h", "--help", "--he", "--version", "--mfa", "--jso", "--unknown", "a=b",
])

VALUES = st.sampled_from(["testing", "", "3600", "12x", "-5", "123456", "a=b", "--json", "0x10", " 7 "])
# Mostly what the fast commands take, now and then a word from above in between.
PIECES = st.one_of(
    st.sampled_from(["--no-prompt", "--direct", "--verify", "--json", "--debug", "testing"]).map(lambda w: [w]),
    st.tuples(st.sampled_from([*cli._STAGE_VALUES, "--duration", "--mfa-token", "--session-duration"]), VALUES).map(list),
    st.tuples(st.sampled_from(["--profile=", "--duration=", "--region="]), VALUES).map(lambda t: ["".join(t)]),
    WORDS.map(lambda w: [w]),
)
COMMAND_LINES = st.tuples(
    st.lists(st.just("--debug"), max_size=2), st.sampled_from(["use", "status", "list"]), st.lists(PIECES, max_size=4)
).map(lambda t: [*t[0], t[1], *(w for piece in t[2] for w in piece)])


def argparse_args(words):
    """What the full command line makes of `words` (as main() runs it), or None where it refuses them."""
    parser = cli.build_parser(cli._command_of(words))
    try:
        with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):  # usage, help and errors
            args = parser.parse_args(words)
            if not getattr(args, "command", None):
                args = parser.parse_args([*words, "status"])
    except (StageError, SystemExit):
        return None
    return vars(args)


@settings(max_examples=600, deadline=None)
@given(words=st.one_of(st.lists(WORDS, max_size=6), COMMAND_LINES))
def test_what_the_quick_reader_takes_argparse_reads_the_same(words):
    quick = cli._quick_args(words)
    event("read quickly" if quick is not None else "left to argparse")
    if quick is not None:
        assert vars(quick) == argparse_args(words)


@pytest.mark.parametrize("words", [
    [], ["--debug"], ["use", "testing"], ["use", "testing", "--mfa-token", "123456"], ["use", "--profile=p", "x"],
    ["--debug", "use", "testing", "--no-prompt", "--duration", "3600"], ["status"], ["status", "--verify"],
    ["list", "--json"], ["list", "--namespace", "acme", "--role", "ops"],
    ["eks-token", "prod", "--profile", "cpco-prod-admin", "--cluster", "acme-prod", "--eks-region", "us-west-2"],
])
def test_the_everyday_commands_are_read_quickly_and_as_argparse_reads_them(words):
    quick = cli._quick_args(words)
    assert quick is not None
    assert vars(quick) == argparse_args(words)


@pytest.mark.parametrize("words", [
    ["use"], ["use", "a", "b"], ["use", "--help"], ["use", "testing", "--he"], ["use", "testing", "--duration", "12x"],
    ["use", "testing", "--mfa-token"], ["use", "testing", "--mfa-token", "-5"], ["use", "--", "testing"],
    ["status", "--debug=1"], ["list", "--verify"], ["--version"], ["env", "testing"], ["logout"],
])
def test_anything_else_is_left_to_argparse(words):
    assert cli._quick_args(words) is None

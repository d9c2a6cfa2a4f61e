"""TAB completion for `stage` and `geodesic-stage`: commands, options, stage and profile names.

Runs at every TAB, so it reads the config files and nothing else: no boto3, no command
modules, no argparse parsers (tests/test_completion.py holds this table to the parser).
Reached through `geodesic-stage __complete CWORD WORD...` (bash's COMP_CWORD, COMP_WORDS).
"""

import os
import sys
from typing import Dict, Iterable, List, Sequence, Tuple

from geodesic_stage.options import COMMANDS as _TABLE
from geodesic_stage.options import GLOBAL_OPTIONS

# Per command: (takes a stage argument, its options), from the one table the parser is made from.
COMMANDS: Dict[str, Tuple[bool, Tuple[str, ...]]] = {
    name: (command.takes_stage, tuple(o.name for o in command.options)) for name, command in _TABLE.items()
}
# `help COMMAND` is read as `COMMAND --help` (cli.py): its one word is the command it explains.
COMMANDS["help"] = (False, ())
# Commands whose first word is an action of their own.
ACTIONS = {name: tuple(command.actions) for name, command in _TABLE.items() if command.actions}
ACTIONS["help"] = tuple(_TABLE)
# Options followed by a value (the value is not a stage argument).
TAKES_VALUE = {o.name for command in _TABLE.values() for o in command.options if o.value is not None}


def candidates(words: Sequence[str], current: int) -> List[str]:
    """What may stand at words[current], given the command line words (words[0] is the program)."""
    word = words[current] if current < len(words) else ""
    before = list(words[1:current])
    command = next((w for w in before if not w.startswith("-")), None)
    if command is None:
        return _matching(GLOBAL_OPTIONS if word.startswith("-") else COMMANDS, word)
    if command not in COMMANDS:
        return []
    takes_stage, options = COMMANDS[command]
    previous = before[-1] if before else ""
    if previous in TAKES_VALUE:
        return _matching(_values(previous, command), word)
    if word.startswith("-"):
        return _matching(("--help", *options), word)
    arguments = _arguments(before[before.index(command) + 1 :])
    if command in ACTIONS and not arguments:
        return _matching(ACTIONS[command], word)
    if takes_stage and not arguments:
        return _matching(_config(_stage_names, before), word)
    return []


def _arguments(words: Sequence[str]) -> List[str]:
    """The positional words among a command's words, option values left out."""
    found, skip = [], False
    for w in words:
        if skip:
            skip = False
        elif w.startswith("-"):
            skip = w in TAKES_VALUE
        else:
            found.append(w)
    return found


def _values(option: str, command: str) -> Iterable[str]:
    chosen = next((o.choices for o in _TABLE[command].options if o.name == option and o.choices), None)
    if chosen:
        return chosen()
    if option == "--profile":
        return _config(lambda profiles, stages, request: sorted(profiles), ())
    return ()


def _stage_names(profiles, stages, request) -> Iterable[str]:
    from geodesic_stage.config import resolve

    return resolve.known_stages(profiles, stages, request)


def _given(words: Sequence[str], option: str):
    """The value of `option` on the command line so far, if given."""
    found = None
    for w, value in zip(words, words[1:]):
        if w == option:
            found = value
    return found


def _config(pick, words: Sequence[str]) -> Iterable[str]:
    """pick(profiles, stages file, request) from the user's files; nothing if they cannot be read."""
    from geodesic_stage.config import awsconfig, resolve
    from geodesic_stage.errors import StageError
    from geodesic_stage.config.stages_file import load_stages

    try:
        request = resolve.Request(
            namespace=_given(words, "--namespace") or os.environ.get("NAMESPACE") or None,
            role=_given(words, "--role"),
        )
        return list(pick(awsconfig.load_profiles(awsconfig.config_path()), load_stages(), request))
    except (StageError, OSError, ValueError):
        # A TAB is no place for an error message: the user sees it at the next command instead.
        return []


def _matching(choices: Iterable[str], prefix: str) -> List[str]:
    return [c for c in choices if c.startswith(prefix)]


def main(argv: Sequence[str]) -> int:
    """argv: CWORD then bash's COMP_WORDS; prints one candidate a line."""
    try:
        current = int(argv[0])
    except (IndexError, ValueError):
        return 2
    for choice in candidates(list(argv[1:]), current):
        sys.stdout.write(choice + "\n")
    return 0

"""The command line: parse, run one command, turn errors into a line and an exit code."""

from __future__ import annotations

import os
import sys
from types import SimpleNamespace

from geodesic_stage import __version__, log
from geodesic_stage.errors import Interrupted, StageError
from geodesic_stage.options import ACTION_HELP, STAGE_OPTIONS
from geodesic_stage.options import COMMANDS as OPTIONS

COMMANDS = tuple(name.replace("-", "_") for name in OPTIONS)
_BY_NAME = {name: name.replace("-", "_") for name in OPTIONS}

# The words of the commands run at every prompt, shell start and kubectl call, read without argparse: building a
# parser (with the gettext, locale and shutil it loads) costs more than a cached `use` does all told.
# A word this reader does not know (help, a typo, a missing stage) goes to argparse, which knows every
# command and says every error. Both are made from the one table, options.COMMANDS.
_QUICK = ("use", "status", "list", "eks-token")
_STAGE_VALUES = {option.name: option.value for option in STAGE_OPTIONS}


def _quick_args(words) -> SimpleNamespace | None:
    """What argparse would make of `words` for a plain use, status or list; None for anything else."""
    debug = 0
    while words[debug:debug + 1] == ["--debug"]:
        debug += 1
    command = words[debug] if debug < len(words) else "status"
    if command not in _QUICK:
        return None
    table = OPTIONS[command]
    positionals = tuple(p.name for p in table.positionals)
    switches = tuple(o.name for o in table.options if o.value is None)
    valued = {o.name: o.value for o in table.options if o.value is not None}
    found = {"debug": bool(debug), "command": command, **dict.fromkeys(positionals)}
    found.update({_dest(option): None for option in valued})
    found.update({_dest(switch): False for switch in switches})
    given = []
    rest = iter(words[debug + 1:])
    for word in rest:
        option, equals, value = word.partition("=")
        if word in switches or word == "--debug":
            found[_dest(word)] = True
        elif option in valued:
            value = value if equals else next(rest, None)
            if value is None or value.startswith("-"):
                return None
            try:
                found[_dest(option)] = valued[option](value)
            except ValueError:
                return None
        elif word.startswith("-") or len(given) == len(positionals):
            return None
        else:
            given.append(word)
    if len(given) != len(positionals):
        return None
    found.update(zip(positionals, given))
    # __import__ rather than importlib.import_module, which would load importlib and warnings for it.
    module = __import__(f"geodesic_stage.commands.{_BY_NAME[command]}", fromlist=["run"])
    return SimpleNamespace(**found, run=module.run, from_cache=getattr(module, "from_cache", None))


def _dest(option: str) -> str:
    """The attribute argparse stores an option in: --mfa-token -> mfa_token (options.Option.dest)."""
    return option[2:].replace("-", "_")


def build_parser(only: str | None = None):
    """The whole command line (an argparse parser); with `only`, just that command's part (all one run of it needs)."""
    import argparse
    from importlib import import_module

    class _Parser(argparse.ArgumentParser):
        """No abbreviated options: `stage use --he` would be --help, whose text the function evals."""

        def __init__(self, *args, **kwargs):
            kwargs.setdefault("allow_abbrev", False)
            super().__init__(*args, **kwargs)

        def error(self, message):
            self.print_usage(sys.stderr)
            raise StageError(f"{message} (see --help)")

    parser = _Parser(
        prog="geodesic-stage",
        description="Assume a stage's AWS role with MFA in the current shell (the `stage` function wraps this).",
        epilog="example: stage use testing\n`stage help COMMAND` shows a command's options",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"geodesic-stage {__version__}")
    parser.add_argument("--debug", action="store_true", help="show each decision on stderr (secrets redacted)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in (only,) if only else COMMANDS:
        module = import_module(f"geodesic_stage.commands.{name}")
        command = sub.add_parser(
            name.replace("_", "-"),
            help=module.HELP,
            description=module.HELP,
            epilog=f"example: {module.EXAMPLE}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        table = OPTIONS[name.replace("_", "-")]
        if table.actions:
            actions = command.add_subparsers(dest=f"{name}_command", metavar="ACTION", required=True, parser_class=_Parser)
            for action, words in table.actions.items():
                _add_words(actions.add_parser(action, help=ACTION_HELP[action]), words)
        _add_words(command, table)
        command.set_defaults(run=module.run, from_cache=getattr(module, "from_cache", None))
    return parser


def _add_words(parser, table) -> None:
    """The table's positionals and options onto an argparse parser, in their help sections."""
    sections = {}
    for positional in table.positionals:
        parser.add_argument(positional.name, nargs=positional.nargs, metavar=positional.metavar, help=positional.help)
    for option in table.options:
        if option.group and option.group not in sections:
            exclusive = option.group.startswith("!")
            sections[option.group] = parser.add_mutually_exclusive_group() if exclusive else parser.add_argument_group(option.group)
        where = sections.get(option.group, parser)
        if option.value is None:
            where.add_argument(option.name, action="store_true", help=option.help)
        elif option.repeat:
            where.add_argument(option.name, action="append", default=[], metavar=option.metavar, help=option.help)
        else:
            where.add_argument(
                option.name, type=option.value, metavar=option.metavar, help=option.help,
                choices=option.choices() if option.choices else None,
                default=option.default,
            )


def _command_of(argv) -> str | None:
    """The command argv runs, if nothing before it needs the whole parser (help, an unknown word)."""
    for word in argv:
        if word != "--debug":
            return None if word.startswith("-") else _BY_NAME.get(word)
    return None


def _help_as_option(words):
    """`help [COMMAND]` means `[COMMAND] --help`, as in git and pip."""
    debug = 0
    while words[debug:debug + 1] == ["--debug"]:
        debug += 1
    if words[debug:debug + 1] != ["help"]:
        return words
    return [*words[:debug], *words[debug + 1:], "--help"]


def main(argv=None) -> int:
    words = sys.argv[1:] if argv is None else argv
    from geodesic_stage.auth import passphrase

    passphrase.take_from_environment()  # before anything can start a process that would inherit it
    if words[:1] == ["__complete"]:
        # TAB completion, at every key press: none of the parsers below.
        from geodesic_stage import completion

        return completion.main(words[1:])
    words = _help_as_option(words)
    try:
        args = _quick_args(words)
        if args is None:
            # Building every command's parser imports every command module: pay only for the one asked for.
            parser = build_parser(_command_of(words))
            args = parser.parse_args(words)
            if not getattr(args, "command", None):
                args = parser.parse_args([*words, "status"])
        if getattr(args, "debug", False):
            log.enable_debug()
        else:
            log.hide_warnings()
        # A command that can answer from its cache alone (kubectl's token) does, before the config files are read.
        if getattr(args, "from_cache", None) and args.from_cache(args):
            return 0
        if len(words) == 2 and words[0] == "use" and "GEODESIC_STAGE_SHELL_PID" in os.environ:
            # A plain use run by the `stage` function, which replays one that came from the cache (switch.py).
            from geodesic_stage import switch

            switch.watch(words)
        from geodesic_stage.context import Context

        return args.run(args, Context.from_args(args)) or 0
    except StageError as e:
        log.say(e.message)
        return e.exit_code
    except KeyboardInterrupt:
        log.say(Interrupted("interrupted; nothing changed").message)
        return Interrupted.exit_code
    except BrokenPipeError:
        return 1

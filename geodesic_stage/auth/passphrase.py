"""Where the key store's passphrase comes from: the environment, a file, or the terminal.

GEODESIC_STAGE_PASSPHRASE is taken out of the environment when the command starts,
so no process we start (exec, mfa_process, credential_process) ever sees it.
"""

from __future__ import annotations

import os

from geodesic_stage.errors import ConfigError, PassphraseUnavailable

VARIABLE = "GEODESIC_STAGE_PASSPHRASE"
FILE_VARIABLE = "GEODESIC_STAGE_PASSPHRASE_FILE"
_NO_TERMINAL = (
    f"the key store needs its passphrase and there is no terminal to ask on; "
    f"set {VARIABLE} or {FILE_VARIABLE} (e.g. a Docker secret)"
)

_taken: str | None = None
# Commands that must never prompt (refresh from the prompt hook, credential-process) turn this off.
_may_ask = True


def take_from_environment(environ=os.environ) -> None:
    """Called first thing by every command: the variable leaves the environment for good."""
    global _taken
    value = environ.pop(VARIABLE, None)
    if value:  # set but empty reads as unset, as `export VAR=` is how people clear it
        _taken = value


def allow_prompt(allowed: bool) -> None:
    global _may_ask
    _may_ask = allowed


def current(store_path: str) -> str:
    """The passphrase that opens the store at store_path."""
    given = _given()
    if given is not None:
        return given
    if not _may_ask:
        raise PassphraseUnavailable(
            f"the key store {store_path} needs its passphrase and this command never asks for one; "
            f"run 'stage use' in a terminal first, or set {VARIABLE} or {FILE_VARIABLE}"
        )
    return ask_hidden(f"Passphrase for {_home_relative(store_path)}: ", without_terminal=_NO_TERMINAL)


def new(store_path: str, purpose: str = "new passphrase") -> str:
    """A new passphrase: from the environment or file when set (automation), else typed twice."""
    given = _given()
    if given is not None:
        return given
    return ask_new(store_path, purpose)


def ask_new(store_path: str, purpose: str = "new passphrase") -> str:
    first = ask_hidden(f"{purpose.capitalize()} for {_home_relative(store_path)}: ", without_terminal=_NO_TERMINAL)
    if not first:
        raise ConfigError("an empty passphrase protects nothing; nothing changed")
    if ask_hidden(f"Type the {purpose} again: ", without_terminal=_NO_TERMINAL) != first:
        raise ConfigError("the two passphrases differ; nothing changed")
    return first


def _given() -> str | None:
    if _taken is not None:
        return _taken
    path = os.environ.get(FILE_VARIABLE)
    if not path:
        return None
    try:
        with open(path, "r", encoding="utf-8") as f:
            value = f.read().rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{FILE_VARIABLE}={path}: cannot read it ({getattr(e, 'strerror', None) or e}); check the path")
    if not value:
        raise ConfigError(f"{FILE_VARIABLE}={path}: the file is empty; put the passphrase in it")
    return value


def _home_relative(path: str) -> str:
    home = os.path.expanduser("~")
    return "~" + path[len(home):] if home != "/" and path.startswith(home + os.sep) else path


def ask_hidden(message: str, without_terminal: str, hidden: bool = True) -> str:
    """A line typed on the terminal, without echo unless `hidden` is False, in the MFA prompt's style;
    `without_terminal` is the exit-3 message when there is none."""
    from geodesic_stage.auth import tty

    return tty.ask(message, PassphraseUnavailable, without_terminal.replace("{", "{{").replace("}", "}}"), hidden=hidden)

"""The one terminal prompt driver: a line typed on /dev/tty with prompt_toolkit, so that it works
while stdout is captured by the shell's eval. MFA codes, passphrases and keys are all asked here."""

from __future__ import annotations

import os
from collections.abc import Callable

from geodesic_stage.errors import Interrupted, StageError


def ask(
    message: str,
    unavailable: type[StageError],
    without_terminal: str,
    *,
    hidden: bool = False,
    valid: Callable[[str], bool] | None = None,
    invalid: str = "",
    notice: str | None = None,
    name: str = "the prompt",
    nothing_entered: str = "nothing entered at the prompt",
) -> str:
    """The line typed after `message`; without echo when `hidden`; asked again until `valid`.
    No terminal: `unavailable(without_terminal)` (exit 3); nothing typed (^D): `unavailable` too;
    Ctrl-C: Interrupted (exit 130). Either way nothing has changed."""
    # The cursor-position request is useless for a one-line prompt and stalls terminals that never answer it.
    os.environ.setdefault("PROMPT_TOOLKIT_NO_CPR", "1")
    try:
        tty_in = open("/dev/tty", "r")
        tty_out = open("/dev/tty", "w")
    except OSError as e:
        raise unavailable(without_terminal.format(reason=e.strerror))
    from prompt_toolkit import PromptSession
    from prompt_toolkit.input import create_input
    from prompt_toolkit.output import create_output
    from prompt_toolkit.validation import Validator

    with tty_in, tty_out:
        if notice:
            tty_out.write(notice + "\n")
            tty_out.flush()
        validator = Validator.from_callable(valid, error_message=invalid, move_cursor_to_end=True) if valid else None
        session = PromptSession(input=create_input(tty_in), output=create_output(tty_out))
        try:
            return session.prompt(message, is_password=hidden, validator=validator, validate_while_typing=False)
        except KeyboardInterrupt:
            raise Interrupted(f"cancelled at {name}; nothing changed")
        except EOFError:
            raise unavailable(f"{nothing_entered}; nothing changed")

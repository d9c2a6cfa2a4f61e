"""The MFA prompt on the terminal (/dev/tty), so it works while stdout is captured."""

import os
from typing import Optional

from geodesic_stage.errors import Interrupted, MfaUnavailable
from geodesic_stage.auth.mfa import normalize_code, valid_code


def ask_code(message: str, notice: Optional[str] = None) -> str:
    # The cursor-position request is useless for a one-line prompt and stalls terminals that never answer it.
    os.environ.setdefault("PROMPT_TOOLKIT_NO_CPR", "1")
    from prompt_toolkit import PromptSession
    from prompt_toolkit.input import create_input
    from prompt_toolkit.output import create_output
    from prompt_toolkit.validation import Validator

    try:
        tty_in = open("/dev/tty", "r")
        tty_out = open("/dev/tty", "w")
    except OSError as e:
        raise MfaUnavailable(f"cannot open the terminal to ask for the MFA code ({e.strerror}); pass --mfa-token CODE")
    with tty_in, tty_out:
        if notice:
            tty_out.write(notice + "\n")
            tty_out.flush()
        validator = Validator.from_callable(
            valid_code,
            error_message="The code is the 6 digits your MFA device shows",
            move_cursor_to_end=True,
        )
        session = PromptSession(input=create_input(tty_in), output=create_output(tty_out))
        try:
            return normalize_code(session.prompt(message, validator=validator, validate_while_typing=False))
        except KeyboardInterrupt:
            raise Interrupted("cancelled at the MFA prompt; nothing changed")
        except EOFError:
            raise MfaUnavailable("no MFA code entered; nothing changed")

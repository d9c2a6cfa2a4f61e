"""Opening a URL with $BROWSER as people set it (as xdg-open and sensible-browser read it): a
':'-separated list of commands tried in order, each split as a shell would, `%s` in a word
standing for the URL (`%%` for a `%`), else the URL as the last argument.

The URL may carry a sign-in token: it goes to the browser's argv, which is what $BROWSER is for,
and into no message.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess

_MARK = re.compile("%[%s]")


def open_url(url: str) -> str | None:
    """Start the first command of $BROWSER that starts, detached; None when one did, else why none did."""
    setting = os.environ.get("BROWSER", "")
    commands = [command for command in setting.split(":") if command.strip()]
    if not commands:
        return "BROWSER names no command" if setting else "BROWSER is not set"
    failures = []
    for command in commands:
        try:
            argv = _argv(command, url)
        except ValueError:
            failures.append(f"cannot read the BROWSER command {command!r}")
            continue
        try:
            subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
            return None
        except OSError as e:
            failures.append(f"cannot start {argv[0]} ({e.strerror or type(e).__name__})")
    return "; ".join(failures)


def _argv(command: str, url: str) -> list:
    words = shlex.split(command)
    if not words:
        raise ValueError("no command")
    if not any("%s" in _MARK.findall(word) for word in words):
        return [*words, url]
    return [_MARK.sub(lambda mark: url if mark.group() == "%s" else "%", word) for word in words]

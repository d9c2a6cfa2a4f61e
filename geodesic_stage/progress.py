"""A line of progress for long work, on a terminal's stderr only: redrawn in place, cleared when the
work ends, so what follows starts on a clean line. Without a terminal it writes nothing."""

import os
import sys
import time

from geodesic_stage.lifetimes import PROGRESS_REDRAW_SECONDS


class StatusLine:
    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.on = _is_terminal(self.stream)
        self._drawn_at = None

    def show(self, text: str, now: bool = False) -> None:
        """Draw `text` over the line; skipped if the last drawing is too recent, unless `now`."""
        if not self.on:
            return
        moment = time.monotonic()
        if not now and self._drawn_at is not None and moment - self._drawn_at < PROGRESS_REDRAW_SECONDS:
            return
        # A line longer than the terminal would wrap, and \r then redraws only its last part.
        self.stream.write("\r" + text[: _columns(self.stream) - 1] + "\x1b[K")
        self.stream.flush()
        self._drawn_at = moment

    def clear(self) -> None:
        if self._drawn_at is not None:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._drawn_at = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.clear()


def _is_terminal(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _columns(stream) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns or 80
    except (AttributeError, ValueError, OSError):
        return 80

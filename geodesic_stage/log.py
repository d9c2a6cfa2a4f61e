"""Messages for humans: always stderr, never stdout (which the shell evals)."""

import sys

_debug = False


def enable_debug() -> None:
    global _debug
    _debug = True


def debugging() -> bool:
    return _debug


def say(message: str) -> None:
    print(f"geodesic-stage: {message}", file=sys.stderr, flush=True)


def debug(message: str) -> None:
    """A decision worth showing with --debug; callers never pass secrets."""
    if _debug:
        print(f"geodesic-stage[debug]: {message}", file=sys.stderr, flush=True)

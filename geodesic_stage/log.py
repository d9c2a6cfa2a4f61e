"""Messages for humans: always stderr, never stdout (which the shell evals)."""

import sys

_debug = False


def enable_debug() -> None:
    global _debug
    _debug = True
    import warnings  # with --debug only: a cached command without it stays lighter

    warnings.showwarning = _warning_line


def _warning_line(message, category, filename, lineno, file=None, line=None) -> None:
    debug(f"{category.__name__} from {filename}:{lineno}: {message}")


def hide_warnings() -> None:
    """A library's warning (pyOpenSSL's deprecations, botocore's notice about this Python) is for --debug,
    not the user's screen; -W or PYTHONWARNINGS still get what they ask for."""
    if sys.warnoptions:
        return
    if "warnings" in sys.modules:
        sys.modules["warnings"].simplefilter("ignore")
    else:
        # The warnings module takes this up when a library first imports it; importing it here would
        # slow every cached command.
        sys.warnoptions.append("ignore")


def debugging() -> bool:
    return _debug


def say(message: str) -> None:
    print(f"geodesic-stage: {message}", file=sys.stderr, flush=True)


def debug(message: str) -> None:
    """A decision worth showing with --debug; callers never pass secrets."""
    if _debug:
        print(f"geodesic-stage[debug]: {message}", file=sys.stderr, flush=True)

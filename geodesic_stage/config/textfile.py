"""Reading a user's config file as text, with errors that name the file and line."""

from geodesic_stage.errors import ConfigError


class Unreadable(ConfigError):
    """The path holds something that cannot be read as a file (a directory, a file whose mode forbids it)."""


def _line_of(data, index: int) -> int:
    return data[:index].count(b"\n" if isinstance(data, bytes) else "\n") + 1


def read_text(path: str, kind: str) -> str:
    """The file's text, line endings as they are; "" when it does not exist. `kind` names it in messages."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return ""
    except IsADirectoryError:
        raise Unreadable(f"{path}: is a directory, not {kind}")
    except OSError as e:
        raise Unreadable(f"{path}: cannot read {kind} ({e.strerror}); check its owner and mode")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}:{_line_of(data, e.start)}: not UTF-8 text; fix or remove the bad bytes on that line")
    if "\0" in text:
        raise ConfigError(f"{path}:{_line_of(text, text.index(chr(0)))}: contains a NUL byte; this is not {kind}")
    return text

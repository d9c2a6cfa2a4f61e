"""Reading `~/.aws/config` and `~/.aws/credentials` without botocore.

The parse follows botocore's own (configparser, `[profile x]` sections, the
credentials file's sections are bare names), so both see the same profiles;
it lives here because importing botocore's session machinery costs more than a
cached `stage use` may spend. A file in the shape nearly every AWS config has
is read by a plain loop, ten times faster than configparser on a config of
thousands of profiles; anything else goes to configparser itself. Every line of
every file is checked, as botocore refuses a whole file for an error on any
line, except that a large file whose exact text passed the check once is not
checked again; its sections are then parsed only when read.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from geodesic_stage.errors import ConfigError
from geodesic_stage.config.textfile import Unreadable, read_text

Section = dict[str, str]


def config_path() -> str:
    return _expanded(os.environ.get("AWS_CONFIG_FILE") or "~/.aws/config")


def credentials_path() -> str:
    return _expanded(os.environ.get("AWS_SHARED_CREDENTIALS_FILE") or "~/.aws/credentials")


def _expanded(path: str) -> str:
    """The path as botocore expands it: variables ($HOME, ${X}), then `~`."""
    return os.path.expanduser(os.path.expandvars(path))


# For speed: checking every line of a config of thousands of profiles costs more than the rest
# of a cached `use`. A file this large whose exact text passed the check once (checked.checked_before)
# is not checked again, and its sections are parsed only when read.
CHECKED_ONCE_FROM = 64 * 1024


def _parse(path: str) -> Sections:
    """Every section of the file by name, each a dict of its settings (the readers keep them, uncopied);
    ConfigError, naming the line, for a file botocore would refuse."""
    # Universal newlines, as botocore's open() reads the file.
    text = _text(path)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if len(text) < CHECKED_ONCE_FROM:
        return _read_all(path, text)[0]
    from geodesic_stage.config import checked

    digest = checked.text_digest(text)
    if checked.checked_before(digest):
        index = _plain_index(text)
        if index is not None:  # None only if the plain shape changed since the text was checked
            return Sections(index)
    sections, plain = _read_all(path, text)
    if plain:
        checked.remember_checked(digest)
    return sections


def _text(path: str) -> str:
    """The file's text; "" where botocore reads no file: a path that is no regular file (a directory,
    say: its ConfigNotFound) or one that cannot be opened (configparser skips it)."""
    if not os.path.isfile(path):
        return ""
    try:
        return read_text(path, "an AWS config file")
    except Unreadable:
        return ""


def unread(path: str) -> str | None:
    """Why botocore reads nothing from what is at `path` ("is a directory", "cannot be read
    (Permission denied)"), for doctor; None for a readable file or for nothing there."""
    if os.path.isdir(path):
        return "is a directory"
    if not os.path.isfile(path):
        return None
    try:
        with open(path, "rb"):
            return None
    except OSError as e:
        return f"cannot be read ({e.strerror})"


class Sections(Mapping):
    """Sections by name. Each is held as its text until first read, then as its settings; the
    text of a section is only held once the whole file has passed the plain reader's check."""

    __slots__ = ("_held",)

    def __init__(self, held: dict):
        self._held = held  # name -> Section, or the section's text (_plain_index)

    def __getitem__(self, name: str) -> Section:
        held = self._held[name]
        if type(held) is str:
            held = self._held[name] = _settings_of(held)
        return held

    def __contains__(self, name) -> bool:
        return name in self._held

    def __iter__(self):
        return iter(self._held)

    def __len__(self) -> int:
        return len(self._held)

    def renamed(self, names: dict) -> "Sections":
        """The sections under new names: `names` maps each new name to the old one."""
        return Sections({new: self._held[old] for new, old in names.items()})


def _read_all(path: str, text: str) -> tuple:
    """(Sections, whether the plain reader read them): every line checked, as botocore
    refuses a whole file for an error on any line."""
    sections = _plain_sections(text)
    if sections is not None:
        return Sections(sections), True
    return Sections(_configparser_sections(path, text)), False


def _plain_sections(text: str) -> dict[str, Section] | None:
    """Every section read as configparser reads it, for a file in the plain shape (_plain_index,
    _plain_settings); None for anything else."""
    index = _plain_index(text)
    if index is None:
        return None
    sections = {}
    for name, section in index.items():
        settings = _settings_of(section)
        if settings is None:
            return None
        sections[name] = settings
    return sections


def _plain_index(text: str) -> dict | None:
    """The text of each section (its header line without the '[', then its settings) by its name,
    as configparser names sections, for a file of comments, unindented `[section]` lines and
    settings; None for anything else (a setting before the first section, [DEFAULT], a repeated
    or empty name)."""
    # A line that starts with '[' is a section's; its name ends at that line's last ']'.
    preamble, *chunks = f"\n{text}\n".split("\n[")
    ends = [chunk.partition("\n")[0].rfind("]") for chunk in chunks]
    index = {chunk[:end]: chunk for chunk, end in zip(chunks, ends)}
    if min(ends, default=1) < 1 or len(index) < len(chunks) or "DEFAULT" in index or _plain_settings(preamble) != {}:
        return None
    return index


def _settings_of(section: str) -> Section | None:
    """_plain_settings of a section's text from _plain_index."""
    return _plain_settings(section.partition("\n")[2])


def _plain_settings(body: str) -> Section | None:
    """A section's settings read as configparser reads them, for comments and unindented
    `key = value` lines; None for anything else (indented or continued lines, ':' delimiters,
    repeated keys, errors)."""
    settings = {}
    for line in body.split("\n"):
        first = line[:1]
        if first in "#;":  # and "", a blank line
            continue
        if first.isspace():
            stripped = line.lstrip()
            if not stripped or stripped[0] in "#;":
                continue
            return None
        key, equals, value = line.partition("=")
        key = key.rstrip().lower()
        if not equals or ":" in key or not key or key in settings:
            return None
        settings[key] = value.strip()
    return settings


def _configparser_sections(path: str, text: str) -> dict[str, Section]:
    import configparser

    parser = configparser.RawConfigParser()
    try:
        parser.read_string(text, source=path)
    except configparser.MissingSectionHeaderError as e:
        raise ConfigError(f"{path}:{e.lineno}: a setting before any [section] header; add a [profile NAME] line above it")
    except configparser.ParsingError as e:
        lineno, line = e.errors[0]
        raise ConfigError(f"{path}:{lineno}: cannot parse {line.strip()!r:.80}; expected 'key = value' or '[section]'")
    except configparser.DuplicateSectionError as e:
        raise ConfigError(f"{path}:{e.lineno}: section [{e.section}] appears twice; merge the two")
    except configparser.DuplicateOptionError as e:
        raise ConfigError(f"{path}:{e.lineno}: {e.option!r} is set twice in [{e.section}]; keep one")
    except configparser.Error as e:
        raise ConfigError(f"{path}: {e.message.splitlines()[0]}")
    sections = {section: dict(parser.items(section)) for section in parser.sections()}
    _check_nested(path, text, sections)
    return sections


def _check_nested(path: str, text: str, sections: dict) -> None:
    """botocore reads a value that starts on the next line (`s3 =` then indented lines) as
    nested `key = value` settings, and refuses the whole file when one has no '='."""
    for values in sections.values():
        for value in values.values():
            if not value.startswith("\n"):
                continue
            bad = next((line.strip() for line in value.splitlines() if line.strip() and "=" not in line), None)
            if bad is not None:
                lineno = next(
                    (n for n, line in enumerate(text.split("\n"), 1) if line[:1].isspace() and line.strip() == bad), 0
                )
                raise ConfigError(f"{path}:{lineno}: {bad!r:.80} in a nested setting is not 'key = value', so the AWS CLI reads no profile from this file")


def load_profiles(path: str = "") -> Sections:
    """Profiles of an AWS config file by name: `[profile x]` (or `[profile "x"]`) is x, `[default]` is default."""
    sections = _parse(path or config_path())
    # For speed: one look at every name at once says whether each splits as plain words.
    split = str.split if _plain_words(" ".join(sections)) else _words
    names = {}
    for section in sections:
        if section.startswith("profile"):
            words = split(section)
            if len(words) == 2:
                names[words[1]] = section
        elif section == "default":
            names["default"] = section  # the later of [default] and [profile default] wins, as in botocore
    return sections.renamed(names)


def _words(section: str) -> list:
    """A section name split as botocore splits it: shell words, so `[profile "a b"]` is `a b`;
    a name shlex cannot split is no profile."""
    if _plain_words(section):
        return section.split()  # where shlex would split the same, many times faster
    import shlex  # only for names that need it

    try:
        return shlex.split(section)
    except ValueError:
        return []


def _plain_words(text: str) -> bool:
    """Whether str.split splits text as shlex.split does: no quotes, escapes or odd whitespace."""
    return text.isascii() and text.isprintable() and '"' not in text and "'" not in text and "\\" not in text


def load_credentials(path: str = "") -> Sections:
    sections = _parse(path or credentials_path())
    return sections.renamed({section.strip(): section for section in sections})


def load_sso_sessions(path: str = "") -> Sections:
    """`[sso-session NAME]` (or `[sso-session "NAME"]`) sections of an AWS config file by name, as botocore reads them."""
    sections = _parse(path or config_path())
    names = {}
    for section in sections:
        if section.startswith("sso-session"):
            words = _words(section)
            if len(words) == 2:
                names[words[1]] = section
    return sections.renamed(names)

"""Reading `~/.aws/config` and `~/.aws/credentials` without botocore.

The parse follows botocore's own (configparser, `[profile x]` sections, the
credentials file's sections are bare names), so both see the same profiles;
it lives here because importing botocore's session machinery costs more than a
cached `stage use` may spend. A file in the shape nearly every AWS config has
is read by a plain loop, ten times faster than configparser on a config of
thousands of profiles; anything else goes to configparser itself.
"""

from __future__ import annotations

import os

from geodesic_stage.errors import ConfigError
from geodesic_stage.textfile import read_text

Section = dict[str, str]


def config_path() -> str:
    return os.path.expanduser(os.environ.get("AWS_CONFIG_FILE") or "~/.aws/config")


def credentials_path() -> str:
    return os.path.expanduser(os.environ.get("AWS_SHARED_CREDENTIALS_FILE") or "~/.aws/credentials")


def _parse(path: str) -> dict[str, Section]:
    """Every section of the file by name, each a dict of its settings (the readers keep them, uncopied)."""
    # Universal newlines, as botocore's open() reads the file.
    text = read_text(path, "an AWS config file").replace("\r\n", "\n").replace("\r", "\n")
    sections = _plain_sections(text)
    return sections if sections is not None else _configparser_sections(path, text)


def _plain_sections(text: str) -> dict[str, Section] | None:
    """Sections read as configparser reads them, for files of only comments,
    unindented `[section]` and `key = value` lines; None for anything else
    (indented or continued lines, ':' delimiters, [DEFAULT], repeats, errors)."""
    sections = {}
    current = None
    for line in text.split("\n"):
        first = line[:1]
        if first in "#;":  # and "", a blank line
            continue
        if first.isspace():
            stripped = line.lstrip()
            if not stripped or stripped[0] in "#;":
                continue
            return None
        if first == "[":
            stripped = line.rstrip()
            end = stripped.rfind("]")
            name = stripped[1:end]
            if end < 2 or name in sections or name == "DEFAULT":
                return None
            current = sections[name] = {}
            continue
        key, equals, value = line.partition("=")
        key = key.rstrip().lower()
        if current is None or not equals or ":" in key or not key or key in current:
            return None
        current[key] = value.strip()
    return sections


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


def load_profiles(path: str = "") -> dict[str, Section]:
    """Profiles of an AWS config file by name: `[profile x]` (or `[profile "x"]`) is x, `[default]` is default."""
    path = path or config_path()
    profiles = {}
    for section, values in _parse(path).items():
        if section.startswith("profile"):
            words = _words(section)
            if len(words) == 2:
                profiles[words[1]] = values
        elif section == "default":
            profiles["default"] = values  # the later of [default] and [profile default] wins, as in botocore
    return profiles


def _words(section: str) -> list:
    """A section name split as botocore splits it: shell words, so `[profile "a b"]` is `a b`;
    a name shlex cannot split is no profile."""
    if section.isascii() and section.isprintable() and '"' not in section and "'" not in section and "\\" not in section:
        return section.split()  # where shlex would split the same, many times faster
    import shlex  # only for names that need it

    try:
        return shlex.split(section)
    except ValueError:
        return []


def load_credentials(path: str = "") -> dict[str, Section]:
    path = path or credentials_path()
    return {section.strip(): values for section, values in _parse(path).items()}


def load_sso_sessions(path: str = "") -> dict[str, Section]:
    """`[sso-session NAME]` sections of an AWS config file by name, as botocore reads them."""
    sessions = {}
    for section, values in _parse(path or config_path()).items():
        words = section.split()
        if len(words) == 2 and words[0] == "sso-session":
            sessions[words[1]] = values
    return sessions

"""Reading `~/.aws/config` and `~/.aws/credentials` without botocore.

The parse follows botocore's own (configparser, `[profile x]` sections, the
credentials file's sections are bare names), so both see the same profiles;
it lives here because importing botocore's session machinery costs more than a
cached `stage use` may spend.
"""

import configparser
import os
from typing import Dict

from geodesic_stage.errors import ConfigError
from geodesic_stage.textfile import read_text

Section = Dict[str, str]


def config_path() -> str:
    return os.path.expanduser(os.environ.get("AWS_CONFIG_FILE") or "~/.aws/config")


def credentials_path() -> str:
    return os.path.expanduser(os.environ.get("AWS_SHARED_CREDENTIALS_FILE") or "~/.aws/credentials")


def _parse(path: str) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser()
    text = read_text(path, "an AWS config file")
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
    return parser


def load_profiles(path: str = "") -> Dict[str, Section]:
    """Profiles of an AWS config file by name: `[profile x]` is x, `[default]` is default."""
    path = path or config_path()
    parser = _parse(path)
    profiles = {}
    for section in parser.sections():
        words = section.split()
        if len(words) == 2 and words[0] == "profile":
            profiles[words[1]] = dict(parser.items(section))
        elif section == "default":
            profiles["default"] = dict(parser.items(section))  # the later of [default] and [profile default] wins, as in botocore
    return profiles


def load_credentials(path: str = "") -> Dict[str, Section]:
    path = path or credentials_path()
    parser = _parse(path)
    return {section.strip(): dict(parser.items(section)) for section in parser.sections()}

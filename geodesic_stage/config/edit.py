"""Editing an AWS config file's text so that only our profiles change.

Sections are found the way configparser (and so botocore) finds them; a
section ends at its last setting line, so the blank lines and comments before
the next header stay with what follows. Every other byte is kept as it was.
"""

import os
import re
import stat
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Tuple

from geodesic_stage.errors import ConfigError

# The settings of each block `init` writes (`key=value`), in the order it writes them: a role
# profile of the three topologies, an Identity Center profile, the [sso-session] they share.
ROLE_PROFILE_KEYS = ("region", "role_arn", "mfa_serial", "source_profile")
SSO_PROFILE_KEYS = ("sso_session", "sso_account_id", "sso_role_name", "region")
SSO_SESSION_KEYS = ("sso_start_url", "sso_region", "sso_registration_scopes")

_LINE = re.compile(r"[^\n]*\n|[^\n]+\Z")
_HEADER = re.compile(r"\[(?P<name>.+)\]")
_WRITTEN_LINE = re.compile(r"(?P<key>[a-z_]+)=\S[^\n]*\n?\Z")
_WRITTEN_HEADER = re.compile(r"\[(?P<kind>profile|sso-session) \S+\]\n?")
# The key orders `init` writes, by kind of section.
_ORDERS = {"profile": (ROLE_PROFILE_KEYS, SSO_PROFILE_KEYS), "sso-session": (SSO_SESSION_KEYS,)}


@dataclass(frozen=True)
class Section:
    name: str  # what is between the brackets, e.g. "profile cpco-testing-admin"
    line: int  # 1-based line of the header
    start: int  # offset of the header line
    end: int  # offset just past the section's last setting line


def sections(text: str) -> List[Section]:
    found = []
    current: Optional[dict] = None
    in_value = False  # an indented line continues the value above it
    line_number = 0
    for match in _LINE.finditer(text):
        line_number += 1
        line = match.group()
        stripped = line.strip()
        if not stripped or stripped[0] in "#;":
            continue
        header = _HEADER.match(stripped)
        if header and not (in_value and line[0].isspace()):
            if current:
                found.append(Section(**current))
            current = {"name": header.group("name"), "line": line_number, "start": match.start(), "end": match.end()}
            in_value = False
            continue
        if current:
            current["end"] = match.end()
            in_value = True
    if current:
        found.append(Section(**current))
    return found


def profile_name(section: Section) -> Optional[str]:
    words = section.name.split()
    return words[1] if len(words) == 2 and words[0] == "profile" else None


def block_name(section: Section) -> Optional[str]:
    """The name `apply` knows a section by: the profile's name, or `sso-session NAME`."""
    words = section.name.split()
    if len(words) == 2 and words[0] == "sso-session":
        return f"sso-session {words[1]}"
    return profile_name(section)


def written_by_init(text: str) -> bool:
    """Whether a section's text has exactly the form `init` writes (values aside)."""
    lines = _LINE.findall(text)
    header = _WRITTEN_HEADER.fullmatch(lines[0]) if lines else None
    if not header:
        return False
    keys = []
    for line in lines[1:]:
        match = _WRITTEN_LINE.match(line)
        if not match:
            return False
        keys.append(match.group("key"))
    return any(keys == [k for k in order if k in keys] for order in _ORDERS[header.group("kind")])


@dataclass(frozen=True)
class Edit:
    text: str
    replaced: Tuple[str, ...]
    appended: Tuple[str, ...]
    hand_changed: Tuple[Tuple[str, int], ...]  # (profile, line) kept as the user wrote it


def apply(text: str, blocks: Mapping[str, str], force: bool = False) -> Edit:
    """Replace the profiles named in `blocks` in place, append the others.

    A profile whose text is not in the form `init` writes was edited by hand:
    it is left alone and reported, unless `force`.
    """
    parts: List[str] = []
    position = 0
    present: Dict[str, None] = {}
    replaced, hand_changed = [], []
    for section in sections(text):
        name = block_name(section)
        if name not in blocks or name in present:
            continue
        present[name] = None
        old = text[section.start:section.end]
        new = blocks[name]
        if old == new:
            continue
        if not force and not written_by_init(old):
            hand_changed.append((name, section.line))
            continue
        parts += [text[position:section.start], new]
        position = section.end
        replaced.append(name)
    parts.append(text[position:])
    missing = [name for name in blocks if name not in present]
    if missing:
        parts += [_separator(text), "\n".join(blocks[name] for name in missing)]
    return Edit("".join(parts), tuple(replaced), tuple(missing), tuple(hand_changed))


def _separator(text: str) -> str:
    """What goes between the file's end and appended profiles: one blank line."""
    if not text:
        return ""
    if not text.endswith("\n"):
        return "\n\n" if text.strip() else "\n"
    return "" if text.endswith("\n\n") or not text.strip() else "\n"


def save(path: str, text: str) -> None:
    """Replace the file atomically, keeping its mode (0600 for a new one) and any symlink to it."""
    path = os.path.realpath(path)
    try:
        _replace(path, text)
    except OSError as e:
        raise ConfigError(f"{path}: cannot write ({e.strerror}); check the owner and mode of the file and its directory")


def _replace(path: str, text: str) -> None:
    """Written whole or not at all, keeping the file's own mode (0600 for a new one)."""
    from geodesic_stage.store.files import write_atomically

    directory = os.path.dirname(path)
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        mode = 0o600
        os.makedirs(directory, mode=0o700, exist_ok=True)
    write_atomically(path, text.encode("utf-8"), mode, prefix=".config-", suffix=".tmp")


_KEY_LINE = re.compile(r"\s*(aws_access_key_id|aws_secret_access_key)\s*[=:]", re.IGNORECASE)


def remove_keys(text: str, profile: str) -> str:
    """The credentials file's text without the key lines of `[profile]`; every other byte kept."""
    for section in sections(text):
        if section.name.strip() == profile:
            body = text[section.start:section.end]
            kept = "".join(line for line in _LINE.findall(body) if not _KEY_LINE.match(line))
            return text[:section.start] + kept + text[section.end:]
    return text

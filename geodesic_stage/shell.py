"""Rendering variables for the shell (eval'd by the `stage` function), dotenv and JSON.

Every value is quoted so that no byte of it is ever executed; values a shell
cannot hold (NUL) are refused rather than mangled.
"""

import json
import re
from collections import OrderedDict
from typing import Dict, Iterable, Mapping

from geodesic_stage.clock import rfc3339
from geodesic_stage.errors import ConfigError
from geodesic_stage.model import Session

FORMATS = ("sh", "json", "dotenv")

# Everything `stage use` sets, in the order it prints them; `stage logout` unsets them all.
VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
    "AWS_SESSION_EXPIRATION",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_PROFILE",
    "ASSUME_ROLE",
    "STAGE",
)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_SAFE = re.compile(r"[A-Za-z0-9_@%+=:,./-]+\Z")


def environment(session: Session) -> Dict[str, str]:
    """The variables a shell holds for this stage; region ones only if the profile has one."""
    profile = session.stage.profile
    creds = session.credentials
    env = OrderedDict(
        AWS_ACCESS_KEY_ID=creds.access_key_id,
        AWS_SECRET_ACCESS_KEY=creds.secret_access_key,
        AWS_SESSION_TOKEN=creds.session_token,
        AWS_CREDENTIAL_EXPIRATION=rfc3339(creds.expiration),
        AWS_SESSION_EXPIRATION=rfc3339(session.session_expiration),
    )
    if profile.region:
        env["AWS_REGION"] = profile.region
        env["AWS_DEFAULT_REGION"] = profile.region
    env["AWS_PROFILE"] = profile.name
    env["ASSUME_ROLE"] = profile.name
    env["STAGE"] = session.stage.name
    return env


def _check_value(value: str) -> None:
    if "\0" in value:
        raise ConfigError("a value contains a NUL byte, which no environment variable can hold")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ConfigError("a value is not valid Unicode text (a lone surrogate); check the cache and config files")


def quote(value: str) -> str:
    """POSIX shell single-quoting: the result is one word that expands to exactly value."""
    _check_value(value)
    if _SAFE.match(value):
        return value
    return "'" + value.replace("'", "'\\''") + "'"


def _check_name(name: str) -> str:
    if not _NAME.match(name):
        raise ConfigError(f"{name!r} is not a valid variable name")
    return name


def render(env: Mapping[str, str], fmt: str = "sh", unset: Iterable[str] = ()) -> str:
    if fmt == "json":
        return json.dumps(dict(env), indent=2) + "\n"
    if fmt == "dotenv":
        return "".join(f"{_check_name(k)}={_dotenv_quote(v)}\n" for k, v in env.items())
    lines = [f"unset {' '.join(_check_name(n) for n in unset)}"] if unset else []
    lines += [f"export {_check_name(k)}={quote(v)}" for k, v in env.items()]
    return "".join(line + "\n" for line in lines)


def render_exports(session: Session) -> str:
    """The block `stage use` evals: this stage's variables, and unset for those it lacks."""
    env = environment(session)
    return render(env, unset=[name for name in VARIABLES if name not in env])


def render_unset(names: Iterable[str] = VARIABLES) -> str:
    return f"unset {' '.join(_check_name(n) for n in names)}\n"


def _dotenv_quote(value: str) -> str:
    """Single-quoted, the one form that docker compose, python-dotenv and a shell's `.`
    all read literally; a value that cannot sit between single quotes on one line is refused."""
    _check_value(value)
    if "'" in value or "\n" in value or "\r" in value:
        raise ConfigError("a value holds a quote or a line break, which dotenv cannot carry safely; use --format sh or json")
    return f"'{value}'"

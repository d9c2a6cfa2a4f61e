"""Rendering variables for the shell (eval'd by the `stage` function), dotenv and JSON.

Every value is quoted so that no byte of it is ever executed; values a shell
cannot hold (NUL) are refused rather than mangled.
"""

from __future__ import annotations

import json
import re
from collections import OrderedDict
from collections.abc import Iterable, Mapping

from geodesic_stage.clock import rfc3339
from geodesic_stage.credentials import RENEW_SECONDS
from geodesic_stage.errors import ConfigError
from geodesic_stage.model import Session

FORMATS = ("sh", "json", "dotenv")
# The prompt hook renews role credentials with this much left (the spec's 10 minutes), tries
# again at most this often after a failure, and gives up on one renewal after PROMPT_RENEW_TIMEOUT.
PROMPT_RENEW_SECONDS = 600
RETRY_SECONDS = 60
PROMPT_RENEW_TIMEOUT = 3

# Everything `stage use` sets, in the order it prints them; `stage logout` unsets them all,
# and the `stage` function gives the user's own values back.
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
# What a shell served by the credential endpoint holds instead of the keys and AWS_PROFILE
# (`stage use --serve`); GEODESIC_STAGE_PROFILE names the profile for status and refresh.
ENDPOINT_VARIABLES = ("AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN", "GEODESIC_STAGE_PROFILE")
# Each of these, set by the user or a platform, would win over the endpoint in the SDKs' order:
# unset while it serves (with the keys and AWS_PROFILE); the `stage` function gives them back at logout.
OUTRANKING = ("AWS_DEFAULT_PROFILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
# Every variable a `use` may change, handed to the `stage` function to keep the user's own values of.
HANDED = VARIABLES + ENDPOINT_VARIABLES + OUTRANKING
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_SAFE = re.compile(r"[A-Za-z0-9_@%+=:,./-]+\Z")


def environment(session: Session) -> dict[str, str]:
    """The variables a shell holds for this stage; region ones only if the profile has one.
    AWS_PROFILE and ASSUME_ROLE name the profile for geodesic's prompt and identity check."""
    env = portable_environment(session)
    env["AWS_PROFILE"] = env["ASSUME_ROLE"] = session.stage.profile.name
    env.move_to_end("STAGE")
    return env


def portable_environment(session: Session, fallback: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables that work with no AWS config at all (scripts, CI, `exec`): no profile
    name, which a machine without the profile refuses; a region-less profile takes the
    region of `fallback` (the caller's environment), as the AWS CLI would here."""
    profile = session.stage.profile
    creds = session.credentials
    env = OrderedDict(
        AWS_ACCESS_KEY_ID=creds.access_key_id,
        AWS_SECRET_ACCESS_KEY=creds.secret_access_key,
        AWS_SESSION_TOKEN=creds.session_token,
        AWS_CREDENTIAL_EXPIRATION=rfc3339(creds.expiration),
        AWS_SESSION_EXPIRATION=rfc3339(session.session_expiration),
    )
    fallback = fallback or {}
    region = profile.region or fallback.get("AWS_REGION") or fallback.get("AWS_DEFAULT_REGION")
    if region:
        env["AWS_REGION"] = region
        env["AWS_DEFAULT_REGION"] = region
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


def render(env: Mapping[str, str], fmt: str = "sh") -> str:
    if fmt == "json":
        return json.dumps(dict(env), indent=2) + "\n"
    if fmt == "dotenv":
        return "".join(f"{_check_name(k)}={_dotenv_quote(v)}\n" for k, v in env.items())
    return "".join(f"export {_check_name(k)}={quote(v)}\n" for k, v in env.items())


def render_exports(session: Session) -> str:
    """The block `stage use` evals. Its first line hands the `stage` function what it must
    know: the variables a stage sets (to keep the user's own) and the renewal thresholds.
    A region-less profile leaves the region alone: the function restores the user's first."""
    return _header() + render(environment(session))


def _header() -> str:
    handed = {
        "__geodesic_stage_variables": " ".join(_check_name(n) for n in HANDED),
        "__geodesic_stage_renew_at": str(PROMPT_RENEW_SECONDS),
        "__geodesic_stage_login_renew_at": str(RENEW_SECONDS),
        "__geodesic_stage_retry_after": str(RETRY_SECONDS),
    }
    return " ".join(f"{name}={quote(value)}" for name, value in handed.items()) + "\n"


def endpoint_environment(session: Session, url: str, token: str, fallback: Mapping[str, str] | None = None) -> dict[str, str]:
    """What `exec --serve` gives its command: the endpoint, the region, the stage; no keys, no profile."""
    env = OrderedDict(AWS_CONTAINER_CREDENTIALS_FULL_URI=url, AWS_CONTAINER_AUTHORIZATION_TOKEN=token)
    portable = portable_environment(session, fallback)
    env.update((name, portable[name]) for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "STAGE") if name in portable)
    return env


def render_endpoint_exports(session: Session, url: str, token: str) -> str:
    """The block of `stage use --serve`: the endpoint instead of the keys and AWS_PROFILE (which
    would win over it), with the expirations, region, ASSUME_ROLE and STAGE of the keys' block, so
    the label, the hints, geodesic's prompt, status and list read the same."""
    env = OrderedDict(AWS_CONTAINER_CREDENTIALS_FULL_URI=url, AWS_CONTAINER_AUTHORIZATION_TOKEN=token)
    keys = environment(session)
    for name in ("AWS_CREDENTIAL_EXPIRATION", "AWS_SESSION_EXPIRATION", "AWS_REGION", "AWS_DEFAULT_REGION"):
        if name in keys:
            env[name] = keys[name]
    env["GEODESIC_STAGE_PROFILE"] = env["ASSUME_ROLE"] = session.stage.profile.name
    env["STAGE"] = session.stage.name
    outranking = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", *OUTRANKING)
    return _header() + render_unset(outranking) + render(env)


def render_unset(names: Iterable[str] = VARIABLES + ENDPOINT_VARIABLES) -> str:
    return f"unset {' '.join(_check_name(n) for n in names)}\n"


def _dotenv_quote(value: str) -> str:
    """Single-quoted, the one form that docker compose, python-dotenv and a shell's `.`
    all read literally; a value that cannot sit between single quotes on one line is refused."""
    _check_value(value)
    if "'" in value or "\n" in value or "\r" in value:
        raise ConfigError("a value holds a quote or a line break, which dotenv cannot carry safely; use --format sh or json")
    return f"'{value}'"

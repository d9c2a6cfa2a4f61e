"""Rendering variables for the shell (eval'd by the `stage` function), dotenv and JSON.

Every value is quoted so that no byte of it is ever executed; values a shell
cannot hold (NUL) are refused rather than mangled.
"""

from __future__ import annotations

import json
import os
import re
from collections import OrderedDict
from collections.abc import Iterable, Mapping

from geodesic_stage.clock import rfc3339
from geodesic_stage.errors import ConfigError
from geodesic_stage.lifetimes import CACHE_RENEW_SECONDS, CALL_MARGIN_SECONDS, PROMPT_RENEW_SECONDS, PROMPT_RETRY_SECONDS
from geodesic_stage.model import StageCredentials
from geodesic_stage.store.cli_cache import switch_dir

FORMATS = ("sh", "json", "dotenv")

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
    # The stage's own kubeconfig and docker config, when the stages file gives it a cluster or registries.
    "KUBECONFIG",
    "DOCKER_CONFIG",
    "STAGE",
    "GEODESIC_STAGE_USED_WITH",
)
# The options the stage was used with, which a renewal keeps (context.used_with); set only when there are some.
USED_WITH = "GEODESIC_STAGE_USED_WITH"
# The profile a shell's credential endpoint serves (`stage use --serve`): with STAGE and the expiration,
# what says such a shell holds a stage (context.stage_in_use), and what status and refresh resolve.
SERVED_PROFILE = "GEODESIC_STAGE_PROFILE"
# What a served shell holds instead of the keys and AWS_PROFILE.
ENDPOINT_VARIABLES = ("AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN", SERVED_PROFILE)
# Each of these, set by the user or a platform, would win over the endpoint in the SDKs' order:
# unset while it serves (with the keys and AWS_PROFILE); the `stage` function gives them back at logout.
OUTRANKING = ("AWS_DEFAULT_PROFILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
# Every variable a `use` may change, handed to the `stage` function to keep the user's own values of.
HANDED = VARIABLES + ENDPOINT_VARIABLES + OUTRANKING
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_SAFE = re.compile(r"[A-Za-z0-9_@%+=:,./-]+\Z")


def environment(session: StageCredentials, tools: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables a shell holds for this stage; region ones only if the profile has one.
    AWS_PROFILE and ASSUME_ROLE name the profile for geodesic's prompt and identity check;
    `tools` are the stage's KUBECONFIG and DOCKER_CONFIG, where it has them."""
    env = portable_environment(session)
    env["AWS_PROFILE"] = env["ASSUME_ROLE"] = session.stage.profile.name
    env.update(tools or {})
    env.move_to_end("STAGE")
    return env


def portable_environment(session: StageCredentials, fallback: Mapping[str, str] | None = None) -> dict[str, str]:
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


def render_exports(session: StageCredentials, used_with: str = "", tools: Mapping[str, str] | None = None) -> str:
    """The block `stage use` evals. Its first line hands the `stage` function what it must
    know: the variables a stage sets (to keep the user's own), the renewal thresholds and,
    inside geodesic, what answers its identity check.
    A region-less profile leaves the region alone: the function restores the user's first.
    `used_with` records the options the use was given (context.used_with), for renewals;
    `tools` are the stage's KUBECONFIG and DOCKER_CONFIG (see environment)."""
    env = environment(session, tools)
    if used_with:
        env[USED_WITH] = used_with
    return _header() + render(env)


def _header() -> str:
    handed = {
        "__geodesic_stage_variables": " ".join(_check_name(n) for n in HANDED),
        # Where `stage use STAGE` finds what it printed before (switch.py).
        "__geodesic_stage_switches": switch_dir(),
        "__geodesic_stage_renew_at": str(PROMPT_RENEW_SECONDS),
        "__geodesic_stage_login_renew_at": str(CACHE_RENEW_SECONDS),
        "__geodesic_stage_retry_after": str(PROMPT_RETRY_SECONDS),
        "__geodesic_stage_margin": str(CALL_MARGIN_SECONDS),
    }
    mtime = _geodesic_credentials_mtime()
    if mtime is not None:
        handed["__geodesic_stage_credentials_mtime"] = mtime
    return " ".join(f"{name}={quote(value)}" for name, value in handed.items()) + "\n"


def _geodesic_credentials_mtime() -> str | None:
    """Inside geodesic (its aws.sh exports GEODESIC_AWS_HOME), the credentials file's mtime as its
    identity hook reads it, `stat -c %Y` of the file itself, '' when there is none; stage.sh answers
    that hook with it (see __geodesic_stage_answer). None outside geodesic."""
    path = geodesic_credentials_file()
    if path is None:
        return None
    try:
        return str(os.lstat(path).st_mtime_ns // 10**9)
    except (OSError, ValueError):
        return ""


def geodesic_credentials_file() -> str | None:
    """The credentials file whose mtime geodesic's identity hook reads (its aws.sh exports
    GEODESIC_AWS_HOME); None outside geodesic."""
    home = os.environ.get("GEODESIC_AWS_HOME")
    if home is None:
        return None
    return os.environ.get("AWS_SHARED_CREDENTIALS_FILE") or home + "/credentials"


def endpoint_environment(session: StageCredentials, url: str, token: str, fallback: Mapping[str, str] | None = None) -> dict[str, str]:
    """What `exec --serve` gives its command: the endpoint, the region, the stage; no keys, no profile."""
    env = OrderedDict(AWS_CONTAINER_CREDENTIALS_FULL_URI=url, AWS_CONTAINER_AUTHORIZATION_TOKEN=token)
    portable = portable_environment(session, fallback)
    env.update((name, portable[name]) for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "STAGE") if name in portable)
    return env


def render_endpoint_exports(session: StageCredentials, url: str, token: str, used_with: str = "",
                            tools: Mapping[str, str] | None = None) -> str:
    """The block of `stage use --serve`: the endpoint instead of the keys and AWS_PROFILE (which
    would win over it), with the expirations, region, ASSUME_ROLE, tools, STAGE and record of the keys'
    block, so the label, the hints, geodesic's prompt, status, list, renewals, kubectl and docker read the same."""
    env = OrderedDict(AWS_CONTAINER_CREDENTIALS_FULL_URI=url, AWS_CONTAINER_AUTHORIZATION_TOKEN=token)
    keys = environment(session)
    for name in ("AWS_CREDENTIAL_EXPIRATION", "AWS_SESSION_EXPIRATION", "AWS_REGION", "AWS_DEFAULT_REGION"):
        if name in keys:
            env[name] = keys[name]
    env[SERVED_PROFILE] = env["ASSUME_ROLE"] = session.stage.profile.name
    env.update(tools or {})
    env["STAGE"] = session.stage.name
    if used_with:
        env[USED_WITH] = used_with
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

"""The credential cache, shared with the AWS CLI (boto3 and other SDKs do not read it).

Role credentials live where the AWS CLI keeps them, `~/.aws/cli/cache/<key>.json` (cachekeys
derives every key), Identity Center tokens in `~/.aws/sso/cache/`, and our MFA sessions in
`~/.aws/cli/cache/geodesic-stage/` (the Identity Center listings an init kept in its `sso-listings/`).
Directories are 0700, files 0600, every write is atomic, and a file that is unreadable, malformed
or writable by others is a miss.
"""

from __future__ import annotations

import json
import os

from geodesic_stage.clock import parse_timestamp, rfc3339
from geodesic_stage.lifetimes import LONGEST_SESSION_SECONDS
from geodesic_stage.model import Credentials

_TEMP_PREFIX, _SUFFIX = ".tmp-", ".json"


def cli_cache_dir() -> str:
    return os.path.join(os.path.expanduser("~"), ".aws", "cli", "cache")


def session_cache_dir() -> str:
    return os.path.join(cli_cache_dir(), "geodesic-stage")


def token_dir() -> str:
    return os.path.join(os.path.expanduser("~"), ".aws", "sso", "cache")


class JsonFileCache:
    def __init__(self, directory: str):
        self.directory = directory

    def path(self, key: str) -> str:
        return os.path.join(self.directory, key + _SUFFIX)

    def get(self, key: str) -> dict | None:
        try:
            fd = os.open(self.path(key), os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            return None
        try:
            info = os.fstat(fd)
            if info.st_uid != os.geteuid() or info.st_mode & 0o022:
                return None
            with os.fdopen(fd, "rb", closefd=False) as f:
                value = json.loads(f.read(1 << 20))
        except (OSError, ValueError, RecursionError):
            return None
        finally:
            os.close(fd)
        return value if isinstance(value, dict) else None

    def put(self, key: str, value: dict) -> None:
        """Write atomically; raises OSError when the disk or directory refuses."""
        from geodesic_stage.store import files  # only writers pay for it

        self._ensure_directory()
        files.write_atomically(self.path(key), json.dumps(value).encode("utf-8"), prefix=_TEMP_PREFIX, suffix=_SUFFIX)
        files.remove_stale_temps(self.directory, _TEMP_PREFIX, _SUFFIX)

    def delete(self, key: str) -> bool:
        from geodesic_stage.store import files

        return files.remove(self.path(key))

    def keys(self) -> list:
        """The key of every entry here; raises OSError when the directory cannot be read."""
        names = os.listdir(self.directory) if os.path.isdir(self.directory) else ()
        return sorted(n[: -len(_SUFFIX)] for n in names if n.endswith(_SUFFIX) and not n.startswith(_TEMP_PREFIX))

    def _ensure_directory(self) -> None:
        from geodesic_stage.store import files

        files.private_directory(self.directory)
        info = os.stat(self.directory)
        if info.st_uid == os.geteuid() and info.st_mode & 0o077:
            os.chmod(self.directory, 0o700)


def role_cache() -> JsonFileCache:
    return JsonFileCache(cli_cache_dir())


def session_cache() -> JsonFileCache:
    return JsonFileCache(session_cache_dir())


def token_cache() -> JsonFileCache:
    return JsonFileCache(token_dir())


def listing_cache() -> JsonFileCache:
    """The Identity Center listings an init kept after a failure part way (sso.listing)."""
    return JsonFileCache(os.path.join(session_cache_dir(), "sso-listings"))


def credentials_from_entry(entry: dict | None) -> Credentials | None:
    """The credentials in an STS response or cache entry, or None if it is not one."""
    try:
        creds = entry["Credentials"]
        values = [creds[k] for k in ("AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration")]
        # Real keys are printable; a NUL, newline or lone surrogate marks a broken entry.
        if not all(isinstance(v, str) and v and v.isprintable() for v in values):
            return None
        return Credentials(values[0], values[1], values[2], parse_timestamp(values[3]))
    except (TypeError, KeyError, ValueError):
        return None


def entry_from_credentials(credentials: Credentials, assumed_role_user: dict | None = None) -> dict:
    """An entry shaped like the STS response that botocore caches."""
    entry = {
        "Credentials": {
            "AccessKeyId": credentials.access_key_id,
            "SecretAccessKey": credentials.secret_access_key,
            "SessionToken": credentials.session_token,
            "Expiration": rfc3339(credentials.expiration),
        }
    }
    if assumed_role_user:
        entry["AssumedRoleUser"] = assumed_role_user
    return entry


def fresh(credentials: Credentials | None, at, min_seconds: float) -> Credentials | None:
    """The credentials if they last at least min_seconds more and are not from the future."""
    if credentials is None:
        return None
    left = credentials.seconds_left(at)
    if left < min_seconds or left > LONGEST_SESSION_SECONDS:
        return None
    return credentials

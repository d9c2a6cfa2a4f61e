"""The credential cache, shared with the AWS CLI (boto3 and other SDKs do not read it).

Role credentials live where the AWS CLI keeps them, `~/.aws/cli/cache/<key>.json` (cachekeys
derives every key), Identity Center tokens in `~/.aws/sso/cache/`, and our MFA sessions in
`~/.aws/cli/cache/geodesic-stage/` (what the stages' credentials sign, EKS tokens and ECR
passwords, and the Identity Center listings an init kept, in folders of their own there).
Directories are 0700, files 0600, every write is atomic, and a file that is unreadable, malformed or
writable by others is a miss.

Importing it loads neither json, datetime nor the file writer (each function that needs them imports
them): kubectl's cached token (eks.served) reads its answer with read_private, and no JSON.
"""

from __future__ import annotations

import os

from geodesic_stage.lifetimes import LONGEST_SESSION_SECONDS

# The model for the annotations only: it (and datetime) loads where credentials are read or written.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from geodesic_stage.model import Credentials

_TEMP_PREFIX, _SUFFIX = ".tmp-", ".json"


def cli_cache_dir() -> str:
    return os.path.join(os.path.expanduser("~"), ".aws", "cli", "cache")


def session_cache_dir() -> str:
    return os.path.join(cli_cache_dir(), "geodesic-stage")


def eks_cache_dir() -> str:
    """EKS tokens, cluster descriptions and the stages' kubeconfigs: beside the MFA sessions, as private as they are."""
    return os.path.join(session_cache_dir(), "eks")


def ecr_cache_dir() -> str:
    """ECR passwords and the stages' docker configs."""
    return os.path.join(session_cache_dir(), "ecr")


def switch_dir() -> str:
    """What cached switches printed, for the shell to replay (switch.py)."""
    return os.path.join(session_cache_dir(), "switch")


def token_dir() -> str:
    return os.path.join(os.path.expanduser("~"), ".aws", "sso", "cache")


def read_private(path: str, limit: int = 1 << 20) -> bytes | None:
    """Up to `limit` bytes of a file of this user's that nobody else can write; None for one that is
    absent, unreadable, a symbolic link, someone else's or writable by others (then it is no entry of ours)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if info.st_uid != os.geteuid() or info.st_mode & 0o022:
            return None
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read(limit)
    except OSError:
        return None
    finally:
        os.close(fd)


class JsonFileCache:
    def __init__(self, directory: str):
        self.directory = directory

    def path(self, key: str) -> str:
        return os.path.join(self.directory, key + _SUFFIX)

    def get(self, key: str) -> dict | None:
        import json

        data = read_private(self.path(key))
        try:
            value = json.loads(data) if data is not None else None
        except (ValueError, RecursionError):
            return None
        return value if isinstance(value, dict) else None

    def put(self, key: str, value: dict) -> None:
        """Write atomically; raises OSError when the disk or directory refuses."""
        import json

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
    from geodesic_stage.clock import parse_timestamp
    from geodesic_stage.model import Credentials

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
    from geodesic_stage.clock import rfc3339

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


def secret_and_time(entry: dict | None, secret: str, time: str) -> tuple | None:
    """(the printable secret, the time) an entry of ours holds under those names (an EKS token and its
    expiration, an ECR password and its renewal); None for one that is absent, broken or not ours."""
    from geodesic_stage.clock import parse_timestamp

    try:
        value, at = entry[secret], parse_timestamp(entry[time])
    except (TypeError, KeyError, ValueError):
        return None
    return (value, at) if isinstance(value, str) and value.isprintable() else None

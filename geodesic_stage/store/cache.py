"""The credential cache, shared with the AWS CLI (boto3 and other SDKs do not read it).

Role credentials live where the AWS CLI keeps them, `~/.aws/cli/cache/<key>.json`,
under botocore's key for the profile, so `aws --profile X` and `stage use`
reuse each other's sessions. MFA sessions live beside them in
`geodesic-stage/`, with the digests of large AWS config files already checked
(awsconfig). Directories are 0700, files 0600, every write is atomic,
and a file that is unreadable, malformed or writable by others is a miss.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta

try:  # CPython's own SHA-1: hashlib loads OpenSSL first, some 3 ms of every cached use
    from _sha1 import sha1
except ImportError:
    from hashlib import sha1

from geodesic_stage import clock
from geodesic_stage.clock import parse_timestamp, rfc3339
from geodesic_stage.config.chain import RoleLink
from geodesic_stage.model import Credentials, Profile

# STS issues nothing that lasts longer; a later expiration is a forged or broken entry.
LONGEST_SESSION = timedelta(hours=36)
# A writer killed between mkstemp and os.replace leaves its temp file; one this old is nobody's.
STALE_TEMP_SECONDS = 60


def cli_cache_dir() -> str:
    return os.path.join(os.path.expanduser("~"), ".aws", "cli", "cache")


def session_cache_dir() -> str:
    return os.path.join(cli_cache_dir(), "geodesic-stage")


def _sha1_of(args: dict) -> str:
    return sha1(json.dumps(args, sort_keys=True).encode("utf-8")).hexdigest()


def link_key(link) -> str | None:
    """The AWS CLI cache key of a chain's link: botocore's AssumeRole key for a role link.
    A source link has none of ours yet (Identity Center will give an SSO source botocore's SSO key)."""
    return cli_cache_key(link) if isinstance(link, RoleLink) else None


def cli_cache_key(profile: Profile | RoleLink) -> str:
    """botocore's AssumeRoleCredentialFetcher key for this profile's (or role link's) AssumeRole arguments."""
    args = {"RoleArn": profile.role_arn}
    if profile.role_session_name is not None:
        args["RoleSessionName"] = profile.role_session_name
    if profile.external_id is not None:
        args["ExternalId"] = profile.external_id
    if profile.mfa_serial is not None:
        args["SerialNumber"] = profile.mfa_serial
    if profile.duration_seconds is not None:
        args["DurationSeconds"] = profile.duration_seconds
    return _sha1_of(args)


def session_cache_key(source_profile: str, mfa_serial: str) -> str:
    return "session-" + _sha1_of({"SerialNumber": mfa_serial, "SourceProfile": source_profile})


class JsonFileCache:
    def __init__(self, directory: str):
        self.directory = directory

    def path(self, key: str) -> str:
        return os.path.join(self.directory, key + ".json")

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
        self._ensure_directory()
        data = json.dumps(value).encode("utf-8")
        import tempfile  # only writers pay for it

        fd, temp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(temp, self.path(key))
        except BaseException:
            _remove(temp)
            raise
        self._remove_stale_temps()

    def delete(self, key: str) -> bool:
        return _remove(self.path(key))

    def keys(self) -> list:
        """The key of every entry here; raises OSError when the directory cannot be read."""
        names = os.listdir(self.directory) if os.path.isdir(self.directory) else ()
        return sorted(n[: -len(".json")] for n in names if n.endswith(".json") and not n.startswith(".tmp-"))

    def _remove_stale_temps(self) -> None:
        oldest = clock.now().timestamp() - STALE_TEMP_SECONDS
        for name in os.listdir(self.directory):
            path = os.path.join(self.directory, name)
            try:
                if name.startswith(".tmp-") and name.endswith(".json") and os.lstat(path).st_mtime < oldest:
                    _remove(path)
            except OSError:
                pass

    def _ensure_directory(self) -> None:
        private_directory(self.directory)
        info = os.stat(self.directory)
        if info.st_uid == os.geteuid() and info.st_mode & 0o077:
            os.chmod(self.directory, 0o700)


def private_directory(path: str) -> None:
    """makedirs, but every directory it creates is 0700 whatever the umask (os.makedirs
    gives the parents 0777 minus the umask)."""
    parent = os.path.dirname(path)
    if parent and parent != path and not os.path.isdir(parent):
        private_directory(parent)
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        return
    os.chmod(path, 0o700)


def _remove(path: str) -> bool:
    try:
        os.unlink(path)
        return True
    except FileNotFoundError:
        return False


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
    if left < min_seconds or left > LONGEST_SESSION.total_seconds():
        return None
    return credentials


# Digests of large AWS files whose text passed awsconfig's check of every line, the newest few,
# in a directory of their own (`logout --forget` drops every entry of the session cache's).
CHECKED_KEY = "aws-files-v2"  # a reader that checks otherwise needs a new key
CHECKED_KEPT = 16


def checked_cache() -> JsonFileCache:
    return JsonFileCache(os.path.join(session_cache_dir(), "checked"))


def text_digest(text: str) -> str:
    """The text's CRC-32 and length: a change detector, not a seal (for speed: a cryptographic hash
    costs a cached use of a 1 MB config 2 ms more). Whoever can write the file chooses its
    profiles anyway; a collision would only leave an error in a section no command reads unsaid."""
    import zlib

    data = text.encode("utf-8")
    return f"{zlib.crc32(data):08x}-{len(data)}"


def _checked_digests() -> list:
    entry = checked_cache().get(CHECKED_KEY)
    digests = entry.get("crc32") if entry else None
    return [d for d in digests if isinstance(d, str)] if isinstance(digests, list) else []


def checked_before(digest: str) -> bool:
    """Whether the text of this digest (text_digest) passed the check before (remember_checked)."""
    return digest in _checked_digests()


def remember_checked(digest: str) -> None:
    """Note that the text of this digest passed the check; a cache that cannot be written only means checking again."""
    digests = [digest, *(d for d in _checked_digests() if d != digest)]
    try:
        checked_cache().put(CHECKED_KEY, {"crc32": digests[:CHECKED_KEPT]})
    except OSError:
        pass


def role_cache() -> JsonFileCache:
    return JsonFileCache(cli_cache_dir())


def session_cache() -> JsonFileCache:
    return JsonFileCache(session_cache_dir())


def unwritable(directory: str) -> str | None:
    """Why this user cannot keep sessions in directory (or in the nearest part of its path
    that exists, where it would be made), or None when it can."""
    path = directory
    while not os.path.exists(path) and os.path.dirname(path) != path:
        path = os.path.dirname(path)
    try:
        owner = os.stat(path).st_uid
    except OSError as e:
        return f"{path} cannot be read ({e.strerror})"
    if path == directory and owner != os.geteuid():
        return f"{path} belongs to {_user_name(owner)}, not to you"
    if not os.access(path, os.W_OK | os.X_OK):
        return f"{path} is not writable by you"
    return None


def _user_name(uid: int) -> str:
    import pwd

    try:
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"

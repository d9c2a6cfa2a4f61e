"""Private files: directories 0700 whatever the umask, files written whole or not at all.

The one atomic writer for the credential cache, the AWS config's edits and the key store.
"""

from __future__ import annotations

import os

from geodesic_stage import clock
from geodesic_stage.lifetimes import STALE_TEMP_SECONDS


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


def write_atomically(path: str, data: bytes, mode: int = 0o600, prefix: str = ".tmp-", suffix: str = "") -> None:
    """Replace `path` with `data` in one step: a reader sees the old file or the new one, never half.
    The temp file is made 0600 by mkstemp and given `mode` before it holds anything. Raises OSError."""
    fd, temp = _temp_file(os.path.dirname(path), prefix, suffix)
    try:
        with os.fdopen(fd, "wb") as f:
            if mode != 0o600:
                os.fchmod(f.fileno(), mode)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
    except BaseException:
        remove(temp)
        raise


def _temp_file(directory: str, prefix: str, suffix: str) -> tuple[int, str]:
    """A new file of this user's only (0600), made as tempfile.mkstemp makes one, without importing
    tempfile (with shutil, random, bz2 and lzma, a tenth of a cached switch's run)."""
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        temp = os.path.join(directory, f"{prefix}{os.urandom(6).hex()}{suffix}")
        try:
            return os.open(temp, flags, 0o600), temp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name in {directory}")


def remove_stale_temps(directory: str, prefix: str, suffix: str) -> None:
    """Temp files of writers killed before their os.replace."""
    oldest = clock.now().timestamp() - STALE_TEMP_SECONDS
    for name in os.listdir(directory):
        path = os.path.join(directory, name)
        try:
            if name.startswith(prefix) and name.endswith(suffix) and os.lstat(path).st_mtime < oldest:
                remove(path)
        except OSError:
            pass


def remove(path: str) -> bool:
    try:
        os.unlink(path)
        return True
    except FileNotFoundError:
        return False


def remove_all(directory: str) -> int:
    """Remove every file in `directory` (none if it is missing); how many. Raises OSError."""
    names = os.listdir(directory) if os.path.isdir(directory) else ()
    return sum(remove(os.path.join(directory, name)) for name in names)


def unwritable(directory: str) -> str | None:
    """Why this user cannot keep files in directory (or in the nearest part of its path
    that exists, where it would be made), or None when it can."""
    path = directory
    while not os.path.exists(path) and os.path.dirname(path) != path:
        path = os.path.dirname(path)
    try:
        owner = os.stat(path).st_uid
    except OSError as e:
        return f"{path} cannot be read ({e.strerror})"
    if path == directory and owner != os.geteuid():
        return f"{path} belongs to {user_name(owner)}, not to you"
    if not os.access(path, os.W_OK | os.X_OK):
        return f"{path} is not writable by you"
    return None


def user_name(uid: int) -> str:
    import pwd

    try:
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"


def me() -> str:
    """The user's login name, for a chown command (a uid where there is none)."""
    import pwd

    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())

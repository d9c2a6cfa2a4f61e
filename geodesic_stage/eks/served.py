"""kubectl's call for a token, answered from the cache alone: the ExecCredential printed before for the
same words, the same NAMESPACE and KUBERNETES_EXEC_INFO and the same config files (path, inode, size and
mtime), while its token lasts. The token's own home is token.py's cache (per identity, cluster and
region); this is its index by request, kept as two lines of text so that a hit reads no config file and
no JSON, and loads neither json, re nor datetime (together half of what a hit cost otherwise).
"""

from __future__ import annotations

import os
import time

from geodesic_stage import cachekeys
from geodesic_stage.lifetimes import EKS_TOKEN_MARGIN_SECONDS, EKS_TOKEN_SECONDS
from geodesic_stage.store.cli_cache import eks_cache_dir, read_private


def directory() -> str:
    return os.path.join(eks_cache_dir(), "served")


def request(words: list, environ) -> list:
    """What the answer depends on besides the caches: the command's words, NAMESPACE, KUBERNETES_EXEC_INFO,
    and the AWS config, the credentials file and the stages file as they are now (taken before they are
    read, so that a change while reading is never hidden)."""
    from geodesic_stage.config.paths import config_path, credentials_path
    from geodesic_stage.config.stages_file import stages_path

    found = [_word(w) for w in (*words, environ.get("NAMESPACE"), environ.get("KUBERNETES_EXEC_INFO"))]
    for path in (config_path(), credentials_path(), stages_path()):
        try:
            info = os.stat(path) if path else None
        except OSError:
            info = None
        found.append(f"{path} {info.st_ino} {info.st_size} {info.st_mtime_ns}" if info else f"{path} -")
    return found


def _word(value) -> str:
    return "-" if value is None else "=" + str(value)


def answer(request: list) -> str | None:
    """The answer kept for `request` while its token lasts the margin (and is not from the future)."""
    data = read_private(os.path.join(directory(), cachekeys.eks_served_key(request)), 1 << 16)
    try:
        until, text = data.decode("utf-8").split("\n", 1)
        # time.time(), not clock.now(): no datetime on this path (libfaketime moves both alike).
        left = int(until) - time.time()
    except (AttributeError, UnicodeDecodeError, ValueError):
        return None
    return text if 0 < left <= EKS_TOKEN_SECONDS - EKS_TOKEN_MARGIN_SECONDS and text.endswith("\n") else None


def keep(request: list, text: str, expiration) -> None:
    """Keep `text` (what was printed) for `request` until the margin before `expiration`; entries older than
    a token's life (and writers' leftovers) go."""
    from geodesic_stage import log
    from geodesic_stage.store import files

    where = directory()
    try:
        files.private_directory(where)
        until = int(expiration.timestamp()) - EKS_TOKEN_MARGIN_SECONDS
        files.write_atomically(os.path.join(where, cachekeys.eks_served_key(request)), f"{until}\n{text}".encode("utf-8"))
        oldest = time.time() - EKS_TOKEN_SECONDS
        for name in os.listdir(where):
            path = os.path.join(where, name)
            if os.lstat(path).st_mtime < oldest:
                files.remove(path)
    except OSError as e:
        log.debug(f"could not keep kubectl's answer in {where} ({e.strerror}); the next call works it out again")


def forget() -> int:
    """Drop every answer kept (`logout --forget`); how many there were. Raises OSError."""
    from geodesic_stage.store import files

    return files.remove_all(directory())

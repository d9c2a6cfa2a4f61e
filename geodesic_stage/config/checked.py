"""Digests of large AWS files whose text passed awsconfig's check of every line: the newest few,
in a folder of their own beside our MFA sessions (`logout --forget` drops sessions, not these)."""

from __future__ import annotations

import os

from geodesic_stage.store.cli_cache import JsonFileCache, session_cache_dir

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

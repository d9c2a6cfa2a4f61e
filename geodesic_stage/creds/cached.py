"""The cache as one wrapper around any way of getting credentials.

An entry is a key in a store and a window: it serves credentials only while they last the window
more, as botocore's CachedCredentialFetcher does. Each provider picks its entry (cachekeys derives
the key, lifetimes the window) where it is built, and calls `through` with the call that buys new
ones; nothing else reads or writes the credential cache.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from geodesic_stage import cachekeys, clock, log
from geodesic_stage.lifetimes import CACHE_RENEW_SECONDS, CALL_MARGIN_SECONDS
from geodesic_stage.model import Credentials
from geodesic_stage.record import Record
from geodesic_stage.store import cli_cache
from geodesic_stage.store.cli_cache import JsonFileCache


class Entry(Record):
    store: JsonFileCache
    key: str
    # Cached credentials with less left than this are not served.
    window: float
    # What the entry holds, for --debug: "cpco-testing-admin", "the MFA session of cpco + DEVICE".
    what: str

    def get(self, at=None, window: float | None = None) -> Credentials | None:
        """The cached credentials if they last the window (or `window`) more; no network, no boto3."""
        at = at or clock.now()
        found = self.store.get(self.key)
        creds = cli_cache.fresh(cli_cache.credentials_from_entry(found), at, self.window if window is None else window)
        if creds is None:
            log.debug(f"cache miss for {self.what} (key {self.key}): {_why_missed(found, at, self.window)}")
        else:
            log.debug(f"cache hit for {self.what} (key {self.key}), {clock.minutes_left(creds.expiration, at)} min left")
        return creds

    def put(self, entry: dict) -> None:
        """Keep an entry shaped as botocore caches it; a cache that cannot be written warns once per run."""
        try:
            self.store.put(self.key, entry)
        except OSError as e:
            if not _uncached:
                log.say(f"could not cache credentials in {self.store.directory} ({e.strerror}); they work in this shell only")
            _uncached.append(self.store.directory)

    def forget(self) -> bool:
        return self.store.delete(self.key)

    def locked(self, timeout: float, on_wait: Callable[[], None], timeout_message: str = ""):
        """A context held while the credentials are bought, so that shells needing them at once buy
        them once. A cache nobody can write holds nothing to share: then no lock."""
        from contextlib import ExitStack  # not on a cache hit's path

        from geodesic_stage.store import files, lock

        path = os.path.join(cli_cache.session_cache_dir(), f"{self.key}.lock")
        held = ExitStack()
        try:
            files.private_directory(cli_cache.session_cache_dir())
            held.enter_context(lock.exclusive(path, timeout, on_wait, timeout_message))
        except OSError as e:
            log.debug(f"no lock at {path} ({e.strerror})")
        return held

    def through(self, buy: Callable[[], tuple], window: float | None = None) -> Credentials:
        """Cached credentials, else `buy()` -> (credentials, the entry to cache), kept."""
        found = self.get(window=window)
        if found:
            return found
        creds, entry = buy()
        self.put(entry)
        return creds


_uncached = []


def _why_missed(entry: dict | None, at, window: float) -> str:
    if entry is None:
        return "no readable entry (absent, corrupt or not ours)"
    creds = cli_cache.credentials_from_entry(entry)
    if creds is None:
        return "the entry holds no usable credentials"
    return f"{int(creds.seconds_left(at))} s left, under the {int(window)} s renewal margin or beyond any session"


def role(link) -> Entry:
    """A role link's credentials under botocore's AssumeRole key, shared with `aws --profile`."""
    return Entry(cli_cache.role_cache(), cachekeys.role_key(link), CACHE_RENEW_SECONDS, link.profile)


def sso_role(role, what: str = "") -> Entry:
    """A permission set's credentials under botocore's SSO key, shared with the AWS CLI v2."""
    return Entry(cli_cache.role_cache(), cachekeys.sso_role_key(role), CACHE_RENEW_SECONDS,
                 what or f"{role.role_name} in {role.account_id}")


def mfa_session(links) -> Entry | None:
    """Our MFA session of a chain's source keys and its first role's device (None when the chain cannot
    have one): it must outlast the call made with it. Keys that come from the environment differ from
    shell to shell, so their key id is part of the owner."""
    serial = links.session_serial
    if not serial:
        return None
    owner = links.source.profile
    if links.source.credential_source == "Environment":
        owner += "|" + os.environ.get("AWS_ACCESS_KEY_ID", "")
    return Entry(cli_cache.session_cache(), cachekeys.mfa_session_key(owner, serial), CALL_MARGIN_SECONDS,
                 f"the MFA session of {links.source.profile} + {serial}")

"""What an Identity Center sign-in can see, read at an organization's scale for `init --topology sso`:
every account (ListAccounts), then each account's permission sets (ListAccountRoles), paced to the
rate the portal allows and bounded in time, with progress on a terminal.

A failure part way keeps what was read (the private cache, for an hour) and the next run goes on
from there; the caller writes nothing until the whole listing is read."""

import time
from collections import deque
from typing import Dict, List, Optional, Tuple

from geodesic_stage import cachekeys, log
from geodesic_stage.aws import sso_api
from geodesic_stage.errors import StageError
from geodesic_stage.lifetimes import PORTAL_RATE_WINDOW_SECONDS, SSO_LISTING_KEPT_SECONDS
from geodesic_stage.model import SsoSession
from geodesic_stage.progress import StatusLine
from geodesic_stage.store import cli_cache
from geodesic_stage.topology.sso import Account


class Tally:
    """What the listing has read so far, and how fast the portal answers."""

    def __init__(self, permission_set: str, started: float):
        self.permission_set = permission_set
        self.started = started
        self.total: Optional[int] = None  # accounts, once ListAccounts has given them all
        self.listed = 0  # accounts ListAccounts has given
        self.read = 0  # accounts whose permission sets are read
        self.read_now = 0  # of them, by this run
        self.roles = 0
        self.holding = 0  # accounts with the permission set
        self.role_calls = 0  # ListAccountRoles answers this run (every answer once the accounts are all listed)
        self._answers: deque = deque()
        self._throttled: deque = deque()

    def count(self, roles: Tuple[str, ...], this_run: bool) -> None:
        """An account's permission sets are read."""
        self.read += 1
        self.read_now += this_run
        self.roles += len(roles)
        self.holding += self.permission_set in roles

    def answered(self, at: float, throttles: int) -> None:
        if self.total is not None:
            self.role_calls += 1
        self._answers.append(at)
        if throttles:
            self._throttled.append(at)
        for times in (self._answers, self._throttled):
            while times and times[0] < at - PORTAL_RATE_WINDOW_SECONDS:
                times.popleft()

    def rate(self, now: float) -> Optional[float]:
        """Answers a second lately; None in the first second."""
        span = min(PORTAL_RATE_WINDOW_SECONDS, now - self.started)
        return len(self._answers) / span if span >= 1 else None

    def seconds_left(self, now: float) -> Optional[float]:
        rate = self.rate(now)
        if self.total is None or not rate or not self.read_now:
            return None
        calls_per_account = max(1.0, self.role_calls / self.read_now)
        return (self.total - self.read) * calls_per_account / rate

    def describe(self, now: float) -> str:
        rate = self.rate(now)
        if self.total is None:
            parts = [f"listing accounts: {self.listed:,} so far"]
        else:
            parts = [f"{self.read:,} of {self.total:,} accounts read",
                     f"{self.roles:,} roles found ({self.holding:,} {self.permission_set})"]
        if rate is not None:
            throttled = self._throttled and self._throttled[-1] >= now - PORTAL_RATE_WINDOW_SECONDS
            parts.append(f"{rate:.1f} calls/s" + (" (the portal's limit)" if throttled else ""))
        left = self.seconds_left(now)
        if left is not None:
            parts.append(f"about {_duration(left)} left")
        return "Identity Center: " + ", ".join(parts)


def _duration(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


def read(session: SsoSession, token: str, permission_set: str, max_seconds: float) -> List[Account]:
    """Every account the token sees with its permission sets, or an error saying what was kept."""
    listing = _Listing.load(session)
    tally = Tally(permission_set, time.monotonic())
    if listing.accounts is not None:
        tally.total = len(listing.accounts)
        for roles in listing.roles.values():
            tally.count(roles, this_run=False)
        log.say(f"going on from the listing the last run kept: {tally.read:,} of {tally.total:,} accounts read")

    with StatusLine() as line:
        def answered(throttles: int) -> None:
            moment = time.monotonic()
            tally.answered(moment, throttles)
            line.show(tally.describe(moment))

        patience = sso_api.Patience(max_seconds, answered)
        try:
            if listing.accounts is None:
                found = []
                for account in sso_api.accounts(session.region, token, patience):
                    found.append((account["accountId"], account.get("accountName") or account["accountId"]))
                    tally.listed = len(found)
                listing.accounts, tally.total = found, len(found)
            for account_id, _ in listing.accounts:
                if account_id not in listing.roles:
                    roles = tuple(r["roleName"] for r in sso_api.account_roles(session.region, token, account_id, patience))
                    listing.roles[account_id] = roles
                    tally.count(roles, this_run=True)
        except (StageError, KeyboardInterrupt) as e:
            line.clear()
            raise _failed(e, listing, tally, max_seconds) from None
    listing.forget()
    return [Account(account_id, name, listing.roles[account_id]) for account_id, name in listing.accounts]


def _failed(error, listing: "_Listing", tally: Tally, max_seconds: float):
    """The error to end the run with: what went wrong, that nothing was written, what was kept for the next run."""
    kept = listing.keep()
    if isinstance(error, KeyboardInterrupt):
        return error
    what, longer = error.message, ""
    if isinstance(error, sso_api.OutOfTime):
        what, longer = f"Identity Center: {what} (--max-time {max_seconds:g})", " with a longer --max-time"
    read = f"{tally.listed:,} accounts listed" if tally.total is None else f"{tally.read:,} of {tally.total:,} accounts read"
    again = f"run init again within {SSO_LISTING_KEPT_SECONDS // 60} min{longer} to go on from there" if kept else f"run init again{longer}"
    import copy

    # The same kind of error (its exit code, any code AWS gave it), saying more.
    said = copy.copy(error)
    said.message = f"{what}; nothing written ({read}); {again}"
    said.args = (said.message,)
    return said


class _Listing:
    """The accounts (None until ListAccounts has given them all) and each read account's permission sets."""

    def __init__(self, session: SsoSession, accounts=None, roles=None):
        self.session = session
        self.accounts: Optional[List[Tuple[str, str]]] = accounts
        self.roles: Dict[str, Tuple[str, ...]] = roles or {}

    @classmethod
    def load(cls, session: SsoSession) -> "_Listing":
        entry = cli_cache.listing_cache().get(cachekeys.sso_listing_key(session))
        try:
            age = time.time() - entry["saved"]
            if not 0 <= age < SSO_LISTING_KEPT_SECONDS:
                return cls(session)
            names = entry["roleNames"]
            accounts = [(str(a), str(n)) for a, n in entry["accounts"]]
            known = {a for a, _ in accounts}
            roles = {str(a): tuple(str(names[i]) for i in indexes) for a, indexes in entry["roles"].items() if a in known}
            return cls(session, accounts, roles)
        except (TypeError, KeyError, ValueError, IndexError):
            return cls(session)

    def keep(self) -> bool:
        """Save what was read for the next run; False when there is nothing to go on from or no place for it."""
        if self.accounts is None:
            return False
        names = sorted({r for roles in self.roles.values() for r in roles})
        index = {name: i for i, name in enumerate(names)}
        entry = {
            "saved": time.time(), "roleNames": names, "accounts": self.accounts,
            "roles": {a: [index[r] for r in roles] for a, roles in self.roles.items()},
        }
        try:
            cli_cache.listing_cache().put(cachekeys.sso_listing_key(self.session), entry)
        except OSError:
            return False
        return True

    def forget(self) -> None:
        try:
            cli_cache.listing_cache().delete(cachekeys.sso_listing_key(self.session))
        except OSError:
            pass

"""The one clock the product reads, and the timestamp formats it speaks.

Tests move time by replacing `now` (in-process) or with libfaketime (in a
subprocess); nothing else in the package calls datetime.now().
"""

import re
from datetime import datetime, timedelta, timezone

_TIMESTAMP = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?"
    r"\s*(Z|UTC|GMT|[+-]\d{2}:?\d{2})\Z",
    re.IGNORECASE,
)


def now() -> datetime:
    return datetime.now(timezone.utc)


def parse_timestamp(text: str) -> datetime:
    """Parse the timestamps found in STS responses and AWS CLI cache files.

    botocore writes `2026-11-29T03:06:21UTC`, STS `...Z`, isoformat
    `+00:00`. A value without a zone is a ValueError (so a cache entry holding
    one is a miss): botocore cannot compare it with its clock either.
    """
    match = _TIMESTAMP.match(text.strip()) if isinstance(text, str) else None
    if not match:
        raise ValueError(f"not a timestamp: {text!r:.60}")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    value = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tzinfo=timezone.utc)
    if zone and zone[0] in "+-":
        digits = zone[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:])
        if hours > 23 or minutes > 59:
            raise ValueError(f"not a timestamp: {text!r:.60}")
        offset = timedelta(hours=hours, minutes=minutes)
        try:
            value -= offset if zone[0] == "+" else -offset
        except OverflowError:  # callers treat a bad timestamp as ValueError only
            raise ValueError(f"out of range: {text!r:.60}")
    return value


def rfc3339(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def minutes_left(expiration: datetime, at: datetime) -> int:
    return max(0, int((expiration - at).total_seconds() // 60))

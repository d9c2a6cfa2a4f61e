"""Timestamps as STS, botocore and the AWS CLI cache write them, and as the shell is given them."""

from datetime import datetime, timedelta, timezone

import pytest
import botocore.credentials
from hypothesis import event, given, settings
from hypothesis import strategies as st

from geodesic_stage.store.cli_cache import credentials_from_entry
from geodesic_stage.clock import minutes_left, parse_timestamp, rfc3339

UTC = timezone.utc
EXPIRES = datetime(2026, 11, 29, 3, 6, 21, tzinfo=UTC)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2026-11-29T03:06:21Z", EXPIRES),  # STS
        ("2026-11-29T03:06:21UTC", EXPIRES),  # botocore's JSONFileCache
        ("2026-11-29T03:06:21+00:00", EXPIRES),  # isoformat
        ("2026-11-29 03:06:21 GMT", EXPIRES),
        ("2026-11-29t03:06:21z", EXPIRES),
        (" 2026-11-29T03:06:21Z\n", EXPIRES),
        ("2026-11-29T03:06:21.5Z", EXPIRES.replace(microsecond=500000)),
        ("2026-11-29T03:06:21.123456789Z", EXPIRES.replace(microsecond=123456)),
        ("2026-11-29T08:36:21+05:30", EXPIRES),
        ("2026-11-29T08:36:21+0530", EXPIRES),
        ("2026-11-28T20:06:21-07:00", EXPIRES),
        ("2026-11-29T03:06:21.250-00:00", EXPIRES.replace(microsecond=250000)),
    ],
)
def test_timestamps_from_sts_botocore_and_the_cli_cache_are_read_as_utc(text, expected):
    parsed = parse_timestamp(text)
    assert parsed == expected
    assert parsed.tzinfo == UTC
    assert botocore_reads(text) == expected


def botocore_reads(text: str) -> datetime:
    """The moment botocore's credential code reads from an Expiration text."""
    return botocore.credentials._parse_if_needed(text)


def botocore_cache_check(expiration: str):
    """What botocore's cached AssumeRole fetcher (the AWS CLI's) does with a cache entry expiring at `expiration`."""

    def no_sts(*args, **kwargs):
        raise AssertionError("a cached entry was to be checked without calling STS")

    entry = {"Credentials": {"AccessKeyId": "AKIA", "SecretAccessKey": "s", "SessionToken": "t", "Expiration": expiration}}
    fetcher = botocore.credentials.AssumeRoleCredentialFetcher(
        no_sts, None, "arn:aws:iam::123456789012:role/r", cache={"key": entry}
    )
    fetcher._cache_key = "key"
    return fetcher.fetch_credentials()


def test_a_zone_less_expiration_is_unusable_to_botocore_so_our_cache_treats_it_as_a_miss():
    """botocore reads it as a naive time and fails comparing it with its aware clock; no zone
    can be guessed that the AWS CLI would agree with, so we read nothing and renew."""
    later = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")
    assert botocore_cache_check(later + "Z")["access_key"] == "AKIA"
    with pytest.raises(TypeError):
        botocore_cache_check(later)
    with pytest.raises(ValueError):
        parse_timestamp(later)
    entry = {"Credentials": {"AccessKeyId": "AKIA", "SecretAccessKey": "s", "SessionToken": "t", "Expiration": later}}
    assert credentials_from_entry(entry) is None


@pytest.mark.parametrize(
    "junk",
    [
        "", "soon", "2026-11-29", "03:06:21Z", "2026-11-29T03:06Z", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z",
        "2026-11-29T24:00:00Z", "2026-11-29T03:60:00Z", "2026-11-29T03:06:21PST", "2026-11-29T03:06:21+25:00",
        "2026-11-29T03:06:21+01:75", "2026-11-29T03:06:21Z trailing", "0000-01-01T00:00:00Z",
        "9999-12-31T23:59:59-01:00", "2026-11-29T03:06:21", "2026-11-29 03:06:21.5", "0001-01-01T00:00:00+01:00", "2026-11-29T03:06:21\0Z", 1764385581, None,
    ],
)
def test_junk_is_a_value_error(junk):
    with pytest.raises(ValueError):
        parse_timestamp(junk)


def test_the_shell_is_given_rfc3339_utc_with_a_z():
    assert rfc3339(EXPIRES) == "2026-11-29T03:06:21Z"
    assert rfc3339(datetime(2026, 11, 29, 8, 36, 21, 999999, tzinfo=timezone(timedelta(hours=5, minutes=30)))) == (
        "2026-11-29T03:06:21Z"
    )


def test_minutes_left_counts_whole_minutes_and_never_goes_negative():
    assert minutes_left(EXPIRES, EXPIRES - timedelta(minutes=59, seconds=59)) == 59
    assert minutes_left(EXPIRES, EXPIRES - timedelta(seconds=59)) == 0
    assert minutes_left(EXPIRES, EXPIRES + timedelta(hours=1)) == 0


ZONES = st.integers(-23 * 60 - 59, 23 * 60 + 59).map(lambda minutes: timezone(timedelta(minutes=minutes)))
MOMENTS = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=ZONES)


@settings(max_examples=300, deadline=None)
@given(moment=MOMENTS)
def test_rfc3339_round_trips_to_the_second(moment):
    text = rfc3339(moment)
    assert text.endswith("Z") and len(text) == 20
    assert parse_timestamp(text) == moment.replace(microsecond=0)


@settings(max_examples=300, deadline=None)
@given(moment=MOMENTS, separator=st.sampled_from(["T", " "]))
def test_isoformat_with_any_offset_reads_back_as_the_same_moment(moment, separator):
    assert parse_timestamp(moment.isoformat(separator)) == moment


@settings(max_examples=300, deadline=None)
@given(moment=MOMENTS)
def test_botocore_cache_format_reads_back(moment):
    assert parse_timestamp(moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S%Z")) == moment.replace(microsecond=0)


TIMESTAMP_SHAPED = st.from_regex(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|UTC|[+-][0-9]{2}:?[0-9]{2})?", fullmatch=True
)


@settings(max_examples=500, deadline=None)
@given(text=st.one_of(TIMESTAMP_SHAPED, st.text(max_size=40)))
def test_any_text_is_a_moment_or_a_value_error(text):
    try:
        parsed = parse_timestamp(text)
    except ValueError:
        event("rejected")
        return
    event("read")
    assert parsed.tzinfo == UTC
    # Whatever we read, botocore reads as the same moment (it is the reference for the cache).
    assert botocore_reads(text) == parsed

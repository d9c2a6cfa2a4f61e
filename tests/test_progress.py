"""The progress line of long work: what it says (sso.listing.Tally) and how it is drawn (progress.StatusLine)."""

import io

from hypothesis import given, strategies as st

from geodesic_stage.progress import StatusLine
from geodesic_stage.sso.listing import Tally


class Terminal(io.StringIO):
    def isatty(self):
        return True

    def fileno(self):
        raise io.UnsupportedOperation("no descriptor: 80 columns")


def test_before_the_accounts_are_all_listed_it_counts_them_without_a_total_or_time_left():
    tally = Tally("AdministratorAccess", started=100.0)
    tally.listed = 340
    for i in range(40):
        tally.answered(101.0 + i / 20, throttles=0)
    assert tally.describe(103.0) == "Identity Center: listing accounts: 340 so far, 13.3 calls/s"


def test_once_the_total_is_known_it_counts_accounts_roles_the_portals_rate_and_time_left():
    tally = Tally("AdministratorAccess", started=0.0)
    tally.total = 1000
    for i in range(100):  # 20 calls a second for the last 5 s, one of them throttled
        tally.answered(10 + i / 20, throttles=int(i == 50))
    for _ in range(50):
        tally.count(("AdministratorAccess", "ReadOnlyAccess"), this_run=True)
    tally.role_calls = 75
    # 950 accounts left at 1.5 calls each, 20 calls a second.
    assert tally.describe(15.0) == ("Identity Center: 50 of 1,000 accounts read, 100 roles found (50 AdministratorAccess), "
                                    "20.0 calls/s (the portal's limit), about 1 min 11 s left")
    # No throttle for 5 s: the rate is what the portal gives, not its limit.
    assert "(the portal's limit)" not in tally.describe(21.0)


def test_accounts_read_by_an_earlier_run_do_not_count_toward_this_runs_pace():
    tally = Tally("AdministratorAccess", started=0.0)
    tally.total = 10
    for _ in range(8):
        tally.count(("AdministratorAccess",), this_run=False)
    assert tally.read == 8 and tally.seconds_left(5.0) is None  # nothing read this run yet: no estimate


@given(st.integers(0, 10**6), st.one_of(st.none(), st.integers(0, 10**6)), st.text(max_size=40))
def test_the_line_is_one_line_whatever_it_counts(listed, total, permission_set):
    tally = Tally(permission_set.replace("\n", " "), started=0.0)
    tally.listed, tally.total = listed, total
    tally.answered(3.0, throttles=1)
    assert "\n" not in tally.describe(4.0)


def test_a_terminal_gets_the_line_redrawn_in_place_cut_to_its_width_and_cleared_at_the_end():
    stream = Terminal()
    with StatusLine(stream) as line:
        line.show("a" * 100)
        line.show("skipped: drawn too soon after the last", now=False)
        line.show("b", now=True)
    assert stream.getvalue() == "\r" + "a" * 79 + "\x1b[K" + "\rb\x1b[K" + "\r\x1b[K"


def test_no_terminal_gets_nothing():
    stream = io.StringIO()
    with StatusLine(stream) as line:
        line.show("progress", now=True)
    assert stream.getvalue() == ""

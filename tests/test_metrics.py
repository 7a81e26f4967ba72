"""chatd.metrics without a clock: the time is given to :class:`RecentRate` explicitly."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from chatd.metrics import RecentRate


def test_a_rate_over_the_last_minute() -> None:
    """Counts of the last ``window`` seconds make the rate; older ones drop out."""
    rate = RecentRate(60)
    rate.add(30, now=1000.2)
    rate.add(30, now=1030.9)
    assert rate.per_second(1031.0) == 1.0
    assert rate.per_second(1059.9) == 1.0
    assert rate.per_second(1060.0) == 0.5  # second 1000 is a minute old
    assert rate.per_second(1200.0) == 0.0


@given(st.lists(st.tuples(st.integers(0, 50), st.floats(0, 10_000)), max_size=200))
def test_memory_stays_bounded_and_the_rate_matches_a_recount(
        events: list[tuple[int, float]]) -> None:
    """Whatever the order of the times added, at most a window of seconds is kept, and the
    rate at the latest time is the recount of what fell within the window up to it (only
    seconds outside every later window are ever dropped)."""
    rate = RecentRate(10)
    for n, when in events:
        rate.add(n, when)
        assert len(rate._counts) <= rate.window
    if events:
        now = max(when for _, when in events)
        expected = sum(n for n, when in events if int(when) > int(now) - 10) / 10
        assert rate.per_second(now) == expected

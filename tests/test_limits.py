"""The rate-limit building blocks, with explicit time."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from chatd.limits import ConnectionCounter, KeyedLimiter, TokenBucket


def test_bucket_allows_a_burst_then_the_rate() -> None:
    """A full bucket gives `burst` tokens at once, then one per 1/rate seconds."""
    bucket = TokenBucket(rate=2.0, burst=3)
    assert [bucket.take(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take(0.0) == 0.5
    assert bucket.take(0.5) == 0.0
    assert bucket.take(0.5) == 0.5


@given(st.lists(st.floats(0, 10), min_size=1, max_size=50), st.floats(0.1, 10),
       st.integers(1, 10))
def test_bucket_never_exceeds_burst_plus_rate_times_time(
    gaps: list[float], rate: float, burst: int,
) -> None:
    """Over any schedule, tokens granted <= burst + rate * elapsed time."""
    bucket = TokenBucket(rate=rate, burst=burst)
    now, granted = 0.0, 0
    for gap in gaps:
        now += gap
        granted += bucket.take(now) == 0.0
    assert granted <= burst + rate * now + 1e-6


def test_keyed_limiter_separates_keys_and_bounds_memory() -> None:
    """Each key has its own bucket; past max_keys the least recently used ones go."""
    limiter = KeyedLimiter(rate=1.0, burst=1, max_keys=2)
    assert limiter.take("a", 0.0) == 0.0
    assert limiter.take("a", 0.0) > 0
    assert limiter.take("b", 0.0) == 0.0
    assert limiter.take("c", 0.0) == 0.0
    assert len(limiter._buckets) == 2


def test_connection_counter_caps_per_address() -> None:
    """acquire refuses past the limit; release frees a place; empty addresses are dropped."""
    counter = ConnectionCounter(limit=2)
    assert counter.acquire("1.2.3.4") and counter.acquire("1.2.3.4")
    assert not counter.acquire("1.2.3.4")
    assert counter.acquire("5.6.7.8")
    counter.release("1.2.3.4")
    assert counter.acquire("1.2.3.4")
    for address in ("1.2.3.4", "1.2.3.4", "5.6.7.8"):
        counter.release(address)
    assert len(counter) == 0

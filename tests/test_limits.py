"""The rate-limit building blocks, with explicit time."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from chatd.limits import ConnectionCounter, KeyedLimiter, TokenBucket, take_all


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


def test_take_all_takes_from_every_bucket_or_from_none() -> None:
    """One bucket short refuses the lot and leaves every bucket as it was; the wait is the
    longest of theirs."""
    connection, user = TokenBucket(rate=1.0, burst=2), TokenBucket(rate=0.5, burst=1)
    assert take_all([connection, user], 0.0) == 0.0
    assert take_all([connection, user], 0.0) == 2.0  # the user's bucket: 2 s to a token
    assert connection.take(0.0) == 0.0  # the refusal took nothing from the connection
    assert take_all([], 0.0) == 0.0
    assert take_all([connection, user], 2.0) == 0.0


@given(st.lists(st.tuples(st.integers(0, 9), st.floats(0, 2)), min_size=1, max_size=200),
       st.floats(0.1, 5), st.integers(1, 20), st.floats(0.1, 5), st.integers(1, 20))
def test_many_connections_get_at_most_the_users_rate_in_total(
    schedule: list[tuple[int, float]], connection_rate: float, connection_burst: int,
    user_rate: float, user_burst: int,
) -> None:
    """Ten connections of one user, each with its own bucket, all sharing the user's: over
    any schedule the user gets at most user_burst + user_rate * elapsed in total, and each
    connection at most its own burst + rate * elapsed (refusals cost no bucket a token)."""
    connections = [TokenBucket(connection_rate, connection_burst) for _ in range(10)]
    user = TokenBucket(user_rate, user_burst)
    now, granted = 0.0, [0] * 10
    for index, gap in schedule:
        now += gap
        granted[index] += take_all([connections[index], user], now) == 0.0
    assert sum(granted) <= user_burst + user_rate * now + 1e-6
    assert all(n <= connection_burst + connection_rate * now + 1e-6 for n in granted)
    # And a user bucket that never runs dry leaves each connection its own full rate.
    roomy = TokenBucket(1e9, 10**9)
    fresh = TokenBucket(connection_rate, connection_burst)
    assert [take_all([fresh, roomy], 0.0) for _ in range(connection_burst)] == [0.0] * (
        connection_burst)


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

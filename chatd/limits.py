"""Rate limits and counters that protect the daemon from abusive clients.

All of them are plain objects owned by one trio thread, so they need no locks; they take the
current time as an argument, which keeps them deterministic under test.
"""

from __future__ import annotations

import collections
import os
import resource
from collections.abc import Sequence

__all__ = [
    "ConnectionCounter",
    "DescriptorBudget",
    "KeyedLimiter",
    "TokenBucket",
    "descriptors_left",
    "take_all",
]


class TokenBucket:
    """``burst`` events at once, refilled at ``rate`` per second."""

    __slots__ = ("_at", "_burst", "_rate", "_tokens")

    def __init__(self, rate: float, burst: float) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self._rate = rate
        self._burst = burst
        self._tokens = burst
        self._at: float | None = None

    def _refill(self, now: float) -> None:
        if self._at is not None:
            self._tokens = min(self._burst, self._tokens + (now - self._at) * self._rate)
        self._at = now

    def wait(self, now: float) -> float:
        """Seconds until a token is there (0.0: there is one), taking nothing."""
        self._refill(now)
        return 0.0 if self._tokens >= 1 else (1 - self._tokens) / self._rate

    def take(self, now: float) -> float:
        """Take a token: 0.0 if one was there, else the seconds until there is one (and
        nothing is taken)."""
        wait = self.wait(now)
        if wait == 0.0:
            self._tokens -= 1
        return wait

    def give_back(self, now: float) -> None:
        """Return a token taken for something that did not happen after all."""
        self._refill(now)
        self._tokens = min(self._burst, self._tokens + 1)

    def full(self, now: float) -> bool:
        self._refill(now)
        return self._tokens >= self._burst


class KeyedLimiter:
    """One token bucket per key (an address, a user name), for at most ``max_keys`` keys:
    past that, the buckets that have refilled completely are forgotten (they hold no state
    worth keeping), so a flood of distinct keys cannot grow memory without bound."""

    def __init__(self, rate: float, burst: float, max_keys: int = 100_000) -> None:
        self._rate = rate
        self._burst = burst
        self._max_keys = max_keys
        self._buckets: collections.OrderedDict[str, TokenBucket] = collections.OrderedDict()

    def _bucket(self, key: str, now: float) -> TokenBucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self._max_keys:
                self._evict(now)
            bucket = self._buckets[key] = TokenBucket(self._rate, self._burst)
        else:
            self._buckets.move_to_end(key)
        return bucket

    def _evict(self, now: float) -> None:
        for key in [k for k, b in self._buckets.items() if b.full(now)]:
            del self._buckets[key]
        while len(self._buckets) >= self._max_keys:
            self._buckets.popitem(last=False)  # the least recently used

    def bucket(self, key: str, now: float) -> TokenBucket:
        """``key``'s bucket (made full when the key is new), to take from together with
        others (:func:`take_all`)."""
        return self._bucket(key, now)

    def wait(self, key: str, now: float) -> float:
        return self._bucket(key, now).wait(now)

    def take(self, key: str, now: float) -> float:
        return self._bucket(key, now).take(now)

    def give_back(self, key: str, now: float) -> None:
        self._bucket(key, now).give_back(now)


def take_all(buckets: Sequence[TokenBucket], now: float) -> float:
    """Take a token from every one of ``buckets``, or from none of them.

    An action limited twice (by its connection's bucket and by its user's) must not spend a
    token of one when the other refuses: a connection refused by its user's bucket keeps its
    own tokens, and the other way round.

    Returns:
        0.0 when each bucket had a token (each gave one); else the seconds until all of them
        have one (the longest of their waits), and nothing is taken.
    """
    wait = max((bucket.wait(now) for bucket in buckets), default=0.0)
    if wait == 0.0:
        for bucket in buckets:
            bucket.take(now)
    return wait


class ConnectionCounter:
    """Open connections per address, with a cap."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: collections.Counter[str] = collections.Counter()

    def acquire(self, address: str) -> bool:
        """Count a new connection from ``address``; False (and not counted) over the cap."""
        if self._open[address] >= self.limit:
            return False
        self._open[address] += 1
        return True

    def release(self, address: str) -> None:
        self._open[address] -= 1
        if self._open[address] <= 0:
            del self._open[address]

    def __len__(self) -> int:
        return len(self._open)


class DescriptorBudget:
    """Connections the daemon may hold open at once, so that it never runs out of file
    descriptors.

    At its descriptor limit a process can no longer accept: a newcomer then waits in the
    listen backlog, unanswered, however briefly the others hold on. So the daemon stops
    *keeping* connections a little before that limit: past ``capacity`` open connections a
    newcomer is still accepted, told the server is busy, and closed at once, using one of the
    descriptors kept in reserve. ``capacity`` None means no limit (RLIM_INFINITY).
    """

    def __init__(self, capacity: int | None) -> None:
        self.capacity = capacity
        self.open = 0
        self.warned_at: float | None = None  # when the daemon last logged that it is full

    def acquire(self) -> bool:
        """Count a new connection; False (and not counted) when the budget is spent."""
        if self.capacity is not None and self.open >= self.capacity:
            return False
        self.open += 1
        return True

    def release(self) -> None:
        self.open -= 1


def descriptors_left() -> int | None:
    """File descriptors this process may still open (RLIMIT_NOFILE's soft limit minus those
    open now), or None if it has no limit."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return None
    for folder in ("/proc/self/fd", "/dev/fd"):
        try:
            in_use = len(os.listdir(folder)) - 1  # listdir's own descriptor is closed again
        except OSError:
            continue
        return max(0, soft - in_use)
    return soft  # nowhere to count them: assume few are open, the reserve covers the rest

"""chatd.metrics without a clock: the time is given to :class:`RecentRate` explicitly."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from chatd.metrics import (
    PER_WORKER_PREFIX,
    WORKER_LABEL,
    Metrics,
    RecentRate,
    merge,
    per_worker_name,
)


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


def _parsed(exposition: bytes) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    from prometheus_client.parser import text_string_to_metric_families

    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(exposition.decode())
            for s in family.samples}


@given(st.lists(st.tuples(st.integers(0, 1000), st.integers(0, 50), st.booleans(),
                          st.sampled_from([0.001, 0.02, 0.3])), min_size=1, max_size=4))
def test_the_workers_figures_add_up(workers: list[tuple[int, int, bool, float]]) -> None:
    """Merged expositions hold every worker's series under a ``worker`` label, renamed
    ``chatd_per_worker_*`` and otherwise unchanged, and the total of each series under the
    single daemon's name and labels: the sum for counters, gauges and histograms, the least
    for ``chatd_database_up``, the most for the search backlog."""
    texts = {}
    for index, (stored, tcp, up, latency) in enumerate(workers):
        metrics = Metrics()
        metrics.messages_stored.inc(stored)
        metrics.connections.labels(transport="tcp").set(tcp)
        metrics.database_up.set(float(up))
        metrics.search_backlog.set(stored)
        metrics.send_latency.observe(latency)
        texts[str(index)] = metrics.render().decode()
    merged = _parsed(merge(texts, once=""))

    def total(name: str, **labels: str) -> float:
        return merged[(name, frozenset(labels.items()))]

    for worker, text in texts.items():
        for (name, labels), value in _parsed(text.encode()).items():
            assert merged[(per_worker_name(name), labels | {(WORKER_LABEL, worker)})] == value
    # One name, one meaning: a bare sum() over any name counts each event once.
    for name, labels in merged:
        assert (WORKER_LABEL in dict(labels)) == name.startswith(PER_WORKER_PREFIX), name
    assert total("chatd_messages_stored_total") == sum(w[0] for w in workers)
    assert total("chatd_connections", transport="tcp") == sum(w[1] for w in workers)
    assert total("chatd_database_up") == min(float(w[2]) for w in workers)
    assert total("chatd_search_backlog") == max(w[0] for w in workers)
    assert total("chatd_send_ack_seconds_count") == len(workers)
    assert total("chatd_send_ack_seconds_bucket", le="0.025") == sum(
        1 for w in workers if w[3] <= 0.025)
    assert total("chatd_workers_scraped") == len(workers)


def test_the_parents_figures_come_once() -> None:
    """What the parent exposes (the embedded PostgreSQL) is copied without a worker label."""
    once = ("# HELP chatd_embedded_postgres_restarts Restarts.\n"
            "# TYPE chatd_embedded_postgres_restarts gauge\n"
            "chatd_embedded_postgres_restarts 2.0\n")
    merged = _parsed(merge({"0": Metrics().render().decode()}, once))
    assert merged[("chatd_embedded_postgres_restarts", frozenset())] == 2.0
    assert not any(name == "chatd_embedded_postgres_restarts" and labels
                   for name, labels in merged)

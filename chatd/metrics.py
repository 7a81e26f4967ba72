"""Prometheus metrics, in one registry of chatd's own (not the process-global default, so
that several daemons in one test process do not collide)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from chatd.storage import StorageStatistics

__all__ = ["Metrics"]


class Metrics:
    """The daemon's metrics. One instance per running daemon."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.connections = Gauge(
            "chatd_connections", "Open protocol connections.", ["transport"],
            registry=self.registry,
        )
        self.logins = Counter(
            "chatd_logins", "Log-in attempts over HTTP.", ["result"], registry=self.registry
        )
        self.messages_stored = Counter(
            "chatd_messages_stored", "Messages committed to the database.",
            registry=self.registry,
        )
        self.messages_delivered = Counter(
            "chatd_messages_delivered", "Message events queued to connections.",
            registry=self.registry,
        )
        self.send_latency = Histogram(
            "chatd_send_ack_seconds", "Time from a send request to its acknowledgement.",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "chatd_commit_batch_size", "Messages per group commit.",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
            registry=self.registry,
        )
        self.slow_consumers = Counter(
            "chatd_slow_consumer_disconnects", "Connections closed because they did not read.",
            registry=self.registry,
        )
        self.http_requests = Counter(
            "chatd_http_requests", "HTTP requests answered.", ["status"],
            registry=self.registry,
        )
        self.outbox_drops = Counter(
            "chatd_outbox_drops", "Frames not queued because a connection's outbox was full.",
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "chatd_rate_limited", "Requests refused by a rate limit.", ["limit"],
            registry=self.registry,
        )
        self.db_pool_size = Gauge(
            "chatd_db_pool_connections", "Connections in the database pool.",
            registry=self.registry,
        )
        self.db_pool_in_use = Gauge(
            "chatd_db_pool_in_use", "Pool connections running a query.", registry=self.registry,
        )
        self.embedded_up = Gauge(
            "chatd_embedded_postgres_up",
            "1 while the embedded PostgreSQL runs, 0 when it is down, absent with a DSN.",
            registry=self.registry,
        )

    def watch_storage(self, statistics: Callable[[], StorageStatistics]) -> None:
        """Read the storage gauges from ``statistics`` at each scrape."""
        self.db_pool_size.set_function(lambda: statistics().pool_size)
        self.db_pool_in_use.set_function(lambda: statistics().pool_in_use)
        if statistics().embedded:
            self.embedded_up.set_function(lambda: float(statistics().embedded_up))
        else:
            self.registry.unregister(self.embedded_up)

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric. It reads files (the embedded
        server's pid file), so call it in a worker thread."""
        return generate_latest(self.registry)

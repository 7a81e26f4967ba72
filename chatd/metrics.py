"""Prometheus metrics, in one registry of chatd's own (not the process-global default, so
that several daemons in one test process do not collide)."""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from typing import Any

import trio
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from chatd.storage import StorageStatistics

__all__ = [
    "PER_WORKER_PREFIX", "PREVIEW_FAILURES", "TOTAL_BY", "UPLOAD_RESULTS", "WORKER_LABEL",
    "Metrics", "RecentRate",
    "merge", "per_worker_name",
]

#: The values of ``chatd_file_uploads_total``'s ``result`` label.
UPLOAD_RESULTS = ("stored", "too_large", "bad_request", "refused", "failed")


class RecentRate:
    """How many things happened per second over the last ``window`` seconds: one count per
    whole second, the oldest dropped as time moves on (bounded memory: ``window`` slots).
    Given the time explicitly (tests drive it without a clock); not thread-safe, used from
    the trio thread only."""

    def __init__(self, window: int = 60) -> None:
        self.window = window
        self._counts: dict[int, int] = {}
        self._latest = 0  # the latest second seen: nothing a window before it is kept

    def add(self, n: int, now: float) -> None:
        second = int(now)
        self._latest = max(self._latest, second)
        if second <= self._latest - self.window:
            return  # out of every window still to be asked about
        self._counts[second] = self._counts.get(second, 0) + n
        if len(self._counts) > self.window:
            self._forget()

    def per_second(self, now: float) -> float:
        """The mean rate over the ``window`` seconds up to ``now``."""
        self._latest = max(self._latest, int(now))
        self._forget()
        return sum(self._counts.values()) / self.window

    def _forget(self) -> None:
        for old in [s for s in self._counts if s <= self._latest - self.window]:
            del self._counts[old]


#: Why a page gave no preview (``chatd_preview_failed_total``'s reasons).
PREVIEW_FAILURES = ("refused", "timeout", "unavailable", "status", "not_html", "too_large",
                    "redirects", "no_title", "internal")


class Metrics:
    """The daemon's metrics. One instance per running daemon."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        #: Under ``chatd serve --workers``: what :meth:`scrape` answers instead of this
        #: process's own figures (every worker's, and their totals; see chatd.workers).
        self.gather: Callable[[], Awaitable[bytes]] | None = None
        #: Messages this node committed, for the admin API's figure of the last minute.
        self.recent_messages = RecentRate(60)
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
        self.messages_in_doubt = Counter(
            "chatd_messages_in_doubt", "Messages whose commit's reply was lost with the "
            "database connection (their senders were told to resend), by how they were "
            "settled: stored (the commit had stored them: published and pushed then), "
            "not_stored (their resends store them), unsettled (given up: the database did "
            "not answer for 5 minutes, or too many were in doubt at once; logged).",
            ["outcome"], registry=self.registry,
        )
        for outcome in ("stored", "not_stored", "unsettled"):
            self.messages_in_doubt.labels(outcome=outcome)
        self.changes_stored = Counter(
            "chatd_changes_stored", "Changes to messages and rooms (edits, deletions, "
            "reactions, topics) committed to the database.", registry=self.registry,
        )
        self.messages_delivered = Counter(
            "chatd_messages_delivered", "Message events queued to connections.",
            registry=self.registry,
        )
        self.relayed_entries = Counter(
            "chatd_relayed_entries", "Entries of other nodes' commits published here, by "
            "where they came from: carried by the commit's notice, or read back from the "
            "database.", ["source"], registry=self.registry,
        )
        self.gap_repairs = Counter(
            "chatd_gap_repairs", "Gaps in a room's log that a connection filled (entries "
            "that reached it out of order, from several nodes), by where the missing entries "
            "came from: published here meanwhile, or read from the database.", ["source"],
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
        self.commit_seconds = Histogram(
            "chatd_commit_seconds", "Time to store one group commit (the database's share of "
            "a send's latency).",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
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
        self.embedded_restarts = Gauge(
            "chatd_embedded_postgres_restarts",
            "Times the daemon started its embedded PostgreSQL again after it died; absent "
            "with a DSN.",
            registry=self.registry,
        )
        self.database_up = Gauge(
            "chatd_database_up",
            "1 when the database answered the daemon's last probe (one a second), else 0.",
            registry=self.registry,
        )

        self.file_uploads = Counter(
            "chatd_file_uploads", "File uploads answered, by result: stored, too_large (over "
            "files.max_bytes or the quota), bad_request (not one complete part named 'file'), "
            "refused (no token, not a member, no such room), failed (the store or the "
            "database failed, the client went silent or away).", ["result"],
            registry=self.registry,
        )
        for result in UPLOAD_RESULTS:
            self.file_uploads.labels(result=result)
        self.file_upload_bytes = Counter(
            "chatd_file_upload_bytes", "Bytes of the files uploaded and stored (identical "
            "files are stored once, but counted each time).", registry=self.registry,
        )
        self.file_downloads = Counter(
            "chatd_file_downloads", "Files, or ranges of them, sent: 200 and 206 answers to "
            "a GET of a file.", registry=self.registry,
        )
        self.file_download_bytes = Counter(
            "chatd_file_download_bytes", "Bytes of files sent.", registry=self.registry,
        )
        self.files_collected = Counter(
            "chatd_files_collected", "Stored files removed because the messages that held "
            "them were deleted.", registry=self.registry,
        )
        self.file_bytes_collected = Counter(
            "chatd_file_collected_bytes", "Bytes of the stored files removed because the "
            "messages that held them were deleted.", registry=self.registry,
        )

        self.push_queued = Counter(
            "chatd_push_queued", "Web Pushes queued to be sent (one per subscription).",
            registry=self.registry,
        )
        self.push_sent = Counter(
            "chatd_push_sent", "Web Pushes a push service took (2xx).", registry=self.registry,
        )
        self.push_retries = Counter(
            "chatd_push_retries", "Web Pushes tried again after a 429, a 5xx, a timeout or a "
            "network error.", registry=self.registry,
        )
        self.push_failed = Counter(
            "chatd_push_failed", "Web Pushes given up, by reason: unavailable (still 429, 5xx "
            "or unreachable after the last attempt), rejected (another answer: the VAPID "
            "signature, a payload refused), refused (the endpoint's address is not public), "
            "internal.", ["reason"], registry=self.registry,
        )
        for reason in ("unavailable", "rejected", "refused", "internal"):
            self.push_failed.labels(reason=reason)
        self.push_dropped = Counter(
            "chatd_push_dropped", "Web Pushes not sent because a queue was full (or the "
            "database did not answer the lookup), by stage: lookup (messages), send (pushes).",
            ["stage"], registry=self.registry,
        )
        for stage in ("lookup", "send"):
            self.push_dropped.labels(stage=stage)
        self.push_subscriptions_removed = Counter(
            "chatd_push_subscriptions_removed", "Push subscriptions removed because their "
            "push service answered 404 or 410 (the browser unsubscribed, or was reset).",
            registry=self.registry,
        )

        self.email_sent = Counter(
            "chatd_email_sent", "Mails the SMTP server took: missed messages, confirmation "
            "and password reset links, tests.", registry=self.registry,
        )
        self.email_failed = Counter(
            "chatd_email_failed", "Attempts to send a mail that failed, by reason: "
            "unavailable (no answer, a timeout, a dropped connection), tls, auth (the log-in "
            "refused), refused (the sender, a recipient or the mail refused), dropped (the "
            "queue of mails to send was full), internal. A missed-message email that failed "
            "is tried again later, and counted again.", ["reason"], registry=self.registry,
        )
        for reason in ("unavailable", "tls", "auth", "refused", "dropped", "internal"):
            self.email_failed.labels(reason=reason)
        self.email_queued = Counter(
            "chatd_email_queued", "Missed messages queued for an email (a direct message or "
            "a mention to someone offline with email notifications on).",
            registry=self.registry,
        )
        self.email_retries = Counter(
            "chatd_email_retries", "Missed-message emails put back to be tried again "
            "later after a failed send (the messages stay queued).", registry=self.registry,
        )
        self.email_dropped = Counter(
            "chatd_email_dropped", "Missed messages not queued for an email because a queue "
            "was full or the database did not answer, by stage: lookup, send.", ["stage"],
            registry=self.registry,
        )
        for stage in ("lookup", "send"):
            self.email_dropped.labels(stage=stage)

        self.webhook_queued = Counter(
            "chatd_webhook_queued", "Outgoing webhook deliveries queued (one per new message "
            "of a room with a webhook).", registry=self.registry,
        )
        self.webhook_sent = Counter(
            "chatd_webhook_sent", "Outgoing webhook deliveries the receiver took (2xx).",
            registry=self.registry,
        )
        self.webhook_retries = Counter(
            "chatd_webhook_retries", "Outgoing webhook deliveries tried again after a 429, a "
            "5xx, a timeout or a network error.", registry=self.registry,
        )
        self.webhook_failed = Counter(
            "chatd_webhook_failed", "Outgoing webhook deliveries given up, by reason: "
            "unavailable (still 429, 5xx or unreachable after the last attempt), rejected "
            "(another answer), refused (the URL's address is not public), internal.",
            ["reason"], registry=self.registry,
        )
        for reason in ("unavailable", "rejected", "refused", "internal"):
            self.webhook_failed.labels(reason=reason)
        self.webhook_dropped = Counter(
            "chatd_webhook_dropped", "Outgoing webhook deliveries not sent because a queue "
            "was full (or the database did not answer the lookup), by stage: lookup "
            "(messages), send (deliveries).", ["stage"], registry=self.registry,
        )
        for stage in ("lookup", "send"):
            self.webhook_dropped.labels(stage=stage)
        self.preview_queued = Counter(
            "chatd_preview_queued", "Links queued for a preview (the first link of a new or "
            "edited message; an edit without one, to remove its preview).",
            registry=self.registry,
        )
        self.preview_fetched = Counter(
            "chatd_preview_fetched", "Pages fetched that gave a preview (from the page, not "
            "from the cache).", registry=self.registry,
        )
        self.preview_cached = Counter(
            "chatd_preview_cached", "Previews taken from the cache (the same link within an "
            "hour), without fetching.", registry=self.registry,
        )
        self.preview_failed = Counter(
            "chatd_preview_failed", "Pages that gave no preview, by reason: refused (not "
            "http(s), or an address that is not public), timeout, unavailable (a network "
            "error), status (not 200), not_html, too_large (no title within max_html_bytes), "
            "redirects (more than 3), no_title, internal.", ["reason"], registry=self.registry,
        )
        for reason in PREVIEW_FAILURES:
            self.preview_failed.labels(reason=reason)
        self.preview_dropped = Counter(
            "chatd_preview_dropped", "Links not previewed because a queue was full, by stage: "
            "lookup (messages), send (links to fetch).", ["stage"], registry=self.registry,
        )
        for stage in ("lookup", "send"):
            self.preview_dropped.labels(stage=stage)
        self.search_indexed = Counter(
            "chatd_search_indexed", "Messages indexed for search (new ones, and edited ones "
            "again), by this node's indexer.", registry=self.registry,
        )
        self.search_backlog = Gauge(
            "chatd_search_backlog", "Messages waiting to be indexed for search (not found by "
            "their words yet), as the indexer's last sweep counted them (up to 1,000,000; 0 "
            "when it caught up).", registry=self.registry,
        )
        self.search_index_failures = Counter(
            "chatd_search_index_failures", "Rounds of the search indexer that failed (the "
            "database did not answer); each is logged and tried again.",
            registry=self.registry,
        )

        self._gc = _GcTimes()
        self.registry.register(self._gc)

    @contextlib.contextmanager
    def watching_gc(self) -> Iterator[None]:
        """Time the garbage collector's runs while the block runs: every one stops the event
        loop, and a full collection over many connections is a latency spike."""
        gc.callbacks.append(self._gc.callback)
        try:
            yield
        finally:
            gc.callbacks.remove(self._gc.callback)

    def watch_storage(self, statistics: Callable[[], StorageStatistics]) -> None:
        """Read the storage gauges from ``statistics`` at each scrape."""
        self.db_pool_size.set_function(lambda: statistics().pool_size)
        self.db_pool_in_use.set_function(lambda: statistics().pool_in_use)
        self.database_up.set_function(lambda: float(statistics().database_up))
        if statistics().embedded:
            self.embedded_up.set_function(lambda: float(statistics().embedded_up))
            self.embedded_restarts.set_function(lambda: statistics().embedded_restarts)
        else:
            self.registry.unregister(self.embedded_up)
            self.registry.unregister(self.embedded_restarts)

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric. It reads files (the embedded
        server's pid file), so call it in a worker thread."""
        return generate_latest(self.registry)

    async def scrape(self) -> bytes:
        """What ``GET /metrics`` answers: this process's figures, or, in a worker of
        ``chatd serve --workers``, every worker's and their totals."""
        if self.gather is not None:
            return await self.gather()
        return await trio.to_thread.run_sync(self.render)


#: The label that tells the workers' series apart under ``chatd serve --workers``.
WORKER_LABEL = "worker"
#: What a worker's own figures are renamed with in a merge: ``chatd_x`` as
#: ``chatd_per_worker_x{worker="0"}``. Under names of their own, so that a bare ``sum()`` of
#: either name counts each event once (the totals keep the single daemon's names).
PER_WORKER_PREFIX = "chatd_per_worker_"

#: How the workers' figures of a series make its total, where it is not their sum.
TOTAL_BY: dict[str, Callable[[Iterable[float]], float]] = {
    "chatd_database_up": min,  # 1 only when every worker reaches the database
    "chatd_search_backlog": max,  # each worker's indexer counts the same backlog
    "chatd_gc_longest_pause_seconds": max,
}


def merge(workers: Mapping[str, str], once: str = "") -> bytes:
    """One exposition from the workers' (text format, by worker name) and the parent's.

    Each series of a worker appears twice: as the total over the workers (the series a
    single daemon exposes, under the same names and labels: the sum, or what
    :data:`TOTAL_BY` says; the earliest of the ``*_created`` times), and renamed
    (:func:`per_worker_name`) with a ``worker`` label: that worker's figure. ``once`` holds
    what exists once per server (the parent's figures: the embedded PostgreSQL, restarts of
    workers), copied as it is, in place of any series of the same name from a worker.
    Parses and formats text: call it in a worker thread."""
    parents = list(text_string_to_metric_families(once)) if once else []
    taken = {family.name for family in parents}  # the parent's, never the workers' too
    families: dict[str, Metric] = {}
    totals: dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], list[float]]] = {}
    per_worker: dict[str, Metric] = {}
    for worker, text in workers.items():
        for family in text_string_to_metric_families(text):
            if family.name in taken:
                continue
            if family.name not in families:
                families[family.name] = Metric(family.name, family.documentation, family.type)
                totals[family.name] = {}
                per_worker[family.name] = Metric(
                    per_worker_name(family.name), f"{family.documentation} (each worker's)",
                    family.type)
            for sample in family.samples:
                key = (sample.name, tuple(sorted(sample.labels.items())))
                totals[family.name].setdefault(key, []).append(sample.value)
                per_worker[family.name].add_sample(
                    per_worker_name(sample.name), {**sample.labels, WORKER_LABEL: worker},
                    sample.value)
    for name, metric in families.items():
        total = min if name.endswith("_created") else TOTAL_BY.get(name, sum)
        for (sample_name, labels), values in totals[name].items():
            metric.add_sample(sample_name, dict(labels), float(total(values)))
    scraped = Metric("chatd_workers_scraped", "Workers whose figures this scrape holds (one "
                     "that is restarting, or did not answer in time, is missing).", "gauge")
    scraped.add_sample("chatd_workers_scraped", {}, float(len(workers)))
    merged = [*families.values(), *per_worker.values(), scraped, *parents]
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Fixed(merged))
    return generate_latest(registry)


def per_worker_name(name: str) -> str:
    """The name a worker's own series of ``name`` has in a merge: ``chatd_x`` becomes
    ``chatd_per_worker_x`` (and ``process_x``, ``chatd_per_worker_process_x``)."""
    return PER_WORKER_PREFIX + name.removeprefix("chatd_")


class _Fixed:
    """A collector of metrics already gathered."""

    def __init__(self, metrics: list[Metric]) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        yield from self._metrics


class _GcTimes:
    """Collections and their time per generation, kept in plain numbers. The callback runs
    inside the collector, which may interrupt any code, including prometheus_client's own
    (lock-holding) updates, so it must not call into it; the numbers are read at scrape time."""

    def __init__(self) -> None:
        self.count = [0, 0, 0]
        self.seconds = [0.0, 0.0, 0.0]
        self.longest = 0.0
        self._started = 0.0

    def callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        took = time.perf_counter() - self._started
        generation = info["generation"]
        self.count[generation] += 1
        self.seconds[generation] += took
        self.longest = max(self.longest, took)

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[Any]:
        runs = CounterMetricFamily("chatd_gc_collections", "Garbage collector runs.",
                                   labels=["generation"])
        seconds = CounterMetricFamily("chatd_gc_seconds", "Time the event loop stood still "
                                      "for the garbage collector.", labels=["generation"])
        for generation in range(3):
            runs.add_metric([str(generation)], self.count[generation])
            seconds.add_metric([str(generation)], self.seconds[generation])
        yield runs
        yield seconds
        yield GaugeMetricFamily("chatd_gc_longest_pause_seconds",
                                "The longest garbage collection so far.", value=self.longest)

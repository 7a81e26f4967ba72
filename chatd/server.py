"""The daemon: ``serve(config)`` runs everything until asked to stop, then drains.

Theory of operation. The nurseries nest so that whatever others depend on lives longest::

    storage (embedded PostgreSQL, pool)          closed last
      actors: room registry, presence, committer  outlive every connection
        connections: one nursery each             drained with a grace period
          listeners: TCP and HTTP                 closed first

Stopping (:meth:`Server.shutdown`, which the CLI calls on SIGTERM/SIGINT) closes the listeners,
tells every protocol connection to drain (stop reading, have its sends in flight committed and
acknowledged, say ``shutting_down``, close), waits up to ``server.grace_period`` for them, then
cancels what is left (idle HTTP keep-alives) and lets the actors and storage close.
"""

from __future__ import annotations

import dataclasses
import functools
import gc
import logging
from collections.abc import Callable, Mapping, Sequence
from functools import partial

import trio
import trio_websocket

from chatd import listen, systemd
from chatd.actions import App
from chatd.actions.scheduled import Scheduler
from chatd.actions.threads import StateTeller
from chatd.auth import Auth, load_or_create_secret
from chatd.cluster import Nodes, Relay
from chatd.committer import Committer
from chatd.config import Config
from chatd.connection import Connection, refuse
from chatd.drafts import DraftSweeper
from chatd.emails import UNSUBSCRIBE_LABEL, EmailNotifier, MissedMail
from chatd.errors import ChatError
from chatd.export import Exporter
from chatd.files import FileStore, collect_forever
from chatd.http import serve_http_connection
from chatd.http.server import REFUSAL_LINGER, refuse_http_connection
from chatd.indexer import Indexer
from chatd.limits import ConnectionCounter, DescriptorBudget, descriptors_left
from chatd.mail import Mailer
from chatd.metrics import Metrics
from chatd.presence import PresenceTracker
from chatd.previews import Previewer
from chatd.protocol import codes
from chatd.pusher import Pusher
from chatd.reminders import DueLoop, Reminders
from chatd.rooms import RoomRegistry
from chatd.storage import Message, RevocationNotice, Storage, open_storage
from chatd.transport import TcpTransport, WebSocketTransport
from chatd.webhooks import WebhookSender
from chatd.webpush import load_or_create_vapid_key
from chatd.workers import WorkerLink, serve_exposition

__all__ = ["Server", "run_actors", "serve", "tune_gc"]

log = logging.getLogger(__name__)


@dataclasses.dataclass(slots=True)
class Server:
    """A running daemon, as handed to ``task_status.started``."""

    config: Config
    app: App
    http_port: int
    tcp_port: int
    listeners_scope: trio.CancelScope
    _stop: trio.Event = dataclasses.field(default_factory=trio.Event)

    def shutdown(self) -> None:
        """Ask the daemon to drain and stop; ``serve`` returns once it has."""
        self._stop.set()


def _remote(stream: trio.SocketStream) -> str:
    try:
        host, port = stream.socket.getpeername()[:2]
        return f"{host}:{port}"
    except OSError:
        return "?"


GC_THRESHOLDS = (50_000, 20, 100)


def tune_gc() -> None:
    """Set the daemon process's garbage collector up for many long-lived connections.

    With CPython's default thresholds (700, 10, 10) a busy daemon promotes objects that are
    merely in flight (a send, its job, its deliveries) into the oldest generation so often that
    full collections run every few seconds, each walking every connection's objects: with
    10,000 connections the benchmarks measured pauses of over a second and a third of the time
    in the collector. Collecting the young generations 70 times less often promotes far less;
    what is loaded at start (modules, configuration) is frozen out of every collection."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


async def serve(config: Config, *, inherited: Mapping[str, list[int]] | None = None,
                worker: WorkerLink | None = None,
                task_status: trio.TaskStatus[Server] = trio.TASK_STATUS_IGNORED) -> None:
    """Run the daemon until :meth:`Server.shutdown`, then drain and return.

    ``task_status.started`` receives the :class:`Server` once both ports listen, so that
    ``await nursery.start(serve, config)`` works with port 0. ``inherited``: listening
    sockets bound by a parent (``chatd serve --workers``), by section (``"http"``,
    ``"tcp"``), used instead of binding ``[http]`` and ``[tcp]``. ``worker``: this process
    is a worker of ``chatd serve --workers`` (its metrics are gathered with the others').
    """
    metrics = Metrics()
    with metrics.watching_gc():
        await _serve(config, metrics, task_status, inherited or {}, worker)


async def _serve(config: Config, metrics: Metrics, task_status: trio.TaskStatus[Server],
                 inherited: Mapping[str, list[int]], worker: WorkerLink | None) -> None:
    async with open_storage(config) as storage:
        metrics.watch_storage(storage.statistics)
        secret = await trio.to_thread.run_sync(load_or_create_secret, config.data_dir)
        auth = Auth(storage, config, secret, metrics)
        async with trio.open_nursery() as actors:
            app = await run_actors(actors, config, storage, auth, metrics)
            await _open_files(app.files)
            await actors.start(partial(systemd.watchdog, failing=storage.database_lost))
            actors.start_soon(partial(collect_forever, storage, app.files, metrics=metrics,
                                      unattached_seconds=config.files.unattached_seconds))
            if worker is not None:
                await actors.start(serve_exposition, worker.socket_path(worker.index),
                                   metrics.render)
                metrics.gather = worker.gatherer(metrics.render)
            async with trio.open_nursery() as connections:
                server = await _listen(app, connections, task_status, inherited)
                systemd.notify(f"READY=1\nSTATUS=serving http port {server.http_port}, "
                               f"tcp port {server.tcp_port}")
                await server._stop.wait()
                systemd.notify("STOPPING=1\nSTATUS=draining")
                await _drain(server, connections)
            actors.cancel_scope.cancel()
    log.info("stopped")


async def _open_files(store: FileStore) -> None:
    """Check that the file store can be used (a bucket that does not answer stops the start,
    in one line) and clean up after uploads and collections a dead process left."""
    await store.run(store.check)
    swept = await store.run(store.sweep)
    if swept:
        log.info("removed %d unfinished uploads from %s", swept, store.tmp_dir)


async def run_actors(nursery: trio.Nursery, config: Config, storage: Storage, auth: Auth,
                     metrics: Metrics) -> App:
    """Start the actors (room registry, presence, this node's heartbeat and presence
    publisher, group committer, the pusher, the webhook sender, the link previewer, the search
    indexer, the relay from other nodes) in ``nursery`` and return the
    :class:`App` that connections and routes share. The VAPID key is read (made at first start) from
    ``data_dir``."""
    registry = RoomRegistry(on_delivered=metrics.messages_delivered.inc,
                            on_dropped=metrics.outbox_drops.inc)
    presence = PresenceTracker(registry, audience=storage.presence_audience,
                               on_publish=lambda effect: nodes.publish(effect))
    nodes = Nodes(storage, presence, config.cluster,
                  on_others=lambda count: registry.recent.share(count > 0))
    key = await trio.to_thread.run_sync(load_or_create_vapid_key, config.data_dir)
    pusher = Pusher(storage, registry, metrics, key, config.push,
                    presence=presence.state)
    webhooks = WebhookSender(storage, metrics, config.webhooks)
    reminders = Reminders(storage, registry, pusher, lease=config.cluster.claim_lease)
    # Email, when an SMTP server is set: missed messages queued off the send path (emails),
    # mailed by the due loop (missed), and the mails requests ask for (mailer).
    mailer: Mailer | None = None
    emails: EmailNotifier | None = None
    missed: MissedMail | None = None
    if config.email.enabled:
        mailer = Mailer(config.email, metrics)
        emails = EmailNotifier(storage, metrics, config.email,
                               presence=presence.state,
                               on_queued=lambda at: due.soon(at))
        missed = MissedMail(storage, mailer, lease=config.cluster.claim_lease,
                            key=auth.derive_key(UNSUBSCRIBE_LABEL),
                            base_url=config.server.public_url, server=config.server.name)
    indexer = Indexer(storage, metrics, busy=lambda: committer.busy_for())
    drafts = DraftSweeper(storage, lambda user, data: app.tell(user, data,
                                                               "a draft cleared by a send"))
    # None of them waits: each queues the batch with send_nowait (or drops and counts it).
    committer = Committer(storage, registry, metrics, max_batch=config.database.max_batch,
                          max_flights=config.database.commits_in_flight,
                          on_committed=_each(pusher.offer, webhooks.offer, indexer.offer,
                                             lambda entries: previewer.offer(entries),
                                             drafts.offer,
                                             *([emails.offer] if emails else [])),
                          on_followed=lambda states: teller.offer(states))
    app = App(config, storage, auth, metrics, registry, presence, committer,
              per_ip=ConnectionCounter(config.limits.connections_per_ip), pusher=pusher,
              nodes=nodes, webhooks=webhooks,
              reminders=reminders, mailer=mailer, emails=emails, missed=missed,
              email_key=auth.derive_key(UNSUBSCRIBE_LABEL), drafts=drafts)
    app.scheduler = Scheduler(app, lease=config.cluster.claim_lease)
    app.due = due = DueLoop((reminders, app.scheduler, *([missed] if missed else [])),
                            check=config.cluster.reminder_check)
    previewer = Previewer(app.files, metrics, config.previews, config.files, committer.commit)
    teller = StateTeller(app)
    await nursery.start(registry.run)
    await nursery.start(presence.run)
    await nursery.start(nodes.run)
    await nursery.start(pusher.run)
    await nursery.start(webhooks.run)
    if mailer is not None and emails is not None:
        await nursery.start(mailer.run)
        await nursery.start(emails.run)
    if config.previews.enabled:
        await nursery.start(previewer.run)
    await nursery.start(indexer.run)
    await nursery.start(drafts.run)
    await nursery.start(teller.run)
    app.exporter = Exporter(storage, app.files, config)
    await nursery.start(app.exporter.run)
    await nursery.start(committer.run)
    relayed = {source: metrics.relayed_entries.labels(source) for source in ("notice", "read")}
    relay = Relay(storage, registry, on_revoked=functools.partial(_end_revoked, app),
                  on_everyone=app.group_names.heard,
                  on_user_event=drafts.index.heard,
                  presence=presence,
                  on_relayed=lambda source, count: relayed[source].inc(count),
                  on_targets={"push_subscriptions": pusher.touched,
                              "room_webhooks": webhooks.touched,
                              # (no notice names it: called when the listener is back)
                              "drafts": drafts.index.forget_all,
                              **({"email": emails.touched} if emails else {})})
    await nursery.start(relay.run)
    # After the relay listens: a reminder another node claims from now on is heard here.
    await nursery.start(due.run)
    # Registered (nodes.run) and listening: once the transactions in flight now have ended,
    # every commit anywhere either is in what this node reads, or tells it (migration 0022:
    # a node alone until now sends no commit notice).
    await storage.wait_for_writers()
    return app


def _each(*hooks: Callable[[Sequence[Message]], None]
          ) -> Callable[[Sequence[Message]], None]:
    """One committer hook that calls each of ``hooks`` (each must not block), a failure of
    one never keeping the others from their turn."""
    def call(messages: Sequence[Message]) -> None:
        for hook in hooks:
            try:
                hook(messages)
            except Exception:
                log.exception("handing committed messages to %r failed", hook)
    return call


async def _listen(app: App, connections: trio.Nursery,
                  task_status: trio.TaskStatus[Server],
                  inherited: Mapping[str, list[int]]) -> Server:
    config = app.config

    async def on_websocket(ws: trio_websocket.WebSocketConnection, remote: str) -> None:
        await Connection(app, WebSocketTransport(ws, remote)).run()

    # Behind a trusted proxy every HTTP connection comes from the proxy: the proxy caps them.
    http_per_ip = (None if config.http.trust_forwarded_for
                   else ConnectionCounter(config.http.connections_per_ip))

    async def on_tcp(stream: trio.SocketStream) -> None:
        if not budget.acquire():
            await _refuse_tcp(stream, budget)
            return
        try:
            await Connection(app, TcpTransport(stream, _remote(stream))).run()
        finally:
            budget.release()

    async def on_http(stream: trio.SocketStream) -> None:
        if not budget.acquire():
            _log_full(budget)
            await refuse_http_connection(stream, app, ChatError(codes.UNAVAILABLE, BUSY))
            return
        try:
            await serve_http_connection(stream, app, on_websocket, _remote(stream),
                                        per_ip=http_per_ip)
        finally:
            budget.release()

    if inherited:
        tcp_listeners = listen.inherited_listeners(inherited["tcp"])
        http_listeners = listen.inherited_listeners(inherited["http"])
    else:
        tcp_listeners = await listen.open_listeners(config, "tcp")
        http_listeners = await listen.open_listeners(config, "http")
    budget = _descriptor_budget(config)  # what is left once the listeners are open
    listeners_scope = trio.CancelScope()

    async def accept() -> None:
        with listeners_scope:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(partial(trio.serve_listeners, on_tcp, tcp_listeners,
                                           handler_nursery=connections))
                nursery.start_soon(partial(trio.serve_listeners, on_http, http_listeners,
                                           handler_nursery=connections))

    connections.start_soon(accept)
    tcp_port = tcp_listeners[0].socket.getsockname()[1]
    http_port = http_listeners[0].socket.getsockname()[1]
    if app.missed is not None and not config.server.public_url:
        app.missed.base_url = f"http://{_url_host(config.http.host)}:{http_port}"
        log.warning("[server] public_url is not set: the links of missed-message emails "
                    "go to %s", app.missed.base_url)
    server = Server(config, app, http_port=http_port, tcp_port=tcp_port,
                    listeners_scope=listeners_scope)
    log.info("listening: http://%s:%d (web, /api, /ws), tcp %s:%d (protocol)",
             config.http.host, http_port, config.tcp.host, tcp_port)
    task_status.started(server)
    return server


def _url_host(host: str) -> str:
    """A listening host as a URL's host (an IPv6 address in brackets; a wildcard as the
    loopback, for want of better: set [server] public_url)."""
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


# Descriptors kept back from connections, on top of the database pool's: for the refusals
# themselves, the files the web page is served from, logs, the database's reconnections.
DESCRIPTOR_RESERVE = 32
BUSY = "the server is at its connection limit; retry later"


def _descriptor_budget(config: Config) -> DescriptorBudget:
    """How many connections the daemon can keep open and still accept, answer and close a
    newcomer: the descriptors left under RLIMIT_NOFILE, minus a reserve."""
    left = descriptors_left()
    if left is None:
        return DescriptorBudget(None)
    capacity = max(1, left - DESCRIPTOR_RESERVE - config.database.pool_size)
    log.info("room for %d connections under the file descriptor limit (RLIMIT_NOFILE)",
             capacity)
    return DescriptorBudget(capacity)


FULL_LOG_INTERVAL = 60.0  # seconds between warnings while newcomers are being refused


def _log_full(budget: DescriptorBudget) -> None:
    now = trio.current_time()
    if budget.warned_at is None or now - budget.warned_at >= FULL_LOG_INTERVAL:
        budget.warned_at = now
        log.warning("%d connections open, near the file descriptor limit: refusing newcomers "
                    "(raise LimitNOFILE in the unit, or ulimit -n)", budget.open)


async def _refuse_tcp(stream: trio.SocketStream, budget: DescriptorBudget) -> None:
    """Tell a protocol client the server is full, in the protocol's own error frame."""
    _log_full(budget)
    await refuse(TcpTransport(stream, _remote(stream)), codes.UNAVAILABLE, BUSY,
                 linger=REFUSAL_LINGER)


def _end_revoked(app: App, notice: RevocationNotice) -> None:
    """Another node or process revoked tokens (see chatd.cluster)."""
    app.end_sessions(notice.user, notice.jti, notice.before)


async def _drain(server: Server, connections: trio.Nursery) -> None:
    app = server.app
    log.info("draining %d connections", len(app.sessions))
    app.draining = True
    server.listeners_scope.cancel()
    for session in list(app.sessions):
        session.drain()
    with trio.move_on_after(server.config.server.grace_period):
        if app.sessions:
            await app.all_closed.wait()
    connections.cancel_scope.cancel()

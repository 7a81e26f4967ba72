"""``chatd serve --workers N``: N worker processes sharing the ports, each a node.

Theory of operation. One chatd process runs on one core. The parent binds the HTTP and TCP
ports once (so that port 0 gives one port for all, and nothing else can take it in between),
then starts N workers, ``chatd serve`` each, that inherit the listening sockets: every worker
waits in ``accept()`` on the same sockets, and the kernel gives each new connection to one of
them. A worker is a whole node, with its own registry, presence tracker and group committer
and its row in ``nodes``; what makes N nodes one server is chatd.cluster (messages,
memberships, presence and typing cross between them over PostgreSQL LISTEN/NOTIFY), exactly
as for nodes on several hosts.

The parent does only what must be done once: it starts the embedded PostgreSQL (when no DSN is
configured) and gives the workers its DSN; it makes the token secret and the VAPID key before
any worker could race to make its own; it restarts a worker that dies (after a delay that
doubles while they keep dying, up to :data:`RESTART_DELAY_MAX`); it forwards SIGTERM and
SIGINT to every worker (each drains its connections, as one daemon does) and returns once all
have exited. systemd hears from the parent only: each worker's ``NOTIFY_SOCKET`` is the
parent's own socket, and the parent says ``READY=1`` once every worker has. It watches the
embedded PostgreSQL and starts it again when it dies (as the single daemon's storage does; the
workers' pools reconnect as after any database fault).

Metrics. ``GET /metrics`` lands on any one worker. Each worker answers its own figures on a
Unix socket ``worker-<index>.sock`` in a private folder (mode 0700) that the parent makes, and
the parent its own (``chatd_embedded_postgres_*``, ``chatd_workers``,
``chatd_worker_restarts_total``) on ``parent.sock``; the worker that takes the scrape asks every
other one and answers the lot (:func:`chatd.metrics.merge`): every series in total, under the
names and labels of a single daemon, and per worker, as ``chatd_per_worker_*`` with a
``worker`` label.
(prometheus_client's multiprocess mode would not do: its gauges computed at scrape time, the
garbage collector's collector and the storage gauges, are not carried across processes.)

A parent killed with SIGKILL cannot tell the workers anything: each holds the read end of a
pipe whose only write end is the parent's, and reads end of file when the parent is gone, by
whatever death; the worker then drains and exits, as on SIGTERM, and the ports close with the
last of them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import trio
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from chatd import listen, systemd
from chatd.auth import load_or_create_secret
from chatd.config import Config
from chatd.metrics import merge
from chatd.webpush import load_or_create_vapid_key

if TYPE_CHECKING:
    from chatd.storage.embedded import EmbeddedPostgres

__all__ = ["RESTART_DELAY_MAX", "RESTART_DELAY_MIN", "SCRAPE_TIMEOUT", "Supervisor",
           "WorkerLink", "clean_up_after_parent", "format_fds", "parse_fds",
           "serve_exposition", "watch_parent"]

log = logging.getLogger(__name__)

#: Seconds before restarting a worker that died; doubled while they keep dying.
RESTART_DELAY_MIN = 1.0
RESTART_DELAY_MAX = 30.0
#: A worker that ran this long before dying is restarted after the shortest delay again.
STEADY_SECONDS = 60.0
#: Seconds a scrape waits for another worker's figures (or the parent's) before leaving
#: them out (``chatd_workers_scraped`` says how many are in).
SCRAPE_TIMEOUT = 2.0
#: Seconds between looks at the embedded PostgreSQL's postmaster, and the delays between
#: attempts at starting it again (doubled after each failure), as for the single daemon.
PROBE_INTERVAL = 1.0
DATABASE_DELAY_MIN = 0.5
DATABASE_DELAY_MAX = 30.0
PARENT_SOCKET = "parent.sock"


@dataclasses.dataclass(frozen=True, slots=True)
class WorkerLink:
    """What a worker knows of its parent, from the hidden ``serve --worker`` option.

    Attributes:
        index: this worker's number, from 0 (its ``worker`` label in the metrics).
        count: how many workers there are.
        parent_fd: the read end of the pipe whose end of file says the parent is gone.
        directory: the parent's private folder of metrics sockets.
    """

    index: int
    count: int
    parent_fd: int
    directory: Path

    def format(self) -> str:
        """``--worker``'s value: ``index:count:fd:folder``."""
        return f"{self.index}:{self.count}:{self.parent_fd}:{self.directory}"

    @classmethod
    def parse(cls, text: str) -> WorkerLink:
        """The inverse of :meth:`format`.

        Raises:
            ValueError: not of that form.
        """
        index, count, fd, directory = text.split(":", 3)
        return cls(int(index), int(count), int(fd), Path(directory))

    def socket_path(self, index: int) -> str:
        return str(self.directory / f"worker-{index}.sock")

    def gatherer(self, render: Callable[[], bytes]) -> Callable[[], Awaitable[bytes]]:
        """What ``GET /metrics`` answers in this worker: its own figures (``render``, called
        in a thread), every other worker's and the parent's, merged."""
        async def gather() -> bytes:
            texts: dict[str, str] = {}
            once: list[str] = []

            async def own() -> None:
                texts[str(self.index)] = (await trio.to_thread.run_sync(render)).decode()

            async def other(index: int) -> None:
                if (text := await _fetch(self.socket_path(index))) is not None:
                    texts[str(index)] = text

            async def parent() -> None:
                if (text := await _fetch(str(self.directory / PARENT_SOCKET))) is not None:
                    once.append(text)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(own)
                nursery.start_soon(parent)
                for index in range(self.count):
                    if index != self.index:
                        nursery.start_soon(other, index)
            ordered = {str(i): texts[str(i)] for i in range(self.count) if str(i) in texts}
            return await trio.to_thread.run_sync(merge, ordered, "".join(once))
        return gather


async def _fetch(path: str) -> str | None:
    """The exposition :func:`serve_exposition` answers on ``path``, or None if it does not
    answer (a worker restarting) within :data:`SCRAPE_TIMEOUT`."""
    chunks = []
    with trio.move_on_after(SCRAPE_TIMEOUT):
        try:
            async with await trio.open_unix_socket(path) as stream:
                while chunk := await stream.receive_some():
                    chunks.append(chunk)
        except OSError as exc:
            log.debug("no metrics from %s: %r", path, exc)
            return None
        return b"".join(chunks).decode()
    log.warning("no metrics from %s within %.0f s", path, SCRAPE_TIMEOUT)
    return None


async def serve_exposition(path: str, render: Callable[[], bytes], *,
                           task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                           ) -> None:
    """Answer every connection to the Unix socket ``path`` with ``render()`` (called in a
    thread) and close it. Runs until cancelled."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)  # a dead predecessor's
    sock = trio.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    await sock.bind(path)
    sock.listen(16)

    async def answer(stream: trio.SocketStream) -> None:
        async with stream:
            with trio.move_on_after(SCRAPE_TIMEOUT):
                await stream.send_all(await trio.to_thread.run_sync(render))

    task_status.started()
    try:
        await trio.serve_listeners(answer, [trio.SocketListener(sock)])
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)


async def watch_parent(fd: int, on_gone: Callable[[], None]) -> None:
    """Call ``on_gone`` once the pipe ``fd`` reads end of file: its only write end was the
    parent's, and the kernel closed it when the parent died, by whatever death."""
    while True:
        await trio.lowlevel.wait_readable(fd)
        if not os.read(fd, 4096):
            break
    log.warning("the parent process (chatd serve --workers) is gone: draining and exiting")
    on_gone()


def clean_up_after_parent(link: WorkerLink) -> None:
    """What a dead parent left of the metrics folder: its socket, and the folder once the
    last worker's socket is gone too (each worker removes its own as it exits)."""
    with contextlib.suppress(OSError):
        os.unlink(link.directory / PARENT_SOCKET)
    with contextlib.suppress(OSError):
        os.rmdir(link.directory)


def format_fds(fds: Mapping[str, list[int]]) -> str:
    """``--listen-fds``'s value: ``http=3,4;tcp=5``."""
    return ";".join(f"{section}={','.join(map(str, numbers))}"
                    for section, numbers in fds.items())


def parse_fds(text: str) -> dict[str, list[int]]:
    """The inverse of :func:`format_fds`.

    Raises:
        ValueError: not of that form, or without both sections.
    """
    found: dict[str, list[int]] = {}
    for part in text.split(";"):
        section, _, numbers = part.partition("=")
        found[section] = [int(n) for n in numbers.split(",")]
    if set(found) != {"http", "tcp"} or not all(found.values()):
        raise ValueError(f"not a --listen-fds value: {text!r}")
    return found


class Supervisor:
    """The parent of ``chatd serve --workers N`` (see the module docstring).

    Args:
        config: the loaded configuration (the workers load the same file and environment).
        workers: how many worker processes.
    """

    def __init__(self, config: Config, workers: int) -> None:
        self._config = config
        self._workers = workers
        self._stopping = False
        self._processes: dict[int, trio.Process] = {}
        self._ready = 0
        self._all_ready = trio.Event()
        self.restarts = 0
        self.database_restarts = 0
        self._embedded: EmbeddedPostgres | None = None
        self.registry = CollectorRegistry(auto_describe=True)
        Gauge("chatd_workers", "Worker processes running (chatd serve --workers).",
              registry=self.registry).set_function(lambda: len(self.pids()))
        self._worker_restarts = Counter(
            "chatd_worker_restarts", "Workers started again after they died.",
            registry=self.registry)

    def pids(self) -> list[int]:
        """The workers' process ids now."""
        return [p.pid for p in self._processes.values() if p.returncode is None]

    async def run(self) -> None:
        """Start everything, serve until SIGTERM or SIGINT, then stop the workers (each
        drains) and return once every one has exited."""
        from chatd.storage.embedded import start_embedded

        config = self._config
        env = {k: v for k, v in os.environ.items()
               if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")}
        await trio.to_thread.run_sync(load_or_create_secret, config.data_dir)
        await trio.to_thread.run_sync(load_or_create_vapid_key, config.data_dir)
        embedded = None
        if not config.database.dsn:
            embedded = await start_embedded(config.data_dir)
            env["CHATD_DATABASE_DSN"] = embedded.uri
            self._embedded = embedded
            running = embedded
            Gauge("chatd_embedded_postgres_up", "1 while the embedded PostgreSQL runs, 0 when "
                  "it is down, absent with a DSN.", registry=self.registry,
                  ).set_function(lambda: float(running.running))
            Gauge("chatd_embedded_postgres_restarts", "Times the daemon started its embedded "
                  "PostgreSQL again after it died; absent with a DSN.", registry=self.registry,
                  ).set_function(lambda: self.database_restarts)
        directory = Path(tempfile.mkdtemp(prefix="chatd-workers-"))  # mode 0700
        # The workers' read end; the write end, never inherited, is only the parent's.
        parent_read, parent_write = os.pipe()
        try:
            tcp = await listen.open_listeners(config, "tcp")
            http = await listen.open_listeners(config, "http")
            fds = {"http": [listener.socket.fileno() for listener in http],
                   "tcp": [listener.socket.fileno() for listener in tcp]}
            http_port = http[0].socket.getsockname()[1]
            tcp_port = tcp[0].socket.getsockname()[1]
            name = f"chatd-workers-{uuid.uuid4().hex}"
            notify = trio.socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            await notify.bind("\0" + name)
            env["NOTIFY_SOCKET"] = "@" + name
            argv = [sys.executable, "-m", "chatd"]
            if config.path is not None:
                argv += ["--config", str(config.path)]
            argv += ["serve", "--listen-fds", format_fds(fds)]
            with notify, trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._hear, notify)
                    nursery.start_soon(systemd.watchdog)
                    await nursery.start(serve_exposition, str(directory / PARENT_SOCKET),
                                        self.render)
                    if embedded is not None:
                        nursery.start_soon(self._watch_embedded, embedded)
                    async with trio.open_nursery() as workers:
                        for index in range(self._workers):
                            link = WorkerLink(index, self._workers, parent_read, directory)
                            workers.start_soon(self._keep, index,
                                               [*argv, "--worker", link.format()], env,
                                               {**fds, "parent": [parent_read]})
                        log.info("listening: http://%s:%d (web, /api, /ws), tcp %s:%d "
                                 "(protocol), %d workers", config.http.host, http_port,
                                 config.tcp.host, tcp_port, self._workers)
                        nursery.start_soon(self._say_ready, http_port, tcp_port)
                        nursery.start_soon(self._on_signals, signals)
                    nursery.cancel_scope.cancel()
            for listener in (*http, *tcp):
                await listener.aclose()
        finally:
            os.close(parent_read)
            os.close(parent_write)
            await trio.to_thread.run_sync(shutil.rmtree, directory, True)
            if embedded is not None:
                with trio.CancelScope(shield=True):
                    await embedded.aclose()
        log.info("stopped")

    async def _on_signals(self, signals: AsyncIterator[int]) -> None:
        """The first SIGTERM or SIGINT stops the workers; later ones are only logged (under
        systemd every process of the unit hears it too: a worker drains once)."""
        async for signum in signals:
            name = signal.Signals(signum).name
            if self._stopping:
                log.info("%s again: the workers are already stopping", name)
                continue
            log.info("%s: stopping the %d workers (each drains)", name, self._workers)
            systemd.notify("STOPPING=1\nSTATUS=draining")
            self._stop_all()

    def _stop_all(self) -> None:
        self._stopping = True
        for process in self._processes.values():
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)

    async def _keep(self, index: int, argv: list[str], env: dict[str, str],
                    fds: Mapping[str, list[int]]) -> None:
        """Run worker ``index``, and again each time it dies, until stopping."""
        delay = RESTART_DELAY_MIN
        passed = [fd for numbers in fds.values() for fd in numbers]
        while not self._stopping:
            started = trio.current_time()
            process = await trio.lowlevel.open_process(argv, env=env, pass_fds=passed)
            self._processes[index] = process
            if self._stopping:  # the signal came while it started
                process.send_signal(signal.SIGTERM)
            log.info("worker %d started (pid %d)", index, process.pid)
            with trio.CancelScope(shield=True):
                # Never abandoned: stopping waits for every worker to have drained.
                status = await process.wait()
            if self._stopping:
                log.info("worker %d (pid %d) stopped (%d)", index, process.pid, status)
                return
            if trio.current_time() - started >= STEADY_SECONDS:
                delay = RESTART_DELAY_MIN
            log.warning("worker %d (pid %d) exited with status %d; restarting it in %.0f s",
                        index, process.pid, status, delay)
            self.restarts += 1
            self._worker_restarts.inc()
            await trio.sleep(delay)
            delay = min(delay * 2, RESTART_DELAY_MAX)

    def render(self) -> bytes:
        """The parent's own figures (it reads the postmaster's pid file: call it in a
        thread)."""
        return generate_latest(self.registry)

    async def _watch_embedded(self, embedded: EmbeddedPostgres) -> None:
        """Start the embedded PostgreSQL again whenever its postmaster has died, with a
        growing delay between failed attempts (the single daemon's storage does the same)."""
        from chatd.storage import StorageUnavailable

        delay = DATABASE_DELAY_MIN
        while True:
            await trio.sleep(PROBE_INTERVAL)
            if await trio.to_thread.run_sync(lambda: embedded.running):
                continue
            log.warning("the embedded PostgreSQL in %s is not running: starting it again",
                        embedded.path)
            try:
                started = await trio.to_thread.run_sync(embedded.restart)
            except StorageUnavailable as exc:
                log.error("%s; next attempt in %.1f s", exc, delay)
                await trio.sleep(delay)
                delay = min(delay * 2, DATABASE_DELAY_MAX)
                continue
            delay = DATABASE_DELAY_MIN
            if started:
                self.database_restarts += 1
                log.warning("the embedded PostgreSQL in %s runs again", embedded.path)

    async def _hear(self, notify: trio.socket.SocketType) -> None:
        """Count the workers' ``READY=1`` (their other messages are not systemd's business:
        the parent feeds the watchdog itself)."""
        while True:
            data = await notify.recv(4096)
            if b"READY=1" in data.split(b"\n"):
                self._ready += 1
                if self._ready >= self._workers:
                    self._all_ready.set()

    async def _say_ready(self, http_port: int, tcp_port: int) -> None:
        await self._all_ready.wait()
        log.info("all %d workers are serving", self._workers)
        systemd.notify(f"READY=1\nSTATUS=serving http port {http_port}, tcp port {tcp_port}, "
                       f"{self._workers} workers")

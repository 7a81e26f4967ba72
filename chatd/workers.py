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
parent's own socket, and the parent says ``READY=1`` once every worker has.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import uuid
from collections.abc import AsyncIterator, Mapping

import trio

from chatd import listen, systemd
from chatd.auth import load_or_create_secret
from chatd.config import Config
from chatd.webpush import load_or_create_vapid_key

__all__ = ["RESTART_DELAY_MAX", "RESTART_DELAY_MIN", "Supervisor", "format_fds", "parse_fds"]

log = logging.getLogger(__name__)

#: Seconds before restarting a worker that died; doubled while they keep dying.
RESTART_DELAY_MIN = 1.0
RESTART_DELAY_MAX = 30.0
#: A worker that ran this long before dying is restarted after the shortest delay again.
STEADY_SECONDS = 60.0


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
                    async with trio.open_nursery() as workers:
                        for index in range(self._workers):
                            workers.start_soon(self._keep, index, argv, env, fds)
                        log.info("listening: http://%s:%d (web, /api, /ws), tcp %s:%d "
                                 "(protocol), %d workers", config.http.host, http_port,
                                 config.tcp.host, tcp_port, self._workers)
                        nursery.start_soon(self._say_ready, http_port, tcp_port)
                        nursery.start_soon(self._on_signals, signals)
                    nursery.cancel_scope.cancel()
            for listener in (*http, *tcp):
                await listener.aclose()
        finally:
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
            await trio.sleep(delay)
            delay = min(delay * 2, RESTART_DELAY_MAX)

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

"""Helpers shared by the tests (import them from ``tests.helpers``)."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import trio

from chatd.config import Config
from chatd.storage import Storage
from tests.cheapkdf import CHATD, child_env

__all__ = [
    "LIFTED_RATES",
    "index_for_search",
    "make_config",
    "read_until_listening",
    "readiness",
    "search_caught_up",
    "serving",
    "until",
    "wait_ready",
    "without_chatd_settings",
]


#: ``[limits]`` that lift the send rate limits (per connection and per user) and the per-user
#: typing limit: for tests about something else that send or type in bursts
#: (``limits={**LIFTED_RATES, ...}``).
LIFTED_RATES: Mapping[str, Any] = {
    "send_rate": 1e6, "send_burst": 1_000_000, "user_send_rate": 1e6,
    "user_send_burst": 1_000_000, "user_typing_rate": 1e6, "user_typing_burst": 1_000_000,
}


#: Tests talk to 127.0.0.1 only, and many send links (https://example.com/...): with link
#: previews on, the daemon would look those names up. So every test daemon has them off
#: (``make_config``, :func:`serving`, the browser tests' daemon) but the previews' own tests,
#: which turn them on with pages served on 127.0.0.1.
NO_PREVIEWS = {"CHATD_PREVIEWS_ENABLED": "false"}


def make_config(tmp_path: Path, dsn: str, **sections: Mapping[str, Any]) -> Config:
    """A config for one test: data under ``tmp_path/data``, database ``dsn``, both listeners
    on port 0 (a free port), link previews off (:data:`NO_PREVIEWS`). ``sections`` change
    more keys, merged over those, as for :meth:`Config.replace`: ``make_config(tmp_path, dsn,
    limits={"history_max": 10})``."""
    changes: dict[str, dict[str, Any]] = {
        "server": {"data_dir": str(tmp_path / "data")},
        "database": {"dsn": dsn},
        "http": {"port": 0},
        "tcp": {"port": 0},
        "previews": {"enabled": False},
    }
    for name, values in sections.items():
        changes[name] = {**changes.get(name, {}), **values}
    return Config().replace(**changes)


async def index_for_search(storage: Storage) -> int:
    """Index for search every message not indexed yet, as the daemon's indexer does a moment
    after each commit (chatd/indexer.py), and return how many were: what a storage test does
    before it searches, instead of running the indexer."""
    total = 0
    while True:
        indexed = await storage.index_words(limit=1000, merge=True)
        total += indexed
        if indexed < 1000:
            return total


async def search_caught_up(storage: Storage, within: float = 10.0) -> None:
    """Wait until a running daemon's indexer has indexed every message committed so far
    (polling the database's backlog; fails after ``within`` seconds): what an end-to-end
    test does between a send and a search that must find it."""
    with trio.fail_after(within):
        while await storage.index_backlog(1):  # noqa: ASYNC110 (the database's state)
            await trio.sleep(0.01)


@asynccontextmanager
async def readiness() -> AsyncIterator[tuple[trio.socket.SocketType, dict[str, str]]]:
    """A datagram socket for a daemon's sd_notify messages, and the environment that points
    the daemon at it (``NOTIFY_SOCKET``, abstract): a test then waits for the daemon to say it
    is ready, as systemd does, instead of polling its log."""
    name = f"chatd-test-{uuid.uuid4().hex}"
    sock = trio.socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        await sock.bind("\0" + name)
        yield sock, {"NOTIFY_SOCKET": "@" + name}
    finally:
        sock.close()


def now_ms() -> int:
    """The wall clock in ms since the epoch: the daemon's clock too (times it is given,
    such as a scheduled message's send_at or a reminder's remind_at, are read against it)."""
    return time.time_ns() // 1_000_000


async def until(condition: Callable[[], bool]) -> None:
    """Return once ``condition()`` holds: a state that nothing signals (a counter, the
    registry), polled. Bound it with the caller's ``trio.fail_after`` or the test's timeout."""
    while not condition():  # noqa: ASYNC110 (a counter or the registry: nothing to wait on)
        await trio.sleep(0.01)


async def wait_ready(sock: trio.socket.SocketType, process: trio.Process,
                     read_log: Any = None) -> tuple[int, int]:
    """The (http, tcp) ports of a daemon started with :func:`readiness`'s environment, once it
    sends ``READY=1`` (its ``STATUS=`` names them). Fails at once if the process exits first,
    with what ``read_log()`` returns, if given."""
    async with trio.open_nursery() as nursery:
        exited = False

        async def watch() -> None:
            nonlocal exited
            await process.wait()
            exited = True
            nursery.cancel_scope.cancel()

        nursery.start_soon(watch)
        while True:
            fields = dict(line.split("=", 1) for line in
                          (await sock.recv(4096)).decode().splitlines() if "=" in line)
            if fields.get("READY") == "1":
                found = re.search(r"http port (\d+), tcp port (\d+)", fields.get("STATUS", ""))
                assert found, fields
                nursery.cancel_scope.cancel()
                return int(found[1]), int(found[2])
    assert not exited, f"chatd exited ({process.returncode}): {read_log() if read_log else ''}"
    raise AssertionError("unreachable")


def without_chatd_settings() -> dict[str, str]:
    """The environment minus every CHATD_* setting and systemd's variables."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith("CHATD_") and k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC")}


async def read_until_listening(process: trio.Process) -> tuple[bytes, int, int]:
    """Read a daemon's stderr (a pipe) until it logs the ports it listens on: the log so far
    and the (http, tcp) ports. Fails if the daemon exits before."""
    assert process.stderr is not None
    log = b""
    while True:
        found = re.search(rb"listening: http://[\d.]+:(\d+) .*tcp [\d.]+:(\d+)", log)
        if found:
            return log, int(found[1]), int(found[2])
        chunk = await process.stderr.receive_some(4096)
        assert chunk, log.decode(errors="replace")
        log += chunk


@asynccontextmanager
async def serving(cwd: Path, env: Mapping[str, str], log_path: Path, *,
                  start_within: float = 60, args: Sequence[str] = ()
                  ) -> AsyncIterator[tuple[trio.Process, int, int]]:
    """``python -m chatd serve`` (and ``args``) in ``cwd`` with ``env`` (over the environment
    without any ``CHATD_*`` setting), its output in ``log_path``, once it says it is ready:
    the process and its (http, tcp) ports. Killed on the way out if it is still running.
    (Run as ``-m tests.cheapkdf``: chatd's command line, hashing passwords cheaply.)"""
    async with readiness() as (ready, notify):
        with log_path.open("wb") as log_file:
            process = await trio.lowlevel.open_process(
                [*CHATD, "serve", *args], cwd=cwd,
                env=child_env({**without_chatd_settings(), **NO_PREVIEWS, **env, **notify}),
                stdout=log_file, stderr=log_file,
            )
        try:
            with trio.fail_after(start_within):
                http_port, tcp_port = await wait_ready(
                    ready, process, lambda: log_path.read_text(errors="replace"))
            yield process, http_port, tcp_port
        finally:
            with trio.CancelScope(shield=True), trio.fail_after(30):
                if process.returncode is None:
                    process.kill()
                await process.wait()


@asynccontextmanager
async def rooms_locked(dsn: str, room: str | None = None
                       ) -> AsyncIterator[Callable[[], None]]:
    """Lock every room row (or ``room``'s) from a connection of its own (in a thread: asyncpg
    on its own loop) until the returned function is called, as a long transaction of another
    node would; the lock goes at the latest when the block ends."""
    locked, release = threading.Event(), threading.Event()

    async def hold() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            async with conn.transaction():
                await conn.execute("SELECT id FROM rooms WHERE $1::text IS NULL OR name = $1 "
                                   "FOR UPDATE", room)
                locked.set()
                await asyncio.to_thread(release.wait)
        finally:
            await conn.close()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(trio.to_thread.run_sync, lambda: asyncio.run(hold()))
        await trio.to_thread.run_sync(locked.wait)
        try:
            yield release.set
        finally:
            release.set()


async def fetchval_apart(dsn: str, query: str, *args: Any) -> Any:
    """One statement on a connection of its own (asyncpg on a loop of its own, in a thread):
    to look at the database from outside the storage under test."""

    async def run() -> Any:
        conn = await asyncpg.connect(dsn)
        try:
            return await conn.fetchval(query, *args)
        finally:
            await conn.close()

    return await trio.to_thread.run_sync(lambda: asyncio.run(run()))


class HeldLock:
    """A table (:func:`locked_table`) or rows (:func:`locked_rows`) locked by another
    session, and the waits on it."""

    def __init__(self, bridge: Any, locker: Any) -> None:
        self._bridge = bridge
        self._locker = locker

    async def _waiting(self) -> int:
        return int(await self._bridge.run(
            self._locker.fetchval,
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND datname = current_database() AND pid <> pg_backend_pid()"))

    async def someone_waits(self) -> None:
        """Return once some other session waits on a lock (a statement reached the table)."""
        while not await self._waiting():  # noqa: ASYNC110 (the server's state: nothing to wait on)
            await trio.sleep(0.01)

    async def nobody_waits(self) -> None:
        """Return once no other session waits on a lock any more (the server has ended the
        statements that did)."""
        while await self._waiting():  # noqa: ASYNC110 (the server's state: nothing to wait on)
            await trio.sleep(0.01)


@asynccontextmanager
async def locked_rows(dsn: str, query: str, *args: Any) -> AsyncIterator[HeldLock]:
    """The rows ``query`` (a ``SELECT … FOR UPDATE``) locks, held by another session for
    the block: a statement that writes one of them waits for it in the middle of its run,
    its snapshot already taken (where a table's lock, :func:`locked_table`, holds a
    statement before it starts), and statements that only read them do not wait."""
    from chatd.storage.bridge import open_bridge
    async with open_bridge(name="locker") as bridge:
        locker: Any = await bridge.run(asyncpg.connect, dsn)
        try:
            await bridge.run(locker.execute, "BEGIN")
            assert await bridge.run(locker.fetch, query, *args), "no row to lock"
            yield HeldLock(bridge, locker)
        finally:
            await bridge.run(locker.close)


@asynccontextmanager
async def locked_table(dsn: str, table: str) -> AsyncIterator[HeldLock]:
    """``table`` locked (ACCESS EXCLUSIVE) by another session for the block: every statement
    that touches it waits, as behind a busy database."""
    from chatd.storage.bridge import open_bridge
    async with open_bridge(name="locker") as bridge:
        locker: Any = await bridge.run(asyncpg.connect, dsn)
        try:
            await bridge.run(locker.execute, "BEGIN")
            await bridge.run(locker.execute, f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
            yield HeldLock(bridge, locker)
        finally:
            await bridge.run(locker.close)

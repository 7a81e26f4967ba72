"""End-to-end: the daemon on its own embedded PostgreSQL, which the tests kill (SIGKILL) and
freeze (SIGSTOP, then SIGCONT) themselves.

Each test runs a daemon in-process with an empty ``[database] dsn``, so that it starts a
private embedded server in the test's own data directory (never the session's shared test
server), with small timeouts so that the outage is noticed quickly. Every wait is for a state
(an answer, a probe result), bounded by ``fail_after``; the tests assert on answers, never on
how long they took.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import trio

from chatd.config import Config
from chatd.server import Server
from tests.client import Client, full_history, http, register_and_login
from tests.e2e.conftest import running
from tests.helpers import LIFTED_RATES, make_config, readiness

pytestmark = pytest.mark.slow

# Small, so that a frozen database is given up on quickly; far above what a statement takes.
STATEMENT_TIMEOUT = 1.0
GRACE = 1.0
RECOVERY_TIMEOUT = 60  # the embedded server's restart, crash recovery included
ROOM = "faults"


@pytest.fixture
def embedded_config(tmp_path: Path) -> Iterator[Config]:
    """A config on a fresh embedded database. Its data directory is under /tmp, not under
    ``tmp_path``: as root, pgserver opens every parent of the cluster to its OS user, and
    pytest resets its own base folder to mode 0700 whenever another session starts."""
    data = Path(tempfile.mkdtemp(prefix="chatd-test-faults-", dir="/tmp"))
    yield make_config(
        tmp_path, "",
        database={"statement_timeout": STATEMENT_TIMEOUT, "connect_timeout": STATEMENT_TIMEOUT,
                  "watchdog_grace": GRACE},
        limits=LIFTED_RATES,
        server={"grace_period": 5.0, "data_dir": str(data)},
    )
    shutil.rmtree(data, ignore_errors=True)


def postmaster_pid(config: Config) -> int:
    """The embedded server's postmaster, from ``postmaster.pid`` in its cluster folder."""
    return int((config.data_dir / "postgres" / "postmaster.pid").read_text().split("\n")[0])


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = (entry / "stat").read_text()
                if int(stat.rpartition(")")[2].split()[1]) == pid:
                    found.append(int(entry.name))
    return found


@contextlib.contextmanager
def frozen(pid: int) -> Iterator[None]:
    """The whole server stopped (SIGSTOP: the postmaster first, so that it forks no more,
    then its backends), and woken again (SIGCONT) on the way out, whatever happened."""
    stopped = [pid]
    os.kill(pid, signal.SIGSTOP)
    try:
        for child in _children(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGSTOP)
                stopped.append(child)
        yield
    finally:
        for process in reversed(stopped):
            with contextlib.suppress(ProcessLookupError):
                os.kill(process, signal.SIGCONT)


async def healthz(server: Server) -> tuple[int, Any]:
    return await http(server.http_port, "GET", "/healthz")


async def wait_healthy(server: Server) -> None:
    """Until /healthz answers 200: the daemon and its database serve again."""
    with trio.fail_after(RECOVERY_TIMEOUT):
        while (await healthz(server))[0] != 200:  # noqa: ASYNC110 (polled, as a balancer does)
            await trio.sleep(0.1)


@contextlib.asynccontextmanager
async def member(server: Server, name: str) -> AsyncIterator[Client]:
    token = await register_and_login(server.http_port, name)
    client = await Client.tcp(server.tcp_port)
    try:
        await client.hello(token)
        assert (await client.request("join", room=ROOM))["op"] == "ok"
        yield client
    finally:
        await client.aclose()


async def send(client: Client, nonce: str) -> dict[str, Any]:
    return await client.request("send", room=ROOM, text=f"text of {nonce}", nonce=nonce)


async def send_until_stored(client: Client, nonce: str) -> dict[str, Any]:
    """Resend ``nonce`` (as a client must) until it is acknowledged; any other answer on the
    way must be ``unavailable``."""
    with trio.fail_after(RECOVERY_TIMEOUT):
        while True:
            reply = await send(client, nonce)
            if reply["op"] == "ok":
                return reply
            assert reply["code"] == "unavailable", reply
            await trio.sleep(0.1)


async def test_a_killed_embedded_database_is_restarted(embedded_config: Config) -> None:
    """After a SIGKILL of the embedded postmaster the daemon starts it again by itself, and
    sends succeed again; what was acknowledged before is still there."""
    async with running(embedded_config) as server, member(server, "kate") as kate:
        assert (await send(kate, "before"))["op"] == "ok"
        killed = postmaster_pid(embedded_config)
        os.kill(killed, signal.SIGKILL)
        with trio.fail_after(RECOVERY_TIMEOUT):
            while server.app.storage.statistics().embedded_restarts == 0:  # noqa: ASYNC110
                await trio.sleep(0.1)
        assert postmaster_pid(embedded_config) != killed
        after = await send_until_stored(kate, "after")
        assert after["seq"] == 2
        await wait_healthy(server)
        stats = server.app.storage.statistics()
        assert stats.embedded_restarts == 1 and stats.embedded_up
        _, metrics = await http(server.http_port, "GET", "/metrics")
        assert b"chatd_embedded_postgres_restarts 1.0" in metrics
        history = await full_history(kate, ROOM)
        assert [m["nonce"] for m in history] == ["before", "after"]


async def test_a_frozen_database_is_answered_unavailable_and_loses_nothing(
    embedded_config: Config,
) -> None:
    """While the database is frozen (SIGSTOP), /healthz answers 503 and sends are answered
    ``unavailable`` (never acknowledged); after SIGCONT every resend is stored once and no
    acknowledged message is lost."""
    async with running(embedded_config) as server, member(server, "fred") as fred:
        acked = [f"early-{n}" for n in range(5)]
        for nonce in acked:
            assert (await send(fred, nonce))["op"] == "ok"
        pending = [f"frozen-{n}" for n in range(50)]
        with frozen(postmaster_pid(embedded_config)):
            status, body = await healthz(server)
            assert status == 503 and body["code"] == "unavailable", body
            for n, nonce in enumerate(pending):  # pipelined: they share group commits
                await fred.send({"op": "send", "id": f"p{n}", "room": ROOM,
                                 "text": f"text of {nonce}", "nonce": nonce})
            for n in range(len(pending)):
                reply = await fred.reply(f"p{n}")
                assert reply["op"] == "error" and reply["code"] == "unavailable", reply
            reply = await fred.request("history", room=ROOM, limit=10)
            assert reply["op"] == "error" and reply["code"] == "unavailable", reply
        await wait_healthy(server)
        for nonce in pending:
            await send_until_stored(fred, nonce)
        for nonce in acked + pending[:3]:  # resends of stored messages: stored once
            reply = await send(fred, nonce)
            assert reply["op"] == "ok", reply
        history = await full_history(fred, ROOM)
        nonces = [m["nonce"] for m in history]
        assert sorted(nonces) == sorted(acked + pending)
        assert [m["seq"] for m in history] == list(range(1, len(nonces) + 1))


async def _notices(sock: trio.socket.SocketType) -> AsyncIterator[str]:
    while True:
        yield (await sock.recv(4096)).decode()


async def test_the_watchdog_starves_while_the_database_is_gone(
    embedded_config: Config, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With the embedded database frozen past ``[database] watchdog_grace``, the daemon stops
    sending WATCHDOG=1 to systemd (a STATUS= says why), so that systemd would restart it; once
    the database answers again, the pings resume."""
    async with readiness() as (sock, env):
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("WATCHDOG_USEC", "200000")
        monkeypatch.delenv("WATCHDOG_PID", raising=False)
        async with running(embedded_config) as server:
            notices = _notices(sock)
            with trio.fail_after(RECOVERY_TIMEOUT):
                while not (await anext(notices)).startswith("READY=1"):
                    pass
                while await anext(notices) != "WATCHDOG=1":
                    pass
                with frozen(postmaster_pid(embedded_config)):
                    while (notice := await anext(notices)) == "WATCHDOG=1":
                        pass
                    assert notice.startswith("STATUS=the database has been gone"), notice
                    assert server.app.storage.database_lost()
                    while b"chatd_database_up 0.0" not in (  # noqa: ASYNC110 (scraped)
                            await http(server.http_port, "GET", "/metrics"))[1]:
                        await trio.sleep(0.1)
                    # Nothing is sent while frozen: the next notice is the resumption.
                notice = await anext(notices)
                assert notice.startswith("STATUS=serving again"), notice
                assert await anext(notices) == "WATCHDOG=1"

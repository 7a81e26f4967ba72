"""End-to-end: ``chatd serve --workers 2`` serves one pair of ports with two worker
processes that behave as one server (presence, typing, ``who``), restarts a worker that dies,
and drains every worker on SIGTERM; ``/metrics`` adds the workers up; the parent restarts the
embedded PostgreSQL; a parent killed with SIGKILL takes its workers with it.

Rules: 127.0.0.1 and port 0 only; every wait is for a state and bounded, never a fixed sleep.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import tempfile
from pathlib import Path

import pytest
import trio

from tests.client import Client, full_history, http, register_and_login
from tests.e2e.test_presence_nodes import CLUSTER_ENV, WITHIN, _until_who
from tests.helpers import serving

WORKERS = 2


def _children(parent: int) -> set[int]:
    """The processes whose parent is ``parent``."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent:
            found.add(int(entry))
    return found


def _server_side(pid: int, tcp_port: int) -> set[int]:
    """The client ports of the connections process ``pid`` accepted on ``tcp_port``."""
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    except OSError:
        return set()
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as lines:
                for line in list(lines)[1:]:
                    fields = line.split()
                    local, remote, inode = fields[1], fields[2], fields[9]
                    if inode in inodes and int(local.rsplit(":", 1)[1], 16) == tcp_port:
                        ports.add(int(remote.rsplit(":", 1)[1], 16))
        except OSError:
            continue
    return ports


def _worker_of(client: Client, workers: set[int], tcp_port: int) -> int | None:
    stream = client._stream
    assert isinstance(stream, trio.SocketStream)
    port = stream.socket.getsockname()[1]
    for pid in workers:
        if port in _server_side(pid, tcp_port):
            return pid
    return None


async def test_two_workers_behave_as_one_server(tmp_path: Path, database_dsn: str) -> None:
    """Connections on one port land on both workers; who, presence and typing agree across
    them; a worker killed with SIGKILL is restarted (its users offline, then back); SIGTERM
    to the parent drains every worker (clients told shutting_down) and exits 0."""
    env = {"CHATD_DATABASE_DSN": database_dsn, "CHATD_SERVER_DATA_DIR": str(tmp_path / "data"),
           "CHATD_HTTP_PORT": "0", "CHATD_TCP_PORT": "0", **CLUSTER_ENV}
    async with serving(tmp_path, env, tmp_path / "workers.log",
                       args=["--workers", str(WORKERS)]) as (parent, http_port, tcp_port):
        with trio.fail_after(30):
            while len(workers := _children(parent.pid)) < WORKERS:  # noqa: ASYNC110 (/proc)
                await trio.sleep(0.05)
        clients: dict[str, Client] = {}
        on: dict[str, int | None] = {}
        with trio.fail_after(60):
            for i in range(16):
                name = f"user{i}"
                client = await Client.tcp(tcp_port)
                await client.hello(await register_and_login(http_port, name))
                await client.request("join", room="all")
                clients[name] = client
                on[name] = _worker_of(client, workers, tcp_port)
                served = {pid for pid in on.values() if pid is not None}
                if len(served) == WORKERS and len(clients) >= 4:
                    break
        assert {pid for pid in on.values() if pid is not None} == workers, on
        everyone = dict.fromkeys(clients, "online")
        for client in clients.values():
            await _until_who(client, "all", everyone)

        first, second = sorted(workers)
        typer = next(n for n, pid in on.items() if pid == first)
        reader = next(n for n, pid in on.items() if pid == second)
        await clients[typer].request("typing", room="all")
        assert await clients[reader].event("typing", room="all", user=typer)

        # A worker dies: the parent starts another; the dead one's users go offline on the
        # other worker within the bound, and can connect again.
        os.kill(second, signal.SIGKILL)
        with trio.fail_after(WITHIN):
            while len(_children(parent.pid) - {second}) < WORKERS:  # noqa: ASYNC110 (/proc)
                await trio.sleep(0.05)
        gone = [n for n, pid in on.items() if pid == second]
        await _until_who(clients[typer], "all",
                         {n: "offline" if n in gone else "online" for n in clients},
                         within=WITHIN)
        for name in gone:
            await clients[name].aclose()
            clients[name] = await Client.tcp(tcp_port)
            await clients[name].hello(await register_and_login(http_port, name))
        await _until_who(clients[typer], "all", everyone)

        workers = _children(parent.pid)
        parent.send_signal(signal.SIGTERM)
        with trio.fail_after(30):
            for client in clients.values():
                await client.wait_closed()
            assert await parent.wait() == 0
        for client in clients.values():
            assert any(e.get("code") == "shutting_down" for e in client.events), client.events
        assert not any(_running(pid) for pid in workers)


def _running(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


async def _on_every_worker(parent: int, http_port: int, tcp_port: int, room: str,
                           ) -> tuple[set[int], dict[str, Client], dict[str, int | None]]:
    """The workers, and clients (joined to ``room``) connected until each worker has some."""
    with trio.fail_after(30):
        while len(workers := _children(parent)) < WORKERS:  # noqa: ASYNC110 (/proc)
            await trio.sleep(0.05)
    clients: dict[str, Client] = {}
    on: dict[str, int | None] = {}
    with trio.fail_after(60):
        for i in range(32):
            name = f"user{i}"
            client = await Client.tcp(tcp_port)
            await client.hello(await register_and_login(http_port, name))
            await client.request("join", room=room)
            clients[name] = client
            on[name] = _worker_of(client, workers, tcp_port)
            if {pid for pid in on.values() if pid is not None} == workers:
                break
    assert {pid for pid in on.values() if pid is not None} == workers, on
    return workers, clients, on


def _samples(exposition: bytes, name: str) -> dict[str, float]:
    """The samples of ``name`` in a scrape, by their labels as written (``""`` for none)."""
    found = {}
    for line in exposition.decode().splitlines():
        if match := re.fullmatch(rf"{name}(\{{.*\}})? (\S+)", line):
            found[match.group(1) or ""] = float(match.group(2))
    return found


async def test_metrics_add_up_over_the_workers(tmp_path: Path, database_dsn: str) -> None:
    """Messages sent through both workers: every scrape, whichever worker takes it, holds
    each worker's figures (a ``worker`` label) and their total under the single daemon's
    names; the parent's figures come once."""
    env = {"CHATD_DATABASE_DSN": database_dsn, "CHATD_SERVER_DATA_DIR": str(tmp_path / "data"),
           "CHATD_HTTP_PORT": "0", "CHATD_TCP_PORT": "0", **CLUSTER_ENV}
    async with serving(tmp_path, env, tmp_path / "workers.log",
                       args=["--workers", str(WORKERS)]) as (parent, http_port, tcp_port):
        workers, clients, on = await _on_every_worker(parent.pid, http_port, tcp_port, "all")
        first, second = sorted(workers)
        sent = {first: 3, second: 2}
        for pid, count in sent.items():
            sender = clients[next(n for n, p in on.items() if p == pid)]
            for n in range(count):
                assert (await sender.request("send", room="all", text=f"{pid} {n}",
                                             nonce=f"{pid}-{n}"))["op"] == "ok"
        for _ in range(6):  # fresh connections: the kernel spreads them over the workers
            status, body = await http(http_port, "GET", "/metrics")
            assert status == 200
            assert _samples(body, "chatd_messages_stored_total") == {"": 5}
            stored = _samples(body, "chatd_per_worker_messages_stored_total")
            assert set(stored) == {'{worker="0"}', '{worker="1"}'}, stored
            assert sorted(stored.values()) == [2, 3], stored
            connections = _samples(body, "chatd_connections")
            assert connections['{transport="tcp"}'] == len(clients), connections
            assert _samples(body, "chatd_send_ack_seconds_count")[""] == 5
            assert _samples(body, "chatd_workers_scraped") == {"": WORKERS}
            assert _samples(body, "chatd_workers") == {"": WORKERS}
            assert _samples(body, "chatd_database_up")[""] == 1
        for client in clients.values():
            await client.aclose()


def _free(port: int) -> bool:
    """Whether ``port`` on 127.0.0.1 can be listened on again (SO_REUSEADDR, as every server
    sets: the closed connections' TIME_WAIT does not count, a listening socket does)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
            probe.listen()
        except OSError:
            return False
        return True


async def test_a_killed_parent_takes_its_workers_down(tmp_path: Path,
                                                      database_dsn: str) -> None:
    """After a SIGKILL of the parent, every worker drains (its clients are told
    shutting_down) and exits, and both ports are free again."""
    env = {"CHATD_DATABASE_DSN": database_dsn, "CHATD_SERVER_DATA_DIR": str(tmp_path / "data"),
           "CHATD_HTTP_PORT": "0", "CHATD_TCP_PORT": "0", **CLUSTER_ENV}
    async with serving(tmp_path, env, tmp_path / "workers.log",
                       args=["--workers", str(WORKERS)]) as (parent, http_port, tcp_port):
        workers, clients, _ = await _on_every_worker(parent.pid, http_port, tcp_port, "all")
        folders = _metrics_folders(workers)
        assert len(folders) == 1 and all(map(_exists, folders)), folders
        parent.kill()
        await parent.wait()
        with trio.fail_after(30):
            for client in clients.values():
                await client.wait_closed()
            while any(_running(pid) for pid in workers):  # noqa: ASYNC110 (/proc)
                await trio.sleep(0.05)
        for client in clients.values():
            assert any(e.get("code") == "shutting_down" for e in client.events), client.events
        assert _free(http_port) and _free(tcp_port)
        # The workers cleaned up what the parent left of the metrics folder.
        assert not [folder for folder in folders if _exists(folder)]


def _exists(path: str) -> bool:
    return os.path.exists(path)


def _metrics_folders(workers: set[int]) -> set[str]:
    """The parent's metrics folder, as its workers' ``--worker`` option names it."""
    folders = set()
    for pid in workers:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            argv = cmdline.read().decode().split("\0")
        folders.add(argv[argv.index("--worker") + 1].split(":", 3)[3])
    return folders


@pytest.mark.slow
async def test_the_parent_restarts_a_killed_embedded_database(tmp_path: Path) -> None:
    """With the embedded PostgreSQL (no DSN), a SIGKILL of its postmaster: the parent starts
    it again, the workers' pools reconnect, a resent message is stored after the one
    acknowledged before, and /metrics counts the restart."""
    # Under /tmp, not tmp_path: see tests/e2e/test_database_faults.py's embedded_config.
    data = Path(tempfile.mkdtemp(prefix="chatd-test-workers-", dir="/tmp"))
    env = {"CHATD_SERVER_DATA_DIR": str(data), "CHATD_HTTP_PORT": "0", "CHATD_TCP_PORT": "0",
           "CHATD_DATABASE_STATEMENT_TIMEOUT": "1", "CHATD_DATABASE_CONNECT_TIMEOUT": "1",
           **CLUSTER_ENV}
    try:
        async with serving(tmp_path, env, tmp_path / "workers.log", start_within=120,
                           args=["--workers", str(WORKERS)]) as (parent, http_port, tcp_port):
            _, clients, _ = await _on_every_worker(parent.pid, http_port, tcp_port, "faults")
            kate = next(iter(clients.values()))
            assert (await kate.request("send", room="faults", text="before",
                                       nonce="before"))["op"] == "ok"
            pid_file = data / "postgres" / "postmaster.pid"
            killed = int(pid_file.read_text().split("\n")[0])
            os.kill(killed, signal.SIGKILL)
            with trio.fail_after(RECOVERY_TIMEOUT):
                while True:
                    _, body = await http(http_port, "GET", "/metrics")
                    if _samples(body, "chatd_embedded_postgres_restarts") == {"": 1}:
                        break
                    await trio.sleep(0.1)
                assert _samples(body, "chatd_embedded_postgres_up") == {"": 1}
                assert int(pid_file.read_text().split("\n")[0]) != killed
                while True:  # resent, as a client must, until acknowledged
                    reply = await kate.request("send", room="faults", text="after",
                                               nonce="after")
                    if reply["op"] == "ok":
                        break
                    assert reply["code"] == "unavailable", reply
                    await trio.sleep(0.1)
            assert reply["seq"] == 2
            history = await full_history(kate, "faults")
            assert [m["nonce"] for m in history] == ["before", "after"]
            for client in clients.values():
                await client.aclose()
            parent.send_signal(signal.SIGTERM)
            with trio.fail_after(30):
                assert await parent.wait() == 0
    finally:
        shutil.rmtree(data, ignore_errors=True)


RECOVERY_TIMEOUT = 60  # the embedded server's restart, crash recovery included

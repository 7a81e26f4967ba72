"""End-to-end: ``chatd serve --workers 2`` serves one pair of ports with two worker
processes that behave as one server (presence, typing, ``who``), restarts a worker that dies,
and drains every worker on SIGTERM.

Rules: 127.0.0.1 and port 0 only; every wait is for a state and bounded, never a fixed sleep.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import trio

from tests.client import Client, register_and_login
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

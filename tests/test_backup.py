"""`chatd backup FILE` and `chatd restore FILE`, run as an operator runs them (real processes,
real pg_dump and pg_restore), on a DSN and on the embedded database.

A round trip must give back the same users (ids, names, creation times), the same history (seq,
msg_id, sender, text, time) in every room and conversation, and a room's next message must get
the seq after its last one.
"""

from __future__ import annotations

import asyncio
import os
import signal
import stat
import subprocess
import sys
import urllib.parse
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import trio

from chatd.protocol.names import dm_room_name
from tests.client import Client, full_history, http, register_and_login
from tests.e2e.conftest import running
from tests.helpers import make_config, serving

PASSWORD = "correct horse"
DM = dm_room_name("ann", "bob")


def _chatd(tmp_path: Path, *args: str, dsn: str | None = None,
           data: str = "data") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATD_")}
    env["CHATD_SERVER_DATA_DIR"] = str(tmp_path / data)
    if dsn is not None:
        env["CHATD_DATABASE_DSN"] = dsn
    return subprocess.run([sys.executable, "-m", "chatd", *args], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)


async def _chatd_async(tmp_path: Path, *args: str, dsn: str | None = None,
                       data: str = "data") -> subprocess.CompletedProcess[str]:
    return await trio.to_thread.run_sync(
        lambda: _chatd(tmp_path, *args, dsn=dsn, data=data))


@pytest.fixture
def other_dsn(pg_server: str) -> Iterator[str]:
    """A second empty database on the session's server, dropped afterwards."""
    name = f"chatd_restore_{uuid.uuid4().hex[:12]}"

    async def execute(statement: str) -> None:
        conn = await asyncpg.connect(pg_server)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(execute(f'CREATE DATABASE "{name}"'))
    try:
        parts = urllib.parse.urlsplit(pg_server)
        yield urllib.parse.urlunsplit(parts._replace(path="/" + name))
    finally:
        asyncio.run(execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _fill(http_port: int, tcp_port: int) -> None:
    """Two users, three messages in a room, two in their conversation."""
    ann = await register_and_login(http_port, "ann", PASSWORD)
    await register_and_login(http_port, "bob", PASSWORD)
    client = await Client.tcp(tcp_port)
    try:
        await client.hello(ann)
        await client.request("join", room="ops")
        for n in range(3):
            ack = await client.request("send", room="ops", text=f"m{n}", nonce=f"n{n}")
            assert ack["op"] == "ok", ack
        for n in range(2):
            reply = await client.request("dm", to="bob", text=f"d{n}", nonce=f"d{n}")
            assert reply["op"] == "ok", reply
    finally:
        await client.aclose()


async def _history(http_port: int, tcp_port: int) -> dict[str, list[dict[str, Any]]]:
    """Every message ann can read, by room; ann logs in (she must exist already)."""
    status, body = await http(http_port, "POST", "/api/login",
                              {"username": "ann", "password": PASSWORD})
    assert status == 200, body
    client = await Client.tcp(tcp_port)
    try:
        await client.hello(body["token"])
        return {room: await full_history(client, room) for room in ("ops", DM)}
    finally:
        await client.aclose()


async def _send_next(http_port: int, tcp_port: int) -> int:
    """ann sends one more message to ops; its seq."""
    status, body = await http(http_port, "POST", "/api/login",
                              {"username": "ann", "password": PASSWORD})
    assert status == 200, body
    client = await Client.tcp(tcp_port)
    try:
        await client.hello(body["token"])
        await client.request("join", room="ops")
        ack = await client.request("send", room="ops", text="after", nonce="after")
        assert ack["op"] == "ok", ack
        return int(ack["seq"])
    finally:
        await client.aclose()


def _assert_private(path: Path) -> None:
    assert stat.S_IMODE(path.stat().st_mode) == 0o600, oct(path.stat().st_mode)


async def test_round_trip_through_a_dsn(tmp_path: Path, database_dsn: str,
                                        other_dsn: str) -> None:
    """Back up a served database, restore it into another: same users, same history, and the
    next message gets the next seq. Restore refuses a database with data unless --force, and
    one a daemon is connected to."""
    backup = tmp_path / "chatd.dump"
    async with running(make_config(tmp_path, database_dsn)) as server:
        await _fill(server.http_port, server.tcp_port)
        before = await _history(server.http_port, server.tcp_port)
        made = await _chatd_async(tmp_path, "backup", str(backup), dsn=database_dsn)
        assert made.returncode == 0, made.stderr
    _assert_private(backup)
    assert [m["text"] for m in before["ops"]] == ["m0", "m1", "m2"]
    users = _chatd(tmp_path, "user", "list", dsn=database_dsn).stdout
    assert "ann" in users and "bob" in users

    restored = _chatd(tmp_path, "restore", str(backup), dsn=other_dsn)
    assert restored.returncode == 0, restored.stderr
    assert _chatd(tmp_path, "user", "list", dsn=other_dsn).stdout == users
    config = make_config(tmp_path / "other", other_dsn)
    async with running(config) as server:
        assert await _history(server.http_port, server.tcp_port) == before
        assert await _send_next(server.http_port, server.tcp_port) == 4
        busy = await _chatd_async(tmp_path, "restore", "--force", str(backup), dsn=other_dsn)
        assert busy.returncode == 1
        assert "of a running chatd use" in busy.stderr and "stop chatd" in busy.stderr

    refused = _chatd(tmp_path, "restore", str(backup), dsn=other_dsn)
    assert refused.returncode == 1
    assert "already holds users or messages: restore --force replaces them" in refused.stderr
    forced = _chatd(tmp_path, "restore", "--force", str(backup), dsn=other_dsn)
    assert forced.returncode == 0, forced.stderr
    async with running(config) as server:
        assert await _history(server.http_port, server.tcp_port) == before


def test_restore_refuses_what_is_not_a_chatd_backup(tmp_path: Path, database_dsn: str) -> None:
    """A file pg_restore cannot read is refused in one line, and the database is untouched."""
    junk = tmp_path / "junk.dump"
    junk.write_bytes(b"not a dump")
    result = _chatd(tmp_path, "restore", str(junk), dsn=database_dsn)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"chatd: {junk} is not a backup pg_restore can read" in result.stderr
    missing = _chatd(tmp_path, "restore", str(tmp_path / "nope.dump"), dsn=database_dsn)
    assert missing.returncode == 1 and "nope.dump: no such file" in missing.stderr


@asynccontextmanager
async def _serving(tmp_path: Path, data: str) -> AsyncIterator[tuple[int, int]]:
    """`chatd serve` on the embedded database of ``tmp_path/data``; its two ports. Stopped
    with SIGTERM, which must exit 0."""
    env = {"CHATD_SERVER_DATA_DIR": str(tmp_path / data), "CHATD_HTTP_PORT": "0",
           "CHATD_TCP_PORT": "0"}
    log_path = tmp_path / f"{data}.log"
    async with serving(tmp_path, env, log_path) as (process, http_port, tcp_port):
        yield http_port, tcp_port
        process.send_signal(signal.SIGTERM)
        with trio.fail_after(30):
            assert await process.wait() == 0, log_path.read_text()


@pytest.mark.slow
async def test_round_trip_of_the_embedded_database(tmp_path: Path) -> None:
    """Embedded: a backup works while chatd runs (which goes on serving) and while it is
    stopped; restoring into a fresh data directory makes its database, with the same users
    and history, and the next message gets the next seq."""
    running_backup = tmp_path / "running.dump"
    stopped_backup = tmp_path / "stopped.dump"
    async with _serving(tmp_path, "data") as (http_port, tcp_port):
        await _fill(http_port, tcp_port)
        before = await _history(http_port, tcp_port)
        made = await _chatd_async(tmp_path, "backup", str(running_backup))
        assert made.returncode == 0, made.stderr
        assert made.stderr.startswith(
            f"chatd: using the embedded PostgreSQL in {tmp_path / 'data' / 'postgres'}")
        assert await _history(http_port, tcp_port) == before  # still serving
    made = _chatd(tmp_path, "backup", str(stopped_backup))
    assert made.returncode == 0, made.stderr
    _assert_private(running_backup)
    _assert_private(stopped_backup)
    users = _chatd(tmp_path, "user", "list").stdout
    assert "ann" in users

    restored = _chatd(tmp_path, "restore", str(running_backup), data="fresh")
    assert restored.returncode == 0, restored.stderr
    assert _chatd(tmp_path, "user", "list", data="fresh").stdout == users
    async with _serving(tmp_path, "fresh") as (http_port, tcp_port):
        assert await _history(http_port, tcp_port) == before
        assert await _send_next(http_port, tcp_port) == 4
    again = _chatd(tmp_path, "restore", str(stopped_backup), data="fresh")
    assert again.returncode == 1 and "--force" in again.stderr


@pytest.mark.parametrize(
    ("dsn", "dbname", "password"),
    [
        ("postgresql://chatd:s3cret@db:5432/chatd", "postgresql://chatd@db:5432/chatd",
         "s3cret"),
        ("postgresql://chatd@db/chatd?password=s3cret&sslmode=require",
         "postgresql://chatd@db/chatd?sslmode=require", "s3cret"),
        ("postgresql://chatd:change%20me@db/chatd", "postgresql://chatd@db/chatd", "change me"),
        ("postgresql://postgres:@/postgres?host=/tmp/x/postgres",
         "postgresql://postgres@/postgres?host=/tmp/x/postgres", None),
    ],
)
def test_the_password_goes_in_the_environment(dsn: str, dbname: str,
                                              password: str | None) -> None:
    """pg_dump and pg_restore get the DSN without its password (ps shows command lines)."""
    from chatd.storage.backup import _Target

    shown, env = _Target(dsn, embedded=False).tool_args()
    assert shown == dbname
    assert env.get("PGPASSWORD") == (password or os.environ.get("PGPASSWORD"))

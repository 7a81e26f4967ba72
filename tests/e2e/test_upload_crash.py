"""End-to-end: a daemon killed with SIGKILL while uploads stream in leaves no file row without
its bytes, and every upload and message it acknowledged downloads the same bytes after a
restart; what the kill left in ``files/tmp`` is swept at the next start.

The daemon runs as a real subprocess (``python -m chatd serve``) on the session's embedded
PostgreSQL, as in ``test_crash.py``. Rules: 127.0.0.1 and port 0 only; every wait is bounded;
the disk is polled for the state the test waits for (an upload under way), never a fixed
sleep.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

import asyncpg
import h11
import trio

from chatd.files import LocalStore
from tests.client import Client, http, register_and_login
from tests.e2e.conftest import START_TIMEOUT, Daemon
from tests.helpers import serving
from tests.http.test_uploads import multipart

STEP_TIMEOUT = 60
LARGE = 20 * 1024 * 1024  # the upload the kill lands in
UPLOADERS = 3  # tasks uploading small files meanwhile, so that the kill lands among them
_GONE = (OSError, trio.BrokenResourceError, trio.ClosedResourceError, h11.ProtocolError,
         trio.TooSlowError)


@asynccontextmanager
async def _daemon(tmp_path: Path, dsn: str, name: str) -> AsyncIterator[Daemon]:
    env = {"CHATD_DATABASE_DSN": dsn, "CHATD_SERVER_DATA_DIR": str(tmp_path / "data"),
           "CHATD_HTTP_PORT": "0", "CHATD_TCP_PORT": "0",
           "CHATD_LIMITS_UPLOADS_PER_MINUTE": "1000000"}
    async with serving(tmp_path, env, tmp_path / f"{name}.log", start_within=START_TIMEOUT) as (
            process, http_port, tcp_port):
        yield Daemon(process, http_port=http_port, tcp_port=tcp_port)


async def _upload(port: int, token: str, data: bytes, name: str) -> dict[str, Any]:
    body, headers = multipart(data, filename=name, content_type="application/octet-stream")
    status, answer = await http(port, "POST", "/api/rooms/team/files", token=token, raw=body,
                                headers=headers)
    assert status == 201, answer
    file: dict[str, Any] = answer["file"]
    return file


async def _rows(dsn: str) -> list[dict[str, Any]]:
    async def fetch() -> list[dict[str, Any]]:
        conn = await asyncpg.connect(dsn)
        try:
            rows = await conn.fetch("SELECT id, sha256, size FROM files "
                                    "WHERE deleted_at IS NULL ORDER BY id")
        finally:
            await conn.close()
        return [dict(row) for row in rows]

    return await trio.to_thread.run_sync(asyncio.run, fetch())


def _check_every_row_has_its_bytes(store: LocalStore, rows: list[dict[str, Any]]) -> None:
    for row in rows:
        path = store.path(row["sha256"])
        assert path.is_file(), f"file {row['id']}: no bytes at {path}"
        data = path.read_bytes()
        assert len(data) == row["size"], f"file {row['id']}: {len(data)} bytes"
        assert hashlib.sha256(data).hexdigest() == row["sha256"], f"file {row['id']}"


async def test_sigkill_amid_uploads_loses_no_acknowledged_file(tmp_path: Path,
                                                               database_dsn: str) -> None:
    """SIGKILL while a 20 MiB upload streams and small ones come and go: every row has whole
    bytes at its content path (before and after the restart), the acknowledged message's file
    and every acknowledged upload download the same bytes afterwards, and the temporary files
    the kill left are swept at the next start."""
    store = LocalStore(tmp_path / "data" / "files")
    acked: list[tuple[dict[str, Any], bytes]] = []
    async with _daemon(tmp_path, database_dsn, "first") as daemon:
        port = daemon.http_port
        with trio.fail_after(STEP_TIMEOUT):
            token = await register_and_login(port, "ann")
            assert (await http(port, "POST", "/api/rooms", {"room": "team"}, token=token)
                    )[0] == 201
            ann = await Client.tcp(daemon.tcp_port)
            await ann.hello(token)
            attached_data = os.urandom(300_000)
            attached = await _upload(port, token, attached_data, "attached.bin")
            sent = await ann.request("send", room="team", text="", nonce="before-the-kill",
                                     files=[attached["id"]])
            assert sent["op"] == "ok", sent
            await ann.aclose()

        async def upload_small_files(index: int) -> None:
            for n in range(10_000):
                data = os.urandom(64 * 1024 * (1 + n % 8))
                try:
                    file = await _upload(port, token, data, f"u{index}-{n}.bin")
                except _GONE:
                    return  # the daemon is gone
                acked.append((file, data))

        async def stream_the_large_one(stream: trio.SocketStream) -> None:
            body, headers = multipart(os.urandom(LARGE), filename="large.bin")
            head = "".join(f"{k}: {v}\r\n" for k, v in [
                ("Host", "127.0.0.1"), ("Authorization", f"Bearer {token}"),
                ("Content-Length", str(len(body))), *headers])
            with suppress(*_GONE):
                await stream.send_all(f"POST /api/rooms/team/files HTTP/1.1\r\n{head}\r\n"
                                      .encode() + body)

        def large_part_under_way() -> bool:
            # A small upload's part may be renamed between the listing and its stat.
            return any(_size(p) >= 4 * 1024 * 1024 for p in store.tmp_dir.glob("*.part"))

        with trio.fail_after(STEP_TIMEOUT):
            stream = await trio.open_tcp_stream("127.0.0.1", port)
            async with trio.open_nursery() as nursery:
                for index in range(UPLOADERS):
                    nursery.start_soon(upload_small_files, index)
                nursery.start_soon(stream_the_large_one, stream)
                while not large_part_under_way():  # noqa: ASYNC110 (the disk)
                    await trio.sleep(0.01)
                daemon.process.send_signal(signal.SIGKILL)
                assert await daemon.process.wait() == -signal.SIGKILL
            await stream.aclose()

    leftovers = list(store.tmp_dir.glob("*.part"))
    assert leftovers, "the large upload's temporary file"
    rows = await _rows(database_dsn)
    assert {row["id"] for row in rows} >= {attached["id"]} | {f["id"] for f, _ in acked}
    _check_every_row_has_its_bytes(store, rows)
    for leftover in leftovers:
        os.utime(leftover, (1, 1))  # as if it had gone unwritten for longer than the sweep waits

    async with _daemon(tmp_path, database_dsn, "second") as daemon:
        assert list(store.tmp_dir.glob("*.part")) == []  # swept at start
        with trio.fail_after(STEP_TIMEOUT):
            port = daemon.http_port
            bob = await register_and_login(port, "bob")
            assert await http(port, "GET", attached["url"], token=token) == (200, attached_data)
            # still attached to its message: anyone may read a public room's files
            assert await http(port, "GET", attached["url"], token=bob) == (200, attached_data)
            for file, data in acked:
                assert await http(port, "GET", file["url"], token=token) == (200, data)
            after = await _upload(port, token, b"after the crash", "after.txt")
            assert await http(port, "GET", after["url"], token=token) == \
                (200, b"after the crash")
    _check_every_row_has_its_bytes(store, await _rows(database_dsn))


def _size(path: Path) -> int:
    """The file's size, or 0 if it is gone (renamed into the store, or removed)."""
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0

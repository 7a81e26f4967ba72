"""Uploads to rooms and downloads of files (chatd/http/uploads.py), over real sockets against
the real database.

Rules as in ``test_http.py``: 127.0.0.1, port 0, ``trio.fail_after`` around all I/O. The
daemon's store (its files folder, or a bucket) and temporary folder are inspected directly
to show what a refused or cut upload leaves. The tests of the main rules (a round trip with
a range, identical uploads stored once, the size limit, the quota) run against both stores
(``any_daemon``); the rest against the files folder.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tracemalloc
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trio
from prometheus_client.parser import text_string_to_metric_families

from chatd.actions import App
from chatd.config import Config
from chatd.files import LocalStore, collect
from chatd.metrics import UPLOAD_RESULTS
from chatd.storage import NewChange, NewMessage
from chatd.storage.base import Storage
from tests.filestores import stored
from tests.http.serving import serve_http
from tests.http.test_http import Client, Response
from tests.http.test_streaming import BLOCK, Exchange, MiB
from tests.storage.test_postgres import appended

TIMEOUT = 20
MAX_BYTES = 256 * 1024
QUOTA_BYTES = 600 * 1024
BOUNDARY = "chatd-test-boundary-7MA4YWxkTrZu0gW"


def multipart(data: bytes, *, filename: str | bytes = "notes.txt",
              content_type: str | None = "text/plain", name: str = "file",
              extra: bytes = b"") -> tuple[bytes, list[tuple[str, str]]]:
    """A multipart/form-data body with one part, and its Content-Type header."""
    raw_name = filename if isinstance(filename, bytes) else filename.encode()
    head = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"; "
            f"filename=\"").encode() + raw_name + b'"\r\n'
    if content_type is not None:
        head += f"Content-Type: {content_type}\r\n".encode()
    body = head + b"\r\n" + data + f"\r\n--{BOUNDARY}--\r\n".encode() + extra
    return body, [("Content-Type", f"multipart/form-data; boundary={BOUNDARY}")]


@dataclass
class Daemon:
    port: int
    storage: Storage
    files: Path  # data_dir/files: the local store's folder, and uploads in progress (tmp)
    app: App

    async def call(self, method: str, target: str, **kwargs: Any) -> Response:
        client = await Client.open(self.port)
        try:
            with trio.fail_after(TIMEOUT):
                return await client.request(method, target, **kwargs)
        finally:
            await client.aclose()

    async def user(self, name: str) -> str:
        body = {"username": name, "password": "correct horse"}
        assert (await self.call("POST", "/api/register", json_body=body)).status == 201
        response = await self.call("POST", "/api/login", json_body=body)
        token: str = response.json()["token"]
        return token

    async def room(self, token: str, name: str, *, private: bool = False) -> None:
        response = await self.call("POST", "/api/rooms", token=token,
                                   json_body={"room": name, "private": private})
        assert response.status == 201, response.body

    async def upload(self, token: str | None, room: str, data: bytes, **part: Any) -> Response:
        body, headers = multipart(data, **part)
        return await self.call("POST", f"/api/rooms/{room}/files", token=token, body=body,
                               headers=headers)

    def stored(self) -> list[str]:
        """The SHA-256s of the bytes in the store (not uploads in progress)."""
        return stored(self.app.files)

    def temporary(self) -> list[Path]:
        return sorted((self.files / "tmp").glob("*")) if (self.files / "tmp").is_dir() else []


async def start_daemon(nursery: trio.Nursery, storage: Storage, tmp_path: Path,
                       **sections: dict[str, Any]) -> Daemon:
    """The HTTP daemon on ``storage`` with its data in ``tmp_path``, bodies of JSON up to 4 KiB
    and requests timed out after 5 s, and the configuration's ``sections`` as given."""
    config = Config().replace(
        server={"data_dir": str(tmp_path / "data")},
        http={"max_body_bytes": 4096, "request_timeout": 5.0}, **sections)
    served = await serve_http(nursery, storage, config)
    return Daemon(served.port, storage, config.files_dir, served.app)


async def _start(nursery: trio.Nursery, storage: Storage, tmp_path: Path,
                 **files: Any) -> Daemon:
    return await start_daemon(nursery, storage, tmp_path,
                              files={"max_bytes": MAX_BYTES, "quota_bytes": QUOTA_BYTES, **files})


@pytest.fixture
async def daemon(nursery: trio.Nursery, storage: Storage, tmp_path: Path
                 ) -> AsyncIterator[Daemon]:
    yield await _start(nursery, storage, tmp_path)
    nursery.cancel_scope.cancel()


@pytest.fixture
async def any_daemon(nursery: trio.Nursery, storage: Storage, tmp_path: Path,
                     store_settings: dict[str, str]) -> AsyncIterator[Daemon]:
    """The daemon with each store in turn: the files folder, a bucket."""
    yield await _start(nursery, storage, tmp_path, **store_settings)
    nursery.cancel_scope.cancel()


async def test_round_trip_is_byte_exact(any_daemon: Daemon) -> None:
    """An upload answers 201 with the file object; its url gives the same bytes back, with
    the caching and safety headers, whole or a range of them, and HEAD the same head; the
    bytes are stored under their SHA-256, nothing left in tmp."""
    daemon = any_daemon
    alice = await daemon.user("alice")
    await daemon.room(alice, "general")
    data = os.urandom(200 * 1024 + 13)
    response = await daemon.upload(alice, "general", data, filename="report.bin",
                                   content_type="Application/Octet-Stream; x=1")
    assert response.status == 201, response.body
    file = response.json()["file"]
    assert file["name"] == "report.bin" and file["size"] == len(data)
    assert file["content_type"] == "application/octet-stream"
    assert file["url"] == f"/api/files/{file['id']}/report.bin"
    got = await daemon.call("GET", file["url"], token=alice)
    assert got.status == 200 and got.body == data
    digest = hashlib.sha256(data).hexdigest()
    assert got.headers["etag"] == f'"{digest}"'
    assert got.headers["cache-control"] == "private, max-age=31536000, immutable"
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["content-security-policy"] == "sandbox; default-src 'none'"
    assert got.headers["content-disposition"].startswith("attachment;")
    assert daemon.stored() == [digest]
    assert daemon.temporary() == []
    ranged = await daemon.call("GET", file["url"], token=alice, headers=[("Range", "bytes=5-9")])
    assert ranged.status == 206 and ranged.body == data[5:10]
    assert ranged.headers["content-range"] == f"bytes 5-9/{len(data)}"
    tail = await daemon.call("GET", file["url"], token=alice, headers=[("Range", "bytes=-7")])
    assert tail.status == 206 and tail.body == data[-7:]
    stale = await daemon.call("GET", file["url"], token=alice,
                              headers=[("Range", "bytes=0-1"), ("If-Range", '"other"')])
    assert stale.status == 200 and stale.body == data
    past = await daemon.call("GET", file["url"], token=alice,
                             headers=[("Range", f"bytes={len(data)}-")])
    assert past.status == 416 and past.headers["content-range"] == f"bytes */{len(data)}"
    cached = await daemon.call("GET", file["url"], token=alice,
                               headers=[("If-None-Match", f'"{digest}"')])
    assert cached.status == 304 and cached.body == b""
    head = await daemon.call("HEAD", file["url"], token=alice)
    assert head.status == 200 and head.body == b""
    assert head.headers["content-length"] == str(len(data))
    assert head.headers["accept-ranges"] == "bytes"


async def test_identical_uploads_share_the_bytes(any_daemon: Daemon) -> None:
    """Two uploads of the same bytes are two files stored once."""
    daemon = any_daemon
    alice = await daemon.user("alice")
    await daemon.room(alice, "general")
    first = (await daemon.upload(alice, "general", b"same")).json()["file"]
    second = (await daemon.upload(alice, "general", b"same", filename="b.txt")).json()["file"]
    assert first["id"] != second["id"]
    assert len(daemon.stored()) == 1


async def test_too_large_leaves_nothing(any_daemon: Daemon) -> None:
    """A file over files.max_bytes is 413 too_large, and leaves no file, temporary or not."""
    daemon = any_daemon
    alice = await daemon.user("alice")
    await daemon.room(alice, "general")
    response = await daemon.upload(alice, "general", b"x" * (MAX_BYTES + 1))
    assert response.status == 413 and response.json()["code"] == "too_large"
    assert daemon.stored() == [] and daemon.temporary() == []
    exact = await daemon.upload(alice, "general", b"x" * MAX_BYTES)
    assert exact.status == 201


async def test_quota(any_daemon: Daemon) -> None:
    """Uploads past files.quota_bytes are 413 with a message naming the quota; others' files
    do not count."""
    daemon = any_daemon
    alice = await daemon.user("alice")
    bob = await daemon.user("bob")
    await daemon.room(alice, "general")
    assert (await daemon.call("POST", "/api/rooms", token=bob,
                              json_body={"room": "other"})).status == 201
    for index in range(2):
        response = await daemon.upload(alice, "general", os.urandom(MAX_BYTES))
        assert response.status == 201, index
    over = await daemon.upload(alice, "general", os.urandom(QUOTA_BYTES - 2 * MAX_BYTES + 1))
    assert over.status == 413 and "quota" in over.json()["message"]
    assert daemon.temporary() == []
    fits = await daemon.upload(alice, "general", os.urandom(QUOTA_BYTES - 2 * MAX_BYTES))
    assert fits.status == 201
    full = await daemon.upload(alice, "general", b"1")
    assert full.status == 413 and "quota" in full.json()["message"]
    assert (await daemon.upload(bob, "other", b"bob's")).status == 201


@pytest.mark.parametrize(("filename", "kept"), [
    ("../../etc/passwd", "passwd"),
    ("..\\..\\windows\\system.ini", "system.ini"),
    ("..", "file"),
    ("", "file"),
    (b"evil\x00name.txt", "evilname.txt"),
    ("a\u202etxt.exe", "atxt.exe"),
    ("line\tbreak\x07\x1b.txt", "linebreak.txt"),
    ("x" * 500 + ".png", "x" * 196 + ".png"),
])
async def test_names_are_sanitised(daemon: Daemon, filename: str | bytes, kept: str) -> None:
    """Path components, NUL and control characters go, long names are cut; the name is never
    a path: nothing is written outside the content paths."""
    alice = await daemon.user("alice")
    await daemon.room(alice, "general")
    response = await daemon.upload(alice, "general", b"data", filename=filename)
    assert response.status == 201, response.body
    file = response.json()["file"]
    assert file["name"] == kept
    got = await daemon.call("GET", file["url"], token=alice)
    assert got.status == 200 and got.body == b"data"
    assert "\r" not in got.headers["content-disposition"]
    everything = [p.name for p in daemon.files.parent.rglob("*") if p.is_file()
                  and daemon.files in p.parents]
    assert everything == daemon.stored()


@pytest.mark.parametrize(("declared", "served", "disposition"), [
    ("text/html", "application/octet-stream", "attachment"),
    ("image/svg+xml", "application/octet-stream", "attachment"),
    ("application/xhtml+xml", "application/octet-stream", "attachment"),
    ("text/javascript", "application/octet-stream", "attachment"),
    ("image/png", "image/png", "inline"),
    ("image/webp", "image/webp", "inline"),
    ("text/plain", "text/plain", "attachment"),
    ("not a type", "application/octet-stream", "attachment"),
    (None, "application/octet-stream", "attachment"),
])
async def test_documents_are_never_served_inline(daemon: Daemon, declared: str | None,
                                                 served: str, disposition: str) -> None:
    """HTML and SVG (and any document or script) go out as attachment and octet-stream, with
    nosniff and a sandboxing CSP; only raster images may be inline."""
    alice = await daemon.user("alice")
    await daemon.room(alice, "general")
    data = b"<html><script>alert(document.cookie)</script></html>"
    response = await daemon.upload(alice, "general", data, filename="page.html",
                                   content_type=declared)
    assert response.status == 201
    got = await daemon.call("GET", response.json()["file"]["url"], token=alice)
    assert got.status == 200 and got.body == data
    assert got.headers["content-type"] == served
    assert got.headers["content-disposition"].split(";")[0] == disposition
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["content-security-policy"] == "sandbox; default-src 'none'"


async def test_who_may_upload_and_download(daemon: Daemon) -> None:
    """Uploads need a token (401) and membership (403; 404 for no room); a private room's
    files are 404 to a non-member; a file not attached yet is its uploader's only, even in a
    public room."""
    alice = await daemon.user("alice")
    bob = await daemon.user("bob")
    await daemon.room(alice, "secret", private=True)
    await daemon.room(alice, "general")
    assert (await daemon.upload(None, "secret", b"x")).status == 401
    assert (await daemon.upload(bob, "secret", b"x")).status == 403
    assert (await daemon.upload(bob, "general", b"x")).status == 403
    assert (await daemon.upload(bob, "nowhere", b"x")).status == 404
    secret = (await daemon.upload(alice, "secret", b"private bytes")).json()["file"]
    public = (await daemon.upload(alice, "general", b"public bytes")).json()["file"]
    assert (await daemon.call("GET", secret["url"])).status == 401
    refused = await daemon.call("GET", secret["url"], token=bob)
    assert refused.status == 404 and b"private" not in refused.body
    assert (await daemon.call("GET", f"/api/files/{secret['id'] + 1000}/x", token=alice)
            ).status == 404
    assert (await daemon.call("GET", public["url"], token=bob)).status == 404
    assert (await daemon.call("GET", public["url"], token=alice)).body == b"public bytes"
    assert (await daemon.call("GET", secret["url"], token=alice)).body == b"private bytes"


@pytest.mark.parametrize(("body", "headers"), [
    (b"just bytes", [("Content-Type", "application/octet-stream")]),
    (b"no boundary", [("Content-Type", "multipart/form-data")]),
    (multipart(b"x", name="other")[0], multipart(b"x")[1]),
    (multipart(b"x")[0][:-8], multipart(b"x")[1]),
    (f"--{BOUNDARY}\r\nnot a header line\r\n\r\nx".encode(), multipart(b"x")[1]),
    (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nx\r\n"
     f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\ny\r\n"
     f"--{BOUNDARY}--\r\n".encode(), multipart(b"x")[1]),
])
async def test_bad_multipart_is_400(daemon: Daemon, body: bytes,
                                    headers: list[tuple[str, str]],
                                    caplog: pytest.LogCaptureFixture) -> None:
    """A body that is not one complete part named 'file' is 400 bad_request, leaving no file
    and nothing in the server's log (which a client could otherwise fill)."""
    alice = await daemon.user("alice")
    await daemon.room(alice, "general")
    response = await daemon.call("POST", "/api/rooms/general/files", token=alice, body=body,
                                 headers=headers)
    assert response.status == 400, response.body
    assert response.json()["code"] == "bad_request"
    assert daemon.stored() == [] and daemon.temporary() == []
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_cut_upload_leaves_nothing(daemon: Daemon) -> None:
    """An upload whose client goes away halfway leaves no row, no file and no temporary
    file."""
    alice = await daemon.user("alice")
    await daemon.room(alice, "general")
    body, headers = multipart(os.urandom(MAX_BYTES))
    with trio.fail_after(TIMEOUT):
        stream = await trio.open_tcp_stream("127.0.0.1", daemon.port)
        head = "".join(f"{k}: {v}\r\n" for k, v in [
            ("Host", "127.0.0.1"), ("Authorization", f"Bearer {alice}"),
            ("Content-Length", str(len(body))), *headers])
        await stream.send_all(f"POST /api/rooms/general/files HTTP/1.1\r\n{head}\r\n".encode()
                              + body[:len(body) // 2])
        while not daemon.temporary():  # noqa: ASYNC110 (the disk: the upload has begun)
            await trio.sleep(0.01)
        await stream.aclose()
        while daemon.temporary():  # noqa: ASYNC110 (the disk: the handler cleaned up)
            await trio.sleep(0.01)
    assert daemon.stored() == []
    fresh = await daemon.upload(alice, "general", b"after")
    assert fresh.json()["file"]["id"] > 0


def test_sweep_removes_only_stale_temporary_files(tmp_path: Path) -> None:
    """Start-up's sweep removes temporary files unwritten for an hour, not younger ones
    (another process sharing the folder may be writing them)."""
    store = LocalStore(tmp_path)
    stale = store.open_upload()
    stale.write(b"half")
    young = store.open_upload()
    os.utime(stale.path, (1, 1))
    assert store.sweep() == 1
    assert not stale.path.exists() and young.path.exists()
    young.discard()
    stale.discard()


async def test_upload_memory_stays_flat(nursery: trio.Nursery, storage: Storage,
                                        tmp_path: Path) -> None:
    """A 24 MiB upload is stored byte for byte while the process's Python allocations peak
    far below its size: the file is never held in memory."""
    daemon = await _start(nursery, storage, tmp_path, max_bytes=25 * MiB,
                          quota_bytes=100 * MiB)
    alice = await daemon.user("alice")
    await daemon.room(alice, "general")
    blocks = 24 * MiB // len(BLOCK)
    head, headers = multipart(b"")
    head, tail = head.split(b"\r\n\r\n\r\n", 1)
    head += b"\r\n\r\n"
    tail = b"\r\n" + tail
    length = len(head) + blocks * len(BLOCK) + len(tail)
    digest = hashlib.sha256()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        with trio.fail_after(120):
            exchange = await Exchange.open(daemon.port, "POST", "/api/rooms/general/files", [
                *headers, ("Authorization", f"Bearer {alice}"), ("Content-Length", str(length))])
            async with exchange.stream:
                await exchange.send(head)
                for _ in range(blocks):
                    digest.update(BLOCK)
                    await exchange.send(BLOCK)
                await exchange.send(tail)
                await exchange.end()
                response = await exchange.response()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status == 201, response.body
    assert response.json()["file"]["size"] == 24 * MiB
    assert daemon.stored() == [digest.hexdigest()]
    assert peak < 5 * MiB, f"{peak} bytes allocated at the peak of a 24 MiB upload"


async def test_file_metrics(daemon: Daemon) -> None:
    """/metrics counts uploads by result and their bytes, downloads (200 and 206 to a GET:
    not a HEAD, nor a 304) and their bytes, and the files and bytes collection removed."""
    alice = await daemon.user("alice")
    await daemon.room(alice, "general")
    data = os.urandom(5000)
    file = (await daemon.upload(alice, "general", data)).json()["file"]
    assert (await daemon.upload(alice, "general", b"again", filename="b")).status == 201
    assert (await daemon.upload(alice, "general", b"x" * (MAX_BYTES + 1))).status == 413
    assert (await daemon.upload(alice, "general", b"x", name="other")).status == 400
    assert (await daemon.upload(None, "general", b"x")).status == 401
    assert (await daemon.call("GET", file["url"], token=alice)).status == 200
    assert (await daemon.call("GET", file["url"], token=alice,
                              headers=[("Range", "bytes=0-99")])).status == 206
    assert (await daemon.call("HEAD", file["url"], token=alice)).status == 200
    assert (await daemon.call("GET", file["url"], token=alice,
                              headers=[("If-None-Match", f'"{hashlib.sha256(data).hexdigest()}"')])
            ).status == 304
    credentials = await daemon.storage.get_credentials("alice")
    assert credentials is not None
    [sent] = await daemon.storage.append_messages([NewMessage(
        user_id=credentials.user.id, room="general", text="", nonce="n", files=(file["id"],))])
    [deleted] = await daemon.storage.append_messages([NewChange(
        user_id=credentials.user.id, room="general", msg_id=appended(sent).message.msg_id,
        kind="deleted")])
    appended(deleted)
    with trio.fail_after(TIMEOUT):
        assert await collect(daemon.storage, daemon.app.files, metrics=daemon.app.metrics) == 1
    response = await daemon.call("GET", "/metrics")
    assert response.status == 200
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.body.decode())
        for sample in family.samples
    }

    def uploads(result: str) -> float:
        return samples[("chatd_file_uploads_total", (("result", result),))]

    assert [uploads(result) for result in UPLOAD_RESULTS] == [2, 1, 1, 1, 0]
    assert samples[("chatd_file_upload_bytes_total", ())] == len(data) + len(b"again")
    assert samples[("chatd_file_downloads_total", ())] == 2
    assert samples[("chatd_file_download_bytes_total", ())] == len(data) + 100
    assert samples[("chatd_files_collected_total", ())] == 1
    assert samples[("chatd_file_collected_bytes_total", ())] == len(data)


async def test_uploads_racing_for_the_last_of_a_quota_leave_one_file(
        nursery: trio.Nursery, storage: Storage, tmp_path: Path) -> None:
    """Uploads at once that each fit the quota's rest when they start, but not all together:
    those whose row the quota refuses once their bytes are in (413 too_large) leave no bytes
    in the store (chatd.files.unplace), only the winners' are kept."""
    size = 1000
    daemon = await _start(nursery, storage, tmp_path, quota_bytes=size * 3 // 2)
    alice = await daemon.user("alice")
    await daemon.room(alice, "general")
    bodies = [os.urandom(size) for _ in range(4)]
    answers: list[Any] = [None] * len(bodies)

    async def upload(index: int) -> None:
        answers[index] = await daemon.upload(alice, "general", bodies[index])

    async with trio.open_nursery() as uploads:
        for index in range(len(bodies)):
            uploads.start_soon(upload, index)
    statuses = sorted(answer.status for answer in answers)
    assert statuses == [201] + [413] * (len(bodies) - 1), statuses
    [won] = [bodies[i] for i, answer in enumerate(answers) if answer.status == 201]
    assert daemon.stored() == [hashlib.sha256(won).hexdigest()]
    assert daemon.temporary() == []
    nursery.cancel_scope.cancel()

"""Streamed request bodies and file replies of the HTTP front, over real sockets.

The routes under test are the test's own (:func:`test_routes`): an upload that streams its
body to a file, one that answers without reading its body, and a file download. They sit in
``ROUTES`` for the test's duration only. Rules as in ``test_http.py``: 127.0.0.1, port 0,
``trio.fail_after`` around all I/O; "the server closed" is shown by reading to end of file.
Memory is measured in-process with tracemalloc (the server runs in the test's process): the
peak of Python allocations while a 50 MiB body goes through, a state, not a time.
"""

from __future__ import annotations

import hashlib
import os
import re
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import h11
import pytest
import trio

from chatd.actions import App
from chatd.config import Config
from chatd.http.messages import BodyError, FileReply, Reply, Request, RequestBody, json_reply
from chatd.http.routes import ROUTES, Route, Streaming
from chatd.storage.base import Storage
from tests.http.serving import serve_http
from tests.http.test_http import Client, Response

TIMEOUT = 20
MiB = 1024 * 1024
SMALL_MAX = 1 * MiB  # the limit of /test/small
BIG_MAX = 64 * MiB  # the limit of /test/upload
BLOCK = os.urandom(65536)
FILE_ETAG = b'"v1"'


# -- the test's routes ---------------------------------------------------------------------


@dataclass
class Uploads:
    """What the upload handlers saw: one outcome per request, and the folder they write to."""

    folder: Path
    outcomes: list[dict[str, Any]] = field(default_factory=list)
    ended: trio.Event = field(default_factory=trio.Event)

    def record(self, outcome: dict[str, Any]) -> None:
        self.outcomes.append(outcome)
        self.ended.set()

    async def wait(self) -> dict[str, Any]:
        """The outcome of the one upload, once its handler has returned."""
        await self.ended.wait()
        return self.outcomes[-1]


async def _upload(uploads: Uploads, request: Request, body: RequestBody, app: App,
                  params: dict[str, str]) -> Reply:
    """Stream the body to a file (removed if the body fails): 201 {size, sha256}. With
    ``?read=no``, 403 at once without reading the body (a refused upload)."""
    if request.query.get("read") == ["no"]:
        uploads.record({"read": False})
        return json_reply(403, {"code": "forbidden", "message": "not yours"})
    path = uploads.folder / f"upload-{len(uploads.outcomes)}"
    digest = hashlib.sha256()
    try:
        async with await trio.open_file(path, "wb") as file:
            async for chunk in body:
                digest.update(chunk)
                await file.write(chunk)
    except BodyError as exc:
        path.unlink()
        uploads.record({"failed": exc.reply.status, "received": body.received})
        raise
    uploads.record({"size": body.received, "sha256": digest.hexdigest(), "length": body.length})
    return json_reply(201, {"size": path.stat().st_size, "sha256": digest.hexdigest()})


async def _download(path: Path, request: Request, app: App, params: dict[str, str]) -> FileReply:
    return FileReply(path, b"application/octet-stream", FILE_ETAG,
                     [(b"cache-control", b"private, max-age=31536000, immutable")])


@pytest.fixture
def uploads(tmp_path: Path) -> Uploads:
    (tmp_path / "uploads").mkdir()
    return Uploads(tmp_path / "uploads")


@pytest.fixture
def served_file(tmp_path: Path) -> tuple[Path, bytes]:
    """A 200 KiB file of random bytes (several chunks) for the download route."""
    data = os.urandom(200 * 1024 + 7)
    path = tmp_path / "served.bin"
    path.write_bytes(data)
    return path, data


@pytest.fixture
def test_routes(uploads: Uploads, served_file: tuple[Path, bytes]) -> Iterator[None]:
    """The test's routes, first in the table for the test's duration."""
    path, _ = served_file
    added = [
        Route(re.compile(r"/test/upload"),
              {"POST": Streaming(partial(_upload, uploads), lambda config: BIG_MAX)}),
        Route(re.compile(r"/test/small"),
              {"POST": Streaming(partial(_upload, uploads), lambda config: SMALL_MAX)}),
        Route(re.compile(r"/test/file"), {"GET": partial(_download, path)}),
        Route(re.compile(r"/test/missing"), {"GET": partial(_download, path.with_name("no"))}),
    ]
    ROUTES[:0] = added
    try:
        yield
    finally:
        for route in added:
            ROUTES.remove(route)


Start = Callable[..., Awaitable[int]]


@pytest.fixture
async def start(nursery: trio.Nursery, storage: Storage, tmp_path: Path,
                test_routes: None) -> AsyncIterator[Start]:
    """``await start(**http)``: a server with those ``[http]`` keys; its port."""

    async def start(**http: Any) -> int:
        config = Config().replace(
            server={"data_dir": str(tmp_path / "data")},
            http={"max_body_bytes": 4096, "request_timeout": 5.0, **http},
        )
        return (await serve_http(nursery, storage, config)).port

    yield start
    nursery.cancel_scope.cancel()


# -- a client that streams -------------------------------------------------------------------


class Exchange:
    """One request on its own connection whose body goes out piece by piece while the answer
    may come at any time (a server may answer before the body ends)."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.conn = h11.Connection(h11.CLIENT)

    @classmethod
    async def open(cls, port: int, method: str, target: str,
                   headers: Iterable[tuple[str, str]]) -> Exchange:
        exchange = cls(await trio.open_tcp_stream("127.0.0.1", port))
        request = h11.Request(method=method, target=target,
                              headers=[("Host", "127.0.0.1"), *headers])
        await exchange.stream.send_all(exchange.conn.send(request))
        return exchange

    async def send(self, data: bytes) -> None:
        await self.stream.send_all(self.conn.send(h11.Data(data=data)))

    async def end(self) -> None:
        await self.stream.send_all(self.conn.send(h11.EndOfMessage()))

    async def response(self, *, sink: Callable[[bytes], object] | None = None,
                       informational: list[int] | None = None) -> Response:
        """The answer; its body is handed to ``sink`` when given (and not kept)."""
        head: h11.Response | None = None
        body = bytearray()
        while True:
            event = self.conn.next_event()
            if event is h11.NEED_DATA:
                self.conn.receive_data(await self.stream.receive_some(65536))
            elif isinstance(event, h11.InformationalResponse):
                if informational is not None:
                    informational.append(event.status_code)
            elif isinstance(event, h11.Response):
                head = event
            elif isinstance(event, h11.Data):
                if sink is not None:
                    sink(event.data)
                else:
                    body += event.data
            elif isinstance(event, h11.EndOfMessage):
                assert head is not None
                headers = {k.decode(): v.decode() for k, v in head.headers}
                return Response(head.status_code, headers, bytes(body))
            else:
                raise AssertionError(f"unexpected {event!r}")

    async def until_closed(self) -> None:
        """Read until the server closes the connection (we never close first)."""
        while True:
            try:
                if not await self.stream.receive_some(65536):
                    return
            except trio.BrokenResourceError:  # a reset after the answer: closed all the same
                return

    async def aclose(self) -> None:
        await self.stream.aclose()


async def upload(port: int, target: str, blocks: int, *, chunked: bool = False,
                 block: bytes = BLOCK) -> tuple[Response, str]:
    """Send ``blocks`` times ``block`` and read the answer, sending and reading at once; the
    answer and the sha256 of what was sent."""
    headers = ([("Transfer-Encoding", "chunked")] if chunked
               else [("Content-Length", str(blocks * len(block)))])
    exchange = await Exchange.open(port, "POST", target, headers)
    digest = hashlib.sha256()
    async with exchange.stream, trio.open_nursery() as nursery:

        async def send_all() -> None:
            try:
                for _ in range(blocks):
                    digest.update(block)
                    await exchange.send(block)
                await exchange.end()
            except (trio.BrokenResourceError, h11.LocalProtocolError):
                pass  # answered early and closed

        nursery.start_soon(send_all)
        response = await exchange.response()
    return response, digest.hexdigest()


# -- uploads -----------------------------------------------------------------------------------


async def test_upload_streams_without_holding_the_body(start: Start, uploads: Uploads) -> None:
    """A 50 MiB upload reaches the handler's file byte for byte while the process's Python
    allocations peak far below the body's size (the body is never held in memory)."""
    port = await start()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        with trio.fail_after(120):
            response, sent = await upload(port, "/test/upload", 50 * MiB // len(BLOCK))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status == 201, response.body
    assert response.json() == {"size": 50 * MiB, "sha256": sent}
    assert uploads.outcomes == [{"size": 50 * MiB, "sha256": sent, "length": 50 * MiB}]
    assert peak < 5 * MiB, f"{peak} bytes allocated at the peak of a 50 MiB upload"


async def test_chunked_upload_and_keep_alive(start: Start, uploads: Uploads) -> None:
    """A chunked upload arrives whole (its length unknown to the handler); a body read to its
    end keeps the connection open for the next request."""
    port = await start()
    with trio.fail_after(TIMEOUT):
        response, sent = await upload(port, "/test/upload", 40, chunked=True)
        assert response.status == 201
        assert response.json() == {"size": 40 * len(BLOCK), "sha256": sent}
        assert uploads.outcomes[-1]["length"] is None
        client = await Client.open(port)
        try:
            for data in (b"first", b"", b"third" * 1000):
                answer = await client.request("POST", "/test/small", body=data)
                assert answer.json() == {"size": len(data),
                                         "sha256": hashlib.sha256(data).hexdigest()}
            assert (await client.request("GET", "/test/nothing-here")).status == 404
        finally:
            await client.aclose()


async def test_upload_larger_than_plain_bodies(start: Start) -> None:
    """A streaming route takes bodies past http.max_body_bytes (its own limit applies), while
    a plain route still refuses them."""
    port = await start()
    with trio.fail_after(TIMEOUT):
        response, _ = await upload(port, "/test/small", 2, block=b"x" * 10000)
        assert response.status == 201
        response, _ = await upload(port, "/api/login", 2, block=b"x" * 10000)
        assert response.status == 413


async def test_too_large_by_content_length(start: Start, uploads: Uploads) -> None:
    """A Content-Length over the route's limit is 413 too_large before any of the body is
    read or the handler runs, and the connection closes."""
    port = await start()
    with trio.fail_after(TIMEOUT):
        exchange = await Exchange.open(port, "POST", "/test/small",
                                       [("Content-Length", str(SMALL_MAX + 1))])
        async with exchange.stream:
            response = await exchange.response()
            assert response.status == 413
            assert response.json()["code"] == "too_large"
            assert response.headers["connection"] == "close"
            await exchange.until_closed()
    assert uploads.outcomes == []


async def test_too_large_while_streaming(start: Start, uploads: Uploads) -> None:
    """A chunked body that goes over the route's limit while it streams stops the handler
    (its partial file removed) and is answered 413 too_large, then the connection closes."""
    port = await start()
    with trio.fail_after(TIMEOUT):
        exchange = await Exchange.open(port, "POST", "/test/small",
                                       [("Transfer-Encoding", "chunked")])
        async with exchange.stream, trio.open_nursery() as nursery:

            async def send_until_refused() -> None:
                try:
                    for _ in range(SMALL_MAX // len(BLOCK) + 4):
                        await exchange.send(BLOCK)
                except trio.BrokenResourceError:
                    pass

            nursery.start_soon(send_until_refused)
            response = await exchange.response()
            assert response.status == 413
            assert response.json()["code"] == "too_large"
            assert response.headers["connection"] == "close"
            await exchange.until_closed()
        outcome = await uploads.wait()
    assert outcome["failed"] == 413
    assert SMALL_MAX < outcome["received"] <= SMALL_MAX + 65536
    assert list(uploads.folder.iterdir()) == []


async def test_stalled_upload_times_out(start: Start, uploads: Uploads) -> None:
    """A client that stops sending in the middle of a body is answered 408 after
    http.body_idle_timeout, the handler sees the failure, and the connection closes."""
    port = await start(body_idle_timeout=0.5, request_timeout=30.0)
    with trio.fail_after(TIMEOUT):
        exchange = await Exchange.open(port, "POST", "/test/upload",
                                       [("Content-Length", str(MiB))])
        async with exchange.stream:
            await exchange.send(BLOCK)
            response = await exchange.response()
            assert response.status == 408
            assert response.headers["connection"] == "close"
            await exchange.until_closed()
        outcome = await uploads.wait()
    assert outcome == {"failed": 408, "received": len(BLOCK)}
    assert list(uploads.folder.iterdir()) == []


async def test_slow_upload_outlives_the_request_timeout(start: Start, uploads: Uploads) -> None:
    """An upload that takes longer than http.request_timeout, but never pauses as long as
    http.body_idle_timeout, is received whole."""
    port = await start(body_idle_timeout=10.0, request_timeout=0.25)
    with trio.fail_after(TIMEOUT):
        exchange = await Exchange.open(port, "POST", "/test/upload",
                                       [("Content-Length", str(4 * len(BLOCK)))])
        async with exchange.stream:
            for _ in range(4):
                await exchange.send(BLOCK)
                await trio.sleep(0.25)  # the pause is the point: four of them outlast 0.25 s
            await exchange.end()
            response = await exchange.response()
    assert response.status == 201
    assert response.json()["size"] == 4 * len(BLOCK)


async def test_client_leaves_mid_body(start: Start, uploads: Uploads) -> None:
    """A client that closes its connection in the middle of a body ends the handler with a
    failure (its partial file removed); the server goes on serving."""
    port = await start()
    with trio.fail_after(TIMEOUT):
        exchange = await Exchange.open(port, "POST", "/test/upload",
                                       [("Content-Length", str(MiB))])
        await exchange.send(BLOCK)
        await exchange.aclose()
        outcome = await uploads.wait()
        assert outcome["failed"] == 400
        assert list(uploads.folder.iterdir()) == []
        client = await Client.open(port)
        try:
            assert (await client.request("POST", "/test/small", body=b"ok")).status == 201
        finally:
            await client.aclose()


@pytest.mark.parametrize("expect_continue", [True, False])
async def test_answer_without_reading_the_body(start: Start, uploads: Uploads,
                                               expect_continue: bool) -> None:
    """A handler that answers without reading the body: the answer says Connection: close
    and the server closes the connection rather than read the rest. A client that asked for
    100-continue is never told to send the body."""
    port = await start()
    headers = [("Content-Length", str(10 * MiB))]
    if expect_continue:
        headers.append(("Expect", "100-continue"))
    with trio.fail_after(TIMEOUT):
        exchange = await Exchange.open(port, "POST", "/test/upload?read=no", headers)
        async with exchange.stream:
            if not expect_continue:
                await exchange.send(BLOCK)
            informational: list[int] = []
            response = await exchange.response(informational=informational)
            assert response.status == 403
            assert response.headers["connection"] == "close"
            assert informational == []
            await exchange.until_closed()
    assert uploads.outcomes == [{"read": False}]


async def test_expect_continue_for_a_streamed_body(start: Start) -> None:
    """A client that waits for 100 Continue gets it once the handler reads the body."""
    port = await start()
    with trio.fail_after(TIMEOUT):
        exchange = await Exchange.open(port, "POST", "/test/small",
                                       [("Content-Length", "5"), ("Expect", "100-continue")])
        async with exchange.stream:
            event: Any = h11.NEED_DATA
            while event is h11.NEED_DATA:
                exchange.conn.receive_data(await exchange.stream.receive_some(65536))
                event = exchange.conn.next_event()
            assert isinstance(event, h11.InformationalResponse)
            assert event.status_code == 100
            await exchange.send(b"hello")
            await exchange.end()
            response = await exchange.response()
    assert response.json()["sha256"] == hashlib.sha256(b"hello").hexdigest()


# -- downloads ---------------------------------------------------------------------------------


def _ranges(size: int) -> list[tuple[dict[str, str], int, slice | None, str | None]]:
    """(request headers, status, the slice of the file expected, Content-Range)."""
    last = size - 1
    return [
        ({}, 200, slice(None), None),
        ({"Range": "bytes=0-9"}, 206, slice(0, 10), f"bytes 0-9/{size}"),
        ({"Range": "bytes=100-"}, 206, slice(100, None), f"bytes 100-{last}/{size}"),
        ({"Range": "bytes=-5"}, 206, slice(size - 5, None), f"bytes {size - 5}-{last}/{size}"),
        ({"Range": "bytes=-999999999"}, 206, slice(None), f"bytes 0-{last}/{size}"),
        ({"Range": f"bytes={size - 3}-{size + 100}"}, 206, slice(size - 3, None),
         f"bytes {size - 3}-{last}/{size}"),
        ({"Range": "BYTES = 65530-65545"}, 206, slice(65530, 65546),
         f"bytes 65530-65545/{size}"),
        ({"Range": f"bytes={size}-"}, 416, None, f"bytes */{size}"),
        ({"Range": "bytes=-0"}, 416, None, f"bytes */{size}"),
        ({"Range": f"bytes={size}-,{size + 5}-{size + 9}"}, 416, None, f"bytes */{size}"),
        ({"Range": "bytes=0-0,5-9"}, 200, slice(None), None),  # several ranges: whole
        ({"Range": f"bytes={size}-, 0-1"}, 206, slice(0, 2), f"bytes 0-1/{size}"),
        ({"Range": "bytes=9-5"}, 200, slice(None), None),  # reversed: ignored
        ({"Range": "bytes=abc"}, 200, slice(None), None),
        ({"Range": "items=0-5"}, 200, slice(None), None),
        ({"Range": "bytes=0-9", "If-Range": '"v1"'}, 206, slice(0, 10), f"bytes 0-9/{size}"),
        ({"Range": "bytes=0-9", "If-Range": '"v0"'}, 200, slice(None), None),
        ({"If-None-Match": '"v1"'}, 304, None, None),
        ({"If-None-Match": 'W/"v1"', "Range": "bytes=0-9"}, 304, None, None),
        ({"If-None-Match": '"v0", *'}, 304, None, None),
        ({"If-None-Match": '"v0"'}, 200, slice(None), None),
    ]


async def test_file_ranges_and_conditions(start: Start,
                                          served_file: tuple[Path, bytes]) -> None:
    """Each GET and HEAD of a file, with Range, If-Range and If-None-Match, is answered with
    the right status, headers and bytes, all on one keep-alive connection."""
    port = await start()
    _, data = served_file
    size = len(data)
    with trio.fail_after(TIMEOUT):
        client = await Client.open(port)
        try:
            for headers, status, part, content_range in _ranges(size):
                for method in ("GET", "HEAD"):
                    case = f"{method} {headers}"
                    got = await client.request(method, "/test/file",
                                               headers=list(headers.items()))
                    assert got.status == status, case
                    assert got.headers.get("content-range") == content_range, case
                    if status in (200, 206):
                        assert part is not None
                        assert got.headers["content-length"] == str(len(data[part])), case
                        assert got.headers["accept-ranges"] == "bytes", case
                        assert got.headers["etag"] == '"v1"', case
                        assert got.headers["cache-control"].endswith("immutable"), case
                        assert got.headers["content-type"] == "application/octet-stream"
                        assert got.body == (data[part] if method == "GET" else b""), case
                    elif status == 304:
                        assert got.body == b"", case
                        assert got.headers["etag"] == '"v1"', case
                        assert "content-length" not in got.headers, case
                    elif method == "GET":
                        assert got.json()["code"] == "bad_request", case
                    else:
                        assert got.body == b"", case
        finally:
            await client.aclose()


async def test_missing_file_is_404(start: Start) -> None:
    """A FileReply whose file is gone when it is sent is 404 not_found."""
    port = await start()
    with trio.fail_after(TIMEOUT):
        client = await Client.open(port)
        try:
            response = await client.request("GET", "/test/missing")
            assert response.status == 404
            assert response.json()["code"] == "not_found"
        finally:
            await client.aclose()


async def test_download_streams_without_holding_the_file(
    start: Start, served_file: tuple[Path, bytes]
) -> None:
    """A 50 MiB file is sent byte for byte while the process's Python allocations peak far
    below its size."""
    path, _ = served_file
    digest = hashlib.sha256()
    with path.open("wb") as file:
        for _ in range(50 * MiB // len(BLOCK)):
            file.write(BLOCK)
            digest.update(BLOCK)
    port = await start()
    received = hashlib.sha256()
    count = 0

    def sink(data: bytes) -> None:
        nonlocal count
        received.update(data)
        count += len(data)

    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        with trio.fail_after(120):
            exchange = await Exchange.open(port, "GET", "/test/file", [])
            async with exchange.stream:
                await exchange.end()
                response = await exchange.response(sink=sink)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status == 200
    assert response.headers["content-length"] == str(50 * MiB)
    assert (count, received.hexdigest()) == (50 * MiB, digest.hexdigest())
    assert peak < 5 * MiB, f"{peak} bytes allocated at the peak of a 50 MiB download"

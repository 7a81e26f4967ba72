"""The HTTP front's edges, attacked over raw sockets against the real daemon: request
smuggling, connection caps and idle keep-alives, running out of file descriptors, and the
WebSocket handshake and frames a hostile client may send.

Every exchange is bounded (``trio.fail_after``); "the server closed the connection" is shown by
reading until end of file without ever closing our side first.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import resource
import socket
import struct
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatd.server import Server
from tests.client import Client, register_and_login
from tests.e2e.conftest import running
from tests.helpers import make_config, readiness, wait_ready, without_chatd_settings

TIMEOUT = 10


# -- raw HTTP ----------------------------------------------------------------------------------


async def until_closed(stream: trio.SocketStream) -> bytes:
    """Everything the server sends until it closes the connection (we never close first)."""
    received = bytearray()
    with trio.fail_after(TIMEOUT):
        while True:
            try:
                chunk = await stream.receive_some(65536)
            except trio.BrokenResourceError:  # a reset after the answer: closed all the same
                break
            if not chunk:
                break
            received += chunk
    return bytes(received)


async def exchange(port: int, data: bytes) -> bytes:
    """Send ``data`` without half-closing and read until the server closes."""
    with trio.fail_after(TIMEOUT):
        stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        await stream.send_all(data)
        return await until_closed(stream)


def statuses(raw: bytes) -> list[int]:
    """The status of every response in ``raw`` (bodies here never hold a status line)."""
    return [int(status) for status in re.findall(rb"HTTP/1\.[01] (\d{3}) ", raw)]


HIDDEN = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"


def post(*headers: bytes, body: bytes = b"") -> bytes:
    return (b"POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + b"".join(h + b"\r\n" for h in headers) + b"\r\n" + body)


# A chunked body that ends at once ("0"), or a 5-byte one by Content-Length: either way the
# hidden request follows, and a server that answered it would have been smuggled a request.
SMUGGLING = {
    "content-length then transfer-encoding": post(
        b"Content-Length: 5", b"Transfer-Encoding: chunked", body=b"0\r\n\r\n" + HIDDEN),
    "transfer-encoding then content-length": post(
        b"Transfer-Encoding: chunked", b"Content-Length: 5", body=b"0\r\n\r\n" + HIDDEN),
    "content-length 0 and transfer-encoding": post(
        b"Content-Length: 0", b"Transfer-Encoding: chunked", body=b"5\r\nhello\r\n0\r\n\r\n"
        + HIDDEN),
    "obfuscated transfer-encoding and content-length": post(
        b"Content-Length: 5", b"Transfer-Encoding:\tCHUNKED ", body=b"0\r\n\r\n" + HIDDEN),
    "conflicting content-lengths": post(
        b"Content-Length: 5", b"Content-Length: 6", body=b"{}   " + HIDDEN),
    "content-length list that disagrees": post(b"Content-Length: 5, 6", body=b"{}   " + HIDDEN),
    "signed content-length": post(b"Content-Length: +5", body=b"{}   " + HIDDEN),
    "hex content-length": post(b"Content-Length: 0x5", body=b"{}   " + HIDDEN),
    "huge content-length": post(b"Content-Length: 1" + b"0" * 30, body=HIDDEN),
    "xchunked": post(b"Transfer-Encoding: xchunked", body=b"0\r\n\r\n" + HIDDEN),
    "chunked, identity": post(b"Transfer-Encoding: chunked, identity",
                              body=b"0\r\n\r\n" + HIDDEN),
    "identity, chunked": post(b"Transfer-Encoding: identity, chunked",
                              body=b"0\r\n\r\n" + HIDDEN),
    "two transfer-encodings": post(b"Transfer-Encoding: chunked", b"Transfer-Encoding: chunked",
                                   body=b"0\r\n\r\n" + HIDDEN),
    "space before the colon": post(b"Transfer-Encoding : chunked", b"Content-Length: 5",
                                   body=b"0\r\n\r\n" + HIDDEN),
    "transfer-encoding in HTTP/1.0": post(b"Transfer-Encoding: chunked", body=b"0\r\n\r\n"
                                          + HIDDEN).replace(b"HTTP/1.1", b"HTTP/1.0", 1),
    "chunk size not hex": post(b"Transfer-Encoding: chunked", body=b"zz\r\n{}\r\n0\r\n\r\n"
                               + HIDDEN),
    "negative chunk size": post(b"Transfer-Encoding: chunked", body=b"-2\r\n{}\r\n0\r\n\r\n"
                                + HIDDEN),
    "0x chunk size": post(b"Transfer-Encoding: chunked", body=b"0x2\r\n{}\r\n0\r\n\r\n"
                          + HIDDEN),
    "chunk size of 24 digits": post(b"Transfer-Encoding: chunked",
                                    body=b"f" * 24 + b"\r\n{}\r\n0\r\n\r\n" + HIDDEN),
    "chunk longer than its size": post(b"Transfer-Encoding: chunked",
                                       body=b"2\r\n{}XX\r\n0\r\n\r\n" + HIDDEN),
}


@pytest.mark.parametrize("request_bytes", list(SMUGGLING.values()), ids=list(SMUGGLING))
async def test_ambiguous_framing_is_refused_and_closes(daemon: Server,
                                                       request_bytes: bytes) -> None:
    """A request whose length two parsers could read differently gets one 4xx/5xx answer with
    ``Connection: close``, and the connection closes: the request hidden after it is never
    answered (RFC 9112 §6.1, §6.3, §11.2)."""
    raw = await exchange(daemon.http_port, request_bytes)
    found = statuses(raw)
    assert len(found) == 1, raw
    assert found[0] in {400, 501}, raw
    assert b"\r\nconnection: close\r\n" in raw.lower()
    assert b'"rooms"' not in raw


async def test_a_refused_head_request_is_answered_without_a_body(
        daemon: Server, caplog: pytest.LogCaptureFixture) -> None:
    """A HEAD request refused before it is routed (here for its framing) gets the refusal's
    head and no body, as every answer to HEAD (RFC 9110 §9.3.2); the server logs no error.
    (Found by test_fuzz_the_http_port: the JSON body of the refusal was written after a HEAD,
    which h11 rightly refuses, and the connection failed without an answer.)"""
    raw = await exchange(daemon.http_port, b"HEAD /api/rooms HTTP/1.1\r\nHost: x\r\n"
                         b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n")
    assert statuses(raw) == [400], raw
    assert raw.endswith(b"\r\n\r\n"), raw  # the head alone
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


CONTENT_LENGTHS = [b"Content-Length: 0", b"Content-Length: 2", b"Content-Length: 5",
                   b"Content-Length: 2, 2", b"Content-Length: 2,5", b"Content-Length: +2",
                   b"Content-Length:\t2 "]
TRANSFER_ENCODINGS = [b"Transfer-Encoding: chunked", b"Transfer-Encoding: CHUNKED",
                      b"Transfer-Encoding:\tchunked ", b"Transfer-Encoding: xchunked",
                      b"Transfer-Encoding: chunked, identity", b"Transfer-Encoding: identity"]
BODIES = [b"", b"{}", b"{}   ", b"0\r\n\r\n", b"2\r\n{}\r\n0\r\n\r\n"]


def unambiguous(headers: list[bytes]) -> bool:
    """Whether the framing headers give one reading of the body's length."""
    lengths = {value.strip() for h in headers if h.startswith(b"Content-Length")
               for value in h.partition(b":")[2].split(b",")}
    codings = [h.partition(b":")[2].strip().lower() for h in headers
               if h.startswith(b"Transfer-Encoding")]
    if codings:
        return not lengths and codings == [b"chunked"]
    return len(lengths) <= 1 and all(value.isdigit() for value in lengths)


@pytest.fixture
def impatient_daemon(tmp_path: Path, database_dsn: str) -> Iterator[int]:
    """The HTTP port of a ``chatd serve`` subprocess that waits at most a second for the rest
    of a request. A subprocess, because Hypothesis runs each example in a trio run of its own,
    and the daemon must outlive them."""
    env = {**without_chatd_settings(), "CHATD_DATABASE_DSN": database_dsn,
           "CHATD_SERVER_DATA_DIR": str(tmp_path / "data"), "CHATD_HTTP_PORT": "0",
           "CHATD_TCP_PORT": "0", "CHATD_HTTP_REQUEST_TIMEOUT": "1"}
    name = f"chatd-test-{os.getpid()}-{id(env)}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as ready, \
            (tmp_path / "chatd.log").open("wb") as log_file:
        ready.bind("\0" + name)
        ready.settimeout(60)
        process = subprocess.Popen([sys.executable, "-m", "chatd", "serve"], cwd=tmp_path,
                                   env={**env, "NOTIFY_SOCKET": "@" + name},
                                   stdout=log_file, stderr=log_file)
        try:
            while b"READY=1" not in (message := ready.recv(4096)):
                pass
            found = re.search(rb"http port (\d+)", message)
            assert found, message
            yield int(found[1])
        finally:
            process.kill()
            process.wait()


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(headers=st.lists(st.sampled_from(CONTENT_LENGTHS + TRANSFER_ENCODINGS), max_size=3),
       body=st.sampled_from(BODIES))
async def test_no_framing_smuggles_a_request(impatient_daemon: int, headers: list[bytes],
                                             body: bytes) -> None:
    """Whatever mix of Content-Length and Transfer-Encoding headers a request has, a request
    after it is answered only when the framing had a single reading; otherwise the one
    answer is a refusal and the connection closes."""
    hidden = HIDDEN.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n")
    raw = await exchange(impatient_daemon, post(*headers, body=body) + hidden)
    found = statuses(raw)
    if unambiguous(headers):
        assert 1 <= len(found) <= 2, raw
    else:
        assert len(found) == 1 and found[0] in {400, 501}, raw


async def test_huge_chunk_size_is_cut_at_the_body_limit(daemon: Server) -> None:
    """A chunk that announces (nearly) 2**80 bytes is read only up to http.max_body_bytes:
    413, and the connection closes."""
    limit = daemon.config.http.max_body_bytes
    head = post(b"Transfer-Encoding: chunked", body=b"f" * 20 + b"\r\n")
    with trio.fail_after(TIMEOUT):
        stream = await trio.open_tcp_stream("127.0.0.1", daemon.http_port)
    async with stream:
        await stream.send_all(head + b"x" * (limit + 1))
        raw = await until_closed(stream)
    assert statuses(raw) == [413]


async def test_chunked_body_and_identical_content_lengths_still_work(daemon: Server) -> None:
    """The framings that are not ambiguous are served, and the next request on the connection
    too: a chunked body (any case and whitespace around ``chunked``, chunk extensions), and a
    Content-Length repeated with the same value, which RFC 9110 §8.6 lets a server read as one."""
    body = json.dumps({"username": "nobody", "password": "wrong password"}).encode()
    chunked = f"{len(body):x};ext=1\r\n".encode() + body + b"\r\n0\r\n\r\n"
    for request_bytes in (
        post(b"Transfer-Encoding:\tChunked ", body=chunked),
        post(f"Content-Length: {len(body)}".encode(), f"Content-Length: {len(body)}".encode(),
             body=body),
        post(f"Content-Length: {len(body)}, {len(body)}".encode(), body=body),
    ):
        raw = await exchange(daemon.http_port, request_bytes
                             + HIDDEN.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
        assert statuses(raw) == [401, 200], raw


# -- connections: per address, idle keep-alives, file descriptors -------------------------------


async def get(stream: trio.SocketStream, target: str = "/healthz") -> bytes:
    """One keep-alive request on ``stream``; the whole response (bodies here are short)."""
    await stream.send_all(f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    received = bytearray()
    with trio.fail_after(TIMEOUT):
        while b"\r\n\r\n" not in received or not _complete(bytes(received)):
            chunk = await stream.receive_some(65536)
            assert chunk, f"closed after {bytes(received)!r}"
            received += chunk
    return bytes(received)


async def served_soon(port: int) -> list[int]:
    """The statuses of a request on a new connection, asked again while it is refused: the
    daemon frees a place when it has seen a client close, a moment after the client did."""
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    with trio.fail_after(TIMEOUT):
        while (found := statuses(await exchange(port, request))) in ([429], [503]):
            pass  # each try is a whole exchange with the daemon: no busy loop
    return found


def _complete(raw: bytes) -> bool:
    head, _, body = raw.partition(b"\r\n\r\n")
    length = re.search(rb"(?i)\r\ncontent-length: (\d+)", head)
    return length is not None and len(body) >= int(length[1])


async def open_http(port: int) -> trio.SocketStream:
    with trio.fail_after(TIMEOUT):
        return await trio.open_tcp_stream("127.0.0.1", port)


async def test_http_connections_are_capped_per_address(tmp_path: Path, database_dsn: str,
                                                      nursery: trio.Nursery) -> None:
    """Past http.connections_per_ip, a new connection from the address is answered 429
    rate_limited and closed, while the open ones go on being served; a closed one frees its
    place; WebSocket sessions leave the HTTP count once upgraded."""
    config = make_config(tmp_path, database_dsn, http={"connections_per_ip": 3})
    async with running(config) as daemon:
        port = daemon.http_port
        # WebSocket sessions are protocol connections, capped by limits.connections_per_ip:
        # once upgraded they hold no place among the address's HTTP connections.
        token = await register_and_login(port, "wendy")
        sessions = [await Client.ws(port, nursery) for _ in range(3)]
        for session in sessions:
            await session.hello(token)
        held = [await open_http(port) for _ in range(3)]
        for stream in held:  # each one is served, so the daemon has counted it
            assert statuses(await get(stream)) == [200]
        raw = await exchange(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert statuses(raw) == [429], raw
        assert json.loads(raw.partition(b"\r\n\r\n")[2])["code"] == "rate_limited"
        assert b"\r\nconnection: close\r\n" in raw.lower()
        assert statuses(await get(held[0])) == [200]  # the others still work
        for session in sessions:
            assert (await session.request("ping"))["op"] == "ok"
            await session.aclose()

        await held.pop().aclose()
        assert await served_soon(port) == [200]  # once the daemon has seen the close
        for stream in held:
            await stream.aclose()


async def test_idle_keep_alive_is_closed(tmp_path: Path, database_dsn: str) -> None:
    """A connection idle for http.keepalive_timeout, after a request or before its first, is
    closed without an answer, long before http.request_timeout."""
    config = make_config(tmp_path, database_dsn,
                         http={"keepalive_timeout": 0.2, "request_timeout": 60.0})
    async with running(config) as daemon:
        used = await open_http(daemon.http_port)
        async with used:
            assert statuses(await get(used)) == [200]
            assert await until_closed(used) == b""
        unused = await open_http(daemon.http_port)
        async with unused:
            assert await until_closed(unused) == b""


DESCRIPTOR_LIMIT = 160  # RLIMIT_NOFILE of the daemon below: its reserve plus a few dozen


@asynccontextmanager
async def daemon_with_descriptor_limit(tmp_path: Path, dsn: str, limit: int
                                       ) -> AsyncIterator[tuple[int, int]]:
    """``chatd serve`` in a subprocess whose RLIMIT_NOFILE is ``limit``: its (http, tcp)
    ports for the block; the process is killed after."""
    env = without_chatd_settings()
    env.update({
        "CHATD_DATABASE_DSN": dsn, "CHATD_SERVER_DATA_DIR": str(tmp_path / "data"),
        "CHATD_HTTP_PORT": "0", "CHATD_TCP_PORT": "0",
        # Only the descriptor budget may refuse here, not the per-address cap or idleness.
        "CHATD_HTTP_CONNECTIONS_PER_IP": "100000", "CHATD_HTTP_KEEPALIVE_TIMEOUT": "600",
    })

    def lower_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

    log_path = tmp_path / "chatd.log"
    async with readiness() as (ready, notify):
        with log_path.open("wb") as log_file:
            process = await trio.lowlevel.open_process(
                [sys.executable, "-m", "chatd", "serve"], cwd=tmp_path, env={**env, **notify},
                stdout=log_file, stderr=log_file, preexec_fn=lower_limit,
            )
        try:
            with trio.fail_after(60):
                ports = await wait_ready(ready, process,
                                         lambda: log_path.read_text(errors="replace"))
            yield ports
        finally:
            with trio.CancelScope(shield=True):
                process.kill()
                await process.wait()


async def test_a_newcomer_is_answered_at_the_descriptor_limit(tmp_path: Path,
                                                              database_dsn: str) -> None:
    """With RLIMIT_NOFILE low and idle connections holding nearly all of it, a newcomer is
    still accepted and answered (503 unavailable on HTTP, an error frame on the protocol
    port), instead of waiting in the listen backlog; once some close, newcomers are served."""
    async with daemon_with_descriptor_limit(tmp_path, database_dsn, DESCRIPTOR_LIMIT) as ports:
        http_port, tcp_port = ports
        held: list[trio.SocketStream] = []
        try:
            refused = b""
            for _ in range(DESCRIPTOR_LIMIT):  # fill the daemon up, one served connection each
                stream = await open_http(http_port)
                await stream.send_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                with trio.fail_after(TIMEOUT):
                    answer = await stream.receive_some(65536)
                if statuses(answer) != [200]:
                    refused = answer + await until_closed(stream)
                    await stream.aclose()
                    break
                held.append(stream)
            assert statuses(refused) == [503], refused
            assert json.loads(refused.partition(b"\r\n\r\n")[2])["code"] == "unavailable"
            assert len(held) < DESCRIPTOR_LIMIT - 32  # refused before the limit, not at it

            # Again and again: every newcomer gets its answer, none is left in the backlog.
            for _ in range(3 * 32):
                raw = await exchange(http_port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                assert statuses(raw) == [503], raw
            with trio.fail_after(TIMEOUT):
                protocol = await trio.open_tcp_stream("127.0.0.1", tcp_port)
            async with protocol:
                line = await until_closed(protocol)
            assert json.loads(line)["code"] == "unavailable"

            for stream in held[:5]:
                await stream.aclose()
            del held[:5]
            assert await served_soon(http_port) == [200]
        finally:
            for stream in held:
                await stream.aclose()


# -- WebSocket: the handshake and raw frames ----------------------------------------------------


def upgrade(key: bytes | None) -> bytes:
    head = (b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Version: 13\r\n")
    if key is not None:
        head += b"Sec-WebSocket-Key: " + key + b"\r\n"
    return head + b"\r\n"


NONCE = base64.b64encode(b"sixteen byte key")


@pytest.mark.parametrize("key", [
    b"", b"   ", b"c2hvcnQ=", base64.b64encode(b"fifteen bytes!!"),
    base64.b64encode(b"seventeen bytes!!"), b"not base64 at all!!!!!!=", b"dGhlIHNhbXBsZSBub25jZQ",
    NONCE + b"x", b"dGhlIHNhbXBsZSBub25jZQ==, dGhlIHNhbXBsZSBub25jZQ==",
], ids=["empty", "blank", "short", "15 bytes", "17 bytes", "not base64", "no padding",
        "trailing junk", "two keys"])
async def test_upgrade_with_a_bad_key_is_refused(daemon: Server, key: bytes) -> None:
    """Sec-WebSocket-Key must be the base64 of a 16-byte nonce (RFC 6455 §4.2.1): anything
    else is answered 400 bad_request, not 101."""
    with trio.fail_after(TIMEOUT):
        stream = await trio.open_tcp_stream("127.0.0.1", daemon.http_port)
    async with stream:
        await stream.send_all(upgrade(key))
        with trio.fail_after(TIMEOUT):
            raw = await stream.receive_some(65536)
    assert statuses(raw) == [400], raw
    assert json.loads(raw.partition(b"\r\n\r\n")[2])["code"] == "bad_request"


@pytest.mark.parametrize("head", [
    upgrade(NONCE).replace(b"Connection: Upgrade\r\n", b""),
    upgrade(NONCE).replace(b"Connection: Upgrade", b"Connection: keep-alive"),
    upgrade(NONCE).replace(b"Upgrade: websocket", b"Upgrade: websocket, h2c"),
    upgrade(NONCE).replace(b"HTTP/1.1\r\nHost: x\r\n", b"HTTP/1.0\r\n"),
    upgrade(NONCE).replace(b"Host: x", b"Host: \xff\xfe"),
], ids=["no Connection", "Connection: keep-alive", "two upgrades", "no Host", "Host not IDNA"])
async def test_upgrade_that_the_websocket_library_refuses_is_a_json_400(
        daemon: Server, head: bytes) -> None:
    """An upgrade without ``Connection: Upgrade``, with an ``Upgrade`` other than
    ``websocket`` alone, or without a readable ``Host`` (RFC 6455 §4.2.1) is answered 400
    with the API's JSON error, as every refusal is, not a bare 400 from the WebSocket
    library, or no answer at all for a Host that is not IDNA (found by schemathesis:
    requests sends ``Connection: keep-alive``; the Host case by reading wsproto)."""
    with trio.fail_after(TIMEOUT):
        stream = await trio.open_tcp_stream("127.0.0.1", daemon.http_port)
        async with stream:
            await stream.send_all(head)
            raw = b""
            while not re.search(rb"\r\ncontent-length: *(\d+)\r\n(?:.*\r\n)*?\r\n", raw,
                                re.IGNORECASE):
                chunk = await stream.receive_some(65536)
                assert chunk, raw
                raw += chunk
            head_part, _, body = raw.partition(b"\r\n\r\n")
            found = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head_part)
            assert found is not None, raw
            length = int(found[1])
            while len(body) < length:
                chunk = await stream.receive_some(65536)
                assert chunk, raw
                body += chunk
    assert statuses(head_part + b"\r\n\r\n") == [400], raw
    assert b"\r\ncontent-type: application/json" in head_part.lower(), raw
    assert json.loads(body)["code"] == "bad_request"


async def test_upgrade_with_a_good_key_is_accepted(daemon: Server) -> None:
    """The RFC's own example key gets 101 with the accept value it computes."""
    stream, _ = await ws_open(daemon.http_port, b"dGhlIHNhbXBsZSBub25jZQ==")
    await stream.aclose()


def ws_frame(opcode: int, payload: bytes, *, mask: bool = True, rsv: int = 0,
             fin: bool = True) -> bytes:
    """One client frame, built by hand so that it can break the rules."""
    head = bytes([(0x80 if fin else 0) | rsv << 4 | opcode])
    size = len(payload)
    bit = 0x80 if mask else 0
    if size < 126:
        head += bytes([bit | size])
    elif size < 1 << 16:
        head += bytes([bit | 126]) + struct.pack("!H", size)
    else:
        head += bytes([bit | 127]) + struct.pack("!Q", size)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


TEXT, CLOSE = 0x1, 0x8


async def ws_open(port: int, key: bytes = NONCE) -> tuple[trio.SocketStream, bytearray]:
    """A WebSocket opened by hand: the stream and what came after the 101's head."""
    with trio.fail_after(TIMEOUT):
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        await stream.send_all(upgrade(key))
        received = bytearray()
        while b"\r\n\r\n" not in received:
            chunk = await stream.receive_some(65536)
            assert chunk, bytes(received)
            received += chunk
    head, _, rest = bytes(received).partition(b"\r\n\r\n")
    assert statuses(head + b"\r\n\r\n") == [101], head
    digest = hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest()
    accept = re.search(rb"(?i)\r\nsec-websocket-accept: *([^\r]*)", head)
    assert accept is not None and accept[1] == base64.b64encode(digest), head
    return stream, bytearray(rest)


async def ws_read(stream: trio.SocketStream, buffer: bytearray) -> tuple[int, bytes] | None:
    """The next frame from the server, ``(opcode, payload)``, or None once it closed TCP."""
    with trio.fail_after(TIMEOUT):
        while True:
            if len(buffer) >= 2:
                size, at = buffer[1] & 0x7F, 2
                if size == 126:
                    at = 4
                    size = struct.unpack("!H", buffer[2:4])[0] if len(buffer) >= at else -1
                elif size == 127:
                    at = 10
                    size = struct.unpack("!Q", buffer[2:10])[0] if len(buffer) >= at else -1
                if size >= 0 and len(buffer) >= at + size:
                    assert not buffer[1] & 0x80, "a server frame must not be masked"
                    opcode, payload = buffer[0] & 0x0F, bytes(buffer[at:at + size])
                    del buffer[:at + size]
                    return opcode, payload
            try:
                chunk = await stream.receive_some(65536)
            except trio.BrokenResourceError:
                chunk = b""
            if not chunk:
                return None
            buffer += chunk


async def ws_close_code(stream: trio.SocketStream, buffer: bytearray) -> int:
    """Read until the server's close frame: its status code; then the server closes TCP."""
    while True:
        frame = await ws_read(stream, buffer)
        assert frame is not None, "closed without a close frame"
        opcode, payload = frame
        if opcode == CLOSE:
            code: int = struct.unpack("!H", payload[:2])[0]
            await until_closed(stream)
            return code


async def ws_hello(stream: trio.SocketStream, buffer: bytearray, token: str) -> None:
    hello = json.dumps({"op": "hello", "id": 1, "token": token}) + "\n"
    await stream.send_all(ws_frame(TEXT, hello.encode()))
    frame = await ws_read(stream, buffer)
    assert frame is not None and json.loads(frame[1])["op"] == "welcome", frame


@pytest.mark.parametrize(("frame", "code"), [
    (ws_frame(TEXT, b'{"op":"ping","id":"\xff\xfe"}\n'), 1007),
    (ws_frame(TEXT, b'{"op":"ping","id":"\xed\xa0\x80"}\n'), 1007),  # a UTF-8 surrogate
    (ws_frame(TEXT, b'{"op":"ping","id":1}\n', mask=False), 1002),
    (ws_frame(TEXT, b'{"op":"ping","id":1}\n', rsv=0b100), 1002),
    (ws_frame(TEXT, b'{"op":"ping","id":1}\n', rsv=0b011), 1002),
    (ws_frame(0x3, b"reserved opcode"), 1002),
    (ws_frame(0x9, b"x" * 126), 1002),  # a control frame over 125 bytes
    (ws_frame(0x9, b"", fin=False), 1002),  # a fragmented control frame
], ids=["invalid utf-8", "surrogate", "unmasked", "rsv1", "rsv2 rsv3", "reserved opcode",
        "long ping", "fragmented ping"])
async def test_bad_frames_end_the_session_with_their_code(daemon: Server, frame: bytes,
                                                          code: int) -> None:
    """A frame that breaks RFC 6455 ends the connection with the close code for it (1007
    for text that is not UTF-8, 1002 for a protocol error) and the TCP connection closes."""
    token = await register_and_login(daemon.http_port, "mallory")
    stream, buffer = await ws_open(daemon.http_port)
    async with stream:
        await ws_hello(stream, buffer, token)
        await stream.send_all(frame)
        assert await ws_close_code(stream, buffer) == code


@pytest.mark.parametrize("how", ["fin", "reset"])
async def test_a_dropped_websocket_goes_offline(daemon: Server, how: str) -> None:
    """A WebSocket session whose TCP connection is dropped without a close frame (closed, or
    reset) is noticed at once: the user's contacts see them go offline."""
    port = daemon.http_port
    watcher = await Client.tcp(daemon.tcp_port)
    await watcher.hello(await register_and_login(port, "watcher"))
    await watcher.request("join", room="plaza")
    stream, buffer = await ws_open(port)
    await ws_hello(stream, buffer, await register_and_login(port, "dora"))
    join = json.dumps({"op": "join", "id": 2, "room": "plaza"}) + "\n"
    await stream.send_all(ws_frame(TEXT, join.encode()))
    assert await watcher.event("joined", room="plaza", user="dora")
    if how == "reset":  # SO_LINGER 0: close sends RST instead of FIN
        stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    stream.socket.close()
    assert (await watcher.event("presence", user="dora"))["status"] == "offline"
    await watcher.aclose()

"""Fuzzing the live daemon: hypothesis over raw bytes into every front, then "is it still up?".

Three harnesses, one per way in: byte streams to the bare TCP protocol port (garbage, and lines
that are nearly frames, before and after a good ``hello``), byte streams to the HTTP port
(garbage, nearly-requests, and a WebSocket upgrade followed by raw frame bytes), and WebSocket
text messages through a real handshake. Each example opens a connection, writes, half-closes
and reads until the daemon closes: a connection the daemon never closes fails the example (the
wait is bounded by ``trio.fail_after``, a safety net, not a sleep). After each run the daemon
must still serve: a fresh user logs in, joins, sends and gets the acknowledgement and the
message, and ``/healthz`` answers 200; and the daemon logged no error, which is how a
request that crashed a handler shows.

Bounded for CI: ``FUZZ_EXAMPLES`` examples per harness (fewer when ``CI=true``; about 15 ms
each), and at most ``FUZZ_SECONDS`` of them per harness (the examples past the budget do
nothing), so that the three take well under a minute. Set ``CHATD_TEST_FUZZ_EXAMPLES`` and
``CHATD_TEST_FUZZ_SECONDS`` to fuzz longer (1,500 examples each ran clean when it was written).
"""

from __future__ import annotations

import base64
import itertools
import json
import logging
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trio
import trio_websocket
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatd.protocol import REQUESTS
from chatd.server import Server
from tests.client import Client, http, register_and_login
from tests.e2e.conftest import running
from tests.helpers import LIFTED_RATES, make_config

CI = os.environ.get("CI") == "true"
FUZZ_EXAMPLES = int(os.environ.get("CHATD_TEST_FUZZ_EXAMPLES") or (100 if CI else 200))
FUZZ_SECONDS = float(os.environ.get("CHATD_TEST_FUZZ_SECONDS") or 15)
TIMEOUT = 10  # seconds: a safety net for each exchange, never waited out when all is well

FUZZ = settings(max_examples=FUZZ_EXAMPLES, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

_checks = itertools.count()


@pytest.fixture
async def server(tmp_path: Path, database_dsn: str) -> AsyncIterator[Server]:
    # Fuzzing sends many frames: the send bucket is not what is under test here. A short
    # request timeout lets a half-sent HTTP request end quickly.
    config = make_config(tmp_path, database_dsn, http={"request_timeout": 2.0},
                         limits=LIFTED_RATES)
    async with running(config) as server:
        yield server


@pytest.fixture
async def token(server: Server) -> str:
    return await register_and_login(server.http_port, "fuzzer")


# -- strategies ------------------------------------------------------------------------------

_scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
            | st.text(max_size=24)
            | st.sampled_from(["general", "@fuzzer:fuzzer", "x" * 65, "", "\u0000", "fuzzer"]))
_json = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4)
                     | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)
_fields = st.sampled_from(["id", "room", "text", "nonce", "to", "user", "before", "after",
                           "limit", "seq", "token", "resume", "private", "topic"])
_ops = st.sampled_from(sorted(REQUESTS)) | st.text(max_size=10)
_frame_objects = st.builds(lambda op, fields: {"op": op, **fields}, _ops,
                           st.dictionaries(_fields | st.text(max_size=6), _json, max_size=5))


def _encode(obj: Any, ascii_only: bool) -> bytes:
    return json.dumps(obj, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


_frame_lines = st.builds(_encode, _frame_objects, st.booleans())
# Bytes that parsers trip on: broken UTF-8, escapes of lone surrogates, NUL, deep nesting,
# numbers past every limit, CR without LF, an unterminated string.
_nasty = st.sampled_from([
    b"\xff\xfe", b"\xc3", b"\xed\xa0\x80", b'"\\ud800"', b"\x00", b"[" * 5000, b"1e999999",
    b"-" + b"9" * 400, b"\r", b'{"op":"', b"}" * 100, b"\n" * 50, b"\\", b"\t \x0b\x0c",
])
_chunk = st.one_of(st.binary(max_size=512), _frame_lines, _nasty,
                   _frame_lines.map(lambda line: line + b"\n"))
_stream = st.lists(_chunk, max_size=12).map(b"".join)

_methods = st.sampled_from([b"GET", b"POST", b"HEAD", b"PUT", b"DELETE", b"OPTIONS", b"G\x00T",
                            b"", b"CONNECT"])
_targets = st.sampled_from([b"/", b"/api/rooms", b"/api/login", b"/api/register", b"/ws",
                            b"/healthz", b"/metrics", b"/api/rooms/general/messages?limit=-1",
                            b"/../../etc/passwd", b"*", b"http://x/", b"/%00", b"/api/me"])
_headers = st.lists(st.one_of(
    st.sampled_from([b"Content-Length: 5", b"Content-Length: -1", b"Transfer-Encoding: chunked",
                     b"Content-Type: application/json", b"Authorization: Bearer x.y.z",
                     b"Upgrade: websocket", b"Connection: Upgrade", b"Connection: close",
                     b"Sec-WebSocket-Version: 13", b"Host: x", b"Expect: 100-continue"]),
    st.builds(lambda name, value: name + b": " + value,
              st.binary(min_size=1, max_size=16), st.binary(max_size=32)),
), max_size=6)
_requests = st.builds(
    lambda method, target, version, headers, body: (
        method + b" " + target + b" " + version + b"\r\n"
        + b"".join(h + b"\r\n" for h in headers) + b"\r\n" + body),
    _methods, _targets, st.sampled_from([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/9", b""]),
    _headers, st.binary(max_size=256) | _frame_lines,
)
_http_stream = st.one_of(st.binary(max_size=2048), _requests,
                         st.lists(_requests, min_size=2, max_size=3).map(b"".join))

_UPGRADE = (b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: "
            + base64.b64encode(b"0123456789abcdef") + b"\r\n\r\n")
# Raw WebSocket frame bytes after a good handshake: masked or not, any opcode and RSV bits,
# lengths that lie.
_ws_frames = st.lists(st.builds(
    lambda head, length, mask, payload: bytes([head, length | mask]) + payload,
    st.integers(0, 255), st.integers(0, 127), st.sampled_from([0, 0x80]),
    st.binary(max_size=64)), max_size=6).map(b"".join)


# -- the exchanges ---------------------------------------------------------------------------


async def _exchange(port: int, data: bytes) -> None:
    """Write ``data``, half-close, and read until the daemon closes the connection."""
    with trio.fail_after(TIMEOUT):
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        async with stream:
            try:
                await stream.send_all(data)
                await stream.send_eof()
                while await stream.receive_some(65536):
                    pass
            except trio.BrokenResourceError:
                pass  # the daemon reset the connection: closed all the same


async def _still_serving(server: Server) -> None:
    """A fresh user logs in, joins, sends and is answered; the health check says ok."""
    name = f"check{next(_checks)}"
    client = await Client.tcp(server.tcp_port)
    await client.hello(await register_and_login(server.http_port, name))
    joined = await client.request("join", room="after-fuzz")
    assert joined["op"] == "ok", joined
    ack = await client.request("send", room="after-fuzz", text="still here", nonce=name)
    assert ack["op"] == "ok" and ack["seq"] >= 1, ack
    await client.event("message", room="after-fuzz", seq=ack["seq"])
    assert (await client.request("ping"))["op"] == "ok"
    await client.aclose()
    status, body = await http(server.http_port, "GET", "/healthz")
    assert status == 200, body


def _no_errors_logged(caplog: pytest.LogCaptureFixture) -> None:
    errors = [r for r in caplog.records
              if r.levelno >= logging.ERROR and r.name.startswith("chatd")]
    assert not errors, [r.getMessage() for r in errors]


# -- the harnesses ---------------------------------------------------------------------------
#
# Hypothesis runs its examples in a worker thread, each doing its I/O on the test's trio loop
# (``trio.from_thread.run``): so one daemon takes every example of a run, as a real one takes
# whatever comes, and the checks run once all of them are in.


class _Budget:
    """Wall-clock budget of one harness: past it, examples return at once."""

    def __init__(self) -> None:
        self.ends = time.monotonic() + FUZZ_SECONDS

    def spent(self) -> bool:
        return time.monotonic() > self.ends


async def _fuzz(examples: Any) -> None:
    await trio.to_thread.run_sync(examples)


async def test_fuzz_the_protocol_port(server: Server, token: str,
                                      caplog: pytest.LogCaptureFixture) -> None:
    """Any byte stream to the TCP protocol port, as the first thing said or after a good
    hello: garbage, nearly-frames, nasty bytes."""
    hello = _encode({"op": "hello", "token": token}, True) + b"\n"
    budget = _Budget()

    @FUZZ
    @given(data=_stream, authenticated=st.booleans())
    def examples(data: bytes, authenticated: bool) -> None:
        if not budget.spent():
            first = hello if authenticated else b""
            trio.from_thread.run(_exchange, server.tcp_port, first + data)

    await _fuzz(examples)
    await _still_serving(server)
    _no_errors_logged(caplog)


async def test_fuzz_the_http_port(server: Server, caplog: pytest.LogCaptureFixture) -> None:
    """Any byte stream to the HTTP port: garbage, nearly-requests, pipelined requests, and a
    good WebSocket upgrade followed by raw frame bytes (masked or not, any opcode, RSV bits,
    lying lengths)."""
    budget = _Budget()

    @FUZZ
    @given(data=_http_stream | _ws_frames.map(lambda frames: _UPGRADE + frames))
    def examples(data: bytes) -> None:
        if not budget.spent():
            trio.from_thread.run(_exchange, server.http_port, data)

    await _fuzz(examples)
    await _still_serving(server)
    _no_errors_logged(caplog)


_texts = st.one_of(st.text(max_size=256),
                   _frame_lines.map(lambda b: b.decode("utf-8", "replace")),
                   _frame_lines.map(lambda b: b.decode("utf-8", "replace") + "\n"))


async def _websocket(port: int, token: str, messages: list[str], authenticated: bool) -> None:
    with trio.fail_after(TIMEOUT):
        async with trio.open_nursery() as nursery:
            ws = await trio_websocket.connect_websocket(nursery, "127.0.0.1", port, "/ws",
                                                        use_ssl=False)
            try:
                if authenticated:
                    await ws.send_message(json.dumps({"op": "hello", "token": token}) + "\n")
                for message in messages:
                    await ws.send_message(message)
            except trio_websocket.ConnectionClosed:
                pass  # the daemon closed it (a fatal frame): fine
            await ws.aclose()


async def test_fuzz_websocket_text_messages(server: Server, token: str,
                                            caplog: pytest.LogCaptureFixture) -> None:
    """Any WebSocket text messages through a real handshake, before or after a hello."""
    budget = _Budget()

    @FUZZ
    @given(messages=st.lists(_texts, max_size=8), authenticated=st.booleans())
    def examples(messages: list[str], authenticated: bool) -> None:
        if not budget.spent():
            trio.from_thread.run(_websocket, server.http_port, token, messages, authenticated)

    await _fuzz(examples)
    await _still_serving(server)
    _no_errors_logged(caplog)

"""The HTTP front's server loop: one port for the page, the REST API, /healthz, /metrics and
the /ws upgrade.

Theory of operation
-------------------
:func:`serve_http_connection` runs one accepted TCP connection. It is a keep-alive loop around
an ``h11.Connection``: read one request (head and body) under ``http.request_timeout``, so a
client that trickles bytes cannot hold a task forever; answer it (:mod:`chatd.http.routes`);
start the next cycle. A connection that sends nothing for ``http.keepalive_timeout`` while
waiting for a request (its first or the next) is closed quietly. The head is bounded by
``http.max_header_bytes`` (h11 refuses a longer one with 431) and the body by
``http.max_body_bytes`` (413, checked against Content-Length before reading when there is one).
After an answer that ends the connection we half-close and discard what the client still sends
for a moment, so that it reads our error instead of a TCP reset.
A ``GET /ws`` with ``Upgrade: websocket`` is handed to :mod:`chatd.http.websocket`.

The head is read first and routed (:func:`~chatd.http.routes.streaming_limit`). A request
for a streaming route (a file upload) is not read further: its handler gets a
:class:`_StreamedBody` that reads the body from the connection as the handler asks for it,
one chunk (at most :data:`BODY_RECEIVE_BYTES`) at a time, bounded by the route's own limit
(413 before reading when the Content-Length is over it, else as soon as the bytes are) and,
in time, by ``http.body_idle_timeout`` for each wait for the client's next bytes (408), not by
``http.request_timeout`` for the whole. A ``100 Continue`` is sent when the handler first
reads. A body that failed is answered with its failure whatever the handler returned; a
body the handler left unread is not drained: the answer says ``Connection: close`` and the
connection ends (an upload refused at its head costs no more of its bytes than the linger).
A :class:`~chatd.http.messages.FileReply` is sent from its store (the disk or a bucket) a
chunk at a time (:mod:`chatd.http.files`), each send bounded by ``http.body_idle_timeout``.

Connections are counted per client address (``http.connections_per_ip``): past the cap a new
one is answered 429 at once, without reading its request, and closed
(:func:`refuse_http_connection`, which the daemon also uses when it is short of file
descriptors). A connection that turns into a WebSocket leaves that count for the protocol's.

Nothing raised while serving a connection escapes this module: the daemon's listener must
survive every client.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from http import HTTPStatus
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import h11
import trio

from chatd import __version__
from chatd.actions import App
from chatd.errors import ChatError
from chatd.files import LocalFile
from chatd.http.files import CHUNK_BYTES, plan_file_answer
from chatd.http.messages import (
    BodyError,
    FileReply,
    Reply,
    Request,
    RequestBody,
    error_reply,
    json_reply,
)
from chatd.http.routes import dispatch, streaming_limit
from chatd.http.websocket import (
    OnWebSocket,
    check_websocket_request,
    is_websocket_upgrade,
    serve_websocket,
)
from chatd.limits import ConnectionCounter
from chatd.protocol import codes

__all__ = ["refuse_http_connection", "serve_http_connection"]

log = logging.getLogger(__name__)

SERVER_HEADER = f"chatd/{__version__}".encode()
RECEIVE_BYTES = 16384
BODY_RECEIVE_BYTES = 65536  # the most a streamed request body is read ahead, per chunk
CLOSE_LINGER = 1.0  # seconds we read and discard after our last response, before closing
# The same for a connection refused at once (over a cap): shorter, as it holds a descriptor
# the daemon may be short of, and the client's request, if any, came with its first packet.
REFUSAL_LINGER = 0.25

# On every response: a browser must not guess types, and our URLs leak nowhere.
COMMON_HEADERS = [
    (b"server", SERVER_HEADER),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]


class _TooLarge(Exception):
    """The request head or body is over its limit; ``status`` is 431 or 413."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _client_address(event: h11.Request, remote: str, trust_forwarded_for: bool) -> str:
    """The client's IP address: the peer's, or with a trusted reverse proxy in front, the last
    address it appended to X-Forwarded-For (earlier entries are the client's to forge)."""
    if trust_forwarded_for:
        forwarded = [bytes(v) for k, v in event.headers if k == b"x-forwarded-for"]
        if forwarded:
            last = forwarded[-1].decode("latin-1").split(",")[-1].strip()
            if last:
                return last
    return remote.rsplit(":", 1)[0]


def _parse_request(event: h11.Request, body: bytes, address: str) -> Request:
    """Our view of a request: the path percent-decoded, the query split."""
    target = bytes(event.target).decode("latin-1")
    split = urlsplit(target)
    try:
        path = unquote(split.path or "/", errors="strict")
    except UnicodeDecodeError:
        raise ChatError(codes.BAD_REQUEST, "the path is not valid UTF-8") from None
    if not path.startswith("/") or "\0" in path:
        raise ChatError(codes.BAD_REQUEST, "the request target must be an absolute path")
    query = parse_qs(split.query, keep_blank_values=True)
    return Request(bytes(event.method).decode("ascii"), path, query, event, body, address)


def _head_size(event: h11.Request) -> int:
    """About the size of the head on the wire (h11 keeps no count)."""
    size = len(event.method) + len(event.target) + len(b"  HTTP/1.1\r\n\r\n")
    return size + sum(len(name) + len(value) + 4 for name, value in event.headers.raw_items())


def _check_framing(event: h11.Request) -> None:
    """Refuse a request whose body length two parsers could read differently.

    h11 already refuses conflicting Content-Length values, a Content-Length that is not a
    plain decimal, a Transfer-Encoding other than ``chunked`` (``xchunked``, ``chunked,
    identity``, ``gzip``: 501), two Transfer-Encoding headers, whitespace before a header's
    colon and malformed chunk sizes. What it lets through, following RFC 9112 §6.3, is a
    request with both Transfer-Encoding and Content-Length (it ignores the length) and
    Transfer-Encoding in HTTP/1.0: a proxy in front that framed the body by the length would
    then see a different request after it than we do, the request smuggling of RFC 9112
    §6.1 and §11.2. Both are refused, and the connection closed, as §6.1 allows.

    Raises:
        h11.RemoteProtocolError: the framing is ambiguous (400).
    """
    names = {name for name, _ in event.headers}
    if b"transfer-encoding" not in names:
        return
    if b"content-length" in names:
        raise h11.RemoteProtocolError(
            "a request may not have both Transfer-Encoding and Content-Length", 400)
    if event.http_version != b"1.1":
        raise h11.RemoteProtocolError(
            "Transfer-Encoding is not allowed in an HTTP/1.0 request", 400)


def _check_length(event: h11.Request, max_body: int) -> None:
    """Refuse a Content-Length over ``max_body`` before reading the body.

    Raises:
        _TooLarge: it is (413).
    """
    length = next((v for k, v in event.headers if k == b"content-length"), None)
    if length is not None and int(length) > max_body:
        raise _TooLarge(413, f"the body is over {max_body} bytes")


async def _receive(stream: trio.abc.Stream, conn: h11.Connection, max_bytes: int) -> None:
    """Hand h11 the next bytes from the client (none when it has gone)."""
    try:
        data = await stream.receive_some(max_bytes)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        data = b""
    conn.receive_data(bytes(data))


async def _read_head(stream: trio.abc.Stream, conn: h11.Connection) -> h11.Request | None:
    """Read one request's head, or None when the client closed cleanly. Check it with
    :func:`_check_head` (once the caller holds it: a refusal of a HEAD request has no body).

    Raises:
        h11.RemoteProtocolError: the client spoke bad HTTP (or sent a long, unfinished head).
    """
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            await _receive(stream, conn, RECEIVE_BYTES)
        elif isinstance(event, h11.Request):
            return event
        elif isinstance(event, h11.ConnectionClosed):
            return None
        else:  # a body or PAUSED cannot come before the head; anything else is h11 misbehaving
            raise RuntimeError(f"unexpected h11 event {event!r}")


def _check_head(event: h11.Request, max_head: int) -> None:
    """Refuse a head over ``max_head`` or with ambiguous framing. h11's
    ``max_incomplete_event_size`` only bounds a head that is still arriving; a long head that
    came in one read is measured here.

    Raises:
        _TooLarge: the head is over ``max_head`` (431).
        ChatError: the framing is ambiguous (see :func:`_check_framing`).
    """
    if _head_size(event) > max_head:
        raise _TooLarge(431, f"the request head is over {max_head} bytes")
    _check_framing(event)


async def _read_body(stream: trio.abc.Stream, conn: h11.Connection, max_body: int) -> bytes:
    """Read the body of the request whose head was just read, in full.

    Raises:
        h11.RemoteProtocolError: the client spoke bad HTTP or left before the end.
        _TooLarge: the body is over ``max_body`` (413); the rest of it was not read.
    """
    if conn.they_are_waiting_for_100_continue:
        go_on = h11.InformationalResponse(status_code=100, headers=[])
        await stream.send_all(conn.send(go_on))
    body = bytearray()
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            await _receive(stream, conn, RECEIVE_BYTES)
        elif isinstance(event, h11.Data):
            body += event.data
            if len(body) > max_body:
                raise _TooLarge(413, f"the body is over {max_body} bytes")
        elif isinstance(event, h11.EndOfMessage):
            return bytes(body)
        else:  # PAUSED cannot come before EndOfMessage; anything else is h11 misbehaving
            raise RuntimeError(f"unexpected h11 event {event!r}")


class _StreamedBody(RequestBody):
    """The body of a streaming route's request, read from the h11 connection as the handler
    asks for it (see :class:`~chatd.http.messages.RequestBody`).

    Each wait for the client's next bytes is bounded by ``idle_timeout``
    (``http.body_idle_timeout``), not the whole body: a large upload on a slow link takes as
    long as it takes while bytes keep coming. ``failure`` is the answer to a body that could
    not be read (413, 408, 400); the server sends it whatever the handler returned.
    """

    def __init__(self, stream: trio.abc.Stream, conn: h11.Connection, *, max_bytes: int,
                 length: int | None, idle_timeout: float) -> None:
        self.length = length
        self.max_bytes = max_bytes
        self.failure: Reply | None = None
        self._stream = stream
        self._conn = conn
        self._idle_timeout = idle_timeout
        self._reading = False

    async def __anext__(self) -> bytes:
        if self._reading:
            raise RuntimeError("two tasks are reading one request body")
        if self.failure is not None:
            raise BodyError(self.failure)
        if self.complete:
            await trio.lowlevel.checkpoint()
            raise StopAsyncIteration
        self._reading = True
        try:
            return await self._next_chunk()
        except BodyError as exc:
            self.failure = exc.reply
            raise
        finally:
            self._reading = False

    def _fail(self, status: int, code: str, message: str) -> BodyError:
        return BodyError(json_reply(status, {"code": code, "message": message}, close=True))

    async def _next_chunk(self) -> bytes:
        conn = self._conn
        if conn.they_are_waiting_for_100_continue:  # the handler wants the body: ask for it
            go_on = h11.InformationalResponse(status_code=100, headers=[])
            with trio.move_on_after(self._idle_timeout):
                await self._stream.send_all(conn.send(go_on))
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as exc:
                raise self._fail(exc.error_status_hint, codes.BAD_REQUEST, str(exc)) from None
            if event is h11.NEED_DATA:
                with trio.move_on_after(self._idle_timeout) as waited:
                    await _receive(self._stream, conn, BODY_RECEIVE_BYTES)
                if waited.cancelled_caught:
                    raise self._fail(408, codes.BAD_REQUEST, "the request body stalled: "
                                     f"nothing for {self._idle_timeout:g} s")
            elif isinstance(event, h11.Data):
                self.received += len(event.data)
                if self.received > self.max_bytes:
                    raise self._fail(413, codes.TOO_LARGE,
                                     f"the body is over {self.max_bytes} bytes")
                if event.data:
                    return bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                self.complete = True
                raise StopAsyncIteration
            else:  # PAUSED cannot come before EndOfMessage; anything else is h11 misbehaving
                raise RuntimeError(f"unexpected h11 event {event!r}")


def _headers(reply: Reply) -> list[tuple[bytes, bytes]]:
    """Every header of ``reply``'s response (a 204 has no body, nor any header about one:
    RFC 9110 forbids its Content-Length)."""
    headers = [*COMMON_HEADERS]
    if reply.status != 204:
        headers += [(b"content-type", reply.content_type),
                    (b"content-length", str(len(reply.body)).encode())]
    headers += reply.headers
    if reply.close:
        headers.append((b"connection", b"close"))
    return headers


async def _send_reply(
    stream: trio.abc.Stream, conn: h11.Connection, reply: Reply, *, head_only: bool,
    app: App,
) -> None:
    reason = HTTPStatus(reply.status).phrase.encode()
    data = conn.send(h11.Response(status_code=reply.status, headers=_headers(reply),
                                  reason=reason))
    if reply.body and not head_only:
        data += conn.send(h11.Data(data=reply.body))
    data += conn.send(h11.EndOfMessage())
    app.metrics.http_requests.labels(status=str(reply.status)).inc()
    with trio.fail_after(app.config.http.request_timeout):
        await stream.send_all(data)


async def _send_file(
    stream: trio.abc.Stream, conn: h11.Connection, event: h11.Request, reply: FileReply,
    app: App,
) -> int:
    """Send ``reply``'s file, or the part of it the request asks for (:mod:`.files`); the
    status sent."""
    head_only = event.method == b"HEAD"
    source = LocalFile(reply.source) if isinstance(reply.source, Path) else reply.source
    try:
        reader = await source.open()
    except OSError as exc:
        if isinstance(exc, FileNotFoundError):
            failure = error_reply(ChatError(codes.NOT_FOUND, "no such file"), close=reply.close)
        else:
            log.warning("cannot open %r: %s", source, exc)
            failure = error_reply(ChatError(codes.UNAVAILABLE, "the file cannot be read now; "
                                            "try again"), close=reply.close)
        await _send_reply(stream, conn, failure, head_only=head_only, app=app)
        return failure.status
    async with reader:
        size = reader.size
        first: dict[bytes, bytes] = {}
        for name, value in event.headers:
            first.setdefault(bytes(name), bytes(value))
        answer = plan_file_answer(
            bytes(event.method), first, size=size, content_type=reply.content_type,
            etag=reply.etag, extra=reply.headers)
        if answer.status == 416:
            refusal = json_reply(416, {"code": codes.BAD_REQUEST,
                                       "message": f"no range within the {size} bytes"},
                                 headers=answer.headers, close=reply.close)
            await _send_reply(stream, conn, refusal, head_only=head_only, app=app)
            return 416
        headers = [*COMMON_HEADERS, *answer.headers]
        if reply.close:
            headers.append((b"connection", b"close"))
        reason = HTTPStatus(answer.status).phrase.encode()
        app.metrics.http_requests.labels(status=str(answer.status)).inc()
        timeout = app.config.http.body_idle_timeout
        with trio.fail_after(app.config.http.request_timeout):
            await stream.send_all(conn.send(h11.Response(
                status_code=answer.status, headers=headers, reason=reason)))
        span = answer.span
        if span is not None and not head_only:
            app.metrics.file_downloads.inc()
            await reader.seek(span.start, span.stop)
            left = span.stop - span.start
            while left:
                chunk = await reader.read(min(CHUNK_BYTES, left))
                if not chunk:  # the file shrank under us: the promised length cannot be met
                    raise OSError(f"{source!r} ended {left} bytes early")
                left -= len(chunk)
                app.metrics.file_download_bytes.inc(len(chunk))
                with trio.fail_after(timeout):
                    await stream.send_all(conn.send(h11.Data(data=chunk)))
        with trio.fail_after(timeout):
            await stream.send_all(conn.send(h11.EndOfMessage()))
        return answer.status


async def _close_gracefully(stream: trio.abc.Stream, linger: float = CLOSE_LINGER) -> None:
    """Half-close, drain what the client still sends for ``linger`` seconds, then close.

    Closing a socket with unread data makes the kernel send a reset, and the client may then
    lose the response we just sent (a 413 in the middle of a large upload, say).
    """
    with trio.move_on_after(linger):
        try:
            if isinstance(stream, trio.abc.HalfCloseableStream):
                await stream.send_eof()
            while await stream.receive_some(RECEIVE_BYTES):
                pass
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
    await trio.aclose_forcefully(stream)


async def _wait_for_request(stream: trio.abc.Stream, conn: h11.Connection) -> None:
    """Wait for the first bytes of the next request, unless some are already buffered."""
    if conn.their_state is not h11.IDLE or conn.trailing_data[0]:
        return
    try:
        data = await stream.receive_some(RECEIVE_BYTES)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        data = b""
    conn.receive_data(bytes(data))


async def _serve(stream: trio.abc.Stream, app: App, on_websocket: OnWebSocket, remote: str,
                 on_upgrade: Callable[[], None]) -> None:
    http = app.config.http
    idle_timeout = min(http.keepalive_timeout, http.request_timeout)
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=http.max_header_bytes)
    while True:
        failure: Reply | None = None
        event: h11.Request | None = None
        request: Request | None = None
        limit: int | None = None
        with trio.move_on_after(idle_timeout) as idle:
            await _wait_for_request(stream, conn)
        if idle.cancelled_caught:
            return  # idle: close quietly (RFC 9112 §9.8 lets either side end a keep-alive)
        deadline = trio.current_time() + http.request_timeout
        try:
            with trio.fail_at(deadline):
                event = await _read_head(stream, conn)
            if event is not None:
                _check_head(event, http.max_header_bytes)
                address = _client_address(event, remote, http.trust_forwarded_for)
                request = _parse_request(event, b"", address)
                limit = streaming_limit(request, app)
                _check_length(event, http.max_body_bytes if limit is None else limit)
                if limit is None:
                    with trio.fail_at(deadline):
                        body = await _read_body(stream, conn, http.max_body_bytes)
                    request = dataclasses.replace(request, body=body)
        except trio.TooSlowError:
            if conn.their_state is h11.IDLE and not conn.trailing_data[0]:
                return  # an idle keep-alive connection: just close it
            failure = json_reply(
                408, {"code": codes.BAD_REQUEST, "message": "request timed out"}, close=True
            )
        except h11.RemoteProtocolError as exc:
            status = exc.error_status_hint
            code = codes.TOO_LARGE if status in {413, 431} else codes.BAD_REQUEST
            failure = json_reply(status, {"code": code, "message": str(exc)}, close=True)
        except _TooLarge as exc:
            failure = json_reply(exc.status, {"code": codes.TOO_LARGE, "message": exc.message},
                                 close=True)
        except ChatError as exc:
            failure = error_reply(exc, close=True)
        if failure is not None:
            if conn.our_state in {h11.IDLE, h11.SEND_RESPONSE}:
                # An answer to HEAD has no body, a refusal's neither (h11 refuses one).
                head_only = event is not None and event.method == b"HEAD"
                await _send_reply(stream, conn, failure, head_only=head_only, app=app)
            await _close_gracefully(stream)
            return
        if event is None or request is None:
            return
        reply: Reply | FileReply
        if limit is not None:
            length = next((v for k, v in event.headers if k == b"content-length"), None)
            body_source = _StreamedBody(
                stream, conn, max_bytes=limit, length=None if length is None else int(length),
                idle_timeout=http.body_idle_timeout)
            reply = await dispatch(request, app, body_source)
            if body_source.failure is not None:
                reply = body_source.failure
            elif not body_source.complete:  # not read to its end: the connection ends
                reply = dataclasses.replace(reply, close=True)
        elif (
            request.path == "/ws"
            and request.method == "GET"
            and is_websocket_upgrade(event)
            and not app.draining
        ):
            try:
                check_websocket_request(request)
            except ChatError as exc:
                reply = error_reply(exc)
            else:
                # The protocol connection counts connections per address: the client's.
                on_upgrade()
                port = remote.rsplit(":", 1)[-1]
                await serve_websocket(stream, conn, event, app, on_websocket,
                                      f"{request.address}:{port}")
                return
        else:
            reply = await dispatch(request, app)
        if app.draining and not reply.close:
            reply = dataclasses.replace(reply, close=True)
        if isinstance(reply, FileReply):
            status = await _send_file(stream, conn, event, reply, app)
        else:
            status = reply.status
            if conn.our_state is h11.SEND_RESPONSE:  # not after a protocol error on their side
                await _send_reply(stream, conn, reply, head_only=event.method == b"HEAD",
                                  app=app)
        log.debug(
            "%s %s %s -> %d",
            remote, event.method.decode(), event.target.decode("latin-1"), status,
        )
        if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
            await _close_gracefully(stream)
            return
        conn.start_next_cycle()


async def refuse_http_connection(stream: trio.abc.Stream, app: App, exc: ChatError) -> None:
    """Answer a connection we will not serve with ``exc`` (and ``Connection: close``) without
    reading its request, and close it. Never raises, but for cancellation."""
    reply = error_reply(exc, close=True)
    # Written by hand: h11 answers only a request it has read, and we read none.
    head = [f"HTTP/1.1 {reply.status} {HTTPStatus(reply.status).phrase}".encode()]
    head += [name + b": " + value for name, value in _headers(reply)]
    app.metrics.http_requests.labels(status=str(reply.status)).inc()
    try:
        with trio.move_on_after(REFUSAL_LINGER):
            await stream.send_all(b"\r\n".join(head) + b"\r\n\r\n" + reply.body)
        await _close_gracefully(stream, REFUSAL_LINGER)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass
    finally:
        await trio.aclose_forcefully(stream)


async def serve_http_connection(
    stream: trio.abc.Stream, app: App, on_websocket: OnWebSocket, remote: str,
    per_ip: ConnectionCounter | None = None,
) -> None:
    """Serve one accepted connection until the client leaves or it turns into a WebSocket.

    Never raises, but for cancellation: a client that misbehaves or disappears ends its own
    connection and nothing else; a bug here is logged and the connection closed.

    Args:
        stream: the accepted connection (closed when this returns).
        app: the daemon's shared objects.
        on_websocket: runs a protocol session on an accepted WebSocket.
        remote: ``"ip:port"`` of the client, for logs.
        per_ip: open HTTP connections per peer address, with their cap; past it the
            connection is answered 429 and closed. None: not counted.
    """
    address = remote.rsplit(":", 1)[0]
    if per_ip is not None and not per_ip.acquire(address):
        log.debug("HTTP connection from %s refused: over http.connections_per_ip", remote)
        refusal = ChatError(codes.RATE_LIMITED, "too many connections from your address")
        await refuse_http_connection(stream, app, refusal)
        return
    counted = per_ip is not None

    def uncount() -> None:
        nonlocal counted
        if counted:
            assert per_ip is not None
            per_ip.release(address)
            counted = False

    try:
        await _serve(stream, app, on_websocket, remote, uncount)
    except (trio.BrokenResourceError, trio.ClosedResourceError, trio.TooSlowError) as exc:
        log.debug("HTTP connection from %s ended: %r", remote, exc)
    except Exception:
        log.exception("HTTP connection from %s failed", remote)
    finally:
        uncount()
        await trio.aclose_forcefully(stream)

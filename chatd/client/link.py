"""Reaching the server: its address, one HTTP request (log in, register), an upload, and a
protocol link.

A :class:`Link` is one open connection, TCP or WebSocket, driven through the protocol's own
client side (:class:`chatd.protocol.ClientConnection`): requests go out as it frames them, and
what arrives comes back as its typed events. The link only moves bytes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import secrets
import ssl
import urllib.parse
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any, Protocol

import h11
import trio
import trio_websocket

from chatd.client.terminal import clean
from chatd.protocol import (
    CLOSED,
    ClientConnection,
    LocalProtocolError,
    RemoteProtocolError,
    Request,
    ServerEvent,
)
from chatd.protocol.client import MAX_SERVER_FRAME_BYTES

__all__ = [
    "CONNECT_TIMEOUT",
    "HTTP_ERRORS",
    "LINK_ERRORS",
    "TRANSFER_TIMEOUT",
    "UPLOAD_CHUNK",
    "ConnectionLost",
    "Endpoint",
    "Link",
    "SourceFailed",
    "describe",
    "http_download",
    "http_error",
    "http_json",
    "http_upload",
    "open_link",
    "parse_hostport",
]

#: Seconds allowed to connect, and to get the welcome after the hello.
CONNECT_TIMEOUT = 15.0
#: Bytes of a file read and sent at a time by :func:`http_upload`.
UPLOAD_CHUNK = 256 * 1024
#: Seconds an upload may go without a byte sent, and the answer may take once all is sent.
TRANSFER_TIMEOUT = 60.0
#: Seconds an upload waits for the server's ``100 Continue`` before sending its body anyway.
CONTINUE_WAIT = 5.0


@dataclasses.dataclass(frozen=True, slots=True)
class Endpoint:
    """The server's HTTP base URL, taken apart: ``http://127.0.0.1:8080`` or
    ``https://chat.example.org/chatd`` (a path prefix, behind a reverse proxy)."""

    secure: bool
    host: str
    port: int
    prefix: str = ""

    @classmethod
    def parse(cls, url: str) -> Endpoint:
        """Raises ValueError for anything but an ``http://`` or ``https://`` URL with a host."""
        if "://" not in url:
            url = "http://" + url
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http:// or https:// URL: {url!r}")
        secure = parts.scheme == "https"
        port = parts.port or (443 if secure else 80)
        return cls(secure, parts.hostname, port, parts.path.rstrip("/"))

    @property
    def authority(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """``http://host:port/prefix``: what a path of the API (``/api/files/…``) follows."""
        return f"{'https' if self.secure else 'http'}://{self.authority}{self.prefix}"

    @property
    def ws_url(self) -> str:
        return f"{'wss' if self.secure else 'ws'}://{self.authority}{self.prefix}/ws"


def parse_hostport(value: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:7700`` for IPv6). Raises ValueError."""
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"expected HOST:PORT, got {value!r}")
    return host.strip("[]"), int(port)


async def _open_stream(host: str, port: int, secure: bool) -> trio.abc.Stream:
    stream: trio.abc.Stream = await trio.open_tcp_stream(host, port)
    if secure:
        stream = trio.SSLStream(stream, ssl.create_default_context(), server_hostname=host)
    return stream


# --------------------------------------------------------------------------- HTTP


async def http_json(endpoint: Endpoint, method: str, path: str,
                    body: Mapping[str, Any] | None = None, *, token: str | None = None
                    ) -> tuple[int, Any]:
    """One HTTP request with a JSON body (and ``token`` as its Bearer token, when given), on
    a fresh connection.

    Returns:
        The status and the decoded JSON answer (None when it is not JSON).
    Raises:
        OSError, trio.BrokenResourceError, trio.TooSlowError, h11.ProtocolError: the server
        could not be reached or answered nonsense.
    """
    data = json.dumps(body).encode() if body is not None else b""
    with trio.fail_after(CONNECT_TIMEOUT):
        stream = await _open_stream(endpoint.host, endpoint.port, endpoint.secure)
        async with stream:
            conn = h11.Connection(h11.CLIENT)
            headers = [("Host", endpoint.authority), ("Content-Length", str(len(data))),
                       ("Content-Type", "application/json"), ("Accept", "application/json"),
                       ("Connection", "close")]
            if token is not None:
                headers.append(("Authorization", f"Bearer {token}"))
            await stream.send_all(conn.send(h11.Request(method=method,
                                                        target=endpoint.prefix + path,
                                                        headers=headers)) or b"")
            await stream.send_all((conn.send(h11.Data(data=data)) or b"")
                                  + (conn.send(h11.EndOfMessage()) or b""))
            status = 0
            content = bytearray()
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    conn.receive_data(bytes(await stream.receive_some(65536)))
                elif isinstance(event, h11.Response):
                    status = event.status_code
                elif isinstance(event, h11.Data):
                    content += event.data
                elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                    break
    try:
        return status, json.loads(content)
    except ValueError:
        return status, None


class _Sink(Protocol):
    """A file open for writing, in trio's manner (each write in a worker thread)."""

    async def write(self, data: bytes, /) -> int: ...


async def http_download(endpoint: Endpoint, path: str, token: str, sink: _Sink
                        ) -> tuple[int, Any, int]:
    """``GET path`` with ``token``; a 200's body is written to ``sink`` as it arrives (never
    held whole: an export's zip may be large), any other answer read as JSON.

    Returns:
        The status, the decoded JSON answer of a refusal (None for a 200), and the bytes
        written.
    Raises:
        what :data:`HTTP_ERRORS` lists, as :func:`http_upload`; a 200 cut short raises
        :class:`ConnectionLost`.
    """
    with trio.fail_after(CONNECT_TIMEOUT):
        stream = await _open_stream(endpoint.host, endpoint.port, endpoint.secure)
    async with stream:
        conn = h11.Connection(h11.CLIENT)
        headers = [("Host", endpoint.authority), ("Authorization", f"Bearer {token}"),
                   ("Connection", "close")]
        with trio.fail_after(TRANSFER_TIMEOUT):
            await stream.send_all((conn.send(h11.Request(
                method="GET", target=endpoint.prefix + path, headers=headers)) or b"")
                + (conn.send(h11.EndOfMessage()) or b""))
        status, written, content = 0, 0, bytearray()
        while True:
            with trio.fail_after(TRANSFER_TIMEOUT):
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    conn.receive_data(bytes(await stream.receive_some(65536)))
                    continue
            if isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                if status == 200:
                    await sink.write(bytes(event.data))
                    written += len(event.data)
                else:
                    content += event.data
            elif isinstance(event, h11.EndOfMessage):
                break
            elif isinstance(event, h11.ConnectionClosed):
                raise ConnectionLost("the server closed the connection before the end")
    if status == 200:
        return status, None, written
    try:
        return status, json.loads(content), 0
    except ValueError:
        return status, None, 0


class SourceFailed(Exception):
    """The file being uploaded could not be read to the end (it shrank, or a read failed)."""


class _Source(Protocol):
    """A file open for reading, in trio's manner (:func:`trio.open_file`: each read is done in
    a worker thread)."""

    async def read(self, size: int = -1, /) -> bytes: ...


def _multipart_head(boundary: str, name: str, content_type: str,
                    fields: Sequence[tuple[str, str]] = ()) -> bytes:
    """The text parts ``fields`` (name, value), then the head of the part ``file``: its name
    as an ASCII ``filename`` and in full as ``filename*`` (RFC 5987), which the server
    prefers."""
    plain = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\' else "_" for ch in name)
    quoted = urllib.parse.quote(name, safe="")
    texts = b"".join(
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"\r\n\r\n".encode(
            "ascii") + value.encode() + b"\r\n" for field, value in fields)
    return texts + (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"{plain}\"; filename*=UTF-8''{quoted}\r\n"
            f"Content-Type: {content_type}\r\n\r\n").encode("ascii")


async def http_upload(endpoint: Endpoint, path: str, token: str, source: _Source, size: int,
                      *, name: str, content_type: str,
                      on_progress: Callable[[int, int], None] | None = None,
                      method: str = "POST", fields: Sequence[tuple[str, str]] = ()
                      ) -> tuple[int, Any]:
    """``POST`` (or ``method``) ``size`` bytes of ``source`` to ``path`` as
    ``multipart/form-data`` (the text parts ``fields``, then ``file``), streamed: a chunk of
    :data:`UPLOAD_CHUNK` bytes is read (in a worker thread) and sent at a time, so the file
    is never held in memory whatever its size.

    The request says ``Expect: 100-continue``: the server refuses at its head (no token, not a
    member, rate limited, quota spent) before a byte of the file is sent. An answer that comes
    while the body is still going (413 past the size limit) ends the upload at once.

    Args:
        on_progress: called with (bytes of the file sent, ``size``) after each chunk.
    Returns:
        The status and the decoded JSON answer (None when it is not JSON).
    Raises:
        SourceFailed: the file could not be read to ``size`` bytes.
        what :data:`HTTP_ERRORS` lists: the server could not be reached, went silent for
            :data:`TRANSFER_TIMEOUT`, closed without an answer, or answered nonsense.
    """
    boundary = f"chatd-{secrets.token_hex(16)}"
    head = _multipart_head(boundary, name, content_type, fields)
    tail = f"\r\n--{boundary}--\r\n".encode("ascii")
    headers = [
        ("Host", endpoint.authority), ("Authorization", f"Bearer {token}"),
        ("Content-Type", f"multipart/form-data; boundary={boundary}"),
        ("Content-Length", str(len(head) + size + len(tail))), ("Expect", "100-continue"),
        ("Accept", "application/json"), ("Connection", "close"),
    ]
    with trio.fail_after(CONNECT_TIMEOUT):
        stream = await _open_stream(endpoint.host, endpoint.port, endpoint.secure)
    async with stream:
        conn = h11.Connection(h11.CLIENT)
        with trio.fail_after(TRANSFER_TIMEOUT):
            await stream.send_all(conn.send(h11.Request(
                method=method, target=endpoint.prefix + path, headers=headers)) or b"")
        answer = _Answer()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(answer.read, stream, conn, nursery.cancel_scope)
            try:
                await _send_body(stream, conn, answer, source, size, head, tail, on_progress)
            except Exception as exc:  # raised below, unless the whole answer came anyway
                answer.failure = answer.failure or exc
                nursery.cancel_scope.cancel()
    if answer.failure is not None and not answer.complete:
        raise answer.failure
    if answer.status == 0:
        raise ConnectionLost("the server closed the connection without an answer")
    try:
        return answer.status, json.loads(answer.content)
    except ValueError:
        return answer.status, None


class _Answer:
    """The server's answer to an upload, read while the body is sent."""

    def __init__(self) -> None:
        self.status = 0  # of the final response, once its head came
        self.content = bytearray()
        self.complete = False  # the whole answer came
        self.go_on = trio.Event()  # 100 Continue, or the final response, came
        self.deadline = trio.CancelScope()  # given a deadline once the body is sent
        self.failure: BaseException | None = None

    async def read(self, stream: trio.abc.Stream, conn: h11.Connection,
                   done: trio.CancelScope) -> None:
        try:
            with self.deadline:
                while True:
                    event = conn.next_event()
                    if event is h11.NEED_DATA:
                        conn.receive_data(bytes(await stream.receive_some(65536)))
                    elif isinstance(event, h11.InformationalResponse):
                        if event.status_code == 100:
                            self.go_on.set()
                    elif isinstance(event, h11.Response):
                        self.status = event.status_code
                        self.go_on.set()
                    elif isinstance(event, h11.Data):
                        self.content += event.data
                    elif isinstance(event, h11.EndOfMessage):
                        self.complete = True
                        break
                    elif isinstance(event, h11.ConnectionClosed):
                        break
            if self.deadline.cancelled_caught:
                raise trio.TooSlowError
        except HTTP_ERRORS as exc:
            self.failure = self.failure or exc
        done.cancel()  # the answer is in (or will never be): stop sending


async def _send_body(stream: trio.abc.Stream, conn: h11.Connection, answer: _Answer,
                     source: _Source, size: int, head: bytes, tail: bytes,
                     on_progress: Callable[[int, int], None] | None) -> None:
    with trio.move_on_after(CONTINUE_WAIT):
        await answer.go_on.wait()
    if answer.status:
        return  # answered at the head: nothing of the file is wanted

    async def send(data: bytes) -> None:
        with trio.fail_after(TRANSFER_TIMEOUT):
            await stream.send_all(data)

    try:
        await send(conn.send(h11.Data(data=head)) or b"")
        sent = 0
        while sent < size:
            try:
                chunk = await source.read(min(UPLOAD_CHUNK, size - sent))
            except OSError as exc:
                raise SourceFailed(f"reading the file failed: {exc.strerror or exc}") from exc
            if not chunk:
                raise SourceFailed("the file shrank while it was being sent")
            await send(conn.send(h11.Data(data=chunk)) or b"")
            sent += len(chunk)
            if on_progress is not None:
                on_progress(sent, size)
        await send((conn.send(h11.Data(data=tail)) or b"")
                   + (conn.send(h11.EndOfMessage()) or b""))
    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
        if answer.status:  # the server answered early (413) and stopped reading
            return
        raise
    answer.deadline.deadline = trio.current_time() + TRANSFER_TIMEOUT


def http_error(status: int, answer: Any) -> str:
    """What an HTTP error answer says: its code and message, or the bare status."""
    if isinstance(answer, dict) and "code" in answer:
        return f"{clean(answer['code'])}: {clean(answer.get('message', ''))}"
    return f"HTTP {status}"


# --------------------------------------------------------------------------- the protocol link


class ConnectionLost(Exception):
    """The link to the server broke (or the session on it is over)."""


class _Transport(Protocol):
    async def send(self, data: bytes) -> None:
        """Raises ConnectionLost."""

    async def receive(self) -> bytes:
        """Some bytes of whole or partial lines; b"" once the server closed."""


class _Tcp:
    def __init__(self, stream: trio.abc.Stream) -> None:
        self._stream = stream

    async def send(self, data: bytes) -> None:
        try:
            await self._stream.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
            raise ConnectionLost(str(exc) or "the connection broke") from exc

    async def receive(self) -> bytes:
        try:
            return bytes(await self._stream.receive_some(65536))
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            return b""


class _WebSocket:
    def __init__(self, ws: trio_websocket.WebSocketConnection) -> None:
        self._ws = ws

    async def send(self, data: bytes) -> None:
        try:
            await self._ws.send_message(data.decode("utf-8"))
        except trio_websocket.ConnectionClosed as exc:
            raise ConnectionLost("the WebSocket closed") from exc

    async def receive(self) -> bytes:
        try:
            message = await self._ws.get_message()
        except trio_websocket.ConnectionClosed:
            return b""
        data = message.encode("utf-8") if isinstance(message, str) else bytes(message)
        # A message holds whole lines; the last one may come without its newline.
        return data if data.endswith(b"\n") else data + b"\n"


class Link:
    """One open connection to the server, speaking the protocol through
    :attr:`conn`, its :class:`~chatd.protocol.ClientConnection`."""

    def __init__(self, transport: _Transport) -> None:
        self.conn = ClientConnection(max_frame_bytes=MAX_SERVER_FRAME_BYTES)
        self._transport = transport
        self._lock = trio.Lock()  # the bytes of one request at a time, in the order framed

    async def send(self, request: Request) -> None:
        """Send one request (give it an id from ``conn.next_id()`` to match its reply).

        Raises:
            ConnectionLost: the link broke, or the session is over.
        """
        async with self._lock:
            try:
                data = self.conn.send(request)
            except LocalProtocolError as exc:
                raise ConnectionLost(str(exc)) from exc
            await self._transport.send(data)

    async def next_event(self) -> ServerEvent | None:
        """The next event from the server, or None once the session is over.

        Raises:
            RemoteProtocolError: the server sent a frame the protocol does not allow; reading
                may go on (unless the session is now over).
        """
        while True:
            event = self.conn.next_event()
            if isinstance(event, ServerEvent):
                return event
            if event is CLOSED:
                return None
            self.conn.receive_data(await self._transport.receive())


@contextlib.asynccontextmanager
async def open_link(endpoint: Endpoint, tcp: tuple[str, int] | None) -> AsyncIterator[Link]:
    """A link to the bare TCP port ``tcp`` when given, else to the WebSocket of ``endpoint``.

    Raises:
        what :data:`LINK_ERRORS` lists.
    """
    if tcp is not None:
        with trio.fail_after(CONNECT_TIMEOUT):
            stream = await trio.open_tcp_stream(*tcp)
        async with stream:
            yield Link(_Tcp(stream))
    else:
        context = ssl.create_default_context() if endpoint.secure else None
        async with trio_websocket.open_websocket_url(
            endpoint.ws_url, context, max_message_size=MAX_SERVER_FRAME_BYTES,
            connect_timeout=CONNECT_TIMEOUT, disconnect_timeout=2,
        ) as ws:
            yield Link(_WebSocket(ws))


#: What breaking or failing to open a link can raise.
LINK_ERRORS: tuple[type[BaseException], ...] = (
    OSError, ConnectionLost, RemoteProtocolError, trio.BrokenResourceError,
    trio.ClosedResourceError, trio.TooSlowError, trio_websocket.HandshakeError,
    trio_websocket.ConnectionClosed,
)
#: What an HTTP request to the server can raise.
HTTP_ERRORS: tuple[type[BaseException], ...] = (*LINK_ERRORS, h11.ProtocolError)


def describe(exc: BaseException) -> str:
    """A few words on why a link or a request failed."""
    if isinstance(exc, trio.TooSlowError):
        return "timed out"
    if isinstance(exc, trio_websocket.ConnectionRejected):
        return f"HTTP {exc.status_code}"
    if isinstance(exc, trio_websocket.HandshakeError):
        cause = exc.__cause__ or exc.__context__
        return describe(cause) if cause is not None else "the WebSocket handshake failed"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    if isinstance(exc, OSError) and isinstance(exc.__cause__, BaseExceptionGroup):
        errors = exc.__cause__.exceptions  # trio's "all attempts to connect ... failed"
        if errors and isinstance(errors[0], OSError) and errors[0].strerror:
            return errors[0].strerror
    return clean(str(exc)) or type(exc).__name__

"""Reaching the server: its address, one HTTP request (log in, register), and a protocol link.

A :class:`Link` is one open connection, TCP or WebSocket, driven through the protocol's own
client side (:class:`chatd.protocol.ClientConnection`): requests go out as it frames them, and
what arrives comes back as its typed events. The link only moves bytes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import ssl
import urllib.parse
from collections.abc import AsyncIterator, Mapping
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
    "ConnectionLost",
    "Endpoint",
    "Link",
    "describe",
    "http_error",
    "http_json",
    "open_link",
    "parse_hostport",
]

#: Seconds allowed to connect, and to get the welcome after the hello.
CONNECT_TIMEOUT = 15.0


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
                    body: Mapping[str, Any] | None = None) -> tuple[int, Any]:
    """One HTTP request with a JSON body, on a fresh connection.

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

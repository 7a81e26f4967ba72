"""A lean chatd protocol client for load generation: TCP or WebSocket, NDJSON lines.

It speaks the protocol through ``chatd.protocol``'s client side: requests are the protocol's
request classes (their ``wire()``, framed by its ``encode``), lines are cut by its
``LineBuffer``, and replies and events are parsed by its ``parse_event``. It skips only what
would cost the load generator CPU without telling it anything: the hot paths see lines, not
events. A line that is a ``message`` event is recognised by its first bytes (the server writes
compact JSON with ``op`` first) and parsed only when the caller asks (:func:`parse`); at
100,000 deliveries a second, parsing every one would make the load generator the bottleneck.
"""

from __future__ import annotations

from collections import deque

import trio
import trio_websocket

from chatd.protocol import (
    Error,
    Hello,
    LineBuffer,
    RemoteProtocolError,
    Request,
    RequestError,
    ServerEvent,
    Welcome,
    decode_line,
    encode,
    parse_event,
)
from chatd.protocol.client import MAX_SERVER_FRAME_BYTES

__all__ = ["CHANGE_PREFIXES", "MESSAGE_PREFIX", "Link", "ProtocolError", "hello", "open_link",
           "parse"]

MESSAGE_PREFIX = b'{"op":"message"'
#: The first bytes of the entries that change a message (``edited``, ``deleted``, ``reaction``).
CHANGE_PREFIXES = (b'{"op":"edited"', b'{"op":"deleted"', b'{"op":"reaction"')
_REPLY_OPS = frozenset({"ok", "error", "welcome"})


class ProtocolError(Exception):
    """The server answered something the load generator did not expect."""


def parse(line: bytes, answering: type[Request] | None = None) -> ServerEvent:
    """The event a line holds (``answering``: the type of the request its id answers).

    Raises:
        ProtocolError: the line is not a server frame of the protocol.
    """
    obj = decode_line(line)
    if isinstance(obj, RequestError):
        raise ProtocolError(f"{obj.message}: {line[:200]!r}")
    try:
        return parse_event(obj, answering)
    except RemoteProtocolError as exc:
        raise ProtocolError(f"{exc}: {line[:200]!r}") from None


class Link:
    """One protocol connection: ``send`` requests, ``receive_lines`` yields the received
    lines (``receive_chunk`` the raw bytes, for counting)."""

    def __init__(self, stream: trio.SocketStream | None,
                 ws: trio_websocket.WebSocketConnection | None) -> None:
        self._stream = stream
        self._ws = ws
        self._lines = LineBuffer(MAX_SERVER_FRAME_BYTES)
        self._held: deque[bytes] = deque()  # lines read past a reply, for the next reader
        self.closed = False

    async def send(self, request: Request) -> None:
        await self.send_raw(encode(request.wire()))

    async def send_raw(self, data: bytes) -> None:
        if self._stream is not None:
            await self._stream.send_all(data)
        else:
            assert self._ws is not None
            await self._ws.send_message(data.decode())

    async def receive_chunk(self) -> bytes:
        """Some bytes (whole lines over WebSocket, any cut over TCP); b"" at the end."""
        if self._stream is not None:
            try:
                return bytes(await self._stream.receive_some(262144))
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return b""
        assert self._ws is not None
        try:
            message = await self._ws.get_message()
        except trio_websocket.ConnectionClosed:
            return b""
        data = message.encode() if isinstance(message, str) else bytes(message)
        return data if data.endswith(b"\n") else data + b"\n"

    async def receive_lines(self) -> list[bytes]:
        """The next whole lines (at least one, blank lines left out); [] once the server has
        closed.

        Raises:
            ProtocolError: a line longer than the frame limit.
        """
        if self._held:
            lines = list(self._held)
            self._held.clear()
            return lines
        buffer = self._lines
        while True:
            lines = []
            while (line := buffer.next_line()) is not None:
                if line:
                    lines.append(line)
            if lines:
                return lines
            if buffer.overflowed:
                raise ProtocolError("the server sent a frame that is too large")
            chunk = await self.receive_chunk()
            if not chunk:
                self.closed = True
                return []
            buffer.feed(chunk)

    async def request(self, request: Request, *, timeout: float = 30.0,  # noqa: ASYNC109
                      keep: list[bytes] | None = None) -> ServerEvent:
        """Send a request with an id and return its reply, parsed; the other lines received
        in between are appended to ``keep`` (dropped without it).

        Raises:
            ProtocolError: the reply is an error, or the connection closed first.
        """
        assert request.id is not None, "a request whose reply is awaited needs an id"
        await self.send(request)
        with trio.fail_after(timeout):
            while True:
                lines = await self.receive_lines()
                if not lines:
                    raise ProtocolError(f"closed while waiting for the reply to {request.OP}")
                for i, line in enumerate(lines):
                    obj = None if line.startswith(MESSAGE_PREFIX) else decode_line(line)
                    if not isinstance(obj, dict) or obj.get("op") not in _REPLY_OPS or \
                            obj.get("id") != request.id:
                        if keep is not None:
                            keep.append(line)
                        continue
                    self._held.extend(lines[i + 1:])  # what came after the reply stays
                    reply = parse(line, type(request))
                    if isinstance(reply, Error):
                        raise ProtocolError(f"{request.OP}: {reply}")
                    return reply

    async def aclose(self) -> None:
        self.closed = True
        if self._stream is not None:
            await trio.aclose_forcefully(self._stream)
        elif self._ws is not None:
            with trio.move_on_after(1) as scope:
                scope.shield = True
                await self._ws.aclose()


async def open_link(nursery: trio.Nursery, transport: str, host: str, port: int) -> Link:
    """Connect: ``transport`` "tcp" to the protocol port, "ws" to ``/ws`` on the HTTP port."""
    if transport == "tcp":
        stream = await trio.open_tcp_stream(host, port)
        return Link(stream, None)
    if transport == "ws":
        ws = await trio_websocket.connect_websocket(
            nursery, host, port, "/ws", use_ssl=False, message_queue_size=4096,
            max_message_size=MAX_SERVER_FRAME_BYTES,
        )
        return Link(None, ws)
    raise ValueError(f"unknown transport {transport!r}")


async def hello(link: Link, token: str, *, resume: dict[str, int] | None = None,
                timeout: float = 60.0,  # noqa: ASYNC109
                keep: list[bytes] | None = None, rooms_limit: int | None = None,
                contacts_limit: int | None = None) -> Welcome:
    """Say hello (paged with ``rooms_limit``/``contacts_limit``); returns the welcome. Lines
    before it go to ``keep`` (if given); those after it stay for ``receive_lines``."""
    welcome = await link.request(Hello(id="h", token=token, resume=resume or None,
                                       rooms_limit=rooms_limit, contacts_limit=contacts_limit),
                                 timeout=timeout, keep=keep)
    if not isinstance(welcome, Welcome):
        raise ProtocolError(f"hello answered with {welcome}")
    return welcome

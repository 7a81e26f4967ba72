"""The two ways bytes reach a protocol connection: a bare TCP stream and WebSocket.

Both carry the same NDJSON lines; the connection code sees only :class:`Transport`. Over
WebSocket every text message holds one or more whole lines, so a message that lacks its final
newline gets one, and a batch of outgoing lines is sent as one message.
"""

from __future__ import annotations

import contextlib
import os
from typing import Protocol

import trio
import trio_websocket

__all__ = ["TcpTransport", "Transport", "TransportClosed", "WebSocketTransport"]


class TransportClosed(Exception):
    """The peer is gone; nothing more can be sent."""


class Transport(Protocol):
    name: str
    remote: str

    async def receive(self) -> bytes:
        """Some bytes from the peer; ``b""`` once it has closed."""

    async def send(self, data: bytes) -> None:
        """Send whole lines. Raises TransportClosed."""

    async def aclose(self) -> None:
        """Close; never raises."""


class TcpTransport:
    """The bare protocol on a TCP stream.

    Sending tries one non-blocking ``write`` on the socket first and awaits trio's
    ``send_all`` only for what the kernel did not take: on a socket with room in its buffer
    (nearly always) that costs one system call, without trio's wait machinery, which the
    benchmarks found to be most of the cost of a delivery. The connection's writer is the
    only task that sends, and it checkpoints on its outbox between writes.

    Receiving goes the other way round. After a read that did not fill the buffer the socket
    is most likely empty (a client sends a request and waits for the answer), so the reader
    waits for readability first and then reads once, instead of trio's ``receive_some``,
    which tries the read, takes the ``EAGAIN``, waits, reads, and checkpoints again: one pass
    through trio's scheduler per read instead of two, and no exception. After a full buffer
    it reads straight away (after a checkpoint, so that a client that floods us cannot
    starve the other tasks). The connection's reader is the only task that receives.
    """

    name = "tcp"

    def __init__(self, stream: trio.abc.Stream, remote: str, receive_size: int = 65536) -> None:
        self._stream = stream
        self.remote = remote
        self._receive_size = receive_size
        socket = getattr(stream, "socket", None)
        self._socket: trio.socket.SocketType | None = socket
        self._fd: int | None = socket.fileno() if socket is not None else None
        self._closed = False
        self._drained = True  # the last read left nothing behind (as far as we know)

    async def receive(self) -> bytes:
        if self._socket is None:
            try:
                return bytes(await self._stream.receive_some(self._receive_size))
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return b""
        if self._drained:
            await self._readable()
        else:
            await trio.lowlevel.checkpoint()
        while True:
            if self._closed:
                return b""
            try:
                data = os.read(self._socket.fileno(), self._receive_size)
            except BlockingIOError:  # woken without data after all (it happens): wait again
                await self._readable()
                continue
            except OSError:  # ECONNRESET...: the peer is gone
                return b""
            self._drained = len(data) < self._receive_size
            return data

    async def _readable(self) -> None:
        assert self._socket is not None
        try:
            await trio.lowlevel.wait_readable(self._socket)
        except trio.ClosedResourceError:  # closed under us by aclose(): nothing more to read
            self._closed = True

    def send_now(self, data: bytes) -> int:
        """One non-blocking write, from any task: how much of ``data`` the kernel took (0
        when the socket's buffer is full, or when this stream has no socket of its own).
        Raises TransportClosed. Only while no :meth:`send` is under way (the connection
        calls it only while its writer waits for work, see chatd.outbox)."""
        if self._fd is None or self._closed:
            return 0
        try:
            return os.write(self._fd, data)
        except BlockingIOError:
            return 0
        except OSError as exc:  # EPIPE, ECONNRESET...: the peer is gone
            raise TransportClosed(str(exc)) from None

    async def send(self, data: bytes) -> None:
        sent = self.send_now(data)
        if sent == len(data):
            return
        try:
            await self._stream.send_all(memoryview(data)[sent:])
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            raise TransportClosed(str(exc)) from None

    async def aclose(self) -> None:
        self._closed = True  # never write to the number the kernel may give another socket
        await trio.aclose_forcefully(self._stream)


class WebSocketTransport:
    name = "ws"

    def __init__(self, ws: trio_websocket.WebSocketConnection, remote: str) -> None:
        self._ws = ws
        self.remote = remote

    async def receive(self) -> bytes:
        try:
            message = await self._ws.get_message()
        except trio_websocket.ConnectionClosed:
            return b""
        data = message.encode("utf-8") if isinstance(message, str) else bytes(message)
        if not data.endswith(b"\n"):
            data += b"\n"
        return data

    async def send(self, data: bytes) -> None:
        try:
            await self._ws.send_message(data.decode("utf-8"))
        except trio_websocket.ConnectionClosed as exc:
            raise TransportClosed(str(exc)) from None

    async def aclose(self) -> None:
        with trio.move_on_after(2, shield=True), contextlib.suppress(Exception):
            # closing a broken socket may fail in many ways; it is closed either way
            await self._ws.aclose()

"""A lean chatd protocol client for load generation: TCP or WebSocket, NDJSON lines.

It speaks docs/protocol.md and nothing else (it imports nothing from ``chatd``), and it is
written to cost the load generator as little CPU as possible: lines that are ``message`` events
are recognised by their first bytes (the server writes compact JSON with ``op`` first) and only
parsed when the caller asks; everything else goes through ``json.loads``.
"""

from __future__ import annotations

import json
from typing import Any

import trio
import trio_websocket

__all__ = ["Link", "ProtocolError", "open_link"]

MESSAGE_PREFIX = b'{"op":"message"'


class ProtocolError(Exception):
    """The server answered something the load generator did not expect."""


class Link:
    """One protocol connection: ``send`` frames, ``lines`` yields the received lines."""

    def __init__(self, stream: trio.SocketStream | None,
                 ws: trio_websocket.WebSocketConnection | None) -> None:
        self._stream = stream
        self._ws = ws
        self._buffer = b""
        self.closed = False

    async def send(self, frame: dict[str, Any]) -> None:
        await self.send_raw((json.dumps(frame, separators=(",", ":")) + "\n").encode())

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
        """The next whole lines (at least one); [] once the server has closed."""
        data = self._buffer
        while True:
            if b"\n" not in data:
                chunk = await self.receive_chunk()
                if not chunk:
                    self.closed = True
                    return []
                data += chunk
            end = data.rfind(b"\n")
            if end < 0:
                continue
            self._buffer = data[end + 1:]
            return [line for line in data[:end].split(b"\n") if line]

    async def request(self, frame: dict[str, Any], *, timeout: float = 30.0,  # noqa: ASYNC109
                      keep: list[bytes] | None = None) -> dict[str, Any]:
        """Send a request with an id and return its reply; the other lines received in between
        are appended to ``keep`` (dropped without it)."""
        await self.send(frame)
        with trio.fail_after(timeout):
            while True:
                lines = await self.receive_lines()
                if not lines:
                    raise ProtocolError(f"closed while waiting for the reply to {frame['op']}")
                for i, line in enumerate(lines):
                    reply: dict[str, Any] | None = (
                        None if line.startswith(MESSAGE_PREFIX) else json.loads(line))
                    if reply is None or reply.get("id") != frame.get("id") or \
                            reply.get("op") == "message":
                        if keep is not None:
                            keep.append(line)
                        continue
                    rest = lines[i + 1:]
                    if rest:  # what came after the reply stays for the next reader
                        self._buffer = b"\n".join(rest) + b"\n" + self._buffer
                    if reply["op"] == "error":
                        raise ProtocolError(f"{frame['op']}: {reply}")
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
            max_message_size=16 * 1024 * 1024,
        )
        return Link(None, ws)
    raise ValueError(f"unknown transport {transport!r}")


async def hello(link: Link, token: str, *, resume: dict[str, int] | None = None,
                timeout: float = 60.0,  # noqa: ASYNC109
                keep: list[bytes] | None = None) -> dict[str, Any]:
    """Say hello; returns the welcome (what came after it in the same read goes to ``keep``,
    if given, else stays buffered for ``receive_lines``)."""
    frame: dict[str, Any] = {"op": "hello", "id": "h", "token": token}
    if resume:
        frame["resume"] = resume
    welcome = await link.request(frame, timeout=timeout, keep=keep)
    if welcome.get("op") != "welcome":
        raise ProtocolError(f"hello answered with {welcome}")
    return welcome

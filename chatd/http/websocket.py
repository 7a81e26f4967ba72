"""The WebSocket upgrade at ``/ws``, on the HTTP port.

``trio_websocket.serve_websocket`` would answer plain HTTP with 400, so h11 parses the head; for
``GET /ws`` with ``Upgrade: websocket`` h11 stops (``PAUSED``) with any bytes after the head in
``trailing_data``. We rebuild the head from the parsed request, put those bytes after it, and
give trio-websocket a stream that replays them before reading the socket; from there
trio-websocket owns the connection and a protocol session runs on it.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import struct
from collections.abc import Awaitable, Callable

import h11
import trio
import trio_websocket

from chatd.actions import App
from chatd.errors import ChatError
from chatd.http.messages import Request
from chatd.protocol import codes

__all__ = ["OnWebSocket", "check_websocket_request", "is_websocket_upgrade", "serve_websocket"]

log = logging.getLogger(__name__)

# Messages trio-websocket may queue before its reader stops reading the socket: small, so that a
# client that sends faster than the session handles feels TCP back-pressure.
WS_MESSAGE_QUEUE = 4
WS_CLOSE_TIMEOUT = 5.0  # seconds to wait for the peer's half of the WebSocket close handshake

#: Runs a protocol session on an accepted WebSocket; the connection closes when it returns.
OnWebSocket = Callable[[trio_websocket.WebSocketConnection, str], Awaitable[None]]


def is_websocket_upgrade(event: h11.Request) -> bool:
    for name, value in event.headers:
        if name == b"upgrade" and b"websocket" in {
            token.strip().lower() for token in bytes(value).split(b",")
        }:
            return True
    return False


# Close codes that name what happened locally and must never be sent (RFC 6455 §7.4.1).
_NEVER_SENT = {1005, 1006, 1015}
_CLOSE_OPCODE = 0x8


def _close_frame(code: int, reason: str | None) -> bytes:
    """A server's (unmasked) close frame; the reason is cut to fit a control frame."""
    text = (reason or "").encode()[:123].decode("utf-8", "ignore").encode()
    return bytes([0x80 | _CLOSE_OPCODE, 2 + len(text)]) + struct.pack("!H", code) + text


class _ReplayStream(trio.abc.Stream):
    """A stream that first yields ``prefix``, then reads on from ``stream``.

    trio-websocket wants to read the upgrade request itself, but h11 has consumed it from the
    socket already; this gives it the bytes back.

    It also says why the connection ends when the client broke the protocol. On a frame that
    wsproto refuses (text that is not UTF-8, an unmasked frame, RSV bits, a reserved opcode)
    trio-websocket records the close code wsproto chose and closes the TCP connection without
    sending it: wsproto reports the error as the peer's close, but its state stays OPEN, so
    trio-websocket does not answer it. RFC 6455 §7.1.7 and §7.4.1 want that code (1007, 1002)
    sent first; :meth:`aclose` sends it when no close frame went out before.
    """

    def __init__(self, stream: trio.abc.Stream, prefix: bytes, remote: str) -> None:
        self._stream = stream
        self._prefix = prefix
        self._remote = remote
        self._close_sent = False
        #: The connection on this stream, once accepted (for its close reason).
        self.websocket: trio_websocket.WebSocketConnection | None = None

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        if self._prefix:
            await trio.lowlevel.checkpoint()
            size = len(self._prefix) if max_bytes is None else max_bytes
            chunk, self._prefix = self._prefix[:size], self._prefix[size:]
            return chunk
        return await self._stream.receive_some(max_bytes)

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        # trio-websocket writes one frame per call: a close frame starts with FIN + opcode 8.
        if bytes(data[:1]) == bytes([0x80 | _CLOSE_OPCODE]):
            self._close_sent = True
        await self._stream.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self._stream.wait_send_all_might_not_block()

    async def aclose(self) -> None:
        reason = self.websocket.closed if self.websocket is not None else None
        if reason is not None and not self._close_sent and reason.code not in _NEVER_SENT:
            self._close_sent = True
            with trio.move_on_after(WS_CLOSE_TIMEOUT), contextlib.suppress(
                trio.BrokenResourceError, trio.ClosedResourceError
            ):
                await self._stream.send_all(_close_frame(reason.code, reason.reason))
        await self._stream.aclose()

    def __repr__(self) -> str:
        return f"<WebSocket stream from {self._remote}>"


def _request_head(event: h11.Request) -> bytes:
    """The request head as the client sent it (modulo whitespace), from h11's parse."""
    lines = [bytes(event.method) + b" " + bytes(event.target) + b" HTTP/1.1"]
    lines += [bytes(name) + b": " + bytes(value) for name, value in event.headers.raw_items()]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def check_websocket_request(request: Request) -> None:
    """Refuse an upgrade request that RFC 6455 §4.2.1 does not allow (wsproto would accept it).

    Raises:
        ChatError: ``bad_request``, with what is wrong.
    """
    if request.body or request.header(b"transfer-encoding") is not None:
        raise ChatError(codes.BAD_REQUEST, "a WebSocket upgrade request has no body")
    # What wsproto refuses with a bare 400 of its own (or, for a Host it cannot decode, an
    # exception): refused here first, with the API's JSON error.
    connection = {token.strip().lower() for name, value in request.headers.headers
                  if name == b"connection" for token in bytes(value).split(b",")}
    if b"upgrade" not in connection:
        raise ChatError(codes.BAD_REQUEST, "a WebSocket upgrade needs 'Connection: Upgrade'")
    upgrade = request.header(b"upgrade")
    if upgrade is None or upgrade.strip().lower() != b"websocket":
        raise ChatError(codes.BAD_REQUEST, "a WebSocket upgrade needs 'Upgrade: websocket'")
    host = request.header(b"host")
    try:
        if host is None:
            raise ValueError("no Host")
        host.decode("idna")
    except (ValueError, UnicodeError):
        raise ChatError(codes.BAD_REQUEST, "a WebSocket upgrade needs a Host header "
                        "naming a host") from None
    keys = [value for name, value in request.headers.headers if name == b"sec-websocket-key"]
    if not keys:
        raise ChatError(codes.BAD_REQUEST, "Sec-WebSocket-Key is missing")
    if len(keys) > 1:
        raise ChatError(codes.BAD_REQUEST, "more than one Sec-WebSocket-Key")
    try:
        nonce = base64.b64decode(bytes(keys[0]), validate=True)
    except binascii.Error:
        nonce = b""
    if len(nonce) != 16:
        raise ChatError(codes.BAD_REQUEST,
                        "Sec-WebSocket-Key must be the base64 of a 16-byte nonce")
    if request.header(b"sec-websocket-version") != b"13":
        raise ChatError(codes.BAD_REQUEST, "only WebSocket version 13 is spoken here")


async def serve_websocket(
    stream: trio.abc.Stream, conn: h11.Connection, event: h11.Request, app: App,
    on_websocket: OnWebSocket, remote: str,
) -> None:
    """Hand the connection to trio-websocket and run the session on it; closes it after."""
    replay = _ReplayStream(stream, _request_head(event) + conn.trailing_data[0], remote)
    async with trio.open_nursery() as nursery:
        ws: trio_websocket.WebSocketConnection | None = None
        with trio.move_on_after(app.config.http.request_timeout):
            try:
                ws_request = await trio_websocket.wrap_server_stream(
                    nursery,
                    replay,
                    message_queue_size=WS_MESSAGE_QUEUE,
                    max_message_size=app.config.limits.max_frame_bytes,
                )
                ws = replay.websocket = await ws_request.accept()
            except (
                trio_websocket.ConnectionClosed, trio.BrokenResourceError, trio.ClosedResourceError
            ) as exc:
                log.debug("WebSocket handshake from %s failed: %r", remote, exc)
        if ws is None:
            log.debug("WebSocket handshake from %s did not finish", remote)
            nursery.cancel_scope.cancel()
            return
        app.metrics.http_requests.labels(status="101").inc()
        try:
            await on_websocket(ws, remote)
        except trio_websocket.ConnectionClosed:
            pass
        except Exception:
            log.exception("WebSocket session from %s failed", remote)
        finally:
            with trio.move_on_after(WS_CLOSE_TIMEOUT, shield=True):
                await ws.aclose()
            nursery.cancel_scope.cancel()

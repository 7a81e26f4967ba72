"""``chatd client``: a line-oriented terminal chat client.

Theory of operation. One trio run holds two long-lived tasks: the *input* task reads lines from
standard input (in a worker thread, with ``os.read``, so that the terminal stays in its normal
blocking, cooked mode and standard output is never made non-blocking) and turns them into
requests; the *connection* task keeps a link to the server (WebSocket ``/ws``, or the bare TCP
port), says ``hello`` with ``resume`` (the last seq seen per room), reads frames and prints them,
pings every ``ping_interval``, and on loss reconnects with a growing delay.

Sends survive the connection: every ``send`` and ``dm`` gets a nonce and stays *pending* until
its ``ok`` arrives. After a reconnect the pending ones are sent again with the same nonces, so the
server stores each exactly once (docs/protocol.md, "Idempotent sends"). Failed ones are kept for
``/retry``. The sender's own ``message`` event is matched by its nonce and not printed twice: the
``ok`` prints the confirmed line.

Everything a peer wrote (message text, names, topics, error messages) is printed only after
:func:`clean` replaced its control characters, so that a message cannot send escape sequences to
the terminal.

The only protocol knowledge here is docs/protocol.md; requests are built with the request classes
of :mod:`chatd.protocol` and framed with its :func:`~chatd.protocol.encode` and
:class:`~chatd.protocol.LineBuffer`.
"""

from __future__ import annotations

import codecs
import contextlib
import dataclasses
import enum
import getpass
import io
import itertools
import json
import logging
import os
import random
import re
import ssl
import sys
import time
import urllib.parse
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, Protocol, TextIO

import h11
import trio
import trio_websocket

from chatd.config import Config
from chatd.protocol import (
    AddContact,
    Contacts,
    CreateRoom,
    Dm,
    Hello,
    History,
    InvalidName,
    Invite,
    Join,
    Kick,
    Leave,
    LineBuffer,
    Ping,
    Read,
    RemoveContact,
    Request,
    Rooms,
    Send,
    Who,
    dm_room_name,
    encode,
    is_dm_room,
    normalise_room,
    normalise_user,
)

__all__ = ["ClientOptions", "Endpoint", "clean", "clean_body", "main", "run"]

#: The largest frame the client accepts from the server (a ``join`` reply holds 50 messages).
MAX_FRAME_BYTES = 16 * 1024 * 1024
#: Seconds allowed to connect, and to get the welcome after the hello.
CONNECT_TIMEOUT = 15.0
#: Reconnect delays grow from the first to the last, doubling, with some jitter.
RECONNECT_FIRST = 0.5
RECONNECT_MAX = 10.0
#: A typing indicator is printed at most once per user and room in this many seconds.
TYPING_QUIET = 8.0
#: Errors after which a send is worth repeating with the same nonce.
RETRYABLE = frozenset({"unavailable", "internal", "rate_limited", "shutting_down"})
#: How many confirmed nonces are remembered, to recognise one's own late ``message`` echo.
RECENT_NONCES = 1000


# --------------------------------------------------------------------------- terminal output

# C0 controls except tab, DEL, C1 controls; and the bidi overrides and isolates, which can make
# a line read differently from what it holds.
_UNSAFE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_UNSAFE_KEEP_NEWLINE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
REPLACEMENT = "\ufffd"
_BODY_INDENT = "\n      "


def clean(text: object) -> str:
    """``text`` made safe for a terminal on one line: every control character (C0 but tab,
    DEL, C1, bidi overrides) becomes U+FFFD, so escape sequences are shown, never obeyed."""
    return _UNSAFE.sub(REPLACEMENT, str(text))


def clean_body(text: object) -> str:
    """A message's text made safe for a terminal: as :func:`clean`, except that a line break
    starts an indented continuation line (so a message cannot fake a line of its own)."""
    lines = str(text).replace("\r\n", "\n").split("\n")
    return _BODY_INDENT.join(clean(line) for line in lines)


def _hhmm(ts: object) -> str:
    if not isinstance(ts, int):
        return "--:--"
    try:
        return time.strftime("%H:%M", time.localtime(ts / 1000))
    except (ValueError, OverflowError, OSError):
        return "--:--"


class Screen:
    """Where the client prints: whole lines, flushed at once."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def line(self, text: str) -> None:
        """Print one line. Callers clean what peers wrote; this is a last line of defence
        that lets through only line breaks and tabs of all control characters."""
        self._stream.write(_UNSAFE_KEEP_NEWLINE.sub(REPLACEMENT, text) + "\n")
        self._stream.flush()

    def notice(self, text: str) -> None:
        self.line(f"-- {text}")

    def problem(self, text: str) -> None:
        self.line(f"!! {text}")

    def prompt(self, text: str) -> None:
        """A question without a line break after it."""
        self._stream.write(_UNSAFE.sub(REPLACEMENT, text))
        self._stream.flush()


class LineReader:
    """Lines from a file descriptor, read in a worker thread with ``os.read``.

    ``os.read`` holds no lock of Python's, so a read still blocked when the client quits does
    not hold up the interpreter's exit (``sys.stdin.readline`` in a thread would), and the
    descriptor stays blocking, so the terminal it shares with standard output is left alone.
    """

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._buffer = ""
        self._eof = False

    async def readline(self) -> str | None:
        """The next line without its line break, or None at the end of input."""
        while "\n" not in self._buffer:
            if self._eof:
                rest, self._buffer = self._buffer, ""
                return rest or None
            try:
                data = await trio.to_thread.run_sync(os.read, self._fd, 4096,
                                                     abandon_on_cancel=True)
            except OSError:  # EIO: the terminal went away
                data = b""
            if data:
                self._buffer += self._decoder.decode(data)
            else:
                self._eof = True
                self._buffer += self._decoder.decode(b"", final=True)
        line, self._buffer = self._buffer.split("\n", 1)
        return line.removesuffix("\r")


def _read_line_sync(fd: int) -> str:
    """One line from ``fd``, read a byte at a time so that nothing after it is consumed."""
    data = bytearray()
    while True:
        byte = os.read(fd, 1)
        if not byte or byte == b"\n":
            return data.decode("utf-8", "replace").removesuffix("\r")
        data += byte


# --------------------------------------------------------------------------- where the server is


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


def _parse_hostport(value: str) -> tuple[str, int]:
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


# --------------------------------------------------------------------------- links


class ConnectionLost(Exception):
    """The link to the server broke."""


class Link(Protocol):
    """One open connection to the server, speaking NDJSON frames."""

    async def send(self, frame: Mapping[str, Any]) -> None:
        """Raises ConnectionLost."""

    async def receive(self) -> list[Any] | None:
        """The next frames (decoded JSON values), or None once the server closed."""


class TcpLink:
    def __init__(self, stream: trio.abc.Stream) -> None:
        self._stream = stream
        self._buffer = LineBuffer(MAX_FRAME_BYTES)
        self._lock = trio.Lock()

    async def send(self, frame: Mapping[str, Any]) -> None:
        async with self._lock:
            try:
                await self._stream.send_all(encode(frame))
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
                raise ConnectionLost(str(exc) or "the connection broke") from exc

    async def receive(self) -> list[Any] | None:
        while True:
            line = self._buffer.next_line()
            if line is not None:
                return _decode_lines([line])
            if self._buffer.overflowed:
                raise ConnectionLost("the server sent a frame that is too large")
            try:
                data = await self._stream.receive_some(65536)
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                return None
            if not data:
                return None
            self._buffer.feed(bytes(data))


class WsLink:
    def __init__(self, ws: trio_websocket.WebSocketConnection) -> None:
        self._ws = ws

    async def send(self, frame: Mapping[str, Any]) -> None:
        try:
            await self._ws.send_message(encode(frame).decode("utf-8"))
        except trio_websocket.ConnectionClosed as exc:
            raise ConnectionLost("the WebSocket closed") from exc

    async def receive(self) -> list[Any] | None:
        try:
            message = await self._ws.get_message()
        except trio_websocket.ConnectionClosed:
            return None
        data = message.encode("utf-8") if isinstance(message, str) else bytes(message)
        return _decode_lines(data.split(b"\n"))


def _decode_lines(lines: list[bytes]) -> list[Any]:
    frames = []
    for line in lines:
        if line.strip():
            try:
                frames.append(json.loads(line))
            except ValueError:
                frames.append(None)  # reported by the dispatcher
    return frames


#: What breaking or failing to open a link can raise.
LINK_ERRORS: tuple[type[BaseException], ...] = (
    OSError, ConnectionLost, trio.BrokenResourceError, trio.ClosedResourceError,
    trio.TooSlowError, trio_websocket.HandshakeError, trio_websocket.ConnectionClosed,
)
#: What an HTTP request to the server can raise.
HTTP_ERRORS: tuple[type[BaseException], ...] = (*LINK_ERRORS, h11.ProtocolError)


# --------------------------------------------------------------------------- the client


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ClientOptions:
    """What ``chatd client`` was asked to do."""

    endpoint: Endpoint
    user: str
    tcp: tuple[str, int] | None = None
    password_from_stdin: bool = False

    @property
    def where(self) -> str:
        return f"tcp {self.tcp[0]}:{self.tcp[1]}" if self.tcp else self.endpoint.ws_url


class LoginFailed(Exception):
    """Logging in did not work and will not by retrying; the message says why."""


class _TokenRejected(Exception):
    pass


class _HelloRefused(Exception):
    pass


@dataclasses.dataclass(slots=True)
class PendingSend:
    """A ``send`` or ``dm`` not yet acknowledged; resent with the same nonce until it is."""

    request: Send | Dm
    label: str
    failed: bool = False


@dataclasses.dataclass(slots=True)
class RoomInfo:
    kind: str = "room"
    peer: str | None = None
    private: bool = False
    topic: str = ""


class _Outcome(enum.Enum):
    QUIT = "quit"


Handler = Callable[[dict[str, Any]], Awaitable[None]]


@dataclasses.dataclass(slots=True)
class _Command:
    run: Callable[[ChatClient, str], Awaitable[_Outcome | None]]
    usage: str
    about: str


class ChatClient:
    """The state of one chat session across reconnects, and what each line and frame does."""

    def __init__(self, options: ClientOptions, password: str, screen: Screen,
                 reader: LineReader) -> None:
        self.options = options
        self.screen = screen
        self.reader = reader
        self._password = password
        self.token: str | None = None
        self.me = options.user
        self.exit_code = 0
        self.link: Link | None = None  # set while welcomed
        self.current: str | None = None
        self.rooms: dict[str, RoomInfo] = {}
        self.seen: dict[str, int] = {}  # room -> the last seq shown live: resumed from here
        self.oldest: dict[str, int] = {}  # room -> the oldest seq shown: /history pages before
        self._paging: dict[str, int] = {}  # room -> seq reached while paging a gap
        self.pending: dict[str, PendingSend] = {}
        self._recent: deque[str] = deque(maxlen=RECENT_NONCES)
        self._handlers: dict[int, Handler] = {}
        self._ids = itertools.count(1)
        self._typing_shown: dict[tuple[str, str], float] = {}
        self._welcomed_before = False
        self._welcomed_now = False
        self._last_heard = 0.0
        self._session_nursery: trio.Nursery | None = None
        self._stop: trio.CancelScope | None = None

    # ------------------------------------------------------------------ login

    async def login(self, *, offer_register: bool) -> None:
        """Get a token with ``POST /api/login``; offer to register when the name and password
        are not known (and ``offer_register``).

        Raises:
            LoginFailed: with the reason to show.
            OSError and the like: the server cannot be reached.
        """
        body = {"username": self.me, "password": self._password}
        status, answer = await http_json(self.options.endpoint, "POST", "/api/login", body)
        if status == 401 and offer_register:
            self.screen.prompt(f"Login failed: unknown user or wrong password. "
                               f"Register a new account {clean(self.me)!r}? [y/N] ")
            reply = await self.reader.readline()
            if (reply or "").strip().lower() not in ("y", "yes"):
                raise LoginFailed("not logged in")
            await self._register()
            status, answer = await http_json(self.options.endpoint, "POST", "/api/login", body)
        if status == 200 and isinstance(answer, dict) and isinstance(answer.get("token"), str):
            self.token = answer["token"]
            return
        raise LoginFailed(f"login failed: {_http_error(status, answer)}")

    async def _register(self) -> None:
        if not self.options.password_from_stdin and os.isatty(0):
            again = await trio.to_thread.run_sync(getpass.getpass, "Password again: ")
            if again != self._password:
                raise LoginFailed("the passwords differ")
        status, answer = await http_json(self.options.endpoint, "POST", "/api/register",
                                         {"username": self.me, "password": self._password})
        if status != 201:
            raise LoginFailed(f"could not register: {_http_error(status, answer)}")
        self.screen.notice(f"registered {clean(self.me)}")

    # ------------------------------------------------------------------ running

    async def run(self) -> int:
        """Log in, then chat until /quit, the end of input, or a login that stops working."""
        try:
            await self.login(offer_register=True)
        except LoginFailed as exc:
            self.screen.problem(str(exc))
            return 1
        except HTTP_ERRORS as exc:
            self.screen.problem(f"cannot reach {self.options.endpoint.authority}: "
                                f"{_describe(exc)}")
            return 1
        async with trio.open_nursery() as nursery:
            self._stop = nursery.cancel_scope
            nursery.start_soon(self.keep_connected)
            await self.read_input()
            nursery.cancel_scope.cancel()
        if self.pending:
            self.screen.notice(f"{len(self.pending)} message(s) were not sent")
        return self.exit_code

    async def keep_connected(self) -> None:
        """Connect, chat, and on loss reconnect with a growing delay, resuming."""
        attempt = 0
        rejected = 0
        while True:
            self._welcomed_now = False
            try:
                async with self._open_link() as link:
                    reason = await self._session(link)
            except _TokenRejected as refusal:
                rejected += 1
                try:
                    if rejected > 2:
                        raise LoginFailed(f"the server refuses our tokens ({refusal})")
                    await self.login(offer_register=False)
                    continue
                except LoginFailed as exc:
                    self.screen.problem(f"{exc}; giving up")
                    self.exit_code = 1
                    assert self._stop is not None
                    self._stop.cancel()
                    return
                except HTTP_ERRORS as exc:
                    reason = _describe(exc)
            except _HelloRefused as exc:
                reason = str(exc)
            except LINK_ERRORS as exc:
                reason = _describe(exc)
            finally:
                self._lose_connection()
            welcomed = self._welcomed_now
            if welcomed:
                attempt = rejected = 0
            delay = min(RECONNECT_MAX, RECONNECT_FIRST * 2**attempt) * random.uniform(0.8, 1.2)
            attempt += 1
            what = "connection lost" if welcomed else "cannot connect"
            self.screen.notice(f"{what} ({reason}); reconnecting in {delay:.1f}s")
            await trio.sleep(delay)

    @contextlib.asynccontextmanager
    async def _open_link(self) -> AsyncIterator[Link]:
        if self.options.tcp:
            with trio.fail_after(CONNECT_TIMEOUT):
                stream = await trio.open_tcp_stream(*self.options.tcp)
            async with stream:
                yield TcpLink(stream)
        else:
            context = ssl.create_default_context() if self.options.endpoint.secure else None
            async with trio_websocket.open_websocket_url(
                self.options.endpoint.ws_url, context, max_message_size=MAX_FRAME_BYTES,
                connect_timeout=CONNECT_TIMEOUT, disconnect_timeout=2,
            ) as ws:
                yield WsLink(ws)

    async def _session(self, link: Link) -> str:
        """Say hello, then handle frames until the link ends; returns why it ended.

        Raises:
            _TokenRejected: the hello was refused with ``unauthenticated``.
            _HelloRefused: the hello was refused otherwise.
        """
        assert self.token is not None
        resume = {room: self._paging.get(room, seq) for room, seq in self.seen.items()}
        hello = Hello(id="hello", token=self.token,
                      resume=dict(list(resume.items())[:1000]) or None)
        await link.send(hello.wire())
        ending: list[str] = []
        refusal: list[BaseException] = []
        async with trio.open_nursery() as nursery:
            self._session_nursery = nursery
            try:
                with trio.fail_after(CONNECT_TIMEOUT):
                    welcome, following = await self._wait_welcome(link)
                self.link = link
                self._welcomed_now = True
                interval = welcome.get("ping_interval")
                interval = interval if isinstance(interval, int) and interval > 0 else 30
                self._last_heard = trio.current_time()
                nursery.start_soon(self._keepalive, link, interval, ending)
                self._on_welcome(welcome)
                for frame in following:  # the catch-up may share the welcome's message
                    await self._dispatch(frame)
                await self._resend_pending()
                while True:
                    frames = await link.receive()
                    if frames is None:
                        ending.append("the server closed the connection")
                        break
                    self._last_heard = trio.current_time()
                    for frame in frames:
                        await self._dispatch(frame)
            except (_TokenRejected, _HelloRefused) as exc:
                refusal.append(exc)
            except LINK_ERRORS as exc:
                ending.append(_describe(exc))
            nursery.cancel_scope.cancel()
        self._session_nursery = None
        if refusal:
            raise refusal[0]
        return ending[0] if ending else "the connection ended"

    async def _wait_welcome(self, link: Link) -> tuple[dict[str, Any], list[Any]]:
        """The welcome, and the frames that came after it in the same read."""
        while True:
            frames = await link.receive()
            if frames is None:
                raise ConnectionLost("the server closed the connection during the hello")
            for i, frame in enumerate(frames):
                if not isinstance(frame, dict):
                    continue
                if frame.get("op") == "welcome":
                    return frame, frames[i + 1:]
                if frame.get("op") == "error":
                    code, message = clean(frame.get("code")), clean(frame.get("message"))
                    if code == "unauthenticated":
                        raise _TokenRejected(message)
                    raise _HelloRefused(f"{code}: {message}")

    async def _keepalive(self, link: Link, interval: float, ending: list[str]) -> None:
        while True:
            await trio.sleep(interval)
            if trio.current_time() - self._last_heard > 2 * interval:
                ending.append(f"no answer from the server for {2 * interval:g}s")
                break
            try:
                await self._request(Ping(), _ignore)
            except ConnectionLost as exc:
                ending.append(_describe(exc))
                break
        assert self._session_nursery is not None
        self._session_nursery.cancel_scope.cancel()

    def _lose_connection(self) -> None:
        self.link = None
        self._handlers.clear()

    # ------------------------------------------------------------------ requests

    async def _request(self, request: Request, on_reply: Handler) -> None:
        """Send ``request`` with a fresh id; ``on_reply`` gets its ``ok`` or ``error``.

        Raises:
            ConnectionLost: not connected, or the link broke.
        """
        link = self.link
        if link is None:
            raise ConnectionLost("not connected")
        rid = next(self._ids)
        self._handlers[rid] = on_reply
        try:
            await link.send(dataclasses.replace(request, id=rid).wire())
        except ConnectionLost:
            self._handlers.pop(rid, None)
            raise

    async def _ask(self, what: str, request: Request, on_ok: Handler) -> None:
        """A request from a command: errors are printed, and so is being disconnected."""

        async def on_reply(frame: dict[str, Any]) -> None:
            if frame.get("op") == "ok":
                await on_ok(frame)
            else:
                self._show_error(what, frame)

        try:
            await self._request(request, on_reply)
        except ConnectionLost:
            self.screen.problem(f"{what}: not connected; try again once reconnected")

    def _show_error(self, what: str, frame: Mapping[str, Any]) -> None:
        text = f"{what}: {clean(frame.get('code'))}: {clean(frame.get('message'))}"
        retry = frame.get("retry_after")
        if isinstance(retry, int):
            text += f" (retry in {retry / 1000:g}s)"
        self.screen.problem(text)

    # ------------------------------------------------------------------ sending

    async def say(self, room: str | None, text: str, *, to: str | None = None) -> None:
        """Send ``text`` to ``room`` (or as a dm ``to`` a user), keeping it until acked."""
        nonce = uuid.uuid4().hex
        request: Send | Dm
        if to is not None:
            request = Dm(to=to, text=text, nonce=nonce)
            label = self._label(dm_room_name(self.me, to))
        else:
            assert room is not None
            request = Send(room=room, text=text, nonce=nonce)
            label = self._label(room)
        pending = PendingSend(request, label)
        self.pending[nonce] = pending
        state = "sending" if self.link is not None else "not connected: sent once reconnected"
        self.screen.line(f"  ... [{label}] {clean(self.me)}: {clean_body(text)}  ({state})")
        await self._transmit(pending)

    async def _transmit(self, pending: PendingSend) -> None:
        nonce = pending.request.nonce

        async def on_reply(frame: dict[str, Any]) -> None:
            await self._on_send_reply(nonce, frame)

        pending.failed = False
        with contextlib.suppress(ConnectionLost):  # still pending: resent after the welcome
            await self._request(pending.request, on_reply)

    async def _on_send_reply(self, nonce: str, frame: dict[str, Any]) -> None:
        pending = self.pending.get(nonce)
        if pending is None:
            return
        if frame.get("op") == "ok":
            del self.pending[nonce]
            self._recent.append(nonce)
            room = str(frame.get("room", ""))
            if is_dm_room(room) and room not in self.rooms:
                self.rooms[room] = RoomInfo(kind="dm", peer=self._peer_of(room))
            label = self._label(room) if room else pending.label
            self.screen.line(f"{_hhmm(frame.get('ts'))} [{label}] {clean(self.me)}: "
                             f"{clean_body(pending.request.text)}")
            return
        pending.failed = True
        code = frame.get("code")
        if code == "rate_limited" and isinstance(frame.get("retry_after"), int):
            self._show_error(f"not sent to [{pending.label}]", frame)
            self.screen.notice("it will be sent again when the limit allows")
            if self._session_nursery is not None:
                self._session_nursery.start_soon(self._retry_later, nonce,
                                                 frame["retry_after"] / 1000)
            return
        self._show_error(f"not sent to [{pending.label}]", frame)
        hint = "/retry sends it again" if code in RETRYABLE else \
            "kept: /retry sends it again (with the same nonce), /drop forgets it"
        self.screen.notice(hint)

    async def _retry_later(self, nonce: str, delay: float) -> None:
        await trio.sleep(delay)
        pending = self.pending.get(nonce)
        if pending is not None and pending.failed:
            await self._transmit(pending)

    async def _resend_pending(self) -> None:
        waiting = [p for p in self.pending.values() if not p.failed]
        if waiting:
            self.screen.notice(f"sending {len(waiting)} waiting message(s)")
        for pending in waiting:
            await self._transmit(pending)

    # ------------------------------------------------------------------ names

    def _peer_of(self, room: str) -> str:
        info = self.rooms.get(room)
        if info is not None and info.peer:
            return info.peer
        first, _, second = room[1:].partition(":")
        return second if first == self.me.lower() else first

    def _label(self, room: str) -> str:
        """How a room is shown: its name, or ``@peer`` for a conversation."""
        return clean("@" + self._peer_of(room) if is_dm_room(room) else room)

    def _room_arg(self, arg: str) -> str | None:
        """A room named in a command: ``general``, ``@bob`` or ``@ann:bob``; None (and a
        message) when it is not a valid name."""
        arg = arg.strip()
        try:
            if arg.startswith("@") and ":" not in arg:
                return dm_room_name(self.me, normalise_user(arg[1:]))
            return normalise_room(arg)
        except InvalidName as exc:
            self.screen.problem(f"{clean(arg)!r}: {exc}")
            return None

    def _user_arg(self, arg: str) -> str | None:
        try:
            return normalise_user(arg.strip().removeprefix("@"))
        except InvalidName as exc:
            self.screen.problem(f"{clean(arg)!r}: {exc}")
            return None

    # ------------------------------------------------------------------ frames from the server

    async def _dispatch(self, frame: Any) -> None:
        if not isinstance(frame, dict) or not isinstance(frame.get("op"), str):
            self.screen.problem("the server sent a frame that is not a JSON object; ignored")
            return
        op = frame["op"]
        try:
            if op in ("ok", "error") and frame.get("id") is not None:
                handler = self._handlers.pop(frame["id"], None)
                if handler is not None:
                    await handler(frame)
                elif op == "error":
                    self._show_error("server", frame)
                return
            if op == "error":
                self._show_error("server", frame)
                return
            on_event = self._EVENTS.get(op)
            if on_event is not None:
                await on_event(self, frame)
        except (KeyError, TypeError, ValueError, AttributeError):
            self.screen.problem(f"could not understand a {clean(op)!r} frame from the server")

    def _on_welcome(self, frame: dict[str, Any]) -> None:
        user = frame.get("user") or {}
        self.me = str(user.get("name") or self.me)
        listed: set[str] = set()
        for obj in frame.get("rooms") or []:
            room = str(obj["room"])
            listed.add(room)
            self._remember_room(obj)
            self.seen.setdefault(room, int(obj.get("last_seq") or 0))
        for room in set(self.rooms) - listed:  # left or kicked while away
            self._forget_room(room)
        if self._welcomed_before:
            self.screen.notice(f"reconnected to {self.options.where} as {clean(self.me)}")
            return
        self._welcomed_before = True
        self.screen.notice(f"connected to {self.options.where} as {clean(self.me)}")
        rooms = [self._room_summary(obj) for obj in frame.get("rooms") or []]
        self.screen.notice("rooms: " + (", ".join(rooms) if rooms else "none yet"))
        contacts = frame.get("contacts") or []
        if contacts:
            self.screen.notice("contacts: " + ", ".join(
                f"{clean(c.get('user'))} ({clean(c.get('status'))})" for c in contacts))
        first = [r for r in self.rooms if self.rooms[r].kind == "room"] or list(self.rooms)
        if first:
            self.current = first[0]
            self.screen.notice(f"talking in [{self._label(self.current)}]; "
                               "type to send, /help for commands")
        else:
            self.screen.notice("you are in no room yet: /join ROOM, /rooms, /help")

    def _room_summary(self, obj: Mapping[str, Any]) -> str:
        room = str(obj.get("room"))
        text = self._label(room)
        if obj.get("private") and obj.get("kind") != "dm":
            text += " (private)"
        unread = obj.get("unread")
        if isinstance(unread, int) and unread > 0:
            text += f" ({'999+' if unread >= 999 else unread} unread)"
        return text

    def _remember_room(self, obj: Mapping[str, Any]) -> None:
        room = str(obj["room"])
        info = self.rooms.setdefault(room, RoomInfo())
        info.kind = str(obj.get("kind", "dm" if is_dm_room(room) else "room"))
        if isinstance(obj.get("peer"), str):
            info.peer = obj["peer"]
        info.private = bool(obj.get("private"))
        info.topic = str(obj.get("topic") or "")

    def _forget_room(self, room: str) -> None:
        self.rooms.pop(room, None)
        self.seen.pop(room, None)
        self.oldest.pop(room, None)
        self._paging.pop(room, None)
        if self.current == room:
            self.current = None
            self.screen.notice("no current room: /switch ROOM or /join ROOM")

    def _format_message(self, msg: Mapping[str, Any]) -> str:
        return (f"{_hhmm(msg.get('ts'))} [{self._label(str(msg['room']))}] "
                f"{clean(msg.get('from'))}: {clean_body(msg.get('text', ''))}")

    async def _on_message(self, frame: dict[str, Any]) -> None:
        room, seq = str(frame["room"]), int(frame["seq"])
        if seq <= self.seen.get(room, 0):
            return  # shown already
        self.seen[room] = seq
        self.oldest.setdefault(room, seq)
        if room not in self.rooms:  # a new conversation, or a room we were just invited to
            self.rooms[room] = RoomInfo(kind="dm" if is_dm_room(room) else "room")
        sender = str(frame.get("from", ""))
        self._typing_shown.pop((room, sender.lower()), None)
        nonce = frame.get("nonce")
        if sender.lower() == self.me.lower() and (nonce in self.pending or nonce in self._recent):
            return  # our own send: its ack prints it
        self.screen.line(self._format_message(frame))

    async def _on_presence(self, frame: dict[str, Any]) -> None:
        self.screen.notice(f"{clean(frame['user'])} is {clean(frame['status'])}")

    async def _on_joined(self, frame: dict[str, Any]) -> None:
        room, user, by = str(frame["room"]), str(frame["user"]), frame.get("by")
        if user.lower() == self.me.lower():
            if by is None:
                return  # our own join: its reply says so
            self.rooms.setdefault(room, RoomInfo())
            self.screen.notice(f"{clean(by)} added you to [{self._label(room)}]; "
                               f"/switch {clean(room)} to talk there")
            return
        via = f" (invited by {clean(by)})" if by else ""
        self.screen.notice(f"{clean(user)} joined [{self._label(room)}]{via}")

    async def _on_left(self, frame: dict[str, Any]) -> None:
        room, user, by = str(frame["room"]), str(frame["user"]), frame.get("by")
        label = self._label(room)
        if user.lower() == self.me.lower():
            if room in self.rooms:  # else the reply to our /leave said it already
                self.screen.notice(f"{clean(by)} removed you from [{label}]" if by
                                   else f"you left [{label}]")
                self._forget_room(room)
            return
        via = f" (removed by {clean(by)})" if by else ""
        self.screen.notice(f"{clean(user)} left [{label}]{via}")

    async def _on_typing(self, frame: dict[str, Any]) -> None:
        room, user = str(frame["room"]), str(frame["user"])
        now = time.monotonic()
        key = (room, user.lower())
        if now - self._typing_shown.get(key, -TYPING_QUIET) >= TYPING_QUIET:
            self._typing_shown[key] = now
            self.screen.line(f"      [{self._label(room)}] {clean(user)} is typing...")

    async def _on_gap(self, frame: dict[str, Any]) -> None:
        room, after, last = str(frame["room"]), int(frame["after"]), int(frame["last_seq"])
        self.screen.notice(f"{last - after} messages missed in [{self._label(room)}]; "
                           "fetching them")
        self.seen[room] = max(self.seen.get(room, 0), last)
        self._paging[room] = after
        await self._page_gap(room, after, last)

    async def _page_gap(self, room: str, after: int, last: int) -> None:
        async def on_page(frame: dict[str, Any]) -> None:
            reached = after
            for msg in frame.get("messages") or []:
                if int(msg["seq"]) > last:
                    break
                reached = int(msg["seq"])
                self.screen.line(self._format_message(msg))
            self._paging[room] = reached
            if frame.get("more") and after < reached < last:
                await self._page_gap(room, reached, last)
            else:
                self._paging.pop(room, None)

        await self._ask(f"history of [{self._label(room)}]",
                        History(room=room, after=after, limit=500), on_page)

    _EVENTS: dict[str, Callable[[ChatClient, dict[str, Any]], Awaitable[None]]] = {
        "message": _on_message,
        "presence": _on_presence,
        "joined": _on_joined,
        "left": _on_left,
        "typing": _on_typing,
        "gap": _on_gap,
    }

    # ------------------------------------------------------------------ input

    async def read_input(self) -> None:
        """Handle lines from the terminal until /quit or the end of input."""
        while True:
            line = await self.reader.readline()
            if line is None:
                return
            if not line.strip():
                continue
            if line.startswith("/") and not line.startswith("//"):
                if await self.command(line) is _Outcome.QUIT:
                    return
                continue
            text = line[1:] if line.startswith("//") else line
            if self.current is None:
                self.screen.problem("no current room: /join ROOM or /switch ROOM first")
                continue
            await self.say(self.current, text)

    async def command(self, line: str) -> _Outcome | None:
        """Run one slash command line."""
        name, _, arg = line[1:].partition(" ")
        command = _COMMANDS.get(_ALIASES.get(name.lower(), name.lower()))
        if command is None:
            self.screen.problem(f"unknown command /{clean(name)}; /help lists them")
            return None
        return await command.run(self, arg.strip())

    def _need_room(self, what: str) -> str | None:
        if self.current is None:
            self.screen.problem(f"{what}: no current room (/join ROOM or /switch ROOM)")
        return self.current

    async def cmd_help(self, arg: str) -> None:
        self.screen.line("Type a line to send it to the current room (start it with // to "
                         "send a line that starts with /).")
        for command in _COMMANDS.values():
            self.screen.line(f"  {command.usage:<24} {command.about}")

    async def cmd_quit(self, arg: str) -> _Outcome:
        return _Outcome.QUIT

    async def cmd_join(self, arg: str) -> None:
        room = self._room_arg(arg) if arg else None
        if room is None:
            if not arg:
                self.screen.problem("usage: /join ROOM")
            return

        async def on_ok(frame: dict[str, Any]) -> None:
            name = str(frame["room"])
            info = self.rooms.setdefault(name, RoomInfo())
            info.kind = "dm" if is_dm_room(name) else "room"
            info.private, info.topic = bool(frame.get("private")), str(frame.get("topic", ""))
            messages = frame.get("messages") or []
            topic = f" - {clean(info.topic)}" if info.topic else ""
            self.screen.notice(f"joined [{self._label(name)}]{topic}")
            for msg in messages[-10:]:
                self.screen.line(self._format_message(msg))
            if messages:
                shown = messages[-10:]
                self.oldest[name] = int(shown[0]["seq"])
            self.seen[name] = max(self.seen.get(name, 0), int(frame.get("last_seq") or 0))
            self.current = name

        await self._ask(f"/join {clean(arg)}", Join(room=room), on_ok)

    async def cmd_leave(self, arg: str) -> None:
        room = self._room_arg(arg) if arg else self._need_room("/leave")
        if room is None:
            return

        async def on_ok(frame: dict[str, Any]) -> None:
            if room in self.rooms:
                self.screen.notice(f"you left [{self._label(room)}]")
                self._forget_room(room)

        await self._ask("/leave", Leave(room=room), on_ok)

    async def cmd_switch(self, arg: str) -> None:
        if not arg:
            self.screen.problem("usage: /switch ROOM (or @USER for a conversation)")
            return
        room = self._room_arg(arg)
        if room is None:
            return
        if room not in self.rooms:
            hint = f"/dm {clean(arg[1:])} TEXT" if is_dm_room(room) else f"/join {clean(room)}"
            self.screen.problem(f"you are not in [{self._label(room)}]; {hint} first")
            return
        self.current = room
        self.screen.notice(f"talking in [{self._label(room)}]")

    async def cmd_rooms(self, arg: str) -> None:
        async def on_ok(frame: dict[str, Any]) -> None:
            rooms = frame.get("rooms") or []
            self.screen.notice(f"rooms ({len(rooms)}), * the current one:")
            for obj in rooms:
                if obj.get("member"):
                    self._remember_room(obj)
                mark = "*" if obj.get("room") == self.current else " "
                member = "" if obj.get("member") else "  (not a member)"
                topic = f"  - {clean(obj.get('topic'))}" if obj.get("topic") else ""
                self.screen.line(f" {mark} {self._room_summary(obj)}{member}{topic}")

        await self._ask("/rooms", Rooms(), on_ok)

    async def cmd_dm(self, arg: str) -> None:
        user_arg, _, text = arg.partition(" ")
        if not user_arg or not text.strip():
            self.screen.problem("usage: /dm USER TEXT")
            return
        user = self._user_arg(user_arg)
        if user is not None:
            await self.say(None, text, to=user)

    async def cmd_who(self, arg: str) -> None:
        room = self._room_arg(arg) if arg else self._need_room("/who")
        if room is None:
            return

        async def on_ok(frame: dict[str, Any]) -> None:
            members = ", ".join(f"{clean(m.get('user'))} ({clean(m.get('status'))})"
                                for m in frame.get("members") or [])
            self.screen.notice(f"in [{self._label(room)}]: {members}")

        await self._ask("/who", Who(room=room), on_ok)

    async def cmd_history(self, arg: str) -> None:
        room = self._need_room("/history")
        if room is None:
            return
        try:
            limit = int(arg) if arg else 20
        except ValueError:
            self.screen.problem("usage: /history [N]")
            return
        limit = max(1, min(limit, 500))
        before = self.oldest.get(room)
        if before is not None and before <= 1:
            self.screen.notice(f"no older messages in [{self._label(room)}]")
            return

        async def on_ok(frame: dict[str, Any]) -> None:
            messages = frame.get("messages") or []
            if not messages:
                self.screen.notice(f"no older messages in [{self._label(room)}]")
                return
            self.screen.notice(f"{len(messages)} earlier messages in [{self._label(room)}]:")
            for msg in messages:
                self.screen.line(self._format_message(msg))
            self.oldest[room] = int(messages[0]["seq"])
            if not frame.get("more"):
                self.screen.notice("(the beginning of the room)")

        await self._ask("/history", History(room=room, before=before, limit=limit), on_ok)

    async def cmd_contacts(self, arg: str) -> None:
        async def on_ok(frame: dict[str, Any]) -> None:
            contacts = frame.get("contacts") or []
            listed = ", ".join(f"{clean(c.get('user'))} ({clean(c.get('status'))})"
                               for c in contacts)
            self.screen.notice(f"contacts: {listed or 'none (/add USER)'}")

        await self._ask("/contacts", Contacts(), on_ok)

    async def cmd_add(self, arg: str) -> None:
        user = self._user_arg(arg) if arg else None
        if user is None:
            if not arg:
                self.screen.problem("usage: /add USER")
            return

        async def on_ok(frame: dict[str, Any]) -> None:
            self.screen.notice(f"added contact {clean(frame.get('user'))} "
                               f"({clean(frame.get('status'))})")

        await self._ask("/add", AddContact(user=user), on_ok)

    async def cmd_remove(self, arg: str) -> None:
        user = self._user_arg(arg) if arg else None
        if user is None:
            if not arg:
                self.screen.problem("usage: /remove USER")
            return

        async def on_ok(frame: dict[str, Any]) -> None:
            self.screen.notice(f"removed contact {clean(frame.get('user'))}")

        await self._ask("/remove", RemoveContact(user=user), on_ok)

    async def _membership(self, arg: str, what: str,
                          make: Callable[[str, str], Request], done: str) -> None:
        """/invite or /kick: ``done`` is a template with {user} and {room}."""
        room = self._need_room(what)
        user = self._user_arg(arg) if arg else None
        if room is None or user is None:
            if not arg:
                self.screen.problem(f"usage: {what} USER")
            return

        async def on_ok(frame: dict[str, Any]) -> None:
            self.screen.notice(done.format(user=clean(frame.get("user")),
                                           room=self._label(str(frame.get("room")))))

        await self._ask(what, make(room, user), on_ok)

    async def cmd_invite(self, arg: str) -> None:
        await self._membership(arg, "/invite", lambda r, u: Invite(room=r, user=u),
                               "invited {user} into [{room}]")

    async def cmd_kick(self, arg: str) -> None:
        await self._membership(arg, "/kick", lambda r, u: Kick(room=r, user=u),
                               "{user} is not in [{room}] (any more)")

    async def cmd_create(self, arg: str) -> None:
        words = arg.split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1] != "private"):
            self.screen.problem("usage: /create ROOM [private]")
            return
        private = len(words) == 2

        async def on_ok(frame: dict[str, Any]) -> None:
            obj = frame["room"]
            self._remember_room(obj)
            name = str(obj["room"])
            self.seen[name] = int(obj.get("last_seq") or 0)
            self.current = name
            kind = "private room" if private else "room"
            self.screen.notice(f"created {kind} [{self._label(name)}]; talking there now"
                               + ("; /invite USER to let people in" if private else ""))

        await self._ask("/create", CreateRoom(room=words[0], private=private), on_ok)

    async def cmd_read(self, arg: str) -> None:
        room = self._need_room("/read")
        if room is None:
            return

        async def on_ok(frame: dict[str, Any]) -> None:
            self.screen.notice(f"[{self._label(room)}] marked read up to #{frame.get('seq')}")

        await self._ask("/read", Read(room=room, seq=self.seen.get(room, 0)), on_ok)

    async def cmd_retry(self, arg: str) -> None:
        failed = [p for p in self.pending.values() if p.failed]
        if not failed:
            self.screen.notice("nothing to retry")
            return
        if self.link is None:
            self.screen.notice(f"{len(failed)} message(s) will be sent once reconnected")
        for pending in failed:
            pending.failed = False
            await self._transmit(pending)

    async def cmd_drop(self, arg: str) -> None:
        failed = [nonce for nonce, p in self.pending.items() if p.failed]
        for nonce in failed:
            del self.pending[nonce]
        self.screen.notice(f"dropped {len(failed)} unsent message(s)")


_COMMANDS: dict[str, _Command] = {
    "join": _Command(ChatClient.cmd_join, "/join ROOM", "join (or create) a room, talk there"),
    "leave": _Command(ChatClient.cmd_leave, "/leave [ROOM]", "leave the current room"),
    "rooms": _Command(ChatClient.cmd_rooms, "/rooms", "list rooms"),
    "switch": _Command(ChatClient.cmd_switch, "/switch ROOM|@USER",
                       "talk in another room or conversation (/r)"),
    "dm": _Command(ChatClient.cmd_dm, "/dm USER TEXT", "send a private message"),
    "who": _Command(ChatClient.cmd_who, "/who [ROOM]", "who is in the room, and online"),
    "history": _Command(ChatClient.cmd_history, "/history [N]", "show N older messages"),
    "contacts": _Command(ChatClient.cmd_contacts, "/contacts", "list contacts and presence"),
    "add": _Command(ChatClient.cmd_add, "/add USER", "add a contact"),
    "remove": _Command(ChatClient.cmd_remove, "/remove USER", "remove a contact"),
    "invite": _Command(ChatClient.cmd_invite, "/invite USER", "invite into the current room"),
    "kick": _Command(ChatClient.cmd_kick, "/kick USER", "remove from the current room (owner)"),
    "create": _Command(ChatClient.cmd_create, "/create ROOM [private]", "create a room"),
    "read": _Command(ChatClient.cmd_read, "/read", "mark the current room read"),
    "retry": _Command(ChatClient.cmd_retry, "/retry", "send failed messages again"),
    "drop": _Command(ChatClient.cmd_drop, "/drop", "forget failed messages"),
    "help": _Command(ChatClient.cmd_help, "/help", "this list"),
    "quit": _Command(ChatClient.cmd_quit, "/quit", "leave the client (/q)"),
}
_ALIASES = {"r": "switch", "q": "quit", "j": "join", "msg": "dm", "exit": "quit"}


async def _ignore(frame: dict[str, Any]) -> None:
    pass


def _describe(exc: BaseException) -> str:
    if isinstance(exc, trio.TooSlowError):
        return "timed out"
    if isinstance(exc, trio_websocket.ConnectionRejected):
        return f"HTTP {exc.status_code}"
    if isinstance(exc, trio_websocket.HandshakeError):
        cause = exc.__cause__ or exc.__context__
        return _describe(cause) if cause is not None else "the WebSocket handshake failed"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    if isinstance(exc, OSError) and isinstance(exc.__cause__, BaseExceptionGroup):
        errors = exc.__cause__.exceptions  # trio's "all attempts to connect ... failed"
        if errors and isinstance(errors[0], OSError) and errors[0].strerror:
            return errors[0].strerror
    return clean(str(exc)) or type(exc).__name__


def _http_error(status: int, answer: Any) -> str:
    if isinstance(answer, dict) and "code" in answer:
        return f"{clean(answer['code'])}: {clean(answer.get('message', ''))}"
    return f"HTTP {status}"


# --------------------------------------------------------------------------- entry point


async def run(options: ClientOptions, password: str) -> int:
    """Run the client on this process's terminal until the user quits; the exit status."""
    client = ChatClient(options, password, Screen(sys.stdout), LineReader(sys.stdin.fileno()))
    return await client.run()


def _default_server(config: Config) -> str:
    host = config.http.host
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    return f"http://{f'[{host}]' if ':' in host else host}:{config.http.port}"


def main(config: Config, *, server: str | None, user: str | None, password_stdin: bool,
         tcp: str | None) -> int:
    """``chatd client``: ask what is missing, then chat; returns the exit status.

    Args:
        config: for the default server (its ``[http]`` host and port).
        server: the server's HTTP base URL (log in, and ``/ws``).
        user: the user name; asked for when None.
        password_stdin: read the password from the first line of standard input instead of
            asking for it on the terminal.
        tcp: ``HOST:PORT`` of the bare protocol port, to use instead of the WebSocket.
    """
    logging.getLogger().setLevel(logging.WARNING)  # the server's INFO lines are not for here
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(errors="replace")
    try:
        endpoint = Endpoint.parse(server or _default_server(config))
        hostport = _parse_hostport(tcp) if tcp else None
    except ValueError as exc:
        print(f"chatd client: {exc}", file=sys.stderr)
        return 2
    stdin = sys.stdin.fileno()
    if user is None:
        sys.stdout.write("user: ")
        sys.stdout.flush()
        user = _read_line_sync(stdin).strip()
    try:
        user = normalise_user(user)
    except InvalidName as exc:
        print(f"chatd client: {exc}", file=sys.stderr)
        return 2
    if password_stdin or not os.isatty(stdin):
        password = _read_line_sync(stdin)
    else:
        password = getpass.getpass("password: ")
    options = ClientOptions(endpoint=endpoint, user=user, tcp=hostport,
                            password_from_stdin=password_stdin)
    return trio.run(run, options, password)

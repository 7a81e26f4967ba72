"""The HTTP front: the web page, the REST API, /healthz, /metrics and the /ws upgrade, one port.

Theory of operation
-------------------
:func:`serve_http_connection` runs one accepted TCP connection. It is a keep-alive loop around
an ``h11.Connection``: read one request (head and body) under ``http.request_timeout``, so a
client that trickles bytes cannot hold a task forever; answer it; start the next cycle. The head
is bounded by ``http.max_header_bytes`` (h11 refuses a longer one with 431) and the body by
``http.max_body_bytes`` (413, checked against Content-Length before reading when there is one).
After an answer that ends the connection we half-close and discard what the client still sends
for a moment, so that it reads our error instead of a TCP reset.

Handlers return a :class:`Reply` or raise :class:`ChatError`; :func:`_dispatch` turns the latter
into the JSON body ``{"code": ..., "message": ...}`` that the socket protocol also uses, and any
other exception into a logged 500 ``internal``. Nothing raised while serving a connection
escapes this module: the daemon's listener must survive every client.

The WebSocket upgrade shares the port. ``trio_websocket.serve_websocket`` would answer plain
HTTP with 400, so h11 parses the head; for ``GET /ws`` with ``Upgrade: websocket`` h11 stops
(``PAUSED``) with any bytes after the head in ``trailing_data``. We rebuild the head from the
parsed request, put those bytes after it, and give trio-websocket a stream that replays them
before reading the socket; from there trio-websocket owns the connection.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from math import ceil
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import h11
import trio
import trio_websocket

from chatd import __version__
from chatd.auth import Auth
from chatd.config import Config
from chatd.errors import ChatError
from chatd.metrics import Metrics
from chatd.names import normalise_new_room, normalise_room, normalise_user
from chatd.presence import PresenceTracker
from chatd.rooms import Join as RegistryJoin
from chatd.rooms import RoomRegistry
from chatd.storage.base import Storage, StorageUnavailable, User
from chatd.views import message_object, room_object, user_object

__all__ = ["HttpContext", "Reply", "serve_http_connection"]

log = logging.getLogger(__name__)

SERVER_HEADER = f"chatd/{__version__}".encode()
RECEIVE_BYTES = 16384
# Messages trio-websocket may queue before its reader stops reading the socket: small, so that a
# client that sends faster than the session handles feels TCP back-pressure.
WS_MESSAGE_QUEUE = 4
CLOSE_LINGER = 1.0  # seconds we read and discard after our last response, before closing
WS_CLOSE_TIMEOUT = 5.0  # seconds to wait for the peer's half of the WebSocket close handshake
HEALTH_TIMEOUT = 5.0  # seconds /healthz waits for the database
MAX_TOPIC_CHARS = 256
DEFAULT_HISTORY_LIMIT = 50

JSON_TYPE = b"application/json"
METRICS_TYPE = b"text/plain; version=0.0.4; charset=utf-8"
CONTENT_TYPES = {
    ".html": b"text/html; charset=utf-8",
    ".js": b"text/javascript; charset=utf-8",
    ".mjs": b"text/javascript; charset=utf-8",
    ".css": b"text/css; charset=utf-8",
    ".svg": b"image/svg+xml",
    ".png": b"image/png",
    ".ico": b"image/x-icon",
    ".json": b"application/json",
    ".txt": b"text/plain; charset=utf-8",
    ".webmanifest": b"application/manifest+json",
    ".woff2": b"font/woff2",
}
CONTENT_SECURITY_POLICY = (
    b"default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; "
    b"script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
# On every response: a browser must not guess types, and our URLs leak nowhere.
COMMON_HEADERS = [
    (b"server", SERVER_HEADER),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]


@dataclass
class HttpContext:
    """What a connection needs from the daemon.

    ``on_websocket`` runs a protocol session on an accepted WebSocket (the connection closes
    when it returns); ``is_draining`` is true once the daemon is shutting down, and makes every
    request but /healthz answer 503 ``shutting_down``.
    """

    config: Config
    storage: Storage
    auth: Auth
    metrics: Metrics
    on_websocket: Callable[[trio_websocket.WebSocketConnection, str], Awaitable[None]]
    is_draining: Callable[[], bool]
    # The actors, so that changes made over HTTP reach live sessions (a room created here is
    # joined on the creator's connections; a contact added here starts its presence).
    registry: RoomRegistry | None = None
    presence: PresenceTracker | None = None
    # Ends the live sessions of a revoked token (the jti), or of every token of the user.
    on_logout: Callable[[str, str | None], None] | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    """A whole response; ``close`` ends the connection after it."""

    status: int
    body: bytes = b""
    content_type: bytes = JSON_TYPE
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    close: bool = False


@dataclass(frozen=True, slots=True)
class _Request:
    """A request read in full. ``path`` is percent-decoded; ``query`` keeps every value."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: h11.Request
    body: bytes
    address: str = ""  # the client's IP address

    def header(self, name: bytes) -> bytes | None:
        """The first value of a header (names are lower case), or None."""
        for key, value in self.headers.headers:
            if key == name:
                return bytes(value)
        return None


class _TooLarge(Exception):
    """The request head or body is over its limit; ``status`` is 431 or 413."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# -- replies ---------------------------------------------------------------------------------


def _json(
    status: int, obj: object, *, headers: Iterable[tuple[bytes, bytes]] = (), close: bool = False
) -> Reply:
    """A JSON reply; API answers are never cached (they may hold a token)."""
    body = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
    return Reply(status, body, headers=[(b"cache-control", b"no-store"), *headers], close=close)


def _error(
    exc: ChatError, *, close: bool = False, headers: Iterable[tuple[bytes, bytes]] = ()
) -> Reply:
    """The JSON error body both protocols share, with the status its code maps to."""
    headers = list(headers)
    if exc.code == "unauthenticated":
        headers.append((b"www-authenticate", b"Bearer"))
    if exc.code in {"shutting_down", "unavailable"}:
        headers.append((b"retry-after", b"5"))
    body: dict[str, Any] = {"code": exc.code, "message": exc.message}
    if exc.retry_after is not None:
        headers.append((b"retry-after", str(max(1, ceil(exc.retry_after))).encode()))
        body["retry_after"] = ceil(exc.retry_after * 1000)
    return _json(exc.http_status, body, headers=headers, close=close)


# -- request parsing -------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _json_body(request: _Request) -> dict[str, Any]:
    """The body as a JSON object; an empty body is ``{}``.

    A Content-Type other than application/json is refused: a cross-site HTML form can post
    text/plain but not JSON, so this keeps forms on other sites from posting to the API.
    """
    content_type = request.header(b"content-type")
    if content_type is not None:
        mime = content_type.split(b";", 1)[0].strip().lower()
        if mime != b"application/json":
            raise ChatError("bad_request", "the body must be application/json")
    if not request.body.strip():
        return {}
    try:
        obj = json.loads(request.body.decode("utf-8"), parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise ChatError("bad_request", "the body is not valid JSON") from None
    if not isinstance(obj, dict):
        raise ChatError("bad_request", "the body must be a JSON object")
    return obj


def _str_field(body: Mapping[str, Any], key: str, default: str | None = None) -> str:
    value = body.get(key, default)
    if not isinstance(value, str):
        raise ChatError("bad_request", f"{key!r} must be a string")
    return value


def _bool_field(body: Mapping[str, Any], key: str, default: bool) -> bool:
    value = body.get(key, default)
    if not isinstance(value, bool):
        raise ChatError("bad_request", f"{key!r} must be true or false")
    return value


def _int_param(request: _Request, key: str) -> int | None:
    values = request.query.get(key)
    if values is None:
        return None
    if len(values) != 1 or not re.fullmatch(r"[0-9]{1,15}", values[0]):
        raise ChatError("bad_request", f"{key!r} must be one non-negative integer")
    return int(values[0])


async def _authenticate(request: _Request, ctx: HttpContext) -> tuple[User, str]:
    """The user behind the request's Bearer token, and the token."""
    value = request.header(b"authorization")
    if value is None:
        raise ChatError("unauthenticated", "an Authorization: Bearer token is required")
    scheme, _, token = value.decode("latin-1").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise ChatError("unauthenticated", "an Authorization: Bearer token is required")
    return await ctx.auth.authenticate(token), token


# -- handlers --------------------------------------------------------------------------------

Handler = Callable[[_Request, HttpContext, dict[str, str]], Awaitable[Reply]]


async def _register(request: _Request, ctx: HttpContext, params: dict[str, str]) -> Reply:
    body = _json_body(request)
    user = await ctx.auth.register(_str_field(body, "username"), _str_field(body, "password"))
    return _json(201, {"user": user_object(user)})


async def _login(request: _Request, ctx: HttpContext, params: dict[str, str]) -> Reply:
    body = _json_body(request)
    name, password = _str_field(body, "username"), _str_field(body, "password")
    try:
        token, expires_at = await ctx.auth.login(name, password, address=request.address)
    except ChatError:
        if ctx.auth.metrics is None:  # else Auth counted it
            ctx.metrics.logins.labels(result="failed").inc()
        raise
    if ctx.auth.metrics is None:
        ctx.metrics.logins.labels(result="ok").inc()
    return _json(200, {"token": token, "expires_at": expires_at})


async def _logout(request: _Request, ctx: HttpContext, params: dict[str, str]) -> Reply:
    _, token = await _authenticate(request, ctx)
    everywhere = _bool_field(_json_body(request), "everywhere", False)
    user, claims = await ctx.auth.logout(token, everywhere=everywhere)
    if ctx.on_logout is not None:
        ctx.on_logout(user.name, None if everywhere else claims.jti)
    return _json(200, {})


async def _me(request: _Request, ctx: HttpContext, params: dict[str, str]) -> Reply:
    user, _ = await _authenticate(request, ctx)
    rooms = await ctx.storage.user_rooms(user.id)
    contacts = await ctx.storage.contacts(user.id)
    return _json(200, {
        "user": user_object(user), "rooms": [room_object(room) for room in rooms],
        "contacts": _contact_objects(ctx, contacts),
    })


async def _list_rooms(request: _Request, ctx: HttpContext, params: dict[str, str]) -> Reply:
    user, _ = await _authenticate(request, ctx)
    rooms = await ctx.storage.rooms_overview(user.id)
    return _json(200, {"rooms": [room_object(room) for room in rooms]})


async def _create_room(request: _Request, ctx: HttpContext, params: dict[str, str]) -> Reply:
    user, _ = await _authenticate(request, ctx)
    body = _json_body(request)
    name = normalise_new_room(body.get("room"))
    private = _bool_field(body, "private", False)
    topic = _str_field(body, "topic", "")
    if len(topic) > MAX_TOPIC_CHARS:
        raise ChatError("bad_request", f"a topic is at most {MAX_TOPIC_CHARS} characters")
    room = await ctx.storage.create_room(user.id, name, private=private, topic=topic)
    if ctx.registry is not None:
        await ctx.registry.send(RegistryJoin(user.name, room.name, None))
    return _json(201, {"room": room_object(room)})


def _contact_objects(ctx: HttpContext, names: list[str]) -> list[dict[str, str]]:
    if ctx.presence is not None:
        return ctx.presence.statuses(names)
    return [{"user": name, "status": "offline"} for name in names]


async def _list_contacts(request: _Request, ctx: HttpContext, params: dict[str, str]) -> Reply:
    user, _ = await _authenticate(request, ctx)
    contacts = await ctx.storage.contacts(user.id)
    return _json(200, {"contacts": _contact_objects(ctx, contacts)})


async def _add_contact(request: _Request, ctx: HttpContext, params: dict[str, str]) -> Reply:
    user, _ = await _authenticate(request, ctx)
    name = await ctx.storage.add_contact(user.id, normalise_user(_json_body(request).get("user")))
    if ctx.presence is not None:
        await ctx.presence.watch(user.name, name, True)
    return _json(201, {"contact": _contact_objects(ctx, [name])[0]})


async def _remove_contact(request: _Request, ctx: HttpContext, params: dict[str, str]) -> Reply:
    user, _ = await _authenticate(request, ctx)
    name = await ctx.storage.remove_contact(user.id, normalise_user(params["user"]))
    if name is None:
        raise ChatError("not_found", f"{params['user']} is not one of your contacts")
    if ctx.presence is not None:
        await ctx.presence.watch(user.name, name, False)
    return _json(200, {})


async def _messages(request: _Request, ctx: HttpContext, params: dict[str, str]) -> Reply:
    user, _ = await _authenticate(request, ctx)
    room = normalise_room(params["room"])
    before, after = _int_param(request, "before"), _int_param(request, "after")
    if before is not None and after is not None:
        raise ChatError("bad_request", "give 'before' or 'after', not both")
    maximum = ctx.config.limits.history_max
    limit = _int_param(request, "limit")
    if limit is None:
        limit = min(DEFAULT_HISTORY_LIMIT, maximum)
    elif not 1 <= limit <= maximum:
        raise ChatError("bad_request", f"'limit' must be between 1 and {maximum}")
    page = await ctx.storage.history(user.id, room, before=before, after=after, limit=limit)
    return _json(
        200,
        {
            "room": room,
            "messages": [message_object(message) for message in page.messages],
            "more": page.more,
            "last_seq": page.last_seq,
        },
    )


async def _healthz(request: _Request, ctx: HttpContext, params: dict[str, str]) -> Reply:
    if ctx.is_draining():
        return _json(503, {"status": "draining"}, close=True)
    try:
        with trio.fail_after(HEALTH_TIMEOUT):
            await ctx.storage.ping()
    except (StorageUnavailable, trio.TooSlowError, OSError) as exc:
        log.warning("health check: the database does not answer: %r", exc)
        return _error(ChatError("unavailable", "the database does not answer"))
    return _json(200, {"status": "ok"})


async def _metrics(request: _Request, ctx: HttpContext, params: dict[str, str]) -> Reply:
    body = await trio.to_thread.run_sync(ctx.metrics.render)
    return Reply(200, body, METRICS_TYPE, [(b"cache-control", b"no-store")])


async def _ws_without_upgrade(
    request: _Request, ctx: HttpContext, params: dict[str, str]
) -> Reply:
    raise ChatError("bad_request", "/ws takes a WebSocket upgrade (Upgrade: websocket)")


def _read_static(root: Path, relative: str) -> tuple[bytes, Path] | None:
    """The file at ``relative`` under ``root``, or None. Runs in a thread (it touches disk).

    Segments starting with a dot are refused before touching the disk (that covers ``..`` and
    hidden files), and the resolved path, symlinks followed, must still lie inside the root.
    """
    parts = relative.split("/")
    if any(not part or part.startswith(".") or "\\" in part or "\0" in part for part in parts):
        return None
    try:
        path = root.joinpath(*parts).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            return None
        return path.read_bytes(), path
    except (OSError, ValueError):
        return None


async def _static(request: _Request, ctx: HttpContext, params: dict[str, str]) -> Reply:
    relative = request.path.lstrip("/") or "index.html"
    found = await trio.to_thread.run_sync(_read_static, ctx.config.web_root, relative)
    if found is None:
        raise ChatError("not_found", f"no such file: {request.path}")
    body, path = found
    content_type = CONTENT_TYPES.get(path.suffix.lower(), b"application/octet-stream")
    # Every file is revalidated (no-cache) against its ETag: the page's modules import each
    # other, so after an upgrade a browser must never mix a new file with a cached old one,
    # and an unchanged file costs a 304 without a body.
    etag = b'"' + hashlib.blake2b(body, digest_size=12).hexdigest().encode() + b'"'
    headers = [(b"content-security-policy", CONTENT_SECURITY_POLICY),
               (b"cache-control", b"no-cache"), (b"etag", etag)]
    if etag in (request.header(b"if-none-match") or b"").replace(b" ", b"").split(b","):
        return Reply(304, b"", content_type, headers)
    return Reply(200, body, content_type, headers)


# Checked in order; HEAD is allowed wherever GET is. Paths not matched here are static files,
# except under /api/.
_ROUTES: list[tuple[re.Pattern[str], dict[str, Handler]]] = [
    (re.compile(r"/api/register"), {"POST": _register}),
    (re.compile(r"/api/login"), {"POST": _login}),
    (re.compile(r"/api/logout"), {"POST": _logout}),
    (re.compile(r"/api/me"), {"GET": _me}),
    (re.compile(r"/api/rooms"), {"GET": _list_rooms, "POST": _create_room}),
    (re.compile(r"/api/rooms/(?P<room>[^/]+)/messages"), {"GET": _messages}),
    (re.compile(r"/api/contacts"), {"GET": _list_contacts, "POST": _add_contact}),
    (re.compile(r"/api/contacts/(?P<user>[^/]+)"), {"DELETE": _remove_contact}),
    (re.compile(r"/healthz"), {"GET": _healthz}),
    (re.compile(r"/metrics"), {"GET": _metrics}),
    (re.compile(r"/ws"), {"GET": _ws_without_upgrade}),
]
_STATIC: dict[str, Handler] = {"GET": _static}


def _route(path: str) -> tuple[dict[str, Handler], dict[str, str]]:
    for pattern, methods in _ROUTES:
        match = pattern.fullmatch(path)
        if match:
            return methods, match.groupdict()
    if path == "/api" or path.startswith("/api/"):
        raise ChatError("not_found", f"no such endpoint: {path}")
    return _STATIC, {}


async def _dispatch(request: _Request, ctx: HttpContext) -> Reply:
    """The reply to one request; never raises (but for cancellation)."""
    try:
        methods, params = _route(request.path)
        method = "GET" if request.method == "HEAD" else request.method
        handler = methods.get(method)
        if handler is None:
            allowed = ", ".join(sorted({*methods, *(["HEAD"] if "GET" in methods else [])}))
            exc = ChatError("method_not_allowed", f"{request.method} is not allowed; use {allowed}")
            return _error(exc, headers=[(b"allow", allowed.encode())])
        if ctx.is_draining() and handler is not _healthz:
            return _error(ChatError("shutting_down", "the server is shutting down"), close=True)
        return await handler(request, ctx, params)
    except ChatError as exc:
        return _error(exc)
    except StorageUnavailable as exc:
        log.warning("%s %s: storage unavailable: %r", request.method, request.path, exc)
        return _error(ChatError("unavailable", "the database is not available; try again"))
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        return _error(ChatError("internal", "internal error"))


# -- the connection --------------------------------------------------------------------------


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


def _parse_request(event: h11.Request, body: bytes, address: str) -> _Request:
    """Our view of a request: the path percent-decoded, the query split."""
    target = bytes(event.target).decode("latin-1")
    split = urlsplit(target)
    try:
        path = unquote(split.path or "/", errors="strict")
    except UnicodeDecodeError:
        raise ChatError("bad_request", "the path is not valid UTF-8") from None
    if not path.startswith("/") or "\0" in path:
        raise ChatError("bad_request", "the request target must be an absolute path")
    query = parse_qs(split.query, keep_blank_values=True)
    return _Request(bytes(event.method).decode("ascii"), path, query, event, body, address)


def _head_size(event: h11.Request) -> int:
    """About the size of the head on the wire (h11 keeps no count)."""
    size = len(event.method) + len(event.target) + len(b"  HTTP/1.1\r\n\r\n")
    return size + sum(len(name) + len(value) + 4 for name, value in event.headers.raw_items())


async def _read_request(
    stream: trio.abc.Stream, conn: h11.Connection, max_head: int, max_body: int
) -> tuple[h11.Request, bytes] | None:
    """Read one request in full: ``(head, body)``, or None when the client closed cleanly.

    h11's ``max_incomplete_event_size`` only bounds a head that is still arriving; a long head
    that came in one read is measured here.

    Raises:
        h11.RemoteProtocolError: the client spoke bad HTTP (or sent a long, unfinished head).
        _TooLarge: the head is over ``max_head`` or the body over ``max_body``; the rest of
            the request was not read.
    """
    head: h11.Request | None = None
    body = bytearray()
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            try:
                data = await stream.receive_some(RECEIVE_BYTES)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                data = b""
            conn.receive_data(bytes(data))
        elif isinstance(event, h11.Request):
            head = event
            if _head_size(event) > max_head:
                raise _TooLarge(431, f"the request head is over {max_head} bytes")
            length = next((v for k, v in event.headers if k == b"content-length"), None)
            if length is not None and int(length) > max_body:
                raise _TooLarge(413, f"the body is over {max_body} bytes")
            if conn.they_are_waiting_for_100_continue:
                go_on = h11.InformationalResponse(status_code=100, headers=[])
                await stream.send_all(conn.send(go_on))
        elif isinstance(event, h11.Data):
            body += event.data
            if len(body) > max_body:
                raise _TooLarge(413, f"the body is over {max_body} bytes")
        elif isinstance(event, h11.EndOfMessage):
            assert head is not None
            return head, bytes(body)
        elif isinstance(event, h11.ConnectionClosed):
            return None
        else:  # PAUSED cannot come before EndOfMessage; anything else is h11 misbehaving
            raise RuntimeError(f"unexpected h11 event {event!r}")


def _is_websocket_upgrade(event: h11.Request) -> bool:
    for name, value in event.headers:
        if name == b"upgrade" and b"websocket" in {
            token.strip().lower() for token in bytes(value).split(b",")
        }:
            return True
    return False


class _ReplayStream(trio.abc.Stream):
    """A stream that first yields ``prefix``, then reads on from ``stream``.

    trio-websocket wants to read the upgrade request itself, but h11 has consumed it from the
    socket already; this gives it the bytes back.
    """

    def __init__(self, stream: trio.abc.Stream, prefix: bytes, remote: str) -> None:
        self._stream = stream
        self._prefix = prefix
        self._remote = remote

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        if self._prefix:
            await trio.lowlevel.checkpoint()
            size = len(self._prefix) if max_bytes is None else max_bytes
            chunk, self._prefix = self._prefix[:size], self._prefix[size:]
            return chunk
        return await self._stream.receive_some(max_bytes)

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self._stream.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self._stream.wait_send_all_might_not_block()

    async def aclose(self) -> None:
        await self._stream.aclose()

    def __repr__(self) -> str:
        return f"<WebSocket stream from {self._remote}>"


def _request_head(event: h11.Request) -> bytes:
    """The request head as the client sent it (modulo whitespace), from h11's parse."""
    lines = [bytes(event.method) + b" " + bytes(event.target) + b" HTTP/1.1"]
    lines += [bytes(name) + b": " + bytes(value) for name, value in event.headers.raw_items()]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def _check_websocket_request(request: _Request) -> None:
    if request.body or request.header(b"transfer-encoding") is not None:
        raise ChatError("bad_request", "a WebSocket upgrade request has no body")
    if request.header(b"sec-websocket-key") is None:
        raise ChatError("bad_request", "Sec-WebSocket-Key is missing")
    if request.header(b"sec-websocket-version") != b"13":
        raise ChatError("bad_request", "only WebSocket version 13 is spoken here")


async def _serve_websocket(
    stream: trio.abc.Stream, conn: h11.Connection, event: h11.Request, ctx: HttpContext,
    remote: str,
) -> None:
    """Hand the connection to trio-websocket and run the session on it; closes it after."""
    replay = _ReplayStream(stream, _request_head(event) + conn.trailing_data[0], remote)
    async with trio.open_nursery() as nursery:
        ws: trio_websocket.WebSocketConnection | None = None
        with trio.move_on_after(ctx.config.http.request_timeout):
            try:
                ws_request = await trio_websocket.wrap_server_stream(
                    nursery,
                    replay,
                    message_queue_size=WS_MESSAGE_QUEUE,
                    max_message_size=ctx.config.limits.max_frame_bytes,
                )
                ws = await ws_request.accept()
            except (
                trio_websocket.ConnectionClosed, trio.BrokenResourceError, trio.ClosedResourceError
            ) as exc:
                log.debug("WebSocket handshake from %s failed: %r", remote, exc)
        if ws is None:
            log.debug("WebSocket handshake from %s did not finish", remote)
            nursery.cancel_scope.cancel()
            return
        ctx.metrics.http_requests.labels(status="101").inc()
        try:
            await ctx.on_websocket(ws, remote)
        except trio_websocket.ConnectionClosed:
            pass
        except Exception:
            log.exception("WebSocket session from %s failed", remote)
        finally:
            with trio.move_on_after(WS_CLOSE_TIMEOUT, shield=True):
                await ws.aclose()
            nursery.cancel_scope.cancel()


async def _send_reply(
    stream: trio.abc.Stream, conn: h11.Connection, reply: Reply, *, head_only: bool,
    ctx: HttpContext,
) -> None:
    headers = [
        *COMMON_HEADERS,
        (b"content-type", reply.content_type),
        (b"content-length", str(len(reply.body)).encode()),
        *reply.headers,
    ]
    if reply.close:
        headers.append((b"connection", b"close"))
    reason = HTTPStatus(reply.status).phrase.encode()
    data = conn.send(h11.Response(status_code=reply.status, headers=headers, reason=reason))
    if reply.body and not head_only:
        data += conn.send(h11.Data(data=reply.body))
    data += conn.send(h11.EndOfMessage())
    ctx.metrics.http_requests.labels(status=str(reply.status)).inc()
    with trio.fail_after(ctx.config.http.request_timeout):
        await stream.send_all(data)


async def _close_gracefully(stream: trio.abc.Stream) -> None:
    """Half-close, drain what the client still sends for a moment, then close.

    Closing a socket with unread data makes the kernel send a reset, and the client may then
    lose the response we just sent (a 413 in the middle of a large upload, say).
    """
    with trio.move_on_after(CLOSE_LINGER):
        try:
            if isinstance(stream, trio.abc.HalfCloseableStream):
                await stream.send_eof()
            while await stream.receive_some(RECEIVE_BYTES):
                pass
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
    await trio.aclose_forcefully(stream)


async def _serve(stream: trio.abc.Stream, ctx: HttpContext, remote: str) -> None:
    http = ctx.config.http
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=http.max_header_bytes)
    while True:
        failure: Reply | None = None
        incoming = None
        try:
            with trio.fail_after(http.request_timeout):
                incoming = await _read_request(
                    stream, conn, http.max_header_bytes, http.max_body_bytes
                )
        except trio.TooSlowError:
            if conn.their_state is h11.IDLE and not conn.trailing_data[0]:
                return  # an idle keep-alive connection: just close it
            failure = _json(
                408, {"code": "bad_request", "message": "request timed out"}, close=True
            )
        except h11.RemoteProtocolError as exc:
            status = exc.error_status_hint
            code = "too_large" if status in {413, 431} else "bad_request"
            failure = _json(status, {"code": code, "message": str(exc)}, close=True)
        except _TooLarge as exc:
            failure = _json(exc.status, {"code": "too_large", "message": exc.message}, close=True)
        if failure is not None:
            if conn.our_state in {h11.IDLE, h11.SEND_RESPONSE}:
                await _send_reply(stream, conn, failure, head_only=False, ctx=ctx)
            await _close_gracefully(stream)
            return
        if incoming is None:
            return
        event, body = incoming
        try:
            address = _client_address(event, remote, ctx.config.http.trust_forwarded_for)
            request = _parse_request(event, body, address)
        except ChatError as exc:
            reply = _error(exc, close=True)
        else:
            if (
                request.path == "/ws"
                and request.method == "GET"
                and _is_websocket_upgrade(event)
                and not ctx.is_draining()
            ):
                try:
                    _check_websocket_request(request)
                except ChatError as exc:
                    reply = _error(exc)
                else:
                    # The protocol connection counts connections per address: the client's.
                    port = remote.rsplit(":", 1)[-1]
                    await _serve_websocket(stream, conn, event, ctx, f"{address}:{port}")
                    return
            else:
                reply = await _dispatch(request, ctx)
            if ctx.is_draining() and not reply.close:
                reply = Reply(reply.status, reply.body, reply.content_type, reply.headers, True)
        log.debug(
            "%s %s %s -> %d",
            remote, event.method.decode(), event.target.decode("latin-1"), reply.status,
        )
        await _send_reply(stream, conn, reply, head_only=event.method == b"HEAD", ctx=ctx)
        if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
            await _close_gracefully(stream)
            return
        conn.start_next_cycle()


async def serve_http_connection(stream: trio.abc.Stream, ctx: HttpContext, remote: str) -> None:
    """Serve one accepted connection until the client leaves or it turns into a WebSocket.

    Never raises, but for cancellation: a client that misbehaves or disappears ends its own
    connection and nothing else; a bug here is logged and the connection closed.

    Args:
        stream: the accepted connection (closed when this returns).
        ctx: the daemon's shared objects.
        remote: ``"ip:port"`` of the client, for logs.
    """
    try:
        await _serve(stream, ctx, remote)
    except (trio.BrokenResourceError, trio.ClosedResourceError, trio.TooSlowError) as exc:
        log.debug("HTTP connection from %s ended: %r", remote, exc)
    except Exception:
        log.exception("HTTP connection from %s failed", remote)
    finally:
        await trio.aclose_forcefully(stream)

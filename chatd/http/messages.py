"""HTTP requests and replies as the routes see them, and the JSON conventions of the API.

A route gets a :class:`Request` read in full (path percent-decoded, query split, body bounded)
and returns a :class:`Reply`, or raises :class:`~chatd.errors.ChatError`, which becomes the JSON
body ``{"code": ..., "message": ...}`` that the socket protocol also uses, with the status the
code maps to (:data:`chatd.protocol.codes.HTTP_STATUS`).

Two shapes serve large bodies without holding them in memory. A streaming route (declared in
:mod:`chatd.http.routes`) gets the request's head only, and a :class:`RequestBody` to read
the body from, a chunk at a time, as it arrives. A route may answer a :class:`FileReply`: the
server sends that file from its store in chunks, answering ``Range``, ``HEAD`` and
``If-None-Match`` itself (:mod:`chatd.http.files`).
"""

from __future__ import annotations

import abc
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from math import ceil
from pathlib import Path
from typing import Any

import h11
import trio

from chatd.errors import ChatError
from chatd.files import Source
from chatd.protocol import codes

__all__ = [
    "JSON_TYPE",
    "BodyError",
    "BytesBody",
    "FileReply",
    "Reply",
    "Request",
    "RequestBody",
    "bool_field",
    "error_reply",
    "int_param",
    "json_body",
    "json_reply",
    "str_field",
]

JSON_TYPE = b"application/json"


@dataclass(frozen=True, slots=True)
class Reply:
    """A whole response; ``close`` ends the connection after it."""

    status: int
    body: bytes = b""
    content_type: bytes = JSON_TYPE
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    close: bool = False


@dataclass(frozen=True, slots=True)
class FileReply:
    """A response whose body is a stored file, sent in chunks read in a worker thread.

    The server answers the request's ``Range`` (one range: 206; several: the whole file, 200;
    none satisfiable: 416), ``If-Range``, ``If-None-Match`` (304) and ``HEAD`` itself, from
    the file's size at the time it opens it. The file must not change while it is sent (a
    content-addressed file never does); one that shrinks meanwhile ends the connection.

    Args:
        source: the file: a path on disk, or bytes in a file store
            (:meth:`chatd.files.FileStore.source`). One that is missing when the server opens
            it is 404 ``not_found``; a store that cannot be read then, 503 ``unavailable``.
        content_type: the Content-Type header's value.
        etag: the quoted entity tag (``b'"abc"'``, or ``b'W/"abc"'``), or None for none; it
            is sent, and ``If-None-Match`` and ``If-Range`` are compared with it.
        headers: more headers (Cache-Control, Content-Disposition, ...), on every answer
            about the file (200, 206, 304, 416).
        close: end the connection after the response.
    """

    source: Path | Source
    content_type: bytes = b"application/octet-stream"
    etag: bytes | None = None
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    close: bool = False


@dataclass(frozen=True, slots=True)
class Request:
    """A request as the route sees it. ``path`` is percent-decoded; ``query`` keeps every
    value. ``body`` is the whole body, except for a streaming route, which reads the body from
    its :class:`RequestBody` instead (``body`` is then empty)."""

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


class BodyError(Exception):
    """The request body could not be read to its end: over the route's limit (413), too slow
    (408), malformed or cut off (400). ``reply`` is the answer the server sends, after which
    it closes the connection.

    A streaming handler lets it through (cleaning up in ``finally``); the server sends
    ``reply`` even if the handler swallows it.
    """

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.body.decode("utf-8", "replace"))
        self.reply = reply


class RequestBody(abc.ABC):
    """A request body read as it arrives: ``async for chunk in body`` gives its bytes, a
    chunk at a time, and ends at the end of the body. Nothing is read ahead of the chunk the
    handler asks for, so a handler that writes each chunk before asking for the next keeps at
    most one chunk in memory, and a slow disk slows the client down (TCP backpressure).

    Reading raises :class:`BodyError` when the body goes over ``max_bytes``, the client is
    silent for too long (``http.body_idle_timeout``) or the body is malformed or cut off. A
    handler that answers without reading the body to its end may do so: the server then
    closes the connection after the answer (``Connection: close``) rather than read the rest.
    One task reads a body at a time.

    Attributes:
        length: the body's Content-Length, or None for a chunked body (checked against
            ``max_bytes`` before the handler runs).
        max_bytes: the most bytes the body may hold (the route's limit).
        received: the bytes given out so far.
        complete: whether the body was read to its end.
    """

    length: int | None
    max_bytes: int
    received: int = 0
    complete: bool = False

    def __aiter__(self) -> RequestBody:
        return self

    @abc.abstractmethod
    async def __anext__(self) -> bytes:
        """The next chunk of the body (never empty).

        Raises:
            StopAsyncIteration: the body ended.
            BodyError: the body cannot be read to its end.
        """


class BytesBody(RequestBody):
    """A body already in memory, given out in chunks of ``chunk_bytes``: a streaming route
    called without a connection (tests, or a whole body)."""

    def __init__(self, data: bytes, *, max_bytes: int | None = None,
                 chunk_bytes: int = 65536) -> None:
        self.length = len(data)
        self.max_bytes = len(data) if max_bytes is None else max_bytes
        self._data = memoryview(data)
        self._chunk_bytes = chunk_bytes

    async def __anext__(self) -> bytes:
        await trio.lowlevel.checkpoint()
        if self.received >= len(self._data):
            self.complete = True
            raise StopAsyncIteration
        if len(self._data) > self.max_bytes:
            raise BodyError(json_reply(
                413, {"code": codes.TOO_LARGE, "message": f"the body is over {self.max_bytes} "
                      "bytes"}, close=True))
        chunk = bytes(self._data[self.received:self.received + self._chunk_bytes])
        self.received += len(chunk)
        return chunk


def json_reply(
    status: int, obj: object, *, headers: Iterable[tuple[bytes, bytes]] = (), close: bool = False
) -> Reply:
    """A JSON reply; API answers are never cached (they may hold a token)."""
    body = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
    return Reply(status, body, headers=[(b"cache-control", b"no-store"), *headers], close=close)


def error_reply(
    exc: ChatError, *, close: bool = False, headers: Iterable[tuple[bytes, bytes]] = ()
) -> Reply:
    """The JSON error body both protocols share, with the status its code maps to."""
    headers = list(headers)
    if exc.code == codes.UNAUTHENTICATED:
        headers.append((b"www-authenticate", b"Bearer"))
    if exc.code in {codes.SHUTTING_DOWN, codes.UNAVAILABLE}:
        headers.append((b"retry-after", b"5"))
    body: dict[str, Any] = {"code": exc.code, "message": exc.message}
    if exc.retry_after is not None:
        headers.append((b"retry-after", str(max(1, ceil(exc.retry_after))).encode()))
        body["retry_after"] = ceil(exc.retry_after * 1000)
    return json_reply(exc.http_status, body, headers=headers, close=close)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def json_body(request: Request) -> dict[str, Any]:
    """The body as a JSON object; an empty body is ``{}``.

    A Content-Type other than application/json is refused: a cross-site HTML form can post
    text/plain but not JSON, so this keeps forms on other sites from posting to the API.
    """
    content_type = request.header(b"content-type")
    if content_type is not None:
        mime = content_type.split(b";", 1)[0].strip().lower()
        if mime != b"application/json":
            raise ChatError(codes.BAD_REQUEST, "the body must be application/json")
    if not request.body.strip():
        return {}
    try:
        obj = json.loads(request.body.decode("utf-8"), parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise ChatError(codes.BAD_REQUEST, "the body is not valid JSON") from None
    if not isinstance(obj, dict):
        raise ChatError(codes.BAD_REQUEST, "the body must be a JSON object")
    return obj


def str_field(body: Mapping[str, Any], key: str, default: str | None = None) -> str:
    value = body.get(key, default)
    if not isinstance(value, str):
        raise ChatError(codes.BAD_REQUEST, f"{key!r} must be a string")
    return value


def bool_field(body: Mapping[str, Any], key: str, default: bool) -> bool:
    value = body.get(key, default)
    if not isinstance(value, bool):
        raise ChatError(codes.BAD_REQUEST, f"{key!r} must be true or false")
    return value


def int_param(request: Request, key: str) -> int | None:
    """The query parameter ``key`` as an int, or None when absent. Up to 19 digits: every
    seq (at most 2^63-1) fits, and the protocol's parser checks the range.

    Raises:
        ChatError: ``bad_request`` for a repeated key or a value that is not 1-19 digits.
    """
    values = request.query.get(key)
    if values is None:
        return None
    if len(values) != 1 or not re.fullmatch(r"[0-9]{1,19}", values[0]):
        raise ChatError(codes.BAD_REQUEST, f"{key!r} must be one non-negative integer")
    return int(values[0])

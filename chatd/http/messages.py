"""HTTP requests and replies as the routes see them, and the JSON conventions of the API.

A route gets a :class:`Request` read in full (path percent-decoded, query split, body bounded)
and returns a :class:`Reply`, or raises :class:`~chatd.errors.ChatError`, which becomes the JSON
body ``{"code": ..., "message": ...}`` that the socket protocol also uses, with the status the
code maps to (:data:`chatd.protocol.codes.HTTP_STATUS`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from math import ceil
from typing import Any

import h11

from chatd.errors import ChatError
from chatd.protocol import codes

__all__ = [
    "JSON_TYPE",
    "Reply",
    "Request",
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
class Request:
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
    values = request.query.get(key)
    if values is None:
        return None
    if len(values) != 1 or not re.fullmatch(r"[0-9]{1,15}", values[0]):
        raise ChatError(codes.BAD_REQUEST, f"{key!r} must be one non-negative integer")
    return int(values[0])

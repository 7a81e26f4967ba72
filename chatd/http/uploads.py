"""Files over HTTP: uploads to a room, and downloads of a file by its url.

``POST /api/rooms/{room}/files`` takes ``multipart/form-data`` with one part named ``file``,
read as it arrives: each chunk of the body goes through python-multipart's streaming parser,
and the bytes of the part it yields are written to the upload's temporary file in a worker
thread before the next chunk is read (:mod:`chatd.files`), so an upload holds one chunk of
memory whatever its size. The part may hold ``files.max_bytes`` and what is left of the
uploader's ``files.quota_bytes``; past either the answer is 413 ``too_large`` at once. The
row is written once the bytes are in their store (``app.files``: the files folder or a
bucket), in the transaction that checks the quota again (concurrent uploads of one user are
serialised there); a store that cannot take them is 503 ``unavailable``. Before the row, an
image gets its thumbnail (:mod:`chatd.thumbnails`, read from the upload's temporary file in a
worker thread, at most :data:`THUMBNAIL_THREADS` at once in the daemon), whose bytes are
placed in the same store by an upload of their own and recorded in the same row; a file that
is not an image, or fails to decode, is kept without one. Before any of that, a user past
``limits.uploads_per_minute`` gets 429 ``rate_limited`` (:data:`UPLOADS`), and their uploads
left unattached for ``files.unattached_seconds`` are expired, so that the quota no longer
counts them.

``GET /api/files/{id}/{name}`` (the ``url`` of a file object) sends the file, by a signed
link (:mod:`chatd.http.links`) or to a user who may read its room (as history: a public
room's files to every user, a private room's to its members) once it is attached to a message
(before, to its uploader only), else 404, with headers that keep a browser from running it as
part of this site:
``Content-Disposition: attachment`` (``inline`` only for the raster images of
:data:`chatd.files.INLINE_TYPES`), ``X-Content-Type-Options: nosniff``, a sandboxing
``Content-Security-Policy``, and documents and scripts served as
``application/octet-stream`` (:func:`chatd.files.served_type`). The bytes never change
under one url, so the reply is cached for a year, or until a signed link expires
(privately: it needs the right to read), with the SHA-256 as its ETag.
"""

from __future__ import annotations

import logging
import re
import time
import urllib.parse
from functools import partial
from pathlib import Path
from typing import Any

import trio
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from trio.lowlevel import RunVar

from chatd.actions import App, Bucket
from chatd.errors import ChatError
from chatd.files import (
    INLINE_TYPES,
    FileStore,
    StoreUnavailable,
    Upload,
    normalise_content_type,
    sanitise_name,
    served_type,
    unplace,
)
from chatd.http.links import FILE_HEADERS, cache_control, readable_file
from chatd.http.messages import BodyError, FileReply, Reply, Request, RequestBody, json_reply
from chatd.protocol import codes
from chatd.protocol.names import InvalidName, normalise_room
from chatd.storage import ImageFacts
from chatd.thumbnails import make_thumbnail
from chatd.views import file_object

__all__ = ["MULTIPART_OVERHEAD", "THUMBNAIL_THREADS", "UPLOADS", "download", "multipart_boundary",
           "place_bytes", "place_thumbnail", "receive", "thumbnail_limiter", "upload",
           "upload_limit"]

log = logging.getLogger(__name__)
# python-multipart logs a warning for each malformed body before it raises: a client's mistake,
# answered 400 already, that any client could repeat to fill the server's log.
logging.getLogger("python_multipart.multipart").setLevel(logging.ERROR)

#: Bytes a multipart body may hold on top of the file: its boundaries and part headers.
MULTIPART_OVERHEAD = 16384

#: Thumbnails made at once (each a worker thread decoding an image): twenty uploads of
#: images at once take this many cores, and this many decodes' memory, not twenty.
THUMBNAIL_THREADS = 2

_THUMBNAIL_LIMITER: RunVar[trio.CapacityLimiter] = RunVar("chatd_thumbnail_limiter")

#: Uploads per user: ``limits.uploads_per_minute``, as many at once, in this process (each node
#: of a cluster counts its own), whatever connection they come by.
UPLOADS = Bucket("uploads", lambda limits: (limits.uploads_per_minute / 60,
                                            limits.uploads_per_minute),
                 "too many uploads; try again later", per_user=True)

_FILENAME_STAR = re.compile(rb"filename\*\s*=\s*(?i:utf-8)''([^;\s]+)")


def upload_limit(config: Any) -> int:
    """The body limit of an upload: ``files.max_bytes`` and the multipart framing."""
    return int(config.files.max_bytes) + MULTIPART_OVERHEAD


#: The most bytes of a text part of an upload's body (``fields`` of :func:`receive`).
FIELD_BYTES = 1024


class _Part:
    """What the parser has told about the body so far; its callbacks collect the current
    chunk's bytes of the ``file`` part into ``pending``, and the text parts named in
    ``fields`` (each once, at most :data:`FIELD_BYTES`) into ``values``."""

    def __init__(self, fields: frozenset[str] = frozenset()) -> None:
        self.header_field = bytearray()
        self.header_value = bytearray()
        self.headers: dict[bytes, bytes] = {}
        self.parts = 0
        self.fields = fields
        self.field: str | None = None
        self.values: dict[str, bytearray] = {}
        self.in_file = False
        self.file_done = False
        self.ended = False
        self.problem: str | None = None
        self.pending: list[bytes] = []

    def callbacks(self) -> dict[str, Any]:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": lambda data, start, end:
                self.header_field.extend(data[start:end]),
            "on_header_value": lambda data, start, end:
                self.header_value.extend(data[start:end]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
            "on_end": self._end,
        }

    def _part_begin(self) -> None:
        self.parts += 1
        self.headers = {}

    def _header_end(self) -> None:
        self.headers[bytes(self.header_field).strip().lower()] = bytes(self.header_value).strip()
        self.header_field.clear()
        self.header_value.clear()

    def _headers_finished(self) -> None:
        disposition, params = parse_options_header(self.headers.get(b"content-disposition", b""))
        name = params.get(b"name", b"").decode("latin-1")
        if disposition == b"form-data" and name in self.fields and name not in self.values:
            self.field = name
            self.values[name] = bytearray()
        elif disposition != b"form-data" or name != "file" or self.file_done or self.in_file:
            expected = "".join(f"'{field}', " for field in sorted(self.fields))
            self.problem = f"the body must hold the parts {expected}'file', each once" \
                if self.fields else "the body must hold one part, named 'file'"
        else:
            self.in_file = True

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self.in_file and end > start:
            self.pending.append(bytes(data[start:end]))
        elif self.field is not None:
            value = self.values[self.field]
            value.extend(data[start:end])
            if len(value) > FIELD_BYTES:
                self.problem = f"the part {self.field!r} is over {FIELD_BYTES} bytes"

    def _part_end(self) -> None:
        self.field = None
        if self.in_file:
            self.in_file = False
            self.file_done = True

    def value(self, name: str) -> str | None:
        """The text part ``name`` (UTF-8), None when the body had none."""
        value = self.values.get(name)
        return None if value is None else value.decode("utf-8", "replace")

    def _end(self) -> None:
        self.ended = True

    def name(self) -> str:
        """The part's file name, sanitised."""
        raw = self.headers.get(b"content-disposition", b"")
        star = _FILENAME_STAR.search(raw)
        if star:
            return sanitise_name(urllib.parse.unquote(star[1].decode("ascii", "replace")))
        _, params = parse_options_header(raw)
        return sanitise_name(params.get(b"filename", b"").decode("utf-8", "replace"))

    def content_type(self) -> str:
        value = self.headers.get(b"content-type")
        return normalise_content_type(value.decode("latin-1") if value is not None else None)


def multipart_boundary(request: Request) -> bytes:
    value = request.header(b"content-type")
    mime, params = parse_options_header(value or b"")
    boundary = params.get(b"boundary", b"")
    if mime != b"multipart/form-data" or not 0 < len(boundary) <= 70:
        raise ChatError(codes.BAD_REQUEST,
                        "the body must be multipart/form-data with a boundary")
    return boundary


def _too_large(limit: int, what: str) -> ChatError:
    return ChatError(codes.TOO_LARGE, f"the file is over {what} ({limit} bytes)")


async def receive(body: RequestBody, boundary: bytes, pending: Upload, limit: int, what: str,
                  fields: frozenset[str] = frozenset()) -> _Part:
    """Read a multipart ``body`` of one part ``file`` into ``pending``, a chunk at a time;
    returns the part (its name and type, and the small text parts named in ``fields``, if
    the body has them: :meth:`_Part.value`).

    Raises:
        ChatError: ``too_large`` past ``limit`` bytes (``what`` names the limit),
            ``bad_request`` for a malformed body or one without its one part ``file``.
    """
    part = _Part(fields)
    parser = MultipartParser(boundary, part.callbacks())  # type: ignore[arg-type]
    async for chunk in body:
        try:
            parser.write(chunk)
        except MultipartParseError:
            raise ChatError(codes.BAD_REQUEST, "the multipart body is malformed") from None
        if part.problem:
            raise ChatError(codes.BAD_REQUEST, part.problem)
        if part.pending:
            data = b"".join(part.pending)
            part.pending.clear()
            if pending.size + len(data) > limit:
                raise _too_large(limit, what)
            await trio.to_thread.run_sync(pending.write, data)
    parser.finalize()
    if not (part.ended and part.file_done):
        raise ChatError(codes.BAD_REQUEST, "the body holds no complete part named 'file'")
    return part


def thumbnail_limiter() -> trio.CapacityLimiter:
    try:
        return _THUMBNAIL_LIMITER.get()
    except LookupError:
        limiter = trio.CapacityLimiter(THUMBNAIL_THREADS)
        _THUMBNAIL_LIMITER.set(limiter)
        return limiter


def place_bytes(store: FileStore, data: bytes) -> Upload:
    """``data`` placed at its content path, by an upload of its own (blocks)."""
    upload = store.open_upload()
    try:
        upload.write(data)
        upload.place()
    except BaseException:
        upload.discard()
        raise
    return upload


async def place_thumbnail(store: FileStore, source: Path, max_pixels: int
                     ) -> tuple[ImageFacts | None, Upload | None]:
    """The image facts of an upload whose bytes are complete in ``source``, and the upload of
    its thumbnail's bytes, placed (to finish once the row is committed); (None, None) for a
    file that is not an image (or with thumbnails off: ``max_pixels`` 0). Link previews'
    pictures (chatd.previews) are made here too: the same threads, the same limits."""
    if max_pixels <= 0:
        return None, None
    made = await trio.to_thread.run_sync(partial(make_thumbnail, source, max_pixels=max_pixels),
                                         limiter=thumbnail_limiter())
    if made is None:
        return None, None
    placed = await store.run(place_bytes, store, made.data)
    return ImageFacts(width=made.width, height=made.height, thumb_sha256=placed.sha256,
                      thumb_width=made.thumb_width, thumb_height=made.thumb_height), placed


_RESULTS = {codes.TOO_LARGE: "too_large", codes.BAD_REQUEST: "bad_request",
            codes.UNAVAILABLE: "failed", codes.INTERNAL: "failed"}


async def upload(request: Request, body: RequestBody, app: App,
                 params: dict[str, str]) -> Reply:
    """``POST /api/rooms/{room}/files``: 201 ``{"file": {...}}``. Each answer is counted in
    ``chatd_file_uploads_total`` by its result (:data:`chatd.metrics.UPLOAD_RESULTS`)."""
    result = "failed"
    try:
        reply = await _upload(request, body, app, params)
        result = "stored"
        return reply
    except ChatError as exc:
        result = _RESULTS.get(exc.code, "refused")
        raise
    except BodyError as exc:
        result = {413: "too_large", 400: "bad_request"}.get(exc.reply.status, "failed")
        raise
    finally:
        app.metrics.file_uploads.labels(result=result).inc()


async def _upload(request: Request, body: RequestBody, app: App,
                  params: dict[str, str]) -> Reply:
    from chatd.http.routes import authenticate  # routes imports this module

    user, _ = await authenticate(request, app)
    try:
        room = normalise_room(params["room"])
    except InvalidName as exc:
        raise ChatError(codes.BAD_REQUEST, str(exc)) from None
    boundary = multipart_boundary(request)
    app.take_counted(UPLOADS, user.name, "upload")
    config = app.config.files
    await app.storage.expire_uploads(config.unattached_seconds, uploader_id=user.id)
    allowance = await app.storage.upload_allowance(user.id, room, config.quota_bytes)
    if allowance <= 0:
        raise ChatError(codes.TOO_LARGE, f"you have used your quota of {config.quota_bytes} "
                        "bytes of files; delete messages with files to make room")
    limit, what = min((config.max_bytes, "the size limit"), (allowance, "your quota's rest"))
    store = app.files
    pending = await trio.to_thread.run_sync(store.open_upload)
    thumb: Upload | None = None
    try:
        part = await receive(body, boundary, pending, limit, what)
        try:
            sha256 = await store.run(pending.place)
            image, thumb = await place_thumbnail(store, pending.path, config.max_image_pixels)
        except StoreUnavailable as exc:
            log.warning("an upload could not be stored: %s", exc)
            raise ChatError(codes.UNAVAILABLE, "the file store is not available; try again"
                            ) from None
        try:
            stored = await app.storage.add_file(
                user.id, room, sha256=sha256, size=pending.size, name=part.name(),
                content_type=part.content_type(), quota_bytes=config.quota_bytes, image=image)
        except ChatError:
            # Refused (the quota reached by a concurrent upload): no row has these bytes.
            await unplace(app.storage, store, sha256)
            if thumb is not None:
                await unplace(app.storage, store, thumb.sha256)
            raise
        try:
            await store.run(pending.finish)
            if thumb is not None:
                await store.run(thumb.finish)
        except StoreUnavailable as exc:
            # The row is committed and the bytes were placed a moment ago: only a collection
            # of the same bytes in between could have taken them (chatd.files). Answering
            # 503 would make the client upload again, for a second row.
            log.warning("an upload's bytes could not be checked once stored: %s", exc)
        app.metrics.file_upload_bytes.inc(pending.size)
    finally:
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(pending.discard)
            if thumb is not None:
                await trio.to_thread.run_sync(thumb.discard)
    return json_reply(201, {"file": file_object(stored.info)})


async def download(request: Request, app: App, params: dict[str, str]) -> FileReply:
    """``GET /api/files/{id}/{name}``: the file's bytes (the name is not checked: it is
    there for the browser's save dialog), with a Bearer token or a signed link."""
    found, exp = await readable_file(request, app, "file", int(params["id"]))
    info = found.info
    inline = info.content_type in INLINE_TYPES
    quoted = urllib.parse.quote(info.name, safe="")
    ascii_name = info.name.encode("ascii", "replace").decode().replace("?", "_") \
        .replace('"', "_").replace("\\", "_")
    disposition = (f'{"inline" if inline else "attachment"}; filename="{ascii_name}"; '
                   f"filename*=UTF-8''{quoted}")
    return FileReply(
        app.files.source(found.sha256),
        content_type=served_type(info.content_type).encode(),
        etag=f'"{found.sha256}"'.encode(),
        headers=[
            (b"content-disposition", disposition.encode("ascii")),
            *FILE_HEADERS,
            (b"cache-control", cache_control(exp, time.time())),
        ],
    )

"""Profile pictures over HTTP: set, remove, and serve them.

``PUT /api/me/avatar`` takes ``multipart/form-data`` with one part named ``file``, read as an
upload's is (:func:`chatd.http.uploads.receive`: a chunk at a time into a temporary file,
413 ``too_large`` past ``files.max_bytes``). The bytes must be a PNG, JPEG, GIF or WebP image
of at most ``files.max_image_pixels`` pixels (the content decides, not the declared type);
anything else is 400 ``bad_request``. The server keeps only the picture it makes of them
(:func:`chatd.thumbnails.make_avatar`: the centred square, 256x256 WebP, in a worker thread
of the thumbnails' limiter), placed in the file store (:attr:`App.files`: a folder or a
bucket) under its SHA-256, then recorded (:meth:`Storage.set_avatar`) and told to others
(chatd.actions.profile). The original is never stored. ``DELETE /api/me/avatar`` removes it.
Both answer 200 with the profile, and take a token of the profile changes' bucket.

``GET /api/avatars/{sha256}`` sends the picture, to anyone who has the url, without a token:
an ``<img>`` loads it as it is, with no signed link to ask for and renew. The url is named by
the picture's bytes, which the server made, so it cannot be guessed without them, and a
different picture is a different url: the reply is cached publicly for a year
(``immutable``). Only bytes that are some user's picture are served (never a file's, even of
the same hash); a picture replaced or removed is 404 from then on (caches may keep it: it was
public). Profiles, pictures included, are readable by every user anyway (``profiles``).

Custom emoji (chatd.http.emoji) are pictures the server makes and serves the same way: the
reading, making and keeping (:func:`take_picture`) and the serving (:func:`picture_reply`)
are written here once for both, each route serving only its own kind of picture.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import trio

from chatd.actions import App
from chatd.actions.profile import PROFILE_CHANGES, set_avatar
from chatd.errors import ChatError
from chatd.files import StoreUnavailable, unplace
from chatd.http.links import FILE_HEADERS
from chatd.http.messages import FileReply, Reply, Request, RequestBody, json_reply
from chatd.http.uploads import multipart_boundary, place_bytes, receive, thumbnail_limiter
from chatd.protocol import codes
from chatd.thumbnails import THUMBNAIL_TYPE, make_avatar

__all__ = ["get_avatar", "picture_reply", "put_avatar", "remove_avatar", "take_picture"]

log = logging.getLogger(__name__)

_SHA256 = re.compile(r"[0-9a-f]{64}")
_T = TypeVar("_T")


async def put_avatar(request: Request, body: RequestBody, app: App,
                     params: dict[str, str]) -> Reply:
    """``PUT /api/me/avatar``: 200 the profile, with its new ``avatar``."""
    from chatd.http.routes import authenticate  # routes imports this module

    user, _ = await authenticate(request, app)
    boundary = multipart_boundary(request)
    # Taken before the body is read: a refused change costs no decode.
    app.take_counted(PROFILE_CHANGES, user.name, "set_avatar")

    async def record(picture: tuple[str, int], part: Any) -> dict[str, Any]:
        return await set_avatar(app, user, picture)

    fields = await take_picture(app, body, boundary, make_avatar, app.config.files.max_bytes,
                                record)
    return json_reply(200, fields)


async def take_picture(app: App, body: RequestBody, boundary: bytes,
                       make: Callable[..., bytes | None], max_bytes: int,
                       record: Callable[[tuple[str, int], Any], Awaitable[_T]],
                       fields: frozenset[str] = frozenset(),
                       check: Callable[[Any], Awaitable[None]] | None = None) -> _T:
    """Make a picture of the image in a multipart ``body`` (part ``file``, at most
    ``max_bytes``; the text parts ``fields`` too) and keep it: ``make(path, max_pixels=)``
    in a worker thread of the thumbnails' limiter, its bytes placed in the file store, then
    ``record((sha256, size), part)``, whose result is returned, then the placing finished.
    ``check(part)``, if given, runs once the body is read, before the decode: what refuses
    the request then costs no decode and leaves no bytes in the store; when ``record``
    refuses (a concurrent add took the name), the bytes placed are removed again
    (:func:`chatd.files.unplace`, unless another row has them). The original is
    never kept. A profile picture's and a custom emoji's way
    (chatd.http.emoji).

    Raises:
        ChatError: ``too_large``, ``bad_request`` (not a PNG, JPEG, GIF or WebP image of
            at most ``files.max_image_pixels``), ``unavailable`` (the store), or
            ``record``'s.
    """
    max_pixels = app.config.files.max_image_pixels
    store = app.files
    pending = await trio.to_thread.run_sync(store.open_upload)
    placed = None
    try:
        part = await receive(body, boundary, pending, max_bytes, "the size limit", fields)
        if check is not None:
            await check(part)
        picture = await trio.to_thread.run_sync(
            lambda: make(pending.path, max_pixels=max_pixels), limiter=thumbnail_limiter())
        if picture is None:
            raise ChatError(codes.BAD_REQUEST, "the file is not a PNG, JPEG, GIF or WebP "
                            f"image of at most {max_pixels} pixels")
        try:
            placed = await store.run(place_bytes, store, picture)
        except StoreUnavailable as exc:
            log.warning("a picture could not be stored: %s", exc)
            raise ChatError(codes.UNAVAILABLE, "the file store is not available; try again"
                            ) from None
        try:
            result = await record((placed.sha256, placed.size), part)
        except ChatError:
            await unplace(app.storage, store, placed.sha256)  # (the name taken meanwhile)
            raise
        try:
            # After the row's commit, as an upload's (chatd.files, "Collection").
            await store.run(placed.finish)
        except StoreUnavailable as exc:
            log.warning("a picture's bytes could not be checked once stored: %s", exc)
    finally:
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(pending.discard)
            if placed is not None:
                await trio.to_thread.run_sync(placed.discard)
    return result


async def remove_avatar(request: Request, app: App, params: dict[str, str]) -> Reply:
    """``DELETE /api/me/avatar``: 200 the profile, ``avatar`` null (also when it was)."""
    from chatd.http.routes import authenticate  # routes imports this module

    user, _ = await authenticate(request, app)
    app.take_counted(PROFILE_CHANGES, user.name, "set_avatar")
    return json_reply(200, await set_avatar(app, user, None))


async def get_avatar(request: Request, app: App, params: dict[str, str]) -> FileReply:
    """``GET /api/avatars/{sha256}``: a picture's bytes, to anyone."""
    return await picture_reply(app, params["sha256"], app.storage.avatar_exists, "avatar.webp")


async def picture_reply(app: App, sha256: str, exists: Callable[[str], Awaitable[bool]],
                        filename: str) -> FileReply:
    """The picture the server made of bytes ``sha256`` (a WebP), to anyone, cached for good
    (see the module's docstring), when ``exists(sha256)``: a profile picture's or a custom
    emoji's (chatd.http.emoji), each route serving only its own kind.

    Raises:
        ChatError('not_found')
    """
    if not _SHA256.fullmatch(sha256) or not await exists(sha256):
        raise ChatError(codes.NOT_FOUND, "there is no such picture")
    return FileReply(
        app.files.source(sha256),
        content_type=THUMBNAIL_TYPE.encode(),
        etag=f'"{sha256}"'.encode(),
        headers=[
            (b"content-disposition", f'inline; filename="{filename}"'.encode("ascii")),
            *FILE_HEADERS,
            (b"cache-control", b"public, max-age=31536000, immutable"),
        ],
    )

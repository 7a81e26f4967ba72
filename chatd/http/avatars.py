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
"""

from __future__ import annotations

import logging
import re

import trio

from chatd.actions import App
from chatd.actions.profile import PROFILE_CHANGES, set_avatar
from chatd.errors import ChatError
from chatd.files import StoreUnavailable
from chatd.http.links import FILE_HEADERS
from chatd.http.messages import FileReply, Reply, Request, RequestBody, json_reply
from chatd.http.uploads import multipart_boundary, place_bytes, receive, thumbnail_limiter
from chatd.protocol import codes
from chatd.thumbnails import THUMBNAIL_TYPE, make_avatar

__all__ = ["get_avatar", "put_avatar", "remove_avatar"]

log = logging.getLogger(__name__)

_SHA256 = re.compile(r"[0-9a-f]{64}")


async def put_avatar(request: Request, body: RequestBody, app: App,
                     params: dict[str, str]) -> Reply:
    """``PUT /api/me/avatar``: 200 the profile, with its new ``avatar``."""
    from chatd.http.routes import authenticate  # routes imports this module

    user, _ = await authenticate(request, app)
    boundary = multipart_boundary(request)
    # Taken before the body is read: a refused change costs no decode.
    app.take_counted(PROFILE_CHANGES, user.name, "set_avatar")
    config = app.config.files
    store = app.files
    pending = await trio.to_thread.run_sync(store.open_upload)
    placed = None
    try:
        await receive(body, boundary, pending, config.max_bytes, "the size limit")
        picture = await trio.to_thread.run_sync(
            lambda: make_avatar(pending.path, max_pixels=config.max_image_pixels),
            limiter=thumbnail_limiter())
        if picture is None:
            raise ChatError(codes.BAD_REQUEST, "the file is not a PNG, JPEG, GIF or WebP "
                            f"image of at most {config.max_image_pixels} pixels")
        try:
            placed = await store.run(place_bytes, store, picture)
        except StoreUnavailable as exc:
            log.warning("a picture could not be stored: %s", exc)
            raise ChatError(codes.UNAVAILABLE, "the file store is not available; try again"
                            ) from None
        fields = await set_avatar(app, user, (placed.sha256, placed.size))
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
    return json_reply(200, fields)


async def remove_avatar(request: Request, app: App, params: dict[str, str]) -> Reply:
    """``DELETE /api/me/avatar``: 200 the profile, ``avatar`` null (also when it was)."""
    from chatd.http.routes import authenticate  # routes imports this module

    user, _ = await authenticate(request, app)
    app.take_counted(PROFILE_CHANGES, user.name, "set_avatar")
    return json_reply(200, await set_avatar(app, user, None))


async def get_avatar(request: Request, app: App, params: dict[str, str]) -> FileReply:
    """``GET /api/avatars/{sha256}``: a picture's bytes, to anyone."""
    sha256 = params["sha256"]
    if not _SHA256.fullmatch(sha256) or not await app.storage.avatar_exists(sha256):
        raise ChatError(codes.NOT_FOUND, "there is no such picture")
    return FileReply(
        app.files.source(sha256),
        content_type=THUMBNAIL_TYPE.encode(),
        etag=f'"{sha256}"'.encode(),
        headers=[
            (b"content-disposition", b'inline; filename="avatar.webp"'),
            *FILE_HEADERS,
            (b"cache-control", b"public, max-age=31536000, immutable"),
        ],
    )

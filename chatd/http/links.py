"""Thumbnails over HTTP, signed links, and who may read a file by url.

``GET /api/thumbnails/{id}`` sends a file's thumbnail (WebP, :mod:`chatd.thumbnails`) to
whoever may read the file, with the download's safety headers. ``POST /api/files/links``
``{"ids": [...]}`` answers, for those of the files that the user may read (the others are left
out, so that a stranger learns nothing), their url and thumbnail's url signed until an
expiry (:mod:`chatd.links`), for an ``<img>`` or a download link that cannot send the token.

A GET of a file or a thumbnail (:func:`readable_file`) is judged by its signature when its
query has ``exp`` or ``sig`` (a bad, tampered or expired one is 403 ``forbidden``, whatever
else the request carries), else by its Bearer token. A deleted file is 404 either way.
"""

from __future__ import annotations

import time
from typing import Any

from chatd.actions import App
from chatd.errors import ChatError
from chatd.http.messages import FileReply, Reply, Request, json_body, json_reply
from chatd.links import LINK_KEY_LABEL, LinkRefused, check_link, link_expiry, signed_url
from chatd.protocol import codes
from chatd.storage import StoredFile
from chatd.thumbnails import THUMBNAIL_TYPE
from chatd.views import file_url, thumbnail_url

__all__ = ["FILE_HEADERS", "MAX_LINKS", "cache_control", "links", "readable_file", "thumbnail"]

#: Most ids one ``POST /api/files/links`` may ask about.
MAX_LINKS = 100

#: Headers of every answer with a file's or a thumbnail's bytes: never run, never embedded by
#: another site (never sniffed either: ``nosniff`` is on every answer, chatd.http.server).
FILE_HEADERS = [
    (b"content-security-policy", b"sandbox; default-src 'none'"),
    (b"cross-origin-resource-policy", b"same-origin"),
]

_YEAR = 31536000


def cache_control(exp: int | None, now: float) -> bytes:
    """Cache-Control of the bytes of a file or thumbnail (they never change under a url):
    a year for a Bearer request, until the link's ``exp`` for a signed one; private, since
    either needed a right to read."""
    max_age = _YEAR if exp is None else max(0, exp - int(now))
    return f"private, max-age={max_age}, immutable".encode()


async def readable_file(request: Request, app: App, variant: str, file_id: int
                        ) -> tuple[StoredFile, int | None]:
    """The file a GET of ``variant`` (``"file"`` or ``"thumbnail"``) of ``file_id`` may read,
    and its link's ``exp`` (None when the request was judged by its token).

    Raises:
        ChatError: ``forbidden`` for a bad, tampered or expired signature,
            ``unauthenticated`` without a signature or a token, ``not_found`` when there is
            no such file, it is deleted, or the token's user may not read it.
    """
    from chatd.http.routes import authenticate  # routes imports this module

    exp: int | None = None
    if "exp" in request.query or "sig" in request.query:
        try:
            exp = check_link(request.query, app.auth.derive_key(LINK_KEY_LABEL), variant,
                             file_id, time.time())
        except LinkRefused as exc:
            raise ChatError(codes.FORBIDDEN, str(exc)) from None
        found = await app.storage.kept_file(file_id)
    else:
        user, _ = await authenticate(request, app)
        found = await app.storage.get_file(user.id, file_id)
    if found is None:
        raise ChatError(codes.NOT_FOUND, "there is no such file, or you may not read it")
    return found, exp


async def thumbnail(request: Request, app: App, params: dict[str, str]) -> FileReply:
    """``GET /api/thumbnails/{id}``: the thumbnail's bytes, for whoever may read the file."""
    found, exp = await readable_file(request, app, "thumbnail", int(params["id"]))
    if found.thumb_sha256 is None:
        raise ChatError(codes.NOT_FOUND, "this file has no thumbnail")
    return FileReply(
        app.files.source(found.thumb_sha256),
        content_type=THUMBNAIL_TYPE.encode(),
        etag=f'"{found.thumb_sha256}"'.encode(),
        headers=[
            (b"content-disposition", b'inline; filename="thumbnail.webp"'),
            *FILE_HEADERS,
            (b"cache-control", cache_control(exp, time.time())),
        ],
    )


def _ids(body: dict[str, Any]) -> list[int]:
    ids = body.get("ids")
    if not isinstance(ids, list) or len(ids) > MAX_LINKS or not all(
            isinstance(i, int) and not isinstance(i, bool) and i > 0 for i in ids):
        raise ChatError(codes.BAD_REQUEST,
                        f"'ids' must be a list of at most {MAX_LINKS} file ids")
    return list(dict.fromkeys(ids))


async def links(request: Request, app: App, params: dict[str, str]) -> Reply:
    """``POST /api/files/links``: 200 ``{"links": [{id, url, thumbnail_url, expires_at}]}``
    for those of ``ids`` the user may read, in the order asked."""
    from chatd.http.routes import authenticate  # routes imports this module

    user, _ = await authenticate(request, app)
    ids = _ids(json_body(request))
    readable = {f.info.id: f for f in await app.storage.readable_files(user.id, ids)}
    exp = link_expiry(time.time(), app.config.files.link_seconds)
    key = app.auth.derive_key(LINK_KEY_LABEL)
    answer = []
    for file_id in ids:
        found = readable.get(file_id)
        if found is None:
            continue
        thumb = thumbnail_url(found.info)
        answer.append({
            "id": file_id,
            "url": signed_url(file_url(found.info), key, "file", file_id, exp),
            "thumbnail_url": signed_url(thumb, key, "thumbnail", file_id, exp)
            if thumb is not None else None,
            "expires_at": exp * 1000,
        })
    return json_reply(200, {"links": answer})

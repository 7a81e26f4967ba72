"""Download my data over HTTP (:mod:`chatd.export`): start an export, see how it goes, fetch it.

``POST /api/me/export`` starts one (202, or 409 ``conflict`` while one runs, 429
``rate_limited`` past ``limits.exports_per_hour``); ``GET /api/me/export`` says how the latest
goes (404 ``not_found`` before any), with, once it is ready, a ``url`` signed until a while
ahead (:mod:`chatd.links`, the ``export`` variant, by the user's id), for a plain link or a
download manager, which cannot send the token; ``GET /api/me/export/download`` sends the zip
from the file store a chunk at a time (:class:`~chatd.http.messages.FileReply`: ``Range``,
``HEAD`` and ``If-None-Match`` answered), with the Bearer token or that signature. Whichever
node the request reaches serves it: the archive is in the file store the nodes share, its
state in the database.
"""

from __future__ import annotations

import time
from typing import Any

from chatd.actions import App
from chatd.errors import ChatError
from chatd.export import ExportJob, archive_name, export_object
from chatd.http.links import FILE_HEADERS
from chatd.http.messages import FileReply, Reply, Request, json_reply
from chatd.links import LINK_KEY_LABEL, LinkRefused, check_link, link_expiry, link_signature
from chatd.protocol import codes
from chatd.storage import ExportState

__all__ = ["DOWNLOAD_PATH", "download_export", "export_state", "start_export"]

#: Where the archive is downloaded.
DOWNLOAD_PATH = "/api/me/export/download"

ZIP_TYPE = b"application/zip"


def _object(app: App, user_id: int, state: ExportState) -> dict[str, Any]:
    """The export as the routes answer it: with ``url``, signed, once it is ready."""
    obj = export_object(state)
    obj["url"] = None
    if state.state == "ready" and state.expires_at is not None:
        exp = min(link_expiry(time.time(), app.config.files.link_seconds),
                  state.expires_at // 1000 + 1)
        sig = link_signature(app.auth.derive_key(LINK_KEY_LABEL), "export", user_id, exp)
        obj["url"] = f"{DOWNLOAD_PATH}?user={user_id}&exp={exp}&sig={sig}"
    return obj


async def start_export(request: Request, app: App, params: dict[str, str]) -> Reply:
    """``POST /api/me/export``: 202 ``{"export": {...}}``, the export running."""
    from chatd.http.routes import authenticate  # routes imports this module

    user, _ = await authenticate(request, app)
    exporter = app.exporter
    if exporter is None:
        raise ChatError(codes.UNAVAILABLE, "this server makes no exports now")
    state = await app.storage.start_export(user.id, per_hour=app.config.limits.exports_per_hour,
                                           lease=exporter.lease)
    if not exporter.offer(ExportJob(state.id, user)):
        await app.storage.fail_export(state.id, "the server was too busy; start it again")
        raise ChatError(codes.UNAVAILABLE, "the server is too busy to make an export now; "
                        "try again in a while")
    return json_reply(202, {"export": _object(app, user.id, state)})


async def export_state(request: Request, app: App, params: dict[str, str]) -> Reply:
    """``GET /api/me/export``: 200 ``{"export": {...}}``, the latest; 404 before any."""
    from chatd.http.routes import authenticate

    user, _ = await authenticate(request, app)
    state = await app.storage.export_state(user.id)
    if state is None:
        raise ChatError(codes.NOT_FOUND, "you have made no export of your data (POST starts one)")
    return json_reply(200, {"export": _object(app, user.id, state)})


async def download_export(request: Request, app: App, params: dict[str, str]) -> FileReply:
    """``GET /api/me/export/download``: the zip of the latest export that is ready (one
    started since, still running or failed, does not take the one made before away)."""
    from chatd.http.routes import authenticate

    # A query with any part of a signed link is judged by the link alone, as a file's is.
    if {"user", "exp", "sig"} & request.query.keys():
        users = request.query.get("user", [])
        if len(users) != 1 or not users[0].isascii() or not users[0].isdigit() \
                or len(users[0]) > 18:
            raise ChatError(codes.FORBIDDEN, "a signed link to an export names one user")
        user_id = int(users[0])
        try:
            check_link(request.query, app.auth.derive_key(LINK_KEY_LABEL), "export", user_id,
                       time.time())
        except LinkRefused as exc:
            raise ChatError(codes.FORBIDDEN, str(exc)) from None
        name = None
    else:
        user, _ = await authenticate(request, app)
        user_id, name = user.id, user.name
    state = await app.storage.export_state(user_id, ready=True)
    if state is None or state.state != "ready" or state.sha256 is None:
        raise ChatError(codes.NOT_FOUND, "no export of your data is ready to download")
    if name is None:
        account = await app.storage.export_account(user_id)
        name = str(account["name"])
    filename = archive_name(name, state.started_at)
    return FileReply(
        app.files.source(state.sha256),
        content_type=ZIP_TYPE,
        etag=f'"{state.sha256}"'.encode(),
        headers=[
            (b"content-disposition", f'attachment; filename="{filename}"'.encode()),
            *FILE_HEADERS,
            (b"cache-control", b"private, no-store"),
        ],
    )

"""Custom emoji over HTTP: add, remove, and serve their pictures (chatd.actions.emoji).

``POST /api/emoji`` takes ``multipart/form-data`` with a part ``name`` (the emoji's name,
bare or as ``:name:``) and a part ``file``: a PNG, JPEG, GIF or WebP image by its bytes, of
at most ``[emoji] max_bytes`` (413 ``too_large`` past it), read and made into a picture as a
profile picture is (:func:`chatd.http.avatars.take_picture`: a WebP that fits 128x128 made
by :func:`chatd.thumbnails.make_emoji`, animated when the image is, in a worker thread of the
thumbnails' limiter; decoded within ``[files] max_image_pixels``). 201 with
``{emoji: {name, url, by, ts}}``; 400 ``bad_request`` for a bad name or image, 403
``forbidden`` when ``[emoji] who_can_add`` is "admins" and the user is not one, 409
``conflict`` for a name in use. It takes a token of the uploads' bucket
(:data:`chatd.http.uploads.UPLOADS`: an emoji is an upload) before the body is read, after
the right to add is checked, so that those refusals cost no decode; the name (its form,
whether it is taken) is checked once the body is read, before the decode.

``DELETE /api/emoji/{name}`` removes one: 204, by who added it or a server administrator
(403 ``forbidden`` otherwise, 404 ``not_found`` for none). ``GET /api/emoji`` lists them
(the ``custom_emoji`` operation).

``GET /api/emoji/images/{sha256}`` sends a picture to anyone, without a token, cached for
good: the route of profile pictures (:func:`chatd.http.avatars.picture_reply`, whose
docstring gives the reasons), serving only the bytes of some custom emoji's picture.
"""

from __future__ import annotations

from typing import Any

from chatd.actions import App
from chatd.actions import emoji as actions
from chatd.actions.session import now_ms
from chatd.errors import ChatError
from chatd.http.avatars import picture_reply, take_picture
from chatd.http.messages import FileReply, Reply, Request, RequestBody, json_reply
from chatd.http.uploads import MULTIPART_OVERHEAD, UPLOADS, multipart_boundary
from chatd.protocol import codes
from chatd.thumbnails import make_emoji
from chatd.views import custom_emoji_object

__all__ = ["add_emoji", "emoji_limit", "get_emoji_image", "remove_emoji"]


def emoji_limit(config: Any) -> int:
    """The body limit of ``POST /api/emoji``: ``[emoji] max_bytes`` and the framing."""
    return int(config.emoji.max_bytes) + MULTIPART_OVERHEAD


async def add_emoji(request: Request, body: RequestBody, app: App,
                    params: dict[str, str]) -> Reply:
    """``POST /api/emoji``: 201 ``{"emoji": {...}}``."""
    from chatd.http.routes import authenticate  # routes imports this module

    user, _ = await authenticate(request, app)
    actions.may_add(app, user)
    boundary = multipart_boundary(request)
    app.take_counted(UPLOADS, user.name, "add_emoji")

    async def check(part: Any) -> None:
        value = part.value("name")
        if value is None:
            raise ChatError(codes.BAD_REQUEST, "the body needs a part 'name'")
        name = actions.check_name(value.strip())
        if await app.storage.custom_emoji_exists(name):  # (the add checks again)
            raise ChatError(codes.CONFLICT, f"there is a custom emoji :{name}: already")

    async def record(picture: tuple[str, int], part: Any) -> dict[str, Any]:
        name = actions.check_name(part.value("name").strip())
        return custom_emoji_object(await actions.add(app, user, name, picture))

    added = await take_picture(app, body, boundary, make_emoji, app.config.emoji.max_bytes,
                               record, frozenset({"name"}), check)
    return json_reply(201, {"emoji": added})


async def remove_emoji(request: Request, app: App, params: dict[str, str]) -> Reply:
    """``DELETE /api/emoji/{name}``: 204."""
    from chatd.http.routes import authenticate  # routes imports this module

    user, _ = await authenticate(request, app)
    await actions.remove(app, user, actions.check_name(params["name"]), now_ms())
    return Reply(204, content_type=b"")


async def get_emoji_image(request: Request, app: App, params: dict[str, str]) -> FileReply:
    """``GET /api/emoji/images/{sha256}``: a custom emoji's picture, to anyone."""
    return await picture_reply(app, params["sha256"], app.storage.emoji_image_exists,
                               "emoji.webp")

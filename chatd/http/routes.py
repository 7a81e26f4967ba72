"""The REST API, /healthz, /metrics and the page: one table of routes.

Every API route that does what a protocol request does is a thin adapter over the same
operation (:mod:`chatd.actions`): it reads the request's fields from the path, the query or
the JSON body, lets the protocol's own parser check them (:func:`chatd.protocol.parse_request`:
one set of rules for both fronts), runs the operation for the Bearer token's user, and sends
the reply's fields as JSON (reshaped where the HTTP API's documented shape differs).

A method's handler is either a plain :data:`Handler`, which gets the request with its whole
body (bounded by ``http.max_body_bytes``), or a :class:`Streaming` one, which the server calls
as soon as the head has arrived, with the body to read as it comes
(:class:`~chatd.http.messages.RequestBody`), bounded by the route's own limit. Any handler may
answer a :class:`~chatd.http.messages.FileReply` to send a file from disk.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import trio

from chatd.actions import (
    OPERATIONS,
    App,
    Append,
    CatchUp,
    Stateless,
    accounts,
    admin,
    bots,
    hooks,
    invitations,
    push,
    room_links,
)
from chatd.actions import email as mail
from chatd.actions.session import now_ms
from chatd.config import Config
from chatd.errors import ChatError
from chatd.http.avatars import get_avatar, put_avatar, remove_avatar
from chatd.http.emoji import add_emoji, emoji_limit, get_emoji_image, remove_emoji
from chatd.http.exports import DOWNLOAD_PATH, download_export, export_state, start_export
from chatd.http.links import links, thumbnail
from chatd.http.messages import (
    JSON_TYPE,
    BodyError,
    BytesBody,
    FileReply,
    Reply,
    Request,
    RequestBody,
    bool_field,
    error_reply,
    int_param,
    json_body,
    json_reply,
    str_field,
)
from chatd.http.openapi import OPENAPI_PATH, served_document
from chatd.http.static import serve_static
from chatd.http.uploads import download, upload, upload_limit
from chatd.protocol import (
    CreateRoomLink,
    InvalidName,
    RequestError,
    Sent,
    ServerEvent,
    codes,
    is_conversation,
    normalise_room,
    normalise_user,
    parse_request,
)
from chatd.protocol.events import MAX_DELETE_SECONDS, is_storable, page_size
from chatd.storage import StorageUnavailable, User
from chatd.views import profile_object

__all__ = ["ROUTES", "BodyHandler", "Handler", "Route", "Streaming", "dispatch",
           "streaming_limit"]

log = logging.getLogger(__name__)

HEALTH_TIMEOUT = 5.0  # seconds /healthz waits for the database
METRICS_TYPE = b"text/plain; version=0.0.4; charset=utf-8"

Handler = Callable[[Request, App, dict[str, str]], Awaitable[Reply | FileReply]]
#: A streaming route's handler: the request (head only), its body to read, the app, the params.
BodyHandler = Callable[[Request, RequestBody, App, dict[str, str]], Awaitable[Reply | FileReply]]


@dataclasses.dataclass(frozen=True, slots=True)
class Streaming:
    """A method's handler that reads the request body as it arrives.

    Attributes:
        handler: called once the head has arrived; reads the body (or not) from its
            :class:`~chatd.http.messages.RequestBody`.
        max_bytes: the body's limit from the config (``lambda config: config.files.max_bytes``),
            in place of ``http.max_body_bytes``: 413 ``too_large`` past it, before the handler
            runs when the Content-Length says so, else while it reads.
    """

    handler: BodyHandler
    max_bytes: Callable[[Config], int]


async def authenticate(request: Request, app: App) -> tuple[User, str]:
    """The user behind the request's Bearer token, and the token."""
    value = request.header(b"authorization")
    if value is None:
        raise ChatError(codes.UNAUTHENTICATED, "an Authorization: Bearer token is required")
    scheme, _, token = value.decode("latin-1").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise ChatError(codes.UNAUTHENTICATED, "an Authorization: Bearer token is required")
    return await app.auth.authenticate(token), token


# -- adapters over the operations ------------------------------------------------------------

Fields = Callable[[Request, dict[str, str]], dict[str, Any]]


def _body(request: Request, params: dict[str, str]) -> dict[str, Any]:
    return json_body(request)


def _none(request: Request, params: dict[str, str]) -> dict[str, Any]:
    return {}


def _same(fields: dict[str, Any]) -> dict[str, Any]:
    return fields


def operation(op: str, fields: Fields = _none, *, status: int = 200,
              shape: Callable[[dict[str, Any]], dict[str, Any]] = _same) -> Handler:
    """The route that runs the protocol operation ``op`` with ``fields`` of the request.

    Args:
        op: the protocol request's op, e.g. ``"create_room"``.
        fields: the request's fields, from the path params, query or body.
        status: the status of a success.
        shape: the JSON body from the reply's fields (``op`` and ``id`` removed).
    """

    async def handle(request: Request, app: App, params: dict[str, str]) -> Reply:
        user, _ = await authenticate(request, app)
        parsed = parse_request({**fields(request, params), "op": op, "id": None},
                               app.protocol_limits)
        if isinstance(parsed, RequestError):
            raise ChatError(parsed.code, parsed.message)
        row = OPERATIONS[type(parsed)]
        try:
            # the user's buckets, all of them: a request has no connection to keep one on
            app.take_all(row.rate, user.name)
            result = await row.run(app, Stateless(user), parsed)
        except ChatError as exc:
            if exc.code == codes.RATE_LIMITED:  # counted as the socket counts its refusals
                app.metrics.rate_limited.labels(op).inc()
            raise
        event: ServerEvent
        if isinstance(result, Append):
            # What the socket acknowledges after the commit, the route answers after it.
            done = await app.committer.commit(result.message)
            m = done.message
            change = m.kind != "message"
            event = Sent(room=m.room, seq=m.seq, msg_id=m.msg_id, ts=m.ts,
                         duplicate=done.duplicate and not change,
                         unchanged=done.duplicate and change)
        else:
            event = result.reply if isinstance(result, CatchUp) else result
        body = {key: value for key, value in event.wire().items() if key not in ("op", "id")}
        return json_reply(status, shape(body))

    return handle


def _ints(request: Request, *keys: str) -> dict[str, Any]:
    """The query parameters ``keys`` that are given, as :func:`int_param` reads them."""
    fields: dict[str, Any] = {}
    for key in keys:
        value = int_param(request, key)
        if value is not None:
            fields[key] = value
    return fields


def _history_fields(request: Request, params: dict[str, str]) -> dict[str, Any]:
    return {"room": params["room"], **_ints(request, "before", "after", "limit")}


def _rooms_fields(request: Request, params: dict[str, str]) -> dict[str, Any]:
    """``?query=&after=&limit=&joined=`` of ``GET /api/rooms``, checked by the protocol's
    parser as the socket's fields are (a repeated key is refused, not guessed at). An empty
    value is no value, as a search form sends an empty box."""
    fields: dict[str, Any] = {}
    for key in ("query", "after", "joined"):
        values = request.query.get(key)
        if values is None or values == [""]:
            continue
        if len(values) != 1:
            raise ChatError(codes.BAD_REQUEST, f"{key!r} must be given once")
        fields[key] = values[0]
    if "joined" in fields:
        if fields["joined"] not in ("true", "false"):
            raise ChatError(codes.BAD_REQUEST, "'joined' must be true or false")
        fields["joined"] = fields["joined"] == "true"
    limit = int_param(request, "limit")
    if limit is not None:
        fields["limit"] = limit
    return fields


def _search_fields(request: Request, params: dict[str, str]) -> dict[str, Any]:
    """``?q=&room=&limit=&before=`` of ``GET /api/search``, checked by the protocol's parser
    as the socket's ``search`` is (``q`` is its ``query``; a repeated key is refused)."""
    fields: dict[str, Any] = {}
    for key, field in (("q", "query"), ("room", "room")):
        values = request.query.get(key)
        if values is None or (key == "room" and values == [""]):
            continue
        if len(values) != 1:
            raise ChatError(codes.BAD_REQUEST, f"{key!r} must be given once")
        fields[field] = values[0]
    if "query" not in fields:
        raise ChatError(codes.BAD_REQUEST, "'q' is required: what to search for")
    return {**fields, **_ints(request, "limit", "before")}


def _contact_from_path(request: Request, params: dict[str, str]) -> dict[str, Any]:
    return {"user": params["user"]}


def _room_body(request: Request, params: dict[str, str]) -> dict[str, Any]:
    """The JSON body, with the room (and the user, the message) from the path."""
    return {**json_body(request), **params}


def _topic_body(request: Request, params: dict[str, str]) -> dict[str, Any]:
    """``{"topic"}`` (required: a body without it is no request to clear the topic)."""
    body = json_body(request)
    if "topic" not in body:
        raise ChatError(codes.BAD_REQUEST, "'topic' is required (\"\" clears it)")
    return {**body, **params}


def _room_path(request: Request, params: dict[str, str]) -> dict[str, Any]:
    """The fields from the path alone (``msg_id`` as a number)."""
    fields: dict[str, Any] = dict(params)
    if "msg_id" in fields:
        fields["msg_id"] = int(fields["msg_id"])
    return fields


def _message_body(request: Request, params: dict[str, str]) -> dict[str, Any]:
    """The JSON body, with the room and the message (a number) from the path."""
    return {**json_body(request), **_room_path(request, params)}


def _pin_path(on: bool) -> Fields:
    """``PUT`` (``on``) or ``DELETE`` of ``/api/rooms/{room}/pins/{msg_id}``: the ``pin``
    request from the path alone."""
    def fields(request: Request, params: dict[str, str]) -> dict[str, Any]:
        return {**_room_path(request, params), "on": on}
    return fields


def _page_fields(request: Request, params: dict[str, str]) -> dict[str, Any]:
    """``?limit=&before=`` of a room's page newest first (``audit``, ``pins``, ``thread``),
    with the path's fields."""
    return {**_room_path(request, params), **_ints(request, "limit", "before")}


def _saved_fields(request: Request, params: dict[str, str]) -> dict[str, Any]:
    """``?before=&limit=`` of ``GET /api/me/saved``."""
    return _ints(request, "limit", "before")


def _save_body(request: Request, params: dict[str, str]) -> dict[str, Any]:
    """``{remind_at?}`` (null or absent: no reminder) with the room and the message from
    the path; a body may be left out."""
    body = json_body(request) if request.body else {}
    return {"remind_at": body.get("remind_at"), "room": params["room"],
            "msg_id": int(params["msg_id"]), "on": True}


def _on_body(request: Request, params: dict[str, str]) -> dict[str, Any]:
    """``{"on": bool}``, required: a ``PUT`` without it is no request to read the setting."""
    body = json_body(request)
    if not isinstance(body.get("on"), bool):
        raise ChatError(codes.BAD_REQUEST, "'on' must be true or false")
    return {"on": body["on"]}


def _reminders_fields(request: Request, params: dict[str, str]) -> dict[str, Any]:
    """``?before=&limit=`` of ``GET /api/me/reminders`` (the reminders set for others)."""
    return _ints(request, "limit", "before")


def _unsave_path(request: Request, params: dict[str, str]) -> dict[str, Any]:
    return {"room": params["room"], "msg_id": int(params["msg_id"]), "on": False}


def _saved_item(fields: dict[str, Any]) -> dict[str, Any]:
    """``PUT /api/me/saved/...``: the item as it is now, {item: {room, msg_id, ts, remind_at,
    reminded}} (and ``unchanged`` when it was so)."""
    body: dict[str, Any] = {"item": {key: fields[key] for key in (
        "room", "msg_id", "ts", "remind_at", "reminded")}}
    if fields.get("unchanged"):
        body["unchanged"] = True
    return body


def _schedule_body(request: Request, params: dict[str, str]) -> dict[str, Any]:
    """``POST /api/me/scheduled``: the body, as ``schedule`` takes it."""
    return json_body(request)


def _scheduled_body(request: Request, params: dict[str, str]) -> dict[str, Any]:
    """``PATCH /api/me/scheduled/{item}``: the body (as ``edit_scheduled``) and the item."""
    return {**json_body(request), "item": int(params["item"])}


def _scheduled_path(request: Request, params: dict[str, str]) -> dict[str, Any]:
    return {"item": int(params["item"])}


async def _unschedule(request: Request, app: App, params: dict[str, str]) -> Reply:
    """``DELETE /api/me/scheduled/{item}``: 204 once cancelled."""
    await _UNSCHEDULE(request, app, params)
    return Reply(204)


_UNSCHEDULE = operation("cancel_scheduled", _scheduled_path)


async def _unsave(request: Request, app: App, params: dict[str, str]) -> Reply:
    """``DELETE /api/me/saved/{room}/{msg_id}``: 204, removed or not saved."""
    await _UNSAVE(request, app, params)
    return Reply(204)


_UNSAVE = operation("save", _unsave_path)


def _threads_fields(request: Request, params: dict[str, str]) -> dict[str, Any]:
    """``?before=&limit=`` of ``GET /api/me/threads`` (``before``: the "<last_ts>:<msg_id>"
    cursor, checked by the protocol's parser; an empty one is no value)."""
    fields: dict[str, Any] = _ints(request, "limit")
    before = _query_text(request, "before")
    if before:
        fields["before"] = before
    return fields


def _draft_body(request: Request, params: dict[str, str]) -> dict[str, Any]:
    """``{text, thread?}`` of ``PUT /api/me/drafts/{room}``, with the room from the path."""
    return {**json_body(request), "room": params["room"]}


def _draft_deletion(request: Request, params: dict[str, str]) -> dict[str, Any]:
    """``DELETE /api/me/drafts/{room}?thread=``: an empty text deletes the draft."""
    return {**_ints(request, "thread"), "room": params["room"], "text": ""}


def _hide_path(on: bool) -> Fields:
    """The fields of ``PUT`` (``on``: close) and ``DELETE /api/rooms/{room}/hidden``."""
    def fields(request: Request, params: dict[str, str]) -> dict[str, Any]:
        return {"room": params["room"], "on": on}
    return fields


def _favourite_path(on: bool) -> Fields:
    """The fields of ``PUT`` (``on``: mark) and ``DELETE /api/rooms/{room}/favourite``."""
    def fields(request: Request, params: dict[str, str]) -> dict[str, Any]:
        return {"room": params["room"], "on": on}
    return fields


def _section_body(request: Request, params: dict[str, str]) -> dict[str, Any]:
    """``PUT /api/rooms/{room}/section``: the body (``{"section": id}``) and the room."""
    return {**json_body(request), "room": params["room"]}


def _no_section(request: Request, params: dict[str, str]) -> dict[str, Any]:
    """``DELETE /api/rooms/{room}/section``: back into the default lists."""
    return {"room": params["room"], "section": None}


def _sections_path(request: Request, params: dict[str, str]) -> dict[str, Any]:
    return {"section": int(params["section"])}


def _sections_body(request: Request, params: dict[str, str]) -> dict[str, Any]:
    """``PATCH /api/sections/{section}``: the body (as ``edit_section``) and the section."""
    return {**json_body(request), "section": int(params["section"])}


def _follow_path(on: bool) -> Fields:
    """The fields of ``PUT`` (``on``) and ``DELETE /api/me/threads/{room}/{msg_id}/follow``."""
    def fields(request: Request, params: dict[str, str]) -> dict[str, Any]:
        return {**_room_path(request, params), "on": on}
    return fields


def _read_thread_body(request: Request, params: dict[str, str]) -> dict[str, Any]:
    """``{seq}`` with the room and the message from the path."""
    return {**json_body(request), **_room_path(request, params)}


def _receipts_fields(request: Request, params: dict[str, str]) -> dict[str, Any]:
    """``?after=&limit=`` of ``GET /api/rooms/{room}/messages/{msg_id}/receipts``, with the
    path's fields, checked by the protocol's parser (an empty ``after`` is no value)."""
    fields: dict[str, Any] = {**_room_path(request, params), **_ints(request, "limit")}
    after = _query_text(request, "after")
    if after:
        fields["after"] = after
    return fields


def _contacts_fields(request: Request, params: dict[str, str]) -> dict[str, Any]:
    """``?after=&limit=`` of ``GET /api/contacts``, checked by the protocol's parser (an
    empty ``after`` is no value)."""
    fields: dict[str, Any] = {"limit": int_param(request, "limit")}
    after = _query_text(request, "after")
    if after:
        fields["after"] = after
    return fields


def _query_text(request: Request, key: str) -> str:
    """A query parameter given at most once ('' when absent), text the database can take."""
    values = request.query.get(key)
    if values is None:
        return ""
    if len(values) != 1:
        raise ChatError(codes.BAD_REQUEST, f"{key!r} must be given once")
    if not is_storable(values[0]):
        raise ChatError(codes.BAD_REQUEST, f"{key!r} must be text without U+0000")
    return values[0]


def _user_in_path(params: dict[str, str]) -> str:
    try:
        return normalise_user(params["name"])
    except InvalidName as exc:
        raise ChatError(codes.BAD_REQUEST, f"the user name in the path: {exc}") from None


# -- accounts --------------------------------------------------------------------------------


async def _register(request: Request, app: App, params: dict[str, str]) -> Reply:
    body = json_body(request)
    return json_reply(201, await accounts.register(
        app, str_field(body, "username"), str_field(body, "password"),
        invitation=body.get("invitation"), address=request.address))


async def _registration(request: Request, app: App, params: dict[str, str]) -> Reply:
    """``GET /api/register``: who may register here (``auth.registration``), who may make
    invitation links (``auth.who_can_invite``) and the server's name, for a page to offer
    "Register" and "Invite people…" or not (read once per log-in: nothing in hello)."""
    return json_reply(200, {"registration": app.config.auth.registration,
                            "who_can_invite": app.config.auth.who_can_invite,
                            "server": app.config.server.name or None,
                            "password_reset": app.config.email.enabled,
                            "min_password_length": app.config.auth.min_password_length})


# -- invitations -----------------------------------------------------------------------------


def _base_url(request: Request, app: App) -> str:
    """Where people open the page: ``server.public_url``, else the request's Host, on
    https when a trusted reverse proxy (``http.trust_forwarded_for``) says the request came
    to it so (``X-Forwarded-Proto``, its last value: the one it set)."""
    if app.config.server.public_url:
        return app.config.server.public_url
    host = (request.header(b"host") or b"").decode("latin-1").strip()
    if not host or any(c.isspace() or c in "/?#@\\" for c in host):
        host = f"{app.config.http.host}:{app.config.http.port}"
    scheme = "http"
    if app.config.http.trust_forwarded_for:
        said = [bytes(v) for k, v in request.headers.headers if k == b"x-forwarded-proto"]
        if said and said[-1].decode("latin-1").split(",")[-1].strip().lower() == "https":
            scheme = "https"
    return f"{scheme}://{host}"


async def _invitations(request: Request, app: App, params: dict[str, str]) -> Reply:
    user, _ = await authenticate(request, app)
    return json_reply(200, await invitations.list_invitations(
        app, user, before=int_param(request, "before"), limit=int_param(request, "limit")))


async def _create_invitation(request: Request, app: App, params: dict[str, str]) -> Reply:
    user, _ = await authenticate(request, app)
    body = json_body(request) if request.body else {}
    return json_reply(201, await _counting("create_invitation", invitations.create(
        app, user, body, base_url=_base_url(request, app), now=now_ms()), app))


async def _revoke_invitation(request: Request, app: App, params: dict[str, str]) -> Reply:
    user, _ = await authenticate(request, app)
    return json_reply(200, await invitations.revoke(app, user, int(params["id"])))


async def _look_at_invitation(request: Request, app: App, params: dict[str, str]) -> Reply:
    """``GET /api/join/{token}``: public, limited per address."""
    return json_reply(200, await _counting("invitation", invitations.look(
        app, params["token"], address=request.address), app))


# -- room links ------------------------------------------------------------------------------


async def _create_room_link(request: Request, app: App, params: dict[str, str]) -> Reply:
    """``POST /api/rooms/{room}/links``: the socket's ``create_room_link``, with the link's
    url on the address people open the page at (:func:`_base_url`) even when the server has
    no ``server.public_url``."""
    user, _ = await authenticate(request, app)
    body = json_body(request) if request.body else {}
    parsed = parse_request({**body, "room": params["room"], "op": "create_room_link",
                            "id": None}, app.protocol_limits)
    if isinstance(parsed, RequestError):
        raise ChatError(parsed.code, parsed.message)
    assert isinstance(parsed, CreateRoomLink)
    app.take_counted(room_links.LINKS, user.name, "create_room_link")
    answer = await room_links.create_room_link(app, Stateless(user), parsed)
    fields = dict(answer.fields)
    fields["url"] = room_links.join_url(_base_url(request, app), str(fields["token"]))
    return json_reply(201, fields)


def _link_path(request: Request, params: dict[str, str]) -> dict[str, Any]:
    return {"link": int(params["id"])}


def _token_body(request: Request, params: dict[str, str]) -> dict[str, Any]:
    """``{"token"}``: a link's token travels in the body, never in the request line (which
    proxies and servers log)."""
    body = json_body(request)
    return {"token": body.get("token")}


async def _login(request: Request, app: App, params: dict[str, str]) -> Reply:
    body = json_body(request)
    return json_reply(200, await accounts.login(
        app, str_field(body, "username"), str_field(body, "password"), address=request.address))


async def _logout(request: Request, app: App, params: dict[str, str]) -> Reply:
    _, token = await authenticate(request, app)
    everywhere = bool_field(json_body(request), "everywhere", False)
    return json_reply(200, await accounts.logout(app, token, everywhere=everywhere))


async def _me(request: Request, app: App, params: dict[str, str]) -> Reply:
    """``?rooms_limit=&contacts_limit=``: a paged answer, as a ``hello`` with them."""
    user, _ = await authenticate(request, app)
    page_max = app.config.limits.rooms_page_max
    return json_reply(200, await accounts.me(
        app, user, rooms_limit=_page_param(request, "rooms_limit", 1, page_max),
        contacts_limit=_page_param(request, "contacts_limit", 0, page_max)))


async def _user_profile(request: Request, app: App, params: dict[str, str]) -> Reply:
    """One user's profile, as ``profiles`` gives it; 404 for nobody of that name."""
    await authenticate(request, app)
    name = _user_in_path(params)
    found = await app.storage.profiles([name])
    if not found:
        raise ChatError(codes.NOT_FOUND, f"there is no user {name!r}")
    return json_reply(200, profile_object(found[0]))


def _page_param(request: Request, key: str, low: int, most: int) -> int | None:
    """The query parameter ``key``, a page size: an int of at least ``low`` (else
    ``bad_request``), at most ``most`` (a larger one is a page of ``most``, as the socket's
    ``hello`` takes it: chatd.protocol.page_size), or None when absent."""
    value = int_param(request, key)
    if value is not None and value < low:
        raise ChatError(codes.BAD_REQUEST, f"{key!r} must be at least {low}")
    return None if value is None else page_size(value, most=most)


# -- email -----------------------------------------------------------------------------------


async def _get_email(request: Request, app: App, params: dict[str, str]) -> Reply:
    user, _ = await authenticate(request, app)
    return json_reply(200, await mail.get_email(app, user))


async def _put_email(request: Request, app: App, params: dict[str, str]) -> Reply:
    """``PUT /api/me/email``: 202, the address stored and its confirmation link mailed."""
    user, _ = await authenticate(request, app)
    return json_reply(202, await mail.set_email(app, user, json_body(request),
                                                base_url=_base_url(request, app),
                                                now=now_ms()))


async def _delete_email(request: Request, app: App, params: dict[str, str]) -> Reply:
    user, _ = await authenticate(request, app)
    return json_reply(200, await mail.remove_email(app, user))


async def _email_notifications(request: Request, app: App, params: dict[str, str]) -> Reply:
    user, _ = await authenticate(request, app)
    return json_reply(200, await mail.set_notify(app, user, json_body(request)))


def _html(status: int, title: str, text: str, app: App, request: Request, *,
          extra: str = "", hash: str = "") -> Reply:
    status, body, headers = mail.html_page(status, title, text, _base_url(request, app),
                                           extra=extra, hash=hash)
    return Reply(status, body, b"text/html; charset=utf-8", list(headers))


async def _confirm_email_token(request: Request, app: App, params: dict[str, str]) -> Reply:
    """``POST /api/email/confirm`` ``{token}``: the page, opened at a confirmation link
    (the token in its fragment), posts it."""
    return json_reply(200, await mail.confirm_token(app, json_body(request)))


async def _confirm_email(request: Request, app: App, params: dict[str, str]) -> Reply:
    """``GET /api/email/confirm/{token}`` (deprecated: the links mailed before the token
    went into the fragment), opened in a browser: a page."""
    status, title, text = await mail.confirm(app, params["token"])
    # Once confirmed, "Open chatd" opens the page saying so (clients/web: #email-confirmed).
    return _html(status, title, text, app, request,
                 hash="#email-confirmed" if status == 200 else "")


async def _unsubscribe_page(request: Request, app: App, params: dict[str, str]) -> Reply:
    """``GET /api/email/unsubscribe/{token}``: a page with a button (the GET changes
    nothing)."""
    status, title, text, button = await mail.unsubscribe_page(app, params["token"])
    extra = ("<form method=\"post\"><button type=\"submit\" style=\"padding:.5em 1em\">"
             "Turn off these emails</button></form>") if button else ""
    return _html(status, title, text, app, request, extra=extra)


async def _unsubscribe(request: Request, app: App, params: dict[str, str]) -> Reply:
    """``POST /api/email/unsubscribe/{token}``: the page's button, or a mail client's
    one-click POST (RFC 8058: a form body, ``List-Unsubscribe=One-Click``, not read)."""
    status, title, text = await mail.unsubscribe(app, params["token"])
    return _html(status, title, text, app, request)


async def _request_reset(request: Request, app: App, params: dict[str, str]) -> Reply:
    """``POST /api/password-reset``: always 202 (but for a bad body or too many requests
    from the address)."""
    return json_reply(202, await mail.request_reset(
        app, json_body(request), address=request.address, base_url=_base_url(request, app),
        now=now_ms()))


async def _complete_reset(request: Request, app: App, params: dict[str, str]) -> Reply:
    """``POST /api/password-reset/complete`` ``{token, password}``: the token in the body,
    where no access log keeps it."""
    body = json_body(request)
    token = body.get("token")
    if not isinstance(token, str):
        raise ChatError(codes.BAD_REQUEST, "'token' must be a string (the token of a "
                                           "password reset link)")
    return json_reply(200, await mail.reset_password(app, token, body))


async def _reset_password(request: Request, app: App, params: dict[str, str]) -> Reply:
    """``POST /api/password-reset/{token}``: deprecated (the token in the path), kept for
    pages loaded before ``/complete``."""
    return json_reply(200, await mail.reset_password(app, params["token"], json_body(request)))


# -- administration --------------------------------------------------------------------------


async def _admin_users(request: Request, app: App, params: dict[str, str]) -> Reply:
    user, _ = await authenticate(request, app)
    return json_reply(200, await admin.list_users(
        app, user, query=_query_text(request, "query"), after=_query_text(request, "after"),
        limit=int_param(request, "limit")))


def _deactivation(deactivated: bool) -> Handler:
    async def handle(request: Request, app: App, params: dict[str, str]) -> Reply:
        user, _ = await authenticate(request, app)
        delete_messages = 0
        if deactivated:
            value = json_body(request).get("delete_messages", 0)
            if value is None:
                value = 0
            if not isinstance(value, int) or isinstance(value, bool) \
                    or not 0 <= value <= MAX_DELETE_SECONDS:
                raise ChatError(codes.BAD_REQUEST,
                                f"'delete_messages' must be 0-{MAX_DELETE_SECONDS}")
            delete_messages = value
        return json_reply(200, await admin.deactivate(app, user, _user_in_path(params),
                                                      deactivated, delete_messages))
    return handle


async def _admin_password(request: Request, app: App, params: dict[str, str]) -> Reply:
    user, _ = await authenticate(request, app)
    body = json_body(request)
    password = body.get("password")
    if "password" in body and not isinstance(password, str):
        raise ChatError(codes.BAD_REQUEST, "'password' must be a string (or left out)")
    return json_reply(200, await admin.reset_password(app, user, _user_in_path(params),
                                                      password))


async def _admin_flag(request: Request, app: App, params: dict[str, str]) -> Reply:
    user, _ = await authenticate(request, app)
    flag = bool_field(json_body(request), "admin", True)
    return json_reply(200, await admin.set_admin(app, user, _user_in_path(params), flag))


async def _admin_rooms(request: Request, app: App, params: dict[str, str]) -> Reply:
    user, _ = await authenticate(request, app)
    return json_reply(200, await admin.list_rooms(
        app, user, query=_query_text(request, "query"), after=_query_text(request, "after"),
        limit=int_param(request, "limit")))


async def _admin_delete_room(request: Request, app: App, params: dict[str, str]) -> Reply:
    user, _ = await authenticate(request, app)
    try:
        room = normalise_room(params["room"])
    except InvalidName as exc:
        raise ChatError(codes.BAD_REQUEST, f"the room name in the path: {exc}") from None
    if is_conversation(room):
        raise ChatError(codes.BAD_REQUEST, "a conversation cannot be deleted")
    return json_reply(200, await admin.delete_room(app, user, room))


async def _admin_stats(request: Request, app: App, params: dict[str, str]) -> Reply:
    user, _ = await authenticate(request, app)
    return json_reply(200, await admin.stats(app, user))


async def _admin_audit(request: Request, app: App, params: dict[str, str]) -> Reply:
    user, _ = await authenticate(request, app)
    return json_reply(200, await admin.audit(app, user, before=int_param(request, "before"),
                                             limit=int_param(request, "limit")))


# -- Web Push --------------------------------------------------------------------------------


async def _push_key(request: Request, app: App, params: dict[str, str]) -> Reply:
    return json_reply(200, push.public_key(app))


async def _push_subscribe(request: Request, app: App, params: dict[str, str]) -> Reply:
    user, _ = await authenticate(request, app)
    try:
        return json_reply(201, await push.subscribe(app, user, json_body(request)))
    except ChatError as exc:
        if exc.code == codes.RATE_LIMITED:
            app.metrics.rate_limited.labels("push_subscribe").inc()
        raise


async def _push_unsubscribe(request: Request, app: App, params: dict[str, str]) -> Reply:
    user, _ = await authenticate(request, app)
    return json_reply(200, await push.unsubscribe(app, user, json_body(request)))


# -- bots and webhooks -----------------------------------------------------------------------


async def _counting(label: str, answer: Awaitable[dict[str, Any]], app: App) -> dict[str, Any]:
    """``answer``, counting a rate-limited refusal under ``label`` as the socket counts its
    own."""
    try:
        return await answer
    except ChatError as exc:
        if exc.code == codes.RATE_LIMITED:
            app.metrics.rate_limited.labels(label).inc()
        raise


async def _bots(request: Request, app: App, params: dict[str, str]) -> Reply:
    user, _ = await authenticate(request, app)
    return json_reply(200, await bots.list_bots(app, user))


async def _create_bot(request: Request, app: App, params: dict[str, str]) -> Reply:
    user, _ = await authenticate(request, app)
    return json_reply(201, await _counting(
        "create_bot", bots.create_bot(app, user, json_body(request)), app))


async def _new_bot_token(request: Request, app: App, params: dict[str, str]) -> Reply:
    user, _ = await authenticate(request, app)
    return json_reply(201, await _counting(
        "bot_token", bots.new_token(app, user, params["name"], json_body(request)), app))


async def _revoke_bot_token(request: Request, app: App, params: dict[str, str]) -> Reply:
    user, _ = await authenticate(request, app)
    return json_reply(200, await bots.revoke_token(app, user, params["name"], int(params["id"])))


async def _hooks(request: Request, app: App, params: dict[str, str]) -> Reply:
    user, _ = await authenticate(request, app)
    return json_reply(200, await hooks.list_hooks(app, user, params["room"]))


async def _create_hook(request: Request, app: App, params: dict[str, str]) -> Reply:
    user, _ = await authenticate(request, app)
    return json_reply(201, await _counting(
        "create_hook", hooks.create_hook(app, user, params["room"], json_body(request)), app))


async def _delete_hook(request: Request, app: App, params: dict[str, str]) -> Reply:
    user, _ = await authenticate(request, app)
    return json_reply(200, await hooks.delete_hook(app, user, params["room"], int(params["id"])))


async def _post_to_hook(request: Request, app: App, params: dict[str, str]) -> Reply:
    """An incoming webhook's post: its URL's secret is the credential (no Bearer)."""
    status, answer = await hooks.post(app, params["secret"], json_body(request))
    return json_reply(status, answer)


async def _webhook(request: Request, app: App, params: dict[str, str]) -> Reply:
    user, _ = await authenticate(request, app)
    return json_reply(200, await hooks.get_webhook(app, user, params["room"]))


async def _set_webhook(request: Request, app: App, params: dict[str, str]) -> Reply:
    user, _ = await authenticate(request, app)
    return json_reply(200, await _counting(
        "set_webhook", hooks.set_webhook(app, user, params["room"], json_body(request)), app))


async def _delete_webhook(request: Request, app: App, params: dict[str, str]) -> Reply:
    user, _ = await authenticate(request, app)
    return json_reply(200, await hooks.delete_webhook(app, user, params["room"]))


# -- the daemon ------------------------------------------------------------------------------


async def _healthz(request: Request, app: App, params: dict[str, str]) -> Reply:
    if app.draining:
        return json_reply(503, {"status": "draining"}, close=True)
    try:
        with trio.fail_after(HEALTH_TIMEOUT):
            await app.storage.ping()
    except (StorageUnavailable, trio.TooSlowError, OSError) as exc:
        log.warning("health check: the database does not answer: %r", exc)
        return error_reply(ChatError(codes.UNAVAILABLE, "the database does not answer"))
    return json_reply(200, {"status": "ok"})


async def _metrics(request: Request, app: App, params: dict[str, str]) -> Reply:
    body = await app.metrics.scrape()
    return Reply(200, body, METRICS_TYPE, [(b"cache-control", b"no-store")])


async def _openapi(request: Request, app: App, params: dict[str, str]) -> Reply:
    """The API's OpenAPI description (:mod:`chatd.http.openapi`): public, and cacheable (it
    changes only with the daemon's version or settings)."""
    body, etag = served_document(app.config)
    headers = [(b"cache-control", b"public, max-age=300"), (b"etag", etag)]
    if etag in (request.header(b"if-none-match") or b"").replace(b" ", b"").split(b","):
        return Reply(304, b"", JSON_TYPE, headers)
    return Reply(200, body, JSON_TYPE, headers)


async def _ws_without_upgrade(request: Request, app: App, params: dict[str, str]) -> Reply:
    raise ChatError(codes.BAD_REQUEST, "/ws takes a WebSocket upgrade (Upgrade: websocket)")


# -- the table -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Route:
    """A path (a regular expression with named groups) and its handler per method.
    ``while_draining``: answered while the daemon stops (everything else is 503)."""

    pattern: re.Pattern[str]
    methods: Mapping[str, Handler | Streaming]
    while_draining: bool = False


def _route(path: str, methods: Mapping[str, Handler | Streaming], *,
           while_draining: bool = False) -> Route:
    return Route(re.compile(path), methods, while_draining)


#: Checked in order; HEAD is allowed wherever GET is. Paths not matched here are the page's
#: files, except under /api/.
ROUTES: list[Route] = [
    _route(r"/api/register", {"GET": _registration, "POST": _register}),
    _route(r"/api/invitations", {"GET": _invitations, "POST": _create_invitation}),
    _route(r"/api/invitations/(?P<id>[0-9]{1,18})", {"DELETE": _revoke_invitation}),
    _route(r"/api/join/(?P<token>[^/]+)", {"GET": _look_at_invitation}),
    _route(r"/api/room-links/look", {"POST": operation("room_link", _token_body)}),
    _route(r"/api/room-links/join", {"POST": operation("join_link", _token_body)}),
    _route(r"/api/room-links/(?P<id>[0-9]{1,18})", {
        "DELETE": operation("revoke_room_link", _link_path),
    }),
    _route(r"/api/login", {"POST": _login}),
    _route(r"/api/logout", {"POST": _logout}),
    _route(r"/api/me", {"GET": _me}),
    _route(r"/api/me/dnd", {"PUT": operation("set_dnd", _body)}),
    _route(r"/api/me/profile", {"PUT": operation("set_profile", _body)}),
    _route(r"/api/me/read-receipts", {"PUT": operation("set_read_receipts", _body)}),
    _route(r"/api/me/email", {"GET": _get_email, "PUT": _put_email, "DELETE": _delete_email}),
    _route(r"/api/me/email-notifications", {"PUT": _email_notifications}),
    _route(r"/api/email/confirm", {"POST": _confirm_email_token}),
    _route(r"/api/me/export", {"GET": export_state, "POST": start_export}),
    _route(re.escape(DOWNLOAD_PATH), {"GET": download_export}),
    _route(r"/api/email/confirm/(?P<token>[^/]+)", {"GET": _confirm_email}),
    _route(r"/api/email/unsubscribe/(?P<token>[^/]+)", {
        "GET": _unsubscribe_page, "POST": _unsubscribe,
    }),
    _route(r"/api/password-reset", {"POST": _request_reset}),
    _route(r"/api/password-reset/complete", {"POST": _complete_reset}),
    _route(r"/api/password-reset/(?P<token>[^/]+)", {"POST": _reset_password}),
    _route(r"/api/me/keywords", {"GET": operation("keywords"),
                                 "PUT": operation("set_keywords", _body)}),
    _route(r"/api/me/drafts", {"GET": operation("drafts")}),
    _route(r"/api/me/drafts/(?P<room>[^/]+)", {
        "PUT": operation("set_draft", _draft_body),
        "DELETE": operation("set_draft", _draft_deletion),
    }),
    _route(r"/api/me/saved", {"GET": operation("saved_items", _saved_fields)}),
    _route(r"/api/me/saved/(?P<room>[^/]+)/(?P<msg_id>[0-9]{1,18})", {
        "PUT": operation("save", _save_body, shape=_saved_item), "DELETE": _unsave,
    }),
    _route(r"/api/me/reminders", {"GET": operation("reminders_set", _reminders_fields),
                                  "POST": operation("remind", _body, status=201)}),
    _route(r"/api/me/reminders/(?P<user>[^/]+)/(?P<msg_id>[0-9]{1,18})", {
        "DELETE": operation("cancel_reminder", _room_path),
    }),
    _route(r"/api/me/allow-reminders", {"GET": operation("allow_reminders"),
                                        "PUT": operation("allow_reminders", _on_body)}),
    _route(r"/api/me/scheduled", {
        "GET": operation("scheduled_items"),
        "POST": operation("schedule", _schedule_body, status=201),
    }),
    _route(r"/api/me/scheduled/(?P<item>[0-9]{1,18})", {
        "PATCH": operation("edit_scheduled", _scheduled_body), "DELETE": _unschedule,
    }),
    _route(r"/api/me/read", {"POST": operation("read_all", _body)}),
    _route(r"/api/me/threads", {"GET": operation("threads", _threads_fields)}),
    _route(r"/api/me/threads/(?P<room>[^/]+)/(?P<msg_id>[0-9]{1,18})/follow", {
        "PUT": operation("follow_thread", _follow_path(True)),
        "DELETE": operation("follow_thread", _follow_path(False)),
    }),
    _route(r"/api/me/threads/(?P<room>[^/]+)/(?P<msg_id>[0-9]{1,18})/read", {
        "PUT": operation("read_thread", _read_thread_body),
    }),
    _route(r"/api/me/avatar", {
        "PUT": Streaming(put_avatar, upload_limit), "DELETE": remove_avatar,
    }),
    _route(r"/api/avatars/(?P<sha256>[^/]+)", {"GET": get_avatar}),
    _route(r"/api/emoji", {
        "GET": operation("custom_emoji"), "POST": Streaming(add_emoji, emoji_limit),
    }),
    _route(r"/api/emoji/images/(?P<sha256>[^/]+)", {"GET": get_emoji_image}),
    _route(r"/api/emoji/(?P<name>[^/]+)", {"DELETE": remove_emoji}),
    _route(r"/api/users/(?P<name>[^/]+)", {"GET": _user_profile}),
    _route(r"/api/groups", {
        "GET": operation("user_groups"),
        "POST": operation("create_user_group", _body, status=201),
    }),
    _route(r"/api/groups/(?P<name>[^/]+)", {
        "GET": operation("user_group", _room_path),
        "PATCH": operation("edit_user_group", _room_body),
        "DELETE": operation("delete_user_group", _room_path),
    }),
    # for bots and scripts: the socket's dm (to a name, or an array of names: a group
    # conversation), answered after the commit as the socket acknowledges it
    _route(r"/api/dm", {"POST": operation("dm", _body)}),
    _route(r"/api/rooms", {
        "GET": operation("rooms", _rooms_fields),
        "POST": operation("create_room", _body, status=201),
    }),
    _route(r"/api/rooms/(?P<room>[^/]+)/links", {
        "GET": operation("room_links", _page_fields), "POST": _create_room_link,
    }),
    _route(r"/api/rooms/(?P<room>[^/]+)/messages", {
        "GET": operation("history", _history_fields),
        "POST": operation("send", _room_body),
    }),
    _route(r"/api/rooms/(?P<room>[^/]+)/messages/(?P<msg_id>[0-9]{1,18})", {
        "DELETE": operation("delete", _room_path),
    }),
    _route(r"/api/rooms/(?P<room>[^/]+)/messages/(?P<msg_id>[0-9]{1,18})/preview", {
        "DELETE": operation("remove_preview", _room_path),
    }),
    _route(r"/api/rooms/(?P<room>[^/]+)/messages/(?P<msg_id>[0-9]{1,18})/receipts", {
        "GET": operation("receipts", _receipts_fields),
    }),
    _route(r"/api/rooms/(?P<room>[^/]+)/messages/(?P<msg_id>[0-9]{1,18})/vote", {
        "PUT": operation("vote", _message_body),
    }),
    _route(r"/api/rooms/(?P<room>[^/]+)/messages/(?P<msg_id>[0-9]{1,18})/close-poll", {
        "POST": operation("close_poll", _room_path),
    }),
    # the socket's forward, answered after the commit (201: a new message of the target)
    _route(r"/api/rooms/(?P<room>[^/]+)/messages/(?P<msg_id>[0-9]{1,18})/forward", {
        "POST": operation("forward", _message_body, status=201),
    }),
    _route(r"/api/rooms/(?P<room>[^/]+)/notify", {
        "PUT": operation("set_notify", _room_body),
    }),
    _route(r"/api/rooms/(?P<room>[^/]+)/hidden", {
        "PUT": operation("hide", _hide_path(True)),
        "DELETE": operation("hide", _hide_path(False)),
    }),
    _route(r"/api/rooms/(?P<room>[^/]+)/favourite", {
        "PUT": operation("favourite", _favourite_path(True)),
        "DELETE": operation("favourite", _favourite_path(False)),
    }),
    _route(r"/api/rooms/(?P<room>[^/]+)/section", {
        "PUT": operation("set_section", _section_body),
        "DELETE": operation("set_section", _no_section),
    }),
    _route(r"/api/sections", {
        "GET": operation("sections"),
        "POST": operation("create_section", _body, status=201),
    }),
    _route(r"/api/sections/(?P<section>[0-9]{1,18})", {
        "PATCH": operation("edit_section", _sections_body),
        "DELETE": operation("delete_section", _sections_path),
    }),
    _route(r"/api/rooms/(?P<room>[^/]+)/topic", {
        "PUT": operation("set_topic", _topic_body),
    }),
    _route(r"/api/rooms/(?P<room>[^/]+)/archived", {
        "PUT": operation("archive", _room_body),
    }),
    _route(r"/api/rooms/(?P<room>[^/]+)/members/(?P<user>[^/]+)", {
        "DELETE": operation("kick", _room_body),
    }),
    _route(r"/api/rooms/(?P<room>[^/]+)/members/(?P<user>[^/]+)/role", {
        "PUT": operation("set_role", _room_body),
    }),
    _route(r"/api/rooms/(?P<room>[^/]+)/bans", {
        "GET": operation("bans", _room_path),
        "POST": operation("ban", _room_body),
    }),
    _route(r"/api/rooms/(?P<room>[^/]+)/bans/(?P<user>[^/]+)", {
        "DELETE": operation("unban", _room_path),
    }),
    _route(r"/api/rooms/(?P<room>[^/]+)/audit", {
        "GET": operation("audit", _page_fields),
    }),
    _route(r"/api/rooms/(?P<room>[^/]+)/pins", {"GET": operation("pins", _page_fields)}),
    _route(r"/api/rooms/(?P<room>[^/]+)/receipts", {"GET": operation("receipts", _room_path)}),
    _route(r"/api/rooms/(?P<room>[^/]+)/pins/(?P<msg_id>[0-9]{1,18})", {
        "PUT": operation("pin", _pin_path(True)), "DELETE": operation("pin", _pin_path(False)),
    }),
    _route(r"/api/rooms/(?P<room>[^/]+)/threads/(?P<msg_id>[0-9]{1,18})", {
        "GET": operation("thread", _page_fields),
    }),
    _route(r"/api/rooms/(?P<room>[^/]+)/messages/(?P<msg_id>[0-9]{1,18})/edits", {
        "GET": operation("edit_history", _room_path),
    }),
    _route(r"/api/search", {"GET": operation("search", _search_fields)}),
    _route(r"/api/rooms/(?P<room>[^/]+)/files", {
        "POST": Streaming(upload, upload_limit),
    }),
    _route(r"/api/rooms/(?P<room>[^/]+)/hooks", {"GET": _hooks, "POST": _create_hook}),
    _route(r"/api/rooms/(?P<room>[^/]+)/hooks/(?P<id>[0-9]{1,18})", {"DELETE": _delete_hook}),
    _route(r"/api/rooms/(?P<room>[^/]+)/webhook", {
        "GET": _webhook, "PUT": _set_webhook, "DELETE": _delete_webhook,
    }),
    _route(r"/api/hooks/(?P<secret>[A-Za-z0-9_-]{1,128})", {"POST": _post_to_hook}),
    _route(r"/api/bots", {"GET": _bots, "POST": _create_bot}),
    _route(r"/api/bots/(?P<name>[^/]+)/tokens", {"POST": _new_bot_token}),
    _route(r"/api/bots/(?P<name>[^/]+)/tokens/(?P<id>[0-9]{1,18})", {
        "DELETE": _revoke_bot_token,
    }),
    _route(r"/api/files/links", {"POST": links}),
    _route(r"/api/files/(?P<id>[0-9]{1,18})/(?P<name>[^/]*)", {"GET": download}),
    _route(r"/api/thumbnails/(?P<id>[0-9]{1,18})", {"GET": thumbnail}),
    _route(r"/api/admin/users", {"GET": _admin_users}),
    _route(r"/api/admin/users/(?P<name>[^/]+)/deactivate", {"POST": _deactivation(True)}),
    _route(r"/api/admin/users/(?P<name>[^/]+)/reactivate", {"POST": _deactivation(False)}),
    _route(r"/api/admin/users/(?P<name>[^/]+)/password", {"POST": _admin_password}),
    _route(r"/api/admin/users/(?P<name>[^/]+)/admin", {"POST": _admin_flag}),
    _route(r"/api/admin/rooms", {"GET": _admin_rooms}),
    _route(r"/api/admin/rooms/(?P<room>[^/]+)", {"DELETE": _admin_delete_room}),
    _route(r"/api/admin/stats", {"GET": _admin_stats}),
    _route(r"/api/admin/audit", {"GET": _admin_audit}),
    _route(r"/api/push/key", {"GET": _push_key}),
    _route(r"/api/push/subscriptions", {"POST": _push_subscribe, "DELETE": _push_unsubscribe}),
    _route(r"/api/contacts", {
        "GET": operation("contacts", _contacts_fields),
        "POST": operation("add_contact", _body, status=201,
                          shape=lambda contact: {"contact": contact}),
    }),
    _route(r"/api/contacts/(?P<user>[^/]+)", {
        "DELETE": operation("remove_contact", _contact_from_path, shape=lambda _: {}),
    }),
    _route(re.escape(OPENAPI_PATH), {"GET": _openapi}),
    _route(r"/healthz", {"GET": _healthz}, while_draining=True),
    _route(r"/metrics", {"GET": _metrics}),
    _route(r"/ws", {"GET": _ws_without_upgrade}),
]
_STATIC = Route(re.compile(""), {"GET": serve_static})


def _find(path: str) -> tuple[Route, dict[str, str]]:
    for route in ROUTES:
        match = route.pattern.fullmatch(path)
        if match:
            return route, match.groupdict()
    if path == "/api" or path.startswith("/api/"):
        raise ChatError(codes.NOT_FOUND, f"no such endpoint: {path}")
    return _STATIC, {}


def streaming_limit(request: Request, app: App) -> int | None:
    """The body limit of the :class:`Streaming` handler the request goes to, or None when it
    goes to a plain handler (or to none: a 404 or 405 reads the body whole first)."""
    try:
        route, _ = _find(request.path)
    except ChatError:
        return None
    handler = route.methods.get("GET" if request.method == "HEAD" else request.method)
    return handler.max_bytes(app.config) if isinstance(handler, Streaming) else None


async def dispatch(request: Request, app: App, body: RequestBody | None = None
                   ) -> Reply | FileReply:
    """The reply to one request; never raises (but for cancellation).

    Args:
        request: the request; its ``body`` is the whole body for a plain handler.
        app: the daemon's shared objects.
        body: the body to read, for a :class:`Streaming` handler (which gets
            ``request.body`` as a :class:`~chatd.http.messages.BytesBody` when it is None).
    """
    try:
        route, params = _find(request.path)
        method = "GET" if request.method == "HEAD" else request.method
        handler = route.methods.get(method)
        if handler is None:
            allowed = ", ".join(sorted({*route.methods,
                                        *(["HEAD"] if "GET" in route.methods else [])}))
            exc = ChatError(codes.METHOD_NOT_ALLOWED,
                            f"{request.method} is not allowed; use {allowed}")
            return error_reply(exc, headers=[(b"allow", allowed.encode())])
        if app.draining and not route.while_draining:
            return error_reply(ChatError(codes.SHUTTING_DOWN, "the server is shutting down"),
                               close=True)
        if isinstance(handler, Streaming):
            if body is None:
                body = BytesBody(request.body, max_bytes=handler.max_bytes(app.config))
            return await handler.handler(request, body, app, params)
        return await handler(request, app, params)
    except ChatError as exc:
        return error_reply(exc)
    except BodyError as exc:
        return exc.reply
    except StorageUnavailable as exc:
        log.warning("%s %s: storage unavailable: %r", request.method, request.path, exc)
        return error_reply(ChatError(codes.UNAVAILABLE, "the database is not available; try again"))
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        return error_reply(ChatError(codes.INTERNAL, "internal error"))

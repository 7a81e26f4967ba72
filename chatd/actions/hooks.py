"""Webhooks, over HTTP only: a room's incoming webhooks (made by a member for a bot they
manage; ``POST /api/hooks/{secret}`` posts into the room as the bot) and its outgoing webhook
(set by its owner; chatd.webhooks delivers the room's new messages to it).

An incoming webhook's URL holds a 32-byte random secret, shown once; storage keeps its
SHA-256. A post is a ``send`` by the hook's bot, checked by the protocol's own parser (the
same text limits), limited per hook (``[limits] hook_rate``) and per bot
(``[limits] user_send_rate``, as every user), and answered after its commit. An optional
``key`` makes it idempotent: a key is the message's nonce (derived from the hook and the
key), so a post retried with the same key is stored once and answered with the first
message.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Mapping
from typing import Any

from chatd.actions import messages, rooms
from chatd.actions.bots import may_manage
from chatd.actions.context import App, Bucket, Stateless, take_tokens
from chatd.actions.table import USER_SEND
from chatd.addresses import RefusedAddress, check_url, url_addresses
from chatd.auth import bot_token_hash
from chatd.errors import ChatError
from chatd.protocol import (
    InvalidName,
    Invite,
    RequestError,
    Send,
    codes,
    normalise_room,
    parse_request,
)
from chatd.protocol.events import is_storable
from chatd.storage import Hook, RoomWebhook, User

__all__ = [
    "HOOK",
    "HOOKS",
    "WEBHOOK_SETS",
    "create_hook",
    "delete_hook",
    "delete_webhook",
    "get_webhook",
    "hook_object",
    "list_hooks",
    "post",
    "set_webhook",
]

#: Posts per incoming webhook (``[limits] hook_rate``, ``hook_burst``): one bucket per hook,
#: held by :class:`App` like a user's (keyed by ``hook <id>``).
HOOK = Bucket("hook", lambda limits: (limits.hook_rate, limits.hook_burst),
              "this webhook posts too often; slow down", per_user=True)
#: New incoming webhooks per user: 20 at once, then 20 an hour.
HOOKS = Bucket("hooks", lambda limits: (20 / 3600, 20), "too many new webhooks; try again later",
               per_user=True)
#: Setting an outgoing webhook resolves a host the user names: 10 at once, then one a minute.
WEBHOOK_SETS = Bucket("webhook_sets", lambda limits: (1 / 60, 10),
                      "too many webhook changes; try again later", per_user=True)
#: The longest idempotency ``key`` of a post.
MAX_KEY_CHARS = 256
#: The longest secret an outgoing webhook may be given (at least MIN_SECRET_CHARS).
MAX_SECRET_CHARS = 256
MIN_SECRET_CHARS = 16
HOOK_PATH = "/api/hooks/"


def hook_object(hook: Hook) -> dict[str, Any]:
    """An incoming webhook as it is listed: never its URL, which only its creator saw."""
    return {"id": hook.id, "room": hook.room, "bot": hook.bot, "creator": hook.creator,
            "created_at": hook.created_at, "last_used_at": hook.last_used_at}


def _webhook_object(webhook: RoomWebhook, *, secret: bool = False) -> dict[str, Any]:
    found = {"room": webhook.room, "url": webhook.url, "set_by": webhook.set_by,
             "created_at": webhook.created_at}
    if secret:
        found["secret"] = webhook.secret
    return found


def _room(room: str) -> str:
    """A room name from a path, checked (and folded to lower case) as the protocol does."""
    try:
        return normalise_room(room)
    except InvalidName as exc:
        raise ChatError(codes.BAD_REQUEST, f"'room': {exc}") from None


async def create_hook(app: App, user: User, room: str, body: Mapping[str, Any]
                      ) -> dict[str, Any]:
    """An incoming webhook of ``room`` posting as ``body["bot"]``, a bot the user manages;
    the bot is invited into the room first (if it is not a member: it is announced like any
    invitation). Answers the hook's URL, shown this once.

    Raises:
        ChatError: ``bad_request``, ``not_found`` (no such room or bot), ``forbidden`` (not a
            member of the room, not the user's bot, a conversation), ``rate_limited``.
    """
    parsed = parse_request({"op": "invite", "id": None, "room": room, "user": body.get("bot")},
                           app.protocol_limits)
    if isinstance(parsed, RequestError):
        raise ChatError(parsed.code, parsed.message.replace("'user'", "'bot'"))
    assert isinstance(parsed, Invite)
    bot = await app.storage.get_bot(parsed.user)
    if bot is None:
        raise ChatError(codes.NOT_FOUND, f"there is no bot called {parsed.user!r}")
    if not await may_manage(app, user, bot):
        raise ChatError(codes.FORBIDDEN, f"{bot.user.name} is not your bot")
    app.take(HOOKS, user.name)
    await rooms.invite(app, Stateless(user), parsed)
    secret = secrets.token_urlsafe(32)
    hook = await app.storage.add_hook(user.id, parsed.room, bot.user.id, bot_token_hash(secret))
    return {"hook": hook_object(hook), "url": HOOK_PATH + secret}


async def list_hooks(app: App, user: User, room: str) -> dict[str, Any]:
    """The room's incoming webhooks the user manages: those they made, or all of them for
    the room's owner or an admin."""
    admin = await app.storage.is_admin(user.id)
    return {"hooks": [hook_object(hook)
                      for hook in await app.storage.hooks(user.id, _room(room), admin=admin)]}


async def delete_hook(app: App, user: User, room: str, hook_id: int) -> dict[str, Any]:
    """Delete an incoming webhook (its creator, the room's owner or an admin): its URL is
    404 from now on."""
    admin = await app.storage.is_admin(user.id)
    await app.storage.delete_hook(user.id, _room(room), hook_id, admin=admin)
    return {}


def _nonce(hook_id: int, key: object) -> str:
    """The message nonce of a post: from its ``key`` (the same key to the same hook, the same
    nonce: stored once), else a fresh one."""
    if key is None:
        return "hook:" + secrets.token_urlsafe(16)
    if not isinstance(key, str) or not 1 <= len(key) <= MAX_KEY_CHARS or not is_storable(key):
        raise ChatError(codes.BAD_REQUEST, f"'key' must be a string of 1-{MAX_KEY_CHARS} "
                        "characters")
    digest = hashlib.sha256(f"{hook_id}\0{key}".encode()).digest()
    return "hook:" + base64.urlsafe_b64encode(digest).decode().rstrip("=")


async def post(app: App, secret: str, body: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
    """Post ``body["text"]`` into the room of the webhook whose secret this is, as its bot;
    returns once it is committed: (201, what ``send`` answers), or (200, the first message)
    when ``body["key"]`` was posted already.

    Raises:
        ChatError: ``not_found`` (no such webhook), ``bad_request`` (the text as ``send``
            checks it, a bad key), ``rate_limited`` (the hook's rate, or its bot's),
            ``forbidden`` (the bot is no longer a member of the room).
    """
    target = await app.storage.find_hook(bot_token_hash(secret))
    if target is None:
        raise ChatError(codes.NOT_FOUND, "there is no such webhook")
    nonce = _nonce(target.id, body.get("key"))
    parsed = parse_request({"op": "send", "id": None, "room": target.room,
                            "text": body.get("text"), "nonce": nonce}, app.protocol_limits)
    if isinstance(parsed, RequestError):
        raise ChatError(parsed.code, parsed.message)
    assert isinstance(parsed, Send)
    try:
        take_tokens([(HOOK, app.user_bucket(HOOK, f"hook {target.id}")),
                     (USER_SEND, app.user_bucket(USER_SEND, target.bot.name))])
    except ChatError:
        app.metrics.rate_limited.labels("hook").inc()
        raise
    append = await messages.send(app, Stateless(target.bot), parsed)
    appended = await app.commit(append.message)
    m = appended.message
    return (200 if appended.duplicate else 201), {
        "room": m.room, "seq": m.seq, "msg_id": m.msg_id, "ts": m.ts,
        "duplicate": appended.duplicate,
    }


def _secret(body: Mapping[str, Any]) -> str:
    value = body.get("secret")
    if value is None:
        return secrets.token_urlsafe(32)
    if not isinstance(value, str) or not MIN_SECRET_CHARS <= len(value) <= MAX_SECRET_CHARS \
            or not value.isascii() or not value.isprintable():
        raise ChatError(codes.BAD_REQUEST, f"'secret' must be {MIN_SECRET_CHARS}-"
                        f"{MAX_SECRET_CHARS} printable ASCII characters (or left out: chatd "
                        "makes one)")
    return value


async def set_webhook(app: App, user: User, room: str, body: Mapping[str, Any]
                      ) -> dict[str, Any]:
    """Set the outgoing webhook of ``room`` (its owner or an admin): ``body["url"]`` (https,
    and its host's addresses public, unless ``[webhooks] allow_private_endpoints``) and
    ``body["secret"]`` (made when left out). Answers the webhook with its secret.

    Raises:
        ChatError: ``bad_request`` (a URL of the wrong form or that cannot be used, a bad
            secret), ``not_found``, ``forbidden`` (not the owner), ``rate_limited``.
    """
    name = _room(room)
    allow_private = app.config.webhooks.allow_private_endpoints
    url = body.get("url")
    try:
        check_url(url, "url", allow_http=allow_private, what="URL to post to")
    except ValueError as exc:
        raise ChatError(codes.BAD_REQUEST, str(exc)) from None
    assert isinstance(url, str)
    secret = _secret(body)
    app.take(WEBHOOK_SETS, user.name)
    try:
        await url_addresses(url, allow_private=allow_private)
    except RefusedAddress as exc:
        raise ChatError(codes.BAD_REQUEST, f"'url' cannot be used: {exc}") from None
    admin = await app.storage.is_admin(user.id)
    webhook = await app.storage.set_room_webhook(user.id, name, url, secret, admin=admin)
    if app.webhooks is not None:
        app.webhooks.touched()  # once stored: the sender may have known of no webhook at all
    return _webhook_object(webhook, secret=True)


async def get_webhook(app: App, user: User, room: str) -> dict[str, Any]:
    """The outgoing webhook of ``room``, without its secret (its owner or an admin).

    Raises:
        ChatError: ``not_found`` (no such room, or it has no webhook), ``forbidden``.
    """
    name = _room(room)
    admin = await app.storage.is_admin(user.id)
    webhook = await app.storage.room_webhook(user.id, name, admin=admin)
    if webhook is None:
        raise ChatError(codes.NOT_FOUND, f"{name!r} has no outgoing webhook")
    return _webhook_object(webhook)


async def delete_webhook(app: App, user: User, room: str) -> dict[str, Any]:
    """Remove the outgoing webhook of ``room`` (its owner or an admin); no error when it
    had none. Deliveries already queued still go."""
    name = _room(room)
    admin = await app.storage.is_admin(user.id)
    await app.storage.delete_room_webhook(user.id, name, admin=admin)
    return {}


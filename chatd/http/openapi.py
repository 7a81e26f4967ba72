"""The HTTP API described: the OpenAPI 3.1 document served at ``GET /api/openapi.json``.

Theory of operation
-------------------
The document is built here, in Python, from shared pieces: the JSON Schemas of the objects
both fronts send (a room, a message and the other entries of a room's log, a file, a user, a
contact), the JSON error body with its stable codes (:mod:`chatd.protocol.codes`) and one
response per error status, and then one operation per path and method of
:data:`chatd.http.routes.ROUTES`, which refers to those pieces. What depends on the settings
(the largest page of history, the shortest password, the largest upload...) is read from the
:class:`~chatd.config.Config` the daemon runs with: a daemon describes itself.

The objects the server sends are *open* in the served document (``additionalProperties`` is
left alone): the protocol lets a newer server add fields, and clients ignore the fields they
do not know. The tests build the document with ``closed=True``, in which every object the
server sends is closed, so that a field sent but not described fails them. Request bodies are
always open: the server ignores unknown fields.

What keeps it true (tests/http/test_openapi.py and tests/http/test_schemathesis.py): the
paths and methods described here are compared with the route table both ways, so a route
added without a description fails a test; the document is validated as OpenAPI 3.1; the
JSON examples of docs/protocol.md validate against the schemas; and schemathesis sends
generated requests to every operation of a real daemon and checks every answer against the
closed document.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from typing import Any

from chatd import __version__
from chatd.actions.admin import PAGE as ADMIN_PAGE
from chatd.actions.admin import PAGE_MAX as ADMIN_PAGE_MAX
from chatd.actions.bots import DEFAULT_TOKEN_NAME, MAX_TOKEN_NAME
from chatd.actions.hooks import MAX_KEY_CHARS, MAX_SECRET_CHARS, MIN_SECRET_CHARS
from chatd.actions.invitations import (
    DEFAULT_EXPIRES,
    LIST_PAGE,
    LIST_PAGE_MAX,
    MAX_EXPIRES,
    MAX_ROOMS,
    MAX_USES,
    MIN_EXPIRES,
)
from chatd.actions.moderation import AUDIT_PAGE
from chatd.addresses import MAX_URL_CHARS
from chatd.auth import MAX_PASSWORD_LENGTH
from chatd.config import Config
from chatd.files import MAX_NAME_CHARS
from chatd.http.links import MAX_LINKS
from chatd.protocol import (
    GROUP_MAX,
    LINK_DEFAULT_SECONDS,
    LINK_MAX_SECONDS,
    LINK_MAX_USES,
    LINK_MIN_SECONDS,
    LINKS_PAGE,
    LINKS_PAGE_MAX,
    MAX_LINK_TOKEN_CHARS,
    NOTIFY_LEVELS,
    ROLES,
    codes,
)
from chatd.protocol.events import (
    AUDIT_PAGE_MAX,
    MAX_BAN_SECONDS,
    MAX_DELETE_SECONDS,
    MAX_DND_SECONDS,
    MAX_FILES,
    MAX_POLL_OPTION_CHARS,
    MAX_QUERY_CHARS,
    MAX_READ_ALL_ROOMS,
    MAX_REASON_CHARS,
    MAX_SECTION_NAME_CHARS,
    MAX_SEQ,
    MAX_STATUS_SECONDS,
    MAX_TO_NAMES,
    MAX_TOPIC_CHARS,
    PINS_PAGE,
    PINS_PAGE_MAX,
    POLL_OPTIONS_MAX,
    POLL_OPTIONS_MIN,
    RECEIPTS_PAGE,
    SAVED_PAGE,
    SAVED_PAGE_MAX,
    SEARCH_PAGE,
    SEARCH_PAGE_MAX,
    THREAD_PAGE,
    THREAD_PAGE_MAX,
    THREADS_PAGE,
    THREADS_PAGE_MAX,
)
from chatd.protocol.keywords import MAX_KEYWORD_CHARS
from chatd.protocol.markup import MAX_EMOJI_CHARS
from chatd.protocol.profiles import MAX_DISPLAY_NAME_CHARS, MAX_STATUS_TEXT_CHARS
from chatd.protocol.user_groups import MAX_GROUP_DESCRIPTION_CHARS, MAX_GROUP_NAMES
from chatd.storage.base import EDIT_VERSIONS_MAX
from chatd.webpush import MAX_ENDPOINT_CHARS

__all__ = ["EXAMPLE_AVATAR", "OPENAPI_PATH", "OPENAPI_VERSION", "build_document", "route_template",
           "served_document"]

OPENAPI_VERSION = "3.1.0"
#: Where the daemon serves the document.
OPENAPI_PATH = "/api/openapi.json"

Schema = dict[str, Any]

#: The example picture's SHA-256 (a picture's url is named by its bytes).
EXAMPLE_AVATAR = "5f0c" + "7e" * 30

# The name rules of chatd.protocol.names, as JSON Schema patterns (ECMA-262, which Python's re
# reads the same way for these). Upper case is accepted where the server folds it.
USER_NAME = r"^[A-Za-z0-9_.-]{1,32}$"
ROOM_NAME = r"^[A-Za-z0-9_-]{1,64}$"
ROOM_OR_CONVERSATION = (r"^(?:[A-Za-z0-9_-]{1,64}"
                        r"|@[A-Za-z0-9_.-]{1,32}(?::[A-Za-z0-9_.-]{1,32}){1,7})$")
# Strings the server stores: no U+0000 (PostgreSQL text cannot hold it).
NO_NUL = r"^[^\u0000]*$"

_REF = "#/components/schemas/"

#: Every status the API answers with an error body, and the codes it can carry there.
ERROR_STATUSES: dict[int, tuple[str, ...]] = {
    400: (codes.BAD_REQUEST, codes.BAD_TOKEN),
    401: (codes.UNAUTHENTICATED,),
    403: (codes.FORBIDDEN, codes.DEACTIVATED, codes.REGISTRATION_CLOSED,
          codes.INVITATION_REQUIRED, codes.INVITATION_INVALID, codes.INVITATION_EXPIRED,
          codes.INVITATION_USED_UP, codes.INVITATION_REVOKED),
    404: (codes.NOT_FOUND,),
    405: (codes.METHOD_NOT_ALLOWED,),
    408: (codes.BAD_REQUEST,),
    409: (codes.CONFLICT, codes.ARCHIVED, codes.EMAIL_TAKEN, codes.EMAIL_DISABLED),
    413: (codes.TOO_LARGE,),
    416: (codes.BAD_REQUEST,),
    429: (codes.RATE_LIMITED,),
    431: (codes.TOO_LARGE,),
    500: (codes.INTERNAL,),
    503: (codes.UNAVAILABLE, codes.SHUTTING_DOWN),
}
# The name of each error status's shared response (components.responses).
_ERROR_NAMES = {
    400: "BadRequest", 401: "Unauthenticated", 403: "Forbidden", 404: "NotFound",
    405: "MethodNotAllowed", 408: "RequestTimeout", 409: "Conflict", 413: "TooLarge",
    416: "RangeNotSatisfiable", 429: "RateLimited", 431: "HeadTooLarge", 500: "Internal",
    503: "Unavailable",
}
_ERROR_MEANINGS = {
    400: "A field, parameter or body is missing, malformed or out of range; the message says "
         "which. A password reset link that does not work (unknown, used, expired) is "
         "`bad_token`.",
    401: "No Bearer token, or a malformed, forged, expired or revoked one (or, logging in, a "
         "wrong name or password).",
    403: "The user may not do this (a private room or conversation they are not in, a room "
         "they are banned from, moderation without the right to, an admin route for anyone "
         "but an administrator), or a signed link is bad, tampered with or expired; logging "
         "in, the account is deactivated (`deactivated`); registering, the server takes no "
         "registrations (`registration_closed`) or only with an invitation "
         "(`invitation_required`), or the invitation given does not work "
         "(`invitation_invalid`, `invitation_expired`, `invitation_used_up`, "
         "`invitation_revoked`).",
    404: "No such room, user, file or path, or one the user may not see.",
    405: "The method is not allowed on this path; `Allow` lists those that are.",
    408: "The request took longer than `http.request_timeout` to arrive (or its body stalled "
         "for `http.body_idle_timeout`); the connection closes.",
    409: "The name is taken (`conflict`), or the room is archived: read-only until it is "
         "unarchived (`archived`); another account confirmed the email address "
         "(`email_taken`), or the server sends no email (`email_disabled`).",
    413: "The body is over its limit (`http.max_body_bytes`; an upload: `files.max_bytes` or "
         "what is left of the user's `files.quota_bytes`).",
    416: "No range of the `Range` header is within the file.",
    429: "Too many requests; `Retry-After` (seconds) and `retry_after` (ms) say when to try "
         "again.",
    431: "The request head is over `http.max_header_bytes`.",
    500: "A bug in the server; the request may or may not have taken effect.",
    503: "The database or the file store cannot be reached (`unavailable`), or the server is "
         "stopping (`shutting_down`); retry after `Retry-After` seconds.",
}


def route_template(pattern: str) -> str:
    """The OpenAPI path template of a route's regular expression: each named group becomes
    ``{name}`` (``/api/rooms/(?P<room>[^/]+)/messages`` is ``/api/rooms/{room}/messages``).

    Raises:
        ValueError: the pattern holds regular-expression syntax other than named groups of
            a character class with an optional repeat (a template cannot say it).
    """
    template = re.sub(r"\(\?P<(\w+)>\[[^\]]*\](?:[*+]|\{\d+(?:,\d*)?\})?\)", r"{\1}", pattern)
    if re.search(r"(?<!\\)[.()\[\]*+?|^$]", template):
        raise ValueError(f"the route {pattern!r} is not a plain path with named parameters")
    return re.sub(r"\\([^A-Za-z0-9])", r"\1", template)


def _ref(name: str) -> Schema:
    return {"$ref": _REF + name}


def _response_ref(status: int) -> Schema:
    return {"$ref": f"#/components/responses/{_ERROR_NAMES[status]}"}


def _json(schema: Schema, example: Any = None) -> dict[str, Any]:
    media: dict[str, Any] = {"schema": schema}
    if example is not None:
        media["example"] = example
    return {"application/json": media}


#: The answer of a close or a show of a conversation (``hide``).
_HIDDEN: Schema = {
    "room": {"type": "string"},
    "hidden_seq": {"type": ["integer", "null"], "minimum": 0,
                   "description": "The room's last_seq when closed; null: shown."},
}

#: The answer of a mark or an unmark of a favourite (``favourite``).
_FAVOURITE: Schema = {
    "room": {"type": "string"},
    "favourite": {"type": "boolean", "description": "Whether it is a favourite now."},
}

#: The answer of a move of a room into a section, or out of one (``set_section``).
_SECTION_OF_ROOM: Schema = {
    "room": {"type": "string"},
    "section": {"type": ["integer", "null"], "minimum": 1,
                "description": "The id of the user's section it is in now; null: the default "
                               "lists."},
}

#: The body of a follow or an unfollow of a thread (``follow_thread``).
_THREAD_FOLLOW: dict[str, Any] = {
    "room": {"type": "string"}, "msg_id": {"type": "integer"},
    "following": {"type": "boolean"}, "unchanged": {"type": "boolean"},
}

class _Builder:
    """The document's pieces for one configuration. ``closed``: objects the server sends
    allow no field that is not described (the tests' strict reading)."""

    def __init__(self, config: Config, *, closed: bool) -> None:
        self.config = config
        self.closed = closed

    # -- schema helpers ----------------------------------------------------------------------

    def sent(self, properties: dict[str, Schema], required: list[str] | None = None,
             **extra: Any) -> Schema:
        """An object the server sends: every listed field required unless ``required``
        names them."""
        schema: Schema = {"type": "object", "properties": properties,
                          "required": list(properties) if required is None else required,
                          **extra}
        if self.closed:
            schema["additionalProperties"] = False
        return schema

    @staticmethod
    def body(properties: dict[str, Schema], required: list[str], **extra: Any) -> Schema:
        """A request body: a JSON object whose unknown fields are ignored."""
        schema: Schema = {"type": "object", "properties": properties, **extra}
        if required:
            schema["required"] = required
        return schema

    # -- components ----------------------------------------------------------------------------

    def schemas(self) -> dict[str, Schema]:
        seq: Schema = {"type": "integer", "minimum": 0, "maximum": MAX_SEQ}
        ms: Schema = {"type": "integer", "minimum": 0,
                      "description": "Milliseconds since the Unix epoch (UTC)."}
        nullable_ms: Schema = {"type": ["integer", "null"], "minimum": 0}
        names: Schema = {"type": "array", "items": {"type": "string"}}
        group: Schema = {"enum": ["room", "here"],
                         "description": "The group the text mentions: every member (@room, "
                                        "@all, @everyone) or those online (not away) when "
                                        "it was sent (@here)."}
        user_groups: Schema = {"type": "array", "items": {"type": "string"},
                               "description": "The user groups the text mentions (@backend), "
                                              "lower case, sorted."}
        entry_base: dict[str, Schema] = {
            "room": {"type": "string", "description": "The room, or the conversation's `@a:b`."},
            "seq": {**seq, "minimum": 1, "description": "The entry's place in the room's log."},
        }
        message: dict[str, Schema] = {
            "op": {"const": "message"},
            **entry_base,
            "msg_id": {"type": "integer", "minimum": 1},
            "from": {"type": "string", "description": "The sender, as registered."},
            "text": {"type": "string"},
            "ts": ms,
            "nonce": {"type": "string"},
            "rev": {**seq, "description": "The seq of the last entry that changed "
                                          "it."},
            "edited_ts": ms,
            "deleted": {"const": True},
            "reactions": {"type": "array", "items": self.sent(
                {"emoji": {"type": "string"}, "users": names})},
            "reply_to": {"type": "integer", "minimum": 1},
            "quote": {"oneOf": [
                self.sent({"from": {"type": "string"}, "text": {"type": "string"}}),
                self.sent({"deleted": {"const": True}}),
            ]},
            "mentions": names,
            "group": group,
            "user_groups": user_groups,
            "files": {"type": "array", "items": _ref("File")},
            "pinned": self.sent(
                {"by": {"type": "string", "description": "Who pinned it, as registered."},
                 "ts": ms,
                 "seq": {**seq, "minimum": 1,
                         "description": "The `pinned` entry that pinned it (what the pins "
                                        "page by)."}},
                description="While the message is pinned."),
            "previews": {"type": "array", "maxItems": 1, "items": _ref("Preview"),
                         "description": "The preview of the text's first link, if the "
                                        "server made one."},
            "thread": {"type": "integer", "minimum": 1,
                       "description": "A thread reply: the `msg_id` of the thread's root."},
            "broadcast": {"const": True,
                          "description": "A thread reply also sent to the room's timeline."},
            "replies": self.sent(
                {"count": {"type": "integer", "minimum": 1,
                           "description": "Replies ever posted, tombstones included."},
                 "last_ts": ms,
                 "users": {**names, "maxItems": 5,
                           "description": "Up to 5 distinct latest repliers, newest first."}},
                description="A thread's root, once it has a reply."),
            "poll": _ref("Poll"),
            "forwarded": self.sent(
                {"from": {"type": "string", "description": "The forwarded message's "
                                                           "author, as registered."},
                 "ts": ms, "text": {"type": "string",
                                    "description": "Its text when it was forwarded."},
                 "room": {"type": ["string", "null"],
                          "description": "Its room: only a public room's name, else null."},
                 "seq": {"type": ["integer", "null"], "minimum": 1,
                         "description": "Its seq: only in a public room, else null."}},
                required=["from", "ts", "text", "room", "seq"],
                description="A forward (its `text` is the forwarder's comment): what it "
                            "forwards."),
        }
        preview: dict[str, Schema] = {
            "url": {"type": "string", "description": "The link, as the text has it."},
            "title": {"type": "string", "minLength": 1, "maxLength": 200},
            "description": {"type": "string", "maxLength": 300},
            "site": {"type": "string", "maxLength": 80},
            "image": self.sent(
                {"id": {"type": "integer", "minimum": 1},
                 "thumbnail_url": {"type": "string", "pattern": r"^/api/thumbnails/[0-9]+$"},
                 "width": {"type": "integer", "minimum": 1},
                 "height": {"type": "integer", "minimum": 1}},
                description="The page's picture, as a thumbnail chatd serves (a file id "
                            "for signed links)."),
        }
        message_required = ["op", "room", "seq", "msg_id", "from", "text", "ts", "nonce"]
        display_name: Schema = {"type": ["string", "null"], "minLength": 1,
                                "maxLength": MAX_DISPLAY_NAME_CHARS,
                                "description": "The name to show next to the login name; "
                                               "null: none."}
        custom_status: Schema = {"anyOf": [_ref("CustomStatus"), {"type": "null"}],
                                 "description": "Null: none (or it ended)."}
        avatar: Schema = {"anyOf": [_ref("Avatar"), {"type": "null"}],
                          "description": "The user's picture; null: none."}
        return {
            "UserName": {"type": "string", "pattern": USER_NAME,
                         "description": "1-32 of `A-Z a-z 0-9 _ . -`; unique regardless of "
                                        "case, given in any case."},
            "RoomName": {"type": "string", "pattern": ROOM_NAME,
                         "description": "1-64 of `a-z 0-9 _ -`; upper case is folded to "
                                        "lower case."},
            "RoomOrConversation": {
                "type": "string", "pattern": ROOM_OR_CONVERSATION,
                "description": "A room name, or a conversation's: a 1:1's `@a:b` (the two "
                               "user names in lower case, sorted by code point), a group "
                               "conversation's `@a:b:c` (its 3 to 8 people's names in lower "
                               "case, strictly increasing by code point). Another order, a "
                               "name twice in a group, or more than 8 is `bad_request`.",
            },
            "NotifyLevel": {"type": "string", "enum": list(NOTIFY_LEVELS),
                            "description": "`all`: every message; `mentions`: messages that "
                                           "mention the user (and every direct message); "
                                           "`none`: nothing."},
            "Error": self.sent(
                {
                    "code": {"type": "string", "enum": sorted(codes.HTTP_STATUS),
                             "description": "A stable code; branch on it."},
                    "message": {"type": "string", "description": "For a person; may change."},
                    "retry_after": {"type": "integer", "minimum": 0,
                                    "description": "With `rate_limited`: ms to wait."},
                },
                required=["code", "message"],
                examples=[{"code": "forbidden", "message": "room 'staff' is private"}],
            ),
            "User": self.sent({"id": {"type": "integer", "minimum": 1},
                               "name": {"type": "string",
                                        "description": "As registered."},
                               "admin": {"type": "boolean",
                                         "description": "A server administrator."},
                               "dnd_until": {**nullable_ms, "description":
                                             "Until when the user's notifications are "
                                             "paused (`PUT /api/me/dnd`); null: they are "
                                             "not."},
                               "read_receipts": {"type": "boolean", "description":
                                                 "Whether the user shares their read "
                                                 "receipts (`PUT /api/me/read-receipts`)."},
                               "display_name": display_name,
                               "custom_status": custom_status,
                               "avatar": avatar},
                              examples=[{"id": 7, "name": "ann", "admin": False,
                                         "dnd_until": None, "read_receipts": True,
                                         "display_name": "Ann Lee",
                                         "custom_status": None, "avatar": None}]),
            "Avatar": self.sent(
                {"url": {"type": "string", "pattern": "^/api/avatars/[0-9a-f]{64}$",
                         "description": "Its bytes (`GET /api/avatars/{sha256}`): no token "
                                        "needed; a new picture is a new url."}},
                description="A profile picture: 256x256 WebP.",
                examples=[{"url": f"/api/avatars/{EXAMPLE_AVATAR}"}]),
            "CustomEmoji": self.sent(
                {"name": {"type": "string", "pattern": "^[a-z0-9_+-]{1,32}$",
                          "description": "Written `:name:` in text and reactions."},
                 "url": {"type": "string", "pattern": "^/api/emoji/images/[0-9a-f]{64}$",
                         "description": "Its picture (`GET /api/emoji/images/{sha256}`): no "
                                        "token needed."},
                 "by": {"type": "string", "description": "Who added it."},
                 "ts": {"type": "integer", "description": "When (ms)."}},
                description="A custom emoji: a WebP that fits 128x128.",
                examples=[{"name": "partyparrot",
                           "url": f"/api/emoji/images/{EXAMPLE_AVATAR}", "by": "ann",
                           "ts": 1700000000000}]),
            "Section": self.sent(
                {"id": {"type": "integer", "minimum": 1,
                        "description": "Never reused; what the room object's `section` "
                                       "names."},
                 "name": {"type": "string", "minLength": 1,
                          "maxLength": MAX_SECTION_NAME_CHARS,
                          "description": "Trimmed; no other section of the user's has it, "
                                         "in any case."},
                 "collapsed": {"type": "boolean",
                               "description": "Show only its rooms with something unread."}},
                description="One of the user's own sidebar sections: a named group of the "
                            "rooms and conversations they are in.",
                examples=[{"id": 7, "name": "Work", "collapsed": False}]),
            "Draft": self.sent(
                {"room": _ref("RoomOrConversation"),
                 "thread": {"type": "integer", "minimum": 1,
                            "description": "The msg_id of the thread's root, for a draft of a "
                                           "reply in a thread; absent: the room's own box."},
                 "text": {"type": "string",
                          "description": "What was typed; empty: the draft is gone."},
                 "updated_at": {"type": "integer",
                                "description": "When it was stored (ms since the epoch, the "
                                               "server's clock): the newer copy wins."}},
                ["room", "text", "updated_at"],
                description="A draft of the user's: the half-typed message of a room or "
                            "thread, on every device of theirs.",
                examples=[{"room": "general", "text": "I think we shoul",
                           "updated_at": 1700000000000}]),
            "UserGroup": self.sent(
                {"name": _ref("UserGroupName"),
                 "description": {"type": "string", "maxLength": MAX_GROUP_DESCRIPTION_CHARS},
                 "members": {"type": "integer", "minimum": 0, "description": "How many."},
                 "by": {"type": ["string", "null"],
                        "description": "Who created it (null once that account is gone)."},
                 "ts": {**ms, "description": "When it was created (ms)."}},
                description="A user group: `@name` in a room's message mentions its "
                            "members in the room.",
                examples=[{"name": "backend", "description": "Server people", "members": 3,
                           "by": "ann", "ts": 1700000000000}]),
            "UserGroupListed": self.sent(
                {"name": _ref("UserGroupName"),
                 "description": {"type": "string", "maxLength": MAX_GROUP_DESCRIPTION_CHARS},
                 "members": {"type": "integer", "minimum": 0},
                 "by": {"type": ["string", "null"]}, "ts": ms,
                 "you": {"type": "boolean", "description": "Whether the user is a member."}},
                description="A user group in the list, with `you`."),
            "UserGroupName": {"type": "string", "pattern": "^[a-z0-9_.-]{1,32}$",
                              "description": "1-32 of a-z 0-9 _ . - (upper case accepted in "
                                             "requests and folded); not all, everyone, here "
                                             "or room; never a user's name."},
            "CustomStatus": self.sent(
                {"emoji": {"type": "string", "description": "One emoji; \"\": none."},
                 "text": {"type": "string", "maxLength": MAX_STATUS_TEXT_CHARS,
                          "description": "\"\": none (never both empty)."},
                 "until": {**nullable_ms, "description": "When it ends by itself; null: "
                                                         "when cleared."}},
                description="A custom status in force (one past its `until` is none).",
                examples=[{"emoji": "📅", "text": "In a meeting", "until": 1767229200000}]),
            "Profile": self.sent(
                {"user": {"type": "string", "description": "As registered."},
                 "display_name": display_name,
                 "custom_status": custom_status,
                 "avatar": avatar,
                 "deactivated": {"const": True, "description": "Only for a deactivated "
                                                               "account."}},
                required=["user", "display_name", "custom_status", "avatar"],
                description="How a user shows themselves to others.",
                examples=[{"user": "ann", "display_name": "Ann Lee",
                           "custom_status": {"emoji": "🌴", "text": "On holiday",
                                             "until": None},
                           "avatar": {"url": f"/api/avatars/{EXAMPLE_AVATAR}"}}]),
            "Role": {"type": "string", "enum": list(ROLES),
                     "description": "A member's role in a room: the owner (one per room), "
                                    "a moderator, a member."},
            "AdminUser": self.sent(
                {
                    "id": {"type": "integer", "minimum": 1},
                    "name": {"type": "string", "description": "As registered."},
                    "created_at": ms,
                    "admin": {"type": "boolean"},
                    "deactivated": {"type": "boolean"},
                    "deactivated_at": {**nullable_ms, "description": "Null while active."},
                    "bot": {"type": "boolean", "description": "A bot account (API tokens "
                                                              "only)."},
                },
                description="A user as administrators see them.",
                examples=[{"id": 7, "name": "ann", "created_at": 1767225600000,
                           "admin": False, "deactivated": False, "deactivated_at": None,
                           "bot": False}],
            ),
            "AdminRoom": self.sent(
                {
                    "room": {"type": "string"},
                    "private": {"type": "boolean"},
                    "topic": {"type": "string", "maxLength": MAX_TOPIC_CHARS},
                    "owner": {"type": ["string", "null"],
                              "description": "Null once that account is gone."},
                    "owner_deactivated": {"type": "boolean"},
                    "members": {"type": "integer", "minimum": 0},
                    "last_seq": seq,
                    "created_at": ms,
                    "archived": {"type": "boolean", "description": "Read-only until "
                                                                   "unarchived."},
                },
                description="A room (never a conversation) as administrators see it.",
                examples=[{"room": "general", "private": False, "topic": "", "owner": "ann",
                           "owner_deactivated": False, "members": 12, "last_seq": 420,
                           "created_at": 1767225600000, "archived": False}],
            ),
            "Ban": self.sent(
                {
                    "user": {"type": "string", "description": "As registered."},
                    "by": {"type": ["string", "null"],
                           "description": "Null once that account is gone."},
                    "reason": {"type": "string", "maxLength": MAX_REASON_CHARS},
                    "ts": ms,
                    "expires_at": {**nullable_ms, "description": "Null: until lifted."},
                },
                description="A ban in force.",
                examples=[{"user": "eve", "by": "ann", "reason": "spam", "ts": 1767225600000,
                           "expires_at": None}],
            ),
            "AuditEntry": self.sent(
                {
                    "id": {"type": "integer", "minimum": 1},
                    "ts": ms,
                    "actor": {"type": ["string", "null"],
                              "description": "Null: the `chatd` command line."},
                    "action": {"type": "string", "enum": [
                        "set_role", "ban", "unban", "kick", "delete", "purge", "set_topic",
                        "archive", "unarchive", "delete_room",
                        "deactivate", "reactivate", "set_password", "admin",
                        "create_invitation", "revoke_invitation", "export",
                        "create_room_link", "revoke_room_link", "join_link"]},
                    "target": {"type": ["string", "null"]},
                    "room": {"type": ["string", "null"]},
                    "reason": {"type": "string"},
                    "details": {"type": "object"},
                },
                description="A moderation or admin action, as the audit log keeps it.",
                examples=[{"id": 41, "ts": 1767225600000, "actor": "ann", "action": "ban",
                           "target": "eve", "room": "general", "reason": "spam",
                           "details": {"expires_at": None, "seq": 88}}],
            ),
            "Contact": self.sent(
                {"user": {"type": "string", "description": "As registered."},
                 "status": {"type": "string", "enum": ["online", "away", "offline"],
                            "description": "`away`: connected, every connection idle."},
                 "display_name": {**display_name, "type": "string",
                                  "description": "Only when they have one (not in the "
                                                 "welcome's or `GET /api/me`'s)."},
                 "custom_status": {**_ref("CustomStatus"),
                                   "description": "Only when they have one in force (not "
                                                  "in the welcome's or `GET /api/me`'s)."},
                 "avatar": {**_ref("Avatar"),
                            "description": "Only when they have one (not in the welcome's "
                                           "or `GET /api/me`'s)."}},
                required=["user", "status"],
                examples=[{"user": "Bob", "status": "online"},
                          {"user": "Cy", "status": "offline", "display_name": "Cy Young"}]),
            "Room": self.sent(
                {
                    "room": {"type": "string",
                             "description": "Lower case; a 1:1 conversation's `@a:b`, a "
                                            "group conversation's `@a:b:c`."},
                    "kind": {"type": "string", "enum": ["room", "dm", "group"],
                             "description": "`dm`: a 1:1 conversation; `group`: a group "
                                            "conversation (3 to 8 people)."},
                    "private": {"type": "boolean"},
                    "topic": {"type": "string", "maxLength": MAX_TOPIC_CHARS},
                    "owner": {"type": ["string", "null"],
                              "description": "Null for a conversation."},
                    "last_seq": seq,
                    "member": {"type": "boolean"},
                    "read_seq": seq,
                    "unread": {"type": "integer", "minimum": 0, "maximum": 999},
                    "mentions": {"type": "integer", "minimum": 0, "maximum": 999},
                    "notify": _ref("NotifyLevel"),
                    "role": {"anyOf": [_ref("Role"), {"type": "null"}],
                             "description": "The user's role in it; null when not a "
                                            "member."},
                    "archived": {"type": "boolean",
                                 "description": "Read-only until unarchived (never a "
                                                "conversation)."},
                    "peer": {"type": "string",
                             "description": "Only for kind `dm`: the other user, as "
                                            "registered."},
                    "peers": {"type": "array", "items": {"type": "string"},
                              "minItems": 2, "maxItems": GROUP_MAX - 1,
                              "description": "Only for kind `group`: the other members, as "
                                             "registered, sorted ignoring case."},
                    "pins": {"type": "integer", "minimum": 1,
                             "description": "How many of its messages are pinned; left out "
                                            "when none are."},
                    "hidden_seq": {**seq, "description":
                                   "Only while the user has closed the conversation: its "
                                   "`last_seq` then. Shown again once `last_seq` passes it."},
                    "favourite": {"type": "boolean", "description":
                                  "Whether the user marked it a favourite (theirs alone)."},
                    "favourite_at": {"type": "integer", "minimum": 0, "description":
                                     "Only while it is a favourite: when the user marked it "
                                     "(ms since the epoch); list favourites in this order."},
                    "section": {"type": ["integer", "null"], "minimum": 1, "description":
                                "The id of the user's own section it is in (theirs alone); "
                                "null: the default lists, and when not a member."},
                },
                required=["room", "kind", "private", "topic", "owner", "last_seq", "member",
                          "read_seq", "unread", "mentions", "notify", "role", "archived",
                          "favourite", "section"],
                description="A room or conversation as the asking user sees it.",
                # `peer` is there for a 1:1 conversation, `peers` for a group one, and
                # only then.
                allOf=[{"if": {"properties": {"kind": {"const": "dm"}}},
                        "then": {"required": ["peer"]},
                        "else": {"not": {"required": ["peer"]}}},
                       {"if": {"properties": {"kind": {"const": "group"}}},
                        "then": {"required": ["peers"]},
                        "else": {"not": {"required": ["peers"]}}}],
                examples=[{"room": "@ann:bob", "kind": "dm", "private": True, "topic": "",
                           "owner": None, "last_seq": 17, "member": True, "read_seq": 15,
                           "unread": 2, "mentions": 0, "notify": "all", "role": "member",
                           "archived": False, "peer": "Bob", "favourite": False,
                           "section": 7},
                          {"room": "@ann:bob:cy", "kind": "group", "private": True,
                           "topic": "", "owner": None, "last_seq": 4, "member": True,
                           "read_seq": 4, "unread": 0, "mentions": 0, "notify": "all",
                           "role": "member", "archived": False, "peers": ["Bob", "Cy"],
                           "hidden_seq": 4, "favourite": True,
                           "favourite_at": 1796000000000, "section": None}],
            ),
            "File": self.sent(
                {
                    "id": {"type": "integer", "minimum": 1},
                    "name": {"type": "string", "minLength": 1, "maxLength": MAX_NAME_CHARS},
                    "size": {"type": "integer", "minimum": 0},
                    "content_type": {"type": "string"},
                    "url": {"type": "string", "pattern": r"^/api/files/[0-9]+/",
                            "description": "`GET` with the Bearer token."},
                    "thumbnail_url": {"type": ["string", "null"],
                                      "pattern": r"^/api/thumbnails/[0-9]+$",
                                      "description": "Null unless an image."},
                    "width": {"type": ["integer", "null"], "minimum": 1},
                    "height": {"type": ["integer", "null"], "minimum": 1},
                },
                description="An uploaded file.",
                examples=[{"id": 7, "name": "screenshot.png", "size": 48213,
                           "content_type": "image/png", "url": "/api/files/7/screenshot.png",
                           "thumbnail_url": "/api/thumbnails/7", "width": 1280,
                           "height": 800}],
            ),
            "Message": self.sent(
                message,
                required=message_required,
                description="A message as it is now (the `message` event's object).",
                examples=[{"op": "message", "room": "general", "seq": 43, "msg_id": 1043,
                           "from": "ann", "text": "hi all", "ts": 1732700000123,
                           "nonce": "5f0c"}],
            ),
            "SavedItem": self.sent(
                {"room": {"type": "string"}, "msg_id": {"type": "integer", "minimum": 1},
                 "ts": {"type": "integer", "description":
                        "When it was saved (ms): the cursor of the list, distinct per item."},
                 "remind_at": {"type": ["integer", "null"], "description":
                               "When the user is reminded (ms); null: never."},
                 "reminded": {"type": "boolean", "description":
                              "The reminder was sent (the item is overdue)."},
                 "message": _ref("Message"),
                 "set_by": {"type": "string", "description": "Who set the reminder, when "
                            "another user did (`remind` with `user`); absent: the user."},
                 "user": {"type": "string", "description": "Whom the reminder is for: only "
                          "in the setter's list (`GET /api/me/reminders`)."}},
                required=["room", "msg_id", "ts", "remind_at", "reminded"],
                description="A message the user saved (`message`: as it is now, a "
                            "tombstone once deleted; in lists only).",
                examples=[{"room": "general", "msg_id": 1043, "ts": 1732700000200,
                           "remind_at": None, "reminded": False}],
            ),
            "ScheduledItem": self.sent(
                {"item": {"type": "integer", "minimum": 1, "description": "Its id."},
                 "room": {"type": "string"}, "text": {"type": "string"},
                 "files": {"type": "array", "items": _ref("File")},
                 "thread": {"type": ["integer", "null"], "minimum": 1},
                 "broadcast": {"type": "boolean"},
                 "reply_to": {"type": ["integer", "null"], "minimum": 1},
                 "send_at": {**ms, "description": "When it is sent (ms)."},
                 "created_ts": ms,
                 "state": {"enum": ["pending", "failed"]},
                 "error": {"anyOf": [{"type": "null"}, self.sent(
                     {"code": {"type": "string"}, "message": {"type": "string"}})],
                     "description": "Failed: what its send was refused with."}},
                description="A message the user scheduled, not sent yet (or refused at its "
                            "time: `state` failed, with `error`).",
                examples=[{"item": 12, "room": "general", "text": "standup in 5",
                           "files": [], "thread": None, "broadcast": False,
                           "reply_to": None, "send_at": 1732780800000,
                           "created_ts": 1732700000000, "state": "pending",
                           "error": None}],
            ),
            "Thread": self.sent(
                {"room": {"type": "string"}, "root": _ref("Message"),
                 "following": {"type": "boolean"},
                 "read_seq": {"type": "integer", "minimum": 0, "description":
                              "The seq of the last reply the user has read (0: none)."},
                 "last_ts": {"type": "integer", "description":
                             "The latest reply's time (ms; the root's before any): the "
                             "list's order, with the root's msg_id breaking ties."},
                 "unread": {"type": "integer", "minimum": 0, "description":
                            "Replies after read_seq, not by the user, not deleted."},
                 "mentions": {"type": "integer", "minimum": 0, "description":
                              "Of those, the replies whose text @names the user."}},
                required=["room", "root", "following", "read_seq", "last_ts", "unread",
                          "mentions"],
                description="A thread the user follows (the protocol's THREAD).",
            ),
            "SearchResult": self.sent(
                {**message, "snippet": {"type": "array", "items": self.sent(
                    {"text": {"type": "string"}, "hit": {"type": "boolean"}})}},
                required=[*message_required, "snippet"],
                description="A message found, with the part of its text around the first "
                            "match: segments of plain text, `hit` marking the words that "
                            "matched.",
            ),
            "Edited": self.sent(
                {"op": {"const": "edited"}, **entry_base,
                 "msg_id": {"type": "integer", "minimum": 1}, "text": {"type": "string"},
                 "from": {"type": "string"}, "ts": ms, "mentions": names, "group": group,
                 "user_groups": user_groups},
                required=["op", "room", "seq", "msg_id", "text", "from", "ts"]),
            "Deleted": self.sent(
                {"op": {"const": "deleted"}, **entry_base,
                 "msg_id": {"type": "integer", "minimum": 1}, "by": {"type": "string"},
                 "ts": ms, "unpinned": {"const": True, "description":
                                        "The message was pinned: the deletion took it off "
                                        "the room's pins (left out otherwise)."}},
                required=["op", "room", "seq", "msg_id", "by", "ts"]),
            "Reaction": self.sent(
                {"op": {"const": "reaction"}, **entry_base,
                 "msg_id": {"type": "integer", "minimum": 1}, "emoji": {"type": "string"},
                 "user": {"type": "string"}, "on": {"type": "boolean"}, "ts": ms}),
            "Poll": self.sent(
                {"options": {"type": "array", "minItems": POLL_OPTIONS_MIN,
                             "maxItems": POLL_OPTIONS_MAX, "items": self.sent(
                                 {"text": {"type": "string", "minLength": 1,
                                           "maxLength": MAX_POLL_OPTION_CHARS},
                                  "votes": {"type": "integer", "minimum": 0},
                                  "voters": {**names, "description": "Who chose it, as "
                                             "registered, in the order they voted."}}),
                             "description": "In order (a vote names them by index, from 0)."},
                 "multiple": {"type": "boolean",
                              "description": "A voter may choose several options."},
                 "closed": {"type": "boolean"},
                 "closed_by": {"type": "string", "description": "Once closed: who closed it."},
                 "closed_ts": ms},
                required=["options", "multiple", "closed"],
                description="A poll's message: its text is the question; the options with "
                            "their votes as they are now."),
            "NewPoll": self.body(
                {"options": {"type": "array", "minItems": POLL_OPTIONS_MIN,
                             "maxItems": POLL_OPTIONS_MAX,
                             "items": {"type": "string", "pattern": r"\S",
                                       "maxLength": MAX_POLL_OPTION_CHARS},
                             "description": "Each 1-100 characters once trimmed (kept "
                                            "trimmed), distinct ignoring case."},
                 "multiple": {"type": "boolean", "default": False}},
                ["options"], description="Makes the message a poll (its text the question, "
                                         "not blank)."),
            "Voted": self.sent(
                {"op": {"const": "voted"}, **entry_base,
                 "msg_id": {"type": "integer", "minimum": 1}, "user": {"type": "string"},
                 "options": {"type": "array", "items": {"type": "integer", "minimum": 0},
                             "description": "The voter's whole choice now, sorted; empty: "
                                            "they took their vote back."},
                 "ts": ms},
                description="An entry: a voter's choice on a poll."),
            "PollClosed": self.sent(
                {"op": {"const": "poll_closed"}, **entry_base,
                 "msg_id": {"type": "integer", "minimum": 1}, "by": {"type": "string"},
                 "ts": ms},
                description="An entry: a poll was closed (it takes no more votes)."),
            "Pinned": self.sent(
                {"op": {"const": "pinned"}, **entry_base,
                 "msg_id": {"type": "integer", "minimum": 1}, "by": {"type": "string"},
                 "on": {"type": "boolean"}, "ts": ms}),
            "Topic": self.sent(
                {"op": {"const": "topic"}, **entry_base,
                 "topic": {"type": "string", "maxLength": MAX_TOPIC_CHARS},
                 "by": {"type": "string"}, "ts": ms}),
            "RoleEntry": self.sent(
                {"op": {"const": "role"}, **entry_base, "user": {"type": "string"},
                 "role": _ref("Role"), "by": {"type": "string"}, "ts": ms}),
            "Banned": self.sent(
                {"op": {"const": "banned"}, **entry_base, "user": {"type": "string"},
                 "by": {"type": "string"}, "ts": ms,
                 "reason": {"type": "string", "minLength": 1,
                            "maxLength": MAX_REASON_CHARS},
                 "expires_at": ms},
                required=["op", "room", "seq", "user", "by", "ts"]),
            "Unbanned": self.sent(
                {"op": {"const": "unbanned"}, **entry_base, "user": {"type": "string"},
                 "by": {"type": "string"}, "ts": ms}),
            "Kicked": self.sent(
                {"op": {"const": "kicked"}, **entry_base, "user": {"type": "string"},
                 "by": {"type": "string"}, "ts": ms,
                 "reason": {"type": "string", "minLength": 1,
                            "maxLength": MAX_REASON_CHARS}},
                required=["op", "room", "seq", "user", "by", "ts"]),
            "Archived": self.sent(
                {"op": {"const": "archived"}, **entry_base, "archived": {"type": "boolean"},
                 "by": {"type": "string"}, "ts": ms}),
            "Preview": self.sent(
                preview, required=["url", "title", "description", "site"],
                description="A link preview: the page's title, description, site and "
                            "picture."),
            "PreviewEntry": self.sent(
                {"op": {"const": "preview"}, **entry_base,
                 "msg_id": {"type": "integer", "minimum": 1}, "ts": ms, **preview,
                 "removed": {"const": True,
                             "description": "The message shows no preview any more (then "
                                            "none of the preview's fields)."}},
                required=["op", "room", "seq", "msg_id", "ts"],
                description="An entry: a message's link preview, made or removed."),
            "Invitation": self.sent(
                {
                    "id": {"type": "integer", "minimum": 1},
                    "by": {"type": ["string", "null"], "description": "Its maker, as "
                           "registered; null: made on the command line (or the account is "
                           "gone)."},
                    "created_at": ms,
                    "expires_at": ms,
                    "max_uses": {"type": "integer", "minimum": 1, "maximum": MAX_USES},
                    "uses": {"type": "integer", "minimum": 0, "maximum": MAX_USES},
                    "revoked_at": {**nullable_ms, "description": "Null unless revoked."},
                    "state": {"enum": ["valid", "expired", "used_up", "revoked"],
                              "description": "Whether it works now, else why not."},
                    "rooms": {**names, "description": "The rooms a new account joins, by "
                              "name (a room deleted since is gone from the list)."},
                    "used_by": {**names, "description": "Who registered with it, as "
                                "registered, in the order they did."},
                },
                description="An invitation link as its maker and the administrators see it: "
                            "never its token.",
                examples=[{"id": 4, "by": "ann", "created_at": 1767225600000,
                           "expires_at": 1767830400000, "max_uses": 5, "uses": 1,
                           "revoked_at": None, "state": "valid", "rooms": ["general"],
                           "used_by": ["bob"]}],
            ),
            "RoomLink": self.sent(
                {
                    "id": {"type": "integer", "minimum": 1},
                    "room": {"type": "string"},
                    "by": {"type": ["string", "null"], "description": "Its maker, as "
                           "registered; null: the account is gone."},
                    "created_at": ms,
                    "expires_at": ms,
                    "max_uses": {"type": "integer", "minimum": 1, "maximum": LINK_MAX_USES},
                    "uses": {"type": "integer", "minimum": 0, "maximum": LINK_MAX_USES},
                    "revoked_at": {**nullable_ms, "description": "Null unless revoked."},
                    "state": {"enum": ["valid", "expired", "used_up", "revoked"],
                              "description": "Whether it works now, else why not."},
                },
                description="A join link to one room as its maker and the room's moderators "
                            "see it: never its token.",
                examples=[{"id": 3, "room": "staff", "by": "ann",
                           "created_at": 1767225600000, "expires_at": 1767830400000,
                           "max_uses": 5, "uses": 1, "revoked_at": None, "state": "valid"}],
            ),
            "BotToken": self.sent(
                {
                    "id": {"type": "integer", "minimum": 1},
                    "name": {"type": "string", "minLength": 1, "maxLength": MAX_TOKEN_NAME},
                    "created_at": ms,
                    "last_used_at": {**nullable_ms, "description": "To the minute; null "
                                     "before its first use."},
                    "revoked_at": {**nullable_ms, "description": "Null while it works."},
                },
                description="A bot's API token as it is listed: never the token itself.",
                examples=[{"id": 3, "name": "ci", "created_at": 1767225600000,
                           "last_used_at": None, "revoked_at": None}],
            ),
            "Bot": self.sent(
                {
                    "name": {"type": "string", "description": "As registered."},
                    "owner": {"type": ["string", "null"],
                              "description": "Null once the owning user is gone."},
                    "created_at": ms,
                    "tokens": {"type": "array", "items": _ref("BotToken"),
                               "description": "Oldest first."},
                },
                description="A bot account the user manages.",
                examples=[{"name": "buildbot", "owner": "ann", "created_at": 1767225600000,
                           "tokens": [{"id": 3, "name": "ci", "created_at": 1767225600000,
                                       "last_used_at": None, "revoked_at": None}]}],
            ),
            "Hook": self.sent(
                {
                    "id": {"type": "integer", "minimum": 1},
                    "room": {"type": "string"},
                    "bot": {"type": "string", "description": "The bot it posts as."},
                    "creator": {"type": "string", "description": "Who made it."},
                    "created_at": ms,
                    "last_used_at": {**nullable_ms, "description": "Null before its first "
                                     "post."},
                },
                description="An incoming webhook as it is listed: never its URL.",
                examples=[{"id": 2, "room": "ops", "bot": "buildbot", "creator": "ann",
                           "created_at": 1767225600000, "last_used_at": None}],
            ),
            "RoomWebhook": self.sent(
                {
                    "room": {"type": "string"},
                    "url": {"type": "string", "description": "Where new messages are "
                                                             "POSTed."},
                    "secret": {"type": "string", "minLength": MIN_SECRET_CHARS,
                               "maxLength": MAX_SECRET_CHARS,
                               "description": "The key of `X-Chatd-Signature`: only in the "
                                              "answer of `PUT`."},
                    "set_by": {"type": ["string", "null"],
                               "description": "Null once that user is gone."},
                    "created_at": ms,
                },
                required=["room", "url", "set_by", "created_at"],
                description="A room's outgoing webhook.",
                examples=[{"room": "ops", "url": "https://ci.example.net/chatd",
                           "set_by": "ann", "created_at": 1767225600000}],
            ),
            "Entry": {
                "description": "An entry of a room's log: a message, a change to one, the "
                               "topic, or moderation, told apart by `op`. A client ignores "
                               "ops it does not know.",
                "oneOf": [_ref(name) for name in
                          ("Message", "Edited", "Deleted", "Reaction", "Pinned", "Topic",
                           "RoleEntry", "Banned", "Unbanned", "Kicked", "Archived",
                           "PreviewEntry", "Voted", "PollClosed")],
                "discriminator": {"propertyName": "op", "mapping": {
                    "message": _REF + "Message", "edited": _REF + "Edited",
                    "deleted": _REF + "Deleted", "reaction": _REF + "Reaction",
                    "pinned": _REF + "Pinned", "topic": _REF + "Topic", "role": _REF + "RoleEntry",
                    "banned": _REF + "Banned", "unbanned": _REF + "Unbanned",
                    "kicked": _REF + "Kicked", "archived": _REF + "Archived",
                    "preview": _REF + "PreviewEntry", "voted": _REF + "Voted",
                    "poll_closed": _REF + "PollClosed"}},
            },
        }

    def error_responses(self) -> dict[str, Any]:
        responses: dict[str, Any] = {}
        for status, found in ERROR_STATUSES.items():
            schema: Schema = {"allOf": [_ref("Error"), {"properties": {
                "code": {"enum": list(found)} if len(found) > 1 else {"const": found[0]}}}]}
            if status == 429:
                schema["allOf"][1]["required"] = ["retry_after"]
            response: dict[str, Any] = {"description": _ERROR_MEANINGS[status],
                                        "content": _json(schema)}
            headers = {}
            if status == 401:
                headers["WWW-Authenticate"] = {"required": True, "schema": {
                    "type": "string", "const": "Bearer"}}
            if status in (429, 503):
                headers["Retry-After"] = {
                    "required": True, "description": "Seconds to wait.",
                    "schema": {"type": "string", "pattern": "^[0-9]+$"}}
            if status == 405:
                headers["Allow"] = {"required": True, "schema": {"type": "string"}}
            if status == 416:
                headers["Content-Range"] = {"required": True, "schema": {
                    "type": "string", "pattern": r"^bytes \*/[0-9]+$"}}
            if headers:
                response["headers"] = headers
            responses[_ERROR_NAMES[status]] = response
        return responses

    # -- operations ------------------------------------------------------------------------

    def op(self, summary: str, description: str, *, tag: str, ok: dict[str, Any],
           errors: tuple[int, ...] = (), auth: str = "bearer",
           parameters: list[dict[str, Any]] | None = None,
           body: dict[str, Any] | None = None, body_required: bool = True,
           op_id: str, deprecated: bool = False) -> dict[str, Any]:
        """One operation. ``ok``: its success responses by status; ``errors``: the error
        statuses it may answer besides those of every request (500 and 503, and 413 where
        there is a body, 401 where a token is needed). ``auth``: ``"bearer"``, ``"none"``
        or ``"link"`` (a Bearer token or a signed link). ``deprecated``: kept for clients
        (or links) of before its replacement."""
        statuses = set(errors) | {500, 503}
        if auth in ("bearer", "link"):
            statuses.add(401)
        if body is not None:
            statuses |= {400, 413}
        operation: dict[str, Any] = {
            "operationId": op_id, "summary": summary, "description": description,
            "tags": [tag],
        }
        if deprecated:
            operation["deprecated"] = True
        if auth == "bearer":
            operation["security"] = [{"bearer": []}]
        elif auth == "link":
            operation["security"] = [{"bearer": []}, {"linkExpiry": [], "linkSignature": []}]
        else:
            operation["security"] = []
        if parameters:
            operation["parameters"] = parameters
        if body is not None:
            operation["requestBody"] = {"required": body_required, "content": body}
        responses: dict[str, Any] = dict(ok)
        for status in sorted(statuses):
            responses[str(status)] = _response_ref(status)
        operation["responses"] = dict(sorted(responses.items()))
        return operation

    def paths(self) -> dict[str, Any]:
        """Every path and method of :data:`chatd.http.routes.ROUTES`, and ``/`` for the page.
        A route added there is described here (tests/http/test_openapi.py fails until it
        is), with the statuses its handler can answer (the schemathesis run fails on one
        that is not listed)."""
        config = self.config
        limits = config.limits
        keywords_list: dict[str, Schema] = {"keywords": {
            "type": "array", "maxItems": limits.keywords_per_user,
            "items": {"type": "string", "minLength": 1, "maxLength": MAX_KEYWORD_CHARS},
            "description": "The keywords as stored: trimmed, distinct ignoring case, in the "
                           "user's order."}}
        history_max = limits.history_max
        page_max = limits.rooms_page_max  # a larger page size is served as this (clamped)
        rooms_default = min(100, page_max)
        no_store = {"Cache-Control": {"required": True, "description": "Never cached.",
                                      "schema": {"type": "string", "const": "no-store"}}}

        def ok(status: int, description: str, schema: Schema | None = None,
               example: Any = None, headers: dict[str, Any] | None = None) -> dict[str, Any]:
            response: dict[str, Any] = {"description": description}
            if schema is not None:
                response["content"] = _json(schema, example)
                response["headers"] = {**no_store, **(headers or {})}
            elif headers:
                response["headers"] = headers
            return {str(status): response}

        def empty(status: int, description: str) -> dict[str, Any]:
            return ok(status, description, self.sent({}), {})

        def path_param(name: str, schema: Schema, description: str,
                       example: Any) -> dict[str, Any]:
            return {"name": name, "in": "path", "required": True, "schema": schema,
                    "description": description, "example": example}

        def multipart(**fields: Schema) -> dict[str, Any]:
            """A ``multipart/form-data`` body: the text parts ``fields``, then ``file`` (of
            any type: the bytes decide)."""
            return {"multipart/form-data": {
                "schema": {"type": "object", "properties": {
                    **fields, "file": {"type": "string", "format": "binary"}},
                    "required": [*fields, "file"], "additionalProperties": False},
                "encoding": {"file": {"contentType": "*/*"}},
            }}

        def picture(summary: str, description: str, *, tag: str, op_id: str
                    ) -> dict[str, Any]:
            """The ``GET`` of a picture named by its bytes' SHA-256 (profile pictures,
            custom emoji): no token, the WebP cached publicly for a year, 404 once gone."""
            return self.op(
                summary, description, tag=tag, auth="none", op_id=op_id,
                parameters=[path_param("sha256", {"type": "string",
                                                  "pattern": "^[0-9a-f]{64}$"},
                                       "The SHA-256 of the picture's bytes.",
                                       EXAMPLE_AVATAR)],
                ok={"200": {"description": "The picture.", "headers": {
                        "ETag": {"required": True, "schema": {"type": "string"}},
                        "Cache-Control": {"required": True, "schema": {
                            "type": "string",
                            "const": "public, max-age=31536000, immutable"}}},
                    "content": {"image/webp": {"schema": {"type": "string",
                                                          "format": "binary"}}}},
                    "304": {"description": "Not modified (`If-None-Match`)."}},
                errors=(404,),
            )

        def query(name: str, schema: Schema, description: str) -> dict[str, Any]:
            return {"name": name, "in": "query", "required": False, "schema": schema,
                    "description": description}

        def capped_limit(default: int, most: int) -> dict[str, Any]:
            """The ``limit`` of a list that takes a larger number as ``most``."""
            return query("limit", {"type": "integer", "minimum": 1},
                         f"At most this many (default {default}; a larger number than "
                         f"{most} gives {most}).")

        item_param = path_param("item", {"type": "integer", "minimum": 1,
                                         "maximum": 10**18 - 1},
                                "The scheduled item's id.", 12)
        # A scheduled message's files: the user's unattached uploads (by id).
        scheduled_files = {"type": "array", "maxItems": MAX_FILES,
                           "items": {"type": "integer", "minimum": 1}}
        room_param = path_param("room", _ref("RoomOrConversation"),
                                "A room or conversation name.", "general")

        section_param = path_param("section", {"type": "integer", "minimum": 1,
                                               "maximum": 10**18 - 1},
                                   "The section's id.", 7)
        section_name: Schema = {"type": "string", "minLength": 1,
                                "maxLength": MAX_SECTION_NAME_CHARS,
                                "description": "Trimmed; one line."}
        position: Schema = {"type": "integer", "minimum": 0, "maximum": MAX_SEQ,
                            "description": "Its place in the user's list: 0 first; past "
                                           "the end: last."}
        sections_list: dict[str, Schema] = {
            "sections": {"type": "array", "items": _ref("Section"),
                         "description": "The user's sections now, in their order."}}
        section_and_list: dict[str, Schema] = {"section": _ref("Section"), **sections_list}

        def room_switch(answer: Schema, *, on: tuple[str, str, str, str],
                        off: tuple[str, str, str, str]) -> dict[str, Any]:
            """The PUT (``on``) and DELETE (``off``) of one of the user's own states of a
            room, as a protocol op with ``on`` (``hide``, ``favourite``): each a (summary,
            description, operationId, what the 200 says); both answer ``answer`` (every field
            required)."""
            return {method: self.op(summary, description, tag="rooms", op_id=op_id,
                                    parameters=[room_param],
                                    ok=ok(200, done, self.sent(answer)),
                                    errors=(400, 403, 404))
                    for method, (summary, description, op_id, done)
                    in (("put", on), ("delete", off))}

        def poll_params(example: int) -> list[dict[str, Any]]:
            """A poll's room and message: the examples' are polls of the conversation
            @ann:bob (where no example deletes a message)."""
            return [path_param("room", _ref("RoomOrConversation"),
                               "A room or conversation name.", "@ann:bob"),
                    path_param("msg_id", {"type": "integer", "minimum": 0,
                                          "maximum": 10**18 - 1},
                               "The poll's `msg_id`.", example)]
        file_id = path_param("id", {"type": "integer", "minimum": 0,
                                    "maximum": 10**18 - 1},
                             "The file's id.", 1)
        file_headers = [
            {"name": "Range", "in": "header", "required": False, "schema": {"type": "string"},
             "example": "bytes=0-99",
             "description": "One range of bytes (`bytes=0-99`, `bytes=100-`, `bytes=-100`): "
                            "206; several: the whole file (200); none within the file: 416. "
                            "A header that cannot be read is ignored."},
            {"name": "If-None-Match", "in": "header", "required": False,
             "schema": {"type": "string"},
             "description": "304 when it names the file's ETag (its SHA-256)."},
            {"name": "If-Range", "in": "header", "required": False,
             "schema": {"type": "string"},
             "description": "`Range` applies only if this is the file's ETag."},
        ]
        file_answer_headers = {
            "ETag": {"required": True, "schema": {"type": "string"}},
            "Cache-Control": {"required": True, "schema": {"type": "string"},
                              "description": "`private, max-age=…, immutable`: a year, or "
                                             "until a signed link expires."},
            "Content-Disposition": {"required": True, "schema": {"type": "string"}},
            "Content-Security-Policy": {"required": True, "schema": {
                "type": "string", "const": "sandbox; default-src 'none'"}},
            "Accept-Ranges": {"required": True, "schema": {"type": "string",
                                                           "const": "bytes"}},
        }

        def file_download(what: str, media: str, op_id: str, extra: str
                          ) -> dict[str, Any]:
            return self.op(
                f"Download a {what}",
                f"The {what}'s bytes{extra}, for a user who may read the room's history (a "
                "public room's files for every user, a private room's and a conversation's "
                "for their members; a file not yet attached to a message for its uploader "
                "only), with the Bearer token, or for anyone with a signed link "
                "(`POST /api/files/links`): with `exp` or `sig` in the query the request is "
                "judged by them alone (403 when bad, tampered with or expired). `Range`, "
                "`If-None-Match` and `HEAD` are answered.",
                tag="files", auth="link", op_id=op_id,
                parameters=[file_id, *([path_param(
                    "name", {"type": "string"}, "The file's name, percent-encoded (not "
                    "checked: it is there for the browser's save dialog).", "photo.png")]
                    if what == "file" else []), *file_headers],
                ok={
                    "200": {"description": f"The whole {what}.", "headers":
                            file_answer_headers,
                            "content": {media: {"schema": {"type": "string",
                                                           "format": "binary"}}}},
                    "206": {"description": "The range asked for.", "headers": {
                        **file_answer_headers,
                        "Content-Range": {"required": True, "schema": {
                            "type": "string", "pattern": r"^bytes [0-9]+-[0-9]+/[0-9]+$"}}},
                        "content": {media: {"schema": {"type": "string",
                                                       "format": "binary"}}}},
                    "304": {"description": "Not modified (`If-None-Match`).",
                            "headers": {"ETag": file_answer_headers["ETag"]}},
                },
                errors=(403, 404, 416),
            )

        nullable_int: Schema = {"type": ["integer", "null"], "minimum": 0}
        export_object = self.sent({
            "id": {"type": "integer", "minimum": 1},
            "state": {"enum": ["running", "ready", "failed", "expired"]},
            "started_at": {"type": "integer", "minimum": 0},
            "finished_at": nullable_int, "expires_at": nullable_int, "size": nullable_int,
            "messages": {"type": "integer", "minimum": 0},
            "files": {"type": "integer", "minimum": 0},
            "error": {"type": ["string", "null"]},
            "url": {"type": ["string", "null"],
                    "description": "The download, signed (`user`, `exp`, `sig`), once ready."},
        })
        export_example = {"id": 7, "state": "ready", "started_at": 1767225600000,
                          "finished_at": 1767225612000, "expires_at": 1767312012000,
                          "size": 48213, "messages": 1234, "files": 3, "error": None,
                          "url": "/api/me/export/download?user=3&exp=1767232800&sig=" + "A" * 43}
        subscription_example = {  # the keys of RFC 8291's example
            "endpoint": "https://push.example.net/push/JzLQ3raZJfFBR0aqvOMsLrt54w4rJUsV",
            "keys": {
                "p256dh": "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs"
                          "7Vd8pZGH6SRpkNtoIAiw4",
                "auth": "BTBZMqHH6r4Tts7J_aSIgg",
            },
        }
        room_object = _ref("Room")
        record_id = {"type": "integer", "minimum": 0, "maximum": 10**18 - 1}
        seq: Schema = {"type": "integer", "minimum": 0, "maximum": MAX_SEQ}
        link_token: Schema = {"type": "string", "maxLength": MAX_LINK_TOKEN_CHARS,
                              "description": "The link's token (one of no token's shape is "
                                             "`invitation_invalid`)."}
        bot_param = path_param("name", _ref("UserName"), "The bot.", "buildbot")
        string_list: Schema = {"type": "array", "items": {"type": "string"}}
        registration = self.sent({
            "registration": {"enum": ["open", "invite", "closed"],
                             "description": "`auth.registration`."},
            "who_can_invite": {"enum": ["admins", "everyone"],
                               "description": "`auth.who_can_invite`: who may make "
                                              "invitation links."},
            "server": {"type": ["string", "null"], "description": "`server.name`; null: "
                       "none."},
            "password_reset": {"type": "boolean",
                               "description": "Whether the server mails password reset "
                                              "links (`[email] smtp_host` is set): a page "
                                              "offers \"Forgot password?\" then."},
            "min_password_length": {"type": "integer", "minimum": 1,
                                    "description": "`auth.min_password_length`: the fewest "
                                                   "characters a new password may have (a "
                                                   "registration's, a reset's)."}})
        email_settings = self.sent({
            "email": {"type": ["string", "null"],
                      "description": "The address as the user typed it; null: none."},
            "confirmed": {"type": "boolean",
                          "description": "Whether its link was opened: only a confirmed "
                                         "address gets mail."},
            "notify": {"type": "boolean",
                       "description": "Missed-message emails on (the default)."},
            "available": {"type": "boolean",
                          "description": "Whether the server sends email at all."},
            "pending": {"type": ["string", "null"],
                        "description": "The address a confirmed one is being changed to, "
                                       "until its link is opened (the confirmed one gets "
                                       "the mail meanwhile); null: none."}})
        email_example = {"email": "ann@example.org", "confirmed": False, "notify": True,
                         "available": True, "pending": None}
        email_token = path_param("token", {"type": "string",
                                           "pattern": "^[A-Za-z0-9_-]{16,128}$"},
                                 "The link's token (32 of `A-Z a-z 0-9 _ -`; another is "
                                 "a link that does not work, 400).",
                                 "k3J9dWq2x7Yb0Zr5Tn8Lp1Vc4Hs6Mg2A")
        unsubscribe_token = path_param(
            "token", {"type": "string", "pattern": "^[0-9]{1,19}[.][A-Za-z0-9_-]{43}$"},
            "The link's token (the user's id, a dot, a signature; another is a link that "
            "does not work, 400).", "7.Qm9uZGF5IG1vcm5pbmcgY29mZmVlIGlzIGJyZXdpbmc")
        html_page: dict[str, Any] = {"text/html": {"schema": {"type": "string"}}}
        group_param = path_param("name", {"type": "string"},
                                 "The group (any case).", "backend")
        token_name = {"type": "string", "minLength": 1, "maxLength": MAX_TOKEN_NAME,
                      "pattern": NO_NUL, "default": DEFAULT_TOKEN_NAME,
                      "description": "A label for people (not blank)."}
        bot_token = {"type": "string", "pattern": "^chatdbot_[A-Za-z0-9_-]{43}$",
                     "description": "The token, for `Authorization: Bearer` and `hello`; "
                                    "shown this once."}

        def member_param(example: str) -> dict[str, Any]:
            return path_param("user", _ref("UserName"), "The user (any case).", example)

        admin_user = path_param("name", _ref("UserName"), "The user (any case).", "zed")

        def moderated(optional: dict[str, Schema] | None = None, **extra: Schema) -> Schema:
            """The answer to a moderation change: the member as registered, the entry's seq
            and ts, ``unchanged`` when it changed nothing (and the ``optional`` fields)."""
            return self.sent({"room": {"type": "string"}, "user": {"type": "string"},
                              **extra, "seq": seq_schema, "ts": {"type": "integer",
                                                                  "minimum": 0},
                              "unchanged": {"const": True}, **(optional or {})},
                             required=["room", "user", *extra, "seq", "ts"])

        def stored(room: Schema) -> Schema:
            """The answer to a message sent, once committed: where it stands, with
            ``duplicate`` when its nonce was used before (the first message's)."""
            return self.sent({"room": room, "seq": seq_schema,
                              "msg_id": {"type": "integer", "minimum": 1},
                              "ts": {"type": "integer", "minimum": 0},
                              "duplicate": {"const": True}},
                             required=["room", "seq", "msg_id", "ts"])

        # A message's ``poll`` in a send: what makes it a poll.
        new_poll: Schema = {"anyOf": [_ref("NewPoll"), {"type": "null"}],
                            "description": "Null, or left out: no poll."}

        def changed_entry() -> Schema:
            """The answer to a change (a deletion, a topic), once its entry is committed."""
            return self.sent({"room": {"type": "string"}, "seq": seq_schema,
                              "msg_id": {"type": "integer", "minimum": 0},
                              "ts": {"type": "integer", "minimum": 0},
                              "unchanged": {"const": True}},
                             required=["room", "seq", "msg_id", "ts"])

        seq_schema: Schema = {"type": "integer", "minimum": 0, "maximum": MAX_SEQ}
        msg_id_param = path_param("msg_id", {"type": "integer", "minimum": 0,
                                             "maximum": 10**18 - 1},
                                  "The message's `msg_id`.", 5)
        # The message a user acts on for themselves (follow, read, save): from 1.
        message_param = path_param("msg_id", {"type": "integer", "minimum": 1,
                                              "maximum": 10**18 - 1},
                                   "The message's `msg_id`.", 5)
        reason = {"type": ["string", "null"], "maxLength": MAX_REASON_CHARS,
                  "pattern": NO_NUL, "description": "Why; shown to the members with the "
                                                    "entry (\"\" or null: none)."}
        page_limit = query("limit", {"type": "integer", "minimum": 1,
                                     "maximum": ADMIN_PAGE_MAX},
                           f"At most this many (default {ADMIN_PAGE}).")

        def admin_op(summary: str, description: str, op_id: str, answer: Schema,
                     errors: tuple[int, ...] = (400,), **more: Any) -> dict[str, Any]:
            return self.op(summary, description + " For server administrators only (403 "
                           "for anyone else).", tag="admin", op_id=op_id,
                           ok=ok(200, summary + ".", answer),
                           errors=tuple(sorted({403, *errors})), **more)

        def posted(duplicate: bool) -> Schema:
            return self.sent({"room": {"type": "string"}, "seq": {"type": "integer",
                                                                   "minimum": 1},
                              "msg_id": {"type": "integer", "minimum": 1},
                              "ts": {"type": "integer", "minimum": 0},
                              "duplicate": {"const": duplicate}})

        def webhook(secret: bool) -> Schema:
            schema = self.schemas()["RoomWebhook"]
            properties = dict(schema["properties"])
            if not secret:
                del properties["secret"]
            return self.sent(properties, description=schema["description"])

        return {
            "/api/register": {
                "get": self.op(
                    "Who may register",
                    "The server's `auth.registration` (`open`: anyone; `invite`: with an "
                    "invitation link only; `closed`: nobody, accounts come from the command "
                    "line) and its name (`server.name`, null when it has none).",
                    tag="accounts", auth="none", op_id="registration",
                    ok=ok(200, "The rules.", registration),
                ),
                "post": self.op(
                    "Register an account",
                    "Creates an account; log in with `POST /api/login` afterwards. At most "
                    f"`auth.registrations_per_ip` ({config.auth.registrations_per_ip}) "
                    "registrations an hour from one address. With `invitation` (the token "
                    "of an invitation link) the account takes one of its uses and joins its "
                    "rooms (`rooms` in the answer); the server's `auth.registration` "
                    f"(here `{config.auth.registration}`) decides whether one is needed "
                    "(403 `invitation_required`) or any registration is taken (403 "
                    "`registration_closed`). An invitation that does not work is 403 "
                    "`invitation_invalid`, `invitation_expired`, `invitation_used_up` or "
                    "`invitation_revoked`.",
                    tag="accounts", auth="none", op_id="register",
                    body=_json(self.body({
                        "username": _ref("UserName"),
                        "password": {"type": "string",
                                     "minLength": config.auth.min_password_length,
                                     "maxLength": MAX_PASSWORD_LENGTH, "pattern": NO_NUL},
                        "invitation": {"type": ["string", "null"],
                                       "description": "The token of an invitation link "
                                                      "(null or absent: none)."},
                    }, ["username", "password"]),
                        {"username": "ann", "password": "correct horse"}),
                    ok=ok(201, "Registered.", self.sent({
                        "user": _ref("User"),
                        "rooms": {**string_list, "description": "With an invitation: the "
                                  "rooms the account joined, by name."}}, ["user"]),
                          {"user": {"id": 7, "name": "ann", "admin": False, "dnd_until": None,
                                    "read_receipts": True, "display_name": None,
                                    "custom_status": None, "avatar": None}}),
                    errors=(403, 409, 429),
                ),
            },
            "/api/invitations": {
                "get": self.op(
                    "List invitations",
                    "A page of the invitation links the user made, or of every one for a "
                    "server administrator, newest first (never a token); the next page: "
                    "`before` the last `id`.",
                    tag="accounts", op_id="listInvitations",
                    parameters=[
                        query("limit", {"type": "integer", "minimum": 1,
                                        "maximum": LIST_PAGE_MAX},
                              f"At most this many (default {LIST_PAGE})."),
                        query("before", {"type": "integer", "minimum": 1,
                                         "maximum": MAX_SEQ},
                              "Only invitations with a lower id.")],
                    ok=ok(200, "The invitations.", self.sent({
                        "invitations": {"type": "array", "items": _ref("Invitation")},
                        "more": {"type": "boolean",
                                 "description": "Older ones follow."}})),
                    errors=(400,),
                ),
                "post": self.op(
                    "Make an invitation link",
                    "An invitation for `uses` registrations (1-" + str(MAX_USES) + ", "
                    "default 1) until `expires_in` seconds from now (" + str(MIN_EXPIRES)
                    + "-" + str(MAX_EXPIRES) + ", default " + str(DEFAULT_EXPIRES) + ": 7 "
                    "days), whose new accounts join `rooms` (at most " + str(MAX_ROOMS)
                    + " rooms, not conversations, not archived). Server administrators may "
                    "make them, for any room; members too when `auth.who_can_invite` is "
                    f"\"everyone\" (here \"{config.auth.who_can_invite}\"), for rooms they "
                    "are in. The token is shown this once (the server keeps its hash), with "
                    "the link to give (`server.public_url`, else the request's Host, on https "
                    "when a trusted proxy says `X-Forwarded-Proto: https`; then "
                    "`/#invite=` and the token). 20 at once, then 20 an hour. 403 "
                    "`registration_closed` when `auth.registration` is \"closed\".",
                    tag="accounts", op_id="createInvitation",
                    body=_json(self.body({
                        "uses": {"type": "integer", "minimum": 1, "maximum": MAX_USES,
                                 "default": 1},
                        "expires_in": {"type": "integer", "minimum": MIN_EXPIRES,
                                       "maximum": MAX_EXPIRES, "default": DEFAULT_EXPIRES,
                                       "description": "Seconds from now."},
                        "rooms": {"type": "array", "maxItems": MAX_ROOMS,
                                  "items": _ref("RoomName")},
                    }, []), {"uses": 5, "expires_in": 86400, "rooms": ["general"]}),
                    body_required=False,
                    ok=ok(201, "Made.", self.sent({
                        "invitation": _ref("Invitation"),
                        "token": {"type": "string", "pattern": "^[A-Za-z0-9_-]{32}$",
                                  "description": "Shown this once."},
                        "url": {"type": "string", "description": "The link to give."}})),
                    errors=(403, 404, 409, 429),
                ),
            },
            "/api/invitations/{id}": {"delete": self.op(
                "Revoke an invitation link",
                "It works no more (revoking one twice is no error); by its maker or an "
                "administrator. The accounts made with it stay.",
                tag="accounts", op_id="revokeInvitation",
                parameters=[path_param("id", record_id, "The invitation's id.", 1)],
                ok=ok(200, "Revoked.", self.sent({"invitation": _ref("Invitation")})),
                errors=(404,),
            )},
            "/api/join/{token}": {"get": self.op(
                "Look at an invitation link",
                "What a sign-up page shows, to whoever holds the token: whether a "
                "registration with it would work (`valid`), and then who made it (`by`), "
                "the rooms it joins and when it expires; else the `code` (and `message`) "
                "the registration would be refused with (`invitation_invalid` for a token "
                "no invitation has). Limited per address as registrations are "
                f"({config.auth.registrations_per_ip} at once, then as many an hour).",
                tag="accounts", auth="none", op_id="lookAtInvitation",
                parameters=[path_param("token", {"type": "string",
                                                 "pattern": "^[A-Za-z0-9_-]{16,128}$"},
                                       "The invitation's token (a malformed one is 400).",
                                       "k3J9dWq2x7Yb0Zr5Tn8Lp1Vc4Hs6Mg2A")],
                ok=ok(200, "What it gives.", self.sent({
                    **registration["properties"],
                    "valid": {"type": "boolean"},
                    "by": {"type": ["string", "null"], "description": "When valid: its "
                           "maker (null: the command line)."},
                    "rooms": {**string_list, "description": "When valid: the rooms a new "
                              "account joins."},
                    "expires_at": {"type": "integer", "minimum": 0,
                                   "description": "When valid: ms since the epoch."},
                    "code": {"enum": [codes.INVITATION_INVALID, codes.INVITATION_EXPIRED,
                                      codes.INVITATION_USED_UP, codes.INVITATION_REVOKED,
                                      codes.REGISTRATION_CLOSED],
                             "description": "When not valid: why."},
                    "message": {"type": "string", "description": "When not valid: in words."},
                }, ["registration", "server", "valid"])),
                errors=(400, 429),
            )},
            "/api/room-links/look": {"post": self.op(
                "Look at a room link",
                "As the protocol's `room_link`: what a join screen shows of a join link to "
                "one room, to a signed-in user holding its token (in the body: a token "
                "never travels in the request line). `valid` and then the room's name, "
                "topic, privacy and size, who made the link and whether the user is a "
                "member already; else the `code` and `message` a join would be refused "
                "with (the room unnamed). Looks and joins: 30 at once, then one every 10 "
                "seconds per user.",
                tag="rooms", op_id="lookAtRoomLink",
                body=_json(self.body({"token": link_token}, ["token"]),
                           {"token": "k3J9dWq2x7Yb0Zr5Tn8Lp1Vc4Hs6Mg2A"}),
                ok=ok(200, "What the link gives.", self.sent({
                    "valid": {"type": "boolean"},
                    "room": {"type": "string", "description": "When valid."},
                    "topic": {"type": "string", "description": "When valid."},
                    "private": {"type": "boolean", "description": "When valid."},
                    "members": {"type": "integer", "minimum": 0,
                                "description": "When valid: how many members it has."},
                    "member": {"type": "boolean",
                               "description": "When valid: the user is a member already."},
                    "by": {"type": ["string", "null"],
                           "description": "When valid: the link's maker."},
                    "expires_at": {"type": "integer", "minimum": 0,
                                   "description": "When valid: ms since the epoch."},
                    "code": {"type": "string", "description": "When not valid: why "
                             "(`invitation_invalid`, `invitation_expired`, "
                             "`invitation_used_up`, `invitation_revoked`, `forbidden`: "
                             "banned, `archived`, `not_found`: the room is gone)."},
                    "message": {"type": "string", "description": "When not valid: in words."},
                }, ["valid"])),
                errors=(400, 429),
            )},
            "/api/room-links/join": {"post": self.op(
                "Join a room with a link",
                "As the protocol's `join_link`: the user becomes a member of the link's room, "
                "private or not, taking one of its uses (a member already enters, taking "
                "none), answered as `join` is; the members are told `joined` with `by` the "
                "link's maker, and the room's audit log has a `join_link` entry. 403 "
                "`invitation_invalid`, `invitation_expired`, `invitation_used_up`, "
                "`invitation_revoked`, `forbidden` (banned); 409 `archived`.",
                tag="rooms", op_id="joinLink",
                body=_json(self.body({"token": link_token}, ["token"]),
                           {"token": "k3J9dWq2x7Yb0Zr5Tn8Lp1Vc4Hs6Mg2A"}),
                ok=ok(200, "A member now.", self.sent({
                    "room": {"type": "string"},
                    "last_seq": seq,
                    "private": {"type": "boolean"},
                    "topic": {"type": "string"},
                    "archived": {"type": "boolean"},
                    "favourite": {"type": "boolean"},
                    "section": {"type": ["integer", "null"]},
                    "messages": {"type": "array", "items": _ref("Entry")},
                    "more": {"type": "boolean"},
                    "notify": {"type": "string"},
                    "role": {"type": "string"},
                }, ["room", "last_seq", "private", "topic", "messages", "more"])),
                errors=(400, 403, 404, 409, 429),
            )},
            "/api/room-links/{id}": {"delete": self.op(
                "Revoke a room link",
                "As the protocol's `revoke_room_link`: it works no more (twice is no error); "
                "by its maker or one who moderates its room. The members it made stay.",
                tag="rooms", op_id="revokeRoomLink",
                parameters=[path_param("id", record_id, "The link's id.", 1)],
                ok=ok(200, "Revoked.", self.sent({"link": _ref("RoomLink")})),
                errors=(400, 404),
            )},
            "/api/login": {"post": self.op(
                "Log in",
                "A token for `Authorization: Bearer` and the protocol's `hello`, valid until "
                "`expires_at` or until revoked with `POST /api/logout`. A wrong name or "
                "password is 401; attempts are limited per address "
                "(`auth.login_attempts_per_ip` a minute) and failures per user name "
                "(`auth.login_failures_per_user` in 15 minutes).",
                tag="accounts", auth="none", op_id="login",
                body=_json(self.body({
                    "username": {"type": "string"}, "password": {"type": "string"},
                }, ["username", "password"]), {"username": "ann", "password": "correct horse"}),
                ok=ok(200, "Logged in.", self.sent({
                    "token": {"type": "string", "description": "A JWT."},
                    "expires_at": {"type": "integer", "minimum": 0,
                                   "description": "ms since the epoch."},
                }), {"token": "eyJhbGciOiJIUzI1NiJ9.e30.c2ln", "expires_at": 1733304800000}),
                errors=(401, 403, 429),
            )},
            "/api/logout": {"post": self.op(
                "Log out",
                "Revokes the token (with `everywhere`, every token of the user); the "
                "connections that said `hello` with it get `unauthenticated` and are closed.",
                tag="accounts", op_id="logout", body_required=False,
                body=_json(self.body({"everywhere": {"type": "boolean"}}, []),
                           {"everywhere": False}),
                ok=empty(200, "Logged out."),
            )},
            "/api/me": {"get": self.op(
                "Who am I",
                "The user (with `admin`), their rooms and conversations, their "
                "contacts and the server's clock: what the protocol's `welcome` says. "
                "Without `rooms_limit` and `contacts_limit` every room and contact (the "
                "answer's size and cost grow with them); with them the first rooms (as "
                "`GET /api/rooms?joined=true` lists them) and contacts, and "
                "`rooms_more`/`contacts_more`.",
                tag="accounts", op_id="me",
                parameters=[
                    query("rooms_limit", {"type": "integer", "minimum": 1},
                          "Only the first this many rooms, with `rooms_more` (a larger "
                          f"number than {page_max} gives {page_max})."),
                    query("contacts_limit", {"type": "integer", "minimum": 0},
                          "Only the first this many contacts, with `contacts_more` (a "
                          f"larger number than {page_max} gives {page_max})."),
                ],
                ok=ok(200, "The user.", self.sent({
                    "user": _ref("User"),
                    "rooms": {"type": "array", "items": room_object},
                    "rooms_more": {"type": "boolean"},
                    "contacts": {"type": "array", "items": _ref("Contact")},
                    "contacts_more": {"type": "boolean"},
                    "now": {"type": "integer", "description":
                            "The server's clock, in ms since the epoch (as every `ts`): "
                            "compare a `ts` with this, or with the local clock corrected by "
                            "the difference, not with the local clock alone."},
                    "reminders_due": {"type": "integer", "minimum": 0, "description":
                                      "Saved messages reminded and still saved."},
                    "scheduled_count": {"type": "integer", "minimum": 1, "description":
                                        "Scheduled messages pending or failed (absent: "
                                        "none)."},
                    "scheduled_failed": {"type": "integer", "minimum": 1, "description":
                                         "Of them, failed (absent: none)."},
                    "sections": {"type": "array", "items": _ref("Section"), "description":
                                 "The user's own sidebar sections, in their order."},
                    **keywords_list,
                }, ["user", "rooms", "contacts", "now", "reminders_due", "sections",
                    "keywords"])),
                errors=(400,),
            )},
            "/api/rooms": {
                "get": self.op(
                    "List rooms",
                    "A page of the room overview, by name: the public rooms and the rooms "
                    "and conversations of the user, as the protocol's `rooms`. The next "
                    "page: `after` the last name (and the same `query`). An empty value is "
                    "no value; a repeated one is 400.",
                    tag="rooms", op_id="listRooms",
                    parameters=[
                        query("query", {"type": "string", "pattern": r"^[A-Za-z0-9_-]{0,64}$"},
                              "Only rooms whose name holds it (case-insensitive)."),
                        query("after", {"anyOf": [_ref("RoomOrConversation"),
                                                  {"const": ""}]},
                              "The page starts after this name."),
                        query("limit", {"type": "integer", "minimum": 1},
                              f"At most this many rooms (default {rooms_default}; a larger "
                              f"number than {page_max} gives {page_max})."),
                        query("joined", {"anyOf": [{"type": "boolean"}, {"const": ""}]},
                              "Only the rooms and conversations the user is in."),
                    ],
                    ok=ok(200, "A page of rooms.", self.sent({
                        "rooms": {"type": "array", "items": room_object},
                        "more": {"type": "boolean"},
                    })),
                    errors=(400,),
                ),
                "post": self.op(
                    "Create a room",
                    "The creator is its owner and first member. At most "
                    f"`limits.rooms_per_hour` ({limits.rooms_per_hour}) new rooms per user "
                    "an hour.",
                    tag="rooms", op_id="createRoom",
                    body=_json(self.body({
                        "room": _ref("RoomName"),
                        "private": {"type": "boolean", "default": False},
                        "topic": {"type": "string", "maxLength": MAX_TOPIC_CHARS,
                                  "pattern": NO_NUL, "default": ""},
                    }, ["room"]), {"room": "staff", "private": True, "topic": "for staff"}),
                    ok=ok(201, "Created.", self.sent({"room": room_object})),
                    errors=(409, 429),
                ),
            },
            "/api/dm": {"post": self.op(
                "Send a direct message",
                "As the protocol's `dm`, for bots and scripts: to one person (`to` a user "
                "name: the 1:1 conversation) or to several (`to` an array of 1 to "
                f"{GROUP_MAX - 1} names, any case, repeats and the user's own folded away: "
                "the group conversation of the user and them, made on the first message "
                f"with all of them as members). More than {GROUP_MAX} people in all is 400; "
                "a name that is nobody is 404, naming it. Answered once the message is "
                "committed; the same `nonce` again stores nothing and answers the first "
                "message, with `duplicate`.",
                tag="rooms", op_id="sendDirectMessage",
                body=_json(self.body({
                    "to": {"anyOf": [_ref("UserName"),
                                     {"type": "array", "items": _ref("UserName"),
                                      "minItems": 1, "maxItems": MAX_TO_NAMES,
                                      "description": f"At most {GROUP_MAX} people in "
                                                     "all, repeats folded."}]},
                    "text": {"type": "string", "maxLength": limits.max_text_chars,
                             "pattern": NO_NUL,
                             "description": "May be empty when `files` are attached."},
                    "nonce": {"type": "string", "minLength": 1, "maxLength": 64,
                              "pattern": NO_NUL},
                    "files": {"type": "array", "maxItems": MAX_FILES,
                              "items": {"type": "integer", "minimum": 1}},
                    "reply_to": {"type": ["integer", "null"], "minimum": 1},
                    "thread": {"type": ["integer", "null"], "minimum": 1},
                    "broadcast": {"type": "boolean"},
                    "poll": new_poll,
                }, ["to", "text", "nonce"]), {"to": ["bob", "cid"], "text": "lunch?",
                                              "nonce": "gdm-1"}),
                ok=ok(200, "Stored.", stored(_ref("RoomOrConversation"))),
                errors=(403, 404, 409, 429),
            )},
            "/api/rooms/{room}/messages": {"get": self.op(
                "Read a room's history",
                "A page of the room's log, oldest first, as the protocol's `history`. Give "
                "`before` or `after`, not both; with neither, the latest entries. Public "
                "rooms can be read by every user; private rooms and conversations by their "
                "members only.",
                tag="rooms", op_id="history",
                parameters=[
                    room_param,
                    query("before", {"type": "integer", "minimum": 1, "maximum": MAX_SEQ},
                          "Entries with a seq below this one."),
                    query("after", {"type": "integer", "minimum": 0, "maximum": MAX_SEQ},
                          "Entries with a seq above this one."),
                    query("limit", {"type": "integer", "minimum": 1, "maximum": history_max},
                          f"At most this many (default {limits.join_recent})."),
                ],
                ok=ok(200, "A page of the log.", self.sent({
                    "room": {"type": "string"},
                    "messages": {"type": "array", "items": _ref("Entry")},
                    "more": {"type": "boolean"},
                    "last_seq": {"type": "integer", "minimum": 0, "maximum": MAX_SEQ},
                })),
                errors=(400, 403, 404),
            ),
                "post": self.op(
                    "Send a message",
                    "As the protocol's `send`: by a member of the room, answered once the "
                    "message is committed (its members get the `message` event); `nonce` is "
                    "the sender's idempotency key (the same again stores nothing and answers "
                    "the first, `duplicate`). With `poll` the message is a poll.",
                    tag="rooms", op_id="send",
                    parameters=[room_param],
                    body=_json(self.body({
                        "text": {"type": "string", "pattern": NO_NUL},
                        "nonce": {"type": "string", "minLength": 1},
                        "reply_to": {"type": ["integer", "null"], "minimum": 1},
                        "files": {"type": "array", "maxItems": MAX_FILES,
                                  "items": {"type": "integer", "minimum": 1}},
                        "thread": {"type": ["integer", "null"], "minimum": 1},
                        "broadcast": {"type": "boolean"},
                        "poll": new_poll,
                    }, ["nonce"]), {"text": "Lunch on which day?", "nonce": "p-1",
                                    "poll": {"options": ["Tuesday", "Wednesday"]}}),
                    ok=ok(200, "Stored (or stored before, with `duplicate`).",
                          stored({"type": "string"})),
                    errors=(403, 404, 409, 429),
                )},
            "/api/rooms/{room}/messages/{msg_id}/vote": {"put": self.op(
                "Vote on a poll",
                "As the protocol's `vote`: a member of the room sets their choice to exactly "
                "`options` (0-based; `[]` takes the vote back; one at most on a poll without "
                "`multiple`). Answered once the `voted` entry is committed; the same choice "
                "again is `unchanged`. A closed poll, an index out of range, a message that "
                "is not a poll: 400.",
                tag="rooms", op_id="vote",
                parameters=poll_params(8),
                body=_json(self.body({
                    "options": {"type": "array", "maxItems": POLL_OPTIONS_MAX, "items": {
                        "type": "integer", "minimum": 0, "maximum": POLL_OPTIONS_MAX - 1}},
                }, ["options"]), {"options": [1]}),
                ok=ok(200, "Voted.", changed_entry()),
                errors=(400, 403, 404, 409, 429),
            )},
            "/api/rooms/{room}/messages/{msg_id}/close-poll": {"post": self.op(
                "Close a poll",
                "As the protocol's `close_poll`: by the poll's author, or by whoever "
                "moderates the room. Answered once the `poll_closed` entry is committed; a "
                "closed poll is `unchanged`.",
                tag="rooms", op_id="closePoll",
                parameters=poll_params(9),
                ok=ok(200, "Closed.", changed_entry()),
                errors=(400, 403, 404, 409, 429),
            )},
            "/api/rooms/{room}/messages/{msg_id}/forward": {"post": self.op(
                "Forward a message",
                "As the protocol's `forward`: post message `msg_id` of `room` (one the user "
                "may read now: a deleted one is 404, a poll 409 `not_forwardable`) into the "
                "room `to_room` or the conversation `to` names (as `POST /api/dm`'s `to`), "
                "exactly one of the two, with the comment `text` (may be empty). Every rule "
                "of a send applies to the target. The message's files become the forward's "
                "own (new files of the target, counted against the user's quota: 413 "
                "`quota_exceeded`). Answered once the forward is committed; the same "
                "`nonce` again stores nothing and answers the first, `duplicate`.",
                tag="rooms", op_id="forward",
                parameters=[path_param("room", _ref("RoomOrConversation"),
                                       "A room or conversation name: the message's.",
                                       "@ann:bob"),
                            path_param("msg_id", {"type": "integer", "minimum": 0,
                                                  "maximum": 10**18 - 1},
                                       "The message to forward.", 2)],
                body=_json({**self.body({
                    "to_room": _ref("RoomName"),
                    "to": {"anyOf": [_ref("UserName"),
                                     {"type": "array", "items": _ref("UserName"),
                                      "minItems": 1, "maxItems": MAX_TO_NAMES}]},
                    "text": {"type": "string", "maxLength": limits.max_text_chars,
                             "pattern": NO_NUL,
                             "description": "The comment: may be empty or left out."},
                    "nonce": {"type": "string", "minLength": 1, "maxLength": 64,
                              "pattern": NO_NUL},
                }, []), "oneOf": [{"required": ["to_room"]}, {"required": ["to"]}]},
                    {"to_room": "general", "text": "FYI", "nonce": "fwd-1"}),
                ok=ok(201, "Forwarded (or forwarded before, with `duplicate`).",
                      stored(_ref("RoomOrConversation"))),
                errors=(403, 404, 409, 429),
            )},
            "/api/rooms/{room}/pins": {"get": self.op(
                "Read a room's pinned messages",
                "The messages of the room pinned now, the most recently pinned first, as "
                "the protocol's `pins`, for its members only (a public room's other readers "
                "too are 403). The next page: `before` the last message's `pinned.seq`. A "
                f"room has at most `limits.pins_per_room` ({limits.pins_per_room}) pinned.",
                tag="rooms", op_id="pins",
                parameters=[
                    room_param,
                    query("before", {"type": "integer", "minimum": 1, "maximum": MAX_SEQ},
                          "Only messages pinned by an entry with a seq below this one."),
                    query("limit", {"type": "integer", "minimum": 1,
                                    "maximum": PINS_PAGE_MAX},
                          f"At most this many (default {PINS_PAGE})."),
                ],
                ok=ok(200, "A page of the pinned messages.", self.sent({
                    "room": {"type": "string"},
                    "messages": {"type": "array", "items": _ref("Message")},
                    "more": {"type": "boolean"},
                    "last_seq": {"type": "integer", "minimum": 0, "maximum": MAX_SEQ},
                })),
                errors=(400, 403, 404),
            )},
            "/api/rooms/{room}/pins/{msg_id}": {
                "put": self.op(
                    "Pin a message",
                    "As the protocol's `pin`: any member of the room may. Answered once the "
                    "`pinned` entry is committed; a message pinned already is `unchanged`. "
                    f"A room has at most `limits.pins_per_room` ({limits.pins_per_room}) "
                    "pinned: one more is 409 `too_many_pins`; an archived room is 409 "
                    "`archived`.",
                    tag="rooms", op_id="pinMessage",
                    parameters=[room_param, msg_id_param],
                    ok=ok(200, "Pinned.", changed_entry()),
                    errors=(400, 403, 404, 409, 429),
                ),
                "delete": self.op(
                    "Unpin a message",
                    "As the protocol's `pin` with `on` false: any member of the room may. "
                    "Answered once the `pinned` entry is committed; a message not pinned is "
                    "`unchanged`.",
                    tag="rooms", op_id="unpinMessage",
                    parameters=[room_param, msg_id_param],
                    ok=ok(200, "Unpinned.", changed_entry()),
                    errors=(400, 403, 404, 409, 429),
                ),
            },
            "/api/rooms/{room}/messages/{msg_id}/receipts": {"get": self.op(
                "Who has read a message",
                "Read receipts, as the protocol's `receipts`: the members whose read marker "
                "is at or past the message's `seq`, but its author, the asker and those who "
                "do not share their receipts (`PUT /api/me/read-receipts`): their `count` "
                f"and a page of their names, by name ignoring case (at most {RECEIPTS_PAGE}; "
                "the next page: `after` the last name). For whoever may read the room "
                "(403 and 404 as for its history; 404 for no such message in it). Per "
                "user, a burst of 30, then 1 a second (429: each counts the room's readers).",
                tag="rooms", op_id="receipts",
                parameters=[
                    room_param, message_param,
                    query("after", {"anyOf": [_ref("UserName"), {"const": ""}]},
                          "The page starts after this name (ignoring case)."),
                    capped_limit(RECEIPTS_PAGE, RECEIPTS_PAGE),
                ],
                ok=ok(200, "Who has read it.", self.sent({
                    "room": {"type": "string"},
                    "msg_id": {"type": "integer", "minimum": 1},
                    "seq": seq_schema,
                    "count": {"type": "integer", "minimum": 0,
                              "description": "How many have read it, in all."},
                    "users": {"type": "array", "items": {"type": "string"},
                              "maxItems": RECEIPTS_PAGE,
                              "description": "A page of their names, as registered."},
                    "more": {"type": "boolean"},
                })),
                errors=(400, 403, 404, 429),
            )},
            "/api/rooms/{room}/receipts": {"get": self.op(
                "Where a conversation's members have read to",
                "As the protocol's `receipts` without `msg_id`: each other member of the "
                "conversation who shares their read receipts, with their read marker (0: "
                "never read), by name ignoring case; what draws \"Seen\" when the "
                "conversation opens. A room (kind `room`) is 400; a conversation of others "
                "403.",
                tag="rooms", op_id="readPositions",
                parameters=[path_param("room", _ref("RoomOrConversation"),
                                       "A conversation's name.", "@ann:bob")],
                ok=ok(200, "The other members' read markers.", self.sent({
                    "room": {"type": "string"},
                    "positions": {"type": "array", "maxItems": GROUP_MAX - 1,
                                  "items": self.sent({"user": {"type": "string"},
                                                      "seq": seq_schema})},
                })),
                errors=(400, 403, 404),
            )},
            "/api/rooms/{room}/threads/{msg_id}": {"get": self.op(
                "Read a thread",
                "A thread's root and a page of its replies, oldest first (the newest of "
                "those below `before`), as the protocol's `thread`, for the room's members "
                "only (a public room's other readers too are 403). `msg_id` is the root or "
                "any reply of the thread. The next page back: `before` the first reply's "
                "`seq`. `following` and `read_seq`: the user's state of the thread.",
                tag="rooms", op_id="thread",
                parameters=[
                    room_param,
                    path_param("msg_id", {"type": "integer", "minimum": 0,
                                          "maximum": 10**18 - 1},
                               "The root's or a reply's `msg_id`.", 5),
                    query("before", {"type": "integer", "minimum": 1, "maximum": MAX_SEQ},
                          "Only replies with a seq below this one."),
                    query("limit", {"type": "integer", "minimum": 1,
                                    "maximum": THREAD_PAGE_MAX},
                          f"At most this many (default {THREAD_PAGE})."),
                ],
                ok=ok(200, "The root and a page of its replies.", self.sent({
                    "room": {"type": "string"},
                    "root": _ref("Message"),
                    "messages": {"type": "array", "items": _ref("Message")},
                    "more": {"type": "boolean"},
                    "following": {"type": "boolean"},
                    "read_seq": {"type": "integer", "minimum": 0},
                })),
                errors=(400, 403, 404),
            )},
            "/api/rooms/{room}/messages/{msg_id}/edits": {"get": self.op(
                "Read a message's edit history",
                "The versions of a message, oldest first (the last is its text now), each "
                "with its text, who wrote it and when, as the protocol's `edit_history`, for "
                "whoever may read the room (as `history`), unless `messages.edit_history` "
                "narrows it: \"moderators\" (only the message's author, the room's owner "
                "and moderators and administrators; others 403) or \"off\" (administrators "
                "only). `original`: whether the first "
                "version is the text it was sent with (false for a message edited before "
                "the server kept replaced texts: its history starts at its first edit). At "
                f"most {EDIT_VERSIONS_MAX} versions: the first and the newest others, "
                "`omitted` counting those left out between. A deleted message is 404.",
                tag="rooms", op_id="edit_history",
                parameters=[
                    room_param,
                    path_param("msg_id", {"type": "integer", "minimum": 0,
                                          "maximum": 10**18 - 1},
                               "The message's `msg_id`.", 5),
                ],
                ok=ok(200, "The message's versions, oldest first.", self.sent({
                    "room": {"type": "string"},
                    "msg_id": {"type": "integer", "minimum": 0},
                    "versions": {"type": "array", "minItems": 1,
                                 "maxItems": EDIT_VERSIONS_MAX, "items": self.sent({
                                     "text": {"type": "string"},
                                     "by": {"type": "string"},
                                     "ts": {"type": "integer"},
                                     "seq": {"type": "integer", "minimum": 1},
                                 })},
                    "original": {"type": "boolean"},
                    "omitted": {"type": "integer", "minimum": 0},
                })),
                errors=(400, 403, 404),
            )},
            "/api/search": {"get": self.op(
                "Search messages",
                "Messages found by their words in the rooms the user may read, newest "
                "first, as the protocol's `search`: words (each a prefix), \"quoted "
                "phrases\", `-word` to leave out, `from:NAME`, `in:ROOM`, `in:@NAME`, "
                "`before:YYYY-MM-DD`, `after:YYYY-MM-DD`, `has:file`, `has:image`, "
                "`has:link`, `has:poll`, `is:mention`, `is:saved`, `is:pinned`, "
                "`is:thread`. The next page: `before` the last "
                "`msg_id`. A repeated parameter is 400; an empty `room` is no room. At "
                f"most `limits.searches_per_minute` ({limits.searches_per_minute}) "
                "searches of a user a minute.",
                tag="rooms", op_id="search",
                parameters=[
                    {**query("q", {"type": "string", "minLength": 1,
                                   "maxLength": MAX_QUERY_CHARS, "pattern": NO_NUL},
                             "What to look for (not blank)."), "required": True,
                     "example": "deploy from:ann"},
                    query("room", {"anyOf": [_ref("RoomOrConversation"), {"const": ""}]},
                          "This room or conversation only."),
                    query("limit", {"type": "integer", "minimum": 1,
                                    "maximum": SEARCH_PAGE_MAX},
                          f"At most this many (default {SEARCH_PAGE})."),
                    query("before", {"type": "integer", "minimum": 1, "maximum": MAX_SEQ},
                          "Only messages older than this `msg_id`."),
                ],
                ok=ok(200, "A page of matches.", self.sent({
                    "messages": {"type": "array", "items": _ref("SearchResult")},
                    "more": {"type": "boolean"},
                })),
                errors=(400, 403, 404, 429),
            )},
            "/api/me/saved": {"get": self.op(
                "List saved messages",
                "The user's saved messages, the most recently saved first, as the "
                "protocol's `saved_items`, each with its message as it is now; items of "
                "rooms the user can no longer read are left out. The next page: `before` "
                "the last item's `ts`.",
                tag="accounts", op_id="savedItems",
                parameters=[
                    query("before", {"type": "integer", "minimum": 1, "maximum": MAX_SEQ},
                          "Only items saved before this `ts`."),
                    capped_limit(SAVED_PAGE, SAVED_PAGE_MAX),
                ],
                ok=ok(200, "A page of saved messages.", self.sent({
                    "items": {"type": "array", "items": _ref("SavedItem")},
                    "more": {"type": "boolean"},
                })),
                errors=(400,),
            )},
            "/api/me/threads": {"get": self.op(
                "List followed threads",
                "The threads the user follows, in the rooms they are a member of, the latest "
                "reply first, as the protocol's `threads`, each with its root as it is now "
                "and its unread replies. The next page: `before` = the reply's `next` "
                "(\"<last_ts>:<msg_id>\" of the last thread).",
                tag="accounts", op_id="threads",
                parameters=[
                    query("before", {"type": "string",
                                     "pattern": "^([0-9]{1,19}:[0-9]{1,19})?$"},
                          "Only the threads after this cursor in the list (empty: none)."),
                    capped_limit(THREADS_PAGE, THREADS_PAGE_MAX),
                ],
                ok=ok(200, "A page of followed threads.", self.sent({
                    "threads": {"type": "array", "items": _ref("Thread")},
                    "more": {"type": "boolean"},
                    "next": {"type": "string"},
                }, ["threads", "more"])),
                errors=(400,),
            )},
            "/api/me/threads/{room}/{msg_id}/follow": {
                "put": self.op(
                    "Follow a thread",
                    "As the protocol's `follow_thread`: the user follows the thread of the "
                    "message (its root, or a reply: its root is meant). The same again is "
                    "`unchanged`. The user's connections get the `thread_state` event.",
                    tag="accounts", op_id="followThread",
                    parameters=[room_param, message_param],
                    ok=ok(200, "Followed.", self.sent(_THREAD_FOLLOW, ["room", "msg_id",
                                                                       "following"])),
                    errors=(400, 403, 404, 429),
                ),
                "delete": self.op(
                    "Unfollow a thread",
                    "As the protocol's `follow_thread` with `on: false`: being named in it "
                    "or having written its root no longer makes the user follow it, until "
                    "they follow it or reply again.",
                    tag="accounts", op_id="unfollowThread",
                    parameters=[room_param, message_param],
                    ok=ok(200, "Unfollowed.", self.sent(_THREAD_FOLLOW, ["room", "msg_id",
                                                                         "following"])),
                    errors=(400, 403, 404, 429),
                ),
            },
            "/api/me/read": {"post": self.op(
                "Mark all as read",
                "As the protocol's `read_all`: the user's read marker of every room and "
                "conversation they are in with something past it moves to its `last_seq`, "
                "in one statement; with `rooms`, only those of them (1 to "
                f"{MAX_READ_ALL_ROOMS} names; a name of no room of the user's is ignored). "
                "Followed threads keep their own markers. The user's connections get a "
                "`read` event per moved room.",
                tag="accounts", op_id="readAll",
                body_required=False,
                body=_json(self.body({"rooms": {
                    "type": ["array", "null"], "items": _ref("RoomOrConversation"),
                    "minItems": 1, "maxItems": MAX_READ_ALL_ROOMS,
                    "description": "Only these rooms and conversations (absent or null: "
                                   "all)."}}, []),
                    {"rooms": ["general", "@ann:bob"]}),
                ok=ok(200, "Read.", self.sent({"rooms": {
                    "type": "array", "description":
                    "The rooms whose marker moved, by name, each with where it now is.",
                    "items": self.sent({"room": {"type": "string"},
                                        "seq": {"type": "integer", "minimum": 0}})}},
                    ["rooms"])),
                errors=(400, 429),
            )},
            "/api/me/threads/{room}/{msg_id}/read": {"put": self.op(
                "Mark a thread read",
                "As the protocol's `read_thread`: the user has read the thread up to reply "
                "`seq` (forward only; a lower one is `unchanged`).",
                tag="accounts", op_id="readThread",
                parameters=[room_param, message_param],
                body=_json(self.body({"seq": {"type": "integer", "minimum": 0,
                                              "maximum": MAX_SEQ}}, ["seq"]), {"seq": 42}),
                ok=ok(200, "Read.", self.sent({
                    "room": {"type": "string"}, "msg_id": {"type": "integer"},
                    "read_seq": {"type": "integer"}, "unchanged": {"type": "boolean"},
                }, ["room", "msg_id", "read_seq"])),
                errors=(400, 403, 404, 429),
            )},
            "/api/me/saved/{room}/{msg_id}": {
                "put": self.op(
                    "Save a message",
                    "As the protocol's `save`: the message is saved for the user alone, with "
                    "a reminder at `remind_at` (ms since the epoch, ahead of the server's "
                    "clock and at most a year ahead; null or absent: none, and one set is "
                    "cleared). The same again is `unchanged`. At most "
                    f"`limits.saved_per_user` ({limits.saved_per_user}) saved messages "
                    "(409 `too_many_saved`). The user's connections get the `saved` event.",
                    tag="accounts", op_id="save",
                    parameters=[room_param, message_param],
                    body_required=False,
                    body=_json(self.body({"remind_at": {"type": ["integer", "null"],
                                                        "minimum": 0}}, []),
                               {"remind_at": None}),
                    ok=ok(200, "Saved.", self.sent({
                        "item": _ref("SavedItem"), "unchanged": {"type": "boolean"},
                    }, ["item"])),
                    errors=(403, 404, 409, 429),
                ),
                "delete": self.op(
                    "Remove a saved message",
                    "As the protocol's `save` with `on: false` (nothing to remove is no "
                    "error). The user's connections get the `saved` event.",
                    tag="accounts", op_id="unsave",
                    parameters=[room_param, message_param],
                    ok={"204": {"description": "Removed (or it was not saved)."}},
                    errors=(400, 404, 429),
                ),
            },
            "/api/me/reminders": {
                "get": self.op(
                    "List the reminders set for others",
                    "As the protocol's `reminders_set`: a page of the reminders the user set "
                    "for other users, newest first, each a saved item of theirs with `user` "
                    "(whom it is for) and `reminded`; one they removed is gone. The next "
                    "page: `before` the last `msg_id`.",
                    tag="accounts", op_id="remindersSet",
                    parameters=[
                        query("limit", {"type": "integer", "minimum": 1},
                              f"At most this many (default {SAVED_PAGE}, at most "
                              f"{SAVED_PAGE_MAX})."),
                        query("before", {"type": "integer", "minimum": 1, "maximum": MAX_SEQ},
                              "Only reminders of messages with a lower id."),
                    ],
                    ok=ok(200, "A page of them.", self.sent({
                        "items": {"type": "array", "items": _ref("SavedItem")},
                        "more": {"type": "boolean"},
                    })),
                    errors=(400,),
                ),
                "post": self.op(
                    "Set a reminder",
                    "As the protocol's `remind`: `text` is written to the user's notes to "
                    "self (the conversation `@name:name`) as a message and saved with a "
                    "reminder at `remind_at` (ms since the epoch, ahead of the server's "
                    "clock and at most a year ahead); at that time the user is reminded as "
                    "of any saved message. With `user` (another user, who shares a room or "
                    "a conversation with the user and takes reminders from others) the text "
                    "is a message to them, saved for them with the reminder (403 "
                    "`forbidden` otherwise). `nonce` as a send's: the same request again "
                    "stores one note and one reminder (`unchanged`). At most "
                    f"`limits.saved_per_user` ({limits.saved_per_user}) saved messages (409 "
                    "`too_many_saved`: the note is written, not saved).",
                    tag="accounts", op_id="remind",
                    body=_json(self.body({
                        "text": {"type": "string"},
                        "remind_at": {"type": "integer", "minimum": 0},
                        "nonce": {"type": "string"},
                        "user": {"type": "string", "description": "Whom to remind "
                                 "(default: the user)."},
                    }, ["text", "remind_at", "nonce"]), {"text": "call the bank",
                                                         "remind_at": 1732780800000,
                                                         "nonce": "r-1"}),
                    ok=ok(201, "Written and saved.", self.sent({
                        "room": {"type": "string"}, "seq": {"type": "integer"},
                        "msg_id": {"type": "integer"}, "ts": {"type": "integer"},
                        "remind_at": {"type": "integer"}, "unchanged": {"type": "boolean"},
                        "user": {"type": "string", "description": "Whom it reminds, when "
                                 "another user."},
                    }, ["room", "seq", "msg_id", "ts", "remind_at"])),
                    errors=(400, 403, 404, 409, 429),
                ),
            },
            "/api/me/reminders/{user}/{msg_id}": {"delete": self.op(
                "Cancel a reminder set for someone else",
                "As the protocol's `cancel_reminder`: until it fires, the reminder the user "
                "set for `user` of message `msg_id` leaves that user's saved messages (their "
                "note stays in the conversation). 404 when it fired, was removed or is not "
                "the user's.",
                tag="accounts", op_id="cancelReminder",
                parameters=[path_param("user", _ref("UserName"), "Whom it was for.", "bob"),
                            path_param("msg_id", record_id, "The note's message id.", 1043)],
                ok=ok(200, "Cancelled.", self.sent({
                    "user": {"type": "string"}, "room": {"type": "string"},
                    "msg_id": {"type": "integer"}})),
                errors=(400, 404, 429),
            )},
            "/api/me/allow-reminders": {
                "get": self.op(
                    "Whether others may set reminders for the user",
                    "As the protocol's `allow_reminders` without `on`.",
                    tag="accounts", op_id="remindersAllowed",
                    ok=ok(200, "The setting.", self.sent({"on": {"type": "boolean"}})),
                    errors=(429,),
                ),
                "put": self.op(
                    "Let others set reminders for the user, or not",
                    "As the protocol's `allow_reminders`: `on` false refuses every reminder "
                    "others would set for the user from then on (those set stay).",
                    tag="accounts", op_id="allowReminders",
                    body=_json(self.body({"on": {"type": "boolean"}}, ["on"]), {"on": False}),
                    ok=ok(200, "The setting.", self.sent({"on": {"type": "boolean"}})),
                    errors=(400, 429),
                ),
            },
            "/api/me/scheduled": {
                "get": self.op(
                    "List scheduled messages",
                    "Every scheduled message of the user, pending or failed, by `send_at`, "
                    "as the protocol's `scheduled_items` (at most "
                    f"`limits.scheduled_per_user`, {limits.scheduled_per_user}: no paging).",
                    tag="accounts", op_id="scheduledItems",
                    ok=ok(200, "The items.", self.sent({
                        "items": {"type": "array", "items": _ref("ScheduledItem")}})),
                ),
                "post": self.op(
                    "Schedule a message",
                    "As the protocol's `schedule`: the server sends the message as the user "
                    "at `send_at` (ms since the epoch, ahead of the server's clock and at "
                    "most 366 days ahead), checked then as a `send` (refused: the item is "
                    "failed, and the user told). Files: the user's unattached uploads to "
                    "the room, kept for the item. At most `limits.scheduled_per_user` "
                    f"({limits.scheduled_per_user}) items (409 `too_many_scheduled`). The "
                    "user's connections get the `scheduled` event.",
                    tag="accounts", op_id="schedule",
                    body=_json(self.body({
                        "room": _ref("RoomOrConversation"),
                        "text": {"type": "string"},
                        "files": scheduled_files,
                        "thread": {"type": "integer", "minimum": 1},
                        "broadcast": {"type": "boolean"},
                        "reply_to": {"type": "integer", "minimum": 1},
                        "send_at": {"type": "integer", "minimum": 0},
                    }, ["room", "send_at"]), {"room": "general", "text": "standup in 5",
                                              "send_at": 1732780800000}),
                    ok=ok(201, "Scheduled.", self.sent({"item": _ref("ScheduledItem")})),
                    errors=(403, 404, 409, 429),
                ),
            },
            "/api/me/scheduled/{item}": {
                "patch": self.op(
                    "Change a scheduled message",
                    "As the protocol's `edit_scheduled`: what is given changes (`files` "
                    "replaces the files; `send_at: 0` sends it now; a failed item given a "
                    "`send_at` is pending again; no body changes nothing). 404 for an item "
                    "not the user's, sent, or being sent.",
                    tag="accounts", op_id="editScheduled",
                    parameters=[item_param], body_required=False,
                    body=_json(self.body({
                        "text": {"type": "string"},
                        "files": scheduled_files,
                        "send_at": {"type": "integer", "minimum": 0},
                    }, []), {"send_at": 0}),
                    ok=ok(200, "Changed.", self.sent({"item": _ref("ScheduledItem")})),
                    errors=(404, 429),
                ),
                "delete": self.op(
                    "Cancel a scheduled message",
                    "As the protocol's `cancel_scheduled`: the item is removed and its files "
                    "released. 404 as for a change.",
                    tag="accounts", op_id="cancelScheduled",
                    parameters=[item_param],
                    ok={"204": {"description": "Cancelled."}},
                    errors=(400, 404, 429),
                ),
            },
            "/api/me/dnd": {"put": self.op(
                "Pause notifications",
                "Do not disturb, as the protocol's `set_dnd`: no push, desktop notification "
                "or sound for the user, on any device, until `until` (ms since the epoch) or "
                f"for `duration` seconds (at most {MAX_DND_SECONDS}); `until: null` (or a "
                "time past) resumes them. Rooms' levels, unread counts and mentions are "
                "unchanged. The user's connections get the `dnd` event.",
                tag="accounts", op_id="setDnd",
                body=_json(self.body({
                    "until": {"type": ["integer", "null"], "minimum": 0},
                    "duration": {"type": "integer", "minimum": 1,
                                 "maximum": MAX_DND_SECONDS},
                }, []), {"duration": 3600}),
                ok=ok(200, "Set.", self.sent({"until": {
                    "type": ["integer", "null"], "minimum": 0,
                    "description": "Until when they are paused; null: they are not."}})),
                errors=(400,),
            )},
            "/api/me/email": {
                "get": self.op(
                    "The email address",
                    "The user's address, whether it is confirmed, whether missed-message "
                    "emails are on, and whether the server sends email (`available`).",
                    tag="accounts", op_id="getEmail",
                    ok=ok(200, "The settings.", email_settings, email_example),
                ),
                "put": self.op(
                    "Set the email address",
                    "Stores the address unconfirmed and mails it a confirmation link "
                    "(`server.public_url`, else the request's Host, then "
                    "`/#confirm-email=<token>`: the page posts the token to `POST "
                    "/api/email/confirm`; it works once, for 24 hours). A confirmed address "
                    "stays the user's, and gets their mail, until the new one is confirmed "
                    "(`pending` meanwhile). The user's confirmed address given again stays "
                    "confirmed and nothing is mailed. "
                    "409 `email_taken` when another account confirmed it, `email_disabled` "
                    "when the server sends no email; 3 confirmation mails at once, then 3 "
                    "an hour.",
                    tag="accounts", op_id="setEmail",
                    body=_json(self.body({"email": {"type": "string", "maxLength": 254}},
                                         ["email"]), {"email": "ann@example.org"}),
                    ok=ok(202, "Stored; the link is on its way.", email_settings,
                          email_example),
                    errors=(403, 409, 429),
                ),
                "delete": self.op(
                    "Remove the email address",
                    "No more mail; its links stop working and the missed messages queued "
                    "for the user are dropped.",
                    tag="accounts", op_id="removeEmail",
                    ok=ok(200, "Removed.", email_settings,
                          {"email": None, "confirmed": False, "notify": True,
                           "available": True, "pending": None}),
                ),
            },
            "/api/me/email-notifications": {"put": self.op(
                "Missed-message emails on or off",
                "While on (the default) and the address is confirmed, a direct message or a "
                "mention that reaches the user while they have no connection open, and "
                "that they have not read `[email] batch_seconds` later "
                f"({config.email.batch_seconds:g}), is mailed to them, with the others of "
                "that time in one email. Off drops what is queued.",
                tag="accounts", op_id="setEmailNotifications",
                body=_json(self.body({"on": {"type": "boolean"}}, ["on"]), {"on": False}),
                ok=ok(200, "Set.", email_settings,
                      {"email": "ann@example.org", "confirmed": True, "notify": False,
                       "available": True, "pending": None}),
            )},
            "/api/email/confirm": {"post": self.op(
                "Confirm an address",
                "The page, opened at the link mailed by `PUT /api/me/email` "
                "(`<public url>/#confirm-email=<token>`: the token in the fragment, which "
                "no request and no access log carries), posts the token: the address is "
                "now the user's, confirmed, in place of any other. Once only. 400 "
                "`bad_token` for a token unknown (or replaced by a newer link), used or "
                "expired, the message saying which; 409 `email_taken` when another "
                "account confirmed the address first. No token needed.",
                tag="accounts", auth="none", op_id="confirmEmailToken",
                body=_json(self.body({"token": {"type": "string", "maxLength": 128}},
                                     ["token"]),
                           {"token": "k3J9dWq2x7Yb0Zr5Tn8Lp1Vc4Hs6Mg2A"}),
                ok=ok(200, "Confirmed.", self.sent({"confirmed": {"const": True}}),
                      {"confirmed": True}),
                errors=(409,),
            )},
            "/api/me/export": {
                "get": self.op(
                    "How the latest export of my data goes",
                    "The user's latest export (\"Download my data\"): `running` (with "
                    "`messages` and `files` so far), `ready` (with `url`: the download, "
                    "signed, for a plain link; and `expires_at`), `failed` (`error` says "
                    "why) or `expired`. 404 before the first.",
                    tag="accounts", op_id="exportState",
                    ok=ok(200, "The export.", self.sent({"export": export_object}),
                          {"export": export_example}),
                    errors=(404,),
                ),
                "post": self.op(
                    "Start an export of my data",
                    "A zip of the user's account, settings, rooms, the messages of their "
                    "conversations and the messages they wrote, saved messages, reminders, "
                    "scheduled messages and uploaded files (docs/protocol.md, \"Download my "
                    "data\"), made in the background; `GET` tells how it goes. 409 "
                    "`conflict` while one is being made; 429 past `limits.exports_per_hour` "
                    f"({limits.exports_per_hour}) an hour. Kept `limits.export_keep_hours` "
                    f"({limits.export_keep_hours:g}) hours once ready.",
                    tag="accounts", op_id="startExport",
                    ok=ok(202, "Started.", self.sent({"export": export_object}),
                          {"export": {**export_example, "state": "running",
                                      "finished_at": None, "expires_at": None, "size": None,
                                      "url": None, "messages": 0, "files": 0}}),
                    errors=(409, 429),
                ),
            },
            "/api/me/export/download": {"get": self.op(
                "Download my data",
                "The zip of the latest export that is ready, though a newer one may run "
                "or have failed since (`application/zip`, "
                "`Content-Disposition: attachment`), with the Bearer token, or with the "
                "signed `url` of `GET /api/me/export` (with any of `user`, `exp`, `sig` in "
                "the query the request is judged by them alone: 403 when bad, incomplete or "
                "expired). `Range`, `If-None-Match` and `HEAD` are "
                "answered. 404 when none is ready.",
                tag="accounts", auth="link", op_id="downloadExport",
                parameters=[{"name": "user", "in": "query", "required": False,
                             "schema": {"type": "string", "pattern": "^[0-9]{1,18}$"},
                             "description": "With a signed link: the user's id."},
                            *file_headers],
                ok={
                    "200": {"description": "The archive.", "headers": file_answer_headers,
                            "content": {"application/zip": {"schema": {
                                "type": "string", "format": "binary"}}}},
                    "206": {"description": "The range asked for.", "headers": {
                        **file_answer_headers,
                        "Content-Range": {"required": True, "schema": {
                            "type": "string", "pattern": r"^bytes [0-9]+-[0-9]+/[0-9]+$"}}},
                        "content": {"application/zip": {"schema": {
                            "type": "string", "format": "binary"}}}},
                    "304": {"description": "Not modified (`If-None-Match`).",
                            "headers": {"ETag": file_answer_headers["ETag"]}},
                },
                errors=(403, 404, 416),
            )},
            "/api/email/confirm/{token}": {"get": self.op(
                "Open an address's confirmation link (deprecated)",
                "The links mailed before they carried the token in the fragment (`POST "
                "/api/email/confirm`), opened in a browser: a small page that says the "
                "address is confirmed (200), or why the link does not work (400: expired, "
                "used, unknown, the address taken by another account). Once only. Kept "
                "for the links already mailed (24 hours); the token in the path is kept "
                "by access logs.",
                tag="accounts", auth="none", op_id="confirmEmail", deprecated=True,
                parameters=[email_token],
                ok={"200": {"description": "Confirmed.", "content": html_page},
                    "400": {"description": "The link does not work.", "content": html_page}},
            )},
            "/api/email/unsubscribe/{token}": {
                "get": self.op(
                    "Open a missed-message email's unsubscribe link",
                    "A page with a button that turns the emails off (a POST to the same "
                    "link); the GET itself changes nothing, so that a link scanner cannot "
                    "unsubscribe anyone. 400 for a link that is not valid.",
                    tag="accounts", auth="none", op_id="emailUnsubscribePage",
                    parameters=[unsubscribe_token],
                    ok={"200": {"description": "The page.", "content": html_page},
                        "400": {"description": "Not a valid link.", "content": html_page}},
                ),
                "post": self.op(
                    "Turn missed-message emails off",
                    "The page's button, or a mail client's one-click unsubscribe (RFC 8058: "
                    "the mails carry `List-Unsubscribe` and `List-Unsubscribe-Post`; the "
                    "body, `List-Unsubscribe=One-Click`, is not read). Answers a page.",
                    tag="accounts", auth="none", op_id="unsubscribeEmails",
                    parameters=[unsubscribe_token],
                    ok={"200": {"description": "Off.", "content": html_page},
                        "400": {"description": "Not a valid link.", "content": html_page}},
                ),
            },
            "/api/password-reset": {"post": self.op(
                "Ask for a password reset link",
                "Mails a link to the page, `<public url>/#reset=<token>` (once, for an "
                "hour), to the account that `user` names: its user name or its confirmed "
                "address (any case), if it is active and has a confirmed address. Always "
                "202, whether or not there is such an account (nobody learns who has an "
                "account or an address here); 3 mails per account an hour (past it, still "
                "202, nothing mailed); 10 requests per client address an hour (429). 409 "
                "`email_disabled` when the server sends no email.",
                tag="accounts", auth="none", op_id="requestPasswordReset",
                body=_json(self.body({"user": {"type": "string", "minLength": 1,
                                               "maxLength": 254,
                                               "description": "A user name or an email "
                                                              "address."}}, ["user"]),
                           {"user": "ann"}),
                ok=ok(202, "Taken (a link is mailed if there is an account to mail it to).",
                      self.sent({}), {}),
                errors=(409, 429),
            )},
            "/api/password-reset/complete": {"post": self.op(
                "Set a new password with a reset link",
                "The page, opened at the link mailed (`<public url>/#reset=<token>`), posts "
                "the token with the password (the registration's rules: "
                f"{config.auth.min_password_length}-{MAX_PASSWORD_LENGTH} characters, "
                "`min_password_length` of `GET /api/register`), which replaces the old "
                "one; the token is spent, and every session and token of the account ends "
                "on every node (log in again). 400 `bad_token` for a link that is unknown, "
                "used or expired (or of a deactivated account), `bad_request` for a "
                "password the rules refuse.",
                tag="accounts", auth="none", op_id="completePasswordReset",
                body=_json(self.body({
                    "token": {"type": "string", "maxLength": 128},
                    "password": {"type": "string",
                                 "minLength": config.auth.min_password_length,
                                 "maxLength": MAX_PASSWORD_LENGTH, "pattern": NO_NUL}},
                    ["token", "password"]),
                    {"token": "k3J9dWq2x7Yb0Zr5Tn8Lp1Vc4Hs6Mg2A",
                     "password": "correct horse battery"}),
                ok=ok(200, "Set.", self.sent({"user": {
                    "type": "string", "description": "The account's name, to log in with."}}),
                    {"user": "ann"}),
            )},
            "/api/password-reset/{token}": {"post": self.op(
                "Set a new password with a reset link (deprecated)",
                "As `POST /api/password-reset/complete`, the token in the path (where "
                "access logs keep it), for pages loaded before it. The password (the "
                "registration's rules: "
                f"{config.auth.min_password_length}-{MAX_PASSWORD_LENGTH} characters) "
                "replaces the old one; the token is spent, and every session and token of "
                "the account ends on every node (log in again). 400 `bad_token` for a link "
                "that is unknown, used or expired (or of a deactivated account), "
                "`bad_request` for a password the rules refuse.",
                tag="accounts", auth="none", op_id="resetPasswordByEmail", deprecated=True,
                parameters=[email_token],
                body=_json(self.body({"password": {
                    "type": "string", "minLength": config.auth.min_password_length,
                    "maxLength": MAX_PASSWORD_LENGTH, "pattern": NO_NUL}}, ["password"]),
                    {"password": "correct horse battery"}),
                ok=ok(200, "Set.", self.sent({"user": {
                    "type": "string", "description": "The account's name, to log in with."}}),
                    {"user": "ann"}),
            )},
            "/api/me/read-receipts": {"put": self.op(
                "Share read receipts, or not",
                "As the protocol's `set_read_receipts`: while `on` is false the user is left "
                "out of everyone's read receipts and no `seen` event tells of their reads "
                "(they still see other people's). On for every account until turned off. "
                "When it changed, the user's connections get the `read_receipts` event.",
                tag="accounts", op_id="setReadReceipts",
                body=_json(self.body({"on": {"type": "boolean"}}, ["on"]), {"on": False}),
                ok=ok(200, "Set.", self.sent({"on": {
                    "type": "boolean", "description": "Whether they share them now."}})),
                errors=(400,),
            )},
            "/api/me/keywords": {
                "get": self.op(
                    "List the notification keywords",
                    "The user's notification keywords as stored, in their order, as the "
                    "protocol's `keywords` (at most `limits.keywords_per_user`, "
                    f"{limits.keywords_per_user}: no paging).",
                    tag="accounts", op_id="keywords",
                    ok=ok(200, "The keywords.", self.sent(keywords_list),
                          {"keywords": ["deploy", "on call"]}),
                ),
                "put": self.op(
                    "Set the notification keywords",
                    "As the protocol's `set_keywords`: the list replaces the user's keywords "
                    "(`[]` clears them). Each is trimmed, 1 to "
                    f"{MAX_KEYWORD_CHARS} characters without control characters; duplicates "
                    "ignoring case are folded (the first kept), the order kept; at most "
                    f"`limits.keywords_per_user` ({limits.keywords_per_user}), else 400 "
                    "`bad_request`. A message holding one of them (no letter, digit or `_` "
                    "right before or after it, ignoring case) is pushed to the user as a "
                    "mention is (push kind `keyword`). When they changed, the user's "
                    "connections get the `keywords` event.",
                    tag="accounts", op_id="setKeywords",
                    body=_json(self.body({"keywords": keywords_list["keywords"]},
                                         ["keywords"]),
                               {"keywords": ["deploy", "on call"]}),
                    ok=ok(200, "Set: the list as stored.", self.sent(keywords_list),
                          {"keywords": ["deploy", "on call"]}),
                    errors=(400, 429),
                ),
            },
            "/api/me/drafts": {"get": self.op(
                "List the drafts",
                "The user's drafts, the latest stored first, as the protocol's `drafts` (at "
                f"most `limits.drafts_per_user`, {limits.drafts_per_user}: no paging), with "
                "that limit (`most`).",
                tag="accounts", op_id="drafts",
                ok=ok(200, "The drafts.", self.sent({
                    "drafts": {"type": "array", "items": _ref("Draft"),
                               "maxItems": limits.drafts_per_user},
                    "most": {"type": "integer", "minimum": 0},
                }), {"drafts": [{"room": "general", "text": "I think we shoul",
                                 "updated_at": 1700000000000}], "most": 200}),
            )},
            "/api/me/drafts/{room}": {
                "put": self.op(
                    "Save a draft",
                    "As the protocol's `set_draft`: the user's draft of the room (of the "
                    "thread whose root is message `thread`, when given) becomes `text` (at "
                    f"most `limits.max_text_chars`, {limits.max_text_chars}, characters; "
                    "empty or blank deletes it). The same text again is `unchanged`. A new "
                    f"draft past `limits.drafts_per_user` ({limits.drafts_per_user}) is 409 "
                    "`too_many_drafts`; a room the user is not in 403. When it changed, "
                    "the user's connections get the `draft` event. A message the user sends "
                    "there deletes it.",
                    tag="accounts", op_id="setDraft",
                    parameters=[room_param],
                    body=_json(self.body({
                        "text": {"type": "string", "maxLength": limits.max_text_chars},
                        "thread": {"type": ["integer", "null"], "minimum": 1,
                                   "description": "The msg_id of a thread's root; absent or "
                                                  "null: the room's own box."},
                    }, ["text"]), {"text": "I think we shoul"}),
                    ok=ok(200, "Saved: the draft as stored (`updated_at` absent and "
                          "`unchanged` true when nothing changed).", self.sent({
                              "room": _ref("RoomOrConversation"),
                              "thread": {"type": "integer", "minimum": 1},
                              "text": {"type": "string"},
                              "updated_at": {"type": "integer"},
                              "unchanged": {"type": "boolean"},
                          }, ["room", "text"])),
                    errors=(403, 404, 409, 429),
                ),
                "delete": self.op(
                    "Delete a draft",
                    "As the protocol's `set_draft` with an empty text (nothing to delete is "
                    "no error: `unchanged`). The user's connections get the `draft` event.",
                    tag="accounts", op_id="deleteDraft",
                    parameters=[room_param, query(
                        "thread", {"type": "integer", "minimum": 1},
                        "The msg_id of the thread's root: its draft, not the room's.")],
                    ok=ok(200, "Deleted (or there was none).", self.sent({
                        "room": _ref("RoomOrConversation"),
                        "thread": {"type": "integer", "minimum": 1},
                        "text": {"type": "string", "const": ""},
                        "updated_at": {"type": "integer"},
                        "unchanged": {"type": "boolean"},
                    }, ["room", "text"])),
                    errors=(400, 429),
                ),
            },
            "/api/me/profile": {"put": self.op(
                "Set the profile",
                "The user's display name and custom status, as the protocol's "
                "`set_profile`: a field absent is unchanged, null clears it. The status is "
                "replaced whole, and ends by itself at `until` (ms since the epoch) or after "
                f"`duration` seconds (at most {MAX_STATUS_SECONDS}, 30 days); without either, "
                "when cleared. Text is one line (no control or invisible formatting "
                "characters), trimmed. The user's connections, room mates and watchers get "
                "the `profile` event when what they see changed.",
                tag="accounts", op_id="setProfile",
                body=_json(self.body({
                    "display_name": {"type": ["string", "null"],
                                     "maxLength": MAX_DISPLAY_NAME_CHARS},
                    "custom_status": {"anyOf": [self.body({
                        "emoji": {"type": "string", "maxLength": MAX_EMOJI_CHARS},
                        "text": {"type": "string", "maxLength": MAX_STATUS_TEXT_CHARS},
                        "until": {"type": ["integer", "null"], "minimum": 0},
                        "duration": {"type": "integer", "minimum": 1,
                                     "maximum": MAX_STATUS_SECONDS},
                    }, []), {"type": "null"}]},
                }, []), {"display_name": "Ann Lee", "custom_status": {
                    "emoji": "📅", "text": "In a meeting", "duration": 3600}}),
                ok=ok(200, "The profile as stored.", self.sent({
                    "user": {"type": "string"},
                    "display_name": {"type": ["string", "null"]},
                    "custom_status": {"anyOf": [_ref("CustomStatus"), {"type": "null"}]},
                    "avatar": {"anyOf": [_ref("Avatar"), {"type": "null"}]},
                })),
                errors=(400, 429),
            )},
            "/api/me/avatar": {
                "put": self.op(
                    "Set the profile picture",
                    "One `multipart/form-data` part named `file`: a PNG, JPEG, GIF or WebP "
                    "image (the bytes decide, not the declared type) of at most "
                    f"`files.max_bytes` ({config.files.max_bytes}) bytes and "
                    f"`files.max_image_pixels` ({config.files.max_image_pixels}) pixels; "
                    "anything else is `bad_request`. The server keeps its centred square, "
                    "256x256 WebP (not the original, and not against the quota). The "
                    "user's connections, room mates and watchers get the `profile` event. "
                    "Counted with the profile changes.",
                    tag="accounts", op_id="setAvatar",
                    body=multipart(),
                    ok=ok(200, "The profile as stored.", _ref("Profile")),
                    errors=(400, 429),
                ),
                "delete": self.op(
                    "Remove the profile picture",
                    "The `profile` event is told as for a new one (not when there was "
                    "none). Counted with the profile changes.",
                    tag="accounts", op_id="removeAvatar",
                    ok=ok(200, "The profile as stored.", _ref("Profile")),
                    errors=(429,),
                ),
            },
            "/api/avatars/{sha256}": {"get": picture(
                "A profile picture",
                "The bytes of a picture (an `avatar`'s `url`), for anyone with the url: no "
                "token. The url is named by the bytes, so a picture never changes under it "
                "(cached publicly for a year); one replaced or removed is 404.",
                tag="accounts", op_id="avatar",
            )},
            "/api/emoji": {
                "get": self.op(
                    "The custom emoji",
                    "Every custom emoji of the server, by name (the protocol's "
                    "`custom_emoji`): every user sees every one.",
                    tag="emoji", op_id="customEmoji",
                    ok=ok(200, "The custom emoji.", self.sent(
                        {"emoji": {"type": "array", "items": _ref("CustomEmoji")}})),
                ),
                "post": self.op(
                    "Add a custom emoji",
                    "Two `multipart/form-data` parts: `name` (1-32 of `a-z`, `0-9`, `_`, `+`, "
                    "`-`; bare or as `:name:`) and `file`, a PNG, JPEG, GIF or WebP image "
                    "(the bytes decide) of at most `emoji.max_bytes` "
                    f"({config.emoji.max_bytes}) bytes and `files.max_image_pixels` "
                    f"({config.files.max_image_pixels}) pixels; anything else is "
                    "`bad_request`. The server keeps a WebP that fits 128x128 (animated when "
                    "the image is), not the original. A name in use is `conflict`; with "
                    "`emoji.who_can_add` \"admins\", a user who is not one is `forbidden`. "
                    "Every connected user gets the `custom_emoji` event. Counted with the "
                    "uploads (`limits.uploads_per_minute`).",
                    tag="emoji", op_id="addCustomEmoji",
                    body=multipart(name={
                        "type": "string", "pattern": "^([a-z0-9_+-]{1,32}|:[a-z0-9_+-]{1,32}:)$",
                        "examples": ["partyparrot"]}),
                    ok=ok(201, "The emoji added.", self.sent(
                        {"emoji": _ref("CustomEmoji")})),
                    errors=(403, 409, 429),
                ),
            },
            "/api/emoji/{name}": {"delete": self.op(
                "Remove a custom emoji",
                "By who added it or a server administrator. Reactions with it stay. Every "
                "connected user gets the `custom_emoji` event, `url` null.",
                tag="emoji", op_id="removeCustomEmoji",
                parameters=[path_param("name", {"type": "string"},
                                       "The emoji's name.", "partyparrot")],
                ok={"204": {"description": "Removed."}},
                errors=(400, 403, 404),
            )},
            "/api/emoji/images/{sha256}": {"get": picture(
                "A custom emoji's picture",
                "The bytes of a custom emoji's picture (its `url`), for anyone with the "
                "url: no token, as profile pictures. Named by the bytes, cached publicly "
                "for a year; a removed emoji's is 404.",
                tag="emoji", op_id="customEmojiImage",
            )},
            "/api/groups": {
                "get": self.op(
                    "The user groups",
                    "Every user group of the server, by name, each with `you` (the "
                    "protocol's `user_groups`).",
                    tag="groups", op_id="userGroups",
                    ok=ok(200, "The groups.", self.sent(
                        {"groups": {"type": "array", "items": _ref("UserGroupListed")}})),
                ),
                "post": self.op(
                    "Create a user group",
                    "As the protocol's `create_user_group`: `members` are user names (any "
                    "case; the creator only if listed); one who is nobody is `not_found`, "
                    "a name a group or a user has is `conflict`. With "
                    "`user_groups.who_can_create` \"admins\", a user who is not one is "
                    f"`forbidden`. At most `limits.user_groups` ({limits.user_groups}) "
                    "groups and `limits.user_group_members` "
                    f"({limits.user_group_members}) members (`bad_request`). Everyone gets "
                    "the `user_group` event.",
                    tag="groups", op_id="createUserGroup",
                    body=_json(self.body({
                        "name": {"type": "string"},
                        "description": {"type": ["string", "null"],
                                        "maxLength": MAX_GROUP_DESCRIPTION_CHARS,
                                        "description": "null: none."},
                        "members": {"type": ["array", "null"], "items": _ref("UserName"),
                                    "maxItems": MAX_GROUP_NAMES},
                    }, ["name"]), {"name": "backend", "description": "Server people",
                                   "members": ["bob", "cid"]}),
                    ok=ok(201, "The group made.", self.sent({"group": _ref("UserGroup")})),
                    errors=(403, 404, 409, 429),
                ),
            },
            "/api/groups/{name}": {
                "get": self.op(
                    "A user group and its members",
                    "The group and its members' names as registered, sorted ignoring case "
                    "(the protocol's `user_group`).",
                    tag="groups", op_id="userGroup",
                    parameters=[group_param],
                    ok=ok(200, "The group.", self.sent(
                        {"group": _ref("UserGroup"),
                         "members": {"type": "array", "items": {"type": "string"}}})),
                    errors=(400, 404),
                ),
                "patch": self.op(
                    "Change a user group",
                    "As the protocol's `edit_user_group`: a new `description`, members to "
                    "`add` and to `remove` (at least one of the three; no name in both). "
                    "By its members, its creator and administrators (`forbidden` "
                    "otherwise). Everyone gets the `user_group` event.",
                    tag="groups", op_id="editUserGroup",
                    parameters=[group_param],
                    body=_json(self.body({
                        "description": {"type": ["string", "null"],
                                        "maxLength": MAX_GROUP_DESCRIPTION_CHARS,
                                        "description": "null: as it is."},
                        "add": {"type": ["array", "null"], "items": _ref("UserName"),
                                "maxItems": MAX_GROUP_NAMES},
                        "remove": {"type": ["array", "null"], "items": _ref("UserName"),
                                   "maxItems": MAX_GROUP_NAMES},
                    }, []), {"add": ["dan"], "remove": ["bob"]}),
                    ok=ok(200, "The group as changed.", self.sent(
                        {"group": _ref("UserGroup")})),
                    errors=(403, 404, 429),
                ),
                "delete": self.op(
                    "Delete a user group",
                    "By its members, its creator and administrators (`forbidden` "
                    "otherwise). Everyone gets the `user_group` event.",
                    tag="groups", op_id="deleteUserGroup",
                    parameters=[group_param],
                    ok=empty(200, "Deleted."),
                    errors=(400, 403, 404, 429),
                ),
            },
            "/api/users/{name}": {"get": self.op(
                "A user's profile",
                "Their display name and custom status, as the protocol's `profiles` gives "
                "them; any logged-in user may read any user's. (A name of dots, `.` or `..`, "
                "must be percent-encoded in the path.)",
                tag="accounts", op_id="userProfile",
                parameters=[path_param("name", _ref("UserName"), "The user, in any case.",
                                       "ann")],
                ok=ok(200, "The profile.", _ref("Profile")),
                errors=(400, 404),
            )},
            "/api/rooms/{room}/notify": {"put": self.op(
                "Set a room's notification level",
                "The user's level for a room or conversation they are in, as the "
                "protocol's `set_notify`; their connections get the `notify` event.",
                tag="rooms", op_id="setNotify",
                parameters=[room_param],
                body=_json(self.body({"notify": _ref("NotifyLevel")}, ["notify"]),
                           {"notify": "all"}),
                ok=ok(200, "Set.", self.sent({"room": {"type": "string"},
                                              "notify": _ref("NotifyLevel")})),
                errors=(403, 404),
            )},
            "/api/rooms/{room}/hidden": room_switch(
                _HIDDEN,
                on=("Close a conversation",
                    "As the protocol's `hide`: the conversation (kind `dm` or `group`) "
                    "leaves the user's list until someone writes in it (its `hidden_seq` is "
                    "its `last_seq` now). A room is refused (400). The user's connections "
                    "get the `hidden` event.",
                    "hideConversation", "Closed."),
                off=("Show a closed conversation",
                     "As the protocol's `hide` with `on: false`: `hidden_seq` is cleared. The "
                     "user's connections get the `hidden` event.",
                     "showConversation", "Shown."),
            ),
            "/api/rooms/{room}/favourite": room_switch(
                _FAVOURITE,
                on=("Mark a favourite",
                    "As the protocol's `favourite`: the room or conversation (any kind, "
                    "archived too) becomes one of the user's favourites, listed with the "
                    "others at the top of every device's list. Marking a favourite again "
                    "changes nothing. The user's connections get the `favourite` event when "
                    "it changed.",
                    "markFavourite", "Marked."),
                off=("Unmark a favourite",
                     "As the protocol's `favourite` with `on: false`. Unmarking what is not a "
                     "favourite changes nothing. The user's connections get the `favourite` "
                     "event when it changed.",
                     "unmarkFavourite", "Unmarked."),
            ),
            "/api/rooms/{room}/section": {
                "put": self.op(
                    "Put a room into a section",
                    "As the protocol's `set_section`: the room or conversation (any kind) "
                    "goes into one of the user's own sections (`not_found` for a section "
                    "not theirs). Putting it where it is changes nothing. The user's "
                    "connections get the `section` event when it moved.",
                    tag="rooms", op_id="setSection", parameters=[room_param],
                    body=_json(self.body({"section": {
                        "type": ["integer", "null"], "minimum": 1, "maximum": MAX_SEQ,
                        "description": "The section's id; null: the default lists (as "
                                       "`DELETE`)."}}, ["section"]), {"section": 7}),
                    ok=ok(200, "Moved.", self.sent(_SECTION_OF_ROOM)),
                    errors=(403, 404, 429),
                ),
                "delete": self.op(
                    "Put a room back into the default lists",
                    "As the protocol's `set_section` with `section: null`. The user's "
                    "connections get the `section` event when it moved.",
                    tag="rooms", op_id="clearSection", parameters=[room_param],
                    ok=ok(200, "Moved.", self.sent(_SECTION_OF_ROOM)),
                    errors=(400, 403, 404, 429),
                ),
            },
            "/api/sections": {
                "get": self.op(
                    "List the user's sections",
                    "The user's own sidebar sections, in their order, as the protocol's "
                    "`sections` (at most `limits.sections_per_user`, "
                    f"{limits.sections_per_user}: no paging).",
                    tag="accounts", op_id="sections",
                    ok=ok(200, "The sections.", self.sent(sections_list)),
                ),
                "post": self.op(
                    "Create a section",
                    "As the protocol's `create_section`: a new, expanded, empty section at "
                    "`position` in the user's list (0 first; absent or past the end: last). "
                    "A name the user has in any case is `conflict`; at most "
                    f"`limits.sections_per_user` ({limits.sections_per_user}) sections "
                    "(409 `too_many_sections`). The user's connections get the `sections` "
                    "event.",
                    tag="accounts", op_id="createSection",
                    body=_json(self.body({"name": section_name, "position": {
                        **position, "type": ["integer", "null"],
                        "description": "Its place in the user's list: 0 first; null or past "
                                       "the end: last."}},
                                         ["name"]), {"name": "Work", "position": 0}),
                    ok=ok(201, "The section made.", self.sent(section_and_list)),
                    errors=(409, 429),
                ),
            },
            "/api/sections/{section}": {
                "patch": self.op(
                    "Change a section",
                    "As the protocol's `edit_section`: rename it, collapse or expand it, "
                    "move it to `position` (at least one of the three). 404 for a section "
                    "not the user's. The user's connections get the `sections` event when "
                    "it changed.",
                    tag="accounts", op_id="editSection", parameters=[section_param],
                    body=_json(self.body({"name": section_name,
                                          "collapsed": {"type": "boolean"},
                                          "position": position}, [],
                                         minProperties=1), {"collapsed": True}),
                    ok=ok(200, "The section as changed.", self.sent(section_and_list)),
                    errors=(404, 409, 429),
                ),
                "delete": self.op(
                    "Delete a section",
                    "As the protocol's `delete_section`: its rooms go back to the default "
                    "lists. 404 for a section not the user's. The user's connections get the "
                    "`sections` event.",
                    tag="accounts", op_id="deleteSection", parameters=[section_param],
                    ok=ok(200, "Deleted.", self.sent({
                        "section": {"type": "integer", "minimum": 1},
                        "sections": sections_list["sections"]})),
                    errors=(400, 404, 429),
                ),
            },
            "/api/rooms/{room}/messages/{msg_id}": {"delete": self.op(
                "Delete a message",
                "As the protocol's `delete`: by its author, or by whoever moderates the room "
                "(its owner, its moderators, an administrator). Answered once the `deleted` "
                "entry is committed; a message deleted already is `unchanged`.",
                tag="moderation", op_id="deleteMessage",
                parameters=[room_param, msg_id_param],
                ok=ok(200, "Deleted.", changed_entry()),
                errors=(400, 403, 404, 429),
            )},
            "/api/rooms/{room}/messages/{msg_id}/preview": {"delete": self.op(
                "Remove a message's link preview",
                "As the protocol's `remove_preview`: by the message's author, or by whoever "
                "moderates the room. Answered once the `preview` entry (`removed`) is "
                "committed; a message without a preview is `unchanged`. It stays removed "
                "until an edit changes the text's first link.",
                tag="moderation", op_id="removePreview",
                # (6: a message of ann's that stays; 5 is deleted by the example above)
                parameters=[room_param, path_param(
                    "msg_id", {"type": "integer", "minimum": 0, "maximum": 10**18 - 1},
                    "The message's `msg_id`.", 6)],
                ok=ok(200, "Removed.", changed_entry()),
                errors=(400, 403, 404, 429),
            )},
            "/api/rooms/{room}/topic": {"put": self.op(
                "Set a room's topic",
                "As the protocol's `set_topic`: by whoever moderates the room; a `topic` "
                "entry of its log (the same topic again is `unchanged`).",
                tag="moderation", op_id="setTopic",
                parameters=[room_param],
                body=_json(self.body({"topic": {"type": "string",
                                                "maxLength": MAX_TOPIC_CHARS,
                                                "pattern": NO_NUL}}, ["topic"]),
                           {"topic": "release on Friday"}),
                ok=ok(200, "Set.", changed_entry()),
                errors=(403, 404, 409, 429),
            )},
            "/api/rooms/{room}/archived": {"put": self.op(
                "Archive or unarchive a room",
                "As the protocol's `archive`: by the room's owner or an administrator (never "
                "a conversation). An archived room is read-only (sends, edits, reactions, "
                "typing, a topic, invitations and joins by non-members are refused with "
                "409 `archived`) until it is unarchived; an `archived` entry of its log "
                "either way (the same state again is `unchanged`).",
                tag="moderation", op_id="setArchived",
                parameters=[path_param("room", _ref("RoomOrConversation"),
                                       "A room name.", "attic")],
                body=_json(self.body({"archived": {"type": "boolean"}}, ["archived"]),
                           {"archived": True}),
                ok=ok(200, "Set.", self.sent({
                    "room": {"type": "string"}, "archived": {"type": "boolean"},
                    "seq": seq_schema, "ts": {"type": "integer", "minimum": 0},
                    "unchanged": {"const": True}},
                    required=["room", "archived", "seq", "ts"])),
                errors=(403, 404, 429),
            )},
            "/api/rooms/{room}/members/{user}": {"delete": self.op(
                "Kick a member",
                "As the protocol's `kick`: by whoever moderates the room and outranks the "
                "member; a `kicked` entry, then `left` to the room (the member's connections "
                "included, on every node). Kicking a non-member is `unchanged`.",
                tag="moderation", op_id="kick",
                parameters=[room_param, member_param("cid")],
                body=_json(self.body({"reason": reason}, []), {"reason": "off topic"}),
                body_required=False,
                ok=ok(200, "Kicked.", moderated()),
                errors=(403, 404, 429),
            )},
            "/api/rooms/{room}/members/{user}/role": {"put": self.op(
                "Set a member's role",
                "As the protocol's `set_role`: by the room's owner or an administrator; "
                "`owner` hands the room over (the old owner becomes a moderator).",
                tag="moderation", op_id="setRole",
                parameters=[room_param, member_param("bob")],
                body=_json(self.body({"role": _ref("Role")}, ["role"]),
                           {"role": "moderator"}),
                ok=ok(200, "Set.", moderated(role=_ref("Role"))),
                errors=(403, 404, 429),
            )},
            "/api/rooms/{room}/bans": {
                "get": self.op(
                    "List a room's bans",
                    "As the protocol's `bans`: the bans in force, newest first, for whoever "
                    "moderates the room.",
                    tag="moderation", op_id="listBans",
                    parameters=[room_param],
                    ok=ok(200, "The bans.", self.sent({
                        "room": {"type": "string"},
                        "bans": {"type": "array", "items": _ref("Ban")}})),
                    errors=(400, 403, 404),
                ),
                "post": self.op(
                    "Ban a user",
                    "As the protocol's `ban`: by whoever moderates the room and outranks the "
                    "user; removes them (a `banned` entry, then `left`) and keeps them out "
                    "(no join, invitation or reading) until `expires_at`, for `duration` "
                    "seconds, or until unbanned.",
                    tag="moderation", op_id="ban",
                    parameters=[room_param],
                    body=_json(self.body({
                        "user": _ref("UserName"),
                        "reason": reason,
                        "expires_at": {"type": ["integer", "null"], "minimum": 1,
                                       "maximum": MAX_SEQ,
                                       "description": "ms since the epoch, in the future "
                                                      "(null: none)."},
                        "duration": {"type": ["integer", "null"], "minimum": 1,
                                     "maximum": MAX_BAN_SECONDS,
                                     "description": "Seconds; not with `expires_at` (null: "
                                                    "none)."},
                        "delete_messages": {
                            "type": ["integer", "null"], "minimum": 0,
                            "maximum": MAX_DELETE_SECONDS,
                            "description": "Also delete the user's messages to the room of the "
                                           "last that many seconds (0 or null: none), each a "
                                           "`deleted` entry by the moderator; at most 1,000 "
                                           "a request."},
                    }, ["user"]), {"user": "dan", "reason": "spam", "duration": 86400,
                                   "delete_messages": 3600}),
                    ok=ok(200, "Banned.", moderated(
                        reason={"type": "string"},
                        expires_at={"type": ["integer", "null"], "minimum": 0},
                        optional={
                            "deleted": {"type": "integer", "minimum": 0, "description":
                                        "With `delete_messages`: how many messages were "
                                        "deleted."},
                            "more_deleted": {"const": True, "description":
                                             "More remain: ban again to delete them."}})),
                    errors=(403, 404, 429),
                ),
            },
            "/api/rooms/{room}/bans/{user}": {"delete": self.op(
                "Lift a ban",
                "As the protocol's `unban`; `unchanged` when the user was not banned.",
                tag="moderation", op_id="unban",
                parameters=[room_param, member_param("dan")],
                ok=ok(200, "Lifted.", moderated()),
                errors=(400, 403, 404, 429),
            )},
            "/api/rooms/{room}/links": {
                "get": self.op(
                    "List a room's join links",
                    "As the protocol's `room_links`: a page of the room's links, newest first "
                    "(never a token): every one for those who moderate the room (`all` "
                    "true), else the user's own. The next page: `before` the last `id`.",
                    tag="rooms", op_id="roomLinks",
                    parameters=[
                        room_param,
                        query("limit", {"type": "integer", "minimum": 1,
                                        "maximum": LINKS_PAGE_MAX},
                              f"At most this many (default {LINKS_PAGE})."),
                        query("before", {"type": "integer", "minimum": 1, "maximum": MAX_SEQ},
                              "Only links with a lower id."),
                    ],
                    ok=ok(200, "A page of links.", self.sent({
                        "room": {"type": "string"},
                        "links": {"type": "array", "items": _ref("RoomLink")},
                        "more": {"type": "boolean"},
                        "all": {"type": "boolean", "description": "Everyone's links, not "
                                "only the user's."}})),
                    errors=(400, 404),
                ),
                "post": self.op(
                    "Make a join link to a room",
                    "As the protocol's `create_room_link`: a link that makes whoever holds it "
                    "(and has an account) a member of the room, private or not, for `uses` "
                    f"joins (1-{LINK_MAX_USES}, default 1) until `expires_in` seconds from "
                    f"now ({LINK_MIN_SECONDS}-{LINK_MAX_SECONDS}, default "
                    f"{LINK_DEFAULT_SECONDS}: 7 days). Whoever may invite into the room may "
                    "make one (its members). The token is shown this once (the server keeps "
                    "its hash), with the link to give (`server.public_url`, else the "
                    "request's Host; then `/#join=` and the token). 20 at once, then 20 an "
                    "hour.",
                    tag="rooms", op_id="createRoomLink",
                    parameters=[room_param],
                    body=_json(self.body({
                        "uses": {"type": "integer", "minimum": 1, "maximum": LINK_MAX_USES,
                                 "default": 1},
                        "expires_in": {"type": "integer", "minimum": LINK_MIN_SECONDS,
                                       "maximum": LINK_MAX_SECONDS,
                                       "default": LINK_DEFAULT_SECONDS,
                                       "description": "Seconds from now."},
                    }, []), {"uses": 5, "expires_in": 86400}),
                    body_required=False,
                    ok=ok(201, "Made.", self.sent({
                        "link": _ref("RoomLink"),
                        "token": {"type": "string", "pattern": "^[A-Za-z0-9_-]{32}$",
                                  "description": "Shown this once."},
                        "url": {"type": "string", "description": "The link to give."}})),
                    errors=(400, 403, 404, 409, 429),
                ),
            },
            "/api/rooms/{room}/audit": {"get": self.op(
                "Read a room's audit log",
                "As the protocol's `audit`: the room's moderation, newest first, for "
                "whoever moderates it. The next page: `before` the last `id`.",
                tag="moderation", op_id="roomAudit",
                parameters=[
                    room_param,
                    query("limit", {"type": "integer", "minimum": 1,
                                    "maximum": AUDIT_PAGE_MAX},
                          f"At most this many (default {AUDIT_PAGE})."),
                    query("before", {"type": "integer", "minimum": 1, "maximum": MAX_SEQ},
                          "Only entries with a lower id."),
                ],
                ok=ok(200, "A page of the room's audit log.", self.sent({
                    "room": {"type": "string"},
                    "entries": {"type": "array", "items": _ref("AuditEntry")},
                    "more": {"type": "boolean"}})),
                errors=(400, 403, 404),
            )},
            "/api/admin/users": {"get": admin_op(
                "List users",
                "A page of the users by name ignoring case, those whose name holds `query`; "
                "the next page: `after` the last name.",
                "adminUsers",
                self.sent({"users": {"type": "array", "items": _ref("AdminUser")},
                           "more": {"type": "boolean"}}),
                parameters=[query("query", {"type": "string", "pattern": NO_NUL},
                                  "A part of the name, any case."),
                            query("after", {"type": "string", "pattern": NO_NUL},
                                  "The page starts after this name."),
                            page_limit],
            )},
            "/api/admin/users/{name}/deactivate": {"post": admin_op(
                "Deactivate an account",
                "Its sessions end on every node, its tokens and log-ins are refused, its "
                "push subscriptions are forgotten; its messages stay, but for those of the "
                "last `delete_messages` seconds: deleted in every room and conversation, "
                "each a `deleted` entry by the administrator, at most 1,000 a request "
                "(`more_deleted`: deactivate again for the rest). Not oneself (400).",
                "deactivate", self.sent({
                    "user": _ref("AdminUser"),
                    "deleted": {"type": "integer", "minimum": 0, "description":
                                "With `delete_messages`: how many messages were deleted."},
                    "more_deleted": {"const": True, "description":
                                     "More remain: deactivate again to delete them."}},
                    required=["user"]),
                errors=(400, 404), parameters=[admin_user],
                body=_json(self.body({"delete_messages": {
                    "type": ["integer", "null"], "minimum": 0, "maximum": MAX_DELETE_SECONDS,
                    "description": "Also delete the account's messages of the last that "
                                   "many seconds (0 or null: none)."}}, []),
                    {"delete_messages": 86400}),
                body_required=False,
            )},
            "/api/admin/users/{name}/reactivate": {"post": admin_op(
                "Reactivate an account", "It can log in again.",
                "reactivate", self.sent({"user": _ref("AdminUser")}),
                errors=(400, 404), parameters=[admin_user],
            )},
            "/api/admin/users/{name}/password": {"post": admin_op(
                "Set a new password",
                "The one given, or a random one (then returned, once); the user's earlier "
                "tokens stop working and their sessions end on every node.",
                "resetPassword",
                self.sent({"user": _ref("AdminUser"),
                           "password": {"type": "string", "minLength": 1}},
                          required=["user"]),
                errors=(400, 404), parameters=[admin_user],
                body=_json(self.body({"password": {
                    "type": "string", "minLength": self.config.auth.min_password_length,
                    "maxLength": MAX_PASSWORD_LENGTH, "pattern": NO_NUL}}, []),
                    {"password": "a new password"}),
                body_required=False,
            )},
            "/api/admin/users/{name}/admin": {"post": admin_op(
                "Make an administrator",
                "A server administrator (`admin` true, the default) or no longer one; not "
                "oneself (400).",
                "setAdmin", self.sent({"user": _ref("AdminUser")}),
                errors=(400, 404), parameters=[admin_user],
                body=_json(self.body({"admin": {"type": "boolean", "default": True}}, []),
                           {"admin": True}),
                body_required=False,
            )},
            "/api/admin/rooms": {"get": admin_op(
                "List rooms",
                "A page of the rooms (not conversations) by name, with owner and member "
                "count, those whose name holds `query`; the next page: `after` the last "
                "name.",
                "adminRooms",
                self.sent({"rooms": {"type": "array", "items": _ref("AdminRoom")},
                           "more": {"type": "boolean"}}),
                parameters=[query("query", {"type": "string", "pattern": NO_NUL},
                                  "A part of the name."),
                            query("after", {"type": "string", "pattern": NO_NUL},
                                  "The page starts after this name."),
                            page_limit],
            )},
            "/api/admin/rooms/{room}": {"delete": admin_op(
                "Delete a room",
                "The room (never a conversation: 400) with its messages, changes, "
                "memberships, bans, webhooks and files (their bytes are collected later); its "
                "name is free at once. Its members' connections on every node get "
                "`room_deleted`; the scheduled messages to it are removed, their users told "
                "(a `scheduled` event `cancelled`, failed `not_found`); the audit log keeps a "
                "`delete_room` entry.",
                "deleteRoom", self.sent({}),
                errors=(400, 404),
                parameters=[path_param("room", _ref("RoomName"), "The room.", "scrap")],
            )},
            "/api/admin/stats": {"get": admin_op(
                "The server's figures",
                "This node's open protocol connections, the messages it committed per second "
                "over the last minute, and the database's size on disk.",
                "adminStats",
                self.sent({"connections": {"type": "integer", "minimum": 0},
                           "messages_per_second": {"type": "number", "minimum": 0},
                           "database_bytes": {"type": "integer", "minimum": 0},
                           "node": {"type": "string"}}),
                errors=(),
            )},
            "/api/admin/audit": {"get": admin_op(
                "Read the audit log",
                "Every moderation and admin action, newest first; the next page: `before` "
                "the last `id`.",
                "adminAudit",
                self.sent({"entries": {"type": "array", "items": _ref("AuditEntry")},
                           "more": {"type": "boolean"}}),
                parameters=[page_limit,
                            query("before", {"type": "integer", "minimum": 1,
                                             "maximum": MAX_SEQ},
                                  "Only entries with a lower id.")],
            )},
            "/api/rooms/{room}/files": {"post": self.op(
                "Upload a file",
                "One `multipart/form-data` part named `file`, read as it arrives; its "
                "`filename` (made safe) and `Content-Type` are kept. Attach it to a message "
                "with the protocol's `send` or `dm` `files`. At most `files.max_bytes` "
                f"({config.files.max_bytes} bytes) and what is left of the user's "
                f"`files.quota_bytes`; at most `limits.uploads_per_minute` "
                f"({limits.uploads_per_minute}) uploads a minute.",
                tag="files", op_id="upload",
                parameters=[{**room_param, "description": "A room or conversation the user "
                             "is a member of."}],
                body=multipart(),
                ok=ok(201, "Stored.", self.sent({"file": _ref("File")})),
                errors=(403, 404, 409, 429),
            )},
            "/api/files/links": {"post": self.op(
                "Sign links to files",
                "For each of the files the user may read (the others, and unknown ids, are "
                "left out), in the order asked, its `url` and `thumbnail_url` signed until "
                "`expires_at`: a GET of them needs no token until then.",
                tag="files", op_id="signLinks",
                body=_json(self.body({"ids": {
                    "type": "array", "maxItems": MAX_LINKS,
                    "items": {"type": "integer", "minimum": 1}}}, ["ids"]), {"ids": [1]}),
                ok=ok(200, "The links.", self.sent({"links": {"type": "array", "items":
                    self.sent({
                        "id": {"type": "integer", "minimum": 1},
                        "url": {"type": "string"},
                        "thumbnail_url": {"type": ["string", "null"]},
                        "expires_at": {"type": "integer", "minimum": 0},
                    })}})),
            )},
            "/api/files/{id}/{name}": {"get": file_download(
                "file", "*/*", "downloadFile",
                " (documents and scripts as `application/octet-stream`; "
                "`Content-Disposition: attachment` but for PNG, JPEG, GIF and WebP)")},
            "/api/thumbnails/{id}": {"get": file_download(
                "thumbnail", "image/webp", "downloadThumbnail",
                " (WebP, at most 400x400; 404 for a file without one)")},
            "/api/push/key": {"get": self.op(
                "The server's Web Push key",
                "The VAPID public key, an uncompressed P-256 point in base64url: the "
                "`applicationServerKey` to subscribe with.",
                tag="push", auth="none", op_id="pushKey",
                ok=ok(200, "The key.", self.sent({"public_key": {
                    "type": "string", "pattern": "^[A-Za-z0-9_-]{87}$"}})),
            )},
            "/api/push/subscriptions": {
                "post": self.op(
                    "Subscribe to Web Push",
                    "Keeps a browser's subscription (`PushSubscription.toJSON()`; other "
                    "fields are ignored). The endpoint must be an `https://` URL whose host "
                    "resolves to public addresses only. A user keeps at most 10; 10 at once, "
                    "then one a minute.",
                    tag="push", op_id="subscribe",
                    body=_json(self.body({
                        "endpoint": {"type": "string", "format": "uri",
                                     "maxLength": MAX_ENDPOINT_CHARS},
                        "keys": self.body({
                            "p256dh": {"type": "string", "description": "An uncompressed "
                                       "P-256 point (65 bytes), base64url."},
                            "auth": {"type": "string",
                                     "description": "16 bytes, base64url."},
                        }, ["p256dh", "auth"]),
                    }, ["endpoint", "keys"]), subscription_example),
                    ok=empty(201, "Subscribed."),
                    errors=(429,),
                ),
                "delete": self.op(
                    "Unsubscribe from Web Push",
                    "Forgets the user's subscription with this endpoint, if they have one.",
                    tag="push", op_id="unsubscribe",
                    body=_json(self.body({"endpoint": {"type": "string", "minLength": 1,
                                                       "pattern": NO_NUL}}, ["endpoint"]),
                               {"endpoint": subscription_example["endpoint"]}),
                    ok=empty(200, "Forgotten."),
                ),
            },
            "/api/bots": {
                "get": self.op(
                    "List the user's bots",
                    "The bots the user owns, by name, with their tokens' metadata (never a "
                    "token).",
                    tag="bots", op_id="listBots",
                    ok=ok(200, "The bots.", self.sent({"bots": {
                        "type": "array", "items": _ref("Bot")}})),
                ),
                "post": self.op(
                    "Make a bot",
                    "A bot account owned by the user, with its first API token, shown this "
                    "once (the server keeps its hash only). A bot cannot own bots (403). "
                    "10 new bots at once, then 10 an hour.",
                    tag="bots", op_id="createBot",
                    body=_json(self.body({
                        "name": _ref("UserName"),
                        "token_name": token_name,
                    }, ["name"]), {"name": "buildbot", "token_name": "ci"}),
                    ok=ok(201, "Made.", self.sent({"bot": _ref("Bot"), "token": bot_token})),
                    errors=(403, 409, 429),
                ),
            },
            "/api/bots/{name}/tokens": {"post": self.op(
                "Make a bot token",
                "A new API token of a bot the user owns (or any bot, for an administrator), "
                "shown this once. 20 new tokens at once, then 20 an hour.",
                tag="bots", op_id="createBotToken",
                parameters=[bot_param],
                body=_json(self.body({"name": token_name}, []), {"name": "deploy"}),
                body_required=False,
                ok=ok(201, "Made.", self.sent({
                    **self.schemas()["BotToken"]["properties"],
                    "bot": {"type": "string"},
                    "token": bot_token,
                })),
                errors=(403, 404, 429),
            )},
            "/api/bots/{name}/tokens/{id}": {"delete": self.op(
                "Revoke a bot token",
                "The token stops working at once, and the sessions it opened are closed "
                "with `unauthenticated` on every node. Revoking one twice is no error.",
                tag="bots", op_id="revokeBotToken",
                parameters=[bot_param, path_param("id", record_id, "The token's id.", 1)],
                ok=empty(200, "Revoked."),
                errors=(400, 403, 404),
            )},
            "/api/rooms/{room}/hooks": {
                "get": self.op(
                    "List a room's incoming webhooks",
                    "Those the user made, or all of them for the room's owner or an "
                    "administrator, oldest first (never a URL).",
                    tag="bots", op_id="listHooks",
                    parameters=[room_param],
                    ok=ok(200, "The webhooks.", self.sent({"hooks": {
                        "type": "array", "items": _ref("Hook")}})),
                    errors=(400, 404),
                ),
                "post": self.op(
                    "Make an incoming webhook",
                    "A URL that posts into the room as the bot (a bot the user manages; it "
                    "is invited into the room if it is not a member), shown this once. The "
                    "user must be a member of the room; not for a conversation. 20 new "
                    "webhooks at once, then 20 an hour.",
                    tag="bots", op_id="createHook",
                    parameters=[room_param],
                    body=_json(self.body({"bot": _ref("UserName")}, ["bot"]),
                               {"bot": "buildbot"}),
                    ok=ok(201, "Made.", self.sent({
                        "hook": _ref("Hook"),
                        "url": {"type": "string", "pattern": r"^/api/hooks/[A-Za-z0-9_-]+$",
                                "description": "`POST` to it, with no token."},
                    })),
                    errors=(403, 404, 429),
                ),
            },
            "/api/rooms/{room}/hooks/{id}": {"delete": self.op(
                "Delete an incoming webhook",
                "By its creator, the room's owner or an administrator; its URL is 404 from "
                "now on.",
                tag="bots", op_id="deleteHook",
                parameters=[room_param, path_param("id", record_id, "The webhook's id.", 1)],
                ok=empty(200, "Deleted."),
                errors=(400, 403, 404),
            )},
            "/api/hooks/{secret}": {"post": self.op(
                "Post through an incoming webhook",
                "Posts `text` into the webhook's room as its bot, with no token: the URL is "
                "the credential. The text is checked as a `send`'s; the answer comes once "
                "the message is committed. A `key` posted to this webhook before stores "
                "nothing and is answered 200 with the first message. At most "
                f"`limits.hook_burst` ({limits.hook_burst}) posts at once, then "
                f"`limits.hook_rate` ({limits.hook_rate}) a second, per webhook, and the "
                "bot's own send rate. 403 when the bot is no longer a member of the room, 409 "
                "while the room is archived.",
                tag="bots", auth="none", op_id="postToHook",
                parameters=[path_param(
                    "secret", {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,128}$"},
                    "The secret of the webhook's URL.",
                    "Yx3m1B0yUuFq2h8o4vV6bq0n9cJtZ5pW7eR2kLsD1aE")],
                body=_json(self.body({
                    "text": {"type": "string", "minLength": 1,
                             "maxLength": limits.max_text_chars, "pattern": NO_NUL,
                             "description": "Not blank."},
                    "key": {"type": ["string", "null"], "minLength": 1,
                            "maxLength": MAX_KEY_CHARS, "pattern": NO_NUL,
                            "description": "Makes the post idempotent; null is none."},
                }, ["text"]), {"text": "build #12 failed", "key": "build-12"}),
                ok={**ok(201, "Posted.", posted(False)),
                    **ok(200, "Posted before with this `key`: the first message.",
                         posted(True))},
                errors=(403, 404, 409, 429),
            )},
            "/api/rooms/{room}/webhook": {
                "get": self.op(
                    "A room's outgoing webhook",
                    "To the room's owner or an administrator, without its secret; 404 when "
                    "the room has none.",
                    tag="bots", op_id="getWebhook",
                    parameters=[room_param],
                    ok=ok(200, "The webhook.", webhook(False)),
                    errors=(400, 403, 404),
                ),
                "put": self.op(
                    "Set a room's outgoing webhook",
                    "By the room's owner or an administrator: every new message of the room "
                    "is POSTed to `url`, signed with `secret` (made when left out). The URL "
                    "must be `https://` and its host resolve to public addresses only (unless "
                    "`webhooks.allow_private_endpoints`); not for a conversation. 10 "
                    "changes at once, then one a minute.",
                    tag="bots", op_id="setWebhook",
                    parameters=[room_param],
                    body=_json(self.body({
                        "url": {"type": "string", "format": "uri", "minLength": 1,
                                "maxLength": MAX_URL_CHARS},
                        "secret": {"type": ["string", "null"],
                                   "minLength": MIN_SECRET_CHARS,
                                   "maxLength": MAX_SECRET_CHARS,
                                   "pattern": "^[\\x20-\\x7e]*$",
                                   "description": "Printable ASCII; left out or null: "
                                                  "chatd makes one."},
                    }, ["url"]), {"url": "https://ci.example.net/chatd"}),
                    ok=ok(200, "Set.", webhook(True)),
                    errors=(403, 404, 429),
                ),
                "delete": self.op(
                    "Remove a room's outgoing webhook",
                    "By the room's owner or an administrator; no error when it had none.",
                    tag="bots", op_id="deleteWebhook",
                    parameters=[room_param],
                    ok=empty(200, "Removed."),
                    errors=(400, 403, 404),
                ),
            },
            "/api/contacts": {
                "get": self.op(
                    "List contacts",
                    "A page of the user's contacts with their presence, sorted by name "
                    "ignoring case, as the protocol's `contacts`. The next page: `after` the "
                    "last `user`. An empty `after` is no value.",
                    tag="contacts", op_id="contacts",
                    parameters=[
                        query("after", {"anyOf": [_ref("UserName"), {"const": ""}]},
                              "The page starts after this name (ignoring case)."),
                        query("limit", {"type": "integer", "minimum": 1},
                              f"At most this many contacts (default {rooms_default}; a "
                              f"larger number than {page_max} gives {page_max})."),
                    ],
                    ok=ok(200, "A page of contacts.", self.sent({
                        "contacts": {"type": "array", "items": _ref("Contact")},
                        "more": {"type": "boolean"},
                    })),
                    errors=(400,),
                ),
                "post": self.op(
                    "Add a contact",
                    "From then on the user's connections get the contact's `presence` "
                    "events. Adding a contact one has already is no error; oneself is 400.",
                    tag="contacts", op_id="addContact",
                    body=_json(self.body({"user": _ref("UserName")}, ["user"]),
                               {"user": "Bob"}),
                    ok=ok(201, "Added.", self.sent({"contact": _ref("Contact")})),
                    errors=(404,),
                ),
            },
            "/api/contacts/{user}": {"delete": self.op(
                "Remove a contact",
                "404 when the user is not a contact. (A name of dots, `.` or `..`, must be "
                "percent-encoded in the path.)",
                tag="contacts", op_id="removeContact",
                parameters=[path_param("user", _ref("UserName"), "The contact.", "Bob")],
                ok=empty(200, "Removed."),
                errors=(400, 404),
            )},
            "/healthz": {"get": self.op(
                "Health",
                "Whether this node can serve: 200 when its database answers; 503 while it "
                "stops (`draining`) or when the database does not answer.",
                tag="daemon", auth="none", op_id="health",
                ok={
                    **ok(200, "Serving.", self.sent({"status": {"const": "ok"}})),
                    "503": {"description": "Stopping, or the database does not answer.",
                            "content": _json({"oneOf": [
                                self.sent({"status": {"const": "draining"}}),
                                _ref("Error")]})},
                },
            )},
            "/metrics": {"get": self.op(
                "Metrics",
                "The daemon's figures in Prometheus's text format.",
                tag="daemon", auth="none", op_id="metrics",
                ok={"200": {"description": "The figures.", "content": {
                    "text/plain": {"schema": {"type": "string"}}}}},
            )},
            "/ws": {"get": self.op(
                "The protocol over WebSocket",
                "The upgrade to a WebSocket that speaks the NDJSON protocol of "
                "docs/protocol.md (first frame: `hello` with the token). Without a valid "
                "upgrade, 400.",
                tag="daemon", auth="none", op_id="websocket",
                parameters=[
                    {"name": "Connection", "in": "header", "required": True,
                     "schema": {"type": "string", "const": "Upgrade"}, "example": "Upgrade"},
                    {"name": "Upgrade", "in": "header", "required": True,
                     "schema": {"type": "string", "const": "websocket"},
                     "example": "websocket"},
                    {"name": "Sec-WebSocket-Version", "in": "header", "required": True,
                     "schema": {"type": "string", "const": "13"}, "example": "13"},
                    {"name": "Sec-WebSocket-Key", "in": "header", "required": True,
                     "schema": {"type": "string",
                                "pattern": "^[A-Za-z0-9+/]{21}[AQgw]==$"},
                     "description": "The base64 of a 16-byte nonce.",
                     "example": "dGhlIHNhbXBsZSBub25jZQ=="},
                ],
                ok={"101": {"description": "Switching to the WebSocket protocol."}},
                errors=(400,),
            )},
            OPENAPI_PATH: {"get": self.op(
                "This description",
                "The OpenAPI 3.1 description of this API, as this server is configured. "
                "Cacheable (`ETag`, `If-None-Match`).",
                tag="daemon", auth="none", op_id="openapi",
                parameters=[{"name": "If-None-Match", "in": "header", "required": False,
                             "schema": {"type": "string"}}],
                ok={"200": {"description": "The description.",
                            "headers": {
                                "ETag": {"required": True, "schema": {"type": "string"}},
                                "Cache-Control": {"required": True, "schema": {
                                    "type": "string", "const": "public, max-age=300"}}},
                            "content": _json({"type": "object",
                                              "required": ["openapi", "info", "paths"]})},
                    "304": {"description": "Not modified."}},
            )},
            "/": {"get": self.op(
                "The web page",
                "The web client. Every other path outside `/api/` is one of its files (404 "
                "when there is none).",
                tag="daemon", auth="none", op_id="page",
                ok={"200": {"description": "The page.",
                            "content": {"text/html": {"schema": {"type": "string"}}}},
                    "304": {"description": "Not modified."}},
            )},
        }

    def document(self) -> dict[str, Any]:
        config = self.config
        return {
            "openapi": OPENAPI_VERSION,
            "info": {
                "title": "chatd HTTP API",
                "version": __version__,
                "summary": "Accounts, rooms, history, files and Web Push of a chatd server.",
                "description": (
                    "The HTTP front of chatd. Real-time chat itself (sending, live messages, "
                    "presence) is the NDJSON protocol of docs/protocol.md, over TCP or the "
                    "WebSocket at `/ws`; these routes log in and read and change what the "
                    "protocol's requests do. Request bodies are JSON objects "
                    "(`Content-Type: application/json`, or none; another type is 400) of at "
                    f"most `http.max_body_bytes` ({config.http.max_body_bytes} bytes); "
                    "unknown fields are ignored, and objects in answers may gain fields, "
                    "which clients ignore. Answers to `/api/` are JSON and not cached, "
                    "except files. Errors are JSON `{\"code\", \"message\"}` with a stable "
                    "code. `HEAD` is allowed wherever `GET` is. Besides the statuses listed "
                    "with each operation, any request may get 408 (too slow to arrive), 413 "
                    "(a body over the limit), 431 (a head over `http.max_header_bytes`), 429 "
                    "(more than `http.connections_per_ip` connections from one address) and "
                    "405 (another method)."),
                "license": {"name": "MIT", "identifier": "MIT"},
            },
            "tags": [
                {"name": "accounts", "description": "Registering, logging in and out."},
                {"name": "rooms", "description": "Rooms, their history and settings."},
                {"name": "files", "description": "Uploads, downloads, thumbnails, signed "
                                                 "links."},
                {"name": "emoji", "description": "Custom emoji, server-wide."},
                {"name": "groups", "description": "User groups (@backend), server-wide."},
                {"name": "push", "description": "Web Push subscriptions."},
                {"name": "bots", "description": "Bots, their tokens, and incoming and "
                                                "outgoing webhooks."},
                {"name": "moderation", "description": "Roles, bans, kicks, deletions, topics "
                                                      "and a room's audit log."},
                {"name": "admin", "description": "Server administration: users, rooms, "
                                                 "figures, the audit log."},
                {"name": "contacts", "description": "The user's contacts."},
                {"name": "daemon", "description": "Health, metrics, the WebSocket, the page "
                                                  "and this description."},
            ],
            "paths": self.paths(),
            "components": {
                "schemas": self.schemas(),
                "responses": self.error_responses(),
                "securitySchemes": {
                    "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                               "description": "The token of `POST /api/login`."},
                    "linkExpiry": {"type": "apiKey", "in": "query", "name": "exp",
                                   "description": "A signed link's expiry (Unix seconds), "
                                                  "with `sig`."},
                    "linkSignature": {"type": "apiKey", "in": "query", "name": "sig",
                                      "description": "A signed link's signature, with "
                                                     "`exp`."},
                },
            },
        }


def build_document(config: Config, *, closed: bool = False) -> dict[str, Any]:
    """The OpenAPI 3.1 description of the HTTP API of a daemon running with ``config``.

    Args:
        config: the daemon's settings (limits, sizes and rates in the description).
        closed: every object the server sends allows only the fields described (for
            tests: a field sent but not described is then a failure).

    Returns:
        A new JSON-serialisable dict.
    """
    return _Builder(config, closed=closed).document()


@functools.lru_cache(maxsize=4)
def served_document(config: Config) -> tuple[bytes, bytes]:
    """The document as served (compact JSON) and its quoted ETag, made once per config."""
    body = json.dumps(build_document(config), separators=(",", ":"),
                      ensure_ascii=False).encode()
    etag = b'"' + hashlib.blake2b(body, digest_size=12).hexdigest().encode() + b'"'
    return body, etag

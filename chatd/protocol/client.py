"""The client side of the protocol, sans-IO: requests in, bytes out; bytes in, server events out.

Theory of operation. :class:`ClientConnection` is :class:`~chatd.protocol.ServerConnection`
seen from the other end of the line, in the manner of h11's ``Connection``: hand it what the
server sent with :meth:`~ClientConnection.receive_data` (``b""`` at the end of the stream), pull
typed events with :meth:`~ClientConnection.next_event` until it says :data:`NEED_DATA`, and turn
requests into bytes with :meth:`~ClientConnection.send`. It does no I/O and knows nothing of
sockets or WebSockets; the framing is :mod:`chatd.protocol.codec`'s, as on the server.

The session has the server's four states (:class:`~chatd.protocol.State`). The client starts in
``AWAITING_HELLO``, where the only request it may send is ``hello``; that moves it to
``AUTHENTICATING``, where it may pipeline other requests and where only a ``welcome`` (to
``READY``) or an ``error`` may arrive: nothing comes before the welcome. An ``error`` answering
the hello, or a connection-level ``error`` (a null ``id``) with a code after which the server
hangs up, moves it to ``CLOSED``, as does the end of the stream. Every transition is in the
tables ``_SEND`` and ``_RECEIVE`` below.

Replies. The shape of an ``ok`` depends on the request it answers, so the connection keeps the
type of every request it sent, by ``id``, until its reply arrives, and parses the reply with the
parser of that request (``_REPLIES``): ``send``, ``dm`` and ``forward`` give
:class:`~chatd.protocol.Sent`, ``history`` a :class:`~chatd.protocol.HistoryPage`, ``join``
and ``join_link`` a :class:`~chatd.protocol.JoinAccepted`, ``leave``, ``ping`` and ``typing`` an
:class:`~chatd.protocol.Ok`, and the others an :class:`~chatd.protocol.Answer` carrying the
reply's fields. Every request the connection sends has an id (it numbers those that come
without one), so every reply can be matched. The parsing itself is :func:`parse_event`, which
tools that frame lines themselves (the load generator, the tests' client) use directly.

Errors, as in h11: a frame the server got wrong raises :class:`RemoteProtocolError`; using the
connection out of turn raises :class:`~chatd.protocol.LocalProtocolError`; any other exception
is a bug. A line is a frame of its own, so after a :class:`RemoteProtocolError` the connection
goes on with the next line, unless the line was longer than the frame limit or cut off by the
end of the stream: then it is ``CLOSED``. Ops this module does not know arrive as
:class:`UnknownEvent` (docs/protocol.md asks clients to ignore them), and fields it does not
know are ignored, so that an older client keeps working with a newer server.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Mapping
from typing import Any, Final, TypeGuard

from chatd.protocol import codes
from chatd.protocol.codec import LineBuffer, decode_line, encode
from chatd.protocol.events import (
    MAX_ID_CHARS,
    Answer,
    ClosePoll,
    CustomEmojiChanged,
    Delete,
    Dm,
    DndChanged,
    DraftChanged,
    Edit,
    Entry,
    Error,
    FavouriteChanged,
    Forward,
    Gap,
    Hello,
    HiddenChanged,
    History,
    HistoryPage,
    Join,
    JoinAccepted,
    JoinLink,
    KeywordsChanged,
    Leave,
    MemberBanned,
    MemberJoined,
    MemberKicked,
    MemberLeft,
    MemberUnbanned,
    MessageDeleted,
    MessageEdited,
    MessagePinned,
    MessagePosted,
    NotifyChanged,
    Ok,
    Pin,
    Ping,
    PollClosed,
    PollVoted,
    PresenceChanged,
    PreviewChanged,
    ProfileChanged,
    React,
    ReactionChanged,
    ReadMoved,
    ReadReceiptsChanged,
    Reminded,
    RemovePreview,
    Request,
    RequestError,
    RequestId,
    RoleChanged,
    RoomArchived,
    RoomDeleted,
    SavedChanged,
    ScheduledChanged,
    SectionChanged,
    SectionsChanged,
    Seen,
    Send,
    Sent,
    ServerEvent,
    SetIdle,
    SetTopic,
    ThreadStateChanged,
    TopicChanged,
    Typing,
    UserGroupChanged,
    UserTyping,
    Vote,
    Welcome,
)
from chatd.protocol.session import (
    CLOSED,
    NEED_DATA,
    LocalProtocolError,
    State,
    _lookup,
    _Sentinel,
)

__all__ = [
    "KNOWN_OPS",
    "MAX_SERVER_FRAME_BYTES",
    "REPLIES",
    "ClientConnection",
    "RemoteProtocolError",
    "Reply",
    "UnknownEvent",
    "parse_event",
]

#: The longest line a client accepts by default: a ``history`` page of 500 messages of 4,000
#: characters each, every one escaped by JSON, stays below it.
MAX_SERVER_FRAME_BYTES: Final = 16 * 1024 * 1024


class RemoteProtocolError(Exception):
    """The server sent something the protocol does not allow (a bug on its side, or not a
    chatd server at all)."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class UnknownEvent(ServerEvent):
    """A frame whose ``op`` this client does not know, as it came: ``fields`` is the frame
    without its ``op``. A client ignores these (docs/protocol.md); a tool may show them."""

    op: str
    fields: Mapping[str, Any]

    def wire(self) -> dict[str, Any]:
        return {"op": self.op, **self.fields}


#: What answers a request: the events that carry its ``id``.
Reply = Ok | Sent | HistoryPage | JoinAccepted | Answer | Error | Welcome
REPLIES: Final = (Ok, Sent, HistoryPage, JoinAccepted, Answer, Error, Welcome)

# Connection-level errors (a null id) after which the server hangs up: the fatal codes, a
# revoked token (unauthenticated) and a connection refused past the per-address limit
# (rate_limited). docs/protocol.md, "Error codes".
_CLOSING_CODES: Final = codes.FATAL_CODES | {codes.UNAUTHENTICATED, codes.RATE_LIMITED}

# What sending a request does in each state: the next state, or None (misuse). Lookup goes
# along the request's class hierarchy, so the `Request` key means "any other request".
_SEND: Final[dict[State, dict[type[Request], State | None]]] = {
    State.AWAITING_HELLO: {Hello: State.AUTHENTICATING},
    State.AUTHENTICATING: {Hello: None, Request: State.AUTHENTICATING},
    State.READY: {Hello: None, Request: State.READY},
    State.CLOSED: {},
}

# What a received event does in each state, looked up the same way (`ServerEvent`: any other
# event); None, or no entry at all, is the server's mistake. The closing errors are checked
# before this table. A closed session reads nothing.
_RECEIVE: Final[dict[State, dict[type[ServerEvent], State | None]]] = {
    State.AWAITING_HELLO: {Error: State.AWAITING_HELLO},
    State.AUTHENTICATING: {Welcome: State.READY, Error: State.AUTHENTICATING},
    State.READY: {Welcome: None, ServerEvent: State.READY},
}


# --------------------------------------------------------------------------- parsing


class _Bad(Exception):
    """A field of a server frame is missing or of the wrong type."""


def _str(obj: Mapping[str, Any], key: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise _Bad(f"'{key}' must be a string")
    return value


def _optional_str(obj: Mapping[str, Any], key: str) -> str | None:
    return None if obj.get(key) is None else _str(obj, key)


def _int(obj: Mapping[str, Any], key: str, *, minimum: int | None = 0) -> int:
    value = obj.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise _Bad(f"'{key}' must be an integer")
    if minimum is not None and value < minimum:
        raise _Bad(f"'{key}' must be at least {minimum}")
    return value


def _optional_int(obj: Mapping[str, Any], key: str) -> int | None:
    return None if obj.get(key) is None else _int(obj, key)


def _bool(obj: Mapping[str, Any], key: str, default: bool) -> bool:
    value = obj.get(key, default)
    if not isinstance(value, bool):
        raise _Bad(f"'{key}' must be true or false")
    return value


def _optional_bool(obj: Mapping[str, Any], key: str) -> bool | None:
    return None if obj.get(key) is None else _bool(obj, key, False)


def _object(obj: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = obj.get(key)
    if not isinstance(value, dict):
        raise _Bad(f"'{key}' must be an object")
    return value


def _objects(obj: Mapping[str, Any], key: str, *, optional: bool = False
             ) -> tuple[dict[str, Any], ...]:
    value = obj.get(key)
    if value is None and optional:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise _Bad(f"'{key}' must be an array of objects")
    return tuple(value)


def _custom_status(obj: Mapping[str, Any]) -> dict[str, Any] | None:
    """A ``custom_status``: null, or {emoji, text, until} with ``until`` null or ms."""
    value = obj.get("custom_status")
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _Bad("'custom_status' must be an object or null")
    return {"emoji": _optional_str(value, "emoji") or "",
            "text": _optional_str(value, "text") or "",
            "until": _optional_int(value, "until")}


def _avatar(obj: Mapping[str, Any]) -> dict[str, Any] | None:
    """An ``avatar``: null (or absent, from a server before pictures), or {url}."""
    value = obj.get("avatar")
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _Bad("'avatar' must be an object or null")
    return {"url": _str(value, "url")}


def _id(obj: Mapping[str, Any]) -> RequestId:
    rid = obj.get("id")
    if rid is None or isinstance(rid, str) or (isinstance(rid, int) and not isinstance(rid, bool)):
        return rid
    raise _Bad("'id' must be null, an integer or a string")


def _strs(obj: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = obj.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _Bad(f"'{key}' must be an array of strings")
    return tuple(value)


def _reactions(obj: Mapping[str, Any]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    reactions = _objects(obj, "reactions", optional=True)
    return tuple((_str(r, "emoji"), _strs(r, "users")) for r in reactions)


def _pinned_by(obj: Mapping[str, Any]) -> dict[str, Any] | None:
    """A message object's ``pinned`` ({by, ts, seq}), None while it is not pinned."""
    if obj.get("pinned") is None:
        return None
    pinned = _object(obj, "pinned")
    if not isinstance(pinned.get("by"), str):
        raise _Bad("'pinned' must have a string 'by'")
    return pinned


def _message(obj: Mapping[str, Any]) -> MessagePosted:
    quote = obj.get("quote")
    if quote is not None and not isinstance(quote, dict):
        raise _Bad("'quote' must be an object")
    return MessagePosted(
        room=_str(obj, "room"), seq=_int(obj, "seq"), msg_id=_int(obj, "msg_id"),
        sender=_str(obj, "from"), text=_str(obj, "text"), ts=_int(obj, "ts", minimum=None),
        nonce=_str(obj, "nonce"), rev=_optional_int(obj, "rev"),
        edited_ts=_optional_int(obj, "edited_ts"), deleted=_bool(obj, "deleted", False),
        reactions=_reactions(obj), reply_to=_optional_int(obj, "reply_to"), quote=quote,
        mentions=_strs(obj, "mentions"), group=_optional_str(obj, "group"),
        user_groups=_strs(obj, "user_groups"),
        files=_objects(obj, "files", optional=True), pinned=_pinned_by(obj),
        previews=_objects(obj, "previews", optional=True),
        thread=_optional_int(obj, "thread"), broadcast=_bool(obj, "broadcast", False),
        replies=_replies(obj),
        poll=_poll(obj),
        forwarded=_forwarded(obj),
    )


def _forwarded(obj: Mapping[str, Any]) -> dict[str, Any] | None:
    """A forward's ``forwarded`` ({from, ts, text, room, seq}: room and seq null unless it
    came from a public room), None on any other message."""
    if obj.get("forwarded") is None:
        return None
    forwarded = _object(obj, "forwarded")
    return {"from": _str(forwarded, "from"), "ts": _int(forwarded, "ts", minimum=None),
            "text": _str(forwarded, "text"), "room": _optional_str(forwarded, "room"),
            "seq": _optional_int(forwarded, "seq")}


def _poll(obj: Mapping[str, Any]) -> dict[str, Any] | None:
    """A poll's ``poll`` ({options: [{text, votes, voters}], multiple, closed, closed_by?,
    closed_ts?}), None on a message that is no poll."""
    if obj.get("poll") is None:
        return None
    poll = _object(obj, "poll")
    options = [{"text": _str(option, "text"), "votes": _int(option, "votes"),
                "voters": list(_strs(option, "voters"))}
               for option in _objects(poll, "options")]
    found: dict[str, Any] = {"options": options, "multiple": _bool(poll, "multiple", False),
                             "closed": _bool(poll, "closed", False)}
    if found["closed"]:
        found["closed_by"] = _str(poll, "closed_by")
        found["closed_ts"] = _int(poll, "closed_ts", minimum=None)
    return found


def _replies(obj: Mapping[str, Any]) -> dict[str, Any] | None:
    """A root's ``replies`` ({count, last_ts, users}), None without replies."""
    if obj.get("replies") is None:
        return None
    replies = _object(obj, "replies")
    return {"count": _int(replies, "count"), "last_ts": _int(replies, "last_ts", minimum=None),
            "users": _strs(replies, "users")}


def _edited(obj: Mapping[str, Any]) -> MessageEdited:
    return MessageEdited(
        room=_str(obj, "room"), seq=_int(obj, "seq"), msg_id=_int(obj, "msg_id"),
        text=_str(obj, "text"), sender=_str(obj, "from"), ts=_int(obj, "ts", minimum=None),
        mentions=_strs(obj, "mentions"), group=_optional_str(obj, "group"),
        user_groups=_strs(obj, "user_groups"),
    )


def _deleted(obj: Mapping[str, Any]) -> MessageDeleted:
    return MessageDeleted(room=_str(obj, "room"), seq=_int(obj, "seq"),
                          msg_id=_int(obj, "msg_id"), by=_str(obj, "by"),
                          ts=_int(obj, "ts", minimum=None),
                          unpinned=_optional_bool(obj, "unpinned"))


def _reaction(obj: Mapping[str, Any]) -> ReactionChanged:
    return ReactionChanged(room=_str(obj, "room"), seq=_int(obj, "seq"),
                           msg_id=_int(obj, "msg_id"), emoji=_str(obj, "emoji"),
                           user=_str(obj, "user"), on=_bool(obj, "on", True),
                           ts=_int(obj, "ts", minimum=None))


def _pinned(obj: Mapping[str, Any]) -> MessagePinned:
    return MessagePinned(room=_str(obj, "room"), seq=_int(obj, "seq"),
                         msg_id=_int(obj, "msg_id"), by=_str(obj, "by"),
                         on=_bool(obj, "on", True), ts=_int(obj, "ts", minimum=None))


def _voted(obj: Mapping[str, Any]) -> PollVoted:
    options = obj.get("options")
    if not isinstance(options, list) or not all(
            isinstance(index, int) and not isinstance(index, bool) and index >= 0
            for index in options):
        raise _Bad("'options' must be an array of option indexes")
    return PollVoted(room=_str(obj, "room"), seq=_int(obj, "seq"),
                     msg_id=_int(obj, "msg_id"), user=_str(obj, "user"),
                     options=tuple(options), ts=_int(obj, "ts", minimum=None))


def _poll_closed(obj: Mapping[str, Any]) -> PollClosed:
    return PollClosed(room=_str(obj, "room"), seq=_int(obj, "seq"),
                      msg_id=_int(obj, "msg_id"), by=_str(obj, "by"),
                      ts=_int(obj, "ts", minimum=None))


def _topic(obj: Mapping[str, Any]) -> TopicChanged:
    return TopicChanged(room=_str(obj, "room"), seq=_int(obj, "seq"), topic=_str(obj, "topic"),
                        by=_str(obj, "by"), ts=_int(obj, "ts", minimum=None))


def _role(obj: Mapping[str, Any]) -> RoleChanged:
    return RoleChanged(room=_str(obj, "room"), seq=_int(obj, "seq"), user=_str(obj, "user"),
                       role=_str(obj, "role"), by=_str(obj, "by"),
                       ts=_int(obj, "ts", minimum=None))


def _banned(obj: Mapping[str, Any]) -> MemberBanned:
    return MemberBanned(room=_str(obj, "room"), seq=_int(obj, "seq"), user=_str(obj, "user"),
                        by=_str(obj, "by"), ts=_int(obj, "ts", minimum=None),
                        reason=_optional_str(obj, "reason"),
                        expires_at=_optional_int(obj, "expires_at"))


def _unbanned(obj: Mapping[str, Any]) -> MemberUnbanned:
    return MemberUnbanned(room=_str(obj, "room"), seq=_int(obj, "seq"), user=_str(obj, "user"),
                          by=_str(obj, "by"), ts=_int(obj, "ts", minimum=None))


def _kicked(obj: Mapping[str, Any]) -> MemberKicked:
    return MemberKicked(room=_str(obj, "room"), seq=_int(obj, "seq"), user=_str(obj, "user"),
                        by=_str(obj, "by"), ts=_int(obj, "ts", minimum=None),
                        reason=_optional_str(obj, "reason"))


def _archived(obj: Mapping[str, Any]) -> RoomArchived:
    return RoomArchived(room=_str(obj, "room"), seq=_int(obj, "seq"),
                        archived=_bool(obj, "archived", True), by=_str(obj, "by"),
                        ts=_int(obj, "ts", minimum=None))


def _preview(obj: Mapping[str, Any]) -> PreviewChanged:
    common: dict[str, Any] = {"room": _str(obj, "room"), "seq": _int(obj, "seq"),
                              "msg_id": _int(obj, "msg_id"), "ts": _int(obj, "ts", minimum=None)}
    if _bool(obj, "removed", False):
        return PreviewChanged(**common)
    image = obj.get("image")
    if image is not None and not isinstance(image, dict):
        raise _Bad("'image' must be an object")
    return PreviewChanged(**common, url=_str(obj, "url"), title=_str(obj, "title"),
                          description=_optional_str(obj, "description") or "",
                          site=_optional_str(obj, "site") or "", image=image)


#: The parser of each kind of entry of a room's log, by its op.
_ENTRIES: Final[dict[str, Callable[[Mapping[str, Any]], Entry]]] = {
    "message": _message,
    "edited": _edited,
    "deleted": _deleted,
    "reaction": _reaction,
    "pinned": _pinned,
    "topic": _topic,
    "role": _role,
    "banned": _banned,
    "unbanned": _unbanned,
    "kicked": _kicked,
    "archived": _archived,
    "preview": _preview,
    "voted": _voted,
    "poll_closed": _poll_closed,
}


def _entry(obj: Mapping[str, Any]) -> Entry:
    parse = _ENTRIES.get(str(obj.get("op", "message")))
    if parse is None:
        raise _Bad(f"unknown entry op {str(obj.get('op'))[:32]!r}")
    return parse(obj)


def _messages(obj: Mapping[str, Any]) -> tuple[Entry, ...]:
    messages = _objects(obj, "messages")
    try:
        return tuple(_entry(message) for message in messages)
    except _Bad as exc:
        raise _Bad(f"'messages': {exc}") from None


def _room_objects(obj: Mapping[str, Any]) -> tuple[dict[str, Any], ...]:
    rooms = _objects(obj, "rooms")
    for room in rooms:
        if not isinstance(room.get("room"), str):
            raise _Bad("'rooms': every room object has a string 'room'")
    return rooms


def _welcome(obj: Mapping[str, Any], rid: RequestId) -> Welcome:
    user = _object(obj, "user")
    if not isinstance(user.get("name"), str):
        raise _Bad("'user' must have a string 'name'")
    return Welcome(
        id=rid, user=user, rooms=_room_objects(obj),
        contacts=_objects(obj, "contacts", optional=True),
        ping_interval=_int(obj, "ping_interval", minimum=1),
        max_text_chars=_optional_int(obj, "max_text_chars"),
        keywords_per_user=_optional_int(obj, "keywords_per_user"),
        group_mention_members=_optional_int(obj, "group_mention_members"),
        rooms_more=_optional_bool(obj, "rooms_more"),
        contacts_more=_optional_bool(obj, "contacts_more"),
        now=_optional_int(obj, "now"),
        reminders_due=_optional_int(obj, "reminders_due"),
        scheduled_count=_optional_int(obj, "scheduled_count"),
        scheduled_failed=_optional_int(obj, "scheduled_failed"),
        threads_unread=_optional_int(obj, "threads_unread"),
        sections=_objects(obj, "sections", optional=True) if "sections" in obj else None,
        edit_history=_optional_str(obj, "edit_history"),
        keywords=_strs(obj, "keywords") if "keywords" in obj else None,
    )


def _error(obj: Mapping[str, Any], rid: RequestId) -> Error:
    return Error(id=rid, code=_str(obj, "code"), message=_str(obj, "message"),
                 retry_after=_optional_int(obj, "retry_after"))


def _ok(obj: Mapping[str, Any], rid: RequestId) -> Ok:
    return Ok(id=rid)


def _sent(obj: Mapping[str, Any], rid: RequestId) -> Sent:
    return Sent(id=rid, room=_str(obj, "room"), seq=_int(obj, "seq"),
                msg_id=_int(obj, "msg_id"), ts=_int(obj, "ts", minimum=None),
                duplicate=_bool(obj, "duplicate", False),
                unchanged=_bool(obj, "unchanged", False))


def _history_page(obj: Mapping[str, Any], rid: RequestId) -> HistoryPage:
    return HistoryPage(id=rid, room=_str(obj, "room"), messages=_messages(obj),
                       more=_bool(obj, "more", False), last_seq=_optional_int(obj, "last_seq"))


def _join_accepted(obj: Mapping[str, Any], rid: RequestId) -> JoinAccepted:
    return JoinAccepted(
        id=rid, room=_str(obj, "room"), last_seq=_int(obj, "last_seq"),
        messages=_messages(obj), more=_bool(obj, "more", False),
        private=_bool(obj, "private", False), topic=_optional_str(obj, "topic") or "",
        notify=_optional_str(obj, "notify"), role=_optional_str(obj, "role"),
        archived=_bool(obj, "archived", False),
        favourite=_bool(obj, "favourite", False),
        section=_optional_int(obj, "section"),
    )


def _answer(obj: Mapping[str, Any], rid: RequestId) -> Answer:
    return Answer(id=rid, fields={k: v for k, v in obj.items() if k not in ("op", "id")})


_ReplyParser = Callable[[Mapping[str, Any], RequestId], ServerEvent]

#: The parser of an ``ok`` by the request it answers (`Request`: any other request).
_REPLIES: Final[dict[type[Request], _ReplyParser]] = {
    Send: _sent,
    Dm: _sent,
    Edit: _sent,
    Delete: _sent,
    React: _sent,
    Pin: _sent,
    RemovePreview: _sent,
    SetTopic: _sent,
    Vote: _sent,
    ClosePoll: _sent,
    Forward: _sent,
    History: _history_page,
    Join: _join_accepted,
    JoinLink: _join_accepted,
    Leave: _ok,
    Ping: _ok,
    Typing: _ok,
    SetIdle: _ok,
    Request: _answer,
}

#: The parser of every event that is not a reply, by its op.
_EVENTS: Final[dict[str, Callable[[Mapping[str, Any]], ServerEvent]]] = {
    **_ENTRIES,
    "presence": lambda obj: PresenceChanged(user=_str(obj, "user"), status=_str(obj, "status")),
    "joined": lambda obj: MemberJoined(room=_str(obj, "room"), user=_str(obj, "user"),
                                       by=_optional_str(obj, "by")),
    "left": lambda obj: MemberLeft(room=_str(obj, "room"), user=_str(obj, "user"),
                                   by=_optional_str(obj, "by")),
    "typing": lambda obj: UserTyping(room=_str(obj, "room"), user=_str(obj, "user")),
    "read": lambda obj: ReadMoved(room=_str(obj, "room"), seq=_int(obj, "seq"),
                                  back=_optional_bool(obj, "back"),
                                  last_seq=_optional_int(obj, "last_seq"),
                                  unread=_optional_int(obj, "unread"),
                                  mentions=_optional_int(obj, "mentions")),
    "seen": lambda obj: Seen(room=_str(obj, "room"), user=_str(obj, "user"),
                             seq=_optional_int(obj, "seq"),
                             back=_optional_bool(obj, "back")),
    "read_receipts": lambda obj: ReadReceiptsChanged(on=_bool(obj, "on", True)),
    "notify": lambda obj: NotifyChanged(room=_str(obj, "room"), notify=_str(obj, "notify")),
    "hidden": lambda obj: HiddenChanged(room=_str(obj, "room"),
                                        hidden_seq=_optional_int(obj, "hidden_seq")),
    "favourite": lambda obj: FavouriteChanged(
        room=_str(obj, "room"), on=_bool(obj, "on", True),
        favourite_at=_optional_int(obj, "favourite_at")),
    "sections": lambda obj: SectionsChanged(sections=_objects(obj, "sections")),
    "keywords": lambda obj: KeywordsChanged(keywords=_strs(obj, "keywords")),
    "draft": lambda obj: DraftChanged(room=_str(obj, "room"), text=_str(obj, "text"),
                                      updated_at=_int(obj, "updated_at", minimum=None),
                                      thread=_optional_int(obj, "thread")),
    "section": lambda obj: SectionChanged(room=_str(obj, "room"),
                                          section=_optional_int(obj, "section")),
    "dnd": lambda obj: DndChanged(until=_optional_int(obj, "until")),
    "saved": lambda obj: SavedChanged(room=_str(obj, "room"), msg_id=_int(obj, "msg_id"),
                                      on=_bool(obj, "on", True),
                                      remind_at=_optional_int(obj, "remind_at"),
                                      ts=_int(obj, "ts", minimum=None),
                                      set_by=_optional_str(obj, "set_by")),
    "thread_state": lambda obj: ThreadStateChanged(
        room=_str(obj, "room"), msg_id=_int(obj, "msg_id"),
        following=_bool(obj, "following", False), read_seq=_int(obj, "read_seq", minimum=0)),
    "reminder": lambda obj: Reminded(room=_str(obj, "room"), msg_id=_int(obj, "msg_id"),
                                     remind_at=_int(obj, "remind_at", minimum=None),
                                     message=_object(obj, "message")),
    "scheduled": lambda obj: ScheduledChanged(
        action=_str(obj, "action"), item=_object(obj, "item"),
        msg=_object(obj, "msg") if obj.get("msg") is not None else None),
    "profile": lambda obj: ProfileChanged(user=_str(obj, "user"),
                                          display_name=_optional_str(obj, "display_name"),
                                          custom_status=_custom_status(obj),
                                          avatar=_avatar(obj)),
    "room_deleted": lambda obj: RoomDeleted(room=_str(obj, "room"), by=_str(obj, "by")),
    "custom_emoji": lambda obj: CustomEmojiChanged(name=_str(obj, "name"),
                                                   url=_optional_str(obj, "url"),
                                                   by=_str(obj, "by"), ts=_int(obj, "ts")),
    "user_group": lambda obj: UserGroupChanged(
        change=_str(obj, "change"), group=_object(obj, "group"), added=_strs(obj, "added"),
        removed=_strs(obj, "removed"), by=_str(obj, "by"), ts=_int(obj, "ts", minimum=None)),
    "gap": lambda obj: Gap(room=_str(obj, "room"), after=_int(obj, "after"),
                           last_seq=_int(obj, "last_seq")),
}

#: Every op this module parses (the replies' and the other events').
KNOWN_OPS: Final = frozenset({"ok", "error", "welcome", *_EVENTS})


def _reply(op: str, obj: Mapping[str, Any], answering: type[Request] | None) -> ServerEvent:
    rid = _id(obj)
    if op == "error":
        return _error(obj, rid)
    if op == "welcome":
        if answering is not None and answering is not Hello:
            raise _Bad(f"a welcome cannot answer a {answering.OP!r} request")
        return _welcome(obj, rid)
    if answering is Hello:
        raise _Bad("a hello is answered with a welcome, not ok")
    parser = _lookup(_REPLIES, answering) if answering is not None else _answer
    assert parser is not None, "the Request entry matches every request"
    return parser(obj, rid)


def parse_event(obj: object, answering: type[Request] | None = None) -> ServerEvent:
    """The event a decoded server frame holds.

    Args:
        obj: the frame's JSON value.
        answering: the type of the request whose ``id`` the frame carries, when known; it
            decides what an ``ok`` holds (an ``ok`` of an unknown request is an
            :class:`~chatd.protocol.Answer`).
    Raises:
        RemoteProtocolError: the frame is not a server frame of the protocol.
    """
    if not isinstance(obj, dict):
        raise RemoteProtocolError("a frame must be a JSON object")
    op = obj.get("op")
    if not isinstance(op, str):
        raise RemoteProtocolError("a frame must have a string 'op'")
    try:
        if op in ("ok", "error", "welcome"):
            return _reply(op, obj, answering)
        parse = _EVENTS.get(op)
        if parse is None:
            return UnknownEvent(op=op, fields={k: v for k, v in obj.items() if k != "op"})
        return parse(obj)
    except _Bad as exc:
        raise RemoteProtocolError(f"{op[:32]!r} frame: {exc}") from None


def _is_id(value: object) -> TypeGuard[int | str]:
    """Whether ``value`` can be a request's id (a bool is not, though ``True == 1``)."""
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


# --------------------------------------------------------------------------- the connection


class ClientConnection:
    """The client side of one protocol connection, with no I/O.

    Args:
        max_frame_bytes: the longest line accepted from the server.
    """

    def __init__(self, *, max_frame_bytes: int = MAX_SERVER_FRAME_BYTES) -> None:
        self.state = State.AWAITING_HELLO
        self._max = max_frame_bytes
        self._lines = LineBuffer(max_frame_bytes)
        self._eof = False
        self._ids = itertools.count(1)
        # The requests sent and not answered yet: id -> the request's type, which decides
        # how its reply is parsed.
        self._waiting: dict[int | str, type[Request]] = {}

    @property
    def waiting(self) -> int:
        """How many requests sent on this connection have had no reply yet."""
        return len(self._waiting)

    # ------------------------------------------------------------------ sending

    def next_id(self) -> int:
        """A fresh request id: never handed out before by this connection, and not the id of
        a request still waiting for its reply. For a caller that wants to know the id of a
        request before sending it (to match its reply)."""
        while True:
            rid = next(self._ids)
            if rid not in self._waiting:
                return rid

    def send(self, request: Request) -> bytes:
        """The bytes of ``request``, after checking that it may be sent now. A request with
        no ``id`` gets :meth:`next_id`.

        Raises:
            LocalProtocolError: anything before ``hello``, a second ``hello``, anything once
                the session is closed; or an id that is not an integer or a string of at most
                64 characters, or that a request still waiting for its reply has.
        """
        next_state = _lookup(_SEND[self.state], type(request))
        if next_state is None:
            raise LocalProtocolError(
                f"cannot send {type(request).__name__} in state {self.state.name}"
            )
        rid = request.id
        if rid is None:
            rid = self.next_id()
            request = dataclasses.replace(request, id=rid)
        elif not _is_id(rid) or (isinstance(rid, str) and len(rid) > MAX_ID_CHARS):
            raise LocalProtocolError(
                f"an id is an integer or a string of at most {MAX_ID_CHARS} characters"
            )
        elif rid in self._waiting:
            raise LocalProtocolError(f"id {rid!r} is still waiting for its reply")
        self._waiting[rid] = type(request)
        self.state = next_state
        return encode(request.wire())

    # ------------------------------------------------------------------ receiving

    def receive_data(self, data: bytes) -> None:
        """Add bytes from the server; ``b""`` means the server closed its side.

        Raises:
            LocalProtocolError: bytes after the end of the stream.
        """
        if not data:
            self._eof = True
        elif self._eof:
            raise LocalProtocolError("data received after the end of the stream")
        else:
            self._lines.feed(data)

    def next_event(self) -> ServerEvent | _Sentinel:
        """The next event from the server, or :data:`NEED_DATA` (call :meth:`receive_data`)
        or :data:`CLOSED` (the session is over: read no more).

        Raises:
            RemoteProtocolError: the next frame breaks the protocol. Reading may go on with
                the frame after it (unless the session is now closed).
        """
        while True:
            if self.state is State.CLOSED:
                return CLOSED
            line = self._lines.next_line()
            if line is None:
                if self._lines.overflowed:
                    self.state = State.CLOSED
                    raise RemoteProtocolError(
                        f"the server sent a frame of more than {self._max} bytes"
                    )
                if self._eof:
                    self.state = State.CLOSED
                    if self._lines.pending:
                        raise RemoteProtocolError("the server closed the connection in the "
                                                  "middle of a frame")
                    return CLOSED
                return NEED_DATA
            if not line.strip():
                continue  # a blank line is a keepalive
            decoded = decode_line(line)
            if isinstance(decoded, RequestError):
                raise RemoteProtocolError(f"the server sent a frame that is not JSON "
                                          f"({decoded.message})")
            return self._receive(decoded)

    def _receive(self, obj: Any) -> ServerEvent:
        answering: type[Request] | None = None
        if isinstance(obj, dict) and obj.get("op") in ("ok", "error", "welcome"):
            rid = obj.get("id")
            if _is_id(rid):
                answering = self._waiting.pop(rid, None)
        event = parse_event(obj, answering)
        if isinstance(event, Error) and (
            answering is Hello or (event.id is None and event.code in _CLOSING_CODES)
        ):
            self.state = State.CLOSED
            return event
        next_state = _lookup(_RECEIVE[self.state], type(event))
        if next_state is None:
            raise RemoteProtocolError(
                f"the server sent {type(event).__name__} in state {self.state.name}"
                + (" (nothing comes before the welcome)" if self.state is not State.READY
                   else "")
            )
        self.state = next_state
        return event

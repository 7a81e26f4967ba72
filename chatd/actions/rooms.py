"""Rooms: entering and leaving them, reading them, running them (invite, set_topic; the
rest of moderation is in :mod:`chatd.actions.moderation`), who is in them, typing and read
markers."""

from __future__ import annotations

from chatd.actions.context import App, Append, Bucket, Caller, CatchUp, signed_in
from chatd.actions.membership import subscribe, unsubscribe
from chatd.actions.receipts import SeenMove, tell_seen
from chatd.errors import ChatError
from chatd.presence import ONLINE
from chatd.protocol import (
    Answer,
    CreateRoom,
    EditHistoryRequest,
    Favourite,
    FavouriteChanged,
    HiddenChanged,
    Hide,
    History,
    HistoryPage,
    Invite,
    Join,
    JoinAccepted,
    Leave,
    MemberJoined,
    MemberLeft,
    NotifyChanged,
    Ok,
    Pins,
    Read,
    ReadAll,
    ReadMoved,
    RequestId,
    Rooms,
    SetNotify,
    SetTopic,
    Thread,
    Typing,
    Unread,
    UserTyping,
    Who,
    codes,
    default_notify,
    frame,
    is_conversation,
)
from chatd.protocol.events import PINS_PAGE, THREAD_PAGE
from chatd.rooms import ToUser
from chatd.storage import Joined, NewChange
from chatd.views import member_object, message_event, message_object, room_object

__all__ = [
    "ROOMS",
    "WHO_PAGE",
    "create_room",
    "edit_history",
    "enter",
    "favourite",
    "hide",
    "history",
    "invite",
    "join",
    "leave",
    "overview",
    "pins",
    "read",
    "read_all",
    "set_notify",
    "set_topic",
    "thread",
    "typing",
    "unread",
    "who",
]

#: New rooms per user, over all their sessions and the HTTP API: ``limits.rooms_per_hour`` at
#: once, refilled at that many an hour. ``create_room`` takes from it through its row of the
#: operations table; ``join`` only when it creates the room.
ROOMS = Bucket("rooms", lambda limits: (limits.rooms_per_hour / 3600, limits.rooms_per_hour),
               "too many new rooms; try again later", per_user=True)


async def join(app: App, caller: Caller, request: Join) -> CatchUp:
    """Become a member (a room that does not exist is created, public) and get its latest
    messages; its live messages follow the reply, none missing, none twice.

    The registry's epoch is read before storage, so that a ``kick`` racing this join can
    never leave the caller subscribed (chatd.actions.membership); if the kick won, the join
    is refused as a kick's victim would expect."""
    user = signed_in(caller)
    since = app.registry.epoch
    joined = await _join_or_create(app, user.id, user.name, request.room)
    announce = (frame(MemberJoined(room=request.room, user=user.name))
                if joined.newly_joined else None)
    return await enter(app, caller, request.id, joined, since, announce)


async def enter(app: App, caller: Caller, request_id: RequestId, joined: Joined, since: int,
                announce: bytes | None) -> CatchUp:
    """The rest of a join that storage has made (``join``, ``join_link``): subscribe the
    user's connections here to the room (``since``: the registry's epoch read before the
    storage call; ``announce``: the ``joined`` event, for a new member) and answer with its
    latest messages, its live ones following the reply, none missing, none twice.

    Raises:
        ChatError: ``forbidden`` when a removal overtook the join."""
    user = signed_in(caller)
    room = joined.room.name
    await caller.hold(frozenset({room}))
    if not await subscribe(app, user.name, room, since, announce):
        raise ChatError(codes.FORBIDDEN, f"you were removed from {room!r}")
    page = await app.storage.history(user.id, room, limit=app.config.limits.join_recent)
    reply = JoinAccepted(
        id=request_id, room=room, last_seq=page.last_seq,
        messages=[message_event(m) for m in page.messages], more=page.more,
        private=joined.room.private, topic=joined.room.topic,
        notify=joined.room.notify or default_notify(joined.room.kind), role=joined.room.role,
        archived=joined.room.archived, favourite=joined.room.favourite_at is not None,
        section=joined.room.section,
    )
    return CatchUp(reply, {room: page.last_seq})


async def _join_or_create(app: App, user_id: int, name: str, room: str) -> Joined:
    """``storage.join_room``, creating the room only if the user may create one more (a
    token of :data:`ROOMS`, reserved first so that concurrent joins cannot overdraw it, and
    given back when the room existed after all)."""
    try:
        app.take(ROOMS, name)
    except ChatError as limited:
        try:
            return await app.storage.join_room(user_id, room, create=False)
        except ChatError as exc:
            if exc.code == codes.NOT_FOUND and not is_conversation(room):
                raise limited from None
            raise
    created = False
    try:
        joined = await app.storage.join_room(user_id, room)
        created = joined.created
        return joined
    finally:
        if not created:
            app.give_back(ROOMS, name)


async def leave(app: App, caller: Caller, request: Leave) -> Ok:
    user = signed_in(caller)
    if await app.storage.leave_room(user.id, request.room):
        announce = frame(MemberLeft(room=request.room, user=user.name))
        await unsubscribe(app, user.name, request.room, announce)
    return Ok(id=request.id)


async def history(app: App, caller: Caller, request: History) -> HistoryPage:
    """A page of a room's messages, oldest first; the default page is ``join``'s size."""
    user = signed_in(caller)
    limits = app.config.limits
    page = await app.storage.history(
        user.id, request.room, before=request.before, after=request.after,
        limit=request.limit or min(limits.join_recent, limits.history_max),
    )
    return HistoryPage(id=request.id, room=request.room,
                       messages=[message_event(m) for m in page.messages], more=page.more,
                       last_seq=page.last_seq)


async def pins(app: App, caller: Caller, request: Pins) -> Answer:
    """A page of the room's pinned messages, the most recently pinned first, for its
    members; ``more``: others were pinned before (ask again with ``before`` = the last
    message's ``pinned.seq``)."""
    user = signed_in(caller)
    page = await app.storage.pins(user.id, request.room, before=request.before,
                                  limit=request.limit or PINS_PAGE)
    return Answer(id=request.id, fields={
        "room": request.room, "messages": [message_object(m) for m in page.messages],
        "more": page.more, "last_seq": page.last_seq,
    })


async def thread(app: App, caller: Caller, request: Thread) -> Answer:
    """A thread (of its root, or of one of its replies) for the room's members: its root as
    it is now and a page of its replies, oldest first, the newest of those below
    ``before``; ``more``: older replies remain (ask again with ``before`` = the first
    one's seq); ``following`` and ``read_seq``: the user's state of the thread."""
    user = signed_in(caller)
    page = await app.storage.thread(user.id, request.room, request.msg_id,
                                    before=request.before, limit=request.limit or THREAD_PAGE)
    return Answer(id=request.id, fields={
        "room": request.room, "root": message_object(page.root),
        "messages": [message_object(m) for m in page.messages], "more": page.more,
        "following": page.following, "read_seq": page.read_seq,
    })


async def edit_history(app: App, caller: Caller, request: EditHistoryRequest) -> Answer:
    """The versions of a message, oldest first (its text now the last), for whoever may read
    the room: ``original`` (whether the first is the text it was sent with: not for a message
    edited before chatd kept them) and ``omitted`` (versions left out between the first and
    the newest others, over :data:`~chatd.storage.EDIT_VERSIONS_MAX`). ``[messages]
    edit_history``: "moderators" shows it only to the message's author and the room's owner
    and moderators, "off" to nobody; administrators always may (an "off" refusal takes no
    statement)."""
    user = signed_in(caller)
    shown = app.config.messages.edit_history
    if shown == "off" and not user.admin:
        raise ChatError(codes.FORBIDDEN,
                        "message edit histories are not shown on this server")
    found = await app.storage.edit_history(user.id, request.room, request.msg_id,
                                           moderated=shown == "moderators" and not user.admin)
    return Answer(id=request.id, fields={
        "room": request.room, "msg_id": request.msg_id,
        "versions": [{"text": v.text, "by": v.by, "ts": v.ts, "seq": v.seq}
                     for v in found.versions],
        "original": found.original, "omitted": found.omitted,
    })


#: The page of ``rooms`` a request without ``limit`` gets (at most ``limits.rooms_page_max``).
ROOMS_PAGE = 100


async def overview(app: App, caller: Caller, request: Rooms) -> Answer:
    """A page, by name, of the public rooms and of the user's rooms and conversations (only
    theirs with ``joined``), those whose name holds ``query``, after ``after``. ``more``:
    another page follows, after the last name of this one. A client that sends none of these
    fields gets the first page, in the shape the unpaged list had."""
    user = signed_in(caller)
    limit = request.limit or min(ROOMS_PAGE, app.config.limits.rooms_page_max)
    rooms = await app.storage.rooms_overview(
        user.id, query=request.query or "", after=request.after or "", limit=limit + 1,
        joined=bool(request.joined))
    return Answer(id=request.id, fields={
        "rooms": [room_object(room) for room in rooms[:limit]], "more": len(rooms) > limit,
    })


async def create_room(app: App, caller: Caller, request: CreateRoom) -> Answer:
    """A new room with the caller as owner and first member (their connections join it)."""
    user = signed_in(caller)
    since = app.registry.epoch
    room = await app.storage.create_room(user.id, request.room, private=request.private,
                                         topic=request.topic)
    await subscribe(app, user.name, room.name, since)
    return Answer(id=request.id, fields={"room": room_object(room)})


async def invite(app: App, caller: Caller, request: Invite) -> Answer:
    """Make a user a member of a room the caller is in; their connections here join it."""
    user = signed_in(caller)
    since = app.registry.epoch
    name, new = await app.storage.invite(user.id, request.room, request.user)
    if new:
        announce = frame(MemberJoined(room=request.room, user=name, by=user.name))
        await subscribe(app, name, request.room, since, announce)
    return Answer(id=request.id, fields={"room": request.room, "user": name})


#: The page of ``who`` a request without ``limit`` gets (at most ``limits.rooms_page_max``).
WHO_PAGE = 100


async def who(app: App, caller: Caller, request: Who) -> Answer:
    """A page of the members by name with their presence and role (and ``deactivated``
    accounts marked), the number of members in all and how many are online. ``more``:
    another page follows, after the last name of this one. A client that sends neither
    ``after`` nor ``limit`` gets the first page in the shape the unpaged list had.

    What it costs is the page's, not the room's: the page is read by name from storage and
    the online members are counted from this node's room registry (the room's subscribed
    users) and, for users online only on other nodes, by storage, never by asking for every
    member's presence."""
    user = signed_in(caller)
    limit = request.limit or min(WHO_PAGE, app.config.limits.rooms_page_max)
    page = await app.storage.member_page(user.id, request.room, after=request.after or "",
                                         limit=limit + 1)
    members = page.members[:limit]
    statuses = app.presence.statuses(member.name for member in members)
    return Answer(id=request.id, fields={
        "room": request.room,
        "members": [member_object(member, status["status"])
                    for member, status in zip(members, statuses, strict=True)],
        "count": page.count,
        "online": await _online_members(app, request.room),
        "more": len(page.members) > limit,
    })


async def _online_members(app: App, room: str) -> int:
    """How many of ``room``'s members are online (not away) anywhere: those with a
    connection here subscribed to it (every session of a member is subscribed to all their
    rooms: a read of the registry's state, as :meth:`chatd.rooms.RoomRegistry.is_member`
    is) and not away, plus the members among the users online only on other nodes, which
    storage counts (none to count with one node)."""
    presence = app.presence.state
    here = [user for user in app.registry.state.room_users.get(room, ())
            if presence.status(user) == ONLINE]
    elsewhere = [user for user, nodes in presence.remote.items()
                 if user not in presence.conns and not all(nodes.values())]
    if not elsewhere:
        return len(here)
    return len(here) + await app.storage.count_members(room, elsewhere)


async def typing(app: App, caller: Caller, request: Typing) -> Ok:
    """Tell the room's other members the caller is typing (ephemeral: never stored).

    Checked by the registry in order with its other commands, not on a snapshot: after a
    kick is answered, its victim's ``typing`` is refused. An archived room takes none (read
    from storage: the archive may have come from another node)."""
    user = signed_in(caller)
    if await app.storage.room_archived(request.room):
        raise ChatError(codes.ARCHIVED, f"{request.room!r} is archived")
    data = frame(UserTyping(room=request.room, user=user.name))
    if not await app.registry.from_member(user.name, request.room, data):
        raise ChatError(codes.FORBIDDEN, "you are not a member of this room")
    if app.nodes is not None:
        app.nodes.typing(request.room, user.name)
    return Ok(id=request.id)


async def read(app: App, caller: Caller, request: Read) -> Answer:
    """Move the caller's read marker; their other connections are told, on every node, and,
    when it moved in a conversation and they share their read receipts, its other members
    (``seen``: chatd.actions.receipts; the same one statement tells which)."""
    user = signed_in(caller)
    move = await app.storage.mark_read(user.id, request.room, request.seq)
    await _tell_own(app, caller, user.name, frame(ReadMoved(room=request.room, seq=move.seq)))
    if move.tell:
        await tell_seen(app, user.name, [SeenMove(room=request.room, others=move.tell,
                                                  seq=move.seq)], reader_id=user.id)
    return Answer(id=request.id, fields={"room": request.room, "seq": move.seq})


#: ``read_all`` per user, over all their connections and the HTTP API: one statement may
#: move a thousand markers, and tells the user's other devices of each.
READ_ALLS = Bucket("read_all", lambda limits: (1.0, 10), "marking all read too often; slow down",
                   per_user=True)


async def read_all(app: App, caller: Caller, request: ReadAll) -> Answer:
    """Mark every room and conversation of the caller's read (those of ``request.rooms``
    only, when given), in one statement; the reply names the rooms whose marker moved and
    where to. Followed threads keep their markers (Slack's "Mark all messages as read" does
    not touch them either: the Threads view has its own).

    The caller's other connections are told as of one ``read`` each: a ``read`` event per
    moved room, which every client already applies (an older page or terminal client too),
    all in one outbox item per connection here, and packed into as few notices as fit for
    the other nodes (:meth:`chatd.storage.Storage.tell_elsewhere`), only while the caller is
    online on one: a thousand rooms make a few notices, not a thousand. The moved
    conversations' other members are told as a ``read`` tells them (``seen``), all in one
    registry command and one statement (:func:`chatd.actions.receipts.tell_seen`)."""
    user = signed_in(caller)
    moved = await app.storage.mark_all_read(user.id, request.rooms)
    if moved:
        data = b"".join(frame(ReadMoved(room=m.room, seq=m.seq)) for m in moved)
        await _tell_own(app, caller, user.name, data)
    await tell_seen(app, user.name, [SeenMove(room=m.room, others=m.tell, seq=m.seq)
                                     for m in moved], reader_id=user.id)
    return Answer(id=request.id,
                  fields={"rooms": [{"room": m.room, "seq": m.seq} for m in moved]})


async def _tell_own(app: App, caller: Caller, name: str, data: bytes) -> None:
    """Hand ``data`` to the user's other connections, on other nodes only while the user is
    online on one: a read is frequent, and a notice wakes every node. A device that misses
    it reads the marker in its next welcome."""
    await app.tell(name, data, "a read", exclude=caller.conn_id, only_if_elsewhere=True)


async def unread(app: App, caller: Caller, request: Unread) -> Answer:
    """Mark a room unread from the message ``request.seq`` on (the marker moves back; see
    :meth:`chatd.storage.Storage.mark_unread`). The reply and the ``read`` event to the
    caller's other connections say ``back`` and carry the room's counts from the new marker,
    which a client holding only the latest messages could not count. Nothing is pushed: the
    messages were delivered (and pushed, if at all) when they came. In a conversation, its
    other members are told as a ``read`` tells them, with ``back``."""
    user = signed_in(caller)
    marker = await app.storage.mark_unread(user.id, request.room, request.seq)
    moved = ReadMoved(room=request.room, seq=marker.seq, back=True, last_seq=marker.last_seq,
                      unread=marker.unread, mentions=marker.mentions)
    await _tell_own(app, caller, user.name, frame(moved))
    if marker.tell:
        await tell_seen(app, user.name, [SeenMove(room=request.room, others=marker.tell,
                                                  seq=marker.seq, back=True)],
                        reader_id=user.id)
    fields = moved.wire()
    del fields["op"]
    return Answer(id=request.id, fields=fields)


async def set_notify(app: App, caller: Caller, request: SetNotify) -> Answer:
    """Set the caller's notification level for a room they are in. Every connection of
    theirs on this node is told (the caller's too: a page shows it from the event as from
    any other device's change); other nodes are told through storage (chatd.cluster)."""
    user = signed_in(caller)
    level = await app.storage.set_notify(user.id, request.room, request.notify)
    await app.registry.send(ToUser(user.name, frame(NotifyChanged(room=request.room,
                                                                   notify=level))))
    return Answer(id=request.id, fields={"room": request.room, "notify": level})


async def hide(app: App, caller: Caller, request: Hide) -> Answer:
    """Close a conversation the caller is in (``on``: its ``hidden_seq`` becomes the room's
    last seq now) or show it again (cleared). A private marker of the membership, no entry
    of any log: every connection of the caller's, on every node, is told by a ``hidden``
    event (the caller's too: a page shows it from the event as from another device's). A
    message never touches it: a client shows the conversation once ``last_seq`` passes it."""
    user = signed_in(caller)
    hidden_seq = await app.storage.hide(user.id, request.room, request.on)
    await app.tell(user.name, frame(HiddenChanged(room=request.room, hidden_seq=hidden_seq)),
                   "a closed conversation")
    return Answer(id=request.id, fields={"room": request.room, "hidden_seq": hidden_seq})


async def favourite(app: App, caller: Caller, request: Favourite) -> Answer:
    """Mark (``on``) a room or conversation the caller is in as a favourite, or unmark it. A
    private mark of the membership, no entry of any log: when it changed, every connection
    of the caller's, on every node, is told by a ``favourite`` event (the caller's too, as
    ``hide`` tells it: a page applies it from the event as from another device's); setting
    what is set tells nobody."""
    user = signed_in(caller)
    mark = await app.storage.favourite(user.id, request.room, request.on)
    if mark.changed:
        await app.tell(user.name, frame(FavouriteChanged(
            room=request.room, on=request.on, favourite_at=mark.at)), "a favourite")
    return Answer(id=request.id, fields={"room": request.room, "favourite": request.on})


async def set_topic(app: App, caller: Caller, request: SetTopic) -> Append:
    """A new topic for a room the caller moderates: an entry of the room's log, so every
    member (and every resume) learns it in seq order with the messages."""
    user = signed_in(caller)
    return Append(request.id, NewChange(
        user_id=user.id, room=request.room, msg_id=0, kind="topic", text=request.topic,
    ))

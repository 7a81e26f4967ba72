"""Rooms: entering and leaving them, reading them, running them (invite, kick), who is in
them, typing and read markers."""

from __future__ import annotations

from chatd.actions.context import App, Caller, CatchUp, signed_in
from chatd.errors import ChatError
from chatd.protocol import (
    Answer,
    CreateRoom,
    History,
    HistoryPage,
    Invite,
    Join,
    JoinAccepted,
    Kick,
    Leave,
    MemberJoined,
    MemberLeft,
    Ok,
    Read,
    ReadMoved,
    Rooms,
    Typing,
    UserTyping,
    Who,
    codes,
    frame,
)
from chatd.rooms import Broadcast, ToUser
from chatd.rooms import Join as Subscribe
from chatd.rooms import Leave as Unsubscribe
from chatd.views import message_event, room_object

__all__ = [
    "create_room",
    "history",
    "invite",
    "join",
    "kick",
    "leave",
    "overview",
    "read",
    "typing",
    "who",
]


async def join(app: App, caller: Caller, request: Join) -> CatchUp:
    """Become a member (a room that does not exist is created, public) and get its latest
    messages; its live messages follow the reply, none missing, none twice."""
    user = signed_in(caller)
    joined = await app.storage.join_room(user.id, request.room)
    announce = (frame(MemberJoined(room=request.room, user=user.name))
                if joined.newly_joined else None)
    await caller.hold(frozenset({request.room}))
    await app.registry.send(Subscribe(user.name, request.room, announce))
    page = await app.storage.history(user.id, request.room, limit=app.config.limits.join_recent)
    reply = JoinAccepted(
        id=request.id, room=request.room, last_seq=page.last_seq,
        messages=[message_event(m) for m in page.messages], more=page.more,
        private=joined.room.private, topic=joined.room.topic,
    )
    return CatchUp(reply, {request.room: page.last_seq})


async def leave(app: App, caller: Caller, request: Leave) -> Ok:
    user = signed_in(caller)
    if await app.storage.leave_room(user.id, request.room):
        announce = frame(MemberLeft(room=request.room, user=user.name))
        await app.registry.send(Unsubscribe(user.name, request.room, announce))
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


async def overview(app: App, caller: Caller, request: Rooms) -> Answer:
    """Every public room and every room and conversation of the user."""
    user = signed_in(caller)
    rooms = await app.storage.rooms_overview(user.id)
    return Answer(id=request.id, fields={"rooms": [room_object(room) for room in rooms]})


async def create_room(app: App, caller: Caller, request: CreateRoom) -> Answer:
    """A new room with the caller as owner and first member (their connections join it)."""
    user = signed_in(caller)
    room = await app.storage.create_room(user.id, request.room, private=request.private,
                                         topic=request.topic)
    await app.registry.send(Subscribe(user.name, room.name, None))
    return Answer(id=request.id, fields={"room": room_object(room)})


async def invite(app: App, caller: Caller, request: Invite) -> Answer:
    user = signed_in(caller)
    name, new = await app.storage.invite(user.id, request.room, request.user)
    if new:
        announce = frame(MemberJoined(room=request.room, user=name, by=user.name))
        await app.registry.send(Subscribe(name, request.room, announce))
    return Answer(id=request.id, fields={"room": request.room, "user": name})


async def kick(app: App, caller: Caller, request: Kick) -> Answer:
    user = signed_in(caller)
    name, was_member = await app.storage.kick(user.id, request.room, request.user)
    if was_member:
        announce = frame(MemberLeft(room=request.room, user=name, by=user.name))
        await app.registry.send(Unsubscribe(name, request.room, announce))
    return Answer(id=request.id, fields={"room": request.room, "user": name})


async def who(app: App, caller: Caller, request: Who) -> Answer:
    user = signed_in(caller)
    members = await app.storage.room_members(user.id, request.room)
    return Answer(id=request.id, fields={
        "room": request.room, "members": app.presence.statuses(members),
    })


async def typing(app: App, caller: Caller, request: Typing) -> Ok:
    """Tell the room's other members the caller is typing (ephemeral: never stored)."""
    user = signed_in(caller)
    if not app.registry.is_member(user.name, request.room):
        raise ChatError(codes.FORBIDDEN, "you are not a member of this room")
    data = frame(UserTyping(room=request.room, user=user.name))
    await app.registry.send(Broadcast(frozenset({request.room}), data, exclude=user.name))
    return Ok(id=request.id)


async def read(app: App, caller: Caller, request: Read) -> Answer:
    """Move the caller's read marker; their other connections are told."""
    user = signed_in(caller)
    seq = await app.storage.mark_read(user.id, request.room, request.seq)
    data = frame(ReadMoved(room=request.room, seq=seq))
    await app.registry.send(ToUser(user.name, data, exclude=caller.conn_id))
    return Answer(id=request.id, fields={"room": request.room, "seq": seq})

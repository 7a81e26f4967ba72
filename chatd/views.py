"""The JSON shapes of rooms and messages, shared by the socket protocol and the HTTP API, so
that a client sees one room or one message the same way on both."""

from __future__ import annotations

import urllib.parse
from typing import Any

from chatd.protocol import (
    Entry,
    MessageDeleted,
    MessageEdited,
    MessagePosted,
    ReactionChanged,
    TopicChanged,
    default_notify,
)
from chatd.storage import FileInfo, Message, Room, User

__all__ = ["file_object", "file_url", "message_event", "message_object", "room_object",
           "thumbnail_url", "user_object"]


def file_url(info: FileInfo) -> str:
    """Where a file is downloaded (``GET`` with a Bearer token): its id, then its name,
    percent-encoded, for the browser's save dialog."""
    return f"/api/files/{info.id}/{urllib.parse.quote(info.name, safe='')}"


def thumbnail_url(info: FileInfo) -> str | None:
    """Where a file's thumbnail is downloaded (``GET`` with a Bearer token), if it has one."""
    return f"/api/thumbnails/{info.id}" if info.thumbnail else None


def file_object(info: FileInfo) -> dict[str, Any]:
    """A file as clients see it: in the upload's answer and in the messages it is attached
    to. ``thumbnail_url``, ``width`` and ``height`` are null unless it is an image."""
    return {"id": info.id, "name": info.name, "size": info.size,
            "content_type": info.content_type, "url": file_url(info),
            "thumbnail_url": thumbnail_url(info), "width": info.width, "height": info.height}


def message_event(message: Message) -> Entry:
    """The protocol event for an entry of a room's log: a message as it is now, or a
    change to one."""
    if message.kind == "edited":
        return MessageEdited(room=message.room, seq=message.seq, msg_id=message.msg_id,
                             text=message.text, sender=message.sender, ts=message.ts,
                             mentions=message.mentions)
    if message.kind == "deleted":
        return MessageDeleted(room=message.room, seq=message.seq, msg_id=message.msg_id,
                              by=message.sender, ts=message.ts)
    if message.kind == "topic":
        return TopicChanged(room=message.room, seq=message.seq, topic=message.text,
                            by=message.sender, ts=message.ts)
    if message.kind == "reaction":
        return ReactionChanged(room=message.room, seq=message.seq, msg_id=message.msg_id,
                               emoji=message.emoji, user=message.sender, on=message.on,
                               ts=message.ts)
    return MessagePosted(
        room=message.room, seq=message.seq, msg_id=message.msg_id, sender=message.sender,
        text=message.text, ts=message.ts, nonce=message.nonce, rev=message.rev or None,
        edited_ts=message.edited_ts, deleted=message.deleted, reactions=message.reactions,
        reply_to=message.reply_to, quote=message.quote, mentions=message.mentions,
        files=tuple(file_object(file) for file in message.files),
    )


def message_object(message: Message) -> dict[str, Any]:
    """An entry of a room's log as JSON: the event's fields (``op`` included)."""
    return message_event(message).wire()


def room_object(room: Room) -> dict[str, Any]:
    """A room as clients see it in ``welcome``, ``rooms``, ``create_room`` and /api/rooms.
    ``member``, ``read_seq``, ``unread``, ``mentions`` and ``notify`` are the asking user's
    (``notify``: the level they set, else the default of the kind); ``peer`` is there for a
    1:1 conversation (kind ``dm``)."""
    obj: dict[str, Any] = {
        "room": room.name, "kind": room.kind, "private": room.private, "topic": room.topic,
        "owner": room.owner, "last_seq": room.last_seq, "member": room.member,
        "read_seq": room.read_seq, "unread": room.unread, "mentions": room.mentions,
        "notify": room.notify or default_notify(room.kind),
    }
    if room.peer is not None:
        obj["peer"] = room.peer
    return obj


def user_object(user: User) -> dict[str, Any]:
    return {"id": user.id, "name": user.name}

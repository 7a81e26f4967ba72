"""Messages: ``send`` to a room and ``dm`` to a person, and the changes made to messages
(``edit``, ``delete``, ``react``). Each only says what to append to the room's log; the front
commits it with the group committer (see :class:`chatd.actions.context.Append`), and storage
checks, under the room's lock, who may make which change."""

from __future__ import annotations

from chatd.actions.context import App, Append, Caller, signed_in
from chatd.protocol import Delete, Dm, Edit, React, Send
from chatd.protocol.markup import mention_candidates
from chatd.rooms import Join as Subscribe
from chatd.storage import NewChange, NewMessage

__all__ = ["delete", "dm", "edit", "react", "send"]


async def send(app: App, caller: Caller, request: Send) -> Append:
    """A message to a room the caller is in (storage refuses it otherwise, at commit)."""
    user = signed_in(caller)
    return Append(request.id, NewMessage(
        user_id=user.id, room=request.room, text=request.text, nonce=request.nonce,
        reply_to=request.reply_to, mentions=_mentions(request.text), files=request.files,
    ))


async def dm(app: App, caller: Caller, request: Dm) -> Append:
    """A message to a person, in the room of their conversation (made on first use)."""
    user = signed_in(caller)
    conversation = await app.storage.direct_room(user.id, request.to)
    room = conversation.room.name
    # Subscribe both sides before the message can be published (idempotent when they
    # already are): whichever of two first messages commits first, both are delivered.
    # Without a ``since``, and without waiting: nobody ever leaves or is removed from a
    # conversation, so no removal can overtake these (chatd.rooms, "Membership").
    for name in {user.name, conversation.peer}:
        await app.registry.send(Subscribe(name, room, None))
    return Append(request.id, NewMessage(
        user_id=user.id, room=room, text=request.text, nonce=request.nonce,
        reply_to=request.reply_to, mentions=_mentions(request.text), files=request.files,
    ))


async def edit(app: App, caller: Caller, request: Edit) -> Append:
    """New text for the caller's own message."""
    user = signed_in(caller)
    return Append(request.id, NewChange(
        user_id=user.id, room=request.room, msg_id=request.msg_id, kind="edited",
        text=request.text, mentions=_mentions(request.text),
    ))


async def delete(app: App, caller: Caller, request: Delete) -> Append:
    """Delete a message: the caller's own, or any in a room they own."""
    user = signed_in(caller)
    return Append(request.id, NewChange(
        user_id=user.id, room=request.room, msg_id=request.msg_id, kind="deleted",
    ))


async def react(app: App, caller: Caller, request: React) -> Append:
    """Put or take back the caller's emoji on a message of a room they are in."""
    user = signed_in(caller)
    return Append(request.id, NewChange(
        user_id=user.id, room=request.room, msg_id=request.msg_id, kind="reaction",
        emoji=request.emoji, on=request.on,
    ))


def _mentions(text: str) -> tuple[str, ...]:
    # Plain text (most messages) skips the parse: no "@", no mention.
    return tuple(mention_candidates(text)) if "@" in text else ()

"""Messages: ``send`` to a room and ``dm`` to a person. Both only say what to append; the
front commits it (see :class:`chatd.actions.context.Append`)."""

from __future__ import annotations

from chatd.actions.context import App, Append, Caller, signed_in
from chatd.protocol import Dm, Send
from chatd.rooms import Join as Subscribe
from chatd.storage import NewMessage

__all__ = ["dm", "send"]


async def send(app: App, caller: Caller, request: Send) -> Append:
    """A message to a room the caller is in (storage refuses it otherwise, at commit)."""
    user = signed_in(caller)
    return Append(request.id, NewMessage(
        user_id=user.id, room=request.room, text=request.text, nonce=request.nonce,
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
    ))

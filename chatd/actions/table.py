"""Every operation of the socket protocol, with what it needs, checked before it runs.

In the spirit of ergo's ``irc/commands.go``: one row per request type names the function that
does it and its preconditions, and :func:`chatd.connection.Connection` checks those in one
place (a session, a rate bucket) instead of each operation starting with the same lines.
Adding an operation is one function and one row here (docs/design.md walks through one).
A test checks that every request the protocol can parse has a row.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

from chatd.actions import contacts, messages, moderation, rooms, session
from chatd.actions.context import App, Bucket, Caller, Result
from chatd.protocol import (
    AddContact,
    Audit,
    Ban,
    Bans,
    Contacts,
    CreateRoom,
    Delete,
    Dm,
    Edit,
    Hello,
    History,
    Invite,
    Join,
    Kick,
    Leave,
    Ping,
    React,
    Read,
    RemoveContact,
    Request,
    Rooms,
    Send,
    SetNotify,
    SetRole,
    SetTopic,
    Typing,
    Unban,
    Who,
)

__all__ = ["OPERATIONS", "ROOMS", "SEND", "TYPING", "Bucket", "Operation"]

# typing events per connection: a burst, then this many per second (clients send one every few
# seconds while a person types; more is noise for everyone else in the room)
TYPING_BURST = 5
TYPING_RATE = 1.0


SEND = Bucket("send", lambda limits: (limits.send_rate, limits.send_burst),
              "too many messages; slow down")
TYPING = Bucket("typing", lambda limits: (TYPING_RATE, TYPING_BURST), "typing too often")
#: New rooms per user (see :data:`chatd.actions.rooms.ROOMS`); ``join`` takes from it itself,
#: and only when it creates the room, so its row names no bucket.
ROOMS = rooms.ROOMS

Handler = Callable[[App, Caller, Any], Awaitable[Result]]


@dataclasses.dataclass(frozen=True, slots=True)
class Operation:
    """One request type's row: ``run`` does it; ``session``: only after a good ``hello``;
    ``rate``: the bucket each request takes a token from first."""

    run: Handler
    session: bool = True
    rate: Bucket | None = None


OPERATIONS: dict[type[Request], Operation] = {
    Hello: Operation(session.hello, session=False),
    Ping: Operation(session.ping, session=False),
    Join: Operation(rooms.join),
    Leave: Operation(rooms.leave),
    History: Operation(rooms.history),
    Rooms: Operation(rooms.overview),
    CreateRoom: Operation(rooms.create_room, rate=ROOMS),
    Invite: Operation(rooms.invite),
    Who: Operation(rooms.who),
    Typing: Operation(rooms.typing, rate=TYPING),
    Read: Operation(rooms.read),
    SetNotify: Operation(rooms.set_notify),
    Send: Operation(messages.send, rate=SEND),
    Dm: Operation(messages.dm, rate=SEND),
    # Changes are entries of the log like messages, and cost what a send does: one bucket.
    Edit: Operation(messages.edit, rate=SEND),
    Delete: Operation(messages.delete, rate=SEND),
    React: Operation(messages.react, rate=SEND),
    SetTopic: Operation(rooms.set_topic, rate=SEND),
    # Moderation: entries of the log too, committed before they are answered.
    SetRole: Operation(moderation.set_role, rate=SEND),
    Ban: Operation(moderation.ban, rate=SEND),
    Unban: Operation(moderation.unban, rate=SEND),
    Kick: Operation(moderation.kick, rate=SEND),
    Bans: Operation(moderation.bans),
    Audit: Operation(moderation.audit),
    Contacts: Operation(contacts.contacts),
    AddContact: Operation(contacts.add_contact),
    RemoveContact: Operation(contacts.remove_contact),
}

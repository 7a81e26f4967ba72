"""Read receipts: who has read a message, on request, and "Seen" in conversations, live.

Theory of operation. chatd keeps each member's read marker (``memberships.read_seq``); a
member has read a message when their marker is at or past its seq. Receipts only show other
people where the markers are: nothing more is stored per message or per read, and the one
new column is the user's choice to share (``users.read_receipts``, migration 0040, on by
default), read with the user's row wherever that row is read already (a hello, a token's
check). Someone who does not share is left out of everyone's receipts and ``seen`` events,
and still sees other people's (Zulip's rule).

On request (``receipts``, any room): one statement counts the readers and reads a page of
their names by name, whatever the room's size; nothing per member runs here. In a
conversation (kind ``dm`` or ``group``, at most 8 members) the same request without a
message gives each other member's marker, to draw "Seen" when it opens.

Live (``seen``, conversations only): the statement that moves the marker (``read``,
``unread``) also says whether it moved and, only when it moved in a conversation of a reader
who shares, the other members' names (:class:`chatd.storage.ReadMove`), so a room's read
costs what it did and tells nobody new. The event goes to the conversation's subscribers
here but the reader (one registry command) and, for each other member the presence tracker
knows online on another node, through a notice (as a read's own event does: a read is
frequent, and a notice wakes every node). A move back (``unread``) tells too, with
``back``: receipts are the marker's, and a live "Seen" that the next ``receipts`` would
contradict is worse than one that goes away. For the same reason turning the sharing off
takes back what others were told (``seen`` with ``seq`` null in each of the user's
conversations: forget the position) and turning it on again tells each where the marker is,
as a read would; the statement that changes the setting says where and whom.

Telling is batched: whatever one request moves (a ``read``'s one conversation, a
``read_all``'s or the setting's many), :func:`tell_seen` hands the registry one command
(:class:`chatd.rooms.BroadcastEach`) and the other nodes one statement
(:meth:`chatd.storage.Storage.tell_elsewhere_many`), not one of each per conversation.

A read and the setting race. The read's statement decides whom to tell from the setting as
its snapshot has it; the setting, turned off meanwhile (its statement committed while the
read's ran, or just after), takes back what was told before it, and then the read's ``seen``
goes out, after the ``seq`` null: the others would be left with a position the reader no
longer shares. So a read that told anyone asks again, once its ``seen`` is handed on, whether
the reader still shares (:func:`tell_seen`'s ``reader_id``: one read of the user's row,
only for reads that told someone, a conversation's), and if not takes it back itself. The
setting's statement either saw the read's marker (and took it back) or ran before the
read's end; the read's own check runs after its tell was handed on, in the order the
registry and the notices keep: whichever way they interleave, the last ``seen`` each
subscriber gets is ``seq`` null. (Turned on meanwhile instead, the setting tells the marker
as it found it, and the read the marker it moved to: the last word is a position that is
shared, at worst the read's, which is the marker.)
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence

from chatd.actions.context import App, Bucket, Caller, signed_in
from chatd.protocol import (
    RECEIPTS_PAGE,
    Answer,
    ReadReceiptsChanged,
    Receipts,
    Seen,
    SetReadReceipts,
    frame,
)
from chatd.rooms import BroadcastEach
from chatd.storage import StorageUnavailable

__all__ = ["RECEIPTS", "SeenMove", "receipts", "set_read_receipts", "tell_seen"]

log = logging.getLogger(__name__)

#: ``receipts`` of a message per user, over all their connections and the HTTP API: a burst
#: of 30, then one a second. Its one statement counts a room's readers, 20-35 ms of the
#: database's time in a room of 10,000 members. A conversation's markers (no ``msg_id``: at
#: most 8 members, asked whenever a conversation opens) take nothing.
RECEIPTS = Bucket("receipts", lambda limits: (1.0, 30),
                  "asking who has read messages too often; try again in a moment",
                  per_user=True)


async def receipts(app: App, caller: Caller, request: Receipts) -> Answer:
    """Who has read message ``msg_id`` (its author, the caller and those who do not share
    aside): the count of all and a page of names by name, ``more`` when another page
    follows (a token of :data:`RECEIPTS` first); without a message, a conversation's other
    members' markers (``positions``)."""
    user = signed_in(caller)
    if request.msg_id is None:
        positions = await app.storage.read_positions(user.id, request.room)
        return Answer(id=request.id, fields={
            "room": request.room,
            "positions": [{"user": p.user, "seq": p.seq} for p in positions],
        })
    app.take(RECEIPTS, user.name)
    limit = request.limit or RECEIPTS_PAGE
    found = await app.storage.receipts(user.id, request.room, request.msg_id,
                                       after=request.after or "", limit=limit + 1)
    return Answer(id=request.id, fields={
        "room": request.room, "msg_id": request.msg_id, "seq": found.seq,
        "count": found.count, "users": list(found.users[:limit]),
        "more": len(found.users) > limit,
    })


async def set_read_receipts(app: App, caller: Caller, request: SetReadReceipts) -> Answer:
    """Share the caller's read receipts (``on``) or not. When it changed, every connection
    of theirs, on every node, is told (the ``read_receipts`` event, the caller's too), and
    the other members of each of their conversations are told where the marker is (on) or
    to forget it (off: ``seen`` with ``seq`` null), all at once (:func:`tell_seen`)."""
    user = signed_in(caller)
    conversations = await app.storage.set_read_receipts(user.id, request.on)
    if conversations is not None:
        await app.tell(user.name, frame(ReadReceiptsChanged(on=request.on)),
                       "a read receipts setting")
        await tell_seen(app, user.name, [
            SeenMove(room=c.room, others=c.tell, seq=c.seq if request.on else None)
            for c in conversations])
    return Answer(id=request.id, fields={"on": request.on})


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SeenMove:
    """What one conversation's ``others`` are to be told of a reader's marker: it is at
    ``seq`` (``back``: it moved back), or None: it is no longer shared."""

    room: str
    others: Sequence[str]
    seq: int | None
    back: bool = False


async def tell_seen(app: App, reader: str, moves: Sequence[SeenMove], *,
                    reader_id: int | None = None) -> None:
    """Tell each move's ``others`` where ``reader``'s marker of that conversation is: here,
    the conversations' subscribers but the reader, in one registry command; elsewhere, each
    of the others online on another node, every frame for them in one statement (as few
    notices as they fit in). Best effort, as every event past the commit: a lost one is read
    again with ``receipts``.

    ``reader_id``: the moves are a read's, decided from the setting as the read's statement
    saw it: once they are told, if the reader no longer shares, they are taken back (``seq``
    null; see the module's docstring). None: the setting's own (nothing to check)."""
    told = await _tell_seen(app, reader, moves)
    if reader_id is None or not told:
        return
    try:
        shares = await app.storage.shares_read_receipts(reader_id)
    except StorageUnavailable as exc:
        log.warning("cannot check whether a read's seen is still shared: %s", exc)
        return
    if not shares:
        await _tell_seen(app, reader, [SeenMove(room=move.room, others=move.others, seq=None)
                                       for move in moves if move.others])


async def _tell_seen(app: App, reader: str, moves: Sequence[SeenMove]) -> bool:
    """:func:`tell_seen` without the check; whether anyone was to be told."""
    frames = tuple((move.room, frame(Seen(room=move.room, user=reader, seq=move.seq,
                                          back=move.back or None)))
                   for move in moves if move.others)
    if not frames:
        return False
    await app.registry.send(BroadcastEach(frames, exclude=reader))
    remote = app.presence.state.remote
    elsewhere: dict[str, list[bytes]] = {}
    for move, (_, data) in zip((m for m in moves if m.others), frames, strict=True):
        for other in move.others:
            if other in remote:
                elsewhere.setdefault(other, []).append(data)
    if not elsewhere:
        return True
    try:
        await app.storage.tell_elsewhere_many(
            [(other, b"".join(data)) for other, data in elsewhere.items()])
    except StorageUnavailable as exc:
        log.warning("cannot tell the other nodes of a read: %s", exc)
    return True

"""The messages the client holds, kept exact by applying the entries of the rooms' logs.

Theory of operation. Every change to a room is an entry of its log with its own seq
(docs/protocol.md, "Changes to messages"): a ``message`` (a message object, as it is when it
is read), an ``edited``, a ``deleted``, a ``reaction``, a ``pinned``, a ``preview``. The same
entries reach the client by several roads: live, on resume, in a ``join`` reply, in a
``history`` page (paging back, or filling a gap). :meth:`Messages.apply` is the one door all
of them go through, and its rules, all in this module, make the order of the roads and any
repetition harmless:

1. Messages are kept by ``(room, msg_id)`` with their ``rev``: the seq of the last entry that
   changed them, their own seq when none has.
2. A change entry (``edited``, ``deleted``, ``reaction``, ``pinned``, ``preview``) is applied
   to a held message only if its seq is greater than the message's ``rev``; then ``rev``
   becomes that seq. A change to a message not held is skipped: whenever the message is read
   later, its message object already shows the change.
3. A message object replaces the held one when its ``rev`` is not lower (the server's reading
   is the truth); an older reading is skipped. (Its ``quote``, the answered message as it was
   when read, is taken from the latest reading but is not a change of this message.)
   A thread reply (a message with ``thread``) is also a change of its root, by rule 2: one
   more reply in the root's ``replies``, at the reply's time, its sender first among the
   repliers (:func:`replied`), the root's ``rev`` the reply's seq. The server stores the
   root's rev the same way, so a root read after the reply already counts it.

4. The entries of a room come in seq order, but for pages: a page (the entries after some seq
   ``lo``) may come at any moment once every entry up to ``lo`` did, and may repeat entries
   applied already. (Live entries that come ahead of a page still to come, as after a
   ``gap``, must wait for it: a reaction applied before an earlier edit moves the rev past
   the edit, which is then skipped. The session keeps them back.)

So applying a history page and then the same entries live, or any entries twice, ends in the
same state; :class:`Applied` says whether an entry changed what is shown, which is what the
session prints. A deleted message is a tombstone (empty text, no reactions, no mentions, not
pinned) and stays one, and forgets whether it had been edited.

Short numbers. A message shown is given a short number (``[3]``), the handle the commands use
(``/edit 3 …``). The numbers count up over the whole session, across rooms, so that a number
always names one message, whichever room is current. They are a matter of display and not part
of the state above.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from chatd.protocol import (
    Entry,
    MessageDeleted,
    MessageEdited,
    MessagePinned,
    MessagePosted,
    PollClosed,
    PollVoted,
    PreviewChanged,
    ReactionChanged,
)
from chatd.protocol.events import THREAD_USERS

__all__ = ["MAX_HELD_PER_ROOM", "Applied", "Messages", "normalised", "preview_of", "reacted",
           "replied"]

#: The most messages held per room; past it the oldest (lowest seq) are forgotten, and
#: changes to them are then skipped like changes to any message not held.
MAX_HELD_PER_ROOM = 10_000

Reactions = tuple[tuple[str, tuple[str, ...]], ...]


class Applied(enum.Enum):
    """What applying an entry did."""

    NEW = "new"  # a message not held before
    CHANGED = "changed"  # a held message now reads differently
    NOTHING = "nothing"  # stale, repeated, or for a message not held


def normalised(message: MessagePosted) -> MessagePosted:
    """``message`` in the form it is held: ``rev`` set (its seq when the server left it out),
    reactions, mentions and files as tuples; a tombstone with nothing but its place, sender
    and time (not even whether it had been edited, which the entries that reach a client do
    not always tell)."""
    if message.deleted:
        message = dataclasses.replace(message, text="", edited_ts=None, reactions=(),
                                      mentions=(), group=None, files=(), pinned=None,
                                      previews=(), poll=None)
    return dataclasses.replace(
        message,
        rev=max(message.rev or 0, message.seq),
        reactions=_tupled(message.reactions),
        mentions=tuple(message.mentions),
        files=tuple(message.files),
        previews=tuple(message.previews),
        quote=dict(message.quote) if message.quote is not None else None,
        pinned=dict(message.pinned) if message.pinned is not None else None,
        poll=dict(message.poll) if message.poll is not None else None,
        replies=None if message.replies is None else {
            **message.replies, "users": tuple(message.replies["users"])},
    )


def reacted(message: MessagePosted, emoji: str, user: str) -> bool:
    """Whether ``user`` (any case) has put ``emoji`` on ``message``."""
    name = user.lower()
    return any(e == emoji and any(u.lower() == name for u in users)
               for e, users in message.reactions)


def _tupled(reactions: Sequence[tuple[str, Sequence[str]]]) -> Reactions:
    return tuple((emoji, tuple(users)) for emoji, users in reactions)


def _react(reactions: Reactions, emoji: str, user: str, on: bool) -> Reactions:
    """``reactions`` with ``user``'s ``emoji`` put or taken back. An emoji keeps its place
    while someone has it on, and a user theirs; an emoji nobody has on any more is gone."""
    result: list[tuple[str, tuple[str, ...]]] = []
    found = False
    for e, users in reactions:
        if e == emoji:
            found = True
            if not on:
                users = tuple(u for u in users if u != user)
            elif user not in users:
                users = (*users, user)
        if users:
            result.append((e, users))
    if on and not found:
        result.append((emoji, (user,)))
    return tuple(result)


Change = (MessageEdited | MessageDeleted | ReactionChanged | MessagePinned | PreviewChanged
          | PollVoted | PollClosed)


def voted(poll: Mapping[str, Any], user: str, options: Sequence[int]) -> dict[str, Any]:
    """``poll`` after a ``voted`` entry: ``user`` out of every option's voters, then at the
    end of the voters of each option in ``options`` (docs/protocol.md, "Polls")."""
    chosen = set(options)
    shown: list[dict[str, Any]] = []
    for index, option in enumerate(poll.get("options") or ()):
        voters = [v for v in option.get("voters") or () if v != user]
        if index in chosen:
            voters.append(user)
        shown.append({**option, "voters": voters, "votes": len(voters)})
    return {**poll, "options": shown}


def replied(root: MessagePosted, reply: MessagePosted) -> MessagePosted:
    """``root`` after a ``reply`` in its thread (whose seq is above the root's rev): one
    more reply, the latest at the reply's time, its sender first of the latest repliers (at
    most :data:`THREAD_USERS`), the root's rev the reply's seq (docs/protocol.md,
    "Threads")."""
    replies = root.replies or {"count": 0, "last_ts": 0, "users": ()}
    users = (reply.sender, *(u for u in replies["users"] if u != reply.sender))
    return dataclasses.replace(root, rev=reply.seq, replies={
        "count": replies["count"] + 1, "last_ts": reply.ts,
        "users": users[:THREAD_USERS]})


def preview_of(entry: PreviewChanged) -> tuple[dict[str, Any], ...]:
    """A ``preview`` entry as the message's ``previews``: none for a removal."""
    if entry.url is None:
        return ()
    shown: dict[str, Any] = {"url": entry.url, "title": entry.title,
                             "description": entry.description, "site": entry.site}
    if entry.image is not None:
        shown["image"] = dict(entry.image)
    return (shown,)


def _changed(held: MessagePosted, entry: Change) -> MessagePosted:
    """``held`` after ``entry`` (whose seq is above its rev)."""
    if held.deleted:  # a tombstone stays one (the server sends nothing after a delete)
        return dataclasses.replace(held, rev=entry.seq)
    if isinstance(entry, MessageEdited):
        return dataclasses.replace(held, text=entry.text, edited_ts=entry.ts,
                                   mentions=tuple(entry.mentions), group=entry.group,
                                   rev=entry.seq)
    if isinstance(entry, MessageDeleted):
        return dataclasses.replace(held, deleted=True, text="", edited_ts=None, reactions=(),
                                   mentions=(), group=None, files=(), pinned=None,
                                   previews=(), poll=None, rev=entry.seq)
    if isinstance(entry, MessagePinned):
        pinned = {"by": entry.by, "ts": entry.ts, "seq": entry.seq} if entry.on else None
        return dataclasses.replace(held, pinned=pinned, rev=entry.seq)
    if isinstance(entry, PreviewChanged):
        return dataclasses.replace(held, previews=preview_of(entry), rev=entry.seq)
    if isinstance(entry, PollVoted | PollClosed):
        if held.poll is None:
            return dataclasses.replace(held, rev=entry.seq)
        poll = (voted(held.poll, entry.user, entry.options) if isinstance(entry, PollVoted)
                else {**held.poll, "closed": True, "closed_by": entry.by,
                      "closed_ts": entry.ts})
        return dataclasses.replace(held, poll=poll, rev=entry.seq)
    return dataclasses.replace(held, rev=entry.seq,
                               reactions=_react(_tupled(held.reactions), entry.emoji,
                                                entry.user, entry.on))


class Messages:
    """The messages held, by room, and the short numbers of those shown.

    Args:
        max_per_room: how many messages a room keeps (see :data:`MAX_HELD_PER_ROOM`).
    """

    def __init__(self, *, max_per_room: int = MAX_HELD_PER_ROOM) -> None:
        self._rooms: dict[str, dict[int, MessagePosted]] = {}
        self._max = max_per_room
        self._numbers: dict[tuple[str, int], int] = {}
        self._numbered: dict[int, tuple[str, int]] = {}
        self._last_number = 0

    # ------------------------------------------------------------------ the state

    def apply(self, entry: Entry) -> Applied:
        """Apply one entry of a room's log, by the rules of the module's docstring."""
        if isinstance(entry, MessagePosted):
            return self._put(normalised(entry))
        if not isinstance(entry, Change):
            return Applied.NOTHING  # the room's (a topic, moderation): the session's to show
        held = self._rooms.get(entry.room, {}).get(entry.msg_id)
        if held is None or entry.seq <= _rev(held):
            return Applied.NOTHING
        changed = _changed(held, entry)
        self._rooms[entry.room][entry.msg_id] = changed
        return Applied.CHANGED if _shown(changed) != _shown(held) else Applied.NOTHING

    def _put(self, message: MessagePosted) -> Applied:
        room = self._rooms.setdefault(message.room, {})
        if message.thread is not None:
            root = room.get(message.thread)
            if root is not None and message.seq > _rev(root):
                room[root.msg_id] = replied(root, message)
        held = room.get(message.msg_id)
        if held is not None:
            if _rev(message) < _rev(held) or message == held:
                return Applied.NOTHING
            room[message.msg_id] = message
            return Applied.CHANGED if _shown(message) != _shown(held) else Applied.NOTHING
        room[message.msg_id] = message
        if len(room) > self._max:
            oldest = min(room.values(), key=lambda m: m.seq)
            del room[oldest.msg_id]
            number = self._numbers.pop((message.room, oldest.msg_id), None)
            if number is not None:
                del self._numbered[number]
        return Applied.NEW

    def state(self) -> dict[str, dict[int, MessagePosted]]:
        """Every message held, by room and msg_id (a copy: for tests and tools)."""
        return {room: dict(held) for room, held in self._rooms.items() if held}

    def get(self, room: str, msg_id: int) -> MessagePosted | None:
        """The held message ``msg_id`` of ``room``, as it is now."""
        return self._rooms.get(room, {}).get(msg_id)

    def in_room(self, room: str) -> Iterator[MessagePosted]:
        """The held messages of ``room``, in no particular order."""
        return iter(list(self._rooms.get(room, {}).values()))

    def last_by(self, room: str, user: str) -> MessagePosted | None:
        """The latest message of ``room`` by ``user`` (any case) that is not deleted."""
        name = user.lower()
        mine = [m for m in self.in_room(room) if m.sender.lower() == name and not m.deleted]
        return max(mine, key=lambda m: m.seq, default=None)

    def latest(self, room: str) -> MessagePosted | None:
        """The latest message of ``room`` held that is not deleted (anyone's)."""
        shown = [m for m in self.in_room(room) if not m.deleted]
        return max(shown, key=lambda m: m.seq, default=None)

    def forget(self, room: str) -> None:
        """Drop everything held of ``room`` (the user left it). Numbers given stay unused."""
        for msg_id in self._rooms.pop(room, {}):
            number = self._numbers.pop((room, msg_id), None)
            if number is not None:
                del self._numbered[number]

    # ------------------------------------------------------------------ short numbers

    def number(self, message: MessagePosted) -> int:
        """The short number of ``message``, given now if it has none yet."""
        key = (message.room, message.msg_id)
        number = self._numbers.get(key)
        if number is None:
            self._last_number = number = self._last_number + 1
            self._numbers[key] = number
            self._numbered[number] = key
        return number

    def numbered(self, number: int) -> MessagePosted | None:
        """The held message shown with ``number``, or None (no such number, or forgotten)."""
        key = self._numbered.get(number)
        return self.get(*key) if key is not None else None


def _rev(message: MessagePosted) -> int:
    return message.rev if message.rev is not None else message.seq


def _shown(message: MessagePosted) -> MessagePosted:
    """What of a message its entries decide: all of it but ``rev`` (a change that moves only
    the rev prints nothing) and ``quote``, which shows another message as it was when this
    one was read (it follows that message's entries, not this one's, so it is kept as the
    latest reading gives it without being news)."""
    return dataclasses.replace(message, rev=None, quote=None)

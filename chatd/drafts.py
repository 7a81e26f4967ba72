"""Clearing a draft when its user sends the message it was the making of, off the send path.

Theory of operation. A user's drafts live in storage (migration 0049, chatd.actions.drafts);
the page and the terminal client show the one of the room (or thread) open. When the user
sends a message there, the draft is done with, on every device: the server deletes it and
tells each of the user's connections (the ``draft`` event with an empty text), so that a box
that showed it on the phone empties when the laptop sends it.

That must cost the send path nothing, and cost the database nothing for the sends of users
who have no draft there, which is nearly all of them: a statement per send, or per batch,
would be paid by every message. So the committer hands each committed batch to
:meth:`DraftSweeper.offer` (as it hands it to the pusher: ``on_committed``, after the
acknowledgements, never waiting), which looks each message's sender up in this node's
:class:`DraftIndex`: the rooms and threads each user is known to have a draft of. Only a
message whose sender has a draft of its room and thread, or whose drafts this node does not
know yet, is queued for the sweeper's task; everything else costs a dictionary lookup.

The index learns a user's drafts from storage the first time one of their messages is
committed here (one statement for the users of a batch, :meth:`Storage.draft_keys`; then it
keeps them, for up to :data:`INDEX_USERS` users, the least recently seen forgotten first),
and follows every change after that: ``set_draft`` on this node (the action tells it), on
another node (the ``draft`` event that node tells the user's connections crosses to every
node as a user event, which the relay shows the index: :meth:`DraftIndex.heard`), and the
sweeper's own deletions. A change heard while the user's drafts are being read is applied
after the read (:meth:`DraftIndex.begin`). When the relay's listening connection was lost,
events may have been missed: the index forgets everything (:meth:`DraftIndex.forget_all`)
and learns again.

The sweeper's task deletes, in one statement per batch, the drafts its messages were sent
from (:meth:`Storage.clear_sent_drafts`), only those stored no later than the message (a
draft typed since on another device is another message), and tells each user's
connections, on every node, of each deletion. A draft left because the index was wrong
(an event lost with a full inbox) is only a draft left in the box: the user deletes it.
What waits is bounded (``queue_size``; past it a batch's messages are dropped and counted).
"""

from __future__ import annotations

import collections
import dataclasses
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence

import trio

from chatd.protocol import DraftChanged, frame
from chatd.storage import Message, Storage, StorageUnavailable

__all__ = ["INDEX_USERS", "DraftIndex", "DraftSweeper", "SentFrom", "typed"]

log = logging.getLogger(__name__)

#: Users whose drafts the index keeps (each a set of rooms and threads, most often empty).
INDEX_USERS = 100_000
#: Messages the sweeper's task takes at once (one statement).
SWEEP_BATCH = 500
#: How a draft event starts on the wire (chatd.protocol.events.DraftChanged.wire).
_DRAFT_EVENT = b'{"op":"draft"'

Key = tuple[str, int]  # (room, thread: 0 for the room itself)


def typed(message: Message) -> bool:
    """Whether ``message`` may have been typed in a message box: a message (not a change),
    not a forward, not a scheduled message the server sent (its box was emptied when it was
    scheduled; a draft typed since is another one)."""
    return (message.kind == "message" and message.forwarded is None
            and not message.nonce.startswith("sched:"))


class DraftIndex:
    """Which rooms and threads each user has a draft of, as far as this node knows (see the
    module's docstring). Plain data: no I/O, used from trio's thread only."""

    def __init__(self, most: int = INDEX_USERS) -> None:
        self._most = most
        self._keys: collections.OrderedDict[str, set[Key]] = collections.OrderedDict()
        #: Users whose drafts are being read, with the changes heard meanwhile.
        self._reading: dict[str, list[tuple[Key, bool]]] = {}

    def __len__(self) -> int:
        return len(self._keys)

    def known(self, user: str) -> bool:
        return user.lower() in self._keys

    def may_have(self, user: str, room: str, thread: int) -> bool:
        """Whether ``user`` may have a draft of ``room``'s ``thread`` (0: the room itself):
        yes when they do as far as known, or when their drafts are not known."""
        keys = self._keys.get(user.lower())
        return keys is None or (room, thread) in keys

    def begin(self, users: Iterable[str]) -> None:
        """``users``' drafts are about to be read: what is heard of them until
        :meth:`learn` is applied after it."""
        for user in users:
            self._reading.setdefault(user.lower(), [])

    def learn(self, user: str, keys: Iterable[Key]) -> None:
        """``user``'s drafts as read (after :meth:`begin`), with what was heard since."""
        name = user.lower()
        known = set(keys)
        for key, present in self._reading.pop(name, ()):
            if present:
                known.add(key)
            else:
                known.discard(key)
        self._keys[name] = known
        self._keys.move_to_end(name)
        while len(self._keys) > self._most:
            self._keys.popitem(last=False)

    def abandon(self, users: Iterable[str]) -> None:
        """The read of ``users``' drafts failed: they stay unknown."""
        for user in users:
            self._reading.pop(user.lower(), None)

    def changed(self, user: str, room: str, thread: int, present: bool) -> None:
        """``user`` now has (``present``) or no longer has a draft of ``room``'s
        ``thread``. A user whose drafts are not known stays so (they may have any)."""
        name = user.lower()
        pending = self._reading.get(name)
        if pending is not None:
            pending.append(((room, thread), present))
        keys = self._keys.get(name)
        if keys is None:
            return
        if present:
            keys.add((room, thread))
        else:
            keys.discard((room, thread))

    def heard(self, user: str, data: bytes) -> None:
        """Another node told ``user``'s connections ``data`` (frames, one a line): follow
        its draft events (any other event is let be, at the cost of comparing its first
        bytes)."""
        if _DRAFT_EVENT not in data:
            return
        for line in data.split(b"\n"):
            if not line.startswith(_DRAFT_EVENT):
                continue
            try:
                event = json.loads(line)
                room, text, thread = event["room"], event["text"], event.get("thread") or 0
            except (ValueError, KeyError, TypeError):
                log.warning("a draft event that does not read: %r", line[:200])
                continue
            if isinstance(room, str) and isinstance(text, str) and isinstance(thread, int):
                self.changed(user, room, thread, bool(text))

    def forget_all(self) -> None:
        """Changes may have been missed (the relay's listener was lost): learn again."""
        self._keys.clear()


@dataclasses.dataclass(frozen=True, slots=True)
class SentFrom:
    """A message ``user`` sent to ``room``'s ``thread`` (0: the room itself) at ``ts``."""

    user: str
    room: str
    thread: int
    ts: int


class DraftSweeper:
    """Deletes the drafts their users' messages were sent from (see the module's
    docstring).

    Args:
        storage: the drafts.
        tell: hands a frame to every connection of a user, on every node
            (:meth:`chatd.actions.context.App.tell`).
        queue_size: messages that may wait for the task; past that they are dropped.
    """

    def __init__(self, storage: Storage, tell: Callable[[str, bytes], Awaitable[None]], *,
                 queue_size: int = 10_000, index: DraftIndex | None = None) -> None:
        self._storage = storage
        self._tell = tell
        self.index = index or DraftIndex()
        self._send, self._receive = trio.open_memory_channel[SentFrom](queue_size)
        self.dropped = 0

    def offer(self, messages: Sequence[Message]) -> None:
        """The committer's hook: queue the messages that may have been sent from a draft.
        Never waits."""
        index = self.index
        for message in messages:
            thread = message.thread or 0
            if not typed(message) or not index.may_have(message.sender, message.room, thread):
                continue
            try:
                self._send.send_nowait(SentFrom(message.sender, message.room, thread,
                                                message.ts))
            except trio.WouldBlock:
                self.dropped += 1

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                  ) -> None:
        task_status.started()
        async for first in self._receive:
            batch = [first]
            while len(batch) < SWEEP_BATCH:
                try:
                    batch.append(self._receive.receive_nowait())
                except trio.WouldBlock:
                    break
            try:
                await self.sweep(batch)
            except StorageUnavailable as exc:
                log.warning("cannot clear the drafts of %d messages sent: %s", len(batch), exc)

    async def sweep(self, batch: Sequence[SentFrom]) -> None:
        """Learn the drafts of the batch's users not known yet, delete those sent, tell."""
        index = self.index
        unknown = sorted({sent.user.lower() for sent in batch if not index.known(sent.user)})
        if unknown:
            index.begin(unknown)
            try:
                read = await self._storage.draft_keys(unknown)
            except BaseException:
                index.abandon(unknown)
                raise
            for user, keys in read.items():
                index.learn(user, keys)
        wanted = [sent for sent in batch if index.may_have(sent.user, sent.room, sent.thread)]
        if not wanted:
            return
        cleared = await self._storage.clear_sent_drafts(
            [(sent.user, sent.room, sent.thread, sent.ts) for sent in wanted])
        for user, draft in cleared:
            index.changed(user, draft.room, draft.thread or 0, False)
            await self._tell(user, frame(DraftChanged(room=draft.room, thread=draft.thread,
                                                      text="", updated_at=draft.updated_at)))

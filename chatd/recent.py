"""The entries of room logs published on this node lately, for the connections' repairs.

Theory of operation. With several nodes, a room's entries reach the registry here out of seq
order: a local commit of seq 7 is published by the committer as soon as it is stored, while
another node's seq 6, committed just before, is still on its way through its commit notice
and the relay (chatd.cluster). Every connection of the room here then sees a gap (rule 6 of
chatd.delivery) and asks for a repair: until now each of them read seq 6 from the database,
one statement per connection, although the relay publishes it here a few milliseconds later.

:class:`RecentEntries` keeps the frames the registry published lately (only for rooms with
members here; at most :data:`RECENT_BYTES` bytes in all, the oldest forgotten first). A
repair first waits up to :data:`REPAIR_WAIT` seconds for its range to have been published
here, and takes those frames: the very bytes the room's other connections were given, one
for each seq of the range. Past the wait (a lost notice, a stalled relay, entries forgotten
already) it reads the database as before, once for all the connections here that miss the
same range at the same time (:meth:`RecentEntries.read_once`): they saw the same gap. Nothing
else changes: the repair's ``Release`` is the same, and a delivery of the range that comes
after it is dropped by seq.

All of this is for entries that come from other nodes. A node alone (most servers) publishes
every entry in seq order itself, so a gap it sees (a join's read racing a commit, a full
outbox) will never be filled by a publication: it keeps nothing and its repairs read at once.
:meth:`RecentEntries.share` says which case holds: ``chatd.cluster.Nodes`` tells it after each
sweep of the nodes table, and the relay as soon as another node's commit notice arrives.
"""

from __future__ import annotations

import collections
from collections.abc import Awaitable, Callable, Iterable

import trio

from chatd.delivery import Delivery

__all__ = ["RECENT_BYTES", "REPAIR_WAIT", "RecentEntries"]

#: Bytes of frames kept, over all rooms.
RECENT_BYTES = 4 * 1024 * 1024
#: Seconds a repair waits for its range to be published here before reading it.
REPAIR_WAIT = 0.25


class RecentEntries:
    """Frames of room logs published here lately, by room and seq; fed by the registry's
    task only (:meth:`published`), read by the connections' repairs (:meth:`wait_for`)."""

    def __init__(self, most_bytes: int = RECENT_BYTES, wait: float = REPAIR_WAIT) -> None:
        self._most = most_bytes
        self._wait = wait
        self._bytes = 0
        self._rooms: dict[str, dict[int, bytes]] = {}
        self._order: collections.deque[tuple[str, int]] = collections.deque()
        self._waiters: dict[str, trio.Event] = {}
        self._reads: dict[tuple[str, int, int], _Read] = {}
        #: Whether another node is alive, whose entries may come here out of order.
        self.shared = True

    def share(self, shared: bool) -> None:
        """Whether another node is alive (see the module docstring); alone, nothing is kept."""
        self.shared = shared
        if not shared and self._rooms:
            self._rooms.clear()
            self._order.clear()
            self._bytes = 0

    def published(self, deliveries: Iterable[Delivery]) -> None:
        """Keep these (just published), forgetting the oldest past the bound, and wake the
        repairs waiting in their rooms."""
        if not self.shared:
            return
        for delivery in deliveries:
            room = self._rooms.setdefault(delivery.room, {})
            if delivery.seq in room:
                continue  # published twice (a relayed entry also read by a join): same entry
            room[delivery.seq] = delivery.data
            self._order.append((delivery.room, delivery.seq))
            self._bytes += len(delivery.data)
            waiting = self._waiters.pop(delivery.room, None)
            if waiting is not None:
                waiting.set()
        while self._bytes > self._most and self._order:
            name, seq = self._order.popleft()
            kept = self._rooms.get(name)
            data = None if kept is None else kept.pop(seq, None)
            if kept is None or data is None:
                continue  # forgotten with its room
            self._bytes -= len(data)
            if not kept:
                del self._rooms[name]

    def forget(self, room: str) -> None:
        """``room`` is gone (deleted): a new room of that name has seqs of its own."""
        kept = self._rooms.pop(room, None)
        if kept is not None:
            self._bytes -= sum(len(data) for data in kept.values())

    def get(self, room: str, after: int, upto: int) -> bytes | None:
        """The frames of ``room``'s entries ``after`` < seq <= ``upto``, if every one of them
        is kept; else None."""
        kept = self._rooms.get(room)
        if kept is None:
            return None
        frames = []
        for seq in range(after + 1, upto + 1):
            data = kept.get(seq)
            if data is None:
                return None
            frames.append(data)
        return b"".join(frames)

    async def wait_for(self, room: str, after: int, upto: int) -> bytes | None:
        """:meth:`get`, waiting up to ``wait`` seconds for the range to be complete (not at
        all on a node alone: nothing would complete it)."""
        if not self.shared:
            return None
        with trio.move_on_after(self._wait):
            while (data := self.get(room, after, upto)) is None:
                waiting = self._waiters.get(room)
                if waiting is None:
                    waiting = self._waiters[room] = trio.Event()
                await waiting.wait()
            return data
        return None

    async def read_once(self, room: str, after: int, upto: int,
                        read: Callable[[], Awaitable[bytes]]) -> bytes:
        """``await read()``, unless a read of the same range is under way: then its result
        (or, if it failed, a read of our own)."""
        key = (room, after, upto)
        running = self._reads.get(key)
        if running is not None:
            await running.done.wait()
            if running.data is not None:
                return running.data
            return await read()
        mine = self._reads[key] = _Read()
        try:
            mine.data = await read()
            return mine.data
        finally:
            del self._reads[key]
            mine.done.set()


class _Read:
    """A read of a range under way, for the repairs that wait for it."""

    __slots__ = ("data", "done")

    def __init__(self) -> None:
        self.data: bytes | None = None
        self.done = trio.Event()

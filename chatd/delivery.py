"""The writer's ordering rules: what a connection writes, in which order, and what it holds back.

Every rule about the order of a connection's outgoing frames lives in this file, and nothing
else does: no socket, no trio, no clock. The connection's writer takes everything queued in
its outbox at once and hands it to :meth:`DeliveryOrder.feed`, which answers with a
:class:`Batch`: the frames to write now, in order, the repairs to start, and whether the
connection is to be closed (a ``Close`` was taken) or treated as a slow consumer. Data in,
decisions out, as in h11's ``_state.py``; the tests drive it without trio (tests/test_delivery.py).

Theory of operation
===================

What the outbox carries (the records below): plain frames (``bytes``: replies, errors),
``Delivery`` (a committed entry of a room's log, with its seq), ``Notice`` (an event that is
not in a log: presence, joined, typing...), ``Hold``/``Release`` (bracketing a catch-up read
from the database), and ``Close``. The rules, in the order the code applies them:

Rule 1 (plain frames): ``bytes`` are written at once, in the order they were queued. Nothing
   holds them (the reader queues no reply between ``hello`` and its ``welcome``).

Rule 2 (never twice, never older): the order remembers, per room, the last seq the client has
   (written, or covered by a ``Release``). A ``Delivery`` at or below it is dropped.

Rule 3 (hold everything): ``Hold(None)`` (queued by the ``hello`` before the connection is
   subscribed anywhere) holds everything: every ``Delivery`` *and* every ``Notice`` waits, so
   that nothing comes before the ``welcome``. Plain frames are not held (rule 1).

Rule 4 (hold a room): ``Hold(rooms)`` (queued by a ``join`` before it subscribes and reads)
   holds those rooms' deliveries. Notices are not held by it. Holds are counted: a room is
   held until as many Releases have named it as it had holds (its join's and its repair's,
   rule 6, may overlap, and the first Release to come must not let live deliveries overtake
   the other's catch-up).

Rule 5 (release): ``Release(data, upto)`` writes ``data`` (the reply carrying the catch-up;
   nothing when it is empty, so that no empty WebSocket message goes out), raises the last
   seq of each room of ``upto`` to ``upto[room]`` (never lowers it), takes one hold off those
   rooms, and then writes what waited, by rules 2 and 6: when everything was held, first the
   held notices in the order they came, then the deliveries of *every* room that is not held
   any more; otherwise those of the rooms of ``upto`` that are not. Each room's waiting
   deliveries go in seq order.

Rule 6 (gap): a ``Delivery`` whose seq is beyond the next one (last + 1) of a room whose last
   seq is known means that entries are missing (another node's commit not relayed yet, a lost
   notice). The room is held, the delivery waits, and a :class:`Repair` is asked for: the
   caller reads the entries ``after < seq <= upto`` and feeds ``Release(data, {room: upto})``,
   which writes them and then, by rule 5, what waited. A room whose last seq is not known (the
   connection was subscribed without a catch-up: an invitation, a first DM) starts at its
   first delivery.

Rule 6b (an overtaken repair): the order knows the repair's Release by its room and ``upto``
   (a join's Release of the room cannot have the same ``upto``: the delivery that showed the
   gap, seq ``upto`` + 1, was queued before the join's Hold, so it was committed before the
   join's read). If by then the client has the room past ``after`` (the user joined the room
   again meanwhile, and the join's reply covered the range), the repair's data is not
   written: its entries would come after newer ones.

Rule 7 (bounded): more than ``held_max`` deliveries and notices waiting at once means the
   client cannot be served in order without unbounded memory: the batch says ``overflow``,
   and the caller applies the slow-consumer policy. The batch is still decided in full.

Rule 7b (a room gone): a ``Notice`` naming a room to ``forget`` (``room_deleted``) is written
   (or waits) as any notice, and then the order forgets the room: its last seq, its
   deliveries that wait (queued before the notice, of a room with nothing more to come), and
   the repair it waits for, with that repair's hold: the repair's Release (known by its
   ``repair``), when it comes, writes nothing and changes nothing (its entries would follow
   ``room_deleted``, and its ``upto`` would make a new room of the same name drop its first
   entries as old ones). A new room of the same name then starts at its first delivery, as
   a room never seen does.

Rule 8 (close): ``Close(data)`` writes ``data`` (if any) and ends the connection: the items
   after it in the same batch are not written, and the order takes no more batches.

Why this gives no gap and no duplicate: the connection queues ``Hold`` *before* it subscribes
and reads the catch-up *after*, so every entry is in the catch-up (seq <= upto, dropped live
by rule 2) or delivered live after the subscription (kept while held, written after the reply
by rule 5); live deliveries may overlap each other or come out of order (several nodes), which
rules 2 and 6 absorb. See docs/design.md, "Durable, ordered, once".
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

__all__ = [
    "HELD_MAX",
    "Batch",
    "Close",
    "Delivery",
    "DeliveryOrder",
    "Hold",
    "Notice",
    "OutboxItem",
    "Release",
    "Repair",
]

HELD_MAX = 10_000  # deliveries and notices waiting before the client counts as slow (rule 7)


# --------------------------------------------------------------------------- outbox items


@dataclasses.dataclass(frozen=True, slots=True)
class Delivery:
    """A committed entry of ``room``'s log, encoded once for all its recipients."""

    room: str
    seq: int
    data: bytes


@dataclasses.dataclass(frozen=True, slots=True)
class Notice:
    """An event that is not in a room's log (presence, joined, typing...). While every room
    is held (between ``hello`` and ``welcome``) notices wait too, so that a client hears of
    nothing before its welcome. ``forget``: a room that is gone (rule 7b)."""

    data: bytes
    forget: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Hold:
    """Keep the deliveries of these rooms (of everything when ``rooms`` is None) waiting."""

    rooms: frozenset[str] | None


@dataclasses.dataclass(frozen=True, slots=True)
class Repair:
    """Entries are missing (rule 6): fetch those of ``room`` with ``after`` < seq <= ``upto``,
    then feed ``Release(data, {room: upto})`` (``data`` empty if they could not be read: the
    client sees the seqs jump and pages the rest with ``history``)."""

    room: str
    after: int
    upto: int


@dataclasses.dataclass(frozen=True, slots=True)
class Release:
    """Write ``data`` (the reply carrying the catch-up), note that the client now has each
    room up to ``upto[room]``, then write what waited past that and stop holding. ``repair``:
    the repair (rule 6) it answers, if it answers one."""

    data: bytes
    upto: Mapping[str, int]
    repair: Repair | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Close:
    """Write ``data`` (a last frame, may be empty), then close the connection."""

    data: bytes = b""


OutboxItem = bytes | Delivery | Notice | Hold | Release | Close


# --------------------------------------------------------------------------- decisions


@dataclasses.dataclass(slots=True)
class Batch:
    """What to do with one take of the outbox."""

    out: list[bytes]  # to write, in this order (the caller joins them into one write)
    repairs: list[Repair]  # to start
    overflow: bool  # too much waits: apply the slow-consumer policy
    close: bool  # a Close was taken: write `out`, then close


# --------------------------------------------------------------------------- the rules


class DeliveryOrder:
    """The state of one connection's writer: what the client has, what waits and why."""

    __slots__ = ("_batch", "_buffered", "_closed", "_held", "_held_all", "_held_max", "_last",
                 "_notices", "_repairs", "_void", "_waiting")

    def __init__(self, *, held_max: int = HELD_MAX) -> None:
        self._held_max = held_max
        self._last: dict[str, int] = {}  # room -> the last seq the client has (rule 2)
        self._held_all = False  # rule 3
        self._held: dict[str, int] = {}  # room -> its holds, rules 4 and 6 (never 0)
        self._repairs: dict[str, Repair] = {}  # room -> the repair it waits for (rule 6)
        self._void: list[Repair] = []  # repairs of rooms forgotten since they were asked
        self._buffered: dict[str, list[Delivery]] = {}  # room -> its waiting deliveries
        self._notices: list[bytes] = []  # notices waiting for the welcome (rule 3)
        self._waiting = 0  # deliveries and notices waiting, counted for rule 7
        self._closed = False
        # One batch, refilled by every feed: a writer acts on it before it takes again, and
        # not allocating one per take is measurable in fan-out (benchmarks/README.md).
        self._batch = Batch(out=[], repairs=[], overflow=False, close=False)

    def last_seq(self, room: str) -> int | None:
        """The last seq of ``room`` the client has, or None when it has nothing of it yet."""
        return self._last.get(room)

    @property
    def waiting(self) -> int:
        """How many deliveries and notices wait for a Release (what rule 7 bounds)."""
        return self._waiting

    def feed(self, items: Iterable[OutboxItem]) -> Batch:
        """Apply the rules to ``items`` (one take of the outbox, oldest first).

        The batch returned is this order's own, reused by the next call: act on it first."""
        if self._closed:
            raise RuntimeError("the order took a Close: the writer has stopped")
        batch = self._batch
        out: list[bytes] = []
        batch.out = out
        if batch.repairs:
            batch.repairs = []
        batch.overflow = False
        last = self._last
        for item in items:
            # Most frequent first, and the usual case inline: this runs for every frame
            # every connection writes (a message to 1,000 members is 1,000 of these).
            if type(item) is Delivery:
                if not self._held_all and not self._held:
                    known = last.get(item.room)
                    if known is None or item.seq == known + 1:
                        out.append(item.data)
                        last[item.room] = item.seq
                        continue
                if self._held_all:
                    self._wait(item, batch)
                else:
                    self._deliver(item, batch)
            elif type(item) is bytes:
                out.append(item)
            elif isinstance(item, Notice):
                if self._held_all:
                    self._wait(item.data, batch)
                else:
                    out.append(item.data)
                if item.forget is not None:
                    self._forget(item.forget)
            elif isinstance(item, Hold):
                if item.rooms is None:
                    self._held_all = True
                else:
                    held = self._held
                    for room in item.rooms:
                        held[room] = held.get(room, 0) + 1
            elif isinstance(item, Release):
                self._release(item, batch)
            elif isinstance(item, Close):
                if item.data:
                    out.append(item.data)
                batch.close = True
                self._closed = True
                break
            else:
                raise TypeError(f"not an outbox item: {item!r}")
        return batch

    def _deliver(self, delivery: Delivery, batch: Batch) -> None:
        """Rules 2, 4 and 6 for one delivery, with nothing held as a whole."""
        room = delivery.room
        known = self._last.get(room)
        if room in self._held:
            self._wait(delivery, batch)
        elif known is not None and delivery.seq <= known:
            pass  # never an entry twice, never one older than what the client has
        elif known is not None and delivery.seq > known + 1:
            repair = Repair(room, known, delivery.seq - 1)
            self._held[room] = 1  # it was not held: this delivery would have waited
            self._repairs[room] = repair
            self._wait(delivery, batch)
            batch.repairs.append(repair)
        else:
            batch.out.append(delivery.data)
            self._last[room] = delivery.seq

    def _forget(self, room: str) -> None:
        """Rule 7b."""
        self._last.pop(room, None)
        waiting = self._buffered.pop(room, None)
        if waiting:
            self._waiting -= len(waiting)
        repair = self._repairs.pop(room, None)
        if repair is not None:
            self._void.append(repair)
            holds = self._held[room]  # (a repair holds its room until its Release)
            if holds > 1:
                self._held[room] = holds - 1  # a join's hold stays for its own Release
            else:
                del self._held[room]

    def _wait(self, kept: Delivery | bytes, batch: Batch) -> None:
        """Keep a delivery (or, before the welcome, a notice) for after its Release."""
        if isinstance(kept, Delivery):
            self._buffered.setdefault(kept.room, []).append(kept)
        else:
            self._notices.append(kept)
        self._waiting += 1
        if self._waiting > self._held_max:
            batch.overflow = True

    def _release(self, release: Release, batch: Batch) -> None:
        """Rules 5 and 6b."""
        data = release.data
        last = self._last
        if self._void and release.repair is not None:
            for index, void in enumerate(self._void):
                if void is release.repair:  # (the very one: a new room's may look alike)
                    del self._void[index]
                    return  # a repair of a room forgotten since (rule 7b): nothing to do
        if self._repairs and len(release.upto) == 1:
            [(room, upto)] = release.upto.items()
            repair = self._repairs.get(room)
            if repair is not None and repair.upto == upto:
                del self._repairs[room]
                if last.get(room, 0) > repair.after:
                    data = b""  # overtaken: the client has the room past these entries
        if data:
            batch.out.append(data)
        held = self._held
        for room, seq in release.upto.items():
            last[room] = max(last.get(room, 0), seq)
            holds = held.get(room)
            if holds is not None:
                if holds > 1:
                    held[room] = holds - 1
                else:
                    del held[room]
        rooms = list(self._buffered) if self._held_all else list(release.upto)
        if self._held_all:
            batch.out.extend(self._notices)
            self._waiting -= len(self._notices)
            self._notices.clear()
            self._held_all = False
        for room in rooms:
            if room in held:
                continue  # waits for another Release
            waiting = self._buffered.pop(room, None)
            if not waiting:
                continue
            waiting.sort(key=_by_seq)
            self._waiting -= len(waiting)
            for delivery in waiting:
                self._deliver(delivery, batch)


def _by_seq(delivery: Delivery) -> int:
    return delivery.seq

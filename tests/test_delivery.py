"""The writer's ordering rules (chatd.delivery), without trio: each rule alone, then a model.

The model test drives a :class:`DeliveryOrder` the way a connection's surroundings do: rooms
commit entries, the registry publishes them (out of order, twice, or never, as several nodes
and lost notices make happen), joins hold a room and release it with a catch-up read later,
the hello holds everything until its welcome, repairs come back when asked, the outbox is
taken at random moments, and the connection may close or overflow. A client reads what is
written; after every step it checks that each room's entries come in strictly increasing
order, that nothing comes before the welcome and nothing of a freshly joined room before its
join reply, and, whenever nothing is pending, that it holds every seq from where its view of
a room starts to the last it got, exactly once.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterable
from typing import Any

import pytest
from hypothesis import Phase, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

import chatd.delivery
import chatd.outbox
from chatd.delivery import (
    HELD_MAX,
    Batch,
    Close,
    Delivery,
    DeliveryOrder,
    Hold,
    Notice,
    OutboxItem,
    Release,
    Repair,
)


def line(*parts: object) -> bytes:
    return (" ".join(str(part) for part in parts) + "\n").encode()


def d(room: str, seq: int) -> Delivery:
    return Delivery(room, seq, line("m", room, seq))


def entries(room: str, *seqs: int) -> list[bytes]:
    return [line("m", room, seq) for seq in seqs]


def welcomed(**upto: int) -> DeliveryOrder:
    """An order past its welcome, the client having each room up to ``upto[room]``."""
    order = DeliveryOrder()
    order.feed([Hold(None), Release(b"W\n", upto)])
    return order


# --------------------------------------------------------------------------- each rule


def test_plain_frames_are_written_at_once_in_order() -> None:
    order = DeliveryOrder()
    assert order.feed([b"1\n", b"2\n"]) == Batch([b"1\n", b"2\n"], [], False, False)
    order.feed([Hold(None)])
    assert order.feed([b"3\n"]).out == [b"3\n"], "frames are not held, even before welcome"


def test_a_delivery_at_or_below_the_last_seq_is_dropped() -> None:
    order = welcomed(a=3)
    batch = order.feed([d("a", 2), d("a", 3), d("a", 4), d("a", 4), d("a", 3)])
    assert batch.out == entries("a", 4)
    assert order.last_seq("a") == 4


def test_a_room_with_nothing_known_starts_at_its_first_delivery() -> None:
    """Subscribed without a catch-up (an invitation, a first DM): no gap to repair."""
    order = welcomed()
    assert order.last_seq("z") is None
    batch = order.feed([d("z", 7), d("z", 8), d("z", 6)])
    assert batch.out == entries("z", 7, 8)
    assert batch.repairs == []
    assert order.last_seq("z") == 8


def test_hold_everything_keeps_deliveries_and_notices_until_the_welcome() -> None:
    order = DeliveryOrder()
    batch = order.feed([Hold(None), Notice(b"n1\n"), d("a", 5), d("b", 1), d("a", 4),
                        Notice(b"n2\n"), d("a", 2)])
    assert batch.out == []
    assert order.waiting == 6
    batch = order.feed([Release(b"W\n", {"a": 3, "b": 0})])
    # The welcome, then the notices in order, then each room's entries by seq past upto.
    assert batch.out == [b"W\n", b"n1\n", b"n2\n", *entries("a", 4, 5), *entries("b", 1)]
    assert order.waiting == 0
    assert order.feed([Notice(b"n3\n")]).out == [b"n3\n"], "held no more"


def test_the_welcome_releases_rooms_it_does_not_name() -> None:
    """Everything was held: a room missing from upto (no catch-up) has its entries written
    too, starting from its first."""
    order = DeliveryOrder()
    batch = order.feed([Hold(None), d("x", 3), d("x", 2), Release(b"W\n", {})])
    assert batch.out == [b"W\n", *entries("x", 2, 3)]


def test_hold_a_room_keeps_only_its_deliveries() -> None:
    order = welcomed(a=1, b=1)
    batch = order.feed([Hold(frozenset({"a"})), d("a", 2), d("b", 2), Notice(b"n\n"), b"r\n"])
    assert batch.out == [*entries("b", 2), b"n\n", b"r\n"]
    batch = order.feed([d("a", 4), d("a", 3), Release(b"J\n", {"a": 2}), d("a", 5)])
    assert batch.out == [b"J\n", *entries("a", 3, 4, 5)]


def test_a_release_raises_the_last_seq_and_never_lowers_it() -> None:
    order = welcomed(a=5)
    order.feed([Release(b"", {"a": 2}), Release(b"", {"b": 0})])
    assert order.last_seq("a") == 5
    assert order.last_seq("b") == 0
    order.feed([Release(b"", {"a": 9})])
    assert order.last_seq("a") == 9
    assert order.feed([d("a", 9), d("a", 10)]).out == entries("a", 10)


def test_a_release_writes_only_its_rooms_when_not_everything_was_held() -> None:
    order = welcomed(a=0, b=0)
    order.feed([Hold(frozenset({"a", "b"})), d("a", 1), d("b", 1)])
    batch = order.feed([Release(b"J\n", {"a": 0})])
    assert batch.out == [b"J\n", *entries("a", 1)]
    assert order.waiting == 1
    assert order.feed([Release(b"", {"b": 0})]).out == entries("b", 1)


def test_the_welcome_keeps_a_room_that_is_still_held_for_itself() -> None:
    """A room held by a join keeps waiting through the welcome's release of everything."""
    order = DeliveryOrder()
    order.feed([Hold(None), Hold(frozenset({"a"})), d("a", 1), d("b", 1), Notice(b"n\n")])
    batch = order.feed([Release(b"W\n", {"b": 0})])
    assert batch.out == [b"W\n", b"n\n", *entries("b", 1)]
    assert order.waiting == 1
    assert order.feed([Release(b"J\n", {"a": 0})]).out == [b"J\n", *entries("a", 1)]


def test_a_gap_holds_the_room_and_asks_for_a_repair() -> None:
    order = welcomed(a=3)
    batch = order.feed([d("a", 6), d("a", 7), Notice(b"n\n")])
    assert batch.out == [b"n\n"]
    assert batch.repairs == [Repair("a", after=3, upto=5)]
    # The repair's entries come back as a Release; then what waited.
    batch = order.feed([d("a", 8), Release(b"".join(entries("a", 4, 5)), {"a": 5})])
    assert batch.out == [b"".join(entries("a", 4, 5)), *entries("a", 6, 7, 8)]
    assert batch.repairs == []
    assert order.last_seq("a") == 8


def test_a_gap_found_while_releasing_asks_for_its_repair_and_keeps_the_rest() -> None:
    order = welcomed(a=0)
    order.feed([Hold(frozenset({"a"})), d("a", 6), d("a", 4), d("a", 7)])
    batch = order.feed([Release(b"J\n", {"a": 3})])
    assert batch.out == [b"J\n", *entries("a", 4)]
    assert batch.repairs == [Repair("a", after=4, upto=5)]
    assert order.waiting == 2
    batch = order.feed([Release(b"".join(entries("a", 5)), {"a": 5})])
    assert batch.out == entries("a", 5, 6, 7)


def test_a_failed_repair_skips_the_gap_and_writes_no_empty_frame() -> None:
    """The client sees the seqs jump and pages the gap with history."""
    order = welcomed(a=1)
    assert order.feed([d("a", 4)]).repairs == [Repair("a", 1, 3)]
    batch = order.feed([Release(b"", {"a": 3})])
    assert batch.out == entries("a", 4)
    assert b"" not in order.feed([Release(b"", {"b": 1})]).out


def test_a_notice_that_forgets_a_room_ends_it() -> None:
    """Rule 7b: ``room_deleted`` is written, and a new room of the same name starts at its
    first delivery (seq 1), not dropped as older than what the client had."""
    order = welcomed(a=5)
    batch = order.feed([d("a", 6), Notice(b"gone\n", forget="a"), d("a", 1), d("a", 2)])
    assert batch.out == [*entries("a", 6), b"gone\n", *entries("a", 1, 2)]
    assert order.last_seq("a") == 2


def test_a_forgotten_room_s_waiting_deliveries_go() -> None:
    order = DeliveryOrder()
    order.feed([Hold(None), d("a", 3), d("b", 1), Notice(b"gone\n", forget="a")])
    assert order.waiting == 2
    assert order.feed([Release(b"W\n", {"b": 0})]).out == [b"W\n", b"gone\n",
                                                           *entries("b", 1)]


def test_a_repair_of_a_room_forgotten_meanwhile_writes_nothing_when_it_comes() -> None:
    """Rule 7b: a room deleted while a gap of it was being repaired. The repair's entries,
    read before the deletion, are not written after ``room_deleted``, and a new room of the
    same name is neither held for that repair nor has its first entries dropped as older than
    the repair's ``upto``."""
    order = welcomed(a=3, b=0)
    [repair] = order.feed([d("a", 6)]).repairs
    assert repair == Repair("a", 3, 5)
    batch = order.feed([Notice(b"gone\n", forget="a"), d("a", 1)])
    assert batch.out == [b"gone\n", *entries("a", 1)]
    # The new room's own gap, of the same range, asked before the old repair's answer came.
    [again] = order.feed([d("a", 6)]).repairs
    assert again == Repair("a", 1, 5)
    late = order.feed([Release(b"".join(entries("a", 4, 5)), {"a": 5}, repair), d("b", 1)])
    assert late.out == entries("b", 1)
    assert order.feed([Release(b"".join(entries("a", 2, 5)), {"a": 5}, again)]).out == [
        b"".join(entries("a", 2, 5)), *entries("a", 6)]
    assert order.last_seq("a") == 6 and order.waiting == 0


def test_a_join_s_hold_outlives_a_forgotten_repair() -> None:
    """Rule 7b with rule 4's count: the repair's hold goes with the room, a join's stays
    until the join's own Release."""
    order = welcomed(a=3)
    [repair] = order.feed([d("a", 6)]).repairs
    assert order.feed([Hold(frozenset({"a"})), Notice(b"gone\n", forget="a"),
                       d("a", 1)]).out == [b"gone\n"]
    assert order.feed([Release(b"J a 1\n", {"a": 1}), d("a", 2)]).out == [b"J a 1\n",
                                                                          *entries("a", 2)]
    assert order.feed([Release(b"".join(entries("a", 4, 5)), {"a": 5}, repair)]).out == []


def test_more_than_held_max_waiting_is_an_overflow() -> None:
    order = DeliveryOrder(held_max=3)
    batch = order.feed([Hold(None), Notice(b"1"), d("a", 1), Notice(b"2")])
    assert not batch.overflow
    batch = order.feed([d("b", 1), b"still written\n"])
    assert batch.overflow
    assert batch.out == [b"still written\n"], "the batch is decided in full"


def test_the_overflow_count_goes_down_with_each_release() -> None:
    order = DeliveryOrder(held_max=2)
    order.feed([Hold(None), Release(b"W\n", {"a": 0})])
    for start in (1, 3, 5):
        batch = order.feed([Hold(frozenset({"a"})), d("a", start), d("a", start + 1),
                            Release(b"", {"a": start - 1})])
        assert not batch.overflow
        assert batch.out == entries("a", start, start + 1)
    # A gap's waiting deliveries count too.
    batch = order.feed([d("a", 9), d("a", 10), d("a", 11)])
    assert batch.repairs == [Repair("a", 6, 8)]
    assert batch.overflow


def test_held_max_defaults_to_ten_thousand() -> None:
    order = DeliveryOrder()
    order.feed([Hold(None)])
    assert not order.feed([d("a", seq) for seq in range(1, HELD_MAX + 1)]).overflow
    assert order.feed([Notice(b"one more")]).overflow


def test_close_writes_its_frame_and_nothing_after_it() -> None:
    order = welcomed(a=0)
    batch = order.feed([d("a", 1), Close(b"bye\n"), d("a", 2), b"late\n"])
    assert batch == Batch([*entries("a", 1), b"bye\n"], [], False, True)
    with pytest.raises(RuntimeError):
        order.feed([b"after the end\n"])


def test_a_close_with_nothing_to_say_writes_nothing() -> None:
    batch = welcomed().feed([Close()])
    assert batch.out == [] and batch.close


def test_anything_else_in_the_outbox_is_a_bug() -> None:
    with pytest.raises(TypeError):
        DeliveryOrder().feed(["a str"])  # type: ignore[list-item]


def test_the_outbox_reexports_the_records() -> None:
    """chatd.rooms, chatd.committer and chatd.cluster import them from chatd.outbox."""
    for name in ("Close", "Delivery", "Hold", "Notice", "OutboxItem", "Release"):
        assert getattr(chatd.outbox, name) is getattr(chatd.delivery, name)


def test_a_join_that_overtakes_a_repair_keeps_its_entries_from_coming_late() -> None:
    """Rule 6b: a gap is being repaired when the user joins the room again; the join's
    reply covers the range, so the repair's entries, coming later, are not written (they
    would follow newer ones), and live entries wait for whichever Release comes last."""
    order = welcomed(a=3)
    assert order.feed([d("a", 6)]).repairs == [Repair("a", 3, 5)]
    batch = order.feed([Hold(frozenset({"a"})), d("a", 7), Release(b"J a 7\n", {"a": 7}),
                        d("a", 8)])
    assert batch.out == [b"J a 7\n"], "the repair still holds the room"
    late = order.feed([Release(b"".join(entries("a", 4, 5)), {"a": 5})])
    assert late.out == entries("a", 8)
    assert order.last_seq("a") == 8


def test_a_repair_that_ends_during_a_join_does_not_release_the_room_early() -> None:
    """Rule 4's count: the repair's Release writes its entries, but the room stays held
    for the join, whose reply must come before the live entries."""
    order = welcomed(a=3)
    assert order.feed([d("a", 6)]).repairs == [Repair("a", 3, 5)]
    order.feed([Hold(frozenset({"a"})), d("a", 7)])
    batch = order.feed([Release(b"".join(entries("a", 4, 5)), {"a": 5}), d("a", 8)])
    assert batch.out == [b"".join(entries("a", 4, 5))]
    batch = order.feed([Release(b"J a 7\n", {"a": 7})])
    assert batch.out == [b"J a 7\n", *entries("a", 8)]


def test_a_release_that_matches_no_repair_writes_its_data() -> None:
    """Only the repair's own Release (its room and upto) can be recognised as overtaken."""
    order = welcomed(a=3)
    order.feed([d("a", 6)])  # repair (a, 3, 5)
    order.feed([Hold(frozenset({"a"})), Release(b"J a 6\n", {"a": 6})])
    assert order.feed([Release(b"J a 6\n", {"a": 6})]).out == [b"J a 6\n"]
    assert order.feed([Release(b"x\n", {"a": 5, "b": 0})]).out == [b"x\n"]


# --------------------------------------------------------------------------- the model

ROOMS = ("a", "b")
RESUME_MAX = 3  # more missed than this at hello: a gap frame instead of the entries


class Client:
    """What a client makes of the written lines.

    Lines: ``W`` (the welcome), ``S room seq`` (in the welcome: the room starts at seq),
    ``G room after last`` (a gap frame: the client pages after+1..last with history),
    ``J room upto`` (a join reply: it has the room up to upto), ``m room seq`` (an entry),
    ``n k`` (a notice), ``r k`` (a reply), ``bye`` (the last frame).
    """

    def __init__(self) -> None:
        self.welcomed = False
        self.closed = False
        self.pos: dict[str, int] = {}  # per room, the last seq it has
        self.base: dict[str, int] = {}  # per room, the seq before the first one of its view
        self.have: dict[str, set[int]] = {}  # per room, seqs it has (events, replies, pages)
        self.first: dict[str, str] = {}  # per room, the kind of the first line naming it
        self.notices: list[int] = []
        self.replies: list[int] = []

    def _start(self, room: str, seq: int) -> None:
        self.base.setdefault(room, seq)
        self.have.setdefault(room, set())
        self.pos[room] = seq

    def _cover(self, room: str, upto: int) -> None:
        """The client has the room up to ``upto`` (a reply's messages, paged history)."""
        known = self.pos.get(room)
        if known is None:
            self._start(room, upto)
            return
        assert upto >= known, f"{room}: a catch-up up to {upto} after {known} was written"
        self.have[room].update(range(known + 1, upto + 1))
        self.pos[room] = upto

    def read(self, data: bytes) -> None:
        for raw in data.splitlines():
            kind, *args = raw.decode().split()
            assert not self.closed, f"{raw!r} after the last frame"
            if kind == "W":
                assert not self.welcomed, "two welcomes"
                self.welcomed = True
                continue
            if kind == "bye":  # may end a connection before its welcome (a drain)
                self.closed = True
                continue
            assert self.welcomed, f"{raw!r} before the welcome"
            if kind in ("S", "G", "J", "m"):
                self.first.setdefault(args[0], kind)
            if kind == "S":
                self._start(args[0], int(args[1]))
            elif kind == "G":
                self._cover(args[0], int(args[2]))
            elif kind == "J":
                self._cover(args[0], int(args[1]))
            elif kind == "m":
                room, seq = args[0], int(args[1])
                known = self.pos.get(room)
                if known is None:
                    self._start(room, seq - 1)
                else:
                    assert seq > known, f"{room}: {seq} written after {known}"
                self.have[room].add(seq)
                self.pos[room] = seq
            elif kind == "n":
                assert not self.notices or int(args[0]) > self.notices[-1], "notice order"
                self.notices.append(int(args[0]))
            elif kind == "r":
                assert not self.replies or int(args[0]) > self.replies[-1], "reply order"
                self.replies.append(int(args[0]))
            else:
                raise AssertionError(f"unknown line {raw!r}")


@dataclasses.dataclass(slots=True)
class Bounds:
    """What the model knows of how much waits, to check rule 7 from both sides without
    redoing the order's own bookkeeping.

    ``sure`` counts only items that certainly wait (everything while the hello holds, a
    joined room's deliveries until its join's Release): more than held_max of them *must*
    be an overflow. ``since_clear`` counts every delivery and notice since the last batch
    after which nothing could wait (no hello, join or repair pending): an overflow with
    fewer than held_max of them is a false alarm."""

    hello_held: bool = False
    join_held: set[str] = dataclasses.field(default_factory=set)
    sure: dict[str, int] = dataclasses.field(default_factory=dict)
    sure_notices: int = 0
    since_clear: int = 0

    def must_overflow(self, items: Iterable[OutboxItem], held_max: int) -> bool:
        must = False
        for item in items:
            if isinstance(item, Close):
                break
            if isinstance(item, Delivery):
                self.since_clear += 1
                if self.hello_held or item.room in self.join_held:
                    self.sure[item.room] = self.sure.get(item.room, 0) + 1
            elif isinstance(item, Notice):
                self.since_clear += 1
                if self.hello_held:
                    self.sure_notices += 1
            elif isinstance(item, Hold):
                if item.rooms is None:
                    self.hello_held = True
                else:
                    self.join_held |= item.rooms
            elif isinstance(item, Release):
                # A join's own Release ends its hold; a repair's, coming meanwhile, does not.
                joins = item.data.startswith(b"J ")
                for room in self.sure:
                    if room in self.join_held:
                        if joins and room in item.upto:
                            self.sure[room] = 0
                    elif room in item.upto or self.hello_held:
                        self.sure[room] = 0
                if self.hello_held:
                    self.sure_notices = 0
                self.hello_held = False
                if joins:
                    self.join_held.difference_update(item.upto)
            must = must or sum(self.sure.values()) + self.sure_notices > held_max
        return must


class DeliveryMachine(RuleBasedStateMachine):
    """One connection's writer and everything around it."""

    Order: type[DeliveryOrder] = DeliveryOrder

    def __init__(self) -> None:
        super().__init__()
        self.order: DeliveryOrder = self.Order()
        self.held_max = HELD_MAX
        self.committed = dict.fromkeys(ROOMS, 0)
        self.subscribed: set[str] = set()
        self.published: dict[str, list[Delivery]] = {room: [] for room in ROOMS}
        self.in_flight: list[Delivery] = []  # published, not in the outbox yet
        self.outbox: list[OutboxItem] = []
        self.hello_pending = True  # the welcome's Release is not queued yet
        self.joins: set[str] = set()  # Hold queued, Release not yet
        self.fresh: set[str] = set()  # rooms whose first line must be the join reply
        self.ever_subscribed: set[str] = set()
        self.repairs: list[Repair] = []  # asked for, not answered yet
        self.failed: dict[str, set[int]] = {room: set() for room in ROOMS}
        self.ended = False  # the order took a Close, or overflowed (the connection is gone)
        self.client = Client()
        self.bounds = Bounds()
        self.counter = 0

    def _next(self) -> int:
        self.counter += 1
        return self.counter

    @initialize(held_max=st.sampled_from([5, 20, HELD_MAX]),
                start=st.tuples(*(st.integers(0, 5) for _ in ROOMS)),
                members=st.sets(st.sampled_from(ROOMS)))
    def hello(self, held_max: int, start: tuple[int, ...],
              members: set[str]) -> None:
        """The connection's hello: hold everything, then subscribe to the user's rooms."""
        self.held_max = held_max
        self.order = self.Order(held_max=held_max)
        self.committed = dict(zip(ROOMS, start, strict=True))
        self.outbox.append(Hold(None))
        self.subscribed |= members
        self.ever_subscribed |= members

    # ------------------------------------------------------------------ the world

    @rule(room=st.sampled_from(ROOMS), lost=st.integers(0, 3))
    def commit(self, room: str, lost: int) -> None:
        """An entry is committed (here or on another node) and published to members; one
        in four is lost on its way (a notice between nodes): it never comes live."""
        self.committed[room] += 1
        if room in self.subscribed:
            delivery = d(room, self.committed[room])
            self.published[room].append(delivery)
            if lost:
                self.in_flight.append(delivery)

    @rule(room=st.sampled_from(ROOMS), data=st.data())
    def burst(self, room: str, data: st.DataObject) -> None:
        """Several entries of a room at once, reaching the outbox in any order."""
        for _ in range(data.draw(st.integers(2, 6), label="entries")):
            self.commit(room, data.draw(st.integers(0, 3), label="lost"))
        arriving = data.draw(st.permutations(self.in_flight), label="arriving")
        self.outbox.extend(arriving)
        self.in_flight.clear()

    @precondition(lambda self: self.in_flight)
    @rule(i=st.integers(0, 50))
    def route(self, i: int) -> None:
        """A published entry reaches the outbox; any of them may overtake the others."""
        self.outbox.append(self.in_flight.pop(i % len(self.in_flight)))

    @precondition(lambda self: any(self.published.values()))
    @rule(room=st.sampled_from(ROOMS), i=st.integers(0, 50))
    def again(self, room: str, i: int) -> None:
        """An entry comes a second time (live and in a catch-up, or from two nodes)."""
        if self.published[room]:
            self.outbox.append(self.published[room][i % len(self.published[room])])

    @rule()
    def notice(self) -> None:
        self.outbox.append(Notice(line("n", self._next())))

    @precondition(lambda self: not self.hello_pending)
    @rule()
    def reply(self) -> None:
        self.outbox.append(line("r", self._next()))

    @precondition(lambda self: self.hello_pending)
    @rule(data=st.data())
    def welcome(self, data: st.DataObject) -> None:
        """The hello's reads are done: the welcome with each room's resume or last seq."""
        resume = {}
        for room in sorted(self.subscribed):
            if data.draw(st.booleans(), label=f"resume {room}"):
                resume[room] = data.draw(st.integers(0, self.committed[room]),
                                         label=f"seen {room}")
        self._welcome(resume)

    def _welcome(self, resume: dict[str, int]) -> None:
        frames = [b"W\n"]
        upto: dict[str, int] = {}
        for room in sorted(self.subscribed):
            last = self.committed[room]
            seen = resume.get(room)
            if seen is None:
                frames.append(line("S", room, last))
                upto[room] = last
                continue
            frames.append(line("S", room, seen))
            if last - seen > RESUME_MAX:
                frames.append(line("G", room, seen, last))
            else:
                frames.extend(entries(room, *range(seen + 1, last + 1)))
            upto[room] = last
        self.outbox.append(Release(b"".join(frames), upto))
        self.hello_pending = False

    @precondition(lambda self: not self.hello_pending)
    @rule(room=st.sampled_from(ROOMS))
    def join(self, room: str) -> None:
        """A join: hold the room, subscribe; its catch-up is read later (join_read)."""
        if room in self.joins:
            return
        if room not in self.ever_subscribed:
            self.fresh.add(room)
        self.outbox.append(Hold(frozenset({room})))
        self.subscribed.add(room)
        self.ever_subscribed.add(room)
        self.joins.add(room)

    @precondition(lambda self: not self.hello_pending and self.repairs)
    @rule(i=st.integers(0, 10))
    def join_while_repairing(self, i: int) -> None:
        """Join again a room whose gap is being repaired (what rules 4's count and 6b are
        for): rare if left to ``join`` alone."""
        self.join(self.repairs[i % len(self.repairs)].room)

    @precondition(lambda self: self.joins)
    @rule(room=st.sampled_from(ROOMS))
    def join_read(self, room: str) -> None:
        """The join's catch-up is read: its reply goes out with the room's last seq."""
        if room in self.joins:
            last = self.committed[room]
            self.outbox.append(Release(line("J", room, last), {room: last}))
            self.joins.discard(room)

    @precondition(lambda self: not self.hello_pending)
    @rule(room=st.sampled_from(ROOMS))
    def invite(self, room: str) -> None:
        """Subscribed without a catch-up (an invitation, a first DM)."""
        self.subscribed.add(room)
        self.ever_subscribed.add(room)

    @rule(room=st.sampled_from(ROOMS))
    def leave(self, room: str) -> None:
        if room not in self.joins:
            self.subscribed.discard(room)

    @precondition(lambda self: self.repairs)
    @rule(i=st.integers(0, 10), fail=st.booleans())
    def repair(self, i: int, fail: bool) -> None:
        """A repair's read comes back (or fails: the client will page the gap)."""
        r = self.repairs.pop(i % len(self.repairs))
        event("repair failed" if fail else "repair answered")
        missing = range(r.after + 1, r.upto + 1)
        if fail:
            self.failed[r.room].update(missing)
            self.outbox.append(Release(b"", {r.room: r.upto}, r))
        else:
            self.outbox.append(Release(b"".join(entries(r.room, *missing)), {r.room: r.upto},
                                       r))

    @rule(now=st.integers(0, 49))
    def close(self, now: int) -> None:
        """The connection ends (a drain, a revoked token); rarely, so that runs go on."""
        if now == 0:
            self.outbox.append(Close(b"bye\n"))

    # ------------------------------------------------------------------ the writer

    @precondition(lambda self: not self.ended)
    @rule()
    def take(self) -> None:
        """The writer takes everything queued and writes what the order says."""
        items, self.outbox = self.outbox, []
        must = self.bounds.must_overflow(items, self.held_max)
        batch = self.order.feed(items)
        assert not must or batch.overflow, "more than held_max waited without an overflow"
        assert not batch.overflow or self.bounds.since_clear > self.held_max, "false overflow"
        self.client.read(b"".join(batch.out))
        if batch.close:
            assert self.client.closed
            after = items[items.index(next(i for i in items if isinstance(i, Close))) + 1:]
            written = set(batch.out)
            for item in after:  # notices and replies are unique; entries may repeat
                if isinstance(item, Notice | bytes):
                    data = item.data if isinstance(item, Notice) else item
                    assert data not in written, f"{item!r} written after the Close"
        else:
            assert not self.client.closed
        for r in batch.repairs:
            event("repair asked")
            assert r.after < r.upto
        self.repairs.extend(batch.repairs)
        clear = not (self.bounds.hello_held or self.bounds.join_held or self.repairs)
        if clear and not (batch.close or batch.overflow):
            assert self.order.waiting == 0
            self.bounds.since_clear = 0
        self.ended = batch.close or batch.overflow
        if batch.overflow:
            event("overflow")
        if batch.close:
            event("close")

    @rule()
    def settle(self) -> None:
        """Everything pending completes: the welcome, the joins' reads, the entries on
        their way, the repairs; the writer takes until nothing is left."""
        for _ in range(100):
            if self.ended:
                return
            if self.hello_pending:
                self._welcome({})
            for room in sorted(self.joins):
                self.join_read(room)
            self.outbox.extend(self.in_flight)
            self.in_flight.clear()
            while self.repairs:
                self.repair(0, fail=False)
            self.take()
            if not (self.repairs or self.outbox):
                break
        else:
            raise AssertionError("the writer never settles")
        assert self.ended or self.order.waiting == 0
        self.when_nothing_is_pending_nothing_is_missing()

    def teardown(self) -> None:
        # Every run ends settled and checked for completeness, unless a step failed (that
        # failure is the report; sys.exc_info() shows it here).
        if sys.exc_info()[0] is None:
            self.settle()

    # ------------------------------------------------------------------ what must hold

    @invariant()
    def fresh_rooms_start_with_their_join_reply(self) -> None:
        for room in self.fresh:
            assert self.client.first.get(room, "J") == "J", room

    @invariant()
    def the_client_agrees_with_the_order(self) -> None:
        for room, seq in self.client.pos.items():
            if not self.ended:
                last = self.order.last_seq(room)
                assert last is not None and last >= seq

    @invariant()
    def when_nothing_is_pending_nothing_is_missing(self) -> None:
        if (self.ended or self.hello_pending or self.joins or self.repairs or self.outbox
                or self.in_flight or self.bounds.hello_held):
            return
        for room, base in self.client.base.items():
            have = self.client.have[room] | self.failed[room]
            missing = set(range(base + 1, self.client.pos[room] + 1)) - have
            assert not missing, f"{room}: the client never got {sorted(missing)}"
            if self.client.pos[room] > base:
                event("settled with entries to check")


# Explicit counts: each run takes milliseconds, and fewer miss the rarer interleavings.
DeliveryMachine.TestCase.settings = settings(max_examples=300, stateful_step_count=100)
test_delivery_order_against_the_model = DeliveryMachine.TestCase


# --------------------------------------------------------------------------- the model bites


class _NoDedupe(DeliveryOrder):
    """Rule 2 forgotten: a delivery at or below the last seq is written again."""

    __slots__ = ()

    def _deliver(self, delivery: Delivery, batch: Batch) -> None:
        if delivery.room not in self._held and not self._held_all:
            known = self._last.get(delivery.room)
            if known is not None and delivery.seq <= known:
                batch.out.append(delivery.data)
                return
        super()._deliver(delivery, batch)


class _NoticesFirst(DeliveryOrder):
    """Rule 3 half-forgotten: notices are not held before the welcome."""

    __slots__ = ()

    def feed(self, items: Iterable[OutboxItem]) -> Batch:
        items = list(items)
        early = [i.data for i in items if isinstance(i, Notice)]
        batch = super().feed([i for i in items if not isinstance(i, Notice)])
        batch.out[:0] = early
        return batch


class _NoRepair(DeliveryOrder):
    """Rule 6 forgotten: a delivery past a gap is written as if nothing were missing."""

    __slots__ = ()

    def _deliver(self, delivery: Delivery, batch: Batch) -> None:
        known = self._last.get(delivery.room)
        if delivery.room not in self._held and known is not None and delivery.seq > known + 1:
            batch.out.append(delivery.data)
            self._last[delivery.room] = delivery.seq
            return
        super()._deliver(delivery, batch)


class _FirstReleaseWins(DeliveryOrder):
    """Rules 4's count and 6b forgotten (as the writer was before this module): any Release
    of a room ends its holds, and a repair overtaken by a join writes its entries late."""

    __slots__ = ()

    def _release(self, release: Release, batch: Batch) -> None:
        for room in release.upto:
            if room in self._held:
                self._held[room] = 1
            self._repairs.pop(room, None)
        super()._release(release, batch)


@pytest.mark.parametrize("broken", [_NoDedupe, _NoticesFirst, _NoRepair, _FirstReleaseWins])
def test_the_model_catches_a_broken_order(broken: type[DeliveryOrder]) -> None:
    """Each rule the model checks can fail: an order missing one is caught."""
    machine: Any = type("Broken", (DeliveryMachine,), {"Order": broken})
    with pytest.raises(AssertionError):
        run_state_machine_as_test(machine, settings=settings(
            # Each of these is found within 100 examples nearly always (19 runs in 20 for
            # the rarest, _FirstReleaseWins): missing one in 1000 is out of the question.
            max_examples=1000, stateful_step_count=100, database=None, deadline=None,
            print_blob=False, report_multiple_bugs=False, phases=[Phase.generate],
        ))

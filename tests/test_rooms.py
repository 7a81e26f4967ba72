"""The room registry's pure logic, called without trio."""

from __future__ import annotations

import collections
import dataclasses
import functools
from collections.abc import Iterator, Sequence
from typing import Any

import hypothesis
from hypothesis import strategies as st

from chatd.delivery import Notice
from chatd.outbox import Delivery
from chatd.rooms import (
    LEAVE_MEMORY,
    Broadcast,
    BroadcastEach,
    BroadcastPresence,
    Call,
    CloseRoom,
    Connect,
    Deliver,
    Disconnect,
    FromMember,
    Heads,
    Join,
    Leave,
    PublishMany,
    RegistryState,
    ToUser,
    apply,
    changed_since,
    overtaken,
)


def _connect(state: RegistryState, conn: str, user: str, *rooms: str) -> None:
    apply(state, Connect(conn, user, outbox=None, on_overflow=lambda: None,
                         rooms=frozenset(rooms), ready=lambda: None))


def _targets(effects: Sequence[object]) -> set[object]:
    return {c for e in effects if isinstance(e, Deliver) for c in e.conns}


def test_connect_asks_for_ready_callback() -> None:
    """Connect answers with the ready callback, so the connection reads only after it."""
    state = RegistryState()
    ready = lambda: None  # noqa: E731
    effects = apply(state, Connect("c1", "ann", None, lambda: None, frozenset({"a"}), ready))
    assert effects == [Call(ready)]


def _publish(room: str, seq: int, data: bytes) -> PublishMany:
    return PublishMany((Delivery(room, seq, data),))


def test_publish_reaches_every_connection_of_every_member() -> None:
    """A message goes to all connections of the room's members and nobody else."""
    state = RegistryState()
    _connect(state, "c1", "ann", "a")
    _connect(state, "c2", "ann", "a")
    _connect(state, "c3", "bob", "a", "b")
    _connect(state, "c4", "cy", "b")
    effects = apply(state, _publish("a", 7, b"m\n"))
    assert _targets(effects) == {"c1", "c2", "c3"}
    assert effects[0].item == Delivery("a", 7, b"m\n")  # type: ignore[union-attr]


def test_join_subscribes_all_of_the_users_connections_and_announces() -> None:
    """Join adds every connection of the user; the announcement reaches the room, joiner too."""
    state = RegistryState()
    _connect(state, "c1", "ann")
    _connect(state, "c2", "ann")
    _connect(state, "c3", "bob", "a")
    effects = apply(state, Join("ann", "a", b"joined\n"))
    assert _targets(effects) == {"c1", "c2", "c3"}
    assert _targets(apply(state, _publish("a", 1, b""))) == {"c1", "c2", "c3"}


def test_leave_announces_to_the_leaver_then_stops_delivery() -> None:
    """Leave tells the room (leaver included), then the leaver gets no more messages."""
    state = RegistryState()
    _connect(state, "c1", "ann", "a")
    _connect(state, "c2", "bob", "a")
    assert _targets(apply(state, Leave("ann", "a", b"left\n"))) == {"c1", "c2"}
    assert _targets(apply(state, _publish("a", 2, b""))) == {"c2"}


def test_close_room_tells_every_member_then_forgets_the_room() -> None:
    """CloseRoom (a room deleted) tells every connection in the room, as a notice that
    forgets the room, and nothing of the room reaches them after; a Join read before it is
    dropped; other rooms go on."""
    state = RegistryState()
    _connect(state, "c1", "ann", "a", "b")
    _connect(state, "c2", "bob", "a")
    _connect(state, "c3", "cid", "b")
    since = state.epoch
    effects = apply(state, CloseRoom("a", b"deleted\n"))
    assert _targets(effects) == {"c1", "c2"}
    [deliver] = [e for e in effects if isinstance(e, Deliver)]
    assert deliver.item == Notice(b"deleted\n", forget="a")
    assert _targets(apply(state, _publish("a", 9, b""))) == set()
    assert _targets(apply(state, _publish("b", 1, b""))) == {"c1", "c3"}
    assert "a" not in state.room_users
    assert overtaken(state, "bob", "a", since)
    # A Join read before the deletion (of someone who was no member yet) is dropped too;
    # one read after it is not.
    told: list[bool] = []
    _run_calls(apply(state, Join("cid", "a", None, since, told.append)))
    assert told == [False] and "a" not in state.room_users
    _run_calls(apply(state, Join("cid", "a", None, state.epoch, told.append)))
    assert told == [False, True] and state.room_users["a"] == {"cid"}


def test_disconnect_of_last_connection_forgets_the_user() -> None:
    """State is freed when a user's last connection goes; rooms with nobody are dropped."""
    state = RegistryState()
    _connect(state, "c1", "ann", "a")
    _connect(state, "c2", "ann", "a")
    apply(state, Disconnect("c1"))
    assert _targets(apply(state, _publish("a", 1, b""))) == {"c2"}
    apply(state, Disconnect("c2"))
    assert state.conns == {} and state.user_conns == {} and state.room_users == {}
    assert apply(state, Disconnect("c2")) == []


def test_presence_goes_to_those_sharing_a_room_except_the_user() -> None:
    """A presence frame reaches the connections of users sharing a room, not the subject."""
    state = RegistryState()
    _connect(state, "c1", "ann", "a", "b")
    _connect(state, "c2", "bob", "a")
    _connect(state, "c3", "cy", "b")
    _connect(state, "c4", "dee", "z")
    assert _targets(apply(state, BroadcastPresence("ann", b"p\n"))) == {"c2", "c3"}
    assert _targets(apply(state, Broadcast(frozenset({"a", "z"}), b"x", exclude="bob"))) == {
        "c1", "c4"}


def test_broadcast_each_gives_every_connection_its_rooms_frames_in_one_item() -> None:
    """One command, each room its own frame: a connection in two of the rooms gets both in
    one outbox item, in the order given; those with the same bytes share a Deliver; the
    excluded user's connections and a room with nobody here get nothing."""
    state = RegistryState()
    _connect(state, "c1", "ann", "dm", "group")
    _connect(state, "c2", "ann", "dm", "group")
    _connect(state, "c3", "cid", "group")
    _connect(state, "c4", "bob", "dm", "group")
    effects = apply(state, BroadcastEach(
        (("dm", b"1\n"), ("group", b"2\n"), ("nobody", b"3\n")), exclude="bob"))
    assert sorted((sorted(map(str, e.conns)), e.item) for e in effects
                  if isinstance(e, Deliver)) == [
        (["c1", "c2"], Notice(b"1\n2\n")), (["c3"], Notice(b"2\n"))]
    assert len(effects) == 2
    assert apply(state, BroadcastEach((("nobody", b"3\n"),))) == []


def test_presence_goes_to_the_watchers_connected_here_only() -> None:
    """``also`` (every user who has the subject as a contact, as storage says, connected or
    not): only the connected ones get the frame, each connection once, with the room mates;
    the subject never, even when a contact of a contact of theirs."""
    state = RegistryState()
    _connect(state, "c1", "ann")
    _connect(state, "c2", "ann", "a")
    _connect(state, "c3", "bob", "a")
    _connect(state, "c4", "cy")
    watchers = frozenset({"ann", "bob", "dee", "eve", "zed"})  # dee, eve, zed: not here
    assert _targets(apply(state, BroadcastPresence("zed", b"p\n", also=watchers))) == {
        "c1", "c2", "c3"}
    effects = apply(state, BroadcastPresence("cy", b"p\n", also=frozenset({"cy", "ann"})))
    assert sorted(str(c) for e in effects if isinstance(e, Deliver) for c in e.conns) == [
        "c1", "c2"]
    apply(state, Disconnect("c3"))
    assert _targets(apply(state, BroadcastPresence("zed", b"p\n", also=watchers))) == {
        "c1", "c2"}


def test_publish_many_delivers_each_message_to_its_room_in_order() -> None:
    """A commit batch becomes one Deliver per message with members, in batch order."""
    state = RegistryState()
    _connect(state, "c1", "ann", "a")
    _connect(state, "c2", "bob", "b")
    batch = (Delivery("a", 1, b"1"), Delivery("z", 1, b"z"), Delivery("b", 4, b"4"),
             Delivery("a", 2, b"2"))
    effects = apply(state, PublishMany(batch))
    assert [(e.conns, e.item) for e in effects if isinstance(e, Deliver)] == [
        (("c1",), batch[0]), (("c2",), batch[2]), (("c1",), batch[3])]


# ----------------------------------------------------------------------------- membership


def _run_calls(effects: Sequence[object]) -> None:
    for effect in effects:
        if isinstance(effect, Call):
            effect.fn()


def test_a_join_overtaken_by_a_leave_is_dropped_and_says_so() -> None:
    """A Join based on a storage read older than an applied Leave of the same user and room
    subscribes nothing, announces nothing, and tells its sender."""
    state = RegistryState()
    _connect(state, "c1", "ann", "a")
    _connect(state, "c2", "bob")
    since = state.epoch
    apply(state, Leave("bob", "a"))  # a kick that storage ordered after the join's read
    told: list[bool] = []
    effects = apply(state, Join("bob", "a", b"joined\n", since, told.append))
    assert _targets(effects) == set()
    _run_calls(effects)
    assert told == [False]
    assert _targets(apply(state, _publish("a", 1, b""))) == {"c1"}


def test_a_join_is_not_dropped_by_a_leave_of_another_room_or_user() -> None:
    state = RegistryState()
    _connect(state, "c1", "ann", "a", "b")
    _connect(state, "c2", "bob", "b")
    since = state.epoch
    apply(state, Leave("bob", "b"))
    apply(state, Leave("ann", "a"))
    told: list[bool] = []
    effects = apply(state, Join("bob", "a", None, since, told.append))
    _run_calls(effects)
    assert told == [True]
    assert "bob" in state.room_users["a"]
    # A Join with a since taken after the Leave is applied is not overtaken either.
    apply(state, Join("ann", "a", None, state.epoch))
    assert state.room_users["a"] == {"ann", "bob"}


def test_connect_leaves_out_the_rooms_a_leave_overtook() -> None:
    state = RegistryState()
    _connect(state, "c1", "ann", "a")
    since = state.epoch
    apply(state, Leave("bob", "a"))  # bob is offline: the Leave still counts
    apply(state, Connect("c2", "bob", None, lambda: None, frozenset({"a", "b"}), lambda: None,
                         since))
    assert state.user_rooms["bob"] == {"b"}


def test_the_leaves_remembered_are_bounded_and_an_older_since_counts_as_overtaken() -> None:
    state = RegistryState()
    _connect(state, "c1", "ann", "a")
    since = state.epoch
    for i in range(LEAVE_MEMORY + 10):
        apply(state, Leave(f"user{i}", "z"))
    assert len(state.last_left) <= LEAVE_MEMORY and len(state.leave_order) <= LEAVE_MEMORY
    assert overtaken(state, "ann", "a", since)  # not remembered: on the safe side
    assert not overtaken(state, "ann", "a", state.epoch - LEAVE_MEMORY)
    assert overtaken(state, f"user{LEAVE_MEMORY + 9}", "z", state.epoch - 1)
    assert not overtaken(state, "ann", "a", None)


def test_every_join_and_leave_of_a_user_counts_as_a_change_of_their_rooms() -> None:
    """A Join or Leave of a user (online here or not, applied or dropped) is a change of
    their rooms after any count read before it; another user's is not; a CloseRoom is
    everyone's."""
    state = RegistryState()
    _connect(state, "c1", "ann", "a")
    mark = state.changes
    assert not changed_since(state, "bob", mark)
    apply(state, Join("bob", "b", None, state.epoch))  # bob is offline: it still counts
    assert changed_since(state, "bob", mark) and not changed_since(state, "ann", mark)
    mark = state.changes
    apply(state, Leave("bob", "b"))
    assert changed_since(state, "bob", mark) and not changed_since(state, "ann", mark)
    mark = state.changes
    apply(state, Join("bob", "c", None, -1))  # dropped (overtaken): counted all the same
    assert changed_since(state, "bob", mark)
    mark = state.changes
    apply(state, CloseRoom("z", b"gone"))
    assert changed_since(state, "ann", mark) and changed_since(state, "carl", mark)
    assert not changed_since(state, "ann", state.changes)


def test_the_changes_remembered_are_bounded_and_an_older_mark_counts_as_changed() -> None:
    state = RegistryState()
    mark = state.changes
    for i in range(LEAVE_MEMORY + 10):
        apply(state, Leave(f"user{i}", "z"))
    assert len(state.user_changed) <= LEAVE_MEMORY and len(state.change_order) <= LEAVE_MEMORY
    assert changed_since(state, "ann", mark)  # not remembered: on the safe side
    assert not changed_since(state, "ann", state.changes - LEAVE_MEMORY)
    assert changed_since(state, f"user{LEAVE_MEMORY + 9}", state.changes - 1)


def test_from_member_checks_membership_in_order_with_the_commands_before() -> None:
    """Typing: sent to the others only while the sender is in the room."""
    state = RegistryState()
    _connect(state, "c1", "ann", "a")
    _connect(state, "c2", "bob", "a")
    told: list[bool] = []
    effects = apply(state, FromMember("bob", "a", b"t\n", told.append))
    assert _targets(effects) == {"c1"}
    apply(state, Leave("bob", "a"))
    effects = apply(state, FromMember("bob", "a", b"t\n", told.append))
    assert _targets(effects) == set()
    _run_calls(effects)
    assert told == [False]


# A model of the membership protocol: storage is a flag, the registry the real `apply` fed
# through a FIFO; operations are generators that yield between their atomic steps, and
# hypothesis picks which one moves next. Adders follow chatd.actions (epoch, then storage,
# then a Join with `since`, re-checking storage when dropped); removers change storage and
# then queue their Leave, as kick and leave do.

KEY = ("bob", "r")
SETTLING = b"settling"  # marks the Leave of a hello's settling (not a removal's)


@dataclasses.dataclass
class _World:
    state: RegistryState
    member: bool
    queue: collections.deque[Any] = dataclasses.field(default_factory=collections.deque)
    removing: int = 0  # removals done in storage whose Leave is not applied yet

    def subscribed(self) -> bool:
        return "bob" in self.state.room_users.get("r", ())

    def step_registry(self) -> None:
        command = self.queue.popleft()
        if isinstance(command, Leave) and command.announce != SETTLING:
            self.removing -= 1
        _run_calls(apply(self.state, command))


def _adder(world: _World, adds: bool) -> Iterator[None]:
    """``join`` of a public room (adds) or of a private room the user was in (reads)."""
    since = world.state.epoch
    yield
    if adds:
        world.member = True
    elif not world.member:
        return  # forbidden: nothing to subscribe
    yield
    yield from _subscribe(world, since)


def _subscribe(world: _World, since: int) -> Iterator[None]:
    """RoomRegistry.subscribe: a Join with ``since``; when dropped, storage again."""
    while True:
        told: list[bool] = []
        world.queue.append(Join("bob", "r", None, since, told.append))
        while not told:
            yield
        if told[0]:
            return
        since = world.state.epoch
        yield
        if not world.member:
            return
        yield


def _remover(world: _World) -> Iterator[None]:
    """``kick`` (RoomRegistry.unsubscribe): storage first, then the Leave; once it is
    applied, storage again, and a Join if they are a member (again)."""
    if not world.member:
        return
    world.member = False
    world.removing += 1
    yield
    applied: list[bool] = []
    world.queue.extend([Leave("bob", "r"), Call(lambda: applied.append(True))])
    while not applied:
        yield
    since = world.state.epoch
    yield
    if world.member:
        yield
        yield from _subscribe(world, since)


@hypothesis.settings(max_examples=300, deadline=None)
@hypothesis.given(
    initially=st.booleans(),
    adders=st.lists(st.booleans(), min_size=1, max_size=3),
    removers=st.integers(min_value=1, max_value=3),
    data=st.data(),
)
def test_no_interleaving_leaves_a_non_member_subscribed(
        initially: bool, adders: list[bool], removers: int, data: st.DataObject) -> None:
    """Whatever the order of the steps: a non-member is subscribed only while the removal
    that made them one is on its way (its Leave not applied yet), and once everything has
    run, subscribed is exactly what storage says."""
    state = RegistryState()
    apply(state, Connect("c1", "bob", None, lambda: None,
                         frozenset({"r"} if initially else ()), lambda: None))
    world = _World(state, member=initially)
    actors: list[Iterator[None]] = [_adder(world, adds) for adds in adders]
    actors += [_remover(world) for _ in range(removers)]
    while actors or world.queue:
        # The registry first, as below: hypothesis tries 0 most, and an actor picked while it
        # waits for the registry only yields again, so with the registry last many runs spun
        # until they overran hypothesis's buffer (two invalid runs in five, 30 s of waste).
        waiting = 1 if world.queue else 0
        pick = data.draw(st.integers(min_value=0, max_value=len(actors) + waiting - 1))
        if pick < waiting:
            world.step_registry()
        else:
            try:
                next(actors[pick - waiting])
            except StopIteration:
                del actors[pick - waiting]
        assert not world.subscribed() or world.member or world.removing > 0
    assert world.subscribed() == world.member


def _hello(world: _World, on_page: bool, fast: list[bool]) -> Iterator[None]:
    """A paged ``hello`` of bob, offline until then (chatd.actions.session): the epoch and
    the count of changes, the first read, a Connect with what it said; then, unless a change
    of bob's rooms was told meanwhile, the page read (the room in it if bob is a member and
    it is ``on_page``) and done when the registry has every room of the page; else the
    settling of ``_settle_rooms`` (registry first, then storage, a Join or a Leave,
    settled; 3 rounds)."""
    since, mark = world.state.epoch, world.state.changes
    yield
    read = world.member
    yield
    ready: list[bool] = []
    world.queue.append(Connect("c2", "bob", None, lambda: None,
                               frozenset({"r"} if read else ()),
                               lambda: ready.append(True), since))
    while not ready:
        yield
    if not changed_since(world.state, "bob", mark):
        yield
        if not (on_page and world.member) or world.subscribed():
            fast.append(True)
            return
    for _ in range(3):
        since = world.state.epoch
        subscribed = world.subscribed()
        yield
        stored = world.member
        if stored == subscribed:
            return
        world.queue.append(Join("bob", "r", None, since) if stored
                           else Leave("bob", "r", SETTLING))
        settled: list[bool] = []
        world.queue.append(Call(functools.partial(settled.append, True)))
        while not settled:
            yield


@hypothesis.settings(max_examples=400, deadline=None)
@hypothesis.given(
    initially=st.booleans(),
    on_page=st.booleans(),
    adders=st.lists(st.booleans(), max_size=3),
    removers=st.integers(min_value=0, max_value=3),
    data=st.data(),
)
def test_no_interleaving_with_a_hello_that_reads_once_leaves_it_wrong(
        initially: bool, on_page: bool, adders: list[bool], removers: int,
        data: st.DataObject) -> None:
    """A hello that trusts its first read when no change of the user's rooms was told
    between it and the Connect, racing additions and removals: a non-member is subscribed
    only while their removal is on its way, and once everything has run, subscribed is
    exactly what storage says."""
    world = _World(RegistryState(), member=initially)
    fast: list[bool] = []
    actors: list[Iterator[None]] = [_hello(world, on_page, fast)]
    actors += [_adder(world, adds) for adds in adders]
    actors += [_remover(world) for _ in range(removers)]
    while actors or world.queue:
        # The registry first (the simplest run applies each command as soon as it is queued).
        waiting = 1 if world.queue else 0
        pick = data.draw(st.integers(min_value=0, max_value=len(actors) + waiting - 1))
        if pick < waiting:
            world.step_registry()
        else:
            try:
                next(actors[pick - waiting])
            except StopIteration:
                del actors[pick - waiting]
        assert not world.subscribed() or world.member or world.removing > 0
    assert world.subscribed() == world.member
    hypothesis.event("read once" if fast else "read again")


def test_heads_tell_a_room_published_past_a_read_and_forget_the_oldest() -> None:
    """Heads keeps each room's last published seq (never lowered): a read is moved past
    once any of its rooms was published beyond it; past ``most`` rooms the oldest is
    forgotten and counted, and a deleted room starts again."""
    heads = Heads(most=2)
    heads.saw("a", 3)
    heads.saw("a", 2)  # another node's older commit, relayed late
    assert not heads.moved({"a": 3, "b": 0}) and heads.moved({"a": 2})
    heads.saw("b", 1)
    assert heads.forgotten == 0 and heads.moved({"b": 0})
    heads.saw("c", 5)  # a third room: "a", the oldest, is forgotten
    assert heads.forgotten == 1 and not heads.moved({"a": 0}) and heads.moved({"c": 4})
    heads.forget("c")
    assert not heads.moved({"c": 0}) and heads.forgotten == 1


def test_a_to_user_counts_as_a_change_of_that_users_rooms() -> None:
    """A read marker moved or a level set elsewhere (ToUser) changes how the user's rooms
    look to them: a hello's read of before it is not trusted (changed_since)."""
    state = RegistryState()
    mark = state.changes
    apply(state, ToUser("bob", b"x"))
    assert not changed_since(state, "alice", mark) and changed_since(state, "bob", mark)


def test_heads_hearing_changes_whenever_a_notice_may_have_gone_unheard() -> None:
    """``hearing`` is None until the relay listens, a new number each time it listens
    again or drops a notice, None while it does not listen: a hello compares it before and
    after and trusts its read only when it is the same number."""
    heads = Heads()
    assert heads.hearing is None
    heads.missed()  # not listening: nothing to miss
    assert heads.hearing is None
    heads.hear()
    first = heads.hearing
    assert first is not None
    heads.missed()
    assert heads.hearing not in (None, first)
    heads.deaf()
    assert heads.hearing is None
    heads.hear()
    assert heads.hearing not in (None, first)

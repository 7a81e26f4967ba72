"""The presence tracker: its pure logic (one announcement per user, not per connection, and
one status per user across every node), and the actor with a real room registry and real
storage (who hears of a change: room mates, and the users connected here who have the user as
a contact, looked up at each transition)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import trio
import trio.lowlevel
import trio.testing
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from chatd.outbox import Notice, Outbox
from chatd.presence import (
    Announce,
    AudienceReader,
    Idle,
    NodeDown,
    Offline,
    Online,
    PresenceState,
    PresenceTracker,
    Publish,
    Remote,
    Snapshot,
    apply,
)
from chatd.rooms import Connect, RoomRegistry
from chatd.storage import PresenceAudience, Storage, open_storage
from tests.helpers import make_config, until
from tests.storage.test_rooms_contacts import users as make_users

TIMEOUT = 20


def _announced(effects: list[Announce | Publish]) -> list[Announce]:
    return [e for e in effects if isinstance(e, Announce)]


def test_first_open_and_last_close_are_announced() -> None:
    """Online on the first connection, offline on the last, silence in between; each of
    the two is published to the other nodes."""
    state = PresenceState()
    assert apply(state, Online("ann", 1)) == [Publish("ann", True), Announce("ann", "online")]
    assert apply(state, Online("ann", 2)) == []
    assert apply(state, Offline("ann", 1)) == []
    assert apply(state, Offline("ann", 2)) == [Publish("ann", False),
                                               Announce("ann", "offline")]
    assert not state.is_online("ann")


def test_unknown_offline_is_ignored() -> None:
    """An offline for a connection never seen online announces nothing."""
    assert apply(PresenceState(), Offline("ann", 1)) == []


def test_online_elsewhere_is_not_announced_again() -> None:
    """A user online on another node who connects here too is published (for the other
    nodes) but not announced; closing here while the other node still has them announces
    nothing either; the other node's last close then announces offline."""
    state = PresenceState()
    assert apply(state, Remote("b", online=("ann",))) == [
        Announce("ann", "online", remote=True)]
    assert apply(state, Online("ann", 1)) == [Publish("ann", True)]
    assert apply(state, Offline("ann", 1)) == [Publish("ann", False)]
    assert state.is_online("ann")
    assert apply(state, Remote("b", offline=("ann",))) == [
        Announce("ann", "offline", remote=True)]


def test_a_dead_node_takes_its_users_offline() -> None:
    """NodeDown announces offline each user that node alone had; a user also online on
    another node, or here, stays online."""
    state = PresenceState()
    apply(state, Remote("b", online=("ann", "bob", "cid")))
    apply(state, Remote("c", online=("bob",)))
    apply(state, Online("cid", 1))
    assert apply(state, NodeDown("b")) == [Announce("ann", "offline", remote=True)]
    assert state.online() == {"bob", "cid"}


def test_a_snapshot_announces_only_the_differences() -> None:
    """A snapshot replaces what the notices said and announces who changed."""
    state = PresenceState()
    apply(state, Remote("b", online=("ann", "bob")))
    effects = apply(state, Snapshot({"b": frozenset({"bob"}), "c": frozenset({"cid"})}))
    assert sorted(effects, key=lambda e: e.user) == [
        Announce("ann", "offline", remote=True), Announce("cid", "online", remote=True)]


def test_a_reset_replaces_a_nodes_users() -> None:
    """A node that publishes again with reset has exactly the users it names."""
    state = PresenceState()
    apply(state, Remote("b", online=("ann", "bob")))
    assert apply(state, Remote("b", online=("bob", "cid"), reset=True)) == [
        Announce("ann", "offline", remote=True), Announce("cid", "online", remote=True)]


def test_away_while_every_connection_is_idle() -> None:
    """One connection idle: away (published: all idle here); a second, active: online; the
    active one closes: away again; a repeat changes nothing; the last closes: offline."""
    state = PresenceState()
    apply(state, Online("ann", 1))
    assert apply(state, Idle("ann", 1, True)) == [Publish("ann", True, True),
                                                  Announce("ann", "away")]
    assert apply(state, Idle("ann", 1, True)) == []
    assert apply(state, Online("ann", 2)) == [Publish("ann", True, False),
                                              Announce("ann", "online")]
    assert state.active() == {"ann"}
    assert apply(state, Offline("ann", 2)) == [Publish("ann", True, True),
                                               Announce("ann", "away")]
    assert state.status("ann") == "away" and state.is_online("ann")
    assert state.active() == set()
    assert apply(state, Offline("ann", 1)) == [Publish("ann", False),
                                               Announce("ann", "offline")]
    assert apply(state, Idle("ann", 1, False)) == []  # closed: nothing


def test_a_connection_opened_idle_is_away_at_once() -> None:
    """A hello with ``idle`` (a page opened in a background tab): away, never online."""
    state = PresenceState()
    assert apply(state, Online("ann", 1, idle=True)) == [Publish("ann", True, True),
                                                         Announce("ann", "away")]


def test_active_on_another_node_is_online_until_it_closes() -> None:
    """Idle here and active on node b: online; b's connections close (or b dies): away,
    announced as another node's change; idle on b alone, then active here: online."""
    state = PresenceState()
    apply(state, Online("ann", 1, idle=True))
    assert apply(state, Remote("b", online=("ann",))) == [
        Announce("ann", "online", remote=True)]
    assert apply(state, Remote("b", offline=("ann",))) == [
        Announce("ann", "away", remote=True)]
    apply(state, Remote("b", online=("ann",)))
    assert apply(state, NodeDown("b")) == [Announce("ann", "away", remote=True)]
    apply(state, Remote("c", idle=("bob",)))
    assert state.status("bob") == "away"
    assert apply(state, Online("bob", 2)) == [Publish("bob", True), Announce("bob", "online")]
    assert apply(state, Snapshot({"c": frozenset({"bob"})}, idle={})) == []
    assert apply(state, Offline("bob", 2)) == [Publish("bob", False)]  # active on c now


@given(st.lists(st.tuples(st.sampled_from(["ann", "bob"]), st.integers(0, 4), st.booleans())))
def test_announcements_alternate_and_match_connection_counts(
    steps: list[tuple[str, int, bool]],
) -> None:
    """For any sequence of opens and closes, each user's announcements alternate
    online/offline, and the user is online exactly while they have a connection."""
    state = PresenceState()
    open_conns: dict[str, set[int]] = {}
    last: dict[str, str] = {}
    for user, conn, opening in steps:
        conn_id = (user, conn)
        if opening:
            if conn in open_conns.get(user, set()):
                continue
            effects = apply(state, Online(user, conn_id))
            open_conns.setdefault(user, set()).add(conn)
        else:
            effects = apply(state, Offline(user, conn_id))
            open_conns.get(user, set()).discard(conn)
        for announce in _announced(effects):
            assert last.get(announce.user, "offline") != announce.status
            last[announce.user] = announce.status
        assert state.is_online(user) == bool(open_conns.get(user))
        assert last.get(user, "offline") == ("online" if open_conns.get(user) else "offline")


USERS = ["ann", "bob", "cid"]
NODES = ["b", "c"]

#: A user's connections on a node, as the model has them: None (none), True (all idle),
#: False (some active).
Part = bool | None


def _status(parts: Iterable[Part]) -> str:
    """The model's status of a user from their part on each node (this one included)."""
    parts = list(parts)
    if any(part is False for part in parts):
        return "online"
    return "away" if any(part is True for part in parts) else "offline"


class ClusterPresence(RuleBasedStateMachine):
    """Connections here (each active or idle), other nodes' notices (each user there active,
    all idle, or gone), node deaths and snapshots in any order: the tracker's status of
    every user is the model's (online: some connection active here or on a live node; away:
    connections, all idle; offline: none); it announces exactly the changes of that status,
    each once, with the new status; what it publishes is exactly the changes of this node's
    part (none, all idle, some active)."""

    def __init__(self) -> None:
        super().__init__()
        self.state = PresenceState()
        self.here: dict[str, dict[int, bool]] = {}
        self.there: dict[str, dict[str, bool]] = {node: {} for node in NODES}
        self.shown: dict[str, str] = {}
        self.published: dict[str, Part] = {}
        #: commands applied; the step at which each user last went offline; and the
        #: tracker's mark (``departures``) taken before each step, with that step
        self.steps = 0
        self.departed: dict[str, int] = {}
        self.marks: list[tuple[int, int]] = []

    def part_here(self, user: str) -> Part:
        conns = self.here.get(user)
        return all(conns.values()) if conns else None

    def model_statuses(self) -> dict[str, str]:
        return {user: _status([self.part_here(user),
                               *(self.there[n].get(user) for n in NODES)])
                for user in USERS}

    def _apply(self, command: object, before: dict[str, str]) -> None:
        self.marks.append((self.state.departures, self.steps))
        effects = apply(self.state, command)  # type: ignore[arg-type]
        after = self.model_statuses()
        for user in USERS:
            if before[user] != "offline" and after[user] == "offline":
                self.departed[user] = self.steps
        self.steps += 1
        for effect in effects:
            if isinstance(effect, Publish):
                part: Part = effect.idle if effect.online else None
                assert self.published.get(effect.user) != part
                assert part == self.part_here(effect.user)
                self.published[effect.user] = part
            else:
                assert self.shown.get(effect.user, "offline") != effect.status
                assert effect.status == after[effect.user]
                self.shown[effect.user] = effect.status
                assert effect.remote == (not isinstance(command, Online | Offline | Idle))
        changed = {u for u in USERS if before[u] != after[u]}
        assert [e.user for e in effects if isinstance(e, Announce)] == sorted(changed)

    @rule(user=st.sampled_from(USERS), conn=st.integers(0, 2), idle=st.booleans())
    def connect(self, user: str, conn: int, idle: bool) -> None:
        if conn in self.here.get(user, {}):
            return
        before = self.model_statuses()
        self.here.setdefault(user, {})[conn] = idle
        self._apply(Online(user, (user, conn), idle=idle), before)

    @rule(user=st.sampled_from(USERS), conn=st.integers(0, 2))
    def disconnect(self, user: str, conn: int) -> None:
        before = self.model_statuses()
        self.here.get(user, {}).pop(conn, None)
        self._apply(Offline(user, (user, conn)), before)

    @rule(user=st.sampled_from(USERS), conn=st.integers(0, 2), idle=st.booleans())
    def set_idle(self, user: str, conn: int, idle: bool) -> None:
        """A repeat, or a connection not open, changes nothing."""
        before = self.model_statuses()
        if conn in self.here.get(user, {}):
            self.here[user][conn] = idle
        self._apply(Idle(user, (user, conn), idle), before)

    @rule(node=st.sampled_from(NODES), user=st.sampled_from(USERS),
          part=st.sampled_from([None, True, False]))
    def remote(self, node: str, user: str, part: Part) -> None:
        before = self.model_statuses()
        if part is None:
            self.there[node].pop(user, None)
        else:
            self.there[node][user] = part
        self._apply(Remote(node, online=(user,) if part is False else (),
                           idle=(user,) if part is True else (),
                           offline=(user,) if part is None else ()), before)

    @rule(node=st.sampled_from(NODES),
          users=st.dictionaries(st.sampled_from(USERS), st.booleans()))
    def reset(self, node: str, users: dict[str, bool]) -> None:
        before = self.model_statuses()
        self.there[node] = dict(users)
        self._apply(Remote(node, online=tuple(sorted(u for u, i in users.items() if not i)),
                           idle=tuple(sorted(u for u, i in users.items() if i)),
                           reset=True), before)

    @rule(node=st.sampled_from(NODES))
    def node_dies(self, node: str) -> None:
        before = self.model_statuses()
        self.there[node] = {}
        self._apply(NodeDown(node), before)

    @rule()
    def snapshot(self) -> None:
        before = self.model_statuses()
        self._apply(Snapshot({n: frozenset(u) for n, u in self.there.items() if u},
                             idle={n: frozenset(x for x, i in u.items() if i)
                                   for n, u in self.there.items()}), before)

    @invariant()
    def statuses_agree(self) -> None:
        model = self.model_statuses()
        assert self.state.online() == {u for u, s in model.items() if s != "offline"}
        assert self.state.active() == {u for u, s in model.items() if s == "online"}
        for user in USERS:
            assert self.state.status(user) == model[user]
            assert self.shown.get(user, "offline") == model[user]
            assert self.published.get(user) == self.part_here(user)

    @invariant()
    def who_left_since_a_mark(self) -> None:
        """The pusher's question (chatd.pusher): offline now, gone offline after the mark."""
        model = self.model_statuses()
        for mark, step in self.marks[-8:]:
            for user in USERS:
                assert self.state.left_since(user, mark) == (
                    model[user] == "offline" and self.departed.get(user, -1) >= step)


TestClusterPresence = ClusterPresence.TestCase


# ------------------------------------------------------------------ the actor, real storage


@asynccontextmanager
async def tracking(audience: AudienceReader | None
                   ) -> AsyncIterator[tuple[RoomRegistry, PresenceTracker]]:
    """A room registry and a presence tracker running, the tracker reading ``audience``."""
    registry = RoomRegistry()
    tracker = PresenceTracker(registry, audience=audience)
    async with trio.open_nursery() as nursery:
        await nursery.start(registry.run)
        await nursery.start(tracker.run)
        yield registry, tracker
        nursery.cancel_scope.cancel()


async def connect(registry: RoomRegistry, tracker: PresenceTracker, user: str,
                  *rooms: str) -> Outbox:
    """A connection of ``user`` in ``rooms``, connected in the registry then online (as a
    hello does); its outbox, which nothing takes from."""
    outbox = Outbox(100_000)
    ready = trio.Event()
    await registry.send(Connect((user, len(tracker.state.conns.get(user, ()))), user,
                                outbox, lambda: None, frozenset(rooms), ready.set))
    await ready.wait()
    await tracker.online(user, (user, len(tracker.state.conns.get(user, ()))))
    return outbox


def heard(outbox: Outbox, start: int = 0) -> list[tuple[str, str]]:
    """The (user, status) of each presence frame in ``outbox`` from item ``start``."""
    found = []
    for item in list(outbox._items)[start:]:
        assert isinstance(item, Notice)
        event = json.loads(item.data)
        if event["op"] == "presence":
            found.append((event["user"], event["status"]))
    return found


async def hear(outbox: Outbox, *expected: tuple[str, str]) -> None:
    """Wait until ``outbox`` holds exactly ``expected`` presence frames (more fails)."""
    with trio.fail_after(TIMEOUT):
        await until(lambda: len(heard(outbox)) >= len(expected))
    assert heard(outbox) == list(expected)


async def test_watchers_are_looked_up_at_each_transition(storage: Storage) -> None:
    """A user's transitions reach the users connected here who have them as a contact
    (read from storage when the change is announced: nothing was handed over at their
    hello), and their room mates; a user neither has nothing."""
    with trio.fail_after(TIMEOUT):
        ann, _bob, _cy, dee = await make_users(storage, "ann", "Bob", "cy", "dee")
        await storage.add_contact(ann.id, "bob")
        await storage.add_contact(dee.id, "bob")  # dee is not connected: nobody to tell
        async with tracking(storage.presence_audience) as (registry, tracker):
            ann_out = await connect(registry, tracker, "ann")
            mate = await connect(registry, tracker, "eve", "lobby")
            await connect(registry, tracker, "cy")
            bob_out = await connect(registry, tracker, "Bob", "lobby")
            await hear(ann_out, ("Bob", "online"))
            await hear(mate, ("Bob", "online"))
            await tracker.offline("Bob", ("Bob", 0))
            await hear(ann_out, ("Bob", "online"), ("Bob", "offline"))
            await hear(mate, ("Bob", "online"), ("Bob", "offline"))
            assert not [e for e in heard(bob_out) if e[0] == "Bob"]  # never of themselves


async def test_users_online_only_elsewhere_reach_their_watchers_and_room_mates(
        storage: Storage) -> None:
    """Another node's user: their watchers here and their room mates here (their rooms
    read in the same statement) hear of them, once per change of their status anywhere."""
    with trio.fail_after(TIMEOUT):
        ann, bob, _eve = await make_users(storage, "ann", "bob", "eve")
        await storage.add_contact(ann.id, "bob")
        await storage.join_room(bob.id, "lobby")
        read: list[tuple[Sequence[str], Sequence[str]]] = []

        async def audience(users: Sequence[str], rooms_of: Sequence[str]
                           ) -> PresenceAudience:
            read.append((users, rooms_of))
            return await storage.presence_audience(users, rooms_of)

        async with tracking(audience) as (registry, tracker):
            ann_out = await connect(registry, tracker, "ann")
            mate = await connect(registry, tracker, "eve", "lobby")
            await tracker.remote(Remote("b", online=("bob",)))
            await hear(ann_out, ("bob", "online"))
            await hear(mate, ("bob", "online"))
            # One statement: bob's watchers with his rooms (eve's lookup may share it).
            assert [rooms_of for users, rooms_of in read if "bob" in users] == [["bob"]]
            await tracker.remote(Remote("c", online=("bob",)))  # online already
            await tracker.remote(NodeDown("b"))
            await tracker.remote(NodeDown("c"))
            await hear(ann_out, ("bob", "online"), ("bob", "offline"))
            await hear(mate, ("bob", "online"), ("bob", "offline"))


def told(outbox: Outbox) -> list[str]:
    """The frames other than presence in ``outbox``, as JSON text."""
    return [item.data.decode().strip() for item in list(outbox._items)
            if isinstance(item, Notice) and b'"presence"' not in item.data]


async def _told_once(outbox: Outbox) -> None:
    with trio.fail_after(TIMEOUT):
        await until(lambda: bool(told(outbox)))


async def test_a_tell_reaches_the_user_their_room_mates_and_watchers(storage: Storage) -> None:
    """A frame told about a user (their profile) reaches their own connections here, their
    watchers here and their room mates here, each once, their rooms read from storage (the
    user may have no connection here); a user neither hears nothing; the user's rooms and
    watchers are read in one statement with the rest of the batch."""
    with trio.fail_after(TIMEOUT):
        ann, bob, _eve, _cy, _dan = await make_users(storage, "ann", "bob", "eve", "cy", "dan")
        await storage.add_contact(ann.id, "bob")
        await storage.join_room(bob.id, "lobby")
        read: list[tuple[Sequence[str], Sequence[str]]] = []

        async def audience(users: Sequence[str], rooms_of: Sequence[str]
                           ) -> PresenceAudience:
            read.append((users, rooms_of))
            return await storage.presence_audience(users, rooms_of)

        async with tracking(audience) as (registry, tracker):
            ann_out = await connect(registry, tracker, "ann")
            mate = await connect(registry, tracker, "eve", "lobby")
            cy_out = await connect(registry, tracker, "cy", "lobby")  # ann's watcher too
            await storage.add_contact(_cy.id, "bob")
            dan_out = await connect(registry, tracker, "dan")
            frame = b'{"op":"profile","user":"bob","display_name":"Bob","custom_status":null}\n'
            await tracker.tell("bob", frame)  # bob has no connection here
            expected = [frame.decode().strip()]
            for outbox in (ann_out, mate, cy_out):
                await _told_once(outbox)
                assert told(outbox) == expected
            bob_out = await connect(registry, tracker, "bob", "lobby")
            await tracker.tell("bob", frame)
            await _told_once(bob_out)
            assert told(bob_out) == expected  # their own connection, once
            await until(lambda: len(told(mate)) == 2)
            assert told(dan_out) == []
            assert ["bob"] in [list(rooms_of) for users, rooms_of in read if "bob" in users]


async def test_a_burst_of_transitions_is_one_lookup_per_batch(storage: Storage) -> None:
    """Hundreds of users coming online at once (a restart): their watchers are read a batch
    at a time, not once per user, and every watcher hears of every contact."""
    with trio.fail_after(TIMEOUT):
        ann, *crowd = await make_users(storage, "ann", *(f"u{i}" for i in range(300)))
        for user in crowd:
            await storage.add_contact(ann.id, user.name)
        reads: list[int] = []
        gate = trio.Event()

        async def audience(users: Sequence[str], rooms_of: Sequence[str]
                           ) -> PresenceAudience:
            reads.append(len(users))
            await gate.wait()  # the first lookup is slow: the rest of the burst queues
            return await storage.presence_audience(users, rooms_of)

        async with tracking(audience) as (registry, tracker):
            outbox = Outbox(1000)
            ready = trio.Event()
            await registry.send(Connect(1, "ann", outbox, lambda: None, frozenset(),
                                        ready.set))
            await ready.wait()
            await tracker.remote(Remote("b", online=tuple(u.name for u in crowd)))
            await trio.testing.wait_all_tasks_blocked()
            gate.set()
            await hear(outbox, *((u, "online") for u in sorted(u.name for u in crowd)))
            assert sum(reads) == 300 and len(reads) <= 2, reads


async def test_a_lookup_that_fails_announces_to_room_mates_only(tmp_path: Path,
                                                                database_dsn: str) -> None:
    """Storage unavailable (closed here) during a lookup: logged, the announcement goes to
    the room mates the registry knows, and the tracker goes on."""
    with trio.fail_after(TIMEOUT):
        async with open_storage(make_config(tmp_path, database_dsn)) as storage:
            ann, _bob = await make_users(storage, "ann", "bob")
            await storage.add_contact(ann.id, "bob")
        # Closed: every read raises StorageUnavailable.
        async with tracking(storage.presence_audience) as (registry, tracker):
            watcher = await connect(registry, tracker, "ann")
            mate = await connect(registry, tracker, "eve", "lobby")
            await connect(registry, tracker, "bob", "lobby")
            await hear(mate, ("bob", "online"))
            await tracker.remote(Remote("b", online=("cid",)))
            await tracker.offline("bob", ("bob", 0))
            await hear(mate, ("bob", "online"), ("bob", "offline"))
            assert heard(watcher) == []  # bob's watcher: not told, the lookup failed


async def test_a_contact_added_during_transitions_is_never_left_stale(
        storage: Storage) -> None:
    """The race of ``add_contact`` (chatd.presence's docstring): the contact is committed,
    then their status read, while they come and go. Whatever the interleaving, the status
    read followed by the frames queued after it ends on their real status; and once removed
    (committed), a later transition no longer reaches the user."""
    with trio.fail_after(TIMEOUT * 3):
        ann, _bob, _eve = await make_users(storage, "ann", "bob", "eve")
        await storage.add_contact(ann.id, "eve")  # eve's transitions mark where we are

        async def barrier(outbox: Outbox, conn: int) -> int:
            """eve comes and goes: once ann hears it, every frame announced before is
            queued (announcements keep their order). The outbox's length then."""
            mark = len(outbox)
            await tracker.online("eve", ("eve", conn))
            await tracker.offline("eve", ("eve", conn))
            with trio.fail_after(TIMEOUT):
                await until(lambda: ("eve", "offline") in heard(outbox, mark))
            return len(outbox)

        async with tracking(storage.presence_audience) as (registry, tracker):
            ann_out = await connect(registry, tracker, "ann")
            for round_ in range(20):
                toggles = round_ % 7 + 1
                seen: list[tuple[str, int]] = []

                async def come_and_go(toggles: int = toggles) -> None:
                    for n in range(toggles):
                        if n % 2 == 0:
                            await tracker.online("bob", ("bob", n))
                        else:
                            await tracker.offline("bob", ("bob", n - 1))
                        await trio.lowlevel.checkpoint()

                async def add(round_: int = round_, seen: list[tuple[str, int]] = seen
                              ) -> None:
                    for _ in range(round_ % 4):
                        await trio.lowlevel.checkpoint()
                    name = await storage.add_contact(ann.id, "bob")
                    [status] = tracker.statuses([name])
                    seen.append((status["status"], len(ann_out)))

                async with trio.open_nursery() as nursery:
                    nursery.start_soon(come_and_go)
                    nursery.start_soon(add)
                final = "online" if toggles % 2 else "offline"
                await barrier(ann_out, 2 * round_)
                [(status, position)] = seen
                after = [s for u, s in heard(ann_out, position) if u == "bob"]
                assert ([status, *after][-1], round_) == (final, round_)
                if final == "online":
                    await tracker.offline("bob", ("bob", toggles - 1))
                # Removed (committed): bob's next transitions reach ann no more.
                assert await storage.remove_contact(ann.id, "bob") == "bob"
                mark = await barrier(ann_out, 2 * round_ + 1)
                await tracker.online("bob", ("bob", 99))
                await tracker.offline("bob", ("bob", 99))
                await barrier(ann_out, 2 * round_ + 1)
                assert heard(ann_out, mark) == [("eve", "online"), ("eve", "offline")]

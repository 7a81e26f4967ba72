"""The presence tracker's pure logic: one announcement per user, not per connection, and
one status per user across every node."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from chatd.presence import (
    Announce,
    NodeDown,
    Offline,
    Online,
    PresenceState,
    Publish,
    Remote,
    Snapshot,
    WatchAll,
    apply,
)


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


def test_watchers_hear_of_remote_users() -> None:
    """A local user watching a contact is named in the contact's remote announcements."""
    state = PresenceState()
    apply(state, Online("ann", 1, frozenset({"bob"})))
    assert apply(state, Remote("b", online=("bob",))) == [
        Announce("bob", "online", frozenset({"ann"}), remote=True)]


def test_watch_all_completes_the_contacts_of_an_online_user_only() -> None:
    """A first connection that handed over only the first contacts is given the rest by
    WatchAll: the rest's watchers include the user; an offline user's WatchAll is
    nothing (their next first connection reads their contacts)."""
    state = PresenceState()
    apply(state, Online("ann", 1, ["bob"]))
    assert apply(state, WatchAll("ann", ["bob", "cid", "dee"])) == []
    assert state.watching["ann"] == {"bob", "cid", "dee"}
    assert _announced(apply(state, Online("dee", 2))) == [
        Announce("dee", "online", frozenset({"ann"}))]
    apply(state, Offline("ann", 1))
    apply(state, WatchAll("ann", ["eve"]))
    assert "ann" not in state.watching and "eve" not in state.watchers


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


class ClusterPresence(RuleBasedStateMachine):
    """Connections here, other nodes' notices, node deaths and snapshots in any order: the
    tracker's online set is the model's (a user with a connection here or on a live node);
    its announcements alternate per user and follow every change of that set; what it
    publishes is this node's own first openings and last closings, alternating."""

    def __init__(self) -> None:
        super().__init__()
        self.state = PresenceState()
        self.here: dict[str, set[int]] = {}
        self.there: dict[str, set[str]] = {node: set() for node in NODES}
        self.shown: dict[str, str] = {}
        self.published: dict[str, bool] = {}

    def model_online(self) -> set[str]:
        online = {u for u, conns in self.here.items() if conns}
        for users in self.there.values():
            online |= users
        return online

    def _apply(self, command: object, before: set[str]) -> None:
        effects = apply(self.state, command)  # type: ignore[arg-type]
        for effect in effects:
            if isinstance(effect, Publish):
                assert self.published.get(effect.user, False) != effect.online
                self.published[effect.user] = effect.online
            else:
                assert self.shown.get(effect.user, "offline") != effect.status
                self.shown[effect.user] = effect.status
                assert effect.remote == (not isinstance(command, Online | Offline))
        after = self.model_online()
        changed = before ^ after
        assert {e.user for e in effects if isinstance(e, Announce)} == changed

    @rule(user=st.sampled_from(USERS), conn=st.integers(0, 2))
    def connect(self, user: str, conn: int) -> None:
        if conn in self.here.get(user, set()):
            return
        before = self.model_online()
        self.here.setdefault(user, set()).add(conn)
        self._apply(Online(user, (user, conn)), before)

    @rule(user=st.sampled_from(USERS), conn=st.integers(0, 2))
    def disconnect(self, user: str, conn: int) -> None:
        before = self.model_online()
        self.here.get(user, set()).discard(conn)
        self._apply(Offline(user, (user, conn)), before)

    @rule(node=st.sampled_from(NODES), user=st.sampled_from(USERS), online=st.booleans())
    def remote(self, node: str, user: str, online: bool) -> None:
        before = self.model_online()
        (self.there[node].add if online else self.there[node].discard)(user)
        self._apply(Remote(node, online=(user,) if online else (),
                           offline=() if online else (user,)), before)

    @rule(node=st.sampled_from(NODES), users=st.frozensets(st.sampled_from(USERS)))
    def reset(self, node: str, users: frozenset[str]) -> None:
        before = self.model_online()
        self.there[node] = set(users)
        self._apply(Remote(node, online=tuple(sorted(users)), reset=True), before)

    @rule(node=st.sampled_from(NODES))
    def node_dies(self, node: str) -> None:
        before = self.model_online()
        self.there[node] = set()
        self._apply(NodeDown(node), before)

    @rule()
    def snapshot(self) -> None:
        before = self.model_online()
        self._apply(Snapshot({n: frozenset(u) for n, u in self.there.items() if u}), before)

    @invariant()
    def online_set_agrees(self) -> None:
        assert self.state.online() == self.model_online()
        for user in USERS:
            assert self.shown.get(user, "offline") == (
                "online" if user in self.model_online() else "offline")
            assert self.published.get(user, False) == bool(self.here.get(user))


TestClusterPresence = ClusterPresence.TestCase

"""The room registry's pure logic, called without trio."""

from __future__ import annotations

from collections.abc import Sequence

from chatd.outbox import Delivery
from chatd.rooms import (
    Broadcast,
    BroadcastPresence,
    Call,
    Connect,
    Deliver,
    Disconnect,
    Join,
    Leave,
    PublishMany,
    RegistryState,
    apply,
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

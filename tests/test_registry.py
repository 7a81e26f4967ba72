"""The room registry's actor (chatd.rooms.RoomRegistry) under trio: a command applied at once
in the caller's task when nothing is queued before it, and never ahead of one that is."""

from __future__ import annotations

import trio

from chatd.outbox import Delivery, Outbox
from chatd.rooms import Connect, PublishMany, RoomRegistry, ToUser

TIMEOUT = 10


async def _connected(registry: RoomRegistry, user: str, *rooms: str) -> Outbox:
    outbox = Outbox(capacity=10)
    await registry.connect(Connect(f"{user}-conn", user, outbox, lambda: None,
                                   frozenset(rooms), lambda: None))
    return outbox


def _publish(room: str, seq: int) -> PublishMany:
    return PublishMany((Delivery(room, seq, f"{room} {seq}\n".encode()),))


async def test_an_idle_registry_applies_a_command_in_the_callers_task() -> None:
    """With its task waiting on an empty inbox, ``apply_now`` applies the command before it
    returns, without a checkpoint: the member's outbox holds the entry at once."""
    with trio.fail_after(TIMEOUT):
        async with trio.open_nursery() as nursery:
            registry = RoomRegistry()
            assert not registry.apply_now(_publish("lobby", 1))  # not running: refused
            await nursery.start(registry.run)
            ann = await _connected(registry, "ann", "lobby")
            assert registry.apply_now(_publish("lobby", 1))
            assert len(ann) == 1  # no checkpoint since: queued by this very call
            assert await ann.take() == [Delivery("lobby", 1, b"lobby 1\n")]
            assert registry.heads.moved({"lobby": 0})  # recorded as a queued one is
            nursery.cancel_scope.cancel()


async def test_a_command_queued_before_is_never_overtaken() -> None:
    """A command queued and not yet taken by the registry's task (even one handed straight
    to it) makes ``apply_now`` refuse, so the caller queues behind it; and once the task has
    applied everything, it applies at once again."""
    with trio.fail_after(TIMEOUT):
        async with trio.open_nursery() as nursery:
            registry = RoomRegistry()
            await nursery.start(registry.run)
            ann = await _connected(registry, "ann", "lobby")
            registry.send_nowait(_publish("lobby", 1))
            assert not registry.apply_now(_publish("lobby", 2))
            await registry.send(_publish("lobby", 2))
            await registry.settled()
            assert [d.seq for d in await ann.take()] == [1, 2]  # type: ignore[union-attr]
            assert registry.apply_now(ToUser("ann", b"marker\n"))
            assert len(ann) == 1
            nursery.cancel_scope.cancel()

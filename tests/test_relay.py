"""The relay (chatd.cluster.Relay) between two nodes on a real PostgreSQL: how another node's
commits reach this node's registry, and in what order with its membership changes.

Rules: a fresh database per test; every await on the database under ``trio.fail_after``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import trio
import trio.testing

from chatd.cluster import Relay
from chatd.delivery import Delivery, Notice
from chatd.protocol import frame
from chatd.rooms import Command, Connect, PublishMany, RoomRegistry
from chatd.storage import (
    Appended,
    CommitNotice,
    MembershipNotice,
    Message,
    NewMessage,
    Storage,
    User,
    open_storage,
)
from chatd.views import message_event
from tests.helpers import make_config, until

TIMEOUT = 20


class Recorded(RoomRegistry):
    """A real registry that also keeps every command it was given, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.commands: list[Command] = []
        #: For each PublishMany applied, whether the registry's own task applied it.
        self.published_by_task: list[bool] = []

    def _apply(self, command: Command) -> None:
        if isinstance(command, PublishMany):
            self.published_by_task.append(
                "RoomRegistry.run" in trio.lowlevel.current_task().name)
        super()._apply(command)

    async def send(self, command: Command) -> None:
        self.commands.append(command)
        await super().send(command)

    def send_nowait(self, command: Command) -> None:
        super().send_nowait(command)
        self.commands.append(command)

    def apply_now(self, command: Command) -> bool:
        applied = super().apply_now(command)
        if applied:
            self.commands.append(command)
        return applied


class _Outbox:
    """What the registry needs of an outbox, on a memory channel the test reads from."""

    def __init__(self, send: trio.MemorySendChannel[Any]) -> None:
        self._send = send

    def send_nowait(self, item: Any, *, wake: bool = True) -> None:
        self._send.send_nowait(item)

    def flush(self) -> None:
        pass


async def _connect(registry: RoomRegistry, conn: int, user: str,
                   rooms: frozenset[str]) -> trio.MemoryReceiveChannel[Any]:
    send, receive = trio.open_memory_channel[Any](100)
    await registry.connect(Connect(conn, user, _Outbox(send), lambda: None, rooms,
                                   lambda: None))
    return receive


async def _members(storage: Storage, rooms: list[str], *names: str) -> list[User]:
    """Users called ``names``, each a member of every room of ``rooms``."""
    users = [await storage.create_user(name, "hash") for name in names]
    for room in rooms:
        for user in users:
            await storage.join_room(user.id, room)
    return users


def _count_reads(storage: Storage) -> list[int]:
    """How many ranges each of ``storage``'s ``messages_ranges`` calls asks for, from now."""
    reads: list[int] = []
    ranges = storage.messages_ranges

    async def counted(asked: Sequence[tuple[str, int, int]]) -> list[list[Message]]:
        reads.append(len(asked))
        return await ranges(asked)

    storage.messages_ranges = counted  # type: ignore[method-assign,assignment]
    return reads


async def test_a_commit_over_two_rooms_is_one_command_to_the_registry(
        tmp_path: Path, database_dsn: str) -> None:
    """Another node's batch over two rooms (one notice, carrying both) reaches the registry
    as one PublishMany with the entries of both rooms, as the frames a read gives; a room
    with nobody here is not published (and its entries were not even built)."""
    config = make_config(tmp_path, database_dsn)
    with trio.fail_after(TIMEOUT):
        async with open_storage(config) as a, open_storage(config) as b, \
                trio.open_nursery() as nursery:
            ann = await a.create_user("ann", "hash")
            bea = await a.create_user("bea", "hash")
            for room in ("lobby", "other", "empty"):
                await a.join_room(ann.id, room)
            for room in ("lobby", "other"):
                await a.join_room(bea.id, room)
            assert await a.heartbeat() and await b.heartbeat()  # a's notices carry
            registry = Recorded()
            await nursery.start(registry.run)
            outbox = await _connect(registry, 1, "bea", frozenset({"lobby", "other"}))
            relayed: list[tuple[str, int]] = []
            relay = Relay(b, registry, on_relayed=lambda source, n: relayed.append((source, n)))
            await nursery.start(relay.run)

            await a.append_messages([
                NewMessage(user_id=ann.id, room=room, text=f"to {room}", nonce=room)
                for room in ("lobby", "other", "empty")])
            got = [await outbox.receive(), await outbox.receive()]

            published = [c for c in registry.commands if isinstance(c, PublishMany)]
            assert len(published) == 1, published
            read = [*await b.messages_range("lobby", after=0, upto=1),
                    *await b.messages_range("other", after=0, upto=1)]
            expected = [Delivery(m.room, m.seq, frame(message_event(m))) for m in read]
            assert list(published[0].deliveries) == expected == got
            # (one call from the crossing's callback; one per room had the relay's task
            # still been busy with the ListeningNotice)
            assert {source for source, _ in relayed} == {"notice"}
            assert sum(n for _, n in relayed) == 2
            # ...and applied there too: the idle registry's task was not woken for it.
            assert registry.published_by_task == [False]
            nursery.cancel_scope.cancel()


async def test_a_commit_after_a_membership_waits_for_it(tmp_path: Path,
                                                         database_dsn: str) -> None:
    """A carried commit that comes while an earlier membership notice is being applied
    does not overtake it: the new member's connection here gets ``joined`` and then the
    message (published straight away, it would have gone to nobody)."""
    config = make_config(tmp_path, database_dsn)
    with trio.fail_after(TIMEOUT):
        async with open_storage(config) as a, open_storage(config) as b, \
                trio.open_nursery() as nursery:
            ann = await a.create_user("ann", "hash")
            bea = await a.create_user("bea", "hash")
            cid = await a.create_user("cid", "hash")
            for user in (ann, bea, cid):
                await a.join_room(user.id, "lobby")
            [appended] = await a.append_messages([NewMessage(
                user_id=ann.id, room="lobby", text="hi", nonce="n1")])
            assert isinstance(appended, Appended)
            message = appended.message
            registry = Recorded()
            await nursery.start(registry.run)
            outbox = await _connect(registry, 1, "bea", frozenset())
            others = await _connect(registry, 2, "cid", frozenset({"lobby"}))  # not bea's
            relay = Relay(b, registry)
            await nursery.start(relay.run)

            # As the listener hands them over, one payload each, before the task runs.
            relay._on_batch((MembershipNotice(node=a.node, room="lobby", user="bea",
                                              joined=True),))
            relay._on_batch((CommitNotice(node=a.node, room="lobby", after=0, last_seq=1,
                                          entries=(message,)),))
            joined = await outbox.receive()
            assert isinstance(joined, Notice) and b'"op":"joined"' in joined.data
            assert await outbox.receive() == Delivery("lobby", 1, frame(message_event(message)))
            await until(lambda: others.statistics().current_buffer_used == 2)
            nursery.cancel_scope.cancel()


async def test_the_rooms_a_commits_notice_cannot_carry_are_read_at_once(
        tmp_path: Path, database_dsn: str) -> None:
    """Another node's batch over many rooms with long messages: its notice carries the
    entries of the first rooms only, the others as ranges. The relay reads all of those in
    one read, not one per room (which fell behind a busy node: its members here got its
    messages ever later), and publishes every entry, in each room's order."""
    config = make_config(tmp_path, database_dsn)
    rooms = [f"room-{i}" for i in range(8)]
    with trio.fail_after(TIMEOUT):
        async with open_storage(config) as a, open_storage(config) as b, \
                trio.open_nursery() as nursery:
            ann, _ = await _members(a, rooms, "ann", "bea")
            assert await a.heartbeat() and await b.heartbeat()  # a's notices carry
            reads = _count_reads(b)
            b.messages_range = None  # type: ignore[assignment]  # never one room at a time
            registry = Recorded()
            await nursery.start(registry.run)
            outbox = await _connect(registry, 1, "bea", frozenset(rooms))
            relayed: list[tuple[str, int]] = []
            relay = Relay(b, registry, on_relayed=lambda source, n: relayed.append((source, n)))
            await nursery.start(relay.run)

            appended = await a.append_messages([
                NewMessage(user_id=ann.id, room=room, text=f"{room} " + "x" * 2500,
                           nonce=f"{room}-{k}")
                for k in range(2) for room in rooms])
            got = [await outbox.receive() for _ in appended]

            assert sorted((d.room, d.seq) for d in got) == sorted(
                (room, seq) for room in rooms for seq in (1, 2))
            for room in rooms:
                assert [d.seq for d in got if d.room == room] == [1, 2]
            assert {source for source, _ in relayed} == {"notice", "read"}, relayed
            assert sum(n for _, n in relayed) == len(appended)
            assert len(reads) == 1 and reads[0] > 1, reads
            nursery.cancel_scope.cancel()


async def test_what_queued_up_for_the_relay_is_read_at_once(
        tmp_path: Path, database_dsn: str) -> None:
    """Payloads that queued up while the relay's task was busy (another node committing
    faster than this one relays) are taken together: the ranges of all their commits are
    one read, so that the relay catches up instead of falling further behind. Each room's
    entries still come in order, once."""
    config = make_config(tmp_path, database_dsn)
    rooms = ["lobby", "other", "third"]
    with trio.fail_after(TIMEOUT):
        async with open_storage(config) as a, open_storage(config) as b, \
                trio.open_nursery() as nursery:
            ann, _ = await _members(a, rooms, "ann", "bea")
            # (no heartbeat: node a thinks itself alone and sends no notice of its own)
            await a.append_messages([
                NewMessage(user_id=ann.id, room=room, text=f"{room} {k}", nonce=f"{room}{k}")
                for k in range(2) for room in rooms])
            reads = _count_reads(b)
            registry = Recorded()
            await nursery.start(registry.run)
            outbox = await _connect(registry, 1, "bea", frozenset(rooms))
            relay = Relay(b, registry)
            await nursery.start(relay.run)
            await trio.testing.wait_all_tasks_blocked()

            # Three payloads, one commit each, as the listener hands them over, with no
            # checkpoint in between: the relay's task finds them all queued.
            for room in rooms:
                relay._on_batch((CommitNotice(node="elsewhere", room=room, after=0,
                                              last_seq=2, entries=None),))
            got = [await outbox.receive() for _ in range(2 * len(rooms))]
            for room in rooms:
                assert [d.seq for d in got if d.room == room] == [1, 2]
            assert reads == [3], reads
            nursery.cancel_scope.cancel()

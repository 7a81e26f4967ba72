"""Nodes, presence across nodes and the commit notices (migration 0017), against a real
PostgreSQL: each storage opened on one database is a node of its own.

Rules: a fresh database per test; every await on the database under ``trio.fail_after``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import trio
from hypothesis import given
from hypothesis import strategies as st

from chatd.storage import (
    Change,
    CommitNotice,
    ListeningNotice,
    NewMessage,
    PresenceNotice,
    Storage,
    open_storage,
)
from chatd.storage.bridge import open_bridge
from chatd.storage.postgres import (
    NOTICE_BYTES,
    _parse_notice,
    parse_presence,
    presence_payloads,
)
from tests.helpers import make_config

TIMEOUT = 20


@asynccontextmanager
async def raw_notices(dsn: str, channel: str) -> AsyncIterator[tuple[list[str], trio.Event]]:
    """The payloads NOTIFYed on ``channel`` while the block runs, as PostgreSQL sent them,
    and an event set when the first arrives."""
    payloads: list[str] = []
    arrived = trio.Event()
    token = trio.lowlevel.current_trio_token()

    def heard(_conn: Any, _pid: int, _channel: str, payload: str) -> None:
        payloads.append(payload)
        token.run_sync_soon(arrived.set)

    async with open_bridge(name="listener") as bridge:
        conn: Any = await bridge.run(asyncpg.connect, dsn)
        try:
            await bridge.run(conn.add_listener, channel, heard)
            yield payloads, arrived
        finally:
            await bridge.run(conn.close)


async def test_a_batch_over_many_rooms_is_one_notice(storage: Storage,
                                                     database_dsn: str) -> None:
    """One group-commit batch over 30 rooms NOTIFYs once, naming every room with its seq
    range (it used to be one notice per room); a node parses it into one CommitNotice per
    room."""
    with trio.fail_after(TIMEOUT):
        ann = await storage.create_user("ann", "hash")
        rooms = [f"room-{i}" for i in range(30)]
        for room in rooms:
            await storage.join_room(ann.id, room)
        async with raw_notices(database_dsn, "chatd_commits") as (payloads, arrived):
            batch = [NewMessage(user_id=ann.id, room=room, text=f"{room} {n}",
                                nonce=f"{room}-{n}") for room in rooms for n in range(2)]
            await storage.append_messages(batch)
            await arrived.wait()
            await storage.ping()  # a second notice, if any, has come by now
        assert len(payloads) == 1, payloads
        notices = _parse_notice("chatd_commits", payloads[0])
        assert notices == [CommitNotice(node=storage.node, room=room, after=0, last_seq=2)
                           for room in rooms]


async def test_presence_crosses_nodes_and_a_dead_node_is_swept(tmp_path: Path,
                                                               database_dsn: str) -> None:
    """A node's presence is recorded and told to the others; a node not heard of for the
    timeout is swept, its users with it, and the others told; back, it learns it was."""
    config = make_config(tmp_path, database_dsn)
    heard: list[Change] = []

    with trio.fail_after(TIMEOUT):
        async with open_storage(config) as a, open_storage(config) as b, \
                trio.open_nursery() as nursery:
            await a.create_user("Ann", "hash")
            bob = await a.create_user("bob", "hash")
            await a.join_room(bob.id, "lobby")
            assert await a.heartbeat() is True
            assert await a.heartbeat() is False
            assert await b.heartbeat() is True
            await nursery.start(b.follow_changes, heard.append)

            async def heard_presence(count: int) -> list[PresenceNotice]:
                while True:
                    found = [n for n in heard if isinstance(n, PresenceNotice)]
                    if len(found) >= count:
                        return found
                    await trio.sleep(0.01)

            await a.publish_presence(["Ann", "bob"], [], [("lobby", "bob")])
            [notice] = await heard_presence(1)
            assert notice == PresenceNotice(node=a.node, online=("Ann", "bob"),
                                            typing=(("lobby", "bob"),))
            assert await b.online_elsewhere() == {a.node: frozenset({"Ann", "bob"})}
            assert await b.rooms_of_users(["bob", "Ann"]) == {"bob": frozenset({"lobby"})}
            await a.publish_presence([], ["Ann"])
            await heard_presence(2)
            assert await b.online_elsewhere() == {a.node: frozenset({"bob"})}

            seen = await b.sweep_nodes(0.0)  # every other node is late by now
            assert seen.dead == (a.node,) and seen.others == 0
            notices = await heard_presence(3)
            assert notices[-1] == PresenceNotice(node=a.node, down=True)
            assert await b.online_elsewhere() == {}
            assert await a.heartbeat() is True  # a was taken for dead: it publishes again
            await a.publish_presence(["bob"], [], reset=True)
            notices = await heard_presence(4)
            assert notices[-1] == PresenceNotice(node=a.node, online=("bob",), reset=True)
            assert await b.online_elsewhere() == {a.node: frozenset({"bob"})}
            assert (await b.sweep_nodes(60.0)).others == 1
            await a.leave_cluster()
            notices = await heard_presence(5)
            assert notices[-1] == PresenceNotice(node=a.node, down=True)
            assert await b.online_elsewhere() == {}
            assert isinstance(heard[0], ListeningNotice)
            nursery.cancel_scope.cancel()


NAMES = st.text("abcXYZ019_.-", min_size=1, max_size=32)
ROOMS = st.one_of(st.text("abz09_-", min_size=1, max_size=64),
                  st.builds(lambda a, b: f"@{a.lower()}:{b.lower()}", NAMES, NAMES))


@given(online=st.lists(NAMES, max_size=400), offline=st.lists(NAMES, max_size=400),
       typing=st.lists(st.tuples(ROOMS, NAMES), max_size=100), reset=st.booleans())
def test_presence_payloads_round_trip(online: list[str], offline: list[str],
                                      typing: list[tuple[str, str]], reset: bool) -> None:
    """Any presence, however large, is split into payloads PostgreSQL takes (under 8,000
    bytes), each parsed back; together they say what was published, reset first."""
    payloads = presence_payloads("chatd-0123456789ab", online, offline, typing, reset=reset)
    assert all(len(p.encode()) <= NOTICE_BYTES for p in payloads)
    notices = [parse_presence(p) for p in payloads]
    assert all(n is not None and n.node == "chatd-0123456789ab" for n in notices)
    parsed = [n for n in notices if n is not None]
    assert [n.reset for n in parsed] == [reset] + [False] * (len(parsed) - 1) or not parsed
    assert [u for n in parsed for u in n.online] == online
    assert [u for n in parsed for u in n.offline] == offline
    assert [t for n in parsed for t in n.typing] == typing
    assert bool(parsed) == bool(online or offline or typing or reset)


@given(st.text(max_size=60))
def test_presence_parser_takes_any_text(payload: str) -> None:
    """A payload that is not one of ours parses to None or a notice, never an exception."""
    parse_presence(payload)

"""A batch of plain messages is resolved and stored in one call (migration 0020's
chatd_append), with its plans kept; other batches take the two statements. Against a real
PostgreSQL."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatd.errors import ChatError
from chatd.storage import Appended, NewChange, NewMessage, Storage, open_storage
from chatd.storage.postgres import PostgresStorage
from tests.helpers import make_config

TIMEOUT = 30

# A send of a batch: (user 0-2, room 0-3 (3: no such room), nonce 0-3). User u is a member of
# room r unless (u + r) % 3 == 0; room 2 is archived.
_SEND = st.tuples(st.integers(0, 2), st.integers(0, 3), st.integers(0, 3))


async def _world(storage: Storage, prefix: str) -> tuple[list[Any], list[str]]:
    users = [await storage.create_user(f"{prefix}u{u}", "hash") for u in range(3)]
    rooms = [f"{prefix}r{r}" for r in range(4)]
    for r in range(3):
        for u in range(3):
            if (u + r) % 3:
                await storage.join_room(users[u].id, rooms[r])
    # Archived by its owner (the first to join it): its members are refused 'archived'.
    (archived,) = await storage.append_messages([NewChange(
        user_id=users[0].id, room=rooms[2], msg_id=0, kind="archived", on=True)])
    assert isinstance(archived, Appended)
    return users, rooms


def _seen(outcome: Appended | ChatError, prefix: str) -> tuple[object, ...]:
    """An outcome without what differs between two worlds (names' prefix, ids, times)."""
    if isinstance(outcome, ChatError):
        return ("refused", outcome.code)
    m = outcome.message
    return ("stored", outcome.duplicate, m.room.removeprefix(prefix), m.seq,
            m.sender.removeprefix(prefix), m.text, m.nonce, m.mentions)


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(st.lists(_SEND, min_size=1, max_size=8), min_size=1, max_size=5))
async def test_one_trip_gives_what_the_two_statements_give(
        tmp_path: Path, database_dsn: str, batches: list[list[tuple[int, int, int]]]) -> None:
    """Any run of batches, with refusals (no such room, not a member, archived) and nonces
    repeated within a batch and across batches: the one-call append of plain messages
    answers exactly as the two statements do (a mention of nobody sends a batch down that
    path and changes nothing else), seqs in batch order and without a hole."""
    a, b = f"a{uuid.uuid4().hex[:8]}", f"b{uuid.uuid4().hex[:8]}"
    with trio.fail_after(TIMEOUT):
        async with open_storage(make_config(tmp_path, database_dsn)) as storage:
            users_a, rooms_a = await _world(storage, a)
            users_b, rooms_b = await _world(storage, b)
            for number, batch in enumerate(batches):
                plain = [NewMessage(user_id=users_a[u].id, room=rooms_a[r],
                                    text=f"t{number}-{i}", nonce=f"n{n}")
                         for i, (u, r, n) in enumerate(batch)]
                other = [NewMessage(user_id=users_b[u].id, room=rooms_b[r],
                                    text=f"t{number}-{i}", nonce=f"n{n}",
                                    mentions=("nobody",))
                         for i, (u, r, n) in enumerate(batch)]
                got = await storage.append_messages(plain)
                expected = await storage.append_messages(other)
                assert [_seen(o, a) for o in got] == [_seen(o, b) for o in expected]
            for r in range(2):
                reader = next(u for u in users_a if (users_a.index(u) + r) % 3)
                page = await storage.history(reader.id, rooms_a[r], limit=100)
                assert [m.seq for m in page.messages] == list(range(1, page.last_seq + 1))


async def test_lone_appends_are_not_planned_again_each_time(
        tmp_path: Path, database_dsn: str) -> None:
    """Twenty lone sends on one connection: no statement of theirs was given a plan of its
    own more than the first five times (PostgreSQL's plan cache tries that many before it
    keeps a generic plan). The two statements' first one was planned again at every call,
    most of what a lone send cost PostgreSQL."""
    config = make_config(tmp_path, database_dsn, database={"pool_size": 1})
    with trio.fail_after(TIMEOUT):
        async with open_storage(config) as storage:
            assert isinstance(storage, PostgresStorage)
            user = await storage.create_user("alice", "hash")
            await storage.join_room(user.id, "lobby")
            for i in range(20):
                (outcome,) = await storage.append_messages(
                    [NewMessage(user_id=user.id, room="lobby", text="hi", nonce=f"n{i}")])
                assert isinstance(outcome, Appended) and outcome.message.seq == i + 1
            rows = await storage._run(
                storage._pool.fetch,
                "SELECT statement, custom_plans, generic_plans FROM pg_prepared_statements")
    appends = [r for r in rows if "messages" in r["statement"] or "chatd_append" in r["statement"]]
    assert appends
    assert all(r["custom_plans"] <= 5 for r in appends), [dict(r) for r in appends]

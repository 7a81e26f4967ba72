"""Finding messages by (sender, nonce) after their commit's reply was lost
(:meth:`Storage.messages_by_nonce`): as a read of the room gives them, and only once the
server is done with the lost connection's transaction. Against a real PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatd.storage import Appended, Message, NewChange, NewMessage, Storage, open_storage
from chatd.storage.postgres import _SQL_LOST_BUSY
from tests.helpers import fetchval_apart, make_config, rooms_locked, until

TIMEOUT = 30

# A send: (user 0-1, room 0-1, nonce 0-3); user 1 is no member of room 1 (refused, nothing
# stored under its nonce).
_SEND = st.tuples(st.integers(0, 1), st.integers(0, 1), st.integers(0, 3))
# A key asked about: (user 0-2, nonce 0-4); user 2 never sent anything, nonce 4 was never used.
_KEY = st.tuples(st.integers(0, 2), st.integers(0, 4))


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(st.lists(_SEND, min_size=1, max_size=6), min_size=1, max_size=4),
       keys=st.lists(_KEY, max_size=12))
async def test_messages_by_nonce_answers_each_key_as_a_read_of_its_room(
        tmp_path: Path, database_dsn: str, batches: list[list[tuple[int, int, int]]],
        keys: list[tuple[int, int]]) -> None:
    """Any sends (nonces repeated, some refused), then any keys (repeated, unknown users and
    nonces): each key is answered in its place, None when nothing was stored under it, else
    the first message stored with it (the model: a dict of the first send of each key that
    was stored), exactly as :meth:`Storage.messages_range` reads it now (a reaction and a
    reply make it more than its text)."""
    run = uuid.uuid4().hex[:8]  # the examples share one database
    with trio.fail_after(TIMEOUT):
        async with open_storage(make_config(tmp_path, database_dsn)) as storage:
            users = [await storage.create_user(f"u{i}{run}", "hash") for i in range(3)]
            rooms = [f"r{i}{run}" for i in range(2)]
            for room in rooms:
                await storage.join_room(users[0].id, room)
            await storage.join_room(users[1].id, rooms[0])
            model: dict[tuple[int, int], tuple[str, str]] = {}  # key -> (room, text)
            firsts: dict[str, int] = {}  # room -> its first message's id (later ones reply)
            for number, batch in enumerate(batches):
                entries = [NewMessage(user_id=users[u].id, room=rooms[r], text=f"t{number}-{i}",
                                      nonce=f"n{n}", reply_to=firsts.get(rooms[r]))
                           for i, (u, r, n) in enumerate(batch)]
                for (u, _, n), entry, outcome in zip(
                        batch, entries, await storage.append_messages(entries), strict=True):
                    if isinstance(outcome, Appended) and not outcome.duplicate:
                        model[(u, n)] = (entry.room, entry.text)
                        firsts.setdefault(entry.room, outcome.message.msg_id)
            if rooms[0] in firsts:
                await storage.append_messages([NewChange(
                    user_id=users[0].id, room=rooms[0], msg_id=firsts[rooms[0]],
                    kind="reaction", emoji="👍")])

            found = await storage.messages_by_nonce(
                [(users[u].id, f"n{n}") for u, n in keys])

            assert len(found) == len(keys)
            for (u, n), message in zip(keys, found, strict=True):
                if (u, n) not in model:
                    assert message is None
                    continue
                assert message is not None
                assert (message.room, message.text) == model[(u, n)]
                assert (message.sender, message.nonce) == (users[u].name, f"n{n}")
                assert [message] == await storage.messages_range(
                    message.room, after=message.seq - 1, upto=message.seq)
            assert await storage.messages_by_nonce([]) == []


async def test_a_lost_appends_outcome_is_read_once_its_backend_is_done(
        storage: Storage, database_dsn: str) -> None:
    """A send waits for its room's lock when its connection is cut (its caller cancelled:
    the connection is terminated). The server does not know: once the lock is free, it
    stores the message. A look-up by nonce started before that waits for the lost
    connection's backend to be done, and finds the message."""
    ann = await storage.create_user("ann", "hash")
    await storage.join_room(ann.id, "lobby")
    send = NewMessage(user_id=ann.id, room="lobby", text="hi", nonce="n1")
    with trio.fail_after(TIMEOUT):
        async with rooms_locked(database_dsn) as unlock, trio.open_nursery() as nursery:
            with trio.CancelScope() as appending:
                nursery.start_soon(_cancel_when, appending, lambda: _waiting_for_locks(
                    database_dsn, 1))
                await storage.append_messages([send])
            assert appending.cancelled_caught
            assert await _waiting_for_locks(database_dsn, 1)  # the backend waits on

            found: list[list[Message | None]] = []

            async def look_up() -> None:
                found.append(await storage.messages_by_nonce([(ann.id, "n1")]))

            async def waiting_or_done() -> bool:
                return bool(found) or await _statements_seen(database_dsn, _SQL_LOST_BUSY)

            nursery.start_soon(look_up)
            await _until_async(waiting_or_done)
            assert found == []  # it waits, the lost backend still being in its statement
            unlock()
            await until(lambda: bool(found))
    [[message]] = found
    assert message is not None and message.text == "hi"
    assert [message] == await storage.messages_range("lobby", after=0, upto=1)


async def test_a_look_up_with_nothing_lost_waits_for_nothing(storage: Storage,
                                                              database_dsn: str) -> None:
    """With no connection lost, a look-up reads at once, even while a send of another
    connection waits for a lock (it is not in doubt: its caller waits for it)."""
    ann = await storage.create_user("ann", "hash")
    await storage.join_room(ann.id, "lobby")
    with trio.fail_after(TIMEOUT):
        async with rooms_locked(database_dsn), trio.open_nursery() as nursery:
            nursery.start_soon(storage.append_messages, [NewMessage(
                user_id=ann.id, room="lobby", text="hi", nonce="n1")])
            await _until_async(lambda: _waiting_for_locks(database_dsn, 1))
            assert await storage.messages_by_nonce([(ann.id, "n1")]) == [None]
            nursery.cancel_scope.cancel()


async def _cancel_when(scope: trio.CancelScope, condition: Callable[[], Any]) -> None:
    await _until_async(condition)
    scope.cancel()


async def _until_async(condition: Callable[[], Any]) -> None:
    """Return once ``await condition()`` holds, polled (bound it with ``fail_after``)."""
    while not await condition():  # noqa: ASYNC110 (the database's state: nothing signals it)
        await trio.sleep(0.01)


async def _waiting_for_locks(dsn: str, count: int) -> bool:
    """Whether ``count`` backends of the database wait for a lock."""
    waiting = await fetchval_apart(dsn, "SELECT count(*) FROM pg_stat_activity WHERE "
                                   "datname = current_database() AND wait_event_type = 'Lock'")
    return bool(waiting == count)


async def _statements_seen(dsn: str, statement: str) -> bool:
    """Whether a backend of the database runs, or last ran, ``statement``."""
    return bool(await fetchval_apart(dsn, "SELECT count(*) FROM pg_stat_activity "
                                     "WHERE datname = current_database() AND query = $1",
                                statement))



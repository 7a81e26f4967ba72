"""Contract tests of the storage interface, against a real (embedded) PostgreSQL.

Rules: every test gets a fresh database (the ``storage`` / ``database_dsn`` fixtures), every
await on the database sits under ``trio.fail_after``, and tests check the documented contract
of :class:`chatd.storage.Storage`, not the SQL behind it.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import trio

from chatd.errors import ChatError
from chatd.storage import (
    Appended,
    Message,
    NewMessage,
    Page,
    Storage,
    StorageUnavailable,
    User,
    open_storage,
)
from chatd.storage.bridge import open_bridge
from chatd.storage.migrations import load_migrations
from chatd.storage.postgres import migrate
from tests.helpers import locked_table, make_config, now_ms

TIMEOUT = 20


async def make_member(storage: Storage, name: str, *rooms: str) -> User:
    user = await storage.create_user(name, "hash")
    for room in rooms:
        await storage.join_room(user.id, room)
    return user


def appended(result: Appended | ChatError) -> Appended:
    assert isinstance(result, Appended), result
    return result


def refused(result: Appended | ChatError) -> str:
    assert isinstance(result, ChatError), result
    return result.code


async def claimed_by_two(storage: Storage, other: Storage,
                         claim: Callable[[Storage], Awaitable[list[int]]]) -> list[int]:
    """What two nodes' storages claim, two tasks each at once, each task claiming again
    until a claim finds nothing: ``claim`` takes one batch through a storage and gives the
    ids it got (so that a row claimed twice shows as an id listed twice)."""
    claimed: list[int] = []

    async def drain(via: Storage) -> None:
        while got := await claim(via):
            claimed.extend(got)

    async with trio.open_nursery() as nursery:
        for via in (storage, other, storage, other):
            nursery.start_soon(drain, via)
    return claimed


def msg(user: User, room: str, text: str, nonce: str | None = None) -> NewMessage:
    return NewMessage(user_id=user.id, room=room, text=text, nonce=nonce or text)


# -- users and tokens --------------------------------------------------------------------------


async def test_ping(storage: Storage) -> None:
    """ping round-trips to a reachable database."""
    with trio.fail_after(TIMEOUT):
        await storage.ping()


async def test_create_user_and_credentials(storage: Storage) -> None:
    """A user keeps the case they registered with and is found by name in any case."""
    with trio.fail_after(TIMEOUT):
        user = await storage.create_user("Alice.B", "argon2-hash")
        assert user.name == "Alice.B"
        assert abs(user.created_at - now_ms()) < 60_000
        creds = await storage.get_credentials("aLICE.b")
        assert creds is not None
        assert creds.user == user
        assert creds.password_hash == "argon2-hash"
        assert await storage.get_credentials("bob") is None


async def test_user_name_conflict_is_case_insensitive(storage: Storage) -> None:
    """A name taken in any case is a conflict."""
    with trio.fail_after(TIMEOUT):
        await storage.create_user("alice", "h")
        with pytest.raises(ChatError) as info:
            await storage.create_user("ALICE", "h")
        assert info.value.code == "conflict"


async def test_check_token(storage: Storage) -> None:
    """A token is good until its id is revoked; other tokens of the user stay good."""
    with trio.fail_after(TIMEOUT):
        user = await storage.create_user("alice", "h")
        issued = now_ms()
        assert await storage.check_token(user.id, "jti-1", issued) == user
        assert await storage.check_token(user.id + 1, "jti-1", issued) is None
        await storage.revoke_token("jti-1", issued + 3_600_000)
        await storage.revoke_token("jti-1", issued + 3_600_000)  # twice is fine
        assert await storage.check_token(user.id, "jti-1", issued) is None
        assert await storage.check_token(user.id, "jti-2", issued) == user


async def test_open_session_reads_what_a_hello_needs_in_one_crossing(
        storage: Storage, monkeypatch: pytest.MonkeyPatch) -> None:
    """open_session is check_token and room_and_contact_names in one crossing of the
    asyncio bridge (a hello's cost at connect); None for a revoked token, as check_token."""
    with trio.fail_after(TIMEOUT):
        alice = await storage.create_user("alice", "h")
        await storage.create_user("Bob", "h")
        await storage.create_room(alice.id, "dev", private=False, topic="")
        await storage.add_contact(alice.id, "bob")
        issued = now_ms()
        bridge = storage._bridge  # type: ignore[attr-defined]
        crossings = 0
        run = bridge.run

        async def counted(fn: Any, *args: Any) -> Any:
            nonlocal crossings
            crossings += 1
            return await run(fn, *args)

        monkeypatch.setattr(bridge, "run", counted)
        start = await storage.open_session(alice.id, "jti-1", issued)
        assert crossings == 1
        monkeypatch.setattr(bridge, "run", run)
        assert start is not None and start.user == alice
        assert (start.rooms, start.contacts) == await storage.room_and_contact_names(alice.id)
        assert start.rooms == {"dev"}
        assert start.contacts == await storage.contacts(alice.id) == ["Bob"]
        await storage.revoke_token("jti-1", issued + 3_600_000)
        assert await storage.open_session(alice.id, "jti-1", issued) is None
        assert await storage.open_session(alice.id + 99, "jti-2", issued) is None


async def test_revoke_all_tokens(storage: Storage) -> None:
    """Tokens issued before a log-out-everywhere are refused, later ones accepted; other
    users are not affected."""
    with trio.fail_after(TIMEOUT):
        alice = await storage.create_user("alice", "h")
        bob = await storage.create_user("bob", "h")
        before = now_ms()
        await trio.sleep(0.005)
        await storage.revoke_all_tokens(alice.id)
        await trio.sleep(0.005)
        after = now_ms()
        assert await storage.check_token(alice.id, "old", before) is None
        assert await storage.check_token(alice.id, "new", after) == alice
        assert await storage.check_token(bob.id, "bob", before) == bob


# -- rooms -------------------------------------------------------------------------------------


async def test_create_room(storage: Storage) -> None:
    """The creator owns the room and is its first member; a taken name is a conflict."""
    with trio.fail_after(TIMEOUT):
        alice = await storage.create_user("alice", "h")
        room = await storage.create_room(alice.id, "dev", private=False, topic="Code")
        assert (room.name, room.private, room.topic, room.owner, room.last_seq) == (
            "dev",
            False,
            "Code",
            "alice",
            0,
        )
        assert await storage.user_rooms(alice.id) == [room]
        with pytest.raises(ChatError) as info:
            await storage.create_room(alice.id, "dev", private=True, topic="")
        assert info.value.code == "conflict"


async def test_join_creates_public_room(storage: Storage) -> None:
    """Joining an unknown room creates it public; joining again is not a new membership."""
    with trio.fail_after(TIMEOUT):
        alice = await storage.create_user("alice", "h")
        bob = await storage.create_user("bob", "h")
        first = await storage.join_room(alice.id, "lobby")
        assert first.newly_joined
        assert not first.room.private
        assert first.room.owner == "alice"
        again = await storage.join_room(alice.id, "lobby")
        assert not again.newly_joined
        assert again.room.id == first.room.id
        assert (await storage.join_room(bob.id, "lobby")).newly_joined
        assert [r.name for r in await storage.rooms_overview(bob.id)] == ["lobby"]
        assert [r.name for r in await storage.user_rooms(bob.id)] == ["lobby"]


async def test_concurrent_joins_create_one_room(storage: Storage) -> None:
    """Many users joining a new room at once make one room with all of them in it."""
    with trio.fail_after(TIMEOUT):
        users = [await storage.create_user(f"u{i}", "h") for i in range(8)]
        joined: list[int] = []

        async def join(user: User) -> None:
            joined.append((await storage.join_room(user.id, "party")).room.id)

        async with trio.open_nursery() as nursery:
            for user in users:
                nursery.start_soon(join, user)
        assert len(set(joined)) == 1
        for user in users:
            assert [r.name for r in await storage.user_rooms(user.id)] == ["party"]


async def test_private_room_is_forbidden_to_others(storage: Storage) -> None:
    """A private room cannot be joined by a non-member and is not listed as public; its
    members join it without error."""
    with trio.fail_after(TIMEOUT):
        alice = await storage.create_user("alice", "h")
        bob = await storage.create_user("bob", "h")
        await storage.create_room(alice.id, "secret", private=True, topic="")
        with pytest.raises(ChatError) as info:
            await storage.join_room(bob.id, "secret")
        assert info.value.code == "forbidden"
        assert await storage.user_rooms(bob.id) == []
        assert await storage.rooms_overview(bob.id) == []
        assert not (await storage.join_room(alice.id, "secret")).newly_joined


async def test_leave_room(storage: Storage) -> None:
    """Leaving ends a membership once; an unknown room is not_found."""
    with trio.fail_after(TIMEOUT):
        alice = await make_member(storage, "alice", "lobby")
        assert await storage.leave_room(alice.id, "lobby") is True
        assert await storage.leave_room(alice.id, "lobby") is False
        assert await storage.user_rooms(alice.id) == []
        with pytest.raises(ChatError) as info:
            await storage.leave_room(alice.id, "nowhere")
        assert info.value.code == "not_found"


async def test_user_rooms_sorted_with_last_seq(storage: Storage) -> None:
    """A user's rooms come by name, each with its last seq."""
    with trio.fail_after(TIMEOUT):
        alice = await make_member(storage, "alice", "zeta", "alpha")
        await storage.append_messages([msg(alice, "zeta", "a"), msg(alice, "zeta", "b")])
        rooms = await storage.user_rooms(alice.id)
        assert [(r.name, r.last_seq) for r in rooms] == [("alpha", 0), ("zeta", 2)]


# -- appending ---------------------------------------------------------------------------------


async def test_append_assigns_increasing_seqs(storage: Storage) -> None:
    """Seqs start at 1, follow batch order, continue across batches, and are per room."""
    with trio.fail_after(TIMEOUT):
        alice = await make_member(storage, "alice", "a", "b")
        first = await storage.append_messages(
            [msg(alice, "a", "1"), msg(alice, "b", "2"), msg(alice, "a", "3")]
        )
        second = await storage.append_messages([msg(alice, "a", "4")])
        got = [appended(r).message for r in first + second]
        assert [(m.room, m.seq) for m in got] == [("a", 1), ("b", 1), ("a", 2), ("a", 3)]
        assert all(not appended(r).duplicate for r in first + second)
        assert len({m.msg_id for m in got}) == 4
        assert [m.text for m in got] == ["1", "2", "3", "4"]
        assert {m.sender for m in got} == {"alice"}
        assert all(abs(m.ts - now_ms()) < 60_000 for m in got)


async def test_append_sender_is_registered_name(storage: Storage) -> None:
    """A message's sender is the name as registered, whatever case was used to log in."""
    with trio.fail_after(TIMEOUT):
        user = await make_member(storage, "MixedCase", "lobby")
        (result,) = await storage.append_messages([msg(user, "lobby", "hi")])
        assert appended(result).message.sender == "MixedCase"


async def test_append_refusals_are_per_message(storage: Storage) -> None:
    """A non-member gets forbidden and an unknown room not_found, in place, without
    affecting the other messages of the batch."""
    with trio.fail_after(TIMEOUT):
        alice = await make_member(storage, "alice", "lobby")
        bob = await make_member(storage, "bob")
        results = await storage.append_messages(
            [
                msg(alice, "lobby", "ok-1"),
                msg(bob, "lobby", "intruder"),
                msg(alice, "nowhere", "lost"),
                msg(alice, "lobby", "ok-2"),
            ]
        )
        assert refused(results[1]) == "forbidden"
        assert refused(results[2]) == "not_found"
        assert [appended(results[i]).message.seq for i in (0, 3)] == [1, 2]
        page = await storage.history(alice.id, "lobby", limit=10)
        assert [m.text for m in page.messages] == ["ok-1", "ok-2"]


async def test_append_after_leaving_is_forbidden(storage: Storage) -> None:
    """Membership is checked at append time."""
    with trio.fail_after(TIMEOUT):
        alice = await make_member(storage, "alice", "lobby")
        await storage.leave_room(alice.id, "lobby")
        (result,) = await storage.append_messages([msg(alice, "lobby", "bye")])
        assert refused(result) == "forbidden"


async def test_empty_batch(storage: Storage) -> None:
    """An empty batch stores nothing and returns nothing."""
    with trio.fail_after(TIMEOUT):
        assert await storage.append_messages([]) == []


async def test_nonce_duplicate_across_batches(storage: Storage) -> None:
    """Resending a nonce stores nothing and returns the first message, even with another
    text or room; the same nonce from another user is a different message."""
    with trio.fail_after(TIMEOUT):
        alice = await make_member(storage, "alice", "lobby", "other")
        bob = await make_member(storage, "bob", "lobby")
        (first,) = await storage.append_messages([msg(alice, "lobby", "hello", "n1")])
        (again,) = await storage.append_messages([msg(alice, "other", "changed", "n1")])
        (bobs,) = await storage.append_messages([msg(bob, "lobby", "hello", "n1")])
        assert appended(again).duplicate
        assert appended(again).message == appended(first).message
        assert not appended(bobs).duplicate
        assert appended(bobs).message.seq == 2
        assert (await storage.history(alice.id, "other", limit=10)).messages == []


async def test_nonce_duplicate_within_batch(storage: Storage) -> None:
    """Within one batch the first occurrence of a nonce is stored, later ones are its
    duplicates, and no seq is spent on them."""
    with trio.fail_after(TIMEOUT):
        alice = await make_member(storage, "alice", "lobby")
        results = await storage.append_messages(
            [
                msg(alice, "lobby", "one", "n1"),
                msg(alice, "lobby", "one again", "n1"),
                msg(alice, "lobby", "two", "n2"),
                msg(alice, "lobby", "one thrice", "n1"),
            ]
        )
        got = [appended(r) for r in results]
        assert [r.duplicate for r in got] == [False, True, False, True]
        assert got[1].message == got[0].message == got[3].message
        assert [got[0].message.seq, got[2].message.seq] == [1, 2]
        page = await storage.history(alice.id, "lobby", limit=10)
        assert (page.last_seq, [m.text for m in page.messages]) == (2, ["one", "two"])


async def test_refused_nonce_can_be_reused(storage: Storage) -> None:
    """A refused message stores nothing, so its nonce is still free, also in the same batch."""
    with trio.fail_after(TIMEOUT):
        alice = await make_member(storage, "alice", "lobby")
        results = await storage.append_messages(
            [msg(alice, "nowhere", "lost", "n1"), msg(alice, "lobby", "found", "n1")]
        )
        assert refused(results[0]) == "not_found"
        assert not appended(results[1]).duplicate


async def test_nonce_resent_within_batch_to_another_room_is_the_first_message(
        storage: Storage) -> None:
    """As across batches: once a nonce is stored, the same nonce later in the batch is that
    message again, whatever room it names (even one the sender may not write to)."""
    with trio.fail_after(TIMEOUT):
        alice = await make_member(storage, "alice", "lobby")
        await make_member(storage, "bob", "closed")
        results = await storage.append_messages([
            msg(alice, "lobby", "first", "n1"),
            msg(alice, "closed", "again", "n1"),
            msg(alice, "nowhere", "again", "n1"),
        ])
        stored = appended(results[0])
        assert not stored.duplicate
        assert [appended(r).message for r in results[1:]] == [stored.message] * 2
        assert all(appended(r).duplicate for r in results[1:])


async def test_nonce_survives_restart(tmp_path: Path, database_dsn: str) -> None:
    """A nonce stored before closing storage is still known after reopening it."""
    config = make_config(tmp_path, database_dsn)
    with trio.fail_after(TIMEOUT):
        async with open_storage(config) as storage:
            alice = await make_member(storage, "alice", "lobby")
            (first,) = await storage.append_messages([msg(alice, "lobby", "hello", "n1")])
        async with open_storage(config) as storage:
            (again,) = await storage.append_messages([msg(alice, "lobby", "hello", "n1")])
            (later,) = await storage.append_messages([msg(alice, "lobby", "more", "n2")])
        assert appended(again).duplicate
        assert appended(again).message == appended(first).message
        assert appended(later).message.seq == 2


async def test_concurrent_batches_give_gapless_seqs(storage: Storage) -> None:
    """Many tasks appending batches to one room at once get seqs 1..N, no gap and no
    duplicate, each batch's seqs in batch order, each task's batches in call order."""
    tasks, batches, size = 8, 6, 5
    with trio.fail_after(TIMEOUT):
        users = [await make_member(storage, f"u{t}", "hot") for t in range(tasks)]
        seen: dict[int, list[int]] = {t: [] for t in range(tasks)}

        async def writer(t: int) -> None:
            for b in range(batches):
                batch = [msg(users[t], "hot", f"{t}-{b}-{i}") for i in range(size)]
                results = await storage.append_messages(batch)
                seen[t].extend(appended(r).message.seq for r in results)

        async with trio.open_nursery() as nursery:
            for t in range(tasks):
                nursery.start_soon(writer, t)

        every = sorted(seq for seqs in seen.values() for seq in seqs)
        assert every == list(range(1, tasks * batches * size + 1))
        for seqs in seen.values():
            assert seqs == sorted(seqs)
        page = await storage.history(users[0].id, "hot", limit=1000)
        assert [m.seq for m in page.messages] == every
        assert page.last_seq == len(every)


async def test_two_nodes_share_one_sequence(tmp_path: Path, database_dsn: str) -> None:
    """Two storages on one database (two chatd nodes) appending to one room at once get
    one gapless sequence, and a nonce raced by both is stored once."""
    config = make_config(tmp_path, database_dsn)
    with trio.fail_after(TIMEOUT):
        async with open_storage(config) as node1, open_storage(config) as node2:
            alice = await make_member(node1, "alice", "hot")
            results: list[Appended] = []

            async def writer(node: Storage, tag: str) -> None:
                for b in range(10):
                    batch = [msg(alice, "hot", f"{tag}-{b}-{i}") for i in range(4)]
                    batch.append(msg(alice, "hot", "raced", f"race-{b}"))
                    results.extend(appended(r) for r in await node.append_messages(batch))

            async with trio.open_nursery() as nursery:
                nursery.start_soon(writer, node1, "one")
                nursery.start_soon(writer, node2, "two")

            stored = [r.message for r in results if not r.duplicate]
            assert sorted(m.seq for m in stored) == list(range(1, len(stored) + 1))
            assert len(stored) == 2 * 10 * 4 + 10
            by_nonce: dict[str, set[int]] = {}
            for r in results:
                by_nonce.setdefault(r.message.nonce, set()).add(r.message.msg_id)
            assert all(len(ids) == 1 for ids in by_nonce.values())


# -- history -----------------------------------------------------------------------------------


async def fill(storage: Storage, user: User, room: str, count: int) -> list[Message]:
    results = await storage.append_messages([msg(user, room, f"m{i}") for i in range(1, count + 1)])
    return [appended(r).message for r in results]


async def test_history_latest(storage: Storage) -> None:
    """Without bounds: the latest messages, oldest first; more tells that older ones exist."""
    with trio.fail_after(TIMEOUT):
        alice = await make_member(storage, "alice", "lobby")
        stored = await fill(storage, alice, "lobby", 7)
        page = await storage.history(alice.id, "lobby", limit=3)
        assert page.messages == stored[4:]
        assert (page.more, page.last_seq) == (True, 7)
        page = await storage.history(alice.id, "lobby", limit=7)
        assert page.messages == stored
        assert not page.more


async def test_history_before_and_after(storage: Storage) -> None:
    """before: the ones just below it; after: the ones just above it; more tells whether
    the page was cut."""
    with trio.fail_after(TIMEOUT):
        alice = await make_member(storage, "alice", "lobby")
        stored = await fill(storage, alice, "lobby", 10)

        def seqs(page: Page) -> list[int]:
            return [m.seq for m in page.messages]

        page = await storage.history(alice.id, "lobby", before=6, limit=3)
        assert (seqs(page), page.more, page.last_seq) == ([3, 4, 5], True, 10)
        page = await storage.history(alice.id, "lobby", before=3, limit=3)
        assert (seqs(page), page.more) == ([1, 2], False)
        page = await storage.history(alice.id, "lobby", after=6, limit=3)
        assert (seqs(page), page.more) == ([7, 8, 9], True)
        page = await storage.history(alice.id, "lobby", after=7, limit=3)
        assert (seqs(page), page.more) == ([8, 9, 10], False)
        page = await storage.history(alice.id, "lobby", after=10, limit=3)
        assert (seqs(page), page.more, page.last_seq) == ([], False, 10)
        page = await storage.history(alice.id, "lobby", after=2, before=9, limit=3)
        assert (seqs(page), page.more) == ([3, 4, 5], True)
        assert page.messages == stored[2:5]


async def test_history_paging_walks_everything(storage: Storage) -> None:
    """Paging back with before = the oldest seq seen visits every message exactly once."""
    with trio.fail_after(TIMEOUT):
        alice = await make_member(storage, "alice", "lobby")
        stored = await fill(storage, alice, "lobby", 23)
        walked: list[Message] = []
        page = await storage.history(alice.id, "lobby", limit=5)
        walked = page.messages + walked
        while page.more:
            page = await storage.history(alice.id, "lobby", before=walked[0].seq, limit=5)
            walked = page.messages + walked
        assert walked == stored


async def test_history_empty_room_and_zero_limit(storage: Storage) -> None:
    """An empty room has an empty page with last_seq 0; limit 0 only tells whether there is
    more."""
    with trio.fail_after(TIMEOUT):
        alice = await make_member(storage, "alice", "lobby", "empty")
        page = await storage.history(alice.id, "empty", limit=10)
        assert (page.messages, page.more, page.last_seq) == ([], False, 0)
        await fill(storage, alice, "lobby", 2)
        page = await storage.history(alice.id, "lobby", limit=0)
        assert (page.messages, page.more, page.last_seq) == ([], True, 2)


async def test_history_access(storage: Storage) -> None:
    """Public rooms are readable by anyone, private ones by members only; unknown rooms are
    not_found."""
    with trio.fail_after(TIMEOUT):
        alice = await make_member(storage, "alice", "lobby")
        bob = await storage.create_user("bob", "h")
        await storage.create_room(alice.id, "secret", private=True, topic="")
        await fill(storage, alice, "lobby", 2)
        assert len((await storage.history(bob.id, "lobby", limit=10)).messages) == 2
        assert (await storage.history(alice.id, "secret", limit=10)).messages == []
        with pytest.raises(ChatError) as info:
            await storage.history(bob.id, "secret", limit=10)
        assert info.value.code == "forbidden"
        with pytest.raises(ChatError) as info:
            await storage.history(bob.id, "nowhere", limit=10)
        assert info.value.code == "not_found"


# -- life cycle --------------------------------------------------------------------------------


async def test_migrate(tmp_path: Path, database_dsn: str) -> None:
    """migrate applies every migration once; nodes migrating together apply each once."""
    config = make_config(tmp_path, database_dsn)
    with trio.fail_after(TIMEOUT):
        applied: list[list[int]] = []

        async def run() -> None:
            applied.append(await migrate(config))

        async with trio.open_nursery() as nursery:
            for _ in range(3):
                nursery.start_soon(run)
        shipped = [m.version for m in load_migrations()]
        assert shipped == list(range(1, len(shipped) + 1))
        assert sorted(v for versions in applied for v in versions) == shipped
        assert await migrate(config) == []
        async with open_storage(config) as storage:
            await storage.ping()


async def test_unreachable_database(tmp_path: Path) -> None:
    """A database that cannot be reached is StorageUnavailable, with the DSN's password
    hidden."""
    dsn = f"postgresql://chatd:s3cret@/chatd?host={tmp_path / 'nothing'}"
    with trio.fail_after(TIMEOUT), pytest.raises(StorageUnavailable) as info:
        async with open_storage(make_config(tmp_path, dsn)):
            pass
    assert "s3cret" not in str(info.value)
    with trio.fail_after(TIMEOUT), pytest.raises(StorageUnavailable):
        await migrate(make_config(tmp_path, dsn))


async def test_closed_storage_is_unavailable(tmp_path: Path, database_dsn: str) -> None:
    """Using storage after it was closed is StorageUnavailable, not a hang."""
    with trio.fail_after(TIMEOUT):
        async with open_storage(make_config(tmp_path, database_dsn)) as storage:
            pass
        with pytest.raises(StorageUnavailable):
            await storage.ping()


async def test_cancelled_call_leaves_storage_usable(storage: Storage) -> None:
    """A call cancelled mid-way raises Cancelled promptly and the storage keeps working."""
    with trio.fail_after(TIMEOUT):
        alice = await make_member(storage, "alice", "lobby")
        for delay in (0, 0.0005, 0.002, 0.01):
            with trio.move_on_after(delay):
                await storage.append_messages(
                    [msg(alice, "lobby", f"x{delay}-{i}") for i in range(50)]
                )
        page = await storage.history(alice.id, "lobby", limit=1000)
        assert [m.seq for m in page.messages] == list(range(1, page.last_seq + 1))
        await storage.ping()


async def test_a_commit_past_the_statement_timeout_is_unavailable(
    tmp_path: Path, database_dsn: str,
) -> None:
    """A commit that cannot finish within [database] statement_timeout (here: it waits on a
    lock) is StorageUnavailable, never reported stored, and the server ends it too; resent
    with the same nonce once the database can, it is stored once.

    (The client's timeout may fire a moment before the server's: a lock released in that
    moment would let the statement commit after all, and the resend would then be its
    duplicate. The lock is held until the server has ended the statement.)"""
    config = make_config(tmp_path, database_dsn, database={"statement_timeout": 0.2})
    with trio.fail_after(TIMEOUT):
        async with open_storage(config) as storage:
            alice = await make_member(storage, "alice", "lobby")
            async with locked_table(database_dsn, "messages") as lock:
                with pytest.raises(StorageUnavailable):
                    await storage.append_messages([msg(alice, "lobby", "waits", "n1")])
                await lock.nobody_waits()
            (first,) = await storage.append_messages([msg(alice, "lobby", "waits", "n1")])
            (again,) = await storage.append_messages([msg(alice, "lobby", "waits", "n1")])
            assert not appended(first).duplicate and appended(again).duplicate
            page = await storage.history(alice.id, "lobby", limit=10)
            assert [m.nonce for m in page.messages] == ["n1"]


async def test_a_cancelled_call_gives_its_connection_back(
    tmp_path: Path, database_dsn: str,
) -> None:
    """A call cancelled while the database keeps it waiting returns to its caller at once and
    does not keep its pool connection checked out (it is terminated, not waited on)."""
    config = make_config(tmp_path, database_dsn, database={"statement_timeout": 60.0})
    with trio.fail_after(TIMEOUT):
        async with open_storage(config) as storage:
            alice = await make_member(storage, "alice", "lobby")
            async with locked_table(database_dsn, "messages"):
                with trio.move_on_after(0.2) as scope:
                    await storage.append_messages([msg(alice, "lobby", "waits", "n1")])
                assert scope.cancelled_caught
                while storage.statistics().pool_in_use:  # noqa: ASYNC110 (the pool's count)
                    await trio.sleep(0.01)
            await storage.ping()


async def _append_backends(dsn: str, node: str) -> list[int]:
    """The backends of ``node`` whose last statement was an append of a lone message."""
    async with open_bridge(name="observer") as bridge:
        conn: Any = await bridge.run(asyncpg.connect, dsn)
        try:
            rows = await bridge.run(
                conn.fetch,
                "SELECT pid FROM pg_stat_activity WHERE application_name = $1 "
                "AND query LIKE '%INSERT INTO messages%' AND pid <> pg_backend_pid()", node)
            return [row["pid"] for row in rows]
        finally:
            await bridge.run(conn.close)


async def test_the_send_path_keeps_its_connection_and_replaces_a_closed_one(
    tmp_path: Path, database_dsn: str,
) -> None:
    """Appends one after another run on one connection kept out of the pool. When its
    backend is ended (a restart, an administrator), the next append is stored on another
    connection instead of failing."""
    config = make_config(tmp_path, database_dsn, database={"pool_size": 8})
    with trio.fail_after(TIMEOUT):
        async with open_storage(config) as storage:
            alice = await make_member(storage, "alice", "lobby")
            for i in range(5):
                await storage.append_messages([msg(alice, "lobby", f"m{i}")])
                await storage.ping()  # other calls between them, on pool connections
            [pid] = await _append_backends(database_dsn, storage.node)
            async with open_bridge(name="killer") as bridge:
                killer: Any = await bridge.run(asyncpg.connect, database_dsn)
                assert await bridge.run(killer.fetchval, "SELECT pg_terminate_backend($1)", pid)
                while await bridge.run(  # noqa: ASYNC110 (the server's state)
                        killer.fetchval, "SELECT count(*) FROM pg_stat_activity WHERE pid = $1",
                        pid):
                    await trio.sleep(0.01)
                await bridge.run(killer.close)
            await storage.ping()  # the loop has read the ended connection's last words
            (after,) = await storage.append_messages([msg(alice, "lobby", "after")])
            assert appended(after).message.seq == 6
            assert pid not in await _append_backends(database_dsn, storage.node)


async def test_a_pool_of_one_is_not_kept_by_the_send_path(
    tmp_path: Path, database_dsn: str,
) -> None:
    """With one connection in the pool, the send path keeps none between its appends: any
    other call after an append gets the pool's connection."""
    config = make_config(tmp_path, database_dsn, database={"pool_size": 1})
    with trio.fail_after(TIMEOUT):
        async with open_storage(config) as storage:
            alice = await make_member(storage, "alice", "lobby")
            await storage.append_messages([msg(alice, "lobby", "first")])
            await storage.ping()
            page = await storage.history(alice.id, "lobby", limit=10)
            assert [m.text for m in page.messages] == ["first"]


async def test_closing_gives_the_kept_connections_back_at_once(
    tmp_path: Path, database_dsn: str, caplog: pytest.LogCaptureFixture,
) -> None:
    """The connections the send path keeps go back to the pool when storage closes: the
    pool closes without waiting for them (nor cutting them after its timeout)."""
    config = make_config(tmp_path, database_dsn)
    with trio.fail_after(TIMEOUT):
        async with open_storage(config) as storage:
            alice = await make_member(storage, "alice", "lobby")
            await storage.append_messages([msg(alice, "lobby", "kept")])
    assert "still busy" not in caplog.text


@pytest.mark.slow
async def test_embedded_server_keeps_data(tmp_path: Path) -> None:
    """With no DSN, storage runs PostgreSQL in <data_dir>/postgres, stops it on close, and
    finds the data again when reopened."""
    config = make_config(tmp_path, "")
    cluster = tmp_path / "data" / "postgres"
    with trio.fail_after(60):
        async with open_storage(config) as storage:
            alice = await make_member(storage, "alice", "lobby")
            (first,) = await storage.append_messages([msg(alice, "lobby", "kept", "n1")])
        assert (cluster / "PG_VERSION").exists()
        assert not (cluster / "postmaster.pid").exists()  # stopped
        # A chatd killed while attached leaves its pid in pgserver's list of users; it must
        # not keep the server running after we close.
        dead = await trio.lowlevel.open_process(["true"])
        await dead.wait()
        (cluster / ".handle_pids.json").write_text(json.dumps([dead.pid]))
        async with open_storage(config) as storage:
            creds = await storage.get_credentials("alice")
            assert creds is not None and creds.user == alice
            page = await storage.history(alice.id, "lobby", limit=10)
            assert page.messages == [appended(first).message]
            (again,) = await storage.append_messages([msg(alice, "lobby", "kept", "n1")])
            assert appended(again).duplicate
        assert not (cluster / "postmaster.pid").exists()


# -- group mentions ----------------------------------------------------------------------------


async def test_group_scope_counts_members_and_covers_them(storage: Storage) -> None:
    """group_scope: the room's members, whether the asker moderates it, and the members the
    group covers, the asker aside (all of them, or those named as online, any case)."""
    ann = await make_member(storage, "ann", "team")  # the owner: joined first
    bob = await make_member(storage, "Bob", "team")
    cid = await make_member(storage, "cid", "team")
    scope = await storage.group_scope("team", bob.id, online=None)
    assert scope is not None
    assert (scope.members, scope.member, scope.moderates, scope.covered) == (
        3, True, False, (ann.id, cid.id))
    scope = await storage.group_scope("team", ann.id, online=["BOB", "dan", "ann"])
    assert scope is not None
    assert (scope.members, scope.member, scope.moderates, scope.covered) == (
        3, True, True, (bob.id,))
    dan = await make_member(storage, "dan")
    scope = await storage.group_scope("team", dan.id, online=None)
    assert scope is not None and not scope.member
    assert await storage.group_scope("nowhere", ann.id, online=None) is None


async def test_a_batch_with_a_group_mention_makes_its_rows_and_only_its(storage: Storage
                                                                          ) -> None:
    """In one batch: a message covering members (and naming one of them) gives each one
    mention row, the sender none, a non-member none; the batch's other messages (a reply
    naming someone, in another room) keep their own rows only."""
    ann = await make_member(storage, "ann", "team", "other")
    bob = await make_member(storage, "bob", "team", "other")
    cid = await make_member(storage, "cid", "team")
    dan = await make_member(storage, "dan", "other")
    first = appended((await storage.append_messages([msg(ann, "other", "hello")]))[0])
    results = await storage.append_messages([
        NewMessage(user_id=ann.id, room="team", text="@all and @bob", nonce="g1",
                   mentions=("bob",), group=(ann.id, bob.id, cid.id, dan.id)),
        NewMessage(user_id=bob.id, room="other", text="@dan see", nonce="r1",
                   reply_to=first.message.msg_id, mentions=("dan",)),
    ])
    grouped, reply = appended(results[0]), appended(results[1])
    assert grouped.message.mentions == ("bob",)

    async def mentioned(user: User) -> dict[str, int]:
        return {room.name: room.mentions for room in await storage.user_rooms(user.id)}

    assert await mentioned(bob) == {"team": 1, "other": 0}
    assert await mentioned(cid) == {"team": 1}
    assert await mentioned(dan) == {"other": 1}
    assert await mentioned(ann) == {"team": 0, "other": 0}
    assert reply.message.mentions == ("dan",)


async def test_a_unique_violation_is_a_conflict(storage: Storage) -> None:
    """The shared crossing maps a unique constraint's refusal to ``conflict`` (a statement
    without ON CONFLICT racing another, say), as a foreign key's is ``not_found``; neither
    is the database being unavailable."""
    with trio.fail_after(TIMEOUT):
        alice = await storage.create_user("alice", "h")
        await storage.create_room(alice.id, "team", private=False, topic="")
        insert = "INSERT INTO rooms (name) VALUES ($1)"
        with pytest.raises(ChatError) as refused:
            await storage._run(storage._pool.execute, insert, "team")  # type: ignore[attr-defined]
    assert refused.value.code == "conflict"

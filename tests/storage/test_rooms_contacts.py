"""Contract tests of conversations, membership management, read markers and contacts.

Same rules as ``test_postgres.py``: a fresh database per test (the ``storage`` fixture), every
await on the database under ``trio.fail_after``, and only the documented contract of
:class:`chatd.storage.Storage` is checked.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import pytest
import trio

from chatd.errors import ChatError
from chatd.storage import (
    UNREAD_CAP,
    Appended,
    Conversation,
    NewChange,
    NewMessage,
    Storage,
    User,
)
from chatd.storage.bridge import AsyncioBridge, open_bridge

TIMEOUT = 20


async def refusal(call: Awaitable[object]) -> str:
    """The code of the ChatError ``call`` raises (failing the test if it raises none)."""
    with pytest.raises(ChatError) as info:
        await call
    return info.value.code


async def committed_while_waiting(bridge: AsyncioBridge, rival: Any,
                                  call: Callable[[], Awaitable[Conversation]]
                                  ) -> Conversation:
    """What ``call`` returns when ``rival`` (a connection run by ``bridge``, in a transaction
    that made what ``call`` looks for) commits only once the call is blocked on it."""
    results: list[Conversation] = []

    async def start() -> None:
        results.append(await call())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(start)
        # The database's state, not ours: polling is the only way to see it.
        while not await bridge.run(  # noqa: ASYNC110
            rival.fetchval,
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'",
        ):
            await trio.sleep(0.01)
        await bridge.run(rival.execute, "COMMIT")
    [result] = results
    return result


async def post(storage: Storage, user: User, room: str, *texts: str) -> list[int]:
    """Store messages by ``user`` in ``room``; their seqs."""
    results = await storage.append_messages(
        [
            NewMessage(user_id=user.id, room=room, text=text, nonce=f"{room}/{text}")
            for text in texts
        ]
    )
    seqs = []
    for result in results:
        assert isinstance(result, Appended), result
        seqs.append(result.message.seq)
    return seqs


async def users(storage: Storage, *names: str) -> list[User]:
    return [await storage.create_user(name, "hash") for name in names]


async def members(storage: Storage, user_id: int, room: str) -> list[str]:
    """The names of the room's members, as ``member_page`` lists them."""
    return [member.name for member in (await storage.member_page(user_id, room)).members]


async def kick(storage: Storage, user_id: int, room: str, target: str) -> tuple[str, bool]:
    """A kick (an entry of the room's log): the target as registered, and whether they
    were a member. Raises the refusal."""
    [outcome] = await storage.append_messages([NewChange(
        user_id=user_id, room=room, msg_id=0, kind="kicked", target=target)])
    if isinstance(outcome, ChatError):
        raise outcome
    return outcome.message.target, outcome.removed


# -- conversations -----------------------------------------------------------------------------


async def test_direct_room_is_created_once(storage: Storage) -> None:
    """The first call creates a private, ownerless conversation named @a:b with both users
    as members; the other side (any case) gets the same one, not created again."""
    with trio.fail_after(TIMEOUT):
        alice, bob = await users(storage, "Alice", "bob")
        first = await storage.direct_room(alice.id, "BOB")
        assert first.created
        assert first.peer == "bob"
        room = first.room
        assert (room.name, room.kind, room.private, room.owner, room.peer) == (
            "@alice:bob",
            "dm",
            True,
            None,
            "bob",
        )
        second = await storage.direct_room(bob.id, "alice")
        assert not second.created
        assert second.peer == "Alice"
        assert second.room.id == room.id
        assert second.room.peer == "Alice"
        assert await members(storage, alice.id, room.name) == ["Alice", "bob"]
        await post(storage, alice, room.name, "hi")
        await post(storage, bob, room.name, "hello")
        page = await storage.history(bob.id, room.name, limit=10)
        assert [(m.sender, m.text) for m in page.messages] == [("Alice", "hi"), ("bob", "hello")]


async def test_direct_room_concurrent_creation(storage: Storage) -> None:
    """Both users starting the conversation at once (several times over) make one room,
    reported as created exactly once, with exactly the two of them in it."""
    with trio.fail_after(TIMEOUT):
        alice, bob = await users(storage, "alice", "Bob")
        results: list[Conversation] = []

        async def start(user: User, peer: str) -> None:
            results.append(await storage.direct_room(user.id, peer))

        async with trio.open_nursery() as nursery:
            for _ in range(4):
                nursery.start_soon(start, alice, "bob")
                nursery.start_soon(start, bob, "ALICE")
        assert len(results) == 8
        assert len({c.room.id for c in results}) == 1
        assert sum(c.created for c in results) == 1
        assert {c.peer for c in results} == {"alice", "Bob"}
        assert await members(storage, alice.id, "@alice:bob") == ["alice", "Bob"]


async def test_direct_room_loses_the_creation_race(storage: Storage, database_dsn: str) -> None:
    """When another session creates the conversation after this call looked for it (and
    commits while this call waits on it), the call returns that session's room as not
    created."""
    with trio.fail_after(TIMEOUT):
        alice, bob = await users(storage, "alice", "bob")
        async with open_bridge(name="rival") as bridge:
            rival: Any = await bridge.run(asyncpg.connect, database_dsn)
            try:
                await bridge.run(rival.execute, "BEGIN")
                room_id = await bridge.run(
                    rival.fetchval,
                    "INSERT INTO rooms (name, kind, private) VALUES ('@alice:bob', 'dm', true)"
                    " RETURNING id",
                )
                await bridge.run(
                    rival.execute,
                    "INSERT INTO memberships (room_id, user_id) VALUES ($1, $2), ($1, $3)",
                    room_id,
                    alice.id,
                    bob.id,
                )
                conversation = await committed_while_waiting(
                    bridge, rival, lambda: storage.direct_room(alice.id, "bob"))
            finally:
                await bridge.run(rival.close)
        assert not conversation.created
        assert conversation.room.id == room_id
        assert (conversation.peer, conversation.room.peer) == ("bob", "bob")
        assert await members(storage, bob.id, "@alice:bob") == ["alice", "bob"]


async def test_direct_room_with_oneself(storage: Storage) -> None:
    """A conversation with oneself is allowed; its peer is oneself and one is its only
    member."""
    with trio.fail_after(TIMEOUT):
        (alice,) = await users(storage, "Alice")
        notes = await storage.direct_room(alice.id, "alice")
        assert notes.created
        assert (notes.room.name, notes.peer, notes.room.peer) == ("@alice:alice", "Alice", "Alice")
        assert not (await storage.direct_room(alice.id, "ALICE")).created
        assert await members(storage, alice.id, "@alice:alice") == ["Alice"]
        [listed] = await storage.user_rooms(alice.id)
        assert (listed.kind, listed.peer) == ("dm", "Alice")


async def test_direct_room_unknown_peer(storage: Storage) -> None:
    """A conversation with nobody is not_found, and nothing is created."""
    with trio.fail_after(TIMEOUT):
        (alice,) = await users(storage, "alice")
        assert await refusal(storage.direct_room(alice.id, "ghost")) == "not_found"
        assert await storage.user_rooms(alice.id) == []


async def test_user_rooms_show_each_side_its_peer(storage: Storage) -> None:
    """user_rooms lists conversations with kind dm and the other user as peer, rooms with
    kind room and no peer, sorted by name (conversations, starting with @, first)."""
    with trio.fail_after(TIMEOUT):
        alice, bob = await users(storage, "Alice", "Bob")
        await storage.join_room(alice.id, "lobby")
        await storage.direct_room(bob.id, "alice")
        seen_by_alice = await storage.user_rooms(alice.id)
        assert [(r.name, r.kind, r.peer) for r in seen_by_alice] == [
            ("@alice:bob", "dm", "Bob"),
            ("lobby", "room", None),
        ]
        seen_by_bob = await storage.user_rooms(bob.id)
        assert [(r.name, r.kind, r.peer) for r in seen_by_bob] == [("@alice:bob", "dm", "Alice")]


async def test_join_never_creates_a_conversation(storage: Storage) -> None:
    """Joining a conversation one is not in is forbidden, joining one that does not exist
    is not_found (and creates nothing); a member's join finds it."""
    with trio.fail_after(TIMEOUT):
        alice, _bob, carol = await users(storage, "alice", "bob", "carol")
        await storage.direct_room(alice.id, "bob")
        assert await refusal(storage.join_room(carol.id, "@alice:bob")) == "forbidden"
        assert await refusal(storage.join_room(alice.id, "@alice:carol")) == "not_found"
        assert await refusal(storage.history(alice.id, "@alice:carol", limit=1)) == "not_found"
        assert [r.name for r in await storage.user_rooms(carol.id)] == []
        joined = await storage.join_room(alice.id, "@alice:bob")
        assert not joined.newly_joined
        assert (joined.room.kind, joined.room.peer) == ("dm", "bob")


async def test_conversation_cannot_be_left(storage: Storage) -> None:
    """Leaving a conversation is bad_request, and the membership stays."""
    with trio.fail_after(TIMEOUT):
        (alice,) = await users(storage, "alice")
        await users(storage, "bob")
        await storage.direct_room(alice.id, "bob")
        assert await refusal(storage.leave_room(alice.id, "@alice:bob")) == "bad_request"
        assert [r.name for r in await storage.user_rooms(alice.id)] == ["@alice:bob"]


async def test_the_overview_shows_others_neither_private_rooms_nor_conversations(
    storage: Storage,
) -> None:
    """A user's overview holds, of others' rooms, the public ones only, each of kind room."""
    with trio.fail_after(TIMEOUT):
        (alice,) = await users(storage, "alice")
        await users(storage, "bob")
        (cy,) = await users(storage, "cy")
        await storage.join_room(alice.id, "lobby")
        await storage.create_room(alice.id, "secret", private=True, topic="")
        await storage.direct_room(alice.id, "bob")
        overview = await storage.rooms_overview(cy.id)
        assert [(r.name, r.kind) for r in overview] == [("lobby", "room")]


# -- what a non-member may not do --------------------------------------------------------------


@pytest.mark.parametrize("room", ["secret", "@alice:bob"])
async def test_non_member_is_refused_everything(storage: Storage, room: str) -> None:
    """A non-member of a private room or of a conversation may not join, post, read,
    list members, invite or mark read there."""
    with trio.fail_after(TIMEOUT):
        alice, _bob, mallory = await users(storage, "alice", "bob", "mallory")
        await storage.create_room(alice.id, "secret", private=True, topic="")
        await storage.direct_room(alice.id, "bob")
        await post(storage, alice, room, "private words")
        assert await refusal(storage.join_room(mallory.id, room)) == "forbidden"
        [result] = await storage.append_messages(
            [NewMessage(user_id=mallory.id, room=room, text="let me in", nonce="n")]
        )
        assert isinstance(result, ChatError) and result.code == "forbidden"
        assert await refusal(storage.history(mallory.id, room, limit=10)) == "forbidden"
        assert await refusal(storage.member_page(mallory.id, room)) == "forbidden"
        assert await refusal(storage.invite(mallory.id, room, "mallory")) == "forbidden"
        assert await refusal(storage.mark_read(mallory.id, room, 1)) == "forbidden"
        assert await members(storage, alice.id, room) in (["alice"], ["alice", "bob"])


async def test_unknown_room_is_not_found(storage: Storage) -> None:
    """Every room operation on a room that does not exist is not_found."""
    with trio.fail_after(TIMEOUT):
        (alice,) = await users(storage, "alice")
        await users(storage, "bob")
        calls: list[Callable[[], Awaitable[object]]] = [
            lambda: storage.member_page(alice.id, "nowhere"),
            lambda: storage.invite(alice.id, "nowhere", "bob"),
            lambda: kick(storage, alice.id, "nowhere", "bob"),
            lambda: storage.mark_read(alice.id, "nowhere", 1),
        ]
        for call in calls:
            assert await refusal(call()) == "not_found"


# -- members, invitations and kicks ------------------------------------------------------------


async def test_room_members(storage: Storage) -> None:
    """A public room's members are listed to anyone, sorted case-insensitively."""
    with trio.fail_after(TIMEOUT):
        zed, amy, bob = await users(storage, "zed", "Amy", "bob")
        for user in (zed, amy):
            await storage.join_room(user.id, "lobby")
        assert await members(storage, bob.id, "lobby") == ["Amy", "zed"]
        await storage.leave_room(zed.id, "lobby")
        await storage.leave_room(amy.id, "lobby")
        assert await members(storage, bob.id, "lobby") == []


async def test_invite(storage: Storage) -> None:
    """Any member may invite someone (any case) into a private room, who then has access;
    inviting again is not new. Unknown invitees are not_found."""
    with trio.fail_after(TIMEOUT):
        alice, bob, carol = await users(storage, "alice", "Bob", "carol")
        await storage.create_room(alice.id, "secret", private=True, topic="")
        await post(storage, alice, "secret", "welcome")
        assert await storage.invite(alice.id, "secret", "BOB") == ("Bob", True)
        assert await storage.invite(alice.id, "secret", "bob") == ("Bob", False)
        assert [r.name for r in await storage.user_rooms(bob.id)] == ["secret"]
        assert [m.text for m in (await storage.history(bob.id, "secret", limit=5)).messages] == [
            "welcome"
        ]
        assert await storage.invite(bob.id, "secret", "carol") == ("carol", True)
        assert not (await storage.join_room(carol.id, "secret")).newly_joined
        await post(storage, carol, "secret", "thanks")
        assert await members(storage, carol.id, "secret") == ["alice", "Bob", "carol"]
        assert await refusal(storage.invite(alice.id, "secret", "ghost")) == "not_found"


async def test_invite_into_public_room(storage: Storage) -> None:
    """A member of a public room may invite; a non-member may not."""
    with trio.fail_after(TIMEOUT):
        alice, bob, _carol = await users(storage, "alice", "bob", "carol")
        await storage.join_room(alice.id, "lobby")
        assert await refusal(storage.invite(bob.id, "lobby", "carol")) == "forbidden"
        assert await storage.invite(alice.id, "lobby", "bob") == ("bob", True)
        assert await members(storage, alice.id, "lobby") == ["alice", "bob"]


async def test_invite_into_conversation_is_forbidden(storage: Storage) -> None:
    """Not even a member can bring a third person into a 1:1 conversation."""
    with trio.fail_after(TIMEOUT):
        alice, _bob, _carol = await users(storage, "alice", "bob", "carol")
        await storage.direct_room(alice.id, "bob")
        assert await refusal(storage.invite(alice.id, "@alice:bob", "carol")) == "forbidden"
        assert await members(storage, alice.id, "@alice:bob") == ["alice", "bob"]


async def test_kick(storage: Storage) -> None:
    """The owner kicks a member (any case), who loses access to the private room; kicking
    again reports they were not a member."""
    with trio.fail_after(TIMEOUT):
        alice, bob = await users(storage, "alice", "Bob")
        await storage.create_room(alice.id, "secret", private=True, topic="")
        await storage.invite(alice.id, "secret", "bob")
        await post(storage, bob, "secret", "hi")
        assert await kick(storage, alice.id, "secret", "BOB") == ("Bob", True)
        assert await kick(storage, alice.id, "secret", "bob") == ("Bob", False)
        assert await refusal(storage.history(bob.id, "secret", limit=5)) == "forbidden"
        assert await refusal(storage.join_room(bob.id, "secret")) == "forbidden"
        [result] = await storage.append_messages(
            [NewMessage(user_id=bob.id, room="secret", text="still here?", nonce="n2")]
        )
        assert isinstance(result, ChatError) and result.code == "forbidden"
        assert await storage.user_rooms(bob.id) == []
        assert await members(storage, alice.id, "secret") == ["alice"]


async def test_kick_refusals(storage: Storage) -> None:
    """Only the owner kicks; the owner cannot kick themselves; nobody kicks in a
    conversation; an unknown target is not_found."""
    with trio.fail_after(TIMEOUT):
        alice, bob, _carol = await users(storage, "alice", "bob", "carol")
        await storage.create_room(alice.id, "secret", private=True, topic="")
        await storage.invite(alice.id, "secret", "bob")
        await storage.invite(alice.id, "secret", "carol")
        assert await refusal(kick(storage, bob.id, "secret", "carol")) == "forbidden"
        assert await refusal(kick(storage, bob.id, "secret", "alice")) == "forbidden"
        assert await refusal(kick(storage, alice.id, "secret", "ALICE")) == "bad_request"
        assert await refusal(kick(storage, alice.id, "secret", "ghost")) == "not_found"
        await storage.direct_room(alice.id, "bob")
        assert await refusal(kick(storage, alice.id, "@alice:bob", "bob")) == "forbidden"
        assert await members(storage, alice.id, "secret") == ["alice", "bob", "carol"]
        assert await members(storage, alice.id, "@alice:bob") == ["alice", "bob"]


# -- read markers and unread counts ------------------------------------------------------------


async def test_mark_read_moves_forward_only_and_stops_at_last_seq(storage: Storage) -> None:
    """The marker never moves back and never passes the room's last seq."""
    with trio.fail_after(TIMEOUT):
        alice, bob = await users(storage, "alice", "bob")
        await storage.join_room(alice.id, "lobby")
        await storage.join_room(bob.id, "lobby")
        await post(storage, alice, "lobby", "1", "2", "3", "4", "5")
        assert (await storage.mark_read(bob.id, "lobby", 3)).seq == 3
        assert (await storage.mark_read(bob.id, "lobby", 2)).seq == 3
        assert (await storage.mark_read(bob.id, "lobby", -7)).seq == 3
        assert (await storage.mark_read(bob.id, "lobby", 100)).seq == 5
        assert (await storage.mark_read(bob.id, "lobby", 2**70)).seq == 5
        [lobby] = await storage.user_rooms(bob.id)
        assert (lobby.read_seq, lobby.unread) == (5, 0)
        [lobby] = await storage.user_rooms(alice.id)
        assert lobby.read_seq == 0  # markers are per user


async def test_mark_read_in_conversation(storage: Storage) -> None:
    """Both members of a conversation keep their own marker."""
    with trio.fail_after(TIMEOUT):
        alice, bob = await users(storage, "alice", "bob")
        room = (await storage.direct_room(alice.id, "bob")).room.name
        await post(storage, alice, room, "a", "b")
        assert (await storage.mark_read(bob.id, room, 2)).seq == 2
        assert [r.unread for r in await storage.user_rooms(bob.id)] == [0]
        assert (await storage.mark_read(alice.id, room, 1)).seq == 1


async def test_mark_read_on_public_room_needs_membership(storage: Storage) -> None:
    """A public room one is not in has no marker to move."""
    with trio.fail_after(TIMEOUT):
        alice, bob = await users(storage, "alice", "bob")
        await storage.join_room(alice.id, "lobby")
        assert await refusal(storage.mark_read(bob.id, "lobby", 0)) == "forbidden"


async def test_mark_unread_moves_back_only(storage: Storage) -> None:
    """``mark_unread`` from seq moves the marker back to seq - 1, never forward and never
    below 0, and answers the room's counts from there; ``mark_read`` still moves it forward
    only."""
    with trio.fail_after(TIMEOUT):
        alice, bob = await users(storage, "alice", "bob")
        await storage.join_room(alice.id, "lobby")
        await storage.join_room(bob.id, "lobby")
        await post(storage, alice, "lobby", "1", "2", "3", "4", "5")
        assert (await storage.mark_read(bob.id, "lobby", 5)).seq == 5
        marker = await storage.mark_unread(bob.id, "lobby", 4)
        assert (marker.seq, marker.last_seq, marker.unread, marker.mentions) == (3, 5, 2, 0)
        # From a seq after the marker nothing moves: those messages are unread already.
        assert (await storage.mark_unread(bob.id, "lobby", 5)).seq == 3
        assert (await storage.mark_unread(bob.id, "lobby", 2**70)).seq == 3
        assert (await storage.mark_read(bob.id, "lobby", 1)).seq == 3  # read stays forward-only
        [lobby] = await storage.user_rooms(bob.id)
        assert (lobby.read_seq, lobby.unread) == (3, 2)
        marker = await storage.mark_unread(bob.id, "lobby", 0)
        assert (marker.seq, marker.unread) == (0, 5)
        assert (await storage.mark_unread(bob.id, "lobby", -3)).seq == 0
        assert (await storage.mark_read(bob.id, "lobby", 4)).seq == 4
        [lobby] = await storage.user_rooms(alice.id)
        assert lobby.read_seq == 0  # markers are per user


async def test_mark_unread_needs_membership(storage: Storage) -> None:
    """No marker to move back in a room one is not in, nor in a room that does not exist."""
    with trio.fail_after(TIMEOUT):
        alice, bob = await users(storage, "alice", "bob")
        await storage.join_room(alice.id, "lobby")
        await post(storage, alice, "lobby", "1")
        assert await refusal(storage.mark_unread(bob.id, "lobby", 1)) == "forbidden"
        assert await refusal(storage.mark_unread(bob.id, "nowhere", 1)) == "not_found"
        secret = (await storage.direct_room(alice.id, "alice")).room.name
        assert await refusal(storage.mark_unread(bob.id, secret, 1)) == "forbidden"


async def test_unread_counts_others_messages_after_the_marker(storage: Storage) -> None:
    """Unread is the number of messages by others with a seq above the user's marker."""
    with trio.fail_after(TIMEOUT):
        alice, bob = await users(storage, "alice", "bob")
        await storage.join_room(alice.id, "lobby")
        await storage.join_room(bob.id, "lobby")
        await post(storage, alice, "lobby", "a1", "a2")  # seqs 1, 2
        await post(storage, bob, "lobby", "b3")  # seq 3
        await post(storage, alice, "lobby", "a4")  # seq 4

        async def unread(user: User) -> tuple[int, int]:
            [room] = await storage.user_rooms(user.id)
            return room.read_seq, room.unread

        assert await unread(alice) == (0, 1)
        assert await unread(bob) == (0, 3)
        await storage.mark_read(bob.id, "lobby", 2)
        assert await unread(bob) == (2, 1)
        await storage.mark_read(alice.id, "lobby", 3)
        assert await unread(alice) == (3, 0)
        await storage.mark_read(bob.id, "lobby", 4)
        assert await unread(bob) == (4, 0)


async def test_unread_is_capped(storage: Storage) -> None:
    """Unread counts stop at UNREAD_CAP."""
    with trio.fail_after(TIMEOUT):
        alice, bob = await users(storage, "alice", "bob")
        await storage.join_room(alice.id, "lobby")
        await storage.join_room(bob.id, "lobby")
        await post(storage, alice, "lobby", *(f"m{i}" for i in range(UNREAD_CAP + 5)))
        [lobby] = await storage.user_rooms(bob.id)
        assert (lobby.last_seq, lobby.unread) == (UNREAD_CAP + 5, UNREAD_CAP)
        await storage.mark_read(bob.id, "lobby", 6)
        [lobby] = await storage.user_rooms(bob.id)
        assert lobby.unread == UNREAD_CAP - 1  # below the cap, counted exactly


# -- overview ----------------------------------------------------------------------------------


async def test_rooms_overview(storage: Storage) -> None:
    """The overview holds every public room (member False where one is not in it) and one's
    own private rooms and conversations, not other people's, by name, with the user's view
    filled."""
    with trio.fail_after(TIMEOUT):
        alice, bob, carol = await users(storage, "alice", "Bob", "carol")
        await storage.join_room(bob.id, "lobby")
        await storage.join_room(alice.id, "dev")
        await storage.create_room(alice.id, "mine", private=True, topic="")
        await storage.create_room(bob.id, "bobs", private=True, topic="")
        await storage.direct_room(alice.id, "bob")
        await storage.direct_room(bob.id, "carol")
        await post(storage, bob, "lobby", "l1", "l2")
        await post(storage, bob, "@alice:bob", "d1")
        await post(storage, alice, "dev", "v1")
        overview = await storage.rooms_overview(alice.id)
        assert [(r.name, r.kind, r.member, r.peer, r.read_seq, r.unread) for r in overview] == [
            ("@alice:bob", "dm", True, "Bob", 0, 1),
            ("dev", "room", True, None, 0, 0),
            ("lobby", "room", False, None, 0, 0),
            ("mine", "room", True, None, 0, 0),
        ]
        lobby = overview[2]
        assert (lobby.last_seq, lobby.owner, lobby.private) == (2, "Bob", False)
        await storage.mark_read(alice.id, "@alice:bob", 1)
        assert [r.unread for r in await storage.rooms_overview(alice.id)] == [0, 0, 0, 0]
        assert [(r.name, r.member) for r in await storage.rooms_overview(carol.id)] == [
            ("@bob:carol", True),
            ("dev", False),
            ("lobby", False),
        ]


# -- contacts ----------------------------------------------------------------------------------


async def test_add_contact(storage: Storage) -> None:
    """Adding a contact takes any case, returns the registered name and is idempotent;
    contacts are per user, sorted case-insensitively."""
    with trio.fail_after(TIMEOUT):
        alice, bob, _zed, _amy = await users(storage, "alice", "Bob", "zed", "amy")
        assert await storage.contacts(alice.id) == []
        assert await storage.add_contact(alice.id, "BOB") == "Bob"
        assert await storage.add_contact(alice.id, "bob") == "Bob"
        assert await storage.add_contact(alice.id, "ZED") == "zed"
        assert await storage.add_contact(alice.id, "amy") == "amy"
        assert await storage.contacts(alice.id) == ["amy", "Bob", "zed"]
        assert await storage.contacts(bob.id) == []


async def test_add_contact_refusals(storage: Storage) -> None:
    """Oneself is bad_request, an unknown user not_found; neither is added."""
    with trio.fail_after(TIMEOUT):
        (alice,) = await users(storage, "Alice")
        assert await refusal(storage.add_contact(alice.id, "aLiCe")) == "bad_request"
        assert await refusal(storage.add_contact(alice.id, "ghost")) == "not_found"
        assert await storage.contacts(alice.id) == []


async def test_remove_contact(storage: Storage) -> None:
    """Removing takes any case and gives the registered name, or None for no contact."""
    with trio.fail_after(TIMEOUT):
        alice, bob = await users(storage, "alice", "Bob")
        await storage.add_contact(alice.id, "bob")
        await storage.add_contact(bob.id, "alice")
        assert await storage.remove_contact(alice.id, "BOB") == "Bob"
        assert await storage.remove_contact(alice.id, "bob") is None
        assert await storage.remove_contact(alice.id, "ghost") is None
        assert await storage.contacts(alice.id) == []
        assert await storage.contacts(bob.id) == ["alice"]  # one-way: bob's list is his own


# -- the overview, paged -----------------------------------------------------------------------


async def pages(storage: Storage, user: User, limit: int, *, query: str = "",
                joined: bool = False, between: Callable[[str], Awaitable[None]] | None = None,
                ) -> list[list[str]]:
    """Every page of the user's overview, ``limit`` names each (asking one more to learn that
    another follows, as the operation does); ``between(cursor)`` runs before each next page."""
    found: list[list[str]] = []
    after = ""
    while True:
        rooms = await storage.rooms_overview(user.id, query=query, after=after,
                                             limit=limit + 1, joined=joined)
        assert len(rooms) <= limit + 1
        found.append([r.name for r in rooms[:limit]])
        if len(rooms) <= limit:
            return found
        after = rooms[limit - 1].name
        if between is not None:
            await between(after)


async def test_overview_pages_are_complete_and_in_order(storage: Storage) -> None:
    """Paged at any size, the overview is the unpaged one cut in order: every room once, by
    code point (a conversation's "@" between digits and letters), none skipped, none twice."""
    with trio.fail_after(TIMEOUT):
        alice, bob = await users(storage, "alice", "bob")
        for name in ("b", "a-1", "zz", "9", "a_2", "m", "a"):
            await storage.join_room(bob.id, name)
        await storage.join_room(alice.id, "m")
        await storage.create_room(alice.id, "q", private=True, topic="")
        await storage.direct_room(alice.id, "bob")
        whole = [r.name for r in await storage.rooms_overview(alice.id)]
        assert whole == sorted(whole)
        assert whole == ["9", "@alice:bob", "a", "a-1", "a_2", "b", "m", "q", "zz"]
        for limit in (1, 2, 3, 4, 8, 9, 10):
            got = await pages(storage, alice, limit)
            assert [name for page in got for name in page] == whole, limit
            assert all(len(page) == limit for page in got[:-1])
            assert got[-1] or len(got) == 1


async def test_overview_pages_see_rooms_created_between_them(storage: Storage) -> None:
    """A room created while a client pages is listed, once, when its name is past the page the
    client has (a later page holds it), not when it is behind it; and it never makes a later
    page skip or repeat a room."""
    with trio.fail_after(TIMEOUT):
        alice, bob = await users(storage, "alice", "bob")
        first = [f"r{i:02}" for i in range(0, 40, 2)]
        for name in first:
            await storage.join_room(bob.id, name)
        ahead: list[str] = []
        behind: list[str] = []

        async def create(cursor: str) -> None:
            # one behind the cursor (on a page already read), one just past it, one at the end
            number = int(cursor[1:])
            for name in (f"r{number - 1:02}a", f"r{number:02}a", f"z{number:02}"):
                await storage.join_room(bob.id, name)
                (ahead if name > cursor else behind).append(name)

        got = [name for page in await pages(storage, alice, 3, between=create) for name in page]
        assert behind and ahead
        assert got == sorted(set(first) | set(ahead))


async def test_overview_query_and_visibility(storage: Storage) -> None:
    """``query`` keeps the names that hold it ("_" is no wildcard); other people's private
    rooms and conversations are never listed, on any page or search; ``joined`` keeps one's
    own rooms and conversations."""
    with trio.fail_after(TIMEOUT):
        alice, bob, carol = await users(storage, "alice", "bob", "carol")
        for name in ("design", "design-team", "redesign", "dev", "x_y", "xay"):
            await storage.join_room(bob.id, name)
        await storage.create_room(bob.id, "design-secret", private=True, topic="")
        await storage.direct_room(bob.id, "carol")
        await storage.direct_room(alice.id, "bob")
        await storage.join_room(alice.id, "dev")

        async def names(query: str, *, joined: bool = False, limit: int = 2) -> list[str]:
            got = await pages(storage, alice, limit, query=query, joined=joined)
            return [name for page in got for name in page]

        assert await names("design") == ["design", "design-team", "redesign"]
        assert await names("sign-") == ["design-team"]
        assert await names("x_y") == ["x_y"]
        assert await names("bob") == ["@alice:bob"]
        assert await names("carol") == []
        assert await names("secret") == []
        assert await names("nothing") == []
        assert await names("", joined=True) == ["@alice:bob", "dev"]
        assert await names("d", joined=True, limit=1) == ["dev"]
        everything = await names("", limit=1)
        assert "design-secret" not in everything and "@bob:carol" not in everything
        assert await names("", limit=100) == everything
        # Carol sees her conversation and the public rooms, not bob's private one.
        carols = [r.name for r in await storage.rooms_overview(carol.id)]
        assert "@bob:carol" in carols and "design-secret" not in carols
        assert "@alice:bob" not in carols


def _subtree(plan: str, marker: str) -> str:
    """The lines of a text plan from the node whose line holds ``marker`` to the end of its
    children (the lines indented deeper than it)."""
    lines = plan.splitlines()
    start = next(i for i, line in enumerate(lines) if marker in line)
    depth = len(lines[start]) - len(lines[start].lstrip())
    end = next((i for i in range(start + 1, len(lines))
                if len(lines[i]) - len(lines[i].lstrip()) <= depth), len(lines))
    return "\n".join(lines[start:end])


async def test_overview_public_page_walks_the_name_index(storage: Storage,
                                                          database_dsn: str) -> None:
    """With many public rooms, the public half of a page is an index walk in name order from
    the cursor, stopped by the page's limit: not a scan, nor a sort, of every public room
    (the index of migration 0005; 0002's, in the database's collation, cannot give code point
    order)."""
    from chatd.storage.postgres import _SQL_ROOMS_OVERVIEW

    with trio.fail_after(TIMEOUT):
        (alice,) = await users(storage, "alice")
        async with open_bridge(name="explain") as bridge:
            conn: Any = await bridge.run(asyncpg.connect, database_dsn)
            try:
                await bridge.run(conn.execute, """
                    INSERT INTO rooms (name) SELECT 'room-' || g FROM generate_series(1, 20000) g;
                    ANALYZE rooms; ANALYZE memberships
                """)
                plans = {}
                for query in ("", "7"):  # the whole list, and a search
                    rows = await bridge.run(conn.fetch, "EXPLAIN " + _SQL_ROOMS_OVERVIEW,
                                            alice.id, "room-5", query, 101, False)
                    plans[query] = "\n".join(row[0] for row in rows)
            finally:
                await bridge.run(conn.close)
        for plan in plans.values():
            public = _subtree(plan, '"*SELECT* 2"')  # the second half of the UNION
            assert "rooms_public_name_c_idx" in public, plan
            assert "Sort" not in public and "Seq Scan on rooms" not in public, plan

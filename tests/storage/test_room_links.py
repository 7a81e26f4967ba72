"""Contract tests of join links to one room (migration 0051), against a real (embedded)
PostgreSQL.

The rules (chatd.storage.room_links): a member makes a link to their room (not to a
conversation, not to an archived room); its maker lists and revokes theirs, those who moderate
the room every one; a join takes a use only for a new member, never past ``max_uses`` even
when many join at once, and not with an expired or a revoked link; a member already enters
with any link of the room; a banned user is refused; making, revoking and each join are in
the room's audit log; only the token's hash is stored.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import trio

from chatd.errors import ChatError
from chatd.storage import Storage, User
from chatd.storage.bridge import open_bridge
from tests.helpers import now_ms
from tests.storage.test_postgres import TIMEOUT, make_member
from tests.storage.test_rooms_contacts import refusal

HOUR = 3600 * 1000


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


@asynccontextmanager
async def raw(dsn: str) -> AsyncIterator[Callable[..., Awaitable[list[tuple[Any, ...]]]]]:
    """A function running one statement on a connection of its own, its rows as tuples."""
    async with open_bridge(name="raw") as bridge:
        conn: Any = await bridge.run(asyncpg.connect, dsn)
        try:
            async def execute(sql: str, *args: Any) -> list[tuple[Any, ...]]:
                return [tuple(r) for r in await bridge.run(conn.fetch, sql, *args)]
            yield execute
        finally:
            await bridge.run(conn.close)


async def private_room(storage: Storage, owner: str, room: str) -> User:
    user = await storage.create_user(owner, "hash")
    await storage.create_room(user.id, room, private=True, topic="the staff room")
    return user


async def test_make_list_revoke(storage: Storage) -> None:
    """A member makes links to their room; a member lists their own, the owner every one;
    a stranger, a conversation and a room that does not exist are refused; the maker or
    the owner revokes (twice is no error), a member who did not make it cannot."""
    with trio.fail_after(TIMEOUT):
        ann = await private_room(storage, "ann", "staff")
        bob = await make_member(storage, "bob")
        cid = await make_member(storage, "cid")
        await storage.invite(ann.id, "staff", "bob")
        later = now_ms() + HOUR
        by_ann = await storage.create_room_link(digest("a" * 32), ann.id, "staff",
                                                expires_at=later, max_uses=3)
        by_bob = await storage.create_room_link(digest("b" * 32), bob.id, "staff",
                                                expires_at=later, max_uses=1)
        assert (by_ann.room, by_ann.by, by_ann.uses, by_ann.max_uses, by_ann.state) == (
            "staff", "ann", 0, 3, "valid")
        assert abs(by_ann.expires_at - later) <= 1
        assert await refusal(storage.create_room_link(
            digest("c" * 32), cid.id, "staff", expires_at=later, max_uses=1)) == "forbidden"
        assert await refusal(storage.create_room_link(
            digest("c" * 32), cid.id, "nowhere", expires_at=later, max_uses=1)) == "not_found"
        await storage.direct_room(ann.id, "bob")
        assert await refusal(storage.create_room_link(
            digest("c" * 32), ann.id, "@ann:bob", expires_at=later, max_uses=1)) == "forbidden"

        listed, everyone = await storage.room_links(ann.id, "staff", limit=10)
        assert everyone and [link.id for link in listed] == [by_bob.id, by_ann.id]
        listed, everyone = await storage.room_links(bob.id, "staff", limit=10)
        assert not everyone and [link.id for link in listed] == [by_bob.id]
        listed, _ = await storage.room_links(ann.id, "staff", before=by_bob.id, limit=10)
        assert [link.id for link in listed] == [by_ann.id]

        assert await refusal(storage.revoke_room_link(by_ann.id, bob.id)) == "not_found"
        revoked = await storage.revoke_room_link(by_bob.id, ann.id)
        assert revoked.state == "revoked" and revoked.revoked_at is not None
        again = await storage.revoke_room_link(by_bob.id, bob.id)
        assert again.revoked_at == revoked.revoked_at
        assert await refusal(storage.revoke_room_link(10**9, ann.id)) == "not_found"

        actions = [e.action for e in await storage.audit_log(ann.id, room="staff", limit=50)]
        assert actions.count("create_room_link") == 2
        assert actions.count("revoke_room_link") == 1


async def test_joins_take_uses(storage: Storage, database_dsn: str) -> None:
    """A join makes a new member and takes a use; a member already takes none; past its
    uses the link is used up; an expired or revoked link and an unknown token refuse with
    the invitations' codes; a banned user is refused and takes none."""
    with trio.fail_after(TIMEOUT):
        ann = await private_room(storage, "ann", "staff")
        bob, cid, dan = [await make_member(storage, n) for n in ("bob", "cid", "dan")]
        link = await storage.create_room_link(digest("t" * 32), ann.id, "staff",
                                              expires_at=now_ms() + HOUR, max_uses=1)
        seen = await storage.look_at_room_link(digest("t" * 32), bob.id)
        assert seen is not None
        assert (seen.link.room, seen.private, seen.topic, seen.members, seen.member,
                seen.banned) == ("staff", True, "the staff room", 1, False, False)
        assert await storage.look_at_room_link(digest("u" * 32), bob.id) is None

        linked, new = await storage.join_with_link(digest("t" * 32), bob.id)
        assert new and linked.member and linked.link.uses == 1 and linked.members == 2
        assert await storage.is_member("staff", "bob")
        linked, new = await storage.join_with_link(digest("t" * 32), ann.id)
        assert not new and linked.link.uses == 1
        assert await refusal(storage.join_with_link(digest("t" * 32), cid.id)) == (
            "invitation_used_up")
        assert not await storage.is_member("staff", "cid")
        assert await refusal(storage.join_with_link(digest("u" * 32), cid.id)) == (
            "invitation_invalid")

        await storage.create_room_link(digest("e" * 32), ann.id, "staff",
                                       expires_at=now_ms() - 1000, max_uses=5)
        assert await refusal(storage.join_with_link(digest("e" * 32), cid.id)) == (
            "invitation_expired")
        other = await storage.create_room_link(digest("r" * 32), ann.id, "staff",
                                               expires_at=now_ms() + HOUR, max_uses=5)
        await storage.revoke_room_link(other.id, ann.id)
        assert await refusal(storage.join_with_link(digest("r" * 32), cid.id)) == (
            "invitation_revoked")

        open_link = await storage.create_room_link(digest("o" * 32), ann.id, "staff",
                                                   expires_at=now_ms() + HOUR, max_uses=5)
        async with raw(database_dsn) as execute:
            await execute("INSERT INTO bans (room_id, user_id, by_id) SELECT r.id, $1, $2 "
                          "FROM rooms r WHERE r.name = 'staff'", dan.id, ann.id)
        looked = await storage.look_at_room_link(digest("o" * 32), dan.id)
        assert looked is not None and looked.banned
        assert await refusal(storage.join_with_link(digest("o" * 32), dan.id)) == "forbidden"
        listed, _ = await storage.room_links(ann.id, "staff", limit=10)
        assert {link.id: link.uses for link in listed}[open_link.id] == 0
        assert link.id in {found.id for found in listed}


async def test_racing_joins_never_pass_the_uses(storage: Storage, database_dsn: str) -> None:
    """Eight people joining at once with a link of three uses: exactly three get in, the
    others are told it is used up, and the audit log has a join of each of the three."""
    with trio.fail_after(TIMEOUT):
        ann = await private_room(storage, "ann", "staff")
        people = [await make_member(storage, f"p{i}") for i in range(8)]
        await storage.create_room_link(digest("x" * 32), ann.id, "staff",
                                       expires_at=now_ms() + HOUR, max_uses=3)
        outcomes: dict[str, str] = {}

        async def join(user: User) -> None:
            try:
                await storage.join_with_link(digest("x" * 32), user.id)
                outcomes[user.name] = "in"
            except ChatError as exc:
                outcomes[user.name] = exc.code

        async with trio.open_nursery() as nursery:
            for user in people:
                nursery.start_soon(join, user)
        assert sorted(outcomes.values()) == ["in"] * 3 + ["invitation_used_up"] * 5
        for user in people:
            assert await storage.is_member("staff", user.name) == (outcomes[user.name] == "in")
        async with raw(database_dsn) as execute:
            rows = await execute("SELECT details FROM audit_log WHERE action = 'join_link'")
            uses = await execute("SELECT uses FROM room_links")
        assert len(rows) == 3 and all("link" in json.loads(r[0]) for r in rows)
        assert uses == [(3,)]


async def test_only_the_hash_is_kept(storage: Storage, database_dsn: str) -> None:
    """The token itself is nowhere in the table: only its SHA-256."""
    with trio.fail_after(TIMEOUT):
        ann = await private_room(storage, "ann", "staff")
        token = "k3J9dWq2x7Yb0Zr5Tn8Lp1Vc4Hs6Mg2A"
        await storage.create_room_link(digest(token), ann.id, "staff",
                                       expires_at=now_ms() + HOUR, max_uses=1)
        async with raw(database_dsn) as execute:
            rows = await execute("SELECT hash FROM room_links")
        assert rows == [(digest(token),)]

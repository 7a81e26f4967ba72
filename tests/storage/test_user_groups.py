"""Storage: user groups (migration 0035): the namespace shared with users (both ways, and
the race of a group and an account of one name made at once on two nodes), members, who may
change a group, limits, and the mentions a message's ``@group`` makes.

Rules: as tests/storage/test_postgres.py (a fresh database per test, every await bounded).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import trio

from chatd.errors import ChatError
from chatd.storage import NewMessage, Storage, open_storage, split_mentions
from tests.helpers import make_config
from tests.storage.test_postgres import TIMEOUT, appended, make_member
from tests.storage.test_rooms_contacts import refusal

LIMITS = {"max_groups": 500, "max_members": 1000}


async def test_one_namespace_both_ways(storage: Storage) -> None:
    """A group cannot take a user's name (any case), an account (a user, a bot) cannot take
    a group's: conflict, and nothing is made."""
    with trio.fail_after(TIMEOUT):
        ann = await storage.create_user("Ann", "h")
        assert await refusal(storage.create_user_group("ann", "", ann.id, (), **LIMITS)) \
            == "conflict"
        await storage.create_user_group("ops", "", ann.id, (), **LIMITS)
        assert await refusal(storage.create_user("OPS", "h")) == "conflict"
        assert await refusal(storage.create_bot(ann.id, "Ops", token_name="t",
                                                token_hash=b"x" * 32)) == "conflict"
        assert await refusal(storage.create_user_group("ops", "", ann.id, (), **LIMITS)) \
            == "conflict"
        assert [g.name for g in await storage.user_groups(ann.id)] == ["ops"]
        assert await storage.get_credentials("ops") is None


async def test_a_group_and_an_account_of_one_name_at_once(storage: Storage, tmp_path: Path,
                                                          database_dsn: str) -> None:
    """Forty names, each made at once as an account on one node and as a group on
    another: for each exactly one wins, and the database holds exactly that one."""
    with trio.fail_after(TIMEOUT * 3):
        ann = await storage.create_user("ann", "h")
        names = [f"n{i}" for i in range(40)]
        won: dict[str, list[str]] = {name: [] for name in names}

        async def account(via: Storage, name: str) -> None:
            try:
                await via.create_user(name.upper(), "h")
                won[name].append("user")
            except ChatError as exc:
                assert exc.code == "conflict"

        async def group(via: Storage, name: str) -> None:
            try:
                await via.create_user_group(name, "", ann.id, (), **LIMITS)
                won[name].append("group")
            except ChatError as exc:
                assert exc.code == "conflict"

        async with open_storage(make_config(tmp_path, database_dsn)) as other, \
                trio.open_nursery() as nursery:
            for index, name in enumerate(names):
                # which node makes which alternates, so that neither always starts first
                first, second = (storage, other) if index % 2 else (other, storage)
                nursery.start_soon(account, first, name)
                nursery.start_soon(group, second, name)
        groups = {g.name for g in await storage.user_groups(ann.id)}
        for name in names:
            assert len(won[name]) == 1, (name, won[name])
            is_user = await storage.get_credentials(name) is not None
            assert (won[name] == ["user"]) == is_user and (name in groups) == (not is_user)


_INSERT_USER = ("INSERT INTO users (name, password_hash) VALUES ($1, 'h') "
                "ON CONFLICT ((lower(name))) DO NOTHING RETURNING id")
_INSERT_GROUP = ("INSERT INTO user_groups (name) VALUES ($1) ON CONFLICT (name) DO NOTHING "
                 "RETURNING id")


async def _interleaved(pool: Any, first: str, second: str, name: str) -> tuple[bool, bool]:
    """(asyncio side) Two connections: the first inserts ``name`` (as ``first``, "user" or
    "group") and holds its transaction open while the second inserts it as ``second``,
    until the second is seen waiting for a lock or done; then the first commits. Whether
    each inserted a row."""
    statements = {"user": _INSERT_USER, "group": _INSERT_GROUP}
    async with pool.acquire() as one, pool.acquire() as two:
        pid = await two.fetchval("SELECT pg_backend_pid()")
        transaction = one.transaction()
        await transaction.start()
        made_first = await one.fetchval(statements[first], name) is not None
        other = asyncio.ensure_future(two.fetchval(statements[second], name))
        for _ in range(2000):  # the state, not a time: at most ~10 s as a safety net
            waiting = await one.fetchval(
                "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = $1 AND NOT granted)", pid)
            if waiting or other.done():
                break
            await asyncio.sleep(0.005)
        await transaction.commit()
        made_second = await other is not None
    return made_first, made_second


@pytest.mark.parametrize("first", ["user", "group"])
async def test_the_second_of_one_name_waits_and_loses(storage: Storage, first: str) -> None:
    """The race made exact on two connections: an account (or a group) of a name inserted
    and not yet committed; a group (an account) of the same name inserted meanwhile waits
    for it, and once it commits inserts nothing (conflict): exactly one of them exists."""
    second = "group" if first == "user" else "user"
    with trio.fail_after(TIMEOUT):
        made = await storage._run(_interleaved, storage._pool, first, second,  # type: ignore[attr-defined]
                                  "racer")
        assert made == (True, False)
        assert (await storage.get_credentials("racer") is not None) == (first == "user")
        assert (await storage.user_group("racer") is not None) == (first == "group")


async def test_members_and_who_may_change(storage: Storage) -> None:
    """Members by name in any case, listed as registered; ``you``; a member who is nobody
    makes nothing; members, the creator and administrators change a group, others are
    forbidden; a deletion removes its members."""
    with trio.fail_after(TIMEOUT):
        ann = await storage.create_user("ann", "h")
        bob = await storage.create_user("Bob", "h")
        eve = await storage.create_user("eve", "h")
        assert await refusal(storage.create_user_group("web", "", ann.id, ("bob", "zed"),
                                                       **LIMITS)) == "not_found"
        assert await storage.user_group("web") is None
        made = await storage.create_user_group("web", "Pages", ann.id, ("BOB",), **LIMITS)
        assert made.added == ("Bob",) and made.group.members == 1
        assert [(g.name, g.you) for g in await storage.user_groups(bob.id)] == [("web", True)]
        assert [(g.name, g.you) for g in await storage.user_groups(ann.id)] == \
            [("web", False)]
        assert await refusal(storage.edit_user_group(
            "web", eve.id, admin=False, description=None, add=("eve",), remove=(),
            max_members=1000)) == "forbidden"
        assert await refusal(storage.delete_user_group("web", eve.id, admin=False)) \
            == "forbidden"
        changed = await storage.edit_user_group("web", bob.id, admin=False, description=None,
                                                add=("eve", "ann"), remove=("bob",),
                                                max_members=1000)
        assert (changed.added, changed.removed, changed.group.members) == \
            (("ann", "eve"), ("Bob",), 2)
        too_many = storage.edit_user_group("web", ann.id, admin=False, description=None,
                                           add=("bob",), remove=(), max_members=2)
        assert await refusal(too_many) == "bad_request"
        found = await storage.user_group("web")
        assert found is not None and found[1] == ["ann", "eve"]
        gone = await storage.delete_user_group("web", eve.id, admin=False)
        assert gone.removed == ("ann", "eve")
        assert await storage.user_groups(ann.id) == []


async def test_the_server_limit(storage: Storage) -> None:
    """Past ``max_groups`` a creation is bad_request."""
    with trio.fail_after(TIMEOUT):
        ann = await storage.create_user("ann", "h")
        await storage.create_user_group("a1", "", ann.id, (), max_groups=1, max_members=5)
        with pytest.raises(ChatError) as info:
            await storage.create_user_group("a2", "", ann.id, (), max_groups=1,
                                            max_members=5)
        assert info.value.code == "bad_request" and "limits.user_groups" in info.value.message


async def test_mentions_of_a_group(storage: Storage) -> None:
    """``user_group_mentions`` finds the groups among the candidates and their members in the
    room, the sender and deactivated members aside; a message stored with them gets mention
    rows for those members and keeps the groups' names."""
    with trio.fail_after(TIMEOUT):
        ann = await make_member(storage, "ann", "team")
        bob = await make_member(storage, "bob", "team")
        cid = await make_member(storage, "cid", "team")
        dan = await make_member(storage, "dan", "team")
        eve = await storage.create_user("eve", "h")  # not in the room
        await storage.create_user_group("backend", "", ann.id,
                                        ("ann", "bob", "cid", "eve"), **LIMITS)
        await storage.set_deactivated("cid", True)
        groups, covered = await storage.user_group_mentions("team", ann.id,
                                                            ["backend", "nobody", "bob"])
        assert groups == ("backend",) and covered == (bob.id,)
        assert not {eve.id, dan.id, cid.id} & set(covered)
        [outcome] = await storage.append_messages([NewMessage(
            user_id=ann.id, room="team", text="@backend go", nonce="m1",
            mentions=("backend",), group=covered, user_groups=groups)])
        message = appended(outcome).message
        assert split_mentions(message.mentions) == ((), ("backend",))
        page = await storage.history(bob.id, "team", limit=10)
        assert split_mentions(page.messages[-1].mentions) == ((), ("backend",))
        for user, count in ((bob, 1), (dan, 0), (ann, 0)):
            rooms = {r.name: r.mentions for r in await storage.user_rooms(user.id)}
            assert rooms["team"] == count, user.name


async def test_chatd_user_add_refuses_a_groups_name(storage: Storage, tmp_path: Path,
                                                    database_dsn: str) -> None:
    """``chatd user add`` (the command line, a process of its own on the same database)
    cannot take a group's name, in any case: it says the name is taken and exits 1."""
    from tests.test_cli import _chatd

    with trio.fail_after(TIMEOUT):
        ann = await storage.create_user("ann", "h")
        await storage.create_user_group("ops", "", ann.id, (), **LIMITS)
    refused = await trio.to_thread.run_sync(lambda: _chatd(
        tmp_path, database_dsn, "user", "add", "Ops", "--password-stdin",
        stdin="a password\n"))
    assert refused.returncode == 1 and "taken" in refused.stderr, refused.stderr
    with trio.fail_after(TIMEOUT):
        assert await storage.get_credentials("ops") is None

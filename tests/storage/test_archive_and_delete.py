"""Contract tests of archiving and deleting rooms (migration 0015), against a real (embedded)
PostgreSQL.

Archiving: the owner or an administrator (never a conversation) makes a room read-only; it is
an entry of the log and a row of the audit log; while archived, sends, edits, reactions,
topics, joins of non-members and invitations are refused ``archived`` and store nothing;
deletions and moderation still work. Deleting: administrators only; every row of the room
goes (the files stay as deleted files for the collector), the name is free at once, the audit
log keeps the room's name; a send racing the deletion is refused, or deleted with the room.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.lowlevel

from chatd.errors import ChatError
from chatd.storage import Appended, NewChange, NewMessage, Storage, User
from tests.storage.test_moderation import change, database, one, refusal, say, snapshot, users

TIMEOUT = 30


def archive(actor: User, room: str, archived: bool = True) -> NewChange:
    return NewChange(user_id=actor.id, room=room, msg_id=0, kind="archived", on=archived)


async def _team(storage: Storage) -> tuple[User, User, User, User, User]:
    """owner ann, moderator mod, member bob, administrator root (no member), outsider cid, in
    the public room "team"."""
    ann, mod, bob, root, cid = await users(storage, "ann", "mod", "bob", "root", "cid")
    await storage.set_admin("root", True)
    await storage.create_room(ann.id, "team", private=False, topic="")
    for user in (mod, bob):
        await storage.join_room(user.id, "team")
    await one(storage, change(ann, "team", "role", "mod", "moderator"))
    return ann, mod, bob, root, cid


async def test_who_may_archive(storage: Storage, database_dsn: str) -> None:
    """Moderators, members and outsiders are refused ``forbidden`` and nothing is stored;
    the owner and an administrator archive and unarchive, each an entry and an audit row; the
    same again is unchanged (the room's last seq, nothing stored)."""
    ann, mod, bob, root, cid = await _team(storage)
    async with database(database_dsn) as raw:
        before = await snapshot(raw)
        for user in (mod, bob, cid):
            assert await refusal(storage, archive(user, "team")) == "forbidden"
        assert await snapshot(raw) == before
        done = await one(storage, archive(ann, "team"))
        assert done.message.kind == "archived" and done.message.on is True
        assert not done.duplicate
        again = await one(storage, archive(root, "team"))
        assert again.duplicate and again.message.seq == done.message.seq
        undone = await one(storage, archive(root, "team", False))
        assert not undone.duplicate and undone.message.seq == done.message.seq + 1
        actions = [r["action"] for r in await raw.fetch(
            "SELECT action FROM audit_log WHERE action LIKE '%archive' ORDER BY id")]
        assert actions == ["archive", "unarchive"]
    page = await storage.history(bob.id, "team", limit=10)
    assert [(m.kind, m.on, m.sender) for m in page.messages[-2:]] == [
        ("archived", True, "ann"), ("archived", False, "root")]


async def test_a_conversation_is_never_archived(storage: Storage) -> None:
    ann, _bob = await users(storage, "ann", "bob")
    await storage.set_admin("ann", True)
    conversation = await storage.direct_room(ann.id, "bob")
    assert await refusal(storage, archive(ann, conversation.room.name)) == "forbidden"


async def test_an_archived_room_is_read_only(storage: Storage, database_dsn: str) -> None:
    """Sends, edits, reactions, a topic, a join by a non-member and an invitation are refused
    ``archived`` and store nothing; reading, deleting a message and moderating still work;
    unarchived, everything does again."""
    ann, mod, bob, root, cid = await _team(storage)
    msg_id = await say(storage, bob, "team", "hello")
    other = await say(storage, bob, "team", "spam")
    await one(storage, archive(ann, "team"))
    assert await storage.room_archived("team")
    async with database(database_dsn) as raw:
        before = await snapshot(raw)
        for entry in (
            NewMessage(user_id=bob.id, room="team", text="no", nonce="b/no"),
            NewChange(user_id=bob.id, room="team", msg_id=msg_id, kind="edited", text="x"),
            NewChange(user_id=bob.id, room="team", msg_id=msg_id, kind="reaction",
                      emoji="👍"),
            change(ann, "team", "topic", text="closed"),
        ):
            assert await refusal(storage, entry) == "archived", entry
        for attempt in (storage.join_room(cid.id, "team"),
                        storage.invite(ann.id, "team", "cid")):
            with pytest.raises(ChatError) as refused:
                await attempt
            assert refused.value.code == "archived"
        assert await snapshot(raw) == before
    page = await storage.history(bob.id, "team", limit=10)
    assert page.messages[-1].kind == "archived"
    assert [m.name for m in (await storage.member_page(bob.id, "team")).members] == ["ann", "bob",
                                                                             "mod"]
    joined = await storage.join_room(bob.id, "team")  # a member may still open it
    assert joined.room.archived and not joined.newly_joined
    assert [r.archived for r in await storage.user_rooms(bob.id) if r.name == "team"] == [True]
    deleted = await one(storage, NewChange(user_id=mod.id, room="team", msg_id=other,
                                           kind="deleted"))
    assert deleted.message.kind == "deleted"
    assert (await one(storage, change(mod, "team", "kicked", "bob"))).removed
    await one(storage, archive(root, "team", False))
    assert not await storage.room_archived("team")
    assert (await storage.join_room(cid.id, "team")).newly_joined
    await say(storage, cid, "team", "open again")


async def _rows_of(raw: Any, room_id: int) -> dict[str, int]:
    counts = {}
    for table in ("messages", "changes", "memberships", "bans", "hooks", "mentions", "pins"):
        counts[table] = await raw.fetchval(
            f"SELECT count(*) FROM {table} WHERE room_id = $1", room_id)
    counts["reactions"] = await raw.fetchval(
        "SELECT count(*) FROM reactions x WHERE NOT EXISTS "
        "(SELECT 1 FROM messages m WHERE m.id = x.message_id)")
    return counts


async def test_deleting_a_room(storage: Storage, database_dsn: str) -> None:
    """Only an administrator deletes a room; every row of it goes (its files stay as deleted
    files, no longer of the room), its name is free at once (a new room of that name starts
    at seq 1), and the audit log names it, the earlier entries too."""
    ann, mod, bob, root, cid = await _team(storage)
    msg_id = await say(storage, bob, "team", "hello @ann")
    await one(storage, NewChange(user_id=ann.id, room="team", msg_id=msg_id, kind="reaction",
                                 emoji="👍"))
    await one(storage, NewChange(user_id=ann.id, room="team", msg_id=msg_id, kind="pinned"))
    await one(storage, change(ann, "team", "banned", "cid", "spam"))
    stored = await storage.add_file(bob.id, "team", sha256="a" * 64, size=3, name="x.txt",
                                    content_type="text/plain", quota_bytes=10**6)
    await one(storage, NewMessage(user_id=bob.id, room="team", text="", nonce="f",
                                  files=(stored.info.id,)))
    async with database(database_dsn) as raw:
        room_id = await raw.fetchval("SELECT id FROM rooms WHERE name = 'team'")
        before = await snapshot(raw)
        for user in (ann, mod, bob, cid):
            with pytest.raises(ChatError) as refused:
                await storage.delete_room(user.id, "team")
            assert refused.value.code == "forbidden"
        assert await snapshot(raw) == before
        with pytest.raises(ChatError) as refused:
            await storage.delete_room(root.id, "nothere")
        assert refused.value.code == "not_found"
        await storage.delete_room(root.id, "team")
        assert await raw.fetchval("SELECT count(*) FROM rooms WHERE id = $1", room_id) == 0
        assert set((await _rows_of(raw, room_id)).values()) == {0}
        files = await raw.fetch("SELECT room_id, message_id, deleted_at FROM files")
        assert [(f["room_id"], f["message_id"], f["deleted_at"] is not None)
                for f in files] == [(None, None, True)]
        audit = await raw.fetch("SELECT action, room_id, room_name, details FROM audit_log "
                                "ORDER BY id")
        assert [(a["action"], a["room_id"], a["room_name"]) for a in audit[-2:]] == [
            ("ban", None, "team"), ("delete_room", None, "team")]
        assert json.loads(audit[-1]["details"])["last_seq"] > 0
    entries = await storage.audit_log(root.id, limit=10)
    assert [(e.action, e.room, e.actor) for e in entries[:2]] == [
        ("delete_room", "team", "root"), ("ban", "team", "ann")]
    assert await storage.dead_file_bytes(10) == ["a" * 64]
    with pytest.raises(ChatError) as refused:
        await storage.history(ann.id, "team", limit=5)
    assert refused.value.code == "not_found"
    assert [r.name for r in await storage.user_rooms(bob.id)] == []
    again = await storage.create_room(cid.id, "team", private=False, topic="")
    assert again.last_seq == 0
    assert (await one(storage, NewMessage(user_id=cid.id, room="team", text="new",
                                          nonce="c1"))).message.seq == 1
    assert [e.room for e in await storage.audit_log(root.id, room="team", limit=10)] == []


async def test_a_conversation_is_never_deleted(storage: Storage) -> None:
    root, _bob = await users(storage, "root", "bob")
    await storage.set_admin("root", True)
    conversation = await storage.direct_room(root.id, "bob")
    with pytest.raises(ChatError) as refused:
        await storage.delete_room(root.id, conversation.room.name)
    assert refused.value.code == "bad_request"


async def test_sends_racing_a_deletion(storage: Storage, database_dsn: str) -> None:
    """Members send as fast as they can while an administrator deletes the room: each send
    is refused or stored (and then deleted with the room); none is left behind, and the
    deletion finishes."""
    ann, mod, bob, root, _cid = await _team(storage)
    for n in range(50):
        await say(storage, bob, "team", f"before {n}")
    outcomes: list[Appended | ChatError] = []
    deleted = trio.Event()
    first = trio.Event()

    async def sender(user: User) -> None:
        n = 0
        while not deleted.is_set():
            n += 1
            outcomes.extend(await storage.append_messages([
                NewMessage(user_id=user.id, room="team", text=f"{user.name} {n}.{i}",
                           nonce=f"{user.name}/{n}/{i}") for i in range(5)]))
            first.set()
            await trio.lowlevel.checkpoint()

    with trio.fail_after(TIMEOUT):
        async with trio.open_nursery() as nursery:
            for user in (ann, mod, bob):
                nursery.start_soon(sender, user)
            await first.wait()
            await storage.delete_room(root.id, "team")
            deleted.set()
    refused = {o.code for o in outcomes if isinstance(o, ChatError)}
    assert refused <= {"not_found", "forbidden"}
    assert any(isinstance(o, Appended) for o in outcomes)
    async with database(database_dsn) as raw:
        assert await raw.fetchval("SELECT count(*) FROM rooms WHERE deleted_at IS NOT NULL") == 0
        assert await raw.fetchval(
            "SELECT count(*) FROM messages m WHERE NOT EXISTS "
            "(SELECT 1 FROM rooms r WHERE r.id = m.room_id)") == 0


async def test_a_tombstone_left_by_a_crash_is_purged(storage: Storage, tmp_path: Path,
                                                     database_dsn: str) -> None:
    """A deletion that stopped after its first transaction (the room a tombstone, its rows
    still there) is finished by the next purge, in chunks."""
    from chatd.storage import postgres

    _ann, _mod, bob, root, _cid = await _team(storage)
    for n in range(30):
        await say(storage, bob, "team", f"m{n}")
    assert isinstance(storage, postgres.PostgresStorage)
    await storage._run(storage._do_delete_room, root.id, "team")
    async with database(database_dsn) as raw:
        room_id = await raw.fetchval("SELECT id FROM rooms WHERE deleted_at IS NOT NULL")
        assert await raw.fetchval("SELECT name FROM rooms WHERE id = $1", room_id) == \
            f"~{room_id}"
        assert await raw.fetchval("SELECT count(*) FROM messages WHERE room_id = $1",
                                  room_id) == 30
        with pytest.raises(ChatError):
            await storage.history(bob.id, "team", limit=5)
        old_chunk, postgres.PURGE_CHUNK = postgres.PURGE_CHUNK, 7
        try:
            assert await storage.purge_deleted_rooms() == 1
        finally:
            postgres.PURGE_CHUNK = old_chunk
        assert await raw.fetchval("SELECT count(*) FROM rooms WHERE id = $1", room_id) == 0
        assert set((await _rows_of(raw, room_id)).values()) == {0}


async def test_an_administrator_lists_any_rooms_members(storage: Storage) -> None:
    """``who`` of a private room: its members and any administrator, member or not; not
    someone else."""
    ann, _bob, root, cid = await users(storage, "ann", "bob", "root", "cid")
    await storage.set_admin("root", True)
    await storage.create_room(ann.id, "secret", private=True, topic="")
    await storage.invite(ann.id, "secret", "bob")
    page = await storage.member_page(root.id, "secret")
    assert [m.name for m in page.members] == ["ann", "bob"]
    with pytest.raises(ChatError) as refused:
        await storage.member_page(cid.id, "secret")
    assert refused.value.code == "forbidden"

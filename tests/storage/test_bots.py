"""Contract tests of bots and their tokens, incoming webhooks and rooms' outgoing webhooks
(migration 0013).

Same rules as ``test_postgres.py``: a fresh database per test (the ``storage`` fixture), every
await on the database under ``trio.fail_after``, and only the documented contract of
:class:`chatd.storage.Storage` is checked (plus, where it is the point, what the tables hold).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import trio

from chatd.config import Config
from chatd.errors import ChatError
from chatd.storage import Change, RevocationNotice, Storage, User, open_storage
from chatd.storage.bridge import open_bridge
from tests.helpers import make_config

TIMEOUT = 20


def digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


async def users(storage: Storage, *names: str) -> list[User]:
    return [await storage.create_user(name, "hash") for name in names]


@pytest.fixture
def config(tmp_path: Path, database_dsn: str) -> Config:
    return make_config(tmp_path, database_dsn)


async def sql(dsn: str, query: str) -> list[Any]:
    """Run ``query`` on its own connection (asyncpg, on a bridge of its own)."""
    async with open_bridge(name="test") as bridge:
        conn: Any = await bridge.run(asyncpg.connect, dsn)
        try:
            return list(await bridge.run(conn.fetch, query))
        finally:
            await bridge.run(conn.close)


async def test_a_bot_is_a_user_owned_by_its_maker(storage: Storage) -> None:
    """create_bot makes a user flagged bot, with its owner and first token; its name is taken
    for users and bots alike (any case); a bot cannot own a bot."""
    with trio.fail_after(TIMEOUT):
        ann, bob = await users(storage, "Ann", "bob")
        bot = await storage.create_bot(ann.id, "CI-Bot", token_name="ci", token_hash=digest("a"))
        assert bot.user.bot and bot.user.name == "CI-Bot"
        assert (bot.owner_id, bot.owner) == (ann.id, "Ann")
        assert [(t.name, t.revoked_at, t.last_used_at) for t in bot.tokens] == [
            ("ci", None, None)]
        for name in ("ci-bot", "ANN"):
            with pytest.raises(ChatError) as refused:
                await storage.create_bot(bob.id, name, token_name="x", token_hash=digest(name))
            assert refused.value.code == "conflict"
        with pytest.raises(ChatError) as refused:
            await storage.create_user("CI-BOT", "hash")
        assert refused.value.code == "conflict"
        with pytest.raises(ChatError) as refused:
            await storage.create_bot(bot.user.id, "sub", token_name="x", token_hash=digest("s"))
        assert refused.value.code == "forbidden"
        with pytest.raises(ChatError) as refused:
            await storage.create_bot(10**9, "orphan", token_name="x", token_hash=digest("o"))
        assert refused.value.code == "not_found"
        credentials = await storage.get_credentials("ci-bot")
        assert credentials is not None and credentials.user.bot
        assert not (await storage.get_credentials("ann")).user.bot  # type: ignore[union-attr]
        assert await storage.get_bot("ann") is None  # a user, not a bot
        found = await storage.get_bot("ci-bot")
        assert found is not None and found.user.id == bot.user.id


async def test_tokens_are_kept_as_hashes_and_revoked_once(storage: Storage,
                                                          database_dsn: str) -> None:
    """A token works by its hash until revoked; revoking twice revokes nothing more; the
    table holds no token, only hashes; the first use is noted."""
    with trio.fail_after(TIMEOUT):
        ann, = await users(storage, "ann")
        bot = await storage.create_bot(ann.id, "helper", token_name="one",
                                       token_hash=digest("secret-one"))
        second = await storage.add_bot_token(bot.user.id, "two", digest("secret-two"))
        found = await storage.check_bot_token(digest("secret-one"))
        assert found is not None
        user, token = found
        assert (user.name, user.bot, token.name) == ("helper", True, "one")
        assert token.last_used_at is not None
        assert await storage.check_bot_token(digest("nope")) is None

        assert await storage.revoke_bot_tokens(bot.user.id, second.id) == [second.id]
        assert await storage.revoke_bot_tokens(bot.user.id, second.id) == []
        assert await storage.check_bot_token(digest("secret-two")) is None
        assert await storage.check_bot_token(digest("secret-one")) is not None
        other, = await users(storage, "other")
        stray = await storage.create_bot(other.id, "stray", token_name="x",
                                         token_hash=digest("x"))
        # Another bot's token id revokes nothing.
        assert await storage.revoke_bot_tokens(bot.user.id, stray.tokens[0].id) == []

        listed = await storage.bots(ann.id)
        assert [b.user.name for b in listed] == ["helper"]
        assert [(t.name, t.revoked_at is not None, t.last_used_at is not None)
                for t in listed[0].tokens] == [("one", False, True), ("two", True, False)]
        assert [b.user.name for b in await storage.bots()] == ["helper", "stray"]
        assert await storage.revoke_bot_tokens(bot.user.id) == [bot.tokens[0].id]
        assert await storage.check_bot_token(digest("secret-one")) is None
        rows = await sql(database_dsn, "SELECT * FROM bot_tokens")
        held = b"".join(bytes(str(value), "utf-8") for row in rows for value in row.values())
        assert b"secret" not in held


async def test_a_revoked_bot_token_is_told_to_the_other_nodes(storage: Storage,
                                                             config: Config) -> None:
    """Revoking a token NOTIFYs the jti bot:<id> on the revocations channel, once."""
    heard: list[Change] = []
    told = trio.Event()

    def hear(notice: Change) -> None:
        heard.append(notice)
        told.set()

    with trio.fail_after(TIMEOUT):
        ann, = await users(storage, "ann")
        bot = await storage.create_bot(ann.id, "helper", token_name="one", token_hash=digest("1"))
        token_id = bot.tokens[0].id
        async with open_storage(config) as other, trio.open_nursery() as nursery:
            await nursery.start(other.follow_changes, hear)
            await storage.revoke_bot_tokens(bot.user.id, token_id)
            await storage.revoke_bot_tokens(bot.user.id, token_id)
            await told.wait()
            nursery.cancel_scope.cancel()
    assert [(n.jti, n.user) for n in heard if isinstance(n, RevocationNotice)] == [
        (f"bot:{token_id}", None)]


async def test_admins_are_read_from_the_users_flag(storage: Storage) -> None:
    """Nobody is an administrator until made one (users.admin, migration 0014); then
    is_admin says so, and no longer once revoked; an unknown user is none."""
    with trio.fail_after(TIMEOUT):
        ann, bob = await users(storage, "ann", "bob")
        assert not await storage.is_admin(ann.id)
        await storage.set_admin("ann", True)
        assert await storage.is_admin(ann.id) and not await storage.is_admin(bob.id)
        await storage.set_admin("ann", False)
        assert not await storage.is_admin(ann.id)
        assert not await storage.is_admin(10**9)


async def test_incoming_hooks_are_found_by_their_secrets_hash(storage: Storage) -> None:
    """A member adds a hook; it is found by the hash of its secret with its room and bot;
    its creator, the room's owner and admins list and delete it, nobody else."""
    with trio.fail_after(TIMEOUT):
        owner, ann, cid = await users(storage, "owner", "ann", "cid")
        await storage.create_room(owner.id, "ops", private=False, topic="")
        await storage.join_room(ann.id, "ops")
        bot = await storage.create_bot(ann.id, "alerts", token_name="x", token_hash=digest("t"))
        await storage.invite(ann.id, "ops", "alerts")
        hook = await storage.add_hook(ann.id, "ops", bot.user.id, digest("hook-secret"))
        assert (hook.room, hook.bot, hook.creator, hook.last_used_at) == (
            "ops", "alerts", "ann", None)
        target = await storage.find_hook(digest("hook-secret"))
        assert target is not None
        assert (target.id, target.room, target.bot.name, target.bot.bot) == (
            hook.id, "ops", "alerts", True)
        assert await storage.find_hook(digest("hook-secreT")) is None

        for refused_with, call in (
            ("not_found", storage.add_hook(ann.id, "nowhere", bot.user.id, digest("a"))),
            ("forbidden", storage.add_hook(cid.id, "ops", bot.user.id, digest("b"))),
        ):
            with pytest.raises(ChatError) as refused:
                await call
            assert refused.value.code == refused_with

        assert [h.id for h in await storage.hooks(ann.id, "ops")] == [hook.id]
        listed = await storage.hooks(owner.id, "ops")
        assert [h.id for h in listed] == [hook.id] and listed[0].last_used_at is not None
        assert await storage.hooks(cid.id, "ops") == []
        assert [h.id for h in await storage.hooks(cid.id, "ops", admin=True)] == [hook.id]
        with pytest.raises(ChatError) as refused:
            await storage.hooks(ann.id, "nowhere")
        assert refused.value.code == "not_found"

        with pytest.raises(ChatError) as refused:
            await storage.delete_hook(cid.id, "ops", hook.id)
        assert refused.value.code == "forbidden"
        with pytest.raises(ChatError) as refused:
            await storage.delete_hook(owner.id, "ops", hook.id + 1)
        assert refused.value.code == "not_found"
        await storage.delete_hook(owner.id, "ops", hook.id)
        assert await storage.find_hook(digest("hook-secret")) is None
        second = await storage.add_hook(ann.id, "ops", bot.user.id, digest("again"))
        await storage.delete_hook(cid.id, "ops", second.id, admin=True)
        assert await storage.hooks(owner.id, "ops") == []


async def test_a_rooms_outgoing_webhook_is_its_owners(storage: Storage) -> None:
    """Only the owner (or an admin) sets, reads and removes it; setting again replaces it;
    the lookup by rooms tells which senders are bots."""
    with trio.fail_after(TIMEOUT):
        owner, ann = await users(storage, "Owner", "ann")
        await storage.create_room(owner.id, "ops", private=False, topic="")
        await storage.join_room(ann.id, "ops")
        bot = await storage.create_bot(ann.id, "Alerts", token_name="x", token_hash=digest("t"))
        assert await storage.room_webhook(owner.id, "ops") is None
        for call in (storage.set_room_webhook(ann.id, "ops", "https://a.example/", "s" * 16),
                     storage.room_webhook(ann.id, "ops"),
                     storage.delete_room_webhook(ann.id, "ops")):
            with pytest.raises(ChatError) as refused:
                await call
            assert refused.value.code == "forbidden"
        with pytest.raises(ChatError) as refused:
            await storage.room_webhook(owner.id, "nowhere")
        assert refused.value.code == "not_found"
        conversation = await storage.direct_room(owner.id, "ann")
        with pytest.raises(ChatError) as refused:
            await storage.set_room_webhook(owner.id, conversation.room.name,
                                           "https://a.example/", "s" * 16)
        assert refused.value.code == "bad_request"

        first = await storage.set_room_webhook(owner.id, "ops", "https://a.example/1", "k" * 16)
        assert (first.url, first.secret, first.set_by) == ("https://a.example/1", "k" * 16,
                                                          "Owner")
        await storage.set_room_webhook(ann.id, "ops", "https://b.example/2", "j" * 16,
                                       admin=True)
        now = await storage.room_webhook(owner.id, "ops")
        assert now is not None and (now.url, now.set_by) == ("https://b.example/2", "ann")

        found = await storage.webhook_targets(["ops", "elsewhere"], ["ann", "Alerts", "Owner"])
        assert list(found.webhooks) == ["ops"] and found.webhooks["ops"].secret == "j" * 16
        assert found.bots == {bot.user.name}
        none = await storage.webhook_targets(["elsewhere"], ["Alerts"])
        assert none.webhooks == {} and none.bots == frozenset()

        assert await storage.delete_room_webhook(owner.id, "ops")
        assert not await storage.delete_room_webhook(owner.id, "ops")
        assert (await storage.webhook_targets(["ops"], [])).webhooks == {}

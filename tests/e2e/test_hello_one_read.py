"""End-to-end: a hello is one statement (the token's check with the welcome's rooms in full)
on any node, and the rooms are read again when something may have changed them between
that read and the connection's subscription: another node's commit, or a commit whose
notice went unheard (the listening connection lost). Two nodes on one database, real
sockets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
import pytest
import trio

from chatd.server import Server
from chatd.storage import postgres
from chatd.storage.bridge import open_bridge
from tests.client import Client, register_and_login
from tests.e2e.conftest import during_first_read, running
from tests.helpers import LIFTED_RATES, make_config, until

ROOMS = ["alpha", "beta", "gamma"]


async def _setup(a: Server) -> tuple[str, str]:
    """alice and bob in ROOMS, a message of bob's in each: their tokens."""
    alice_token = await register_and_login(a.http_port, "alice")
    bob_token = await register_and_login(a.http_port, "bob")
    alice, bob = await Client.tcp(a.tcp_port), await Client.tcp(a.tcp_port)
    await alice.hello(alice_token)
    await bob.hello(bob_token)
    for room in ROOMS:
        assert (await alice.request("join", room=room))["op"] == "ok"
        assert (await bob.request("join", room=room))["op"] == "ok"
        assert (await bob.request("send", room=room, text="hi", nonce=room))["op"] == "ok"
    await alice.aclose()
    await bob.aclose()
    return alice_token, bob_token


def _reads_after_subscribing(server: Server, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The reads of rooms a hello makes after its subscription, from now on."""
    storage, reads = server.app.storage, []
    for name in ("session_rooms", "rooms_overview"):
        original = getattr(storage, name)

        async def spy(*args: Any, _original: Any = original, _name: str = name,
                      **kwargs: Any) -> Any:
            reads.append(_name)
            return await _original(*args, **kwargs)

        monkeypatch.setattr(storage, name, spy)
    return reads


async def test_a_hello_is_one_read_on_either_of_two_nodes(
        tmp_path: Path, database_dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """With another node alive, a hello whose rooms nothing changed meanwhile reads them
    once, paged or not, on either node."""
    config = make_config(tmp_path, database_dsn, limits=LIFTED_RATES)
    async with running(config) as a, running(config) as b:
        token, _ = await _setup(a)
        for server in (a, b):
            heads = server.app.registry.heads
            await until(lambda: heads.hearing is not None)  # noqa: B023 (awaited here)
            reads = _reads_after_subscribing(server, monkeypatch)
            for limit in (None, 2):
                alice = await Client.tcp(server.tcp_port)
                welcome = await alice.hello(token, rooms_limit=limit)
                assert [r["room"] for r in welcome["rooms"]] == ROOMS[:limit]
                assert [r["unread"] for r in welcome["rooms"]] == [1] * len(ROOMS[:limit])
                await alice.aclose()
            assert reads == []
            monkeypatch.undo()


async def test_a_commit_on_the_other_node_between_the_read_and_the_subscription(
        tmp_path: Path, database_dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """bob sends on node A after alice's hello on node B has read her rooms, before it
    subscribes (and B's relay has taken its notice, nobody being in the room on B): the
    welcome counts it, and no live copy follows."""
    config = make_config(tmp_path, database_dsn, limits=LIFTED_RATES)
    async with running(config) as a, running(config) as b:
        token, bob_token = await _setup(a)
        bob = await Client.tcp(a.tcp_port)
        await bob.hello(bob_token)
        heads = b.app.registry.heads
        await until(lambda: heads.hearing is not None)
        sent: dict[str, Any] = {}

        async def meanwhile() -> None:
            sent.update(await bob.request("send", room="beta", text="between", nonce="b1"))
            with trio.fail_after(30):
                await until(lambda: heads.moved({"beta": sent["seq"] - 1}))

        during_first_read(b, monkeypatch, meanwhile)
        alice = await Client.tcp(b.tcp_port)
        welcome = await alice.hello(token)
        beta = {r["room"]: r for r in welcome["rooms"]}["beta"]
        assert (beta["last_seq"], beta["unread"]) == (sent["seq"], 2)
        after = await bob.request("send", room="beta", text="after", nonce="b2")
        assert (await alice.event("message", room="beta", text="after"))["seq"] == after["seq"]
        assert [f for f in alice.events if f.get("text") == "between"] == []
        for client in (alice, bob):
            await client.aclose()


async def test_a_commit_unheard_while_the_listener_was_lost(
        tmp_path: Path, database_dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A message stored without its notice (the trigger off, as a notice lost with the
    listening connection) after a hello's read, and the listening connection cut (and not
    made again: the retry is an hour away), before the subscription: the welcome counts it
    all the same."""
    monkeypatch.setattr(postgres, "LISTEN_RETRY_MIN", 3600.0)
    config = make_config(tmp_path, database_dsn, limits=LIFTED_RATES)
    async with running(config) as a:
        token, _ = await _setup(a)
        heads = a.app.registry.heads
        await until(lambda: heads.hearing is not None)
        stored: list[int] = []

        async def meanwhile() -> None:
            async with open_bridge(name="raw") as bridge:
                conn: Any = await bridge.run(asyncpg.connect, database_dsn)
                try:
                    await bridge.run(conn.execute, "SET session_replication_role = replica")
                    stored.append(await bridge.run(conn.fetchval, """
                        WITH r AS (UPDATE rooms SET last_seq = last_seq + 1
                                   WHERE name = 'gamma' RETURNING id, last_seq)
                        INSERT INTO messages (room_id, seq, sender_id, nonce, text)
                        SELECT r.id, r.last_seq, u.id, 'unheard', 'unheard'
                        FROM r, users u WHERE u.name = 'bob'
                        RETURNING seq"""))
                    assert await bridge.run(conn.fetchval, """
                        SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                        WHERE application_name = 'chatd-listener'""") >= 1
                finally:
                    await bridge.run(conn.close)
            with trio.fail_after(30):
                await until(lambda: heads.hearing is None)

        during_first_read(a, monkeypatch, meanwhile)
        alice = await Client.tcp(a.tcp_port)
        welcome = await alice.hello(token)
        gamma = {r["room"]: r for r in welcome["rooms"]}["gamma"]
        assert (gamma["last_seq"], gamma["unread"]) == (stored[0], 2)
        await alice.aclose()

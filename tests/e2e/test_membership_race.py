"""End-to-end: membership changes racing each other never leave a non-member subscribed.

The race of issue 12: a member pipelines ``join`` of a private room while its owner kicks
them. Each round writes both frames at once on two connections, then checks the kicked user
the way an attacker would use a stale subscription: a message sent after the kick's answer
must not reach any of their connections, and their ``typing`` must be refused. Every wait is
for a state (a reply, an event), never for time: the refused ``typing`` is checked by the
registry after every command queued before it, the message's publication included, so once
its answer is read anything the message would have put before it has been read too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from chatd.config import Config
from chatd.server import Server
from tests.client import Client, register_and_login
from tests.e2e.conftest import running
from tests.helpers import LIFTED_RATES, make_config

ROUNDS = 60
ROOM = "den"


@pytest.fixture
async def server(tmp_path: Path, database_dsn: str) -> AsyncIterator[Server]:
    # Two sends a round: this test is about membership, not the send rate limit.
    config: Config = make_config(tmp_path, database_dsn,
                                 limits=LIFTED_RATES)
    async with running(config) as server:
        yield server


async def _session(server: Server, token: str) -> Client:
    client = await Client.tcp(server.tcp_port)
    await client.hello(token)
    return client


def _texts(client: Client) -> list[Any]:
    return [f.get("text") for f in client.events if f.get("op") == "message"]


async def test_a_kick_racing_a_join_never_leaves_the_victim_subscribed(server: Server) -> None:
    owner = await _session(server, await register_and_login(server.http_port, "owner"))
    bob_token = await register_and_login(server.http_port, "bob")
    created = await owner.request("create_room", room=ROOM, private=True)
    assert created["op"] == "ok", created
    for i in range(ROUNDS):
        invited = await owner.request("invite", room=ROOM, user="bob")
        assert invited["op"] == "ok", invited
        # Fresh sessions each round (typing has a per-connection rate bucket): one to race
        # with, one that only listens, both subscribed as members now.
        bob = await _session(server, bob_token)
        listener = await _session(server, bob_token)
        sent = await owner.request("send", room=ROOM, text=f"before {i}", nonce=f"b{i}")
        assert sent["op"] == "ok", sent
        for client in (bob, listener):
            await client.event("message", room=ROOM, text=f"before {i}")

        # The race: both frames written before either answer is read, in either order.
        frames = [(bob, {"op": "join", "id": "race-join", "room": ROOM}),
                  (owner, {"op": "kick", "id": "race-kick", "room": ROOM, "user": "bob"})]
        for client, request in (frames if i % 2 else frames[::-1]):
            await client.send(request)
        kicked = await owner.reply("race-kick")
        assert kicked["op"] == "ok", kicked
        joined = await bob.reply("race-join")
        assert joined["op"] == "ok" or joined.get("code") == "forbidden", joined

        after = await owner.request("send", room=ROOM, text=f"after {i}", nonce=f"a{i}")
        assert after["op"] == "ok", after
        for client in (bob, listener):
            typing = await client.request("typing", room=ROOM)
            assert typing["op"] == "error" and typing["code"] == "forbidden", (i, typing)
            assert f"after {i}" not in _texts(client), (i, joined)
            await client.event("left", room=ROOM, user="bob")
        await bob.aclose()
        await listener.aclose()
    await owner.aclose()


async def test_a_join_after_the_kick_of_a_public_room_subscribes_again(server: Server) -> None:
    """The other side of the rule: a removal must not make a later, legitimate join lose
    its subscription (the registry drops only Joins a Leave overtook)."""
    owner = await _session(server, await register_and_login(server.http_port, "owner"))
    bob = await _session(server, await register_and_login(server.http_port, "bob"))
    assert (await owner.request("create_room", room="open"))["op"] == "ok"
    for i in range(4):  # typing's per-connection burst is 5
        assert (await bob.request("join", room="open"))["op"] == "ok"
        assert (await owner.request("kick", room="open", user="bob"))["op"] == "ok"
        assert (await bob.request("join", room="open"))["op"] == "ok"
        await owner.request("send", room="open", text=f"hi {i}", nonce=f"h{i}")
        await bob.event("message", room="open", text=f"hi {i}")
        assert (await bob.request("typing", room="open"))["op"] == "ok"
        assert (await owner.request("kick", room="open", user="bob"))["op"] == "ok"
    await owner.aclose()
    await bob.aclose()


async def test_storage_says_who_is_a_member(server: Server) -> None:
    """``is_member``, the re-check of an overtaken subscription, by names in any case."""
    owner = await _session(server, await register_and_login(server.http_port, "Owner"))
    await owner.request("create_room", room="club", private=True)
    storage = server.app.storage
    assert await storage.is_member("club", "owner")
    assert await storage.is_member("club", "Owner")
    assert not await storage.is_member("club", "nobody")
    assert not await storage.is_member("no-such-room", "owner")
    await owner.aclose()


async def test_a_kick_on_another_node_racing_a_join_never_leaves_the_victim_subscribed(
        tmp_path: Path, database_dsn: str) -> None:
    """The same race across two nodes: the kick is made on node B and reaches node A's
    registry through the relay (a notice), while the victim's ``join`` runs on node A."""
    # One data_dir for both: nodes share the token secret.
    config = make_config(tmp_path, database_dsn, limits=LIFTED_RATES)
    async with running(config) as a, running(config) as b:
        owner = await _session(b, await register_and_login(b.http_port, "owner"))
        bob_token = await register_and_login(a.http_port, "bob")
        # A member on node A who stays: when they have a message, node A has published it.
        watcher = await _session(a, await register_and_login(a.http_port, "watcher"))
        assert (await owner.request("create_room", room=ROOM, private=True))["op"] == "ok"
        assert (await owner.request("invite", room=ROOM, user="watcher"))["op"] == "ok"
        await watcher.event("joined", room=ROOM, user="watcher")
        for i in range(ROUNDS // 2):
            bob = await _session(a, bob_token)
            assert (await owner.request("invite", room=ROOM, user="bob"))["op"] == "ok"
            await bob.event("joined", room=ROOM, user="bob")  # node A subscribed bob

            frames = [(bob, {"op": "join", "id": "race-join", "room": ROOM}),
                      (owner, {"op": "kick", "id": "race-kick", "room": ROOM, "user": "bob"})]
            for client, request in (frames if i % 2 else frames[::-1]):
                await client.send(request)
            assert (await owner.reply("race-kick"))["op"] == "ok"
            joined = await bob.reply("race-join")
            assert joined["op"] == "ok" or joined.get("code") == "forbidden", joined
            await bob.event("left", room=ROOM, user="bob")  # node A applied the kick

            after = await owner.request("send", room=ROOM, text=f"after {i}", nonce=f"x{i}")
            assert after["op"] == "ok", after
            await watcher.event("message", room=ROOM, seq=after["seq"])
            typing = await bob.request("typing", room=ROOM)
            assert typing["op"] == "error" and typing["code"] == "forbidden", (i, typing)
            assert f"after {i}" not in _texts(bob), (i, joined)
            watcher.events.clear()
            await bob.aclose()
        await owner.aclose()
        await watcher.aclose()

"""End-to-end: ``away``, the third status (a user whose connections are all idle), over real
sockets (TCP and WebSocket) and the real database, on one node and across two; ``@here``
skips away members.

Rules: 127.0.0.1 and port 0 only; every wait is for a state, bounded (the client helper fails
after 10 s; a dead node's part by the configured bound plus a margin), never a fixed sleep.
"""

from __future__ import annotations

import signal
from pathlib import Path

import trio

from chatd.server import Server
from tests.client import Client, register_and_login
from tests.e2e.conftest import daemon_process, people, running, unread_and_mentions
from tests.e2e.test_presence_nodes import CLUSTER_ENV, WITHIN, _node
from tests.helpers import until


def _presence(client: Client, user: str) -> list[str]:
    return [e["status"] for e in client.events if e.get("op") == "presence"
            and e.get("user") == user]


async def _who(client: Client, room: str) -> tuple[dict[str, str], int]:
    reply = await client.request("who", room=room)
    return {m["user"]: m["status"] for m in reply["members"]}, reply["online"]


async def _until_status(client: Client, room: str, user: str, status: str) -> None:
    """Ask ``who`` until ``user`` has ``status`` there (another node's picture settles as
    its notices arrive: wait for the state, bounded)."""
    with trio.fail_after(10):
        while (await _who(client, room))[0].get(user) != status:
            await client.request("ping")


async def test_idle_connections_make_a_user_away(daemon: Server, nursery: trio.Nursery
                                                 ) -> None:
    """ann's one connection (WebSocket) says idle: her room mate and her watcher hear
    ``away`` once (a repeat says nothing), and who, contacts and a welcome agree; a second
    connection, active (TCP): online; the active one closes: away; the last: offline. A
    hello with ``idle`` makes her away from the start, never online."""
    tokens = {n: await register_and_login(daemon.http_port, n) for n in ("ann", "bob", "cid")}
    bob = await Client.signed_in(daemon.tcp_port, tokens["bob"])
    cid = await Client.signed_in(daemon.tcp_port, tokens["cid"])
    assert (await cid.request("add_contact", user="ann"))["status"] == "offline"
    ann = await Client.ws(daemon.http_port, nursery)
    await ann.hello(tokens["ann"])
    for client in (ann, bob):
        await client.request("join", room="lobby")
    assert await cid.event("presence", user="ann", status="online")

    assert (await ann.request("idle", idle=True))["op"] == "ok"
    assert (await ann.request("idle", idle=True))["op"] == "ok"  # a repeat: nothing
    assert await bob.event("presence", user="ann", status="away")
    assert await cid.event("presence", user="ann", status="away")
    assert await _who(bob, "lobby") == ({"ann": "away", "bob": "online"}, 1)
    assert (await cid.request("contacts"))["contacts"][0]["status"] == "away"

    phone = await Client.signed_in(daemon.tcp_port, tokens["ann"])  # active
    assert await bob.event("presence", user="ann", status="online")
    assert await _who(bob, "lobby") == ({"ann": "online", "bob": "online"}, 2)
    await phone.aclose()
    assert await bob.event("presence", user="ann", status="away")
    assert (await ann.request("idle", idle=False))["op"] == "ok"
    assert await bob.event("presence", user="ann", status="online")
    await ann.request("idle", idle=True)
    assert await bob.event("presence", user="ann", status="away")
    await ann.aclose()
    assert await bob.event("presence", user="ann", status="offline")
    assert await cid.event("presence", user="ann", status="offline")
    await bob.request("ping")
    assert _presence(bob, "ann") == []  # each change once, nothing else

    # A page opened in a background tab: away at its hello, never online.
    hidden = await Client.signed_in(daemon.tcp_port, tokens["ann"], idle=True)
    assert await bob.event("presence", user="ann", status="away")
    fresh = await Client.tcp(daemon.tcp_port)
    contacts = (await fresh.hello(tokens["cid"]))["contacts"]
    assert contacts == [{"user": "ann", "status": "away"}]
    await hidden.aclose()
    assert await bob.event("presence", user="ann", status="offline")
    await bob.request("ping")
    assert _presence(bob, "ann") == []
    for client in (bob, cid, fresh):
        await client.aclose()


async def test_idle_must_say_true_or_false(daemon: Server) -> None:
    """``idle`` without a boolean is refused (bad_request), and changes nothing."""
    token = await register_and_login(daemon.http_port, "ann")
    ann = await Client.signed_in(daemon.tcp_port, token)
    for bad in ({}, {"idle": "yes"}, {"idle": 1}):
        reply = await ann.request("idle", **bad)
        assert reply["op"] == "error", reply
    assert daemon.app.presence.state.status("ann") == "online"
    await ann.aclose()


async def test_here_skips_away_members(daemon: Server) -> None:
    """@here mentions the members online, not those away (connected, all idle)."""
    tokens, clients = await people(daemon, ["ann", "bob", "cid"], "team")
    await clients["cid"].request("idle", idle=True)
    await until(lambda: daemon.app.presence.state.status("cid") == "away")
    sent = await clients["ann"].request("send", room="team", text="@here deploy?",
                                        nonce="a1")
    assert (await clients["bob"].event("message", seq=sent["seq"]))["group"] == "here"
    assert await unread_and_mentions(daemon.tcp_port, tokens["bob"], "team") == (1, 1)
    assert await unread_and_mentions(daemon.tcp_port, tokens["cid"], "team") == (1, 0)
    for client in clients.values():
        await client.aclose()


async def test_away_across_two_nodes(tmp_path: Path, database_dsn: str) -> None:
    """ann idle on a and active on b: online on both nodes; her connection on b closes:
    away for the watchers on both nodes (each announces once); active again on a: online;
    the last closes: offline everywhere."""
    config = _node(tmp_path, database_dsn)
    async with running(config) as a, running(config) as b:
        tokens = {n: await register_and_login(a.http_port, n) for n in ("ann", "bob", "cid")}
        bob = await Client.signed_in(a.tcp_port, tokens["bob"])
        cid = await Client.signed_in(b.tcp_port, tokens["cid"])
        for watcher in (bob, cid):
            await watcher.request("add_contact", user="ann")
            await watcher.request("join", room="lobby")
        ann_a = await Client.signed_in(a.tcp_port, tokens["ann"], idle=True)
        await ann_a.request("join", room="lobby")
        assert await bob.event("presence", user="ann", status="away")
        assert await cid.event("presence", user="ann", status="away")
        ann_b = await Client.signed_in(b.tcp_port, tokens["ann"])
        assert await bob.event("presence", user="ann", status="online")
        assert await cid.event("presence", user="ann", status="online")
        await _until_status(bob, "lobby", "ann", "online")
        await ann_b.aclose()
        assert await bob.event("presence", user="ann", status="away")
        assert await cid.event("presence", user="ann", status="away")
        await _until_status(cid, "lobby", "ann", "away")
        assert (await cid.request("contacts"))["contacts"] == [{"user": "ann",
                                                                 "status": "away"}]
        await ann_a.request("idle", idle=False)
        assert await cid.event("presence", user="ann", status="online")
        await ann_a.aclose()
        assert await cid.event("presence", user="ann", status="offline")
        assert await bob.event("presence", user="ann", status="online")
        assert await bob.event("presence", user="ann", status="offline")
        for watcher in (bob, cid):
            await watcher.request("ping")
            assert _presence(watcher, "ann") == []
            await watcher.aclose()


async def test_a_killed_node_takes_its_active_part(tmp_path: Path, database_dsn: str) -> None:
    """ann idle on a and active on b; b is killed (SIGKILL): once swept, she is away on a,
    never offline (her idle connection on a is still there)."""
    config = _node(tmp_path, database_dsn)
    async with running(config) as a:
        tokens = {n: await register_and_login(a.http_port, n) for n in ("ann", "bob")}
        bob = await Client.signed_in(a.tcp_port, tokens["bob"])
        await bob.request("add_contact", user="ann")
        ann_a = await Client.signed_in(a.tcp_port, tokens["ann"], idle=True)
        assert await bob.event("presence", user="ann", status="away")
        async with daemon_process(tmp_path, database_dsn, "b1", CLUSTER_ENV) as b:
            ann_b = await Client.signed_in(b.tcp_port, tokens["ann"])
            assert await bob.event("presence", user="ann", status="online")
            b.process.send_signal(signal.SIGKILL)
            assert await b.process.wait() == -signal.SIGKILL
            del ann_b
        with trio.move_on_after(WITHIN):
            while _presence(bob, "ann")[-1:] != ["away"]:
                await bob.request("ping")
        assert _presence(bob, "ann")[-1:] == ["away"], bob.events
        assert "offline" not in _presence(bob, "ann")
        assert a.app.presence.state.status("ann") == "away"
        await ann_a.aclose()
        assert await bob.event("presence", user="ann", status="offline")
        await bob.aclose()

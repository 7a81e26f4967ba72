"""End-to-end: presence, typing and ``who`` across two and three nodes on one database, and
a node that dies (SIGKILL) or stops taking its users offline everywhere.

Rules: 127.0.0.1 and port 0 only; every wait is for a state, bounded (the client helper fails
after 10 s; the dead node's users by the configured bound plus a margin), never a fixed sleep.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import trio

from chatd.config import Config
from tests.client import Client, register_and_login
from tests.e2e.conftest import daemon_process, running
from tests.helpers import LIFTED_RATES, make_config, until

#: Short in tests: a dead node's users go offline within NODE_TIMEOUT + HEARTBEAT.
HEARTBEAT = 0.5
NODE_TIMEOUT = 3.0
CLUSTER = {"heartbeat_interval": HEARTBEAT, "node_timeout": NODE_TIMEOUT}
CLUSTER_ENV = {"CHATD_CLUSTER_HEARTBEAT_INTERVAL": str(HEARTBEAT),
               "CHATD_CLUSTER_NODE_TIMEOUT": str(NODE_TIMEOUT)}
#: The bound, plus a margin for a busy machine (a deadline on the state, not a measure).
WITHIN = NODE_TIMEOUT + 2 * HEARTBEAT + 10.0


def _node(tmp_path: Path, dsn: str) -> Config:
    # One data_dir for all: nodes must share the token secret (data_dir/jwt_secret).
    return make_config(tmp_path, dsn, limits=LIFTED_RATES, cluster=CLUSTER)


async def _connect(tcp_port: int, token: str) -> Client:
    client = await Client.tcp(tcp_port)
    await client.hello(token)
    return client


async def _statuses(client: Client, room: str) -> dict[str, str]:
    """Each member's status as ``who`` says, and (as ``#online``) its count of the members
    online anywhere."""
    reply = await client.request("who", room=room)
    return {**{m["user"]: m["status"] for m in reply["members"]},
            "#online": str(reply["online"])}


async def _until_who(client: Client, room: str, expected: dict[str, str],
                     within: float = 10.0) -> None:
    """Ask ``who`` until it says ``expected`` (a node's picture of the others settles as
    their notices arrive: wait for the state, bounded)."""
    expected = {**expected, "#online": str(list(expected.values()).count("online"))}
    with trio.fail_after(within):
        while (await _statuses(client, room)) != expected:
            await client.request("ping")


def _presence(client: Client, user: str) -> list[Any]:
    return [e["status"] for e in client.events if e.get("op") == "presence"
            and e.get("user") == user]


async def test_presence_typing_and_who_across_two_nodes(tmp_path: Path,
                                                         database_dsn: str) -> None:
    """A user is online while any node holds a connection of theirs: presence events reach
    the other node's room members and watchers once per change, who agrees on both nodes,
    and typing crosses (to the other members, never back to the typer)."""
    config = _node(tmp_path, database_dsn)
    async with running(config) as a, running(config) as b:
        tokens = {n: await register_and_login(a.http_port, n) for n in ("ann", "bob", "dan")}
        ann = await _connect(a.tcp_port, tokens["ann"])
        bob = await _connect(b.tcp_port, tokens["bob"])
        await ann.request("join", room="lobby")
        await bob.request("join", room="lobby")
        await _until_who(ann, "lobby", {"ann": "online", "bob": "online"})
        await _until_who(bob, "lobby", {"ann": "online", "bob": "online"})

        # bob's last connection (on b) closes: a hears it and tells ann.
        await bob.aclose()
        assert await ann.event("presence", user="bob", status="offline")
        await _until_who(ann, "lobby", {"ann": "online", "bob": "offline"})
        bob = await _connect(b.tcp_port, tokens["bob"])
        assert await ann.event("presence", user="bob", status="online")

        # A contact in no shared room: ann watches dan on a; dan comes on b.
        assert (await ann.request("add_contact", user="dan"))["status"] == "offline"
        dan = await _connect(b.tcp_port, tokens["dan"])
        assert await ann.event("presence", user="dan", status="online")
        contacts = await ann.request("contacts")
        assert contacts["contacts"] == [{"user": "dan", "status": "online"}]

        # Typing on b reaches ann on a; bob's other connection (on a) does not get it.
        bob_on_a = await _connect(a.tcp_port, tokens["bob"])
        await bob.request("typing", room="lobby")
        assert await ann.event("typing", room="lobby", user="bob")
        await ann.request("typing", room="lobby")
        assert await bob.event("typing", room="lobby", user="ann")
        assert await bob_on_a.event("typing", room="lobby", user="ann")
        await bob_on_a.request("ping")
        assert not [e for e in bob_on_a.events if e.get("op") == "typing"
                    and e.get("user") == "bob"]

        # ann connected on both nodes: closing one announces nothing; the last, offline.
        ann_on_b = await _connect(b.tcp_port, tokens["ann"])
        await ann.aclose()
        await _until_who(bob, "lobby", {"ann": "online", "bob": "online"})
        await ann_on_b.aclose()
        assert await bob.event("presence", user="ann", status="offline")
        await _until_who(bob_on_a, "lobby", {"ann": "offline", "bob": "online"})
        assert _presence(bob, "ann") == []  # nothing but the one offline, taken above
        for client in (bob, dan, bob_on_a):
            await client.aclose()


async def test_three_nodes_agree_and_a_stopped_node_takes_its_users(tmp_path: Path,
                                                                   database_dsn: str) -> None:
    """Three nodes: who agrees on every node, typing on one reaches the other two, and a
    node that stops (drained, as on SIGTERM) leaves its users offline on the others."""
    config = _node(tmp_path, database_dsn)
    async with running(config) as a, running(config) as b:
        tokens = {n: await register_and_login(a.http_port, n) for n in ("ann", "bob", "cid")}
        ann = await _connect(a.tcp_port, tokens["ann"])
        bob = await _connect(b.tcp_port, tokens["bob"])
        for client in (ann, bob):
            await client.request("join", room="trio")
        async with running(config) as c:
            cid = await _connect(c.tcp_port, tokens["cid"])
            await cid.request("join", room="trio")
            everyone = {"ann": "online", "bob": "online", "cid": "online"}
            for client in (ann, bob, cid):
                await _until_who(client, "trio", everyone)
            await cid.request("typing", room="trio")
            assert await ann.event("typing", room="trio", user="cid")
            assert await bob.event("typing", room="trio", user="cid")
        # c stopped: cid's connection was closed by it.
        assert await ann.event("presence", user="cid", status="offline")
        assert await bob.event("presence", user="cid", status="offline")
        for client in (ann, bob):
            await _until_who(client, "trio", {"ann": "online", "bob": "online",
                                              "cid": "offline"})
        await ann.aclose()
        await bob.aclose()


async def test_a_killed_node_s_users_go_offline_and_a_restart_leaves_no_ghost(
        tmp_path: Path, database_dsn: str) -> None:
    """A node killed with SIGKILL: its users go offline on the others within the bound
    ([cluster] node_timeout, short here). Restarted, it is a new node: a user who comes back
    on it is online, one who does not stays offline, and the dead node's row is gone."""
    config = _node(tmp_path, database_dsn)
    async with running(config) as a:
        tokens = {n: await register_and_login(a.http_port, n) for n in ("ann", "bob", "cid")}
        ann = await _connect(a.tcp_port, tokens["ann"])
        await ann.request("join", room="ops")
        async with daemon_process(tmp_path, database_dsn, "b1", CLUSTER_ENV) as b:
            bob = await _connect(b.tcp_port, tokens["bob"])
            cid = await _connect(b.tcp_port, tokens["cid"])
            for client in (bob, cid):
                await client.request("join", room="ops")
            await _until_who(ann, "ops", {"ann": "online", "bob": "online", "cid": "online"})
            b.process.send_signal(signal.SIGKILL)
            assert await b.process.wait() == -signal.SIGKILL
        # The last word on each (a resync may announce a change and its undoing, so an
        # "online" may come first: the relay's snapshot and a late notice).
        with trio.move_on_after(WITHIN):
            while [_presence(ann, "bob")[-1:], _presence(ann, "cid")[-1:]] != [["offline"],
                                                                               ["offline"]]:
                await ann.request("ping")
        assert [_presence(ann, "bob")[-1:], _presence(ann, "cid")[-1:]] == [
            ["offline"], ["offline"]], [e for e in ann.events if e.get("op") == "presence"]
        await _until_who(ann, "ops", {"ann": "online", "bob": "offline", "cid": "offline"})

        async with daemon_process(tmp_path, database_dsn, "b2", CLUSTER_ENV) as b2:
            bob = await _connect(b2.tcp_port, tokens["bob"])
            assert await ann.event("presence", user="bob", status="online")
            await _until_who(bob, "ops", {"ann": "online", "bob": "online",
                                          "cid": "offline"})
            await _until_who(ann, "ops", {"ann": "online", "bob": "online",
                                          "cid": "offline"})
            # The killed node's row is gone: a and b2 are all there is.
            assert (await a.app.storage.sweep_nodes(NODE_TIMEOUT)).others == 1
            await bob.aclose()
        await ann.aclose()


async def test_watchers_on_one_node_hear_of_contacts_on_another(tmp_path: Path,
                                                                 database_dsn: str) -> None:
    """ann's first connection on a reads a page of one contact; her contacts come and go on
    b, in no room of hers: each transition reaches her on a (looked up there when a hears
    of it), the contact beyond her page included. A contact she adds on a is heard from b;
    one she removes is not (cid, her contact throughout, marks where the frames are)."""
    config = _node(tmp_path, database_dsn)
    async with running(config) as a, running(config) as b:
        tokens = {n: await register_and_login(a.http_port, n)
                  for n in ("ann", "bob", "cid", "dan", "zed")}
        setup = await _connect(a.tcp_port, tokens["ann"])
        for name in ("bob", "cid", "dan"):
            assert (await setup.request("add_contact", user=name))["op"] == "ok"
        await setup.aclose()
        with trio.fail_after(10):
            await until(lambda: "ann" not in a.app.presence.state.conns)
        ann = await Client.tcp(a.tcp_port)
        welcome = await ann.hello(tokens["ann"], contacts_limit=1)
        assert welcome["contacts"] == [{"user": "bob", "status": "offline"}]

        async def comes_and_goes(name: str) -> None:
            client = await _connect(b.tcp_port, tokens[name])
            assert await ann.event("presence", user=name, status="online")
            await client.aclose()
            assert await ann.event("presence", user=name, status="offline")

        await comes_and_goes("dan")  # beyond the page
        await comes_and_goes("bob")
        added = await ann.request("add_contact", user="zed")
        assert (added["user"], added["status"]) == ("zed", "offline")
        await comes_and_goes("zed")
        assert (await ann.request("remove_contact", user="zed"))["op"] == "ok"
        await comes_and_goes("cid")
        zed = await _connect(b.tcp_port, tokens["zed"])
        await zed.aclose()
        await comes_and_goes("cid")
        assert _presence(ann, "zed") == []
        await ann.aclose()

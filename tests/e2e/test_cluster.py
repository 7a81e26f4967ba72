"""Two chatd nodes on one database: messages and memberships cross between them, and each
client still sees every room's log in order, once, with no gap."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
import trio

from chatd.auth import Auth, load_or_create_secret
from chatd.config import Config
from chatd.storage import open_storage
from chatd.storage.bridge import open_bridge
from tests.client import Client, http, register_and_login, send_at_once_and_check
from tests.e2e.conftest import running
from tests.helpers import LIFTED_RATES, make_config, until
from tests.http.test_uploads import multipart


def _node(tmp_path: Path, dsn: str) -> Config:
    # One data_dir for both: nodes must share the token secret (data_dir/jwt_secret).
    return make_config(tmp_path, dsn, limits=LIFTED_RATES)


async def _client(port_http: int, port_tcp: int, name: str) -> Client:
    client = await Client.tcp(port_tcp)
    await client.hello(await register_and_login(port_http, name))
    return client


async def test_messages_cross_nodes_in_order_without_gap(tmp_path: Path,
                                                         database_dsn: str) -> None:
    """Clients on two nodes sending at once to one room each receive seqs 1..N exactly once,
    in order, live."""
    config = _node(tmp_path, database_dsn)
    async with running(config) as a, running(config) as b:
        clients = [await _client(a.http_port, a.tcp_port, "ann"),
                   await _client(b.http_port, b.tcp_port, "bea"),
                   await _client(a.http_port, a.tcp_port, "cid"),
                   await _client(b.http_port, b.tcp_port, "dot")]
        for client in clients:
            await client.request("join", room="shared")
        await send_at_once_and_check(clients, "shared", per_client=30)
        for client in clients:
            await client.aclose()


async def test_a_message_crosses_nodes_as_the_frame_a_read_gives(
        tmp_path: Path, database_dsn: str) -> None:
    """Messages committed on node A reach a member on node B as the very `message` frame B
    gives for them when read back (`history`): a plain one, a reply quoting with a mention,
    one with a file; each carried by its commit's notice, nothing read back (migration 0019).
    One too big to be carried (7,200 bytes of text) is read back, and arrives the same."""
    config = _node(tmp_path, database_dsn)
    async with running(config) as a, running(config) as b:
        ann_token = await register_and_login(a.http_port, "Ann")
        ann = await Client.tcp(a.tcp_port)
        await ann.hello(ann_token)
        bea = await _client(b.http_port, b.tcp_port, "bea")
        for client in (ann, bea):
            await client.request("join", room="lobby")
        body, headers = multipart(b"notes", filename="notes.txt")
        status, uploaded = await http(a.http_port, "POST", "/api/rooms/lobby/files",
                                      token=ann_token, raw=body, headers=headers)
        assert status == 201, uploaded

        def relayed(source: str) -> float:
            value = b.app.metrics.registry.get_sample_value(
                "chatd_relayed_entries_total", {"source": source})
            return value or 0.0

        first = await ann.request("send", room="lobby", text="plain", nonce="c1")
        sends = [first,
                 await ann.request("send", room="lobby", text="ça, @bea 👋", nonce="c2",
                                   reply_to=first["msg_id"]),
                 await ann.request("send", room="lobby", text="", nonce="c3",
                                   files=[uploaded["file"]["id"]])]
        live = [await bea.event("message", room="lobby", seq=sent["seq"]) for sent in sends]
        assert relayed("notice") == 3 and relayed("read") == 0
        big = await ann.request("send", room="lobby", text="é" * 3600, nonce="c4")
        live.append(await bea.event("message", room="lobby", seq=big["seq"]))
        assert relayed("notice") == 3 and relayed("read") == 1

        page = await bea.request("history", room="lobby", after=0, limit=10)
        assert live == page["messages"]
        assert live[1]["quote"] == {"from": "Ann", "text": "plain"}
        assert live[1]["mentions"] == ["bea"]
        assert [f["name"] for f in live[2]["files"]] == ["notes.txt"]
        await ann.aclose()
        await bea.aclose()


async def test_lone_sends_are_carried_by_their_notices(tmp_path: Path,
                                                       database_dsn: str) -> None:
    """Plain messages committed one at a time (everyday load: migration 0020's one-call
    append) reach the other node in their notices, none read back: the notice's trigger
    fires once the messages are stored, not between the room's bump and the insert."""
    config = _node(tmp_path, database_dsn)
    async with running(config) as a, running(config) as b:
        ann = await _client(a.http_port, a.tcp_port, "ann")
        bea = await _client(b.http_port, b.tcp_port, "bea")
        for client in (ann, bea):
            await client.request("join", room="lobby")
        for n in range(3):
            sent = await ann.request("send", room="lobby", text=f"plain {n}", nonce=f"p{n}")
            await bea.event("message", room="lobby", seq=sent["seq"])
        relayed = {source: b.app.metrics.registry.get_sample_value(
            "chatd_relayed_entries_total", {"source": source}) or 0.0
            for source in ("notice", "read")}
        assert relayed == {"notice": 3, "read": 0}
        await ann.aclose()
        await bea.aclose()


async def test_memberships_cross_nodes(tmp_path: Path, database_dsn: str) -> None:
    """A first DM, an invitation and a kick made on one node take effect for the other
    user's connection on the other node at once."""
    config = _node(tmp_path, database_dsn)
    async with running(config) as a, running(config) as b:
        ann = await _client(a.http_port, a.tcp_port, "ann")
        bea = await _client(b.http_port, b.tcp_port, "bea")
        dm = await ann.request("dm", to="bea", text="across", nonce="x1")
        assert (await bea.event("message", room=dm["room"]))["text"] == "across"
        reply = await bea.request("dm", to="ann", text="back", nonce="x2")
        assert (await ann.event("message", room=dm["room"], seq=reply["seq"]))["text"] == "back"

        await ann.request("create_room", room="club", private=True)
        await ann.request("invite", room="club", user="bea")
        assert await bea.event("joined", room="club", user="bea")
        sent = await ann.request("send", room="club", text="welcome", nonce="x3")
        assert (await bea.event("message", room="club", seq=sent["seq"]))["text"] == "welcome"
        await ann.request("kick", room="club", user="bea")
        assert await bea.event("left", room="club", user="bea")
        sent = await ann.request("send", room="club", text="private again", nonce="x4")
        await ann.event("message", room="club", seq=sent["seq"])
        await bea.request("ping")
        assert not [e for e in bea.events if e.get("text") == "private again"]
        await ann.aclose()
        await bea.aclose()


async def test_a_removal_whose_notice_was_lost_ends_the_subscription(
        tmp_path: Path, database_dsn: str) -> None:
    """A membership that ended while the node's listener was away (its notice lost): once the
    node listens again it checks its subscriptions against the database, and the removed
    member is told `left` and gets nothing more of the room. (The removal is made here with
    the notice trigger off, then the listening connection is cut: the two ways a node loses
    notices are a full inbox and a lost listener, and both end in this check.)"""
    config = _node(tmp_path, database_dsn)
    async with running(config) as a:
        ann = await _client(a.http_port, a.tcp_port, "ann")
        bea = await _client(a.http_port, a.tcp_port, "bea")
        await ann.request("create_room", room="club", private=True)
        await ann.request("invite", room="club", user="bea")
        assert await bea.event("joined", room="club", user="bea")
        async with open_bridge(name="raw") as bridge:
            conn: Any = await bridge.run(asyncpg.connect, database_dsn)
            try:
                await bridge.run(conn.execute, "SET session_replication_role = replica")
                await bridge.run(conn.execute, """
                    DELETE FROM memberships m USING rooms r, users u
                    WHERE m.room_id = r.id AND m.user_id = u.id
                      AND r.name = 'club' AND u.name = 'bea'""")
                cut = await bridge.run(conn.fetchval, """
                    SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                    WHERE application_name = 'chatd-listener'""")
                assert cut >= 1
            finally:
                await bridge.run(conn.close)
        with trio.fail_after(30):
            assert await bea.event("left", room="club", user="bea")
        sent = await ann.request("send", room="club", text="members only", nonce="y1")
        await ann.event("message", room="club", seq=sent["seq"])
        await bea.request("ping")
        assert not [e for e in bea.events if e.get("text") == "members only"]
        await ann.aclose()
        await bea.aclose()


async def test_a_log_out_on_one_node_ends_the_sessions_on_the_other(tmp_path: Path,
                                                                   database_dsn: str) -> None:
    """Logging out on node A closes the token's session on node B (told unauthenticated),
    not the sessions of the user's other tokens; logging out everywhere closes those too."""
    config = _node(tmp_path, database_dsn)
    async with running(config) as a, running(config) as b:
        first = await register_and_login(a.http_port, "roamer")
        second = await register_and_login(a.http_port, "roamer")
        on_first, on_second = await Client.tcp(b.tcp_port), await Client.tcp(b.tcp_port)
        await on_first.hello(first)
        await on_second.hello(second)
        status, _ = await http(a.http_port, "POST", "/api/logout", {}, token=first)
        assert status == 200
        await on_first.wait_closed()
        assert [e["code"] for e in on_first.events if e["op"] == "error"] == ["unauthenticated"]
        assert (await on_second.request("ping"))["op"] == "ok"
        status, _ = await http(a.http_port, "POST", "/api/logout", {"everywhere": True},
                               token=second)
        assert status == 200
        await on_second.wait_closed()
        assert [e["code"] for e in on_second.events if e["op"] == "error"] == ["unauthenticated"]


async def test_a_new_password_set_elsewhere_ends_the_live_sessions(tmp_path: Path,
                                                                  database_dsn: str) -> None:
    """`chatd user passwd` runs in a process of its own: the daemon still closes the sessions
    of the tokens the new password revokes, and a token issued after it keeps working."""
    config = _node(tmp_path, database_dsn)
    async with running(config) as daemon:
        old = await register_and_login(daemon.http_port, "changer")
        session = await Client.tcp(daemon.tcp_port)
        await session.hello(old)
        # what `chatd user passwd` does: its own storage (another node name), its own Auth
        async with open_storage(config) as storage:
            auth = Auth(storage, config, load_or_create_secret(config.data_dir))
            await auth.change_password("changer", "a brand new password")
        await session.wait_closed()
        assert [e["code"] for e in session.events if e["op"] == "error"] == ["unauthenticated"]
        status, body = await http(daemon.http_port, "POST", "/api/login",
                                  {"username": "changer", "password": "a brand new password"})
        assert status == 200
        fresh = await Client.tcp(daemon.tcp_port)
        await fresh.hello(str(body["token"]))
        assert (await fresh.request("ping"))["op"] == "ok"
        await fresh.aclose()


async def test_a_node_keeps_entries_for_repairs_only_while_another_is_alive(
        tmp_path: Path, database_dsn: str) -> None:
    """A node alone keeps no published frames for gap repairs (nothing could fill a gap of
    its own); it starts keeping them once another node is alive, and stops when it leaves."""
    config = make_config(tmp_path, database_dsn, limits=LIFTED_RATES,
                         cluster={"heartbeat_interval": 0.2, "node_timeout": 3.0})
    async with running(config) as a:
        recent = a.app.registry.recent
        assert not recent.shared  # its first sweep, before it served, found nobody
        async with running(config) as b:
            await until(lambda: recent.shared and b.app.registry.recent.shared)
            ann = await _client(a.http_port, a.tcp_port, "ann")
            await ann.request("join", room="kept")
            await ann.request("send", room="kept", text="hello", nonce="n1")
            await until(lambda: recent.get("kept", 0, 1) is not None)
            await ann.aclose()
        # b said it was leaving: a's next sweep finds nobody else.
        await until(lambda: not recent.shared)
        assert recent.get("kept", 0, 1) is None


async def test_a_read_and_a_mark_unread_reach_the_users_connections_on_the_other_node(
        tmp_path: Path, database_dsn: str) -> None:
    """bob reads on his device on node A; his device on node B is told, as one on A would
    be (the `read` event), and so is his marking the room unread from a message (`back`).
    Before, a read event reached only the connections on the node that stored it: with
    `--workers 2`, half the time a phone's read left the laptop's badge and notification."""
    config = _node(tmp_path, database_dsn)
    async with running(config) as a, running(config) as b:
        ann = await _client(a.http_port, a.tcp_port, "ann")
        await ann.request("join", room="team")
        token = await register_and_login(a.http_port, "bob")
        await ann.request("add_contact", user="bob")
        on_b = await Client.tcp(b.tcp_port)
        await on_b.hello(token)
        # Node A knows bob is online on B once ann, on A, is told so.
        await ann.event("presence", user="bob", status="online")
        await on_b.request("join", room="team")
        on_a = await Client.tcp(a.tcp_port)
        await on_a.hello(token)
        for n in range(3):
            await ann.request("send", room="team", text=f"m{n}", nonce=f"n{n}")
        assert (await on_a.request("read", room="team", seq=3))["seq"] == 3
        assert await on_b.event("read", room="team", seq=3)
        marked = await on_a.request("unread", room="team", seq=2)
        assert (marked["seq"], marked["back"]) == (1, True)
        told = await on_b.event("read", room="team", seq=1)
        assert told["back"] is True and told["unread"] == 2
        for client in (ann, on_a, on_b):
            await client.aclose()

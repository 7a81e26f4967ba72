"""End-to-end: removing a spammer with their messages (``ban`` with ``delete_messages``, the
admin's deactivation with it) over TCP, WebSocket and HTTP, across two nodes: every member
sees each message go as a ``deleted`` entry by the moderator, live and, after being away, once
on resume; a refusal stores nothing.

Rules: 127.0.0.1 and port 0 only; every wait is bounded (the client helper fails after 10 s)
and waits for a state, never for time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
import pytest
import trio

from chatd.storage import NewMessage
from chatd.storage.bridge import open_bridge
from tests.client import Client, http, register_and_login
from tests.e2e.conftest import running
from tests.e2e.test_moderation import tables
from tests.helpers import make_config


async def _ban(transport: str, port_tcp: int, port_http: int, token: str,
               nursery: trio.Nursery, **fields: Any) -> dict[str, Any]:
    """Ban over ``transport``: the reply's fields (``code`` when refused)."""
    if transport == "http":
        room = fields.pop("room")
        status, body = await http(port_http, "POST", f"/api/rooms/{room}/bans", fields,
                                  token=token)
        assert (status == 200) == ("code" not in body), (status, body)
        return dict(body)
    client = await (Client.tcp(port_tcp) if transport == "tcp"
                    else Client.ws(port_http, nursery))
    await client.hello(token)
    reply = await client.request("ban", **fields)
    await client.aclose()
    return reply


@pytest.mark.parametrize("transport", ["tcp", "ws", "http"])
async def test_a_ban_deletes_the_spammers_messages_on_every_node(
        tmp_path: Path, database_dsn: str, nursery: trio.Nursery, transport: str) -> None:
    """ann (owner, node A, over ``transport``) bans bob with an hour of his messages: cid on
    node B gets one ``deleted`` entry by ann for each of bob's messages and nothing for his
    own; dan, away meanwhile, gets them once on resume; the reply counts them; the same ban
    again deletes nothing more. Before that, cid (a member) trying the same is refused and
    stores nothing."""
    config = make_config(tmp_path, database_dsn)
    async with running(config) as a, running(config) as b:
        ann_token = await register_and_login(a.http_port, "ann")
        ann = await Client.tcp(a.tcp_port)
        await ann.hello(ann_token)
        bob = await Client.tcp(b.tcp_port)
        await bob.hello(await register_and_login(b.http_port, "bob"))
        cid_token = await register_and_login(b.http_port, "cid")
        cid = await Client.tcp(b.tcp_port)
        await cid.hello(cid_token)
        dan_token = await register_and_login(b.http_port, "dan")
        dan = await Client.tcp(b.tcp_port)
        await dan.hello(dan_token)
        await ann.request("create_room", room="team")
        for member in (bob, cid, dan):
            assert (await member.request("join", room="team"))["op"] == "ok"
        spam = [await bob.request("send", room="team", text=f"buy {i}", nonce=f"b{i}")
                for i in range(3)]
        mine = await cid.request("send", room="team", text="hello", nonce="c1")
        await cid.event("message", room="team", seq=mine["seq"])
        await dan.aclose()

        async with tables(database_dsn) as snapshot:
            before = await snapshot("team")
            refused = await _ban(transport, b.tcp_port, b.http_port, cid_token, nursery,
                                 room="team", user="bob", delete_messages=3600)
            assert refused["code"] == "forbidden"
            assert await snapshot("team") == before

        done = await _ban(transport, a.tcp_port, a.http_port, ann_token, nursery,
                          room="team", user="bob", reason="spam", delete_messages=3600)
        assert done["deleted"] == 3 and "more_deleted" not in done, done
        spam_ids = {s["msg_id"] for s in spam}
        for _ in range(len(spam_ids)):
            entry = await cid.event("deleted", room="team", by="ann")
            spam_ids.discard(entry["msg_id"])
        assert spam_ids == set()
        assert await cid.event("banned", room="team", user="bob")
        assert not [e for e in cid.events if e.get("op") == "deleted"]

        again = await Client.tcp(b.tcp_port)
        await again.hello(dan_token, resume={"team": mine["seq"]})
        await again.request("ping")
        resumed = [(e["op"], e.get("msg_id")) for e in again.events if e.get("room") == "team"]
        assert sorted(resumed) == sorted([("banned", None)] + [("deleted", s["msg_id"])
                                                               for s in spam])
        page = await again.request("history", room="team")
        texts = [(m.get("text"), m.get("deleted", False)) for m in page["messages"]
                 if m["op"] == "message"]
        assert texts == [("", True)] * 3 + [("hello", False)]

        same = await _ban(transport, a.tcp_port, a.http_port, ann_token, nursery,
                          room="team", user="bob", reason="spam", delete_messages=3600)
        assert same["unchanged"] is True and same["deleted"] == 0, same


async def test_bad_windows_are_refused(tmp_path: Path, database_dsn: str) -> None:
    """delete_messages must be 0 to 604800 seconds: anything else is ``bad_request`` over the
    socket and 400 over HTTP, and bans nobody."""
    async with running(make_config(tmp_path, database_dsn)) as a:
        token = await register_and_login(a.http_port, "ann")
        ann = await Client.tcp(a.tcp_port)
        await ann.hello(token)
        await register_and_login(a.http_port, "bob")
        await ann.request("create_room", room="team")
        for bad in (-1, 604801, "3600", True):
            reply = await ann.request("ban", room="team", user="bob", delete_messages=bad)
            assert reply["code"] == "bad_request", reply
            status, body = await http(a.http_port, "POST", "/api/rooms/team/bans",
                                      {"user": "bob", "delete_messages": bad}, token=token)
            assert (status, body["code"]) == (400, "bad_request")
        assert (await ann.request("bans", room="team"))["bans"] == []


async def test_a_deactivation_deletes_the_messages_in_every_room(
        tmp_path: Path, database_dsn: str) -> None:
    """root (node A, HTTP) deactivates eve with a day of her messages: cid (node B) sees each
    of her messages in two rooms and in their conversation go, as ``deleted`` by root; an
    older message of hers and cid's own stay; the answer counts them; one ``purge`` audit
    entry per room. cid trying the same is refused and stores nothing; a bad window is 400."""
    config = make_config(tmp_path, database_dsn)
    async with running(config) as a, running(config) as b:
        root = await register_and_login(a.http_port, "root")
        await a.app.storage.set_admin("root", True)
        eve = await Client.tcp(b.tcp_port)
        await eve.hello(await register_and_login(b.http_port, "eve"))
        cid_token = await register_and_login(b.http_port, "cid")
        cid = await Client.tcp(b.tcp_port)
        await cid.hello(cid_token)
        await cid.request("create_room", room="market")
        for room in ("lobby", "market"):
            await cid.request("join", room=room)
            await eve.request("join", room=room)
        old = await eve.request("send", room="lobby", text="hello all", nonce="e0")
        spam = [await eve.request("send", room=room, text=f"buy {i}", nonce=f"{room}{i}")
                for room in ("lobby", "market") for i in range(2)]
        dm = await eve.request("dm", to="cid", text="psst", nonce="dm")
        spam.append(dm)
        mine = await cid.request("send", room="lobby", text="mine", nonce="c1")
        await cid.event("message", room="@cid:eve", seq=dm["seq"])
        async with open_bridge(name="raw") as bridge:
            conn = await bridge.run(asyncpg.connect, database_dsn)
            await bridge.run(conn.execute, "UPDATE messages SET created_at = now() - "
                             "interval '2 days' WHERE id = $1", old["msg_id"])
            counts = "SELECT (SELECT count(*) FROM changes), (SELECT count(*) FROM audit_log)"
            before = tuple(await bridge.run(conn.fetchrow, counts))

            status, body = await http(b.http_port, "POST", "/api/admin/users/eve/deactivate",
                                      {"delete_messages": 86400}, token=cid_token)
            assert (status, body["code"]) == (403, "forbidden")
            for bad in (-1, 604801, "86400", True):
                status, body = await http(a.http_port, "POST",
                                          "/api/admin/users/eve/deactivate",
                                          {"delete_messages": bad}, token=root)
                assert (status, body["code"]) == (400, "bad_request"), bad
            assert tuple(await bridge.run(conn.fetchrow, counts)) == before

            status, body = await http(a.http_port, "POST", "/api/admin/users/eve/deactivate",
                                      {"delete_messages": 86400}, token=root)
            assert status == 200 and body["user"]["deactivated"] is True, body
            assert body["deleted"] == 5 and "more_deleted" not in body
            purges = await bridge.run(conn.fetch, "SELECT r.name, l.details->>'deleted' AS n "
                                      "FROM audit_log l JOIN rooms r ON r.id = l.room_id "
                                      "WHERE l.action = 'purge' ORDER BY r.name")
            assert [(p["name"], p["n"]) for p in purges] == [
                ("@cid:eve", "1"), ("lobby", "2"), ("market", "2")]
            await bridge.run(conn.close)
        wanted = {(s["room"], s["msg_id"]) for s in spam}
        for _ in range(len(wanted)):
            entry = await cid.event("deleted", by="root")
            wanted.discard((entry["room"], entry["msg_id"]))
        assert wanted == set()
        page = await cid.request("history", room="lobby")
        assert [(m["text"], m.get("deleted", False)) for m in page["messages"]
                if m["op"] == "message"] == [("hello all", False), ("", True), ("", True),
                                             ("mine", False)]
        assert mine["room"] == "lobby"
        again = await http(a.http_port, "POST", "/api/admin/users/eve/deactivate",
                           {"delete_messages": 86400}, token=root)
        assert again[0] == 200 and again[1]["deleted"] == 0


async def test_a_ban_deletes_at_most_1000_messages_a_request(tmp_path: Path,
                                                             database_dsn: str) -> None:
    """1,003 messages of bob's: the ban deletes 1,000 and says ``more_deleted``; the same ban
    again is ``unchanged`` and deletes the last 3; a member sees 1,003 ``deleted`` entries."""
    async with running(make_config(tmp_path, database_dsn)) as a:
        ann = await Client.tcp(a.tcp_port)
        await ann.hello(await register_and_login(a.http_port, "ann"))
        bob_token = await register_and_login(a.http_port, "bob")
        bob = await Client.tcp(a.tcp_port)
        await bob.hello(bob_token)
        await ann.request("create_room", room="team")
        await bob.request("join", room="team")
        user = await a.app.storage.get_credentials("bob")
        assert user is not None
        await a.app.storage.append_messages([
            NewMessage(user_id=user.user.id, room="team", text=f"spam {i}", nonce=f"n{i}")
            for i in range(1003)])
        first = await ann.request("ban", room="team", user="bob", delete_messages=60)
        assert first["deleted"] == 1000 and first["more_deleted"] is True, first
        second = await ann.request("ban", room="team", user="bob", delete_messages=60)
        assert second["unchanged"] is True and second["deleted"] == 3
        assert "more_deleted" not in second
        gone = set()
        for _ in range(1003):
            gone.add((await ann.event("deleted", room="team", by="ann"))["msg_id"])
        assert len(gone) == 1003

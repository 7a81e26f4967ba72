"""End-to-end: archiving and deleting rooms over real sockets (TCP, WebSocket) and HTTP: who
may (owner / moderator / member / banned / administrator / outsider; each denial stores
nothing), what an archived room refuses and still allows, the ``archived`` entry live and on
resume, ``room_deleted`` to every connection of every member on two nodes, and ``who`` for an
administrator.

Rules: 127.0.0.1 and port 0 only; every wait is bounded (the client helper fails after 10 s)
and waits for a state, never for time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trio

from chatd.server import Server
from tests.client import Client, http, register_and_login
from tests.e2e import test_moderation
from tests.e2e.conftest import running
from tests.e2e.test_hooks import bot_of, hook, member
from tests.e2e.test_moderation import ACTORS, NAMES, Cast, _cast, _room, tables
from tests.helpers import make_config
from tests.http.test_uploads import multipart

#: Who may archive (everyone else: ``forbidden``).
MAY_ARCHIVE = {"owner", "admin"}


#: The moderation tests' daemon settings (tests/e2e/conftest.py's ``daemon`` uses them).
config = test_moderation.config


async def _archive(transport: str, actor: Client | None, token: str, room: str,
                   archived: bool, port: int) -> dict[str, Any]:
    """Archive (or unarchive) ``room`` as the actor: the reply's fields, or the error's."""
    if transport == "http":
        status, answer = await http(port, "PUT", f"/api/rooms/{room}/archived",
                                    {"archived": archived}, token=token)
        assert (status == 200) == ("code" not in answer), (status, answer)
        return dict(answer)
    assert actor is not None
    reply = await actor.request("archive", room=room, archived=archived)
    return {k: v for k, v in reply.items() if k not in ("op", "id")}


@pytest.mark.parametrize("transport", ["tcp", "ws", "http"])
async def test_who_may_archive(daemon: Server, nursery: trio.Nursery, database_dsn: str,
                               transport: str) -> None:
    """Owner, moderator, member, banned user, administrator and outsider each try to archive
    a room: the owner and the administrator do (the entry reaches the members, one seq, one
    audit row; the same again is unchanged; unarchiving works); everyone else is refused
    ``forbidden`` and nothing is stored."""
    cast: Cast = await _cast(daemon)
    own = cast.tcp["owner"]
    actors: dict[str, Client | None] = {}
    for role in ACTORS:
        if transport == "tcp":
            actors[role] = cast.tcp[role]
        elif transport == "ws":
            client = await Client.ws(daemon.http_port, nursery)
            await client.hello(cast.tokens[role])
            actors[role] = client
        else:
            actors[role] = None
    async with tables(database_dsn) as snapshot:
        for actor in ACTORS:
            room = f"arch-{actor}"
            await _room(cast, room)
            before = await snapshot(room)
            answer = await _archive(transport, actors[actor], cast.tokens[actor], room, True,
                                    daemon.http_port)
            after = await snapshot(room)
            if actor not in MAY_ARCHIVE:
                assert answer["code"] == "forbidden", (actor, answer)
                assert after == before, actor
                continue
            assert answer == {"room": room, "archived": True, "seq": answer["seq"],
                              "ts": answer["ts"]}
            entry = await own.event("archived", room=room)
            assert entry == {"op": "archived", "room": room, "seq": answer["seq"],
                             "archived": True, "by": NAMES[actor], "ts": answer["ts"]}
            assert after["room"][0][1] == before["room"][0][1] + 1
            assert after["audit"][0][0] == before["audit"][0][0] + 1
            again = await _archive(transport, actors[actor], cast.tokens[actor], room, True,
                                   daemon.http_port)
            assert again["unchanged"] is True and again["seq"] == answer["seq"]
            assert await snapshot(room) == after
            undone = await _archive(transport, actors[actor], cast.tokens[actor], room,
                                    False, daemon.http_port)
            assert undone["archived"] is False and undone["seq"] == answer["seq"] + 1


async def test_an_archived_room_is_read_only(daemon: Server, database_dsn: str) -> None:
    """While archived: send, edit, react, typing, set_topic, invite, an upload and a
    non-member's join are refused ``archived`` (over the socket and HTTP) and store nothing;
    history, who, search, read, set_notify, delete of a message and kick still work; room
    objects say ``archived``; unarchived, a send and an upload work again."""
    ann = await Client.tcp(daemon.tcp_port)
    ann_token = await register_and_login(daemon.http_port, "ann")
    await ann.hello(ann_token)
    bob_token = await register_and_login(daemon.http_port, "bob")
    bob = await Client.tcp(daemon.tcp_port)
    await bob.hello(bob_token)
    cid = await Client.tcp(daemon.tcp_port)
    await cid.hello(await register_and_login(daemon.http_port, "cid"))
    dan = await Client.tcp(daemon.tcp_port)
    await dan.hello(await register_and_login(daemon.http_port, "dan"))
    await ann.request("create_room", room="team")
    for joiner in (bob, dan):
        await joiner.request("join", room="team")
    posted = await bob.request("send", room="team", text="words to find", nonce="b1")
    spam = await dan.request("send", room="team", text="spam", nonce="d1")
    archived = await ann.request("archive", room="team", archived=True)
    assert archived["op"] == "ok"
    assert (await bob.event("archived", room="team"))["seq"] == archived["seq"]

    async with tables(database_dsn) as snapshot:
        before = await snapshot("team")
        refused = [
            await bob.request("send", room="team", text="no", nonce="b2"),
            await bob.request("edit", room="team", msg_id=posted["msg_id"], text="x"),
            await bob.request("react", room="team", msg_id=posted["msg_id"], emoji="👍"),
            await bob.request("typing", room="team"),
            await ann.request("set_topic", room="team", topic="closed"),
            await ann.request("invite", room="team", user="cid"),
            await cid.request("join", room="team"),
        ]
        assert [r.get("code") for r in refused] == ["archived"] * len(refused), refused
        status, answer = await http(daemon.http_port, "PUT", "/api/rooms/team/topic",
                                    {"topic": "closed"}, token=ann_token)
        assert (status, answer["code"]) == (409, "archived")
        notes, headers = multipart(b"notes", filename="notes.txt")
        status, answer = await http(daemon.http_port, "POST", "/api/rooms/team/files",
                                    token=bob_token, raw=notes, headers=headers)
        assert (status, answer["code"]) == (409, "archived")
        assert await snapshot("team") == before
    assert not [e for e in ann.events if e["op"] == "typing"]

    page = await bob.request("history", room="team")
    assert page["messages"][-1]["op"] == "archived"
    assert (await bob.request("who", room="team"))["op"] == "ok"
    found = await bob.request("search", query="words", room="team")
    assert found["op"] == "ok"
    assert (await bob.request("read", room="team", seq=archived["seq"]))["op"] == "ok"
    assert (await bob.request("set_notify", room="team", notify="all"))["op"] == "ok"
    rooms = await bob.request("rooms")
    assert [r["archived"] for r in rooms["rooms"] if r["room"] == "team"] == [True]
    status, body = await http(daemon.http_port, "GET", "/api/rooms", token=bob_token)
    assert [r["archived"] for r in body["rooms"] if r["room"] == "team"] == [True]
    joined = await bob.request("join", room="team")
    assert joined["op"] == "ok" and joined["archived"] is True
    assert (await ann.request("delete", room="team", msg_id=spam["msg_id"]))["op"] == "ok"
    assert (await ann.request("kick", room="team", user="dan"))["op"] == "ok"

    assert (await ann.request("archive", room="team", archived=False))["op"] == "ok"
    assert (await bob.request("send", room="team", text="open", nonce="b3"))["op"] == "ok"
    status, answer = await http(daemon.http_port, "POST", "/api/rooms/team/files",
                                token=bob_token, raw=notes, headers=headers)
    assert status == 201, answer
    assert (await cid.request("join", room="team"))["op"] == "ok"


async def test_the_archived_entry_on_resume(daemon: Server) -> None:
    """A member away while the room is archived gets the entry once on resume, and the room
    object of the welcome says ``archived``."""
    ann = await Client.tcp(daemon.tcp_port)
    await ann.hello(await register_and_login(daemon.http_port, "ann"))
    token = await register_and_login(daemon.http_port, "bob")
    bob = await Client.tcp(daemon.tcp_port)
    await bob.hello(token)
    await ann.request("create_room", room="team")
    last = (await bob.request("join", room="team"))["last_seq"]
    await bob.aclose()
    done = await ann.request("archive", room="team", archived=True)
    again = await Client.tcp(daemon.tcp_port)
    welcome = await again.hello(token, resume={"team": last})
    assert [r["archived"] for r in welcome["rooms"] if r["room"] == "team"] == [True]
    await again.request("ping")
    resumed = [(e["op"], e["seq"], e.get("archived")) for e in again.events
               if e.get("room") == "team"]
    assert resumed == [("archived", done["seq"], True)]


async def test_a_conversation_is_not_archived_nor_deleted(daemon: Server) -> None:
    root = await register_and_login(daemon.http_port, "root")
    await daemon.app.storage.set_admin("root", True)
    ann = await Client.tcp(daemon.tcp_port)
    await ann.hello(root)
    await register_and_login(daemon.http_port, "bob")
    sent = await ann.request("dm", to="bob", text="hi", nonce="r1")
    assert (await ann.request("archive", room=sent["room"], archived=True))["code"] == \
        "forbidden"
    status, body = await http(daemon.http_port, "DELETE", f"/api/admin/rooms/{sent['room']}",
                              token=root)
    assert (status, body["code"]) == (400, "bad_request")


async def test_deleting_a_room(daemon: Server, nursery: trio.Nursery,
                               database_dsn: str) -> None:
    """Only an administrator deletes (the owner, a member, an outsider: ``forbidden``, and
    nothing changes); every connection of every member (TCP and WebSocket) gets
    ``room_deleted`` and nothing of the room after; the room is gone from listings, its name
    is free, and the audit log names it."""
    root = await register_and_login(daemon.http_port, "root")
    await daemon.app.storage.set_admin("root", True)
    ann_token = await register_and_login(daemon.http_port, "ann")
    ann = await Client.tcp(daemon.tcp_port)
    await ann.hello(ann_token)
    bob_token = await register_and_login(daemon.http_port, "bob")
    bob_tcp = await Client.tcp(daemon.tcp_port)
    await bob_tcp.hello(bob_token)
    bob_ws = await Client.ws(daemon.http_port, nursery)
    await bob_ws.hello(bob_token)
    cid_token = await register_and_login(daemon.http_port, "cid")
    await ann.request("create_room", room="team")
    await bob_tcp.request("join", room="team")
    last = await bob_tcp.request("send", room="team", text="hello", nonce="b1")
    for client in (ann, bob_tcp, bob_ws):
        await client.event("message", room="team", seq=last["seq"])
    async with tables(database_dsn) as snapshot:
        before = await snapshot("team")
        for token in (ann_token, bob_token, cid_token):
            status, body = await http(daemon.http_port, "DELETE", "/api/admin/rooms/team",
                                      token=token)
            assert (status, body["code"]) == (403, "forbidden")
        assert await snapshot("team") == before
    status, body = await http(daemon.http_port, "DELETE", "/api/admin/rooms/nothere",
                              token=root)
    assert (status, body["code"]) == (404, "not_found")
    status, body = await http(daemon.http_port, "DELETE", "/api/admin/rooms/team", token=root)
    assert (status, body) == (200, {})
    for client in (ann, bob_tcp, bob_ws):
        assert await client.event("room_deleted", room="team", by="root")
    assert (await bob_tcp.request("send", room="team", text="x", nonce="b2"))["code"] == \
        "not_found"
    assert (await bob_tcp.request("history", room="team"))["code"] == "not_found"
    status, body = await http(daemon.http_port, "GET", "/api/admin/rooms", token=root)
    assert "team" not in [r["room"] for r in body["rooms"]]
    status, body = await http(daemon.http_port, "GET", "/api/admin/audit", token=root)
    assert [(e["action"], e["room"], e["actor"]) for e in body["entries"][:1]] == [
        ("delete_room", "team", "root")]
    # The name is free; the connections that knew the old room see the new one from seq 1.
    assert (await ann.request("create_room", room="team"))["op"] == "ok"
    assert (await bob_tcp.request("join", room="team"))["last_seq"] == 0
    new = await ann.request("send", room="team", text="new room", nonce="a1")
    assert new["seq"] == 1
    assert (await bob_tcp.event("message", room="team", seq=1))["text"] == "new room"
    stale = [e for c in (ann, bob_tcp, bob_ws) for e in c.events
             if e.get("room") == "team" and e.get("seq") not in (None, 1)]
    assert stale == []


async def test_who_for_an_administrator(daemon: Server) -> None:
    """An administrator lists the members of a private room they are not in; an outsider is
    refused."""
    root = Client.tcp(daemon.tcp_port)
    root_client = await root
    await root_client.hello(await register_and_login(daemon.http_port, "root"))
    await daemon.app.storage.set_admin("root", True)
    ann = await Client.tcp(daemon.tcp_port)
    await ann.hello(await register_and_login(daemon.http_port, "ann"))
    cid = await Client.tcp(daemon.tcp_port)
    await cid.hello(await register_and_login(daemon.http_port, "cid"))
    await ann.request("create_room", room="secret", private=True)
    who = await root_client.request("who", room="secret")
    assert [(m["user"], m["role"]) for m in who["members"]] == [("ann", "owner")]
    assert (await cid.request("who", room="secret"))["code"] == "forbidden"


async def test_room_deleted_reaches_the_other_node(tmp_path: Path, database_dsn: str) -> None:
    """An administrator deletes a room on node A: a member connected to node B gets
    ``room_deleted`` (once, with no ``left``) and nothing of the room after."""
    config = make_config(tmp_path, database_dsn)
    async with running(config) as a, running(config) as b:
        root = await register_and_login(a.http_port, "root")
        await a.app.storage.set_admin("root", True)
        ann = await Client.tcp(a.tcp_port)
        await ann.hello(await register_and_login(a.http_port, "ann"))
        bob = await Client.tcp(b.tcp_port)
        await bob.hello(await register_and_login(b.http_port, "bob"))
        await ann.request("create_room", room="team")
        await bob.request("join", room="team")
        sent = await ann.request("send", room="team", text="before", nonce="a0")
        await bob.event("message", room="team", seq=sent["seq"])
        bob.events.clear()
        status, _ = await http(a.http_port, "DELETE", "/api/admin/rooms/team", token=root)
        assert status == 200
        assert await bob.event("room_deleted", room="team", by="root")
        assert await ann.event("room_deleted", room="team", by="root")
        await bob.request("ping")
        assert not [e for e in bob.events if e.get("room") == "team"]
        assert (await bob.request("send", room="team", text="x", nonce="b1"))["code"] == \
            "not_found"


async def test_an_incoming_webhook_cannot_post_into_an_archived_room(daemon: Server) -> None:
    """A webhook made before the room was archived is refused 409 ``archived`` while it is,
    and posts again once it is unarchived."""
    ann, token = await member(daemon, "ann", "ops")
    await bot_of(daemon, token, "ci")
    url, _ = await hook(daemon, token, "ops", "ci")
    assert (await ann.request("archive", room="ops", archived=True))["op"] == "ok"
    status, body = await http(daemon.http_port, "POST", url, {"text": "build failed"})
    assert (status, body["code"]) == (409, "archived")
    assert (await ann.request("archive", room="ops", archived=False))["op"] == "ok"
    status, body = await http(daemon.http_port, "POST", url, {"text": "build failed"})
    assert status == 201, body

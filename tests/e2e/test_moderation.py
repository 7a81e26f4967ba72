"""End-to-end: moderation over real sockets (TCP, WebSocket) and HTTP: the whole permission
matrix, what a ban does to the banned user's connections, bans that end, moderation entries
in the room's log (live and on resume), and across two nodes.

Rules: 127.0.0.1 and port 0 only; every wait is bounded (the client helper fails after 10 s)
and waits for a state, never for time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import trio

from chatd.config import Config
from chatd.server import Server
from chatd.storage.bridge import open_bridge
from tests.client import Client, http, register_and_login
from tests.e2e.conftest import running
from tests.helpers import make_config

ACTORS = ("owner", "moderator", "member", "banned", "admin", "outsider")
OPS = ("set_role", "ban", "unban", "kick", "delete", "set_topic")
#: Who may do what (everyone else is refused with ``forbidden``).
ALLOWED = {
    "owner": set(OPS),
    "moderator": set(OPS) - {"set_role"},
    "admin": set(OPS),
}
#: The entry each op puts in the room's log.
ENTRY = {"set_role": "role", "ban": "banned", "unban": "unbanned", "kick": "kicked",
         "delete": "deleted", "set_topic": "topic"}
#: The users of the matrix: one per actor, the member acted on, and someone banned before.
NAMES = {"owner": "own", "moderator": "moda", "member": "memb", "banned": "bann",
         "admin": "admi", "outsider": "outs", "victim": "vict", "prior": "prev"}


@pytest.fixture
def config(tmp_path: Path, database_dsn: str) -> Config:
    # Many rooms and changes by one owner: this test is about permissions, not the limits.
    return make_config(tmp_path, database_dsn, server={"grace_period": 5.0},
                       limits={"rooms_per_hour": 10_000, "send_burst": 10_000,
                               "send_rate": 10_000.0})


@asynccontextmanager
async def tables(dsn: str) -> AsyncIterator[Any]:
    """A function giving what moderation may change in a room, read from the database."""
    async with open_bridge(name="raw") as bridge:
        conn: Any = await bridge.run(asyncpg.connect, dsn)

        async def rows(sql: str, *args: Any) -> list[tuple[Any, ...]]:
            return [tuple(r) for r in await bridge.run(conn.fetch, sql, *args)]

        async def snapshot(room: str) -> dict[str, Any]:
            [(room_id,)] = await rows("SELECT id FROM rooms WHERE name = $1", room)
            return {
                "room": await rows("SELECT owner_id, last_seq, topic FROM rooms WHERE id = $1",
                                   room_id),
                "members": await rows("SELECT user_id, role FROM memberships WHERE room_id = $1"
                                      " ORDER BY user_id", room_id),
                "bans": await rows("SELECT user_id, reason FROM bans WHERE room_id = $1 "
                                   "ORDER BY user_id", room_id),
                "log": await rows("SELECT seq, kind FROM changes WHERE room_id = $1 ORDER BY seq",
                                  room_id),
                "deleted": await rows("SELECT id FROM messages WHERE room_id = $1 AND "
                                      "deleted_at IS NOT NULL", room_id),
                "audit": await rows("SELECT count(*) FROM audit_log"),
                "files": await rows("SELECT id FROM files WHERE room_id = $1 ORDER BY id",
                                    room_id),
            }

        try:
            yield snapshot
        finally:
            await bridge.run(conn.close)


@dataclasses.dataclass
class Cast:
    """Everyone's token, and a TCP connection for each (the actors' own transport aside)."""

    tokens: dict[str, str]
    tcp: dict[str, Client]


async def _cast(daemon: Server) -> Cast:
    tokens = {role: await register_and_login(daemon.http_port, name)
              for role, name in NAMES.items()}
    await daemon.app.storage.set_admin(NAMES["admin"], True)
    clients = {}
    for role, token in tokens.items():
        client = await Client.tcp(daemon.tcp_port)
        await client.hello(token)
        clients[role] = client
    return Cast(tokens, clients)


async def _room(cast: Cast, room: str) -> int:
    """A public room set up for one case: owner, moderator, members (the victim has posted a
    message: its msg_id is returned), one member banned, one user banned beforehand."""
    c = cast.tcp
    assert (await c["owner"].request("create_room", room=room))["op"] == "ok"
    for role in ("moderator", "member", "banned", "victim"):
        assert (await c[role].request("join", room=room))["op"] == "ok"
    for request in (("set_role", {"user": NAMES["moderator"], "role": "moderator"}),
                    ("ban", {"user": NAMES["banned"]}), ("ban", {"user": NAMES["prior"]})):
        reply = await c["owner"].request(request[0], room=room, **request[1])
        assert reply["op"] == "ok", reply
    posted = await c["victim"].request("send", room=room, text="spam", nonce=f"{room}/spam")
    assert posted["op"] == "ok", posted
    return int(posted["msg_id"])


def _request(op: str, room: str, msg_id: int) -> tuple[str, dict[str, Any]]:
    """The socket request of ``op`` in ``room``."""
    requests: dict[str, tuple[str, dict[str, Any]]] = {
        "set_role": ("set_role", {"room": room, "user": NAMES["victim"], "role": "moderator"}),
        "ban": ("ban", {"room": room, "user": NAMES["victim"], "reason": "spam"}),
        "unban": ("unban", {"room": room, "user": NAMES["prior"]}),
        "kick": ("kick", {"room": room, "user": NAMES["victim"]}),
        "delete": ("delete", {"room": room, "msg_id": msg_id}),
        "set_topic": ("set_topic", {"room": room, "topic": "moderated"}),
    }
    return requests[op]


def _route(op: str, room: str, msg_id: int) -> tuple[str, str, dict[str, Any] | None]:
    """The HTTP request of ``op`` in ``room``: method, path, body."""
    victim, prior = NAMES["victim"], NAMES["prior"]
    return {
        "set_role": ("PUT", f"/api/rooms/{room}/members/{victim}/role", {"role": "moderator"}),
        "ban": ("POST", f"/api/rooms/{room}/bans", {"user": victim, "reason": "spam"}),
        "unban": ("DELETE", f"/api/rooms/{room}/bans/{prior}", None),
        "kick": ("DELETE", f"/api/rooms/{room}/members/{victim}", None),
        "delete": ("DELETE", f"/api/rooms/{room}/messages/{msg_id}", None),
        "set_topic": ("PUT", f"/api/rooms/{room}/topic", {"topic": "moderated"}),
    }[op]


async def _act(transport: str, actor: Client | None, token: str, op: str, room: str,
               msg_id: int, port: int) -> tuple[bool, str | None]:
    """Make the change as the actor, over ``transport``: (done, the refusal's code)."""
    if transport == "http":
        method, path, body = _route(op, room, msg_id)
        status, answer = await http(port, method, path, body, token=token)
        if status == 200:
            return True, None
        assert status in (403, 404, 400), (status, answer)
        return False, answer["code"]
    assert actor is not None
    name, fields = _request(op, room, msg_id)
    reply = await actor.request(name, **fields)
    return reply["op"] == "ok", reply.get("code")


@pytest.mark.parametrize("transport", ["tcp", "ws", "http"])
async def test_the_permission_matrix(daemon: Server, nursery: trio.Nursery, database_dsn: str,
                                     transport: str) -> None:
    """Owner, moderator, member, banned user, administrator and outsider each try set_role,
    ban, unban, kick, delete (of someone else's message) and set_topic: what ALLOWED says is
    done (its entry reaches the room's members and the tables show it); everything else is
    refused ``forbidden`` and stores nothing (the room's log and every table are as they
    were)."""
    cast = await _cast(daemon)
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
    outcomes: dict[tuple[str, str], bool] = {}
    async with tables(database_dsn) as snapshot:
        for number, (actor, op) in enumerate((a, o) for a in ACTORS for o in OPS):
            room = f"case{number}"
            msg_id = await _room(cast, room)
            before = await snapshot(room)
            done, code = await _act(transport, actors[actor], cast.tokens[actor], op, room,
                                    msg_id, daemon.http_port)
            outcomes[(actor, op)] = done
            after = await snapshot(room)
            if not done:
                assert code == "forbidden", (actor, op, code)
                assert after == before, (actor, op)
                continue
            # The entry reached the room's members (the owner is one in every case).
            assert await own.event(ENTRY[op], room=room)
            assert after["room"][0][1] == before["room"][0][1] + 1  # one more seq
            assert after["audit"][0][0] == before["audit"][0][0] + 1
            victim_id = await daemon.app.storage.get_credentials(NAMES["victim"])
            assert victim_id is not None
            vid = victim_id.user.id
            if op == "set_role":
                assert (vid, "moderator") in after["members"]
            elif op in ("ban", "kick"):
                assert vid not in [m[0] for m in after["members"]]
                assert (vid in [b[0] for b in after["bans"]]) is (op == "ban")
            elif op == "unban":
                assert len(after["bans"]) == len(before["bans"]) - 1
            elif op == "delete":
                assert after["deleted"] == [(msg_id,)]
            else:
                assert after["room"][0][2] == "moderated"
    expected = {(a, o): o in ALLOWED.get(a, set()) for a in ACTORS for o in OPS}
    assert outcomes == expected


async def test_a_ban_removes_the_user_at_once(daemon: Server, nursery: trio.Nursery) -> None:
    """The banned member's connections (TCP and WebSocket) get the ``banned`` entry and then
    ``left`` by the moderator, and nothing of the room after the answer; they cannot join,
    read (history, who, search) or be invited back; the bans list shows the ban; unbanning
    lets them join."""
    ann = await Client.tcp(daemon.tcp_port)
    await ann.hello(await register_and_login(daemon.http_port, "ann"))
    token = await register_and_login(daemon.http_port, "bob")
    bob_tcp = await Client.tcp(daemon.tcp_port)
    await bob_tcp.hello(token)
    bob_ws = await Client.ws(daemon.http_port, nursery)
    await bob_ws.hello(token)
    await ann.request("create_room", room="team")
    await bob_tcp.request("join", room="team")
    ban = await ann.request("ban", room="team", user="BOB", reason="spam", duration=3600)
    assert ban["op"] == "ok" and ban["user"] == "bob" and ban["reason"] == "spam"
    assert ban["expires_at"] > ban["ts"]
    after = await ann.request("send", room="team", text="after the ban", nonce="a1")
    for bob in (bob_tcp, bob_ws):
        entry = await bob.event("banned", room="team")
        assert entry == {"op": "banned", "room": "team", "seq": ban["seq"], "user": "bob",
                         "by": "ann", "ts": entry["ts"], "reason": "spam",
                         "expires_at": ban["expires_at"]}
        assert await bob.event("left", room="team", user="bob", by="ann")
        assert (await bob.request("typing", room="team"))["code"] == "forbidden"
        assert not [e for e in bob.events if e.get("seq") == after["seq"]]
    assert (await bob_tcp.request("join", room="team"))["code"] == "forbidden"
    assert (await bob_tcp.request("history", room="team"))["code"] == "forbidden"
    assert (await bob_tcp.request("who", room="team"))["code"] == "forbidden"
    assert (await bob_tcp.request("search", query="after", room="team"))["code"] == "forbidden"
    assert (await bob_tcp.request("search", query="in:team ban"))["code"] == "forbidden"
    assert (await ann.request("invite", room="team", user="bob"))["code"] == "forbidden"
    status, _ = await http(daemon.http_port, "GET", "/api/rooms/team/messages", token=token)
    assert status == 403
    bans = await ann.request("bans", room="team")
    assert [(b["user"], b["by"], b["reason"]) for b in bans["bans"]] == [("bob", "ann",
                                                                         "spam")]
    assert (await bob_tcp.request("bans", room="team"))["code"] == "forbidden"
    assert (await ann.request("unban", room="team", user="bob"))["op"] == "ok"
    assert (await bob_tcp.request("join", room="team"))["op"] == "ok"


async def test_a_ban_with_an_end(daemon: Server) -> None:
    """A ban for one second keeps the user out, then lets them join again by itself (waited
    for as a state)."""
    ann = await Client.tcp(daemon.tcp_port)
    await ann.hello(await register_and_login(daemon.http_port, "ann"))
    bob = await Client.tcp(daemon.tcp_port)
    await bob.hello(await register_and_login(daemon.http_port, "bob"))
    await ann.request("create_room", room="team")
    assert (await ann.request("ban", room="team", user="bob", duration=1))["op"] == "ok"
    assert (await bob.request("join", room="team"))["code"] == "forbidden"
    with trio.fail_after(10):
        while (await bob.request("join", room="team"))["op"] != "ok":  # noqa: ASYNC110 (the ban's end)
            await trio.sleep(0.1)
    assert (await ann.request("bans", room="team"))["bans"] == []


async def test_roles_are_shown_and_resumed(daemon: Server) -> None:
    """Room objects, join and who show roles; moderation entries come live and, to a member
    who was away, once on resume, in seq order with the messages."""
    ann = await Client.tcp(daemon.tcp_port)
    await ann.hello(await register_and_login(daemon.http_port, "ann"))
    bob_token = await register_and_login(daemon.http_port, "bob")
    bob = await Client.tcp(daemon.tcp_port)
    await bob.hello(bob_token)
    cid = await Client.tcp(daemon.tcp_port)
    await cid.hello(await register_and_login(daemon.http_port, "cid"))
    created = await ann.request("create_room", room="team")
    assert created["room"]["role"] == "owner"
    joined = await bob.request("join", room="team")
    assert joined["role"] == "member"
    last = joined["last_seq"]
    await cid.request("join", room="team")
    await bob.aclose()

    made = await ann.request("set_role", room="team", user="bob", role="moderator")
    assert made == {"op": "ok", "id": made["id"], "room": "team", "user": "bob",
                    "role": "moderator", "seq": made["seq"], "ts": made["ts"]}
    same = await ann.request("set_role", room="team", user="bob", role="moderator")
    assert same["unchanged"] is True and same["seq"] == made["seq"]
    kicked = await ann.request("kick", room="team", user="cid", reason="off topic")
    live = await ann.event("kicked", room="team")
    assert live["reason"] == "off topic" and live["seq"] == kicked["seq"]
    role_entry = await ann.event("role", room="team")
    assert role_entry == {"op": "role", "room": "team", "seq": made["seq"], "user": "bob",
                          "role": "moderator", "by": "ann", "ts": role_entry["ts"]}

    again = await Client.tcp(daemon.tcp_port)
    welcome = await again.hello(bob_token, resume={"team": last})
    assert [r["role"] for r in welcome["rooms"] if r["room"] == "team"] == ["moderator"]
    await again.request("ping")
    resumed = [(e["op"], e["seq"]) for e in again.events if e.get("room") == "team"]
    assert resumed == [("role", made["seq"]), ("kicked", kicked["seq"])]
    who = await again.request("who", room="team")
    assert [(m["user"], m["role"]) for m in who["members"]] == [("ann", "owner"),
                                                                ("bob", "moderator")]
    page = await again.request("history", room="team")
    assert [(e["op"], e.get("user")) for e in page["messages"]] == [
        ("role", "bob"), ("kicked", "cid")]


async def _node(tmp_path: Path, dsn: str) -> Config:
    # One data_dir for both nodes: they share the token secret.
    return make_config(tmp_path, dsn)


async def test_a_ban_on_one_node_removes_the_user_on_the_other(tmp_path: Path,
                                                                database_dsn: str) -> None:
    """The moderator on node A bans a member connected to node B: B's connection gets the
    entry and ``left`` by the moderator, and no message of the room after that."""
    config = await _node(tmp_path, database_dsn)
    async with running(config) as a, running(config) as b:
        ann = await Client.tcp(a.tcp_port)
        await ann.hello(await register_and_login(a.http_port, "ann"))
        bob = await Client.tcp(b.tcp_port)
        await bob.hello(await register_and_login(b.http_port, "bob"))
        await ann.request("create_room", room="team")
        await bob.request("join", room="team")
        before = await ann.request("send", room="team", text="before", nonce="a0")
        await bob.event("message", room="team", seq=before["seq"])
        ban = await ann.request("ban", room="team", user="bob")
        assert (await bob.event("banned", room="team"))["seq"] == ban["seq"]
        assert await bob.event("left", room="team", user="bob", by="ann")
        after = await ann.request("send", room="team", text="after", nonce="a1")
        await ann.event("message", room="team", seq=after["seq"])
        assert (await bob.request("typing", room="team"))["code"] == "forbidden"
        assert (await bob.request("join", room="team"))["code"] == "forbidden"
        assert not [e for e in bob.events if e.get("seq") == after["seq"]]


async def test_a_deactivation_on_one_node_ends_the_sessions_on_the_other(
        tmp_path: Path, database_dsn: str) -> None:
    """An administrator deactivates a user over HTTP on node A: the user's sessions on node B
    end (``unauthenticated``), their token is refused and logging in says ``deactivated``;
    their messages stay; reactivated, they log in again."""
    config = await _node(tmp_path, database_dsn)
    async with running(config) as a, running(config) as b:
        root = await register_and_login(a.http_port, "root")
        await a.app.storage.set_admin("root", True)
        token = await register_and_login(b.http_port, "bob")
        bob = await Client.tcp(b.tcp_port)
        await bob.hello(token)
        await bob.request("join", room="lobby")
        await bob.request("send", room="lobby", text="my words", nonce="b1")
        status, body = await http(a.http_port, "POST", "/api/admin/users/bob/deactivate",
                                  token=root)
        assert status == 200 and body["user"]["deactivated"] is True
        await bob.wait_closed()
        assert [e["code"] for e in bob.events if e["op"] == "error"] == ["unauthenticated"]
        status, body = await http(b.http_port, "GET", "/api/me", token=token)
        assert status == 401
        status, body = await http(b.http_port, "POST", "/api/login",
                                  {"username": "bob", "password": "correct horse"})
        assert (status, body["code"]) == (403, "deactivated")
        status, body = await http(a.http_port, "GET", "/api/rooms/lobby/messages", token=root)
        assert [m["text"] for m in body["messages"]] == ["my words"]
        status, _ = await http(a.http_port, "POST", "/api/admin/users/bob/reactivate",
                               token=root)
        assert status == 200
        assert await register_and_login(b.http_port, "bob")

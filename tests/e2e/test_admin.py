"""End-to-end: the admin API (``/api/admin/...``) and the audit log over HTTP, against the
daemon: only administrators get in, and each route does what it says.

Rules: 127.0.0.1 and port 0 only; every wait is bounded (the client helper fails after 10 s).
"""

from __future__ import annotations

from typing import Any

import pytest

from chatd.server import Server
from tests.client import Client, http, register_and_login

#: Every admin route, with a body that would be valid for an administrator.
ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/api/admin/users", None),
    ("POST", "/api/admin/users/bob/deactivate", None),
    ("POST", "/api/admin/users/bob/reactivate", None),
    ("POST", "/api/admin/users/bob/password", {}),
    ("POST", "/api/admin/users/bob/admin", {"admin": True}),
    ("GET", "/api/admin/rooms", None),
    ("GET", "/api/admin/stats", None),
    ("GET", "/api/admin/audit", None),
]


async def _admin(daemon: Server, name: str = "root") -> str:
    token = await register_and_login(daemon.http_port, name)
    await daemon.app.storage.set_admin(name, True)
    return token


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
async def test_admin_routes_refuse_everyone_else(daemon: Server, method: str, path: str,
                                                 body: dict[str, Any] | None) -> None:
    """Without a token: 401 unauthenticated; with a user's who is no administrator: 403
    forbidden, and nothing happens; a token of an administrator since revoked: 403 too."""
    user = await register_and_login(daemon.http_port, "bob")
    status, answer = await http(daemon.http_port, method, path, body)
    assert (status, answer["code"]) == (401, "unauthenticated")
    status, answer = await http(daemon.http_port, method, path, body, token=user)
    assert (status, answer["code"]) == (403, "forbidden")
    ex = await _admin(daemon, "ex")
    await daemon.app.storage.set_admin("ex", False)
    status, answer = await http(daemon.http_port, method, path, body, token=ex)
    assert (status, answer["code"]) == (403, "forbidden")
    credentials = await daemon.app.storage.get_credentials("bob")
    assert credentials is not None
    assert not credentials.user.admin and not credentials.user.deactivated


async def test_users_search_and_pages(daemon: Server) -> None:
    """``GET /api/admin/users``: by name, a page at a time (``after``), searched by
    ``query``, each with ``admin`` and ``deactivated``; a bad limit is 400."""
    root = await _admin(daemon)
    for name in ("amy", "Bob", "bobby", "carl"):
        await register_and_login(daemon.http_port, name)
    status, body = await http(daemon.http_port, "GET", "/api/admin/users?limit=2", token=root)
    assert status == 200 and [u["name"] for u in body["users"]] == ["amy", "Bob"]
    assert body["more"] is True
    status, body = await http(daemon.http_port, "GET", "/api/admin/users?after=Bob&limit=10",
                              token=root)
    assert [u["name"] for u in body["users"]] == ["bobby", "carl", "root"]
    assert body["more"] is False
    assert body["users"][-1]["admin"] is True and body["users"][-1]["deactivated"] is False
    status, body = await http(daemon.http_port, "GET", "/api/admin/users?query=BOB",
                              token=root)
    assert [u["name"] for u in body["users"]] == ["Bob", "bobby"]
    assert not any(u["bot"] for u in body["users"])
    # A bot account is marked (the admin page shows a badge for it).
    bob = await register_and_login(daemon.http_port, "bob2")
    status, body = await http(daemon.http_port, "POST", "/api/bots", {"name": "ci-bot"},
                              token=bob)
    assert status == 201, body
    status, body = await http(daemon.http_port, "GET", "/api/admin/users?query=bot",
                              token=root)
    assert status == 200, body
    assert [(u["name"], u["bot"]) for u in body["users"]] == [("ci-bot", True)]
    status, body = await http(daemon.http_port, "GET", "/api/admin/users?limit=0", token=root)
    assert (status, body["code"]) == (400, "bad_request")


async def test_deactivate_reactivate_and_make_admin(daemon: Server) -> None:
    """Deactivating ends the user's session at once and refuses their log-in; an unknown
    user is 404; nobody deactivates or un-admins themselves; a new administrator can use
    the admin API; every action is in the audit log, newest first."""
    root = await _admin(daemon)
    token = await register_and_login(daemon.http_port, "bob")
    bob = await Client.tcp(daemon.tcp_port)
    await bob.hello(token)
    status, body = await http(daemon.http_port, "POST", "/api/admin/users/BOB/deactivate",
                              token=root)
    assert status == 200 and body["user"]["name"] == "bob" and body["user"]["deactivated"]
    await bob.wait_closed()
    assert [e["code"] for e in bob.events if e["op"] == "error"] == ["unauthenticated"]
    status, body = await http(daemon.http_port, "POST", "/api/login",
                              {"username": "bob", "password": "correct horse"})
    assert (status, body["code"]) == (403, "deactivated")
    status, body = await http(daemon.http_port, "POST", "/api/login",
                              {"username": "bob", "password": "wrong"})
    assert (status, body["code"]) == (401, "unauthenticated")  # tells a stranger nothing
    status, _ = await http(daemon.http_port, "POST", "/api/admin/users/bob/reactivate",
                           token=root)
    assert status == 200
    fresh = await register_and_login(daemon.http_port, "bob")

    for path in ("/api/admin/users/root/deactivate",):
        status, body = await http(daemon.http_port, "POST", path, token=root)
        assert (status, body["code"]) == (400, "bad_request")
    status, body = await http(daemon.http_port, "POST", "/api/admin/users/root/admin",
                              {"admin": False}, token=root)
    assert (status, body["code"]) == (400, "bad_request")
    status, body = await http(daemon.http_port, "POST", "/api/admin/users/ghost/deactivate",
                              token=root)
    assert (status, body["code"]) == (404, "not_found")
    status, body = await http(daemon.http_port, "POST", "/api/admin/users/bad%20name/admin",
                              {}, token=root)
    assert (status, body["code"]) == (400, "bad_request")

    status, body = await http(daemon.http_port, "POST", "/api/admin/users/bob/admin",
                              {"admin": True}, token=root)
    assert status == 200 and body["user"]["admin"] is True
    status, me = await http(daemon.http_port, "GET", "/api/me", token=fresh)
    assert me["user"]["admin"] is True
    status, _ = await http(daemon.http_port, "GET", "/api/admin/stats", token=fresh)
    assert status == 200
    status, body = await http(daemon.http_port, "GET", "/api/admin/audit", token=fresh)
    assert [(e["actor"], e["action"], e["target"]) for e in body["entries"]] == [
        ("root", "admin", "bob"), ("root", "reactivate", "bob"), ("root", "deactivate", "bob"),
        (None, "admin", "root")]  # the test made root an administrator as the CLI does
    status, body = await http(daemon.http_port, "GET",
                              f"/api/admin/audit?limit=1&before={body['entries'][0]['id']}",
                              token=fresh)
    assert [e["action"] for e in body["entries"]] == ["reactivate"] and body["more"] is True


async def test_reset_password(daemon: Server) -> None:
    """A new random password (returned once) or a given one: the user's sessions end, the
    old password stops working, the new one works; a too short one is 400."""
    root = await _admin(daemon)
    token = await register_and_login(daemon.http_port, "bob")
    bob = await Client.tcp(daemon.tcp_port)
    await bob.hello(token)
    status, body = await http(daemon.http_port, "POST", "/api/admin/users/bob/password", {},
                              token=root)
    assert status == 200 and len(body["password"]) >= 16
    await bob.wait_closed()
    status, _ = await http(daemon.http_port, "POST", "/api/login",
                           {"username": "bob", "password": "correct horse"})
    assert status == 401
    assert await register_and_login(daemon.http_port, "bob", body["password"])
    status, body = await http(daemon.http_port, "POST", "/api/admin/users/bob/password",
                              {"password": "chosen by root"}, token=root)
    assert status == 200 and "password" not in body
    assert await register_and_login(daemon.http_port, "bob", "chosen by root")
    status, body = await http(daemon.http_port, "POST", "/api/admin/users/bob/password",
                              {"password": "short"}, token=root)
    assert (status, body["code"]) == (400, "bad_request")


async def test_rooms_stats_and_a_rooms_audit_log(daemon: Server) -> None:
    """Rooms with their owner and member count (no conversation); the node's connections,
    its messages per second over the last minute and the database's size; a room's audit
    log for its moderators (socket and HTTP), not for its members."""
    root = await _admin(daemon)
    ann_token = await register_and_login(daemon.http_port, "ann")
    ann = await Client.tcp(daemon.tcp_port)
    await ann.hello(ann_token)
    bob_token = await register_and_login(daemon.http_port, "bob")
    bob = await Client.tcp(daemon.tcp_port)
    await bob.hello(bob_token)
    await ann.request("create_room", room="team", private=True)
    await ann.request("invite", room="team", user="bob")
    await ann.request("dm", to="bob", text="psst", nonce="d1")
    for n in range(6):
        assert (await ann.request("send", room="team", text=f"m{n}", nonce=f"m{n}"))["op"] == "ok"
    status, body = await http(daemon.http_port, "GET", "/api/admin/rooms", token=root)
    assert status == 200
    assert [(r["room"], r["owner"], r["members"], r["private"]) for r in body["rooms"]] == [
        ("team", "ann", 2, True)]
    status, stats = await http(daemon.http_port, "GET", "/api/admin/stats", token=root)
    assert stats["connections"] == 2
    assert stats["messages_per_second"] > 0
    assert stats["database_bytes"] > 1_000_000

    await ann.request("set_role", room="team", user="bob", role="moderator")
    await bob.request("set_topic", room="team", topic="by bob")
    page = await bob.request("audit", room="team")
    assert [(e["actor"], e["action"]) for e in page["entries"]] == [("bob", "set_topic"),
                                                                  ("ann", "set_role")]
    status, body = await http(daemon.http_port, "GET", "/api/rooms/team/audit?limit=1",
                              token=ann_token)
    assert status == 200 and body["more"] is True
    assert [e["action"] for e in body["entries"]] == ["set_topic"]
    await ann.request("set_role", room="team", user="bob", role="member")
    assert (await bob.request("audit", room="team"))["code"] == "forbidden"
    status, body = await http(daemon.http_port, "GET", "/api/rooms/team/audit",
                              token=bob_token)
    assert (status, body["code"]) == (403, "forbidden")

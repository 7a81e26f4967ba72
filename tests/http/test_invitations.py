"""Invitation links and who may register (`auth.registration`), over HTTP against a real
daemon and PostgreSQL: every mode and every refusal's code, the last use of an invitation
taken by one of several racing registrations only, the rooms a new account joins (announced
live to their members over a WebSocket), expiry (set in the past in the database), revoking,
who may make invitations, the public look at one, and the link's address.

Rules: 127.0.0.1 and port 0 only; waits are for states (the client helper fails after 10 s).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import trio

from chatd.server import Server
from tests.client import Client, http, register_and_login
from tests.e2e.conftest import running
from tests.helpers import fetchval_apart, make_config, now_ms

PASSWORD = "correct horse"


async def _register(port: int, name: str, invitation: Any = None, *,
                    with_field: bool = True) -> tuple[int, Any]:
    body: dict[str, Any] = {"username": name, "password": PASSWORD}
    if with_field:
        body["invitation"] = invitation
    return await http(port, "POST", "/api/register", body)


async def _admin(server: Server, name: str = "root") -> str:
    """A server administrator's token (registered while the server is open, or made
    directly in storage when it is not)."""
    if server.app.config.auth.registration == "open":
        token = await register_and_login(server.http_port, name)
    else:
        await server.app.auth.register(name, PASSWORD)
        status, body = await http(server.http_port, "POST", "/api/login",
                                  {"username": name, "password": PASSWORD})
        assert status == 200, body
        token = body["token"]
    await server.app.storage.set_admin(name, True)
    return str(token)


async def _invite(server: Server, token: str, **body: Any) -> dict[str, Any]:
    status, made = await http(server.http_port, "POST", "/api/invitations", body, token=token)
    assert status == 201, made
    return dict(made)


def _config(tmp_path: Path, dsn: str, **auth: Any) -> Any:
    return make_config(tmp_path, dsn, auth=auth)


async def test_open_mode_registers_with_or_without_an_invitation(
        tmp_path: Path, database_dsn: str) -> None:
    """"open" (the default): a registration without an invitation works as it always did
    (no ``rooms`` in the answer); one with a working invitation joins its rooms; one with an
    invitation that does not work is refused, not taken as none; GET /api/register says
    "open" and the server's name."""
    config = make_config(tmp_path, database_dsn, server={"name": "Example"})
    async with running(config) as server:
        port = server.http_port
        assert await http(port, "GET", "/api/register") == (
            200, {"registration": "open", "who_can_invite": "admins", "server": "Example",
                  "password_reset": False, "min_password_length": 8})
        status, body = await _register(port, "ann", with_field=False)
        assert status == 201 and "rooms" not in body and body["user"]["name"] == "ann"
        status, body = await _register(port, "ann2", None)
        assert status == 201 and "rooms" not in body, body
        root = await _admin(server)
        await http(port, "POST", "/api/rooms", {"room": "general"}, token=root)
        made = await _invite(server, root, rooms=["general"])
        status, body = await _register(port, "bob", made["token"])
        assert status == 201 and body["rooms"] == ["general"], body
        status, body = await _register(port, "carl", made["token"])
        assert (status, body["code"]) == (403, "invitation_used_up"), body


async def test_invite_mode_needs_a_working_invitation_and_joins_its_rooms_live(
        tmp_path: Path, database_dsn: str) -> None:
    """"invite": no invitation is 403 invitation_required; with one, the account is made,
    joins the invitation's rooms (a private one too, not an archived or a deleted one), and
    the rooms' members connected over a WebSocket get ``joined`` by the invitation's maker;
    the new user's rooms say so; the invitation lists its use and who made it (and no
    longer the deleted room)."""
    async with running(_config(tmp_path, database_dsn, registration="invite")) as server, \
            trio.open_nursery() as nursery:
        port = server.http_port
        assert await http(port, "GET", "/api/register") == (
            200, {"registration": "invite", "who_can_invite": "admins", "server": None,
                  "password_reset": False, "min_password_length": 8})
        status, body = await _register(port, "eve", with_field=False)
        assert (status, body["code"]) == (403, "invitation_required"), body
        status, body = await _register(port, "eve", None)
        assert (status, body["code"]) == (403, "invitation_required"), body
        root = await _admin(server)
        for room, private in (("general", False), ("team", True), ("old", False),
                              ("gone", False)):
            status, _ = await http(port, "POST", "/api/rooms",
                                   {"room": room, "private": private}, token=root)
            assert status == 201
        made = await _invite(server, root, uses=3, rooms=["team", "general", "old", "gone"])
        assert made["invitation"]["rooms"] == ["general", "gone", "old", "team"]
        status, _ = await http(port, "DELETE", "/api/admin/rooms/gone", token=root)
        assert status == 200
        assert made["url"] == f"http://127.0.0.1:{port}/#invite={made['token']}"
        status, _ = await http(port, "PUT", "/api/rooms/old/archived", {"archived": True},
                               token=root)
        assert status == 200
        watcher = await Client.ws(port, nursery)
        await watcher.hello(root)

        status, body = await _register(port, "Bob", made["token"])
        assert status == 201, body
        assert body["rooms"] == ["general", "team"] and body["user"]["name"] == "Bob"
        for room in ("general", "team"):
            joined = await watcher.event("joined", room=room)
            assert joined == {"op": "joined", "room": room, "user": "Bob", "by": "root"}
        status, login = await http(port, "POST", "/api/login",
                                   {"username": "bob", "password": PASSWORD})
        assert status == 200
        status, me = await http(port, "GET", "/api/me", token=login["token"])
        assert sorted(room["room"] for room in me["rooms"]) == ["general", "team"]
        status, listed = await http(port, "GET", "/api/invitations", token=root)
        assert status == 200
        [invitation] = listed["invitations"]
        assert {k: invitation[k] for k in ("id", "by", "max_uses", "uses", "state",
                                           "used_by", "revoked_at", "rooms")} == {
            "id": made["invitation"]["id"], "by": "root", "max_uses": 3, "uses": 1,
            "state": "valid", "used_by": ["Bob"], "revoked_at": None,
            "rooms": ["general", "old", "team"]}
        await watcher.aclose()


async def test_closed_mode_refuses_every_registration(tmp_path: Path, database_dsn: str) -> None:
    """"closed": registrations are 403 registration_closed, with or without an invitation
    (one made while the server was open stays unusable); making one is refused the same
    way; a look at one says so; `chatd user add`'s path (storage) still makes accounts."""
    async with running(make_config(tmp_path, database_dsn)) as opened:
        root = await _admin(opened)
        made = await _invite(opened, root)
    async with running(_config(tmp_path, database_dsn, registration="closed")) as server:
        port = server.http_port
        for invitation in (None, made["token"]):
            status, body = await _register(port, "eve", invitation)
            assert (status, body["code"]) == (403, "registration_closed"), body
        status, body = await http(port, "POST", "/api/invitations", {}, token=root)
        assert (status, body["code"]) == (403, "registration_closed"), body
        status, body = await http(port, "GET", f"/api/join/{made['token']}")
        assert status == 200 and (body["valid"], body["code"]) == (False,
                                                                   "registration_closed")
        assert await http(port, "GET", "/api/register") == (
            200, {"registration": "closed", "who_can_invite": "admins", "server": None,
                  "password_reset": False, "min_password_length": 8})
        assert await server.app.storage.get_credentials("eve") is None


async def test_each_way_an_invitation_fails_has_its_code(tmp_path: Path,
                                                         database_dsn: str) -> None:
    """Unknown, malformed, expired (its expiry set in the past in the database), used up
    and revoked invitations are refused each with its own code, the same that the public
    look gives (which takes a malformed token for bad_request); a non-string is
    bad_request; a registration refused for its name takes no
    use; revoking twice is no error."""
    async with running(_config(tmp_path, database_dsn, registration="invite")) as server:
        port = server.http_port
        root = await _admin(server)
        status, body = await _register(port, "eve", 42)
        assert (status, body["code"]) == (400, "bad_request"), body
        unknown = "A" * 32
        for token in (unknown, "short", "x/y"):
            status, body = await _register(port, "eve", token)
            assert (status, body["code"]) == (403, "invitation_invalid"), (token, body)
        status, body = await http(port, "GET", f"/api/join/{unknown}")
        assert status == 200 and body == {
            "registration": "invite", "server": None, "valid": False,
            "code": "invitation_invalid", "message": "this invitation link is not valid"}
        status, body = await http(port, "GET", "/api/join/short")
        assert (status, body["code"]) == (400, "bad_request"), body

        expired = await _invite(server, root)
        await fetchval_apart(database_dsn, "UPDATE invitations SET expires_at = now() - "
                             "interval '1 second' WHERE id = $1", expired["invitation"]["id"])
        used = await _invite(server, root)
        revoked = await _invite(server, root)
        status, body = await _register(port, "root", used["token"])  # a name taken
        assert (status, body["code"]) == (409, "conflict"), body
        status, body = await http(port, "GET", f"/api/join/{used['token']}")
        assert body["valid"] is True, body
        status, _ = await _register(port, "first", used["token"])
        assert status == 201
        for _ in range(2):
            status, body = await http(port, "DELETE",
                                      f"/api/invitations/{revoked['invitation']['id']}",
                                      token=root)
            assert status == 200 and body["invitation"]["state"] == "revoked", body
        for made, code in ((expired, "invitation_expired"), (used, "invitation_used_up"),
                           (revoked, "invitation_revoked")):
            status, body = await _register(port, "eve", made["token"])
            assert (status, body["code"]) == (403, code), body
            status, body = await http(port, "GET", f"/api/join/{made['token']}")
            assert status == 200 and (body["valid"], body["code"]) == (False, code), body
            assert "by" not in body and "rooms" not in body
        assert await server.app.storage.get_credentials("eve") is None
        status, body = await http(port, "GET", "/api/invitations", token=root)
        assert [(i["state"], i["uses"]) for i in body["invitations"]] == [
            ("revoked", 0), ("used_up", 1), ("expired", 0)]


async def test_two_racing_registrations_never_both_take_the_last_use(
        tmp_path: Path, database_dsn: str) -> None:
    """Six registrations at once with an invitation of two uses: exactly two accounts are
    made, the others are invitation_used_up, and the invitation counts two uses."""
    async with running(_config(tmp_path, database_dsn, registration="invite")) as server:
        port = server.http_port
        root = await _admin(server)
        made = await _invite(server, root, uses=2)
        results: dict[str, tuple[int, Any]] = {}

        async def register(name: str) -> None:
            results[name] = await _register(port, name, made["token"])

        async with trio.open_nursery() as nursery:
            for i in range(6):
                nursery.start_soon(register, f"racer{i}")
        made_ok = sorted(name for name, (status, _) in results.items() if status == 201)
        refused = {body["code"] for status, body in results.values() if status != 201}
        assert len(made_ok) == 2 and refused == {"invitation_used_up"}, results
        assert await fetchval_apart(database_dsn, "SELECT uses FROM invitations") == 2
        assert await fetchval_apart(database_dsn, "SELECT count(*) FROM users WHERE name "
                                    "LIKE 'racer%'") == 2


async def test_who_may_make_list_and_revoke_invitations(tmp_path: Path,
                                                        database_dsn: str) -> None:
    """With auth.who_can_invite "admins" (the default) a member may not make one; with
    "everyone" a member makes them into rooms they are in (not others: forbidden), lists
    their own only and revokes their own only (another's is not_found); an administrator
    lists and revokes everyone's; a bot never makes one."""
    async with running(make_config(tmp_path, database_dsn)) as server:
        ann = await register_and_login(server.http_port, "ann")
        status, body = await http(server.http_port, "POST", "/api/invitations", {},
                                  token=ann)
        assert (status, body["code"]) == (403, "forbidden"), body
    config = _config(tmp_path, database_dsn, who_can_invite="everyone")
    async with running(config) as server:
        port = server.http_port
        # what a page reads to offer "Invite people…" to members
        assert (await http(port, "GET", "/api/register"))[1]["who_can_invite"] == "everyone"
        ann = await register_and_login(port, "ann")
        bea = await register_and_login(port, "bea")
        root = await _admin(server)
        await http(port, "POST", "/api/rooms", {"room": "anns"}, token=ann)
        await http(port, "POST", "/api/rooms", {"room": "roots", "private": True}, token=root)
        status, body = await http(port, "POST", "/api/invitations", {"rooms": ["roots"]},
                                  token=ann)
        assert (status, body["code"]) == (403, "forbidden"), body
        status, body = await http(port, "POST", "/api/invitations", {"rooms": ["nowhere"]},
                                  token=ann)
        assert (status, body["code"]) == (404, "not_found"), body
        status, body = await http(port, "POST", "/api/invitations",
                                  {"rooms": ["@ann:bea"]}, token=ann)
        assert (status, body["code"]) == (400, "bad_request"), body
        anns = await _invite(server, ann, rooms=["anns"])
        beas = await _invite(server, bea)
        roots = await _invite(server, root, rooms=["roots", "anns"])
        status, body = await http(port, "GET", "/api/invitations", token=ann)
        assert [i["id"] for i in body["invitations"]] == [anns["invitation"]["id"]]
        status, body = await http(port, "GET", "/api/invitations", token=root)
        assert [i["id"] for i in body["invitations"]] == [
            roots["invitation"]["id"], beas["invitation"]["id"], anns["invitation"]["id"]]
        status, body = await http(port, "DELETE", f"/api/invitations/{beas['invitation']['id']}",
                                  token=ann)
        assert (status, body["code"]) == (404, "not_found"), body
        status, body = await http(port, "DELETE", f"/api/invitations/{beas['invitation']['id']}",
                                  token=root)
        assert status == 200 and body["invitation"]["revoked_at"] is not None
        status, body = await http(port, "GET", f"/api/join/{roots['token']}")
        assert body == {"registration": "open", "server": None, "valid": True, "by": "root",
                        "rooms": ["anns", "roots"],
                        "expires_at": roots["invitation"]["expires_at"]}
        status, made = await http(port, "POST", "/api/bots", {"name": "robot"}, token=ann)
        assert status == 201
        status, body = await http(port, "POST", "/api/invitations", {},
                                  token=made["token"])
        assert (status, body["code"]) == (403, "forbidden"), body


async def test_fields_of_a_new_invitation_are_checked(tmp_path: Path,
                                                      database_dsn: str) -> None:
    """uses, expires_in and rooms out of bounds are bad_request; the defaults are one use
    for seven days; expires_in sets the expiry; an archived room is refused."""
    async with running(make_config(tmp_path, database_dsn)) as server:
        port = server.http_port
        root = await _admin(server)
        for body in ({"uses": 0}, {"uses": 1001}, {"uses": True}, {"expires_in": 59},
                     {"expires_in": 30 * 86400 + 1}, {"rooms": "general"},
                     {"rooms": [f"r{i}" for i in range(21)]}, {"rooms": ["Not A Name!"]}):
            status, answer = await http(port, "POST", "/api/invitations", body, token=root)
            assert (status, answer["code"]) == (400, "bad_request"), (body, answer)
        made = await _invite(server, root)
        invitation = made["invitation"]
        assert (invitation["max_uses"], invitation["uses"], invitation["rooms"]) == (1, 0, [])
        assert invitation["expires_at"] - invitation["created_at"] in range(
            7 * 86400_000 - 5000, 7 * 86400_000 + 5000)
        made = await _invite(server, root, expires_in=3600, uses=1000)
        invitation = made["invitation"]
        assert invitation["expires_at"] - invitation["created_at"] in range(
            3600_000 - 5000, 3600_000 + 5000)
        await http(port, "POST", "/api/rooms", {"room": "attic"}, token=root)
        await http(port, "PUT", "/api/rooms/attic/archived", {"archived": True}, token=root)
        status, body = await http(port, "POST", "/api/invitations", {"rooms": ["attic"]},
                                  token=root)
        assert (status, body["code"]) == (409, "archived"), body


async def test_looks_are_limited_per_address_and_links_use_the_public_url(
        tmp_path: Path, database_dsn: str) -> None:
    """GET /api/join/{token} is limited per address (auth.registrations_per_ip), apart
    from registrations; with server.public_url the link starts with it."""
    config = make_config(tmp_path, database_dsn, auth={"registrations_per_ip": 3},
                         server={"public_url": "https://chat.example.org/"})
    async with running(config) as server:
        port = server.http_port
        root = await _admin(server)
        made = await _invite(server, root)
        assert made["url"] == f"https://chat.example.org/#invite={made['token']}"
        for _ in range(3):
            status, body = await http(port, "GET", f"/api/join/{made['token']}")
            assert status == 200 and body["valid"] is True
        status, body = await http(port, "GET", f"/api/join/{made['token']}")
        assert (status, body["code"]) == (429, "rate_limited"), body
        status, body = await _register(port, "bob", made["token"])
        assert status == 201, body


async def test_without_a_public_url_a_link_is_on_the_scheme_a_trusted_proxy_says(
        tmp_path: Path, database_dsn: str) -> None:
    """Without server.public_url a link is made of the request's Host: behind a reverse
    proxy that ends TLS, on https when the proxy is trusted (http.trust_forwarded_for) and
    its X-Forwarded-Proto (the last value: the proxy's own) says https; a client's own
    header counts for nothing when the proxy is not trusted."""
    for trusted, proto, scheme in ((True, "https", "https"), (True, "https, http", "http"),
                                   (True, "http, https", "https"), (False, "https", "http")):
        config = make_config(tmp_path, database_dsn, http={"trust_forwarded_for": trusted})
        async with running(config) as server:
            root = await _admin(server, f"root{trusted:d}{len(proto)}")
            status, made = await http(
                server.http_port, "POST", "/api/invitations", {}, token=root,
                headers=[("X-Forwarded-Proto", proto)])
            assert status == 201, made
            host = f"127.0.0.1:{server.http_port}"  # the Host the request came with
            assert made["url"] == f"{scheme}://{host}/#invite={made['token']}", (trusted, proto)


async def test_a_deleted_rooms_tombstone_is_neither_joined_nor_listed(
        tmp_path: Path, database_dsn: str) -> None:
    """A room deleted but not yet purged (a tombstone, as a crash between the two steps
    leaves it: deleted_at set) is not joined by an account registering with an invitation
    naming it, nor listed as one of the invitation's rooms."""
    async with running(make_config(tmp_path, database_dsn)) as server:
        port = server.http_port
        root = await _admin(server)
        for room in ("kept", "crashed"):
            await http(port, "POST", "/api/rooms", {"room": room}, token=root)
        made = await _invite(server, root, rooms=["kept", "crashed"])
        await fetchval_apart(database_dsn, "UPDATE rooms SET deleted_at = now() WHERE "
                             "name = 'crashed'")
        status, body = await _register(port, "bob", made["token"])
        assert status == 201 and body["rooms"] == ["kept"], body
        status, body = await http(port, "GET", "/api/invitations", token=root)
        assert body["invitations"][0]["rooms"] == ["kept"]


async def test_making_and_revoking_are_in_the_audit_log(tmp_path: Path,
                                                        database_dsn: str) -> None:
    """A member's invitation and an administrator's revoking of it are audit entries (who,
    the invitation's id, uses and rooms; the maker the revocation's target), newest first,
    read with GET /api/admin/audit; revoking twice is recorded once; the command line's
    making is by nobody (null); no token is in any entry."""
    config = _config(tmp_path, database_dsn, who_can_invite="everyone")
    async with running(config) as server:
        port = server.http_port
        ann = await register_and_login(port, "ann")
        root = await _admin(server)
        await http(port, "POST", "/api/rooms", {"room": "anns"}, token=ann)
        made = await _invite(server, ann, rooms=["anns"], uses=3)
        invitation = made["invitation"]
        for _ in range(2):
            status, _body = await http(port, "DELETE",
                                       f"/api/invitations/{invitation['id']}", token=root)
            assert status == 200
        await server.app.storage.create_invitation(b"h" * 32, None, expires_at=now_ms()
                                                   + 60_000, max_uses=1, rooms=(),
                                                   anywhere=True)
        status, body = await http(port, "GET", "/api/admin/audit?limit=3", token=root)
        assert status == 200, body
        by_cli, revoked, created = body["entries"]
        assert (created["actor"], created["action"], created["target"], created["room"]) == (
            "ann", "create_invitation", None, None)
        assert created["details"] == {"invitation": invitation["id"], "max_uses": 3,
                                      "expires_at": invitation["expires_at"],
                                      "rooms": ["anns"]}
        assert (revoked["actor"], revoked["action"], revoked["target"]) == (
            "root", "revoke_invitation", "ann")
        assert revoked["details"] == {"invitation": invitation["id"], "uses": 0,
                                      "max_uses": 3}
        assert (by_cli["actor"], by_cli["action"]) == (None, "create_invitation")
        assert made["token"] not in json.dumps(body)
        status, body = await http(port, "GET", "/api/admin/audit", token=ann)
        assert status == 403


async def test_the_list_pages(tmp_path: Path, database_dsn: str) -> None:
    """GET /api/invitations pages newest first: limit, before (the last id), more; a
    member's pages hold their own only; a limit or before out of range is bad_request."""
    config = _config(tmp_path, database_dsn, who_can_invite="everyone")
    async with running(config) as server:
        port = server.http_port
        ann = await register_and_login(port, "ann")
        root = await _admin(server)
        mine = [(await _invite(server, root))["invitation"]["id"] for _ in range(3)]
        anns = [(await _invite(server, ann))["invitation"]["id"] for _ in range(2)]
        newest = sorted(mine + anns, reverse=True)
        seen: list[int] = []
        query = "?limit=2"
        while True:
            status, body = await http(port, "GET", f"/api/invitations{query}", token=root)
            assert status == 200, body
            seen += [i["id"] for i in body["invitations"]]
            if not body["more"]:
                break
            query = f"?limit=2&before={seen[-1]}"
        assert seen == newest
        status, body = await http(port, "GET", "/api/invitations", token=root)
        assert ([i["id"] for i in body["invitations"]], body["more"]) == (newest, False)
        status, body = await http(port, "GET", "/api/invitations?limit=1", token=ann)
        assert ([i["id"] for i in body["invitations"]], body["more"]) == ([anns[1]], True)
        status, body = await http(port, "GET", f"/api/invitations?before={anns[1]}",
                                  token=ann)
        assert ([i["id"] for i in body["invitations"]], body["more"]) == ([anns[0]], False)
        for query in ("?limit=0", "?limit=501", "?before=0", "?limit=x", "?limit=1&limit=2"):
            status, body = await http(port, "GET", f"/api/invitations{query}", token=root)
            assert (status, body["code"]) == (400, "bad_request"), query

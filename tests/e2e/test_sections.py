"""End-to-end: a user's own sidebar sections (``sections``, ``create_section``,
``edit_section``, ``delete_section``, ``set_section``, the ``sections`` and ``section``
events, the welcome's ``sections``, the room object's ``section``), over TCP and WebSocket,
on one node and two, and over HTTP; and the hello's statements, unchanged in number.

Rules: 127.0.0.1 and port 0 only; every wait is bounded (the client helper fails after 10 s)
and waits for the frame it asserts, never for time. That no event came is checked after a
``ping`` answered on the same connection (and, for another connection, after the event that
connection does get, which the server sent after it would have sent the other).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trio

from chatd.server import Server
from chatd.storage import bots, postgres, user_groups
from chatd.storage import sections as sidebar
from chatd.storage.postgres import _SQL_OPEN_SESSION
from tests.client import Client, http, register_and_login
from tests.e2e.conftest import ann_on_two_devices, running
from tests.e2e.test_resume_one_read import _runs
from tests.helpers import LIFTED_RATES, make_config


async def _section_of(client: Client, room: str) -> Any:
    """``room``'s ``section`` in the ``rooms`` answer."""
    [found] = [r for r in (await client.request("rooms", joined=True))["rooms"]
               if r["room"] == room]
    return found["section"]


async def _no_section_events(client: Client) -> None:
    """Whether ``client`` holds no ``sections`` or ``section`` event, once a ping is answered
    after."""
    assert (await client.request("ping"))["op"] == "ok"
    assert [e for e in client.events if e["op"] in ("sections", "section")] == []


@pytest.fixture(params=["tcp", "ws"])
async def people(request: pytest.FixtureRequest, daemon: Server, nursery: trio.Nursery
                 ) -> dict[str, Any]:
    """ann (over the transport of the parameter, and a second connection over TCP, her
    laptop), bob and cid; ann's token."""
    return await ann_on_two_devices(daemon, nursery, request.param)


async def test_both_devices_see_every_change(daemon: Server, people: dict[str, Any]) -> None:
    """ann makes, reorders, renames, collapses and deletes sections and moves rooms between
    them, from either device: both her connections get each list and each move, a new
    welcome carries them; bob never hears of any; a deleted section's rooms are back in the
    default list, for every reader."""
    ann, laptop, bob = people["ann"], people["laptop"], people["bob"]
    for client in (ann, bob):
        assert (await client.request("join", room="general"))["op"] == "ok"
    dm = (await ann.request("dm", to="bob", text="hi", nonce="n1"))["room"]
    assert await _section_of(ann, "general") is None
    made = await ann.request("create_section", name="  Work  ")
    work = made["section"]
    assert made == {"op": "ok", "id": made["id"], "section": work, "sections": [work]}
    assert work["name"] == "Work" and work["collapsed"] is False and work["id"] >= 1
    for client in (ann, laptop):
        assert await client.event("sections") == {"op": "sections", "sections": [work]}
    fun = (await laptop.request("create_section", name="Fun", position=0))["section"]
    for client in (ann, laptop):
        assert (await client.event("sections"))["sections"] == [fun, work]
    moved = await ann.request("set_section", room="general", section=work["id"])
    assert moved == {"op": "ok", "id": moved["id"], "room": "general", "section": work["id"]}
    await laptop.request("set_section", room=dm, section=fun["id"])
    for client in (ann, laptop):
        assert await client.event("section", room="general") == {
            "op": "section", "room": "general", "section": work["id"]}
        assert (await client.event("section", room=dm))["section"] == fun["id"]
    assert await _section_of(laptop, "general") == work["id"]
    assert (await ann.request("join", room="general"))["section"] == work["id"]
    edited = await laptop.request("edit_section", section=work["id"], name="Job",
                                  collapsed=True, position=0)
    job = {**work, "name": "Job", "collapsed": True}
    assert (edited["section"], edited["sections"]) == (job, [job, fun])
    for client in (ann, laptop):
        assert (await client.event("sections"))["sections"] == [job, fun]
    welcome = await (await Client.tcp(daemon.tcp_port)).hello(people["token"])
    assert welcome["sections"] == [job, fun]
    assert {r["room"]: r["section"] for r in welcome["rooms"]} == {
        "general": work["id"], dm: fun["id"]}
    listed = await ann.request("sections")
    assert listed == {"op": "ok", "id": listed["id"], "sections": [job, fun]}
    # the same again: the same answer, nobody told
    again = await ann.request("edit_section", section=work["id"], collapsed=True)
    assert again["sections"] == [job, fun]
    assert (await ann.request("set_section", room="general", section=work["id"]))["op"] == "ok"
    await _no_section_events(ann)
    await _no_section_events(laptop)
    # deleting puts general back
    gone = await ann.request("delete_section", section=work["id"])
    assert gone == {"op": "ok", "id": gone["id"], "section": work["id"], "sections": [fun]}
    for client in (ann, laptop):
        assert (await client.event("sections"))["sections"] == [fun]
    assert await _section_of(laptop, "general") is None
    assert await _section_of(laptop, dm) == fun["id"]
    assert (await bob.request("rooms", joined=True))["rooms"][0]["section"] is None
    assert (await (await Client.tcp(daemon.tcp_port)).hello(people["token"]))[
        "sections"] == [fun]
    back = await laptop.request("set_section", room=dm, section=None)
    assert (back["op"], back["section"]) == ("ok", None)
    assert (await ann.event("section", room=dm))["section"] is None
    await _no_section_events(bob)
    assert (await bob.request("sections"))["sections"] == []


async def test_refusals(people: dict[str, Any]) -> None:
    """Bad names, a duplicate in any case, a section not the caller's, a room not theirs:
    each with its code; nothing is stored, nobody is told."""
    ann, bob, cid = people["ann"], people["bob"], people["cid"]
    mine = (await ann.request("create_section", name="Work"))["section"]
    for device in (ann, people["laptop"]):
        await device.event("sections")
    theirs = (await bob.request("create_section", name="Bob's"))["section"]
    await bob.event("sections")
    assert (await bob.request("join", room="general"))["op"] == "ok"
    room = (await bob.request("dm", to="cid", text="between us", nonce="n"))["room"]
    assert (await ann.request("join", room="mine"))["op"] == "ok"
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("create_section", {"name": "WORK"}, "conflict"),
        ("create_section", {"name": "   "}, "bad_request"),
        ("create_section", {"name": "x" * 41}, "bad_request"),
        ("create_section", {"name": "a\u202eb"}, "bad_request"),
        ("create_section", {"name": 7}, "bad_request"),
        ("create_section", {"name": "Ok", "position": -1}, "bad_request"),
        ("edit_section", {"section": mine["id"]}, "bad_request"),
        ("edit_section", {"section": theirs["id"], "name": "x"}, "not_found"),
        ("edit_section", {"section": 0, "name": "x"}, "bad_request"),
        ("delete_section", {"section": theirs["id"]}, "not_found"),
        ("delete_section", {"section": "1"}, "bad_request"),
        ("set_section", {"room": "mine", "section": theirs["id"]}, "not_found"),
        ("set_section", {"room": "mine"}, "bad_request"),
        ("set_section", {"room": "general", "section": mine["id"]}, "forbidden"),
        ("set_section", {"room": room, "section": None}, "forbidden"),
        ("set_section", {"room": "nowhere", "section": None}, "not_found"),
    ]
    for op, fields, code in cases:
        refused = await ann.request(op, **fields)
        assert (refused["op"], refused["code"]) == ("error", code), (op, fields, refused)
    assert (await ann.request("sections"))["sections"] == [mine]
    assert (await bob.request("sections"))["sections"] == [theirs]
    for client in (ann, people["laptop"], bob, cid):
        await _no_section_events(client)


async def test_the_cap_is_the_config_key(tmp_path: Path, database_dsn: str) -> None:
    """With limits.sections_per_user 3, a fourth section is too_many_sections until one is
    deleted; nothing is stored, nobody is told."""
    config = make_config(tmp_path, database_dsn, limits={"sections_per_user": 3})
    async with running(config) as server:
        ann = await Client.signed_in(server.tcp_port,
                                     await register_and_login(server.http_port, "ann"))
        made = [(await ann.request("create_section", name=f"s{n}"))["section"]
                for n in range(3)]
        for _ in made:
            await ann.event("sections")
        over = await ann.request("create_section", name="one more")
        assert (over["op"], over["code"]) == ("error", "too_many_sections")
        await _no_section_events(ann)
        assert (await ann.request("sections"))["sections"] == made
        assert (await ann.request("delete_section", section=made[0]["id"]))["op"] == "ok"
        assert (await ann.request("create_section", name="one more"))["op"] == "ok"
        await ann.aclose()


async def test_leaving_drops_it(people: dict[str, Any]) -> None:
    """ann puts a room into a section and leaves it: joining again starts in the default
    list (join's reply, rooms)."""
    ann = people["ann"]
    assert (await ann.request("join", room="general"))["op"] == "ok"
    work = (await ann.request("create_section", name="Work"))["section"]
    assert (await ann.request("set_section", room="general", section=work["id"]))["op"] == "ok"
    assert (await ann.request("leave", room="general"))["op"] == "ok"
    rejoined = await ann.request("join", room="general")
    assert (rejoined["op"], rejoined["section"]) == ("ok", None)
    assert await _section_of(ann, "general") is None


async def test_the_events_reach_the_other_node(tmp_path: Path, database_dsn: str) -> None:
    """ann on two nodes: her changes on node A reach her connection on node B (and not bob's
    there), and B's welcome carries them."""
    config = make_config(tmp_path, database_dsn, limits=LIFTED_RATES)
    async with running(config) as a, running(config) as b:
        token = await register_and_login(a.http_port, "ann")
        here = await Client.signed_in(a.tcp_port, token)
        there = await Client.signed_in(b.tcp_port, token)
        bob = await Client.signed_in(b.tcp_port, await register_and_login(a.http_port, "bob"))
        for client in (here, bob):
            assert (await client.request("join", room="general"))["op"] == "ok"
        work = (await here.request("create_section", name="Work"))["section"]
        assert (await there.event("sections"))["sections"] == [work]
        await here.request("set_section", room="general", section=work["id"])
        assert await there.event("section", room="general", section=work["id"])
        welcome = await (await Client.tcp(b.tcp_port)).hello(token)
        assert welcome["sections"] == [work]
        [listed] = [r for r in welcome["rooms"] if r["room"] == "general"]
        assert listed["section"] == work["id"]
        await here.request("delete_section", section=work["id"])
        assert (await there.event("sections"))["sections"] == []
        await _no_section_events(bob)
        for client in (here, there, bob):
            await client.aclose()


async def test_over_http(daemon: Server) -> None:
    """The routes do what the requests do (the socket hears the events): POST 201, GET, PATCH,
    PUT and DELETE of a room's section, DELETE of a section; GET /api/rooms and GET /api/me
    carry them; a stranger's section 404, a room not theirs 403, no token 401."""
    port = daemon.http_port
    token = await register_and_login(port, "ann")
    ann = await Client.signed_in(daemon.tcp_port, token)
    assert (await ann.request("join", room="general"))["op"] == "ok"
    status, body = await http(port, "POST", "/api/sections", {"name": "Work"}, token=token)
    assert status == 201, body
    work = body["section"]
    assert body == {"section": work, "sections": [work]}
    assert (await ann.event("sections"))["sections"] == [work]
    status, body = await http(port, "PATCH", f"/api/sections/{work['id']}",
                              {"collapsed": True}, token=token)
    work = {**work, "collapsed": True}
    assert (status, body) == (200, {"section": work, "sections": [work]})
    assert (await ann.event("sections"))["sections"] == [work]
    assert await http(port, "GET", "/api/sections", token=token) == (200, {"sections": [work]})
    path = "/api/rooms/general/section"
    status, body = await http(port, "PUT", path, {"section": work["id"]}, token=token)
    assert (status, body) == (200, {"room": "general", "section": work["id"]})
    assert await ann.event("section", room="general", section=work["id"])
    status, body = await http(port, "GET", "/api/rooms?joined=true", token=token)
    assert [r["section"] for r in body["rooms"]] == [work["id"]]
    status, body = await http(port, "GET", "/api/me", token=token)
    assert (status, body["sections"]) == (200, [work])
    assert [r["section"] for r in body["rooms"]] == [work["id"]]
    status, body = await http(port, "DELETE", path, token=token)
    assert (status, body) == (200, {"room": "general", "section": None})
    assert await ann.event("section", room="general", section=None)
    bob = await register_and_login(port, "bob")
    status, body = await http(port, "POST", "/api/sections", {"name": "Theirs"}, token=bob)
    theirs = body["section"]["id"]
    for method, target, data, code in (
            ("PATCH", f"/api/sections/{theirs}", {"name": "x"}, 404),
            ("DELETE", f"/api/sections/{theirs}", None, 404),
            ("PUT", path, {"section": theirs}, 404),
            ("PUT", path, {}, 400),
            ("POST", "/api/sections", {"name": "work"}, 409),
            ("PUT", "/api/rooms/nowhere/section", {"section": work["id"]}, 404)):
        status, body = await http(port, method, target, data, token=token)
        assert status == code, (method, target, body)
    status, _ = await http(port, "PUT", path, {"section": theirs}, token=bob)
    assert status == 403  # his section, not his room
    status, body = await http(port, "DELETE", f"/api/sections/{work['id']}", token=token)
    assert (status, body) == (200, {"section": work["id"], "sections": []})
    assert (await ann.event("sections"))["sections"] == []
    status, _ = await http(port, "GET", "/api/sections")
    assert status == 401
    await ann.aclose()


#: The statements a hello may run: storage's, but the presence tracker's, which runs on its
#: own schedule (a connection's arrival and departure are flushed in batches).
_HELLO_CANDIDATES = {
    sql for module in (postgres, bots, sidebar, user_groups)
    for name, sql in vars(module).items() if name.startswith("_SQL") and isinstance(sql, str)
    and name not in ("_SQL_PUBLISH_PRESENCE", "_SQL_PRESENCE_AUDIENCE",
                     "_SQL_ONLINE_ELSEWHERE")}


@pytest.fixture
async def one_connection(tmp_path: Path, database_dsn: str) -> Any:
    # One connection in the pool: every statement of the hello is on it, and counted there.
    config = make_config(tmp_path, database_dsn, database={"pool_size": 1},
                         limits=LIFTED_RATES)
    async with running(config) as server:
        yield server


async def test_the_hello_reads_them_in_its_one_statement(one_connection: Server) -> None:
    """A hello of a user with sections and rooms in them runs the same statements, as many
    times, as one of a user without (the list is a column of the row the hello reads, the
    rooms' sections a column of the memberships it reads): _SQL_OPEN_SESSION once, and the
    welcome carries them."""
    server = one_connection
    welcomes: dict[str, dict[str, Any]] = {}
    counts: dict[str, dict[str, int]] = {}
    for name, sections in (("plain", 0), ("sorted", 3)):
        token = await register_and_login(server.http_port, name)
        first = await Client.signed_in(server.tcp_port, token)
        for room in ("alpha", "beta"):
            assert (await first.request("join", room=room))["op"] == "ok"
        for n in range(sections):
            made = await first.request("create_section", name=f"S{n}")
            await first.request("set_section", room="alpha", section=made["section"]["id"])
        await first.aclose()
        before = await _runs(server)
        again = await Client.tcp(server.tcp_port)
        welcomes[name] = await again.hello(token)
        after = await _runs(server)
        counts[name] = {sql: runs - before.get(sql, 0) for sql, runs in after.items()
                        if runs - before.get(sql, 0) and sql in _HELLO_CANDIDATES}
        await again.aclose()
    assert counts["sorted"] == counts["plain"]
    assert counts["plain"] == {_SQL_OPEN_SESSION: 1}, counts
    assert [s["name"] for s in welcomes["sorted"]["sections"]] == ["S0", "S1", "S2"]
    assert welcomes["plain"]["sections"] == []
    [alpha] = [r for r in welcomes["sorted"]["rooms"] if r["room"] == "alpha"]
    assert alpha["section"] == welcomes["sorted"]["sections"][-1]["id"]

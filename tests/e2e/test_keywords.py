"""End-to-end: a user's notification keywords (``keywords``, ``set_keywords``, the ``keywords``
event, the welcome's ``keywords``), over TCP and WebSocket, on one node and two, and over
HTTP; the limits and refusals; and the hello's statements, unchanged in number. (The pushes
they bring are tests/e2e/test_keyword_pushes.py's.)

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


async def _no_keywords_event(client: Client) -> None:
    """``client`` holds no ``keywords`` event, once a ping is answered after."""
    assert (await client.request("ping"))["op"] == "ok"
    assert [e for e in client.events if e["op"] == "keywords"] == []


@pytest.fixture(params=["tcp", "ws"])
async def people(request: pytest.FixtureRequest, daemon: Server, nursery: trio.Nursery
                 ) -> dict[str, Any]:
    """ann (over the transport of the parameter, and a second connection over TCP, her
    laptop), bob and cid; ann's token."""
    return await ann_on_two_devices(daemon, nursery, request.param)


async def test_set_read_and_told_to_the_other_devices(daemon: Server,
                                                      people: dict[str, Any]) -> None:
    """ann sets her keywords from one device: the reply has the list as stored (trimmed,
    duplicates folded ignoring case, in order), her other device gets the event, the asking
    one does not, bob never; ``keywords`` and a new welcome read them; setting the same list
    tells nobody; an empty list clears them."""
    ann, laptop, bob = people["ann"], people["laptop"], people["bob"]
    assert (await ann.request("keywords"))["keywords"] == []
    set_ = await ann.request("set_keywords",
                             keywords=["Deploy", "  on call ", "deploy", "ON CALL", "k8s"])
    stored = ["Deploy", "on call", "k8s"]
    assert set_ == {"op": "ok", "id": set_["id"], "keywords": stored}
    assert await laptop.event("keywords") == {"op": "keywords", "keywords": stored}
    await _no_keywords_event(ann)
    listed = await laptop.request("keywords")
    assert listed == {"op": "ok", "id": listed["id"], "keywords": stored}
    welcome = await (await Client.tcp(daemon.tcp_port)).hello(people["token"])
    assert welcome["keywords"] == stored
    assert welcome["keywords_per_user"] == 50  # (limits.keywords_per_user's default)
    # from the laptop: ann's first device hears it
    again = await laptop.request("set_keywords", keywords=["outage", "Deploy"])
    assert again["keywords"] == ["outage", "Deploy"]
    assert (await ann.event("keywords"))["keywords"] == ["outage", "Deploy"]
    # the same list again: stored as it is, nobody told
    same = await laptop.request("set_keywords", keywords=["outage", "  Deploy"])
    assert same["keywords"] == ["outage", "Deploy"]
    cleared = await ann.request("set_keywords", keywords=[])
    assert cleared["keywords"] == []
    assert (await laptop.event("keywords"))["keywords"] == []
    await _no_keywords_event(ann)
    await _no_keywords_event(laptop)
    assert (await (await Client.tcp(daemon.tcp_port)).hello(people["token"]))[
        "keywords"] == []
    await _no_keywords_event(bob)
    assert (await bob.request("keywords"))["keywords"] == []


async def test_refusals(people: dict[str, Any]) -> None:
    """Not a list, not strings, empty, too long, a control character, past the limit: each
    ``bad_request``; nothing is stored, nobody is told."""
    ann, laptop = people["ann"], people["laptop"]
    assert (await ann.request("set_keywords", keywords=["mine"]))["op"] == "ok"
    await laptop.event("keywords")
    cases: list[dict[str, Any]] = [
        {}, {"keywords": "deploy"}, {"keywords": None}, {"keywords": [1]},
        {"keywords": ["ok", ""]}, {"keywords": ["   "]}, {"keywords": ["x" * 65]},
        {"keywords": ["a\nb"]}, {"keywords": [f"k{n}" for n in range(51)]},
    ]
    for fields in cases:
        refused = await ann.request("set_keywords", **fields)
        assert (refused["op"], refused["code"]) == ("error", "bad_request"), (fields, refused)
    assert "keywords_per_user" in refused["message"]
    # 64 characters, and 50 once duplicates are folded, are fine
    fine = [f"k{n}" for n in range(49)] + ["x" * 64, "K0", " k1 "]
    assert len((await ann.request("set_keywords", keywords=fine))["keywords"]) == 50
    assert len((await laptop.event("keywords"))["keywords"]) == 50
    await _no_keywords_event(people["bob"])


async def test_the_limit_is_the_config_key(tmp_path: Path, database_dsn: str) -> None:
    """With limits.keywords_per_user 2, the welcome says 2 (beside max_text_chars), three
    keywords are refused (the message names the key), two are stored."""
    config = make_config(tmp_path, database_dsn, limits={"keywords_per_user": 2})
    async with running(config) as server:
        ann = await Client.tcp(server.tcp_port)
        welcome = await ann.hello(await register_and_login(server.http_port, "ann"))
        assert (welcome["keywords_per_user"], welcome["max_text_chars"]) == (2, 4000)
        over = await ann.request("set_keywords", keywords=["a", "b", "c"])
        assert (over["op"], over["code"]) == ("error", "bad_request")
        assert "limits.keywords_per_user" in over["message"]
        assert (await ann.request("keywords"))["keywords"] == []
        assert (await ann.request("set_keywords", keywords=["a", "b", "A"]))["keywords"] == [
            "a", "b"]
        await ann.aclose()


async def test_the_event_reaches_the_other_node(tmp_path: Path, database_dsn: str) -> None:
    """ann on two nodes: a change on node A reaches her connection on node B (not bob's
    there), and B's welcome carries the list."""
    config = make_config(tmp_path, database_dsn, limits=LIFTED_RATES)
    async with running(config) as a, running(config) as b:
        token = await register_and_login(a.http_port, "ann")
        here = await Client.signed_in(a.tcp_port, token)
        there = await Client.signed_in(b.tcp_port, token)
        bob = await Client.signed_in(b.tcp_port, await register_and_login(a.http_port, "bob"))
        assert (await here.request("set_keywords", keywords=["deploy"]))["op"] == "ok"
        assert await there.event("keywords") == {"op": "keywords", "keywords": ["deploy"]}
        welcome = await (await Client.tcp(b.tcp_port)).hello(token)
        assert welcome["keywords"] == ["deploy"]
        await _no_keywords_event(bob)
        await _no_keywords_event(here)
        for client in (here, there, bob):
            await client.aclose()


async def test_over_http(daemon: Server) -> None:
    """GET and PUT /api/me/keywords do what the requests do; every socket connection of the
    user hears a change made over HTTP; GET /api/me carries them; bad bodies 400; no token
    401."""
    port = daemon.http_port
    token = await register_and_login(port, "ann")
    ann = await Client.signed_in(daemon.tcp_port, token)
    assert await http(port, "GET", "/api/me/keywords", token=token) == (200, {"keywords": []})
    status, body = await http(port, "PUT", "/api/me/keywords",
                              {"keywords": [" deploy", "Deploy", "on call"]}, token=token)
    assert (status, body) == (200, {"keywords": ["deploy", "on call"]})
    assert (await ann.event("keywords"))["keywords"] == ["deploy", "on call"]
    assert await http(port, "GET", "/api/me/keywords", token=token) == (
        200, {"keywords": ["deploy", "on call"]})
    status, body = await http(port, "GET", "/api/me", token=token)
    assert (status, body["keywords"]) == (200, ["deploy", "on call"])
    for data in ({}, {"keywords": "deploy"}, {"keywords": [""]}, {"keywords": ["x" * 65]}):
        status, body = await http(port, "PUT", "/api/me/keywords", data, token=token)
        assert (status, body["code"]) == (400, "bad_request"), (data, body)
    assert (await http(port, "GET", "/api/me/keywords"))[0] == 401
    assert (await http(port, "PUT", "/api/me/keywords", {"keywords": []}))[0] == 401
    await _no_keywords_event(ann)
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
    """A hello of a user with keywords runs the same statements, as many times, as one of a
    user without (the list is a column of the row the hello reads): _SQL_OPEN_SESSION once,
    and the welcome carries them."""
    server = one_connection
    welcomes: dict[str, dict[str, Any]] = {}
    counts: dict[str, dict[str, int]] = {}
    for name, keywords in (("plain", []), ("alert", ["deploy", "on call"])):
        token = await register_and_login(server.http_port, name)
        first = await Client.signed_in(server.tcp_port, token)
        assert (await first.request("join", room="alpha"))["op"] == "ok"
        if keywords:
            assert (await first.request("set_keywords", keywords=keywords))["op"] == "ok"
        await first.aclose()
        before = await _runs(server)
        again = await Client.tcp(server.tcp_port)
        welcomes[name] = await again.hello(token)
        after = await _runs(server)
        counts[name] = {sql: runs - before.get(sql, 0) for sql, runs in after.items()
                        if runs - before.get(sql, 0) and sql in _HELLO_CANDIDATES}
        await again.aclose()
    assert counts["alert"] == counts["plain"]
    assert counts["plain"] == {_SQL_OPEN_SESSION: 1}, counts
    assert welcomes["alert"]["keywords"] == ["deploy", "on call"]
    assert welcomes["plain"]["keywords"] == []

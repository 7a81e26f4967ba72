"""End-to-end: a hello resuming many rooms reads them all at once (issue 17, "resume stays
flat"), over a real socket and the real PostgreSQL. The catch-up is what it was: per room, in
the order of ``resume``, the missed entries in seq order (or one ``gap`` past
``limits.resume_max``), then the live ones after them, none twice; and the read is one
statement, not one per room."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from chatd.actions import session
from chatd.actions.session import RESUME_READ_ENTRIES
from chatd.server import Server
from chatd.storage.postgres import (
    _SQL_CHECK_TOKEN,
    _SQL_HISTORY_OLDEST,
    _SQL_OPEN_SESSION,
    _SQL_RESUME,
    PostgresStorage,
)
from tests.client import Client, register_and_login
from tests.e2e.conftest import running
from tests.helpers import make_config

ROOMS = 50
RESUME_MAX = 3


@pytest.fixture
async def server(tmp_path: Path, database_dsn: str) -> AsyncIterator[Server]:
    # One connection in the pool: every statement of the hello is on it, and counted there.
    config = make_config(tmp_path, database_dsn, database={"pool_size": 1},
                         limits={"resume_max": RESUME_MAX, "rooms_per_hour": 1000,
                                 "send_burst": 1000, "user_send_burst": 1000})
    async with running(config) as server:
        yield server


async def _runs(server: Server) -> dict[str, int]:
    """How many times each statement prepared on the pool's connection has run."""
    storage = server.app.storage
    assert isinstance(storage, PostgresStorage)
    rows = await storage._run(
        storage._pool.fetch,
        "SELECT statement, generic_plans + custom_plans AS runs FROM pg_prepared_statements")
    return {row["statement"]: row["runs"] for row in rows}


@pytest.mark.parametrize("budget", [None, 12])
async def test_fifty_rooms_resume_in_one_statement(
        server: Server, budget: int | None, monkeypatch: pytest.MonkeyPatch) -> None:
    """alice in 50 rooms, each with 1 to 5 of bob's messages she missed; a hello resuming
    them in a shuffled order gets, room by room in that order, the missed messages in seq
    order (a gap for those with more than resume_max), then a live message after them; the
    rooms were read by one statement, and history's not once (it was once a room). With a
    budget of 12 entries a read, the same catch-up, from reads of at most 12 (or one room)."""
    if budget is not None:
        monkeypatch.setattr(session, "RESUME_READ_ENTRIES", budget)
    bob_token = await register_and_login(server.http_port, "bob")
    token = await register_and_login(server.http_port, "alice")
    alice, bob = await Client.tcp(server.tcp_port), await Client.tcp(server.tcp_port)
    await alice.hello(token)
    await bob.hello(bob_token)
    rooms = [f"room-{i:02d}" for i in range(ROOMS)]
    seen: dict[str, int] = {}
    sent: dict[str, list[int]] = {}
    for i, room in enumerate(rooms):
        made = await alice.request("join", room=room)
        assert made["op"] == "ok", made
        joined = await bob.request("join", room=room)
        assert joined["op"] == "ok", joined
        seen[room] = joined["last_seq"]
        sent[room] = []
        for k in range(1 + i % 5):
            reply = await bob.request("send", room=room, text=f"{room} {k}", nonce=f"{room}{k}")
            assert reply["op"] == "ok", reply
            sent[room].append(reply["seq"])
    await alice.aclose()
    order = rooms[:]
    random.Random(17).shuffle(order)
    resume = {room: seen[room] for room in order}

    before = await _runs(server)
    again = await Client.tcp(server.tcp_port)
    welcome = await again.hello(token, rooms_limit=10, resume=resume)
    assert welcome["op"] == "welcome"
    assert (await again.request("ping"))["op"] == "ok"  # after the whole catch-up
    after = await _runs(server)

    caught: list[tuple[str, Any]] = []
    for frame in again.events:
        if frame.get("op") == "message":
            caught.append((frame["room"], frame["seq"]))
        elif frame.get("op") == "gap":
            caught.append((frame["room"], ("gap", frame["after"], frame["last_seq"])))
    want: list[tuple[str, Any]] = []
    for room in order:
        if len(sent[room]) > RESUME_MAX:
            want.append((room, ("gap", seen[room], sent[room][-1])))
        else:
            want.extend((room, seq) for seq in sent[room])
    assert caught == want

    ran = {sql: runs - before.get(sql, 0) for sql, runs in after.items()}
    assert ran.get(_SQL_HISTORY_OLDEST, 0) == 0, "a history read per room"
    parts = list(session.resume_reads(resume, {room: sent[room][-1] for room in rooms},
                                      RESUME_MAX, budget=budget or RESUME_READ_ENTRIES))
    assert len(parts) == 1 if budget is None else len(parts) > 5
    assert ran.get(_SQL_RESUME) == len(parts)
    assert sum(ran.values()) < 20 + len(parts), ran  # a handful for the hello, not one per room

    # Live messages follow the catch-up, once, in every kind of room.
    for room in (order[0], order[-1]):
        reply = await bob.request("send", room=room, text="live", nonce=f"live-{room}")
        event = await again.event("message", room=room, text="live")
        assert event["seq"] == reply["seq"]
    assert (await again.request("ping"))["op"] == "ok"
    assert [f for f in again.events if f.get("op") == "message" and f.get("text") == "live"] \
        == []


async def test_a_hello_reads_its_token_rooms_and_contacts_in_one_statement(
        server: Server) -> None:
    """A paged hello's first read, the token's check with the names and heads of the rooms
    and the first contacts, is one statement (one round trip): then the page's rooms."""
    token = await register_and_login(server.http_port, "alice")
    first = await Client.tcp(server.tcp_port)
    await first.hello(token, rooms_limit=10)
    assert (await first.request("join", room="lobby"))["op"] == "ok"
    before = await _runs(server)
    again = await Client.tcp(server.tcp_port)
    welcome = await again.hello(token, rooms_limit=10, contacts_limit=10)
    assert [room["room"] for room in welcome["rooms"]] == ["lobby"]
    after = await _runs(server)
    ran = {sql: runs - before.get(sql, 0) for sql, runs in after.items()}
    assert ran.get(_SQL_OPEN_SESSION) == 1
    assert ran.get(_SQL_CHECK_TOKEN, 0) == 0

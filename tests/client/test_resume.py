"""The terminal client in more rooms than a hello may resume (issue 17).

A ``resume`` names at most :data:`chatd.protocol.MAX_RESUME_ROOMS` rooms (the server refuses
more). The client resumes the current room first, then the rooms with a gap being paged, then
those whose entries came last; a room left out is followed from its room object, and the
client says how many were not caught up.
"""

from __future__ import annotations

import json
from pathlib import Path

import trio

from chatd.client.session import RESUME_BYTES
from chatd.protocol import MAX_RESUME_ROOMS
from tests.client.test_commands import Session
from tests.client.test_terminal import (
    STAMPED,
    WAIT,
    _free_port,
    client_on_pty,
    log_in,
    party,
)
from tests.client.wire import register_and_login
from tests.conftest import execute_sql
from tests.e2e.conftest import running
from tests.helpers import make_config

BULK = 1100  # more rooms than a resume may name


def _room(name: str, last_seq: int) -> dict[str, object]:
    return {"room": name, "kind": "room", "private": False, "topic": "", "last_seq": last_seq}


async def test_the_resume_names_the_current_room_first_and_never_too_many() -> None:
    s = Session()
    client = s.client
    names = [f"r{n:04}" for n in range(1500)]
    for n, name in enumerate(names):
        client._take_room(_room(name, n))
    client.current = "r1400"
    await s.post("bob", "late", room="r0100")
    await s.post("bob", "latest", room="r0007")
    client._paging["r0003"] = 1  # a gap being paged: resumed from where its paging is
    resume = client.resume_points()
    assert len(resume) == MAX_RESUME_ROOMS == 1000
    assert list(resume)[:5] == ["r1400", "r0003", "r0007", "r0100", "r1499"]
    assert resume["r0003"] == 1 and resume["r0007"] == 7 and resume["r0100"] == 100
    assert "r0000" not in resume  # nothing came there, and it was listed first
    assert list(client.resume_points(3)) == ["r1400", "r0003", "r0007"]

    # The welcome after that hello: a room not resumed is followed from its room object on;
    # a resumed one waits for its catch-up.
    client._resumed = set(client.resume_points(3))
    client._take_room(_room("r0000", 900))
    client._take_room(_room("r0007", 900))
    assert client.seen["r0000"] == 900
    assert client.seen["r0007"] == 7


async def test_a_resume_of_long_names_fits_in_a_hello_frame() -> None:
    s = Session()
    client = s.client
    me = "a" * 32
    names = [f"@{me}:p{n:031}" for n in range(1000)]
    for name in names:
        client._take_room(_room(name, 2**40))
    client.current = names[-1]
    resume = client.resume_points()
    assert 300 < len(resume) < 1000
    assert len(json.dumps(resume, separators=(",", ":"))) <= RESUME_BYTES
    assert next(iter(resume)) == names[-1]


async def test_a_client_in_more_rooms_than_a_resume_catches_up_its_room(
        tmp_path: Path, database_dsn: str) -> None:
    """ann is in 1,101 rooms, talking in the one that sorts last; the daemon restarts, and
    what was said there meanwhile shows once (before, the resume named the first 1,000 rooms
    by name and left hers out)."""
    config = make_config(tmp_path, database_dsn, server={"grace_period": 3.0},
                         http={"port": _free_port()}, tcp={"port": _free_port()})
    elsewhere = config.replace(http={"port": 0}, tcp={"port": 0})  # same database and secret
    async with trio.open_nursery() as nursery, \
            client_on_pty(tmp_path, config.http.port, "ann") as term:
        async with running(config) as server:
            await register_and_login(server.http_port, "ann")
            await trio.to_thread.run_sync(execute_sql, database_dsn, f"""
                INSERT INTO rooms (name) SELECT 'bulk-' || lpad(g::text, 4, '0')
                FROM generate_series(1, {BULK}) g""", """
                INSERT INTO memberships (room_id, user_id)
                SELECT r.id, u.id FROM rooms r CROSS JOIN users u
                WHERE r.name LIKE 'bulk-%' AND u.name = 'ann'""")
            bob = await party(nursery, server, "bob", "zz-last")
            await bob.request("send", room="zz-last", text="before", nonce="b0")
            await log_in(term)
            await term.expect(rf"-- rooms: .*bulk-{BULK:04}", within=60)  # every page listed
            await term.type("/join zz-last")
            await term.expect(rf"{STAMPED} \[zz-last\] bob: before")
        await term.expect(r"-- connection lost")
        async with running(elsewhere) as other:  # the client cannot see this one
            bob = await party(nursery, other, "bob")
            ack = await bob.request("send", room="zz-last", text="away", nonce="a0")
            assert ack["op"] == "ok", ack
            await bob.aclose()
        async with running(config):
            await term.expect(r"-- reconnected to ws://\S+ as ann", within=40)
            found = await term.expect(r"-- (\d+) rooms not caught up")
            assert int(found.group(1)) == BULK + 1 - MAX_RESUME_ROOMS
            await term.expect(rf"{STAMPED} \[zz-last\] bob: away")
            assert term.count(r"\] bob: away\n") == 1, term.text
            assert "bad_request" not in term.text, term.text  # no hello was refused
            await term.type("/quit")
            with trio.fail_after(WAIT):
                assert await term.proc.wait() == 0, term.text
        nursery.cancel_scope.cancel()

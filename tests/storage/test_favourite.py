"""Contract tests of favourites (migration 0038): ``favourite`` stores the member's mark (when
it was made) or clears it, writes only when it changes and says so; the room objects of the
hello, of ``user_rooms``, of ``rooms_overview`` and of ``join_room`` carry it from the
membership row they read; leaving drops it; the append's statements do not name it. Same
rules as ``test_rooms_contacts.py``: a fresh database per test, every await on the database
under ``trio.fail_after``."""

from __future__ import annotations

import time
from pathlib import Path

import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatd.storage import Room, Storage, open_storage, postgres
from chatd.storage.postgres import _INSERTS, _INSERTS_FILES
from tests.helpers import make_config
from tests.storage.test_rooms_contacts import refusal, users

TIMEOUT = 20


def _of(rooms: list[Room], name: str) -> Room:
    [room] = [r for r in rooms if r.name == name]
    return room


async def test_the_mark_is_the_members(storage: Storage) -> None:
    """ann marks a room, a 1:1 and a group conversation (an archived room: tests/e2e): her hello,
    user_rooms, rooms_overview and join_room carry when; bob's and cy's do not; a mark
    again changes nothing and keeps the time; an unmark clears it, once."""
    with trio.fail_after(TIMEOUT):
        ann, bob, cy = await users(storage, "ann", "bob", "cy")
        for user in (ann, bob):
            await storage.join_room(user.id, "general")
        dm = (await storage.direct_room(ann.id, "bob")).room.name
        group = (await storage.direct_room(cy.id, ["ann", "bob"])).room.name
        before = int(time.time() * 1000)
        marks = {room: await storage.favourite(ann.id, room, True)
                 for room in ("general", dm, group)}
        for mark in marks.values():
            assert mark.changed and mark.at is not None and before - 1000 <= mark.at
        start = await storage.open_session(ann.id, "jti-f", int(time.time() * 1000))
        assert start is not None and start.page is not None
        for room, mark in marks.items():
            assert _of(start.page, room).favourite_at == mark.at
            assert _of(await storage.user_rooms(ann.id), room).favourite_at == mark.at
            assert _of(await storage.rooms_overview(ann.id), room).favourite_at == mark.at
        assert (await storage.join_room(ann.id, "general")).room.favourite_at == \
            marks["general"].at
        for user in (bob, cy):
            assert {r.favourite_at for r in await storage.user_rooms(user.id)} == {None}
        assert _of(await storage.rooms_overview(bob.id), "general").favourite_at is None
        again = await storage.favourite(ann.id, "general", True)
        assert (again.changed, again.at) == (False, marks["general"].at)
        off = await storage.favourite(ann.id, "general", False)
        assert (off.changed, off.at) == (True, None)
        assert _of(await storage.user_rooms(ann.id), "general").favourite_at is None
        off_again = await storage.favourite(ann.id, "general", False)
        assert (off_again.changed, off_again.at) == (False, None)


async def test_leaving_drops_it(storage: Storage) -> None:
    """A member who marked a room and left it joins again without the mark."""
    with trio.fail_after(TIMEOUT):
        ann, = await users(storage, "ann")
        await storage.join_room(ann.id, "general")
        assert (await storage.favourite(ann.id, "general", True)).changed
        assert await storage.leave_room(ann.id, "general")
        assert (await storage.join_room(ann.id, "general")).room.favourite_at is None
        assert _of(await storage.user_rooms(ann.id), "general").favourite_at is None


async def test_refusals_store_nothing(storage: Storage) -> None:
    """A public room not joined and a conversation of others are forbidden, an unknown room
    or conversation not_found; nothing is stored."""
    with trio.fail_after(TIMEOUT):
        ann, bob, _ = await users(storage, "ann", "bob", "cy")
        await storage.join_room(bob.id, "general")
        theirs = (await storage.direct_room(bob.id, "cy")).room.name
        assert await refusal(storage.favourite(ann.id, "general", True)) == "forbidden"
        assert await refusal(storage.favourite(ann.id, theirs, True)) == "forbidden"
        assert await refusal(storage.favourite(ann.id, theirs, False)) == "forbidden"
        assert await refusal(storage.favourite(ann.id, "@ann:ghost", True)) == "not_found"
        assert await refusal(storage.favourite(ann.id, "nowhere", False)) == "not_found"
        assert _of(await storage.rooms_overview(ann.id), "general").favourite_at is None
        assert {r.favourite_at for r in await storage.user_rooms(bob.id)} == {None}


def test_the_append_does_not_name_it() -> None:
    """The send path is as it was: no append statement reads or writes favourite_at."""
    statements = [v for k, v in vars(postgres).items()
                  if k.startswith(("_SQL_APPEND", "_APPEND")) and isinstance(v, str)]
    statements += [*_INSERTS.values(), *_INSERTS_FILES.values()]
    assert len(statements) > 20
    for statement in statements:
        assert "favourite" not in statement


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.booleans()),
                min_size=1, max_size=10))
async def test_the_marks_follow_the_requests(tmp_path: Path, database_dsn: str,
                                             steps: list[tuple[str, bool]]) -> None:
    """Whatever the order of marks and unmarks over three rooms: a request changes the mark
    exactly when it differs from the model's; each room is a favourite as its latest request
    says, with the time of the mark that made it one (kept by marks after it), and the
    favourites ordered by that time are in the order they were made so."""
    async with open_storage(make_config(tmp_path, database_dsn)) as storage:
        with trio.fail_after(TIMEOUT):
            name = f"u{time.monotonic_ns()}"
            ann, = await users(storage, name)
            rooms = {key: f"{name}-{key}".lower() for key in "abc"}
            for room in rooms.values():
                await storage.join_room(ann.id, room)
            model: dict[str, int | None] = dict.fromkeys(rooms.values())
            made: list[str] = []  # the rooms in the order they became favourites
            for key, on in steps:
                room = rooms[key]
                mark = await storage.favourite(ann.id, room, on)
                assert mark.changed == (on != (model[room] is not None))
                if mark.changed:
                    model[room] = mark.at
                    if on:
                        made.append(room)
                assert mark.at == model[room]
            seen = {r.name: r.favourite_at for r in await storage.user_rooms(ann.id)}
            assert seen == model
            kept = [room for room in made if model[room] is not None]
            last = {room: i for i, room in enumerate(kept)}  # a room marked twice: the latest
            ordered = sorted(last, key=lambda room: (model[room], last[room]))
            assert ordered == sorted(last, key=lambda room: last[room])

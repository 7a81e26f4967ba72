"""Contract tests of a user's sidebar sections (migration 0041): the list on the user's row in
their order (created, renamed, collapsed, moved, deleted under the row's lock), each
membership's section (moved, read by the room objects of the hello, ``user_rooms``,
``rooms_overview`` and ``join_room`` from the membership row they read), a deletion putting
its rooms back in the default lists, the names and the cap, the refusals, leaving; the hello
reads the list with the token's check; the append's statements do not name it. A property
runs random programs of creations, moves of sections, moves of rooms and deletions against a
model. Same rules as ``test_rooms_contacts.py``: a fresh database per test, every await on
the database under ``trio.fail_after``."""

from __future__ import annotations

import time
from pathlib import Path

import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatd.sections import Section
from chatd.storage import Room, Storage, open_storage, postgres
from chatd.storage.postgres import _INSERTS, _INSERTS_FILES
from tests.helpers import make_config
from tests.storage.test_rooms_contacts import refusal, users

TIMEOUT = 20


def _of(rooms: list[Room], name: str) -> Room:
    [room] = [r for r in rooms if r.name == name]
    return room


def _names(sections: tuple[Section, ...]) -> list[str]:
    return [s.name for s in sections]


async def test_the_list_in_the_users_order(storage: Storage) -> None:
    """Sections are made at their position (absent or past the end: last), moved, renamed,
    collapsed; every change answers the list as stored, which the hello's first read and the
    token's check read too; an edit that sets what is set writes nothing."""
    with trio.fail_after(TIMEOUT):
        ann, bob = await users(storage, "ann", "bob")
        assert await storage.sections(ann.id) == ()
        work = await storage.create_section(ann.id, "Work", None, most=50)
        assert work.section is not None and work.section.name == "Work"
        assert work.section.collapsed is False and work.changed
        first = await storage.create_section(ann.id, "First", 0, most=50)
        last = await storage.create_section(ann.id, "Last", 99, most=50)
        middle = await storage.create_section(ann.id, "Middle", 1, most=50)
        assert _names(middle.sections) == ["First", "Middle", "Work", "Last"]
        assert await storage.sections(ann.id) == middle.sections
        assert len({s.id for s in middle.sections}) == 4
        ids = {s.name: s.id for s in middle.sections}
        moved = await storage.edit_section(ann.id, ids["First"], position=2)
        assert _names(moved.sections) == ["Middle", "Work", "First", "Last"]
        moved = await storage.edit_section(ann.id, ids["Middle"], position=1000)
        assert _names(moved.sections) == ["Work", "First", "Last", "Middle"]
        renamed = await storage.edit_section(ann.id, ids["Work"], name="work",
                                             collapsed=True, position=0)
        assert renamed.section == Section(id=ids["Work"], name="work", collapsed=True)
        assert renamed.changed
        same = await storage.edit_section(ann.id, ids["Work"], name="work", collapsed=True)
        assert not same.changed and same.sections == renamed.sections
        start = await storage.open_session(ann.id, "jti-s", int(time.time() * 1000))
        assert start is not None and start.user.sections == renamed.sections
        checked = await storage.check_token(ann.id, "jti-s", int(time.time() * 1000))
        assert checked is not None and checked.sections == renamed.sections
        assert await storage.sections(bob.id) == ()
        theirs = await storage.open_session(bob.id, "jti-b", int(time.time() * 1000))
        assert theirs is not None and theirs.user.sections == ()
        [listed] = [u for u in await storage.list_users() if u.name == "ann"]
        assert listed.sections is None  # read where a session starts only
        assert last.section is not None and first.section is not None


async def test_rooms_in_sections(storage: Storage) -> None:
    """ann puts a room, a 1:1 and a group conversation into her sections: her hello,
    user_rooms, rooms_overview and an already-member join carry the section; bob's and cy's
    rooms do not; a move where it is changes nothing; null puts it back."""
    with trio.fail_after(TIMEOUT):
        ann, bob, cy = await users(storage, "ann", "bob", "cy")
        for user in (ann, bob):
            await storage.join_room(user.id, "general")
        dm = (await storage.direct_room(ann.id, "bob")).room.name
        group = (await storage.direct_room(cy.id, ["ann", "bob"])).room.name
        work = (await storage.create_section(ann.id, "Work", None, most=50)).section
        fun = (await storage.create_section(ann.id, "Fun", None, most=50)).section
        assert work is not None and fun is not None
        want = {"general": work.id, dm: fun.id, group: work.id}
        for room, section in want.items():
            assert await storage.set_section(ann.id, room, section)
        start = await storage.open_session(ann.id, "jti-r", int(time.time() * 1000))
        assert start is not None and start.page is not None
        for room, section in want.items():
            assert _of(start.page, room).section == section
            assert _of(await storage.user_rooms(ann.id), room).section == section
            assert _of(await storage.rooms_overview(ann.id), room).section == section
        assert (await storage.join_room(ann.id, "general")).room.section == work.id
        for user in (bob, cy):
            assert {r.section for r in await storage.user_rooms(user.id)} == {None}
        assert not await storage.set_section(ann.id, "general", work.id)
        assert await storage.set_section(ann.id, "general", fun.id)
        assert await storage.set_section(ann.id, "general", None)
        assert not await storage.set_section(ann.id, "general", None)
        assert _of(await storage.user_rooms(ann.id), "general").section is None


async def test_deleting_puts_its_rooms_back(storage: Storage) -> None:
    """Deleting a section takes it out of the list and puts its rooms (and only its) back in
    the default lists, in the same transaction; its id names nothing after."""
    with trio.fail_after(TIMEOUT):
        ann, = await users(storage, "ann")
        for room in ("a", "b", "c"):
            await storage.join_room(ann.id, room)
        work = (await storage.create_section(ann.id, "Work", None, most=50)).section
        fun = (await storage.create_section(ann.id, "Fun", None, most=50)).section
        assert work is not None and fun is not None
        await storage.set_section(ann.id, "a", work.id)
        await storage.set_section(ann.id, "b", work.id)
        await storage.set_section(ann.id, "c", fun.id)
        gone = await storage.delete_section(ann.id, work.id)
        assert gone.sections == (fun,) and gone.section == work
        assert {r.name: r.section for r in await storage.user_rooms(ann.id)} == {
            "a": None, "b": None, "c": fun.id}
        assert await refusal(storage.delete_section(ann.id, work.id)) == "not_found"
        assert await refusal(storage.set_section(ann.id, "a", work.id)) == "not_found"
        assert await refusal(storage.edit_section(ann.id, work.id, collapsed=True)) == \
            "not_found"


async def test_names_and_the_cap(storage: Storage) -> None:
    """A name another section has, in any case (casefold: "STRASSE" and "straße"), is a
    conflict on creation and on a rename (a section renamed in another case is not); past
    ``most`` a creation is too_many_sections; nothing is stored then."""
    with trio.fail_after(TIMEOUT):
        ann, bob = await users(storage, "ann", "bob")
        work = (await storage.create_section(ann.id, "Work", None, most=3)).section
        street = (await storage.create_section(ann.id, "straße", None, most=3)).section
        assert work is not None and street is not None
        assert await refusal(storage.create_section(ann.id, "WORK", None, most=3)) == \
            "conflict"
        assert await refusal(storage.create_section(ann.id, "STRASSE", 0, most=3)) == \
            "conflict"
        assert await refusal(storage.edit_section(ann.id, street.id, name="wOrK")) == \
            "conflict"
        assert (await storage.edit_section(ann.id, work.id, name="WORK")).changed
        assert (await storage.create_section(bob.id, "work", None, most=3)).changed
        await storage.create_section(ann.id, "Third", None, most=3)
        assert await refusal(storage.create_section(ann.id, "Fourth", None, most=3)) == \
            "too_many_sections"
        assert _names(await storage.sections(ann.id)) == ["WORK", "straße", "Third"]
        assert (await storage.create_section(ann.id, "Fourth", None, most=4)).changed


async def test_refusals_store_nothing(storage: Storage) -> None:
    """Another user's section is nobody's (not_found for edit, delete and a move into it); a
    public room not joined and a conversation of others are forbidden, an unknown room
    not_found; nothing is stored."""
    with trio.fail_after(TIMEOUT):
        ann, bob, _ = await users(storage, "ann", "bob", "cy")
        await storage.join_room(bob.id, "general")
        await storage.join_room(ann.id, "mine")
        theirs = (await storage.create_section(bob.id, "Bob's", None, most=50)).section
        mine = (await storage.create_section(ann.id, "Ann's", None, most=50)).section
        assert theirs is not None and mine is not None
        assert await refusal(storage.edit_section(ann.id, theirs.id, name="x")) == "not_found"
        assert await refusal(storage.delete_section(ann.id, theirs.id)) == "not_found"
        assert await refusal(storage.set_section(ann.id, "mine", theirs.id)) == "not_found"
        conversation = (await storage.direct_room(bob.id, "cy")).room.name
        assert await refusal(storage.set_section(ann.id, "general", mine.id)) == "forbidden"
        assert await refusal(storage.set_section(ann.id, conversation, None)) == "forbidden"
        assert await refusal(storage.set_section(ann.id, "nowhere", mine.id)) == "not_found"
        assert await refusal(storage.set_section(ann.id, "@ann:ghost", None)) == "not_found"
        assert await storage.sections(bob.id) == (theirs,)
        assert {r.section for r in await storage.user_rooms(ann.id)} == {None}
        assert {r.section for r in await storage.user_rooms(bob.id)} == {None}


async def test_leaving_drops_it(storage: Storage) -> None:
    """A member who put a room into a section and left it joins again in the default list."""
    with trio.fail_after(TIMEOUT):
        ann, = await users(storage, "ann")
        await storage.join_room(ann.id, "general")
        work = (await storage.create_section(ann.id, "Work", None, most=50)).section
        assert work is not None
        assert await storage.set_section(ann.id, "general", work.id)
        assert await storage.leave_room(ann.id, "general")
        assert (await storage.join_room(ann.id, "general")).room.section is None
        assert _of(await storage.user_rooms(ann.id), "general").section is None


def test_the_append_does_not_name_it() -> None:
    """The send path is as it was: no append statement reads or writes a section."""
    statements = [v for k, v in vars(postgres).items()
                  if k.startswith(("_SQL_APPEND", "_APPEND")) and isinstance(v, str)]
    statements += [*_INSERTS.values(), *_INSERTS_FILES.values()]
    assert len(statements) > 20
    for statement in statements:
        assert "section" not in statement


# A program: ("create", name index, position or None), ("move", section index, position),
# ("collapse", section index, 0 or 1), ("put", room index, section index or None),
# ("delete", section index, None). Indexes pick among what the model has (modulo), so that
# most steps name something that exists; a name index picks among few names, so that some
# clash.
_STEPS = st.lists(st.one_of(
    st.tuples(st.just("create"), st.integers(0, 5), st.none() | st.integers(0, 6)),
    st.tuples(st.just("move"), st.integers(0, 9), st.integers(0, 6)),
    st.tuples(st.just("collapse"), st.integers(0, 9), st.integers(0, 1)),
    st.tuples(st.just("put"), st.integers(0, 2), st.none() | st.integers(0, 9)),
    st.tuples(st.just("delete"), st.integers(0, 9), st.none()),
), min_size=1, max_size=14)
_NAMES = ["Work", "work", "Fun", "Friends", "Ops", "FUN"]
_MOST = 4


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_STEPS)
async def test_programs_agree_with_a_model(tmp_path: Path, database_dsn: str,
                                           steps: list[tuple[str, int, int | None]]) -> None:
    """Whatever the program: after every step the stored list (ids, names, order, collapsed)
    is the model's, each refusal is the model's (conflict, too_many_sections), and each
    room's section is the model's (a deletion puts its rooms back)."""
    async with open_storage(make_config(tmp_path, database_dsn)) as storage:
        with trio.fail_after(TIMEOUT):
            name = f"u{time.monotonic_ns()}"
            ann, = await users(storage, name)
            rooms = [f"{name}-{i}".lower() for i in range(3)]
            for room in rooms:
                await storage.join_room(ann.id, room)
            model: list[Section] = []  # in order
            where: dict[str, int | None] = dict.fromkeys(rooms)
            for op, a, b in steps:
                await _step(storage, ann.id, rooms, model, where, op, a, b)
                stored = await storage.sections(ann.id)
                assert list(stored) == model
                assert {r.name: r.section for r in await storage.user_rooms(ann.id)} == where


async def _step(storage: Storage, user_id: int, rooms: list[str], model: list[Section],
                where: dict[str, int | None], op: str, a: int, b: int | None) -> None:
    """One step of a program, on storage and on the model (both changed in place)."""
    if op == "create":
        new = _NAMES[a]
        call = storage.create_section(user_id, new, b, most=_MOST)
        if len(model) >= _MOST:
            assert await refusal(call) == "too_many_sections"
        elif any(s.name.casefold() == new.casefold() for s in model):
            assert await refusal(call) == "conflict"
        else:
            made = (await call).section
            assert made is not None
            model.insert(len(model) if b is None else min(b, len(model)),
                         Section(id=made.id, name=new))
        return
    if op == "put":
        section = None if b is None or not model else model[b % len(model)].id
        await storage.set_section(user_id, rooms[a], section)
        where[rooms[a]] = section
        return
    if not model:
        return
    entry = model.pop(a % len(model))
    if op == "move":
        assert b is not None
        model.insert(min(b, len(model)), entry)
        await storage.edit_section(user_id, entry.id, position=b)
    elif op == "collapse":
        model.insert(a % (len(model) + 1), Section(id=entry.id, name=entry.name,
                                                   collapsed=bool(b)))
        await storage.edit_section(user_id, entry.id, collapsed=bool(b))
    else:  # delete
        await storage.delete_section(user_id, entry.id)
        for room, section in where.items():
            if section == entry.id:
                where[room] = None

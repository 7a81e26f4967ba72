"""Contract tests of closed conversations (migration 0037): ``hide`` stores the member's
``hidden_seq`` (the room's last_seq then) or clears it; the room objects of the hello, of
``user_rooms`` and of ``rooms_overview`` carry it from the membership row they read; a
message never touches it, and the append's statements do not name it. Same rules as
``test_rooms_contacts.py``: a fresh database per test, every await on the database under
``trio.fail_after``."""

from __future__ import annotations

import time
from pathlib import Path

import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatd.storage import Room, Storage, open_storage, postgres
from chatd.storage.postgres import _INSERTS, _INSERTS_FILES
from tests.helpers import make_config
from tests.storage.test_rooms_contacts import post, refusal, users

TIMEOUT = 20


def _of(rooms: list[Room], name: str) -> Room:
    [room] = [r for r in rooms if r.name == name]
    return room


async def test_hide_is_the_members_marker(storage: Storage) -> None:
    """ann closes @ann:bob at its last_seq: her hello, user_rooms and rooms_overview say so,
    bob's do not; bob's message moves last_seq past it and leaves it; a later hide moves
    it; on false clears it. A group conversation the same."""
    with trio.fail_after(TIMEOUT):
        ann, bob, cy = await users(storage, "ann", "bob", "cy")
        room = (await storage.direct_room(ann.id, "bob")).room.name
        await post(storage, ann, room, "one", "two")
        assert await storage.hide(ann.id, room, True) == 2
        start = await storage.open_session(ann.id, "jti-h", int(time.time() * 1000))
        assert start is not None and start.page is not None
        assert _of(start.page, room).hidden_seq == 2
        assert _of(await storage.user_rooms(ann.id), room).hidden_seq == 2
        assert _of(await storage.rooms_overview(ann.id), room).hidden_seq == 2
        assert _of(await storage.user_rooms(bob.id), room).hidden_seq is None
        await post(storage, bob, room, "three")
        seen = _of(await storage.user_rooms(ann.id), room)
        assert (seen.hidden_seq, seen.last_seq) == (2, 3)
        assert await storage.hide(ann.id, room, True) == 3
        assert await storage.hide(ann.id, room, False) is None
        assert _of(await storage.user_rooms(ann.id), room).hidden_seq is None
        group = (await storage.direct_room(cy.id, ["ann", "bob"])).room.name
        assert await storage.hide(cy.id, group, True) == 0
        assert _of(await storage.user_rooms(cy.id), group).hidden_seq == 0
        assert _of(await storage.user_rooms(ann.id), group).hidden_seq is None


async def test_refusals_store_nothing(storage: Storage) -> None:
    """A room is bad_request (for its member too), a conversation of others forbidden, an
    unknown room not_found; nothing is stored."""
    with trio.fail_after(TIMEOUT):
        ann, bob, _ = await users(storage, "ann", "bob", "cy")
        await storage.join_room(ann.id, "general")
        assert await refusal(storage.hide(ann.id, "general", True)) == "bad_request"
        assert _of(await storage.user_rooms(ann.id), "general").hidden_seq is None
        theirs = (await storage.direct_room(bob.id, "cy")).room.name
        assert await refusal(storage.hide(ann.id, theirs, True)) == "forbidden"
        assert await refusal(storage.hide(ann.id, "@ann:ghost", True)) == "not_found"
        assert await refusal(storage.hide(ann.id, "nowhere", False)) == "not_found"
        assert _of(await storage.user_rooms(bob.id), theirs).hidden_seq is None


def test_the_append_does_not_name_it() -> None:
    """The send path is as it was: no append statement reads or writes hidden_seq (the
    strings were compared with main's: byte-identical)."""
    statements = [v for k, v in vars(postgres).items()
                  if k.startswith(("_SQL_APPEND", "_APPEND")) and isinstance(v, str)]
    statements += [*_INSERTS.values(), *_INSERTS_FILES.values()]
    assert len(statements) > 20
    for statement in statements:
        assert "hidden" not in statement


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(["post", "hide", "show"]), min_size=1, max_size=8))
async def test_hidden_seq_is_the_last_seq_of_the_latest_hide(
        tmp_path: Path, database_dsn: str, steps: list[str]) -> None:
    """Whatever the order of messages, hides and shows, hidden_seq is the room's last_seq
    at the latest hide, unless a show came after it."""
    async with open_storage(make_config(tmp_path, database_dsn)) as storage:
        with trio.fail_after(TIMEOUT):
            name = f"u{time.monotonic_ns()}"
            ann, bob = await users(storage, f"{name}a", f"{name}b")
            room = (await storage.direct_room(ann.id, bob.name)).room.name
            last, expected = 0, None
            for n, step in enumerate(steps):
                if step == "post":
                    await post(storage, bob, room, f"m{n}")
                    last += 1
                else:
                    expected = last if step == "hide" else None
                    assert await storage.hide(ann.id, room, step == "hide") == expected
            seen = _of(await storage.user_rooms(ann.id), room)
            assert (seen.hidden_seq, seen.last_seq) == (expected, last)

"""The terminal client's /archive and /unarchive, and how it shows ``archived`` entries and
``room_deleted``: in memory on a fake link (as tests/client/test_commands.py)."""

from __future__ import annotations

from chatd.protocol import Archive, RoomArchived, RoomDeleted
from tests.client.test_commands import Session
from tests.client.test_moderation import _ask


async def test_archive_commands_send_what_was_typed() -> None:
    """/archive and /unarchive ask for the current room, or the room named; an unchanged
    reply says so (the entry itself says the rest)."""
    s = Session()
    assert await _ask(s, "/archive", room="general", archived=True) == Archive(
        id=1, room="general", archived=True)
    assert await _ask(s, "/unarchive other", room="other", archived=False) == Archive(
        id=2, room="other", archived=False)
    await _ask(s, "/archive", room="general", archived=True, unchanged=True)
    assert s.lines()[-1] == "-- [general] is archived already"


async def test_archived_entries_and_room_deleted_are_shown() -> None:
    """An ``archived`` entry is one line and marks the room read-only (unarchiving clears
    it); the same entry again (a resume) says nothing; ``room_deleted`` says who deleted the
    room and forgets it."""
    s = Session()
    s.client.me = "ann"
    await s.event(RoomArchived(room="general", seq=3, archived=True, by="root", ts=3))
    assert s.client.rooms["general"].archived
    await s.event(RoomArchived(room="general", seq=4, archived=False, by="ann", ts=4))
    assert not s.client.rooms["general"].archived
    await s.event(RoomArchived(room="general", seq=4, archived=False, by="ann", ts=4))
    await s.event(RoomDeleted(room="general", by="root\x1b[31m"))
    assert s.lines() == [
        "-- root archived [general]: read-only now",
        "-- you unarchived [general]: it can be written to again",
        "-- [general] was deleted by root\ufffd[31m",
        "-- no current room: /switch ROOM or /join ROOM",
    ]
    assert "general" not in s.client.rooms and s.client.current is None


async def test_a_room_deleted_from_the_command_line_names_the_operator() -> None:
    """``room_deleted`` with an empty ``by`` (``chatd room delete``: no account did it) says
    the server's operator did, not "by " and nothing."""
    s = Session()
    s.client.me = "ann"
    await s.event(RoomArchived(room="general", seq=3, archived=True, by="root", ts=3))
    await s.event(RoomDeleted(room="general", by=""))
    assert s.lines()[1] == "-- [general] was deleted by the server's operator"

"""The terminal client's drafts: ``/drafts`` lists the user's drafts (what they typed on any
device and did not send), ``/drafts clear`` deletes the current room's, the ``draft`` event is
kept quietly, and ``/switch`` shows the room's draft; in memory on a fake link and against a
real daemon (the client a real process on a pty, the user's phone the tests' protocol
client), where a message sent from the terminal clears the phone's draft.
"""

from __future__ import annotations

from pathlib import Path

import trio
import trio.testing

from chatd.config import Config
from chatd.protocol import Answer, DraftChanged, Drafts, SetDraft
from tests.client.test_changes import ann_with_bob_and_phone
from tests.client.test_room_settings import _session
from tests.client.test_terminal import config  # noqa: F401
from tests.e2e.conftest import running


async def test_listing_keeping_and_switching() -> None:
    """/drafts asks and lists (the room, a thread's root, the text on one line); an event
    adds, replaces and removes one quietly; /switch to a room with a draft says it; /drafts
    clear asks to delete the current room's; mistakes send nothing."""
    s = _session()
    now = s.client.server_now()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(s.line, "/drafts")
        await trio.testing.wait_all_tasks_blocked()
        request = s.last()
        assert isinstance(request, Drafts)
        await s.event(Answer(id=request.id, fields={"most": 200, "drafts": [
            {"room": "general", "thread": 12, "text": "yes,\nand", "updated_at": now},
            {"room": "@ann:bob", "text": "lunch at", "updated_at": now - 3 * 3_600_000},
            {"room": 5, "text": "junk"}]}))
    assert s.lines()[-3:] == [
        "-- drafts (2), the latest first:",
        "  [general, thread of message 12] · just now: yes, and",
        "  [@bob] · 3 h ago: lunch at"]
    await s.event(DraftChanged(room="general", text="half typed", updated_at=now))
    await s.event(DraftChanged(room="@ann:bob", text="", updated_at=now))
    assert s.client.drafts == {("general", 12): "yes,\nand", ("general", 0): "half typed"}
    assert "half typed" not in "\n".join(s.lines())  # kept quietly
    s.client.current = "@ann:bob"
    await s.line("/switch general")
    assert s.lines()[-1] == "-- your draft here: half typed (/drafts lists them all)"
    sent = len(s.link.sent)
    await s.line("/drafts frobnicate")
    assert len(s.link.sent) == sent
    assert s.lines()[-1] == "!! usage: /drafts [clear [ROOM]]"
    async with trio.open_nursery() as nursery:
        nursery.start_soon(s.line, "/drafts clear")
        await trio.testing.wait_all_tasks_blocked()
        request = s.last()
        assert isinstance(request, SetDraft)
        assert (request.room, request.thread, request.text) == ("general", None, "")
        await s.event(Answer(id=request.id, fields={"room": "general", "text": "",
                                                    "updated_at": now}))
    assert s.client.draft_of("general") == ""
    assert s.lines()[-1] == "-- no draft in [general] now"


async def test_drafts_from_the_terminal(tmp_path: Path, config: Config) -> None:  # noqa: F811
    """ann's phone saves a draft of [general]: the terminal lists it and shows it on
    switching back to [general]; the message ann sends from the terminal clears it on the
    phone."""
    async with running(config) as server, trio.open_nursery() as nursery, \
            ann_with_bob_and_phone(tmp_path, server, nursery) as (term, bob, phone):
        saved = await phone.request("set_draft", room="general", text="started on the phone")
        assert saved["op"] == "ok"
        await term.type("/drafts")
        await term.expect(r"-- drafts \(1\), the latest first:\n")
        await term.expect(r"  \[general\] · just now: started on the phone\n")
        await term.type("/switch @bob")
        await term.expect(r"-- talking in \[@bob\]\n")
        await term.type("/switch general")
        await term.expect(r"-- your draft here: started on the phone \(/drafts lists them "
                          r"all\)\n")
        await term.type("started on the phone, finished in the terminal")
        assert (await phone.event("draft", room="general"))["text"] == ""
        assert (await phone.request("drafts"))["drafts"] == []
        await bob.aclose()
        await phone.aclose()

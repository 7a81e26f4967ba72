"""`chatd client` and sidebar sections, end to end: a real client process (on a pty, or in a
batch) and a real daemon; ann's other device and bob are the tests' protocol client. And the
pure grouping the rooms line and /rooms use (:func:`chatd.client.terminal.sidebar_groups`).

What is checked: /section NAME puts the current room into the section of that name (any
case), making it when ann has none (her phone hears ``sections`` then ``section``); /section
alone puts it back; /sections lists them in her order with their rooms; another device's
changes are said here (a deleted section's rooms are back in the default list); /rooms and
the startup rooms line list the favourites, then each section in her order (a collapsed one
shows only what is unread), then the rest.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import trio

from chatd.client.terminal import sidebar_groups, sidebar_line
from chatd.config import Config
from tests.client.test_changes import ann_with_bob_and_phone
from tests.client.test_terminal import PASSWORD, client_in_batch
from tests.client.wire import Client, register_and_login
from tests.e2e.conftest import running
from tests.helpers import make_config


@pytest.fixture
def config(tmp_path: Path, database_dsn: str) -> Config:
    return make_config(tmp_path, database_dsn, limits={"rooms_per_hour": 100})


def _room(name: str, **fields: Any) -> dict[str, Any]:
    return {"room": name, "favourite": False, "section": None, "unread": 0, **fields}


def test_groups_in_the_users_order() -> None:
    """Favourites first, then every section in the list's order (an empty one too, a
    collapsed one with only its unread rooms and the current one), then the rest: rooms of
    no section and of a section not in the list; a favourite is listed with the favourites
    only."""
    work = {"id": 1, "name": "Work", "collapsed": False}
    fun = {"id": 2, "name": "Fun", "collapsed": True}
    empty = {"id": 3, "name": "Empty", "collapsed": False}
    rooms = [_room("a", section=2), _room("b", section=1), _room("c", section=2, unread=3),
             _room("d", favourite=True, favourite_at=5, section=1), _room("e"),
             _room("f", section=9), _room("g", section=2)]
    groups = sidebar_groups(rooms, [fun, work, empty], current="g")
    assert [(g.section and g.section["name"], [r["room"] for r in g.rooms], g.folded)
            for g in groups] == [
        (None, ["d"], 0), ("Fun", ["c", "g"], 1), ("Work", ["b"], 0), ("Empty", [], 0),
        (None, ["e", "f"], 0)]
    line = sidebar_line(groups, lambda obj: obj["room"])
    assert line == "d | Fun (collapsed, 1 more): c, g | Work: b | e, f"
    assert sidebar_line(sidebar_groups(rooms[3:5], []), lambda obj: obj["room"]) == "d, e"
    assert sidebar_line(sidebar_groups(rooms[3:5], [empty]), lambda obj: obj["room"]) == \
        "d, e"
    assert sidebar_groups([], [work]) == sidebar_groups([], [work])
    assert sidebar_line(sidebar_groups([], [work]), str) == ""


async def test_section_and_sections(tmp_path: Path, config: Config) -> None:
    """ann puts [general] into a new section Work from the terminal (her phone hears the
    list, then the move); /section work again says where it is and tells nobody; /rooms
    groups the rooms; her phone's new section and move are said here; /section alone puts
    general back; /sections lists them; her phone's deletion puts @bob back (/section there
    says it is in the default list already)."""
    async with running(config) as server, trio.open_nursery() as nursery, \
            ann_with_bob_and_phone(tmp_path, server, nursery) as (term, bob, phone):
        await term.type("/section Work")
        work = (await phone.event("sections"))["sections"][0]
        assert work["name"] == "Work"
        assert await phone.event("section", room="general", section=work["id"])
        await term.expect(r"-- sections: Work \(/sections lists them\)")
        await term.expect(r"-- \[general\] is in Work now")
        await term.type("/section work")
        await term.expect(r"-- \[general\] is in Work already")
        await phone.request("ping")
        assert [e for e in phone.events if e["op"] in ("sections", "section")] == []
        await term.type("/rooms")
        await term.expect(r"-- rooms \(2\), \* the current one:\n Work:\n \* general\n"
                          r" other rooms:\n   @bob \(1 unread\)\n")
        fun = (await phone.request("create_section", name="Fun", position=0))["section"]
        await term.expect(r"-- sections: Fun, Work")
        await phone.request("set_section", room="@ann:bob", section=fun["id"])
        await term.expect(r"-- \[@bob\] is in Fun now")
        await term.type("/section")
        assert await phone.event("section", room="general", section=None)
        await term.expect(r"-- \[general\] is back in the default list")
        await term.type("/sections")
        await term.expect(r"-- sections \(2\), in your order:\n   Fun \(1 room\)\n"
                          r"   Work \(0 rooms\)\n")
        await phone.request("delete_section", section=fun["id"])
        await term.expect(r"-- sections: Work \(")
        await term.type("/switch @bob")
        await term.type("/section")  # @bob was in Fun: the deletion put it back
        await term.expect(r"-- \[@bob\] is in the default list already")
        await term.type("/sections")
        await term.expect(r"-- sections \(1\), in your order:\n   Work \(0 rooms\)\n")
        await bob.aclose()
        await phone.aclose()


async def test_the_startup_line_and_rooms_by_section(tmp_path: Path, config: Config) -> None:
    """ann has the sections Work and Fun (collapsed), [general] in Work, [quiet] in Fun with
    nothing unread, [zoo] a favourite: the startup rooms line and /rooms list zoo, then Work
    with general, then Fun folded, then @bob."""
    async with running(config) as server:
        token = await register_and_login(server.http_port, "ann")
        await register_and_login(server.http_port, "bob")
        ann = await Client.signed_in(server.tcp_port, token)
        for room in ("general", "quiet", "zoo"):
            assert (await ann.request("join", room=room))["op"] == "ok"
        await ann.request("dm", to="bob", text="hi", nonce="a1")
        assert (await ann.request("favourite", room="zoo"))["favourite"] is True
        work = (await ann.request("create_section", name="Work"))["section"]
        fun = (await ann.request("create_section", name="Fun"))["section"]
        await ann.request("edit_section", section=fun["id"], collapsed=True)
        await ann.request("set_section", room="general", section=work["id"])
        await ann.request("set_section", room="quiet", section=fun["id"])
        await ann.aclose()
        returncode, output = await client_in_batch(tmp_path, server.http_port, "ann",
                                                   [PASSWORD, "/rooms"])
    assert returncode == 0, output
    [line] = re.findall(r"-- rooms: (.*)\n", output)
    assert line == "★ zoo | Work: general | Fun (collapsed, 1 more) | @bob", output
    listed = re.search(r"-- rooms \(4\), \* the current one:\n((?: .*\n){6})", output)
    assert listed is not None, output
    assert listed.group(1).splitlines() == [
        "   ★ zoo", " Work:", " * general", " Fun (collapsed, 1 more):", " other rooms:",
        "   @bob"], output

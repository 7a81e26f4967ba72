"""`chatd client` and favourites, end to end: a real client process (on a pty, or in a batch)
and a real daemon; ann's other device and bob are the tests' protocol client.

What is checked: /fav marks the current room (or the one named) a favourite and /unfav
unmarks it (the server keeps it: ann's other device hears the ``favourite`` event); another
device's mark is said here; /rooms and the startup rooms line list the favourites first, in
the order they were marked, with ★; a room the user is not in is refused without asking.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import trio

from chatd.config import Config
from tests.client.test_changes import ann_with_bob_and_phone
from tests.client.test_terminal import PASSWORD, client_in_batch
from tests.client.wire import Client, register_and_login
from tests.e2e.conftest import running
from tests.helpers import make_config


@pytest.fixture
def config(tmp_path: Path, database_dsn: str) -> Config:
    return make_config(tmp_path, database_dsn, limits={"rooms_per_hour": 100})


async def test_fav_and_unfav(tmp_path: Path, config: Config) -> None:
    """ann marks [general] by name, then [zoo] (the current room) from the terminal: her
    phone hears each; /rooms lists general then zoo, starred, before @bob; /fav again says
    so and tells nobody; her phone's unmark of general is said here and /rooms follows;
    /unfav unmarks zoo; a room she is not in is refused."""
    async with running(config) as server, trio.open_nursery() as nursery, \
            ann_with_bob_and_phone(tmp_path, server, nursery) as (term, bob, phone):
        await term.type("/join zoo")
        await term.expect(r"-- joined \[zoo\]")
        await term.type("/fav general")
        assert await phone.event("favourite", room="general", on=True)
        await term.expect(r"-- ★ \[general\] is a favourite: /rooms lists it first")
        await term.type("/fav")
        assert await phone.event("favourite", room="zoo", on=True)
        await term.expect(r"-- ★ \[zoo\] is a favourite")
        await term.type("/rooms")
        await term.expect(r"-- rooms \(3\), \* the current one:\n   ★ general\n \* ★ zoo\n"
                          r"   @bob \(1 unread\)\n")
        await term.type("/fav general")
        await term.expect(r"-- \[general\] is a favourite already")
        await phone.request("ping")
        assert [e for e in phone.events if e["op"] == "favourite"] == []
        await phone.request("favourite", room="general", on=False)
        await term.expect(r"-- \[general\] is no longer a favourite")
        await term.type("/rooms")
        await term.expect(r"-- rooms \(3\), \* the current one:\n \* ★ zoo\n"
                          r"   @bob \(1 unread\)\n   general\n")
        await term.type("/unfav")
        assert await phone.event("favourite", room="zoo", on=False)
        await term.expect(r"-- \[zoo\] is no longer a favourite")
        await term.type("/fav nowhere")
        await term.expect(r"!! /fav: you are not in \[nowhere\]")
        await bob.aclose()
        await phone.aclose()


async def test_the_startup_line_and_rooms_list_favourites_first(tmp_path: Path,
                                                                config: Config) -> None:
    """ann marked [zoo] then [general] (of @bob, general, quiet, zoo): the client's startup
    rooms line and /rooms list zoo, general (starred, in that order), then @bob, quiet."""
    async with running(config) as server:
        token = await register_and_login(server.http_port, "ann")
        await register_and_login(server.http_port, "bob")
        ann = await Client.signed_in(server.tcp_port, token)
        for room in ("general", "quiet", "zoo"):
            assert (await ann.request("join", room=room))["op"] == "ok"
        await ann.request("dm", to="bob", text="hi", nonce="a1")
        for room in ("zoo", "general"):
            assert (await ann.request("favourite", room=room))["favourite"] is True
            await ann.event("favourite", room=room)
        await ann.aclose()
        returncode, output = await client_in_batch(tmp_path, server.http_port, "ann",
                                                   [PASSWORD, "/rooms"])
    assert returncode == 0, output
    [line] = re.findall(r"-- rooms: (.*)\n", output)
    assert line == "★ zoo, ★ general, @bob, quiet", output
    listed = re.search(r"-- rooms \(4\), \* the current one:\n((?: .*\n){4})", output)
    assert listed is not None, output
    assert [row[3:] for row in listed.group(1).splitlines()] == [
        "★ zoo", "★ general", "@bob", "quiet"], output

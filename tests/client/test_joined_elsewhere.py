"""`chatd client` and a room joined on the user's other device, end to end: a real client
process on a pty and a real daemon; ann's other device and bob are the tests' protocol client.

What is checked: a room ann joins on her phone is said on the running terminal client and
known there at once (/fav and /switch act on it, /topic knows its topic from the room object
the client asks), without waiting for the next welcome; a room she joins with /join in the
terminal is said once, as before (not as another device's).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from chatd.config import Config
from tests.client.test_changes import ann_with_bob
from tests.client.wire import Client, register_and_login
from tests.e2e.conftest import running
from tests.helpers import make_config


@pytest.fixture
def config(tmp_path: Path, database_dsn: str) -> Config:
    return make_config(tmp_path, database_dsn)


async def test_a_room_joined_on_another_device(tmp_path: Path, config: Config) -> None:
    """ann's phone joins [zoo] (bob's, with a topic): her terminal says so, and /fav and
    /switch take [zoo], /topic shows its topic (from the room object the client asked), her
    phone's message there is shown; her own /join yard in the terminal says "joined [yard]"
    only, not "on another device"."""
    async with running(config) as server, trio.open_nursery() as nursery, \
            ann_with_bob(tmp_path, server, nursery) as (term, bob):
        phone = await Client.ws(server.http_port, nursery)
        await phone.hello(await register_and_login(server.http_port, "ann"))
        await bob.request("join", room="zoo")
        await bob.request("set_topic", room="zoo", topic="animals")
        await phone.request("join", room="zoo")
        await term.expect(r"-- joined \[zoo\] on another device; /switch zoo to talk there")
        await term.type("/fav zoo")
        assert await phone.event("favourite", room="zoo", on=True)
        await term.expect(r"-- ★ \[zoo\] is a favourite")
        await term.type("/switch zoo")
        await term.expect(r"-- talking in \[zoo\]")
        # its object was asked before /fav (answered in order): the topic is known
        await term.type("/topic")
        await term.expect(r"-- the topic of \[zoo\]: animals")
        await phone.request("send", room="zoo", text="hello from the phone", nonce="p1")
        await term.expect(r"hello from the phone")
        await term.type("/join yard")
        await term.expect(r"-- joined \[yard\]")
        await term.type("/switch general")
        await term.expect(r"-- talking in \[general\]")
        assert "joined [yard] on another device" not in term.text, term.text
        await bob.aclose()
        await phone.aclose()

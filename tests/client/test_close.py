"""`chatd client` and closed conversations, end to end: a real client process on a pty and a
real daemon; ann's other device and bob are the tests' protocol client.

What is checked: /close closes a conversation (the server keeps it: ann's other device hears
the ``hidden`` event); /rooms leaves it out while nobody wrote in it, and lists it again once
someone did; a room is refused without asking; another device's show is said here.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from chatd.config import Config
from tests.client.test_changes import Plain, ann_with_bob_and_phone
from tests.client.test_terminal import client_on_pty, log_in, party
from tests.client.wire import Client, register_and_login
from tests.e2e.conftest import running
from tests.helpers import make_config


@pytest.fixture
def config(tmp_path: Path, database_dsn: str) -> Config:
    return make_config(tmp_path, database_dsn)


async def test_close_a_conversation(tmp_path: Path, config: Config) -> None:
    """ann closes @bob from the terminal; /rooms leaves it out, then lists it once bob
    wrote; a room is refused; her phone's show is said."""
    async with running(config) as server, trio.open_nursery() as nursery, \
            ann_with_bob_and_phone(tmp_path, server, nursery) as (term, bob, phone):
        await term.type("/close general")
        await term.expect(r"!! /close: only a conversation is closed; /leave general")
        await term.type("/close @bob")
        assert await phone.event("hidden", room="@ann:bob", hidden_seq=1)
        await term.expect(r"-- closed \[@bob\]: /rooms leaves it out until someone "
                          r"writes in it")
        await term.type("/rooms")
        await term.expect(r"-- rooms \(1\), \* the current one:\n \* general\n"
                          r"-- 1 closed conversation\(s\) with nothing new not listed")
        await bob.request("dm", to="ann", text="still there?", nonce="b2")
        await term.expect(r"still there\?")
        await term.type("/rooms")
        await term.expect(r"-- rooms \(2\), \* the current one:\n   @bob \(2 unread\)\n"
                          r" \* general\n")
        await phone.request("hide", room="@ann:bob", on=False)
        await term.expect(r"-- \[@bob\] is listed again")
        await bob.aclose()
        await phone.aclose()


async def test_the_first_rooms_line_leaves_out_a_closed_conversation(tmp_path: Path,
                                                                      config: Config) -> None:
    """ann closed @bob on her phone; her terminal client, started after, lists [general] and
    @carol on its first rooms line, not @bob (it says one is closed)."""
    async with running(config) as server, trio.open_nursery() as nursery:
        phone = await Client.ws(server.http_port, nursery)
        await phone.hello(await register_and_login(server.http_port, "ann"))
        bob = await party(nursery, server, "bob", "general")
        carol = await party(nursery, server, "carol")
        await bob.request("invite", room="general", user="ann")
        await bob.request("dm", to="ann", text="lunch?", nonce="b1")
        await carol.request("dm", to="ann", text="hello", nonce="c1")
        await phone.request("hide", room="@ann:bob", on=True)
        async with client_on_pty(tmp_path, server.http_port, "ann") as pty:
            await log_in(pty)
            term = Plain(pty)
            line = await term.expect(r"-- rooms: (.*)\n")
            assert "@carol" in line.group(1) and "general" in line.group(1), line.group(1)
            assert "@bob" not in line.group(1), line.group(1)
            assert "1 closed conversation(s) with nothing new" in line.group(1)
        for client in (phone, bob, carol):
            await client.aclose()

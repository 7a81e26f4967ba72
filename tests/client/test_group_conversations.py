"""The terminal client and group conversations: ``/dm bob,carol TEXT`` starts or continues
one, shown as ``[@bob,carol]`` (the others, as /dm takes them) in messages, ``/rooms`` and
``/r``; a message of one the client has not seen is shown so too. Real daemon, real pty."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from chatd.config import Config
from tests.client.test_terminal import STAMPED, client_on_pty, log_in, party
from tests.client.wire import register_and_login
from tests.e2e.conftest import running
from tests.helpers import make_config


@pytest.fixture
def config(tmp_path: Path, database_dsn: str) -> Config:
    return make_config(tmp_path, database_dsn, server={"grace_period": 3.0})


async def test_dm_to_several_people(tmp_path: Path, config: Config) -> None:
    """``/dm bob,Carol TEXT`` makes the group conversation of the three (both receive it),
    shown as [@Bob,carol]; a message from carol to it is shown there; ``/rooms`` lists it
    so; ``/r @carol,bob`` (any order) talks in it; the help says how."""
    async with running(config) as server, trio.open_nursery() as nursery:
        await register_and_login(server.http_port, "ann")
        bob = await party(nursery, server, "Bob")
        carol = await party(nursery, server, "carol")
        async with client_on_pty(tmp_path, server.http_port, "ann") as term:
            await log_in(term)
            await term.type("/dm bob,Carol lunch?")
            await term.expect(rf"{STAMPED} \[@bob,carol\] ann: lunch\?\n")
            for other in (bob, carol):
                got = await other.event("message", room="@ann:bob:carol")
                assert (got["from"], got["text"]) == ("ann", "lunch?")
            await carol.request("send", room="@ann:bob:carol", text="sure", nonce="c1")
            await term.expect(r"\] carol: sure\n")
            await term.type("/rooms")
            await term.expect(r"   @Bob,carol \(1 unread\)\n")
            await term.type("/r @carol,bob")
            await term.expect(r"-- talking in \[@Bob,carol\]")
            await term.type("in the group")
            await term.expect(rf"{STAMPED} \[@Bob,carol\] ann: in the group\n")
            got = await bob.event("message", room="@ann:bob:carol", text="in the group")
            assert got["seq"] == 3
            await term.type("/dm bob,nobody hello")
            await term.expect(r"!! not sent to \[@bob,nobody\]: not_found")
            await term.type("/drop")
            await term.expect(r"-- dropped 1 unsent message")
            await term.type("/help")
            await term.expect(r"/dm USER\[,USER\.\.\.\] TEXT")
            for other in (bob, carol):
                await other.aclose()
        nursery.cancel_scope.cancel()


async def test_a_group_conversation_started_by_another(tmp_path: Path, config: Config) -> None:
    """A group conversation someone else started reaches the client without a join: its
    first message is shown under the others' names, and the client can answer there."""
    async with running(config) as server, trio.open_nursery() as nursery:
        await register_and_login(server.http_port, "ann")
        bob = await party(nursery, server, "bob")
        await register_and_login(server.http_port, "dan")
        async with client_on_pty(tmp_path, server.http_port, "ann") as term:
            await log_in(term)
            await bob.request("dm", to=["ann", "dan"], text="hi both", nonce="b1")
            await term.expect(rf"{STAMPED} \[@bob,dan\] bob: hi both\n")
            await term.type("/r @bob,dan")
            await term.expect(r"-- talking in \[@bob,dan\]")
            await term.type("hello")
            got = await bob.event("message", room="@ann:bob:dan", text="hello")
            assert got["from"] == "ann"
            await bob.aclose()
        nursery.cancel_scope.cancel()

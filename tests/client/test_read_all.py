"""`chatd client` and "Mark all as read", end to end: a real client process on a pty and a
real daemon; ann's other device (her phone) and bob are the tests' protocol client.

What is checked: /readall marks every room and conversation read on the server (the phone
hears a ``read`` for each, /rooms shows nothing unread) and says which; again, that nothing
was; /readall ROOM marks only that one; a bad name is refused without asking.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from chatd.config import Config
from tests.client.test_changes import ann_with_bob_and_phone
from tests.e2e.conftest import running
from tests.helpers import make_config


@pytest.fixture
def config(tmp_path: Path, database_dsn: str) -> Config:
    return make_config(tmp_path, database_dsn)


async def test_read_all(tmp_path: Path, config: Config) -> None:
    """bob wrote in [general] and to ann; /readall marks both read (her phone is told of
    each; /rooms lists them without unread), and says so; again: nothing was unread; with a
    name only that room; a bad name is refused."""
    async with running(config) as server, trio.open_nursery() as nursery, \
            ann_with_bob_and_phone(tmp_path, server, nursery) as (term, bob, phone):
        await bob.request("send", room="general", text="standup in 5", nonce="b2")
        await term.expect(r"standup in 5")
        await term.type("/rooms")
        await term.expect(r"   @bob \(1 unread\)\n \* general \(1 unread\)\n")
        await term.type("/readall")
        await term.expect(r"-- marked 2 rooms read: \[@bob\], \[general\]\n")
        assert await phone.event("read", room="@ann:bob", seq=1)
        assert await phone.event("read", room="general")
        await term.type("/rooms")
        await term.expect(r"-- rooms \(2\), \* the current one:\n   @bob\n \* general\n")
        await term.type("/readall")
        await term.expect(r"-- nothing was unread\n")
        await bob.request("send", room="general", text="now", nonce="b3")
        await bob.request("dm", to="ann", text="and you?", nonce="b4")
        await term.expect(r"and you\?")
        await term.type("/readall general")
        await term.expect(r"-- marked 1 room read: \[general\]\n")
        await term.type("/rooms")
        await term.expect(r"   @bob \(1 unread\)\n \* general\n")
        await term.type("/readall Not-A-Room!")
        await term.expect(r"!! 'Not-A-Room!': ")
        await bob.aclose()
        await phone.aclose()

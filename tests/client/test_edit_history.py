"""The terminal client's ``/edits N``: the versions of message [N], oldest first, with who
and when; a message never edited says so; a deleted one and a wrong number are refused
before asking. Against a real server, the client on a pty, bob over WebSocket."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from chatd.config import Config
from tests.client.test_changes import _n, ann_with_bob
from tests.e2e.conftest import running
from tests.helpers import make_config

STAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d"


@pytest.fixture
def config(tmp_path: Path, database_dsn: str) -> Config:
    return make_config(tmp_path, database_dsn, server={"grace_period": 3.0})


async def test_edits_prints_every_version(tmp_path: Path, config: Config) -> None:
    """bob sends "lunch at 12?" and edits it twice; ann's /edits N prints the three
    versions, the original first and the text now last, each with bob and a time; an
    unedited message is "never edited"; a deleted one and a number shown nowhere are
    refused."""
    async with (running(config) as server, trio.open_nursery() as nursery,
                ann_with_bob(tmp_path, server, nursery) as (term, bob)):
        sent = await bob.request("send", room="general", text="lunch at 12?", nonce="b1")
        n = _n(await term.expect(r"\[(\d+)\] \S+ \[general\] bob: lunch at 12\?\n"))
        for text in ("lunch at 1?", "lunch at 1 in the park?"):
            await bob.request("edit", room="general", msg_id=sent["msg_id"], text=text)
        await term.expect(r"bob: lunch at 1 in the park\?")

        await term.type(f"/edits {n}")
        await term.expect(rf"versions of \[{n}\] in \[general\], the oldest first:\n")
        await term.expect(rf"  original · {STAMP} · bob: lunch at 12\?\n")
        await term.expect(rf"  version 2 · {STAMP} · bob: lunch at 1\?\n")
        await term.expect(rf"  now · {STAMP} · bob: lunch at 1 in the park\?\n")

        plain = await bob.request("send", room="general", text="see you", nonce="b2")
        m = _n(await term.expect(r"\[(\d+)\] \S+ \[general\] bob: see you\n"))
        await term.type(f"/edits {m}")
        await term.expect(rf"\[{m}\] was never edited")

        await bob.request("delete", room="general", msg_id=plain["msg_id"])
        await term.expect(r"deleted")
        await term.type(f"/edits {m}")
        await term.expect(rf"/edits: \[{m}\] is deleted")
        await term.type("/edits 999")
        await term.expect(r"/edits: no message \[999\]")
        await term.type("/edits soon")
        await term.expect(r"usage: /edits N")
        await bob.aclose()

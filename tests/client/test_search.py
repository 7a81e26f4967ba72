"""The terminal client's /search and --bell: a real client process on a pty and a real daemon
(the other party is the tests' protocol client), and the pieces in memory.

What is checked: /search prints each match with its short number, day and time, room,
sender and snippet, the matched words in bold; /search more pages; a result can be answered
by its number; --bell rings (BEL) for a direct message and for a mention by someone else,
and for nothing else; without --bell nothing rings.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import trio

from chatd.client.render import plain_text, search_spans
from chatd.client.terminal import Span, Style
from chatd.config import Config
from chatd.protocol import MessagePosted
from tests.client.test_changes import BOLD, OFF, Plain, ann_with_bob
from tests.client.test_commands import Session
from tests.client.test_terminal import client_on_pty, config, log_in, party  # noqa: F401
from tests.client.wire import register_and_login
from tests.e2e.conftest import running
from tests.helpers import search_caught_up

DAY_TIME = r"\d{4}-\d\d-\d\d \d\d:\d\d"


def _message(**fields: object) -> MessagePosted:
    base: dict[str, object] = {"room": "ops", "seq": 3, "msg_id": 9, "sender": "bob",
                               "text": "the deployment\nis done", "ts": 1_732_700_000_000,
                               "nonce": "n"}
    base.update(fields)
    return MessagePosted(**base)  # type: ignore[arg-type]


def test_search_spans() -> None:
    """A result: number, day and time, room, sender, then the snippet with hits in bold
    (between * without styles); line breaks as spaces; control characters made safe."""
    snippet: list[dict[str, Any]] = [{"text": "the ", "hit": False},
                                     {"text": "deployment", "hit": True},
                                     {"text": "\nis \x1b[2Jdone", "hit": False}, {"bogus": 1}]
    spans = search_spans(_message(), snippet, number=4, label="ops")
    assert re.fullmatch(rf"\[4\] {DAY_TIME} \[ops\] bob: the deployment is \ufffd\[2Jdone",
                        plain_text(spans))
    assert Span("deployment", Style.BOLD) in spans
    plain = search_spans(_message(), snippet, number=None, label="ops", styled=False)
    assert re.fullmatch(rf"{DAY_TIME} \[ops\] bob: the \*deployment\* is \ufffd\[2Jdone",
                        plain_text(plain))
    assert plain_text(search_spans(_message(text=""), [], number=1, label="ops")).endswith(
        "(no text)")


async def test_the_bell_rings_for_direct_messages_and_mentions_only() -> None:
    """With --bell: a DM or a mention of the user by someone else rings, whichever room is
    current; a plain message, the user's own, or anything without --bell does not."""
    s = Session()
    assert not s.client.rings_for(_message(room="@ann:bob"))  # no --bell
    s.client.options = dataclasses.replace(s.client.options, bell=True)
    assert s.client.rings_for(_message(room="@ann:bob"))
    assert s.client.rings_for(_message(room="general", mentions=("Ann",)))
    assert not s.client.rings_for(_message(room="general"))
    assert not s.client.rings_for(_message(room="@ann:bob", sender="ann"))
    assert not s.client.rings_for(_message(room="@ann:bob", deleted=True, text=""))
    await s.post("bob", "hi ann", room="@ann:bob")
    await s.post("bob", "just chatting")
    await s.post("bob", "@ann look", mentions=("ann",))
    assert s.out.getvalue().count("\a") == 2


async def test_search_in_the_terminal(tmp_path: Path, config: Config) -> None:  # noqa: F811
    """/search shows matches newest first with numbers, snippets in bold; /search more the
    next page; /reply works on a result's number; a bad query prints the server's reason."""
    async with running(config) as server, trio.open_nursery() as nursery:
        await register_and_login(server.http_port, "ann")
        bob = await party(nursery, server, "bob", "general")
        await bob.request("invite", room="general", user="ann")
        for i in range(12):
            await bob.request("send", room="general", text=f"deployment step {i} done",
                              nonce=f"d{i}")
        await bob.request("send", room="general", text="lunch?", nonce="l")
        await search_caught_up(server.app.storage)
        async with client_on_pty(tmp_path, server.http_port, "ann") as pty:
            await log_in(pty)
            term = Plain(pty)
            await term.expect(r"-- talking in \[general\]")
            await term.type("/search DEPLOY")
            await term.expect(r"-- messages matching 'DEPLOY', newest first:\n")
            found = await term.expect(rf"\[(\d+)\] {DAY_TIME} \[general\] bob: deployment "
                                      r"step 11 done\n")
            assert f"bob: {BOLD}deployment{OFF} step 11 done" in pty.text
            for i in range(10, 1, -1):
                await term.expect(rf"\] {DAY_TIME} \[general\] bob: deployment step {i} done\n")
            await term.expect(r"-- /search more for older ones\n")
            await term.type("/search more")
            await term.expect(r"-- more messages matching 'DEPLOY', newest first:\n")
            await term.expect(r"bob: deployment step 1 done\n")
            await term.expect(r"bob: deployment step 0 done\n")
            await term.type("/search more")
            await term.expect(r"!! /search more: no search has more results")

            await term.type(f"/reply {found.group(1)} great")
            reply = await bob.event("message", room="general", text="great")
            assert reply["quote"]["text"] == "deployment step 11 done"

            await term.type("/search -lunch")
            await term.expect(r"!! /search: bad_request: say what to look for")
            await term.type("/search nothingmatches")
            await term.expect(r"-- no messages match 'nothingmatches'")
        await bob.aclose()
        nursery.cancel_scope.cancel()


async def test_the_bell_in_the_terminal(tmp_path: Path, config: Config) -> None:  # noqa: F811
    """chatd client --bell rings once for a DM and once for a mention, not for a plain
    message."""
    async with running(config) as server, trio.open_nursery() as nursery:
        async with ann_with_bob(tmp_path, server, nursery, "--bell") as (term, bob):
            pty = term.term
            await bob.request("send", room="general", text="plain words", nonce="p")
            await term.expect(r"bob: plain words\n")
            assert pty.raw.count(b"\a") == 0
            await bob.request("dm", to="ann", text="psst", nonce="d")
            await term.expect(r"bob: psst\n")
            await bob.request("send", room="general", text="hey @ann", nonce="m")
            await term.expect(r"bob: hey @ann\n")
            await bob.request("send", room="general", text="the end", nonce="e")
            await term.expect(r"bob: the end\n")
            assert pty.raw.count(b"\a") == 2
        await bob.aclose()
        nursery.cancel_scope.cancel()

"""`chatd client` and link previews, end to end: a real client process on a pty, a real daemon
that fetches real pages from 127.0.0.1 (tests/pageserver.py); the other party is the tests'
protocol client.

What is checked: a preview made while the client is there is printed once, as one indented
line after its message ("  ↳ Title — site"); a message read with its preview (joining a room)
is printed with that line under it; /unpreview removes one, and is refused to others than
its author and the room's moderators.
"""

from __future__ import annotations

import re
from pathlib import Path

import trio

from tests.client.test_changes import Plain
from tests.client.test_terminal import STAMPED, WAIT, client_on_pty, log_in, party
from tests.client.wire import register_and_login
from tests.e2e.conftest import running
from tests.helpers import make_config
from tests.pageserver import Page, PageServer, html


async def test_previews_are_shown_under_their_message(tmp_path: Path,
                                                      database_dsn: str) -> None:
    """bob posts a link: ann's terminal shows the message, then "  ↳ Title — site" with the
    message's number, once; joining a room shows an old message with its preview under it."""
    config = make_config(tmp_path, database_dsn, server={"grace_period": 3.0},
                         previews={"enabled": True, "allow_private_addresses": True,
                                   "timeout_seconds": 5.0})
    async with running(config) as server, trio.open_nursery() as nursery:
        pages = PageServer()
        await nursery.start(pages.serve)
        pages.pages["/pr"] = Page(html("ignored", head=(
            '<meta property="og:title" content="Fix the flaky test">'
            '<meta property="og:site_name" content="Forge">')))
        pages.pages["/old"] = Page(html("An older page"))
        await register_and_login(server.http_port, "ann")
        bob = await party(nursery, server, "bob", "general", "archive")
        await bob.request("invite", room="general", user="ann")
        old = await bob.request("send", room="archive", text=f"see {pages.url('/old')}",
                                nonce="b0")
        await bob.event("preview", msg_id=old["msg_id"])
        async with client_on_pty(tmp_path, server.http_port, "ann") as pty:
            await log_in(pty)
            term = Plain(pty)
            await term.expect(r"-- talking in \[general\]")
            sent = await bob.request("send", room="general", text=f"review {pages.url('/pr')}",
                                     nonce="b1")
            number = (await term.expect(rf"\[(\d+)\] {STAMPED} \[general\] bob: review "
                                        rf"{re.escape(pages.url('/pr'))}\n")).group(1)
            await bob.event("preview", msg_id=sent["msg_id"])
            await term.expect(rf"(?m)^  ↳ Fix the flaky test — Forge  \[{number}\]\n")

            # Only its author (or a moderator) removes it: bob's is not ann's to remove.
            await term.type(f"/unpreview {number}")
            await term.expect(r"!! /unpreview: .*only its author or the room's owner or "
                              r"moderators can remove")
            await term.type(f"mine: {pages.url('/pr')}")
            mine = (await term.expect(rf"\[(\d+)\] {STAMPED} \[general\] ann: mine: ")).group(1)
            await term.expect(rf"(?m)^  ↳ Fix the flaky test — Forge  \[{mine}\]\n")
            await term.type(f"/unpreview {mine}")
            await term.expect(rf"-- removed the preview of \[{mine}\]")
            await bob.event("preview", removed=True)
            await term.type(f"/unpreview {mine}")
            await term.expect(rf"-- \[{mine}\] has no preview")

            await term.type("/join archive")
            await term.expect(rf"{STAMPED} \[archive\] bob: see {re.escape(pages.url('/old'))}\n"
                              r"  ↳ An older page — 127\.0\.0\.1\n")
            await term.type("/quit")
            with trio.fail_after(WAIT):
                assert await pty.proc.wait() == 0, pty.text
        # Each preview printed once: bob's, and ann's own.
        assert len(re.findall(r"↳ Fix the flaky test — Forge  \[\d+\]", term.text)) == 2
        await bob.aclose()
        nursery.cancel_scope.cancel()

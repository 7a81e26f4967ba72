"""`chatd client` and changes to messages, end to end: a real client process on a pty (as in
tests/client/test_terminal.py) and a real daemon; the other party is the tests' protocol client.

What is checked: /reply, /edit, /react and /delete reach the other member as the protocol's
entries; the other member's changes are shown, each once, as the message now reads; Markdown
is shown with the terminal's styles and escape sequences in a message are not; after a
restart of the daemon, what changed while the client was away is shown once, as it is now.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trio

from chatd.config import Config
from chatd.server import Server
from tests.client.test_terminal import (
    STAMPED,
    WAIT,
    Terminal,
    _free_port,
    client_on_pty,
    log_in,
    party,
)
from tests.client.wire import Client, register_and_login
from tests.e2e.conftest import running
from tests.helpers import make_config

BOLD, REVERSE, OFF = "\x1b[1m", "\x1b[1;7m", "\x1b[0m"
# The client's own escape sequences: SGR with the parameters of its styles, and reset.
OURS = re.compile(r"\x1b\[[1-9](?:;[1-9])*m|\x1b\[0m")


@pytest.fixture
def config(tmp_path: Path, database_dsn: str) -> Config:
    return make_config(tmp_path, database_dsn, server={"grace_period": 3.0})


def _n(found: re.Match[str]) -> str:
    return found.group(1)


class Plain:
    """Reads a :class:`Terminal` as a person does: without the client's styles (its raw
    output is still there to check them)."""

    def __init__(self, term: Terminal) -> None:
        self.term = term
        self._pos = 0

    @property
    def text(self) -> str:
        return OURS.sub("", self.term.text)

    async def expect(self, pattern: str, within: float = WAIT) -> re.Match[str]:
        """Wait for ``pattern`` after what earlier expects matched; move past it."""
        regex = re.compile(pattern)
        with trio.move_on_after(within):
            while True:
                found = regex.search(self.text, self._pos)
                if found:
                    self._pos = found.end()
                    return found
                if self.term.closed:
                    break
                await self.term._changed.wait()
        raise AssertionError(f"no {pattern!r} in the client's output after position "
                             f"{self._pos}:\n{self.text}")

    async def type(self, line: str) -> None:
        await self.term.type(line)


@asynccontextmanager
async def ann_with_bob(tmp_path: Path, server: Server, nursery: trio.Nursery,
                       *extra: str) -> AsyncIterator[tuple[Plain, Client]]:
    """ann's terminal client (with the options ``extra``) on a pty, logged in and talking in
    [general], with bob (a WebSocket client in ``nursery``) who invited her there. On
    leaving, ann's client is asked to /quit and must exit 0 (:func:`client_on_pty`); bob's
    connection stays open (what the server kept can still be asked), the caller closes it."""
    await register_and_login(server.http_port, "ann")
    bob = await party(nursery, server, "bob", "general")
    await bob.request("invite", room="general", user="ann")
    async with client_on_pty(tmp_path, server.http_port, "ann", *extra) as pty:
        await log_in(pty)
        term = Plain(pty)
        await term.expect(r"-- talking in \[general\]")
        yield term, bob


@asynccontextmanager
async def ann_with_bob_and_phone(tmp_path: Path, server: Server, nursery: trio.Nursery
                                 ) -> AsyncIterator[tuple[Plain, Client, Client]]:
    """As :func:`ann_with_bob`, with ann's other device (her phone: a WebSocket client in
    ``nursery``) and bob's DM "lunch?" shown in her terminal (@bob is a conversation of
    hers). The caller closes bob's and the phone's connections."""
    async with ann_with_bob(tmp_path, server, nursery) as (term, bob):
        phone = await Client.ws(server.http_port, nursery)
        await phone.hello(await register_and_login(server.http_port, "ann"))
        await bob.request("dm", to="ann", text="lunch?", nonce="b1")
        await term.expect(r"lunch\?")
        yield term, bob, phone


@asynccontextmanager
async def ann_joins_bob(tmp_path: Path, server: Server,
                        nursery: trio.Nursery) -> AsyncIterator[tuple[Plain, Client]]:
    """As :func:`ann_with_bob`, but bob (in [general]) did not invite ann: her terminal
    client, logged in, /joins [general]."""
    bob = await party(nursery, server, "bob", "general")
    await register_and_login(server.http_port, "ann")
    async with client_on_pty(tmp_path, server.http_port, "ann") as pty:
        await log_in(pty)
        term = Plain(pty)
        await term.type("/join general")
        await term.expect(r"general")
        yield term, bob


async def test_reply_edit_react_delete_with_another_member(tmp_path: Path,
                                                           config: Config) -> None:
    """ann, in the terminal client, answers, edits, reacts and deletes by short number; bob
    (a WebSocket client) receives each as its entry; bob's changes and mention of ann are
    shown to ann, each once."""
    async with running(config) as server, trio.open_nursery() as nursery:
        async with ann_with_bob(tmp_path, server, nursery) as (term, bob):
            pty = term.term
            lunch = await bob.request("send", room="general", text="lunch at noon?",
                                      nonce="b1")
            n_lunch = _n(await term.expect(rf"\[(\d+)\] {STAMPED} \[general\] bob: "
                                           r"lunch at noon\?\n"))

            await term.type(f"/reply {n_lunch} yes, **at noon**")
            await term.expect(rf" {{6}}↳ re \[{n_lunch}\] bob: lunch at noon\?\n")
            n_yes = _n(await term.expect(rf"\[(\d+)\] {STAMPED} \[general\] ann: yes, at noon\n"))
            assert f"ann: yes, {BOLD}at noon{OFF}" in pty.text
            reply = await bob.event("message", room="general", text="yes, **at noon**")
            assert reply["reply_to"] == lunch["msg_id"]
            assert reply["quote"] == {"from": "bob", "text": "lunch at noon?"}

            await term.type("/edit yes, at 12:30")  # my last message
            edited = await bob.event("edited", room="general", msg_id=reply["msg_id"])
            assert (edited["text"], edited["from"]) == ("yes, at 12:30", "ann")
            await term.expect(rf"\[{n_yes}\] {STAMPED} \[general\] ann: yes, at 12:30 \(edited\)")

            await term.type(f"/react {n_lunch} 👍")
            put = await bob.event("reaction", room="general", msg_id=lunch["msg_id"])
            assert (put["emoji"], put["user"], put["on"]) == ("👍", "ann", True)
            await term.expect(rf"\[{n_lunch}\] {STAMPED} \[general\] bob: lunch at noon\?  👍 1  "
                              r"\(ann reacted 👍\)")
            await term.type(f"/react {n_lunch} :thumbsup:")  # again: taken back
            back = await bob.event("reaction", room="general", msg_id=lunch["msg_id"])
            assert (back["emoji"], back["on"]) == ("👍", False)
            await term.expect(r"\(ann took back 👍\)")

            await bob.request("react", room="general", msg_id=reply["msg_id"], emoji="❤")
            await term.expect(rf"\[{n_yes}\] {STAMPED} \[general\] ann: yes, at 12:30  ❤️ 1  "
                              r"\(bob reacted ❤️\)")
            await bob.request("edit", room="general", msg_id=lunch["msg_id"],
                              text="lunch at 12:30 then, @ann?")
            await term.expect(rf"\[{n_lunch}\] {STAMPED} \[general\] bob: lunch at 12:30 "
                              r"then, @ann\? \(edited\)")
            assert f"then, {REVERSE}@ann{OFF}?" in pty.text

            await term.type(f"/delete {n_yes}")
            await term.expect(rf"-- /delete {n_yes}! deletes it, for everyone")
            await term.type(f"/delete {n_yes}!")
            gone = await bob.event("deleted", room="general", msg_id=reply["msg_id"])
            assert gone["by"] == "ann"
            await term.expect(rf"\[{n_yes}\] {STAMPED} \[general\] ann: \[deleted\]")
            await term.type(f"/edit {n_lunch} mine now")
            await term.expect(rf"!! /edit: \[{n_lunch}\] is bob's; only its author can edit it")

            await bob.request("send", room="general", nonce="b2",
                              text="**\x1b[31mred\x1b[0m** `\x1b]0;pwned\x07`")
            await term.expect(r"bob: \ufffd\[31mred\ufffd\[0m \ufffd\]0;pwned\ufffd\n")
            assert f"bob: {BOLD}\ufffd[31mred\ufffd[0m{OFF} " in pty.text

        text = pty.raw.decode("utf-8", "replace")
        assert "\x1b" not in OURS.sub("", text)  # no sequence of a peer
        assert "\x07" not in text
        assert len(re.findall(r"\(bob reacted ❤️\)", text)) == 1
        assert len(re.findall(r"\] bob: lunch at noon\?\r?\n", text)) == 1
        log = await bob.request("history", room="general")
        now = {m["msg_id"]: m for m in log["messages"] if m["op"] == "message"}
        assert now[reply["msg_id"]]["deleted"] is True
        assert now[lunch["msg_id"]]["text"] == "lunch at 12:30 then, @ann?"
        assert "reactions" not in now[lunch["msg_id"]]
        await bob.aclose()
        nursery.cancel_scope.cancel()


@pytest.mark.slow
async def test_changes_made_while_away_are_shown_once(tmp_path: Path,
                                                      database_dsn: str) -> None:
    """While the client cannot reach the daemon, bob edits, reacts to and deletes messages
    it has shown and posts more, past the resume limit (so the client is told of a gap and
    pages it): after the reconnect each change is shown once, the messages read as they are
    now, and a change typed while away is sent once."""
    config = make_config(tmp_path, database_dsn, server={"grace_period": 3.0},
                         http={"port": _free_port()}, tcp={"port": _free_port()},
                         limits={"resume_max": 3})
    elsewhere = config.replace(http={"port": 0}, tcp={"port": 0})  # same database and secret
    async with trio.open_nursery() as nursery, \
            client_on_pty(tmp_path, config.http.port, "ann") as pty:
        term = Plain(pty)
        async with running(config) as server:
            await register_and_login(server.http_port, "ann")
            bob = await party(nursery, server, "bob", "general")
            await bob.request("invite", room="general", user="ann")
            one = await bob.request("send", room="general", text="one", nonce="b1")
            two = await bob.request("send", room="general", text="two", nonce="b2")
            await log_in(pty)
            await term.type("/join general")
            n_one = _n(await term.expect(rf"\[(\d+)\] {STAMPED} \[general\] bob: one\n"))
            assert n_one == "1"
            n_two = _n(await term.expect(rf"\[(\d+)\] {STAMPED} \[general\] bob: two\n"))
            await bob.aclose()
        await term.expect(r"-- connection lost")
        await term.type(f"/react {n_two} 🎉")
        await term.expect(rf"/react \[{n_two}\] 🎉: not connected; sent once reconnected")
        async with running(elsewhere) as other:  # the client cannot see this one
            bob = await party(nursery, other, "bob")
            for change in (
                {"op": "edit", "msg_id": one["msg_id"], "text": "one, edited"},
                {"op": "react", "msg_id": one["msg_id"], "emoji": "👍"},
                {"op": "edit", "msg_id": one["msg_id"], "text": "one, edited twice"},
                {"op": "delete", "msg_id": two["msg_id"]},
                {"op": "send", "text": "three", "nonce": "b3"},
            ):
                ack = await bob.request(change.pop("op"), room="general", **change)
                assert ack["op"] == "ok", ack
            await bob.aclose()
        async with running(config) as server:
            await term.expect(r"-- reconnected to ws://\S+ as ann", within=40)
            await term.expect(r"-- \d+ messages or changes missed in \[general\]; fetching them")
            await term.expect(rf"\[\d+\] {STAMPED} \[general\] bob: three\n")
            bob = await party(nursery, server, "bob")
            await bob.request("send", room="general", text="after", nonce="b9")
            await term.expect(rf"{STAMPED} \[general\] bob: after\n")
            await term.type("/quit")
            with trio.fail_after(WAIT):
                assert await pty.proc.wait() == 0, pty.text
            text = term.text
            after = text[text.index("-- reconnected"):]
            # Each change once, in order, ending on the messages as they are now.
            shown = [line for line in after.splitlines() if line.startswith("[")]
            assert [re.sub(STAMPED, "hh:mm", line) for line in shown] == [
                "[1] hh:mm [general] bob: one, edited (edited)",
                "[1] hh:mm [general] bob: one, edited  👍 1  (bob reacted 👍)",
                "[1] hh:mm [general] bob: one, edited twice (edited)  👍 1",
                f"[{n_two}] hh:mm [general] bob: [deleted]",
                "[3] hh:mm [general] bob: three",
                "[4] hh:mm [general] bob: after",
            ], after
            assert "bob: two" not in after and text.count("bob: three") == 1
            log = await bob.request("history", room="general")
            reactions = [e for e in log["messages"] if e["op"] == "reaction"]
            # The reaction typed while away found two deleted: refused, and said so.
            assert [(e["emoji"], e["user"]) for e in reactions] == [("👍", "bob")]
            assert re.search(rf"!! /react \[{n_two}\] 🎉: not_found", text), text
            await bob.aclose()
        nursery.cancel_scope.cancel()

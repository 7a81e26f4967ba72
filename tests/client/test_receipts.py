"""`chatd client` and read receipts, end to end: a real client process on a pty and a real
daemon; ann's other device, bob and cid are the tests' protocol client.

What is checked: /seen [N] says who has read message [N] (by default the latest one of the
current room), its author and the user aside; in a conversation a quiet line says when the
other person has read the user's latest message, once, and another when they stop sharing
their read receipts; /receipts says the setting and
/receipts off|on sets it (ann's other device hears the ``read_receipts`` event, which this
client says; setting what is set is said by the reply and tells nobody).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import trio

from chatd.config import Config
from tests.client.test_changes import ann_with_bob_and_phone
from tests.client.test_terminal import PASSWORD, STAMPED, client_in_batch, party
from tests.client.wire import Client, register_and_login
from tests.e2e.conftest import running
from tests.helpers import make_config


@pytest.fixture
def config(tmp_path: Path, database_dsn: str) -> Config:
    return make_config(tmp_path, database_dsn, server={"grace_period": 3.0})


async def test_seen_and_the_seen_line(tmp_path: Path, config: Config) -> None:
    """In [general] (ann, bob, cid): /seen of bob's message says nobody, then cid once cid
    read it (bob the author and ann aside); /seen N names an earlier one; in @bob, bob's
    read short of ann's message says nothing, his read of it "· bob has seen it", once
    though he reads on; a number that names nothing is refused without asking."""
    async with running(config) as server, trio.open_nursery() as nursery, \
            ann_with_bob_and_phone(tmp_path, server, nursery) as (term, bob, phone):
        cid = await party(nursery, server, "cid", "general")
        first = await bob.request("send", room="general", text="first post", nonce="b2")
        n_first = (await term.expect(rf"\[(\d+)\] {STAMPED} \[general\] bob: first post"))[1]
        later = await bob.request("send", room="general", text="lunch at noon?", nonce="b3")
        n_later = (await term.expect(rf"\[(\d+)\] {STAMPED} \[general\] bob: lunch at noon"))[1]
        await term.type("/seen")
        await term.expect(rf"-- \[{n_later}\] seen by nobody else yet\n")
        assert (await cid.request("read", room="general", seq=first["seq"]))["op"] == "ok"
        await term.type(f"/seen {n_first}")
        await term.expect(rf"-- \[{n_first}\] seen by 1: cid\n")
        await term.type("/readby")
        await term.expect(rf"-- \[{n_later}\] seen by nobody else yet\n")
        assert (await cid.request("read", room="general", seq=later["seq"]))["op"] == "ok"
        await term.type("/seen")
        await term.expect(rf"-- \[{n_later}\] seen by 1: cid\n")
        await term.type("/seen 999")
        await term.expect(r"!! /seen: no message \[999\]")

        await term.type("/switch @bob")
        await term.type("see you there")
        mine = await bob.event("message", room="@ann:bob", text="see you there")
        await term.expect(r"\[@bob\] ann: see you there")
        # bob reads up to his own "lunch?" only: not ann's message yet, nothing said (the
        # answer to /seen comes after the seen event, which the server sent first)
        assert (await bob.request("read", room="@ann:bob", seq=mine["seq"] - 1))["op"] == "ok"
        await term.type("/seen")
        await term.expect(r"-- \[\d+\] seen by nobody else yet\n")
        assert "has seen it" not in term.text
        assert (await bob.request("read", room="@ann:bob", seq=mine["seq"]))["op"] == "ok"
        await term.expect(r" {6}\[@bob\] · bob has seen it\n")
        again = await bob.request("dm", to="ann", text="ok", nonce="b4")
        await term.expect(r"\[@bob\] bob: ok")
        assert (await bob.request("read", room="@ann:bob", seq=again["seq"]))["op"] == "ok"
        await term.type("/seen")  # answered after the seen event, which came first
        await term.expect(r"-- \[\d+\] seen by nobody else yet\n")
        assert len(re.findall("has seen it", term.text)) == 1
        for client in (bob, cid, phone):
            await client.aclose()


async def test_a_position_taken_back(tmp_path: Path, config: Config) -> None:
    """bob has seen ann's message in @bob ("· bob has seen it"); he stops sharing: a quiet
    line takes it back ("· bob stopped sharing read receipts"); on again, his position is
    told and said again."""
    async with running(config) as server, trio.open_nursery() as nursery, \
            ann_with_bob_and_phone(tmp_path, server, nursery) as (term, bob, phone):
        await term.type("/switch @bob")
        await term.type("are you there")
        mine = await bob.event("message", room="@ann:bob", text="are you there")
        assert (await bob.request("read", room="@ann:bob", seq=mine["seq"]))["op"] == "ok"
        await term.expect(r" {6}\[@bob\] · bob has seen it\n")
        assert (await bob.request("set_read_receipts", on=False))["on"] is False
        await term.expect(r" {6}\[@bob\] · bob stopped sharing read receipts\n")
        assert (await bob.request("set_read_receipts", on=True))["on"] is True
        await term.expect(r" {6}\[@bob\] · bob has seen it\n")
        assert len(re.findall("has seen it", term.text)) == 2
        for client in (bob, phone):
            await client.aclose()


async def test_receipts_setting(tmp_path: Path, config: Config) -> None:
    """/receipts says it is on; /receipts off turns it off (the phone hears it, the terminal
    says it); again, the reply says so and the phone hears nothing; the phone's on is said
    here; a bad word is refused."""
    async with running(config) as server, trio.open_nursery() as nursery, \
            ann_with_bob_and_phone(tmp_path, server, nursery) as (term, bob, phone):
        await term.type("/receipts")
        await term.expect(r"-- read receipts are on: others see when you have read their "
                          r"messages\n")
        await term.type("/receipts off")
        assert await phone.event("read_receipts", on=False)
        await term.expect(r"-- read receipts are off: nobody sees when you have read their "
                          r"messages \(you still see theirs\)\n")
        await term.type("/receipts off")
        await term.expect(r"-- read receipts are off")
        await phone.request("ping")
        assert [e for e in phone.events if e["op"] == "read_receipts"] == []
        await phone.request("set_read_receipts", on=True)
        await term.expect(r"-- read receipts are on")
        await term.type("/receipts maybe")
        await term.expect(r"!! usage: /receipts \[on\|off\]")
        await bob.aclose()
        await phone.aclose()


async def test_the_setting_from_the_welcome(tmp_path: Path, config: Config) -> None:
    """ann turned her receipts off elsewhere: a client started after says so on /receipts
    (from its welcome's user object)."""
    async with running(config) as server:
        ann = await Client.signed_in(server.tcp_port,
                                     await register_and_login(server.http_port, "ann"))
        assert (await ann.request("set_read_receipts", on=False))["on"] is False
        await ann.aclose()
        returncode, output = await client_in_batch(tmp_path, server.http_port, "ann",
                                                   [PASSWORD, "/receipts"])
    assert returncode == 0, output
    assert "-- read receipts are off" in output, output

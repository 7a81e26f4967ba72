"""The terminal client's /topic, /notify and /audit: in memory on a fake link (as
tests/client/test_commands.py), then a real client process on a pty against a real daemon,
the other party (or another device of the same user) being the tests' protocol client.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import trio
import trio.testing

from chatd.client.render import audit_text
from chatd.client.session import RoomInfo
from chatd.client.terminal import room_summary
from chatd.config import Config
from chatd.protocol import (
    Answer,
    Audit,
    MessagePosted,
    NotifyChanged,
    Request,
    Sent,
    SetNotify,
    SetTopic,
    TopicChanged,
)
from chatd.server import Server
from tests.client.test_changes import Plain
from tests.client.test_commands import Session
from tests.client.test_terminal import client_on_pty, config, log_in, party  # noqa: F401
from tests.client.wire import Client, register_and_login
from tests.e2e.conftest import running

DAY_TIME = r"\d{4}-\d\d-\d\d \d\d:\d\d"


async def _ask(s: Session, line: str, reply: Any) -> Request:
    """Type ``line``; the request it sent, answered with ``reply(request_id)``."""
    async with trio.open_nursery() as nursery:
        nursery.start_soon(s.line, line)
        await trio.testing.wait_all_tasks_blocked()
        request = s.last()
        await s.event(reply(request.id))
    return request


def _session() -> Session:
    s = Session()
    s.client.rooms["general"] = RoomInfo()
    s.client.rooms["@ann:bob"] = RoomInfo(kind="dm", peer="bob")
    return s


# --------------------------------------------------------------------------- /topic


async def test_topic_is_shown_set_and_cleared() -> None:
    """/topic shows the current room's topic (as its entries keep it); /topic TEXT and
    /topic --clear ask for the current room; the entry, not the reply, says it changed; a
    topic that is so already is said to be."""
    s = _session()
    await s.line("/topic")
    assert s.lines()[-1] == "-- [general] has no topic; /topic TEXT sets one"
    assert s.link.sent == []

    def ok(rid: int) -> Sent:
        return Sent(id=rid, room="general", seq=7, msg_id=0, ts=1)

    assert await _ask(s, "/topic release on Friday", ok) == SetTopic(
        id=1, room="general", topic="release on Friday")
    assert s.lines()[-1] == "-- [general] has no topic; /topic TEXT sets one"  # no line yet
    await s.event(TopicChanged(room="general", seq=7, topic="release on Friday", by="ann",
                               ts=1))
    assert s.lines()[-1] == "-- ann set the topic of [general]: release on Friday"
    await s.line("/topic")
    assert s.lines()[-1] == "-- the topic of [general]: release on Friday"
    await _ask(s, "/topic release on Friday",
               lambda rid: dataclasses.replace(ok(rid), unchanged=True))
    assert s.lines()[-1] == "-- the topic of [general] is that already"
    assert await _ask(s, "/topic --clear", ok) == SetTopic(id=3, room="general", topic="")
    await _ask(s, "/topic --clear", lambda rid: dataclasses.replace(ok(rid), unchanged=True))
    assert s.lines()[-1] == "-- [general] has no topic already"
    s.client.current = None
    await s.line("/topic hello")
    assert s.lines()[-1] == "!! /topic: no current room (/join ROOM or /switch ROOM)"
    assert len(s.link.sent) == 4


# --------------------------------------------------------------------------- /notify


async def test_notify_shows_and_sets_the_level() -> None:
    """/notify [ROOM] LEVEL asks for the room (the current one by default, @user for a
    conversation); /notify [ROOM] shows the level known, saying when it is the default;
    mistakes send nothing."""
    s = _session()
    await s.line("/notify")
    assert s.lines()[-1] == ("-- notifications for [general]: mentions (the default); "
                             "/notify all|mentions|none changes it")
    await s.line("/notify @bob")
    assert s.lines()[-1] == ("-- notifications for [@bob]: all (the default); "
                             "/notify all|mentions|none changes it")
    assert await _ask(s, "/notify NONE", lambda rid: Answer(
        id=rid, fields={"room": "general", "notify": "none"})) == SetNotify(
        id=1, room="general", notify="none")
    assert s.lines()[-1] == "-- notifications for [general]: none"
    await s.line("/notify general")
    assert s.lines()[-1] == ("-- notifications for [general]: none; "
                             "/notify all|mentions|none changes it")
    assert await _ask(s, "/notify @bob mentions", lambda rid: Answer(
        id=rid, fields={"room": "@ann:bob", "notify": "mentions"})) == SetNotify(
        id=2, room="@ann:bob", notify="mentions")
    assert s.lines()[-1] == "-- notifications for [@bob]: mentions"
    await _ask(s, "/notify general none", lambda rid: Answer(
        id=rid, fields={"room": "general", "notify": "none"}))
    assert s.lines()[-1] == "-- notifications for [general]: none (unchanged)"
    sent = len(s.link.sent)
    for line in ("/notify general loud", "/notify a b c", "/notify nowhere", "/notify BAD!"):
        await s.line(line)
    assert len(s.link.sent) == sent
    assert s.lines()[-4:] == [
        "!! usage: /notify [ROOM] all|mentions|none",
        "!! usage: /notify [ROOM] all|mentions|none",
        "!! /notify: you are not in [nowhere]",
        s.lines()[-1],
    ]
    assert s.lines()[-1].startswith("!! 'BAD!': ")  # what is wrong with the name


async def test_a_level_is_shown_once_whichever_comes_first() -> None:
    """The ``notify`` event of one's own /notify comes before or after its reply: the
    change is shown once either way; another device's change is shown; an event that
    changes nothing shows nothing."""
    s = _session()
    for level, event_first in (("none", True), ("all", False)):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(s.line, f"/notify {level}")
            await trio.testing.wait_all_tasks_blocked()
            reply = Answer(id=s.last().id, fields={"room": "general", "notify": level})
            event = NotifyChanged(room="general", notify=level)
            for frame in (event, reply) if event_first else (reply, event):
                await s.event(frame)
    await s.event(NotifyChanged(room="general", notify="mentions"))  # another device
    await s.event(NotifyChanged(room="general", notify="mentions"))
    assert s.lines() == ["-- notifications for [general]: none",
                         "-- notifications for [general]: all",
                         "-- notifications for [general]: mentions"]
    assert s.client.notify_level("general") == "mentions"


async def test_the_bell_follows_the_level() -> None:
    """With --bell: a room at ``all`` rings for every message by someone else, one at
    ``none`` for nothing (not even a mention), a conversation at ``mentions`` still for
    every message (a direct message counts as one)."""
    s = _session()
    s.client.options = dataclasses.replace(s.client.options, bell=True)

    def message(room: str, **fields: Any) -> MessagePosted:
        base: dict[str, Any] = {"room": room, "seq": 1, "msg_id": 1, "sender": "bob",
                                "text": "hi", "ts": 1, "nonce": "n"}
        return MessagePosted(**{**base, **fields})

    assert not s.client.rings_for(message("general"))  # the default: mentions
    await s.event(NotifyChanged(room="general", notify="all"))
    assert s.client.rings_for(message("general"))
    assert not s.client.rings_for(message("general", sender="ann"))
    await s.event(NotifyChanged(room="general", notify="none"))
    assert not s.client.rings_for(message("general", mentions=("ann",)))
    await s.event(NotifyChanged(room="@ann:bob", notify="mentions"))
    assert s.client.rings_for(message("@ann:bob"))
    await s.event(NotifyChanged(room="@ann:bob", notify="none"))
    assert not s.client.rings_for(message("@ann:bob"))


async def test_the_bell_rings_for_a_group_mention() -> None:
    """With --bell, at ``mentions``: ``@room`` and ``@here`` by someone else ring as a
    mention of the user does (``@here`` if sent since the welcome); one's own do not; at
    ``none`` nothing does."""
    s = _session()
    s.client.options = dataclasses.replace(s.client.options, bell=True)

    def message(**fields: Any) -> MessagePosted:
        base: dict[str, Any] = {"room": "general", "seq": 1, "msg_id": 1, "sender": "bob",
                                "text": "@all hi", "ts": 1, "nonce": "n"}
        return MessagePosted(**{**base, **fields})

    s.client.online_since = 1
    assert s.client.rings_for(message(group="room"))
    assert s.client.rings_for(message(group="here", text="@here hi"))
    # An @here replayed from before this connection: the user was not online for it.
    assert not s.client.rings_for(message(group="here", text="@here hi", ts=0))
    assert not s.client.rings_for(message(group="room", sender="ann"))
    assert not s.client.rings_for(message())  # no group: words, not a mention
    await s.event(NotifyChanged(room="general", notify="none"))
    assert not s.client.rings_for(message(group="room"))


def test_room_summaries_show_a_level_that_is_not_the_default() -> None:
    """A room's summary (/rooms, the welcome) says its level when it is not the default for
    its kind."""
    assert room_summary({"kind": "room", "notify": "mentions"}, "general") == "general"
    assert room_summary({"kind": "room", "notify": "none", "unread": 2}, "general") == \
        "general (notify none) (2 unread)"
    assert room_summary({"kind": "dm", "notify": "all", "private": True}, "@bob") == "@bob"
    assert room_summary({"kind": "dm", "notify": "mentions"}, "@bob") == \
        "@bob (notify mentions)"
    assert room_summary({"kind": "room", "notify": "\x1b[2J"}, "general") == "general"


# --------------------------------------------------------------------------- /audit


def test_audit_entries_as_lines() -> None:
    """Each action of the log as a line: when, who (you; the command line when nobody),
    what, to whom, why; what the server sends is made safe; an action this client does not
    know is shown by its name."""
    def line(action: str, **fields: Any) -> str:
        entry = {"id": 1, "ts": 1_732_700_000_000, "actor": "bob", "action": action,
                 "target": "cid", "room": "team", "reason": None, "details": {}, **fields}
        text = audit_text(entry, "ann")
        assert re.match(rf"{DAY_TIME} ", text), text
        return text[17:]

    assert line("set_role", target="ann", details={"role": "moderator", "was": "member"}) \
        == "bob made you a moderator"
    assert line("set_role", details={"role": "owner"}) == "bob made cid the owner"
    assert line("ban", actor="ann", reason="spam", details={"expires_at": None}) == \
        "you banned cid for good (spam)"
    assert line("ban", details={"expires_at": 1_767_225_600_000}) == \
        "bob banned cid until 2026-01-01 00:00 UTC"
    assert line("unban") == "bob lifted the ban of cid"
    assert line("kick", reason="be nice") == "bob removed cid (be nice)"
    assert line("set_topic", target=None, details={"topic": "new\x1b[2J"}) == \
        "bob set the topic: new\ufffd[2J"
    assert line("set_topic", target=None, details={"topic": ""}) == "bob cleared the topic"
    assert line("delete", details={"msg_id": 4, "seq": 9}) == "bob deleted a message of cid"
    assert line("purge", details={"deleted": 3}) == "bob deleted 3 messages of cid"
    assert line("archive", target=None, actor=None) == "the command line archived the room"
    assert line("unarchive", target=None) == "bob unarchived the room"
    assert line("new_thing", details=[1]) == "bob new thing cid"
    assert line("create_room_link", target=None, details={"link": 3}) == "bob made join link #3"
    assert line("revoke_room_link", details={"link": 3}) == "bob revoked join link #3 of cid"
    assert line("revoke_room_link", target="bob", details={}) == "bob revoked join link"
    assert line("join_link", actor="dan", details={"link": 3}) == \
        "dan joined with cid's join link #3"
    assert audit_text({"action": "kick"}, "ann") == \
        "---------- --:-- the command line removed someone"


async def test_audit_pages() -> None:
    """/audit [ROOM] [BEFORE] asks for a page of the room (the current one by default);
    when more follow, the line for the next page is printed; mistakes send nothing."""
    s = _session()
    entries: list[dict[str, Any]] = [
        {"id": n, "ts": 1, "actor": "ann", "action": "kick", "target": "cid", "room": "general",
         "reason": None, "details": {}} for n in (9, 8)]
    assert await _ask(s, "/audit", lambda rid: Answer(
        id=rid, fields={"room": "general", "entries": entries, "more": True})) == Audit(
        id=1, room="general", before=None, limit=20)
    assert s.lines()[0] == "-- entries of the audit log of [general], newest first:"
    assert s.lines()[1].endswith(" you removed cid")
    assert s.lines()[-1] == "-- more: /audit general 8"
    assert await _ask(s, "/audit general 8", lambda rid: Answer(
        id=rid, fields={"room": "general", "entries": [], "more": False})) == Audit(
        id=2, room="general", before=8, limit=20)
    assert s.lines()[-1] == "-- no older entries in the audit log of [general]"
    sent = len(s.link.sent)
    for line in ("/audit general 0", "/audit general x", "/audit a 1 2"):
        await s.line(line)
    assert len(s.link.sent) == sent
    assert s.lines()[-3:] == ["!! usage: /audit [ROOM] [BEFORE]"] * 3


# --------------------------------------------------------------------------- end to end


async def _owner_with_ann(nursery: trio.Nursery, server: Server, room: str) -> Client:
    """bob (a WebSocket client) creates ``room``; ann joins it (and is not connected)."""
    bob = await party(nursery, server, "bob")
    assert (await bob.request("create_room", room=room))["op"] == "ok"
    ann = await party(nursery, server, "ann", room)
    await ann.aclose()
    return bob


@asynccontextmanager
async def ann_in_team(tmp_path: Path, server: Server) -> AsyncIterator[Plain]:
    """ann's terminal client on a pty, logged in and talking in [team]."""
    async with client_on_pty(tmp_path, server.http_port, "ann") as pty:
        await log_in(pty)
        term = Plain(pty)
        await term.expect(r"-- talking in \[team\]")
        yield term


async def test_topic_from_the_terminal(tmp_path: Path, config: Config) -> None:  # noqa: F811
    """ann, a member, is refused the topic with the server's words; once bob makes her a
    moderator, /topic sets it (bob's connection gets the entry) and /topic --clear clears
    it; bob's topic is shown in her terminal and by /topic."""
    async with running(config) as server, trio.open_nursery() as nursery:
        bob = await _owner_with_ann(nursery, server, "team")
        async with ann_in_team(tmp_path, server) as term:
            await term.type("/topic release on Friday")
            await term.expect(r"!! /topic: forbidden: only the room's owner or its "
                              r"moderators can set its topic")
            await bob.request("set_role", room="team", user="ann", role="moderator")
            await term.expect(r"-- bob made you a moderator of \[team\]")
            await term.type("/topic release on Friday")
            await term.expect(r"-- ann set the topic of \[team\]: release on Friday")
            got = await bob.event("topic", room="team")
            assert (got["topic"], got["by"]) == ("release on Friday", "ann")
            await bob.request("set_topic", room="team", topic="moved to Monday")
            await term.expect(r"-- bob set the topic of \[team\]: moved to Monday")
            await term.type("/topic")
            await term.expect(r"-- the topic of \[team\]: moved to Monday")
            await term.type("/topic --clear")
            await term.expect(r"-- ann set the topic of \[team\]: \(none\)")
            assert (await bob.event("topic", room="team", by="ann", topic=""))
            await term.type("/topic --clear")
            await term.expect(r"-- \[team\] has no topic already")
        await bob.aclose()
        nursery.cancel_scope.cancel()


async def test_notify_from_the_terminal(tmp_path: Path, config: Config) -> None:  # noqa: F811
    """/notify none is kept by the server: ann's other connection is told, /rooms shows
    it; her other device's change is shown in the terminal, once; a room she is not in is
    refused with the server's words."""
    async with running(config) as server, trio.open_nursery() as nursery:
        bob = await _owner_with_ann(nursery, server, "team")
        phone = await Client.ws(server.http_port, nursery)
        await phone.hello(await register_and_login(server.http_port, "ann"))
        async with ann_in_team(tmp_path, server) as term:
            await term.type("/notify")
            await term.expect(r"-- notifications for \[team\]: mentions \(the default\)")
            await term.type("/notify none")
            await term.expect(r"-- notifications for \[team\]: none\n")
            assert await phone.event("notify", room="team", notify="none")
            await term.type("/rooms")
            await term.expect(r"\* team \(notify none\)")
            await phone.request("set_notify", room="team", notify="all")
            await term.expect(r"-- notifications for \[team\]: all\n")
            await term.type("/notify team all")
            await term.expect(r"-- notifications for \[team\]: all \(unchanged\)")
            await term.type("/notify general none")
            await term.expect(r"!! /notify: not_found: ")
            await term.type("/notify")
            await term.expect(r"-- notifications for \[team\]: all; /notify")
            assert len(re.findall(r"notifications for \[team\]: none\n", term.text)) == 1
            assert len(re.findall(r"notifications for \[team\]: all\n", term.text)) == 1
        rooms = await phone.request("rooms", joined=True)
        assert [(r["room"], r["notify"]) for r in rooms["rooms"]] == [("team", "all")]
        await phone.aclose()
        await bob.aclose()
        nursery.cancel_scope.cancel()


async def test_audit_from_the_terminal(tmp_path: Path, config: Config) -> None:  # noqa: F811
    """A moderator's /audit lists the room's log newest first (the kick and the ban she
    just made first, with their reasons) a page at a time: the line it prints for the next
    page shows the rest; a member who does not moderate is refused with the server's
    words."""
    async with running(config) as server, trio.open_nursery() as nursery:
        bob = await _owner_with_ann(nursery, server, "team")
        cid = await party(nursery, server, "cid", "team")
        await bob.request("set_role", room="team", user="ann", role="moderator")
        for n in range(20):  # more than a page with the kick and the ban
            assert (await bob.request("set_topic", room="team", topic=f"t{n}"))["op"] == "ok"
        await bob.request("create_room", room="bobs")
        async with client_on_pty(tmp_path, server.http_port, "ann") as pty:
            await log_in(pty)
            term = Plain(pty)
            await term.type("/switch team")
            await term.expect(r"-- talking in \[team\]")
            await term.type("/kick cid be nice")
            await term.expect(r"-- you removed cid from \[team\] \(be nice\)")
            await cid.request("join", room="team")
            await term.expect(r"cid joined \[team\]")
            await term.type("/ban cid 1d spam")
            await term.expect(r"-- you banned cid from \[team\] until")
            await term.type("/audit")
            await term.expect(r"-- entries of the audit log of \[team\], newest first:\n")
            await term.expect(rf"  {DAY_TIME} you banned cid until {DAY_TIME} UTC \(spam\)\n"
                              rf"  {DAY_TIME} you removed cid \(be nice\)\n"
                              rf"  {DAY_TIME} bob set the topic: t19\n")
            found = await term.expect(r"  \S+ \S+ bob set the topic: t2\n"
                                      r"-- more: /audit team (\d+)\n")
            await term.type(f"/audit team {found.group(1)}")
            await term.expect(r"-- older entries of the audit log of \[team\], newest first:\n"
                              rf"  {DAY_TIME} bob set the topic: t1\n"
                              rf"  {DAY_TIME} bob set the topic: t0\n"
                              rf"  {DAY_TIME} bob made you a moderator\n")
            assert "more: /audit team" not in term.text[term._pos:]
            await term.type("/join bobs")
            await term.expect(r"-- joined \[bobs\]")
            await term.type("/audit")
            await term.expect(r"!! /audit: forbidden: ")
            assert term.text.count("more: /audit") == 1
        await cid.aclose()
        await bob.aclose()
        nursery.cancel_scope.cancel()


async def test_unread_from_the_terminal(tmp_path: Path, config: Config) -> None:  # noqa: F811
    """/unread N moves ann's marker back to just before [N]: her other device gets the
    ``read`` event that says ``back``, /rooms counts the messages again; her other device's
    own move back is told in the terminal."""
    async with running(config) as server, trio.open_nursery() as nursery:
        bob = await _owner_with_ann(nursery, server, "team")
        phone = await Client.ws(server.http_port, nursery)
        await phone.hello(await register_and_login(server.http_port, "ann"))
        async with ann_in_team(tmp_path, server) as term:
            seqs = [(await bob.request("send", room="team", text=text, nonce=text))["seq"]
                    for text in ("one", "two @ann", "three")]
            found = await term.expect(r"\[(\d+)\] \d\d:\d\d (?:\[team\] )?bob: two @ann")
            assert (await phone.request("read", room="team", seq=seqs[-1]))["seq"] == seqs[-1]
            await term.type(f"/unread {found.group(1)}")
            await term.expect(r"-- \[team\] marked unread from \[\d+\] on "
                              r"\(2 unread, 1 mention\)")
            moved = await phone.event("read", room="team", seq=seqs[0])
            assert (moved["back"], moved["unread"], moved["mentions"]) == (True, 2, 1)
            await term.type("/rooms")
            await term.expect(r"\* team \(2 unread, 1 mention\)")
            await phone.request("unread", room="team", seq=1)
            await term.expect(r"-- \[team\] was marked unread on another device "
                              r"\(3 unread, 1 mention\)")
        await phone.aclose()
        await bob.aclose()
        nursery.cancel_scope.cancel()

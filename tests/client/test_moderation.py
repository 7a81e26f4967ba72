"""The terminal client's moderation commands (/role, /ban, /unban, /kick, /bans) and how it
shows moderation entries: in memory on a fake link (as tests/client/test_commands.py), then
a real client process on a pty against a real daemon.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

from chatd.client.commands import ban_duration
from chatd.config import Config
from chatd.protocol import (
    Answer,
    Ban,
    Kick,
    MemberBanned,
    MemberKicked,
    MemberLeft,
    MemberUnbanned,
    Request,
    RoleChanged,
    SetRole,
    Unban,
)
from tests.client.test_changes import Plain
from tests.client.test_commands import Session
from tests.client.test_terminal import client_on_pty, log_in, party
from tests.client.wire import register_and_login
from tests.e2e.conftest import running
from tests.helpers import make_config


async def _ask(s: Session, line: str, **answer: Any) -> Request:
    """Type ``line``; the request it sent, answered ``ok`` with ``answer``."""
    async with trio.open_nursery() as nursery:
        nursery.start_soon(s.line, line)
        await trio.testing.wait_all_tasks_blocked()
        request = s.last()
        await s.event(Answer(id=request.id, fields=answer))
    return request


def test_ban_durations_as_typed() -> None:
    """30s, 10m, 2h, 7d, 1w; anything else is no duration (it starts the reason)."""
    assert [ban_duration(w) for w in ("30s", "10m", "2h", "7d", "1w")] == [
        30, 600, 7200, 604800, 604800]
    assert [ban_duration(w) for w in ("spam", "2", "h", "1y", "-1d", "2h30m")] == [None] * 6


async def test_moderation_commands_send_what_was_typed() -> None:
    """/role, /ban (with and without a duration and a reason), /unban and /kick ask for the
    current room; usage mistakes send nothing."""
    s = Session()
    assert await _ask(s, "/role Bob moderator", user="Bob", room="general",
                      role="moderator") == SetRole(id=1, room="general", user="Bob",
                                                   role="moderator")
    assert await _ask(s, "/ban bob 2h spamming links", user="bob") == Ban(
        id=2, room="general", user="bob", reason="spamming links", duration=7200)
    assert await _ask(s, "/ban bob spamming", user="bob") == Ban(
        id=3, room="general", user="bob", reason="spamming")
    assert await _ask(s, "/ban bob", user="bob") == Ban(id=4, room="general", user="bob")
    assert await _ask(s, "/ban bob 1w --delete 24h bot spam", user="bob", deleted=3) == Ban(
        id=5, room="general", user="bob", reason="bot spam", duration=604800,
        delete_messages=86400)
    assert s.lines()[-1] == "-- deleted 3 messages of bob in [general]"
    assert await _ask(s, "/ban bob --delete 7d", user="bob", deleted=1000,
                      more_deleted=True) == Ban(id=6, room="general", user="bob",
                                                delete_messages=604800)
    assert s.lines()[-1].endswith("(more are left: /ban again to delete them)")
    assert await _ask(s, "/unban bob", user="bob") == Unban(id=7, room="general", user="bob")
    assert await _ask(s, "/kick bob be nice", user="bob") == Kick(
        id=8, room="general", user="bob", reason="be nice")
    sent = len(s.link.sent)
    for line in ("/role bob", "/role bob king", "/ban", "/kick", "/unban", "/ban bob 0s",
                 "/ban bob --delete 8d", "/ban bob 1d --delete"):
        await s.line(line)
    assert len(s.link.sent) == sent
    assert s.lines()[-8:] == [
        "!! usage: /role USER moderator|member|owner",
        "!! usage: /role USER moderator|member|owner",
        "!! usage: /ban USER [30m|2h|7d] [--delete 1h|24h|7d] [REASON]",
        "!! usage: /kick USER [REASON]",
        "!! usage: /unban USER",
        "!! /ban: a duration is at least 1s",
        "!! /ban: --delete takes a duration up to 7d, e.g. 24h",
        "!! /ban: --delete takes a duration up to 7d, e.g. 24h",
    ]


async def test_entries_are_shown_once_and_unchanged_replies_said() -> None:
    """Each moderation entry is one line (a kick's or a ban's ``left`` adds none); a reply
    that changed nothing says so; a kick of me forgets the room."""
    s = Session()
    s.client.me = "ann"
    await s.event(RoleChanged(room="general", seq=1, user="bob", role="moderator", by="ann",
                              ts=1))
    await s.event(RoleChanged(room="general", seq=2, user="ann", role="owner", by="root",
                              ts=2))
    await s.event(MemberBanned(room="general", seq=3, user="eve", by="bob", ts=3,
                               reason="spam\x1b[31m", expires_at=1_767_225_600_000))
    await s.event(MemberLeft(room="general", user="eve", by="bob"))
    await s.event(MemberUnbanned(room="general", seq=4, user="eve", by="bob", ts=4))
    await s.event(MemberKicked(room="general", seq=5, user="cid", by="bob", ts=5))
    await s.event(MemberLeft(room="general", user="cid", by="bob"))
    assert s.lines() == [
        "-- you made bob a moderator of [general]",
        "-- root handed [general] over to you: the owner now",
        "-- bob banned eve from [general] until 2026-01-01 00:00 UTC (spam\ufffd[31m)",
        "-- bob lifted the ban of eve from [general]",
        "-- bob removed cid from [general]",
    ]
    await _ask(s, "/unban eve", user="eve", room="general", unchanged=True)
    assert s.lines()[-1] == "-- eve is not banned from [general]"
    await s.event(MemberKicked(room="general", seq=6, user="ann", by="root", ts=6,
                               reason="bye"))
    await s.event(MemberLeft(room="general", user="ann", by="root"))
    assert s.lines()[-2:] == ["-- root removed you from [general] (bye)",
                              "-- no current room: /switch ROOM or /join ROOM"]
    assert "general" not in s.client.rooms and s.client.current is None


@pytest.fixture
def config(tmp_path: Path, database_dsn: str) -> Config:
    return make_config(tmp_path, database_dsn, server={"grace_period": 3.0})


async def test_moderating_from_the_terminal(tmp_path: Path, config: Config) -> None:
    """ann, the owner, in the terminal client: /role makes bob a moderator, /ban removes
    him at once (his connection gets ``left``), /bans lists it, /unban lifts it; each entry
    is shown in ann's terminal as the room's members see it."""
    async with running(config) as server, trio.open_nursery() as nursery:
        await register_and_login(server.http_port, "ann")
        bob = await party(nursery, server, "bob", "general")
        async with client_on_pty(tmp_path, server.http_port, "ann") as pty:
            await log_in(pty)
            term = Plain(pty)
            await term.type("/create team")
            await term.expect(r"-- created room \[team\]")
            await bob.request("join", room="team")
            await term.type("/role bob moderator")
            await term.expect(r"-- you made bob a moderator of \[team\]")
            assert (await bob.event("role", room="team"))["role"] == "moderator"
            await term.type("/ban bob 1d too loud")
            found = await term.expect(r"-- you banned bob from \[team\] until (\S+ \S+) UTC "
                                      r"\(too loud\)")
            assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", found.group(1))
            assert await bob.event("left", room="team", user="bob", by="ann")
            await term.type("/bans")
            await term.expect(r"banned from \[team\]:\s+bob by ann until")
            await term.type("/unban bob")
            await term.expect(r"-- you lifted the ban of bob from \[team\]")
            assert (await bob.request("join", room="team"))["op"] == "ok"
            await term.type("/kick bob")
            await term.expect(r"-- you removed bob from \[team\]")
            await term.type("/kick bob")
            await term.expect(r"-- bob is not in \[team\]")
        await bob.aclose()

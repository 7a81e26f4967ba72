"""Missed-message emails end to end: real daemons (one, or two nodes on one database), real
PostgreSQL, a real SMTP server on 127.0.0.1 (tests/smtpserver.py), real sockets.

Each test waits for states: a mail taken by the SMTP server, the notifier having queued
what it should (:meth:`EmailNotifier.wait_queued`), the due loop having settled a batch
(:meth:`MissedMail.wait_settled`); timeouts are only a safety net. What must *not* be mailed
is checked after a later message to someone else was mailed: one resolver queues commits
in order, so by then the earlier one was looked at.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import trio

from chatd.emails import EmailNotifier, MissedMail
from chatd.server import Server
from tests.client import Client, http, register_and_login
from tests.e2e.conftest import running
from tests.helpers import fetchval_apart, make_config
from tests.smtpserver import Inbox, email_config, html_of, smtp, text_of

__all__ = ["smtp"]  # the fixture, used by name

PUBLIC = "https://chat.example.org"
_nonces = itertools.count()


def _config(tmp_path: Path, dsn: str, inbox: Inbox, batch: float = 0.5,
            check: float = 0.5) -> Any:
    """Mail through ``inbox`` after ``batch`` seconds; due loops look every ``check`` s."""
    return make_config(tmp_path, dsn, email=email_config(inbox, batch_seconds=batch),
                       server={"public_url": PUBLIC}, cluster={"reminder_check": check})


async def _with_address(server: Server, name: str, *, confirm: bool = True) -> str:
    """Register ``name`` with the address name@example.org, confirmed (as its link would
    do; tests/http/test_email.py tests the link itself) unless not ``confirm``: their
    token."""
    token = await register_and_login(server.http_port, name)
    await fetchval_apart(server.app.config.database.dsn,
                         "UPDATE users SET email = name || '@example.org', email_confirmed = $2"
                         " WHERE name = $1", name, confirm)
    _emails(server).touched()  # as the notice of that update tells it, a moment later
    return token


async def _dm(client: Client, to: str, text: str) -> dict[str, Any]:
    reply = await client.request("dm", to=to, text=text, nonce=f"n{next(_nonces)}")
    assert reply["op"] == "ok", reply
    return reply


def _emails(server: Server) -> EmailNotifier:
    assert server.app.emails is not None
    return server.app.emails


def _missed(server: Server) -> MissedMail:
    assert server.app.missed is not None
    return server.app.missed


async def _due_now(dsn: str) -> None:
    """Make every queued batch due now (as its batch_seconds passing would): the due loop
    finds them at its next look ([cluster] reminder_check)."""
    await fetchval_apart(dsn, "UPDATE email_batches SET due_at = now()")


async def _settled_on(nodes: tuple[Server, ...], count: int) -> None:
    """Wait until ``nodes`` have settled ``count`` batches between them."""
    while sum(_missed(node).settled for node in nodes) < count:
        async with trio.open_nursery() as nursery:
            async def first(node: Server, scope: trio.CancelScope = nursery.cancel_scope
                            ) -> None:
                await _missed(node).wait_settling()
                scope.cancel()
            for node in nodes:
                nursery.start_soon(first, node)


@asynccontextmanager
async def _ann(server: Server) -> AsyncIterator[Client]:
    ann = await Client.tcp(server.tcp_port)
    await ann.hello(await register_and_login(server.http_port, "ann"))
    try:
        yield ann
    finally:
        await ann.aclose()


def _to(inbox: Inbox, address: str) -> list[Any]:
    return [m for m in inbox.messages if m["To"] == address]


async def test_a_direct_message_is_mailed_once_after_the_batch(
        tmp_path: Path, database_dsn: str, smtp: Inbox) -> None:
    """bob, offline with a confirmed address, gets one email for ann's direct message after
    batch_seconds: its subject, text, link to the message, footer and RFC 8058 headers; the
    batch is settled, and the next message makes a second email with only itself."""
    async with running(_config(tmp_path, database_dsn, smtp)) as server:
        await _with_address(server, "bob")
        async with _ann(server) as ann:
            sent = await _dm(ann, "bob", "Are you coming to the <standup> & retro?")
            (mail,) = await smtp.wait_for(1)
            assert mail["To"] == "bob@example.org"
            assert mail["Subject"] == "New message from ann"
            text = text_of(mail)
            assert "Are you coming to the <standup> & retro?" in text
            assert f"{PUBLIC}/#room=@ann:bob&msg={sent['msg_id']}" in text
            assert "Your conversation with ann" in text
            page = html_of(mail)
            assert "&lt;standup&gt; &amp; retro?" in page and "<standup>" not in page
            assert "Reply in chatd" in page
            unsubscribe = mail["List-Unsubscribe"]
            assert unsubscribe.startswith(f"<{PUBLIC}/api/email/unsubscribe/")
            assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
            assert "Turn these emails off" in text and unsubscribe[1:-1] in text
            await _missed(server).wait_settled(1)
            assert await fetchval_apart(database_dsn, "SELECT count(*) FROM email_queue") == 0
            await _dm(ann, "bob", "second")
            mails = await smtp.wait_for(2)
            assert "second" in text_of(mails[1]) and "standup" not in text_of(mails[1])
            assert len(smtp.messages) == 2


async def test_a_mention_and_several_messages_make_one_email(
        tmp_path: Path, database_dsn: str, smtp: Inbox) -> None:
    """A mention in a room alone: "ann mentioned you in #ops". Then three messages (two
    rooms) within one batch: one email "3 new messages from ann", grouped by room; ann's
    plain message in the room (no mention) is in none."""
    config = _config(tmp_path, database_dsn, smtp, batch=600.0, check=0.3)
    async with running(config) as server:
        port = server.http_port
        bob = await _with_address(server, "bob")
        status, _ = await http(port, "POST", "/api/rooms", {"room": "ops"}, token=bob)
        assert status == 201
        async with _ann(server) as ann:
            await ann.request("join", room="ops")
            await ann.request("send", room="ops", text="no one in particular", nonce="p1")
            await ann.request("send", room="ops", text="@bob the build is red", nonce="m1")
            await _emails(server).wait_queued(1)
            await _due_now(database_dsn)
            (mail,) = await smtp.wait_for(1)
            assert mail["Subject"] == "ann mentioned you in #ops"
            assert "the build is red" in text_of(mail)
            assert "no one in particular" not in text_of(mail)
            await _missed(server).wait_settled(1)
            queued = _emails(server).queued
            await ann.request("send", room="ops", text="@bob and the deploy", nonce="m2")
            await _dm(ann, "bob", "ping one")
            await _dm(ann, "bob", "ping two")
            await _emails(server).wait_queued(queued + 3)
            # one batch, still due batch_seconds after its first message: the others joined
            assert await fetchval_apart(
                database_dsn, "SELECT array_agg(due_at > now() + interval '500 seconds') "
                              "FROM email_batches") == [True]
            assert len(smtp.messages) == 1
            await _due_now(database_dsn)
            mails = await smtp.wait_for(2)
        assert len(mails) == 2
        second = text_of(mails[1])
        assert mails[1]["Subject"] == "3 new messages from ann"
        assert second.index("#ops") < second.index("and the deploy")
        assert second.index("Your conversation with ann") < second.index("ping one") \
            < second.index("ping two")


async def test_nothing_when_online_read_muted_off_paused_or_unconfirmed(
        tmp_path: Path, database_dsn: str, smtp: Inbox) -> None:
    """No email for: bob connected (online) when it came; cid, who read it before the batch
    ended; dan, who muted the conversation (none); eve, with the emails off; fay, whose
    notifications are paused; gus, whose address is unconfirmed. zed's (offline, emails on),
    sent after all of them, is mailed: by then the others were looked at."""
    config = _config(tmp_path, database_dsn, smtp, batch=600.0, check=0.3)
    async with running(config) as server:
        port = server.http_port
        tokens = {name: await _with_address(server, name, confirm=name != "gus")
                  for name in ("bob", "cid", "dan", "eve", "fay", "gus", "zed")}
        bob = await Client.tcp(server.tcp_port)
        await bob.hello(tokens["bob"])
        try:
            async with _ann(server) as ann:
                await _dm(ann, "dan", "first, to open the conversation")
                await _emails(server).wait_queued(1)
                status, _ = await http(port, "PUT", "/api/rooms/@ann:dan/notify",
                                       {"notify": "none"}, token=tokens["dan"])
                assert status == 200
                await http(port, "PUT", "/api/me/email-notifications", {"on": False},
                           token=tokens["eve"])
                await http(port, "PUT", "/api/me/dnd", {"duration": 3600}, token=tokens["fay"])
                for name in ("bob", "cid", "dan", "eve", "fay", "gus"):
                    await _dm(ann, name, f"for {name}")
                status, _ = await http(port, "POST", "/api/me/read", {}, token=tokens["cid"])
                assert status == 200
                await _dm(ann, "zed", "for zed")
                await _emails(server).wait_queued(3)  # dan's first, cid's, zed's
                await _due_now(database_dsn)
                mails = await smtp.wait_for(1)
        finally:
            await bob.aclose()
        # dan's first message went before the mute; cid's was read: the batches of both
        # settle with nothing (or only dan's first) to mail
        await _missed(server).wait_settled(3)
        # nothing else queued: a batch of someone else would still be here, or mailed
        assert await fetchval_apart(database_dsn, "SELECT count(*) FROM email_batches") == 0
        recipients = sorted(m["To"] for m in smtp.messages)
        assert recipients == ["dan@example.org", "zed@example.org"], recipients
        (dans,) = _to(smtp, "dan@example.org")
        assert "first, to open" in text_of(dans) and "for dan" not in text_of(dans)
        assert "for zed" in text_of(_to(smtp, "zed@example.org")[0])
        assert mails


async def test_what_changed_while_queued_is_asked_again_when_the_email_goes(
        tmp_path: Path, database_dsn: str, smtp: Inbox) -> None:
    """Queued while nothing held them back, the messages of bob, who paused his
    notifications before the batch was due, and of cid, who left the room that mentioned
    him, are not mailed (dropped, not sent when the pause ends); zed's, queued with them,
    are. Times are said in UTC."""
    config = _config(tmp_path, database_dsn, smtp, batch=600.0, check=0.3)
    async with running(config) as server:
        port = server.http_port
        tokens = {name: await _with_address(server, name) for name in ("bob", "cid", "zed")}
        status, _ = await http(port, "POST", "/api/rooms", {"room": "ops"},
                               token=tokens["cid"])
        assert status == 201
        async with _ann(server) as ann:
            await ann.request("join", room="ops")
            await _dm(ann, "bob", "for bob")
            await ann.request("send", room="ops", text="@cid the build", nonce="c1")
            await _dm(ann, "zed", "for zed")
            await _emails(server).wait_queued(3)
            status, _ = await http(port, "PUT", "/api/me/dnd", {"duration": 3600},
                                   token=tokens["bob"])
            assert status == 200
            cid = await Client.tcp(server.tcp_port)
            await cid.hello(tokens["cid"])
            assert (await cid.request("leave", room="ops"))["op"] == "ok"
            await cid.aclose()
            await _due_now(database_dsn)
            await _missed(server).wait_settled(3)
        assert [m["To"] for m in smtp.messages] == ["zed@example.org"]
        assert " UTC:" in text_of(smtp.messages[0])
        assert await fetchval_apart(database_dsn, "SELECT count(*) FROM email_queue") == 0
        # the end of the pause sends nothing either: the batch is gone
        assert await fetchval_apart(database_dsn, "SELECT count(*) FROM email_batches") == 0


async def test_unsubscribe_get_changes_nothing_post_turns_off(
        tmp_path: Path, database_dsn: str, smtp: Inbox) -> None:
    """The List-Unsubscribe URL: a GET answers a page with a button and changes nothing; a
    POST (a mail client's one-click, a form body) turns the emails off; a forged token is
    400 on both."""
    async with running(_config(tmp_path, database_dsn, smtp)) as server:
        port = server.http_port
        bob = await _with_address(server, "bob")
        async with _ann(server) as ann:
            await _dm(ann, "bob", "hello")
            (mail,) = await smtp.wait_for(1)
        url = mail["List-Unsubscribe"][1:-1]
        path = url.removeprefix(PUBLIC)
        status, page = await http(port, "GET", path)
        assert status == 200 and b"<form method=\"post\">" in page
        assert (await http(port, "GET", "/api/me/email", token=bob))[1]["notify"] is True
        status, page = await http(port, "GET", path[:-2] + "xx")
        assert status == 400
        status, page = await http(port, "POST", path[:-2] + "xx",
                                  raw=b"List-Unsubscribe=One-Click")
        assert status == 400
        assert (await http(port, "GET", "/api/me/email", token=bob))[1]["notify"] is True
        status, page = await http(port, "POST", path, raw=b"List-Unsubscribe=One-Click")
        assert status == 200 and b"Emails are off" in page
        assert (await http(port, "GET", "/api/me/email", token=bob))[1]["notify"] is False


async def test_two_nodes_send_an_email_once(tmp_path: Path, database_dsn: str,
                                            smtp: Inbox) -> None:
    """Two nodes on one database, both mailing: a direct message committed on one is
    mailed once (one node claims the batch), and the next one once more."""
    config = _config(tmp_path, database_dsn, smtp, check=0.2)
    async with running(config) as one, running(config) as two:
        await _with_address(two, "bob")
        _emails(one).touched()
        async with _ann(one) as ann:
            await _dm(ann, "bob", "from node one")
            await smtp.wait_for(1)
            await _dm(ann, "bob", "again")
            await smtp.wait_for(2)
            await _emails(one).wait_queued(2)
        await _settled_on((one, two), 2)
        assert [text_of(m).count("from node one") for m in smtp.messages] == [1, 0]
        assert _missed(one).sent + _missed(two).sent == 2


async def test_the_queue_survives_a_restart(tmp_path: Path, database_dsn: str,
                                            smtp: Inbox) -> None:
    """A missed message queued by a daemon that stops before the batch is due is mailed by
    the next start."""
    config = _config(tmp_path, database_dsn, smtp, batch=30.0)
    async with running(config) as server:
        await _with_address(server, "bob")
        async with _ann(server) as ann:
            await _dm(ann, "bob", "before the restart")
            await _emails(server).wait_queued(1)
    assert smtp.messages == []
    assert await fetchval_apart(database_dsn, "SELECT count(*) FROM email_queue") == 1
    await fetchval_apart(database_dsn, "UPDATE email_batches SET due_at = now()")
    async with running(config):
        (mail,) = await smtp.wait_for(1)
    assert "before the restart" in text_of(mail)


async def test_an_smtp_server_down_then_up_is_retried(tmp_path: Path, database_dsn: str,
                                                      smtp: Inbox) -> None:
    """While the SMTP server refuses (451), the email is tried again later, the messages
    kept and the failure counted; once it takes mail again, the email goes, once."""
    async with running(_config(tmp_path, database_dsn, smtp)) as server:
        await _with_address(server, "bob")
        smtp.failing = True
        async with _ann(server) as ann:
            await _dm(ann, "bob", "through the outage")
            await smtp.wait_refused(1)
            assert await fetchval_apart(database_dsn, "SELECT count(*) FROM email_queue") == 1
            smtp.failing = False
            (mail,) = await smtp.wait_for(1)
        assert "through the outage" in text_of(mail)
        await _missed(server).wait_settled(1)
        metrics = server.app.metrics
        assert metrics.email_failed.labels("refused")._value.get() >= 1
        assert metrics.email_retries._value.get() >= 1
        assert metrics.email_sent._value.get() == 1
        assert len(smtp.messages) == 1


async def test_a_server_without_addresses_starts_mailing_once_one_is_confirmed(
        tmp_path: Path, database_dsn: str, smtp: Inbox) -> None:
    """With nobody's emails on, commits are not looked up; bob's address confirmed by its
    link makes the next direct message mailed; emails off, then on, likewise."""
    async with running(_config(tmp_path, database_dsn, smtp)) as server:
        port = server.http_port
        assert _emails(server).some is False
        bob = await register_and_login(port, "bob")
        await http(port, "PUT", "/api/me/email", {"email": "bob@example.org"}, token=bob)
        (confirmation,) = await smtp.wait_for(1)
        link = next(w for w in text_of(confirmation).split() if "#confirm-email=" in w)
        status, _ = await http(port, "POST", "/api/email/confirm",
                               {"token": link.partition("#confirm-email=")[2]})
        assert status == 200
        async with _ann(server) as ann:
            await _dm(ann, "bob", "now you get mail")
            mails = await smtp.wait_for(2)
            assert "now you get mail" in text_of(mails[1])
            await http(port, "PUT", "/api/me/email-notifications", {"on": False}, token=bob)
            await _missed(server).wait_settled(1)
            # the notifier believes nobody has emails on only after it looked: force a look
            _emails(server).touched()
            await http(port, "PUT", "/api/me/email-notifications", {"on": True}, token=bob)
            await _dm(ann, "bob", "and again")
            mails = await smtp.wait_for(3)
            assert "and again" in text_of(mails[2])

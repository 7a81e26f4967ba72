"""A person in more rooms than a hello may resume (issue 17): the page reconnects.

The server takes a `resume` of at most 1,000 rooms (MAX_RESUME_ROOMS). The page resumes only
the rooms whose messages it holds (those it opened); the others come from their room objects,
as on a first load. Here ann is in 1,101 rooms (1,100 put straight into the database), has one
of them open (and the first, opened by the page at log-in), and the daemon restarts under her:
she is back online, the message sent in the open room while she was away shows once, and a
room she never opened shows its new count. The
rules of test_web.py hold: every wait is for a state, never for time.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, WebSocket, expect

from tests.browser.conftest import (
    DESKTOP,
    Daemon,
    LineClient,
    _in_thread,
    needs_chromium,
    register_and_login,
)
from tests.browser.test_web import Session, log_in

pytestmark = [pytest.mark.slow, needs_chromium]

BULK = 1100  # rooms besides "general": more than the 1,000 a resume may name


def room_button(page: Page, room: str) -> Any:
    return page.locator(f'#room-list li[data-room="{room}"] button')


def test_a_person_in_more_than_a_thousand_rooms_reconnects(
    daemon: Daemon, browser: Browser, sessions: list[Session]
) -> None:
    bob_token = register_and_login(daemon.url, "bob")
    bob = LineClient(daemon.tcp_port, bob_token)
    bob.request("join", room="general")
    ann_token = register_and_login(daemon.url, "ann")
    ann_line = LineClient(daemon.tcp_port, ann_token)
    ann_line.request("join", room="general")
    ann_line.close()
    _in_thread(daemon.dsn, f"""
        INSERT INTO rooms (name) SELECT 'bulk-' || lpad(g::text, 4, '0')
        FROM generate_series(1, {BULK}) g;
        INSERT INTO memberships (room_id, user_id)
        SELECT r.id, u.id FROM rooms r CROSS JOIN users u
        WHERE r.name LIKE 'bulk-%' AND u.name = 'ann';
        ANALYZE rooms; ANALYZE memberships""")
    bob.request("join", room="bulk-0500")

    ann = Session(browser, DESKTOP)
    sessions.append(ann)
    hellos: list[dict[str, Any]] = []

    def watch(ws: WebSocket) -> None:
        def sent(payload: str | bytes) -> None:
            for line in str(payload).splitlines():
                frame = json.loads(line) if line.strip() else None
                if isinstance(frame, dict) and frame.get("op") == "hello":
                    hellos.append(frame)
        ws.on("framesent", sent)

    ann.page.on("websocket", watch)
    page = ann.page
    phase = page.locator("#me-status")
    log_in(page, daemon.url, "ann")
    expect(phase).to_have_attribute("data-phase", "online")
    expect(page.locator("#room-list li[data-room]")).to_have_count(BULK + 1)
    room_button(page, "general").click()
    expect(page.locator("#conv-title")).to_have_text("# general")
    bob.send_many("general", ["before"], "a")
    expect(page.locator("#message-list li.msg .msg-text")).to_have_text(["before"])

    # The daemon restarts; while ann's network is away, bob writes in the open room and in a
    # room she never opened.
    daemon.stop()
    expect(phase).not_to_have_attribute("data-phase", "online")
    bob.close()
    ann.context.set_offline(True)
    daemon.start()
    bob = LineClient(daemon.tcp_port, bob_token)
    bob.send_many("general", ["while away"], "b")
    bob.send_many("bulk-0500", ["elsewhere", "and again"], "c")
    ann.context.set_offline(False)
    expect(phase).to_have_attribute("data-phase", "online")
    expect(page.locator("#message-list li.msg .msg-text")).to_have_text(
        ["before", "while away"])
    expect(room_button(page, "bulk-0500").locator(".badge:not(.mention)")).to_have_text("2")
    expect(page.locator("#room-list li[data-room]")).to_have_count(BULK + 1)
    # The hello that came back resumed the rooms opened (the open one first) and no other.
    assert hellos and list(hellos[-1].get("resume") or {}) == ["general", "bulk-0001"], hellos[-1:]
    assert all(len(hello.get("resume") or {}) <= 1000 for hello in hellos)

    # Live again: a message in the open room shows at once.
    bob.send_many("general", ["after"], "d")
    expect(page.locator("#message-list li.msg .msg-text")).to_have_text(
        ["before", "while away", "after"])
    bob.close()
    assert ann.errors == [] and ann.dialogs == []

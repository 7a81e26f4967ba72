"""Away in the page, in a real Chromium against the real daemon: ann's page reports idle
(no input for the test's short while, or hidden that long) and Bob's page shows her away —
a hollow amber dot with "away" in its accessible name in the member list, his contacts and
their conversation — and her own header says "away" under her name; her next input, or her
page shown again, makes her online on Bob's page. A page opened hidden says hello idle.

The 5 minutes are shortened by the page's test hook (``window.chatdIdleAfterMs``, read at
each look of the page: an input while idle, a change of visibility, its timer), set to a
moment while the test waits for away, and back to minutes while it checks online (so that the
page cannot turn idle again under the check). Every wait is for a state.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import (
    DESKTOP,
    Daemon,
    LineClient,
    needs_chromium,
    register_and_login,
)
from tests.browser.test_notifications import HIDDEN_TAB, create_room
from tests.browser.test_page_defects import axe_serious
from tests.browser.test_web import Session, log_in, open_session, register, shot

pytestmark = [pytest.mark.slow, needs_chromium]

SHORT_MS = 1500  # idle after this, while the test waits for away
LONG_MS = 10 * 60 * 1000  # while it checks online: never idle meanwhile


def _idle_after(page: Page, ms: int) -> None:
    page.evaluate(f"window.chatdIdleAfterMs = {ms}")


def _sees(bob: Page, status: str) -> None:
    """Bob's page shows ann ``status`` in the member list, contacts and conversation."""
    member = bob.locator('#member-list li[data-user="ann"]')
    expect(member).to_have_attribute("data-status", status)
    expect(member.locator(".dot")).to_have_class(re.compile(rf"\b{status}\b"))
    expect(member).to_contain_text(f", {status}")
    contact = bob.locator('#contact-list li[data-user="ann"]')
    expect(contact.get_by_role("button", name=f"ann, {status}: open conversation")
           ).to_be_visible()
    expect(bob.locator('#sidebar li[data-room="@ann:bob"] .side-item')).to_have_attribute(
        "aria-label", re.compile(rf"^Conversation with ann, {status}\b"))


def test_bob_sees_ann_away_when_her_page_is_idle_and_back_on_input(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """ann's page, left alone, reports idle: Bob's page shows her away everywhere, hers says
    "away" under her name; a key press on hers: online again. Hidden: away; shown: online."""
    ann = open_session(sessions, browser, DESKTOP)
    ann.context.add_init_script(HIDDEN_TAB)
    ann.context.add_init_script(f"window.chatdIdleAfterMs = {LONG_MS}")
    register(ann.page, daemon.url, "ann")
    create_room(ann.page, "general")
    bob_token = register_and_login(daemon.url, "bob")
    line = LineClient(daemon.tcp_port, bob_token)
    line.request("join", room="general")
    line.request("add_contact", user="ann")
    line.request("dm", to="ann", text="coffee?", nonce="b1")
    bob = open_session(sessions, browser, DESKTOP)
    log_in(bob.page, daemon.url, "bob")
    expect(bob.page.locator("#conv-title")).to_have_text("# general")
    _sees(bob.page, "online")

    # Left alone: idle, away on Bob's page, and "away" under ann's own name.
    # (The hook counts from the page's next look: a change of visibility is one.)
    _idle_after(ann.page, SHORT_MS)
    ann.page.evaluate("window.chatdTestHide(true); window.chatdTestHide(false)")
    _sees(bob.page, "away")
    expect(ann.page.locator("#me-status-text")).to_have_text("away")
    expect(ann.page.locator("#me-status")).to_have_attribute("data-phase", "away")
    shot(bob.page, artifacts, "desktop-away-bob")
    shot(ann.page, artifacts, "desktop-away-ann")
    assert axe_serious(bob.page) == []

    # Her next input: online again.
    _idle_after(ann.page, LONG_MS)
    ann.page.keyboard.press("Shift")
    _sees(bob.page, "online")
    expect(ann.page.locator("#me-status-text")).to_have_text("online")

    # Hidden (another tab in front) for the while: away; shown again: online.
    _idle_after(ann.page, SHORT_MS)
    ann.page.evaluate("window.chatdTestHide(true)")
    _sees(bob.page, "away")
    _idle_after(ann.page, LONG_MS)
    ann.page.evaluate("window.chatdTestHide(false)")
    _sees(bob.page, "online")
    line.close()
    assert ann.errors == [] and bob.errors == []


def test_a_page_opened_hidden_says_hello_idle(
    daemon: Daemon, browser: Browser, sessions: list[Session]
) -> None:
    """A page opened in a background tab: its hello says idle, and ann is away at once (never
    online); shown, she is online."""
    register_and_login(daemon.url, "ann")
    bob_token = register_and_login(daemon.url, "bob")
    line = LineClient(daemon.tcp_port, bob_token)
    line.request("add_contact", user="ann")
    ann = open_session(sessions, browser, DESKTOP)
    ann.context.add_init_script(HIDDEN_TAB)
    ann.context.add_init_script(f"window.chatdIdleAfterMs = {LONG_MS}")
    log_in(ann.page, daemon.url, "ann")
    expect(ann.page.locator("#me-status-text")).to_have_text("online")
    # Reloaded while hidden: a page opened in a background tab.
    ann.page.evaluate("window.chatdTestHide(true)")
    ann.page.add_init_script("window.chatdTestHide(true)")
    ann.page.reload()
    expect(ann.page.locator("#me-status-text")).to_have_text("away")
    # The first visit, shown: online; then (the reload: offline, unless the old connection
    # outlived the new hello) away, never online again: the hello said idle.
    statuses = [line.wait_for("presence")["status"]]
    while statuses[-1] != "away":
        statuses.append(line.wait_for("presence")["status"])
    assert statuses[0] == "online" and "online" not in statuses[1:], statuses
    ann.page.evaluate("window.chatdTestHide(false)")
    assert line.wait_for("presence")["status"] == "online"
    line.close()

"""Do not disturb in the page, in a real Chromium against the real daemon: the bell by the
person's name pauses every notification for a while (and resumes them); while paused the bell
is struck out, "until …" shows under the name, and nothing notifies or chimes while the
counts go on; a pause ends by itself at its time.

Notifications and the chime are observed as in test_notifications.py (its stand-ins); every
wait is for a state. The pause that ends by itself is set a few seconds ahead, by the server's
clock, and the test waits for the page to show it ended (a state), then for the next
message to notify.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.conftest import Daemon, LineClient, needs_chromium, register_and_login
from tests.browser.test_notifications import (
    create_room,
    expect_count,
    fake,
    hide,
    made,
    person,
    register_and_login_again,
    room_button,
    settings,
)
from tests.browser.test_page_defects import axe_serious
from tests.browser.test_web import Session, register, shot

pytestmark = [pytest.mark.slow, needs_chromium]

UNTIL = re.compile(r"^until (tomorrow )?\d\d:\d\d$")


def test_a_pause_silences_alerts_until_resumed_or_over(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """"1 hour" from the bell's panel: the bell is struck out and "until HH:MM" shows;
    Bob's DM and mention make no notification and no sound, while the badge and the title
    count them. "Resume notifications": the next DM notifies and chimes. A pause set on
    another device reaches the page, and ends there by itself at its time."""
    ann = person(sessions, browser, fake("granted"))
    page = ann.page
    register(page, daemon.url, "ann")
    create_room(page, "general")
    bob = LineClient(daemon.tcp_port, register_and_login(daemon.url, "Bob"))
    bob.request("join", room="general")
    expect(page.locator("#message-list li.notice")).to_have_text(["Bob joined"])
    page.locator("#composer-text").click()  # a first press: the page may play sounds now

    panel = settings(page)
    expect(panel.get_by_role("group", name="Pause notifications")).to_be_visible()
    panel.get_by_role("button", name="1 hour").click()
    expect(page.locator("#me-dnd")).to_have_text(UNTIL)
    expect(page.locator("#alert-settings")).to_have_attribute("data-paused", "true")
    resume = panel.get_by_role("button", name="Resume notifications")
    expect(resume).to_be_visible()
    assert axe_serious(page) == []
    shot(page, artifacts, "desktop-notifications-paused")
    page.keyboard.press("Escape")

    hide(page)
    bob.request("dm", to="ann", text="paused dm", nonce="b1")
    bob.request("send", room="general", text="@ann paused mention", nonce="b2")
    expect(page).to_have_title("(2*) #general · chatd")
    expect(room_button(page, "@ann:bob").locator(".badge")).to_have_text("1")

    panel = settings(page)
    panel.get_by_role("button", name="Resume notifications").click()
    expect(page.locator("#me-dnd")).to_be_hidden()
    expect(page.locator("#alert-settings")).to_have_attribute("data-paused", "false")
    page.keyboard.press("Escape")
    bob.request("dm", to="ann", text="resumed", nonce="b3")
    expect_count(page, "notified", 1)  # the DM and the mention of the pause never rang
    assert [n["body"] for n in made(page)] == ["resumed"]
    expect_count(page, "tones", 2)

    # Another device of ann's pauses for three seconds (the server's clock): the page shows
    # it, then shows it over by itself, and rings again.
    phone = LineClient(daemon.tcp_port, register_and_login_again(daemon, "ann"))
    phone.request("set_dnd", until=time.time_ns() // 1_000_000 + 3_000)
    expect(page.locator("#me-dnd")).to_have_text(UNTIL)
    expect(page.locator("#me-dnd")).to_be_hidden(timeout=15_000)
    bob.request("dm", to="ann", text="over", nonce="b4")
    expect_count(page, "notified", 2)
    assert made(page)[1]["body"] == "over"
    phone.close()
    bob.close()
    assert ann.errors == []

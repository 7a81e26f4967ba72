"""Drafts kept on the server, in a real Chromium against the real daemon: ann, on her laptop and
her tablet (two browser contexts of her), types in #random on the laptop; the tablet gets the
draft (the sidebar's Drafts entry counts it, and #random's box holds it when opened), and
follows it live while the laptop goes on typing. The Drafts panel lists it with its room; a
click opens the room with the text in the box. Sent from the laptop, the draft is gone from
both boxes and from the list. A draft saved by another device of hers (a line client) is
deleted from the tablet's list: that device is told. A reload of the tablet brings back what
the server holds.

The rules of test_web.py hold: every wait is for a state, never for time (a save follows
typing by a second or two: the tests wait for what it causes). The screenshot lands in
tests/artifacts/ (desktop-drafts.png: the Drafts panel).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.browser.conftest import DESKTOP, Daemon, needs_chromium, wait_online
from tests.browser.test_page_defects import axe_serious
from tests.browser.test_pins import ann_and_bob_in
from tests.browser.test_web import Session, log_in, open_session, shot

pytestmark = [pytest.mark.slow, needs_chromium]


def room(page: Page, name: str) -> Locator:
    return page.locator(f'#room-list li[data-room="{name}"] button')


def drafts_items(page: Page) -> Locator:
    return page.locator("#drafts-list li.drafts-item")


def test_a_draft_follows_ann_between_her_devices_and_goes_when_sent(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """Typed on the laptop: on the tablet in the Drafts entry, the list and #random's box, live;
    opened from the list; sent from the laptop: gone from both boxes and both entries."""
    _, line_ann, bob = ann_and_bob_in(daemon, "general", "random")
    bob.close()
    laptop = open_session(sessions, browser, DESKTOP)
    tablet = open_session(sessions, browser, DESKTOP)
    a, t = laptop.page, tablet.page
    for page in (a, t):
        log_in(page, daemon.url, "ann")
        wait_online(page)
        expect(page.locator("#conv-title")).to_have_text("# general")
        expect(page.locator("#drafts-open")).to_be_hidden()  # no draft yet

    room(a, "random").click()
    expect(a.locator("#conv-title")).to_have_text("# random")
    box = a.locator("#composer-text")
    box.press_sequentially("I think we shoul")
    # Saved once the box is still: the tablet's entry counts it, as does the laptop's own.
    for page in (t, a):
        expect(page.locator("#drafts-open")).to_be_visible()
        expect(page.locator("#drafts-count")).to_have_text("1")
    room(t, "random").click()
    expect(t.locator("#conv-title")).to_have_text("# random")
    expect(t.locator("#composer-text")).to_have_value("I think we shoul")
    # The laptop goes on typing: the tablet's open box follows (nobody types there).
    box.press_sequentially("d ship on Friday")
    expect(t.locator("#composer-text")).to_have_value("I think we should ship on Friday")

    # The Drafts panel lists it with its room; a click opens the room, the text in its box.
    room(t, "general").click()
    expect(t.locator("#composer-text")).to_have_value("")
    t.locator("#drafts-open").click()
    expect(t.locator("#drafts-panel")).to_be_visible()
    expect(drafts_items(t)).to_have_count(1)
    expect(drafts_items(t).first.locator(".result-room")).to_have_text("#random")
    expect(drafts_items(t).first.locator(".result-text")).to_have_text(
        "I think we should ship on Friday")
    expect(drafts_items(t).first.locator(".drafts-when")).to_have_text("just now")
    shot(t, artifacts, "desktop-drafts")
    assert axe_serious(t) == []
    drafts_items(t).first.get_by_role("button", name="Open it").click()
    expect(t.locator("#conv-title")).to_have_text("# random")
    expect(t.locator("#composer-text")).to_have_value("I think we should ship on Friday")

    # Sent from the laptop: gone from both boxes, both entries, the server.
    box.press("Enter")
    expect(a.locator("#message-list li.msg[data-seq]").last.locator(".msg-text")).to_have_text(
        "I think we should ship on Friday")
    for page in (a, t):
        expect(page.locator("#composer-text")).to_have_value("")
        expect(page.locator("#drafts-count")).to_be_hidden()
    expect(a.locator("#drafts-open")).to_be_hidden()  # (the tablet's stays while its panel is open)
    expect(drafts_items(t)).to_have_count(0)
    expect(t.locator("#drafts-status")).to_have_text(re.compile("^No drafts"))
    assert line_ann.request("drafts")["drafts"] == []

    # Another device of ann's saves a draft of #general; the tablet deletes it from the list:
    # that device is told, and the server keeps none.
    line_ann.request("set_draft", room="general", text="from the line")
    expect(t.locator("#drafts-count")).to_have_text("1")
    expect(t.locator("#drafts-panel")).to_be_visible()  # (wide: it stayed open beside the room)
    expect(drafts_items(t)).to_have_count(1)
    drafts_items(t).first.get_by_role("button", name="Delete the draft in #general").click()
    expect(drafts_items(t)).to_have_count(0)
    told = line_ann.wait_for("draft")
    assert (told["room"], told["text"]) == ("general", "")
    assert line_ann.request("drafts")["drafts"] == []

    # What the server holds comes back with a reload (the browser's copy merged with it); the
    # laptop, whose box a message just emptied, takes it in too (an empty box keeps nothing).
    line_ann.request("set_draft", room="random", text="after the reload")
    expect(t.locator("#drafts-count")).to_have_text("1")
    expect(a.locator("#composer-text")).to_have_value("after the reload")
    t.reload()
    wait_online(t)
    expect(t.locator("#drafts-count")).to_have_text("1")
    room(t, "random").click()
    expect(t.locator("#conv-title")).to_have_text("# random")
    expect(t.locator("#composer-text")).to_have_value("after the reload")
    line_ann.close()
    assert laptop.errors == [] and tablet.errors == []

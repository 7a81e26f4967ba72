"""Closing a conversation in the page, in a real Chromium against the real daemon: ann opens
her conversation with Bob and picks "Close conversation" in its header's menu; it leaves her
direct messages at once and #general opens, and her other tab follows (the `hidden` event).
Bob writes: it comes back in both tabs with its unread badge. Closed again from its sidebar
item's menu (right click), it stays closed across a reload; "New direct message" to Bob starts
it again, listed once she moves on.

The rules of test_web.py hold: every wait is for a state, never for time. The screenshot lands
in tests/artifacts/ (desktop-close-conversation.png).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.browser.conftest import DESKTOP, Daemon, needs_chromium, pick_in_menu, wait_online
from tests.browser.test_pins import ann_and_bob_in
from tests.browser.test_web import Session, log_in, open_session, shot

pytestmark = [pytest.mark.slow, needs_chromium]

DM = "@ann:bob"


def dm_item(page: Page) -> Locator:
    return page.locator(f'#dm-list li[data-room="{DM}"] button')




def test_close_a_conversation_in_both_tabs_it_comes_back_and_a_reload_keeps_it(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """Closed from the header's menu: gone from both tabs and another room open; Bob's message
    brings it back with its badge; closed from the sidebar it stays so after a reload; "New
    direct message" starts it again."""
    _, line_ann, bob = ann_and_bob_in(daemon, "general")
    line_ann.close()
    bob.request("dm", to="ann", text="lunch?", nonce="b1")
    ann = open_session(sessions, browser, DESKTOP)
    a = ann.page
    log_in(a, daemon.url, "ann")
    wait_online(a)
    other = ann.context.new_page()  # another tab: a connection of its own
    other_errors: list[str] = []
    other.on("pageerror", lambda error: other_errors.append(str(error)))
    other.goto(daemon.url)
    wait_online(other)
    other.locator('#room-list li[data-room="general"] button').click()
    expect(other.locator("#conv-title")).to_have_text("# general")

    dm_item(a).click()
    expect(a.locator("#message-list .msg-text", has_text="lunch?")).to_have_count(1)
    a.locator("#room-notify").click()
    pick_in_menu(a, "Close conversation")
    expect(a.locator("#conv-title")).to_have_text("# general")
    for page in (a, other):
        expect(dm_item(page)).to_have_count(0)
        expect(page.locator("#dm-list li.side-empty")).to_have_text("No open conversations")

    bob.request("dm", to="ann", text="still there?", nonce="b2")
    for page in (a, other):
        expect(dm_item(page)).to_have_count(1)
        expect(dm_item(page).locator(".badge:not(.mention)")).to_have_text("1")

    # Closed again from the sidebar's menu, with nothing new since: a reload keeps it closed.
    dm_item(a).click(button="right")
    expect(a.get_by_role("menu").locator(".menu-item")).to_have_text(
        [re.compile("All messages$"), re.compile("Muted$"), "Add to favourites", "Move to…",
         "Close conversation"])
    # The action is set apart from the levels by a rule, its label in line with theirs.
    menu = a.get_by_role("menu")
    expect(menu.get_by_role("separator")).to_have_count(1)
    lefts = menu.locator(".menu-item").evaluate_all(
        "items => items.map((item) => { const range = document.createRange();"
        " range.selectNodeContents(item.lastChild);"
        " return Math.round(range.getBoundingClientRect().left); })")
    assert len(set(lefts)) == 1, lefts
    shot(a, artifacts, "desktop-close-conversation")
    pick_in_menu(a, "Close conversation")
    for page in (a, other):
        expect(dm_item(page)).to_have_count(0)
    a.reload()
    wait_online(a)
    expect(a.locator("#room-list li[data-room='general']")).to_have_count(1)
    expect(dm_item(a)).to_have_count(0)

    # "New direct message" to Bob starts it again: listed once she goes back to #general.
    a.get_by_role("button", name="New direct message").click()
    who = a.locator("#dm-user")
    who.fill("bob")
    who.press("Enter")
    expect(a.locator("#dm-picked .pick-chip")).to_have_count(1)
    a.get_by_role("button", name="Open", exact=True).click()
    expect(a.locator("#conv-title")).to_contain_text("Bob")
    expect(a.locator("#message-list .msg-text", has_text="still there?")).to_have_count(1)
    a.locator('#room-list li[data-room="general"] button').click()
    expect(a.locator("#conv-title")).to_have_text("# general")
    for page in (a, other):
        expect(dm_item(page)).to_have_count(1)
    bob.close()
    assert ann.errors == [] and other_errors == []
    assert ann.dialogs == []


def test_the_quick_switcher_finds_a_closed_conversation_only_when_typed_and_starts_it_again(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """Ctrl+K with an empty box leaves a closed conversation out (the sidebar does); typed, it
    is found, marked "Closed conversation"; chosen, it opens and is started again: listed once
    ann moves on, as "New direct message" does."""
    _, line_ann, bob = ann_and_bob_in(daemon, "general")
    line_ann.close()
    bob.request("dm", to="ann", text="lunch?", nonce="b1")
    ann = open_session(sessions, browser, DESKTOP)
    a = ann.page
    log_in(a, daemon.url, "ann")
    wait_online(a)
    dm_item(a).click()
    expect(a.locator("#message-list .msg-text", has_text="lunch?")).to_have_count(1)
    a.locator("#room-notify").click()
    pick_in_menu(a, "Close conversation")
    expect(a.locator("#conv-title")).to_have_text("# general")
    expect(dm_item(a)).to_have_count(0)

    a.keyboard.press("Control+k")
    dialog = a.locator("#switcher")
    expect(dialog).to_be_visible()
    options = a.locator("#switcher-list [role=option]")
    expect(options.first).to_have_attribute("data-key", "r:general")
    expect(a.locator(f'#switcher-list [data-key="r:{DM}"]')).to_have_count(0)
    a.keyboard.type("bob")
    found = a.locator(f'#switcher-list [data-key="r:{DM}"]')
    expect(found).to_have_count(1)
    expect(found.locator(".what")).to_have_text(re.compile("Closed conversation$"))
    shot(a, artifacts, "desktop-switcher-closed")
    found.click()
    expect(dialog).to_be_hidden()
    expect(a.locator("#conv-title")).to_contain_text("Bob")
    a.locator('#room-list li[data-room="general"] button').click()
    expect(a.locator("#conv-title")).to_have_text("# general")
    expect(dm_item(a)).to_have_count(1)  # started again: listed for good
    a.reload()
    wait_online(a)
    expect(dm_item(a)).to_have_count(1)  # the server cleared the marker too
    bob.close()
    assert ann.errors == [] and ann.dialogs == []

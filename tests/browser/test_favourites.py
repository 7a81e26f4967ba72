"""Favourites in the page, in a real Chromium against the real daemon: ann stars #random from
its header; a Favourites section appears at the top of her sidebar with it, and #random leaves
Rooms. Her phone (another browser context, signed in as her) follows live. She stars her
conversation with Bob from its sidebar item's menu (no "Close conversation" for it then); Bob's
message shows its badge there. She unstars #random from the sidebar's menu: back in Rooms, on
both; a reload keeps the conversation starred.

The rules of test_web.py hold: every wait is for a state, never for time. The screenshots land
in tests/artifacts/ (desktop-favourites.png, phone-favourites.png).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.browser.conftest import (
    DESKTOP,
    PHONE,
    Daemon,
    needs_chromium,
    pick_in_menu,
    wait_online,
)
from tests.browser.test_pins import ann_and_bob_in
from tests.browser.test_web import Session, log_in, open_session, shot

pytestmark = [pytest.mark.slow, needs_chromium]

DM = "@ann:bob"


def item(page: Page, section: str, room: str) -> Locator:
    """Room ``room``'s button in the sidebar's list ``section`` (favourite, room, dm)."""
    return page.locator(f'#{section}-list li[data-room="{room}"] button')


def favourites(page: Page) -> Locator:
    return page.locator("#favourite-list li[data-room]")




def test_star_from_the_header_unstar_from_the_sidebar_and_the_phone_follows(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """Starred from the header: in Favourites and out of Rooms at once, on the phone too; the
    conversation starred from its menu shows Bob's message's badge there; unstarred from the
    sidebar's menu it is back in Rooms on both; a reload keeps what the server holds."""
    _, line_ann, bob = ann_and_bob_in(daemon, "general", "random")
    line_ann.request("add_contact", user="Bob")  # his presence dot says online
    line_ann.close()
    bob.request("dm", to="ann", text="lunch?", nonce="b1")
    ann = open_session(sessions, browser, DESKTOP)
    a = ann.page
    log_in(a, daemon.url, "ann")
    wait_online(a)
    phone = open_session(sessions, browser, PHONE)  # another device of hers
    p = phone.page
    log_in(p, daemon.url, "ann")
    wait_online(p)
    expect(a.locator("#favourites")).to_be_hidden()  # none yet: no section
    expect(p.locator("#favourites")).to_be_hidden()

    item(a, "room", "random").click()
    expect(a.locator("#conv-title")).to_have_text("# random")
    star = a.locator("#room-favourite")
    expect(star).to_have_attribute("aria-pressed", "false")
    expect(star).to_have_attribute("title", "Add to favourites")
    expect(star).to_have_text("☆")
    star.click()
    expect(star).to_have_attribute("aria-pressed", "true")
    expect(star).to_have_attribute("title", "Remove from favourites")
    expect(star).to_have_text("★")
    for page in (a, p):
        expect(page.locator("#favourites")).to_be_attached()
        expect(page.locator("#favourites")).not_to_have_attribute("hidden", "")
        expect(favourites(page)).to_have_count(1)
        expect(item(page, "favourite", "random")).to_have_count(1)
        expect(item(page, "room", "random")).to_have_count(0)  # not repeated in Rooms
        expect(item(page, "room", "general")).to_have_count(1)

    # The conversation, starred from its sidebar item's menu: no "Close conversation" then.
    item(a, "dm", DM).click(button="right")
    expect(a.get_by_role("menu").locator(".menu-item")).to_have_text(
        [re.compile("All messages$"), re.compile("Muted$"), "Add to favourites", "Move to…",
         "Close conversation"])
    pick_in_menu(a, "Add to favourites")
    for page in (a, p):
        expect(favourites(page)).to_have_count(2)
        expect(item(page, "dm", DM)).to_have_count(0)
        expect(page.locator("#dm-list li.side-empty")).to_have_text("No other conversations")
    # In the order starred: #random first, then the conversation.
    assert [li.get_attribute("data-room") for li in favourites(a).all()] == ["random", DM]
    item(a, "favourite", DM).click(button="right")
    # A favourite may be moved to a section too (it stays in Favourites); not closed.
    expect(a.get_by_role("menu").locator(".menu-item")).to_have_text(
        [re.compile("All messages$"), re.compile("Muted$"), "Remove from favourites",
         "Move to…"])
    a.keyboard.press("Escape")
    expect(a.get_by_role("menu")).to_have_count(0)

    # Shown there as elsewhere: Bob's message gives its badge, his presence its dot.
    item(a, "room", "general").click()
    expect(a.locator("#conv-title")).to_have_text("# general")
    bob.request("dm", to="ann", text="still on for lunch?", nonce="b2")
    expect(item(a, "favourite", DM).locator(".badge:not(.mention)")).to_have_text("2")
    expect(item(a, "favourite", DM).locator(".dot")).to_have_class(re.compile(r"\bonline\b"))
    item(a, "favourite", "random").click()
    expect(a.locator("#conv-title")).to_have_text("# random")
    expect(star).to_have_text("★")
    shot(a, artifacts, "desktop-favourites")
    p.locator("#open-sidebar").click()
    expect(item(p, "favourite", DM)).to_be_in_viewport()
    expect(item(p, "favourite", DM).locator(".badge:not(.mention)")).to_have_text("2")
    shot(p, artifacts, "phone-favourites")

    # Unstarred from the sidebar's menu: back in Rooms, on the phone too.
    item(a, "favourite", "random").click(button="right")
    pick_in_menu(a, "Remove from favourites")
    for page in (a, p):
        expect(item(page, "room", "random")).to_have_count(1)
        expect(item(page, "favourite", "random")).to_have_count(0)
        expect(favourites(page)).to_have_count(1)
    expect(item(a, "room", "random")).to_be_focused()  # the focus followed it to Rooms
    # The phone opens #random: its star is off, and follows a star from the desktop live.
    item(p, "room", "random").click()
    expect(p.locator("#conv-title")).to_have_text("# random")
    expect(p.locator("#room-favourite")).to_have_attribute("aria-pressed", "false")
    item(a, "room", "random").click()
    a.locator("#room-favourite").click()
    expect(p.locator("#room-favourite")).to_have_attribute("aria-pressed", "true")
    a.locator("#room-favourite").click()
    expect(p.locator("#room-favourite")).to_have_attribute("aria-pressed", "false")

    # The server keeps it: a reload lists the conversation in Favourites, #random in Rooms.
    a.reload()
    wait_online(a)
    expect(item(a, "favourite", DM)).to_have_count(1)
    expect(item(a, "room", "random")).to_have_count(1)
    expect(favourites(a)).to_have_count(1)
    bob.close()
    assert ann.errors == [] and phone.errors == []
    assert ann.dialogs == [] and phone.dialogs == []

""""Mark unread" in the page, in a real Chromium against the real daemon: the message menu
moves the read marker back, the "New messages" line and the room's badges come back and stay
while the person looks, another tab of the same person follows, and the room is read again
once the person leaves it and comes back.

The rules of test_web.py hold here: every wait is for a state (a Playwright expect or locator
wait, or a frame the page received), never for time.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.browser.conftest import DESKTOP, Daemon, LineClient, needs_chromium, register_and_login
from tests.browser.test_changes import create_room, menu_action, message
from tests.browser.test_web import Session, open_session, register

pytestmark = [pytest.mark.slow, needs_chromium]


def unread_badge(page: Page, room: str) -> tuple[Locator, Locator]:
    """The room's unread count badge and its mention badge in the sidebar."""
    item = page.locator(f'#room-list li[data-room="{room}"] button')
    return item.locator(".badge:not(.mention)"), item.locator(".badge.mention")


def test_mark_unread_from_the_menu_and_another_tab_follows(
    daemon: Daemon, browser: Browser, sessions: list[Session]
) -> None:
    """Ann reads general to its end, then marks it unread from Bob's second message: the line
    and the badges (count and mention) come back at once, here and in her other tab, and a
    new message keeps counting while she looks; leaving the room and coming back reads it
    again, in both tabs."""
    ann = open_session(sessions, browser, DESKTOP)
    a = ann.page
    register(a, daemon.url, "ann")
    create_room(a, "random")
    create_room(a, "general")
    bob = LineClient(daemon.tcp_port, register_and_login(daemon.url, "Bob"))
    bob.request("join", room="general")
    seqs = [bob.request("send", room="general", text=text, nonce=f"b{n}")["seq"]
            for n, text in enumerate(["one", "two @ann", "three"])]
    expect(message(a, "three")).to_have_count(1)
    ann.wait_for_read("general", seqs[-1])

    other = ann.context.new_page()  # another tab: a connection of its own
    other_errors: list[str] = []
    other.on("pageerror", lambda error: other_errors.append(str(error)))
    other.goto(daemon.url)
    expect(other.locator("#me-status")).to_have_attribute("data-phase", "online")
    other.locator('#room-list li[data-room="general"] button').click()
    expect(message(other, "three")).to_have_count(1)
    for page in (a, other):
        expect(page.locator("#message-list li.new-divider")).to_have_count(0)

    menu_action(a, message(a, "two @ann"), "Mark unread")
    for page in (a, other):
        expect(page.locator("#message-list li.new-divider + li.msg .msg-text")).to_have_text(
            "two @ann")
        count, mention = unread_badge(page, "general")
        expect(count).to_have_text("2")
        expect(mention).to_have_text("@")

    # On screen in both tabs, and still not read: a new message adds to the count.
    bob.request("send", room="general", text="four", nonce="b3")
    for page in (a, other):
        expect(message(page, "four")).to_have_count(1)
        expect(unread_badge(page, "general")[0]).to_have_text("3")

    # Leaving the room and coming back reads it as before; the other tab follows.
    a.locator('#room-list li[data-room="random"] button').click()
    expect(a.locator("#conv-title")).to_have_text("# random")
    expect(unread_badge(a, "general")[0]).to_have_text("3")
    a.locator('#room-list li[data-room="general"] button').click()
    expect(message(a, "four")).to_have_count(1)
    ann.wait_for_read("general", seqs[-1] + 1)
    for page in (a, other):
        count, mention = unread_badge(page, "general")
        expect(count).to_have_count(0)
        expect(mention).to_have_count(0)
    bob.close()
    assert ann.errors == [] and other_errors == []
    assert ann.dialogs == []

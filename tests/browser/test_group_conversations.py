"""Group conversations in the page, in a real Chromium against the real daemon: ann picks Bob
and Carol in the "New direct message" dialog (chips, completion by name, Backspace takes the
last one back), the conversation opens as a draft and her first message creates it; Bob's and
Carol's pages (Carol's a phone) see it appear in their direct messages with the message,
labelled by the others' display names with a stacked picture; Carol replies and ann sees it;
the header names the people and opens the members list, the notify menu offers three levels
and no room controls show; a reload keeps it all. Bob, looking at another room, is notified.

The rules of test_web.py hold: every wait is for a state, never for time. Screenshots land in
tests/artifacts/ (desktop-group-conversation.png, phone-group-conversation.png,
desktop-group-picker.png).
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
    LineClient,
    needs_chromium,
    register_and_login,
)
from tests.browser.test_notifications import expect_count, fake, made, person
from tests.browser.test_web import Session, log_in, open_session, send, shot

pytestmark = [pytest.mark.slow, needs_chromium]

GROUP = "@ann:bob:carol"


def group_item(page: Page) -> Locator:
    return page.locator(f'#dm-list li[data-room="{GROUP}"] button')


def texts(page: Page) -> Locator:
    return page.locator("#message-list li.msg[data-seq] .msg-text")


def test_start_a_group_from_the_picker_reply_and_reload(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """ann starts a conversation with Bob and Carol from the picker; both see it appear with
    her message, Carol's reply reaches ann, and a reload keeps the conversation."""
    ann_token = register_and_login(daemon.url, "ann")
    setup = LineClient(daemon.tcp_port, ann_token)
    setup.request("create_room", room="lobby", topic="")
    for name, display in (("Bob", None), ("carol", "Carol Danvers"), ("dan", None)):
        other = LineClient(daemon.tcp_port, register_and_login(daemon.url, name))
        other.request("join", room="lobby")
        if display:
            other.request("set_profile", display_name=display)
        other.close()
    setup.close()

    bob = person(sessions, browser, fake("granted"))  # notifications recorded
    log_in(bob.page, daemon.url, "Bob")
    expect(bob.page.locator("#conv-title")).to_have_text("# lobby")
    carol = open_session(sessions, browser, PHONE)
    log_in(carol.page, daemon.url, "carol")
    expect(carol.page.locator("#me-status")).to_have_attribute("data-phase", "online")

    ann = open_session(sessions, browser, DESKTOP)
    page = ann.page
    log_in(page, daemon.url, "ann")
    expect(page.locator("#conv-title")).to_have_text("# lobby")
    expect(page.locator("#member-list li.member")).to_have_count(4)  # known: for completion

    # The picker: a name typed and Enter makes a chip; a display name's word completes.
    page.get_by_role("button", name="New direct message").click()
    who = page.locator("#dm-user")
    who.fill("bob")
    who.press("Enter")
    chips = page.locator("#dm-picked .pick-chip")
    expect(chips).to_have_count(1)
    who.fill("Dan")
    suggestion = page.locator("#dm-suggest button", has_text="Carol Danvers")
    expect(suggestion).to_have_text("Carol Danvers (carol)")
    suggestion.click()
    expect(chips).to_have_text([re.compile("^Bob"), re.compile("^Carol Danvers")])
    who.press("Backspace")  # the empty box: the last chip goes
    expect(chips).to_have_count(1)
    who.fill("car")
    who.press("Enter")  # the one completion
    expect(chips).to_have_count(2)
    who.fill("d")  # (the completions showing, for the picture)
    expect(page.locator("#dm-suggest button")).to_have_text(["dan"])
    shot(page, artifacts, "desktop-group-picker")
    who.fill("")
    page.get_by_role("button", name="Open", exact=True).click()

    # A draft until its first message: the header names the people.
    expect(page.locator("#conv-title")).to_have_text("Bob, Carol Danvers")
    send(page, "lunch at noon?")
    expect(texts(page)).to_have_text(["lunch at noon?"])
    expect(group_item(page)).to_have_accessible_name(
        re.compile("^Conversation with Bob and Carol Danvers"))  # the names as registered now
    expect(page.locator("#older-status")).to_have_text(
        "This is the start of your conversation with Bob and Carol Danvers.")

    # Bob, in #lobby, is alerted as by a direct message, told who wrote and where.
    expect_count(bob.page, "notified", 1)
    [alert] = made(bob.page)
    assert alert["title"] == "ann in Carol Danvers & you", alert
    assert alert["body"] == "lunch at noon?" and alert["tag"] == f"chatd:{GROUP}", alert

    # Bob and Carol see it appear, with the message, labelled by the others.
    expect(group_item(bob.page)).to_contain_text("ann, Carol Danvers")
    expect(group_item(bob.page).locator(".side-avatars .avatar")).to_have_count(2)
    expect(group_item(bob.page).locator(".badge:not(.mention)")).to_have_text("1")
    group_item(bob.page).click()
    expect(texts(bob.page)).to_have_text(["lunch at noon?"])

    carol.page.locator("#open-sidebar").click()
    expect(group_item(carol.page)).to_contain_text("ann, Bob")
    group_item(carol.page).click()
    expect(texts(carol.page)).to_have_text(["lunch at noon?"])
    send(carol.page, "yes! the usual place")
    expect(texts(carol.page)).to_have_text(["lunch at noon?", "yes! the usual place"])
    shot(carol.page, artifacts, "phone-group-conversation")

    expect(texts(page)).to_have_text(["lunch at noon?", "yes! the usual place"])
    expect(texts(bob.page)).to_have_text(["lunch at noon?", "yes! the usual place"])

    # The header opens the members list; the notify menu has three levels; no room controls.
    page.locator("#close-members").click()
    expect(page.locator("#toggle-members")).to_have_attribute("aria-expanded", "false")
    page.locator("#conv-title button.conv-people").click()
    expect(page.locator("#toggle-members")).to_have_attribute("aria-expanded", "true")
    expect(page.locator("#member-list li.member")).to_have_count(3)
    expect(page.locator("#member-list")).to_be_visible()
    expect(page.locator("#leave")).to_be_hidden()
    expect(page.locator("#invite")).to_be_hidden()
    expect(page.locator("#edit-topic")).to_be_hidden()
    expect(page.locator("#moderate")).to_be_hidden()
    page.locator("#room-notify").click()
    levels = page.get_by_role("menu").get_by_role("menuitemradio")
    expect(levels).to_have_text([re.compile(f"{level}$") for level in (
        "All messages", "Mentions only", "Muted")])
    expect(levels.first).to_have_attribute("aria-checked", "true")  # a group's default
    page.keyboard.press("Escape")
    shot(page, artifacts, "desktop-group-conversation")

    # A reload keeps it: listed, and its messages there when opened.
    page.reload()
    expect(page.locator("#me-status")).to_have_attribute("data-phase", "online")
    expect(group_item(page)).to_contain_text("Bob, Carol Danvers")
    group_item(page).click()
    expect(texts(page)).to_have_text(["lunch at noon?", "yes! the usual place"])
    expect(page.locator("#conv-title")).to_have_text("Bob, Carol Danvers")
    for someone in (ann, bob, carol):
        assert someone.errors == [] and someone.dialogs == [], (someone.errors, someone.dialogs)

"""Join links to one room and reminders for someone else in the page, in a real Chromium
against the real daemon and PostgreSQL:

- ann makes a link to her private #staff from the room's "Invite link…" (for five people, a
  day; on a phone, from the invite dialog), shown once with Copy, listed with its uses; Bob
  opens it logged out (the log-in form says what it is for), logs in, and the join screen
  shows #staff, its topic and size and who invites him; "Join" opens #staff. ann's list then
  counts Bob's use; she revokes it, and cid, opening it, is told it was revoked, with no Join
  button.
- ann types `/remind @bob in 20m send the report`: the page says Bob will be reminded, and
  Bob's Saved panel lists the note with "set by ann"; ann's "For others" lists it for Bob,
  and her Cancel takes it out of Bob's panel.

The rules of test_web.py hold: every wait is for a state, never for time. Screenshots in
tests/artifacts/: desktop-room-link.png (the dialog with the link just made),
desktop-room-link-join.png (the join screen), phone-room-link.png (the dialog on a phone,
from the invite dialog), phone-room-link-join.png (a revoked link),
desktop-remind-someone.png (Bob's Saved panel), desktop-reminders-for-others.png (ann's
list); axe-core checks the dialog and the screen.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.browser.conftest import (
    DESKTOP,
    PASSWORD,
    PHONE,
    Daemon,
    LineClient,
    needs_chromium,
    register_and_login,
    wait_online,
)
from tests.browser.test_page_defects import axe_serious
from tests.browser.test_saved import panel_items, saved_button
from tests.browser.test_web import Session, log_in, open_session, shot

pytestmark = [pytest.mark.slow, needs_chromium]

LINK = re.compile(r"^http://127\.0\.0\.1:\d+/#join=[A-Za-z0-9_-]{32}$")


def staff(daemon: Daemon) -> None:
    """ann owns the private #staff (with a topic); Bob and cid have accounts, in no room."""
    ann = LineClient(daemon.tcp_port, register_and_login(daemon.url, "ann"))
    ann.request("create_room", room="staff", private=True, topic="Rotas and leave")
    ann.request("send", room="staff", text="welcome to the staff room", nonce="w")
    ann.close()
    register_and_login(daemon.url, "Bob")
    register_and_login(daemon.url, "cid")


def open_link_dialog(page: Page) -> Locator:
    page.get_by_role("button", name="Invite link to this room").click()
    dialog = page.get_by_role("dialog", name="Invite link to #staff")
    expect(dialog).to_be_visible()
    return dialog


def log_in_here(page: Page, name: str) -> None:
    """Log in on the form shown, without leaving the address (it holds the link)."""
    page.get_by_role("tab", name="Log in").click()
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()


def test_a_link_to_a_private_room_made_used_and_revoked(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """ann makes a link to #staff; Bob opens it logged out, logs in, sees the join screen and
    joins; ann's list counts the use and she revokes it; cid is told it was revoked."""
    staff(daemon)
    ann = open_session(sessions, browser, DESKTOP)
    log_in(ann.page, daemon.url, "ann")
    wait_online(ann.page)
    expect(ann.page.locator("#conv-title")).to_contain_text("staff")

    dialog = open_link_dialog(ann.page)
    expect(dialog.get_by_text("No links yet")).to_be_visible()
    dialog.get_by_label("For").select_option(label="5 people")
    dialog.get_by_label("Expires after").select_option(label="1 day")
    dialog.get_by_role("button", name="Make a link").click()
    link_box = dialog.get_by_label("The new link")
    expect(link_box).to_have_value(LINK)
    link = link_box.input_value()
    expect(dialog.get_by_role("button", name="Copy")).to_be_visible()
    items = dialog.locator("#room-link-list li")
    expect(items).to_have_count(1)
    expect(items.first).to_contain_text("0 of 5 used · expires in 24 hours")
    shot(ann.page, artifacts, "desktop-room-link")
    assert axe_serious(ann.page) == []
    dialog.get_by_role("button", name="Done").click()
    expect(dialog).to_be_hidden()

    bob = open_session(sessions, browser, DESKTOP)
    bob.page.goto(link)
    expect(bob.page.locator("#auth-join")).to_be_visible()
    log_in_here(bob.page, "Bob")
    screen = bob.page.get_by_role("dialog", name="Join #staff")
    expect(screen).to_be_visible()
    expect(screen).to_contain_text("Rotas and leave")
    expect(screen).to_contain_text("A private room with 1 member.")
    expect(screen).to_contain_text("ann invites you.")
    assert "#join=" not in bob.page.url  # off the address once shown
    shot(bob.page, artifacts, "desktop-room-link-join")
    assert axe_serious(bob.page) == []
    screen.get_by_role("button", name="Join").click()
    expect(screen).to_be_hidden()
    expect(bob.page.locator("#conv-title")).to_contain_text("staff")
    expect(bob.page.locator("#messages")).to_contain_text("welcome to the staff room")

    dialog = open_link_dialog(ann.page)
    expect(dialog.locator("#room-link-list li").first).to_contain_text("1 of 5 used")
    dialog.get_by_role("button", name=re.compile(r"^Revoke link")).click()
    expect(dialog.locator("#room-link-list li").first).to_contain_text("revoked")
    expect(dialog.get_by_role("button", name=re.compile(r"^Revoke link"))).to_have_count(0)
    dialog.get_by_role("button", name="Done").click()

    # On a phone the header leaves its room to the title: the invite dialog offers the link.
    phone = open_session(sessions, browser, PHONE)
    log_in(phone.page, daemon.url, "ann")
    wait_online(phone.page)
    expect(phone.page.get_by_role("button", name="Invite link to this room")).to_be_hidden()
    phone.page.get_by_role("button", name="Invite someone to this room").click()
    phone.page.get_by_role("button", name="Make an invite link instead…").click()
    on_phone = phone.page.get_by_role("dialog", name="Invite link to #staff")
    expect(on_phone).to_be_visible()
    expect(on_phone.locator("#room-link-list li")).to_have_count(1)
    shot(phone.page, artifacts, "phone-room-link")
    on_phone.get_by_role("button", name="Done").click()

    cid = open_session(sessions, browser, PHONE)
    log_in(cid.page, daemon.url, "cid")
    wait_online(cid.page)
    cid.page.goto(link)
    refused = cid.page.get_by_role("dialog", name="This link does not work")
    expect(refused).to_be_visible()
    expect(refused).to_contain_text("This link was revoked.")
    expect(refused.get_by_role("button", name="Join")).to_have_count(0)
    shot(cid.page, artifacts, "phone-room-link-join")


def test_remind_someone_from_the_box(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """/remind @bob in 20m … says Bob will be reminded; Bob's Saved panel lists the note
    from ann with "set by ann"."""
    token = register_and_login(daemon.url, "ann")
    ann_line = LineClient(daemon.tcp_port, token)
    ann_line.request("create_room", room="general", topic="")
    bob_line = LineClient(daemon.tcp_port, register_and_login(daemon.url, "Bob"))
    bob_line.request("join", room="general")
    ann_line.close()
    bob_line.close()

    ann = open_session(sessions, browser, DESKTOP)
    log_in(ann.page, daemon.url, "ann")
    wait_online(ann.page)
    box = ann.page.locator("#composer-text")
    box.fill("/remind @bob in 20m send the report")
    box.press("Enter")
    expect(ann.page.locator("#composer-command")).to_contain_text("bob will be reminded")
    expect(box).to_have_value("")

    bob = open_session(sessions, browser, DESKTOP)
    log_in(bob.page, daemon.url, "Bob")
    wait_online(bob.page)
    saved_button(bob.page).click()
    item = panel_items(bob.page)
    expect(item).to_have_count(1)
    expect(item.first).to_contain_text("send the report")
    expect(item.first).to_contain_text("set by ann")
    shot(bob.page, artifacts, "desktop-remind-someone")

    # ann's list of what she set: "for bob", cancelled until it fires; bob's item goes.
    saved_button(ann.page).click()
    ann.page.get_by_role("button", name="For others").click()
    dialog = ann.page.get_by_role("dialog", name="Reminders for others")
    expect(dialog).to_be_visible()
    rows = dialog.locator("#reminders-set-list li")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(re.compile(r"for Bob: send the report · in (19|20) min"))
    expect(dialog.get_by_label("Others may set reminders for me")).to_be_checked()
    shot(ann.page, artifacts, "desktop-reminders-for-others")
    assert axe_serious(ann.page) == []
    dialog.get_by_role("button", name="Cancel the reminder for Bob").click()
    expect(rows).to_have_count(0)
    expect(dialog).to_contain_text("You have set no reminders for others.")
    expect(item).to_have_count(0)

"""Display names and custom statuses in the page, in a real Chromium against the real daemon:
ann sets a display name and a status in the "Profile and status" dialog (from the menu under
her name); Bob's page shows them at once (the `profile` event) on her message, in the member
list and in their conversation, and @-completion finds her by her display name; a status set
elsewhere with an end goes from Bob's page by itself at that time (the server's clock); a
stranger's name in a new conversation is looked up (`profiles`); "Clear status" clears it.

Every wait is for a state. The status that ends by itself is set a few seconds ahead, by the
server's clock, and the test waits for Bob's page to show it gone.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta
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
from tests.browser.test_notifications import create_room, register_and_login_again
from tests.browser.test_page_defects import axe_serious
from tests.browser.test_web import Session, log_in, open_session, register, send, shot

pytestmark = [pytest.mark.slow, needs_chromium]

UNTIL = r"until (tomorrow )?\d\d:\d\d"


def message_by(page: Page, text: str) -> Locator:
    """The confirmed message of the open conversation whose text is `text`."""
    return page.locator("#message-list li.msg[data-seq]").filter(
        has=page.locator(".msg-text", has_text=text))


def ann_said_hello_to_bob(daemon: Daemon, browser: Browser, sessions: list[Session]
                          ) -> tuple[Session, Session, Locator]:
    """ann registers on a page, makes #general and says "hello from ann"; bob joins it (over
    the protocol) and opens a page on it: their sessions, and ann's message on Bob's page."""
    ann = open_session(sessions, browser, DESKTOP)
    register(ann.page, daemon.url, "ann")
    create_room(ann.page, "general")
    send(ann.page, "hello from ann")
    bob_token = register_and_login(daemon.url, "bob")
    LineClient(daemon.tcp_port, bob_token).request("join", room="general")
    bob = open_session(sessions, browser, DESKTOP)
    log_in(bob.page, daemon.url, "bob")
    expect(bob.page.locator("#conv-title")).to_have_text("# general")
    return ann, bob, message_by(bob.page, "hello from ann")


def open_from_my_menu(page: Page, shown: str, item: str) -> Locator:
    """``item`` ("Profile and status…") from the menu under the person's name (``shown``, as
    the page names them): the dialog it opens (named as the item, without its "…"), open."""
    page.get_by_role("button", name=f"{shown}: profile and status").click()
    page.get_by_role("menuitem", name=item).click()
    dialog = page.get_by_role("dialog", name=item.removesuffix("…"))
    expect(dialog).to_be_visible()
    return dialog


def open_profile_dialog(page: Page, shown: str) -> Locator:
    """"Profile and status…" from the menu under the person's name: the dialog, open."""
    return open_from_my_menu(page, shown, "Profile and status…")


def test_a_status_set_in_the_dialog_reaches_another_page_live(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """ann: "Profile and status…", a display name and the "In a meeting" preset, Save. Bob's
    page shows "Ann Lee" (ann muted beside it) and 📅 on her message, in the member list and
    in the @-completion of "@lee" (which still inserts "@ann"); a status ann sets from
    another device for twenty seconds shows, then goes by itself; carol, a stranger who
    writes to Bob, is named by her display name; "Clear status" from ann's menu clears it."""
    ann, bob, said = ann_said_hello_to_bob(daemon, browser, sessions)
    expect(said.locator(".author")).to_have_text("ann")
    expect(said.locator(".status-emoji")).to_have_count(0)

    # ann's menu, under her name: the dialog.
    page = ann.page
    dialog = open_profile_dialog(page, "ann")
    dialog.get_by_label("Display name").fill("Ann Lee")
    dialog.get_by_role("button", name="📅 In a meeting · 1 hour").click()
    expect(dialog.get_by_label("Status", exact=True)).to_have_value("In a meeting")
    expect(dialog.get_by_label("Status emoji")).to_have_value("📅")
    expect(dialog.get_by_label("Clear after")).to_have_value("1h")
    assert axe_serious(page) == []
    shot(page, artifacts, "desktop-profile-dialog")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#me-name")).to_have_text("Ann Lee")
    expect(page.locator("#me-custom")).to_have_attribute(
        "title", re.compile(rf"^In a meeting, {UNTIL}$"))
    shot(page, artifacts, "desktop-profile-own")

    # Bob's page, live: her message, the member list, and @-completion.
    expect(said.locator(".author")).to_have_text("Ann Lee")
    expect(said.locator(".login")).to_have_text("ann")
    expect(said.locator(".status-emoji")).to_have_text("📅")
    expect(said.locator(".status-emoji")).to_have_attribute(
        "aria-label", re.compile(rf"^Status: In a meeting, {UNTIL}$"))
    member = bob.page.locator('#member-list li[data-user="ann"]')
    expect(member).to_be_visible()
    expect(member.locator(".name")).to_contain_text("Ann Lee")
    expect(member.locator(".member-status")).to_contain_text("In a meeting")
    box = bob.page.locator("#composer-text")
    box.fill("")
    box.press_sequentially("hi @lee")
    expect(bob.page.locator("#mention-list li")).to_have_count(1)
    expect(bob.page.locator("#mention-list li")).to_contain_text("Ann Lee")
    shot(bob.page, artifacts, "desktop-profile-seen")
    box.press("Enter")
    expect(box).to_have_value("hi @ann ")
    box.fill("")

    # Another device of ann's: a status for twenty seconds, by the server's clock. Bob's page
    # shows it, then shows it gone by itself. (The window is what a busy machine has to show
    # it in; the timer's logic is unit-tested in tests/web/profiles.test.mjs.)
    phone = LineClient(daemon.tcp_port, register_and_login_again(daemon, "ann"))
    phone.request("set_profile", custom_status={
        "emoji": "🚌", "text": "Commuting", "until": time.time_ns() // 1_000_000 + 20_000})
    expect(said.locator(".status-emoji")).to_have_text("🚌", timeout=20_000)
    expect(said.locator(".status-emoji")).to_have_count(0, timeout=45_000)
    expect(member.locator(".member-status")).to_have_count(0)
    expect(said.locator(".author")).to_have_text("Ann Lee")  # the name stays

    # A stranger writes to Bob: her name is looked up (`profiles`) for the sidebar. (Her
    # change is told to her own connections and her audience together: once her other
    # connection has heard of it, Bob, who is not in it yet, cannot have.)
    carol_token = register_and_login(daemon.url, "carol")
    carol = LineClient(daemon.tcp_port, carol_token)
    carol_too = LineClient(daemon.tcp_port, register_and_login_again(daemon, "carol"))
    carol.request("set_profile", display_name="Carol King",
                  custom_status={"emoji": "🌴", "text": "On holiday"})
    assert carol_too.wait_for("profile")["display_name"] == "Carol King"
    carol_too.close()
    carol.request("dm", to="bob", text="hello bob", nonce="c1")
    dm = bob.page.locator('#sidebar li[data-room="@bob:carol"] .side-item')
    expect(dm.locator(".name")).to_have_text("Carol King")
    expect(dm.locator(".status-emoji")).to_have_text("🌴")
    bob.wait_for_frame(lambda f: f.get("op") == "ok" and any(
        p.get("user") == "carol" for p in f.get("profiles", [])), "carol's profile")

    # Bob adds ann as a contact: named and with her status there, and live.
    bob.page.get_by_role("button", name="Add a contact").click()
    bob.page.locator("#contact-user").fill("ann")
    bob.page.get_by_role("button", name="Add", exact=True).click()
    contact = bob.page.locator('#contact-list li[data-user="ann"]')
    expect(contact.locator(".name")).to_have_text("Ann Lee")
    expect(contact.locator(".status-emoji")).to_have_count(0)

    # ann sets a status again, then clears it from her menu.
    phone.request("set_profile", custom_status={"emoji": "🤒", "text": "Out sick"})
    expect(said.locator(".status-emoji")).to_have_text("🤒")
    expect(contact.locator(".status-emoji")).to_have_text("🤒")
    expect(contact.get_by_role("button", name=re.compile(
        r"^Ann Lee \(ann\), online, Out sick: open conversation$"))).to_be_visible()
    shot(bob.page, artifacts, "desktop-profile-sidebar")
    page.get_by_role("button", name="Ann Lee: profile and status").click()
    page.get_by_role("menuitem", name="Clear status").click()
    expect(page.locator("#me-custom")).to_be_hidden()
    expect(said.locator(".status-emoji")).to_have_count(0)
    expect(contact.locator(".status-emoji")).to_have_count(0)
    # The menu from the keyboard: Enter opens it on its first item, Escape gives the focus back.
    name = page.get_by_role("button", name="Ann Lee: profile and status")
    name.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("menuitem", name="Profile and status…")).to_be_focused()
    expect(page.get_by_role("menuitem", name="Clear status")).to_have_count(0)
    page.keyboard.press("Escape")
    expect(name).to_be_focused()
    expect(name).to_have_attribute("aria-expanded", "false")
    phone.close()
    carol.close()
    assert ann.errors == []
    assert bob.errors == []


def test_on_a_phone_a_status_until_a_chosen_time_and_what_is_refused(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """On a phone, from the drawer: a display name, an emoji from the row, words, and "Choose
    a date and time" (tomorrow 10:00): "until tomorrow 10:00" under the name. Opened again,
    the dialog keeps that end ("As set"). A name of 65 characters is refused in the dialog,
    which stays open with what was typed; nothing is wider than the screen."""
    eve = open_session(sessions, browser, PHONE)
    page = eve.page
    register(page, daemon.url, "eve")
    page.get_by_role("button", name="Show rooms and people").click()
    page.get_by_role("button", name="eve: profile and status").click()
    page.get_by_role("menuitem", name="Profile and status…").click()
    dialog = page.get_by_role("dialog", name="Profile and status")
    dialog.get_by_label("Display name").fill("Eve Moreau")
    dialog.get_by_role("button", name="Use 🏠").click()
    expect(dialog.get_by_label("Status emoji")).to_have_value("🏠")
    expect(dialog.get_by_label("Status", exact=True)).to_be_focused()
    page.keyboard.type("Working from home")
    dialog.get_by_label("Clear after").select_option("custom")
    when = dialog.get_by_label("Clear the status at")
    expect(when).to_be_visible()
    tomorrow = (datetime.now() + timedelta(days=1)).strftime("%Y-%m-%dT10:00")
    when.fill(tomorrow)
    assert axe_serious(page) == []
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], width
    shot(page, artifacts, "phone-profile-dialog")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#me-name")).to_have_text("Eve Moreau")
    expect(page.locator("#me-custom")).to_have_attribute(
        "title", "Working from home, until tomorrow 10:00")

    page.get_by_role("button", name="Eve Moreau: profile and status").click()
    page.get_by_role("menuitem", name="Profile and status…").click()
    expect(dialog.get_by_label("Clear after")).to_have_value("keep")
    expect(dialog.locator("#status-clear option[value=keep]")).to_have_text(
        "As set: until tomorrow 10:00")
    expect(dialog.get_by_label("Status", exact=True)).to_have_value("Working from home")
    dialog.get_by_label("Display name").fill("E" * 65)
    dialog.get_by_role("button", name="Save").click()
    expect(page.locator("#dialog-error")).to_have_text(
        "A display name holds at most 64 characters.")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Display name")).to_have_value("E" * 65)
    dialog.get_by_role("button", name="Cancel").click()
    expect(page.locator("#me-name")).to_have_text("Eve Moreau")
    assert eve.errors == []

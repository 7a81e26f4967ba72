"""The person's own sidebar sections in the page, in a real Chromium against the real daemon:
ann makes a section from the sidebar's "New section", moves #random into it from its sidebar
menu's "Move to…", and her conversation with Bob into a new section from the header's menu;
her phone (another browser context, signed in as her) follows live, without a reload. She
collapses a section (the chevron, then the keyboard): its rooms fold away but one with Bob's
new message; the phone collapses one too. She renames one from its menu (a name she has
already is refused in the dialog), moves one up, moves #general with /section, drags #zoo
into a section and back, and deletes a section: its rooms are back in Rooms on both devices;
a reload keeps what the server holds. With the server's cap reached, its refusal is said in
the "New section" dialog. A favourite is moved into a section from its menu or by dragging it;
deleting a section that holds one says what becomes of it.

The rules of test_web.py hold: every wait is for a state, never for time. The screenshots land
in tests/artifacts/ (desktop-sections.png, phone-sections.png, desktop-sections-favourite.png,
desktop-sections-delete-favourite.png).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.browser.conftest import (
    DESKTOP,
    PHONE,
    Daemon,
    _running,
    needs_chromium,
    pick_in_menu,
    wait_online,
)
from tests.browser.test_page_defects import axe_serious
from tests.browser.test_pins import ann_and_bob_in
from tests.browser.test_slash import run
from tests.browser.test_web import Session, log_in, open_session, shot

pytestmark = [pytest.mark.slow, needs_chromium]

DM = "@ann:bob"
CAP = 2  # the sections one person may have, in the daemon of the refusal's test


def section(page: Page, name: str) -> Locator:
    """The sidebar's section called ``name`` (one of the person's own)."""
    return page.locator("#sections section.custom-section").filter(
        has=page.locator(".section-name", has_text=re.compile(f"^{re.escape(name)}$")))


def in_section(page: Page, name: str, room: str) -> Locator:
    """Room ``room``'s button in section ``name``."""
    return section(page, name).locator(f'li[data-room="{room}"] button')


def item(page: Page, kind: str, room: str) -> Locator:
    """Room ``room``'s button in the usual list ``kind`` (room, dm, favourite)."""
    return page.locator(f'#{kind}-list li[data-room="{room}"] button')


def section_names(page: Page) -> list[str]:
    return page.locator("#sections .section-name").all_text_contents()


def new_section(page: Page, name: str, title: str = "New section") -> Locator:
    """Fill the open "New section" dialog with ``name`` and press Create; returns it."""
    dialog = page.get_by_role("dialog", name=title)
    expect(dialog).to_be_visible()
    page.locator("#section-name").fill(name)
    dialog.get_by_role("button", name="Create").click()
    return dialog


def test_sections_made_moved_collapsed_renamed_and_deleted_on_two_devices(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """A section made, a room moved in from its menu and a conversation into a new section
    from the header's: on the phone at once; collapsed, an unread room stays in sight; marked
    read from its menu; renamed (a taken name refused in the dialog), moved up, /section;
    deleted, its rooms are back in Rooms; a reload keeps it all."""
    _, line_ann, bob = ann_and_bob_in(daemon, "general", "random", "zoo")
    line_ann.request("add_contact", user="Bob")
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
    expect(a.locator("#sections section")).to_have_count(0)

    # A section from the sidebar's button: on both, empty, saying how to fill it.
    a.locator("#new-section").click()
    expect(new_section(a, "Projects")).to_be_hidden()
    for page in (a, p):
        expect(section(page, "Projects")).to_have_count(1)
        expect(section(page, "Projects").locator("li.side-empty")).to_contain_text("Move to…")

    # #random, from its sidebar item's menu: Move to… lists the sections and Rooms (checked).
    item(a, "room", "random").click(button="right")
    pick_in_menu(a, "Move to…")
    menu = a.get_by_role("menu", name="Move #random to")
    expect(menu.locator(".menu-item")).to_have_text(
        [re.compile("Projects$"), re.compile("Rooms$"), "New section…"])
    expect(menu.get_by_role("menuitemradio", name="Rooms")).to_have_attribute(
        "aria-checked", "true")
    menu.get_by_role("menuitemradio", name="Projects").click()
    for page in (a, p):
        expect(in_section(page, "Projects", "random")).to_have_count(1)
        expect(item(page, "room", "random")).to_have_count(0)  # not listed twice
    expect(in_section(a, "Projects", "random")).to_be_focused()  # the focus followed it

    # The conversation, from the header's menu, into a new section made on the way.
    item(a, "dm", DM).click()
    expect(a.locator("#conv-title")).to_contain_text("Bob")
    a.locator("#room-notify").click()
    pick_in_menu(a, "Move to…")
    pick_in_menu(a, "New section…")
    expect(new_section(a, "Later", "Move to a new section")).to_be_hidden()
    for page in (a, p):
        expect(in_section(page, "Later", DM)).to_have_count(1)
        expect(page.locator("#dm-list li.side-empty")).to_have_text("No other conversations")
        assert section_names(page) == ["Projects", "Later"]

    # Collapsed: its rooms fold away (#general is open), but one with something new shows.
    item(a, "room", "general").click()
    expect(a.locator("#conv-title")).to_have_text("# general")
    toggle = section(a, "Projects").locator(".section-toggle")
    expect(toggle).to_have_attribute("aria-expanded", "true")
    toggle.click()
    for page in (a, p):
        expect(section(page, "Projects").locator(".section-toggle")).to_have_attribute(
            "aria-expanded", "false")
        expect(in_section(page, "Projects", "random")).to_have_count(0)
    bob.request("send", room="random", text="new plan", nonce="b2")
    for page in (a, p):
        expect(in_section(page, "Projects", "random").locator(".badge:not(.mention)")
               ).to_have_text("1")
    shot(a, artifacts, "desktop-sections")  # Projects collapsed, #random unread in sight
    assert axe_serious(a) == []
    # From the keyboard: Enter on the focused chevron opens it again, the focus kept.
    toggle.focus()
    a.keyboard.press("Enter")
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(section(a, "Projects").locator(".section-toggle")).to_be_focused()
    expect(section(p, "Projects").locator(".section-toggle")).to_have_attribute(
        "aria-expanded", "true")

    # The phone: its sidebar's sections, collapsed from there too.
    p.locator("#open-sidebar").click()
    expect(section(p, "Later").locator(".section-menu")).to_be_visible()  # (no hover there)
    expect(in_section(p, "Later", DM)).to_be_in_viewport()
    shot(p, artifacts, "phone-sections")
    assert axe_serious(p) == []
    section(p, "Later").locator(".section-toggle").click()
    for page in (a, p):
        expect(section(page, "Later").locator(".section-toggle")).to_have_attribute(
            "aria-expanded", "false")
        expect(in_section(page, "Later", DM)).to_have_count(0)  # read, not open
    section(a, "Later").locator(".section-toggle").click()
    expect(in_section(p, "Later", DM)).to_have_count(1)

    # "Mark all as read" in its menu while #random is unread there: read on both, then gone.
    section(a, "Projects").locator(".section-menu").click()
    expect(a.get_by_role("menu").locator(".menu-item")).to_have_text(
        ["Mark all as read", "Rename…", "Move down", "Delete…"])
    pick_in_menu(a, "Mark all as read")
    for page in (a, p):
        expect(in_section(page, "Projects", "random").locator(".badge")).to_have_count(0)

    # Renamed from its menu: a name she has already is refused in the dialog.
    section(a, "Projects").locator(".section-menu").click()
    expect(a.get_by_role("menu").locator(".menu-item")).to_have_text(
        ["Rename…", "Move down", "Delete…"])
    pick_in_menu(a, "Rename…")
    dialog = a.get_by_role("dialog", name="Rename Projects")
    expect(a.locator("#section-name")).to_have_value("Projects")
    a.locator("#section-name").fill("later")
    dialog.get_by_role("button", name="Rename").click()
    expect(a.locator("#dialog-error")).to_have_text("You have a section called Later already.")
    a.locator("#section-name").fill("Work")
    dialog.get_by_role("button", name="Rename").click()
    expect(dialog).to_be_hidden()
    for page in (a, p):
        expect(in_section(page, "Work", "random")).to_have_count(1)
        expect(section(page, "Projects")).to_have_count(0)

    # Moved up from its menu, from the keyboard: on both.
    section(a, "Later").locator(".section-menu").focus()
    a.keyboard.press("Enter")
    expect(a.get_by_role("menu").locator(".menu-item")).to_have_text(
        ["Rename…", "Move up", "Delete…"])
    pick_in_menu(a, "Move up")
    for page in (a, p):
        expect(page.locator("#sections .section-name")).to_have_text(["Later", "Work"])

    # /section moves the open room (here #general) into one of hers by name.
    run(a, "/section work")
    expect(a.locator("#composer-command")).to_contain_text("Moved to Work.")
    for page in (a, p):
        expect(in_section(page, "Work", "general")).to_have_count(1)
        expect(page.locator("#room-list li[data-room]")).to_have_count(1)
        expect(item(page, "room", "zoo")).to_have_count(1)

    # Dragged onto a section, and back onto Rooms.
    a.locator('#room-list li[data-room="zoo"]').drag_to(section(a, "Later"))
    for page in (a, p):
        expect(in_section(page, "Later", "zoo")).to_have_count(1)
        expect(page.locator("#room-list li[data-room]")).to_have_count(0)
    section(a, "Later").locator('li[data-room="zoo"]').drag_to(
        a.locator("#room-list").locator(".."))
    for page in (a, p):
        expect(item(page, "room", "zoo")).to_have_count(1)
        expect(in_section(page, "Later", "zoo")).to_have_count(0)

    # Deleted, once confirmed: its rooms are back in Rooms, on both.
    section(a, "Work").locator(".section-menu").click()
    pick_in_menu(a, "Delete…")
    confirm = a.get_by_role("dialog", name="Delete the section Work?")
    expect(confirm).to_contain_text("Its 2 rooms and conversations go back to Rooms")
    confirm.get_by_role("button", name="Delete").click()
    expect(confirm).to_be_hidden()
    for page in (a, p):
        expect(section(page, "Work")).to_have_count(0)
        expect(page.locator("#room-list li[data-room]")).to_have_count(3)
        expect(item(page, "room", "random")).to_have_count(1)

    # The server keeps it: a reload lists the conversation in Later, the rooms in Rooms.
    a.reload()
    wait_online(a)
    expect(in_section(a, "Later", DM)).to_have_count(1)
    expect(a.locator("#room-list li[data-room]")).to_have_count(3)
    assert section_names(a) == ["Later"]
    bob.close()
    assert ann.errors == [] and phone.errors == []
    assert ann.dialogs == [] and phone.dialogs == []


class FewSections(Daemon):
    """A daemon where one person may have :data:`CAP` sections."""

    def _spawn(self, extra: dict[str, str]) -> subprocess.Popen[bytes]:
        return super()._spawn({**extra, "CHATD_LIMITS_SECTIONS_PER_USER": str(CAP)})


@pytest.fixture
def few_sections(tmp_path: Path, database_dsn: str) -> Iterator[Daemon]:
    yield from _running(FewSections(tmp_path, database_dsn))


def test_the_servers_refusal_is_said_in_the_dialog(
    few_sections: Daemon, browser: Browser, sessions: list[Session]
) -> None:
    """With as many sections as the server allows, "New section" stays open and says why; one
    deleted, the same name is made."""
    _, line_ann, bob = ann_and_bob_in(few_sections, "general")
    for n in range(CAP):
        line_ann.request("create_section", name=f"S{n}")
    line_ann.close()
    bob.close()
    ann = open_session(sessions, browser, DESKTOP)
    a = ann.page
    log_in(a, few_sections.url, "ann")
    wait_online(a)
    expect(a.locator("#sections .section-name")).to_have_text(["S0", "S1"])
    a.locator("#new-section").click()
    dialog = new_section(a, "Third")
    expect(a.locator("#dialog-error")).to_have_text(
        "You have as many sections as you may: delete one first.")
    expect(dialog).to_be_visible()
    a.locator("#dialog-cancel").click()
    expect(dialog).to_be_hidden()
    section(a, "S0").locator(".section-menu").click()
    pick_in_menu(a, "Delete…")
    a.get_by_role("dialog", name="Delete the section S0?").get_by_role(
        "button", name="Delete").click()
    expect(section(a, "S0")).to_have_count(0)
    a.locator("#new-section").click()
    expect(new_section(a, "Third")).to_be_hidden()
    expect(a.locator("#sections .section-name")).to_have_text(["S1", "Third"])
    assert ann.errors == [] and ann.dialogs == []


def test_a_favourite_is_moved_to_a_section_and_shows_there_once_unstarred(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """#general is a favourite: its menu offers "Move to…" too; moved into Work, it stays in
    Favourites (as the server keeps both marks) and a toast says where it is now; removed
    from favourites, it shows in Work, and a reload keeps it there."""
    _, line_ann, bob = ann_and_bob_in(daemon, "general", "random")
    line_ann.request("create_section", name="Work")
    line_ann.request("favourite", room="general", on=True)
    line_ann.close()
    bob.close()
    ann = open_session(sessions, browser, DESKTOP)
    a = ann.page
    log_in(a, daemon.url, "ann")
    wait_online(a)
    expect(item(a, "favourite", "general")).to_have_count(1)

    item(a, "favourite", "general").click(button="right")
    pick_in_menu(a, "Move to…")
    menu = a.get_by_role("menu", name="Move #general to")
    expect(menu.get_by_role("menuitemradio", name="Rooms")).to_have_attribute(
        "aria-checked", "true")
    menu.get_by_role("menuitemradio", name="Work").click()
    expect(a.locator("#toasts")).to_contain_text(
        "#general is in Work now: it shows there once you remove it from Favourites.")
    shot(a, artifacts, "desktop-sections-favourite")
    expect(item(a, "favourite", "general")).to_have_count(1)
    expect(in_section(a, "Work", "general")).to_have_count(0)  # not listed twice
    expect(section(a, "Work").locator("li.side-empty")).to_have_text(
        "Its favourite shows in Favourites")
    # Its menu says where it is: Work checked.
    item(a, "favourite", "general").click(button="right")
    pick_in_menu(a, "Move to…")
    expect(a.get_by_role("menu", name="Move #general to").get_by_role(
        "menuitemradio", name="Work")).to_have_attribute("aria-checked", "true")
    a.keyboard.press("Escape")

    item(a, "favourite", "general").click(button="right")
    pick_in_menu(a, "Remove from favourites")
    expect(in_section(a, "Work", "general")).to_have_count(1)
    expect(item(a, "favourite", "general")).to_have_count(0)
    a.reload()
    wait_online(a)
    expect(in_section(a, "Work", "general")).to_have_count(1)
    expect(item(a, "room", "general")).to_have_count(0)
    assert ann.errors == [] and ann.dialogs == []


def test_a_favourite_is_dragged_onto_a_section_and_deleting_it_says_so(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """#general, a favourite, is dragged from Favourites onto Work, as a room is (its menu's
    "Move to…" does the same): it stays in Favourites and a toast says where it is. Deleting
    Work says what becomes of its favourite, not that Work holds nothing; unstarred after,
    #general is back in Rooms."""
    _, line_ann, bob = ann_and_bob_in(daemon, "general", "random")
    line_ann.request("create_section", name="Work")
    line_ann.request("favourite", room="general", on=True)
    line_ann.close()
    bob.close()
    ann = open_session(sessions, browser, DESKTOP)
    a = ann.page
    log_in(a, daemon.url, "ann")
    wait_online(a)
    expect(item(a, "favourite", "general")).to_have_count(1)

    a.locator('#favourite-list li[data-room="general"]').drag_to(section(a, "Work"))
    expect(a.locator("#toasts")).to_contain_text(
        "#general is in Work now: it shows there once you remove it from Favourites.")
    expect(item(a, "favourite", "general")).to_have_count(1)
    expect(section(a, "Work").locator("li.side-empty")).to_have_text(
        "Its favourite shows in Favourites")

    section(a, "Work").locator(".section-menu").click()
    pick_in_menu(a, "Delete…")
    confirm = a.get_by_role("dialog", name="Delete the section Work?")
    expect(confirm).to_contain_text("Its favourite stays in Favourites; removed from "
                                    "Favourites, it shows in Rooms or Direct messages.")
    expect(confirm).not_to_contain_text("It holds no room")
    shot(a, artifacts, "desktop-sections-delete-favourite")
    confirm.get_by_role("button", name="Delete").click()
    expect(confirm).to_be_hidden()
    expect(section(a, "Work")).to_have_count(0)
    item(a, "favourite", "general").click(button="right")
    pick_in_menu(a, "Remove from favourites")
    expect(item(a, "room", "general")).to_have_count(1)
    assert ann.errors == [] and ann.dialogs == []

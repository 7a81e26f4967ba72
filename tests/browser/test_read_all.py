""""Mark all as read" in the page, in a real Chromium against the real daemon: Bob writes in four
of ann's rooms and to her; ann picks "Mark all as read" from the menu under her name (its key,
Shift Esc, shown at its end), is asked first (more than a few rooms are unread), and every
badge and the title's count drop, on her desktop and on her phone (another browser context,
another device), which follows the `read` events. With fewer rooms unread, Shift+Esc marks them
at once; /readall in the message box too.

The rules of test_web.py hold: every wait is for a state, never for time. The screenshots land
in tests/artifacts/ (desktop-read-all.png, phone-read-all.png).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.browser.conftest import DESKTOP, PHONE, Daemon, needs_chromium, pick_in_menu, wait_online
from tests.browser.test_pins import ann_and_bob_in
from tests.browser.test_web import Session, log_in, open_session, shot

pytestmark = [pytest.mark.slow, needs_chromium]

DM = "@ann:bob"
ROOMS = ("announce", "random", "news", "dev", "ops")  # the first opened: nothing new
COUNTED = re.compile(r"^\(\d+\*?\) ")  # the title's unread count


def badges(page: Page) -> Locator:
    """Every unread badge of the sidebar."""
    return page.locator("#sidebar li .badge")


def badge(page: Page, section: str, room: str) -> Locator:
    """Room ``room``'s unread count in the sidebar's list ``section`` (room, dm)."""
    return page.locator(f'#{section}-list li[data-room="{room}"] .badge:not(.mention)')


def test_mark_all_as_read_on_every_device(daemon: Daemon, browser: Browser,
                                          sessions: list[Session], artifacts: Path) -> None:
    """From the person's menu, with a question first: no badge and no count left on either
    device; Shift+Esc without one when two rooms are unread; /readall likewise."""
    _, line_ann, bob = ann_and_bob_in(daemon, *ROOMS)
    line_ann.close()
    for room in ROOMS[1:]:
        bob.request("send", room=room, text=f"news in {room}", nonce=f"n-{room}")
    bob.request("dm", to="ann", text="lunch?", nonce="b1")
    ann = open_session(sessions, browser, DESKTOP)
    a = ann.page
    log_in(a, daemon.url, "ann")
    wait_online(a)
    phone = open_session(sessions, browser, PHONE)
    p = phone.page
    log_in(p, daemon.url, "ann")
    wait_online(p)
    for page in (a, p):
        expect(page.locator("#conv-title")).to_have_text("# announce")
        expect(badge(page, "room", "random")).to_have_text("1")
        expect(badge(page, "dm", DM)).to_have_text("1")
        expect(page).to_have_title(COUNTED)

    a.get_by_role("button", name="ann: profile and status").click()
    item = a.get_by_role("menuitem", name="Mark all as read", exact=True)
    expect(item).to_have_attribute("aria-keyshortcuts", "Shift+Escape")
    expect(item.locator("kbd")).to_have_text("Shift Esc")
    shot(a, artifacts, "desktop-read-all")
    pick_in_menu(a, "Mark all as read")
    dialog = a.get_by_role("dialog", name="Mark all as read?")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("5 rooms and conversations have unread messages")
    dialog.get_by_role("button", name="Mark all as read").click()
    expect(dialog).to_be_hidden()
    for page in (a, p):
        expect(badges(page)).to_have_count(0)
        expect(page).not_to_have_title(COUNTED)
    p.locator("#open-sidebar").click()
    expect(p.locator(f'#dm-list li[data-room="{DM}"]')).to_be_in_viewport()
    shot(p, artifacts, "phone-read-all")
    p.keyboard.press("Escape")  # the drawer closes
    expect(p.locator("#app")).not_to_have_class(re.compile(r"\bnav-open\b"))

    # Two rooms unread: Shift+Esc marks them at once, from the message box too.
    bob.request("send", room="dev", text="deploy done", nonce="n2")
    bob.request("dm", to="ann", text="still on?", nonce="b2")
    for page in (a, p):
        expect(badge(page, "room", "dev")).to_have_text("1")
        expect(badge(page, "dm", DM)).to_have_text("1")
    a.locator("#composer-text").focus()
    a.keyboard.press("Shift+Escape")
    expect(a.get_by_role("dialog")).to_have_count(0)
    for page in (a, p):
        expect(badges(page)).to_have_count(0)
        expect(page).not_to_have_title(COUNTED)

    # /readall in the box, from the phone this time.
    bob.request("send", room="ops", text="pager", nonce="n3")
    for page in (a, p):
        expect(badge(page, "room", "ops")).to_have_text("1")
    box = p.locator("#composer-text")
    box.fill("/readall")
    box.press("Enter")
    for page in (a, p):
        expect(badges(page)).to_have_count(0)
    # A reload: the server has them read.
    a.reload()
    wait_online(a)
    expect(badge(a, "room", "random")).to_have_count(0)
    expect(badges(a)).to_have_count(0)
    bob.close()
    assert ann.errors == [] and ann.dialogs == []
    assert phone.errors == [] and phone.dialogs == []


# Counts the page's calls of navigator.serviceWorker.getRegistration() (each pass that closes
# notifications of rooms read elsewhere asks it once), as an init script.
COUNT_REGISTRATIONS = """(() => {
  const container = ServiceWorkerContainer.prototype;
  const asked = container.getRegistration;
  window.chatdRegistrationsAsked = 0;
  container.getRegistration = function (...args) {
    window.chatdRegistrationsAsked += 1;
    return asked.apply(this, args);
  };
})()"""

MANY = tuple(f"room{n:02d}" for n in range(20))


def test_read_all_elsewhere_closes_notifications_in_one_pass(
    daemon: Daemon, browser: Browser, sessions: list[Session]
) -> None:
    """ann's other device marks her 20 rooms read: her page follows 20 `read` events, and
    closes what notifications they cover in one pass (the service worker's registration asked
    once or twice, not once a room)."""
    _, line_ann, bob = ann_and_bob_in(daemon, *MANY)
    for room in MANY:
        bob.request("send", room=room, text=f"news in {room}", nonce=f"n-{room}")
    bob.close()
    ann = open_session(sessions, browser, DESKTOP)
    a = ann.page
    a.add_init_script(COUNT_REGISTRATIONS)
    log_in(a, daemon.url, "ann")
    wait_online(a)
    expect(badges(a)).to_have_count(len(MANY) - 1)  # all but the room open
    before = a.evaluate("() => window.chatdRegistrationsAsked")

    assert line_ann.request("read_all")["op"] == "ok"
    expect(badges(a)).to_have_count(0)
    a.wait_for_function("(before) => window.chatdRegistrationsAsked > before", arg=before)
    passes = a.evaluate("() => window.chatdRegistrationsAsked") - before
    # (One pass a burst: two if the machine is slow enough to split the burst's frames.)
    assert 1 <= passes <= 2, passes
    line_ann.close()
    assert ann.errors == [] and ann.dialogs == []

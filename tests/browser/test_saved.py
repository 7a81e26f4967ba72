"""Saved messages and reminders in the page, in a real Chromium against the real daemon: "Save
for later" in a message's menu and the bookmark it leaves, on this tab and live on another
device of the same person; the reminder menu's custom date and time; the "Saved" panel (the
latest saved first, each with its room and reminder; a click shows the message where it was
said, paging back to it; "Done"); a reminder set a few seconds ahead (through the HTTP API, as
another device would) coming as an alert in the page, then overdue in the panel, on the
message and in the sidebar's count, on both devices.

The rules of test_web.py hold: every wait is for a state, never for time. Screenshots land in
tests/artifacts/ (desktop-saved.png).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Browser, FloatRect, Locator, Page, expect

from tests.browser.conftest import (
    DESKTOP,
    PHONE,
    Daemon,
    LineClient,
    http_json,
    needs_chromium,
)
from tests.browser.test_changes import menu_action, message
from tests.browser.test_page_defects import axe_serious
from tests.browser.test_pins import ann_and_bob_in
from tests.browser.test_web import Session, log_in, open_session, shot

pytestmark = [pytest.mark.slow, needs_chromium]

FILLER = 60  # messages after the old one: more than the room's first page (50)
REMIND_AHEAD_MS = 4000  # the reminder set through the API comes this long after it is set


def scene(daemon: Daemon) -> tuple[str, dict[str, int]]:
    """ann owns #general; Bob posted an old note long ago (ann saved it then), much since, and
    last the bank's call. Returns ann's token and the msg_ids."""
    token, ann, bob = ann_and_bob_in(daemon, "general")
    ids = {"old": bob.request("send", room="general", text="the old wiki password note",
                              nonce="old")["msg_id"]}
    ann.request("save", room="general", msg_id=ids["old"], on=True)
    bob.send_many("general", [f"filler {n}" for n in range(FILLER)], "filler")
    last = bob.request("send", room="general", text="call the bank before 3", nonce="bank")
    ids["bank"] = last["msg_id"]
    ann.request("read", room="general", seq=last["seq"])  # #general opens at its end
    ann.close()
    bob.close()
    return token, ids


# Whether the middle of an element is the element (or in it): nothing drawn over it there.
UNCOVERED = """node => {
  const box = node.getBoundingClientRect();
  return node.contains(document.elementFromPoint(box.x + box.width / 2, box.y + box.height / 2));
}"""


def overlap(one: FloatRect | None, two: FloatRect | None) -> bool:
    """Whether two boxes (playwright's bounding_box) share any area."""
    assert one is not None and two is not None
    return (one["x"] < two["x"] + two["width"] and two["x"] < one["x"] + one["width"]
            and one["y"] < two["y"] + two["height"] and two["y"] < one["y"] + one["height"])


def two_tabs(daemon: Daemon, browser: Browser, sessions: list[Session], name: str = "ann"
             ) -> tuple[Session, Session]:
    """Two desktop tabs of `name` (the same person on two devices), each logged in and
    showing # general."""
    one = open_session(sessions, browser, DESKTOP)
    two = open_session(sessions, browser, DESKTOP)
    for each in (one.page, two.page):
        log_in(each, daemon.url, name)
        expect(each.locator("#conv-title")).to_have_text("# general")
    return one, two


def saved_button(page: Page) -> Locator:
    return page.locator("#saved-open")


def panel_items(page: Page) -> Locator:
    return page.locator("#saved-list li.saved-item")


def test_save_remind_overdue_and_follow_on_another_device(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """A save from the menu marks the message here and on the person's other device at once;
    the panel lists the saved messages, the latest first, and opens one far back where it was
    said; a reminder due a few seconds ahead alerts in the page, and then shows overdue in the
    panel, on the message and in the sidebar's count on both devices; "Done" removes it."""
    token, ids = scene(daemon)
    one, two = two_tabs(daemon, browser, sessions)
    page, other = one.page, two.page
    for each in (page, other):
        expect(saved_button(each)).to_have_accessible_name("Saved for later")
    bank = message(page, "call the bank before 3")
    bank_there = message(other, "call the bank before 3")
    expect(bank.locator(".saved-mark")).to_have_count(0)

    # Saved from its menu: the bookmark here at once, and on the other device by its event.
    menu_action(page, bank, "Save for later")
    expect(bank.locator(".saved-mark")).to_have_accessible_name("Saved for later")
    expect(bank_there.locator(".saved-mark")).to_have_accessible_name("Saved for later")

    # A reminder at a custom date and time (the dialog offers tomorrow at 9:00).
    menu_action(page, bank, "Remind me about this…")
    page.get_by_role("menu", name="Remind me about this").get_by_role(
        "menuitem", name="Custom date and time…").click()
    dialog = page.get_by_role("dialog", name="Remind me about this")
    expect(dialog.get_by_label("Remind me on")).to_have_value(re.compile(r"T09:00$"))
    dialog.get_by_role("button", name="Set the reminder").click()
    expect(dialog).to_be_hidden()

    # The panel: the latest saved first, each with its room and its reminder.
    saved_button(page).click()
    panel = page.get_by_role("complementary", name="Saved for later")
    expect(panel).to_be_visible()
    expect(panel_items(page)).to_have_count(2)
    expect(panel_items(page).nth(0)).to_contain_text("call the bank before 3")
    expect(panel_items(page).nth(0)).to_contain_text("#general")
    expect(panel_items(page).nth(0).locator(".saved-remind")).to_have_text(
        re.compile(r"^in \d+ h$"))
    expect(panel_items(page).nth(1)).to_contain_text("the old wiki password note")
    expect(panel_items(page).nth(1).locator(".saved-remind")).to_have_count(0)

    # The old one opens where it was said, far behind the first page, highlighted.
    expect(message(page, "the old wiki password note")).to_have_count(0)
    panel.get_by_role("button", name=re.compile(r"^Bob in #general: the old wiki")).click()
    old = message(page, "the old wiki password note")
    expect(old).to_have_class(re.compile(r"\bflash\b"))
    expect(old).to_be_in_viewport()
    expect(old.locator(".saved-mark")).to_have_count(1)

    # Another device moves the reminder to a few seconds ahead (the HTTP API): it comes due.
    status, body = http_json(daemon.url, "PUT", f"/api/me/saved/general/{ids['bank']}",
                             {"remind_at": int(time.time() * 1000) + REMIND_AHEAD_MS}, token)
    assert status == 200, body
    alert = page.get_by_role("alert").filter(has_text="Reminder: Bob in #general")
    expect(alert).to_contain_text("call the bank before 3", timeout=REMIND_AHEAD_MS + 30_000)
    expect(other.get_by_role("alert").filter(has_text="Reminder: Bob in #general")).to_be_visible()
    overdue = panel_items(page).nth(0)
    expect(overdue.locator(".saved-remind")).to_have_text("Overdue")
    expect(overdue).to_have_class(re.compile(r"\boverdue\b"))
    for each in (page, other):
        expect(saved_button(each)).to_have_accessible_name("Saved for later: 1 overdue reminder")
        expect(saved_button(each)).to_have_text("1")
        expect(message(each, "call the bank before 3").locator(".saved-mark")).to_have_text(
            "Saved for later · Overdue")
    assert axe_serious(page) == []
    bank.scroll_into_view_if_needed()
    shot(page, artifacts, "desktop-saved")

    # The pointer on the message: its toolbar shows, and the bookmark is not under it.
    mark = bank.locator(".saved-mark")
    bank.hover(position={"x": 8, "y": 8})  # (the reminder's alert covers its middle)
    toolbar = bank.locator(".msg-actions")
    expect(toolbar).to_have_css("opacity", "1")
    assert not overlap(mark.bounding_box(), toolbar.bounding_box())
    assert mark.evaluate(UNCOVERED), "something covers the bookmark's middle"
    shot(page, artifacts, "desktop-saved-hover")

    # "Show" in the alert opens the message; "Done" in the panel removes it everywhere.
    alert.get_by_role("button", name="Show").click()
    expect(alert).to_have_count(0)
    expect(bank).to_have_class(re.compile(r"\bflash\b"))
    panel.get_by_role("button", name="Done with the message from Bob").first.click()
    expect(panel_items(page)).to_have_count(1)
    expect(panel_items(page).nth(0)).to_contain_text("the old wiki password note")
    for each in (page, other):
        expect(saved_button(each)).to_have_accessible_name("Saved for later")
        expect(message(each, "call the bank before 3").locator(".saved-mark")).to_have_count(0)
    assert one.errors == [] and two.errors == []


def test_back_online_the_list_is_the_servers_and_a_phone_opens_it_over_the_conversation(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """While ann's page is offline, another device of hers saves the bank's call with a
    reminder that comes due (told to that device only) and removes the old note. Back online,
    the welcome's count is overdue at once, and the marks and the panel are the server's; on
    a phone the panel covers the conversation, and an item opens its message there."""
    token, ids = scene(daemon)
    ann = open_session(sessions, browser, PHONE)
    page = ann.page
    log_in(page, daemon.url, "ann")
    bank = message(page, "call the bank before 3")
    expect(bank).to_have_count(1)
    expect(saved_button(page)).to_have_attribute("aria-label", "Saved for later")  # (a drawer)

    ann.context.set_offline(True)
    expect(page.locator("#banner")).to_be_visible()
    device = LineClient(daemon.tcp_port, token)  # her other device, online meanwhile
    status, body = http_json(daemon.url, "PUT", f"/api/me/saved/general/{ids['bank']}",
                             {"remind_at": int(time.time() * 1000) + 1500}, token)
    assert status == 200, body
    status, body = http_json(daemon.url, "DELETE", f"/api/me/saved/general/{ids['old']}",
                             token=token)
    assert status == 204, body
    assert device.wait_for("reminder")["msg_id"] == ids["bank"]  # sent: the item is reminded
    device.close()
    ann.context.set_offline(False)
    expect(page.locator("#banner")).to_be_hidden()

    expect(bank.locator(".saved-mark")).to_have_text("Saved for later · Overdue")
    # The drawer is closed, the Saved button in it: the drawer's button says the count.
    drawer = page.locator("#open-sidebar")
    expect(drawer.locator("#menu-saved")).to_be_visible()
    expect(drawer.locator("#menu-saved")).to_have_text("1")
    expect(drawer).to_have_accessible_name("Show rooms and people (1 overdue reminder)")
    expect(saved_button(page)).not_to_be_in_viewport()
    shot(page, artifacts, "phone-saved-drawer")
    page.locator("#open-sidebar").click()
    expect(saved_button(page)).to_have_accessible_name("Saved for later: 1 overdue reminder")
    saved_button(page).click()
    panel = page.get_by_role("complementary", name="Saved for later")
    expect(panel).to_be_visible()
    expect(panel_items(page)).to_have_count(1)
    expect(panel_items(page).first).to_contain_text("call the bank before 3")
    expect(panel_items(page).first.locator(".saved-remind")).to_have_text("Overdue")
    expect(page.locator("#saved-status")).to_have_text("1 saved message")
    shot(page, artifacts, "phone-saved")
    panel.get_by_role("button", name=re.compile(r"^Bob in #general: call the bank")).click()
    expect(page.locator("#saved-panel")).to_be_hidden()  # a phone: the conversation again
    expect(bank).to_have_class(re.compile(r"\bflash\b"))
    assert ann.errors == []

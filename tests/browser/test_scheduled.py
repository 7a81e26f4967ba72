"""Scheduled messages in the page, in a real Chromium against the real daemon: the clock beside
Send opens the "Schedule for later" menu (a preset; a custom day and time the next whole
minute, which comes due: the message appears in the room and the item leaves the panel), the
line under the box, the "Scheduled" panel (the soonest first; Send now, Reschedule…, Edit,
Delete, which asks first) followed live by a second tab of the same person; a thread's reply
scheduled (with its box's files; refused, they and the text come back to the box); an item
that failed (its sender was removed from the room) marked with why; the panel on a phone.

The rules of test_web.py hold: every wait is for a state, never for time (the custom time is
the next whole minute at least 20 seconds ahead: the expectation waits for the message,
with a timeout that covers that minute). Screenshots land in tests/artifacts/
(desktop-scheduled.png, phone-scheduled.png).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, FilePayload, Locator, Page, expect

from tests.browser.conftest import DESKTOP, PHONE, Daemon, _running, needs_chromium
from tests.browser.test_changes import menu_action, message
from tests.browser.test_files import chip
from tests.browser.test_page_defects import axe_serious
from tests.browser.test_pins import ann_and_bob_in
from tests.browser.test_saved import two_tabs
from tests.browser.test_threads import in_thread
from tests.browser.test_web import Session, log_in, open_session, shot

pytestmark = [pytest.mark.slow, needs_chromium]

AHEAD_MS = 20_000  # the custom time: the next whole minute at least this far ahead (the
# panel is checked with it still waiting, on a busy machine too)
DUE_TIMEOUT_MS = 60_000 + AHEAD_MS + 30_000  # that minute, and the server's delivery


def scheduled_button(page: Page) -> Locator:
    return page.locator("#scheduled-open")


def panel(page: Page) -> Locator:
    return page.get_by_role("complementary", name="Scheduled")


def items(page: Page) -> Locator:
    return page.locator("#scheduled-list li.scheduled-item")


def item(page: Page, text: str) -> Locator:
    return items(page).filter(has=page.locator(".result-text", has_text=re.compile(
        f"^{re.escape(text)}$")))


def schedule_menu(page: Page, opener: str = "#schedule") -> Locator:
    page.locator(opener).click()
    menu = page.get_by_role("menu", name="Schedule for later")
    expect(menu).to_be_visible()
    return menu


def next_minute(page: Page) -> tuple[str, str]:
    """The next whole minute at least AHEAD_MS ahead, as the page's day and time inputs take it
    (the browser's time zone, the one the page computes in)."""
    day, time = page.evaluate(
        """(ahead) => {
          const at = new Date(Math.ceil((Date.now() + ahead) / 60000) * 60000);
          const two = (n) => String(n).padStart(2, "0");
          return [`${at.getFullYear()}-${two(at.getMonth() + 1)}-${two(at.getDate())}`,
            `${two(at.getHours())}:${two(at.getMinutes())}`];
        }""", AHEAD_MS)
    return day, time


def confirm_delete(page: Page, *, delete: bool = True) -> None:
    """Answer the page's "Delete this scheduled message?" dialog: Delete, or Cancel."""
    dialog = page.get_by_role("dialog", name="Delete this scheduled message?")
    expect(dialog).to_be_visible()
    expect(dialog.locator(".confirm-text")).to_contain_text("It will not be sent")
    dialog.get_by_role("button", name="Delete" if delete else "Cancel", exact=True).click()
    expect(dialog).to_be_hidden()


def type_in_box(page: Page, text: str) -> None:
    box = page.locator("#composer-text")
    box.fill(text)
    expect(box).to_have_value(text)


def test_schedule_from_the_box_follow_on_another_tab_send_reschedule_edit_delete(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """A preset and a custom time schedule what the box holds (the box empties, a line says
    when); the panel lists them the soonest first, on this tab and on another of the same
    person; the custom time comes due (the message in the room, the item gone); Edit,
    Reschedule…, Send now and Delete change the list on both tabs; Escape closes the menu and
    gives the focus back to the clock."""
    _, ann, bob = ann_and_bob_in(daemon, "general")
    ann.close()
    one, two = two_tabs(daemon, browser, sessions)
    page, other = one.page, two.page
    for each in (page, other):
        expect(scheduled_button(each)).to_be_hidden()  # (nothing scheduled)

    # The keyboard: the menu opens from the clock, Escape closes it, the focus is back.
    type_in_box(page, "the release notes are ready")
    page.locator("#schedule").focus()
    page.keyboard.press("Enter")
    menu = page.get_by_role("menu", name="Schedule for later")
    expect(menu.get_by_role("menuitem")).to_have_text(
        ["Tomorrow at 9:00", "Monday at 9:00", "Custom time…"])
    expect(menu.get_by_role("menuitem").first).to_be_focused()
    page.keyboard.press("Escape")
    expect(menu).to_have_count(0)
    expect(page.locator("#schedule")).to_be_focused()
    expect(page.locator("#composer-text")).to_have_value("the release notes are ready")

    # A preset: the box empties (its draft too), a line says when, both tabs count it.
    schedule_menu(page).get_by_role("menuitem", name="Tomorrow at 9:00").click()
    expect(page.locator("#composer-text")).to_have_value("")
    line = page.locator("#composer-scheduled")
    expect(line).to_have_text("Scheduled for tomorrow at 9:00 · See all")
    for each in (page, other):
        expect(scheduled_button(each)).to_have_accessible_name("Scheduled messages: 1 message")

    # A custom time, the next whole minute: it comes due while the rest is checked. A time
    # passed is refused in the dialog first.
    type_in_box(page, "lunch at noon?")
    schedule_menu(page).get_by_role("menuitem", name="Custom time…").click()
    dialog = page.get_by_role("dialog", name="Schedule the message")
    expect(dialog.get_by_label("Time")).to_have_value("09:00")  # tomorrow at 9:00 at first
    today = page.evaluate("""() => {
      const d = new Date();
      return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${
        String(d.getDate()).padStart(2, "0")}`;
    }""")
    dialog.get_by_label("Day").fill(today)
    dialog.get_by_label("Time").fill("00:00")  # today's start: passed
    dialog.get_by_role("button", name="Schedule").click()
    expect(page.locator("#dialog-error")).to_have_text(
        "That time has passed: choose a later one.")
    day, time = next_minute(page)
    dialog.get_by_label("Day").fill(day)
    dialog.get_by_label("Time").fill(time)
    dialog.get_by_role("button", name="Schedule").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#composer-text")).to_have_value("")
    expect(line).to_have_text(re.compile(r"^Scheduled for today at \d+:\d\d · See all$|"
                                         r"^Scheduled for tomorrow at 0:0\d · See all$"))

    # The panel ("See all"), the soonest first; the other tab opens it too.
    line.get_by_role("button", name="See all").click()
    expect(panel(page)).to_be_visible()
    expect(page.locator("#scheduled-close")).to_be_focused()
    other.locator("#scheduled-open").click()
    for each in (page, other):
        expect(items(each)).to_have_count(2)
        expect(items(each).nth(0)).to_contain_text("lunch at noon?")
        expect(items(each).nth(1)).to_contain_text("the release notes are ready")
        expect(items(each).nth(1).locator("time")).to_have_text("tomorrow at 9:00")
        expect(items(each).nth(1)).to_contain_text("#general")
    assert axe_serious(page) == []
    shot(page, artifacts, "desktop-scheduled")

    # Edit (the text, and the time typed as /remind reads it, in a dialog): both tabs show
    # the new text and time; words that are no time are refused in the dialog.
    notes = item(page, "the release notes are ready")
    notes.get_by_role("button", name="Edit: the message to #general").click()
    edit = page.get_by_role("dialog", name="Edit the scheduled message")
    edit.locator("#scheduled-edit-text").fill("the release notes are ready (v2)")
    edit.get_by_label("New time (optional)").fill("tomorrow 17:30")
    shot(page, artifacts, "desktop-scheduled-edit")
    edit.get_by_label("New time (optional)").fill("someday")
    edit.get_by_role("button", name="Save").click()
    expect(page.locator("#dialog-error")).to_have_text(re.compile("^A time is in 20m"))
    edit.get_by_label("New time (optional)").fill("tomorrow 17:30")
    edit.get_by_role("button", name="Save").click()
    expect(edit).to_be_hidden()
    for each in (page, other):
        expect(item(each, "the release notes are ready (v2)")).to_have_count(1)
        expect(item(each, "the release notes are ready (v2)").locator("time")).to_have_text(
            "tomorrow at 17:30")

    # Reschedule… (a menu): Monday at 9:00, on both tabs.
    notes = item(page, "the release notes are ready (v2)")
    notes.get_by_role("button", name="Reschedule…: the message to #general").click()
    again = page.get_by_role("menu", name="Reschedule")
    again.get_by_role("menuitem", name="Monday at 9:00").click()
    monday = page.evaluate("new Date().getDay()") != 0  # (on a Sunday it is tomorrow)
    for each in (page, other):
        when = item(each, "the release notes are ready (v2)").locator("time")
        if monday:
            expect(when).not_to_have_text("tomorrow at 9:00")
        expect(when).to_have_text(re.compile(r"9:00$"))

    # The custom time came: the message is in the room, the item gone, on both tabs.
    for each in (page, other):
        expect(message(each, "lunch at noon?")).to_have_count(1, timeout=DUE_TIMEOUT_MS)
        expect(items(each)).to_have_count(1)

    # Send now: the message comes at once; the list is empty on both tabs.
    item(page, "the release notes are ready (v2)").get_by_role(
        "button", name="Send now: the message to #general").click()
    for each in (page, other):
        expect(message(each, "the release notes are ready (v2)")).to_have_count(1)
        expect(items(each)).to_have_count(0)
        expect(each.locator("#scheduled-status")).to_contain_text("Nothing scheduled")
        expect(scheduled_button(each)).to_have_accessible_name("Scheduled messages")  # (open)
    expect(line).to_be_hidden()  # the line went with its item

    # Delete: scheduled with a file, then deleted from the panel; never sent.
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Attach files").click()
    upload: FilePayload = {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"draft\n"}
    chooser.value.set_files([upload])
    expect(chip(page, "notes.txt")).to_have_class(re.compile(r"\bdone\b"))
    expect(page.locator("#schedule")).to_be_enabled()
    type_in_box(page, "never mind this one")
    schedule_menu(page).get_by_role("menuitem", name="Monday at 9:00").click()
    expect(chip(page, "notes.txt")).to_have_count(0)  # gone with the message, as on send
    for each in (page, other):
        expect(item(each, "never mind this one")).to_have_count(1)
        expect(item(each, "never mind this one").locator(".scheduled-files")).to_have_text(
            "📎 notes.txt")
    item(page, "never mind this one").get_by_role(
        "button", name="Delete: the message to #general").click()
    confirm_delete(page)
    for each in (page, other):
        expect(items(each)).to_have_count(0)
        expect(scheduled_button(each)).to_have_accessible_name("Scheduled messages")
    # Closed with nothing left: the entry goes, the focus to the message box.
    page.keyboard.press("Escape")
    expect(panel(page)).to_be_hidden()
    expect(scheduled_button(page)).to_be_hidden()
    expect(page.locator("#composer-text")).to_be_focused()
    bob.request("send", room="general", text="done here", nonce="done")
    expect(message(page, "done here")).to_have_count(1)
    expect(message(page, "never mind this one")).to_have_count(0)
    bob.close()
    assert one.errors == [] and two.errors == []


def test_a_thread_reply_scheduled_a_failed_item_and_the_panel_on_a_phone(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """A reply scheduled from a thread's box is sent into the thread; a message to a room its
    sender was removed from fails (marked, with why, and counted in red) and is deleted; on a
    phone the panel covers the conversation."""
    _, ann, bob = ann_and_bob_in(daemon, "general")
    bob.request("create_room", room="side", topic="")
    ann.request("join", room="side")
    root = bob.request("send", room="general", text="who takes friday?", nonce="root")
    ann.request("read", room="general", seq=root["seq"])
    ann.close()
    one = open_session(sessions, browser, DESKTOP)
    page = one.page
    log_in(page, daemon.url, "ann")
    expect(page.locator("#conv-title")).to_have_text("# general")

    # A thread's reply, scheduled from its box, then sent now: it is in the thread.
    menu_action(page, message(page, "who takes friday?"), "Reply in thread")
    box = page.locator("#thread-text")
    box.fill("I can do friday")
    schedule_menu(page, "#thread-schedule").get_by_role(
        "menuitem", name="Tomorrow at 9:00").click()
    expect(box).to_have_value("")
    expect(page.locator("#thread-scheduled")).to_have_text(
        "Scheduled for tomorrow at 9:00 · See all")
    page.locator("#thread-scheduled").get_by_role("button", name="See all").click()
    reply = item(page, "I can do friday")
    expect(reply).to_contain_text("reply in thread")
    reply.get_by_role("button", name="Send now: the message to #general").click()
    expect(items(page)).to_have_count(0)
    menu_action(page, message(page, "who takes friday?"), "Reply in thread")
    expect(in_thread(page, "I can do friday")).to_have_count(1)

    # A message to #side, then Bob removes ann from it: sent now, it fails, marked.
    page.locator("#sidebar").get_by_role("button", name=re.compile(r"side")).first.click()
    expect(page.locator("#conv-title")).to_have_text("# side")
    type_in_box(page, "see you all on monday")
    schedule_menu(page).get_by_role("menuitem", name="Tomorrow at 9:00").click()
    bob.request("kick", room="side", user="ann")
    expect(page.locator("#conv-title")).not_to_have_text("# side")
    scheduled_button(page).click()
    failing = item(page, "see you all on monday")
    failing.get_by_role("button", name="Send now: the message to #side").click()
    expect(failing).to_have_class(re.compile(r"\bfailed\b"))
    expect(failing.locator(".scheduled-error")).to_have_text(re.compile(r"^Not sent: .+"))
    expect(scheduled_button(page)).to_have_accessible_name(
        "Scheduled messages: 1 message, 1 not sent")
    expect(page.locator("#scheduled-count")).to_have_class(re.compile(r"\bfailed\b"))

    # On a phone: the panel covers the conversation, the failed item with it.
    phone = open_session(sessions, browser, PHONE)
    log_in(phone.page, daemon.url, "ann")
    phone.page.locator("#open-sidebar").click()
    scheduled_button(phone.page).click()
    expect(panel(phone.page)).to_be_visible()
    expect(item(phone.page, "see you all on monday").locator(".scheduled-error")).to_be_visible()
    shot(phone.page, artifacts, "phone-scheduled")
    phone.page.keyboard.press("Escape")
    expect(panel(phone.page)).to_be_hidden()

    # Deleted: gone, the count too.
    failing.get_by_role("button", name="Delete: the message to #side").click()
    confirm_delete(page)
    expect(items(page)).to_have_count(0)
    expect(page.locator("#scheduled-count")).to_have_count(0)
    bob.close()
    assert one.errors == [] and phone.errors == []


@pytest.fixture
def one_each(tmp_path: Path, database_dsn: str) -> Iterator[Daemon]:
    """A daemon that keeps one scheduled message per person (limits.scheduled_per_user = 1)."""
    server = Daemon(tmp_path, database_dsn)
    server.settings["CHATD_LIMITS_SCHEDULED_PER_USER"] = "1"
    yield from _running(server)


def test_a_thread_reply_scheduled_with_its_files_refused_given_back_and_deletion_asked(
    one_each: Daemon, browser: Browser, sessions: list[Session]
) -> None:
    """A thread's box with a file and text, scheduled while ann holds as many scheduled
    messages as the server keeps: refused, the text and the file are back in the thread's box
    (ready to go). Deleting her other item asks first (Cancel keeps it); deleted, the reply is
    scheduled again, with its file, and sent now: in the thread with the file."""
    daemon = one_each
    _, ann, bob = ann_and_bob_in(daemon, "general")
    root = bob.request("send", room="general", text="the plan for friday?", nonce="root")
    held = ann.request("schedule", room="general", text="the one I have",
                       send_at=int(time.time() * 1000) + 30 * 24 * 3600_000)
    assert held["op"] == "ok", held
    ann.request("read", room="general", seq=root["seq"])
    ann.close()
    one = open_session(sessions, browser, DESKTOP)
    page = one.page
    log_in(page, daemon.url, "ann")
    expect(page.locator("#conv-title")).to_have_text("# general")

    menu_action(page, message(page, "the plan for friday?"), "Reply in thread")
    thread = page.get_by_role("complementary", name="Thread in #general")
    with page.expect_file_chooser() as chooser:
        thread.get_by_role("button", name="Attach files to the reply").click()
    plan: FilePayload = {"name": "plan.txt", "mimeType": "text/plain", "buffer": b"friday\n"}
    chooser.value.set_files([plan])
    attached = page.locator("#thread-attachments li.attachment", has_text="plan.txt")
    expect(attached.locator(".att-status")).to_have_text(re.compile(r"^Ready"))
    box = page.locator("#thread-text")
    box.fill("here it is")
    schedule_menu(page, "#thread-schedule").get_by_role(
        "menuitem", name="Tomorrow at 9:00").click()
    # Refused (one each): the text and the file come back to the thread's box.
    expect(page.locator(".toast").last).to_contain_text("back in the box")
    expect(box).to_have_value("here it is")
    expect(attached.locator(".att-status")).to_have_text(re.compile(r"^Ready"))

    # The other item: Delete asks; Cancel keeps it, Delete deletes it.
    scheduled_button(page).click()
    mine = item(page, "the one I have")
    mine.get_by_role("button", name="Delete: the message to #general").click()
    confirm_delete(page, delete=False)
    expect(mine).to_have_count(1)
    mine.get_by_role("button", name="Delete: the message to #general").click()
    confirm_delete(page)
    expect(items(page)).to_have_count(0)

    # Scheduled again from the thread's box (opened again: the panel took its place): with
    # its file; sent now, in the thread with it.
    page.keyboard.press("Escape")
    menu_action(page, message(page, "the plan for friday?"), "Reply in thread")
    expect(box).to_have_value("here it is")
    expect(attached.locator(".att-status")).to_have_text(re.compile(r"^Ready"))
    schedule_menu(page, "#thread-schedule").get_by_role(
        "menuitem", name="Tomorrow at 9:00").click()
    expect(box).to_have_value("")
    expect(attached).to_have_count(0)
    scheduled_button(page).click()
    reply = item(page, "here it is")
    expect(reply).to_contain_text("reply in thread")
    expect(reply.locator(".scheduled-files")).to_have_text("📎 plan.txt")
    reply.get_by_role("button", name="Send now: the message to #general").click()
    expect(items(page)).to_have_count(0)
    got = bob.wait_for("message")
    while got.get("text") != "here it is":
        got = bob.wait_for("message")
    assert got["thread"] == root["msg_id"] and [f["name"] for f in got["files"]] == [
        "plan.txt"], got
    bob.close()
    assert one.errors == []

"""A message's edit history in the page, in a real Chromium against the real daemon: ann edits
her message twice in place; on Bob's page its "(edited)" is a button that opens the "Edit
history" dialog: the three versions, oldest first, "Posted by" then "Edited by", the words
each edit added and removed marked (and said for screen readers); Escape closes it.

The rules of test_web.py hold: every wait is for a state, never for time. Screenshot:
tests/artifacts/desktop-edit-history.png.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import DESKTOP, Daemon, _running, needs_chromium
from tests.browser.test_changes import menu_action, message
from tests.browser.test_page_defects import axe_serious
from tests.browser.test_pins import ann_and_bob_in
from tests.browser.test_web import Session, log_in, open_session, shot

pytestmark = [pytest.mark.slow, needs_chromium]


def edit_in_place(page: Page, old: str, new: str) -> None:
    menu_action(page, message(page, old), "Edit")
    box = page.get_by_role("textbox", name="Edit message")
    expect(box).to_be_focused()
    box.fill(new)
    box.press("Enter")
    expect(message(page, new).locator(".msg-edited")).to_have_text("(edited)")


def test_edited_twice_read_by_another(daemon: Daemon, browser: Browser,
                                      sessions: list[Session], artifacts: Path) -> None:
    """ann edits twice in her page; Bob opens the history from "(edited)": three versions,
    the original first, each edit's words marked; the dialog has no serious axe finding and
    Escape closes it; the keyboard opens it too."""
    _, ann_line, bob_line = ann_and_bob_in(daemon, "general")
    ann_line.request("send", room="general", text="Lunch at noon today", nonce="a1")
    bob_line.close()

    a = open_session(sessions, browser, DESKTOP).page
    log_in(a, daemon.url, "ann")
    expect(a.locator("#conv-title")).to_have_text("# general")
    edit_in_place(a, "Lunch at noon today", "Lunch at one today")
    edit_in_place(a, "Lunch at one today", "Lunch at one today in the park")

    b = open_session(sessions, browser, DESKTOP).page
    log_in(b, daemon.url, "Bob")
    expect(b.locator("#conv-title")).to_have_text("# general")
    edited = message(b, "Lunch at one today in the park").locator(".msg-edited")
    expect(edited).to_have_role("button")
    edited.click()
    dialog = b.get_by_role("dialog", name="Edit history")
    expect(dialog).to_be_visible()
    versions = dialog.locator("#edit-history li.edit-version")
    expect(versions).to_have_count(3)
    expect(versions.nth(0).locator(".edit-version-meta")).to_contain_text("Posted by ann")
    expect(versions.nth(0).locator(".edit-version-text")).to_have_text("Lunch at noon today")
    expect(versions.nth(1).locator(".edit-version-meta")).to_contain_text("Edited by ann")
    expect(versions.nth(1).locator("del")).to_have_text("removed: noon")
    expect(versions.nth(1).locator("ins")).to_have_text("added: one")
    expect(versions.nth(2).locator("ins")).to_have_text(re.compile(r"^added: +in the park$"))
    expect(versions.nth(2).locator("del")).to_have_count(0)
    expect(versions.nth(2).locator(".edit-version-now")).to_have_text(" (now)")
    expect(dialog.locator(".edit-history-note")).to_have_count(0)
    assert axe_serious(b) == []
    shot(b, artifacts, "desktop-edit-history")
    b.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    # Keyboard: the button takes the focus and Enter opens the dialog again.
    edited.focus()
    b.keyboard.press("Enter")
    expect(dialog).to_be_visible()
    expect(versions).to_have_count(3)
    b.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    ann_line.close()


@pytest.fixture
def moderators_only(tmp_path: Path, database_dsn: str) -> Iterator[Daemon]:
    """A daemon that shows edit histories to authors and moderators only."""
    server = Daemon(tmp_path, database_dsn)
    server.settings["CHATD_MESSAGES_EDIT_HISTORY"] = "moderators"
    yield from _running(server)


def test_moderators_only_hides_the_button(moderators_only: Daemon, browser: Browser,
                                          sessions: list[Session], artifacts: Path) -> None:
    """``[messages] edit_history = "moderators"``: on Bob's page ann's edited message says
    "(edited)" as plain text (no button); on ann's, her own is the button to its history."""
    _, ann_line, bob_line = ann_and_bob_in(moderators_only, "general")
    sent = ann_line.request("send", room="general", text="Lunch at noon", nonce="a1")
    assert ann_line.request("edit", room="general", msg_id=sent["msg_id"],
                            text="Lunch at one")["op"] == "ok"
    bob_line.close()
    ann_line.close()

    b = open_session(sessions, browser, DESKTOP).page
    log_in(b, moderators_only.url, "Bob")
    expect(b.locator("#conv-title")).to_have_text("# general")
    edited = message(b, "Lunch at one").locator(".msg-edited")
    expect(edited).to_have_text("(edited)")
    expect(edited).not_to_have_role("button")
    shot(b, artifacts, "desktop-edit-history-moderators")

    a = open_session(sessions, browser, DESKTOP).page
    log_in(a, moderators_only.url, "ann")
    expect(a.locator("#conv-title")).to_have_text("# general")
    mine = message(a, "Lunch at one").locator(".msg-edited")
    expect(mine).to_have_role("button")
    mine.click()
    expect(a.get_by_role("dialog", name="Edit history").locator(
        "#edit-history li.edit-version")).to_have_count(2)


def test_the_open_dialog_follows_edits_and_the_deletion(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """While Bob reads the history, ann edits the message again: the new version is added
    last, "(now)" moves to it and a status line says so; ann deletes it: the versions go and
    the dialog says the message was deleted."""
    _, ann_line, bob_line = ann_and_bob_in(daemon, "general")
    sent = ann_line.request("send", room="general", text="Lunch at noon", nonce="a1")
    assert ann_line.request("edit", room="general", msg_id=sent["msg_id"],
                            text="Lunch at one")["op"] == "ok"
    bob_line.close()

    b = open_session(sessions, browser, DESKTOP).page
    log_in(b, daemon.url, "Bob")
    expect(b.locator("#conv-title")).to_have_text("# general")
    message(b, "Lunch at one").locator(".msg-edited").click()
    dialog = b.get_by_role("dialog", name="Edit history")
    versions = dialog.locator("#edit-history li.edit-version")
    expect(versions).to_have_count(2)

    assert ann_line.request("edit", room="general", msg_id=sent["msg_id"],
                            text="Lunch at two")["op"] == "ok"
    expect(versions).to_have_count(3)
    expect(versions.nth(2).locator("del")).to_have_text("removed: one")
    expect(versions.nth(2).locator("ins")).to_have_text("added: two")
    expect(versions.nth(2).locator(".edit-version-now")).to_have_text(" (now)")
    expect(versions.nth(1).locator(".edit-version-now")).to_have_count(0)
    expect(dialog.get_by_role("status")).to_have_text(
        "Edited again while open: the newest version is last.")
    shot(b, artifacts, "desktop-edit-history-live")

    assert ann_line.request("delete", room="general", msg_id=sent["msg_id"])["op"] == "ok"
    expect(dialog.locator("#edit-history-status")).to_have_text(
        "This message was deleted: its versions went with it.")
    expect(versions).to_have_count(0)
    expect(dialog).to_be_visible()
    b.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    ann_line.close()

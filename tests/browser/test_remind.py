"""A reminder of anything from the page (Slack's "Later" → "Create a reminder"), in a real
Chromium against the real daemon: the Saved panel's "New reminder" dialog sends `remind`; the
note comes into the Saved list (with its time) and the notes to self by their events, on this
tab and on another of the same person; the server's refusal shows in the dialog, and pressing
"Set reminder" again saves the note written then (the same nonce: no second note); the
reminder, come due, alerts on both tabs.

The rules of test_web.py hold: every wait is for a state, never for time. Screenshot:
tests/artifacts/desktop-new-reminder.png.
"""

from __future__ import annotations

import re
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.browser.conftest import (
    PHONE,
    Daemon,
    _running,
    http_json,
    losing_the_reply,
    needs_chromium,
)
from tests.browser.test_changes import message
from tests.browser.test_page_defects import axe_serious
from tests.browser.test_pins import ann_and_bob_in
from tests.browser.test_saved import panel_items, saved_button, two_tabs
from tests.browser.test_web import Session, log_in, open_session, shot

pytestmark = [pytest.mark.slow, needs_chromium]

REMIND_AHEAD_MS = 4000  # the reminder moved through the API comes this long after
NOTES = "@ann:ann"  # ann's notes to self


@pytest.fixture
def two_saved(tmp_path: Path, database_dsn: str) -> Iterator[Daemon]:
    """A daemon that keeps two saved messages per person (limits.saved_per_user = 2)."""
    server = Daemon(tmp_path, database_dsn)
    server.settings["CHATD_LIMITS_SAVED_PER_USER"] = "2"
    yield from _running(server)


def new_reminder(page: Page, text: str, when: str) -> Locator:
    """Open "New reminder" from the open Saved panel, type `text`, choose `when` (a preset's
    key); returns the dialog (not submitted)."""
    page.get_by_role("complementary", name="Saved for later").get_by_role(
        "button", name="New reminder").click()
    dialog = page.get_by_role("dialog", name="New reminder")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Remind me to…").fill(text)
    dialog.get_by_label("When").select_option(when)
    return dialog


def notes_to_self(page: Page, text: str) -> Locator:
    """The messages of ann's notes to self holding `text` (the conversation opened)."""
    page.locator(f'#dm-list li[data-room="{NOTES}"] button').first.click()
    return message(page, text)


def test_new_reminder_in_the_saved_panel_refused_then_set_and_reminded(
    two_saved: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """ann (who keeps one saved message of the two the server allows) creates a reminder from
    the Saved panel: it is listed with its time here and on her other tab, and is a note in her
    notes to self. A second is refused (too many saved), the dialog says so; once the old
    save is done elsewhere, "Set reminder" again saves that note, no second one written. The
    first, moved a few seconds ahead, alerts on both tabs."""
    daemon = two_saved
    token, ann, bob = ann_and_bob_in(daemon, "general")
    old = bob.request("send", room="general", text="the old wiki note", nonce="old")
    ann.request("save", room="general", msg_id=old["msg_id"], on=True)
    ann.request("read", room="general", seq=old["seq"])
    ann.close()
    bob.close()
    one, two = two_tabs(daemon, browser, sessions)
    page, other = one.page, two.page
    for each in (page, other):
        saved_button(each).click()
        expect(panel_items(each)).to_have_count(1)

    # A reminder in an hour: listed with its time, here and on the other tab.
    dialog = new_reminder(page, "call the bank about the card", "1h")
    expect(dialog.get_by_label("Remind me on")).to_be_hidden()  # (a preset: no custom field)
    dialog.get_by_label("When").select_option("custom")
    expect(dialog.get_by_label("Remind me on")).to_have_value(re.compile(r"T09:00$"))
    dialog.get_by_label("When").select_option("1h")
    assert axe_serious(page) == []
    shot(page, artifacts, "desktop-new-reminder")
    dialog.get_by_role("button", name="Set reminder").click()
    expect(dialog).to_be_hidden()
    for each in (page, other):
        bank = panel_items(each).filter(has_text="call the bank about the card")
        expect(bank).to_have_count(1)
        expect(bank.locator(".saved-remind")).to_have_text(re.compile(r"^in (59|60) min$"))
        expect(bank.locator(".saved-remind")).to_have_attribute("title", re.compile("Reminder: "))
        expect(bank.locator(".result-room")).to_have_text("Notes to self")
        expect(panel_items(each)).to_have_count(2)
    bank_id = int(panel_items(page).filter(has_text="call the bank").get_attribute(
        "data-msg-id") or "0")
    assert panel_items(page).filter(has_text="call the bank").get_attribute(
        "data-room") == NOTES

    # A second one: the server keeps two saved messages; refused, and the dialog says why.
    dialog = new_reminder(page, "water the plants", "20m")
    dialog.get_by_role("button", name="Set reminder").click()
    expect(dialog.locator("#dialog-error")).to_contain_text("too many saved messages")
    expect(dialog).to_be_visible()
    # The old save done on another device: pressed again, the note written then is saved.
    status, body = http_json(daemon.url, "DELETE",
                             f"/api/me/saved/general/{old['msg_id']}", token=token)
    assert status == 204, body
    expect(panel_items(page)).to_have_count(1)
    dialog.get_by_role("button", name="Set reminder").click()
    expect(dialog).to_be_hidden()
    plants = panel_items(page).filter(has_text="water the plants")
    expect(plants.locator(".saved-remind")).to_have_text(re.compile(r"^in (19|20) min$"))
    expect(panel_items(page)).to_have_count(2)
    expect(panel_items(other).filter(has_text="water the plants")).to_have_count(1)

    # The notes to self hold each note once (the refused one was not written twice).
    expect(notes_to_self(page, "call the bank about the card")).to_have_count(1)
    expect(message(page, "water the plants")).to_have_count(1)
    expect(page.locator("#message-list li.msg[data-seq]")).to_have_count(2)

    # Moved a few seconds ahead (another device): due, it alerts on both tabs.
    status, body = http_json(
        daemon.url, "PUT", f"/api/me/saved/{urllib.parse.quote(NOTES)}/{bank_id}",
        {"remind_at": int(time.time() * 1000) + REMIND_AHEAD_MS}, token)
    assert status == 200, body
    for each in (page, other):
        alert = each.locator(".reminder-alert")
        expect(alert).to_contain_text("call the bank about the card",
                                      timeout=REMIND_AHEAD_MS + 30_000)
        expect(alert.locator("strong")).to_have_text("Reminder")
        bank = panel_items(each).filter(has_text="call the bank about the card")
        expect(bank.locator(".saved-remind")).to_have_text("Overdue")
    assert one.errors == [] and two.errors == []


def test_a_reminder_whose_reply_was_lost_is_sent_again_as_one_note(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """On a phone, the connection drops after the server wrote ann's reminder, before its
    reply: back online, the page sends the same request again (the same nonce); the server
    answers it as the first, the dialog closes, and there is one note and one saved item."""
    ann_and_bob_in(daemon, "general")[1].close()
    session = open_session(sessions, browser, PHONE)
    page = session.page
    sent: list[dict[str, Any]] = []
    losing_the_reply(page, "remind", sent)
    log_in(page, daemon.url, "ann")
    expect(page.locator("#conv-title")).to_have_text("# general")
    page.locator("#open-sidebar").click()
    saved_button(page).click()
    dialog = new_reminder(page, "renew the passport", "3h")
    shot(page, artifacts, "phone-new-reminder")
    dialog.get_by_role("button", name="Set reminder").click()
    expect(dialog).to_be_hidden()
    item = panel_items(page).filter(has_text="renew the passport")
    expect(item.locator(".saved-remind")).to_have_text(re.compile(r"^in 3 h$"))
    expect(panel_items(page)).to_have_count(1)
    page.locator("#saved-close").click()
    page.locator("#open-sidebar").click()
    expect(notes_to_self(page, "renew the passport")).to_have_count(1)
    expect(page.locator("#message-list li.msg[data-seq]")).to_have_count(1)
    assert len(sent) == 2, sent
    assert sent[0]["nonce"] == sent[1]["nonce"] and sent[0]["id"] != sent[1]["id"]
    assert {k: v for k, v in sent[0].items() if k != "id"} == {
        k: v for k, v in sent[1].items() if k != "id"}
    assert session.errors == []

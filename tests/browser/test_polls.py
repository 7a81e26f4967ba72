"""Polls in the page, in a real Chromium against the real daemon: ann creates a poll from the
message box's "Create a poll" (the dialog checks the server's rules, shows the server's
refusal, and keeps the poll while it is wrong), Bob votes on his phone and ann's card moves
live (its bar, count and voters), Bob changes his vote, ann closes it from the message's menu
and Bob sees the final results; a reload keeps it all. A poll made in a thread's box is a reply
in the thread (and in the room with "Also send to #general").

The rules of test_web.py hold: every wait is for a state, never for time. Screenshots land in
tests/artifacts/ (desktop-poll.png, phone-poll.png, desktop-thread-poll.png,
phone-thread-poll.png).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.browser.conftest import DESKTOP, PHONE, Daemon, needs_chromium
from tests.browser.test_changes import menu_action, message
from tests.browser.test_page_defects import axe_serious
from tests.browser.test_pins import ann_and_bob_in
from tests.browser.test_threads import summary, thread_panel
from tests.browser.test_web import Session, log_in, open_session, shot

pytestmark = [pytest.mark.slow, needs_chromium]

QUESTION = "Lunch on Friday?"


def card(page: Page) -> Locator:
    return message(page, QUESTION).locator(".poll")


def option(page: Page, text: str) -> Locator:
    """The option `text` of the poll's card (a button while one may vote, else a row)."""
    return card(page).locator(".poll-option").filter(
        has=page.locator(".poll-text", has_text=re.compile(f"^{re.escape(text)}$")))


def named(text: str, votes: int, percent: int, who: str = "") -> re.Pattern[str]:
    """An option's accessible name: "Sushi: 1 vote, 100% (Bob)"."""
    count = f"{votes} vote" if votes == 1 else f"{votes} votes"
    return re.compile(f"^{re.escape(text)}: {count}, {percent}%"
                      + (re.escape(f" ({who})") if who else r"(?! \()"))


def test_a_poll_created_voted_on_live_closed_and_kept(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """A poll made in the dialog, voted on from two pages (pointer and keyboard), closed by its
    author: each page shows every vote live, the final results after, and the same on reload."""
    _, ann_line, bob_line = ann_and_bob_in(daemon, "general")
    ann_line.close()
    bob_line.close()
    ann = open_session(sessions, browser, DESKTOP)
    page = ann.page
    log_in(page, daemon.url, "ann")
    expect(page.locator("#conv-title")).to_have_text("# general")
    bob = open_session(sessions, browser, PHONE)
    phone = bob.page
    log_in(phone, daemon.url, "Bob")
    expect(phone.locator("#conv-title")).to_have_text("# general")

    # The dialog: two options to start, Add/Remove, the server's rules before it is sent.
    page.get_by_role("button", name="Create a poll").click()
    dialog = page.get_by_role("dialog", name="Create a poll")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Question").fill(QUESTION)
    expect(dialog.get_by_role("textbox", name=re.compile(r"^Option \d+$"))).to_have_count(2)
    expect(dialog.get_by_role("button", name="Remove option 1")).to_be_disabled()
    dialog.get_by_role("textbox", name="Option 1").fill("Pizza")
    dialog.get_by_role("textbox", name="Option 2").fill(" pizza ")
    dialog.get_by_role("button", name="Create poll").click()
    expect(page.locator("#dialog-error")).to_have_text("Option 2 repeats another option.")
    expect(dialog).to_be_visible()
    # What the page cannot check, the server refuses: its words in the dialog, which keeps the
    # poll (an option with a lone surrogate, which no keyboard types but a paste might bring).
    dialog.get_by_role("textbox", name="Option 2").evaluate(
        "input => { input.value = 'Sushi \\uD800'; }")
    dialog.get_by_role("button", name="Create poll").click()
    expect(page.locator("#dialog-error")).to_have_text(
        re.compile(r"^Not sent: .*valid Unicode"))
    expect(dialog).to_be_visible()
    expect(page.locator("#message-list li.msg")).to_have_count(0)  # nothing left pending
    dialog.get_by_role("textbox", name="Option 2").fill("Sushi")
    dialog.get_by_role("button", name="Add option").click()
    expect(dialog.get_by_role("textbox", name="Option 3")).to_be_focused()
    page.keyboard.type("Tacos")
    dialog.get_by_role("button", name="Add option").click()
    dialog.get_by_role("textbox", name="Option 4").fill("Salad")
    dialog.get_by_role("button", name="Remove option 4").click()
    expect(dialog.get_by_role("textbox", name=re.compile(r"^Option \d+$"))).to_have_count(3)
    dialog.get_by_role("button", name="Create poll").click()
    expect(dialog).to_be_hidden()
    expect(card(page).locator(".poll-option")).to_have_count(3)
    expect(card(page).locator(".poll-question")).to_have_text(QUESTION)
    expect(card(page).locator(".poll-label")).to_contain_text("choose one")
    frame = ann.wait_for_frame(lambda f: f.get("op") == "message" and f.get("text") == QUESTION,
                               "the poll's message")
    assert [o["text"] for o in frame["poll"]["options"]] == ["Pizza", "Sushi", "Tacos"]

    # Bob votes Sushi on his phone: ann's card moves live (the bar, the count, his name).
    expect(card(phone).locator(".poll-option")).to_have_count(3)
    option(phone, "Sushi").click()
    expect(option(phone, "Sushi")).to_have_attribute("aria-pressed", "true")
    expect(option(page, "Sushi")).to_have_accessible_name(named("Sushi", 1, 100, "Bob"))
    expect(option(page, "Sushi").locator(".poll-bar")).to_have_attribute(
        "style", re.compile(r"width: 100%"))
    expect(option(page, "Sushi")).to_have_attribute("aria-pressed", "false")
    expect(card(page).locator(".poll-voters")).to_have_attribute("title", "Bob")

    # ann votes Pizza from the keyboard.
    option(page, "Pizza").focus()
    page.keyboard.press("Enter")
    expect(option(page, "Pizza")).to_have_attribute("aria-pressed", "true")
    expect(option(page, "Pizza")).to_have_accessible_name(
        named("Pizza", 1, 50, "you"))
    expect(option(phone, "Pizza")).to_have_accessible_name(re.compile(r"^Pizza: 1 vote, 50%"))

    # Bob changes his vote to Tacos: off Sushi, on Tacos, on both pages.
    option(phone, "Tacos").click()
    expect(option(phone, "Tacos")).to_have_attribute("aria-pressed", "true")
    expect(option(phone, "Sushi")).to_have_attribute("aria-pressed", "false")
    expect(option(page, "Sushi")).to_have_accessible_name(named("Sushi", 0, 0))
    expect(option(page, "Sushi").locator(".poll-bar")).to_have_attribute(
        "style", re.compile(r"width: 0%"))
    expect(option(page, "Tacos")).to_have_accessible_name(named("Tacos", 1, 50, "Bob"))
    expect(card(page).locator(".poll-foot")).to_have_text("2 votes")
    assert axe_serious(page) == []
    shot(page, artifacts, "desktop-poll")

    # Only the author (and moderators) may close it: Bob's menu has no "Close poll".
    item = message(phone, QUESTION)
    item.get_by_role("button", name=re.compile("^Actions for the message")).click()
    menu = phone.get_by_role("menu")
    expect(menu.get_by_role("menuitem", name="Mark unread")).to_be_visible()
    expect(menu.get_by_role("menuitem", name="Close poll")).to_have_count(0)
    phone.keyboard.press("Escape")
    expect(menu).to_have_count(0)

    # ann closes it: Bob sees the final results, and nothing left to press.
    menu_action(page, message(page, QUESTION), "Close poll")
    expect(card(phone).locator(".poll-label")).to_have_text(re.compile("Final results"))
    expect(card(phone).get_by_role("button")).to_have_count(0)
    expect(card(phone).locator(".poll-foot")).to_have_text("2 votes · Closed by ann")
    expect(option(phone, "Tacos")).to_have_accessible_name(
        re.compile(r"^Tacos: 1 vote, 50% \(you\), your choice$"))
    expect(card(page).locator(".poll-foot")).to_have_text("2 votes · Closed by you")
    assert axe_serious(phone) == []
    shot(phone, artifacts, "phone-poll")

    # A reload keeps it all (the server's copy of the message).
    phone.reload()
    expect(card(phone).locator(".poll-label")).to_have_text(re.compile("Final results"))
    expect(option(phone, "Tacos")).to_have_accessible_name(
        re.compile(r"^Tacos: 1 vote, 50% \(you\), your choice$"))
    expect(option(phone, "Pizza")).to_have_accessible_name(named("Pizza", 1, 50, "ann"))
    expect(option(phone, "Sushi")).to_have_accessible_name(named("Sushi", 0, 0))
    page.reload()
    expect(card(page).locator(".poll-foot")).to_have_text("2 votes · Closed by you")
    expect(card(page).get_by_role("button")).to_have_count(0)
    width = phone.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], width


def test_a_multiple_choice_poll_toggles_each_option(
    daemon: Daemon, browser: Browser, sessions: list[Session]
) -> None:
    """In a poll that allows several choices, each press toggles its option alone, and the
    server's entries say the whole choice each time."""
    _, ann_line, bob_line = ann_and_bob_in(daemon, "general")
    ann_line.close()
    bob_line.request("send", room="general", text=QUESTION, nonce="poll-1",
                     poll={"options": ["Pizza", "Sushi", "Tacos"], "multiple": True})
    ann = open_session(sessions, browser, DESKTOP)
    page = ann.page
    log_in(page, daemon.url, "ann")
    expect(card(page).locator(".poll-label")).to_contain_text("choose any")
    option(page, "Tacos").click()
    option(page, "Pizza").click()
    expect(option(page, "Pizza")).to_have_attribute("aria-pressed", "true")
    expect(option(page, "Tacos")).to_have_attribute("aria-pressed", "true")
    assert [bob_line.wait_for("voted")["options"] for _ in range(2)] == [[2], [0, 2]]
    option(page, "Tacos").click()
    expect(option(page, "Tacos")).to_have_attribute("aria-pressed", "false")
    expect(option(page, "Pizza")).to_have_accessible_name(
        re.compile(r"^Pizza: 1 vote, 100% \(you\), your choice$"))
    assert bob_line.wait_for("voted")["options"] == [0]
    bob_line.close()


def thread_card(page: Page) -> Locator:
    """The poll's card in the thread panel (a reply there)."""
    return page.locator("#thread-list li.msg[data-seq]").filter(
        has=page.locator(".poll-question", has_text=QUESTION)).locator(".poll")


def test_a_poll_created_in_a_thread_and_voted_on_there(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """The thread box's "Create a poll" opens the room box's dialog; the poll goes as a reply in
    the thread (with "Also send to #general" as ticked), Bob votes on it in his thread panel
    and ann's card there moves live."""
    _, ann_line, bob_line = ann_and_bob_in(daemon, "general")
    root = ann_line.request("send", room="general", text="lunch today?", nonce="root")
    ann_line.close()
    bob_line.close()
    ann = open_session(sessions, browser, DESKTOP)
    page = ann.page
    log_in(page, daemon.url, "ann")
    menu_action(page, message(page, "lunch today?"), "Reply in thread")
    panel = thread_panel(page)
    expect(panel.locator(".thread-count-line")).to_have_text("No replies yet")

    panel.get_by_label("Also send to #general").check()
    panel.get_by_role("button", name="Create a poll in the thread").click()
    dialog = page.get_by_role("dialog", name="Create a poll")
    dialog.get_by_label("Question").fill(QUESTION)
    dialog.get_by_role("textbox", name="Option 1").fill("Pizza")
    dialog.get_by_role("textbox", name="Option 2").fill("Sushi")
    dialog.get_by_role("button", name="Create poll").click()
    expect(dialog).to_be_hidden()
    expect(thread_card(page).locator(".poll-option")).to_have_count(2)
    expect(panel.locator(".thread-count-line")).to_have_text("1 reply")
    expect(panel.get_by_label("Also send to #general")).not_to_be_checked()
    expect(card(page)).to_have_count(1)  # also sent to the room, as ticked
    expect(message(page, QUESTION).locator(".msg-thread-of")).to_contain_text(
        "replied to a thread: lunch today?")
    frame = ann.wait_for_frame(lambda f: f.get("op") == "message" and f.get("text") == QUESTION,
                               "the thread's poll")
    assert (frame["thread"], frame.get("broadcast")) == (root["msg_id"], True), frame
    assert [o["text"] for o in frame["poll"]["options"]] == ["Pizza", "Sushi"]

    # Bob opens the thread on his phone and votes there: ann's card in the panel moves.
    bob = open_session(sessions, browser, PHONE)
    phone = bob.page
    log_in(phone, daemon.url, "Bob")
    summary(phone).click()
    expect(thread_panel(phone)).to_be_in_viewport()
    expect(thread_card(phone).locator(".poll-option")).to_have_count(2)
    thread_option = thread_card(phone).locator(".poll-option").filter(has_text="Sushi")
    thread_option.click()
    expect(thread_option).to_have_attribute("aria-pressed", "true")
    sushi = thread_card(page).locator(".poll-option").filter(has_text="Sushi")
    expect(sushi).to_have_accessible_name(named("Sushi", 1, 100, "Bob"))
    expect(thread_card(page).locator(".poll-voters")).to_have_attribute("title", "Bob")
    assert axe_serious(page) == []
    shot(page, artifacts, "desktop-thread-poll")
    shot(phone, artifacts, "phone-thread-poll")
    assert ann.errors == [] and bob.errors == []


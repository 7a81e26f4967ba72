"""Slash commands in the page's message box, in a real Chromium against the real daemon: "/"
opens the list of commands (the completion list of @mentions), filtered as a name is typed;
Tab completes; Enter on a whole command runs it: `/shrug` sends the shrug, `/topic` sets the
topic (the header shows it), `/remind in 1h …` makes a reminder (the Saved panel lists it), an
unknown command says so under the box and sends nothing, its text kept; `//text` sends
"/text".

The rules of test_web.py hold: every wait is for a state, never for time. Screenshots:
tests/artifacts/desktop-slash.png and phone-slash.png (the list open).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect

from tests.browser.conftest import DESKTOP, PHONE, Daemon, needs_chromium, register_and_login
from tests.browser.test_changes import menu_action, message
from tests.browser.test_page_defects import axe_serious
from tests.browser.test_pins import ann_and_bob_in
from tests.browser.test_saved import panel_items, saved_button
from tests.browser.test_web import Session, log_in, open_session, shot

pytestmark = [pytest.mark.slow, needs_chromium]

SHRUG = "hi ¯\\_(ツ)_/¯"  # as shown (sent with markdown's escapes)


def ann_in_general(daemon: Daemon, browser: Browser, sessions: list[Session],
                   viewport: ViewportSize) -> Session:
    """ann's session (a page of ``viewport``'s size), logged in, with #general open."""
    session = open_session(sessions, browser, viewport)
    log_in(session.page, daemon.url, "ann")
    expect(session.page.locator("#conv-title")).to_have_text("# general")
    return session


def options(page: Page) -> list[str]:
    return page.locator("#mention-list li[role=option] .command-usage").all_text_contents()


def run(page: Page, text: str) -> None:
    """Type `text` in the room's box and press Enter (a whole command runs, the list open or
    not)."""
    box = page.locator("#composer-text")
    box.fill(text)
    box.press("Enter")


def test_slash_commands_in_the_message_box(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """The list, filtered; /shrug sends; /topic sets the topic; /poll sends a poll or fills its
    dialog; /remind makes a reminder; an unknown command is refused under the box with nothing
    sent; // sends the slash; /help lists; the thread panel's box the same; /join; /dm."""
    _, ann, bob = ann_and_bob_in(daemon, "general")
    ann.close()
    session = ann_in_general(daemon, browser, sessions, DESKTOP)
    page = session.page
    box = page.locator("#composer-text")

    # "/" offers every command, with its usage and what it does; typing filters; Tab takes.
    box.press_sequentially("/")
    listing = page.get_by_role("listbox", name="Commands")
    expect(listing).to_be_visible()
    expect(listing.get_by_role("option")).to_have_count(20)  # (with /keywords, /drafts)
    expect(listing.get_by_role("option").first).to_contain_text("/shrug [text]")
    expect(listing.get_by_role("option").first).to_contain_text("¯\\_(ツ)_/¯ after it")
    assert axe_serious(page) == []
    shot(page, artifacts, "desktop-slash")
    box.press_sequentially("d")
    assert options(page) == ["/dm @name… [text]", "/dnd [30m|1h|2h|1d|off]", "/drafts"]
    box.press("ArrowDown")
    box.press("Tab")
    expect(box).to_have_value("/dnd ")
    expect(listing).to_be_hidden()
    box.fill("")

    # /shrug sends the shrug: the message, on Bob's side too.
    run(page, "/shrug hi")
    expect(box).to_have_value("")
    expect(message(page, SHRUG)).to_have_count(1)
    assert bob.wait_for("message")["text"] == "hi ¯\\\\\\_(ツ)\\_/¯"

    # /topic sets the topic: the header shows it.
    run(page, "/topic Launch on Friday")
    expect(page.locator("#conv-topic")).to_have_text("Launch on Friday")
    expect(box).to_have_value("")

    # An unknown command: said under the box, the text kept, nothing sent.
    run(page, "/shurg hi")
    expect(page.locator("#composer-command")).to_have_text(
        re.compile(r"^/shurg is not a command: /help lists them"))
    expect(box).to_have_value("/shurg hi")
    # Bad arguments likewise.
    run(page, '/poll "Lunch?')
    expect(page.locator("#composer-command")).to_have_text(re.compile("A quote is not closed"))
    expect(box).to_have_value('/poll "Lunch?')
    # Typing again takes the note away; "//" sends the text with one slash.
    run(page, "//shurg is a typo")
    expect(page.locator("#composer-command")).to_be_hidden()
    expect(message(page, "/shurg is a typo")).to_have_count(1)
    # What Bob got after the shrug: the typo sent with "//", nothing of the refused commands.
    assert bob.wait_for("message")["text"] == "/shurg is a typo"

    # /poll with its parts quoted sends the poll; with one option, the dialog, filled in.
    run(page, '/poll "Lunch?" "Pizza" "Salad"')
    expect(message(page, "Lunch?").locator(".poll-option")).to_have_count(2)
    run(page, '/poll "Dinner?" Soup')
    dialog = page.get_by_role("dialog", name="Create a poll")
    expect(dialog.get_by_label("Question")).to_have_value("Dinner?")
    expect(dialog.get_by_role("textbox", name="Option 1")).to_have_value("Soup")
    dialog.get_by_role("textbox", name="Option 2").fill("Stew")
    dialog.get_by_role("button", name="Create poll").click()
    expect(dialog).to_be_hidden()
    expect(message(page, "Dinner?").locator(".poll-option")).to_have_count(2)
    expect(box).to_have_value("")

    # /remind in 1h: a reminder, which the Saved panel lists with its time.
    run(page, "/remind in 1h call the bank")
    expect(page.locator("#composer-command")).to_contain_text("Reminder set")
    expect(box).to_have_value("")
    saved_button(page).click()
    bank = panel_items(page).filter(has_text="call the bank")
    expect(bank).to_have_count(1)
    expect(bank.locator(".saved-remind")).to_have_text(re.compile(r"^in (59|60) min$"))

    # /help lists the commands under the box, nothing sent.
    box.fill("/help")  # a whole name: Enter runs it, the list open or not
    expect(page.get_by_role("listbox", name="Commands")).to_be_visible()
    box.press("Enter")
    expect(page.locator("#composer-command dt")).to_have_count(20)
    expect(box).to_have_value("")

    # The thread panel's box: the list, a command sent as a reply, an error under its box.
    menu_action(page, message(page, SHRUG), "Reply in thread")
    reply_box = page.get_by_role("textbox", name="Reply in the thread")
    reply_box.press_sequentially("/m")
    expect(page.get_by_role("listbox", name="Commands")).to_have_count(1)
    expect(page.locator("#thread-mention-list .command-usage")).to_have_text(
        ["/me text", "/mute"])
    reply_box.fill("/me agrees")
    reply_box.press("Enter")
    expect(reply_box).to_have_value("")
    expect(page.locator("#thread-list li.msg[data-seq] .msg-text em")).to_have_text("agrees")
    reply_box.fill("/nope")
    reply_box.press("Enter")
    expect(page.locator("#thread-command")).to_have_text(re.compile("^/nope is not a command"))
    expect(reply_box).to_have_value("/nope")

    # /join opens the room joined (created here); /dm opens the conversation and sends.
    run(page, "/join #random")
    expect(page.locator("#conv-title")).to_have_text("# random")
    run(page, "/dm @Bob hello from a command")
    expect(message(page, "hello from a command")).to_have_count(1)
    expect(page.locator("#composer-text")).to_have_attribute("placeholder", "Message Bob")
    frame = bob.wait_for("message")
    while frame["room"] != "@ann:bob":  # (the thread's reply came before)
        frame = bob.wait_for("message")
    assert frame["text"] == "hello from a command"
    assert session.errors == []
    bob.close()


def test_slash_list_on_a_phone(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """On a phone the list opens above the box, and its options can be read."""
    _, ann, bob = ann_and_bob_in(daemon, "general")
    ann.close()
    bob.close()
    session = ann_in_general(daemon, browser, sessions, PHONE)
    page = session.page
    box = page.locator("#composer-text")
    box.press_sequentially("/s")
    listing = page.get_by_role("listbox", name="Commands")
    expect(listing).to_be_visible()
    assert options(page) == ["/shrug [text]", "/section [name]", "/status [emoji] [text]",
                             "/search words"]
    expect(listing.get_by_role("option").first).to_be_in_viewport()
    shot(page, artifacts, "phone-slash")


def test_commands_act_through_the_page(
    daemon: Daemon, browser: Browser, sessions: list[Session]
) -> None:
    """/mute and /unmute set the room's level; /status sets and clears the status; /dnd pauses
    and resumes; /search opens the search; /invite adds; /leave asks first; /close closes a
    conversation; each refusal of the server is said under the box."""
    _, ann, bob = ann_and_bob_in(daemon, "general")
    bob.request("send", room="general", text="the launch is on friday", nonce="launch")
    register_and_login(daemon.url, "carol")
    ann.close()
    session = ann_in_general(daemon, browser, sessions, DESKTOP)
    page = session.page
    general = page.locator('#room-list li[data-room="general"] button').first
    box = page.locator("#composer-text")

    run(page, "/mute")
    expect(general).to_have_class(re.compile(r"\bmuted\b"))
    expect(page.locator("#composer-command")).to_contain_text("This room is muted")
    run(page, "/unmute")
    expect(general).not_to_have_class(re.compile(r"\bmuted\b"))

    run(page, "/status 🌴 On holiday")
    expect(page.locator("#me-custom")).to_have_attribute("title", "On holiday")
    run(page, "/status")
    expect(page.locator("#me-custom")).to_be_hidden()

    run(page, "/dnd 1h")
    expect(page.locator("#alert-settings")).to_have_attribute("data-paused", "true")
    run(page, "/dnd off")
    expect(page.locator("#alert-settings")).to_have_attribute("data-paused", "false")

    run(page, "/invite @carol")
    expect(box).to_have_value("")
    run(page, "/invite @nobody")  # the server's refusal, under the box, the text kept
    expect(page.locator("#composer-command")).not_to_have_text("")
    expect(page.locator("#composer-command")).to_have_class(re.compile(r"\bproblem\b"))
    expect(box).to_have_value("/invite @nobody")

    run(page, "/search friday")
    expect(page.locator("#search-input")).to_have_value("friday")
    expect(page.locator("#search-results li button.result")).to_have_count(1)
    page.locator("#search-close").click()

    run(page, "/leave")
    dialog = page.get_by_role("dialog", name="Leave #general?")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Cancel").click()

    run(page, "/dm @Bob hi")
    expect(message(page, "hi")).to_have_count(1)
    run(page, "/close")
    expect(page.locator('#dm-list li[data-room="@ann:bob"]')).to_have_count(0)
    expect(page.locator("#conv-title")).to_have_text("# general")
    assert session.errors == []
    bob.close()

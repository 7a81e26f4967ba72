"""Threads in the page, in a real Chromium against the real daemon: Bob replies in a thread of
ann's message; ann's room hides the reply and shows the root's summary live ("1 reply", Bob's
initial, "1 new reply"), which opens the thread panel with the root and the replies; ann
answers there with "Also send to #general" (the reply shows in the thread and, with "replied
to a thread", in the room; Bob's connection gets it with thread and broadcast); a reaction in
the panel and Bob's edit show in place; a reload keeps it all, and a thread's draft.

The rules of test_web.py hold: every wait is for a state, never for time. Screenshots land in
tests/artifacts/ (desktop-threads.png, phone-threads.png).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Browser, Locator, Page, expect

from tests.browser.conftest import (
    DESKTOP,
    PHONE,
    RESUME_MAX,
    Daemon,
    LineClient,
    needs_chromium,
)
from tests.browser.test_changes import menu_action, message, react
from tests.browser.test_emoji import EMOJI_URL, logo
from tests.browser.test_notifications import register_and_login_again
from tests.browser.test_page_defects import axe_serious
from tests.browser.test_pins import ann_and_bob_in
from tests.browser.test_web import Session, log_in, open_session, shot

pytestmark = [pytest.mark.slow, needs_chromium]


def scene(daemon: Daemon) -> tuple[LineClient, dict[str, int]]:
    """ann owns #general and asked about lunch; Bob is in it. Returns Bob's connection and the
    root's msg_id."""
    _, ann, bob = ann_and_bob_in(daemon, "general")
    root = ann.request("send", room="general", text="lunch today?", nonce="root")
    ann.request("send", room="general", text="also: the standup moves to 10", nonce="standup")
    ann.close()
    return bob, {"root": root["msg_id"]}


def thread_panel(page: Page) -> Locator:
    return page.get_by_role("complementary", name="Thread in #general")


def in_thread(page: Page, text: str) -> Locator:
    """The message of the thread panel whose text is exactly `text`."""
    return page.locator("#thread-list li.msg[data-seq]").filter(
        has=page.locator(".msg-text", has_text=re.compile(f"^{re.escape(text)}$")))


def summary(page: Page) -> Locator:
    return message(page, "lunch today?").locator(".thread-summary")


def test_a_thread_live_in_its_panel_with_a_reply_also_sent_to_the_room(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """A reply in a thread is not in the room's timeline: the root's summary counts it live and
    marks it new; the panel shows the thread, takes a reply "also sent to the room", a
    reaction and Bob's edit in place; the room shows the broadcast reply; a reload keeps it,
    and what was typed in a thread's box."""
    bob, ids = scene(daemon)
    ann = open_session(sessions, browser, DESKTOP)
    page = ann.page
    log_in(page, daemon.url, "ann")
    expect(page.locator("#conv-title")).to_have_text("# general")
    expect(message(page, "lunch today?")).to_be_visible()
    expect(summary(page)).to_have_count(0)

    # Bob replies in the thread: not in ann's timeline, but under the root, live.
    bob.request("send", room="general", text="pizza?", nonce="b1", thread=ids["root"])
    expect(summary(page)).to_contain_text("1 reply · last reply just now")
    expect(summary(page).locator(".thread-new")).to_have_text("1 new reply")
    expect(summary(page).locator(".avatar")).to_have_text(["B"])
    expect(message(page, "pizza?")).to_have_count(0)
    # ann wrote the root: the reply mentions her (a follower), so it counts as a mention.
    ann.wait_for_frame(lambda f: f.get("op") == "message" and f.get("text") == "pizza?"
                       and f.get("thread") == ids["root"] and "ann" in f.get("mentions", []),
                       "Bob's reply, mentioning ann as the thread's follower")

    # The summary opens the panel: the root, "1 reply", Bob's reply; seen there, it is read.
    summary(page).click()
    panel = thread_panel(page)
    expect(panel).to_be_visible()
    expect(in_thread(page, "lunch today?")).to_have_class(re.compile(r"\bthread-root\b"))
    expect(panel.locator(".thread-count-line")).to_have_text("1 reply")
    expect(in_thread(page, "pizza?")).to_be_visible()
    expect(in_thread(page, "pizza?")).to_have_class(re.compile(r"\bmentions-me\b"))
    expect(summary(page).locator(".thread-new")).to_have_count(0)
    expect(panel.get_by_role("textbox", name="Reply in the thread")).to_be_focused()

    # ann answers in the thread, also to the room.
    panel.get_by_label("Also send to #general").check()
    box = panel.get_by_role("textbox", name="Reply in the thread")
    box.fill("sushi instead")
    box.press("Enter")
    expect(box).to_have_value("")
    expect(panel.get_by_label("Also send to #general")).not_to_be_checked()
    expect(in_thread(page, "sushi instead")).to_be_visible()
    broadcast = message(page, "sushi instead")
    expect(broadcast.locator(".msg-thread-of")).to_contain_text(
        "replied to a thread: lunch today?")
    expect(summary(page)).to_contain_text("2 replies")
    got = bob.wait_for("message")
    while got["text"] != "sushi instead":  # (his own reply's event came first)
        got = bob.wait_for("message")
    assert (got["text"], got["thread"], got.get("broadcast")) == (
        "sushi instead", ids["root"], True), got

    # A reaction in the panel and Bob's edit of his reply show in place.
    react(page, in_thread(page, "pizza?"), "👍")
    expect(in_thread(page, "pizza?").locator(".reaction:not(.add)")).to_contain_text("👍")
    pizza = bob.wait_for("reaction")
    bob.request("edit", room="general", msg_id=pizza["msg_id"], text="pizza at noon?")
    expect(in_thread(page, "pizza at noon?")).to_be_visible()
    expect(in_thread(page, "pizza at noon?").locator(".msg-edited")).to_have_text("(edited)")
    # (An edit keeps the followers a reply mentioned: still ann's mention.)
    expect(in_thread(page, "pizza at noon?")).to_have_class(re.compile(r"\bmentions-me\b"))
    assert axe_serious(page) == []
    shot(page, artifacts, "desktop-threads")

    # "Reply in thread" from the menu of a message without replies opens its (empty) thread.
    menu_action(page, message(page, "also: the standup moves to 10"), "Reply in thread")
    expect(panel.locator(".thread-count-line")).to_have_text("No replies yet")
    expect(in_thread(page, "pizza at noon?")).to_have_count(0)
    # What is typed there is that thread's draft.
    panel.get_by_role("textbox", name="Reply in the thread").fill("half a reply")

    # A reload: the room still hides Bob's reply, shows ann's broadcast one and the summary.
    page.reload()
    expect(message(page, "lunch today?")).to_be_visible()
    expect(summary(page)).to_contain_text("2 replies")
    expect(summary(page).locator(".avatar")).to_have_text(["A", "B"])
    expect(summary(page).locator(".thread-new")).to_have_count(0)
    expect(message(page, "pizza at noon?")).to_have_count(0)
    expect(message(page, "sushi instead").locator(".msg-thread-of")).to_be_visible()
    message(page, "sushi instead").locator(".msg-thread-of").click()
    expect(in_thread(page, "pizza at noon?")).to_be_visible()
    expect(in_thread(page, "sushi instead")).to_be_visible()
    expect(in_thread(page, "pizza at noon?").locator(".reaction:not(.add)")).to_contain_text("👍")
    expect(panel.get_by_role("textbox", name="Reply in the thread")).to_have_value("")
    menu_action(page, message(page, "also: the standup moves to 10"), "Reply in thread")
    expect(panel.get_by_role("textbox", name="Reply in the thread")).to_have_value("half a reply")
    assert ann.errors == []
    bob.close()


def test_replies_missed_while_away_and_the_panel_on_a_phone(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """Replies that came while the page was away (more than a resume replays: a gap paged in)
    give the root's exact summary and "new" count, stay out of the timeline but the one also
    sent to the room; on a phone the thread covers the page, takes a reply (one written offline
    waits there, then goes), and Escape gives the conversation back."""
    bob, ids = scene(daemon)
    ann = open_session(sessions, browser, PHONE)
    page = ann.page
    log_in(page, daemon.url, "ann")
    expect(message(page, "lunch today?")).to_be_visible()

    ann.context.set_offline(True)
    expect(page.locator("#banner")).to_be_visible()
    for n in range(RESUME_MAX + 2):
        bob.request("send", room="general", text=f"idea {n}", nonce=f"i{n}", thread=ids["root"])
    bob.request("send", room="general", text="decided: pizza", nonce="d", thread=ids["root"],
                broadcast=True)
    ann.context.set_offline(False)
    expect(page.locator("#banner")).to_be_hidden()
    expect(message(page, "decided: pizza")).to_be_visible()
    assert any('"op":"gap"' in frame for frame in ann.received), "no gap: RESUME_MAX too big?"
    count = RESUME_MAX + 3
    expect(summary(page)).to_contain_text(f"{count} replies")
    expect(summary(page).locator(".thread-new")).to_have_text(f"{count} new replies")
    expect(message(page, "idea 0")).to_have_count(0)

    summary(page).click()
    panel = thread_panel(page)
    expect(panel).to_be_in_viewport()
    expect(page.locator("#conversation")).to_have_js_property("inert", True)
    expect(in_thread(page, "idea 0")).to_have_count(1)
    expect(in_thread(page, "decided: pizza")).to_have_count(1)
    expect(page.locator("#thread-list li.msg[data-seq]")).to_have_count(count + 1)
    box = panel.get_by_role("textbox", name="Reply in the thread")
    box.fill("fine by me")
    box.press("Enter")
    expect(in_thread(page, "fine by me")).to_be_visible()
    expect(in_thread(page, "fine by me")).to_be_in_viewport()
    shot(page, artifacts, "phone-threads")
    # Offline, a reply waits in the thread (as a message waits in the room), then goes.
    ann.context.set_offline(True)
    expect(page.locator("#banner")).to_be_visible()
    box.fill("on my way")
    box.press("Enter")
    waiting = page.locator("#thread-list li.msg.pending", has_text="on my way")
    expect(waiting.locator(".msg-status.failed")).to_contain_text("Offline")
    expect(waiting.get_by_role("button", name="Retry")).to_be_visible()
    expect(message(page, "on my way")).to_have_count(0)
    ann.context.set_offline(False)
    expect(in_thread(page, "on my way")).to_be_visible()
    expect(waiting).to_have_count(0)
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(summary(page)).to_contain_text(f"{count + 2} replies")
    expect(summary(page).locator(".thread-new")).to_have_count(0)
    expect(message(page, "fine by me")).to_have_count(0)
    assert ann.errors == []
    bob.close()


def test_the_thread_box_completes_names_and_custom_emoji_as_the_room_box_does(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """In the thread panel's box "@bo" offers Bob by his display name (his user name beside
    it) and Enter takes it; ":par" offers :partyparrot: with its picture and Tab takes it;
    Escape closes the list, not the panel; Enter then sends, and the reply mentions Bob."""
    bob, _ = scene(daemon)
    bob.request("set_profile", display_name="Bob Stone")
    added = requests.post(daemon.url + "/api/emoji", timeout=30,
                          headers={"Authorization":
                                   f"Bearer {register_and_login_again(daemon, 'ann')}"},
                          data={"name": "partyparrot"},
                          files={"file": ("parrot.png", logo(), "image/png")})
    assert added.status_code < 300, added.text
    ann = open_session(sessions, browser, DESKTOP)
    page = ann.page
    log_in(page, daemon.url, "ann")
    expect(message(page, "lunch today?")).to_be_visible()
    expect(page.locator("#member-list")).to_contain_text("Bob Stone")
    menu_action(page, message(page, "lunch today?"), "Reply in thread")
    panel = thread_panel(page)
    box = panel.get_by_role("textbox", name="Reply in the thread")
    expect(box).to_be_focused()
    expect(box).to_have_attribute("aria-controls", "thread-mention-list")

    box.press_sequentially("ask @bo")
    people = panel.get_by_role("listbox", name="People to mention")
    expect(people.get_by_role("option")).to_have_count(1)
    expect(people.get_by_role("option", name="Bob Stone @Bob")).to_be_visible()
    expect(box).to_have_attribute("aria-activedescendant", "thread-mention-option-0")
    assert axe_serious(page) == []
    shot(page, artifacts, "desktop-thread-completion")
    box.press("Enter")
    expect(box).to_have_value("ask @Bob ")
    expect(page.locator("#thread-mention-list")).to_be_hidden()
    expect(box).not_to_have_attribute("aria-activedescendant", re.compile(".*"))

    box.press_sequentially("with :par")
    emoji = panel.get_by_role("listbox", name="Custom emoji").get_by_role(
        "option", name=":partyparrot:")
    expect(emoji.locator("img.custom-emoji")).to_have_attribute("src", EMOJI_URL)
    box.press("Tab")
    expect(box).to_have_value("ask @Bob with :partyparrot: ")

    # Escape closes the list and leaves the panel open; Enter sends then.
    box.press_sequentially("@bo")
    expect(people).to_be_visible()
    box.press("Escape")
    expect(page.locator("#thread-mention-list")).to_be_hidden()
    expect(panel).to_be_visible()
    box.press("Backspace")
    box.press("Backspace")
    box.press("Backspace")
    box.press("Enter")
    expect(box).to_have_value("")
    sent = page.locator("#thread-list li.msg[data-seq] .msg-text").filter(has_text="ask")
    expect(sent.locator("img.custom-emoji")).to_have_attribute("alt", ":partyparrot:")
    got = bob.wait_for("message")
    while got["text"].strip() != "ask @Bob with :partyparrot:":
        got = bob.wait_for("message")
    assert "Bob" in got.get("mentions", []), got
    assert ann.errors == []
    bob.close()


def test_last_reply_ago_ticks_by_itself(
    daemon: Daemon, browser: Browser, sessions: list[Session]
) -> None:
    """"last reply just now" under a root becomes "1 min ago", then "2 min ago", as the page's
    clock moves and nothing else happens in the room (the page's timers run on a clock the test
    moves). This checks the words shown; that the summary's own timer is due when they change
    is threads.test.mjs's (`nextSummaryChange`): here other timers of the page, fired by the
    jump, render it too."""
    bob, ids = scene(daemon)
    ann = open_session(sessions, browser, DESKTOP)
    page = ann.page
    page.clock.install()
    log_in(page, daemon.url, "ann")
    expect(message(page, "lunch today?")).to_be_visible()
    bob.request("send", room="general", text="pizza?", nonce="b1", thread=ids["root"])
    expect(summary(page)).to_contain_text("1 reply · last reply just now")
    # fast_forward, not run_for: it jumps, firing each due timer once (the summary's, and the
    # keepalive's, whose ping the server answers in real time), where run_for plays every tick
    # of the 90 s in no time, so the keepalive finds its ping unanswered for 4 s of the page's
    # clock, drops the socket, and the next welcome sets the page's clock to the server's
    # again ("just now"). To the middle of each minute: the page reads the reply's time by its
    # estimate of the server's clock, off by the welcome's trip (seconds on a busy machine).
    page.clock.fast_forward("01:30")
    expect(summary(page)).to_contain_text("1 reply · last reply 1 min ago")
    page.clock.fast_forward("01:00")
    expect(summary(page)).to_contain_text("1 reply · last reply 2 min ago")
    assert ann.errors == []
    bob.close()


def test_a_quote_of_a_thread_reply_opens_the_thread_at_it(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """A room message quoting a thread's reply (which the room's timeline leaves out): pressing
    the quote opens the thread panel at that reply, highlighted, instead of paging back
    through the room for a message it never shows."""
    bob, ids = scene(daemon)
    pizza = bob.request("send", room="general", text="pizza?", nonce="b1", thread=ids["root"])
    bob.request("send", room="general", text="noon, then", nonce="b2", thread=ids["root"])
    bob.request("send", room="general", text="as I said: pizza", nonce="b3",
                reply_to=pizza["msg_id"])
    ann = open_session(sessions, browser, DESKTOP)
    page = ann.page
    log_in(page, daemon.url, "ann")
    expect(page.locator("#conv-title")).to_have_text("# general")
    quote = message(page, "as I said: pizza").locator(".msg-quote")
    expect(quote).to_contain_text("pizza?")
    expect(message(page, "pizza?")).to_have_count(0)  # the room does not show the reply
    quote.click()
    panel = thread_panel(page)
    expect(panel).to_be_visible()
    expect(in_thread(page, "pizza?")).to_have_class(re.compile(r"\bflash\b"))
    expect(in_thread(page, "pizza?")).to_be_focused()
    expect(in_thread(page, "noon, then")).not_to_have_class(re.compile(r"\bflash\b"))
    shot(page, artifacts, "desktop-quote-thread")
    expect(page.locator(".toast", has_text="not available")).to_have_count(0)
    bob.close()
    assert ann.errors == [] and ann.dialogs == []

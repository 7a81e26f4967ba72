"""Searching messages in the page, in a real Chromium against the real daemon: "/" opens the
search, a word's beginning finds the messages (newest first, the hits highlighted from the
snippet's segments, as text), "More results" pages, the query syntax narrows, and a result
opens its room at the message, paging back to it when it is far behind the latest ones.

The rules of test_web.py hold: every wait is for a state, never for time. Screenshots land in
tests/artifacts/ (docs/screenshots/desktop-search.png, desktop-search-landed.png and
phone-search.png are copies of them).
"""

from __future__ import annotations

import re
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
from tests.browser.test_page_defects import axe_serious
from tests.browser.test_web import XSS, Session, log_in, open_session, shot

pytestmark = [pytest.mark.slow, needs_chromium]

FILLER = 120  # messages after the one looked for: more than a room's first page (50)


def scene(daemon: Daemon) -> None:
    """ann and Bob share #general, where Bob said "the deployment went fine" long ago and much
    since (25 of it about alpha), and #random, where ann asked about deploying last."""
    token = register_and_login(daemon.url, "Bob")
    bob = LineClient(daemon.tcp_port, token)
    ann = LineClient(daemon.tcp_port, register_and_login(daemon.url, "ann"))
    ann.request("create_room", room="general", topic="")
    ann.request("create_room", room="random", topic="")
    bob.request("join", room="general")
    bob.request("join", room="random")
    bob.request("send", room="general", text="the deployment went fine", nonce="target")
    bob.send_many("general", [f"alpha report {n}" for n in range(25)], "alpha")
    bob.close()
    bob = LineClient(daemon.tcp_port, token)  # a connection's burst allowance is 100 sends
    bob.send_many("general", [f"filler {n}" for n in range(FILLER - 25)], "filler")
    last = bob.request("send", room="general", text=f"<b>deploy</b> {XSS}", nonce="xss")
    ann.request("read", room="general", seq=last["seq"])  # #general opens at its end
    ann.request("send", room="random", text="shall we deploy tomorrow?", nonce="ask")
    ann.close()
    bob.close()
    daemon.search_caught_up()


def results(page: Page) -> Locator:
    return page.locator("#search-results li button.result")


def search(page: Page, query: str) -> None:
    box = page.get_by_role("searchbox", name="Search messages")
    box.fill(query)
    box.press("Enter")


def test_find_a_word_by_its_beginning_and_land_on_the_message(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """"/" opens the search; "deplo" finds "deploy" and "deployment", newest first, the hits
    marked and markup shown as text; a result far behind the room's first page is paged back
    to, shown, focused and highlighted; one in another room opens that room."""
    scene(daemon)
    ann = open_session(sessions, browser, DESKTOP)
    page = ann.page
    log_in(page, daemon.url, "ann")
    expect(page.locator("#conv-title")).to_have_text("# general")

    # "/" (outside a text box) opens the search with the focus in its box.
    page.locator("#messages").focus()
    page.keyboard.press("/")
    box = page.get_by_role("searchbox", name="Search messages")
    expect(box).to_be_focused()
    expect(box).to_have_value("")

    search(page, "deplo")
    expect(page.locator("#search-status")).to_have_text("3 results, newest first")
    expect(results(page)).to_have_count(3)
    first, second, third = (results(page).nth(n) for n in range(3))
    expect(first.locator(".result-room")).to_have_text("#random")
    expect(first.locator(".result-from")).to_have_text("ann")
    expect(first.locator("mark")).to_have_text([re.compile(r"^deploy", re.I)])
    # Markup in a message is text in its result: no element made of it.
    expect(second.locator(".result-text")).to_contain_text("<b>")
    expect(page.locator("#search-results img, #search-results b")).to_have_count(0)
    expect(third.locator(".result-room")).to_have_text("#general")
    expect(third.locator("mark")).to_have_text([re.compile(r"^deployment$", re.I)])
    assert axe_serious(page) == []
    shot(page, artifacts, "desktop-search")

    # The oldest result is far behind the room's latest page: the page pages back to it.
    target = page.locator("#message-list li.msg[data-seq]").filter(
        has_text="the deployment went fine")
    expect(target).to_have_count(0)
    third.click()
    expect(target).to_be_focused()
    expect(target).to_have_class(re.compile(r"\bflash\b"))
    expect(target).to_be_in_viewport()
    expect(page.locator("#search-panel")).to_be_visible()  # wide: the results stay beside
    shot(page, artifacts, "desktop-search-landed")

    # Another result, in another room.
    first.click()
    expect(page.locator("#conv-title")).to_have_text("# random")
    expect(page.locator("#message-list li.msg[data-seq]").filter(
        has_text="shall we deploy tomorrow?")).to_be_focused()

    # Escape closes the search; the focus goes back.
    box.focus()
    page.keyboard.press("Escape")
    expect(page.locator("#search-panel")).to_be_hidden()
    assert ann.errors == []


def test_more_results_the_query_syntax_and_its_help(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """20 results a page, "More results" for the next; from:, in:, -word and quoted phrases
    narrow; nothing found says so; the tips list the syntax."""
    scene(daemon)
    ann = open_session(sessions, browser, DESKTOP)
    page = ann.page
    log_in(page, daemon.url, "ann")
    page.get_by_role("button", name="Search messages").click()

    search(page, "alpha")
    expect(results(page)).to_have_count(20)
    expect(page.locator("#search-status")).to_have_text("20+ results, newest first")
    expect(results(page).first).to_contain_text("alpha report 24")
    more = page.get_by_role("button", name="More results")
    more.click()
    expect(results(page)).to_have_count(25)
    expect(results(page).last).to_contain_text("alpha report 0")
    expect(more).to_be_hidden()
    expect(page.locator("#search-status")).to_have_text("25 results, newest first")

    search(page, "deploy from:ann")
    expect(results(page)).to_have_count(1)
    expect(results(page).first.locator(".result-from")).to_have_text("ann")
    search(page, "deploy in:general -tomorrow")
    expect(results(page)).to_have_count(2)
    search(page, "\"went fine\"")
    expect(results(page)).to_have_count(1)
    search(page, "nothingmatcheszz")
    expect(page.locator("#search-status")).to_have_text("No messages match “nothingmatcheszz”.")
    expect(results(page)).to_have_count(0)

    # A public room Ann is not in, named with in:: its result offers to join it first.
    carol = LineClient(daemon.tcp_port, register_and_login(daemon.url, "carol"))
    carol.request("create_room", room="lobby", topic="")
    carol.request("send", room="lobby", text="deploy notes for everyone", nonce="c1")
    carol.close()
    daemon.search_caught_up()
    search(page, "deploy in:lobby")
    expect(results(page)).to_have_count(1)
    results(page).first.click()
    dialog = page.get_by_role("dialog", name="Join #lobby?")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Join").click()
    expect(page.locator("#conv-title")).to_have_text("# lobby")
    expect(page.locator("#message-list li.msg[data-seq]").filter(
        has_text="deploy notes for everyone")).to_be_focused()

    page.get_by_role("button", name="Search messages").click()
    page.get_by_text("Search tips").click()
    help_list = page.locator("#search-help-list")
    expect(help_list).to_contain_text("from:ann")
    expect(help_list).to_contain_text("in:general")
    expect(help_list).to_contain_text("-draft")

    # Narrower than the three columns: the panel covers the conversation's right side, whole.
    search(page, "alpha")
    page.set_viewport_size({"width": 900, "height": 800})
    box = page.locator("#search-panel").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 900, box
    expect(results(page)).to_have_count(20)
    shot(page, artifacts, "medium-search")
    results(page).first.click()
    expect(page.locator("#search-panel")).to_be_hidden()
    expect(page.locator("#message-list li.msg[data-seq]").filter(
        has_text="alpha report 24")).to_be_focused()
    assert ann.errors == []


def test_a_phone_searches_and_the_panel_gives_way_to_the_message(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """On a phone (here in the dark scheme) the search is in the drawer and covers the page;
    opening a result closes it on the message."""
    scene(daemon)
    ann = Session(browser, PHONE, color_scheme="dark")
    sessions.append(ann)
    page = ann.page
    log_in(page, daemon.url, "ann")
    expect(page.locator("#conv-title")).to_have_text("# general")
    expect(page.locator("#message-list li.msg[data-seq]")).to_have_count(50)
    page.get_by_role("button", name="Show rooms and people").click()
    page.get_by_role("button", name="Search messages").click()
    expect(page.get_by_role("searchbox", name="Search messages")).to_be_focused()
    search(page, "went")
    expect(results(page)).to_have_count(1)
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], width
    assert axe_serious(page) == []
    shot(page, artifacts, "phone-search")
    results(page).first.click()
    expect(page.locator("#search-panel")).to_be_hidden()
    target = page.locator("#message-list li.msg[data-seq]").filter(
        has_text="the deployment went fine")
    expect(target).to_be_in_viewport()
    expect(target).to_have_class(re.compile(r"\bflash\b"))
    assert ann.errors == []

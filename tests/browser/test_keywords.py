"""Notification keywords in the page, in a real Chromium against the real daemon: ann adds
keywords in the "Notification keywords" dialog of her menu (Enter or a comma adds, several at
once; too long and already there are said in words); they are there again after a reload;
Bob's message containing one is marked in #general as a mention of her is, the word
highlighted (not inside a link or code), and notifies her as a mention does, while a longer
word that contains it ("redeploy") does nothing; removing the keyword stops that; a change
made on another device of hers shows in the open dialog and takes effect; /keywords opens
the dialog, with the words typed after it ready to add; the dialog says and keeps the limit the
server's welcome says (`keywords_per_user`), 50 from a server that does not say it.

Notifications are observed as in test_notifications.py (its stand-in for the browser's
Notification, counted on ``<html data-notified>``); every wait is for a state. Screenshots
land in tests/artifacts/ (desktop-keywords.png, desktop-keywords-dialog.png,
desktop-keywords-limit.png, phone-keywords.png).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.browser.conftest import (
    PHONE,
    Daemon,
    LineClient,
    _running,
    needs_chromium,
    wait_online,
)
from tests.browser.test_notifications import (
    expect_count,
    fake,
    made,
    person,
    register_and_login_again,
    room_button,
)
from tests.browser.test_page_defects import axe_serious
from tests.browser.test_pins import ann_and_bob_in
from tests.browser.test_profiles import open_from_my_menu
from tests.browser.test_web import Session, log_in, shot

pytestmark = [pytest.mark.slow, needs_chromium]

ITEM = "Notification keywords…"
MENTIONED = re.compile(r"\bmentions-me\b")


def chips(dialog: Locator) -> Locator:
    return dialog.locator("#keyword-chips .keyword-word")


def add(dialog: Locator, typed: str) -> None:
    """Type ``typed`` in the dialog's field and press Enter."""
    field = dialog.get_by_label("Add keywords")
    field.fill(typed)
    field.press("Enter")


def msg(page: Page, text: str) -> Locator:
    """The confirmed message of the open conversation whose text is ``text``."""
    return page.locator("#message-list li.msg[data-seq]").filter(
        has=page.locator(".msg-text", has_text=text))


def saved(session: Session, keywords: list[str]) -> None:
    """Wait until the server has answered (or told) the page's list as ``keywords``."""
    session.wait_for_frame(lambda f: f.get("op") in ("ok", "keywords")
                           and f.get("keywords") == keywords, f"the keywords {keywords}")


def open_room(page: Page, room: str) -> None:
    room_button(page, room).click()
    expect(page.locator("#conv-title")).to_have_text(f"# {room}")


def test_keywords_mark_and_notify_and_follow_other_devices(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """Added in the dialog (and kept across a reload), a keyword in Bob's message marks it and
    its word, and notifies as a mention; removed, it does neither; another device's change
    shows in the open dialog and notifies from then on."""
    _, ann_line, bob = ann_and_bob_in(daemon, "general", "random")
    ann = person(sessions, browser, fake("granted"))
    page = ann.page
    log_in(page, daemon.url, "ann")
    wait_online(page)
    expect(page.locator("#conv-title")).to_have_text("# general")
    page.locator("#composer-text").click()  # a first press: the page may play sounds now

    dialog = open_from_my_menu(page, "ann", ITEM)
    expect(dialog.locator("#keyword-count")).to_have_text("You have no keywords yet.")
    expect(dialog).to_contain_text("Up to 50 keywords, each up to 64 characters")
    expect(dialog.get_by_label("Add keywords")).to_be_focused()
    add(dialog, "deploy, On Call")  # several at once
    expect(chips(dialog)).to_have_text(["deploy", "On Call"])
    saved(ann, ["deploy", "On Call"])
    field = dialog.get_by_label("Add keywords")
    field.press_sequentially("outage,")  # a comma adds too
    expect(chips(dialog)).to_have_text(["deploy", "On Call", "outage"])
    expect(field).to_have_value("")
    saved(ann, ["deploy", "On Call", "outage"])
    # What cannot be added is said, and stays in the field to be changed.
    add(dialog, "x" * 65)
    expect(dialog.locator("#keyword-said")).to_have_text(
        '"xxxxxxxxxxxxxxxxxxxxxxxx…" is 65 characters long: a keyword is at most 64.')
    expect(field).to_have_value("x" * 65)
    add(dialog, "DEPLOY")
    expect(dialog.locator("#keyword-said")).to_have_text(
        '"DEPLOY" is one of your keywords already.')
    expect(dialog.locator("#keyword-count")).to_have_text("You have 3 of 50 keywords.")
    assert axe_serious(page) == []
    shot(page, artifacts, "desktop-keywords-dialog")
    dialog.get_by_role("button", name="Remove outage").click()
    expect(chips(dialog)).to_have_text(["deploy", "On Call"])
    expect(dialog.get_by_role("button", name="Remove On Call")).to_be_focused()
    saved(ann, ["deploy", "On Call"])
    field.fill("")
    dialog.get_by_role("button", name="Done").click()
    expect(dialog).to_be_hidden()

    # Kept by the server: there again after a reload.
    page.reload()
    wait_online(page)
    dialog = open_from_my_menu(page, "ann", ITEM)
    expect(chips(dialog)).to_have_text(["deploy", "On Call"])
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    # Ann looks at #random: Bob's messages in #general. "redeploy" is no keyword of hers;
    # "deploy" is: a notification as for a mention, though #general is at "mentions only".
    open_room(page, "random")
    bob.request("send", room="general", text="redeploy soon", nonce="b1")
    bob.request("send", room="general",
                text="the deploy is done: https://example.com/deploy and `deploy` logs",
                nonce="b2")
    expect_count(page, "notified", 1)
    [note] = made(page)
    assert note["title"] == "Bob in #general"
    assert note["body"].startswith("the deploy is done")
    bob.request("send", room="general", text="who is on call tonight?", nonce="b3")
    expect_count(page, "notified", 2)
    assert made(page)[1]["body"] == "who is on call tonight?"

    open_room(page, "general")
    done = msg(page, "the deploy is done")
    expect(done).to_have_class(MENTIONED)
    # The word in the text, not the one in the link or the code; the link still a link.
    expect(done.locator("mark.keyword")).to_have_text(["deploy"])
    expect(done.locator("a.md-link")).to_have_attribute("href", "https://example.com/deploy")
    expect(done.locator("code")).to_have_text("deploy")
    expect(msg(page, "who is on call tonight?").locator("mark.keyword")).to_have_text(["on call"])
    expect(msg(page, "redeploy soon").locator("mark.keyword")).to_have_count(0)
    expect(msg(page, "redeploy soon")).not_to_have_class(MENTIONED)
    shot(page, artifacts, "desktop-keywords")

    # Removed: the marks go, and "deploy" notifies no more ("on call" still does).
    dialog = open_from_my_menu(page, "ann", ITEM)
    dialog.get_by_role("button", name="Remove deploy").click()
    expect(chips(dialog)).to_have_text(["On Call"])
    saved(ann, ["On Call"])
    page.keyboard.press("Escape")
    expect(done.locator("mark.keyword")).to_have_count(0)
    expect(done).not_to_have_class(MENTIONED)
    open_room(page, "random")
    bob.request("send", room="general", text="deploy again", nonce="b4")
    bob.request("send", room="general", text="on call: Bob", nonce="b5")
    expect_count(page, "notified", 3)
    assert [n["body"] for n in made(page)][2:] == ["on call: Bob"]

    # Another device of ann's changes the list: the open dialog follows, and so do alerts.
    dialog = open_from_my_menu(page, "ann", ITEM)
    phone = LineClient(daemon.tcp_port, register_and_login_again(daemon, "ann"))
    phone.request("set_keywords", keywords=["outage"])
    expect(chips(dialog)).to_have_text(["outage"])
    page.keyboard.press("Escape")
    bob.request("send", room="general", text="on call again", nonce="b6")
    bob.request("send", room="general", text="an outage in eu-west", nonce="b7")
    expect_count(page, "notified", 4)
    assert made(page)[3]["body"] == "an outage in eu-west"

    # /keywords opens the dialog, the words after it ready to add.
    box = page.locator("#composer-text")
    box.fill("/keywords release")
    box.press("Enter")
    dialog = page.get_by_role("dialog", name="Notification keywords")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Add keywords")).to_have_value("release")
    dialog.get_by_label("Add keywords").press("Enter")
    expect(chips(dialog)).to_have_text(["outage", "release"])
    saved(ann, ["outage", "release"])
    phone.close()
    ann_line.close()
    bob.close()
    assert ann.errors == []


def test_a_keyword_counts_as_a_mention_and_is_marked_in_search(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """Bob's message with ann's keywords in #random, which she does not look at, counts in
    its "@" badge and makes the title's count a mention's (the "*"), as a mention does; a
    message without one does not. Searched for, the result marks her keywords as the message
    view does."""
    _, ann_line, bob = ann_and_bob_in(daemon, "general", "random")
    ann_line.request("set_keywords", keywords=["deploy", "on call"])
    ann = person(sessions, browser, fake("granted"))
    page = ann.page
    log_in(page, daemon.url, "ann")
    wait_online(page)
    expect(page.locator("#conv-title")).to_have_text("# general")
    random = room_button(page, "random")
    bob.request("send", room="random", text="lunch?", nonce="k0")
    expect(random).to_have_attribute("aria-label", "Room random, 1 unread")
    expect(random.locator(".badge.mention")).to_have_count(0)
    expect(page).to_have_title("(1) #general · chatd")

    bob.request("send", room="random", text="who is on call for the deploy?", nonce="k1")
    expect(random).to_have_attribute("aria-label", "Room random, 2 unread, 1 mentioning you")
    expect(random.locator(".badge.mention")).to_be_visible()
    expect(page).to_have_title("(2*) #general · chatd")

    daemon.search_caught_up()
    page.locator("#search-open").click()
    box = page.get_by_role("searchbox", name="Search messages")
    box.fill("deploy")
    box.press("Enter")
    result = page.locator("#search-results .result")
    expect(result).to_have_count(1)
    expect(result.locator("mark.keyword")).to_have_text(["on call", "deploy"])
    expect(result).to_have_class(MENTIONED)
    shot(page, artifacts, "desktop-keywords-search")
    result.click()
    expect(page.locator("#conv-title")).to_have_text("# random")
    expect(msg(page, "who is on call").locator("mark.keyword")).to_have_text(["on call", "deploy"])
    expect(random.locator(".badge.mention")).to_have_count(0)
    expect(page).to_have_title("#random · chatd")
    ann_line.close()
    bob.close()
    assert ann.errors == []


def test_keywords_on_a_phone(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """The dialog from the menu under the name in the phone's sidebar: chips that fit, the
    field, the limits; a keyword in Bob's message is marked there too."""
    _, ann_line, bob = ann_and_bob_in(daemon, "general")
    ann_line.request("set_keywords", keywords=["deploy", "on call", "release notes"])
    ann = person(sessions, browser, fake("granted"), viewport=PHONE)
    page = ann.page
    log_in(page, daemon.url, "ann")
    wait_online(page)
    bob.request("send", room="general", text="the deploy is done", nonce="b1")
    expect(msg(page, "the deploy is done").locator("mark.keyword")).to_have_text(["deploy"])
    page.locator("#open-sidebar").click()
    page.locator("#me-name").click()
    page.get_by_role("menuitem", name=ITEM).click()
    dialog = page.get_by_role("dialog", name="Notification keywords")
    expect(chips(dialog)).to_have_text(["deploy", "on call", "release notes"])
    add(dialog, "outage")
    expect(chips(dialog)).to_have_text(["deploy", "on call", "release notes", "outage"])
    saved(ann, ["deploy", "on call", "release notes", "outage"])
    box = dialog.bounding_box()
    assert box is not None and box["width"] <= PHONE["width"]
    assert axe_serious(page) == []
    shot(page, artifacts, "phone-keywords")
    ann_line.close()
    bob.close()
    assert ann.errors == []


@pytest.fixture
def three_keywords(tmp_path: Path, database_dsn: str) -> Iterator[Daemon]:
    """A daemon that keeps three keywords per person (limits.keywords_per_user = 3)."""
    server = Daemon(tmp_path, database_dsn)
    server.settings["CHATD_LIMITS_KEYWORDS_PER_USER"] = "3"
    yield from _running(server)


def welcome_saying(page: Page, limit: int | None) -> None:
    """Route `page`'s WebSocket through the test, its welcome saying `keywords_per_user` as
    `limit` (None: not at all, as a server older than the field says)."""

    def rewritten(line: str) -> str:
        if not line.strip():
            return line
        frame = json.loads(line)
        if frame.get("op") != "welcome":
            return line
        frame.pop("keywords_per_user", None)
        if limit is not None:
            frame["keywords_per_user"] = limit
        return json.dumps(frame)

    def route(ws: Any) -> None:
        server = ws.connect_to_server()
        server.on_message(lambda payload: ws.send(
            "\n".join(rewritten(line) for line in payload.split("\n"))
            if isinstance(payload, str) else payload))

    page.route_web_socket(re.compile(r"/ws$"), route)


def test_the_servers_limit_is_the_dialogs(
    three_keywords: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """A server that takes three keywords each says so in its welcome: the dialog says "Up to
    3", counts "3 of 3", and refuses a fourth itself, in words, asking the server nothing."""
    daemon = three_keywords
    _, ann_line, bob = ann_and_bob_in(daemon, "general")
    bob.close()
    ann_line.request("set_keywords", keywords=["deploy", "outage"])
    ann = person(sessions, browser, fake("granted"))
    page = ann.page
    welcome_saying(page, 3)
    log_in(page, daemon.url, "ann")
    wait_online(page)
    dialog = open_from_my_menu(page, "ann", ITEM)
    expect(dialog.locator("#keyword-limits")).to_contain_text(
        "Up to 3 keywords, each up to 64 characters")
    expect(dialog.locator("#keyword-count")).to_have_text("You have 2 of 3 keywords.")
    add(dialog, "release, one too many")
    expect(chips(dialog)).to_have_text(["deploy", "outage", "release"])
    expect(dialog.locator("#keyword-said")).to_have_text(
        '"one too many" was not added: you have 3 keywords, the most there can be. Remove '
        "one first.")
    expect(dialog.get_by_label("Add keywords")).to_have_value("one too many")
    expect(dialog.locator("#keyword-count")).to_have_text("You have 3 of 3 keywords.")
    saved(ann, ["deploy", "outage", "release"])
    shot(page, artifacts, "desktop-keywords-limit")
    assert ann_line.request("keywords")["keywords"] == ["deploy", "outage", "release"]
    ann_line.close()
    assert ann.errors == []


def test_a_refusal_is_said_in_words_and_the_list_put_back(
    three_keywords: Daemon, browser: Browser, sessions: list[Session]
) -> None:
    """A server that does not say its limit (older than `keywords_per_user`) is taken to keep
    50, and this one keeps three: it refuses a fourth; the dialog says why in words, and shows
    the list the server keeps."""
    daemon = three_keywords
    _, ann_line, bob = ann_and_bob_in(daemon, "general")
    bob.close()
    full = ["word0", "word1", "word2"]
    ann_line.request("set_keywords", keywords=full)
    ann = person(sessions, browser, fake("granted"))
    page = ann.page
    welcome_saying(page, None)
    log_in(page, daemon.url, "ann")
    wait_online(page)
    dialog = open_from_my_menu(page, "ann", ITEM)
    expect(chips(dialog)).to_have_count(3)
    expect(dialog.locator("#keyword-count")).to_have_text("You have 3 of 50 keywords.")
    add(dialog, "one too many")
    expect(dialog.locator("#keyword-said")).to_have_text(
        "Your keywords were not saved: at most 3 keywords (limits.keywords_per_user): "
        "remove some")
    expect(chips(dialog)).to_have_text(full)
    expect(dialog.locator("#keyword-count")).to_have_text("You have 3 of 50 keywords.")
    ann_line.close()
    assert ann.errors == []

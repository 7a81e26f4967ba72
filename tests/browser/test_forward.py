"""Forwarding a message in the page, in a real Chromium against the real daemon: "Forward…" in
a message's menu opens the "Forward message" dialog (a preview, a destination chooser that
filters as one types, a comment, Enter to forward); ann forwards Bob's message with a comment
to #design and, without one, to a new group conversation with Bob and Carol; Carol's page (a
phone) shows the forward's comment and under it the card ("Forwarded from Bob", "in #general"
which opens the original, the text, whose @carol is not Carol's mention); a refusal keeps the
dialog open with the reason; a message of a private room is forwarded without its room, its
file the forward's own; the thread panel draws the card, and search finds a forward by the
forwarded text. A forward whose reply was lost is sent again with its nonce, and stored once.

The rules of test_web.py hold: every wait is for a state, never for time. Screenshots land in
tests/artifacts/ (desktop-forward.png and phone-forward-dialog.png: the dialog;
desktop-forwarded.png and phone-forward.png: the card).
"""

from __future__ import annotations

import json
import re
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.browser.conftest import (
    DESKTOP,
    PHONE,
    Daemon,
    LineClient,
    losing_the_reply,
    needs_chromium,
    register_and_login,
)
from tests.browser.test_changes import menu_action
from tests.browser.test_files import file_chip
from tests.browser.test_page_defects import axe_serious
from tests.browser.test_web import Session, log_in, open_session, shot
from tests.http.test_uploads import multipart

pytestmark = [pytest.mark.slow, needs_chromium]

GROUP = "@ann:bob:carol"
DEPLOY = "deploy at 5pm, ask @carol"
SECRET = "the launch code is 42"


def scene(daemon: Daemon) -> None:
    """ann owns #general, #design and the private #secret; Bob and Carol are in #general and
    #design, Bob in #secret too. Bob said DEPLOY in #general and SECRET in #secret."""
    ann = LineClient(daemon.tcp_port, register_and_login(daemon.url, "ann"))
    for room in ("general", "design"):
        ann.request("create_room", room=room, topic="")
    ann.request("create_room", room="secret", topic="", private=True)
    others = {}
    tokens = {}
    for name in ("Bob", "carol"):
        tokens[name] = register_and_login(daemon.url, name)
        other = LineClient(daemon.tcp_port, tokens[name])
        for room in ("general", "design"):
            other.request("join", room=room)
        others[name] = other
    ann.request("invite", room="secret", user="Bob")
    bob = others["Bob"]
    bob.request("send", room="secret", text=SECRET, nonce="secret-1",
                files=[upload(daemon, tokens["Bob"], "secret", b"launch at dawn\n", "plan.txt")])
    last = bob.request("send", room="general", text=DEPLOY, nonce="deploy-1")
    ann.request("read", room="general", seq=last["seq"])
    for client in (ann, *others.values()):
        client.close()


def upload(daemon: Daemon, token: str, room: str, data: bytes, name: str) -> int:
    """Upload `data` as `name` to `room` (POST /api/rooms/{room}/files); its file id."""
    body, headers = multipart(data, filename=name)
    request = urllib.request.Request(f"{daemon.url}/api/rooms/{room}/files", data=body,
                                     method="POST", headers={"Authorization": f"Bearer {token}",
                                                             **dict(headers)})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201
        file_id = json.load(response)["file"]["id"]
    assert isinstance(file_id, int)
    return file_id


def original(page: Page, text: str) -> Locator:
    """The message whose own text (not a forwarded card's) is exactly `text`."""
    return page.locator("#message-list li.msg[data-seq]").filter(
        has=page.locator(":scope > .msg-body > .msg-text",
                         has_text=re.compile(f"^{re.escape(text)}$")))


def forwards(page: Page) -> Locator:
    return page.locator("#message-list li.msg[data-seq]").filter(
        has=page.locator(".forward-card"))


def forward_dialog(page: Page) -> Locator:
    return page.get_by_role("dialog", name="Forward message")


def choose(page: Page, typed: str) -> None:
    """Type `typed` in the chooser and take the highlighted destination with Enter."""
    box = page.locator("#forward-to")
    box.fill(typed)
    expect(box).to_have_attribute("aria-activedescendant", "forward-choice-0")
    box.press("Enter")
    expect(box).to_have_value("")


def open_room(page: Page, selector: str) -> None:
    """On a phone: the sidebar, then the room or conversation."""
    page.locator("#open-sidebar").click()
    page.locator(selector).click()


def test_forward_to_a_room_and_to_a_new_group(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """ann forwards with a comment to #design and without one to a new group conversation;
    Carol sees the comment and the card, whose room opens the original; a refusal keeps the
    dialog; a private room's message is forwarded without its room; the Saved panel's excerpt
    of a forward without a comment says "Forwarded: " and what it forwards."""
    scene(daemon)
    carol = open_session(sessions, browser, PHONE)
    log_in(carol.page, daemon.url, "carol")
    expect(carol.page.locator("#me-status")).to_have_attribute("data-phase", "online")
    ann = open_session(sessions, browser, DESKTOP)
    page = ann.page
    log_in(page, daemon.url, "ann")
    expect(page.locator("#conv-title")).to_have_text("# design")  # the first room
    page.locator('#room-list li[data-room="general"] button').click()
    expect(page.locator("#conv-title")).to_have_text("# general")
    expect(page.locator("#member-list li.member")).to_have_count(3)  # known: for the chooser

    # The dialog: a preview of Bob's message, the chooser filtering as one types.
    menu_action(page, original(page, DEPLOY), "Forward…")
    dialog = forward_dialog(page)
    expect(dialog).to_be_visible()
    expect(dialog.locator(".forward-preview")).to_contain_text("Bob")
    expect(dialog.locator(".forward-preview")).to_contain_text(DEPLOY)
    expect(page.locator("#forward-to")).to_be_focused()
    options = dialog.get_by_role("option")
    expect(options).to_have_text(["#design", "#general", "#secret"])
    page.locator("#forward-to").fill("g")  # those starting so first
    expect(options).to_have_text(["#general", "#design"])
    page.locator("#forward-to").press("ArrowDown")
    expect(page.locator("#forward-to")).to_have_attribute("aria-activedescendant",
                                                          "forward-choice-1")
    page.locator("#forward-to").press("Enter")
    expect(dialog.locator(".pick-chip")).to_have_text([re.compile("^#design")])
    page.locator("#forward-text").fill("FYI for the release")
    assert axe_serious(page) == []
    shot(page, artifacts, "desktop-forward")
    page.locator("#forward-text").press("Enter")
    expect(dialog).to_be_hidden()
    toast = page.locator("#toasts .toast", has_text="Forwarded to #design.")
    expect(toast).to_be_visible()
    toast.get_by_role("button", name="Go there").click()
    expect(page.locator("#conv-title")).to_have_text("# design")
    expect(forwards(page)).to_have_count(1)
    expect(forwards(page).locator(".forward-card .forward-from")).to_have_text(
        "Forwarded from Bob")
    shot(page, artifacts, "desktop-forwarded")

    # Carol, on her phone, in #design: the comment, and the card under it.
    open_room(carol.page, '#room-list li[data-room="design"] button')
    card = forwards(carol.page).locator(".forward-card")
    expect(card).to_have_count(1)
    forward = forwards(carol.page)
    expect(forward.locator(":scope > .msg-body > .msg-text")).to_have_text("FYI for the release")
    expect(forward.locator(".author")).to_have_text("ann")
    expect(card.locator(".forward-from")).to_have_text("Forwarded from Bob")
    expect(card.locator(".forward-text")).to_have_text(DEPLOY)
    # Her name in the forwarded text was not written to her: no mention of her.
    expect(card.locator(".mention")).to_have_text("@carol")
    expect(card.locator(".mention.me")).to_have_count(0)
    expect(forward).not_to_have_class(re.compile(r"\bmentions-me\b"))
    shot(carol.page, artifacts, "phone-forward")
    # The dialog on a phone (for its picture): a forward's preview is what it forwards.
    menu_action(carol.page, forward, "Forward…")
    expect(forward_dialog(carol.page).locator(".forward-preview")).to_contain_text(DEPLOY)
    shot(carol.page, artifacts, "phone-forward-dialog")
    carol.page.keyboard.press("Escape")
    expect(forward_dialog(carol.page)).to_be_hidden()
    # "in #general" opens the original there, highlighted.
    card.get_by_role("button", name="in #general: show the original message").click()
    expect(carol.page.locator("#conv-title")).to_have_text("# general")
    expect(original(carol.page, DEPLOY)).to_have_class(re.compile(r"\bflash\b"))

    # To people: a new group conversation of ann, Bob and Carol, no comment.
    page.locator('#room-list li[data-room="general"] button').click()
    menu_action(page, original(page, DEPLOY), "Forward…")
    choose(page, "bob")
    choose(page, "dan")  # nobody the page knows: as typed
    page.locator("#forward-to").press("Backspace")  # the empty box: the last one goes
    expect(dialog.locator(".pick-chip")).to_have_text([re.compile("^Bob")])
    choose(page, "car")
    expect(dialog.locator(".pick-chip")).to_have_text([re.compile("^Bob"), re.compile("^carol")])
    dialog.get_by_role("button", name="Forward", exact=True).click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#toasts .toast", has_text="Forwarded to Bob, carol.")).to_be_visible()
    open_room(carol.page, f'#dm-list li[data-room="{GROUP}"] button')
    group_card = forwards(carol.page).locator(".forward-card")
    expect(group_card.locator(".forward-text")).to_have_text(DEPLOY)
    expect(forwards(carol.page).locator(":scope > .msg-body > .msg-text")).to_have_count(0)

    # A refusal (nobody is called zed) keeps the dialog, with why; Escape closes it.
    menu_action(page, original(page, DEPLOY), "Forward…")
    page.locator("#forward-to").fill("xyz")
    page.locator("#forward-to").press("Escape")  # what was typed goes, the dialog stays
    expect(page.locator("#forward-to")).to_have_value("")
    expect(dialog).to_be_visible()
    page.locator("#forward-to").fill("@zed")
    expect(dialog.get_by_role("option")).to_have_text(["@zed"])
    page.locator("#forward-to").press("Enter")
    dialog.get_by_role("button", name="Forward", exact=True).click()
    expect(page.locator("#dialog-error")).to_contain_text("Not forwarded")
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    # A private room's message: forwarded without its room.
    page.locator('#room-list li[data-room="secret"] button').click()
    menu_action(page, original(page, SECRET), "Forward…")
    choose(page, "#design")
    page.locator("#forward-text").press("Enter")
    expect(dialog).to_be_hidden()
    open_room(carol.page, '#room-list li[data-room="design"] button')
    secret = forwards(carol.page).filter(has_text=SECRET)
    expect(secret.locator(".forward-from")).to_have_text("Forwarded from Bob")
    expect(secret.locator(".forward-source")).to_have_count(0)
    # Its file is the forward's own: Carol, not in #secret, downloads it.
    plan = file_chip(secret, "plan.txt")
    expect(plan).to_be_visible()
    # Its href is the plain url (a Bearer token's) until the signed link comes: wait for it.
    expect(plan).to_have_attribute("href", re.compile(r"sig="))
    href = plan.get_attribute("href")
    assert href
    assert carol.page.request.get(urllib.parse.urljoin(daemon.url, href)).text() \
        == "launch at dawn\n"
    expect(forwards(carol.page)).to_have_count(2)

    # The thread panel draws the card too (the forward as a thread's root).
    menu_action(carol.page, forwards(carol.page).filter(has_text="FYI for the release"),
                "Reply in thread")
    root = carol.page.locator("#thread-panel .forward-card")
    expect(root.locator(".forward-text")).to_have_text(DEPLOY)
    expect(root.locator(".forward-source")).to_have_text("in #general")

    # Search finds the forward by the forwarded text, and says whose message it forwards.
    daemon.search_caught_up()
    page.locator("#search-open").click()
    box = page.get_by_role("searchbox", name="Search messages")
    box.fill("launch")
    box.press("Enter")
    found = page.locator('#search-results li button.result[data-room="design"]')
    expect(found.locator(".search-forwarded")).to_have_text("↪ Forwarded from Bob")
    expect(page.locator('#search-results li button.result[data-room="secret"] '
                        '.search-forwarded')).to_have_count(0)

    # Saved for later, the group's forward without a comment says what it forwards.
    page.locator(f'#dm-list li[data-room="{GROUP}"] button').click()
    menu_action(page, forwards(page), "Save for later")
    page.locator("#saved-open").click()
    expect(page.locator("#saved-list li.saved-item .result-text")).to_have_text(
        f"Forwarded: {DEPLOY}")
    for someone in (ann, carol):
        assert someone.errors == [] and someone.dialogs == [], (someone.errors, someone.dialogs)


def test_a_forward_whose_reply_was_lost_is_sent_again_and_stored_once(
    daemon: Daemon, browser: Browser, sessions: list[Session]
) -> None:
    """The connection drops after the server stored ann's forward, before its reply: back
    online, the page sends the same request again (the same nonce); the server answers it as
    the first, the dialog closes with its confirmation, and #design holds one forward."""
    scene(daemon)
    session = open_session(sessions, browser, DESKTOP)
    page = session.page
    sent: list[dict[str, Any]] = []
    losing_the_reply(page, "forward", sent)
    log_in(page, daemon.url, "ann")
    expect(page.locator("#conv-title")).to_have_text("# design")
    page.locator('#room-list li[data-room="general"] button').click()
    menu_action(page, original(page, DEPLOY), "Forward…")
    dialog = forward_dialog(page)
    choose(page, "design")
    page.locator("#forward-text").fill("once only")
    dialog.get_by_role("button", name="Forward", exact=True).click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#toasts .toast", has_text="Forwarded to #design.")).to_be_visible()
    page.locator('#room-list li[data-room="design"] button').click()
    expect(forwards(page)).to_have_count(1)
    expect(forwards(page).locator(":scope > .msg-body > .msg-text")).to_have_text("once only")
    assert len(sent) == 2, sent
    assert sent[0]["nonce"] == sent[1]["nonce"] and sent[0]["id"] != sent[1]["id"]
    assert {k: v for k, v in sent[0].items() if k != "id"} == {
        k: v for k, v in sent[1].items() if k != "id"}
    assert session.errors == []

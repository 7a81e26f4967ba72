"""Read receipts in the page, in a real Chromium against the real daemon: in a 1:1, a quiet
"Seen" under the latest of ann's messages that Bob has read, moving live as he reads (his
phone reads what it shows) and there again right after a reload; Bob's page shows his own
"Seen" once ann's page reads his reply; "Read by…" in a message's menu lists who read it
(a room's message too), or says "Nobody yet"; in a group, "Seen by Bob" then "Seen by
everyone"; and the setting "Let others see when I've read messages" off in Bob's menu:
ann's page drops his "Seen" at once, and shows it again when he turns it back on.

The rules of test_web.py hold: every wait is for a state, never for time. Screenshots land in
tests/artifacts/ (desktop-receipts.png, phone-receipts.png).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.browser.conftest import (
    DESKTOP,
    PHONE,
    Daemon,
    LineClient,
    _in_thread,
    needs_chromium,
    register_and_login,
    wait_online,
)
from tests.browser.test_changes import menu_action, message
from tests.browser.test_page_defects import axe_serious
from tests.browser.test_web import Session, log_in, open_session, send, shot

pytestmark = [pytest.mark.slow, needs_chromium]

DM = "@ann:bob"
GROUP = "@ann:bob:carol"
SHARE = "Let others see when I've read messages"


def seen(page: Page) -> Locator:
    """The "Seen" lines that say something (the others are empty)."""
    return page.locator("#message-list li.msg .msg-seen:not(:empty)")


def seen_under(page: Page, text: str) -> Locator:
    return message(page, text).locator(".msg-seen")


def readers(page: Page) -> Locator:
    return page.get_by_role("dialog", name="Read by")


def open_readers(page: Page, text: str) -> Locator:
    """Open "Read by…" of the message whose text is ``text``; the panel, once answered."""
    menu_action(page, message(page, text), "Read by…")
    panel = readers(page)
    expect(panel.locator("#readers-count")).not_to_have_text("Loading…")
    return panel


def test_seen_in_a_conversation_read_by_and_the_setting(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """Bob's phone reads ann's message: "Seen" under it on her page without a reload, moving
    to her next one when he reads that; ann's page reads his reply and his phone says Seen;
    the line is there again after a reload; "Read by…" names Bob (his own message: nobody);
    Bob turns his receipts off in his menu: ann's page drops his at once; on again, back."""
    ann_line = LineClient(daemon.tcp_port, register_and_login(daemon.url, "ann"))
    register_and_login(daemon.url, "Bob")
    ann_line.request("dm", to="Bob", text="are you coming?", nonce="first")
    ann_line.close()

    ann = open_session(sessions, browser, DESKTOP)
    page = ann.page
    log_in(page, daemon.url, "ann")
    expect(page.locator("#conv-title")).to_have_text("Bob")
    expect(message(page, "are you coming?")).to_have_count(1)
    ann.wait_for_frame(lambda f: f.get("op") == "ok" and "positions" in f,
                       "the answer to the markers of the conversation")
    expect(seen(page)).to_have_count(0)  # Bob has read nothing

    bob = open_session(sessions, browser, PHONE)
    phone = bob.page
    log_in(phone, daemon.url, "Bob")
    expect(message(phone, "are you coming?")).to_be_visible()  # on screen: read
    expect(seen_under(page, "are you coming?")).to_have_text("Seen")
    expect(seen(page)).to_have_count(1)
    # Quiet: the line does not speak up inside the list's live region when it moves.
    expect(seen_under(page, "are you coming?")).to_have_attribute("aria-live", "off")

    send(page, "bring the maps")
    expect(message(phone, "bring the maps")).to_be_visible()
    expect(seen_under(page, "bring the maps")).to_have_text("Seen")
    expect(seen_under(page, "are you coming?")).to_have_text("")
    expect(seen(page)).to_have_count(1)

    # His reply, read by ann's page: his phone shows his own Seen, never one under hers.
    send(phone, "yes, at 5")
    expect(seen_under(phone, "yes, at 5")).to_have_text("Seen")
    expect(seen(phone)).to_have_count(1)
    expect(seen(page)).to_have_count(1)  # under her message, not under his
    expect(seen_under(page, "bring the maps")).to_have_text("Seen")
    shot(phone, artifacts, "phone-receipts")

    # "Read by…": Bob read hers; his own, read by ann only, names nobody else.
    panel = open_readers(page, "bring the maps")
    expect(panel.locator("#readers-count")).to_have_text("Read by 1 person")
    expect(panel.locator(".readers-list .name")).to_have_text(["Bob"])
    expect(panel.locator(".readers-names")).to_match_aria_snapshot(  # and nothing else
        '- list "Readers":\n  - listitem: Bob')
    assert axe_serious(page) == []
    page.keyboard.press("Escape")
    expect(readers(page)).to_have_count(0)
    panel = open_readers(page, "yes, at 5")
    expect(panel.locator("#readers-count")).to_have_text("Nobody yet")
    expect(panel.locator(".readers-names")).to_have_text("")
    page.keyboard.press("Escape")

    # Right after a reload, from the markers' answer.
    page.reload()
    wait_online(page)
    expect(seen_under(page, "bring the maps")).to_have_text("Seen")
    expect(seen(page)).to_have_count(1)

    # Bob stops sharing, from his menu (the phone's sidebar holds his name).
    phone.locator("#open-sidebar").click()
    phone.locator("#me-name").click()
    toggle = phone.get_by_role("menuitemcheckbox", name=SHARE)
    expect(toggle).to_have_attribute("aria-checked", "true")
    toggle.click()
    bob.wait_for_frame(lambda f: f.get("op") == "read_receipts" and f.get("on") is False,
                       "the read_receipts event of his change")
    # Taken back on ann's page at once, without a reload (`seen` with seq null).
    expect(seen(page)).to_have_count(0)
    phone.locator("#me-name").click()
    expect(phone.get_by_role("menuitemcheckbox", name=SHARE)).to_have_attribute(
        "aria-checked", "false")
    phone.keyboard.press("Escape")  # the menu
    phone.keyboard.press("Escape")  # the sidebar
    expect(phone.locator("#open-sidebar")).to_have_attribute("aria-expanded", "false")

    # Ann's next message, read by his phone: no Seen for it, and none at all after a reload.
    send(page, "see you")
    expect(message(phone, "see you")).to_be_visible()
    page.reload()
    wait_online(page)
    expect(message(page, "see you")).to_have_count(1)
    ann.wait_for_frame(lambda f: f.get("op") == "ok" and f.get("positions") == [],
                       "the markers' answer without Bob's")
    expect(seen(page)).to_have_count(0)

    # On again: ann's page shows where his marker is at once (`seen` with its seq).
    phone.locator("#open-sidebar").click()
    phone.locator("#me-name").click()
    phone.get_by_role("menuitemcheckbox", name=SHARE).click()
    expect(seen_under(page, "see you")).to_have_text("Seen")
    expect(seen(page)).to_have_count(1)
    for someone in (ann, bob):
        assert someone.errors == [] and someone.dialogs == [], (someone.errors, someone.dialogs)


def test_a_group_seen_by_each_then_everyone_and_a_rooms_readers(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """In a group, Bob's read gives "Seen by Bob", Carol's "Seen by everyone"; when Bob reads
    ann's next message, each is named under the last one they read; "Read by…" names who
    read it; in a room, "Read by…" of ann's message names who read it."""
    ann_line = LineClient(daemon.tcp_port, register_and_login(daemon.url, "ann"))
    ann_line.request("create_room", room="general", topic="")
    bob = LineClient(daemon.tcp_port, register_and_login(daemon.url, "Bob"))
    carol = LineClient(daemon.tcp_port, register_and_login(daemon.url, "carol"))
    carol.request("set_profile", display_name="Carol Danvers")
    for other in (bob, carol):
        other.request("join", room="general")
    posted = ann_line.request("dm", to=["Bob", "carol"], text="lunch?", nonce="lunch")
    room = posted["room"]
    assert room == GROUP, posted
    later = ann_line.request("send", room=GROUP, text="the usual place?", nonce="place")
    said = ann_line.request("send", room="general", text="standup moved to 10", nonce="standup")
    ann_line.close()

    ann = open_session(sessions, browser, DESKTOP)
    page = ann.page
    log_in(page, daemon.url, "ann")
    wait_online(page)
    page.locator(f'#dm-list li[data-room="{GROUP}"] button').click()
    expect(message(page, "the usual place?")).to_have_count(1)
    ann.wait_for_frame(lambda f: f.get("op") == "ok" and "positions" in f,
                       "the answer to the markers of the group")
    expect(seen(page)).to_have_count(0)

    bob.request("read", room=GROUP, seq=posted["seq"])
    expect(seen_under(page, "lunch?")).to_have_text("Seen by Bob")
    carol.request("read", room=GROUP, seq=posted["seq"])
    expect(seen_under(page, "lunch?")).to_have_text("Seen by everyone")
    bob.request("read", room=GROUP, seq=later["seq"])
    expect(seen_under(page, "the usual place?")).to_have_text("Seen by Bob")
    expect(seen_under(page, "lunch?")).to_have_text("Seen by Carol Danvers")
    panel = open_readers(page, "the usual place?")
    expect(panel.locator("#readers-count")).to_have_text("Read by 1 person")
    expect(panel.locator(".readers-list .name")).to_have_text(["Bob"])
    shot(page, artifacts, "desktop-receipts")
    page.keyboard.press("Escape")
    carol.request("read", room=GROUP, seq=later["seq"])
    expect(seen_under(page, "the usual place?")).to_have_text("Seen by everyone")
    expect(seen_under(page, "lunch?")).to_have_text("")
    expect(seen(page)).to_have_count(1)
    panel = open_readers(page, "lunch?")
    expect(panel.locator("#readers-count")).to_have_text("Read by 2 people")
    expect(panel.locator(".readers-list .name")).to_have_text(["Bob", "Carol Danvers"])
    page.keyboard.press("Escape")

    # A room has no Seen line; its messages' menus say who read them.
    bob.request("read", room="general", seq=said["seq"])
    page.locator('#room-list li[data-room="general"] button').click()
    expect(message(page, "standup moved to 10")).to_have_count(1)
    expect(page.locator("#message-list .msg-seen")).to_have_count(0)
    panel = open_readers(page, "standup moved to 10")
    expect(panel.locator("#readers-count")).to_have_text("Read by 1 person")
    expect(panel.locator(".readers-list .name")).to_have_text(["Bob"])
    bob.close()
    carol.close()
    assert ann.errors == [] and ann.dialogs == [], (ann.errors, ann.dialogs)


def test_read_by_past_a_page_of_names_shows_more(
    daemon: Daemon, database_dsn: str, browser: Browser, sessions: list[Session]
) -> None:
    """150 members of #hall (made in SQL) read ann's message: "Read by…" counts them all, names
    the first 100 with "…and 50 more" and "Show more", which adds the other 50 (asked after
    the last name) and goes."""
    line = LineClient(daemon.tcp_port, register_and_login(daemon.url, "ann"))
    line.request("create_room", room="hall", topic="")
    sent = line.request("send", room="hall", text="to all", nonce="h1")
    line.close()
    # (From a thread of its own: Playwright's loop runs in this one.)
    _in_thread(database_dsn, """
        INSERT INTO users (name, password_hash)
        SELECT 'u' || g, 'hash' FROM generate_series(1, 150) g
    """)
    _in_thread(database_dsn, f"""
        INSERT INTO memberships (room_id, user_id, read_seq)
        SELECT r.id, u.id, {sent["seq"]}
        FROM rooms r, users u WHERE r.name = 'hall' AND u.name ~ '^u[0-9]+$'
    """)
    names = sorted(f"u{n}" for n in range(1, 151))  # (by code point: u1, u10, u100, …)
    ann = open_session(sessions, browser, DESKTOP)
    page = ann.page
    log_in(page, daemon.url, "ann")
    wait_online(page)
    page.locator('#room-list li[data-room="hall"] button').click()
    expect(message(page, "to all")).to_have_count(1)
    panel = open_readers(page, "to all")
    expect(panel.locator("#readers-count")).to_have_text("Read by 150 people")
    expect(panel.locator(".readers-list .name")).to_have_count(100)
    expect(panel.locator("#readers-more")).to_have_text("…and 50 more")
    more = panel.get_by_role("button", name="Show more")
    more.click()
    expect(panel.locator(".readers-list .name")).to_have_count(150)
    assert sorted(panel.locator(".readers-list .name").all_text_contents()) == names
    expect(panel.locator("#readers-more")).to_have_count(0)
    expect(more).to_be_hidden()
    expect(panel).to_be_focused()  # (the button gone, the focus stays in the panel)
    assert ann.errors == [] and ann.dialogs == [], (ann.errors, ann.dialogs)

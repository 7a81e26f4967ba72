"""Changes to messages in the page (protocol v2), in a real Chromium against the real daemon:
edit in place, delete with a confirmation, reactions, replies that jump to their original,
@mentions (completion, highlight, unread badge), the Markdown subset, and every change shown
exactly once, never flickering back to an older text, across a reconnect.

The rules of test_web.py hold here: every wait is for a state (a Playwright expect or locator
wait, or a frame the page received), never for time.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.browser.conftest import (
    DESKTOP,
    PHONE,
    RESUME_MAX,
    Daemon,
    LineClient,
    needs_chromium,
    pick_in_menu,
    register_and_login,
)
from tests.browser.test_web import (
    XSS,
    Session,
    assert_each_once,
    log_in,
    open_session,
    register,
    send,
    shot,
)

pytestmark = [pytest.mark.slow, needs_chromium]

MORE = re.compile(r"^Actions for the message from ")


def message(page: Page, text: str) -> Locator:
    """The confirmed message whose text is exactly `text`."""
    return page.locator("#message-list li.msg[data-seq]").filter(
        has=page.locator(".msg-text", has_text=re.compile(f"^{re.escape(text)}$")))


def menu_action(page: Page, item: Locator, action: str) -> None:
    """Open a message's actions menu (pointer) and pick `action`, its whole accessible name
    ("Reply" is not "Reply in thread")."""
    item.hover()
    item.get_by_role("button", name=MORE).click()
    pick_in_menu(page, action)


def react(page: Page, item: Locator, emoji: str) -> None:
    """Put `emoji` on a message with the picker of its hover toolbar."""
    item.hover()
    item.locator(".msg-actions").get_by_role("button", name="Add a reaction").click()
    page.get_by_role("dialog", name="Add a reaction").get_by_role(
        "button", name=f"React with {emoji}").click()


def chip(item: Locator, emoji: str) -> Locator:
    return item.locator(".reaction:not(.add)").filter(has_text=emoji)


def create_room(page: Page, name: str) -> None:
    page.get_by_role("button", name="Create a room").click()
    page.locator("#new-room-name").fill(name)
    page.get_by_role("button", name="Create", exact=True).click()
    expect(page.locator("#conv-title")).to_have_text(f"# {name}")


def join_room(page: Page, name: str) -> None:
    page.get_by_role("button", name="Browse and join rooms").click()
    page.get_by_role("button", name=f"Join {name}").click()
    expect(page.locator("#conv-title")).to_have_text(f"# {name}")


def ann_and_bob(daemon: Daemon, browser: Browser, sessions: list[Session]
                ) -> tuple[Session, Session]:
    """Two people at desktop size, registered as "ann" and "Bob", each on their page."""
    ann = open_session(sessions, browser, DESKTOP)
    bob = open_session(sessions, browser, DESKTOP)
    register(ann.page, daemon.url, "ann")
    register(bob.page, daemon.url, "Bob")
    return ann, bob




def test_edit_delete_react_and_reply(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """Two people fix, remove, answer and react to messages; each change shows on both pages,
    once; the keyboard reaches every action; the markdown of messages is drawn, their HTML
    never."""
    ann, bob = ann_and_bob(daemon, browser, sessions)
    a, b = ann.page, bob.page
    create_room(a, "general")
    join_room(b, "general")
    expect(a.locator("#message-list li.notice")).to_have_text(["Bob joined"])

    # Markdown: drawn as elements; HTML, javascript: links and scripts stay text.
    markdown = ("**bold** _it_ ~~old~~ `code` <https://example.com/x> "
                "[docs](https://example.com/d) [bad](javascript:alert(1))\n"
                "> quoted\n- one\n- two\n```\n<script>alert(1)</script>\n```")
    send(a, markdown)
    send(a, XSS)
    for page in (a, b):
        body = page.locator("#message-list li.msg[data-seq] .msg-text").first
        expect(body.locator("strong")).to_have_text("bold")
        expect(body.locator("em")).to_have_text("it")
        expect(body.locator("del")).to_have_text("old")
        expect(body.locator("code.md-code")).to_have_text("code")
        expect(body.locator("blockquote")).to_have_text("quoted")
        expect(body.locator("ul > li")).to_have_text(["one", "two"])
        expect(body.locator("pre")).to_have_text("<script>alert(1)</script>")
        links = body.locator("a")
        expect(links).to_have_count(2)
        expect(links.first).to_have_attribute("href", "https://example.com/x")
        expect(links.first).to_have_attribute("rel", "noopener noreferrer nofollow")
        expect(links.first).to_have_attribute("target", "_blank")
        expect(links.nth(1)).to_have_attribute("href", "https://example.com/d")
        expect(body).to_contain_text("[bad](javascript:alert(1))")
        expect(page.locator("#message-list li.msg .msg-text").last).to_have_text(XSS)
        expect(page.locator("#message-list img, #message-list script")).to_have_count(0)

    send(a, "Lunch at noon?")
    send(b, "I am in")
    # Reactions: Bob puts one with the picker; Ann adds hers with the chip, then takes it back.
    # Only the reactions are drawn again, not the text (the list is a live region).
    words = message(a, "Lunch at noon?").locator(".msg-text").element_handle()
    react(b, message(b, "Lunch at noon?"), "👍")
    for page in (a, b):
        expect(chip(message(page, "Lunch at noon?"), "👍")).to_have_text("👍1")
    assert words.evaluate("node => node.isConnected")
    mine = chip(message(a, "Lunch at noon?"), "👍")
    expect(mine).to_have_attribute("aria-pressed", "false")
    mine.click()
    expect(chip(message(b, "Lunch at noon?"), "👍")).to_have_text("👍2")
    expect(mine).to_have_attribute("aria-pressed", "true")
    expect(mine).to_have_attribute("aria-label", re.compile("Bob and you"))
    mine.click()
    expect(chip(message(b, "Lunch at noon?"), "👍")).to_have_text("👍1")
    expect(mine).to_have_attribute("aria-pressed", "false")

    # Edit in place: Enter saves; "(edited)" with the time in a title.
    menu_action(a, message(a, "Lunch at noon?"), "Edit")
    box = a.get_by_role("textbox", name="Edit message")
    expect(box).to_be_focused()
    box.fill("Lunch at 12:30?")
    box.press("Enter")
    for page in (a, b):
        edited = message(page, "Lunch at 12:30?")
        expect(edited.locator(".msg-edited")).to_have_text("(edited)")
        expect(edited.locator(".msg-edited")).to_have_attribute("title", re.compile("^Edited "))
        expect(chip(edited, "👍")).to_have_text("👍1")
    # Up in the empty message box edits one's last message; Escape leaves it as it was.
    a.locator("#composer-text").focus()
    a.keyboard.press("ArrowUp")
    box = a.get_by_role("textbox", name="Edit message")
    expect(box).to_be_focused()
    expect(box).to_have_value("Lunch at 12:30?")
    box.press("End")
    box.press_sequentially(" or 13:00")
    box.press("Escape")
    expect(a.get_by_role("textbox", name="Edit message")).to_have_count(0)
    expect(message(a, "Lunch at 12:30?")).to_have_count(1)
    expect(a.locator("#composer-text")).to_be_focused()

    # Keyboard only: Bob's "More actions" button, a menu with arrow keys, Reply.
    more = message(b, "Lunch at 12:30?").get_by_role("button", name=MORE)
    more.focus()
    b.keyboard.press("Enter")
    menu = b.get_by_role("menu")
    expect(menu.get_by_role("menuitem", name="Reply", exact=True)).to_be_focused()
    expect(menu.get_by_role("menuitem")).to_have_text(
        ["Reply", "Reply in thread", "Add a reaction…", "Mark unread", "Pin to this room",
         "Save for later", "Remind me about this…", "Forward…", "Read by…", "Copy link"])
    b.keyboard.press("Escape")
    expect(menu).to_have_count(0)
    expect(more).to_be_focused()
    b.keyboard.press("Enter")
    b.keyboard.press("Enter")  # Reply, the first item
    expect(b.locator("#reply-bar")).to_be_visible()
    expect(b.locator("#reply-text")).to_have_text("Replying to ann: Lunch at 12:30?")
    expect(b.locator("#composer-text")).to_be_focused()
    b.keyboard.type("Yes, see you there")
    b.keyboard.press("Enter")
    expect(b.locator("#reply-bar")).to_be_hidden()
    for page in (a, b):
        reply = message(page, "Yes, see you there")
        expect(reply.locator(".msg-quote")).to_contain_text("ann")
        expect(reply.locator(".msg-quote")).to_contain_text("Lunch at 12:30?")
    # A reply's quote shows the original: scrolled to and highlighted.
    for n in range(12):
        send(a, f"filler {n}")
    message(a, "Yes, see you there").locator(".msg-quote").click()
    original = message(a, "Lunch at 12:30?")
    expect(original).to_have_class(re.compile(r"\bflash\b"))
    expect(original).to_be_in_viewport()

    # Delete: a real dialog asks first; Cancel keeps the message, Delete removes its words.
    menu_action(b, message(b, "I am in"), "Delete…")
    dialog = b.get_by_role("dialog", name="Delete this message?")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    dialog.get_by_role("button", name="Cancel").click()
    expect(message(b, "I am in")).to_have_count(1)
    menu_action(b, message(b, "I am in"), "Delete…")
    b.get_by_role("dialog", name="Delete this message?").get_by_role(
        "button", name="Delete").click()
    for page in (a, b):
        gone = message(page, "This message was deleted")
        expect(gone).to_have_count(1)
        expect(gone.locator(".msg-actions")).to_have_count(0)
    # Ann owns the room: she may delete Bob's message too, not edit it.
    menu_action(a, message(a, "Yes, see you there"), "Delete…")
    a.get_by_role("dialog", name="Delete this message?").get_by_role(
        "button", name="Delete").click()
    expect(message(b, "This message was deleted")).to_have_count(2)
    message(b, "Lunch at 12:30?").hover()
    message(b, "Lunch at 12:30?").get_by_role("button", name=MORE).click()
    expect(b.get_by_role("menu").get_by_role("menuitem")).to_have_text(
        ["Reply", "Reply in thread", "Add a reaction…", "Mark unread", "Pin to this room",
         "Save for later", "Remind me about this…", "Forward…", "Read by…", "Copy link"])
    b.keyboard.press("Escape")

    # Every message once, on both pages, the same.
    shown = []
    for page in (a, b):
        expect(page.locator("#message-list li.msg[data-seq]")).to_have_count(5 + 12)
        shown.append(page.locator("#message-list li.msg[data-seq] .msg-text").all_inner_texts())
        assert_each_once(page, shown[-1])
    assert shown[0] == shown[1]
    assert shown[0][2:5] == ["Lunch at 12:30?", "This message was deleted",
                             "This message was deleted"]
    assert ann.errors == [] and bob.errors == []
    assert ann.dialogs == [] and bob.dialogs == [], "a dialog opened: a script ran"


def test_mentions_complete_highlight_and_count(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """@ in the message box offers the room's members (arrows, Enter, Escape); a mention is
    highlighted for the one mentioned, and counted on the room until read."""
    ann, bob = ann_and_bob(daemon, browser, sessions)
    a, b = ann.page, bob.page
    create_room(a, "random")
    create_room(a, "general")
    join_room(b, "general")
    expect(b.locator('#member-list li[data-user="ann"]')).to_have_count(1)
    a.locator('#room-list li[data-room="random"] button').click()
    expect(a.locator("#conv-title")).to_have_text("# random")

    box = b.locator("#composer-text")
    box.press_sequentially("hey @A")
    options = b.get_by_role("listbox", name="People to mention").get_by_role("option")
    expect(options).to_have_count(1)
    expect(b.get_by_role("option", name="ann", exact=True)).to_have_count(1)
    expect(box).to_have_attribute("aria-activedescendant", "mention-option-0")
    box.press("Escape")
    expect(options).to_have_count(0)
    box.press("Backspace")
    box.press_sequentially("a")
    expect(b.get_by_role("option", name="ann", exact=True)).to_have_count(1)
    box.press("Enter")  # takes the suggestion, does not send
    expect(box).to_have_value("hey @ann ")
    box.press_sequentially("lunch? and `@ann` in code")
    box.press("Enter")
    expect(box).to_have_value("")

    # Ann is elsewhere: the room shows a mention badge besides the unread count.
    general = a.locator('#room-list li[data-room="general"] button')
    expect(general.locator(".badge.mention")).to_have_text("@")
    expect(general).to_have_attribute("aria-label", re.compile("1 mentioning you"))
    shot(a, artifacts, "desktop-mention-badge")
    general.click()
    said = message(a, "hey @ann lunch? and @ann in code")
    expect(said).to_have_class(re.compile(r"\bmentions-me\b"))
    expect(said.locator(".mention.me")).to_have_text(["@ann"])  # not the one in code
    expect(said.locator("code")).to_have_text("@ann")
    ann.wait_for_read("general", int(said.get_attribute("data-seq") or 0))
    # Read: the count is gone, there and after a reload.
    a.locator('#room-list li[data-room="random"] button').click()
    expect(general.locator(".badge")).to_have_count(0)
    a.reload()
    expect(a.locator("#me-status")).to_have_attribute("data-phase", "online")
    expect(a.locator('#room-list li[data-room="general"] .badge')).to_have_count(0)
    # Bob does not see his own message as a mention of him.
    expect(message(b, "hey @ann lunch? and @ann in code")).not_to_have_class(
        re.compile(r"\bmentions-me\b"))
    expect(message(b, "hey @ann lunch? and @ann in code").locator(".mention")).to_have_count(1)
    assert ann.errors == [] and bob.errors == []


def test_a_reply_jumps_to_an_original_not_loaded(
    daemon: Daemon, browser: Browser, sessions: list[Session]
) -> None:
    """A reply to a message older than what the page loaded pages back until it finds it."""
    token = register_and_login(daemon.url, "dana")
    seeder = LineClient(daemon.tcp_port, token)
    seeder.request("join", room="lobby")
    first = seeder.request("send", room="lobby", text="the very first word", nonce="first")
    seeder.send_many("lobby", [f"filler {n}" for n in range(60)], "fa")
    seeder.close()
    seeder = LineClient(daemon.tcp_port, token)
    seeder.send_many("lobby", [f"filler {n}" for n in range(60, 120)], "fb")
    seeder.request("send", room="lobby", text="answering the first", nonce="reply",
                   reply_to=first["msg_id"])
    seeder.close()

    eve = open_session(sessions, browser, DESKTOP)
    page = eve.page
    register(page, daemon.url, "eve")
    join_room(page, "lobby")
    reply = message(page, "answering the first")
    expect(reply.locator(".msg-quote")).to_contain_text("dana")
    expect(reply.locator(".msg-quote")).to_contain_text("the very first word")
    expect(message(page, "the very first word")).to_have_count(0)  # not loaded
    reply.locator(".msg-quote").click()
    original = message(page, "the very first word")
    expect(original).to_have_class(re.compile(r"\bflash\b"))
    expect(original).to_be_in_viewport()
    assert eve.errors == []


def test_changes_are_exact_across_a_reconnect(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """While Bob is offline, Ann edits, deletes and reacts (more entries than a resume
    replays) and Bob edits and reacts (his changes wait in the outbox). Back online, both
    pages show every message once, as it is now, and no message ever went back to an older
    text on Bob's page."""
    ann, bob = ann_and_bob(daemon, browser, sessions)
    a, b = ann.page, bob.page
    create_room(a, "general")
    join_room(b, "general")
    for text in ("one", "two", "three"):
        send(a, text)
    send(b, "bob's")
    react(b, message(b, "one"), "👍")
    expect(chip(message(a, "one"), "👍")).to_have_text("👍1")

    # Every text each message shows on Bob's page, in order, from now on.
    b.evaluate("""() => {
      window.shownTexts = {};
      const record = () => {
        for (const li of document.querySelectorAll('#message-list li.msg[data-msg-id]')) {
          const text = li.querySelector('.msg-text');
          if (!text) continue;
          const seen = (window.shownTexts[li.dataset.msgId] ||= []);
          if (seen[seen.length - 1] !== text.textContent) seen.push(text.textContent);
        }
      };
      record();
      new MutationObserver(record).observe(document.getElementById('message-list'),
        {subtree: true, childList: true, characterData: true});
    }""")

    # The daemon restarts; Bob's network is gone meanwhile, so he stays away.
    daemon.stop()
    bob.context.set_offline(True)
    expect(b.locator("#banner")).to_be_visible()
    daemon.start()
    expect(a.locator("#me-status")).to_have_attribute("data-phase", "online")
    menu_action(a, message(a, "one"), "Edit")
    box = a.get_by_role("textbox", name="Edit message")
    box.fill("one, edited")
    box.press("Enter")
    menu_action(a, message(a, "two"), "Delete…")
    a.get_by_role("dialog", name="Delete this message?").get_by_role(
        "button", name="Delete").click()
    react(a, message(a, "three"), "🎉")
    chip(message(a, "one, edited"), "👍").click()
    send(a, "four")
    expect(chip(message(a, "one, edited"), "👍")).to_have_text("👍2")
    assert RESUME_MAX < 5  # Bob's resume gets a gap and pages the changes in

    # Bob, offline, edits his message and reacts: shown at once, sent once he is back.
    menu_action(b, message(b, "bob's"), "Edit")
    box = b.get_by_role("textbox", name="Edit message")
    box.fill("bob's, edited offline")
    box.press("Enter")
    expect(message(b, "bob's, edited offline").locator(".msg-edited")).to_have_text(
        "(saving…)")
    react(b, message(b, "three"), "✅")
    expect(chip(message(b, "three"), "✅")).to_have_attribute("aria-pressed", "true")

    bob.context.set_offline(False)
    expect(b.locator("#banner")).to_be_hidden()
    expect(b.locator("#me-status")).to_have_attribute("data-phase", "online")
    expected = ["one, edited", "This message was deleted", "three", "bob's, edited offline",
                "four"]
    for page in (a, b):
        expect(page.locator("#message-list li.msg[data-seq] .msg-text")).to_have_text(expected)
        expect(message(page, "bob's, edited offline").locator(".msg-edited")).to_have_text(
            "(edited)")
        expect(chip(message(page, "one, edited"), "👍")).to_have_text("👍2")
        expect(chip(message(page, "three"), "🎉")).to_have_text("🎉1")
        expect(chip(message(page, "three"), "✅")).to_have_text("✅1")
        assert_each_once(page, expected)
    assert any('"op":"gap"' in frame for frame in bob.received), "no gap: RESUME_MAX too big?"

    shown = b.evaluate("() => window.shownTexts")
    for texts in shown.values():
        for n, text in enumerate(texts):
            assert text not in texts[n + 1:], f"went back to an older text: {texts}"
    assert ["one", "one, edited"] in shown.values()
    assert ["two", "This message was deleted"] in shown.values()
    assert ["bob's", "bob's, edited offline"] in shown.values()
    assert ann.errors == [] and bob.errors == []


def test_screenshots_of_changes(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """A conversation with every kind of change, at desktop and phone sizes (on a touch
    screen each message has its actions button). docs/screenshots/*-changes.png are these."""
    token = register_and_login(daemon.url, "Bob")
    ann = open_session(sessions, browser, DESKTOP)
    a = ann.page
    register(a, daemon.url, "ann")
    create_room(a, "design")
    bob = LineClient(daemon.tcp_port, token)
    bob.request("join", room="design")
    send(a, "Draft of the **release notes** is up: https://example.com/notes")
    notes = message(a, "Draft of the release notes is up: https://example.com/notes")
    msg_id = int(notes.get_attribute("data-msg-id") or 0)
    bob.request("react", room="design", msg_id=msg_id, emoji="🎉")
    bob.request("react", room="design", msg_id=msg_id, emoji="👀")
    bob.request("send", room="design", text="Looks good @ann, two things:\n- the `--workers` "
                "flag\n- *typo* in the intro", nonce="b1", reply_to=msg_id)
    gone = bob.request("send", room="design", text="oops, wrong room", nonce="b2")
    bob.request("delete", room="design", msg_id=gone["msg_id"])
    expect(message(a, "This message was deleted")).to_have_count(1)
    react(a, notes, "🎉")
    send(a, "> the --workers flag\nFixed, thanks!")
    last = a.locator("#message-list li.msg[data-seq]").last
    expect(last.locator("blockquote")).to_have_text("the --workers flag")
    menu_action(a, last, "Edit")
    box = a.get_by_role("textbox", name="Edit message")
    box.fill("> the `--workers` flag\nFixed, thanks! 🙏")
    box.press("Enter")
    expect(a.locator(".msg-edited")).to_have_count(1)
    a.locator("#composer-text").press_sequentially("ping @B")
    expect(a.get_by_role("option", name="Bob", exact=True)).to_have_count(1)
    notes.hover()
    shot(a, artifacts, "desktop-changes")
    a.locator("#composer-text").fill("")
    bob.close()

    phone = browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True)
    try:
        p = phone.new_page()
        log_in(p, daemon.url, "ann")
        expect(p.locator("#me-status")).to_have_attribute("data-phase", "online")
        expect(p.locator("#conv-title")).to_have_text("# design")
        more = p.locator("#message-list li.msg[data-seq]").last.get_by_role("button", name=MORE)
        expect(more).to_be_visible()  # no hover on a touch screen: always shown
        more.tap()
        expect(p.get_by_role("menu")).to_be_visible()
        shot(p, artifacts, "phone-changes")
        width = p.evaluate("() => document.documentElement.scrollWidth")
        assert width <= PHONE["width"], width
    finally:
        phone.close()
    assert ann.errors == []


def test_a_message_menu_drawn_again_or_deleted_while_open(
    daemon: Daemon, browser: Browser, sessions: list[Session]
) -> None:
    """Bob has the actions menu of ann's message open when ann makes him a moderator: the
    message's buttons are drawn again (he may delete it now), and the new "More actions"
    button says the menu is open and closes it, as the old one would have. Then, with the
    menu open again, ann deletes the message: the menu goes with it."""
    ann_line = LineClient(daemon.tcp_port, register_and_login(daemon.url, "ann"))
    ann_line.request("create_room", room="team")
    bob = open_session(sessions, browser, DESKTOP)
    register(bob.page, daemon.url, "Bob")
    page = bob.page
    join_room(page, "team")
    sent = ann_line.request("send", room="team", text="the plan", nonce="p1")
    item = message(page, "the plan")
    expect(item).to_be_visible()

    item.hover()
    item.get_by_role("button", name=MORE).click()
    menu = page.get_by_role("menu")
    expect(menu.get_by_role("menuitem")).to_have_text(
        ["Reply", "Reply in thread", "Add a reaction…", "Mark unread", "Pin to this room",
         "Save for later", "Remind me about this…", "Forward…", "Read by…", "Copy link"])
    more = item.get_by_role("button", name=MORE)
    expect(more).to_have_attribute("aria-expanded", "true")
    more.evaluate("button => { button.dataset.old = 'yes'; }")
    ann_line.request("set_role", room="team", user="Bob", role="moderator")
    expect(page.locator("#message-list")).to_contain_text("ann made Bob a moderator")
    expect(more).not_to_have_attribute("data-old", "yes")  # drawn again: a new button
    expect(menu).to_be_visible()
    expect(more).to_have_attribute("aria-expanded", "true")
    more.click()
    expect(menu).to_have_count(0)
    expect(more).to_have_attribute("aria-expanded", "false")

    item.hover()
    more.click()
    expect(page.get_by_role("menu").get_by_role("menuitem")).to_have_text(
        ["Reply", "Reply in thread", "Add a reaction…", "Mark unread", "Pin to this room",
         "Save for later", "Remind me about this…", "Forward…", "Read by…", "Copy link",
         "Delete…"])
    ann_line.request("delete", room="team", msg_id=sent["msg_id"])
    expect(page.locator("#message-list li.msg .msg-text").filter(
        has_text="This message was deleted")).to_have_count(1)
    expect(page.get_by_role("menu")).to_have_count(0)
    ann_line.close()
    assert bob.errors == []


def test_an_edit_counts_as_the_server_does_and_keeps_what_is_too_long(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """The edit box takes what the server takes (code points, up to its limit: 4,000 by
    default), not the 4,000 UTF-16 units a `maxlength` counted, which cut a pasted text of
    emoji in half; over the limit it counts what is too much, and saving keeps the box open
    with the text rather than losing it to a refusal."""
    ann, bob = ann_and_bob(daemon, browser, sessions)
    a, b = ann.page, bob.page
    # A new room's topic likewise: 256 emoji are 256 characters to the server.
    topic = "🌱" * 256
    a.get_by_role("button", name="Create a room").click()
    a.locator("#new-room-name").fill("general")
    a.locator("#new-room-topic").focus()
    a.keyboard.insert_text(topic)
    expect(a.locator("#new-room-topic")).to_have_value(topic)
    a.get_by_role("button", name="Create", exact=True).click()
    expect(a.locator("#conv-title")).to_have_text("# general")
    expect(a.locator("#conv-topic")).to_have_text(topic)
    join_room(b, "general")
    send(a, "short")
    send(a, "second")
    menu_action(a, message(a, "short"), "Edit")
    box = a.locator(".edit-box")
    expect(box).to_be_focused()
    box.press("Control+a")
    emoji = "😀" * 2500  # 2,500 characters as the server counts them, 5,000 UTF-16 units
    a.keyboard.insert_text(emoji)  # as a paste: a maxlength would cut it
    expect(box).to_have_value(emoji)
    box.press("Enter")
    for page in (a, b):
        expect(message(page, emoji)).to_have_count(1)

    menu_action(a, message(a, "second"), "Edit")
    box = a.locator(".edit-box")
    box.press("Control+a")
    a.keyboard.insert_text("x" * 4001)
    expect(a.locator(".edit-limit")).to_have_text("1 character too long (4001 of 4000)")
    expect(box).to_have_attribute("aria-invalid", "true")
    box.press("Enter")
    expect(a.locator("#toasts")).to_contain_text(
        "Not saved: a message holds at most 4000 characters, this one has 1 too many.")
    expect(box).to_have_value("x" * 4001)  # still open, nothing lost
    shot(a, artifacts, "edit-too-long")
    box.press("Backspace")
    expect(a.locator(".edit-limit")).to_have_text("4000 of 4000")
    box.press("Enter")
    for page in (a, b):
        expect(message(page, "x" * 4000)).to_have_count(1)

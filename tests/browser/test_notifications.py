"""Notifications in the page, in a real Chromium against the real daemon: the permission asked
only from a click, a desktop notification and a sound for a direct message in a hidden tab (and
a click on it opening the conversation at the message), the unread count in the title, and a
room's notification level (all, mentions, muted) set from its header or the sidebar, followed
live by another page of the same person.

How notifications are observed: headless Chromium shows none, and a permission prompt would
wait for a person. So an init script (run before the page's own scripts in every document of
the context) stands in for the browser's part:

- ``FAKE_NOTIFICATIONS`` replaces ``window.Notification`` with a recorder: its permission starts
  as the test says, ``requestPermission`` counts its calls (a prompt) and answers "granted" as a
  person clicking Allow would, and every ``new Notification(title, options)`` is kept with its
  options. The count of notifications made and of permission requests is mirrored on
  ``<html data-notified data-asked>``, so that the test waits for them with ``expect`` (the
  page's CSP forbids the string form of ``wait_for_function``). A click is a ``click`` event
  dispatched on the recorded notification, as the browser does when the person clicks it.
- ``RECORD_NOTIFICATIONS`` keeps the real ``Notification`` (the context is granted the
  permission, as Playwright can) and only records what is made, to check the page's options
  are ones the real constructor takes.
- ``HIDDEN_TAB`` makes ``document.visibilityState``/``hidden`` say what the test sets
  (``window.chatdTestHide(true)``) and fires ``visibilitychange``, as switching tabs does.
- The chime is counted by wrapping ``OscillatorNode.prototype.start`` (``data-tones``).
- ``TAB_TOTALS`` adds up those counts over every page of the context (the tabs of one person
  in one browser), through a BroadcastChannel, on ``<html data-all-notified data-all-tones>``
  of each page: an alert told by whichever tab claims it is waited for on any of them.

The rules of test_web.py hold: every wait is for a state, never for time. Screenshots land in
tests/artifacts/ (docs/screenshots/desktop-notification-settings.png,
desktop-room-notify-menu.png and desktop-room-muted.png are copies of them).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Locator, Page, ViewportSize, expect

from tests.browser.conftest import (
    DESKTOP,
    PASSWORD,
    PHONE,
    RESUME_MAX,
    Daemon,
    LineClient,
    _in_thread,
    holding_answers,
    http_json,
    needs_chromium,
    register_and_login,
)
from tests.browser.test_page_defects import axe_serious
from tests.browser.test_web import Session, log_in, register, shot

pytestmark = [pytest.mark.slow, needs_chromium]

# Counters mirrored on <html>, for expect() to wait on.
COUNTERS = """
  const chatdTest = window.chatdTest = { made: [], asked: 0, tones: 0 };
  const mirror = () => {
    const root = document.documentElement;
    if (!root) return;
    root.dataset.notified = String(chatdTest.made.length);
    root.dataset.asked = String(chatdTest.asked);
    root.dataset.tones = String(chatdTest.tones);
  };
  chatdTest.mirror = mirror;
  document.addEventListener("DOMContentLoaded", mirror);
  const start = OscillatorNode.prototype.start;
  OscillatorNode.prototype.start = function (...args) {
    chatdTest.tones += 1;
    mirror();
    return start.apply(this, args);
  };
"""

FAKE_NOTIFICATIONS = """(() => {
/*COUNTERS*/
  let permission = "/*PERMISSION*/";
  class RecordedNotification extends EventTarget {
    static get permission() { return permission; }
    static requestPermission(callback) {
      chatdTest.asked += 1;
      permission = "granted";
      mirror();
      if (callback) callback(permission);
      return Promise.resolve(permission);
    }
    constructor(title, options = {}) {
      super();
      this.title = title;
      this.body = options.body;
      this.tag = options.tag;
      this.data = options.data;
      this.closed = false;
      chatdTest.made.push(this);
      mirror();
    }
    close() { this.closed = true; }
  }
  window.Notification = RecordedNotification;
})();"""

RECORD_NOTIFICATIONS = """(() => {
/*COUNTERS*/
  const Real = window.Notification;
  class RecordedNotification extends Real {
    constructor(title, options = {}) {
      super(title, options);
      this.chatdError = false;
      this.addEventListener("error", () => { this.chatdError = true; });
      chatdTest.made.push(this);
      mirror();
    }
  }
  RecordedNotification.requestPermission = (...args) => {
    chatdTest.asked += 1;
    mirror();
    return Real.requestPermission(...args);
  };
  window.Notification = RecordedNotification;
})();""".replace("/*COUNTERS*/", COUNTERS)

HIDDEN_TAB = """(() => {
  let hidden = false;
  Object.defineProperty(Document.prototype, "visibilityState",
    { configurable: true, get() { return hidden ? "hidden" : "visible"; } });
  Object.defineProperty(Document.prototype, "hidden",
    { configurable: true, get() { return hidden; } });
  window.chatdTestHide = (value) => {
    hidden = value;
    document.dispatchEvent(new Event("visibilitychange"));
  };
})();"""


TAB_TOTALS = """(() => {
  const me = String(Math.random());
  const counts = new Map(); // page -> [notified, tones]
  const channel = new BroadcastChannel("chatd-test-totals");
  const show = () => {
    const all = [...counts.values()];
    document.documentElement.dataset.allNotified = String(all.reduce((n, c) => n + c[0], 0));
    document.documentElement.dataset.allTones = String(all.reduce((n, c) => n + c[1], 0));
  };
  const mine = () => {
    const count = [window.chatdTest.made.length, window.chatdTest.tones];
    counts.set(me, count);
    channel.postMessage([me, count]);
    show();
  };
  channel.onmessage = ({ data: [page, count] }) => {
    counts.set(page, count);
    if (document.documentElement) show();
  };
  document.addEventListener("DOMContentLoaded", () => {
    new MutationObserver(mine).observe(document.documentElement,
      { attributes: true, attributeFilter: ["data-notified", "data-tones"] });
    mine();
  });
})();"""


def fake(permission: str) -> str:
    return FAKE_NOTIFICATIONS.replace("/*COUNTERS*/", COUNTERS).replace(
        "/*PERMISSION*/", permission)


def person(sessions: list[Session], browser: Browser, script: str,
           viewport: ViewportSize = DESKTOP, **options: Any) -> Session:
    """A browser context whose documents run `script` (and the hidden-tab switch) first."""
    session = Session(browser, viewport, **options)
    session.context.add_init_script(script)
    session.context.add_init_script(HIDDEN_TAB)
    sessions.append(session)
    return session


def hide(page: Page, hidden: bool = True) -> None:
    page.evaluate("(hidden) => window.chatdTestHide(hidden)", hidden)


def made(page: Page) -> list[dict[str, Any]]:
    """The notifications the page made: title, body, tag, data."""
    result: list[dict[str, Any]] = page.evaluate("""() => window.chatdTest.made.map(n => ({
      title: n.title, body: n.body, tag: n.tag, data: n.data,
      error: Boolean(n.chatdError) }))""")
    return result


def expect_count(page: Page, name: str, value: int) -> None:
    expect(page.locator("html")).to_have_attribute(f"data-{name}", str(value))


def second_tab(session: Session, url: str) -> Page:
    """Another page of the person's in the same context (a second tab), online."""
    page = session.context.new_page()
    page.on("pageerror", lambda error: session.errors.append(str(error)))
    page.goto(url)
    expect(page.locator("#me-status")).to_have_attribute("data-phase", "online")
    return page


def create_room(page: Page, name: str) -> None:
    page.get_by_role("button", name="Create a room").click()
    page.locator("#new-room-name").fill(name)
    page.get_by_role("button", name="Create", exact=True).click()
    expect(page.locator("#conv-title")).to_have_text(f"# {name}")


def room_button(page: Page, room: str) -> Locator:
    return page.locator(f'#sidebar li[data-room="{room}"] button.side-item')


def settings(page: Page) -> Locator:
    """Open the notification settings (the bell of the sidebar): the panel."""
    page.get_by_role("button", name="Notification settings").click()
    panel = page.get_by_role("dialog", name="Notifications")
    expect(panel).to_be_visible()
    return panel


# -- the permission -----------------------------------------------------------------------------


def test_permission_is_asked_only_from_a_click(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """Loading the page, logging in and reloading ask nothing; "Enable desktop notifications"
    asks once, and turns them on; they can be turned off and the sound too, kept across a
    reload."""
    ann = person(sessions, browser, fake("default"))
    page = ann.page
    register(page, daemon.url, "ann")
    create_room(page, "general")
    page.reload()
    expect(page.locator("#me-status")).to_have_attribute("data-phase", "online")
    expect_count(page, "asked", 0)

    panel = settings(page)
    expect_count(page, "asked", 0)  # opening the settings is no reason to ask
    enable = panel.get_by_role("button", name="Enable desktop notifications")
    expect(enable).to_be_focused()
    assert axe_serious(page) == []
    shot(page, artifacts, "desktop-notification-settings")
    enable.click()
    expect_count(page, "asked", 1)
    desktop = panel.get_by_role("checkbox", name="Desktop notifications")
    expect(desktop).to_be_checked()
    expect(desktop).to_be_focused()
    sound = panel.get_by_role("checkbox", name="Play a sound")
    expect(sound).to_be_checked()
    sound.uncheck()
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(page.get_by_role("button", name="Notification settings")).to_be_focused()

    page.reload()
    expect(page.locator("#me-status")).to_have_attribute("data-phase", "online")
    panel = settings(page)
    # The stand-in's permission starts as "default" again on a reload: the button is back,
    # nothing was asked, and the sound stayed off (localStorage).
    expect(panel.get_by_role("button", name="Enable desktop notifications")).to_be_visible()
    expect(panel.get_by_role("checkbox", name="Play a sound")).not_to_be_checked()
    expect_count(page, "asked", 0)
    assert ann.errors == []


def test_a_blocked_permission_says_where_to_allow_it(
    daemon: Daemon, browser: Browser, sessions: list[Session]
) -> None:
    ann = person(sessions, browser, fake("denied"))
    page = ann.page
    register(page, daemon.url, "ann")
    panel = settings(page)
    expect(panel).to_contain_text("blocked for this site")
    expect(panel.get_by_role("button", name="Enable desktop notifications")).to_have_count(0)
    expect_count(page, "asked", 0)


# -- a direct message in a hidden tab ----------------------------------------------------------


def test_a_dm_in_a_hidden_tab_notifies_sounds_and_counts_in_the_title(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """Ann's tab is hidden: Bob's DM makes a notification (sender and text) and a sound, and
    the title counts it (and the open room's new messages); a plain room message does not
    notify, a mention does; her own messages never do. A click on the notification brings up
    the conversation at the message."""
    ann = person(sessions, browser, RECORD_NOTIFICATIONS, permissions=["notifications"])
    page = ann.page
    register(page, daemon.url, "ann")
    expect(page).to_have_title("chatd")
    create_room(page, "general")
    expect(page).to_have_title("#general · chatd")
    bob = LineClient(daemon.tcp_port, register_and_login(daemon.url, "Bob"))
    bob.request("join", room="general")
    expect(page.locator("#message-list li.notice")).to_have_text(["Bob joined"])
    page.locator("#composer-text").click()  # a first press: the page may play sounds now

    # Looking at the room: nothing for a message there, even a mention.
    bob.request("send", room="general", text="@ann are you there?", nonce="b0")
    expect(page.locator("#message-list li.msg[data-seq]")).to_have_count(1)
    expect(page).to_have_title("#general · chatd")

    hide(page)
    long = "Lunch at noon? " + "We could try the new place on the corner. " * 5
    dm = bob.request("dm", to="ann", text=long, nonce="b1")
    expect_count(page, "notified", 1)
    [note] = made(page)
    assert note["title"] == "Bob"
    assert note["body"].startswith("Lunch at noon? We could") and note["body"].endswith("…")
    assert len(note["body"]) == 100
    assert note["tag"] == "chatd:@ann:bob" and not note["error"]
    assert note["data"] == {"room": "@ann:bob", "msg_id": dm["msg_id"], "seq": dm["seq"]}
    expect_count(page, "tones", 2)  # the chime: two notes
    expect(page).to_have_title("(1*) #general · chatd")

    # The open room counts while hidden; a plain message there does not notify (its level is
    # "mentions only"), a mention does.
    bob.request("send", room="general", text="anyone?", nonce="b2")
    expect(page).to_have_title("(2*) #general · chatd")
    bob.request("send", room="general", text="@ann the deploy is done", nonce="b3")
    expect_count(page, "notified", 2)
    assert made(page)[1]["title"] == "Bob in #general"
    assert made(page)[1]["body"] == "@ann the deploy is done"
    expect(page).to_have_title("(3*) #general · chatd")

    # Ann's own message from elsewhere: nothing.
    me = LineClient(daemon.tcp_port, register_and_login_again(daemon, "ann"))
    me.request("send", room="general", text="from my phone", nonce="a1")
    expect(page.locator("#message-list li.msg[data-seq]")).to_have_count(4)
    expect_count(page, "notified", 2)
    me.close()

    # A click on the DM's notification: the tab is shown and the conversation opens at it.
    page.evaluate("() => window.chatdTest.made[0].dispatchEvent(new Event('click'))")
    hide(page, False)
    expect(page.locator("#conv-title")).to_have_text("Bob")
    landed = page.locator(f'#message-list li.msg[data-msg-id="{dm["msg_id"]}"]')
    expect(landed).to_be_focused()
    expect(landed).to_have_class(re.compile(r"\bflash\b"))
    # What is on screen is read once the tab is visible: the DM; #general's two unread stay.
    expect(page).to_have_title("(2*) Bob · chatd")
    shot(page, artifacts, "desktop-notification-opened")
    bob.close()
    assert ann.errors == []


def register_and_login_again(daemon: Daemon, name: str) -> str:
    """A new token for an account that exists."""
    status, body = http_json(daemon.url, "POST", "/api/login",
                             {"username": name, "password": PASSWORD})
    assert status == 200, body
    token = body["token"]
    assert isinstance(token, str)
    return token


def test_the_sound_can_be_turned_off_and_a_visible_other_room_still_alerts(
    daemon: Daemon, browser: Browser, sessions: list[Session]
) -> None:
    """The tab visible, another room open: a DM alerts (notification and chime); with the
    sound off, only the notification."""
    ann = person(sessions, browser, fake("granted"))
    page = ann.page
    register(page, daemon.url, "ann")
    create_room(page, "general")
    page.locator("#composer-text").click()
    bob = LineClient(daemon.tcp_port, register_and_login(daemon.url, "Bob"))
    bob.request("dm", to="ann", text="one", nonce="b1")
    expect_count(page, "notified", 1)
    expect_count(page, "tones", 2)
    panel = settings(page)
    panel.get_by_role("checkbox", name="Play a sound").uncheck()
    page.keyboard.press("Escape")
    bob.request("dm", to="ann", text="two", nonce="b2")
    expect_count(page, "notified", 2)
    expect(room_button(page, "@ann:bob").locator(".badge")).to_have_text("2")
    expect_count(page, "tones", 2)
    # Desktop notifications off: nothing at all (the sound is off too).
    panel = settings(page)
    panel.get_by_role("checkbox", name="Desktop notifications").uncheck()
    page.keyboard.press("Escape")
    bob.request("dm", to="ann", text="three", nonce="b3")
    expect(room_button(page, "@ann:bob").locator(".badge")).to_have_text("3")
    expect_count(page, "notified", 2)
    bob.close()
    assert ann.errors == []


# -- what came while away -----------------------------------------------------------------------


def ann_online_with_bob(daemon: Daemon, browser: Browser, sessions: list[Session],
                        rooms: list[str]) -> tuple[LineClient, Session]:
    """Ann's rooms (Bob, on a line client, in each too), and her page (notifications granted)
    online, showing the first of them."""
    bob = LineClient(daemon.tcp_port, register_and_login(daemon.url, "Bob"))
    setup = LineClient(daemon.tcp_port, register_and_login(daemon.url, "ann"))
    for room in rooms:
        setup.request("create_room", room=room)
        bob.request("join", room=room)
    setup.close()
    ann = person(sessions, browser, fake("granted"))
    log_in(ann.page, daemon.url, "ann")
    expect(ann.page.locator("#me-status")).to_have_attribute("data-phase", "online")
    expect(ann.page.locator("#conv-title")).to_have_text(f"# {rooms[0]}")
    return bob, ann


def ann_away_from_lobby(daemon: Daemon, browser: Browser, sessions: list[Session]
                        ) -> tuple[LineClient, Session]:
    """Ann's page showing #lobby (Bob in it too) in a hidden tab, then offline."""
    bob, ann = ann_online_with_bob(daemon, browser, sessions, ["lobby"])
    hide(ann.page)
    ann.context.set_offline(True)
    expect(ann.page.locator("#me-status")).not_to_have_attribute("data-phase", "online")
    return bob, ann


def test_what_came_while_away_in_rooms_never_opened_is_told_on_coming_back(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """Ann's page never opened #random, nor a conversation with Bob. While it is closed, Bob
    mentions her there and writes to her: the page opened again notifies each room once (from
    the room objects' counts against what the last visit saw) and says it in a line; the same
    while the page stays open but offline. The notification opens the room."""
    bob, ann = ann_online_with_bob(daemon, browser, sessions, ["lobby", "random"])
    page = ann.page
    # What this visit saw of its rooms was saved as the welcome was applied (the first save
    # of a visit is at once), before anything was drawn.
    page.close()

    bob.request("send", room="random", text="@ann the numbers are in", nonce="r1")
    bob.request("dm", to="ann", text="call me when you can", nonce="d1")
    page = ann.context.new_page()
    page.goto(daemon.url)
    expect(page.locator("#me-status")).to_have_attribute("data-phase", "online")
    expect_count(page, "notified", 2)
    # No push service here (headless Chromium): no subscription, so no push told her of them,
    # and the page does (one that was subscribed leaves mentions and DMs to the pushes).
    assert page.evaluate("() => localStorage.getItem('chatd.push')") is None
    notes = sorted((note["title"], note["body"], note["tag"]) for note in made(page))
    assert notes == [("#random", "1 mention while you were away", "chatd:random"),
                     ("Bob", "1 new message while you were away", "chatd:@ann:bob")], notes
    expect(page.locator("#toasts")).to_contain_text(
        "While you were away: 1 message from Bob, 1 mention in #random.")
    expect(room_button(page, "random").locator(".badge.mention")).to_be_visible()
    expect(page.locator("#conv-title")).to_have_text("# lobby")  # nothing else opened
    shot(page, artifacts, "desktop-missed-while-away")

    # Offline, the page open: what came meanwhile in #random is told when it is back.
    phase = page.locator("#me-status")
    ann.context.set_offline(True)
    expect(phase).not_to_have_attribute("data-phase", "online")
    bob.request("send", room="random", text="@ann are you back?", nonce="r2")
    ann.context.set_offline(False)
    expect(phase).to_have_attribute("data-phase", "online")
    expect_count(page, "notified", 3)
    last = made(page)[2]
    assert (last["title"], last["body"]) == ("#random", "1 mention while you were away"), last
    page.evaluate("() => window.chatdTest.made[2].dispatchEvent(new Event('click'))")
    expect(page.locator("#conv-title")).to_have_text("# random")
    expect(page.locator("#message-list li.msg .msg-text")).to_have_text(
        ["@ann the numbers are in", "@ann are you back?"])
    bob.close()
    assert ann.errors == []


def test_a_mention_in_the_open_room_missed_for_long_is_told_once_on_coming_back(
    daemon: Daemon, browser: Browser, sessions: list[Session]
) -> None:
    """Ann's page shows #lobby in a hidden tab; her laptop sleeps (offline) while Bob mentions
    her there twice, and wakes an hour later (what the server stamped is then older than
    alerts.STALE_MS: the messages are made an hour old in the database, since the page goes by
    the server's clock, not its own). The room is resumed, so its missed messages come again
    as events: not one notification each for hours-old news, and not none either, but one for
    the room once it has caught up, as for the rooms not resumed."""
    bob, ann = ann_away_from_lobby(daemon, browser, sessions)
    page = ann.page
    phase = page.locator("#me-status")
    bob.request("send", room="lobby", text="@ann the numbers are in", nonce="l1")
    bob.request("send", room="lobby", text="@ann are you there?", nonce="l2")
    bob.request("send", room="lobby", text="never mind", nonce="l3")
    said_long_ago(daemon, ["l1", "l2", "l3"], "1 hour")
    ann.context.set_offline(False)
    expect(phase).to_have_attribute("data-phase", "online")
    expect(page.locator("#message-list li.msg .msg-text")).to_have_text(
        ["@ann the numbers are in", "@ann are you there?", "never mind"])
    expect_count(page, "notified", 1)
    note = made(page)[0]
    assert (note["title"], note["body"], note["tag"]) == (
        "#lobby", "2 mentions while you were away", "chatd:lobby"), note
    bob.close()
    assert ann.errors == []


def test_a_room_mention_alerts_and_is_highlighted(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """Bob's "@all" in #random (not looked at) notifies Ann as a mention and counts in the
    room's badge; opened, the message is marked as mentioning her and its "@all" is
    highlighted as a mention of her. Her composer offers @room with whom it notifies."""
    bob, ann = ann_online_with_bob(daemon, browser, sessions, ["general", "random"])
    page = ann.page
    sent = bob.request("send", room="random", text="@all standup in 5", nonce="r1")
    expect_count(page, "notified", 1)
    note = made(page)[0]
    assert (note["title"], note["body"]) == ("Bob in #random", "@all standup in 5"), note
    assert note["data"]["seq"] == sent["seq"]
    expect(room_button(page, "random").locator(".badge.mention")).to_be_visible()
    room_button(page, "random").click()
    message = page.locator(f'#message-list li.msg[data-seq="{sent["seq"]}"]')
    expect(message).to_have_class(re.compile(r"\bmentions-me\b"))
    expect(message.locator(".msg-text .mention.group.me")).to_have_text("@all")
    page.locator("#composer-text").fill("@r")
    expect(page.locator("#mention-list .mention-option")).to_have_text(
        ["@room notifies 1 member"])
    shot(page, artifacts, "desktop-group-mention")
    bob.close()
    assert ann.errors == []


def test_the_group_words_are_offered_once_the_members_are_known(
    daemon: Daemon, browser: Browser, sessions: list[Session]
) -> None:
    """Ann opens #random and types "@r" before her page knows its members (the answer to
    `who` held back here, as a busy server is slow to give it): no group word yet, since
    whom it notifies is not known; once the members come, "@room notifies 1 member" is
    offered as she left the box, without another key pressed."""
    bob = LineClient(daemon.tcp_port, register_and_login(daemon.url, "Bob"))
    setup = LineClient(daemon.tcp_port, register_and_login(daemon.url, "ann"))
    for room in ("general", "random"):
        setup.request("create_room", room=room)
        bob.request("join", room=room)
    setup.close()
    ann = person(sessions, browser, fake("granted"))
    page = ann.page
    release = holding_answers(
        page, lambda frame: frame.get("op") == "who" and frame.get("room") == "random",
        "who random")
    log_in(page, daemon.url, "ann")
    expect(page.locator("#me-status")).to_have_attribute("data-phase", "online")
    expect(page.locator("#conv-title")).to_have_text("# general")
    sent = bob.request("send", room="random", text="standup?", nonce="r1")
    room_button(page, "random").click()
    expect(page.locator(f'#message-list li.msg[data-seq="{sent["seq"]}"]')).to_be_visible()
    box = page.locator("#composer-text")
    box.fill("@r")
    expect(box).to_be_focused()
    expect(page.locator("#mention-list .mention-option")).to_have_count(0)
    release()
    expect(page.locator("#mention-list .mention-option")).to_have_text(
        ["@room notifies 1 member"])
    expect(box).to_have_attribute("aria-activedescendant", "mention-option-0")
    # Escape closes it for good: a later render does not open it again.
    box.press("Escape")
    expect(page.locator("#mention-list")).to_be_hidden()
    bob.request("send", room="general", text="elsewhere", nonce="g1")
    expect(room_button(page, "general").locator(".badge")).to_have_text("1")
    expect(page.locator("#mention-list")).to_be_hidden()
    bob.close()
    assert ann.errors == []


def said_long_ago(daemon: Daemon, nonces: list[str], age: str) -> None:
    """Make the messages of these nonces `age` (an SQL interval) older by the server's clock,
    as if the page had been away that long since they were said."""
    listed = ", ".join(f"'{nonce}'" for nonce in nonces)
    _in_thread(daemon.dsn, f"UPDATE messages SET created_at = created_at - interval '{age}' "
                           f"WHERE nonce IN ({listed})")


def test_a_page_whose_clock_is_an_hour_behind_does_not_ring_for_old_messages(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """Ann's computer's clock is an hour behind the server's (a laptop after a sleep, its clock
    not set right yet). Mentions said half an hour ago come again as the replay of her open
    room: by her own clock they are from the future, and used to ring one by one; by the
    server's clock, which the welcome tells, they are old news, told once for the room. A
    mention said now rings by itself."""
    bob = LineClient(daemon.tcp_port, register_and_login(daemon.url, "Bob"))
    setup = LineClient(daemon.tcp_port, register_and_login(daemon.url, "ann"))
    setup.request("create_room", room="lobby")
    bob.request("join", room="lobby")
    setup.close()
    ann = person(sessions, browser, fake("granted"))
    page = ann.page
    # Playwright's Python API takes seconds (a float), not the ms of Date.now().
    page.clock.set_fixed_time(page.evaluate("() => Date.now()") / 1000 - 60 * 60)
    log_in(page, daemon.url, "ann")
    phase = page.locator("#me-status")
    expect(phase).to_have_attribute("data-phase", "online")
    expect(page.locator("#conv-title")).to_have_text("# lobby")
    hide(page)

    ann.context.set_offline(True)
    expect(phase).not_to_have_attribute("data-phase", "online")
    for n in range(RESUME_MAX):  # replayed, not a gap
        bob.request("send", room="lobby", text=f"@ann old news {n}", nonce=f"o{n}")
    said_long_ago(daemon, [f"o{n}" for n in range(RESUME_MAX)], "30 minutes")
    ann.context.set_offline(False)
    expect(phase).to_have_attribute("data-phase", "online")
    expect(page.locator("#message-list li.msg .msg-text")).to_have_text(
        [f"@ann old news {n}" for n in range(RESUME_MAX)])
    expect_count(page, "notified", 1)
    note = made(page)[0]
    assert (note["title"], note["body"]) == (
        "#lobby", f"{RESUME_MAX} mentions while you were away"), note

    bob.request("send", room="lobby", text="@ann and now?", nonce="fresh")
    expect_count(page, "notified", 2)
    note = made(page)[1]
    assert (note["title"], note["body"]) == ("Bob in #lobby", "@ann and now?"), note
    expect(page).to_have_title(f"({RESUME_MAX + 1}*) #lobby · chatd")
    shot(page, artifacts, "desktop-clock-behind-alerts")
    assert len(made(page)) == 2
    bob.close()
    assert ann.errors == []


def test_a_room_that_missed_too_much_to_replay_tells_its_mentions_once(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """Ann's page shows #lobby in a hidden tab and goes offline while Bob says more there than
    the server replays (RESUME_MAX): the resume gets a `gap`, and the page pages the missed
    messages in with `history`, which alerts nothing. What the room's counts say it missed is
    told once, in the words of the other late alerts."""
    bob, ann = ann_away_from_lobby(daemon, browser, sessions)
    page = ann.page
    phase = page.locator("#me-status")
    said = [f"@ann look {n}" if n % 2 else f"chatter {n}" for n in range(RESUME_MAX + 2)]
    for n, text in enumerate(said):
        bob.request("send", room="lobby", text=text, nonce=f"g{n}")
    ann.context.set_offline(False)
    expect(phase).to_have_attribute("data-phase", "online")
    expect(page.locator("#message-list li.msg .msg-text")).to_have_text(said)
    mentions = sum(text.startswith("@ann") for text in said)
    expect_count(page, "notified", 1)
    note = made(page)[0]
    assert (note["title"], note["body"], note["tag"]) == (
        "#lobby", f"{mentions} mentions while you were away", "chatd:lobby"), note
    expect(page).to_have_title(f"({len(said)}*) #lobby · chatd")
    shot(page, artifacts, "desktop-gap-room-mentions")
    assert len(made(page)) == 1
    bob.close()
    assert ann.errors == []


# -- several tabs ---------------------------------------------------------------------------------


def shared_record(page: Page) -> dict[str, Any]:
    """The record ann's tabs share (tabs.js), read by `page` once every change it asked for
    before is done: the alerts it claimed, the room it said it shows."""
    record: dict[str, Any] = page.evaluate(
        "async () => (await import('/tabs-store.js')).read('ann')")
    return record


def told(pages: list[Page]) -> list[tuple[str, str]]:
    """The notifications made by all these pages: (title, body), sorted."""
    return sorted((note["title"], note["body"]) for page in pages for note in made(page))


def test_two_tabs_alert_once_and_not_for_a_room_shown_in_either(
    daemon: Daemon, browser: Browser, sessions: list[Session]
) -> None:
    """Ann has the page in two tabs of one browser. Both hidden: Bob's DM makes one
    notification and one chime in all, not one per tab, and so does his mention in #general.
    One tab shown (visible, focused) on #general, the other hidden: his mention there alerts
    in neither tab; his next DM, in a room nobody looks at, alerts once. The shown tab closed:
    the other alerts for #general again."""
    ann = person(sessions, browser, fake("granted"))
    ann.context.add_init_script(TAB_TOTALS)
    page = ann.page
    register(page, daemon.url, "ann")
    create_room(page, "general")
    other = second_tab(ann, daemon.url)
    tabs = [page, other]
    bob = LineClient(daemon.tcp_port, register_and_login(daemon.url, "Bob"))
    bob.request("join", room="general")
    for tab in tabs:
        expect(tab.locator("#message-list li.notice")).to_have_text(["Bob joined"])
        tab.locator("#composer-text").click()  # a first press: the page may play sounds now
        hide(tab)

    # Each tab gets the DM and claims its alert; the first claim tells it, the second finds it
    # told. Both claims are done once each tab has the DM (its badge) and has read the record.
    bob.request("dm", to="ann", text="one", nonce="b1")
    for tab in tabs:
        expect_count(tab, "all-notified", 1)
        expect(room_button(tab, "@ann:bob").locator(".badge")).to_have_text("1")
        shared_record(tab)
    assert told(tabs) == [("Bob", "one")]
    expect_count(page, "all-tones", 2)  # one chime: two notes

    # The next message, in another room: told once too, by whichever tab claims it first.
    bob.request("send", room="general", text="@ann two", nonce="b2")
    for tab in tabs:
        expect_count(tab, "all-notified", 2)
        expect(tab.locator("#message-list li.msg .msg-text").last).to_have_text("@ann two")
        shared_record(tab)
    assert told(tabs) == [("Bob", "one"), ("Bob in #general", "@ann two")]
    # A second chime unless it came within SOUND_GAP_MS of the first, in either tab.
    assert page.locator("html").get_attribute("data-all-tones") in ("2", "4")

    # The second tab shown on #general: it reads the mention there, and the hidden first tab,
    # which would have alerted, says nothing either.
    room_button(other, "general").click()
    other.bring_to_front()
    hide(other, False)
    looking = shared_record(other)["looking"]
    assert looking is not None and looking["room"] == "general", looking
    bob.request("send", room="general", text="@ann look here", nonce="b3")
    expect(other.locator("#message-list li.msg .msg-text").last).to_have_text("@ann look here")
    expect(page.locator("#message-list li.msg .msg-text").last).to_have_text("@ann look here")
    for tab in tabs:
        shared_record(tab)
    assert told(tabs) == [("Bob", "one"), ("Bob in #general", "@ann two")]

    # A DM meanwhile: nobody looks at that conversation, so it alerts, once.
    bob.request("dm", to="ann", text="three", nonce="b4")
    for tab in tabs:
        expect_count(tab, "all-notified", 3)
        expect(room_button(tab, "@ann:bob").locator(".badge")).to_have_text("2")
        shared_record(tab)
    assert told(tabs) == [("Bob", "one"), ("Bob", "three"), ("Bob in #general", "@ann two")]

    # The shown tab is closed (its last word may be lost with it; its lock is not): the tab
    # left alerts for #general again at once.
    before = len(made(page))
    other.close()
    # The browser lets go of a closed tab's lock a moment after close() returns: wait for it.
    page.wait_for_function("""async () => (await navigator.locks.query()).held
        .filter((lock) => (lock.name || "").startsWith("chatd.tab.")).length === 1""")
    bob.request("send", room="general", text="@ann gone?", nonce="b5")
    expect_count(page, "notified", before + 1)
    assert made(page)[-1]["body"] == "@ann gone?"
    bob.close()
    assert ann.errors == []


def without_read_events(page: Page, dropping: list[bool]) -> None:
    """Route `page`'s WebSocket through the test, leaving out the `read` events the server
    sends it while ``dropping[0]`` is true (so that only the tabs' shared record can close its
    notifications)."""

    def route(ws: Any) -> None:
        server = ws.connect_to_server()

        def from_server(payload: str | bytes) -> None:
            if dropping[0] and isinstance(payload, str):
                lines = [line for line in payload.split("\n")
                         if not line.strip() or json.loads(line).get("op") != "read"]
                payload = "\n".join(lines)
                if not payload.strip():
                    return
            ws.send(payload)

        server.on_message(from_server)

    page.route_web_socket(re.compile(r"/ws$"), route)


def closed(page: Page) -> None:
    """Wait until every notification `page` made is closed."""
    page.wait_for_function("() => window.chatdTest.made.every((note) => note.closed)")


def test_a_notification_closes_in_every_tab_once_its_room_is_looked_at_or_read(
    daemon: Daemon, browser: Browser, sessions: list[Session]
) -> None:
    """Ann's hidden tab shows a notification for Bob's mention in #general. She opens #general
    in another tab: the first tab closes its notification (told by the record the tabs share;
    the `read` events it gets are held back here). That tab closed, the next mention notifies
    again; Ann reads #general on another device: the notification closes (the `read` event),
    and one for a later message than the marker stays."""
    ann = person(sessions, browser, fake("granted"))
    page = ann.page
    dropping = [True]
    without_read_events(page, dropping)
    register(page, daemon.url, "ann")
    create_room(page, "general")
    bob = LineClient(daemon.tcp_port, register_and_login(daemon.url, "Bob"))
    bob.request("join", room="general")
    expect(page.locator("#message-list li.notice")).to_have_text(["Bob joined"])
    page.locator("#composer-text").click()
    hide(page)
    bob.request("send", room="general", text="@ann one", nonce="b1")
    expect_count(page, "notified", 1)
    assert made(page)[0]["tag"] == "chatd:general"

    other = second_tab(ann, daemon.url)
    room_button(other, "general").click()
    other.bring_to_front()
    hide(other, False)
    expect(other.locator("#message-list li.msg .msg-text").last).to_have_text("@ann one")
    # Closed by the record the tabs share: the route holds back every `read` event from this
    # page while dropping. (The frames `ann.received` lists are the server's as they reach
    # the browser, before the route: the other tab's read reaches them too, sooner or later
    # than the close on a busy machine, so they cannot tell what closed it.)
    closed(page)

    # The looking tab goes; the next mention notifies the first tab again.
    other.close()
    page.wait_for_function("""async () => (await navigator.locks.query()).held
        .filter((lock) => (lock.name || "").startsWith("chatd.tab.")).length === 1""")
    dropping[0] = False
    two = bob.request("send", room="general", text="@ann two", nonce="b2")
    expect_count(page, "notified", 2)
    assert made(page)[1]["body"] == "@ann two"

    # Read on another device, but not up to it: it stays; up to it: it closes.
    device = LineClient(daemon.tcp_port, register_and_login_again(daemon, "ann"))
    device.request("read", room="general", seq=two["seq"] - 1)
    ann.wait_for_frame(lambda frame: frame.get("op") == "read"
                       and frame.get("seq") == two["seq"] - 1, "the first read event")
    assert page.evaluate("() => window.chatdTest.made[1].closed") is False
    device.request("read", room="general", seq=two["seq"])
    closed(page)
    device.close()
    bob.close()
    assert ann.errors == []


# -- a room's level ------------------------------------------------------------------------------


def level_menu(page: Page) -> Locator:
    return page.get_by_role("menu", name=re.compile("^Options for "))


def test_a_room_muted_on_one_page_is_muted_on_the_other_at_once(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """Ann sets #general to all messages from its header; her second page follows at once.
    She mutes it from the sidebar's menu (right click): both pages show it muted, a mention
    there no longer notifies, and its messages leave the title's count (its mentions stay)."""
    ann = person(sessions, browser, fake("granted"))
    ann.context.add_init_script(TAB_TOTALS)
    page = ann.page
    register(page, daemon.url, "ann")
    create_room(page, "general")
    create_room(page, "random")
    other = second_tab(ann, daemon.url)
    bob = LineClient(daemon.tcp_port, register_and_login(daemon.url, "Bob"))
    bob.request("join", room="general")

    # From the header: all messages.
    room_button(page, "general").click()
    bell = page.locator("#room-notify")
    expect(bell).to_have_accessible_name("Notifications for #general: Mentions only")
    bell.click()
    menu = level_menu(page)
    expect(menu.get_by_role("menuitemradio", name="Mentions only")).to_be_focused()
    expect(menu.get_by_role("menuitemradio", name="Mentions only")).to_have_attribute(
        "aria-checked", "true")
    shot(page, artifacts, "desktop-room-notify-menu")
    menu.get_by_role("menuitemradio", name="All messages").click()
    expect(bell).to_have_accessible_name("Notifications for #general: All messages")
    expect(bell).to_be_focused()
    room_button(other, "general").click()
    expect(other.locator("#room-notify")).to_have_accessible_name(
        "Notifications for #general: All messages")

    # Now every message of #general notifies: Ann is in #random, and her second page is hidden
    # (shown, on #general, it would have her read it there, and neither page would alert:
    # test_two_tabs_alert_once_and_not_for_a_room_shown_in_either). One of the two tells it.
    room_button(page, "random").click()
    hide(other)
    bob.request("send", room="general", text="plain words", nonce="b1")
    expect_count(page, "all-notified", 1)

    # From the sidebar: muted.
    room_button(page, "general").click(button="right")
    menu = level_menu(page)
    menu.get_by_role("menuitemradio", name="Muted").click()
    expect(room_button(page, "general")).to_have_class(re.compile(r"\bmuted\b"))
    expect(room_button(page, "general")).to_be_focused()  # drawn anew, the focus kept
    expect(room_button(other, "general")).to_have_class(re.compile(r"\bmuted\b"))
    expect(other.locator("#room-notify")).to_have_accessible_name(
        "Notifications for #general: Muted")

    # The keyboard reaches the same menu (Shift+F10 on the room), and Escape closes it.
    room_button(page, "random").press("Shift+F10")
    expect(level_menu(page)).to_have_accessible_name("Options for #random")
    expect(level_menu(page).get_by_role("menuitemradio", name="Mentions only")).to_be_focused()
    page.keyboard.press("Escape")
    expect(level_menu(page)).to_have_count(0)
    expect(room_button(page, "random")).to_be_focused()

    hide(page)
    bob.request("send", room="general", text="@ann still there?", nonce="b2")
    bob.request("send", room="general", text="more words", nonce="b3")
    # Unread: these two, and "plain words" (nobody was looking at #general then).
    expect(room_button(page, "general")).to_have_accessible_name(
        re.compile(r"muted, 3 unread, 1 mentioning you$"))
    expect(page).to_have_title("(1*) #random · chatd")  # only the mention counts
    assert len(made(page) + made(other)) == 1, made(page) + made(other)
    expect_count(page, "all-notified", 1)
    shot(page, artifacts, "desktop-room-muted")
    bob.close()
    assert ann.errors == []


def test_a_phone_reaches_the_settings_and_a_rooms_level(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """On a phone, a room's bell is in its header and the settings in the drawer; both fit."""
    setup = LineClient(daemon.tcp_port, register_and_login(daemon.url, "ann"))
    setup.request("create_room", room="general", topic="")
    setup.close()
    ann = person(sessions, browser, fake("default"), PHONE)
    page = ann.page
    log_in(page, daemon.url, "ann")
    expect(page.locator("#conv-title")).to_have_text("# general")
    page.locator("#room-notify").click()
    level_menu(page).get_by_role("menuitemradio", name="Muted").click()
    expect(page.locator("#room-notify")).to_have_accessible_name(
        "Notifications for #general: Muted")
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], width
    page.get_by_role("button", name="Show rooms and people").click()
    panel = settings(page)
    box = panel.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    shot(page, artifacts, "phone-notification-settings")
    assert ann.errors == []

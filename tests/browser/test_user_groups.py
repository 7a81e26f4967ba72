"""User groups in the page, in a real Chromium against the real daemon: the "User groups" panel
from the person's menu (the list, a group's members, "New group" with the people picker, a
taken name refused in the dialog, "Edit", "Delete" confirmed), the list kept live on another
person's page by the `user_group` events, `@backend` offered by the completion after the
people, and a message naming a group the reader is in: counted in the sidebar as a mention,
highlighted, its `@backend` a pill titled with the group's description and count; before the
page knows the groups, a neutral pill (a group deleted since is plain text only once known).

The rules of test_web.py hold: every wait is for a state, never for time. Screenshots land in
tests/artifacts/ (desktop-user-groups.png, phone-user-groups.png,
desktop-user-group-unknown.png).
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
    holding_answers,
    needs_chromium,
    register_and_login,
)
from tests.browser.test_changes import message
from tests.browser.test_page_defects import axe_serious
from tests.browser.test_pins import ann_and_bob_in
from tests.browser.test_web import Session, log_in, open_session, shot

pytestmark = [pytest.mark.slow, needs_chromium]


def open_groups(page: Page, shown: str) -> Locator:
    """"User groups" from the menu under the person's name: the panel, open."""
    page.get_by_role("button", name=f"{shown}: profile and status").click()
    page.get_by_role("menuitem", name="User groups").click()
    panel = page.get_by_role("complementary", name="User groups")
    expect(panel).to_be_visible()
    return panel


def group_item(page: Page, name: str) -> Locator:
    return page.locator(f'#usergroups-list li[data-name="{name}"]')


def room_button(page: Page, room: str) -> Locator:
    return page.locator(f'#room-list li[data-room="{room}"] button')


def test_a_group_made_in_the_panel_is_live_elsewhere_and_its_mention_alerts_a_member(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """ann creates @backend with Bob from the panel (a user's name is refused: taken); Bob's
    open panel shows it at once, "you" marked; carol's "@backend deploy?" in #general is a
    mention on Bob's page (the sidebar's "@", the message highlighted, the pill titled with
    the description and count); ann's completion offers @backend after the people; ann's
    edit (description, carol added) reaches Bob's list and the pill; a deletion, confirmed,
    leaves both lists."""
    _, ann_line, bob_line = ann_and_bob_in(daemon, "general", "random")
    carol = LineClient(daemon.tcp_port, register_and_login(daemon.url, "carol"))
    carol.request("join", room="general")
    ann_line.close()
    bob_line.close()

    ann = open_session(sessions, browser, DESKTOP)
    bob = open_session(sessions, browser, DESKTOP)
    a, b = ann.page, bob.page
    log_in(a, daemon.url, "ann")
    log_in(b, daemon.url, "Bob")
    expect(a.locator("#me-status")).to_have_attribute("data-phase", "online")
    expect(b.locator("#me-status")).to_have_attribute("data-phase", "online")
    room_button(b, "random").click()
    expect(b.locator("#conv-title")).to_have_text("# random")
    bob_panel = open_groups(b, "Bob")
    expect(bob_panel.locator("#usergroups-status")).to_contain_text("No user groups yet")

    # ann: "New group", a user's name first (the server refuses it: taken), then backend.
    ann_panel = open_groups(a, "ann")
    ann_panel.get_by_role("button", name="New group").click()
    dialog = a.get_by_role("dialog", name="New user group")
    dialog.get_by_label("Name").fill("carol")
    dialog.get_by_role("button", name="Create").click()
    expect(a.locator("#dialog-error")).to_have_text("That name is taken.")
    dialog.get_by_label("Name").fill("Backend")
    dialog.get_by_label("Description (optional)").fill("Server people")
    picker = dialog.locator("#usergroup-members")
    picker.fill("bob")
    picker.press("Enter")  # a chip, not the dialog's OK
    expect(dialog.locator(".people-chip")).to_have_text(["Bob"])
    assert axe_serious(a) == []  # the dialog, its picker and chip
    dialog.get_by_role("button", name="Create").click()
    expect(dialog).to_be_hidden()
    members = a.get_by_role("list", name="Members of @backend")
    expect(members.locator("li")).to_have_text(["Bob"])

    # Bob's panel has it, live, with "you".
    item = group_item(b, "backend")
    expect(item).to_contain_text("@backend")
    expect(item).to_contain_text("1 member")
    expect(item).to_contain_text("Server people")
    expect(item.locator(".usergroup-you")).to_have_text("you")

    # carol names the group in #general: on Bob's page, a mention of him.
    carol.request("send", room="general", text="@backend deploy?", nonce="deploy")
    general = room_button(b, "general")
    expect(general.locator(".badge.mention")).to_have_text("@")
    expect(general).to_have_attribute("aria-label", re.compile("1 mentioning you"))
    general.click()
    said = message(b, "@backend deploy?")
    expect(said).to_have_class(re.compile(r"\bmentions-me\b"))
    pill = said.locator(".mention.usergroup")
    expect(pill).to_have_text("@backend")
    expect(pill).to_have_class(re.compile(r"\bme\b"))
    expect(pill).to_have_attribute("title", "Server people · 1 member")
    assert axe_serious(b) == []
    shot(b, artifacts, "desktop-user-groups")

    # ann's completion offers the group after the people, with its description and count.
    room_button(a, "general").click()
    box = a.locator("#composer-text")
    box.press_sequentially("@b")
    options = a.locator("#mention-list [role=option]")
    expect(options).to_have_text([re.compile("Bob"),
                                  re.compile("@backend Server people · 1 member$")])
    box.fill("")

    # ann edits it: a new description, carol added; Bob's list and the pill follow.
    ann_panel.get_by_role("button", name="Edit").click()
    edit = a.get_by_role("dialog", name="Edit @backend")
    edit.get_by_label("Description").fill("Server and ops")
    edit.locator("#usergroup-add").fill("carol")
    edit.get_by_role("button", name="Add", exact=True).click()
    edit.get_by_role("button", name="Save").click()
    expect(edit).to_be_hidden()
    expect(members.locator("li")).to_have_text(["Bob", "carol"])
    assert axe_serious(a) == []  # the group's page, its Edit and Delete
    expect(item).to_contain_text("2 members")
    expect(item).to_contain_text("Server and ops")
    expect(pill).to_have_attribute("title", "Server and ops · 2 members")

    # On a phone, Bob's panel covers the conversation.
    phone = open_session(sessions, browser, PHONE)
    log_in(phone.page, daemon.url, "Bob")
    expect(phone.page.locator("#me-status")).to_have_attribute("data-phase", "online")
    phone.page.locator("#open-sidebar").click()
    open_groups(phone.page, "Bob")
    expect(group_item(phone.page, "backend").locator(".usergroup-you")).to_have_text("you")
    shot(phone.page, artifacts, "phone-user-groups")

    # ann deletes it, once confirmed: gone from both lists.
    ann_panel.get_by_role("button", name="Delete").click()
    confirm = a.get_by_role("dialog", name="Delete @backend?")
    confirm.get_by_role("button", name="Delete").click()
    expect(group_item(a, "backend")).to_have_count(0)
    expect(group_item(b, "backend")).to_have_count(0)
    expect(a.locator("#usergroups-close")).to_be_focused()  # still in the panel
    expect(bob_panel.locator("#usergroups-status")).to_contain_text("No user groups yet")

    # The panel shares the side panels' place: the Threads view closes it, and it the view.
    b.locator("#threads-open").click()
    expect(b.locator("#threads-panel")).to_be_visible()
    expect(bob_panel).to_be_hidden()
    open_groups(b, "Bob")
    expect(b.locator("#threads-panel")).to_be_hidden()
    carol.close()
    assert ann.errors == [] and bob.errors == [] and phone.errors == []


def test_a_deleted_groups_mention_reads_as_plain_text(
    daemon: Daemon, browser: Browser, sessions: list[Session]
) -> None:
    """carol named @backend and @ops in #general; @ops was deleted before Bob's page opened,
    @backend is deleted while it is open: each "@name" is then plain text, no pill, no
    title, nothing to press, and the message no mention of Bob's."""
    _, ann_line, bob_line = ann_and_bob_in(daemon, "general")
    carol = LineClient(daemon.tcp_port, register_and_login(daemon.url, "carol"))
    carol.request("join", room="general")
    for name in ("backend", "ops"):
        ann_line.request("create_user_group", name=name, description="", members=["Bob"])
    carol.request("send", room="general", text="@ops and @backend: deploy?", nonce="c1")
    ann_line.request("delete_user_group", name="ops")
    bob_line.close()

    bob = open_session(sessions, browser, DESKTOP)
    b = bob.page
    log_in(b, daemon.url, "Bob")
    expect(b.locator("#conv-title")).to_have_text("# general")
    said = message(b, "@ops and @backend: deploy?")
    expect(said.locator(".mention.usergroup")).to_have_text(["@backend"])
    expect(said).to_have_class(re.compile(r"\bmentions-me\b"))

    ann_line.request("delete_user_group", name="backend")
    expect(said.locator(".mention")).to_have_count(0)
    expect(said.locator(".msg-text")).to_have_text("@ops and @backend: deploy?")
    expect(said.locator(".msg-text [title], .msg-text a, .msg-text button")).to_have_count(0)
    ann_line.close()
    carol.close()
    assert bob.errors == []


def test_a_groups_pill_is_neutral_until_the_groups_are_known(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """carol named @backend and @ops in #general; @ops was deleted since. Until Bob's page has
    the groups (their answer held back here), both read as neutral pills, neither a live
    group's (no title, not his) nor plain text; once it has them, @backend is a live pill and
    @ops plain text."""
    _, ann_line, bob_line = ann_and_bob_in(daemon, "general")
    carol = LineClient(daemon.tcp_port, register_and_login(daemon.url, "carol"))
    carol.request("join", room="general")
    for name in ("backend", "ops"):
        ann_line.request("create_user_group", name=name, description="Server people",
                         members=["Bob"])
    carol.request("send", room="general", text="@ops and @backend: deploy?", nonce="c1")
    ann_line.request("delete_user_group", name="ops")
    bob_line.close()

    bob = open_session(sessions, browser, DESKTOP)
    b = bob.page
    release = holding_answers(b, lambda frame: frame.get("op") == "user_groups", "user_groups")
    log_in(b, daemon.url, "Bob")
    expect(b.locator("#conv-title")).to_have_text("# general")
    said = message(b, "@ops and @backend: deploy?")
    expect(said.locator(".mention.usergroup.unknown")).to_have_text(["@ops", "@backend"])
    expect(said.locator(".msg-text [title]")).to_have_count(0)
    expect(said.locator(".mention.me")).to_have_count(0)
    shot(b, artifacts, "desktop-user-group-unknown")

    release()
    expect(said.locator(".mention.usergroup")).to_have_text(["@backend"])
    expect(said.locator(".mention.usergroup")).to_have_attribute(
        "title", "Server people · 1 member")
    expect(said.locator(".mention.unknown")).to_have_count(0)
    expect(said.locator(".msg-text")).to_have_text("@ops and @backend: deploy?")
    ann_line.close()
    carol.close()
    assert bob.errors == []

"""Invitation links in the page, in a real Chromium against the real daemon and PostgreSQL, on
a server that takes registrations by invitation only (`auth.registration = "invite"`):

- ann, an administrator, makes a link from "Invite people…" (her menu) into #general and
  #random for five people; carol opens it in a fresh browser, reads who invited her and into
  which rooms, registers and lands in #general, its composer ready (and, a member, has no
  "Invite people…"); ann's list then says the link was used by carol (ann, opening the link
  herself, is told it is for a new account); ann revokes it (asked again in place), and the
  link, opened again, says it was revoked, the "Create account" button held back.
- A list longer than the server's page (100) shows "Show more", which brings the older links.
- An expired link says so; the page opened without a link says, on "Create account", that
  the server takes accounts by invitation only, before anything is sent.

The rules of test_web.py hold: every wait is for a state, never for time. The screenshots land
in tests/artifacts/ (desktop-invite.png, phone-invite.png: the sign-up with an invitation;
desktop-invite-dialog.png: the link just made; desktop-invite-more.png: a list longer than a
page, with "Show more"); axe-core checks the dialog and the sign-up.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.browser.conftest import (
    DESKTOP,
    PASSWORD,
    PHONE,
    Daemon,
    _in_thread,
    http_json,
    needs_chromium,
    wait_online,
)
from tests.browser.test_admin import make_admin
from tests.browser.test_page_defects import axe_serious
from tests.browser.test_pins import ann_and_bob_in
from tests.browser.test_web import Session, log_in, open_session, shot

pytestmark = [pytest.mark.slow, needs_chromium]

LINK = re.compile(r"^http://127\.0\.0\.1:\d+/#invite=[A-Za-z0-9_-]{32}$")


def invite_only(daemon: Daemon) -> str:
    """ann (an administrator) owns #general and #random, Bob is in both; then the server
    takes registrations by invitation only, and calls itself Acme. Returns ann's token."""
    token, ann, bob = ann_and_bob_in(daemon, "general", "random")
    ann.close()
    bob.close()
    make_admin(daemon, "ann")
    daemon.stop()
    daemon.settings.update({"CHATD_AUTH_REGISTRATION": "invite", "CHATD_SERVER_NAME": "Acme"})
    daemon.start()
    return token  # (an administrator's right is read at each request)


def open_invite_dialog(page: Page) -> Locator:
    """"Invite people…" from the menu under ann's name: the dialog, open."""
    page.get_by_role("button", name="ann: profile and status").click()
    page.get_by_role("menuitem", name="Invite people…").click()
    dialog = page.get_by_role("dialog", name="Invite people")
    expect(dialog).to_be_visible()
    return dialog


def invitation_card(page: Page) -> Locator:
    return page.get_by_role("region", name=re.compile(r"^Join |^Your invitation$"))


def test_an_admin_invites_and_the_new_person_lands_in_the_room(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """ann makes a link for five into #general and #random; carol opens it in a fresh
    context, sees ann and the rooms, registers and lands in #general; ann's list says carol
    used it; ann revokes it, and the link says so to the next one who opens it."""
    invite_only(daemon)
    ann = open_session(sessions, browser, DESKTOP)
    log_in(ann.page, daemon.url, "ann")
    wait_online(ann.page)
    expect(ann.page.locator("#conv-title")).to_have_text("# general")

    dialog = open_invite_dialog(ann.page)
    expect(dialog.get_by_role("checkbox", name="#general")).to_be_checked()  # the open room
    dialog.get_by_role("checkbox", name="#random").check()
    dialog.get_by_label("Link expires after").select_option(label="1 day")
    dialog.get_by_label("Can be used by").select_option(label="5 people")
    expect(dialog.get_by_text("No links yet.")).to_be_visible()
    dialog.get_by_role("button", name="Create link").click()
    link_box = dialog.get_by_label("Invitation link")
    expect(link_box).to_have_value(LINK)
    link = link_box.input_value()
    expect(dialog.get_by_role("button", name="Copy")).to_be_visible()
    made = dialog.locator("#invite-list li")
    expect(made).to_have_count(1)
    expect(made).to_contain_text("#general and #random")
    expect(made).to_contain_text("not used yet (up to 5 people)")
    expect(made).to_contain_text("expires in 24 h")
    shot(ann.page, artifacts, "desktop-invite-dialog")
    assert axe_serious(ann.page) == []

    # carol, in a browser that never saw this server: who invited her, and into what.
    carol = open_session(sessions, browser, DESKTOP)
    carol.page.goto(link)
    card = invitation_card(carol.page)
    expect(card).to_contain_text("Join Acme")
    expect(card).to_contain_text("ann invited you to Acme.")
    expect(card).to_contain_text("Create your account to join #general and #random.")
    expect(carol.page.get_by_role("tab", name="Create account")).to_have_attribute(
        "aria-selected", "true")
    expect(carol.page.locator("#auth-register-note")).to_be_hidden()
    shot(carol.page, artifacts, "desktop-invite")
    assert axe_serious(carol.page) == []
    phone = open_session(sessions, browser, PHONE)
    phone.page.goto(link)
    expect(invitation_card(phone.page)).to_contain_text("ann invited you to Acme.")
    shot(phone.page, artifacts, "phone-invite")

    carol.page.get_by_label("User name").fill("carol")
    carol.page.get_by_label("Password").fill(PASSWORD)
    carol.page.get_by_role("button", name="Create account", exact=True).click()
    wait_online(carol.page)
    expect(carol.page.locator("#conv-title")).to_have_text("# general")
    expect(carol.page.locator("#composer-text")).to_be_focused()  # opened for her, to write
    expect(carol.page.locator('#room-list li[data-room="random"]')).to_have_count(1)
    assert "#invite=" not in carol.page.url, "the used link is off the address"
    # A member, where only administrators invite (the default): no "Invite people…".
    carol.page.get_by_role("button", name="carol: profile and status").click()
    expect(carol.page.get_by_role("menuitem", name="User groups")).to_be_visible()
    expect(carol.page.get_by_role("menuitem", name="Invite people…")).to_have_count(0)
    carol.page.keyboard.press("Escape")

    # ann's list, asked again: used by carol. Revoke asks again in place.
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()
    # The link opened where ann is logged in: it is for a new account, the page says.
    ann.page.goto(link)
    expect(ann.page.locator("#toasts")).to_contain_text(
        "You are logged in as ann. The invitation link is for a new account")
    wait_online(ann.page)
    dialog = open_invite_dialog(ann.page)
    row = dialog.locator("#invite-list li")
    expect(row).to_contain_text("used 1 of 5 times: carol")
    row.get_by_role("button", name=re.compile(r"^Revoke the link to #general, #random")).click()
    expect(row.get_by_role("group", name="Revoke this link?")).to_be_visible()
    row.get_by_role("button", name="Revoke", exact=True).click()
    expect(row.locator(".tag")).to_have_text("revoked")
    expect(row.get_by_role("button", name=re.compile("^Revoke"))).to_have_count(0)

    # The administration view opens the same dialog.
    dialog.get_by_role("button", name="Close").click()
    ann.page.get_by_role("button", name="Administration").click()
    ann.page.locator("#admin-view").get_by_role("button", name="Invite people…").click()
    expect(dialog.get_by_role("heading", name="All links")).to_be_visible()
    expect(dialog.locator("#invite-list li .tag")).to_have_text("revoked")

    # The next one who opens it: revoked, and no account can be made with it.
    phone.page.reload()
    card = invitation_card(phone.page)
    expect(card).to_contain_text("This invitation link was revoked.")
    expect(phone.page.locator("#auth-register-note")).to_contain_text("was revoked")
    expect(phone.page.get_by_role("button", name="Create account", exact=True)).to_be_disabled()
    for session in (ann, carol, phone):
        assert session.errors == [], session.errors


def test_more_links_than_a_page_follow_on_show_more(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """ann, an administrator, has 105 links, and the server lists 100 a page: the dialog
    shows the newest 100 and "Show more"; pressed, the five older ones follow, the focus on
    the first of them, and the button goes (the list is whole)."""
    _, ann_line, bob = ann_and_bob_in(daemon, "general")
    ann_line.close()
    bob.close()
    make_admin(daemon, "ann")
    _in_thread(daemon.dsn, "INSERT INTO invitations (hash, creator_id, expires_at, max_uses) "
                           "SELECT sha256(('link ' || n)::bytea), (SELECT id FROM users WHERE "
                           "lower(name) = 'ann'), now() + n * interval '1 hour', n "
                           "FROM generate_series(1, 105) AS n ORDER BY n")
    ann = open_session(sessions, browser, DESKTOP)
    log_in(ann.page, daemon.url, "ann")
    wait_online(ann.page)
    dialog = open_invite_dialog(ann.page)
    rows = dialog.locator("#invite-list li")
    expect(rows).to_have_count(100)
    expect(rows.first).to_contain_text("up to 105 people")  # the newest first
    more = dialog.get_by_role("button", name="Show more")
    expect(more).to_be_visible()
    more.scroll_into_view_if_needed()
    shot(ann.page, artifacts, "desktop-invite-more")
    more.click()
    expect(rows).to_have_count(105)
    expect(rows.nth(100)).to_contain_text("up to 5 people")
    expect(rows.nth(100)).to_be_focused()
    expect(rows.last).to_contain_text("not used yet (1 person)")
    expect(more).to_be_hidden()
    assert axe_serious(ann.page) == []
    assert ann.errors == []


def test_an_expired_link_and_no_link_say_so_before_anything_is_sent(
    daemon: Daemon, browser: Browser, sessions: list[Session]
) -> None:
    """A link past its time says it expired, its button held back; without a link, "Create
    account" on an invitation-only server says so at once, and nothing is sent."""
    token = invite_only(daemon)
    status, made = http_json(daemon.url, "POST", "/api/invitations", {"rooms": ["general"]},
                             token=token)
    assert status == 201, made
    _in_thread(daemon.dsn, "UPDATE invitations SET expires_at = now() - interval '1 minute'")
    dave = open_session(sessions, browser, DESKTOP)
    registrations: list[str] = []
    dave.page.on("request", lambda request: registrations.append(request.method)
                 if request.url.endswith("/api/register") and request.method == "POST"
                 else None)
    dave.page.goto(made["url"])
    expect(invitation_card(dave.page)).to_contain_text("This invitation link has expired.")
    submit = dave.page.get_by_role("button", name="Create account", exact=True)
    expect(submit).to_be_disabled()

    dave.page.goto(daemon.url + "/")
    expect(invitation_card(dave.page)).to_be_hidden()
    dave.page.get_by_role("tab", name="Create account").click()
    note = dave.page.locator("#auth-register-note")
    expect(note).to_have_text("This server takes new accounts by invitation only: open the "
                              "invitation link you were sent.")
    expect(submit).to_be_disabled()
    dave.page.get_by_role("tab", name="Log in").click()
    expect(note).to_be_hidden()
    expect(dave.page.get_by_role("button", name="Log in", exact=True)).to_be_enabled()
    assert registrations == []
    assert dave.errors == [], dave.errors

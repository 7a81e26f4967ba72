"""Email in the page, in a real Chromium against the real daemon and PostgreSQL, mailing through a
real SMTP server on 127.0.0.1 (aiosmtpd, tests/smtpserver.py):

- ann sets her address in "Email notifications…" (her menu): a typo is said next to the field;
  the dialog then says a link was sent, Resend sends another; the link read from the mail
  (the page at "#confirm-email=TOKEN"), opened in the browser, has the page post the token in
  a body (no request's URL holds it) and say the address is confirmed; the dialog shows it
  confirmed, the switch on, and turns it off and on (the server agrees each time); bob is
  told the address is taken; Remove takes it away.
- ann changes her confirmed address: the dialog keeps it and says the new one waits for its
  link, which, opened where nobody is logged in, confirms it there (and, used, says why not).
- A server whose auth.min_password_length is 12: "Create account" says so and holds to it.
- "Forgot password?" from the sign-in form says the same for a name nobody has and for ann,
  who gets the link. Opened where she is logged in, the page says to log out first (its
  toast's "Log out" then shows the form). Opened logged out, it shows "Choose a new password"
  (the token off the address at once, then posted in the body), which holds back a short or
  mistyped password, sets it, and signs her in; the old password is refused, the new one
  works, and the link, used, says it has expired and offers a new one.
- Email turned off while "Forgot password?" is open: asking says the server sends no email;
  reloaded, the page offers no "Forgot password?"; the menu's item and the dialog say the
  server sends no email.

The rules of test_web.py hold: every wait is for a state, never for time (the SMTP server's
inbox is looked at until the mail is there). Screenshots in tests/artifacts/:
desktop-email.png, phone-email.png (the dialog, confirmed), desktop-reset.png (the new
password's form), mends-server.png (the dialog, a new address waiting); axe-core checks the
dialog and the forms.
"""

from __future__ import annotations

import re
import time
from email.message import EmailMessage
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, Route, expect

from tests.browser.conftest import (
    DESKTOP,
    PASSWORD,
    PHONE,
    Daemon,
    http_json,
    needs_chromium,
    register_and_login,
    wait_online,
)
from tests.browser.test_page_defects import axe_serious
from tests.browser.test_web import Session, log_in, open_session, shot
from tests.smtpserver import Inbox, links_in, smtp

__all__ = ["smtp"]  # (the fixture, used by name)

pytestmark = [pytest.mark.slow, needs_chromium]

NEW_PASSWORD = "a brand new passphrase"
#: What a confirmation link holds: the page's fragment with the token.
CONFIRM = "#confirm-email="
#: Seconds a look at the inbox gives up after (the mail comes much sooner).
MAIL_WAIT = 20.0


def mailing(daemon: Daemon, inbox: Inbox) -> None:
    """Restart ``daemon`` mailing through ``inbox``'s server (email on: addresses, resets)."""
    daemon.stop()
    daemon.settings.update({
        "CHATD_EMAIL_SMTP_HOST": "127.0.0.1",
        "CHATD_EMAIL_SMTP_PORT": str(inbox.port),
        "CHATD_EMAIL_SECURITY": "none",
        "CHATD_EMAIL_FROM": "chatd <chatd@example.org>",
        "CHATD_EMAIL_TIMEOUT": "5",
    })
    daemon.start()


def mail_to(inbox: Inbox, address: str, marker: str, count: int = 1) -> EmailMessage:
    """The ``count``-th mail to ``address`` holding a link with ``marker``, looked for in the
    inbox until it has come (the daemon mails from a worker thread, a moment after)."""
    deadline = time.monotonic() + MAIL_WAIT
    while True:
        found = [message for message, to in zip(list(inbox.messages), list(inbox.recipients),
                                                 strict=True)
                 if address in to and links_in(message, marker)]
        if len(found) >= count:
            return found[count - 1]
        assert time.monotonic() < deadline, f"no mail {count} to {address} with {marker}"
        time.sleep(0.02)  # (a look at the inbox again: the state is waited for, not time)


def link_in(message: EmailMessage, marker: str) -> str:
    links = links_in(message, marker)
    assert len(links) == 1, links
    return links[0]


def open_email_dialog(page: Page, name: str) -> Locator:
    """"Email notifications…" from the menu under the person's name: the dialog, open."""
    page.get_by_role("button", name=f"{name}: profile and status").click()
    page.get_by_role("menuitem", name="Email notifications…").click()
    dialog = page.get_by_role("dialog", name="Email notifications")
    expect(dialog).to_be_visible()
    return dialog


def email_settings(daemon: Daemon, token: str) -> dict[str, object]:
    status, body = http_json(daemon.url, "GET", "/api/me/email", token=token)
    assert status == 200, body
    return body


def confirmed_address(daemon: Daemon, inbox: Inbox, token: str, address: str) -> None:
    """Give the user of ``token`` the address, and confirm it as a mail client would."""
    status, body = http_json(daemon.url, "PUT", "/api/me/email", {"email": address},
                             token=token)
    assert status == 202, body
    link = link_in(mail_to(inbox, address, CONFIRM), CONFIRM)
    status, body = http_json(daemon.url, "POST", "/api/email/confirm",
                             {"token": link.partition(CONFIRM)[2]})
    assert (status, body) == (200, {"confirmed": True})
    assert email_settings(daemon, token)["confirmed"] is True


def test_an_address_is_set_confirmed_and_its_notifications_switched(
    daemon: Daemon, smtp: Inbox, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """ann sets her address (a typo said at the field first), resends the link, confirms it
    from the mail, sees it confirmed with the switch on, turns it off and on; bob is told it
    is taken; Remove takes it away."""
    mailing(daemon, smtp)
    token = register_and_login(daemon.url, "ann")
    bob = register_and_login(daemon.url, "bob")
    ann = open_session(sessions, browser, DESKTOP)
    log_in(ann.page, daemon.url, "ann")
    wait_online(ann.page)
    page = ann.page

    dialog = open_email_dialog(page, "ann")
    state = dialog.locator("#email-state")
    expect(state).to_have_text("No email address is set.")
    switch = dialog.get_by_role("switch",
                                name="Email me about direct messages and mentions while I'm away")
    expect(switch).to_be_disabled()
    expect(switch).not_to_be_checked()
    expect(dialog.locator("#email-notify-hint")).to_contain_text("confirm it")
    field = dialog.get_by_label("Email address")
    expect(field).to_be_focused()

    # A typo is said next to the field, nothing sent.
    field.fill("ann.example.org")
    field.press("Enter")
    expect(dialog.locator("#email-error")).to_have_text(
        "That is not an email address: it looks like name@example.org.")
    expect(field).to_have_attribute("aria-invalid", "true")
    field.fill("ann@example.org")
    expect(field).not_to_have_attribute("aria-invalid", "true")
    dialog.get_by_role("button", name="Send confirmation link").click()
    expect(state).to_contain_text("We sent a link to ann@example.org.")
    expect(dialog.locator("#email-said")).to_have_text(
        "We sent a link to ann@example.org: open it to confirm the address.")
    expect(switch).to_be_disabled()
    expect(dialog.locator("#email-notify-hint")).to_contain_text("Confirm your address first")
    mail_to(smtp, "ann@example.org", CONFIRM)
    assert email_settings(daemon, token)["confirmed"] is False

    # Her phone, the dialog open meanwhile: waiting for the link too.
    phone = open_session(sessions, browser, PHONE)
    log_in(phone.page, daemon.url, "ann")
    wait_online(phone.page)
    phone.page.get_by_role("button", name="Show rooms and people").click()
    on_phone = open_email_dialog(phone.page, "ann")
    expect(on_phone.locator("#email-state")).to_contain_text("We sent a link to "
                                                             "ann@example.org.")

    resend = dialog.get_by_role("button", name="Resend link")
    expect(resend).to_be_focused()
    resend.click()
    expect(dialog.locator("#email-said")).to_have_text("We sent another link to ann@example.org.")
    link = link_in(mail_to(smtp, "ann@example.org", CONFIRM, count=2), CONFIRM)
    assert re.fullmatch(rf"{re.escape(daemon.url)}/{CONFIRM}[A-Za-z0-9_-]{{16,128}}", link)
    assert axe_serious(page) == []
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()

    # The link, opened in the browser: the page takes the token off the address, posts it
    # (in a body: no request's URL holds it) and says the address is confirmed.
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    page.goto(link)
    expect(page.locator("#toasts")).to_contain_text("Your email address is confirmed.")
    wait_online(page)
    assert "#email-confirmed" not in page.url and CONFIRM not in page.url
    token_of_link = link.partition(CONFIRM)[2]
    assert [url for url in asked if "/api/" in url and token_of_link in url] == []
    assert any(url.endswith("/api/email/confirm") for url in asked), asked

    dialog = open_email_dialog(page, "ann")
    state = dialog.locator("#email-state")
    expect(state).to_have_text("ann@example.org is confirmed.")
    expect(state).to_have_attribute("data-kind", "confirmed")
    expect(switch).to_be_enabled()
    expect(switch).to_be_checked()  # (on by default once confirmed)
    expect(switch).to_be_focused()
    expect(dialog.get_by_role("button", name="Resend link")).to_be_hidden()
    expect(dialog.get_by_label("Change address")).to_be_visible()
    shot(page, artifacts, "desktop-email")
    assert axe_serious(page) == []

    switch.click()
    expect(dialog.locator("#email-said")).to_have_text("Email notifications are off.")
    expect(switch).not_to_be_checked()
    assert email_settings(daemon, token)["notify"] is False
    switch.press("Space")
    expect(dialog.locator("#email-said")).to_have_text("Email notifications are on.")
    expect(switch).to_be_checked()
    assert email_settings(daemon, token)["notify"] is True

    # The phone, shown again (back from the mail): asks again, and has it confirmed.
    phone.page.evaluate("() => document.dispatchEvent(new Event('visibilitychange'))")
    expect(on_phone.locator("#email-state")).to_have_text("ann@example.org is confirmed.")
    expect(on_phone.get_by_role("switch")).to_be_checked()
    shot(phone.page, artifacts, "phone-email")

    # bob cannot take it: said next to the field.
    status, body = http_json(daemon.url, "PUT", "/api/me/email", {"email": "ANN@example.org"},
                             token=bob)
    assert status == 409 and body["code"] == "email_taken", (status, body)
    bobs = open_session(sessions, browser, DESKTOP)
    log_in(bobs.page, daemon.url, "bob")
    wait_online(bobs.page)
    his = open_email_dialog(bobs.page, "bob")
    his.get_by_label("Email address").fill("ann@example.org")
    his.get_by_role("button", name="Send confirmation link").click()
    expect(his.locator("#email-error")).to_have_text("Another account already uses that address.")
    expect(his.locator("#email-state")).to_have_text("No email address is set.")

    # Remove.
    dialog.get_by_role("button", name="Remove address").click()
    expect(dialog.locator("#email-state")).to_have_text("No email address is set.")
    expect(dialog.locator("#email-said")).to_have_text(
        "ann@example.org is removed: no more email from this server.")
    expect(switch).to_be_disabled()
    assert email_settings(daemon, token)["email"] is None
    for session in (ann, phone, bobs):
        assert session.errors == [], session.errors


def test_forgot_password_mails_a_link_that_sets_a_new_one_and_signs_in(
    daemon: Daemon, smtp: Inbox, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """"Forgot password?" says the same for nobody and for ann; her link, opened where she is
    logged in, says to log out first (and the form is there once she has); opened logged
    out, it shows "Choose a new password", which holds back a short or mistyped one, sets it
    and signs her in; the old password is refused; the link, used, says it has expired and
    offers a new one."""
    mailing(daemon, smtp)
    token = register_and_login(daemon.url, "ann")
    confirmed_address(daemon, smtp, token, "ann@example.org")
    desk = open_session(sessions, browser, DESKTOP)  # where ann is still logged in
    log_in(desk.page, daemon.url, "ann")
    wait_online(desk.page)
    person = open_session(sessions, browser, DESKTOP)
    page = person.page
    page.goto(daemon.url)
    forgot = page.get_by_role("button", name="Forgot password?")
    expect(forgot).to_be_visible()
    forgot.click()
    form = page.get_by_role("form", name="Reset your password")
    who = form.get_by_label("User name or email")
    expect(who).to_be_focused()
    sent = form.get_by_role("status")
    form.get_by_role("button", name="Send link").click()
    expect(form.get_by_role("alert")).to_have_text("Enter your user name or email address.")

    # Nobody has this name: the same words as for an account.
    who.fill("nobody-here")
    form.get_by_role("button", name="Send link").click()
    expect(sent).to_have_text(re.compile(r"^If an account matches, we sent a link"))
    expect(form.get_by_role("alert")).to_have_text("")
    who.fill("ann@example.org")
    form.get_by_role("button", name="Send link").click()
    expect(sent).to_have_text(re.compile(r"^If an account matches, we sent a link"))
    link = link_in(mail_to(smtp, "ann@example.org", "#reset="), "#reset=")
    assert re.fullmatch(rf"{re.escape(daemon.url)}/#reset=[A-Za-z0-9_-]{{16,128}}", link), link
    resets = [m for m in smtp.messages if links_in(m, "#reset=")]
    assert len(resets) == 1, "nothing for the name nobody has"

    # Opened where ann is logged in: the page says to log out first; then the form is there.
    desk.page.goto(link)
    toast = desk.page.locator("#toasts")
    expect(toast).to_contain_text("This link chooses a new password. You are logged in as "
                                  "ann: log out to use it.")
    assert "#reset=" not in desk.page.url
    toast.get_by_role("button", name="Log out").click()
    held = desk.page.get_by_role("form", name="Choose a new password")
    expect(held).to_be_visible()
    expect(held.get_by_label("New password", exact=True)).to_be_focused()

    # Opened logged out: "Choose a new password", the token off the address at once (and
    # posted in the body, never in a URL).
    posted: list[tuple[str, str]] = []
    page.on("request", lambda request: posted.append((request.url, request.post_data or "")))
    page.goto(link)
    form = page.get_by_role("form", name="Choose a new password")
    expect(form).to_be_visible()
    assert "#reset=" not in page.url
    assert page.evaluate("() => location.hash") == ""
    first = form.get_by_label("New password", exact=True)
    again = form.get_by_label("New password, again")
    expect(first).to_be_focused()
    expect(form.locator("#reset-password-hint")).to_have_text("At least 8 characters.")
    first.fill("short")
    again.fill("short")
    form.get_by_role("button", name="Set password and log in").click()
    expect(form.get_by_role("alert")).to_have_text(
        "Your new password needs at least 8 characters.")
    first.fill(NEW_PASSWORD)
    again.fill(NEW_PASSWORD + "!")
    form.get_by_role("button", name="Set password and log in").click()
    expect(form.get_by_role("alert")).to_have_text(
        "The two passwords are not the same: type it again.")
    again.fill(NEW_PASSWORD)
    expect(form.get_by_role("alert")).to_have_text("")  # (said of what was typed before)
    shot(page, artifacts, "desktop-reset")
    assert axe_serious(page) == []
    form.get_by_role("button", name="Set password and log in").click()
    wait_online(page)
    expect(page.locator("#me-name")).to_have_text("ann")
    reset_token = link.partition("#reset=")[2]
    assert [url for url, _ in posted if reset_token in url] == []
    assert [url for url, data in posted if reset_token in data] == [
        daemon.url + "/api/password-reset/complete"]

    status, body = http_json(daemon.url, "POST", "/api/login",
                             {"username": "ann", "password": PASSWORD})
    assert status == 401, (status, body)
    status, body = http_json(daemon.url, "POST", "/api/login",
                             {"username": "ann", "password": NEW_PASSWORD})
    assert status == 200, (status, body)

    # The form on the other browser holds the same link, now spent: it says so, and offers
    # a new one.
    held.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    held.get_by_label("New password, again").fill(NEW_PASSWORD)
    held.get_by_role("button", name="Set password and log in").click()
    expect(held.get_by_role("alert")).to_contain_text(
        "This link has expired or has been used already.")
    ask = held.get_by_role("button", name="Send a new link")
    expect(ask).to_be_focused()
    ask.click()
    expect(desk.page.get_by_role("form", name="Reset your password")).to_be_visible()
    for session in (person, desk):
        assert session.errors == [], session.errors


def test_a_server_without_smtp_offers_no_reset_and_says_it_sends_no_email(
    daemon: Daemon, smtp: Inbox, browser: Browser, sessions: list[Session]
) -> None:
    """Email turned off (no SMTP host, the default) while "Forgot password?" is open: asking
    says the server sends no email; reloaded, the page offers no "Forgot password?"; the
    menu's item and the dialog say it sends no email instead of offering a field."""
    mailing(daemon, smtp)
    register_and_login(daemon.url, "ann")
    person = open_session(sessions, browser, DESKTOP)
    page = person.page
    page.goto(daemon.url)
    page.get_by_role("button", name="Forgot password?").click()
    form = page.get_by_role("form", name="Reset your password")
    daemon.stop()  # the operator turns email off meanwhile
    for key in [key for key in daemon.settings if key.startswith("CHATD_EMAIL_")]:
        del daemon.settings[key]
    daemon.start()
    form.get_by_label("User name or email").fill("ann")
    form.get_by_role("button", name="Send link").click()
    expect(form.get_by_role("alert")).to_have_text(
        "This server does not send email: ask its administrator to set a new password for you.")
    expect(form.get_by_role("status")).to_be_hidden()

    page.reload()
    expect(page.locator("#auth-view")).to_have_attribute("aria-busy", "false")  # (it has said)
    status, body = http_json(daemon.url, "GET", "/api/register")
    assert status == 200 and body["password_reset"] is False, body
    expect(page.get_by_role("button", name="Forgot password?")).to_be_hidden()
    page.get_by_label("User name").fill("ann")
    page.get_by_label("Password").fill(PASSWORD)
    # (The menu's item is told by what the server says once she is in: its answer waited for.)
    with page.expect_response(lambda response: response.url.endswith("/api/register")):
        page.get_by_role("button", name="Log in", exact=True).click()
    wait_online(page)
    page.get_by_role("button", name="ann: profile and status").click()
    page.get_by_role("menuitem",
                     name="Email notifications (not set up on this server)…").click()
    dialog = page.get_by_role("dialog", name="Email notifications")
    expect(dialog.locator("#email-state")).to_contain_text("This server does not send email")
    expect(dialog.get_by_label("Email address")).to_be_hidden()
    expect(dialog.get_by_role("switch")).to_be_hidden()
    assert person.errors == [], person.errors


def test_a_reset_answer_without_the_name_asks_for_it_in_the_same_form(
    daemon: Daemon, smtp: Inbox, browser: Browser, sessions: list[Session]
) -> None:
    """A server whose reset answer does not name the account (as an older one might: here
    the real answer with its "user" left out on the way): the form says the password is
    changed and asks for the user name; a wrong one is said, the right one signs in."""
    mailing(daemon, smtp)
    token = register_and_login(daemon.url, "ann")
    register_and_login(daemon.url, "bob")
    confirmed_address(daemon, smtp, token, "ann@example.org")
    status, body = http_json(daemon.url, "POST", "/api/password-reset", {"user": "ann"})
    assert status == 202, body
    link = link_in(mail_to(smtp, "ann@example.org", "#reset="), "#reset=")
    person = open_session(sessions, browser, DESKTOP)
    page = person.page

    def nameless(route: Route) -> None:
        answer = route.fetch()  # the real server's answer, its "user" left out
        assert answer.status == 200 and answer.json()["user"] == "ann", answer.text()
        route.fulfill(response=answer, json={})

    page.route(re.compile(r"/api/password-reset/complete$"), nameless)
    page.goto(link)
    form = page.get_by_role("form", name="Choose a new password")
    form.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    form.get_by_label("New password, again").fill(NEW_PASSWORD)
    form.get_by_role("button", name="Set password and log in").click()
    expect(form.get_by_role("status")).to_have_text(
        "Your password is changed. Enter your user name to log in with it.")
    name = form.get_by_label("User name")
    expect(name).to_be_focused()
    expect(form.get_by_label("New password", exact=True)).to_be_hidden()
    name.fill("bob")
    form.get_by_role("button", name="Log in", exact=True).click()
    expect(form.get_by_role("alert")).to_have_text(
        "That is not the account whose password was changed: check the user name.")
    name.fill("ann")
    form.get_by_role("button", name="Log in", exact=True).click()
    wait_online(page)
    expect(page.locator("#me-name")).to_have_text("ann")
    assert person.errors == [], person.errors


def test_a_new_address_waits_and_a_link_confirms_logged_out(
    daemon: Daemon, smtp: Inbox, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """ann changes her confirmed address: the dialog keeps the old one confirmed and says the
    new one waits for its link; the link, opened in a browser where nobody is logged in,
    confirms it there (said in a toast), and opened again says why it does not work."""
    mailing(daemon, smtp)
    token = register_and_login(daemon.url, "ann")
    confirmed_address(daemon, smtp, token, "ann@example.org")
    ann = open_session(sessions, browser, DESKTOP)
    log_in(ann.page, daemon.url, "ann")
    wait_online(ann.page)
    dialog = open_email_dialog(ann.page, "ann")
    state = dialog.locator("#email-state")
    expect(state).to_have_text("ann@example.org is confirmed.")
    dialog.get_by_label("Change address").fill("ann@work.example")
    dialog.get_by_role("button", name="Send confirmation link").click()
    expect(dialog.locator("#email-said")).to_have_text(
        "We sent a link to ann@work.example: open it to confirm the address.")
    expect(state).to_contain_text("ann@example.org is confirmed.")
    expect(state).to_contain_text("Changing to ann@work.example: open the link we sent there. "
                                  "Until then, mail goes to ann@example.org.")
    expect(dialog.get_by_role("switch")).to_be_checked()
    shot(ann.page, artifacts, "mends-server")
    assert axe_serious(ann.page) == []
    assert email_settings(daemon, token)["email"] == "ann@example.org"

    link = link_in(mail_to(smtp, "ann@work.example", CONFIRM), CONFIRM)
    other = open_session(sessions, browser, PHONE)  # logged out
    other.page.goto(link)
    expect(other.page.locator("#toasts")).to_contain_text("Your email address is confirmed.")
    expect(other.page.locator("#auth-view")).to_be_visible()
    assert CONFIRM not in other.page.url
    assert email_settings(daemon, token) == {"email": "ann@work.example", "confirmed": True,
                                             "notify": True, "available": True,
                                             "pending": None}
    other.page.goto(link)
    expect(other.page.locator("#toasts")).to_contain_text(
        "Your email address is not confirmed: This confirmation link was used already")
    for session in (ann, other):
        assert session.errors == [], session.errors


def test_create_account_says_the_servers_password_rule(
    daemon: Daemon, browser: Browser, sessions: list[Session]
) -> None:
    """A server whose auth.min_password_length is 12: "Create account" says "At least 12
    characters." and the field holds back a shorter password (8 before the page knew)."""
    daemon.stop()
    daemon.settings["CHATD_AUTH_MIN_PASSWORD_LENGTH"] = "12"
    daemon.start()
    person = open_session(sessions, browser, DESKTOP)
    page = person.page
    page.goto(daemon.url)
    expect(page.locator("#auth-view")).to_have_attribute("aria-busy", "false")  # (it has said)
    page.get_by_role("tab", name="Create account").click()
    expect(page.locator("#auth-password-hint")).to_have_text("At least 12 characters.")
    field = page.get_by_label("Password")
    expect(field).to_have_attribute("minlength", "12")
    page.get_by_role("tab", name="Log in").click()
    expect(field).to_have_attribute("minlength", "0")
    assert person.errors == [], person.errors

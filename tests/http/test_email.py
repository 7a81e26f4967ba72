"""A user's email address and password reset by email, over HTTP against a real daemon,
PostgreSQL and a real SMTP server on 127.0.0.1 (aiosmtpd, tests/smtpserver.py): the
confirmation link (once, expiry, an address taken; the token in the fragment, posted, and the
deprecated link of the old shape), a confirmed address kept while a new one waits, the
settings, the routes without SMTP, and the reset flow (token once, in the body, sessions
ended on a live connection, no enumeration, rate limits, shared by two nodes).

Rules: 127.0.0.1 and port 0 only; waits are for states (a mail taken, a frame received), with
generous timeouts only as a safety net.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chatd.server import Server
from tests.client import Client, http, register_and_login
from tests.e2e.conftest import running
from tests.helpers import fetchval_apart, make_config
from tests.smtpserver import Inbox, email_config, html_of, links_in, smtp, text_of

__all__ = ["smtp"]  # the fixture, used by name

PASSWORD = "correct horse"


def _config(tmp_path: Path, dsn: str, inbox: Inbox, **more: Any) -> Any:
    return make_config(tmp_path, dsn, email=email_config(inbox, **more),
                       server={"public_url": "https://chat.example.org"})


def _confirmation(mail: Any) -> str:
    """The token of a confirmation mail's link: the page's, the token in its fragment."""
    (link,) = links_in(mail, "#confirm-email=")
    assert link.startswith("https://chat.example.org/#confirm-email="), link
    return link.partition("#confirm-email=")[2]


async def _confirm(port: int, token: str) -> tuple[int, Any]:
    """What the page does with a confirmation link: post its token."""
    return await http(port, "POST", "/api/email/confirm", {"token": token})


async def _set_and_confirm(server: Server, inbox: Inbox, token: str, address: str,
                           mails_before: int) -> None:
    port = server.http_port
    status, body = await http(port, "PUT", "/api/me/email", {"email": address}, token=token)
    assert status == 202, body
    mail = (await inbox.wait_for(mails_before + 1))[-1]
    assert await _confirm(port, _confirmation(mail)) == (200, {"confirmed": True})


async def test_an_address_is_confirmed_by_its_link_once(
        tmp_path: Path, database_dsn: str, smtp: Inbox) -> None:
    """PUT /api/me/email stores the address unconfirmed (202) and mails a link to it; the
    link's page confirms it; a second use says it was used; GET says confirmed."""
    async with running(_config(tmp_path, database_dsn, smtp)) as server:
        port = server.http_port
        token = await register_and_login(port, "ann")
        assert await http(port, "GET", "/api/me/email", token=token) == (
            200, {"email": None, "confirmed": False, "notify": True, "available": True,
                  "pending": None})
        status, body = await http(port, "PUT", "/api/me/email",
                                  {"email": " Ann@Example.org "}, token=token)
        assert (status, body) == (202, {"email": "Ann@Example.org", "confirmed": False,
                                        "notify": True, "available": True, "pending": None})
        (mail,) = await smtp.wait_for(1)
        assert smtp.recipients == [["Ann@Example.org"]]
        assert mail["To"] == "Ann@Example.org" and "Confirm" in mail["Subject"]
        assert mail.get_content_type() == "multipart/alternative"
        # the token travels in the fragment only: no link of the mail has it in a path
        confirmation = _confirmation(mail)
        (link,) = links_in(mail, "#confirm-email=")
        assert link in html_of(mail) and "/api/" not in link
        # not confirmed until the link is opened
        assert (await http(port, "GET", "/api/me/email", token=token))[1]["confirmed"] is False
        assert await _confirm(port, confirmation) == (200, {"confirmed": True})
        assert (await http(port, "GET", "/api/me/email", token=token))[1] == {
            "email": "Ann@Example.org", "confirmed": True, "notify": True, "available": True,
            "pending": None}
        status, body = await _confirm(port, confirmation)
        assert (status, body["code"]) == (400, "bad_token")
        assert "was used" in body["message"]
        # the confirmed address given again stays confirmed, and nothing is mailed
        status, body = await http(port, "PUT", "/api/me/email", {"email": "ann@example.ORG"},
                                  token=token)
        assert status == 202 and body["confirmed"] is True and body["pending"] is None
        for bad in ("A" * 32, "x", "%2e%2e"):
            status, body = await _confirm(port, bad)
            assert (status, body["code"]) == (400, "bad_token"), bad
        for bad_body in ({}, {"token": 5}, {"token": None}):
            status, body = await http(port, "POST", "/api/email/confirm", bad_body)
            assert (status, body["code"]) == (400, "bad_request"), bad_body
        status, page = await http(port, "GET", "/api/email/confirm/" + "A" * 32)
        assert status == 400 and b"does not work" in page
        assert len(smtp.messages) == 1


async def test_a_link_of_the_old_shape_still_confirms(
        tmp_path: Path, database_dsn: str, smtp: Inbox) -> None:
    """A link mailed before the token went into the fragment
    (/api/email/confirm/<token>, deprecated) still confirms, once, and its page says so,
    its "Open chatd" at the page's #email-confirmed."""
    async with running(_config(tmp_path, database_dsn, smtp)) as server:
        port = server.http_port
        token = await register_and_login(port, "ann")
        await http(port, "PUT", "/api/me/email", {"email": "ann@example.org"}, token=token)
        (mail,) = await smtp.wait_for(1)
        status, page = await http(port, "GET", f"/api/email/confirm/{_confirmation(mail)}")
        assert status == 200 and b"Your address is confirmed" in page, page
        assert b'/#email-confirmed">Open chatd</a>' in page, page
        assert (await http(port, "GET", "/api/me/email", token=token))[1]["confirmed"] is True
        status, page = await http(port, "GET", f"/api/email/confirm/{_confirmation(mail)}")
        assert status == 400 and b"This link was used" in page


async def test_a_confirmed_address_stays_until_the_new_one_is_confirmed(
        tmp_path: Path, database_dsn: str, smtp: Inbox) -> None:
    """Changing a confirmed address keeps it, confirmed (pending names the new one), and a
    password reset still goes to it; a second change replaces the first one's link; the new
    address's link makes it the account's, and the old one gets nothing more."""
    async with running(_config(tmp_path, database_dsn, smtp)) as server:
        port = server.http_port
        token = await register_and_login(port, "ann")
        await _set_and_confirm(server, smtp, token, "ann@example.org", 0)
        status, body = await http(port, "PUT", "/api/me/email", {"email": "ann@typo.example"},
                                  token=token)
        assert (status, body) == (202, {"email": "ann@example.org", "confirmed": True,
                                        "notify": True, "available": True,
                                        "pending": "ann@typo.example"})
        typo = (await smtp.wait_for(2))[-1]
        assert typo["To"] == "ann@typo.example"
        assert (await http(port, "GET", "/api/me/email", token=token))[1]["pending"] == (
            "ann@typo.example")
        # the account is still reachable at its confirmed address
        await http(port, "POST", "/api/password-reset", {"user": "ann"})
        assert (await smtp.wait_for(3))[-1]["To"] == "ann@example.org"
        assert await fetchval_apart(database_dsn, "SELECT email || ' ' || email_confirmed "
                                                  "FROM users WHERE name = 'ann'") == (
            "ann@example.org true")
        status, body = await http(port, "PUT", "/api/me/email", {"email": "ann@work.example"},
                                  token=token)
        assert (status, body["email"], body["pending"]) == (
            202, "ann@example.org", "ann@work.example")
        work = (await smtp.wait_for(4))[-1]
        status, body = await _confirm(port, _confirmation(typo))  # replaced by the newer link
        assert (status, body["code"]) == (400, "bad_token")
        assert await _confirm(port, _confirmation(work)) == (200, {"confirmed": True})
        assert (await http(port, "GET", "/api/me/email", token=token))[1] == {
            "email": "ann@work.example", "confirmed": True, "notify": True,
            "available": True, "pending": None}
        await http(port, "POST", "/api/password-reset", {"user": "ann@work.example"})
        assert (await smtp.wait_for(5))[-1]["To"] == "ann@work.example"
        await http(port, "POST", "/api/password-reset", {"user": "ann@example.org"})
        await http(port, "POST", "/api/password-reset", {"user": "ann"})
        assert [m["To"] for m in (await smtp.wait_for(6))[5:]] == ["ann@work.example"]


async def test_an_expired_link_confirms_nothing(
        tmp_path: Path, database_dsn: str, smtp: Inbox) -> None:
    """A confirmation link past its 24 hours says it has expired, and the address stays
    unconfirmed."""
    async with running(_config(tmp_path, database_dsn, smtp)) as server:
        port = server.http_port
        token = await register_and_login(port, "ann")
        await http(port, "PUT", "/api/me/email", {"email": "ann@example.org"}, token=token)
        (mail,) = await smtp.wait_for(1)
        await fetchval_apart(database_dsn, "UPDATE email_tokens SET expires_at = now() - "
                                           "interval '1 second'")
        status, body = await _confirm(port, _confirmation(mail))
        assert (status, body["code"]) == (400, "bad_token")
        assert "has expired" in body["message"]
        status, page = await http(port, "GET", f"/api/email/confirm/{_confirmation(mail)}")
        assert status == 400 and b"This link has expired" in page
        assert (await http(port, "GET", "/api/me/email", token=token))[1]["confirmed"] is False


async def test_an_address_confirmed_by_one_is_taken_for_others(
        tmp_path: Path, database_dsn: str, smtp: Inbox) -> None:
    """Two accounts may type one address; the first to confirm it has it: the other's PUT is
    409 email_taken (any case), and a link sent to the other before says it is taken."""
    async with running(_config(tmp_path, database_dsn, smtp)) as server:
        port = server.http_port
        ann = await register_and_login(port, "ann")
        bob = await register_and_login(port, "bob")
        await http(port, "PUT", "/api/me/email", {"email": "shared@example.org"}, token=bob)
        (bobs,) = await smtp.wait_for(1)
        await _set_and_confirm(server, smtp, ann, "shared@example.org", 1)
        status, body = await _confirm(port, _confirmation(bobs))
        assert (status, body["code"]) == (409, "email_taken")
        assert "Another account has confirmed this address" in body["message"]
        status, body = await http(port, "PUT", "/api/me/email",
                                  {"email": "SHARED@example.org"}, token=bob)
        assert (status, body["code"]) == (409, "email_taken")


async def test_bad_addresses_removal_and_the_setting(
        tmp_path: Path, database_dsn: str, smtp: Inbox) -> None:
    """Not an address is 400 bad_request; DELETE removes the address (its link then confirms
    nothing); PUT /api/me/email-notifications turns the emails off and on."""
    async with running(_config(tmp_path, database_dsn, smtp)) as server:
        port = server.http_port
        token = await register_and_login(port, "ann")
        for bad in ("", "ann", "ann@", "@example.org", "ann@example", "a b@example.org",
                    "ann@example.org\r\nBcc: x@example.org", 42, None, "x" * 250 + "@a.org"):
            status, body = await http(port, "PUT", "/api/me/email", {"email": bad},
                                      token=token)
            assert (status, body["code"]) == (400, "bad_request"), bad
        await http(port, "PUT", "/api/me/email", {"email": "ann@example.org"}, token=token)
        (mail,) = await smtp.wait_for(1)
        assert await http(port, "DELETE", "/api/me/email", token=token) == (
            200, {"email": None, "confirmed": False, "notify": True, "available": True,
                  "pending": None})
        status, body = await _confirm(port, _confirmation(mail))
        assert (status, body["code"]) == (400, "bad_token")
        status, body = await http(port, "PUT", "/api/me/email-notifications", {"on": False},
                                  token=token)
        assert (status, body["notify"]) == (200, False)
        status, body = await http(port, "PUT", "/api/me/email-notifications", {"on": "no"},
                                  token=token)
        assert (status, body["code"]) == (400, "bad_request")
        assert (await http(port, "GET", "/api/me/email", token=token))[1]["notify"] is False


async def test_confirmation_mails_are_limited_per_user(
        tmp_path: Path, database_dsn: str, smtp: Inbox) -> None:
    """A fourth confirmation mail within the hour is 429 rate_limited; three were sent."""
    async with running(_config(tmp_path, database_dsn, smtp)) as server:
        port = server.http_port
        token = await register_and_login(port, "ann")
        for number in range(3):
            status, _ = await http(port, "PUT", "/api/me/email",
                                   {"email": f"ann{number}@example.org"}, token=token)
            assert status == 202
        status, body = await http(port, "PUT", "/api/me/email", {"email": "ann9@example.org"},
                                  token=token)
        assert (status, body["code"]) == (429, "rate_limited")
        await smtp.wait_for(3)


async def test_without_smtp_email_is_unavailable(tmp_path: Path, database_dsn: str) -> None:
    """With no [email] smtp_host: GET says available false, setting an address and asking
    for a reset are 409 email_disabled, and GET /api/register says password_reset false."""
    async with running(make_config(tmp_path, database_dsn)) as server:
        port = server.http_port
        token = await register_and_login(port, "ann")
        assert (await http(port, "GET", "/api/me/email", token=token))[1]["available"] is False
        status, body = await http(port, "PUT", "/api/me/email", {"email": "ann@example.org"},
                                  token=token)
        assert (status, body["code"]) == (409, "email_disabled")
        status, body = await http(port, "POST", "/api/password-reset", {"user": "ann"})
        assert (status, body["code"]) == (409, "email_disabled")
        assert (await http(port, "GET", "/api/register"))[1]["password_reset"] is False


async def test_password_reset_by_email(tmp_path: Path, database_dsn: str, smtp: Inbox) -> None:
    """A reset asked by user name or by confirmed address (any case) mails a link to the
    page; its token, posted in the body, sets a new password once (a second use is
    bad_token), ends the open session with unauthenticated and revokes the old token; the
    old password no longer logs in, the new one does. The deprecated route with the token
    in its path still takes a link's token."""
    async with running(_config(tmp_path, database_dsn, smtp)) as server:
        port = server.http_port
        assert (await http(port, "GET", "/api/register"))[1]["password_reset"] is True
        token = await register_and_login(port, "ann")
        await _set_and_confirm(server, smtp, token, "ann@example.org", 0)
        live = await Client.tcp(server.tcp_port)
        await live.hello(token)
        try:
            for target, mails in (("ANN", 2), ("Ann@Example.Org", 3)):
                status, body = await http(port, "POST", "/api/password-reset",
                                          {"user": target})
                assert (status, body) == (202, {})
                mail = (await smtp.wait_for(mails))[-1]
                assert mail["To"] == "ann@example.org"
            (link,) = [word for word in text_of(mail).split() if "#reset=" in word]
            assert link.startswith("https://chat.example.org/#reset=")
            reset = link.partition("#reset=")[2]
            status, body = await http(port, "POST", "/api/password-reset/complete",
                                      {"token": reset, "password": "short"})
            assert (status, body["code"]) == (400, "bad_request")
            status, body = await http(port, "POST", "/api/password-reset/complete",
                                      {"password": "a new password"})
            assert (status, body["code"]) == (400, "bad_request")
            status, body = await http(port, "POST", "/api/password-reset/complete",
                                      {"token": reset, "password": "a new password"})
            assert (status, body) == (200, {"user": "ann"})
            ended = await live.event("error")
            assert ended["code"] == "unauthenticated"
        finally:
            await live.aclose()
        status, body = await http(port, "POST", "/api/password-reset/complete",
                                  {"token": reset, "password": "another password"})
        assert (status, body["code"]) == (400, "bad_token")
        status, _ = await http(port, "GET", "/api/me", token=token)
        assert status == 401
        status, _ = await http(port, "POST", "/api/login",
                               {"username": "ann", "password": PASSWORD})
        assert status == 401
        status, _ = await http(port, "POST", "/api/login",
                               {"username": "ann", "password": "a new password"})
        assert status == 200
        for bad in ("x", "A" * 32, "%2e%2e"):
            status, body = await http(port, "POST", "/api/password-reset/complete",
                                      {"token": bad, "password": "a new password"})
            assert (status, body["code"]) == (400, "bad_token"), bad
        # the deprecated route (the token in the path) still sets a password
        await http(port, "POST", "/api/password-reset", {"user": "ann"})
        mail = (await smtp.wait_for(4))[-1]
        old = next(w for w in text_of(mail).split() if "#reset=" in w).partition("=")[2]
        status, body = await http(port, "POST", f"/api/password-reset/{old}",
                                  {"password": "the third password"})
        assert (status, body) == (200, {"user": "ann"})


async def test_a_reset_tells_nobody_who_has_an_account(
        tmp_path: Path, database_dsn: str, smtp: Inbox) -> None:
    """The same 202 {} for an account with a confirmed address, one without, a deactivated
    one and nobody at all; only the first is mailed. An expired link is bad_token; past 10
    requests from one address, 429."""
    async with running(_config(tmp_path, database_dsn, smtp)) as server:
        port = server.http_port
        ann = await register_and_login(port, "ann")
        await register_and_login(port, "bob")  # no address
        cid = await register_and_login(port, "cid")
        await _set_and_confirm(server, smtp, ann, "ann@example.org", 0)
        await _set_and_confirm(server, smtp, cid, "cid@example.org", 1)
        await server.app.storage.set_deactivated("cid", True)
        answers = set()
        for target in ("bob", "nobody", "nobody@example.org", "cid", "cid@example.org", "ann"):
            status, body = await http(port, "POST", "/api/password-reset", {"user": target})
            answers.add((status, str(body)))
        assert answers == {(202, "{}")}
        mails = await smtp.wait_for(3)
        assert [m["To"] for m in mails[2:]] == ["ann@example.org"]
        await fetchval_apart(database_dsn, "UPDATE email_tokens SET expires_at = now() - "
                                           "interval '1 second' WHERE purpose = 'reset'")
        reset = next(w for w in text_of(mails[2]).split() if "#reset=" in w).partition("=")[2]
        status, body = await http(port, "POST", "/api/password-reset/complete",
                                  {"token": reset, "password": "a new password"})
        assert (status, body["code"]) == (400, "bad_token")
        for _ in range(4):
            status, _ = await http(port, "POST", "/api/password-reset", {"user": "nobody"})
            assert status == 202
        status, body = await http(port, "POST", "/api/password-reset", {"user": "nobody"})
        assert (status, body["code"]) == (429, "rate_limited")
        status, body = await http(port, "POST", "/api/password-reset", {"user": 5})
        assert status in (400, 429)


async def test_register_says_the_password_rule(tmp_path: Path, database_dsn: str,
                                              smtp: Inbox) -> None:
    """GET /api/register says auth.min_password_length, which a reset's password is held to
    as a registration's is."""
    config = make_config(tmp_path, database_dsn, email=email_config(smtp),
                         server={"public_url": "https://chat.example.org"},
                         auth={"min_password_length": 12})
    async with running(config) as server:
        port = server.http_port
        assert (await http(port, "GET", "/api/register"))[1]["min_password_length"] == 12
        status, body = await http(port, "POST", "/api/register",
                                  {"username": "ann", "password": "eleven char"})
        assert (status, body["code"]) == (400, "bad_request")
    async with running(_config(tmp_path, database_dsn, smtp)) as server:
        assert (await http(server.http_port, "GET", "/api/register"))[1][
            "min_password_length"] == 8


async def test_reset_limits_hold_across_two_nodes(tmp_path: Path, database_dsn: str,
                                                 smtp: Inbox) -> None:
    """Two nodes on one database take from the same reset limits: 3 links for one account
    an hour (the 4th request, on either node, stores no token), 10 requests from one
    address (the 11th, on either node, is 429)."""
    config = _config(tmp_path, database_dsn, smtp)
    async with running(config) as one, running(config) as two:
        token = await register_and_login(one.http_port, "ann")
        await _set_and_confirm(one, smtp, token, "ann@example.org", 0)
        for node in (one, two, one, two):
            status, body = await http(node.http_port, "POST", "/api/password-reset",
                                      {"user": "ann"})
            assert (status, body) == (202, {})
        # each request stored its token (or not) before it was answered
        assert await fetchval_apart(database_dsn, "SELECT count(*) FROM email_tokens "
                                                  "WHERE purpose = 'reset'") == 3
        for number in range(6):  # 10 requests from 127.0.0.1 in all
            node = (one, two)[number % 2]
            status, _ = await http(node.http_port, "POST", "/api/password-reset",
                                   {"user": f"nobody{number}"})
            assert status == 202
        for node in (one, two):
            status, body = await http(node.http_port, "POST", "/api/password-reset",
                                      {"user": "nobody"})
            assert (status, body["code"]) == (429, "rate_limited")
        assert await fetchval_apart(database_dsn, "SELECT count(*) FROM email_tokens "
                                                  "WHERE purpose = 'reset'") == 3
        await smtp.wait_for(4)  # the confirmation and three links

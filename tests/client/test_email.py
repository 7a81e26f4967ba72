"""`chatd client` and email, end to end: a real client process on a pty, a real daemon and
a real SMTP server on 127.0.0.1 (tests/smtpserver.py).

What is checked: /email says there is no address; /email ADDRESS sets one and says a link
was mailed (the SMTP server took it); opening the link confirms it, which /email then says;
another address waits for its link while the confirmed one stays, which /email says;
/email off and /email on turn the missed-message emails off and on; /email remove removes
the address; a bad address is the server's bad_request, said as a problem.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from chatd.config import Config
from tests.client.test_changes import ann_with_bob
from tests.client.wire import http
from tests.e2e.conftest import running
from tests.helpers import make_config
from tests.smtpserver import Inbox, email_config, links_in, smtp

__all__ = ["smtp"]  # the fixture, used by name


@pytest.fixture
def config(tmp_path: Path, database_dsn: str, smtp: Inbox) -> Config:
    return make_config(tmp_path, database_dsn, server={"grace_period": 3.0},
                       email=email_config(smtp))


async def test_email_shows_sets_confirms_toggles_and_removes(
        tmp_path: Path, config: Config, smtp: Inbox) -> None:
    """/email, /email ADDRESS (the link mailed, then opened), /email off|on, /email remove,
    and a bad address."""
    async with running(config) as server, trio.open_nursery() as nursery, \
            ann_with_bob(tmp_path, server, nursery) as (term, bob):
        await term.type("/email")
        await term.expect(r"you have no email address here; /email ADDRESS sets one")
        await term.type("/email ann@example.org")
        await term.expect(r"a link to confirm ann@example\.org was mailed to it")
        (mail,) = await smtp.wait_for(1)
        (link,) = links_in(mail, "#confirm-email=")
        status, _ = await http(server.http_port, "POST", "/api/email/confirm",
                               {"token": link.partition("#confirm-email=")[2]})
        assert status == 200
        await term.type("/email")
        await term.expect(r"your email address: ann@example\.org \(confirmed\); missed direct "
                          r"messages and mentions are mailed to you")
        await term.type("/email ann@work.example")
        await term.expect(r"a link to confirm ann@work\.example was mailed to it: open it \(it "
                          r"works for 24 hours\); until then mail still goes to "
                          r"ann@example\.org")
        await term.type("/email")
        await term.expect(r"ann@example\.org \(confirmed; changing to ann@work\.example once "
                          r"the link mailed to it is opened\)")
        await term.type("/email off")
        await term.expect(r"ann@example\.org \(confirmed; changing to ann@work\.example [^)]*\); "
                          r"missed-message emails are off")
        await term.type("/email on")
        await term.expect(r"mentions are mailed to you \(/email off stops them\)")
        await term.type("/email not-an-address")
        await term.expect(r"/email: bad_request: 'email' must be an email address")
        await term.type("/email remove")
        await term.expect(r"your email address is removed")
        await bob.aclose()

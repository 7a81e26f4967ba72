"""Email's pure parts and `chatd email test`: which addresses are taken (a property test:
any text is judged without an error, and what is taken cannot smuggle a header), the
unsubscribe links' tokens, the missed-message email's subject, body and headers (every
user text escaped in the HTML), the retry delays, the [email] settings, and the command
against a real SMTP server on 127.0.0.1.
"""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chatd.config import ConfigError, EmailConfig, load_config
from chatd.emails import (
    MAX_RETRY_SECONDS,
    TEXT_CHARS,
    check_unsubscribe_token,
    message_url,
    missed_mail,
    retry_seconds,
    subject,
    unsubscribe_token,
)
from chatd.mail import is_address, parse_sender
from chatd.storage import EmailBatch, MissedMessage
from tests.smtpserver import Inbox, html_of, smtp, text_of
from tests.test_cli import _env, _one_line_failure, _run

__all__ = ["smtp"]  # the fixture, used by name

KEY = b"k" * 32
CONFIG = EmailConfig(smtp_host="127.0.0.1", sender="chatd <chatd@example.org>",
                     batch_seconds=120.0)


@pytest.mark.parametrize("value", ["ann@example.org", "a.b+tag@mail.example.co.uk",
                                   "x_y-z@a-b.example", "Ann@Example.ORG"])
def test_addresses_taken(value: str) -> None:
    """Everyday addresses are taken, in any case."""
    assert is_address(value)


@pytest.mark.parametrize("value", ["", "ann", "ann@", "@example.org", "ann@example",
                                   "ann@@example.org", "a b@example.org", "ann@exa mple.org",
                                   "ann@example.org\r\nBcc: x@example.org", "<a@example.org>",
                                   "ann@example.123", ".ann@example.org", "ann.@example.org",
                                   "ann@-example.org", "\"ann\"@example.org",
                                   "x" * 65 + "@example.org", "a@" + "b" * 250 + ".org",
                                   None, 7, ["ann@example.org"]])
def test_addresses_refused(value: object) -> None:
    """Not an address, a header injection, quoted or too long: refused."""
    assert not is_address(value)


@given(st.text(max_size=300))
def test_any_text_is_judged_and_what_is_taken_carries_no_header(value: str) -> None:
    """Any text is judged without an error; what is taken has one @, a dotted domain, and
    no whitespace, control character, bracket or separator a header could be split on."""
    if is_address(value):
        assert value.count("@") == 1 and "." in value.rpartition("@")[2]
        assert not any(c.isspace() or ord(c) < 32 or c in "<>(),;:\"\\[]" for c in value)
        assert len(value) <= 254 and value.isascii()


_ATOM = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+/=?^_`{|}~-",
                min_size=1, max_size=10)
_LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)


@given(st.lists(_ATOM, min_size=1, max_size=3), st.lists(_LABEL, min_size=1, max_size=3),
       st.from_regex(r"[a-z]{2,6}", fullmatch=True))
def test_generated_addresses_are_taken(local: list[str], labels: list[str], top: str) -> None:
    """An address built by the grammar (dot-separated atoms @ labels . a top-level name)
    is taken."""
    assert is_address(".".join(local) + "@" + ".".join([*labels, top]))


def test_the_sender_setting() -> None:
    """[email] from: a display name and an address, or a bare address; else a clear error."""
    assert str(parse_sender("chatd <chatd@example.org>")) == "chatd <chatd@example.org>"
    assert parse_sender("chatd@example.org").addr_spec == "chatd@example.org"
    for bad in ("", "chatd", "chatd <nobody>", "a@example.org\nBcc: b@example.org"):
        with pytest.raises(ValueError):
            parse_sender(bad)


def test_unsubscribe_tokens() -> None:
    """A user's token names them; another key's, another user's id with this MAC, or a cut
    token names nobody."""
    token = unsubscribe_token(KEY, 42)
    assert check_unsubscribe_token(KEY, token) == 42
    assert check_unsubscribe_token(b"x" * 32, token) is None
    assert check_unsubscribe_token(KEY, "43" + token[2:]) is None
    assert check_unsubscribe_token(KEY, token[:-1]) is None


@given(st.text(max_size=80))
def test_no_made_up_unsubscribe_token_names_anyone(value: str) -> None:
    """Any string is judged without an error, and none but a real token names a user."""
    found = check_unsubscribe_token(KEY, value)
    assert found is None or unsubscribe_token(KEY, found) == value


def _message(room: str, kind: str, seq: int, text: str, *, sender: str = "ann",
             display: str | None = None, reason: str = "dm") -> MissedMessage:
    return MissedMessage(room=room, kind=kind, seq=seq, msg_id=100 + seq, sender=sender,
                         sender_display=display, text=text, ts=1_767_225_600_000 + seq,
                         reason=reason)


def _batch(*messages: MissedMessage, more: int = 0) -> EmailBatch:
    return EmailBatch(user_id=7, user="bob", display_name=None, email="bob@example.org",
                      paused_until=None, attempts=0, messages=messages, more=more,
                      queued=tuple((1, m.seq) for m in messages))


def test_subjects() -> None:
    """One mention: who and where; one direct message: from whom; several: how many, from
    whom (display names)."""
    mention = _message("ops", "room", 1, "@bob look", reason="mention")
    assert subject(_batch(mention)) == "ann mentioned you in #ops"
    assert subject(_batch(_message("@ann:bob", "dm", 1, "hi"))) == "New message from ann"
    several = _batch(_message("@ann:bob", "dm", 1, "a"),
                     _message("@bob:cid", "dm", 2, "b", sender="cid", display="Cid Doe"),
                     _message("@ann:bob", "dm", 3, "c"))
    assert subject(several) == "3 new messages from ann and Cid Doe"
    assert subject(_batch(mention, more=4)) == "5 new messages from ann"


def test_the_email_escapes_cuts_groups_and_links() -> None:
    """The HTML escapes every user text (a name, a room's, a message's); a long text is cut;
    messages are grouped by room; each links to its message; the footer and the RFC 8058
    headers carry the unsubscribe URL."""
    evil = "<img src=x onerror=alert(1)> & \"quotes\""
    long = "word " * 400
    batch = _batch(_message("ops", "room", 1, evil, display="<b>Ann</b>", reason="mention"),
                   _message("@ann:bob:cid", "group", 2, long),
                   _message("ops", "room", 3, "second in ops", reason="mention"))
    mail = missed_mail(CONFIG, batch, base_url="https://chat.example.org",
                       unsubscribe_url="https://chat.example.org/api/email/unsubscribe/7.x")
    again = email.message_from_bytes(mail.as_bytes(), policy=email.policy.default)
    page = html_of(again)
    assert "<img" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<b>Ann</b>" not in page and "&lt;b&gt;Ann&lt;/b&gt;" in page
    text = text_of(again)
    assert evil in text and "<b>Ann</b> (@ann)" in text
    assert ("word " * 400).strip() not in text and "…" in text
    assert text.index("#ops") < text.index("second in ops") < text.index("group conversation")
    assert message_url("https://chat.example.org", "@ann:bob:cid", 102) in text
    assert again["List-Unsubscribe"] == "<https://chat.example.org/api/email/unsubscribe/7.x>"
    assert again["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "Turn these emails off" in text and "2 minutes later" in text
    assert again["From"] == "chatd <chatd@example.org>" and again["To"] == "bob@example.org"
    assert len(TEXT_CHARS * "x") < len(long)


def test_retries_double_up_to_an_hour() -> None:
    """A failed email waits batch_seconds, then twice as long each time, at most an hour."""
    assert [retry_seconds(CONFIG, n) for n in (1, 2, 3)] == [120.0, 240.0, 480.0]
    assert retry_seconds(CONFIG, 40) == MAX_RETRY_SECONDS


def test_email_settings(tmp_path: Path) -> None:
    """[email] from the file (`from` is the sender) and CHATD_EMAIL_* variables; off by
    default; mistakes named: a bad security, a from missing or unusable, a log-in half
    given."""
    path = tmp_path / "chatd.toml"
    path.write_text('[email]\nsmtp_host = "smtp.example.org"\nfrom = "chatd <c@example.org>"\n'
                    'batch_seconds = 60\n')
    config = load_config(path, env={"CHATD_EMAIL_SMTP_PORT": "465",
                                    "CHATD_EMAIL_SECURITY": "tls"})
    assert config.email.sender == "chatd <c@example.org>" and config.email.enabled
    assert (config.email.smtp_port, config.email.security) == (465, "tls")
    assert config.email.batch_seconds == 60.0
    assert config.source("email.from") == f"[email] from in {path}"
    assert not load_config(tmp_path / "chatd.toml", env={"CHATD_EMAIL_SMTP_HOST": ""}
                           ).email.enabled
    env = {"CHATD_EMAIL_FROM": "nobody", "CHATD_EMAIL_SECURITY": "ssl",
           "CHATD_EMAIL_USERNAME": "chatd", "CHATD_EMAIL_BATCH_SECONDS": "0"}
    with pytest.raises(ConfigError) as raised:
        load_config(path, env=env)
    problems = "\n".join(raised.value.problems)
    for key in ("CHATD_EMAIL_FROM", "CHATD_EMAIL_SECURITY", "[email] password",
                "CHATD_EMAIL_BATCH_SECONDS"):
        assert key in problems, problems


def test_email_test_sends_a_mail(tmp_path: Path, smtp: Inbox) -> None:
    """`chatd email test ADDRESS` mails ADDRESS through [email] and says so (exit 0)."""
    env = _env(tmp_path, CHATD_EMAIL_SMTP_HOST="127.0.0.1",
               CHATD_EMAIL_SMTP_PORT=str(smtp.port), CHATD_EMAIL_SECURITY="none",
               CHATD_EMAIL_FROM="chatd <chatd@example.org>")
    result = _run("email", "test", "ops@example.org", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "took a test mail to ops@example.org" in result.stderr
    assert smtp.recipients == [["ops@example.org"]]
    assert "test mail" in text_of(smtp.messages[0])


def test_email_test_says_why_it_failed(tmp_path: Path, smtp: Inbox) -> None:
    """A refused mail (451), TLS asked of a plain server, a closed port, email off, a bad
    address: one line each, exit 1 (or 2 for the settings)."""
    def run(address: str = "ops@example.org", **env: str) -> tuple[int, str]:
        settings = {"CHATD_EMAIL_SMTP_HOST": "127.0.0.1", "CHATD_EMAIL_SMTP_PORT":
                    str(smtp.port), "CHATD_EMAIL_SECURITY": "none",
                    "CHATD_EMAIL_FROM": "chatd <chatd@example.org>", **env}
        result = _run("email", "test", address, env=_env(tmp_path, **settings), cwd=tmp_path)
        return result.returncode, _one_line_failure(result)

    smtp.failing = True
    status, said = run()
    assert status == 1 and "(refused)" in said
    smtp.failing = False
    status, said = run(CHATD_EMAIL_SECURITY="tls")
    assert status == 1 and ("(unavailable)" in said or "(tls)" in said), said
    status, said = run(CHATD_EMAIL_SMTP_PORT="1")
    assert status == 1 and "(unavailable)" in said
    status, said = run(CHATD_EMAIL_SMTP_HOST="")
    assert status == 2 and "email is off" in said
    status, said = run("nobody")
    assert status == 2 and "not an email address" in said
    assert smtp.messages == []

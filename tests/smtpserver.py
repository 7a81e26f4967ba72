"""A real SMTP server on 127.0.0.1 for the email tests: aiosmtpd's ``Controller`` (its own
asyncio loop in a thread) on a free port, keeping every mail it takes.

A test waits for the mails it asserts (:meth:`Inbox.wait_for`, a condition waited on in a
worker thread, with a generous timeout as a safety net), never for time. :attr:`Inbox.failing`
makes the server refuse mails with a temporary error (451) until it is cleared: an SMTP
server that is down, then up again.
"""

from __future__ import annotations

import email
import email.policy
import socket
import threading
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from typing import Any

import pytest
import trio
from aiosmtpd.controller import Controller

__all__ = ["Inbox", "email_config", "html_of", "links_in", "smtp", "start_smtp", "text_of"]

#: Seconds a wait for mail gives up after (the state should come much sooner).
WAIT = 20.0


class Inbox:
    """What the SMTP server took, in order; ``refused``: attempts it refused."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.recipients: list[list[str]] = []
        self.refused = 0
        self.failing = False
        self.port = 0
        self._changed = threading.Condition()

    # aiosmtpd's handler hooks (on its loop's thread)
    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          options: list[str]) -> str:
        if self.failing:
            with self._changed:
                self.refused += 1
                self._changed.notify_all()
            return "451 4.3.0 try again later (the test's SMTP server is down)"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.original_content or envelope.content,
                                           policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self._changed:
            self.messages.append(message)
            self.recipients.append(list(envelope.rcpt_tos))
            self._changed.notify_all()
        return "250 OK"

    def _wait(self, ready: Callable[[], bool]) -> bool:
        with self._changed:
            return self._changed.wait_for(ready, timeout=WAIT)

    async def wait_for(self, count: int) -> list[EmailMessage]:
        """Wait until the server took ``count`` mails in all; the mails."""
        done = await trio.to_thread.run_sync(self._wait, lambda: len(self.messages) >= count,
                                             abandon_on_cancel=True)
        assert done, f"{len(self.messages)} mails came, not {count}"
        return list(self.messages)

    def wait_for_sync(self, count: int) -> list[EmailMessage]:
        """:meth:`wait_for`, for a test outside trio."""
        assert self._wait(lambda: len(self.messages) >= count), len(self.messages)
        return list(self.messages)

    async def wait_refused(self, count: int) -> None:
        """Wait until the server refused ``count`` attempts in all."""
        done = await trio.to_thread.run_sync(self._wait, lambda: self.refused >= count,
                                             abandon_on_cancel=True)
        assert done, f"{self.refused} attempts refused, not {count}"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_smtp() -> tuple[Inbox, Callable[[], None]]:
    """An SMTP server on 127.0.0.1 (plain text, no log-in) started: its inbox, and what
    stops it."""
    inbox = Inbox()
    inbox.port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port)
    controller.start()
    return inbox, controller.stop


@pytest.fixture
def smtp() -> Iterator[Inbox]:
    """An SMTP server on 127.0.0.1 (plain text, no log-in) and its inbox."""
    inbox, stop = start_smtp()
    try:
        yield inbox
    finally:
        stop()


def email_config(inbox: Inbox, **more: Any) -> dict[str, Any]:
    """``[email]`` for a daemon that mails through ``inbox``'s server."""
    return {"smtp_host": "127.0.0.1", "smtp_port": inbox.port, "security": "none",
            "sender": "chatd <chatd@example.org>", "timeout": 5.0, **more}


def text_of(message: EmailMessage) -> str:
    """The plain text part of a mail."""
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def html_of(message: EmailMessage) -> str:
    """The HTML part of a mail."""
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())


def links_in(message: EmailMessage, marker: str) -> list[str]:
    """The http(s) links of a mail's text that hold ``marker``."""
    return [word for word in text_of(message).split()
            if word.startswith("http") and marker in word]

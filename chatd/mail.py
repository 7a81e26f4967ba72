"""Sending email: one SMTP conversation per mail, in a worker thread, and the mails chatd
writes (an address's confirmation, a password reset, the operator's test).

Theory of operation. ``smtplib`` blocks, so :meth:`Mailer.send` runs it in a worker thread
(``trio.to_thread.run_sync``), at most :data:`CONNECTIONS` at once, and never on the event
loop; ``[email] timeout`` bounds each socket operation. A failure is sorted into a
:class:`MailError` whose ``reason`` labels ``chatd_email_failed_total`` and says whether
trying again may help (``temporary``): the SMTP server not answering, or answering 4xx, may
pass; a refused log-in, a refused sender or recipient (5xx) or a TLS failure will not.

Mails that a request asks for (a confirmation link, a reset link) are not sent while the
request waits: :meth:`Mailer.send_soon` queues them (bounded: a full queue drops and counts,
so a flood of requests cannot pile up threads) for :meth:`Mailer.run`'s workers, which try
:data:`ATTEMPTS` times with a doubling delay. The request is answered 202 at once: whether
the address exists, or the server is slow, is not in its timing.

Every mail is ``multipart/alternative``: plain text first, then HTML in which every text a
user wrote (or chose: a display name, a room name) is escaped (:func:`html.escape`).
"""

from __future__ import annotations

import dataclasses
import email.utils
import html
import logging
import re
import smtplib
import ssl
from collections.abc import Sequence
from email.headerregistry import Address
from email.message import EmailMessage

import trio

from chatd.config import EmailConfig
from chatd.metrics import Metrics

__all__ = [
    "ATTEMPTS",
    "CONNECTIONS",
    "MAX_ADDRESS_CHARS",
    "MailError",
    "Mailer",
    "check_mail",
    "confirmation_mail",
    "deliver",
    "is_address",
    "new_mail",
    "parse_sender",
    "reset_mail",
]

log = logging.getLogger(__name__)

#: SMTP conversations at once (worker threads).
CONNECTIONS = 2
#: Tries of a queued mail (the first and the retries), and the delay before the first retry.
ATTEMPTS = 3
RETRY_DELAY = 2.0
#: Mails that may wait for a worker (more are dropped and counted).
QUEUE = 100
#: The longest address taken (RFC 5321's path limit, less the brackets).
MAX_ADDRESS_CHARS = 254

# An address as people type it: a local part of printable ASCII without spaces, quotes,
# brackets or separators, one @, and a domain of dot-separated labels (letters, digits,
# hyphens inside) with at least one dot. Stricter than RFC 5322 (no quoted local parts, no
# comments, no address literals), which is what every real mailbox fits.
_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


def is_address(value: object) -> bool:
    """Whether ``value`` is an email address chatd takes (see the pattern above): at most
    :data:`MAX_ADDRESS_CHARS`, a local part of at most 64, a domain with a dot. Never
    raises."""
    if not isinstance(value, str) or not 3 <= len(value) <= MAX_ADDRESS_CHARS:
        return False
    local, at, domain = value.rpartition("@")
    if not at or len(local) > 64 or _LOCAL.fullmatch(local) is None:
        return False
    labels = domain.split(".")
    return len(labels) >= 2 and all(_LABEL.fullmatch(label) for label in labels) \
        and not labels[-1].isdigit()


def parse_sender(value: str) -> Address:
    """``[email] from`` (``chatd <chatd@example.org>``, or a bare address) as a header's
    address.

    Raises:
        ValueError: it is empty or holds no address chatd takes; the message says so.
    """
    if not value.strip():
        raise ValueError('needed with [email] smtp_host: who mails are from, e.g. '
                         '"chatd <chatd@example.org>"')
    if any(c in value for c in "\r\n"):
        raise ValueError("one line, without a line break")
    name, address = email.utils.parseaddr(value)
    if not is_address(address):
        raise ValueError(f'an address, e.g. "chatd <chatd@example.org>", got {value!r}')
    local, _, domain = address.rpartition("@")
    return Address(display_name=name, username=local, domain=domain)


class MailError(Exception):
    """A mail was not sent. ``reason``: ``unavailable`` (no answer, a dropped connection, a
    timeout), ``tls`` (no STARTTLS, a certificate refused), ``auth`` (the log-in refused),
    ``refused`` (the sender, a recipient or the mail refused), ``internal``; ``temporary``:
    whether trying again may help."""

    def __init__(self, reason: str, message: str, *, temporary: bool) -> None:
        super().__init__(message)
        self.reason = reason
        self.temporary = temporary


def deliver(config: EmailConfig, message: EmailMessage) -> None:
    """Send ``message`` through the SMTP server of ``config``: one connection, STARTTLS or
    TLS as ``security`` says (the certificate verified against ``smtp_host``), the log-in
    if there is one. Blocks: run it in a worker thread.

    Raises:
        MailError: it was not sent (or may not have been: a connection lost after the data).
    """
    timeout = config.timeout
    context = ssl.create_default_context()
    try:
        smtp: smtplib.SMTP
        if config.security == "tls":
            smtp = smtplib.SMTP_SSL(config.smtp_host, config.smtp_port, timeout=timeout,
                                    context=context)
        else:
            smtp = smtplib.SMTP(config.smtp_host, config.smtp_port, timeout=timeout)
        with smtp:
            if config.security == "starttls":
                smtp.starttls(context=context)
            if config.username:
                smtp.login(config.username, config.password)
            smtp.send_message(message)
    except smtplib.SMTPNotSupportedError as exc:
        raise MailError("tls", f"the SMTP server offers no STARTTLS ({exc}); set [email] "
                               'security = "tls" or "none"', temporary=False) from None
    except smtplib.SMTPAuthenticationError as exc:
        raise MailError("auth", f"the SMTP server refused the log-in: {_said(exc)}",
                        temporary=False) from None
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        raise MailError("refused", f"the SMTP server refused the recipient: {exc.recipients}",
                        temporary=all(400 <= code < 500 for code in codes)) from None
    except smtplib.SMTPResponseException as exc:  # the sender or the data refused, ...
        raise MailError("refused", f"the SMTP server answered {_said(exc)}",
                        temporary=400 <= exc.smtp_code < 500) from None
    except ssl.SSLError as exc:
        raise MailError("tls", f"TLS with the SMTP server failed: {exc}",
                        temporary=False) from None
    except (TimeoutError, smtplib.SMTPException, OSError) as exc:
        raise MailError("unavailable", f"the SMTP server at {config.smtp_host}:"
                                       f"{config.smtp_port} did not take the mail: "
                                       f"{_why(exc)}", temporary=True) from None


def _why(exc: BaseException) -> str:
    """A failure in words, for one line of a log or of the command line."""
    if isinstance(exc, TimeoutError):
        return "no answer in time ([email] timeout)"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc) or type(exc).__name__


def _said(exc: smtplib.SMTPResponseException) -> str:
    text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) \
        else str(exc.smtp_error)
    return f"{exc.smtp_code} {text}"


def new_mail(config: EmailConfig, to: str, subject: str, text: str, body_html: str, *,
             headers: Sequence[tuple[str, str]] = ()) -> EmailMessage:
    """A mail from ``[email] from`` to ``to``: ``text`` and ``body_html`` (a whole HTML
    document, whose user texts the caller escaped) as ``multipart/alternative``."""
    message = EmailMessage()
    message["From"] = parse_sender(config.sender)
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = email.utils.formatdate(localtime=False)
    domain = parse_sender(config.sender).domain
    message["Message-ID"] = email.utils.make_msgid(domain=domain)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies, please
    for name, value in headers:
        message[name] = value
    message.set_content(text)
    message.add_alternative(body_html, subtype="html")
    return message


def page(title: str, body: str) -> str:
    """A small HTML document (a mail's, or an answer's: the confirmation link's) around
    ``body`` (already escaped); ``title`` is escaped here."""
    return ("<!doctype html>\n<html><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width\">"
            f"<title>{html.escape(title)}</title></head>"
            "<body style=\"font-family:system-ui,sans-serif;max-width:40em;margin:1em auto;"
            f"padding:0 1em;line-height:1.4\">{body}</body></html>\n")


def _button(url: str, label: str) -> str:
    return (f"<p><a href=\"{html.escape(url)}\" style=\"display:inline-block;padding:.5em 1em;"
            "background:#2458a6;color:#fff;border-radius:4px;text-decoration:none\">"
            f"{html.escape(label)}</a></p>")


def confirmation_mail(config: EmailConfig, to: str, user: str, url: str,
                      server: str) -> EmailMessage:
    """The mail that confirms ``to`` is ``user``'s: the link (24 hours, once)."""
    where = server or "chatd"
    text = (f"Hello {user},\n\nTo confirm that {to} is your address on {where}, open this "
            f"link (it works once, for 24 hours):\n\n{url}\n\nIf you did not ask for this, "
            "ignore this mail: nothing changes.\n")
    body = (f"<p>Hello {html.escape(user)},</p><p>To confirm that {html.escape(to)} is your "
            f"address on {html.escape(where)}, open this link (it works once, for 24 "
            f"hours):</p>{_button(url, 'Confirm my address')}"
            f"<p style=\"color:#555\">{html.escape(url)}</p><p>If you did not ask for this, "
            "ignore this mail: nothing changes.</p>")
    return new_mail(config, to, f"Confirm your address on {where}", text,
                    page("Confirm your address", body))


def reset_mail(config: EmailConfig, to: str, user: str, url: str,
               server: str) -> EmailMessage:
    """The mail with a password reset link (1 hour, once) for ``user``."""
    where = server or "chatd"
    text = (f"Hello {user},\n\nSomeone (you, we hope) asked to reset the password of your "
            f"account {user} on {where}. To choose a new one, open this link (it works once, "
            f"for an hour):\n\n{url}\n\nIf it was not you, ignore this mail: your password "
            "stays as it is.\n")
    body = (f"<p>Hello {html.escape(user)},</p><p>Someone (you, we hope) asked to reset the "
            f"password of your account {html.escape(user)} on {html.escape(where)}. To "
            "choose a new one, open this link (it works once, for an hour):</p>"
            f"{_button(url, 'Choose a new password')}"
            f"<p style=\"color:#555\">{html.escape(url)}</p><p>If it was not you, ignore this "
            "mail: your password stays as it is.</p>")
    return new_mail(config, to, f"Reset your password on {where}", text,
                    page("Reset your password", body))


def check_mail(config: EmailConfig, to: str) -> EmailMessage:
    """``chatd email test``'s mail."""
    text = ("This is a test mail from chatd (`chatd email test`): the [email] settings "
            f"work. Sent through {config.smtp_host}:{config.smtp_port} "
            f"({config.security}).\n")
    body = (f"<p>This is a test mail from chatd (<code>chatd email test</code>): the "
            f"[email] settings work. Sent through {html.escape(config.smtp_host)}:"
            f"{config.smtp_port} ({html.escape(config.security)}).</p>")
    return new_mail(config, to, "chatd: a test mail", text, page("A test mail", body))


@dataclasses.dataclass(frozen=True, slots=True)
class _Queued:
    message: EmailMessage
    what: str


class Mailer:
    """Sends mail for the daemon (see the module's docstring): :meth:`send` now, in a worker
    thread, or :meth:`send_soon` from a request, queued for :meth:`run`'s workers.

    Args:
        config: ``[email]``.
        metrics: ``chatd_email_sent_total``, ``chatd_email_failed_total{reason}``.
        retry_delay: seconds before a queued mail's first retry (tests shorten it).
    """

    def __init__(self, config: EmailConfig, metrics: Metrics | None = None, *,
                 retry_delay: float = RETRY_DELAY) -> None:
        self.config = config
        self.metrics = metrics
        self._retry_delay = retry_delay
        self._limiter: trio.CapacityLimiter | None = None
        self._queue_in, self._queue = trio.open_memory_channel[_Queued](QUEUE)

    @property
    def enabled(self) -> bool:
        return self.config.enabled

    async def send(self, message: EmailMessage) -> None:
        """Send ``message`` now (one attempt, in a worker thread) and count the outcome.

        Raises:
            MailError: it was not sent.
        """
        if self._limiter is None:
            self._limiter = trio.CapacityLimiter(CONNECTIONS)
        try:
            await trio.to_thread.run_sync(deliver, self.config, message,
                                          limiter=self._limiter)
        except MailError as exc:
            if self.metrics is not None:
                self.metrics.email_failed.labels(exc.reason).inc()
            raise
        if self.metrics is not None:
            self.metrics.email_sent.inc()

    def send_soon(self, message: EmailMessage, what: str) -> bool:
        """Queue ``message`` (``what`` it is, for the log) for the workers; never blocks.
        False (counted as failed, ``dropped``) when the queue is full."""
        try:
            self._queue_in.send_nowait(_Queued(message, what))
        except trio.WouldBlock:
            log.warning("the mail queue is full: %s to %s dropped", what, message["To"])
            if self.metrics is not None:
                self.metrics.email_failed.labels("dropped").inc()
            return False
        return True

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                  ) -> None:
        """Send the queued mails, :data:`CONNECTIONS` at a time, until cancelled."""
        async with trio.open_nursery() as nursery:
            for _ in range(CONNECTIONS):
                nursery.start_soon(self._work)
            task_status.started()

    async def _work(self) -> None:
        async for queued in self._queue:
            delay = self._retry_delay
            for attempt in range(1, ATTEMPTS + 1):
                try:
                    await self.send(queued.message)
                    break
                except MailError as exc:
                    last = attempt == ATTEMPTS or not exc.temporary
                    log.warning("%s to %s not sent%s: %s", queued.what, queued.message["To"],
                                "" if last else " (trying again)", exc)
                    if last:
                        break
                    await trio.sleep(delay)
                    delay *= 2

"""Missed-message emails: a direct message or a mention that someone away has not read, mailed
to them after a while, several in one email.

Theory of operation. Two halves, as Zulip's and Mattermost's batched notifications have,
with the database between them so that nothing is lost to a restart.

Queueing, off the send path. :class:`EmailNotifier` is a :class:`chatd.httpout.Dispatcher`,
as the pusher is: the committer offers it every committed batch (never waiting), and one
resolver task looks up who may get an email for up to a thousand new messages in one
statement (:meth:`Storage.email_targets`: the other members of a conversation, the members a
message mentions, for the same reasons the pusher has, never the sender; only users with a
confirmed address and the emails on; not at a room level of ``none``). It leaves out the users
connected to any node (the presence tracker's view) and those whose notifications are
paused (do not disturb), and queues the rest in one more statement (``email_queue``; the
user's first message makes their ``email_batches`` row, due ``[email] batch_seconds`` later,
and the next ones join it). A server where nobody has the emails on makes no lookup at all
(``any_targets``; a notice of migration 0046 tells every node when that may have changed).
The committer's statements are the same as without email.

Sending, on one node. The due loop of every node (chatd.reminders.DueLoop) claims the due
batches ``FOR UPDATE SKIP LOCKED`` for a lease (:class:`MissedMail`): one node sends a given
email. It reads what is queued for the user, keeps what they still have not read (their read
marker), that is not deleted, in rooms they are still in, and mails that: one email, the
messages grouped by room. Whether their notifications are paused (do not disturb) is asked
again then, not only when the messages were queued: a user who paused them meanwhile gets no
email, and the batch is dropped (as Slack's do not disturb holds back what comes during it for
good, rather than delivering it when it ends). Then it removes the rows it read; rows queued
meanwhile make the batch due again a batch later. Nothing to mail (all read: they came back)
sends nothing. A node that dies between the mail and the removal leaves the batch claimed until
its lease ends, when a node claims it again and mails it again: a crash may send an email
twice, it never loses one. An SMTP failure frees the batch, due again after a delay that
doubles (up to :data:`MAX_RETRY_SECONDS`), its rows kept, :data:`MAX_ATTEMPTS` times; counted
each time (``chatd_email_failed_total``, ``chatd_email_retries_total``).

Every email carries its unsubscribe link (:func:`unsubscribe_token`: the user's id signed with
a key derived from the daemon's secret, so it needs no row and works on every node) in its
footer and in ``List-Unsubscribe`` with ``List-Unsubscribe-Post`` (RFC 8058: a mail client's
one-click POST turns the emails off; a GET only shows a page with a button, so that a link
scanner's GET does not).
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import html
import logging
import time
import urllib.parse
from collections.abc import Callable, Sequence
from email.message import EmailMessage

import trio

from chatd.config import EmailConfig
from chatd.httpout import Counters, Dispatcher
from chatd.mail import Mailer, MailError, new_mail, page
from chatd.metrics import Metrics
from chatd.presence import PresenceState
from chatd.protocol.names import conversation_members
from chatd.storage import EmailBatch, Message, MissedMessage, Storage, StorageUnavailable

__all__ = [
    "CLAIM",
    "MAX_ATTEMPTS",
    "MAX_RETRY_SECONDS",
    "TEXT_CHARS",
    "UNSUBSCRIBE_LABEL",
    "EmailNotifier",
    "MissedMail",
    "check_unsubscribe_token",
    "message_url",
    "missed_mail",
    "retry_seconds",
    "subject",
    "unsubscribe_token",
]

log = logging.getLogger(__name__)

#: Batches claimed at once: with two SMTP conversations at a time, each at most ``[email]
#: timeout``, they are sent well within a lease.
CLAIM = 4
#: Failed sends of one email before its messages are given up (about a day of retries).
MAX_ATTEMPTS = 12
#: The longest wait before the next try of an email that failed.
MAX_RETRY_SECONDS = 3600.0
#: The most characters of a message's text an email shows (then "…").
TEXT_CHARS = 600
#: What the unsubscribe key is derived from (chatd.auth.Auth.derive_key).
UNSUBSCRIBE_LABEL = b"chatd email unsubscribe v1"


def unsubscribe_token(key: bytes, user_id: int) -> str:
    """The token of user ``user_id``'s unsubscribe link: ``<id>.<HMAC-SHA256 of it>``."""
    mac = hmac.new(key, str(user_id).encode(), hashlib.sha256).digest()
    return f"{user_id}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def check_unsubscribe_token(key: bytes, token: str) -> int | None:
    """The user an unsubscribe token is for, or None for one that is not ours (any
    string)."""
    user, dot, _ = token.partition(".")
    if not dot or not user.isascii() or not user.isdigit() or len(user) > 19:
        return None
    user_id = int(user)
    if not hmac.compare_digest(unsubscribe_token(key, user_id).encode(),
                               token.encode("utf-8", "replace")):
        return None
    return user_id


def retry_seconds(config: EmailConfig, attempts: int) -> float:
    """How long an email that failed ``attempts`` times (1 or more) waits to be tried
    again: ``batch_seconds``, doubled at each failure, at most :data:`MAX_RETRY_SECONDS`."""
    return float(min(config.batch_seconds * 2 ** min(attempts - 1, 30), MAX_RETRY_SECONDS))


def message_url(base_url: str, room: str, msg_id: int) -> str:
    """The page's address of a message (clients/web/install.js reads it)."""
    return f"{base_url.rstrip('/')}/#room={urllib.parse.quote(room, safe='@:')}&msg={msg_id}"


def _who(message: MissedMessage) -> str:
    return message.sender_display or message.sender


def _place(message: MissedMessage, user: str) -> str:
    """Where a message was written, as the email names it."""
    if message.kind == "room":
        return f"#{message.room}"
    others = [name for name in conversation_members(message.room) if name != user.lower()]
    if message.kind == "dm":
        return f"your conversation with {_who(message) if others else 'yourself'}"
    return "the group conversation with " + ", ".join(others)


def _names(names: Sequence[str]) -> str:
    if len(names) == 1:
        return names[0]
    if len(names) <= 3:
        return ", ".join(names[:-1]) + " and " + names[-1]
    return f"{', '.join(names[:2])} and {len(names) - 2} others"


def subject(batch: EmailBatch) -> str:
    """The email's subject: "ann mentioned you in #ops", "New message from ann",
    "3 new messages from ann and bob"."""
    messages = batch.messages
    count = len(messages) + batch.more
    senders = list(dict.fromkeys(_who(m) for m in messages))
    if count == 1:
        only = messages[0]
        if only.reason == "mention":
            return f"{_who(only)} mentioned you in {_place(only, batch.user)}"
        return f"New message from {_who(only)}"
    return f"{count} new messages from {_names(senders)}"


def _cut(text: str) -> str:
    return text if len(text) <= TEXT_CHARS else text[:TEXT_CHARS].rstrip() + "…"


def _when(ts: int) -> str:
    moment = datetime.datetime.fromtimestamp(ts / 1000, datetime.UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def missed_mail(config: EmailConfig, batch: EmailBatch, *, base_url: str,
                unsubscribe_url: str, server: str = "") -> EmailMessage:
    """The missed-message email of ``batch`` (which has an address and messages): grouped
    by room in the order of their first message, each message with its author, time, text
    (cut at :data:`TEXT_CHARS`) and link; a footer saying why it came and how to stop them.
    Every user text is escaped in the HTML. Pure."""
    assert batch.email is not None and batch.messages
    where = server or "chatd"
    groups: dict[str, list[MissedMessage]] = {}
    for message in batch.messages:
        groups.setdefault(message.room, []).append(message)
    minutes = max(1, round(config.batch_seconds / 60))
    why = (f"You get this email because someone sent you a direct message or mentioned you "
           f"on {where} while you were away, and you had not read it {minutes} minute"
           f"{'s' if minutes != 1 else ''} later.")
    text_parts = [f"Hello {batch.display_name or batch.user},\n"]
    html_parts = [f"<p>Hello {html.escape(batch.display_name or batch.user)},</p>"]
    for room, messages in groups.items():
        place = _place(messages[0], batch.user)
        heading = place[0].upper() + place[1:]
        text_parts.append(f"\n{heading}\n{'-' * len(heading)}")
        html_parts.append(f"<h3 style=\"margin:1.2em 0 .4em\">{html.escape(heading)}</h3>")
        for message in messages:
            url = message_url(base_url, room, message.msg_id)
            author = _who(message)
            if message.sender_display:
                author = f"{message.sender_display} (@{message.sender})"
            text_parts.append(f"{author}, {_when(message.ts)}:\n{_cut(message.text)}\n{url}\n")
            body = html.escape(_cut(message.text)).replace("\n", "<br>")
            html_parts.append(
                "<div style=\"margin:.6em 0;padding:.4em .8em;border-left:3px solid #ccd\">"
                f"<div><strong>{html.escape(author)}</strong> "
                f"<span style=\"color:#666\">{_when(message.ts)}</span></div>"
                f"<div>{body}</div>"
                f"<div><a href=\"{html.escape(url)}\">Reply in {html.escape(where)}</a></div>"
                "</div>")
        last = messages[-1]
        text_parts.append(f"Reply in {where}: {message_url(base_url, room, last.msg_id)}\n")
    if batch.more:
        text_parts.append(f"\n…and {batch.more} more: {base_url.rstrip('/')}/\n")
        html_parts.append(f"<p>…and {batch.more} more: <a href=\"{html.escape(base_url)}\">"
                          f"open {html.escape(where)}</a>.</p>")
    text_parts.append(f"\n-- \n{why}\nTurn these emails off: {unsubscribe_url}\n")
    html_parts.append(
        "<hr style=\"border:0;border-top:1px solid #ddd;margin-top:2em\">"
        f"<p style=\"color:#666;font-size:.9em\">{html.escape(why)} "
        f"<a href=\"{html.escape(unsubscribe_url)}\">Turn these emails off</a>.</p>")
    return new_mail(config, batch.email, subject(batch), "\n".join(text_parts),
                    page(subject(batch), "".join(html_parts)),
                    headers=[("List-Unsubscribe", f"<{unsubscribe_url}>"),
                             ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")])


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class EmailNotifier(Dispatcher[None]):
    """Queues the missed messages of each committed batch (see the module's docstring).

    Args:
        storage: who may get an email, and the queue.
        metrics: the ``chatd_email_*`` counters.
        config: ``[email]``.
        presence: the presence tracker's state (every node's view): who had a message
            live gets no email for it (:meth:`~chatd.httpout.Dispatcher.had_it_live`).
        on_queued: told when (ms) the earliest batch just made is due (the due loop's
            :meth:`~chatd.reminders.DueLoop.soon`).
    """

    def __init__(self, storage: Storage, metrics: Metrics, config: EmailConfig, *,
                 presence: PresenceState,
                 on_queued: Callable[[int], None] | None = None) -> None:
        super().__init__(
            "a missed-message email",
            Counters(metrics.email_queued, metrics.email_sent, metrics.email_retries,
                     metrics.email_failed, metrics.email_dropped),
            concurrency=1, allow_private=False, queue_size=1, attempts=1, retry_delay=1.0,
            any_targets=storage.any_email_targets, presence=presence)
        self._storage = storage
        self._metrics = metrics
        self._config = config
        self.on_queued = on_queued
        #: Missed messages this node queued (for tests: :meth:`wait_queued`).
        self.queued = 0
        self._more = trio.Event()

    async def wait_queued(self, count: int) -> None:
        """Wait until this node has queued ``count`` missed messages in all."""
        while self.queued < count:
            await self._more.wait()

    async def resolve(self, messages: Sequence[Message]) -> list[None]:
        had_it = self.had_it_live(messages)
        targets = await self._storage.email_targets([(m.room, m.seq) for m in messages])
        now = _now_ms()
        away = [t for t in targets if not had_it(t.user, t.room, t.seq)
                and not (t.paused_until is not None and t.paused_until > now)]
        if away:
            queued, due = await self._storage.queue_emails(
                away, batch_seconds=self._config.batch_seconds)
            self._metrics.email_queued.inc(queued)
            if due is not None and self.on_queued is not None:
                self.on_queued(due)
            self.queued += queued
            self._more.set()
            self._more = trio.Event()
        return []

    def describe(self, job: None) -> str:
        return "nobody"

    async def deliver(self, job: None) -> None:
        raise AssertionError("missed messages are queued in the database, not here")


class MissedMail:
    """The missed-message emails, as the due loop claims them (see the module's docstring).

    Args:
        storage: the queue.
        mailer: sends the mails.
        lease: seconds a claim holds a batch before another node may take it.
        key: the unsubscribe links' key (:data:`UNSUBSCRIBE_LABEL`).
        base_url: the page's address (``server.public_url``, else this node's HTTP port),
            read when a mail is written (the daemon sets it once it listens).
        server: the server's name (``server.name``).
    """

    what = "missed-message emails"

    def __init__(self, storage: Storage, mailer: Mailer, *, lease: float, key: bytes,
                 base_url: str = "", server: str = "") -> None:
        self._storage = storage
        self._mailer = mailer
        self._config = mailer.config
        self._lease = lease
        self._key = key
        self.base_url = base_url
        self._server = server
        #: Emails this node sent, and batches it settled (sent, or found with nothing to
        #: send), for tests: :meth:`wait_settled`.
        self.sent = 0
        self.settled = 0
        self._more = trio.Event()

    async def wait_settled(self, count: int) -> None:
        """Wait until this node has settled ``count`` batches in all."""
        while self.settled < count:
            await self._more.wait()

    async def wait_settling(self) -> None:
        """Wait until this node settles one more batch."""
        await self._more.wait()

    def _settle(self) -> None:
        self.settled += 1
        self._more.set()
        self._more = trio.Event()

    async def claim(self) -> int:
        claimed = await self._storage.claim_email_batches(CLAIM, self._lease)
        async with trio.open_nursery() as nursery:
            for user_id, attempts in claimed:
                nursery.start_soon(self._send, user_id, attempts)
        return len(claimed)

    async def next_due(self) -> float | None:
        return await self._storage.next_email_due()

    def unsubscribe_url(self, user_id: int) -> str:
        token = unsubscribe_token(self._key, user_id)
        return f"{self.base_url.rstrip('/')}/api/email/unsubscribe/{token}"

    async def _send(self, user_id: int, attempts: int) -> None:
        try:
            await self._send_batch(user_id, attempts)
        except StorageUnavailable as exc:  # the lease ends, and a node claims it again
            log.warning("cannot read or settle the missed messages of user %d: %s", user_id,
                        exc)
        except Exception:  # a bug: logged, the batch claimed again when the lease ends
            log.exception("the missed-message email of user %d failed", user_id)
            metrics = self._mailer.metrics
            if metrics is not None:
                metrics.email_failed.labels("internal").inc()

    async def _send_batch(self, user_id: int, attempts: int) -> None:
        storage = self._storage
        batch_seconds = self._config.batch_seconds
        batch = await storage.email_batch(user_id, attempts)
        if batch is None:
            return
        paused = batch.paused_until is not None and batch.paused_until > _now_ms()
        if batch.email is None or not batch.messages or paused:
            # Read meanwhile, left, deleted, or the emails off; or their notifications paused
            # since the messages were queued: dropped, as a message that comes while they are
            # paused is never queued (Slack's do not disturb: what it held back is not sent
            # when it ends; the messages are still unread on every device).
            await storage.email_batch_done(user_id, batch.queued, batch_seconds=batch_seconds)
            self._settle()
            return
        message = missed_mail(self._config, batch, base_url=self.base_url,
                              unsubscribe_url=self.unsubscribe_url(user_id),
                              server=self._server)
        try:
            await self._mailer.send(message)
        except MailError as exc:
            failed = attempts + 1
            if failed >= MAX_ATTEMPTS:
                log.warning("gave up the missed-message email to %s after %d attempts: %s",
                            batch.user, failed, exc)
                await storage.email_batch_done(user_id, batch.queued,
                                               batch_seconds=batch_seconds)
                self._settle()
                return
            wait = retry_seconds(self._config, failed)
            log.info("the missed-message email to %s was not sent (again in %.0f s): %s",
                     batch.user, wait, exc)
            self._metrics_retry()
            await storage.email_batch_failed(user_id, wait)
            return
        self.sent += 1
        await storage.email_batch_done(user_id, batch.queued, batch_seconds=batch_seconds)
        self._settle()

    def _metrics_retry(self) -> None:
        metrics = self._mailer.metrics
        if metrics is not None:
            metrics.email_retries.inc()

"""Outgoing webhooks: a room's new messages POSTed, signed, to the URL its owner set, off the
send path.

Theory of operation. The committer hands every batch of newly committed entries to
:meth:`WebhookSender.offer` (as it does to the pusher), which never waits: the batch's new
messages go into a bounded queue, or are dropped and counted when it is full. So deliveries
can lag, or be lost under a flood, but never delay a commit or an acknowledgement. Only the
node that committed a message delivers it (relayed commits are not offered), so each message
is delivered once whatever the number of nodes.

One task (the resolver) takes what is queued, up to :data:`RESOLVE_BATCH` messages at once,
and asks storage in one call which of their rooms have a webhook and which of their senders
are bots (:meth:`Storage.webhook_targets`). It queues one delivery per message of such a
room, in a second bounded queue (``[webhooks] queue_size``; a delivery that does not fit is
dropped and counted). Messages of rooms without a webhook cost that one lookup per batch.

``[webhooks] concurrency`` workers send the deliveries through a :class:`chatd.httpout.Poster`
(addresses checked and pinned: :mod:`chatd.addresses`; ``[webhooks] allow_private_endpoints``
lifts the check). Each attempt is signed afresh (:func:`signature_headers`): HMAC-SHA256
under the webhook's secret of ``<timestamp>.<body>``, so that a receiver can refuse a
replayed delivery by its timestamp. A 2xx is delivered; 429, a 5xx, a timeout or a network
error is tried again after 1, 2, 4 and 8 seconds (or the ``Retry-After`` asked for, up to a
minute), :data:`ATTEMPTS` times in all; any other answer fails at once. Several workers and
retries mean a room's deliveries may arrive out of order: each carries its ``seq`` (and the
``X-Chatd-Delivery`` header, the same on every attempt, to drop a duplicate by).
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Sequence

import trio

from chatd import __version__
from chatd.addresses import RefusedAddress
from chatd.config import WebhooksConfig
from chatd.httpout import GaveUp, Poster, post_with_retries
from chatd.metrics import Metrics
from chatd.storage import Message, RoomWebhook, Storage, StorageUnavailable
from chatd.views import message_object

__all__ = [
    "ATTEMPTS",
    "DELIVERY_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "Delivery",
    "WebhookSender",
    "payload",
    "sign",
    "signature_headers",
]

log = logging.getLogger(__name__)

#: Tries of one delivery (the first and the retries).
ATTEMPTS = 5
#: Seconds before the first retry; doubled for each next one.
RETRY_DELAY = 1.0
#: Messages looked up in one storage call.
RESOLVE_BATCH = 1024
#: Batches of committed messages that may wait for the lookup.
COMMITS_QUEUE = 1024

SIGNATURE_HEADER = "X-Chatd-Signature"
TIMESTAMP_HEADER = "X-Chatd-Timestamp"
DELIVERY_HEADER = "X-Chatd-Delivery"


def payload(message: Message, *, sender_bot: bool) -> bytes:
    """What a delivery of ``message`` says, as JSON (UTF-8): ``event`` ("message"), ``room``,
    ``seq``, ``message`` (the message object, as the protocol's ``message`` event has it) and
    ``sender_bot`` (whether its sender is a bot: a bot answering webhooks should not answer
    bots, its own messages among them). Pure."""
    return json.dumps({
        "event": "message", "room": message.room, "seq": message.seq,
        "message": message_object(message), "sender_bot": sender_bot,
    }, separators=(",", ":"), ensure_ascii=False).encode()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature of a delivery: ``sha256=`` and the hex HMAC-SHA256, under ``secret``,
    of the timestamp (Unix seconds, in decimal), a ``.`` and the body's bytes. Pure."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def signature_headers(secret: str, body: bytes, now: float) -> list[tuple[bytes, bytes]]:
    """The timestamp and signature headers of a delivery made at ``now`` (Unix time)."""
    timestamp = int(now)
    return [(TIMESTAMP_HEADER.encode(), str(timestamp).encode()),
            (SIGNATURE_HEADER.encode(), sign(secret, timestamp, body).encode())]


@dataclasses.dataclass(frozen=True, slots=True)
class Delivery:
    """One message to deliver to one webhook: the JSON ``body`` and its delivery id."""

    webhook: RoomWebhook
    body: bytes
    delivery_id: str


class WebhookSender:
    """The outgoing webhooks' actor (see the module's docstring).

    Args:
        storage: which rooms have webhooks.
        metrics: the ``chatd_webhook_*`` counters.
        config: ``[webhooks]``.
        retry_delay: seconds before the first retry (tests may shorten it).
    """

    def __init__(self, storage: Storage, metrics: Metrics, config: WebhooksConfig, *,
                 retry_delay: float = RETRY_DELAY) -> None:
        self._storage = storage
        self._metrics = metrics
        self._config = config
        self._retry_delay = retry_delay
        self._commits_in, self._commits = trio.open_memory_channel[tuple[Message, ...]](
            COMMITS_QUEUE)
        self._jobs_in, self._jobs = trio.open_memory_channel[Delivery](config.queue_size)
        self._poster: Poster | None = None

    def offer(self, messages: Sequence[Message]) -> None:
        """Committed entries, from the committer: the new messages among them are queued for
        a lookup, never waited for (dropped and counted when the queue is full)."""
        fresh = tuple(m for m in messages if m.kind == "message")
        if not fresh:
            return
        try:
            self._commits_in.send_nowait(fresh)
        except trio.WouldBlock:
            self._metrics.webhook_dropped.labels("lookup").inc(len(fresh))

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                  ) -> None:
        async with Poster(concurrency=self._config.concurrency,
                          allow_private=self._config.allow_private_endpoints) as poster:
            self._poster = poster
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._resolve_forever)
                for _ in range(self._config.concurrency):
                    nursery.start_soon(self._work_forever)
                task_status.started()

    async def _resolve_forever(self) -> None:
        async for first in self._commits:
            messages = list(first)
            while len(messages) < RESOLVE_BATCH:
                try:
                    messages.extend(self._commits.receive_nowait())
                except trio.WouldBlock:
                    break
            try:
                targets = await self._storage.webhook_targets(
                    sorted({m.room for m in messages}), sorted({m.sender for m in messages}))
            except StorageUnavailable as exc:
                log.warning("cannot look up the webhooks of %d messages: %s", len(messages),
                            exc)
                self._metrics.webhook_dropped.labels("lookup").inc(len(messages))
                continue
            for message in messages:
                webhook = targets.webhooks.get(message.room)
                if webhook is None:
                    continue
                body = payload(message, sender_bot=message.sender in targets.bots)
                delivery = Delivery(webhook, body, f"{message.room}:{message.seq}")
                try:
                    self._jobs_in.send_nowait(delivery)
                    self._metrics.webhook_queued.inc()
                except trio.WouldBlock:
                    self._metrics.webhook_dropped.labels("send").inc()

    async def _work_forever(self) -> None:
        async for delivery in self._jobs:
            try:
                await self._deliver(delivery)
            except Exception:
                log.exception("a webhook delivery to %s failed", delivery.webhook.url)
                self._metrics.webhook_failed.labels("internal").inc()

    async def _deliver(self, delivery: Delivery) -> None:
        url = delivery.webhook.url
        try:
            status = await post_with_retries(
                lambda: self._post(delivery), attempts=ATTEMPTS, delay=self._retry_delay,
                on_retry=lambda _: self._metrics.webhook_retries.inc())
        except RefusedAddress as exc:
            log.warning("refused to deliver a webhook of %s to %s: %s",
                        delivery.webhook.room, url, exc)
            self._metrics.webhook_failed.labels("refused").inc()
            return
        except GaveUp as exc:
            log.info("gave up delivering a webhook of %s to %s: %s", delivery.webhook.room,
                     url, exc)
            self._metrics.webhook_failed.labels("unavailable").inc()
            return
        if 200 <= status < 300:
            self._metrics.webhook_sent.inc()
        else:
            log.warning("the webhook of %s at %s refused a delivery: HTTP %d",
                        delivery.webhook.room, url, status)
            self._metrics.webhook_failed.labels("rejected").inc()

    async def _post(self, delivery: Delivery) -> int:
        """One attempt, signed now; raises as :meth:`chatd.httpout.Poster.post`."""
        assert self._poster is not None, "the sender runs"
        headers = [
            (b"Content-Type", b"application/json"),
            (b"User-Agent", f"chatd/{__version__}".encode()),
            (DELIVERY_HEADER.encode(), delivery.delivery_id.encode()),
            *signature_headers(delivery.webhook.secret, delivery.body, time.time()),
        ]
        return await self._poster.post(delivery.webhook.url, headers, delivery.body,
                                       seconds=self._config.timeout)

"""Outgoing webhooks: a room's new messages POSTed, signed, to the URL its owner set, off the
send path.

Theory of operation. The committer hands every batch of newly committed entries to
:meth:`WebhookSender.offer` (as it does to the pusher), which never waits: the batch's new
messages go into a bounded queue, or are dropped and counted when it is full. So deliveries
can lag, or be lost under a flood, but never delay a commit or an acknowledgement. Only the
node that committed a message delivers it (relayed commits are not offered), so each message
is delivered once whatever the number of nodes.

One task (the resolver) takes what is queued, up to :data:`~chatd.httpout.RESOLVE_BATCH`
messages at once, and asks storage in one call which of their rooms have a webhook and which
of their senders are bots (:meth:`Storage.webhook_targets`). It queues one delivery per
message of such a room, in a second bounded queue (``[webhooks] queue_size``; a delivery
that does not fit is dropped and counted). Messages of rooms without a webhook cost that one
lookup per batch.

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
import functools
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Sequence

from chatd import __version__
from chatd.config import WebhooksConfig
from chatd.httpout import Counters, Dispatcher
from chatd.metrics import Metrics
from chatd.storage import Message, RoomWebhook, Storage
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


class WebhookSender(Dispatcher[Delivery]):
    """The outgoing webhooks' actor (see the module's docstring).

    Args:
        storage: which rooms have webhooks.
        metrics: the ``chatd_webhook_*`` counters.
        config: ``[webhooks]``.
        retry_delay: seconds before the first retry (tests may shorten it).
    """

    def __init__(self, storage: Storage, metrics: Metrics, config: WebhooksConfig, *,
                 retry_delay: float = RETRY_DELAY) -> None:
        super().__init__(
            "a webhook delivery",
            Counters(metrics.webhook_queued, metrics.webhook_sent, metrics.webhook_retries,
                     metrics.webhook_failed, metrics.webhook_dropped),
            concurrency=config.concurrency, allow_private=config.allow_private_endpoints,
            queue_size=config.queue_size, attempts=ATTEMPTS, retry_delay=retry_delay,
            any_targets=functools.partial(storage.any_targets, "room_webhooks"))
        self._storage = storage
        self._metrics = metrics
        self._config = config

    async def resolve(self, messages: Sequence[Message]) -> list[Delivery]:
        targets = await self._storage.webhook_targets(
            sorted({m.room for m in messages}), sorted({m.sender for m in messages}))
        deliveries = []
        for message in messages:
            webhook = targets.webhooks.get(message.room)
            if webhook is not None:
                body = payload(message, sender_bot=message.sender in targets.bots)
                deliveries.append(Delivery(webhook, body, f"{message.room}:{message.seq}"))
        return deliveries

    def describe(self, delivery: Delivery) -> str:
        return f"{delivery.webhook.url} (#{delivery.webhook.room})"

    async def deliver(self, delivery: Delivery) -> None:
        status = await self.post(delivery, lambda: self._post(delivery))
        if status is None:
            return
        if 200 <= status < 300:
            self._metrics.webhook_sent.inc()
        else:
            log.warning("the webhook of %s at %s refused a delivery: HTTP %d",
                        delivery.webhook.room, delivery.webhook.url, status)
            self._metrics.webhook_failed.labels("rejected").inc()

    async def _post(self, delivery: Delivery) -> int:
        """One attempt, signed now; raises as :meth:`chatd.httpout.Poster.post`."""
        headers = [
            (b"Content-Type", b"application/json"),
            (b"User-Agent", f"chatd/{__version__}".encode()),
            (DELIVERY_HEADER.encode(), delivery.delivery_id.encode()),
            *signature_headers(delivery.webhook.secret, delivery.body, time.time()),
        ]
        return await self.poster.post(delivery.webhook.url, headers, delivery.body,
                                      seconds=self._config.timeout)

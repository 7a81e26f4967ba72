"""The pusher: Web Push for people with no open connection, off the send path.

Theory of operation. The committer hands every batch of newly committed messages to
:meth:`Pusher.offer`, which never waits: the batch goes into a bounded queue, or is dropped and
counted when the queue is full. So pushes can fall behind, or be lost under a flood, but they
never delay a commit or an acknowledgement.

One task (the resolver) takes what is queued, up to
:data:`~chatd.httpout.RESOLVE_BATCH` messages at once,
and asks storage in one call who should get a push for each (:meth:`Storage.push_targets`:
the other member of a 1:1 conversation, the members a message mentions, the members whose
level for the room is ``all``, and the members who have notification keywords, whose
keywords are matched here: :mod:`chatd.keywords`; never the sender; each with their
subscriptions). It keeps one reason per user and message (a direct message, then a mention,
then a keyword, then a plain message), leaves
out the users who have a connection open on this node (they see the message live; the page
notifies them itself) and those whose pause of notifications is in force by this server's
clock (``set_dnd``; read with the targets, in the same statement: the pause costs no read of
its own), and queues one job per subscription, in a second bounded queue
(``[push] queue_size``; a job that does not fit is dropped and counted).

``[push] concurrency`` workers send the jobs: each encrypts the payload to the subscription's
keys, signs the VAPID header, and POSTs it with a ``TTL`` (``[push] ttl``) and an ``Urgency``
(``high`` for a direct message, a mention or a keyword, ``normal`` otherwise). A 2xx is
sent; 404 or 410 means the browser's subscription is gone, and it is removed; 429, a 5xx, a
timeout or a network error is tried again after a delay that doubles (or the ``Retry-After``
the push service asks for, up to :data:`MAX_RETRY_AFTER`), :data:`ATTEMPTS` times in all; any
other answer fails at once. Each outcome is counted (``chatd_push_*``).

HTTP goes through one :class:`chatd.httpout.Poster` (shared with outgoing webhooks), whose
connections resolve the endpoint's host themselves, refuse it unless every address is public
(``[push] allow_private_endpoints`` lifts that), and connect to those very addresses: see
:mod:`chatd.httpout` and :mod:`chatd.addresses`.

With several nodes, the node that committed a message decides on its pushes, from the presence
tracker's view of every node (``is_online``): a user connected to any node gets no push. The
question is asked of the moment the message was committed, not of the lookup's, which comes
later (a busy database, the resolver's gap): :meth:`Pusher.offer` notes the tracker's count
of departures then, and a user who has gone offline since (:meth:`PresenceState.left_since`)
had the message live, and gets no push for it either.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from chatd.config import PushConfig
from chatd.httpout import Counters, Dispatcher
from chatd.keywords import keyword_targets
from chatd.metrics import Metrics
from chatd.presence import PresenceState
from chatd.rooms import RoomRegistry
from chatd.storage import (
    Message,
    PushSubscription,
    PushTarget,
    Reminder,
    Storage,
    StorageUnavailable,
)
from chatd.webpush import VapidKey, encrypt, payload, scheduled_payload

__all__ = ["ATTEMPTS", "PushJob", "Pusher", "jobs_for"]

log = logging.getLogger(__name__)

#: Tries of one push (the first and the retries).
ATTEMPTS = 3
#: Seconds before the first retry; doubled for each next one.
RETRY_DELAY = 1.0
#: The urgency of a push by its reason (RFC 8030: "high" may wake a phone at once).
URGENCY = {"dm": "high", "mention": "high", "keyword": "high", "message": "normal",
           "reminder": "high", "scheduled": "high"}
_RANK = {"dm": 0, "mention": 1, "keyword": 2, "message": 3}


@dataclasses.dataclass(frozen=True, slots=True)
class PushJob:
    """One push to send: the JSON ``payload`` to one subscription of ``user``."""

    user: str
    subscription: PushSubscription
    payload: bytes
    urgency: str


def jobs_for(messages: Iterable[Message], targets: Iterable[PushTarget],
             online: Iterable[str] | None = None, *, now: int | None = None) -> list[PushJob]:
    """The pushes to send for ``messages`` given storage's ``targets`` for them: one reason
    per user and message (the most urgent), none for the users in ``online`` nor for those
    whose notifications are paused past ``now`` (ms; None: pauses are not looked at), one
    job per subscription. Pure."""
    by_key = {(m.room, m.seq): m for m in messages}
    skip = set(online or ())
    best: dict[tuple[str, int, str], str] = {}
    subscriptions: dict[tuple[str, int, str], dict[str, PushSubscription]] = {}
    for target in targets:
        key = (target.room, target.seq, target.user)
        if (target.room, target.seq) not in by_key or target.user in skip:
            continue
        if now is not None and target.paused_until is not None and target.paused_until > now:
            continue  # do not disturb (chatd.actions.dnd)
        if key not in best or _RANK[target.reason] < _RANK[best[key]]:
            best[key] = target.reason
        subscriptions.setdefault(key, {})[target.subscription.endpoint] = target.subscription
    jobs: list[PushJob] = []
    for key, reason in best.items():
        body = payload(by_key[key[:2]], reason, key[2])
        jobs.extend(PushJob(key[2], subscription, body, URGENCY[reason])
                    for subscription in subscriptions[key].values())
    return jobs


class Pusher(Dispatcher[PushJob]):
    """The push actor (see the module's docstring).

    Args:
        storage: who gets pushes, and their subscriptions.
        registry: who has a connection open on this node.
        metrics: the ``chatd_push_*`` counters.
        key: the server's VAPID key.
        config: ``[push]``.
        retry_delay: seconds before the first retry (tests shorten it).
        presence: the presence tracker's state (every node's view); without it, who has a
            connection on this node, asked at the lookup.
    """

    def __init__(self, storage: Storage, registry: RoomRegistry, metrics: Metrics,
                 key: VapidKey, config: PushConfig, *, retry_delay: float = RETRY_DELAY,
                 presence: PresenceState | None = None) -> None:
        super().__init__(
            "a push", Counters(metrics.push_queued, metrics.push_sent, metrics.push_retries,
                               metrics.push_failed, metrics.push_dropped),
            concurrency=config.concurrency, allow_private=config.allow_private_endpoints,
            queue_size=config.queue_size, attempts=ATTEMPTS, retry_delay=retry_delay,
            any_targets=functools.partial(storage.any_targets, "push_subscriptions"),
            presence=presence)
        self._storage = storage
        self._registry = registry
        # Online on any node (the presence tracker's view), else on this node only.
        self._is_online = presence.is_online if presence is not None else registry.is_online
        self._metrics = metrics
        self.key = key
        self._config = config

    async def resolve(self, messages: Sequence[Message]) -> list[PushJob]:
        had_it = self.had_it_live(messages)  # (the module's docstring)
        # The keywords' candidates matched here, off the send path (chatd.keywords), before
        # anything below looks at a target's seq.
        targets = keyword_targets(
            messages, await self._storage.push_targets([(m.room, m.seq) for m in messages]))
        if self._presence is None:  # this node's connections only, as they are now
            targets = [t for t in targets if not self._is_online(t.user)]
        else:
            targets = [t for t in targets if not had_it(t.user, t.room, t.seq)]
        return jobs_for(messages, targets, now=time.time_ns() // 1_000_000)

    def remind(self, reminder: Reminder) -> None:
        """Push a reminder of a saved message (chatd.reminders) to its user's subscriptions,
        as a mention is pushed: not while they are online on any node, nor while their
        notifications are paused by this server's clock. Never blocks (the jobs are queued,
        or dropped and counted)."""
        user = reminder.user
        if not reminder.subscriptions or self._is_online(user):
            return
        paused = reminder.paused_until
        if paused is not None and paused > time.time_ns() // 1_000_000:
            return
        body = payload(reminder.message, "reminder", user)
        self.queue(PushJob(user, subscription, body, URGENCY["reminder"])
                   for subscription in reminder.subscriptions)

    def scheduled_failed(self, user: str, item: Mapping[str, Any], *,
                         paused_until: int | None,
                         subscriptions: Sequence[PushSubscription]) -> None:
        """Push that the user's scheduled message ``item`` (an item object) was refused at
        its time (chatd.actions.scheduled), as a reminder is pushed: not while they are
        online on any node, nor while their notifications are paused. Never blocks."""
        if not subscriptions or self._is_online(user):
            return
        if paused_until is not None and paused_until > time.time_ns() // 1_000_000:
            return
        body = scheduled_payload(user, item)
        self.queue(PushJob(user, subscription, body, URGENCY["scheduled"])
                   for subscription in subscriptions)

    def describe(self, job: PushJob) -> str:
        return job.subscription.endpoint

    async def deliver(self, job: PushJob) -> None:
        try:
            body = encrypt(job.payload, job.subscription)
        except ValueError as exc:
            log.warning("cannot push to %s: %s", job.subscription.endpoint, exc)
            self._metrics.push_failed.labels("rejected").inc()
            return
        status = await self.post(job, lambda: self._post(job, body))
        if status is None:
            return
        if 200 <= status < 300:
            self._metrics.push_sent.inc()
        elif status in (404, 410):
            await self._forget(job.subscription)
        else:
            log.warning("the push service at %s refused a push: HTTP %d",
                        job.subscription.endpoint, status)
            self._metrics.push_failed.labels("rejected").inc()

    async def _post(self, job: PushJob, body: bytes) -> int:
        """One attempt (signed afresh): the answer's status; raises as
        :meth:`chatd.httpout.Poster.post`."""
        endpoint = job.subscription.endpoint
        headers = [
            (b"Authorization", self.key.authorization(endpoint, self._config.subject).encode()),
            (b"Content-Encoding", b"aes128gcm"),
            (b"Content-Type", b"application/octet-stream"),
            (b"TTL", str(self._config.ttl).encode()),
            (b"Urgency", job.urgency.encode()),
        ]
        return await self.poster.post(endpoint, headers, body)

    async def _forget(self, subscription: PushSubscription) -> None:
        """The push service says the subscription is gone (404, 410): forget it."""
        try:
            if await self._storage.forget_push_subscription(subscription.endpoint):
                self._metrics.push_subscriptions_removed.inc()
        except StorageUnavailable as exc:
            log.warning("cannot forget the push subscription %s: %s", subscription.endpoint,
                        exc)

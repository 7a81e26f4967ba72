"""Scheduled messages: a user writes a message now and the server sends it later, as them.

Theory of operation. Until it is sent an item is its user's own (Slack's "Schedule message"):
a row of ``scheduled`` (migration 0032), never an entry of a room's log, told as a
``scheduled`` event to every connection of the user, on every node (:meth:`App.tell`: the
one that asked too, so that every device shows it from the event alike), and to nobody
else. ``schedule`` checks now what ``send`` would check now of the room (it exists, the user
is in it, it is not archived) and parses its fields with ``send``'s parser; its files stay
unattached, reserved for the item, which keeps them from the sweep of expired uploads.

At ``send_at`` a node's due loop (:class:`chatd.reminders.DueLoop`) claims the item for a
lease and :class:`Scheduler` sends it: a ``send`` request made of the item (nonce
``sched:<id>``), parsed by the protocol's parser with today's limits, run by the ``send``
operation as the item's user and committed through the group committer, exactly as a
``send`` from a connection would be (mentions, group mentions, files, threads, push,
webhooks, search, previews all follow from the commit). Nothing on the path of a plain
message knows of scheduled messages. Stored, the row is deleted and the user told
``"sent"``; refused, the item is marked ``failed`` with the refusal, the user told
``"failed"`` and, with no connection anywhere, pushed. A node that dies between the claim
and the end leaves the row claimed: another node claims it after the lease, and the nonce
keeps the message from being stored twice (a second send of it is a duplicate, answered
with the first one's seq), and tells ``"sent"``.

Cancel or send, never both. Right before the message goes to the committer, the claiming
node marks the send begun, in a statement that holds only while its own claim does
(:meth:`chatd.storage.Storage.scheduled_sending`, migration 0048). A cancel (or an edit)
locks the row and is refused (``not_found``) while a claim's lease holds or once the send
has begun, whatever the lease: so either the cancel came first, deleted the row, and the
claiming node, slow past its lease, finds no row of its claim and sends nothing; or the
send had begun, the cancel is refused, and the message is stored, by this node or, if it
died, by the next claim (which tells ``"sent"``, the author's devices learn it then).
"""

from __future__ import annotations

import logging
from typing import Any

from chatd.actions import messages
from chatd.actions.context import App, Append, Bucket, Caller, Stateless, signed_in
from chatd.actions.session import now_ms
from chatd.errors import ChatError
from chatd.protocol import (
    MAX_REMIND_SECONDS,
    Answer,
    CancelScheduled,
    EditScheduled,
    RequestError,
    Schedule,
    ScheduledChanged,
    ScheduledItems,
    Send,
    codes,
    frame,
    parse_request,
)
from chatd.storage import ScheduledItem, ScheduledWork, StorageUnavailable
from chatd.views import file_object

__all__ = ["SCHEDULES", "Scheduler", "cancel_scheduled", "edit_scheduled", "schedule",
           "scheduled_item_object", "scheduled_items"]

log = logging.getLogger(__name__)

#: Schedules, edits and cancellations per user, over all their connections and the HTTP API:
#: a burst, then a few a second, as saves.
SCHEDULES = Bucket("schedule", lambda limits: (2.0, 30), "scheduling too often; slow down",
                   per_user=True)
#: Items claimed in one statement; a full batch is followed by another at once.
CLAIM_BATCH = 100
#: Refusals that say nothing of the item: the claim is left to end, and the item is sent by
#: whichever node claims it next.
_TRANSIENT = frozenset({codes.UNAVAILABLE, codes.SHUTTING_DOWN, codes.INTERNAL})


def scheduled_item_object(item: ScheduledItem) -> dict[str, Any]:
    """An ITEM of the protocol: {item, room, text, files, thread, broadcast, reply_to,
    send_at, created_ts, state, error}."""
    return {"item": item.id, "room": item.room, "text": item.text,
            "files": [file_object(info) for info in item.files], "thread": item.thread,
            "broadcast": item.broadcast, "reply_to": item.reply_to, "send_at": item.send_at,
            "created_ts": item.created, "state": item.state,
            "error": None if item.error is None else dict(item.error)}


def check_send_at(send_at: int, now: int) -> None:
    """Refuse a time in the past or more than a year ahead of the server's clock ``now``.

    Raises:
        ChatError('bad_request')
    """
    if send_at <= now:
        raise ChatError(codes.BAD_REQUEST, "'send_at' must be ahead of the server's clock")
    if send_at > now + MAX_REMIND_SECONDS * 1000:
        raise ChatError(codes.BAD_REQUEST, "a message may be scheduled at most a year ahead")


async def _tell(app: App, user: str, action: str, item: ScheduledItem,
                msg: dict[str, Any] | None = None) -> None:
    data = frame(ScheduledChanged(action=action, item=scheduled_item_object(item), msg=msg))
    await app.tell(user, data, "a scheduled message")


def removed_event(item: ScheduledItem) -> bytes:
    """The ``scheduled`` event ``"cancelled"`` of an item the server removed (its room was
    deleted: :meth:`Storage.delete_room` gives it ``failed`` with the reason)."""
    return frame(ScheduledChanged(action="cancelled", item=scheduled_item_object(item)))


async def tell_removed(app: App, removed: list[tuple[str, ScheduledItem]]) -> None:
    """Tell each user, on every node, of their items a room's deletion removed."""
    for user, item in removed:
        await app.tell(user, removed_event(item), "a scheduled message removed")


async def schedule(app: App, caller: Caller, request: Schedule) -> Answer:
    """Schedule a message of the caller; their connections on every node are told."""
    user = signed_in(caller)
    check_send_at(request.send_at, now_ms())
    item = await app.storage.schedule(
        user.id, request.room, text=request.text, files=request.files,
        thread=request.thread, broadcast=request.broadcast, reply_to=request.reply_to,
        send_at=request.send_at, limit=app.config.limits.scheduled_per_user)
    await _tell(app, user.name, "added", item)
    if app.due is not None:
        app.due.soon(item.send_at)
    return Answer(id=request.id, fields={"item": scheduled_item_object(item)})


async def scheduled_items(app: App, caller: Caller, request: ScheduledItems) -> Answer:
    """Every item of the caller, pending or failed, by ``send_at``."""
    user = signed_in(caller)
    items = await app.storage.scheduled_items(user.id)
    return Answer(id=request.id, fields={"items": [scheduled_item_object(i) for i in items]})


async def edit_scheduled(app: App, caller: Caller, request: EditScheduled) -> Answer:
    """Change an item of the caller (``send_at`` 0: send it now)."""
    user = signed_in(caller)
    if request.send_at:
        check_send_at(request.send_at, now_ms())
    item = await app.storage.edit_scheduled(user.id, request.item, text=request.text,
                                            files=request.files, send_at=request.send_at)
    await _tell(app, user.name, "changed", item)
    if app.due is not None and request.send_at is not None:
        app.due.soon(item.send_at)
    return Answer(id=request.id, fields={"item": scheduled_item_object(item)})


async def cancel_scheduled(app: App, caller: Caller, request: CancelScheduled) -> Answer:
    """Remove an item of the caller; its files are released."""
    user = signed_in(caller)
    item = await app.storage.cancel_scheduled(user.id, request.item)
    await _tell(app, user.name, "cancelled", item)
    return Answer(id=request.id, fields={"item": item.id})


def _send_request(app: App, item: ScheduledItem) -> Send:
    """The ``send`` the item is, checked by the protocol's parser with today's limits (a
    text over a lowered ``max_text_chars`` is refused as a send's would be).

    Raises:
        ChatError: the parser's refusal.
    """
    obj: dict[str, Any] = {"op": "send", "id": None, "room": item.room, "text": item.text,
                           "nonce": f"sched:{item.id}"}
    if item.files:
        obj["files"] = [info.id for info in item.files]
    if item.thread is not None:
        obj["thread"] = item.thread
        obj["broadcast"] = item.broadcast
    if item.reply_to is not None:
        obj["reply_to"] = item.reply_to
    parsed = parse_request(obj, app.protocol_limits)
    if isinstance(parsed, RequestError):
        raise ChatError(parsed.code, parsed.message)
    assert isinstance(parsed, Send)
    return parsed


class Scheduler:
    """The scheduled messages' work in the due loop (see the module's docstring).

    Args:
        app: the daemon's shared objects (storage, the committer, the pusher).
        lease: seconds a claim holds an item before another node may take it.
    """

    what = "scheduled messages"

    def __init__(self, app: App, *, lease: float) -> None:
        self._app = app
        self._storage = app.storage  # as the reminders' work holds it, from the start
        self._lease = lease
        #: Items this node stored (for tests and metrics).
        self.sent = 0

    async def claim(self) -> int:
        """Claim the items due and send each; how many were claimed."""
        works = await self._storage.claim_scheduled(CLAIM_BATCH, self._lease)
        for work in works:
            await self.send(work)
        return len(works)

    async def next_due(self) -> float | None:
        return await self._storage.next_scheduled()

    async def send(self, work: ScheduledWork) -> None:
        """Send an item this node claimed (see the module's docstring): its send begun only
        while the claim holds, then committed, forgotten and told ``"sent"``; refused, marked
        failed and told; a claim lost meanwhile (cancelled, changed, claimed by another
        node) sends nothing."""
        app, item, user = self._app, work.item, work.user
        try:
            if user.deactivated_at is not None:
                raise ChatError(codes.FORBIDDEN, "the account is deactivated")
            result = await messages.send(app, Stateless(user), _send_request(app, item))
            assert isinstance(result, Append)
            if not await self._storage.scheduled_sending(work):
                log.info("scheduled message %d was cancelled, changed or claimed by another "
                         "node since this node claimed it: not sent here", item.id)
                return
            done = await app.committer.commit(result.message)
        except ChatError as exc:
            if exc.code in _TRANSIENT:
                log.warning("scheduled message %d not sent now (%s): it is sent after its "
                            "claim ends", item.id, exc.message)
                return
            await self._failed(work, exc)
            return
        except StorageUnavailable as exc:
            log.warning("scheduled message %d not sent now (%s): it is sent after its claim "
                        "ends", item.id, exc)
            return
        except Exception:  # a bug: one item must not stop the loop (nor the daemon)
            log.exception("scheduled message %d: the send failed; tried again after its "
                          "claim ends", item.id)
            return
        m = done.message
        self.sent += not done.duplicate
        try:
            await self._storage.scheduled_sent(item.id)
        except StorageUnavailable as exc:
            # Claimed again after the lease, it is a duplicate then, and forgotten.
            log.warning("scheduled message %d sent, not yet forgotten: %s", item.id, exc)
        await _tell(app, user.name, "sent", item,
                    {"room": m.room, "seq": m.seq, "msg_id": m.msg_id, "ts": m.ts})

    async def _failed(self, work: ScheduledWork, exc: ChatError) -> None:
        app = self._app
        try:
            item = await self._storage.scheduled_failed(work.item.id, exc.code, exc.message)
        except StorageUnavailable as error:
            log.warning("scheduled message %d refused (%s), not yet marked: %s",
                        work.item.id, exc.code, error)
            return
        if item is None:
            return
        log.info("scheduled message %d of %s refused: %s", item.id, work.user.name, exc.code)
        await _tell(app, work.user.name, "failed", item)
        app.pusher.scheduled_failed(work.user.name, scheduled_item_object(item),
                                    paused_until=work.paused_until,
                                    subscriptions=work.subscriptions)

"""Saved messages and their reminders: a user keeps messages to come back to, for themselves.

Theory of operation. A saved message is private to its user (Slack's "Later", Mattermost's
saved messages): a row of ``saved`` (migration 0030), never an entry of the room's log. A
``save`` is answered after its commit, and told as a ``saved`` event to every connection of
the user: here through the registry (the one that asked too, so that every device shows it
from the event alike), on the other nodes through storage (:meth:`Storage.tell_elsewhere`,
a NOTIFY: saves are rare, so it is sent whether or not the user is online elsewhere, which
the presence tracker may not know yet). A reminder set here that is due before the reminder
loop planned to look wakes it (chatd.reminders); the loop claims it when it is due.

A reminder of anything (``remind``, Slack's ``/remind me``) is the two composed: its text is
written to the user's notes to self (``@ann:ann``) as the ``dm`` to themselves would write
it, committed, then saved with the reminder. Nothing new is stored or claimed: the note is
where the user finds it again, the saved list shows it with its time, and the reminder loop
reminds it as any saved message's. Its nonce keeps a resend (a lost reply) to one note and
one reminder.

A reminder for someone else (``remind`` with ``user``, Slack's ``/remind @bob``) is the same
two steps with the other person as the owner: the note is the setter's message to them (their
conversation), saved for them with ``set_by`` (migration 0051). It is theirs from then on:
reminded by the same loop, with the same event and push, and changed or removed by them; the
setter lists what they set (``reminders_set``) and cancels it until it fires
(``cancel_reminder``), and is not told when it fires (it is not theirs; one alert per
reminder). Only people who share a room or a conversation may remind each other, and a user
may refuse reminders from others (``allow_reminders``): storage reads both in one statement
(:meth:`Storage.reminder_target`) before anything is written.
"""

from __future__ import annotations

import logging

from chatd.actions import messages
from chatd.actions.context import App, Append, Bucket, Caller, signed_in
from chatd.actions.session import now_ms
from chatd.errors import ChatError
from chatd.protocol import (
    MAX_REMIND_SECONDS,
    AllowReminders,
    Answer,
    CancelReminder,
    Dm,
    Remind,
    RemindersSet,
    Save,
    SavedChanged,
    SavedItems,
    codes,
    frame,
)
from chatd.protocol.events import SAVED_PAGE
from chatd.storage import SavedItem
from chatd.views import message_object

__all__ = ["SAVES", "allow_reminders", "cancel_reminder", "remind", "reminders_set", "save",
           "saved_item_object", "saved_items"]

log = logging.getLogger(__name__)

#: Saves per user, over all their connections and the HTTP API: a burst, then a few a
#: second (a person saves one message at a time; a client in a loop is refused).
SAVES = Bucket("save", lambda limits: (2.0, 30), "saving too often; slow down", per_user=True)


def saved_item_object(item: SavedItem) -> dict[str, object]:
    """An item of ``saved_items`` (and of the HTTP routes): {room, msg_id, ts, remind_at,
    reminded, message} (``message`` when it was read)."""
    obj: dict[str, object] = {"room": item.room, "msg_id": item.msg_id, "ts": item.ts,
                              "remind_at": item.remind_at, "reminded": item.reminded}
    if item.set_by is not None:
        obj["set_by"] = item.set_by
    if item.user is not None:
        obj["user"] = item.user
    if item.message is not None:
        obj["message"] = message_object(item.message)
    return obj


def check_remind_at(remind_at: int | None, now: int) -> None:
    """Refuse a reminder in the past or more than :data:`MAX_REMIND_SECONDS` ahead of the
    server's clock ``now`` (ms).

    Raises:
        ChatError('bad_request')
    """
    if remind_at is None:
        return
    if remind_at <= now:
        raise ChatError(codes.BAD_REQUEST, "'remind_at' must be ahead of the server's clock")
    if remind_at > now + MAX_REMIND_SECONDS * 1000:
        raise ChatError(codes.BAD_REQUEST, "a reminder may be at most a year ahead")


async def save(app: App, caller: Caller, request: Save) -> Answer:
    """Save a message (or change its reminder), or remove it, for the caller; their
    connections on every node are told when it changed."""
    user = signed_in(caller)
    if request.on:
        check_remind_at(request.remind_at, now_ms())
    item, changed = await app.storage.save(
        user.id, request.room, request.msg_id, on=request.on,
        remind_at=request.remind_at if request.on else None,
        limit=app.config.limits.saved_per_user)
    fields: dict[str, object] = {"room": item.room, "msg_id": item.msg_id, "on": request.on,
                                 "remind_at": item.remind_at, "reminded": item.reminded,
                                 "ts": item.ts}
    if not changed:
        fields["unchanged"] = True
        return Answer(id=request.id, fields=fields)
    data = frame(SavedChanged(room=item.room, msg_id=item.msg_id, on=request.on,
                              remind_at=item.remind_at if request.on else None, ts=item.ts))
    await app.tell(user.name, data, "a saved message")
    if request.on and item.remind_at is not None and app.due is not None:
        app.due.soon(item.remind_at)
    return Answer(id=request.id, fields=fields)


async def remind(app: App, caller: Caller, request: Remind) -> Answer:
    """Write ``text`` to the caller's notes to self and save it with a reminder at
    ``remind_at`` (see the module's docstring); the reply names the note and its seq."""
    user = signed_in(caller)
    check_remind_at(request.remind_at, now_ms())  # before anything is stored
    if request.user is not None and request.user.lower() != user.name.lower():
        return await _remind_other(app, caller, request, request.user)
    note = await messages.dm(app, caller, Dm(id=None, to=user.name, text=request.text,
                                             nonce=request.nonce))
    assert isinstance(note, Append)
    done = await app.committer.commit(note.message)
    message = done.message
    if done.duplicate and message.room != note.message.room:
        # the nonce names a message of another room: never remind the user of that one
        raise ChatError(codes.BAD_REQUEST, "'nonce' was used for another message")
    saved = await save(app, caller, Save(id=request.id, room=message.room,
                                         msg_id=message.msg_id, remind_at=request.remind_at))
    fields = {"room": message.room, "seq": message.seq, "msg_id": message.msg_id,
              "ts": message.ts, "remind_at": saved.fields["remind_at"]}
    if saved.fields.get("unchanged"):
        fields["unchanged"] = True
    return Answer(id=request.id, fields=fields)


async def _remind_other(app: App, caller: Caller, request: Remind, name: str) -> Answer:
    """A reminder for another user (Slack's ``/remind @bob``; see the module's docstring):
    the note is a message of the setter to them (their conversation), saved for them with
    the reminder and who set it. It is theirs from then on: reminded as their own, and
    changed or removed by them; the setter lists it and may cancel it until it fires."""
    user = signed_in(caller)
    target_id, target = await app.storage.reminder_target(user.id, name)
    note = await messages.dm(app, caller, Dm(id=None, to=target, text=request.text,
                                             nonce=request.nonce))
    assert isinstance(note, Append)
    done = await app.committer.commit(note.message)
    message = done.message
    if done.duplicate and message.room != note.message.room:
        raise ChatError(codes.BAD_REQUEST, "'nonce' was used for another message")
    item, changed = await app.storage.save(
        target_id, message.room, message.msg_id, on=True, remind_at=request.remind_at,
        limit=app.config.limits.saved_per_user, set_by=user.id)
    fields: dict[str, object] = {"room": message.room, "seq": message.seq,
                                 "msg_id": message.msg_id, "ts": message.ts,
                                 "remind_at": item.remind_at, "user": target}
    if not changed:
        fields["unchanged"] = True
        return Answer(id=request.id, fields=fields)
    data = frame(SavedChanged(room=item.room, msg_id=item.msg_id, on=True,
                              remind_at=item.remind_at, ts=item.ts, set_by=user.name))
    await app.tell(target, data, "a reminder set for them")
    if item.remind_at is not None and app.due is not None:
        app.due.soon(item.remind_at)
    return Answer(id=request.id, fields=fields)


async def reminders_set(app: App, caller: Caller, request: RemindersSet) -> Answer:
    """A page of the reminders the caller set for others, newest first, each with ``user``
    (whom it is for) and ``reminded``; ``more``: ask again with ``before`` = the last
    ``msg_id``. One its user removed is not listed."""
    user = signed_in(caller)
    items, more = await app.storage.reminders_set(user.id, before=request.before,
                                                  limit=request.limit or SAVED_PAGE)
    return Answer(id=request.id, fields={"items": [saved_item_object(i) for i in items],
                                         "more": more})


async def cancel_reminder(app: App, caller: Caller, request: CancelReminder) -> Answer:
    """Cancel a reminder the caller set for another user, until it fires: it leaves their
    saved messages (their connections are told, as of a removal of their own); the note
    stays in the conversation, the caller's to delete."""
    user = signed_in(caller)
    item = await app.storage.cancel_reminder(user.id, request.user, request.msg_id)
    assert item.user is not None
    data = frame(SavedChanged(room=item.room, msg_id=item.msg_id, on=False, remind_at=None,
                              ts=item.ts))
    await app.tell(item.user, data, "a reminder cancelled")
    return Answer(id=request.id, fields={"user": item.user, "room": item.room,
                                         "msg_id": item.msg_id})


async def allow_reminders(app: App, caller: Caller, request: AllowReminders) -> Answer:
    """Whether others may set reminders for the caller (``on``), set first when asked (a
    token of the user's saves bucket then; a read takes none, as the other reads do)."""
    user = signed_in(caller)
    if request.on is not None:
        app.take(SAVES, user.name)
    return Answer(id=request.id, fields={"on": await app.storage.allow_reminders(
        user.id, request.on)})


async def saved_items(app: App, caller: Caller, request: SavedItems) -> Answer:
    """A page of the caller's saved messages, newest saved first; ``more``: others were
    saved before the last (ask again with ``before`` = its ``ts``)."""
    user = signed_in(caller)
    items, more = await app.storage.saved_items(user.id, before=request.before,
                                                limit=request.limit or SAVED_PAGE)
    return Answer(id=request.id, fields={"items": [saved_item_object(i) for i in items],
                                         "more": more})

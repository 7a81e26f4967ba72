"""Moderating a room: roles (``set_role``), ``ban``, ``unban``, ``kick``; the bans in force
(``bans``) and the room's audit log (``audit``).

Each change is an entry of the room's log, so it is committed like a message (by the group
committer, in seq order with the room's messages) and every member, and every resume, learns
it once. Who may make which is decided by storage, under the room's lock, in one place
(:mod:`chatd.storage.changes`); these functions only wait for the commit and then do what
follows it: a member removed (by a kick or a ban) leaves the room registry with a ``left``
event ``by`` the moderator, as a kick always did, after the entry was published; other nodes
do the same from the membership notice (chatd.cluster).

Design note: why entries of the log. A role, a ban or a kick is something members should see
in the room, in its place among the messages, and a client that was away should learn it
exactly once when it resumes. The log already promises that (resume, ``history``, gap
repair, the relay between nodes all work on (room, seq)), so moderation takes seqs from the
same counter and costs no new delivery path; ``joined`` and ``left`` stay events for the
member lists, as before.
"""

from __future__ import annotations

import time
from typing import Any

from chatd.actions.context import App, Caller, signed_in
from chatd.actions.membership import unsubscribe
from chatd.protocol import (
    Answer,
    Archive,
    Audit,
    Ban,
    Bans,
    Kick,
    MemberLeft,
    SetRole,
    Unban,
    frame,
)
from chatd.storage import Appended, NewChange
from chatd.views import audit_object, ban_object

__all__ = ["AUDIT_PAGE", "archive", "audit", "ban", "bans", "kick", "set_role", "unban"]

#: The page of ``audit`` a request without ``limit`` gets.
AUDIT_PAGE = 50


def _answer(request_id: Any, room: str, done: Appended, **fields: Any) -> Answer:
    """The reply to a moderation change: the target as registered, the entry's seq and ts,
    and ``unchanged`` when it changed nothing (``seq`` is then the room's last)."""
    entry = done.message
    reply: dict[str, Any] = {"room": room, "user": entry.target, **fields, "seq": entry.seq,
                             "ts": entry.ts}
    if done.duplicate:
        reply["unchanged"] = True
    return Answer(id=request_id, fields=reply)


async def _removed(app: App, room: str, done: Appended) -> None:
    """After a kick or a ban that ended a membership: the registry follows (their
    connections get ``left`` with ``by``, after the entry, and nothing of the room after)."""
    if done.removed:
        entry = done.message
        announce = frame(MemberLeft(room=room, user=entry.target, by=entry.sender))
        await unsubscribe(app, entry.target, room, announce)


async def set_role(app: App, caller: Caller, request: SetRole) -> Answer:
    """Give a member a role; ``owner`` hands the room over (the old owner becomes a
    moderator)."""
    user = signed_in(caller)
    done = await app.committer.commit(NewChange(
        user_id=user.id, room=request.room, msg_id=0, kind="role", target=request.user,
        text=request.role))
    return _answer(request.id, request.room, done, role=request.role)


async def ban(app: App, caller: Caller, request: Ban) -> Answer:
    """Remove a user from the room (if they are in it) and keep them out: until
    ``expires_at``, for ``duration`` seconds, or until ``unban``."""
    user = signed_in(caller)
    expires_at = request.expires_at
    if request.duration is not None:
        expires_at = time.time_ns() // 1_000_000 + request.duration * 1000
    done = await app.committer.commit(NewChange(
        user_id=user.id, room=request.room, msg_id=0, kind="banned", target=request.user,
        text=request.reason or "", expires_at=expires_at))
    await _removed(app, request.room, done)
    fields: dict[str, Any] = {"reason": done.message.text,
                              "expires_at": done.message.expires_at}
    if request.delete_messages:
        purged = await app.committer.commit(NewChange(
            user_id=user.id, room=request.room, msg_id=0, kind="purge", target=request.user,
            within=request.delete_messages))
        fields["deleted"] = len(purged.entries)
        if purged.more:
            fields["more_deleted"] = True
    return _answer(request.id, request.room, done, **fields)


async def unban(app: App, caller: Caller, request: Unban) -> Answer:
    user = signed_in(caller)
    done = await app.committer.commit(NewChange(
        user_id=user.id, room=request.room, msg_id=0, kind="unbanned", target=request.user))
    return _answer(request.id, request.room, done)


async def kick(app: App, caller: Caller, request: Kick) -> Answer:
    """Remove a member. Storage first, then the registry: the ``Leave`` is applied before the
    answer, so nothing the room gets after the answer reaches them, and any ``Join`` based
    on an older storage read is dropped (chatd.rooms, "Membership")."""
    user = signed_in(caller)
    done = await app.committer.commit(NewChange(
        user_id=user.id, room=request.room, msg_id=0, kind="kicked", target=request.user,
        text=request.reason or ""))
    await _removed(app, request.room, done)
    return _answer(request.id, request.room, done)


async def archive(app: App, caller: Caller, request: Archive) -> Answer:
    """Archive (read-only until unarchived) or unarchive a room: its owner or an
    administrator. An entry of the log, like a topic; ``unchanged`` when it already was."""
    user = signed_in(caller)
    done = await app.committer.commit(NewChange(
        user_id=user.id, room=request.room, msg_id=0, kind="archived", on=request.archived))
    entry = done.message
    reply: dict[str, Any] = {"room": request.room, "archived": request.archived,
                             "seq": entry.seq, "ts": entry.ts}
    if done.duplicate:
        reply["unchanged"] = True
    return Answer(id=request.id, fields=reply)


async def bans(app: App, caller: Caller, request: Bans) -> Answer:
    user = signed_in(caller)
    found = await app.storage.bans(user.id, request.room)
    return Answer(id=request.id, fields={"room": request.room,
                                         "bans": [ban_object(b) for b in found]})


async def audit(app: App, caller: Caller, request: Audit) -> Answer:
    """A page of the room's audit log, newest first; ``more``: older entries follow (ask
    with ``before`` = the last id)."""
    user = signed_in(caller)
    limit = request.limit or AUDIT_PAGE
    found = await app.storage.audit_log(user.id, room=request.room, before=request.before,
                                        limit=limit + 1)
    return Answer(id=request.id, fields={
        "room": request.room, "entries": [audit_object(e) for e in found[:limit]],
        "more": len(found) > limit,
    })

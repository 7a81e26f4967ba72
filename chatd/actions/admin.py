"""Server administration, over HTTP (``/api/admin/...``): users (search, deactivate,
reactivate, a new password, administrator or not), rooms, the daemon's figures, and the audit
log.

Every function takes the user the request's token names, as storage read it for this request
(so a revoked administrator is refused at once), and refuses anyone but an administrator
with ``forbidden``. What changes accounts is recorded in the audit log by storage, in the
same transaction. Ending sessions: storage revokes the tokens, whose trigger tells every
other node (chatd.cluster); this node, which skips its own notices, ends them here.

The ``chatd`` command line (chatd/cli_admin.py) does the same from outside the daemon, with no
account (the audit log's null actor): it calls the same storage methods, and
:func:`delete_recent` as :func:`deactivate` does; the daemons learn of what it did from the
database's notices, as they learn of another node's actions.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

from chatd.actions.context import App
from chatd.actions.scheduled import tell_removed
from chatd.errors import ChatError
from chatd.protocol import RoomDeleted, codes, frame
from chatd.protocol.events import MAX_SEQ
from chatd.rooms import CloseRoom
from chatd.storage import PURGE_MAX, Appended, NewChange, NewEntry, Storage, User
from chatd.views import admin_room_object, admin_user_object, audit_object

__all__ = [
    "PAGE",
    "PAGE_MAX",
    "audit",
    "deactivate",
    "delete_recent",
    "delete_room",
    "list_rooms",
    "list_users",
    "reset_password",
    "set_admin",
    "stats",
]

#: The default and largest page of the admin lists.
PAGE = 50
PAGE_MAX = 200
#: The length of a password made up by ``reset_password`` (URL-safe base64: 96 bits).
GENERATED_PASSWORD_BYTES = 12


def require_admin(user: User) -> None:
    """Refuse anyone but a server administrator.

    Raises:
        ChatError: ``forbidden``.
    """
    if not user.admin:
        raise ChatError(codes.FORBIDDEN, "only server administrators can do this")


def _page(limit: int | None) -> int:
    if limit is None:
        return PAGE
    if not 1 <= limit <= PAGE_MAX:
        raise ChatError(codes.BAD_REQUEST, f"'limit' must be 1-{PAGE_MAX}")
    return limit


async def list_users(app: App, user: User, *, query: str = "", after: str = "",
                     limit: int | None = None) -> dict[str, Any]:
    """A page of the users whose name holds ``query``, by name, after ``after``."""
    require_admin(user)
    size = _page(limit)
    found = await app.storage.find_users(query=query, after=after, limit=size + 1)
    return {"users": [admin_user_object(u) for u in found[:size]], "more": len(found) > size}


async def deactivate(app: App, user: User, name: str, deactivated: bool,
                     delete_messages: int = 0) -> dict[str, Any]:
    """Deactivate (or reactivate) an account; deactivating ends its sessions on every node.
    An administrator cannot deactivate themselves (another one, or the command line, can).

    With ``delete_messages`` (seconds), deactivating also deletes the account's messages
    of that long ago or later, in every room and conversation: one ``purge`` per room (each
    a ``deleted`` entry by the administrator per message, through the committer, as a ban
    with ``delete_messages`` does), at most :data:`PURGE_MAX` in all; ``deleted`` says how
    many, ``more_deleted`` that some are left (deactivating again deletes them)."""
    require_admin(user)
    if deactivated and name.lower() == user.name.lower():
        raise ChatError(codes.BAD_REQUEST, "you cannot deactivate yourself")
    changed = await app.storage.set_deactivated(name, deactivated, actor_id=user.id)
    if deactivated:
        app.end_sessions(changed.name, None)
    answer: dict[str, Any] = {"user": admin_user_object(changed)}
    if deactivated and delete_messages:
        answer.update(await delete_recent(app.storage, app.committer.commit, user.id,
                                          changed.name, delete_messages))
    return answer


async def delete_recent(storage: Storage, commit: Callable[[NewEntry], Awaitable[Appended]],
                        actor_id: int, name: str, seconds: int) -> dict[str, Any]:
    """Delete user ``name``'s messages of the last ``seconds``, in every room and
    conversation, as ``actor_id`` (:data:`~chatd.storage.COMMAND_LINE`: the operator): one
    ``purge`` per room, stored by ``commit``, at most :data:`PURGE_MAX` messages in all.

    ``commit`` is the daemon's committer, which publishes the ``deleted`` entries to this
    node's members; the command line stores them itself (:meth:`Storage.append_messages`):
    either way the commit's notice takes them to the members of every other node.

    Returns:
        ``{"deleted": n}``, with ``"more_deleted": True`` when some are left (deleting again
        deletes them).
    """
    since = time.time_ns() // 1_000_000 - seconds * 1000
    deleted, more = 0, False
    for room in await storage.rooms_written_in(name, since):
        if deleted >= PURGE_MAX:
            more = True
            break
        try:
            purged = await commit(NewChange(
                user_id=actor_id, room=room, msg_id=0, kind="purge", target=name,
                within=seconds, limit=PURGE_MAX - deleted))
        except ChatError as exc:
            if exc.code == codes.NOT_FOUND:  # the room was deleted meanwhile
                continue
            raise
        deleted += len(purged.entries)
        more = more or purged.more
    answer: dict[str, Any] = {"deleted": deleted}
    if more:
        answer["more_deleted"] = True
    return answer


async def reset_password(app: App, user: User, name: str, password: str | None
                         ) -> dict[str, Any]:
    """Give an account a new password (the one given, else a random one, returned once):
    its earlier tokens stop working and its sessions end on every node."""
    require_admin(user)
    made = password is None
    new = secrets.token_urlsafe(GENERATED_PASSWORD_BYTES) if password is None else password
    changed = await app.auth.change_password(name, new, actor_id=user.id)
    app.end_sessions(changed.name, None)
    answer: dict[str, Any] = {"user": admin_user_object(changed)}
    if made:
        answer["password"] = new
    return answer


async def set_admin(app: App, user: User, name: str, admin: bool) -> dict[str, Any]:
    """Make a user a server administrator, or no longer one. Nobody revokes themselves over
    HTTP (so that there is always one left; the command line can)."""
    require_admin(user)
    if not admin and name.lower() == user.name.lower():
        raise ChatError(codes.BAD_REQUEST, "you cannot revoke your own administrator rights")
    changed = await app.storage.set_admin(name, admin, actor_id=user.id)
    return {"user": admin_user_object(changed)}


async def list_rooms(app: App, user: User, *, query: str = "", after: str = "",
                     limit: int | None = None) -> dict[str, Any]:
    """A page of the rooms (not conversations), by name, with owner and member count."""
    require_admin(user)
    size = _page(limit)
    found = await app.storage.admin_rooms(query=query.lower(), after=after, limit=size + 1)
    return {"rooms": [admin_room_object(r) for r in found[:size]], "more": len(found) > size}


async def delete_room(app: App, user: User, room: str) -> dict[str, Any]:
    """Delete a room with its whole log (not a conversation). Its members' connections on
    this node are told ``room_deleted`` here; other nodes from storage's notice
    (chatd.cluster). The users of the scheduled messages to it removed are told on every
    node (a ``scheduled`` event ``"cancelled"``, failed with ``not_found``)."""
    require_admin(user)
    removed = await app.storage.delete_room(user.id, room)
    await app.registry.send(CloseRoom(room, frame(RoomDeleted(room=room, by=user.name))))
    await tell_removed(app, removed)
    return {}


async def stats(app: App, user: User) -> dict[str, Any]:
    """This node's figures: its protocol connections, the messages it committed per second
    over the last minute; and the database's size on disk."""
    require_admin(user)
    return {
        "connections": len(app.sessions),
        "messages_per_second": round(app.metrics.recent_messages.per_second(time.monotonic()),
                                     3),
        "database_bytes": await app.storage.database_size(),
        "node": app.storage.node,
    }


async def audit(app: App, user: User, *, before: int | None = None,
                limit: int | None = None) -> dict[str, Any]:
    """A page of the whole audit log, newest first; ``more``: ask again with ``before`` =
    the last entry's id."""
    require_admin(user)
    size = _page(limit)
    if before is not None and not 1 <= before <= MAX_SEQ:
        raise ChatError(codes.BAD_REQUEST, f"'before' must be 1-{MAX_SEQ}")
    found = await app.storage.audit_log(user.id, before=before, limit=size + 1)
    return {"entries": [audit_object(e) for e in found[:size]], "more": len(found) > size}

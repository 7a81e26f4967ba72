"""A user's drafts: the half-typed message of each room and thread of theirs, on every device.

Theory of operation. A draft is the user's alone (Zulip's drafts, Slack's and Mattermost's
synced drafts): a row per room or conversation and per thread of it (migration 0049), no
entry of any log. ``set_draft`` stores one (an empty text deletes it) and tells the user's
other connections, on every node (the ``draft`` event; the asking connection has the reply),
so that an open page on another device shows it; ``drafts`` lists them. A page debounces
its saves (a second or two after the last key), and the server holds each user to a bucket
(:data:`DRAFT_CHANGES`): typing is many keys. A request that changes nothing tells nobody.

A draft goes with what it was for: when its user sends a message there
(:mod:`chatd.drafts`, off the send path), when they leave the room or lose it (the
membership's foreign key), and at most ``limits.drafts_per_user`` are kept.
"""

from __future__ import annotations

from chatd.actions.context import App, Bucket, Caller, signed_in
from chatd.protocol import Answer, DraftChanged, Drafts, SetDraft, frame
from chatd.storage import StoredDraft

__all__ = ["DRAFT_CHANGES", "draft_object", "drafts", "set_draft"]

#: Saves of a user's drafts, over all their connections and the HTTP API: a page saves one a
#: second or two after its user stops typing, so a few a second is several boxes and devices
#: at once. Each save that changes something is a notice to every node.
DRAFT_CHANGES = Bucket("draft", lambda limits: (2.0, 30),
                       "saving drafts too often; slow down", per_user=True)


def draft_object(draft: StoredDraft) -> dict[str, object]:
    """The protocol's draft object: ``room``, ``thread`` (only a thread's), ``text`` and
    ``updated_at``."""
    obj: dict[str, object] = {"room": draft.room}
    if draft.thread is not None:
        obj["thread"] = draft.thread
    obj["text"] = draft.text
    obj["updated_at"] = draft.updated_at
    return obj


async def drafts(app: App, caller: Caller, request: Drafts) -> Answer:
    """The user's drafts, the latest stored first, with the most they may keep."""
    user = signed_in(caller)
    listed = await app.storage.drafts(user.id)
    return Answer(id=request.id, fields={"drafts": [draft_object(d) for d in listed],
                                         "most": app.config.limits.drafts_per_user})


async def set_draft(app: App, caller: Caller, request: SetDraft) -> Answer:
    """Store (or with an empty text delete) the user's draft of a room or thread; when that
    changed it, their other connections, on every node, are told (the ``draft`` event).

    Raises:
        ChatError: ``too_many_drafts`` for a new draft past ``limits.drafts_per_user``,
            ``forbidden`` for a room the user is not in, ``not_found`` for no such room.
    """
    user = signed_in(caller)
    stored = await app.storage.set_draft(user.id, request.room, request.thread, request.text,
                                         most=app.config.limits.drafts_per_user)
    if stored is None:
        unchanged: dict[str, object] = {"room": request.room}
        if request.thread is not None:
            unchanged["thread"] = request.thread
        return Answer(id=request.id, fields={**unchanged, "text": request.text,
                                             "unchanged": True})
    if app.drafts is not None:
        app.drafts.index.changed(user.name, stored.room, stored.thread or 0, bool(stored.text))
    await app.tell(user.name, frame(DraftChanged(room=stored.room, thread=stored.thread,
                                                 text=stored.text,
                                                 updated_at=stored.updated_at)),
                   "a draft", exclude=caller.conn_id)
    return Answer(id=request.id, fields=draft_object(stored))

"""Followed threads: which threads a user follows, how far they have read each, and the list
of them (Slack's "Threads", Mattermost's collapsed reply threads).

Theory of operation. A user's state of a thread is a row of ``thread_follows`` (migration
0033), private to them: whether they follow it and the seq of the last reply they have read.
Followers are what a new reply mentions: the append of a thread reply reads them and writes
the follows the reply makes (its replier, the root's author, the members it names) in its own
statements, under the room's lock (chatd/storage/postgres.py), so two first repliers at once
each see the other. A change of a user's state is told as a ``thread_state`` event to every
connection of theirs, on every node (:meth:`App.tell`), and to nobody else: here when they
follow, unfollow or read by hand; for the follows a reply made, once the committer has
stored it (:class:`StateTeller`, fed by the committer without waiting). A new reply needs no
event of its own: its entry reaches every member of the room, and its ``mentions`` name the
followers.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import trio

from chatd.actions.context import App, Bucket, Caller, signed_in
from chatd.protocol import (
    Answer,
    FollowThread,
    ReadThread,
    RequestId,
    Threads,
    ThreadStateChanged,
    frame,
)
from chatd.protocol.events import THREADS_PAGE
from chatd.storage import FollowedThread, ThreadState
from chatd.views import message_object

__all__ = ["THREAD_STATES", "StateTeller", "follow_thread", "read_thread", "thread_object",
           "threads"]

log = logging.getLogger(__name__)

#: Follows and reads per user, over all their connections and the HTTP API (each is told to
#: every connection of theirs): a page reads a thread as its replies are seen, debounced.
THREAD_STATES = Bucket("thread_state", lambda limits: (5.0, 60),
                       "changing threads too often; slow down", per_user=True)


def thread_object(thread: FollowedThread) -> dict[str, object]:
    """A THREAD of ``threads`` (and of ``GET /api/me/threads``)."""
    return {"room": thread.room, "root": message_object(thread.root),
            "following": thread.following, "read_seq": thread.read_seq,
            "last_ts": thread.last_ts, "unread": thread.unread, "mentions": thread.mentions}


def state_event(state: ThreadState) -> bytes:
    """The ``thread_state`` event of ``state``, as bytes."""
    return frame(ThreadStateChanged(room=state.room, msg_id=state.msg_id,
                                    following=state.following, read_seq=state.read_seq))


def _answer(request_id: RequestId, state: ThreadState, changed: bool,
            **fields: object) -> Answer:
    answer: dict[str, object] = {"room": state.room, "msg_id": state.msg_id, **fields}
    if not changed:
        answer["unchanged"] = True
    return Answer(id=request_id, fields=answer)


async def follow_thread(app: App, caller: Caller, request: FollowThread) -> Answer:
    """Follow or unfollow a thread of a room the caller is a member of; their connections
    on every node are told when it changed."""
    user = signed_in(caller)
    state, changed = await app.storage.follow_thread(user.id, request.room, request.msg_id,
                                                     on=request.on)
    if changed:
        await app.tell(user.name, state_event(state), "a thread's state")
    return _answer(request.id, state, changed, following=state.following)


async def read_thread(app: App, caller: Caller, request: ReadThread) -> Answer:
    """Move the caller's read_seq of a thread forward (a lower seq: ``unchanged``)."""
    user = signed_in(caller)
    state, changed = await app.storage.read_thread(user.id, request.room, request.msg_id,
                                                   request.seq)
    if changed:
        await app.tell(user.name, state_event(state), "a thread's state")
    return _answer(request.id, state, changed, read_seq=state.read_seq)


async def threads(app: App, caller: Caller, request: Threads) -> Answer:
    """A page of the threads the caller follows, latest reply first; ``more``: others
    follow the last (ask again with ``before`` = "<its last_ts>:<its root's msg_id>")."""
    user = signed_in(caller)
    found, more = await app.storage.threads(user.id, before=request.before,
                                            limit=request.limit or THREADS_PAGE)
    fields: dict[str, object] = {"threads": [thread_object(t) for t in found], "more": more}
    if more and found:
        fields["next"] = f"{found[-1].last_ts}:{found[-1].root.msg_id}"
    return Answer(id=request.id, fields=fields)


class StateTeller:
    """Tells users of the follows their replies and names made (the committer's hook,
    :meth:`offer`, never waits: a bounded queue, and what does not fit is dropped and
    logged: a client that missed one reads the list again)."""

    def __init__(self, app: App, *, queue_size: int = 1024) -> None:
        self._app = app
        self._send, self._receive = trio.open_memory_channel[ThreadState](queue_size)

    def offer(self, states: Sequence[ThreadState]) -> None:
        """Queue ``states`` to tell (from the committer, after the commit)."""
        for state in states:
            try:
                self._send.send_nowait(state)
            except trio.WouldBlock:
                log.warning("too many thread states to tell: %s's of %s/%s dropped",
                            state.user, state.room, state.msg_id)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                  ) -> None:
        task_status.started()
        async for state in self._receive:
            await self._app.tell(state.user, state_event(state), "a thread's state")



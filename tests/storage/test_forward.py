"""Contract tests of forwards (migration 0039): a message stored with ``forwarded`` reads back
with it wherever messages are read; the insert's forward variants are statements of their
own (the plain and other inserts are as they were: issue 17), usable in a batch with plain
messages and polls; deleting a forward forgets what it forwarded.
"""

from __future__ import annotations

import dataclasses

import trio

from chatd.storage import Forwarded, NewMessage, NewPoll, Storage
from chatd.storage.postgres import (
    _INSERTS,
    _INSERTS_FILES,
    _POLL_INSERTS,
    _POLL_INSERTS_FILES,
    _SQL_APPEND_INSERT_PLAIN,
    _SQL_APPEND_LONE,
    _SQL_APPEND_ONE_TRIP,
    _forward_insert,
)
from tests.storage.test_changes import delete, say
from tests.storage.test_postgres import TIMEOUT, appended, make_member

ORIGINAL = Forwarded(sender="bob", ts=1_732_700_000_000, text="the build is green",
                     room="general", seq=4)


def test_the_other_inserts_are_as_they_were() -> None:
    """Only the forward variants name the column: every other append statement neither
    writes nor names it (issue 17); each forward variant writes it once."""
    others = (_SQL_APPEND_INSERT_PLAIN, _SQL_APPEND_LONE, _SQL_APPEND_ONE_TRIP,
              *_INSERTS.values(), *_INSERTS_FILES.values(), *_POLL_INSERTS.values(),
              *_POLL_INSERTS_FILES.values())
    for statement in others:
        assert "forwarded" not in statement and "fwd" not in statement
    for flags in ((p, g, t, f) for p in (False, True) for g in (False, True)
                  for t in (False, True) for f in (False, True)):
        statement = _forward_insert(*flags)
        assert statement.count("text, forwarded, ") == 1, flags
        assert statement.count("nullif(new.fwd, '')::jsonb") == 1, flags


async def test_a_forward_is_stored_and_read_with_its_message(storage: Storage) -> None:
    """A forward in a batch with a plain message and a poll reads back with its
    ``forwarded`` from the append, from history and by nonce; the others have none;
    deleting it leaves a tombstone without it."""
    with trio.fail_after(TIMEOUT):
        ann = await make_member(storage, "ann", "general")
        forward = dataclasses.replace(say(ann, "general", "FYI"), forwarded=ORIGINAL)
        poll = dataclasses.replace(say(ann, "general", "Lunch?"),
                                   poll=NewPoll(options=("Tue", "Wed")))
        results = await storage.append_messages([say(ann, "general", "plain"), forward, poll])
        plain, sent, polled = (appended(r).message for r in results)
        assert sent.forwarded == ORIGINAL and sent.text == "FYI"
        assert plain.forwarded is None and polled.forwarded is None
        assert polled.poll is not None
        page = await storage.history(ann.id, "general", limit=10)
        read = {m.msg_id: m for m in page.messages}
        assert read[sent.msg_id].forwarded == ORIGINAL
        assert read[plain.msg_id].forwarded is None and read[polled.msg_id].poll is not None
        [again] = await storage.messages_by_nonce([(ann.id, forward.nonce)])
        assert again is not None and again.forwarded == ORIGINAL
        # a private source: no room, no seq
        hidden = dataclasses.replace(ORIGINAL, room=None, seq=None)
        alone = NewMessage(user_id=ann.id, room="general", text="", nonce="alone",
                           forwarded=hidden)
        [stored] = await storage.append_messages([alone])
        lone = appended(stored).message  # alone in its batch, no text: not a plain append
        assert lone.forwarded == hidden
        page = await storage.history(ann.id, "general", after=lone.seq - 1, limit=1)
        assert [m.forwarded for m in page.messages] == [hidden]
        appended((await storage.append_messages([delete(ann, "general", sent.msg_id)]))[0])
        page = await storage.history(ann.id, "general", limit=10)
        gone = next(m for m in page.messages if m.msg_id == sent.msg_id and m.kind == "message")
        assert gone.deleted and gone.forwarded is None

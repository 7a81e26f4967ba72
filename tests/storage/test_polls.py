"""Contract tests of polls (migration 0036), against a real (embedded) PostgreSQL.

The rules (chatd.storage.changes): a poll is a message stored with its options by the
insert's poll variant (a plain message's statements are untouched); a vote is a ``voted``
entry with the next seq, by a member, replacing the voter's whole choice (none: taken back);
the same choice again stores nothing; a closed poll, an index out of range, several on a
single-choice poll, a message that is no poll are refused; the closing (``poll_closed``) is
the author's or a moderator's. Whatever happens, the poll as read (each option's voters, in
the order of the entries that set their choices) is what replaying the log's ``voted``
entries gives.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import asyncpg
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatd.errors import ChatError
from chatd.storage import (
    Appended,
    Message,
    NewChange,
    NewEntry,
    NewMessage,
    NewPoll,
    Storage,
    User,
    open_storage,
)
from chatd.storage.postgres import _INSERTS, _INSERTS_FILES, _SQL_APPEND_INSERT_PLAIN
from tests.helpers import make_config
from tests.storage.test_changes import current, delete, edit, one, say
from tests.storage.test_postgres import TIMEOUT, appended, make_member


def ask(user: User, room: str, text: str, *options: str, multiple: bool = False,
        nonce: str | None = None) -> NewMessage:
    return NewMessage(user_id=user.id, room=room, text=text,
                      nonce=nonce or f"p{uuid.uuid4().hex}",
                      poll=NewPoll(options=options, multiple=multiple))


def vote(user: User, room: str, msg_id: int, *options: int) -> NewChange:
    return NewChange(user_id=user.id, room=room, msg_id=msg_id, kind="voted",
                     options=tuple(sorted(options)))


def close(user: User, room: str, msg_id: int) -> NewChange:
    return NewChange(user_id=user.id, room=room, msg_id=msg_id, kind="poll_closed")


def tally(message: Message) -> list[tuple[str, list[str]]]:
    assert message.poll is not None
    return [(o.text, list(o.voters)) for o in message.poll.options]


async def _rows(dsn: str, msg_id: int) -> tuple[int, int, bool]:
    conn = await asyncpg.connect(dsn)
    try:
        row = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM polls WHERE message_id = $1) AS polls, "
            "(SELECT count(*) FROM poll_votes WHERE message_id = $1) AS votes, "
            "(SELECT poll FROM messages WHERE id = $1) AS flag", msg_id)
        return row["polls"], row["votes"], row["flag"]
    finally:
        await conn.close()


async def rows(dsn: str, msg_id: int) -> tuple[int, int, bool]:
    """How many rows of ``polls`` and ``poll_votes`` the message has, and its poll flag."""
    return await trio.to_thread.run_sync(asyncio.run, _rows(dsn, msg_id))


def test_the_plain_inserts_are_as_they_were() -> None:
    """The poll variants are statements of their own: the plain and the other inserts
    neither write nor name the poll (issue 17)."""
    for statement in (_SQL_APPEND_INSERT_PLAIN, *_INSERTS.values(), *_INSERTS_FILES.values()):
        assert "poll" not in statement


async def test_a_poll_is_stored_and_read_with_its_message(storage: Storage,
                                                          database_dsn: str) -> None:
    """A poll's message reads back with its options in order, no votes, open; in a batch
    with plain messages too, and a resend of its nonce stores it once; a plain message has
    no poll and no row."""
    with trio.fail_after(TIMEOUT):
        ann = await make_member(storage, "ann", "general")
        results = await storage.append_messages([
            say(ann, "general", "before"), ask(ann, "general", "Lunch?", "Tue", "Wed",
                                               nonce="lunch"),
            say(ann, "general", "after")])
        plain, polled, later = (appended(r).message for r in results)
        assert polled.poll is not None and polled.poll.multiple is False
        assert tally(polled) == [("Tue", []), ("Wed", [])]
        assert plain.poll is None and later.poll is None
        again = appended(await one(storage, ask(ann, "general", "Lunch?", "Tue", "Wed",
                                                nonce="lunch")))
        assert again.duplicate and again.message.msg_id == polled.msg_id
        read = await current(storage, ann, "general", polled.msg_id)
        assert tally(read) == [("Tue", []), ("Wed", [])] and read.poll is not None
        assert read.poll.closed_by is None
        assert (await current(storage, ann, "general", plain.msg_id)).poll is None
        assert await rows(database_dsn, polled.msg_id) == (1, 0, True)
        assert await rows(database_dsn, plain.msg_id) == (0, 0, False)


async def test_votes_and_closing(storage: Storage) -> None:
    """Votes take the next seqs and replace the voter's choice; the same again is unchanged
    at the message's rev; the refusals store nothing; only the author or a moderator
    closes; a closed poll refuses votes; an edit keeps the options and votes."""
    with trio.fail_after(TIMEOUT):
        ann = await make_member(storage, "ann", "general")  # made the room: moderates it
        bob = await make_member(storage, "bob", "general")
        cid = await make_member(storage, "cid", "general")
        eve = await make_member(storage, "eve", "elsewhere")
        poll = appended(await one(storage, ask(bob, "general", "Q?", "a", "b", "c"))).message
        mid = poll.msg_id
        first = appended(await one(storage, vote(cid, "general", mid, 2))).message
        assert first.seq == poll.seq + 1 and first.kind == "voted" and first.choice == (2,)
        same = appended(await one(storage, vote(cid, "general", mid, 2)))
        assert same.duplicate and same.message.seq == first.seq
        for change, code in ((vote(eve, "general", mid, 0), "forbidden"),
                             (vote(cid, "general", mid, 3), "bad_request"),
                             (vote(cid, "general", mid, 0, 1), "bad_request"),
                             (vote(cid, "general", mid + 999, 0), "not_found"),
                             (close(cid, "general", mid), "forbidden")):
            result = await one(storage, change)
            assert isinstance(result, ChatError) and result.code == code, (change, result)
        plain = appended(await one(storage, say(cid, "general", "no poll"))).message
        result = await one(storage, vote(cid, "general", plain.msg_id, 0))
        assert isinstance(result, ChatError) and result.code == "bad_request"
        await one(storage, vote(ann, "general", mid, 2))
        await one(storage, vote(cid, "general", mid, 0))
        assert appended(await one(storage, edit(bob, "general", mid, "Q, really?")))
        read = await current(storage, ann, "general", mid)
        assert read.text == "Q, really?"
        assert tally(read) == [("a", ["cid"]), ("b", []), ("c", ["ann"])]
        closed = appended(await one(storage, close(ann, "general", mid))).message
        assert closed.kind == "poll_closed" and closed.sender == "ann"
        again = appended(await one(storage, close(bob, "general", mid)))
        assert again.duplicate and again.message.seq == closed.seq
        result = await one(storage, vote(cid, "general", mid, 1))
        assert isinstance(result, ChatError) and result.message == "the poll is closed"
        read = await current(storage, ann, "general", mid)
        assert read.poll is not None and read.poll.closed_by == "ann"
        assert read.poll.closed_ts == closed.ts and read.rev == closed.seq
        own = appended(await one(storage, ask(cid, "general", "Mine?", "y", "n"))).message
        assert appended(await one(storage, close(cid, "general", own.msg_id)))


async def test_a_deletion_takes_the_poll_and_its_votes(storage: Storage,
                                                       database_dsn: str) -> None:
    """Deleting a poll's message (in the batch of a vote too) leaves a tombstone without a
    poll, no rows, and votes on it not_found."""
    with trio.fail_after(TIMEOUT):
        ann = await make_member(storage, "ann", "general")
        poll = appended(await one(storage, ask(ann, "general", "Q?", "a", "b",
                                               multiple=True))).message
        results = await storage.append_messages([
            vote(ann, "general", poll.msg_id, 0, 1), delete(ann, "general", poll.msg_id),
            vote(ann, "general", poll.msg_id, 0)])
        assert isinstance(results[0], Appended) and isinstance(results[1], Appended)
        assert isinstance(results[2], ChatError) and results[2].code == "not_found"
        tomb = await current(storage, ann, "general", poll.msg_id)
        assert tomb.deleted and tomb.poll is None
        assert (await rows(database_dsn, poll.msg_id))[:2] == (0, 0)


_op: st.SearchStrategy[tuple[str, int, int, list[int]]] = st.one_of(
    st.tuples(st.just("vote"), st.integers(0, 2), st.integers(0, 1),
              st.lists(st.integers(0, 3), max_size=4, unique=True)),
    st.tuples(st.just("close"), st.integers(0, 2), st.integers(0, 1), st.just([])),
)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(st.lists(_op, min_size=1, max_size=6), min_size=1, max_size=5))
async def test_the_stored_votes_are_what_a_model_says(
        tmp_path: Path, database_dsn: str, batches: list[list[tuple[str, int, int, list[int]]]]
) -> None:
    """After any sequence of votes and closings, in batches, on a single- and a
    multiple-choice poll: each outcome is what a model of the rules says (stored, unchanged
    or refused), and the polls as read (voters per option, in order; closed) equal the
    model's, which is also what replaying the log's entries on the fresh polls gives."""
    room = f"r{uuid.uuid4().hex[:12]}"
    async with open_storage(make_config(tmp_path, database_dsn)) as storage:
        with trio.fail_after(TIMEOUT * 3):
            users = [await make_member(storage, f"u{i}-{room}"[:32], room) for i in range(3)]
            polls = [appended(await one(storage, ask(users[1], room, "Q?", "a", "b", "c",
                                                     multiple=multiple))).message
                     for multiple in (False, True)]
            # The model: per poll, each voter's choice in vote order, and whether closed.
            choices: list[dict[str, tuple[int, ...]]] = [{}, {}]
            closed = [False, False]
            for ops in batches:
                batch: list[NewEntry] = []
                expected: list[str] = []
                for kind, who, which, options in ops:
                    user, index = users[who], which
                    msg_id = polls[index].msg_id
                    chosen = tuple(sorted(options))
                    if kind == "close":
                        batch.append(close(user, room, msg_id))
                        if user is users[2]:
                            expected.append("forbidden")  # neither author nor moderator
                        else:
                            expected.append("unchanged" if closed[index] else "stored")
                            closed[index] = True
                        continue
                    batch.append(vote(user, room, msg_id, *chosen))
                    if closed[index] or any(i > 2 for i in chosen) or (
                            index == 0 and len(chosen) > 1):
                        expected.append("bad_request")
                    elif choices[index].get(user.name, ()) == chosen:
                        expected.append("unchanged")
                    else:
                        choices[index].pop(user.name, None)  # a new choice goes last
                        if chosen:
                            choices[index][user.name] = chosen
                        expected.append("stored")
                got = ["unchanged" if isinstance(r, Appended) and r.duplicate else "stored"
                       if isinstance(r, Appended) else r.code
                       for r in await storage.append_messages(batch)]
                assert got == expected, (ops, got)
            log = (await storage.history(users[0].id, room, limit=500)).messages
            read = [next(m for m in log if m.kind == "message" and m.msg_id == p.msg_id)
                    for p in polls]
    for index, message in enumerate(read):
        model = [(text, [name for name, chosen in choices[index].items() if option in chosen])
                 for option, text in enumerate(("a", "b", "c"))]
        assert tally(message) == model
        assert message.poll is not None and (message.poll.closed_by is not None) == closed[index]
        # Replaying the log's entries (each voter's choice replaced whole) gives the same.
        replayed: dict[str, tuple[int, ...]] = {}
        for entry in log:
            if entry.kind == "voted" and entry.msg_id == message.msg_id:
                replayed.pop(entry.sender, None)
                if entry.choice:
                    replayed[entry.sender] = entry.choice
        assert replayed == choices[index]

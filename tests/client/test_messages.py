"""The terminal client's message state (chatd/client/messages.py): entries of a room's log
applied by the rev rule, whatever road they came by and however often.

The room logs are made by a small model of the server (:class:`Log`), written apart from the
client's code: it turns random actions (post, edit, delete, react, pin) into the entries the
server
would store, and reads a page of the log at any moment as the server would (message objects
as they are then, earlier edits of a deleted message emptied).
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from chatd.client.messages import Applied, Messages, normalised, reacted
from chatd.protocol import (
    Entry,
    MessageDeleted,
    MessageEdited,
    MessagePinned,
    MessagePosted,
    ReactionChanged,
)

ROOM = "team"
USERS = ("ann", "bob", "cid")
EMOJI = ("👍", "❤️", "🎉")
TEXTS = ("hi", "hi @bob", "**bold** @cid and @ann", "`@bob` in code", "fixed")


def _mentions(text: str) -> tuple[str, ...]:
    """The members a text names, the model's way (code spans aside)."""
    text = re.sub(r"`[^`]*`", " ", text)
    return tuple(dict.fromkeys(n for n in re.findall(r"@(\w+)", text) if n in USERS))


@dataclasses.dataclass
class _Message:
    """A message in the model, as it is now. ``reactions``: emoji -> (the seq at which it was
    put on while nobody had it, its users in the order they put it)."""

    seq: int
    msg_id: int
    sender: str
    text: str
    ts: int
    rev: int
    reply_to: int | None
    mentions: tuple[str, ...]
    edited_ts: int | None = None
    deleted: bool = False
    reactions: dict[str, tuple[int, list[str]]] = dataclasses.field(default_factory=dict)
    pinned: dict[str, Any] | None = None  # {by, ts, seq} while pinned


class Log:
    """A room's log, grown by actions as the server would grow it."""

    def __init__(self) -> None:
        self.entries: list[Entry] = []

    @property
    def seq(self) -> int:
        return len(self.entries)

    def state_at(self, k: int) -> dict[int, _Message]:
        """Every message as it was once entries 1..k were stored."""
        messages: dict[int, _Message] = {}
        for entry in self.entries[:k]:
            if isinstance(entry, MessagePosted):
                messages[entry.msg_id] = _Message(
                    entry.seq, entry.msg_id, entry.sender, entry.text, entry.ts, entry.seq,
                    entry.reply_to, tuple(entry.mentions))
                continue
            assert isinstance(entry, MessageEdited | MessageDeleted | ReactionChanged
                              | MessagePinned), "the model makes no topic or moderation entries"
            held = messages[entry.msg_id]
            held.rev = entry.seq
            if isinstance(entry, MessageEdited):
                held.text, held.edited_ts = entry.text, entry.ts
                held.mentions = tuple(entry.mentions)
            elif isinstance(entry, MessageDeleted):
                held.deleted, held.text, held.mentions, held.reactions = True, "", (), {}
                held.pinned = None
            elif isinstance(entry, MessagePinned):
                held.pinned = ({"by": entry.by, "ts": entry.ts, "seq": entry.seq}
                               if entry.on else None)
            elif entry.on:
                first, users = held.reactions.get(entry.emoji, (entry.seq, []))
                held.reactions[entry.emoji] = (first, [*users, entry.user])
            else:
                first, users = held.reactions[entry.emoji]
                users = [u for u in users if u != entry.user]
                if users:
                    held.reactions[entry.emoji] = (first, users)
                else:
                    del held.reactions[entry.emoji]
        return messages

    def act(self, action: tuple[Any, ...]) -> None:
        """Store the entry of one action, if the server would store one (an edit to the same
        text, a reaction already on, a change to a deleted message: nothing)."""
        now = self.state_at(self.seq)
        seq, ts = self.seq + 1, 1_000 * (self.seq + 1)
        kind, who, pick, value = action
        if kind == "post" or not now:
            reply_to = sorted(now)[pick % len(now)] if now and value % 2 else None
            text = TEXTS[value % len(TEXTS)]
            self.entries.append(MessagePosted(
                room=ROOM, seq=seq, msg_id=100 + seq, sender=who, text=text, ts=ts,
                nonce=f"n{seq}", reply_to=reply_to, mentions=_mentions(text)))
            return
        target = now[sorted(now)[pick % len(now)]]
        if target.deleted:
            return
        if kind == "edit":
            text = TEXTS[value % len(TEXTS)]
            if text != target.text:
                self.entries.append(MessageEdited(
                    room=ROOM, seq=seq, msg_id=target.msg_id, text=text, sender=target.sender,
                    ts=ts, mentions=_mentions(text)))
        elif kind == "delete":
            self.entries.append(MessageDeleted(room=ROOM, seq=seq, msg_id=target.msg_id,
                                               by=who, ts=ts))
        elif kind == "pin":
            on = value % 2 == 0
            if on != (target.pinned is not None):  # else the server stores nothing
                self.entries.append(MessagePinned(room=ROOM, seq=seq, msg_id=target.msg_id,
                                                  by=who, on=on, ts=ts))
        else:
            emoji = EMOJI[value % len(EMOJI)]
            on = who not in target.reactions.get(emoji, (0, []))[1]
            self.entries.append(ReactionChanged(room=ROOM, seq=seq, msg_id=target.msg_id,
                                                emoji=emoji, user=who, on=on, ts=ts))

    def message_object(self, message: _Message, state: dict[int, _Message]) -> MessagePosted:
        quote: dict[str, Any] | None = None
        if message.reply_to is not None:
            answered = state[message.reply_to]
            quote = ({"deleted": True} if answered.deleted
                     else {"from": answered.sender, "text": answered.text[:200]})
        reactions = sorted(message.reactions.items(), key=lambda item: item[1][0])
        return MessagePosted(
            room=ROOM, seq=message.seq, msg_id=message.msg_id, sender=message.sender,
            text=message.text, ts=message.ts, nonce=f"n{message.seq}",
            rev=message.rev if message.rev != message.seq else None,
            edited_ts=message.edited_ts, deleted=message.deleted,
            reactions=[(emoji, list(users)) for emoji, (_, users) in reactions],
            reply_to=message.reply_to, quote=quote, mentions=list(message.mentions),
            pinned=dict(message.pinned) if message.pinned is not None else None,
        )

    def page(self, lo: int, hi: int, k: int) -> list[Entry]:
        """The entries with lo < seq <= hi, read once entries 1..k were stored (hi <= k):
        messages as they were then; the edits of a message deleted by then emptied."""
        state = self.state_at(k)
        page: list[Entry] = []
        for entry in self.entries[lo:hi]:
            if isinstance(entry, MessagePosted):
                page.append(self.message_object(state[entry.msg_id], state))
            elif isinstance(entry, MessageEdited) and state[entry.msg_id].deleted:
                page.append(dataclasses.replace(entry, text="", mentions=()))
            else:
                page.append(entry)
        return page


actions = st.tuples(st.sampled_from(("post", "post", "edit", "delete", "react", "react",
                                     "react", "pin", "pin")),
                    st.sampled_from(USERS), st.integers(0, 50), st.integers(0, 50))


@st.composite
def logs(draw: st.DrawFn, max_actions: int = 40) -> Log:
    log = Log()
    for action in draw(st.lists(actions, min_size=1, max_size=max_actions)):
        log.act(action)
    return log


def applied(*roads: list[Entry]) -> Messages:
    messages = Messages()
    for road in roads:
        for entry in road:
            messages.apply(entry)
    return messages


def state(messages: Messages) -> dict[int, MessagePosted]:
    """The held messages of the room, but their quotes (a quote shows another message as it
    was when this one was read: not a part of this one's log)."""
    return {msg_id: dataclasses.replace(m, quote=None)
            for msg_id, m in messages.state().get(ROOM, {}).items()}


def expected(log: Log) -> dict[int, MessagePosted]:
    """The model's messages as they are at the end, in the client's form."""
    final = log.state_at(log.seq)
    held = applied([log.message_object(m, final) for m in final.values()])
    return state(held)


@given(logs())
def test_the_live_log_ends_as_the_server_reads_it(log: Log) -> None:
    """Applying the entries live, in order, holds every message as the server would read it
    at the end (text, edits, tombstones, reactions in order, mentions)."""
    assert state(applied(log.entries)) == expected(log)


@given(logs())
def test_entries_twice_change_nothing(log: Log) -> None:
    """The log applied twice, or every entry twice in a row, gives the state it gives once."""
    once = state(applied(log.entries))
    assert state(applied(log.entries, log.entries)) == once
    assert state(applied([e for entry in log.entries for e in (entry, entry)])) == once


@given(logs(), st.data())
def test_pages_and_live_entries_in_any_mix(log: Log, data: st.DataObject) -> None:
    """History pages read at any moment (join replies, paging back, filling a gap) and
    applied among the live entries, each once the entries before it were (the page of a gap
    comes before the live entries that follow the gap: the session keeps those back), end
    in the state of the live entries alone."""
    n = log.seq
    pages: list[tuple[int, list[Entry]]] = []
    for _ in range(data.draw(st.integers(1, 3))):
        k = data.draw(st.integers(0, n))
        hi = data.draw(st.integers(0, k))
        lo = data.draw(st.integers(0, hi))
        pages.append((data.draw(st.integers(lo, n)), log.page(lo, hi, k)))
    road: list[Entry] = []
    for live in range(n + 1):
        road += [entry for at, page in pages if at == live for entry in page]
        road += log.entries[live:live + 1]
    assert state(applied(road)) == expected(log)


def test_a_change_ahead_of_an_earlier_one_would_hide_it() -> None:
    """Why the entries before a page must have been applied: a reaction applied before an
    edit that came earlier moves the rev past the edit, which is then skipped (this is the
    order a gap's live entries would give, were they not kept back)."""
    log = Log()
    for action in [("post", "ann", 0, 0), ("edit", "ann", 0, 1), ("react", "bob", 0, 0)]:
        log.act(action)
    assert [e.OP for e in log.entries] == ["message", "edited", "reaction"]
    first, edit, reaction = log.entries
    assert state(applied([first, reaction, edit])) != expected(log)


@given(logs())
def test_a_page_then_the_same_entries_live(log: Log) -> None:
    """The latest page first (as a join reply gives it), then every entry live (as a resume
    from before would): the same state, and no entry reads as new or changed twice."""
    messages = applied(log.page(0, log.seq, log.seq))
    assert all(messages.apply(entry) is Applied.NOTHING for entry in log.entries)
    assert state(messages) == expected(log)


def test_a_change_to_a_message_not_held_is_skipped() -> None:
    """An edit of a message the client does not hold is skipped (its message object, read
    later, shows it); an older reading of a message does not undo a newer one."""
    messages = Messages()
    edit = MessageEdited(room=ROOM, seq=5, msg_id=1, text="new", sender="ann", ts=5)
    assert messages.apply(edit) is Applied.NOTHING
    posted = MessagePosted(room=ROOM, seq=1, msg_id=1, sender="ann", text="old", ts=1,
                           nonce="n")
    assert messages.apply(dataclasses.replace(posted, text="new", rev=5, edited_ts=5)) \
        is Applied.NEW
    assert messages.apply(posted) is Applied.NOTHING
    assert messages.apply(edit) is Applied.NOTHING
    held = messages.get(ROOM, 1)
    assert held is not None and held.text == "new" and held.rev == 5


def test_reactions_toggle_and_tombstones_stay() -> None:
    """Reactions are put and taken back per user; a deleted message loses text, mentions
    and reactions, and later entries leave it a tombstone."""
    messages = Messages()
    messages.apply(MessagePosted(room=ROOM, seq=1, msg_id=1, sender="ann", text="hi @bob",
                                 ts=1, nonce="n", mentions=["bob"]))
    for seq, (user, emoji, on) in enumerate([("bob", "👍", True), ("cid", "👍", True),
                                             ("ann", "🎉", True), ("bob", "👍", False)], 2):
        assert messages.apply(ReactionChanged(room=ROOM, seq=seq, msg_id=1, emoji=emoji,
                                              user=user, on=on, ts=seq)) is Applied.CHANGED
    held = messages.get(ROOM, 1)
    assert held is not None
    assert held.reactions == (("👍", ("cid",)), ("🎉", ("ann",)))
    assert reacted(held, "🎉", "ANN") and not reacted(held, "👍", "bob")
    assert messages.apply(MessageDeleted(room=ROOM, seq=6, msg_id=1, by="ann", ts=6)) \
        is Applied.CHANGED
    assert messages.apply(MessageEdited(room=ROOM, seq=7, msg_id=1, text="back", sender="ann",
                                        ts=7)) is Applied.NOTHING
    held = messages.get(ROOM, 1)
    assert held is not None and held.deleted and held.text == ""
    assert held.reactions == () and held.mentions == ()


def test_pins_come_and_go_and_tombstones_drop_them() -> None:
    """A pinned entry pins a held message ({by, ts, seq}: the entry's) and an unpinned one
    clears it, each moving the rev; a deleted message is no longer pinned, and a pin entry
    older than the message object held is skipped."""
    messages = Messages()
    messages.apply(MessagePosted(room=ROOM, seq=1, msg_id=1, sender="ann", text="rota",
                                 ts=1, nonce="n"))
    assert messages.apply(MessagePinned(room=ROOM, seq=2, msg_id=1, by="bob", on=True,
                                        ts=2)) is Applied.CHANGED
    held = messages.get(ROOM, 1)
    assert held is not None and held.pinned == {"by": "bob", "ts": 2, "seq": 2}
    assert held.rev == 2
    assert messages.apply(MessagePinned(room=ROOM, seq=2, msg_id=1, by="bob", on=True,
                                        ts=2)) is Applied.NOTHING
    assert messages.apply(MessagePinned(room=ROOM, seq=3, msg_id=1, by="ann", on=False,
                                        ts=3)) is Applied.CHANGED
    held = messages.get(ROOM, 1)
    assert held is not None and held.pinned is None
    messages.apply(MessagePinned(room=ROOM, seq=4, msg_id=1, by="ann", on=True, ts=4))
    assert messages.apply(MessageDeleted(room=ROOM, seq=5, msg_id=1, by="ann", ts=5)) \
        is Applied.CHANGED
    held = messages.get(ROOM, 1)
    assert held is not None and held.deleted and held.pinned is None


def test_short_numbers_name_one_message_across_rooms() -> None:
    """Numbers are given in the order messages are shown, one counter for every room;
    a forgotten room's numbers are not given again."""
    messages = Messages()
    one = MessagePosted(room="a", seq=1, msg_id=7, sender="ann", text="x", ts=1, nonce="n1")
    two = MessagePosted(room="b", seq=1, msg_id=8, sender="bob", text="y", ts=1, nonce="n2")
    for message in (one, two):
        messages.apply(message)
    assert (messages.number(two), messages.number(one), messages.number(two)) == (1, 2, 1)
    assert messages.numbered(2) == normalised(one) and messages.numbered(3) is None
    messages.forget("b")
    assert messages.numbered(1) is None
    three = MessagePosted(room="a", seq=2, msg_id=9, sender="ann", text="z", ts=2, nonce="n3")
    messages.apply(three)
    assert messages.number(three) == 3
    assert messages.last_by("a", "ANN") == normalised(three)


def test_the_oldest_are_forgotten_past_the_bound() -> None:
    """A room holds at most ``max_per_room`` messages: the lowest seqs go first."""
    messages = Messages(max_per_room=3)
    for seq in range(1, 6):
        messages.apply(MessagePosted(room=ROOM, seq=seq, msg_id=seq, sender="ann", text="t",
                                     ts=seq, nonce=f"n{seq}"))
    assert sorted(messages.state()[ROOM]) == [3, 4, 5]

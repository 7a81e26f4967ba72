"""The drafts' index and the sweeper's filter (chatd.drafts), without trio or a database: which
messages may clear a draft, what the index says after any order of changes and reads, and
that any event another node tells is heard without an exception.

A draft left because the index said "no" wrongly would never be cleared by a send: the
property checked is that after a read, whatever was changed before, during or after it,
the index agrees with the drafts as they are (the model), and that a user not known is
always a "maybe".
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from chatd.drafts import DraftIndex, typed
from chatd.protocol import DraftChanged, MessagePosted, frame
from chatd.storage import Forwarded, Message

KEYS = st.tuples(st.sampled_from(["team", "dev", "dm:ann:bob"]), st.sampled_from([0, 7]))


def _message(**fields: object) -> Message:
    base: dict[str, object] = {"room": "team", "seq": 1, "msg_id": 1, "sender": "ann",
                               "text": "hi", "ts": 1, "nonce": "n1"}
    return Message(**{**base, **fields})  # type: ignore[arg-type]


def test_what_may_clear_a_draft() -> None:
    """A message typed by its sender may; a change, a forward and a scheduled message the
    server sent may not."""
    assert typed(_message())
    assert typed(_message(thread=5))
    assert not typed(_message(kind="edited"))
    assert not typed(_message(kind="reaction"))
    assert not typed(_message(nonce="sched:12"))
    assert not typed(_message(forwarded=Forwarded(sender="bob", ts=1, text="x")))


def test_unknown_is_maybe_and_known_is_exact() -> None:
    """A user whose drafts were never read may have any; once read, exactly those, followed
    through changes; names compare ignoring case."""
    index = DraftIndex()
    assert index.may_have("Ann", "team", 0) and not index.known("ann")
    index.changed("ann", "team", 0, False)  # unknown stays unknown
    assert index.may_have("ann", "team", 0)
    index.begin(["ann"])
    index.learn("ANN", [("team", 0)])
    assert index.known("ann")
    assert index.may_have("ann", "team", 0) and not index.may_have("ann", "team", 7)
    index.changed("Ann", "team", 7, True)
    index.changed("ann", "team", 0, False)
    assert index.may_have("ann", "team", 7) and not index.may_have("ann", "team", 0)
    index.forget_all()
    assert not index.known("ann") and index.may_have("ann", "dev", 0)


def test_bounded_forgetting_the_least_recent() -> None:
    """Past ``most`` users the least recently learnt is forgotten (back to "maybe")."""
    index = DraftIndex(most=2)
    for user in ("a", "b", "c"):
        index.learn(user, [])
    assert len(index) == 2
    assert not index.known("a") and index.known("b") and index.known("c")


@given(before=st.lists(st.tuples(KEYS, st.booleans())),
       during=st.lists(st.tuples(KEYS, st.booleans())),
       after=st.lists(st.tuples(KEYS, st.booleans())))
def test_a_read_with_changes_around_it_ends_as_the_drafts_are(
        before: list[tuple[tuple[str, int], bool]],
        during: list[tuple[tuple[str, int], bool]],
        after: list[tuple[tuple[str, int], bool]]) -> None:
    """Changes before a read (seen by it), during it (not seen by it, heard meanwhile) and
    after it: the index then says exactly what the drafts are."""
    index = DraftIndex()
    truth: set[tuple[str, int]] = set()

    def change(key: tuple[str, int], present: bool) -> None:
        (truth.add if present else truth.discard)(key)
        index.changed("ann", *key, present)

    for key, present in before:
        change(key, present)
    index.begin(["ann"])
    read = set(truth)
    for key, present in during:
        change(key, present)
    index.learn("ann", read)
    for key, present in after:
        change(key, present)
    for room in ("team", "dev", "dm:ann:bob"):
        for thread in (0, 7):
            assert index.may_have("ann", room, thread) == ((room, thread) in truth)


@given(st.binary(max_size=80) | st.builds(lambda s: b'{"op":"draft"' + s, st.binary(max_size=60)))
def test_any_event_heard_never_raises(data: bytes) -> None:
    """Whatever another node tells a user, hearing it raises nothing (junk that starts like
    a draft event is logged and let be)."""
    index = DraftIndex()
    index.learn("ann", [])
    index.heard("ann", data)


def test_a_draft_event_heard_is_followed() -> None:
    """A draft event as the protocol frames it sets or clears the key; another event does
    nothing."""
    index = DraftIndex()
    index.learn("ann", [])
    index.heard("ann", frame(DraftChanged(room="team", thread=7, text="x", updated_at=1)))
    assert index.may_have("ann", "team", 7)
    index.heard("ann", frame(DraftChanged(room="team", thread=7, text="", updated_at=2)))
    assert not index.may_have("ann", "team", 7)
    index.heard("ann", frame(MessagePosted(room="team", seq=1, msg_id=1, sender="ann",
                                           text="x", ts=1, nonce="n")))
    assert not index.may_have("ann", "team", 0)
    # several frames in one notice (one a line): each draft event among them is followed
    index.heard("ann", frame(MessagePosted(room="team", seq=2, msg_id=2, sender="ann",
                                           text="x", ts=1, nonce="m"))
                + frame(DraftChanged(room="dev", text="y", updated_at=3))
                + b'{"op":"draft","room":5}\n'
                + frame(DraftChanged(room="team", text="z", updated_at=4)))
    assert index.may_have("ann", "dev", 0) and index.may_have("ann", "team", 0)

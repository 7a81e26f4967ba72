"""Notification keywords on the server: which new messages alert whom (pushes).

The rule itself (trimmed, lower-cased, plain characters, no word character right before or
after) is the protocol's, shared with the clients: :mod:`chatd.protocol.keywords`. Here is
what the pusher does with it, off the send path: storage's lookup
(:meth:`chatd.storage.Storage.push_targets`) gives, for each room of a batch, its members who
have keywords (a ``"keyword"`` candidate each, seq 0, with their keywords) only when some do;
:func:`keyword_targets` matches each candidate's keywords against the batch's messages of
that room and makes a ``"keyword"`` target of each message matched that is not the member's
own. The pusher then keeps one reason per user and message as for any other
(:func:`chatd.pusher.jobs_for`: a direct message and a mention rank first, then a keyword,
then a plain message at level ``all``), so a keyword raises a push at ``all`` to a keyword's
urgency and brings one at ``mentions``; at ``none`` storage finds no candidate.

Pure: no I/O, no clock. Each message's text is lower-cased once per candidate room and member,
at most ``limits.keywords_per_user`` keywords each.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

from chatd.protocol.keywords import keyword_matches, matches_any
from chatd.storage import Message, PushTarget

__all__ = ["KEYWORD", "keyword_matches", "keyword_targets", "matches_any"]

#: The reason of a push for a keyword (PushTarget.reason, the payload's ``kind``).
KEYWORD = "keyword"


def keyword_targets(messages: Sequence[Message], targets: Iterable[PushTarget]
                    ) -> list[PushTarget]:
    """``targets`` as storage gave them for ``messages``, with each keyword candidate
    replaced by a target of each message of its room that its keywords match and that its
    user did not send (none when none does); the other targets as they are, in order."""
    by_room: dict[str, list[Message]] = {}
    for message in messages:
        if message.kind == "message" and not message.deleted:
            by_room.setdefault(message.room, []).append(message)
    found: list[PushTarget] = []
    # (room, user) -> the seqs their keywords match: one match per member and message,
    # however many subscriptions they have.
    matched: dict[tuple[str, str], list[int]] = {}
    for target in targets:
        if target.reason != KEYWORD:
            found.append(target)
            continue
        key = (target.room, target.user)
        seqs = matched.get(key)
        if seqs is None:
            seqs = matched[key] = [
                message.seq for message in by_room.get(target.room, ())
                if message.sender != target.user and matches_any(target.keywords, message.text)]
        found.extend(dataclasses.replace(target, seq=seq, keywords=()) for seq in seqs)
    return found

"""Finding messages by their words: the asyncio side of
:meth:`chatd.storage.postgres.PostgresStorage.search`, after the scope (rooms, senders) is
resolved and before the messages found are read as message objects.

Theory of operation
-------------------
Messages keep their words as a tsvector (``messages.words``, migration 0011) under a GIN
index, filled in by the indexer a moment after the commit (chatd/indexer.py); until then
they are NULL, which matches no word and is not in the index (a partial one), so ``NOT
words @@ q`` leaves such a message out too. A search wants the newest matches first, a
page at a time (``ORDER BY id DESC LIMIT n``), and PostgreSQL has two ways to answer that,
each ruinous where the other shines:

- walk the primary key backwards from the newest message, testing each row, until n match:
  a few hundred rows for a common word, the whole table for a rare one;
- ask the GIN index for every matching row (a bitmap), read them all, sort, keep n: a few rows
  for a rare word, 100,000 rows read and sorted for a word in one message of ten.

The planner picks by its estimate of how many rows match, which is good for one word and
poor for phrases and for words that occur together (measured at 1M messages: a phrase of two
common words estimated at 677 rows, walked 250,000 rows in 74 ms). So the search splits the
id range, newest first, and plans each part by itself (``plan_cache_mode =
force_custom_plan``: neither the bounds nor the query are left to a generic plan):

1. the newest 4,096 ids, then the 16,384 below them: two **small windows** in which the
   planner may walk (bounded by the window, a few milliseconds at worst); a word in one
   message of a hundred fills its page here;
2. everything below, in one statement that may only use the indexes (``enable_indexscan =
   off``: no walk): the GIN bitmap of the matches, intersected with the rooms' or the
   window's bitmap, read and sorted. Here the matches are sparse, so that is few rows.

Measured (benchmarks/README.md, "Issue 15: search") against windows growing 4-fold all the way
down: a GIN scan of a prefix is not bounded by a window (PostgreSQL builds the bitmap of every
lexeme with that prefix, 27 ms for two common ones at a million messages), so repeating it per
window cost more than the one last statement. ids grow with commits, so id order is the
newest-first order the client pages by (``before`` is a msg_id).

Everything here takes values as parameters; the statements are assembled only from the
fixed fragments below, by which filters a query has.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any

__all__ = ["FIRST_WINDOW", "GROWTH", "LINK_PATTERN", "WALKED_WINDOWS", "find_ids",
           "window_sql"]

#: The ids the first small window covers, and how many times larger the second is.
FIRST_WINDOW = 4096
GROWTH = 4
#: The windows in which the planner may walk the primary key (when it expects many matches);
#: what is below them is read through the indexes alone, in one statement.
WALKED_WINDOWS = 2


#: What ``has:link`` means: a web address in the text (``http://`` or ``https://`` and
#: something after it), a POSIX regular expression of PostgreSQL's ``~*``. The indexer
#: (chatd/storage/postgres.py, _INDEX_WORDS) tests it, off the send path, and keeps the
#: messages that pass in ``message_links`` (migration 0050).
LINK_PATTERN = "https?://[^[:space:]]"

#: What each ``has:`` asks of a message ``m`` (chatd/search.py, HAS): files through the rooms'
#: index of them (files_room_id_idx), so that the planner may start from the rooms' files
#: instead of their messages; a poll from the polls (few); a link from the rooms' links
#: (message_links_room_idx), as a file from their files: a rare link costs the few rows that
#: name it, never a read of the rooms' whole history. A message is there once it is indexed
#: (as its words are: a moment after its commit).
_HAS = {
    "file": "m.files > 0 AND m.id IN (SELECT f.message_id FROM files f "
            "WHERE f.room_id = ANY ($1::bigint[]) AND f.message_id IS NOT NULL "
            "AND f.deleted_at IS NULL)",
    "image": "m.files > 0 AND m.id IN (SELECT f.message_id FROM files f "
             "WHERE f.room_id = ANY ($1::bigint[]) AND f.message_id IS NOT NULL "
             "AND f.deleted_at IS NULL AND f.content_type LIKE 'image/%')",
    "link": "m.id IN (SELECT l.message_id FROM message_links l "
            "WHERE l.room_id = ANY ($1::bigint[]))",
    "poll": "m.poll AND m.id IN (SELECT p.message_id FROM polls p)",
}
#: What each ``is:`` asks ({user}: the parameter of the searching user's id), each by the key
#: of a small table: the user's mentions (not a thread's follow), saved messages, the pins.
_IS = {
    "mention": "(m.room_id, m.seq) IN (SELECT x.room_id, x.seq FROM mentions x "
               "WHERE x.user_id = {user} AND NOT x.by_follow)",
    "saved": "m.id IN (SELECT s.msg_id FROM saved s WHERE s.user_id = {user})",
    "pinned": "m.id IN (SELECT p.message_id FROM pins p WHERE p.room_id = ANY ($1::bigint[]))",
    "thread": "m.thread_root IS NOT NULL",
}


def _needs_user(is_: Sequence[str]) -> bool:
    return any(name in ("mention", "saved") for name in is_)


def window_sql(*, positive: bool, negative: bool, senders: bool, after: bool,
               before: bool, has: Sequence[str] = (), is_: Sequence[str] = (),
               not_has: Sequence[str] = (), not_is: Sequence[str] = ()) -> str:
    """The statement that finds matches in one window of ids: $1 the rooms' ids, $2 and
    $3 the window (``$3 <= id < $2``), $4 the most ids to return, then (in this order, for
    those that are there) the positive and negative ``to_tsquery`` texts, the senders' ids,
    the times the messages must be at or after and before, and the searching user's id
    (for ``is:mention`` and ``is:saved``, negated or not). ``has``/``is_``: the names of
    :data:`_HAS` and :data:`_IS` the messages must all pass; ``not_has``/``not_is``: those
    they must pass none of (each condition negated: no subquery of them yields a NULL, so
    ``NOT … IN`` means "not among them")."""
    conditions = ["m.room_id = ANY ($1::bigint[])", "m.id < $2", "m.id >= $3",
                  "m.deleted_at IS NULL"]
    n = 4
    if positive:
        n += 1
        conditions.append(f"m.words @@ to_tsquery('simple', ${n})")
    if negative:
        n += 1
        conditions.append(f"NOT m.words @@ to_tsquery('simple', ${n})")
    if senders:
        n += 1
        conditions.append(f"m.sender_id = ANY (${n}::bigint[])")
    if after:
        n += 1
        conditions.append(f"m.created_at >= ${n}")
    if before:
        n += 1
        conditions.append(f"m.created_at < ${n}")
    conditions += [_HAS[name] for name in has]
    conditions += [f"NOT ({_HAS[name]})" for name in not_has]
    if _needs_user(is_) or _needs_user(not_is):
        n += 1
    conditions += [_IS[name].format(user=f"${n}") for name in is_]
    conditions += [f"NOT ({_IS[name].format(user=f'${n}')})" for name in not_is]
    where = "\n  AND ".join(conditions)
    return f"SELECT m.id FROM messages m\nWHERE {where}\nORDER BY m.id DESC\nLIMIT $4"


async def find_ids(conn: Any, *, rooms: Sequence[int], top: int, before: int | None,
                   positive: str, negative: str, senders: Sequence[int] | None,
                   after_time: datetime.datetime | None,
                   before_time: datetime.datetime | None, limit: int,
                   has: Sequence[str] = (), is_: Sequence[str] = (),
                   not_has: Sequence[str] = (), not_is: Sequence[str] = (),
                   user: int | None = None) -> list[int]:
    """The ids of the newest messages of ``rooms`` below ``before`` (a msg_id; None: from
    the newest, ``top`` being the largest id) that match, newest first, at most ``limit``.
    ``positive``/``negative``: ``to_tsquery`` texts they must / must not match ('' for
    none, and neither may then be empty to PostgreSQL: the caller checked); ``senders``:
    their authors' ids (None: anyone); the times bound ``created_at``; ``has``/``is_``
    (the query's ``has:`` and ``is:``, of the searching ``user``) and ``not_has``/``not_is``
    (its ``-has:`` and ``-is:``). Runs on ``conn`` inside the caller's transaction."""
    if not rooms or limit <= 0:
        return []
    sql = window_sql(positive=bool(positive), negative=bool(negative),
                     senders=senders is not None, after=after_time is not None,
                     before=before_time is not None, has=has, is_=is_, not_has=not_has,
                     not_is=not_is)
    extra: list[Any] = [value for value in (positive, negative) if value]
    if senders is not None:
        extra.append(list(senders))
    extra += [value for value in (after_time, before_time) if value is not None]
    if _needs_user(is_) or _needs_user(not_is):
        extra.append(user)
    room_ids = list(rooms)
    high = top + 1 if before is None else min(before, top + 1)
    size = FIRST_WINDOW
    found: list[int] = []
    for window in range(WALKED_WINDOWS + 1):
        if high <= 0 or len(found) >= limit:
            break
        if window == WALKED_WINDOWS:
            # The rest: the matches are sparse here, read them by the indexes only.
            await conn.execute("SET LOCAL enable_indexscan = off")
            low = 0
        else:
            low = max(high - size, 0)
        found += [row[0] for row in await conn.fetch(sql, room_ids, high, low,
                                                     limit - len(found), *extra)]
        high = low
        size *= GROWTH
    return found

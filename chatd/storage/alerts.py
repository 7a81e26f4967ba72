"""Who is alerted of a batch of new messages, and why: the part that a push's lookup
(chatd/storage/postgres.py, ``_SQL_PUSH_TARGETS``) and a missed-message email's
(chatd/storage/email.py, ``_SQL_TARGETS``) share, written once so that the two cannot come to
disagree on who a direct message or a mention alerts."""

from __future__ import annotations

__all__ = ["alerted"]

# $1 rooms, $2 seqs. ``b``: the batch's messages (their room's id, name and kind, seq,
# sender). ``t``: (room_id, room, seq, user_id, reason) for the two reasons both share: the
# other members of a conversation at a level that alerts ('dm': a 1:1 at 'all' or
# 'mentions', a group conversation at 'all'), and the members a message mentions (its rows
# of ``mentions``, written with it, the sender aside) whose level for the room is not 'none'
# ('mention'). Each walk starts from keys; the LATERALs with a LIMIT (far above what they can
# find) keep each a probe per row: as plain joins the planner scans and hashes the whole
# memberships table to serve a handful of messages. {more}: further arms of ``t``.
_ALERTED = """
WITH b AS (
    SELECT r.id AS room_id, r.name AS room, r.kind, x.seq, x.sender_id
    FROM unnest($1::text[], $2::bigint[]) AS i(room, seq)
    JOIN rooms r ON r.name = i.room
    JOIN messages x ON x.room_id = r.id AND x.seq = i.seq
), t AS (
    SELECT b.room_id, b.room, b.seq, m.user_id, 'dm' AS reason
    FROM b CROSS JOIN LATERAL (
        SELECT m.user_id FROM memberships m
        WHERE b.kind IN ('dm', 'group') AND m.room_id = b.room_id
          AND m.user_id <> b.sender_id
          -- a 1:1 alerts at 'mentions' too; a group conversation (migration 0034) only at
          -- 'all' (its default), at 'mentions' by the mention rows below
          AND coalesce(m.notify, 'all') IN ('all', CASE b.kind WHEN 'dm' THEN 'mentions' END)
        ORDER BY m.user_id  -- the primary key's order: a probe of it, never a scan
        LIMIT 8  -- GROUP_MAX: a conversation's members
    ) m
    UNION ALL
    SELECT b.room_id, b.room, b.seq, mn.user_id, 'mention'
    FROM b JOIN mentions mn ON mn.room_id = b.room_id AND mn.seq = b.seq
    CROSS JOIN LATERAL (
        SELECT 1 FROM memberships m
        WHERE m.room_id = b.room_id AND m.user_id = mn.user_id
          AND coalesce(m.notify, CASE b.kind WHEN 'room' THEN 'mentions' ELSE 'all' END)
              <> 'none'
        LIMIT 1
    ) m
    WHERE b.kind IN ('room', 'group'){more}
)"""


def alerted(more: str = "") -> str:
    """The ``WITH b AS (…), t AS (…)`` head of a lookup of who is alerted (see above), with
    ``more`` (``UNION ALL`` and further arms of ``t``, of the same five columns) at its
    end; the caller's ``SELECT … FROM t`` follows."""
    return _ALERTED.format(more=more)

"""SQL spelled once for the storage's modules: how times cross between PostgreSQL and chatd,
which counts them in integer milliseconds since the epoch; and the words a message is
searched by."""

from __future__ import annotations

__all__ = ["INDEXED_CHARS", "moderates", "ms", "ts", "words_of"]

#: How much of a text is indexed for search, in characters (migration 0011 says why).
INDEXED_CHARS = 100_000


def ms(column: str) -> str:
    """SQL: a timestamptz as integer milliseconds since the epoch (rounded down)."""
    return f"floor(extract(epoch FROM {column}) * 1000)::bigint"


def ts(param: str) -> str:
    """SQL: integer milliseconds since the epoch as an exact timestamptz."""
    return f"(timestamptz 'epoch' + {param}::bigint * interval '1 millisecond')"


def words_of(text: str) -> str:
    """SQL: the words of the text ``text`` (a column or an expression) as search keeps them
    in ``messages.words`` (migration 0011): a tsvector of the 'simple' configuration, of its
    first :data:`INDEXED_CHARS` characters."""
    return f"to_tsvector('simple'::regconfig, left({text}, {INDEXED_CHARS}))"


def moderates(user: str) -> str:
    """SQL: whether the user ``user`` (a parameter or a column) moderates the room ``r``: its
    owner, one of its moderators or an administrator of the server; never in a conversation.
    The rule of chatd.storage.changes (who may moderate a room's messages), for reads."""
    return f"""r.kind = 'room' AND (
           r.owner_id = {user}
           OR EXISTS (SELECT 1 FROM memberships m WHERE m.room_id = r.id AND m.user_id = {user}
                                                    AND m.role = 'moderator')
           OR EXISTS (SELECT 1 FROM users a WHERE a.id = {user} AND a.admin)
       )"""

"""SQL spelled once for the storage's modules: how times cross between PostgreSQL and chatd,
which counts them in integer milliseconds since the epoch."""

from __future__ import annotations

__all__ = ["ms", "ts"]


def ms(column: str) -> str:
    """SQL: a timestamptz as integer milliseconds since the epoch (rounded down)."""
    return f"floor(extract(epoch FROM {column}) * 1000)::bigint"


def ts(param: str) -> str:
    """SQL: integer milliseconds since the epoch as an exact timestamptz."""
    return f"(timestamptz 'epoch' + {param}::bigint * interval '1 millisecond')"

"""What PostgreSQL does with a statement: ``EXPLAIN ANALYZE`` plans for the storage tests that
check a statement stays bound to its own rows (an index walk, not a scan of a table)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import asyncpg
import trio

from chatd.storage.postgres import _SQL_HISTORY_NEWEST

__all__ = ["page_plan", "plan", "scans"]


async def plan(dsn: str, sql: str, *args: Any) -> dict[str, Any]:
    """The executed plan of ``sql`` with ``args``, after an ANALYZE of the database; run from
    trio (asyncpg gets an asyncio loop of its own in a thread)."""

    async def explain() -> dict[str, Any]:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("ANALYZE")
            rows = await conn.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", *args)
        finally:
            await conn.close()
        return json.loads(rows)[0]["Plan"]  # type: ignore[no-any-return]

    return await trio.to_thread.run_sync(asyncio.run, explain())


async def page_plan(dsn: str, user: str = "ann", room: str = "general") -> dict[str, Any]:
    """The plan of the latest page (51 entries) of ``room``'s history as ``user`` reads it."""

    async def user_id() -> int:
        conn = await asyncpg.connect(dsn)
        try:
            return int(await conn.fetchval("SELECT id FROM users WHERE name = $1", user))
        finally:
            await conn.close()

    uid = await trio.to_thread.run_sync(asyncio.run, user_id())
    return await plan(dsn, _SQL_HISTORY_NEWEST, room, uid, 0, 2**63 - 1, 51)


def scans(node: dict[str, Any]) -> list[dict[str, Any]]:
    """Every node of a plan that reads a table (it has a "Relation Name")."""
    found = [node] if "Relation Name" in node else []
    for child in node.get("Plans", []):
        found += scans(child)
    return found

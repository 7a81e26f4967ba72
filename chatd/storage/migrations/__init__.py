"""Schema migrations: numbered SQL files in this folder, applied in order at start-up.

A migration is a file ``NNNN_what_it_does.sql``; its version is the number. Each one is applied
once per database, in its own transaction, and recorded in ``schema_migrations(version,
applied_at)`` by that same transaction, so a crash leaves a migration either applied and
recorded or neither. Every transaction first takes ``pg_advisory_xact_lock`` on one fixed key:
several nodes starting together against one database queue up, and each migration is applied
exactly once (the later nodes find it recorded and skip it).

Never edit a migration that has shipped; add the next number. The functions here run on the
storage event loop (see ``chatd/storage/bridge.py``) with an asyncpg connection.
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import logging
import re
from typing import Any

__all__ = ["MIGRATION_LOCK_KEY", "Migration", "apply_migrations", "load_migrations"]

log = logging.getLogger("chatd.storage")

# The advisory lock all chatd nodes take while migrating ("chatd" in ASCII, then 1).
MIGRATION_LOCK_KEY = 0x63_68_61_74_64_01

_FILE_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     integer     PRIMARY KEY,
    applied_at  timestamptz NOT NULL DEFAULT now()
)
"""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations() -> list[Migration]:
    """The migrations shipped in this package, by version.

    Raises:
        RuntimeError: two files share a version (a packaging mistake, never a runtime state).
    """
    found: dict[int, Migration] = {}
    for entry in importlib.resources.files(__name__).iterdir():
        match = _FILE_NAME.match(entry.name)
        if match is None:
            continue
        version = int(match.group(1))
        if version in found:
            raise RuntimeError(f"two migrations with version {version}: {entry.name}")
        found[version] = Migration(
            version=version, name=entry.name, sql=entry.read_text(encoding="utf-8")
        )
    return [found[version] for version in sorted(found)]


async def apply_migrations(conn: Any) -> list[int]:
    """Apply the pending migrations on an asyncpg connection (asyncio side).

    Returns:
        The versions this call applied, in order; empty when the schema was up to date.
    """
    migrations = load_migrations()
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK_KEY)
        await conn.execute(_CREATE_TABLE)
        done = {row[0] for row in await conn.fetch("SELECT version FROM schema_migrations")}
    applied: list[int] = []
    for migration in migrations:
        if migration.version in done:
            continue
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK_KEY)
            if await conn.fetchval(
                "SELECT true FROM schema_migrations WHERE version = $1", migration.version
            ):
                continue  # another node applied it while we waited for the lock
            await conn.execute(migration.sql)
            await conn.execute(
                "INSERT INTO schema_migrations (version) VALUES ($1)", migration.version
            )
        log.info("applied migration %s", migration.name)
        applied.append(migration.version)
    known = max((m.version for m in migrations), default=0)
    if done and max(done) > known:
        log.warning(
            "the database schema is at version %d but this chatd only knows up to %d: "
            "was it migrated by a newer chatd?",
            max(done),
            known,
        )
    return applied

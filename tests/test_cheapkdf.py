"""The tests' daemons really hash cheaply (tests/cheapkdf.py), in this process and in a child
process started as ``-m tests.cheapkdf``: else the suite silently pays argon2's full cost
again (a few minutes of CI)."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import asyncpg

from chatd.auth import Auth
from tests.cheapkdf import CHATD, child_env
from tests.helpers import make_config

#: The parameters of an argon2id hash made by tests/cheapkdf.py's hasher.
CHEAP_HASH = "$argon2id$v=19$m=8,t=1,p=1$"


def test_an_auth_built_here_hashes_cheaply(tmp_path: Path) -> None:
    auth = Auth(None, make_config(tmp_path, ""), os.urandom(32))  # type: ignore[arg-type]
    assert auth._hasher.hash("correct horse battery").startswith(CHEAP_HASH)


def test_a_child_chatd_hashes_cheaply(tmp_path: Path, database_dsn: str) -> None:
    """`user add` through :data:`CHATD` (from another working folder) stores a cheap hash."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATD_")}
    env.update({"CHATD_SERVER_DATA_DIR": str(tmp_path / "data"),
                "CHATD_DATABASE_DSN": database_dsn})
    added = subprocess.run([*CHATD, "user", "add", "ann", "--password-stdin"],
                           input="correct horse battery\n", env=child_env(env), cwd=tmp_path,
                           capture_output=True, text=True, timeout=120)
    assert added.returncode == 0 and "created user ann" in added.stdout, added.stderr

    async def stored() -> str:
        conn = await asyncpg.connect(database_dsn)
        try:
            return str(await conn.fetchval("SELECT password_hash FROM users WHERE name = 'ann'"))
        finally:
            await conn.close()

    assert asyncio.run(stored()).startswith(CHEAP_HASH)

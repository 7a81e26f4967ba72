"""Fixtures shared by every test.

The database fixtures run one embedded PostgreSQL (pgserver) for the whole session, in a fresh
folder under /tmp, and give each test a database of its own on it:

- ``pg_server``: the server's base DSN (session-scoped). Set ``CHATD_TEST_DSN`` to a
  ``postgresql://`` DSN of a role allowed to create databases to use another server instead.
- ``database_dsn``: the DSN of a new, empty database for one test; dropped afterwards.
- ``storage``: an open :class:`chatd.storage.Storage` on that database (migrated).

Every test's daemons hash passwords with argon2id's cheapest parameters (tests/cheapkdf.py).

Build configs with :func:`tests.helpers.make_config`.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import urllib.parse
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from hypothesis import settings

import chatd.auth
from chatd.storage import Storage, open_storage
from chatd.storage.embedded import EmbeddedPostgres
from tests.cheapkdf import cheap_hasher
from tests.helpers import make_config

# Hypothesis: no deadline (the first example pays for imports and connections; CI machines are
# slow); fewer examples where the CI variable is set.
settings.register_profile("dev", deadline=None)
settings.register_profile("ci", deadline=None, max_examples=30, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


def pytest_configure(config: pytest.Config) -> None:
    """As root, give this session a folder of its own for ``tmp_path``. The embedded
    PostgreSQL then runs as another OS user, which needs to traverse every folder above its
    data directory (pgserver opens them up); but pytest takes group and other permissions off
    the shared ``/tmp/pytest-of-root`` at the start of every session, so a second session
    started meanwhile (another checkout's tests) breaks this one's databases."""
    if config.option.basetemp is None and os.geteuid() == 0:
        config.option.basetemp = tempfile.mkdtemp(prefix="chatd-pytest-", dir="/tmp")
        config.stash[_OWN_BASETEMP] = Path(config.option.basetemp)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Remove this session's own folder when every test passed (kept to look into else)."""
    own = session.config.stash.get(_OWN_BASETEMP, None)
    if own is not None and exitstatus == 0:
        shutil.rmtree(own, ignore_errors=True)


_OWN_BASETEMP = pytest.StashKey[Path]()


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """``Auth`` built without a hasher (the daemon's) hashes with argon2id's cheapest
    parameters: each register and log-in of a scene cost 150 ms of both cores otherwise."""
    monkeypatch.setattr(chatd.auth, "PasswordHasher", cheap_hasher)


def _with_database(dsn: str, name: str) -> str:
    """``dsn`` pointing at database ``name`` (the path of the URL)."""
    parts = urllib.parse.urlsplit(dsn)
    return urllib.parse.urlunsplit(parts._replace(path="/" + name))


def execute_sql(dsn: str, *statements: str) -> None:
    """Run statements outside any transaction, from sync code (fixtures run outside trio)."""

    async def run() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            for statement in statements:
                await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(run())


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """One PostgreSQL for the session; its base DSN (database ``postgres``)."""
    external = os.environ.get("CHATD_TEST_DSN")
    if external:
        yield external
        return
    # Under /tmp, never under the home folder: as root, pgserver opens read/traverse permission
    # on every parent of the cluster folder, up to /.
    root = Path(tempfile.mkdtemp(prefix="chatd-test-pg-", dir="/tmp"))
    server = EmbeddedPostgres.start(root)
    try:
        # Test databases are throw-away: trade durability for speed.
        execute_sql(
            server.uri,
            "ALTER SYSTEM SET fsync = off",
            "ALTER SYSTEM SET synchronous_commit = off",
            "ALTER SYSTEM SET full_page_writes = off",
            "SELECT pg_reload_conf()",
        )
        yield server.uri
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def database_dsn(pg_server: str) -> Iterator[str]:
    """A new empty database for this test; dropped (connections and all) afterwards."""
    name = f"chatd_test_{uuid.uuid4().hex[:12]}"
    execute_sql(pg_server, f'CREATE DATABASE "{name}"')
    try:
        yield _with_database(pg_server, name)
    finally:
        execute_sql(pg_server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def storage(tmp_path: Path, database_dsn: str) -> AsyncIterator[Storage]:
    """Open, migrated storage on this test's database."""
    async with open_storage(make_config(tmp_path, database_dsn)) as opened:
        yield opened


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A local S3-compatible server for the session (moto's server mode); its URL."""
    from tests.filestores import MotoServer

    server = MotoServer()
    try:
        yield server.endpoint
    finally:
        server.stop()


@pytest.fixture
def s3_settings(s3_endpoint: str) -> dict[str, str]:
    """A new bucket for this test, as the ``[files]`` settings that make chatd use it."""
    from tests.filestores import make_bucket

    return make_bucket(s3_endpoint)


@pytest.fixture(params=["local", "s3"])
def store_settings(request: pytest.FixtureRequest) -> dict[str, str]:
    """The ``[files]`` settings of each store in turn: the files folder (none to set) and a
    new bucket on the local S3 server."""
    if request.param == "local":
        return {}
    settings: dict[str, str] = request.getfixturevalue("s3_settings")
    return settings

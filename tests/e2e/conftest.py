"""Fixtures that run the whole daemon in the test's trio run, on port 0, against a fresh
database of the session's embedded PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio

from chatd.config import Config
from chatd.server import Server, serve
from tests.helpers import make_config


@asynccontextmanager
async def running(config: Config) -> AsyncIterator[Server]:
    """Run a daemon for the duration of the block, then drain it as SIGTERM would."""
    async with trio.open_nursery() as nursery:
        server: Server = await nursery.start(serve, config)
        try:
            yield server
        finally:
            server.shutdown()


@pytest.fixture
def config(tmp_path: Path, database_dsn: str) -> Config:
    return make_config(tmp_path, database_dsn, server={"grace_period": 5.0})


@pytest.fixture
async def daemon(config: Config) -> AsyncIterator[Server]:
    async with running(config) as server:
        yield server


def messages_of(frames: list[dict[str, Any]], room: str) -> list[dict[str, Any]]:
    return [f for f in frames if f.get("op") == "message" and f.get("room") == room]

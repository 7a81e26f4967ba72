"""The scaffolding of the HTTP route tests: ``daemon``, the HTTP daemon of
:func:`tests.http.test_uploads.start_daemon` with its default configuration (a module that
needs other sections defines its own ``daemon``, which pytest prefers), and ``document``, the
OpenAPI document as the answers are checked against it (the closed reading)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trio

from chatd.config import Config
from chatd.http.openapi import build_document
from chatd.storage.base import Storage
from tests.http.test_uploads import Daemon, start_daemon


@pytest.fixture
async def daemon(nursery: trio.Nursery, storage: Storage, tmp_path: Path
                 ) -> AsyncIterator[Daemon]:
    yield await start_daemon(nursery, storage, tmp_path)
    nursery.cancel_scope.cancel()


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return build_document(Config(), closed=True)

"""A daemon's HTTP front in the test's nursery, on a free port of 127.0.0.1: the actors and
the HTTP handler of a real daemon, without the TCP protocol or WebSocket listeners."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import partial
from typing import Any

import trio

from chatd.actions import App
from chatd.auth import Auth
from chatd.config import Config
from chatd.http import serve_http_connection
from chatd.metrics import Metrics
from chatd.server import run_actors
from chatd.storage.base import Storage
from tests.http.test_http import CHEAP_HASHER


@dataclass
class Served:
    port: int
    app: App
    auth: Auth


async def serve_http(nursery: trio.Nursery, storage: Storage, config: Config) -> Served:
    """Start the actors and an HTTP listener for ``config`` in ``nursery`` (cancel it to
    stop them)."""
    metrics = Metrics()
    auth = Auth(storage, config, os.urandom(64), metrics, hasher=CHEAP_HASHER)
    app = await run_actors(nursery, config, storage, auth, metrics)
    handler = partial(serve_http_connection, app=app, on_websocket=_no_websocket,
                      remote="127.0.0.1:test")
    listeners = await nursery.start(partial(trio.serve_tcp, handler, 0, host="127.0.0.1"))
    return Served(listeners[0].socket.getsockname()[1], app, auth)


async def _no_websocket(*args: Any) -> None:
    raise AssertionError("no WebSocket in these tests")

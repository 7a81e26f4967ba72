"""Fixtures that run the whole daemon in the test's trio run, on port 0, against a fresh
database of the session's embedded PostgreSQL."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio

from chatd.config import Config
from chatd.server import Server, serve
from tests.client import Client, register_and_login
from tests.helpers import LIFTED_RATES, make_config, serving


@asynccontextmanager
async def running(config: Config) -> AsyncIterator[Server]:
    """Run a daemon for the duration of the block, then drain it as SIGTERM would."""
    async with trio.open_nursery() as nursery:
        server: Server = await nursery.start(serve, config)
        try:
            yield server
        finally:
            server.shutdown()


@asynccontextmanager
async def ann_and_bea_on_two_nodes(tmp_path: Path, dsn: str, room: str = "shared"
                                   ) -> AsyncIterator[tuple[Client, Client]]:
    """Two nodes on one database (rates lifted), ann connected to the first and bea to the
    second, both in ``room``; their connections closed on the way out."""
    config = make_config(tmp_path, dsn, limits=LIFTED_RATES)
    async with running(config) as a, running(config) as b:
        ann = await Client.tcp(a.tcp_port)
        await ann.hello(await register_and_login(a.http_port, "ann"))
        bea = await Client.tcp(b.tcp_port)
        await bea.hello(await register_and_login(b.http_port, "bea"))
        try:
            for client in (ann, bea):
                await client.request("join", room=room)
            yield ann, bea
        finally:
            await ann.aclose()
            await bea.aclose()


@pytest.fixture
def config(tmp_path: Path, database_dsn: str) -> Config:
    return make_config(tmp_path, database_dsn, server={"grace_period": 5.0})


@pytest.fixture
async def daemon(config: Config) -> AsyncIterator[Server]:
    async with running(config) as server:
        yield server


def during_first_read(server: Server, monkeypatch: pytest.MonkeyPatch,
                      act: Callable[[], Awaitable[None]]) -> None:
    """Make the next hello's first read (the token's check with the rooms) run ``act`` once
    it has read: what ``act`` does comes after that read and before the subscription."""
    storage = server.app.storage
    open_session = storage.open_session

    async def then_act(*args: Any, **kwargs: Any) -> Any:
        start = await open_session(*args, **kwargs)
        monkeypatch.setattr(storage, "open_session", open_session)
        await act()
        return start

    monkeypatch.setattr(storage, "open_session", then_act)


def messages_of(frames: list[dict[str, Any]], room: str) -> list[dict[str, Any]]:
    return [f for f in frames if f.get("op") == "message" and f.get("room") == room]


async def people(daemon: Server, names: list[str], room: str | None = None
                 ) -> tuple[dict[str, str], dict[str, Client]]:
    """Register ``names``, connect each (TCP) and, when ``room`` is given, join it in that
    order (the first joins first: a new room's owner); their tokens and their connections."""
    tokens = {n: await register_and_login(daemon.http_port, n) for n in names}
    clients = {n: await Client.signed_in(daemon.tcp_port, tokens[n]) for n in names}
    if room is not None:
        for name in names:
            assert (await clients[name].request("join", room=room))["op"] == "ok"
    return tokens, clients


async def signed_in_over(transport: str, daemon: Server, nursery: trio.Nursery,
                         token: str) -> Client:
    """A connection of ``token``'s user over ``transport``: ``"tcp"`` or ``"ws"``."""
    if transport == "ws":
        client = await Client.ws(daemon.http_port, nursery)
        await client.hello(token)
        return client
    return await Client.signed_in(daemon.tcp_port, token)


async def ann_on_two_devices(daemon: Server, nursery: trio.Nursery, transport: str
                             ) -> dict[str, Any]:
    """ann (over ``transport``, and a second connection over TCP: ``laptop``), bob and cid
    (TCP); ann's ``token``."""
    clients: dict[str, Any] = {}
    for name in ("ann", "bob", "cid"):
        token = await register_and_login(daemon.http_port, name)
        clients[name] = await signed_in_over(transport if name == "ann" else "tcp", daemon,
                                             nursery, token)
        if name == "ann":
            clients["token"] = token
            clients["laptop"] = await Client.signed_in(daemon.tcp_port, token)
    return clients


async def unread_and_mentions(port: int, token: str, room: str) -> tuple[int, int]:
    """``(unread, mentions)`` of ``room`` in a fresh welcome for ``token``'s user."""
    client = await Client.signed_in(port, token)
    [found] = [r for r in (await client.request("rooms", joined=True))["rooms"]
               if r["room"] == room]
    await client.aclose()
    return found["unread"], found["mentions"]


START_TIMEOUT = 60


@dataclasses.dataclass(slots=True)
class Daemon:
    """A ``chatd serve`` subprocess and the ports it bound."""

    process: trio.Process
    http_port: int
    tcp_port: int


@asynccontextmanager
async def daemon_process(tmp_path: Path, dsn: str, name: str,
                         env: Mapping[str, str] | None = None) -> AsyncIterator[Daemon]:
    """Run ``python -m chatd serve`` on ``dsn`` (data in ``tmp_path/data``, ports 0, and any
    other ``CHATD_*`` settings in ``env``) for the block; the process is killed on the way
    out, whatever happened."""
    extra = env or {}
    env = {
        "CHATD_DATABASE_DSN": dsn, "CHATD_SERVER_DATA_DIR": str(tmp_path / "data"),
        "CHATD_HTTP_PORT": "0", "CHATD_TCP_PORT": "0",
        # The senders blast: this test is about durability, not the per-connection rate limit.
        "CHATD_LIMITS_SEND_RATE": "1000000", "CHATD_LIMITS_SEND_BURST": "1000000",
        "CHATD_LIMITS_USER_SEND_RATE": "1000000", "CHATD_LIMITS_USER_SEND_BURST": "1000000",
        **extra,
    }
    # The log goes to a file, not a pipe: nobody has to read it for the daemon to go on.
    async with serving(tmp_path, env, tmp_path / f"{name}.log", start_within=START_TIMEOUT) as (
            process, http_port, tcp_port):
        yield Daemon(process, http_port=http_port, tcp_port=tcp_port)

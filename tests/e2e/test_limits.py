"""End-to-end: the limits that protect the daemon from clients that misbehave."""

from __future__ import annotations

import socket
from pathlib import Path

import trio

from chatd.config import Config
from tests.client import Client, register_and_login
from tests.e2e.conftest import running
from tests.helpers import make_config


async def test_client_that_does_not_read_is_dropped_and_holds_nobody_back(
    tmp_path: Path, database_dsn: str,
) -> None:
    """A member that never reads is disconnected with slow_consumer once its outbox is full,
    while the sender and a reading member go on getting every message."""
    config = make_config(tmp_path, database_dsn, limits={"outbox_frames": 8})
    async with running(config) as server:
        port = server.http_port
        sleeper = await Client.tcp(server.tcp_port)
        assert isinstance(sleeper._stream, trio.SocketStream)
        sleeper._stream.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        await sleeper.hello(await register_and_login(port, "sleeper"))
        await sleeper.request("join", room="firehose")
        reader = await Client.tcp(server.tcp_port)
        await reader.hello(await register_and_login(port, "reader"))
        await reader.request("join", room="firehose")
        sender = await Client.tcp(server.tcp_port)
        await sender.hello(await register_and_login(port, "sender"))
        await sender.request("join", room="firehose")
        text = "x" * 3900
        sent = 0
        with trio.fail_after(60):
            while not server.services.metrics.registry.get_sample_value(
                "chatd_slow_consumer_disconnects_total"
            ):
                ack = await sender.request("send", room="firehose", text=text, nonce=str(sent))
                assert ack["op"] == "ok"
                sent += 1
                got = await reader.event("message", seq=ack["seq"])
                assert got["text"] == text
                reader.events.clear()
                sender.events.clear()
        # The sleeper's connection is gone: what it finally reads ends with slow_consumer.
        with trio.fail_after(30):
            frames = []
            while (frame := await sleeper.next_frame()) is not None:
                frames.append(frame)
        assert frames and frames[-1].get("code") == "slow_consumer"
        ack = await sender.request("send", room="firehose", text="still here", nonce="last")
        assert (await reader.event("message", seq=ack["seq"]))["text"] == "still here"


async def test_idle_connection_is_closed(tmp_path: Path, database_dsn: str) -> None:
    """A connection that sends nothing for idle_timeout is closed; pings keep one open."""
    config: Config = make_config(tmp_path, database_dsn, limits={"idle_timeout": 1.0})
    async with running(config) as server:
        silent = await Client.tcp(server.tcp_port)
        talker = await Client.tcp(server.tcp_port)
        await talker.hello(await register_and_login(server.http_port, "talker"))
        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(silent.wait_closed)
                for _ in range(4):
                    await trio.sleep(0.4)
                    assert (await talker.request("ping"))["op"] == "ok"
        assert silent.closed and not talker.closed

"""End-to-end: the limits that protect the daemon from clients that misbehave.

Time. The limits that count time (idle connections, the send rate) are tested on a trio
clock that runs at the real rate and that the test jumps forward (``steered_clock``): the
real daemon needs time to flow (its sockets, and its database on a thread of its own;
``autojump_clock`` would leap over those waits and fire every timeout, which was tried), and
the limit needs the time the test decides, not what a loaded machine happens to take. So the
timed settings are large next to any real delay, and the test jumps past them. Nothing here
sleeps: every other wait is for an event (a reply, a close, the scheduler going idle).
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import trio
import trio.testing

from chatd.config import Config
from tests.client import Client, full_history, register_and_login
from tests.e2e.conftest import running
from tests.helpers import LIFTED_RATES, make_config

# A timed limit, in seconds of the test's clock: far more than the real seconds any step takes.
LONG = 600.0


@pytest.fixture
def steered_clock() -> trio.testing.MockClock:
    """The run's clock (pytest-trio uses a Clock fixture for ``trio.run``): real rate, plus
    the test's ``jump``s. Jump only between steps, never inside a ``fail_after``."""
    return trio.testing.MockClock(rate=1.0)


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
            while not server.app.metrics.registry.get_sample_value(
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


async def test_idle_connection_is_closed(
    tmp_path: Path, database_dsn: str, steered_clock: trio.testing.MockClock,
) -> None:
    """A connection that sends nothing for idle_timeout is closed; pings keep one open."""
    config: Config = make_config(tmp_path, database_dsn, limits={"idle_timeout": LONG})
    async with running(config) as server:
        token = await register_and_login(server.http_port, "talker")
        silent = await Client.tcp(server.tcp_port)
        talker = await Client.tcp(server.tcp_port)
        await talker.hello(token)
        for _ in range(2):  # 0.8 of the timeout: both still open
            steered_clock.jump(LONG * 0.4)
            assert (await talker.request("ping"))["op"] == "ok"
        await trio.testing.wait_all_tasks_blocked()  # an idle watch due would have run
        assert server.app.metrics.registry.get_sample_value(
            "chatd_connections", {"transport": "tcp"}) == 2
        steered_clock.jump(LONG * 0.4)  # 1.2 for the silent one, 0.4 since the last ping
        await silent.wait_closed()
        assert (await talker.request("ping"))["op"] == "ok"
        assert silent.closed and not talker.closed


async def test_sends_past_the_rate_are_refused_with_a_retry_hint(
    tmp_path: Path, database_dsn: str, steered_clock: trio.testing.MockClock,
) -> None:
    """Past the burst, sends get rate_limited with retry_after and are not stored; after
    waiting that long a send goes through."""
    # One send per LONG seconds: however slow the machine, the bucket cannot refill between
    # the five sends below; only the jump refills it (and must not idle the client out).
    config = make_config(tmp_path, database_dsn, limits={
        "send_rate": 1 / LONG, "send_burst": 3, "idle_timeout": 10 * LONG,
    })
    async with running(config) as server:
        client = await Client.tcp(server.tcp_port)
        await client.hello(await register_and_login(server.http_port, "chatty"))
        await client.request("join", room="calm")
        replies = [await client.request("send", room="calm", text=f"m{i}", nonce=f"m{i}")
                   for i in range(5)]
        assert [r["op"] for r in replies] == ["ok", "ok", "ok", "error", "error"]
        retry_after = replies[4]["retry_after"]
        assert replies[3]["code"] == "rate_limited"
        assert 0 < retry_after <= LONG * 1000
        # The client waits as told (retry_after is rounded up to the millisecond, so that
        # much time always refills a token).
        steered_clock.jump(retry_after / 1000)
        assert (await client.request("send", room="calm", text="later", nonce="m9"))["seq"] == 4
        history = await client.request("history", room="calm")
        assert [m["text"] for m in history["messages"]] == ["m0", "m1", "m2", "later"]


async def test_a_user_with_many_connections_gets_the_users_rate_in_total(
    tmp_path: Path, database_dsn: str, steered_clock: trio.testing.MockClock,
) -> None:
    """Twelve connections of one user (TCP and WebSocket), each allowed 3 sends at once,
    share the user's 5: 24 sends store 5, the rest are rate_limited with a retry hint and
    store nothing; another user is not affected; once the user's bucket refills, a
    connection whose sends were all refused still has its own tokens."""
    config = make_config(tmp_path, database_dsn, limits={
        "send_rate": 1 / LONG, "send_burst": 3, "user_send_rate": 1 / LONG,
        "user_send_burst": 5, "idle_timeout": 10 * LONG,
    })
    async with running(config) as server, trio.open_nursery() as nursery:
        token = await register_and_login(server.http_port, "many")
        clients = []
        for i in range(12):
            client = await (Client.tcp(server.tcp_port) if i % 2
                            else Client.ws(server.http_port, nursery))
            await client.hello(token)
            clients.append(client)
        await clients[0].request("join", room="busy")
        replies = [await client.request("send", room="busy", text=f"{i}-{n}", nonce=f"{i}-{n}")
                   for n in range(2) for i, client in enumerate(clients)]
        assert [r["op"] for r in replies].count("ok") == 5
        refused = [r for r in replies if r["op"] == "error"]
        assert {r["code"] for r in refused} == {"rate_limited"}
        assert all(0 < r["retry_after"] <= LONG * 1000 for r in refused)
        history = await clients[0].request("history", room="busy")
        assert [m["text"] for m in history["messages"]] == [f"{i}-0" for i in range(5)]

        other = await Client.tcp(server.tcp_port)
        await other.hello(await register_and_login(server.http_port, "other"))
        await other.request("join", room="busy")
        assert (await other.request("send", room="busy", text="mine", nonce="o"))["op"] == "ok"

        # One token back for the user: the last connection, refused twice, may send (its own
        # bucket kept its three tokens); the next send from anywhere waits again.
        steered_clock.jump(LONG)
        reply = await clients[-1].request("send", room="busy", text="again", nonce="again")
        assert reply["op"] == "ok"
        reply = await clients[1].request("send", room="busy", text="no", nonce="no")
        assert reply["code"] == "rate_limited"
        for client in [*clients, other]:
            await client.aclose()
        nursery.cancel_scope.cancel()


@pytest.fixture
def frozen_clock() -> trio.testing.MockClock:
    """A clock that stands still (nothing in the test may wait for time to pass)."""
    return trio.testing.MockClock(rate=0.0)


async def test_typing_is_limited_per_user_too(
    tmp_path: Path, database_dsn: str, frozen_clock: trio.testing.MockClock,
) -> None:
    """typing from many connections of one user is capped by the user's own bucket."""
    config = make_config(tmp_path, database_dsn)
    async with running(config) as server:
        token = await register_and_login(server.http_port, "typist")
        clients = [await Client.tcp(server.tcp_port) for _ in range(5)]
        for client in clients:
            await client.hello(token)
        await clients[0].request("join", room="keys")
        # 5 connections x 5 typing each: every connection is within its own burst (5), the
        # user's burst (10) is not.
        replies = [await client.request("typing", room="keys")
                   for _ in range(5) for client in clients]
        assert [r["op"] for r in replies].count("ok") == 10
        assert {r["code"] for r in replies if r["op"] == "error"} == {"rate_limited"}
        for client in clients:
            await client.aclose()


async def test_connections_per_address_are_capped(tmp_path: Path, database_dsn: str) -> None:
    """Past connections_per_ip, a new connection is told rate_limited and closed; closing one
    makes room again."""
    config = make_config(tmp_path, database_dsn, limits={"connections_per_ip": 2})
    async with running(config) as server:
        first, second = await Client.tcp(server.tcp_port), await Client.tcp(server.tcp_port)
        assert (await first.request("ping"))["code"] == "unauthenticated"  # accepted
        await second.request("ping")
        third = await Client.tcp(server.tcp_port)
        await third.wait_closed()
        assert [e["code"] for e in third.events] == ["rate_limited"]
        # The first one leaves: it says so (EOF) and waits for the daemon to close its side,
        # then for the daemon's tasks to settle (the slot is freed right after the close).
        assert isinstance(first._stream, trio.SocketStream)
        await first._stream.send_eof()
        await first.wait_closed()
        await trio.testing.wait_all_tasks_blocked()
        fourth = await Client.tcp(server.tcp_port)
        assert (await fourth.request("ping"))["code"] == "unauthenticated"  # accepted
        await second.aclose()
        await fourth.aclose()


async def test_drain_answers_every_send(tmp_path: Path, database_dsn: str) -> None:
    """SIGTERM-style drain amid pipelined sends: each send is acknowledged and stored, or
    refused with shutting_down and not stored; none is both, none is lost."""
    config = make_config(tmp_path, database_dsn, limits=LIFTED_RATES)
    sent = 400
    async with running(config) as server:
        clients = []
        for i in range(4):
            client = await Client.tcp(server.tcp_port)
            await client.hello(await register_and_login(server.http_port, f"drainer{i}"))
            await client.request("join", room="drain")
            # One send acknowledged before the storm, so that the checks below have teeth
            # however the storm and the drain interleave.
            ack = await client.request("send", room="drain", text="first", nonce=f"{i}:first")
            assert ack["op"] == "ok", ack
            clients.append(client)
        halfway = [trio.Event() for _ in clients]
        draining = trio.Event()

        async def pump(client: Client, index: int) -> None:
            for n in range(sent):
                if n == sent // 2:  # half written before the drain, half during it
                    halfway[index].set()
                    await draining.wait()
                try:
                    await client.send({"op": "send", "id": n, "room": "drain",
                                       "text": f"{index}:{n}", "nonce": f"{index}:{n}"})
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    return

        async with trio.open_nursery() as nursery:
            for index, client in enumerate(clients):
                nursery.start_soon(pump, client, index)
            for event in halfway:
                await event.wait()
            server.shutdown()
            draining.set()
        outcomes: dict[str, str] = {}
        for index, client in enumerate(clients):
            await client.wait_closed()
            outcomes[f"{index}:first"] = "stored"
            for n in range(sent):
                reply = client.replies.get(n)
                if reply is not None:
                    assert reply["op"] == "ok" or reply["code"] == "shutting_down", reply
                    outcomes[f"{index}:{n}"] = "stored" if reply["op"] == "ok" else "refused"
    async with running(config) as server:
        reader = await Client.tcp(server.tcp_port)
        await reader.hello(await register_and_login(server.http_port, "auditor"))
        stored = {m["nonce"] for m in await full_history(reader, "drain")}
    acked = {nonce for nonce, outcome in outcomes.items() if outcome == "stored"}
    refused = {nonce for nonce, outcome in outcomes.items() if outcome == "refused"}
    assert acked and acked <= stored, "an acknowledged send was lost"
    assert not refused & stored, "a refused send was stored"
    assert stored <= set(outcomes), "a stored send got no answer"

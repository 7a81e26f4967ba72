"""End-to-end: the daemon driven over real sockets (TCP and WebSocket) the way clients do.

Rules: 127.0.0.1 and port 0 only; every wait is bounded (the client helper fails after 10 s).
"""

from __future__ import annotations

import pytest
import trio
import trio.testing

from chatd.config import Config
from chatd.outbox import Outbox, OutboxItem
from chatd.server import Server
from tests.client import Client, http, register_and_login, send_at_once_and_check
from tests.e2e.conftest import messages_of, running
from tests.helpers import fetchval_apart


async def test_tcp_and_websocket_clients_chat(daemon: Server, nursery: trio.Nursery) -> None:
    """A TCP and a WebSocket client join one room and each receives every message once,
    its own included, with strictly increasing seqs; sends are acknowledged with the seq."""
    alice = await Client.tcp(daemon.tcp_port)
    bob = await Client.ws(daemon.http_port, nursery)
    welcome = await alice.hello(await register_and_login(daemon.http_port, "alice"))
    assert welcome["user"]["name"] == "alice" and welcome["rooms"] == []
    await bob.hello(await register_and_login(daemon.http_port, "bob"))
    joined = await alice.request("join", room="lobby")
    assert joined["op"] == "ok" and joined["last_seq"] == 0 and joined["messages"] == []
    await bob.request("join", room="lobby")

    acks = []
    for i, client in enumerate([alice, bob, alice, bob]):
        ack = await client.request("send", room="lobby", text=f"hello {i}", nonce=f"n{i}")
        assert ack["op"] == "ok", ack
        acks.append(ack["seq"])
    assert acks == [1, 2, 3, 4]
    for client in (alice, bob):
        got = [await client.event("message", seq=seq) for seq in acks]
        assert [m["text"] for m in got] == [f"hello {i}" for i in range(4)]
        assert [m["from"] for m in got] == ["alice", "bob", "alice", "bob"]
        assert messages_of(client.events, "lobby") == []  # nothing twice
    await alice.aclose()
    await bob.aclose()


async def test_tcp_members_get_a_message_without_their_writers_waking(
        daemon: Server, nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch) -> None:
    """On a bare TCP stream the sender's acknowledgement and the members' deliveries are
    written by the committer's and the registry's tasks while the connections' writers wait
    for work (chatd.outbox, ``Outbox.flush``): no TCP writer wakes for a message. The
    WebSocket member's writer still writes its copy, and everyone gets the message once."""
    takes = 0
    take = Outbox.take

    async def counted(self: Outbox) -> list[OutboxItem]:
        nonlocal takes
        items = await take(self)
        takes += 1
        return items

    monkeypatch.setattr(Outbox, "take", counted)
    clients = [await Client.tcp(daemon.tcp_port) for _ in range(3)]
    clients.append(await Client.ws(daemon.http_port, nursery))
    for i, client in enumerate(clients):
        await client.hello(await register_and_login(daemon.http_port, f"member{i}"))
        await client.request("join", room="quiet")
    await trio.testing.wait_all_tasks_blocked()  # the joins' notices are written
    before = takes
    sender = clients[0]
    ack = await sender.request("send", room="quiet", text="hi all", nonce="n1")
    assert ack["op"] == "ok"
    for client in clients:
        assert (await client.event("message", seq=ack["seq"]))["text"] == "hi all"
    await trio.testing.wait_all_tasks_blocked()
    assert takes - before == 1  # the WebSocket member's writer, and nobody else's
    for client in clients:
        assert messages_of(client.events, "quiet") == []  # nothing twice
        await client.aclose()


async def test_concurrent_senders_get_one_ordered_log(daemon: Server) -> None:
    """Many clients sending at once to one room: seqs are 1..N without gap or duplicate, and
    every member receives all N messages exactly once, in seq order."""
    clients = []
    for i in range(5):
        client = await Client.tcp(daemon.tcp_port)
        await client.hello(await register_and_login(daemon.http_port, f"user{i}"))
        await client.request("join", room="busy")
        clients.append(client)
    await send_at_once_and_check(clients, "busy", per_client=20)
    for client in clients:
        await client.aclose()


async def test_nonce_is_stored_once_also_after_restart(config: Config) -> None:
    """Resending a nonce returns the first result and stores nothing new, before and after a
    restart of the daemon; history shows the message once."""
    async with running(config) as server:
        client = await Client.tcp(server.tcp_port)
        await client.hello(await register_and_login(server.http_port, "carol"))
        await client.request("join", room="dedupe")
        first = await client.request("send", room="dedupe", text="only once", nonce="same")
        again = await client.request("send", room="dedupe", text="only once", nonce="same")
        assert (again["seq"], again["msg_id"]) == (first["seq"], first["msg_id"])
        assert again.get("duplicate") is True
        await client.aclose()
    async with running(config) as server:
        client = await Client.tcp(server.tcp_port)
        await client.hello(await register_and_login(server.http_port, "carol"))
        after = await client.request("send", room="dedupe", text="only once", nonce="same")
        assert (after["seq"], after["msg_id"]) == (first["seq"], first["msg_id"])
        history = await client.request("history", room="dedupe")
        assert [m["text"] for m in history["messages"]] == ["only once"]
        fresh = await client.request("send", room="dedupe", text="next", nonce="other")
        assert fresh["seq"] == first["seq"] + 1
        await client.aclose()


async def test_join_replies_with_recent_messages_and_history_pages(daemon: Server) -> None:
    """Join answers the last seq and the latest 50 messages (more=true when older exist);
    history pages backwards with before and forwards with after, oldest first."""
    writer = await Client.tcp(daemon.tcp_port)
    await writer.hello(await register_and_login(daemon.http_port, "writer"))
    await writer.request("join", room="archive")
    for i in range(60):
        await writer.send({"op": "send", "id": i, "room": "archive", "text": f"m{i}",
                           "nonce": f"m{i}"})
    for i in range(60):
        assert (await writer.reply(i))["seq"] == i + 1
    reader = await Client.tcp(daemon.tcp_port)
    await reader.hello(await register_and_login(daemon.http_port, "reader"))
    joined = await reader.request("join", room="archive")
    assert joined["last_seq"] == 60 and joined["more"] is True
    assert [m["seq"] for m in joined["messages"]] == list(range(11, 61))
    older = await reader.request("history", room="archive", before=11, limit=8)
    assert [m["seq"] for m in older["messages"]] == list(range(3, 11)) and older["more"]
    oldest = await reader.request("history", room="archive", before=3, limit=8)
    assert [m["seq"] for m in oldest["messages"]] == [1, 2] and not oldest["more"]
    newer = await reader.request("history", room="archive", after=55)
    assert [m["seq"] for m in newer["messages"]] == list(range(56, 61)) and not newer["more"]
    assert newer["messages"][0]["text"] == "m55" and newer["messages"][0]["from"] == "writer"
    await writer.aclose()
    await reader.aclose()


async def test_joined_left_and_presence(daemon: Server) -> None:
    """joined/left reach the room; presence goes online with a user's first connection and
    offline only when their last one closes, to those who share a room."""
    port = daemon.http_port
    watcher = await Client.tcp(daemon.tcp_port)
    await watcher.hello(await register_and_login(port, "watcher"))
    await watcher.request("join", room="plaza")
    dora_token = await register_and_login(port, "dora")
    dora = await Client.tcp(daemon.tcp_port)
    await dora.hello(dora_token)
    await dora.request("join", room="plaza")
    assert await watcher.event("joined", room="plaza", user="dora")
    # dora's next connection: already online, so no second "online"; the room is in welcome.
    dora2 = await Client.tcp(daemon.tcp_port)
    welcome = await dora2.hello(dora_token)
    assert [r["room"] for r in welcome["rooms"]] == ["plaza"]
    await dora.aclose()
    await dora2.request("ping")
    await dora2.aclose()
    offline = await watcher.event("presence", user="dora")
    assert offline["status"] == "offline"
    assert not [e for e in watcher.events if e.get("op") == "presence"]
    dora3 = await Client.tcp(daemon.tcp_port)
    await dora3.hello(dora_token)
    assert (await watcher.event("presence", user="dora"))["status"] == "online"
    assert (await dora3.request("leave", room="plaza"))["op"] == "ok"
    assert await watcher.event("left", room="plaza", user="dora")
    await dora3.request("send", room="plaza", text="not a member", nonce="x")
    await dora3.aclose()
    await watcher.aclose()


async def test_resume_delivers_exactly_what_was_missed(daemon: Server) -> None:
    """A client that reconnects with resume {room: last_seq} gets the missed messages after
    its welcome, in order, once, then live messages; a message it saw is not sent again."""
    port = daemon.http_port
    eve_token = await register_and_login(port, "eve")
    eve = await Client.tcp(daemon.tcp_port)
    await eve.hello(eve_token)
    await eve.request("join", room="news")
    sender = await Client.tcp(daemon.tcp_port)
    await sender.hello(await register_and_login(port, "sender"))
    await sender.request("join", room="news")
    for i in range(3):
        await sender.request("send", room="news", text=f"seen {i}", nonce=f"s{i}")
    assert (await eve.event("message", seq=3))["text"] == "seen 2"
    await eve.aclose()
    for i in range(4):
        await sender.request("send", room="news", text=f"missed {i}", nonce=f"m{i}")
    eve = await Client.tcp(daemon.tcp_port)
    welcome = await eve.hello(eve_token, resume={"news": 3})
    assert welcome["rooms"][0]["last_seq"] == 7
    await sender.request("send", room="news", text="live", nonce="live")
    got = [await eve.event("message", room="news") for _ in range(5)]
    assert [m["seq"] for m in got] == [4, 5, 6, 7, 8]
    assert got[-1]["text"] == "live"
    await eve.request("ping")
    assert messages_of(eve.events, "news") == []
    await eve.aclose()
    await sender.aclose()


async def test_drain_says_shutting_down_and_keeps_acknowledged(config: Config) -> None:
    """On shutdown every client is told shutting_down and closed; every acknowledged message
    is served again after a restart."""
    acked: list[int] = []
    async with running(config) as server:
        client = await Client.tcp(server.tcp_port)
        await client.hello(await register_and_login(server.http_port, "frank"))
        await client.request("join", room="durable")
        for i in range(10):
            acked.append((await client.request("send", room="durable", text=f"d{i}",
                                                nonce=f"d{i}"))["seq"])
        server.shutdown()
        await client.wait_closed()
        codes = [e.get("code") for e in client.events if e.get("op") == "error"]
        assert codes == ["shutting_down"]
    async with running(config) as server:
        client = await Client.tcp(server.tcp_port)
        await client.hello(await register_and_login(server.http_port, "frank"))
        joined = await client.request("join", room="durable")
        assert [m["seq"] for m in joined["messages"]] == acked
        await client.aclose()


# The database's clock, which stamps every message's `ts` (clock_timestamp()), in ms.
DATABASE_CLOCK = "SELECT floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint"


async def test_the_welcome_tells_the_servers_clock(daemon: Server, database_dsn: str,
                                                  nursery: trio.Nursery) -> None:
    """The welcome's ``now`` (and ``GET /api/me``'s) is the server's clock in ms since the
    epoch, the clock of every ``ts``: between the database's clock read just before and just
    after, and not before the ``ts`` of a message stored before it."""
    token = await register_and_login(daemon.http_port, "alice")
    writer = await Client.tcp(daemon.tcp_port)
    await writer.hello(token)
    await writer.request("join", room="lobby")
    sent = await writer.request("send", room="lobby", text="before", nonce="n1")
    for client in (await Client.tcp(daemon.tcp_port), await Client.ws(daemon.http_port,
                                                                      nursery)):
        before = await fetchval_apart(database_dsn, DATABASE_CLOCK)
        welcome = await client.hello(token)
        after = await fetchval_apart(database_dsn, DATABASE_CLOCK)
        assert isinstance(welcome["now"], int)
        # One machine's clock here, read by two processes: to the millisecond, rounding apart.
        assert sent["ts"] <= welcome["now"] and before - 1 <= welcome["now"] <= after + 1
        await client.aclose()
    before = await fetchval_apart(database_dsn, DATABASE_CLOCK)
    status, me = await http(daemon.http_port, "GET", "/api/me", token=token)
    after = await fetchval_apart(database_dsn, DATABASE_CLOCK)
    assert status == 200 and before - 1 <= me["now"] <= after + 1
    await writer.aclose()

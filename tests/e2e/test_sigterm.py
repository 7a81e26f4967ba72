"""End-to-end: SIGTERM to a real `chatd serve` in the middle of concurrent sends drains it:
every send is acknowledged and stored, or refused with shutting_down and not stored; none is
lost, and the daemon exits 0."""

from __future__ import annotations

import signal
from pathlib import Path

import trio

from tests.client import Client, full_history, register_and_login
from tests.e2e.conftest import daemon_process

SENDERS = 4
PER_SENDER = 300


async def test_sigterm_amid_sends_answers_every_send(tmp_path: Path, database_dsn: str) -> None:
    """Each send written before SIGTERM is either acked and stored, or refused with
    shutting_down and absent; the clients are told shutting_down; exit code 0."""
    async with daemon_process(tmp_path, database_dsn, "sigterm") as daemon:
        clients = []
        for i in range(SENDERS):
            client = await Client.tcp(daemon.tcp_port)
            await client.hello(await register_and_login(daemon.http_port, f"term{i}"))
            await client.request("join", room="term")
            # One send acknowledged for sure before the storm, so the check below has teeth
            # however slow the machine is.
            ack = await client.request("send", room="term", text="first", nonce=f"{i}:first")
            assert ack["op"] == "ok", ack
            clients.append(client)
        # Half of each sender's sends are written before the signal, half after it: the
        # daemon gets SIGTERM amid the storm however fast or slow the machine is.
        halfway = [trio.Event() for _ in clients]
        signalled = trio.Event()

        async def pump(index: int) -> None:
            for n in range(PER_SENDER):
                if n == PER_SENDER // 2:
                    halfway[index].set()
                    await signalled.wait()
                try:
                    await clients[index].send({"op": "send", "id": n, "room": "term",
                                               "text": f"{index}:{n}", "nonce": f"{index}:{n}"})
                except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                    return

        async with trio.open_nursery() as nursery:
            for index in range(SENDERS):
                nursery.start_soon(pump, index)
            for event in halfway:
                await event.wait()
            daemon.process.send_signal(signal.SIGTERM)
            signalled.set()
        # Read while the daemon drains, as a client does: one that stops reading gets its
        # last frames only until the grace period runs out.
        async with trio.open_nursery() as nursery:
            for client in clients:
                nursery.start_soon(client.wait_closed)
        with trio.fail_after(30):
            code = await daemon.process.wait()
        assert code == 0, (tmp_path / "sigterm.log").read_text(errors="replace")[-3000:]
        outcomes: dict[str, str] = {}
        for index, client in enumerate(clients):
            closing = [e for e in client.events if e.get("op") == "error"]
            assert [e["code"] for e in closing] == ["shutting_down"], closing
            outcomes[f"{index}:first"] = "stored"
            for n, reply in client.replies.items():
                assert reply["op"] == "ok" or reply["code"] == "shutting_down", reply
                outcomes[f"{index}:{n}"] = "stored" if reply["op"] == "ok" else "refused"

    async with daemon_process(tmp_path, database_dsn, "after") as daemon:
        reader = await Client.tcp(daemon.tcp_port)
        await reader.hello(await register_and_login(daemon.http_port, "auditor"))
        stored = {m["nonce"] for m in await full_history(reader, "term")}
    acked = {nonce for nonce, outcome in outcomes.items() if outcome == "stored"}
    refused = {nonce for nonce, outcome in outcomes.items() if outcome == "refused"}
    assert acked <= stored, "an acknowledged send was lost"
    assert not refused & stored, "a refused send was stored"
    assert stored <= acked, "a stored send was not acknowledged"

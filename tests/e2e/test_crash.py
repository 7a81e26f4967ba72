"""End-to-end: a daemon killed with SIGKILL while sends are in flight loses nothing it
acknowledged and stores nothing twice when clients resend.

The daemon runs as a real subprocess (``python -m chatd serve``) on the session's embedded
PostgreSQL, so that the kill leaves no chance for a drain: whatever was acknowledged must
already be committed. Rules: 127.0.0.1 and port 0 only; every wait is bounded.
"""

from __future__ import annotations

import dataclasses
import signal
from pathlib import Path
from typing import Any

import trio

from tests.client import Client, full_history, register_and_login
from tests.e2e.conftest import daemon_process

ROOMS = ("crash-a", "crash-b")
CLIENTS = 4
PER_CLIENT = 300  # sends each client pipelines before the kill
KILL_AFTER_ACKS = 120  # the daemon is killed once this many sends (of all clients) are acked
START_TIMEOUT = 60
STEP_TIMEOUT = 30


@dataclasses.dataclass(slots=True)
class Sender:
    """One client's sends: every nonce it wrote and the acks it got before the kill."""

    index: int
    token: str
    written: list[str] = dataclasses.field(default_factory=list)  # attempted, in order
    acks: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    errors: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    def nonces(self) -> list[str]:
        return [f"c{self.index}-{n}" for n in range(PER_CLIENT)]

    def message(self, nonce: str) -> tuple[str, str]:
        """The (room, text) sent with ``nonce``: the same on every resend."""
        n = int(nonce.rsplit("-", 1)[1])
        return ROOMS[(self.index + n) % len(ROOMS)], f"text of {nonce}"


def check_log(logs: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Seqs 1..N per room and every nonce once overall; returns the messages by nonce."""
    by_nonce: dict[str, dict[str, Any]] = {}
    for room, messages in logs.items():
        assert [m["seq"] for m in messages] == list(range(1, len(messages) + 1)), room
        for m in messages:
            assert m["nonce"] not in by_nonce, f"{m['nonce']} stored twice"
            by_nonce[m["nonce"]] = m
    return by_nonce


async def test_sigkill_loses_no_acknowledged_message_and_resend_stores_once(
    tmp_path: Path, database_dsn: str
) -> None:
    """After a SIGKILL mid-traffic every acknowledged message is stored once with its acked
    seq and msg_id, seqs have no gap, and resending every nonce creates no duplicate."""
    senders: list[Sender] = []
    acked_total = 0
    killed = trio.Event()

    async with daemon_process(tmp_path, database_dsn, "first") as daemon:
        clients: list[Client] = []
        with trio.fail_after(STEP_TIMEOUT):
            for i in range(CLIENTS):
                token = await register_and_login(daemon.http_port, f"crash{i}")
                client = await Client.tcp(daemon.tcp_port)
                await client.hello(token)
                for room in ROOMS:
                    assert (await client.request("join", room=room))["op"] == "ok"
                senders.append(Sender(i, token))
                clients.append(client)

        async def blast(client: Client, sender: Sender) -> None:
            for n, nonce in enumerate(sender.nonces()):
                room, text = sender.message(nonce)
                sender.written.append(nonce)  # before: a broken write may still have landed
                try:
                    await client.send({"op": "send", "id": n, "room": room, "text": text,
                                       "nonce": nonce})
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    return

        async def collect(client: Client, sender: Sender) -> None:
            nonlocal acked_total
            while (frame := await client.next_frame()) is not None:
                if frame.get("op") == "error":
                    sender.errors.append(frame)
                if frame.get("op") != "ok" or not isinstance(frame.get("id"), int):
                    continue  # message events of the rooms: not what this test checks
                sender.acks[sender.nonces()[frame["id"]]] = frame
                acked_total += 1
                if acked_total == KILL_AFTER_ACKS:
                    daemon.process.send_signal(signal.SIGKILL)
                    killed.set()

        with trio.fail_after(STEP_TIMEOUT):
            async with trio.open_nursery() as nursery:
                for client, sender in zip(clients, senders, strict=True):
                    nursery.start_soon(blast, client, sender)
                    nursery.start_soon(collect, client, sender)
            assert killed.is_set(), "every send was acknowledged before the kill"
            assert await daemon.process.wait() == -signal.SIGKILL
        for client in clients:
            await client.aclose()

    written = sum(len(s.written) for s in senders)
    acked = sum(len(s.acks) for s in senders)
    assert not [e for s in senders for e in s.errors], [e for s in senders for e in s.errors]
    assert acked < written, "no send was in flight at the kill"

    async with daemon_process(tmp_path, database_dsn, "second") as daemon:
        with trio.fail_after(STEP_TIMEOUT):
            auditor = await Client.tcp(daemon.tcp_port)
            await auditor.hello(await register_and_login(daemon.http_port, "auditor"))
            logs = {room: await full_history(auditor, room) for room in ROOMS}
        stored = check_log(logs)
        sent_by = {nonce: s for s in senders for nonce in s.nonces()}
        for nonce, m in stored.items():
            sender = sent_by[nonce]
            assert nonce in sender.written, f"{nonce} stored but never written"
            assert (m["room"], m["text"]) == sender.message(nonce)
            assert m["from"] == f"crash{sender.index}"
        for sender in senders:
            for nonce, ack in sender.acks.items():
                assert nonce in stored, f"acknowledged {nonce} ({ack}) lost in the crash"
                m = stored[nonce]
                assert (m["room"], m["seq"], m["msg_id"]) == (
                    ack["room"], ack["seq"], ack["msg_id"]
                ), nonce
        last_seq = {room: len(messages) for room, messages in logs.items()}

        # Every client resends everything, pipelined, with the same nonces.
        resent: dict[str, dict[str, Any]] = {}

        # Every welcome before any resend: a resend of a nonce the crash lost stores it now.
        clients = []
        with trio.fail_after(STEP_TIMEOUT):
            for sender in senders:
                client = await Client.tcp(daemon.tcp_port)
                welcome = await client.hello(sender.token)
                assert {r["room"]: r["last_seq"] for r in welcome["rooms"]} == last_seq
                clients.append(client)

        async def resend(sender: Sender, client: Client) -> None:
            nonces = sender.nonces()

            async def write() -> None:
                for n, nonce in enumerate(nonces):
                    room, text = sender.message(nonce)
                    await client.send({"op": "send", "id": n, "room": room, "text": text,
                                       "nonce": nonce})

            # Read while writing: the replies and the room's events must not back up.
            async with trio.open_nursery() as nursery:
                nursery.start_soon(write)
                for n, nonce in enumerate(nonces):
                    resent[nonce] = await client.reply(n)
            await client.aclose()

        with trio.fail_after(STEP_TIMEOUT):
            async with trio.open_nursery() as nursery:
                for sender, client in zip(senders, clients, strict=True):
                    nursery.start_soon(resend, sender, client)

        for nonce, reply in resent.items():
            assert reply["op"] == "ok", reply
            before = stored.get(nonce)
            if before is not None:  # committed before the kill, acked or not
                assert reply.get("duplicate") is True, (nonce, reply)
                assert (reply["room"], reply["seq"], reply["msg_id"]) == (
                    before["room"], before["seq"], before["msg_id"]
                ), nonce
            else:
                assert not reply.get("duplicate"), (nonce, reply)
                assert reply["seq"] > last_seq[reply["room"]], (nonce, reply)

        with trio.fail_after(STEP_TIMEOUT):
            final_logs = {room: await full_history(auditor, room) for room in ROOMS}
            await auditor.aclose()
        final = check_log(final_logs)
        assert sorted(final) == sorted(sent_by), "each nonce must be stored exactly once"
        for nonce, reply in resent.items():
            m = final[nonce]
            assert (m["room"], m["seq"], m["msg_id"]) == (
                reply["room"], reply["seq"], reply["msg_id"]
            ), nonce


CHANGE_EMOJI = ("👍", "🎉", "👀", "🔥", "✅", "🙏", "😂", "🚀", "💯", "🤔")
EDITS = 250  # per client, after its reactions: most are still in flight at the kill


async def test_sigkill_loses_no_acknowledged_change_and_resend_changes_nothing(
    tmp_path: Path, database_dsn: str
) -> None:
    """Changes are acknowledged only once stored, like sends: after a SIGKILL mid-traffic of
    reactions and edits, every acknowledged change is in the log once, at its acked seq, and
    the messages show it; resending every change (a client that lost its acks) stores only
    those that were not committed, each once."""
    room = "crash-changes"
    killed = trio.Event()
    acked_total = 0
    async with daemon_process(tmp_path, database_dsn, "first") as daemon:
        with trio.fail_after(STEP_TIMEOUT):
            clients, tokens, targets = [], [], []
            for i in range(CLIENTS):
                tokens.append(await register_and_login(daemon.http_port, f"changer{i}"))
                client = await Client.tcp(daemon.tcp_port)
                await client.hello(tokens[-1])
                await client.request("join", room=room)
                posted = await client.request("send", room=room, text=f"v0 of {i}",
                                              nonce=f"base{i}")
                targets.append(posted["msg_id"])
                clients.append(client)

        # Client i reacts with every emoji to every message, then edits its own message.
        def changes(i: int) -> list[dict[str, Any]]:
            wanted: list[dict[str, Any]] = [
                {"op": "react", "room": room, "msg_id": mid, "emoji": emoji}
                for emoji in CHANGE_EMOJI for mid in targets]
            wanted += [{"op": "edit", "room": room, "msg_id": targets[i], "text": f"v{n}"}
                       for n in range(1, EDITS + 1)]
            return wanted

        acks: list[dict[int, dict[str, Any]]] = [{} for _ in clients]

        async def blast(i: int) -> None:
            for n, change in enumerate(changes(i)):
                try:
                    await clients[i].send({**change, "id": n})
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    return

        async def collect(i: int) -> None:
            nonlocal acked_total
            while (frame := await clients[i].next_frame()) is not None:
                if frame.get("op") == "error":
                    raise AssertionError(frame)
                if frame.get("op") == "ok" and isinstance(frame.get("id"), int):
                    acks[i][frame["id"]] = frame
                    acked_total += 1
                    if acked_total == KILL_AFTER_ACKS:
                        daemon.process.send_signal(signal.SIGKILL)
                        killed.set()

        with trio.fail_after(STEP_TIMEOUT):
            async with trio.open_nursery() as nursery:
                for i in range(len(clients)):
                    nursery.start_soon(blast, i)
                    nursery.start_soon(collect, i)
            assert killed.is_set(), "every change was acknowledged before the kill"
            assert await daemon.process.wait() == -signal.SIGKILL
        for client in clients:
            await client.aclose()
    total = sum(len(changes(i)) for i in range(len(clients)))
    assert sum(len(a) for a in acks) < total, "no change was in flight at the kill"

    async with daemon_process(tmp_path, database_dsn, "second") as daemon:
        with trio.fail_after(STEP_TIMEOUT):
            auditor = await Client.tcp(daemon.tcp_port)
            await auditor.hello(await register_and_login(daemon.http_port, "auditor2"))
            log = await full_history(auditor, room)
        assert [e["seq"] for e in log] == list(range(1, len(log) + 1))
        by_seq = {e["seq"]: e for e in log}
        for i, client_acks in enumerate(acks):
            for n, ack in client_acks.items():
                change = changes(i)[n]
                entry = by_seq[ack["seq"]]  # an acknowledged change is in the log, at its seq
                assert entry["msg_id"] == change["msg_id"] == ack["msg_id"]
                if change["op"] == "react":
                    assert (entry["op"], entry["emoji"], entry["user"], entry["on"]) == (
                        "reaction", change["emoji"], f"changer{i}", True)
                else:
                    assert (entry["op"], entry["text"]) == ("edited", change["text"])
        reactions = [(e["msg_id"], e["emoji"], e["user"]) for e in log if e["op"] == "reaction"]
        assert len(reactions) == len(set(reactions)), "a reaction was stored twice"

        # Every client resends every change: what was stored is unchanged, the rest stored.
        async def resend(i: int) -> list[dict[str, Any]]:
            client = await Client.tcp(daemon.tcp_port)
            await client.hello(tokens[i])
            replies = []
            for n, change in enumerate(changes(i)):
                await client.send({**change, "id": n})
            for n in range(len(changes(i))):
                replies.append(await client.reply(n))
            await client.aclose()
            return replies

        with trio.fail_after(STEP_TIMEOUT * 2):
            for i in range(len(tokens)):
                for change, reply in zip(changes(i), await resend(i), strict=True):
                    assert reply["op"] == "ok", reply
                    key = (change["msg_id"], change.get("emoji"), f"changer{i}")
                    if change["op"] == "react" and key in reactions:
                        assert reply.get("unchanged") is True, reply
            final = await full_history(auditor, room)
            await auditor.aclose()
        reactions = [(e["msg_id"], e["emoji"], e["user"]) for e in final if e["op"] == "reaction"]
        assert sorted(reactions) == sorted(
            (mid, emoji, f"changer{i}") for i in range(len(tokens)) for emoji in CHANGE_EMOJI
            for mid in targets)
        messages = {e["msg_id"]: e for e in final if e["op"] == "message"}
        for mid in targets:
            assert messages[mid]["text"] == f"v{EDITS}"
            assert [r["emoji"] for r in messages[mid]["reactions"]] == list(CHANGE_EMOJI)
            assert all(sorted(r["users"]) == [f"changer{j}" for j in range(len(tokens))]
                       for r in messages[mid]["reactions"])

"""End-to-end, model-based: clients that come and go, resume and page after a ``gap`` each end
up holding exactly the committed log of their rooms.

A seeded random schedule drives a few clients against one in-process daemon (real sockets, the
real database) with ``limits.resume_max`` small, so that a resume is answered with the missed
messages or with a ``gap`` to page with ``history``. Every client keeps its own view of each
room, the seqs it was given by join replies, ``message`` events and history pages, in the order
it got them; at the end each view must equal the room's committed log from where the client
joined it: no gap, no duplicate, same order, same messages. Rules: 127.0.0.1 and port 0 only;
every wait is bounded.
"""

from __future__ import annotations

import dataclasses
import itertools
import random
from collections import deque
from pathlib import Path
from typing import Any

import pytest
import trio

from tests.client import Client, full_history, register_and_login
from tests.e2e.conftest import running
from tests.helpers import LIFTED_RATES, make_config

ROOMS = ("model-a", "model-b")
USERS = 4
STEPS = 160
RESUME_MAX = 5
PAGE = 3  # history page size when catching up after a gap: several pages per gap
TIMEOUT = 10
SEEDS = [11, 22, 33, 44, 55]

#: The fields that identify a message; a view holds these, as the log does.
Entry = tuple[int, int, str, str, str]  # seq, msg_id, from, text, nonce


def entry(message: dict[str, Any]) -> Entry:
    return (message["seq"], message["msg_id"], message["from"], message["text"],
            message["nonce"])


@dataclasses.dataclass(slots=True)
class Stats:
    """What a schedule exercised, to show that it did what it is meant to."""

    resumes: int = 0
    gaps: int = 0  # resumed rooms answered with a gap, paged with history
    replays: int = 0  # resumed rooms answered with messages (or with nothing missed)
    resends: int = 0


class ModelClient:
    """One user with at most one connection at a time, and what it knows across connections.

    Frames are read into ``backlog`` and handled in arrival order; a ``gap`` is paged with
    ``history`` on the spot, the frames read meanwhile waiting in the backlog behind it, as a
    client that pages before it processes anything else would do.
    """

    def __init__(self, name: str, token: str, port: int, stats: Stats) -> None:
        self.name = name
        self._token = token
        self._port = port
        self._stats = stats
        self.client: Client | None = None
        self.member: set[str] = set()
        self.base: dict[str, int] = {}  # per room: the seq before the first one in the view
        self.view: dict[str, list[Entry]] = {}
        self.pending: dict[str, tuple[str, str]] = {}  # unacknowledged nonce -> (room, text)
        self.sent: dict[str, tuple[str, str]] = {}  # every nonce ever sent -> (room, text)
        self.attempts: dict[str, int] = {}
        self.acks: dict[str, list[dict[str, Any]]] = {}
        self.errors: list[dict[str, Any]] = []
        self._nonces = itertools.count()
        # per connection
        self._ids = itertools.count(1)
        self._sends: dict[int, str] = {}  # request id -> nonce of the sends in flight
        self._backlog: deque[dict[str, Any]] = deque()
        self._resumed_from: dict[str, int] = {}
        self._arrivals: dict[str, list[int]] = {}
        self._gapped: set[str] = set()

    def last_seen(self, room: str) -> int:
        view = self.view[room]
        return view[-1][0] if view else self.base[room]

    # --------------------------------------------------------------------- connection

    async def connect(self) -> None:
        """Open a connection; ``hello`` resumes every room at the last seq seen, then every
        unacknowledged send is sent again with its nonce."""
        assert self.client is None
        self.client = await Client.tcp(self._port)
        self._ids = itertools.count(1)
        self._sends = {}
        self._backlog = deque()
        resume = {room: self.last_seen(room) for room in sorted(self.member)}
        self._resumed_from = dict(resume)
        self._arrivals = {room: [] for room in resume}
        self._gapped = set()
        hello: dict[str, Any] = {"op": "hello", "id": 0, "token": self._token}
        if resume:
            hello["resume"] = resume
            self._stats.resumes += 1
        await self.client.send(hello)
        with trio.fail_after(TIMEOUT):
            welcome = await self.client.next_frame()
        assert welcome is not None and welcome["op"] == "welcome", welcome
        assert {r["room"] for r in welcome["rooms"]} == self.member, welcome
        for nonce in list(self.pending):
            self._stats.resends += 1
            await self._send(nonce)

    async def disconnect(self) -> None:
        """Close the connection; what was not read yet is lost, as for a client that dies."""
        assert self.client is not None
        self.check_resume_order()
        await self.client.aclose()
        self.client = None

    def check_resume_order(self) -> None:
        """On this connection each resumed room's messages arrived as resumed+1, +2, …: the
        missed ones (or the paged ones after a gap) before any live one, none twice."""
        for room, after in self._resumed_from.items():
            got = self._arrivals[room]
            if room not in self._gapped:
                self._stats.replays += 1
            assert got == list(range(after + 1, after + 1 + len(got))), (self.name, room, got)

    # --------------------------------------------------------------------- requests

    async def send(self, room: str, rng: random.Random) -> None:
        nonce = f"{self.name}-{next(self._nonces)}"
        text = f"{self.name} says {rng.randrange(10**6)}"
        self.pending[nonce] = self.sent[nonce] = (room, text)
        await self._send(nonce)

    async def _send(self, nonce: str) -> None:
        assert self.client is not None
        room, text = self.pending[nonce]
        rid = next(self._ids)
        self._sends[rid] = nonce
        self.attempts[nonce] = self.attempts.get(nonce, 0) + 1
        await self.client.send({"op": "send", "id": rid, "room": room, "text": text,
                                "nonce": nonce})

    async def join(self, room: str) -> None:
        reply = await self._request("join", room=room)
        assert reply["op"] == "ok", reply
        self.member.add(room)
        messages = reply["messages"]
        self.base[room] = messages[0]["seq"] - 1 if messages else reply["last_seq"]
        self.view[room] = [entry(m) for m in messages]

    async def _request(self, op: str, **fields: Any) -> dict[str, Any]:
        """A request answered by id; the frames read meanwhile join the backlog."""
        assert self.client is not None
        rid = next(self._ids)
        await self.client.send({"op": op, "id": rid, **fields})
        with trio.fail_after(TIMEOUT):
            while True:
                frame = await self.client.next_frame()
                assert frame is not None, f"{self.name}: closed while waiting for {op}"
                if frame.get("id") == rid:
                    return frame
                self._backlog.append(frame)

    # --------------------------------------------------------------------- reading

    async def read(self, seconds: float) -> None:
        """Read what arrives within ``seconds``, then handle it."""
        assert self.client is not None
        with trio.move_on_after(seconds):
            while True:
                frame = await self.client.next_frame()
                assert frame is not None, f"{self.name}: the server closed the connection"
                self._backlog.append(frame)
        await self._handle_backlog()

    async def read_until(self, last_seq: dict[str, int]) -> None:
        """Read until every send is acknowledged and every room is seen up to ``last_seq``."""
        with trio.fail_after(TIMEOUT):
            while self._sends or any(
                self.last_seen(r) < last_seq.get(r, 0) for r in self.member
            ):
                await self.read(0.01)

    async def _handle_backlog(self) -> None:
        while self._backlog:
            frame = self._backlog.popleft()
            op = frame.get("op")
            if op == "message":
                self._take(frame)
            elif op == "gap":
                await self._page(frame)
            elif op in ("ok", "error") and frame.get("id") in self._sends:
                nonce = self._sends.pop(frame["id"])
                if op == "ok":
                    self.acks.setdefault(nonce, []).append(frame)
                    self.pending.pop(nonce, None)
                else:
                    self.errors.append(frame)
            elif op in ("ok", "error", "welcome"):
                self.errors.append(frame)  # a reply to nothing, or an error about nothing
            # joined, left, presence: not what this test models

    def _take(self, message: dict[str, Any]) -> None:
        room = message["room"]
        assert room in self.member, (self.name, message)
        self.view[room].append(entry(message))
        if room in self._arrivals:
            self._arrivals[room].append(message["seq"])

    async def _page(self, gap: dict[str, Any]) -> None:
        """Page the messages after ``gap.after`` up to ``gap.last_seq`` with ``history``."""
        room, after, last_seq = gap["room"], gap["after"], gap["last_seq"]
        self._stats.gaps += 1
        self._gapped.add(room)
        assert room in self._resumed_from, (self.name, gap)
        assert after == self._resumed_from[room], (self.name, gap, self._resumed_from)
        assert self._arrivals[room] == [], f"{self.name}: {room} messages before the gap"
        assert last_seq - after > RESUME_MAX, (self.name, gap)
        while after < last_seq:
            page = await self._request("history", room=room, after=after, limit=PAGE)
            assert page["op"] == "ok", page
            messages = [m for m in page["messages"] if m["seq"] <= last_seq]
            assert messages, (self.name, gap, page)
            for message in messages:
                self._take(message)
            after = messages[-1]["seq"]


async def run_schedule(seed: int, http_port: int, tcp_port: int) -> Stats:
    """Run one seeded schedule to the end, drain, and check every view against the log."""
    rng = random.Random(seed)
    stats = Stats()
    clients = [
        ModelClient(f"m{i}", await register_and_login(http_port, f"m{i}"), tcp_port, stats)
        for i in range(USERS)
    ]
    try:
        for i, mc in enumerate(clients):
            await mc.connect()
            await mc.join(ROOMS[0])
            if i == 0:
                await mc.join(ROOMS[1])

        for _ in range(STEPS):
            mc = rng.choice(clients)
            if mc.client is None:
                if rng.random() < 0.35:
                    await mc.connect()
                continue  # away a while longer: the others talk meanwhile
            action = rng.choices(["send", "read", "disconnect", "join"],
                                 weights=[6, 3, 1.2, 0.6])[0]
            others = [room for room in ROOMS if room not in mc.member]
            if action == "send":
                room = rng.choice(sorted(mc.member))
                for _ in range(rng.randint(1, 4)):
                    await mc.send(room, rng)
            elif action == "disconnect":
                await mc.disconnect()
            elif action == "join" and others:
                await mc.join(rng.choice(others))
            else:
                await mc.read(rng.choice([0.0, 0.005, 0.02]))

        # Drain: everybody back, every send acknowledged, so the log no longer changes.
        for mc in clients:
            if mc.client is None:
                await mc.connect()
        for mc in clients:
            await mc.read_until({})
            assert not mc.pending, (mc.name, mc.pending)
        auditor = await Client.tcp(tcp_port)
        await auditor.hello(await register_and_login(http_port, "auditor"))
        logs = {room: [entry(m) for m in await full_history(auditor, room)] for room in ROOMS}
        await auditor.aclose()
        last_seq = {room: len(log) for room, log in logs.items()}
        for mc in clients:
            await mc.read_until(last_seq)

        # The committed log: seqs 1..N per room, each nonce once.
        stored: dict[str, Entry] = {}
        for room, log in logs.items():
            assert [e[0] for e in log] == list(range(1, len(log) + 1)), room
            for e in log:
                assert e[4] not in stored, f"nonce {e[4]} stored twice"
                stored[e[4]] = e
        for mc in clients:
            assert mc.errors == [], (mc.name, mc.errors)
            mc.check_resume_order()
            for room in sorted(mc.member):
                assert mc.view[room] == logs[room][mc.base[room]:], (mc.name, room)
            for nonce, (room, text) in mc.sent.items():
                seq, msg_id, sender, stored_text, _ = stored[nonce]
                assert (sender, stored_text) == (mc.name, text), nonce
                assert logs[room][seq - 1] == stored[nonce], nonce
                acks = mc.acks[nonce]
                assert len(acks) == 1, (nonce, acks)  # a resend only follows a lost ack
                assert (acks[0]["room"], acks[0]["seq"], acks[0]["msg_id"]) == (
                    room, seq, msg_id
                ), nonce
                if mc.attempts[nonce] == 1:
                    assert not acks[0].get("duplicate"), (nonce, acks)
        assert sorted(stored) == sorted(n for mc in clients for n in mc.sent)
    finally:
        for mc in clients:
            if mc.client is not None:
                await mc.client.aclose()
    return stats


@pytest.mark.parametrize("seed", SEEDS)
async def test_views_equal_the_committed_log(tmp_path: Path, database_dsn: str,
                                             seed: int) -> None:
    """Under a random schedule of sends, disconnects, resumes (with gaps) and joins, every
    client's view of every room equals the committed log, resumed messages before live ones."""
    # Bursts of sends are part of the schedule: the per-connection rate limit is lifted.
    config = make_config(tmp_path, database_dsn, server={"grace_period": 2.0}, limits={
        "resume_max": RESUME_MAX, **LIFTED_RATES,
    })
    with trio.fail_after(60):
        async with running(config) as server:
            stats = await run_schedule(seed, server.http_port, server.tcp_port)
    print(f"seed {seed}: {stats}")
    assert stats.gaps > 0 and stats.replays > 0, stats

"""Load generator processes: real protocol clients driven by trio, one worker per process.

Theory of operation. The harness starts each worker with :func:`run_workers` in a process of
its own (``multiprocessing``, spawn), hands it a :class:`Spec`, and talks to it over a pipe:

1. the worker connects its clients (hello, join) and says ``ready`` with what setting up took;
2. the harness takes its readings of the daemon and says ``go`` with a start time (wall clock,
   shared by every worker) a little in the future;
3. the worker runs its part of the scenario, then says ``done`` with counters and latencies;
   workers whose part has no natural end (receivers, idle connections) run until ``stop``.

Latencies are measured against the *scheduled* time of each send in open loop (so a server that
falls behind is charged for the time the request waited to be sent: no coordinated omission),
against the actual send time in closed loop, and against the sender's wall clock for fan-out
(sender and receivers are different processes on the same machine).

Changes to messages (kind ``change``) are driven exactly like sends (the same loops, the same
latency): in setup each connection posts a few messages of its own and waits for their acks;
then each request is a change to one of them, mostly a reaction put and taken back in turn
(so that every request changes something: none is answered ``unchanged``) and every
``edit_every``-th an edit with new text.
"""

from __future__ import annotations

import contextlib
import gc
import math
import multiprocessing
import multiprocessing.connection
import random
import secrets
import time
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import trio

from benchmarks.infra import raise_nofile
from benchmarks.wire import (
    CHANGE_PREFIXES,
    MESSAGE_PREFIX,
    Link,
    ProtocolError,
    hello,
    open_link,
    parse,
)
from chatd.protocol import Edit, Error, Gap, Join, MessagePosted, React, Request, Send, Sent

__all__ = ["Spec", "WorkerHandle", "run_workers"]

CONNECT_CONCURRENCY = 256  # handshakes in flight per worker while setting up
REACTION = "\N{THUMBS UP SIGN}"  # the emoji the change scenario puts and takes back


@dataclass
class Spec:
    """What one worker does. ``clients`` is one (token, room or "") per connection; ``kind``
    is send, change, fanout_recv, fanout_send, connect or resume; ``params`` depend on the
    kind."""

    kind: str
    host: str
    port: int  # the protocol port for tcp, the HTTP port for ws
    transport: str
    clients: list[tuple[str, str]]
    params: dict[str, Any] = field(default_factory=dict)
    name: str = "worker"


# ------------------------------------------------------------------------------ parent side

class WorkerHandle(Protocol):
    """A running load generator as the harness sees it (a Python process or a Node one)."""

    def send(self, tag: str, value: Any) -> None: ...

    def receive(self, timeout: float) -> tuple[str, Any]: ...

    def close(self) -> None: ...


class _PythonWorker:
    def __init__(self, spec: Spec) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._pipe, child = ctx.Pipe()
        self._proc = ctx.Process(target=_worker_main, args=(child, spec), daemon=True,
                                 name=spec.name)
        self._proc.start()
        child.close()

    def send(self, tag: str, value: Any) -> None:
        self._pipe.send((tag, value))

    def receive(self, timeout: float) -> tuple[str, Any]:
        if not self._pipe.poll(timeout):
            raise RuntimeError(f"a load generator said nothing for {timeout} s")
        message: tuple[str, Any] = self._pipe.recv()
        return message

    def close(self) -> None:
        self._proc.join(10)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join()


def run_workers(specs: Sequence[Spec | WorkerHandle], *,
                on_ready: Callable[[list[dict[str, Any]]], float] | None = None,
                stop_after: float | None = None, timeout: float = 600.0
                ) -> list[dict[str, Any]]:
    """Run workers through ready → go → done; returns each ``done`` report (with its
    ``ready`` report under ``setup``). A :class:`Spec` runs in a Python process of its own.

    ``on_ready`` is called with the ready reports once every worker is set up and returns the
    seconds until go (default 0.3). Workers that run until stopped are told ``stop``
    ``stop_after`` seconds after go.
    """
    workers: list[WorkerHandle] = []
    try:
        for spec in specs:
            workers.append(_PythonWorker(spec) if isinstance(spec, Spec) else spec)
        ready = [_expect(worker, "ready", timeout) for worker in workers]
        delay = on_ready(ready) if on_ready is not None else 0.3
        go_at = time.time() + delay
        for worker in workers:
            worker.send("go", go_at)
        if stop_after is not None:
            time.sleep(max(0.0, go_at + stop_after - time.time()))
            for worker in workers:
                with contextlib.suppress(OSError):  # a sender that finished and left
                    worker.send("stop", True)
        reports = [_expect(worker, "done", timeout) for worker in workers]
        for report, r in zip(reports, ready, strict=True):
            report["setup"] = r
        return reports
    finally:
        for worker in workers:
            worker.close()


def _expect(worker: WorkerHandle, what: str, timeout: float) -> dict[str, Any]:
    tag, payload = worker.receive(timeout)
    if tag == "error":
        raise RuntimeError(f"a load generator failed: {payload}")
    if tag != what:
        raise RuntimeError(f"a load generator said {tag!r} instead of {what!r}")
    result: dict[str, Any] = payload
    return result


# ------------------------------------------------------------------------------ worker side

def _worker_main(pipe: multiprocessing.connection.Connection, spec: Spec) -> None:
    raise_nofile()
    try:
        trio.run(_worker, pipe, spec)
    except BaseException as exc:  # report anything, the harness prints it
        import traceback

        pipe.send(("error", f"{spec.name}: {exc!r}\n{traceback.format_exc()[-3000:]}"))


async def _recv(pipe: multiprocessing.connection.Connection) -> tuple[str, Any]:
    message: tuple[str, Any] = await trio.to_thread.run_sync(pipe.recv, abandon_on_cancel=True)
    return message


def _cpu() -> float:
    return time.process_time()


async def _worker(pipe: multiprocessing.connection.Connection, spec: Spec) -> None:
    async with trio.open_nursery() as nursery:
        if spec.kind == "resume":
            pipe.send(("ready", {"clients": len(spec.clients)}))
            _, go_at = await _recv(pipe)
            report = await _resume(nursery, spec, go_at)
        else:
            started = time.monotonic()
            cpu = _cpu()
            links = await _connect_all(nursery, spec)
            targets: list[list[int]] | None = None
            if spec.kind == "change":
                targets = await _post_targets(links, spec)
                await _wait_quiet(links, lines=True)
            if spec.kind == "fanout_recv":
                await _wait_quiet(links)
            # What setup made lives until the end: out of the collector's way, so that a full
            # collection over thousands of connections never stalls a measurement.
            gc.collect()
            gc.freeze()
            pipe.send(("ready", {"clients": len(links), "seconds": time.monotonic() - started,
                                 "cpu": _cpu() - cpu, **_connect_times}))
            _, go_at = await _recv(pipe)
            cpu = _cpu()
            if spec.kind == "send":
                report = await _send(links, spec, go_at)
            elif spec.kind == "change":
                report = await _send(links, spec, go_at, targets=targets)
            elif spec.kind == "fanout_send":
                report = await _send(links, spec, go_at, stamp=True)
            elif spec.kind == "fanout_recv":
                report = await _fanout_recv(links, spec, go_at, pipe)
            elif spec.kind == "connect":
                await _recv(pipe)  # stop
                report = {}
            else:
                raise ValueError(f"unknown kind {spec.kind!r}")
            report["cpu"] = _cpu() - cpu
            async with trio.open_nursery() as closing:
                for link in links:
                    closing.start_soon(link.aclose)
        pipe.send(("done", report))
        nursery.cancel_scope.cancel()


_connect_times: dict[str, float] = {}


async def _connect_all(nursery: trio.Nursery, spec: Spec) -> list[Link]:
    """Connect, hello and join every client, CONNECT_CONCURRENCY at a time."""
    links: list[Link | None] = [None] * len(spec.clients)
    limiter = trio.CapacityLimiter(spec.params.get("concurrency", CONNECT_CONCURRENCY))
    first: list[float] = []
    last: list[float] = []

    async def one(i: int, token: str, room: str) -> None:
        async with limiter:
            t = time.time()
            first.append(t)
            link = await open_link(nursery, spec.transport, spec.host, spec.port)
            await hello(link, token)
            last.append(time.time())
            if room:
                await link.request(Join(id="j", room=room))
            links[i] = link

    async with trio.open_nursery() as inner:
        for i, (token, room) in enumerate(spec.clients):
            inner.start_soon(one, i, token, room)
    if first:
        _connect_times.update(first_connect=min(first), last_welcome=max(last))
    return [link for link in links if link is not None]


async def _post_targets(links: list[Link], spec: Spec) -> list[list[int]]:
    """Each link posts ``messages`` messages to its room, one at a time, and waits for each
    ack: the msg_ids its changes will be made to, per link."""
    count: int = spec.params.get("messages", 3)
    text = "x" * spec.params.get("text_bytes", 64)
    run_id = secrets.token_hex(4)
    targets: list[list[int]] = [[] for _ in links]
    limiter = trio.CapacityLimiter(spec.params.get("concurrency", CONNECT_CONCURRENCY))

    async def post(n: int, link: Link) -> None:
        async with limiter:
            for k in range(count):
                reply = await link.request(Send(id=f"t{k}", room=spec.clients[n][1], text=text,
                                                nonce=f"{run_id}-t{n}-{k}"))
                if not isinstance(reply, Sent):
                    raise ProtocolError(f"send answered with {reply}")
                targets[n].append(reply.msg_id)

    async with trio.open_nursery() as nursery:
        for n, link in enumerate(links):
            nursery.start_soon(post, n, link)
    return targets


async def _wait_quiet(links: list[Link], quiet: float = 1.0, limit: float = 300.0, *,
                      lines: bool = False) -> None:
    """Read and drop whatever arrives until nothing has for ``quiet`` seconds: a room's
    members are told of every join (M joins to M members: M² ``joined`` events), and that
    backlog must not be counted as, or delay, the fan-out being measured. ``lines``: read
    whole lines (through the link's line buffer and what a reply left held), for links that
    go on reading lines afterwards."""
    last = [time.monotonic()]

    async def drop(link: Link) -> None:
        while True:
            if not await (link.receive_lines() if lines else link.receive_chunk()):
                return
            last[0] = time.monotonic()

    with trio.move_on_after(limit):
        async with trio.open_nursery() as nursery:
            for link in links:
                nursery.start_soon(drop, link)
            while time.monotonic() - last[0] < quiet:  # noqa: ASYNC110 (a deadline that moves)
                await trio.sleep(0.2)
            nursery.cancel_scope.cancel()


def _mono(wall: float) -> float:
    return time.monotonic() + (wall - time.time())


async def _send(links: list[Link], spec: Spec, go_at: float, *, stamp: bool = False,
                targets: list[list[int]] | None = None) -> dict[str, Any]:
    """Every link sends to its room: open loop at ``rate`` per link per second, or closed loop
    with ``window`` sends in flight per link. Counts acks and message events.

    With ``targets`` (the msg_ids each link posted in setup) the requests are changes to
    those messages instead (see the module's docstring), and the events counted are the
    change entries."""
    p = spec.params
    duration: float = p["duration"]
    drain: float = p.get("drain", 10.0)
    open_loop = p["mode"] == "open"
    per_link_rate: float = p.get("rate", 0.0)
    window: int = p.get("window", 1)
    count: int | None = p.get("count")  # closed loop: stop after this many sends per link
    text = "x" * p.get("text_bytes", 64)
    edit_every: int = p.get("edit_every", 5)
    run_id = secrets.token_hex(4)
    answering: type[Request] = Send if targets is None else React
    entry_prefix: bytes | tuple[bytes, ...] = MESSAGE_PREFIX if targets is None \
        else CHANGE_PREFIXES
    start = _mono(go_at)
    end = start + duration
    latencies = array("d")
    lags = array("d")  # open loop: how late each send was written after its scheduled time
    counts = {"sent": 0, "acked": 0, "acked_in_window": 0, "errors": 0, "deliveries": 0,
              "unchanged": 0, "edits_acked": 0}
    error_samples: list[str] = []
    outstanding = [0]
    all_sent = trio.Event()
    senders_left = [len(links)]

    def is_edit(n: int, k: int) -> bool:
        # Shifted by the link's number, so that 1 in edit_every of the changes in flight are
        # edits however few each link makes (open loop: rate x duration / C each).
        return edit_every > 0 and (k + n) % edit_every == 0

    def change(n: int, room: str, k: int, j: int) -> Request:
        """The k-th change (from 1) of link n, its j-th reaction (from 0) unless an edit: an
        edit with new text, or a reaction going round the link's messages, put on the first
        time round and taken back the next (so that each changes something)."""
        messages = targets[n]  # type: ignore[index]
        if is_edit(n, k):
            return Edit(id=k, room=room, msg_id=messages[(k // edit_every) % len(messages)],
                        text=f"{k} {text}")
        return React(id=k, room=room, msg_id=messages[j % len(messages)], emoji=REACTION,
                     on=(j // len(messages)) % 2 == 0)

    async def sender(n: int, link: Link, room: str, pending: dict[int, float],
                     slots: trio.Semaphore) -> None:
        k = 0
        reactions = 0
        interval = 1.0 / per_link_rate if open_loop and per_link_rate > 0 else 0.0
        at = start + random.random() * interval if open_loop else start
        await trio.sleep(max(0.0, at - time.monotonic()))
        try:
            while True:
                if open_loop:
                    if at >= end:
                        break
                    delay = at - time.monotonic()
                    if delay > 0:
                        await trio.sleep(delay)
                else:
                    await slots.acquire()
                    if time.monotonic() >= end or (count is not None and k >= count):
                        break
                    at = time.monotonic()
                k += 1
                request: Request
                if targets is not None:
                    request = change(n, room, k, reactions)
                    reactions += isinstance(request, React)
                else:
                    body = f"{time.time():.6f} {text}" if stamp else text
                    request = Send(id=k, room=room, text=body, nonce=f"{run_id}-{n}-{k}")
                pending[k] = at
                outstanding[0] += 1
                counts["sent"] += 1
                if open_loop:
                    lags.append((time.monotonic() - at) * 1000.0)
                await link.send(request)
                if open_loop:
                    at += interval
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            pass
        finally:
            senders_left[0] -= 1
            if senders_left[0] == 0:
                all_sent.set()

    async def reader(n: int, link: Link, pending: dict[int, float],
                     slots: trio.Semaphore) -> None:
        while True:
            lines = await link.receive_lines()
            if not lines:
                return
            now = time.monotonic()
            for line in lines:
                if line.startswith(entry_prefix):
                    counts["deliveries"] += 1
                    continue
                reply = parse(line, answering)  # the acks, and the joined/presence/... events
                if not isinstance(reply, Sent | Error):
                    continue
                sent_at = pending.pop(reply.id, None)  # type: ignore[arg-type]
                if sent_at is None:
                    continue
                outstanding[0] -= 1
                if isinstance(reply, Sent):
                    counts["acked"] += 1
                    if reply.unchanged:
                        counts["unchanged"] += 1
                    if targets is not None and is_edit(n, reply.id):  # type: ignore[arg-type]
                        counts["edits_acked"] += 1
                    if now <= end:
                        counts["acked_in_window"] += 1
                    latencies.append((now - sent_at) * 1000.0)
                else:
                    counts["errors"] += 1
                    if len(error_samples) < 5:
                        error_samples.append(line.decode(errors="replace")[:200])
                if not open_loop:
                    slots.release()

    async with trio.open_nursery() as nursery:
        for n, link in enumerate(links):
            pending: dict[int, float] = {}
            slots = trio.Semaphore(window)
            room = spec.clients[n][1]
            nursery.start_soon(reader, n, link, pending, slots)
            nursery.start_soon(sender, n, link, room, pending, slots)
        with trio.move_on_after(max(0.0, end - time.monotonic())):
            await all_sent.wait()
        with trio.move_on_after(drain):
            await all_sent.wait()
            while outstanding[0] > 0:  # noqa: ASYNC110 (polled: acks land in many readers)
                await trio.sleep(0.02)
        nursery.cancel_scope.cancel()
    return {**counts, "timeouts": outstanding[0], "latencies_ms": latencies.tobytes(),
            "send_lag_ms": lags.tobytes(), "duration": duration, "error_samples": error_samples}


async def _fanout_recv(links: list[Link], spec: Spec, go_at: float,
                       pipe: multiprocessing.connection.Connection) -> dict[str, Any]:
    """Receive until told to stop: count message events on every link (by their first bytes);
    on every ``sample_every``-th link also parse them for the sender's timestamp."""
    p = spec.params
    start = _mono(go_at)
    end = start + p["duration"]
    sample_every: int = p.get("sample_every", 10)
    latencies = array("d")
    counts = {"deliveries": 0, "in_window": 0, "bytes": 0, "closed_by_server": 0}
    first_bytes: list[bytes] = []

    async def count(link: Link) -> None:
        while True:
            chunk = await link.receive_chunk()
            if not chunk:
                counts["closed_by_server"] += 1
                return
            counts["bytes"] += len(chunk)
            if len(first_bytes) < 3:
                first_bytes.append(chunk[:300])
            n = chunk.count(MESSAGE_PREFIX)
            counts["deliveries"] += n
            if start <= time.monotonic() <= end:
                counts["in_window"] += n

    async def sample(link: Link) -> None:
        while True:
            lines = await link.receive_lines()
            if not lines:
                return
            now_wall = time.time()
            now = time.monotonic()
            for line in lines:
                if not line.startswith(MESSAGE_PREFIX):
                    continue
                counts["deliveries"] += 1
                if start <= now <= end:
                    counts["in_window"] += 1
                event = parse(line)
                if not isinstance(event, MessagePosted):
                    continue
                text = event.text
                with _suppress_value_error():
                    latencies.append((now_wall - float(text.split(" ", 1)[0])) * 1000.0)

    async with trio.open_nursery() as nursery:
        for i, link in enumerate(links):
            nursery.start_soon(sample if i % sample_every == 0 else count, link)
        await _recv(pipe)  # stop
        nursery.cancel_scope.cancel()
    return {**counts, "latencies_ms": latencies.tobytes(), "duration": p["duration"],
            "first_bytes": [b.decode(errors="replace") for b in first_bytes],
            "sampled_links": math.ceil(len(links) / sample_every)}


class _suppress_value_error:
    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, value: object, tb: object) -> bool:
        return kind is ValueError


async def _resume(nursery: trio.Nursery, spec: Spec, go_at: float) -> dict[str, Any]:
    """At go, every client connects at once with ``resume`` and reads until it has every
    message up to the room's target seq (or a ``gap``); reports when each was caught up."""
    p = spec.params
    resume_from: dict[str, int] = p["resume_from"]
    target: dict[str, int] = p["target"]
    await trio.sleep(max(0.0, _mono(go_at) - time.monotonic()))
    start = time.monotonic()
    cpu = _cpu()
    caught_up = array("d")
    welcomed = array("d")
    counts = {"messages": 0, "gaps": 0, "failed": 0}
    links: list[Link] = []
    failures: list[str] = []

    async def one(token: str, room: str) -> None:
        try:
            link = await open_link(nursery, spec.transport, spec.host, spec.port)
            links.append(link)
            keep: list[bytes] = []
            await hello(link, token, resume={room: resume_from[room]}, keep=keep)
            welcomed.append(time.monotonic() - start)
            seen = resume_from[room]
            want = target[room]
            lines: list[bytes] = []
            while seen < want:
                if not lines:
                    lines = await link.receive_lines()
                    if not lines:
                        raise ProtocolError("closed before caught up")
                line = lines.pop(0)
                event = parse(line)
                if isinstance(event, MessagePosted) and event.room == room:
                    counts["messages"] += 1
                    seen = max(seen, event.seq)
                elif isinstance(event, Gap) and event.room == room:
                    counts["gaps"] += 1
                    seen = want
            caught_up.append(time.monotonic() - start)
        except (ProtocolError, OSError, trio.TooSlowError) as exc:
            counts["failed"] += 1
            if len(failures) < 5:
                failures.append(repr(exc))

    with trio.move_on_after(p.get("timeout", 120.0)):
        async with trio.open_nursery() as inner:
            for token, room in spec.clients:
                inner.start_soon(one, token, room)
    cpu = _cpu() - cpu
    async with trio.open_nursery() as closing:
        for link in links:
            closing.start_soon(link.aclose)
    return {**counts, "caught_up_s": caught_up.tobytes(), "welcomed_s": welcomed.tobytes(),
            "failures": failures, "cpu": cpu}

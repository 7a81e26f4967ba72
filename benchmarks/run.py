"""The scenarios, and the command that runs them: ``python -m benchmarks run …``.

Each scenario starts the server under test fresh (chatd as ``python -m chatd serve``, the
Socket.IO peer as ``node server.js``, the echo ceiling as ``python -m benchmarks.echo``) on a
database of its own in the one shared PostgreSQL, drives it from load generator processes, and
reads the server's CPU time and RSS (and PostgreSQL's, summed over the postmaster and its
backends) from /proc before and after. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks import infra
from benchmarks.ceilings import measure_commit_ceiling
from benchmarks.infra import BenchPostgres, Daemon, ProcReading, cpu_share, read_proc
from benchmarks.loadgen import Spec, WorkerHandle, run_workers
from benchmarks.stats import latency_summary, merge_latencies

__all__ = ["Bench", "main"]

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"

# Limits of chatd that a load test from one address on loopback must lift, if this version of
# chatd has them (looked up in chatd.config, so that a key it does not know is never set).
_LIFTED_LIMITS = {
    "max_connections_per_ip": 1_000_000,
    "connections_per_ip": 1_000_000,
    "messages_per_second": 1_000_000,
    "message_rate": 1_000_000.0,
    "message_burst": 1_000_000,
    "sends_per_second": 1_000_000,
    "send_rate": 1_000_000.0,
    "send_burst": 1_000_000,
    "user_send_rate": 1_000_000.0,
    "user_send_burst": 1_000_000,
    "hello_rate": 1_000_000.0,
    "hello_burst": 1_000_000,
    "connect_rate": 1_000_000.0,
    "connect_burst": 1_000_000,
    "login_attempts": 1_000_000,
    "searches_per_minute": 1_000_000,
}


def lifted_limits_env() -> dict[str, str]:
    """CHATD_LIMITS_* overrides for the per-address and per-connection rate limits this chatd
    has (the benchmark is one address sending as fast as it is asked to)."""
    try:
        from chatd.config import HttpConfig, LimitsConfig
    except ImportError:
        return {}
    known: dict[str, Any] = {f.name: f.default for f in dataclasses.fields(LimitsConfig)}
    env = {}
    for key, value in _LIFTED_LIMITS.items():
        if key in known:
            kind = type(known[key])
            env[f"CHATD_LIMITS_{key.upper()}"] = str(kind(value))
    # WebSocket handshakes are HTTP connections first, hundreds in flight at once.
    if "connections_per_ip" in {f.name for f in dataclasses.fields(HttpConfig)}:
        env["CHATD_HTTP_CONNECTIONS_PER_IP"] = "1000000"
    return env


# ------------------------------------------------------------------------------ targets

#: The scenario kinds the Node load generator for chatd (``peers/chatd/loadgen.js``) runs; the
#: others (change, resume) stay with the Python one whatever ``--loadgen`` says.
NODE_KINDS = frozenset({"send", "fanout_send", "fanout_recv", "connect"})


class Target:
    """A server under test, as the scenarios see it."""

    name = "?"
    pid = 0
    port = 0
    transport = "tcp"

    def tokens(self, prefix: str, count: int) -> list[str]:
        raise NotImplementedError

    def node_drives(self, kind: str) -> bool:
        """Whether a worker of this kind is a Node load generator (one process, whatever
        ``--procs`` says)."""
        return False

    def worker(self, spec: Spec) -> Spec | WorkerHandle:
        return spec

    def stop(self) -> None:
        raise NotImplementedError


class ChatdTarget(Target):
    name = "chatd"

    def __init__(self, bench: Bench, database: str, transport: str,
                 env: dict[str, str] | None = None, workers: int | None = None,
                 loadgen: str = "python") -> None:
        self.bench = bench
        self.dsn = bench.pg.create_database(database)
        self.transport = transport
        self.workers = workers
        self.loadgen = loadgen
        self.daemon = Daemon(bench.tmp / database, self.dsn,
                             env_extra={**(env or {}), **bench.chatd_env()}, workers=workers)
        self.daemon.start()
        self._refresh()

    def _refresh(self) -> None:
        self.pid = self.daemon.pid
        self.port = self.daemon.tcp_port if self.transport == "tcp" else self.daemon.http_port

    def tokens(self, prefix: str, count: int) -> list[str]:
        users = infra.create_users(self.dsn, prefix, count)
        return infra.mint_tokens(self.daemon.secret(), users)

    def node_drives(self, kind: str) -> bool:
        return self.loadgen == "node" and kind in NODE_KINDS

    def worker(self, spec: Spec) -> Spec | WorkerHandle:
        if not self.node_drives(spec.kind):
            return spec
        from benchmarks.peer import CHATD_LOADGEN, NodeWorker

        return NodeWorker(spec, self.bench.tmp / "specs", script=CHATD_LOADGEN)

    def restart(self) -> tuple[float, float]:
        """SIGTERM, wait, start again; (seconds to stop, seconds to listen again)."""
        stopped = self.daemon.stop()
        started = time.monotonic()
        self.daemon.start()
        self._refresh()
        return stopped, time.monotonic() - started

    def stop(self) -> None:
        self.daemon.stop()


class PeerTarget(Target):
    name = "socketio"

    def __init__(self, bench: Bench, database: str) -> None:
        from benchmarks.peer import Peer

        self.bench = bench
        self.peer = Peer(bench.pg.create_database(database), bench.tmp / "peer")
        self.pid = self.peer.pid
        self.port = self.peer.port
        self.transport = "socket.io"

    def tokens(self, prefix: str, count: int) -> list[str]:
        from benchmarks.peer import peer_tokens

        return peer_tokens(self.peer.secret, count, prefix)

    def node_drives(self, kind: str) -> bool:
        return True

    def worker(self, spec: Spec) -> Spec | WorkerHandle:
        from benchmarks.peer import NodeWorker

        return NodeWorker(spec, self.bench.tmp / "specs")

    def stop(self) -> None:
        self.peer.stop()


class EchoTarget(Target):
    name = "echo"

    def __init__(self, bench: Bench) -> None:
        log = (bench.tmp / f"echo-{time.time_ns()}.log").open("wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "benchmarks.echo"], cwd=HERE.parent,
                                     stderr=log, stdout=log, stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            found = re.search(r"tcp 127\.0\.0\.1:(\d+)", Path(log.name).read_text())
            if found:
                self.port = int(found[1])
                break
            time.sleep(0.05)
        else:
            self.stop()
            raise RuntimeError("the echo server did not start")
        self.pid = self.proc.pid

    def tokens(self, prefix: str, count: int) -> list[str]:
        return [f"{prefix}{i}" for i in range(count)]

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


# ------------------------------------------------------------------------------ the bench

@dataclasses.dataclass
class Readings:
    server: ProcReading
    pg: ProcReading | None


class Bench:
    """One run: the shared PostgreSQL, a temporary folder, the options, the results."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix="chatd-bench-", dir="/tmp"))
        self.pg = BenchPostgres(args.dsn)
        self.results: list[dict[str, Any]] = []
        self.pg_settings: dict[str, str] = {}
        self.partial: Path | None = None
        self._n = 0
        self._profiles: list[tuple[subprocess.Popen[bytes], Path]] = []
        self._profiled = 0

    def close(self) -> None:
        self.pg.drop_created()
        self.pg.close()
        import shutil

        shutil.rmtree(self.tmp, ignore_errors=True)

    def chatd_env(self) -> dict[str, str]:
        env = lifted_limits_env()
        for item in self.args.set or []:
            key, _, value = item.partition("=")
            env[f"CHATD_{key.replace('.', '_').upper()}"] = value
        return env

    def database(self, what: str) -> str:
        self._n += 1
        return f"bench_{what}_{self._n}"

    @contextlib.contextmanager
    def target(self, name: str, what: str, transport: str = "tcp",
               workers: int | None = None) -> Iterator[Target]:
        target: Target
        if name == "chatd":
            target = ChatdTarget(self, self.database(what), transport, workers=workers,
                                 loadgen=getattr(self.args, "loadgen", "python"))
        elif name == "socketio":
            target = PeerTarget(self, self.database(what))
        else:
            target = EchoTarget(self)
        try:
            yield target
        finally:
            target.stop()

    def read(self, target: Target) -> Readings:
        pg_pid = self.pg.postmaster_pid
        # With workers, the server is the parent and every worker.
        return Readings(read_proc(target.pid, tree=bool(getattr(target, "workers", None))),
                        read_proc(pg_pid, tree=True) if pg_pid is not None else None)

    def window(self, target: Target, delay: float, duration: float
               ) -> tuple[dict[str, Readings], list[threading.Timer]]:
        """Readings of the server (and PostgreSQL) when the measurement window opens,
        ``delay`` seconds from now, and when it closes, taken by timers (returned, to be
        joined before the server stops): the CPU figures then leave out setup, the load
        generators' start and the teardown of the connections (closing 10,000 connections
        costs the server more than 10 s of sends at 250/s)."""
        box: dict[str, Readings] = {}
        timers = []

        def take(key: str) -> None:
            box[key] = self.read(target)

        for key, at in (("start", delay), ("end", delay + duration)):
            timer = threading.Timer(at, take, (key,))
            timer.daemon = True
            timer.start()
            timers.append(timer)
        return box, timers

    def profile(self, target: Target, label: str, delay: float, duration: float) -> None:
        """With ``--profile DIR``: py-spy on the server for the measurement window only
        (``delay`` seconds from now, for ``duration``), so that setup (hellos, joins) is left
        out. Non-blocking sampling: the server is never paused."""
        if not getattr(self.args, "profile", "") or target.name == "socketio":
            return
        folder = Path(self.args.profile)
        folder.mkdir(parents=True, exist_ok=True)
        self._profiled += 1
        out = folder / f"{self._profiled:02d}-{target.name}-{label}.txt"
        # With workers, the server's work is in the parent's children: py-spy follows them.
        children = "--subprocesses " if getattr(target, "workers", None) else ""
        command = (f"sleep {delay}; exec py-spy record --pid {target.pid} --rate 100 --gil "
                   f"{children}"
                   f"--format raw --duration {max(1, round(duration))} "
                   f"--output {out}")
        env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
        self._profiles.append((subprocess.Popen(
            ["sh", "-c", command], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        ), out))

    def profiles_done(self) -> None:
        for process, out in self._profiles:
            _, err = process.communicate()
            if process.returncode == 0 and out.exists():
                print(f"profile: {out}", flush=True)
            elif process.returncode is not None and err:
                print(f"py-spy failed for {out}: {err.decode(errors='replace')[-500:]}",
                      file=sys.stderr)
        self._profiles.clear()

    def counters(self, target: Target) -> dict[str, float] | None:
        """chatd's own counters from ``/metrics``: group commits (count, messages, seconds)
        and garbage collections (runs and seconds per generation, longest pause)."""
        if not isinstance(target, ChatdTarget):
            return None
        # With workers, /metrics has every series per worker and, without the worker
        # label, in total: the lines read here are the totals.
        url = f"http://127.0.0.1:{target.daemon.http_port}/metrics"
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                text = response.read().decode()
        except OSError:
            return None
        return {name: float(value) for name, value in _COUNTER_LINE.findall(text)}

    def record(self, result: dict[str, Any]) -> dict[str, Any]:
        # The machine's load when the scenario ended: the run shares it with whatever else runs.
        result["loadavg_1m"] = round(os.getloadavg()[0], 2)
        self.results.append(result)
        if self.partial is not None:  # so that a failure later does not lose what was measured
            self.partial.write_text(json.dumps({"results": self.results}, indent=1) + "\n")
        print(_one_line(result), flush=True)
        return result

    def specs(self, target: Target, kind: str, clients: list[tuple[str, str]],
              params: dict[str, Any], procs: int, name: str) -> list[Spec | WorkerHandle]:
        """``clients`` split over ``procs`` workers (just one for a Node load generator, which
        is not CPU-bound at these sizes)."""
        if target.node_drives(kind):
            procs = 1
        procs = max(1, min(procs, len(clients)))
        out: list[Spec | WorkerHandle] = []
        for i in range(procs):
            part = clients[i::procs]
            spec = Spec(kind=kind, host="127.0.0.1", port=target.port,
                        transport=target.transport, clients=part, params=params,
                        name=f"{name}-{i}")
            out.append(target.worker(spec))
        return out


_COUNTER_LINE = re.compile(
    r'^(chatd_commit_batch_size_(?:count|sum)|chatd_commit_seconds_sum'
    r'|chatd_(?:relayed_entries|gap_repairs)_total\{source="\w+"\}'
    r'|chatd_gc_(?:collections_total|seconds_total)\{generation="\d"\}'
    r'|chatd_gc_longest_pause_seconds|chatd_send_ack_seconds_(?:count|sum)'
    r'|chatd_send_ack_seconds_bucket\{le="0\.(?:001|0025|1)"\}) (\S+)$', re.M)


def _daemon_figures(before: dict[str, float] | None,
                    after: dict[str, float] | None) -> dict[str, Any]:
    """From chatd's counters before and after a scenario (window and drain): the group
    commits (how many, their mean size, the mean time each took to store) and the garbage
    collector (full collections, seconds in all generations, the longest pause so far)."""
    if before is None or after is None:
        return {}

    def delta(name: str) -> float:
        return after.get(name, 0.0) - before.get(name, 0.0)

    out: dict[str, Any] = {}
    commits = delta("chatd_commit_batch_size_count")
    if commits > 0:
        out.update(commits=int(commits),
                   mean_batch=round(delta("chatd_commit_batch_size_sum") / commits, 1),
                   mean_commit_ms=round(delta("chatd_commit_seconds_sum") * 1000 / commits, 2))
    acks = delta("chatd_send_ack_seconds_count")
    if acks > 0:
        # the daemon's own view of send→ack (commit and queueing, not the sockets)
        slow = acks - delta('chatd_send_ack_seconds_bucket{le="0.1"}')
        out["server_acks_over_100ms_pct"] = round(100 * slow / acks, 2)
        # Against the load generator's p50: how much of a send's time is the daemon's
        # (from the parsed request to the ack queued) and how much the sockets' and waking.
        out["server_send_ack_mean_ms"] = round(
            delta("chatd_send_ack_seconds_sum") * 1000 / acks, 2)
        for le, key in (("0.001", "server_acks_under_1ms_pct"),
                        ("0.0025", "server_acks_under_2_5ms_pct")):
            fast = delta(f'chatd_send_ack_seconds_bucket{{le="{le}"}}')
            out[key] = round(100 * fast / acks, 1)
    # With several nodes: other nodes' entries carried by their notices or read back, and
    # the gaps connections filled from what was published here or from the database.
    for source in ("notice", "read"):
        if count := delta(f'chatd_relayed_entries_total{{source="{source}"}}'):
            out[f"relayed_{source}"] = int(count)
    for source in ("published", "read"):
        if count := delta(f'chatd_gap_repairs_total{{source="{source}"}}'):
            out[f"repairs_{source}"] = int(count)
    gc_seconds = sum(delta(f'chatd_gc_seconds_total{{generation="{g}"}}') for g in range(3))
    out.update(gc_full=int(delta('chatd_gc_collections_total{generation="2"}')),
               gc_ms=round(gc_seconds * 1000, 1),
               gc_longest_ms=round(after.get("chatd_gc_longest_pause_seconds", 0.0) * 1000, 1))
    return out


class _Measured:
    """What a send or fan-out scenario reads around its measurement window: the server's and
    PostgreSQL's CPU at the window's edges (see :meth:`Bench.window`), chatd's counters, and
    with ``--profile`` a py-spy profile of the window."""

    def __init__(self, bench: Bench, target: Target, label: str, duration: float) -> None:
        self._bench = bench
        self._target = target
        self._label = label
        self._duration = duration
        self._before: Readings | None = None
        self._counters: dict[str, float] | None = None
        self._edges: dict[str, Readings] = {}
        self._timers: list[threading.Timer] = []

    def open_in(self, lead: float) -> float:
        """The workers are ready and the window opens ``lead`` seconds from now (returned,
        as ``run_workers``'s ``on_ready`` wants it)."""
        self._before = self._bench.read(self._target)
        self._counters = self._bench.counters(self._target)
        self._bench.profile(self._target, self._label, lead, self._duration)
        self._edges, self._timers = self._bench.window(self._target, lead, self._duration)
        return lead

    def close(self, *, loadgen_cpu: float) -> dict[str, Any]:
        """The workers are done: CPU use over the window and chatd's own figures. Waits for
        the window to close: open-loop workers whose last sends were acked early are done
        before it does (and a reading of a server already stopped would fail)."""
        for timer in self._timers:
            timer.join()
        after = self._bench.read(self._target)
        counters = self._bench.counters(self._target)
        self._bench.profiles_done()
        assert self._before is not None, "open_in was not called"
        start, end = self._before, after
        if "start" in self._edges and "end" in self._edges:
            start, end = self._edges["start"], self._edges["end"]
        return {**_usage(self._bench, start, end, loadgen_cpu,
                         after.server.at - self._before.server.at),
                **_daemon_figures(self._counters, counters)}


def _usage(bench: Bench, before: Readings, after: Readings, loadgen_cpu: float,
           wall: float) -> dict[str, Any]:
    usage = {"server_cores": round(cpu_share(before.server, after.server), 3),
             "server_cpu_s": round(after.server.cpu - before.server.cpu, 3),
             "server_rss_mib": round(after.server.rss_kib / 1024, 1),
             "loadgen_cores": round(loadgen_cpu / wall, 3) if wall > 0 else None}
    if before.pg is not None and after.pg is not None and after.pg.cpu >= before.pg.cpu:
        # (summed over the backends alive at each reading: one that exits in between makes
        # the difference meaningless, and it is left out)
        usage["pg_cores"] = round(cpu_share(before.pg, after.pg), 3)
        usage["pg_cpu_s"] = round(after.pg.cpu - before.pg.cpu, 3)
    return usage


# ------------------------------------------------------------------------------ scenarios

def _loadgen_param(target: Target, kind: str) -> dict[str, str]:
    """``{"loadgen": "node"}`` for chatd driven by the Node load generator (``--loadgen
    node``); nothing otherwise (chatd's Python one, or the peer, always driven by Node)."""
    return {"loadgen": "node"} if target.name == "chatd" and target.node_drives(kind) else {}


def _lag_summary(reports: list[dict[str, Any]]) -> dict[str, float | None]:
    """Open loop: how late the load generator wrote its sends after their scheduled time
    (part of every latency, since latency counts from the schedule), p50 and p99 in ms."""
    lags = merge_latencies(reports, "send_lag_ms")
    if not lags:
        return {}
    summary = latency_summary(lags)
    return {"send_lag_p50_ms": summary["p50_ms"], "send_lag_p99_ms": summary["p99_ms"]}


def durable_send(bench: Bench, target: Target, *, connections: int, rooms: int, mode: str,
                 rate: float, window: int, duration: float, procs: int,
                 tokens: list[str], changes: dict[str, int] | None = None) -> dict[str, Any]:
    """C connections in R rooms (connection i in room i mod R) sending to their room, open
    loop at ``rate`` sends/s in total or closed loop with ``window`` sends in flight each.

    With ``changes`` ({"messages": n, "edit_every": e}; chatd only) the scenario is
    ``change``: each connection posts n messages in setup, then its requests are changes to
    them (reactions put and taken back, every e-th an edit), measured as sends are."""
    clients = [(tokens[i], f"room{i % rooms}") for i in range(connections)]
    params = {"mode": mode, "rate": rate / connections if mode == "open" else 0.0,
              "window": window, "duration": duration, "drain": max(5.0, duration),
              **(changes or {})}
    kind = "send" if changes is None else "change"
    label = f"{kind}-{connections}-" + (f"open{rate:g}" if mode == "open" else "closed")
    measured = _Measured(bench, target, label, duration)

    def on_ready(_: list[dict[str, Any]]) -> float:
        # The workers start a sender and a reader task per connection when told to go, which
        # takes a while for thousands; they get that long before the window opens, so that no
        # send is late for the load generator's own sake.
        return measured.open_in(0.5 + connections / 4000)

    reports = run_workers(bench.specs(target, kind, clients, params, procs, kind),
                          on_ready=on_ready)
    usage = measured.close(loadgen_cpu=sum(r["cpu"] for r in reports))
    latencies = merge_latencies(reports)
    total = {k: sum(r[k] for r in reports) for k in
             ("sent", "acked", "acked_in_window", "errors", "timeouts", "deliveries",
              *(("unchanged", "edits_acked") if changes is not None else ()))}
    figures = {
        "acked_per_s": round(total["acked_in_window"] / duration, 1),
        "deliveries_per_s": round(total["deliveries"] / duration, 1),
        **latency_summary(latencies), **_lag_summary(reports), **total, **usage,
        "server_cpu_ms_per_msg": round(usage["server_cpu_s"] * 1000
                                       / total["acked_in_window"], 4)
        if total["acked_in_window"] else None,
        "error_samples": [e for r in reports for e in r.get("error_samples", [])][:3],
        "setup_s": round(max(r["setup"]["seconds"] for r in reports), 2),
    }
    return bench.record({
        "scenario": "durable_send" if changes is None else "change", "server": target.name,
        "transport": target.transport,
        "params": {"connections": connections, "rooms": rooms, "mode": mode,
                   "offered_per_s": rate if mode == "open" else None, "window": window,
                   "duration_s": duration, "procs": procs, **(changes or {}),
                   **_loadgen_param(target, kind),
                   **({"workers": getattr(target, "workers", None)}
                      if getattr(target, "workers", None) else {})},
        "figures": figures})


def fanout(bench: Bench, target: Target, *, members: int, rate: float, duration: float,
           procs: int, tokens: list[str], sample_every: int) -> dict[str, Any]:
    """One sender posting ``rate`` messages/s to a room of ``members`` receivers (plus
    itself); deliveries/s counted at the receivers, send→receive latency on a sample."""
    room = "fanout"
    receivers = [(tokens[i], room) for i in range(members)]
    sender = [(tokens[members], room)]
    params = {"duration": duration, "sample_every": sample_every}
    send_params = {"mode": "open", "rate": rate, "duration": duration, "drain": 5.0}
    specs = bench.specs(target, "fanout_recv", receivers, params, procs, "recv")
    specs += bench.specs(target, "fanout_send", sender, send_params, 1, "sender")
    measured = _Measured(bench, target, f"fanout-{members}-{rate:g}", duration)
    drain = min(3.0, max(1.0, duration))  # for the last messages to arrive
    reports = run_workers(specs, on_ready=lambda _: measured.open_in(0.5),
                          stop_after=duration + drain)
    usage = measured.close(loadgen_cpu=sum(r["cpu"] for r in reports))
    recv = reports[:-1]
    send = reports[-1]
    latencies = merge_latencies(recv)
    delivered = sum(r["deliveries"] for r in recv)
    in_window = sum(r["in_window"] for r in recv)
    figures = {
        "deliveries_per_s": round(in_window / duration, 1),
        "offered_deliveries_per_s": round(rate * members, 1),
        "messages_sent": send["sent"], "messages_acked": send["acked"],
        "deliveries": delivered,
        "bytes_received": sum(r.get("bytes", 0) for r in recv),
        "closed_by_server": sum(r.get("closed_by_server", 0) for r in recv),
        "first_bytes": [b for r in recv for b in r.get("first_bytes", [])][:2],
        "expected_deliveries": send["acked"] * members,
        **latency_summary(latencies), **usage,
        "server_cpu_us_per_delivery": round(usage["server_cpu_s"] * 1e6 / in_window, 2)
        if in_window else None,
        "setup_s": round(max(r["setup"]["seconds"] for r in reports), 2),
    }
    return bench.record({
        "scenario": "fanout", "server": target.name, "transport": target.transport,
        "params": {"members": members, "messages_per_s": rate, "duration_s": duration,
                   "procs": procs, **_loadgen_param(target, "fanout_recv")},
        "figures": figures})


def idle_connections(bench: Bench, target: Target, *, count: int, procs: int,
                     tokens: list[str]) -> dict[str, Any]:
    """Open ``count`` authenticated connections (hello, no rooms) and keep them idle; the
    server's RSS per connection and the connect+hello rate."""
    clients = [(tokens[i], "") for i in range(count)]
    time.sleep(0.5)
    before = bench.read(target)
    box: dict[str, Any] = {}

    def on_ready(ready: list[dict[str, Any]]) -> float:
        time.sleep(1.0)  # let the last handshakes settle
        box["after"] = bench.read(target)
        box["ready"] = ready
        return 0.1

    reports = run_workers(bench.specs(target, "connect", clients, {}, procs, "idle"),
                          on_ready=on_ready, stop_after=0.2)
    after: Readings = box["after"]
    ready = box["ready"]
    first = min(r["first_connect"] for r in ready)
    last = max(r["last_welcome"] for r in ready)
    del reports
    rss_delta = after.server.rss_kib - before.server.rss_kib
    figures = {
        "rss_before_mib": round(before.server.rss_kib / 1024, 1),
        "rss_after_mib": round(after.server.rss_kib / 1024, 1),
        "rss_per_conn_kib": round(rss_delta / count, 2),
        "connect_hello_per_s": round(count / (last - first), 1) if last > first else None,
        "connect_seconds": round(last - first, 2),
        "server_cpu_ms_per_conn": round((after.server.cpu - before.server.cpu) * 1000 / count, 3),
    }
    if before.pg is not None and after.pg is not None:
        figures["pg_cpu_ms_per_conn"] = round((after.pg.cpu - before.pg.cpu) * 1000 / count, 3)
    return bench.record({
        "scenario": "connections", "server": target.name, "transport": target.transport,
        "params": {"connections": count, "procs": procs,
                   **_loadgen_param(target, "connect")}, "figures": figures})


def resume(bench: Bench, target: ChatdTarget, *, clients: int, rooms: int, missed: int,
           procs: int) -> dict[str, Any]:
    """K clients in R rooms go away; ``missed`` messages are posted to every room; the daemon
    restarts; all K reconnect at once with ``resume`` and read until caught up."""
    tokens = target.tokens("res", clients)
    members = [(tokens[i], f"room{i % rooms}") for i in range(clients)]
    # 1. every client joins its room (then disconnects).
    run_workers(bench.specs(target, "connect", members, {}, procs, "members"), stop_after=0.1)
    # 2. a writer per room posts `missed` messages while the clients are away.
    writers = [(tokens[r], f"room{r}") for r in range(rooms)]
    before_seq = _room_seqs(target)
    posted = run_workers([Spec("send", "127.0.0.1", target.port, target.transport, writers,
                               {"mode": "closed", "window": 8, "duration": 60.0,
                                "count": missed, "drain": 10.0}, "writers")])
    after_seq = _room_seqs(target)
    # 3. restart the daemon, 4. everybody resumes at once.
    stop_s, start_s = target.restart()
    params = {"resume_from": before_seq, "target": after_seq, "timeout": 120.0}
    box: dict[str, Readings] = {}

    def on_ready(_: list[dict[str, Any]]) -> float:
        box["before"] = bench.read(target)
        return 0.3

    reports = run_workers(bench.specs(target, "resume", members, params, procs, "resume"),
                          on_ready=on_ready)
    after = bench.read(target)
    caught = merge_latencies(reports, "caught_up_s")
    welcomed = merge_latencies(reports, "welcomed_s")
    figures = {
        "all_caught_up_s": round(caught[-1], 3) if caught else None,
        "caught_up_p50_s": round(caught[len(caught) // 2], 3) if caught else None,
        "welcome_p99_s": round(welcomed[max(0, math.ceil(0.99 * len(welcomed)) - 1)], 3)
        if welcomed else None,
        "caught_up_clients": len(caught), "failed": sum(r["failed"] for r in reports),
        "messages_replayed": sum(r["messages"] for r in reports),
        "gaps": sum(r["gaps"] for r in reports),
        "messages_posted": sum(r["acked"] for r in posted),
        "daemon_stop_s": round(stop_s, 2), "daemon_start_s": round(start_s, 2),
        "server_cpu_s": round(after.server.cpu - box["before"].server.cpu, 3),
        "failures": [e for r in reports for e in r.get("failures", [])][:3],
    }
    return bench.record({
        "scenario": "resume", "server": target.name, "transport": target.transport,
        "params": {"clients": clients, "rooms": rooms, "missed_per_room": missed,
                   "procs": procs}, "figures": figures})


def _room_seqs(target: ChatdTarget) -> dict[str, int]:
    import asyncio

    import asyncpg

    async def run() -> dict[str, int]:
        conn = await asyncpg.connect(target.dsn)
        try:
            rows = await conn.fetch("SELECT name, last_seq FROM rooms")
        finally:
            await conn.close()
        return {r["name"]: r["last_seq"] for r in rows}

    return asyncio.run(run())


# ------------------------------------------------------------------------------ the run

def _floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def _scale_levels(a: argparse.Namespace) -> list[dict[str, int]]:
    """The data-scale levels: the four ``--scale-*`` lists, zipped."""
    axes = [_ints(a.scale_messages), _ints(a.scale_rooms), _ints(a.scale_members),
            _ints(a.scale_contacts)]
    if len({len(axis) for axis in axes}) != 1:
        raise SystemExit("data-scale: the four --scale-* lists must be as long")
    return [{"messages": m, "rooms": r, "members": n, "contacts": c}
            for m, r, n, c in zip(*axes, strict=True)]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run scenarios and write results")
    run.add_argument("--scenario", default="all",
                     help="comma-separated: send, change, fanout, connections, resume, "
                          "ceilings, all (all but upload, search and data-scale), upload, "
                          "search, data-scale")
    run.add_argument("--servers", default="chatd,socketio",
                     help="servers compared: chatd, socketio (the peer; needs node and npm)")
    run.add_argument("--duration", type=float, default=10.0, help="seconds per measurement")
    run.add_argument("--transport", default="tcp", choices=["tcp", "ws"],
                     help="chatd transport for the load")
    run.add_argument("--procs", type=int, default=1, help="load generator processes (Python)")
    run.add_argument("--loadgen", default="python", choices=["python", "node"],
                     help="load generator for chatd: python (trio workers, loadgen.py) or node "
                          "(peers/chatd/loadgen.js, the same code as the Socket.IO peer's; one "
                          "process, TCP only; send, fan-out and connections: change and resume "
                          "stay with python)")
    run.add_argument("--connections", type=int, default=1000, help="durable send: C")
    run.add_argument("--rooms", type=int, default=100, help="durable send: R")
    run.add_argument("--rates", default="250,500,1000,2000",
                     help="durable send, open loop: offered sends/s in total, comma-separated")
    run.add_argument("--window", type=int, default=1,
                     help="durable send, closed loop: sends in flight per connection (0: no "
                          "closed loop, only the open-loop rates, which then do not run on "
                          "the tens of thousands of messages the closed loop leaves to index "
                          "and vacuum)")
    run.add_argument("--scale-connections", default="100,10000",
                     help="durable send: other connection counts at the lowest rate, for the "
                          "cost per message against connections (empty: skip)")
    run.add_argument("--change-messages", type=int, default=3,
                     help="change (chatd only): messages each connection posts first, then "
                          "changes (C, R, --rates and --window as for durable send)")
    run.add_argument("--edit-every", type=int, default=5,
                     help="change: every N-th change is an edit, the others reactions put "
                          "and taken back in turn (0: reactions only)")
    run.add_argument("--members", type=int, default=1000, help="fan-out: M")
    run.add_argument("--fanout-rates", default="20,50,100,150",
                     help="fan-out: messages/s from the one sender, comma-separated")
    run.add_argument("--sample-every", type=int, default=10,
                     help="fan-out: receivers that parse for latency (1 in N)")
    run.add_argument("--idle", default="1000,5000,10000", help="connections: N, comma-separated")
    run.add_argument("--resume-clients", type=int, default=1000, help="resume: K")
    run.add_argument("--resume-rooms", type=int, default=100, help="resume: rooms")
    run.add_argument("--resume-missed", type=int, default=50,
                     help="resume: messages missed per room")
    run.add_argument("--upload-clients", type=int, default=20,
                     help="upload (chatd only, not in all): clients uploading at once")
    run.add_argument("--upload-sizes-mb", default="2,20",
                     help="upload: file sizes in MB (10^6 bytes), a fresh daemon for each")
    run.add_argument("--upload-rounds", type=int, default=1,
                     help="upload: files of the largest size each client sends one after "
                          "another (as many bytes in smaller files at the other sizes)")
    run.add_argument("--search-sizes", default="10000,100000,1000000",
                     help="search (chatd only, not in all): messages in the database, a "
                          "fresh daemon and database for each")
    run.add_argument("--search-rounds", type=int, default=5,
                     help="search: rounds of the query mix measured at each size")
    run.add_argument("--search-send-rounds", type=int, default=2,
                     help="search: closed-loop send runs with the index and without, "
                          "alternated")
    run.add_argument("--search-fresh-rate", type=float, default=500.0,
                     help="search: the open loop's sends/s in which a probe times how soon "
                          "a message is indexed after its acknowledgement")
    run.add_argument("--workers", default="",
                     help="durable send: run chatd with `serve --workers N` for each N, "
                          "comma-separated (CPU then counts the parent and every worker); "
                          "empty: one process")
    run.add_argument("--scale-messages", default="10000,500000,5000000",
                     help="data-scale (chatd only, not in all): messages in the room 'big' "
                          "at each level (the levels are the --scale-* lists, zipped)")
    run.add_argument("--scale-rooms", default="10,100,1000",
                     help="data-scale: rooms of the measured user at each level, each with "
                          "999+ unread")
    run.add_argument("--scale-members", default="10,1000,10000",
                     help="data-scale: members of the room 'big' at each level")
    run.add_argument("--scale-contacts", default="10,1000,10000",
                     help="data-scale: contacts of the measured user at each level")
    run.add_argument("--scale-rounds", type=int, default=30,
                     help="data-scale: samples of each operation at each level")
    run.add_argument("--batch", type=int, default=20, help="commit ceiling: rows per commit")
    run.add_argument("--dsn", default="",
                     help="an existing PostgreSQL (a role that may create databases) instead "
                          "of a fresh embedded one")
    run.add_argument("--set", action="append", metavar="SECTION.KEY=VALUE",
                     help="extra chatd setting for the daemon under test (repeatable)")
    run.add_argument("--profile", default="", metavar="DIR",
                     help="record py-spy profiles of chatd over each send and fan-out window "
                          "into DIR (needs py-spy; summarise with `python -m benchmarks "
                          "profile FILE`)")
    run.add_argument("--out", default="", help="results JSON (default: results/<date>.json)")
    run.add_argument("--no-plots", action="store_true")
    sub.add_parser("report", help="print the tables of a results JSON").add_argument("path")
    prof = sub.add_parser("profile", help="summarise a py-spy raw profile (--profile)")
    prof.add_argument("path")
    prof.add_argument("--top", type=int, default=25)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "report":
        from benchmarks.plots import plot
        from benchmarks.report import markdown, ratios

        doc = json.loads(Path(args.path).read_text())
        doc["ratios"] = ratios(doc)
        print(markdown(doc))
        for path in plot(doc, Path(args.path).with_suffix("")):
            print(f"plot: {path}")
        return 0
    if args.command == "profile":
        from benchmarks.profile import summary

        print(summary(Path(args.path), top=args.top))
        return 0
    infra.raise_nofile()
    scenarios = {s.strip() for s in args.scenario.split(",")}
    if "all" in scenarios:
        scenarios = {"send", "change", "fanout", "connections", "resume", "ceilings"}
    if "data-scale" in scenarios:
        _scale_levels(args)  # a mistake in them is told before anything starts
    servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    if args.loadgen == "node" and "chatd" in servers:
        from benchmarks.peer import node_available

        if args.transport != "tcp":
            raise SystemExit("--loadgen node speaks chatd's protocol over TCP only")
        if not node_available(npm=False):
            raise SystemExit("--loadgen node: node not found")
    if "socketio" in servers:
        from benchmarks.peer import node_available, npm_install

        if not node_available():
            print("node/npm not found: skipping the Socket.IO peer", file=sys.stderr)
            servers.remove("socketio")
        else:
            npm_install()
    started = time.time()
    load_at_start = [round(x, 2) for x in os.getloadavg()]
    bench = Bench(args)
    out = Path(args.out) if args.out else RESULTS / (
        datetime.datetime.now().strftime("%Y%m%d-%H%M%S") + ".json")
    bench.partial = out.with_suffix(".partial.json")
    try:
        run_all(bench, scenarios, servers)
    finally:
        bench.close()
    doc = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": " ".join([os.path.basename(sys.executable), "-m", "benchmarks",
                             *(argv if argv is not None else sys.argv[1:])]),
        "seconds": round(time.time() - started, 1),
        "machine": {**infra.machine_info(), "loadavg_at_start": load_at_start,
                    "loadavg_at_end": [round(x, 2) for x in os.getloadavg()]},
        **infra.commit_info(),
        "postgres": bench.pg_settings, "results": bench.results,
    }
    from benchmarks.report import markdown, ratios

    doc["ratios"] = ratios(doc)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=1) + "\n")
    bench.partial.unlink(missing_ok=True)
    print(f"\nresults: {out}")
    print(markdown(doc))
    if not args.no_plots:
        from benchmarks.plots import plot

        for path in plot(doc, out.with_suffix("")):
            print(f"plot: {path}")
    return 0


def run_all(bench: Bench, scenarios: set[str], servers: list[str]) -> None:
    a = bench.args
    bench.pg_settings = bench.pg.settings()
    d = a.duration
    if "ceilings" in scenarios:
        ceiling = measure_commit_ceiling(bench.pg.create_database("bench_ceiling"),
                                         duration=min(d, 5.0), batch=a.batch)
        for mode, figures in ceiling.items():
            bench.record({"scenario": "commit_ceiling", "server": "asyncpg", "transport": "-",
                          "params": {"mode": mode}, "figures": figures})
        with bench.target("echo", "echo") as echo:
            tokens = echo.tokens("e", a.connections)
            durable_send(bench, echo, connections=a.connections, rooms=a.rooms, mode="closed",
                         rate=0, window=a.window, duration=d, procs=a.procs, tokens=tokens)
    if "send" in scenarios:
        workers: list[int | None] = [*_ints(a.workers)] if a.workers else [None]
        for server, nworkers in [(s, w) for s in servers
                                 for w in (workers if s == "chatd" else [None])]:
            with bench.target(server, "send", a.transport, workers=nworkers) as target:
                tokens = target.tokens("s", max([a.connections, *_ints(a.scale_connections)]))
                if a.window > 0:
                    durable_send(bench, target, connections=a.connections, rooms=a.rooms,
                                 mode="closed", rate=0, window=a.window, duration=d,
                                 procs=a.procs, tokens=tokens)
                for rate in _floats(a.rates):
                    durable_send(bench, target, connections=a.connections, rooms=a.rooms,
                                 mode="open", rate=rate, window=1, duration=d, procs=a.procs,
                                 tokens=tokens)
                for count in _ints(a.scale_connections):
                    durable_send(bench, target, connections=count,
                                 rooms=max(1, count // 10), mode="open",
                                 rate=min(_floats(a.rates)), window=1, duration=d,
                                 procs=a.procs if count < 5000 else max(2, a.procs),
                                 tokens=tokens)
    if "change" in scenarios:
        if "chatd" in servers:
            changes = {"messages": a.change_messages, "edit_every": a.edit_every}
            with bench.target("chatd", "change", a.transport) as target:
                tokens = target.tokens("c", a.connections)
                durable_send(bench, target, connections=a.connections, rooms=a.rooms,
                             mode="closed", rate=0, window=a.window, duration=d,
                             procs=a.procs, tokens=tokens, changes=changes)
                for rate in _floats(a.rates):
                    durable_send(bench, target, connections=a.connections, rooms=a.rooms,
                                 mode="open", rate=rate, window=1, duration=d, procs=a.procs,
                                 tokens=tokens, changes=changes)
        if set(servers) - {"chatd"}:
            print("change: chatd only (the peer has no changes to messages)", file=sys.stderr)
    if "fanout" in scenarios:
        for server in servers:
            with bench.target(server, "fanout", a.transport) as target:
                tokens = target.tokens("f", a.members + 1)
                for rate in _floats(a.fanout_rates):
                    fanout(bench, target, members=a.members, rate=rate, duration=d,
                           procs=a.procs, tokens=tokens, sample_every=a.sample_every)
    if "connections" in scenarios:
        for server in servers:
            for count in _ints(a.idle):
                with bench.target(server, "idle", a.transport) as target:
                    tokens = target.tokens("i", count)
                    idle_connections(bench, target, count=count,
                                     procs=a.procs if count <= 5000 else max(2, a.procs),
                                     tokens=tokens)
    if "upload" in scenarios and "chatd" in servers:
        from benchmarks.upload import MB, uploads

        uploads(bench, clients=a.upload_clients, rounds=a.upload_rounds,
                sizes=[round(size * MB) for size in _floats(a.upload_sizes_mb)])
    if "search" in scenarios and "chatd" in servers:
        from benchmarks.search import search_latency, send_with_and_without_index

        search_latency(bench, sizes=_ints(a.search_sizes), rounds=a.search_rounds)
        send_with_and_without_index(bench, rounds=a.search_send_rounds,
                                    fresh_rate=a.search_fresh_rate)
    if "data-scale" in scenarios and "chatd" in servers:
        from benchmarks.datascale import data_scale

        data_scale(bench, rounds=a.scale_rounds, levels=_scale_levels(a))
    if "resume" in scenarios and "chatd" in servers:
        with bench.target("chatd", "resume", a.transport) as target:
            assert isinstance(target, ChatdTarget)
            resume(bench, target, clients=a.resume_clients, rooms=a.resume_rooms,
                   missed=a.resume_missed, procs=a.procs)


def _one_line(result: dict[str, Any]) -> str:
    f = result["figures"]
    keys = ["acked_per_s", "rows_per_s", "deliveries_per_s", "p50_ms", "p99_ms", "p99_9_ms",
            "send_lag_p50_ms", "errors", "timeouts", "unchanged", "server_cores", "pg_cores",
            "loadgen_cores", "rss_per_conn_kib",
            "connect_hello_per_s", "all_caught_up_s", "failed", "mean_batch",
            "mean_commit_ms", "gc_full", "gc_ms", "gc_longest_ms",
            "server_acks_over_100ms_pct", "server_send_ack_mean_ms", "server_acks_under_1ms_pct",
            "server_acks_under_2_5ms_pct", "mb_per_s", "upload_max_s", "rss_idle_mib",
            "rss_during_max_mib", "vm_hwm_mib", "load_s", "index_s", "index_mib",
            "max_ms"]
    shown = ", ".join(f"{k}={f[k]}" for k in keys if k in f and f[k] is not None)
    return f"[{result['scenario']} {result['server']} {result['params']}] {shown}"

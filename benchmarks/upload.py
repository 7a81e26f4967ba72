"""The upload scenario: many clients upload large files at once over real HTTP; throughput,
and the daemon's memory while the files stream through.

``python -m benchmarks run --scenario upload --servers chatd`` (chatd only: the peer has no
files). For each file size (``--upload-sizes-mb``, 2 and 20 by default) a fresh daemon is
started, ``--upload-clients`` users each make a room, and then all of them upload at once
(``POST /api/rooms/{room}/files``, ``multipart/form-data``, Bearer): every client sends the same
number of bytes at every size (``--upload-rounds`` files of the largest size, or as many
smaller files one after another), so that the sizes are compared over the same traffic.

Memory: the daemon's VmRSS before the uploads (idle, after setup), sampled every 20 ms while
they run (the highest and the mean), and its VmHWM (the peak since it started) at the end;
each size has a daemon of its own so that VmHWM is that size's. If the daemon held a file, or
a growing part of one, its memory would grow with the file size; streamed, it does not.

The clients are trio tasks in the harness's own process, one connection and one upload at a
time each, sending a body built from one shared random block (the first bytes of each file
are its own, so every file has a SHA-256 of its own and is stored as a file of its own): the
load generator costs little CPU and almost no memory.
"""

from __future__ import annotations

import math
import resource
import secrets
import threading
import time
from typing import TYPE_CHECKING, Any

import trio

from benchmarks.stats import percentile

if TYPE_CHECKING:
    from benchmarks.run import Bench

__all__ = ["MB", "upload_env", "uploads"]

MB = 1_000_000
_BLOCK = 1024 * 1024  # the shared random block the bodies are cut from
_SEND = 256 * 1024  # bytes handed to the socket at a time
_SAMPLE_EVERY = 0.02


def upload_env(largest: int, per_client: int) -> dict[str, str]:
    """chatd settings the scenario needs: a size limit that takes its largest file, a quota
    that holds the ``per_client`` bytes each client uploads, and no upload rate limit (one
    address, many uploads)."""
    return {"CHATD_FILES_MAX_BYTES": str(max(largest, 26_214_400)),
            "CHATD_FILES_QUOTA_BYTES": str(max(1 << 30, 2 * per_client)),
            "CHATD_LIMITS_UPLOADS_PER_MINUTE": "1000000"}


def _status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process, in KiB."""
    out = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
    return out


class _Sampler(threading.Thread):
    """VmRSS of ``pid`` every 20 ms until stopped."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.samples: list[int] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.samples.append(_status(self.pid)["VmRSS"])
            self.stop.wait(_SAMPLE_EVERY)


async def _request(port: int, method: str, path: str, token: str, head: bytes,
                   body_parts: Any = (), length: int = 0) -> tuple[int, bytes]:
    """One request on a fresh connection (``Connection: close``): the status and the body."""
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        await stream.send_all(
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Authorization: Bearer {token}\r\nContent-Length: {length}\r\n"
            f"Connection: close\r\n".encode() + head + b"\r\n")
        for part in body_parts:
            await stream.send_all(part)
        answer = bytearray()
        while chunk := await stream.receive_some(65536):
            answer += chunk
    status_line, _, rest = bytes(answer).partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


async def _upload(port: int, token: str, room: str, size: int, tag: bytes,
                  block: bytes) -> None:
    boundary = f"bench-{secrets.token_hex(8)}"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"bench.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    view = memoryview(block)

    def parts() -> Any:
        yield head + tag
        sent = len(tag)
        while sent < size:
            n = min(_SEND, size - sent)
            start = sent % (_BLOCK - _SEND)
            yield view[start:start + n]
            sent += n
        yield tail

    status, body = await _request(
        port, "POST", f"/api/rooms/{room}/files", token,
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n".encode(), parts(),
        len(head) + size + len(tail))
    if status != 201:
        raise RuntimeError(f"upload answered {status}: {body[:200]!r}")


async def _run_clients(port: int, tokens: list[str], size: int, files_each: int
                       ) -> tuple[float, list[float], list[str]]:
    """Every client makes its room, then all upload at once; (seconds from the first upload
    to the last answer, each upload's seconds, errors)."""
    rooms = [f"upload{i}" for i in range(len(tokens))]
    for token, room in zip(tokens, rooms, strict=True):
        body = f'{{"room": "{room}"}}'.encode()
        status, answer = await _request(port, "POST", "/api/rooms", token,
                                        b"Content-Type: application/json\r\n", [body],
                                        len(body))
        if status != 201:
            raise RuntimeError(f"creating {room} answered {status}: {answer[:200]!r}")
    block = secrets.token_bytes(_BLOCK)
    durations: list[float] = []
    errors: list[str] = []
    go = trio.Event()

    async def client(index: int) -> None:
        await go.wait()
        for n in range(files_each):
            tag = f"{index}:{n}:{time.time_ns()}:".encode()
            started = time.monotonic()
            try:
                await _upload(port, tokens[index], rooms[index], size, tag, block)
            except (OSError, RuntimeError, trio.BrokenResourceError) as exc:
                errors.append(repr(exc)[:200])
                continue
            durations.append(time.monotonic() - started)

    async with trio.open_nursery() as nursery:
        for index in range(len(tokens)):
            nursery.start_soon(client, index)
        await trio.sleep(0.1)
        started = time.monotonic()
        go.set()
    return time.monotonic() - started, durations, errors


def uploads(bench: Bench, *, clients: int, sizes: list[int], rounds: int) -> list[dict[str, Any]]:
    """The scenario at each size (bytes); one result per size."""
    from benchmarks.run import ChatdTarget

    largest = max(sizes)
    results = []
    for size in sizes:
        files_each = max(1, math.ceil(largest * rounds / size))
        env = upload_env(largest, files_each * size)
        target = ChatdTarget(bench, bench.database(f"upload{size // MB}"), "tcp", env=env)
        try:
            tokens = target.tokens("up", clients)
            time.sleep(0.5)
            port = target.daemon.http_port
            idle = _status(target.pid)["VmRSS"]
            before = bench.read(target)
            self_before = resource.getrusage(resource.RUSAGE_SELF)
            sampler = _Sampler(target.pid)
            sampler.start()
            try:
                seconds, durations, errors = trio.run(_run_clients, port, tokens, size,
                                                      files_each)
            finally:
                sampler.stop.set()
                sampler.join()
            after = bench.read(target)
            self_after = resource.getrusage(resource.RUSAGE_SELF)
            hwm = _status(target.pid)["VmHWM"]
        finally:
            target.stop()
        durations.sort()
        sent = len(durations) * size
        loadgen_cpu = (self_after.ru_utime + self_after.ru_stime
                       - self_before.ru_utime - self_before.ru_stime)
        figures: dict[str, Any] = {
            "uploads": len(durations), "errors": len(errors), "first_errors": errors[:3],
            "mb": round(sent / MB, 1), "seconds": round(seconds, 2),
            "mb_per_s": round(sent / MB / seconds, 1) if seconds > 0 else None,
            "upload_p50_s": round(percentile(durations, 50), 2) if durations else None,
            "upload_max_s": round(durations[-1], 2) if durations else None,
            "rss_idle_mib": round(idle / 1024, 1),
            "rss_during_max_mib": round(max(sampler.samples, default=idle) / 1024, 1),
            "rss_during_mean_mib": round(sum(sampler.samples) / len(sampler.samples) / 1024, 1)
            if sampler.samples else None,
            "rss_samples": len(sampler.samples),
            "vm_hwm_mib": round(hwm / 1024, 1),
            "server_cpu_s": round(after.server.cpu - before.server.cpu, 2),
            "server_cores": round((after.server.cpu - before.server.cpu) / seconds, 2)
            if seconds > 0 else None,
            "loadgen_cpu_s": round(loadgen_cpu, 2),
        }
        if before.pg is not None and after.pg is not None and after.pg.cpu >= before.pg.cpu:
            figures["pg_cpu_s"] = round(after.pg.cpu - before.pg.cpu, 2)
        results.append(bench.record({
            "scenario": "upload", "server": "chatd", "transport": "http",
            "params": {"clients": clients, "file_mb": round(size / MB, 3),
                       "files_each": files_each},
            "figures": figures}))
    return results

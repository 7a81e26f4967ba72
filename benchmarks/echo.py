"""The socket-layer ceiling: a bare trio NDJSON server over loopback.

It does the least a protocol server must: read lines, parse each as JSON, answer it (a
``welcome`` to ``hello``, an ``ok`` shaped as docs/protocol.md says to ``send`` and ``join``, a
bare ``ok`` to anything else, each with the request's id) with one write per read. No storage,
no rooms, no fan-out: every message is seq 1 of its room. Run as
``python -m benchmarks.echo``; it prints ``listening: tcp 127.0.0.1:PORT`` on stderr.
"""

from __future__ import annotations

import contextlib
import json
import sys
from typing import Any

import trio

__all__ = ["main", "serve"]


def _reply(request: dict[str, Any]) -> dict[str, Any]:
    op, rid = request.get("op"), request.get("id")
    if op == "send":
        return {"op": "ok", "id": rid, "room": request.get("room"), "seq": 1, "msg_id": 1,
                "ts": 0}
    if op == "hello":
        return {"op": "welcome", "id": rid, "user": {"id": 1, "name": "echo"}, "rooms": [],
                "contacts": [], "ping_interval": 30}
    if op == "join":
        return {"op": "ok", "id": rid, "room": request.get("room"), "last_seq": 0,
                "messages": [], "more": False}
    return {"op": "ok", "id": rid}


async def handle(stream: trio.SocketStream) -> None:
    buffer = b""
    dumps = json.JSONEncoder(separators=(",", ":")).encode
    try:
        while True:
            data = await stream.receive_some(65536)
            if not data:
                return
            buffer += data
            end = buffer.rfind(b"\n")
            if end < 0:
                continue
            lines, buffer = buffer[:end].split(b"\n"), buffer[end + 1:]
            out = []
            for line in lines:
                if not line.strip():
                    continue
                request = json.loads(line)
                out.append(dumps(_reply(request)) + "\n")
            if out:
                await stream.send_all("".join(out).encode())
    except (trio.BrokenResourceError, trio.ClosedResourceError, ValueError):
        return
    finally:
        await trio.aclose_forcefully(stream)


async def serve(port: int = 0) -> None:
    listeners = await trio.open_tcp_listeners(port, host="127.0.0.1")
    bound = listeners[0].socket.getsockname()[1]
    print(f"listening: tcp 127.0.0.1:{bound}", file=sys.stderr, flush=True)
    await trio.serve_listeners(handle, listeners)


def main() -> None:
    from benchmarks.infra import raise_nofile

    raise_nofile()
    with contextlib.suppress(KeyboardInterrupt):
        trio.run(serve, int(sys.argv[1]) if len(sys.argv) > 1 else 0)


if __name__ == "__main__":
    main()

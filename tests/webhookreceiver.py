"""A webhook receiver on 127.0.0.1 for the tests: what a CI server or a chat bridge runs to
take chatd's outgoing webhooks, cut down.

It checks every delivery as a careful receiver would, with code of its own (not chatd's):
the ``X-Chatd-Signature`` is ``sha256=`` and the hex HMAC-SHA256, under the secret it was
given, of ``X-Chatd-Timestamp``, ``.`` and the raw body; the timestamp is within five
minutes of its clock; the body is JSON. What it took, and what was wrong, is kept for the test
to assert on; ``answers`` tells it how to answer each path in turn (a status, or ``None``:
never answer), 200 once they are used up.

Tests wait for its state (:meth:`WebhookReceiver.wait_for`), never for time.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import h11
import trio

TOLERANCE = 300  # seconds a delivery's timestamp may be off


@dataclasses.dataclass(slots=True)
class Received:
    """A delivery the receiver took: its path, headers (lower-case names) and JSON body."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class WebhookReceiver:
    """Run with ``await nursery.start(receiver.serve)``; set ``secret`` before deliveries."""

    def __init__(self, secret: str = "") -> None:
        self.secret = secret
        self.port = 0
        self.received: list[Received] = []
        self.problems: list[str] = []
        self.requests: dict[str, int] = {}  # per path, answered or not
        self.connections = 0
        self.hanging = 0
        self.answers: dict[str, list[int | None]] = {}
        self._changed = trio.Event()

    def url(self, path: str = "/hook", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def at(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]

    async def wait_for(self, condition: Callable[[], bool]) -> None:
        """Return once ``condition()`` holds (checked after every change of state)."""
        while not condition():
            await self._changed.wait()

    def _touch(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                    ) -> None:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        self.port = listeners[0].socket.getsockname()[1]
        task_status.started()
        await trio.serve_listeners(self._connection, listeners)

    async def _connection(self, stream: trio.SocketStream) -> None:
        self.connections += 1
        self._touch()
        conn = h11.Connection(h11.SERVER)
        async with stream:
            while True:
                request: h11.Request | None = None
                body = b""
                while True:
                    event = conn.next_event()
                    if event is h11.NEED_DATA:
                        data = await stream.receive_some(65536)
                        if not data:
                            return
                        conn.receive_data(data)
                    elif isinstance(event, h11.Request):
                        request = event
                    elif isinstance(event, h11.Data):
                        body += bytes(event.data)
                    elif isinstance(event, h11.EndOfMessage):
                        break
                    elif isinstance(event, h11.ConnectionClosed):
                        return
                assert request is not None
                status = await self._answer(request, body)
                await stream.send_all(conn.send(h11.Response(
                    status_code=status, headers=[("content-length", "0")])))
                await stream.send_all(conn.send(h11.EndOfMessage()))
                if conn.our_state is h11.MUST_CLOSE:
                    return
                conn.start_next_cycle()

    async def _answer(self, request: h11.Request, body: bytes) -> int:
        path = request.target.decode()
        self.requests[path] = self.requests.get(path, 0) + 1
        planned = self.answers.get(path, [])
        status = planned.pop(0) if planned else 200
        self._touch()
        if status is None:
            self.hanging += 1
            self._touch()
            await trio.sleep_forever()
        if 200 <= status < 300:
            received = self._check(path, request, body)
            if received is None:
                return 401
            self.received.append(received)
            self._touch()
        return status

    def _check(self, path: str, request: h11.Request, body: bytes) -> Received | None:
        headers = {k.decode().lower(): v.decode() for k, v in request.headers}
        try:
            assert request.method == b"POST", request.method
            assert headers["content-type"] == "application/json"
            timestamp = headers["x-chatd-timestamp"]
            assert abs(int(timestamp) - time.time()) <= TOLERANCE, "an old timestamp"
            expected = "sha256=" + hmac.new(self.secret.encode(),
                                            timestamp.encode() + b"." + body,
                                            hashlib.sha256).hexdigest()
            assert hmac.compare_digest(headers["x-chatd-signature"], expected), "bad signature"
            return Received(path, headers, json.loads(body))
        except Exception as exc:  # everything wrong is the test's to see
            self.problems.append(f"delivery to {path}: {type(exc).__name__}: {exc}")
            return None

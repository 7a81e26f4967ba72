"""A small HTTP/1.1 server on 127.0.0.1 that takes chatd's outgoing POSTs in the tests: the
part the Web Push service (tests/pushservice.py) and the webhook receiver
(tests/webhookreceiver.py) share. Each says how a request is keyed (a subscription, a path),
what a good answer is, and how a request is checked.

``answers`` tells it how to answer each key in turn (a status, or ``None``: never answer);
once they are used up it answers ``ok_status``, after :meth:`Receiver.take` checked and kept
the request (or ``refused_status`` when the check failed). Tests wait for its state
(:meth:`Receiver.wait_for`), never for time.
"""

from __future__ import annotations

from collections.abc import Callable

import h11
import trio


class Receiver:
    """Run with ``await nursery.start(receiver.serve)``."""

    ok_status = 200
    refused_status = 400

    def __init__(self, *, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        self.problems: list[str] = []
        self.requests: dict[str, int] = {}  # per key, answered or not
        self.connections = 0
        self.hanging = 0
        self.answers: dict[str, list[int | None]] = {}
        self._changed = trio.Event()

    def key(self, request: h11.Request) -> str:
        """What ``answers`` and ``requests`` are keyed by."""
        raise NotImplementedError

    def take(self, key: str, request: h11.Request, body: bytes) -> bool:
        """Check a request answered with ``ok_status`` and keep it; False when it is wrong
        (say what in ``problems``)."""
        raise NotImplementedError

    async def wait_for(self, condition: Callable[[], bool]) -> None:
        """Return once ``condition()`` holds (checked after every change of state)."""
        while not condition():
            await self._changed.wait()

    def _touch(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                    ) -> None:
        listeners = await trio.open_tcp_listeners(0, host=self.host)
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
        key = self.key(request)
        self.requests[key] = self.requests.get(key, 0) + 1
        planned = self.answers.get(key, [])
        status = planned.pop(0) if planned else self.ok_status
        self._touch()
        if status is None:
            self.hanging += 1
            self._touch()
            await trio.sleep_forever()
        if status == self.ok_status:
            if not self.take(key, request, body):
                return self.refused_status
            self._touch()
        return status

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

import h11
import trio

from tests.localhttp import LocalServer


class Receiver(LocalServer):
    """Run with ``await nursery.start(receiver.serve)``."""

    ok_status = 200
    refused_status = 400

    def __init__(self, *, host: str = "127.0.0.1") -> None:
        super().__init__(host)
        self.problems: list[str] = []
        self.requests: dict[str, int] = {}  # per key, answered or not
        self.hanging = 0
        self.answers: dict[str, list[int | None]] = {}

    def key(self, request: h11.Request) -> str:
        """What ``answers`` and ``requests`` are keyed by."""
        raise NotImplementedError

    def take(self, key: str, request: h11.Request, body: bytes) -> bool:
        """Check a request answered with ``ok_status`` and keep it; False when it is wrong
        (say what in ``problems``)."""
        raise NotImplementedError

    async def respond(self, stream: trio.SocketStream, conn: h11.Connection,
                      request: h11.Request, body: bytes) -> None:
        status = await self._answer(request, body)
        await stream.send_all(conn.send(h11.Response(
            status_code=status, headers=[("content-length", "0")])))
        await stream.send_all(conn.send(h11.EndOfMessage()))

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

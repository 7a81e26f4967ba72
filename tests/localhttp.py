"""The part of the tests' small HTTP/1.1 servers on 127.0.0.1 that chatd calls out to (the
push service and the webhook receiver, tests/httpreceiver.py; the pages chatd previews,
tests/pageserver.py): listening, reading one request after another on a keep-alive
connection, and telling the tests when their state changed. A subclass answers a request
(:meth:`LocalServer.respond`) and touches the state it keeps. Tests wait for that state
(:meth:`LocalServer.wait_for`), never for time.
"""

from __future__ import annotations

from collections.abc import Callable

import h11
import trio


class LocalServer:
    """Run with ``await nursery.start(server.serve)``; ``port`` is known from then on."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        self.connections = 0
        self._changed = trio.Event()

    async def respond(self, stream: trio.SocketStream, conn: h11.Connection,
                      request: h11.Request, body: bytes) -> None:
        """Send the whole answer to ``request`` (its ``body`` read) on ``conn``."""
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
                read = await _read_request(stream, conn)
                if read is None:
                    return
                try:
                    await self.respond(stream, conn, *read)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    return  # chatd read what it wanted and hung up
                if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                    return
                conn.start_next_cycle()


async def _read_request(stream: trio.SocketStream, conn: h11.Connection
                        ) -> tuple[h11.Request, bytes] | None:
    """The next request on ``conn`` and its body; None once the peer is gone."""
    request: h11.Request | None = None
    body = b""
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            data = await stream.receive_some(65536)
            if not data:
                return None
            conn.receive_data(data)
        elif isinstance(event, h11.Request):
            request = event
        elif isinstance(event, h11.Data):
            body += bytes(event.data)
        elif isinstance(event, h11.EndOfMessage):
            assert request is not None
            return request, body
        elif event is h11.PAUSED or isinstance(event, h11.ConnectionClosed):
            return None

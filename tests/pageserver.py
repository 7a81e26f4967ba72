"""A small HTTP/1.1 server on 127.0.0.1 that serves the pages and pictures chatd previews in
the tests (chatd.previews), and counts what was asked of it.

Each path answers as its :class:`Page` says: a status, headers and a body; ``hang`` never
answers (a timeout); ``padding`` streams that many more bytes after the body, for a page
too large to read whole. Tests wait for its state (:meth:`PageServer.wait_for`), never for
time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import h11
import trio


@dataclasses.dataclass(slots=True)
class Page:
    body: bytes = b""
    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    headers: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    hang: bool = False
    padding: int = 0


def html(title: str = "", *, head: str = "", body: str = "") -> bytes:
    """A page with ``title`` (none when empty) and more of a ``head`` and a ``body``."""
    titled = f"<title>{title}</title>" if title else ""
    return (f"<!doctype html><html><head><meta charset=utf-8>{titled}{head}</head>"
            f"<body>{body}</body></html>").encode()


class PageServer:
    """Run with ``await nursery.start(server.serve)``; ``url(path)`` is where a page is."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        self.pages: dict[str, Page] = {}
        self.requests: dict[str, int] = {}  # per path
        self.headers: dict[str, dict[str, str]] = {}  # the last request's, per path
        self.connections = 0
        self.sent: dict[str, int] = {}  # body bytes written, per path
        self._changed = trio.Event()

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

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
                while True:
                    event = conn.next_event()
                    if event is h11.NEED_DATA:
                        data = await stream.receive_some(65536)
                        if not data:
                            return
                        conn.receive_data(data)
                    elif isinstance(event, h11.Request):
                        request = event
                    elif isinstance(event, h11.EndOfMessage):
                        break
                    elif event is h11.PAUSED or isinstance(event, h11.ConnectionClosed):
                        return
                assert request is not None
                path = request.target.decode()
                self.requests[path] = self.requests.get(path, 0) + 1
                self.headers[path] = {k.decode().lower(): v.decode()
                                      for k, v in request.headers}
                self._touch()
                page = self.pages.get(path, Page(b"not here", status=404,
                                                 content_type="text/plain"))
                if page.hang:
                    await trio.sleep_forever()
                try:
                    await self._answer(stream, conn, path, page)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    return  # chatd read what it wanted and hung up
                if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                    return
                conn.start_next_cycle()

    async def _answer(self, stream: trio.SocketStream, conn: h11.Connection, path: str,
                      page: Page) -> None:
        size = len(page.body) + page.padding
        headers = [("Content-Length", str(size)), *page.headers]
        if page.content_type:
            headers.append(("Content-Type", page.content_type))
        await stream.send_all(conn.send(h11.Response(status_code=page.status, headers=headers)))
        await stream.send_all(conn.send(h11.Data(data=page.body)))
        self.sent[path] = self.sent.get(path, 0) + len(page.body)
        left = page.padding
        while left:
            chunk = min(left, 16384)
            await stream.send_all(conn.send(h11.Data(data=b" " * chunk)))
            left -= chunk
            self.sent[path] += chunk
        await stream.send_all(conn.send(h11.EndOfMessage()))
        self._touch()

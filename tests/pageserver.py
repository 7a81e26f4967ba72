"""A small HTTP/1.1 server on 127.0.0.1 that serves the pages and pictures chatd previews in
the tests (chatd.previews), and counts what was asked of it.

Each path answers as its :class:`Page` says: a status, headers and a body; ``hang`` never
answers (a timeout); ``padding`` streams that many more bytes after the body, for a page
too large to read whole. Tests wait for its state (:meth:`PageServer.wait_for`), never for
time (tests/localhttp.py).
"""

from __future__ import annotations

import dataclasses

import h11
import trio

from tests.localhttp import LocalServer


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


class PageServer(LocalServer):
    """Run with ``await nursery.start(server.serve)``; ``url(path)`` is where a page is."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        super().__init__(host)
        self.pages: dict[str, Page] = {}
        self.requests: dict[str, int] = {}  # per path
        self.headers: dict[str, dict[str, str]] = {}  # the last request's, per path
        self.sent: dict[str, int] = {}  # body bytes written, per path

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    async def respond(self, stream: trio.SocketStream, conn: h11.Connection,
                      request: h11.Request, body: bytes) -> None:
        path = request.target.decode()
        self.requests[path] = self.requests.get(path, 0) + 1
        self.headers[path] = {k.decode().lower(): v.decode() for k, v in request.headers}
        self._touch()
        page = self.pages.get(path, Page(b"not here", status=404, content_type="text/plain"))
        if page.hang:
            await trio.sleep_forever()
        await self._answer(stream, conn, path, page)

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

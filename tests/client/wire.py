"""A small protocol and HTTP client for the end-to-end tests: real sockets on 127.0.0.1.

It speaks to the daemon exactly as a client would: HTTP/1.1 (on h11) for register and log-in,
NDJSON over TCP or WebSocket for the protocol. Replies are matched to requests by ``id``;
everything else the server sends is kept in ``events`` in arrival order.

Frames are JSON objects (dicts), as they are on the wire, so that a test can look at exactly
what the server sent; but every frame is also parsed by the client side of the protocol
(:func:`chatd.protocol.parse_event`, a reply as the reply to the request with its id), so a
frame the protocol does not allow fails the test with :class:`RemoteProtocolError`. Lines are
cut by the protocol's own :class:`~chatd.protocol.LineBuffer`. What a test sends is written as
given (``json.dumps``, escaped to ASCII, so that a test may send what the encoder would refuse,
such as a lone surrogate).
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import h11
import trio
import trio_websocket

from chatd.protocol import (
    REQUESTS,
    LineBuffer,
    RemoteProtocolError,
    Request,
    RequestError,
    decode_line,
    parse_event,
)
from chatd.protocol.client import MAX_SERVER_FRAME_BYTES

TIMEOUT = 10


async def http(port: int, method: str, path: str, body: Any = None,
               token: str | None = None, raw: bytes | None = None,
               headers: list[tuple[str, str]] | None = None) -> tuple[int, Any]:
    """One HTTP request on a fresh connection; returns (status, decoded JSON or bytes)."""
    with trio.fail_after(TIMEOUT):
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        async with stream:
            conn = h11.Connection(h11.CLIENT)
            data = raw if raw is not None else (
                json.dumps(body).encode() if body is not None else b""
            )
            fields = [("Host", f"127.0.0.1:{port}"), ("Content-Length", str(len(data))),
                      ("Connection", "close"), *(headers or [])]
            if body is not None or raw is not None:
                fields.append(("Content-Type", "application/json"))
            if token:
                fields.append(("Authorization", f"Bearer {token}"))
            await stream.send_all(conn.send(h11.Request(method=method, target=path,
                                                        headers=fields)))
            await stream.send_all(conn.send(h11.Data(data=data)) + conn.send(h11.EndOfMessage()))
            status = 0
            content = b""
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    conn.receive_data(await stream.receive_some(65536))
                    continue
                if isinstance(event, h11.Response):
                    status = event.status_code
                elif isinstance(event, h11.Data):
                    content += bytes(event.data)
                elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                    break
    try:
        return status, json.loads(content)
    except ValueError:
        return status, content


async def register_and_login(port: int, name: str, password: str = "correct horse") -> str:
    """Register ``name`` (if new) and return a fresh token."""
    status, _ = await http(port, "POST", "/api/register", {"username": name, "password": password})
    assert status in (201, 409), status
    status, body = await http(port, "POST", "/api/login", {"username": name, "password": password})
    assert status == 200, body
    return str(body["token"])


class Client:
    """One protocol connection. Use :meth:`tcp` or :meth:`ws` to open it."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.replies: dict[Any, dict[str, Any]] = {}
        self._ids = itertools.count(1)
        self._lines = LineBuffer(MAX_SERVER_FRAME_BYTES)
        # id -> the type of the request sent with it (None: not a request the protocol
        # knows, or two requests with that id), to parse its reply as the client would.
        self._asked: dict[Any, type[Request] | None] = {}
        self._stream: trio.abc.Stream | None = None
        self._ws: trio_websocket.WebSocketConnection | None = None
        self.closed = False

    @classmethod
    async def tcp(cls, port: int) -> Client:
        client = cls()
        client._stream = await trio.open_tcp_stream("127.0.0.1", port)
        return client

    @classmethod
    async def signed_in(cls, port: int, token: str, **hello: Any) -> Client:
        """A TCP connection to ``port`` that said hello with ``token`` and the ``hello``
        fields (and was welcomed)."""
        client = await cls.tcp(port)
        await client.hello(token, **hello)
        return client

    @classmethod
    async def ws(cls, port: int, nursery: trio.Nursery) -> Client:
        client = cls()
        client._ws = await trio_websocket.connect_websocket(
            nursery, "127.0.0.1", port, "/ws", use_ssl=False
        )
        return client

    async def send_raw(self, data: bytes) -> None:
        if self._ws is not None:
            await self._ws.send_message(data.decode("utf-8", "replace"))
        else:
            assert self._stream is not None
            await self._stream.send_all(data)

    async def send(self, obj: dict[str, Any]) -> None:
        rid = obj.get("id")
        if isinstance(rid, int | str) and not isinstance(rid, bool):
            entry = REQUESTS.get(obj.get("op"))  # type: ignore[arg-type]
            kind = entry[0] if entry is not None else None
            self._asked[rid] = kind if self._asked.get(rid, kind) is kind else None
        await self.send_raw(json.dumps(obj).encode() + b"\n")

    async def _receive_chunk(self) -> bytes:
        if self._ws is not None:
            try:
                message = await self._ws.get_message()
            except trio_websocket.ConnectionClosed:
                return b""
            data = message.encode() if isinstance(message, str) else bytes(message)
            return data if data.endswith(b"\n") else data + b"\n"  # whole lines, always
        assert self._stream is not None
        try:
            return bytes(await self._stream.receive_some(65536))
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return b""

    async def next_frame(self) -> dict[str, Any] | None:
        """The next frame from the server, or None once it closed.

        Raises:
            RemoteProtocolError: the server sent a frame the protocol does not allow.
        """
        while True:
            line = self._lines.next_line()
            if line is not None:
                if not line.strip():
                    continue
                return self._parse(line)
            if self._lines.overflowed:
                raise RemoteProtocolError("the server sent a frame that is too large")
            chunk = await self._receive_chunk()
            if not chunk:
                self.closed = True
                return None
            self._lines.feed(chunk)

    def _parse(self, line: bytes) -> dict[str, Any]:
        frame = decode_line(line)
        if isinstance(frame, RequestError):
            raise RemoteProtocolError(f"{frame.message}: {line[:200]!r}")
        answering = None
        if isinstance(frame, dict) and frame.get("op") in ("ok", "error", "welcome"):
            rid = frame.get("id")
            if isinstance(rid, int | str) and not isinstance(rid, bool):
                answering = self._asked.pop(rid, None)
        try:
            parse_event(frame, answering)
        except RemoteProtocolError as exc:
            raise RemoteProtocolError(f"{exc}: {line[:300]!r}") from None
        assert isinstance(frame, dict)
        return frame

    async def _pump(self) -> bool:
        frame = await self.next_frame()
        if frame is None:
            return False
        if frame.get("op") in ("ok", "error", "welcome") and frame.get("id") is not None:
            self.replies[frame["id"]] = frame
        else:
            self.events.append(frame)
        return True

    async def request(self, op: str, **fields: Any) -> dict[str, Any]:
        """Send a request and wait for the reply with its id (events are kept meanwhile)."""
        rid = next(self._ids)
        await self.send({"op": op, "id": rid, **fields})
        return await self.reply(rid)

    async def reply(self, rid: Any) -> dict[str, Any]:
        with trio.fail_after(TIMEOUT):
            while rid not in self.replies:
                if not await self._pump():
                    raise ConnectionError(f"closed before the reply to {rid}")
            return self.replies.pop(rid)

    async def event(self, op: str, **match: Any) -> dict[str, Any]:
        """Wait for (and take) the first event with this op and these fields."""
        with trio.fail_after(TIMEOUT):
            while True:
                for i, frame in enumerate(self.events):
                    if frame.get("op") == op and all(frame.get(k) == v for k, v in match.items()):
                        return self.events.pop(i)
                if not await self._pump():
                    raise ConnectionError(f"closed before a {op} event {match}")

    async def wait_closed(self) -> None:
        with trio.fail_after(TIMEOUT):
            while await self._pump():
                pass

    async def hello(self, token: str, **fields: Any) -> dict[str, Any]:
        welcome = await self.request("hello", token=token, **fields)
        assert welcome["op"] == "welcome", welcome
        return welcome

    async def aclose(self) -> None:
        if self._ws is not None:
            await self._ws.aclose()
        elif self._stream is not None:
            await self._stream.aclose()


async def full_history(client: Client, room: str) -> list[dict[str, Any]]:
    """Every message of ``room``, oldest first, paged forwards with ``after``."""
    messages: list[dict[str, Any]] = []
    while True:
        after = messages[-1]["seq"] if messages else 0
        page = await client.request("history", room=room, after=after, limit=500)
        assert page["op"] == "ok", page
        messages.extend(page["messages"])
        if not page["more"]:
            return messages


async def send_at_once_and_check(clients: list[Client], room: str, per_client: int) -> None:
    """Every client sends ``per_client`` messages to ``room`` at the same time (pipelined);
    then each must have every send acknowledged and have received seqs 1..N of the room
    exactly once, in order."""

    async def blast(client: Client, index: int) -> None:
        for n in range(per_client):
            await client.send({"op": "send", "id": n, "room": room,
                               "text": f"{index}:{n}", "nonce": f"{index}:{n}"})

    async with trio.open_nursery() as nursery:
        for index, client in enumerate(clients):
            nursery.start_soon(blast, client, index)
    total = per_client * len(clients)
    for client in clients:
        for n in range(per_client):
            assert (await client.reply(n))["op"] == "ok"
        seen: list[int] = []
        while len(seen) < total:
            seen.append((await client.event("message", room=room))["seq"])
        assert seen == list(range(1, total + 1))
        await client.request("ping")
        assert not [e for e in client.events if e.get("op") == "message"]

"""The HTTP front over real sockets, against the real (embedded) PostgreSQL.

Rules, as in trio-websocket's tests: 127.0.0.1 only, port 0, ``trio.fail_after`` around every
test that does I/O. Requests go through a small h11 client (:class:`Client`) or, where the test
is about bytes the h11 client would refuse to send, through :func:`raw_exchange`.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import h11
import pytest
import trio
import trio.testing
import trio_websocket
from argon2 import PasswordHasher
from PIL import Image

from chatd.actions import App
from chatd.auth import Auth
from chatd.config import Config
from chatd.http import CONTENT_SECURITY_POLICY, serve_http_connection
from chatd.metrics import Metrics
from chatd.server import run_actors
from chatd.storage.base import NewMessage, Storage

TIMEOUT = 10
INDEX_HTML = b"<!doctype html><title>chatd test</title><script src=app.js></script>"
APP_JS = b"export const answer = 42;\n"
STYLE_CSS = b"body { color: black; }\n"
ICON_SVG = b"<svg xmlns='http://www.w3.org/2000/svg'/>"
SECRET = b"not for the web\n"
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


# -- a small HTTP/1.1 client -----------------------------------------------------------------


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        assert self.headers["content-type"].startswith("application/json"), self.headers
        return json.loads(self.body)


class Client:
    """One keep-alive connection driven by h11; requests are made one after another."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.conn = h11.Connection(h11.CLIENT)

    @classmethod
    async def open(cls, port: int) -> Client:
        return cls(await trio.open_tcp_stream("127.0.0.1", port))

    async def request(
        self,
        method: str,
        target: str,
        *,
        json_body: Any = None,
        body: bytes | None = None,
        token: str | None = None,
        headers: Iterable[tuple[str, str]] = (),
    ) -> Response:
        if self.conn.our_state is h11.DONE and self.conn.their_state is h11.DONE:
            self.conn.start_next_cycle()
        all_headers = [("Host", "127.0.0.1"), *headers]
        if json_body is not None:
            body = json.dumps(json_body).encode()
            all_headers.append(("Content-Type", "application/json"))
        if token is not None:
            all_headers.append(("Authorization", f"Bearer {token}"))
        all_headers.append(("Content-Length", str(len(body or b""))))
        data = self.conn.send(h11.Request(method=method, target=target, headers=all_headers))
        if body:
            data += self.conn.send(h11.Data(data=body))
        data += self.conn.send(h11.EndOfMessage())
        await self.stream.send_all(data)
        return await self.read_response()

    async def read_response(self) -> Response:
        response: h11.Response | None = None
        body = bytearray()
        while True:
            event = self.conn.next_event()
            if event is h11.NEED_DATA:
                self.conn.receive_data(await self.stream.receive_some(65536))
            elif isinstance(event, h11.Response):
                response = event
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                assert response is not None
                headers = {k.decode(): v.decode() for k, v in response.headers}
                # Every header chatd sends is one of its kind: a repeated one is a mistake
                # (two answers to one question), not something a dict should hide.
                names = [k for k, _ in response.headers]
                assert len(names) == len(set(names)), f"a header repeated: {names}"
                return Response(response.status_code, headers, bytes(body))
            else:
                raise AssertionError(f"unexpected {event!r}")

    async def aclose(self) -> None:
        await self.stream.aclose()


async def raw_exchange(port: int, data: bytes) -> bytes:
    """Send ``data`` as is, half-close, and read until the server closes."""
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    try:
        await stream.send_all(data)
        await stream.send_eof()
        received = bytearray()
        while chunk := await stream.receive_some(65536):
            received += chunk
        return bytes(received)
    finally:
        await stream.aclose()


def status_of(raw: bytes) -> int:
    return int(raw.split(b" ", 2)[1])


def body_of(raw: bytes) -> Any:
    return json.loads(raw.split(b"\r\n\r\n", 1)[1])


# -- the server under test -------------------------------------------------------------------


@dataclass
class Server:
    port: int
    app: App
    storage: Storage
    ws_remotes: list[str] = field(default_factory=list)

    async def call(self, method: str, target: str, **kwargs: Any) -> Response:
        client = await Client.open(self.port)
        try:
            return await client.request(method, target, **kwargs)
        finally:
            await client.aclose()

    async def user(self, name: str = "alice", password: str = "correct horse") -> str:
        """Register ``name`` and return a fresh token."""
        response = await self.call(
            "POST", "/api/register", json_body={"username": name, "password": password}
        )
        assert response.status == 201, response.body
        response = await self.call(
            "POST", "/api/login", json_body={"username": name, "password": password}
        )
        assert response.status == 200, response.body
        token: str = response.json()["token"]
        return token


@pytest.fixture
def web_root(tmp_path: Path) -> Path:
    root = tmp_path / "web"
    (root / "img").mkdir(parents=True)
    (root / "index.html").write_bytes(INDEX_HTML)
    (root / "app.js").write_bytes(APP_JS)
    (root / "style.css").write_bytes(STYLE_CSS)
    (root / "img" / "icon.svg").write_bytes(ICON_SVG)
    (root / ".hidden").write_bytes(SECRET)
    (tmp_path / "setup.cfg").write_bytes(SECRET)
    os.symlink(tmp_path / "setup.cfg", root / "escape.txt")
    return root


@pytest.fixture
def config(tmp_path: Path, web_root: Path) -> Config:
    return Config().replace(
        server={"data_dir": str(tmp_path / "data")},
        http={
            "web_root": str(web_root),
            "max_body_bytes": 4096,
            "max_header_bytes": 4096,
            "request_timeout": 2.0,
        },
        limits={"history_max": 100},
    )


async def echo(
    server_remotes: list[str], ws: trio_websocket.WebSocketConnection, remote: str
) -> None:
    """The test's WebSocket session: echo every message until the client says "bye"."""
    server_remotes.append(remote)
    while True:
        message = await ws.get_message()
        if message == "bye\n":
            return
        await ws.send_message(message)


@pytest.fixture
async def server(
    nursery: trio.Nursery, storage: Storage, config: Config, tmp_path: Path
) -> AsyncIterator[Server]:
    metrics = Metrics()
    auth = Auth(storage, config, os.urandom(64), metrics, hasher=CHEAP_HASHER)
    remotes: list[str] = []
    app = await run_actors(nursery, config, storage, auth, metrics)
    handler = partial(serve_http_connection, app=app, on_websocket=partial(echo, remotes),
                      remote="127.0.0.1:test")
    listeners = await nursery.start(partial(trio.serve_tcp, handler, 0, host="127.0.0.1"))
    port = listeners[0].socket.getsockname()[1]
    yield Server(port, app, storage, remotes)
    nursery.cancel_scope.cancel()


# -- accounts --------------------------------------------------------------------------------


async def test_register_then_duplicate(server: Server) -> None:
    """Registering answers 201 with the user; the same name again, in any case, is 409."""
    with trio.fail_after(TIMEOUT):
        body = {"username": "Alice", "password": "correct horse"}
        response = await server.call("POST", "/api/register", json_body=body)
        assert response.status == 201
        user = response.json()["user"]
        assert user["name"] == "Alice" and isinstance(user["id"], int)
        again = await server.call(
            "POST", "/api/register", json_body={"username": "alice", "password": "other pass"}
        )
        assert again.status == 409
        assert again.json()["code"] == "conflict"


@pytest.mark.parametrize(
    "body",
    [
        {"username": "bad name", "password": "correct horse"},
        {"username": "x" * 33, "password": "correct horse"},
        {"username": "bob", "password": "short"},
        {"username": "bob", "password": 12345678},
        {"username": ["bob"], "password": "correct horse"},
        {"password": "correct horse"},
    ],
)
async def test_register_refuses_bad_fields(server: Server, body: dict[str, Any]) -> None:
    """A bad user name, a short password or a wrong field type is 400 bad_request."""
    with trio.fail_after(TIMEOUT):
        response = await server.call("POST", "/api/register", json_body=body)
        assert response.status == 400
        assert response.json()["code"] == "bad_request"


async def test_login_ok_and_wrong_password(server: Server) -> None:
    """A right password gets a token that expires in the future; a wrong one or an unknown user
    gets the same 401, and both outcomes are counted."""
    with trio.fail_after(TIMEOUT):
        await server.user("alice", "correct horse")
        ok = await server.call(
            "POST", "/api/login", json_body={"username": "ALICE", "password": "correct horse"}
        )
        assert ok.status == 200
        data = ok.json()
        assert isinstance(data["token"], str)
        assert data["expires_at"] > time.time() * 1000
        wrong = await server.call(
            "POST", "/api/login", json_body={"username": "alice", "password": "wrong horse"}
        )
        nobody = await server.call(
            "POST", "/api/login", json_body={"username": "nobody", "password": "wrong horse"}
        )
        for response in (wrong, nobody):
            assert response.status == 401
            assert response.headers["www-authenticate"] == "Bearer"
        assert wrong.json() == nobody.json()
        assert wrong.json()["code"] == "unauthenticated"
        metrics = server.app.metrics.render().decode()
        assert 'chatd_logins_total{result="ok"} 2.0' in metrics
        assert 'chatd_logins_total{result="failed"} 2.0' in metrics


async def test_me_needs_a_token(server: Server) -> None:
    """/api/me answers the user and rooms with a token, 401 with WWW-Authenticate without one
    or with a forged one."""
    with trio.fail_after(TIMEOUT):
        token = await server.user("alice")
        me = await server.call("GET", "/api/me", token=token)
        assert me.status == 200
        assert me.json()["user"]["name"] == "alice"
        assert me.json()["rooms"] == []
        for headers in ([], [("Authorization", "Basic YTpi")], [("Authorization", "Bearer")]):
            response = await server.call("GET", "/api/me", headers=headers)
            assert response.status == 401
            assert response.headers["www-authenticate"] == "Bearer"
            assert response.json()["code"] == "unauthenticated"
        forged = await server.call("GET", "/api/me", token=token[:-4] + "AAAA")
        assert forged.status == 401


async def test_logout_revokes(server: Server) -> None:
    """After a log-out the token no longer works; "everywhere" also ends the other tokens, and
    a log-in right after still works."""
    with trio.fail_after(TIMEOUT):
        token = await server.user("alice")
        response = await server.call("POST", "/api/logout", token=token)
        assert response.status == 200
        assert response.json() == {}
        assert (await server.call("GET", "/api/me", token=token)).status == 401

        creds = {"username": "alice", "password": "correct horse"}
        first = (await server.call("POST", "/api/login", json_body=creds)).json()["token"]
        second = (await server.call("POST", "/api/login", json_body=creds)).json()["token"]
        response = await server.call(
            "POST", "/api/logout", token=first, json_body={"everywhere": True}
        )
        assert response.status == 200
        assert (await server.call("GET", "/api/me", token=second)).status == 401
        third = (await server.call("POST", "/api/login", json_body=creds)).json()["token"]
        assert (await server.call("GET", "/api/me", token=third)).status == 200


# -- rooms and messages ----------------------------------------------------------------------


async def test_rooms_create_and_list(server: Server) -> None:
    """A created room is listed with its membership; a taken name is 409; a private room of
    someone else is not listed."""
    with trio.fail_after(TIMEOUT):
        alice = await server.user("alice")
        bob = await server.call(
            "POST", "/api/rooms", token=alice, json_body={"room": "General", "topic": "hi"}
        )
        assert bob.status == 201
        room = bob.json()["room"]
        assert room == {
            "room": "general", "kind": "room", "private": False, "topic": "hi",
            "owner": "alice", "last_seq": 0, "member": True, "read_seq": 0, "unread": 0,
            "mentions": 0, "notify": "mentions", "role": "owner", "archived": False,
            "favourite": False, "section": None,
        }
        taken = await server.call("POST", "/api/rooms", token=alice, json_body={"room": "general"})
        assert taken.status == 409
        secret = await server.call(
            "POST", "/api/rooms", token=alice, json_body={"room": "secret", "private": True}
        )
        assert secret.status == 201
        assert secret.json()["room"]["private"] is True

        bob_token = await server.user("bob")
        listed = (await server.call("GET", "/api/rooms", token=bob_token)).json()["rooms"]
        assert [(r["room"], r["member"]) for r in listed] == [("general", False)]
        listed = (await server.call("GET", "/api/rooms", token=alice)).json()["rooms"]
        assert [(r["room"], r["member"]) for r in listed] == [("general", True), ("secret", True)]
        me = (await server.call("GET", "/api/me", token=alice)).json()
        assert [r["room"] for r in me["rooms"]] == ["general", "secret"]


@pytest.mark.parametrize(
    "body",
    [
        {"room": "no spaces"},
        {"room": ""},
        {"room": "a" * 65},
        {"room": 7},
        {"room": "ok", "private": "yes"},
        {"room": "ok", "topic": 1},
        {"room": "ok", "topic": "t" * 300},
    ],
)
async def test_create_room_refuses_bad_fields(server: Server, body: dict[str, Any]) -> None:
    """Bad room names and wrongly typed fields are 400 bad_request."""
    with trio.fail_after(TIMEOUT):
        token = await server.user("alice")
        response = await server.call("POST", "/api/rooms", token=token, json_body=body)
        assert response.status == 400
        assert response.json()["code"] == "bad_request"


async def test_messages_paging(server: Server) -> None:
    """History pages are oldest first, cut by limit with "more", and page by before/after."""
    with trio.fail_after(TIMEOUT):
        token = await server.user("alice")
        await server.call("POST", "/api/rooms", token=token, json_body={"room": "general"})
        alice = await server.storage.get_credentials("alice")
        assert alice is not None
        batch = [
            NewMessage(user_id=alice.user.id, room="general", text=f"m{i}", nonce=f"n{i}")
            for i in range(1, 6)
        ]
        await server.storage.append_messages(batch)

        async def page(query: str) -> dict[str, Any]:
            response = await server.call("GET", f"/api/rooms/general/messages{query}", token=token)
            assert response.status == 200, response.body
            data: dict[str, Any] = response.json()
            return data

        latest = await page("?limit=2")
        assert latest["room"] == "general"
        assert [m["seq"] for m in latest["messages"]] == [4, 5]
        assert latest["more"] is True
        message = latest["messages"][1]
        assert message["text"] == "m5" and message["from"] == "alice"
        assert message["nonce"] == "n5" and message["room"] == "general"
        assert isinstance(message["msg_id"], int) and isinstance(message["ts"], int)
        older = await page("?before=4&limit=2")
        assert [m["seq"] for m in older["messages"]] == [2, 3]
        newer = await page("?after=3")
        assert [m["seq"] for m in newer["messages"]] == [4, 5]
        assert newer["more"] is False
        everything = await page("")
        assert [m["text"] for m in everything["messages"]] == ["m1", "m2", "m3", "m4", "m5"]


async def test_messages_paging_takes_every_seq_the_protocol_does(server: Server) -> None:
    """``before`` and ``after`` take any seq up to 2^63-1 over HTTP, as ``history`` does on
    the socket (the HTTP front refused numbers of more than 15 digits; found while
    describing the API); one past it is 400."""
    with trio.fail_after(TIMEOUT):
        token = await server.user("alice")
        await server.call("POST", "/api/rooms", token=token, json_body={"room": "general"})
        for query in (f"before={2**63 - 1}", f"after={2**63 - 1}", "before=0001"):
            response = await server.call("GET", f"/api/rooms/general/messages?{query}",
                                         token=token)
            assert response.status == 200, (query, response.body)
            assert response.json()["messages"] == []
        for query in (f"before={2**63}", f"after={10**19}", f"limit={'9' * 400}"):
            response = await server.call("GET", f"/api/rooms/general/messages?{query}",
                                         token=token)
            assert response.status == 400, (query, response.body)
            assert response.json()["code"] == "bad_request"


@pytest.mark.parametrize(
    ("target", "status", "code"),
    [
        ("/api/rooms/general/messages?before=3&after=1", 400, "bad_request"),
        ("/api/rooms/general/messages?limit=0", 400, "bad_request"),
        ("/api/rooms/general/messages?limit=101", 400, "bad_request"),
        ("/api/rooms/general/messages?before=x", 400, "bad_request"),
        ("/api/rooms/general/messages?before=1&before=2", 400, "bad_request"),
        ("/api/rooms/nosuchroom/messages", 404, "not_found"),
        ("/api/rooms/bad%20name/messages", 400, "bad_request"),
    ],
)
async def test_messages_refusals(server: Server, target: str, status: int, code: str) -> None:
    """Contradictory or out-of-range paging parameters and unknown rooms are refused."""
    with trio.fail_after(TIMEOUT):
        token = await server.user("alice")
        await server.call("POST", "/api/rooms", token=token, json_body={"room": "general"})
        response = await server.call("GET", target, token=token)
        assert response.status == status
        assert response.json()["code"] == code


async def test_private_history_is_forbidden(server: Server) -> None:
    """A private room's history is 403 for a user who is not a member."""
    with trio.fail_after(TIMEOUT):
        alice = await server.user("alice")
        await server.call(
            "POST", "/api/rooms", token=alice, json_body={"room": "secret", "private": True}
        )
        bob = await server.user("bob")
        response = await server.call("GET", "/api/rooms/secret/messages", token=bob)
        assert response.status == 403
        assert response.json()["code"] == "forbidden"


# -- operations ------------------------------------------------------------------------------


async def test_healthz_and_metrics(server: Server) -> None:
    """/healthz says ok after a database round trip; /metrics is Prometheus text that counts
    the requests answered."""
    with trio.fail_after(TIMEOUT):
        health = await server.call("GET", "/healthz")
        assert health.status == 200
        assert health.json() == {"status": "ok"}
        metrics = await server.call("GET", "/metrics")
        assert metrics.status == 200
        assert metrics.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
        assert b'chatd_http_requests_total{status="200"}' in metrics.body


async def test_healthz_when_database_fails(server: Server) -> None:
    """/healthz is 503 unavailable when the database does not answer."""
    with trio.fail_after(TIMEOUT):
        from chatd.storage.base import StorageUnavailable

        class Broken:
            async def ping(self) -> None:
                raise StorageUnavailable("down")

        server.app.storage = Broken()  # type: ignore[assignment]
        response = await server.call("GET", "/healthz")
        assert response.status == 503
        assert response.json()["code"] == "unavailable"


async def test_draining(server: Server) -> None:
    """While draining, requests get 503 shutting_down and the connection closes; /healthz says
    draining; a WebSocket upgrade is refused."""
    with trio.fail_after(TIMEOUT):
        token = await server.user("alice")
        server.app.draining = True
        me = await server.call("GET", "/api/me", token=token)
        assert me.status == 503
        assert me.json()["code"] == "shutting_down"
        assert me.headers["connection"] == "close"
        health = await server.call("GET", "/healthz")
        assert health.status == 503
        assert health.json() == {"status": "draining"}
        with pytest.raises(trio_websocket.ConnectionRejected) as rejected:
            async with trio_websocket.open_websocket_url(f"ws://127.0.0.1:{server.port}/ws"):
                pass
        assert rejected.value.status_code == 503


# -- static files ----------------------------------------------------------------------------


async def test_static_files_and_headers(server: Server) -> None:
    """/ is index.html and assets are served with their type, the CSP and caching headers; HEAD
    gives the same headers without a body."""
    with trio.fail_after(TIMEOUT):
        index = await server.call("GET", "/")
        assert index.status == 200
        assert index.body == INDEX_HTML
        assert index.headers["content-type"] == "text/html; charset=utf-8"
        assert index.headers["content-security-policy"] == CONTENT_SECURITY_POLICY.decode()
        assert index.headers["x-content-type-options"] == "nosniff"
        assert index.headers["referrer-policy"] == "no-referrer"
        assert index.headers["cache-control"] == "no-cache"
        assert index.headers["server"].startswith("chatd/")
        assert int(index.headers["content-length"]) == len(INDEX_HTML)
        expected = {
            "/app.js": ("text/javascript; charset=utf-8", APP_JS),
            "/style.css": ("text/css; charset=utf-8", STYLE_CSS),
            "/img/icon.svg": ("image/svg+xml", ICON_SVG),
        }
        for path, (content_type, body) in expected.items():
            response = await server.call("GET", path)
            assert response.status == 200
            assert response.headers["content-type"] == content_type
            assert response.headers["cache-control"] == "no-cache"
            assert response.body == body
            etag = response.headers["etag"]
            again = await server.call("GET", path, headers=[("If-None-Match", etag)])
            assert (again.status, again.body, again.headers["etag"]) == (304, b"", etag)
        head = await server.call("HEAD", "/app.js")
        assert head.status == 200
        assert head.body == b""
        assert int(head.headers["content-length"]) == len(APP_JS)


async def test_static_files_gzipped(server: Server) -> None:
    """Text files go gzipped to a client that accepts it, with a -gz ETag of their own and
    Vary: Accept-Encoding; each variant revalidates to a 304 only against its own ETag."""
    with trio.fail_after(TIMEOUT):
        server.app.config = server.app.config.replace(http={"web_root": ""})  # the real page
        gz = [("Accept-Encoding", "gzip, deflate, br")]
        plain = await server.call("GET", "/style.css")
        assert plain.status == 200 and "content-encoding" not in plain.headers
        assert plain.headers["vary"] == "accept-encoding"
        packed = await server.call("GET", "/style.css", headers=gz)
        assert packed.status == 200
        assert packed.headers["content-encoding"] == "gzip"
        assert packed.headers["vary"] == "accept-encoding"
        assert packed.headers["content-type"] == "text/css; charset=utf-8"
        assert packed.headers["etag"] == plain.headers["etag"][:-1] + '-gz"'
        assert int(packed.headers["content-length"]) == len(packed.body)
        assert gzip.decompress(packed.body) == plain.body
        assert len(packed.body) < len(plain.body) / 2
        # The same bytes the second time (compressed once, kept by ETag).
        assert (await server.call("GET", "/style.css", headers=gz)).body == packed.body

        def asking(etag: str, *more: tuple[str, str]) -> list[tuple[str, str]]:
            return [("If-None-Match", etag), *more]

        again = await server.call("GET", "/style.css", headers=asking(packed.headers["etag"], *gz))
        assert (again.status, again.body) == (304, b"")
        assert again.headers["etag"] == packed.headers["etag"]
        assert again.headers["content-encoding"] == "gzip"
        again = await server.call("GET", "/style.css", headers=asking(plain.headers["etag"]))
        assert (again.status, again.body, again.headers["etag"]) == (
            304, b"", plain.headers["etag"])
        # A validator of the other variant does not match.
        other = await server.call("GET", "/style.css", headers=asking(plain.headers["etag"], *gz))
        assert (other.status, other.body) == (200, packed.body)
        other = await server.call("GET", "/style.css", headers=asking(packed.headers["etag"]))
        assert (other.status, other.body) == (200, plain.body)

        head = await server.call("HEAD", "/app.js", headers=gz)
        js = await server.call("GET", "/app.js", headers=gz)
        assert head.status == 200 and head.body == b""
        assert head.headers["content-length"] == js.headers["content-length"]
        assert head.headers["content-encoding"] == "gzip"
        assert gzip.decompress(js.body) == (await server.call("GET", "/app.js")).body


@pytest.mark.parametrize(
    ("accept", "gzipped"),
    [
        ("gzip", True),
        ("GZIP;q=0.5, br", True),
        ("*", True),
        ("x-gzip", True),
        ("gzip;q=0", False),
        ("*;q=0.3, gzip;q=0", False),
        ("identity", False),
        ("deflate, br", False),
        ("", False),
    ],
)
async def test_static_accept_encoding(server: Server, accept: str, gzipped: bool) -> None:
    """Gzip is sent only when Accept-Encoding allows it (q above 0, or * for it)."""
    with trio.fail_after(TIMEOUT):
        server.app.config = server.app.config.replace(http={"web_root": ""})
        response = await server.call("GET", "/index.html", headers=[("Accept-Encoding", accept)])
        assert response.status == 200
        assert ("content-encoding" in response.headers) is gzipped
        assert response.body.startswith(b"\x1f\x8b") is gzipped


async def test_static_small_files_stay_plain(server: Server) -> None:
    """A file that gzip would not make smaller is sent as it is, still with Vary."""
    with trio.fail_after(TIMEOUT):
        response = await server.call("GET", "/img/icon.svg", headers=[("Accept-Encoding", "gzip")])
        assert response.status == 200 and response.body == ICON_SVG
        assert "content-encoding" not in response.headers
        assert response.headers["vary"] == "accept-encoding"
        assert not response.headers["etag"].endswith('-gz"')


@pytest.mark.parametrize(
    "target",
    [
        "/../setup.cfg",
        "/%2e%2e/setup.cfg",
        "/%2e%2e%2fsetup.cfg",
        "/img/..%2f..%2fsetup.cfg",
        "/.hidden",
        "/escape.txt",
        "/img/",
        "/nothing.js",
        "/img//icon.svg",
        "/%00",
    ],
)
async def test_static_traversal_refused(server: Server, target: str) -> None:
    """Paths that climb out of the web root, hidden files, symlinks out and missing files are
    4xx and never reveal a file outside the root."""
    with trio.fail_after(TIMEOUT):
        raw = await raw_exchange(
            server.port, f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
        )
        assert 400 <= status_of(raw) < 500
        assert SECRET not in raw


async def test_shipped_web_client(server: Server) -> None:
    """The shipped clients/web page loads its module script and stylesheet, none inline."""
    with trio.fail_after(TIMEOUT):
        server.app.config = server.app.config.replace(http={"web_root": ""})
        index = await server.call("GET", "/")
        assert index.status == 200
        assert b'<script type="module" src="app.js"></script>' in index.body
        assert b"<style" not in index.body and b"style=" not in index.body
        for asset in ("/app.js", "/style.css"):
            assert (await server.call("GET", asset)).status == 200


def _shell_in(worker: bytes, before: bytes) -> Any:
    """The JSON value the server wrote into a served sw.js, right after ``before``."""
    start = worker.index(before) + len(before)
    value, _ = json.JSONDecoder().raw_decode(worker[start:].decode())
    return value


async def test_service_worker_gets_the_shell_written_in(server: Server, web_root: Path,
                                                        tmp_path: Path) -> None:
    """sw.js is served with {version, files} in place of its placeholder: the page's files
    (no hidden file, nothing linked from outside, not sw.js), and a version that changes
    with any of them, so a changed page is a changed worker."""
    (web_root / "sw.js").write_bytes(b'const SHELL = "__CHATD_SHELL__";\n')
    (web_root / "notes.txt").write_bytes(b"not part of the shell")
    (tmp_path / "outside.js").write_bytes(SECRET)
    os.symlink(tmp_path / "outside.js", web_root / "linked.js")
    with trio.fail_after(TIMEOUT):
        first = await server.call("GET", "/sw.js")
        assert first.status == 200
        assert first.headers["content-type"] == "text/javascript; charset=utf-8"
        assert first.headers["cache-control"] == "no-cache"
        shell = _shell_in(first.body, b"const SHELL = ")
        assert shell["files"] == ["app.js", "img/icon.svg", "index.html", "style.css"]
        assert isinstance(shell["version"], str) and len(shell["version"]) == 24
        assert b"__CHATD_SHELL__" not in first.body
        again = await server.call("GET", "/sw.js", headers=[("If-None-Match",
                                                             first.headers["etag"])])
        assert again.status == 304, "unchanged page, unchanged worker"

        (web_root / "img" / "icon.svg").write_bytes(ICON_SVG + b"<!-- new -->")
        changed = await server.call("GET", "/sw.js", headers=[("If-None-Match",
                                                               first.headers["etag"])])
        assert changed.status == 200
        assert _shell_in(changed.body, b"const SHELL = ")["version"] != shell["version"]
        (web_root / "img" / "icon.svg").write_bytes(ICON_SVG)
        back = await server.call("GET", "/sw.js")
        assert back.body == first.body, "the version is the content's, not a time"

        (web_root / "img" / "extra.png").write_bytes(b"\x89PNG")
        added = _shell_in((await server.call("GET", "/sw.js")).body, b"const SHELL = ")
        assert "img/extra.png" in added["files"] and added["version"] != shell["version"]


async def test_shipped_worker_shell_and_manifest(server: Server) -> None:
    """The shipped page's worker lists files that are all served (the install fetches each
    one), the page itself among them; the manifest comes as application/manifest+json and
    its icons load with their type and size."""
    with trio.fail_after(TIMEOUT):
        server.app.config = server.app.config.replace(http={"web_root": ""})
        worker = await server.call("GET", "/sw.js")
        assert worker.status == 200
        shell = _shell_in(worker.body, b"readShell(")
        files = shell["files"]
        assert {"index.html", "app.js", "sw.js"} - set(files) == {"sw.js"}
        assert {"manifest.webmanifest", "icons/icon-192.png", "style.css"} <= set(files)
        assert "package.json" not in files
        for name in files:
            assert (await server.call("HEAD", f"/{name}")).status == 200, name

        manifest = await server.call("GET", "/manifest.webmanifest")
        assert manifest.status == 200
        assert manifest.headers["content-type"] == "application/manifest+json"
        info = json.loads(manifest.body)
        assert info["start_url"] == "/" and info["scope"] == "/"
        assert info["display"] == "standalone"
        purposes = set()
        for icon in info["icons"]:
            response = await server.call("GET", "/" + icon["src"])
            assert response.status == 200, icon
            assert response.headers["content-type"] == icon["type"], icon
            assert icon["src"] in files
            purposes.add(icon["purpose"])
            if icon["type"] == "image/png":
                with Image.open(io.BytesIO(response.body)) as image:
                    width, height = image.size
                assert icon["sizes"] == f"{width}x{height}", icon
        assert {"any", "maskable"} <= purposes
        sizes = {icon["sizes"] for icon in info["icons"]}
        assert {"192x192", "512x512", "any"} <= sizes

        index = (await server.call("GET", "/")).body
        assert b'<link rel="manifest" href="manifest.webmanifest">' in index


# -- protocol errors and limits --------------------------------------------------------------


async def test_unknown_path_and_wrong_method(server: Server) -> None:
    """An unknown API path is 404 not_found; a wrong method is 405 with an Allow header."""
    with trio.fail_after(TIMEOUT):
        missing = await server.call("GET", "/api/nothing")
        assert missing.status == 404
        assert missing.json()["code"] == "not_found"
        wrong = await server.call("GET", "/api/login")
        assert wrong.status == 405
        assert wrong.headers["allow"] == "POST"
        assert wrong.json()["code"] == "method_not_allowed"
        static = await server.call("DELETE", "/index.html")
        assert static.status == 405
        assert static.headers["allow"] == "GET, HEAD"


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"{not json", "application/json"),
        (b"[1, 2]", "application/json"),
        (b"\xff\xfe", "application/json"),
        (b'{"username": NaN}', "application/json"),
        (b"[" * 1500 + b"]" * 1500, "application/json"),
        (b'{"username": "a", "password": "correct horse"}', "text/plain"),
    ],
)
async def test_malformed_json(server: Server, body: bytes, content_type: str) -> None:
    """A body that is not a JSON object (or not declared as JSON) is 400 bad_request."""
    with trio.fail_after(TIMEOUT):
        response = await server.call(
            "POST", "/api/register", body=body, headers=[("Content-Type", content_type)]
        )
        assert response.status == 400
        assert response.json()["code"] == "bad_request"


async def test_oversize_body(server: Server) -> None:
    """A body over http.max_body_bytes is 413 too_large, with or without Content-Length, and
    the client reads the answer rather than a reset."""
    with trio.fail_after(TIMEOUT):
        big = b'{"username": "' + b"a" * 8000 + b'"}'
        raw = await raw_exchange(
            server.port,
            b"POST /api/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(big), big),
        )
        assert status_of(raw) == 413
        assert body_of(raw)["code"] == "too_large"
        chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(big), big)
        raw = await raw_exchange(
            server.port,
            b"POST /api/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n" + chunked,
        )
        assert status_of(raw) == 413


async def test_oversize_header(server: Server) -> None:
    """A request head over http.max_header_bytes is refused with a 4xx and the connection
    closed."""
    with trio.fail_after(TIMEOUT):
        raw = await raw_exchange(
            server.port, b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 8000 + b"\r\n\r\n"
        )
        assert status_of(raw) == 431
        assert body_of(raw)["code"] == "too_large"
        # The same head arriving in pieces is answered as soon as it is too long, before
        # it is complete. Each piece is read on its own (the server, in this trio run,
        # waits for more before the next one is sent), and none is sent after the answer.
        stream = await trio.open_tcp_stream("127.0.0.1", server.port)
        received = bytearray()
        pieces = 0
        async with stream, trio.open_nursery() as nursery:

            async def read_answer() -> None:
                while chunk := await stream.receive_some(65536):
                    received.extend(chunk)
                nursery.cancel_scope.cancel()  # answered and closed: stop sending

            nursery.start_soon(read_answer)
            await stream.send_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: ")
            for _ in range(8):
                await trio.testing.wait_all_tasks_blocked()
                await stream.send_all(b"a" * 1000)
                pieces += 1
        assert status_of(bytes(received)) == 431
        assert pieces < 8, "the server waited for more than max_header_bytes"


async def test_garbage_request(server: Server) -> None:
    """Bytes that are not HTTP get a 400 and a closed connection, and the server goes on."""
    with trio.fail_after(TIMEOUT):
        raw = await raw_exchange(server.port, b"\x16\x03\x01 hello there\r\n\r\n")
        assert status_of(raw) == 400
        assert (await server.call("GET", "/healthz")).status == 200


async def test_slow_request_times_out(server: Server) -> None:
    """A client that sends half a request head is answered 408 after http.request_timeout."""
    with trio.fail_after(TIMEOUT):
        stream = await trio.open_tcp_stream("127.0.0.1", server.port)
        async with stream:
            await stream.send_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
            received = bytearray()
            while chunk := await stream.receive_some(65536):
                received += chunk
        assert status_of(bytes(received)) == 408


async def test_keep_alive(server: Server) -> None:
    """Two requests on one connection are both answered, and pipelined ones in order."""
    with trio.fail_after(TIMEOUT):
        client = await Client.open(server.port)
        try:
            first = await client.request("GET", "/healthz")
            second = await client.request("GET", "/app.js")
            assert (first.status, second.status) == (200, 200)
            assert second.body == APP_JS
        finally:
            await client.aclose()
        raw = await raw_exchange(
            server.port,
            b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /style.css HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        assert raw.count(b"HTTP/1.1 200 OK") == 2
        assert raw.endswith(STYLE_CSS)


# -- WebSocket -------------------------------------------------------------------------------


async def test_websocket_upgrade_on_same_port(server: Server) -> None:
    """GET /ws with Upgrade: websocket reaches on_websocket on the HTTP port; the socket closes
    when the session returns."""
    with trio.fail_after(TIMEOUT):
        url = f"ws://127.0.0.1:{server.port}/ws"
        async with trio_websocket.open_websocket_url(url) as ws:
            await ws.send_message('{"op":"ping","id":1}\n')
            assert await ws.get_message() == '{"op":"ping","id":1}\n'
            await ws.send_message("x" * 1000)
            assert await ws.get_message() == "x" * 1000
            await ws.send_message("bye\n")
            with pytest.raises(trio_websocket.ConnectionClosed):
                await ws.get_message()
        assert server.ws_remotes == ["127.0.0.1:test"]
        metrics = server.app.metrics.render()
        assert b'chatd_http_requests_total{status="101"} 1.0' in metrics


async def test_websocket_frame_limit(server: Server) -> None:
    """A WebSocket message over limits.max_frame_bytes closes the connection (1009)."""
    with trio.fail_after(TIMEOUT):
        url = f"ws://127.0.0.1:{server.port}/ws"
        limit = server.app.config.limits.max_frame_bytes
        async with trio_websocket.open_websocket_url(url) as ws:
            await ws.send_message("x" * (limit + 1))
            with pytest.raises(trio_websocket.ConnectionClosed) as closed:
                await ws.get_message()
            reason = closed.value.reason
            assert reason is not None and reason.code == 1009


async def test_ws_path_without_upgrade(server: Server) -> None:
    """A plain GET /ws is 400, and an upgrade on another path is an ordinary request."""
    with trio.fail_after(TIMEOUT):
        plain = await server.call("GET", "/ws")
        assert plain.status == 400
        raw = await raw_exchange(
            server.port,
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        )
        assert status_of(raw) == 200
        raw = await raw_exchange(
            server.port,
            b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n\r\n",
        )
        assert status_of(raw) == 400


# -- text that cannot be stored, and registration floods (issue 12) --------------------------


@pytest.mark.parametrize("password", ["correct\u0000horse", "correct horse\ud800",
                                      "\udc80correct horse"], ids=repr)
async def test_passwords_that_are_not_text_are_400(server: Server, password: str) -> None:
    """A lone surrogate or U+0000 in a password is 400 bad_request at registration and at
    log-in (a lone surrogate was once a 500), for a known and an unknown user alike."""
    with trio.fail_after(TIMEOUT):
        await server.user("alice")
        for path, name in (("/api/register", "bob"), ("/api/login", "alice"),
                           ("/api/login", "nobody")):
            response = await server.call("POST", path,
                                         json_body={"username": name, "password": password})
            assert (response.status, response.json()["code"]) == (400, "bad_request"), path
        assert await server.storage.get_credentials("bob") is None


@pytest.mark.parametrize("topic", ["a\u0000b", "\u0000", "\ud800", "news\udfff"], ids=repr)
async def test_topic_that_is_not_text_is_400(server: Server, topic: str) -> None:
    """POST /api/rooms with a topic holding U+0000 or a lone surrogate is 400 bad_request
    (once a 503: the database refused the row), and creates no room."""
    with trio.fail_after(TIMEOUT):
        alice = await server.user("alice")
        response = await server.call("POST", "/api/rooms", token=alice,
                                     json_body={"room": "news", "topic": topic})
        assert (response.status, response.json()["code"]) == (400, "bad_request")
        created = await server.call("POST", "/api/rooms", token=alice,
                                    json_body={"room": "news", "topic": "fine"})
        assert created.status == 201, created.body


async def test_registration_flood_from_one_address_is_429(server: Server) -> None:
    """Concurrent registrations from one address past auth.registrations_per_ip are 429
    rate_limited with Retry-After, and only the allowed ones create accounts."""
    burst = server.app.config.auth.registrations_per_ip
    statuses: list[tuple[int, str | None]] = []

    async def register(i: int) -> None:
        response = await server.call(
            "POST", "/api/register", json_body={"username": f"flood{i}",
                                                "password": "correct horse"})
        code = response.json().get("code") if response.status != 201 else None
        if response.status == 429:
            assert int(response.headers["retry-after"]) >= 1
        statuses.append((response.status, code))

    with trio.fail_after(TIMEOUT * 3):
        async with trio.open_nursery() as nursery:
            for i in range(burst + 15):
                nursery.start_soon(register, i)
        assert sorted(statuses, key=str) == sorted(
            [(201, None)] * burst + [(429, "rate_limited")] * 15, key=str)
        created = [i for i in range(burst + 15)
                   if await server.storage.get_credentials(f"flood{i}") is not None]
        assert len(created) == burst

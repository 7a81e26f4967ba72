"""schemathesis against a real daemon: every operation of the OpenAPI description
(:mod:`chatd.http.openapi`), with requests generated from it, answered without a 5xx and as
described, and the daemon still healthy afterwards.

The daemon is ``python -m chatd serve`` on 127.0.0.1 (free ports) against a fresh database of
the session's PostgreSQL, started once for the module. A scene is set first, so that the
description's examples name things that exist: users ``ann`` (a server administrator,
whose token the Bearer operations send), ``bob`` and ``cid`` (members of ``general``), ``dan``
and ``zed`` (for the moderation and admin examples), the public room ``general`` with
messages, an edit, a reaction, a pin, a deletion, a topic, a message that the search example finds,
two polls in the conversation ``@ann:bob`` (msg_ids 8 and 9, for the vote and close-poll examples),
the message with the image in that conversation (msg_id 2, which the forward example forwards),
a message the deletion example deletes (msg_id 3), and an image (file 1, with a thumbnail),
and the conversation ``@ann:bob``; and two rooms of their own for the operations that would
spoil the scene: ``attic``, which the archiving example archives (and every ``PUT
/api/rooms/{room}/archived`` toggles), and ``scrap``, with a message, which the example of
``DELETE /api/admin/rooms/{room}`` deletes (later ones find it gone: 404).

The answers are checked against the document built with ``closed=True``: an object with a
field the description does not list fails. Checks: no 5xx, the status, content type,
headers and body as described, the server refusing what the description says is invalid
(``negative_data_rejection``), and a described operation refusing a request without its
token (``ignored_auth``). ``positive_data_acceptance`` is left out: some rules cannot be put
in a JSON Schema (a conversation's two names must be in order, ``@ann:bob`` not
``@bob:ann``), so a request the schema allows may rightly be refused.

Deterministic: a fixed seed, derandomized generation, no example database, a bounded number of
examples per operation, and a fresh database; the daemon is only reached on 127.0.0.1 (no
push endpoint or host name is ever resolved: see :func:`_local_endpoint`). About 30 s on
2 cores busy with other work (marked ``api_fuzz``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.core.result import Ok

from chatd.config import Config
from chatd.emails import UNSUBSCRIBE_LABEL, unsubscribe_token
from chatd.http.openapi import EXAMPLE_AVATAR, build_document
from tests.cheapkdf import CHATD, child_env
from tests.conftest import _with_database, execute_sql
from tests.images import encode, picture
from tests.smtpserver import Inbox, start_smtp

pytestmark = pytest.mark.api_fuzz

PASSWORD = "correct horse"  # the description's example: its log-in succeeds
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0

#: The daemon's settings besides the defaults: as environment variables for it, and as a
#: Config for the description (which states some of them).
SETTINGS: dict[str, dict[str, Any]] = {
    # Subscriptions are stored for endpoints on 127.0.0.1 (see _local_endpoint).
    "push": {"allow_private_endpoints": True},
    # Each POST /api/logout logs in first, for a token of its own to revoke.
    "auth": {"login_attempts_per_ip": 100000},
    # Outgoing webhooks are set to 127.0.0.1 (see _local_url).
    "webhooks": {"allow_private_endpoints": True},
    # The scene makes ann an export (for GET /api/me/export and its download); POST
    # /api/me/export must then still succeed (202; 409 while one runs).
    "limits": {"exports_per_hour": 1000},
}
CONFIG = Config().replace(**SETTINGS)

#: The secret of the description's example of POST /api/hooks/{secret}: posts with it go to
#: the scene's webhook instead.
EXAMPLE_HOOK_SECRET = build_document(CONFIG)["paths"]["/api/hooks/{secret}"]["post"][
    "parameters"][0]["example"]
#: bob's picture, which the example of GET /api/avatars/{sha256} loads.
AVATAR_IMAGE = encode(picture(80, 60), "PNG")
#: The custom emoji of the scene: :partyparrot: (which the example of DELETE
#: /api/emoji/{name} removes) and :keep: (whose picture the example of GET
#: /api/emoji/images/{sha256} loads).
EMOJI_IMAGES = {"partyparrot": encode(picture(40, 40), "PNG"),
                "keep": encode(picture(50, 30), "PNG")}
#: The token of the description's examples of the email links: calls with it go to the
#: scene's real links instead (EMAIL_LINKS).
EXAMPLE_EMAIL_TOKENS = {
    build_document(CONFIG)["paths"][path][method]["parameters"][0]["example"]
    for path, method in (("/api/email/confirm/{token}", "get"),
                         ("/api/email/unsubscribe/{token}", "get"),
                         ("/api/password-reset/{token}", "post"))}
#: The scene's email links by path: sam's confirmation link (unopened), ray's password reset
#: link, ray's unsubscribe link (ray has a confirmed address).
EMAIL_LINKS: dict[str, str] = {}
#: The token of the examples of the email routes that take it in the body, and the scene's
#: real ones by path: una's confirmation link (unopened), ray's second reset link.
EXAMPLE_BODY_TOKEN = build_document(CONFIG)["paths"]["/api/email/confirm"]["post"][
    "requestBody"]["content"]["application/json"]["example"]["token"]
EMAIL_BODY_TOKENS: dict[str, str] = {}
#: Examples per operation in the fuzzing phase (the examples and coverage phases add theirs).
MAX_EXAMPLES = 60
SEED = 20261205

SCHEMA = schemathesis.openapi.from_dict(
    build_document(CONFIG, closed=True),
    config=SchemathesisConfig.from_dict({
        "seed": SEED,
        "suppress-health-check": ["too_slow", "filter_too_much", "data_too_large"],
        # Unknown query parameters are ignored, as unknown fields are: not invalid.
        "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True,
                       "database": "none", "allow-extra-parameters": False},
        "phases": {"stateful": {"enabled": False}},
        # Each log-in hashes a password (argon2id, cheap in tests but still the slowest
        # request): fewer there.
        "operations": [{"include-path-regex": "^/api/(login|logout|register)$",
                        "generation": {"max-examples": 20}}],
        "checks": {
            "positive_data_acceptance": {"enabled": False},
            # 101: /ws switched to a WebSocket, which is no server error.
            "not_a_server_error": {"expected-statuses": ["101", "2xx", "3xx", "4xx"]},
            # An invalid body that is also over the body limit is refused 413 before it is
            # read: refused all the same (schemathesis' list, with 413 added; generated
            # data shifts with every string the document holds, and one such body came).
            "negative_data_rejection": {"expected-statuses": [
                "400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428",
                "429", "5xx"]},
        },
    }),
)


def _environment(settings: dict[str, dict[str, Any]]) -> dict[str, str]:
    env = {}
    for section, values in settings.items():
        for key, value in values.items():
            text = str(value).lower() if isinstance(value, bool) else str(value)
            env[f"CHATD_{section.upper()}_{key.upper()}"] = text
    return env


@dataclass
class Api:
    """The daemon under test, and what the scene made."""

    url: str
    tcp_port: int
    token: str
    hook_secret: str
    avatar: str
    emoji: str
    proc: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _wait_ready(ready: socket.socket, proc: subprocess.Popen[bytes]) -> tuple[int, int]:
    """The daemon's (http, tcp) ports once it says READY=1; fails if it exits first."""
    exited = os.pidfd_open(proc.pid)
    try:
        while True:
            readable, _, _ = select.select([ready.fileno(), exited], [], [], START_TIMEOUT)
            assert readable, f"chatd neither got ready nor exited in {START_TIMEOUT} s"
            assert exited not in readable, f"chatd exited with {proc.wait()}"
            lines = ready.recv(4096).decode().splitlines()
            fields = dict(line.split("=", 1) for line in lines if "=" in line)
            if fields.get("READY") == "1":
                found = re.search(r"http port (\d+), tcp port (\d+)", fields.get("STATUS", ""))
                assert found, fields
                return int(found[1]), int(found[2])
    finally:
        os.close(exited)


def _call(url: str, method: str, path: str, body: Any = None, token: str | None = None,
          **kwargs: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.request(method, url + path, json=body, headers=headers, timeout=30,
                            **kwargs)


def _login(url: str, name: str) -> str:
    answer = _call(url, "POST", "/api/login", {"username": name, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    token = answer.json()["token"]
    assert isinstance(token, str)
    return token


class _Line:
    """A blocking NDJSON client on the TCP port, for the requests HTTP does not offer."""

    def __init__(self, port: int, token: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.buffer = b""
        self.next_id = 0
        assert self.request("hello", token=token)["op"] == "welcome"

    def request(self, op: str, **fields: Any) -> dict[str, Any]:
        self.next_id += 1
        self.sock.sendall(json.dumps({"op": op, "id": self.next_id, **fields}).encode()
                          + b"\n")
        while True:
            while b"\n" not in self.buffer:
                chunk = self.sock.recv(65536)
                assert chunk, "the server closed the connection"
                self.buffer += chunk
            line, self.buffer = self.buffer.split(b"\n", 1)
            frame: dict[str, Any] = json.loads(line)
            if frame.get("id") == self.next_id:
                assert frame["op"] != "error", frame
                return frame

    def close(self) -> None:
        self.sock.close()


def _set_scene(url: str, tcp_port: int) -> tuple[str, str, str, str]:
    """The users, rooms, messages, changes, file, bot and webhooks the description's
    examples name; ann's token, the secret of an incoming webhook to post to, and the
    SHA-256 of bob's picture (ann's own may be removed by the examples), and of the picture
    of bob's custom emoji :keep:."""
    for name in ("ann", "bob", "cid", "dan", "zed"):
        answer = _call(url, "POST", "/api/register", {"username": name, "password": PASSWORD})
        assert answer.status_code == 201, answer.text
    token = _login(url, "ann")
    for room in ("general", "attic", "scrap"):
        answer = _call(url, "POST", "/api/rooms", {"room": room}, token)
        assert answer.status_code == 201, answer.text
    for name in ("bob", "cid"):  # the members the role and kick examples name
        member = _Line(tcp_port, _login(url, name))
        try:
            member.request("join", room="general")
        finally:
            member.close()
    line = _Line(tcp_port, token)
    try:
        # The examples' file, attached to a message of the conversation @ann:bob: an
        # administrator moderates rooms, not conversations, so that DELETE
        # /api/rooms/{room}/messages/{msg_id} with generated ids never deletes it.
        line.request("dm", to="bob", text="lunch?", nonce="n4")
        image = encode(picture(64, 48), "PNG")
        answer = requests.post(url + "/api/rooms/@ann:bob/files", timeout=30,
                               headers={"Authorization": f"Bearer {token}"},
                               files={"file": ("photo.png", image, "image/png")})
        assert answer.status_code == 201, answer.text
        assert answer.json()["file"]["id"] == 1  # the examples' file
        photo = line.request("dm", to="bob", text="the photo", nonce="n0", files=[1])
        assert photo["msg_id"] == 2, photo  # the example of POST .../{msg_id}/forward
        first = line.request("send", room="general", text="hi @bob", nonce="n1")
        second = line.request("send", room="general", text="to delete", nonce="n2",
                              reply_to=first["msg_id"])
        line.request("edit", room="general", msg_id=first["msg_id"], text="hi all")
        line.request("react", room="general", msg_id=first["msg_id"], emoji="👍")
        line.request("pin", room="general", msg_id=first["msg_id"])
        line.request("delete", room="general", msg_id=second["msg_id"])
        third = line.request("send", room="general", text="re", nonce="n3",
                             reply_to=second["msg_id"])
        assert third["msg_id"] == 5  # the example of DELETE .../messages/{msg_id}
        line.request("send", room="general", text="the deployment is done", nonce="n5")
        line.request("set_topic", room="general", topic="release on Friday")
        line.request("add_contact", user="bob")
        line.request("send", room="scrap", text="soon gone", nonce="n6")
        # The user group the examples of /api/groups/{name} name (the DELETE's deletes it).
        line.request("create_user_group", name="backend", members=["bob", "cid"])
        # The polls the examples of PUT .../vote and POST .../close-poll name (8 and 9), in
        # the conversation, where no example deletes a message.
        for nonce in ("n7", "n8"):
            poll = line.request("dm", to="bob", text="lunch when?", nonce=nonce,
                                poll={"options": ["noon", "one"]})
        assert poll["msg_id"] == 9, poll
    finally:
        line.close()
    answer = requests.put(url + "/api/me/avatar", timeout=30,
                          headers={"Authorization": f"Bearer {_login(url, 'bob')}"},
                          files={"file": ("bob.png", AVATAR_IMAGE, "image/png")})
    assert answer.status_code == 200, answer.text
    avatar = answer.json()["avatar"]["url"].rsplit("/", 1)[1]
    for name, image in EMOJI_IMAGES.items():
        answer = requests.post(url + "/api/emoji", timeout=30,
                               headers={"Authorization": f"Bearer {_login(url, 'bob')}"},
                               data={"name": name},
                               files={"file": (f"{name}.png", image, "image/png")})
        assert answer.status_code == 201, answer.text
    emoji = answer.json()["emoji"]["url"].rsplit("/", 1)[1]
    # pia, whom no example names: the first PUT and DELETE /api/me/avatar are hers, since
    # ann's profile changes may be used up (ten at once) by then.
    answer = _call(url, "POST", "/api/register", {"username": "pia", "password": PASSWORD})
    assert answer.status_code == 201, answer.text
    # The bot buildbot (token 1), the incoming webhook 1 (which the example of
    # DELETE /api/rooms/{room}/hooks/{id} deletes) and 2 (which the posts go to), and an
    # outgoing webhook of general (to a port on 127.0.0.1 where nothing listens).
    answer = _call(url, "POST", "/api/bots", {"name": "buildbot"}, token)
    assert answer.status_code == 201, answer.text
    secrets = []
    for _ in range(2):
        answer = _call(url, "POST", "/api/rooms/general/hooks", {"bot": "buildbot"}, token)
        assert answer.status_code == 201, answer.text
        secrets.append(answer.json()["url"].rsplit("/", 1)[1])
    answer = _call(url, "PUT", "/api/rooms/general/webhook",
                   {"url": _local_url({"url": "https://ci.example.net/chatd"})["url"]}, token)
    assert answer.status_code == 200, answer.text
    # ann's export, ready: what GET /api/me/export and its download answer with (test_api).
    answer = _call(url, "POST", "/api/me/export", None, token)
    assert answer.status_code == 202, answer.text
    deadline = time.monotonic() + 60
    while _call(url, "GET", "/api/me/export", None, token).json()["export"]["state"] \
            == "running":
        assert time.monotonic() < deadline, "ann's export was not made"
        time.sleep(0.05)  # (asked again: the state is waited for, not time)
    # pia's own room, which no example names: where her scheduled messages go (test_api).
    # Made last, so that the ids of everything the examples name stay as they were.
    pia = _login(url, "pia")
    answer = _call(url, "POST", "/api/rooms", {"room": "pia-notes"}, pia)
    assert answer.status_code == 201, answer.text
    for method in ("PATCH", "DELETE"):  # an item for each route of one (test_api)
        answer = _call(url, "POST", "/api/me/scheduled",
                       {"room": "pia-notes", "text": "later",
                        "send_at": int(time.time() * 1000) + 3600_000}, pia)
        assert answer.status_code == 201, answer.text
        PIA_ITEMS[method] = answer.json()["item"]["item"]
    return token, secrets[1], avatar, emoji


def _email_scene(url: str, inbox: Inbox, data_dir: Path) -> None:
    """ray with a confirmed address and a password reset link, sam with an address whose
    confirmation link is kept for its example, and ray's unsubscribe link (EMAIL_LINKS);
    una's confirmation token and ray's second reset token for the routes that take the
    token in the body (EMAIL_BODY_TOKENS)."""
    for name in ("ray", "sam", "una"):
        answer = _call(url, "POST", "/api/register", {"username": name, "password": PASSWORD})
        assert answer.status_code == 201, answer.text
        answer = _call(url, "PUT", "/api/me/email", {"email": f"{name}@example.org"},
                       _login(url, name))
        assert answer.status_code == 202, answer.text
    mails = inbox.wait_for_sync(3)

    def token_in(mail: Any, marker: str) -> str:
        text = mail.get_body(preferencelist=("plain",)).get_content()
        return str(next(word for word in text.split() if marker in word).rpartition(marker)[2])

    by_to = {mail["To"]: mail for mail in mails}
    answer = _call(url, "POST", "/api/email/confirm",
                   {"token": token_in(by_to["ray@example.org"], "#confirm-email=")})
    assert answer.status_code == 200, answer.text
    EMAIL_LINKS["/api/email/confirm/{token}"] = token_in(by_to["sam@example.org"],
                                                         "#confirm-email=")
    EMAIL_BODY_TOKENS["/api/email/confirm"] = token_in(by_to["una@example.org"],
                                                       "#confirm-email=")
    for number, path in ((4, "/api/password-reset/{token}"),
                         (5, "/api/password-reset/complete")):
        answer = _call(url, "POST", "/api/password-reset", {"user": "ray"})
        assert answer.status_code == 202, answer.text
        token = token_in(inbox.wait_for_sync(number)[-1], "#reset=")
        (EMAIL_BODY_TOKENS if path.endswith("complete") else EMAIL_LINKS)[path] = token
    ray = _call(url, "GET", "/api/me", token=_login(url, "ray")).json()["user"]["id"]
    secret = (data_dir / "jwt_secret").read_bytes()
    key = hmac.new(secret, UNSUBSCRIBE_LABEL, hashlib.sha256).digest()
    EMAIL_LINKS["/api/email/unsubscribe/{token}"] = unsubscribe_token(key, ray)


#: pia's scheduled items, made by the scene: the one PATCH and the one DELETE of
#: /api/me/scheduled/{item} change and cancel until one succeeds.
PIA_ITEMS: dict[str, int] = {}


@pytest.fixture(scope="module")
def api(pg_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """A ``chatd serve`` on a fresh database, with the scene set; stopped after the module
    (it must still be healthy, and stop cleanly on SIGTERM)."""
    workdir = tmp_path_factory.mktemp("schemathesis")
    database = f"chatd_test_{uuid.uuid4().hex[:12]}"
    execute_sql(pg_server, f'CREATE DATABASE "{database}"')
    log_path = workdir / "daemon.log"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("CHATD_") and k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC")}
    env.update(_environment(SETTINGS))
    inbox, stop_smtp = start_smtp()  # the email routes mail through it
    env.update({"CHATD_EMAIL_SMTP_HOST": "127.0.0.1", "CHATD_EMAIL_SMTP_PORT": str(inbox.port),
                "CHATD_EMAIL_SECURITY": "none", "CHATD_EMAIL_FROM": "chatd <c@example.org>"})
    env.update({
        "CHATD_SERVER_DATA_DIR": str(workdir / "data"),
        "CHATD_DATABASE_DSN": _with_database(pg_server, database),
        "CHATD_HTTP_PORT": "0", "CHATD_TCP_PORT": "0",
    })
    proc: subprocess.Popen[bytes] | None = None
    # Open while the daemon runs: it tells it when it stops, too.
    ready = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
    try:
        name = f"chatd-test-{uuid.uuid4().hex}"
        ready.bind("\0" + name)
        env["NOTIFY_SOCKET"] = "@" + name
        with log_path.open("wb") as log:
            # chatd's command line, hashing passwords cheaply (tests/cheapkdf.py).
            proc = subprocess.Popen([*CHATD, "serve"], cwd=workdir, env=child_env(env),
                                    stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        http_port, tcp_port = _wait_ready(ready, proc)
        url = f"http://127.0.0.1:{http_port}"
        token, hook_secret, avatar, emoji = _set_scene(url, tcp_port)
        _email_scene(url, inbox, workdir / "data")
        # ann is a server administrator, made so as an operator does: the admin examples.
        made = subprocess.run([sys.executable, "-m", "chatd", "user", "admin", "ann"],
                              cwd=workdir, env=env, capture_output=True, timeout=60)
        assert made.returncode == 0, made.stderr
        # invitation 1, which the example of DELETE /api/invitations/{id} revokes.
        made = subprocess.run([sys.executable, "-m", "chatd", "invite", "create"],
                              cwd=workdir, env=env, capture_output=True, timeout=60)
        assert made.returncode == 0, made.stderr
        yield Api(url, tcp_port, token, hook_secret, avatar, emoji, proc, log_path)
        assert proc.poll() is None, f"chatd exited:\n{log_path.read_text()}"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(STOP_TIMEOUT) == 0, log_path.read_text()
    finally:
        ready.close()
        stop_smtp()
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        print(f"--- chatd log ---\n{log_path.read_text(errors='replace')[-20000:]}")
        execute_sql(pg_server, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def _local_url(body: Any, field: str = "url") -> Any:
    """A body whose URL ``field`` (a push subscription's endpoint, an outgoing webhook's
    url) has its host name replaced by 127.0.0.1 (and the port by one where nothing
    listens), so that the daemon never resolves a name nor reaches past this machine. Only
    a valid URL (the description's example) gets that far; an IP address is kept."""
    if not isinstance(body, dict) or not isinstance(body.get(field), str):
        return body
    try:
        parts = urllib.parse.urlsplit(body[field])
        host = parts.hostname
    except ValueError:
        return body
    if not host or re.fullmatch(r"[0-9.]+|.*:.*", host):
        return body
    netloc = f"127.0.0.1:{_CLOSED_PORT}"
    return {**body, field: urllib.parse.urlunsplit(parts._replace(netloc=netloc))}


def _closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


_CLOSED_PORT = _closed_port()


def _positive(case: schemathesis.Case[Any]) -> bool:
    """Whether ``case`` is one the description calls valid: only those may have their body
    made good (a time ahead, a free name) by the workarounds below; a negative case made
    good would be accepted, and schemathesis would rightly call that a failure."""
    meta = case.meta
    return meta is None or not meta.generation.mode.is_negative


@SCHEMA.parametrize()
def test_api(case: schemathesis.Case[Any], api: Api) -> None:
    """Every operation answers generated requests without a 5xx, with the status, headers
    and body its description gives, and refuses what the description calls invalid."""
    token = api.token
    path = case.operation.path
    if path == "/api/logout":
        token = _login(api.url, "bob")  # a token of its own to revoke (everywhere: bob's)
    if path == "/api/push/subscriptions":
        case.body = _local_url(case.body, "endpoint")
    if path == "/api/rooms/{room}/webhook":
        case.body = _local_url(case.body)
    if path == "/api/hooks/{secret}" and case.path_parameters is not None \
            and case.path_parameters.get("secret") == EXAMPLE_HOOK_SECRET:
        case.path_parameters["secret"] = api.hook_secret  # the example posts for real
    if path == "/api/avatars/{sha256}" and case.path_parameters is not None \
            and case.path_parameters.get("sha256") == EXAMPLE_AVATAR:
        case.path_parameters["sha256"] = api.avatar  # bob's picture, which is never removed
    if path == "/api/emoji/images/{sha256}" and case.path_parameters is not None \
            and case.path_parameters.get("sha256") == EXAMPLE_AVATAR:
        case.path_parameters["sha256"] = api.emoji  # :keep:'s picture, never removed
    if path == "/api/emoji" and case.method == "POST" and not any(
            status < 400 for status in ANSWERED.get(case.operation.label, ())):
        # Until one succeeds (schemathesis makes a PNG of its own for the binary part, and a
        # name of the described pattern): pia's uploads are not used up.
        token = _login(api.url, "pia")
    if path == "/api/me/avatar" and not any(
            status < 400 for status in ANSWERED.get(case.operation.label, ())):
        # Until one succeeds (schemathesis makes a PNG of its own for the binary part):
        # pia's changes are not used up.
        token = _login(api.url, "pia")
    if path == "/api/rooms/{room}/hidden" and case.path_parameters is not None and not any(
            status < 400 for status in ANSWERED.get(case.operation.label, ())):
        # Until one succeeds: the rooms' example is a room, which is no conversation to
        # close; ann's conversation with bob is (the scene's dm).
        case.path_parameters["room"] = "@ann:bob"
    if path == "/api/me/saved/{room}/{msg_id}" and case.method == "DELETE" and not any(
            status < 400 for status in ANSWERED.get(case.operation.label, ())):
        # Until one succeeds: the PUTs before used up the user's saves (a per-user bucket).
        token = _login(api.url, "cid")
    if path == "/api/me/threads/{room}/{msg_id}/read" and not any(
            status < 400 for status in ANSWERED.get(case.operation.label, ())):
        # Until one succeeds: the follows before may have used up ann's thread changes (a
        # per-user bucket), how far depends on the machine's speed. cid is in general (the
        # kick example, which removes him, comes later).
        token = _login(api.url, "cid")
    if ((path == "/api/me/scheduled" and case.method == "POST")
            or (path == "/api/me/scheduled/{item}" and case.method in PIA_ITEMS)) and not any(
            status < 400 for status in ANSWERED.get(case.operation.label, ())) \
            and _positive(case):
        # Until one succeeds, as pia: a time ahead (the example's is fixed, so past) and,
        # for a change or a cancellation, an item of hers the scene made (the example's id
        # is nobody's).
        token = _login(api.url, "pia")
        if case.method == "POST":
            ahead = int(time.time() * 1000) + 3600_000
            body = case.body if isinstance(case.body, dict) else {}
            case.body = {**body, "room": "pia-notes", "send_at": ahead}
        elif case.path_parameters is not None:
            case.path_parameters["item"] = PIA_ITEMS[case.method]
            if case.method == "PATCH":
                case.body = {"text": "changed"}  # not sent now: it stays hers to change
    if path == "/api/me/reminders" and not any(
            status < 400 for status in ANSWERED.get(case.operation.label, ())) \
            and _positive(case):
        # Until one succeeds: the example's remind_at (fixed) is past by now.
        body = case.body if isinstance(case.body, dict) else {}
        case.body = {**body, "text": "call the bank", "nonce": "r-schemathesis",
                     "remind_at": int(time.time() * 1000) + 3600_000}
    if path == "/api/groups" and case.method == "POST" and not any(
            status < 400 for status in ANSWERED.get(case.operation.label, ())) \
            and _positive(case):
        # Until one succeeds: the example's "backend" is the scene's, so taken; as pia,
        # whose changes to groups are not used up.
        token = _login(api.url, "pia")
        case.body = {"name": "newgroup", "description": "made", "members": ["bob"]}
    if path == "/api/groups/{name}" and case.method in ("PATCH", "DELETE") and not any(
            status < 400 for status in ANSWERED.get(case.operation.label, ())):
        # Until one succeeds: as a member of the scene's "backend" (bob changes, cid
        # deletes) whose changes to groups the requests before did not use up (a per-user
        # bucket, which ann's POSTs may have emptied).
        token = _login(api.url, "bob" if case.method == "PATCH" else "cid")
    if path in ("/api/sections/{section}", "/api/rooms/{room}/section") \
            and case.method in ("PATCH", "DELETE", "PUT") and not any(
            status < 400 for status in ANSWERED.get(case.operation.label, ())) \
            and _positive(case) and case.path_parameters is not None \
            and not (path == "/api/rooms/{room}/section" and case.method == "DELETE"):
        # Until one succeeds: the example's section (7) is nobody's; as pia, a section of
        # hers made now (ann's sections and changes may be used up by the POSTs), and her
        # own room to move.
        token, section = _pia_section(api.url)
        if path == "/api/sections/{section}":
            case.path_parameters["section"] = section
        else:
            case.path_parameters["room"] = "pia-notes"
            case.body = {"section": section}
    if path in ("/api/room-links/join", "/api/room-links/{id}") and not any(
            status < 400 for status in ANSWERED.get(case.operation.label, ())) \
            and _positive(case):
        # Until one succeeds: a link made now (the example's token and id are nobody's) by
        # pia: she joins with it (a member already enters), or revokes it.
        token, made = _room_link(api.url)
        if path == "/api/room-links/join":
            case.body = {"token": made["token"]}
        elif case.path_parameters is not None:
            case.path_parameters["id"] = made["link"]["id"]
    if path == "/api/me/reminders/{user}/{msg_id}" and not any(
            status < 400 for status in ANSWERED.get(case.operation.label, ())) \
            and _positive(case) and case.path_parameters is not None:
        # Until one succeeds: a reminder for bob set now (the example's is nobody's), by pia.
        token, msg_id = _reminder_for_bob(api.url)
        case.path_parameters.update({"user": "bob", "msg_id": msg_id})
    if path in EMAIL_LINKS and case.path_parameters is not None \
            and case.path_parameters.get("token") in EXAMPLE_EMAIL_TOKENS:
        case.path_parameters["token"] = EMAIL_LINKS[path]  # the example opens a real link
    if path in EMAIL_BODY_TOKENS and isinstance(case.body, dict) \
            and case.body.get("token") == EXAMPLE_BODY_TOKEN:
        case.body = {**case.body, "token": EMAIL_BODY_TOKENS[path]}  # a real link's token
    # No session: each call has a connection of its own, closed after it (/ws may switch
    # it to a WebSocket), and no session header (Connection: keep-alive) overrides the case's.
    response = case.call_and_validate(base_url=api.url, timeout=30,
                                      headers={"Authorization": f"Bearer {token}"})
    ANSWERED.setdefault(case.operation.label, set()).add(response.status_code)


def _room_link(url: str) -> tuple[str, dict[str, Any]]:
    """pia's token and a join link she made now to her own room (no example names it; her
    new links are not used up)."""
    token = _login(url, "pia")
    answer = _call(url, "POST", "/api/rooms/pia-notes/links", {"uses": 2}, token)
    assert answer.status_code == 201, answer.text
    return token, answer.json()


def _reminder_for_bob(url: str) -> tuple[str, int]:
    """pia's token and the msg_id of a reminder she set for bob now (after a word to him:
    they talk, so she may; her saves are not used up)."""
    token = _login(url, "pia")
    answer = _call(url, "POST", "/api/dm", {"to": "bob", "text": "hi", "nonce": uuid.uuid4().hex},
                   token)
    assert answer.status_code == 200, answer.text
    answer = _call(url, "POST", "/api/me/reminders",
                   {"text": "ping bob", "nonce": uuid.uuid4().hex, "user": "bob",
                    "remind_at": int(time.time() * 1000) + 3600_000}, token)
    assert answer.status_code == 201, answer.text
    return token, int(answer.json()["msg_id"])


def _pia_section(url: str) -> tuple[str, int]:
    """pia's token and the id of a new section of hers."""
    token = _login(url, "pia")
    answer = _call(url, "POST", "/api/sections", {"name": f"s-{uuid.uuid4().hex[:12]}"},
                   token)
    assert answer.status_code == 201, answer.text
    return token, int(answer.json()["section"]["id"])


#: The statuses each operation answered in test_api (by its label, "GET /api/me").
ANSWERED: dict[str, set[int]] = {}


def test_every_operation_succeeded(api: Api) -> None:
    """Every operation answered a success at least once in test_api (its description's
    example, at least), so its success was checked against the description too."""
    labels = {result.ok().label for result in SCHEMA.get_all_operations()
              if isinstance(result, Ok)}
    assert set(ANSWERED) == labels
    for label, statuses in sorted(ANSWERED.items()):
        print(f"{label}: {sorted(statuses)}")
    failed = {label: sorted(statuses) for label, statuses in ANSWERED.items()
              if not any(status < 400 for status in statuses)}
    assert not failed, failed


def test_served_description(api: Api) -> None:
    """``GET /api/openapi.json`` serves the description of the daemon's settings, without a
    token; it is cacheable, and answered 304 when unchanged."""
    answer = requests.get(api.url + "/api/openapi.json", timeout=30)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert "public" in answer.headers["cache-control"]
    assert answer.json() == build_document(CONFIG)
    again = requests.get(api.url + "/api/openapi.json", timeout=30,
                         headers={"If-None-Match": answer.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""


def test_daemon_still_healthy(api: Api) -> None:
    """After the generated requests (this module's tests run in order), the daemon answers
    /healthz, its token still works, and its log holds no traceback."""
    answer = requests.get(api.url + "/healthz", timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"status": "ok"}
    assert _call(api.url, "GET", "/api/me", token=api.token).status_code == 200
    assert api.proc.poll() is None
    assert "Traceback" not in api.log(), api.log()
    metrics = requests.get(api.url + "/metrics", timeout=30).text
    answered = {m[0]: float(m[1]) for m in re.findall(
        r'^chatd_http_requests_total\{status="(\d+)"\} (\S+)$', metrics, re.MULTILINE)}
    print(f"answers by status: {answered}")
    assert sum(answered.values()) > 1000  # the run did send requests

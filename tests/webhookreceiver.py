"""A webhook receiver on 127.0.0.1 for the tests: what a CI server or a chat bridge runs to
take chatd's outgoing webhooks, cut down.

It checks every delivery as a careful receiver would, with code of its own (not chatd's):
the ``X-Chatd-Signature`` is ``sha256=`` and the hex HMAC-SHA256, under the secret it was
given, of ``X-Chatd-Timestamp``, ``.`` and the raw body; the timestamp is within five
minutes of its clock; the body is JSON. What it took, and what was wrong, is kept for the test
to assert on; ``answers`` tells it how to answer each path in turn (a status, or ``None``:
never answer), 200 once they are used up.

Its HTTP side is tests/httpreceiver.py's; tests wait for its state (``wait_for``), never for
time.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import time
from typing import Any

import h11

from tests.httpreceiver import Receiver

TOLERANCE = 300  # seconds a delivery's timestamp may be off


@dataclasses.dataclass(slots=True)
class Received:
    """A delivery the receiver took: its path, headers (lower-case names) and JSON body."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class WebhookReceiver(Receiver):
    """Run with ``await nursery.start(receiver.serve)``; set ``secret`` before deliveries."""

    refused_status = 401

    def __init__(self, secret: str = "") -> None:
        super().__init__()
        self.secret = secret
        self.received: list[Received] = []

    def url(self, path: str = "/hook", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def at(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]

    def key(self, request: h11.Request) -> str:
        return request.target.decode()

    def take(self, key: str, request: h11.Request, body: bytes) -> bool:
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
            self.received.append(Received(key, headers, json.loads(body)))
            return True
        except Exception as exc:  # everything wrong is the test's to see
            self.problems.append(f"delivery to {key}: {type(exc).__name__}: {exc}")
            return False

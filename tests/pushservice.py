"""A Web Push service on 127.0.0.1 for the tests: what a browser vendor runs, cut down.

It makes subscriptions as a browser would (a P-256 key pair and an auth secret per
subscription, an endpoint of its own), and checks every push it receives as a push service
and the browser would: the VAPID ``Authorization`` (the ES256 JWT verified with the public key
from ``k=``, ``aud`` its own origin, ``exp`` at most 24 hours ahead, a ``sub``), the ``TTL``,
``Urgency`` and ``Content-Encoding`` headers, and the body decrypted with the subscription's
private key (RFC 8291). What it received, and what was wrong, is kept for the test to assert
on; ``answers`` tells it how to answer a subscription (statuses in turn, or ``None``: never
answer), 201 once they are used up.

Its HTTP side is tests/httpreceiver.py's; tests wait for its state (``wait_for``), never for
time.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from typing import Any

import h11
import http_ece
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from chatd.webpush import b64url, b64url_decode
from tests.httpreceiver import Receiver


@dataclasses.dataclass(slots=True)
class Push:
    """A push as the service took it: to which subscription, its headers (lower-case names),
    the verified JWT's claims, the VAPID public key and the decrypted payload."""

    name: str
    headers: dict[str, str]
    claims: dict[str, Any]
    key: str
    payload: dict[str, Any]


@dataclasses.dataclass(slots=True)
class _Subscription:
    key: ec.EllipticCurvePrivateKey
    auth: bytes


class PushService(Receiver):
    """Run with ``await nursery.start(service.serve)``; then :meth:`subscribe`."""

    ok_status = 201
    refused_status = 400

    def __init__(self, *, host: str = "127.0.0.1") -> None:
        super().__init__(host=host)
        self.pushes: list[Push] = []
        self._subscriptions: dict[str, _Subscription] = {}

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    def endpoint(self, name: str, host: str | None = None) -> str:
        return f"http://{host or self.host}:{self.port}/push/{name}"

    def subscribe(self, name: str, *, host: str | None = None) -> dict[str, Any]:
        """A new subscription called ``name``, as ``PushSubscription.toJSON()`` gives it."""
        key = ec.generate_private_key(ec.SECP256R1())
        auth = os.urandom(16)
        self._subscriptions[name] = _Subscription(key, auth)
        point = key.public_key().public_bytes(serialization.Encoding.X962,
                                              serialization.PublicFormat.UncompressedPoint)
        return {"endpoint": self.endpoint(name, host), "expirationTime": None,
                "keys": {"p256dh": b64url(point), "auth": b64url(auth)}}

    def to(self, name: str) -> list[Push]:
        return [push for push in self.pushes if push.name == name]

    def key(self, request: h11.Request) -> str:
        return request.target.decode().rsplit("/", 1)[-1]

    def take(self, name: str, request: h11.Request, body: bytes) -> bool:
        headers = {k.decode().lower(): v.decode() for k, v in request.headers}
        subscription = self._subscriptions.get(name)
        if subscription is None:
            self.problems.append(f"a push to an unknown subscription {name!r}")
            return False
        try:
            scheme, _, params = headers["authorization"].partition(" ")
            assert scheme == "vapid", scheme
            fields = dict(part.strip().split("=", 1) for part in params.split(","))
            public = ec.EllipticCurvePublicKey.from_encoded_point(
                ec.SECP256R1(), b64url_decode(fields["k"]))
            claims = jwt.decode(fields["t"], public, algorithms=["ES256"], audience=self.origin,
                                options={"require": ["exp", "aud", "sub"]})
            assert claims["exp"] <= time.time() + 24 * 3600, "exp more than 24 hours ahead"
            assert headers["content-encoding"] == "aes128gcm"
            assert int(headers["ttl"]) >= 0
            assert headers["urgency"] in ("very-low", "low", "normal", "high")
            plaintext = http_ece.decrypt(body, private_key=subscription.key,
                                         auth_secret=subscription.auth, version="aes128gcm")
            self.pushes.append(Push(name, headers, claims, fields["k"], json.loads(plaintext)))
            return True
        except Exception as exc:  # everything wrong is the test's to see
            self.problems.append(f"push to {name}: {type(exc).__name__}: {exc}")
            return False

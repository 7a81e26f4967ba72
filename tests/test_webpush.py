"""chatd.webpush: the VAPID key and header, a push's encryption, subscriptions as pages send
them, and the payload. Each is checked the way a browser and its push service would: the JWT
with the public key from ``k=``, the body decrypted with the subscription's private key."""

from __future__ import annotations

import dataclasses
import json
import os
import stat
import time
from pathlib import Path
from typing import Any

import http_ece
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from chatd.errors import ChatError
from chatd.storage import Message, Poll, PollOption, PushSubscription
from chatd.webpush import (
    KEY_FILE,
    TEXT_CHARS,
    b64url,
    b64url_decode,
    encrypt,
    endpoint_origin,
    load_or_create_vapid_key,
    parse_subscription,
    payload,
)


def browser() -> tuple[ec.EllipticCurvePrivateKey, bytes, PushSubscription]:
    """A browser's side of a subscription: its private key, auth secret, and what it sends."""
    key = ec.generate_private_key(ec.SECP256R1())
    auth = os.urandom(16)
    point = key.public_key().public_bytes(serialization.Encoding.X962,
                                          serialization.PublicFormat.UncompressedPoint)
    return key, auth, PushSubscription(endpoint="https://push.example/abc", p256dh=b64url(point),
                                       auth=b64url(auth))


def verify(header: str, audience: str) -> dict[str, Any]:
    """What a push service does with ``Authorization: vapid t=…, k=…``: the claims."""
    scheme, _, params = header.partition(" ")
    assert scheme == "vapid"
    fields = dict(part.strip().split("=", 1) for part in params.split(","))
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(),
                                                          b64url_decode(fields["k"]))
    claims: dict[str, Any] = jwt.decode(fields["t"], public, algorithms=["ES256"],
                                        audience=audience)
    return claims


def test_the_key_is_made_once_private_and_reused(tmp_path: Path) -> None:
    """First start makes data_dir/vapid_key with mode 0600; the next start reads the same
    key."""
    first = load_or_create_vapid_key(tmp_path / "data")
    path = tmp_path / "data" / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_vapid_key(tmp_path / "data").public_key == first.public_key
    point = b64url_decode(first.public_key)
    assert len(point) == 65 and point[0] == 4 and "=" not in first.public_key


def test_a_file_that_is_not_a_p256_key_is_refused(tmp_path: Path) -> None:
    (tmp_path / KEY_FILE).write_bytes(b"not a key")
    with pytest.raises(ValueError, match="PEM"):
        load_or_create_vapid_key(tmp_path)
    other = ec.generate_private_key(ec.SECP384R1())
    (tmp_path / KEY_FILE).write_bytes(other.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    with pytest.raises(ValueError, match="P-256"):
        load_or_create_vapid_key(tmp_path)


def test_the_vapid_header_verifies_with_its_own_public_key(tmp_path: Path) -> None:
    """k= is the server's public key, t= an ES256 JWT for the endpoint's origin, expiring
    within 24 hours, with the subject."""
    key = load_or_create_vapid_key(tmp_path)
    now = time.time()
    header = key.authorization("https://fcm.googleapis.com/fcm/send/xyz", "mailto:ops@example.org")
    assert header.endswith(f", k={key.public_key}")
    claims = verify(header, "https://fcm.googleapis.com")
    assert claims["sub"] == "mailto:ops@example.org"
    assert now < claims["exp"] <= now + 24 * 3600
    with pytest.raises(jwt.InvalidAudienceError):
        verify(header, "https://updates.push.services.mozilla.com")


def test_the_jwt_is_reused_per_origin_until_near_its_expiry(tmp_path: Path) -> None:
    key = load_or_create_vapid_key(tmp_path)
    first = key.authorization("https://push.example/a", "mailto:x@y", now=1000.0)
    assert key.authorization("https://push.example/b", "mailto:x@y", now=2000.0) == first
    assert key.authorization("https://other.example/a", "mailto:x@y", now=2000.0) != first
    later = key.authorization("https://push.example/a", "mailto:x@y", now=1000.0 + 11.5 * 3600)
    assert later != first


@pytest.mark.parametrize(("endpoint", "origin"), [
    ("https://push.example/x?y=1", "https://push.example"),
    ("https://push.example:443/x", "https://push.example"),
    ("https://Push.Example:8443/x", "https://push.example:8443"),
    ("http://127.0.0.1:8080/p/1", "http://127.0.0.1:8080"),
    ("https://[2001:db8::1]:444/x", "https://[2001:db8::1]:444"),
])
def test_the_audience_is_the_endpoints_origin(endpoint: str, origin: str) -> None:
    assert endpoint_origin(endpoint) == origin


@settings(max_examples=20, deadline=None)
@given(st.binary(min_size=1, max_size=3000))  # (payloads are never empty)
def test_a_push_decrypts_with_the_subscriptions_keys(plaintext: bytes) -> None:
    """What encrypt makes, the browser decrypts (RFC 8291, aes128gcm, one record); two
    pushes of the same payload differ (fresh key and salt)."""
    key, auth, subscription = browser()
    body = encrypt(plaintext, subscription)
    assert http_ece.decrypt(body, private_key=key, auth_secret=auth,
                            version="aes128gcm") == plaintext
    assert encrypt(plaintext, subscription) != body
    other, _, _ = browser()
    with pytest.raises(http_ece.ECEException):
        http_ece.decrypt(body, private_key=other, auth_secret=auth, version="aes128gcm")


def subscription_json(endpoint: str = "https://push.example/abc", **keys: Any) -> dict[str, Any]:
    _, _, good = browser()
    return {"endpoint": endpoint, "expirationTime": None,
            "keys": {"p256dh": good.p256dh, "auth": good.auth, **keys}}


def test_a_browsers_subscription_is_taken_as_is() -> None:
    body = subscription_json()
    parsed = parse_subscription(body)
    assert parsed == PushSubscription(endpoint=body["endpoint"], p256dh=body["keys"]["p256dh"],
                                      auth=body["keys"]["auth"])


NOT_ON_CURVE = b64url(b"\x04" + b"\x01" * 64)


@pytest.mark.parametrize("body", [
    {},
    {"endpoint": 5, "keys": {}},
    subscription_json("http://push.example/abc"),
    subscription_json("ftp://push.example/abc"),
    subscription_json("https:///nohost"),
    subscription_json("https://user:pw@push.example/abc"),
    subscription_json("https://push.example/abc#frag"),
    subscription_json("https://push.example/a b"),
    subscription_json("https://push.example/é"),
    subscription_json("https://push.example:99999/abc"),
    subscription_json("https://push.example/" + "a" * 2100),
    {"endpoint": "https://push.example/abc"},
    subscription_json(p256dh=NOT_ON_CURVE),
    subscription_json(p256dh=b64url(b"\x04" + b"\x00" * 10)),
    subscription_json(p256dh="!!!"),
    subscription_json(auth=b64url(b"\x00" * 15)),
    subscription_json(auth=b64url(b"\x00" * 17)),
    subscription_json(auth="+/+/+/+/+/+/+/+/+/+/+w=="),
    subscription_json(auth=7),
])
def test_a_malformed_subscription_is_a_bad_request(body: dict[str, Any]) -> None:
    with pytest.raises(ChatError) as refused:
        parse_subscription(body)
    assert refused.value.code == "bad_request"


def test_http_only_where_private_endpoints_are_allowed() -> None:
    assert parse_subscription(subscription_json("http://127.0.0.1:9/p"), allow_http=True)


def _message(text: str) -> Message:
    return Message(room="@ann:bob", seq=7, msg_id=3, sender="ann", text=text, ts=0, nonce="n")


@given(st.text(max_size=500))
def test_the_payload_carries_the_contract(text: str) -> None:
    """{room, seq, from, kind, text, title}; text at most 200 characters, the start of the
    message's."""
    got = json.loads(payload(_message(text), "dm"))
    assert set(got) == {"room", "seq", "from", "kind", "text", "title"}
    assert (got["room"], got["seq"], got["from"], got["kind"]) == ("@ann:bob", 7, "ann", "dm")
    assert len(got["text"]) <= TEXT_CHARS
    assert got["text"] == text or (len(text) > TEXT_CHARS and got["text"].endswith("…")
                                   and text.startswith(got["text"][:-1]))
    assert len(payload(_message(text), "message")) < 3000


def test_titles_say_why() -> None:
    assert json.loads(payload(_message("x"), "dm"))["title"] == "ann"
    mention = json.loads(payload(_message("x"), "mention"))
    assert mention["title"] == "ann mentioned you" and mention["kind"] == "mention"
    in_room = dataclasses.replace(_message("x"), room="team")
    assert json.loads(payload(in_room, "mention"))["title"] == "ann mentioned you in team"
    assert json.loads(payload(_message(""), "message"))["text"] == ""


def test_a_reminder_says_of_what() -> None:
    """A reminder of a note to self (remind) is titled "Reminder" alone; of a 1:1's message,
    by who wrote it; of a group's, with its people; of a room's, with the room."""
    def title(room: str, sender: str = "Ann", to: str = "ann") -> str:
        message = Message(room=room, seq=2, msg_id=9, sender=sender, text="call the bank",
                          ts=0, nonce="n")
        return str(json.loads(payload(message, "reminder", to))["title"])

    assert title("@ann:ann") == "Reminder"
    assert title("@ann:bob", "Bob") == "Reminder: Bob"
    assert title("@ann:bob", "Ann") == "Reminder: Ann"
    assert title("@ann:bob:carol", "Bob") == "Reminder: Bob in carol & you"
    assert title("general", "Bob") == "Reminder: Bob in general"
def test_a_poll_pushes_its_question() -> None:
    """A poll's push text is "📊 Poll: " and its question (clipped as any text)."""
    poll = Poll(options=(PollOption(text="Tue"), PollOption(text="Wed")))
    message = dataclasses.replace(_message("Lunch day?"), poll=poll)
    assert json.loads(payload(message, "dm"))["text"] == "📊 Poll: Lunch day?"
    long = json.loads(payload(dataclasses.replace(message, text="x" * 500), "dm"))["text"]
    assert long.startswith("📊 Poll: x") and len(long) == TEXT_CHARS


def test_a_group_conversation_is_named_by_its_people() -> None:
    """A push of a group conversation names it by the people in it but the sender, the
    user it goes to last as "you": at level all (kind dm) and for a mention."""
    message = Message(room="@ann:bob:carol:dan", seq=2, msg_id=9, sender="Ann", text="hi",
                      ts=0, nonce="n")
    assert json.loads(payload(message, "dm", "Carol"))["title"] == "Ann in bob, dan & you"
    assert json.loads(payload(message, "mention", "bob"))["title"] == \
        "Ann mentioned you (with carol & dan)"
    three = dataclasses.replace(message, room="@ann:bob:carol")
    assert json.loads(payload(three, "dm", "bob"))["title"] == "Ann in carol & you"
    assert json.loads(payload(_message("x"), "dm", "bob"))["title"] == "ann"

"""Web Push, the parts without I/O: the server's VAPID key, a push's encryption and
signature, subscriptions as clients give them, and what a push says.

Theory of operation. A browser that subscribes to pushes (the Push API) hands the page an
*endpoint* (a URL at its vendor's push service) and two keys: ``p256dh``, its P-256 public
key, and ``auth``, a 16-byte secret. chatd sends a push by POSTing to the endpoint:

- the body is the payload encrypted to the browser's keys (RFC 8291: an ephemeral P-256 key
  agreement with ``p256dh``, mixed with ``auth``, then ``aes128gcm`` content coding, RFC 8188),
  so that the push service carries it without reading it. The encryption is ``http_ece``'s,
  with the key agreement and AES-GCM of ``cryptography``;
- the ``Authorization: vapid t=<JWT>, k=<public key>`` header (RFC 8292) proves the push
  comes from the server the browser subscribed through: the JWT is signed ES256 with the
  server's VAPID key (``aud``: the endpoint's origin, ``exp``: at most 24 hours ahead,
  ``sub``: a contact for the push service's operators). The page subscribed with the public
  key (``GET /api/push/key``), so every node must sign with the same key: it is made once,
  at first start, in ``data_dir/vapid_key`` (PKCS#8 PEM, mode 0600), like the JWT secret.

The payload is JSON, at most a few hundred bytes (a push service takes up to 4 KB): the
message's room, seq, sender, why it is pushed and the beginning of its text
(:func:`payload`). What does I/O (the queue, the HTTP requests, the address checks) is
:mod:`chatd.pusher`.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
import os
import secrets
import stat
import time
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import http_ece
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from chatd.addresses import MAX_URL_CHARS, check_url
from chatd.errors import ChatError
from chatd.protocol import codes
from chatd.protocol.names import conversation_members, is_dm_room, is_group_room
from chatd.storage import Message, PushSubscription

__all__ = [
    "KEY_FILE",
    "MAX_ENDPOINT_CHARS",
    "TEXT_CHARS",
    "VapidKey",
    "b64url",
    "b64url_decode",
    "encrypt",
    "endpoint_origin",
    "load_or_create_vapid_key",
    "parse_subscription",
    "payload",
]

log = logging.getLogger(__name__)

#: The VAPID private key's file in data_dir.
KEY_FILE = "vapid_key"
#: The longest endpoint taken (the push services' are a few hundred characters).
MAX_ENDPOINT_CHARS = MAX_URL_CHARS
#: The most characters of a message's text a push carries.
TEXT_CHARS = 200
#: How long a VAPID JWT is valid (RFC 8292 allows at most 24 hours), and how long before its
#: expiry a new one is signed instead of reusing it.
JWT_SECONDS = 12 * 3600
JWT_RENEW_SECONDS = 3600

_P256_POINT_BYTES = 65  # an uncompressed point: 0x04, X, Y
_AUTH_BYTES = 16


def b64url(data: bytes) -> str:
    """Base64url without padding, as the Push API and VAPID write keys."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """The bytes of base64url text, padded or not.

    Raises:
        ValueError: not base64url (standard base64's ``+`` and ``/`` included).
    """
    if not text.isascii() or any(c in text for c in "+/\n\r \t"):
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("not base64url") from None


def _public_bytes(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.X962,
                            serialization.PublicFormat.UncompressedPoint)


class VapidKey:
    """The server's VAPID key pair (P-256), which signs every push's JWT.

    Args:
        private_key: the key (see :func:`load_or_create_vapid_key`).
    """

    def __init__(self, private_key: ec.EllipticCurvePrivateKey) -> None:
        if not isinstance(private_key.curve, ec.SECP256R1):
            raise ValueError("a VAPID key is a P-256 key")
        self._key = private_key
        #: The public key as the Push API's ``applicationServerKey`` takes it: the
        #: uncompressed point, base64url.
        self.public_key = b64url(_public_bytes(private_key.public_key()))
        self._tokens: dict[tuple[str, str], tuple[str, float]] = {}  # (aud, sub) -> JWT, exp

    def authorization(self, endpoint: str, subject: str, *, now: float | None = None) -> str:
        """The ``Authorization`` header of a push to ``endpoint``: ``vapid t=<JWT>, k=<key>``.

        The JWT (``aud``: the endpoint's origin, ``exp``: :data:`JWT_SECONDS` ahead, ``sub``:
        ``subject``) is reused for one origin until :data:`JWT_RENEW_SECONDS` before it
        expires: signing costs more than the rest of a push."""
        now = time.time() if now is None else now
        audience = endpoint_origin(endpoint)
        cached = self._tokens.get((audience, subject))
        if cached is None or cached[1] - now < JWT_RENEW_SECONDS:
            exp = int(now) + JWT_SECONDS
            token = jwt.encode({"aud": audience, "exp": exp, "sub": subject}, self._key,
                               algorithm="ES256")
            if len(self._tokens) >= 256:  # a handful of push services in practice
                self._tokens.clear()
            self._tokens[(audience, subject)] = cached = (token, exp)
        return f"vapid t={cached[0]}, k={self.public_key}"

    @classmethod
    def from_pem(cls, data: bytes) -> VapidKey:
        """The key a :data:`KEY_FILE` holds (PEM, unencrypted).

        Raises:
            ValueError: ``data`` is not a P-256 private key in PEM; the message says which.
        """
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"not a PEM private key ({exc})") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve,
                                                                             ec.SECP256R1):
            raise ValueError("not a P-256 (prime256v1) private key")
        return cls(key)

    def pem(self) -> bytes:
        """The private key as PKCS#8 PEM (what :data:`KEY_FILE` holds)."""
        return self._key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption())


def load_or_create_vapid_key(data_dir: Path) -> VapidKey:
    """The server's VAPID key, made at first start in ``data_dir/vapid_key`` (mode 0600) and
    read after that. Blocking: call it in a worker thread.

    As for the JWT secret, the file is written under a temporary name and linked into place,
    so that two processes starting at once agree on one key and none reads half a file; a key
    others can read is reported in the log (and used).

    Raises:
        ValueError: the file does not hold a P-256 private key in PEM.
        OSError: the folder or the file cannot be made or read.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / KEY_FILE
    if not path.exists():
        made = VapidKey(ec.generate_private_key(ec.SECP256R1()))
        tmp = data_dir / f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(8)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(made.pem())
                file.flush()
                os.fsync(file.fileno())
            with contextlib.suppress(FileExistsError):  # the first process to link wins
                os.link(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("%s is readable by other users (mode %o); chmod 600 it", path, mode & 0o777)
    try:
        return VapidKey.from_pem(path.read_bytes())
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


def endpoint_origin(endpoint: str) -> str:
    """``scheme://host[:port]`` of an endpoint: a VAPID JWT's ``aud``. The default port of
    the scheme is left out, as browsers write origins."""
    parts = urllib.parse.urlsplit(endpoint)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    default = {"https": 443, "http": 80}.get(parts.scheme)
    port = parts.port
    return f"{parts.scheme}://{host}" + ("" if port in (None, default) else f":{port}")


def encrypt(plaintext: bytes, subscription: PushSubscription) -> bytes:
    """``plaintext`` encrypted to the subscription's keys (RFC 8291, ``aes128gcm``), with a
    fresh ephemeral key and salt: the body of a push. About 0.1 ms (a key generation, a key
    agreement and AES-GCM of a few hundred bytes; measured on the 2-core test machine), so
    the pusher runs it on the event loop rather than pay a thread hand-off.

    Raises:
        ValueError: the subscription's keys are not valid (checked when it was stored).
    """
    receiver = b64url_decode(subscription.p256dh)
    auth = b64url_decode(subscription.auth)
    ephemeral = ec.generate_private_key(ec.SECP256R1())
    try:
        body: bytes = http_ece.encrypt(plaintext, salt=os.urandom(16), private_key=ephemeral,
                                       dh=receiver, auth_secret=auth, version="aes128gcm")
    except http_ece.ECEException as exc:
        raise ValueError(f"cannot encrypt to this subscription: {exc}") from None
    return body


def _bad(message: str) -> ChatError:
    return ChatError(codes.BAD_REQUEST, message)


def parse_subscription(body: Mapping[str, Any], *, allow_http: bool = False
                       ) -> PushSubscription:
    """A subscription from the JSON a page sends (``PushSubscription.toJSON()``: ``endpoint``
    and ``keys`` {``p256dh``, ``auth``}; other fields, such as ``expirationTime``, are
    ignored), checked: an https URL (http too with ``allow_http``) with a host, no user
    name, password or fragment, printable ASCII, at most :data:`MAX_ENDPOINT_CHARS`;
    ``p256dh`` a point of P-256 and ``auth`` 16 bytes, both base64url. Whether the host's
    addresses may be used is checked elsewhere (:mod:`chatd.addresses`).

    Raises:
        ChatError: ``bad_request``, saying which field is wrong.
    """
    endpoint = body.get("endpoint")
    try:
        check_url(endpoint, "endpoint", allow_http=allow_http, what="subscription's URL")
    except ValueError as exc:
        raise _bad(str(exc)) from None
    assert isinstance(endpoint, str)
    keys = body.get("keys")
    if not isinstance(keys, dict):
        raise _bad("'keys' must be an object with 'p256dh' and 'auth'")
    p256dh, auth = keys.get("p256dh"), keys.get("auth")
    if not isinstance(p256dh, str) or not isinstance(auth, str) or len(p256dh) > 128 \
            or len(auth) > 64:
        raise _bad("'keys' must hold 'p256dh' and 'auth', base64url strings")
    try:
        point = b64url_decode(p256dh)
        if len(point) != _P256_POINT_BYTES or point[0] != 4:
            raise ValueError("not an uncompressed point")
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError:
        raise _bad("'keys.p256dh' must be an uncompressed P-256 public key (65 bytes), "
                   "base64url") from None
    try:
        secret = b64url_decode(auth)
    except ValueError:
        secret = b""
    if len(secret) != _AUTH_BYTES:
        raise _bad("'keys.auth' must be 16 bytes, base64url")
    return PushSubscription(endpoint=endpoint, p256dh=p256dh, auth=auth)


def _clip(text: str) -> str:
    return text if len(text) <= TEXT_CHARS else text[:TEXT_CHARS - 1] + "…"


def scheduled_payload(user: str, item: Mapping[str, Any]) -> bytes:
    """What a push of a scheduled message refused at its time says, as JSON (UTF-8):
    ``room``, ``seq`` (null: nothing was stored), ``from`` (the user), ``kind``
    ``"scheduled"``, ``item`` (its id), ``text`` (cut as a message's), ``error`` (the
    refusal's code) and ``title``."""
    room = item["room"]
    error = item.get("error") or {}
    return json.dumps({"room": room, "seq": None, "from": user, "kind": "scheduled",
                       "item": item["item"], "text": _clip(item["text"]),
                       "error": error.get("code"),
                       "title": f"Scheduled message to {room} failed"},
                      ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _conversation_title(room: str, sender: str, to: str | None, *, you: bool = True) -> str:
    """A group conversation as a notification names it to ``to``: its people but the
    sender, in the name's order, ``to`` last as "you" (any case), or left out when not
    ``you`` (where the title says "you" already)."""
    me = (to or "").lower()
    others = [name for name in conversation_members(room)
              if name not in (sender.lower(), me)]
    names = [*others, *(["you"] if you and to is not None else [])]
    return ", ".join(names[:-1]) + " & " + names[-1] if len(names) > 1 else "".join(names)


def _reminder_title(room: str, sender: str, to: str | None) -> str:
    """A reminder's title: of a note to self (``remind``) only "Reminder"; of a message of a
    1:1 conversation, who wrote it; elsewhere who and where, a group by its people."""
    if is_group_room(room):
        return f"Reminder: {sender} in {_conversation_title(room, sender, to)}"
    if not is_dm_room(room):
        return f"Reminder: {sender} in {room}"
    first, _, second = room[1:].partition(":")
    return "Reminder" if first == second == sender.lower() else f"Reminder: {sender}"
#: What a poll's push text starts with (its question follows).
POLL_PREFIX = "📊 Poll: "
#: What a forward's push text starts with when it has no comment (the forwarded text follows).
FORWARDED_PREFIX = "Forwarded: "


def _text(message: Message) -> str:
    """What a push says of ``message``'s words: its text; a poll's with
    :data:`POLL_PREFIX`; a forward's comment, or without one :data:`FORWARDED_PREFIX` and
    the forwarded text."""
    if message.poll is not None:
        return POLL_PREFIX + message.text
    if message.forwarded is not None and not message.text.strip():
        return FORWARDED_PREFIX + message.forwarded.text
    return message.text


def payload(message: Message, reason: str, to: str | None = None) -> bytes:
    """What a push about ``message`` to user ``to`` says, as JSON (UTF-8): ``room``, ``seq``,
    ``from``, ``kind`` (why it is pushed: ``"dm"``, ``"mention"``, ``"keyword"`` (it holds
    one of the user's notification keywords), ``"message"`` or ``"reminder"``, a saved
    message's reminder, chatd.reminders), ``text`` (at most
    :data:`TEXT_CHARS` characters, cut with an ellipsis; ``""`` for a message of files only)
    and ``title``, a line for a notification. A group conversation is named by the people in
    it other than the sender, the user last as "you": "ann in bob, carol & you" (a mention
    there: "ann mentioned you (with bob & carol)"; in a 1:1 "ann mentioned you"). A poll's
    text reads "📊 Poll: " and its question; a forward's its comment, or without one
    "Forwarded: " and the forwarded text."""
    sender, room = message.sender, message.room
    where = _conversation_title(room, sender, to) if is_group_room(room) else room
    if reason == "dm":
        title = f"{sender} in {where}" if is_group_room(room) else sender
    elif reason == "mention" and is_group_room(room):
        # "ann mentioned you in carol & you" says "you" twice: name the others alone.
        title = f"{sender} mentioned you (with {_conversation_title(room, sender, to, you=False)})"
    elif reason == "mention":
        title = f"{sender} mentioned you" + ("" if is_dm_room(room) else f" in {room}")
    elif reason == "reminder":
        title = _reminder_title(room, sender, to)
    else:
        title = f"{sender} in {where}"
    return json.dumps({"room": room, "seq": message.seq, "from": sender, "kind": reason,
                       "text": _clip(_text(message)), "title": title},
                      ensure_ascii=False, separators=(",", ":")).encode("utf-8")

"""Signed, expiring links to files and thumbnails, for an ``<img>`` or a download link that
cannot send a Bearer token.

Theory of operation
-------------------
A link is the Bearer url of a file or a thumbnail with ``?exp=<unix seconds>&sig=<MAC>``
added. The MAC is HMAC-SHA256, in unpadded base64url, of the variant (``file`` or
``thumbnail``), the file's id and ``exp``, under a key derived from the daemon's JWT secret
with its own label (:data:`LINK_KEY_LABEL`, see :meth:`chatd.auth.Auth.derive_key`): every
node sharing the secret accepts the links of the others, and a link's MAC can never serve as
a token's signature or as the MAC of another file or variant. The file's name in its url is
not signed: the server does not read it.

Whoever holds a link may fetch the file until ``exp`` without being asked who they are: it is
handed out (``POST /api/files/links``) only to users who may read the file then, and keeps
working until it expires even if they no longer may, unless the file is deleted. ``exp`` is
rounded up (:func:`link_expiry`): the end of the current window of ``files.link_seconds``,
plus one window, so that a client asking again within a window gets the same url and its
browser's cache holds. A link is thus good for one to two windows.

Everything here is pure: time and the key are arguments.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence

__all__ = [
    "LINK_KEY_LABEL",
    "VARIANTS",
    "LinkRefused",
    "check_link",
    "link_expiry",
    "link_signature",
    "signed_url",
]

#: The label the links' key is derived with from the JWT secret.
LINK_KEY_LABEL = b"chatd signed file links v1"

#: What a link may point to: a file's bytes, or its thumbnail's (by the file's id), or a
#: user's export of their data (by the user's id: chatd.http.exports).
VARIANTS = frozenset({"file", "thumbnail", "export"})

_MAX_EXP_DIGITS = 12  # past the year 33000: enough, and a bound on what is parsed
_SIGNATURE_CHARS = 43  # 32 bytes in unpadded base64url


class LinkRefused(Exception):
    """A link's ``exp`` and ``sig`` do not allow the request: malformed, not this file's and
    variant's signature, or expired. The message says which, in words for the user."""


def link_expiry(now: float, window: int) -> int:
    """The ``exp`` of a link made at ``now`` (unix seconds): the end of the current window of
    ``window`` seconds, plus one window. The same for every ``now`` within a window."""
    if window <= 0:
        raise ValueError(f"the window must be positive, got {window}")
    return (int(now) // window + 2) * window


def link_signature(key: bytes, variant: str, file_id: int, exp: int) -> str:
    """The ``sig`` of the link to ``variant`` (``"file"`` or ``"thumbnail"``) of file
    ``file_id`` until ``exp``, under ``key``."""
    if variant not in VARIANTS:
        raise ValueError(f"no such variant: {variant!r}")
    message = f"{variant}\n{file_id}\n{exp}".encode("ascii")
    mac = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")


def signed_url(url: str, key: bytes, variant: str, file_id: int, exp: int) -> str:
    """``url`` (a file's or a thumbnail's, without a query) with ``exp`` and ``sig``."""
    return f"{url}?exp={exp}&sig={link_signature(key, variant, file_id, exp)}"


def _one(query: Mapping[str, Sequence[str]], name: str) -> str:
    values = query.get(name, ())
    if len(values) != 1:
        raise LinkRefused(f"a signed link has one {name!r}")
    return values[0]


def check_link(query: Mapping[str, Sequence[str]], key: bytes, variant: str, file_id: int,
               now: float) -> int:
    """Check a request's ``exp`` and ``sig`` for ``variant`` of file ``file_id`` at ``now``.

    Args:
        query: the request's query, each name with all its values.

    Returns:
        ``exp``.

    Raises:
        LinkRefused: either is missing, repeated or malformed; the signature is not the one
            of this file, variant and ``exp``; or ``exp`` is past.
    """
    exp_text, sig = _one(query, "exp"), _one(query, "sig")
    if not (exp_text.isascii() and exp_text.isdigit() and len(exp_text) <= _MAX_EXP_DIGITS):
        raise LinkRefused("the link's 'exp' is not a time")
    exp = int(exp_text)
    expected = link_signature(key, variant, file_id, exp)
    if len(sig) != _SIGNATURE_CHARS or not hmac.compare_digest(
            expected.encode("ascii"), sig.encode("utf-8", "replace")):
        raise LinkRefused("the link's signature is not valid")
    if now >= exp:
        raise LinkRefused("the link has expired; ask for a new one")
    return exp

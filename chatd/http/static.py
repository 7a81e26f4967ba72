"""The web page's files, served from the web root at ``/``.

Every file is revalidated (``no-cache``) against its ETag: the page's modules import each
other, so after an upgrade a browser must never mix a new file with a cached old one, and an
unchanged file costs a 304 without a body. Reads run in a thread (they touch the disk).

Text files (the page, its modules, the stylesheet, SVG, JSON) are sent gzipped to a client
whose ``Accept-Encoding`` allows it: about a quarter of the bytes. The gzip variant is a
different representation, so it has an ETag of its own (the file's, with ``-gz``), and every
answer for such a file says ``Vary: Accept-Encoding`` so that a cache keeps the two apart.
Compressing happens in the thread that read the file, once per content: the result is kept by
ETag (a hash of the content), so an unchanged file is compressed once, and a changed one gets
a new entry (the cache is bounded; the least recently used entry goes first).

The service worker (``sw.js``) is served with its shell written in: where its source holds
the placeholder ``"__CHATD_SHELL__"``, the server puts ``{"version": …, "files": […]}``, the
page's files (those with a suffix of :data:`SHELL_SUFFIXES`, ``sw.js`` itself left out) and a
hash of their names and contents. Any change to any of them changes ``sw.js``, so the browser
installs the new worker, which caches the new shell under a new name: the version can never be
forgotten, and there is no build step.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import trio

from chatd.actions import App
from chatd.errors import ChatError
from chatd.http.messages import Reply, Request
from chatd.protocol import codes

__all__ = ["COMPRESSIBLE", "CONTENT_SECURITY_POLICY", "CONTENT_TYPES", "SHELL_SUFFIXES",
           "accepts_gzip", "serve_static", "shell_of"]

CONTENT_TYPES = {
    ".html": b"text/html; charset=utf-8",
    ".js": b"text/javascript; charset=utf-8",
    ".mjs": b"text/javascript; charset=utf-8",
    ".css": b"text/css; charset=utf-8",
    ".svg": b"image/svg+xml",
    ".png": b"image/png",
    ".ico": b"image/x-icon",
    ".json": b"application/json",
    ".txt": b"text/plain; charset=utf-8",
    ".webmanifest": b"application/manifest+json",
    ".woff2": b"font/woff2",
}
#: The types worth compressing (images and fonts are compressed already).
COMPRESSIBLE = frozenset({".html", ".js", ".mjs", ".css", ".svg", ".json", ".txt",
                          ".webmanifest"})
#: The files of the web root that the service worker keeps for a reload while offline.
SHELL_SUFFIXES = frozenset({".html", ".js", ".css", ".svg", ".png", ".ico", ".webmanifest",
                            ".woff2"})
SERVICE_WORKER = "sw.js"
_SHELL_PLACEHOLDER = b'"__CHATD_SHELL__"'
GZIP_LEVEL = 6
GZIP_CACHE_ENTRIES = 128  # compressed bodies kept, by ETag
CONTENT_SECURITY_POLICY = (
    b"default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; "
    b"script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


@dataclass(frozen=True, slots=True)
class _StaticFile:
    """A file as read from the web root: its bytes, its ETag, and (when asked for and smaller)
    the gzip variant of its bytes."""

    path: Path
    body: bytes
    etag: bytes
    gzipped: bytes | None


_gzip_cache: OrderedDict[bytes, bytes] = OrderedDict()
_gzip_lock = threading.Lock()  # the cache is used from worker threads


def _gzip_cached(etag: bytes, body: bytes) -> bytes:
    """``body`` gzipped, from the cache when this content (``etag``) was compressed before.

    Runs in a worker thread. The output is deterministic (no timestamp, no name), so every
    node of a cluster sends the same bytes under the same ETag.
    """
    with _gzip_lock:
        found = _gzip_cache.get(etag)
        if found is not None:
            _gzip_cache.move_to_end(etag)
            return found
    compressed = gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0)
    with _gzip_lock:
        _gzip_cache[etag] = compressed
        while len(_gzip_cache) > GZIP_CACHE_ENTRIES:
            _gzip_cache.popitem(last=False)
    return compressed


def shell_of(root: Path) -> dict[str, object]:
    """The page's shell under ``root``: ``{"version", "files"}`` (paths relative to the root,
    sorted; the version a hash of every listed file's name and bytes). Runs in a thread.

    Only what :func:`_read_static` would serve is listed (no hidden files, nothing that a
    symlink takes outside the root): the worker fails to install if one of them is missing.
    """
    digest = hashlib.blake2b(digest_size=12)
    files = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if (relative == SERVICE_WORKER or path.suffix.lower() not in SHELL_SUFFIXES
                or any(part.startswith(".") for part in relative.split("/"))
                or not path.is_file() or not path.resolve().is_relative_to(root)):
            continue
        body = path.read_bytes()
        digest.update(b"%d:%s\0%d:" % (len(relative), relative.encode(), len(body)) + body)
        files.append(relative)
    return {"version": digest.hexdigest(), "files": files}


def _read_static(root: Path, relative: str, want_gzip: bool) -> _StaticFile | None:
    """The file at ``relative`` under ``root``, or None. Runs in a thread (it touches disk).

    Segments starting with a dot are refused before touching the disk (that covers ``..`` and
    hidden files), and the resolved path, symlinks followed, must still lie inside the root.
    With ``want_gzip``, a compressible file also comes gzipped, unless that is no smaller.
    """
    parts = relative.split("/")
    if any(not part or part.startswith(".") or "\\" in part or "\0" in part for part in parts):
        return None
    try:
        path = root.joinpath(*parts).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            return None
        body = path.read_bytes()
        if relative == SERVICE_WORKER and _SHELL_PLACEHOLDER in body:
            shell = json.dumps(shell_of(root), separators=(",", ":")).encode()
            body = body.replace(_SHELL_PLACEHOLDER, shell)
    except (OSError, ValueError):
        return None
    etag = hashlib.blake2b(body, digest_size=12).hexdigest().encode()
    gzipped = None
    if want_gzip and path.suffix.lower() in COMPRESSIBLE:
        gzipped = _gzip_cached(etag, body)
        if len(gzipped) >= len(body):
            gzipped = None
    return _StaticFile(path, body, etag, gzipped)


def accepts_gzip(accept_encoding: bytes | None) -> bool:
    """Whether an ``Accept-Encoding`` value allows gzip (RFC 9110, 12.5.3): named with a q
    above 0, or covered by ``*`` when gzip itself is not named."""
    if not accept_encoding:
        return False
    weights: dict[bytes, float] = {}
    for item in accept_encoding.lower().split(b","):
        coding, *params = (part.strip() for part in item.split(b";"))
        weight = 1.0
        for param in params:
            name, _, value = param.partition(b"=")
            if name.strip() == b"q":
                try:
                    weight = float(value.strip())
                except ValueError:
                    weight = 0.0
        if coding:
            weights[coding] = weight
    for coding in (b"gzip", b"x-gzip", b"*"):
        if coding in weights:
            return weights[coding] > 0
    return False


async def serve_static(request: Request, app: App, params: dict[str, str]) -> Reply:
    relative = request.path.lstrip("/") or "index.html"
    want_gzip = accepts_gzip(request.header(b"accept-encoding"))
    found = await trio.to_thread.run_sync(_read_static, app.config.web_root, relative, want_gzip)
    if found is None:
        raise ChatError(codes.NOT_FOUND, f"no such file: {request.path}")
    content_type = CONTENT_TYPES.get(found.path.suffix.lower(), b"application/octet-stream")
    body, etag = found.body, b'"' + found.etag + b'"'
    headers = [(b"content-security-policy", CONTENT_SECURITY_POLICY),
               (b"cache-control", b"no-cache")]
    if found.path.suffix.lower() in COMPRESSIBLE:
        headers.append((b"vary", b"accept-encoding"))
    if found.gzipped is not None:
        body, etag = found.gzipped, b'"' + found.etag + b'-gz"'
        headers.append((b"content-encoding", b"gzip"))
    headers.append((b"etag", etag))
    if etag in (request.header(b"if-none-match") or b"").replace(b" ", b"").split(b","):
        return Reply(304, b"", content_type, headers)
    return Reply(200, body, content_type, headers)

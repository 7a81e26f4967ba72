"""The web page's files, served from the web root at ``/``.

Every file is revalidated (``no-cache``) against its ETag: the page's modules import each
other, so after an upgrade a browser must never mix a new file with a cached old one, and an
unchanged file costs a 304 without a body. Reads run in a thread (they touch the disk).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import trio

from chatd.actions import App
from chatd.errors import ChatError
from chatd.http.messages import Reply, Request
from chatd.protocol import codes

__all__ = ["CONTENT_SECURITY_POLICY", "CONTENT_TYPES", "serve_static"]

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
CONTENT_SECURITY_POLICY = (
    b"default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; "
    b"script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)

def _read_static(root: Path, relative: str) -> tuple[bytes, Path] | None:
    """The file at ``relative`` under ``root``, or None. Runs in a thread (it touches disk).

    Segments starting with a dot are refused before touching the disk (that covers ``..`` and
    hidden files), and the resolved path, symlinks followed, must still lie inside the root.
    """
    parts = relative.split("/")
    if any(not part or part.startswith(".") or "\\" in part or "\0" in part for part in parts):
        return None
    try:
        path = root.joinpath(*parts).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            return None
        return path.read_bytes(), path
    except (OSError, ValueError):
        return None


async def serve_static(request: Request, app: App, params: dict[str, str]) -> Reply:
    relative = request.path.lstrip("/") or "index.html"
    found = await trio.to_thread.run_sync(_read_static, app.config.web_root, relative)
    if found is None:
        raise ChatError(codes.NOT_FOUND, f"no such file: {request.path}")
    body, path = found
    content_type = CONTENT_TYPES.get(path.suffix.lower(), b"application/octet-stream")
    etag = b'"' + hashlib.blake2b(body, digest_size=12).hexdigest().encode() + b'"'
    headers = [(b"content-security-policy", CONTENT_SECURITY_POLICY),
               (b"cache-control", b"no-cache"), (b"etag", etag)]
    if etag in (request.header(b"if-none-match") or b"").replace(b" ", b"").split(b","):
        return Reply(304, b"", content_type, headers)
    return Reply(200, body, content_type, headers)

"""Answering a :class:`~chatd.http.messages.FileReply`: a file sent from its store in chunks.

Theory of operation
-------------------
The server opens the file in a worker thread and takes its size from the open file (a local
file's ``fstat``, an S3 object's HEAD: :class:`chatd.files.Reader`), then decides the answer
without asking the store again (:func:`plan_file_answer`, a pure
function of the request's headers, the reply and the size), in the order of RFC 9110 §13.2.2:

1. ``If-None-Match`` (weak comparison, ``*`` matches) on a GET or HEAD: 304, no body.
2. ``Range`` (RFC 9110 §14), when ``If-Range`` is absent or names the file's strong ETag:
   one satisfiable range is 206 with ``Content-Range`` (the others, past the end, are left
   out); ranges none of which is satisfiable are 416 with ``Content-Range: bytes */size``;
   two or more satisfiable ranges are answered with the whole file (200), as a server may
   ignore Range, rather than a multipart body; a header we do not read (another unit, a
   malformed or reversed range) is ignored (200).
3. Otherwise 200 with the whole file.

Every 200 and 206 says ``Accept-Ranges: bytes`` and has a Content-Length; a HEAD gets the
same head as the GET would, without the body. The body goes out in chunks of
:data:`CHUNK_BYTES`, each read in a worker thread just before it is sent (from an S3 object:
out of one ranged GET for the span), so a file costs one chunk of memory however large it
is, and a slow reader holds back the reads (each send waits at most
``http.body_idle_timeout``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "CHUNK_BYTES",
    "FileAnswer",
    "RangeNotSatisfiable",
    "Span",
    "etag_matches",
    "parse_range",
    "plan_file_answer",
]

CHUNK_BYTES = 65536

_RANGE_SPEC = re.compile(rb"([0-9]*)-([0-9]*)")


@dataclass(frozen=True, slots=True)
class Span:
    """Bytes ``start`` up to ``stop`` (exclusive) of a file of ``size`` bytes."""

    start: int
    stop: int
    size: int

    @property
    def content_range(self) -> bytes:
        """The Content-Range header's value for this span."""
        return f"bytes {self.start}-{self.stop - 1}/{self.size}".encode()


class RangeNotSatisfiable(Exception):
    """No range of a Range header overlaps the file (416)."""


def parse_range(value: bytes | None, size: int) -> Span | None:
    """The one range a ``Range`` header asks for, in a file of ``size`` bytes.

    ``first-last`` (``last`` past the end is the end), ``first-`` and ``-suffix`` (the last
    ``suffix`` bytes; more than the file is the whole file) are read, with the unit ``bytes``
    in any case and whitespace around each range.

    Returns:
        The span (the only satisfiable range of the header), or None for the whole file: no
        header, another unit, a malformed or reversed range (the header is then ignored), or
        two or more satisfiable ranges (answered whole rather than as a multipart body).

    Raises:
        RangeNotSatisfiable: every range starts at or past the end of the file, or asks for
            the last 0 bytes.
    """
    if value is None:
        return None
    unit, equals, ranges = value.partition(b"=")
    if not equals or unit.strip().lower() != b"bytes":
        return None
    spans: list[Span] = []
    for spec in ranges.split(b","):
        match = _RANGE_SPEC.fullmatch(spec.strip(b" \t"))
        if match is None or match[1] == match[2] == b"":
            return None
        first, last = match[1], match[2]
        if not first:  # -suffix
            suffix = int(last)
            if suffix > 0 and size > 0:
                spans.append(Span(max(0, size - suffix), size, size))
            continue
        start = int(first)
        if last and int(last) < start:
            return None
        if start < size:
            stop = size if not last else min(size, int(last) + 1)
            spans.append(Span(start, stop, size))
    if not spans:
        raise RangeNotSatisfiable(f"no range in {value.decode('latin-1')!r} is within "
                                  f"the {size} bytes")
    return spans[0] if len(spans) == 1 else None


def _tags(value: bytes) -> list[bytes]:
    return [tag.strip() for tag in value.split(b",") if tag.strip()]


def etag_matches(header: bytes | None, etag: bytes | None, *, weak: bool) -> bool:
    """Whether a list of entity tags (``If-None-Match``, ``If-Range``) names ``etag``.

    With ``weak``, ``W/"x"`` and ``"x"`` are the same tag and ``*`` matches any; without,
    a weak tag on either side never matches (RFC 9110 §8.8.3.2).
    """
    if header is None or etag is None:
        return False
    if weak:
        strip = etag.removeprefix(b"W/")
        return any(tag == b"*" or tag.removeprefix(b"W/") == strip for tag in _tags(header))
    return not etag.startswith(b"W/") and etag in _tags(header)


@dataclass(frozen=True, slots=True)
class FileAnswer:
    """What to answer about a file: the status (200, 206, 304 or 416), the headers proper to
    it (Content-Length and Content-Type for 200 and 206), and the bytes to send, if any."""

    status: int
    headers: list[tuple[bytes, bytes]]
    span: Span | None


def plan_file_answer(
    method: bytes, header: dict[bytes, bytes], *, size: int, content_type: bytes,
    etag: bytes | None, extra: list[tuple[bytes, bytes]],
) -> FileAnswer:
    """The answer to a GET or HEAD of a file of ``size`` bytes, as the module's docstring
    orders the conditions.

    Args:
        method: ``b"GET"`` or ``b"HEAD"`` (anything else is answered as GET).
        header: the request's headers by lower-case name (the first value of each).
        size: the file's size.
        content_type: the file's Content-Type.
        etag: its quoted entity tag, or None.
        extra: the reply's own headers (caching, disposition), on 200, 206 and 304.

    Returns:
        The answer; a 416 has ``span`` None and the caller adds its error body.
    """
    tagged = [(b"etag", etag)] if etag is not None else []
    if etag_matches(header.get(b"if-none-match"), etag, weak=True):
        return FileAnswer(304, [*tagged, *extra], None)
    wanted = header.get(b"range")
    if_range = header.get(b"if-range")
    if if_range is not None and not etag_matches(if_range, etag, weak=False):
        wanted = None  # the client's copy is another version: the whole file
    try:
        span = parse_range(wanted, size)
    except RangeNotSatisfiable:
        return FileAnswer(416, [(b"content-range", f"bytes */{size}".encode())], None)
    status = 206 if span is not None else 200
    span = span or Span(0, size, size)
    headers = [(b"content-type", content_type),
               (b"content-length", str(span.stop - span.start).encode()),
               (b"accept-ranges", b"bytes"), *tagged, *extra]
    if status == 206:
        headers.append((b"content-range", span.content_range))
    return FileAnswer(status, headers, span)

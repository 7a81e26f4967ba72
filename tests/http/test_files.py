"""Range and conditional rules of :mod:`chatd.http.files`, without a server."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chatd.http.files import RangeNotSatisfiable, Span, etag_matches, parse_range, plan_file_answer

sizes = st.integers(min_value=0, max_value=300)
positions = st.integers(min_value=0, max_value=400)


@given(size=sizes, first=positions, last=st.none() | positions)
def test_one_range_is_python_slicing(size: int, first: int, last: int | None) -> None:
    """``bytes=first-last`` and ``bytes=first-`` give the bytes Python's slicing gives, 416
    when the range starts past the end, and are ignored when reversed."""
    data = bytes(range(256)) * 2
    data = data[:size]
    header = f"bytes={first}-{'' if last is None else last}".encode()
    if last is not None and last < first:
        assert parse_range(header, size) is None
        return
    if first >= size:
        with pytest.raises(RangeNotSatisfiable):
            parse_range(header, size)
        return
    span = parse_range(header, size)
    assert span is not None
    expected = data[first:] if last is None else data[first:last + 1]
    assert data[span.start:span.stop] == expected and expected


@given(size=sizes, suffix=positions)
def test_suffix_range_is_python_slicing(size: int, suffix: int) -> None:
    """``bytes=-n`` is the last n bytes (the whole file when n is larger); -0, or any suffix
    of an empty file, is 416."""
    data = bytes(size)
    if suffix == 0 or size == 0:
        with pytest.raises(RangeNotSatisfiable):
            parse_range(f"bytes=-{suffix}".encode(), size)
        return
    span = parse_range(f"bytes=-{suffix}".encode(), size)
    assert span is not None and span.stop == size
    assert span.stop - span.start == len(data[-suffix:])


@pytest.mark.parametrize("header", [
    None, b"", b"bytes", b"bytes=", b"bytes=-", b"bytes=a-b", b"bytes=1-2-3", b"bytes= 1 - 2",
    b"items=0-1", b"bytes=0-1,2-3", b"bytes=0-1,abc", b"bytes=+1-2", b"bytes=0x1-2",
])
def test_headers_answered_whole(header: bytes | None) -> None:
    """No header, another unit, a malformed range or several ranges: the whole file."""
    assert parse_range(header, 100) is None


def test_several_ranges() -> None:
    """Of several ranges, the only satisfiable one is answered; two or more satisfiable are
    the whole file; none is 416."""
    assert parse_range(b"bytes=200-300, 0-1", 100) == Span(0, 2, 100)
    assert parse_range(b"bytes=0-1, 5-6, 200-", 100) is None
    with pytest.raises(RangeNotSatisfiable):
        parse_range(b"bytes=200-300, 100-", 100)


def test_content_range() -> None:
    assert Span(0, 10, 100).content_range == b"bytes 0-9/100"


@pytest.mark.parametrize(("header", "etag", "weak", "matches"), [
    (b'"a"', b'"a"', True, True),
    (b'W/"a"', b'"a"', True, True),
    (b'"a"', b'W/"a"', True, True),
    (b'"b", "a"', b'"a"', True, True),
    (b"*", b'"a"', True, True),
    (b'"b"', b'"a"', True, False),
    (b'"a"', None, True, False),
    (None, b'"a"', True, False),
    (b'"a"', b'"a"', False, True),
    (b'W/"a"', b'"a"', False, False),
    (b'"a"', b'W/"a"', False, False),
    (b"*", b'"a"', False, False),
])
def test_etag_matches(header: bytes | None, etag: bytes | None, weak: bool,
                      matches: bool) -> None:
    """Weak comparison for If-None-Match, strong for If-Range (RFC 9110 §8.8.3.2)."""
    assert etag_matches(header, etag, weak=weak) is matches


def test_if_none_match_wins_over_range() -> None:
    """A matching If-None-Match is 304 even with a Range (RFC 9110 §13.2.2)."""
    answer = plan_file_answer(b"GET", {b"if-none-match": b'"a"', b"range": b"bytes=0-1"},
                              size=10, content_type=b"x/y", etag=b'"a"', extra=[])
    assert answer.status == 304 and answer.span is None
    assert answer.headers == [(b"etag", b'"a"')]


def test_if_range_needs_a_strong_etag() -> None:
    """If-Range against a weak ETag (or none) serves the whole file."""
    for etag in (b'W/"a"', None):
        answer = plan_file_answer(b"GET", {b"if-range": b'W/"a"', b"range": b"bytes=0-1"},
                                  size=10, content_type=b"x/y", etag=etag, extra=[])
        assert answer.status == 200 and answer.span == Span(0, 10, 10)

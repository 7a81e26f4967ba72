"""Signed links (chatd/links.py): the expiry's rounding, and which signatures are refused.
Pure: time and the key are arguments."""

from __future__ import annotations

import urllib.parse

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chatd.links import LinkRefused, check_link, link_expiry, link_signature, signed_url

KEY = b"k" * 32
NOW = 1_800_000_000.5
WINDOW = 3600


def _query(url: str) -> dict[str, list[str]]:
    return urllib.parse.parse_qs(urllib.parse.urlsplit(url).query, keep_blank_values=True)


@given(now=st.floats(0, 4e9), window=st.integers(1, 10**6))
def test_expiry_is_one_to_two_windows_away_and_shared_within_a_window(now: float,
                                                                      window: int) -> None:
    """exp is the end of the current window plus one window: between one and two windows
    after now, a multiple of the window, the same all through the window."""
    exp = link_expiry(now, window)
    assert exp % window == 0
    assert now + window <= exp <= now + 2 * window
    start = int(now) // window * window
    assert link_expiry(start, window) == exp == link_expiry(start + window - 1, window)


def test_a_signed_url_is_accepted_until_it_expires() -> None:
    """A link checks for its variant and file until exp, not at exp."""
    exp = link_expiry(NOW, WINDOW)
    url = signed_url("/api/files/7/a.png", KEY, "file", 7, exp)
    assert url.startswith("/api/files/7/a.png?exp=")
    assert check_link(_query(url), KEY, "file", 7, NOW) == exp
    assert check_link(_query(url), KEY, "file", 7, exp - 0.001) == exp
    with pytest.raises(LinkRefused, match="expired"):
        check_link(_query(url), KEY, "file", 7, exp)


def _tampered(sig: str) -> str:
    return ("A" if sig[0] != "A" else "B") + sig[1:]


@pytest.mark.parametrize(("change", "match"), [
    (lambda q: {**q, "sig": [_tampered(q["sig"][0])]}, "signature"),
    (lambda q: {**q, "exp": [str(int(q["exp"][0]) + 3600)]}, "signature"),
    (lambda q: {**q, "sig": [q["sig"][0][:-1]]}, "signature"),
    (lambda q: {**q, "sig": [q["sig"][0] + "="]}, "signature"),
    (lambda q: {**q, "sig": ["é" * 43]}, "signature"),
    (lambda q: {"exp": q["exp"]}, "'sig'"),
    (lambda q: {"sig": q["sig"]}, "'exp'"),
    (lambda q: {**q, "sig": q["sig"] * 2}, "'sig'"),
    (lambda q: {**q, "exp": ["-1"]}, "'exp'"),
    (lambda q: {**q, "exp": ["1e12"]}, "'exp'"),
    (lambda q: {**q, "exp": ["٣٦٠٠"]}, "'exp'"),
    (lambda q: {**q, "exp": ["9" * 13]}, "'exp'"),
])
def test_tampered_links_are_refused(change: object, match: str) -> None:
    """A changed, cut, padded or non-ASCII signature, a changed exp, a missing, repeated or
    malformed field: refused, saying which."""
    query = _query(signed_url("/api/files/7/a", KEY, "file", 7, link_expiry(NOW, WINDOW)))
    with pytest.raises(LinkRefused, match=match):
        check_link(change(query), KEY, "file", 7, NOW)  # type: ignore[operator]


def test_a_signature_is_for_one_file_variant_and_key() -> None:
    """Another file's signature, the file's signature on its thumbnail (and back), and a
    signature under another key are refused."""
    exp = link_expiry(NOW, WINDOW)
    query = _query(signed_url("/api/files/7/a", KEY, "file", 7, exp))
    for variant, file_id, key in (("file", 8, KEY), ("thumbnail", 7, KEY),
                                  ("file", 7, b"j" * 32)):
        with pytest.raises(LinkRefused, match="signature"):
            check_link(query, key, variant, file_id, NOW)
    thumb = _query(signed_url("/api/thumbnails/7", KEY, "thumbnail", 7, exp))
    assert check_link(thumb, KEY, "thumbnail", 7, NOW) == exp
    with pytest.raises(LinkRefused):
        check_link(thumb, KEY, "file", 7, NOW)


def test_signatures_are_unpadded_base64url_of_32_bytes() -> None:
    """A signature is 43 characters of the URL-safe alphabet: nothing to escape in a url."""
    sig = link_signature(KEY, "file", 1, 3600)
    assert len(sig) == 43
    assert set(sig) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    with pytest.raises(ValueError, match="variant"):
        link_signature(KEY, "other", 1, 3600)

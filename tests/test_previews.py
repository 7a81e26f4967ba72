"""What a page says of itself (chatd.previews.parse_page): Open Graph first, then Twitter's
cards, then ``<title>`` and ``<meta name=description>``; any bytes give a result or nothing,
never an exception. The fetching itself is tested end to end (tests/e2e/test_previews.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chatd.previews import (
    MAX_DESCRIPTION_CHARS,
    MAX_TITLE_CHARS,
    Failed,
    PageFacts,
    parse_page,
    requestable,
)

URL = "https://forge.example/pr/12"


def page(head: str, body: str = "") -> bytes:
    return f"<!doctype html><html><head>{head}</head><body>{body}</body></html>".encode()


def test_open_graph_comes_first() -> None:
    """og: tags win over twitter: ones and over <title>, whatever their order."""
    facts = parse_page(page(
        '<title>Plain</title><meta name="twitter:title" content="Tweet">'
        '<meta property="og:title" content="Graph"><meta name=description content="desc">'
        '<meta property="og:description" content="og desc">'
        '<meta property="og:site_name" content="Forge">'
        '<meta property="og:image" content="https://cdn.example/a.png">'), URL)
    assert facts == PageFacts(title="Graph", description="og desc", site="Forge",
                              image="https://cdn.example/a.png")


def test_fallbacks() -> None:
    """Without Open Graph: Twitter's card, then <title> and <meta name=description>; the
    site is the host without www.; a relative picture is made absolute."""
    assert parse_page(page('<meta name="twitter:title" content="Tweet">'
                           '<meta name="twitter:image" content="/i.png">'),
                      "https://www.forge.example/x/y") == PageFacts(
        title="Tweet", description="", site="forge.example",
        image="https://www.forge.example/i.png")
    assert parse_page(page("<title>\n  Just  the\ttitle </title>"
                           '<meta name="Description" content="Words">'), URL) == PageFacts(
        title="Just the title", description="Words", site="forge.example", image="")


def test_text_is_decoded_trimmed_and_never_markup() -> None:
    """Entities are decoded, white space made one space, control characters dropped, and
    long texts cut with an ellipsis; a script's text is never a title."""
    facts = parse_page(page(
        "<script>document.title = '<title>no</title>'</script>"
        '<meta property="og:title" content="Tom &amp; Jerry&#39;s &lt;b&gt;\u0007">'
        f'<meta property="og:description" content="{"word " * 200}">'), URL)
    assert facts is not None
    assert facts.title == "Tom & Jerry's <b>"
    assert len(facts.description) == MAX_DESCRIPTION_CHARS and facts.description.endswith("…")
    long = parse_page(page(f"<title>{'x' * 1000}</title>"), URL)
    assert long is not None and len(long.title) == MAX_TITLE_CHARS


def test_no_title_no_preview() -> None:
    """A page with no title (or a blank one) gives nothing, whatever else it has."""
    assert parse_page(page('<meta property="og:description" content="d"><title>  </title>'),
                      URL) is None
    assert parse_page(b"", URL) is None


def test_encodings() -> None:
    """The Content-Type's charset, else the page's <meta charset>, else UTF-8; an unknown
    name is ignored."""
    latin = "<html><head><title>Café</title></head></html>".encode("latin-1")
    assert parse_page(latin, URL, "iso-8859-1").title == "Café"  # type: ignore[union-attr]
    meta = b'<html><head><meta charset="windows-1252"><title>Caf\xe9</title></head></html>'
    assert parse_page(meta, URL).title == "Café"  # type: ignore[union-attr]
    assert parse_page("<title>Café</title>".encode(), URL, "no-such").title == "Café"  # type: ignore[union-attr]


def test_pictures_only_http() -> None:
    """A picture that is not an http(s) URL chatd could fetch is no picture."""
    for ref in ("javascript:alert(1)", "data:image/png;base64,AAAA", "ftp://x/y.png",
                "https://user:pw@x.example/a.png", "   "):
        facts = parse_page(page(f'<title>t</title><meta property="og:image" content="{ref}">'),
                           URL)
        assert facts is not None and facts.image == "", ref


@given(st.binary(max_size=4096))
def test_any_bytes_give_a_result_or_nothing(data: bytes) -> None:
    """Any bytes: a PageFacts with a title, or None; never an exception."""
    facts = parse_page(data, URL)
    assert facts is None or (facts.title and "\n" not in facts.title)


_markup = st.lists(st.sampled_from([
    "<title>", "</title>", "<meta property=og:title content='x'>", "<meta", "content=",
    "<!--", "-->", "<![CDATA[", "]]>", "<script>", "</script>", "&amp;", "&#", "&#x110000;",
    "<!", "<?", "<", ">", "'", '"', "=", " ", "\x00", "\ud800", "é", "<style>", "<svg>",
    "<title x=", "<![if", "</", "a",
]), max_size=60).map("".join)


@given(_markup, st.sampled_from([None, "utf-8", "latin-1", "utf-16", "bogus"]))
def test_any_markup_gives_a_result_or_nothing(text: str, charset: str | None) -> None:
    """Broken markup of every kind, in any declared encoding: a result or nothing."""
    facts = parse_page(text.encode("utf-8", "surrogatepass"), URL, charset)
    assert facts is None or facts.title


def test_links_are_asked_for_as_browsers_do() -> None:
    """A link as people write it is asked for in ASCII (the host in IDNA, the rest
    percent-encoded) and without its fragment; an ASCII link without one is left alone; a
    host that is no name is refused."""
    assert requestable("https://de.wikipedia.org/wiki/Köln#Geschichte") == \
        "https://de.wikipedia.org/wiki/K%C3%B6ln"
    assert requestable("https://bücher.example:8443/a b?q=ä&x=1") == \
        "https://xn--bcher-kva.example:8443/a%20b?q=%C3%A4&x=1"
    assert requestable("http://[::1]:8080/é#x") == "http://[::1]:8080/%C3%A9"
    assert requestable("https://a.example/p?q=%20") == "https://a.example/p?q=%20"
    with pytest.raises(Failed) as refused:
        requestable("https://" + "ä" * 70 + ".example/")
    assert refused.value.reason == "refused"

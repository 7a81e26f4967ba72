"""Link previews: the card under a message with a link (the page's title, site, description
and picture), made by the server off the send path and stored as an entry of the room's log.

Theory of operation
-------------------
The committer offers every batch of committed entries to the :class:`Previewer` (as it does
to the pusher and the webhook sender: :class:`chatd.httpout.Dispatcher`, never waiting). Only
new messages whose text holds "http", and edits, are looked at: the first link of the text as
the page renders it, outside code (:func:`chatd.protocol.markup.first_link`). A message
without one costs nothing more; an edit without one is a job too (its old preview, if any,
must go). Only the node that committed an entry offers it, so a link is previewed once
whatever the number of nodes.

A worker fetches the page (:func:`fetch`): a GET through the dispatcher's
:class:`~chatd.httpout.Poster`, whose network backend connects only to public addresses
(:mod:`chatd.addresses`, checked on the address connected to: DNS rebinding is closed;
``[previews] allow_private_addresses`` lifts it for tests), with redirects followed by hand,
at most :data:`MAX_REDIRECTS`, each hop's URL checked again; no cookies (nothing keeps
them), a User-Agent naming chatd, ``[previews] timeout_seconds`` for all of it, and at most
``[previews] max_html_bytes`` of the page read (the rest is never read: the connection is
closed). Only a 200 with a text/html (or XHTML) type is parsed (:func:`parse_page`, the
standard library's HTMLParser: nothing is executed, entities are decoded, text is trimmed):
Open Graph first (``og:title``, ``og:description``, ``og:site_name``, ``og:image``), then
Twitter's cards, then ``<title>`` and ``<meta name=description>``. A page without a title
gives no preview. The picture, if the page names one, is fetched the same way (up to
``[files] max_bytes``, an image type only) and made a thumbnail in a worker thread by
:mod:`chatd.thumbnails` (which decides by the bytes whether it is an image at all); chatd
stores and serves it as a file of the room, so readers load it from chatd with the same
signed links as attachments' thumbnails, and the site never learns who reads the room.

The result is committed as a change (``NewChange`` of kind ``"preview"``), which storage
keeps only if the link is still the text's first (the message may have been edited or
deleted meanwhile) and was not decided already (a preview its author removed stays removed
until the link changes): see chatd.storage.changes. Committed, it is published like any
entry, live and on resume, in seq order.

A cache, in memory and per node, keeps each link's outcome (a preview, or none) for
:data:`CACHE_SECONDS`, at most :data:`CACHE_ENTRIES` links: the same link pasted again
within the hour (in another room, by someone else, or an edit that kept it) is not fetched
again. Links being fetched are fetched once: a second job for the same link waits for the
first. Outcomes that may be passing (a timeout, a network error) are not kept. A cached
picture whose bytes were collected since (its messages deleted) is fetched again. Per node,
not in the database: an hour of a few thousand links is small, and a node that starts empty
fetches a link again once, at worst.

Metrics: ``chatd_preview_queued_total``, ``chatd_preview_fetched_total``,
``chatd_preview_cached_total``, ``chatd_preview_failed_total{reason}``
(:data:`chatd.metrics.PREVIEW_FAILURES`) and ``chatd_preview_dropped_total{stage}``.
"""

from __future__ import annotations

import codecs
import collections
import dataclasses
import html.parser
import logging
import re
import urllib.parse
from collections.abc import Awaitable, Callable, Sequence

import trio
from prometheus_client import Counter

from chatd import __version__
from chatd.addresses import RefusedAddress, check_url
from chatd.config import FilesConfig, PreviewsConfig
from chatd.errors import ChatError
from chatd.files import FileStore, StoreUnavailable, Upload
from chatd.httpout import Counters, Dispatcher, Fetched, Poster, Retry, header
from chatd.metrics import Metrics
from chatd.protocol.markup import first_link
from chatd.storage import COMMAND_LINE, Appended, Message, NewChange, Preview, PreviewImage

__all__ = [
    "CACHE_ENTRIES",
    "CACHE_SECONDS",
    "MAX_DESCRIPTION_CHARS",
    "MAX_REDIRECTS",
    "MAX_SITE_CHARS",
    "MAX_TITLE_CHARS",
    "USER_AGENT",
    "Failed",
    "Job",
    "PageFacts",
    "Previewer",
    "fetch",
    "parse_page",
    "requestable",
]

log = logging.getLogger(__name__)

#: Redirects followed at most (each hop's URL and address checked again).
MAX_REDIRECTS = 3
#: Seconds a link's outcome is kept (see the module's docstring).
CACHE_SECONDS = 3600.0
#: Links whose outcome is kept at most (the oldest go first).
CACHE_ENTRIES = 4096
#: The longest title, description and site name kept, in characters (longer ones are cut,
#: with an ellipsis).
MAX_TITLE_CHARS = 200
MAX_DESCRIPTION_CHARS = 300
MAX_SITE_CHARS = 80
#: What chatd calls itself to the sites it fetches.
USER_AGENT = f"chatd/{__version__} (link preview)"

_HTML_TYPES = ("text/html", "application/xhtml+xml")
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# Outcomes that may be passing: not kept in the cache.
_PASSING = frozenset({"timeout", "unavailable", "internal"})
# A charset named in the page itself (<meta charset=...> or http-equiv), in its first bytes.
_META_CHARSET = re.compile(rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]{1,40})""",
                           re.IGNORECASE)


class Failed(Exception):
    """A page (or a picture) that gives nothing; ``reason`` is one of
    :data:`chatd.metrics.PREVIEW_FAILURES`."""

    def __init__(self, reason: str, why: str) -> None:
        super().__init__(why)
        self.reason = reason


@dataclasses.dataclass(frozen=True, slots=True)
class PageFacts:
    """What a page says of itself: ``title`` (never empty), ``description`` and ``site``
    (maybe empty), and the absolute http(s) URL of its ``image`` ("" for none)."""

    title: str
    description: str
    site: str
    image: str


class _HeadParser(html.parser.HTMLParser):
    """The ``<meta>`` tags (property or name, lower case → content; the first of each) and
    the first ``<title>`` of a page. Scripts and styles are skipped by HTMLParser itself."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.meta: dict[str, str] = {}
        self.title: list[str] = []
        self._in_title = False
        self._titled = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "meta":
            values = {key: value or "" for key, value in attrs}
            key = (values.get("property") or values.get("name") or "").strip().lower()
            if key and "content" in values:
                self.meta.setdefault(key, values["content"])
        elif tag == "title" and not self._titled:
            self._in_title = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "title" and self._in_title:
            self._in_title, self._titled = False, True

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title.append(data)


def _clean(text: str, most: int) -> str:
    """``text`` on one line (runs of white space made one space), without unprintable
    characters, cut to ``most`` characters (with an ellipsis)."""
    text = "".join(c for c in " ".join(text.split()) if c.isprintable())
    if len(text) > most:
        text = text[:most - 1].rstrip() + "…"
    return text


def _charset(declared: str | None, body: bytes) -> str:
    """The page's encoding: the one its Content-Type declares, else one its first bytes
    name, else UTF-8 (a name Python does not know counts as none)."""
    for name in (declared, _sniffed(body)):
        if name:
            try:
                return codecs.lookup(name).name
            except LookupError:
                continue
    return "utf-8"


def _sniffed(body: bytes) -> str | None:
    if body.startswith(codecs.BOM_UTF8):
        return "utf-8"
    if body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    match = _META_CHARSET.search(body[:4096])
    return match.group(1).decode("ascii") if match else None


def _absolute(base: str, ref: str) -> str:
    """``ref`` (a picture's URL as the page wrote it) made absolute against ``base``; ""
    unless it is an http(s) URL chatd could fetch."""
    ref = ref.strip()
    if not ref:
        return ""
    try:
        url = urllib.parse.urljoin(base, ref)
        if not url.isascii():
            url = urllib.parse.quote(url, safe=":/?#[]@!$&'()*+,;=%~")
        check_url(url, "image", allow_http=True)
    except ValueError:
        return ""
    return url


def parse_page(body: bytes, url: str, charset: str | None = None) -> PageFacts | None:
    """What the HTML ``body`` (fetched from ``url``, maybe cut short) says of itself, or None
    when it has no title. Any bytes give one or the other, never an exception: a page is a
    stranger's input.

    Args:
        charset: the encoding its Content-Type declared, if any.
    """
    text = body.decode(_charset(charset, body), errors="replace")
    parser = _HeadParser()
    try:
        parser.feed(text)
        parser.close()
    except Exception:
        log.debug("the page of %s did not parse to its end", url, exc_info=True)
    meta = parser.meta

    def first(*keys: str) -> str:
        for key in keys:
            value = meta.get(key, "")
            if value.strip():
                return value
        return ""

    title = _clean(first("og:title", "twitter:title") or "".join(parser.title),
                   MAX_TITLE_CHARS)
    if not title:
        return None
    description = _clean(first("og:description", "twitter:description", "description"),
                         MAX_DESCRIPTION_CHARS)
    site = _clean(first("og:site_name", "application-name"), MAX_SITE_CHARS)
    if not site:
        host = urllib.parse.urlsplit(url).hostname or ""
        site = _clean(host.removeprefix("www."), MAX_SITE_CHARS)
    image = _absolute(url, first("og:image:secure_url", "og:image", "og:image:url",
                                 "twitter:image", "twitter:image:src"))
    return PageFacts(title=title, description=description, site=site, image=image)


def _media_type(answer: Fetched) -> tuple[str, str | None]:
    """The answer's media type (lower case) and the charset it declares, if any."""
    value = (header(answer.headers, b"content-type") or b"").decode("latin-1")
    kind, _, params = value.partition(";")
    charset = None
    for param in params.split(";"):
        key, _, val = param.partition("=")
        if key.strip().lower() == "charset":
            charset = val.strip().strip("\"'") or None
    return kind.strip().lower(), charset


def requestable(url: str) -> str:
    """``url`` as it is asked for: without its fragment (never sent), its host in IDNA and
    what is not ASCII elsewhere percent-encoded, as browsers do (a link as people write it:
    ``https://de.wikipedia.org/wiki/Köln#Geschichte``). The scheme, host and port are
    :func:`~chatd.addresses.check_url`'s to judge.

    Raises:
        Failed: ``refused``, for a host that is no valid name or a port out of range.
    """
    url = url.strip()
    if url.isascii() and "#" not in url:
        return url
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
        host = parts.hostname or ""
        if not host.isascii():
            host = host.encode("idna").decode("ascii")
    except (ValueError, UnicodeError) as exc:
        raise Failed("refused", f"{url[:200]!r} is not a URL chatd can fetch ({exc})") from None
    if ":" in host:
        host = f"[{host}]"
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = (f"{userinfo}@" if userinfo else "") + host + (f":{port}" if port else "")
    path = urllib.parse.quote(parts.path, safe="/%:@!$&'()*+,;=~")
    query = urllib.parse.quote(parts.query, safe="/%:@!$&'()*+,;=~?")
    return urllib.parse.urlunsplit((parts.scheme, netloc, path, query, ""))


async def fetch(poster: Poster, url: str, *, accept: str, max_bytes: int, seconds: float,
                sink: Callable[[bytes], Awaitable[None]] | None = None
                ) -> tuple[str, Fetched]:
    """GET ``url``, following up to :data:`MAX_REDIRECTS` redirects by hand (each hop's URL
    checked for its form here, and its addresses by the poster's backend when it connects),
    within ``seconds`` in all: the final URL and its 200 answer (at most ``max_bytes`` of
    its body; with ``sink``, the body goes there, as :meth:`Poster.get` says).

    Raises:
        Failed: refused, timeout, unavailable, status or redirects.
    """
    headers = [(b"User-Agent", USER_AGENT.encode()), (b"Accept", accept.encode()),
               (b"Accept-Encoding", b"identity")]
    try:
        with trio.fail_after(seconds):
            for _ in range(MAX_REDIRECTS + 1):
                url = requestable(url)
                try:
                    check_url(url, "url", allow_http=True)
                except ValueError as exc:
                    raise Failed("refused", str(exc)) from None
                answer = await poster.get(url, headers, max_bytes=max_bytes, seconds=seconds,
                                          sink=sink)
                if answer.status not in _REDIRECTS:
                    if answer.status != 200:
                        raise Failed("status", f"HTTP {answer.status}")
                    return url, answer
                location = header(answer.headers, b"location")
                if not location:
                    raise Failed("status", f"HTTP {answer.status} without a Location")
                # Sent as UTF-8 by most servers that send more than ASCII; made ASCII above.
                url = urllib.parse.urljoin(url, location.decode("utf-8", "replace").strip())
    except trio.TooSlowError:
        raise Failed("timeout", f"no answer within {seconds} s") from None
    except RefusedAddress as exc:
        raise Failed("refused", str(exc)) from None
    except Retry as exc:
        reason = "timeout" if "Timeout" in str(exc) or "TooSlow" in str(exc) else "unavailable"
        raise Failed(reason, str(exc)) from None
    raise Failed("redirects", f"more than {MAX_REDIRECTS} redirects")


@dataclasses.dataclass(frozen=True, slots=True)
class Job:
    """A message to preview: its room and id, and its first link ("" for none: an edit
    that took it away)."""

    room: str
    msg_id: int
    url: str
    edited: bool


@dataclasses.dataclass(slots=True)
class _Outcome:
    """A link's preview (or None), when it was found (trio's clock), and the upload of its
    picture's thumbnail while it is not known to be in a row (finished after the commit)."""

    preview: Preview | None
    at: float
    thumb: Upload | None = None


class Previewer(Dispatcher[Job]):
    """The link previews' actor (see the module's docstring).

    Args:
        store: where the pictures' thumbnails go.
        metrics: the ``chatd_preview_*`` counters.
        config: ``[previews]``.
        files: ``[files]`` (a picture's size limit and its pixels').
        commit: stores a change and returns its outcome (the committer's ``commit``).
    """

    def __init__(self, store: FileStore, metrics: Metrics, config: PreviewsConfig,
                 files: FilesConfig,
                 commit: Callable[[NewChange], Awaitable[Appended]]) -> None:
        super().__init__(
            "a link preview",
            Counters(metrics.preview_queued, metrics.preview_fetched,
                     Counter("chatd_preview_retries", "unused: previews are not retried",
                             registry=None),
                     metrics.preview_failed, metrics.preview_dropped),
            concurrency=config.concurrency, allow_private=config.allow_private_addresses,
            queue_size=config.queue_size, attempts=1, retry_delay=0.0)
        self._store = store
        self._metrics = metrics
        self._config = config
        self._files = files
        self._commit = commit
        self._cache: collections.OrderedDict[str, _Outcome] = collections.OrderedDict()
        self._fetching: dict[str, trio.Event] = {}
        self.some = config.enabled

    def offer(self, messages: Sequence[Message]) -> None:
        """Committed entries: the new messages with "http" in their text, and the edits,
        are queued (never waited for; dropped and counted when the queue is full)."""
        if not self.some:
            return
        looked = tuple(m for m in messages if m.kind == "edited"
                       or (m.kind == "message" and "http" in m.text.lower()))
        if not looked:
            return
        try:
            self._commits_in.send_nowait(looked)
        except trio.WouldBlock:
            self._counters.dropped.labels("lookup").inc(len(looked))

    async def resolve(self, messages: Sequence[Message]) -> list[Job]:
        jobs: dict[tuple[str, int], Job] = {}
        for m in messages:
            url = first_link(m.text)
            if url or m.kind == "edited":
                jobs[(m.room, m.msg_id)] = Job(m.room, m.msg_id, url, m.kind == "edited")
        return list(jobs.values())

    def describe(self, job: Job) -> str:
        return f"{job.url or 'no link'} (message {job.msg_id} of #{job.room})"

    async def deliver(self, job: Job) -> None:
        outcome = await self.outcome(job.url) if job.url else None
        preview = outcome.preview if outcome is not None else None
        if preview is None and not job.edited:
            return  # a new message has no preview to remove
        # The picture's upload goes with the first commit that uses it (the cache's next
        # users find the bytes in the store, or fetch them again).
        thumb = outcome.thumb if outcome is not None else None
        if outcome is not None:
            outcome.thumb = None
        stored = False
        try:
            appended = await self._commit(NewChange(
                user_id=COMMAND_LINE, room=job.room, msg_id=job.msg_id, kind="preview",
                url=job.url, preview=preview))
            stored = not appended.duplicate
        except ChatError as exc:  # the message or its room is gone, or archived
            log.debug("no preview stored for %s: %s", self.describe(job), exc)
        finally:
            if thumb is not None:
                with trio.CancelScope(shield=True):
                    await self._settle(thumb, stored)

    async def _settle(self, thumb: Upload, stored: bool) -> None:
        """Once its row is committed (``stored``), make sure a picture's bytes are in the
        store (a collection may have taken them meanwhile: chatd.files); then remove the
        temporary file either way."""
        try:
            if stored:
                await self._store.run(thumb.finish)
        except StoreUnavailable as exc:
            log.warning("a preview's picture could not be checked once stored: %s", exc)
        finally:
            await trio.to_thread.run_sync(thumb.discard)

    async def outcome(self, url: str) -> _Outcome:
        """The preview of ``url``: from the cache, or fetched (once at a time per link)."""
        while True:
            kept = self._cache.get(url)
            if kept is not None and trio.current_time() - kept.at < CACHE_SECONDS:
                image = kept.preview.image if kept.preview is not None else None
                if image is None or await self._store.run(self._store.has, image.sha256):
                    self._metrics.preview_cached.inc()
                    return kept
            busy = self._fetching.get(url)
            if busy is None:
                break
            await busy.wait()
        done = self._fetching[url] = trio.Event()
        try:
            found = await self._found(url)
        finally:
            del self._fetching[url]
            done.set()
        return found

    async def _found(self, url: str) -> _Outcome:
        preview: Preview | None = None
        thumb: Upload | None = None
        try:
            facts = await self._page(url)
            image, thumb = await self._picture(facts.image) if facts.image else (None, None)
            preview = Preview(url=url, title=facts.title, description=facts.description,
                              site=facts.site, image=image)
            self._metrics.preview_fetched.inc()
        except Failed as exc:
            log.info("no preview of %s (%s): %s", url, exc.reason, exc)
            self._metrics.preview_failed.labels(exc.reason).inc()
            if exc.reason in _PASSING:
                return _Outcome(None, trio.current_time())
        except Exception:
            log.exception("the preview of %s failed", url)
            self._metrics.preview_failed.labels("internal").inc()
            return _Outcome(None, trio.current_time())
        found = _Outcome(preview, trio.current_time(), thumb)
        self._cache[url] = found
        self._cache.move_to_end(url)
        while len(self._cache) > CACHE_ENTRIES:
            self._cache.popitem(last=False)
        return found

    async def _page(self, url: str) -> PageFacts:
        final, answer = await fetch(
            self.poster, url, accept="text/html,application/xhtml+xml;q=0.9,*/*;q=0.1",
            max_bytes=self._config.max_html_bytes, seconds=self._config.timeout_seconds)
        kind, charset = _media_type(answer)
        if kind not in _HTML_TYPES:
            raise Failed("not_html", f"{kind or 'no type'}, not HTML")
        facts = await trio.to_thread.run_sync(parse_page, answer.body, final, charset)
        if facts is None:
            if answer.truncated:
                raise Failed("too_large", f"no title in its first {len(answer.body)} bytes")
            raise Failed("no_title", "the page has no title")
        return facts

    async def _picture(self, url: str) -> tuple[PreviewImage | None, Upload | None]:
        """The thumbnail of the picture at ``url``, placed in the store (its upload to
        finish once its row is committed), or (None, None): a picture that cannot be had
        leaves the preview without one."""
        from chatd.http.uploads import place_thumbnail  # the HTTP layer imports this module

        max_pixels = self._files.max_image_pixels
        if max_pixels <= 0:
            return None, None
        pending = await trio.to_thread.run_sync(self._store.open_upload)
        try:
            async def written(chunk: bytes) -> None:  # to disk as it comes, not to memory
                await trio.to_thread.run_sync(pending.write, chunk)

            try:
                _, answer = await fetch(self.poster, url, accept="image/*",
                                        max_bytes=self._files.max_bytes,
                                        seconds=self._config.timeout_seconds, sink=written)
            except Failed as exc:
                log.info("no picture for a preview from %s (%s): %s", url, exc.reason, exc)
                return None, None
            kind, _ = _media_type(answer)
            if answer.truncated or not kind.startswith("image/"):
                log.info("no picture for a preview from %s: %s", url,
                         "too large" if answer.truncated else f"{kind or 'no type'}")
                return None, None
            facts, thumb = await place_thumbnail(self._store, pending.path, max_pixels)
        except StoreUnavailable as exc:
            log.warning("a preview's picture could not be stored: %s", exc)
            return None, None
        finally:
            with trio.CancelScope(shield=True):
                await trio.to_thread.run_sync(pending.discard)
        if facts is None or thumb is None:
            return None, None
        return PreviewImage(sha256=facts.thumb_sha256, size=thumb.size,
                            width=facts.thumb_width, height=facts.thumb_height), thumb


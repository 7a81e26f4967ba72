"""The installable page in a real Chromium: its service worker, offline shell and Web Push.

What is driven for real: the worker's registration, install (the shell cached) and activation;
reloads while the daemon is stopped (the worker answers from its cache); an update of the page
(a new worker, a new cache, the old one gone); the manifest as Chromium parses it, with its
installability checked by the DevTools protocol; a push delivered to the worker through the
DevTools protocol (``ServiceWorker.deliverPushMessage``: what a push service would hand the
browser, minus the encryption, which the browser removes before the worker sees it).

What is not: no push service is reachable from here, so nothing travels from the daemon to the
browser through one (the daemon's side of that is tested against a local push service in the
server's tests). A notification cannot be clicked through the DevTools protocol either: the
test dispatches a ``notificationclick`` to the worker's own listener from inside the worker
(Playwright evaluates in it). Such an event is not trusted, so the worker may not focus a
window or open a new one; that it opens /#room=NAME when no window is there is covered by the
unit tests (tests/web/webpush.test.mjs) and by loading /#room=NAME here.

Every wait is for a state: a Playwright expectation, or a promise in the page or the worker
that settles when the state is reached.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Locator,
    Page,
    Playwright,
    Response,
    Worker,
    expect,
)
from playwright.sync_api import Error as PlaywrightError

from tests.browser.conftest import (
    CHROMIUM,
    CHROMIUM_ARGS,
    DESKTOP,
    ROOT,
    Daemon,
    LineClient,
    _running,
    http_json,
    needs_chromium,
    register_and_login,
)
from tests.browser.test_web import TIMEOUT_MS, Session, log_in, open_session, register

pytestmark = [pytest.mark.slow, needs_chromium]

WEB = ROOT / "clients" / "web"
MARK = '<meta name="chatd-test" content="a changed page">'
# How long a state of the service worker's may take: it starts, asks the page and writes
# notifications in processes of its own, slow on a busy machine (CI failed at 10 s).
WAIT_MS = 3 * TIMEOUT_MS

# Conditions polled in the page by wait_in: each answers null until it holds.

# A service worker controls the page: its script's URL.
CONTROLLER = """async () => navigator.serviceWorker.controller
  ? navigator.serviceWorker.controller.scriptURL : null"""

# The shell caches are exactly one, other than `old`: its name.
NEW_CACHE = """async (old) => {
  const names = (await caches.keys()).filter((name) => name.startsWith("chatd-shell-"));
  return names.length === 1 && names[0] !== old ? names[0] : null;
}"""

# The worker shows a notification with this {tag, body}: what the notifications say then.
NOTIFICATIONS = """async ({ tag, body }) => {
  const registration = await navigator.serviceWorker.ready;
  const shown = await registration.getNotifications();
  if (!shown.some((n) => n.tag === tag && n.body === body)) return null;
  return shown.map((n) => ({ title: n.title, body: n.body, tag: n.tag, data: n.data,
    renotify: n.renotify, icon: n.icon, badge: n.badge }));
}"""

# No notification has this tag: the tags of those left.
GONE = """async (tag) => {
  const registration = await navigator.serviceWorker.ready;
  const shown = await registration.getNotifications();
  return shown.some((n) => n.tag === tag) ? null : shown.map((n) => ({ tag: n.tag }));
}"""

# In the page: the shell caches and what each holds (paths).
CACHES = """async () => {
  const found = {};
  for (const name of await caches.keys()) {
    const cache = await caches.open(name);
    found[name] = (await cache.keys()).map((request) => new URL(request.url).pathname).sort();
  }
  return found;
}"""

# In the worker: click the notification tagged `tag` (an untrusted event, to its listener).
CLICK = """async (tag) => {
  const [notification] = await self.registration.getNotifications({ tag });
  if (!notification) return false;
  self.dispatchEvent(new NotificationEvent("notificationclick", { notification }));
  return true;
}"""


class WebRootDaemon(Daemon):
    """A daemon serving a copy of the page from ``web_root``, which the test may change."""

    def __init__(self, workdir: Path, dsn: str, web_root: Path) -> None:
        super().__init__(workdir, dsn)
        self.web_root = web_root

    def _spawn(self, extra: dict[str, str]) -> Any:
        return super()._spawn({**extra, "CHATD_HTTP_WEB_ROOT": str(self.web_root)})


@pytest.fixture
def copied_daemon(tmp_path: Path, database_dsn: str) -> Iterator[Daemon]:
    """As ``daemon``, serving a copy of clients/web (tmp_path/web)."""
    web_root = tmp_path / "web"
    shutil.copytree(WEB, web_root)
    yield from _running(WebRootDaemon(tmp_path, database_dsn, web_root))


def wait_in(page: Page, check: str, arg: Any = None, *, what: str) -> Any:
    """What the async function ``check(arg)`` answers in the page once it is not null
    (polled; Playwright's evaluate has no timeout of its own, so this one fails after
    WAIT_MS rather than hang)."""
    script = f"""async ({{ arg, limit }}) => {{
      const check = {check};
      const until = Date.now() + limit;
      for (;;) {{
        const found = await check(arg);
        if (found !== null || Date.now() > until) return found;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }}
    }}"""
    found = page.evaluate(script, {"arg": arg, "limit": WAIT_MS})
    assert found is not None, f"timed out waiting for {what}"
    return found


def controlled(page: Page) -> str:
    """Wait until a service worker controls the page; its script's path."""
    url = wait_in(page, CONTROLLER, what="a service worker to control the page")
    assert isinstance(url, str)
    return url.split("/", 3)[3]


def shell_caches(page: Page) -> dict[str, list[str]]:
    found = page.evaluate(CACHES)
    return {name: paths for name, paths in found.items() if name.startswith("chatd-shell-")}


def worker_of(context: BrowserContext, base: str) -> Worker:
    """The page's service worker, as Playwright reaches it (to evaluate in it)."""
    for worker in context.service_workers:
        if worker.url == f"{base}/sw.js":
            return worker
    found = context.wait_for_event("serviceworker",
                                   lambda worker: worker.url == f"{base}/sw.js")
    assert isinstance(found, Worker)
    return found


def shell_files() -> list[str]:
    """What the worker must cache: the page's files as the server lists them."""
    from chatd.http.static import shell_of

    files = shell_of(WEB)["files"]
    assert isinstance(files, list)
    return sorted(f"/{name}" for name in files)


# -- the offline shell -------------------------------------------------------------------------


def test_reload_while_the_daemon_is_down_shows_the_page_and_its_banner(
    daemon: Daemon, sessions: list[Session], browser: Browser,
) -> None:
    """The worker caches the shell at install; with the daemon stopped, a reload shows the
    page (from the cache) with its offline banner, not the browser's error page; the API is
    never answered from the cache; once the daemon is back the page reconnects."""
    ann = open_session(sessions, browser, DESKTOP)
    page = ann.page
    register(page, daemon.url, "ann")
    assert controlled(page) == "sw.js"
    caches = shell_caches(page)
    assert len(caches) == 1, caches
    [cached] = caches.values()
    assert cached == shell_files()
    assert {"/index.html", "/app.js", "/install.js", "/style.css", "/manifest.webmanifest",
            "/icons/icon-192.png"} <= set(cached)

    daemon.stop()
    expect(page.locator("#banner")).to_be_visible()
    page.reload()
    expect(page).to_have_title("chatd")
    expect(page.locator("#me-name")).to_have_text("ann")
    expect(page.locator("#banner")).to_be_visible()
    expect(page.locator("#banner-text")).to_contain_text("Reconnecting")
    assert page.evaluate("navigator.serviceWorker.controller !== null")
    # The API and files go to the network, which is down: nothing answers them.
    for path in ("/api/me", "/api/files/1/x.txt?exp=1&sig=x", "/metrics", "/healthz"):
        answered = page.evaluate("""async (path) => {
          try { await fetch(path); return "answered"; } catch { return "failed"; }
        }""", path)
        assert answered == "failed", path
    # A navigation elsewhere on the origin is not the page: the worker leaves it alone.
    probe = ann.context.new_page()
    with pytest.raises(PlaywrightError, match="ERR_CONNECTION_REFUSED"):
        probe.goto(daemon.url + "/api/me")
    probe.close()

    daemon.start()
    expect(page.locator("#banner")).to_be_hidden()
    expect(page.locator("#me-status")).to_have_attribute("data-phase", "online")
    assert not ann.errors, ann.errors


def test_a_changed_page_is_served_fresh_and_replaces_the_cached_shell(
    copied_daemon: Daemon, sessions: list[Session], browser: Browser,
) -> None:
    """While the server answers, the page comes from it, never from the worker's cache: a
    changed page shows at the next reload, the worker is replaced by one with the new shell
    (skipWaiting, clients.claim), the old cache goes, and the new page is what shows offline."""
    daemon = copied_daemon
    assert isinstance(daemon, WebRootDaemon)
    ann = open_session(sessions, browser, DESKTOP)
    page = ann.page
    register(page, daemon.url, "ann")
    controlled(page)
    [old] = shell_caches(page)

    index = daemon.web_root / "index.html"
    index.write_text(index.read_text().replace("<title>chatd</title>",
                                               f"<title>chatd</title>{MARK}"))
    marked = page.locator('meta[name="chatd-test"]')
    expect(marked).to_have_count(0)
    page.reload()
    expect(marked).to_have_count(1)  # from the network, at once
    expect(page.locator("#me-status")).to_have_attribute("data-phase", "online")
    # The new worker installed, activated and dropped the old cache.
    new = wait_in(page, NEW_CACHE, old, what="the new shell cache alone")
    assert new != old

    daemon.stop()
    page.reload()
    expect(marked).to_have_count(1)
    expect(page.locator("#banner")).to_be_visible()


def test_manifest_is_installable_and_its_icons_load(
    daemon: Daemon, playwright: Playwright, tmp_path: Path,
) -> None:
    """Chromium reads the manifest without errors and finds the page installable (the
    DevTools protocol's installability check: a name, a start URL, a display mode, icons it
    can use); every icon loads under the page's CSP. (A profile on disk: Chromium installs
    nothing from an incognito context, which is what Playwright's contexts are.)"""
    context = playwright.chromium.launch_persistent_context(
        tmp_path / "profile", executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
        viewport=DESKTOP)
    try:
        context.set_default_timeout(TIMEOUT_MS)
        page = context.pages[0] if context.pages else context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(daemon.url)
        controlled(page)
        cdp = context.new_cdp_session(page)
        manifest = cdp.send("Page.getAppManifest")
        assert manifest["url"] == f"{daemon.url}/manifest.webmanifest"
        assert manifest["errors"] == [], manifest["errors"]
        data = json.loads(manifest["data"])
        assert data["display"] == "standalone" and data["start_url"] == "/"
        installability = cdp.send("Page.getInstallabilityErrors")
        assert installability["installabilityErrors"] == [], installability
        sizes = page.evaluate("""async (icons) => Promise.all(icons.map((icon) =>
          new Promise((resolve) => {
            const image = new Image();
            image.onload = () => resolve(`${image.naturalWidth}x${image.naturalHeight}`);
            image.onerror = () => resolve("failed");
            image.src = icon.src;
          })))""", data["icons"])
        for icon, size in zip(data["icons"], sizes, strict=True):
            assert size != "failed", icon
            if icon["sizes"] != "any":
                assert size == icon["sizes"], icon
        assert not errors, errors
    finally:
        context.close()


# -- pushes ------------------------------------------------------------------------------------


def _registration_id(page: Page, cdp: Any, base: str) -> str:
    """The id of the page's service worker registration, from the DevTools protocol."""
    found: list[str] = []

    def updated(event: dict[str, Any]) -> None:
        for registration in event["registrations"]:
            if registration["scopeURL"] == f"{base}/" and not registration["isDeleted"]:
                found.append(registration["registrationId"])

    cdp.on("ServiceWorker.workerRegistrationUpdated", updated)
    cdp.send("ServiceWorker.enable")
    # Chromium reports the registrations after it answers `enable`, once it has asked the
    # worker's thread (late on a busy machine); the sync API hands events over only while it
    # waits, so wait in short steps until the event came.
    deadline = time.monotonic() + 60
    while not found and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert found, "no registration reported"
    return found[-1]


def _deliver(cdp: Any, base: str, registration: str, payload: dict[str, Any]) -> None:
    cdp.send("ServiceWorker.deliverPushMessage", {
        "origin": base, "registrationId": registration, "data": json.dumps(payload)})


def test_a_push_shows_a_notification_and_its_click_opens_the_room(
    daemon: Daemon, sessions: list[Session], browser: Browser,
) -> None:
    """A push delivered to the worker shows a notification tagged per room (a DM, a mention
    and a keyword's ring again; a room's next push replaces its last), unless a visible window shows
    that room; a click on it opens the room in the open window and closes it; /#room=NAME
    opens a room too."""
    token = register_and_login(daemon.url, "ann")
    line = LineClient(daemon.tcp_port, token)
    for room in ("dev", "ops"):
        line.request("join", room=room)
    line.close()
    ann = open_session(sessions, browser, DESKTOP)
    ann.context.grant_permissions(["notifications"], origin=daemon.url)
    page = ann.page
    log_in(page, daemon.url, "ann")
    expect(page.locator("#me-status")).to_have_attribute("data-phase", "online")
    controlled(page)

    def room_button(name: str) -> Locator:
        return page.locator(f'#room-list li[data-room="{name}"] button')

    room_button("dev").click()
    expect(room_button("dev")).to_have_attribute("aria-current", "page")

    cdp = ann.context.new_cdp_session(page)
    registration = _registration_id(page, cdp, daemon.url)
    # The page shows #dev: a push for it shows nothing. One for #ops does. (The worker
    # handles pushes in the order delivered, and asks the page in that order: by the time the
    # second notification shows, the first push was decided.)
    _deliver(cdp, daemon.url, registration, {"room": "dev", "seq": 1, "from": "bob",
                                             "kind": "mention", "text": "@ann in dev",
                                             "title": "bob in #dev"})
    _deliver(cdp, daemon.url, registration, {"room": "ops", "seq": 1, "from": "bob",
                                             "kind": "mention", "text": "@ann deploy?",
                                             "title": "bob in #ops"})
    [shown] = wait_in(page, NOTIFICATIONS, {"tag": "chatd:ops", "body": "@ann deploy?"},
                      what="the notification of #ops")
    assert shown == {
        "title": "bob in #ops", "body": "@ann deploy?", "tag": "chatd:ops",
        "data": {"room": "ops", "seq": 1}, "renotify": True,
        "icon": f"{daemon.url}/icons/icon-192.png", "badge": f"{daemon.url}/icons/badge-96.png",
    }

    # A DM has a tag of its own; the next push of #ops replaces the last one.
    # (One at a time: each push is decided after asking the page, and a busy machine may
    # take long to show each.)
    _deliver(cdp, daemon.url, registration, {"room": "@ann:bob", "seq": 4, "from": "bob",
                                             "kind": "dm", "text": "lunch?", "title": "bob"})
    wait_in(page, NOTIFICATIONS, {"tag": "chatd:@ann:bob", "body": "lunch?"},
            what="the notification of the DM")
    _deliver(cdp, daemon.url, registration, {"room": "ops", "seq": 2, "from": "bob",
                                             "kind": "message", "text": "", "title": ""})
    shown_all = wait_in(page, NOTIFICATIONS, {"tag": "chatd:ops", "body": "Sent files"},
                        what="the second notification of #ops")
    assert sorted(n["tag"] for n in shown_all) == ["chatd:@ann:bob", "chatd:ops"]
    by_tag = {n["tag"]: n for n in shown_all}
    assert by_tag["chatd:@ann:bob"]["renotify"] is True
    assert by_tag["chatd:ops"]["renotify"] is False
    assert by_tag["chatd:ops"]["title"] == "bob in #ops"
    # A message with one of ann's notification keywords is shown as a mention is: it rings
    # again, under its room's tag (replacing the quiet one).
    _deliver(cdp, daemon.url, registration, {"room": "ops", "seq": 3, "from": "bob",
                                             "kind": "keyword", "text": "the deploy is done",
                                             "title": ""})
    shown_all = wait_in(page, NOTIFICATIONS, {"tag": "chatd:ops", "body": "the deploy is done"},
                        what="the keyword's notification of #ops")
    keyword = {n["tag"]: n for n in shown_all}["chatd:ops"]
    assert keyword["renotify"] is True and keyword["title"] == "bob in #ops"

    # A click on the #ops notification: the window opens #ops; the notification goes.
    worker = worker_of(ann.context, daemon.url)
    assert worker.evaluate(CLICK, "chatd:ops") is True
    expect(room_button("ops")).to_have_attribute("aria-current", "page")
    expect(page.locator("#conv-title")).to_have_text("# ops")
    remaining = wait_in(page, GONE, "chatd:ops", what="the clicked notification to close")
    assert [n["tag"] for n in remaining] == ["chatd:@ann:bob"]

    # The address names a room: in a new window at start, and in this one when it changes.
    other = ann.context.new_page()
    other.goto(f"{daemon.url}/#room=dev")
    expect(other.locator('#room-list li[data-room="dev"] button')).to_have_attribute(
        "aria-current", "page")
    expect(other).to_have_url(f"{daemon.url}/")
    other.close()
    page.evaluate("location.hash = '#room=dev'")
    expect(room_button("dev")).to_have_attribute("aria-current", "page")
    expect(page).to_have_url(f"{daemon.url}/")
    assert not ann.errors, ann.errors


# -- the page's subscription -------------------------------------------------------------------

# A stand-in for the browser's PushManager, as an init script: headless Chromium refuses every
# subscription here ("Registration failed - permission denied", in an incognito context and
# with no push service to reach), so the page's subscribe() gets this one. It keeps the
# subscription in localStorage, as a browser keeps one across reloads, and counts calls.
FAKE_PUSH = """(() => {
  const KEY = "chatd-test.push";
  const record = window.__push = { subscribe: [], unsubscribed: [], toJSON: 0 };
  const b64 = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes)))
    .replace(/[+]/g, "-").replace(/[/]/g, "_").replace(/=+$/, "");
  const unb64 = (text) => Uint8Array.from(
    atob(text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4)),
    (c) => c.charCodeAt(0));
  const load = () => JSON.parse(localStorage.getItem(KEY) || "null");
  function subscription(saved) {
    return {
      endpoint: saved.endpoint,
      options: { userVisibleOnly: true, applicationServerKey: unb64(saved.key).buffer },
      toJSON() {
        record.toJSON += 1;
        return { endpoint: saved.endpoint, expirationTime: null,
          keys: { p256dh: "P256DH", auth: "AUTH" } };
      },
      async unsubscribe() {
        record.unsubscribed.push(saved.endpoint);
        localStorage.removeItem(KEY);
        return true;
      },
    };
  }
  PushManager.prototype.getSubscription = async function () {
    const saved = load();
    return saved ? subscription(saved) : null;
  };
  PushManager.prototype.subscribe = async function (options) {
    const key = b64(options.applicationServerKey);
    record.subscribe.push({ userVisibleOnly: options.userVisibleOnly, key });
    const n = Number(localStorage.getItem(KEY + ".n") || 0) + 1;
    localStorage.setItem(KEY + ".n", String(n));
    const saved = { endpoint: `ENDPOINT/${n}`, key };
    localStorage.setItem(KEY, JSON.stringify(saved));
    return subscription(saved);
  };
})();"""

PUSH_KEY = "chatd-test.push"


class PrivatePushDaemon(Daemon):
    """A daemon that takes push endpoints on 127.0.0.1 (the fake subscriptions' endpoints)."""

    def _spawn(self, extra: dict[str, str]) -> Any:
        return super()._spawn({**extra, "CHATD_PUSH_ALLOW_PRIVATE_ENDPOINTS": "true"})


@pytest.fixture
def push_daemon(tmp_path: Path, database_dsn: str) -> Iterator[Daemon]:
    yield from _running(PrivatePushDaemon(tmp_path, database_dsn))


def _fetch(dsn: str, query: str) -> list[tuple[Any, ...]]:
    """Rows of a query, read from a thread of its own (Playwright's loop runs in this one)."""
    rows: list[tuple[Any, ...]] = []

    async def run() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            rows.extend(tuple(row) for row in await conn.fetch(query))
        finally:
            await conn.close()

    worker = threading.Thread(target=lambda: asyncio.run(run()))
    worker.start()
    worker.join()
    return rows


def _stored(daemon: Daemon) -> list[tuple[str, str, str, str]]:
    """The push subscriptions the daemon keeps: (user, endpoint, p256dh, auth)."""
    return [(str(a), str(b), str(c), str(d)) for a, b, c, d in _fetch(daemon.dsn, """
        SELECT u.name, s.endpoint, s.p256dh, s.auth
        FROM push_subscriptions s JOIN users u ON u.id = s.user_id ORDER BY s.endpoint""")]


@contextlib.contextmanager
def replaced(page: Page, old: str) -> Iterator[Any]:
    """Expect the page to POST a new subscription, then DELETE the one it replaces (`old`);
    yields the POST's response (its ``value``) and returns once the DELETE is answered."""
    def answer_to(method: str) -> Callable[[Response], bool]:
        return lambda r: r.url.endswith("/api/push/subscriptions") and r.request.method == method

    with (page.expect_response(answer_to("DELETE")) as deleted,
          page.expect_response(answer_to("POST")) as posted):
        yield posted
    assert deleted.value.status == 200
    assert deleted.value.request.post_data_json == {"endpoint": old}


def _keys() -> tuple[str, str]:
    """A browser's subscription keys: an uncompressed P-256 point and 16 bytes (base64url)."""
    point = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return (base64.urlsafe_b64encode(point).rstrip(b"=").decode(),
            base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode())


# The page has looked at its subscription `count` times in this document (each sync does,
# once it has the server's key): a POST, if any, was sent in the same turn.
LOOKED = """async (count) => window.__push.toJSON >= count ? window.__push.toJSON : null"""


def test_the_page_subscribes_once_allowed_and_unsubscribes_at_log_out(
    push_daemon: Daemon, sessions: list[Session], browser: Browser,
) -> None:
    """Nothing is subscribed before notifications are allowed; once they are, the page
    subscribes with the server's key (userVisibleOnly) and POSTs the subscription, which the
    daemon keeps; a reload posts nothing new, a changed subscription is posted again, one
    made for another key is replaced; log-out DELETEs it (before the token is revoked) and
    unsubscribes."""
    daemon = push_daemon
    p256dh, auth = _keys()
    ann = open_session(sessions, browser, DESKTOP)
    ann.context.add_init_script(FAKE_PUSH.replace("ENDPOINT", "https://127.0.0.1:9/push")
                                .replace("P256DH", p256dh).replace("AUTH", auth))
    page = ann.page
    requests: list[tuple[str, str]] = []
    page.on("request", lambda request: requests.append((request.method, request.url)))
    register(page, daemon.url, "ann")
    controlled(page)
    status, body = http_json(daemon.url, "GET", "/api/push/key")
    assert status == 200, body
    server_key = body["public_key"]

    # Not allowed yet: the page asks for no subscription (and never asks for permission).
    assert page.evaluate("Notification.permission") == "default"
    assert page.evaluate("window.__push.subscribe") == []
    assert _stored(daemon) == []

    # Allowed (as a click on the page's button would): the page subscribes and posts.
    with page.expect_response(lambda r: r.url == f"{daemon.url}/api/push/subscriptions"
                              and r.request.method == "POST") as posted:
        ann.context.grant_permissions(["notifications"], origin=daemon.url)
    assert posted.value.status == 201
    assert posted.value.request.post_data_json == {
        "endpoint": "https://127.0.0.1:9/push/1", "keys": {"p256dh": p256dh, "auth": auth}}
    assert page.evaluate("window.__push.subscribe") == [
        {"userVisibleOnly": True, "key": server_key}]
    assert _stored(daemon) == [("ann", "https://127.0.0.1:9/push/1", p256dh, auth)]

    # A reload: the same subscription, already posted: nothing is sent.
    page.reload()
    expect(page.locator("#me-status")).to_have_attribute("data-phase", "online")
    wait_in(page, LOOKED, 1, what="the page to look at its subscription")
    assert page.evaluate("window.__push.subscribe") == []
    posts = [url for method, url in requests
             if method == "POST" and url.endswith("/api/push/subscriptions")]
    assert len(posts) == 1, requests

    # The browser changed the subscription (a new endpoint): it is posted again.
    page.evaluate("""(key) => localStorage.setItem(key, JSON.stringify({
      ...JSON.parse(localStorage.getItem(key)), endpoint: "https://127.0.0.1:9/push/rotated" }))""",
                  PUSH_KEY)
    with replaced(page, "https://127.0.0.1:9/push/1") as posted:
        page.reload()
    assert posted.value.status == 201
    assert posted.value.request.post_data_json["endpoint"] == "https://127.0.0.1:9/push/rotated"
    assert _stored(daemon) == [("ann", "https://127.0.0.1:9/push/rotated", p256dh, auth)]

    # A subscription made for another server key (data_dir reset): replaced by a new one.
    other = bytearray(base64.urlsafe_b64decode(server_key + "=" * (-len(server_key) % 4)))
    other[-1] ^= 1
    other_key = base64.urlsafe_b64encode(bytes(other)).rstrip(b"=").decode()
    page.evaluate("""([key, other]) => localStorage.setItem(key, JSON.stringify({
      ...JSON.parse(localStorage.getItem(key)), key: other }))""", [PUSH_KEY, other_key])
    with replaced(page, "https://127.0.0.1:9/push/rotated") as posted:
        page.reload()
    assert posted.value.status == 201
    assert posted.value.request.post_data_json["endpoint"] == "https://127.0.0.1:9/push/2"
    assert page.evaluate("window.__push.unsubscribed") == ["https://127.0.0.1:9/push/rotated"]
    assert page.evaluate("window.__push.subscribe") == [
        {"userVisibleOnly": True, "key": server_key}]
    assert _stored(daemon) == [("ann", "https://127.0.0.1:9/push/2", p256dh, auth)]

    # Log-out: the subscription is deleted while the token works, then unsubscribed.
    requests.clear()
    with page.expect_response(lambda r: r.url.endswith("/api/push/subscriptions")
                              and r.request.method == "DELETE") as deleted:
        page.get_by_role("button", name="Log out").click()
    assert deleted.value.status == 200
    assert deleted.value.request.post_data_json == {"endpoint": "https://127.0.0.1:9/push/2"}
    expect(page.get_by_role("tab", name="Log in")).to_be_visible()
    order = [(method, url.removeprefix(daemon.url)) for method, url in requests
             if "/api/" in url]
    assert order.index(("DELETE", "/api/push/subscriptions")) < order.index(
        ("POST", "/api/logout")), order
    assert page.evaluate("window.__push.unsubscribed") == [
        "https://127.0.0.1:9/push/rotated", "https://127.0.0.1:9/push/2"]
    assert page.evaluate("localStorage.getItem('chatd-test.push')") is None
    assert _stored(daemon) == [], "each replaced one deleted, then the last"
    assert not ann.errors, ann.errors


def test_a_busy_page_is_waited_for_before_its_room_is_notified(
    daemon: Daemon, sessions: list[Session], browser: Browser,
) -> None:
    """The window showing #dev is busy when a push for #dev comes (a long task of its own, as
    a loaded machine makes of any page): the worker waits for its answer, and shows nothing
    for #dev, as for an idle page; the push for #ops after it shows."""
    token = register_and_login(daemon.url, "ann")
    line = LineClient(daemon.tcp_port, token)
    for room in ("dev", "ops"):
        line.request("join", room=room)
    line.close()
    ann = open_session(sessions, browser, DESKTOP)
    ann.context.grant_permissions(["notifications"], origin=daemon.url)
    page = ann.page
    log_in(page, daemon.url, "ann")
    expect(page.locator("#me-status")).to_have_attribute("data-phase", "online")
    controlled(page)
    dev = page.locator('#room-list li[data-room="dev"] button')
    dev.click()
    expect(dev).to_have_attribute("aria-current", "page")
    cdp = ann.context.new_cdp_session(page)
    registration = _registration_id(page, cdp, daemon.url)
    # Busy for a while, from the next task on: the worker's question waits behind it.
    page.evaluate("""() => { setTimeout(() => {
      const end = performance.now() + 3000;
      while (performance.now() < end);
    }, 0); }""")
    _deliver(cdp, daemon.url, registration, {"room": "dev", "seq": 1, "from": "bob",
                                             "kind": "mention", "text": "@ann in dev",
                                             "title": "bob in #dev"})
    _deliver(cdp, daemon.url, registration, {"room": "ops", "seq": 1, "from": "bob",
                                             "kind": "mention", "text": "@ann deploy?",
                                             "title": "bob in #ops"})
    shown = wait_in(page, NOTIFICATIONS, {"tag": "chatd:ops", "body": "@ann deploy?"},
                    what="the notification of #ops")
    assert [n["tag"] for n in shown] == ["chatd:ops"], shown
    assert not ann.errors, ann.errors

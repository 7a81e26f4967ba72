// The service worker's offline shell (shell.js): which requests it answers (the page's own
// files only; never the API, /ws, /metrics, files or signed links), the cache names, and the
// shell the server writes into sw.js.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import {
  PAGE, cacheName, preferCached, readShell, shellEntry, staleCaches,
} from "../../clients/web/shell.js";

const SCOPE = "http://127.0.0.1:8080/";
const FILES = new Set(["index.html", "app.js", "style.css", "icons/icon-192.png",
  "manifest.webmanifest"]);
const get = (path, mode = "cors") => ({ url: `http://127.0.0.1:8080${path}`, method: "GET", mode });

test("the page's files are answered from the shell, each under its own name", () => {
  assert.equal(shellEntry(SCOPE, get("/app.js", "same-origin"), FILES), "app.js");
  assert.equal(shellEntry(SCOPE, get("/style.css", "no-cors"), FILES), "style.css");
  assert.equal(shellEntry(SCOPE, get("/icons/icon-192.png", "no-cors"), FILES),
    "icons/icon-192.png");
  assert.equal(shellEntry(SCOPE, get("/icons/icon%2D192.png", "no-cors"), FILES),
    "icons/icon-192.png", "an escaped name is the same file");
  assert.equal(shellEntry(SCOPE, get("/manifest.webmanifest"), FILES), "manifest.webmanifest");
});

test("a navigation to the page (with or without a fragment) is answered by index.html", () => {
  for (const path of ["/", "/index.html", "/#room=dev"]) {
    const url = new URL(path, SCOPE);
    url.hash = ""; // a request never carries its fragment
    assert.equal(shellEntry(SCOPE, { url: url.href, method: "GET", mode: "navigate" }, FILES),
      PAGE, path);
  }
  assert.equal(shellEntry(SCOPE, get("/", "cors"), FILES), null,
    "a fetch of / is not a navigation");
});

test("the API, the socket, metrics, files and signed links are never answered", () => {
  for (const path of ["/api/me", "/api/rooms/dev/messages", "/ws", "/metrics", "/healthz",
    "/api/files/12/report.pdf", "/api/files/12/report.pdf?exp=1&sig=abc",
    "/api/thumbnails/12?exp=1&sig=abc", "/api/push/key", "/app.js?v=2", "/nothing.js",
    "/sw.js"]) {
    for (const mode of ["cors", "navigate", "no-cors", "same-origin"]) {
      assert.equal(shellEntry(SCOPE, get(path, mode), FILES), null, `${mode} ${path}`);
    }
  }
});

test("only GETs of this origin and scope are answered", () => {
  const post = { ...get("/app.js"), method: "POST" };
  assert.equal(shellEntry(SCOPE, post, FILES), null);
  assert.equal(shellEntry(SCOPE, { url: "https://cdn.example/app.js", method: "GET",
    mode: "cors" }, FILES), null);
  assert.equal(shellEntry("http://127.0.0.1:8080/chat/", get("/app.js"), FILES), null,
    "outside the scope");
  assert.equal(shellEntry("http://127.0.0.1:8080/chat/", get("/chat/app.js"), FILES), "app.js");
  assert.equal(shellEntry(SCOPE, { url: "not a url", method: "GET", mode: "cors" }, FILES),
    null);
  assert.equal(shellEntry(SCOPE, get("/%E0%A4%A"), FILES), null, "a malformed escape");
});

test("without index.html in the shell, navigations go to the network", () => {
  assert.equal(shellEntry(SCOPE, get("/", "navigate"), new Set(["app.js"])), null);
});

test("the cache is named after the version; the other shell caches are stale", () => {
  const current = cacheName("abc");
  assert.equal(current, "chatd-shell-abc");
  assert.deepEqual(staleCaches(["chatd-shell-old", current, "someone-else", "chatd-shell-x"],
    current), ["chatd-shell-old", "chatd-shell-x"]);
  assert.deepEqual(staleCaches(["chatd-shell-old"], null), ["chatd-shell-old"]);
});

test("the shell the server writes is checked; without one the worker caches nothing", () => {
  const shell = readShell({ version: "v1", files: ["index.html", "app.js", "/abs", "a?b", 3] });
  assert.equal(shell.version, "v1");
  assert.deepEqual([...shell.files], ["index.html", "app.js"]);
  for (const bad of ["__CHATD_SHELL__", null, {}, { version: "", files: [] },
    { version: "v", files: "index.html" }]) {
    const none = readShell(bad);
    assert.equal(none.version, null);
    assert.equal(none.files.size, 0);
  }
});

test("a gateway's error is worse than the cached page; the page's own answers are not", () => {
  for (const status of [500, 502, 503, 504]) assert.equal(preferCached(status), true);
  for (const status of [200, 304, 404]) assert.equal(preferCached(status), false);
});

test("sw.js holds the placeholder the server replaces, once, as a JavaScript value", () => {
  const source = readFileSync(new URL("../../clients/web/sw.js", import.meta.url), "utf8");
  assert.equal(source.split('"__CHATD_SHELL__"').length - 1, 1);
  assert.match(source, /readShell\("__CHATD_SHELL__"\)/);
});

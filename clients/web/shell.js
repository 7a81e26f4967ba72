// The service worker's offline shell, the pure half (sw.js does the I/O): what the cache is
// called, which requests the worker answers, and which caches are old.
//
// The server writes the shell into sw.js as it serves it ({version, files}: every file of the
// page, and a hash of them all; chatd/http/static.py), so sw.js changes whenever any file of
// the page does. The cache is named after that version: a new page is a new worker with a new
// cache, filled whole at install, and the old one is dropped when the new worker activates.
//
// The worker answers only for the shell: a navigation to the page itself ("/" or
// "/index.html") and a GET of one of the listed files, without a query. Everything else (the
// API, /ws, /metrics, /healthz, files, thumbnails and their signed links, all under /api or
// with a query) never reaches the cache: the worker leaves it to the network untouched.

export const CACHE_PREFIX = "chatd-shell-";
export const PAGE = "index.html";

/**
 * The shell written into sw.js, checked: {version, files} with `files` a Set of paths
 * relative to the scope; {version: null, files: empty} when it is missing or malformed (sw.js
 * served by something other than chatd), and then the worker caches nothing.
 */
export function readShell(value) {
  if (!value || typeof value !== "object" || typeof value.version !== "string"
    || !value.version || !Array.isArray(value.files)) {
    return { version: null, files: new Set() };
  }
  const files = value.files.filter((name) => typeof name === "string" && name
    && !name.startsWith("/") && !name.includes("?") && !name.includes("#"));
  return { version: value.version, files: new Set(files) };
}

/** The name of the cache that holds the shell of `version`. */
export function cacheName(version) {
  return `${CACHE_PREFIX}${version}`;
}

/** Of the cache names `names`, the shell caches other than `current` (to delete). */
export function staleCaches(names, current) {
  return names.filter((name) => name.startsWith(CACHE_PREFIX) && name !== current);
}

/**
 * The shell file that answers a request ({url, method, mode}), relative to `scope`, or null
 * when the worker must leave the request alone. `files`: the shell's Set of paths.
 */
export function shellEntry(scope, request, files) {
  if (request.method !== "GET") return null;
  let url;
  let base;
  try {
    url = new URL(request.url);
    base = new URL(scope);
  } catch {
    return null;
  }
  if (url.origin !== base.origin || url.search || !url.pathname.startsWith(base.pathname)) {
    return null;
  }
  let path;
  try {
    path = decodeURIComponent(url.pathname.slice(base.pathname.length));
  } catch {
    return null;
  }
  if (request.mode === "navigate") {
    return (path === "" || path === PAGE) && files.has(PAGE) ? PAGE : null;
  }
  return files.has(path) ? path : null;
}

/**
 * Whether a network answer for a navigation is worse than the cached page: a gateway's error
 * (a reverse proxy in front of a daemon that is down says 502, 503 or 504).
 */
export function preferCached(status) {
  return status >= 500;
}

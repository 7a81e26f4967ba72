// Signed links to files, for what cannot send a Bearer token: an <img>, a download link. Pure:
// no DOM, no I/O, no clock (`now`, in ms, is an argument). The cache is one plain object that
// these functions change in place (as store.js changes a Room); `version` moves whenever a
// link comes or goes, so a view can tell when to look again.
//
// Theory of operation
// -------------------
// `POST /api/files/links {ids}` answers {links: [{id, url, thumbnail_url, expires_at}]}: URLs
// that work without a token until `expires_at`. The page asks for the links of the files it
// draws (`want`), in batches of at most BATCH ids, once each: an id whose request is on its way
// is not asked again. A link is renewed a little before it expires (RENEW_MS, or a fifth of its
// life when that is shorter) while its file is still drawn: wanted again since its last answer
// (the view wants every file it draws again whenever `version` moves, and an answer moves it);
// `nextDue` says when the next renewal (or retry) is due, for a timer. An id the server did not
// answer for (a file gone, or not the reader's), or a request that failed, is asked again after
// RETRY_MS, on the same terms. A link is not used in its last SLACK_MS (it could expire on its
// way). Entries not wanted for KEEP_MS are dropped once their link expired, and the cache keeps
// at most MAX_ENTRIES.

export const BATCH = 100;
export const RENEW_MS = 60_000;
export const RETRY_MS = 30_000;
export const KEEP_MS = 30 * 60_000;
export const SLACK_MS = 2_000;
export const MAX_ENTRIES = 500;

/** An empty cache. */
export function emptyLinks() {
  return { entries: new Map(), version: 0 };
}

function entryFor(links, id) {
  let entry = links.entries.get(id);
  if (!entry) {
    entry = { id, url: null, thumbnail_url: null, expires_at: 0, life: 0, wantedAt: 0,
      answeredAt: null, pending: false, failedAt: null };
    links.entries.set(id, entry);
  }
  return entry;
}

/** How long before it expires a link is renewed. */
function margin(entry) {
  return Math.min(RENEW_MS, Math.max(SLACK_MS, entry.life / 5));
}

/** Whether its file was drawn since the last answer about it (so it is still on screen). */
function drawn(entry) {
  return entry.answeredAt === null || entry.wantedAt >= entry.answeredAt;
}

/** When (ms) the entry should be asked for, or null while a request is on its way. */
function dueAt(entry) {
  if (entry.pending) return null;
  const retry = entry.failedAt === null ? 0 : entry.failedAt + RETRY_MS;
  const renew = entry.url ? entry.expires_at - margin(entry) : 0;
  return Math.max(retry, renew);
}

/**
 * The files `ids` are drawn at `now`: returns the ids to ask links for now (none twice: they are
 * marked as asked), in the order given.
 */
export function want(links, ids, now) {
  const ask = [];
  for (const id of ids) {
    if (!Number.isSafeInteger(id)) continue;
    const entry = entryFor(links, id);
    entry.wantedAt = now;
    const at = dueAt(entry);
    if (at !== null && at <= now) {
      entry.pending = true;
      ask.push(id);
    }
  }
  prune(links, now);
  return ask;
}

/** The ids whose links are due now (renewals and retries of files still drawn); marked asked. */
export function due(links, now) {
  const ask = [];
  for (const entry of links.entries.values()) {
    if (!drawn(entry)) continue;
    const at = dueAt(entry);
    if (at !== null && at <= now) {
      entry.pending = true;
      ask.push(entry.id);
    }
  }
  prune(links, now);
  return ask;
}

/** When (ms) the next link is due, or null when none is (nothing still drawn). */
export function nextDue(links) {
  let next = null;
  for (const entry of links.entries.values()) {
    if (!drawn(entry)) continue;
    const at = dueAt(entry);
    if (at !== null && (next === null || at < next)) next = at;
  }
  return next;
}

/**
 * The answer to a request for `asked`: `items` [{id, url, thumbnail_url, expires_at}]
 * (expires_at in ms; a value in seconds is read as such). An id asked for and not answered is
 * asked again after RETRY_MS.
 */
export function received(links, asked, items, now) {
  const answered = new Set();
  for (const item of Array.isArray(items) ? items : []) {
    if (!item || !Number.isSafeInteger(item.id) || typeof item.url !== "string") continue;
    let expires = Number(item.expires_at);
    if (!Number.isFinite(expires)) continue;
    if (expires < 1e11) expires *= 1000; // seconds since the epoch
    const entry = entryFor(links, item.id);
    entry.url = item.url;
    entry.thumbnail_url = typeof item.thumbnail_url === "string" ? item.thumbnail_url : null;
    entry.expires_at = expires;
    entry.life = Math.max(0, expires - now);
    entry.pending = false;
    entry.failedAt = null;
    entry.answeredAt = now;
    answered.add(item.id);
  }
  failed(links, asked.filter((id) => !answered.has(id)), now);
}

/** The request for `asked` failed: they are asked again after RETRY_MS. */
export function failed(links, asked, now) {
  for (const id of asked) {
    const entry = links.entries.get(id);
    if (entry) {
      entry.pending = false;
      entry.failedAt = now;
      entry.answeredAt = now;
    }
  }
  links.version += 1;
}

/**
 * A link of `id` did not work (an <img> that failed to load: it expired early, or the server's
 * key changed): forget it, so that the next `want` asks again.
 */
export function broken(links, id) {
  const entry = links.entries.get(id);
  if (!entry || !entry.url) return;
  entry.url = null;
  entry.thumbnail_url = null;
  entry.expires_at = 0;
  entry.failedAt = null; // asked again at once, whatever happened before
  links.version += 1;
}

/** The link of file `id` usable at `now`: {url, thumbnail_url, expires_at}, or null. */
export function linkFor(links, id, now) {
  const entry = links.entries.get(id);
  if (!entry || !entry.url || entry.expires_at - SLACK_MS <= now) return null;
  return { url: entry.url, thumbnail_url: entry.thumbnail_url, expires_at: entry.expires_at };
}

/** `ids` in batches of at most `size`. */
export function batches(ids, size = BATCH) {
  const out = [];
  for (let at = 0; at < ids.length; at += size) out.push(ids.slice(at, at + size));
  return out;
}

/** Drop what is not wanted any more: old and expired entries, then the oldest past the bound. */
function prune(links, now) {
  for (const [id, entry] of links.entries) {
    if (!entry.pending && now - entry.wantedAt >= KEEP_MS && entry.expires_at <= now) {
      links.entries.delete(id);
    }
  }
  if (links.entries.size <= MAX_ENTRIES) return;
  const old = [...links.entries.values()].filter((entry) => !entry.pending)
    .sort((a, b) => a.wantedAt - b.wantedAt);
  for (const entry of old.slice(0, links.entries.size - MAX_ENTRIES)) {
    links.entries.delete(entry.id);
  }
}

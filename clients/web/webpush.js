// Web Push, the pure half: shared by the page (install.js) and the service worker (sw.js).
// No DOM, no I/O: what a push payload shows, which window a click goes to, the address that
// opens a room, and the conversions between a subscription and what the server stores.
//
// The payload the server sends (docs/protocol.md, "Web Push"): {room, seq, from, kind:
// "dm" | "mention" | "keyword" | "message" | "reminder", text (at most 200 characters, "" for a message of files
// only), title}. A payload that is not that still shows a notification (a push the browser
// was told is user-visible must show one), just a plainer one.

export const MESSAGE_TYPES = Object.freeze({
  openRoom: "chatd:open-room", // worker → page: show this room ({room})
  whichRoom: "chatd:which-room", // worker → page, on a MessagePort: which room do you show?
});
const KINDS = new Set(["dm", "mention", "keyword", "message", "reminder"]);
/** The kinds that ring again under their room's tag: to the person as a mention is. */
const RINGING = new Set(["dm", "mention", "keyword", "reminder"]);
const MAX_TITLE = 120;
const MAX_BODY = 400;
const HASH_PREFIX = "#room=";

/**
 * A base64url string (padded or not, as the server's `public_key`) as bytes, for
 * `pushManager.subscribe`'s `applicationServerKey`. Throws TypeError on anything else.
 */
export function urlBase64ToUint8Array(text) {
  if (typeof text !== "string" || !/^[A-Za-z0-9_-]*={0,2}$/.test(text)) {
    throw new TypeError("not base64url");
  }
  const bare = text.replace(/=+$/, "");
  if (bare.length % 4 === 1) throw new TypeError("not base64url: bad length");
  const base64 = bare.replace(/-/g, "+").replace(/_/g, "/")
    + "=".repeat((4 - (bare.length % 4)) % 4);
  const binary = atob(base64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** Bytes (an ArrayBuffer or a typed array) as base64url without padding. */
export function uint8ArrayToUrlBase64(bytes) {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let binary = "";
  for (const byte of view) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/**
 * Whether a subscription's `options.applicationServerKey` (an ArrayBuffer, or null) is the
 * server's key `publicKey` (base64url). A subscription made for another key (the server's
 * data_dir was reset) cannot be pushed to by this server: it must be replaced.
 */
export function sameServerKey(applicationServerKey, publicKey) {
  if (!applicationServerKey) return false;
  try {
    return uint8ArrayToUrlBase64(applicationServerKey)
      === uint8ArrayToUrlBase64(urlBase64ToUint8Array(publicKey));
  } catch {
    return false;
  }
}

/**
 * What `POST /api/push/subscriptions` takes, {endpoint, keys: {p256dh, auth}}, from a
 * subscription's `toJSON()`; null when something is missing.
 */
export function subscriptionBody(json) {
  const keys = json && json.keys;
  if (!json || typeof json.endpoint !== "string" || !json.endpoint || !keys
    || typeof keys.p256dh !== "string" || !keys.p256dh
    || typeof keys.auth !== "string" || !keys.auth) {
    return null;
  }
  return { endpoint: json.endpoint, keys: { p256dh: keys.p256dh, auth: keys.auth } };
}

/**
 * Whether `body` (a subscriptionBody) must be posted for `user`, given the record of the last
 * one posted from this browser (`saved`: {user, endpoint, p256dh, auth} or null): when the
 * subscription or the user changed since.
 */
export function needsPost(saved, user, body) {
  if (!body) return false;
  return !saved || typeof saved !== "object" || typeof saved.user !== "string"
    || saved.user.toLowerCase() !== String(user).toLowerCase()
    || saved.endpoint !== body.endpoint || saved.p256dh !== body.keys.p256dh
    || saved.auth !== body.keys.auth;
}

/**
 * The endpoint posted before for `user` that `body` replaces (the browser renewed its
 * subscription, or it was made again for a new server key), to delete on the server; null
 * when there is none.
 */
export function replacedEndpoint(saved, user, body) {
  if (!body || !saved || typeof saved !== "object" || typeof saved.user !== "string"
    || typeof saved.endpoint !== "string" || !saved.endpoint) {
    return null;
  }
  if (saved.user.toLowerCase() !== String(user).toLowerCase()) return null;
  return saved.endpoint !== body.endpoint ? saved.endpoint : null;
}

/** The record needsPost compares against, for `body` posted for `user`. */
export function postedRecord(user, body) {
  return { user, endpoint: body.endpoint, p256dh: body.keys.p256dh, auth: body.keys.auth };
}

/**
 * A push's data (text) as {room, seq, from, kind, text, title}: `room` null when there is no
 * usable room, `seq` null unless a positive integer, `kind` "message" unless one of the three.
 */
export function parsePushPayload(text) {
  let data;
  try {
    data = JSON.parse(text);
  } catch {
    data = null;
  }
  if (!data || typeof data !== "object" || Array.isArray(data)) data = {};
  const str = (value) => (typeof value === "string" ? value : "");
  return {
    room: typeof data.room === "string" && data.room ? data.room : null,
    seq: Number.isSafeInteger(data.seq) && data.seq > 0 ? data.seq : null,
    from: str(data.from),
    kind: KINDS.has(data.kind) ? data.kind : "message",
    text: str(data.text),
    title: str(data.title),
  };
}

function clip(text, max) {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/**
 * The notification a payload (from parsePushPayload) shows: {title, options} for
 * `registration.showNotification`. One tag per room ("chatd:NAME", the tag of the page's own
 * notifications too), so a room's notifications replace each other instead of piling up; a
 * DM or a mention rings again (`renotify`), another message of a room set to "all" replaces
 * the last one quietly; a message with one of the person's notification keywords (kind
 * "keyword", keywords.js) is shown as a mention is. A reminder of a saved message has a tag of its own (of its room and
 * message: "chatd-reminder:NAME:SEQ"), so that neither a message nor a look at its room takes
 * it away, and rings. Icons are resolved against `scope`.
 */
export function notificationFor(payload, scope) {
  const { room, from, kind } = payload;
  let title = payload.title;
  if (!title) {
    if (!room) title = "chatd";
    else if (kind === "dm") title = from || "Direct message";
    else if (kind === "reminder") title = from ? `Reminder: ${from} in #${room}` : `Reminder: #${room}`;
    else title = from ? `${from} in #${room}` : `#${room}`;
  }
  let body = payload.text;
  if (!body) body = room ? "Sent files" : "New activity";
  const options = {
    body: clip(body, MAX_BODY),
    tag: !room ? "chatd" : kind === "reminder" ? `chatd-reminder:${room}:${payload.seq ?? ""}`
      : `chatd:${room}`,
    renotify: Boolean(room) && RINGING.has(kind),
    icon: new URL("icons/icon-192.png", scope).href,
    badge: new URL("icons/badge-96.png", scope).href,
    data: { room, seq: payload.seq },
  };
  return { title: clip(title, MAX_TITLE), options };
}

/** The address that opens `room` in a new window (the page reads it with roomFromHash). */
export function roomUrl(scope, room) {
  return new URL(room ? `./${roomHash(room)}` : "./", scope).href;
}

/** The fragment that names `room`: "#room=" and the name, URL-encoded. */
export function roomHash(room) {
  return `${HASH_PREFIX}${encodeURIComponent(room)}`;
}

/**
 * The fragment that names message `msgId` of `room` ("#room=NAME&msg=ID"), with its `seq` when
 * known ("&seq=N": the page then reaches an old message with one page of history) and, for a
 * thread's reply the room's timeline leaves out, its root's msg_id ("&thread=ROOT": the thread
 * opens).
 */
export function messageHash(room, msgId, { seq = null, thread = null } = {}) {
  const part = (key, value) => (Number.isSafeInteger(value) && value > 0 ? `&${key}=${value}`
    : "");
  return `${roomHash(room)}&msg=${msgId}${part("seq", seq)}${part("thread", thread)}`;
}

/** The address of message `msgId` of `room` on the page at `base` (its fragment replaced). */
export function messageUrl(base, room, msgId, extra = {}) {
  return new URL(messageHash(room, msgId, extra), base).href;
}

const POSITIVE = /^[1-9][0-9]{0,15}$/;

/**
 * What a fragment names: {room, msgId, seq, thread} ("#room=NAME", then "&msg=ID", "&seq=N"
 * and "&thread=ROOT" in any order; each null when missing or not a positive integer, seq and
 * thread null without a msgId), or null when it names no room (another fragment, an empty
 * name, a malformed escape). Parts it does not know are left alone: an address of a later
 * page still opens its room.
 */
export function addressFromHash(hash) {
  if (typeof hash !== "string" || !hash.startsWith(HASH_PREFIX)) return null;
  const [first, ...rest] = hash.slice(HASH_PREFIX.length).split("&");
  let room;
  try {
    room = decodeURIComponent(first);
  } catch {
    return null; // a malformed escape
  }
  if (!room) return null;
  const numbers = { msg: null, seq: null, thread: null };
  for (const part of rest) {
    const at = part.indexOf("=");
    const key = at < 0 ? part : part.slice(0, at);
    const value = at < 0 ? "" : part.slice(at + 1);
    if (key in numbers && numbers[key] === null && POSITIVE.test(value)) {
      const number = Number(value);
      if (Number.isSafeInteger(number)) numbers[key] = number;
    }
  }
  const msgId = numbers.msg;
  return { room, msgId, seq: msgId === null ? null : numbers.seq,
    thread: msgId === null ? null : numbers.thread };
}

/** The room a fragment names ("#room=NAME", with or without a message), or null. */
export function roomFromHash(hash) {
  const address = addressFromHash(hash);
  return address ? address.room : null;
}

/**
 * What a link's address names when it is this very page (`here`: its origin, path and query,
 * no fragment) with a "#room=" fragment (addressFromHash); null for any other address.
 */
export function placeOfUrl(url, here) {
  if (typeof url !== "string" || typeof here !== "string") return null;
  let parsed;
  let page;
  try {
    parsed = new URL(url);
    page = new URL(here);
  } catch {
    return null;
  }
  if (parsed.origin !== page.origin || parsed.pathname !== page.pathname
      || parsed.search !== page.search) return null;
  return addressFromHash(parsed.hash);
}

/**
 * The window a notification click goes to, from `clients.matchAll({type: "window"})` (most
 * recently focused first): the focused one, else a visible one, else the most recent one;
 * null when there is none (then a new window opens at roomUrl).
 */
export function clientToFocus(windows) {
  const list = [...(windows || [])];
  return list.find((client) => client.focused)
    || list.find((client) => client.visibilityState === "visible")
    || list[0]
    || null;
}

/** The windows that a person may be looking at: those whose page is visible. */
export function visibleClients(windows) {
  return [...(windows || [])].filter((client) => client.visibilityState === "visible");
}

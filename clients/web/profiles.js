// Display names and custom statuses (docs/protocol.md, `set_profile`, `profiles`, `profile`):
// what the page knows of each user's profile, which names it still has to ask for, when a
// status ends, and how names and statuses read. Pure: no DOM, no I/O, no clock (time is an
// argument, on the server's clock: clock.js).
//
// Theory of operation
// -------------------
// The cache (`state.profiles`) holds one entry per user name (keyed without case):
// {user, name, status, avatar, deactivated}, `name` the display name or null, `status` {emoji,
// text, until} or null, `avatar` the url of their picture or null (shown instead of the
// coloured initial: view-avatar.js). It learns from everything the server says of profiles: the welcome's user
// (one's own), `who`'s members and the entries of `contacts` pages (which carry the fields
// when set: one left out is none; the welcome's contacts carry none, and are asked for), the
// `profile` event (a change, live, on every node), and the answers to `profiles`.
//
// A name the page shows (a message's author, a conversation's peer: `namesOnScreen`) and has
// not heard of is *wanted*; the wanted names are asked for together a moment later
// (ASK_DELAY_MS, so that a page of history or a listing of conversations asks once), in
// `profiles` requests of at most BATCH names each. A name asked for that the server leaves
// out is no user's (a typo in a conversation's name, say): it is not asked for again until
// the next welcome. A request refused for a lost connection puts its names back: they are
// asked for again after the next welcome.
//
// Profiles change while the page is away without it hearing of it: at each welcome, what the
// cache holds becomes *stale*. It is still shown, and asked for again once shown (who and
// contacts renew most of it first).
//
// A status past its `until` is gone, by the server's clock: `shownStatus` hides it whatever
// the cache still holds, and state.js sets a timer for the first `until` to come so that the
// page is drawn again then (and drops what ended: `prune`).

export const BATCH = 100; // names per `profiles` request: the server's most
export const ASK_DELAY_MS = 80; // names wanted meanwhile are asked for together
export const MAX_NAME_CHARS = 64; // a display name's most code points (the server's)
export const MAX_TEXT_CHARS = 100; // a status text's most code points (the server's)
export const MAX_AHEAD_MS = 30 * 24 * 3600_000; // the furthest `until` the server takes

/** The statuses offered first: as Slack and Mattermost offer them, each with its end. */
export const PRESETS = Object.freeze([
  { emoji: "📅", text: "In a meeting", clear: "1h" },
  { emoji: "🚌", text: "Commuting", clear: "30m" },
  { emoji: "🤒", text: "Out sick", clear: "today" },
  { emoji: "🌴", text: "On holiday", clear: "never" },
]);

/** When a status clears by itself: the choices of the dialog, Mattermost's. */
export const CLEAR_AFTER = Object.freeze([
  { key: "never", label: "Don't clear" },
  { key: "30m", label: "30 minutes", duration: 30 * 60 },
  { key: "1h", label: "1 hour", duration: 3600 },
  { key: "4h", label: "4 hours", duration: 4 * 3600 },
  { key: "today", label: "Today" },
  { key: "week", label: "This week" },
  { key: "custom", label: "Choose a date and time" },
]);

/** A few emoji for a status, offered beside the box (any emoji may be typed). */
export const STATUS_EMOJI = Object.freeze(["📅", "🚌", "🤒", "🌴", "🏠", "🍽️", "🎧", "✈️",
  "💬", "🎯"]);

/** An empty cache. */
export function emptyProfiles() {
  return {
    known: new Map(), // lower-case name -> {user, name, status, deactivated}
    wanted: new Set(), // lower-case names to ask for
    asking: new Set(), // lower-case names on their way
    unknown: new Set(), // lower-case names the server knows no user by (until a welcome)
    stale: new Set(), // lower-case names known from before the last welcome
  };
}

const key = (user) => user.toLowerCase();

/** A display name as the server gives it: a non-empty string, or null (none). */
export function readName(value) {
  return typeof value === "string" && value.trim() ? value.trim() : null;
}

/**
 * A picture as the server gives it ({url}): its url, or null (none). Only a path of this
 * server's pictures is taken (`/api/avatars/<sha256>`): a profile can never make the page
 * load from elsewhere.
 */
export function readAvatar(value) {
  if (!value || typeof value !== "object" || typeof value.url !== "string") return null;
  return /^\/api\/avatars\/[0-9a-f]{64}$/.test(value.url) ? value.url : null;
}

/** A custom status as the server gives it: {emoji, text, until}, or null (none). */
export function readStatus(value) {
  if (!value || typeof value !== "object") return null;
  const emoji = typeof value.emoji === "string" ? value.emoji : "";
  const text = typeof value.text === "string" ? value.text : "";
  if (!emoji && !text) return null;
  return { emoji, text, until: Number.isSafeInteger(value.until) ? value.until : null };
}

/**
 * Keep what the server says of `user`'s profile: `fields` as it sends them ({display_name,
 * custom_status, deactivated?}); a field left out is none (the server sends them only when
 * set). Returns the entry.
 */
export function learn(cache, user, fields = {}) {
  const entry = {
    user,
    name: readName(fields.display_name),
    status: readStatus(fields.custom_status),
    avatar: readAvatar(fields.avatar),
    deactivated: fields.deactivated === true,
  };
  const k = key(user);
  cache.known.set(k, entry);
  cache.wanted.delete(k);
  cache.unknown.delete(k);
  cache.stale.delete(k);
  return entry;
}

/** `user`'s entry, or null when the page has not heard of their profile. */
export function profileOf(cache, user) {
  // (No cache: a state made by hand, or before profiles: nobody's profile is known.)
  return cache && typeof user === "string" ? cache.known.get(key(user)) || null : null;
}

/** The status of `entry` (or null) at `now`: none once past its `until`. */
export function shownStatus(entry, now) {
  const status = entry ? entry.status : null;
  if (!status || (status.until !== null && status.until <= now)) return null;
  return status;
}

/**
 * How `user` is shown at `now`: {user, name, login, status, avatar}: `name` their display
 * name (or the user name when they have none), `login` the user name when it differs from
 * `name` (shown muted beside it), else null; `status` as `shownStatus`; `avatar` their
 * picture's url or null. Plain data: views compare it (JSON) to know when to draw again.
 */
export function shownUser(cache, user, now) {
  const entry = profileOf(cache, user);
  const name = entry && entry.name ? entry.name : user;
  return { user, name, login: name === user ? null : user, status: shownStatus(entry, now),
    avatar: avatarOf(cache, user) };
}

/** The image types a picture may be (the server decides by the bytes; these it takes). */
export const PICTURE_TYPES = Object.freeze(["image/png", "image/jpeg", "image/gif",
  "image/webp"]);

/**
 * Why `file` ({type, size}: a File) cannot be a picture, in words for the person, or null:
 * not one of PICTURE_TYPES by its declared type, or empty. (The server checks the bytes,
 * the size and the pixels: its refusal is shown as it says it.)
 */
export function pictureProblem(file) {
  if (!file || !PICTURE_TYPES.includes(file.type)) {
    return "Choose a PNG, JPEG, GIF or WebP image.";
  }
  if (!(file.size > 0)) return "That file is empty.";
  return null;
}

/** The url of `user`'s picture, or null (none, or not heard of). */
export function avatarOf(cache, user) {
  const entry = profileOf(cache, user);
  return entry && entry.avatar ? entry.avatar : null;
}

/** The name to show for `user` (their display name, else the user name). */
export function displayName(cache, user) {
  const entry = profileOf(cache, user);
  return entry && entry.name ? entry.name : user;
}

/**
 * Want the profiles of `names` (those shown): the ones neither known (nor stale), asked for,
 * nor unknown become wanted. Returns whether any did.
 */
export function want(cache, names) {
  let added = false;
  for (const name of names) {
    if (typeof name !== "string" || !name) continue;
    const k = key(name);
    if ((cache.known.has(k) && !cache.stale.has(k)) || cache.wanted.has(k)
        || cache.asking.has(k) || cache.unknown.has(k)) continue;
    cache.wanted.add(k);
    added = true;
  }
  return added;
}

/** Whether `want(cache, names)` would want any of them (it changes nothing). */
export function lacking(cache, names) {
  for (const name of names) {
    if (typeof name !== "string" || !name) continue;
    const k = key(name);
    if (!((cache.known.has(k) && !cache.stale.has(k)) || cache.wanted.has(k)
        || cache.asking.has(k) || cache.unknown.has(k))) return true;
  }
  return false;
}

/** The wanted names, in batches of at most BATCH, now on their way. */
export function batches(cache) {
  const names = [...cache.wanted];
  cache.wanted.clear();
  const out = [];
  for (let i = 0; i < names.length; i += BATCH) {
    const batch = names.slice(i, i + BATCH);
    for (const name of batch) cache.asking.add(name);
    out.push(batch);
  }
  return out;
}

/**
 * The answer to `profiles` for `asked` (the names asked): `list` the profiles found
 * ({user, display_name, custom_status, deactivated?}); a name left out is no user's.
 */
export function received(cache, asked, list) {
  const found = new Set();
  for (const item of Array.isArray(list) ? list : []) {
    if (!item || typeof item.user !== "string") continue;
    learn(cache, item.user, item);
    found.add(key(item.user));
  }
  for (const name of asked) {
    const k = key(name);
    cache.asking.delete(k);
    if (!found.has(k) && !cache.known.has(k)) cache.unknown.add(k);
    if (!found.has(k)) cache.stale.delete(k); // (a stale one not found: kept as it was)
  }
}

/**
 * `profiles` for `asked` was refused: with `again`, its names are wanted again (a lost
 * connection, a limit); else they are let go until the next welcome (a server without
 * profiles answers `unknown_op`: the page shows user names, as before).
 */
export function failed(cache, asked, again) {
  for (const name of asked) {
    const k = key(name);
    cache.asking.delete(k);
    if (again) cache.wanted.add(k);
    else {
      cache.unknown.add(k);
      cache.stale.delete(k);
    }
  }
}

/**
 * A welcome: what the cache holds may have changed while the page was away (stale, asked for
 * again when shown); names unknown before may be users now.
 */
export function welcomed(cache) {
  cache.stale = new Set(cache.known.keys());
  cache.unknown.clear();
  for (const name of cache.asking) cache.wanted.add(name); // their answers will not come
  cache.asking.clear();
}

/** The first `until` after `now` among the statuses held, or null. */
export function nextExpiry(cache, now) {
  let next = null;
  for (const entry of cache.known.values()) {
    const until = entry.status ? entry.status.until : null;
    if (until !== null && until > now && (next === null || until < next)) next = until;
  }
  return next;
}

/** Drop the statuses over at `now`. Returns whether any was. */
export function prune(cache, now) {
  let any = false;
  for (const entry of cache.known.values()) {
    if (entry.status && entry.status.until !== null && entry.status.until <= now) {
      entry.status = null;
      any = true;
    }
  }
  return any;
}

// -- what the page shows ---------------------------------------------------------------------

/**
 * The user names the page shows that it may name by a display name: the open room's
 * authors (and those its replies quote, those its forwards forward, and who is typing there),
 * the authors of the search's results (and of what they forward), the peers of the conversations in the sidebar, and the contacts (the welcome lists them without their
 * profiles; later pages of `contacts`, and `who`'s members, come with theirs).
 */
export function namesOnScreen(state) {
  const names = new Set(state.contacts);
  for (const room of state.rooms.values()) {
    if (room.kind === "dm" && room.peer) names.add(room.peer);
    if (room.kind === "group" && room.peers) for (const peer of room.peers) names.add(peer);
  }
  const room = state.current === null ? null : state.rooms.get(state.current);
  if (room) {
    for (const message of room.messages.values()) {
      if (typeof message.from === "string") names.add(message.from);
      if (message.quote && typeof message.quote.from === "string") names.add(message.quote.from);
      addForwarded(names, message);
      // A thread's root shows its latest repliers (threads.js).
      if (message.replies && Array.isArray(message.replies.users)) {
        for (const user of message.replies.users) if (typeof user === "string") names.add(user);
      }
    }
    for (const user of room.typing.keys()) names.add(user);
  }
  // The thread panel's root and replies (threads.js), which the room may not hold.
  const thread = state.threadPanel;
  for (const message of thread && thread.root ? [thread.root, ...thread.items] : []) {
    if (typeof message.from === "string") names.add(message.from);
    addForwarded(names, message);
  }
  for (const result of state.search.results) {
    if (typeof result.from === "string") names.add(result.from);
    addForwarded(names, result);
  }
  return [...names];
}

/** The author of what a forward forwards (forwarding.js: its card names them). */
function addForwarded(names, message) {
  const { forwarded } = message;
  if (forwarded && typeof forwarded === "object" && typeof forwarded.from === "string") {
    names.add(forwarded.from);
  }
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
  "Dec"];
const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const pad = (n) => String(n).padStart(2, "0");
const dayStart = (ms) => {
  const d = new Date(ms);
  return new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
};

/**
 * When a status ends, as the page says it at `now` (local time): "until 14:30" today,
 * "until tomorrow 14:30", "until Wed 14:30" within the week, "until 3 Jan" later.
 */
export function untilText(until, now) {
  const end = new Date(until);
  const time = `${pad(end.getHours())}:${pad(end.getMinutes())}`;
  const days = Math.round((dayStart(until) - dayStart(now)) / (24 * 3600_000));
  if (days <= 0) return `until ${time}`;
  if (days === 1) return `until tomorrow ${time}`;
  if (days < 7) return `until ${DAYS[end.getDay()]} ${time}`;
  return `until ${end.getDate()} ${MONTHS[end.getMonth()]}`;
}

/** A status in words, for a tooltip or a label: "In a meeting, until 14:30" (its emoji
 * alone when it has no text). */
export function statusWords(status, now) {
  if (!status) return "";
  const words = status.text || status.emoji;
  return status.until === null ? words : `${words}, ${untilText(status.until, now)}`;
}

/** A status on one line: "📅 In a meeting, until 14:30" (emoji, words, end). */
export function statusLine(status, now) {
  if (!status) return "";
  const end = status.until === null ? "" : `, ${untilText(status.until, now)}`;
  return [status.emoji, status.text].filter(Boolean).join(" ") + end;
}

// -- the dialog -------------------------------------------------------------------------------

/** The end of the day of `now` (the next local midnight), in ms. */
export function endOfDay(now) {
  const d = new Date(now);
  return new Date(d.getFullYear(), d.getMonth(), d.getDate() + 1).getTime();
}

/** The end of the week of `now` (the local midnight that starts the next Monday), in ms. */
export function endOfWeek(now) {
  const d = new Date(now);
  const toMonday = ((8 - d.getDay()) % 7) || 7;
  return new Date(d.getFullYear(), d.getMonth(), d.getDate() + toMonday).getTime();
}

/**
 * The end `set_profile` is given for clear-after choice `choice` at `now`: {duration}
 * (seconds: the server's clock counts), {until} (ms), {until: null} (until cleared), or null
 * when it cannot be (a custom time that is no time, not ahead, or past MAX_AHEAD_MS).
 * `custom` is a datetime-local value ("2026-12-07T14:30", local time).
 */
export function clearAfter(choice, now, custom = "") {
  const found = CLEAR_AFTER.find((item) => item.key === choice);
  if (!found || choice === "never") return found ? { until: null } : null;
  if (found.duration) return { duration: found.duration };
  if (choice === "today") return { until: endOfDay(now) };
  if (choice === "week") return { until: endOfWeek(now) };
  if (typeof custom !== "string" || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/.test(custom)) {
    return null;
  }
  const until = new Date(custom).getTime();
  if (!Number.isFinite(until) || until <= now || until > now + MAX_AHEAD_MS) return null;
  return { until };
}

/** Code points, as the server counts. */
export function codePoints(text) {
  return [...text].length;
}

/** Whether `text` is one emoji (a grapheme with a pictograph, a flag or a keycap). */
export function isOneEmoji(text) {
  if (typeof text !== "string" || !text) return false;
  const graphemes = [...new Intl.Segmenter(undefined, { granularity: "grapheme" }).segment(text)];
  return graphemes.length === 1
    && /\p{Extended_Pictographic}|\p{Regional_Indicator}|\u20e3/u.test(text);
}

/** Why display name `value` would be refused, or "" (trimmed first, as the server does). */
export function nameProblem(value) {
  const name = value.trim();
  if (codePoints(name) > MAX_NAME_CHARS) {
    return `A display name holds at most ${MAX_NAME_CHARS} characters.`;
  }
  if (/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u.test(name)) {
    return "A display name cannot hold line breaks or invisible characters.";
  }
  return "";
}

/** Why status `emoji` and `text` would be refused, or "". */
export function statusProblem(emoji, text) {
  if (emoji && !isOneEmoji(emoji)) return "Choose one emoji (or none).";
  if (codePoints(text.trim()) > MAX_TEXT_CHARS) {
    return `A status holds at most ${MAX_TEXT_CHARS} characters.`;
  }
  if (/[\p{Cc}\p{Zl}\p{Zp}]/u.test(text)) return "A status is one line.";
  return "";
}

/**
 * The body of `set_profile` for what the dialog holds, against the profile `entry` had
 * (null: none): only what changed (the server keeps fields left out). `form` is {name,
 * emoji, text, clear, custom}: `clear` a CLEAR_AFTER key, or "keep" for the status's own end.
 * Returns {body} ({} when nothing changed) or {problem} (words for the person).
 */
export function profileChange(entry, form, now) {
  const body = {};
  const problem = nameProblem(form.name);
  if (problem) return { problem };
  const name = form.name.trim() || null;
  if (name !== (entry ? entry.name : null)) body.display_name = name;
  const emoji = form.emoji.trim();
  const text = form.text.trim();
  const had = shownStatus(entry, now);
  if (!emoji && !text) {
    if (had) body.custom_status = null;
    return { body };
  }
  const wrong = statusProblem(emoji, text);
  if (wrong) return { problem: wrong };
  let end;
  if (form.clear === "keep" && had && (had.until === null || had.until > now)) {
    end = { until: had.until };
  } else {
    end = clearAfter(form.clear, now, form.custom);
    if (end === null) return { problem: "Choose when the status clears: a time ahead, within 30 days." };
  }
  const same = had && had.emoji === emoji && had.text === text
    && (form.clear === "keep" || (end.until === null && had.until === null && form.clear === "never"));
  if (!same) body.custom_status = { emoji, text, ...end };
  return { body };
}

/** A preset as a status ({emoji, text} and its clear-after key). */
export function presetLabel(preset) {
  const clear = CLEAR_AFTER.find((item) => item.key === preset.clear);
  return `${preset.emoji} ${preset.text}`
    + (preset.clear === "never" ? "" : ` · ${clear.label.toLowerCase()}`);
}

// -- @-completion ----------------------------------------------------------------------------

/** `text` without case or accents, for matching what is typed. */
function folded(text) {
  return text.normalize("NFD").replace(/\p{M}/gu, "").toLowerCase();
}

/**
 * Whether @-completion offers `user` for `query` (what follows the "@"): their user name
 * starts with it, or a word of their display name does (without case or accents: "@lee"
 * and "@zoe" find "Ann Lee" and "Zoë").
 */
export function mentionMatches(cache, user, query) {
  const q = folded(query);
  if (user.toLowerCase().startsWith(q)) return true;
  const entry = profileOf(cache, user);
  if (!entry || !entry.name) return false;
  const name = folded(entry.name);
  return name.startsWith(q) || name.split(/[\s._-]+/).some((word) => word.startsWith(q));
}

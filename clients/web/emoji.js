// Custom emoji (docs/protocol.md, "Custom emoji"): the server's list as the page keeps it, and
// the pure logic around it, tested with node --test (tests/web/emoji.test.mjs).
//
// The list comes from a `custom_emoji` request after each welcome and is kept by the
// `custom_emoji` events (added: `url` a picture; removed: `url` null). `version` counts its
// changes, so that a view that drew a message's text or reactions with the list draws them
// again when it changed (an emoji added after the message came shows from then on).
//
// Only urls of the server's emoji pictures are kept (`/api/emoji/images/<sha256>`): they are
// the only attribute the views take from the list (an <img>'s src).

/** A custom emoji's name, as the server takes it. */
export const NAME = /^[a-z0-9_+-]{1,32}$/;
const URL = /^\/api\/emoji\/images\/[0-9a-f]{64}$/;
// ":" and the start of a name right before the caret, not glued to a word or a time ("12:30").
const TYPING = /(?:^|[^\p{L}\p{N}_:+-]):([a-z0-9_+-]{2,32})$/u;
export const MAX_SUGGESTIONS = 8;
/** What the dialog offers to upload (the server decides by the bytes). */
export const PICTURE_TYPES = Object.freeze(["image/png", "image/jpeg", "image/gif",
  "image/webp"]);

/** An empty list: nothing asked yet. */
export function emptyEmoji() {
  return { byName: new Map(), version: 0, loaded: false };
}

/** One emoji object of the server as kept here ({name, url, by, ts}), or null. */
function kept(item) {
  if (!item || typeof item !== "object" || typeof item.name !== "string"
      || !NAME.test(item.name) || typeof item.url !== "string" || !URL.test(item.url)) {
    return null;
  }
  return { name: item.name, url: item.url, by: typeof item.by === "string" ? item.by : "",
    ts: Number.isFinite(item.ts) ? item.ts : 0 };
}

/** The answer to `custom_emoji` (`{emoji: [...]}`): the whole list, replaced. */
export function received(list, reply) {
  list.byName = new Map();
  for (const item of Array.isArray(reply && reply.emoji) ? reply.emoji : []) {
    const emoji = kept(item);
    if (emoji) list.byName.set(emoji.name, emoji);
  }
  list.loaded = true;
  list.version += 1;
}

/** A `custom_emoji` event: one added (its url) or removed (url null). */
export function changed(list, event) {
  if (!event || typeof event.name !== "string" || !NAME.test(event.name)) return;
  if (event.url === null) {
    if (!list.byName.delete(event.name)) return;
  } else {
    const emoji = kept(event);
    if (!emoji) return;
    list.byName.set(emoji.name, emoji);
  }
  list.version += 1;
}

/** The name of a reaction that is a custom emoji's `:name:`, or null (a Unicode emoji). */
export function customName(emoji) {
  if (typeof emoji !== "string" || emoji.length < 3 || emoji[0] !== ":" || emoji.at(-1) !== ":") {
    return null;
  }
  const name = emoji.slice(1, -1);
  return NAME.test(name) ? name : null;
}

/** The picture of a reaction's emoji when it is a known custom one: {name, url}, else null. */
export function pictureOf(list, emoji) {
  const name = customName(emoji);
  const found = name === null ? null : list.byName.get(name);
  return found ? { name: found.name, url: found.url } : null;
}

/** Every custom emoji, by name (the picker's "Custom" section, the dialog's list). */
export function sortedEmoji(list) {
  return [...list.byName.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
}

/**
 * What to offer for the text before the caret in the message box: when it ends in ":" and
 * two or more characters of a name, {start, typed, names}: the names that start with what
 * was typed, then those that hold it, at most MAX_SUGGESTIONS; null otherwise (nothing
 * typed so, inside a code span, or no emoji matches).
 */
export function suggestions(list, before) {
  const typed = TYPING.exec(before);
  if (!typed || (before.match(/`/g) || []).length % 2 === 1) return null;
  const word = typed[1];
  const names = [...list.byName.keys()].sort();
  const found = [...names.filter((n) => n.startsWith(word)),
    ...names.filter((n) => !n.startsWith(word) && n.includes(word))].slice(0, MAX_SUGGESTIONS);
  if (!found.length) return null;
  return { start: before.length - word.length - 1, typed: word, names: found };
}

/**
 * Whether the person may remove `emoji` from the dialog: who added it, or an administrator
 * (as the server decides).
 */
export function mayRemove(emoji, me, admin) {
  return admin === true || (typeof me === "string" && emoji.by.toLowerCase() === me.toLowerCase());
}

/**
 * What is wrong with a name and file before they are sent, in words, or "" when nothing is
 * (the server checks again, and decides by the bytes).
 */
export function addProblem(list, name, file, maxBytes = 256 * 1024) {
  const bare = String(name || "").trim().replace(/^:(.*):$/, "$1");
  if (!NAME.test(bare)) return "A name is 1 to 32 of a-z, 0-9, _, + and -.";
  if (list.byName.has(bare)) return `There is a custom emoji :${bare}: already.`;
  if (!file) return "Choose a picture.";
  if (file.type && !PICTURE_TYPES.includes(file.type)) {
    return "The picture must be a PNG, JPEG, GIF or WebP image.";
  }
  if (Number.isFinite(file.size) && file.size > maxBytes) {
    return `The picture is over ${Math.round(maxBytes / 1024)} KiB.`;
  }
  return "";
}

/** A name as typed in the dialog, as it is sent: trimmed, without its colons. */
export function bareName(name) {
  return String(name || "").trim().replace(/^:(.*):$/, "$1");
}

// Drafts: what was typed in a room's message box and not sent yet, one per room. Switching
// rooms shows the new room's own draft, so a half-typed message stays with its room and Enter
// never sends it into another one. Pure, like state.js: `state.drafts` is a Map (room -> text)
// replaced, not changed in place, on every change, so the controller sees that it changed and
// saves it (localStorage, per user: a reload keeps the drafts).
//
// Theory of operation: what a reload keeps
// ----------------------------------------
// A room's box holds its text and the files attached there (state.uploads, uploads.js). Both
// are saved together, one entry per room (`saveDrafts`):
//
//   "text"                                  text only (as drafts were always saved)
//   {text, files, unfinished: {tab, names}} with attachments: `files` the file objects of
//                                           those uploaded (the server keeps an upload no
//                                           message attached for `files.unattached_seconds`,
//                                           a day by default), `unfinished` the names of
//                                           those not uploaded yet, and the tab they are
//                                           uploading in
//
// After a reload (`restoreBoxes`) the uploaded files are back in the box, done, ready to go
// with the next message (uploads.js `restored`). The others cannot come back (their bytes were
// the page's): they are `lost`, for the controller to tell the person once, unless the tab
// that uploads them is still open (another tab of the same person: its uploads go on). A
// restored file may have expired on the server meanwhile: the send naming it is refused
// (`not_found`), and state.js then sends the message without it and says which file to attach
// again. Saved file objects hold the server's plain urls (for the Bearer token), never signed
// links, so nothing in them expires; the page asks for signed links to draw a thumbnail, as
// it does for the files of messages (links.js).
//
// What is stored is bounded (DRAFTS_MAX rooms, MAX_FILES files a room) and read back
// defensively: anything malformed in it is dropped, and junk gives empty boxes, never an
// exception.
//
// Theory of operation: the server's copy
// --------------------------------------
// A server that keeps drafts (the `drafts` request answers) has the truth while the page is
// connected, so that a message started on the laptop is in the box on the phone; what is
// kept here is its cache, for working offline and across a reload. `state.draftSync`
// (`emptySync`) holds what it takes:
//
//   times     key -> when its text was last typed here or stored there (ms, the server's clock
//             as the page reckons it): the newer text wins
//   server    key -> the text the server has, as last heard (reply or event); serverAt its time
//   typedAt   key -> when its box was last typed in here
//   unsaved   the keys typed here whose text the server has not confirmed yet (kept across a
//             reload with the texts): a draft of the cache not on the server and not unsaved
//             was deleted there (sent, or cleared, on another device) and goes
//   syncedAt  the last time the page heard the server's drafts (a reply or an event), kept
//             across a reload; null: never, and then every draft of the cache is the server's
//
// After each welcome the page asks `drafts` and merges (`merge`): per key the newer text
// wins; what the cache wins is saved to the server. Typing saves a key's text once its box
// has been still for SAVE_AFTER_MS (`saveDue`: a debounce, not a save per key), and only
// when it differs from the server's. A `draft` event (another device saved, or a message
// sent cleared it) fills the box unless its person typed in it in the last TYPING_GUARD_MS
// (`heard`): what someone is typing is never replaced under their fingers; once the box is
// still, the newer of the two texts wins (`saveDue`: theirs goes in the box, or ours is saved). `pushed` counts the texts put in from outside, so that the
// views put the open box's text in again. Keys are the room's name, or "room#rootId" for a
// thread's box (threads.js draftKey), on the wire `room` and `thread` (`placeOf`, `keyOf`).

import { cleanFile, MAX_FILES, MAX_NAME } from "./files.js";
import { restored } from "./uploads.js";

export const DRAFTS_MAX = 200; // drafts kept, the most recently typed ones
export const SAVE_AFTER_MS = 1500; // a box still this long after a key: its text is saved
export const TYPING_GUARD_MS = 2000; // typed in this recently: an event does not replace it

/** The page's side of the server's drafts (see the theory of operation). */
export function emptySync(times = new Map(), syncedAt = null, unsaved = new Set()) {
  return {
    supported: false, // whether the server keeps drafts (its answer to `drafts` says)
    times, server: new Map(), serverAt: new Map(), typedAt: new Map(), syncedAt, unsaved,
    saves: 0, // changes of `unsaved`: the controller saves the boxes again when it moves
    most: null, // the server's limits.drafts_per_user, from the list
    pushed: 0, // texts put in boxes from outside (merge, event): the views follow it
    full: false, // the server refused a new draft (too_many_drafts): said once
  };
}

/** The key of a box: its room's name, or "room#rootId" for a thread's. */
export function keyOf(room, thread = null) {
  return Number.isSafeInteger(thread) && thread > 0 ? `${room}#${thread}` : room;
}

/** The room and the thread (null: the room's own box) of a key. */
export function placeOf(key) {
  const at = key.lastIndexOf("#");
  const thread = at < 0 ? NaN : Number(key.slice(at + 1));
  if (!Number.isSafeInteger(thread) || thread <= 0 || !/^[0-9]+$/.test(key.slice(at + 1))) {
    return { room: key, thread: null };
  }
  return { room: key.slice(0, at), thread };
}

/** A draft object of the server's as a key, text and time; null when malformed. */
export function draftEntry(obj) {
  if (!obj || typeof obj !== "object" || typeof obj.room !== "string" || obj.room === ""
      || typeof obj.text !== "string" || !Number.isSafeInteger(obj.updated_at)) return null;
  const thread = obj.thread === undefined || obj.thread === null ? null : obj.thread;
  if (thread !== null && !(Number.isSafeInteger(thread) && thread > 0)) return null;
  return { key: keyOf(obj.room, thread), text: obj.text, at: obj.updated_at };
}

/**
 * Merge the server's list (`listed`, its draft objects) into the cache (`drafts`, key ->
 * text, with `times`). Per key the newer text wins; a key typed in now (`typing(key)`) keeps
 * its text; a key `unsaved` (typed here, not confirmed there) wins when typed after the
 * server's; any other key of the cache is the server's copy, which the server's text replaces.
 * A key of the cache alone stays when `unsaved` (or when the page never heard the server:
 * `syncedAt` null) and goes otherwise (deleted there). `pushable(key)`: whether the
 * server can hold it (its room is one of the person's): a key it cannot stays as it is.
 * Returns {drafts, times, server (key -> its text), serverAt (key -> its time), push: keys
 * whose text the server should get, changed: whether any text of the cache changed}.
 */
export function merge(drafts, times, listed, { syncedAt = null, typing = () => false,
  pushable = () => true, unsaved = new Set() } = {}) {
  const out = new Map(drafts);
  const outTimes = new Map(times);
  const server = new Map();
  const serverAt = new Map();
  const push = [];
  let changed = false;
  for (const entry of (Array.isArray(listed) ? listed : []).map(draftEntry)) {
    if (!entry || entry.text === "" || server.has(entry.key)) continue;
    server.set(entry.key, entry.text);
    serverAt.set(entry.key, entry.at);
    const mine = out.get(entry.key);
    const mineAt = outTimes.get(entry.key) ?? 0;
    if (mine === entry.text) {
      outTimes.set(entry.key, Math.max(mineAt, entry.at));
    } else if (typing(entry.key)
        || (mine !== undefined && unsaved.has(entry.key) && mineAt > entry.at)) {
      push.push(entry.key);
    } else {
      out.set(entry.key, entry.text);
      outTimes.set(entry.key, entry.at);
      changed = true;
    }
  }
  for (const key of [...out.keys()]) {
    if (server.has(key) || !pushable(key)) continue;
    if (typing(key) || syncedAt === null || unsaved.has(key)) {
      push.push(key);
    } else {
      out.delete(key);
      outTimes.delete(key);
      changed = true;
    }
  }
  return { drafts: changed ? out : drafts, times: outTimes, server, serverAt, push, changed };
}

/**
 * Whether key `key`'s text is due to be saved at `now`: null when not (the server keeps no
 * drafts, the page is offline, or the server has that text already), {wait: ms} while its
 * box was typed in less than SAVE_AFTER_MS ago, {adopt: text} when the server's text came
 * after the last key typed here (another device's, kept out of the box while it was typed
 * in: it goes in now, being the newer), else {send: text} ("" deletes it).
 */
export function saveDue(sync, drafts, key, now, online) {
  if (!sync.supported || !online) return null;
  const typedAt = sync.typedAt.get(key) ?? -Infinity;
  const since = now - typedAt;
  if (since < SAVE_AFTER_MS) return { wait: SAVE_AFTER_MS - since };
  const text = (drafts && drafts.get(key)) || "";
  const theirs = sync.server.get(key) || "";
  if (theirs === text) return null;
  if ((sync.serverAt.get(key) ?? -Infinity) > typedAt) return { adopt: theirs };
  return { send: text };
}

/**
 * The box of `key` holds `text`, typed at `now` (a reducer). Returns the effect that saves
 * it once the box is still (`saveDraft` in state.js), when the server keeps drafts.
 */
export function typed(state, key, text, now) {
  if (typeof key !== "string" || typeof text !== "string") return [];
  if (draftOf(state, key) === text) return [];
  setDraft(state, key, text);
  const sync = state.draftSync;
  if (!sync) return [];
  sync.times.set(key, now);
  sync.typedAt.set(key, now);
  markSaved(sync, key, false);
  if (!sync.supported) return [];
  return [{ later: SAVE_AFTER_MS, key: `draft:${key}`, action: "saveDraft", args: [key] }];
}

/**
 * The server says (an event, or an answer) that `key` holds `text` since `at`: kept as the
 * server's, and put in the box unless its box holds text typed within TYPING_GUARD_MS of
 * `now` (then `saveDraft` settles it once the box is still: the newer text wins). An empty
 * box (a message just sent from it) has nothing to keep. Returns whether the box's text
 * changed.
 */
export function heard(state, key, text, at, now) {
  const sync = state.draftSync;
  if (text) sync.server.set(key, text);
  else sync.server.delete(key);
  sync.serverAt.set(key, at);
  sync.syncedAt = Math.max(sync.syncedAt ?? 0, now);
  if (now - (sync.typedAt.get(key) ?? -Infinity) < TYPING_GUARD_MS
      && draftOf(state, key) !== "") return false;
  if ((sync.times.get(key) ?? 0) > at && draftOf(state, key) !== text) return false;
  sync.times.set(key, at);
  markSaved(sync, key, true);
  if (draftOf(state, key) === text) return false;
  setDraft(state, key, text);
  sync.pushed += 1;
  return true;
}

/** Note whether key `key`'s text is the server's (`saved`) or typed here and not confirmed. */
export function markSaved(sync, key, saved) {
  if (sync.unsaved.has(key) !== saved) return;
  if (saved) sync.unsaved.delete(key);
  else sync.unsaved.add(key);
  sync.saves += 1;
}

/**
 * The drafts as the Drafts list shows them, the latest first: {key, room, thread, text, at}
 * of each box with text (`times` unknown: last).
 */
export function draftList(state) {
  const times = state.draftSync ? state.draftSync.times : new Map();
  return [...(state.drafts || new Map())].filter(([, text]) => text !== "")
    .map(([key, text]) => ({ key, ...placeOf(key), text, at: times.get(key) ?? null }))
    .sort((a, b) => (b.at ?? -Infinity) - (a.at ?? -Infinity));
}

/** The draft of `room` ("" when there is none). */
export function draftOf(state, room) {
  return (state.drafts && room !== null && state.drafts.get(room)) || "";
}

/** The box of `room` now holds `text` (typed, or "" once sent). A reducer: returns effects. */
export function setDraft(state, room, text) {
  if (typeof room !== "string" || typeof text !== "string") return [];
  if (draftOf(state, room) === text) return [];
  const drafts = new Map(state.drafts || []);
  drafts.delete(room); // re-added last: the Map's order is the order of typing
  if (text !== "") drafts.set(room, text);
  while (drafts.size > DRAFTS_MAX) drafts.delete(drafts.keys().next().value);
  state.drafts = drafts;
  return [];
}

/**
 * The boxes as a JSON-able object, to store: each room's draft (`drafts`, room -> text) with
 * its attachments (`uploads`, the state's list, uploads.js), those not uploaded yet noted as
 * uploading in tab `tab`, and with `times` (room -> ms) the time of each text (`at`). The most recent DRAFTS_MAX rooms: by typing, and a room with only
 * files after those (it was attached to lately).
 */
export function saveDrafts(drafts, uploads = [], tab = null, times = null, unsaved = null) {
  const boxes = new Map();
  for (const [room, text] of drafts || []) boxes.set(room, { text, files: [], names: [] });
  for (const item of uploads) {
    if (!boxes.has(item.room)) boxes.set(item.room, { text: "", files: [], names: [] });
    const box = boxes.get(item.room);
    if (item.status === "done" && item.file) box.files.push({ ...item.file });
    else box.names.push(item.name);
  }
  const saved = [...boxes].slice(-DRAFTS_MAX).map(([room, { text, files, names }]) => {
    const at = times && text ? times.get(room) : undefined;
    const mine = Boolean(unsaved && text && unsaved.has(room));
    if (!files.length && !names.length && !Number.isSafeInteger(at) && !mine) return [room, text];
    return [room, {
      ...(text ? { text } : {}),
      ...(Number.isSafeInteger(at) ? { at } : {}),
      ...(mine ? { unsaved: true } : {}),
      ...(files.length ? { files } : {}),
      ...(names.length ? { unfinished: { tab, names } } : {}),
    }];
  });
  return Object.fromEntries(saved);
}

/**
 * The boxes from what `saveDrafts` stored (anything else in it is dropped): {drafts (room ->
 * text), uploads (the restored files, uploads.js entries), lost ([{room, names, tab}]: what
 * had not finished uploading, in tab `tab` or null), times (room -> when its text was typed
 * or stored, where saved)}. Junk gives empty boxes.
 */
export function restoreBoxes(saved) {
  const drafts = new Map();
  const times = new Map();
  const unsaved = new Set();
  const uploads = [];
  const lost = [];
  if (!saved || typeof saved !== "object" || Array.isArray(saved)) {
    return { drafts, uploads, lost, times, unsaved };
  }
  for (const [room, box] of Object.entries(saved).slice(-DRAFTS_MAX)) {
    if (typeof box === "string") {
      if (box !== "") drafts.set(room, box);
      continue;
    }
    if (!box || typeof box !== "object" || Array.isArray(box)) continue;
    if (typeof box.text === "string" && box.text !== "") {
      drafts.set(room, box.text);
      if (Number.isSafeInteger(box.at)) times.set(room, box.at);
      if (box.unsaved === true) unsaved.add(room);
    }
    const ids = new Set();
    for (const value of Array.isArray(box.files) ? box.files : []) {
      const file = cleanFile(value);
      if (!file || ids.has(file.id) || ids.size >= MAX_FILES) continue;
      ids.add(file.id);
      uploads.push(restored(room, file));
    }
    const unfinished = box.unfinished;
    if (unfinished && typeof unfinished === "object" && Array.isArray(unfinished.names)) {
      const names = unfinished.names.filter((name) => typeof name === "string" && name !== "")
        .slice(0, MAX_FILES).map((name) => name.slice(0, MAX_NAME));
      const tab = typeof unfinished.tab === "string" ? unfinished.tab : null;
      if (names.length) lost.push({ room, names, tab });
    }
  }
  return { drafts, uploads, lost, times, unsaved };
}

/** The drafts' texts from what `saveDrafts` stored (room -> text; anything else dropped). */
export function restoreDrafts(saved) {
  return restoreBoxes(saved).drafts;
}

/**
 * What to tell the person of the files `lost` (`restoreBoxes`) once the page is back: that
 * they were not uploaded and must be attached again, by room ("" when there are none).
 * `label(room)` names a room as the page does.
 */
export function lostNotice(lost, label = (room) => room) {
  const rooms = lost.filter((item) => item.names.length);
  if (!rooms.length) return "";
  const count = rooms.reduce((sum, item) => sum + item.names.length, 0);
  const where = rooms.map((item) => `${item.names.join(", ")} (${label(item.room)})`)
    .join("; ");
  return `${count === 1 ? "A file" : `${count} files`} had not finished uploading when the `
    + `page closed and ${count === 1 ? "is" : "are"} not attached any more: ${where}. `
    + `Attach ${count === 1 ? "it" : "them"} again.`;
}

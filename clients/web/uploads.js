// The files attached in the message box: each is uploaded as soon as it is chosen, and sent
// with the next message of its room once it is up. Pure: no DOM, no I/O, no clock. Every
// function returns a new list of frozen entries (or the same list when nothing changed), as
// outbox.js does, so a view can tell by identity what changed.
//
// Theory of operation
// -------------------
// Every rule of an upload's life is in this file. An entry is
//
//   {key, room, name, size, type, status, loaded, total, file, error, retryable, kept}
//
// `key` names it in the page (the controller keeps the bytes under it); `room` is the room it
// is uploaded to (a file belongs to one room, so each room's box has its own attachments);
// `file` is the server's file object once it is up; `error` says why it failed, for a person;
// `kept` is true for one kept across a reload (`restored`: the page has no bytes of it).
// Its status moves only along TRANSITIONS:
//
//   queued ──► uploading(loaded, total) ──► done(file)
//     ▲               │
//     └── retry ── failed(error, retryable)
//
// A move that the table does not allow is ignored, not an error: the browser reports events
// of an upload that was removed or retried meanwhile (an XMLHttpRequest's `load` racing its
// `abort`), and those must change nothing. A failure that another attempt cannot mend (too
// large, not allowed) is not retryable: the person can only remove it.
//
// What is done outlives a reload: its file object is kept with the room's draft (drafts.js)
// and comes back as a done entry (`restored`). The bytes of the others do not: they are gone
// with the page, and the person is told so once.

import { humanSizesIn, MAX_FILES } from "./files.js";

/** Where each status may go next. */
export const TRANSITIONS = Object.freeze({
  queued: Object.freeze(["uploading"]),
  uploading: Object.freeze(["done", "failed"]),
  failed: Object.freeze(["queued"]),
  done: Object.freeze([]),
});

/** The entries of one room, in the order they were attached. */
export function inRoom(list, room) {
  return list.filter((item) => item.room === room);
}

/** The entry with this key, or undefined. */
export function find(list, key) {
  return list.find((item) => item.key === key);
}

/**
 * The list with new files attached in `room`: [{key, name, size, type}], queued. Past
 * MAX_FILES in the room the rest are left out; `refused` counts them.
 */
export function add(list, room, files) {
  const left = Math.max(0, MAX_FILES - inRoom(list, room).length);
  const taken = files.slice(0, left).map((f) => Object.freeze({
    key: f.key, room, name: String(f.name || "file"), size: Number(f.size) || 0,
    type: String(f.type || ""), status: "queued", loaded: 0, total: Number(f.size) || 0,
    file: null, error: "", retryable: false,
  }));
  return { list: taken.length ? [...list, ...taken] : list, refused: files.length - taken.length };
}

function move(list, key, status, fields = {}) {
  const item = find(list, key);
  if (!item || !TRANSITIONS[item.status].includes(status)) return list;
  return list.map((entry) => (entry.key === key
    ? Object.freeze({ ...entry, ...fields, status }) : entry));
}

/**
 * An entry for `file`, a file object uploaded to `room` before the page was reloaded (kept
 * with the room's draft, drafts.js): done, ready to go with the next message. Its key is made
 * of the room and the file's id (there are no bytes to keep under it).
 */
export function restored(room, file) {
  return Object.freeze({
    key: `kept:${room}:${file.id}`, room, name: file.name, size: file.size,
    type: file.content_type || "", status: "done", loaded: file.size, total: file.size, file,
    error: "", retryable: false, kept: true,
  });
}

/** Its bytes started going out. */
export function start(list, key) {
  return move(list, key, "uploading", { loaded: 0, error: "", retryable: false });
}

/** `loaded` of `total` bytes went out (the multipart body's, so a little more than the file). */
export function progress(list, key, loaded, total) {
  const item = find(list, key);
  if (!item || item.status !== "uploading" || !(total > 0)) return list;
  const kept = Math.min(Math.max(0, loaded), total);
  if (kept === item.loaded && total === item.total) return list;
  return list.map((entry) => (entry.key === key
    ? Object.freeze({ ...entry, loaded: kept, total }) : entry));
}

/** The server has it: `file` is its file object. */
export function finish(list, key, file) {
  const item = find(list, key);
  return move(list, key, "done", { file, loaded: item ? item.total : 0 });
}

/** It failed: `failure` is what `failure()` made of the server's answer (or of its absence). */
export function fail(list, key, { error, retryable }) {
  return move(list, key, "failed", { error, retryable: Boolean(retryable) });
}

/** Try a failed upload again (only one that another attempt may mend). */
export function retry(list, key) {
  const item = find(list, key);
  if (!item || !item.retryable) return list;
  return move(list, key, "queued", { loaded: 0, error: "", retryable: false });
}

/** The list without this entry (the same list when there is none). */
export function remove(list, key) {
  return find(list, key) ? list.filter((item) => item.key !== key) : list;
}

/**
 * The list with `files` (file objects uploaded to the box `room`, which a message took and
 * that came back: a schedule refused) done in the box again, those it holds already aside.
 */
export function putBack(list, room, files) {
  const held = new Set(list.filter((item) => item.room === room && item.file)
    .map((item) => item.file.id));
  const back = files.filter((file) => !held.has(file.id)).map((file) => restored(room, file));
  return back.length ? [...list, ...back] : list;
}

/** The list without the room's uploaded files (they went out with a message). */
export function consume(list, room) {
  return list.some((item) => item.room === room && item.status === "done")
    ? list.filter((item) => !(item.room === room && item.status === "done")) : list;
}

/**
 * Where the room's attachments stand: {count, busy (queued or uploading), failed, files (the
 * file objects of those done, in order), ready (there are some, and all are up)}.
 */
export function readiness(list, room) {
  const mine = inRoom(list, room);
  const busy = mine.filter((item) => item.status === "queued" || item.status === "uploading")
    .length;
  const failed = mine.filter((item) => item.status === "failed").length;
  const files = mine.filter((item) => item.status === "done").map((item) => item.file);
  return { count: mine.length, busy, failed, files,
    ready: mine.length > 0 && busy === 0 && failed === 0 };
}

/** How far an upload is, 0 to 1. */
export function fraction(item) {
  if (item.status === "done") return 1;
  return item.total > 0 ? Math.min(1, item.loaded / item.total) : 0;
}

/**
 * What a failed upload says, and whether trying again may help, from the HTTP answer:
 * `status` (0: no answer, the network failed), and the server's JSON error {code, message}
 * when it sent one.
 */
export function failure({ status, code = "", message = "" }) {
  const said = humanSizesIn(message);
  if (!status) {
    return { error: "Upload failed: the server could not be reached.", retryable: true };
  }
  if (status === 413 || code === "too_large") {
    return { error: `Too large: ${said || "the file is over the server's limit"}.`
      .replace(/\.\.$/, "."), retryable: false };
  }
  if (status === 401 || code === "unauthenticated") {
    return { error: "Your session has ended: log in again to upload.", retryable: false };
  }
  if (status === 429 || code === "rate_limited") {
    return { error: "Too many uploads at once: try again in a moment.", retryable: true };
  }
  if (status >= 500) {
    return { error: `The server failed (HTTP ${status})${said ? `: ${said}` : ""}.`
      .replace(/\.\.$/, "."), retryable: true };
  }
  return { error: `Not uploaded: ${said || `HTTP ${status}`}.`.replace(/\.\.$/, "."),
    retryable: false };
}

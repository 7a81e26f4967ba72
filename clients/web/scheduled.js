// Scheduled messages ("Schedule for later", as Slack calls it): what the person wrote now for
// the server to send later, as them (docs/protocol.md, "schedule"). Pure, like saved.js:
// `state.scheduled` is one of these objects, changed only through the functions here (state.js's
// reducers call them and turn what they give into requests); time and the time zone are
// arguments.
//
// Theory of operation
// -------------------
// The list is the person's own and small (the server keeps at most `limits.scheduled_per_user`
// items pending, 100 by default), so one `scheduled_items` reply holds all of it, by `send_at`.
// The welcome says how many there are (`scheduled_count`, `scheduled_failed`, left out when 0):
// the sidebar's badge shows them without a request. A welcome that says none means the list is
// empty, and nothing is asked; one that says some asks for the list at once (the panel and the
// line under the box need it). Opening the panel asks again, so what the welcome could not say
// (an item scheduled elsewhere while this page connected) is shown then.
//
// The `scheduled` event {action, item} keeps the list, on every device of the person: "added"
// and "changed" put the item in its place (by send_at, then id), "failed" too (with its error),
// "cancelled" and "sent" take it out for good: an item's id is never used again, so an id once
// gone (`gone`) is not brought back by a late reply or a stale page. While a listing is on its
// way, each event is remembered (`listing.events`, the newest by id wins over what the reply
// says of it: the reply may have been read before the change the event tells), as saved.js
// does with its walk.
//
// The counts (pending + failed, and failed) are the welcome's until a list is in, moved by the
// events meanwhile (each tells a change after the welcome); then they are counted from the list.
// (Meanwhile the failed count may be one too many: a failed item the page never held that is
// re-timed says "changed", pending, and whether it was failed only the list tells.)
//
// The person's own requests wait in `pending` by item id until their reply (the panel shows
// "Sending…", "Deleting…"): the reply or the event settles it; a refusal says why.
//
// Times: the presets ("Tomorrow at 9:00", "Monday at 9:00") are saved.js's reminder presets,
// computed in the person's time zone by its wall clock; "Custom time…" reads a date and a time
// there (saved.js `parseLocal`).

import { parseLocal, presetTime, wallClock } from "./saved.js";
import { WHEN_USAGE, wordsTime } from "./when.js";

/** The furthest a message may be scheduled (the server refuses later ones): 366 days. */
export const MAX_AHEAD_MS = 366 * 24 * 3600_000;
const DAY = 24 * 3600_000;

/** The presets of the "Schedule for later" menu, in order: {key, label} (saved.js's keys). */
export const PRESETS = Object.freeze([
  { key: "tomorrow", label: "Tomorrow at 9:00" },
  { key: "monday", label: "Monday at 9:00" },
]);

/** The actions a `scheduled` event may tell. */
const ACTIONS = new Set(["added", "changed", "cancelled", "sent", "failed"]);
const REMOVED = new Set(["cancelled", "sent"]);

/** Nothing known yet. */
export function emptyScheduled() {
  return {
    supported: true, // until the server says it does not know `schedule` (unknown_op)
    items: [], // ITEMs (docs/protocol.md), by send_at then id
    complete: false, // `items` is the whole list
    count: 0, // pending + failed, as the welcome counted them (until `complete`)
    failed: 0, // failed, likewise
    listing: null, // {events: Map id -> event}: a `scheduled_items` request on its way
    status: "idle", // "idle" | "loading" | "done" | "failed"
    error: "", // why the last listing failed, for the person
    gone: new Set(), // ids sent or cancelled: never shown again
    pending: new Map(), // id -> "send" | "edit" | "cancel": the person's own, on their way
    last: null, // {item, room, thread}: the latest the person scheduled on this page
    opens: 0, // how many times the panel was opened
    restored: 0, // how many times a refused text was put back in its box (the box reads it)
    files: new Map(), // file id -> file object: those of a `schedule` on its way (a refusal
    // puts them back in their box)
  };
}

// -- the welcome and the listing -------------------------------------------------------------

/**
 * A welcome: its counts are the badge's. Returns the `scheduled_items` request's fields when the
 * list must be asked for (the welcome says there are some), else null (the list is empty).
 */
export function welcomed(scheduled, frame) {
  const count = countOf(frame.scheduled_count);
  scheduled.count = count;
  scheduled.failed = Math.min(count, countOf(frame.scheduled_failed));
  scheduled.listing = null;
  if (count === 0) {
    scheduled.items = [];
    scheduled.complete = true;
    scheduled.status = "done";
    scheduled.error = "";
    return null;
  }
  // What the page held is of before the welcome: the events from now on move the welcome's
  // counts, item by item, so none of it may count (the panel says "Loading…" a moment).
  scheduled.items = [];
  scheduled.complete = false;
  return begin(scheduled);
}

/** Ask for the whole list (the panel opened, or "Try again"): the request's fields, or null
 * while one is on its way. */
export function begin(scheduled) {
  if (scheduled.listing !== null) return null;
  scheduled.listing = { events: new Map() };
  scheduled.status = scheduled.complete ? "done" : "loading";
  scheduled.error = "";
  return {};
}

/** The connection was lost: the listing on its way is not answered. */
export function stopped(scheduled) {
  scheduled.listing = null;
  scheduled.pending.clear();
  if (!scheduled.complete) scheduled.status = "idle";
}

/**
 * The `ok` reply to `scheduled_items`: the list is the reply's, with the events told since it
 * was asked for applied over it (the newest event of an item wins).
 */
export function received(scheduled, reply) {
  const { listing } = scheduled;
  if (listing === null) return;
  scheduled.listing = null;
  const byId = new Map();
  for (const raw of Array.isArray(reply.items) ? reply.items : []) {
    const item = itemOf(raw);
    if (item && !scheduled.gone.has(item.item)) byId.set(item.item, item);
  }
  for (const [id, event] of listing.events) {
    if (REMOVED.has(event.action)) byId.delete(id);
    else byId.set(id, event.item);
  }
  scheduled.items = order([...byId.values()]);
  scheduled.complete = true;
  scheduled.status = "done";
}

/** The `error` reply to `scheduled_items`. */
export function listingFailed(scheduled, error) {
  if (scheduled.listing === null) return;
  scheduled.listing = null;
  if (error && error.code === "unknown_op") scheduled.supported = false;
  scheduled.status = scheduled.complete ? "done" : "failed";
  scheduled.error = explain(error);
}

/** A sentence for a person about a failed listing. */
export function explain(error) {
  const code = error && error.code;
  if (code === "disconnected") return "Not connected: the scheduled messages show once the page is back online.";
  if (code === "unknown_op") return "This server does not schedule messages.";
  const message = error && typeof error.message === "string" ? error.message : "";
  return message ? `The scheduled messages could not be listed: ${message}`
    : "The scheduled messages could not be listed.";
}

/** The panel was opened. */
export function opened(scheduled) {
  scheduled.opens += 1;
}

// -- events ----------------------------------------------------------------------------------

/**
 * A `scheduled` event (this person's, from any of their connections). Returns the item as it
 * is now (null when it left the list, or the frame is not one), for the caller to tell.
 */
export function scheduledEvent(scheduled, frame) {
  if (!frame || !ACTIONS.has(frame.action)) return null;
  const item = itemOf(frame.item);
  if (!item) return null;
  const id = item.item;
  if (scheduled.listing) scheduled.listing.events.set(id, { action: frame.action, item });
  // The person's own change on its way is settled by the event that tells it: an edit by a
  // change; "Send now" by its sending (or failure); a deletion by its cancelling (until then
  // the item stays hidden here, whatever else is told of it).
  const what = scheduled.pending.get(id);
  if (what === "edit" || (frame.action !== "changed" && frame.action !== "added")) {
    scheduled.pending.delete(id);
  }
  if (REMOVED.has(frame.action)) {
    remove(scheduled, id);
    return null;
  }
  if (scheduled.gone.has(id)) return null; // an old event of an item sent or cancelled
  put(scheduled, item, frame.action);
  return item;
}

/**
 * `item` in its place in the list (replacing the one of its id), as `action` tells. Until the
 * list is in, the welcome's counts are moved: an item added is one more; one not held here was
 * counted by the welcome (every change after it comes as an event), pending unless it fails now.
 */
function put(scheduled, item, action) {
  const held = scheduled.items.find((known) => known.item === item.item);
  if (!scheduled.complete) {
    if (!held && action === "added") scheduled.count += 1;
    const before = held ? held.state : action === "added" || action === "failed" ? "pending"
      : item.state;
    if (before !== item.state) {
      scheduled.failed = Math.max(0, scheduled.failed + (item.state === "failed" ? 1 : -1));
    }
  }
  scheduled.items = order([...scheduled.items.filter((known) => known.item !== item.item), item]);
}

/** Item `id` left the list for good (sent or cancelled). */
function remove(scheduled, id) {
  if (scheduled.gone.has(id)) return;
  scheduled.gone.add(id);
  const held = scheduled.items.find((known) => known.item === id);
  if (!scheduled.complete) {
    // Held here or not, it was counted: by the welcome, or when its "added" came.
    scheduled.count = Math.max(0, scheduled.count - 1);
    if (held && held.state === "failed") scheduled.failed = Math.max(0, scheduled.failed - 1);
  }
  scheduled.items = scheduled.items.filter((known) => known.item !== id);
  if (scheduled.last && scheduled.last.item === id) scheduled.last = null;
}

/** By send_at ascending, then by id. */
function order(items) {
  return [...items].sort((a, b) => (a.send_at - b.send_at) || (a.item - b.item));
}

// -- the person's own requests ---------------------------------------------------------------

/**
 * The fields of a `schedule` request: `room` (its name), `text`, `files` (file objects, as
 * uploaded), `replyTo`, `thread`, `broadcast`, at `sendAt` (ms). The caller checks the time
 * first (`timeProblem`).
 */
export function scheduleFields({ room, text, files = [], replyTo = null, thread = null,
  broadcast = false, sendAt }) {
  const fields = { room, text, send_at: sendAt };
  if (files.length) fields.files = files.map((file) => file.id);
  if (Number.isSafeInteger(replyTo)) fields.reply_to = replyTo;
  if (Number.isSafeInteger(thread)) {
    fields.thread = thread;
    if (broadcast) fields.broadcast = true;
  }
  return fields;
}

/** The files (file objects) of a `schedule` request that goes now: kept until its reply. */
export function holding(scheduled, files) {
  for (const file of files) scheduled.files.set(file.id, file);
}

/**
 * The files of the `schedule` request `asked` (its file objects, as `holding` kept them), no
 * longer kept: its reply came. A refusal puts them back in their box.
 */
export function released(scheduled, asked) {
  const ids = Array.isArray(asked && asked.files) ? asked.files : [];
  const files = ids.map((id) => scheduled.files.get(id)).filter(Boolean);
  for (const id of ids) scheduled.files.delete(id);
  return files;
}

/** The `ok` reply to `schedule`: the item joins the list (its `added` event says it too), and
 * the line under the box tells it. */
export function scheduledOk(scheduled, asked, reply) {
  const item = itemOf(reply && reply.item);
  if (!item) return null;
  if (!scheduled.gone.has(item.item)) {
    const known = scheduled.items.some((held) => held.item === item.item);
    if (!known) scheduledEvent(scheduled, { action: "added", item });
    scheduled.last = { item: item.item, room: item.room, thread: item.thread };
  }
  return item;
}

/**
 * The person asks for a change of item `id` (`what`: "send" now, "edit" its text or time,
 * "cancel" it): waits in `pending` until the reply. Returns the request's {op, fields}.
 */
export function change(scheduled, id, what, fields = {}) {
  scheduled.pending.set(id, what);
  if (what === "cancel") return { op: "cancel_scheduled", fields: { item: id } };
  if (what === "send") return { op: "edit_scheduled", fields: { item: id, send_at: 0 } };
  return { op: "edit_scheduled", fields: { item: id, ...fields } };
}

/** The `ok` reply to `edit_scheduled` or `cancel_scheduled` (`asked`: its fields). */
export function changed(scheduled, asked, reply) {
  const id = asked.item;
  const what = scheduled.pending.get(id);
  if (asked.op === "cancel_scheduled" || what === "cancel") {
    scheduled.pending.delete(id);
    remove(scheduled, id);
    return;
  }
  const item = itemOf(reply && reply.item);
  // "Send now": pending until the `sent` event takes it out (the reply says it is due now).
  if (what !== "send") scheduled.pending.delete(id);
  if (item && !scheduled.gone.has(item.item)) put(scheduled, item, "changed");
}

/** The `error` reply to a change (`asked`: its fields): taken back; a sentence says why. */
export function changeRefused(scheduled, asked, error) {
  scheduled.pending.delete(asked.item);
  const code = error && error.code;
  if (code === "not_found") {
    // Already sent, or cancelled elsewhere: its event says which (or said it already).
    return "That scheduled message is no longer waiting: it was sent or deleted.";
  }
  return refusal(error, asked.op === "cancel_scheduled" ? "deleted" : "changed");
}

/** A sentence for a refused `schedule` (or change): the server's reason, in words. */
export function refusal(error, what = "scheduled") {
  const code = error && error.code;
  if (code === "disconnected") return `Not connected: the message was not ${what}.`;
  if (code === "unknown_op") return "This server does not schedule messages.";
  if (code === "too_many_scheduled") {
    return "You have as many scheduled messages as this server keeps: send or delete some first.";
  }
  if (code === "forbidden") return `Not ${what}: you may not post there.`;
  if (code === "not_found") return `Not ${what}: the room or conversation is gone.`;
  if (code === "archived") return `Not ${what}: the room is archived (read-only).`;
  if (code === "rate_limited") return `Not ${what}: too many at once, try again in a moment.`;
  const message = error && typeof error.message === "string" && error.message
    ? `: ${error.message}` : ".";
  return `The message was not ${what}${message}`;
}

// -- what the page shows ---------------------------------------------------------------------

/** The items as the panel shows them: those being deleted here are gone already. */
export function shownItems(scheduled) {
  if (!scheduled.pending.size) return scheduled.items;
  return scheduled.items.filter((item) => scheduled.pending.get(item.item) !== "cancel");
}

/** The badge's counts: {count (pending + failed), failed}. */
export function counts(scheduled) {
  if (!scheduled.complete) return { count: scheduled.count, failed: scheduled.failed };
  const items = shownItems(scheduled);
  return { count: items.length, failed: items.filter((item) => item.state === "failed").length };
}

/** A line about the list: "Loading…", "3 scheduled messages", "Nothing scheduled…". */
export function statusText(scheduled) {
  if (scheduled.status === "failed") return scheduled.error;
  if (!scheduled.complete) return "Loading your scheduled messages…";
  const n = shownItems(scheduled).length;
  if (!n) return "Nothing scheduled. Use the clock beside Send to send a message later.";
  return n === 1 ? "1 scheduled message" : `${n} scheduled messages, the soonest first`;
}

/**
 * The item of the line under a box (room `room`, thread root `thread` or null): the latest the
 * person scheduled there from this page while it still waits, else null.
 */
export function lastFor(scheduled, room, thread = null) {
  const { last } = scheduled;
  if (!last || last.room !== room || (last.thread ?? null) !== thread) return null;
  return scheduled.items.find((item) => item.item === last.item) || null;
}

/**
 * When item times read for a person at `now` in `timeZone`: "today at 14:05", "tomorrow at
 * 9:00", "Tue 9:00" within a week, "Tue 8 Dec 9:00" after, "8 Dec 2027 9:00" in another year.
 */
export function whenText(ms, now, timeZone) {
  const at = wallClock(ms, timeZone);
  const today = wallClock(now, timeZone);
  const time = `${at.hour}:${String(at.minute).padStart(2, "0")}`;
  const dayOf = (t) => Date.UTC(t.year, t.month - 1, t.day) / DAY;
  const days = dayOf(at) - dayOf(today);
  if (days === 0) return `today at ${time}`;
  if (days === 1) return `tomorrow at ${time}`;
  if (days === -1) return `yesterday at ${time}`;
  const weekday = WEEKDAYS[new Date(Date.UTC(at.year, at.month - 1, at.day)).getUTCDay()];
  if (days > 1 && days < 7) return `${weekday} ${time}`;
  const date = `${at.day} ${MONTHS[at.month - 1]}`;
  if (at.year !== today.year) return `${date} ${at.year} ${time}`;
  return `${weekday} ${date} ${time}`;
}
const WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
  "Dec"];

// -- times -----------------------------------------------------------------------------------

/** The time (ms) preset `key` (PRESETS) means at `now` in `timeZone` (saved.js's presets). */
export function presetAt(key, now, timeZone) {
  return presetTime(key, now, timeZone);
}

/** The time (ms) of a date ("2026-12-08") and a time ("09:30") typed in `timeZone`, or null. */
export function customAt(date, time, timeZone) {
  if (typeof date !== "string" || typeof time !== "string") return null;
  return parseLocal(`${date}T${time}`, timeZone);
}

/** Why a message cannot be scheduled at `at` at `now` (a sentence), or "" when it can. */
export function timeProblem(at, now) {
  if (!Number.isFinite(at)) return "Choose a day and a time.";
  if (at <= now) return "That time has passed: choose a later one.";
  if (at - now > MAX_AHEAD_MS) return "A message can be scheduled at most a year ahead.";
  return "";
}

/**
 * The new time typed in the scheduled-message editor's "New time" box at `now` in `timeZone`,
 * read as `/remind` reads its WHEN (when.js: "in 20m", "2h", "tomorrow", "tomorrow 17:30",
 * "9:00"), checked as any scheduled time (`timeProblem`): {at: null} when the box is blank
 * (the time stays), {at} (ms), or {problem} (a sentence).
 */
export function editedTime(typed, now, timeZone) {
  const words = String(typed ?? "").trim().split(/\s+/).filter(Boolean);
  if (!words.length) return { at: null };
  const read = wordsTime(words, now, timeZone);
  if (read.at === null) return { problem: `A time is ${WHEN_USAGE}.` };
  const problem = timeProblem(read.at, now);
  return problem ? { problem } : { at: read.at };
}

// -- parsing ---------------------------------------------------------------------------------

function countOf(value) {
  return Number.isSafeInteger(value) && value > 0 ? value : 0;
}

/** An ITEM of a reply or an event, checked, or null. */
export function itemOf(raw) {
  if (!raw || typeof raw !== "object" || !Number.isSafeInteger(raw.item)
      || typeof raw.room !== "string" || !Number.isFinite(raw.send_at)) return null;
  const error = raw.error && typeof raw.error === "object"
    ? { code: String(raw.error.code ?? ""), message: String(raw.error.message ?? "") } : null;
  return {
    item: raw.item,
    room: raw.room,
    text: typeof raw.text === "string" ? raw.text : "",
    files: Array.isArray(raw.files) ? raw.files.filter((f) => f && typeof f === "object") : [],
    thread: Number.isSafeInteger(raw.thread) ? raw.thread : null,
    broadcast: raw.broadcast === true,
    reply_to: Number.isSafeInteger(raw.reply_to) ? raw.reply_to : null,
    send_at: raw.send_at,
    created_ts: Number.isFinite(raw.created_ts) ? raw.created_ts : null,
    state: raw.state === "failed" ? "failed" : "pending",
    error: raw.state === "failed" ? error : null,
  };
}

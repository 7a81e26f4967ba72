// Saved messages and reminders ("Later", as Slack calls it): which messages the person saved,
// the "Saved" panel's list, the header's count of overdue reminders, and the times a reminder
// can be set to. Pure, like pins.js: `state.saved` is one of these objects, changed only
// through the functions here (state.js's reducers call them and turn what they give into
// requests); time and the time zone are arguments.
//
// Theory of operation
// -------------------
// What a person saved is private and small (the server keeps at most `limits.saved_per_user`,
// 1000 by default), and every message of the conversation needs to know whether it is saved
// (its bookmark mark). So after each welcome the page walks the whole list, a page of
// SAVED_PAGE items at a time (`saved_items` {before?, limit}, newest saved first, `before` the
// last item's `ts`), into `walk.items`; the list shown (`items`) is replaced by the walk's once
// its last page is in (`complete`), so a reconnect does not empty the marks meanwhile. The
// panel draws the list a PANEL_PAGE at a time ("More saved messages").
//
// The list follows the person's changes on every device: the `saved` event {room, msg_id, on,
// remind_at, ts} adds, updates or removes an item, and the `reminder` event {room, msg_id,
// remind_at, message} marks one reminded (overdue). Each event changes both the list shown and
// the walk's, and is remembered for the walk (`walk.events`): the newest event seen of a key
// wins over what a page says of it, since a page may have been read before the change the
// event tells. A new remind_at clears `reminded` (the server does the same).
//
// The person's own requests (`save`) wait in `pending`, by key, until their reply: the mark and
// the panel show them at once (`isSaved`, `shownItem`); the `saved` event and the `ok` say the
// same and either settles it; a refusal takes it back and says why.
//
// The count of overdue reminders is the welcome's `reminders_due` until the list is complete,
// moved by the events meanwhile; then it is counted from the list.
//
// Reminder times: the presets ("in 20 minutes" … "next Monday at 9:00") are computed from a
// given `now` (ms) in a given IANA time zone (the person's, from the browser), by the wall
// clock of that zone: "tomorrow at 9:00" is 9:00 there on the next calendar day, across a
// month's end or a change of daylight saving time (the day is then 23 or 25 hours long).

import { normalise } from "./entries.js";

/** Items per `saved_items` page (the server takes up to its own page limit). */
export const SAVED_PAGE = 50;
/** Items the panel draws at first, and how many more each "More saved messages" adds. */
export const PANEL_PAGE = 20;
/** Items of the first page asked again for an item that came without its message. */
export const PEEK_PAGE = 10;
/** The furthest a reminder may be set (the server refuses later ones: MAX_REMIND_SECONDS of
 * chatd/protocol/events.py, 366 days), as the terminal client takes it too. */
export const MAX_AHEAD_MS = 366 * 24 * 3600_000;
/** "Tomorrow" and "next Monday" remind at this hour, the person's time. */
export const MORNING_HOUR = 9;
const MINUTE = 60_000;
const HOUR = 3600_000;
const DAY = 24 * HOUR;

/** The reminder presets of a message's menu, in order: {key, label}. */
export const PRESETS = Object.freeze([
  { key: "20m", label: "In 20 minutes" },
  { key: "1h", label: "In 1 hour" },
  { key: "3h", label: "In 3 hours" },
  { key: "tomorrow", label: `Tomorrow at ${MORNING_HOUR}:00` },
  { key: "monday", label: `Next Monday at ${MORNING_HOUR}:00` },
]);

/** No saved messages known yet: status "idle". */
export function emptySaved() {
  return {
    supported: false, // the server keeps saved messages (its welcome says `reminders_due`)
    items: [], // {room, msg_id, ts, remind_at, reminded, message, set_by?}, newest saved first
    complete: false, // `items` is the whole list (the last walk ended)
    due: 0, // overdue reminders, as the welcome counted them (until `complete`)
    // The listing on its way: {items, before, sent, events, peek, lacked}: a walk of the whole
    // list, or a peek (`peek`: the first pages again, for the messages of items that came by
    // an event and lacked them: those of `lacked`).
    walk: null,
    status: "idle", // "idle" | "loading" | "done" | "failed"
    error: "", // why the last listing failed, for the person
    pending: new Map(), // key -> {on, remind_at}: the person's own saves on their way
    shown: PANEL_PAGE, // how many items the panel draws
    opens: 0, // how many times the panel was opened (its scroll starts at the top)
  };
}

/** The key of a saved message: its room and msg_id. */
export function keyOf(room, msgId) {
  return `${room}\n${msgId}`;
}

// -- the listing -----------------------------------------------------------------------------

/**
 * Walk the whole list again (after a welcome): the first page's request fields. `due` is the
 * welcome's `reminders_due` (null when it did not say).
 */
export function begin(saved, due = null) {
  if (Number.isSafeInteger(due) && due >= 0) saved.due = due;
  saved.walk = { items: [], before: null, sent: true, events: new Map(), peek: false,
    lacked: new Set() };
  saved.status = saved.complete ? "done" : "loading";
  saved.error = "";
  return { limit: SAVED_PAGE };
}

/** The connection was lost: the walk stops (the next welcome starts another). */
export function stopped(saved) {
  if (saved.walk === null) return;
  saved.walk = null;
  if (!saved.complete) saved.status = "idle";
}

/** Whether `asked` (the fields of a `saved_items` request) is the page the walk waits for. */
export function answers(saved, asked) {
  const { walk } = saved;
  return walk !== null && walk.sent && (asked.before ?? null) === walk.before;
}

/**
 * The `ok` reply to `asked`: its items join the walk's (the newest event of a key wins over
 * what the page says). Returns the next page's request fields, or null (the walk is over, or
 * the reply answers nothing the walk waits for).
 */
export function received(saved, asked, reply) {
  if (!answers(saved, asked)) return null;
  const { walk } = saved;
  walk.sent = false;
  const page = (Array.isArray(reply.items) ? reply.items : []).map(itemOf).filter(Boolean);
  const merged = new Map(byKey(walk.items));
  for (const item of page) {
    const key = keyOf(item.room, item.msg_id);
    const event = walk.events.get(key);
    if (event && !event.on) continue;
    merged.set(key, event ? withEvent(item, event) : item);
  }
  walk.items = order([...merged.values()]);
  const last = page[page.length - 1];
  // A walk goes on to the end; a peek while an item still lacks its message.
  if (reply.more === true && last && Number.isFinite(last.ts)
      && (walk.before === null || last.ts < walk.before)
      && (!walk.peek || lacking(walk.items).length > 0)) {
    walk.before = last.ts;
    walk.sent = true;
    return { limit: walk.peek ? PEEK_PAGE : SAVED_PAGE, before: last.ts };
  }
  saved.items = order(walk.items);
  saved.walk = null;
  saved.complete = saved.complete || !walk.peek;
  saved.status = "done";
  // Saved by an event during the walk (another device), after the pages that would have
  // held it were read: its message is asked for, once (an item a peek could not find, of a
  // room no longer readable, say, is not asked for again).
  const lacks = lacking(saved.items);
  return lacks.some((key) => !walk.lacked.has(key)) ? peek(saved) : null;
}

/** The keys of the items whose message the page lacks. */
function lacking(items) {
  return items.filter((item) => item.message === null)
    .map((item) => keyOf(item.room, item.msg_id));
}

/** The `error` reply to `asked`: the walk stops; `explain` says why. Returns whether taken. */
export function failed(saved, asked, error) {
  if (!answers(saved, asked)) return false;
  saved.walk = null;
  saved.status = saved.complete ? "done" : "failed";
  saved.error = explain(error);
  return true;
}

/** A sentence for a person about a failed listing. */
export function explain(error) {
  const code = error && error.code;
  if (code === "disconnected") return "Not connected: the saved messages show once the page is back online.";
  if (code === "unknown_op") return "This server does not keep saved messages.";
  const message = error && typeof error.message === "string" ? error.message : "";
  return message ? `The saved messages could not be listed: ${message}`
    : "The saved messages could not be listed.";
}

/** Another page of the panel's list drawn. */
export function showMore(saved) {
  saved.shown += PANEL_PAGE;
}

/** The panel was opened: it draws its first page, from the top. */
export function opened(saved) {
  saved.shown = PANEL_PAGE;
  saved.opens += 1;
}

// -- events ----------------------------------------------------------------------------------

/**
 * A `saved` event (this person's, from any of their connections). `held` is the page's copy of
 * the message, if any (the panel shows it until the server's comes). Returns whether the list
 * lacks the message's object (to be asked again: `needsMessages`).
 */
export function savedEvent(saved, frame, held = null) {
  if (!isKey(frame) || typeof frame.on !== "boolean") return false;
  const change = { on: frame.on, remind_at: reminderOf(frame.remind_at),
    ts: Number.isFinite(frame.ts) ? frame.ts : null, reminded: null,
    message: held ? normalise(held) : null,
    set_by: typeof frame.set_by === "string" ? frame.set_by : null };
  return change_(saved, frame.room, frame.msg_id, change);
}

/**
 * A `reminder` event: the item is overdue now (`reminded`), with its message as it is now.
 * Returns whether the list lacks the item's message object.
 */
export function reminderEvent(saved, frame) {
  if (!isKey(frame)) return false;
  const message = frame.message && typeof frame.message === "object"
    && Number.isSafeInteger(frame.message.msg_id) ? normalise(frame.message) : null;
  return change_(saved, frame.room, frame.msg_id, { on: true,
    remind_at: reminderOf(frame.remind_at), ts: null, reminded: true, message });
}

function change_(saved, room, msgId, change) {
  const key = keyOf(room, msgId);
  const before = byKey(saved.items).get(key);
  const wasDue = Boolean(before && before.reminded);
  saved.items = applied(saved.items, room, msgId, change);
  const after = byKey(saved.items).get(key);
  if (!saved.complete) {
    // The welcome's count, moved by what is known to have changed.
    const isDue = Boolean(after && after.reminded);
    if (change.reminded === true && !wasDue) saved.due += 1;
    else if (wasDue && !isDue) saved.due = Math.max(0, saved.due - 1);
  }
  if (saved.walk) {
    const known = saved.walk.events.get(key);
    saved.walk.events.set(key, { ...change,
      message: change.message || (known && known.message) || null });
    saved.walk.items = applied(saved.walk.items, room, msgId, change);
  }
  return Boolean(after && after.message === null && saved.complete && !saved.walk);
}

/**
 * The first page again, to merge into the list (an item came by an event without its message
 * object): its request fields, or null while a walk is on its way (its pages bring it).
 */
export function peek(saved) {
  if (saved.walk !== null) return null;
  saved.walk = { items: [...saved.items], before: null, sent: true, events: new Map(),
    peek: true, lacked: new Set(lacking(saved.items)) };
  return { limit: PEEK_PAGE };
}

/** `items` with the change of a message's saving applied: on or off, its reminder. */
function applied(items, room, msgId, change) {
  const key = keyOf(room, msgId);
  const index = items.findIndex((item) => keyOf(item.room, item.msg_id) === key);
  const held = index >= 0 ? items[index] : null;
  if (!change.on) return held ? items.filter((_, i) => i !== index) : items;
  const base = held || { room, msg_id: msgId, ts: change.ts, remind_at: null, reminded: false,
    message: null };
  // A reminder's event, for an item not held, holds no time of saving: the walk's page says it.
  if (!held && change.ts === null && change.reminded !== true) return items;
  return put(items, withEvent(base, change));
}

/** An item as an event says it is (`reminded` null: kept while the reminder is the same). */
function withEvent(item, change) {
  const remindAt = change.remind_at;
  const reminded = change.reminded === null
    ? item.reminded && item.remind_at === remindAt && remindAt !== null : change.reminded;
  const next = { ...item, ts: change.ts ?? item.ts, remind_at: remindAt, reminded,
    message: change.message && (!item.message || change.reminded === true) ? change.message
      : item.message };
  if (change.set_by) next.set_by = change.set_by;
  return next;
}

/** `items` with `item` in its place (replacing the one of its key), newest saved first. */
function put(items, item) {
  const key = keyOf(item.room, item.msg_id);
  return order([...items.filter((held) => keyOf(held.room, held.msg_id) !== key), item]);
}

/** The newest saved first (by the time of saving; an unknown time last), then by msg_id. */
function order(items) {
  const ts = (item) => (Number.isFinite(item.ts) ? item.ts : -Infinity);
  return [...items].sort((a, b) => (ts(b) - ts(a)) || (b.msg_id - a.msg_id)
    || (a.room < b.room ? -1 : a.room > b.room ? 1 : 0));
}

// -- the person's own saves ------------------------------------------------------------------

/**
 * The person saves (`on`), re-times or removes message `msgId` of `room`: the `save` request's
 * fields. `remindAt` is ms or null (no reminder). Shown at once (`isSaved`, `shownItem`).
 */
export function request(saved, { room, msgId, on = true, remindAt = null }) {
  const remind = on ? reminderOf(remindAt) : null;
  saved.pending.set(keyOf(room, msgId), { on, remind_at: remind });
  const fields = { room, msg_id: msgId, on };
  if (on) fields.remind_at = remind;
  return fields;
}

/**
 * The `ok` reply to a `save` (`asked`, its fields): the change is the server's now (its
 * `saved` event says it too). `held` is the page's copy of the message, if any.
 */
export function acknowledged(saved, asked, reply, held = null) {
  settle(saved, asked);
  if (reply && reply.unchanged === true) return false;
  const item = reply && reply.item && typeof reply.item === "object" ? reply.item : {};
  const key = keyOf(asked.room, asked.msg_id);
  const known = byKey(saved.items).get(key);
  return savedEvent(saved, { room: asked.room, msg_id: asked.msg_id, on: asked.on !== false,
    remind_at: asked.on === false ? null : asked.remind_at ?? null,
    ts: Number.isFinite(item.ts) ? item.ts : Number.isFinite(reply && reply.ts) ? reply.ts
      : known ? known.ts : null }, held);
}

/** A reply to `asked` came: the save waiting is settled, unless a later one replaced it. */
function settle(saved, asked) {
  const key = keyOf(asked.room, asked.msg_id);
  const pending = saved.pending.get(key);
  if (pending && pending.on === (asked.on !== false)
      && pending.remind_at === (asked.on === false ? null : asked.remind_at ?? null)) {
    saved.pending.delete(key);
  }
}

/** The `error` reply to a `save`: taken back. Returns a sentence for the person. */
export function refused(saved, asked, error) {
  settle(saved, asked);
  const code = error && error.code;
  const what = asked.on === false ? "removed from your saved messages" : "saved";
  if (code === "disconnected") return `Not connected: the message was not ${what}.`;
  if (code === "too_many_saved") {
    return "You have saved as many messages as this server keeps: remove some first.";
  }
  if (code === "unknown_op") return "This server does not keep saved messages.";
  if (code === "not_found") return `The message is gone: it was not ${what}.`;
  const message = error && typeof error.message === "string" && error.message
    ? `: ${error.message}` : ".";
  return `The message was not ${what}${message}`;
}

// -- what the page shows ---------------------------------------------------------------------

/** The saved item of message `msgId` of `room` as the page shows it (own saves included), or
 * null when it is not saved. */
export function shownItem(saved, room, msgId) {
  const key = keyOf(room, msgId);
  const pending = saved.pending.get(key);
  const item = byKey(saved.items).get(key) || null;
  if (!pending) return item;
  return pending.on ? withPending(item || blank(room, msgId), pending) : null;
}

/** An item as the person's own save on its way shows it. */
function withPending(item, pending) {
  return { ...item, remind_at: pending.remind_at,
    reminded: item.reminded && item.remind_at === pending.remind_at, saving: true };
}

function blank(room, msgId) {
  return { room, msg_id: msgId, ts: null, remind_at: null, reminded: false, message: null };
}

// The items of a list by key, made once per list (a list is replaced, never changed in
// place): every message drawn asks whether it is saved.
const indexes = new WeakMap();
function byKey(items) {
  let index = indexes.get(items);
  if (!index) {
    index = new Map(items.map((item) => [keyOf(item.room, item.msg_id), item]));
    indexes.set(items, index);
  }
  return index;
}

/** Whether message `msgId` of `room` is saved, as the page shows it. */
export function isSaved(saved, room, msgId) {
  return shownItem(saved, room, msgId) !== null;
}

/** The panel's items as shown (own removals gone, own reminders shown), newest saved first. */
export function shownItems(saved) {
  if (!saved.pending.size) return saved.items;
  const items = [];
  for (const item of saved.items) {
    const pending = saved.pending.get(keyOf(item.room, item.msg_id));
    if (!pending) items.push(item);
    else if (pending.on) items.push(withPending(item, pending));
  }
  const held = byKey(saved.items);
  for (const [key, pending] of saved.pending) {
    if (!pending.on || held.has(key)) continue;
    const cut = key.lastIndexOf("\n");
    items.push(withPending(blank(key.slice(0, cut), Number(key.slice(cut + 1))), pending));
  }
  return items;
}

/** How many reminders are overdue: the header's count. */
export function dueCount(saved) {
  if (!saved.complete) return saved.due;
  return shownItems(saved).filter((item) => item.reminded).length;
}

/** A line about the list: "Loading…", "3 saved messages", "Nothing saved yet…". */
export function statusText(saved) {
  if (saved.status === "failed") return saved.error;
  if (saved.status === "loading" || (saved.status === "idle" && !saved.complete)) {
    return "Loading your saved messages…";
  }
  const n = shownItems(saved).length;
  if (!n) {
    return "Nothing saved yet. Save a message from its menu, or make a New reminder, to find "
      + "it here later.";
  }
  return n === 1 ? "1 saved message" : `${n} saved messages, the latest saved first`;
}

/**
 * What a reminder says at `now`: "" (none), "Overdue", "Due now", "in 5 min", "in 2 h",
 * "in 3 days".
 */
export function reminderText(item, now) {
  if (!item || item.remind_at === null || item.remind_at === undefined) {
    return item && item.reminded ? "Overdue" : "";
  }
  if (item.reminded) return "Overdue";
  const left = item.remind_at - now;
  if (left <= 0) return "Due now";
  if (left < MINUTE) return "in less than a minute";
  if (left < HOUR) return `in ${Math.round(left / MINUTE)} min`;
  if (left < 2 * DAY) return `in ${Math.round(left / HOUR)} h`;
  return `in ${Math.round(left / DAY)} days`;
}

/** When (ms) the reminder texts shown next change by themselves at `now`, or null. */
export function nextTextChange(saved, now) {
  let next = null;
  for (const item of shownItems(saved)) {
    if (item.reminded || !Number.isFinite(item.remind_at)) continue;
    const left = item.remind_at - now;
    const step = left <= 0 ? null : left < HOUR ? MINUTE : left < 2 * DAY ? HOUR / 2 : DAY / 2;
    if (step === null) continue;
    const at = now + Math.min(step, left);
    next = next === null ? at : Math.min(next, at);
  }
  return next;
}

// -- reminder times --------------------------------------------------------------------------

/**
 * The time (ms) preset `key` (PRESETS) means at `now` (ms) in time zone `timeZone` (an IANA
 * name such as "Europe/Berlin"; "UTC" when the browser says none), or null for an unknown key.
 */
export function presetTime(key, now, timeZone) {
  switch (key) {
    case "20m": return now + 20 * MINUTE;
    case "1h": return now + HOUR;
    case "3h": return now + 3 * HOUR;
    case "tomorrow": {
      const today = wallClock(now, timeZone);
      return zonedTime({ ...dayAfter(today, 1), hour: MORNING_HOUR, minute: 0 }, timeZone);
    }
    case "monday": {
      const today = wallClock(now, timeZone);
      const weekday = new Date(Date.UTC(today.year, today.month - 1, today.day)).getUTCDay();
      const ahead = ((1 - weekday + 7) % 7) || 7; // a Monday's "next Monday" is in a week
      return zonedTime({ ...dayAfter(today, ahead), hour: MORNING_HOUR, minute: 0 }, timeZone);
    }
    default: return null;
  }
}

/**
 * The time (ms) of a `<input type="datetime-local">` value ("2026-03-29T09:30") read in time
 * zone `timeZone`, or null when it is no such value.
 */
export function parseLocal(value, timeZone) {
  const match = typeof value === "string"
    && /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(value);
  if (!match) return null;
  const [year, month, day, hour, minute] = match.slice(1, 6).map(Number);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59) return null;
  const check = new Date(Date.UTC(year, month - 1, day));
  if (check.getUTCDate() !== day) return null; // 31 April
  return zonedTime({ year, month, day, hour, minute }, timeZone);
}

/** A `<input type="datetime-local">` value for time `ms` in `timeZone`: "2026-03-29T09:30". */
export function localValue(ms, timeZone) {
  const t = wallClock(ms, timeZone);
  const two = (n) => String(n).padStart(2, "0");
  return `${String(t.year).padStart(4, "0")}-${two(t.month)}-${two(t.day)}T${two(t.hour)}:${two(t.minute)}`;
}

/** Why a reminder at `at` cannot be set at `now` (a sentence), or "" when it can. */
export function reminderProblem(at, now) {
  if (!Number.isFinite(at)) return "Choose a day and a time.";
  if (at <= now) return "That time has passed: choose a later one.";
  if (at - now > MAX_AHEAD_MS) return "A reminder can be at most a year ahead.";
  return "";
}

/** The date and time on the wall clock of `timeZone` at `ms`: {year, month, day, hour,
 * minute} (month 1–12). */
export function wallClock(ms, timeZone) {
  const parts = formatter(timeZone).formatToParts(new Date(ms));
  const get = (type) => Number(parts.find((part) => part.type === type).value);
  return { year: get("year"), month: get("month"), day: get("day"), hour: get("hour") % 24,
    minute: get("minute"), second: get("second") };
}

/**
 * The time (ms) when the wall clock of `timeZone` shows {year, month, day, hour, minute}. A
 * time that does not exist there (skipped when the clocks go forward) is the same time of the
 * offset before the change (02:30 becomes 03:30); one that exists twice is the first.
 */
export function zonedTime({ year, month, day, hour, minute }, timeZone) {
  const wanted = Date.UTC(year, month - 1, day, hour, minute);
  // The offsets a day before and a day after: the zone's offset changes at most once between.
  const before = wanted - offsetAt(wanted - DAY, timeZone);
  const after = wanted - offsetAt(wanted + DAY, timeZone);
  const shown = [before, after].filter((ms) => sameWall(ms, wanted, timeZone));
  return shown.length ? Math.min(...shown) : before;
}

function sameWall(ms, wanted, timeZone) {
  const t = wallClock(ms, timeZone);
  return Date.UTC(t.year, t.month - 1, t.day, t.hour, t.minute) === wanted;
}

/** How far (ms) the wall clock of `timeZone` is ahead of UTC at `ms`. */
function offsetAt(ms, timeZone) {
  const t = wallClock(ms, timeZone);
  const wall = Date.UTC(t.year, t.month - 1, t.day, t.hour, t.minute, t.second);
  return wall - (ms - (((ms % 1000) + 1000) % 1000));
}

/** The calendar day `days` after the day of `t` (across months and years). */
function dayAfter(t, days) {
  const next = new Date(Date.UTC(t.year, t.month - 1, t.day + days));
  return { year: next.getUTCFullYear(), month: next.getUTCMonth() + 1, day: next.getUTCDate() };
}

const formatters = new Map();
function formatter(timeZone) {
  const zone = typeof timeZone === "string" && timeZone ? timeZone : "UTC";
  let made = formatters.get(zone);
  if (!made) {
    try {
      made = new Intl.DateTimeFormat("en-US", { timeZone: zone, hourCycle: "h23",
        year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
        second: "2-digit" });
    } catch {
      made = formatter("UTC"); // an unknown zone: UTC
    }
    formatters.set(zone, made);
  }
  return made;
}

// -- parsing ---------------------------------------------------------------------------------

function isKey(frame) {
  return Boolean(frame) && typeof frame.room === "string" && Number.isSafeInteger(frame.msg_id);
}

function reminderOf(value) {
  return Number.isSafeInteger(value) && value > 0 ? value : null;
}

/** An item of a `saved_items` reply, checked, or null. */
export function itemOf(raw) {
  if (!raw || typeof raw !== "object" || typeof raw.room !== "string") return null;
  const message = raw.message && typeof raw.message === "object"
    && Number.isSafeInteger(raw.message.msg_id) ? normalise(raw.message) : null;
  const msgId = message ? message.msg_id : raw.msg_id;
  if (!Number.isSafeInteger(msgId)) return null;
  const item = { room: raw.room, msg_id: msgId, ts: Number.isFinite(raw.ts) ? raw.ts : null,
    remind_at: reminderOf(raw.remind_at), reminded: raw.reminded === true, message };
  // A reminder someone else set for the person (`remind` with `user`): who.
  if (typeof raw.set_by === "string") item.set_by = raw.set_by;
  return item;
}

// One alert per message across the tabs of one person in this browser: whether this tab tells
// of a new message, or another tab did, or the person is reading its room in another tab.
// Pure, like alerts.js: no DOM, no I/O, no clock (time is an argument); tabs-store.js keeps
// the record these functions read and give back, and controller.js calls them.
//
// Theory of operation
// -------------------
// Every tab of the page has a connection of its own and gets every message (docs/protocol.md,
// "several connections"), so each would alert for it (alerts.js `alertFor`): two tabs, two
// chimes and two notifications (the second replaces the first, and `renotify` makes it ring
// again). And a hidden tab would alert for a room the person is reading in another tab. Slack,
// Element and Mattermost alert once per message per browser, and not at all while the person
// looks at its room in any tab. So the tabs of one user share one small record:
//
//   told     [[key, at], …]  the alerts told lately by any tab: the alert's key (its room and
//                            seq, alerts.js `alertKey`) and when (ms); oldest first, at most
//                            KEEP_MAX, none older than KEEP_MS
//   chimed   ms, or null     when a tab last played the chime: a burst rings once across tabs
//                            too (alerts.SOUND_GAP_MS)
//   looking  {tab, room, at}, or null: the tab that is visible and focused with a room open
//                            (alerts.js `looking`), that room, and when it last said so
//
// A tab about to alert (`claim`) does not if the key is told already (by another tab, or by
// itself before a reconnect replayed the message), nor if another tab is looking at the room
// (the key is noted as told then: the person saw the message). Otherwise it tells, and notes
// it. KEEP_MS is twice alerts.STALE_MS: a message replayed later than STALE_MS after it was
// written does not alert anyway, and the margin covers a server clock ahead of this one.
//
// A look must not outlive its tab, and a tab that closes, crashes or is discarded cannot be
// counted on to say so: its last write, made as it goes, is often lost with it. So each tab
// holds a Web Lock named after it while it is open, which the browser lets go with the tab,
// and a look counts only while its tab's lock is held (`alive`: the tabs whose locks are).
// Web Locks exist only in secure contexts (https, localhost); elsewhere a look counts until
// it is LOOK_MS old, so the looking tab says it again every LOOK_REFRESH_MS, and a closed
// tab's room stays silent in the other tabs for LOOK_MS at most.
//
// A look also closes what was told: a notification shown by any tab for a room stays on
// screen only until the person looks at that room in some tab, as Slack and Element do. A tab
// that said it looks tells the others that the record changed (tabs-store.js `announce`); each
// reads it and closes the notifications it shows for the room looked at (`toClose`).
//
// The record must be read and written in one step, or two tabs that get the same message at
// the same moment both find it untold. localStorage cannot be that step, not even inside an
// exclusive Web Lock: each tab's process reads its own copy, which another tab's write reaches
// later, as a message of its own (whatwg/html#403), so a tab that takes the lock just after
// another let it go may read the record from before the other's write. (Measured in Chromium:
// three tabs each adding 1 to a localStorage counter 300 times, each time inside
// navigator.locks.request, ended near 700, not 900.) An IndexedDB read-write transaction is
// that step: the browser runs those on one store one after the other, whatever tab asks (the
// same three tabs counted to 900), and IndexedDB exists on plain http too, where Web Locks do
// not. Where it fails (no IndexedDB, storage refused or full), the tab alerts as if it were
// alone: at worst an alert twice, never one lost.

import { soundDue, STALE_MS } from "./alerts.js";

/** How long (ms) a told alert is remembered: replays of it within that time stay silent. */
export const KEEP_MS = 2 * STALE_MS;
/** The most told alerts remembered (the oldest go first): a bound on the record's size. */
export const KEEP_MAX = 256;
/** How long (ms) a tab's word that it is looking at a room holds unless said again. */
export const LOOK_MS = 45_000;
/** How often (ms) a tab looking at a room says so again. */
export const LOOK_REFRESH_MS = 15_000;

/** The record when no tab has written one. */
export function emptyRecord() {
  return { told: [], chimed: null, looking: null };
}

/** Whether `at` (ms) is at most `within` ms before `now` (a time ahead of now is not). */
function recent(at, now, within) {
  return Number.isFinite(at) && now >= at && now - at <= within;
}

/**
 * The record as stored (`saved`, anything: undefined when none is, or damaged), checked and
 * without what is too old at `now`: told alerts past KEEP_MS, a look past LOOK_MS.
 */
export function restoreRecord(saved, now) {
  const record = emptyRecord();
  if (!saved || typeof saved !== "object" || Array.isArray(saved)) return record;
  if (Array.isArray(saved.told)) {
    record.told = saved.told.filter((item) => Array.isArray(item) && item.length === 2
      && typeof item[0] === "string" && recent(item[1], now, KEEP_MS)).slice(-KEEP_MAX);
  }
  if (recent(saved.chimed, now, Infinity)) record.chimed = saved.chimed;
  const look = saved.looking;
  if (look && typeof look.tab === "string" && typeof look.room === "string"
      && recent(look.at, now, LOOK_MS)) {
    record.looking = { tab: look.tab, room: look.room, at: look.at };
  }
  return record;
}

/**
 * Whether tab `tab` tells of `alert` (alerts.js `alertFor`, missed.js `awayAlert`) at `now`,
 * given the record the user's tabs share (`saved`, as stored) and the tabs open now (`alive`:
 * a Set of their names, or null where the browser cannot tell): {desktop, sound, record}.
 * `desktop`: show the notification; `sound`: play the chime; `record`: the record to store.
 * Nothing (both false) when another tab told this alert already, or another tab, open, is
 * looking at its room; no sound when a tab chimed less than alerts.SOUND_GAP_MS ago.
 */
export function claim(saved, alert, tab, now, alive = null) {
  const record = restoreRecord(saved, now);
  const silent = { desktop: false, sound: false, record };
  const known = typeof alert.key === "string"; // (an alert with no key is told every time)
  if (known && record.told.some(([key]) => key === alert.key)) return silent;
  const told = known ? [...record.told, [alert.key, now]].slice(-KEEP_MAX) : record.told;
  const look = record.looking;
  if (look !== null && look.tab !== tab && look.room === alert.room
      && (alive === null || alive.has(look.tab))) {
    return { ...silent, record: { ...record, told } };
  }
  const sound = Boolean(alert.sound) && soundDue(record.chimed, now);
  return {
    desktop: Boolean(alert.desktop),
    sound,
    record: { ...record, told, chimed: sound ? now : record.chimed },
  };
}

/**
 * The record once tab `tab` says it looks at room `room` at `now` (visible, focused, that
 * room open), or at nothing (`room` null): a look of another tab's is left as it is.
 */
export function look(saved, tab, room, now) {
  const record = restoreRecord(saved, now);
  if (room !== null) return { ...record, looking: { tab, room, at: now } };
  if (record.looking !== null && record.looking.tab === tab) return { ...record, looking: null };
  return record;
}

/**
 * Of the rooms whose notifications tab shows (`rooms`), those to close at `now` given the
 * record the tabs share (`saved`, as stored) and the tabs open now (`alive`, as for `claim`):
 * the room an open tab looks at (this tab too: it closes its own notification as it shows
 * the room). A look too old, or of a tab that is gone, closes nothing.
 */
export function toClose(saved, rooms, now, alive = null) {
  const look = restoreRecord(saved, now).looking;
  if (look === null || (alive !== null && !alive.has(look.tab))) return [];
  return [...rooms].filter((room) => room === look.room);
}

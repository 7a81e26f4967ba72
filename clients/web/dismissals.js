// Notifications to close because their rooms were read elsewhere, gathered into one pass.
//
// A room read on another connection (the `read` event), or by "Mark all as read" here (its
// answer), closes the notifications this browser shows of it up to where it was read: the
// page's own and the service worker's (pushes that came while no page was open). Asking the
// service worker's registration for its notifications is not free, and "Mark all as read" on
// another device is one `read` event per room (a thousand rooms, a thousand events): so the
// rooms read are gathered (`gather`: the furthest seq of each) while a burst lasts, and one
// pass closes what they cover (`toClose` picks them among all the notifications shown). The
// controller does the pass DISMISS_AFTER_MS after the first read of a burst (`gatherer`, the
// timer and the closing handed to it, so that the rest is tested without them): the events of a
// burst come as many frames, each its own task, so a microtask would still pass once a frame,
// and an animation frame does not come while the tab is hidden (when notifications matter).
// No DOM, no browser API (notifier.js closes them); tests/web/dismissals.test.mjs.

import { readUpTo } from "./alerts.js";

/** How long (ms) the reads of a burst are gathered before one pass closes their notifications. */
export const DISMISS_AFTER_MS = 50;

/** What the page's notifications of a room are tagged with (alerts.js, webpush.js). */
const TAG = "chatd:";

/**
 * The page's gatherer: a function `(room, seq)` for each room read elsewhere. The first read
 * of a burst asks `schedule(run)` for the pass (the controller: a timer of DISMISS_AFTER_MS);
 * `run` then hands the reads gathered till then to `pass(reads)` (notifier.js `dismissRead`),
 * once, and the next read starts a new burst.
 */
export function gatherer(pass, schedule) {
  let reads = noReads();
  const run = () => {
    const gathered = reads;
    reads = noReads();
    if (gathered.size) pass(gathered);
  };
  return (room, seq) => {
    if (gather(reads, room, seq)) schedule(run);
  };
}

/** No read gathered yet: room -> the seq it was read up to. */
export function noReads() {
  return new Map();
}

/**
 * Room `room` was read up to `seq`: kept, or the seq it has already if that is further.
 * Returns whether this is the first read of the burst (the pass is to be scheduled then).
 */
export function gather(reads, room, seq) {
  const first = reads.size === 0;
  if (typeof room !== "string" || !Number.isSafeInteger(seq)) return false;
  const had = reads.get(room);
  if (had === undefined || seq > had) reads.set(room, seq);
  return first;
}

/** The room a notification's tag names ("chatd:general"), or null (another tag, a reminder's). */
export function roomOfTag(tag) {
  return typeof tag === "string" && tag.startsWith(TAG) ? tag.slice(TAG.length) : null;
}

/**
 * Of `notes` (each with `tag` and `data.seq`, as both the Notification API's and the service
 * worker's have them), those the reads cover: of a room read, telling of a message at or
 * before where it was read (or of none).
 */
export function toClose(notes, reads) {
  return notes.filter((note) => {
    const room = roomOfTag(note && note.tag);
    return room !== null && reads.has(room)
      && readUpTo(note.data ? note.data.seq : null, reads.get(room));
  });
}

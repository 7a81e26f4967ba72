// What has been read: only what the person has seen. Pure, like state.js.
//
// A room opens at its first unread message (the view lands on the "New messages" line), so
// its first page reaches back to the read marker: up to OPEN_MAX messages; past that, the
// oldest ones are taken as skipped. The view reports the messages that came into view
// (`sighted`: most of one on screen, its bottom edge on screen, or scrolled past it, while the
// tab is visible), and the marker moves to the last message of the unbroken run of seen ones
// after it: a message scrolled over by a jump is not read, and nor is anything after it, so a
// glance at the end of a long room reads nothing it skipped. One's own messages count as seen.
// A thread's reply not shown in the room is seen in the thread panel; it does not stop the run.
// The marker itself is moved and sent by state.js's `seen`.

// state.js imports this module too: what comes from it is used only inside functions.
import { PAGE, seen } from "./state.js";
import { sameUser } from "./store.js";
import { hiddenInRoom } from "./threads.js";

/** The most messages the first page of a room holds to reach its read marker (the largest
 * page `history` gives, as state.js's GAP_PAGE). */
export const OPEN_MAX = 500;

/** How many messages to ask for when a room is opened: enough to show its first unread one. */
export function openingPage(room) {
  const unread = room.unread > 0 ? room.lastSeq - room.readSeq + 1 : 0;
  return Math.min(OPEN_MAX, Math.max(PAGE, unread));
}

/**
 * The seq the read marker of `room` may move to, given the seqs seen on screen (a Set), or
 * null: the last of the messages after the marker that were all seen (or are `me`'s own), in
 * seq order, stopping at the first one not seen. Nothing before the room's first page is
 * loaded (what is shown might not start at the first unread one yet).
 */
export function readUpTo(room, sighted, me) {
  if (!room.loaded || room.draft) return null;
  let upTo = null;
  for (const message of room.sorted()) {
    if (message.seq <= room.readSeq) continue;
    // A reply the timeline does not show (threads.js) is read when seen in its thread, or
    // with the messages after it: it never stops the run.
    if (hiddenInRoom(message) && !sighted.has(message.seq) && !sameUser(message.from, me)) {
      continue;
    }
    if (!sighted.has(message.seq) && !sameUser(message.from, me)) break;
    upTo = message.seq;
  }
  return upTo;
}

/**
 * Messages `seqs` of room `name` were seen on screen: move the read marker over the unbroken
 * run of seen messages (a reducer: returns the effects of `seen`).
 */
export function sighted(state, name, seqs) {
  const room = state.rooms.get(name);
  // A room the person marked unread is not read by looking (state.js markUnread).
  if (!state.visible || !room || room.draft || room.keptUnread) return [];
  let seenHere = state.sighted.get(name);
  if (!seenHere) {
    seenHere = new Set();
    state.sighted.set(name, seenHere);
  }
  for (const seq of seqs) {
    if (Number.isSafeInteger(seq) && seq > room.readSeq) seenHere.add(seq);
  }
  const upTo = readUpTo(room, seenHere, state.me);
  if (upTo === null) return [];
  for (const seq of seenHere) if (seq <= upTo) seenHere.delete(seq);
  return seen(state, name, upTo);
}

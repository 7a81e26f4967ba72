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
import { isShown } from "./hiding.js";
import { sameUser } from "./store.js";
import { hiddenInRoom } from "./threads.js";
import { sectionLists } from "./select.js";

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

// -- "Mark all as read" (Slack's Shift+Esc, Zulip's and Mattermost's menu item) ---------------
//
// One request, `read_all`, moves every marker of the person's on the server, in one statement
// (docs/protocol.md), also those of rooms the page does not hold yet (a paged welcome). Its
// answer names each room whose marker moved and where to: the page moves its markers there,
// not to the last seq it holds, so a message the server stored after it is unread as it
// should be, and a refusal leaves nothing to undo (the answer comes in one trip: the badges and
// the title's count drop with it). The person's other tabs and devices follow the `read`
// events the server sends them, one per room, as for any read: nothing new to understand
// there. Followed threads keep their own markers (as Slack's does): the Threads view is read on
// its own.

/** Past this many unread rooms and conversations, "Mark all as read" asks first (as Slack
 * asks); fewer are marked at once. */
export const READ_ALL_ASK_OVER = 3;

/** The rooms and conversations that "Mark all as read" would take a count from, by name: those
 * with unread messages that the sidebar lists (a closed conversation with nothing new is not
 * listed). */
export function unreadRooms(state) {
  return [...state.rooms.values()]
    .filter((room) => !room.draft && room.unread > 0 && isShown(room, state.current))
    .map((room) => room.name);
}

/** Whether "Mark all as read" asks before marking: more than READ_ALL_ASK_OVER rooms unread. */
export function readAllAsks(state) {
  return unreadRooms(state).length > READ_ALL_ASK_OVER;
}

/** Whether the key `event` is "Mark all as read"'s: Shift+Escape and no other modifier. */
export function isReadAllKey(event) {
  return event.key === "Escape" && event.shiftKey === true && !event.ctrlKey && !event.altKey
    && !event.metaKey;
}

/** The hint of "Mark all as read"'s key for the platform of `nav` (as switcher.js
 * `shortcutHint`): "⇧Esc" on Apple's platforms, else "Shift Esc". */
export function readAllHint(nav) {
  const platform = nav?.userAgentData?.platform || nav?.platform || "";
  return /^(mac|iphone|ipad|ipod)/i.test(String(platform)) ? "⇧Esc" : "Shift Esc";
}

/**
 * Mark everything read (a reducer): the server is asked (`read_all`, for every room of the
 * person's); its answer moves the markers here (`allRead`). Nothing while offline.
 */
export function markAllRead(state) {
  if (state.connection !== "online") return [];
  return [{ request: { op: "read_all" } }];
}

/** The most rooms one `read_all` may name (docs/protocol.md): more go in several requests. */
export const READ_ALL_ROOMS = 1000;

/**
 * The rooms and conversations of the person's section `id` (sections.js) that have something
 * unread, by name, as its "Mark all as read" names them: those the section lists, collapsed or
 * not (select.js sectionLists: not a favourite, not a closed conversation with nothing new).
 */
export function sectionUnread(state, id) {
  const held = sectionLists(state).find(({ section }) => section.id === id);
  return held ? held.rooms.filter((room) => !room.draft && room.unread > 0)
    .map((room) => room.name) : [];
}

/**
 * Mark section `id` read (a reducer; its menu's "Mark all as read", as Slack's section menu
 * has): `read_all` with `rooms`, the section's unread ones (by READ_ALL_ROOMS at most a
 * request); the answer moves the markers here (`allRead`). Nothing while offline, nor when
 * nothing there is unread.
 */
export function markSectionRead(state, id) {
  if (state.connection !== "online") return [];
  const rooms = sectionUnread(state, id);
  const effects = [];
  for (let at = 0; at < rooms.length; at += READ_ALL_ROOMS) {
    effects.push({ request: { op: "read_all", rooms: rooms.slice(at, at + READ_ALL_ROOMS) } });
  }
  return effects;
}

/**
 * The answer to `read_all` (`reply.rooms`: [{room, seq}], the rooms whose marker moved): each
 * room the page holds is read up to there, and a notification this browser shows of it, up to
 * there, is closed (the `readElsewhere` effect, as for a read of another device's).
 */
export function allRead(state, reply) {
  const effects = [];
  for (const item of Array.isArray(reply.rooms) ? reply.rooms : []) {
    const room = item && typeof item.room === "string" ? state.rooms.get(item.room) : null;
    if (!room || room.draft || !Number.isSafeInteger(item.seq) || item.seq < 0) continue;
    readTo(state, room, item.seq);
    effects.push({ readElsewhere: { room: room.name, seq: item.seq } });
  }
  return effects;
}

/** Room `room` is read up to `seq`: what was kept unread is read as usual again, and a marker
 * waiting to be sent that says no more is dropped. */
function readTo(state, room, seq) {
  if (!Number.isSafeInteger(seq)) return;
  room.markRead(seq, state.me);
  room.keptUnread = false;
  state.sighted.delete(room.name);
  const pending = state.reads.get(room.name);
  if (pending && pending.sent === null && pending.seq <= room.readSeq) {
    state.reads.delete(room.name);
  }
}

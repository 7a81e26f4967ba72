// What the views show, derived from the state (state.js). Pure: no DOM, no I/O, no clock
// (time is an argument); nothing here changes the state.

import { moderates } from "./admin.js";
import { displayName } from "./profiles.js";
import { sameUser } from "./store.js";
import { isConversation, startLine } from "./conversations.js";
import { hiddenInRoom } from "./threads.js";
import { isShown } from "./hiding.js";
import { favouriteRooms, isFavourite } from "./favourites.js";
import { collapsedShows, placeOf } from "./sections.js";

const GROUP_GAP_MS = 5 * 60 * 1000; // messages of one author closer than this are grouped

/**
 * The rooms of one section of the sidebar: "favourite" the person's favourites, rooms and
 * conversations together, in the order they were marked (favourites.js); the others by their
 * label, ignoring case: "room" the rooms, "dm" the conversations (1:1 and group, as Slack's
 * direct messages list them) but those the person closed with nothing new since, unless open
 * (hiding.js). A favourite is listed in Favourites only, a room in one of the person's own
 * sections there only (`sectionLists`).
 */
export function sortedRooms(state, kind) {
  if (kind === "favourite") return favouriteRooms(state.rooms.values());
  return [...state.rooms.values()]
    .filter((room) => !isFavourite(room) && sectionIn(state, room) === null && (kind === "dm"
      ? isConversation(room) && isShown(room, state.current) : room.kind === kind))
    .sort(byLabel);
}

/**
 * The person's own sections (sections.js), in their order, between Favourites and the usual
 * lists: [{section, rooms, listed, favourites}]: `rooms` every room and conversation it holds
 * (not a favourite, nor a conversation closed with nothing new unless open), by label ignoring
 * case; `listed` what the sidebar lists of them: all, or for a collapsed section those with an
 * unread badge and the open one; `favourites` how many favourites it holds (listed in
 * Favourites, not here).
 */
export function sectionLists(state) {
  if (!state.sections) return [];
  const held = new Map(state.sections.shown.map((section) => [section.id, []]));
  const starred = new Map();
  for (const room of state.rooms.values()) {
    const id = sectionIn(state, room);
    if (id === null) continue;
    if (isFavourite(room)) starred.set(id, (starred.get(id) || 0) + 1);
    else if (isShown(room, state.current)) held.get(id).push(room);
  }
  return state.sections.shown.map((section) => {
    const rooms = held.get(section.id).sort(byLabel);
    const listed = section.collapsed ? rooms.filter((room) => collapsedShows(room,
      { current: state.current, unread: badge(state, room) !== null })) : rooms;
    return { section, rooms, listed, favourites: starred.get(section.id) || 0 };
  });
}

/**
 * What section `id` holds, as deleting it would move: {rooms, favourites}, the rooms and
 * conversations that are not favourites (a closed one too, listed or not) and the favourites
 * (listed in Favourites).
 */
export function sectionHolds(state, id) {
  const holds = { rooms: 0, favourites: 0 };
  for (const room of state.rooms.values()) {
    if (room.draft || sectionIn(state, room) !== id) continue;
    if (isFavourite(room)) holds.favourites += 1;
    else holds.rooms += 1;
  }
  return holds;
}

/** The section of the person's own that lists `room` (sections.js placeOf), or null. */
function sectionIn(state, room) {
  return state.sections ? placeOf(state.sections, room) : null;
}

function byLabel(a, b) {
  return a.label.toLowerCase().localeCompare(b.label.toLowerCase());
}

/**
 * The room to open when none is: the first one the sidebar lists (a favourite, else one of a
 * section's, else a room, else a conversation).
 */
export function firstRoom(state) {
  const name = roomOrder(state)[0];
  return name === undefined ? null : state.rooms.get(name);
}

/**
 * Favourites, the person's sections (what each lists), rooms, then conversations, in the
 * order of the sidebar (for Alt+Up/Down).
 */
export function roomOrder(state) {
  return [...sortedRooms(state, "favourite"),
    ...sectionLists(state).flatMap(({ listed }) => listed),
    ...sortedRooms(state, "room"), ...sortedRooms(state, "dm")].map((room) => room.name);
}

/** The open room, or null. */
export function currentRoom(state) {
  return state.current === null ? null : state.rooms.get(state.current) || null;
}

/** Whether this user may change the open room's topic: its owner (a conversation has none). */
export function canSetTopic(state) {
  const room = currentRoom(state);
  return Boolean(room) && room.kind === "room" && !room.draft && !room.archived
    && (sameUser(room.owner, state.me) || moderates(room, state.admin));
}

/** "online" or "offline" (what is not known is offline). */
export function statusOf(state, user) {
  const known = typeof user === "string" && state.presence.get(user.toLowerCase());
  return known ? known.status : "offline";
}

/**
 * The unread count a room shows as a badge, as text ("999+" past 999), or null for none. The
 * open room shows none: what arrives there is read as it comes into view; unless the person
 * marked it unread (state.js markUnread), which keeps it on their list while they look.
 */
export function badge(state, room) {
  // The open room's unread messages are being read, unless the person marked them unread.
  if (!room.unread || (room.name === state.current && !room.keptUnread)) return null;
  return room.unread > 999 ? "999+" : String(room.unread);
}

/**
 * How many unread messages the title counts: every room's the sidebar lists (a closed
 * conversation with nothing new is not counted: nothing on the page would show where they
 * are), the open room's included while the tab is hidden (nobody is reading it then) or while
 * it is kept unread.
 */
export function unreadTotal(state) {
  let total = 0;
  for (const room of state.rooms.values()) {
    if (!isShown(room, state.current)) continue;
    if (room.name !== state.current || !state.visible || room.keptUnread) total += room.unread;
  }
  return total;
}

// The most rooms a hello's `resume` may name: the server refuses more (docs/protocol.md,
// `hello`; MAX_RESUME_ROOMS in chatd/protocol/events.py).
export const RESUME_ROOMS = 1000;
// And the most bytes its rooms and seqs take: the hello is one frame, and a server refuses a
// frame over its limit (64 KiB by default) and closes the connection. 1,000 conversation names
// of two 32-character users would not fit; this leaves room for the token.
export const RESUME_BYTES = 32 * 1024;

/**
 * The hello's `resume`: the last seq received without a hole, for the rooms whose messages the
 * page holds (the open room, and those opened: their latest page loaded), the open room first,
 * then the most recently opened, at most `most` (and RESUME_BYTES of JSON). The others are
 * followed afresh from their room objects, as on a first load (state.js, the welcome):
 * resuming them would only make the server read what the page does not keep, and a user in
 * more than RESUME_ROOMS rooms could not say hello at all.
 */
export function resumePoints(state, most = RESUME_ROOMS) {
  const held = [...state.rooms.values()]
    .filter((room) => room.head !== null && !room.draft
      && (room.loaded || room.name === state.current))
    .sort((a, b) => Number(b.name === state.current) - Number(a.name === state.current)
      || b.opened - a.opened);
  const resume = {};
  let count = 0;
  let bytes = 2;
  for (const room of held) {
    const size = JSON.stringify(room.name).length + String(room.head).length + 2; // ":" ","
    if (count >= most || bytes + size > RESUME_BYTES) break;
    resume[room.name] = room.head;
    count += 1;
    bytes += size;
  }
  return resume;
}

/** "Bob is typing…" for the open room at `now`, or "" when nobody is. */
export function typingText(state, now) {
  const room = currentRoom(state);
  // By their display names (profiles.js).
  const typers = room ? room.typers(now).map((user) => displayName(state.profiles, user)) : [];
  if (!typers.length) return "";
  const who = typers.length === 1 ? `${typers[0]} is`
    : typers.length === 2 ? `${typers[0]} and ${typers[1]} are`
      : "Several people are";
  return `${who} typing…`;
}

/** When (ms) the open room's typing line next changes by itself, or null. */
export function nextTypingChange(state, now) {
  const room = currentRoom(state);
  let next = null;
  for (const until of room ? room.typing.values() : []) {
    if (until > now && (next === null || until < next)) next = until;
  }
  return next;
}

/**
 * The open room's members listed so far, online first, then away: [{user, status, me}], how
 * many of them are online (not away), how many members the room has in all, and whether more
 * can be listed.
 */
export function memberList(state) {
  const room = currentRoom(state);
  if (!room || !room.members) return { known: false, members: [], online: 0, total: 0, more: false };
  const members = room.members.map((m) => ({
    user: m.user, status: statusOf(state, m.user), me: sameUser(m.user, state.me),
    role: m.role || null, deactivated: Boolean(m.deactivated),
  }));
  const online = members.filter((m) => m.status === "online");
  const away = members.filter((m) => m.status === "away");
  return { known: true, members: [...online, ...away,
    ...members.filter((m) => m.status === "offline")],
    online: online.length, total: Math.max(room.memberCount ?? 0, members.length),
    more: room.membersMore };
}

/**
 * The line above the messages: loading, or the start of the room, or nothing. A group names
 * its others by their display names (`state`'s profiles).
 */
export function olderStatus(room, state = null) {
  if (room.loadingOlder) return "Loading older messages…";
  if (room.loaded && !room.more && room.messages.size) {
    return `This is the start of ${room.kind === "dm" ? `your conversation with ${room.label}`
      : room.kind === "group" ? startLine(state && state.profiles, room, state && state.me)
        : `#${room.name}`}.`;
  }
  return "";
}

/**
 * The rows of the open room's message list, in order, each with a stable key: day lines,
 * notices (joined, left, a new topic), the "New" line, messages (by seq, each once; a thread's
 * replies only when sent also to the room) and, last, what waits in the outbox. Keys: `m<seq>`, `p<nonce>`, `n…` and `t<seq>` (notices),
 * `d<day>`, `new`.
 */
export function timeline(state, room) {
  const rows = [];
  const notices = [...room.notices];
  let previous = null; // the message the next one may be grouped with
  let lastDay = null;
  let divided = false;
  const pushDay = (ts) => {
    const day = new Date(ts).toDateString();
    if (day !== lastDay) {
      rows.push({ key: `d${day}`, kind: "day", ts });
      lastDay = day;
      previous = null;
    }
  };
  const pushNotices = (upTo) => {
    while (notices.length && notices[0].after <= upTo) {
      const notice = notices.shift();
      pushDay(notice.ts);
      rows.push({ key: notice.key, kind: "notice", text: notice.text,
        ...(notice.msgId === undefined ? {} : { msgId: notice.msgId }) });
      previous = null;
    }
  };
  const grouped = (message) => Boolean(previous) && previous.from === message.from
    && message.ts - previous.ts < GROUP_GAP_MS;
  for (const message of room.sorted()) {
    if (hiddenInRoom(message)) continue; // shown in its thread (threads.js)
    pushNotices(message.seq - 1);
    pushDay(message.ts);
    if (!divided && state.current === room.name && state.divider !== null
        && message.seq > state.divider && message.from !== state.me) {
      rows.push({ key: "new", kind: "divider" });
      divided = true;
      previous = null;
    }
    rows.push({ key: `m${message.seq}`, kind: "message", message, grouped: grouped(message) });
    previous = message;
  }
  pushNotices(Infinity);
  for (const item of state.outbox) {
    if (item.room !== room.name || item.change) continue; // a change shows in its message
    if (hiddenInRoom(item)) continue; // a reply on its way shows in its thread
    pushDay(item.ts);
    const message = { from: state.me, text: item.text, ts: item.ts,
      ...(item.files ? { files: item.files } : {}),
      ...(item.thread !== undefined ? { thread: item.thread, broadcast: true } : {}) };
    rows.push({ key: `p${item.nonce}`, kind: "pending", message, item,
      grouped: grouped(message) });
    previous = message;
  }
  return rows;
}

/** The letter shown in a user's avatar. */
export function initial(name) {
  return (String(name).match(/[A-Za-z0-9]/) || ["?"])[0].toUpperCase();
}

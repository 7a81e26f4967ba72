// Read receipts, the pure part (docs/protocol.md "Read receipts"): in a conversation (1:1 or
// group), a quiet "Seen" under the latest of the person's own messages that the other member
// has read (iMessage, WhatsApp, Mattermost), "Seen by Bob, Carol" in a group under the latest
// own message each has read (Element's small avatars, in words), "Seen by everyone" when all
// the others are there. Never under another's message: what the others read of each other is
// theirs.
//
// The other members' markers are the server's: `receipts` {room} (no msg_id: the positions)
// when a conversation is shown (once per connection: after each welcome it is asked again,
// for what moved while away or who stopped sharing), then the `seen` event {room, user, seq}
// of each move. A marker only moves forward here: a stale lower `seq` (an event that overtook
// the answer) never moves a line back; only a `seen` that says `back` (the member marked the
// conversation unread: docs/protocol.md) does, so the line and "Read by…" say the same. The
// answer names every member who shares: one it leaves out stopped sharing (the per-user
// setting "share read receipts"), and is dropped; so is one whose `seen` says `seq` null (they
// turned it off meanwhile), until a `seen` with a seq says where they are (on again).
//
// The person's own setting (`share`: true, false, or null until the welcome says it) is theirs,
// kept by the server and told to their other devices (the `read_receipts` event); changed here
// at once (`set_read_receipts`), and the server's reply says the last word (a refusal puts
// back what it had).
//
// "Read by…" in a message's menu asks the server (`receipts` {room, msg_id}): the count and
// the names of those who read it, a page of them (`readersText`); past that page, "Show more"
// asks the next one (`after`: the last name of the page before) and adds it (`emptyReaders`,
// `readersAnswered`, `nextReaders`). No DOM, no I/O:
// tests/web/receipts.test.mjs.

import { displayName } from "./profiles.js";
import { isConversation, othersOf, sortNames } from "./conversations.js";
import { sameUser } from "./store.js";
import { hiddenInRoom } from "./threads.js";

export const LINE_NAMES = 3; // names a group's line says before "+N"

const isSeq = (value) => Number.isSafeInteger(value) && value >= 0;

/** A page's receipts: no marker known, the setting not said yet. */
export function emptyReceipts() {
  return {
    share: null, // the person's setting as shown (null: not said by the server yet)
    shareConfirmed: null, // as the server last said it
    sharePending: 0, // this page's changes on their way
    markers: new Map(), // room -> Map(lower-case user -> {user, seq})
    asked: new Set(), // rooms whose markers were asked since the welcome
  };
}

/** The setting a welcome's user object carries (`read_receipts`), or null. */
export function shareOf(info) {
  const on = info ? info.read_receipts : undefined;
  return typeof on === "boolean" ? on : null;
}

/** The server's word on the setting: shown, unless a change of this page's is on its way. */
export function confirmShare(receipts, on) {
  if (on === null) return;
  receipts.shareConfirmed = on;
  if (!receipts.sharePending) receipts.share = on;
}

/** Change the setting here, before the server answers. Returns whether to ask. */
export function setShare(receipts, on) {
  if (receipts.share === on) return false;
  receipts.share = on;
  receipts.sharePending += 1;
  return true;
}

/** The server answered a change: its setting, or null for a refusal. */
export function shareAnswered(receipts, on) {
  receipts.sharePending = Math.max(0, receipts.sharePending - 1);
  if (on !== null) receipts.shareConfirmed = on;
  if (!receipts.sharePending) receipts.share = receipts.shareConfirmed;
}

/** Whether the markers of `room` are to be asked: a conversation shown, not asked yet. */
export function wantsMarkers(receipts, room) {
  return isConversation(room) && !room.draft && !receipts.asked.has(room.name);
}

/** The markers of `room` were asked (now, on this connection). */
export function asking(receipts, name) {
  receipts.asked.add(name);
}

/** The connection dropped (or a welcome came): every room's markers are asked again. */
export function stopped(receipts) {
  receipts.asked.clear();
}

/** A room went away: its markers with it. */
export function forget(receipts, name) {
  receipts.markers.delete(name);
  receipts.asked.delete(name);
}

/**
 * A `seen` event: `user` read `room` up to `seq`. Moves their marker forward only, unless it
 * says `back`; with `seq` null they stopped sharing their receipts: their marker is dropped
 * (no line of theirs) until a `seen` with a seq comes (on again). The person's own (another
 * device of theirs) is not a receipt. Returns whether it changed.
 */
export function seenEvent(receipts, frame, me) {
  if (!frame || typeof frame.room !== "string" || typeof frame.user !== "string"
      || sameUser(frame.user, me)) return false;
  if (frame.seq === null) {
    const held = receipts.markers.get(frame.room);
    return Boolean(held) && held.delete(frame.user.toLowerCase());
  }
  if (!isSeq(frame.seq)) return false;
  let held = receipts.markers.get(frame.room);
  if (!held) {
    held = new Map();
    receipts.markers.set(frame.room, held);
  }
  const key = frame.user.toLowerCase();
  const known = held.get(key);
  if (known && (frame.back === true ? known.seq === frame.seq : known.seq >= frame.seq)) {
    return false;
  }
  held.set(key, { user: frame.user, seq: frame.seq });
  return true;
}

/**
 * The answer to `receipts` (no msg_id) for `room`: `positions` [{user, seq}] of the members who share.
 * A marker already further (a `seen` event that came first) stays; one the answer leaves out
 * is gone (that member stopped sharing).
 */
export function positionsReceived(receipts, name, positions, me) {
  const before = receipts.markers.get(name) || new Map();
  const held = new Map();
  for (const item of Array.isArray(positions) ? positions : []) {
    if (!item || typeof item.user !== "string" || !isSeq(item.seq) || sameUser(item.user, me)) {
      continue;
    }
    const key = item.user.toLowerCase();
    const known = before.get(key);
    held.set(key, known && known.seq > item.seq ? known : { user: item.user, seq: item.seq });
  }
  receipts.markers.set(name, held);
}

/** `user`'s marker in room `name`, or null. */
export function markerOf(receipts, name, user) {
  const held = receipts.markers.get(name);
  const known = held && typeof user === "string" ? held.get(user.toLowerCase()) : null;
  return known ? known.seq : null;
}

/** Whether a message may carry the line: the person's own, sent, shown in the room, not gone. */
function carries(message, me) {
  return isSeq(message.seq) && sameUser(message.from, me) && !message.deleted
    && !hiddenInRoom(message);
}

/**
 * Where the lines go in `room` (a conversation): a Map from a message's seq to the members
 * (names as the markers give them) whose marker reached it and no later message of the
 * person's own, for the messages held. Nothing in a room, nothing in a draft.
 */
export function seenAt(receipts, room, me) {
  const lines = new Map();
  const held = isConversation(room) && !room.draft ? receipts.markers.get(room.name) : null;
  if (!held || !held.size) return lines;
  const own = room.sorted().filter((message) => carries(message, me)).map((m) => m.seq);
  if (!own.length) return lines;
  for (const { user, seq } of held.values()) {
    const at = latestAtOrBelow(own, seq);
    if (at === null) continue;
    if (!lines.has(at)) lines.set(at, []);
    lines.get(at).push(user);
  }
  return lines;
}

/** The largest of `seqs` (ascending) at most `limit`, or null. */
function latestAtOrBelow(seqs, limit) {
  let low = 0;
  let high = seqs.length; // the first index whose seq is above the limit
  while (low < high) {
    const middle = (low + high) >> 1;
    if (seqs[middle] <= limit) low = middle + 1;
    else high = middle;
  }
  return low ? seqs[low - 1] : null;
}

/**
 * The words of each line of `room`: a Map from seq to "Seen" (1:1), "Seen by everyone" (a
 * group whose others are all there), "Seen by Bob, Carol" (display names, sorted ignoring
 * case, cut after LINE_NAMES with "+N").
 */
export function seenLines(state, room) {
  const lines = new Map();
  const at = seenAt(state.receipts, room, state.me);
  if (!at.size) return lines;
  const others = othersOf(room, state.me);
  for (const [seq, users] of at) {
    if (room.kind === "dm") {
      lines.set(seq, "Seen");
      continue;
    }
    const all = others.length > 0 && others.every((other) => users.some((u) => sameUser(u, other)));
    if (all) {
      lines.set(seq, "Seen by everyone");
      continue;
    }
    const names = sortNames(users.map((user) => displayName(state.profiles, user)));
    const shown = names.length > LINE_NAMES
      ? `${names.slice(0, LINE_NAMES).join(", ")} +${names.length - LINE_NAMES}`
      : names.join(", ");
    lines.set(seq, `Seen by ${shown}`);
  }
  return lines;
}

/**
 * What "Read by…" says of a `receipts` answer {count, users}: `summary` ("Read by 1 person",
 * "Read by 3 people", "Nobody yet"), the readers shown (`readers` [{user, name}], by display
 * name ignoring case), and `more` ("…and 2 more") when the server gave fewer names than it
 * counted (it gives a page of them: RECEIPTS_PAGE).
 */
export function readersText(cache, reply) {
  const users = Array.isArray(reply && reply.users)
    ? reply.users.filter((user) => typeof user === "string") : [];
  const count = Number.isSafeInteger(reply && reply.count) && reply.count >= users.length
    ? reply.count : users.length;
  const readers = users.map((user) => ({ user, name: cache ? displayName(cache, user) : user }))
    .sort((a, b) => a.name.toLowerCase().localeCompare(b.name.toLowerCase())
      || (a.user < b.user ? -1 : a.user > b.user ? 1 : 0));
  const summary = count === 0 ? "Nobody yet"
    : `Read by ${count} ${count === 1 ? "person" : "people"}`;
  const rest = count - readers.length;
  return { count, summary, readers, more: rest > 0 ? `…and ${rest} more` : null };
}

// -- "Read by…" past one page of names ----------------------------------------------------------
//
// The server gives the readers a page at a time (100 names, sorted by name ignoring case) and
// says `more` when others follow: the next page is asked `after` the last name of the one
// before, and added to what is shown (readersText sorts them all by display name). One page
// on its way at a time: "Show more" does nothing while one is.

/** The readers of one message as the panel holds them: nothing answered yet, the first page
 * on its way. */
export function emptyReaders() {
  return {
    users: [], // the names the pages gave, in their order, each once
    count: 0, // how many read it (the last answer's word)
    more: false, // the server has more names after `after`
    after: null, // the last name of the last page: where the next one starts
    loading: true, // a page is on its way
  };
}

/**
 * A page came (`reply`: {count, users, more}): its names added (one already held is not again),
 * the count the server says now, and where the next page starts when it says there is one.
 */
export function readersAnswered(readers, reply) {
  readers.loading = false;
  const page = Array.isArray(reply && reply.users)
    ? reply.users.filter((user) => typeof user === "string") : [];
  const held = new Set(readers.users.map((user) => user.toLowerCase()));
  for (const user of page) {
    if (!held.has(user.toLowerCase())) {
      held.add(user.toLowerCase());
      readers.users.push(user);
    }
  }
  if (Number.isSafeInteger(reply && reply.count) && reply.count >= 0) readers.count = reply.count;
  // (A page without names cannot say where the next starts: nothing more to ask.)
  readers.more = reply && reply.more === true && page.length > 0;
  if (page.length) readers.after = page[page.length - 1];
}

/** A page was refused (or not answered): "Show more" may ask it again. */
export function readersRefused(readers) {
  readers.loading = false;
}

/**
 * "Show more": the name to ask the next page `after` (it is then on its way), or null when
 * there is no next page or one is on its way already.
 */
export function nextReaders(readers) {
  if (readers.loading || !readers.more || readers.after === null) return null;
  readers.loading = true;
  return readers.after;
}

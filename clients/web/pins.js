// The "Pinned" panel of the open room: its pinned messages, the most recently pinned first,
// paged with `pins` {room, before?, limit?} (docs/protocol.md). Pure, like search.js:
// `state.pinned` is one of these objects, changed only through the functions here (state.js's
// reducers call them and turn what they give into requests).
//
// The list is kept up to date by the room's entries while it is shown, by the rules of
// entries.js: an edit, a reaction or a deletion changes its message there as in the
// conversation (a deleted one leaves the list), an unpin takes its message out, and a pin puts
// its message first when the page holds it (else the first page is asked again and merged:
// the message object is the server's to give). A message is in the list once, by msg_id. One
// request is on its way at a time; a reply to a request no longer waited for (another room
// opened meanwhile) changes nothing.

import { applyChange, normalise, replaces } from "./entries.js";

/** Pinned messages per page (the server takes up to its own page limit). */
export const PINS_PAGE = 20;

/** A panel showing no room's pins: status "idle". */
export function emptyPins() {
  return {
    shown: false, // whether the panel is open (it then lists the pins of the room open)
    room: null, // the room whose pins these are, or null
    items: [], // message objects, each with `pinned` {by, ts}, the most recently pinned first
    more: false, // others were pinned before the last one: `nextPage` asks for them
    status: "idle", // "idle" | "loading" (a first page) | "paging" | "done" | "failed"
    error: "", // why the last request failed, for the person
    sent: null, // the request on its way: {room, before}
    again: false, // a pin came for a message not held while a page was on its way: ask again
    stale: false, // a pin came for a message not held: the first page is to be asked again
    opens: 0, // how many times a list was started (a new one resets the panel's scroll)
  };
}

/** Start listing room `room`'s pins (the panel is open): the request's fields. */
export function begin(pins, room) {
  Object.assign(pins, emptyPins(), { opens: pins.opens + 1, room, status: "loading",
    shown: true });
  return ask(pins, null);
}

/** Stop following a room's pins (`shown`: the panel stays open, with no room to list). */
export function clear(pins, { shown = false } = {}) {
  Object.assign(pins, emptyPins(), { opens: pins.opens + 1, shown });
}

/** The request for the next page, or null (no more, or a request is on its way). */
export function nextPage(pins) {
  if (!pins.more || pins.sent || !pins.items.length) return null;
  const cursor = cursorOf(pins.items[pins.items.length - 1]);
  if (cursor === null) return null;
  pins.status = "paging";
  return ask(pins, cursor);
}

/** The same request again after a failure, or null. */
export function retry(pins) {
  if (pins.status !== "failed" || pins.room === null) return null;
  const last = pins.items[pins.items.length - 1];
  const cursor = last ? cursorOf(last) : null;
  pins.status = cursor !== null ? "paging" : "loading";
  pins.error = "";
  return ask(pins, cursor);
}

/**
 * The first page again, to merge (a pin of a message the page does not hold): its fields, or
 * null when a request is on its way (its reply is followed by this one: `again`).
 */
export function refresh(pins) {
  if (pins.room === null) return null;
  if (pins.sent) {
    pins.again = true;
    return null;
  }
  return ask(pins, null, true);
}

function ask(pins, before, again = false) {
  pins.sent = { room: pins.room, before, again };
  const fields = { room: pins.room, limit: PINS_PAGE };
  if (before !== null) fields.before = before;
  return fields;
}

/** Whether `asked` (the fields of a `pins` request) is the request this panel waits for. */
export function answers(pins, asked) {
  const { sent } = pins;
  return Boolean(sent) && asked.room === sent.room && (asked.before ?? null) === sent.before;
}

/**
 * The `ok` reply to `asked`: keep its messages (once each; a copy not older replaces the one
 * held) in the order of the pins, and whether more exist. Returns the fields of the request
 * that follows at once (a refresh asked meanwhile), or null.
 */
export function received(pins, asked, reply) {
  if (!answers(pins, asked)) return null;
  const { again } = pins.sent;
  pins.sent = null;
  const fresh = (Array.isArray(reply.messages) ? reply.messages : []).filter(isPinned)
    .map(normalise);
  const byId = new Map(pins.items.map((item) => [item.msg_id, item]));
  for (const item of fresh) {
    const held = byId.get(item.msg_id);
    if (!held || replaces(item, held)) byId.set(item.msg_id, item);
  }
  pins.items = order([...byId.values()].filter(isPinned));
  // A first page asked again to merge a pin says nothing of what follows the list's end.
  if (!again) pins.more = reply.more === true && pins.items.length > 0;
  pins.status = "done";
  pins.error = "";
  if (!pins.again) return null;
  pins.again = false;
  return ask(pins, null, true);
}

/** The `error` reply to `asked` ({code, message}). Returns whether it was taken. */
export function failed(pins, asked, error) {
  if (!answers(pins, asked)) return false;
  pins.sent = null;
  pins.again = false;
  pins.status = "failed";
  pins.error = explain(error);
  return true;
}

/** A sentence for a person about a failed listing. */
export function explain(error) {
  const code = error && error.code;
  if (code === "disconnected") return "Not connected: the pins show once the page is back online.";
  if (code === "unknown_op") return "This server does not keep pinned messages.";
  const message = error && typeof error.message === "string" ? error.message : "";
  return message ? `The pins could not be listed: ${message}` : "The pins could not be listed.";
}

/**
 * An entry of the panel's room (live, or from a page): what it changes in the list. `held` is
 * the room's copy of the message, if the page holds one (the entry applied to it or not yet).
 * Returns whether the first page should be asked again (a pin of a message not held).
 */
export function applyEntry(pins, entry, held = null) {
  if (pins.room === null || entry.room !== pins.room) return false;
  const index = pins.items.findIndex((item) => item.msg_id === entry.msg_id);
  if (index >= 0) {
    const changed = applyChange(pins.items[index], entry);
    if (!changed) return false;
    const items = [...pins.items];
    if (isPinned(changed)) items[index] = changed;
    else items.splice(index, 1); // unpinned, or deleted
    pins.items = order(items);
    return false;
  }
  if (entry.op !== "pinned" || entry.on === false) return false;
  const pinned = held ? applyChange(held, entry) || held : null;
  if (pinned && isPinned(pinned)) {
    pins.items = order([pinned, ...pins.items]);
    return false;
  }
  return pins.status !== "idle";
}

/** The panel's copy of message `msgId`, or undefined. */
export function itemOf(pins, msgId) {
  return pins.items.find((item) => item.msg_id === msgId);
}

/** A line about the list: "Loading…", "3 pinned messages", "Nothing is pinned…". */
export function statusText(pins) {
  switch (pins.status) {
    case "idle":
      return "";
    case "loading":
      return "Loading the pinned messages…";
    case "failed":
      return pins.error;
    default: {
      const n = pins.items.length;
      if (!n) return "Nothing is pinned here yet. Pin a message from its menu to keep it here.";
      if (n === 1 && !pins.more) return "1 pinned message";
      return `${n}${pins.more ? "+" : ""} pinned messages, the latest first`;
    }
  }
}

/** Whether an item is a pinned message the panel can show and open. */
export function isPinned(item) {
  return Boolean(item) && typeof item === "object" && Number.isSafeInteger(item.msg_id)
    && Number.isSafeInteger(item.seq) && typeof item.from === "string" && !item.deleted
    && Boolean(item.pinned) && typeof item.pinned.by === "string";
}

/** The `before` of the page after this message: the seq of the entry that pinned it. */
function cursorOf(item) {
  const seq = item.pinned && item.pinned.seq;
  return Number.isSafeInteger(seq) ? seq : null;
}

/** The most recently pinned first: by the pins' entries when both are known, else by time. */
function order(items) {
  const ts = (item) => (Number.isFinite(item.pinned.ts) ? item.pinned.ts : 0);
  return [...items].sort((a, b) => {
    const sa = cursorOf(a);
    const sb = cursorOf(b);
    if (sa !== null && sb !== null && sa !== sb) return sb - sa;
    return (ts(b) - ts(a)) || (b.msg_id - a.msg_id);
  });
}

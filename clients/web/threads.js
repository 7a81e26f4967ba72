// Threads (docs/protocol.md "Threads"), as pure functions on plain objects: what a root is after
// a reply, which messages the room's timeline hides, how a root's summary reads, and the thread
// panel's state (its root and replies, paged with `thread` requests, kept up to date by the
// room's entries). No DOM, no I/O, no clock: `now` is an argument where it matters.
//
// Theory of operation
// -------------------
// A reply is a `message` entry of the room's log with `thread` (its root's msg_id): resume, gaps
// and history stay exact for it as for any message. It also changes its root, as a change
// entry does: the root's `replies` {count, last_ts, users} take it in and the root's `rev`
// becomes the reply's seq. So a reply is applied to its root by the rules of entries.js
// (`replyEntry` makes the change entry a reply stands for; entries.js `applyChange` applies it
// once, in seq order, only when newer than the root): a reply seen twice counts once, and a
// root read again from the server (its `rev` is the last reply's seq) replaces the one held
// exactly when it is not older.
//
// Followers (the root's author and its repliers) are mentioned by a new reply: the server names
// them in the reply's `mentions`, so it counts, alerts and highlights as any mention (entries.js
// `mentions`); nothing here works out who follows.
//
// The room's timeline shows the roots and the replies sent "also to the room" (`broadcast`);
// the other replies are kept by the room like any message (they count as unread, and the
// summary's "N new replies" counts those held after the read marker as the room was opened,
// but those the person saw in the thread panel) and shown in the thread panel only.
//
// The panel (`state.threadPanel`, one of these objects) shows one thread of the open room: its
// root and replies, the newest page first (`thread` {room, msg_id, limit}), older pages on
// demand (`before` the first reply's seq). The room's entries reach it while it is open (live
// or in pages of history): a reply of its thread is added in place, a change to its root or a
// reply is applied. Every entry of the panel's room is also kept aside (bounded) and applied
// again to each page that comes, by the same rules: a page read before entries that came live
// is brought up to date, and one read after them is left as it is. One request is on its way at
// a time; a reply to a request no longer waited for (another thread opened) changes nothing.

import {
  applyChange, applyReply, isChange, normalise, repliesOf, REPLIERS_MAX, replaces,
} from "./entries.js";

export { applyReply, repliesOf, REPLIERS_MAX };

/** Replies per page of the panel. */
export const THREAD_PAGE = 50;
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const ASIDE_MAX = 1000; // entries of the room kept to bring pages up to date

/** Whether a message is a thread's reply. */
export function isReply(message) {
  return Boolean(message) && Number.isSafeInteger(message.thread);
}

/** Whether the room's timeline leaves a message out: a reply not sent also to the room. */
export function hiddenInRoom(message) {
  return isReply(message) && message.broadcast !== true;
}

/**
 * The change a reply makes to its root, as an entry entries.js applies: {op: "reply", seq,
 * msg_id (the root's), from, ts}; null for a message that is no reply.
 */
export function replyEntry(message) {
  if (!isReply(message) || !Number.isSafeInteger(message.seq)
      || typeof message.from !== "string") return null;
  return { op: "reply", room: message.room, seq: message.seq, msg_id: message.thread,
    from: message.from, ts: Number.isFinite(message.ts) ? message.ts : null };
}

/** "just now", "5 min ago", "3 h ago", "yesterday", "4 days ago" (ms of `ts` at `now`). */
export function ago(ts, now) {
  const minutes = Math.floor(Math.max(0, now - ts) / 60_000);
  if (minutes < 1) return "just now";
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours} h ago`;
  const days = Math.floor(hours / 24);
  return days === 1 ? "yesterday" : `${days} days ago`;
}

/** A root's summary line: "3 replies · last reply 5 min ago" ("" when it has none). */
export function summaryText(message, now) {
  const replies = repliesOf(message);
  if (!replies) return "";
  const count = replies.count === 1 ? "1 reply" : `${replies.count} replies`;
  return replies.last_ts === null ? count : `${count} · last reply ${ago(replies.last_ts, now)}`;
}

/**
 * When (ms) `ago(ts, …)` next says something else after `now`: the next whole minute since
 * `ts` for the first hour, the next whole hour for the first day, the next whole day after.
 */
export function agoChange(ts, now) {
  const elapsed = now - ts;
  if (elapsed < 0) return ts + MINUTE; // (a clock behind: "just now" until then)
  const step = elapsed < HOUR ? MINUTE : elapsed < DAY ? HOUR : DAY;
  return ts + (Math.floor(elapsed / step) + 1) * step;
}

/**
 * When (ms) the first of the summaries under `room`'s thread roots ("last reply 5 min ago")
 * next changes its words after `now`, or null when no root of it has a reply: a timer
 * renders then, as the typing line's and the Saved panel's do (controller.js).
 */
export function nextSummaryChange(room, now) {
  let next = null;
  for (const message of room ? room.messages.values() : []) {
    if (!message.replies) continue; // (most messages: no root)
    const replies = repliesOf(message);
    if (!replies || replies.last_ts === null) continue;
    const at = agoChange(replies.last_ts, now);
    if (next === null || at < next) next = at;
  }
  return next;
}

/**
 * How many replies of root `rootId` held by `room` are new to `me`: from someone else, not
 * deleted, after `since` (the read marker, by default; the page gives the marker as it was
 * when the room was opened, so that replies read with the messages after them stay marked while
 * the room is open) and after `seen` (the last seq of the room when the person last had this
 * thread open). The "N new replies" of the root's summary. Counted for every root at once and
 * kept until the room's messages, changes or marker move (a render asks it of each root).
 */
export function newReplies(room, rootId, me, { since = room.readSeq, seen = 0 } = {}) {
  const key = `${since}:${room.counted}:${room.messages.size}:${room.changes.size}:${me}`;
  let fresh = FRESH.get(room);
  if (!fresh || fresh.key !== key) {
    const seqs = new Map(); // root's msg_id -> seqs of its new replies
    for (const message of room.messages.values()) {
      if (isReply(message) && message.seq > since && !message.deleted
          && !sameName(message.from, me)) {
        if (!seqs.has(message.thread)) seqs.set(message.thread, []);
        seqs.get(message.thread).push(message.seq);
      }
    }
    fresh = { key, seqs };
    FRESH.set(room, fresh);
  }
  return (fresh.seqs.get(rootId) || []).filter((seq) => seq > seen).length;
}

const FRESH = new WeakMap(); // room -> {key, counts}: newReplies's last count

/**
 * Where the thread composer's draft of root `rootId` of `room` is kept among the boxes' drafts
 * (drafts.js, room -> text): "general#1040" (no room or conversation name has a "#").
 */
export function draftKey(room, rootId) {
  return `${room}#${rootId}`;
}

/** A line "replied to a thread: <root's excerpt>" for a reply shown in the room, or "". */
export function broadcastText(root) {
  if (!root) return "replied to a thread";
  if (root.deleted) return "replied to a thread: (deleted message)";
  return `replied to a thread: ${root.text}`;
}

// -- the panel ---------------------------------------------------------------------------------

/** A panel showing no thread: status "idle". */
export function emptyThread() {
  return {
    shown: false, // whether the panel is open
    room: null, // the room of the thread shown, or null
    rootId: null, // the msg_id asked for: the root's, or one of its replies' until the first page
    root: null, // the root's message object, once a page gave it
    items: [], // the replies held, oldest first (by seq), each once
    more: false, // older replies remain: `nextPage` asks for them
    status: "idle", // "idle" | "loading" | "paging" | "done" | "failed"
    error: "",
    sent: null, // the request on its way: {room, msg_id, before}
    aside: [], // entries of the room seen while shown, by seq (see the top of the file)
    opens: 0, // how many threads were opened (a new one resets the panel's scroll)
    also: false, // the composer's "Also send to the room"
    said: null, // {following, readSeq}: the person's state of the thread as its last page said
    target: null, // {msgId}: a reply to show highlighted once held (`aim`); a new object each time
  };
}

/** Open the thread of message `msgId` of `room`: the request's fields. */
export function begin(thread, room, msgId, { root = null } = {}) {
  Object.assign(thread, emptyThread(), { opens: thread.opens + 1, room, rootId: msgId,
    status: "loading", shown: true });
  if (root && !isReply(root) && root.msg_id === msgId) thread.root = normalise(root);
  return ask(thread, null);
}

/** Close the panel: no thread is followed. */
export function clear(thread) {
  Object.assign(thread, emptyThread(), { opens: thread.opens + 1 });
}

/** The request for older replies, or null (no more, or a request on its way). */
export function nextPage(thread) {
  if (!thread.more || thread.sent || !thread.items.length) return null;
  thread.status = "paging";
  return ask(thread, thread.items[0].seq);
}

/**
 * Show reply `msgId` of the thread, highlighted (a quote of it was pressed, or a search result
 * or notification named it): kept as the panel's `target` for the view, and the request that
 * pages back towards it, or null (held already, no more pages, or a request on its way: the
 * next page's reply asks `towardsTarget` again).
 */
export function aim(thread, msgId) {
  thread.target = { msgId };
  return towardsTarget(thread);
}

/** The request for an older page while the reply aimed at is not held yet, or null. */
export function towardsTarget(thread) {
  const { target } = thread;
  if (!target || itemOf(thread, target.msgId) || thread.status === "failed") return null;
  if (thread.items.length && thread.items[0].msg_id < target.msgId) return null; // (not there)
  return nextPage(thread);
}

/** The same request again after a failure, or null. */
export function retry(thread) {
  if (thread.status !== "failed" || thread.room === null) return null;
  const before = thread.items.length && thread.root ? thread.items[0].seq : null;
  thread.status = before !== null ? "paging" : "loading";
  thread.error = "";
  return ask(thread, before);
}

function ask(thread, before) {
  thread.sent = { room: thread.room, msg_id: thread.rootId, before };
  const fields = { room: thread.room, msg_id: thread.rootId, limit: THREAD_PAGE };
  if (before !== null) fields.before = before;
  return fields;
}

/** Whether `asked` (a `thread` request's fields) is the request this panel waits for. */
export function answers(thread, asked) {
  const { sent } = thread;
  return Boolean(sent) && asked.room === sent.room && asked.msg_id === sent.msg_id
    && (asked.before ?? null) === sent.before;
}

/**
 * The `ok` reply to `asked`: its root (replacing the one held when not older) and its replies
 * (each once by seq; a copy not older replaces the one held), then the entries kept aside
 * applied again; its `following` and `read_seq` kept as `said`. Returns whether it was taken.
 */
export function received(thread, asked, reply) {
  if (!answers(thread, asked)) return false;
  thread.sent = null;
  const root = reply.root && typeof reply.root === "object" && Number.isSafeInteger(reply.root.msg_id)
    ? normalise(reply.root) : null;
  if (root) {
    thread.rootId = root.msg_id;
    if (!thread.root || thread.root.msg_id !== root.msg_id || replaces(root, thread.root)) {
      thread.root = root;
    }
  }
  const fresh = (Array.isArray(reply.messages) ? reply.messages : [])
    .filter((m) => m && Number.isSafeInteger(m.seq) && Number.isSafeInteger(m.msg_id)
      && m.thread === thread.rootId).map(normalise);
  merge(thread, fresh);
  // Whether older replies remain: before the first one held (a first page's, or an older one's).
  thread.more = reply.more === true && thread.items.length > 0;
  // Whether the person follows it and how far they read it (a server that keeps followed threads
  // says so in every page; inbox.js prefers what its events keep).
  if (typeof reply.following === "boolean") {
    thread.said = { following: reply.following,
      readSeq: Number.isSafeInteger(reply.read_seq) && reply.read_seq > 0 ? reply.read_seq : 0 };
  }
  thread.status = "done";
  thread.error = "";
  for (const entry of thread.aside) applyOne(thread, entry);
  return true;
}

/** The `error` reply to `asked`. Returns whether it was taken. */
export function failed(thread, asked, error) {
  if (!answers(thread, asked)) return false;
  thread.sent = null;
  thread.status = "failed";
  thread.error = explain(error);
  return true;
}

/** A sentence for a person about a thread that could not be shown. */
export function explain(error) {
  const code = error && error.code;
  if (code === "disconnected") return "Not connected: the thread shows once the page is back online.";
  if (code === "not_found") return "This thread is not there any more.";
  if (code === "unknown_op") return "This server does not keep threads.";
  const message = error && typeof error.message === "string" ? error.message : "";
  return message ? `The thread could not be shown: ${message}` : "The thread could not be shown.";
}

/**
 * An entry of the panel's room (live, or from a page of history): a reply of its thread is
 * added, a change to its root or one of its replies applied, each once (entries.js's rules).
 * Kept aside too, to bring the pages still to come up to date.
 */
export function applyEntry(thread, entry) {
  if (thread.room === null || !entry || entry.room !== thread.room
      || !Number.isSafeInteger(entry.seq)) return;
  if (entry.op !== "message" && entry.op !== undefined && !isChange(entry)) return;
  if ((entry.op === "message" || entry.op === undefined) && !isReply(entry)) return;
  let at = thread.aside.length;
  while (at > 0 && thread.aside[at - 1].seq > entry.seq) at -= 1;
  if (!(at > 0 && thread.aside[at - 1].seq === entry.seq)) {
    thread.aside.splice(at, 0, entry);
    if (thread.aside.length > ASIDE_MAX) thread.aside.shift();
  }
  applyOne(thread, entry);
}

function applyOne(thread, entry) {
  if (entry.op === "message" || entry.op === undefined) {
    if (entry.thread !== thread.rootId || !thread.root) return; // the root says which thread
    merge(thread, [normalise(entry)]);
    const changed = applyChange(thread.root, replyEntry(entry));
    if (changed) thread.root = changed;
    return;
  }
  if (thread.root && entry.msg_id === thread.root.msg_id) {
    const changed = applyChange(thread.root, entry);
    if (changed) thread.root = changed;
    return;
  }
  const index = thread.items.findIndex((item) => item.msg_id === entry.msg_id);
  if (index < 0) return;
  const changed = applyChange(thread.items[index], entry);
  if (!changed) return;
  thread.items = thread.items.map((item, i) => (i === index ? changed : item));
}

/** Keep `replies` in the panel's list: once each by seq, the newer copy, in seq order. */
function merge(thread, replies) {
  if (!replies.length) return;
  const bySeq = new Map(thread.items.map((item) => [item.seq, item]));
  for (const reply of replies) {
    const held = bySeq.get(reply.seq);
    if (!held || (held !== reply && replaces(reply, held))) bySeq.set(reply.seq, reply);
  }
  thread.items = [...bySeq.values()].sort((a, b) => a.seq - b.seq);
}

/** The panel's copy of message `msgId` (its root or a reply), or undefined. */
export function itemOf(thread, msgId) {
  if (thread.root && thread.root.msg_id === msgId) return thread.root;
  return thread.items.find((item) => item.msg_id === msgId);
}

/** A line about the panel: "Loading the thread…", an error, or "". */
export function statusText(thread) {
  if (thread.status === "loading") return "Loading the thread…";
  if (thread.status === "failed") return thread.error;
  return "";
}

function sameName(a, b) {
  return typeof a === "string" && typeof b === "string" && a.toLowerCase() === b.toLowerCase();
}

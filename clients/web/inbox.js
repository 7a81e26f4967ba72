// The threads the person follows (docs/protocol.md "Followed threads"): the Threads view's list,
// what is unread in each, and the sidebar's count of followed threads with unread replies. Pure,
// like saved.js: `state.inbox` is one of these objects, changed only through the functions here
// (state.js's reducers call them and turn what they give into requests).
//
// Theory of operation
// -------------------
// The server keeps, per person and thread, whether they follow it and `read_seq` (the last reply
// they read). The `threads` request lists the followed threads, the latest reply first, a page at
// a time, each with `unread` and `mentions` counted by the server. The page asks for the first
// page after each welcome (the sidebar's count wants it) and for the next ones as the view is
// scrolled; a listing started again replaces what a thread was known as.
//
// Between listings three things move a thread, in any order (a reply comes with the room's log,
// a `thread_state` with the person's own events, a listing's page whenever it is answered):
// - a reply entry (a message with `thread`): a reply not by the person, after what the thread's
//   counts already hold (its seq above the root's `rev` as listed), is kept by its seq (each once)
//   with whether its text @names the person. The server names a thread's followers in a reply's
//   `mentions`, so a reply naming the person in a thread not held makes it known (followed). A
//   reply by the person follows the thread and reads it up to that reply (the server does both).
// - a `thread_state` {following, read_seq}: following is the event's (they come in the server's
//   order); read_seq only moves forward.
// - a deleted reply (a `deleted` change entry) no longer counts.
// So a thread's unread replies are those of the listing after the read_seq (all of them while the
// read_seq is not past the listing's, none once it is past its newest) plus the replies kept since,
// after read_seq: the same whatever the order the three came in. The sidebar counts the followed
// threads with unread replies among those held, plus those the welcome counted beyond the first
// page (`outside`, the welcome's `threads_unread` less the first page's own; capped at 100).

import { normalise, repliesOf } from "./entries.js";

/** Threads per `threads` page (the server takes up to 100). */
export const INBOX_PAGE = 30;
const SEEN_MAX = 500; // replies kept per thread between listings

/** Nothing known: status "idle". */
export function emptyInbox() {
  return {
    threads: new Map(), // key -> thread (below)
    welcomed: 0, // the welcome's `threads_unread`
    outside: 0, // unread followed threads beyond the pages held (the welcome's count)
    listed: false, // a first page came since the last welcome
    more: false, // older threads remain: `nextPage` asks for them
    cursor: null, // the `before` of the next page
    sent: null, // the request on its way: {before}
    status: "idle", // "idle" | "loading" | "paging" | "done" | "failed"
    error: "",
    supported: true, // false once the server said it keeps no followed threads
    asked: new Map(), // key -> the highest read_seq asked for (read_thread on its way)
    again: false, // a thread became known without its counts: the first page is asked again
    opens: 0, // how many times the view was opened (its scroll starts at the top)
  };
}

/*
 * A thread: {room, rootId, root (message object or null while not listed), following,
 * readSeq, base: {seq (the root's rev as listed: the listing counted the replies up to it),
 * read (the read_seq it counted from), unread, mentions}, seen: Map msg_id -> {seq, mention,
 * deletedAt} (replies by others after the listing's read_seq: those it did not count, and those
 * it counted that a deletion may take back), lastTs (the latest reply's ts), lastSeq, told (the
 * highest read_seq a thread_state or a listing said: a reply of the person's own up to it is
 * older than what they said of following)}.
 */

/** The key of a thread: its room and root. */
export function keyOf(room, rootId) {
  return `${room}\n${rootId}`;
}

function thread(inbox, room, rootId) {
  const key = keyOf(room, rootId);
  let held = inbox.threads.get(key);
  if (!held) {
    held = { room, rootId, root: null, following: true, readSeq: 0,
      base: { seq: 0, read: 0, unread: 0, mentions: 0 }, seen: new Map(), lastTs: null,
      lastSeq: 0, told: 0 };
    inbox.threads.set(key, held);
  }
  return held;
}

// -- counts ----------------------------------------------------------------------------------

/** How many replies of thread `t` are unread: {unread, mentions} (see the top of the file). */
export function countsOf(t) {
  let unread = 0;
  let mentions = 0;
  const { base } = t;
  if (t.readSeq < base.seq) {
    // The listing's count, less its replies deleted since (known by their entries).
    unread = base.unread;
    mentions = base.mentions;
    for (const reply of t.seen.values()) {
      if (reply.seq <= base.seq && reply.seq > base.read && reply.deletedAt !== null
          && reply.deletedAt > base.seq) {
        unread -= 1;
        if (reply.mention) mentions -= 1;
      }
    }
  }
  for (const reply of t.seen.values()) {
    if (reply.seq > base.seq && reply.seq > t.readSeq && reply.deletedAt === null) {
      unread += 1;
      if (reply.mention) mentions += 1;
    }
  }
  return { unread: Math.max(0, unread), mentions: Math.max(0, mentions) };
}

/** How many replies of thread `t` are unread. */
export function unreadOf(t) {
  return countsOf(t).unread;
}

/** How many of the unread replies of thread `t` @name the person. */
export function mentionsOf(t) {
  return countsOf(t).mentions;
}

/** The sidebar's count: the followed threads with unread replies (at most 100, as the server). */
export function unreadThreads(inbox) {
  let count = inbox.outside;
  for (const t of inbox.threads.values()) {
    if (t.following && !t.stale && unreadOf(t) > 0) count += 1;
  }
  return Math.min(100, count);
}

/**
 * The threads the view lists, the latest reply first: {key, room, rootId, root, following,
 * unread, mentions, lastTs}. Those the person unfollowed stay (to follow again) until the next
 * listing.
 */
export function shownThreads(inbox) {
  const ts = (t) => (Number.isFinite(t.lastTs) ? t.lastTs : -Infinity);
  return [...inbox.threads.values()].filter((t) => t.following || !t.unlisted)
    .sort((a, b) => (ts(b) - ts(a)) || (b.lastSeq - a.lastSeq) || (b.rootId - a.rootId))
    .map((t) => ({ key: keyOf(t.room, t.rootId), room: t.room, rootId: t.rootId, root: t.root,
      following: t.following, readSeq: t.readSeq, unread: unreadOf(t), mentions: mentionsOf(t),
      lastTs: t.lastTs }));
}

/** The thread held for `room`'s root `rootId`, or undefined. */
export function threadOf(inbox, room, rootId) {
  return inbox.threads.get(keyOf(room, rootId));
}

// -- the listing -----------------------------------------------------------------------------

/** A welcome came (`threadsUnread` its `threads_unread`, absent when 0): the first page's fields. */
export function welcomed(inbox, threadsUnread) {
  inbox.welcomed = Number.isSafeInteger(threadsUnread) && threadsUnread > 0
    ? Math.min(100, threadsUnread) : 0;
  inbox.listed = false;
  inbox.again = false;
  inbox.outside = inbox.welcomed;
  // What was held may have changed while away: counted by the welcome until a page says it
  // again (what was seen before is the listing's to count).
  for (const t of inbox.threads.values()) {
    t.stale = true;
    t.everListed = false;
    t.seen.clear();
  }
  inbox.asked.clear();
  return ask(inbox, null);
}

/** The connection was lost: the request on its way is not answered. */
export function stopped(inbox) {
  inbox.sent = null;
  if (inbox.status === "loading" || inbox.status === "paging") inbox.status = "idle";
}

function ask(inbox, before) {
  inbox.sent = { before };
  inbox.status = before === null ? "loading" : "paging";
  inbox.error = "";
  return before === null ? { limit: INBOX_PAGE } : { before, limit: INBOX_PAGE };
}

/** The next page's fields (the view scrolled to its end), or null. */
export function nextPage(inbox) {
  if (!inbox.more || inbox.sent || inbox.cursor === null || !inbox.supported
      || inbox.status === "failed") return null; // (after a failure: "Try again" lists anew)
  return ask(inbox, inbox.cursor);
}

/** The first page again (after a failure, or the view opened): its fields, or null. */
export function refresh(inbox) {
  if (inbox.sent || !inbox.supported) return null;
  inbox.again = false;
  return ask(inbox, null);
}

/**
 * The first page again when a thread became known without its counts (a reply named the
 * person in a thread not held, or it was followed elsewhere) and no listing is on its way:
 * its fields, or null.
 */
export function wanted(inbox) {
  return inbox.again && inbox.listed ? refresh(inbox) : null;
}

/** Whether `asked` (a `threads` request's fields) is the one on its way. */
export function answers(inbox, asked) {
  return Boolean(inbox.sent) && (asked.before ?? null) === inbox.sent.before;
}

/**
 * The `ok` reply to `asked`: its threads replace what was known of them (the replies kept since
 * that the listing counted are let go); a first page also drops the threads held but no longer
 * followed and the welcome's count of those beyond it. Returns whether it was taken.
 */
export function received(inbox, asked, reply, me) {
  if (!answers(inbox, asked)) return false;
  const first = inbox.sent.before === null;
  const again = inbox.listed; // (not the welcome's first page: `outside` was counted before)
  inbox.sent = null;
  const page = (Array.isArray(reply.threads) ? reply.threads : []).map(listedOf).filter(Boolean);
  if (first) {
    if (!again) {
      // The welcome's count, less those of this page: those beyond it.
      const unreadHere = page.filter((item) => item.following && item.unread > 0).length;
      inbox.outside = reply.more === true ? Math.max(0, inbox.welcomed - unreadHere) : 0;
    } else if (reply.more !== true) {
      inbox.outside = 0; // (the whole list is held)
    }
    inbox.listed = true;
    // Threads held and not on the first page: those older than its last are kept (a later page
    // says them again); newer ones are no longer followed, unless a reply made them known since.
    const oldest = page.length ? page[page.length - 1].lastTs : null;
    // Those unfollowed are not listed: the view shows them until a listing (they are kept:
    // what a thread_state said tells a late reply of the person's own for older, `told`).
    const listed = new Set(page.map((item) => keyOf(item.room, item.rootId)));
    for (const [key, t] of inbox.threads) {
      if (listed.has(key)) continue;
      const newer = oldest === null || !Number.isFinite(t.lastTs) || t.lastTs >= oldest;
      if (t.stale && (newer || reply.more !== true)) inbox.threads.delete(key);
      else if (!t.following) t.unlisted = true;
    }
  }
  for (const item of page) take(inbox, item, again);
  const last = page[page.length - 1];
  const cursor = typeof reply.next === "string" || Number.isFinite(reply.next) ? reply.next
    : last && Number.isFinite(last.lastTs) ? last.lastTs : null;
  inbox.more = reply.more === true && cursor !== null;
  inbox.cursor = inbox.more ? cursor : null;
  inbox.status = "done";
  inbox.error = "";
  return true;
}

/** A listed thread into the inbox: the listing's counts, the replies it did not count kept. */
function take(inbox, item, again) {
  const known = inbox.threads.get(keyOf(item.room, item.rootId));
  if (again && inbox.outside > 0 && item.following && !(known && known.everListed)) {
    // Listed for the first time since the welcome, past its first page (or made known by a
    // live reply since): when it had unread replies before those seen live, the welcome
    // counted it among those beyond the first page.
    let since = 0;
    for (const reply of known ? known.seen.values() : []) {
      if (reply.seq > item.readSeq && reply.deletedAt === null) since += 1;
    }
    if (item.unread > since) inbox.outside -= 1;
  }
  const t = known || thread(inbox, item.room, item.rootId);
  t.everListed = true;
  delete t.stale;
  t.unlisted = false;
  t.root = item.root;
  t.following = item.following;
  const rev = Number.isSafeInteger(item.root.rev) ? item.root.rev : item.root.seq;
  t.base = { seq: rev, read: item.readSeq, unread: item.unread, mentions: item.mentions };
  t.readSeq = Math.max(t.readSeq, item.readSeq);
  t.told = Math.max(t.told, item.readSeq);
  for (const [msgId, reply] of t.seen) {
    if (reply.seq <= rev && (reply.deletedAt === null || reply.deletedAt <= rev)) t.seen.delete(msgId);
  }
  const replies = repliesOf(item.root);
  if (replies && Number.isFinite(replies.last_ts)
      && (!Number.isFinite(t.lastTs) || replies.last_ts > t.lastTs)) t.lastTs = replies.last_ts;
  t.lastSeq = Math.max(t.lastSeq, rev);
}

/** The `error` reply to `asked`. Returns whether it was taken. */
export function failed(inbox, asked, error) {
  if (!answers(inbox, asked)) return false;
  inbox.sent = null;
  inbox.status = "failed";
  if (error && error.code === "unknown_op") inbox.supported = false;
  inbox.error = explain(error);
  return true;
}

/** A sentence for a person about a listing that failed. */
export function explain(error) {
  const code = error && error.code;
  if (code === "disconnected") return "Not connected: the threads show once the page is back online.";
  if (code === "unknown_op") return "This server does not keep followed threads.";
  const message = error && typeof error.message === "string" ? error.message : "";
  return message ? `The threads could not be listed: ${message}` : "The threads could not be listed.";
}

/** A line about the view: loading, an error, none followed, or "". */
export function statusText(inbox) {
  if (inbox.status === "loading" && !inbox.threads.size) return "Loading the threads…";
  if (inbox.status === "failed") return inbox.error;
  if (inbox.status === "done" && !inbox.threads.size) {
    return "No followed threads yet. You follow a thread when you start it, reply in it or are mentioned in it.";
  }
  return "";
}

/** The view was opened: it starts at the top. */
export function opened(inbox) {
  inbox.opens += 1;
}

// -- events ----------------------------------------------------------------------------------

/**
 * A `thread_state` event, or a `follow_thread`/`read_thread` reply with the same fields:
 * following as it says, read_seq forward only. Returns whether a thread was changed.
 */
export function threadState(inbox, frame) {
  if (!frame || typeof frame.room !== "string" || !Number.isSafeInteger(frame.msg_id)) return false;
  const held = threadOf(inbox, frame.room, frame.msg_id);
  if (typeof frame.following !== "boolean") return false;
  // Followed again (or anew) while not held: the replies before are counted by a listing. One
  // unfollowed is held too: a reply of the person's own that comes after says what it is older.
  if (!held && frame.following) inbox.again = true;
  const t = held || thread(inbox, frame.room, frame.msg_id);
  t.following = frame.following;
  t.unlisted = false;
  if (Number.isSafeInteger(frame.read_seq)) {
    t.readSeq = Math.max(t.readSeq, frame.read_seq);
    t.told = Math.max(t.told, frame.read_seq);
  }
  return true;
}

/**
 * A message of the room's log (live or from history): a reply counts in its thread (see the top
 * of the file). `room` is the room's name. Returns whether a followed thread not listed became
 * known (its root is asked for by listing the first page again).
 */
export function replyEntry(inbox, room, message, me, { live = true } = {}) {
  if (!message || !Number.isSafeInteger(message.thread) || !Number.isSafeInteger(message.seq)
      || !Number.isSafeInteger(message.msg_id) || typeof me !== "string") return false;
  const rootId = message.thread;
  const mine = sameName(message.from, me);
  const named = Array.isArray(message.mentions) && message.mentions.some((n) => sameName(n, me));
  let t = threadOf(inbox, room, rootId);
  if (!t) {
    if (!mine && !named) return false; // (a thread the person does not follow)
    // A page of history is older than the listing: its threads are listed, or counted by the
    // welcome beyond the pages read (`outside`), not made known again here.
    if (!live) return false;
    t = thread(inbox, room, rootId);
    inbox.again = true; // (its root, and the replies before this one)
  }
  if (Number.isFinite(message.ts) && (!Number.isFinite(t.lastTs) || message.ts > t.lastTs)) {
    t.lastTs = message.ts;
  }
  t.lastSeq = Math.max(t.lastSeq, message.seq);
  if (mine) {
    // Replying follows the thread and reads it up to the reply: unless the person's
    // `thread_state` (or the listing) said already what came after it (its read_seq is at least
    // the reply's: their own replies count as read).
    if (message.seq > t.told) t.following = true;
    t.readSeq = Math.max(t.readSeq, message.seq);
  } else if (!message.deleted && !t.seen.has(message.msg_id)
      && message.seq > t.base.read) {
    t.seen.set(message.msg_id, { seq: message.seq, mention: namesMe(message.text, me),
      deletedAt: null });
    if (t.seen.size > SEEN_MAX) t.seen.delete(t.seen.keys().next().value);
  }
  return inbox.again;
}

/** A change entry of `room` ({op: "deleted", seq, msg_id}): a reply deleted no longer counts. */
export function changeEntry(inbox, room, entry) {
  if (!entry || entry.op !== "deleted" || !Number.isSafeInteger(entry.msg_id)
      || !Number.isSafeInteger(entry.seq)) return;
  for (const t of inbox.threads.values()) {
    const reply = t.room === room ? t.seen.get(entry.msg_id) : undefined;
    if (reply && reply.deletedAt === null) reply.deletedAt = entry.seq;
  }
}

/** A room's root as the page holds it now (newer than the listing's): shown instead. */
export function rootSeen(inbox, room, message) {
  const t = message && threadOf(inbox, room, message.msg_id);
  if (t && t.root && Number.isSafeInteger(message.rev ?? message.seq)) {
    const rev = (m) => (Number.isSafeInteger(m.rev) ? m.rev : m.seq);
    if (rev(message) >= rev(t.root)) t.root = normalise(message);
  }
}

/** The person left a room (or lost it): its threads go. */
export function roomGone(inbox, room) {
  for (const [key, t] of inbox.threads) if (t.room === room) inbox.threads.delete(key);
}

// -- the person's own requests ---------------------------------------------------------------

/**
 * The thread of `room`'s root `rootId` was seen up to reply `seq`: the `read_thread` request's
 * fields, or null when it was read (or asked) that far already (`said`: the thread panel's
 * {following, readSeq} as its page said, for a thread not held). Counted as read at once.
 */
export function readRequest(inbox, room, rootId, seq, { said = null } = {}) {
  if (!Number.isSafeInteger(seq) || !inbox.supported) return null;
  const key = keyOf(room, rootId);
  const t = inbox.threads.get(key);
  const asked = inbox.asked.get(key) ?? 0;
  if (seq <= asked || (t && seq <= t.readSeq)) return null;
  if (!t && said && seq <= said.readSeq) return null; // (the thread's page said it was read)
  inbox.asked.set(key, seq);
  if (t) t.readSeq = seq;
  return { room, msg_id: rootId, seq };
}

/** The `follow_thread` request's fields for following (`on`) or not: shown at once. */
export function followRequest(inbox, room, rootId, on) {
  if (on && !threadOf(inbox, room, rootId)) inbox.again = true; // (listed once followed)
  thread(inbox, room, rootId).following = Boolean(on);
  return { room, msg_id: rootId, on: Boolean(on) };
}

/** Whether the person follows the thread of `room`'s root `rootId` (as far as the page knows). */
export function isFollowing(inbox, room, rootId) {
  const t = threadOf(inbox, room, rootId);
  return Boolean(t && t.following);
}

/**
 * Whether the person follows the thread the panel shows (`root`, its `replies` held): as the
 * inbox holds it (kept by the events, in the server's order), unless it is stale (a welcome
 * since, its listing not yet come) and the thread's page said (`said`: {following}, the
 * `thread` reply's); one not held as the page said. From a server whose `thread` reply does
 * not say: one not held is not followed when the whole list is held, else (a thread older than
 * the pages read) it is followed by the rules when the person wrote its root or replied or was
 * named in it.
 */
export function followsShown(inbox, room, root, replies, me, said = null) {
  const t = threadOf(inbox, room, root.msg_id);
  const told = said && typeof said.following === "boolean";
  if (t && !(t.stale && told)) return t.following;
  if (told) return said.following;
  if (!inbox.listed || !inbox.more) return false;
  return (sameName(root.from, me) && replies.length > 0)
    || replies.some((reply) => sameName(reply.from, me) || namesMe(reply.text, me));
}

// -- parsing ---------------------------------------------------------------------------------

/** A THREAD of a `threads` reply, checked: {room, rootId, root, following, readSeq, unread,
 * mentions, lastTs}, or null. */
export function listedOf(raw) {
  if (!raw || typeof raw !== "object" || typeof raw.room !== "string") return null;
  const root = raw.root && typeof raw.root === "object" && Number.isSafeInteger(raw.root.msg_id)
    ? normalise(raw.root) : null;
  if (!root) return null;
  const count = (value) => (Number.isSafeInteger(value) && value > 0 ? value : 0);
  const replies = repliesOf(root);
  return { room: raw.room, rootId: root.msg_id, root, following: raw.following !== false,
    readSeq: count(raw.read_seq), unread: count(raw.unread), mentions: count(raw.mentions),
    lastTs: Number.isFinite(raw.last_ts) ? raw.last_ts
      : replies && Number.isFinite(replies.last_ts) ? replies.last_ts : null };
}

const MENTION = /(?<![A-Za-z0-9_.@-])@([A-Za-z0-9_.-]{1,32})/g;

/** Whether `text` @names `me` (as the server reads mentions: "@ann." names ann too). */
export function namesMe(text, me) {
  if (typeof text !== "string" || typeof me !== "string") return false;
  for (const match of text.matchAll(MENTION)) {
    const word = match[1];
    if (sameName(word, me) || sameName(word.replace(/[.-]+$/, ""), me)) return true;
  }
  return false;
}

function sameName(a, b) {
  return typeof a === "string" && typeof b === "string" && a.toLowerCase() === b.toLowerCase();
}

// The rules of protocol v2's room log, as pure functions on plain objects: what a message is
// after a change entry (`edited`, `deleted`, `reaction`, `pinned`, `preview`, and a poll's
// `voted` and `poll_closed`: polls.js), and which of two
// copies of a message is the newer one. No DOM, no I/O; store.js keeps the messages, state.js
// calls it.
//
// Theory of operation (docs/protocol.md, "Applying entries")
// ---------------------------------------------------------
// Every change to a room is an entry of the room's log with its own seq. A message object says
// how new it is with `rev`: the seq of the last entry that changed it (its own seq when none
// did; the wire leaves `rev` out then). So:
//
// - an entry is applied to a message only if the entry's seq is greater than the message's
//   rev, and the message's rev becomes the entry's seq: an entry seen twice (live and in a page
//   of history, or in two pages) changes the message once;
// - a message object received again replaces the one held when its rev is not lower: a page
//   read after some changes shows them already, and a page read before them (its reply may come
//   after the changes were delivered live) is older and is not taken;
// - an entry for a message not held is kept aside (store.js) and applied when the message
//   arrives, if it is newer than the message then.
//
// A thread's reply is a `message` entry that changes its root too (docs/protocol.md
// "Threads"): the change it stands for (threads.js `replyEntry`, op "reply") is applied to the
// root by the same rule (`applyReply`: the root's `replies` summary, and its rev).
//
// A poll (polls.js) is changed by `voted` entries, each the voter's whole choice, as reactions
// are by theirs, and closed by `poll_closed`; a deleted poll is a tombstone (its votes gone).
//
// Messages are never changed in place: a change makes a new object, so a view can tell by
// identity that a message changed. A tombstone is always the same shape, whether it was made
// here from a `deleted` entry or read from the server: `text` "", `deleted` true, no
// reactions, mentions, files, previews, poll, `edited_ts` or `pinned` (deleting a pinned
// message takes it off the room's pins: the `deleted` entry says so, no `pinned` entry
// follows).

import { closed, pollOf, withVote } from "./polls.js";

/** The ops of change entries (the other entries of a room's log are `message`s). */
export const CHANGE_OPS = Object.freeze(["edited", "deleted", "reaction", "pinned", "preview",
  "voted", "poll_closed"]);

/** Whether a frame is a change entry. */
export function isChange(frame) {
  return Boolean(frame) && CHANGE_OPS.includes(frame.op);
}

/** The seq of the last entry that changed a message (its own seq when none did). */
export function revOf(message) {
  return Number.isSafeInteger(message.rev) ? message.rev : message.seq;
}

/** Whether a copy of a message (a newer page, a live event) should replace the one held. */
export function replaces(incoming, held) {
  return revOf(incoming) >= revOf(held);
}

/**
 * A message object as kept: a tombstone made uniform, `reactions` and `mentions` as arrays
 * (left out when empty), nothing else changed. Returns the object itself when nothing is to
 * change.
 */
export function normalise(message) {
  if (message.deleted === true) {
    if (message.text === "" && !message.reactions && !message.mentions && !message.files
        && !message.previews && message.edited_ts === undefined && message.pinned === undefined
        && message.poll === undefined && message.forwarded === undefined) {
      return message;
    }
    return tombstone(message, revOf(message));
  }
  const reactions = cleanReactions(message.reactions);
  const mentions = cleanNames(message.mentions);
  const pinned = message.pinned === undefined ? undefined : pinOf(message.pinned);
  const poll = message.poll === undefined ? undefined : pollOf(message.poll);
  if (reactions === message.reactions && mentions === message.mentions
      && pinned === message.pinned && poll === message.poll) return message;
  const next = withLists({ ...message }, reactions, mentions);
  if (pinned) next.pinned = pinned;
  else delete next.pinned;
  if (poll) next.poll = poll;
  else delete next.poll;
  return next;
}

/**
 * The message after a change entry, or null when the entry does not apply to it (another
 * message, or not newer than the message: see the rules above).
 */
export function applyChange(message, entry) {
  if (entry && entry.op === "reply") return applyReply(message, entry);
  if (!isChange(entry) || entry.msg_id !== message.msg_id
      || !Number.isSafeInteger(entry.seq) || entry.seq <= revOf(message)) return null;
  if (entry.op === "deleted" || message.deleted) {
    // A change to a tombstone only moves its rev (the server stores none after the deletion;
    // one from before it, seen late, has nothing left to change).
    return tombstone(message, entry.seq);
  }
  if (entry.op === "edited") {
    if (typeof entry.text !== "string") return null;
    // The words of a message deleted later are gone from its earlier edits too: an edit with
    // no text means the message was deleted (its `deleted` entry follows), not that it reads "".
    if (entry.text === "") return tombstone(message, entry.seq);
    const next = { ...message, text: entry.text, rev: entry.seq };
    if (Number.isSafeInteger(entry.ts)) next.edited_ts = entry.ts;
    // The new text's group mention (an edit does not make the message unread: no `hereMe`).
    if (entry.group === "room" || entry.group === "here") next.group = entry.group;
    else delete next.group;
    // The user groups the new text names; whether one covers the person (usergroups.js
    // `stamp`): a live edit says; one read later keeps what the message said while it still
    // names some group.
    if (Array.isArray(entry.user_groups) && entry.user_groups.length) {
      next.user_groups = entry.user_groups;
      if (entry.groupsMe === true) next.groupsMe = true;
      else if (entry.groupsMe === false) delete next.groupsMe;
    } else {
      delete next.user_groups;
      delete next.groupsMe;
    }
    return withLists(next, message.reactions, cleanNames(entry.mentions));
  }
  if (entry.op === "preview") {
    // The message's link preview, made by the server or removed (docs/protocol.md "preview").
    const next = { ...message, rev: entry.seq };
    const preview = entry.removed === true ? null : previewOf(entry);
    if (preview) next.previews = [preview];
    else delete next.previews;
    return next;
  }
  if (entry.op === "voted" || entry.op === "poll_closed") return applyPoll(message, entry);
  if (entry.op === "pinned") {
    // Pinned to the room (by whom, when) or taken off its pins: a state, not a toggle, so an
    // entry seen twice or late leaves the message as the last one says.
    if (entry.on !== false && typeof entry.by !== "string") return null;
    const next = { ...message, rev: entry.seq };
    if (entry.on === false) delete next.pinned;
    else next.pinned = pinOf({ by: entry.by, ts: entry.ts, seq: entry.seq });
    return next;
  }
  // A reaction put (on) or taken back: the user is added last, or removed.
  if (typeof entry.emoji !== "string" || typeof entry.user !== "string") return null;
  const on = entry.on !== false;
  const reactions = (message.reactions || []).map((r) => ({ emoji: r.emoji, users: r.users }));
  const index = reactions.findIndex((r) => r.emoji === entry.emoji);
  if (on && index < 0) {
    reactions.push({ emoji: entry.emoji, users: [entry.user] });
  } else if (on && !reactions[index].users.some((u) => sameName(u, entry.user))) {
    reactions[index] = { emoji: entry.emoji, users: [...reactions[index].users, entry.user] };
  } else if (!on && index >= 0) {
    const users = reactions[index].users.filter((u) => !sameName(u, entry.user));
    if (users.length) reactions[index] = { emoji: entry.emoji, users };
    else reactions.splice(index, 1);
  }
  return withLists({ ...message, rev: entry.seq }, reactions, message.mentions);
}

/**
 * A poll's message after a `voted` entry (the voter's whole choice replaces their votes) or a
 * `poll_closed` one (polls.js). On a message that holds no poll (malformed), the entry only
 * moves its rev: it is seen.
 */
function applyPoll(message, entry) {
  const next = { ...message, rev: entry.seq };
  const poll = pollOf(message.poll);
  if (!poll) return next;
  if (entry.op === "poll_closed") {
    next.poll = closed(poll, entry.by, entry.ts);
  } else {
    if (typeof entry.user !== "string" || !Array.isArray(entry.options)) return null;
    next.poll = withVote(poll, entry.user, entry.options);
  }
  return next;
}

/**
 * A link preview as the page draws it, from a `preview` entry or an item of a message's
 * `previews`: {url, title, description, site, image: {id, width, height} | null}; null for
 * anything malformed (a title is needed, and a URL the page would link to: http or https).
 */
export function previewOf(preview) {
  if (!preview || typeof preview.url !== "string" || !/^https?:\/\//i.test(preview.url)
      || typeof preview.title !== "string" || !preview.title.trim()) return null;
  const text = (value) => (typeof value === "string" ? value : "");
  const image = preview.image;
  const pictured = image && Number.isSafeInteger(image.id) && Number.isSafeInteger(image.width)
    && Number.isSafeInteger(image.height) && image.width > 0 && image.height > 0;
  return { url: preview.url, title: preview.title, description: text(preview.description),
    site: text(preview.site),
    image: pictured ? { id: image.id, width: image.width, height: image.height } : null };
}

/** The preview a message shows now (the first of its `previews`), or null. */
export function previewFor(message) {
  if (message.deleted || !Array.isArray(message.previews)) return null;
  return previewOf(message.previews[0]);
}

/**
 * The words of group mentions, lower-cased, and the group each names (as the server reads
 * them: chatd.protocol.markup): "room" (every member) or "here" (the members online).
 */
export const GROUP_TOKENS = Object.freeze({ room: "room", all: "room", everyone: "room", here: "here" });

/**
 * Whether a message mentions `me`: its `mentions` (as the server found them) name `me`, or its
 * group mention covers `me` (groupMentions), or it names a user group of `me`'s (`groupsMe`,
 * stamped by state.js on a live message: usergroups.js `stamp`).
 */
export function mentions(message, me) {
  return !message.deleted && ((Array.isArray(message.mentions)
    && message.mentions.some((name) => sameName(name, me))) || groupMentions(message, me)
    || (message.groupsMe === true && !sameName(message.from, me)));
}

/**
 * Whether a message's group mention covers `me`: `group` "room" covers every member but the
 * sender; "here" the members online when it was sent, which the page knows only of a message
 * that came live after it connected (`hereMe`, set by state.js): for one read later, the room
 * object's `mentions`, counted by the server, say it.
 */
export function groupMentions(message, me) {
  if (message.deleted || sameName(message.from, me)) return false;
  return message.group === "room" || (message.group === "here" && message.hereMe === true);
}

/**
 * The root after a reply entry (threads.js `replyEntry`): one more reply, its time the last, its sender
 * first of the repliers (once, cut to REPLIERS_MAX), and the reply's seq its rev. Null when
 * the entry is not newer than the root (seen already: entries.js's rule).
 */
export function applyReply(root, entry) {
  if (!entry || entry.op !== "reply" || entry.msg_id !== root.msg_id
      || !Number.isSafeInteger(entry.seq) || entry.seq <= revOf(root)) return null;
  const held = repliesOf(root);
  const users = [entry.from, ...(held ? held.users : []).filter((u) => !sameName(u, entry.from))]
    .slice(0, REPLIERS_MAX);
  const replies = { count: (held ? held.count : 0) + 1,
    last_ts: entry.ts ?? (held ? held.last_ts : null), users };
  return { ...root, replies, rev: entry.seq };
}

/** A root's `replies` as kept ({count, last_ts, users}), or null when it has none. */
export function repliesOf(message) {
  const replies = message && message.replies;
  if (!replies || typeof replies !== "object" || !Number.isSafeInteger(replies.count)
      || replies.count <= 0) return null;
  return {
    count: replies.count,
    last_ts: Number.isFinite(replies.last_ts) ? replies.last_ts : null,
    users: Array.isArray(replies.users)
      ? replies.users.filter((u) => typeof u === "string").slice(0, REPLIERS_MAX) : [],
  };
}

/** Repliers a root's summary names at most (the server's `users`). */
export const REPLIERS_MAX = 5;

/** The quote the server would give for a message held: {from, text} or {deleted: true}. */
export function quoteOf(message) {
  if (message.deleted) return { deleted: true };
  return { from: message.from, text: [...message.text].slice(0, QUOTE_CHARS).join("") };
}

/** How many characters of the answered message a `quote` carries (docs/protocol.md). */
export const QUOTE_CHARS = 200;

// -- helpers ---------------------------------------------------------------------------------

/**
 * A message object's `pinned` {by, ts, seq?} as kept (`ts` null when not a number; `seq`, the
 * entry that pinned it, when known: the pins panel pages by it), or undefined.
 */
function pinOf(pinned) {
  if (!pinned || typeof pinned !== "object" || typeof pinned.by !== "string") return undefined;
  const kept = { by: pinned.by, ts: Number.isFinite(pinned.ts) ? pinned.ts : null };
  if (Number.isSafeInteger(pinned.seq)) kept.seq = pinned.seq;
  const same = Object.keys(pinned).length === Object.keys(kept).length
    && Object.entries(kept).every(([key, value]) => pinned[key] === value);
  return same ? pinned : kept;
}

function tombstone(message, rev) {
  const {
    reactions: _r, mentions: _m, edited_ts: _e, text: _t, files: _f, previews: _p, pinned: _n,
    poll: _o, forwarded: _w, ...rest
  } = message;
  return { ...rest, text: "", deleted: true, rev };
}

function withLists(message, reactions, mentions) {
  if (reactions && reactions.length) message.reactions = reactions;
  else delete message.reactions;
  if (mentions && mentions.length) message.mentions = mentions;
  else delete message.mentions;
  return message;
}

function cleanReactions(reactions) {
  if (reactions === undefined) return reactions;
  if (!Array.isArray(reactions)) return undefined;
  const ok = reactions.every((r) => r && typeof r.emoji === "string" && Array.isArray(r.users)
    && r.users.length && r.users.every((u) => typeof u === "string"));
  if (ok && reactions.length) return reactions;
  const kept = reactions
    .filter((r) => r && typeof r.emoji === "string" && Array.isArray(r.users))
    .map((r) => ({ emoji: r.emoji, users: r.users.filter((u) => typeof u === "string") }))
    .filter((r) => r.users.length);
  return kept.length ? kept : undefined;
}

function cleanNames(names) {
  if (names === undefined) return names;
  if (!Array.isArray(names)) return undefined;
  if (names.length && names.every((n) => typeof n === "string")) return names;
  const kept = names.filter((n) => typeof n === "string");
  return kept.length ? kept : undefined;
}

function sameName(a, b) {
  return typeof a === "string" && typeof b === "string" && a.toLowerCase() === b.toLowerCase();
}

// The outbox: messages this page has sent and the server has not acknowledged yet. Pure: no
// DOM, no I/O, no clock; every function returns a new outbox (an array of frozen entries) and
// leaves the one it was given alone, so the page can tell by identity when to save it.
//
// An entry keeps the nonce it was made with for its whole life. Each attempt sends the same
// request (`request(entry)`), so however many times it goes out (a retry, a resend after a
// reconnect, a reload of the page) the server stores it once (docs/protocol.md, "Idempotent
// sends"). An entry leaves the outbox when its ack or its own `message` event arrives.
//
// Statuses: "sending" (a request is in flight), "failed" (not sent yet: offline, or an error
// worth retrying; sent again after the next welcome), "rejected" (the server refused it for
// good, e.g. not a member: it stays on screen until the person retries or discards it).
//
// A poll (polls.js) is a send with a `poll` ({options, multiple}): kept and resent with its nonce
// as any send.
//
// Changes to messages (protocol v2: `edit`, `delete`, `react`, `pin`, and a poll's `vote` and
// `close_poll`) wait here too, as entries with a `change` ({op, msg_id, text | emoji, on |
// options}) and a local key in `nonce` (never sent: a
// change says the state it wants, so sending it again is safe without one; docs/protocol.md,
// "Resending is safe"). They are resent after a reconnect like sends. Once acknowledged a
// change is "acked" with the `seq` of its entry, and stays until that entry has been applied
// to the message (state.js), so that the page shows the change from the moment it is made to
// the moment it is in the message, never the old text in between. An acked change is never
// sent again, nor kept across a reload.

import { MAX_FILES } from "./files.js";

/** Codes after which a send is worth repeating (nothing was stored, or we cannot know). */
const RETRYABLE = new Set(["disconnected", "unavailable", "internal", "shutting_down"]);

export const OFFLINE_TEXT = "Offline: will be sent when the connection is back.";
export const RETRY_TEXT = "Not sent yet: will retry when the connection is back.";
export const RATE_TEXT = "Sending too fast: retrying in a moment.";

/**
 * A new entry: `to` (the peer's name, or a group's others) for a conversation, else null; `ts` in ms; `reply_to`
 * the msg_id of the message it answers, if any; `files` the file objects it carries (uploaded
 * already: the request names their ids), if any; `thread` the msg_id of the thread's root it
 * is a reply of, if any, and `broadcast` whether that reply is sent also to the room.
 */
export function entry({ nonce, room, to = null, text, ts, reply_to: replyTo = null,
  files = [], thread = null, broadcast = false, poll = null }) {
  return Object.freeze({ nonce, room, to: Array.isArray(to) ? Object.freeze([...to]) : to,
    text, ts, status: "sending", error: "",
    ...(Number.isSafeInteger(replyTo) ? { reply_to: replyTo } : {}),
    ...pollFields(poll),
    ...threadFields(thread, broadcast),
    ...(files.length ? { files: Object.freeze([...files]) } : {}) });
}

/** A reply's `thread` and `broadcast` as kept and sent (none for a message that is no reply). */
function threadFields(thread, broadcast) {
  if (!Number.isSafeInteger(thread)) return {};
  return broadcast === true ? { thread, broadcast: true } : { thread };
}

/** A send's `poll` as kept and sent ({poll: {options, multiple}}), none when it is no poll. */
function pollFields(poll) {
  if (!poll || !Array.isArray(poll.options)
      || !poll.options.every((option) => typeof option === "string")) return {};
  return { poll: Object.freeze({ options: Object.freeze([...poll.options]),
    multiple: poll.multiple === true }) };
}

const CHANGE_FIELDS = { edit: ["text"], delete: [], react: ["emoji", "on"], pin: ["on"],
  vote: ["options"], close_poll: [] };

/**
 * A change to message `msg_id` of `room`: `change` is {op: "edit", text} | {op: "delete"} |
 * {op: "react", emoji, on} | {op: "pin", on}. `key` identifies it here (it is not sent).
 */
export function change({ key, room, msgId, change: fields, ts }) {
  const kept = { op: fields.op, msg_id: msgId };
  for (const name of CHANGE_FIELDS[fields.op] || []) {
    kept[name] = Array.isArray(fields[name]) ? Object.freeze([...fields[name]]) : fields[name];
  }
  return Object.freeze({ nonce: key, room, to: null, text: "", ts, status: "sending", error: "",
    change: Object.freeze(kept) });
}

/** The change entry that a change request was sent for (the first one still waiting). */
export function findChange(outbox, asked) {
  const same = (item) => item.change && item.room === asked.room
    && item.change.op === asked.op && item.change.msg_id === asked.msg_id
    && (CHANGE_FIELDS[asked.op] || []).every((name) => alike(item.change[name], asked[name]));
  return outbox.find((item) => same(item) && item.status === "sending")
    || outbox.find((item) => same(item) && item.status !== "acked");
}

/** Two fields of a change alike: equal values, or arrays (a vote's options) of equal items. */
function alike(a, b) {
  if (!Array.isArray(a) || !Array.isArray(b)) return a === b;
  return a.length === b.length && a.every((value, index) => value === b[index]);
}

/** The entry with this nonce, or undefined. */
export function find(outbox, nonce) {
  return outbox.find((item) => item.nonce === nonce);
}

/** The outbox with `item` added last (sends keep the order they were made in). */
export function add(outbox, item) {
  return [...outbox, item];
}

/** The outbox without the entry of this nonce (the same array when there is none). */
export function drop(outbox, nonce) {
  return find(outbox, nonce) ? outbox.filter((item) => item.nonce !== nonce) : outbox;
}

/** The outbox with the entry of this nonce changed (e.g. {status, error}). */
export function update(outbox, nonce, changes) {
  if (!find(outbox, nonce)) return outbox;
  return outbox.map((item) => (item.nonce === nonce ? Object.freeze({ ...item, ...changes })
    : item));
}

/**
 * The outbox with the files `ids` taken out of the entry of this nonce (the server no longer
 * has them): it carries the others, or none.
 */
export function withoutFiles(outbox, nonce, ids) {
  const item = find(outbox, nonce);
  if (!item || !item.files || !item.files.some((file) => ids.includes(file.id))) return outbox;
  const { files, ...rest } = item;
  const kept = files.filter((file) => !ids.includes(file.id));
  return outbox.map((entry) => (entry.nonce === nonce
    ? Object.freeze({ ...rest, ...(kept.length ? { files: Object.freeze(kept) } : {}) })
    : entry));
}

/**
 * The request that sends an entry: `dm` to the peer (or a group's others, an array: the first
 * message of a group conversation creates it), or `send` to the room; same nonce. A
 * change is its own request (`edit`, `delete`, `react`, `pin`, `vote`, `close_poll`) on the
 * room.
 */
export function request(item) {
  if (item.change) return { ...item.change, room: item.room };
  const extra = {
    ...(item.reply_to !== undefined ? { reply_to: item.reply_to } : {}),
    ...threadFields(item.thread, item.broadcast),
    ...(item.files ? { files: item.files.map((file) => file.id) } : {}),
    ...(item.poll ? { poll: { options: [...item.poll.options], multiple: item.poll.multiple } }
      : {}),
  };
  return item.to
    ? { op: "dm", to: item.to, text: item.text, nonce: item.nonce, ...extra }
    : { op: "send", room: item.room, text: item.text, nonce: item.nonce, ...extra };
}

/** The entries to send again once connected, in the order they were made. */
export function toResend(outbox) {
  return outbox.filter((item) => item.status !== "rejected" && item.status !== "acked");
}

/** The connection dropped: what was in flight is now waiting for the next connection. */
export function offline(outbox) {
  if (!outbox.some((item) => item.status === "sending")) return outbox;
  return outbox.map((item) => (item.status === "sending"
    ? Object.freeze({ ...item, status: "failed", error: RETRY_TEXT }) : item));
}

/**
 * What a refused send becomes: {status, error, retryAfter}, `retryAfter` (ms) set when the
 * page should try again by itself while still connected.
 */
export function failure(error, online) {
  if (error.code === "rate_limited") {
    return { status: "failed", error: RATE_TEXT,
      retryAfter: Math.max(250, Number(error.retry_after) || 1000) };
  }
  if (RETRYABLE.has(error.code)) {
    const again = error.code !== "disconnected" && online;
    return { status: "failed", error: RETRY_TEXT, retryAfter: again ? 2000 : null };
  }
  return { status: "rejected", error: `Not sent: ${error.message || error.code}`,
    retryAfter: null };
}

/** Errors after which a dialog's request is sent again, unchanged, once online (outcome unknown). */
const RESEND = new Set(["disconnected", "shutting_down"]);

/** Whether a request refused with `error` is sent again, unchanged, once back online. */
export function resends(error) {
  return Boolean(error) && RESEND.has(error.code);
}

/**
 * Send `op` with `fields` through `ask(op, fields)` (a promise of the reply, rejected with
 * {code, message}) until answered, for a request a dialog waits on rather than an outbox
 * entry (`forward`, `remind`): a lost connection waits for `backOnline()` (a promise: true
 * once the page is online again, false when the person gave up) and sends the same fields
 * again. Resolves with the `ok` reply; rejects with the refusal, or with {code: "abandoned"}
 * and the message `unconfirmed`.
 */
export async function sendUntilAnswered(op, fields, { ask, backOnline, unconfirmed }) {
  for (;;) {
    try {
      return await ask(op, fields);
    } catch (error) {
      if (!resends(error)) throw error;
    }
    if (!(await backOnline())) {
      throw Object.assign(new Error(unconfirmed), { code: "abandoned" });
    }
  }
}

/** The outbox as saved (plain data). Acked changes are done: they are not saved. */
export function save(outbox) {
  return outbox.filter((item) => item.status !== "acked").map(({
    nonce, room, to, text, ts, status, error, reply_to: replyTo, change: fields, files, thread,
    broadcast, poll,
  }) => ({
    nonce, room, to, text, ts, status, error,
    ...(replyTo !== undefined ? { reply_to: replyTo } : {}),
    ...threadFields(thread, broadcast),
    ...(fields ? { change: fields.options ? { ...fields, options: [...fields.options] }
      : { ...fields } } : {}),
    ...(poll ? { poll: { options: [...poll.options], multiple: poll.multiple } } : {}),
    ...(files ? { files: files.map((file) => ({ ...file })) } : {}),
  }));
}

/** Saved file objects as kept: those with an id and a name, at most MAX_FILES. */
function restoredFiles(files) {
  if (!Array.isArray(files)) return [];
  return files.filter((file) => file && Number.isSafeInteger(file.id)
    && typeof file.name === "string").slice(0, MAX_FILES).map((file) => Object.freeze({ ...file }));
}

function restoredChange(fields) {
  if (!fields || !Object.hasOwn(CHANGE_FIELDS, fields.op) || !Number.isSafeInteger(fields.msg_id)) {
    return null;
  }
  if (fields.op === "edit" && typeof fields.text !== "string") return null;
  if (fields.op === "react" && (typeof fields.emoji !== "string"
      || typeof fields.on !== "boolean")) return null;
  if (fields.op === "pin" && typeof fields.on !== "boolean") return null;
  if (fields.op === "vote" && (!Array.isArray(fields.options)
      || !fields.options.every((i) => Number.isSafeInteger(i)))) return null;
  return fields;
}

/**
 * The outbox from saved data (anything malformed is left out). What was in flight when the
 * page closed may or may not have been stored: it is "failed", to be sent again (same nonce).
 */
export function restore(saved) {
  if (!Array.isArray(saved)) return [];
  return saved
    .filter((item) => item && typeof item.nonce === "string" && typeof item.room === "string"
      && typeof item.text === "string" && item.status !== "acked"
      && (item.change === undefined || restoredChange(item.change)))
    .map((item) => {
      if (item.change !== undefined) {
        return Object.freeze({ ...change({ key: item.nonce, room: item.room,
          msgId: item.change.msg_id, change: item.change, ts: Number(item.ts) || 0 }),
        status: "failed", error: RETRY_TEXT });
      }
      return Object.freeze({
        nonce: item.nonce,
        room: item.room,
        to: restoredTo(item.to),
        text: item.text,
        ts: Number(item.ts) || 0,
        status: item.status === "rejected" ? "rejected" : "failed",
        error: item.status === "rejected" ? String(item.error || "") : RETRY_TEXT,
        ...(Number.isSafeInteger(item.reply_to) ? { reply_to: item.reply_to } : {}),
        ...threadFields(item.thread, item.broadcast),
        ...pollFields(item.poll),
        ...(restoredFiles(item.files).length
          ? { files: Object.freeze(restoredFiles(item.files)) } : {}),
      });
    });
}

/** A kept `to`: a user name, or a group's others (an array of names), else null. */
function restoredTo(to) {
  if (typeof to === "string") return to;
  if (Array.isArray(to) && to.length && to.every((user) => typeof user === "string")) {
    return Object.freeze([...to]);
  }
  return null;
}

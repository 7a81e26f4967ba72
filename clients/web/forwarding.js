// Forwarding a message (Slack's "Share message", Mattermost's "Forward"), the pure part: the
// "Forward message" dialog's destination chooser, the `forward` request it sends, its resend
// after a lost reply, the words for a refusal and for the confirmation, and how a forwarded
// message's card reads its `forwarded` field (docs/protocol.md, "Forwarding"). No DOM, no I/O:
// tests/web/forwarding.test.mjs runs it under node.
//
// The destination is one room or conversation the page holds (`to_room`), or people (`to`, as
// `dm`'s: one name a 1:1, several a group conversation, created by the forward as `dm` creates
// it). Choosing a room replaces the people chosen, choosing a person replaces a room; people
// add up to the server's limit (conversations.js MAX_OTHERS).
//
// The nonce: one per dialog and request. The same request again (the same destination and
// comment: pressed again after a refusal, or sent again after the connection dropped before
// the reply) keeps it, so the server stores the forward once; another destination or comment
// takes a fresh one. A lost reply is sent again, unchanged, once the page is back online, as
// reminders.js does.

import {
  conversationLabel, isConversation, knownPeople, MAX_PEOPLE, nameLabel, othersOf, pick, sortNames,
} from "./conversations.js";
import { matchTier, typedOf } from "./matcher.js";
import { displayName } from "./profiles.js";
import { sameUser } from "./store.js";
import { sendUntilAnswered } from "./outbox.js";
import { MAX_TEXT_CHARS, textLength } from "./textlimit.js";

/** How many destinations the chooser lists at most. */
export const MOST_CHOICES = 8;

const USER = /^@?[A-Za-z0-9_.-]{1,32}$/;

/**
 * What a message forwards, from its `forwarded` field: {from, ts, text, room, seq} with `room`
 * and `seq` null unless both were given (a public source), or null for a message that forwards
 * nothing (or a deleted one: its forwarded words went with it).
 */
export function forwardedOf(message) {
  const held = message && !message.deleted ? message.forwarded : null;
  if (!held || typeof held !== "object" || typeof held.from !== "string") return null;
  const room = typeof held.room === "string" && held.room && Number.isSafeInteger(held.seq)
    && held.seq > 0 ? held.room : null;
  return {
    from: held.from,
    ts: Number.isFinite(held.ts) ? held.ts : null,
    text: typeof held.text === "string" ? held.text : "",
    room,
    seq: room === null ? null : held.seq,
  };
}

/**
 * What stands for a forward without a comment where one line of text is shown (a
 * notification's body, a reply's quote): "Forwarded: " and the forwarded text, as the server's
 * Web Push says it; "" for a message that forwards nothing.
 */
export function forwardedSummary(message) {
  const held = forwardedOf(message);
  return held ? `Forwarded: ${held.text}` : "";
}

/**
 * Whether the menu of a message offers "Forward…": a stored message (an id), not deleted nor
 * being deleted, not a poll (its votes belong to its room: the server refuses it).
 */
export function canForward(view) {
  return Boolean(view) && Number.isSafeInteger(view.message.msg_id) && !view.deleted
    && !view.deleting && !view.poll && !view.message.poll;
}

/** A dialog's forward of message `msgId` of room `room`: nothing chosen, nothing sent. */
export function newForward(room, msgId) {
  return { room, msgId, target: null, sent: null };
}

/**
 * The destinations offered for `query` (what is typed in the "To" box): the rooms and
 * conversations the page holds (not drafts, not archived), then the people it knows of
 * (conversations.js knownPeople), none with nothing typed. With a query, only those whose
 * names match it, as the quick switcher matches them (matcher.js: accents and case folded; a
 * name that starts with it, then a word of one that does, then one that holds it), best first
 * and in the order above within each tier; a room's name is its name, a conversation's the
 * display and login names of its others, a person's their display and login names. "#" before
 * it keeps to rooms, "@" leaves them out. When nothing matches, a user name typed is offered,
 * as a person (one the page has not heard of). Each is {kind: "room" | "conversation" |
 * "person", name (a room's name, a person's login), label}. What is chosen already is left
 * out; at most `most`.
 */
export function destinations(state, query, { target = null, most = MOST_CHOICES } = {}) {
  const raw = String(query || "").trim();
  const typed = typedOf(raw);
  const onlyRooms = raw.startsWith("#");
  const noRooms = raw.startsWith("@");
  const chosenRoom = target && target.room ? target.room : null;
  const people = target && target.people ? target.people : [];
  // {choice, names (what a query matches), order (rooms 0, conversations 1, people 2), key}
  const offered = [];
  for (const room of state.rooms.values()) {
    if (room.draft || room.archived || room.name === chosenRoom) continue;
    if (!isConversation(room)) {
      if (!noRooms) {
        offered.push({ choice: { kind: "room", name: room.name, label: `#${room.name}` },
          names: [room.name], order: 0, key: room.name });
      }
    } else if (!onlyRooms) {
      const others = othersOf(room, state.me);
      const label = conversationLabel(state.profiles, room, state.me, MAX_PEOPLE);
      offered.push({ choice: { kind: "conversation", name: room.name, label },
        names: [...others.map((user) => shownName(state.profiles, user)), ...others],
        order: 1, key: label });
    }
  }
  if (typed && !onlyRooms) {
    const taken = new Set([...people, state.me].map((user) => user.toLowerCase()));
    for (const user of knownPeople(state)) {
      if (taken.has(user.toLowerCase())) continue;
      offered.push({ choice: { kind: "person", name: user,
        label: personLabel(state.profiles, user) },
      names: [shownName(state.profiles, user), user], order: 2, key: user });
    }
  }
  const found = [];
  for (const one of offered) {
    const tier = typed ? matchTier(one.names, typed) : 0;
    if (tier !== null) found.push({ ...one, tier });
  }
  found.sort((a, b) => a.tier - b.tier || a.order - b.order || compare(a.key, b.key));
  const choices = found.map((one) => one.choice);
  if (!choices.length && typed && !onlyRooms && USER.test(raw)) {
    const bare = raw.replace(/^@/, "").toLowerCase();
    if (!sameUser(bare, state.me) && !people.some((user) => sameUser(user, bare))) {
      choices.push({ kind: "person", name: bare, label: bare });
    }
  }
  return choices.slice(0, most);
}

function compare(a, b) {
  return a.toLowerCase().localeCompare(b.toLowerCase());
}

function shownName(cache, user) {
  return cache ? displayName(cache, user) : user;
}

function personLabel(cache, user) {
  const shown = cache ? displayName(cache, user) : user;
  return shown === user ? user : `${shown} (${user})`;
}

/**
 * The destination after `choice` (one of `destinations`) is taken: {target, problem}. A room
 * or conversation is the whole destination ({room}); a person joins the people chosen
 * ({people}, replacing a room), unless they are the person themselves, chosen already, or
 * one too many (conversations.js `pick`: the old target and why not).
 */
export function choose(target, choice, me) {
  if (!choice) return { target, problem: null };
  if (choice.kind !== "person") return { target: { room: choice.name }, problem: null };
  const people = target && target.people ? target.people : [];
  const result = pick(people, choice.name, me);
  if (result.problem) return { target, problem: result.problem };
  return { target: { people: result.picked }, problem: null };
}

/** The destination without `name` (a person chosen, or the room chosen): null when empty. */
export function unchoose(target, name) {
  if (!target) return null;
  if (target.room) return target.room === name ? null : target;
  const people = target.people.filter((user) => !sameUser(user, name));
  return people.length ? { people } : null;
}

/**
 * The destination's words: "#design", "Bob" (a 1:1's other), "Bob, Carol" (a group's others,
 * by display name), or "" for none.
 */
export function targetLabel(state, target) {
  if (!target) return "";
  if (target.room) {
    const room = state.rooms.get(target.room);
    return room && isConversation(room)
      ? conversationLabel(state.profiles, room, state.me, MAX_PEOPLE)
      : nameLabel(target.room, state.me);
  }
  return sortNames(target.people.map((user) => (state.profiles
    ? displayName(state.profiles, user) : user))).join(", ");
}

/**
 * The `forward` request's fields for the dialog's destination and comment: {fields} (kept as
 * sent), or {problem} (a sentence; nothing sent). `fresh()` gives a new nonce, asked only
 * for another request than the last one sent; `max` is the message box's limit (the
 * server's `max_text_chars`), which the comment counts against in code points.
 */
export function forwardRequest(forward, { target, text = "", fresh, max = MAX_TEXT_CHARS }) {
  if (!target || (!target.room && !(target.people && target.people.length))) {
    return { problem: "Choose where to forward the message." };
  }
  const comment = typeof text === "string" ? text.trim() : "";
  const over = textLength(comment) - max;
  if (over > 0) {
    return { problem: `A comment holds at most ${max} characters: this one has ${over} too many.` };
  }
  const where = target.room ? { to_room: target.room }
    : { to: target.people.length === 1 ? target.people[0] : [...target.people] };
  const key = JSON.stringify([where, comment]);
  const nonce = forward.sent && forward.sent.key === key ? forward.sent.nonce : fresh();
  forward.sent = { key, nonce };
  return { fields: { room: forward.room, msg_id: forward.msgId, ...where,
    ...(comment ? { text: comment } : {}), nonce } };
}

/**
 * Send the `forward` request's `fields` until answered (outbox.js `sendUntilAnswered`: a lost
 * connection sends them again, unchanged, once `backOnline()`). Resolves with the `ok` reply;
 * rejects with the refusal, or with {code: "abandoned"}.
 */
export function sendForward(fields, { ask, backOnline }) {
  return sendUntilAnswered("forward", fields,
    { ask, backOnline, unconfirmed: "The forward was not confirmed." });
}

/** A sentence for a person about a refused `forward` (the dialog shows it, and stays). */
export function refusal(error) {
  const code = error && error.code;
  const message = error && typeof error.message === "string" ? error.message : "";
  if (code === "not_forwardable") {
    return "A poll cannot be forwarded: its votes belong to its room.";
  }
  if (code === "unknown_op") return "This server cannot forward messages.";
  if (code === "rate_limited") return "Sending too fast: wait a moment and try again.";
  if (code === "archived") return "That room is archived: nothing can be posted there.";
  if (code === "quota_exceeded") {
    return "Its files would take you past your quota of files: remove some of yours first.";
  }
  if (code === "forbidden") {
    return message ? `You cannot forward it there: ${message}`
      : "You cannot forward it there.";
  }
  if (code === "not_found") {
    return message ? `Not forwarded: ${message}` : "Not forwarded: no such message or place.";
  }
  return message ? `Not forwarded: ${message}` : "The message could not be forwarded.";
}

/**
 * What the confirmation says of the `ok` reply to a forward: {room (where it went), text
 * ("Forwarded to #design")}; `label` is the destination's words as the dialog showed them
 * (the room name the reply gives, as a name's label, without one).
 */
export function confirmation(reply, { label = "", me = null } = {}) {
  const room = reply && typeof reply.room === "string" ? reply.room : null;
  const words = label || (room ? nameLabel(room, me) : "");
  return { room, text: words ? `Forwarded to ${words}.` : "Forwarded." };
}

/**
 * Where a card's "in #general" leads: the room and seq of the source (a public room), or
 * null (a private source: nothing said of it).
 */
export function sourceOf(forwarded) {
  return forwarded && forwarded.room !== null ? { room: forwarded.room, seq: forwarded.seq }
    : null;
}

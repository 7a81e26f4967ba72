// Conversations, the pure part: a 1:1 conversation (kind "dm", `@ann:bob`) and a group
// conversation (kind "group", `@ann:bob:carol`, 3 to 8 people) are both rooms named by their
// people (docs/protocol.md, "Names" → "Conversations"). What is true of both — private, no
// owner, no topic, nobody leaves, invites or is kicked, listed under "Direct messages",
// started by `dm` — asks `isConversation`; what only a 1:1 has (one peer, its presence dot,
// no "mentions only" level) asks `room.kind === "dm"`. No DOM, no I/O:
// tests/web/conversations.test.mjs runs it under node.
//
// The name is the set of people: their names in lower case, sorted by code point, joined by
// ":" after "@", whoever starts it, so the page finds a conversation it holds again from the
// people picked, in any order or case (`conversationName`). A label names it by the others
// only, by their display names when the page knows them, sorted ignoring case, cut after
// LABEL_NAMES with "+N" ("Bob, Carol +3").

import { displayName } from "./profiles.js";
import { matchTier, typedOf } from "./matcher.js";

export const MAX_PEOPLE = 8; // a conversation's most people, its starter included
export const MAX_OTHERS = MAX_PEOPLE - 1; // the most a person picks
export const LABEL_NAMES = 3; // names a label says before "+N"

const USER = /^[A-Za-z0-9_.-]{1,32}$/;

/** Whether `room` is a conversation (1:1 or group), not a room. */
export function isConversation(room) {
  return Boolean(room) && (room.kind === "dm" || room.kind === "group");
}

/** Whether `room` is a group conversation (3 to 8 people). */
export function isGroup(room) {
  return Boolean(room) && room.kind === "group";
}

/** The kind a room name says: "dm" (`@a:b`), "group" (`@a:b:c`…) or "room". */
export function kindOfName(name) {
  if (typeof name !== "string" || !name.startsWith("@")) return "room";
  return name.split(":").length > 2 ? "group" : "dm";
}

/** The people a conversation's name holds, in lower case, in the name's order. */
export function namePeople(name) {
  return typeof name === "string" && name.startsWith("@") ? name.slice(1).split(":") : [];
}

/**
 * The canonical name of the conversation of `me` and `users` (user names, any case, repeats and
 * `me` folded away): "@ann:ann" for none, "@ann:bob" for one, "@ann:bob:carol" for more; null
 * past MAX_PEOPLE in all or for a string that is no user name.
 */
export function conversationName(me, users) {
  const all = [me, ...users];
  if (!all.every((user) => typeof user === "string" && USER.test(user))) return null;
  const people = [...new Set(all.map((user) => user.toLowerCase()))];
  if (people.length > MAX_PEOPLE) return null;
  if (people.length === 1) people.push(people[0]); // notes to self
  return `@${people.sort(byCodePoint).join(":")}`;
}

function byCodePoint(a, b) {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The other people of conversation `room` as `me` sees them: its `peers` (a group's, as the
 * server registered them), its `peer` (a 1:1's), else the names its name holds but `me`
 * (lower case). [] for a room; [me] for notes to self.
 */
export function othersOf(room, me) {
  if (!isConversation(room)) return [];
  if (room.kind === "group" && Array.isArray(room.peers) && room.peers.length) {
    return [...room.peers];
  }
  if (room.kind === "dm" && room.peer) return [room.peer];
  const people = namePeople(room.name);
  const mine = typeof me === "string" ? me.toLowerCase() : null;
  const others = people.filter((user) => user !== mine);
  if (others.length) return room.kind === "dm" ? [others[0]] : others;
  return people.length ? [people[0]] : [];
}

/**
 * What `dm`'s `to` is for a message to `room`: the peer for a 1:1 (as always), the others for a
 * group still a draft (its first message creates it); null: `send` to the room's name (a room,
 * or a group that exists).
 */
export function sendTo(room, me) {
  if (!isConversation(room)) return null;
  const others = othersOf(room, me);
  if (room.kind === "group") return room.draft ? others : null;
  return others[0] || null;
}

/** Names sorted as a label lists them: ignoring case. */
export function sortNames(names) {
  return [...names].sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase()));
}

/** "Bob, Carol, Dan" or, past `most` names, "Bob, Carol, Dan +2". */
export function cutList(names, most = LABEL_NAMES) {
  if (names.length <= most) return names.join(", ");
  return `${names.slice(0, most).join(", ")} +${names.length - most}`;
}

/** "Bob", "Bob and Carol", "Bob, Carol and Dan". */
export function andList(names) {
  if (names.length <= 1) return names.join("");
  return `${names.slice(0, -1).join(", ")} and ${names[names.length - 1]}`;
}

/**
 * The others of `room` by their display names (profiles `cache`, or login names without one),
 * sorted ignoring case.
 */
export function othersShown(cache, room, me) {
  return sortNames(othersOf(room, me).map((user) => (cache ? displayName(cache, user) : user)));
}

/** A conversation's label: its others' display names, sorted and cut ("Bob, Carol +3"). */
export function conversationLabel(cache, room, me, most = LABEL_NAMES) {
  return cutList(othersShown(cache, room, me), most);
}

/**
 * A room the page may not hold, by its name: "#general", the other one of "@a:b", the others
 * of "@a:b:c" ("b, c"). `me` is the person's name.
 */
export function nameLabel(name, me) {
  if (typeof name !== "string" || !name.startsWith("@")) return `#${name}`;
  const people = namePeople(name);
  const mine = typeof me === "string" ? me.toLowerCase() : null;
  const others = people.filter((user) => user !== mine);
  if (!others.length) return people[0] || name;
  return people.length > 2 ? cutList(others) : others[0];
}

/**
 * A group as a notification of `sender`'s message names it, as the server's pushes do: the
 * people in it but the sender, by display name, the person last as "you" ("ann in Carol
 * Danvers & you", chatd/webpush.py).
 */
export function alertPlace(cache, room, me, sender) {
  const others = othersOf(room, me).filter((user) => typeof sender !== "string"
    || user.toLowerCase() !== sender.toLowerCase());
  const names = [...sortNames(others.map((user) => (cache ? displayName(cache, user) : user))),
    "you"];
  return names.length > 1 ? `${names.slice(0, -1).join(", ")} & you` : "you";
}

/** The line at the start of a conversation: "your conversation with Bob, Carol and Dan". */
export function startLine(cache, room, me) {
  return `your conversation with ${andList(othersShown(cache, room, me))}`;
}

/**
 * The people picked to start a conversation with (the "New message" dialog's chips): `picked`
 * plus `user`, unless it is `me`, already there (any case), no user name, or one too many.
 * Returns {picked, problem}: the new list, or the old one and why not.
 */
export function pick(picked, user, me) {
  const name = typeof user === "string" ? user.trim().replace(/^@/, "") : "";
  if (!USER.test(name)) return { picked, problem: "That is not a user name." };
  if (typeof me === "string" && name.toLowerCase() === me.toLowerCase()) {
    return { picked, problem: "You are in the conversation already." };
  }
  if (picked.some((one) => one.toLowerCase() === name.toLowerCase())) {
    return { picked, problem: null };
  }
  if (picked.length >= MAX_OTHERS) {
    return { picked, problem: `A conversation has at most ${MAX_PEOPLE} people.` };
  }
  return { picked: [...picked, name], problem: null };
}

/**
 * The completions for `query` among `known` people (contacts, members of the rooms, names the
 * profiles hold): by login or display name as the quick switcher and the forward dialog match
 * (matcher.js: case and accents folded, so "zoe" finds "Zoë"; a leading "@" ignored), not `me`,
 * not picked already, at most `most`: a name that starts with what is typed first, then one
 * with a word that does, then one that holds it, each sorted ignoring case.
 */
export function pickSuggestions(known, query, { me, picked = [], cache = null, most = 6 } = {}) {
  const typed = typedOf(query);
  const taken = new Set([...picked, me].filter(Boolean).map((user) => user.toLowerCase()));
  const seen = new Set();
  const found = [];
  for (const user of known) {
    const key = typeof user === "string" ? user.toLowerCase() : null;
    if (!key || taken.has(key) || seen.has(key)) continue;
    seen.add(key);
    const tier = typed ? matchTier([user, cache ? displayName(cache, user) : user], typed) : 0;
    if (tier !== null) found.push({ user, tier });
  }
  return found.sort((a, b) => a.tier - b.tier
    || a.user.toLowerCase().localeCompare(b.user.toLowerCase()))
    .slice(0, most).map((one) => one.user);
}

/**
 * The person a name typed in the picker (`query`) stands for, given its suggestions (`found`,
 * as `pickSuggestions` gives them): the one that is that login, else the only one when it
 * starts with what is typed or has a word that does, else the name as typed (a login the page
 * does not know: one that merely holds it, "sally" for "al", is not taken for it). Null when
 * nothing is typed.
 */
export function typedPerson(found, query, cache = null) {
  const raw = String(query ?? "").trim().replace(/^@/, "");
  if (!raw) return null;
  const exact = found.find((user) => user.toLowerCase() === raw.toLowerCase());
  if (exact) return exact;
  const only = found.length === 1 ? found[0] : null;
  const tier = only ? matchTier([only, cache ? displayName(cache, only) : only], typedOf(raw))
    : null;
  return tier !== null && tier <= 1 ? only : raw;
}

/**
 * The people the page knows of, to complete names in the "New message" dialog: contacts, the
 * others of the conversations, the members listed of the rooms held, and the profiles heard of
 * (names as registered, each once whatever its case).
 */
export function knownPeople(state) {
  const people = new Map();
  const add = (user) => {
    if (typeof user === "string" && !people.has(user.toLowerCase())) {
      people.set(user.toLowerCase(), user);
    }
  };
  for (const user of state.contacts || []) add(user);
  for (const room of state.rooms.values()) {
    if (room.kind === "dm" && room.peer) add(room.peer);
    if (room.kind === "group" && !room.draft) for (const user of room.peers || []) add(user);
    for (const member of room.members || []) add(member.user);
  }
  for (const entry of state.profiles ? state.profiles.known.values() : []) add(entry.user);
  return [...people.values()];
}

// What the page tells a person about new messages: a desktop notification, a sound, and the
// unread count in the tab's title. Pure, like state.js: no DOM, no I/O, no clock (time is an
// argument). state.js asks `alertFor` about every new `message` event and hands what it gives
// to the controller as an `alert` effect; notifier.js shows it.
//
// Theory of operation
// -------------------
// Every membership has a notification level, kept by the server so that every device of the
// person follows it (`set_notify`, the room objects' `notify`, the `notify` event):
//
//   "all"       every message by someone else
//   "mentions"  messages that mention the person as @name (or by a group, or contain one of
//               their notification keywords: keywords.js); in a 1:1 conversation every
//               message is addressed to the person, so it counts as a mention there (its menu
//               offers only "all" and "none"); in a group conversation, as in a room
//   "none"      muted: nothing, not even a mention (the mention still shows as the room's "@"
//               badge and in the title's count, as Slack and Mattermost do)
//
// A room the server has not told the level of has the default for its kind: "all" for a
// conversation (1:1 or group), "mentions" for a room. A group's message at "all" alerts as a
// direct message does (kind "dm", the title naming its people); at "mentions", only one that
// names the person (kind "mention"), as the server's pushes do (docs/protocol.md).
//
// A message alerts when it is new to the page, after the read marker (not read on another
// device already), by someone else, not deleted, wanted at the room's level, not older than
// STALE_MS by its server time (a page coming back after hours replays what it missed as
// events: rather than a notification each for hours-old news, state.js counts those and tells
// once per room what it missed, as missed.js tells the rooms it does not replay), and the
// person is not
// looking at its room: the tab hidden, the window not focused, or another room open. Then a desktop notification if the person turned them on and the browser
// allows them, and a sound if the sound is on (both local settings of this browser, in
// localStorage, per user). Every tab of the person's in this browser gets the message, but one
// alert is told in all (`alertKey` names it), and none while another tab shows its room to the
// person: tabs.js decides which tab tells it, if any. A notification told goes once the person
// has seen its room: looked at in any tab (tabs.js `toClose`), or read up to its message on
// any connection (`readUpTo`).
//
// Do not disturb: the person may pause every alert, on every device, for a while (a meeting,
// the night), without changing any room's level: `set_dnd`, kept by the server (the welcome's
// `user.dnd_until`, the `dnd` event; `state.dndUntil`, ms on the server's clock, or null). While
// `paused`, no notification and no sound (nor does the server push); the counts, badges and
// the title go on as ever. It ends by itself at its time, by the server's clock as the page
// reckons it (clock.js): state.js sets a timer to draw the end, but the comparison with `now`
// is what decides, so a timer late or early changes nothing. What came during the pause is
// not told after it (Slack and Mattermost do the same): the counts say it.
//
// The title counts unread messages: every room's, the open room's too while the tab is hidden
// (nobody is reading it then), except a muted room's, of which only the mentions count. A
// "*" after the count says that some of it is a direct message or a mention.

import { mentions } from "./entries.js";
import { hits } from "./keywords.js";
import { displayName } from "./profiles.js";
import { pollSummary } from "./polls.js";
import { forwardedSummary } from "./forwarding.js";
import { excerpt, filesSummary } from "./select-messages.js";
import { sameUser } from "./store.js";
import { mentionsMe } from "./usergroups.js";
import { alertPlace, conversationLabel, isConversation, nameLabel } from "./conversations.js";

/** The notification levels, as the server names them. */
export const LEVELS = Object.freeze(["all", "mentions", "none"]);
/** A message older than this (by its `ts`, ms) is not notified: it was missed, not new. */
export const STALE_MS = 5 * 60_000;
/** How much of a message's text a notification shows. */
export const BODY_CHARS = 100;
/** Sounds are played at most this often (ms): a burst of messages rings once. */
export const SOUND_GAP_MS = 1500;
const APP = "chatd";

/** The longest pause the server takes (`set_dnd`), ms: a week. */
export const MAX_PAUSE_MS = 7 * 24 * 3600_000;
/** The pauses offered first, as `set_dnd` durations (seconds: the server's clock counts). */
export const PAUSES = Object.freeze([
  { label: "30 minutes", duration: 30 * 60 },
  { label: "1 hour", duration: 3600 },
  { label: "2 hours", duration: 2 * 3600 },
]);
/** "Until tomorrow" is until this hour, local time. */
export const MORNING_HOUR = 8;

/** Whether `value` is a notification level. */
export function isLevel(value) {
  return LEVELS.includes(value);
}

/** The level of a room the server has not told the level of: by its kind (a conversation's: all). */
export function defaultLevel(kind) {
  return kind === "dm" || kind === "group" ? "all" : "mentions";
}

/** A room's notification level. */
export function levelOf(room) {
  return isLevel(room.notify) ? room.notify : defaultLevel(room.kind);
}

/** The levels a person may choose for a room: a 1:1 has no "mentions only" (a group has). */
export function levelsFor(room) {
  return room.kind === "dm" ? ["all", "none"] : [...LEVELS];
}

/** How a level is named in menus. */
export function levelLabel(level) {
  return { all: "All messages", mentions: "Mentions only", none: "Muted" }[level] || level;
}

/**
 * What a message is to `me`: "dm" (in a 1:1; in a group, one that does not mention them),
 * "mention" or "message". A group at "all" alerts every message as a direct message; at
 * "mentions", only those naming the person (docs/protocol.md, "Alerts"). A message with one
 * of the person's notification keywords (`keywords`: the state's, keywords.js) is a mention.
 */
export function kindOf(room, message, me, keywords = null) {
  if (room.kind === "dm") return "dm";
  if (mentions(message, me)
      || hits(keywords, message, sameUser(message.from, me)).length) return "mention";
  return room.kind === "group" ? "dm" : "message";
}

/**
 * Whether a message of `kind` alerts at `level` (a 1:1's "dm" at "mentions", a level its menu
 * does not offer, still does, as before groups).
 */
export function wanted(level, kind, group = false) {
  return level === "all" || (level === "mentions" && (kind === "mention"
    || (kind === "dm" && !group)));
}

/** The page's alert settings: {desktop, sound, permission} (see `restoreSettings`). */
export function defaultSettings(permission = "default") {
  return { desktop: permission === "granted", sound: true, permission: cleanPermission(permission) };
}

/**
 * The settings kept in localStorage ({desktop, sound}; anything else is dropped) with the
 * browser's permission now ("default", "granted", "denied" or "unsupported"). Desktop
 * notifications stay off until the person turns them on; a browser that already allows them
 * (allowed in an earlier session) has them on unless the person turned them off here.
 */
export function restoreSettings(saved, permission) {
  const settings = defaultSettings(permission);
  if (saved && typeof saved === "object" && !Array.isArray(saved)) {
    if (typeof saved.desktop === "boolean") settings.desktop = saved.desktop;
    if (typeof saved.sound === "boolean") settings.sound = saved.sound;
  }
  return settings;
}

/** The settings as kept in localStorage. */
export function saveSettings(settings) {
  return { desktop: Boolean(settings.desktop), sound: Boolean(settings.sound) };
}

function cleanPermission(value) {
  return ["default", "granted", "denied", "unsupported"].includes(value) ? value : "default";
}

/** Whether desktop notifications are shown now (turned on, and allowed by the browser). */
export function desktopOn(settings) {
  return Boolean(settings.desktop) && settings.permission === "granted";
}

/** Whether the person is looking at room `name` now. */
export function looking(state, name) {
  return state.visible && state.focused !== false && state.current === name;
}

/**
 * What an alert is known by across the tabs of the page (tabs.js): room `room`'s message `seq`
 * (or its last, for what it missed: missed.js `awayAlert`).
 */
export function alertKey(room, seq) {
  return `${room}#${seq}`;
}

/** Whether the person's notifications are paused at `now` (ms, server's clock): `set_dnd`. */
export function paused(state, now) {
  return Number.isSafeInteger(state.dndUntil) && now < state.dndUntil;
}

/** A pause's end as the server said it (ms), or null for anything else (none, resumed). */
export function pauseOf(value) {
  return Number.isSafeInteger(value) && value > 0 ? value : null;
}

/**
 * Tomorrow at `hour`:00, local time, after the instant `now` (ms, the server's clock): an
 * instant, so the person's own clock being wrong does not move it.
 */
export function tomorrowAt(now, hour = MORNING_HOUR) {
  const today = new Date(now);
  return new Date(today.getFullYear(), today.getMonth(), today.getDate() + 1, hour, 0, 0, 0)
    .getTime();
}

/**
 * The end of a custom pause from a datetime-local input's value ("2026-12-07T14:30", local
 * time) at `now`, or null when it is no time, not ahead, or further than MAX_PAUSE_MS.
 */
export function customUntil(value, now) {
  if (typeof value !== "string" || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/.test(value)) {
    return null;
  }
  const until = new Date(value).getTime();
  if (!Number.isFinite(until) || until <= now || until > now + MAX_PAUSE_MS) return null;
  return until;
}

const pad = (n) => String(n).padStart(2, "0");
const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

/**
 * When a pause ends, as the page says it at `now` (both ms), local time: "until 14:30" today,
 * "until tomorrow 08:00", "until Wed 08:00" within the week.
 */
export function pauseText(until, now) {
  const end = new Date(until);
  const time = `${pad(end.getHours())}:${pad(end.getMinutes())}`;
  const day = (at) => {
    const d = new Date(at);
    return new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
  };
  const days = Math.round((day(until) - day(now)) / (24 * 3600_000));
  if (days <= 0) return `until ${time}`;
  if (days === 1) return `until tomorrow ${time}`;
  return `until ${DAYS[end.getDay()]} ${time}`;
}

/**
 * What to tell the person about `message`, new in `room` at `now` (ms), or null (none while
 * their notifications are `paused`):
 * {room, msgId, seq, key, kind, title, body, tag, desktop, sound}. `key`: `alertKey`;
 * `desktop`: show a notification; `sound`: play the sound (at least one of them is true).
 */
export function alertFor(state, room, message, now) {
  if (late(message, now) || paused(state, now)) return null;
  const kind = alertKind(state, room, message);
  if (kind === null) return null;
  const settings = state.alerts || defaultSettings();
  const desktop = desktopOn(settings);
  const sound = Boolean(settings.sound);
  if (!desktop && !sound) return null;
  return {
    room: room.name,
    msgId: Number.isSafeInteger(message.msg_id) ? message.msg_id : null,
    seq: message.seq,
    key: alertKey(room.name, message.seq),
    kind,
    // The author by their display name, when the page knows it (profiles.js).
    title: titleOf(state, room, message),
    body: bodyOf(message),
    tag: `chatd:${room.name}`,
    desktop,
    sound,
  };
}

/**
 * A notification's title: "Bob in #general", "Bob" in a 1:1, "Bob in Carol & you" in a group
 * (its people but Bob by their display names, conversations.js `alertPlace`); a thread's reply says so ("Bob replied in a thread in
 * #general").
 */
function titleOf(state, room, message) {
  const who = displayName(state.profiles, message.from);
  const where = room.kind === "dm" ? ""
    : room.kind === "group" ? ` in ${alertPlace(state.profiles, room, state.me, message.from)}`
      : ` in ${roomLabel(room)}`;
  return Number.isSafeInteger(message.thread) ? `${who} replied in a thread${where}`
    : `${who}${where}`;
}

/**
 * What kind of alert `message`, new in `room`, is worth ("mention", "dm" or "message"), whatever
 * its age, or null: none for a message read or deleted already, one's own, one the room's level
 * does not want, or one of the room looked at.
 */
export function alertKind(state, room, message) {
  if (!room || !message || message.deleted || typeof message.from !== "string") return null;
  if (sameUser(message.from, state.me) || message.seq <= room.readSeq) return null;
  const kind = kindOf(room, message, state.me, state.keywords);
  if (!wanted(levelOf(room), kind, room.kind === "group") || looking(state, room.name)) return null;
  return kind;
}

/** Whether `message` is older than STALE_MS at `now` by its server time: missed, not new. */
export function late(message, now) {
  return Boolean(message) && Number.isFinite(message.ts) && now - message.ts > STALE_MS;
}

/**
 * A notification's text: the message as plain text, cut to BODY_CHARS, or its files; a poll's
 * says so ("📊 Poll: question", as the server's push does); a forward without a comment says
 * "Forwarded: " and the forwarded text (forwarding.js), as the server's push does.
 */
export function bodyOf(message) {
  const text = typeof message.text === "string" ? excerpt(message.text, BODY_CHARS) : "";
  if (text && message.poll && !message.deleted) return excerpt(pollSummary(message), BODY_CHARS);
  return text || excerpt(forwardedSummary(message), BODY_CHARS) || filesSummary(message)
    || "New message";
}

/**
 * Whether a notification that told of message `seq` is read once the read marker is at
 * `marker` (a notification of no known seq is: its room was read).
 */
export function readUpTo(seq, marker) {
  return !Number.isSafeInteger(seq) || seq <= marker;
}

/** Whether a sound may play at `now` when the last one played at `last` (ms, or null). */
export function soundDue(last, now) {
  return last === null || now - last >= SOUND_GAP_MS || now < last;
}

/**
 * The room's "@" count: the unread messages that mention the person. The server counts those
 * that name them or a group of theirs (`room.mentions`, kept by store.js); to them are added
 * the unread messages the page holds that do neither but hold one of the person's
 * notification keywords (`keywordMentions`), which the server does not count.
 */
export function mentionCount(state, room) {
  return room.mentions + keywordMentions(state, room);
}

/**
 * How many of the room's unread messages the page holds are mentions only by a notification
 * keyword (keywords.js `hits`): by someone else, not deleted, after the read marker, naming
 * neither the person nor a group of theirs (counted by the server already; an "@here" read
 * later too, which the server may have counted). None where a keyword does nothing: a muted
 * room, and a 1:1 (whose every message is to the person already; docs/protocol.md). Only
 * the messages held are known: a room not opened since a reload counts those that came
 * since. At most the unread messages the mentions leave.
 */
export function keywordMentions(state, room) {
  const keywords = state.keywords;
  if (!keywords || !Array.isArray(keywords.list) || !keywords.list.length || room.unread <= 0
      || room.kind === "dm" || levelOf(room) === "none") return 0;
  const key = [room.version, room.readSeq, room.counted, keywords.list, state.me,
    state.userGroups ? state.userGroups.version : 0];
  const held = counted.get(room);
  if (held && held.key.every((part, i) => part === key[i])) return held.count;
  let count = 0;
  for (const message of room.messages.values()) {
    if (message.seq <= room.readSeq || message.seq > room.counted
        || !room.counts(message, state.me) || mentions(message, state.me)
        || message.group === "here"
        || (state.userGroups && mentionsMe(state.userGroups, message, state.me))) continue;
    if (hits(keywords, message, sameUser(message.from, state.me)).length) count += 1;
  }
  counted.set(room, { key, count });
  return Math.min(count, Math.max(0, room.unread - room.mentions));
}

const counted = new WeakMap(); // room -> {key, count}: keywordMentions as last worked out

/**
 * The title's count: {count, urgent}. `count` is the unread messages (see the top of the
 * file); `urgent` whether some are direct messages or mention the person (a notification
 * keyword's too: `mentionCount`).
 */
export function titleCount(state) {
  let count = 0;
  let urgent = false;
  for (const room of state.rooms.values()) {
    if (room.name === state.current && state.visible) continue;
    const level = levelOf(room);
    if (level === "none") {
      if (room.kind !== "dm") count += room.mentions;
      urgent = urgent || (room.kind !== "dm" && room.mentions > 0);
    } else {
      count += room.unread;
      // (A conversation's every message is for the person, unless they asked for mentions only.)
      urgent = urgent || (isConversation(room) && level === "all" ? room.unread > 0
        : mentionCount(state, room) > 0);
    }
  }
  return { count, urgent };
}

/** A room as the title and notifications name it: "#general", "🔒 plans", or the others. */
export function roomLabel(room) {
  if (isConversation(room)) return room.label;
  return room.private ? `🔒 ${room.name}` : `#${room.name}`;
}

/**
 * Room `name` as the lists of messages (search, Threads, Saved, Scheduled) name where each is:
 * "#general", "🔒 plans", a 1:1's peer and a group's others by their display names ("Bob,
 * Carol"), or, for a room the page does not hold, what its name says (conversations.js).
 */
export function placeLabel(state, name) {
  const room = state.rooms.get(name);
  if (!room) return nameLabel(name, state.me);
  if (room.kind === "dm") return displayName(state.profiles, room.label);
  if (room.kind === "group") return conversationLabel(state.profiles, room, state.me);
  return roomLabel(room);
}

/** The tab's title: "(3) #general · chatd", "(2*) Bob · chatd", or "chatd". */
export function titleText(state) {
  const { count, urgent } = titleCount(state);
  const room = state.current === null ? null : state.rooms.get(state.current);
  const name = room ? `${placeLabel(state, room.name)} · ${APP}` : APP;
  if (!count) return name;
  return `(${count > 999 ? "999+" : count}${urgent ? "*" : ""}) ${name}`;
}

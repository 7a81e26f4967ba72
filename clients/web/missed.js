// What a person missed while the page was away (offline, asleep, closed): the mentions and
// direct messages that came, while nobody was connected, in rooms whose messages the page does
// not replay. Pure, like alerts.js: no DOM, no I/O, no clock.
//
// Theory of operation
// -------------------
// A page that comes back replays (hello `resume`) only the rooms it opened; their missed
// messages come again as events and alert one by one (alerts.js `alertFor`), or, older than
// alerts.STALE_MS, are counted and told once per room in the same words as here (state.js
// `alertsFor`, with `awayAlert`). Every other room
// comes back as its room object only (`last_seq`, `read_seq`, `unread`, `mentions`): nothing
// of it is replayed, and nothing would alert. Fetching each such room's history to find out
// would cost a request per room; the counts are enough, as the sidebars of Zulip, Mattermost
// and Campfire show what was missed from the server's unread counts, not from the messages.
//
// So the page remembers, per room, what it last saw of it: {seq, read, mentions, unread} (its
// last seq, read marker and counts then). `remember` takes them from the rooms the state
// describes; controller.js keeps them in localStorage (per user), so that a reload, or the
// next day's visit, compares with what the page saw last. A room object then says what is
// new since (`news`):
//
// - nothing when its `last_seq` is not past the seq seen;
// - when its read marker is at or past the seq seen, all its unread messages came after it:
//   its counts are all new;
// - else the unread among those seen are at most the counts seen, plus one for each entry
//   the marker moved back over (an `unread` on another device: docs/protocol.md), so the
//   counts above them are new (a lower bound: never an alert for nothing).
//
// A room the page never saw (joined, invited or written to while away) counts whole; but a
// page with nothing remembered at all (the first visit in this browser) has missed nothing:
// the badges show the counts, as they always do.
//
// What is new alerts once per room (`awayAlert`), by the rules of alerts.js: the room's level
// must want it (a mention, a direct message, or any message at "all"), nobody is looking at the
// room, and the person's settings say how (desktop notification, sound). Its notification,
// tagged per room as a live one (and a push) is, opens the room. Mentions and direct messages
// are what the server pushes to a person with no open connection: a browser subscribed to
// pushes was told of them by those, and the page does not ring for them again. `awayText`
// says it all in one line, in the page, for everyone.

import {
  alertKey, defaultSettings, desktopOn, levelOf, looking, paused, roomLabel, wanted,
} from "./alerts.js";

/** The most rooms remembered (those of the highest seqs: a bound, not an order of use). */
export const SEEN_MAX = 2000;
const NOTHING = Object.freeze({ seq: 0, read: 0, mentions: 0, unread: 0 });
const isCount = (value) => Number.isSafeInteger(value) && value >= 0;

/** What the page sees now of a room (store.js Room). */
export function seenOf(room) {
  return { seq: room.lastSeq, read: room.readSeq, mentions: room.mentions, unread: room.unread };
}

/**
 * What the page has seen of each room: `state.seen` (remembered earlier, or null when nothing
 * is), with every room the state describes now (its room object applied) taken as it is now.
 * Null while nothing is remembered and nothing is described.
 */
export function remember(state) {
  const rooms = [...state.rooms.values()].filter((room) => room.described && !room.draft);
  if (state.seen === null && !rooms.length) return null;
  const seen = new Map(state.seen || []);
  for (const room of rooms) seen.set(room.name, seenOf(room));
  return seen;
}

/**
 * What is new in room object `info` since `before` (what the page saw of the room; undefined:
 * a room it never saw): {mentions, unread}, or null when nothing is.
 */
export function news(before, info) {
  if (!info || !isCount(info.last_seq) || !isCount(info.unread)) return null;
  const seen = before || NOTHING;
  if (info.last_seq <= seen.seq) return null;
  const read = isCount(info.read_seq) ? info.read_seq : 0;
  const mentioned = isCount(info.mentions) ? info.mentions : 0;
  const all = read >= seen.seq;
  // Marked unread elsewhere: what it moved back over was seen, and may count again now.
  const back = Math.max(0, Math.min(seen.read, seen.seq) - read);
  const found = {
    mentions: all ? mentioned : Math.max(0, mentioned - seen.mentions - back),
    unread: all ? info.unread : Math.max(0, info.unread - seen.unread - back),
  };
  return found.unread > 0 || found.mentions > 0 ? found : null;
}

/** What of `found` (`news`) room `room` tells of, at its level: {kind, count}, or null. */
export function missedOf(room, found) {
  if (!found) return null;
  const level = levelOf(room);
  if (room.kind === "dm" || (room.kind === "group" && level === "all")) {
    return found.unread && wanted(level, "dm") ? { kind: "dm", count: found.unread } : null;
  }
  if (found.mentions && wanted(level, "mention")) return { kind: "mention", count: found.mentions };
  if (found.unread && wanted(level, "message")) return { kind: "message", count: found.unread };
  return null;
}

const plural = (count, one, many) => `${count} ${count === 1 ? one : many}`;

/**
 * The alert for what room `room` missed (`missedOf`), as alerts.js `alertFor` gives one for a
 * message (no msgId or seq: its notification opens the room), or null; none while the
 * person's notifications are paused at `now` (alerts.js `paused`).
 */
export function awayAlert(state, room, missed, now) {
  if (!missed || looking(state, room.name) || paused(state, now)) return null;
  const settings = state.alerts || defaultSettings();
  // The server pushes mentions and direct messages to a person with no open connection: a
  // browser subscribed to them (`pushed`) was told of those, or is being told as it wakes up,
  // so they do not ring a second time here (the line still says them).
  if (settings.pushed && missed.kind !== "message") return null;
  const desktop = desktopOn(settings);
  const sound = Boolean(settings.sound);
  if (!desktop && !sound) return null;
  const what = missed.kind === "mention" ? plural(missed.count, "mention", "mentions")
    : plural(missed.count, "new message", "new messages");
  return {
    room: room.name,
    msgId: null,
    seq: null,
    // Known by the room's last message, as its live alert is: a tab that told of that message
    // as it came, and one that comes back to find it missed, tell of it once (tabs.js).
    key: alertKey(room.name, room.lastSeq),
    kind: missed.kind,
    title: roomLabel(room),
    body: `${what} while you were away`,
    tag: `chatd:${room.name}`,
    desktop,
    sound,
  };
}

/** The line that tells what was missed: [{room, missed}] → "While you were away: …". */
export function awayText(items) {
  const parts = items.map(({ room, missed }) => {
    if (missed.kind === "dm") {
      return `${plural(missed.count, "message", "messages")} ${room.kind === "group" ? "in"
        : "from"} ${room.label}`;
    }
    const what = missed.kind === "mention" ? plural(missed.count, "mention", "mentions")
      : plural(missed.count, "message", "messages");
    return `${what} in ${roomLabel(room)}`;
  });
  return parts.length ? `While you were away: ${parts.join(", ")}.` : "";
}

/** `seen` as kept in localStorage: {room: [seq, read, mentions, unread]}, SEEN_MAX at most. */
export function saveSeen(seen) {
  const rooms = [...seen].sort((a, b) => b[1].seq - a[1].seq).slice(0, SEEN_MAX);
  return Object.fromEntries(rooms.map(([name, s]) => [name, [s.seq, s.read, s.mentions,
    s.unread]]));
}

/** What localStorage kept (`saveSeen`), checked: a Map, or null when nothing usable is. */
export function restoreSeen(saved) {
  if (!saved || typeof saved !== "object" || Array.isArray(saved)) return null;
  const seen = new Map();
  for (const [name, value] of Object.entries(saved)) {
    if (!Array.isArray(value) || value.length !== 4 || !value.every(isCount)) continue;
    const [seq, read, mentions, unread] = value;
    seen.set(name, { seq, read, mentions, unread });
  }
  return seen;
}

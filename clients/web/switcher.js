// The quick switcher ("Jump to…", Ctrl+K), the pure half: what it can open and in which order.
// No DOM: view-switcher.js draws `rank(candidates(state), query)` and opens what is chosen.
//
// What it lists: the rooms and conversations the page holds (a conversation not started yet,
// a draft, is not one), and the people the page knows of (conversations.js knownPeople) that
// have no 1:1 conversation here yet: choosing one starts it, as "New direct message" does.
// A closed conversation (hiding.js: out of the sidebar) is listed only for a query, after the
// open ones, as Slack does; choosing it starts it again (state.js `openAgain`).
//
// The order, with an empty box: what mentions the person, then what has unread messages, then
// what was opened most recently (Room.opened), then by name; the people last. With a query,
// only what matches, by how well (matcher.js, as the "Forward message" dialog: accents and case
// folded, a leading "#" or "@" ignored; a name that starts with it, then a word of a name that
// does, then a name that holds it anywhere); within each, the same order as with an empty box.
// A name is the room's name, the display names and login names of a conversation's others, a
// person's display and login names.

import { mentionCount } from "./alerts.js";
import { conversationLabel, knownPeople, othersOf } from "./conversations.js";
import { isShown } from "./hiding.js";
import { fold, matchTier, typedOf } from "./matcher.js";
import { displayName } from "./profiles.js";
import { badge } from "./select.js";
import { sameUser } from "./store.js";

export const MOST = 8; // how many the list shows

/** Apple's platforms, where the switcher's key is Command (⌘): a Mac, an iPad or iPhone. */
const APPLE = /^(mac|iphone|ipad|ipod)/i;

/**
 * The hint on the "Jump to…" button for the platform of `nav` (the page's `navigator`):
 * "⌘K" on a Mac (or an iPad or iPhone with a keyboard), else "Ctrl K". The platform is
 * `userAgentData.platform` ("macOS") where the browser has it, else `platform` ("MacIntel").
 */
export function shortcutHint(nav) {
  const platform = nav?.userAgentData?.platform || nav?.platform || "";
  return APPLE.test(String(platform)) ? "⌘K" : "Ctrl K";
}

/**
 * What the switcher can open, from the state: {key, kind: "room" | "dm" | "group" | "person",
 * room (its name; null for a person), user (the other one of a 1:1 or a person; else null),
 * label (as the sidebar names it), names (what a query matches), private, unread (the
 * sidebar's count: 0 for the room open), mentions, opened, closed (a conversation the sidebar
 * leaves out: hiding.js)}.
 */
export function candidates(state) {
  const items = [];
  const talkedTo = new Set();
  for (const room of state.rooms.values()) {
    if (room.draft) continue;
    const count = badge(state, room) ? room.unread : 0;
    const common = { key: `r:${room.name}`, room: room.name, private: room.private,
      unread: count, mentions: count ? mentionCount(state, room) : 0,
      opened: room.opened || 0, closed: !isShown(room, state.current) };
    if (room.kind === "dm") {
      const peer = othersOf(room, state.me)[0] || room.label;
      talkedTo.add(peer.toLowerCase());
      const label = displayName(state.profiles, peer);
      items.push({ ...common, kind: "dm", user: peer, label, names: [label, peer] });
    } else if (room.kind === "group") {
      const others = othersOf(room, state.me);
      items.push({ ...common, kind: "group", user: null,
        label: conversationLabel(state.profiles, room, state.me),
        names: [...others.map((user) => displayName(state.profiles, user)), ...others] });
    } else {
      items.push({ ...common, kind: "room", user: null, label: room.name, names: [room.name] });
    }
  }
  for (const user of knownPeople(state)) {
    if (sameUser(user, state.me) || talkedTo.has(user.toLowerCase())) continue;
    const label = displayName(state.profiles, user);
    items.push({ key: `p:${user.toLowerCase()}`, kind: "person", room: null, user, label,
      names: [label, user], private: true, unread: 0, mentions: 0, opened: 0,
      closed: false });
  }
  return items;
}

/**
 * The `most` candidates to show for `query`, best first (see the top of the file). Pure: the
 * same items and query give the same list.
 */
export function rank(items, query, most = MOST) {
  const typed = typedOf(query);
  const scored = [];
  for (const item of items) {
    if (!typed && item.closed) continue;
    const tier = typed ? matchTier(item.names, typed) : item.kind === "person" ? 1 : 0;
    if (tier !== null) scored.push({ item, tier, label: fold(item.label) });
  }
  scored.sort((a, b) => Number(a.item.closed === true) - Number(b.item.closed === true)
    || a.tier - b.tier
    || urgency(b.item) - urgency(a.item)
    || b.item.opened - a.item.opened
    || (a.label < b.label ? -1 : a.label > b.label ? 1 : 0)
    || (a.item.key < b.item.key ? -1 : a.item.key > b.item.key ? 1 : 0));
  return scored.slice(0, most).map(({ item }) => item);
}

/** 2: mentions the person; 1: unread messages; 0: nothing new. */
function urgency(item) {
  return item.mentions > 0 ? 2 : item.unread > 0 ? 1 : 0;
}

// Favourites, the pure part (docs/protocol.md `favourite`): the rooms and conversations the
// person starred, shown together in a "Favourites" section at the top of the sidebar (Slack's
// Starred, Mattermost's Favorites) and not again in their usual section. The mark is the
// person's, per membership, kept by the server: the room object's `favourite`, the `favourite`
// reply, and the `favourite` event that tells the person's other connections.
//
// Starring is applied here at once (`room.favourite`, `mark`), and the mark the server last gave
// is kept apart (`room.favouriteConfirmed`): once no request of this page is on its way, that is
// the one shown (`answered`), so a refusal puts it back. The server takes a person's requests in
// order: while one of this page's is on its way, a room object or another device's event
// (`confirm`) changes what the server holds but not what is shown, since the reply to come
// says the last word. No flicker when the person stars and unstars quickly.
//
// A starred conversation stays in Favourites even when it is closed (hiding.js: by another
// device, or the terminal's /close): the section lists every favourite, and the page offers
// no "Close conversation" for one (it would leave the list the person asked to see it in).
// Unstarred, it is back to its usual section's rules.
//
// The order: the server keeps when each was marked (the room object's `favourite_at`, ms) and
// the section lists them in that order, the last marked last, as Slack and Mattermost do; one
// without it (an older server, or starred here and not answered yet) comes after those with
// it, and among themselves as the sidebar sorts elsewhere (by label, ignoring case). No DOM, no
// I/O: tests/web/favourites.test.mjs.

import { isConversation } from "./conversations.js";

/** The mark a room object carries: its `favourite` (absent: not a favourite). */
export function markOf(info) {
  return Boolean(info) && info.favourite === true;
}

/** When it was marked, from a room object or event (`favourite_at`, ms), or null. */
export function markedAtOf(info) {
  const at = info ? info.favourite_at : undefined;
  return Number.isSafeInteger(at) && at >= 0 ? at : null;
}

/**
 * Whether `room` is one of the person's favourites, listed in Favourites and not in its usual
 * section (a draft is not on the server yet).
 */
export function isFavourite(room) {
  return Boolean(room) && !room.draft && room.favourite === true;
}

/** Whether `room` may be starred or unstarred: one the server holds. */
export function canStar(room) {
  return Boolean(room) && !room.draft;
}

/**
 * The server's word on `room`'s mark (a room object, or an event: another device's change, or
 * this page's own before its reply): the mark it holds now, and the one a refusal puts back;
 * `at` is when it was marked (null: not said). While a change of this page's is on its way,
 * what is shown stays: the server takes a person's requests in order, so the reply to come
 * says the last word.
 */
export function confirm(room, on, at = null) {
  room.favouriteConfirmed = on;
  if (!on) room.favouriteAt = null;
  else if (at !== null) room.favouriteAt = at;
  if (!room.favouritePending) room.favourite = on;
}

/**
 * Star (`on`) or unstar `room` here, before the server answers (its `favourite` request is on
 * its way until `answered`). Returns whether to ask: not for a draft, nor when it is so already.
 */
export function mark(room, on) {
  if (!canStar(room) || room.favourite === on) return false;
  room.favourite = on;
  room.favouritePending = (room.favouritePending || 0) + 1;
  return true;
}

/**
 * The server answered one of this page's requests: its mark (`on`), or null for a refusal.
 * Once none is on its way, the mark the server last gave is the one shown: the last request's,
 * or the one before a refused last request. (The reply says no time: the `favourite` event,
 * which reaches this connection too, before the reply, does.)
 */
export function answered(room, on) {
  room.favouritePending = Math.max(0, (room.favouritePending || 0) - 1);
  if (on !== null) {
    room.favouriteConfirmed = on;
    if (!on) room.favouriteAt = null;
  }
  if (!room.favouritePending) room.favourite = room.favouriteConfirmed;
}

/** Whether "Close conversation" is kept from `room`: a starred conversation stays listed. */
export function keptOpen(room) {
  return isConversation(room) && isFavourite(room);
}

/**
 * The Favourites section, in order: those marked with a known time by it (the last marked
 * last), then the others by label ignoring case (as the sidebar sorts elsewhere); ties by
 * name, so two pages list them alike.
 */
export function favouriteRooms(rooms) {
  return [...rooms].filter(isFavourite).sort(byOrder);
}

function byOrder(a, b) {
  const at = a.favouriteAt ?? null;
  const bt = b.favouriteAt ?? null;
  if (at !== null && bt !== null && at !== bt) return at - bt;
  if ((at === null) !== (bt === null)) return at === null ? 1 : -1;
  const byLabel = a.label.toLowerCase().localeCompare(b.label.toLowerCase());
  return byLabel || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

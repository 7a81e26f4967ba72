// Closing a conversation, the pure part ("Close conversation", docs/protocol.md `hide`): a 1:1
// or group conversation that is over leaves the sidebar without being left, and comes back by
// itself when someone writes in it again. The person's closing is a marker per member, as the
// read marker is: `hidden_seq`, the room's `last_seq` when it was closed (null: not closed).
// Whether the sidebar lists a conversation is decided by comparing the two, so nothing on the
// send path changes anything: a message (anyone's, the person's own included) moves the room's
// `last_seq` past the marker and it shows again, with its unread badge; the server never
// clears the marker by itself and the page leaves it as it is then.
//
// A conversation is shown when it has no marker, when something came after it, or while it is
// the open room (`isShown`). The `hidden` event of every device and the `hide` reply set the
// marker (`hiddenSeqOf` reads it from a frame or a room object); closing the open
// conversation opens another room. Starting a closed conversation again from "New direct
// message" (or a contact) clears the marker (`hide` on:false), so it stays listed once the
// person moves on, as in Slack and Mattermost. No DOM, no I/O: tests/web/hiding.test.mjs.

import { isConversation } from "./conversations.js";
import { isFavourite, keptOpen } from "./favourites.js";

/** The marker a frame or room object carries: its `hidden_seq`, null when absent or bad. */
export function hiddenSeqOf(info) {
  const seq = info ? info.hidden_seq : undefined;
  return Number.isSafeInteger(seq) && seq >= 0 ? seq : null;
}

/** Whether `room` is closed and nothing came since: its marker is at or past its last seq. */
export function isClosed(room) {
  return isConversation(room) && !room.draft && room.hiddenSeq !== null
    && room.hiddenSeq !== undefined && !(room.lastSeq > room.hiddenSeq);
}

/**
 * Whether the sidebar lists `room` when `current` is the open room's name: a room always; a
 * conversation unless it is closed with nothing new, or while it is open; a favourite always
 * (in Favourites: favourites.js).
 */
export function isShown(room, current) {
  return !isClosed(room) || room.name === current || isFavourite(room);
}

/**
 * Whether "Close conversation" applies to `room`: a conversation that exists, shown now, and
 * not a favourite (starred, it stays listed: favourites.js).
 */
export function canClose(room) {
  return isConversation(room) && !room.draft && !isClosed(room) && !keptOpen(room);
}

/**
 * Set `room`'s marker to `seq` (a `hidden` event, the `hide` reply, or the page's own guess
 * before the reply). Returns whether it changed.
 */
export function setHidden(room, seq) {
  const next = Number.isSafeInteger(seq) && seq >= 0 ? seq : null;
  if ((room.hiddenSeq ?? null) === next) return false;
  room.hiddenSeq = next;
  return true;
}

/**
 * Whether opening `room` from "New direct message" (or a contact) starts it again: it is closed
 * (with nothing new since), so its marker is cleared on the server too.
 */
export function reopens(room) {
  return isClosed(room);
}

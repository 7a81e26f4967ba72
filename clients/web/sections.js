// Custom sidebar sections, the pure part (docs/protocol.md, "Sections"): the person's own named
// sections of the sidebar (Slack's custom sections, Mattermost's categories), in their order,
// each collapsed or not, and which of them each room or conversation is in. The server keeps
// them, the same on every device: the welcome's `sections` (the list, in order) and the room
// objects' `section` (its id, null: the usual Rooms or Direct messages list); the `sections`
// event says the whole list after any change to it, the `section` event a room's move.
//
// Two kinds of change, as favourites.js does each (read it first):
// - The list (`state.sections`): collapsing a section and moving it up or down are shown at
//   once (`change`), and the list the server last gave is kept apart (`confirmed`): once no
//   request of this page's is on its way (`pending`), that is the list shown, so a refusal
//   puts it back, and a list from another device (`confirmList`) changes what is shown only
//   then, since the reply to come says the last word. Creating, renaming and deleting one go
//   through a dialog that waits for the server (a name taken is said there): their list comes
//   as any other.
// - A room's section (`room.section` shown, `room.sectionConfirmed` the server's,
//   `room.sectionPending` this page's moves not answered): "Move to…" shows it there at once
//   (`place`), the server's word (`confirmRoom`, `roomAnswered`) as for a favourite.
//
// A section the server's list no longer has (deleted here or on another device) takes its
// rooms back to their usual list, as the server does in the same transaction: a room whose
// section is not in the list shown is listed as if it had none (`placeOf`).
//
// What a section lists: its rooms and conversations together, by label ignoring case (as the
// sidebar sorts elsewhere); a favourite only in Favourites (favourites.js: moved into a section,
// as the server allows, it shows there once unstarred, and a toast says so), a closed
// conversation as its usual list would (hiding.js). A collapsed section still lists those
// with something unread and the open one (`collapsedShows`), as Slack's does. No DOM, no I/O:
// tests/web/sections.test.mjs and sections-property.test.mjs.

import { isConversation } from "./conversations.js";

/** The longest name the server takes (code points, trimmed). */
export const MAX_NAME = 40;

/** The sections as the page holds them: none, until a welcome says the server keeps them. */
export function emptySections() {
  return {
    supported: false, // the welcome carried `sections`: this server keeps them
    shown: [], // [{id, name, collapsed}], in order, as the sidebar draws them
    confirmed: [], // the list the server last gave
    pending: 0, // this page's requests changing the list, not answered yet
  };
}

/** The usual list of `room`, as the sidebar heads it (where it is when in no section). */
export function usualList(room) {
  return isConversation(room) ? "Direct messages" : "Rooms";
}

/**
 * What moving a favourite says (the sidebar shows no move): the server keeps it a favourite,
 * listed in Favourites, and in `place` (a section's name, or its usual list), where it shows
 * once it is not a favourite any more (docs/protocol.md `set_section`). `label` names it.
 */
export function favouriteMoved(label, place) {
  return `${label} is in ${place} now: it shows there once you remove it from Favourites.`;
}

/**
 * What an expanded section that lists nothing says: how to fill it, or, when it holds only
 * favourites (`favourites` of them), that they show in Favourites.
 */
export function emptyText(favourites) {
  if (!favourites) return "Empty: “Move to…” in a room's menu moves it here";
  return favourites === 1 ? "Its favourite shows in Favourites"
    : `Its ${favourites} favourites show in Favourites`;
}

/**
 * What deleting a section does, in words, as the server does it (docs/protocol.md
 * `delete_section`: every room it holds goes back to its usual list): `rooms` how many rooms
 * and conversations it holds that are not favourites (a closed conversation too: back in
 * Direct messages, closed), `favourites` how many favourites (listed in Favourites, not in
 * the section: they stay there, and once unstarred show in their usual list).
 */
export function deleteText(rooms, favourites = 0) {
  const said = [];
  if (rooms === 1) said.push("Its room or conversation goes back to Rooms and Direct messages.");
  else if (rooms) said.push(`Its ${rooms} rooms and conversations go back to Rooms and Direct messages.`);
  if (favourites === 1) {
    said.push("Its favourite stays in Favourites; removed from Favourites, it shows in Rooms "
      + "or Direct messages.");
  } else if (favourites) {
    said.push(`Its ${favourites} favourites stay in Favourites; removed from Favourites, they `
      + "show in Rooms and Direct messages.");
  }
  return said.length ? said.join(" ") : "It holds no room or conversation.";
}

/** A section id as the server gives it: a non-negative integer (or a non-empty string). */
export function isId(value) {
  return (Number.isSafeInteger(value) && value >= 0)
    || (typeof value === "string" && value.length > 0);
}

/** One section of a frame ({id, name, collapsed}), or null when it is not one. */
function sectionOf(raw) {
  if (!raw || typeof raw !== "object" || !isId(raw.id) || typeof raw.name !== "string") {
    return null;
  }
  return { id: raw.id, name: raw.name, collapsed: raw.collapsed === true };
}

/** The list a frame carries (its `sections`, each one checked), or null when it has none. */
export function listOf(frame) {
  const raw = frame ? frame.sections : undefined;
  if (!Array.isArray(raw)) return null;
  const seen = new Set();
  const list = [];
  for (const one of raw) {
    const section = sectionOf(one);
    if (section && !seen.has(section.id)) {
      seen.add(section.id);
      list.push(section);
    }
  }
  return list;
}

/** The section a room object or `section` event names: its id, or null (the usual list). */
export function sectionIdOf(info) {
  const id = info ? info.section : undefined;
  return isId(id) ? id : null;
}

/** The id of the section a `create_section` reply says it made (its `section`), or null. */
export function createdId(reply) {
  const made = reply ? reply.section : undefined;
  if (made && typeof made === "object") return isId(made.id) ? made.id : null;
  return isId(made) ? made : null;
}

/** The section `id` of `list`, or null. */
export function find(list, id) {
  return list.find((section) => section.id === id) || null;
}

/** The section of `list` named `name` (trimmed, ignoring case, as the server compares), or null. */
export function named(list, name) {
  const key = foldName(name);
  return list.find((section) => foldName(section.name) === key) || null;
}

function foldName(name) {
  return String(name).trim().toLowerCase();
}

/**
 * What is wrong with `name` as a new name for a section (null: nothing): empty, too long, or
 * the name of another of the person's sections (`except`: the one being renamed).
 */
export function nameProblem(list, name, except = null) {
  const trimmed = String(name).trim();
  if (!trimmed) return "Give the section a name.";
  if ([...trimmed].length > MAX_NAME) {
    return `A section's name is at most ${MAX_NAME} characters (this one has ${
      [...trimmed].length}).`;
  }
  const taken = named(list, trimmed);
  if (taken && taken.id !== except) return `You have a section called ${taken.name} already.`;
  return null;
}

// -- the list ---------------------------------------------------------------------------------

/**
 * The server's list (a welcome, the `sections` event, a reply): the one a refusal puts back,
 * and the one shown when none of this page's changes is on its way. Returns the ids it no
 * longer has that it had (deleted: their rooms go back to their usual lists).
 */
export function confirmList(sections, list) {
  const kept = new Set(list.map((section) => section.id));
  const gone = sections.confirmed.filter((section) => !kept.has(section.id))
    .map((section) => section.id);
  sections.confirmed = list;
  if (!sections.pending) sections.shown = list;
  return gone;
}

/** A welcome: whether the server keeps sections, and its list. Returns as `confirmList`. */
export function welcomed(sections, frame) {
  const list = listOf(frame);
  sections.supported = list !== null;
  return confirmList(sections, list || []);
}

/**
 * Collapse (or expand) section `id` here, before the server answers. Returns whether to ask:
 * not for a section not shown, nor when it is so already.
 */
export function collapse(sections, id, collapsed) {
  const section = find(sections.shown, id);
  if (!section || section.collapsed === collapsed) return false;
  change(sections, (list) => list.map((one) => (one.id === id ? { ...one, collapsed } : one)));
  return true;
}

/**
 * Move section `id` by `by` places (-1 up, +1 down) here, before the server answers. Returns
 * its new position (0 first) to ask for, or null when it cannot move so.
 */
export function shift(sections, id, by) {
  const from = sections.shown.findIndex((section) => section.id === id);
  const to = from + by;
  if (from < 0 || to < 0 || to >= sections.shown.length || by === 0) return null;
  change(sections, (list) => {
    const moved = [...list];
    const [section] = moved.splice(from, 1);
    moved.splice(to, 0, section);
    return moved;
  });
  return to;
}

/** Whether section `id` can move by `by` places (the menu's Move up / Move down). */
export function canShift(sections, id, by) {
  const from = sections.shown.findIndex((section) => section.id === id);
  return from >= 0 && from + by >= 0 && from + by < sections.shown.length;
}

function change(sections, edit) {
  sections.shown = edit(sections.shown);
  sections.pending += 1;
}

/**
 * The server answered one of this page's changes to the list (`asked`: {section, collapsed?,
 * position?}): with its list (`list`), or with none (null). A refusal (`refused`) changes
 * nothing the server holds; a reply without the list took the change asked (the event before
 * it may have said so already: the same list). Once none is on its way, the list the server
 * last gave is the one shown. Returns as `confirmList`.
 */
export function listAnswered(sections, asked, list, refused = false) {
  sections.pending = Math.max(0, sections.pending - 1);
  const gone = refused ? [] : confirmList(sections, list || edited(sections.confirmed, asked));
  if (!sections.pending) sections.shown = sections.confirmed;
  return gone;
}

/** `list` with the change `asked` made to one of its sections (collapsed, and/or moved). */
function edited(list, asked) {
  const from = list.findIndex((section) => section.id === asked.section);
  if (from < 0) return list;
  const moved = [...list];
  const [section] = moved.splice(from, 1);
  const to = Number.isSafeInteger(asked.position)
    ? Math.min(Math.max(0, asked.position), moved.length) : from;
  moved.splice(to, 0, typeof asked.collapsed === "boolean"
    ? { ...section, collapsed: asked.collapsed } : section);
  return moved;
}

// -- a room's section -------------------------------------------------------------------------

/**
 * The server's word on `room`'s section (a room object, or the `section` event): the one a
 * refusal puts back, and the one shown once this page's moves are answered.
 */
export function confirmRoom(room, id) {
  room.sectionConfirmed = id;
  if (!room.sectionPending) room.section = id;
}

/**
 * Move `room` into section `id` (null: back to its usual list) here, before the server
 * answers. Returns whether to ask: not for a draft, nor where it is already.
 */
export function place(room, id) {
  if (!room || room.draft || room.section === id) return false;
  room.section = id;
  room.sectionPending = (room.sectionPending || 0) + 1;
  return true;
}

/**
 * The server answered one of this page's moves of `room`: `reply` is {section} (where the
 * server has it now) or null for a refusal. Once none is on its way, the server's is shown.
 */
export function roomAnswered(room, reply) {
  room.sectionPending = Math.max(0, (room.sectionPending || 0) - 1);
  if (reply) room.sectionConfirmed = reply.section;
  if (!room.sectionPending) room.section = room.sectionConfirmed;
}

/** Sections `gone` (deleted) no longer hold any room: their rooms are back in their lists. */
export function emptied(rooms, gone) {
  if (!gone.length) return;
  const ids = new Set(gone);
  for (const room of rooms) {
    if (ids.has(room.sectionConfirmed)) confirmRoom(room, null);
  }
}

/**
 * The section `room` is listed in: its section when the list shown has it, else null (its
 * usual list).
 */
export function placeOf(sections, room) {
  const id = room.section ?? null;
  return id !== null && find(sections.shown, id) ? id : null;
}

/**
 * Whether a collapsed section still lists `room`: it has something unread (`unread`: the
 * sidebar shows a badge for it), or it is the open room.
 */
export function collapsedShows(room, { current, unread }) {
  return room.name === current || unread;
}

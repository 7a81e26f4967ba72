// Drafts: what was typed in a room's message box and not sent yet, one per room. Switching
// rooms shows the new room's own draft, so a half-typed message stays with its room and Enter
// never sends it into another one. Pure, like state.js: `state.drafts` is a Map (room -> text)
// replaced, not changed in place, on every change, so the controller sees that it changed and
// saves it (localStorage, per user: a reload keeps the drafts).
//
// Theory of operation: what a reload keeps
// ----------------------------------------
// A room's box holds its text and the files attached there (state.uploads, uploads.js). Both
// are saved together, one entry per room (`saveDrafts`):
//
//   "text"                                  text only (as drafts were always saved)
//   {text, files, unfinished: {tab, names}} with attachments: `files` the file objects of
//                                           those uploaded (the server keeps an upload no
//                                           message attached for `files.unattached_seconds`,
//                                           a day by default), `unfinished` the names of
//                                           those not uploaded yet, and the tab they are
//                                           uploading in
//
// After a reload (`restoreBoxes`) the uploaded files are back in the box, done, ready to go
// with the next message (uploads.js `restored`). The others cannot come back (their bytes were
// the page's): they are `lost`, for the controller to tell the person once, unless the tab
// that uploads them is still open (another tab of the same person: its uploads go on). A
// restored file may have expired on the server meanwhile: the send naming it is refused
// (`not_found`), and state.js then sends the message without it and says which file to attach
// again. Saved file objects hold the server's plain urls (for the Bearer token), never signed
// links, so nothing in them expires; the page asks for signed links to draw a thumbnail, as
// it does for the files of messages (links.js).
//
// What is stored is bounded (DRAFTS_MAX rooms, MAX_FILES files a room) and read back
// defensively: anything malformed in it is dropped, and junk gives empty boxes, never an
// exception.

import { cleanFile, MAX_FILES, MAX_NAME } from "./files.js";
import { restored } from "./uploads.js";

export const DRAFTS_MAX = 200; // drafts kept, the most recently typed ones

/** The draft of `room` ("" when there is none). */
export function draftOf(state, room) {
  return (state.drafts && room !== null && state.drafts.get(room)) || "";
}

/** The box of `room` now holds `text` (typed, or "" once sent). A reducer: returns effects. */
export function setDraft(state, room, text) {
  if (typeof room !== "string" || typeof text !== "string") return [];
  if (draftOf(state, room) === text) return [];
  const drafts = new Map(state.drafts || []);
  drafts.delete(room); // re-added last: the Map's order is the order of typing
  if (text !== "") drafts.set(room, text);
  while (drafts.size > DRAFTS_MAX) drafts.delete(drafts.keys().next().value);
  state.drafts = drafts;
  return [];
}

/**
 * The boxes as a JSON-able object, to store: each room's draft (`drafts`, room -> text) with
 * its attachments (`uploads`, the state's list, uploads.js), those not uploaded yet noted as
 * uploading in tab `tab`. The most recent DRAFTS_MAX rooms: by typing, and a room with only
 * files after those (it was attached to lately).
 */
export function saveDrafts(drafts, uploads = [], tab = null) {
  const boxes = new Map();
  for (const [room, text] of drafts || []) boxes.set(room, { text, files: [], names: [] });
  for (const item of uploads) {
    if (!boxes.has(item.room)) boxes.set(item.room, { text: "", files: [], names: [] });
    const box = boxes.get(item.room);
    if (item.status === "done" && item.file) box.files.push({ ...item.file });
    else box.names.push(item.name);
  }
  const saved = [...boxes].slice(-DRAFTS_MAX).map(([room, { text, files, names }]) => {
    if (!files.length && !names.length) return [room, text];
    return [room, {
      ...(text ? { text } : {}),
      ...(files.length ? { files } : {}),
      ...(names.length ? { unfinished: { tab, names } } : {}),
    }];
  });
  return Object.fromEntries(saved);
}

/**
 * The boxes from what `saveDrafts` stored (anything else in it is dropped): {drafts (room ->
 * text), uploads (the restored files, uploads.js entries), lost ([{room, names, tab}]: what
 * had not finished uploading, in tab `tab` or null)}. Junk gives empty boxes.
 */
export function restoreBoxes(saved) {
  const drafts = new Map();
  const uploads = [];
  const lost = [];
  if (!saved || typeof saved !== "object" || Array.isArray(saved)) {
    return { drafts, uploads, lost };
  }
  for (const [room, box] of Object.entries(saved).slice(-DRAFTS_MAX)) {
    if (typeof box === "string") {
      if (box !== "") drafts.set(room, box);
      continue;
    }
    if (!box || typeof box !== "object" || Array.isArray(box)) continue;
    if (typeof box.text === "string" && box.text !== "") drafts.set(room, box.text);
    const ids = new Set();
    for (const value of Array.isArray(box.files) ? box.files : []) {
      const file = cleanFile(value);
      if (!file || ids.has(file.id) || ids.size >= MAX_FILES) continue;
      ids.add(file.id);
      uploads.push(restored(room, file));
    }
    const unfinished = box.unfinished;
    if (unfinished && typeof unfinished === "object" && Array.isArray(unfinished.names)) {
      const names = unfinished.names.filter((name) => typeof name === "string" && name !== "")
        .slice(0, MAX_FILES).map((name) => name.slice(0, MAX_NAME));
      const tab = typeof unfinished.tab === "string" ? unfinished.tab : null;
      if (names.length) lost.push({ room, names, tab });
    }
  }
  return { drafts, uploads, lost };
}

/** The drafts' texts from what `saveDrafts` stored (room -> text; anything else dropped). */
export function restoreDrafts(saved) {
  return restoreBoxes(saved).drafts;
}

/**
 * What to tell the person of the files `lost` (`restoreBoxes`) once the page is back: that
 * they were not uploaded and must be attached again, by room ("" when there are none).
 * `label(room)` names a room as the page does.
 */
export function lostNotice(lost, label = (room) => room) {
  const rooms = lost.filter((item) => item.names.length);
  if (!rooms.length) return "";
  const count = rooms.reduce((sum, item) => sum + item.names.length, 0);
  const where = rooms.map((item) => `${item.names.join(", ")} (${label(item.room)})`)
    .join("; ");
  return `${count === 1 ? "A file" : `${count} files`} had not finished uploading when the `
    + `page closed and ${count === 1 ? "is" : "are"} not attached any more: ${where}. `
    + `Attach ${count === 1 ? "it" : "them"} again.`;
}

// Drafts: what was typed in a room's message box and not sent yet, one per room. Switching
// rooms shows the new room's own draft, so a half-typed message stays with its room and Enter
// never sends it into another one. Pure, like state.js: `state.drafts` is a Map (room -> text)
// replaced, not changed in place, on every change, so the controller sees that it changed and
// saves it (localStorage, per user: a reload keeps the drafts).

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

/** The drafts as a JSON-able object, to store. */
export function saveDrafts(drafts) {
  return Object.fromEntries(drafts || []);
}

/** Drafts from what `saveDrafts` stored (anything else in it is dropped). */
export function restoreDrafts(saved) {
  const drafts = new Map();
  if (!saved || typeof saved !== "object" || Array.isArray(saved)) return drafts;
  for (const [room, text] of Object.entries(saved)) {
    if (typeof text === "string" && text !== "") drafts.set(room, text);
  }
  while (drafts.size > DRAFTS_MAX) drafts.delete(drafts.keys().next().value);
  return drafts;
}

// The list of rooms to join (the "Join a room" dialog): pages of the server's `rooms`
// overview, by name, optionally searched. No DOM, no I/O: each change is a function of the list
// and its input, and returns a new list; the dialog (view-dialogs.js) asks and shows.
//
// The server pages the overview by name (docs/protocol.md, `rooms`): a page ends with `more`
// when another follows, which is asked with `after` the page's last name. That name may be a
// conversation's (the overview holds the user's own), which this list leaves out: the cursor
// is the page's last name all the same, so that no room is skipped. A reply counts only for
// the search and the page it was asked for: typing on while a page is on its way starts a new
// list, and the old page, when it comes, is dropped.

// Checked before lower-casing: toLowerCase maps a few non-ASCII letters onto ASCII ones (the
// Kelvin sign), which the server refuses.
const QUERY = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * The search to send for what was typed: lower-cased and trimmed, "" for none; null when it
 * cannot be in any room name (the server would refuse it), so there is nothing to ask.
 */
export function searchFor(text) {
  const typed = String(text || "").trim();
  if (typed === "") return "";
  return QUERY.test(typed) ? typed.toLowerCase() : null;
}

/** A list for `query` ("" for all rooms) with nothing loaded: its first page is due. */
export function startBrowse(query = "") {
  return { query, rooms: [], after: null, more: true, loading: false, error: "" };
}

/**
 * The request for the next page and the list waiting for it; `request` is null when no page
 * is due (all are loaded, or one is on its way).
 */
export function nextPage(browse) {
  if (!browse.more || browse.loading) return { browse, request: null };
  const request = { op: "rooms" };
  if (browse.query) request.query = browse.query;
  if (browse.after !== null) request.after = browse.after;
  return { browse: { ...browse, loading: true, error: "" }, request };
}

const answers = (browse, asked) => browse.loading
  && (asked.query || "") === browse.query && (asked.after ?? null) === browse.after;

/** The list with the page that answers `asked` added (a reply to anything else is dropped). */
export function pageLoaded(browse, asked, reply) {
  if (!answers(browse, asked)) return browse;
  const page = (Array.isArray(reply.rooms) ? reply.rooms : [])
    .filter((info) => info && typeof info.room === "string");
  const known = new Set(browse.rooms.map((info) => info.room));
  const rooms = page.filter((info) => info.kind === "room" && !known.has(info.room));
  const last = page.length ? page[page.length - 1].room : browse.after;
  return {
    ...browse,
    rooms: [...browse.rooms, ...rooms],
    after: last,
    // A page that moved nothing on cannot be followed: stop rather than ask it again.
    more: reply.more === true && last !== browse.after,
    loading: false,
  };
}

/** The list after the request `asked` was refused (`message` says why); it may be asked again. */
export function pageFailed(browse, asked, message) {
  if (!answers(browse, asked)) return browse;
  return { ...browse, loading: false, error: String(message) };
}


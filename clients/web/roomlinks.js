// Join links to one room (the room's "Invite link…", the page opened with "#join=TOKEN"). Pure:
// no DOM, no I/O, no clock (`now`, in ms, is an argument).
//
// Theory of operation
// -------------------
// A member makes a link (`create_room_link` {room, uses, expires_in}) and gives it away; the
// server keeps only the token's hash, so the token comes once, in that reply: the link is the
// server's `url` when it knows its address, else this page's address with "#join=" and the
// token. The dialog lists the room's links (`room_links`: the person's own, or every one for
// those who moderate the room) and revokes one (`revoke_room_link`); a reply replaces the link
// of its id in the list. A person who opens a link, signed in, is asked nothing until the page
// has asked the server what it leads to (`room_link` {token}): the room's name, topic and size,
// or why it does not work; "Join" sends `join_link` {token}, answered as `join` is. The token
// stays off the request line (the fragment never leaves the browser; the requests carry it in
// their body, over the socket), and the page takes it off the address once it is shown.

/** What a link's fragment starts with. */
export const HASH_PREFIX = "#join=";
/** What a token looks like (anything else is no link's). */
const TOKEN = /^[A-Za-z0-9_-]{16,128}$/u;

/** The choices of "People" (how many may join with it) and "Expires after", in order. */
export const USES = [
  { value: 1, label: "1 person" },
  { value: 5, label: "5 people" },
  { value: 25, label: "25 people" },
  { value: 100, label: "100 people" },
  { value: 1000, label: "1000 people" },
];
export const EXPIRIES = [
  { value: 3600, label: "1 hour" },
  { value: 86400, label: "1 day" },
  { value: 7 * 86400, label: "7 days" },
  { value: 30 * 86400, label: "30 days" },
];
/** The choices a new dialog starts on: one person, a week (the server's defaults). */
export const DEFAULT_USES = 1;
export const DEFAULT_EXPIRY = 7 * 86400;

// -- the link ----------------------------------------------------------------------------------

/**
 * The token a fragment carries ("#join=TOKEN", anything after a "&" left alone), or null when
 * it is no join link's (another fragment, a token not of a token's shape).
 */
export function joinFromHash(hash) {
  if (typeof hash !== "string" || !hash.startsWith(HASH_PREFIX)) return null;
  const token = hash.slice(HASH_PREFIX.length).split("&")[0];
  return TOKEN.test(token) ? token : null;
}

/**
 * The link to give after `create_room_link`: the server's `url` (it knows the address people
 * open the page at), else one on `base`, the page's own address (its fragment replaced).
 */
export function linkOf(reply, base) {
  if (reply && typeof reply.url === "string" && reply.url.includes(HASH_PREFIX)) return reply.url;
  const token = reply && typeof reply.token === "string" ? reply.token : "";
  return new URL(`${HASH_PREFIX}${token}`, base).href;
}

/** The `create_room_link` request's fields for the dialog's choices (numbers, or strings). */
export function linkRequest(room, { uses = DEFAULT_USES, expiresIn = DEFAULT_EXPIRY } = {}) {
  return { room, uses: Number(uses), expires_in: Number(expiresIn) };
}

// -- the list ------------------------------------------------------------------------------------

/** A room link object of a reply, checked, or null. */
export function linkObject(raw) {
  if (!raw || typeof raw !== "object" || !Number.isSafeInteger(raw.id)) return null;
  const state = ["valid", "expired", "used_up", "revoked"].includes(raw.state) ? raw.state
    : "valid";
  return { id: raw.id, room: String(raw.room ?? ""), by: typeof raw.by === "string" ? raw.by : null,
    created_at: Number(raw.created_at) || 0, expires_at: Number(raw.expires_at) || 0,
    max_uses: Number(raw.max_uses) || 0, uses: Number(raw.uses) || 0, state };
}

/** `links` (newest first) with `link` in its place: a new one on top, a known one replaced. */
export function withLink(links, link) {
  if (!link) return links;
  const at = links.findIndex((known) => known.id === link.id);
  if (at < 0) return [link, ...links].sort((a, b) => b.id - a.id);
  return links.map((known, i) => (i === at ? link : known));
}

/** The links of a `room_links` reply, checked, newest first. */
export function linksOf(reply) {
  const listed = reply && Array.isArray(reply.links) ? reply.links : [];
  return listed.map(linkObject).filter(Boolean).sort((a, b) => b.id - a.id);
}

/** How long until `at` (ms) from `now`, in words: "in 3 days", "in 5 hours", "in 2 min". */
export function untilWords(at, now) {
  const left = at - now;
  if (left <= 0) return "now";
  const minutes = Math.ceil(left / 60_000);
  if (minutes < 60) return `in ${minutes} min`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return `in ${hours} hour${hours === 1 ? "" : "s"}`;
  const days = Math.round(hours / 24);
  return `in ${days} days`;
}

/**
 * A link's line in the list at `now`: its uses and whether (and until when) it works:
 * "1 of 5 used · expires in 3 days", "2 of 2 used · used up", "revoked", "expired".
 */
export function linkLine(link, now) {
  const used = `${link.uses} of ${link.max_uses} used`;
  if (link.state === "revoked") return `${used} · revoked`;
  if (link.state === "used_up") return `${used} · used up`;
  if (link.state === "expired" || link.expires_at <= now) return `${used} · expired`;
  return `${used} · expires ${untilWords(link.expires_at, now)}`;
}

/** Whether a link can still be revoked (it still works, as far as the page knows at `now`). */
export function revocable(link, now) {
  return link.state === "valid" && link.expires_at > now;
}

// -- the join screen ---------------------------------------------------------------------------

/**
 * What the join screen shows of a `room_link` answer: {title, lines, join} where `join` is
 * the button's label ("Join", "Open" for a member already) or null when the link does not
 * work (then `lines` say why).
 */
export function joinScreen(answer) {
  if (!answer || answer.valid !== true) {
    return { title: "This link does not work", lines: [refusal(answer)], join: null };
  }
  const lines = [];
  if (answer.topic) lines.push(answer.topic);
  const members = Number(answer.members) || 0;
  const kind = answer.private ? "A private room" : "A public room";
  lines.push(`${kind} with ${members} member${members === 1 ? "" : "s"}.`);
  if (answer.by) lines.push(`${answer.by} invites you.`);
  if (answer.member) lines.push("You are a member already.");
  return { title: `Join #${answer.room}`, lines, join: answer.member ? "Open" : "Join" };
}

/** A sentence for a person about a refused link (a `room_link` answer, or an error). */
export function refusal(error) {
  const code = error && error.code;
  switch (code) {
    case "invitation_expired": return "This link has expired: ask for a new one.";
    case "invitation_used_up":
      return "This link has been used as many times as it allows: ask for a new one.";
    case "invitation_revoked": return "This link was revoked.";
    case "invitation_invalid": return "This link is not valid: check that it was copied whole.";
    case "forbidden": return "You are banned from this room.";
    case "archived": return "This room is archived: nobody joins it now.";
    case "not_found": return "The room of this link is gone.";
    case "rate_limited": return "Too many links tried: wait a moment and try again.";
    case "unknown_op": return "This server has no room links.";
    default: {
      const message = error && typeof error.message === "string" ? error.message : "";
      return message ? `The link could not be used: ${message}` : "The link could not be used.";
    }
  }
}

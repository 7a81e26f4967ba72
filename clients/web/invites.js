// Invitation links (docs/protocol.md, "Invitations"), the pure half: the sign-up page's
// invitation (the link's "#invite=TOKEN", the public look at it, what the form says and sends)
// and the "Invite people" dialog (the choices of a new link, the list of links kept after a
// create or a revoke, how each reads). No DOM, no I/O, no clock: `now` is given.
//
// Who may register is the server's `auth.registration` ("open", "invite", "closed"), told by
// `GET /api/register` and with every `GET /api/join/{token}`. A link's token is shown once,
// when it is made: the list has the invitation objects (never a token), so the link of an
// older one cannot be shown again, only revoked.

export const HASH_PREFIX = "#invite=";
/** A token as the server makes them (32 base64url characters); a client takes 16-128. */
export const TOKEN = /^[A-Za-z0-9_-]{16,128}$/;
export const MODES = Object.freeze(["open", "invite", "closed"]);
/** The most rooms one invitation joins (the server's limit). */
export const MAX_ROOMS = 20;

/** How long a new link works: the dialog's choices (the server takes 60 s to 30 days). */
export const EXPIRY_CHOICES = Object.freeze([
  { key: "30m", label: "30 minutes", seconds: 30 * 60 },
  { key: "1d", label: "1 day", seconds: 86_400 },
  { key: "7d", label: "7 days", seconds: 7 * 86_400 },
  { key: "30d", label: "30 days", seconds: 30 * 86_400 },
]);
export const DEFAULT_EXPIRY = "7d";

/** How many people may register with a new link (the server takes 1 to 1000). */
export const USES_CHOICES = Object.freeze([
  { key: "1", label: "1 person", uses: 1 },
  { key: "5", label: "5 people", uses: 5 },
  { key: "10", label: "10 people", uses: 10 },
  { key: "25", label: "25 people", uses: 25 },
  { key: "100", label: "100 people", uses: 100 },
  { key: "1000", label: "1000 people", uses: 1000 },
]);
export const DEFAULT_USES = "1";

// -- the link ----------------------------------------------------------------------------------

/**
 * The token a fragment carries ("#invite=TOKEN", anything after a "&" left alone), or null
 * when it is no invitation's (another fragment, a token not of a token's shape).
 */
export function inviteFromHash(hash) {
  if (typeof hash !== "string" || !hash.startsWith(HASH_PREFIX)) return null;
  const token = hash.slice(HASH_PREFIX.length).split("&")[0];
  return TOKEN.test(token) ? token : null;
}

/** The link of `token` on the page at `base` (its fragment replaced). */
export function inviteUrl(base, token) {
  return new URL(`${HASH_PREFIX}${token}`, base).href;
}

/**
 * The link to give after `POST /api/invitations`: the server's `url` (it knows the address
 * people open the page at: `server.public_url`), else one built on the page's own address.
 */
export function linkOf(reply, base) {
  if (reply && typeof reply.url === "string" && reply.url.includes(HASH_PREFIX)) return reply.url;
  if (reply && typeof reply.token === "string" && TOKEN.test(reply.token)) {
    return inviteUrl(base, reply.token);
  }
  return null;
}

// -- the sign-up page --------------------------------------------------------------------------

const mode = (value) => (MODES.includes(value) ? value : "open");
const text = (value) => (typeof value === "string" && value ? value : null);
const names = (list) => (Array.isArray(list) ? list.filter((n) => typeof n === "string" && n)
  : []);

/** `GET /api/register`: {registration, server}; an older server (no answer) is "open". */
export function parseRegistration(body) {
  return { registration: mode(body && body.registration), server: text(body && body.server) };
}

/**
 * `GET /api/join/{token}`: {registration, server, valid, by, rooms, expiresAt} when the
 * invitation works, else {registration, server, valid: false, code}.
 */
export function parseLook(body) {
  const base = parseRegistration(body);
  if (body && body.valid === true) {
    return { ...base, valid: true, by: text(body.by), rooms: names(body.rooms),
      expiresAt: Number.isFinite(body.expires_at) ? body.expires_at : null };
  }
  return { ...base, valid: false, code: text(body && body.code) || "invitation_invalid" };
}

const REFUSALS = {
  invitation_invalid: "This invitation link is not valid. Check that you copied all of it, "
    + "or ask whoever sent it for a new one.",
  invitation_expired: "This invitation link has expired. Ask whoever sent it for a new one.",
  invitation_used_up: "This invitation link has been used as many times as it allows. Ask "
    + "whoever sent it for a new one.",
  invitation_revoked: "This invitation link was revoked. Ask whoever sent it for a new one.",
  invitation_required: "This server takes new accounts by invitation only: open the "
    + "invitation link you were sent.",
  registration_closed: "This server takes no new accounts: ask its administrator for one.",
};

/** The sentence for a refusal's code (of a look or a registration), or null for another. */
export function refusalText(code) {
  return REFUSALS[code] || null;
}

/** "#general", "#general and #random", "#a, #b and #c". */
export function roomsText(rooms) {
  const tags = rooms.map((room) => `#${room}`);
  if (tags.length <= 1) return tags.join("");
  return `${tags.slice(0, -1).join(", ")} and ${tags[tags.length - 1]}`;
}

/**
 * What the sign-up page says of the invitation it opened with: `look` as parseLook gives it
 * (null while it is asked), `failed` when it could not be asked. {title, lines, problem}:
 * `problem` true when the link does not work.
 */
export function invitationNotice(look, { failed = false } = {}) {
  if (failed) {
    return { title: "Your invitation", problem: true,
      lines: ["The server did not say whether this invitation link works. Reload the page "
        + "to try again."] };
  }
  if (!look) return { title: "Your invitation", problem: false, lines: ["Looking at it…"] };
  const place = look.server || "chatd";
  if (!look.valid) {
    const lines = [refusalText(look.code) || refusalText("invitation_invalid")];
    if (look.registration === "open" && look.code !== "registration_closed") {
      lines.push("You can still create an account here, without joining its rooms.");
    }
    return { title: `Join ${place}`, problem: true, lines };
  }
  const who = look.by ? `${look.by} invited you to ${place}.` : `You are invited to ${place}.`;
  const lines = [who];
  if (look.rooms.length) {
    lines.push(`Create your account to join ${roomsText(look.rooms)}.`);
  } else {
    lines.push("Create your account to join.");
  }
  return { title: `Join ${place}`, problem: false, lines };
}

/**
 * What the "Create account" form says instead of failing at submit (null: nothing, it may
 * register): `registration` the server's mode (null: not known yet), `look` the invitation's
 * (null: the page opened without one, or it is being asked).
 */
export function registerProblem(registration, look, token = null) {
  if (registration === "closed") return refusalText("registration_closed");
  if (token !== null && look && !look.valid) {
    // In "open" mode an account can still be made, without the link (and its rooms).
    return registration === "open" ? null : refusalText(look.code)
      || refusalText("invitation_invalid");
  }
  if (registration === "invite" && token === null) return refusalText("invitation_required");
  return null;
}

/**
 * The invitation a registration sends: the token while it works (or is being looked at),
 * none once the look said it does not and the server registers without one ("open").
 */
export function invitationToSend(registration, look, token) {
  if (token === null) return null;
  if (look && !look.valid && registration === "open") return null;
  return token;
}

/**
 * The room to open after registering: the first of the invitation's rooms (as its maker
 * listed them) that the account joined (`joined`: the registration's answer's `rooms`), else
 * the first joined; null for none.
 */
export function firstInvitedRoom(look, joined) {
  const rooms = names(joined);
  const listed = look && look.valid ? look.rooms : [];
  return listed.find((room) => rooms.includes(room)) || rooms[0] || null;
}

// -- who may invite ------------------------------------------------------------------------------

/**
 * Whether the person gets "Invite people…": an administrator, or anyone when the server lets
 * every member invite (`who_can_invite` "everyone"); never a server that takes no
 * registrations. `info` is GET /api/register's answer (null: not known yet).
 */
export function mayInvite(admin, info) {
  if (!info) return Boolean(admin); // (not known: the server refuses a member at once)
  if (info.registration === "closed") return false;
  return Boolean(admin) || info.whoCanInvite === "everyone";
}

/** `GET /api/register` with who may invite (a server that does not say: administrators). */
export function parseInviteRights(body) {
  return { ...parseRegistration(body),
    whoCanInvite: body && body.who_can_invite === "everyone" ? "everyone" : "admins" };
}

// -- a new link ----------------------------------------------------------------------------------

/**
 * The rooms a new link may join: the person's rooms (not conversations, nor those not made
 * yet, nor archived ones), by name.
 */
export function invitableRooms(rooms) {
  return [...rooms].filter((room) => room && room.kind === "room" && !room.draft
    && !room.archived).map((room) => room.name)
    .sort((a, b) => a.localeCompare(b));
}

/**
 * The body of `POST /api/invitations` from the dialog's choices ({expiry, uses} keys, the
 * rooms ticked), or {problem} when it cannot be asked.
 */
export function createBody({ expiry = DEFAULT_EXPIRY, uses = DEFAULT_USES, rooms = [] }) {
  const time = EXPIRY_CHOICES.find((choice) => choice.key === expiry);
  const count = USES_CHOICES.find((choice) => choice.key === uses);
  if (!time || !count) return { problem: "Choose how long the link works and for how many." };
  const chosen = [...new Set(rooms)];
  if (chosen.length > MAX_ROOMS) {
    return { problem: `A link joins at most ${MAX_ROOMS} rooms: untick some.` };
  }
  return { body: { uses: count.uses, expires_in: time.seconds, rooms: chosen } };
}

// -- the list of links -------------------------------------------------------------------------

const STATES = new Set(["valid", "expired", "used_up", "revoked"]);
const whole = (value) => (Number.isSafeInteger(value) ? value : null);

/** An invitation object as the list keeps it, or null when it is malformed. */
export function parseInvitation(body) {
  if (!body || !Number.isSafeInteger(body.id)) return null;
  return {
    id: body.id,
    by: text(body.by),
    createdAt: whole(body.created_at),
    expiresAt: whole(body.expires_at),
    maxUses: whole(body.max_uses) ?? 1,
    uses: whole(body.uses) ?? 0,
    revokedAt: whole(body.revoked_at),
    state: STATES.has(body.state) ? body.state : "valid",
    rooms: names(body.rooms),
    usedBy: names(body.used_by),
  };
}

/**
 * The person's links (an administrator's: every one), newest first, and how asking went.
 * `since`: the invitations a create or a revoke answered since the list was last asked (id ->
 * invitation), which its answer may not have seen yet (the requests run side by side).
 *
 * `GET /api/invitations` answers a page at a time, newest first (docs/protocol.md): `more`
 * says older ones follow, asked for with `before`, the oldest id the server's pages gave
 * (those a create or a revoke answered do not move it: older ones may be missing before
 * them). One next page is asked at a time (`paging`); asking the list again drops a next
 * page on its way (its answer brings the old serial).
 */
export function emptyLinks() {
  return { items: [], loaded: false, loading: false, error: "", serial: 0, since: new Map(),
    more: false, before: null, paging: false };
}

/** Ask for the list again (its first page): returns the serial its answer must bring. */
export function linksAsked(list) {
  list.serial += 1;
  list.loading = true;
  list.paging = false;
  list.error = "";
  list.since = new Map();
  return list.serial;
}

/** The invitations of a page of `GET /api/invitations`, those well-formed. */
function pageOf(body) {
  const given = body && Array.isArray(body.invitations) ? body.invitations : [];
  return given.map(parseInvitation).filter(Boolean);
}

/** Where the next page starts after `page` (the oldest id there), and whether there is one. */
function pageEnd(list, page, body) {
  const oldest = page.reduce((low, item) => (low === null || item.id < low ? item.id : low),
    list.before);
  list.before = oldest;
  // (A page that says more but gives nothing to start the next one from ends the list.)
  list.more = Boolean(body && body.more === true) && oldest !== null;
}

/**
 * `GET /api/invitations` answered the request of `serial` (an older answer is dropped): the
 * list as it says, with what a create or a revoke answered since it was asked on top.
 */
export function linksLoaded(list, serial, body) {
  if (serial !== list.serial) return false;
  const page = pageOf(body);
  const items = new Map(page.map((item) => [item.id, item]));
  for (const [id, item] of list.since) items.set(id, later(items.get(id), item));
  list.items = sortLinks([...items.values()]);
  list.before = null;
  pageEnd(list, page, body);
  list.loading = false;
  list.loaded = true;
  return true;
}

/**
 * Ask for the next page ("Show more"): {serial, before} for `GET /api/invitations?before=`,
 * or null when there is none to ask (no more, the list or a page on its way).
 */
export function linksMoreAsked(list) {
  if (!list.loaded || !list.more || list.loading || list.paging) return null;
  list.paging = true;
  list.error = "";
  return { serial: list.serial, before: list.before };
}

/**
 * The next page came, for the list of `serial` (an answer for a list asked again since is
 * dropped): its invitations join the list (one held already: the later of the two copies).
 */
export function linksMoreLoaded(list, serial, body) {
  if (serial !== list.serial || !list.paging) return false;
  const page = pageOf(body);
  const items = new Map(list.items.map((item) => [item.id, item]));
  for (const item of page) items.set(item.id, later(items.get(item.id), item));
  list.items = sortLinks([...items.values()]);
  pageEnd(list, page, body);
  list.paging = false;
  return true;
}

/** The request of `serial` (the list's, or its next page's) failed with `message`. */
export function linksFailed(list, serial, message) {
  if (serial !== list.serial) return false;
  list.loading = false;
  list.paging = false;
  list.error = message || "The server did not answer.";
  return true;
}

/**
 * An invitation made or changed (the answer of a create or a revoke): it takes the place of
 * the one with its id, or joins the list; newest first.
 */
export function linkChanged(list, body) {
  const invitation = parseInvitation(body);
  if (!invitation) return false;
  const held = list.items.find((item) => item.id === invitation.id);
  const kept = later(held, invitation);
  list.items = sortLinks([kept, ...list.items.filter((item) => item.id !== invitation.id)]);
  list.since.set(kept.id, later(list.since.get(kept.id), kept));
  return true;
}

/**
 * Of two copies of one invitation (`held` may be undefined), the one the server gave later:
 * an invitation only moves on (it stops working once, for good; its uses only grow), so an
 * answer that reaches the page after a newer one (the create's after the revoke's) is older.
 */
function later(held, given) {
  if (!held) return given;
  const rank = (item) => [item.state === "valid" ? 0 : 1, item.uses];
  const [a, b] = [rank(held), rank(given)];
  return a[0] > b[0] || (a[0] === b[0] && a[1] > b[1]) ? held : given;
}

function sortLinks(items) {
  return items.sort((a, b) => b.id - a.id);
}

/**
 * What holds of an invitation at `now`: its state, except that a "valid" one whose time has
 * passed since the list was asked is "expired" (no request needed to see it).
 */
export function linkState(item, now) {
  if (item.state === "valid" && item.expiresAt !== null && item.expiresAt <= now) {
    return "expired";
  }
  return item.state;
}

/** Whether it can still be revoked (it works now). */
export function revocable(item, now) {
  return linkState(item, now) === "valid";
}

/** "in 3 days", "in 5 h", "in 20 min", "in 40 s" (`ms` ahead of now, rounded). */
export function inTime(ms) {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 90) return `${seconds} s`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min`;
  if (seconds < 36 * 3600) return `${Math.round(seconds / 3600)} h`;
  const days = Math.round(seconds / 86_400);
  return `${days} day${days === 1 ? "" : "s"}`;
}

/** How a link's time reads: "expires in 3 days", "expired", "revoked", "used up". */
export function expiryText(item, now) {
  switch (linkState(item, now)) {
    case "revoked":
      return "revoked";
    case "used_up":
      return "used up";
    case "expired":
      return "expired";
    default:
      return item.expiresAt === null ? "no expiry" : `expires in ${inTime(item.expiresAt - now)}`;
  }
}

/** "not used yet (1 person)", "used 2 of 5 times: bob, carol". */
export function usesText(item) {
  const who = item.usedBy.length ? `: ${item.usedBy.join(", ")}` : "";
  if (item.uses === 0) {
    return `not used yet (${item.maxUses === 1 ? "1 person" : `up to ${item.maxUses} people`})`;
  }
  return `used ${item.uses} of ${item.maxUses} time${item.maxUses === 1 ? "" : "s"}${who}`;
}

/** A link's line in the list: its rooms (or "no rooms"), and its maker for an admin's list. */
export function linkTitle(item, me) {
  const rooms = item.rooms.length ? roomsText(item.rooms) : "No rooms";
  const mine = typeof me === "string" && item.by !== null
    && item.by.toLowerCase() === me.toLowerCase();
  const by = mine ? "" : item.by ? ` · by ${item.by}` : " · from the command line";
  return `${rooms}${by}`;
}

/** The sentence for a refused create or revoke (the server's code), else its message. */
export function actionRefusal(error) {
  const code = error && error.code;
  if (code === "rate_limited") {
    return "Too many new links lately: try again in a while.";
  }
  if (code === "registration_closed") return refusalText(code);
  if (code === "forbidden") {
    return `The server refused: ${error.message || "you may not make invitation links here"}.`;
  }
  return (error && error.message) || "The server did not answer.";
}

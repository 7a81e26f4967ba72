// Moderation and administration, the pure part: who gets which control (docs/protocol.md,
// "Moderation"), the ban durations, the lines moderation entries leave in a conversation, the
// admin API's answers parsed and paged, and the live figures formatted. No DOM, no I/O, no
// clock (times are arguments): tests/web/admin.test.mjs runs it under node.

// -- roles and controls -----------------------------------------------------------------------

import { isConversation } from "./conversations.js";

export const ROLES = ["owner", "moderator", "member"];

/** How much a role weighs when removing someone: administrator > owner > moderator > member. */
export function rank(role, admin = false) {
  if (admin) return 3;
  return { owner: 2, moderator: 1, member: 0 }[role] ?? -1;
}

/** Whether someone with `role` in a room (and `admin` on the server) moderates it. */
export function moderates(room, admin) {
  if (!room || isConversation(room) || room.draft) return false;
  return Boolean(admin) || room.role === "owner" || room.role === "moderator";
}

/** Whether they may hand the room over, change roles, archive it: its owner and admins. */
export function runs(room, admin) {
  if (!room || isConversation(room) || room.draft) return false;
  return Boolean(admin) || room.role === "owner";
}

/**
 * The controls the person gets for member `target` ({user, role, admin?}) of `room`: each a
 * boolean. `me` is the person's name, `admin` whether they administer the server. The server
 * decides in the end; this only keeps from offering what it would refuse.
 */
export function controlsFor(room, { me, admin }, target) {
  const none = { menu: false, kick: false, ban: false, makeModerator: false, makeMember: false,
    handOver: false };
  if (!moderates(room, admin) || !target || typeof target.user !== "string") return none;
  const self = typeof me === "string" && me.toLowerCase() === target.user.toLowerCase();
  if (self) return none;
  const mine = rank(room.role, admin);
  const theirs = rank(target.role, Boolean(target.admin));
  const removable = target.role !== "owner" && mine > theirs;
  const chief = runs(room, admin);
  const controls = {
    kick: removable,
    ban: removable,
    makeModerator: chief && target.role === "member",
    makeMember: chief && target.role === "moderator",
    handOver: chief && target.role !== "owner",
  };
  return { ...controls, menu: Object.values(controls).some(Boolean) };
}

// -- bans --------------------------------------------------------------------------------------

export const BAN_DURATIONS = Object.freeze([
  { key: "hour", label: "1 hour", seconds: 3600 },
  { key: "day", label: "1 day", seconds: 86_400 },
  { key: "week", label: "1 week", seconds: 7 * 86_400 },
  { key: "forever", label: "Until lifted", seconds: null },
]);

/**
 * How far back a ban (or a deactivation) also deletes the user's messages: the server's
 * `delete_messages`, in seconds (0: none; at most 7 days).
 */
export const PURGE_WINDOWS = Object.freeze([
  { key: "none", label: "None", seconds: 0 },
  { key: "hour", label: "The last hour", seconds: 3600 },
  { key: "day", label: "The last 24 hours", seconds: 86_400 },
  { key: "week", label: "The last 7 days", seconds: 7 * 86_400 },
]);

/** The `delete_messages` of a purge window's key (0 for none). */
export function purgeSeconds(windowKey) {
  const window = PURGE_WINDOWS.find((w) => w.key === windowKey);
  if (!window) throw new Error(`no such window: ${windowKey}`);
  return window.seconds;
}

/**
 * The fields of a `ban` request for `room`, `user`, a duration key, a reason and how far
 * back their messages go too (a key of PURGE_WINDOWS).
 */
export function banRequest(room, user, durationKey, reason = "", purgeKey = "none") {
  const duration = BAN_DURATIONS.find((d) => d.key === durationKey);
  if (!duration) throw new Error(`no such ban duration: ${durationKey}`);
  const fields = { room, user };
  const why = String(reason).trim();
  if (why) fields.reason = why;
  if (duration.seconds !== null) fields.duration = duration.seconds;
  const seconds = purgeSeconds(purgeKey);
  if (seconds > 0) fields.delete_messages = seconds;
  return fields;
}

/** The body of a deactivation that also deletes messages of a window (none: no body). */
export function deactivationBody(windowKey) {
  const seconds = purgeSeconds(windowKey);
  return seconds > 0 ? { delete_messages: seconds } : undefined;
}

/**
 * The toast after removing `user` (a ban's or a deactivation's answer): who, and how many of
 * their messages went; "more remain" when the server left some for the next request.
 */
export function removedText(user, verb, reply) {
  const count = reply && Number.isSafeInteger(reply.deleted) ? reply.deleted : null;
  if (count === null) return `${user} ${verb}.`;
  const messages = count === 1 ? "1 message" : `${count.toLocaleString("en")} messages`;
  const more = reply.more_deleted === true ? "; more remain: do it again to delete them" : "";
  return `${user} ${verb}; ${messages} deleted${more}.`;
}

/** The bans of a `bans` reply still in force at `now` (an ended ban stops holding by itself). */
export function bansInForce(reply, now) {
  const list = reply && Array.isArray(reply.bans) ? reply.bans : [];
  return list.filter((ban) => ban && typeof ban.user === "string"
    && (ban.expires_at === null || ban.expires_at === undefined
      || (Number.isFinite(ban.expires_at) && ban.expires_at > now)));
}

/** "until lifted", "for 3 h more", "for 2 days more": how long a ban still holds. */
export function banLeft(expiresAt, now) {
  if (expiresAt === null || expiresAt === undefined) return "until lifted";
  const seconds = Math.max(0, Math.round((expiresAt - now) / 1000));
  if (seconds < 90) return `for ${seconds} s more`;
  if (seconds < 90 * 60) return `for ${Math.round(seconds / 60)} min more`;
  if (seconds < 36 * 3600) return `for ${Math.round(seconds / 3600)} h more`;
  return `for ${Math.round(seconds / 86_400)} days more`;
}

// -- moderation entries in the conversation ----------------------------------------------------

export const MODERATION_OPS = new Set(["role", "banned", "unbanned", "kicked", "archived"]);

const ROLE_WORDS = { owner: "the owner", moderator: "a moderator", member: "a member" };

/** The small line a moderation entry leaves in the conversation, or null if it is malformed. */
export function moderationText(entry) {
  if (!entry || !MODERATION_OPS.has(entry.op)) return null;
  const by = typeof entry.by === "string" && entry.by ? entry.by : "An administrator";
  const user = typeof entry.user === "string" ? entry.user : null;
  const reason = typeof entry.reason === "string" && entry.reason ? `: ${entry.reason}` : "";
  switch (entry.op) {
    case "role":
      if (!user || !ROLE_WORDS[entry.role]) return null;
      return entry.role === "owner" ? `${by} handed the room over to ${user}`
        : `${by} made ${user} ${ROLE_WORDS[entry.role]}`;
    case "banned":
      if (!user) return null;
      return `${by} banned ${user}${Number.isFinite(entry.expires_at) ? " for a while" : ""}${
        reason}`;
    case "unbanned":
      return user ? `${by} lifted the ban of ${user}` : null;
    case "kicked":
      return user ? `${by} removed ${user}${reason}` : null;
    case "archived":
      return entry.archived === false ? `${by} unarchived the room`
        : `${by} archived the room: it is read-only now`;
    default:
      return null;
  }
}

// -- the admin API's answers -------------------------------------------------------------------

const isName = (value) => typeof value === "string" && value.length > 0;

/** A page of `GET /api/admin/users`: {items: [{name, admin, bot, deactivated, …}], more}. */
export function parseUsers(body) {
  const list = body && Array.isArray(body.users) ? body.users : [];
  const items = list.filter((u) => u && isName(u.name)).map((u) => ({
    name: u.name,
    admin: u.admin === true,
    bot: u.bot === true,
    deactivated: u.deactivated === true,
    createdAt: Number.isFinite(u.created_at) ? u.created_at : null,
  }));
  return { items, more: Boolean(body && body.more) && items.length > 0 };
}

/** A page of `GET /api/admin/rooms`: {items: [{room, owner, members, archived, …}], more}. */
export function parseRooms(body) {
  const list = body && Array.isArray(body.rooms) ? body.rooms : [];
  const items = list.filter((r) => r && isName(r.room)).map((r) => ({
    room: r.room,
    private: r.private === true,
    topic: typeof r.topic === "string" ? r.topic : "",
    owner: typeof r.owner === "string" ? r.owner : null,
    ownerDeactivated: r.owner_deactivated === true,
    members: Number.isSafeInteger(r.members) ? r.members : 0,
    archived: r.archived === true,
  }));
  return { items, more: Boolean(body && body.more) && items.length > 0 };
}

/** A page of the audit log (`GET /api/admin/audit`, or the `audit` op): entries, more. */
export function parseAudit(body) {
  const list = body && Array.isArray(body.entries) ? body.entries : [];
  const items = list.filter((e) => e && Number.isSafeInteger(e.id) && isName(e.action))
    .map((e) => ({
      id: e.id,
      ts: Number.isFinite(e.ts) ? e.ts : null,
      actor: typeof e.actor === "string" ? e.actor : null,
      action: e.action,
      target: typeof e.target === "string" ? e.target : null,
      room: typeof e.room === "string" ? e.room : null,
      reason: typeof e.reason === "string" ? e.reason : "",
      details: e.details && typeof e.details === "object" ? e.details : {},
    }));
  return { items, more: Boolean(body && body.more) && items.length > 0 };
}

const ACTIONS = {
  set_role: "changed the role of",
  ban: "banned",
  unban: "lifted the ban of",
  kick: "removed",
  set_topic: "set the topic of",
  delete: "deleted a message of",
  purge: "deleted messages of",
  deactivate: "deactivated",
  reactivate: "reactivated",
  set_password: "reset the password of",
  admin: "changed the administrator right of",
  archive: "archived",
  unarchive: "unarchived",
  delete_room: "deleted",
};

/** One line of the audit log: who did what to whom, where (without the time and reason). */
export function auditText(entry) {
  const who = entry.actor || "The command line";
  let what = ACTIONS[entry.action] || entry.action.replaceAll("_", " ");
  const details = entry.details || {};
  if (entry.action === "set_role" && isName(details.role)) {
    what = `made`;
    return `${who} ${what} ${entry.target || "someone"} ${ROLE_WORDS[details.role] || details.role}${
      entry.room ? ` in #${entry.room}` : ""}`;
  }
  if (entry.action === "admin" && typeof details.admin === "boolean") {
    return `${who} ${details.admin ? "made" : "revoked"} ${entry.target || "someone"}${
      details.admin ? " an administrator" : " as administrator"}`;
  }
  if (entry.action === "create_invitation" || entry.action === "revoke_invitation") {
    const made = entry.action === "create_invitation";
    const id = Number.isSafeInteger(details.invitation) ? ` ${details.invitation}` : "";
    const of = !made && entry.target && entry.target !== entry.actor ? ` of ${entry.target}` : "";
    return `${who} ${made ? "made" : "revoked"} invitation link${id}${of}`;
  }
  if (entry.action === "export") {
    // "Download my data" (a user's own, or the command line's `chatd export USER`).
    return entry.actor && entry.actor === entry.target ? `${who} exported their data`
      : `${who} exported the data of ${entry.target || "someone"}`;
  }
  if (["create_room_link", "revoke_room_link", "join_link"].includes(entry.action)) {
    // A room's join links (roomlinks.js): made, revoked (its maker the target), used to join.
    const id = Number.isSafeInteger(details.link) ? ` ${details.link}` : "";
    const where = entry.room ? ` to #${entry.room}` : "";
    if (entry.action === "join_link") {
      const whose = entry.target ? `${entry.target}'s join link${id}` : `join link${id}`;
      return `${who} joined${entry.room ? ` #${entry.room}` : ""} with ${whose}`;
    }
    const made = entry.action === "create_room_link";
    const of = !made && entry.target && entry.target !== entry.actor ? ` of ${entry.target}` : "";
    return `${who} ${made ? "made" : "revoked"} join link${id}${where}${of}`;
  }
  if (entry.action === "archive" && details.archived === false) what = "unarchived";
  if (entry.action === "set_topic") return `${who} set the topic of #${entry.room || "?"}`;
  if (entry.action === "purge" && Number.isSafeInteger(details.deleted)) {
    what = `deleted ${details.deleted === 1 ? "1 message" : `${details.deleted} messages`} of`;
  }
  const whom = entry.target ? ` ${entry.target}` : entry.room && /room|archive/.test(entry.action)
    ? ` #${entry.room}` : "";
  // A deactivation's purge also reaches conversations (named @user:user), which are no #room.
  const where = !entry.room || !entry.target ? ""
    : entry.room.startsWith("@") ? ` in the conversation ${entry.room}` : ` in #${entry.room}`;
  return `${who} ${what}${whom}${where}`;
}

/** The live figures of `GET /api/admin/stats`, formatted; null when the answer is malformed. */
export function parseStats(body) {
  if (!body || typeof body !== "object") return null;
  const { connections, messages_per_second: rate, database_bytes: bytes } = body;
  if (!Number.isSafeInteger(connections) || !Number.isFinite(rate)
      || !Number.isSafeInteger(bytes)) return null;
  return {
    connections: String(connections),
    rate: formatRate(rate),
    database: formatBytes(bytes),
    node: typeof body.node === "string" ? body.node : "",
  };
}

/** "0", "0.25", "3.5", "120": messages per second with as many decimals as say something. */
export function formatRate(rate) {
  if (!Number.isFinite(rate) || rate <= 0) return "0";
  if (rate < 1) return String(Math.round(rate * 100) / 100);
  if (rate < 10) return String(Math.round(rate * 10) / 10);
  return String(Math.round(rate));
}

/** "512 B", "1.5 KB", "23 MB", "1.2 GB" (units of 1024). */
export function formatBytes(bytes) {
  if (!Number.isFinite(bytes) || bytes < 0) return "?";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const shown = unit === 0 || value >= 10 ? Math.round(value) : Math.round(value * 10) / 10;
  return `${shown} ${units[unit]}`;
}

// -- paged lists (users, rooms, audit log) -----------------------------------------------------

/**
 * A paged list of the admin page: the query, the items so far, whether more exist, whether a
 * page is on its way (`loading`, with the serial of the request), and the error of the last.
 */
export function emptyList(query = "") {
  return { query, items: [], more: false, loading: false, error: "", serial: 0, loaded: false };
}

/** Begin again with `query`: returns the params of the first page. */
export function listBegin(list, query) {
  Object.assign(list, emptyList(query.trim()), { serial: list.serial + 1, loading: true });
  return pageParams(list, null);
}

/**
 * The params of the next page (`param`: "after" the last item's `key`, or "before" it for the
 * audit log, newest first), or null when there is none to ask.
 */
export function listNext(list, key, param = "after") {
  if (list.loading || !list.more || !list.items.length) return null;
  list.serial += 1;
  list.loading = true;
  return pageParams(list, list.items[list.items.length - 1][key], param);
}

function pageParams(list, last, param = "after") {
  const params = { serial: list.serial };
  if (list.query) params.query = list.query;
  if (last !== null && last !== undefined) params[param] = last;
  return params;
}

/** A page came for the request of `serial` (a later request wins; an old answer is dropped). */
export function listReceived(list, serial, page) {
  if (serial !== list.serial) return false;
  list.loading = false;
  list.loaded = true;
  list.error = "";
  list.items = [...list.items, ...page.items];
  list.more = page.more;
  return true;
}

/** The request of `serial` failed with `message` (shown in place). */
export function listFailed(list, serial, message) {
  if (serial !== list.serial) return false;
  list.loading = false;
  list.error = message || "The server did not answer.";
  return true;
}

/** Replace the item whose `key` equals the one of `item` (after an action changed it). */
export function listUpdate(list, key, item) {
  list.items = list.items.map((old) => (old[key] === item[key] ? { ...old, ...item } : old));
}

/** Take out the item whose `key` is `value`. */
export function listRemove(list, key, value) {
  list.items = list.items.filter((item) => item[key] !== value);
}

/** A query string from params ({query, after, before, limit}; serial left out). */
export function queryString(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (name === "serial" || value === undefined || value === null || value === "") continue;
    search.set(name, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

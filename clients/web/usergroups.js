// User groups (docs/protocol.md "User groups"; Slack's `@backend`): the server's list as the
// page keeps it, the members of the group the panel shows, what the @-completion offers, and
// whether a message that names groups is a mention of the person. Pure, like emoji.js:
// `state.userGroups` is one of these objects, changed only through the functions here (state.js
// calls them); tested with node --test (tests/web/usergroups.test.mjs).
//
// Theory of operation
// -------------------
// The list comes whole from a `user_groups` request after each welcome (groups changed while
// the page was away are not replayed), and is kept by the `user_group` events of everyone's
// changes on every node: {change: created|changed|deleted, group, added, removed, ts}. An event
// carries the group's whole state (its description and member count), so applying one again
// changes nothing; the person's own `you` comes from `added`/`removed` naming them (a creation
// lists all its members in `added`, so it sets `you` either way).
//
// The reply and the events may cross: an event that comes while the request is on its way may
// be in the reply or not. So the events of that time are kept (`listing.events`) and applied
// again on top of the reply when it comes. Events come in order on one connection; should two
// of a group come out of order (by their `ts`), the newer one wins: each group remembers the
// `ts` of the last event applied to it (`seen`, kept for deleted groups too, so that a late
// `changed` does not bring a deleted group back) and the `ts` of the last that said whether the
// person is a member (`meSeen`). What the reply says is taken as newer than every event seen
// before the request was sent, and older than those that come after it (re-applied).
//
// A message names the groups it mentions in `user_groups` (as the server found them when it was
// stored). It mentions the person when they are in one of them by the list's `you` and did not
// send it (`mentionsMe`). For a message that comes live, state.js stamps `groupsMe` on it, so
// that the room's unread and mention counts (store.js, entries.js `mentions`) count it as the
// server did; the room objects' `mentions` count those read later.

/** A group's name, as the server keeps it (lower case; upper case is folded before). */
export const NAME = /^[a-z0-9_.-]{1,32}$/;
/** The words of group mentions, which no user group may take. */
export const RESERVED = Object.freeze(["all", "everyone", "here", "room"]);
export const MAX_DESCRIPTION = 256;
/** Groups the @-completion offers at most. */
export const MAX_SUGGESTIONS = 5;

/** Nothing asked yet. */
export function emptyGroups() {
  return {
    byName: new Map(), // name -> {name, description, members, by, ts, you}
    loaded: false, // a reply came (the list is whole)
    status: "idle", // "idle" | "loading" | "done" | "failed"
    error: "", // why the last listing failed, for the person
    listing: null, // {events: [...]} while a `user_groups` request is on its way
    seen: new Map(), // name -> ts of the last event applied to that group (deleted ones too)
    meSeen: new Map(), // name -> ts of the last event that said whether the person is in it
    version: 0, // counts the changes (views redraw what depends on the list)
    open: null, // the group the panel shows: {name, members: [names] | null, status, error}
  };
}

/** A group object of the server as kept here, or null for anything malformed. */
export function groupOf(item, you = false) {
  if (!item || typeof item !== "object" || typeof item.name !== "string") return null;
  const name = item.name.toLowerCase();
  if (!NAME.test(name)) return null;
  return {
    name,
    description: typeof item.description === "string" ? item.description : "",
    members: Number.isSafeInteger(item.members) && item.members >= 0 ? item.members : 0,
    by: typeof item.by === "string" ? item.by : null,
    ts: Number.isFinite(item.ts) ? item.ts : 0,
    you: typeof item.you === "boolean" ? item.you : you,
  };
}

// -- the list --------------------------------------------------------------------------------

/** Ask for the whole list (after a welcome, or when the panel retries): the request's fields. */
export function begin(groups) {
  groups.listing = { events: [] };
  if (!groups.loaded) groups.status = "loading";
  groups.error = "";
  return {};
}

/** The connection was lost: a listing on its way is over (the next welcome asks again). */
export function stopped(groups) {
  groups.listing = null;
  if (groups.status === "loading") groups.status = "idle";
}

/**
 * The reply to `user_groups` ({groups: [...]}, each with `you`): the list, replaced, with the
 * events that came while it was on its way applied again on top.
 */
export function received(groups, reply, me) {
  const events = groups.listing ? groups.listing.events : [];
  groups.listing = null;
  groups.byName = new Map();
  for (const item of Array.isArray(reply && reply.groups) ? reply.groups : []) {
    const group = groupOf(item);
    if (group) groups.byName.set(group.name, group);
  }
  // What the reply says replaces what the events before it said: only those after count.
  groups.seen = new Map();
  groups.meSeen = new Map();
  for (const event of events) applyEvent(groups, event, me);
  groups.loaded = true;
  groups.status = "done";
  groups.version += 1;
  // The panel's group may have gone meanwhile.
  if (groups.open && !groups.byName.has(groups.open.name) && groups.open.status === "done") {
    groups.open.status = "gone";
  }
}

/** The `user_groups` request was refused: `error` says why (a server without groups, say). */
export function failed(groups, error) {
  groups.listing = null;
  groups.status = "failed";
  groups.error = typeof error === "string" ? error : "";
}

/**
 * A `user_group` event (created, changed or deleted; `added`/`removed` the members it added or
 * removed). Returns whether the list changed.
 */
export function changed(groups, event, me) {
  if (groups.listing) groups.listing.events.push(event);
  const done = applyEvent(groups, event, me);
  if (done) groups.version += 1;
  return done;
}

function applyEvent(groups, event, me) {
  if (!event || typeof event !== "object") return false;
  const group = groupOf(event.group);
  if (!group || !["created", "changed", "deleted"].includes(event.change)) return false;
  const { name } = group;
  const ts = Number.isFinite(event.ts) ? event.ts : group.ts;
  // Older than the last event applied to the group: its state is not taken (a late `changed`
  // does not bring a deleted group back), but what it says of the person may still be news.
  const stale = groups.seen.has(name) && ts < groups.seen.get(name);
  const added = names(event.added);
  const removed = names(event.removed);
  const open = groups.open && groups.open.name === name ? groups.open : null;
  let done = false;
  if (!stale) {
    groups.seen.set(name, ts);
    if (event.change === "deleted") {
      if (!(ts < (groups.meSeen.get(name) ?? -Infinity))) groups.meSeen.set(name, ts);
      if (open) open.status = "gone";
      return groups.byName.delete(name);
    }
    const held = groups.byName.get(name);
    groups.byName.set(name, { ...group, you: held ? held.you : false });
    done = true;
    if (open && Array.isArray(open.members)) {
      const gone = new Set(removed.map((n) => n.toLowerCase()));
      const kept = open.members.filter((n) => !gone.has(n.toLowerCase()));
      const have = new Set(kept.map((n) => n.toLowerCase()));
      open.members = sortNames([...kept, ...added.filter((n) => !have.has(n.toLowerCase()))]);
    }
  }
  const held = groups.byName.get(name);
  const saysMe = typeof me === "string"
    && (added.some((n) => same(n, me)) || removed.some((n) => same(n, me)));
  if (held && event.change !== "deleted" && (event.change === "created" || saysMe)
      && !(ts < (groups.meSeen.get(name) ?? -Infinity))) {
    groups.meSeen.set(name, ts);
    const you = typeof me === "string" && added.some((n) => same(n, me));
    if (you !== held.you) {
      groups.byName.set(name, { ...held, you });
      done = true;
    }
  }
  return done;
}

/** Every group, by name. */
export function sortedGroups(groups) {
  return [...groups.byName.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
}

// -- one group's members (the panel) ---------------------------------------------------------

/** Show the group `name` in the panel: the `user_group` request's fields. */
export function openGroup(groups, name) {
  groups.open = { name: String(name).toLowerCase(), members: null, status: "loading", error: "" };
  return { name: groups.open.name };
}

/** Back to the list. */
export function closeGroup(groups) {
  groups.open = null;
}

/** The reply to `user_group` ({group, members}) for the request `asked`. */
export function membersReceived(groups, asked, reply, me) {
  const open = groups.open;
  if (!open || !asked || String(asked.name).toLowerCase() !== open.name) return;
  const group = groupOf(reply && reply.group);
  if (group && !groups.byName.has(group.name) && !groups.seen.has(group.name)) {
    group.you = names(reply.members).some((n) => same(n, me));
    groups.byName.set(group.name, group);
    groups.version += 1;
  }
  open.members = sortNames(names(reply && reply.members));
  open.status = "done";
}

/** The `user_group` request was refused (`not_found`: deleted meanwhile). */
export function membersFailed(groups, asked, error) {
  const open = groups.open;
  if (!open || !asked || String(asked.name).toLowerCase() !== open.name) return;
  open.status = error && error.code === "not_found" ? "gone" : "failed";
  open.error = messageOf(error);
}

// -- mentions --------------------------------------------------------------------------------

/** The groups a message names (its `user_groups`, lower case), or []. */
export function namedGroups(message) {
  return message && Array.isArray(message.user_groups)
    ? message.user_groups.filter((n) => typeof n === "string").map((n) => n.toLowerCase()) : [];
}

/**
 * Whether `message` mentions `me` by a group: not deleted, not sent by `me`, and naming a group
 * the list says `me` is in.
 */
export function mentionsMe(groups, message, me) {
  if (!message || message.deleted || typeof me !== "string" || same(message.from, me)) return false;
  return namedGroups(message).some((name) => {
    const group = groups.byName.get(name);
    return Boolean(group && group.you);
  });
}

/**
 * A live message (or edit entry) that names groups, stamped with `groupsMe`: whether it
 * mentions `me` by one (entries.js `mentions` counts it then). Anything else as it is.
 */
export function stamp(groups, message, me) {
  if (!message || !Array.isArray(message.user_groups)) return message;
  return { ...message, groupsMe: mentionsMe(groups, message, me) };
}

/** "3 members". */
export function countText(count) {
  return `${count} ${count === 1 ? "member" : "members"}`;
}

/** What a group's pill says when pointed at: its description and member count. */
export function titleOf(group) {
  if (!group) return "A user group";
  return group.description ? `${group.description} · ${countText(group.members)}`
    : `User group · ${countText(group.members)}`;
}

/**
 * What the message's text needs to draw its group pills (markdown.js `parse`'s `userGroups`):
 * name -> {title, me, unknown} for the groups the message names, or null when it names none.
 * A group deleted since (the whole list is in, and it is not there) has no pill: its "@name"
 * reads as plain text. Before the list is in, the page cannot tell a group deleted from one
 * that is there: every group named has a neutral pill (`unknown`: no title, not the reader's),
 * decided once the list comes (its `version` moves, and the message is drawn again).
 */
export function pillsFor(groups, message, me) {
  const named = namedGroups(message).filter((name) => !groups.loaded || groups.byName.has(name));
  if (!named.length) return null;
  const mine = message && !same(message.from, me);
  return new Map(named.map((name) => {
    if (!groups.loaded) return [name, { title: null, me: false, unknown: true }];
    const group = groups.byName.get(name);
    return [name, { title: titleOf(group), me: Boolean(mine && group && group.you),
      unknown: false }];
  }));
}

// -- completion ------------------------------------------------------------------------------

/**
 * The groups to offer after "@" and `query`: {name, hint}. Names that start with the query
 * first (the person's own groups first among them), then names that hold it, then those whose
 * description has a word starting with it; at most MAX_SUGGESTIONS.
 */
export function suggestions(groups, query) {
  const q = String(query).toLowerCase();
  const rank = (group) => {
    if (group.name.startsWith(q)) return group.you ? 0 : 1;
    if (q && group.name.includes(q)) return 2;
    if (q && group.description.toLowerCase().split(/[^\p{L}\p{N}]+/u).some((w) => w.startsWith(q))) {
      return 3;
    }
    return -1;
  };
  return sortedGroups(groups)
    .map((group) => ({ group, rank: rank(group) }))
    .filter(({ rank: r }) => r >= 0)
    .sort((a, b) => a.rank - b.rank || (a.group.name < b.group.name ? -1 : 1))
    .slice(0, MAX_SUGGESTIONS)
    .map(({ group }) => ({ name: group.name,
      hint: group.description ? `${group.description} · ${countText(group.members)}`
        : countText(group.members) }));
}

// -- the forms -------------------------------------------------------------------------------

/** What is wrong with a new group's name, in words, or "" (the server checks again). */
export function nameProblem(groups, name) {
  const folded = String(name || "").trim().replace(/^@/, "").toLowerCase();
  if (!NAME.test(folded)) return "A name is 1 to 32 of a-z, 0-9, _, . and -.";
  if (RESERVED.includes(folded)) return `@${folded} is a group mention word: choose another name.`;
  if (groups.byName.has(folded)) return "That name is taken.";
  return "";
}

/** What a refusal of a group request says to the person. */
export function messageOf(error) {
  if (!error) return "";
  if (error.code === "conflict") return "That name is taken.";
  if (error.code === "forbidden") {
    return "Only the group's members, its creator and administrators may change it.";
  }
  if (error.code === "rate_limited") return "Too many changes at once; try again in a moment.";
  return typeof error.message === "string" && error.message ? error.message
    : "That did not work.";
}

/**
 * Whether the person may change or delete `group` (as the server decides): a member, its
 * creator or an administrator.
 */
export function mayChange(group, me, admin) {
  return Boolean(group) && (admin === true || group.you === true
    || (typeof group.by === "string" && same(group.by, me)));
}

/** The fields of `edit_user_group` for a new description and members, or null when none changed. */
export function editOf(group, members, { description, add = [], remove = [] }) {
  const fields = { name: group.name };
  if (typeof description === "string" && description !== group.description) {
    fields.description = description;
  }
  const held = new Set((members || []).map((n) => n.toLowerCase()));
  const adding = [...new Set(add.filter((n) => !held.has(n.toLowerCase())))];
  const removing = [...new Set(remove.filter((n) => held.has(n.toLowerCase())))];
  if (adding.length) fields.add = adding;
  if (removing.length) fields.remove = removing;
  return Object.keys(fields).length > 1 ? fields : null;
}

function names(list) {
  return Array.isArray(list) ? list.filter((n) => typeof n === "string" && n) : [];
}

function same(a, b) {
  return typeof a === "string" && typeof b === "string" && a.toLowerCase() === b.toLowerCase();
}

function sortNames(list) {
  return [...list].sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase()));
}

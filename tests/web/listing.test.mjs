// The paged welcome (state.js, "The listing"): the welcome lists the first rooms and contacts,
// the page asks for the rest at once, page after page; a room is gone only once the whole list
// is in; live events of a room not listed yet neither count twice nor get lost.

import assert from "node:assert/strict";
import { test } from "node:test";

import { badge, resumePoints } from "../../clients/web/select.js";
import {
  actions, apply, connectionChanged, initialState, LIST_RETRY_MS, ROOMS_REFRESH, selectRoom,
  WELCOME_CONTACTS, WELCOME_ROOMS,
} from "../../clients/web/state.js";
import { message, requests, roomInfo, welcome } from "./fixtures.mjs";

/** A welcome of a server that pages: `more` rooms and `contactsMore` contacts follow. */
function pagedWelcome(rooms, { more = true, contacts = [], contactsMore = false } = {}) {
  return { ...welcome(rooms, { contacts }), rooms_more: more, contacts_more: contactsMore };
}

/** A page logged in as ann, connected, after a paged welcome. */
function pagedConnect(rooms, options = {}, state = initialState({ me: "ann" })) {
  connectionChanged(state, "online");
  const effects = apply(state, pagedWelcome(rooms, options));
  return { state, effects };
}

const ok = (fields) => ({ op: "ok", id: 7, ...fields });
const contact = (user, status = "offline") => ({ user, status });
const toasts = (effects) => effects.filter((e) => e.toast).map((e) => e.toast);
const roomPage = (request) => request.op === "rooms";

/** Answer the rooms page among `effects` with `rooms` (more as given); returns the effects. */
function page(state, effects, rooms, more, now = 0) {
  const asked = requests(effects).find(roomPage);
  assert.ok(asked, "a page of rooms was asked for");
  return apply(state, ok({ rooms, more }), { request: asked, now });
}

test("the hello's page sizes", () => {
  assert.equal(WELCOME_ROOMS, 30);
  assert.equal(WELCOME_CONTACTS, 30);
});

test("after a welcome with more, the rest is asked at once, page after page, until no more", () => {
  const { state, effects } = pagedConnect([roomInfo("alpha"), roomInfo("beta")],
    { contacts: [contact("Ann2"), contact("bob", "online")], contactsMore: true });
  assert.equal(state.roomsListed, false);
  assert.deepEqual(requests(effects).filter((r) => r.op === "rooms" || r.op === "contacts"), [
    { op: "rooms", joined: true, after: "beta" },
    { op: "contacts", after: "bob" },
  ]);
  let next = page(state, effects, [roomInfo("delta", { lastSeq: 9, unread: 4 }),
    roomInfo("gamma", { lastSeq: 3, readSeq: 3 })], true);
  assert.deepEqual(requests(next), [{ op: "rooms", joined: true, after: "gamma" }]);
  assert.equal(state.roomsListed, false);
  next = page(state, next, [roomInfo("zeta", { lastSeq: 2, unread: 2, mentions: 1 })], false);
  assert.deepEqual(requests(next), []);
  assert.equal(state.roomsListed, true);
  assert.equal(state.listing, null);
  assert.deepEqual([...state.rooms.keys()].sort(), ["alpha", "beta", "delta", "gamma", "zeta"]);
  assert.equal(badge(state, state.rooms.get("delta")), "4");
  assert.equal(state.rooms.get("zeta").mentions, 1);
  // Every room listed is followed from its last_seq; only the open one is resumed.
  assert.deepEqual(Object.fromEntries([...state.rooms].map(([name, room]) => [name, room.head])),
    { alpha: 0, beta: 0, delta: 9, gamma: 3, zeta: 2 });
  assert.deepEqual(resumePoints(state), { alpha: 0 });

  // The contacts: the welcome's, then each page's, once each.
  const asked = requests(effects).find((r) => r.op === "contacts");
  let more = requests(apply(state, ok({ contacts: [contact("BOB"), contact("carol", "online")],
    more: true }), { request: asked }));
  assert.deepEqual(more, [{ op: "contacts", after: "carol" }]);
  more = requests(apply(state, ok({ contacts: [contact("dave")], more: false }),
    { request: more[0] }));
  assert.deepEqual(more, []);
  assert.deepEqual(state.contacts, ["Ann2", "bob", "carol", "dave"]);
  assert.equal(state.presence.get("carol").status, "online");
  assert.equal(state.contactsListing, null);
});

test("a welcome without rooms_more (an older server) lists everything, as before", () => {
  const state = initialState({ me: "ann" });
  connectionChanged(state, "online");
  apply(state, welcome([roomInfo("alpha"), roomInfo("old")]));
  connectionChanged(state, "waiting");
  connectionChanged(state, "online");
  const effects = apply(state, welcome([roomInfo("alpha")], { contacts: [contact("bob")] }));
  assert.deepEqual(toasts(effects), ["You are no longer a member of #old"]);
  assert.deepEqual([...state.rooms.keys()], ["alpha"]);
  assert.equal(state.roomsListed, true);
  assert.equal(state.listing, null);
  assert.equal(state.contactsListing, null);
  assert.deepEqual(requests(effects).filter((r) => r.op === "rooms" || r.op === "contacts"), []);
  // rooms_more false is the same.
  const again = apply(state, pagedWelcome([roomInfo("alpha")], { more: false }));
  assert.deepEqual(requests(again).filter((r) => r.op === "rooms"), []);
  assert.equal(state.roomsListed, true);
});

test("a room not in the welcome's page is forgotten only once the whole list is in", () => {
  const state = initialState({ me: "ann" });
  connectionChanged(state, "online");
  apply(state, welcome([roomInfo("alpha"), roomInfo("mid", { lastSeq: 5 }), roomInfo("@ann:bob",
    { peer: "Bob" }), roomInfo("zulu", { lastSeq: 7, unread: 2 })]));
  connectionChanged(state, "waiting");
  connectionChanged(state, "online");
  const effects = apply(state, pagedWelcome([roomInfo("@ann:bob", { peer: "Bob" }),
    roomInfo("alpha")]));
  assert.deepEqual(toasts(effects), []);
  assert.deepEqual([...state.rooms.keys()].sort(), ["@ann:bob", "alpha", "mid", "zulu"]);
  // A room resumed meanwhile keeps what it had.
  assert.equal(state.rooms.get("zulu").unread, 2);
  const next = page(state, effects, [roomInfo("zulu", { lastSeq: 8, unread: 3 })], false);
  assert.deepEqual(toasts(next), ["You are no longer a member of #mid"]);
  assert.deepEqual([...state.rooms.keys()].sort(), ["@ann:bob", "alpha", "zulu"]);
  assert.equal(state.rooms.get("zulu").unread, 3);
});

test("the open room, gone at the end of the listing, gives way to the first room left", () => {
  const state = initialState({ me: "ann" });
  connectionChanged(state, "online");
  apply(state, welcome([roomInfo("alpha"), roomInfo("mid")]));
  apply(state, { op: "ok", id: 1, room: "alpha", messages: [], more: false },
    { request: { op: "history", room: "alpha", limit: 50 } });
  state.current = "mid";
  connectionChanged(state, "waiting");
  connectionChanged(state, "online");
  const effects = pagedWelcome([roomInfo("alpha")]);
  const first = apply(state, effects);
  assert.equal(state.current, "mid"); // maybe on a later page: still open
  const next = page(state, first, [roomInfo("omega")], false);
  assert.equal(state.current, "alpha");
  assert.ok(requests(next).some((r) => r.op === "who" && r.room === "alpha"));
});

test("the first room opens, as with a whole welcome, also when the first page has only "
  + "conversations", () => {
  let { state } = pagedConnect([roomInfo("@ann:bob", { peer: "Bob" }), roomInfo("kilo")]);
  assert.equal(state.current, "kilo");
  const paged = pagedConnect([roomInfo("@ann:bob", { peer: "Bob" }),
    roomInfo("@ann:carl", { peer: "carl" })]);
  state = paged.state;
  assert.equal(state.current, null);
  const next = page(state, paged.effects, [roomInfo("lima", { lastSeq: 4, readSeq: 2,
    unread: 2 })], false);
  assert.equal(state.current, "lima");
  assert.equal(state.divider, 2);
  assert.ok(requests(next).some((r) => r.op === "history" && r.room === "lima"));
  // Only conversations after all: the first of them.
  const dms = pagedConnect([roomInfo("@ann:bob", { peer: "Bob" })]);
  page(dms.state, dms.effects, [], false);
  assert.equal(dms.state.current, "@ann:bob");
});

test("a room left, removed or deleted during the listing is not brought back by a page", () => {
  const { state, effects } = pagedConnect([roomInfo("alpha"), roomInfo("beta")]);
  // Left here (a known room), removed elsewhere, and deleted, before the page came.
  apply(state, ok({}), { request: { op: "leave", room: "beta" } });
  apply(state, { op: "left", room: "gone-1", user: "ann", by: "Bob" });
  apply(state, { op: "room_deleted", room: "gone-2", by: "Bob" });
  page(state, effects, [roomInfo("beta"), roomInfo("gone-1"), roomInfo("gone-2"),
    roomInfo("kept")], false);
  assert.deepEqual([...state.rooms.keys()].sort(), ["alpha", "kept"]);
});

test("a room joined again during the listing is not forgotten at its end", () => {
  const state = initialState({ me: "ann" });
  connectionChanged(state, "online");
  apply(state, welcome([roomInfo("alpha"), roomInfo("beta"), roomInfo("mid")]));
  connectionChanged(state, "waiting");
  connectionChanged(state, "online");
  const effects = apply(state, pagedWelcome([roomInfo("alpha")]));
  // Joined again after the page that would have listed it was read; a message of another
  // proves it is still one's own.
  apply(state, ok({ room: "beta", last_seq: 4, messages: [], more: false }),
    { request: { op: "join", room: "beta" } });
  apply(state, message("mid", 1));
  const next = page(state, effects, [roomInfo("zeta")], false);
  assert.deepEqual(toasts(next), []);
  assert.deepEqual([...state.rooms.keys()].sort(), ["alpha", "beta", "mid", "zeta"]);
});

test("no room is looked up apart during the listing: the pages list it, or a refresh follows",
  () => {
    const refreshes = (effects) => effects.filter((e) => e.refreshRooms);
    const { state, effects } = pagedConnect([roomInfo("alpha"), roomInfo("kilo")]);
    // After "kilo", the page on its way: it will list them.
    assert.deepEqual(refreshes(apply(state, message("tango", 1))), []);
    assert.deepEqual(apply(state, { op: "joined", room: "yankee", user: "ann", by: "Bob" }),
      [{ toast: "Bob added you to #yankee" }]);
    // The last page lists tango but not yankee (read before the user was added): looked up.
    let done = page(state, effects, [roomInfo("tango", { lastSeq: 1 })], false);
    assert.deepEqual(refreshes(done), [{ refreshRooms: true }]);
    assert.deepEqual(refreshes(apply(state, message("zulu", 1))), [{ refreshRooms: true }]);

    // Before the cursor (joined after the welcome was read): after the listing, not twice.
    const again = pagedConnect([roomInfo("alpha"), roomInfo("kilo")]);
    assert.deepEqual(refreshes(apply(again.state, message("bravo", 1))), []);
    apply(again.state, ok({ room: "bravo", last_seq: 1, messages: [], more: false }),
      { request: { op: "join", room: "bravo" } });
    done = page(again.state, again.effects, [roomInfo("kilo2")], false);
    assert.deepEqual(refreshes(done), [{ refreshRooms: true }]);
    // The refresh's pages never end the listing nor add rooms (only the listing's do).
    assert.equal(again.state.listing, null);
    apply(again.state, ok({ rooms: [roomInfo("new")], more: false }), { request: ROOMS_REFRESH });
    assert.equal(again.state.rooms.has("new"), false);
  });

test("a refused page is asked again a moment later; a lost connection lists from the next "
  + "welcome", () => {
  const { state, effects } = pagedConnect([roomInfo("alpha")]);
  const asked = requests(effects).find(roomPage);
  const later = apply(state, { op: "error", id: 3, code: "unavailable", message: "db" },
    { request: asked });
  assert.deepEqual(later, [{ later: LIST_RETRY_MS, key: "list-rooms", action: "listRooms",
    args: [] }]);
  assert.deepEqual(requests(actions.listRooms(state, 0)), [asked]);
  assert.deepEqual(actions.listRooms(state, 0), []); // one on its way at a time
  connectionChanged(state, "waiting");
  assert.deepEqual(apply(state, { op: "error", id: null, code: "disconnected", message: "" },
    { request: asked }), []);
  assert.deepEqual(actions.listRooms(state, 0), []); // not while offline
  connectionChanged(state, "online");
  const again = apply(state, pagedWelcome([roomInfo("alpha"), roomInfo("bravo")]));
  assert.deepEqual(requests(again).filter(roomPage), [{ op: "rooms", joined: true,
    after: "bravo" }]);
  // A page answering another cursor (a refresh's) does not end the listing.
  apply(state, ok({ rooms: [roomInfo("zulu")], more: false }), { request: asked });
  assert.equal(state.roomsListed, false);
  assert.equal(state.rooms.has("zulu"), false); // a refresh adds no room, as before
});

test("a contact removed during the listing is not brought back by a page", () => {
  const { state, effects } = pagedConnect([roomInfo("alpha")], { more: false,
    contacts: [contact("bob")], contactsMore: true });
  apply(state, ok({ user: "carol" }), { request: { op: "remove_contact", user: "Carol" } });
  apply(state, ok({ user: "Erin", status: "online" }), { request: { op: "add_contact",
    user: "erin" } });
  const asked = requests(effects).find((r) => r.op === "contacts");
  apply(state, ok({ contacts: [contact("carol"), contact("dave"), contact("Erin", "online")],
    more: false }), { request: asked });
  assert.deepEqual(state.contacts, ["bob", "Erin", "dave"]);
});

test("an alert of a room not listed yet waits for its room object (its level, its marker)", () => {
  const now = 1_000_000;
  const { state, effects } = pagedConnect([roomInfo("alpha")]);
  const alertsOf = (list) => list.filter((e) => e.alert).map((e) => e.alert.seq);
  assert.deepEqual(alertsOf(apply(state, message("muted", 6), { now })), []);
  assert.deepEqual(alertsOf(apply(state, message("loud", 3), { now })), []);
  assert.deepEqual(alertsOf(apply(state, message("readelsewhere", 4), { now })), []);
  assert.deepEqual(alertsOf(apply(state, message("yankee", 2, "zed", "@ann hi",
    { mentions: ["ann"] }), { now })), []);
  // A conversation sorts before the rooms: the welcome's page has passed it, so it is new.
  assert.deepEqual(alertsOf(apply(state, message("@ann:zed", 2, "zed"), { now })), [2]);
  const next = page(state, effects, [roomInfo("loud", { lastSeq: 2, notify: "all" }),
    roomInfo("muted", { lastSeq: 5, notify: "none" }),
    roomInfo("readelsewhere", { lastSeq: 4, readSeq: 4, notify: "all" })], false, now);
  // loud with its page; yankee (joined after its page was read: the default level, where a
  // mention alerts) at the end.
  assert.deepEqual(next.filter((e) => e.alert).map((e) => [e.alert.room, e.alert.seq]),
    [["loud", 3], ["yankee", 2]]);
  // Once described, a room alerts at once again.
  assert.deepEqual(alertsOf(apply(state, message("loud", 4), { now })), [4]);
});

test("read and notify events of a room not known yet reach it with its room object", () => {
  const { state, effects } = pagedConnect([roomInfo("alpha")]);
  apply(state, message("mike", 9));
  apply(state, { op: "read", room: "mike", seq: 9 }); // known: moves the marker
  apply(state, { op: "read", room: "oscar", seq: 5 });
  apply(state, { op: "notify", room: "oscar", notify: "none" });
  page(state, effects, [roomInfo("mike", { lastSeq: 8, unread: 8 }),
    roomInfo("oscar", { lastSeq: 6, readSeq: 2, unread: 4, notify: "all" })], false);
  assert.equal(state.rooms.get("mike").unread, 0);
  const oscar = state.rooms.get("oscar");
  assert.equal(oscar.readSeq, 5);
  assert.equal(oscar.notify, "none");
  assert.ok(oscar.unread <= 1);
});

// -- live messages and the room object, in every order ----------------------------------------

/** A small seeded random generator (mulberry32), so that a failure can be replayed. */
function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * One history of room "romeo", on a later page: `before` messages when the welcome was sent
 * (ann read up to `read`), then `live` messages sent live. The page's room object was read
 * after `seen` of the live ones were stored, and its reply is read among the live events
 * after `at` of them. `known`: the page knew the room from an earlier connection, up to `had`;
 * `opened`: and had it open (its latest page loaded), so that the hello resumes it from there.
 */
function scenario(rand) {
  const pick = (n) => Math.floor(rand() * (n + 1));
  const before = pick(6);
  const read = pick(before);
  const live = pick(6);
  const seen = pick(live);
  const at = pick(live);
  const known = rand() < 0.4;
  const opened = known && rand() < 0.5;
  const had = known ? read + pick(before - read) : 0;
  const authors = ["ann", "Bob", "carol"];
  const log = Array.from({ length: before + live }, (_, i) => {
    const from = authors[pick(2)];
    const mention = rand() < 0.3;
    return message("romeo", i + 1, from, mention ? `@ann m${i + 1}` : `m${i + 1}`,
      mention ? { mentions: ["ann"] } : {});
  });
  return { before, read, live, seen, at, known, opened, had, log };
}

function play({ before, read, live, seen, at, known, opened, had, log }) {
  const state = initialState({ me: "ann" });
  connectionChanged(state, "online");
  const others = (list) => list.filter((m) => m.from !== "ann");
  const mentioned = (list) => others(list).filter((m) => m.mentions).length;
  if (known) {
    // An earlier connection: everything up to `had` seen, read up to `read`.
    const seenBefore = log.slice(read, had);
    apply(state, welcome([roomInfo("alpha"), roomInfo("romeo", { lastSeq: had, readSeq: read,
      unread: others(seenBefore).length, mentions: mentioned(seenBefore) })]));
    if (opened) {
      const [asked] = requests(selectRoom(state, "romeo"));
      apply(state, ok({ room: "romeo", messages: log.slice(0, had), more: false }),
        { request: asked });
    }
    connectionChanged(state, "waiting");
    connectionChanged(state, "online");
  }
  const resume = resumePoints(state);
  assert.equal("romeo" in resume, opened);
  const effects = apply(state, pagedWelcome([roomInfo("alpha")]));
  if (opened) {
    // The resume catch-up, right after the welcome (a room not opened is not resumed).
    for (const m of log.slice(had, before)) apply(state, m);
  }
  const liveLog = log.slice(before);
  for (const m of liveLog.slice(0, at)) apply(state, m);
  const upto = log.slice(read, before + seen);
  page(state, effects, [roomInfo("romeo", { lastSeq: before + seen, readSeq: read,
    unread: others(upto).length, mentions: mentioned(upto) })], false);
  for (const m of liveLog.slice(at)) apply(state, m);
  return state;
}

test("live messages of a room on a later page and its room object, in any order: every "
  + "message once, none counted twice, none lost", () => {
  const rand = random(17);
  for (let run = 0; run < 500; run += 1) {
    const sc = scenario(rand);
    const state = play(sc);
    const label = JSON.stringify({ ...sc, log: sc.log.map((m) => `${m.seq}:${m.from}`
      + `${m.mentions ? "@" : ""}`) });
    const room = state.rooms.get("romeo");
    assert.ok(room, label);
    const unread = sc.log.slice(sc.read).filter((m) => m.from !== "ann");
    assert.equal(room.unread, unread.length, `unread: ${label}`);
    assert.equal(room.mentions, unread.filter((m) => m.mentions).length, `mentions: ${label}`);
    const held = room.sorted().map((m) => m.seq);
    for (const m of sc.log.slice(sc.before)) assert.ok(held.includes(m.seq), `lost: ${label}`);
    assert.equal(new Set(held).size, held.length);
    assert.equal(room.head, sc.before + sc.live, `resume: ${label}`);
    if (sc.opened) assert.equal(resumePoints(state).romeo, sc.before + sc.live, label);
    assert.equal(room.readSeq, sc.read);
  }
});

test("a refresh's room object older than messages counted: merged only when nothing between "
  + "is missing", () => {
  const state = initialState({ me: "ann" });
  connectionChanged(state, "online");
  apply(state, welcome([roomInfo("alpha", { lastSeq: 10, readSeq: 8, unread: 2 }),
    roomInfo("@ann:bob", { peer: "Bob" })]));
  state.current = "@ann:bob";
  apply(state, message("alpha", 12));
  const room = state.rooms.get("alpha");
  assert.equal(room.unread, 3);
  const refresh = { request: { op: "rooms", joined: true } };
  // 11 is not held: the older object (read elsewhere up to 9) leaves the count, as before.
  apply(state, ok({ rooms: [roomInfo("alpha", { lastSeq: 10, readSeq: 9, unread: 1 })],
    more: false }), refresh);
  assert.equal(room.unread, 3);
  assert.equal(room.readSeq, 9);
  // With 11 held, the object's count and the two after it.
  apply(state, message("alpha", 11));
  assert.equal(room.unread, 3);
  apply(state, ok({ rooms: [roomInfo("alpha", { lastSeq: 10, readSeq: 9, unread: 1 })],
    more: false }), refresh);
  assert.equal(room.unread, 3);
  apply(state, ok({ rooms: [roomInfo("alpha", { lastSeq: 11, readSeq: 10, unread: 1 })],
    more: false }), refresh);
  assert.equal(room.unread, 2);
});

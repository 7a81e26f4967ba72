// Favourites (favourites.js, state.js setFavourite, select.js sortedRooms): the sidebar's
// section and its order, starring at once and the server's last word, a refusal put back, the
// `favourite` event of the person's other devices, and a starred conversation that is closed.

import assert from "node:assert/strict";
import { test } from "node:test";

import { canStar, favouriteRooms, isFavourite, markedAtOf } from "../../clients/web/favourites.js";
import { canClose } from "../../clients/web/hiding.js";
import {
  apply, closeConversation, connectionChanged, openDm, selectRoom, setFavourite,
} from "../../clients/web/state.js";
import { firstRoom, roomOrder, sortedRooms, unreadTotal } from "../../clients/web/select.js";
import { connected, requests, roomInfo } from "./fixtures.mjs";

const DM = "@ann:bob";
const names = (rooms) => rooms.map((room) => room.name);
const section = (state, kind) => names(sortedRooms(state, kind));

/** Ann's page: #general, #random, #zoo, and her conversations with Bob and Carol. */
function page(extra = {}) {
  const { state } = connected([
    roomInfo("general", { lastSeq: 3, ...extra.general }),
    roomInfo("random", { lastSeq: 2, ...extra.random }),
    roomInfo("zoo", { lastSeq: 1, ...extra.zoo }),
    roomInfo(DM, { lastSeq: 5, readSeq: 5, peer: "bob", ...extra[DM] }),
    roomInfo("@ann:carol", { lastSeq: 2, readSeq: 2, peer: "carol", ...extra["@ann:carol"] }),
  ]);
  return state;
}

/** The reply to `favourite` {room, on}, as the server gives it. */
function reply(state, room, on, fields = {}) {
  return apply(state, { op: "ok", id: 9, room, favourite: on, ...fields },
    { request: { op: "favourite", room, on } });
}

function refuse(state, room, on, code = "forbidden", message = "not a member of general") {
  return apply(state, { op: "error", id: 9, code, message },
    { request: { op: "favourite", room, on } });
}

test("the welcome's favourites have their own section, and not their usual one", () => {
  const state = page({ zoo: { favourite: true }, [DM]: { favourite: true } });
  assert.deepEqual(section(state, "favourite"), [DM, "zoo"], "rooms and conversations together");
  assert.deepEqual(section(state, "room"), ["general", "random"]);
  assert.deepEqual(section(state, "dm"), ["@ann:carol"]);
  assert.deepEqual(roomOrder(state), [DM, "zoo", "general", "random", "@ann:carol"],
    "Alt+Down walks them as the sidebar lists them");
  const none = page();
  assert.deepEqual(section(none, "favourite"), [], "no favourite: no section");
  assert.deepEqual(section(none, "room"), ["general", "random", "zoo"]);
});

test("the order: as marked when the server says when, else by label; the first one opens", () => {
  const state = page({
    zoo: { favourite: true, favourite_at: 100 },
    general: { favourite: true, favourite_at: 300 },
    [DM]: { favourite: true, favourite_at: 200 },
    random: { favourite: true }, // an older server's: no time, after those with one
  });
  assert.deepEqual(section(state, "favourite"), ["zoo", DM, "general", "random"]);
  assert.equal(state.current, "zoo", "the first room the sidebar lists opens");
  assert.equal(firstRoom(state).name, "zoo");
  const labels = favouriteRooms([
    { name: "b", label: "Beta", favourite: true, favouriteAt: null },
    { name: "a", label: "alpha", favourite: true, favouriteAt: null },
    { name: "c", label: "gamma", favourite: false, favouriteAt: null },
  ]);
  assert.deepEqual(names(labels), ["a", "b"], "by label, ignoring case, without times");
  assert.equal(markedAtOf({ favourite_at: 5 }), 5);
  for (const bad of [{}, { favourite_at: null }, { favourite_at: -1 }, { favourite_at: "5" },
    { favourite_at: 1.5 }, null]) {
    assert.equal(markedAtOf(bad), null, JSON.stringify(bad));
  }
});

test("starring is shown at once, asks the server, and its reply confirms it", () => {
  const state = page();
  const effects = setFavourite(state, "random", true);
  assert.deepEqual(requests(effects), [{ op: "favourite", room: "random", on: true }]);
  assert.deepEqual(section(state, "favourite"), ["random"], "before the reply");
  assert.deepEqual(section(state, "room"), ["general", "zoo"]);
  assert.deepEqual(setFavourite(state, "random", true), [], "starred already: nothing asked");
  // The server tells every connection of the person, this one too, before the reply: when.
  apply(state, { op: "favourite", room: "random", on: true, favourite_at: 50 });
  reply(state, "random", true);
  assert.deepEqual(section(state, "favourite"), ["random"]);
  assert.equal(state.rooms.get("random").favouriteAt, 50);
  setFavourite(state, "random", false);
  assert.deepEqual(section(state, "favourite"), []);
  apply(state, { op: "favourite", room: "random", on: false, favourite_at: null });
  reply(state, "random", false);
  assert.deepEqual(section(state, "room"), ["general", "random", "zoo"]);
  assert.equal(state.rooms.get("random").favouriteAt, null);
});

test("a refusal puts back the mark the server last gave, and says why", () => {
  const state = page({ zoo: { favourite: true } });
  setFavourite(state, "general", true);
  const effects = refuse(state, "general", true);
  assert.deepEqual(section(state, "favourite"), ["zoo"]);
  assert.equal(effects.find((effect) => effect.toast).toast,
    "Could not add #general to favourites: not a member of general");
  setFavourite(state, "zoo", false);
  assert.deepEqual(section(state, "favourite"), []);
  const gone = refuse(state, "zoo", false, "disconnected", "not connected");
  assert.deepEqual(section(state, "favourite"), ["zoo"], "starred again");
  assert.equal(gone.find((effect) => effect.toast).toast,
    "Could not remove #zoo from favourites: not connected");
  const old = page();
  setFavourite(old, "general", true);
  assert.match(refuse(old, "general", true, "unknown_op", "unknown op")
    .find((effect) => effect.toast).toast, /this server does not keep favourites/);
});

test("starred then unstarred before the replies: no flicker, the last reply's word stays", () => {
  const state = page();
  setFavourite(state, "general", true);
  setFavourite(state, "general", false);
  // The server tells every connection of the person, this one too, before each reply.
  apply(state, { op: "favourite", room: "general", on: true });
  assert.equal(isFavourite(state.rooms.get("general")), false, "the second is on its way");
  reply(state, "general", true);
  assert.equal(isFavourite(state.rooms.get("general")), false, "still: the second's to come");
  apply(state, { op: "favourite", room: "general", on: false });
  reply(state, "general", false);
  assert.equal(isFavourite(state.rooms.get("general")), false);
  // The second refused after the first was taken: starred, as the server has it.
  setFavourite(state, "random", true);
  setFavourite(state, "random", false);
  reply(state, "random", true);
  assert.equal(isFavourite(state.rooms.get("random")), false);
  refuse(state, "random", false, "rate_limited", "slow down");
  assert.equal(isFavourite(state.rooms.get("random")), true);
});

test("another device's event stars and unstars here, with when", () => {
  const state = page();
  apply(state, { op: "favourite", room: DM, on: true, favourite_at: 70 });
  assert.deepEqual(section(state, "favourite"), [DM]);
  assert.deepEqual(section(state, "dm"), ["@ann:carol"]);
  assert.equal(state.rooms.get(DM).favouriteAt, 70);
  apply(state, { op: "favourite", room: DM, on: false });
  assert.deepEqual(section(state, "favourite"), []);
  assert.deepEqual(section(state, "dm"), [DM, "@ann:carol"]);
  apply(state, { op: "favourite", room: "nowhere", on: true }); // not held: nothing
  assert.equal(state.rooms.has("nowhere"), false);
  apply(state, { op: "favourite", room: "zoo", on: "yes" }); // not a boolean: nothing
  assert.equal(isFavourite(state.rooms.get("zoo")), false);
});

test("a room object says the mark too: a refresh after another device's change", () => {
  const state = page({ zoo: { favourite: true } });
  apply(state, { op: "ok", id: 9, rooms: [roomInfo("zoo", { lastSeq: 1 }),
    roomInfo("general", { lastSeq: 3, favourite: true, favourite_at: 9 })] },
  { request: { op: "rooms", joined: true } });
  assert.deepEqual(section(state, "favourite"), ["general"]);
});

test("nothing to star: a draft, a room not held, or offline", () => {
  const state = page();
  openDm(state, "dan");
  const draft = state.rooms.get("@ann:dan");
  assert.equal(draft.draft, true);
  assert.equal(canStar(draft), false);
  assert.deepEqual(setFavourite(state, "@ann:dan", true), []);
  assert.deepEqual(setFavourite(state, "nowhere", true), []);
  assert.deepEqual(setFavourite(state, "general", "yes"), []);
  connectionChanged(state, "waiting");
  assert.deepEqual(setFavourite(state, "general", true), []);
  assert.equal(isFavourite(state.rooms.get("general")), false);
});

test("a starred conversation stays in Favourites closed, and is not offered to close", () => {
  const open = page({ general: { favourite: true, favourite_at: 1 },
    [DM]: { favourite: true, favourite_at: 2 } });
  assert.equal(canClose(open.rooms.get(DM)), false, "no Close conversation for a favourite");
  assert.deepEqual(closeConversation(open, DM), []);
  selectRoom(open, DM);
  // Closed on another device (the terminal's /close) while open here.
  apply(open, { op: "hidden", room: DM, hidden_seq: 5 });
  assert.equal(open.current, DM, "the open favourite stays open: it stays listed");
  assert.deepEqual(section(open, "favourite"), ["general", DM]);
  // Closed before it was starred: listed all the same.
  const state = page({ general: { favourite: true, favourite_at: 1 },
    [DM]: { favourite: true, favourite_at: 2, hidden_seq: 5 } });
  assert.deepEqual(section(state, "favourite"), ["general", DM]);
  // Its unread messages (left when it was closed) count in the title: it shows their badge.
  state.rooms.get(DM).unread = 2;
  assert.equal(unreadTotal(state), 2);
  selectRoom(state, DM);
  // Unstarred, it is a closed conversation again: listed while open only.
  setFavourite(state, DM, false);
  assert.deepEqual(section(state, "dm"), [DM, "@ann:carol"], "open");
  selectRoom(state, "general");
  assert.deepEqual(section(state, "dm"), ["@ann:carol"]);
  assert.equal(canClose(state.rooms.get("@ann:carol")), true, "one not starred: offered");
});

test("leaving a starred room drops it from Favourites; joined again, it is not one", () => {
  const state = page({ zoo: { favourite: true } });
  apply(state, { op: "left", room: "zoo", user: "ann" });
  assert.deepEqual(section(state, "favourite"), []);
  apply(state, { op: "ok", id: 9, room: "zoo", private: false, topic: "", last_seq: 1,
    favourite: false, messages: [] }, { request: { op: "join", room: "zoo" } });
  assert.deepEqual(section(state, "favourite"), []);
  assert.deepEqual(section(state, "room"), ["general", "random", "zoo"]);
});

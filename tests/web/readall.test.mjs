// "Mark all as read" (readmarks.js): one `read_all` request; its answer moves each room's marker
// to where the server put it (badges and the title's count drop with it); the person's other
// tabs and devices follow the `read` events it makes, one per room; the question asked first
// when more than a few rooms are unread; Shift+Esc and its hint.

import assert from "node:assert/strict";
import { test } from "node:test";

import { titleCount } from "../../clients/web/alerts.js";
import { planCommand } from "../../clients/web/commands.js";
import {
  allRead, isReadAllKey, markAllRead, READ_ALL_ASK_OVER, readAllAsks, readAllHint, unreadRooms,
} from "../../clients/web/readmarks.js";
import { badge, unreadTotal } from "../../clients/web/select.js";
import { actions, apply, connectionChanged, seen } from "../../clients/web/state.js";
import { connected, message, receiveAll, requests, roomInfo } from "./fixtures.mjs";

/** ann in `general` (open, read), `random` (3 unread, 1 mention), 1:1 with Bob (2 unread) and
 * a closed conversation with nothing new. */
function someUnread() {
  const { state } = connected([
    roomInfo("general", { lastSeq: 4, readSeq: 4 }),
    roomInfo("random", { lastSeq: 9, readSeq: 6, unread: 3, mentions: 1 }),
    roomInfo("@ann:bob", { lastSeq: 5, readSeq: 3, unread: 2, peer: "Bob" }),
    roomInfo("@ann:cy", { lastSeq: 2, readSeq: 2, peer: "Cy", hidden_seq: 2 }),
  ]);
  return state;
}

const counts = (state, name) => {
  const room = state.rooms.get(name);
  return [room.readSeq, room.unread, room.mentions];
};

test("marking all read asks the server once, and the answer moves each room it names", () => {
  const state = someUnread();
  assert.deepEqual(unreadRooms(state).sort(), ["@ann:bob", "random"]);
  assert.equal(titleCount(state).count, 5);
  const sent = requests(markAllRead(state));
  assert.deepEqual(sent, [{ op: "read_all" }]);
  // Nothing moves before the answer: a refusal leaves nothing to undo.
  assert.deepEqual(counts(state, "random"), [6, 3, 1]);
  // The server's last seq of random is ahead of the page's (a message on its way): the marker
  // goes where the server put it; the message, when it comes, is read already.
  const effects = apply(state, { op: "ok", id: 5, rooms: [{ room: "@ann:bob", seq: 5 },
    { room: "random", seq: 10 }, { room: "elsewhere", seq: 3 }] }, { request: sent[0] });
  assert.deepEqual(counts(state, "random"), [10, 0, 0]);
  assert.deepEqual(counts(state, "@ann:bob"), [5, 0, 0]);
  assert.equal(badge(state, state.rooms.get("random")), null);
  assert.equal(titleCount(state).count, 0);
  assert.equal(unreadTotal(state), 0);
  assert.deepEqual(unreadRooms(state), []);
  // Notifications of what was read are closed, as for a read on another device.
  assert.deepEqual(effects, [{ readElsewhere: { room: "@ann:bob", seq: 5 } },
    { readElsewhere: { room: "random", seq: 10 } }]);
  receiveAll(state, [message("random", 10, "Bob")]);
  assert.deepEqual(counts(state, "random"), [10, 0, 0]);
  receiveAll(state, [message("random", 11, "Bob")]);
  assert.deepEqual(counts(state, "random").slice(0, 2), [10, 1]);
});

test("a message stored after the server marked everything read stays unread", () => {
  const state = someUnread();
  const [sent] = requests(markAllRead(state));
  receiveAll(state, [message("@ann:bob", 6, "Bob")]); // after the statement, before the answer
  apply(state, { op: "ok", id: 5, rooms: [{ room: "@ann:bob", seq: 5 }] }, { request: sent });
  assert.deepEqual(counts(state, "@ann:bob").slice(0, 2), [5, 1]);
  assert.equal(badge(state, state.rooms.get("@ann:bob")), "1");
});

test("another tab or device follows the read events one per room, as for any read", () => {
  const state = someUnread();
  const effects = receiveAll(state, [{ op: "read", room: "random", seq: 9 },
    { op: "read", room: "@ann:bob", seq: 5 }]);
  assert.deepEqual(counts(state, "random"), [9, 0, 0]);
  assert.deepEqual(counts(state, "@ann:bob"), [5, 0, 0]);
  assert.equal(titleCount(state).count, 0);
  assert.equal(effects.filter((e) => e.readElsewhere).length, 2);
});

test("a room kept unread, and a marker waiting to be sent, give way to marking all read", () => {
  const state = someUnread();
  const general = state.rooms.get("general");
  receiveAll(state, [message("general", 5, "Bob"), message("general", 6, "Bob")]);
  state.visible = true;
  seen(state, "general", 5); // waits in `reads` to be sent
  assert.equal(state.reads.get("general").seq, 5);
  general.keptUnread = true; // (as markUnread leaves a room)
  const [sent] = requests(markAllRead(state));
  apply(state, { op: "ok", id: 5, rooms: [{ room: "general", seq: 6 }] }, { request: sent });
  assert.equal(general.readSeq, 6);
  assert.equal(general.keptUnread, false);
  assert.equal(state.reads.has("general"), false);
  assert.deepEqual(actions.flushReads(state), []);
});

test("a refusal is told, and changes nothing", () => {
  const state = someUnread();
  const [sent] = requests(markAllRead(state));
  const effects = apply(state, { op: "error", id: 5, code: "rate_limited",
    message: "marking all read too often; slow down" }, { request: sent });
  assert.match(effects.find((e) => e.toast).toast, /Cannot mark all as read: marking all read/);
  assert.deepEqual(counts(state, "random"), [6, 3, 1]);
});

test("nothing is asked while offline", () => {
  const state = someUnread();
  connectionChanged(state, "offline");
  assert.deepEqual(markAllRead(state), []);
});

test("more than a few unread rooms and the page asks first", () => {
  const names = Array.from({ length: READ_ALL_ASK_OVER + 1 }, (_, i) => `r${i}`);
  const many = connected(names.map((room) => roomInfo(room, { lastSeq: 2, readSeq: 1,
    unread: 1 }))).state;
  assert.equal(readAllAsks(many), true);
  const few = connected(names.slice(1).map((room) => roomInfo(room, { lastSeq: 2, readSeq: 1,
    unread: 1 }))).state;
  assert.equal(readAllAsks(few), false);
  assert.equal(readAllAsks(someUnread()), false);
});

test("Shift+Esc is the key, with its hint per platform", () => {
  assert.equal(isReadAllKey({ key: "Escape", shiftKey: true }), true);
  assert.equal(isReadAllKey({ key: "Escape", shiftKey: false }), false);
  assert.equal(isReadAllKey({ key: "Escape", shiftKey: true, ctrlKey: true }), false);
  assert.equal(isReadAllKey({ key: "Escape", shiftKey: true, metaKey: true }), false);
  assert.equal(isReadAllKey({ key: "Enter", shiftKey: true }), false);
  assert.equal(readAllHint({ platform: "MacIntel" }), "⇧Esc");
  assert.equal(readAllHint({ userAgentData: { platform: "macOS" } }), "⇧Esc");
  assert.equal(readAllHint({ platform: "Linux x86_64" }), "Shift Esc");
  assert.equal(readAllHint({}), "Shift Esc");
});

test("/readall plans marking all read, and takes nothing more", () => {
  const context = { room: null, profile: null, dndUntil: null, now: 0, timeZone: "UTC" };
  assert.deepEqual(planCommand("/readall", context), { do: "readall" });
  assert.ok(planCommand("/readall general", context).problem);
});

test("an answer naming no room, or nonsense, changes nothing", () => {
  const state = someUnread();
  const [sent] = requests(markAllRead(state));
  for (const reply of [{ rooms: [] }, {}, { rooms: "random" },
    { rooms: [{ room: "random", seq: -1 }, { room: "random" }, null, { seq: 3 }] }]) {
    assert.deepEqual(allRead(state, reply), []);
  }
  apply(state, { op: "ok", id: 5, rooms: [] }, { request: sent });
  assert.deepEqual(counts(state, "random"), [6, 3, 1]);
});

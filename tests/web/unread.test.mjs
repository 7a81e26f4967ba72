// Unread counts and read markers: what others wrote after the marker is unread; a message seen
// on screen moves the marker at once and the marker waits, per room, until the server has it.

import assert from "node:assert/strict";
import { test } from "node:test";

import { badge, timeline, unreadTotal } from "../../clients/web/select.js";
import {
  actions, apply, connectionChanged, READ_DELAY_MS, seen, selectRoom, setVisible,
} from "../../clients/web/state.js";
import { connected, message, receiveAll, requests, roomInfo, welcome } from "./fixtures.mjs";

const readOk = (request, seq = request.seq) => ({ op: "ok", id: 8, room: request.room, seq });

test("messages by others after the read marker are unread; one's own are not", () => {
  const { state } = connected([roomInfo("general", { lastSeq: 4, readSeq: 2, unread: 2 }),
    roomInfo("random", { lastSeq: 0 })]);
  selectRoom(state, "random");
  const general = state.rooms.get("general");
  assert.equal(general.unread, 2);
  receiveAll(state, [message("general", 5, "Bob"), message("general", 6, "ann"),
    message("general", 5, "Bob")]);
  assert.equal(general.unread, 3);
  assert.equal(badge(state, general), "3");
  assert.equal(unreadTotal(state), 3);
});

test("the open room shows no badge, and the title counts it only while the tab is hidden", () => {
  const { state } = connected([roomInfo("general", { lastSeq: 0 })]);
  assert.equal(state.current, "general");
  receiveAll(state, [message("general", 1), message("general", 2)]);
  const general = state.rooms.get("general");
  assert.equal(badge(state, general), null);
  assert.equal(unreadTotal(state), 0);
  setVisible(state, false);
  assert.equal(unreadTotal(state), 2);
  // Nobody reads a hidden tab: what scrolls into view then is not read.
  assert.deepEqual(seen(state, "general", 2), []);
  assert.equal(general.unread, 2);
  setVisible(state, true);
  assert.equal(seen(state, "general", 2).length, 1);
  assert.equal(general.unread, 0);
  assert.equal(unreadTotal(state), 0);
});

test("badges cap at 999+", () => {
  const { state } = connected([roomInfo("busy", { lastSeq: 5000, unread: 999 }),
    roomInfo("a-first", { lastSeq: 0 })]);
  receiveAll(state, [message("busy", 5001)]);
  assert.equal(badge(state, state.rooms.get("busy")), "999+");
});

test("a message seen moves the marker at once; the marker is sent once, a moment later", () => {
  const { state } = connected([roomInfo("general", { lastSeq: 3, readSeq: 1, unread: 2 })]);
  const general = state.rooms.get("general");
  const effects = seen(state, "general", 3);
  assert.equal(general.readSeq, 3);
  assert.equal(general.unread, 0);
  assert.deepEqual(effects, [{ later: READ_DELAY_MS, key: "reads", action: "flushReads",
    args: [] }]);
  assert.deepEqual(seen(state, "general", 2), []); // behind the marker: nothing to do
  const sent = requests(actions.flushReads(state));
  assert.deepEqual(sent, [{ op: "read", room: "general", seq: 3 }]);
  assert.deepEqual(actions.flushReads(state), []); // one in flight per room
  apply(state, readOk(sent[0]), { request: sent[0] });
  assert.equal(state.reads.size, 0);
});

test("reading two rooms in quick succession sends both markers (none overwrites the other)", () => {
  // The regression behind test_two_people_chat_across_a_restart: one pending slot for the
  // whole page let the second room's marker replace the first's.
  const { state } = connected([roomInfo("general", { lastSeq: 3, readSeq: 2, unread: 1 }),
    roomInfo("@ann:bob", { lastSeq: 2, peer: "Bob", unread: 2 })]);
  selectRoom(state, "@ann:bob");
  seen(state, "@ann:bob", 2);
  selectRoom(state, "general");
  seen(state, "general", 3);
  const sent = requests(actions.flushReads(state));
  assert.deepEqual(sent.sort((a, b) => a.room.localeCompare(b.room)), [
    { op: "read", room: "@ann:bob", seq: 2 }, { op: "read", room: "general", seq: 3 }]);
});

test("a marker seen while its predecessor is on the way is sent when the reply comes", () => {
  const { state } = connected([roomInfo("general", { lastSeq: 5, unread: 5 })]);
  seen(state, "general", 2);
  const [first] = requests(actions.flushReads(state));
  seen(state, "general", 5);
  assert.deepEqual(actions.flushReads(state), []);
  const after = requests(apply(state, readOk(first), { request: first }));
  assert.deepEqual(after, [{ op: "read", room: "general", seq: 5 }]);
  apply(state, readOk(after[0]), { request: after[0] });
  assert.equal(state.reads.size, 0);
});

test("a marker that did not reach the server before a restart is sent after the welcome, and "
  + "the welcome's older count does not bring the read messages back", () => {
  // Ann read Bob's message 2 in their conversation; the connection dropped before the marker
  // reached the server; Bob wrote message 3 meanwhile.
  const { state } = connected([roomInfo("general", { lastSeq: 3 }),
    roomInfo("@ann:bob", { lastSeq: 2, readSeq: 0, unread: 1, peer: "Bob" })]);
  receiveAll(state, [message("@ann:bob", 1, "ann"), message("@ann:bob", 2, "Bob")]);
  selectRoom(state, "@ann:bob");
  seen(state, "@ann:bob", 2);
  const [lost] = requests(actions.flushReads(state));
  connectionChanged(state, "waiting");
  apply(state, { op: "error", id: null, code: "disconnected", message: "closed" },
    { request: lost });
  selectRoom(state, "general");
  connectionChanged(state, "online");
  const effects = apply(state, welcome([roomInfo("general", { lastSeq: 3 }),
    roomInfo("@ann:bob", { lastSeq: 3, readSeq: 0, unread: 2, peer: "Bob" })]));
  receiveAll(state, [message("@ann:bob", 3, "Bob")]); // the resume catch-up
  const dm = state.rooms.get("@ann:bob");
  assert.equal(dm.unread, 1);
  assert.equal(badge(state, dm), "1");
  assert.deepEqual(requests(effects).filter((r) => r.op === "read"),
    [{ op: "read", room: "@ann:bob", seq: 2 }]);
});

test("a read event from another connection moves the marker", () => {
  const { state } = connected([roomInfo("general", { lastSeq: 4, readSeq: 1, unread: 3 }),
    roomInfo("a-first")]);
  apply(state, { op: "read", room: "general", seq: 3 });
  assert.equal(state.rooms.get("general").readSeq, 3);
  assert.equal(state.rooms.get("general").unread, 1);
  apply(state, { op: "read", room: "general", seq: 4 });
  assert.equal(state.rooms.get("general").unread, 0);
});

test("a refused marker is dropped when it cannot succeed and kept when it may", () => {
  const { state } = connected([roomInfo("general", { lastSeq: 4 }), roomInfo("gone")]);
  seen(state, "general", 4);
  seen(state, "gone", 0 + 1);
  const sent = requests(actions.flushReads(state));
  const byRoom = Object.fromEntries(sent.map((r) => [r.room, r]));
  apply(state, { op: "error", id: 1, code: "unavailable", message: "db" },
    { request: byRoom.general });
  apply(state, { op: "error", id: 2, code: "forbidden", message: "no" }, { request: byRoom.gone });
  assert.deepEqual([...state.reads.keys()], ["general"]);
  assert.deepEqual(requests(actions.flushReads(state)), [{ op: "read", room: "general", seq: 4 }]);
});

test("opening a room with unread messages puts the New line before the first of them", () => {
  const { state } = connected([roomInfo("a-first"), roomInfo("general", { lastSeq: 0 })]);
  receiveAll(state, [message("general", 1, "ann"), message("general", 2, "Bob"),
    message("general", 3, "Bob")]);
  apply(state, { op: "read", room: "general", seq: 1 });
  selectRoom(state, "general");
  assert.equal(state.divider, 1);
  const keys = timeline(state, state.rooms.get("general")).filter((r) => r.kind !== "day")
    .map((r) => r.key);
  assert.deepEqual(keys, ["m1", "new", "m2", "m3"]);
});

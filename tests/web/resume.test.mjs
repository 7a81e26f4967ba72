// Reconnecting: the hello's resume names the last seq received without a hole, a `gap` is
// paged in with history after=…, and the welcome says which rooms are still ours.

import assert from "node:assert/strict";
import { test } from "node:test";

import { resumePoints } from "../../clients/web/select.js";
import {
  apply, connectionChanged, GAP_PAGE, openDm, PAGE, selectRoom,
} from "../../clients/web/state.js";
import {
  connected, message, receiveAll, requests, roomInfo, seqs, welcome,
} from "./fixtures.mjs";

test("the resume point follows the welcome's last_seq, then every message without a hole", () => {
  const { state } = connected([roomInfo("general", { lastSeq: 41 }), roomInfo("@ann:bob",
    { lastSeq: 2, peer: "Bob" })]);
  assert.deepEqual(resumePoints(state), { general: 41, "@ann:bob": 2 });
  receiveAll(state, [message("general", 42), message("general", 44)]);
  assert.deepEqual(resumePoints(state), { general: 42, "@ann:bob": 2 }); // 43 is missing
  receiveAll(state, [message("general", 43)]);
  assert.deepEqual(resumePoints(state), { general: 44, "@ann:bob": 2 });
});

test("a draft conversation is not resumed (the server does not know it yet)", () => {
  const { state } = connected([roomInfo("general", { lastSeq: 1 })]);
  openDm(state, "carol");
  assert.deepEqual(resumePoints(state), { general: 1 });
});

test("a gap is paged in with history after=…, page after page; then the head passes it", () => {
  const { state } = connected([roomInfo("random", { lastSeq: 10 })]);
  const asked = requests(apply(state, { op: "gap", room: "random", after: 10, last_seq: 1200 }));
  assert.deepEqual(asked, [{ op: "history", room: "random", after: 10, limit: GAP_PAGE }]);
  // Live messages after the gap come meanwhile: the resume point stays before the hole.
  receiveAll(state, [message("random", 1201)]);
  assert.equal(state.rooms.get("random").head, 10);
  const page = (from, to) => Array.from({ length: to - from + 1 }, (_, i) => message("random",
    from + i));
  let next = requests(apply(state, { op: "ok", id: 2, room: "random", messages: page(11, 510),
    more: true }, { request: asked[0] }));
  assert.deepEqual(next, [{ op: "history", room: "random", after: 510, limit: GAP_PAGE }]);
  assert.equal(state.rooms.get("random").head, 510);
  next = requests(apply(state, { op: "ok", id: 3, room: "random", messages: page(511, 1010),
    more: true }, { request: next[0] }));
  next = requests(apply(state, { op: "ok", id: 4, room: "random", messages: page(1011, 1200),
    more: false }, { request: next[0] }));
  assert.deepEqual(next, []);
  assert.equal(state.rooms.get("random").head, 1201);
  assert.equal(seqs(state, "random").length, 1201 - 10);
});

test("a gap page that fails leaves the resume point before the hole, for the next hello", () => {
  const { state } = connected([roomInfo("random", { lastSeq: 10 })]);
  const [history] = requests(apply(state, { op: "gap", room: "random", after: 10,
    last_seq: 900 }));
  connectionChanged(state, "waiting");
  const effects = apply(state, { op: "error", id: null, code: "disconnected",
    message: "connection closed" }, { request: history });
  assert.deepEqual(effects, []);
  assert.deepEqual(resumePoints(state), { random: 10 });
});

test("a gap for a room the page does not follow is ignored", () => {
  const { state } = connected([roomInfo("general")]);
  assert.deepEqual(apply(state, { op: "gap", room: "elsewhere", after: 1, last_seq: 9 }), []);
});

test("after a reconnect, rooms left while away are forgotten and the open room is reloaded", () => {
  const { state, effects } = connected([roomInfo("general", { lastSeq: 3 }),
    roomInfo("random", { lastSeq: 5 })]);
  // The first welcome opens the first room: its latest page and its members.
  assert.equal(state.current, "general");
  assert.deepEqual(requests(effects), [{ op: "history", room: "general", limit: PAGE },
    { op: "who", room: "general" }]);
  apply(state, { op: "ok", id: 2, room: "general", messages: [message("general", 3)],
    more: true }, { request: requests(effects)[0] });
  openDm(state, "carol"); // a draft: kept across the reconnect
  connectionChanged(state, "waiting");
  connectionChanged(state, "online");
  const again = apply(state, welcome([roomInfo("general", { lastSeq: 3 })]));
  assert.deepEqual([...state.rooms.keys()].sort(), ["@ann:carol", "general"]);
  assert.equal(state.current, "@ann:carol");
  assert.deepEqual(requests(again), []); // a draft has nothing to load
  selectRoom(state, "general");
  connectionChanged(state, "waiting");
  connectionChanged(state, "online");
  const third = apply(state, welcome([roomInfo("general", { lastSeq: 3 })]));
  assert.equal(state.current, "general");
  assert.deepEqual(requests(third), [{ op: "who", room: "general" }]);
});

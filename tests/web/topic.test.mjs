// A room's topic: who may change it in the page, and the notice a `topic` entry of the room's
// log leaves in the conversation, at its place in the log, once.

import assert from "node:assert/strict";
import { test } from "node:test";

import { canSetTopic, timeline } from "../../clients/web/select.js";
import { apply, openDm, selectRoom } from "../../clients/web/state.js";
import { connected, message, receiveAll, roomInfo } from "./fixtures.mjs";

const topic = (room, seq, text, by = "ann") => ({ op: "topic", room, seq, topic: text, by,
  ts: 1_000_000 + seq });
const rows = (state, room) => timeline(state, state.rooms.get(room))
  .filter((row) => row.kind !== "day").map((row) => row.text || row.key);

test("only the room's owner may change its topic; nobody in a conversation", () => {
  const { state } = connected([roomInfo("general", { owner: "Ann" }),
    roomInfo("random", { owner: "bob" }), roomInfo("@ann:bob", { peer: "bob" })]);
  selectRoom(state, "general");
  assert.equal(canSetTopic(state), true); // names are the same user whatever their case
  selectRoom(state, "random");
  assert.equal(canSetTopic(state), false);
  selectRoom(state, "@ann:bob");
  assert.equal(canSetTopic(state), false);
  openDm(state, "carol"); // a conversation not started yet
  assert.equal(canSetTopic(state), false);
  state.current = null;
  assert.equal(canSetTopic(state), false);
});

test("a topic entry shows as a notice at its place in the log, once", () => {
  const { state } = connected([roomInfo("general", { lastSeq: 0 })]);
  receiveAll(state, [message("general", 1), topic("general", 2, "release on Friday"),
    message("general", 3), topic("general", 4, "")]);
  receiveAll(state, [topic("general", 2, "release on Friday"), topic("general", 4, "")]);
  assert.deepEqual(rows(state, "general"),
    ["m1", "ann set the topic: release on Friday", "m3", "ann cleared the topic"]);
  assert.equal(state.rooms.get("general").topic, "");
  const keys = timeline(state, state.rooms.get("general")).map((row) => row.key);
  assert.equal(new Set(keys).size, keys.length);
});

test("an older topic entry from a page takes its place among the notices already shown", () => {
  const { state } = connected([roomInfo("general", { lastSeq: 4 })]);
  receiveAll(state, [message("general", 5), topic("general", 6, "later")]);
  apply(state, { op: "joined", room: "general", user: "bob" }, { now: 2_000_000 });
  apply(state, { op: "ok", id: 5, room: "general", more: false, messages: [
    message("general", 1), topic("general", 2, "first", "Ann"), message("general", 3),
    message("general", 4)] }, { request: { op: "history", room: "general", before: 5, limit: 50 } });
  assert.deepEqual(rows(state, "general"), ["m1", "Ann set the topic: first", "m3", "m4", "m5",
    "ann set the topic: later", "bob joined"]);
  assert.equal(state.rooms.get("general").topic, "later"); // the page did not take it back
});

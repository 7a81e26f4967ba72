// Messages: kept once each by (room, seq), in seq order, whatever order they arrive in.

import assert from "node:assert/strict";
import { test } from "node:test";

import { timeline } from "../../clients/web/select.js";
import { apply, compose, openDm } from "../../clients/web/state.js";
import { connected, message, receiveAll, requests, roomInfo, seqs } from "./fixtures.mjs";

test("messages are kept once each, in seq order, whatever order they arrive in", () => {
  const { state } = connected([roomInfo("general"), roomInfo("random")]);
  receiveAll(state, [3, 1, 2, 2, 1, 3].map((seq) => message("general", seq)));
  receiveAll(state, [message("random", 2), message("random", 1)]);
  assert.deepEqual(seqs(state, "general"), [1, 2, 3]);
  assert.deepEqual(seqs(state, "random"), [1, 2]);
  const keys = timeline(state, state.rooms.get("general"))
    .filter((row) => row.kind === "message").map((row) => row.key);
  assert.deepEqual(keys, ["m1", "m2", "m3"]);
});

test("any mix of live events and overlapping history pages keeps each seq once, in order", () => {
  // A seeded pseudo-random walk: the same cases on every run.
  let seed = 42;
  const random = (n) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  for (let round = 0; round < 200; round += 1) {
    const { state } = connected([roomInfo("general")]);
    const seen = new Set();
    for (let step = 0; step < 20; step += 1) {
      const first = 1 + random(30);
      const page = Array.from({ length: 1 + random(5) }, (_, i) => message("general", first + i));
      if (random(2)) {
        apply(state, { op: "ok", id: 5, room: "general", messages: page, more: false },
          { request: { op: "history", room: "general", after: first - 1, limit: 500 } });
      } else {
        receiveAll(state, page);
      }
      for (const m of page) seen.add(m.seq);
    }
    assert.deepEqual(seqs(state, "general"), [...seen].sort((a, b) => a - b));
    // The resume point is the end of the run without a hole from where the page began.
    let head = 0;
    while (seen.has(head + 1)) head += 1;
    assert.equal(state.rooms.get("general").head, head);
  }
});

test("a message of a room the page does not know follows it from there and asks what it is", () => {
  const { state } = connected([roomInfo("general")]);
  const effects = apply(state, message("@ann:carol", 4, "carol", "hello"));
  const room = state.rooms.get("@ann:carol");
  assert.equal(room.kind, "dm");
  assert.equal(room.peer, "carol");
  assert.equal(room.head, 4);
  assert.equal(room.unread, 1);
  // (and tells the person of it: alerts.test.mjs)
  assert.deepEqual(effects.filter((effect) => !effect.alert), [{ refreshRooms: true }]);
});

test("frames the page does not know, or that are malformed, change nothing", () => {
  const { state } = connected([roomInfo("general", { lastSeq: 2 })]);
  const before = JSON.stringify([...state.rooms.get("general").messages]);
  for (const frame of [null, "text", { op: "reaction", room: "general" },
    { op: "message", room: "general", seq: "3" }, { op: "message", seq: 3 },
    { op: "ok", id: 77 }]) {
    assert.deepEqual(apply(state, frame), []);
  }
  assert.deepEqual(apply(state, { op: "ok" }, { request: { op: "unknown" } }), []);
  assert.equal(JSON.stringify([...state.rooms.get("general").messages]), before);
});

test("a draft conversation's first message creates it: followed from there, members asked", () => {
  const { state } = connected([roomInfo("general")]);
  openDm(state, "Bob");
  const room = state.rooms.get("@ann:bob");
  assert.equal(room.draft, true);
  const [send] = requests(compose(state, { text: "psst", nonce: "n1", now: 5 }));
  assert.deepEqual(send, { op: "dm", to: "Bob", text: "psst", nonce: "n1" });
  const effects = apply(state, { op: "ok", id: 3, room: "@ann:bob", seq: 1, msg_id: 7, ts: 9 },
    { request: send });
  assert.equal(room.draft, false);
  assert.equal(room.head, 1);
  assert.deepEqual(seqs(state, "@ann:bob"), [1]);
  assert.deepEqual(effects, [{ refreshRooms: true }, { request: { op: "who", room: "@ann:bob" } },
    { request: { op: "receipts", room: "@ann:bob" } }]); // (where Bob has read: receipts.js)
  // The overview gives the peer's name as registered (it was typed "bob", say).
  apply(state, { op: "ok", id: 4, rooms: [roomInfo("@ann:bob", { lastSeq: 1, peer: "BoB" })] },
    { request: { op: "rooms" } });
  assert.equal(room.label, "BoB");
});

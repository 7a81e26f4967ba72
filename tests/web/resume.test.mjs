// Reconnecting: the hello's resume names the last seq received without a hole, a `gap` is
// paged in with history after=…, and the welcome says which rooms are still ours.

import assert from "node:assert/strict";
import { test } from "node:test";

import { RESUME_BYTES, RESUME_ROOMS, resumePoints } from "../../clients/web/select.js";
import {
  apply, connectionChanged, GAP_PAGE, helloResume, openDm, PAGE, selectRoom,
} from "../../clients/web/state.js";
import {
  connected, historyPage, message, receiveAll, requests, roomInfo, seqs, welcome,
} from "./fixtures.mjs";

/** Open room `name` (the welcome may have) and answer its latest page with `messages`. */
function open(state, name, messages = []) {
  selectRoom(state, name);
  if (state.rooms.get(name).loaded) return;
  apply(state, { op: "ok", id: 2, room: name, messages, more: false },
    { request: { op: "history", room: name, limit: PAGE } });
}

const heads = (state) => Object.fromEntries([...state.rooms].map(([name, room]) => [name,
  room.head]));

test("the resume point follows the welcome's last_seq, then every message without a hole", () => {
  const { state } = connected([roomInfo("general", { lastSeq: 41 }), roomInfo("@ann:bob",
    { lastSeq: 2, peer: "Bob" })]);
  open(state, "general");
  open(state, "@ann:bob");
  assert.deepEqual(resumePoints(state), { "@ann:bob": 2, general: 41 });
  receiveAll(state, [message("general", 42), message("general", 44)]);
  assert.deepEqual(resumePoints(state), { "@ann:bob": 2, general: 42 }); // 43 is missing
  receiveAll(state, [message("general", 43)]);
  assert.deepEqual(resumePoints(state), { "@ann:bob": 2, general: 44 });
});

test("a draft conversation is not resumed (the server does not know it yet)", () => {
  const { state } = connected([roomInfo("general", { lastSeq: 1 })]);
  open(state, "general", [message("general", 1)]);
  openDm(state, "carol");
  assert.deepEqual(resumePoints(state), { general: 1 });
});

test("only the rooms whose messages the page holds are resumed: the open one first, then the "
  + "most recently opened, never more than the server takes", () => {
  assert.equal(RESUME_ROOMS, 1000); // MAX_RESUME_ROOMS, chatd/protocol/events.py
  const names = Array.from({ length: 1500 }, (_, i) => `room-${String(i).padStart(4, "0")}`);
  const { state } = connected(names.map((name, i) => roomInfo(name, { lastSeq: i })));
  // Followed, every one, but only the open one holds messages (its page is on its way).
  assert.equal(Object.values(heads(state)).filter((head) => head !== null).length, 1500);
  assert.deepEqual(resumePoints(state), { "room-0000": 0 });
  receiveAll(state, [message("room-0700", 701)]); // live: held, but the room was never opened
  assert.deepEqual(resumePoints(state), { "room-0000": 0 });
  for (const name of names.slice(0, 1200)) open(state, name);
  open(state, "room-0005");
  const resume = resumePoints(state);
  assert.equal(Object.keys(resume).length, RESUME_ROOMS);
  assert.equal(Object.keys(resume)[0], "room-0005");
  assert.equal(resume["room-0700"], 701);
  assert.equal(resume["room-1199"], 1199);
  assert.ok(!("room-0200" in resume)); // opened longest ago
  assert.ok(!("room-1200" in resume)); // never opened
  assert.deepEqual(Object.keys(resumePoints(state, 3)), ["room-0005", "room-1199", "room-1198"]);
});

test("a resume of long conversation names stays within the bytes a hello frame may take", () => {
  const peers = Array.from({ length: 1000 }, (_, i) => `p${String(i).padStart(31, "0")}`);
  const me = "a".repeat(32);
  const names = peers.map((peer) => `@${me}:${peer}`);
  const { state } = connected(names.map((name) => roomInfo(name, { lastSeq: 2 ** 40 })),
    { me });
  for (const name of names) open(state, name);
  const resume = resumePoints(state);
  const size = JSON.stringify(resume).length;
  assert.ok(size <= RESUME_BYTES, `${size}`);
  assert.ok(Object.keys(resume).length > 300 && Object.keys(resume).length < 1000);
  assert.equal(Object.keys(resume)[0], names[999]); // the open one, the last opened
});

test("after a reconnect, a room not resumed is followed afresh from its room object: what it "
  + "held is dropped, its counts are the object's, and opening it loads its latest page", () => {
  const { state } = connected([roomInfo("general", { lastSeq: 3 }),
    roomInfo("random", { lastSeq: 5, unread: 1 })]);
  open(state, "general", [message("general", 3)]);
  receiveAll(state, [message("random", 6), message("random", 8)]); // 7 is missing: a hole
  assert.equal(state.rooms.get("random").unread, 3);
  connectionChanged(state, "waiting");
  connectionChanged(state, "online");
  assert.deepEqual(helloResume(state), { general: 3 });
  const effects = apply(state, welcome([roomInfo("general", { lastSeq: 4 }),
    roomInfo("random", { lastSeq: 9, readSeq: 2, unread: 6, mentions: 1 })]));
  assert.deepEqual(requests(effects), [{ op: "who", room: "general" },
    { op: "threads", limit: 30 }, { op: "custom_emoji" }, { op: "drafts" },
    { op: "user_groups" }]);
  receiveAll(state, [message("general", 4)]); // the resume's catch-up
  const random = state.rooms.get("random");
  assert.equal(random.head, 9);
  assert.equal(random.messages.size, 0);
  assert.equal(random.unread, 6);
  assert.equal(random.mentions, 1);
  assert.equal(random.loaded, false);
  receiveAll(state, [message("random", 10)]);
  assert.equal(random.head, 10);
  assert.equal(random.unread, 7);
  assert.deepEqual(heads(state), { general: 4, random: 10 });
  assert.deepEqual(seqs(state, "general"), [3, 4]);
  assert.deepEqual(requests(selectRoom(state, "random")),
    [{ op: "history", room: "random", limit: PAGE }, { op: "who", room: "random" }]);
});

test("a room opened but past the resume's cap is dropped at the welcome, and loaded again when "
  + "opened", () => {
  const { state } = connected([roomInfo("alpha", { lastSeq: 2 }),
    roomInfo("beta", { lastSeq: 3 }), roomInfo("gamma", { lastSeq: 4 })]);
  open(state, "beta", [message("beta", 3)]);
  open(state, "gamma", [message("gamma", 4)]);
  open(state, "alpha", [message("alpha", 2)]);
  connectionChanged(state, "waiting");
  connectionChanged(state, "online");
  assert.deepEqual(helloResume(state, 2), { alpha: 2, gamma: 4 });
  apply(state, welcome([roomInfo("alpha", { lastSeq: 2 }), roomInfo("beta", { lastSeq: 5 }),
    roomInfo("gamma", { lastSeq: 4 })]));
  assert.deepEqual(heads(state), { alpha: 2, beta: 5, gamma: 4 });
  assert.deepEqual(seqs(state, "gamma"), [4]);
  assert.deepEqual(seqs(state, "beta"), []);
  assert.deepEqual(requests(selectRoom(state, "beta")),
    [{ op: "history", room: "beta", limit: PAGE }, { op: "who", room: "beta" }]);
});

test("a gap is paged in with history after=…, page after page; then the head passes it", () => {
  const { state } = connected([roomInfo("random", { lastSeq: 10 })]);
  const asked = requests(apply(state, { op: "gap", room: "random", after: 10, last_seq: 1200 }));
  assert.deepEqual(asked, [{ op: "history", room: "random", after: 10, limit: GAP_PAGE }]);
  // Live messages after the gap come meanwhile: the resume point stays before the hole.
  receiveAll(state, [message("random", 1201)]);
  assert.equal(state.rooms.get("random").head, 10);
  const page = (from, to) => historyPage("random", from, to);
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
    { op: "who", room: "general" }, { op: "threads", limit: 30 }, { op: "custom_emoji" }, { op: "drafts" },
    { op: "user_groups" }]);
  apply(state, { op: "ok", id: 2, room: "general", messages: [message("general", 3)],
    more: true }, { request: requests(effects)[0] });
  openDm(state, "carol"); // a draft: kept across the reconnect
  connectionChanged(state, "waiting");
  connectionChanged(state, "online");
  const again = apply(state, welcome([roomInfo("general", { lastSeq: 3 })]));
  assert.deepEqual([...state.rooms.keys()].sort(), ["@ann:carol", "general"]);
  assert.equal(state.current, "@ann:carol");
  // A draft has nothing to load; the followed threads and the custom emoji are asked after
  // every welcome.
  assert.deepEqual(requests(again), [{ op: "threads", limit: 30 }, { op: "custom_emoji" }, { op: "drafts" },
    { op: "user_groups" }]);
  selectRoom(state, "general");
  connectionChanged(state, "waiting");
  connectionChanged(state, "online");
  const third = apply(state, welcome([roomInfo("general", { lastSeq: 3 })]));
  assert.equal(state.current, "general");
  assert.deepEqual(requests(third), [{ op: "who", room: "general" },
    { op: "threads", limit: 30 }, { op: "custom_emoji" }, { op: "drafts" },
    { op: "user_groups" }]);
});

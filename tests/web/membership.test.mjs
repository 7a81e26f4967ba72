// Membership: `joined` and `left` keep the member list and the notices of a room; for the user
// themselves they add or remove the room.

import assert from "node:assert/strict";
import { test } from "node:test";

import { timeline } from "../../clients/web/select.js";
import { apply, seen, selectRoom } from "../../clients/web/state.js";
import { connected, message, requests, roomInfo } from "./fixtures.mjs";

function withMembers(rooms = [roomInfo("general", { lastSeq: 2 })]) {
  const { state, effects } = connected(rooms);
  const who = requests(effects).find((r) => r.op === "who");
  apply(state, { op: "ok", id: 2, room: who.room, members: [{ user: "ann", status: "online" },
    { user: "dave", status: "offline" }] }, { request: who });
  return state;
}

test("someone joining is added to the members, online, noticed after the last message", () => {
  const state = withMembers();
  apply(state, message("general", 2));
  apply(state, { op: "joined", room: "general", user: "Bob" }, { now: 50 });
  apply(state, { op: "joined", room: "general", user: "carol", by: "ann" }, { now: 60 });
  apply(state, { op: "joined", room: "general", user: "bob" }, { now: 70 }); // again: once
  const room = state.rooms.get("general");
  assert.deepEqual(room.members.map((m) => m.user), ["ann", "Bob", "carol", "dave"]);
  assert.deepEqual(room.notices.map((n) => [n.after, n.text]),
    [[2, "Bob joined"], [2, "ann added carol"], [2, "bob joined"]]);
  apply(state, message("general", 3, "Bob"));
  const rows = timeline(state, room).filter((r) => r.kind !== "day").map((r) => r.text || r.key);
  assert.deepEqual(rows, ["m2", "Bob joined", "ann added carol", "bob joined", "m3"]);
  assert.equal(state.presence.get("bob").status, "online");
});

test("someone added by another is not assumed online: the members are asked again", () => {
  const state = withMembers();
  const effects = apply(state, { op: "joined", room: "general", user: "carol", by: "ann" });
  assert.deepEqual(requests(effects), [{ op: "who", room: "general" }]);
  assert.equal(state.presence.has("carol"), false);
  // Known already (a contact, say): nothing to ask.
  apply(state, { op: "presence", user: "erin", status: "offline" });
  assert.deepEqual(apply(state, { op: "joined", room: "general", user: "erin", by: "ann" }), []);
  assert.equal(state.presence.get("erin").status, "offline");
});

test("someone leaving is removed from the members, with a notice", () => {
  const state = withMembers();
  apply(state, { op: "left", room: "general", user: "DAVE" }, { now: 5 });
  apply(state, { op: "left", room: "general", user: "erin", by: "ann" }, { now: 6 });
  const room = state.rooms.get("general");
  assert.deepEqual(room.members.map((m) => m.user), ["ann"]);
  assert.deepEqual(room.notices.map((n) => n.text), ["DAVE left", "ann removed erin"]);
});

test("being added to a room makes it appear, looked up, with who did it", () => {
  const state = withMembers();
  const effects = apply(state, { op: "joined", room: "secret", user: "ann", by: "Bob" });
  assert.ok(state.rooms.has("secret"));
  assert.deepEqual(effects, [{ refreshRooms: true }, { toast: "Bob added you to #secret" }]);
  assert.deepEqual(apply(state, { op: "joined", room: "secret", user: "ann" }), []);
});

test("being removed from the open room forgets it and opens the next one", () => {
  const state = withMembers([roomInfo("general", { lastSeq: 2 }), roomInfo("random")]);
  seen(state, "general", 2);
  const effects = apply(state, { op: "left", room: "general", user: "ann", by: "Bob" });
  assert.equal(state.rooms.has("general"), false);
  assert.equal(state.reads.has("general"), false);
  assert.equal(state.current, "random");
  assert.deepEqual(effects[0], { toast: "Bob removed you from #general" });
  assert.deepEqual(requests(effects).map((r) => r.op), ["history", "who"]);
});

test("leaving: the room goes and the next one opens, also when `left` came first", () => {
  const state = withMembers([roomInfo("general"), roomInfo("random")]);
  const leave = { op: "leave", room: "general" };
  apply(state, { op: "left", room: "general", user: "ann" });
  assert.equal(state.current, "random");
  const effects = apply(state, { op: "ok", id: 9 }, { request: leave });
  assert.equal(state.current, "random");
  assert.deepEqual(effects, [{ toast: "You left #general" }]);
  selectRoom(state, "random");
  assert.deepEqual(apply(state, { op: "error", id: 10, code: "bad_request", message: "no" },
    { request: { op: "leave", room: "random" } }), [{ toast: "Cannot leave: no" }]);
});

test("joining a room opens it with its latest messages, followed from its last seq", () => {
  const { state } = connected([roomInfo("general")]);
  const join = { op: "join", room: "Music" };
  const effects = apply(state, { op: "ok", id: 9, room: "music", last_seq: 12, private: false,
    topic: "tunes", messages: [message("music", 11), message("music", 12)], more: true },
  { request: join });
  const room = state.rooms.get("music");
  assert.equal(state.current, "music");
  assert.equal(room.head, 12);
  assert.equal(room.topic, "tunes");
  assert.equal(room.more, true);
  assert.deepEqual(effects[0], { refreshRooms: true });
  // The page is loaded; what was said before joining is not unread (readmarks.test.mjs).
  assert.deepEqual(requests(effects), [{ op: "read", room: "music", seq: 12 },
    { op: "who", room: "music" }]);
  apply(state, message("music", 13));
  assert.equal(room.head, 13);
});

test("a join's own `joined` event may come before its reply: the room is still all read", () => {
  // The announcement of one's own join is not held back with the room's messages: it can
  // reach the page first. The room it adds is not loaded and was never read; the join's
  // reply must still open it with nothing unread (and not land on a "New messages" line at
  // the top of the page, which would load every older page at once).
  const { state } = connected([roomInfo("general")]);
  apply(state, { op: "joined", room: "music", user: state.me }, { now: 5 });
  const effects = apply(state, { op: "ok", id: 9, room: "music", last_seq: 12, private: false,
    topic: "", messages: [message("music", 11), message("music", 12)], more: true },
  { request: { op: "join", room: "music" } });
  assert.deepEqual(requests(effects).filter((r) => r.op === "read"),
    [{ op: "read", room: "music", seq: 12 }]);
  assert.equal(state.rooms.get("music").unread, 0);
});

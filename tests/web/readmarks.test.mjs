// Reading: a room opens at its first unread message, and the read marker moves only over the
// messages seen on screen, one unbroken run from the marker on (readmarks.js).

import assert from "node:assert/strict";
import { test } from "node:test";

import { OPEN_MAX, openingPage, readUpTo, sighted } from "../../clients/web/readmarks.js";
import { actions, apply, PAGE, selectRoom, setVisible } from "../../clients/web/state.js";
import { connected, message, receiveAll, requests, roomInfo } from "./fixtures.mjs";

/** A connected page with room `general` (lastSeq, readSeq) opened and its messages loaded. */
function opened({ lastSeq = 10, readSeq = 4, from = () => "Bob" } = {}) {
  const { state, effects } = connected([roomInfo("general", { lastSeq, readSeq,
    unread: lastSeq - readSeq })]);
  const [history] = requests(effects).filter((r) => r.op === "history");
  const messages = [];
  for (let seq = Math.max(1, lastSeq - history.limit + 1); seq <= lastSeq; seq += 1) {
    messages.push(message("general", seq, from(seq)));
  }
  apply(state, { op: "ok", id: 2, room: "general", messages, more: messages[0].seq > 1,
    last_seq: lastSeq }, { request: history });
  return { state, history, room: state.rooms.get("general") };
}

const markers = (effects, state) => effects.length ? requests(actions.flushReads(state)) : [];

test("a room opens with a page that reaches back to its read marker", () => {
  const room = (lastSeq, readSeq, unread) => ({ lastSeq, readSeq, unread });
  assert.equal(openingPage(room(100, 100, 0)), PAGE);
  assert.equal(openingPage(room(100, 90, 10)), PAGE);
  assert.equal(openingPage(room(400, 66, 334)), 335);
  assert.equal(openingPage(room(9000, 10, 8990)), OPEN_MAX);
  const { state, history } = opened({ lastSeq: 400, readSeq: 66 });
  assert.equal(history.limit, 335);
  assert.equal(state.current, "general");
  assert.equal(state.divider, 66, "the room opened by the welcome has its New line too");
});

test("the marker moves over the unbroken run of seen messages only", () => {
  const { state, room } = opened({ lastSeq: 10, readSeq: 4 });
  assert.deepEqual(markers(sighted(state, "general", [5, 6]), state),
    [{ op: "read", room: "general", seq: 6 }]);
  assert.equal(room.readSeq, 6);
  assert.equal(room.unread, 4);
  // The end of the room, seen after a jump over 7 and 8: nothing more is read.
  assert.deepEqual(sighted(state, "general", [9, 10]), []);
  assert.equal(room.readSeq, 6);
  sighted(state, "general", [7]);
  assert.equal(room.readSeq, 7);
  // 8 was the last one missing: 9 and 10 were seen already.
  sighted(state, "general", [8]);
  assert.equal(room.readSeq, 10);
  assert.equal(room.unread, 0);
  assert.deepEqual([...state.sighted.get("general")], []);
});

test("one's own messages count as seen", () => {
  const { state, room } = opened({ lastSeq: 10, readSeq: 4,
    from: (seq) => (seq === 7 || seq === 10 ? "ann" : "Bob") });
  sighted(state, "general", [5, 6, 8, 9]);
  assert.equal(room.readSeq, 10);
});

test("nothing is read before the room's first page is there, or while the tab is hidden", () => {
  const { state } = connected([roomInfo("a-first"),
    roomInfo("general", { lastSeq: 10, readSeq: 4, unread: 6 })]);
  const room = state.rooms.get("general");
  receiveAll(state, [message("general", 11)]); // a live one, before general was ever opened
  const effects = selectRoom(state, "general");
  assert.deepEqual(sighted(state, "general", [11]), [], "5 to 10 are not even loaded");
  assert.equal(room.readSeq, 4);
  const [history] = requests(effects).filter((r) => r.op === "history");
  assert.equal(history.limit, PAGE);
  apply(state, { op: "ok", id: 3, room: "general", more: false, last_seq: 11,
    messages: [5, 6, 7, 8, 9, 10, 11].map((seq) => message("general", seq)) },
  { request: history });
  setVisible(state, false);
  assert.deepEqual(sighted(state, "general", [5, 6]), []);
  assert.equal(room.readSeq, 4);
  setVisible(state, true);
  sighted(state, "general", [5, 6, 7, 8, 9, 10]);
  assert.equal(room.readSeq, 11, "11 was seen before the page came");
});

test("more unread than a first page holds: the older ones are skipped, reading goes on", () => {
  const { state, room, history } = opened({ lastSeq: OPEN_MAX + 100, readSeq: 0 });
  assert.equal(history.limit, OPEN_MAX);
  assert.equal(room.oldest, 101);
  sighted(state, "general", [101, 102]);
  assert.equal(room.readSeq, 102);
});

test("readUpTo: null when nothing after the marker was seen", () => {
  const { room } = opened({ lastSeq: 3, readSeq: 1 });
  assert.equal(readUpTo(room, new Set(), "ann"), null);
  assert.equal(readUpTo(room, new Set([3]), "ann"), null);
  assert.equal(readUpTo(room, new Set([2, 3]), "ann"), 3);
});

test("a room joined has nothing unread: its marker goes to the end at once", () => {
  const { state } = connected([roomInfo("a-first")]);
  const asked = { op: "join", room: "lobby" };
  const effects = apply(state, { op: "ok", id: 4, room: "lobby", private: false, topic: "",
    last_seq: 130, more: true, messages: [message("lobby", 129), message("lobby", 130)] },
  { request: asked });
  const lobby = state.rooms.get("lobby");
  assert.equal(lobby.readSeq, 130);
  assert.equal(lobby.unread, 0);
  assert.equal(state.current, "lobby");
  assert.equal(state.divider, null);
  assert.deepEqual(requests(effects).filter((r) => r.op === "read"),
    [{ op: "read", room: "lobby", seq: 130 }]);
  // Joining a room one is in already changes no marker.
  const again = apply(state, { op: "ok", id: 5, room: "a-first", private: false, topic: "",
    last_seq: 7, more: false, messages: [] }, { request: { op: "join", room: "a-first" } });
  assert.deepEqual(requests(again).filter((r) => r.op === "read"), []);
});

// Pinned messages: `pinned` entries change their message as reactions do (live, on resume, in
// pages of history), the room's pin count follows its room objects and the entries after them,
// the person's own pins wait in the outbox, and the "Pinned" panel lists the open room's pins
// and follows the room's entries.

import assert from "node:assert/strict";
import { test } from "node:test";

import * as outbox from "../../clients/web/outbox.js";
import { statusText } from "../../clients/web/pins.js";
import { badge, timeline } from "../../clients/web/select.js";
import { shownMessage } from "../../clients/web/select-messages.js";
import {
  apply, closePins, connectionChanged, morePins, openPins, pinMessage, retryPins, selectRoom,
} from "../../clients/web/state.js";
import { connected, message, receiveAll, requests, roomInfo, welcome } from "./fixtures.mjs";

const pinned = (room, seq, msgSeq, on = true, by = "Bob") => ({ op: "pinned", room, seq,
  msg_id: 1000 + msgSeq, by, on, ts: 3_000_000 + seq });
const deleted = (room, seq, msgSeq, by = "Bob") => ({ op: "deleted", room, seq,
  msg_id: 1000 + msgSeq, by, ts: 2_000_000 + seq });
const edited = (room, seq, msgSeq, text) => ({ op: "edited", room, seq, msg_id: 1000 + msgSeq,
  text, from: "Bob", ts: 2_000_000 + seq });
const held = (state, room, seq) => state.rooms.get(room).messages.get(seq);
const shown = (state, room, seq) => shownMessage(state, state.rooms.get(room),
  held(state, room, seq));
const notices = (state, room) => timeline(state, state.rooms.get(room))
  .filter((row) => row.kind === "notice").map((row) => row.text);
/** A message object as the server gives it while pinned (by the entry `pinSeq`). */
const pinnedMessage = (room, seq, pinSeq, by = "Bob", extra = {}) => message(room, seq, "Bob",
  `m${seq}`, { rev: pinSeq, pinned: { by, ts: 3_000_000 + pinSeq, seq: pinSeq }, ...extra });
const pinsOf = (state) => state.pinsPanel.items.map((item) => item.seq);

test("a pinned entry pins its message in place, once; an unpin takes it off", () => {
  const { state } = connected([roomInfo("general", { lastSeq: 0 })]);
  selectRoom(state, "general");
  const effects = receiveAll(state, [message("general", 1), message("general", 2),
    pinned("general", 3, 1)]);
  assert.deepEqual(held(state, "general", 1).pinned, { by: "Bob", ts: 3_000_003, seq: 3 });
  assert.equal(held(state, "general", 1).rev, 3);
  assert.deepEqual(shown(state, "general", 1).pinned, { by: "Bob", ts: 3_000_003 });
  assert.equal(shown(state, "general", 2).pinned, null);
  // The same entry again (a resume that replays it, a page): nothing changes twice.
  receiveAll(state, [pinned("general", 3, 1)]);
  assert.deepEqual(notices(state, "general"), ["Bob pinned a message"]);
  assert.equal(state.rooms.get("general").pins, 1);
  // A quiet line: not unread, no alert, no toast.
  assert.equal(effects.some((effect) => effect.alert || effect.toast), false);
  assert.equal(state.rooms.get("general").unread, 2);
  receiveAll(state, [pinned("general", 4, 1, false, "carol")]);
  assert.equal(held(state, "general", 1).pinned, undefined);
  assert.equal(shown(state, "general", 1).pinned, null);
  assert.deepEqual(notices(state, "general"), ["Bob pinned a message",
    "carol unpinned a message"]);
  assert.equal(state.rooms.get("general").pins, 0);
  assert.equal(state.rooms.get("general").head, 4);
  // Each line is about its message: pressing it shows the message.
  assert.deepEqual(timeline(state, state.rooms.get("general"))
    .filter((row) => row.kind === "notice").map((row) => row.msgId), [1001, 1001]);
});

test("the pin count is the room object's, moved by the entries after it, once each", () => {
  const { state } = connected([roomInfo("general", { lastSeq: 10, pins: 2 })]);
  const room = state.rooms.get("general");
  assert.equal(room.pins, 2);
  receiveAll(state, [pinned("general", 11, 4), pinned("general", 12, 5)]);
  assert.equal(room.pins, 4);
  // An object read before those entries (its reply came after them) is older: left alone.
  apply(state, { op: "ok", id: 3, rooms: [roomInfo("general", { lastSeq: 10, pins: 2 })],
    more: false }, { request: { op: "rooms", joined: true } });
  assert.equal(room.pins, 4);
  // One read after the first entry only: its count, with the second entry.
  apply(state, { op: "ok", id: 4, rooms: [roomInfo("general", { lastSeq: 11, pins: 3 })],
    more: false }, { request: { op: "rooms", joined: true } });
  assert.equal(room.pins, 4);
  // The entries again (a page of history): counted already.
  apply(state, { op: "ok", id: 5, room: "general", more: false,
    messages: [pinned("general", 11, 4), pinned("general", 12, 5)] },
  { request: { op: "history", room: "general", after: 10, limit: 500 } });
  assert.equal(room.pins, 4);
  // An object that leaves `pins` out: none pinned any more.
  apply(state, { op: "ok", id: 6, rooms: [roomInfo("general", { lastSeq: 20 })], more: false },
    { request: { op: "rooms", joined: true } });
  assert.equal(room.pins, 0);
});

test("a room listed after its pins came live counts them on top of its object", () => {
  const state = connected().state; // a fresh page...
  connectionChanged(state, "online");
  apply(state, { ...welcome([roomInfo("alpha")]), rooms_more: true });
  // ...whose #general is on a later page: its entries come first.
  receiveAll(state, [message("general", 8), pinned("general", 9, 8)]);
  apply(state, { op: "ok", id: 7, rooms: [roomInfo("general", { lastSeq: 7, pins: 1 })],
    more: false }, { request: { op: "rooms", joined: true, after: "alpha" } });
  assert.equal(state.rooms.get("general").pins, 2);
});

test("deleting a pinned message takes it off the count; an unknown one asks the room again", () => {
  const { state } = connected([roomInfo("general", { lastSeq: 10, pins: 3 })]);
  const room = state.rooms.get("general");
  apply(state, { op: "ok", id: 5, room: "general", more: false,
    messages: [pinnedMessage("general", 9, 10), message("general", 8)] },
  { request: { op: "history", room: "general", limit: 50 } });
  let effects = receiveAll(state, [deleted("general", 11, 9)]);
  assert.equal(room.pins, 2);
  assert.equal(held(state, "general", 9).pinned, undefined);
  assert.equal(effects.some((effect) => effect.refreshRooms), false);
  // A message held and not pinned: nothing to count, nothing to ask.
  effects = receiveAll(state, [deleted("general", 12, 8)]);
  assert.equal(room.pins, 2);
  assert.equal(effects.some((effect) => effect.refreshRooms), false);
  // A message pinned and unpinned live, then deleted: known, not pinned.
  effects = receiveAll(state, [pinned("general", 13, 3), pinned("general", 14, 3, false),
    deleted("general", 15, 3)]);
  assert.equal(room.pins, 2);
  assert.equal(effects.some((effect) => effect.refreshRooms), false);
  // An old message the page does not hold: it may have been pinned.
  effects = receiveAll(state, [deleted("general", 16, 2)]);
  assert.equal(room.pins, 2);
  assert.equal(effects.some((effect) => effect.refreshRooms), true);
  // The object that answers says the count after the deletion.
  apply(state, { op: "ok", id: 6, rooms: [roomInfo("general", { lastSeq: 16, pins: 1 })],
    more: false }, { request: { op: "rooms", joined: true } });
  assert.equal(room.pins, 1);
});

test("a message object read pinned stays pinned; its tombstone does not", () => {
  const { state } = connected([roomInfo("general", { lastSeq: 10 })]);
  apply(state, { op: "ok", id: 5, room: "general", more: false,
    messages: [pinnedMessage("general", 4, 6), message("general", 5, "Bob", "", {
      deleted: true, rev: 9, pinned: { by: "Bob", ts: 1 } })] },
  { request: { op: "history", room: "general", limit: 50 } });
  assert.deepEqual(held(state, "general", 4).pinned, { by: "Bob", ts: 3_000_006, seq: 6 });
  assert.equal(held(state, "general", 5).pinned, undefined);
  assert.equal(held(state, "general", 5).deleted, true);
});

test("pinned entries from a resume's gap apply as live ones do, after the hole is filled", () => {
  const { state } = connected([roomInfo("general", { lastSeq: 0 })]);
  receiveAll(state, [message("general", 1), message("general", 2)]);
  apply(state, { op: "gap", room: "general", after: 2, last_seq: 6 });
  // Live goes on after the gap: an unpin at 7. The pin at 4 is in the gap.
  apply(state, pinned("general", 7, 1, false));
  assert.equal(held(state, "general", 1).pinned, undefined);
  apply(state, { op: "ok", id: 5, room: "general", more: false, messages: [
    message("general", 3), pinned("general", 4, 1), pinned("general", 5, 2),
    message("general", 6)] },
  { request: { op: "history", room: "general", after: 2, limit: 500 } });
  assert.equal(held(state, "general", 1).pinned, undefined, "the later unpin holds");
  assert.equal(held(state, "general", 1).rev, 7);
  assert.deepEqual(held(state, "general", 2).pinned, { by: "Bob", ts: 3_000_005, seq: 5 });
  assert.equal(state.rooms.get("general").head, 7);
  assert.deepEqual(notices(state, "general"), ["Bob pinned a message", "Bob pinned a message",
    "Bob unpinned a message"]);
  assert.equal(state.rooms.get("general").pins, 1);
});

test("a pin goes through the outbox, shows at once, and is done once its entry is in", () => {
  const { state } = connected([roomInfo("general", { lastSeq: 0 })]);
  selectRoom(state, "general");
  receiveAll(state, [message("general", 1)]);
  const effects = pinMessage(state, { room: "general", msgId: 1001, on: true, key: "k1",
    now: 5 });
  assert.deepEqual(requests(effects), [{ op: "pin", room: "general", msg_id: 1001, on: true }]);
  assert.deepEqual(shown(state, "general", 1).pinned, { by: "ann", ts: null });
  // Pinning it again while the first is on its way asks nothing.
  assert.deepEqual(pinMessage(state, { room: "general", msgId: 1001, on: true, key: "k2",
    now: 6 }), []);
  apply(state, { op: "ok", id: 8, room: "general", seq: 2, msg_id: 1001 },
    { request: requests(effects)[0] });
  assert.equal(state.outbox.length, 1, "kept until its entry is in the message");
  apply(state, pinned("general", 2, 1, true, "ann"));
  assert.equal(state.outbox.length, 0);
  assert.deepEqual(shown(state, "general", 1).pinned, { by: "ann", ts: 3_000_002 });
  // A pin resent after a reload (saved, restored) is the same request.
  const saved = outbox.restore(outbox.save([outbox.change({ key: "k3", room: "general",
    msgId: 1001, change: { op: "pin", on: false }, ts: 7 })]));
  assert.deepEqual(outbox.request(saved[0]), { op: "pin", room: "general", msg_id: 1001,
    on: false });
});

test("an unpin refused for good is dropped and said", () => {
  const { state } = connected([roomInfo("general", { lastSeq: 0 })]);
  selectRoom(state, "general");
  receiveAll(state, [message("general", 1), pinned("general", 2, 1)]);
  const asked = requests(pinMessage(state, { room: "general", msgId: 1001, on: false,
    key: "k1", now: 5 }))[0];
  assert.equal(shown(state, "general", 1).pinned, null);
  const effects = apply(state, { op: "error", id: 8, code: "forbidden",
    message: "not a member" }, { request: asked });
  assert.deepEqual(effects, [{ toast: "Could not unpin the message: not a member" }]);
  assert.deepEqual(shown(state, "general", 1).pinned, { by: "Bob", ts: 3_000_002 });
  assert.equal(state.outbox.length, 0);
});

test("no pin in an archived room, of a deleted message, or of a message not held", () => {
  const { state } = connected([roomInfo("general", { lastSeq: 0 }),
    roomInfo("old", { lastSeq: 0, archived: true })]);
  receiveAll(state, [message("general", 1), deleted("general", 2, 1), message("old", 1)]);
  assert.deepEqual(pinMessage(state, { room: "general", msgId: 1001, on: true, key: "a" }), []);
  assert.deepEqual(pinMessage(state, { room: "general", msgId: 1077, on: true, key: "b" }), []);
  assert.deepEqual(pinMessage(state, { room: "old", msgId: 1001, on: true, key: "c" }), []);
  assert.equal(shown(state, "old", 1).canPin, false);
  assert.equal(shown(state, "general", 1).canPin, false);
});

test("the panel lists the open room's pins, pages by the pin's entry, and follows the room", () => {
  const { state } = connected([roomInfo("general", { lastSeq: 30, pins: 3 }),
    roomInfo("random", { lastSeq: 0 })]);
  selectRoom(state, "general");
  const [first] = requests(openPins(state));
  assert.deepEqual(first, { op: "pins", room: "general", limit: 20 });
  assert.equal(statusText(state.pinsPanel), "Loading the pinned messages…");
  apply(state, { op: "ok", id: 9, more: true, messages: [pinnedMessage("general", 5, 29),
    pinnedMessage("general", 2, 25)] }, { request: first });
  assert.deepEqual(pinsOf(state), [5, 2]);
  assert.equal(statusText(state.pinsPanel), "2+ pinned messages, the latest first");
  const [next] = requests(morePins(state));
  assert.deepEqual(next, { op: "pins", room: "general", limit: 20, before: 25 });
  assert.deepEqual(morePins(state), [], "one page on its way at a time");
  apply(state, { op: "ok", id: 10, more: false, messages: [pinnedMessage("general", 9, 12)] },
    { request: next });
  assert.deepEqual(pinsOf(state), [5, 2, 9]);
  assert.equal(state.pinsPanel.more, false);
  // Another room opened: the panel shows its pins; a late page of the first changes nothing.
  const [other] = requests(selectRoom(state, "random"));
  assert.ok(requests(selectRoom(state, "general")).some((r) => r.op === "pins"));
  apply(state, { op: "ok", id: 11, more: false, messages: [pinnedMessage("random", 1, 3)] },
    { request: requests(selectRoom(state, "random")).find((r) => r.op === "pins") || other });
  assert.equal(state.pinsPanel.room, "random");
  closePins(state);
  assert.equal(state.pinsPanel.room, null);
  assert.deepEqual(requests(selectRoom(state, "general")).filter((r) => r.op === "pins"), []);
});

test("the panel follows the room's entries: pins first, unpins and deletions out, edits in", () => {
  const { state } = connected([roomInfo("general", { lastSeq: 20, pins: 2 })]);
  selectRoom(state, "general");
  const [asked] = requests(openPins(state));
  apply(state, { op: "ok", id: 9, more: false, messages: [pinnedMessage("general", 5, 19),
    pinnedMessage("general", 3, 18)] }, { request: asked });
  // A message the page holds, pinned live: first in the list.
  receiveAll(state, [message("general", 21), pinned("general", 22, 21, true, "carol")]);
  assert.deepEqual(pinsOf(state), [21, 5, 3]);
  assert.equal(state.rooms.get("general").pins, 3);
  receiveAll(state, [edited("general", 23, 5, "new words"), pinned("general", 24, 3, false),
    deleted("general", 25, 21)]);
  assert.deepEqual(pinsOf(state), [5]);
  assert.equal(state.pinsPanel.items[0].text, "new words");
  assert.equal(state.rooms.get("general").pins, 1);
  // A message the page does not hold, pinned live: the first page is asked again and merged.
  const effects = receiveAll(state, [pinned("general", 26, 1)]);
  const [again] = requests(effects);
  assert.deepEqual(again, { op: "pins", room: "general", limit: 20 });
  apply(state, { op: "ok", id: 12, more: false, messages: [pinnedMessage("general", 1, 26),
    pinnedMessage("general", 5, 19, "Bob", { rev: 23, text: "new words" })] },
  { request: again });
  assert.deepEqual(pinsOf(state), [1, 5]);
  assert.equal(state.pinsPanel.items[1].text, "new words");
});

test("an unpin from the panel of a message the room does not hold", () => {
  const { state } = connected([roomInfo("general", { lastSeq: 20, pins: 1 })]);
  selectRoom(state, "general");
  const [asked] = requests(openPins(state));
  apply(state, { op: "ok", id: 9, more: false, messages: [pinnedMessage("general", 2, 19)] },
    { request: asked });
  const [unpin] = requests(pinMessage(state, { room: "general", msgId: 1002, on: false,
    key: "k", now: 1 }));
  assert.deepEqual(unpin, { op: "pin", room: "general", msg_id: 1002, on: false });
  apply(state, { op: "ok", id: 13, room: "general", seq: 21, msg_id: 1002 },
    { request: unpin });
  apply(state, pinned("general", 21, 2, false, "ann"));
  assert.deepEqual(pinsOf(state), []);
  assert.equal(state.outbox.length, 0);
  assert.equal(state.rooms.get("general").pins, 0);
  assert.equal(statusText(state.pinsPanel),
    "Nothing is pinned here yet. Pin a message from its menu to keep it here.");
});

test("a failed listing says why and is asked again; a reconnect lists again", () => {
  const { state } = connected([roomInfo("general", { lastSeq: 0 })]);
  selectRoom(state, "general");
  const [asked] = requests(openPins(state));
  apply(state, { op: "error", id: 9, code: "unknown_op", message: "unknown op" },
    { request: asked });
  assert.equal(statusText(state.pinsPanel), "This server does not keep pinned messages.");
  const [again] = requests(retryPins(state));
  assert.deepEqual(again, asked);
  connectionChanged(state, "waiting");
  apply(state, { op: "error", id: 9, code: "disconnected", message: "" }, { request: again });
  connectionChanged(state, "online");
  const effects = apply(state, welcome([roomInfo("general", { lastSeq: 0 })]));
  assert.ok(requests(effects).some((r) => r.op === "pins" && r.room === "general"));
});

test("badges and unread counts ignore pins", () => {
  const { state } = connected([roomInfo("general", { lastSeq: 0 }), roomInfo("random")]);
  selectRoom(state, "random");
  receiveAll(state, [message("general", 1), pinned("general", 2, 1)]);
  assert.equal(badge(state, state.rooms.get("general")), "1");
});

test("a whole list of pins says the room's count as of its last_seq", () => {
  const { state } = connected([roomInfo("general", { lastSeq: 20, pins: 3 })]);
  selectRoom(state, "general");
  // The deletion of a message not held: perhaps pinned.
  receiveAll(state, [deleted("general", 21, 2)]);
  const [asked] = requests(openPins(state));
  receiveAll(state, [pinned("general", 23, 7)]); // after the list was read
  apply(state, { op: "ok", id: 9, more: false, last_seq: 22, messages: [
    pinnedMessage("general", 5, 19), pinnedMessage("general", 3, 18)] }, { request: asked });
  assert.equal(state.rooms.get("general").pins, 3);
  // A page that is not the whole list says nothing of the count.
  const [again] = requests(openPins(state));
  apply(state, { op: "ok", id: 9, more: true, last_seq: 23, messages: [
    pinnedMessage("general", 5, 19)] }, { request: again });
  assert.equal(state.rooms.get("general").pins, 3);
});

test("a gap's page: a pin of a message not held, a deletion decided after the hole", () => {
  const { state } = connected([roomInfo("general", { lastSeq: 10, pins: 1 })]);
  selectRoom(state, "general");
  const [asked] = requests(openPins(state));
  apply(state, { op: "ok", id: 9, more: false, last_seq: 10, messages: [
    pinnedMessage("general", 4, 9)] }, { request: asked });
  apply(state, { op: "gap", room: "general", after: 10, last_seq: 13 });
  // Live after the gap: message 4 deleted. Was it pinned still? The gap may unpin it.
  apply(state, deleted("general", 14, 4));
  const room = state.rooms.get("general");
  assert.equal(room.pins, 1, "waits for the hole");
  const effects = apply(state, { op: "ok", id: 5, room: "general", more: false, messages: [
    pinned("general", 11, 2), message("general", 12), pinned("general", 13, 4, false)] },
  { request: { op: "history", room: "general", after: 10, limit: 500 } });
  assert.equal(room.pins, 1, "message 2 pinned; message 4 unpinned, then deleted");
  // The panel: message 4 out, and message 2 (not held) asked for with the first page.
  assert.deepEqual(pinsOf(state), []);
  assert.deepEqual(requests(effects).filter((r) => r.op === "pins"),
    [{ op: "pins", room: "general", limit: 20 }]);
  assert.equal(effects.some((effect) => effect.refreshRooms), false);
});

test("a deletion that says unpinned moves the count at once, hole or not, asking nothing", () => {
  const { state } = connected([roomInfo("general", { lastSeq: 20, pins: 3 })]);
  selectRoom(state, "general");
  const room = state.rooms.get("general");
  // A message not held, of which no pin was seen: the entry says it.
  const effects = receiveAll(state, [{ ...deleted("general", 21, 2), unpinned: true }]);
  assert.equal(room.pins, 2);
  assert.equal(effects.some((effect) => effect.refreshRooms), false);
  assert.deepEqual(requests(effects).filter((r) => r.op === "rooms"), []);
  // After a hole: decided without waiting for it (the same entry again moves nothing).
  apply(state, { op: "gap", room: "general", after: 21, last_seq: 24 });
  apply(state, { ...deleted("general", 25, 7), unpinned: true });
  assert.equal(room.pins, 1);
  apply(state, { ...deleted("general", 25, 7), unpinned: true });
  assert.equal(room.pins, 1);
});

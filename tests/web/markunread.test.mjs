// "Mark unread": the person moves a room's read marker back to just before a message; the
// page shows it unread from there (badge, counts, "New messages" line) and does not read it
// again while it stays open, and the page's other tabs and devices follow the `read` event
// that says `back`.

import assert from "node:assert/strict";
import { test } from "node:test";

import { news } from "../../clients/web/missed.js";
import { sighted } from "../../clients/web/readmarks.js";
import { badge, timeline, unreadTotal } from "../../clients/web/select.js";
import {
  actions, apply, compose, connectionChanged, helloResume, markUnread, seen, selectRoom,
} from "../../clients/web/state.js";
import { connected, message, receiveAll, requests, roomInfo, welcome } from "./fixtures.mjs";

/** A connected page with `general` (seqs 1-6 by Bob, 4 and 6 mentioning ann) open, loaded
 * and read to its end, and `random` beside it. */
function readToTheEnd() {
  const { state, effects } = connected([roomInfo("general", { lastSeq: 6, readSeq: 6 }),
    roomInfo("random", { lastSeq: 0 })]);
  const [history] = requests(effects).filter((r) => r.op === "history");
  const messages = [1, 2, 3, 4, 5, 6].map((seq) => message("general", seq, "Bob",
    seq % 2 === 0 && seq > 2 ? `hey @ann ${seq}` : `m${seq}`,
    seq % 2 === 0 && seq > 2 ? { mentions: ["ann"] } : {}));
  apply(state, { op: "ok", id: 2, room: "general", messages, more: false, last_seq: 6 },
    { request: history });
  const room = state.rooms.get("general");
  assert.equal(state.current, "general");
  assert.equal(room.unread, 0);
  return { state, room };
}

const dividerAfter = (state, room) => {
  const rows = timeline(state, room);
  const at = rows.findIndex((row) => row.kind === "divider");
  return at < 0 ? null : rows[at + 1].message.seq;
};

test("marking unread moves the marker back at once, asks the server, and shows it unread", () => {
  const { state, room } = readToTheEnd();
  const sent = requests(markUnread(state, "general", 4));
  assert.deepEqual(sent, [{ op: "unread", room: "general", seq: 4 }]);
  assert.equal(room.readSeq, 3);
  assert.equal(room.unread, 3); // 4, 5, 6 by Bob
  assert.equal(room.mentions, 2); // 4 and 6
  assert.equal(dividerAfter(state, room), 4);
  // Open and kept unread: the badge and the title count it while the person looks.
  assert.equal(badge(state, room), "3");
  assert.equal(unreadTotal(state), 3);
  // The server's counts replace the page's guess (it counts what the page does not hold).
  apply(state, { op: "ok", id: 9, room: "general", seq: 3, back: true, last_seq: 6,
    unread: 3, mentions: 2 }, { request: sent[0] });
  assert.equal(room.readSeq, 3);
  assert.deepEqual([room.unread, room.mentions], [3, 2]);
});

test("a room marked unread is not read again while it stays open, but once opened again", () => {
  const { state, room } = readToTheEnd();
  markUnread(state, "general", 2);
  assert.deepEqual(sighted(state, "general", [2, 3, 4, 5, 6]), []);
  assert.deepEqual(seen(state, "general", 6), []);
  assert.equal(room.readSeq, 1);
  assert.deepEqual(actions.flushReads(state), []);
  selectRoom(state, "random");
  assert.equal(badge(state, room), "5");
  selectRoom(state, "general"); // back to it: it opens at the line, and is read as seen
  assert.equal(state.divider, 1);
  assert.equal(sighted(state, "general", [2, 3, 4, 5, 6]).length, 1);
  assert.equal(room.readSeq, 6);
  assert.deepEqual(requests(actions.flushReads(state)), [{ op: "read", room: "general", seq: 6 }]);
});

test("sending a message in a room marked unread reads it again as seen", () => {
  const { state, room } = readToTheEnd();
  markUnread(state, "general", 5);
  assert.deepEqual(sighted(state, "general", [5, 6]), []);
  compose(state, { text: "on it", nonce: "n1", now: 1 });
  assert.equal(room.keptUnread, false);
  assert.equal(sighted(state, "general", [5, 6]).length, 1);
  assert.equal(room.readSeq, 6);
});

test("a marker that waits to be sent is dropped by marking unread: it would undo it", () => {
  const { state, room } = readToTheEnd();
  receiveAll(state, [message("general", 7)]);
  seen(state, "general", 7);
  assert.equal(state.reads.get("general").seq, 7);
  markUnread(state, "general", 6);
  assert.equal(state.reads.has("general"), false);
  assert.deepEqual(requests(actions.flushReads(state)), []);
  assert.deepEqual([room.readSeq, room.unread], [5, 2]);
});

test("a read event that says back moves the marker back, with the server's counts", () => {
  const { state, room } = readToTheEnd();
  receiveAll(state, [message("general", 7, "Bob", "later @ann", { mentions: ["ann"] }),
    message("general", 8, "ann", "mine")]);
  seen(state, "general", 8);
  // Another device marked it unread from 2 when the room ended at 7: its counts to 7, and
  // the message held after it (by ann herself: not unread) adds nothing.
  receiveAll(state, [{ op: "read", room: "general", seq: 1, back: true, last_seq: 7,
    unread: 6, mentions: 3 }]);
  assert.deepEqual([room.readSeq, room.unread, room.mentions], [1, 6, 3]);
  assert.equal(state.reads.has("general"), false); // this tab's 8 is not sent over it
  assert.equal(state.divider, 1);
  assert.equal(badge(state, room), "6");
  assert.deepEqual(seen(state, "general", 8), []); // kept unread here too while it is open
  // Messages after the event's last_seq count on top of its counts.
  receiveAll(state, [{ op: "read", room: "general", seq: 0, back: true, last_seq: 6,
    unread: 6, mentions: 2 }]);
  assert.deepEqual([room.readSeq, room.unread, room.mentions], [0, 7, 3]);
});

test("a read event with a lower seq and no back is stale: the marker stays", () => {
  const { state, room } = readToTheEnd();
  receiveAll(state, [{ op: "read", room: "general", seq: 2 }]);
  assert.deepEqual([room.readSeq, room.unread, room.keptUnread], [6, 0, false]);
});

test("a room in the background marked unread elsewhere shows its badge and counts", () => {
  const { state, room } = readToTheEnd();
  selectRoom(state, "random");
  receiveAll(state, [{ op: "read", room: "general", seq: 4, back: true, last_seq: 6,
    unread: 2, mentions: 1 }]);
  assert.equal(badge(state, room), "2");
  assert.equal(unreadTotal(state), 2);
  assert.equal(state.divider, null); // the open room's line is not general's
  selectRoom(state, "general");
  assert.equal(state.divider, 4);
});

test("a refused unread says why and asks for the rooms again, to show the server's marker", () => {
  const { state, room } = readToTheEnd();
  const [sent] = requests(markUnread(state, "general", 3));
  const effects = apply(state, { op: "error", id: 9, code: "forbidden", message: "no" },
    { request: sent });
  assert.deepEqual(effects, [{ toast: "Cannot mark it unread: no" }, { refreshRooms: true }]);
  assert.equal(room.keptUnread, false);
  apply(state, { op: "ok", id: 10, rooms: [roomInfo("general", { lastSeq: 6, readSeq: 6 })] },
    { request: { op: "rooms", joined: true } });
  assert.deepEqual([room.readSeq, room.unread], [6, 0]);
});

test("a room marked unread on another device while the page was away is not news", () => {
  // The page had read r to 10; meanwhile another device marked it unread from 3 and one
  // message came: only that one is new, not the eight marked unread (they were seen).
  const seen = { seq: 10, read: 10, mentions: 0, unread: 0 };
  const info = roomInfo("r", { lastSeq: 11, readSeq: 2, unread: 9, mentions: 2 });
  assert.deepEqual(news(seen, info), { mentions: 0, unread: 1 });
  // Only marked unread, nothing came: nothing new (the last seq did not move).
  assert.equal(news(seen, roomInfo("r", { lastSeq: 10, readSeq: 2, unread: 8, mentions: 2 })),
    null);
  // Seen with some unread, then marked unread further back, then two came: those two.
  assert.deepEqual(news({ seq: 10, read: 6, mentions: 1, unread: 4 },
    roomInfo("r", { lastSeq: 12, readSeq: 4, unread: 8, mentions: 2 })),
  { mentions: 0, unread: 2 });
});

test("a room marked unread on another device while the page was offline follows the welcome", () => {
  const { state, room } = readToTheEnd();
  connectionChanged(state, "waiting");
  connectionChanged(state, "online");
  helloResume(state);
  apply(state, welcome([roomInfo("general", { lastSeq: 6, readSeq: 2, unread: 4, mentions: 2 }),
    roomInfo("random", { lastSeq: 0 })]));
  assert.deepEqual([room.readSeq, room.unread, room.mentions, room.keptUnread], [2, 4, 2, true]);
  assert.equal(state.divider, 2);
  assert.deepEqual(seen(state, "general", 6), []);
});

test("the page's own read, not acknowledged before it went offline, stands over the welcome's",
  () => {
    const { state, room } = readToTheEnd();
    receiveAll(state, [message("general", 7)]);
    seen(state, "general", 7);
    connectionChanged(state, "waiting");
    connectionChanged(state, "online");
    helloResume(state);
    const effects = apply(state, welcome([roomInfo("general", { lastSeq: 7, readSeq: 6,
      unread: 1 }), roomInfo("random", { lastSeq: 0 })]));
    assert.deepEqual([room.readSeq, room.unread, room.keptUnread], [7, 0, false]);
    assert.deepEqual(requests(effects).filter((r) => r.op === "read"),
      [{ op: "read", room: "general", seq: 7 }]);
  });

test("read again on another device, a room kept unread here is read as usual again", () => {
  const { state, room } = readToTheEnd();
  receiveAll(state, [{ op: "read", room: "general", seq: 2, back: true, last_seq: 6,
    unread: 4, mentions: 2 }]);
  assert.equal(room.keptUnread, true);
  receiveAll(state, [{ op: "read", room: "general", seq: 6 }]);
  assert.deepEqual([room.readSeq, room.unread, room.keptUnread], [6, 0, false]);
  receiveAll(state, [message("general", 7)]);
  assert.equal(seen(state, "general", 7).length, 1);
  assert.equal(room.readSeq, 7);
});

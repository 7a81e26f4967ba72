// Notifications closed because their rooms were read elsewhere (dismissals.js): a burst of
// reads ("Mark all as read" on another device: one `read` event a room) is gathered, the
// furthest seq of each room kept, and one pass picks, among every notification shown, those
// the reads cover. Wired to the state's `readElsewhere` effects as the controller wires them.

import assert from "node:assert/strict";
import { test } from "node:test";

import {
  gather, gatherer, noReads, roomOfTag, toClose,
} from "../../clients/web/dismissals.js";
import { connected, receiveAll, roomInfo } from "./fixtures.mjs";

const note = (room, seq) => ({ tag: `chatd:${room}`, data: { room, seq } });

test("a burst of reads is gathered: the first asks for the pass, each room its furthest seq", () => {
  const reads = noReads();
  assert.equal(gather(reads, "general", 5), true); // the first: the pass is scheduled
  assert.equal(gather(reads, "random", 9), false);
  assert.equal(gather(reads, "general", 7), false);
  assert.equal(gather(reads, "general", 3), false); // an older read moves nothing back
  assert.deepEqual([...reads], [["general", 7], ["random", 9]]);
  // Nonsense is let go, and does not count as a first read either.
  const none = noReads();
  assert.equal(gather(none, 3, 5), false);
  assert.equal(gather(none, "general", "5"), false);
  assert.equal(none.size, 0);
});

test("one pass closes what the reads cover, among all the notifications shown", () => {
  const reads = noReads();
  gather(reads, "general", 7);
  gather(reads, "@ann:bob", 4);
  const shown = [
    note("general", 7), // read up to it: closed
    note("general", 8), // a later message than the marker: stays
    note("@ann:bob", 2), // closed (a conversation's name holds a colon)
    note("random", 1), // not read: stays
    { tag: "chatd-reminder:general:3", data: { room: "general", seq: 3 } }, // a reminder stays
    { tag: "chatd:general", data: null }, // one that names no message: its room was read
    { tag: "chatd", data: {} }, // the server's own, of no room
  ];
  assert.deepEqual(toClose(shown, reads), [shown[0], shown[2], shown[5]]);
  assert.deepEqual(toClose(shown, noReads()), []);
  assert.equal(roomOfTag("chatd:@ann:bob"), "@ann:bob");
  assert.equal(roomOfTag("chatd-reminder:general:3"), null);
  assert.equal(roomOfTag(undefined), null);
});

test("Mark all as read on another device: a thousand read events, one pass over them", () => {
  const rooms = Array.from({ length: 1000 }, (_, i) => roomInfo(`room${i}`,
    { lastSeq: 10, readSeq: 2, unread: 8 }));
  const { state } = connected(rooms);
  const passes = [];
  const scheduled = [];
  const readElsewhere = gatherer((reads) => passes.push(reads), (run) => scheduled.push(run));
  // As the controller does with each frame's effects, one frame at a time.
  for (const room of rooms) {
    for (const effect of receiveAll(state, [{ op: "read", room: room.room, seq: 10 }])) {
      if (effect.readElsewhere) readElsewhere(effect.readElsewhere.room, effect.readElsewhere.seq);
    }
  }
  assert.equal(scheduled.length, 1); // one pass asked for the burst
  assert.equal(passes.length, 0); // and none done before its time
  scheduled[0]();
  assert.equal(passes.length, 1);
  assert.equal(passes[0].size, 1000);
  const shown = [note("room0", 10), note("room999", 9), note("room5", 11)];
  assert.deepEqual(toClose(shown, passes[0]), shown.slice(0, 2));
  // The next read is a new burst: a pass of its own, with that room alone.
  readElsewhere("room1", 11);
  assert.equal(scheduled.length, 2);
  scheduled[1]();
  assert.deepEqual([...passes[1]], [["room1", 11]]);
  // A pass with nothing gathered closes nothing (asks nothing of the browser).
  scheduled[1]();
  assert.equal(passes.length, 2);
});

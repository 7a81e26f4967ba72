// The followed threads in the page's state (state.js with inbox.js): the first page after a
// welcome, the sidebar's count moved by replies, `thread_state` events and reads, following by
// hand, a root's "N new replies" from the server's read_seq, and files sent in a thread.

import assert from "node:assert/strict";
import { test } from "node:test";

import { unreadThreads } from "../../clients/web/inbox.js";
import { shownMessage } from "../../clients/web/select-messages.js";
import {
  apply, attachFiles, followThread, openThread, openThreads, readThread, replyInThread,
  selectRoom, uploadDone,
} from "../../clients/web/state.js";
import { connected, message, receiveAll, requests, roomInfo } from "./fixtures.mjs";

const ROOM = "general";
const reply = (seq, rootSeq, from = "Bob", extra = {}) => message(ROOM, seq, from, `r${seq}`,
  { thread: 1000 + rootSeq, mentions: ["ann"], ...extra });

/** A page after a welcome, the first page of its followed threads answered with `threads`. */
function listed(threads) {
  const { state, effects } = connected([roomInfo(ROOM, { lastSeq: 3 })]);
  const asked = requests(effects).find((r) => r.op === "threads");
  assert.deepEqual(asked, { op: "threads", limit: 30 });
  const { op: _op, ...fields } = asked;
  apply(state, { op: "ok", id: 3, threads, more: false }, { request: { op: "threads", ...fields } });
  return state;
}

const rootObject = (seq, { rev = seq, count = 1 } = {}) => ({ ...message(ROOM, seq, "ann"), rev,
  replies: { count, last_ts: 1_000_000 + rev, users: ["Bob"] } });

test("a reply by someone else in a followed thread counts in the sidebar; reading it clears it", () => {
  const state = listed([{ room: ROOM, root: rootObject(1, { rev: 2 }), following: true,
    read_seq: 2, unread: 0, mentions: 0 }]);
  assert.equal(unreadThreads(state.inbox), 0);
  receiveAll(state, [message(ROOM, 1, "ann"), reply(2, 1), reply(3, 1)]);
  assert.equal(unreadThreads(state.inbox), 1);
  selectRoom(state, ROOM);
  // The root's summary says the server's count.
  const root = state.rooms.get(ROOM).messages.get(1);
  assert.equal(shownMessage(state, state.rooms.get(ROOM), root).replies.fresh, 1);
  assert.deepEqual(requests(readThread(state, { room: ROOM, rootId: 1001, seq: 3 })),
    [{ op: "read_thread", room: ROOM, msg_id: 1001, seq: 3 }]);
  assert.equal(unreadThreads(state.inbox), 0);
  assert.deepEqual(readThread(state, { room: ROOM, rootId: 1001, seq: 3 }), []); // once
  // Another device reads, or unfollows: its event applies.
  receiveAll(state, [reply(4, 1)]);
  assert.equal(unreadThreads(state.inbox), 1);
  apply(state, { op: "thread_state", room: ROOM, msg_id: 1001, following: true, read_seq: 4 });
  assert.equal(unreadThreads(state.inbox), 0);
  apply(state, { op: "thread_state", room: ROOM, msg_id: 1001, following: false, read_seq: 4 });
  receiveAll(state, [reply(5, 1, "Bob", { mentions: [] })]);
  assert.equal(unreadThreads(state.inbox), 0);
});

test("following by hand is asked and shown at once; a refusal takes it back", () => {
  const state = listed([]);
  const effects = followThread(state, { room: ROOM, rootId: 1001, on: true });
  assert.deepEqual(requests(effects), [{ op: "follow_thread", room: ROOM, msg_id: 1001, on: true }]);
  assert.equal(state.inbox.threads.get(`${ROOM}\n1001`).following, true);
  const told = apply(state, { op: "error", id: 4, code: "forbidden", message: "not a member" },
    { request: requests(effects)[0] });
  assert.equal(state.inbox.threads.get(`${ROOM}\n1001`).following, false);
  assert.match(told.find((e) => e.toast).toast, /could not be followed: not a member/);
});

test("a reply naming the person in a thread not listed asks for the first page again", () => {
  const state = listed([]);
  const effects = receiveAll(state, [reply(2, 1)]);
  assert.deepEqual(requests(effects).filter((r) => r.op === "threads"), [{ op: "threads", limit: 30 }]);
  assert.equal(unreadThreads(state.inbox), 1);
  assert.deepEqual(requests(openThreads(state)), []); // (one on its way)
});

test("files attached in the thread's box go with the reply", () => {
  const state = listed([]);
  selectRoom(state, ROOM);
  receiveAll(state, [message(ROOM, 1, "ann")]);
  openThread(state, 1001);
  apply(state, { op: "ok", id: 5, room: ROOM, root: message(ROOM, 1, "ann"), messages: [],
    more: false }, { request: { op: "thread", room: ROOM, msg_id: 1001, limit: 50 } });
  const started = attachFiles(state, { room: `${ROOM}#1001`,
    files: [{ key: "k1", name: "a.png", size: 10, type: "image/png" }] });
  assert.deepEqual(started.filter((e) => e.upload), [{ upload: { key: "k1", room: ROOM } }]);
  assert.deepEqual(replyInThread(state, { text: "", nonce: "n0", now: 1 }).map((e) => e.toast),
    ["The files are still uploading: send once they are done."]);
  uploadDone(state, "k1", { id: 7, name: "a.png", size: 10, type: "image/png" });
  const sent = requests(replyInThread(state, { text: "", nonce: "n1", now: 2 }));
  assert.deepEqual(sent, [{ op: "send", room: ROOM, text: "", nonce: "n1", thread: 1001, files: [7] }]);
  assert.equal(state.uploads.length, 0);
});

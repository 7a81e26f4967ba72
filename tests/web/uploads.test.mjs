// The files attached in the message box (uploads.js and its reducers in state.js): each one
// uploads at once (a few at a time), shows its progress, fails with a reason and can be
// retried, and goes out with the room's next message once all are up.

import assert from "node:assert/strict";
import { test } from "node:test";

import { MAX_FILES } from "../../clients/web/files.js";
import * as outbox from "../../clients/web/outbox.js";
import { timeline } from "../../clients/web/select.js";
import { replyTarget, shownMessage } from "../../clients/web/select-messages.js";
import {
  apply, attachFiles, compose, openDm, PARALLEL_UPLOADS, removeUpload, retryUpload,
  startReply, uploadDone, uploadFailed, uploadProgress,
} from "../../clients/web/state.js";
import * as uploads from "../../clients/web/uploads.js";
import { connected, message, requests, roomInfo } from "./fixtures.mjs";

const meta = (key, size = 1000, type = "text/plain") => ({ key, name: `${key}.txt`, size, type });
const fileObject = (id, name = `f${id}.txt`) => ({
  id, name, size: 1000, content_type: "text/plain", url: `/api/files/${id}/${name}`,
  thumbnail_url: null, width: null, height: null,
});
const statuses = (state) => state.uploads.map((item) => [item.key, item.status]);
const started = (effects) => effects.filter((e) => e.upload).map((e) => e.upload.key);

test("the statuses move only along the table; anything else changes nothing", () => {
  let list = uploads.add([], "general", [meta("a")]).list;
  assert.equal(uploads.find(list, "a").status, "queued");
  assert.equal(uploads.finish(list, "a", fileObject(1)), list, "not uploading yet");
  assert.equal(uploads.retry(list, "a"), list, "nothing failed");
  list = uploads.start(list, "a");
  assert.equal(uploads.start(list, "a"), list, "started already");
  list = uploads.progress(list, "a", 400, 1200);
  assert.deepEqual([uploads.find(list, "a").loaded, uploads.find(list, "a").total], [400, 1200]);
  assert.equal(uploads.fraction(uploads.find(list, "a")), 1 / 3);
  list = uploads.finish(list, "a", fileObject(1));
  assert.equal(uploads.find(list, "a").status, "done");
  assert.equal(uploads.fraction(uploads.find(list, "a")), 1);
  // A late event of the finished upload (a `progress`, an `error` racing the `load`).
  assert.equal(uploads.progress(list, "a", 10, 1200), list);
  assert.equal(uploads.fail(list, "a", { error: "x", retryable: true }), list);
  assert.equal(uploads.progress(list, "nobody", 1, 2), list);
  for (const [from, to] of Object.entries(uploads.TRANSITIONS)) {
    assert.ok(Object.isFrozen(to), from);
  }
});

test("entries are frozen and every change makes a new list", () => {
  const list = uploads.add([], "general", [meta("a")]).list;
  const next = uploads.start(list, "a");
  assert.notEqual(next, list);
  assert.equal(uploads.find(list, "a").status, "queued");
  assert.ok(Object.isFrozen(uploads.find(next, "a")));
});

test("a file attached uploads at once, shows its progress, and goes with the next message", () => {
  const { state } = connected([roomInfo("general", { lastSeq: 3 })]);
  const effects = attachFiles(state, { room: "general", files: [meta("a"), meta("b")] });
  assert.deepEqual(effects.filter((e) => e.upload),
    [{ upload: { key: "a", room: "general" } }, { upload: { key: "b", room: "general" } }]);
  assert.deepEqual(statuses(state), [["a", "uploading"], ["b", "uploading"]]);
  uploadProgress(state, "a", 500, 1100);
  assert.equal(uploads.find(state.uploads, "a").loaded, 500);
  uploadDone(state, "a", fileObject(7));
  // Not all up yet: nothing is sent, the text stays for later.
  const early = compose(state, { text: "see these", nonce: "n1", now: 1 });
  assert.deepEqual(requests(early), []);
  assert.match(early[0].toast, /still uploading/);
  assert.deepEqual(state.outbox, []);
  uploadDone(state, "b", fileObject(8));
  const sent = requests(compose(state, { text: "see these", nonce: "n1", now: 2 }));
  assert.deepEqual(sent, [{ op: "send", room: "general", text: "see these", nonce: "n1",
    files: [7, 8] }]);
  assert.deepEqual(state.uploads, [], "the files went with the message");
  const [pending] = timeline(state, state.rooms.get("general")).filter((r) => r.kind === "pending");
  assert.deepEqual(pending.message.files.map((f) => f.id), [7, 8]);
  // The ack: the message as the page keeps it has its files until its own event comes.
  apply(state, { op: "ok", id: 3, room: "general", seq: 4, msg_id: 104, ts: 9 },
    { request: sent[0] });
  assert.deepEqual(state.rooms.get("general").messages.get(4).files.map((f) => f.id), [7, 8]);
});

test("with files the text may be empty; without, an empty message is still not sent", () => {
  const { state } = connected([roomInfo("general")]);
  assert.deepEqual(compose(state, { text: "  ", nonce: "n0", now: 1 }), []);
  attachFiles(state, { room: "general", files: [meta("a")] });
  uploadDone(state, "a", fileObject(7));
  const sent = requests(compose(state, { text: "", nonce: "n1", now: 2 }));
  assert.deepEqual(sent, [{ op: "send", room: "general", text: "", nonce: "n1", files: [7] }]);
});

test("a conversation's files go with a `dm`", () => {
  const { state } = connected([roomInfo("@ann:bob", { peer: "Bob" })]);
  openDm(state, "Bob");
  attachFiles(state, { room: "@ann:bob", files: [meta("a")] });
  uploadDone(state, "a", fileObject(9));
  const sent = requests(compose(state, { text: "here", nonce: "n1", now: 2 }));
  assert.deepEqual(sent, [{ op: "dm", to: "Bob", text: "here", nonce: "n1", files: [9] }]);
});

test("a conversation not started yet takes no files: there is no room to upload to", () => {
  const { state } = connected([]);
  openDm(state, "Bob");
  const effects = attachFiles(state, { room: state.current, files: [meta("a")] });
  assert.deepEqual(state.uploads, []);
  assert.match(effects[0].toast, /first message/);
});

test("each room has its own files: another room's are neither shown nor sent", () => {
  const { state } = connected([roomInfo("general"), roomInfo("random")]);
  attachFiles(state, { room: "random", files: [meta("r")] });
  uploadDone(state, "r", fileObject(5));
  attachFiles(state, { room: "general", files: [meta("g")] });
  uploadDone(state, "g", fileObject(6));
  const sent = requests(compose(state, { text: "x", nonce: "n1", now: 1 }));
  assert.deepEqual(sent[0].files, [6]);
  assert.deepEqual(statuses(state), [["r", "done"]]);
});

test("at most a few upload at once; the others wait and start as those finish", () => {
  const { state } = connected([roomInfo("general")]);
  const keys = ["a", "b", "c", "d", "e"];
  const effects = attachFiles(state, { room: "general", files: keys.map((k) => meta(k)) });
  assert.deepEqual(started(effects), keys.slice(0, PARALLEL_UPLOADS));
  assert.equal(uploads.find(state.uploads, "e").status, "queued");
  assert.deepEqual(started(uploadDone(state, "a", fileObject(1))), ["d"]);
  assert.deepEqual(started(uploadFailed(state, "b", { status: 0 })), ["e"]);
  assert.deepEqual(started(removeUpload(state, "c")), []);
});

test("past the most files of one message, the rest are left out, and the person told", () => {
  const { state } = connected([roomInfo("general")]);
  const many = Array.from({ length: MAX_FILES + 2 }, (_, n) => meta(`k${n}`));
  const effects = attachFiles(state, { room: "general", files: many });
  assert.equal(state.uploads.length, MAX_FILES);
  assert.match(effects.find((e) => e.toast).toast, /2 left out/);
  assert.deepEqual(attachFiles(state, { room: "general", files: [meta("x")] })
    .filter((e) => e.upload), []);
});

test("a network failure is marked with its reason and can be retried: it uploads again", () => {
  const { state } = connected([roomInfo("general")]);
  attachFiles(state, { room: "general", files: [meta("a")] });
  uploadProgress(state, "a", 900, 1100);
  uploadFailed(state, "a", { status: 0, code: "network" });
  const failed = uploads.find(state.uploads, "a");
  assert.equal(failed.status, "failed");
  assert.equal(failed.retryable, true);
  assert.match(failed.error, /could not be reached/);
  assert.match(compose(state, { text: "x", nonce: "n", now: 1 })[0].toast, /failed/);
  const again = retryUpload(state, "a");
  assert.deepEqual(again, [{ upload: { key: "a", room: "general" } }]);
  assert.equal(uploads.find(state.uploads, "a").loaded, 0);
  uploadDone(state, "a", fileObject(3));
  assert.equal(requests(compose(state, { text: "x", nonce: "n", now: 1 }))[0].files[0], 3);
});

test("too large is final: the server's words (sizes made readable), no retry", () => {
  const { state } = connected([roomInfo("general")]);
  attachFiles(state, { room: "general", files: [meta("a")] });
  uploadFailed(state, "a", { status: 413, code: "too_large",
    message: "the file is over the size limit (26214400 bytes)" });
  const failed = uploads.find(state.uploads, "a");
  assert.equal(failed.error, "Too large: the file is over the size limit (25 MB).");
  assert.equal(failed.retryable, false);
  assert.deepEqual(retryUpload(state, "a"), []);
  assert.equal(uploads.find(state.uploads, "a").status, "failed");
  removeUpload(state, "a");
  assert.deepEqual(state.uploads, []);
});

test("what each failure says, and whether another attempt may help", () => {
  const cases = [
    [{ status: 503, code: "unavailable", message: "database down" },
      "The server failed (HTTP 503): database down.", true],
    [{ status: 500 }, "The server failed (HTTP 500).", true],
    [{ status: 429, code: "rate_limited" }, "Too many uploads at once: try again in a moment.",
      true],
    [{ status: 401, code: "unauthenticated" }, "Your session has ended: log in again to upload.",
      false],
    [{ status: 403, code: "forbidden", message: "not a member of general" },
      "Not uploaded: not a member of general.", false],
    [{ status: 413 }, "Too large: the file is over the server's limit.", false],
  ];
  for (const [answer, error, retryable] of cases) {
    assert.deepEqual(uploads.failure(answer), { error, retryable }, JSON.stringify(answer));
  }
});

test("a malformed answer to an upload is a failure, not a file", () => {
  const { state } = connected([roomInfo("general")]);
  attachFiles(state, { room: "general", files: [meta("a")] });
  uploadDone(state, "a", { name: "x" });
  assert.equal(uploads.find(state.uploads, "a").status, "failed");
});

test("leaving a room drops its attachments", () => {
  const { state } = connected([roomInfo("general"), roomInfo("random")]);
  attachFiles(state, { room: "random", files: [meta("r")] });
  apply(state, { op: "left", room: "random", user: "ann" });
  assert.deepEqual(state.uploads, []);
});

test("a message with files survives a reload of the page with them", () => {
  const item = outbox.entry({ nonce: "n1", room: "general", text: "", ts: 1,
    files: [fileObject(7), fileObject(8)] });
  const restored = outbox.restore(JSON.parse(JSON.stringify(outbox.save([item]))));
  assert.deepEqual(outbox.request(restored[0]),
    { op: "send", room: "general", text: "", nonce: "n1", files: [7, 8] });
  const damaged = outbox.restore([{ ...outbox.save([item])[0], files: [{ id: "x" }, null] }]);
  assert.equal(damaged[0].files, undefined);
});

test("a message shows its files; an edit keeps them, a deletion takes them away", () => {
  const { state } = connected([roomInfo("general", { lastSeq: 0 })]);
  apply(state, message("general", 1, "Bob", "", { files: [fileObject(7)] }));
  const room = state.rooms.get("general");
  const shown = () => shownMessage(state, room, room.messages.get(1));
  assert.deepEqual(shown().files.map((f) => f.id), [7]);
  startReply(state, 1001);
  assert.equal(replyTarget(state, room).text, "📎 f7.txt");
  apply(state, { op: "edited", room: "general", seq: 2, msg_id: 1001, text: "now with words",
    from: "Bob", ts: 5 });
  assert.deepEqual(shown().files.map((f) => f.id), [7]);
  apply(state, { op: "deleted", room: "general", seq: 3, msg_id: 1001, by: "Bob", ts: 6 });
  assert.deepEqual(shown().files, []);
  assert.equal(room.messages.get(1).files, undefined, "a tombstone has no files");
  // A tombstone from the server with files left in is made uniform too.
  apply(state, message("general", 1, "Bob", "", { deleted: true, rev: 9, files: [fileObject(7)] }));
  assert.equal(room.messages.get(1).files, undefined);
});

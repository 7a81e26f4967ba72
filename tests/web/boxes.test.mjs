// What a reload keeps of a room's box (drafts.js): its text and the files uploaded there, back
// in the box ready to send; the files still uploading are told lost; junk in storage gives
// empty boxes; and a kept file the server let expire is left out of the message, which is
// sent with its text (state.js `filesChecked`).

import assert from "node:assert/strict";
import { test } from "node:test";

import {
  DRAFTS_MAX, draftOf, lostNotice, restoreBoxes, restoreDrafts, saveDrafts, setDraft,
} from "../../clients/web/drafts.js";
import { cleanFile, MAX_FILES } from "../../clients/web/files.js";
import * as outbox from "../../clients/web/outbox.js";
import {
  apply, attachFiles, compose, connectionChanged, filesChecked, filesUnchecked, initialState,
  removeUpload, uploadDone, uploadFailed, uploadProgress,
} from "../../clients/web/state.js";
import * as uploads from "../../clients/web/uploads.js";
import { requests, roomInfo, welcome } from "./fixtures.mjs";

const fileObject = (id, name = `f${id}.png`) => ({
  id, name, size: 1000 + id, content_type: "image/png", url: `/api/files/${id}/${name}`,
  thumbnail_url: `/api/thumbnails/${id}`, width: 640, height: 400,
});
const meta = (key) => ({ key, name: `${key}.txt`, size: 10, type: "text/plain" });

/** A page as after a reload: its boxes restored from `saved`, connected, `rooms` welcomed. */
function reloaded(saved, rooms = ["general", "random"]) {
  const boxes = restoreBoxes(JSON.parse(JSON.stringify(saved)));
  const state = initialState({ me: "ann", drafts: boxes.drafts, uploads: boxes.uploads });
  connectionChanged(state, "online");
  apply(state, welcome(rooms.map((room) => roomInfo(room))));
  return { state, lost: boxes.lost };
}

/** A page connected in `rooms`, with nothing kept. */
function fresh(rooms = ["general", "random"]) {
  return reloaded({}, rooms).state;
}

/** Attach files with these keys in `room` and finish uploading them as file objects `ids`. */
function uploaded(state, room, keys, ids) {
  attachFiles(state, { room, files: keys.map(meta) });
  keys.forEach((key, index) => uploadDone(state, key, fileObject(ids[index])));
}

test("the files uploaded in a box come back with its text after a reload, ready to send", () => {
  const state = fresh();
  state.current = "general";
  setDraft(state, "general", "look at these");
  uploaded(state, "general", ["a", "b"], [7, 8]);
  const saved = saveDrafts(state.drafts, state.uploads, "tab-1");
  assert.deepEqual(saved, { general: { text: "look at these",
    files: [fileObject(7), fileObject(8)] } });

  const { state: again, lost } = reloaded(saved);
  assert.deepEqual(lost, []);
  assert.equal(draftOf(again, "general"), "look at these");
  assert.deepEqual(again.uploads.map((item) => [item.room, item.status, item.name, item.kept]),
    [["general", "done", "f7.png", true], ["general", "done", "f8.png", true]]);
  assert.ok(again.uploads.every(Object.isFrozen));
  assert.deepEqual(uploads.readiness(again.uploads, "general").files,
    [fileObject(7), fileObject(8)]);

  again.current = "general";
  const effects = compose(again, { text: "look at these", nonce: "n1", now: 5 });
  assert.deepEqual(requests(effects), [{ op: "send", room: "general", text: "look at these",
    nonce: "n1", files: [7, 8] }]);
  assert.deepEqual(again.uploads, [], "sent: out of the box");
});

test("a box with only files is kept; a kept file can be taken out of the box", () => {
  const state = fresh();
  uploaded(state, "random", ["a"], [3]);
  const saved = saveDrafts(state.drafts, state.uploads);
  assert.deepEqual(saved, { random: { files: [fileObject(3)] } });
  const { state: again } = reloaded(saved);
  assert.equal(draftOf(again, "random"), "");
  const [item] = again.uploads;
  removeUpload(again, item.key);
  assert.deepEqual(saveDrafts(again.drafts, again.uploads), {});
});

test("a text-only draft is saved as before, and old saved drafts still restore", () => {
  const state = fresh();
  setDraft(state, "general", "just words");
  assert.deepEqual(saveDrafts(state.drafts, state.uploads), { general: "just words" });
  assert.deepEqual(restoreDrafts({ general: "just words" }), new Map([["general", "just words"]]));
  assert.deepEqual(restoreBoxes({ general: "just words" }).uploads, []);
});

test("what was still uploading is not restored, but told once, by room and name", () => {
  const state = fresh();
  uploaded(state, "general", ["done"], [5]);
  attachFiles(state, { room: "general", files: [meta("big"), meta("queued")] });
  attachFiles(state, { room: "@ann:bob", files: [] });
  uploadProgress(state, "big", 5, 10);
  assert.deepEqual(uploads.inRoom(state.uploads, "general").map((item) => item.status),
    ["done", "uploading", "uploading"]);
  const saved = saveDrafts(state.drafts, state.uploads, "tab-1");
  assert.deepEqual(saved.general.unfinished, { tab: "tab-1", names: ["big.txt", "queued.txt"] });

  const { state: again, lost } = reloaded(saved);
  assert.deepEqual(again.uploads.map((item) => item.file.id), [5]);
  assert.deepEqual(lost, [{ room: "general", names: ["big.txt", "queued.txt"], tab: "tab-1" }]);
  assert.equal(lostNotice(lost, (room) => `#${room}`),
    "2 files had not finished uploading when the page closed and are not attached any more: "
    + "big.txt, queued.txt (#general). Attach them again.");
  assert.equal(lostNotice([{ room: "x", names: ["one.pdf"], tab: null }]),
    "A file had not finished uploading when the page closed and is not attached any more: "
    + "one.pdf (x). Attach it again.");
  assert.equal(lostNotice([]), "");
  // Saved again as the page now is: nothing left to tell at the next reload.
  assert.equal(restoreBoxes(saveDrafts(again.drafts, again.uploads)).lost.length, 0);
});

test("a failed upload cannot come back either (no bytes to retry): it is told too", () => {
  const state = fresh();
  attachFiles(state, { room: "random", files: [meta("bad")] });
  uploadFailed(state, "bad", { status: 0 });
  assert.equal(state.uploads[0].status, "failed");
  const { state: again, lost } = reloaded(saveDrafts(state.drafts, state.uploads, "t"));
  assert.deepEqual(again.uploads, []);
  assert.deepEqual(lost, [{ room: "random", names: ["bad.txt"], tab: "t" }]);
});

test("progress of an upload does not change what is saved", () => {
  const state = fresh();
  attachFiles(state, { room: "general", files: [meta("a")] });
  const before = JSON.stringify(saveDrafts(state.drafts, state.uploads, "t"));
  uploadProgress(state, "a", 3, 10);
  uploadProgress(state, "a", 7, 10);
  assert.equal(JSON.stringify(saveDrafts(state.drafts, state.uploads, "t")), before);
});

test("the saved boxes are bounded: the most recent rooms, at most MAX_FILES files each", () => {
  const state = fresh();
  for (let n = 0; n < DRAFTS_MAX; n += 1) setDraft(state, `room-${n}`, `draft ${n}`);
  uploaded(state, "general", ["a"], [1]); // the latest box: kept, the oldest draft goes
  const saved = saveDrafts(state.drafts, state.uploads);
  assert.equal(Object.keys(saved).length, DRAFTS_MAX);
  assert.equal(saved["room-0"], undefined);
  assert.deepEqual(saved.general, { files: [fileObject(1)] });

  const many = Object.fromEntries(Array.from({ length: DRAFTS_MAX + 50 },
    (_, n) => [`r${n}`, { text: `t${n}`, files: [fileObject(n + 1)] }]));
  const boxes = restoreBoxes(many);
  assert.equal(boxes.drafts.size, DRAFTS_MAX);
  assert.equal(boxes.uploads.length, DRAFTS_MAX);
  assert.equal(boxes.drafts.get(`r${DRAFTS_MAX + 49}`), `t${DRAFTS_MAX + 49}`);
  assert.equal(boxes.drafts.get("r0"), undefined);

  const crowded = restoreBoxes({ general: {
    files: Array.from({ length: MAX_FILES + 5 }, (_, n) => fileObject(n + 1)),
    unfinished: { tab: "t", names: Array.from({ length: 50 }, (_, n) => `x${n}`) } } });
  assert.equal(crowded.uploads.length, MAX_FILES);
  assert.equal(crowded.lost[0].names.length, MAX_FILES);
});

test("junk in storage gives empty boxes, never an exception; malformed parts are dropped", () => {
  const empty = { drafts: new Map(), uploads: [], lost: [], times: new Map(),
    unsaved: new Set() };
  for (const junk of [undefined, null, "text", 7, true, [], ["a"], [{ files: [] }]]) {
    assert.deepEqual(restoreBoxes(junk), empty, JSON.stringify(junk));
  }
  const boxes = restoreBoxes({
    a: 1, b: "", c: null, d: [], e: { text: 5, files: "no", unfinished: "no" },
    f: { files: [null, 3, "x", [], { id: "7", name: "n" }, { id: 0, name: "zero" },
      { id: 2.5, name: "half" }, { id: 4 }, { id: 9, name: "" },
      { id: 11, name: "ok.txt", size: -3, content_type: 9, url: {}, thumbnail_url: 1,
        width: "640", height: -1, extra: "<script>" },
      { id: 11, name: "twice.txt" }] },
    g: { unfinished: { tab: 5, names: ["", 3, null, "left.txt"] } },
    h: { unfinished: { names: "x" } },
    ["__proto__"]: { text: "not a prototype" },
  });
  assert.deepEqual(boxes.uploads.map((item) => item.file), [{
    id: 11, name: "ok.txt", size: 0, content_type: "application/octet-stream", url: null,
    thumbnail_url: null, width: null, height: null }]);
  assert.deepEqual(boxes.lost, [{ room: "g", names: ["left.txt"], tab: null }]);
  assert.deepEqual([...boxes.drafts.keys()], ["__proto__"]);
  assert.equal(Object.getPrototypeOf({}), Object.prototype, "nothing was polluted");
  assert.equal(cleanFile({ id: 1, name: "n".repeat(300) }).name.length, 200);
  for (const url of ["https://evil.example/x", "//evil.example/x", "/\\evil.example", "x"]) {
    assert.equal(cleanFile({ id: 1, name: "n", url, thumbnail_url: url }).url, null, url);
  }
  assert.equal(cleanFile({ id: 1, name: "n", url: "/api/files/1/n" }).url, "/api/files/1/n");
});

// -- a kept file that expired ------------------------------------------------------------------

/** A page after a reload with file 7 kept in #general's box and `text` typed there. */
function withKeptFile(text, files = [fileObject(7)]) {
  const { state } = reloaded({ general: { text, files } });
  state.current = "general";
  return state;
}

test("a kept file the server let expire is left out: the text is sent, the person told", () => {
  const state = withKeptFile("see attached", [fileObject(7), fileObject(8)]);
  const [sent] = requests(compose(state, { text: "see attached", nonce: "n1", now: 1 }));
  assert.deepEqual(sent.files, [7, 8]);
  // Refused: a file is not found. Which one is asked of the server (the links it gives).
  const refusal = { op: "error", id: 3, code: "not_found",
    message: "there is no file 7 of yours in 'general'" };
  const effects = apply(state, refusal, { request: sent });
  assert.deepEqual(effects, [{ checkFiles: { nonce: "n1", ids: [7, 8],
    error: { code: "not_found", message: refusal.message } } }]);
  assert.equal(outbox.find(state.outbox, "n1").status, "sending", "not shown as refused");

  const again = filesChecked(state, "n1", [8], effects[0].checkFiles.error);
  assert.deepEqual(requests(again), [{ op: "send", room: "general", text: "see attached",
    nonce: "n1", files: [8] }]);
  const told = again.filter((effect) => effect.toast).map((effect) => effect.toast);
  assert.equal(told.length, 1);
  assert.match(told[0], /^f7\.png is no longer on the server .* attach it again\.$/);
  assert.deepEqual(outbox.find(state.outbox, "n1").files.map((file) => file.id), [8]);
});

test("with every file expired, the text goes alone; with no text either, nothing is sent", () => {
  const state = withKeptFile("words");
  const [sent] = requests(compose(state, { text: "words", nonce: "n1", now: 1 }));
  apply(state, { op: "error", id: 3, code: "not_found", message: "gone" }, { request: sent });
  const again = filesChecked(state, "n1", [], { code: "not_found", message: "gone" });
  assert.deepEqual(requests(again), [{ op: "send", room: "general", text: "words",
    nonce: "n1" }]);
  assert.equal(outbox.find(state.outbox, "n1").files, undefined);

  const bare = withKeptFile("");
  const [alone] = requests(compose(bare, { text: "", nonce: "n2", now: 1 }));
  apply(bare, { op: "error", id: 4, code: "not_found", message: "gone" }, { request: alone });
  const dropped = filesChecked(bare, "n2", [], { code: "not_found", message: "gone" });
  assert.deepEqual(requests(dropped), []);
  assert.equal(dropped.filter((effect) => effect.toast).length, 1);
  assert.equal(outbox.find(bare.outbox, "n2"), undefined);
});

test("a not_found about something else (every file is there) is refused as before", () => {
  const state = withKeptFile("hi");
  const [sent] = requests(compose(state, { text: "hi", nonce: "n1", now: 1 }));
  const error = { code: "not_found", message: "there is no message 9 in 'general'" };
  apply(state, { op: "error", id: 3, ...error }, { request: sent });
  assert.deepEqual(filesChecked(state, "n1", [7], error), []);
  const item = outbox.find(state.outbox, "n1");
  assert.equal(item.status, "rejected");
  assert.equal(item.error, "Not sent: there is no message 9 in 'general'");
  assert.deepEqual(item.files.map((file) => file.id), [7]);
  // The check itself failing (no answer) is the refusal too; a late answer changes nothing.
  const other = withKeptFile("yo");
  const [sent2] = requests(compose(other, { text: "yo", nonce: "n2", now: 1 }));
  apply(other, { op: "error", id: 3, ...error }, { request: sent2 });
  filesUnchecked(other, "n2", error);
  assert.equal(outbox.find(other.outbox, "n2").status, "rejected");
  assert.deepEqual(filesChecked(other, "n2", [], error), []);
});

test("a send without files refused not_found is refused at once, with no check", () => {
  const state = fresh();
  state.current = "general";
  const [sent] = requests(compose(state, { text: "plain", nonce: "n1", now: 1 }));
  const effects = apply(state, { op: "error", id: 3, code: "not_found", message: "no room" },
    { request: sent });
  assert.deepEqual(effects, []);
  assert.equal(outbox.find(state.outbox, "n1").status, "rejected");
});

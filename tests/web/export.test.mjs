// "Download my data" (export.js): the export object of GET/POST /api/me/export parsed
// (a foreign url never followed), the dialog's state from the answers (a 404: none yet;
// answers that cross), what it shows in each state, when it asks again, sizes and waits in
// words, and a refused start in words.

import assert from "node:assert/strict";
import { test } from "node:test";

import {
  emptyExport, exportAsked, exportFailed, exportLoaded, exportView, parseExport, shouldPoll,
  sizeText, startRefusal, untilText,
} from "../../clients/web/export.js";

const NOW = 1767225600000;
const URL = "/api/me/export/download?user=3&exp=1767232800&sig=abc";

function answer(fields) {
  return { export: { id: 7, state: "running", started_at: NOW - 5000, finished_at: null,
    expires_at: null, size: null, messages: 0, files: 0, error: null, url: null, ...fields } };
}

/** The dialog's state once the GET answered `body` (null: 404). */
function loaded(body) {
  const held = emptyExport();
  exportLoaded(held, exportAsked(held), body);
  return held;
}

test("an export object is read field by field", () => {
  const found = parseExport(answer({ state: "ready", size: 48213, messages: 1234, files: 3,
    finished_at: NOW, expires_at: NOW + 86400000, url: URL }));
  assert.deepEqual(found, { id: 7, state: "ready", startedAt: NOW - 5000, finishedAt: NOW,
    expiresAt: NOW + 86400000, size: 48213, messages: 1234, files: 3, error: "", url: URL });
  assert.equal(parseExport({ export: { state: "done" } }), null, "an unknown state");
  assert.equal(parseExport({}), null);
  assert.equal(parseExport(null), null);
});

test("only a download path of this server is followed", () => {
  for (const url of ["https://evil.example/x", "javascript:alert(1)", "/api/files/1/x", 7]) {
    assert.equal(parseExport(answer({ state: "ready", url })).url, null, String(url));
  }
});

test("a 404 means none yet; the dialog offers to start", () => {
  const view = exportView(loaded(null), NOW);
  assert.equal(view.kind, "none");
  assert.ok(view.canStart);
  assert.equal(view.url, null);
  assert.match(view.detail, /conversations/);
});

test("before the answer the dialog waits; a failed ask says so and still offers to start", () => {
  const held = emptyExport();
  const serial = exportAsked(held);
  assert.equal(exportView(held, NOW).kind, "loading");
  assert.equal(exportView(held, NOW).canStart, false);
  exportFailed(held, serial, "The server cannot be reached.");
  const view = exportView(held, NOW);
  assert.equal(view.kind, "error");
  assert.equal(view.detail, "The server cannot be reached.");
  assert.ok(view.canStart);
});

test("a running export shows its counts so far and is asked about again", () => {
  const held = loaded(answer({ messages: 1200, files: 1 }));
  const view = exportView(held, NOW);
  assert.equal(view.kind, "running");
  assert.equal(view.canStart, false);
  assert.match(view.detail, /^1,200 messages, 1 file so far/);
  assert.ok(shouldPoll(held));
});

test("a ready export offers its download, its size and when it expires", () => {
  const held = loaded(answer({ state: "ready", size: 3_200_000, messages: 1, files: 0,
    finished_at: NOW, expires_at: NOW + 23 * 3600000, url: URL }));
  const view = exportView(held, NOW);
  assert.equal(view.kind, "ready");
  assert.equal(view.title, "Your export is ready (3.2 MB).");
  assert.equal(view.url, URL);
  assert.match(view.detail, /1 message, 0 files\. .*expires in 23 hours/);
  assert.equal(view.startLabel, "Start a new export");
  assert.equal(shouldPoll(held), false);
});

test("a failed export says why; an expired one says it went", () => {
  const failed = exportView(loaded(answer({ state: "failed", error: "interrupted" })), NOW);
  assert.equal(failed.kind, "failed");
  assert.equal(failed.detail, "interrupted");
  assert.ok(failed.canStart);
  const expired = exportView(loaded(answer({ state: "expired" })), NOW);
  assert.equal(expired.kind, "expired");
  assert.equal(expired.url, null);
});

test("an older answer that arrives last is dropped", () => {
  const held = emptyExport();
  const first = exportAsked(held);
  const second = exportAsked(held);
  assert.ok(exportLoaded(held, second, answer({ state: "ready", url: URL })));
  assert.equal(exportLoaded(held, first, answer({ state: "running" })), false);
  assert.equal(held.export.state, "ready");
  assert.equal(exportFailed(held, first, "late"), false);
  assert.equal(held.error, "");
});

test("sizes and waits in words", () => {
  assert.equal(sizeText(812), "812 bytes");
  assert.equal(sizeText(48213), "48 KB");
  assert.equal(sizeText(1.5e9), "1.5 GB");
  assert.equal(untilText(NOW + 30000, NOW), "in a minute");
  assert.equal(untilText(NOW + 40 * 60000, NOW), "in 40 minutes");
  assert.equal(untilText(NOW + 5 * 3600000, NOW), "in 5 hours");
});

test("a refused start in words", () => {
  assert.match(startRefusal({ code: "conflict" }), /being made already/);
  assert.match(startRefusal({ code: "rate_limited", retryAfter: 2400 }), /in 40 minutes/);
  assert.match(startRefusal({ code: "rate_limited" }), /later/);
  assert.equal(startRefusal({ code: "unavailable", message: "busy" }), "busy");
});

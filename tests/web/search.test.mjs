// Searching messages (search.js through state.js): the query, pages of results newest first,
// stale replies ignored, errors said, snippets as segments, and opening a result at its message.

import assert from "node:assert/strict";
import { test } from "node:test";

import { ranges } from "../../clients/web/keywords.js";
import {
  emptySearch, isResult, markKeywords, SEARCH_PAGE, segments, statusText,
} from "../../clients/web/search.js";
import {
  apply, clearSearch, connectionChanged, openResult, searchFor, searchMore, searchRetry,
  SEEK_CONTEXT, SEEK_MAX,
} from "../../clients/web/state.js";
import { connected, historyPage, message, requests, roomInfo } from "./fixtures.mjs";

/** A search result as the server gives it: a message object with `room` and `snippet`. */
function result(room, seq, text = `m${seq}`, extra = {}) {
  return { ...message(room, seq, "Bob", text), room,
    snippet: [{ text: "…the ", hit: false }, { text: "deploy", hit: true },
      { text: "ment…", hit: false }], ...extra };
}

const ok = (messages, more = false) => ({ op: "ok", id: 7, messages, more });

function page() {
  return connected([roomInfo("general", { lastSeq: 100 }), roomInfo("random", { lastSeq: 5 })])
    .state;
}

test("a search asks for the first page; the reply's results are kept newest first", () => {
  const state = page();
  const [asked] = requests(searchFor(state, "  deploy  "));
  assert.deepEqual(asked, { op: "search", query: "deploy", limit: SEARCH_PAGE });
  assert.equal(state.search.status, "loading");
  assert.equal(statusText(state.search), "Searching…");
  apply(state, ok([result("general", 90), result("random", 4)], true), { request: asked });
  assert.deepEqual(state.search.results.map((r) => [r.room, r.seq]), [["general", 90],
    ["random", 4]]);
  assert.equal(state.search.more, true);
  assert.equal(statusText(state.search), "2+ results, newest first");
});

test("the next page passes the last result's msg_id as before; each result is kept once", () => {
  const state = page();
  const [first] = requests(searchFor(state, "deploy"));
  apply(state, ok([result("general", 90), result("general", 80)], true), { request: first });
  const [next] = requests(searchMore(state));
  assert.deepEqual(next, { op: "search", query: "deploy", limit: SEARCH_PAGE, before: 1080 });
  assert.deepEqual(searchMore(state), []); // one request at a time
  apply(state, ok([result("general", 80), result("general", 70)], false), { request: next });
  assert.deepEqual(state.search.results.map((r) => r.seq), [90, 80, 70]);
  assert.equal(state.search.more, false);
  assert.deepEqual(searchMore(state), []); // no more
  assert.equal(statusText(state.search), "3 results, newest first");
});

test("a reply to an older query or page is not taken", () => {
  const state = page();
  const [old] = requests(searchFor(state, "dep"));
  const [current] = requests(searchFor(state, "deploy"));
  apply(state, ok([result("general", 1)]), { request: old });
  assert.deepEqual(state.search.results, []);
  assert.equal(state.search.status, "loading");
  apply(state, { op: "error", id: 1, code: "internal", message: "boom" }, { request: old });
  assert.equal(state.search.status, "loading");
  apply(state, ok([result("general", 2)]), { request: current });
  assert.deepEqual(state.search.results.map((r) => r.seq), [2]);
  // A page asked for before a new search began.
  const [third] = requests(searchFor(state, "x"));
  apply(state, ok([result("general", 9)], true), { request: third });
  const [more] = requests(searchMore(state));
  searchFor(state, "y");
  apply(state, ok([result("general", 8)]), { request: more });
  assert.deepEqual(state.search.results, []);
});

test("an empty query clears; results without what a result needs are dropped", () => {
  const state = page();
  assert.deepEqual(searchFor(state, "   "), []);
  assert.equal(state.search.status, "idle");
  const [asked] = requests(searchFor(state, "a"));
  apply(state, ok([result("general", 3), { room: "general", seq: 4 }, null, "x",
    { ...result("general", 5), msg_id: "5" }]), { request: asked });
  assert.deepEqual(state.search.results.map((r) => r.seq), [3]);
  clearSearch(state);
  assert.deepEqual(state.search.results, []);
  assert.equal(state.search.query, "");
  assert.equal(statusText(state.search), "");
});

test("no results say so; a room restricts the search", () => {
  const state = page();
  const [asked] = requests(searchFor(state, "zebra", "random"));
  assert.deepEqual(asked, { op: "search", query: "zebra", limit: SEARCH_PAGE, room: "random" });
  apply(state, ok([], true), { request: asked });
  assert.equal(state.search.more, false); // nothing to page from
  assert.equal(statusText(state.search), "No messages match “zebra”.");
});

test("a failure is said; retry asks the same again", () => {
  const state = page();
  const [asked] = requests(searchFor(state, "from:"));
  apply(state, { op: "error", id: 1, code: "bad_request", message: "from: needs a name" },
    { request: asked });
  assert.equal(state.search.status, "failed");
  assert.equal(statusText(state.search), "The search was not understood: from: needs a name");
  const [again] = requests(searchRetry(state));
  assert.deepEqual(again, asked);
  apply(state, { op: "error", id: 2, code: "unknown_op", message: "?" }, { request: again });
  assert.equal(statusText(state.search), "This server cannot search messages.");
  // A failed second page retries that page.
  const [first] = requests(searchFor(state, "deploy"));
  apply(state, ok([result("general", 9)], true), { request: first });
  const [more] = requests(searchMore(state));
  apply(state, { op: "error", id: 3, code: "disconnected", message: "not connected" },
    { request: more });
  assert.match(statusText(state.search), /^Not connected/);
  assert.deepEqual(requests(searchRetry(state)), [more]);
  assert.deepEqual(state.search.results.map((r) => r.seq), [9]); // kept meanwhile
});

test("segments come from the snippet; a bad or missing snippet falls back to the text", () => {
  assert.deepEqual(segments(result("general", 1)), [{ text: "…the ", hit: false },
    { text: "deploy", hit: true }, { text: "ment…", hit: false }]);
  assert.deepEqual(segments(result("general", 1, "**plain** text", { snippet: "<b>x</b>" })),
    [{ text: "plain text", hit: false }]);
  assert.deepEqual(segments(result("general", 1, "t", { snippet: [{ text: 5, hit: true }] })),
    [{ text: "t", hit: false }]);
  assert.deepEqual(segments(result("general", 1, "", { snippet: [],
    files: [{ id: 3, name: "deploy.pdf" }] })), [{ text: "📎 deploy.pdf", hit: false }]);
  // A truthy non-boolean is no hit (the page marks only what the server marked).
  assert.deepEqual(segments(result("general", 1, "t", { snippet: [{ text: "a", hit: "yes" },
    { text: "", hit: true }] })), [{ text: "a", hit: false }]);
});

test("segments keep every segment of a well-formed snippet, in order (seeded cases)", () => {
  let seed = 15;
  const next = (n) => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    return Math.floor((seed / 2 ** 32) * n);
  };
  const TEXTS = ["", "a", "deploy", " ", "<b>x</b>", "…", "&amp;", "\n", "😀"];
  for (let run = 0; run < 500; run += 1) {
    const snippet = Array.from({ length: next(6) },
      () => ({ text: TEXTS[next(TEXTS.length)], hit: next(2) === 1 }));
    const kept = segments(result("general", 1, "fallback", { snippet }));
    const nonEmpty = snippet.filter((s) => s.text !== "");
    const expected = nonEmpty.length ? nonEmpty : [{ text: "fallback", hit: false }];
    assert.deepEqual(kept, expected, `run ${run}: ${JSON.stringify(snippet)}`);
  }
});

test("keywords are marked in a result's segments, whole where a search hit cuts through", () => {
  const parts = [{ text: "the on ", hit: false }, { text: "call", hit: true },
    { text: " rota; deploy at 5", hit: false }];
  assert.deepEqual(markKeywords(parts, ["on call", "Deploy"]), [
    { text: "the ", hit: false }, { text: "on ", hit: false, keyword: true },
    { text: "call", hit: true, keyword: true }, { text: " rota; ", hit: false },
    { text: "deploy", hit: false, keyword: true }, { text: " at 5", hit: false }]);
  // By the shared rule: a longer word holding it is none.
  assert.equal(markKeywords(parts, ["all"]), parts);
  assert.equal(markKeywords(parts, []), parts);
  assert.deepEqual(markKeywords([{ text: "Deploy", hit: true }], ["deploy"]),
    [{ text: "Deploy", hit: true, keyword: true }]);
});

test("marking keywords keeps the text and the hits, in order (seeded cases)", () => {
  let seed = 7;
  const next = (n) => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    return Math.floor((seed / 2 ** 32) * n);
  };
  const TEXTS = ["a", "deploy", " ", "on", " call", "de", "ploy ", "😀", "İ", "x_y"];
  const KEYWORDS = ["deploy", "on call", "a", "😀", "i̇"];
  for (let run = 0; run < 500; run += 1) {
    const parts = Array.from({ length: 1 + next(6) },
      () => ({ text: TEXTS[next(TEXTS.length)], hit: next(2) === 1 }));
    const keywords = KEYWORDS.filter(() => next(2) === 1);
    const marked = markKeywords(parts, keywords);
    const what = `run ${run}: ${JSON.stringify([parts, keywords])}`;
    assert.equal(marked.map((p) => p.text).join(""), parts.map((p) => p.text).join(""), what);
    assert.ok(marked.every((p) => p.text !== ""), what);
    // Each character keeps its part's hit; the keyword ones are what `ranges` finds.
    const hitsOf = (list) => list.flatMap((p) => [...p.text].map(() => p.hit));
    assert.deepEqual(hitsOf(marked), hitsOf(parts), what);
    const text = parts.map((p) => p.text).join("");
    const inKeyword = [];
    for (const p of marked) for (let i = 0; i < p.text.length; i += 1) inKeyword.push(Boolean(p.keyword));
    const expected = new Array(text.length).fill(false); // (by UTF-16 unit, as `ranges`)
    for (const [from, to] of ranges(keywords, text)) for (let i = from; i < to; i += 1) expected[i] = true;
    assert.deepEqual(inKeyword, expected, what);
  }
});

test("isResult needs a room, a msg_id, a seq and a sender", () => {
  assert.equal(isResult(result("general", 1)), true);
  assert.equal(isResult({ ...result("general", 1), from: null }), false);
  assert.equal(isResult(emptySearch()), false);
});

// -- opening a result ------------------------------------------------------------------------

test("a result held in the open room is shown at once", () => {
  const { state } = connected([roomInfo("general", { lastSeq: 3 })]);
  apply(state, { op: "ok", id: 2, room: "general", messages: [message("general", 3)],
    more: true }, { request: { op: "history", room: "general", limit: 50 } });
  assert.deepEqual(openResult(state, { room: "general", msgId: 1003, seq: 3 }), []);
  assert.deepEqual(state.jump, { room: "general", msgId: 1003, tick: 1 });
});

test("a result in another room opens it; its latest page comes, then one page reaches the "
  + "message with a few before it", () => {
  const { state } = connected([roomInfo("a-first", { lastSeq: 0 }),
    roomInfo("general", { lastSeq: 1000 })]);
  const [latest] = requests(openResult(state, { room: "general", msgId: 1700, seq: 700 }))
    .filter((r) => r.op === "history");
  assert.equal(state.current, "general");
  const [back] = requests(apply(state, { op: "ok", id: 2, room: "general",
    messages: historyPage("general", 951, 1000), more: true }, { request: latest }));
  assert.deepEqual(back, { op: "history", room: "general", before: 951,
    limit: 951 - 700 + SEEK_CONTEXT });
  assert.equal(state.jump.msgId, null);
  const effects = apply(state, { op: "ok", id: 3, room: "general",
    messages: historyPage("general", 951 - back.limit, 950), more: true }, { request: back });
  assert.deepEqual(effects, []);
  assert.deepEqual(state.jump, { room: "general", msgId: 1700, tick: 1 });
  assert.equal(state.rooms.get("general").seeking, null);
});

test("a result far back is reached in pages of SEEK_MAX; one gone is said to be gone", () => {
  const { state } = connected([roomInfo("general", { lastSeq: 2000 })]);
  apply(state, { op: "ok", id: 2, room: "general", messages: [message("general", 2000)],
    more: true }, { request: { op: "history", room: "general", limit: 50 } });
  let [back] = requests(openResult(state, { room: "general", msgId: 1100, seq: 100 }));
  assert.deepEqual(back, { op: "history", room: "general", before: 2000, limit: SEEK_MAX });
  [back] = requests(apply(state, { op: "ok", id: 3, room: "general",
    messages: [message("general", 1500)], more: true }, { request: back }));
  assert.deepEqual(back, { op: "history", room: "general", before: 1500, limit: SEEK_MAX });
  // The page that should hold it does not (deleted for good since the search): said once.
  const effects = apply(state, { op: "ok", id: 4, room: "general",
    messages: [message("general", 99)], more: true }, { request: back });
  assert.deepEqual(effects, [{ toast: "That message is not available any more." }]);
  assert.equal(state.rooms.get("general").seeking, null);
});

test("a result in a room one is not in says so; offline it cannot be loaded", () => {
  const { state } = connected([roomInfo("general", { lastSeq: 10 }), roomInfo("zzz",
    { lastSeq: 10 })]);
  assert.deepEqual(openResult(state, { room: "elsewhere", msgId: 1, seq: 1 }),
    [{ toast: "You are not a member of elsewhere any more." }]);
  connectionChanged(state, "waiting");
  const effects = openResult(state, { room: "zzz", msgId: 1005, seq: 5 });
  assert.equal(state.current, "zzz");
  assert.deepEqual(effects, [{ toast: "Not connected: the message cannot be loaded now." }]);
});

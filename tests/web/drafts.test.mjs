// Drafts: each room keeps what was typed in its box and not sent; they survive a reload
// through what saveDrafts gives (the controller stores it per user).

import assert from "node:assert/strict";
import { test } from "node:test";

import {
  DRAFTS_MAX, draftOf, restoreDrafts, saveDrafts, setDraft,
} from "../../clients/web/drafts.js";
import { initialState } from "../../clients/web/state.js";

test("each room has its own draft; an empty box has none", () => {
  const state = initialState({ me: "ann" });
  assert.equal(draftOf(state, "general"), "");
  setDraft(state, "general", "half a thought");
  setDraft(state, "@ann:bob", "psst");
  assert.equal(draftOf(state, "general"), "half a thought");
  assert.equal(draftOf(state, "@ann:bob"), "psst");
  assert.equal(draftOf(state, "random"), "");
  assert.equal(draftOf(state, null), "");
  setDraft(state, "general", "");
  assert.equal(draftOf(state, "general"), "");
  assert.deepEqual([...state.drafts.keys()], ["@ann:bob"]);
});

test("a change replaces the Map (so that it is saved); no change keeps it", () => {
  const state = initialState({ me: "ann" });
  const before = state.drafts;
  assert.deepEqual(setDraft(state, "general", "x"), []);
  assert.notEqual(state.drafts, before);
  assert.equal(before.size, 0, "the old Map is not changed in place");
  const after = state.drafts;
  setDraft(state, "general", "x");
  assert.equal(state.drafts, after);
  setDraft(state, "random", "");
  assert.equal(state.drafts, after);
});

test("only the most recently typed drafts are kept", () => {
  const state = initialState({ me: "ann" });
  for (let n = 0; n < DRAFTS_MAX + 5; n += 1) setDraft(state, `room-${n}`, `draft ${n}`);
  setDraft(state, "room-5", "typed again"); // now the most recent
  assert.equal(state.drafts.size, DRAFTS_MAX);
  assert.equal(draftOf(state, "room-0"), "");
  assert.equal(draftOf(state, "room-5"), "typed again");
  assert.equal(draftOf(state, `room-${DRAFTS_MAX + 4}`), `draft ${DRAFTS_MAX + 4}`);
});

test("drafts survive a save and restore; junk in storage is dropped", () => {
  const state = initialState({ me: "ann" });
  setDraft(state, "general", "line one\nline two");
  setDraft(state, "@ann:bob", "🙂 <b>not html</b>");
  const stored = JSON.parse(JSON.stringify(saveDrafts(state.drafts)));
  const again = initialState({ me: "ann", drafts: restoreDrafts(stored) });
  assert.equal(draftOf(again, "general"), "line one\nline two");
  assert.equal(draftOf(again, "@ann:bob"), "🙂 <b>not html</b>");
  assert.deepEqual(restoreDrafts({ a: 1, b: "", c: "kept", d: null }), new Map([["c", "kept"]]));
  for (const junk of [null, "text", 7, ["a", "b"]]) assert.equal(restoreDrafts(junk).size, 0);
});

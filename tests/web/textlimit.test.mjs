// The message box's length note: code points as the server counts them, a count near the
// limit, and how many are too many past it.

import assert from "node:assert/strict";
import { test } from "node:test";

import {
  COUNT_FROM, MAX_TEXT_CHARS, lengthNote, textLength, tooLong, topicTooLong,
} from "../../clients/web/textlimit.js";
import { apply, initialState } from "../../clients/web/state.js";
import { welcome } from "./fixtures.mjs";

test("length is counted in code points, as the server counts", () => {
  assert.equal(textLength(""), 0);
  assert.equal(textLength("abc"), 3);
  assert.equal(textLength("👍"), 1); // two UTF-16 units
  assert.equal(textLength("a👍🏽"), 3); // the thumb and its skin tone are two code points
  assert.equal(textLength("é"), 1);
  assert.equal(textLength("e\u0301"), 2);
});

test("nothing is said far from the limit; the count shows near it; past it, how many", () => {
  assert.deepEqual(lengthNote("hello"), { shown: false, over: 0, text: "" });
  const near = Math.floor(MAX_TEXT_CHARS * COUNT_FROM);
  assert.deepEqual(lengthNote("x".repeat(near - 1)).shown, false);
  assert.deepEqual(lengthNote("x".repeat(near)), { shown: true, over: 0,
    text: `${near} of ${MAX_TEXT_CHARS}` });
  assert.deepEqual(lengthNote("x".repeat(MAX_TEXT_CHARS)).over, 0);
  assert.deepEqual(lengthNote("x".repeat(MAX_TEXT_CHARS + 1)), { shown: true, over: 1,
    text: `1 character too long (${MAX_TEXT_CHARS + 1} of ${MAX_TEXT_CHARS})` });
  assert.equal(lengthNote("👍".repeat(11), 10).over, 1);
  assert.equal(lengthNote("x".repeat(120), 100).text, "20 characters too long (120 of 100)");
  assert.match(tooLong("x".repeat(120), 100), /at most 100 characters, this one has 20 too many/);
});

test("the limit is the server's when the welcome gives it", () => {
  const state = initialState({ me: "ann" });
  assert.equal(state.maxText, MAX_TEXT_CHARS);
  apply(state, { ...welcome([]), max_text_chars: 500 });
  assert.equal(state.maxText, 500);
  apply(state, { ...welcome([]), max_text_chars: "lots" });
  assert.equal(state.maxText, 500);
});

test("a topic is counted in code points: 256 emoji fit, one more is said", () => {
  assert.equal(topicTooLong("😀".repeat(256)), null);
  assert.equal(topicTooLong("😀".repeat(257)),
    "A topic holds at most 256 characters: this one has 1 too many.");
  assert.equal(topicTooLong(""), null);
});

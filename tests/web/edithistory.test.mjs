// A message's edit history, the logic (edithistory.js): the word diff between two versions
// and the dialog's rows from an `edit_history` answer. The diff's property: whatever the two
// texts, its "same" and "removed" parts spell the old one and its "same" and "added" parts
// the new one (applying it gives the new text), no two neighbours share a kind, and a text
// diffed with itself is one "same" part.
//
// No dependency: a small seeded generator makes the same cases on every run (the seed of a
// failing case is in the failure message).

import assert from "node:assert/strict";
import { test } from "node:test";

import {
  applyDiff, followHistory, historyAnswered, historyFollows, historyRequest, historyRows,
  historyShown, MAX_DIFF_TOKENS, refusalText, tokens, wordDiff,
} from "../../clients/web/edithistory.js";
import { generator } from "./fixtures.mjs";

const WORDS = ["lunch", "at", "noon", "1", "in", "the", "park", "é", "🍕", "**bold**", "x"];
const SPACES = [" ", " ", " ", "  ", "\n", "\t", " \n "];

function randomText(random) {
  const count = random(12);
  let text = random(5) === 0 ? random.pick(SPACES) : "";
  for (let i = 0; i < count; i += 1) {
    text += random.pick(WORDS);
    if (i < count - 1 || random(4) === 0) text += random.pick(SPACES);
  }
  return text;
}

/** A new text made from `old` as people edit: words changed, put in, taken out. */
function edited(random, old) {
  const words = tokens(old);
  for (let k = random(4); k > 0; k -= 1) {
    const at = random(words.length + 1);
    const what = random(3);
    if (what === 0) words.splice(at, 1);
    else if (what === 1) words.splice(at, 0, random.pick(WORDS), " ");
    else words.splice(at, 1, random.pick(WORDS));
  }
  return words.join("");
}

test("applying the diff to the old text gives the new one, whatever the two texts", () => {
  for (let seed = 1; seed <= 600; seed += 1) {
    const random = generator(seed);
    const before = randomText(random);
    const after = random(2) === 0 ? randomText(random) : edited(random, before);
    const parts = wordDiff(before, after);
    const where = `seed ${seed}: ${JSON.stringify(before)} -> ${JSON.stringify(after)}`;
    assert.equal(applyDiff(before, parts), after, where);
    for (let i = 1; i < parts.length; i += 1) {
      assert.notEqual(parts[i].kind, parts[i - 1].kind, where);
    }
    assert.ok(parts.every((p) => p.text.length > 0), where);
    assert.deepEqual(wordDiff(after, after), after ? [{ kind: "same", text: after }] : [],
      where);
  }
});

test("a word changed is marked removed then added, the rest kept", () => {
  assert.deepEqual(wordDiff("lunch at noon today", "lunch at one today"), [
    { kind: "same", text: "lunch at " },
    { kind: "removed", text: "noon" },
    { kind: "added", text: "one" },
    { kind: "same", text: " today" },
  ]);
  assert.deepEqual(wordDiff("meet", "meet in the park"), [
    { kind: "same", text: "meet" }, { kind: "added", text: " in the park" }]);
  assert.deepEqual(wordDiff("", "hi"), [{ kind: "added", text: "hi" }]);
  // Only whole words: "noon" to "noonish" is the word replaced, not "ish" added.
  assert.deepEqual(wordDiff("at noon", "at noonish"), [
    { kind: "same", text: "at " }, { kind: "removed", text: "noon" },
    { kind: "added", text: "noonish" }]);
});

test("applyDiff refuses a diff of another text", () => {
  assert.equal(applyDiff("other", wordDiff("lunch", "dinner")), null);
});

test("a long text past the limit is all removed and all added, still exact", () => {
  const before = Array.from({ length: MAX_DIFF_TOKENS }, (_, i) => `w${i}`).join(" ");
  const after = `${before.split(" ").reverse().join(" ")} end`;
  const parts = wordDiff(before, after);
  assert.equal(applyDiff(before, parts), after);
  assert.deepEqual(parts.map((p) => p.kind), ["removed", "added"]);
});

test("the rows: the original posted, each edit with its diff, the last the text now", () => {
  const { rows, note } = historyRows({
    room: "general", msg_id: 7, original: true, omitted: 0, versions: [
      { text: "lunch at 12?", by: "bob", ts: 1000, seq: 4 },
      { text: "lunch at 1?", by: "bob", ts: 2000, seq: 6 },
      { text: "lunch at 1 in the park?", by: "bob", ts: 3000, seq: 9 },
    ],
  });
  assert.equal(note, "");
  assert.deepEqual(rows.map((r) => [r.label, r.by, r.ts, r.current, r.gap]), [
    ["Posted by", "bob", 1000, false, 0], ["Edited by", "bob", 2000, false, 0],
    ["Edited by", "bob", 3000, true, 0]]);
  assert.equal(rows[0].parts, null);
  assert.deepEqual(rows[1].parts, [{ kind: "same", text: "lunch at " },
    { kind: "removed", text: "12?" }, { kind: "added", text: "1?" }]);
  assert.equal(applyDiff(rows[1].text, rows[2].parts), rows[2].text);
});

test("the original not kept, and versions left out, are said", () => {
  const { rows, note } = historyRows({ original: false, omitted: 5, versions: [
    { text: "a", by: "ann", ts: 1, seq: 2 }, { text: "b", by: "ann", ts: 2, seq: 9 }] });
  assert.equal(rows[0].label, "Oldest kept version, by");
  assert.equal(rows[1].gap, 5);
  assert.match(note, /original text is not kept/u);
  // A malformed answer shows nothing rather than breaking.
  assert.deepEqual(historyRows({ versions: "no" }).rows, []);
  assert.deepEqual(historyRows(null).rows, []);
});

test("the request and the refusals", () => {
  assert.deepEqual(historyRequest("general", 7),
    { op: "edit_history", room: "general", msg_id: 7 });
  assert.match(refusalText({ code: "not_found" }), /gone/u);
  assert.match(refusalText({ code: "forbidden" }), /cannot read/u);
  assert.match(refusalText({ code: "disconnected" }), /Not connected/u);
  assert.equal(refusalText({ code: "x", message: "odd" }), "odd");
});

test("who may open a message's edit history, as the welcome's edit_history says", () => {
  // [mode, moderator (author, owner or moderator), admin] → shown
  for (const admin of [false, true]) {
    for (const moderator of [false, true]) {
      assert.equal(historyShown("everyone", moderator, admin), true);
      assert.equal(historyShown(undefined, moderator, admin), true); // an older server
      assert.equal(historyShown("moderators", moderator, admin), moderator || admin);
      assert.equal(historyShown("off", moderator, admin), admin);
    }
  }
});

const answerOf = (...versions) => ({ room: "general", msg_id: 7, original: true, omitted: 0,
  versions: versions.map(([text, seq]) => ({ text, by: "ann", ts: seq * 1000, seq })) });
const editOf = (text, seq, extra = {}) => ({ op: "edited", room: "general", seq, msg_id: 7,
  text, from: "ann", ts: seq * 1000, ...extra });
const texts = (followed) => followed.answer.versions.map((v) => v.text);

test("an edit while the dialog is open is added as the newest version, once", () => {
  const followed = followHistory("general", 7);
  historyAnswered(followed, answerOf(["lunch at noon", 4], ["lunch at one", 6]));
  assert.equal(historyFollows(followed, editOf("lunch at two", 9)), true);
  assert.deepEqual(texts(followed), ["lunch at noon", "lunch at one", "lunch at two"]);
  assert.deepEqual(followed.answer.versions[2], { text: "lunch at two", by: "ann", ts: 9000,
    seq: 9 });
  const rows = historyRows(followed.answer).rows;
  assert.deepEqual(rows.map((r) => r.current), [false, false, true]);
  assert.deepEqual(rows[2].parts, [{ kind: "same", text: "lunch at " },
    { kind: "removed", text: "one" }, { kind: "added", text: "two" }]);
  // The same entry again (a resume), or one the answer had, changes nothing.
  assert.equal(historyFollows(followed, editOf("lunch at two", 9)), false);
  assert.equal(historyFollows(followed, editOf("lunch at one", 6)), false);
  assert.equal(texts(followed).length, 3);
  // Another message's entries, another room's, and other entries are not this one's.
  assert.equal(historyFollows(followed, editOf("x", 10, { msg_id: 8 })), false);
  assert.equal(historyFollows(followed, editOf("x", 10, { room: "random" })), false);
  assert.equal(historyFollows(followed, { op: "reaction", room: "general", msg_id: 7, seq: 11,
    emoji: "👍", user: "bob", on: true }), false);
  assert.equal(texts(followed).length, 3);
});

test("an edit that came before the answer is added once, whether the answer had it or not", () => {
  const before = followHistory("general", 7);
  assert.equal(historyFollows(before, editOf("lunch at two", 9)), false); // nothing shown yet
  historyAnswered(before, answerOf(["lunch at noon", 4]));
  assert.deepEqual(texts(before), ["lunch at noon", "lunch at two"]);
  const had = followHistory("general", 7);
  historyFollows(had, editOf("lunch at two", 9));
  historyAnswered(had, answerOf(["lunch at noon", 4], ["lunch at two", 9]));
  assert.deepEqual(texts(had), ["lunch at noon", "lunch at two"]);
  // The answer is a copy: adding to it leaves the server's frame as it was.
  const frame = answerOf(["a", 1]);
  const copy = followHistory("general", 7);
  historyAnswered(copy, frame);
  historyFollows(copy, editOf("b", 2));
  assert.equal(frame.versions.length, 1);
});

test("a deletion while the dialog is open drops the versions and says it is gone", () => {
  const followed = followHistory("general", 7);
  historyAnswered(followed, answerOf(["lunch at noon", 4], ["lunch at one", 6]));
  assert.equal(historyFollows(followed, { op: "deleted", room: "general", seq: 12, msg_id: 7,
    by: "ann", ts: 1 }), true);
  assert.equal(followed.gone, true);
  assert.equal(followed.answer, null);
  // Nothing brings it back: neither another edit entry nor the deletion again.
  assert.equal(historyFollows(followed, editOf("", 6)), false);
  assert.equal(historyFollows(followed, { op: "deleted", room: "general", seq: 12, msg_id: 7 }),
    false);
  // Deleted before the answer came: gone all the same.
  const early = followHistory("general", 7);
  assert.equal(historyFollows(early, { op: "deleted", room: "general", seq: 12, msg_id: 7 }),
    true);
  historyAnswered(early, answerOf(["lunch at noon", 4]));
  assert.equal(early.gone, true);
  assert.equal(early.answer, null);
});

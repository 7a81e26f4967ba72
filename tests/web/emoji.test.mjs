// Custom emoji (emoji.js, through state.js and markdown.js): the list is asked after every
// welcome and kept by `custom_emoji` events; only the server's picture urls are kept; a
// message's `:name:` outside code is the picture of a known emoji and text otherwise; a
// reaction's `:name:` shows its picture while the emoji exists; ":par" before the caret
// offers the names; the dialog's checks and who may remove.

import assert from "node:assert/strict";
import { test } from "node:test";

import {
  addProblem, bareName, changed, customName, emptyEmoji, mayRemove, MAX_SUGGESTIONS, pictureOf,
  received, sortedEmoji, suggestions,
} from "../../clients/web/emoji.js";
import { parse } from "../../clients/web/markdown.js";
import { apply } from "../../clients/web/state.js";
import { connected, requests } from "./fixtures.mjs";

const SHA = "ab".repeat(32);
const OTHER = "cd".repeat(32);
const url = (sha = SHA) => `/api/emoji/images/${sha}`;
const emoji = (name, by = "ann", sha = SHA) => ({ name, url: url(sha), by, ts: 5 });

function listOf(...items) {
  const list = emptyEmoji();
  received(list, { emoji: items });
  return list;
}

test("every welcome asks for the list; the answer fills it and events keep it", () => {
  const { state, effects } = connected();
  assert.ok(requests(effects).some((r) => r.op === "custom_emoji"));
  assert.equal(state.customEmoji.loaded, false);
  const asked = requests(effects).find((r) => r.op === "custom_emoji");
  apply(state, { op: "ok", id: 3, emoji: [emoji("party"), emoji("logo", "bob", OTHER)] },
    { request: asked });
  assert.equal(state.customEmoji.loaded, true);
  assert.deepEqual(sortedEmoji(state.customEmoji).map((e) => e.name), ["logo", "party"]);
  const before = state.customEmoji.version;
  apply(state, { op: "custom_emoji", name: "chatd", url: url(OTHER), by: "ann", ts: 9 });
  assert.deepEqual(state.customEmoji.byName.get("chatd"),
    { name: "chatd", url: url(OTHER), by: "ann", ts: 9 });
  apply(state, { op: "custom_emoji", name: "party", url: null, by: "root", ts: 10 });
  assert.equal(state.customEmoji.byName.has("party"), false);
  assert.equal(state.customEmoji.version, before + 2);
  // Removing one not known changes nothing (no redraw).
  apply(state, { op: "custom_emoji", name: "nothing", url: null, by: "root", ts: 11 });
  assert.equal(state.customEmoji.version, before + 2);
});

test("only the server's picture urls and names of the server's form are kept", () => {
  const list = listOf(emoji("ok"), { name: "bad", url: "javascript:alert(1)", by: "x" },
    { name: "Upper", url: url() }, { name: "far", url: `https://evil.example${url()}` },
    { name: "x".repeat(33), url: url() }, null, "text");
  assert.deepEqual([...list.byName.keys()], ["ok"]);
  changed(list, { name: "evil", url: "/api/files/1/x.svg", by: "x", ts: 1 });
  changed(list, { name: "<b>", url: url(), by: "x", ts: 1 });
  assert.deepEqual([...list.byName.keys()], ["ok"]);
});

test("a reaction's :name: is a custom emoji's; its picture while the emoji is known", () => {
  const list = listOf(emoji("party"));
  assert.equal(customName(":party:"), "party");
  assert.equal(customName("👍"), null);
  assert.equal(customName(":Party:"), null);
  assert.equal(customName("::"), null);
  assert.deepEqual(pictureOf(list, ":party:"), { name: "party", url: url() });
  assert.equal(pictureOf(list, ":gone:"), null); // removed: shown as its :name: text
  assert.equal(pictureOf(list, "🎉"), null);
});

/** The inline nodes of a one-paragraph text. */
function inlines(text, list) {
  const tree = parse(text, { emoji: list.byName });
  return tree.children.length === 1 && tree.children[0].type === "para"
    ? tree.children[0].children : tree.children;
}

test("a known :name: in text is its picture, not in code, not glued to a word", () => {
  const list = listOf(emoji("party"), emoji("a+b-c_1"));
  assert.deepEqual(inlines("ship it :party: now", list), [
    { type: "text", text: "ship it " }, { type: "emoji", name: "party", url: url() },
    { type: "text", text: " now" }]);
  assert.deepEqual(inlines(":a+b-c_1::party:", list).map((n) => n.type), ["emoji", "emoji"]);
  // Unknown, in a code span, in a block, glued to a word: text as typed.
  assert.deepEqual(inlines(":nope: :Party:", list), [{ type: "text", text: ":nope: :Party:" }]);
  assert.deepEqual(inlines("`:party:`", list), [{ type: "code", text: ":party:" }]);
  const block = parse("```\n:party:\n```", { emoji: list.byName }).children;
  assert.deepEqual(block, [{ type: "code_block", text: ":party:", lang: "" }]);
  assert.deepEqual(inlines("word:party:", list), [{ type: "text", text: "word:party:" }]);
  // Inside emphasis, it is found all the same; and without a list, nothing is.
  assert.deepEqual(inlines("**:party:**", list)[0].children,
    [{ type: "emoji", name: "party", url: url() }]);
  assert.deepEqual(inlines(":party:", emptyEmoji()), [{ type: "text", text: ":party:" }]);
});

test("':' and two letters of a name before the caret offer the names, prefixes first", () => {
  const names = ["party", "partyparrot", "parrot", "sparkles", "chatd"];
  const list = listOf(...names.map((n) => emoji(n)));
  assert.deepEqual(suggestions(list, "hello :par"), { start: 6, typed: "par",
    names: ["parrot", "party", "partyparrot", "sparkles"] });
  assert.deepEqual(suggestions(list, ":ch"), { start: 0, typed: "ch", names: ["chatd"] });
  assert.equal(suggestions(list, "hello :p"), null); // one letter: too early
  assert.equal(suggestions(list, "at 12:30"), null); // a time, not an emoji
  assert.equal(suggestions(list, "word:par"), null);
  assert.equal(suggestions(list, "`code :par"), null); // inside a code span
  assert.equal(suggestions(list, ":zzz"), null);
  assert.equal(suggestions(list, ":party: "), null); // finished
  const many = listOf(...Array.from({ length: 20 }, (_, i) => emoji(`aa${i}`)));
  assert.equal(suggestions(many, ":aa").names.length, MAX_SUGGESTIONS);
});

test("the dialog: a name and a picture checked before sending; who may remove", () => {
  const list = listOf(emoji("party"));
  const png = { type: "image/png", size: 1000 };
  assert.equal(addProblem(list, "logo", png), "");
  assert.equal(addProblem(list, " :logo: ", png), "");
  assert.equal(bareName(" :logo: "), "logo");
  assert.match(addProblem(list, "Logo", png), /a-z/);
  assert.match(addProblem(list, "", png), /a-z/);
  assert.match(addProblem(list, "party", png), /already/);
  assert.match(addProblem(list, "logo", null), /Choose/);
  assert.match(addProblem(list, "logo", { type: "image/svg+xml", size: 10 }), /PNG/);
  assert.match(addProblem(list, "logo", { type: "image/png", size: 300 * 1024 }), /KiB/);
  const theirs = emoji("party", "Bob");
  assert.equal(mayRemove(theirs, "bob", false), true);
  assert.equal(mayRemove(theirs, "ann", false), false);
  assert.equal(mayRemove(theirs, "ann", true), true);
});

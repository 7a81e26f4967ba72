// A box's text read as a slash command (slash.js): the name at the very start, "//" for a
// literal slash, the words with "quoted runs", @names and #rooms; odd input (unclosed quotes,
// unicode, only spaces, very long) read without a throw, and a seeded walk over random texts
// whose words, put back together, are the text's.
//
// No dependency: the seeded generator of fixtures.mjs makes the same cases on every run.

import assert from "node:assert/strict";
import { test } from "node:test";

import { readCommand, splitWords, typedName } from "../../clients/web/slash.js";
import { generator } from "./fixtures.mjs";

const texts = (words) => words.map((word) => word.text);

test("a command is / and a name at the very start; its arguments follow, trimmed", () => {
  assert.deepEqual(readCommand("/shrug hi there "), { name: "shrug", rest: "hi there" });
  assert.deepEqual(readCommand("/HELP"), { name: "help", rest: "" });
  assert.deepEqual(readCommand("/me\twaves\nat you"), { name: "me", rest: "waves\nat you" });
  assert.deepEqual(readCommand("/reply-thread x"), { name: "reply-thread", rest: "x" });
});

test("anything else is a message: no slash, a slash alone, a space or a digit after it", () => {
  for (const text of ["hello /shrug", " /shrug", "/", "/ shrug", "/2x", "/shrug/x", "", "http://x"]) {
    assert.equal(readCommand(text), null, text);
  }
  assert.equal(readCommand(null), null);
});

test("// sends the text with one slash less, whatever follows", () => {
  assert.deepEqual(readCommand("//shrug hi"), { literal: "/shrug hi" });
  assert.deepEqual(readCommand("//"), { literal: "/" });
  assert.deepEqual(readCommand("///x"), { literal: "//x" });
});

test("a non-Latin name is a name (unknown to the table, but read)", () => {
  assert.deepEqual(readCommand("/привет мир"), { name: "привет", rest: "мир" });
});

test("words split on white space; a quoted run is one word, quotes dropped", () => {
  const { words } = splitWords('"Lunch today?"  Pizza "Green salad" ""');
  assert.deepEqual(texts(words), ["Lunch today?", "Pizza", "Green salad", ""]);
  assert.deepEqual(words.map((w) => w.quoted), [true, false, true, true]);
  assert.deepEqual(texts(splitWords("“Curly” „German“ “mixed\"").words),
    ["Curly", "German", "mixed"]);
});

test("@names and #rooms are read, a trailing comma dropped; a quoted one is plain text", () => {
  const { words } = splitWords('@bob, @carol #design "@dave" @ # a@b');
  assert.deepEqual(words.map((w) => [w.user, w.room]), [["bob", null], ["carol", null],
    [null, "design"], [null, null], [null, null], [null, null], [null, null]]);
});

test("an unclosed quote is a problem, not a guess", () => {
  assert.match(splitWords('"Lunch? Pizza').problem, /not closed/);
  assert.match(splitWords('a “b').problem, /not closed/);
});

test("only spaces, nothing, or no string: no words", () => {
  assert.deepEqual(splitWords("   \n\t "), { words: [] });
  assert.deepEqual(splitWords(""), { words: [] });
  assert.deepEqual(splitWords(undefined), { words: [] });
});

test("very long input is read whole, and quickly", () => {
  const long = `/${"a".repeat(100_000)} ${"word ".repeat(20_000)}`;
  const started = performance.now();
  const read = readCommand(long);
  assert.equal(read.name.length, 100_000);
  assert.equal(splitWords(read.rest).words.length, 20_000);
  assert.equal(splitWords(`"${"x".repeat(100_000)}`).problem !== undefined, true);
  assert.ok(performance.now() - started < 2000);
});

test("emoji and combining marks stay whole in the words", () => {
  assert.deepEqual(texts(splitWords("🌴 On holiday 👩‍👩‍👧 e\u0301").words),
    ["🌴", "On", "holiday", "👩‍👩‍👧", "e\u0301"]);
});

test("the name being typed, for the list: / and the start of a name, nothing before", () => {
  assert.equal(typedName("/"), "");
  assert.equal(typedName("/Sh"), "sh");
  assert.equal(typedName("/sh x"), null);
  assert.equal(typedName("x /sh"), null);
  assert.equal(typedName("//"), null);
});

test("random texts: never a throw, and the words are the text's, in order", () => {
  const alphabet = ["a", "Z", " ", "  ", "\n", '"', "“", "”", "„", "@", "#", ",", "é", "🌴", "/"];
  for (let seed = 1; seed <= 500; seed += 1) {
    const random = generator(seed);
    const text = Array.from({ length: random(40) }, () => random.pick(alphabet)).join("");
    const split = splitWords(text);
    if (split.problem) {
      assert.match(split.problem, /not closed/, `seed ${seed}`);
      continue;
    }
    // Every character of a word is in the text, and the words come in the text's order.
    let at = 0;
    for (const word of split.words) {
      const found = text.indexOf(word.text, at);
      assert.ok(found >= 0, `seed ${seed}: ${JSON.stringify(word.text)} in ${JSON.stringify(text)}`);
      at = found + word.text.length;
      if (!word.quoted) assert.doesNotMatch(word.text, /\s/u, `seed ${seed}`);
    }
    // Without quotes, the words are the text split on white space.
    if (!/["“”„]/u.test(text)) {
      assert.deepEqual(texts(split.words), text.split(/\s+/u).filter(Boolean), `seed ${seed}`);
    }
  }
});

// Notification keywords, by seeded random cases (the seeded generator of fixtures.mjs: the same
// cases on every run; a failing case's seed is in its message):
//
// - the rule: a keyword between spaces always matches, glued to a letter on either side never
//   does; every mark (`ranges`) is an occurrence of a keyword, standing alone, in text order,
//   none overlapping; a text matches exactly when it has a mark; marking a message's markup
//   keeps its words, whatever the text;
// - the list ends as the server has it whatever the order things reach the page in: a model
//   server takes, in order, the page's `set_keywords` (each stored, or refused as too many)
//   among another device's changes (each an event to this page); the page changes the list at
//   any moment and reads the frames of its one connection in order, at any moment. Whenever
//   nothing of the page's is on its way, and at the end, the page shows the server's list.

import assert from "node:assert/strict";
import { test } from "node:test";

import { listOf, matches, ranges } from "../../clients/web/keywords.js";
import { parse } from "../../clients/web/markdown.js";
import { apply, connectionChanged, initialState, setKeywords } from "../../clients/web/state.js";
import { generator, requests, welcome } from "./fixtures.mjs";

const ROUNDS = 300;
const WORDS = ["deploy", "On Call", "c++", "#release", "k8s", "über", "a.b", "API", "_x", "é"];
const BITS = [" ", ".", ",", "(", ")", "**", "`", "_", "x", "É", "1", "\n", "@", "-", "😀",
  "redeploy", "deploy", "on call", "ON  CALL", "C++", "Über", "api", "İ", "https://deploy.io"];

function randomText(random) {
  return Array.from({ length: random(14) }, () => random.pick(BITS) + random.pick(["", " ", " "]))
    .join("");
}

test("a keyword between spaces matches; glued to a letter or digit it does not", () => {
  for (let seed = 1; seed <= ROUNDS; seed += 1) {
    const random = generator(seed);
    const word = random.pick(WORDS);
    const around = random.pick(["", " ", "(", "!", "\n"]);
    assert.equal(matches(word, `${randomText(random)} ${word}${around} ${randomText(random)}`),
      true, `seed ${seed}`);
    const glue = random.pick(["q", "Z", "7", "_", "ß", "𝐀"]);
    assert.equal(matches(word, random(2) ? `${glue}${word}` : `${word}${glue}`), false,
      `seed ${seed}: glued`);
  }
});

test("every mark is a keyword standing alone, in text order, none overlapping", () => {
  const word = /[\p{L}\p{N}_]/u;
  const alone = (text, start, end) => !word.test([...text.slice(0, start)].pop() || "")
    && !word.test([...text.slice(end)][0] || "");
  for (let seed = 1; seed <= ROUNDS; seed += 1) {
    const random = generator(seed);
    const keywords = Array.from({ length: 1 + random(3) }, () => random.pick(WORDS));
    const text = randomText(random);
    const marks = ranges(keywords, text);
    assert.equal(marks.length > 0, keywords.some((k) => matches(k, text)), `seed ${seed}`);
    let last = -1;
    for (const [start, end] of marks) {
      assert.ok(start > last && end > start && end <= text.length, `seed ${seed}: order`);
      last = end;
      const slice = text.slice(start, end).toLowerCase();
      // A mark is one keyword, or keywords that overlap or touch: it starts with one and ends
      // with one.
      assert.ok(keywords.some((k) => slice.startsWith(k.toLowerCase()))
        && keywords.some((k) => slice.endsWith(k.toLowerCase())), `seed ${seed}: ${slice}`);
      // (Alone in the lower-cased text, as the rule reads it: "İ" lower-cases to "i" and a
      // combining dot, which is no word character, so "İC++" matches "c++", as on the server.)
      if (text.toLowerCase().length === text.length) {
        assert.ok(alone(text, start, end), `seed ${seed}: alone`);
      }
    }
  }
});

/** A tree with its marks taken back into text, and neighbouring text nodes joined. */
function unmarked(node) {
  const join = (nodes) => nodes.map(unmarked).reduce((out, next) => {
    const last = out[out.length - 1];
    if (last && last.type === "text" && next.type === "text") {
      out[out.length - 1] = { type: "text", text: last.text + next.text };
    } else {
      out.push(next);
    }
    return out;
  }, []);
  if (node.type === "keyword") return { type: "text", text: node.text };
  if (node.items) return { ...node, items: node.items.map(join) };
  if (node.children) return { ...node, children: join(node.children) };
  return node;
}

test("marking keywords in a message's markup changes nothing else: same words, same tree", () => {
  let marks = 0;
  for (let seed = 1; seed <= ROUNDS; seed += 1) {
    const random = generator(seed);
    const text = randomText(random);
    const keywords = [random.pick(WORDS), random.pick(WORDS)];
    const marked = parse(text, { mentions: [], me: "ann", keywords });
    marks += JSON.stringify(marked).split('"keyword"').length - 1;
    assert.deepEqual(unmarked(marked), unmarked(parse(text, { mentions: [], me: "ann" })),
      `seed ${seed}: ${JSON.stringify(text)}`);
  }
  assert.ok(marks > ROUNDS / 10, `the cases mark something: ${marks}`);
});

/** One person's keywords on the server, as docs/protocol.md tells them. */
class ModelServer {
  constructor(most) {
    this.list = [];
    this.most = most;
  }

  /** The page's set_keywords: its reply, and whether the list changed. */
  set(keywords) {
    const clean = listOf(keywords);
    if (clean.length > this.most) {
      return { reply: { op: "error", id: 9, code: "bad_request", message: "too many" } };
    }
    const changed = JSON.stringify(clean) !== JSON.stringify(this.list);
    this.list = clean;
    return { reply: { op: "ok", id: 9, keywords: clean }, changed };
  }

  /** Another device's change: the event to this page, or null when nothing changed. */
  other(keywords) {
    const clean = listOf(keywords);
    if (clean.length > this.most || JSON.stringify(clean) === JSON.stringify(this.list)) {
      return null;
    }
    this.list = clean;
    return { op: "keywords", keywords: clean };
  }
}

test("the list ends as the server has it, whatever the order of changes, replies and events", () => {
  for (let seed = 1; seed <= ROUNDS; seed += 1) {
    const random = generator(seed);
    const server = new ModelServer(3);
    const state = initialState({ me: "ann" });
    connectionChanged(state, "online");
    apply(state, { ...welcome([]), keywords: [] });
    const wire = []; // frames on their way to the page, in order
    const asked = []; // the page's requests not yet taken by the server, in order
    const someList = () => Array.from({ length: random(5) }, () => random.pick(WORDS));
    for (let step = 0; step < 40; step += 1) {
      const what = random(4);
      if (what === 0) {
        asked.push(...requests(setKeywords(state, someList())));
      } else if (what === 1 && asked.length) {
        const request = asked.shift();
        const { reply } = server.set(request.keywords);
        wire.push({ frame: reply, request });
      } else if (what === 2) {
        const event = server.other(someList());
        if (event) wire.push({ frame: event, request: null });
      } else if (wire.length) {
        const { frame, request } = wire.shift();
        apply(state, frame, { request });
      }
      if (!asked.length && !wire.length) {
        assert.deepEqual(state.keywords.list, server.list, `seed ${seed} step ${step}`);
      }
    }
    while (asked.length) {
      const request = asked.shift();
      wire.push({ frame: server.set(request.keywords).reply, request });
    }
    while (wire.length) {
      const { frame, request } = wire.shift();
      apply(state, frame, { request });
    }
    assert.deepEqual(state.keywords.list, server.list, `seed ${seed} at the end`);
    assert.equal(state.keywords.pending, 0, `seed ${seed}`);
  }
});

// Notification keywords (keywords.js): the rule, read as the server and the terminal client
// read it (every case of tests/keyword-cases.json), where a highlight marks a text, the list
// as the server keeps it (shown at once, the server's word last), and the dialog's adding and
// removing with the limits said.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import {
  addWords, answered, confirm, countText, emptyKeywords, hits, limitOf, limitsText, listOf, matched,
  matches, MAX_CHARS, MAX_KEYWORDS, ranges, refusalText, removeWord, setList, splitTyped,
  welcomed,
} from "../../clients/web/keywords.js";
import { kindOf, mentionCount, titleCount } from "../../clients/web/alerts.js";
import { candidates } from "../../clients/web/switcher.js";
import { parse } from "../../clients/web/markdown.js";
import { shownMessage, signature } from "../../clients/web/select-messages.js";
import {
  apply, connectionChanged, initialState, keywordsOpened, selectRoom, setKeywords,
} from "../../clients/web/state.js";
import { message, requests, roomInfo, welcome } from "./fixtures.mjs";

// The table the server (tests/test_keywords.py) and the terminal client are tested against too.
const TABLE = JSON.parse(readFileSync(new URL("../keyword-cases.json", import.meta.url), "utf8"));

test("every case of the shared table matches as the table says", () => {
  assert.ok(TABLE.cases.length >= 30);
  for (const c of TABLE.cases) {
    assert.equal(matches(c.keyword, c.text), c.match, `${JSON.stringify(c.keyword)} in ${
      JSON.stringify(c.text)}`);
    // The highlight and the list's matching say the same of every case.
    assert.equal(ranges([c.keyword], c.text).length > 0, c.match, `ranges of ${c.keyword}`);
    assert.deepEqual(matched([c.keyword], c.text), c.match ? [c.keyword] : [], `matched ${c.keyword}`);
  }
});

test("the highlight marks every occurrence that stands alone, and only those", () => {
  assert.deepEqual(ranges(["outage"], "outages, then an outage"), [[17, 23]]);
  assert.deepEqual(ranges(["deploy"], "deploy; redeploy; Deploy!"), [[0, 6], [18, 24]]);
  assert.deepEqual(ranges(["api"], "rapid"), []);
  assert.deepEqual(ranges([], "deploy"), []);
  assert.deepEqual(ranges(["deploy"], ""), []);
  assert.deepEqual(ranges(["  "], "  "), []);
});

test("several keywords are marked in text order, overlapping and touching ones joined", () => {
  assert.deepEqual(ranges(["outage", "deploy"], "deploy, then outage"), [[0, 6], [13, 19]]);
  // "on call" and "call" overlap: one mark.
  assert.deepEqual(ranges(["call", "on call"], "who is on call?"), [[7, 14]]);
  // Overlapping at "notes": one mark from the first's start to the last's end.
  assert.deepEqual(ranges(["notes today", "release notes"], "release notes today"), [[0, 19]]);
  // One inside another: the outer one.
  assert.deepEqual(ranges(["on call tonight", "call"], "on call tonight"), [[0, 15]]);
  // Touching ("c++" then "!!"): one mark.
  assert.deepEqual(ranges(["!!", "c++"], "c++!!"), [[0, 5]]);
  // The same keyword twice, in another case: once.
  assert.deepEqual(ranges(["Deploy", "deploy"], "deploy"), [[0, 6]]);
});

test("marks are offsets into the text as written, whatever lower-casing does to its length", () => {
  // "İ" lower-cases to two code units: the mark after it is still where the word is.
  const text = "İstanbul deploy";
  assert.deepEqual(ranges(["deploy"], text), [[9, 15]]);
  assert.equal(text.slice(9, 15), "deploy");
  // Astral letters glue to a keyword as any letter does (a surrogate pair is one character).
  assert.equal(matches("deploy", "𝐀deploy"), false);
  assert.equal(matches("deploy", "deploy𝐀"), false);
  assert.equal(matches("deploy", "😀deploy😀"), true);
  assert.deepEqual(ranges(["deploy"], "😀deploy"), [[2, 8]]);
});

test("a message is the person's to hear of by its text, unless their own or deleted", () => {
  const keywords = emptyKeywords();
  confirm(keywords, ["deploy", "on call"]);
  const message = { from: "bob", text: "Deploy is done; who is on call?" };
  assert.deepEqual(hits(keywords, message, false), ["deploy", "on call"]);
  assert.deepEqual(hits(keywords, message, true), []);
  assert.deepEqual(hits(keywords, { ...message, deleted: true, text: "" }, false), []);
  assert.deepEqual(hits(keywords, { from: "bob", text: "redeploy" }, false), []);
  assert.deepEqual(hits(emptyKeywords(), message, false), []);
  // A new list is asked again (the answer is kept per message and list).
  confirm(keywords, ["outage"]);
  assert.deepEqual(hits(keywords, message, false), []);
});

test("the list as the server keeps it: trimmed, no empty one, duplicates folded, order kept", () => {
  assert.deepEqual(listOf([" deploy ", "Deploy", "", "on call", 5, "DEPLOY"]), ["deploy", "on call"]);
  assert.equal(listOf(undefined), null);
  assert.equal(listOf("deploy"), null);
});

test("the welcome says the list (or its user object does); a server that says none offers none", () => {
  const keywords = emptyKeywords();
  assert.equal(welcomed(keywords, { op: "welcome", user: { name: "ann" } }), null);
  assert.equal(keywords.list, null);
  welcomed(keywords, { op: "welcome", keywords: ["deploy"], user: { name: "ann" } });
  assert.deepEqual(keywords.list, ["deploy"]);
  const other = emptyKeywords();
  welcomed(other, { op: "welcome", user: { name: "ann", keywords: ["outage"] }, keywords_per_user: 10 });
  assert.deepEqual(other.list, ["outage"]);
  assert.equal(other.max, 10);
});

test("how many the server takes: its welcome's keywords_per_user, else 50 (an older server)", () => {
  const older = emptyKeywords();
  welcomed(older, { op: "welcome", user: { name: "ann" }, keywords: [] });
  assert.equal(older.max, null);
  assert.equal(limitOf(older), MAX_KEYWORDS);
  const said = emptyKeywords();
  welcomed(said, { op: "welcome", user: { name: "ann" }, keywords: [], keywords_per_user: 3 });
  assert.equal(limitOf(said), 3);
  assert.match(limitsText(said.max), /^Up to 3 keywords,/);
  assert.equal(countText(["a"], said.max), "You have 1 of 3 keywords.");
  assert.deepEqual(addWords(["a", "b"], ["c", "d"], said.max).left, ["d"]);
  // What is not a count is not taken: the usual limit stands.
  for (const bad of [-1, 2.5, "7", null, 2 ** 60]) {
    const keywords = emptyKeywords();
    welcomed(keywords, { op: "welcome", user: { name: "ann" }, keywords: [], keywords_per_user: bad });
    assert.equal(limitOf(keywords), MAX_KEYWORDS, String(bad));
  }
  // A later welcome (another server behind the same address, a changed limit) says it again.
  welcomed(said, { op: "welcome", user: { name: "ann" }, keywords: [], keywords_per_user: 80 });
  assert.equal(limitOf(said), 80);
});

test("a change is shown at once; the server's reply says the last word", () => {
  const keywords = emptyKeywords();
  assert.equal(setList(keywords, ["deploy"]), false, "nothing to change before the server says");
  confirm(keywords, ["deploy"]);
  assert.equal(setList(keywords, ["deploy"]), false, "the same list asks nothing");
  assert.equal(setList(keywords, ["deploy", "outage"]), true);
  assert.deepEqual(keywords.list, ["deploy", "outage"]);
  // Another device's event meanwhile does not undo what this page shows before its answer.
  confirm(keywords, ["deploy", "db"]);
  assert.deepEqual(keywords.list, ["deploy", "outage"]);
  answered(keywords, ["deploy", "outage"]);
  assert.deepEqual(keywords.list, ["deploy", "outage"]);
  assert.equal(keywords.pending, 0);
  // An event with nothing pending is shown.
  confirm(keywords, ["db"]);
  assert.deepEqual(keywords.list, ["db"]);
});

test("a refusal puts back the list the server last gave, and says why", () => {
  const keywords = emptyKeywords();
  confirm(keywords, ["deploy"]);
  setList(keywords, ["deploy", "x"]);
  setList(keywords, ["deploy", "x", "y"]);
  answered(keywords, null, refusalText({ code: "bad_request", message: "at most 50 keywords" }));
  assert.deepEqual(keywords.list, ["deploy", "x", "y"], "the second change is still on its way");
  answered(keywords, null);
  assert.deepEqual(keywords.list, ["deploy"]);
  assert.equal(keywords.problem, "Your keywords were not saved: at most 50 keywords");
  setList(keywords, ["deploy", "z"]);
  assert.equal(keywords.problem, "", "a new change forgets the old refusal");
  assert.match(refusalText({ code: "disconnected" }), /not connected/);
  assert.match(refusalText({ code: "unknown_op" }), /does not keep/);
});

test("what is typed: a comma ends a keyword; Enter takes the rest too", () => {
  assert.deepEqual(splitTyped("deploy"), { words: [], rest: "deploy" });
  assert.deepEqual(splitTyped("deploy,"), { words: ["deploy"], rest: "" });
  assert.deepEqual(splitTyped(" deploy , on call,, out"), { words: ["deploy", "on call"], rest: " out" });
  assert.deepEqual(splitTyped("deploy, on call", { all: true }), { words: ["deploy", "on call"], rest: "" });
  assert.deepEqual(splitTyped("  ", { all: true }), { words: [], rest: "" });
});

test("adding: duplicates skipped, too long and too many refused in words, the rest added", () => {
  assert.deepEqual(addWords(["deploy"], ["outage", "Deploy", "outage"]),
    { list: ["deploy", "outage"], added: ["outage"], left: [], problem: "" });
  assert.match(addWords(["deploy"], ["DEPLOY"]).problem, /one of your keywords already/);
  const long = "x".repeat(MAX_CHARS + 1);
  const tooLong = addWords([], ["ok", long]);
  assert.deepEqual(tooLong.list, ["ok"]);
  assert.deepEqual(tooLong.left, [long], "kept in the field, to be shortened");
  assert.match(tooLong.problem, new RegExp(`${MAX_CHARS + 1} characters long: a keyword is at most ${MAX_CHARS}`));
  // Exactly MAX_CHARS characters, counted as the server counts (code points), is fine.
  assert.deepEqual(addWords([], ["é".repeat(MAX_CHARS)]).added.length, 1);
  assert.deepEqual(addWords([], ["😀".repeat(MAX_CHARS)]).added.length, 1);
  assert.deepEqual(addWords([], ["a\tb"]), { list: [], added: [], left: ["a\tb"],
    problem: '"a\tb" holds a tab or a line break: a keyword cannot.' });
  const full = Array.from({ length: MAX_KEYWORDS }, (_, i) => `k${i}`);
  // The server's limit unknown (not in its welcome, an older server): its default, 50.
  assert.equal(addWords(full, ["one more"]).list.length, MAX_KEYWORDS);
  assert.deepEqual(addWords(full, ["one more"]).left, ["one more"]);
  assert.equal(addWords(full, ["one more"], 80).list.length, MAX_KEYWORDS + 1);
  const over = addWords(full, ["one more"], MAX_KEYWORDS);
  assert.equal(over.list.length, MAX_KEYWORDS);
  assert.match(over.problem, /you have 50 keywords, the most there can be/);
  assert.deepEqual(over.left, ["one more"]);
  assert.deepEqual(addWords(["a"], ["b", "c"], 2).list, ["a", "b"], "the server's own maximum");
});

test("removing ignores case; the limits are said in words", () => {
  assert.deepEqual(removeWord(["deploy", "On call"], "on call"), ["deploy"]);
  assert.deepEqual(removeWord(["deploy"], "outage"), ["deploy"]);
  assert.match(limitsText(), /Up to 50 keywords, each up to 64 characters/);
  assert.equal(countText([]), "You have no keywords yet.");
  assert.equal(countText(["a", "b"], 50), "You have 2 of 50 keywords.");
});

// -- in the page's state (state.js, alerts.js, select-messages.js, markdown.js) ---------------

const NOW = 1_000_100; // just after the fixtures' messages (ts 1_000_000 + seq)
const ON = { desktop: true, sound: true, permission: "granted" };

/** A page of ann's, online, in #random (so #general's news alert), with these keywords. */
function page(list, { rooms = null, dndUntil = null } = {}) {
  const state = initialState({ me: "ann", alerts: { ...ON } });
  connectionChanged(state, "online");
  const frame = welcome(rooms || [roomInfo("general", { lastSeq: 10 }),
    roomInfo("random", { lastSeq: 10 }), roomInfo("loud", { lastSeq: 10, notify: "all" }),
    roomInfo("quiet", { lastSeq: 10, notify: "none" })]);
  if (list !== undefined) frame.keywords = list;
  if (dndUntil !== null) frame.user.dnd_until = dndUntil;
  apply(state, frame, { now: NOW });
  selectRoom(state, "random");
  return state;
}

function alertsOf(state, frames, now = NOW) {
  return frames.flatMap((frame) => apply(state, frame, { now }))
    .filter((effect) => effect.alert).map((effect) => effect.alert);
}

test("a message with a keyword alerts as a mention at the room's level: mentions, all; not none", () => {
  const state = page(["deploy", "on call"]);
  const found = alertsOf(state, [
    message("general", 11, "bob", "Deploy is done"),
    message("general", 12, "bob", "redeploy later"),
    message("loud", 11, "bob", "who is ON CALL?"),
    message("quiet", 11, "bob", "deploy now"),
  ]);
  assert.deepEqual(found.map((a) => [a.room, a.seq, a.kind]),
    [["general", 11, "mention"], ["loud", 11, "mention"]]);
  assert.equal(found[0].body, "Deploy is done");
  // The server's count is of names and groups; the room's "@" count adds the keywords' (not
  // in a muted room, where a keyword does nothing).
  assert.equal(state.rooms.get("general").mentions, 0);
  assert.equal(state.rooms.get("general").unread, 2);
  assert.equal(mentionCount(state, state.rooms.get("general")), 1);
  assert.equal(mentionCount(state, state.rooms.get("loud")), 1);
  assert.equal(mentionCount(state, state.rooms.get("quiet")), 0);
});

test("a keyword's message counts in the room's @ count and the title's, once, while unread", () => {
  const state = page(["deploy"]);
  const general = state.rooms.get("general");
  assert.equal(mentionCount(state, general), 0);
  assert.deepEqual(titleCount(state), { count: 0, urgent: false });
  apply(state, message("general", 11, "bob", "the deploy is done"), { now: NOW });
  assert.equal(mentionCount(state, general), 1);
  assert.deepEqual(titleCount(state), { count: 1, urgent: true }, "a mention makes the title's *");
  assert.equal(candidates(state).find((item) => item.room === "general").mentions, 1,
    "the switcher's count too");
  // A message naming her and holding a keyword counts once (the server's count has it).
  apply(state, message("general", 12, "bob", "@ann deploy?", { mentions: ["ann"] }), { now: NOW });
  assert.equal(general.mentions, 1);
  assert.equal(mentionCount(state, general), 2);
  // Neither her own message nor one with no keyword.
  apply(state, message("general", 13, "ann", "deploy again"), { now: NOW });
  apply(state, message("general", 14, "bob", "redeploy"), { now: NOW });
  assert.equal(mentionCount(state, general), 2);
  // An edit that adds a keyword counts it; a deletion uncounts it.
  apply(state, { op: "edited", room: "general", seq: 15, msg_id: 1014, from: "bob",
    text: "redeploy, then deploy", ts: 1_000_015 }, { now: NOW });
  assert.equal(mentionCount(state, general), 3);
  apply(state, { op: "deleted", room: "general", seq: 16, msg_id: 1011, by: "bob",
    ts: 1_000_016 }, { now: NOW });
  assert.equal(mentionCount(state, general), 2);
  // Another list counts what it matches.
  apply(state, { op: "keywords", keywords: ["redeploy"] });
  assert.equal(mentionCount(state, general), 2, "@ann, and 14 (its edit still says redeploy)");
  apply(state, { op: "keywords", keywords: [] });
  assert.equal(mentionCount(state, general), 1);
  apply(state, { op: "keywords", keywords: ["deploy"] });
  // Read (on another device) up to 12: only what is after the marker counts.
  apply(state, { op: "read", room: "general", seq: 12 }, { now: NOW });
  assert.equal(general.mentions, 0);
  assert.equal(mentionCount(state, general), 1);
  apply(state, { op: "read", room: "general", seq: 16 }, { now: NOW });
  assert.equal(mentionCount(state, general), 0);
  assert.deepEqual(titleCount(state), { count: 0, urgent: false });
});

test("keywords count where they alert: not in a muted room, nor a 1:1; an @here read later once", () => {
  const state = page(["deploy"], { rooms: [roomInfo("general", { lastSeq: 10 }),
    roomInfo("random", { lastSeq: 10 }), roomInfo("quiet", { lastSeq: 10, notify: "none" }),
    roomInfo("@ann:bob", { lastSeq: 10, peer: "bob" })] });
  apply(state, message("quiet", 11, "bob", "deploy"), { now: NOW });
  assert.equal(mentionCount(state, state.rooms.get("quiet")), 0);
  assert.deepEqual(titleCount(state), { count: 0, urgent: false },
    "a muted room counts its mentions only, and a keyword is none there");
  apply(state, message("@ann:bob", 11, "bob", "deploy"), { now: NOW });
  assert.equal(mentionCount(state, state.rooms.get("@ann:bob")), 0);
  // An "@here" the page did not see come (read with a page of history) may be in the
  // server's count: not counted again by its keyword.
  const general = state.rooms.get("general");
  general.add([message("general", 11, "bob", "@here deploy", { group: "here" })], "ann");
  assert.equal(general.unread, 1);
  assert.equal(mentionCount(state, general), 0);
});

test("what a message is to the person: a mention by a keyword, unless their own", () => {
  const keywords = emptyKeywords();
  confirm(keywords, ["deploy"]);
  const room = { kind: "room" };
  assert.equal(kindOf(room, { from: "bob", text: "deploy" }, "ann", keywords), "mention");
  assert.equal(kindOf(room, { from: "Ann", text: "deploy" }, "ann", keywords), "message");
  assert.equal(kindOf(room, { from: "bob", text: "redeploy" }, "ann", keywords), "message");
  assert.equal(kindOf({ kind: "group" }, { from: "bob", text: "deploy" }, "ann", keywords),
    "mention");
  assert.equal(kindOf({ kind: "dm" }, { from: "bob", text: "deploy" }, "ann", keywords), "dm");
  assert.equal(kindOf(room, { from: "bob", text: "deploy" }, "ann"), "message");
});

test("never for one's own message, nor while notifications are paused, nor without keywords", () => {
  assert.deepEqual(alertsOf(page(["deploy"]), [message("general", 11, "ANN", "deploy")]), []);
  assert.deepEqual(alertsOf(page(["deploy"], { dndUntil: NOW + 60_000 }),
    [message("general", 11, "bob", "deploy")]), []);
  assert.deepEqual(alertsOf(page(undefined), [message("general", 11, "bob", "deploy")]), []);
  assert.deepEqual(alertsOf(page([]), [message("general", 11, "bob", "deploy")]), []);
});

test("the keywords event of another device changes what alerts from then on", () => {
  const state = page(["deploy"]);
  apply(state, { op: "keywords", keywords: ["outage"] });
  assert.deepEqual(state.keywords.list, ["outage"]);
  const found = alertsOf(state, [message("general", 11, "bob", "deploy"),
    message("general", 12, "bob", "an outage")]);
  assert.deepEqual(found.map((a) => a.seq), [12]);
  apply(state, { op: "keywords", keywords: "nonsense" });
  assert.deepEqual(state.keywords.list, ["outage"], "a malformed event changes nothing");
});

test("setKeywords shows the list at once and asks; the reply's list is kept; a refusal puts back", () => {
  const state = page(["deploy"]);
  const effects = setKeywords(state, ["deploy", " outage "]);
  assert.deepEqual(requests(effects), [{ op: "set_keywords", keywords: ["deploy", "outage"] }]);
  assert.deepEqual(state.keywords.list, ["deploy", "outage"]);
  const asked = requests(effects)[0];
  apply(state, { op: "ok", id: 3, keywords: ["deploy", "outage"] }, { request: asked });
  assert.deepEqual(state.keywords.list, ["deploy", "outage"]);
  assert.equal(state.keywords.pending, 0);
  assert.deepEqual(setKeywords(state, ["deploy", "outage"]), [], "no change, nothing asked");
  const again = requests(setKeywords(state, ["x"]))[0];
  apply(state, { op: "error", id: 4, code: "bad_request", message: "too many keywords" },
    { request: again });
  assert.deepEqual(state.keywords.list, ["deploy", "outage"]);
  assert.equal(state.keywords.problem, "Your keywords were not saved: too many keywords");
  keywordsOpened(state);
  assert.equal(state.keywords.problem, "");
});

test("offline, setKeywords changes nothing and says why", () => {
  const state = page(["deploy"]);
  connectionChanged(state, "waiting");
  assert.deepEqual(setKeywords(state, ["outage"]), []);
  assert.deepEqual(state.keywords.list, ["deploy"]);
  assert.match(state.keywords.problem, /not connected/);
});

test("a shown message is marked a mention and carries the keywords it matches", () => {
  const state = page(["deploy", "outage"]);
  apply(state, message("general", 11, "bob", "deploy after the outage"), { now: NOW });
  apply(state, message("general", 12, "ann", "deploy done"), { now: NOW });
  const room = state.rooms.get("general");
  const theirs = shownMessage(state, room, room.messages.get(11));
  assert.equal(theirs.mentionsMe, true);
  assert.deepEqual(theirs.keywords, ["deploy", "outage"]);
  const mine = shownMessage(state, room, room.messages.get(12));
  assert.equal(mine.mentionsMe, false);
  assert.deepEqual(mine.keywords, []);
  // Another list draws it again (its signature changes: other words are marked), and
  // unmarks it once none match.
  const before = signature(theirs);
  apply(state, { op: "keywords", keywords: ["outage"] });
  const fewer = shownMessage(state, room, room.messages.get(11));
  assert.equal(fewer.mentionsMe, true);
  assert.deepEqual(fewer.keywords, ["outage"]);
  assert.notEqual(signature(fewer), before);
  apply(state, { op: "keywords", keywords: [] });
  const after = shownMessage(state, room, room.messages.get(11));
  assert.equal(after.mentionsMe, false);
  assert.notEqual(signature(after), signature(fewer));
});

/** The inline nodes of a one-paragraph text parsed with these keywords. */
function inlines(text, keywords) {
  return parse(text, { mentions: ["ann"], me: "ann", keywords }).children[0].children;
}

test("markdown marks keywords in text nodes only: not in links, code or mentions", () => {
  assert.deepEqual(inlines("the deploy is **deploy** done", ["deploy"]), [
    { type: "text", text: "the " }, { type: "keyword", text: "deploy" },
    { type: "text", text: " is " },
    { type: "strong", children: [{ type: "keyword", text: "deploy" }] },
    { type: "text", text: " done" },
  ]);
  const kinds = (nodes) => nodes.map((node) => node.type);
  assert.deepEqual(kinds(inlines("`deploy` https://deploy.example.com @ann deploy", ["deploy", "ann"])),
    ["code", "text", "link", "text", "mention", "text", "keyword"]);
  const link = inlines("[deploy](https://example.com)", ["deploy"])[0];
  assert.deepEqual(link.children, [{ type: "text", text: "deploy" }]);
  // Quotes, lists and code blocks: the first two are marked inside, the last never.
  const tree = parse("> deploy\n- deploy\n```\ndeploy\n```", { keywords: ["deploy"] });
  assert.deepEqual(tree.children.map((node) => node.type), ["quote", "list", "code_block"]);
  assert.deepEqual(tree.children[0].children[0].children, [{ type: "keyword", text: "deploy" }]);
  assert.deepEqual(tree.children[1].items[0], [{ type: "keyword", text: "deploy" }]);
  assert.equal(tree.children[2].text, "deploy");
  // Without keywords, the tree is as before; the words are the text's whatever is marked.
  assert.deepEqual(parse("deploy now"), parse("deploy now", { keywords: [] }));
  assert.deepEqual(inlines("redeploy", ["deploy"]), [{ type: "text", text: "redeploy" }]);
  const marked = inlines("Deploy, deploy; DEPLOY", ["deploy"]);
  assert.equal(marked.map((node) => node.text).join(""), "Deploy, deploy; DEPLOY");
  assert.equal(marked.filter((node) => node.type === "keyword").length, 3);
});

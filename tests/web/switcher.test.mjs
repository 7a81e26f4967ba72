// The quick switcher's pure half (switcher.js): what it lists from the state, and the order
// for an empty box and for a query (prefix, then a word's prefix, then a substring; accents
// and case folded; unread and mentions, then recently opened, within each).

import assert from "node:assert/strict";
import { test } from "node:test";

import { candidates, rank, shortcutHint } from "../../clients/web/switcher.js";
import { apply, openAgain, selectRoom } from "../../clients/web/state.js";
import { isShown } from "../../clients/web/hiding.js";
import { connected, message, requests, roomInfo } from "./fixtures.mjs";

const keys = (items) => items.map((item) => item.key);

/** An item as candidates() makes it, for the ranking alone. */
function item(key, fields = {}) {
  const label = fields.label ?? key;
  return { key, kind: "room", room: key, user: null, label, names: [label],
    unread: 0, mentions: 0, opened: 0, ...fields };
}

/** Ann's page: rooms, conversations with Bob (Zoë Bérard's) and with Carol and Dan, contacts. */
function page() {
  const { state } = connected([
    roomInfo("general", { lastSeq: 3, readSeq: 3 }),
    roomInfo("design-review", { lastSeq: 3, readSeq: 3 }),
    roomInfo("random", { lastSeq: 3, readSeq: 3 }),
    roomInfo("@ann:bob", { lastSeq: 2, readSeq: 2, peer: "bob" }),
    { ...roomInfo("@ann:carol:dan", { lastSeq: 1, readSeq: 1 }), kind: "group",
      peers: ["carol", "dan"] },
  ], { contacts: ["erin", "Bob"] });
  apply(state, { op: "profile", user: "bob", display_name: "Zoë Bérard" });
  apply(state, { op: "profile", user: "erin", display_name: "Erin Stone" });
  return state;
}

test("candidates: rooms and conversations held, then people without a conversation", () => {
  const state = page();
  const items = candidates(state);
  // Carol and Dan: in a group with ann, without a 1:1 yet.
  assert.deepEqual(keys(items).sort(), ["p:carol", "p:dan", "p:erin", "r:@ann:bob",
    "r:@ann:carol:dan",
    "r:design-review", "r:general", "r:random"]);
  const bob = items.find((one) => one.key === "r:@ann:bob");
  assert.equal(bob.kind, "dm");
  assert.equal(bob.user, "bob");
  assert.equal(bob.label, "Zoë Bérard");
  const erin = items.find((one) => one.key === "p:erin");
  assert.deepEqual([erin.kind, erin.room, erin.user, erin.label],
    ["person", null, "erin", "Erin Stone"]);
  assert.equal(keys(items).includes("p:ann"), false, "not oneself");
});

test("a draft conversation is not listed as a conversation, its person is", () => {
  const { state } = connected([roomInfo("general")], { contacts: ["erin"] });
  // (openDm makes a draft until the first message.)
  state.rooms.set("@ann:erin", Object.assign(Object.create(null), { name: "@ann:erin",
    kind: "dm", draft: true, peer: "erin" }));
  assert.deepEqual(keys(candidates(state)).sort(), ["p:erin", "r:general"]);
});

test("an empty box: mentions, then unread, then recently opened, then by name; people last", () => {
  const items = [
    item("zeta"), item("alpha"),
    item("old", { opened: 1 }), item("recent", { opened: 5 }),
    item("busy", { unread: 3, opened: 9 }), item("calling", { unread: 1, mentions: 1 }),
    item("p:aaron", { kind: "person", label: "Aaron", names: ["Aaron", "aaron"], unread: 0 }),
  ];
  assert.deepEqual(keys(rank(items, "")), ["calling", "busy", "recent", "old", "alpha", "zeta",
    "p:aaron"]);
  assert.deepEqual(keys(rank(items, "   ")), keys(rank(items, "")), "blank is empty");
  assert.equal(rank(items, "", 3).length, 3, "at most `most`");
});

test("a query: the start of a name, then of a word, then anywhere; others left out", () => {
  const items = [
    item("design-review"), item("redesign"), item("designers"), item("random"),
    item("old-design", { opened: 4 }),
  ];
  assert.deepEqual(keys(rank(items, "design")),
    ["design-review", "designers", "old-design", "redesign"]);
  assert.deepEqual(keys(rank(items, "#DESIGN")), keys(rank(items, "design")),
    "case and a leading # ignored");
  assert.deepEqual(keys(rank(items, "nothing-like-it")), []);
});

test("within a tier, unread and mentions first, then recently opened", () => {
  const items = [item("dev-a", { opened: 2 }), item("dev-b", { unread: 1 }),
    item("dev-c", { opened: 7 }), item("dev-d", { mentions: 1, unread: 1 })];
  assert.deepEqual(keys(rank(items, "dev")), ["dev-d", "dev-b", "dev-c", "dev-a"]);
});

test("display names and login names match, accents folded", () => {
  const state = page();
  const items = candidates(state);
  assert.deepEqual(keys(rank(items, "zoe")), ["r:@ann:bob"], "a display name without accents");
  assert.deepEqual(keys(rank(items, "berard")), ["r:@ann:bob"], "a word of it");
  assert.deepEqual(keys(rank(items, "@bob")), ["r:@ann:bob"], "the login name");
  assert.deepEqual(keys(rank(items, "stone")), ["p:erin"], "a person's display name");
  assert.deepEqual(keys(rank(items, "erin")), ["p:erin"]);
  assert.deepEqual(keys(rank(items, "dan")), ["r:@ann:carol:dan", "p:dan"],
    "a group by one of its others; the person too");
  assert.deepEqual(keys(rank(items, "and")), ["r:random"], "a substring last (random)");
});

test("the page's state orders an empty box: a mention first, the room opened last next", () => {
  const state = page();
  selectRoom(state, "random");
  selectRoom(state, "general");
  apply(state, message("design-review", 4, "bob", "@ann look", { mentions: ["ann"] }));
  const order = keys(rank(candidates(state), ""));
  assert.equal(order[0], "r:design-review", "mentioned");
  assert.equal(order[1], "r:general", "the room open now was opened last");
  assert.equal(order[2], "r:random");
  assert.equal(order.at(-1), "p:erin", "a person last");
});

test("a closed conversation: not in an empty box; found when typed, after the open ones", () => {
  const { state } = connected([
    roomInfo("general", { lastSeq: 3, readSeq: 3 }),
    roomInfo("bobcats", { lastSeq: 3, readSeq: 3 }),
    roomInfo("@ann:bob", { lastSeq: 5, readSeq: 5, peer: "bob", hidden_seq: 5 }),
    roomInfo("@ann:carol", { lastSeq: 2, readSeq: 2, peer: "carol" }),
  ]);
  const items = candidates(state);
  assert.equal(items.find((one) => one.key === "r:@ann:bob").closed, true);
  assert.equal(items.find((one) => one.key === "r:@ann:carol").closed, false);
  assert.deepEqual(keys(rank(items, "")).sort(), ["r:@ann:carol", "r:bobcats", "r:general"],
    "not with an empty box");
  assert.deepEqual(keys(rank(items, "bob")), ["r:bobcats", "r:@ann:bob"],
    "typed: found, after an open one that matches as well");
  assert.deepEqual(keys(rank(items, "ob")), ["r:bobcats", "r:@ann:bob"]);
  const ranked = [item("zed-closed", { closed: true, opened: 9, unread: 2, label: "bob" }),
    item("zed-open", { label: "bob zed" })];
  assert.deepEqual(keys(rank(ranked, "bob")), ["zed-open", "zed-closed"],
    "after the open ones, however well it matches and however recent");
  selectRoom(state, "@ann:bob");
  assert.equal(candidates(state).find((one) => one.key === "r:@ann:bob").closed, false,
    "while it is the open room, the sidebar lists it: listed as open");
});

test("a closed conversation chosen in the switcher is started again", () => {
  const { state } = connected([
    roomInfo("general", { lastSeq: 3, readSeq: 3 }),
    roomInfo("@ann:bob", { lastSeq: 5, readSeq: 5, peer: "bob", hidden_seq: 5 }),
  ]);
  selectRoom(state, "general");
  const effects = openAgain(state, "@ann:bob");
  assert.equal(state.current, "@ann:bob");
  assert.deepEqual(requests(effects).filter((frame) => frame.op === "hide"),
    [{ op: "hide", room: "@ann:bob", on: false }]);
  selectRoom(state, "general");
  assert.equal(isShown(state.rooms.get("@ann:bob"), state.current), true,
    "listed once the person moves on");
  assert.deepEqual(requests(openAgain(state, "general")).filter((f) => f.op === "hide"), [],
    "an open room: opened, nothing else");
});

test("the Jump to button's hint is ⌘K on Apple's platforms, Ctrl K elsewhere", () => {
  assert.equal(shortcutHint({ userAgentData: { platform: "macOS" }, platform: "MacIntel" }), "⌘K");
  assert.equal(shortcutHint({ platform: "MacIntel" }), "⌘K", "no userAgentData (Safari, Firefox)");
  assert.equal(shortcutHint({ platform: "iPad" }), "⌘K");
  assert.equal(shortcutHint({ platform: "iPhone" }), "⌘K");
  assert.equal(shortcutHint({ userAgentData: { platform: "Windows" }, platform: "Win32" }),
    "Ctrl K");
  assert.equal(shortcutHint({ userAgentData: { platform: "Linux" }, platform: "MacIntel" }),
    "Ctrl K", "userAgentData first");
  assert.equal(shortcutHint({ userAgentData: { platform: "" }, platform: "MacIntel" }), "⌘K",
    "an empty userAgentData.platform: navigator.platform");
  assert.equal(shortcutHint({ platform: "Linux x86_64" }), "Ctrl K");
  assert.equal(shortcutHint({ userAgentData: { platform: "Chrome OS" } }), "Ctrl K");
  assert.equal(shortcutHint({}), "Ctrl K");
  assert.equal(shortcutHint(undefined), "Ctrl K");
});

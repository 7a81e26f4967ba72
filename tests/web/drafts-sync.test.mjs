// Drafts on the server (drafts.js "the server's copy", state.js): the merge after a welcome
// (the newer text wins, what a box is typed in now is kept, a draft deleted elsewhere goes),
// the debounce of saves, `draft` events that never replace what is being typed, the answers
// and refusals of `set_draft`, the Drafts list, and the times kept across a reload. Seeded
// random cases check the merge's rule against a model.

import assert from "node:assert/strict";
import { test } from "node:test";

import {
  draftEntry, draftList, heard, keyOf, merge, placeOf, restoreBoxes, SAVE_AFTER_MS, saveDrafts,
  saveDue, TYPING_GUARD_MS, typed,
} from "../../clients/web/drafts.js";
import {
  actions, apply, connectionChanged, deleteDraft, initialState,
} from "../../clients/web/state.js";
import { connected, generator, requests, roomInfo } from "./fixtures.mjs";

const draft = (room, text, at, thread = null) => ({ room, ...(thread ? { thread } : {}), text,
  updated_at: at });

/** A page online in "general" and "dev", its `drafts` answered with `listed` at `now`. */
function synced(listed = [], now = 1_000, before = {}) {
  const { state, effects } = connected([roomInfo("general"), roomInfo("dev")]);
  for (const [key, [text, at]] of Object.entries(before)) {
    state.drafts = new Map([...state.drafts, [key, text]]);
    state.draftSync.times.set(key, at);
    state.draftSync.unsaved.add(key); // typed here, not saved yet
  }
  const asked = requests(effects).find((r) => r.op === "drafts");
  assert.ok(asked, "the welcome asks for the drafts");
  const pushed = apply(state, { op: "ok", id: 5, drafts: listed, most: 200 },
    { request: asked, now });
  return { state, pushed: requests(pushed) };
}

test("keys: a room's box is its name, a thread's is room#root; both ways", () => {
  assert.equal(keyOf("general"), "general");
  assert.equal(keyOf("general", 1040), "general#1040");
  assert.equal(keyOf("general", 0), "general");
  assert.deepEqual(placeOf("general#1040"), { room: "general", thread: 1040 });
  assert.deepEqual(placeOf("@ann:bob"), { room: "@ann:bob", thread: null });
  assert.deepEqual(placeOf("a#b"), { room: "a#b", thread: null });
  assert.deepEqual(placeOf("a#-3"), { room: "a#-3", thread: null });
  assert.equal(draftEntry({ room: "x", text: "t", updated_at: 5, thread: 0 }), null);
  assert.equal(draftEntry({ room: "x", text: 5, updated_at: 5 }), null);
  assert.deepEqual(draftEntry(draft("x", "t", 5, 7)), { key: "x#7", text: "t", at: 5 });
});

test("the merge: the newer text wins per key; the older side is told", () => {
  const drafts = new Map([["general", "mine, newer"], ["dev", "mine, older"], ["same", "s"],
    ["cached", "the server's old copy"]]);
  const times = new Map([["general", 900], ["dev", 100], ["same", 50], ["cached", 999]]);
  const out = merge(drafts, times, [draft("general", "theirs", 500), draft("dev", "theirs", 600),
    draft("same", "s", 70), draft("general", "twice", 1), draft("cached", "theirs now", 10)],
  { syncedAt: 0, unsaved: new Set(["general", "dev"]) });
  assert.deepEqual([...out.drafts], [["general", "mine, newer"], ["dev", "theirs"],
    ["same", "s"], ["cached", "theirs now"]], "a copy not typed here is the server's");
  assert.deepEqual(out.push, ["general"]);
  assert.equal(out.times.get("dev"), 600);
  assert.equal(out.times.get("same"), 70);
  assert.ok(out.changed);
  assert.deepEqual([...out.server], [["general", "theirs"], ["dev", "theirs"], ["same", "s"],
    ["cached", "theirs now"]]);
});

test("the merge: a draft only here stays if not saved yet (or never synced)", () => {
  const drafts = new Map([["offline", "typed offline"], ["gone", "sent on the phone"],
    ["nowhere", "a room the server cannot keep"]]);
  const times = new Map([["offline", 100], ["gone", 300]]);
  const pushable = (key) => key !== "nowhere";
  const out = merge(drafts, times, [], { syncedAt: 500, pushable,
    unsaved: new Set(["offline"]) });
  assert.deepEqual([...out.drafts.keys()], ["offline", "nowhere"]);
  assert.deepEqual(out.push, ["offline"]);
  const first = merge(drafts, times, [], { syncedAt: null, pushable });
  assert.deepEqual(first.push, ["offline", "gone"], "never synced: the browser's are sent");
  assert.equal(first.changed, false);
  assert.equal(first.drafts, drafts, "nothing changed: the same Map");
});

test("the merge keeps what is being typed, whatever the times", () => {
  const drafts = new Map([["general", "typing"]]);
  const out = merge(drafts, new Map([["general", 1]]), [draft("general", "theirs", 999)],
    { syncedAt: 0, typing: (key) => key === "general" });
  assert.equal(out.drafts.get("general"), "typing");
  assert.deepEqual(out.push, ["general"]);
});

test("the merge's rule, on seeded random cases, against a model", () => {
  const rooms = ["a", "b", "c", "d#7"];
  for (let seed = 1; seed <= 300; seed += 1) {
    const random = generator(seed);
    const drafts = new Map();
    const times = new Map();
    const listed = [];
    const typing = new Set();
    for (const key of rooms) {
      if (random(2)) {
        drafts.set(key, `mine ${random(3)}`);
        if (random(4)) times.set(key, random(100));
      }
      if (random(2)) listed.push(draft(placeOf(key).room, `mine ${random(3)}`, random(100),
        placeOf(key).thread));
      if (!random(5)) typing.add(key);
    }
    const syncedAt = random(3) ? random(100) : null;
    const unsaved = new Set(rooms.filter(() => random(2)));
    const out = merge(drafts, times, listed, { syncedAt, typing: (k) => typing.has(k),
      unsaved });
    for (const key of rooms) {
      const theirs = listed.find((d) => keyOf(d.room, d.thread ?? null) === key);
      const mine = drafts.get(key);
      const mineAt = times.get(key) ?? 0;
      let want;
      if (theirs) {
        // A box typed in now keeps what it holds (emptied, too); else the newer text.
        const mineWins = typing.has(key)
          || (mine !== undefined && unsaved.has(key) && mineAt > theirs.updated_at);
        want = mine === theirs.text || mineWins ? mine : theirs.text;
      } else {
        want = mine !== undefined && (typing.has(key) || syncedAt === null || unsaved.has(key))
          ? mine : undefined;
      }
      assert.equal(out.drafts.get(key), want, `seed ${seed}, ${key}`);
      // What the server is told is exactly what the browser won and the server lacks (an
      // emptied box typed in now: its deletion).
      assert.equal(out.push.includes(key), theirs ? theirs.text !== want : want !== undefined,
        `seed ${seed}, ${key} pushed`);
    }
  }
});

test("a save waits until the box is still, and only when the server lacks the text", () => {
  const state = initialState({ me: "ann" });
  const sync = state.draftSync;
  assert.equal(saveDue(sync, state.drafts, "general", 0, true), null, "no server drafts");
  sync.supported = true;
  typed(state, "general", "hel", 1_000);
  assert.equal(saveDue(sync, state.drafts, "general", 1_000, false), null, "offline");
  assert.deepEqual(saveDue(sync, state.drafts, "general", 1_400, true),
    { wait: SAVE_AFTER_MS - 400 });
  assert.deepEqual(saveDue(sync, state.drafts, "general", 1_000 + SAVE_AFTER_MS, true),
    { send: "hel" });
  sync.server.set("general", "hel");
  assert.equal(saveDue(sync, state.drafts, "general", 9_000, true), null, "saved already");
  typed(state, "general", "", 9_000);
  assert.deepEqual(saveDue(sync, state.drafts, "general", 9_000 + SAVE_AFTER_MS, true),
    { send: "" }, "an emptied box deletes the server's");
});

test("typing schedules the save; the save waits while the typing goes on, then asks", () => {
  const { state } = synced();
  const effects = typed(state, "general", "h", 2_000);
  assert.deepEqual(effects, [{ later: SAVE_AFTER_MS, key: "draft:general", action: "saveDraft",
    args: ["general"] }]);
  assert.deepEqual(typed(state, "general", "h", 2_100), [], "no change, no save");
  typed(state, "general", "hi", 2_500);
  assert.deepEqual(actions.saveDraft(state, "general", 2_000 + SAVE_AFTER_MS),
    [{ later: 500, key: "draft:general", action: "saveDraft", args: ["general"] }]);
  assert.deepEqual(requests(actions.saveDraft(state, "general", 2_500 + SAVE_AFTER_MS)),
    [{ op: "set_draft", room: "general", text: "hi" }]);
  typed(state, "general#12", "in a thread", 5_000);
  assert.deepEqual(requests(actions.saveDraft(state, "general#12", 9_000)),
    [{ op: "set_draft", room: "general", thread: 12, text: "in a thread" }]);
  typed(state, "elsewhere", "not a room of mine", 5_000);
  assert.deepEqual(actions.saveDraft(state, "elsewhere", 9_000), []);
  connectionChanged(state, "waiting");
  typed(state, "dev", "offline", 10_000);
  assert.deepEqual(actions.saveDraft(state, "dev", 20_000), [], "offline: merged later");
});

test("after a welcome: the server's drafts fill the boxes, the browser's newer are sent", () => {
  const { state, pushed } = synced([draft("general", "from the phone", 500),
    draft("dev", "older there", 100), draft("general", "a reply", 600, 12)], 1_000,
  { dev: ["newer here", 700] });
  assert.equal(state.drafts.get("general"), "from the phone");
  assert.equal(state.drafts.get("general#12"), "a reply");
  assert.deepEqual(pushed, [{ op: "set_draft", room: "dev", text: "newer here" }]);
  assert.equal(state.draftSync.supported, true);
  assert.equal(state.draftSync.most, 200);
  assert.equal(state.draftSync.syncedAt, 1_000);
  assert.ok(state.draftSync.pushed > 0, "the views put the texts in the boxes");
  assert.deepEqual(draftList(state).map((d) => [d.key, d.text]), [["dev", "newer here"],
    ["general#12", "a reply"], ["general", "from the phone"]]);
});

test("an old server (unknown_op) keeps the drafts in the browser, and nothing is sent", () => {
  const { state, effects } = connected([roomInfo("general")]);
  const asked = requests(effects).find((r) => r.op === "drafts");
  apply(state, { op: "error", id: 5, code: "unknown_op", message: "?" }, { request: asked });
  assert.equal(state.draftSync.supported, false);
  assert.deepEqual(typed(state, "general", "x", 5), []);
});

test("an event fills a box not typed in, never the one typed in within the guard", () => {
  const { state } = synced();
  const before = state.draftSync.pushed;
  apply(state, { op: "draft", room: "dev", text: "from the laptop", updated_at: 2_000 },
    { now: 2_100 });
  assert.equal(state.drafts.get("dev"), "from the laptop");
  assert.equal(state.draftSync.pushed, before + 1);
  typed(state, "general", "typing this second", 3_000);
  apply(state, { op: "draft", room: "general", text: "older elsewhere", updated_at: 3_050 },
    { now: 3_000 + TYPING_GUARD_MS - 1 });
  assert.equal(state.drafts.get("general"), "typing this second");
  assert.equal(state.draftSync.server.get("general"), "older elsewhere");
  apply(state, { op: "draft", room: "general", text: "", updated_at: 9_000 }, { now: 9_000 });
  assert.equal(state.drafts.has("general"), false, "sent on the laptop: the box empties");
  apply(state, { op: "draft", room: "dev", thread: 4, text: "thread", updated_at: 9_001 },
    { now: 9_001 });
  assert.equal(state.drafts.get("dev#4"), "thread");
  assert.equal(heard(state, "dev#4", "thread", 9_002, 9_002), false, "the same text: nothing");
  for (const junk of [{ op: "draft" }, { op: "draft", room: "dev", text: 3, updated_at: 1 },
    { op: "draft", room: "dev", text: "x", updated_at: "soon" }]) {
    assert.deepEqual(apply(state, junk, { now: 9_100 }), []);
  }
  assert.equal(state.drafts.get("dev"), "from the laptop");
});

test("typed, not saved yet, a reload later: it stays and is saved; once saved, the server's word goes", () => {
  // Typed in "dev", reloaded before the save (unsaved), while an event for another room came.
  const { state, pushed } = synced([], 1_000, { dev: ["typed just before", 900] });
  assert.deepEqual(pushed, [{ op: "set_draft", room: "dev", text: "typed just before" }]);
  apply(state, { op: "ok", id: 6, room: "dev", text: "typed just before", updated_at: 1_100 },
    { request: pushed[0], now: 1_200 });
  assert.equal(state.draftSync.unsaved.has("dev"), false, "the server has it now");
  const saves = state.draftSync.saves;
  typed(state, "dev", "more", 2_000);
  assert.ok(state.draftSync.unsaved.has("dev") && state.draftSync.saves > saves);
});

test("a box emptied by a send takes another device's new draft at once", () => {
  const { state } = synced();
  typed(state, "general", "sent now", 1_000);
  typed(state, "general", "", 1_200); // Enter: the box is empty
  apply(state, { op: "draft", room: "general", text: "the phone's next one", updated_at: 1_300 },
    { now: 1_400 });
  assert.equal(state.drafts.get("general"), "the phone's next one");
  assert.deepEqual(actions.saveDraft(state, "general", 1_200 + SAVE_AFTER_MS), [],
    "nothing to save: the server has it");
});

test("another device's newer draft kept out while typing goes in once the box is still", () => {
  const { state } = synced();
  typed(state, "general", "mine", 1_000);
  apply(state, { op: "draft", room: "general", text: "theirs, later", updated_at: 1_500 },
    { now: 1_600 });
  assert.equal(state.drafts.get("general"), "mine", "typed 600 ms ago: kept");
  const before = state.draftSync.pushed;
  assert.deepEqual(actions.saveDraft(state, "general", 1_000 + SAVE_AFTER_MS), []);
  assert.equal(state.drafts.get("general"), "theirs, later", "the newer text wins");
  assert.equal(state.draftSync.pushed, before + 1);
  // Typed again after it came: this box's text is the newer, and is saved.
  typed(state, "general", "mine again", 5_000);
  assert.deepEqual(requests(actions.saveDraft(state, "general", 5_000 + SAVE_AFTER_MS)),
    [{ op: "set_draft", room: "general", text: "mine again" }]);
});

test("the answer to its own save never makes a text typed since look older", () => {
  const { state } = synced();
  typed(state, "general", "abc", 1_000);
  const asked = requests(actions.saveDraft(state, "general", 2_600))[0];
  typed(state, "general", "abcd", 2_700);
  apply(state, { op: "ok", id: 6, room: "general", text: "abc", updated_at: 2_900 },
    { request: asked, now: 2_950 });
  assert.deepEqual(requests(actions.saveDraft(state, "general", 2_700 + SAVE_AFTER_MS)),
    [{ op: "set_draft", room: "general", text: "abcd" }]);
  assert.equal(state.drafts.get("general"), "abcd");
});

test("set_draft answered: the server has the text; refused: said once, or tried later", () => {
  const { state } = synced();
  typed(state, "general", "saved", 1_000);
  const asked = { op: "set_draft", room: "general", text: "saved" };
  apply(state, { op: "ok", id: 6, room: "general", text: "saved", updated_at: 1_600 },
    { request: asked, now: 1_700 });
  assert.equal(state.draftSync.server.get("general"), "saved");
  assert.equal(state.draftSync.times.get("general"), 1_600);
  assert.equal(saveDue(state.draftSync, state.drafts, "general", 9_000, true), null);
  const later = apply(state, { op: "error", id: 7, code: "rate_limited", message: "slow",
    retry_after: 4_000 }, { request: { op: "set_draft", room: "dev", text: "x" }, now: 2_000 });
  assert.deepEqual(later, [{ later: 4_000, key: "draft:dev", action: "saveDraft",
    args: ["dev"] }]);
  const full = { op: "error", id: 8, code: "too_many_drafts", message: "full" };
  const told = apply(state, full, { request: { op: "set_draft", room: "dev", text: "x" } });
  assert.equal(told.length, 1);
  assert.match(told[0].toast, /200 drafts already/);
  assert.deepEqual(apply(state, full, { request: { op: "set_draft", room: "dev", text: "y" } }),
    [], "said once");
});

test("deleting from the list empties the box here and asks the server", () => {
  const { state } = synced([draft("general", "there", 500)]);
  const before = state.draftSync.pushed;
  assert.deepEqual(requests(deleteDraft(state, "general")),
    [{ op: "set_draft", room: "general", text: "" }]);
  assert.equal(state.drafts.has("general"), false);
  assert.equal(state.draftSync.pushed, before + 1);
  assert.deepEqual(deleteDraft(state, "general"), [], "nothing left to delete");
  typed(state, "dev", "only here", 600);
  assert.deepEqual(deleteDraft(state, "dev"), [], "the server never had it");
});

test("leaving a room drops its drafts, its threads' too", () => {
  const { state } = synced([draft("dev", "d", 1), draft("dev", "t", 2, 9),
    draft("general", "g", 3)]);
  apply(state, { op: "left", room: "dev", user: "ann" }, { now: 10 });
  assert.deepEqual([...state.drafts.keys()], ["general"]);
});

test("the times are kept across a reload with the texts; old saved boxes still read", () => {
  const drafts = new Map([["general", "g"], ["dev", "d"]]);
  const saved = saveDrafts(drafts, [], null, new Map([["general", 1234]]), new Set(["dev"]));
  assert.deepEqual(saved, { general: { text: "g", at: 1234 }, dev: { text: "d", unsaved: true } });
  const back = restoreBoxes(JSON.parse(JSON.stringify(saved)));
  assert.deepEqual([...back.drafts], [["general", "g"], ["dev", "d"]]);
  assert.deepEqual([...back.times], [["general", 1234]]);
  assert.deepEqual([...back.unsaved], ["dev"]);
  assert.deepEqual(saveDrafts(drafts), { general: "g", dev: "d" }, "without times: as before");
  const state = initialState({ me: "ann", drafts: back.drafts, draftTimes: back.times,
    draftsSyncedAt: 99 });
  assert.equal(state.draftSync.syncedAt, 99);
  assert.equal(state.draftSync.times.get("general"), 1234);
});

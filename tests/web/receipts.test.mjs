// Read receipts (receipts.js, state.js): the other members' markers asked when a conversation is
// shown (once a connection), moved by `seen` events (never back by a stale one), where the
// "Seen" lines go and what they say, the readers of "Read by…", and the person's own setting.

import assert from "node:assert/strict";
import { test } from "node:test";

import {
  emptyReaders, emptyReceipts, markerOf, nextReaders, readersAnswered, readersRefused,
  readersText, seenAt, seenEvent, seenLines,
} from "../../clients/web/receipts.js";
import { learn } from "../../clients/web/profiles.js";
import {
  apply, connectionChanged, selectRoom, setReadReceipts,
} from "../../clients/web/state.js";
import {
  connected, generator, message, receiveAll, requests, roomInfo, welcome,
} from "./fixtures.mjs";

const DM = "@ann:bob";
const GROUP = "@ann:bob:carol";
const dmInfo = (extra = {}) => roomInfo(DM, { lastSeq: 0, peer: "Bob", ...extra });
const groupInfo = (extra = {}) => roomInfo(GROUP, { kind: "group", peers: ["Bob", "carol"],
  lastSeq: 0, ...extra });

/** Ann's page with #general, her 1:1 with Bob and her group with Bob and Carol. */
function page({ user = { id: 1, name: "ann", read_receipts: true } } = {}) {
  const { state, effects } = connected([roomInfo("general"), dmInfo(), groupInfo()]);
  apply(state, { ...welcome([roomInfo("general"), dmInfo(), groupInfo()]), user });
  return { state, effects };
}

/** The `receipts` requests (the markers of a conversation: no msg_id) among `effects`. */
const asked = (effects) => requests(effects).filter((r) => r.op === "receipts");

/** The positions answer to `request`. */
function answer(state, request, positions) {
  return apply(state, { op: "ok", id: 9, room: request.room, positions }, { request });
}

const lines = (state, name) => Object.fromEntries(seenLines(state, state.rooms.get(name)));

test("a conversation's markers are asked when it is shown, once a connection; a room's never", () => {
  const { state } = page();
  const general = selectRoom(state, "general");
  assert.deepEqual(asked(general), [], "a room has no Seen lines");
  const first = asked(selectRoom(state, DM));
  assert.deepEqual(first, [{ op: "receipts", room: DM }]);
  selectRoom(state, "general");
  assert.deepEqual(asked(selectRoom(state, DM)), [], "asked already: the events keep it");
  assert.deepEqual(asked(selectRoom(state, GROUP)), [{ op: "receipts", room: GROUP }]);
  // After a reconnect: asked again for the open one (what moved while away, who stopped).
  connectionChanged(state, "waiting");
  connectionChanged(state, "online");
  const again = apply(state, welcome([roomInfo("general"), dmInfo(), groupInfo()]));
  assert.deepEqual(asked(again), [{ op: "receipts", room: GROUP }]);
  selectRoom(state, "general");
  assert.deepEqual(asked(selectRoom(state, DM)), [{ op: "receipts", room: DM }]);
});

test("a refused answer is asked again the next time; a server without receipts is not", () => {
  const { state } = page();
  const [request] = asked(selectRoom(state, DM));
  apply(state, { op: "error", id: 9, code: "rate_limited", message: "slow down" }, { request });
  selectRoom(state, "general");
  assert.deepEqual(asked(selectRoom(state, DM)), [request]);
  apply(state, { op: "error", id: 9, code: "unknown_op", message: "?" }, { request });
  selectRoom(state, "general");
  assert.deepEqual(asked(selectRoom(state, DM)), []);
});

test("Seen goes under the latest of my messages the other has read, never under theirs", () => {
  const { state } = page();
  const [request] = asked(selectRoom(state, DM));
  receiveAll(state, [message(DM, 1, "ann"), message(DM, 2, "ann"), message(DM, 3, "Bob"),
    message(DM, 4, "ann"), message(DM, 5, "Bob")]);
  assert.deepEqual(lines(state, DM), {}, "no marker known yet");
  answer(state, request, [{ user: "Bob", seq: 3 }]);
  assert.deepEqual(lines(state, DM), { 2: "Seen" }, "read up to his own 3: my 2 is the latest");
  apply(state, { op: "seen", room: DM, user: "Bob", seq: 4 });
  assert.deepEqual(lines(state, DM), { 4: "Seen" });
  apply(state, { op: "seen", room: DM, user: "Bob", seq: 5 });
  assert.deepEqual(lines(state, DM), { 4: "Seen" }, "his own message carries nothing");
  apply(state, { op: "seen", room: DM, user: "Bob", seq: 2 });
  assert.deepEqual(lines(state, DM), { 4: "Seen" }, "a stale lower seq never moves it back");
  assert.equal(markerOf(state.receipts, DM, "bob"), 5);
  apply(state, { op: "seen", room: DM, user: "Bob", seq: 1, back: true });
  assert.deepEqual(lines(state, DM), { 1: "Seen" }, "marked unread: back, as the server says");
  apply(state, { op: "seen", room: DM, user: "ann", seq: 9 });
  assert.equal(markerOf(state.receipts, DM, "ann"), null, "my own reads are no receipt");
});

test("the answer keeps a marker an event moved further, and drops who stopped sharing", () => {
  const { state } = page();
  const [request] = asked(selectRoom(state, GROUP));
  receiveAll(state, [message(GROUP, 1, "ann"), message(GROUP, 2, "ann")]);
  apply(state, { op: "seen", room: GROUP, user: "Bob", seq: 2 }); // came before the answer
  answer(state, request, [{ user: "Bob", seq: 1 }, { user: "carol", seq: 1 }]);
  assert.equal(markerOf(state.receipts, GROUP, "Bob"), 2);
  assert.equal(markerOf(state.receipts, GROUP, "carol"), 1);
  // Carol turned her receipts off: the next answer leaves her out.
  connectionChanged(state, "waiting");
  connectionChanged(state, "online");
  const [again] = asked(apply(state, welcome([roomInfo("general"), dmInfo(), groupInfo()])));
  answer(state, again, [{ user: "Bob", seq: 2 }]);
  assert.equal(markerOf(state.receipts, GROUP, "carol"), null);
  assert.deepEqual(lines(state, GROUP), { 2: "Seen by Bob" });
});

test("a group's lines name who is there by display name, or say everyone", () => {
  const { state } = page();
  const [request] = asked(selectRoom(state, GROUP));
  learn(state.profiles, "carol", { display_name: "Carol Danvers" });
  receiveAll(state, [message(GROUP, 1, "ann"), message(GROUP, 2, "carol"),
    message(GROUP, 3, "ann")]);
  answer(state, request, [{ user: "Bob", seq: 1 }, { user: "carol", seq: 0 }]);
  assert.deepEqual(lines(state, GROUP), { 1: "Seen by Bob" }, "Carol has read nothing");
  apply(state, { op: "seen", room: GROUP, user: "carol", seq: 2 });
  assert.deepEqual(lines(state, GROUP), { 1: "Seen by everyone" }, "her own 2 is not mine");
  apply(state, { op: "seen", room: GROUP, user: "carol", seq: 3 });
  assert.deepEqual(lines(state, GROUP), { 1: "Seen by Bob", 3: "Seen by Carol Danvers" });
  apply(state, { op: "seen", room: GROUP, user: "Bob", seq: 3 });
  assert.deepEqual(lines(state, GROUP), { 3: "Seen by everyone" });
  // Of five others, those there by name, cut after three.
  const big = "@ann:bob:carol:dan:eve:fay";
  const others = ["Bob", "carol", "dan", "eve", "fay"];
  const opened = connected([roomInfo(big, { kind: "group", peers: others })]);
  const [more] = asked(opened.effects); // the first room, opened by the welcome
  learn(opened.state.profiles, "carol", { display_name: "Carol Danvers" });
  apply(opened.state, message(big, 1, "ann"));
  answer(opened.state, more, others.slice(0, 4).map((user) => ({ user, seq: 1 })));
  assert.deepEqual(lines(opened.state, big), { 1: "Seen by Bob, Carol Danvers, dan +1" });
});

test("no line under a deleted message or a thread's reply the room does not show", () => {
  const { state } = page();
  const [request] = asked(selectRoom(state, DM));
  receiveAll(state, [message(DM, 1, "ann"), message(DM, 2, "ann"),
    message(DM, 3, "ann", "in the thread", { thread: 1002 })]);
  answer(state, request, [{ user: "Bob", seq: 3 }]);
  assert.deepEqual(lines(state, DM), { 2: "Seen" }, "the reply shows in its thread only");
  apply(state, { op: "deleted", room: DM, seq: 4, msg_id: 1002, by: "ann", ts: 5 });
  apply(state, { op: "seen", room: DM, user: "Bob", seq: 4 });
  assert.deepEqual(lines(state, DM), { 1: "Seen" });
});

test("markers of a room left go with it; bad events change nothing", () => {
  const receipts = emptyReceipts();
  for (const bad of [null, {}, { room: DM, user: "Bob" }, { room: DM, user: "Bob", seq: -1 },
    { room: DM, user: 5, seq: 1 }, { room: DM, user: "Bob", seq: "3" }]) {
    assert.equal(seenEvent(receipts, bad, "ann"), false, JSON.stringify(bad));
  }
  assert.equal(receipts.markers.size, 0);
  const { state } = page();
  apply(state, { op: "seen", room: DM, user: "Bob", seq: 1 });
  apply(state, { op: "left", room: DM, user: "ann" });
  assert.equal(state.receipts.markers.has(DM), false);
});

test("Read by…: the count, the names by display name, Nobody yet, and the rest counted", () => {
  const { state } = page();
  learn(state.profiles, "zed", { display_name: "Aaron Zed" });
  assert.deepEqual(readersText(state.profiles, { count: 0, users: [] }),
    { count: 0, summary: "Nobody yet", readers: [], more: null });
  assert.deepEqual(readersText(state.profiles, { count: 1, users: ["bob"] }).summary,
    "Read by 1 person");
  const capped = readersText(state.profiles, { count: 5, users: ["carol", "zed", "Bob"] });
  assert.equal(capped.summary, "Read by 5 people");
  assert.deepEqual(capped.readers.map((r) => r.name), ["Aaron Zed", "Bob", "carol"]);
  assert.equal(capped.more, "…and 2 more");
  assert.equal(readersText(null, { users: ["a", 3] }).count, 1, "a count missing: the names");
  // The names of an answer the page had not heard of are asked for.
  const request = { op: "receipts", room: "general", msg_id: 7 };
  const effects = apply(state, { op: "ok", id: 9, room: "general", msg_id: 7, count: 1,
    users: ["dora"] }, { request });
  assert.ok(effects.some((e) => e.later !== undefined && e.action === "askProfiles"));
  assert.ok(state.profiles.wanted.has("dora"));
});

test("the setting: the welcome's, changed at once, put back on a refusal, kept by events", () => {
  const { state } = page();
  assert.equal(state.receipts.share, true);
  assert.deepEqual(requests(setReadReceipts(state, false)),
    [{ op: "set_read_receipts", on: false }]);
  assert.equal(state.receipts.share, false, "at once");
  assert.deepEqual(setReadReceipts(state, false), [], "so already");
  apply(state, { op: "read_receipts", on: false }); // its event, before the reply
  apply(state, { op: "ok", id: 9, on: false }, { request: { op: "set_read_receipts", on: false } });
  assert.equal(state.receipts.share, false);
  setReadReceipts(state, true);
  const toasts = apply(state, { op: "error", id: 9, code: "internal", message: "boom" },
    { request: { op: "set_read_receipts", on: true } });
  assert.equal(state.receipts.share, false, "refused: back to the server's");
  assert.match(toasts[0].toast, /not turned on: boom/);
  apply(state, { op: "read_receipts", on: true }); // another device
  assert.equal(state.receipts.share, true);
  setReadReceipts(state, false);
  apply(state, { op: "read_receipts", on: true }); // a device's change before this one's
  assert.equal(state.receipts.share, false, "this page's change on its way is shown");
  apply(state, { op: "ok", id: 9, on: false }, { request: { op: "set_read_receipts", on: false } });
  assert.equal(state.receipts.share, false);
  const old = page({ user: { id: 1, name: "ann" } }).state;
  assert.equal(old.receipts.share, null, "a server that does not say: no toggle");
  connectionChanged(old, "waiting");
  assert.deepEqual(setReadReceipts(old, false), [], "not while offline");
});

// -- the property ---------------------------------------------------------------------------

const ROUNDS = 300;

test("whatever the order of sends and seen events, each line is under my latest message at or " +
  "below that member's marker", () => {
  for (let seed = 1; seed <= ROUNDS; seed += 1) {
    const random = generator(seed);
    const group = random(2) === 0;
    const name = group ? GROUP : DM;
    const others = group ? ["Bob", "carol"] : ["Bob"];
    const { state } = page();
    const [request] = asked(selectRoom(state, name));
    const marker = new Map(); // lower-case user -> the highest seq told (the model)
    const own = []; // my messages' seqs
    let seq = 0;
    const initial = others.filter(() => random(2) === 0).map((user) => ({ user, seq: 0 }));
    answer(state, request, initial);
    for (const { user } of initial) marker.set(user.toLowerCase(), 0);
    for (let step = 0; step < 40; step += 1) {
      const choice = random(3);
      if (choice === 0) {
        seq += 1;
        own.push(seq);
        apply(state, message(name, seq, "ann"));
      } else if (choice === 1) {
        seq += 1;
        apply(state, message(name, seq, random.pick(others)));
      } else {
        // A seen event, often stale (below what was told already).
        const user = random.pick(others);
        const at = random(seq + 1);
        apply(state, { op: "seen", room: name, user, seq: at });
        const key = user.toLowerCase();
        marker.set(key, Math.max(marker.get(key) ?? -1, at));
      }
      const room = state.rooms.get(name);
      const expected = new Map();
      for (const [user, at] of marker) {
        const under = own.filter((s) => s <= at).pop();
        if (under === undefined) continue;
        if (!expected.has(under)) expected.set(under, []);
        expected.get(under).push(user);
      }
      const got = new Map([...seenAt(state.receipts, room, "ann")].map(([s, users]) =>
        [s, users.map((u) => u.toLowerCase()).sort()]));
      for (const users of expected.values()) users.sort();
      assert.deepEqual(got, expected, `seed ${seed}, step ${step}`);
      for (const [s, words] of seenLines(state, room)) {
        assert.ok(own.includes(s), `seed ${seed}: a line under someone else's message`);
        if (!group) assert.equal(words, "Seen");
        else if (expected.get(s).length === others.length) assert.equal(words, "Seen by everyone");
        else assert.match(words, /^Seen by /);
      }
    }
  }
});

test("Read by… past a page: Show more asks after the last name and adds the next page", () => {
  const readers = emptyReaders();
  assert.equal(nextReaders(readers), null, "the first page is on its way");
  const first = Array.from({ length: 100 }, (_, n) => `u${String(n).padStart(3, "0")}`);
  readersAnswered(readers, { count: 150, users: first, more: true });
  assert.deepEqual([readers.users.length, readers.count, readers.more], [100, 150, true]);
  assert.equal(readersText(null, readers).more, "…and 50 more");
  assert.equal(nextReaders(readers), "u099", "after the last name of the page");
  assert.equal(nextReaders(readers), null, "one page on its way at a time");
  // Refused: asked again from the same name.
  readersRefused(readers);
  assert.equal(nextReaders(readers), "u099");
  // The next page (one name of it read meanwhile; u099 again, as a name that moved would be).
  const second = Array.from({ length: 51 }, (_, n) => `v${String(n).padStart(3, "0")}`);
  readersAnswered(readers, { count: 151, users: ["u099", ...second], more: false });
  assert.equal(readers.users.length, 151, "u099 once");
  assert.deepEqual(readers.users.slice(98, 101), ["u098", "u099", "v000"], "added, in order");
  assert.equal(readersText(null, readers).more, null);
  assert.equal(readersText(null, readers).summary, "Read by 151 people");
  assert.equal(nextReaders(readers), null, "no more");
  // A page that says more but gives no name cannot say where the next starts.
  const odd = emptyReaders();
  readersAnswered(odd, { count: 3, users: [], more: true });
  assert.equal(odd.more, false);
  assert.equal(nextReaders(odd), null);
});

test("a member who stops sharing is dropped from the lines at once, and back when on again", () => {
  const { state } = page();
  const [request] = asked(selectRoom(state, GROUP));
  receiveAll(state, [message(GROUP, 1, "ann"), message(GROUP, 2, "ann")]);
  answer(state, request, [{ user: "Bob", seq: 2 }, { user: "carol", seq: 1 }]);
  assert.deepEqual(lines(state, GROUP), { 1: "Seen by carol", 2: "Seen by Bob" });
  // Bob turned his receipts off: `seen` with seq null takes his position back.
  apply(state, { op: "seen", room: GROUP, user: "bob", seq: null });
  assert.equal(markerOf(state.receipts, GROUP, "Bob"), null);
  assert.deepEqual(lines(state, GROUP), { 1: "Seen by carol" });
  // Again (another node's copy), or for someone not held: nothing changes, nothing breaks.
  assert.equal(seenEvent(state.receipts, { room: GROUP, user: "Bob", seq: null }, "ann"), false);
  assert.equal(seenEvent(state.receipts, { room: "@ann:zed", user: "zed", seq: null }, "ann"),
    false);
  // On again: his marker where the server says, even below where it was before.
  apply(state, { op: "seen", room: GROUP, user: "Bob", seq: 1 });
  assert.deepEqual(lines(state, GROUP), { 1: "Seen by everyone" });
  // A 1:1: its "Seen" goes.
  const [dm] = asked(selectRoom(state, DM));
  receiveAll(state, [message(DM, 1, "ann")]);
  answer(state, dm, [{ user: "Bob", seq: 1 }]);
  assert.deepEqual(lines(state, DM), { 1: "Seen" });
  apply(state, { op: "seen", room: DM, user: "Bob", seq: null });
  assert.deepEqual(lines(state, DM), {});
  // The person's own device's retraction is none of theirs.
  assert.equal(seenEvent(state.receipts, { room: DM, user: "ann", seq: null }, "ann"), false);
});

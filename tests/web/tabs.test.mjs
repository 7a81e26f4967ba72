// One alert per message across the tabs of one person (tabs.js): the record the tabs share, as
// each claims an alert or says which room it shows. The tabs here are two pages' states fed the
// same frames, and their record one value passed from claim to claim, as tabs-store.js's
// transactions pass it (one after another). The last test is a seeded random walk of several
// tabs, with no dependency (the seed of a failing case is in its message).

import assert from "node:assert/strict";
import { test } from "node:test";

import { alertKey, readUpTo, SOUND_GAP_MS, STALE_MS } from "../../clients/web/alerts.js";
import { apply, connectionChanged, initialState, selectRoom } from "../../clients/web/state.js";
import {
  claim, emptyRecord, KEEP_MAX, KEEP_MS, look, LOOK_MS, LOOK_REFRESH_MS, restoreRecord, toClose,
} from "../../clients/web/tabs.js";
import { generator, message, roomInfo, welcome } from "./fixtures.mjs";

const NOW = 1_000_100; // just after the fixtures' messages (ts 1_000_000 + seq)
const ON = { desktop: true, sound: true, permission: "granted" };

/** A hidden tab of ann's, online, with a room and a conversation. */
function tab() {
  const state = initialState({ me: "ann", visible: false, focused: false, alerts: { ...ON } });
  connectionChanged(state, "online");
  apply(state, welcome([roomInfo("general", { lastSeq: 10 }),
    roomInfo("@ann:bob", { lastSeq: 10, peer: "Bob" })]));
  return state;
}

/** The alert of this frame in this tab (there must be one). */
function alertOf(state, frame, now = NOW) {
  const [effect] = apply(state, frame, { now }).filter((item) => item.alert);
  assert.ok(effect, "the frame alerts in this tab");
  return effect.alert;
}

/** An alert as alerts.js makes one, with only what tabs.js reads. */
function alert(room, seq, { desktop = true, sound = true } = {}) {
  return { room, seq, key: alertKey(room, seq), desktop, sound };
}

const told = (result) => result.desktop || result.sound;

test("two tabs get one message: the first to claim it tells it, the second tells nothing", () => {
  const [one, two] = [tab(), tab()];
  const frame = message("@ann:bob", 11, "Bob", "lunch?");
  const first = claim(undefined, alertOf(one, frame), "one", NOW);
  assert.equal(first.desktop, true);
  assert.equal(first.sound, true);
  const second = claim(first.record, alertOf(two, frame), "two", NOW + 3);
  assert.deepEqual([second.desktop, second.sound], [false, false]);
  assert.deepEqual(second.record, first.record); // nothing new to note
  // The next message is another alert: told again (by whichever tab claims it first).
  const next = claim(second.record, alertOf(two, message("@ann:bob", 12)), "two",
    NOW + SOUND_GAP_MS);
  assert.deepEqual([next.desktop, next.sound], [true, true]);
});

test("a message replayed after a reconnect stays silent in every tab, the one that told it too",
  () => {
    const first = claim(undefined, alert("general", 11), "one", NOW);
    const later = NOW + STALE_MS; // replayed at the last moment it is not stale (alerts.js)
    assert.equal(told(claim(first.record, alert("general", 11), "one", later)), false);
    assert.equal(told(claim(first.record, alert("general", 11), "two", later)), false);
    // Remembered KEEP_MS (twice STALE_MS: a server clock ahead of this one), then forgotten.
    assert.equal(told(claim(first.record, alert("general", 11), "two", NOW + KEEP_MS)), false);
    assert.equal(told(claim(first.record, alert("general", 11), "two", NOW + KEEP_MS + 1)),
      true);
    assert.deepEqual(restoreRecord(first.record, NOW + KEEP_MS + 1).told, []);
  });

test("another tab looking at the room: no alert, and the message is noted as told", () => {
  const looked = look(undefined, "one", "general", NOW);
  assert.deepEqual(looked.looking, { tab: "one", room: "general", at: NOW });
  const hidden = claim(looked, alert("general", 11), "two", NOW + 5);
  assert.equal(told(hidden), false);
  assert.deepEqual(hidden.record.told, [["general#11", NOW + 5]]);
  // The looking tab stops looking: a replay of it is still told already.
  const away = look(hidden.record, "one", null, NOW + 6);
  assert.equal(away.looking, null);
  assert.equal(told(claim(away, alert("general", 11), "two", NOW + 7)), false);
  // Another room alerts while it looks; so does the room in the looking tab itself (that tab's
  // alerts.js `looking` already said whether it is looked at there).
  assert.equal(told(claim(looked, alert("@ann:bob", 11), "two", NOW + 5)), true);
  assert.equal(told(claim(looked, alert("general", 11), "one", NOW + 5)), true);
});

test("a look holds LOOK_MS unless said again; a tab's look away clears only its own", () => {
  const looked = look(undefined, "one", "general", NOW);
  assert.equal(LOOK_REFRESH_MS * 2 < LOOK_MS, true); // a missed refresh is no gap
  assert.equal(told(claim(looked, alert("general", 11), "two", NOW + LOOK_MS)), false);
  // A tab that went without a word (crashed, discarded) silences the room no longer.
  assert.equal(told(claim(looked, alert("general", 12), "two", NOW + LOOK_MS + 1)), true);
  const again = look(looked, "one", "general", NOW + LOOK_REFRESH_MS);
  assert.equal(told(claim(again, alert("general", 12), "two", NOW + LOOK_MS + 1)), false);
  // Another tab takes the focus: its look replaces the first's, which cannot clear it.
  const other = look(again, "two", "@ann:bob", NOW + LOOK_REFRESH_MS + 1);
  assert.deepEqual(look(other, "one", null, NOW + LOOK_REFRESH_MS + 2).looking,
    { tab: "two", room: "@ann:bob", at: NOW + LOOK_REFRESH_MS + 1 });
  assert.equal(look(other, "two", null, NOW + LOOK_REFRESH_MS + 2).looking, null);
  // A look said ahead of now (a clock set back) is not taken for one.
  assert.equal(restoreRecord(look(undefined, "one", "general", NOW + 1), NOW).looking, null);
});

test("a look counts only while its tab is open, where the browser can tell (Web Locks)", () => {
  const looked = look(undefined, "one", "general", NOW);
  const open = new Set(["one", "two"]);
  assert.equal(told(claim(looked, alert("general", 11), "two", NOW + 1, open)), false);
  // Tab "one" closed without a word (its last write lost): its look is gone at once.
  assert.equal(told(claim(looked, alert("general", 11), "two", NOW + 1, new Set(["two"]))),
    true);
  // No Web Locks (plain http): the look holds, until LOOK_MS.
  assert.equal(told(claim(looked, alert("general", 11), "two", NOW + 1, null)), false);
});

test("a burst across tabs chimes once per SOUND_GAP_MS; every message is still notified", () => {
  const first = claim(undefined, alert("general", 11), "one", NOW);
  const second = claim(first.record, alert("@ann:bob", 11), "two", NOW + 10);
  assert.deepEqual([second.desktop, second.sound], [true, false]);
  assert.equal(second.record.chimed, NOW);
  const third = claim(second.record, alert("general", 12), "two", NOW + SOUND_GAP_MS);
  assert.deepEqual([third.desktop, third.sound], [true, true]);
  // Sound only, not due: nothing at all, but the alert is told (noted).
  const quiet = claim(third.record, alert("general", 13, { desktop: false }), "one",
    NOW + SOUND_GAP_MS + 1);
  assert.equal(told(quiet), false);
  assert.equal(quiet.record.told.at(-1)[0], "general#13");
});

test("the record stays small: KEEP_MAX alerts at most, the oldest go first", () => {
  let record;
  for (let seq = 1; seq <= KEEP_MAX + 5; seq += 1) {
    record = claim(record, alert("general", seq), "one", NOW + seq).record;
  }
  assert.equal(record.told.length, KEEP_MAX);
  assert.deepEqual(record.told[0], ["general#6", NOW + 6]);
  // Forgotten by the bound: told again (a duplicate at worst, never a loss).
  assert.equal(told(claim(record, alert("general", 1), "two", NOW + KEEP_MAX + 6)), true);
});

test("a damaged or foreign record is read as an empty one; an alert with no key alerts", () => {
  for (const saved of [undefined, null, 3, "x", [], { told: "no" },
    { told: [["a"], [1, 2], ["b", "soon"]], chimed: "x", looking: { tab: 1, room: "g", at: 0 } }]) {
    assert.deepEqual(restoreRecord(saved, NOW), emptyRecord(), JSON.stringify(saved));
  }
  const bare = { room: "general", desktop: true, sound: false };
  const first = claim(undefined, bare, "one", NOW);
  assert.equal(first.desktop, true);
  assert.equal(claim(first.record, bare, "two", NOW).desktop, true);
  assert.deepEqual(first.record.told, []);
});

test("a page showing its room does not alert; a hidden one defers to its look", () => {
  // The tab state side: the looking tab's own alertFor gives nothing, the hidden tab's does;
  // the record silences the latter.
  const shown = initialState({ me: "ann", visible: true, focused: true, alerts: { ...ON } });
  connectionChanged(shown, "online");
  apply(shown, welcome([roomInfo("general", { lastSeq: 10 })]));
  selectRoom(shown, "general");
  const frame = message("general", 11, "Bob", "@ann look", { mentions: ["ann"] });
  assert.deepEqual(apply(shown, frame, { now: NOW }).filter((item) => item.alert), []);
  const record = look(undefined, "shown", "general", NOW - 1);
  assert.equal(told(claim(record, alertOf(tab(), frame), "hidden", NOW)), false);
});

// -- a random walk ------------------------------------------------------------------------------

test("a room looked at in any open tab closes every tab's notifications of that room", () => {
  const shown = ["general", "@ann:bob"]; // the rooms tab B shows notifications for
  assert.deepEqual(toClose(undefined, shown, NOW), [], "no record: nothing looked at");
  const looked = look(emptyRecord(), "A", "general", NOW);
  assert.deepEqual(toClose(looked, shown, NOW + 1), ["general"]);
  assert.deepEqual(toClose(looked, shown, NOW + 1, new Set(["A", "B"])), ["general"]);
  assert.deepEqual(toClose(looked, ["@ann:bob"], NOW + 1), [], "not a room B told of");
  assert.deepEqual(toClose(looked, shown, NOW + 1, new Set(["B"])), [], "A is gone");
  assert.deepEqual(toClose(looked, shown, NOW + LOOK_MS + 1), [], "a look too old");
  assert.deepEqual(toClose(look(looked, "A", null, NOW + 2), shown, NOW + 3), [],
    "A looks at nothing any more");
  assert.deepEqual(toClose(look(looked, "B", "@ann:bob", NOW + 2), shown, NOW + 3),
    ["@ann:bob"], "the tab's own look closes its own too");
  for (const junk of [null, "x", [], { looking: { tab: 1, room: "general", at: NOW } }]) {
    assert.deepEqual(toClose(junk, shown, NOW), []);
  }
});

test("the room read on another connection closes a notification of a message up to there", () => {
  const state = tab();
  const effects = apply(state, { op: "read", room: "general", seq: 12 });
  assert.deepEqual(effects, [{ readElsewhere: { room: "general", seq: 12 } }]);
  assert.equal(readUpTo(12, 12), true);
  assert.equal(readUpTo(11, 12), true);
  assert.equal(readUpTo(13, 12), false, "a later message is still unread");
  assert.equal(readUpTo(undefined, 12), true, "(a notification of no known seq: its room)");
});

test("any interleaving: each message told at most once, and by its first claim unless another "
  + "tab looked at its room; chimes SOUND_GAP_MS apart", () => {
  const TABS = ["a", "b", "c"];
  const ROOMS = ["general", "random", "@ann:bob"];
  for (let seed = 1; seed <= 300; seed += 1) {
    const next = generator(seed);
    let record;
    let now = NOW;
    const looks = new Map(); // tab -> {room, at}: the model of what each tab said
    const claims = new Map(); // key -> the number of claims
    const tells = new Map(); // key -> tells
    const firstAt = new Map(); // key -> when first claimed (a replay later than STALE_MS is none)
    let lastChime = null;
    let sent = 0;
    for (let step = 0; step < 60; step += 1) {
      now += next(4) === 0 ? next(LOOK_MS) : next(SOUND_GAP_MS / 2);
      const tabName = next.pick(TABS);
      const what = next(10);
      if (what < 2) {
        const room = next(3) === 0 ? null : next.pick(ROOMS);
        record = look(record, tabName, room, now);
        if (room === null) looks.delete(tabName);
        else {
          looks.clear(); // one look at a time: the last said wins
          looks.set(tabName, { room, at: now });
        }
        continue;
      }
      // A claim of a new message (sent) or of one already sent (another tab's, a replay).
      if (sent === 0 || what < 6) sent += 1;
      const seq = what < 6 ? sent : 1 + next(sent);
      const room = ROOMS[seq % ROOMS.length];
      const key = alertKey(room, seq);
      if (firstAt.has(key) && now - firstAt.get(key) > STALE_MS) continue; // stale: no alert
      if (!firstAt.has(key)) firstAt.set(key, now);
      const result = claim(record, alert(room, seq), tabName, now);
      record = result.record;
      const first = !claims.has(key);
      claims.set(key, (claims.get(key) || 0) + 1);
      const other = [...looks].find(([name, l]) => name !== tabName && l.room === room
        && now - l.at <= LOOK_MS);
      const why = `seed ${seed}, step ${step}, ${tabName} claims ${key}`;
      if (told(result)) tells.set(key, (tells.get(key) || 0) + 1);
      assert.ok((tells.get(key) || 0) <= 1, `${why}: told twice`);
      if (first) assert.equal(result.desktop, !other, `${why}: ${other ? "looked at" : "untold"}`);
      if (result.sound) {
        assert.ok(lastChime === null || now - lastChime >= SOUND_GAP_MS, `${why}: chimes`);
        lastChime = now;
      }
      assert.ok(record.told.length <= KEEP_MAX);
    }
  }
});

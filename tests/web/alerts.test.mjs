// Notifications, sounds and the title: what a new message alerts (alerts.js, through state.js's
// `alert` effects), per-room notification levels followed from the server, and the title's
// count.

import assert from "node:assert/strict";
import { test } from "node:test";

import {
  alertFor, BODY_CHARS, defaultLevel, levelOf, levelsFor, restoreSettings, saveSettings,
  soundDue, SOUND_GAP_MS, STALE_MS, titleCount, titleText,
} from "../../clients/web/alerts.js";
import {
  apply, initialState, connectionChanged, seen, selectRoom, setAlerts, setFocused, setNotify,
  setVisible,
} from "../../clients/web/state.js";
import { message, requests, roomInfo, welcome } from "./fixtures.mjs";

const NOW = 1_000_100; // just after the fixtures' messages (ts 1_000_000 + seq)
const ON = { desktop: true, sound: true, permission: "granted" };

/** A page of ann's, online, with these rooms; alerts on unless told otherwise. */
function page(rooms, { alerts = ON, visible = true, focused = true } = {}) {
  const state = initialState({ me: "ann", visible, focused, alerts: { ...alerts } });
  connectionChanged(state, "online");
  apply(state, welcome(rooms));
  return state;
}

const ROOMS = () => [
  roomInfo("general", { lastSeq: 10 }),
  roomInfo("random", { lastSeq: 10 }),
  roomInfo("@ann:bob", { lastSeq: 10, peer: "Bob" }),
];

/** The alerts among the effects of these frames. */
function alertsOf(state, frames, now = NOW) {
  return frames.flatMap((frame) => apply(state, frame, { now }))
    .filter((effect) => effect.alert).map((effect) => effect.alert);
}

test("default levels: all for a conversation, mentions for a room; a room object's wins", () => {
  assert.equal(defaultLevel("dm"), "all");
  assert.equal(defaultLevel("room"), "mentions");
  const state = page([...ROOMS(), roomInfo("quiet", { lastSeq: 1, notify: "none" })]);
  assert.equal(levelOf(state.rooms.get("general")), "mentions");
  assert.equal(levelOf(state.rooms.get("@ann:bob")), "all");
  assert.equal(levelOf(state.rooms.get("quiet")), "none");
  assert.deepEqual(levelsFor(state.rooms.get("@ann:bob")), ["all", "none"]);
  assert.deepEqual(levelsFor(state.rooms.get("general")), ["all", "mentions", "none"]);
});

test("a DM and a mention alert; a plain room message does not at the default level", () => {
  const state = page(ROOMS());
  // general is open and looked at: ann is in random instead.
  selectRoom(state, "random");
  const found = alertsOf(state, [
    message("@ann:bob", 11, "Bob", "lunch?"),
    message("general", 11, "Bob", "hello all"),
    message("general", 12, "Bob", "@ann look", { mentions: ["ann"] }),
  ]);
  assert.deepEqual(found.map((a) => [a.room, a.seq, a.kind]),
    [["@ann:bob", 11, "dm"], ["general", 12, "mention"]]);
  assert.deepEqual(found[0], {
    room: "@ann:bob", msgId: 1011, seq: 11, key: "@ann:bob#11", kind: "dm", title: "Bob",
    body: "lunch?", tag: "chatd:@ann:bob", desktop: true, sound: true,
  });
  assert.equal(found[1].title, "Bob in #general");
});

test("never one's own messages, not even from another device; never twice", () => {
  const state = page(ROOMS());
  selectRoom(state, "random");
  assert.deepEqual(alertsOf(state, [message("@ann:bob", 11, "ANN", "from my phone")]), []);
  assert.equal(alertsOf(state, [message("@ann:bob", 12, "Bob")]).length, 1);
  assert.deepEqual(alertsOf(state, [message("@ann:bob", 12, "Bob")]), []); // the same again
});

test("not for the room looked at, while the tab is visible and the window focused", () => {
  const state = page(ROOMS());
  selectRoom(state, "@ann:bob");
  assert.deepEqual(alertsOf(state, [message("@ann:bob", 11)]), []);
  setVisible(state, false);
  assert.equal(alertsOf(state, [message("@ann:bob", 12)]).length, 1);
  setVisible(state, true);
  setFocused(state, false); // another window in front
  assert.equal(alertsOf(state, [message("@ann:bob", 13)]).length, 1);
  setFocused(state, true);
  assert.deepEqual(alertsOf(state, [message("@ann:bob", 14)]), []);
});

test("a room set to all alerts for every message; a muted one for nothing, mentions too", () => {
  const state = page([roomInfo("loud", { lastSeq: 1, notify: "all" }),
    roomInfo("quiet", { lastSeq: 1, notify: "none" }),
    roomInfo("@ann:bob", { lastSeq: 1, peer: "Bob", notify: "none" }),
    roomInfo("zzz", { lastSeq: 0 })]);
  selectRoom(state, "zzz");
  const found = alertsOf(state, [
    message("loud", 2, "Bob", "anything"),
    message("quiet", 2, "Bob", "@ann hey", { mentions: ["ann"] }),
    message("@ann:bob", 2, "Bob", "psst"),
  ]);
  assert.deepEqual(found.map((a) => [a.room, a.kind]), [["loud", "message"]]);
});

test("messages read elsewhere, deleted, or older than STALE_MS do not alert", () => {
  const state = page([roomInfo("@ann:bob", { lastSeq: 10, readSeq: 10, peer: "Bob" }),
    roomInfo("general", { lastSeq: 0 })]);
  selectRoom(state, "general");
  // Read on another device meanwhile: its marker is past the message.
  apply(state, { op: "read", room: "@ann:bob", seq: 12 });
  assert.deepEqual(alertsOf(state, [message("@ann:bob", 12)]), []);
  assert.deepEqual(alertsOf(state, [message("@ann:bob", 13, "Bob", "",
    { deleted: true })]), []);
  const old = message("@ann:bob", 14);
  assert.deepEqual(alertsOf(state, [old], old.ts + STALE_MS + 1), []);
  assert.equal(alertsOf(state, [message("@ann:bob", 15)], NOW).length, 1);
});

test("a conversation someone starts alerts, with the sender as its title", () => {
  const state = page([roomInfo("general", { lastSeq: 0 })]);
  const effects = apply(state, message("@ann:carol", 1, "Carol", "hi there"), { now: NOW });
  const alert = effects.find((e) => e.alert).alert;
  assert.equal(alert.kind, "dm");
  assert.equal(alert.title, "Carol");
  assert.ok(effects.some((e) => e.refreshRooms));
});

test("the settings say desktop and/or sound; with both off nothing alerts", () => {
  const state = page(ROOMS(), { alerts: { desktop: true, sound: false, permission: "granted" } });
  selectRoom(state, "random");
  let [alert] = alertsOf(state, [message("@ann:bob", 11)]);
  assert.equal(alert.desktop, true);
  assert.equal(alert.sound, false);
  // Allowed by the person, but not by the browser (any more): only the sound.
  setAlerts(state, { permission: "denied", sound: true });
  [alert] = alertsOf(state, [message("@ann:bob", 12)]);
  assert.equal(alert.desktop, false);
  assert.equal(alert.sound, true);
  setAlerts(state, { sound: false });
  assert.deepEqual(alertsOf(state, [message("@ann:bob", 13)]), []);
});

test("allowing notifications turns them on; the stored settings are restored, junk dropped", () => {
  const state = page(ROOMS(), { alerts: { desktop: false, sound: true, permission: "default" } });
  setAlerts(state, { permission: "granted" });
  assert.equal(state.alerts.desktop, true);
  setAlerts(state, { desktop: false });
  assert.deepEqual(saveSettings(state.alerts), { desktop: false, sound: true });
  assert.deepEqual(restoreSettings({ desktop: false, sound: true }, "granted"),
    { desktop: false, sound: true, permission: "granted" });
  // Allowed in an earlier session, never turned off here: on.
  assert.deepEqual(restoreSettings(null, "granted"),
    { desktop: true, sound: true, permission: "granted" });
  assert.deepEqual(restoreSettings({ desktop: "yes", sound: 0, x: 1 }, "weird"),
    { desktop: false, sound: true, permission: "default" });
  assert.deepEqual(restoreSettings([1], "unsupported"),
    { desktop: false, sound: true, permission: "unsupported" });
});

test("a notification shows plain text, cut to BODY_CHARS; files as 📎 name", () => {
  const state = page(ROOMS());
  selectRoom(state, "random");
  const long = `**Bold** start ${"x".repeat(300)}`;
  const [a, b, c] = alertsOf(state, [
    message("@ann:bob", 11, "Bob", long),
    message("@ann:bob", 12, "Bob", "", { files: [{ id: 1, name: "plan.pdf" }] }),
    message("@ann:bob", 13, "Bob", "", { files: [{ id: 1, name: "a.png" }, { id: 2, name: "b" }] }),
  ]);
  assert.ok(a.body.startsWith("Bold start x"), a.body);
  assert.equal([...a.body].length, BODY_CHARS);
  assert.ok(a.body.endsWith("…"));
  assert.equal(b.body, "📎 plan.pdf");
  assert.equal(c.body, "📎 a.png and 1 more");
});

test("a private room is named with its lock", () => {
  const state = page([roomInfo("plans", { lastSeq: 1, private: true, notify: "all" }),
    roomInfo("a", { lastSeq: 0 })]);
  selectRoom(state, "a");
  const [alert] = alertsOf(state, [message("plans", 2, "Bob")]);
  assert.equal(alert.title, "Bob in 🔒 plans");
});

test("a sound at most every SOUND_GAP_MS", () => {
  assert.equal(soundDue(null, 5), true);
  assert.equal(soundDue(1000, 1000 + SOUND_GAP_MS - 1), false);
  assert.equal(soundDue(1000, 1000 + SOUND_GAP_MS), true);
  assert.equal(soundDue(1000, 10), true); // the clock went back
});

// -- the level of a room, changed here and followed from the server ---------------------------

test("setNotify changes the level at once and asks the server; ok keeps it", () => {
  const state = page(ROOMS());
  const sent = requests(setNotify(state, "general", "none"));
  assert.deepEqual(sent, [{ op: "set_notify", room: "general", notify: "none" }]);
  assert.equal(levelOf(state.rooms.get("general")), "none");
  assert.deepEqual(setNotify(state, "general", "none"), []); // no change: nothing to ask
  assert.deepEqual(setNotify(state, "general", "loud"), []); // not a level
  assert.deepEqual(setNotify(state, "nowhere", "all"), []);
  apply(state, { op: "ok", id: 3, room: "general", notify: "none" }, { request: sent[0] });
  assert.equal(levelOf(state.rooms.get("general")), "none");
});

test("a refused change puts back the level the server last gave, and says so", () => {
  const state = page([roomInfo("general", { lastSeq: 0, notify: "all" })]);
  const [sent] = requests(setNotify(state, "general", "none"));
  const effects = apply(state, { op: "error", id: 3, code: "unknown_op", message: "unknown op" },
    { request: sent });
  assert.equal(levelOf(state.rooms.get("general")), "all");
  assert.match(effects[0].toast, /notifications of #general/);
  // A room whose level the server never gave goes back to its kind's default.
  const other = page([roomInfo("random", { lastSeq: 0 })]);
  const [again] = requests(setNotify(other, "random", "all"));
  apply(other, { op: "error", id: 4, code: "disconnected", message: "not connected" },
    { request: again });
  assert.equal(levelOf(other.rooms.get("random")), "mentions");
});

test("a notify event (another device) changes the level at once; unknown levels are ignored", () => {
  const state = page(ROOMS());
  apply(state, { op: "notify", room: "general", notify: "all" });
  assert.equal(levelOf(state.rooms.get("general")), "all");
  apply(state, { op: "notify", room: "general", notify: "loud" });
  apply(state, { op: "notify", room: "nowhere", notify: "none" });
  assert.equal(levelOf(state.rooms.get("general")), "all");
  // And a refresh of the rooms carries it too.
  apply(state, { op: "ok", id: 5, rooms: [roomInfo("general", { lastSeq: 10, notify: "none" })] },
    { request: { op: "rooms", joined: true } });
  assert.equal(levelOf(state.rooms.get("general")), "none");
});

test("the join reply's level is taken", () => {
  const state = page([roomInfo("a", { lastSeq: 0 })]);
  apply(state, { op: "ok", id: 6, room: "newer", last_seq: 0, messages: [], more: false,
    notify: "all" }, { request: { op: "join", room: "newer" } });
  assert.equal(levelOf(state.rooms.get("newer")), "all");
});

// -- the title -------------------------------------------------------------------------------

test("the title counts unread messages, names the open room, and stars DMs and mentions", () => {
  const state = page([roomInfo("general", { lastSeq: 5, unread: 3 }),
    roomInfo("random", { lastSeq: 2, unread: 2 })]);
  assert.equal(state.current, "general");
  assert.equal(titleText(state), "(2) #general · chatd"); // general is read as it comes
  setVisible(state, false);
  assert.equal(titleText(state), "(5) #general · chatd"); // nobody reads a hidden tab
  apply(state, message("general", 6, "Bob", "@ann", { mentions: ["ann"] }), { now: NOW });
  assert.equal(titleText(state), "(6*) #general · chatd");
  setVisible(state, true);
  seen(state, "general", 6);
  assert.equal(titleText(state), "(2) #general · chatd");
  apply(state, message("@ann:bob", 1, "Bob", "hi"), { now: NOW });
  assert.deepEqual(titleCount(state), { count: 3, urgent: true });
});

test("a muted room's messages do not count in the title, its mentions do", () => {
  const state = page([roomInfo("a-open", { lastSeq: 0 }),
    roomInfo("quiet", { lastSeq: 4, unread: 4, mentions: 1, notify: "none" }),
    roomInfo("@ann:bob", { lastSeq: 2, unread: 2, peer: "Bob", notify: "none" })]);
  assert.deepEqual(titleCount(state), { count: 1, urgent: true });
  setNotify(state, "quiet", "mentions");
  assert.deepEqual(titleCount(state), { count: 4, urgent: true });
  setNotify(state, "@ann:bob", "all");
  assert.deepEqual(titleCount(state), { count: 6, urgent: true });
  assert.equal(titleText(state), "(6*) #a-open · chatd");
});

test("with no room open the title is the app's name; a conversation shows the peer", () => {
  const empty = page([]);
  assert.equal(titleText(empty), "chatd");
  const state = page([roomInfo("@ann:bob", { lastSeq: 0, peer: "Bob" })]);
  assert.equal(titleText(state), "Bob · chatd");
  const busy = page([roomInfo("a", { lastSeq: 0 }), roomInfo("b", { lastSeq: 5000, unread: 999 })]);
  apply(busy, message("b", 5001), { now: NOW });
  assert.equal(titleText(busy), "(999+) #a · chatd");
});

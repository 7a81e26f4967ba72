// Notifications, sounds and the title: what a new message alerts (alerts.js, through state.js's
// `alert` effects), per-room notification levels followed from the server, and the title's
// count.

import assert from "node:assert/strict";
import { test } from "node:test";

import {
  BODY_CHARS, customUntil, defaultLevel, levelOf, levelsFor, MAX_PAUSE_MS, paused,
  pauseText, restoreSettings, saveSettings, soundDue, SOUND_GAP_MS, STALE_MS, titleCount,
  titleText, tomorrowAt,
} from "../../clients/web/alerts.js";
import {
  actions, apply, initialState, connectionChanged, pauseNotifications, resumeNotifications, seen,
  selectRoom, setAlerts, setFocused, setNotify, setVisible,
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

// -- do not disturb ----------------------------------------------------------------------------

/** A page of ann's whose welcome says her notifications are paused until `until`. */
function pausedPage(until, rooms = ROOMS()) {
  const state = initialState({ me: "ann", alerts: { ...ON } });
  connectionChanged(state, "online");
  const frame = welcome(rooms);
  frame.user.dnd_until = until;
  const effects = apply(state, frame, { now: NOW });
  return { state, effects };
}

test("while paused, no DM, mention or message alerts (neither desktop nor sound); unread "
  + "counts, the mention badge and the title go on; at the pause's time, by the server's "
  + "clock, alerts come back", () => {
  const { state } = pausedPage(NOW + 50);
  selectRoom(state, "random");
  apply(state, { op: "notify", room: "general", notify: "all" });
  assert.equal(paused(state, NOW), true);
  const quiet = alertsOf(state, [
    message("@ann:bob", 11, "Bob", "lunch?"),
    message("general", 11, "Bob", "@ann look", { mentions: ["ann"] }),
    message("general", 12, "Bob", "hello all"),
  ], NOW + 49);
  assert.deepEqual(quiet, []);
  assert.equal(state.rooms.get("@ann:bob").unread, 1);
  assert.deepEqual([state.rooms.get("general").unread, state.rooms.get("general").mentions], [2, 1]);
  assert.deepEqual(titleCount(state), { count: 3, urgent: true });
  // The page's own clock plays no part: `now` is the server's time as the page reckons it.
  const loud = alertsOf(state, [message("@ann:bob", 12, "Bob", "still there?",
    { ts: NOW + 40 })], NOW + 50);
  assert.deepEqual(loud.map((a) => [a.kind, a.desktop, a.sound]), [["dm", true, true]]);
});

test("the welcome, the dnd event and the set_dnd reply set the pause; null resumes; a timer "
  + "draws its end, and ends it only once its time has come", () => {
  const { state, effects } = pausedPage(NOW + 60_000);
  assert.equal(state.dndUntil, NOW + 60_000);
  assert.deepEqual(effects.filter((e) => e.later !== undefined && e.action === "pauseEnded"),
    [{ later: 60_000, key: `dnd@${NOW + 60_000}`, action: "pauseEnded", args: [NOW + 60_000] }]);
  // A timer that fires early (the clock's offset moved) waits again; one of an older pause
  // does nothing.
  assert.deepEqual(actions.pauseEnded(state, NOW + 60_000, NOW + 59_000).map((e) => e.later),
    [1_000]);
  assert.deepEqual(actions.pauseEnded(state, NOW + 1, NOW + 59_000), []);
  assert.equal(state.dndUntil, NOW + 60_000);
  assert.deepEqual(actions.pauseEnded(state, NOW + 60_000, NOW + 60_000), []);
  assert.equal(state.dndUntil, null);
  assert.equal(paused(state, NOW), false);

  const later = apply(state, { op: "dnd", until: NOW + 5_000 }, { now: NOW });
  assert.equal(paused(state, NOW + 4_999), true);
  assert.deepEqual(later.map((e) => e.args), [[NOW + 5_000]]);
  apply(state, { op: "dnd", until: null }, { now: NOW });
  assert.equal(paused(state, NOW), false);
  apply(state, { op: "dnd", until: "soon" }, { now: NOW });
  assert.equal(state.dndUntil, null);
  // A pause that ended already sets no timer.
  assert.deepEqual(apply(state, { op: "dnd", until: NOW - 1 }, { now: NOW }), []);
  assert.equal(paused(state, NOW), false);

  const [asked] = requests(pauseNotifications(state, { duration: 1800 }));
  assert.deepEqual(asked, { op: "set_dnd", duration: 1800 });
  apply(state, { op: "ok", id: 7, until: NOW + 1_800_000 }, { request: asked, now: NOW });
  assert.equal(state.dndUntil, NOW + 1_800_000);
  assert.deepEqual(requests(pauseNotifications(state, { until: NOW + 9 })),
    [{ op: "set_dnd", until: NOW + 9 }]);
  assert.deepEqual(pauseNotifications(state, { duration: 0 }), []);
  const [resume] = requests(resumeNotifications(state));
  assert.deepEqual(resume, { op: "set_dnd", until: null });
  apply(state, { op: "ok", id: 8, until: null }, { request: resume, now: NOW });
  assert.equal(state.dndUntil, null);
  const refused = apply(state, { op: "error", id: 9, code: "bad_request", message: "too far" },
    { request: asked });
  assert.deepEqual(refused, [{ toast: "Notifications were not paused: too far" }]);
});

test("what was missed while away rings nothing while paused; the line still says it", () => {
  const state = initialState({ me: "ann", alerts: { ...ON } });
  connectionChanged(state, "online");
  apply(state, welcome([roomInfo("general", { lastSeq: 5, readSeq: 5 }),
    roomInfo("random", { lastSeq: 10, readSeq: 10 })]), { now: NOW });
  setFocused(state, false);
  const back = (until, count) => {
    connectionChanged(state, "waiting");
    connectionChanged(state, "online");
    const frame = welcome([roomInfo("general", { lastSeq: 5, readSeq: 5 }),
      roomInfo("random", { lastSeq: 10 + 2 * count, readSeq: 10, unread: 2 * count,
        mentions: count })]);
    frame.user.dnd_until = until;
    return apply(state, frame, { now: NOW });
  };
  const quiet = back(NOW + 1, 1);
  assert.deepEqual(quiet.filter((e) => e.alert), []);
  assert.match(quiet.find((e) => e.toast).toast, /While you were away: 1 mention in #random/);
  const loud = back(null, 2);
  assert.equal(loud.filter((e) => e.alert).length, 1);
});

test("the pauses offered: tomorrow 08:00 local, a custom time within the week, said as "
  + "'until 14:30', 'until tomorrow 08:00' or 'until Wed 08:00'", () => {
  const now = new Date(2026, 11, 7, 22, 15).getTime(); // a Monday, 22:15 local
  assert.equal(tomorrowAt(now), new Date(2026, 11, 8, 8, 0).getTime());
  assert.equal(tomorrowAt(new Date(2026, 11, 31, 0, 5).getTime()),
    new Date(2027, 0, 1, 8, 0).getTime());
  assert.equal(customUntil("2026-12-07T23:30", now), new Date(2026, 11, 7, 23, 30).getTime());
  assert.equal(customUntil("2026-12-07T22:00", now), null); // past
  assert.equal(customUntil("2026-12-20T08:00", now), null); // past the week
  assert.equal(customUntil("", now), null);
  assert.equal(customUntil("tomorrow", now), null);
  assert.ok(customUntil("2026-12-14T22:14", now) <= now + MAX_PAUSE_MS);
  assert.equal(pauseText(new Date(2026, 11, 7, 23, 30).getTime(), now), "until 23:30");
  assert.equal(pauseText(tomorrowAt(now), now), "until tomorrow 08:00");
  assert.equal(pauseText(new Date(2026, 11, 9, 8, 0).getTime(), now), "until Wed 08:00");
});

// What a page that comes back missed in the rooms it does not replay (missed.js, through the
// welcome and its pages in state.js): counted from the room objects against what the page last
// saw, alerted once per room, said in one line.

import assert from "node:assert/strict";
import { test } from "node:test";

import {
  awayText, news, remember, restoreSeen, saveSeen, SEEN_MAX,
} from "../../clients/web/missed.js";
import {
  apply, connectionChanged, helloResume, initialState, selectRoom, setAlerts, setFocused,
} from "../../clients/web/state.js";
import { STALE_MS } from "../../clients/web/alerts.js";
import { message, requests, roomInfo, welcome } from "./fixtures.mjs";

const ON = { desktop: true, sound: true, permission: "granted" };

const seen = (seq, read = 0, mentions = 0, unread = 0) => ({ seq, read, mentions, unread });

/** A page of ann's that saw `rooms` (alerts on), with what localStorage kept (`kept`). */
function page(rooms, { kept = null, alerts = ON } = {}) {
  const state = initialState({ me: "ann", alerts: { ...alerts }, seen: kept });
  connectionChanged(state, "online");
  const effects = apply(state, welcome(rooms));
  return { state, effects };
}

/** The connection drops and comes back with `rooms` as the welcome lists them: the effects. */
function comeBack(state, rooms, extra = {}) {
  connectionChanged(state, "waiting");
  connectionChanged(state, "online");
  helloResume(state);
  return apply(state, { ...welcome(rooms), ...extra });
}

const alertsOf = (effects) => effects.filter((e) => e.alert).map((e) => e.alert);
const toastsOf = (effects) => effects.filter((e) => e.toast).map((e) => e.toast);

test("what is new since the page saw a room: nothing when no entry came; everything unread when "
  + "the marker is past what was seen; else what the counts grew by", () => {
  const info = (lastSeq, readSeq, unread, mentions) => roomInfo("r", { lastSeq, readSeq, unread,
    mentions });
  assert.equal(news(seen(10, 5, 1, 5), info(10, 5, 5, 1)), null); // nothing came since
  assert.equal(news(seen(10, 5, 1, 5), info(10, 10, 0, 0)), null); // read elsewhere, nothing new
  assert.deepEqual(news(seen(10, 10), info(12, 10, 2, 1)), { mentions: 1, unread: 2 });
  assert.deepEqual(news(seen(10, 5, 1, 5), info(12, 5, 7, 2)), { mentions: 1, unread: 2 });
  // The marker moved past part of what was seen: the growth is a lower bound, never negative.
  assert.deepEqual(news(seen(10, 5, 1, 5), info(12, 8, 4, 1)), null);
  assert.deepEqual(news(seen(10, 5, 1, 5), info(12, 11, 1, 1)), { mentions: 1, unread: 1 });
  // Only own messages came (not unread): nothing.
  assert.equal(news(seen(10, 10), info(12, 12, 0, 0)), null);
  // A room never seen counts whole.
  assert.deepEqual(news(undefined, info(3, 0, 3, 1)), { mentions: 1, unread: 3 });
  assert.equal(news(seen(1), null), null);
});

test("after a reconnect, a mention in a room the page never opened alerts once, with a line "
  + "that says it; the open room (resumed) alerts by its replayed messages instead", () => {
  const { state } = page([
    roomInfo("general", { lastSeq: 5, readSeq: 5 }),
    roomInfo("random", { lastSeq: 10, readSeq: 8, unread: 2 }),
  ]);
  assert.equal(state.current, "general");
  setFocused(state, false); // in another window: the open room is not looked at either
  const effects = comeBack(state, [
    roomInfo("general", { lastSeq: 7, readSeq: 5, unread: 2, mentions: 2 }),
    roomInfo("random", { lastSeq: 12, readSeq: 8, unread: 4, mentions: 1, notify: "mentions" }),
  ]);
  // Known across tabs by the room's last message (tabs.js), as that message's own alert is.
  assert.deepEqual(alertsOf(effects).map(({ room, kind, title, body, msgId, tag, key }) => ({
    room, kind, title, body, msgId, tag, key })), [{ room: "random", kind: "mention",
    title: "#random", body: "1 mention while you were away", msgId: null, tag: "chatd:random",
    key: "random#12" }]);
  assert.deepEqual(toastsOf(effects), ["While you were away: 1 mention in #random."]);
  assert.equal(state.rooms.get("random").mentions, 1); // the "@" badge
  // The open room's missed messages come as events (its resume) and alert one by one.
  const live = apply(state, message("general", 6, "Bob", "@ann hi", { ts: 50, mentions: ["ann"] }),
    { now: 60 });
  assert.equal(alertsOf(live).length, 1);
  // Seen now: the next reconnect with nothing new tells nothing.
  assert.deepEqual(comeBack(state, [
    roomInfo("general", { lastSeq: 7, readSeq: 5, unread: 2, mentions: 2 }),
    roomInfo("random", { lastSeq: 12, readSeq: 8, unread: 4, mentions: 1 }),
  ]).filter((e) => e.alert || e.toast), []);
});

test("after a reload, what was missed is counted against what the last visit saw (kept in "
  + "localStorage); a first visit has missed nothing", () => {
  const before = [
    roomInfo("general", { lastSeq: 5, readSeq: 5 }),
    roomInfo("random", { lastSeq: 10, readSeq: 10 }),
    roomInfo("@ann:bob", { lastSeq: 3, readSeq: 3, peer: "Bob" }),
  ];
  const first = page(before);
  assert.deepEqual(first.effects.filter((e) => e.alert || e.toast), []);
  const kept = JSON.parse(JSON.stringify(saveSeen(remember(first.state))));
  const later = [ // in the server's order
    roomInfo("@ann:bob", { lastSeq: 5, readSeq: 3, unread: 2, peer: "Bob" }),
    roomInfo("@ann:carol", { lastSeq: 1, unread: 1, peer: "carol" }), // new while away
    roomInfo("general", { lastSeq: 5, readSeq: 5 }),
    roomInfo("quiet", { lastSeq: 9, readSeq: 2, unread: 7, notify: "none", mentions: 1 }),
    roomInfo("random", { lastSeq: 14, readSeq: 10, unread: 4, mentions: 2 }),
  ];
  const { effects } = page(later, { kept: restoreSeen(kept) });
  assert.deepEqual(alertsOf(effects).map(({ room, kind, title, body }) => [room, kind, title,
    body]), [
    ["@ann:bob", "dm", "Bob", "2 new messages while you were away"],
    ["@ann:carol", "dm", "carol", "1 new message while you were away"],
    ["random", "mention", "#random", "2 mentions while you were away"],
  ]); // not "quiet": muted; not "general", open (and nothing new)
  assert.deepEqual(toastsOf(effects), ["While you were away: 2 messages from Bob, 1 message "
    + "from carol, 2 mentions in #random."]);
  // Without any record (this browser's first visit), the same welcome tells nothing.
  assert.deepEqual(page(later).effects.filter((e) => e.alert || e.toast), []);
});

test("a room's level decides: every message at \"all\", mentions only at \"mentions\", nothing "
  + "muted; alerts follow the settings, the line does not need them", () => {
  const kept = restoreSeen({ loud: [1, 1, 0, 0], calm: [1, 1, 0, 0], off: [1, 1, 0, 0],
    aaa: [1, 1, 0, 0] });
  const rooms = [
    roomInfo("aaa", { lastSeq: 1, readSeq: 1 }), // opens first
    roomInfo("calm", { lastSeq: 4, readSeq: 1, unread: 3, notify: "mentions" }),
    roomInfo("loud", { lastSeq: 4, readSeq: 1, unread: 3, notify: "all" }),
    roomInfo("off", { lastSeq: 4, readSeq: 1, unread: 3, mentions: 3, notify: "none" }),
  ];
  const { effects } = page(rooms, { kept });
  assert.deepEqual(alertsOf(effects).map((a) => [a.room, a.kind, a.body]),
    [["loud", "message", "3 new messages while you were away"]]);
  const quiet = page(rooms, { kept, alerts: { desktop: false, sound: false,
    permission: "default" } }).effects;
  assert.deepEqual(alertsOf(quiet), []);
  assert.deepEqual(toastsOf(quiet), ["While you were away: 3 messages in #loud."]);
  const soundOnly = page(rooms, { kept, alerts: { desktop: true, sound: true,
    permission: "denied" } }).effects;
  assert.deepEqual(alertsOf(soundOnly).map((a) => [a.desktop, a.sound]), [[false, true]]);
});

test("a browser subscribed to pushes was told of mentions and direct messages by them: they do "
  + "not ring again, the line says them; messages of a room at \"all\" (never pushed) do", () => {
  const kept = restoreSeen({ aaa: [1, 1, 0, 0], calm: [1, 1, 0, 0], loud: [1, 1, 0, 0] });
  const rooms = [
    roomInfo("@ann:bob", { lastSeq: 2, unread: 2, peer: "Bob" }),
    roomInfo("aaa", { lastSeq: 1, readSeq: 1 }), // opens first
    roomInfo("calm", { lastSeq: 4, readSeq: 1, unread: 3, mentions: 1 }),
    roomInfo("loud", { lastSeq: 4, readSeq: 1, unread: 3, notify: "all" }),
  ];
  const state = initialState({ me: "ann", alerts: { ...ON }, seen: kept });
  setAlerts(state, { pushed: true }); // install.js: posted for ann from this browser
  connectionChanged(state, "online");
  const effects = apply(state, welcome(rooms));
  assert.deepEqual(alertsOf(effects).map((a) => [a.room, a.kind]), [["loud", "message"]]);
  assert.deepEqual(toastsOf(effects), ["While you were away: 2 messages from Bob, 1 mention in "
    + "#calm, 3 messages in #loud."]);
  const unsubscribed = page(rooms, { kept }).effects;
  assert.deepEqual(alertsOf(unsubscribed).map((a) => a.room), ["@ann:bob", "calm", "loud"]);
});

test("the room the page opens on is looked at: it does not alert", () => {
  const kept = restoreSeen({ general: [1, 1, 0, 0] });
  const { state, effects } = page([roomInfo("general", { lastSeq: 3, readSeq: 1, unread: 2,
    mentions: 2 })], { kept });
  assert.equal(state.current, "general");
  assert.deepEqual(effects.filter((e) => e.alert || e.toast), []);
});

test("with a paged welcome, what was missed is told once the whole list is in, the rooms of "
  + "every page together", () => {
  const kept = restoreSeen({ alpha: [1, 1, 0, 0], mid: [1, 1, 0, 0], zed: [1, 1, 0, 0] });
  const state = initialState({ me: "ann", alerts: { ...ON }, seen: kept });
  connectionChanged(state, "online");
  const first = apply(state, { ...welcome([roomInfo("alpha", { lastSeq: 1, readSeq: 1 }),
    roomInfo("mid", { lastSeq: 3, readSeq: 1, unread: 2, mentions: 1 })]), rooms_more: true });
  assert.deepEqual(first.filter((e) => e.alert || e.toast), []);
  const [asked] = requests(first).filter((r) => r.op === "rooms");
  const last = apply(state, { op: "ok", id: 2, rooms: [roomInfo("zed", { lastSeq: 2, readSeq: 1,
    unread: 1, mentions: 1 })], more: false }, { request: asked });
  assert.deepEqual(alertsOf(last).map((a) => a.room), ["mid", "zed"]);
  assert.deepEqual(toastsOf(last), ["While you were away: 1 mention in #mid, 1 mention in #zed."]);
});

test("what a listing cut short by a dropped connection noted is told after the next one", () => {
  const kept = restoreSeen({ alpha: [1, 1, 0, 0], mid: [1, 1, 0, 0] });
  const state = initialState({ me: "ann", alerts: { ...ON }, seen: kept });
  connectionChanged(state, "online");
  const rooms = [roomInfo("alpha", { lastSeq: 1, readSeq: 1 }),
    roomInfo("mid", { lastSeq: 3, readSeq: 1, unread: 2, mentions: 1 })];
  apply(state, { ...welcome(rooms), rooms_more: true });
  connectionChanged(state, "waiting");
  connectionChanged(state, "online");
  helloResume(state);
  const again = apply(state, welcome(rooms)); // the whole list at once this time
  assert.deepEqual(alertsOf(again).map((a) => a.room), ["mid"]);
  assert.deepEqual(toastsOf(again), ["While you were away: 1 mention in #mid."]);
});

test("a room that came live during the listing alerts by its messages, not twice", () => {
  const kept = restoreSeen({ alpha: [1, 1, 0, 0], zed: [1, 1, 0, 0] });
  const state = initialState({ me: "ann", alerts: { ...ON }, seen: kept });
  connectionChanged(state, "online");
  const first = apply(state, { ...welcome([roomInfo("alpha", { lastSeq: 1, readSeq: 1 })]),
    rooms_more: true });
  apply(state, message("zed", 2, "Bob", "@ann now", { mentions: ["ann"] }), { now: 1_000_010 });
  const [asked] = requests(first).filter((r) => r.op === "rooms");
  const last = apply(state, { op: "ok", id: 2, rooms: [roomInfo("zed", { lastSeq: 2, readSeq: 1,
    unread: 1, mentions: 1 })], more: false }, { request: asked, now: 1_000_010 });
  assert.deepEqual(alertsOf(last).map((a) => [a.room, a.msgId]), [["zed", 1002]]); // its own
  assert.deepEqual(toastsOf(last), []);
});

test("what is remembered: every room described, merged over the record until the whole list "
  + "is in; kept as compact arrays, junk dropped", () => {
  const kept = restoreSeen({ old: [4, 4, 0, 0], general: [1, 1, 0, 0] });
  const state = initialState({ me: "ann", seen: kept });
  connectionChanged(state, "online");
  apply(state, { ...welcome([roomInfo("general", { lastSeq: 5, readSeq: 2, unread: 3 })]),
    rooms_more: true });
  assert.deepEqual(Object.fromEntries(remember(state)),
    { old: seen(4, 4), general: seen(5, 2, 0, 3) });
  selectRoom(state, "general");
  assert.deepEqual(saveSeen(remember(state)), { general: [5, 2, 0, 3], old: [4, 4, 0, 0] });
  assert.equal(remember(initialState({ me: "ann" })), null); // nothing seen, nothing kept
  assert.equal(restoreSeen(null), null);
  assert.equal(restoreSeen([1, 2]), null);
  assert.deepEqual(Object.fromEntries(restoreSeen({ a: [1, 2, 3, 4], b: [1, -2, 3, 4],
    c: "x", d: [1, 2, 3] })), { a: seen(1, 2, 3, 4) });
  const many = new Map(Array.from({ length: SEEN_MAX + 5 }, (_, i) => [`r${i}`, seen(i)]));
  const saved = saveSeen(many);
  assert.equal(Object.keys(saved).length, SEEN_MAX);
  assert.ok(!("r0" in saved) && `r${SEEN_MAX + 4}` in saved);
});

test("the line names conversations by their peer and rooms by their label", () => {
  const room = (name, label, priv = false) => ({ name, label, kind: name.startsWith("@") ? "dm"
    : "room", private: priv });
  assert.equal(awayText([]), "");
  assert.equal(awayText([
    { room: room("@a:b", "b"), missed: { kind: "dm", count: 1 } },
    { room: room("plans", "plans", true), missed: { kind: "mention", count: 3 } },
    { room: room("news", "news"), missed: { kind: "message", count: 1 } },
  ]), "While you were away: 1 message from b, 3 mentions in 🔒 plans, 1 message in #news.");
});

test("a resumed room's replay of what is older than STALE_MS alerts once for the room, when the "
  + "replay has caught up, not per message; a fresh last message's own alert stands for it", () => {
  const { state } = page([roomInfo("general", { lastSeq: 5, readSeq: 5 })]);
  setFocused(state, false); // the laptop went to sleep with the room open in another window
  const back = comeBack(state, [roomInfo("general", { lastSeq: 8, readSeq: 5, unread: 3,
    mentions: 2 })]);
  assert.deepEqual(alertsOf(back), []); // resumed: its messages come as events
  const hourLater = 1_000_000 + 3_600_000;
  const replay = [
    message("general", 6, "Bob", "@ann look", { mentions: ["ann"] }),
    message("general", 7, "carol", "@ann and this", { mentions: ["ann"] }),
    message("general", 8, "Bob", "anyone?"),
  ];
  assert.deepEqual(alertsOf(apply(state, replay[0], { now: hourLater })), []);
  assert.deepEqual(alertsOf(apply(state, replay[1], { now: hourLater })), []); // not caught up
  const told = alertsOf(apply(state, replay[2], { now: hourLater }));
  assert.deepEqual(told.map(({ room, kind, body, key, msgId, tag }) => ({ room, kind, body, key,
    msgId, tag })), [{ room: "general", kind: "mention", body: "2 mentions while you were away",
    key: "general#8", msgId: null, tag: "chatd:general" }]);
  // Told: the next live message alerts by itself, as ever.
  const next = apply(state, message("general", 9, "Bob", "@ann ping", { mentions: ["ann"],
    ts: hourLater }), { now: hourLater });
  assert.deepEqual(alertsOf(next).map((a) => [a.kind, a.body]), [["mention", "@ann ping"]]);

  // A replay whose last message is fresh: that message alerts (its text), and no count does.
  const fresh = comeBack(state, [roomInfo("general", { lastSeq: 11, readSeq: 5, unread: 5,
    mentions: 4 })]);
  assert.deepEqual(alertsOf(fresh), []);
  const later = hourLater + 2 * STALE_MS;
  assert.deepEqual(alertsOf(apply(state, message("general", 10, "Bob", "@ann old",
    { mentions: ["ann"], ts: hourLater }), { now: later })), []);
  const last = alertsOf(apply(state, message("general", 11, "Bob", "@ann new",
    { mentions: ["ann"], ts: later - 1000 }), { now: later }));
  assert.deepEqual(last.map((a) => [a.key, a.body]), [["general#11", "@ann new"]]);
  assert.equal(state.late.size, 0);
});

test("late messages the room's level does not want, one's own, read or looked at count for "
  + "nothing; each late message that comes live alerts, as missed", () => {
  const { state } = page([roomInfo("general", { lastSeq: 2, readSeq: 2 })]);
  setFocused(state, false);
  // By the server's clock (clock.js), long after the messages' ts: a page whose own clock
  // runs ahead no longer gets here (tests/web/clock.test.mjs).
  const ahead = 1_000_000 + 10 * STALE_MS;
  const quiet = [message("general", 3, "Bob", "no mention"), message("general", 4, "ann", "mine",
    { mentions: ["ann"] })];
  assert.deepEqual(quiet.flatMap((m) => alertsOf(apply(state, m, { now: ahead }))), []);
  assert.equal(state.late.size, 0);
  const told = alertsOf(apply(state, message("general", 5, "Bob", "@ann hi", { mentions: ["ann"] }),
    { now: ahead }));
  assert.deepEqual(told.map((a) => [a.kind, a.body, a.key]),
    [["mention", "1 mention while you were away", "general#5"]]);
  // Looked at (the window focused on the room): nothing, and nothing counted.
  setFocused(state, true);
  assert.deepEqual(alertsOf(apply(state, message("general", 6, "Bob", "@ann again",
    { mentions: ["ann"] }), { now: ahead })), []);
  assert.equal(state.late.size, 0);
});

test("a browser subscribed to pushes was told of late mentions by them; a direct conversation's "
  + "late messages alert as one", () => {
  const { state } = page([roomInfo("general", { lastSeq: 1, readSeq: 1 }),
    roomInfo("@ann:bob", { lastSeq: 1, readSeq: 1, peer: "Bob" })]);
  setFocused(state, false);
  const later = 1_000_000 + 2 * STALE_MS;
  const dm = [message("@ann:bob", 2, "Bob", "hi"), message("@ann:bob", 3, "Bob", "there?")];
  const told = dm.flatMap((m) => alertsOf(apply(state, m, { now: later })));
  assert.deepEqual(told.map((a) => [a.room, a.kind, a.body]),
    [["@ann:bob", "dm", "1 new message while you were away"],
      ["@ann:bob", "dm", "1 new message while you were away"]]); // each came live, caught up
  setAlerts(state, { pushed: true });
  assert.deepEqual(alertsOf(apply(state, message("general", 2, "Bob", "@ann x",
    { mentions: ["ann"] }), { now: later })), []);
});

/**
 * Ann's page with these rooms (alerts on), each opened and its latest page loaded, so that the
 * hello resumes them all; "aaa" open, in another window (nothing is looked at).
 */
function resuming(rooms) {
  const { state } = page(rooms);
  for (const { room } of rooms) {
    const asked = requests(selectRoom(state, room)).find((r) => r.op === "history");
    if (asked) apply(state, { op: "ok", id: 2, room, messages: [], more: false },
      { request: asked });
  }
  selectRoom(state, "aaa");
  setFocused(state, false);
  return state;
}

const gap = (room, after, lastSeq) => ({ op: "gap", room, after, last_seq: lastSeq });

test("a resumed room that missed more than the server replays (a gap) tells its missed "
  + "mentions once, from its counts, in the words of the late alerts; its pages alert nothing",
() => {
  const state = resuming([roomInfo("aaa", { lastSeq: 1, readSeq: 1 }),
    roomInfo("busy", { lastSeq: 10, readSeq: 8, unread: 2, mentions: 1 })]);
  const back = comeBack(state, [roomInfo("aaa", { lastSeq: 1, readSeq: 1 }),
    roomInfo("busy", { lastSeq: 2010, readSeq: 8, unread: 2002, mentions: 4 })]);
  assert.deepEqual(back.filter((e) => e.alert || e.toast), []); // resumed: nothing said yet
  const effects = apply(state, gap("busy", 10, 2010), { now: 5_000_000 });
  assert.deepEqual(requests(effects), [{ op: "history", room: "busy", after: 10, limit: 500 }]);
  // The mentions it had before (1, unread) are not new: 3 are.
  assert.deepEqual(alertsOf(effects).map(({ room, kind, title, body, key, msgId }) => ({ room,
    kind, title, body, key, msgId })), [{ room: "busy", kind: "mention", title: "#busy",
    body: "3 mentions while you were away", key: "busy#2010", msgId: null }]);
  // Its history comes in pages, mentions and all: no alert for any of them.
  const page1 = Array.from({ length: 500 }, (_, i) => message("busy", 11 + i, "Bob", "@ann x",
    { mentions: ["ann"], ts: 4_000_000 }));
  assert.deepEqual(alertsOf(apply(state, { op: "ok", id: 3, room: "busy", messages: page1,
    more: true }, { request: requests(effects)[0], now: 5_000_000 })), []);
  // Dropped before the history was in: the next hello resumes from before the gap again, and
  // gets the gap again; what was told is not told twice.
  comeBack(state, [roomInfo("aaa", { lastSeq: 1, readSeq: 1 }),
    roomInfo("busy", { lastSeq: 2010, readSeq: 8, unread: 2002, mentions: 4 })]);
  assert.deepEqual(alertsOf(apply(state, gap("busy", 510, 2010), { now: 5_000_000 })), []);
  // A mention more since: that one.
  comeBack(state, [roomInfo("aaa", { lastSeq: 1, readSeq: 1 }),
    roomInfo("busy", { lastSeq: 2011, readSeq: 8, unread: 2003, mentions: 5 })]);
  assert.deepEqual(alertsOf(apply(state, gap("busy", 510, 2011), { now: 5_000_000 }))
    .map((a) => a.body), ["1 mention while you were away"]);
});

test("a gap room tells what its level wants: every message at \"all\", mentions at "
  + "\"mentions\", nothing muted; a conversation its messages; nothing when read elsewhere",
() => {
  const before = (name, extra = {}) => roomInfo(name, { lastSeq: 10, readSeq: 10, ...extra });
  const after = (name, extra = {}) => roomInfo(name, { lastSeq: 2010, readSeq: 10, unread: 2000,
    mentions: 2, ...extra });
  const state = resuming([before("@ann:bob", { peer: "Bob" }), before("aaa"),
    before("calm"), before("loud", { notify: "all" }), before("off", { notify: "none" }),
    before("read")]);
  comeBack(state, [after("@ann:bob", { peer: "Bob", mentions: 0 }), before("aaa"),
    after("calm"), after("loud", { notify: "all", mentions: 0 }),
    after("off", { notify: "none" }), after("read", { readSeq: 2010, unread: 0, mentions: 0 })]);
  const told = ["@ann:bob", "calm", "loud", "off", "read"].flatMap((name) =>
    alertsOf(apply(state, gap(name, 10, 2010), { now: 5_000_000 })));
  assert.deepEqual(told.map((a) => [a.room, a.kind, a.body]), [
    ["@ann:bob", "dm", "2000 new messages while you were away"],
    ["calm", "mention", "2 mentions while you were away"],
    ["loud", "message", "2000 new messages while you were away"],
  ]); // not "off", muted; not "read", read on another device meanwhile
  // The person is looking at it (the window focused on it): nothing.
  const looked = resuming([before("aaa"), before("calm")]);
  setFocused(looked, true);
  selectRoom(looked, "calm");
  comeBack(looked, [before("aaa"), after("calm")]);
  assert.deepEqual(alertsOf(apply(looked, gap("calm", 10, 2010), { now: 5_000_000 })), []);
});

test("a gap room whose object is on a later page of the listing tells when that page comes",
() => {
  const state = resuming([roomInfo("aaa", { lastSeq: 1, readSeq: 1 }),
    roomInfo("zed", { lastSeq: 10, readSeq: 10 })]);
  const first = comeBack(state, [roomInfo("aaa", { lastSeq: 1, readSeq: 1 })],
    { rooms_more: true });
  assert.deepEqual(alertsOf(apply(state, gap("zed", 10, 2010), { now: 5_000_000 })), []);
  const [asked] = requests(first).filter((r) => r.op === "rooms");
  const last = apply(state, { op: "ok", id: 2, rooms: [roomInfo("zed", { lastSeq: 2010,
    readSeq: 10, unread: 2000, mentions: 1 })], more: false }, { request: asked });
  assert.deepEqual(alertsOf(last).map((a) => [a.room, a.body]),
    [["zed", "1 mention while you were away"]]);
});

test("a gap sent live (a node that could not deliver a stretch of the room) is no absence: it "
  + "tells nothing of what came since the welcome, which alerted as it came", () => {
  const state = resuming([roomInfo("aaa", { lastSeq: 1, readSeq: 1 }),
    roomInfo("busy", { lastSeq: 10, readSeq: 10 })]);
  comeBack(state, [roomInfo("aaa", { lastSeq: 1, readSeq: 1 }),
    roomInfo("busy", { lastSeq: 10, readSeq: 10 })]); // nothing missed: no catch-up
  const live = apply(state, message("busy", 11, "Bob", "@ann now", { mentions: ["ann"],
    ts: 5_000_000 }), { now: 5_000_000 });
  assert.deepEqual(alertsOf(live).map((a) => a.body), ["@ann now"]);
  const later = apply(state, gap("busy", 11, 30), { now: 5_000_000 });
  assert.deepEqual(requests(later), [{ op: "history", room: "busy", after: 11, limit: 500 }]);
  assert.deepEqual(alertsOf(later), []);
});

// Saved messages and reminders (saved.js): the list walked after each welcome and merged with
// the `saved` and `reminder` events, the person's own saves shown at once, the count of overdue
// reminders, and the reminder presets computed from a given "now" in a given time zone.

import assert from "node:assert/strict";
import { test } from "node:test";

import * as saving from "../../clients/web/saved.js";
import { shownMessage, signature } from "../../clients/web/select-messages.js";
import {
  apply, connectionChanged, initialState, saveMessage,
} from "../../clients/web/state.js";
import { connected, message, receiveAll, requests, roomInfo, welcome } from "./fixtures.mjs";

const HOUR = 3600_000;
const msg = (room, msgId, text = `m${msgId}`) => ({ room, seq: msgId, msg_id: msgId, from: "bob",
  text, ts: 1_000 + msgId });
const item = (room, msgId, ts, extra = {}) => ({ room, ts, remind_at: null, reminded: false,
  message: msg(room, msgId), ...extra });
const keys = (list) => list.map((i) => `${i.room}:${i.msg_id}`);
/** A walk from its welcome to its end, the server's pages given in order. */
function walk(saved, pages, due = null) {
  let asked = saving.begin(saved, due);
  for (const page of pages) {
    assert.ok(asked, "a page was asked for");
    asked = saving.received(saved, asked, page);
  }
  return asked;
}

test("the walk asks page after page (before: the last item's ts) and shows the whole list at its end", () => {
  const saved = saving.emptySaved();
  const first = saving.begin(saved, 2);
  assert.deepEqual(first, { limit: saving.SAVED_PAGE });
  assert.equal(saving.statusText(saved), "Loading your saved messages…");
  assert.equal(saving.dueCount(saved), 2, "the welcome's count until the list is in");
  const second = saving.received(saved, first, { items: [item("a", 5, 500), item("b", 3, 400,
    { remind_at: 900, reminded: true })], more: true });
  assert.deepEqual(second, { limit: saving.SAVED_PAGE, before: 400 });
  assert.deepEqual(saved.items, [], "nothing replaced before the walk's end");
  // A reply to another request (a page not asked for) changes nothing.
  assert.equal(saving.received(saved, first, { items: [item("z", 9, 900)], more: false }), null);
  assert.equal(saving.received(saved, second, { items: [item("a", 1, 100,
    { remind_at: 800, reminded: true })], more: false }), null);
  assert.deepEqual(keys(saved.items), ["a:5", "b:3", "a:1"]);
  assert.equal(saved.complete, true);
  assert.equal(saving.dueCount(saved), 2, "counted from the list now");
  assert.equal(saving.statusText(saved), "3 saved messages, the latest saved first");
});

test("a reconnect's walk keeps the marks of the list shown until it ends", () => {
  const saved = saving.emptySaved();
  walk(saved, [{ items: [item("a", 1, 100)], more: false }]);
  const asked = saving.begin(saved, 0);
  assert.equal(saving.isSaved(saved, "a", 1), true);
  assert.equal(saving.statusText(saved), "1 saved message");
  saving.received(saved, asked, { items: [item("a", 2, 200)], more: false });
  assert.deepEqual(keys(saved.items), ["a:2"], "removed elsewhere while away: gone now");
});

test("saved events add, re-time and remove items, newest saved first", () => {
  const saved = saving.emptySaved();
  walk(saved, [{ items: [item("a", 1, 100)], more: false }]);
  assert.equal(saving.savedEvent(saved, { room: "b", msg_id: 7, on: true, remind_at: 5000,
    ts: 300 }, msg("b", 7)), false, "the page holds its message: nothing to ask");
  assert.deepEqual(keys(saved.items), ["b:7", "a:1"]);
  assert.equal(saved.items[0].remind_at, 5000);
  assert.equal(saved.items[0].message.text, "m7");
  // A message the page does not hold: the first page is asked again for it.
  assert.equal(saving.savedEvent(saved, { room: "c", msg_id: 8, on: true, remind_at: null,
    ts: 400 }), true);
  const asked = saving.peek(saved);
  assert.deepEqual(asked, { limit: saving.PEEK_PAGE });
  saving.savedEvent(saved, { room: "a", msg_id: 1, on: false, remind_at: null, ts: 500 });
  // The page, read before that removal, still has a:1: the newer event wins.
  assert.equal(saving.received(saved, asked, { items: [item("c", 8, 400), item("b", 7, 300),
    item("a", 1, 100)], more: true }), null, "a peek asks no second page");
  assert.deepEqual(keys(saved.items), ["c:8", "b:7"]);
  assert.equal(saved.items[0].message.text, "m8");
});

test("an event during the walk wins over a page read before it, and reaches the list shown", () => {
  const saved = saving.emptySaved();
  walk(saved, [{ items: [item("a", 1, 100), item("a", 2, 50)], more: false }]);
  const first = saving.begin(saved);
  saving.savedEvent(saved, { room: "a", msg_id: 2, on: false, remind_at: null, ts: 600 });
  saving.savedEvent(saved, { room: "a", msg_id: 1, on: true, remind_at: 9000, ts: 700 });
  saving.savedEvent(saved, { room: "n", msg_id: 3, on: true, remind_at: null, ts: 650 },
    msg("n", 3));
  assert.deepEqual(keys(saved.items), ["a:1", "n:3"], "the list shown follows at once");
  const next = saving.received(saved, first, { items: [item("a", 1, 100)], more: true });
  saving.received(saved, next, { items: [item("a", 2, 50)], more: false });
  assert.deepEqual(keys(saved.items), ["a:1", "n:3"]);
  assert.equal(saved.items[0].remind_at, 9000);
  assert.equal(saved.items[0].ts, 700);
});

test("a reminder marks its item overdue with its message as it is now; a new time clears it", () => {
  const saved = saving.emptySaved();
  walk(saved, [{ items: [item("a", 1, 100, { remind_at: 2000 })], more: false }], 0);
  assert.equal(saving.dueCount(saved), 0);
  saving.reminderEvent(saved, { room: "a", msg_id: 1, remind_at: 2000,
    message: msg("a", 1, "edited since") });
  assert.equal(saved.items[0].reminded, true);
  assert.equal(saved.items[0].message.text, "edited since");
  assert.equal(saving.dueCount(saved), 1);
  assert.equal(saving.reminderText(saved.items[0], 1_000_000), "Overdue");
  // The same save told again (another device saved it with the same reminder): still overdue.
  saving.savedEvent(saved, { room: "a", msg_id: 1, on: true, remind_at: 2000, ts: 100 });
  assert.equal(saving.dueCount(saved), 1);
  saving.savedEvent(saved, { room: "a", msg_id: 1, on: true, remind_at: 9000, ts: 100 });
  assert.equal(saved.items[0].reminded, false);
  assert.equal(saving.dueCount(saved), 0);
});

test("before the list is in, the welcome's count moves with the events", () => {
  const saved = saving.emptySaved();
  const first = saving.begin(saved, 3);
  saving.reminderEvent(saved, { room: "a", msg_id: 1, remind_at: 10, message: msg("a", 1) });
  assert.equal(saving.dueCount(saved), 4);
  saving.savedEvent(saved, { room: "a", msg_id: 1, on: false, remind_at: null, ts: 20 });
  assert.equal(saving.dueCount(saved), 3);
  // The page read before the removal lists it, overdue: the event wins.
  saving.received(saved, first, { items: [item("a", 1, 5, { remind_at: 10, reminded: true }),
    item("b", 2, 4, { remind_at: 10, reminded: true })], more: false });
  assert.deepEqual(keys(saved.items), ["b:2"]);
  assert.equal(saving.dueCount(saved), 1);
});

test("the person's own save shows at once, and a refusal takes it back with a reason", () => {
  const saved = saving.emptySaved();
  walk(saved, [{ items: [], more: false }]);
  const fields = saving.request(saved, { room: "a", msgId: 4, remindAt: 7000 });
  assert.deepEqual(fields, { room: "a", msg_id: 4, on: true, remind_at: 7000 });
  assert.equal(saving.isSaved(saved, "a", 4), true);
  assert.equal(saving.shownItems(saved)[0].remind_at, 7000);
  assert.match(saving.refused(saved, fields, { code: "too_many_saved", message: "x" }),
    /as many messages as this server keeps/);
  assert.equal(saving.isSaved(saved, "a", 4), false);
  // Saved, then removed before the answer: shown removed; the first ok leaves it so.
  const on = saving.request(saved, { room: "a", msgId: 5 });
  const off = saving.request(saved, { room: "a", msgId: 5, on: false });
  assert.equal(off.remind_at, undefined, "a removal carries no reminder");
  saving.acknowledged(saved, on, { op: "ok", ts: 900 }, msg("a", 5));
  assert.equal(saving.isSaved(saved, "a", 5), false, "the later removal is still on its way");
  saving.acknowledged(saved, off, { op: "ok" });
  assert.equal(saving.isSaved(saved, "a", 5), false);
  assert.equal(saved.pending.size, 0);
});

test("an acknowledged save keeps its item, with the time the server gives", () => {
  const saved = saving.emptySaved();
  walk(saved, [{ items: [], more: false }]);
  const fields = saving.request(saved, { room: "a", msgId: 4 });
  saving.acknowledged(saved, fields, { op: "ok", item: { ts: 1234 } }, msg("a", 4));
  assert.deepEqual(keys(saved.items), ["a:4"]);
  assert.equal(saved.items[0].ts, 1234);
  assert.equal(saving.isSaved(saved, "a", 4), true);
});

test("reminder texts count down, then say overdue", () => {
  const now = 1_000_000_000;
  const at = (ms) => saving.reminderText({ remind_at: now + ms, reminded: false }, now);
  assert.equal(at(30_000), "in less than a minute");
  assert.equal(at(20 * 60_000), "in 20 min");
  assert.equal(at(2 * HOUR), "in 2 h");
  assert.equal(at(3 * 24 * HOUR), "in 3 days");
  assert.equal(at(-1), "Due now");
  assert.equal(saving.reminderText({ remind_at: now - 1, reminded: true }, now), "Overdue");
  assert.equal(saving.reminderText({ remind_at: null, reminded: false }, now), "");
});

test("presets: minutes and hours from now", () => {
  const now = Date.UTC(2026, 4, 4, 10, 0);
  assert.equal(saving.presetTime("20m", now, "Europe/Berlin"), now + 20 * 60_000);
  assert.equal(saving.presetTime("1h", now, "Europe/Berlin"), now + HOUR);
  assert.equal(saving.presetTime("3h", now, "Europe/Berlin"), now + 3 * HOUR);
  assert.equal(saving.presetTime("nope", now, "UTC"), null);
});

test("tomorrow at 9:00 is the next calendar day of the person's zone, across a month's end", () => {
  // 31 January, 23:30 in New York (04:30 UTC on 1 February): tomorrow is 1 February there.
  const now = Date.UTC(2026, 1, 1, 4, 30);
  assert.equal(saving.presetTime("tomorrow", now, "America/New_York"), Date.UTC(2026, 1, 1, 14));
  // The same instant in Tokyo is 1 February, 13:30: tomorrow is 2 February.
  assert.equal(saving.presetTime("tomorrow", now, "Asia/Tokyo"), Date.UTC(2026, 1, 2, 0));
  // 31 December: tomorrow is in the next year.
  assert.equal(saving.presetTime("tomorrow", Date.UTC(2026, 11, 31, 12), "UTC"),
    Date.UTC(2027, 0, 1, 9));
});

test("tomorrow at 9:00 across a change of daylight saving time is 9:00 on the wall clock", () => {
  // Berlin springs forward on 29 March 2026 (02:00 → 03:00): 9:00 that day is 07:00 UTC, a
  // 23-hour day after 9:00 on the 28th (08:00 UTC).
  const evening = Date.UTC(2026, 2, 28, 20); // 21:00 in Berlin
  assert.equal(saving.presetTime("tomorrow", evening, "Europe/Berlin"), Date.UTC(2026, 2, 29, 7));
  // And back on 25 October 2026: 9:00 is 08:00 UTC again.
  assert.equal(saving.presetTime("tomorrow", Date.UTC(2026, 9, 24, 20), "Europe/Berlin"),
    Date.UTC(2026, 9, 25, 8));
  // New York on 8 March 2026 (spring forward): 9:00 EDT is 13:00 UTC.
  assert.equal(saving.presetTime("tomorrow", Date.UTC(2026, 2, 8, 3), "America/New_York"),
    Date.UTC(2026, 2, 8, 13));
});

test("next Monday at 9:00: the coming Monday, a week ahead on a Monday", () => {
  // Friday 30 January 2026, noon UTC → Monday 2 February.
  assert.equal(saving.presetTime("monday", Date.UTC(2026, 0, 30, 12), "UTC"),
    Date.UTC(2026, 1, 2, 9));
  // Monday 2 February, 8:00 → Monday 9 February (not an hour later).
  assert.equal(saving.presetTime("monday", Date.UTC(2026, 1, 2, 8), "UTC"),
    Date.UTC(2026, 1, 9, 9));
  // Sunday 29 March, in Berlin, the day the clocks change → Monday 30 March at 9:00 CEST.
  assert.equal(saving.presetTime("monday", Date.UTC(2026, 2, 29, 10), "Europe/Berlin"),
    Date.UTC(2026, 2, 30, 7));
  // Sunday 31 May in Auckland is still Saturday 30 May in UTC: the zone's day counts.
  assert.equal(saving.presetTime("monday", Date.UTC(2026, 4, 30, 13), "Pacific/Auckland"),
    Date.UTC(2026, 4, 31, 21));
});

test("a custom date-time is read on the zone's wall clock; a skipped time moves on by the change", () => {
  assert.equal(saving.parseLocal("2026-07-01T09:30", "Europe/Berlin"), Date.UTC(2026, 6, 1, 7, 30));
  assert.equal(saving.parseLocal("2026-03-29T02:30", "Europe/Berlin"), Date.UTC(2026, 2, 29, 1, 30),
    "02:30 does not exist that night: it is 03:30 CEST");
  assert.equal(saving.parseLocal("2026-10-25T02:30", "Europe/Berlin"), Date.UTC(2026, 9, 25, 0, 30),
    "02:30 happens twice that night: the first");
  assert.equal(saving.parseLocal("2026-04-31T09:00", "UTC"), null);
  assert.equal(saving.parseLocal("tomorrow", "UTC"), null);
  assert.equal(saving.localValue(Date.UTC(2026, 6, 1, 7, 30), "Europe/Berlin"), "2026-07-01T09:30");
});

test("a reminder in the past or more than a year ahead is refused before it is asked", () => {
  const now = Date.UTC(2026, 0, 1);
  assert.match(saving.reminderProblem(now - 1, now), /passed/);
  assert.match(saving.reminderProblem(now + saving.MAX_AHEAD_MS + 1, now), /year/);
  assert.match(saving.reminderProblem(null, now), /Choose/);
  assert.equal(saving.reminderProblem(now + HOUR, now), "");
});

test("malformed items and events change nothing", () => {
  const saved = saving.emptySaved();
  walk(saved, [{ items: [null, { room: 3 }, { room: "a", msg_id: "x" }, item("a", 1, 10)],
    more: false }]);
  assert.deepEqual(keys(saved.items), ["a:1"]);
  saving.savedEvent(saved, { room: "a", msg_id: 1 });
  saving.savedEvent(saved, { room: "a", on: false });
  saving.reminderEvent(saved, { msg_id: 1 });
  assert.deepEqual(keys(saved.items), ["a:1"]);
  assert.equal(saved.items[0].reminded, false);
});

// -- through the page's state (state.js) -----------------------------------------------------

const savedWelcome = (due) => ({ ...welcome([roomInfo("general", { lastSeq: 2 })]),
  reminders_due: due });
function savedPage(due = 0, items = []) {
  const state = initialState({ me: "ann" });
  connectionChanged(state, "online");
  const effects = apply(state, savedWelcome(due));
  const asked = requests(effects).find((r) => r.op === "saved_items");
  assert.ok(asked, "the welcome walks the saved messages");
  apply(state, { op: "ok", id: 3, items, more: false }, { request: asked });
  return state;
}

test("a welcome without reminders_due (a server with no saved messages) asks nothing", () => {
  const { state, effects } = connected([roomInfo("general", { lastSeq: 2 })]);
  assert.equal(requests(effects).some((r) => r.op === "saved_items"), false);
  assert.deepEqual(saveMessage(state, { room: "general", msgId: 1001, now: 0 }),
    [{ toast: "This server does not keep saved messages." }]);
});

test("the welcome's count is the header's until the list is in; a reconnect walks again", () => {
  const state = initialState({ me: "ann" });
  connectionChanged(state, "online");
  const effects = apply(state, savedWelcome(2));
  assert.equal(saving.dueCount(state.saved), 2);
  const asked = requests(effects).find((r) => r.op === "saved_items");
  assert.deepEqual(asked, { op: "saved_items", limit: saving.SAVED_PAGE });
  apply(state, { op: "ok", id: 3, items: [item("general", 1001, 10,
    { remind_at: 5, reminded: true })], more: false }, { request: asked });
  assert.equal(saving.dueCount(state.saved), 1);
  connectionChanged(state, "waiting");
  connectionChanged(state, "online");
  assert.equal(requests(apply(state, savedWelcome(1))).filter((r) => r.op === "saved_items")
    .length, 1);
});

test("saving from the menu: asked once, shown at once, refused past the limit with a toast", () => {
  const state = savedPage();
  receiveAll(state, [message("general", 1)]);
  const now = 1_000_000;
  const effects = saveMessage(state, { room: "general", msgId: 1001, remindAt: now + HOUR, now });
  assert.deepEqual(requests(effects), [{ op: "save", room: "general", msg_id: 1001, on: true,
    remind_at: now + HOUR }]);
  assert.equal(saving.isSaved(state.saved, "general", 1001), true);
  assert.deepEqual(saveMessage(state, { room: "general", msgId: 1001, remindAt: now + HOUR,
    now }), [], "as it is already: nothing asked");
  const refused = apply(state, { op: "error", id: 4, code: "too_many_saved", message: "limit" },
    { request: requests(effects)[0] });
  assert.match(refused[0].toast, /as many messages/);
  assert.equal(saving.isSaved(state.saved, "general", 1001), false);
  // A time past, or more than a year ahead: a toast, no request.
  assert.deepEqual(requests(saveMessage(state, { room: "general", msgId: 1001,
    remindAt: now - 1, now })), []);
  // Offline: not asked either.
  connectionChanged(state, "waiting");
  assert.deepEqual(requests(saveMessage(state, { room: "general", msgId: 1001, now })), []);
});

test("a saved event from another device marks the message; one for a message not held asks a page", () => {
  const state = savedPage();
  receiveAll(state, [message("general", 1)]);
  assert.deepEqual(requests(receiveAll(state, [{ op: "saved", room: "general", msg_id: 1001,
    on: true, remind_at: null, ts: 50 }])), []);
  assert.equal(saving.isSaved(state.saved, "general", 1001), true);
  assert.equal(state.saved.items[0].message.text, "m1");
  assert.deepEqual(requests(receiveAll(state, [{ op: "saved", room: "other", msg_id: 77,
    on: true, remind_at: null, ts: 60 }])), [{ op: "saved_items", limit: saving.PEEK_PAGE }]);
  receiveAll(state, [{ op: "saved", room: "general", msg_id: 1001, on: false, remind_at: null,
    ts: 70 }]);
  assert.equal(saving.isSaved(state.saved, "general", 1001), false);
});

test("a reminder alerts in the page, and on the desktop and with a sound as the settings say", () => {
  const state = savedPage(0, [item("general", 1001, 10, { remind_at: 500 })]);
  state.alerts = { desktop: true, sound: true, permission: "granted" };
  const reminder = { op: "reminder", room: "general", msg_id: 1001, remind_at: 500,
    message: message("general", 1, "bob", "call the bank") };
  const effects = receiveAll(state, [reminder], 600);
  const told = effects.find((effect) => effect.remind);
  assert.equal(told.remind.title, "Reminder: bob in #general");
  assert.equal(told.remind.body, "call the bank");
  assert.equal(told.remind.msgId, 1001);
  const alert = effects.find((effect) => effect.alert).alert;
  assert.equal(alert.desktop, true);
  assert.equal(alert.sound, true);
  assert.equal(alert.key, "reminder:general:1001:500");
  assert.equal(saving.dueCount(state.saved), 1);
  // The same reminder again (another node's copy): told once.
  assert.deepEqual(receiveAll(state, [reminder], 700), []);
});

test("while notifications are paused a reminder alerts in the page only", () => {
  const state = savedPage(0, [item("general", 1001, 10, { remind_at: 500 })]);
  state.alerts = { desktop: true, sound: true, permission: "granted" };
  state.dndUntil = 10_000;
  const effects = receiveAll(state, [{ op: "reminder", room: "general", msg_id: 1001,
    remind_at: 500, message: message("general", 1) }], 600);
  assert.equal(effects.filter((effect) => effect.remind).length, 1);
  assert.equal(effects.some((effect) => effect.alert), false);
});

test("a message shows whether it is saved (own saves at once, overdue ones so) and offers saving", () => {
  const state = savedPage(0, [item("general", 1001, 10, { remind_at: 500, reminded: true })]);
  receiveAll(state, [message("general", 1), message("general", 2)]);
  const room = state.rooms.get("general");
  const view = (seq) => shownMessage(state, room, room.messages.get(seq));
  assert.deepEqual(view(1).saved, { remindAt: 500, reminded: true });
  assert.equal(view(2).saved, null);
  assert.equal(view(2).canSave, true);
  saveMessage(state, { room: "general", msgId: 1002, remindAt: 9000, now: 0 });
  assert.deepEqual(view(2).saved, { remindAt: 9000, reminded: false });
  assert.notEqual(signature(view(2)), signature({ ...view(2), saved: null }));
  const older = connected([roomInfo("general", { lastSeq: 2 })]).state; // no reminders_due
  receiveAll(older, [message("general", 1)]);
  const there = older.rooms.get("general");
  assert.equal(shownMessage(older, there, there.messages.get(1)).canSave, false);
});

// Scheduled messages (scheduled.js, and state.js's reducers for them): the welcome's counts and
// listing, the list kept by `scheduled` events by send_at, the person's own schedules, changes
// and deletions, the presets in a time zone, and the words for a time.

import assert from "node:assert/strict";
import { test } from "node:test";

import * as scheduling from "../../clients/web/scheduled.js";
import {
  apply, cancelScheduled, editScheduledText, openScheduled, rescheduleItem, scheduleMessage,
  sendScheduledNow,
} from "../../clients/web/state.js";
import * as uploads from "../../clients/web/uploads.js";
import { connected, requests, roomInfo, welcome } from "./fixtures.mjs";

const NOW = Date.UTC(2026, 11, 7, 10, 0); // Monday 7 December 2026, 10:00 UTC
const HOUR = 3600_000;
const item = (id, sendAt, extra = {}) => ({ item: id, room: "general", text: `t${id}`,
  files: [], thread: null, broadcast: false, reply_to: null, send_at: sendAt,
  created_ts: NOW, state: "pending", error: null, ...extra });
const ids = (scheduled) => scheduled.items.map((i) => i.item);
const event = (action, raw) => ({ op: "scheduled", action, item: raw });

test("a welcome without scheduled_count means an empty list: nothing is asked", () => {
  const scheduled = scheduling.emptyScheduled();
  assert.equal(scheduling.welcomed(scheduled, welcome()), null);
  assert.equal(scheduled.complete, true);
  assert.deepEqual(scheduling.counts(scheduled), { count: 0, failed: 0 });
  assert.match(scheduling.statusText(scheduled), /Nothing scheduled/);
});

test("a welcome's counts are the badge's until the list is in, moved by the events meanwhile", () => {
  const scheduled = scheduling.emptyScheduled();
  assert.deepEqual(scheduling.welcomed(scheduled, { ...welcome(), scheduled_count: 3,
    scheduled_failed: 1 }), {}, "the list is asked for");
  assert.deepEqual(scheduling.counts(scheduled), { count: 3, failed: 1 });
  assert.equal(scheduling.statusText(scheduled), "Loading your scheduled messages…");
  scheduling.scheduledEvent(scheduled, { action: "added", item: item(9, NOW + HOUR) });
  scheduling.scheduledEvent(scheduled, { action: "sent", item: item(1, NOW) });
  scheduling.scheduledEvent(scheduled, { action: "failed", item: item(2, NOW,
    { state: "failed", error: { code: "forbidden", message: "not a member" } }) });
  assert.deepEqual(scheduling.counts(scheduled), { count: 3, failed: 2 });
  // The reply, read before those events: they win over it.
  scheduling.received(scheduled, { items: [item(1, NOW - 1), item(2, NOW + 1),
    item(3, NOW + 2, { state: "failed", error: { code: "x", message: "y" } })] });
  assert.deepEqual(ids(scheduled), [2, 3, 9]);
  assert.equal(scheduled.items[0].state, "failed");
  assert.equal(scheduled.items[0].error.code, "forbidden");
  assert.deepEqual(scheduling.counts(scheduled), { count: 3, failed: 2 });
  assert.equal(scheduling.statusText(scheduled), "3 scheduled messages, the soonest first");
});

test("events keep the list by send_at; an item sent or cancelled never comes back", () => {
  const scheduled = scheduling.emptyScheduled();
  scheduling.welcomed(scheduled, welcome());
  scheduling.scheduledEvent(scheduled, event("added", item(1, NOW + 3 * HOUR)));
  scheduling.scheduledEvent(scheduled, event("added", item(2, NOW + HOUR)));
  scheduling.scheduledEvent(scheduled, event("added", item(3, NOW + 2 * HOUR)));
  assert.deepEqual(ids(scheduled), [2, 3, 1]);
  scheduling.scheduledEvent(scheduled, event("changed", item(2, NOW + 4 * HOUR)));
  assert.deepEqual(ids(scheduled), [3, 1, 2], "re-timed: moved");
  scheduling.scheduledEvent(scheduled, event("sent", item(3, NOW + 2 * HOUR)));
  scheduling.scheduledEvent(scheduled, event("changed", item(3, NOW + 2 * HOUR)));
  scheduling.scheduledEvent(scheduled, event("cancelled", item(1, NOW)));
  scheduling.received(scheduled, { items: [item(1, NOW), item(2, NOW + 4 * HOUR)] });
  assert.deepEqual(ids(scheduled), [2], "late news of items gone changes nothing");
  assert.equal(scheduling.scheduledEvent(scheduled, { action: "bogus", item: item(5, 1) }),
    null);
  assert.equal(scheduling.scheduledEvent(scheduled, event("added", { item: "x" })), null);
  assert.deepEqual(ids(scheduled), [2]);
});

test("scheduling from the box: the request carries the reply quoted, and the reply bar closes", () => {
  const { state } = connected([roomInfo("general")]);
  state.current = "general";
  state.rooms.get("general").replyTo = 1001;
  const effects = scheduleMessage(state, { text: "later", sendAt: NOW + HOUR, now: NOW });
  assert.deepEqual(requests(effects), [{ op: "schedule", room: "general", text: "later",
    send_at: NOW + HOUR, reply_to: 1001 }]);
  assert.equal(state.rooms.get("general").replyTo, null, "the reply bar is closed");
  // The reply: the item joins the list and the line under the box tells it.
  apply(state, { op: "ok", id: 2, item: item(7, NOW + HOUR) },
    { request: requests(effects)[0], now: NOW });
  assert.equal(scheduling.lastFor(state.scheduled, "general").item, 7);
  assert.equal(scheduling.lastFor(state.scheduled, "general", 5), null, "not a thread's");
  apply(state, event("added", item(7, NOW + HOUR)), { now: NOW });
  assert.deepEqual(ids(state.scheduled), [7], "its event adds nothing more");
  apply(state, { ...event("sent", item(7, NOW + HOUR)), msg: { room: "general", seq: 1,
    msg_id: 1, ts: NOW } }, { now: NOW });
  assert.equal(scheduling.lastFor(state.scheduled, "general"), null, "sent: the line goes");
});

test("a time passed or over a year ahead is refused before asking", () => {
  const { state } = connected([roomInfo("general")]);
  state.current = "general";
  assert.deepEqual(scheduleMessage(state, { text: "x", sendAt: NOW - 1, now: NOW }),
    [{ toast: "That time has passed: choose a later one." }]);
  assert.deepEqual(scheduleMessage(state, { text: "x", sendAt: NOW + 367 * 24 * HOUR,
    now: NOW }), [{ toast: "A message can be scheduled at most a year ahead." }]);
});

test("a refused schedule puts its text back in an empty box and says why", () => {
  const { state } = connected([roomInfo("general")]);
  state.current = "general";
  const [asked] = requests(scheduleMessage(state, { text: "hello", sendAt: NOW + HOUR,
    now: NOW }));
  const effects = apply(state, { op: "error", id: 2, code: "too_many_scheduled",
    message: "limit" }, { request: asked, now: NOW });
  assert.equal(state.drafts.get("general"), "hello");
  assert.equal(state.scheduled.restored, 1);
  assert.match(effects[0].toast, /as many scheduled messages.*back in the box/);
});

test("a thread's box schedules a reply of its thread (also to the room when ticked)", () => {
  const { state } = connected([roomInfo("general")]);
  state.threadPanel.room = "general";
  state.threadPanel.root = { msg_id: 1005, seq: 5, deleted: false };
  state.threadPanel.also = true;
  const effects = scheduleMessage(state, { text: "in thread", sendAt: NOW + HOUR, thread: true,
    now: NOW });
  assert.deepEqual(requests(effects), [{ op: "schedule", room: "general", text: "in thread",
    send_at: NOW + HOUR, thread: 1005, broadcast: true }]);
  assert.equal(state.threadPanel.also, false);
});

const file = (id) => ({ id, name: `f${id}.txt`, size: 3, content_type: "text/plain" });

test("a thread's box schedules its files with the reply, and a refusal puts text and files back", () => {
  const { state } = connected([roomInfo("general")]);
  state.threadPanel.room = "general";
  state.threadPanel.rootId = 1005;
  state.threadPanel.root = { msg_id: 1005, seq: 5, deleted: false };
  state.uploads = [uploads.restored("general#1005", file(32)),
    uploads.restored("general#1005", file(31)), uploads.restored("general", file(40))];
  const [asked] = requests(scheduleMessage(state, { text: "with files", sendAt: NOW + HOUR,
    thread: true, now: NOW }));
  assert.deepEqual(asked, { op: "schedule", room: "general", text: "with files",
    files: [31, 32], send_at: NOW + HOUR, thread: 1005 });
  assert.deepEqual(state.uploads.map((u) => u.file.id), [40], "the thread box's are taken");
  const effects = apply(state, { op: "error", id: 2, code: "not_found", message: "gone" },
    { request: asked, now: NOW });
  assert.equal(state.drafts.get("general#1005"), "with files");
  assert.deepEqual(uploads.inRoom(state.uploads, "general#1005").map((u) => [u.file.id, u.status]),
    [[31, "done"], [32, "done"]], "its files are back in the thread's box, ready");
  assert.match(effects[0].toast, /The text and its files are back in the box\.$/);
  assert.equal(state.scheduled.files.size, 0, "nothing kept after the reply");
  // Files alone (no text) may be scheduled from the thread's box too; taken, they are not
  // given back by a success.
  const [alone] = requests(scheduleMessage(state, { text: "", sendAt: NOW + HOUR, thread: true,
    now: NOW }));
  assert.deepEqual(alone.files, [31, 32]);
  apply(state, { op: "ok", id: 3, item: item(8, NOW + HOUR, { thread: 1005 }) },
    { request: alone, now: NOW });
  assert.deepEqual(uploads.inRoom(state.uploads, "general#1005"), []);
  assert.equal(state.scheduled.files.size, 0);
});

test("a refused schedule from the room's box puts its files back, even when the box has text", () => {
  const { state } = connected([roomInfo("general")]);
  state.current = "general";
  state.uploads = [uploads.restored("general", file(50))];
  const [asked] = requests(scheduleMessage(state, { text: "see file", sendAt: NOW + HOUR,
    now: NOW }));
  assert.deepEqual(asked.files, [50]);
  state.drafts.set("general", "typed since");
  const effects = apply(state, { op: "error", id: 2, code: "too_many_scheduled",
    message: "limit" }, { request: asked, now: NOW });
  assert.equal(state.drafts.get("general"), "typed since", "the text typed since stays");
  assert.deepEqual(uploads.inRoom(state.uploads, "general").map((u) => u.file.id), [50]);
  assert.match(effects[0].toast, /Its file is back in the box\.$/);
});

test("send now, reschedule and delete ask the server; a deletion hides the item at once", () => {
  const { state } = connected([roomInfo("general")]);
  apply(state, event("added", item(4, NOW + HOUR)), { now: NOW });
  apply(state, event("failed", item(5, NOW + 2 * HOUR, { state: "failed",
    error: { code: "forbidden", message: "You are not a member" } })), { now: NOW });
  assert.deepEqual(scheduling.counts(state.scheduled), { count: 2, failed: 1 });
  assert.deepEqual(requests(sendScheduledNow(state, 4)), [{ op: "edit_scheduled", item: 4,
    send_at: 0 }]);
  const [again] = requests(rescheduleItem(state, 5, NOW + 3 * HOUR, NOW));
  assert.deepEqual(again, { op: "edit_scheduled", item: 5, send_at: NOW + 3 * HOUR });
  apply(state, { op: "ok", id: 3, item: item(5, NOW + 3 * HOUR) }, { request: again, now: NOW });
  assert.deepEqual(scheduling.counts(state.scheduled), { count: 2, failed: 0 }, "waits again");
  const [cancel] = requests(cancelScheduled(state, 5));
  assert.deepEqual(cancel, { op: "cancel_scheduled", item: 5 });
  assert.deepEqual(scheduling.shownItems(state.scheduled).map((i) => i.item), [4]);
  const told = apply(state, { op: "error", id: 4, code: "internal", message: "oops" },
    { request: cancel, now: NOW });
  assert.match(told[0].toast, /not deleted: oops/);
  assert.deepEqual(scheduling.shownItems(state.scheduled).map((i) => i.item), [4, 5],
    "refused: shown again");
  assert.deepEqual(requests(cancelScheduled(state, 99)), [], "not an item of the list");
});

test("the editor changes the text, and the time too when one is typed (as /remind)", () => {
  const { state } = connected([roomInfo("general")]);
  apply(state, event("added", item(4, NOW + HOUR)), { now: NOW });
  assert.deepEqual(requests(editScheduledText(state, 4, "new words")),
    [{ op: "edit_scheduled", item: 4, text: "new words" }], "no time: the text alone");
  const zone = "Europe/Paris"; // 11:00 there at NOW
  const { at } = scheduling.editedTime("tomorrow 17:30", NOW, zone);
  assert.equal(at, Date.UTC(2026, 11, 8, 16, 30), "17:30 in Paris, the next day");
  assert.deepEqual(requests(editScheduledText(state, 4, "new words", { sendAt: at, now: NOW })),
    [{ op: "edit_scheduled", item: 4, text: "new words", send_at: at }], "one request, both");
  assert.deepEqual(scheduling.editedTime("in 2h", NOW, zone), { at: NOW + 2 * HOUR });
  assert.deepEqual(scheduling.editedTime("  ", NOW, zone), { at: null }, "blank: the time stays");
  assert.match(scheduling.editedTime("someday", NOW, zone).problem, /^A time is in 20m/);
  assert.deepEqual(scheduling.editedTime("in 400d", NOW, zone),
    { problem: "A message can be scheduled at most a year ahead." });
  assert.deepEqual(editScheduledText(state, 4, "x", { sendAt: NOW - 1, now: NOW }),
    [{ toast: "That time has passed: choose a later one." }], "a time passed is not asked");
});

test("a failed event tells the person where and why", () => {
  const { state } = connected([roomInfo("general")]);
  const effects = apply(state, event("failed", item(5, NOW, { state: "failed",
    error: { code: "forbidden", message: "You are not a member of #general" } })), { now: NOW });
  assert.match(effects[0].toast, /to #general could not be sent: You are not a member/);
});

test("the welcome asks for the list only when it says there are some; the panel asks again", () => {
  const { state, effects } = connected([roomInfo("general")]);
  assert.equal(requests(effects).some((r) => r.op === "scheduled_items"), false);
  const more = apply(state, { ...welcome([roomInfo("general")]), scheduled_count: 2 },
    { now: NOW });
  assert.deepEqual(requests(more).filter((r) => r.op === "scheduled_items"),
    [{ op: "scheduled_items" }]);
  assert.deepEqual(requests(openScheduled(state)), [], "one on its way already");
  apply(state, { op: "ok", id: 5, items: [item(1, NOW)] },
    { request: { op: "scheduled_items" }, now: NOW });
  assert.deepEqual(requests(openScheduled(state)), [{ op: "scheduled_items" }]);
  // A server that does not schedule messages: the button goes.
  apply(state, { op: "error", id: 6, code: "unknown_op", message: "?" },
    { request: { op: "scheduled_items" }, now: NOW });
  assert.equal(state.scheduled.supported, false);
});

test("the presets are the saved messages' mornings, in the person's time zone", () => {
  // Monday 10:00 in Berlin (11:00 there): tomorrow 9:00 and next Monday 9:00, Berlin time.
  assert.equal(scheduling.presetAt("tomorrow", NOW, "Europe/Berlin"),
    Date.UTC(2026, 11, 8, 8, 0));
  assert.equal(scheduling.presetAt("monday", NOW, "Europe/Berlin"),
    Date.UTC(2026, 11, 14, 8, 0));
  assert.equal(scheduling.presetAt("tomorrow", NOW, "America/New_York"),
    Date.UTC(2026, 11, 8, 14, 0));
  assert.equal(scheduling.customAt("2026-12-08", "09:30", "Asia/Tokyo"),
    Date.UTC(2026, 11, 8, 0, 30));
  assert.equal(scheduling.customAt("2026-02-30", "09:30", "UTC"), null);
  assert.equal(scheduling.customAt("", "", "UTC"), null);
});

test("a time in words: today, tomorrow, a weekday within a week, a date after", () => {
  const zone = "Europe/Berlin";
  assert.equal(scheduling.whenText(Date.UTC(2026, 11, 7, 13, 5), NOW, zone), "today at 14:05");
  assert.equal(scheduling.whenText(Date.UTC(2026, 11, 8, 8, 0), NOW, zone), "tomorrow at 9:00");
  assert.equal(scheduling.whenText(Date.UTC(2026, 11, 10, 8, 0), NOW, zone), "Thu 9:00");
  assert.equal(scheduling.whenText(Date.UTC(2026, 11, 14, 8, 0), NOW, zone), "Mon 14 Dec 9:00");
  assert.equal(scheduling.whenText(Date.UTC(2027, 0, 4, 8, 0), NOW, zone), "4 Jan 2027 9:00");
  // 23:30 UTC is already tomorrow in Berlin.
  assert.equal(scheduling.whenText(Date.UTC(2026, 11, 7, 23, 30), NOW, zone),
    "tomorrow at 0:30");
});

test("after a reconnect's welcome, what the page held before does not count: the events move the welcome's counts", () => {
  const scheduled = scheduling.emptyScheduled();
  scheduling.welcomed(scheduled, welcome());
  scheduling.scheduledEvent(scheduled, event("added", item(1, NOW)));
  scheduling.stopped(scheduled);
  // Away, item 1 failed; the welcome says so, and then its text is changed (still failed).
  scheduling.welcomed(scheduled, { ...welcome(), scheduled_count: 1, scheduled_failed: 1 });
  scheduling.scheduledEvent(scheduled, event("changed", item(1, NOW, { text: "new",
    state: "failed", error: { code: "forbidden", message: "no" } })));
  assert.deepEqual(scheduling.counts(scheduled), { count: 1, failed: 1 });
});

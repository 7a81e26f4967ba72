// A reminder of anything (reminders.js): the `remind` request built from the "New reminder"
// dialog's fields, its nonce kept for the same note and fresh for another, the same request
// sent again after a lost connection, and the words for a refusal.

import assert from "node:assert/strict";
import { test } from "node:test";

import * as reminders from "../../clients/web/reminders.js";
import * as saving from "../../clients/web/saved.js";
import { apply, connectionChanged, initialState } from "../../clients/web/state.js";
import { message, receiveAll, requests, roomInfo, welcome } from "./fixtures.mjs";

const NOW = Date.UTC(2026, 11, 7, 10, 0); // Monday 7 December 2026, 10:00 UTC
const MINUTE = 60_000;
const HOUR = 3600_000;

/** A nonce source: "n1", "n2", … and how many it gave. */
function nonces() {
  let count = 0;
  const fresh = () => `n${++count}`;
  return { fresh, given: () => count };
}

test("the request carries the text, the preset's time and a fresh nonce", () => {
  const { fresh } = nonces();
  const made = reminders.reminderRequest(reminders.newReminder(),
    { text: "  call the bank  ", when: "1h", now: NOW, timeZone: "UTC", fresh });
  assert.deepEqual(made, { fields: { text: "call the bank", remind_at: NOW + HOUR,
    nonce: "n1" } });
  const tomorrow = reminders.reminderRequest(reminders.newReminder(),
    { text: "x", when: "tomorrow", now: NOW, timeZone: "Europe/Berlin", fresh });
  assert.equal(tomorrow.fields.remind_at, saving.presetTime("tomorrow", NOW, "Europe/Berlin"));
  assert.equal(tomorrow.fields.remind_at, Date.UTC(2026, 11, 8, 8, 0)); // 9:00 in Berlin
});

test("a custom date and time is read in the person's time zone", () => {
  const { fresh } = nonces();
  const made = reminders.reminderRequest(reminders.newReminder(), { text: "dentist",
    when: reminders.CUSTOM, custom: "2026-12-09T14:30", now: NOW, timeZone: "Europe/Berlin",
    fresh });
  assert.equal(made.fields.remind_at, Date.UTC(2026, 11, 9, 13, 30));
});

test("what cannot be sent says why and sends nothing", () => {
  const { fresh, given } = nonces();
  const ask = (fields) => reminders.reminderRequest(reminders.newReminder(),
    { when: "20m", now: NOW, timeZone: "UTC", fresh, ...fields });
  assert.deepEqual(ask({ text: "   " }), { problem: "Write what to be reminded of." });
  assert.match(ask({ text: "x".repeat(4001) }).problem, /at most 4000 characters: .* 1 too many/);
  assert.match(ask({ text: "x".repeat(11), max: 10 }).problem, /at most 10 characters/);
  assert.ok(ask({ text: "👍".repeat(4000) }).fields, "counted in code points, as the server");
  assert.match(ask({ text: "x", when: reminders.CUSTOM, custom: "" }).problem,
    /Choose a day and a time/);
  assert.match(ask({ text: "x", when: reminders.CUSTOM, custom: "2026-12-07T09:59" }).problem,
    /passed/);
  assert.match(ask({ text: "x", when: reminders.CUSTOM, custom: "2028-01-01T09:00" }).problem,
    /a year ahead/);
  assert.match(ask({ text: "x", when: "someday" }).problem, /Choose a day and a time/);
  assert.equal(given(), 1, "a nonce only for the request that went");
});

test("the same note again keeps its nonce; another text takes a fresh one", () => {
  const { fresh } = nonces();
  const reminder = reminders.newReminder();
  const at = (text, when = "20m") => reminders.reminderRequest(reminder,
    { text, when, now: NOW, timeZone: "UTC", fresh }).fields;
  assert.equal(at("call the bank").nonce, "n1");
  // Refused (too many saved: the note was written): pressed again, the same note.
  assert.equal(at("call the bank", "3h").nonce, "n1");
  assert.equal(at("call the bank", "3h").remind_at, NOW + 3 * HOUR);
  assert.equal(at("call the bank today").nonce, "n2");
  assert.equal(at("call the bank").nonce, "n3", "the last one sent is the one remembered");
  // Another dialog: another note, even with the same text.
  assert.equal(reminders.reminderRequest(reminders.newReminder(),
    { text: "call the bank", when: "20m", now: NOW, timeZone: "UTC", fresh }).fields.nonce, "n4");
});

test("a lost connection sends the same request again once back online", async () => {
  const fields = { text: "call the bank", remind_at: NOW + 20 * MINUTE, nonce: "n1" };
  const sent = [];
  const replies = [
    () => Promise.reject(Object.assign(new Error("connection closed"), { code: "disconnected" })),
    () => Promise.reject(Object.assign(new Error("stopping"), { code: "shutting_down" })),
    () => Promise.resolve({ op: "ok", room: "@ann:ann", seq: 3, msg_id: 9, unchanged: true }),
  ];
  let waits = 0;
  const reply = await reminders.sendReminder(fields, {
    ask: (op, asked) => {
      sent.push({ op, ...asked });
      return replies[sent.length - 1]();
    },
    backOnline: async () => {
      waits += 1;
      return true;
    },
  });
  assert.equal(reply.msg_id, 9);
  assert.equal(waits, 2, "each resend waited for the connection");
  assert.deepEqual(sent, Array(3).fill({ op: "remind", ...fields }), "the same nonce each time");
});

test("a refusal is not sent again; giving up while offline stops", async () => {
  const fields = { text: "x", remind_at: NOW + HOUR, nonce: "n1" };
  let sent = 0;
  const refused = Object.assign(new Error("too many"), { code: "too_many_saved" });
  await assert.rejects(reminders.sendReminder(fields, {
    ask: () => {
      sent += 1;
      return Promise.reject(refused);
    },
    backOnline: async () => assert.fail("a refusal is not waited on"),
  }), refused);
  assert.equal(sent, 1);
  sent = 0;
  await assert.rejects(reminders.sendReminder(fields, {
    ask: () => {
      sent += 1;
      return Promise.reject(Object.assign(new Error("closed"), { code: "disconnected" }));
    },
    backOnline: async () => false,
  }), { code: "abandoned" });
  assert.equal(sent, 1);
});

test("the words for a refusal", () => {
  assert.match(reminders.refusal({ code: "too_many_saved", message: "1000" }),
    /too many saved messages.*notes to self/);
  assert.match(reminders.refusal({ code: "rate_limited", message: "slow down" }), /wait a moment/);
  assert.equal(reminders.refusal({ code: "bad_request", message: "'remind_at' has passed" }),
    "The reminder was refused: 'remind_at' has passed");
  assert.equal(reminders.refusal({ code: "internal", message: "" }),
    "The reminder could not be set.");
});

test("the empty Saved list points to New reminder too", () => {
  const saved = saving.emptySaved();
  saving.received(saved, saving.begin(saved), { items: [], more: false });
  assert.match(saving.statusText(saved), /^Nothing saved yet\..*New reminder/);
});

test("a reminder of a note to self says the note, not who wrote it where", () => {
  assert.ok(reminders.isNoteToSelf("@ann:ann", "ann"));
  assert.ok(reminders.isNoteToSelf("@ann:ann", "Ann"), "names are the same whatever the case");
  assert.ok(!reminders.isNoteToSelf("@ann:bob", "ann"));
  assert.ok(!reminders.isNoteToSelf("general", "ann"));
  const state = initialState({ me: "ann" });
  connectionChanged(state, "online");
  const asked = requests(apply(state, { ...welcome([roomInfo("general", { lastSeq: 2 })]),
    reminders_due: 0 })).find((r) => r.op === "saved_items");
  apply(state, { op: "ok", id: 3, items: [], more: false }, { request: asked });
  const note = message("@ann:ann", 1, "ann", "call the bank");
  const told = (room, from) => receiveAll(state, [{ op: "reminder", room, msg_id: 1001,
    remind_at: NOW, message: { ...note, room, from } }], NOW).find((e) => e.remind).remind;
  const mine = told("@ann:ann", "ann");
  assert.deepEqual([mine.title, mine.body], ["Reminder", "call the bank"]);
  assert.equal(told("general", "bob").title, "Reminder: bob in #general");
});

test("reminders set for others: the list checked, each line, a refusal naming whom", () => {
  const note = { op: "message", room: "@ann:bob", seq: 1, msg_id: 70, from: "ann",
    text: "send the report", ts: NOW, nonce: "n" };
  const items = reminders.setItemsOf({ items: [
    { user: "Bob", room: "@ann:bob", msg_id: 70, remind_at: NOW + 20 * MINUTE, reminded: false,
      message: note },
    { user: "cid", room: "@ann:cid", msg_id: 71, remind_at: NOW - MINUTE, reminded: true,
      message: { ...note, msg_id: 71, text: "call" } },
    { room: "x", msg_id: 72 }, null], more: false });
  assert.deepEqual(items.map((i) => i.user), ["Bob", "cid"]);
  assert.equal(reminders.setLine(items[0], NOW), "for Bob: send the report · in 20 min");
  assert.equal(reminders.setLine(items[1], NOW), "for cid: call · reminded");
  assert.deepEqual(reminders.withoutItem(items, "BOB", 70).map((i) => i.user), ["cid"]);
  assert.deepEqual(reminders.withoutItem(items, "bob", 71).length, 2);
  assert.deepEqual(reminders.setItemsOf(null), []);
  assert.match(reminders.refusal({ code: "forbidden" }, "bob"), /^bob cannot be reminded by you/);
  assert.equal(reminders.refusal({ code: "not_found" }, "zed"), "There is no user zed.");
  assert.doesNotMatch(reminders.refusal({ code: "forbidden", message: "x" }), /cannot be reminded/);
});

// The saved messages end exact whatever the order things reach the page in: a model server
// keeps one person's saved messages (saves, re-timed reminders, removals, reminders coming due,
// each a commit with its event), and the page walks the list a page at a time while the events
// come, each page read at any moment and its reply delivered anywhere among the events (before
// some it already reflects, after others it does not), with reconnects that lose the events
// in flight and walk again. Once everything is delivered, the list and the overdue count are
// the server's.
//
// No dependency: the seeded generator of fixtures.mjs makes the same cases on every run (the
// seed of a failing case is in the failure message).

import assert from "node:assert/strict";
import { test } from "node:test";

import * as saving from "../../clients/web/saved.js";
import { generator } from "./fixtures.mjs";

const ROUNDS = 400;
const KEYS = [["general", 1], ["general", 2], ["general", 3], ["random", 4], ["random", 5],
  ["@ann:bob", 6], ["@ann:bob", 7]];
const PAGE = 2; // the model server's page: smaller than the page asks, as a server may give

/** One person's saved messages on the server, as docs/protocol.md tells them. */
class ModelServer {
  constructor() {
    this.items = new Map(); // key -> {room, msg_id, ts, remind_at, reminded}
    this.clock = 100; // each save is at a distinct ts
    this.at = 1000; // reminder times
  }

  /** A random commit; returns the events it sends (none when it changes nothing). */
  step(random) {
    const [room, msgId] = random.pick(KEYS);
    const key = saving.keyOf(room, msgId);
    const held = this.items.get(key);
    const choice = random(5);
    if (choice === 0 && held) {
      this.items.delete(key);
      return [{ op: "saved", room, msg_id: msgId, on: false, remind_at: null,
        ts: held.ts }];
    }
    if (choice === 1 && held && held.remind_at !== null && !held.reminded) {
      held.reminded = true;
      return [{ op: "reminder", room, msg_id: msgId, remind_at: held.remind_at,
        message: messageOf(room, msgId) }];
    }
    const remindAt = random(3) === 0 ? null : (this.at += 10);
    if (held && held.remind_at === remindAt) return []; // unchanged: no event
    const item = held || { room, msg_id: msgId, ts: (this.clock += 1), remind_at: null,
      reminded: false };
    item.remind_at = remindAt;
    item.reminded = false; // a new reminder clears it
    this.items.set(key, item);
    return [{ op: "saved", room, msg_id: msgId, on: true, remind_at: remindAt, ts: item.ts }];
  }

  /** The reply to `saved_items` read now. */
  page(asked) {
    const sorted = [...this.items.values()].sort((a, b) => b.ts - a.ts)
      .filter((item) => asked.before === undefined || item.ts < asked.before);
    return { op: "ok", items: sorted.slice(0, PAGE).map((item) => ({ ...item,
      message: messageOf(item.room, item.msg_id) })), more: sorted.length > PAGE };
  }

  due() {
    return [...this.items.values()].filter((item) => item.reminded).length;
  }

  list() {
    return [...this.items.values()].sort((a, b) => b.ts - a.ts)
      .map((item) => ({ ...item }));
  }
}

function messageOf(room, msgId) {
  return { room, seq: msgId, msg_id: msgId, from: "bob", text: `m${msgId}`, ts: msgId };
}

function listed(saved) {
  return saved.items.map(({ room, msg_id: msgId, ts, remind_at: remindAt, reminded }) => ({
    room, msg_id: msgId, ts, remind_at: remindAt, reminded }));
}

test("pages read at any moment, mixed with the events in any order, end as the server's list", () => {
  for (let seed = 1; seed <= ROUNDS; seed += 1) {
    const random = generator(seed * 31337);
    const model = new ModelServer();
    for (let i = random(8); i > 0; i -= 1) model.step(random); // before the page came
    const saved = saving.emptySaved();
    let asked = saving.begin(saved, model.due());
    let reply = null; // a page read, not delivered yet
    const events = []; // sent, not delivered yet (in order)
    let commits = random(25);
    for (let guard = 0; guard < 1000; guard += 1) {
      const moves = [];
      if (commits > 0) moves.push("commit");
      if (asked && !reply) moves.push("read");
      if (reply || events.length) moves.push("deliver", "deliver");
      if (commits > 0 && random(8) === 0) moves.push("reconnect");
      if (!moves.length) break;
      const move = random.pick(moves);
      if (move === "commit") {
        commits -= 1;
        events.push(...model.step(random));
      } else if (move === "read") {
        reply = { asked, frame: model.page(asked) };
      } else if (move === "reconnect") {
        events.length = 0; // lost with the connection
        reply = null;
        saving.stopped(saved);
        asked = saving.begin(saved, model.due()); // the next welcome's walk
      } else if (reply && (!events.length || random(2) === 0)) {
        asked = saving.received(saved, reply.asked, reply.frame);
        reply = null;
      } else {
        const event = events.shift();
        const lacks = event.op === "saved" ? saving.savedEvent(saved, event)
          : saving.reminderEvent(saved, event);
        // A message not held: the first page again (state.js peekSaved).
        if (lacks) asked = saving.peek(saved) || asked;
      }
    }
    const why = `seed ${seed}`;
    assert.equal(saved.complete, true, why);
    assert.deepEqual(listed(saved), model.list(), why);
    assert.equal(saving.dueCount(saved), model.due(), why);
    for (const item of saved.items) assert.ok(item.message, `${why}: a message for each`);
  }
});

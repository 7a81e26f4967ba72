// The scheduled messages end exact whatever the order things reach the page in: a model server
// keeps one person's scheduled messages (added, edited, re-timed, failed, sent, cancelled, each
// a commit with its `scheduled` event), and the page asks for the list (after a welcome that
// counted some, or when the panel opens) while the events come, the list read at any moment
// and its reply delivered anywhere among the events (before some it already reflects, after
// others it does not), with reconnects that lose the events in flight and start again from a
// welcome's counts. Once everything is delivered, the list (by send_at) and the badge's counts
// are the server's; and before the list is in, the count moved by the events is the server's
// too.
//
// No dependency: the seeded generator of fixtures.mjs makes the same cases on every run (the
// seed of a failing case is in the failure message).

import assert from "node:assert/strict";
import { test } from "node:test";

import * as scheduling from "../../clients/web/scheduled.js";
import { generator } from "./fixtures.mjs";

const ROUNDS = 500;

/** One person's scheduled messages on the server, as docs/protocol.md tells them. */
class ModelServer {
  constructor() {
    this.items = new Map(); // id -> ITEM
    this.next = 1;
  }

  /** A random commit; returns the events it sends. */
  step(random) {
    const held = [...this.items.values()];
    const choice = random(6);
    if (choice === 0 || !held.length) {
      const item = { item: this.next, room: "general", text: `t${this.next}`, files: [],
        thread: null, broadcast: false, reply_to: null, send_at: 1000 + random(50),
        created_ts: 1, state: "pending", error: null };
      this.next += 1;
      this.items.set(item.item, item);
      return [{ op: "scheduled", action: "added", item: { ...item } }];
    }
    const item = random.pick(held);
    if (choice === 1) {
      this.items.delete(item.item);
      return [{ op: "scheduled", action: "cancelled", item: { ...item } }];
    }
    if (choice === 2 && item.state === "pending") {
      this.items.delete(item.item);
      return [{ op: "scheduled", action: "sent", item: { ...item },
        msg: { room: item.room, seq: item.item, msg_id: item.item, ts: item.send_at } }];
    }
    if (choice === 3 && item.state === "pending") {
      item.state = "failed";
      item.error = { code: "forbidden", message: "no" };
      return [{ op: "scheduled", action: "failed", item: { ...item } }];
    }
    if (choice === 4) {
      item.send_at = 1000 + random(50); // a failed item waits again
      item.state = "pending";
      item.error = null;
    } else {
      item.text = `${item.text}!`;
    }
    return [{ op: "scheduled", action: "changed", item: { ...item } }];
  }

  list() {
    return [...this.items.values()].sort((a, b) => (a.send_at - b.send_at) || (a.item - b.item))
      .map((item) => ({ ...item }));
  }

  welcome() {
    const failed = [...this.items.values()].filter((item) => item.state === "failed").length;
    const frame = { op: "welcome" };
    if (this.items.size) frame.scheduled_count = this.items.size;
    if (failed) frame.scheduled_failed = failed;
    return frame;
  }

  counts() {
    return { count: this.items.size,
      failed: [...this.items.values()].filter((item) => item.state === "failed").length };
  }
}

const shown = (scheduled) => scheduled.items.map((item) => ({ ...item }));

test("a listing read at any moment, mixed with the events, ends as the server's list and counts", () => {
  let checked = 0; // the counts checked before a list was in
  for (let seed = 1; seed <= ROUNDS; seed += 1) {
    const random = generator(seed * 7919);
    const why = `seed ${seed}`;
    const model = new ModelServer();
    for (let i = random(6); i > 0; i -= 1) model.step(random);
    const scheduled = scheduling.emptyScheduled();
    let asked = scheduling.welcomed(scheduled, model.welcome()) !== null;
    let reply = null; // a list read, not delivered yet
    const events = []; // sent, not delivered yet (in order)
    let commits = random(30);
    for (let guard = 0; guard < 1000; guard += 1) {
      const moves = [];
      if (commits > 0) moves.push("commit");
      if (asked && !reply) moves.push("read");
      if (reply || events.length) moves.push("deliver", "deliver");
      if (commits > 0 && random(8) === 0) moves.push("reconnect");
      if (commits > 0 && !asked && random(4) === 0) moves.push("open");
      if (!moves.length) break;
      const move = random.pick(moves);
      if (move === "commit") {
        commits -= 1;
        events.push(...model.step(random));
      } else if (move === "read") {
        reply = { op: "ok", items: model.list() };
      } else if (move === "open") {
        asked = scheduling.begin(scheduled) !== null; // the panel opened
      } else if (move === "reconnect") {
        events.length = 0; // lost with the connection
        reply = null;
        scheduling.stopped(scheduled);
        asked = scheduling.welcomed(scheduled, model.welcome()) !== null;
      } else if (reply && (!events.length || random(2) === 0)) {
        scheduling.received(scheduled, reply);
        reply = null;
        asked = false;
      } else {
        scheduling.scheduledEvent(scheduled, events.shift());
        if (!scheduled.complete && !events.length) {
          checked += 1;
          // (The failed count may be off then: a failed item the page never held, re-timed,
          // may have been failed or not; the list says.)
          assert.equal(scheduling.counts(scheduled).count, model.counts().count,
            `${why}: the welcome's count, moved by the events`);
        }
      }
    }
    assert.equal(scheduled.complete, true, why);
    assert.deepEqual(shown(scheduled), model.list(), why);
    assert.deepEqual(scheduling.counts(scheduled), model.counts(), why);
  }
  assert.ok(checked > 100, `the counts before a list came were checked (${checked} times)`);
});

// The user groups' list ends exact whatever the order things reach the page in: a model server
// keeps the groups (created, changed: a description, members added and removed, the person
// among them or not; deleted and created again), each change a `user_group` event, and the page
// asks for the list (after a welcome) while the events come, the list read at any moment after
// the request and its reply delivered anywhere among the events (before some it already
// reflects, after others it does not), with reconnects that lose the events in flight and ask
// again. Once everything is delivered, the list (names, descriptions, counts, `you`) is the
// server's. And events delivered out of order (by their `ts`) to a loaded list end as the
// newest of each group says.
//
// No dependency: the seeded generator of fixtures.mjs makes the same cases on every run (the
// seed of a failing case is in the failure message).

import assert from "node:assert/strict";
import { test } from "node:test";

import * as ug from "../../clients/web/usergroups.js";
import { generator } from "./fixtures.mjs";

const ROUNDS = 500;
const ME = "Bob";
const USERS = ["ann", "Bob", "carol", "dave"];
const NAMES = ["backend", "ops", "web"];

/** The server's groups, as docs/protocol.md tells them. */
class ModelServer {
  constructor() {
    this.groups = new Map(); // name -> {name, description, members: Set, by, ts}
    this.clock = 1000;
  }

  object(group) {
    return { name: group.name, description: group.description, members: group.members.size,
      by: group.by, ts: group.ts };
  }

  /** A random change; returns its event. */
  step(random) {
    this.clock += random(3); // (two changes in one ms happen too)
    const name = random.pick(NAMES);
    const held = this.groups.get(name);
    const some = () => USERS.filter(() => random(2) === 0);
    const event = (change, group, added, removed) => ({ op: "user_group", change,
      group: this.object(group), added, removed, by: "ann", ts: this.clock });
    if (!held) {
      const members = some();
      const group = { name, description: `d${this.clock}`, members: new Set(members),
        by: "ann", ts: this.clock };
      this.groups.set(name, group);
      return event("created", group, members, []);
    }
    if (random(5) === 0) {
      this.groups.delete(name);
      return event("deleted", held, [], []);
    }
    const added = some().filter((u) => !held.members.has(u));
    const removed = some().filter((u) => held.members.has(u) && !added.includes(u));
    for (const u of added) held.members.add(u);
    for (const u of removed) held.members.delete(u);
    if (random(2) === 0) held.description = `d${this.clock}`;
    return event("changed", held, added, removed);
  }

  list() {
    return [...this.groups.values()].sort((a, b) => (a.name < b.name ? -1 : 1))
      .map((group) => ({ ...this.object(group), you: group.members.has(ME) }));
  }
}

const shown = (groups) => ug.sortedGroups(groups).map((g) => ({ ...g }));

test("a listing read at any moment, mixed with the events, ends as the server's list", () => {
  let crossed = 0; // replies delivered with events of before them still to come
  for (let seed = 1; seed <= ROUNDS; seed += 1) {
    const random = generator(seed * 7919);
    const why = `seed ${seed}`;
    const model = new ModelServer();
    for (let i = random(8); i > 0; i -= 1) model.step(random);
    const groups = ug.emptyGroups();
    ug.begin(groups); // the welcome's request
    let asked = true;
    let reply = null; // a list read, not delivered yet
    const events = []; // sent, not delivered yet (in order)
    let commits = random(30);
    for (let guard = 0; guard < 1000; guard += 1) {
      const moves = [];
      if (commits > 0) moves.push("commit");
      if (asked && !reply) moves.push("read");
      if (reply || events.length) moves.push("deliver", "deliver");
      if (commits > 0 && random(10) === 0) moves.push("reconnect");
      if (!moves.length) break;
      const move = random.pick(moves);
      if (move === "commit") {
        commits -= 1;
        events.push(model.step(random));
      } else if (move === "read") {
        reply = { op: "ok", groups: model.list(), at: events.length };
      } else if (move === "reconnect") {
        events.length = 0; // lost with the connection
        reply = null;
        ug.stopped(groups);
        ug.begin(groups);
        asked = true;
      } else if (reply && (!events.length || random(2) === 0)) {
        if (reply.at > 0) crossed += 1;
        ug.received(groups, reply, ME);
        reply = null;
        asked = false;
      } else {
        ug.changed(groups, events.shift(), ME);
        if (reply) reply.at -= 1;
      }
    }
    assert.equal(groups.loaded, true, why);
    assert.deepEqual(shown(groups), model.list(), why);
  }
  assert.ok(crossed > 100, `replies crossed events of before them (${crossed} times)`);
});

test("events out of order by their ts end as the newest of each group says", () => {
  for (let seed = 1; seed <= ROUNDS; seed += 1) {
    const random = generator(seed * 104729);
    const why = `seed ${seed}`;
    const model = new ModelServer();
    const groups = ug.emptyGroups();
    ug.begin(groups);
    ug.received(groups, { groups: model.list() }, ME);
    const events = [];
    for (let i = 1 + random(25); i > 0; i -= 1) {
      model.clock += 1; // distinct times: an order to restore
      events.push(model.step(random));
    }
    // A shuffle (Fisher–Yates with the seeded generator).
    for (let i = events.length - 1; i > 0; i -= 1) {
      const j = random(i + 1);
      [events[i], events[j]] = [events[j], events[i]];
    }
    for (const event of events) ug.changed(groups, event, ME);
    assert.deepEqual(shown(groups), model.list(), why);
  }
});

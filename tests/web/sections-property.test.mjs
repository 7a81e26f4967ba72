// The sections end as the server has them whatever the order things reach the page in: a
// model server keeps one person's sections (their order, names, collapsed) and the section of
// each of their rooms, and takes, in order, the page's requests (collapse or expand, move a
// section up or down, move a room: each taken, told to every connection by its event, then
// answered, with the list or without; or refused) among another device's changes (made,
// renamed, collapsed, moved, deleted: its rooms back in their lists; a room moved). The page
// changes things at any moment and reads the frames of its one connection in order, at any
// moment. Whenever nothing is on its way, and at the end, the page shows the server's list
// and each room where the server has it.
//
// No dependency: the seeded generator of fixtures.mjs makes the same cases on every run (the
// seed of a failing case is in the failure message).

import assert from "node:assert/strict";
import { test } from "node:test";

import { placeOf } from "../../clients/web/sections.js";
import {
  apply, collapseSection, moveToSection, shiftSection,
} from "../../clients/web/state.js";
import { connected, generator, requests, roomInfo } from "./fixtures.mjs";

const ROUNDS = 300;
const ROOMS = ["general", "random", "@ann:bob"];

/** One person's sections on the server, as docs/protocol.md tells them. */
class ModelServer {
  constructor(random) {
    this.random = random;
    this.sections = [{ id: 1, name: "Work", collapsed: false },
      { id: 2, name: "Later", collapsed: true }];
    this.next = 3;
    this.rooms = new Map(ROOMS.map((room) => [room, room === "random" ? 1 : null]));
  }

  event() {
    return { op: "sections", sections: structuredClone(this.sections) };
  }

  /** An edit of section `id`: the frames it gives (its event when it changed something). */
  edit(id, { collapsed, position, name }) {
    const from = this.sections.findIndex((section) => section.id === id);
    if (from < 0) return { refused: "not_found" };
    const before = JSON.stringify(this.sections);
    const [section] = this.sections.splice(from, 1);
    const to = position === undefined ? from : Math.min(position, this.sections.length);
    this.sections.splice(to, 0, { ...section, ...(collapsed === undefined ? {} : { collapsed }),
      ...(name === undefined ? {} : { name }) });
    return { events: JSON.stringify(this.sections) === before ? [] : [this.event()] };
  }

  /** Room `room` into section `id` (null: its usual list). */
  move(room, id) {
    if (id !== null && !this.sections.some((section) => section.id === id)) {
      return { refused: "not_found" };
    }
    if (this.rooms.get(room) === id) return { events: [] };
    this.rooms.set(room, id);
    return { events: [{ op: "section", room, section: id }] };
  }

  /** The frames of one of the page's requests, in the order its connection reads them. */
  take(request) {
    if (this.random(5) === 0) {
      return [{ op: "error", id: 9, code: "rate_limited", message: "slow down" }];
    }
    const done = request.op === "set_section" ? this.move(request.room, request.section)
      : this.edit(request.section, { collapsed: request.collapsed, position: request.position });
    if (done.refused) return [{ op: "error", id: 9, code: done.refused, message: "no" }];
    const reply = request.op === "set_section"
      ? { op: "ok", id: 9, room: request.room, section: this.rooms.get(request.room) }
      : { op: "ok", id: 9,
        ...(this.random(2) ? { sections: structuredClone(this.sections) } : {}) };
    return [...done.events, reply];
  }

  /** A change made on another device: its events. */
  elsewhere() {
    const random = this.random;
    const any = () => (this.sections.length ? random.pick(this.sections).id : null);
    const choice = random(6);
    if (choice === 0 && this.sections.length < 4) {
      this.sections.splice(random(this.sections.length + 1), 0,
        { id: this.next, name: `S${this.next}`, collapsed: false });
      this.next += 1;
      return [this.event()];
    }
    if (choice === 1 && this.sections.length) {
      const id = any();
      this.sections = this.sections.filter((section) => section.id !== id);
      const back = ROOMS.filter((room) => this.rooms.get(room) === id);
      for (const room of back) this.rooms.set(room, null);
      // The list says it; a server may say each room's move as well.
      return [this.event(), ...(random(2) ? back.map((room) => ({ op: "section", room,
        section: null })) : [])];
    }
    if (choice === 2 && this.sections.length) {
      return this.edit(any(), { name: `N${random(100)}` }).events;
    }
    if (choice === 3 && this.sections.length) {
      return this.edit(any(), { collapsed: random(2) === 0 }).events;
    }
    if (choice === 4 && this.sections.length) {
      return this.edit(any(), { position: random(this.sections.length) }).events;
    }
    const ids = this.sections.map((section) => section.id);
    return this.move(random.pick(ROOMS), random(3) === 0 || !ids.length ? null
      : random.pick(ids)).events || [];
  }
}

function check(state, server, seed, when) {
  assert.deepEqual(state.sections.shown, server.sections, `seed ${seed}, ${when}: the list`);
  for (const room of ROOMS) {
    assert.equal(placeOf(state.sections, state.rooms.get(room)), server.rooms.get(room),
      `seed ${seed}, ${when}: ${room}'s section`);
  }
}

/** One of the page's changes, at random: the requests it makes. */
function change(state, random) {
  const shown = state.sections.shown;
  const choice = random(3);
  if (choice === 0 && shown.length) {
    const section = random.pick(shown);
    return requests(collapseSection(state, section.id, !section.collapsed));
  }
  if (choice === 1 && shown.length) {
    return requests(shiftSection(state, random.pick(shown).id, random(2) ? 1 : -1));
  }
  const to = random(3) === 0 || !shown.length ? null : random.pick(shown).id;
  return requests(moveToSection(state, random.pick(ROOMS), to));
}

test("the page's sections end as the server's, whatever the interleaving", () => {
  for (let seed = 1; seed <= ROUNDS; seed += 1) {
    const random = generator(seed);
    const server = new ModelServer(random);
    const { state } = connected(ROOMS.map((room) => roomInfo(room,
      { lastSeq: 1, section: server.rooms.get(room) })));
    apply(state, server.event());
    check(state, server, seed, "the start");
    const asked = []; // the page's requests, not yet taken by the server
    const frames = []; // what the page's connection carries, in order: [frame, request|null]
    const take = (request) => {
      for (const frame of server.take(request)) {
        frames.push([frame, frame.op === "ok" || frame.op === "error" ? request : null]);
      }
    };
    for (let step = 0; step < 50; step += 1) {
      const choice = random(4);
      if (choice === 0) asked.push(...change(state, random));
      else if (choice === 1 && asked.length) take(asked.shift());
      else if (choice === 2) for (const frame of server.elsewhere()) frames.push([frame, null]);
      else if (frames.length) {
        const [frame, request] = frames.shift();
        apply(state, frame, { request });
      }
      if (!asked.length && !frames.length) check(state, server, seed, `step ${step}`);
    }
    while (asked.length || frames.length) {
      if (asked.length) take(asked.shift());
      if (frames.length) {
        const [frame, request] = frames.shift();
        apply(state, frame, { request });
      }
    }
    check(state, server, seed, "the end");
    assert.equal(state.sections.pending, 0, `seed ${seed}: the list's changes all answered`);
    for (const room of ROOMS) assert.equal(state.rooms.get(room).sectionPending, 0);
  }
});

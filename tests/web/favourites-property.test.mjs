// A favourite ends as the server has it whatever the order things reach the page in: a model
// server keeps one person's marks on two rooms and takes, in order, the page's `favourite`
// requests (each taken, answered after its event to every connection of the person, or
// refused) among another device's changes (each an event); the page stars and unstars at any
// moment, and reads the frames of its one connection in order, at any moment. Whenever
// nothing is on its way, and at the end, what the page shows is the server's mark, and when.
//
// No dependency: the seeded generator of fixtures.mjs makes the same cases on every run (the
// seed of a failing case is in the failure message).

import assert from "node:assert/strict";
import { test } from "node:test";

import { isFavourite } from "../../clients/web/favourites.js";
import { apply, setFavourite } from "../../clients/web/state.js";
import { connected, generator, requests, roomInfo } from "./fixtures.mjs";

const ROUNDS = 300;
const ROOMS = ["general", "@ann:bob"];

/** One person's favourites on the server, as docs/protocol.md tells them. */
class ModelServer {
  constructor() {
    this.marks = new Map(ROOMS.map((room) => [room, null])); // room -> when marked, or null
    this.clock = 100;
  }

  /** Mark or unmark; returns the event to every connection, or null when nothing changed. */
  set(room, on) {
    if ((this.marks.get(room) !== null) === on) return null;
    this.marks.set(room, on ? (this.clock += 1) : null);
    return { op: "favourite", room, on, favourite_at: on ? this.clock : null };
  }

  /** The reply to `favourite` (no time: the event before it says when). */
  reply(room) {
    return { op: "ok", id: 9, room, favourite: this.marks.get(room) !== null };
  }
}

function check(state, server, seed, when) {
  for (const room of ROOMS) {
    const held = state.rooms.get(room);
    const at = server.marks.get(room);
    assert.equal(isFavourite(held), at !== null, `seed ${seed}, ${when}: ${room}'s mark`);
    assert.equal(held.favouriteAt, at, `seed ${seed}, ${when}: ${room}'s time`);
  }
}

test("the page's marks end as the server's, whatever the interleaving", () => {
  for (let seed = 1; seed <= ROUNDS; seed += 1) {
    const random = generator(seed);
    const server = new ModelServer();
    const { state } = connected(ROOMS.map((room) => roomInfo(room, { lastSeq: 1 })));
    const asked = []; // the page's requests, not yet taken by the server
    const frames = []; // what the page's connection carries, in order: [frame, request|null]
    for (let step = 0; step < 40; step += 1) {
      const choice = random(4);
      if (choice === 0) {
        const room = random.pick(ROOMS);
        const on = !isFavourite(state.rooms.get(room));
        asked.push(...requests(setFavourite(state, room, on)));
      } else if (choice === 1 && asked.length) {
        const request = asked.shift();
        if (random(4) === 0) {
          frames.push([{ op: "error", id: 9, code: "rate_limited", message: "slow down" },
            request]);
        } else {
          const event = server.set(request.room, request.on);
          if (event) frames.push([event, null]);
          frames.push([server.reply(request.room), request]);
        }
      } else if (choice === 2) {
        const room = random.pick(ROOMS);
        const event = server.set(room, random(2) === 0);
        if (event) frames.push([event, null]);
      } else if (frames.length) {
        const [frame, request] = frames.shift();
        apply(state, frame, { request });
      }
      if (!asked.length && !frames.length) check(state, server, seed, `step ${step}`);
    }
    while (asked.length || frames.length) {
      if (asked.length) {
        const request = asked.shift();
        const event = server.set(request.room, request.on);
        if (event) frames.push([event, null]);
        frames.push([server.reply(request.room), request]);
      }
      const [frame, request] = frames.shift();
      apply(state, frame, { request });
    }
    check(state, server, seed, "the end");
    for (const room of ROOMS) assert.equal(state.rooms.get(room).favouritePending, 0);
  }
});

// Polls end exact whatever the order things reach the page in: a model server makes a random
// room log of polls and plain messages, votes (each the voter's whole choice), closings, edits
// and deletions, and the page is fed its entries live (some twice) mixed with pages of history
// read at any moment (a page read before some votes may come after them), or after a gap
// filled by pages while live entries go on. However they come, every poll the page holds ends
// with the model's counts and voters, closed as the model has it.
//
// No dependency: the seeded generator of fixtures.mjs makes the same cases on every run (the
// seed of a failing case is in the failure message).

import assert from "node:assert/strict";
import { test } from "node:test";

import { revOf } from "../../clients/web/entries.js";
import { shownMessage } from "../../clients/web/select-messages.js";
import { apply } from "../../clients/web/state.js";
import { connected, fillGap, generator, roomInfo } from "./fixtures.mjs";

const ROOM = "general";
const PEOPLE = ["ann", "Bob", "carol", "dave"];
const ROUNDS = 300;

/** The server side of one room, as the protocol tells polls (docs/protocol.md "Polls"). */
class ModelRoom {
  constructor() {
    this.log = [];
  }

  get seq() { return this.log.length; }

  /** The messages after the first t entries: msg_id -> object, with `rev`. */
  state(t = this.seq) {
    const messages = new Map();
    for (const entry of this.log.slice(0, t)) {
      if (entry.op === "message") {
        messages.set(entry.msg_id, { ...structuredClone(entry), rev: entry.seq });
        continue;
      }
      const message = messages.get(entry.msg_id);
      message.rev = entry.seq;
      if (entry.op === "deleted") {
        delete message.poll;
        Object.assign(message, { text: "", deleted: true });
      } else if (entry.op === "edited") {
        Object.assign(message, { text: entry.text, edited_ts: entry.ts });
      } else if (entry.op === "poll_closed") {
        Object.assign(message.poll, { closed: true, closed_by: entry.by, closed_ts: entry.ts });
      } else {
        // The voter's whole choice: off every option, last on the chosen ones (the server
        // orders each option's voters by the seq of the entry that set their choice).
        message.poll.options.forEach((option, index) => {
          option.voters = option.voters.filter((u) => u !== entry.user);
          if (entry.options.includes(index)) option.voters.push(entry.user);
          option.votes = option.voters.length;
        });
      }
    }
    return messages;
  }

  /** A page of the log read at t: entries with seq in [lo, hi] (and ≤ t), messages as at t. */
  page(t, lo, hi) {
    const messages = this.state(t);
    return this.log.slice(Math.max(0, lo - 1), Math.min(hi, t)).map((entry) => {
      if (entry.op !== "message") {
        if (entry.op === "edited" && messages.get(entry.msg_id).deleted) {
          return { ...entry, text: "" };
        }
        return structuredClone(entry);
      }
      const wire = structuredClone(messages.get(entry.msg_id));
      if (wire.rev === wire.seq) delete wire.rev;
      return wire;
    });
  }

  /** One more entry the server would store (a vote that changes the voter's choice). */
  step(random) {
    const seq = this.seq + 1;
    const ts = 1_000_000 + seq;
    const alive = [...this.state().values()].filter((m) => !m.deleted);
    const open = alive.filter((m) => m.poll && !m.poll.closed);
    const kind = alive.length ? random(12) : 0;
    let entry;
    if (kind < 3 || (kind < 8 && !open.length)) {
      const from = random.pick(PEOPLE);
      entry = { op: "message", room: ROOM, seq, msg_id: 500 + seq, from, text: `q${seq}`, ts,
        nonce: `n${seq}` };
      if (random(3) !== 0) {
        const count = 2 + random(4);
        entry.poll = { options: Array.from({ length: count }, (_, i) => ({ text: `o${i}`,
          votes: 0, voters: [] })), multiple: random(2) === 0, closed: false };
      }
    } else if (kind < 8) {
      const message = random.pick(open);
      const user = random.pick(PEOPLE);
      const n = message.poll.options.length;
      const choice = message.poll.multiple
        ? Array.from({ length: n }, (_, i) => i).filter(() => random(2) === 0)
        : random(4) === 0 ? [] : [random(n)];
      const now = message.poll.options.flatMap((o, i) => (o.voters.includes(user) ? [i] : []));
      if (JSON.stringify(now) === JSON.stringify(choice)) return; // unchanged: nothing stored
      entry = { op: "voted", room: ROOM, seq, msg_id: message.msg_id, user, options: choice, ts };
    } else if (kind < 9 && open.length) {
      const message = random.pick(open);
      entry = { op: "poll_closed", room: ROOM, seq, msg_id: message.msg_id, by: message.from,
        ts };
    } else if (kind < 10) {
      const message = random.pick(alive);
      entry = { op: "edited", room: ROOM, seq, msg_id: message.msg_id, text: `e${seq}`,
        from: message.from, ts };
    } else if (kind < 11) {
      const message = random.pick(alive);
      entry = { op: "deleted", room: ROOM, seq, msg_id: message.msg_id, by: message.from, ts };
    } else {
      return;
    }
    this.log.push(entry);
  }
}

/** A poll as compared: each option's text, count and voters; closed, by whom. */
function canonical(message) {
  const poll = message.poll;
  return { msg_id: message.msg_id, text: message.text, deleted: Boolean(message.deleted),
    rev: revOf(message),
    poll: poll ? { options: poll.options.map((o) => [o.text, o.votes, o.voters]),
      multiple: poll.multiple, closed: poll.closed, closed_by: poll.closed_by ?? null,
      closed_ts: poll.closed_ts ?? null } : null };
}

/** Every poll held is the model's of its rev (never a count it never had), and each view too. */
function checkStep(state, model, where) {
  const room = state.rooms.get(ROOM);
  for (const message of room.messages.values()) {
    const then = model.state(revOf(message)).get(message.msg_id);
    assert.deepEqual(canonical(message), canonical(then), `${where}: ${message.msg_id}`);
    const view = shownMessage(state, room, message).poll;
    if (view) {
      assert.deepEqual(view.options.map((o) => o.votes), then.poll.options.map((o) => o.votes),
        `${where}: shown counts of ${message.msg_id}`);
    }
  }
}

function checkFinal(state, model, where) {
  const room = state.rooms.get(ROOM);
  const final = model.state();
  for (const message of room.messages.values()) {
    assert.deepEqual(canonical(message), canonical(final.get(message.msg_id)),
      `${where}: message ${message.msg_id}`);
  }
}

function page(state, entries, t, after = 0) {
  apply(state, { op: "ok", id: 7, room: ROOM, messages: entries, more: false, last_seq: t },
    { request: { op: "history", room: ROOM, after, limit: 500 } });
}

function modelOf(random, most) {
  const model = new ModelRoom();
  const length = 1 + random(most);
  while (model.seq < length) model.step(random);
  return model;
}

test("votes and closings applied live, some twice, give the model's polls", () => {
  for (let seed = 1; seed <= ROUNDS; seed += 1) {
    const random = generator(seed);
    const model = modelOf(random, 50);
    const { state } = connected([roomInfo(ROOM, { lastSeq: 0 })]);
    for (const entry of model.log) {
      apply(state, structuredClone(entry));
      if (random(3) === 0) apply(state, structuredClone(entry));
      checkStep(state, model, `seed ${seed}`);
    }
    for (const entry of model.log) apply(state, structuredClone(entry)); // a replay
    checkFinal(state, model, `seed ${seed}`);
  }
});

test("pages of history read at any moment, mixed with live entries, give the model's polls",
  () => {
    for (let seed = 1; seed <= ROUNDS; seed += 1) {
      const random = generator(seed * 7919);
      const model = modelOf(random, 50);
      const n = model.seq;
      const start = 1 + random(n);
      const { state } = connected([roomInfo("lobby", { lastSeq: 0 })]);
      const join = model.page(start - 1, Math.max(1, start - 1 - random(10)), start - 1);
      apply(state, { op: "ok", id: 3, room: ROOM, last_seq: start - 1, private: false,
        topic: "", messages: join, more: join.length > 0 },
      { request: { op: "join", room: ROOM } });
      for (let seq = start; seq <= n; seq += 1) {
        while (random(3) === 0) {
          const t = start - 1 + random(n - start + 2);
          const lo = 1 + random(Math.max(1, t));
          page(state, model.page(t, lo, lo + random(12)), t);
          checkStep(state, model, `seed ${seed}`);
        }
        apply(state, structuredClone(model.log[seq - 1]));
        if (random(4) === 0) apply(state, structuredClone(model.log[seq - 1]));
        checkStep(state, model, `seed ${seed}`);
      }
      checkFinal(state, model, `seed ${seed}`);
      page(state, model.page(n, 1, n), n);
      checkFinal(state, model, `seed ${seed} (a last page)`);
    }
  });

test("after a gap, live entries and the pages that fill it give the model's polls", () => {
  for (let seed = 1; seed <= ROUNDS; seed += 1) {
    const random = generator(seed * 104729);
    const model = modelOf(random, 60);
    const { state } = connected([roomInfo(ROOM, { lastSeq: 0 })]);
    fillGap(state, model, ROOM, random);
    checkFinal(state, model, `seed ${seed}`);
    assert.equal(state.rooms.get(ROOM).messages.size,
      model.log.filter((e) => e.op === "message").length, `seed ${seed}: every message`);
  }
});

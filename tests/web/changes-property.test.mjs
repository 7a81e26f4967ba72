// Changes to messages are exact whatever the order they reach the page in: a model server makes
// a random room log (messages, edits, deletions, reactions, replies, pins), and the page is fed its
// entries live, twice, and mixed with pages of history read at any moment (a page read before
// some changes may be delivered after them). However they come, the page ends with every
// message it holds as the server has it (a thread's root with its replies' summary), and never
// shows a text older than one it showed.
//
// No dependency: a small seeded generator makes the same cases on every run (the seed of a
// failing case is in the failure message).

import assert from "node:assert/strict";
import { test } from "node:test";

import { revOf } from "../../clients/web/entries.js";
import { quoteFor } from "../../clients/web/select-messages.js";
import { apply } from "../../clients/web/state.js";
import { connected, fillGap, generator, roomInfo } from "./fixtures.mjs";

const ROOM = "general";
const PEOPLE = ["ann", "Bob", "carol"];
const EMOJI = ["👍", "❤️", "🎉"];
const WORDS = ["hi", "**bold**", "`@ann`", "@ann", "@Bob", "ok", "x"];

/**
 * The server side of one room, as docs/protocol.md tells it: every change an entry of the
 * room's log with its own seq; message objects as they are at a moment; entries as they read
 * in a page (the words of a message deleted since are gone from its edits).
 */
class ModelRoom {
  constructor() {
    this.log = []; // the entries as delivered live, in seq order
  }

  get seq() { return this.log.length; }

  /** The messages at `t` (after the first t entries): msg_id -> object, with `rev`. */
  state(t = this.seq) {
    const messages = new Map();
    for (const entry of this.log.slice(0, t)) {
      if (entry.op === "message") {
        const { quote: _quote, ...message } = entry;
        messages.set(entry.msg_id, { ...message, rev: entry.seq });
        const root = entry.thread !== undefined ? messages.get(entry.thread) : null;
        if (root) {
          // A reply: its root's summary takes it in, and the root's rev is the reply's seq.
          const replies = root.replies || { count: 0, users: [] };
          root.replies = { count: replies.count + 1, last_ts: entry.ts,
            users: [entry.from, ...replies.users.filter((u) => u !== entry.from)].slice(0, 5) };
          root.rev = entry.seq;
        }
        continue;
      }
      const message = messages.get(entry.msg_id);
      if (entry.op === "edited") {
        Object.assign(message, { text: entry.text, edited_ts: entry.ts, rev: entry.seq });
        if (entry.mentions) message.mentions = entry.mentions;
        else delete message.mentions;
      } else if (entry.op === "deleted") {
        delete message.reactions;
        delete message.mentions;
        delete message.edited_ts;
        delete message.pinned; // off the pins with it
        Object.assign(message, { text: "", deleted: true, rev: entry.seq });
      } else if (entry.op === "pinned") {
        if (entry.on) message.pinned = { by: entry.by, ts: entry.ts, seq: entry.seq };
        else delete message.pinned;
        message.rev = entry.seq;
      } else {
        const reactions = message.reactions || [];
        const found = reactions.find((r) => r.emoji === entry.emoji);
        if (entry.on && found) found.users = [...found.users, entry.user];
        else if (entry.on) reactions.push({ emoji: entry.emoji, users: [entry.user] });
        else found.users = found.users.filter((u) => u !== entry.user);
        message.reactions = reactions.filter((r) => r.users.length)
          .map((r) => ({ emoji: r.emoji, users: [...r.users] }));
        if (!message.reactions.length) delete message.reactions;
        message.rev = entry.seq;
      }
    }
    return messages;
  }

  /** A message object as the wire has it at `t` (rev left out when unchanged; the quote). */
  object(messages, message) {
    const wire = { ...message };
    if (wire.rev === wire.seq) delete wire.rev;
    if (wire.reply_to !== undefined) {
      const original = messages.get(wire.reply_to);
      wire.quote = original.deleted ? { deleted: true }
        : { from: original.from, text: original.text.slice(0, 200) };
    }
    return structuredClone(wire);
  }

  /** A page of the log read at `t`: the entries with seq in [lo, hi] (and ≤ t). */
  page(t, lo, hi) {
    const messages = this.state(t);
    const entries = [];
    for (const entry of this.log.slice(Math.max(0, lo - 1), Math.min(hi, t))) {
      if (entry.op === "message") {
        entries.push(this.object(messages, messages.get(entry.msg_id)));
      } else if (entry.op === "edited" && messages.get(entry.msg_id).deleted) {
        const { mentions: _m, ...blanked } = entry;
        entries.push({ ...blanked, text: "" });
      } else {
        entries.push(structuredClone(entry));
      }
    }
    return entries;
  }

  /** One more random entry, always one the server would store (a change that changes). */
  step(random) {
    const seq = this.seq + 1;
    const ts = 1_000_000 + seq;
    const now = this.state();
    const alive = [...now.values()].filter((m) => !m.deleted);
    const kind = alive.length ? random(12) : 0;
    const words = () => Array.from({ length: 1 + random(3) }, () => random.pick(WORDS)).join(" ");
    const mentionsOf = (text) => {
      const names = PEOPLE.filter((p) => new RegExp(`(^| )@${p}\\b`).test(text));
      return names.length ? { mentions: names } : {};
    };
    let entry;
    if (kind < 4) {
      const from = random.pick(PEOPLE);
      const text = words();
      entry = { op: "message", room: ROOM, seq, msg_id: 500 + seq, from, text, ts,
        nonce: `n${seq}`, ...mentionsOf(text) };
      const roots = alive.filter((m) => m.thread === undefined);
      if (roots.length && random(3) === 0) {
        entry.thread = random.pick(roots).msg_id; // a reply in a thread
        if (random(2) === 0) entry.broadcast = true;
      }
      if (alive.length && random(3) === 0) {
        const original = random.pick(alive);
        entry.reply_to = original.msg_id;
        entry.quote = original.deleted ? { deleted: true }
          : { from: original.from, text: original.text };
      }
    } else if (kind < 6) {
      const message = random.pick(alive);
      const text = `${words()} (v${seq})`;
      entry = { op: "edited", room: ROOM, seq, msg_id: message.msg_id, text, from: message.from,
        ts, ...mentionsOf(text) };
    } else if (kind < 7) {
      const message = random.pick(alive);
      entry = { op: "deleted", room: ROOM, seq, msg_id: message.msg_id, by: message.from, ts };
    } else if (kind >= 10) {
      const message = random.pick(alive);
      entry = { op: "pinned", room: ROOM, seq, msg_id: message.msg_id, by: random.pick(PEOPLE),
        on: !message.pinned, ts };
    } else {
      const message = random.pick(alive);
      const emoji = random.pick(EMOJI);
      const user = random.pick(PEOPLE);
      const has = (message.reactions || []).some((r) => r.emoji === emoji
        && r.users.includes(user));
      entry = { op: "reaction", room: ROOM, seq, msg_id: message.msg_id, emoji, user, on: !has,
        ts };
    }
    this.log.push(entry);
  }
}

/** What the page holds of a message, in a form to compare (the quote aside: see below). */
function canonical(message) {
  return {
    seq: message.seq, msg_id: message.msg_id, from: message.from, text: message.text,
    deleted: Boolean(message.deleted), edited_ts: message.edited_ts ?? null,
    reactions: message.reactions ?? [], mentions: message.mentions ?? [],
    reply_to: message.reply_to ?? null, rev: revOf(message), pinned: message.pinned ?? null,
    thread: message.thread ?? null, replies: message.replies ?? null,
  };
}

/** How many messages are pinned in the end (the count a room shows). */
function pinnedCount(model) {
  return [...model.state().values()].filter((m) => m.pinned).length;
}

function page(state, entries, t) {
  apply(state, { op: "ok", id: 7, room: ROOM, messages: entries, more: false, last_seq: t },
    { request: { op: "history", room: ROOM, after: 0, limit: 500 } });
}

/** Checks the page holds messages consistent with the server and no older than before. */
function checkStep(state, model, shown, where) {
  const room = state.rooms.get(ROOM);
  for (const message of room.messages.values()) {
    const before = shown.get(message.msg_id);
    assert.ok(!before || revOf(message) >= before, `${where}: rev of ${message.msg_id} went back`);
    shown.set(message.msg_id, revOf(message));
    if (!message.deleted) {
      // Not deleted: exactly the server's text of the moment of its rev.
      const then = model.state(revOf(message)).get(message.msg_id);
      assert.equal(message.text, then.text,
        `${where}: ${message.msg_id} shows a text it never had`);
    }
  }
}

function checkFinal(state, model, where) {
  const room = state.rooms.get(ROOM);
  const final = model.state();
  for (const message of room.messages.values()) {
    assert.deepEqual(canonical(message), canonical(model.object(final, final.get(message.msg_id))),
      `${where}: message ${message.msg_id}`);
  }
  // The quote the page shows comes from the original when it holds it: the newest there is.
  for (const message of room.messages.values()) {
    const quote = quoteFor(room, message);
    const original = quote && final.get(quote.msgId);
    if (quote && quote.held) {
      assert.equal(quote.deleted, Boolean(original.deleted), where);
      if (!original.deleted) assert.equal(quote.text, original.text.slice(0, 200), where);
    }
  }
}

const ROUNDS = 300;

test("entries applied once, or each twice, give the same messages as the server's", () => {
  for (let seed = 1; seed <= ROUNDS; seed += 1) {
    const random = generator(seed);
    const model = new ModelRoom();
    const length = 1 + random(40);
    for (let i = 0; i < length; i += 1) model.step(random);
    const once = connected([roomInfo(ROOM, { lastSeq: 0 })]).state;
    const twice = connected([roomInfo(ROOM, { lastSeq: 0 })]).state;
    const shown = new Map();
    for (const entry of model.log) {
      apply(once, structuredClone(entry));
      apply(twice, structuredClone(entry));
      apply(twice, structuredClone(entry));
      checkStep(twice, model, shown, `seed ${seed}`);
    }
    // And the whole log once more, as a resume that started too early would replay it.
    for (const entry of model.log) apply(twice, structuredClone(entry));
    checkFinal(once, model, `seed ${seed} (once)`);
    checkFinal(twice, model, `seed ${seed} (twice)`);
    const a = [...once.rooms.get(ROOM).sorted()].map(canonical);
    const b = [...twice.rooms.get(ROOM).sorted()].map(canonical);
    assert.deepEqual(b, a, `seed ${seed}`);
    assert.equal(once.rooms.get(ROOM).head, model.seq, `seed ${seed}: head`);
    assert.equal(twice.rooms.get(ROOM).head, model.seq, `seed ${seed}: head`);
    // Unread: every message by another, deleted ones aside; mentions: those naming ann.
    const final = [...model.state().values()].filter((m) => m.from !== "ann" && !m.deleted);
    for (const state of [once, twice]) {
      const room = state.rooms.get(ROOM);
      assert.equal(room.unread, final.length, `seed ${seed}: unread`);
      assert.equal(room.mentions, final.filter((m) => (m.mentions || []).includes("ann")).length,
        `seed ${seed}: mentions`);
      assert.equal(room.pins, pinnedCount(model), `seed ${seed}: pins`);
    }
  }
});

test("history pages read at any moment, mixed with the same entries live, end the same", () => {
  for (let seed = 1; seed <= ROUNDS; seed += 1) {
    const random = generator(seed * 7919);
    const model = new ModelRoom();
    const length = 1 + random(40);
    for (let i = 0; i < length; i += 1) model.step(random);
    const n = model.seq;
    // The page follows the room live from `start` on (the join reply read at start - 1 holds
    // its latest messages); older ones come only in pages of history.
    const start = 1 + random(n);
    const { state } = connected([roomInfo("lobby", { lastSeq: 0 })]);
    const join = model.page(start - 1, Math.max(1, start - 1 - random(10)), start - 1);
    apply(state, { op: "ok", id: 3, room: ROOM, last_seq: start - 1, private: false, topic: "",
      messages: join, more: join.length > 0 }, { request: { op: "join", room: ROOM } });
    const shown = new Map();
    for (let seq = start; seq <= n; seq += 1) {
      // Pages come between live entries: read at any moment since the join (so possibly before
      // entries already delivered, or after ones still to come), of any stretch of the log.
      while (random(3) === 0) {
        const t = start - 1 + random(n - start + 2);
        const lo = 1 + random(Math.max(1, t));
        const hi = lo + random(12);
        page(state, model.page(t, lo, hi), t);
        checkStep(state, model, shown, `seed ${seed}`);
      }
      const entry = model.log[seq - 1];
      apply(state, structuredClone(entry));
      if (random(4) === 0) apply(state, structuredClone(entry)); // twice
      checkStep(state, model, shown, `seed ${seed}`);
    }
    // A last page of everything, read at the end, changes nothing any more.
    const before = [...state.rooms.get(ROOM).sorted()].map(canonical);
    checkFinal(state, model, `seed ${seed}`);
    page(state, model.page(n, 1, n), n);
    const after = [...state.rooms.get(ROOM).sorted()]
      .filter((m) => before.some((b) => b.seq === m.seq)).map(canonical);
    assert.deepEqual(after, before, `seed ${seed}: a last page changed what was held`);
    checkFinal(state, model, `seed ${seed}`);
    assert.equal(state.rooms.get(ROOM).head, n, `seed ${seed}: head`);
  }
});

test("after a gap, live entries and the pages that fill the gap end the same", () => {
  for (let seed = 1; seed <= ROUNDS; seed += 1) {
    const random = generator(seed * 104729);
    const model = new ModelRoom();
    const length = 2 + random(50);
    for (let i = 0; i < length; i += 1) model.step(random);
    // Received live up to a point; then away; on resume a gap; live goes on after it while
    // the page fills the gap with `history` after=…, a page at a time, each read at any
    // moment from the resume on.
    const { state } = connected([roomInfo(ROOM, { lastSeq: 0 })]);
    const shown = new Map();
    fillGap(state, model, ROOM, random, () => checkStep(state, model, shown, `seed ${seed}`));
    checkFinal(state, model, `seed ${seed}`);
    assert.equal(state.rooms.get(ROOM).head, model.seq, `seed ${seed}: head`);
    assert.equal(state.rooms.get(ROOM).messages.size,
      model.log.filter((e) => e.op === "message").length, `seed ${seed}: every message`);
    // The pins counted from entries that came out of order: a deletion after the gap waits
    // for the pin the gap may hold.
    assert.equal(state.rooms.get(ROOM).pins, pinnedCount(model), `seed ${seed}: pins`);
  }
});

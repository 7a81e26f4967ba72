// Frames and shortcuts shared by the tests of the page's pure modules (not a test file itself:
// `node --test tests/web/` runs the *.test.mjs files).

import { apply, connectionChanged, initialState } from "../../clients/web/state.js";

/** A room object as in the welcome (docs/protocol.md, "The room object"). */
export function roomInfo(room, { lastSeq = 0, readSeq = 0, unread = 0, ...rest } = {}) {
  const dm = room.startsWith("@");
  return {
    room, kind: dm ? "dm" : "room", private: dm, topic: "", owner: dm ? null : "ann",
    last_seq: lastSeq, member: true, read_seq: readSeq, unread, ...rest,
  };
}

export function welcome(rooms = [], { user = "ann", contacts = [] } = {}) {
  return { op: "welcome", id: 1, user: { id: 1, name: user }, rooms, contacts, ping_interval: 30 };
}

export function message(room, seq, from = "Bob", text = `m${seq}`, extra = {}) {
  return { op: "message", room, seq, msg_id: 1000 + seq, from, text, ts: 1_000_000 + seq,
    nonce: `${from}-${room}-${seq}`, ...extra };
}

/** The messages `from`..`to` (seqs, both included) of `room`, as a history page holds them. */
export function historyPage(room, from, to) {
  return Array.from({ length: to - from + 1 }, (_, i) => message(room, from + i));
}

/** A page logged in as `me`, connected, after this welcome. */
export function connected(rooms = [], { me = "ann", contacts = [], outbox = [] } = {}) {
  const state = initialState({ me, outbox });
  connectionChanged(state, "online");
  const effects = apply(state, welcome(rooms, { user: me, contacts }));
  return { state, effects };
}

/** The requests among effects ({op, ...fields}). */
export function requests(effects) {
  return effects.filter((effect) => effect.request).map((effect) => effect.request);
}

/** The seqs kept for a room, in order. */
export function seqs(state, room) {
  return state.rooms.get(room).sorted().map((m) => m.seq);
}

/** Apply events in order; returns every effect. */
export function receiveAll(state, frames, now = 0) {
  return frames.flatMap((frame) => apply(state, frame, { now }));
}

/** Reply `ok` to each request among `effects` with `reply(request)`; returns the new effects. */
export function answer(state, effects, reply, now = 0) {
  return requests(effects).flatMap((request) => apply(state, { op: "ok", id: 9, ...reply(request) },
    { request, now }));
}

/** A generator of integers in [0, n), seeded (the LCG of Numerical Recipes). */
export function generator(seed) {
  let s = seed >>> 0;
  const next = (n) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return Math.floor((s / 2 ** 32) * n);
  };
  next.pick = (list) => list[next(list.length)];
  return next;
}

/**
 * Deliver a model room's log to `state` as after a resume with a gap: live up to a point `a`,
 * then a `gap` up to `last` (both drawn by `random`, in that order), then live entries after
 * it mixed with the `history` pages (read at any moment from the resume on) that fill the
 * gap. `model` has `seq`, `log` and `page(lastSeq, from, to)`; `afterEach()` runs after
 * each live entry or page of the walk.
 */
export function fillGap(state, model, room, random, afterEach = () => {}) {
  const n = model.seq;
  const a = random(n);
  const last = a + random(n - a + 1);
  for (const entry of model.log.slice(0, a)) apply(state, structuredClone(entry));
  apply(state, { op: "gap", room, after: a, last_seq: last });
  let filled = a;
  let live = last + 1;
  while (filled < last || live <= n) {
    if (filled < last && (live > n || random(2) === 0)) {
      const t = last + random(n - last + 1);
      const hi = Math.min(last, filled + 1 + random(8));
      apply(state, { op: "ok", id: 9, room, messages: model.page(t, filled + 1, hi),
        more: hi < last, last_seq: t },
      { request: { op: "history", room, after: filled, limit: 500 } });
      filled = hi;
    } else {
      apply(state, structuredClone(model.log[live - 1]));
      live += 1;
    }
    afterEach();
  }
}

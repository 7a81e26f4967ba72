// The server's time as the page reckons it (clock.js, kept by state.js from each welcome's
// `now`): a page whose own clock is wrong, behind or ahead, tells new messages from missed
// ones by the server's clock.

import assert from "node:assert/strict";
import { test } from "node:test";

import { STALE_MS } from "../../clients/web/alerts.js";
import { corrected, serverTime } from "../../clients/web/clock.js";
import {
  apply, connectionChanged, helloResume, initialState, setFocused,
} from "../../clients/web/state.js";
import { message, roomInfo, welcome } from "./fixtures.mjs";

const ON = { desktop: true, sound: true, permission: "granted" };
const HOUR = 3_600_000;
const alertsOf = (effects) => effects.filter((e) => e.alert).map((e) => e.alert);

test("the offset is the server's clock minus the page's halfway through the hello's round "
  + "trip; without a usable `now` it stays as it was", () => {
  assert.equal(corrected(0, 5000, 1000, 1200), 3900); // the server read its clock at ~1100
  assert.equal(corrected(0, 1100, 1000, 1200), 0); // the same clock: no offset
  assert.equal(corrected(0, 0, 1000, 1200), -1100); // the page ahead
  // Measured on the page's reckoning with an earlier offset: the new one replaces it.
  assert.equal(corrected(500, 5000, 1500, 1700), 3900);
  // No hello time known (or one after the welcome, nonsense): the welcome's arrival.
  assert.equal(corrected(0, 5000, null, 1200), 3800);
  assert.equal(corrected(0, 5000, 1300, 1200), 3800);
  // An older server says nothing: the offset the page had.
  for (const now of [undefined, null, "5000", 1.5, Number.NaN]) {
    assert.equal(corrected(700, now, 1000, 1200), 700);
  }
  assert.equal(serverTime(1000, 3900), 4900);
});

/**
 * Ann's page with "general" open, in another window (so that its messages alert), whose own
 * clock reads `local` when the server's reads `server`: connected, then back after a break,
 * resuming "general". Returns the state and `at(ms)`: the server's time by the page, `ms`
 * after that welcome by the page's own clock.
 */
function pageAt({ local, server }) {
  const state = initialState({ me: "ann", alerts: { ...ON } });
  connectionChanged(state, "online");
  apply(state, welcome([roomInfo("general", { lastSeq: 5, readSeq: 5 })]));
  setFocused(state, false);
  connectionChanged(state, "waiting");
  connectionChanged(state, "online");
  helloResume(state);
  // What the controller gives: its clock, on the offset it had (none yet), the hello 80 ms
  // before the welcome.
  apply(state, { ...welcome([roomInfo("general", { lastSeq: 9, readSeq: 5, unread: 4,
    mentions: 4 })]), now: server + 40 }, { now: local + 80, sent: local });
  return { state, at: (ms) => serverTime(local + 80 + ms, state.clockOffset) };
}

const mention = (seq, ts) => message("general", seq, "Bob", `@ann ${seq}`, { mentions: ["ann"],
  ts });

test("a page whose clock is an hour behind does not take the replay of messages an hour old "
  + "for new ones: one alert for what it missed, then a fresh message alerts by itself", () => {
  const server = 10 * HOUR;
  const { state, at } = pageAt({ local: server - HOUR, server });
  assert.equal(state.clockOffset, HOUR);
  // Replayed: said an hour ago, by the server's clock; the page's own reads "now" for them.
  const replay = [6, 7, 8].map((seq) => mention(seq, server - HOUR + seq));
  const told = replay.flatMap((m, i) => alertsOf(apply(state, m, { now: at(i) })));
  assert.deepEqual(told, []); // the room has not caught up yet (seq 9 is still to come)
  const last = alertsOf(apply(state, mention(9, server - 10 * 60_000), { now: at(3) }));
  assert.deepEqual(last.map((a) => [a.kind, a.body]),
    [["mention", "4 mentions while you were away"]]);
  const fresh = alertsOf(apply(state, mention(10, server + 500), { now: at(600) }));
  assert.deepEqual(fresh.map((a) => [a.kind, a.body, a.msgId]), [["mention", "@ann 10", 1010]]);
});

test("a page whose clock is an hour ahead takes a new message for new, not for missed", () => {
  const server = 10 * HOUR;
  const { state, at } = pageAt({ local: server + HOUR, server });
  assert.equal(state.clockOffset, -HOUR);
  // The replay: the first two said long ago, the last ones just now.
  assert.deepEqual(alertsOf(apply(state, mention(6, server - 2 * STALE_MS), { now: at(0) })), []);
  assert.deepEqual(alertsOf(apply(state, mention(7, server - 2 * STALE_MS), { now: at(1) })), []);
  assert.deepEqual(alertsOf(apply(state, mention(8, server - 1000), { now: at(2) }))
    .map((a) => a.body), ["@ann 8"]);
  assert.deepEqual(alertsOf(apply(state, mention(9, server), { now: at(3) })).map((a) => a.body),
    ["@ann 9"]);
  assert.equal(state.late.size, 0); // the live alert stood for what was counted
  const live = alertsOf(apply(state, mention(10, server + 2000), { now: at(2000) }));
  assert.deepEqual(live.map((a) => [a.kind, a.body]), [["mention", "@ann 10"]]);
});

test("a welcome without `now` (an older server) keeps the offset the page had", () => {
  const { state } = pageAt({ local: 1000, server: 1000 + HOUR });
  const offset = state.clockOffset;
  helloResume(state);
  apply(state, welcome([roomInfo("general", { lastSeq: 9, readSeq: 9 })]), { now: 5000,
    sent: 4000 });
  assert.equal(state.clockOffset, offset);
});

// Idleness (idle.js) and `away`: when the page reports idle and back, what the hello says,
// and the third status in the state and the member list.

import assert from "node:assert/strict";
import { test } from "node:test";

import * as idle from "../../clients/web/idle.js";
import { memberList, statusOf } from "../../clients/web/select.js";
import { apply, connectionChanged, helloIdle, initialState, setIdle } from
  "../../clients/web/state.js";
import { connected, requests, roomInfo, welcome } from "./fixtures.mjs";

const MIN = 60 * 1000;
const AFTER = idle.IDLE_AFTER_MS;

test("idle five minutes after the last input, never before; back at the next input", () => {
  let watch = idle.created(0, false);
  let looked = idle.check(watch, 0);
  assert.deepEqual([looked.report, looked.wakeIn], [null, AFTER]);
  watch = { ...looked.watch, lastInput: 3 * MIN }; // an input: only a timestamp
  looked = idle.check(watch, AFTER); // the timer set at first: not yet, look again later
  assert.deepEqual([looked.report, looked.wakeIn], [null, 3 * MIN]);
  looked = idle.check(looked.watch, AFTER + 3 * MIN - 1);
  assert.equal(looked.report, null);
  looked = idle.check(looked.watch, AFTER + 3 * MIN);
  assert.deepEqual([looked.report, looked.wakeIn, looked.watch.idle], [true, null, true]);
  assert.equal(idle.check(looked.watch, AFTER + 4 * MIN).report, null); // said once
  watch = { ...looked.watch, lastInput: 20 * MIN };
  looked = idle.check(watch, 20 * MIN);
  assert.deepEqual([looked.report, looked.wakeIn], [false, AFTER]);
});

test("hidden five minutes is idle even with input; shown again is back at once", () => {
  let watch = idle.shown(idle.created(0, false), false, MIN);
  watch = { ...watch, lastInput: 5 * MIN }; // (a pointer over a background window)
  let looked = idle.check(watch, MIN + AFTER - 1);
  assert.deepEqual([looked.report, looked.wakeIn], [null, 1]);
  looked = idle.check(looked.watch, MIN + AFTER);
  assert.equal(looked.report, true);
  assert.equal(idle.shown(looked.watch, false, 9 * MIN).hiddenSince, MIN); // still since then
  looked = idle.check(idle.shown(looked.watch, true, 9 * MIN), 9 * MIN);
  assert.deepEqual([looked.report, looked.wakeIn], [false, AFTER]);
});

test("a page opened hidden is idle from the start, and its hello says so", () => {
  const watch = idle.created(1000, true);
  assert.equal(watch.idle, true);
  assert.equal(idle.check(watch, 1000).report, null); // nothing to report: idle already
  const state = initialState({ me: "ann" });
  assert.deepEqual(setIdle(state, watch.idle), []); // not connected: the hello tells it
  assert.deepEqual(helloIdle(state), { idle: true });
  connectionChanged(state, "online");
  const effects = apply(state, welcome([], { user: "ann" }));
  assert.deepEqual(requests(effects).filter((r) => r.op === "idle"), []);
  assert.equal(statusOf(state, "ann"), "away");
  assert.deepEqual(helloIdle(initialState({ me: "ann" })), {});
});

test("a change while the hello was on its way is told after the welcome", () => {
  const state = initialState({ me: "ann" });
  setIdle(state, true);
  assert.deepEqual(helloIdle(state), { idle: true });
  setIdle(state, false); // input before the welcome
  connectionChanged(state, "online");
  const effects = apply(state, welcome([], { user: "ann" }));
  assert.deepEqual(requests(effects).filter((r) => r.op === "idle"), [{ op: "idle", idle: false }]);
  assert.equal(statusOf(state, "ann"), "online");
});

test("connected, a change is one request and one's own status; a repeat is nothing", () => {
  const { state } = connected([]);
  assert.deepEqual(requests(setIdle(state, true)), [{ op: "idle", idle: true }]);
  assert.equal(statusOf(state, "ann"), "away");
  assert.deepEqual(setIdle(state, true), []);
  assert.deepEqual(requests(setIdle(state, false)), [{ op: "idle", idle: false }]);
  assert.equal(statusOf(state, "ann"), "online");
  apply(state, { op: "ok", id: 9 }, { request: { op: "idle", idle: false } }); // nothing
});

test("away is a status of its own: listed after online, not counted online", () => {
  const { state, effects } = connected([roomInfo("general")]);
  const [who] = requests(effects).filter((r) => r.op === "who");
  apply(state, { op: "ok", id: 3, room: "general", members: [{ user: "ann", status: "online" },
    { user: "Bob", status: "offline" }, { user: "carol", status: "away" }] }, { request: who });
  let list = memberList(state);
  assert.equal(list.online, 1);
  assert.deepEqual(list.members.map((m) => [m.user, m.status]),
    [["ann", "online"], ["carol", "away"], ["Bob", "offline"]]);
  apply(state, { op: "presence", user: "Bob", status: "away" });
  apply(state, { op: "presence", user: "carol", status: "online" });
  list = memberList(state);
  assert.deepEqual(list.members.map((m) => [m.user, m.status]),
    [["ann", "online"], ["carol", "online"], ["Bob", "away"]]);
  assert.equal(list.online, 2);
});

// Leaving and being removed: the page moves on to another room and says why.

import assert from "node:assert/strict";
import { test } from "node:test";

import { apply } from "../../clients/web/state.js";
import { connected, roomInfo, welcome } from "./fixtures.mjs";

const toasts = (effects) => effects.filter((e) => e.toast).map((e) => e.toast);

test("removed from the open room: another one opens, with the reason", () => {
  const { state } = connected([roomInfo("plans", { private: true }), roomInfo("zoo")]);
  assert.equal(state.current, "plans");
  const effects = apply(state, { op: "left", room: "plans", user: "ann", by: "Bob" });
  assert.equal(state.rooms.has("plans"), false);
  assert.equal(state.current, "zoo");
  assert.deepEqual(toasts(effects), ["Bob removed you from #plans"]);
});

test("a room lost while the page was away is named after the welcome", () => {
  const { state } = connected([roomInfo("plans", { private: true }), roomInfo("zoo"),
    roomInfo("@ann:bob", { peer: "Bob" })]);
  const effects = apply(state, welcome([roomInfo("zoo"), roomInfo("@ann:bob", { peer: "Bob" })]));
  assert.deepEqual([...state.rooms.keys()].sort(), ["@ann:bob", "zoo"]);
  assert.equal(state.current, "zoo");
  assert.deepEqual(toasts(effects), ["You are no longer a member of #plans"]);
});

// Typing: shown for a few seconds after each `typing` event, computed from a given `now`;
// announced by this page at most every few seconds.

import assert from "node:assert/strict";
import { test } from "node:test";

import { nextTypingChange, typingText } from "../../clients/web/select.js";
import {
  apply, compose, connectionChanged, TYPING_SEND_MS, TYPING_SHOW_MS, typed,
} from "../../clients/web/state.js";
import { connected, message, requests, roomInfo } from "./fixtures.mjs";

const typing = (user, room = "general") => ({ op: "typing", room, user });

test("someone shows as typing until TYPING_SHOW_MS after their last event", () => {
  const { state } = connected([roomInfo("general")]);
  apply(state, typing("Bob"), { now: 1000 });
  assert.equal(typingText(state, 1000), "Bob is typing…");
  assert.equal(nextTypingChange(state, 1000), 1000 + TYPING_SHOW_MS);
  apply(state, typing("Bob"), { now: 4000 }); // typing on: the indicator stays
  assert.equal(typingText(state, 1000 + TYPING_SHOW_MS), "Bob is typing…");
  assert.equal(typingText(state, 4000 + TYPING_SHOW_MS - 1), "Bob is typing…");
  assert.equal(typingText(state, 4000 + TYPING_SHOW_MS), "");
  assert.equal(nextTypingChange(state, 4000 + TYPING_SHOW_MS), null);
});

test("two and more typers are named in a sentence; their own message ends it", () => {
  const { state } = connected([roomInfo("general", { lastSeq: 0 })]);
  apply(state, typing("Bob"), { now: 0 });
  apply(state, typing("carol"), { now: 10 });
  assert.equal(typingText(state, 20), "Bob and carol are typing…");
  apply(state, typing("dave"), { now: 20 });
  assert.equal(typingText(state, 30), "Several people are typing…");
  assert.equal(nextTypingChange(state, 30), TYPING_SHOW_MS);
  apply(state, message("general", 1, "Bob"));
  apply(state, message("general", 2, "dave"));
  assert.equal(typingText(state, 30), "carol is typing…");
});

test("one's own typing events, and those of rooms not open, are not shown here", () => {
  const { state } = connected([roomInfo("general"), roomInfo("random")]);
  apply(state, typing("ann"), { now: 0 });
  apply(state, typing("Bob", "random"), { now: 0 });
  apply(state, typing("Bob", "nowhere"), { now: 0 });
  assert.equal(typingText(state, 1), "");
});

test("this page says it is typing at most every TYPING_SEND_MS per room, and again after a send",
  () => {
    const { state } = connected([roomInfo("general")]);
    assert.deepEqual(requests(typed(state, 10_000)), [{ op: "typing", room: "general" }]);
    assert.deepEqual(typed(state, 10_000 + TYPING_SEND_MS - 1), []);
    assert.equal(typed(state, 10_000 + TYPING_SEND_MS).length, 1);
    compose(state, { text: "done", nonce: "n", now: 10_000 + TYPING_SEND_MS + 1 });
    assert.equal(typed(state, 10_000 + TYPING_SEND_MS + 2).length, 1);
    connectionChanged(state, "waiting");
    assert.deepEqual(typed(state, 100_000), []);
  });

// What a message box offers as it is typed in (select-messages.js completionFor), for the room's
// box and the thread panel's alike: ":par" the server's custom emoji, "@an" the group words then
// the room's members, nothing inside a code span or glued to a word.

import assert from "node:assert/strict";
import { test } from "node:test";

import { received } from "../../clients/web/emoji.js";
import { completionFor } from "../../clients/web/select-messages.js";
import { connected, roomInfo } from "./fixtures.mjs";

const SHA = "ab".repeat(32);

function room() {
  const { state } = connected([roomInfo("general", { lastSeq: 0 })]);
  const general = state.rooms.get("general");
  general.members = [{ user: "ann" }, { user: "Bob" }, { user: "bobby" }, { user: "carol" }];
  received(state.customEmoji, { emoji: [
    { name: "partyparrot", url: `/api/emoji/images/${SHA}`, by: "ann", ts: 5 },
    { name: "logo", url: `/api/emoji/images/${SHA}`, by: "ann", ts: 5 }] });
  return { state, general };
}

test("an @ and the start of a name offers the members, and where the word begins", () => {
  const { state, general } = room();
  const found = completionFor(state, general, "hi @bo");
  assert.equal(found.kind, "mention");
  assert.deepEqual(found.names, ["Bob", "bobby"]);
  assert.equal(found.start, 3);
  assert.equal(completionFor(state, general, "@").names.includes("carol"), true);
});

test("a colon and two letters of a name offers the custom emoji", () => {
  const { state, general } = room();
  assert.deepEqual(completionFor(state, general, "so :par"),
    { kind: "emoji", names: ["partyparrot"], hints: new Map(), start: 3 });
});

test("nothing is offered glued to a word, inside a code span, unmatched or without a room", () => {
  const { state, general } = room();
  assert.equal(completionFor(state, general, "ann@bo"), null);
  assert.equal(completionFor(state, general, "`@bo"), null);
  assert.equal(completionFor(state, general, "@zed"), null);
  assert.equal(completionFor(state, general, "12:30"), null);
  assert.equal(completionFor(state, null, "@bo"), null);
});

// Closing a conversation (hiding.js, state.js closeConversation): the sidebar's rule, the
// `hidden` event of every device, the open room moving on, a message bringing it back, and
// "New direct message" starting it again.

import assert from "node:assert/strict";
import { test } from "node:test";

import { canClose, hiddenSeqOf, isClosed, isShown } from "../../clients/web/hiding.js";
import { apply, closeConversation, openConversation, openDm, selectRoom }
  from "../../clients/web/state.js";
import { roomOrder, sortedRooms, unreadTotal } from "../../clients/web/select.js";
import { connected, message, requests, roomInfo } from "./fixtures.mjs";

const DM = "@ann:bob";
const listed = (state) => sortedRooms(state, "dm").map((room) => room.name);

/** Ann's page with #general and her conversations with Bob and with Carol; `dm` for Bob's. */
function page(dm = {}) {
  const { state } = connected([
    roomInfo("general", { lastSeq: 3 }),
    roomInfo(DM, { lastSeq: 5, readSeq: 5, peer: "bob", ...dm }),
    roomInfo("@ann:carol", { lastSeq: 2, readSeq: 2, peer: "carol" }),
  ]);
  return state;
}

test("the rule: shown without a marker, when something came since, or while open", () => {
  const room = (fields) => ({ name: DM, kind: "dm", draft: false, lastSeq: 5, hiddenSeq: null,
    ...fields });
  assert.equal(isShown(room({}), null), true, "never closed");
  assert.equal(isShown(room({ hiddenSeq: 5 }), null), false, "closed, nothing new");
  assert.equal(isShown(room({ hiddenSeq: 7 }), null), false, "closed past what the page holds");
  assert.equal(isShown(room({ hiddenSeq: 4 }), null), true, "a message after it");
  assert.equal(isShown(room({ hiddenSeq: 5 }), DM), true, "the open room");
  assert.equal(isShown({ name: "general", kind: "room", lastSeq: 5, hiddenSeq: 5 }, null), true,
    "a room is never closed");
  assert.equal(canClose(room({})), true);
  assert.equal(canClose(room({ hiddenSeq: 5 })), false, "closed already");
  assert.equal(canClose(room({ draft: true })), false, "a draft is not on the server");
  assert.equal(canClose({ name: "general", kind: "room", lastSeq: 1, hiddenSeq: null }), false);
  assert.equal(hiddenSeqOf({ hidden_seq: 0 }), 0);
  for (const bad of [{}, { hidden_seq: null }, { hidden_seq: -1 }, { hidden_seq: "5" },
    { hidden_seq: 1.5 }, null]) {
    assert.equal(hiddenSeqOf(bad), null, JSON.stringify(bad));
  }
});

test("the welcome's hidden_seq leaves a conversation out of the sidebar", () => {
  const state = page({ hidden_seq: 5 });
  assert.deepEqual(listed(state), ["@ann:carol"]);
  assert.equal(isClosed(state.rooms.get(DM)), true);
  assert.deepEqual(roomOrder(state), ["general", "@ann:carol"], "Alt+Down skips it too");
  const next = page({ hidden_seq: 4 });
  assert.deepEqual(listed(next), [DM, "@ann:carol"], "a message came after it was closed");
});

test("a closed conversation's unread messages leave the title's count until it shows again", () => {
  const state = page({ hidden_seq: 5, read_seq: 3, unread: 2 });
  assert.equal(state.rooms.get(DM).unread, 2);
  assert.equal(unreadTotal(state), 0, "closed with two unread: no count the sidebar cannot show");
  apply(state, message(DM, 6, "bob"));
  assert.equal(unreadTotal(state), 3, "a message brings it back with all its unread");
});

test("closing the open conversation asks hide, hides it and opens another room", () => {
  const state = page();
  selectRoom(state, DM);
  const effects = closeConversation(state, DM);
  assert.deepEqual(requests(effects)[0], { op: "hide", room: DM, on: true });
  assert.equal(state.current, "general", "another room opened");
  assert.deepEqual(listed(state), ["@ann:carol"], "at once, before the reply");
  // The server's marker wins over the page's guess (a message reached it before the hide).
  apply(state, { op: "ok", id: 9, room: DM, hidden_seq: 6 },
    { request: { op: "hide", room: DM, on: true } });
  assert.equal(state.rooms.get(DM).hiddenSeq, 6);
  assert.deepEqual(closeConversation(state, DM), [], "closed already");
  assert.deepEqual(closeConversation(state, "general"), [], "a room is left, not closed");
});

test("the hidden event closes it on the other tab, and shows it again", () => {
  const state = page();
  selectRoom(state, DM);
  apply(state, { op: "hidden", room: DM, hidden_seq: 5 });
  assert.deepEqual(listed(state), ["@ann:carol"]);
  assert.equal(state.current, "general", "the open conversation closed elsewhere moves on");
  apply(state, { op: "hidden", room: DM, hidden_seq: null });
  assert.deepEqual(listed(state), [DM, "@ann:carol"]);
  apply(state, { op: "hidden", room: "nowhere", hidden_seq: 3 }); // a room not held: nothing
  assert.equal(state.rooms.has("nowhere"), false);
});

test("a message in a closed conversation shows it again, with its unread badge", () => {
  const state = page({ hidden_seq: 5 });
  assert.deepEqual(listed(state), ["@ann:carol"]);
  apply(state, message(DM, 6, "bob", "back again"));
  assert.deepEqual(listed(state), [DM, "@ann:carol"]);
  const room = state.rooms.get(DM);
  assert.equal(room.unread, 1);
  assert.equal(room.hiddenSeq, 5, "the marker stays: the rule compares");
});

test("a refused hide says so and asks for the rooms again", () => {
  const state = page();
  const effects = apply(state, { op: "error", id: 9, code: "bad_request", message: "nope" },
    { request: { op: "hide", room: DM, on: true } });
  assert.ok(effects.some((effect) => effect.refreshRooms));
  assert.match(effects.find((effect) => effect.toast).toast, /close the conversation: nope/);
});

test("New direct message to a closed conversation starts it again for good", () => {
  const state = page({ hidden_seq: 5 });
  const effects = openDm(state, "bob");
  assert.deepEqual(requests(effects)[0], { op: "hide", room: DM, on: false });
  assert.equal(state.current, DM);
  selectRoom(state, "general");
  assert.deepEqual(listed(state), [DM, "@ann:carol"], "listed after moving on");
  const again = page({ hidden_seq: 5 });
  assert.deepEqual(requests(openConversation(again, ["Bob"])).filter((r) => r.op === "hide"),
    [{ op: "hide", room: DM, on: false }], "the dialog's people, any case");
  const open = page();
  assert.deepEqual(requests(openDm(open, "bob")).filter((r) => r.op === "hide"), [],
    "one not closed asks nothing");
});

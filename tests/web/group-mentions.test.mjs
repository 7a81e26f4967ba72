// Group mentions on the page: a message with `group` "room" mentions every member but its
// sender, one with "here" whoever was online when it came live (this page, after its welcome);
// what counts, alerts and is highlighted, and what the composer offers.

import assert from "node:assert/strict";
import { test } from "node:test";

import { groupMentions, mentions } from "../../clients/web/entries.js";
import { parse } from "../../clients/web/markdown.js";
import { groupSuggestions } from "../../clients/web/select-messages.js";
import { apply, connectionChanged, initialState, selectRoom } from "../../clients/web/state.js";
import { message, roomInfo, welcome } from "./fixtures.mjs";

const NOW = 1_000_100; // just after the fixtures' messages (ts 1_000_000 + seq)
const ON = { desktop: true, sound: true, permission: "granted" };

/** ann's page, online since the server's `since` (the welcome's `now`), looking at "random". */
function page({ since = 1_000_000, limit = 50 } = {}) {
  const state = initialState({ me: "ann", alerts: { ...ON } });
  connectionChanged(state, "online");
  apply(state, { ...welcome([roomInfo("general", { lastSeq: 10 }), roomInfo("random", { lastSeq: 10 })]),
    now: since, group_mention_members: limit }, { now: since, sent: since });
  selectRoom(state, "random");
  return state;
}

function alertsOf(state, frames) {
  return frames.flatMap((frame) => apply(state, frame, { now: NOW }))
    .filter((effect) => effect.alert).map((effect) => effect.alert);
}

test("@room mentions every member but its sender: counted, alerted, highlighted", () => {
  const state = page();
  const found = alertsOf(state, [
    message("general", 11, "Bob", "@all standup", { group: "room" }),
    message("general", 12, "ann", "@room from me", { group: "room" }),
  ]);
  assert.deepEqual(found.map((a) => [a.seq, a.kind]), [[11, "mention"]]);
  const general = state.rooms.get("general");
  assert.equal(general.mentions, 1);
  const held = general.messages.get(11);
  assert.equal(mentions(held, "ANN"), true);
  assert.equal(mentions(general.messages.get(12), "ann"), false);
  assert.equal(mentions(held, "Bob"), false); // the sender
});

test("@here mentions me when it came live after my welcome, not when read from before", () => {
  const state = page({ since: 1_000_005 });
  // seq 4 was sent before this page connected (a replay): the server alone knows.
  const found = alertsOf(state, [
    message("general", 11, "Bob", "@here anyone?", { group: "here" }),
    { ...message("general", 12, "Bob", "@here earlier", { group: "here" }), ts: 1_000_004 },
  ]);
  assert.deepEqual(found.map((a) => [a.seq, a.kind]), [[11, "mention"]]);
  const general = state.rooms.get("general");
  assert.equal(general.mentions, 1);
  assert.equal(groupMentions(general.messages.get(11), "ann"), true);
  assert.equal(groupMentions(general.messages.get(12), "ann"), false);
  // A page of history bringing the same message again keeps it a mention of me.
  apply(state, { op: "ok", id: 9, room: "general", more: false,
    messages: [message("general", 11, "Bob", "@here anyone?", { group: "here" })] },
  { request: { op: "history", room: "general", before: 12 }, now: NOW });
  assert.equal(groupMentions(general.messages.get(11), "ann"), true);
  assert.equal(general.mentions, 1);
  // An edit that takes the group away takes the mention with it.
  apply(state, { op: "edited", room: "general", seq: 13, msg_id: 1011, text: "anyone?",
    from: "Bob", ts: 1_000_013 }, { now: NOW });
  assert.equal(mentions(general.messages.get(11), "ann"), false);
  assert.equal(general.mentions, 0);
});

test("group words are highlighted as mentions when the server says the message has a group", () => {
  const para = (text, options) => parse(text, options).children[0].children;
  assert.deepEqual(para("@All standup", { mentions: [], me: "ann", group: "room", groupMe: true }),
    [{ type: "mention", name: "All", text: "@All", group: "room", me: true },
      { type: "text", text: " standup" }]);
  // No group (a conversation, or code): plain text; a word of a name is not a group's.
  assert.deepEqual(para("@all of it", { mentions: [], me: "ann" }),
    [{ type: "text", text: "@all of it" }]);
  assert.deepEqual(para("`@here` @allison", { mentions: [], me: "ann", group: "here" }),
    [{ type: "code", text: "@here" }, { type: "text", text: " @allison" }]);
  // On its way (not seen by the server yet): what looks like one is one.
  assert.deepEqual(para("@here."), [{ type: "mention", name: "here", text: "@here",
    group: "here", me: false }, { type: "text", text: "." }]);
});

test("the composer offers @room and @here with whom they notify, where one may use them", () => {
  const state = page({ limit: 3 });
  const room = state.rooms.get("general");
  room.members = [{ user: "ann" }, { user: "Bob" }, { user: "cid" }];
  room.memberCount = 3;
  apply(state, { op: "presence", user: "Bob", status: "online" }, { now: NOW });
  assert.deepEqual(groupSuggestions(state, room, ""), [
    { name: "room", hint: "notifies 2 members" }, { name: "here", hint: "notifies 1 member" }]);
  assert.deepEqual(groupSuggestions(state, room, "H").map((g) => g.name), ["here"]);
  room.members.push({ user: "dan" });
  room.memberCount = 4; // past the server's limit: only for the owner and moderators
  assert.deepEqual(groupSuggestions(state, room, ""), []);
  room.role = "moderator";
  assert.deepEqual(groupSuggestions(state, room, "r"), [{ name: "room", hint: "notifies 3 members" }]);
  assert.deepEqual(groupSuggestions(state, state.rooms.get("random"), ""), []); // members unknown
});

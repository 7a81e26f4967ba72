// Presence and contacts: who is online, from the welcome, `presence` events, `who` and the
// contact requests; names match regardless of case.

import assert from "node:assert/strict";
import { test } from "node:test";

import { memberList, statusOf } from "../../clients/web/select.js";
import { apply, moreMembers } from "../../clients/web/state.js";
import { connected, requests, roomInfo, welcome } from "./fixtures.mjs";

test("the welcome brings the contacts and their status, and the user is online", () => {
  const { state } = connected([], { contacts: [{ user: "Bob", status: "online" },
    { user: "carol", status: "offline" }] });
  assert.deepEqual(state.contacts, ["Bob", "carol"]);
  assert.equal(statusOf(state, "bob"), "online");
  assert.equal(statusOf(state, "Carol"), "offline");
  assert.equal(statusOf(state, "ann"), "online");
  assert.equal(statusOf(state, "nobody"), "offline");
});

test("presence events change a status; an unknown status is offline", () => {
  const { state } = connected([]);
  apply(state, { op: "presence", user: "Bob", status: "online" });
  assert.equal(statusOf(state, "Bob"), "online");
  apply(state, { op: "presence", user: "bob", status: "offline" });
  assert.equal(statusOf(state, "Bob"), "offline");
  apply(state, { op: "presence", user: "Bob", status: "\" onerror=" });
  assert.equal(statusOf(state, "Bob"), "offline");
});

test("contacts are added once and removed, whatever the case", () => {
  const { state } = connected([], { contacts: [{ user: "Bob", status: "offline" }] });
  const add = { op: "add_contact", user: "BOB" };
  apply(state, { op: "ok", id: 2, user: "Bob", status: "online" }, { request: add });
  apply(state, { op: "ok", id: 3, user: "dave", status: "offline" },
    { request: { op: "add_contact", user: "dave" } });
  assert.deepEqual(state.contacts, ["Bob", "dave"]);
  assert.equal(statusOf(state, "Bob"), "online");
  apply(state, { op: "ok", id: 4 }, { request: { op: "remove_contact", user: "bob" } });
  assert.deepEqual(state.contacts, ["dave"]);
  const refused = apply(state, { op: "error", id: 5, code: "not_found",
    message: "no such contact" }, { request: { op: "remove_contact", user: "zed" } });
  assert.deepEqual(refused, [{ toast: "no such contact" }]);
});

test("who lists the members, online first, and tells their status", () => {
  const { state, effects } = connected([roomInfo("general")]);
  const [who] = requests(effects).filter((r) => r.op === "who");
  assert.deepEqual(memberList(state),
    { known: false, members: [], online: 0, total: 0, more: false });
  apply(state, { op: "ok", id: 3, room: "general", members: [{ user: "ann", status: "online" },
    { user: "Bob", status: "offline" }, { user: "carol", status: "online" }] }, { request: who });
  const list = memberList(state);
  assert.equal(list.online, 2);
  assert.deepEqual(list.members.map((m) => [m.user, m.status, m.me]), [
    ["ann", "online", true], ["carol", "online", false], ["Bob", "offline", false]]);
  apply(state, { op: "presence", user: "Bob", status: "online" });
  assert.equal(memberList(state).online, 3);
});

test("a large room's members come a page at a time, counted in all", () => {
  const { state, effects } = connected([roomInfo("general")]);
  const [who] = requests(effects).filter((r) => r.op === "who");
  assert.deepEqual(moreMembers(state), []); // nothing listed yet
  apply(state, { op: "ok", id: 3, room: "general", count: 5, online: 2, more: true,
    members: [{ user: "ann", status: "online" }, { user: "Bob", status: "offline" }] },
  { request: who });
  let list = memberList(state);
  assert.deepEqual([list.total, list.more, list.members.length], [5, true, 2]);
  // A newcomer who sorts after the last one listed comes with a later page; the count grows.
  apply(state, { op: "joined", room: "general", user: "zed" });
  assert.deepEqual(memberList(state).members.map((m) => m.user), ["ann", "Bob"]);
  assert.equal(memberList(state).total, 6);
  const [next] = requests(moreMembers(state));
  assert.deepEqual(next, { op: "who", room: "general", after: "Bob" });
  assert.deepEqual(moreMembers(state), []); // asked already
  apply(state, { op: "ok", id: 4, room: "general", count: 6, online: 2, more: false,
    members: [{ user: "carol", status: "online" }, { user: "zed", status: "offline" }] },
  { request: next });
  list = memberList(state);
  assert.deepEqual(list.members.map((m) => m.user), ["ann", "carol", "Bob", "zed"]);
  assert.deepEqual([list.total, list.more, list.online], [6, false, 2]);
  apply(state, { op: "left", room: "general", user: "zed" });
  assert.equal(memberList(state).total, 5);
  assert.deepEqual(moreMembers(state), []); // the last page came
});

test("a server without paging: every member, no count", () => {
  const { state, effects } = connected([roomInfo("general")]);
  const [who] = requests(effects).filter((r) => r.op === "who");
  apply(state, { op: "ok", id: 3, room: "general", members: [{ user: "ann", status: "online" },
    { user: "Bob", status: "offline" }] }, { request: who });
  assert.deepEqual([memberList(state).total, memberList(state).more], [2, false]);
});

test("a reconnect's welcome replaces the contacts (removed on another device meanwhile)", () => {
  const { state } = connected([], { contacts: [{ user: "Bob", status: "online" },
    { user: "carol", status: "online" }] });
  apply(state, welcome([], { contacts: [{ user: "carol", status: "offline" }] }));
  assert.deepEqual(state.contacts, ["carol"]);
  assert.equal(statusOf(state, "carol"), "offline");
});

// Presence and contacts: who is online, from the welcome, `presence` events, `who` and the
// contact requests; names match regardless of case.

import assert from "node:assert/strict";
import { test } from "node:test";

import { memberList, statusOf } from "../../clients/web/select.js";
import { apply } from "../../clients/web/state.js";
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
  assert.deepEqual(memberList(state), { known: false, members: [], online: 0 });
  apply(state, { op: "ok", id: 3, room: "general", members: [{ user: "ann", status: "online" },
    { user: "Bob", status: "offline" }, { user: "carol", status: "online" }] }, { request: who });
  const list = memberList(state);
  assert.equal(list.online, 2);
  assert.deepEqual(list.members.map((m) => [m.user, m.status, m.me]), [
    ["ann", "online", true], ["carol", "online", false], ["Bob", "offline", false]]);
  apply(state, { op: "presence", user: "Bob", status: "online" });
  assert.equal(memberList(state).online, 3);
});

test("a reconnect's welcome replaces the contacts (removed on another device meanwhile)", () => {
  const { state } = connected([], { contacts: [{ user: "Bob", status: "online" },
    { user: "carol", status: "online" }] });
  apply(state, welcome([], { contacts: [{ user: "carol", status: "offline" }] }));
  assert.deepEqual(state.contacts, ["carol"]);
  assert.equal(statusOf(state, "carol"), "offline");
});

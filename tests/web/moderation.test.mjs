// Moderation in the page's state: roles and the archived flag from room objects and entries,
// the lines moderation entries leave in the conversation (once, at their place), a ban or a
// kick of this user (the room leaves the page, with why), a deleted room, and what moderators
// may do to others' messages.

import assert from "node:assert/strict";
import { test } from "node:test";

import { canSetTopic, memberList, timeline } from "../../clients/web/select.js";
import { shownMessage } from "../../clients/web/select-messages.js";
import { apply, deleteMessage, selectRoom } from "../../clients/web/state.js";
import { connected, message, receiveAll, requests, roomInfo, welcome } from "./fixtures.mjs";

const entry = (op, seq, fields) => ({ op, room: "team", seq, by: "ann", ts: 1_000_000 + seq,
  ...fields });
const rows = (state, room) => timeline(state, state.rooms.get(room))
  .filter((row) => row.kind !== "day").map((row) => row.text || row.key);
const toasts = (effects) => effects.filter((e) => e.toast).map((e) => e.toast);

test("the welcome says whether the user administers the server", () => {
  const { state } = connected([roomInfo("team")]);
  assert.equal(state.admin, false);
  apply(state, { ...welcome([roomInfo("team")]), user: { id: 1, name: "ann", admin: true } });
  assert.equal(state.admin, true);
  apply(state, { ...welcome([roomInfo("team")]), user: { id: 1, name: "ann", admin: "yes" } });
  assert.equal(state.admin, false);
});

test("roles come from room objects and move with role entries; a hand-over too", () => {
  const { state } = connected([roomInfo("team", { owner: "ann", role: "owner", lastSeq: 2 })],
    { me: "bob" });
  const room = state.rooms.get("team");
  room.members = [{ user: "ann", role: "owner" }, { user: "bob", role: "member" }];
  assert.equal(room.role, "owner"); // as the room object says (bob's view in this fixture)
  apply(state, { ...welcome([roomInfo("team", { owner: "ann", role: "member", lastSeq: 2 })],
    { user: "bob" }) });
  assert.equal(room.role, "member");
  room.members = [{ user: "ann", role: "owner" }, { user: "bob", role: "member" }];
  receiveAll(state, [entry("role", 3, { user: "Bob", role: "moderator" })]);
  assert.equal(room.role, "moderator");
  assert.deepEqual(room.members.map((m) => m.role), ["owner", "moderator"]);
  receiveAll(state, [entry("role", 4, { user: "bob", role: "owner" })]);
  assert.equal(room.role, "owner");
  assert.equal(room.owner, "bob");
  assert.deepEqual(room.members.map((m) => m.role), ["moderator", "owner"]);
  // A room list older than the entries does not take the role back.
  apply(state, { op: "ok", id: 3, rooms: [roomInfo("team", { owner: "ann", role: "member",
    lastSeq: 2 })] }, { request: { op: "rooms", joined: true } });
  assert.equal(room.role, "owner");
  assert.deepEqual(rows(state, "team"), ["ann made Bob a moderator",
    "ann handed the room over to bob"]);
});

test("the old owner of a room handed over becomes a moderator", () => {
  const { state } = connected([roomInfo("team", { owner: "ann", role: "owner" })]);
  receiveAll(state, [entry("role", 1, { user: "bob", role: "owner" })]);
  const room = state.rooms.get("team");
  assert.equal(room.owner, "bob");
  assert.equal(room.role, "moderator");
});

test("moderation entries show as lines at their place in the log, once", () => {
  const { state } = connected([roomInfo("team", { lastSeq: 0 })]);
  const frames = [message("team", 1), entry("banned", 2, { user: "eve", reason: "spam" }),
    entry("unbanned", 3, { user: "eve" }), entry("kicked", 4, { user: "cid" }),
    message("team", 5), entry("archived", 6, { archived: true })];
  receiveAll(state, frames);
  receiveAll(state, frames); // again (a resume and a page overlapping): nothing twice
  assert.deepEqual(rows(state, "team"), ["m1", "ann banned eve: spam",
    "ann lifted the ban of eve", "ann removed cid", "m5",
    "ann archived the room: it is read-only now"]);
  assert.equal(state.rooms.get("team").archived, true);
});

test("a banned user sees the room leave their page, told who and why", () => {
  const { state } = connected([roomInfo("team", { lastSeq: 0 }), roomInfo("zoo")]);
  selectRoom(state, "team");
  receiveAll(state, [entry("banned", 1, { user: "Ann", reason: "spam" })]);
  assert.equal(state.rooms.has("team"), true); // the `left` says it is gone
  const effects = receiveAll(state, [{ op: "left", room: "team", user: "ann", by: "bob" }]);
  assert.deepEqual(toasts(effects), ["bob banned you from #team: spam"]);
  assert.equal(state.rooms.has("team"), false);
  assert.equal(state.current, "zoo");
});

test("a kicked user is told they were removed, with the reason", () => {
  const { state } = connected([roomInfo("team", { lastSeq: 0 })]);
  receiveAll(state, [entry("kicked", 1, { user: "ann", reason: "off topic" })]);
  const effects = receiveAll(state, [{ op: "left", room: "team", user: "ann", by: "bob" }]);
  assert.deepEqual(toasts(effects), ["bob removed you from #team: off topic"]);
  assert.equal(state.current, null);
});

test("a deleted room leaves every page; the next room opens", () => {
  const { state } = connected([roomInfo("team"), roomInfo("zoo")]);
  selectRoom(state, "team");
  const effects = apply(state, { op: "room_deleted", room: "team", by: "root" });
  assert.deepEqual(toasts(effects), ["root deleted #team"]);
  assert.equal(state.rooms.has("team"), false);
  assert.equal(state.current, "zoo");
  assert.deepEqual(apply(state, { op: "room_deleted", room: "nowhere", by: "root" }), []);
});

test("moderators and administrators may delete others' messages; members may not", () => {
  for (const [role, admin, may] of [["owner", false, true], ["moderator", false, true],
    ["member", false, false], ["member", true, true], [null, true, true]]) {
    const { state } = connected([roomInfo("team", { owner: "zed", role, lastSeq: 0 })]);
    state.admin = admin;
    selectRoom(state, "team");
    receiveAll(state, [message("team", 1, "eve", "buy now")]);
    const room = state.rooms.get("team");
    const shown = shownMessage(state, room, room.messages.get(1));
    assert.equal(shown.canDelete, may, `${role} ${admin}`);
    assert.equal(canSetTopic(state), may, `${role} ${admin}`);
    const effects = deleteMessage(state, { room: "team", msgId: 1001, key: "k1", now: 5 });
    assert.deepEqual(requests(effects).map((r) => r.op), may ? ["delete"] : []);
  }
});

test("an archived room takes no edits, reactions or topic; its messages can still go", () => {
  const { state } = connected([roomInfo("team", { owner: "ann", role: "owner", archived: true,
    lastSeq: 0 })]);
  selectRoom(state, "team");
  receiveAll(state, [message("team", 1, "ann", "mine")]);
  const room = state.rooms.get("team");
  const shown = shownMessage(state, room, room.messages.get(1));
  assert.deepEqual([shown.canEdit, shown.canReact, shown.canDelete], [false, false, true]);
  assert.equal(canSetTopic(state), false);
  receiveAll(state, [entry("archived", 2, { archived: false })]);
  assert.equal(room.archived, false);
  assert.equal(canSetTopic(state), true);
});

test("the member list carries roles and the deactivated mark from `who`", () => {
  const { state } = connected([roomInfo("team")]);
  selectRoom(state, "team");
  apply(state, { op: "ok", id: 2, room: "team", members: [
    { user: "ann", status: "online", role: "owner" },
    { user: "eve", status: "offline", role: "member", deactivated: true },
    { user: "odd", status: "offline", role: "emperor" }] },
  { request: { op: "who", room: "team" } });
  const { members } = memberList(state);
  assert.deepEqual(members.map((m) => [m.user, m.role, m.deactivated]),
    [["ann", "owner", false], ["eve", "member", true], ["odd", null, false]]);
});

test("a join reply gives the role and the archived flag", () => {
  const { state } = connected([]);
  apply(state, { op: "ok", id: 2, room: "team", last_seq: 3, private: false, topic: "",
    role: "moderator", archived: true, messages: [], more: false },
  { request: { op: "join", room: "team" } });
  const room = state.rooms.get("team");
  assert.equal(room.role, "moderator");
  assert.equal(room.archived, true);
});

test("someone who joins shows as a member, so the owner can make them a moderator", () => {
  const { state } = connected([roomInfo("team", { owner: "ann", role: "owner" })]);
  selectRoom(state, "team");
  apply(state, { op: "ok", id: 2, room: "team", members: [
    { user: "ann", status: "online", role: "owner" }] },
  { request: { op: "who", room: "team" } });
  apply(state, { op: "joined", room: "team", user: "bob" });
  const bob = memberList(state).members.find((m) => m.user === "bob");
  assert.equal(bob.role, "member");
});

test("a kick or ban shows one line: the entry's, not a second one for the `left` after it", () => {
  const { state } = connected([roomInfo("team", { lastSeq: 0 })]);
  receiveAll(state, [entry("kicked", 1, { user: "Cid", reason: "off topic" }),
    { op: "left", room: "team", user: "cid", by: "ann" },
    entry("banned", 2, { user: "eve" }), { op: "left", room: "team", user: "eve", by: "ann" },
    { op: "left", room: "team", user: "dan", by: "ann" }, // an older server: no entry
    { op: "left", room: "team", user: "cid" }], 5_000_000);
  assert.deepEqual(rows(state, "team"), ["ann removed Cid: off topic", "ann banned eve",
    "ann removed dan", "cid left"]);
});

test("removed from the last room, the page keeps saying why until a room opens", () => {
  const { state } = connected([roomInfo("team", { lastSeq: 0 })]);
  receiveAll(state, [entry("banned", 1, { user: "ann", reason: "spam" }),
    { op: "left", room: "team", user: "ann", by: "bob" }]);
  assert.equal(state.current, null);
  assert.equal(state.farewell, "bob banned you from #team: spam");
  apply(state, { op: "ok", id: 4, room: "zoo", last_seq: 0, private: false, topic: "",
    messages: [], more: false }, { request: { op: "join", room: "zoo" } });
  assert.equal(state.farewell, "");
});

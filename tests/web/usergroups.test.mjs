// User groups on the page (usergroups.js): the list kept by the reply and the `user_group`
// events, the person's `you` from `added`/`removed`, the members of the group the panel shows,
// what the @-completion offers and in which order, whether a message is a mention of the
// person by a group, and its pills; and, through state.js, a live message naming a group the
// person is in counted and alerted as a mention.

import assert from "node:assert/strict";
import { test } from "node:test";

import * as ug from "../../clients/web/usergroups.js";
import { mentions } from "../../clients/web/entries.js";
import {
  apply, connectionChanged, initialState, selectRoom, showUserGroup,
} from "../../clients/web/state.js";
import { completionFor, shownMessage } from "../../clients/web/select-messages.js";
import { parse, render } from "../../clients/web/markdown.js";
import { connected, message, requests, roomInfo, welcome } from "./fixtures.mjs";

const ME = "Bob";
const group = (name, extra = {}) => ({ name, description: "", members: 1, by: "ann", ts: 1,
  ...extra });
const event = (change, g, added = [], removed = [], ts = 10) => ({ op: "user_group", change,
  group: g, added, removed, by: "ann", ts });

function listed(...items) {
  const groups = ug.emptyGroups();
  ug.begin(groups);
  ug.received(groups, { groups: items }, ME);
  return groups;
}

test("the reply is the list, by name, with the person's `you`; malformed items are left out", () => {
  const groups = listed(group("web", { you: false }), group("Backend", { members: 3, you: true }),
    { name: "no spaces" }, null, group("all!"));
  assert.deepEqual(ug.sortedGroups(groups).map((g) => [g.name, g.members, g.you]),
    [["backend", 3, true], ["web", 1, false]]);
  assert.equal(groups.status, "done");
});

test("`you` follows the events naming the person in added and removed, in any case", () => {
  const groups = listed();
  ug.changed(groups, event("created", group("backend", { members: 2 }), ["ann", "bob"]), ME);
  assert.equal(groups.byName.get("backend").you, true);
  ug.changed(groups, event("changed", group("backend", { members: 3 }), ["carol"], [], 11), ME);
  assert.equal(groups.byName.get("backend").you, true, "a change not naming them keeps it");
  assert.equal(groups.byName.get("backend").members, 3);
  ug.changed(groups, event("changed", group("backend", { members: 2 }), [], ["BOB"], 12), ME);
  assert.equal(groups.byName.get("backend").you, false);
  ug.changed(groups, event("created", group("ops"), ["carol"], [], 13), ME);
  assert.equal(groups.byName.get("ops").you, false);
  ug.changed(groups, event("deleted", group("ops"), [], [], 14), ME);
  assert.equal(groups.byName.has("ops"), false);
  ug.changed(groups, event("changed", group("ops", { description: "late" }), [], [], 13), ME);
  assert.equal(groups.byName.has("ops"), false, "a late change does not bring it back");
});

test("an event that came while the list was asked for is applied again on top of the reply", () => {
  const groups = ug.emptyGroups();
  ug.begin(groups);
  ug.changed(groups, event("changed", group("backend", { members: 2 }), ["Bob"]), ME);
  // The reply was read before that change.
  ug.received(groups, { groups: [group("backend", { you: false })] }, ME);
  assert.deepEqual([groups.byName.get("backend").members, groups.byName.get("backend").you],
    [2, true]);
});

test("the open group's members follow the events, sorted ignoring case", () => {
  const groups = listed(group("backend", { members: 2, you: true }));
  const asked = ug.openGroup(groups, "Backend");
  assert.deepEqual(asked, { name: "backend" });
  ug.membersReceived(groups, asked, { group: group("backend", { members: 2 }),
    members: ["carol", "Bob"] }, ME);
  assert.deepEqual(groups.open.members, ["Bob", "carol"]);
  ug.changed(groups, event("changed", group("backend", { members: 2 }), ["ann"], ["carol"]), ME);
  assert.deepEqual(groups.open.members, ["ann", "Bob"]);
  ug.changed(groups, event("deleted", group("backend"), [], [], 11), ME);
  assert.equal(groups.open.status, "gone");
  ug.membersFailed(groups, { name: "backend" }, { code: "not_found", message: "no such group" });
  assert.equal(groups.open.error, "no such group");
});

test("a message mentions the person by a group they are in, not sent by them, not deleted", () => {
  const groups = listed(group("backend", { you: true }), group("web", { you: false }));
  const message = { from: "carol", text: "@backend deploy?", user_groups: ["backend"] };
  assert.equal(ug.mentionsMe(groups, message, ME), true);
  assert.equal(ug.mentionsMe(groups, { ...message, user_groups: ["web"] }, ME), false);
  assert.equal(ug.mentionsMe(groups, { ...message, user_groups: ["gone"] }, ME), false);
  assert.equal(ug.mentionsMe(groups, { ...message, from: "bob" }, ME), false);
  assert.equal(ug.mentionsMe(groups, { ...message, deleted: true }, ME), false);
  assert.equal(ug.mentionsMe(groups, { from: "carol", text: "@backend" }, ME), false,
    "the text alone is not a mention: the server's user_groups says");
  // Stamped, the room's counting (entries.js `mentions`) takes it as a mention.
  assert.equal(mentions(ug.stamp(groups, message, ME), ME), true);
  assert.equal(mentions(message, ME), false);
});

test("a group's pill: its description and count, marked when it covers the reader", () => {
  const groups = listed(group("backend", { description: "Server people", members: 3, you: true }));
  const message = { from: "carol", text: "ping @Backend, and @web", user_groups: ["backend"] };
  const pills = ug.pillsFor(groups, message, ME);
  assert.deepEqual([...pills], [["backend", { title: "Server people · 3 members", me: true,
    unknown: false }]]);
  const tree = parse(message.text, { mentions: [], me: ME, userGroups: pills });
  const nodes = tree.children[0].children.filter((n) => n.type === "mention");
  assert.deepEqual(nodes.map((n) => [n.text, n.userGroup, n.me, n.title]),
    [["@Backend", true, true, "Server people · 3 members"]], "@web is no group of the message");
  assert.equal(parse("`@backend`", { mentions: [], userGroups: pills }).children[0].children
    .some((n) => n.type === "mention"), false, "not in code");
  assert.equal(ug.pillsFor(groups, { from: "carol", text: "x" }, ME), null);
});

test("a group deleted since has no pill: its @name reads as plain text, not a dead mention", () => {
  const groups = listed(group("backend", { description: "Server people", you: true }),
    group("ops", { you: true }));
  const message = { from: "carol", text: "@ops and @backend", user_groups: ["backend", "ops"] };
  ug.changed(groups, event("deleted", group("ops"), [], [], 11), ME);
  const pills = ug.pillsFor(groups, message, ME);
  assert.deepEqual([...pills.keys()], ["backend"]);
  const nodes = parse(message.text, { mentions: [], me: ME, userGroups: pills }).children[0]
    .children;
  assert.deepEqual(nodes.filter((n) => n.type === "mention").map((n) => n.text), ["@backend"]);
  assert.deepEqual(nodes.filter((n) => n.type === "text").map((n) => n.text).join(""),
    "@ops and ");
  assert.equal(ug.mentionsMe(groups, { ...message, user_groups: ["ops"] }, ME), false);
  // Every group it named gone: no pill at all.
  ug.changed(groups, event("deleted", group("backend"), [], [], 12), ME);
  assert.equal(ug.pillsFor(groups, message, ME), null);
  assert.equal(parse(message.text, { mentions: [], me: ME, userGroups: null }).children[0]
    .children.some((n) => n.type === "mention"), false);
});

test("before the list is in, a group's pill is neutral: not live, not gone; the list decides", () => {
  const message = { from: "carol", text: "@ops and @backend", user_groups: ["backend", "ops"] };
  const early = ug.emptyGroups();
  ug.begin(early);
  const unknown = { title: null, me: false, unknown: true };
  assert.deepEqual([...ug.pillsFor(early, message, ME)], [["backend", unknown], ["ops", unknown]]);
  const nodes = (pills) => parse(message.text, { mentions: [], me: ME, userGroups: pills })
    .children[0].children.filter((n) => n.type === "mention");
  assert.deepEqual(nodes(ug.pillsFor(early, message, ME)).map((n) => [n.text, n.unknown, n.title]),
    [["@ops", true, null], ["@backend", true, null]]);
  // Drawn (markdown.js render, into a document that records elements): no title claimed.
  const doc = {
    createElement: (tag) => ({ tag, attributes: {}, children: [],
      setAttribute(name, value) { this.attributes[name] = value; },
      append(child) { this.children.push(child); } }),
    createTextNode: (text) => ({ text }),
  };
  const drawn = render(parse(message.text, { mentions: [], me: ME,
    userGroups: ug.pillsFor(early, message, ME) }), doc);
  assert.deepEqual(drawn.filter((node) => node.tag === "span").map((span) => span.attributes),
    [{ class: "mention usergroup unknown" }, { class: "mention usergroup unknown" }]);
  // A failed listing decides nothing either.
  ug.failed(early, "refused");
  assert.equal(ug.pillsFor(early, message, ME).get("ops").unknown, true);
  // The list came: @backend is there (a live pill, the reader's), @ops was deleted (plain).
  const version = early.version;
  ug.begin(early);
  ug.received(early, { groups: [group("backend", { you: true })] }, ME);
  assert.ok(early.version > version, "the messages are drawn again");
  const decided = ug.pillsFor(early, message, ME);
  assert.deepEqual([...decided], [["backend", { title: "User group · 1 member", me: true,
    unknown: false }]]);
  assert.deepEqual(nodes(decided).map((n) => [n.text, n.unknown]), [["@backend", undefined]]);
});

test("completion offers the groups by name, the person's first, then by a word of the description", () => {
  const groups = listed(
    group("backend", { description: "Server people", members: 3 }),
    group("backoffice", { members: 1, you: true }),
    group("ops", { description: "On call, backups" }),
    group("web-back", {}),
  );
  assert.deepEqual(ug.suggestions(groups, "back").map((s) => s.name),
    ["backoffice", "backend", "web-back", "ops"]);
  assert.deepEqual(ug.suggestions(groups, "back")[1],
    { name: "backend", hint: "Server people · 3 members" });
  assert.deepEqual(ug.suggestions(groups, "zzz"), []);
  assert.equal(ug.suggestions(groups, "").length, 4);
});

test("in a room's box, groups come after the people; in a 1:1 conversation none", () => {
  const { state } = connected([roomInfo("general", { lastSeq: 0 })]);
  const general = state.rooms.get("general");
  general.members = [{ user: "ann" }, { user: "Bob" }, { user: "bea" }];
  ug.received(state.userGroups, { groups: [group("backend", { description: "Server people",
    members: 3 })] }, "ann");
  const found = completionFor(state, general, "hi @b");
  assert.deepEqual(found.names, ["bea", "Bob", "backend"]);
  assert.equal(found.hints.get("backend"), "Server people · 3 members");
  assert.equal(found.userGroups.has("backend"), true);
  general.kind = "dm";
  general.members = null;
  general.peer = "Bob";
  assert.deepEqual(completionFor(state, general, "hi @b").names, ["Bob"]);
});

test("the forms' checks and the refusals' words", () => {
  const groups = listed(group("backend"));
  assert.equal(ug.nameProblem(groups, "Ops"), "");
  assert.equal(ug.nameProblem(groups, "@backend"), "That name is taken.");
  assert.match(ug.nameProblem(groups, "here"), /group mention word/);
  assert.match(ug.nameProblem(groups, "no spaces"), /1 to 32/);
  assert.equal(ug.messageOf({ code: "conflict", message: "taken" }), "That name is taken.");
  assert.deepEqual(ug.editOf(groups.byName.get("backend"), ["ann"], { description: "x",
    add: ["ann", "carol"], remove: ["dave", "ANN"] }),
  { name: "backend", description: "x", add: ["carol"], remove: ["ANN"] });
  assert.equal(ug.editOf(groups.byName.get("backend"), [], { description: "" }), null);
  assert.equal(ug.mayChange(groups.byName.get("backend"), "ANN", false), true);
  assert.equal(ug.mayChange(groups.byName.get("backend"), "carol", false), false);
  assert.equal(ug.mayChange(groups.byName.get("backend"), "carol", true), true);
});

test("a live message naming the person's group counts, alerts and highlights as a mention", () => {
  const since = 1_000_000;
  const state = initialState({ me: "bob", alerts: { desktop: true, sound: true,
    permission: "granted" } });
  connectionChanged(state, "online");
  apply(state, { ...welcome([roomInfo("general", { lastSeq: 10 }),
    roomInfo("random", { lastSeq: 10 })], { user: "bob" }), now: since },
  { now: since, sent: since });
  selectRoom(state, "random");
  apply(state, { op: "ok", groups: [group("backend", { you: true })] },
    { request: { op: "user_groups" } });
  const alertsOf = (frames) => frames.flatMap((frame) => apply(state, frame, { now: since + 100 }))
    .filter((effect) => effect.alert).map((effect) => [effect.alert.seq, effect.alert.kind]);
  assert.deepEqual(alertsOf([
    message("general", 11, "carol", "@backend deploy?", { user_groups: ["backend"] }),
    message("general", 12, "carol", "@web hi", { user_groups: ["web"] }),
    message("general", 13, "bob", "@backend me", { user_groups: ["backend"] }),
  ]), [[11, "mention"]]);
  const general = state.rooms.get("general");
  assert.equal(general.mentions, 1);
  assert.equal(shownMessage(state, general, general.messages.get(11)).mentionsMe, true);
  assert.equal(shownMessage(state, general, general.messages.get(12)).mentionsMe, false);
  // An edit that takes the group out is no mention any more.
  apply(state, { op: "edited", room: "general", seq: 14, msg_id: general.messages.get(11).msg_id,
    text: "deploy?", ts: since + 50 }, { now: since + 100 });
  assert.equal(general.mentions, 0);
  // A message read later (a page of history: not stamped, the room object counted it) is
  // highlighted by the list's `you` all the same.
  general.add([{ seq: 3, msg_id: 3, from: "carol", text: "@backend old", ts: 3,
    user_groups: ["backend"] }], "bob");
  assert.equal(shownMessage(state, general, general.messages.get(3)).mentionsMe, true);
});

test("after a reconnect the list is asked again, and the members of the group shown", () => {
  const { state, effects } = connected([roomInfo("general", { lastSeq: 0 })], { me: "bob" });
  assert.ok(requests(effects).some((r) => r.op === "user_groups"));
  apply(state, { op: "ok", groups: [group("backend", { you: true })] },
    { request: { op: "user_groups" } });
  const [asked] = requests(showUserGroup(state, "backend"));
  apply(state, { op: "ok", group: group("backend"), members: ["Bob"] }, { request: asked });
  connectionChanged(state, "waiting");
  connectionChanged(state, "online");
  const again = requests(apply(state, welcome([roomInfo("general", { lastSeq: 0 })],
    { user: "bob" })));
  assert.deepEqual(again.filter((r) => r.op.startsWith("user_group")),
    [{ op: "user_groups" }, { op: "user_group", name: "backend" }]);
  assert.equal(state.userGroups.status, "done", "the list stays shown meanwhile");
});

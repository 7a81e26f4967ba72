// The pure part of moderation and administration (clients/web/admin.js): who gets which
// control, ban requests and durations, the lines moderation entries leave, the admin API's
// answers parsed, paged lists, and the live figures formatted.

import assert from "node:assert/strict";
import { test } from "node:test";

import {
  auditText, BAN_DURATIONS, deactivationBody, banLeft, banRequest, bansInForce, controlsFor, emptyList,
  formatBytes, formatRate, listBegin, listFailed, listNext, listReceived, listRemove, listUpdate,
  moderates, moderationText, parseAudit, parseRooms, parseStats, parseUsers, PURGE_WINDOWS,
  purgeSeconds, queryString, rank, removedText, runs,
} from "../../clients/web/admin.js";

const room = (role, extra = {}) => ({ name: "team", kind: "room", role, draft: false, ...extra });
const member = (user, role, extra = {}) => ({ user, role, ...extra });

test("who moderates and who runs a room: owner, moderators, administrators; never a conversation", () => {
  assert.equal(moderates(room("owner"), false), true);
  assert.equal(moderates(room("moderator"), false), true);
  assert.equal(moderates(room("member"), false), false);
  assert.equal(moderates(room(null), false), false);
  assert.equal(moderates(room(null), true), true); // an admin, not even a member
  assert.equal(moderates(room("owner", { kind: "dm" }), true), false);
  assert.equal(moderates(room("owner", { draft: true }), true), false);
  assert.equal(moderates(null, true), false);
  assert.equal(runs(room("owner"), false), true);
  assert.equal(runs(room("moderator"), false), false);
  assert.equal(runs(room("member"), true), true);
  assert.ok(rank("member", true) > rank("owner") && rank("owner") > rank("moderator")
    && rank("moderator") > rank("member") && rank("member") > rank(null));
});

test("the controls offered for a member follow the protocol's table and outranking", () => {
  const me = { me: "ann", admin: false };
  // The owner: everything on a member, roles on a moderator too, nothing on themselves.
  assert.deepEqual(controlsFor(room("owner"), me, member("bob", "member")), {
    menu: true, kick: true, ban: true, makeModerator: true, makeMember: false, handOver: true });
  assert.deepEqual(controlsFor(room("owner"), me, member("bob", "moderator")), {
    menu: true, kick: true, ban: true, makeModerator: false, makeMember: true, handOver: true });
  assert.equal(controlsFor(room("owner"), me, member("Ann", "owner")).menu, false);
  // A moderator removes members only, changes no role, hands nothing over.
  assert.deepEqual(controlsFor(room("moderator"), me, member("bob", "member")), {
    menu: true, kick: true, ban: true, makeModerator: false, makeMember: false, handOver: false });
  assert.equal(controlsFor(room("moderator"), me, member("cid", "moderator")).menu, false);
  assert.equal(controlsFor(room("moderator"), me, member("dan", "owner")).menu, false);
  // A member gets nothing; nor does anyone in a conversation.
  assert.equal(controlsFor(room("member"), me, member("bob", "member")).menu, false);
  assert.equal(controlsFor(room("owner", { kind: "dm" }), me, member("bob", "member")).menu, false);
  // An administrator, member or not: roles and removal, but never the owner removed.
  const admin = { me: "root", admin: true };
  assert.deepEqual(controlsFor(room(null), admin, member("dan", "owner")), {
    menu: false, kick: false, ban: false, makeModerator: false, makeMember: false,
    handOver: false });
  assert.equal(controlsFor(room(null), admin, member("cid", "moderator")).kick, true);
  // The owner does not outrank an administrator who is a member.
  assert.equal(controlsFor(room("owner"), me, member("root", "member", { admin: true })).kick,
    false);
});

test("a ban request: reason trimmed or left out, duration in seconds, none for until lifted", () => {
  assert.deepEqual(banRequest("team", "eve", "hour", "  spam "),
    { room: "team", user: "eve", reason: "spam", duration: 3600 });
  assert.deepEqual(banRequest("team", "eve", "day"), { room: "team", user: "eve",
    duration: 86_400 });
  assert.deepEqual(banRequest("team", "eve", "week", ""), { room: "team", user: "eve",
    duration: 604_800 });
  assert.deepEqual(banRequest("team", "eve", "forever", "flood"),
    { room: "team", user: "eve", reason: "flood" });
  assert.throws(() => banRequest("team", "eve", "month"), /no such ban duration/);
  assert.deepEqual(BAN_DURATIONS.map((d) => d.label), ["1 hour", "1 day", "1 week",
    "Until lifted"]);
});

test("a ban that also deletes messages: delete_messages in seconds, none left out", () => {
  assert.deepEqual(banRequest("team", "eve", "forever", "spam", "day"),
    { room: "team", user: "eve", reason: "spam", delete_messages: 86_400 });
  assert.deepEqual(banRequest("team", "eve", "hour", "", "none"),
    { room: "team", user: "eve", duration: 3600 });
  assert.deepEqual(banRequest("team", "eve", "hour", "", "week").delete_messages, 604_800);
  assert.throws(() => banRequest("team", "eve", "hour", "", "year"), /no such window/);
  assert.deepEqual(PURGE_WINDOWS.map((w) => [w.label, w.seconds]), [["None", 0],
    ["The last hour", 3600], ["The last 24 hours", 86_400], ["The last 7 days", 604_800]]);
  assert.equal(purgeSeconds("none"), 0);
});

test("a deactivation's body: delete_messages for a window, no body for none", () => {
  assert.equal(deactivationBody("none"), undefined);
  assert.deepEqual(deactivationBody("hour"), { delete_messages: 3600 });
  assert.deepEqual(deactivationBody("week"), { delete_messages: 604_800 });
  assert.throws(() => deactivationBody("ever"), /no such window/);
});

test("the toast after removing someone says how many of their messages went", () => {
  assert.equal(removedText("eve", "is banned", { deleted: 3 }),
    "eve is banned; 3 messages deleted.");
  assert.equal(removedText("eve", "is banned", { deleted: 1 }),
    "eve is banned; 1 message deleted.");
  assert.equal(removedText("eve", "is deactivated", { deleted: 1000, more_deleted: true }),
    "eve is deactivated; 1,000 messages deleted; more remain: do it again to delete them.");
  assert.equal(removedText("eve", "is banned", {}), "eve is banned.");
  assert.equal(removedText("eve", "is banned", { deleted: "3" }), "eve is banned.");
  assert.equal(removedText("eve", "is banned", null), "eve is banned.");
});

test("the bans in force: ended ones and malformed ones are left out", () => {
  const reply = { bans: [
    { user: "eve", by: "ann", reason: "spam", ts: 1, expires_at: null },
    { user: "mal", by: "ann", reason: "", ts: 2, expires_at: 5000 },
    { user: "old", by: null, reason: "", ts: 3, expires_at: 999 },
    { by: "ann" }, null,
  ] };
  assert.deepEqual(bansInForce(reply, 1000).map((b) => b.user), ["eve", "mal"]);
  assert.deepEqual(bansInForce({}, 0), []);
  assert.equal(banLeft(null, 0), "until lifted");
  assert.equal(banLeft(30_000, 0), "for 30 s more");
  assert.equal(banLeft(3600_000, 0), "for 60 min more");
  assert.equal(banLeft(5 * 3600_000, 0), "for 5 h more");
  assert.equal(banLeft(7 * 86_400_000, 0), "for 7 days more");
});

test("moderation entries read as short lines; malformed ones as none", () => {
  const base = { room: "team", seq: 5, by: "ann", ts: 1 };
  assert.equal(moderationText({ ...base, op: "role", user: "bob", role: "moderator" }),
    "ann made bob a moderator");
  assert.equal(moderationText({ ...base, op: "role", user: "bob", role: "owner" }),
    "ann handed the room over to bob");
  assert.equal(moderationText({ ...base, op: "banned", user: "eve", reason: "spam" }),
    "ann banned eve: spam");
  assert.equal(moderationText({ ...base, op: "banned", user: "eve", expires_at: 9 }),
    "ann banned eve for a while");
  assert.equal(moderationText({ ...base, op: "unbanned", user: "eve" }),
    "ann lifted the ban of eve");
  assert.equal(moderationText({ ...base, op: "kicked", user: "cid", reason: "off topic" }),
    "ann removed cid: off topic");
  assert.equal(moderationText({ ...base, op: "archived", archived: true }),
    "ann archived the room: it is read-only now");
  assert.equal(moderationText({ ...base, op: "archived", archived: false, by: null }),
    "An administrator unarchived the room");
  assert.equal(moderationText({ ...base, op: "role", user: "bob", role: "king" }), null);
  assert.equal(moderationText({ ...base, op: "banned" }), null);
  assert.equal(moderationText({ ...base, op: "message" }), null);
  assert.equal(moderationText(null), null);
});

test("admin answers are parsed defensively: bad items dropped, flags strictly true", () => {
  assert.deepEqual(parseUsers({ users: [
    { id: 1, name: "ann", created_at: 5, admin: true, deactivated: false },
    { id: 2, name: "eve", admin: "yes", deactivated: true, bot: true },
    { id: 3 }, "x", null,
  ], more: true }), { items: [
    { name: "ann", admin: true, bot: false, deactivated: false, createdAt: 5 },
    { name: "eve", admin: false, bot: true, deactivated: true, createdAt: null },
  ], more: true });
  assert.deepEqual(parseUsers({ users: [], more: true }), { items: [], more: false });
  assert.deepEqual(parseUsers(null), { items: [], more: false });
  const rooms = parseRooms({ rooms: [{ room: "team", private: false, topic: "t", owner: "ann",
    owner_deactivated: true, members: 3, last_seq: 9, created_at: 1, archived: true },
  { room: "" }, { room: "x", members: -0.5 }], more: false });
  assert.deepEqual(rooms.items[0], { room: "team", private: false, topic: "t", owner: "ann",
    ownerDeactivated: true, members: 3, archived: true });
  assert.equal(rooms.items.length, 2);
  assert.equal(rooms.items[1].members, 0);
  const audit = parseAudit({ entries: [{ id: 7, ts: 10, actor: null, action: "deactivate",
    target: "eve", room: null, reason: "", details: {} }, { id: "8", action: "ban" }],
  more: true });
  assert.equal(audit.items.length, 1);
  assert.equal(audit.items[0].actor, null);
});

test("audit lines say who did what to whom, where", () => {
  const entry = (action, extra = {}) => ({ id: 1, ts: 1, actor: "root", action, target: "eve",
    room: null, reason: "", details: {}, ...extra });
  assert.equal(auditText(entry("deactivate")), "root deactivated eve");
  assert.equal(auditText(entry("ban", { room: "team" })), "root banned eve in #team");
  assert.equal(auditText(entry("set_role", { room: "team", details: { role: "moderator" } })),
    "root made eve a moderator in #team");
  assert.equal(auditText(entry("admin", { details: { admin: true } })),
    "root made eve an administrator");
  assert.equal(auditText(entry("admin", { details: { admin: false } })),
    "root revoked eve as administrator");
  assert.equal(auditText(entry("set_password", { actor: null })),
    "The command line reset the password of eve");
  assert.equal(auditText(entry("set_topic", { target: null, room: "team" })),
    "root set the topic of #team");
  assert.equal(auditText(entry("something_new", { target: null })), "root something new");
  assert.equal(auditText(entry("export", { actor: "eve" })), "eve exported their data");
  assert.equal(auditText(entry("export", { actor: null })),
    "The command line exported the data of eve");
  // Invitation links: made (no target), revoked (its maker the target, unless the actor).
  assert.equal(auditText(entry("create_invitation", { target: null,
    details: { invitation: 4, max_uses: 1, rooms: [] } })), "root made invitation link 4");
  assert.equal(auditText(entry("revoke_invitation", { details: { invitation: 4, uses: 0 } })),
    "root revoked invitation link 4 of eve");
  assert.equal(auditText(entry("revoke_invitation", { target: "root", details: {} })),
    "root revoked invitation link");
  // A room's join links: made, revoked (of its maker), used to join (the maker the target).
  assert.equal(auditText(entry("create_room_link", { target: null, room: "team",
    details: { link: 3 } })), "root made join link 3 to #team");
  assert.equal(auditText(entry("revoke_room_link", { room: "team", details: { link: 3 } })),
    "root revoked join link 3 to #team of eve");
  assert.equal(auditText(entry("join_link", { actor: "bob", target: "ann", room: "team",
    details: { link: 3 } })), "bob joined #team with ann's join link 3");
  assert.equal(auditText(entry("join_link", { actor: "bob", target: null, room: "team",
    details: {} })), "bob joined #team with join link");
  assert.equal(auditText(entry("purge", { room: "team", details: { deleted: 12 } })),
    "root deleted 12 messages of eve in #team");
  assert.equal(auditText(entry("purge", { room: "team", details: { deleted: 1 } })),
    "root deleted 1 message of eve in #team");
  assert.equal(auditText(entry("purge", { room: "team" })), "root deleted messages of eve in #team");
  // What `chatd user deactivate --delete-messages` and `chatd room delete` record: no actor.
  assert.equal(auditText(entry("purge", { actor: null, room: "@ann:eve", details: { deleted: 2 } })),
    "The command line deleted 2 messages of eve in the conversation @ann:eve");
  assert.equal(auditText(entry("delete_room", { actor: null, target: null, room: "team" })),
    "The command line deleted #team");
  // Archiving and deleting rooms (branch admin-rooms): the room is what was acted on.
  assert.equal(auditText(entry("archive", { target: null, room: "old" })), "root archived #old");
  assert.equal(auditText(entry("unarchive", { target: null, room: "old" })),
    "root unarchived #old");
  assert.equal(auditText(entry("delete_room", { target: null, room: "old" })),
    "root deleted #old");
});

test("live figures: formatted, and a malformed answer is none", () => {
  assert.deepEqual(parseStats({ connections: 12, messages_per_second: 0.4,
    database_bytes: 25_165_824, node: "a" }),
  { connections: "12", rate: "0.4", database: "24 MB", node: "a" });
  assert.equal(parseStats({ connections: 1, messages_per_second: "x", database_bytes: 1 }), null);
  assert.equal(parseStats(null), null);
  assert.equal(formatRate(0), "0");
  assert.equal(formatRate(0.123), "0.12");
  assert.equal(formatRate(3.46), "3.5");
  assert.equal(formatRate(120.4), "120");
  assert.equal(formatBytes(512), "512 B");
  assert.equal(formatBytes(1536), "1.5 KB");
  assert.equal(formatBytes(1024 ** 3 * 1.25), "1.3 GB");
  assert.equal(formatBytes(-1), "?");
});

test("a paged list: pages appended, an answer to an older request dropped, errors kept", () => {
  const list = emptyList();
  const first = listBegin(list, "  bo ");
  assert.deepEqual(first, { serial: 1, query: "bo" });
  assert.equal(listNext(list, "name"), null); // a page is on its way
  assert.equal(listReceived(list, 1, { items: [{ name: "bob" }, { name: "bobby" }], more: true }),
    true);
  const next = listNext(list, "name");
  assert.deepEqual(next, { serial: 2, query: "bo", after: "bobby" });
  // A new search overtakes the page on its way: its answer no longer counts.
  const again = listBegin(list, "");
  assert.deepEqual(again, { serial: 3 });
  assert.equal(listReceived(list, 2, { items: [{ name: "boz" }], more: false }), false);
  assert.equal(listFailed(list, 2, "late"), false);
  assert.deepEqual(list.items, []);
  assert.equal(listFailed(list, 3, "database down"), true);
  assert.equal(list.error, "database down");
  assert.equal(list.loading, false);
  // The audit log pages backwards: `before` the last id.
  const audit = emptyList();
  listBegin(audit, "");
  listReceived(audit, audit.serial, { items: [{ id: 9 }, { id: 4 }], more: true });
  assert.deepEqual(listNext(audit, "id", "before"), { serial: 2, before: 4 });
  listReceived(audit, 2, { items: [{ id: 2 }], more: false });
  assert.deepEqual(audit.items.map((e) => e.id), [9, 4, 2]);
  assert.equal(listNext(audit, "id", "before"), null);
  listUpdate(audit, "id", { id: 4, seen: true });
  assert.equal(audit.items[1].seen, true);
  listRemove(audit, "id", 9);
  assert.deepEqual(audit.items.map((e) => e.id), [4, 2]);
});

test("a paged list ends with every item once, in order, whatever answers come late", () => {
  // Seeded: pages of a model list are asked, and answers to superseded requests arrive at
  // random moments; the list holds the model's items once each, in order.
  for (let seed = 1; seed <= 200; seed += 1) {
    let s = seed;
    const rand = (n) => {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      return Math.floor((s / 2 ** 32) * n);
    };
    const names = Array.from({ length: 1 + rand(30) }, (_, i) => `u${String(i).padStart(2, "0")}`);
    const size = 1 + rand(5);
    const serve = (params) => {
      const from = params.after ? names.indexOf(params.after) + 1 : 0;
      const items = names.slice(from, from + size).map((name) => ({ name }));
      return { items, more: from + size < names.length };
    };
    const list = emptyList();
    const late = [];
    let params = listBegin(list, "");
    if (rand(2)) { // a stale search answered late
      late.push([params.serial, serve(params)]);
      params = listBegin(list, "");
    }
    while (params) {
      if (late.length && rand(2)) listReceived(list, ...late.shift());
      listReceived(list, params.serial, serve(params));
      params = listNext(list, "name");
    }
    for (const answer of late) listReceived(list, ...answer);
    assert.deepEqual(list.items.map((u) => u.name), names, `seed ${seed}`);
  }
});

test("a query string leaves out the serial and empty params", () => {
  assert.equal(queryString({ serial: 3 }), "");
  assert.equal(queryString({ serial: 3, query: "a b&c", after: "bob" }),
    "?query=a+b%26c&after=bob");
  assert.equal(queryString({ before: 4, limit: 50, query: "" }), "?before=4&limit=50");
});

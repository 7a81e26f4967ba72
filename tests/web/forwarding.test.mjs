// Forwarding a message (forwarding.js): the destinations the "Forward message" dialog offers
// as one types, the choice of a room or of people, the `forward` request with its nonce kept
// for the same request and fresh for another, its resend after a lost connection, the words
// of a refusal and of the confirmation, and what a forwarded message's card reads.

import assert from "node:assert/strict";
import { test } from "node:test";

import * as forwarding from "../../clients/web/forwarding.js";
import { candidates, rank } from "../../clients/web/switcher.js";
import { apply, openResult, SEEK_CONTEXT } from "../../clients/web/state.js";
import { bodyOf } from "../../clients/web/alerts.js";
import { namesOnScreen } from "../../clients/web/profiles.js";
import { listExcerpt, quoteFor, shownMessage } from "../../clients/web/select-messages.js";
import { connected, historyPage, message, requests, roomInfo } from "./fixtures.mjs";

function page() {
  const { state } = connected([
    roomInfo("general"), roomInfo("design"), roomInfo("old", { archived: true }),
    roomInfo("@ann:bob", { peer: "bob" }),
    roomInfo("@ann:carol:dan", { kind: "group", peers: ["carol", "dan"] }),
  ], { contacts: [{ user: "erin", status: "online" }] });
  return state;
}

function nonces() {
  let count = 0;
  return { fresh: () => `n${++count}`, given: () => count };
}

const names = (choices) => choices.map((c) => `${c.kind}:${c.name}`);

test("with nothing typed: the rooms then the conversations, not archived ones, no people", () => {
  const state = page();
  assert.deepEqual(names(forwarding.destinations(state, "")), [
    "room:design", "room:general", "conversation:@ann:bob", "conversation:@ann:carol:dan"]);
  const labels = forwarding.destinations(state, "").map((c) => c.label);
  assert.deepEqual(labels, ["#design", "#general", "bob", "carol, dan"]);
});

test("typing filters rooms by name, conversations by their people, and offers people", () => {
  const state = page();
  assert.deepEqual(names(forwarding.destinations(state, "gen")), ["room:general"]);
  assert.deepEqual(names(forwarding.destinations(state, "#es")), ["room:design"],
    "a room holding what is typed; # keeps to rooms");
  assert.deepEqual(names(forwarding.destinations(state, "dan")),
    ["conversation:@ann:carol:dan", "person:dan"]);
  assert.deepEqual(names(forwarding.destinations(state, "@er")), ["person:erin"],
    "@ keeps to conversations and people");
  assert.deepEqual(names(forwarding.destinations(state, "zed")), ["person:zed"],
    "a user name typed that nothing else matches is offered as typed");
  assert.deepEqual(names(forwarding.destinations(state, "@gen")), ["person:gen"]);
  assert.deepEqual(names(forwarding.destinations(state, "ann")), [],
    "not the person themselves");
  assert.deepEqual(names(forwarding.destinations(state, "a b")), [], "no user name");
});

test("the quick switcher's matcher: accents folded, a word's start before a substring", () => {
  const { state } = connected([
    roomInfo("brev"), roomInfo("zz-rev"), roomInfo("review"),
    roomInfo("@ann:bob", { peer: "bob" }),
  ], { contacts: ["erin"] });
  apply(state, { op: "profile", user: "bob", display_name: "Zoë Bérard" });
  apply(state, { op: "profile", user: "erin", display_name: "Érin Stone" });
  assert.deepEqual(names(forwarding.destinations(state, "zoe")),
    ["conversation:@ann:bob", "person:bob"], "Zoë's conversation and Zoë, by \"zoe\"");
  assert.deepEqual(names(forwarding.destinations(state, "berard")),
    ["conversation:@ann:bob", "person:bob"], "a word of a display name");
  assert.deepEqual(names(forwarding.destinations(state, "erin")), ["person:erin"]);
  assert.deepEqual(forwarding.destinations(state, "erin")[0].label, "Érin Stone (erin)");
  // The start of a name, then of a word (zz-rev), then anywhere (brev): as the switcher.
  const rooms = names(forwarding.destinations(state, "rev"));
  assert.deepEqual(rooms, ["room:review", "room:zz-rev", "room:brev"]);
  assert.deepEqual(rank(candidates(state), "rev").map((item) => `room:${item.room}`), rooms,
    "the switcher ranks them the same");
  assert.deepEqual(names(forwarding.destinations(state, "#REV")), rooms, "case and # ignored");
});

test("what is chosen is not offered again, and the list is cut", () => {
  const state = page();
  assert.deepEqual(names(forwarding.destinations(state, "", { target: { room: "general" } })),
    ["room:design", "conversation:@ann:bob", "conversation:@ann:carol:dan"]);
  assert.deepEqual(names(forwarding.destinations(state, "er", { target: { people: ["erin"] } })),
    ["room:general"]);
  assert.equal(forwarding.destinations(state, "", { most: 2 }).length, 2);
});

test("a room replaces people, a person replaces a room, people add up to the limit", () => {
  let target = null;
  ({ target } = forwarding.choose(target, { kind: "person", name: "bob" }, "ann"));
  ({ target } = forwarding.choose(target, { kind: "person", name: "Carol" }, "ann"));
  assert.deepEqual(target, { people: ["bob", "Carol"] });
  assert.deepEqual(forwarding.choose(target, { kind: "person", name: "ann" }, "ann"),
    { target, problem: "You are in the conversation already." });
  ({ target } = forwarding.choose(target, { kind: "room", name: "design" }, "ann"));
  assert.deepEqual(target, { room: "design" });
  ({ target } = forwarding.choose(target, { kind: "person", name: "dan" }, "ann"));
  assert.deepEqual(target, { people: ["dan"] });
  for (const user of ["e1", "e2", "e3", "e4", "e5", "e6"]) {
    ({ target } = forwarding.choose(target, { kind: "person", name: user }, "ann"));
  }
  assert.equal(target.people.length, 7);
  const over = forwarding.choose(target, { kind: "person", name: "e7" }, "ann");
  assert.equal(over.target, target);
  assert.match(over.problem, /at most 8 people/);
  assert.deepEqual(forwarding.unchoose({ people: ["bob", "dan"] }, "BOB"), { people: ["dan"] });
  assert.equal(forwarding.unchoose({ people: ["dan"] }, "dan"), null);
  assert.equal(forwarding.unchoose({ room: "design" }, "design"), null);
});

test("the destination's words", () => {
  const state = page();
  assert.equal(forwarding.targetLabel(state, { room: "design" }), "#design");
  assert.equal(forwarding.targetLabel(state, { room: "@ann:carol:dan" }), "carol, dan");
  assert.equal(forwarding.targetLabel(state, { people: ["dan", "bob"] }), "bob, dan");
  assert.equal(forwarding.targetLabel(state, null), "");
});

test("the request: to_room or to, the comment trimmed, and a nonce", () => {
  const { fresh } = nonces();
  const toRoom = forwarding.forwardRequest(forwarding.newForward("general", 1005),
    { target: { room: "design" }, text: "  look  ", fresh });
  assert.deepEqual(toRoom, { fields: { room: "general", msg_id: 1005, to_room: "design",
    text: "look", nonce: "n1" } });
  const toOne = forwarding.forwardRequest(forwarding.newForward("general", 1005),
    { target: { people: ["bob"] }, text: "", fresh });
  assert.deepEqual(toOne.fields, { room: "general", msg_id: 1005, to: "bob", nonce: "n2" });
  const toGroup = forwarding.forwardRequest(forwarding.newForward("general", 1005),
    { target: { people: ["bob", "carol"] }, fresh });
  assert.deepEqual(toGroup.fields.to, ["bob", "carol"]);
});

test("what cannot be sent says why and takes no nonce", () => {
  const { fresh, given } = nonces();
  const forward = forwarding.newForward("general", 1005);
  assert.deepEqual(forwarding.forwardRequest(forward, { target: null, fresh }),
    { problem: "Choose where to forward the message." });
  assert.match(forwarding.forwardRequest(forward, { target: { room: "design" },
    text: "x".repeat(11), max: 10, fresh }).problem, /at most 10 characters: .* 1 too many/);
  assert.ok(forwarding.forwardRequest(forward, { target: { room: "design" },
    text: "👍".repeat(10), max: 10, fresh }).fields, "counted in code points, as the server");
  assert.equal(given(), 1);
});

test("the same forward again keeps its nonce; another destination or comment takes a fresh one",
  () => {
    const { fresh } = nonces();
    const forward = forwarding.newForward("general", 1005);
    const at = (target, text = "") => forwarding.forwardRequest(forward,
      { target, text, fresh }).fields.nonce;
    assert.equal(at({ room: "design" }), "n1");
    assert.equal(at({ room: "design" }, "  "), "n1", "the same once trimmed");
    assert.equal(at({ room: "design" }, "see"), "n2");
    assert.equal(at({ people: ["bob"] }, "see"), "n3");
    assert.equal(at({ people: ["bob"] }, "see"), "n3");
    assert.equal(at({ room: "design" }), "n4", "the last one sent is the one remembered");
  });

test("a lost connection sends the same request again once back online", async () => {
  const fields = { room: "general", msg_id: 1005, to_room: "design", nonce: "n1" };
  const sent = [];
  let online = 0;
  const replies = [{ code: "disconnected" }, { code: "shutting_down" }, null];
  const reply = await forwarding.sendForward(fields, {
    ask: (op, asked) => {
      sent.push([op, asked]);
      const error = replies.shift();
      return error ? Promise.reject(error) : Promise.resolve({ op: "ok", room: "design", seq: 4 });
    },
    backOnline: async () => {
      online += 1;
      return true;
    },
  });
  assert.deepEqual(reply, { op: "ok", room: "design", seq: 4 });
  assert.equal(sent.length, 3);
  assert.ok(sent.every(([op, asked]) => op === "forward" && asked === fields), "unchanged");
  assert.equal(online, 2);
});

test("a refusal is not sent again; giving up while offline abandons", async () => {
  let asked = 0;
  await assert.rejects(forwarding.sendForward({}, {
    ask: () => {
      asked += 1;
      return Promise.reject({ code: "forbidden", message: "not a member of design" });
    },
    backOnline: async () => true,
  }), { code: "forbidden" });
  assert.equal(asked, 1);
  await assert.rejects(forwarding.sendForward({}, {
    ask: () => Promise.reject({ code: "disconnected" }),
    backOnline: async () => false,
  }), { code: "abandoned" });
});

test("the words of a refusal", () => {
  assert.equal(forwarding.refusal({ code: "forbidden", message: "not a member of design" }),
    "You cannot forward it there: not a member of design");
  assert.match(forwarding.refusal({ code: "not_forwardable", message: "x" }), /poll/);
  assert.equal(forwarding.refusal({ code: "unknown_op" }), "This server cannot forward messages.");
  assert.equal(forwarding.refusal({ code: "not_found", message: "no user called zed" }),
    "Not forwarded: no user called zed");
  assert.match(forwarding.refusal({ code: "archived", message: "x" }), /archived/);
  assert.match(forwarding.refusal({ code: "quota_exceeded", message: "x" }), /quota/);
  assert.equal(forwarding.refusal({}), "The message could not be forwarded.");
});

test("the confirmation names the destination and where it went", () => {
  assert.deepEqual(forwarding.confirmation({ room: "design", seq: 3 }, { label: "#design" }),
    { room: "design", text: "Forwarded to #design." });
  assert.deepEqual(forwarding.confirmation({ room: "@ann:bob:carol" }, { me: "ann" }),
    { room: "@ann:bob:carol", text: "Forwarded to bob, carol." });
  assert.deepEqual(forwarding.confirmation({}), { room: null, text: "Forwarded." });
});

test("a forwarded message's card: room and seq only together, nothing once deleted", () => {
  const at = { from: "bob", ts: 5, text: "hello @ann", room: "general", seq: 7 };
  assert.deepEqual(forwarding.forwardedOf({ forwarded: at }), at);
  assert.deepEqual(forwarding.forwardedOf({ forwarded: { ...at, room: null, seq: null } }),
    { ...at, room: null, seq: null });
  assert.deepEqual(forwarding.forwardedOf({ forwarded: { ...at, seq: null } }),
    { ...at, room: null, seq: null }, "a room without its seq says nothing of it");
  assert.equal(forwarding.forwardedOf({ forwarded: at, deleted: true }), null);
  assert.equal(forwarding.forwardedOf({ text: "plain" }), null);
  assert.equal(forwarding.forwardedOf({ forwarded: { text: "no sender" } }), null);
  assert.deepEqual(forwarding.sourceOf(forwarding.forwardedOf({ forwarded: at })),
    { room: "general", seq: 7 });
  assert.equal(forwarding.sourceOf(forwarding.forwardedOf({ forwarded: { ...at, room: null,
    seq: null } })), null);
});

test("a forward is kept with its card; deleting it takes the forwarded words too", () => {
  const state = page();
  const forwarded = { from: "bob", ts: 5, text: "hello @ann", room: null, seq: null };
  apply(state, message("design", 1, "carol", "fyi", { forwarded }));
  const room = state.rooms.get("design");
  assert.deepEqual(forwarding.forwardedOf(room.messages.get(1)), forwarded);
  const view = shownMessage(state, room, room.messages.get(1));
  assert.equal(view.mentionsMe, false, "a mention in the forwarded text is not the reader's");
  assert.equal(forwarding.canForward(view), true);
  apply(state, { op: "deleted", room: "design", seq: 2, msg_id: 1001, ts: 9 });
  const gone = room.messages.get(1);
  assert.equal(gone.deleted, true);
  assert.equal(gone.forwarded, undefined);
  assert.equal(forwarding.canForward(shownMessage(state, room, gone)), false);
});

test("a poll, a deleted message and one not stored yet are not offered to forward", () => {
  const state = page();
  apply(state, message("design", 1, "carol", "lunch?", { poll: { options: [
    { text: "a", voters: [] }, { text: "b", voters: [] }], multiple: false } }));
  const room = state.rooms.get("design");
  assert.equal(forwarding.canForward(shownMessage(state, room, room.messages.get(1))), false);
  assert.equal(forwarding.canForward({ message: { text: "x" }, deleted: false }), false);
});

test("the card's source opens its room at the message known by its seq alone", () => {
  const { state } = connected([roomInfo("a-first", { lastSeq: 0 }),
    roomInfo("general", { lastSeq: 1000 })]);
  const [latest] = requests(openResult(state, { room: "general", msgId: null, seq: 700 }))
    .filter((r) => r.op === "history");
  assert.equal(state.current, "general");
  const [back] = requests(apply(state, { op: "ok", id: 2, room: "general",
    messages: historyPage("general", 951, 1000), more: true }, { request: latest }));
  assert.deepEqual(back, { op: "history", room: "general", before: 951,
    limit: 951 - 700 + SEEK_CONTEXT });
  apply(state, { op: "ok", id: 3, room: "general",
    messages: historyPage("general", 951 - back.limit, 950),
    more: true }, { request: back });
  assert.deepEqual(state.jump, { room: "general", msgId: 1700, tick: 1 });
  assert.equal(state.rooms.get("general").seeking, null);
  // Held now: shown at once.
  assert.deepEqual(openResult(state, { room: "general", msgId: null, seq: 960 }), []);
  assert.deepEqual(state.jump, { room: "general", msgId: 1960, tick: 2 });
});

test("a forward without a comment reads as what it forwards in a notification and a quote",
  () => {
    const forwarded = { from: "bob", ts: 5, text: "the **build** is green", room: null,
      seq: null };
    assert.equal(bodyOf({ text: "", forwarded }), "Forwarded: the build is green");
    assert.equal(bodyOf({ text: "look", forwarded }), "look", "the comment first");
    assert.equal(bodyOf({ text: "" }), "New message");
    const state = page();
    apply(state, message("design", 1, "carol", "", { forwarded }));
    apply(state, message("design", 2, "dan", "nice", { reply_to: 1001 }));
    const room = state.rooms.get("design");
    assert.equal(quoteFor(room, room.messages.get(2)).text, "Forwarded: the **build** is green");
  });

test("a list's excerpt (Pins, Saved, Threads) of a forward without a comment says Forwarded:",
  () => {
    const forwarded = { from: "bob", ts: 5, text: "the **build** is green", room: null,
      seq: null };
    assert.equal(listExcerpt({ text: "", forwarded }), "Forwarded: the build is green");
    assert.equal(listExcerpt({ text: "look", forwarded }), "look", "the comment first");
    assert.equal(listExcerpt({ text: "", forwarded: { ...forwarded, text: "x".repeat(300) } }),
      `Forwarded: ${"x".repeat(108)}…`, "cut as any excerpt");
    assert.equal(listExcerpt({ text: "", deleted: true, forwarded }), "",
      "a deleted forward's words went with it");
    assert.equal(listExcerpt({ text: "", files: [{ id: 1, name: "a.png", size: 1 }] }),
      "📎 a.png", "no text: the files");
    assert.equal(listExcerpt({}), "");
  });

test("the author of what a forward forwards is among the names whose profiles are asked", () => {
  const state = page();
  apply(state, message("general", 1, "carol", "fyi", { forwarded: { from: "zoe", ts: 5,
    text: "x", room: null, seq: null } }));
  state.current = "general";
  assert.ok(namesOnScreen(state).includes("zoe"));
  assert.ok(namesOnScreen(state).includes("carol"));
});

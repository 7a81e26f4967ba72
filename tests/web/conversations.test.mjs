// Group conversations on the page (conversations.js, and state.js/alerts.js/missed.js where
// they decide by it): canonical names from the people picked, labels, the picker's rules, a
// draft that its first message makes real, and alerts by level (docs/protocol.md,
// "Conversations", and the gdm protocol's "Alerts").

import assert from "node:assert/strict";
import { test } from "node:test";

import {
  alertFor, defaultLevel, levelOf, levelsFor, placeLabel, titleCount, titleText,
} from "../../clients/web/alerts.js";
import { moderates, runs } from "../../clients/web/admin.js";
import {
  andList, conversationLabel, conversationName, cutList, isConversation, kindOfName, knownPeople,
  MAX_OTHERS, alertPlace, nameLabel, othersOf, pick, pickSuggestions, sendTo, startLine,
  typedPerson,
} from "../../clients/web/conversations.js";
import { awayText, missedOf } from "../../clients/web/missed.js";
import { request, restore } from "../../clients/web/outbox.js";
import { emptyProfiles, learn } from "../../clients/web/profiles.js";
import { firstRoom, olderStatus, sortedRooms } from "../../clients/web/select.js";
import {
  apply, compose, connectionChanged, initialState, openConversation, selectRoom,
} from "../../clients/web/state.js";
import { Room } from "../../clients/web/store.js";
import { connected, message, requests, roomInfo, seqs, welcome } from "./fixtures.mjs";

const GROUP = "@ann:bob:carol";
const groupInfo = (room = GROUP, extra = {}) => roomInfo(room, { kind: "group",
  peers: ["Bob", "carol"], ...extra });

/** Every order and case of `names`. */
function orders(names) {
  if (names.length <= 1) return [names];
  return names.flatMap((name, at) => orders([...names.slice(0, at), ...names.slice(at + 1)])
    .map((rest) => [name, ...rest]));
}

test("a conversation's name is its people's, in lower case, sorted, whoever picks them in any order", () => {
  for (const people of orders(["Carol", "bob", "DAN"])) {
    assert.equal(conversationName("Ann", people), "@ann:bob:carol:dan");
  }
  assert.equal(conversationName("carol", ["ANN", "Bob"]), "@ann:bob:carol"); // whoever starts it
  // Repeats and oneself fold away: two people are the 1:1, one is notes to self.
  assert.equal(conversationName("ann", ["bob", "Bob", "ann"]), "@ann:bob");
  assert.equal(conversationName("ann", []), "@ann:ann");
  assert.equal(conversationName("ann", ["ANN"]), "@ann:ann");
  // By code point, not by locale: "_" (0x5f) sorts after "Z" but before "a".
  assert.equal(conversationName("zed", ["_x", "a.b"]), "@_x:a.b:zed");
  // At most 8 people in all; no name that is no user name.
  const seven = ["b1", "b2", "b3", "b4", "b5", "b6", "b7"];
  assert.equal(conversationName("ann", seven), "@ann:b1:b2:b3:b4:b5:b6:b7");
  assert.equal(conversationName("ann", [...seven, "b8"]), null);
  assert.equal(conversationName("ann", ["bob", "car ol"]), null);
  assert.equal(conversationName("ann", ["bob:carol"]), null);
});

test("a name says its kind; only a room is not a conversation", () => {
  assert.equal(kindOfName("general"), "room");
  assert.equal(kindOfName("@ann:bob"), "dm");
  assert.equal(kindOfName("@ann:ann"), "dm");
  assert.equal(kindOfName(GROUP), "group");
  assert.equal(new Room(GROUP).kind, "group");
  assert.equal(new Room(GROUP).private, true);
  assert.equal(isConversation(new Room("@ann:bob")), true);
  assert.equal(isConversation(new Room(GROUP)), true);
  assert.equal(isConversation(new Room("general")), false);
  // Moderation controls are for rooms: a conversation has no owner, moderator or topic.
  const group = new Room(GROUP);
  group.role = "owner";
  assert.equal(moderates(group, true), false);
  assert.equal(runs(group, true), false);
});

test("a label names the others by display name, sorted ignoring case, cut after three", () => {
  const cache = emptyProfiles();
  learn(cache, "carol", { display_name: "Carol Danvers" });
  learn(cache, "Bob", { display_name: "bobby" });
  const room = new Room(GROUP);
  room.peers = ["Bob", "carol"];
  assert.deepEqual(othersOf(room, "ann"), ["Bob", "carol"]);
  assert.equal(conversationLabel(cache, room, "ann"), "bobby, Carol Danvers");
  assert.equal(conversationLabel(null, room, "ann"), "Bob, carol");
  const big = new Room("@ann:bob:carol:dan:eve:fay");
  assert.deepEqual(othersOf(big, "ANN"), ["bob", "carol", "dan", "eve", "fay"]); // from the name
  assert.equal(conversationLabel(cache, big, "ann"), "bobby, Carol Danvers, dan +2");
  assert.equal(big.label, "ann, bob, carol +3"); // (the room itself: before `me` is known)
  assert.equal(cutList(["a", "b"], 1), "a +1");
  assert.equal(andList(["Bob"]), "Bob");
  assert.equal(andList(["Bob", "Carol", "Dan"]), "Bob, Carol and Dan");
  assert.equal(alertPlace(cache, big, "ann", "DAN"), "bobby, Carol Danvers, eve, fay & you");
  const trio = new Room("@ann:bob:carol:dan");
  assert.equal(startLine(null, trio, "ann"), "your conversation with bob, carol and dan");
  // A room the page does not hold, by its name alone.
  assert.equal(nameLabel("general", "ann"), "#general");
  assert.equal(nameLabel("@ann:bob", "ann"), "bob");
  assert.equal(nameLabel("@ann:ann", "ann"), "ann");
  assert.equal(nameLabel("@ann:bob:carol", "Ann"), "bob, carol");
});

test("the picker takes each person once, never oneself, at most seven", () => {
  let picked = [];
  for (const user of ["Bob", "bob", "@carol", " dan "]) ({ picked } = pick(picked, user, "ann"));
  assert.deepEqual(picked, ["Bob", "carol", "dan"]);
  assert.equal(pick(picked, "ANN", "ann").problem, "You are in the conversation already.");
  assert.equal(pick(picked, "no such", "ann").problem, "That is not a user name.");
  for (let n = picked.length; n < MAX_OTHERS; n += 1) ({ picked } = pick(picked, `p${n}`, "ann"));
  assert.equal(picked.length, 7);
  const over = pick(picked, "one-more", "ann");
  assert.deepEqual(over.picked, picked);
  assert.equal(over.problem, "A conversation has at most 8 people.");
});

test("names complete by login or a word of the display name, not oneself nor those picked", () => {
  const cache = emptyProfiles();
  learn(cache, "cdanvers", { display_name: "Carol Danvers" });
  const known = ["Bob", "bob", "ann", "cdanvers", "Carla", "dan"];
  assert.deepEqual(pickSuggestions(known, "ca", { me: "ann", cache }), ["Carla", "cdanvers"]);
  // A name that starts with it first, then a word of one, then one holding it (matcher.js).
  assert.deepEqual(pickSuggestions(known, "dan", { me: "ann", cache }), ["dan", "cdanvers"]);
  assert.deepEqual(pickSuggestions(known, "b", { me: "ann", picked: ["BOB"], cache }), []);
  assert.deepEqual(pickSuggestions(known, "nn", { me: "ann", cache }), [], "never oneself");
  assert.deepEqual(pickSuggestions(known, "@rl", { me: "ann", cache }), ["Carla"]);
  // Accents and case folded, as the quick switcher and the forward dialog match: "zoe" finds
  // Zoë by her display name (her login is another), "ANGS" finds Ångström, "@Zoë" her too.
  learn(cache, "zbrown", { display_name: "Zoë Ångström" });
  const people = ["zbrown", "Bob", "zora"];
  assert.deepEqual(pickSuggestions(people, "zoe", { me: "ann", cache }), ["zbrown"]);
  assert.deepEqual(pickSuggestions(people, "ANGS", { me: "ann", cache }), ["zbrown"]);
  assert.deepEqual(pickSuggestions(people, "@Zoë", { me: "ann", cache }), ["zbrown"]);
  assert.deepEqual(pickSuggestions(people, "zo", { me: "ann", cache }), ["zbrown", "zora"]);
  // Enter takes the only suggestion when it starts with what is typed (or a word of it does),
  // not one that merely holds it: "al" is a login of its own, not Sally.
  assert.equal(typedPerson(["Zbrown"], "zbrown"), "Zbrown");
  assert.equal(typedPerson(["zbrown"], "zoë", cache), "zbrown");
  assert.equal(typedPerson(["zbrown"], "angs", cache), "zbrown");
  assert.equal(typedPerson(["sally"], "@al", cache), "al");
  assert.equal(typedPerson(["zbrown", "zora"], "zo", cache), "zo");
  assert.equal(typedPerson([], "  "), null);
  // The people the page knows: contacts, conversations' others, members listed, profiles.
  const { state } = connected([roomInfo("@ann:bob", { peer: "Bob" }), groupInfo()],
    { contacts: [{ user: "zoe", status: "online" }] });
  assert.deepEqual(knownPeople(state).sort(), ["Bob", "ann", "carol", "zoe"]); // (ann: her profile)
});

test("picking people opens the conversation the page holds, by its canonical name", () => {
  const { state } = connected([roomInfo("general"), groupInfo()]);
  openConversation(state, ["CAROL", "bob"]);
  assert.equal(state.current, GROUP);
  assert.equal(state.rooms.get(GROUP).draft, false);
  assert.equal(state.rooms.size, 2); // no second conversation of the same people
  openConversation(state, ["Bob"]); // one person: the 1:1 (a draft)
  assert.equal(state.current, "@ann:bob");
  assert.equal(state.rooms.get("@ann:bob").kind, "dm");
});

test("a new group is a draft until its first message: `dm` to them all, then a real room", () => {
  const { state } = connected([roomInfo("general")]);
  openConversation(state, ["Carol", "bob", "carol"]);
  const room = state.rooms.get(GROUP);
  assert.equal(state.current, GROUP);
  assert.equal(room.kind, "group");
  assert.equal(room.draft, true);
  assert.deepEqual(othersOf(room, "ann"), ["Carol", "bob"]);
  // In the sidebar with the conversations, after the rooms.
  assert.deepEqual(sortedRooms(state, "dm").map((r) => r.name), [GROUP]);
  assert.deepEqual(sortedRooms(state, "room").map((r) => r.name), ["general"]);
  const [send] = requests(compose(state, { text: "hi both", nonce: "n1", now: 5 }));
  assert.deepEqual(send, { op: "dm", to: ["Carol", "bob"], text: "hi both", nonce: "n1" });
  const effects = apply(state, { op: "ok", id: 3, room: GROUP, seq: 1, msg_id: 7, ts: 9 },
    { request: send });
  assert.equal(room.draft, false);
  assert.equal(room.head, 1);
  assert.deepEqual(seqs(state, GROUP), [1]);
  assert.deepEqual(effects, [{ refreshRooms: true }, { request: { op: "who", room: GROUP } },
    { request: { op: "receipts", room: GROUP } }]); // (where the others have read: receipts.js)
  // The room object names the others as registered; later messages go to the name.
  apply(state, { op: "ok", id: 4, rooms: [groupInfo(GROUP, { lastSeq: 1, peers: ["Bob", "Carol"] })] },
    { request: { op: "rooms" } });
  assert.deepEqual(room.peers, ["Bob", "Carol"]);
  assert.equal(room.label, "Bob, Carol");
  const [next] = requests(compose(state, { text: "again", nonce: "n2", now: 6 }));
  assert.deepEqual(next, { op: "send", room: GROUP, text: "again", nonce: "n2" });
  assert.equal(sendTo(room, "ann"), null);
});

test("a draft becomes real when the first message's event comes before the ack", () => {
  const { state } = connected([roomInfo("general")]);
  openConversation(state, ["bob", "carol"]);
  compose(state, { text: "hi", nonce: "n1", now: 5 });
  apply(state, message(GROUP, 1, "ann", "hi", { nonce: "n1" }));
  const room = state.rooms.get(GROUP);
  assert.equal(room.draft, false);
  assert.deepEqual(seqs(state, GROUP), [1]);
  assert.equal(state.outbox.length, 0);
});

test("a group someone else starts appears with its first message, named by its others", () => {
  const { state } = connected([roomInfo("general")]);
  const effects = apply(state, message("@ann:bob:carol:dan", 1, "Bob", "hello all"));
  const room = state.rooms.get("@ann:bob:carol:dan");
  assert.equal(room.kind, "group");
  assert.deepEqual(othersOf(room, "ann"), ["bob", "carol", "dan"]);
  assert.equal(room.label, "bob, carol, dan");
  assert.ok(effects.some((effect) => effect.refreshRooms)); // its room object is asked for
  assert.equal(room.unread, 1);
  assert.equal(placeLabel(state, room.name), "bob, carol, dan");
});

test("the tab's title names a conversation by display names, as the sidebar does", () => {
  const { state } = connected([roomInfo("general"), roomInfo("@ann:bob", { peer: "bob" }),
    groupInfo()]);
  learn(state.profiles, "bob", { display_name: "Bob Stone" });
  selectRoom(state, "@ann:bob");
  assert.equal(titleText(state), "Bob Stone · chatd");
  selectRoom(state, GROUP);
  assert.match(titleText(state), /^Bob Stone, /);
});

test("the welcome lists a group beside the 1:1s; the first room still opens first", () => {
  const { state } = connected([groupInfo(), roomInfo("@ann:bob", { peer: "Bob" }),
    roomInfo("general")]);
  assert.equal(firstRoom(state).name, "general");
  assert.deepEqual(sortedRooms(state, "dm").map((r) => r.name), ["@ann:bob", GROUP]);
  const group = state.rooms.get(GROUP);
  group.loaded = true;
  group.add([message(GROUP, 1)], "ann");
  assert.equal(olderStatus(group, state), "This is the start of your conversation with Bob and carol.");
});

test("a group's notify menu has the three levels, all by default; a 1:1's two", () => {
  assert.equal(defaultLevel("group"), "all");
  assert.deepEqual(levelsFor(new Room(GROUP)), ["all", "mentions", "none"]);
  assert.deepEqual(levelsFor(new Room("@ann:bob")), ["all", "none"]);
  assert.equal(levelOf(new Room(GROUP)), "all");
});

const ON = { desktop: true, sound: true, permission: "granted" };
const NOW = 1_000_100;

/** ann's page with a group (at `notify`) and another room open, alerts on. */
function alerted(notify) {
  const state = initialState({ me: "ann", visible: true, focused: true, alerts: { ...ON } });
  connectionChanged(state, "online");
  apply(state, welcome([roomInfo("general"), groupInfo(GROUP, { lastSeq: 0,
    ...(notify ? { notify } : {}) })]));
  selectRoom(state, "general");
  const room = state.rooms.get(GROUP);
  const plain = message(GROUP, 1, "Bob", "lunch?");
  const mention = message(GROUP, 2, "Bob", "@ann lunch?", { mentions: ["ann"] });
  return { state, room, plain, mention };
}

test("a group at all alerts every message as a direct message, named by its people", () => {
  const { state, room, plain, mention } = alerted(null);
  const alert = alertFor(state, room, plain, NOW);
  assert.equal(alert.kind, "dm");
  assert.equal(alert.title, "Bob in carol & you"); // as the server's pushes say it
  assert.equal(alertFor(state, room, mention, NOW).kind, "mention");
  room.unread = 1;
  assert.deepEqual(titleCount(state), { count: 1, urgent: true });
  assert.deepEqual(missedOf(room, { unread: 2, mentions: 0 }), { kind: "dm", count: 2 });
  assert.equal(awayText([{ room, missed: { kind: "dm", count: 2 } }]),
    "While you were away: 2 messages in Bob, carol.");
});

test("a group at mentions alerts only the messages that name the person; at none, nothing", () => {
  const mentionsOnly = alerted("mentions");
  assert.equal(alertFor(mentionsOnly.state, mentionsOnly.room, mentionsOnly.plain, NOW), null);
  assert.equal(alertFor(mentionsOnly.state, mentionsOnly.room, mentionsOnly.mention, NOW).kind,
    "mention");
  mentionsOnly.room.unread = 1;
  assert.deepEqual(titleCount(mentionsOnly.state), { count: 1, urgent: false });
  assert.equal(missedOf(mentionsOnly.room, { unread: 2, mentions: 0 }), null);
  assert.deepEqual(missedOf(mentionsOnly.room, { unread: 2, mentions: 1 }),
    { kind: "mention", count: 1 });
  const muted = alerted("none");
  assert.equal(alertFor(muted.state, muted.room, muted.plain, NOW), null);
  assert.equal(alertFor(muted.state, muted.room, muted.mention, NOW), null);
  assert.equal(missedOf(muted.room, { unread: 2, mentions: 1 }), null);
});

test("a 1:1 still alerts every message at all, and its notify menu is unchanged", () => {
  const state = initialState({ me: "ann", visible: true, focused: true, alerts: { ...ON } });
  connectionChanged(state, "online");
  apply(state, welcome([roomInfo("general"), roomInfo("@ann:bob", { peer: "Bob" })]));
  selectRoom(state, "general");
  const alert = alertFor(state, state.rooms.get("@ann:bob"), message("@ann:bob", 1, "Bob"), NOW);
  assert.equal(alert.kind, "dm");
  assert.equal(alert.title, "Bob");
});

test("a group started with a message from the dialog opens as the room the ack made", () => {
  const { state } = connected([roomInfo("general")]);
  const asked = { op: "dm", to: ["carol", "Bob"], text: "hi", nonce: "d1" };
  apply(state, { op: "ok", id: 5, room: GROUP, seq: 1, msg_id: 3, ts: 4 }, { request: asked });
  openConversation(state, ["carol", "Bob"]);
  const room = state.rooms.get(GROUP);
  assert.equal(state.current, GROUP);
  assert.equal(room.draft, false);
  assert.deepEqual(seqs(state, GROUP), [1]);
  assert.equal(placeLabel(state, GROUP), "bob, carol");
});

test("a draft group's first message kept across a reload is sent again to them all", () => {
  const saved = JSON.parse(JSON.stringify([{ nonce: "n1", room: GROUP, to: ["Bob", "carol"],
    text: "hi", ts: 5, status: "sending" }, { nonce: "n2", room: GROUP, to: [3], text: "x" }]));
  const [kept, odd] = restore(saved);
  assert.deepEqual(request(kept), { op: "dm", to: ["Bob", "carol"], text: "hi", nonce: "n1" });
  assert.deepEqual(request(odd), { op: "send", room: GROUP, text: "x", nonce: "n2" });
});

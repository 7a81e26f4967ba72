// Sections (sections.js, state.js moveToSection/collapseSection/shiftSection, select.js
// sectionLists): the welcome's list and the rooms in it, a move shown at once with the
// server's last word, a refusal put back, what a collapsed section lists, moving one up and
// down, another device's changes, a deleted section's rooms back in their lists, favourites
// on top, and /section.

import assert from "node:assert/strict";
import { test } from "node:test";

import { planCommand } from "../../clients/web/commands.js";
import {
  createdId, deleteText, emptyText, listOf, MAX_NAME, named, nameProblem, placeOf, usualList,
} from "../../clients/web/sections.js";
import {
  apply, collapseSection, connectionChanged, initialState, moveToSection, openDm, selectRoom,
  setFavourite, shiftSection,
} from "../../clients/web/state.js";
import {
  firstRoom, roomOrder, sectionHolds, sectionLists, sortedRooms,
} from "../../clients/web/select.js";
import { markSectionRead, sectionUnread } from "../../clients/web/readmarks.js";
import { connected, message, requests, roomInfo } from "./fixtures.mjs";

const DM = "@ann:bob";
const names = (rooms) => rooms.map((room) => room.name);
const WORK = { id: 1, name: "Work", collapsed: false };
const LATER = { id: 2, name: "Later", collapsed: false };

/** What each of the person's sections lists, by name: {Work: [...], Later: [...]}. */
function listed(state) {
  return Object.fromEntries(sectionLists(state).map(({ section, listed: rooms }) =>
    [section.name, names(rooms)]));
}

/** Ann's page: #general, #random, #zoo, her conversations with Bob and Carol; two sections. */
function page({ sections = [WORK, LATER], ...extra } = {}) {
  const { state } = connected([
    roomInfo("general", { lastSeq: 3, section: null, ...extra.general }),
    roomInfo("random", { lastSeq: 2, section: 1, ...extra.random }),
    roomInfo("zoo", { lastSeq: 1, section: 1, ...extra.zoo }),
    roomInfo(DM, { lastSeq: 5, readSeq: 5, peer: "bob", section: 2, ...extra[DM] }),
    roomInfo("@ann:carol", { lastSeq: 2, readSeq: 2, peer: "carol", ...extra["@ann:carol"] }),
  ]);
  apply(state, { op: "sections", sections: structuredClone(sections) });
  return state;
}

/** The welcome says the list itself: the page above, told in its welcome. */
function welcomed(sections = [WORK, LATER]) {
  const state = initialState({ me: "ann" });
  connectionChanged(state, "online");
  apply(state, { op: "welcome", id: 1, user: { id: 1, name: "ann" }, contacts: [],
    sections: structuredClone(sections), rooms: [
      roomInfo("general", { lastSeq: 3 }), roomInfo("random", { lastSeq: 2, section: 1 }),
      roomInfo("zoo", { lastSeq: 1, section: 1 }),
      roomInfo(DM, { lastSeq: 5, readSeq: 5, peer: "bob", section: 2 }),
      roomInfo("@ann:carol", { lastSeq: 2, readSeq: 2, peer: "carol" })] });
  return state;
}

function reply(state, asked, fields = {}) {
  return apply(state, { op: "ok", id: 9, ...fields }, { request: asked });
}

function refuse(state, asked, code = "not_found", text = "no such section") {
  return apply(state, { op: "error", id: 9, code, message: text }, { request: asked });
}

test("the welcome's sections list their rooms, between Favourites and the usual lists", () => {
  const state = welcomed();
  assert.equal(state.sections.supported, true);
  assert.deepEqual(listed(state), { Work: ["random", "zoo"], Later: [DM] });
  assert.deepEqual(names(sortedRooms(state, "room")), ["general"], "not again in Rooms");
  assert.deepEqual(names(sortedRooms(state, "dm")), ["@ann:carol"]);
  assert.deepEqual(roomOrder(state), ["random", "zoo", DM, "general", "@ann:carol"],
    "Alt+Down walks them as the sidebar lists them");
  assert.equal(firstRoom(state).name, "random", "the first the sidebar lists opens");
  assert.equal(state.current, "random");
  // A server that keeps none says no `sections`: none, and every room in its usual list.
  const { state: old } = connected([roomInfo("general", { lastSeq: 1, section: 4 })]);
  assert.equal(old.sections.supported, false);
  assert.deepEqual(sectionLists(old), []);
  assert.deepEqual(names(sortedRooms(old, "room")), ["general"], "a section it does not list");
  assert.deepEqual(moveToSection(old, "general", null), []);
});

test("a section's rooms and conversations together, by label; a favourite only on top", () => {
  const state = page({ general: { section: 1 }, zoo: { favourite: true, favourite_at: 5 } });
  assert.deepEqual(listed(state), { Work: ["general", "random"], Later: [DM] });
  assert.deepEqual(names(sortedRooms(state, "favourite")), ["zoo"]);
  assert.deepEqual(names(sortedRooms(state, "room")), []);
  // Unstarred, it is back in its section, not in Rooms.
  setFavourite(state, "zoo", false);
  assert.deepEqual(listed(state).Work, ["general", "random", "zoo"]);
  assert.deepEqual(names(sortedRooms(state, "room")), []);
});

test("moving a room is shown at once, asks the server, and its reply confirms it", () => {
  const state = page();
  const effects = moveToSection(state, "general", 2);
  assert.deepEqual(requests(effects), [{ op: "set_section", room: "general", section: 2 }]);
  assert.deepEqual(listed(state).Later, [DM, "general"], "before the reply");
  assert.deepEqual(names(sortedRooms(state, "room")), []);
  assert.deepEqual(moveToSection(state, "general", 2), [], "there already: nothing asked");
  assert.deepEqual(moveToSection(state, "general", 7), [], "a section not held: nothing");
  // The server tells every connection of the person, this one too, before the reply.
  apply(state, { op: "section", room: "general", section: 2 });
  reply(state, { op: "set_section", room: "general", section: 2 },
    { room: "general", section: 2 });
  assert.deepEqual(listed(state).Later, [DM, "general"]);
  assert.equal(state.rooms.get("general").sectionPending, 0);
  // Back to its usual list.
  const back = moveToSection(state, "general", null);
  assert.deepEqual(requests(back), [{ op: "set_section", room: "general", section: null }]);
  assert.deepEqual(names(sortedRooms(state, "room")), ["general"]);
  reply(state, { op: "set_section", room: "general", section: null }); // (a bare ok)
  assert.deepEqual(names(sortedRooms(state, "room")), ["general"]);
  assert.equal(state.rooms.get("general").sectionConfirmed, null);
});

test("a refused move puts back where the server has it, and says why", () => {
  const state = page();
  moveToSection(state, "random", 2);
  const effects = refuse(state, { op: "set_section", room: "random", section: 2 });
  assert.deepEqual(listed(state).Work, ["random", "zoo"]);
  assert.equal(effects.find((effect) => effect.toast).toast,
    "Could not move #random: no such section");
  // Moved twice before the replies: the first taken, the second refused: the first's place.
  moveToSection(state, "general", 1);
  moveToSection(state, "general", 2);
  apply(state, { op: "section", room: "general", section: 1 });
  reply(state, { op: "set_section", room: "general", section: 1 }, { section: 1 });
  assert.deepEqual(listed(state).Later, [DM, "general"], "no flicker: the second's to come");
  refuse(state, { op: "set_section", room: "general", section: 2 }, "rate_limited", "slow");
  assert.deepEqual(listed(state), { Work: ["general", "random", "zoo"], Later: [DM] });
  const old = page();
  moveToSection(old, "zoo", null);
  assert.match(refuse(old, { op: "set_section", room: "zoo", section: null }, "unknown_op",
    "unknown op").find((effect) => effect.toast).toast, /this server does not keep sections/);
});

test("nothing to move: a draft, a room not held, or offline", () => {
  const state = page();
  openDm(state, "dan");
  assert.deepEqual(moveToSection(state, "@ann:dan", 1), []);
  assert.deepEqual(moveToSection(state, "nowhere", 1), []);
  connectionChanged(state, "waiting");
  assert.deepEqual(moveToSection(state, "general", 1), []);
  assert.deepEqual(collapseSection(state, 1, true), []);
  assert.deepEqual(shiftSection(state, 1, 1), []);
  assert.deepEqual(listed(state), { Work: ["random", "zoo"], Later: [DM] });
});

test("a collapsed section lists only its rooms with something unread and the open one", () => {
  const state = page({ zoo: { unread: 2, lastSeq: 3, readSeq: 1 } });
  selectRoom(state, "general");
  const effects = collapseSection(state, 1, true);
  assert.deepEqual(requests(effects), [{ op: "edit_section", section: 1, collapsed: true }]);
  assert.deepEqual(listed(state).Work, ["zoo"], "the unread one stays in sight");
  assert.deepEqual(sectionLists(state)[0].rooms.map((room) => room.name), ["random", "zoo"]);
  assert.deepEqual(roomOrder(state), ["zoo", DM, "general", "@ann:carol"],
    "Alt+Down skips what is folded away");
  selectRoom(state, "random");
  assert.deepEqual(listed(state).Work, ["random", "zoo"], "the open one too");
  apply(state, { op: "read", room: "zoo", seq: 3 }); // read on another device
  assert.deepEqual(listed(state).Work, ["random"], "the open one only");
  selectRoom(state, "general");
  assert.deepEqual(listed(state).Work, [], "nothing unread, not open: folded away");
  apply(state, message("random", 3));
  assert.deepEqual(listed(state).Work, ["random"], "a new message shows it again");
  assert.deepEqual(collapseSection(state, 1, true), [], "collapsed already");
  assert.deepEqual(requests(collapseSection(state, 1, false)),
    [{ op: "edit_section", section: 1, collapsed: false }]);
  assert.deepEqual(listed(state).Work, ["random", "zoo"]);
});

test("a collapse is the server's once answered; a refusal opens it again", () => {
  const state = page();
  collapseSection(state, 2, true);
  // The server's event, then its reply (with or without the list).
  apply(state, { op: "sections", sections: [WORK, { ...LATER, collapsed: true }] });
  reply(state, { op: "edit_section", section: 2, collapsed: true });
  assert.equal(state.sections.shown[1].collapsed, true);
  assert.equal(state.sections.pending, 0);
  collapseSection(state, 1, true);
  const effects = refuse(state, { op: "edit_section", section: 1, collapsed: true },
    "not_found", "no such section");
  assert.equal(state.sections.shown[0].collapsed, false, "put back");
  assert.equal(effects.find((effect) => effect.toast).toast,
    "Could not collapse Work: no such section");
  // A reply without an event before it (its list, or none): taken as asked all the same.
  collapseSection(state, 1, true);
  reply(state, { op: "edit_section", section: 1, collapsed: true });
  assert.equal(state.sections.shown[0].collapsed, true);
  assert.equal(state.sections.confirmed[0].collapsed, true);
});

test("moving a section up and down: at once, by its position; not past either end", () => {
  const third = { id: 3, name: "Archive", collapsed: true };
  const state = page({ sections: [WORK, LATER, third] });
  const down = shiftSection(state, 1, 1);
  assert.deepEqual(requests(down), [{ op: "edit_section", section: 1, position: 1 }]);
  assert.deepEqual(state.sections.shown.map((s) => s.name), ["Later", "Work", "Archive"]);
  assert.deepEqual(shiftSection(state, 2, -1), [], "first already");
  assert.deepEqual(shiftSection(state, 3, 1), [], "last already");
  const up = shiftSection(state, 3, -1);
  assert.deepEqual(requests(up), [{ op: "edit_section", section: 3, position: 1 }]);
  assert.deepEqual(state.sections.shown.map((s) => s.name), ["Later", "Archive", "Work"]);
  // The first is taken (its reply without the list), the second refused: the first's order.
  reply(state, { op: "edit_section", section: 1, position: 1 });
  assert.deepEqual(state.sections.shown.map((s) => s.name), ["Later", "Archive", "Work"],
    "the second's to come");
  refuse(state, { op: "edit_section", section: 3, position: 1 }, "rate_limited", "slow");
  assert.deepEqual(state.sections.shown.map((s) => s.name), ["Later", "Work", "Archive"]);
  assert.deepEqual(roomOrder(state), [DM, "random", "zoo", "general", "@ann:carol"]);
});

test("another device's changes: a list while one of ours is on its way waits for our reply", () => {
  const state = page();
  collapseSection(state, 1, true);
  // Another device renamed Later before the server took the collapse.
  apply(state, { op: "sections", sections: [WORK, { ...LATER, name: "Soon" }] });
  assert.equal(state.sections.shown[0].collapsed, true, "ours still shown");
  assert.equal(state.sections.shown[1].name, "Later", "theirs after our reply");
  apply(state, { op: "sections", sections: [{ ...WORK, collapsed: true },
    { ...LATER, name: "Soon" }] });
  reply(state, { op: "edit_section", section: 1, collapsed: true },
    { sections: [{ ...WORK, collapsed: true }, { ...LATER, name: "Soon" }] });
  assert.deepEqual(state.sections.shown.map((s) => [s.name, s.collapsed]),
    [["Work", true], ["Soon", false]]);
  // Another device moves a room, and makes a section.
  apply(state, { op: "section", room: "@ann:carol", section: 2 });
  assert.deepEqual(listed(state).Soon, [DM, "@ann:carol"]);
  apply(state, { op: "section", room: "nowhere", section: 2 }); // not held: nothing
  assert.equal(placeOf(state.sections, state.rooms.get("general")), null);
  apply(state, { op: "sections", sections: [{ ...WORK, collapsed: true },
    { ...LATER, name: "Soon" }, { id: 5, name: "New", collapsed: false }] });
  assert.deepEqual(listed(state).New, []);
});

test("a deleted section's rooms are back in their usual lists, on every device", () => {
  const state = page();
  // Deleted on another device: the list without it.
  apply(state, { op: "sections", sections: [LATER] });
  assert.deepEqual(listed(state), { Later: [DM] });
  assert.deepEqual(names(sortedRooms(state, "room")), ["general", "random", "zoo"]);
  assert.equal(state.rooms.get("random").section, null);
  assert.equal(state.rooms.get("random").sectionConfirmed, null);
  // A section made again with the old id's number does not take them back.
  apply(state, { op: "sections", sections: [LATER, { id: 1, name: "Work", collapsed: false }] });
  assert.deepEqual(listed(state).Work, []);
  // Deleted here (the dialog waits for the reply, which may carry the list).
  reply(state, { op: "delete_section", section: 2 }, { sections: [WORK] });
  assert.deepEqual(names(sortedRooms(state, "dm")), [DM, "@ann:carol"]);
  // Deleted while away: the welcome's list says so (the rooms it lists say their own).
  const away = page();
  apply(away, { op: "welcome", id: 2, user: { id: 1, name: "ann" }, contacts: [],
    sections: [WORK], rooms: [roomInfo("general", { lastSeq: 3 }),
      roomInfo("random", { lastSeq: 2, section: 1 }), roomInfo("zoo", { lastSeq: 1, section: 1 }),
      roomInfo(DM, { lastSeq: 5, readSeq: 5, peer: "bob" }),
      roomInfo("@ann:carol", { lastSeq: 2, readSeq: 2, peer: "carol" })] });
  assert.deepEqual(listed(away), { Work: ["random", "zoo"] });
  assert.deepEqual(names(sortedRooms(away, "dm")), [DM, "@ann:carol"]);
});

test("made and renamed through their dialogs: the reply's list is kept", () => {
  const state = page();
  reply(state, { op: "create_section", name: "Soon" },
    { section: { id: 9, name: "Soon", collapsed: false }, sections: [WORK, LATER,
      { id: 9, name: "Soon", collapsed: false }] });
  assert.deepEqual(state.sections.shown.map((s) => s.name), ["Work", "Later", "Soon"]);
  assert.equal(createdId({ section: { id: 9, name: "Soon" } }), 9);
  assert.equal(createdId({ section: 9 }), 9);
  assert.equal(createdId({}), null);
  reply(state, { op: "edit_section", section: 9, name: "Today" }, { sections: [WORK, LATER,
    { id: 9, name: "Today", collapsed: false }] });
  assert.equal(state.sections.pending, 0, "a rename is not a change shown at once");
  assert.deepEqual(state.sections.shown.map((s) => s.name), ["Work", "Later", "Today"]);
  // A refused rename says so in its dialog: the list stays, no toast.
  assert.deepEqual(refuse(state, { op: "edit_section", section: 9, name: "Work" }, "conflict",
    "taken"), []);
  assert.deepEqual(state.sections.shown.map((s) => s.name), ["Work", "Later", "Today"]);
});

test("names: trimmed, at most 40 characters, not one the person has in any case", () => {
  const list = [WORK, LATER];
  assert.equal(nameProblem(list, "  "), "Give the section a name.");
  assert.equal(nameProblem(list, "x".repeat(MAX_NAME)), null);
  assert.match(nameProblem(list, "é".repeat(MAX_NAME + 1)),
    /at most 40 characters \(this one has 41\)/);
  assert.equal(nameProblem(list, " work "), "You have a section called Work already.");
  assert.equal(nameProblem(list, "WORK", 1), null, "renaming Work itself");
  assert.equal(named(list, "later").id, 2);
  assert.equal(named(list, "soon"), null);
  assert.deepEqual(listOf({ sections: [WORK, { id: 0, name: "Zero" }, { id: -1, name: "bad" },
    { id: 1, name: "again" }, { name: "no id" }, null, { id: 3, name: 4 }] }),
  [WORK, { id: 0, name: "Zero", collapsed: false }], "each checked, each id once");
  assert.equal(listOf({}), null);
  assert.equal(usualList({ kind: "room" }), "Rooms");
  assert.equal(usualList({ kind: "group", name: "@ann:bob:cid" }), "Direct messages");
});

test("a closed conversation in a section is listed as in its usual list: while open only", () => {
  const state = page({ [DM]: { hidden_seq: 5 } });
  assert.deepEqual(listed(state).Later, []);
  selectRoom(state, DM);
  assert.deepEqual(listed(state).Later, [DM]);
  selectRoom(state, "general");
  apply(state, message(DM, 6));
  assert.deepEqual(listed(state).Later, [DM], "something new: back in sight");
});

test("leaving a room in a section drops it; joined again, it is in its usual list", () => {
  const state = page();
  apply(state, { op: "left", room: "zoo", user: "ann" });
  assert.deepEqual(listed(state).Work, ["random"]);
  apply(state, { op: "ok", id: 9, room: "zoo", private: false, topic: "", last_seq: 1,
    favourite: false, section: null, messages: [] }, { request: { op: "join", room: "zoo" } });
  assert.deepEqual(listed(state).Work, ["random"]);
  assert.deepEqual(names(sortedRooms(state, "room")), ["general", "zoo"]);
});

test("/section NAME moves the open room there, makes it first if new; alone, back", () => {
  const state = page();
  const plan = (text, room = "general") => planCommand(text, { room: state.rooms.get(room),
    sections: state.sections });
  assert.deepEqual(plan("/section later"), { do: "section", room: "general", section: 2,
    name: "Later" });
  assert.deepEqual(plan("/section My projects"), { do: "section", room: "general",
    create: "My projects" });
  assert.deepEqual(plan("/section \"Work\"", "random"),
    { do: "note", text: "It is in Work already." });
  assert.deepEqual(plan("/section", "random"), { do: "section", room: "random", section: null,
    name: "Rooms" });
  assert.deepEqual(plan("/section"), { do: "note",
    text: "It is in Rooms: /section NAME moves it to a section of yours." });
  assert.match(plan(`/section ${"x".repeat(41)}`).problem, /at most 40 characters/);
  assert.deepEqual(planCommand("/section Work", { room: null, sections: state.sections }),
    { problem: "Open a room or conversation first." });
  const { state: old } = connected([roomInfo("general", { lastSeq: 1 })]);
  assert.deepEqual(planCommand("/section Work", { room: old.rooms.get("general"),
    sections: old.sections }), { problem: "This server does not keep sections." });
});

test("a section's \"Mark all as read\" asks read_all for its unread rooms only", () => {
  // Work: random (2 unread) and zoo (read); Later: Bob (1 unread, but a favourite: listed in
  // Favourites, not there); general (3 unread) is in no section.
  const state = page({ random: { unread: 2 }, zoo: { readSeq: 1 }, general: { unread: 3 },
    [DM]: { readSeq: 4, unread: 1, favourite: true, favourite_at: 3 } });
  assert.deepEqual(sectionUnread(state, 1), ["random"]);
  assert.deepEqual(sectionUnread(state, 2), [], "a favourite is Favourites'");
  assert.deepEqual(sectionUnread(state, 7), [], "no such section");
  const sent = requests(markSectionRead(state, 1));
  assert.deepEqual(sent, [{ op: "read_all", rooms: ["random"] }]);
  assert.deepEqual(markSectionRead(state, 2), [], "nothing to ask");
  // Collapsed, it still marks them all (what it lists is not what it holds).
  apply(state, { op: "sections", sections: [{ ...WORK, collapsed: true }, LATER] });
  apply(state, { op: "message", room: "zoo", seq: 2, msg_id: 2, from: "bob", text: "hi",
    ts: 2, nonce: "n2" });
  assert.deepEqual(sectionUnread(state, 1).sort(), ["random", "zoo"]);
  // The answer moves the markers; then nothing there is unread.
  apply(state, { op: "ok", id: 9, rooms: [{ room: "random", seq: 2 }] }, { request: sent[0] });
  assert.equal(state.rooms.get("random").unread, 0);
  assert.equal(state.rooms.get("general").unread, 3, "another list's room is left alone");
  connectionChanged(state, "offline");
  assert.deepEqual(markSectionRead(state, 1), [], "nothing while offline");
});

test("a favourite moved into a section stays in Favourites, says so, and is there unstarred", () => {
  // The server keeps both marks (docs/protocol.md set_section): the page does the same.
  const state = page({ general: { favourite: true, favourite_at: 5 } });
  const effects = moveToSection(state, "general", 1);
  assert.deepEqual(requests(effects), [{ op: "set_section", room: "general", section: 1 }]);
  assert.deepEqual(effects.filter((e) => e.toast), [{ toast: "#general is in Work now: it "
    + "shows there once you remove it from Favourites." }]);
  assert.deepEqual(names(sortedRooms(state, "favourite")), ["general"]);
  assert.deepEqual(listed(state).Work, ["random", "zoo"], "not listed twice");
  assert.deepEqual(sectionLists(state).map((held) => held.favourites), [1, 0]);
  assert.equal(emptyText(1), "Its favourite shows in Favourites");
  assert.equal(emptyText(2), "Its 2 favourites show in Favourites");
  assert.match(emptyText(0), /^Empty: “Move to…”/u);
  reply(state, { op: "set_section", room: "general", section: 1 },
    { room: "general", section: 1 });
  assert.equal(state.rooms.get("general").favourite, true, "still a favourite");
  setFavourite(state, "general", false);
  assert.deepEqual(listed(state).Work, ["general", "random", "zoo"]);
  // Back to its usual list, a favourite again: said too; a room not a favourite says nothing.
  setFavourite(state, "general", true);
  assert.deepEqual(moveToSection(state, "general", null).filter((e) => e.toast), [{ toast:
    "#general is in Rooms now: it shows there once you remove it from Favourites." }]);
  assert.deepEqual(moveToSection(state, "zoo", 2).filter((e) => e.toast), []);
});

test("deleting a section says what happens to all it holds, its favourites and closed ones too", () => {
  // Work holds #random and #zoo; #general, a favourite, is moved in too; Later holds Bob's
  // conversation, closed (not listed: nothing new since).
  const state = page({ general: { favourite: true, favourite_at: 5, section: 1 },
    [DM]: { hidden_seq: 5 } });
  assert.deepEqual(listed(state), { Work: ["random", "zoo"], Later: [] });
  assert.deepEqual(sectionHolds(state, 1), { rooms: 2, favourites: 1 });
  assert.deepEqual(sectionHolds(state, 2), { rooms: 1, favourites: 0 }, "the closed one too");
  assert.deepEqual(sectionHolds(state, 3), { rooms: 0, favourites: 0 });
  assert.equal(deleteText(2, 1), "Its 2 rooms and conversations go back to Rooms and Direct "
    + "messages. Its favourite stays in Favourites; removed from Favourites, it shows in Rooms "
    + "or Direct messages.");
  assert.equal(deleteText(0, 3), "Its 3 favourites stay in Favourites; removed from "
    + "Favourites, they show in Rooms and Direct messages.");
  assert.equal(deleteText(1), "Its room or conversation goes back to Rooms and Direct messages.");
  assert.equal(deleteText(0, 0), "It holds no room or conversation.");
});

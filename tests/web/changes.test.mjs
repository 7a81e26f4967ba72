// Changes to messages (protocol v2): edits, deletions, reactions and replies, as the server
// sends them and as the person makes them (through the outbox), and mentions.

import assert from "node:assert/strict";
import { test } from "node:test";

import * as outbox from "../../clients/web/outbox.js";
import { badge, timeline } from "../../clients/web/select.js";
import {
  lastOwnMessage, mentionSuggestions, quoteFor, replyTarget, shownMessage,
} from "../../clients/web/select-messages.js";
import {
  apply, cancelEdit, compose, connectionChanged, deleteMessage, editLast, initialState, jumpTo,
  react, saveEdit, seen, selectRoom, startEdit, startReply,
} from "../../clients/web/state.js";
import { connected, message, receiveAll, requests, roomInfo, welcome } from "./fixtures.mjs";

const edited = (room, seq, msgSeq, text, extra = {}) => ({ op: "edited", room, seq,
  msg_id: 1000 + msgSeq, text, from: "Bob", ts: 2_000_000 + seq, ...extra });
const deleted = (room, seq, msgSeq, by = "Bob") => ({ op: "deleted", room, seq,
  msg_id: 1000 + msgSeq, by, ts: 2_000_000 + seq });
const reaction = (room, seq, msgSeq, emoji, user, on = true) => ({ op: "reaction", room, seq,
  msg_id: 1000 + msgSeq, emoji, user, on, ts: 2_000_000 + seq });
const held = (state, room, seq) => state.rooms.get(room).messages.get(seq);
const shown = (state, room, seq) => shownMessage(state, state.rooms.get(room),
  held(state, room, seq));
const historyReply = (room, messages, extra = {}) => ({ op: "ok", id: 5, room, messages,
  more: false, ...extra });

test("edits, deletions and reactions change the message they name, once each", () => {
  const { state } = connected([roomInfo("general", { lastSeq: 0 })]);
  receiveAll(state, [message("general", 1), message("general", 2, "ann"),
    edited("general", 3, 1, "m1, fixed"), reaction("general", 4, 2, "👍", "Bob"),
    reaction("general", 5, 2, "👍", "carol"), reaction("general", 6, 2, "🎉", "Bob"),
    reaction("general", 7, 2, "👍", "Bob", false)]);
  // The same entries again (a resume that replays them, a page): nothing changes twice.
  receiveAll(state, [edited("general", 3, 1, "m1, fixed"), reaction("general", 5, 2, "👍",
    "carol"), reaction("general", 7, 2, "👍", "Bob", false), reaction("general", 4, 2, "👍",
    "Bob")]);
  assert.equal(held(state, "general", 1).text, "m1, fixed");
  assert.equal(held(state, "general", 1).edited_ts, 2_000_003);
  assert.equal(held(state, "general", 1).rev, 3);
  assert.deepEqual(held(state, "general", 2).reactions,
    [{ emoji: "👍", users: ["carol"] }, { emoji: "🎉", users: ["Bob"] }]);
  receiveAll(state, [deleted("general", 8, 2, "ann"), reaction("general", 4, 2, "👍", "Bob")]);
  const gone = held(state, "general", 2);
  assert.equal(gone.deleted, true);
  assert.equal(gone.text, "");
  assert.equal(gone.reactions, undefined);
  // The change entries are part of the log: the resume point goes past them.
  assert.equal(state.rooms.get("general").head, 8);
  const view = shown(state, "general", 2);
  assert.equal(view.deleted, true);
  assert.equal(view.canEdit || view.canDelete || view.canReact, false);
});

test("a message object replaces the one held unless it is older (its rev is lower)", () => {
  const { state } = connected([roomInfo("general", { lastSeq: 0 })]);
  receiveAll(state, [message("general", 1), edited("general", 2, 1, "second")]);
  // A page read before the edit, whose reply came after it: older, not taken.
  apply(state, historyReply("general", [message("general", 1)]),
    { request: { op: "history", room: "general", limit: 50 } });
  assert.equal(held(state, "general", 1).text, "second");
  // A page read after a later edit (not yet here live): newer, taken; the edit then comes live
  // and changes nothing.
  apply(state, historyReply("general", [message("general", 1, "Bob", "third",
    { rev: 3, edited_ts: 9 }), edited("general", 2, 1, "second"), edited("general", 3, 1,
    "third")]), { request: { op: "history", room: "general", before: 4, limit: 50 } });
  assert.equal(held(state, "general", 1).text, "third");
  apply(state, edited("general", 3, 1, "third"));
  apply(state, edited("general", 2, 1, "second"));
  assert.equal(held(state, "general", 1).text, "third");
  assert.equal(state.rooms.get("general").head, 3);
});

test("a change to a message not held waits for it, and is applied if the message is older", () => {
  const { state } = connected([roomInfo("general", { lastSeq: 10 })]);
  // The room is followed from 10; message 4 is older and not loaded yet.
  receiveAll(state, [reaction("general", 11, 4, "👀", "Bob"), edited("general", 12, 4, "new")]);
  assert.equal(state.rooms.get("general").messages.size, 0);
  // A page read before those changes, delivered after them.
  apply(state, historyReply("general", [message("general", 4, "Bob", "old")]),
    { request: { op: "history", room: "general", before: 11, limit: 50 } });
  const m = held(state, "general", 4);
  assert.equal(m.text, "new");
  assert.deepEqual(m.reactions, [{ emoji: "👀", users: ["Bob"] }]);
  assert.equal(m.rev, 12);
});

test("a change after a hole waits until the hole is filled (a gap being paged in)", () => {
  const { state } = connected([roomInfo("general", { lastSeq: 0 })]);
  receiveAll(state, [message("general", 1, "Bob", "v1")]);
  apply(state, { op: "gap", room: "general", after: 1, last_seq: 5 });
  // Live goes on after the gap: a reaction at 6. The edit at 3 is in the gap.
  apply(state, reaction("general", 6, 1, "👍", "carol"));
  assert.equal(held(state, "general", 1).reactions, undefined, "applied over a hole");
  apply(state, historyReply("general", [message("general", 2), edited("general", 3, 1, "v3"),
    message("general", 4), message("general", 5)]),
  { request: { op: "history", room: "general", after: 1, limit: 500 } });
  const m = held(state, "general", 1);
  assert.equal(m.text, "v3");
  assert.deepEqual(m.reactions, [{ emoji: "👍", users: ["carol"] }]);
  assert.equal(state.rooms.get("general").head, 6);
});

test("an edit whose words are gone (deleted since) shows the message as deleted, not empty", () => {
  const { state } = connected([roomInfo("general", { lastSeq: 0 })]);
  receiveAll(state, [message("general", 1, "Bob", "secret")]);
  apply(state, historyReply("general", [edited("general", 2, 1, "")]),
    { request: { op: "history", room: "general", after: 1, limit: 2 } });
  assert.equal(held(state, "general", 1).deleted, true);
  apply(state, deleted("general", 3, 1));
  assert.equal(held(state, "general", 1).deleted, true);
  assert.equal(held(state, "general", 1).rev, 3);
});

test("history paging goes on before the oldest entry, change or message", () => {
  const { state } = connected([roomInfo("general", { lastSeq: 0 })]);
  apply(state, historyReply("general", [reaction("general", 40, 2, "👍", "Bob"),
    message("general", 41)], { more: true }),
  { request: { op: "history", room: "general", limit: 50 } });
  assert.equal(state.rooms.get("general").oldest, 40);
});

test("join replies carry changes like history pages do", () => {
  const { state } = connected([roomInfo("lobby", { lastSeq: 0 })]);
  apply(state, { op: "ok", id: 2, room: "general", last_seq: 3, private: false, topic: "",
    messages: [message("general", 1, "Bob", "hi", { rev: 3, reactions: [{ emoji: "👍",
      users: ["ann"] }] }), message("general", 2), reaction("general", 3, 1, "👍", "ann")],
    more: false }, { request: { op: "join", room: "general" } });
  assert.deepEqual(held(state, "general", 1).reactions, [{ emoji: "👍", users: ["ann"] }]);
  assert.equal(state.rooms.get("general").head, 3);
  apply(state, reaction("general", 3, 1, "👍", "ann"));
  assert.deepEqual(held(state, "general", 1).reactions, [{ emoji: "👍", users: ["ann"] }]);
});

// -- mentions ----------------------------------------------------------------------------------

test("unread mentions: from the room objects, counted as they come, cleared when read", () => {
  const { state } = connected([roomInfo("general", { lastSeq: 5, readSeq: 3, unread: 2,
    mentions: 1 }), roomInfo("random", { lastSeq: 0 })]);
  selectRoom(state, "random");
  const general = state.rooms.get("general");
  assert.equal(general.mentions, 1);
  receiveAll(state, [
    message("general", 6, "Bob", "@ann look", { mentions: ["ann"] }),
    message("general", 7, "Bob", "@carol", { mentions: ["carol"] }),
    message("general", 8, "ann", "@ann me", { mentions: ["ann"] }), // one's own: not counted
    message("general", 6, "Bob", "@ann look", { mentions: ["ann"] }),
  ]);
  assert.equal(general.mentions, 2);
  assert.equal(general.unread, 4);
  assert.equal(badge(state, general), "4");
  // An edit that takes the mention away, a deletion: no longer counted.
  apply(state, edited("general", 9, 6, "look", {}));
  assert.equal(general.mentions, 1);
  assert.equal(general.unread, 4);
  apply(state, deleted("general", 10, 7));
  assert.equal(general.unread, 3);
  apply(state, edited("general", 11, 6, "@ANN look", { mentions: ["ann"] }));
  assert.equal(general.mentions, 2);
  selectRoom(state, "general");
  seen(state, "general", 11);
  assert.equal(general.mentions, 0);
  assert.equal(general.unread, 0);
  // Highlighted: a message whose mentions name me (in any case).
  assert.equal(shown(state, "general", 6).mentionsMe, true);
  assert.equal(shown(state, "general", 8).mentionsMe, true);
  receiveAll(state, [message("general", 12, "Bob", "@carol", { mentions: ["Carol"] })]);
  assert.equal(shown(state, "general", 12).mentionsMe, false);
});

test("a refreshed room list gives the server's mention count", () => {
  const { state } = connected([roomInfo("general", { lastSeq: 5, mentions: 0 }),
    roomInfo("a", { lastSeq: 0 })]);
  apply(state, { op: "ok", id: 4, rooms: [roomInfo("general", { lastSeq: 7, unread: 2,
    mentions: 2 })] }, { request: { op: "rooms", joined: true } });
  assert.equal(state.rooms.get("general").mentions, 2);
});

test("mention suggestions: the room's members by prefix, any case, not oneself", () => {
  const { state } = connected([roomInfo("general", { lastSeq: 0 })]);
  const room = state.rooms.get("general");
  room.members = [{ user: "ann" }, { user: "Bob" }, { user: "bobby" }, { user: "carol" }];
  assert.deepEqual(mentionSuggestions(state, room, "BO"), ["Bob", "bobby"]);
  assert.deepEqual(mentionSuggestions(state, room, ""), ["Bob", "bobby", "carol"]);
  assert.deepEqual(mentionSuggestions(state, room, "a"), []);
});

// -- the person's own changes ------------------------------------------------------------------

function withMessages() {
  const { state } = connected([roomInfo("general", { lastSeq: 0, owner: "Bob" })]);
  receiveAll(state, [message("general", 1, "Bob", "bob's"), message("general", 2, "ann", "mine"),
    message("general", 3, "ann", "my last")]);
  return state;
}

test("an edit is shown at once, and the old text never comes back while it is saved", () => {
  const state = withMessages();
  assert.deepEqual(startEdit(state, 1001), []); // someone else's: not editable
  assert.equal(state.editing, null);
  editLast(state); // Up in an empty box: my last message
  assert.deepEqual(state.editing, { room: "general", msgId: 1003 });
  const [edit] = requests(saveEdit(state, { text: "my last, fixed", key: "k1", now: 1 }));
  assert.deepEqual(edit, { op: "edit", room: "general", msg_id: 1003, text: "my last, fixed" });
  assert.equal(state.editing, null);
  assert.equal(shown(state, "general", 3).text, "my last, fixed");
  assert.equal(shown(state, "general", 3).saving, true);
  // The ack comes before the entry: still shown as edited, not as the old text.
  apply(state, { op: "ok", id: 6, room: "general", seq: 4, msg_id: 1003, ts: 7 },
    { request: edit });
  assert.equal(shown(state, "general", 3).text, "my last, fixed");
  assert.equal(state.outbox.length, 1);
  apply(state, edited("general", 4, 3, "my last, fixed", { from: "ann" }));
  assert.equal(state.outbox.length, 0);
  const view = shown(state, "general", 3);
  assert.equal(view.text, "my last, fixed");
  assert.equal(view.saving, false);
  assert.equal(view.edited, true);
  // The entry before the ack works the same.
  startEdit(state, 1002);
  const [again] = requests(saveEdit(state, { text: "mine!", key: "k2", now: 2 }));
  apply(state, edited("general", 5, 2, "mine!", { from: "ann" }));
  assert.equal(shown(state, "general", 2).text, "mine!");
  apply(state, { op: "ok", id: 7, room: "general", seq: 5, msg_id: 1002, ts: 8 },
    { request: again });
  assert.deepEqual(state.outbox, []);
  // The same text again, or none: nothing sent.
  startEdit(state, 1002);
  assert.deepEqual(saveEdit(state, { text: "mine!", key: "k3", now: 3 }), []);
  startEdit(state, 1002);
  assert.equal(saveEdit(state, { text: "  ", key: "k4", now: 3 })[0].toast !== undefined, true);
  cancelEdit(state);
  assert.equal(state.editing, null);
});

test("changes not acknowledged are sent again after a reconnect; acknowledged ones are not", () => {
  const state = withMessages();
  const [put] = requests(react(state, { msgId: 1001, emoji: "👍", on: true, key: "r1", now: 1 }));
  assert.deepEqual(put, { op: "react", room: "general", msg_id: 1001, emoji: "👍", on: true });
  assert.deepEqual(shown(state, "general", 1).reactions,
    [{ emoji: "👍", users: ["ann"], count: 1, mine: true }]);
  startEdit(state, 1002);
  const [edit] = requests(saveEdit(state, { text: "changed", key: "e1", now: 2 }));
  apply(state, { op: "ok", id: 3, room: "general", seq: 5, msg_id: 1002, ts: 9 },
    { request: edit });
  connectionChanged(state, "waiting");
  // Offline: the reaction taken back waits too (it is shown at once).
  assert.deepEqual(requests(react(state, { msgId: 1001, emoji: "🎉", on: true, key: "r2",
    now: 3 })), []);
  assert.equal(outbox.find(state.outbox, "r2").status, "failed");
  connectionChanged(state, "online");
  const resent = requests(apply(state, welcome([roomInfo("general", { lastSeq: 3,
    owner: "Bob" })])));
  assert.deepEqual(resent.filter((r) => r.op === "react"), [put,
    { op: "react", room: "general", msg_id: 1001, emoji: "🎉", on: true }]);
  assert.equal(resent.some((r) => r.op === "edit"), false);
  // The reconnect's catch-up brings the edit: it is done.
  apply(state, message("general", 4, "Bob", "x"));
  apply(state, edited("general", 5, 2, "changed", { from: "ann" }));
  assert.equal(state.outbox.some((i) => i.nonce === "e1"), false);
  // A reload keeps what was not acknowledged, not what was.
  apply(state, { op: "ok", id: 8, room: "general", seq: 6, msg_id: 1001, ts: 9 },
    { request: put });
  const restored = outbox.restore(JSON.parse(JSON.stringify(outbox.save(state.outbox))));
  assert.deepEqual(restored.map((i) => i.nonce), ["r2"]);
  assert.deepEqual(outbox.request(restored[0]), { op: "react", room: "general", msg_id: 1001,
    emoji: "🎉", on: true });
});

test("a change refused for good is dropped with a word; one refused for now waits", () => {
  const state = withMessages();
  const [del] = requests(deleteMessage(state, { room: "general", msgId: 1002, key: "d1",
    now: 1 }));
  assert.deepEqual(del, { op: "delete", room: "general", msg_id: 1002 });
  assert.equal(shown(state, "general", 2).deleting, true);
  const effects = apply(state, { op: "error", id: 4, code: "not_found", message: "no such" },
    { request: del });
  assert.match(effects[0].toast, /Could not delete the message/);
  assert.deepEqual(state.outbox, []);
  const [put] = requests(react(state, { msgId: 1001, emoji: "👍", on: true, key: "r", now: 1 }));
  const later = apply(state, { op: "error", id: 4, code: "rate_limited", message: "slow",
    retry_after: 700 }, { request: put });
  assert.deepEqual(later, [{ later: 700, key: "send:r", action: "retrySend",
    args: ["r", { onlyIfFailed: true }] }]);
  assert.equal(outbox.find(state.outbox, "r").status, "failed");
});

test("who may delete: the author, and the room's owner any message", () => {
  const state = withMessages();
  assert.equal(shown(state, "general", 1).canDelete, false); // Bob's, and Bob owns the room
  assert.equal(shown(state, "general", 2).canDelete, true);
  state.rooms.get("general").owner = "ANN";
  assert.equal(shown(state, "general", 1).canDelete, true);
  assert.equal(shown(state, "general", 1).canEdit, false);
});

test("a reply is sent with reply_to, quotes its original, and the ack keeps it", () => {
  const state = withMessages();
  startReply(state, 1001);
  const room = state.rooms.get("general");
  assert.deepEqual(replyTarget(state, room), { msgId: 1001, from: "Bob", text: "bob's" });
  const [send] = requests(compose(state, { text: "answer", nonce: "n1", now: 1 }));
  assert.deepEqual(send, { op: "send", room: "general", text: "answer", nonce: "n1",
    reply_to: 1001 });
  assert.equal(room.replyTo, null);
  const pending = timeline(state, room).filter((row) => row.kind === "pending");
  assert.equal(pending.length, 1);
  apply(state, { op: "ok", id: 3, room: "general", seq: 4, msg_id: 1004, ts: 5 },
    { request: send });
  assert.equal(held(state, "general", 4).reply_to, 1001);
  assert.deepEqual(quoteFor(room, held(state, "general", 4)),
    { msgId: 1001, from: "Bob", text: "bob's", deleted: false, held: true });
  // The server's own copy comes after the ack: it replaces the one made up from the ack.
  apply(state, message("general", 4, "ann", "answer @Bob", { nonce: "n1", reply_to: 1001,
    quote: { from: "Bob", text: "bob's" }, mentions: ["Bob"] }));
  assert.deepEqual(held(state, "general", 4).mentions, ["Bob"]);
  // And an ack after the server's copy does not undo it.
  apply(state, { op: "ok", id: 3, room: "general", seq: 4, msg_id: 1004, ts: 5,
    duplicate: true }, { request: send });
  assert.deepEqual(held(state, "general", 4).mentions, ["Bob"]);
  // A reply whose original is not held shows the server's quote.
  apply(state, message("general", 5, "Bob", "re", { reply_to: 1, quote: { from: "zed",
    text: "ancient" } }));
  assert.deepEqual(quoteFor(room, held(state, "general", 5)),
    { msgId: 1, from: "zed", text: "ancient", deleted: false, held: false });
  // The original edited or deleted: the quote follows it.
  apply(state, deleted("general", 6, 1));
  assert.equal(quoteFor(room, held(state, "general", 4)).deleted, true);
});

test("jumping to a reply's original pages back until it is found, or says it is not there", () => {
  const { state } = connected([roomInfo("general", { lastSeq: 0 })]);
  apply(state, historyReply("general", [message("general", 300, "Bob", "re",
    { reply_to: 1100 })], { more: true }),
  { request: { op: "history", room: "general", limit: 50 } });
  // Held: shown at once.
  jumpTo(state, 1300);
  assert.deepEqual(state.jump, { room: "general", msgId: 1300, tick: 1 });
  // Not held: page back.
  let [page] = requests(jumpTo(state, 1100));
  assert.deepEqual(page, { op: "history", room: "general", before: 300, limit: 200 });
  [page] = requests(apply(state, historyReply("general", [message("general", 200)],
    { more: true }), { request: page }));
  assert.deepEqual(page, { op: "history", room: "general", before: 200, limit: 200 });
  const effects = apply(state, historyReply("general", [message("general", 100)],
    { more: true }), { request: page });
  assert.deepEqual(effects, []);
  assert.deepEqual(state.jump, { room: "general", msgId: 1100, tick: 2 });
  // One that is not in the room at all.
  [page] = requests(jumpTo(state, 999_999));
  const none = apply(state, historyReply("general", [message("general", 1)], { more: false }),
    { request: page });
  assert.deepEqual(none, [{ toast: "The original message is not available." }]);
  assert.equal(state.rooms.get("general").seeking, null);
});

test("Up edits the last message of one's own that is not deleted", () => {
  const state = withMessages();
  apply(state, deleted("general", 4, 3, "ann"));
  assert.equal(lastOwnMessage(state, state.rooms.get("general")).seq, 2);
  editLast(state);
  assert.deepEqual(state.editing, { room: "general", msgId: 1002 });
  // Deleted meanwhile (on another device): the edit stops.
  const effects = apply(state, deleted("general", 5, 2, "ann"));
  assert.equal(state.editing, null);
  assert.match(effects[0].toast, /deleted/);
});

test("topic entries set the room's topic in seq order and are part of the log", () => {
  const { state } = connected([roomInfo("general", { lastSeq: 2, topic: "old" })]);
  const room = state.rooms.get("general");
  apply(state, { op: "topic", room: "general", seq: 3, topic: "release on Friday", by: "ann",
    ts: 5 });
  assert.equal(room.topic, "release on Friday");
  assert.equal(room.head, 3); // no hole left in the resume point
  // A change after it is applied at once (nothing is missing before it).
  apply(state, message("general", 4));
  apply(state, edited("general", 5, 4, "m4!"));
  assert.equal(held(state, "general", 4).text, "m4!");
  // Older news (a page, a room list read before it) does not take the topic back.
  apply(state, historyReply("general", [{ op: "topic", room: "general", seq: 1, topic: "first",
    by: "ann", ts: 1 }]), { request: { op: "history", room: "general", before: 2, limit: 50 } });
  apply(state, { op: "ok", id: 4, rooms: [roomInfo("general", { lastSeq: 2, topic: "old" })] },
    { request: { op: "rooms", joined: true } });
  assert.equal(room.topic, "release on Friday");
});

test("moderation entries (role, banned, unbanned, kicked) take their place in the log", () => {
  const { state } = connected([roomInfo("general", { lastSeq: 2 })]);
  const room = state.rooms.get("general");
  const at = (seq) => ({ room: "general", seq, user: "carol", by: "ann", ts: 10 + seq });
  receiveAll(state, [{ op: "role", ...at(3), role: "moderator" }, { op: "banned", ...at(4),
    reason: "spam" }, { op: "unbanned", ...at(5) }, { op: "kicked", ...at(6) }]);
  assert.equal(room.head, 6); // no hole left in the resume point
  // A change after them is applied at once (nothing is missing before it).
  apply(state, message("general", 7));
  apply(state, edited("general", 8, 7, "m7!"));
  assert.equal(held(state, "general", 7).text, "m7!");
});

test("an edit over the server's limit is refused with the count and stays open", () => {
  const state = withMessages();
  state.maxText = 10; // as a welcome's max_text_chars sets it
  startEdit(state, 1003);
  // Ten code points, twenty UTF-16 units: within the limit as the server counts.
  const [edit] = requests(saveEdit(state, { text: "😀".repeat(10), key: "k1", now: 1 }));
  assert.equal(edit.text, "😀".repeat(10));
  startEdit(state, 1003);
  const effects = saveEdit(state, { text: "x".repeat(12), key: "k2", now: 2 });
  assert.deepEqual(requests(effects), []);
  assert.match(effects[0].toast, /at most 10 characters, this one has 2 too many/);
  assert.deepEqual(state.editing, { room: "general", msgId: 1003 });
});

test("\"(edited)\" opens the edit history only where the welcome's edit_history lets me", () => {
  const room = roomInfo("general", { lastSeq: 0, owner: "Bob", role: "member" });
  const page = (fields, admin = false) => {
    const state = initialState({ me: "ann" });
    connectionChanged(state, "online");
    const hello = welcome([room]);
    apply(state, { ...hello, user: { ...hello.user, admin }, ...fields });
    receiveAll(state, [message("general", 1), message("general", 2, "ann"),
      edited("general", 3, 1, "m1, fixed"), edited("general", 4, 2, "m2, fixed")]);
    return [shown(state, "general", 1).historyShown, shown(state, "general", 2).historyShown];
  };
  assert.deepEqual(page({}), [true, true]); // an older server: everyone
  assert.deepEqual(page({ edit_history: "everyone" }), [true, true]);
  assert.deepEqual(page({ edit_history: "moderators" }), [false, true]); // mine only
  assert.deepEqual(page({ edit_history: "off" }), [false, false]);
  assert.deepEqual(page({ edit_history: "off" }, true), [true, true]);
  assert.deepEqual(page({ edit_history: "moderators" }, true), [true, true]);
});

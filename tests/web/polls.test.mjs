// Polls: a poll is a message with `poll`; `voted` entries replace a voter's choice and
// `poll_closed` closes it, applied by the log's rev rule as reactions are (entries.js, polls.js);
// the dialog's rules are the server's; the person's votes and closing go through the outbox
// and show at once; a poll is sent as any message (its nonce kept for a resend).

import assert from "node:assert/strict";
import { test } from "node:test";

import { bodyOf } from "../../clients/web/alerts.js";
import * as outbox from "../../clients/web/outbox.js";
import {
  choiceOf, pollOf, pollProblem, pressed, shownPoll, tally, withVote,
} from "../../clients/web/polls.js";
import { shownMessage } from "../../clients/web/select-messages.js";
import {
  apply, closePoll, compose, composePoll, connectionChanged, selectRoom, vote,
} from "../../clients/web/state.js";
import { answer, connected, message, receiveAll, requests, roomInfo } from "./fixtures.mjs";

const options = (...texts) => texts.map((text) => ({ text, votes: 0, voters: [] }));
/** A poll message as the server sends it (from Bob unless said). */
const pollMessage = (room, seq, extra = {}, poll = {}) => message(room, seq, "Bob",
  `Lunch? ${seq}`, { poll: { options: options("Pizza", "Sushi", "Tacos"), multiple: false,
    closed: false, ...poll }, ...extra });
const voted = (room, seq, msgSeq, user, chosen) => ({ op: "voted", room, seq,
  msg_id: 1000 + msgSeq, user, options: chosen, ts: 2_000_000 + seq });
const pollClosed = (room, seq, msgSeq, by = "Bob") => ({ op: "poll_closed", room, seq,
  msg_id: 1000 + msgSeq, by, ts: 3_000_000 + seq });
const held = (state, room, seq) => state.rooms.get(room).messages.get(seq);
const shown = (state, room, seq) => shownMessage(state, state.rooms.get(room),
  held(state, room, seq));
const votersOf = (state, room, seq) => held(state, room, seq).poll.options.map((o) => o.voters);

function opened(rooms = [roomInfo("general", { lastSeq: 0 })]) {
  const { state } = connected(rooms);
  selectRoom(state, "general");
  return state;
}

test("the dialog's rules are the server's: question, 2–10 options, 1–100 characters, distinct",
  () => {
    assert.equal(pollProblem({ question: "Lunch?", options: ["a", "b"] }), null);
    assert.match(pollProblem({ question: "  ", options: ["a", "b"] }), /question/);
    assert.match(pollProblem({ question: "Q", options: ["a"] }), /at least 2/);
    const many = (n) => Array.from({ length: n }, (_, i) => `o${i}`);
    assert.match(pollProblem({ question: "Q", options: many(11) }), /at most 10/);
    assert.equal(pollProblem({ question: "Q", options: many(10) }), null);
    assert.match(pollProblem({ question: "Q", options: ["a", " "] }), /Option 2 is empty/);
    assert.equal(pollProblem({ question: "Q", options: ["a", "😀".repeat(100)] }), null);
    assert.match(pollProblem({ question: "Q", options: ["a", "😀".repeat(101)] }),
      /Option 2 is longer than 100/);
    assert.match(pollProblem({ question: "Q", options: ["Tuesday", " tuesday "] }),
      /Option 2 repeats/);
    assert.match(pollProblem({ question: "Q", options: ["Straße", "STRASSE"] }), /repeats/);
    // Trimmed, as the server counts and keeps them.
    assert.equal(pollProblem({ question: "Q", options: ["a", ` ${"x".repeat(100)} `] }), null);
    assert.equal(pollProblem({ question: "é".repeat(10), options: ["a", "b"], maxText: 10 }),
      null);
    assert.match(pollProblem({ question: "é".repeat(11), options: ["a", "b"], maxText: 10 }),
      /longer than 10/);
  });

test("a voted entry replaces the voter's choice, once, the voter last on what they chose", () => {
  const state = opened();
  receiveAll(state, [pollMessage("general", 1), voted("general", 2, 1, "carol", [1]),
    voted("general", 3, 1, "Bob", [1])]);
  assert.deepEqual(votersOf(state, "general", 1), [[], ["carol", "Bob"], []]);
  assert.equal(held(state, "general", 1).poll.options[1].votes, 2);
  assert.equal(held(state, "general", 1).rev, 3);
  // carol moves her vote; the same entry again (a resume that replays it) changes nothing.
  receiveAll(state, [voted("general", 4, 1, "carol", [2]), voted("general", 4, 1, "carol", [2]),
    voted("general", 2, 1, "carol", [1])]);
  assert.deepEqual(votersOf(state, "general", 1), [[], ["Bob"], ["carol"]]);
  // An empty choice takes the vote back.
  receiveAll(state, [voted("general", 5, 1, "Bob", [])]);
  assert.deepEqual(votersOf(state, "general", 1), [[], [], ["carol"]]);
  // Votes are quiet: no unread, no notice line.
  assert.equal(state.rooms.get("general").unread, 1);
  // Multiple choice: the voter's new choice puts them last on each option of it (the server
  // orders voters by the entry that set their choice), even one they had chosen already.
  const poll = { options: [{ text: "a", votes: 2, voters: ["ann", "Bob"] },
    { text: "b", votes: 0, voters: [] }], multiple: true, closed: false };
  assert.deepEqual(withVote(poll, "ANN", [0, 1]).options.map((o) => o.voters),
    [["Bob", "ANN"], ["ANN"]]);
  assert.equal(withVote(poll, "carol", []).options[0], poll.options[0]); // unchanged: same object
  assert.deepEqual(choiceOf(poll, "bob"), [0]);
});

test("a poll_closed entry closes the poll: Final results, no votes, no Close poll", () => {
  const state = opened([roomInfo("general", { lastSeq: 0, owner: "carol" })]);
  receiveAll(state, [pollMessage("general", 1), voted("general", 2, 1, "ann", [0])]);
  assert.equal(shown(state, "general", 1).canVote, true);
  assert.equal(shown(state, "general", 1).canClosePoll, false); // Bob's, and ann moderates not
  receiveAll(state, [pollClosed("general", 3, 1)]);
  const poll = held(state, "general", 1).poll;
  assert.equal(poll.closed, true);
  assert.equal(poll.closed_by, "Bob");
  assert.equal(poll.closed_ts, 3_000_003);
  const view = shown(state, "general", 1);
  assert.equal(view.poll.closed, true);
  assert.equal(view.poll.closedBy, "Bob");
  assert.equal(view.canVote, false);
  assert.deepEqual(view.poll.mine, [0]);
  // A vote entry older than the closing, seen late, changes nothing.
  receiveAll(state, [voted("general", 2, 1, "carol", [1])]);
  assert.deepEqual(votersOf(state, "general", 1), [["ann"], [], []]);
});

test("a deleted poll is a tombstone: no poll, no votes", () => {
  const state = opened();
  receiveAll(state, [pollMessage("general", 1), voted("general", 2, 1, "ann", [0]),
    { op: "deleted", room: "general", seq: 3, msg_id: 1001, by: "Bob", ts: 5 }]);
  assert.equal(held(state, "general", 1).poll, undefined);
  assert.equal(shown(state, "general", 1).poll, null);
  receiveAll(state, [voted("general", 4, 1, "carol", [1])]);
  assert.equal(held(state, "general", 1).poll, undefined);
  assert.equal(held(state, "general", 1).rev, 4);
});

test("a page read before some votes does not undo them; one read after is taken", () => {
  const state = opened();
  receiveAll(state, [pollMessage("general", 1), voted("general", 2, 1, "ann", [0])]);
  // A page read before the vote (its reply late): older than what is held, not taken.
  apply(state, { op: "ok", id: 7, room: "general", messages: [pollMessage("general", 1)],
    more: false, last_seq: 1 }, { request: { op: "history", room: "general", after: 0,
    limit: 50 } });
  assert.deepEqual(votersOf(state, "general", 1), [["ann"], [], []]);
  // One read after a vote not seen live: the message as the server has it.
  const later = pollMessage("general", 1, { rev: 3 }, {
    options: [{ text: "Pizza", votes: 1, voters: ["ann"] },
      { text: "Sushi", votes: 1, voters: ["carol"] }, { text: "Tacos", votes: 0, voters: [] }] });
  apply(state, { op: "ok", id: 8, room: "general", messages: [later], more: false,
    last_seq: 3 }, { request: { op: "history", room: "general", after: 0, limit: 50 } });
  assert.deepEqual(votersOf(state, "general", 1), [["ann"], ["carol"], []]);
  // The live entry of it, after: seen already.
  receiveAll(state, [voted("general", 3, 1, "carol", [1])]);
  assert.deepEqual(votersOf(state, "general", 1), [["ann"], ["carol"], []]);
});

test("a malformed poll is no poll; a well-formed one is kept as it is", () => {
  assert.equal(pollOf(null), undefined);
  assert.equal(pollOf({ options: [] }), undefined);
  assert.equal(pollOf({ options: [{ votes: 1 }] }), undefined);
  const poll = { options: [{ text: "a", votes: 1, voters: ["x"] }], multiple: false,
    closed: false };
  assert.equal(pollOf(poll), poll);
  assert.deepEqual(pollOf({ options: [{ text: "a", votes: 9, voters: ["x", 3] }] }),
    { options: [{ text: "a", votes: 1, voters: ["x"] }], multiple: false, closed: false });
});

test("pressing an option: single choice moves it (or takes it back), multiple toggles", () => {
  assert.deepEqual(pressed([], 1, false), [1]);
  assert.deepEqual(pressed([1], 2, false), [2]);
  assert.deepEqual(pressed([1], 1, false), []);
  assert.deepEqual(pressed([2], 0, true), [0, 2]);
  assert.deepEqual(pressed([0, 2], 2, true), [0]);
  const view = shownPoll({ options: [{ text: "a", votes: 2, voters: ["ann", "bob"] },
    { text: "b", votes: 1, voters: ["bob"] }], multiple: true, closed: false }, "Ann");
  assert.deepEqual(view.options.map((o) => [o.votes, o.share, o.mine]),
    [[2, 1, true], [1, 0.5, false]]);
  assert.equal(view.voters, 2);
  assert.equal(tally(view), "3 votes · 2 people");
});

test("the person's vote shows at once, goes out as `vote`, and stays until its entry is in",
  () => {
    const state = opened();
    receiveAll(state, [pollMessage("general", 1)]);
    const effects = vote(state, { room: "general", msgId: 1001, options: [2], key: "k1",
      now: 5 });
    assert.deepEqual(requests(effects), [{ op: "vote", room: "general", msg_id: 1001,
      options: [2] }]);
    assert.deepEqual(shown(state, "general", 1).poll.mine, [2]);
    assert.equal(shown(state, "general", 1).poll.options[2].votes, 1);
    // The same choice again asks nothing.
    assert.deepEqual(vote(state, { room: "general", msgId: 1001, options: [2], key: "k2",
      now: 6 }), []);
    // A single-choice poll takes at most one option.
    assert.deepEqual(vote(state, { room: "general", msgId: 1001, options: [0, 1], key: "k3",
      now: 6 }), []);
    answer(state, effects, () => ({ room: "general", seq: 2, msg_id: 1001, ts: 7 }));
    assert.equal(state.outbox.length, 1); // acked, until its entry is in the message
    assert.deepEqual(shown(state, "general", 1).poll.mine, [2]);
    receiveAll(state, [voted("general", 2, 1, "ann", [2])]);
    assert.equal(state.outbox.length, 0);
    assert.deepEqual(shown(state, "general", 1).poll.mine, [2]);
    assert.equal(shown(state, "general", 1).poll.options[2].votes, 1);
  });

test("a refused vote is dropped with a word of why; a lost connection sends it again", () => {
  const state = opened();
  receiveAll(state, [pollMessage("general", 1)]);
  const effects = vote(state, { room: "general", msgId: 1001, options: [0], key: "k1", now: 5 });
  const [asked] = requests(effects);
  const told = apply(state, { op: "error", id: 9, code: "bad_request",
    message: "the poll is closed" }, { request: asked });
  assert.deepEqual(told,
    [{ toast: "Could not vote in the poll of the message: the poll is closed" }]);
  assert.equal(state.outbox.length, 0);
  assert.deepEqual(shown(state, "general", 1).poll.mine, []);
  vote(state, { room: "general", msgId: 1001, options: [1], key: "k2", now: 6 });
  connectionChanged(state, "offline");
  assert.equal(state.outbox[0].status, "failed");
  assert.deepEqual(outbox.request(state.outbox[0]), { op: "vote", room: "general",
    msg_id: 1001, options: [1] });
  // Kept across a reload.
  const restored = outbox.restore(JSON.parse(JSON.stringify(outbox.save(state.outbox))));
  assert.deepEqual(outbox.request(restored[0]), { op: "vote", room: "general", msg_id: 1001,
    options: [1] });
});

test("Close poll: for its author and the room's moderators; shown closed at once", () => {
  const state = opened([roomInfo("general", { lastSeq: 0, owner: "carol" })]);
  receiveAll(state, [pollMessage("general", 1), pollMessage("general", 2, { from: "ann" })]);
  assert.equal(shown(state, "general", 1).canClosePoll, false);
  assert.deepEqual(closePoll(state, { room: "general", msgId: 1001, key: "k0", now: 1 }), []);
  assert.equal(shown(state, "general", 2).canClosePoll, true);
  const effects = closePoll(state, { room: "general", msgId: 1002, key: "k1", now: 1 });
  assert.deepEqual(requests(effects), [{ op: "close_poll", room: "general", msg_id: 1002 }]);
  assert.equal(shown(state, "general", 2).poll.closed, true);
  assert.equal(shown(state, "general", 2).canVote, false);
  // A moderator may close another's poll.
  state.rooms.get("general").role = "moderator";
  assert.equal(shown(state, "general", 1).canClosePoll, true);
});

test("a poll is sent as `send` with `poll`, kept in the outbox with its nonce, resent alike",
  () => {
    const state = opened();
    assert.deepEqual(composePoll(state, { question: "Lunch?", options: ["a", "a "], nonce: "n0",
      now: 1 }), [{ toast: "Option 2 repeats another option." }]);
    const effects = composePoll(state, { question: "Lunch?", options: ["Pizza ", " Sushi"],
      multiple: true, nonce: "n1", now: 1 });
    const sent = { op: "send", room: "general", text: "Lunch?", nonce: "n1",
      poll: { options: ["Pizza", "Sushi"], multiple: true } };
    assert.deepEqual(requests(effects), [sent]);
    connectionChanged(state, "offline");
    const restored = outbox.restore(JSON.parse(JSON.stringify(outbox.save(state.outbox))));
    assert.deepEqual(outbox.request(restored[0]), sent);
    // Its ack shows it as a poll with no votes until its own event comes.
    connectionChanged(state, "online");
    apply(state, { op: "ok", id: 4, room: "general", seq: 1, msg_id: 1001, ts: 9 },
      { request: sent });
    assert.deepEqual(held(state, "general", 1).poll, { options: options("Pizza", "Sushi"),
      multiple: true, closed: false });
    assert.equal(shown(state, "general", 1).poll.multiple, true);
  });

test("a poll's notification says it is one", () => {
  assert.equal(bodyOf(pollMessage("general", 1)), "📊 Poll: Lunch? 1");
  assert.equal(bodyOf(message("general", 2)), "m2");
});

test("a poll in a conversation goes where its messages go (`dm` or `send`, as compose)", () => {
  const { state } = connected([roomInfo("@ann:bob", { peer: "Bob" })]);
  selectRoom(state, "@ann:bob");
  const [plain] = requests(compose(state, { text: "hi", nonce: "n0", now: 1 }));
  const [poll] = requests(composePoll(state, { question: "Lunch?", options: ["a", "b"],
    nonce: "n1", now: 2 }));
  const { text: _t, nonce: _n, poll: field, ...where } = poll;
  const { text: _t2, nonce: _n2, ...plainWhere } = plain;
  assert.deepEqual(where, plainWhere);
  assert.deepEqual(field, { options: ["a", "b"], multiple: false });
});

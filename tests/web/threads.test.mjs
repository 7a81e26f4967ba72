// Threads: a reply is a message of the room's log that changes its root's summary (by the rules
// of entries.js: once, in seq order), the room's timeline hides replies not sent also to the
// room, the thread panel pages a thread and follows the room's entries, the person's replies go
// through the outbox with `thread` (and `broadcast`), and a reply in a thread the person
// follows counts and alerts as a mention.

import assert from "node:assert/strict";
import { test } from "node:test";

import * as outbox from "../../clients/web/outbox.js";
import { namesOnScreen } from "../../clients/web/profiles.js";
import { alertKind } from "../../clients/web/alerts.js";
import { readUpTo, sighted } from "../../clients/web/readmarks.js";
import { timeline } from "../../clients/web/select.js";
import { shownMessage } from "../../clients/web/select-messages.js";
import {
  apply, closeThread, connectionChanged, jumpTo, moreThread, openResult, openThread, react,
  replyInThread, retryThread, selectRoom, setThreadAlso, startEdit,
} from "../../clients/web/state.js";
import {
  ago, agoChange, applyReply, begin, emptyThread, newReplies, nextSummaryChange, received,
  summaryText,
} from "../../clients/web/threads.js";
import { connected, generator, message, receiveAll, requests, roomInfo } from "./fixtures.mjs";

const ROOM = "general";
/** Reply `seq` in the thread of root message `rootSeq` (msg_id 1000 + seq, as fixtures). */
const reply = (seq, rootSeq, from = "Bob", extra = {}) => message(ROOM, seq, from, `r${seq}`,
  { thread: 1000 + rootSeq, ...extra });
const held = (state, seq) => state.rooms.get(ROOM).messages.get(seq);
const shownSeqs = (state) => timeline(state, state.rooms.get(ROOM))
  .filter((row) => row.kind === "message" || row.kind === "pending")
  .map((row) => row.message.seq ?? row.item.nonce);
const opened = () => {
  const { state } = connected([roomInfo(ROOM, { lastSeq: 0 })]);
  selectRoom(state, ROOM);
  return state;
};

test("a reply adds to its root's summary once: count, last time, repliers newest first", () => {
  const state = opened();
  receiveAll(state, [message(ROOM, 1, "ann"), reply(2, 1), reply(3, 1, "carol"), reply(4, 1)]);
  const root = held(state, 1);
  assert.deepEqual(root.replies, { count: 3, last_ts: 1_000_004, users: ["Bob", "carol"] });
  assert.equal(root.rev, 4);
  // The same replies again (a resume replaying them, a page): nothing counts twice.
  receiveAll(state, [reply(3, 1, "carol"), reply(4, 1)]);
  apply(state, { op: "ok", id: 5, room: ROOM, messages: [reply(2, 1), reply(3, 1, "carol")],
    more: false }, { request: { op: "history", room: ROOM, before: 5, limit: 50 } });
  assert.equal(held(state, 1).replies.count, 3);
  assert.equal(held(state, 1).rev, 4);
});

test("repliers are cut to five, each once, the newest first", () => {
  let root = { msg_id: 1, seq: 1, from: "ann", text: "q" };
  const names = ["a", "b", "c", "d", "e", "f", "B"];
  names.forEach((from, i) => {
    root = applyReply(root, { op: "reply", seq: 2 + i, msg_id: 1, from, ts: 10 + i });
    assert.ok(root.replies.users.length <= 5, `after ${from}: ${root.replies.users}`);
  });
  assert.deepEqual(root.replies, { count: 7, last_ts: 16, users: ["B", "f", "e", "d", "c"] });
  // An entry not newer than the root (its rev) is no change.
  assert.equal(applyReply(root, { op: "reply", seq: 5, msg_id: 1, from: "z", ts: 1 }), null);
});

test("a root read again replaces the one held only when not older (its rev)", () => {
  const state = opened();
  receiveAll(state, [message(ROOM, 1, "ann"), reply(2, 1), reply(3, 1)]);
  // A page read before reply 3: its root has rev 2, older than the one held.
  const old = message(ROOM, 1, "ann", "m1", { rev: 2,
    replies: { count: 1, last_ts: 1_000_002, users: ["Bob"] } });
  apply(state, { op: "ok", id: 5, room: ROOM, messages: [old], more: false },
    { request: { op: "history", room: ROOM, before: 2, limit: 50 } });
  assert.equal(held(state, 1).replies.count, 2);
  // One read after a reply this page has not seen: taken, and the reply then does not count again.
  const newer = message(ROOM, 1, "ann", "m1", { rev: 4,
    replies: { count: 3, last_ts: 1_000_004, users: ["carol", "Bob"] } });
  apply(state, { op: "ok", id: 6, room: ROOM, messages: [newer], more: false },
    { request: { op: "history", room: ROOM, before: 2, limit: 50 } });
  receiveAll(state, [reply(4, 1, "carol")]);
  assert.deepEqual(held(state, 1).replies, { count: 3, last_ts: 1_000_004,
    users: ["carol", "Bob"] });
});

test("a reply that comes before its root changes the root once it arrives", () => {
  const state = opened();
  // A gap: replies 5 and 6 live, the root (seq 4) with the page that fills the gap.
  receiveAll(state, [message(ROOM, 1), { op: "gap", room: ROOM, after: 1, last_seq: 4 },
    reply(5, 4), reply(6, 4, "carol")]);
  apply(state, { op: "ok", id: 5, room: ROOM, messages: [message(ROOM, 2), message(ROOM, 3),
    message(ROOM, 4, "ann")], more: false },
  { request: { op: "history", room: ROOM, after: 1, limit: 500 } });
  assert.deepEqual(held(state, 4).replies, { count: 2, last_ts: 1_000_006,
    users: ["carol", "Bob"] });
  assert.equal(held(state, 4).rev, 6);
});

test("the room's timeline hides replies, but those sent also to the room", () => {
  const state = opened();
  receiveAll(state, [message(ROOM, 1), reply(2, 1), reply(3, 1, "carol", { broadcast: true }),
    message(ROOM, 4)]);
  assert.deepEqual(shownSeqs(state), [1, 3, 4]);
  // Every message counts as unread, hidden or not (the server counts so).
  assert.equal(state.rooms.get(ROOM).unread, 4);
  // The "New" line goes before the first unread message shown.
  const { state: other } = connected([roomInfo(ROOM, { lastSeq: 1, readSeq: 1 }),
    roomInfo("announcements")]);
  receiveAll(other, [reply(2, 1), message(ROOM, 3)]);
  selectRoom(other, ROOM);
  const rows = timeline(other, other.rooms.get(ROOM));
  assert.deepEqual(rows.filter((r) => r.kind !== "day").map((r) => r.key), ["new", "m3"]);
});

test("the root's summary reads as Slack's; new replies are those after the read marker", () => {
  assert.equal(summaryText({ replies: { count: 1, last_ts: 0, users: ["a"] } }, 30_000),
    "1 reply · last reply just now");
  assert.equal(summaryText({ replies: { count: 3, last_ts: 0, users: [] } }, 5 * 60_000),
    "3 replies · last reply 5 min ago");
  assert.equal(summaryText({ text: "none" }, 0), "");
  assert.equal(ago(0, 3 * 3600_000), "3 h ago");
  assert.equal(ago(0, 30 * 3600_000), "yesterday");
  const { state } = connected([roomInfo(ROOM, { lastSeq: 3, readSeq: 3 })]);
  receiveAll(state, [message(ROOM, 4), reply(5, 4), reply(6, 4, "ann"), reply(7, 4, "carol"),
    { op: "deleted", room: ROOM, seq: 8, msg_id: 1007, by: "carol", ts: 1 }, reply(9, 4)]);
  const room = state.rooms.get(ROOM);
  assert.equal(newReplies(room, 1004, "ann"), 2); // 5 and 9: not ann's 6, not the deleted 7
  room.markRead(5, "ann");
  assert.equal(newReplies(room, 1004, "ann"), 1);
});

test("a reply that mentions its followers (the server names them) counts and alerts", () => {
  const { state } = connected([roomInfo(ROOM, { lastSeq: 0, notify: "mentions" }),
    roomInfo("lobby")]);
  selectRoom(state, "lobby"); // not looking at the room: it alerts
  state.alerts = { desktop: false, sound: true, permission: "default" };
  // Ann wrote root 1, so she follows its thread: the server names her in its replies'
  // mentions, though their text does not.
  const effects = receiveAll(state, [message(ROOM, 1, "ann"), message(ROOM, 2, "carol"),
    reply(3, 1, "Bob", { mentions: ["ann"] }), reply(4, 2, "Bob", { mentions: ["carol"] })],
  1_000_004);
  const room = state.rooms.get(ROOM);
  assert.equal(room.mentions, 1);
  assert.equal(room.unread, 3);
  assert.deepEqual(effects.filter((e) => e.alert).map((e) => [e.alert.seq, e.alert.kind,
    e.alert.title]), [[3, "mention", "Bob replied in a thread in #general"]]);
  assert.equal(alertKind(state, room, held(state, 4)), null);
  // Highlighted, in the room's timeline when sent also to it, and in the thread.
  selectRoom(state, ROOM);
  const [asked] = requests(openThread(state, 1001));
  apply(state, { op: "ok", id: 3, room: ROOM, root: held(state, 1), messages: [held(state, 3)],
    more: false }, { request: asked });
  assert.equal(shownMessage(state, room, state.threadPanel.items[0]).mentionsMe, true);
});

test("the person's reply goes with thread (and broadcast), shows in the panel, not the room", () => {
  const state = opened();
  receiveAll(state, [message(ROOM, 1), message(ROOM, 2)]);
  const [asked] = requests(openThread(state, 1001));
  assert.deepEqual(asked, { op: "thread", room: ROOM, msg_id: 1001, limit: 50 });
  apply(state, { op: "ok", id: 3, room: ROOM, root: message(ROOM, 1), messages: [], more: false },
    { request: asked });
  const [sent] = requests(replyInThread(state, { text: "in the thread", nonce: "n1", now: 5 }));
  assert.deepEqual(sent, { op: "send", room: ROOM, text: "in the thread", nonce: "n1",
    thread: 1001 });
  assert.deepEqual(shownSeqs(state), [1, 2]); // not in the room's timeline while on its way
  setThreadAlso(state, true);
  const [both] = requests(replyInThread(state, { text: "to all", nonce: "n2", now: 6 }));
  assert.deepEqual(both, { op: "send", room: ROOM, text: "to all", nonce: "n2", thread: 1001,
    broadcast: true });
  assert.equal(state.threadPanel.also, false, "the box is ticked for one message");
  assert.deepEqual(shownSeqs(state), [1, 2, "n2"]);
  // The acks: the replies are the room's, the panel's and the root's.
  apply(state, { op: "ok", id: 4, room: ROOM, seq: 3, msg_id: 1003, ts: 7 }, { request: sent });
  apply(state, { op: "ok", id: 5, room: ROOM, seq: 4, msg_id: 1004, ts: 8 }, { request: both });
  assert.deepEqual(state.threadPanel.items.map((m) => m.seq), [3, 4]);
  assert.equal(state.threadPanel.root.replies.count, 2);
  assert.equal(held(state, 1).replies.count, 2);
  assert.deepEqual(shownSeqs(state), [1, 2, 4]);
  assert.equal(held(state, 3).thread, 1001);
  assert.equal(held(state, 4).broadcast, true);
  assert.equal(state.outbox.length, 0);
});

test("a poll made in the thread's box is a reply with `poll` (and broadcast when ticked)", () => {
  const state = opened();
  receiveAll(state, [message(ROOM, 1)]);
  const [asked] = requests(openThread(state, 1001));
  apply(state, { op: "ok", id: 3, room: ROOM, root: message(ROOM, 1), messages: [], more: false },
    { request: asked });
  // The dialog's rules, as the room's box's poll: nothing queued when broken.
  assert.deepEqual(replyInThread(state, { text: "Lunch?", poll: { options: ["a", "A "] },
    nonce: "n0", now: 5 }), [{ toast: "Option 2 repeats another option." }]);
  assert.equal(state.outbox.length, 0);
  setThreadAlso(state, true);
  const [sent] = requests(replyInThread(state, { text: "Lunch?",
    poll: { options: [" Pizza", "Sushi "], multiple: true }, nonce: "n1", now: 6 }));
  assert.deepEqual(sent, { op: "send", room: ROOM, text: "Lunch?", nonce: "n1", thread: 1001,
    broadcast: true, poll: { options: ["Pizza", "Sushi"], multiple: true } });
  assert.equal(state.threadPanel.also, false, "the box is ticked for one message");
  // Kept with its thread and poll across a reload, as any reply on its way.
  const [kept] = outbox.restore(JSON.parse(JSON.stringify(outbox.save(state.outbox))));
  assert.deepEqual(outbox.request(kept), sent);
  // Its ack shows it in the panel as a poll with no votes until its own event comes.
  apply(state, { op: "ok", id: 4, room: ROOM, seq: 2, msg_id: 1002, ts: 7 }, { request: sent });
  const [shown] = state.threadPanel.items;
  assert.equal(shown.thread, 1001);
  assert.deepEqual(shown.poll.options.map((o) => [o.text, o.votes]), [["Pizza", 0],
    ["Sushi", 0]]);
  assert.equal(shownMessage(state, state.rooms.get(ROOM), shown).canVote, true);
});

test("a reply saved in the outbox keeps its thread across a reload", () => {
  const item = outbox.entry({ nonce: "n", room: ROOM, text: "t", ts: 1, thread: 7,
    broadcast: true });
  const [back] = outbox.restore(JSON.parse(JSON.stringify(outbox.save([item]))));
  assert.equal(back.thread, 7);
  assert.equal(back.broadcast, true);
  assert.deepEqual(outbox.request(back), { op: "send", room: ROOM, text: "t", nonce: "n",
    thread: 7, broadcast: true });
  const plain = outbox.entry({ nonce: "m", room: ROOM, text: "t", ts: 1, broadcast: true });
  assert.deepEqual(outbox.request(plain), { op: "send", room: ROOM, text: "t", nonce: "m" });
});

test("the panel pages older replies and merges them with the live ones", () => {
  const state = opened();
  // The room holds the root as read after reply 59 (and none of the replies).
  receiveAll(state, [message(ROOM, 1, "Bob", "m1", { rev: 59,
    replies: { count: 58, last_ts: 1_000_059, users: ["Bob"] } })]);
  const [first] = requests(openThread(state, 1001));
  // Live replies and changes come before the first page's reply, which was read before some.
  receiveAll(state, [reply(60, 1), { op: "reaction", room: ROOM, seq: 61, msg_id: 1059,
    emoji: "👍", user: "carol", on: true, ts: 1 }, { op: "edited", room: ROOM, seq: 62,
    msg_id: 1058, text: "changed", ts: 2 }]);
  const page = [reply(57, 1), reply(58, 1), reply(59, 1)];
  apply(state, { op: "ok", id: 3, room: ROOM, more: true, messages: page,
    root: message(ROOM, 1, "Bob", "m1", { rev: 59,
      replies: { count: 58, last_ts: 1_000_059, users: ["Bob"] } }) }, { request: first });
  const panel = state.threadPanel;
  assert.deepEqual(panel.items.map((m) => m.seq), [57, 58, 59, 60]);
  assert.equal(panel.items[1].text, "changed");
  assert.deepEqual(panel.items[2].reactions, [{ emoji: "👍", users: ["carol"] }]);
  assert.equal(panel.root.replies.count, 59, "the live reply counts on the page's root");
  assert.equal(panel.root.rev, 60);
  // Older replies, asked with before = the first one's seq.
  const [older] = requests(moreThread(state));
  assert.deepEqual(older, { op: "thread", room: ROOM, msg_id: 1001, before: 57, limit: 50 });
  assert.deepEqual(requests(moreThread(state)), [], "one request at a time");
  apply(state, { op: "ok", id: 4, room: ROOM, more: false, messages: [reply(2, 1), reply(3, 1)],
    root: message(ROOM, 1) }, { request: older });
  assert.deepEqual(panel.items.map((m) => m.seq), [2, 3, 57, 58, 59, 60]);
  assert.equal(panel.more, false);
  assert.equal(panel.root.replies.count, 59, "an older root does not replace the newer");
  // A reaction from the panel on a reply the room does not hold.
  const [reacted] = requests(react(state, { msgId: 1002, emoji: "🎉", on: true, key: "k",
    now: 1 }));
  assert.deepEqual(reacted, { op: "react", room: ROOM, msg_id: 1002, emoji: "🎉", on: true });
});

test("a reply seen again after a change (a resume replaying it) keeps the change", () => {
  const state = opened();
  receiveAll(state, [message(ROOM, 1)]);
  const [asked] = requests(openThread(state, 1001));
  apply(state, { op: "ok", id: 3, room: ROOM, more: false, messages: [],
    root: message(ROOM, 1) }, { request: asked });
  receiveAll(state, [reply(2, 1), { op: "edited", room: ROOM, seq: 3, msg_id: 1002,
    text: "changed", ts: 5 }, reply(2, 1)]);
  assert.deepEqual(state.threadPanel.items.map((m) => [m.seq, m.text]), [[2, "changed"]]);
  assert.equal(state.threadPanel.root.replies.count, 1);
});

test("a reply for another thread, or a page for a thread no longer shown, changes nothing", () => {
  const state = opened();
  receiveAll(state, [message(ROOM, 1), message(ROOM, 2)]);
  const [asked] = requests(openThread(state, 1001));
  apply(state, { op: "ok", id: 3, room: ROOM, more: false, messages: [],
    root: message(ROOM, 1) }, { request: asked });
  receiveAll(state, [reply(3, 2)]);
  assert.deepEqual(state.threadPanel.items, []);
  const [again] = requests(openThread(state, 1002));
  apply(state, { op: "ok", id: 4, room: ROOM, more: false, messages: [reply(9, 1)],
    root: message(ROOM, 1) }, { request: asked });
  assert.equal(state.threadPanel.root?.msg_id ?? null, 1002, "the room's root, while loading");
  apply(state, { op: "ok", id: 5, room: ROOM, more: false,
    messages: [reply(3, 2), reply(7, 2, "ann")], root: message(ROOM, 2) }, { request: again });
  assert.deepEqual(state.threadPanel.items.map((m) => m.seq), [3, 7]);
  // An edit of a reply only the panel holds ends with the panel, without a word of deletion.
  startEdit(state, 1007);
  assert.deepEqual(state.editing, { room: ROOM, msgId: 1007 });
  closeThread(state);
  assert.equal(state.threadPanel.room, null);
  assert.equal(state.editing, null);
  assert.deepEqual(receiveAll(state, [message(ROOM, 8)]).filter((e) => e.toast), []);
});

test("opening a reply opens its root's thread; a failure says why and is retried", () => {
  const state = opened();
  receiveAll(state, [message(ROOM, 1), reply(2, 1, "Bob", { broadcast: true })]);
  assert.equal(shownMessage(state, state.rooms.get(ROOM), held(state, 2)).canThread, true);
  const [asked] = requests(openThread(state, 1002));
  assert.equal(asked.msg_id, 1001);
  apply(state, { op: "error", id: 3, code: "not_found", message: "no such message" },
    { request: asked });
  assert.equal(state.threadPanel.status, "failed");
  assert.equal(state.threadPanel.error, "This thread is not there any more.");
  const [again] = requests(retryThread(state));
  assert.deepEqual(again, asked);
  connectionChanged(state, "waiting");
  const { state: offline } = { state };
  assert.deepEqual(requests(openThread(offline, 1001)), []);
});

test("a welcome asks the thread shown again; opening another room closes it", () => {
  const state = opened();
  receiveAll(state, [message(ROOM, 1)]);
  requests(openThread(state, 1001));
  const effects = apply(state, { op: "welcome", id: 2, user: { id: 1, name: "ann" },
    rooms: [roomInfo(ROOM, { lastSeq: 1 }), roomInfo("lobby")], contacts: [] });
  assert.deepEqual(requests(effects).filter((r) => r.op === "thread"),
    [{ op: "thread", room: ROOM, msg_id: 1001, limit: 50 }]);
  selectRoom(state, "lobby");
  assert.equal(state.threadPanel.room, null);
});

test("the panel ends the same whatever the order of its pages and the live entries", () => {
  // A model thread: a root and replies, with edits, deletions and reactions of replies, all
  // entries of the room's log. The panel is opened at some moment; pages (read at any moment
  // since) and live entries come mixed. It ends with the server's root and replies.
  for (let seed = 1; seed <= 200; seed += 1) {
    const random = generator(seed * 31337);
    const log = [message(ROOM, 1, "ann")];
    const objects = new Map([[1001, { ...log[0] }]]); // msg_id -> object as of the end
    const at = new Map(); // t -> snapshot of objects
    const snapshot = () => new Map([...objects].map(([k, v]) => [k, structuredClone(v)]));
    at.set(1, snapshot());
    const n = 2 + random(30);
    for (let seq = 2; seq <= n; seq += 1) {
      const replies = [...objects.values()].filter((m) => m.thread === 1001 && !m.deleted);
      const kind = replies.length ? random(5) : 0;
      let entry;
      if (kind < 2) {
        const from = random.pick(["Bob", "carol", "ann"]);
        entry = reply(seq, 1, from);
        objects.set(entry.msg_id, { ...entry });
        const root = objects.get(1001);
        objects.set(1001, { ...applyReply(root, { op: "reply", seq, msg_id: 1001, from,
          ts: entry.ts }) });
      } else if (kind < 3) {
        const target = random.pick(replies);
        entry = { op: "edited", room: ROOM, seq, msg_id: target.msg_id, text: `v${seq}`, ts: seq };
        objects.set(target.msg_id, { ...target, text: entry.text, edited_ts: seq, rev: seq });
      } else if (kind < 4) {
        const target = random.pick(replies);
        entry = { op: "deleted", room: ROOM, seq, msg_id: target.msg_id, by: "Bob", ts: seq };
        const { reactions: _r, edited_ts: _e, ...rest } = target;
        objects.set(target.msg_id, { ...rest, text: "", deleted: true, rev: seq });
      } else {
        const target = random.pick(replies);
        const on = !(target.reactions || []).length;
        entry = { op: "reaction", room: ROOM, seq, msg_id: target.msg_id, emoji: "👍",
          user: "carol", on, ts: seq };
        const next = { ...target, rev: seq };
        if (on) next.reactions = [{ emoji: "👍", users: ["carol"] }];
        else delete next.reactions;
        objects.set(target.msg_id, next);
      }
      log.push(entry);
      at.set(seq, snapshot());
    }
    /** The thread as a `thread` reply read at `t`, replies before seq `before`, `limit` newest. */
    const page = (t, before, limit) => {
      const snap = at.get(t);
      const all = [...snap.values()].filter((m) => m.thread === 1001 && m.seq < before)
        .sort((a, b) => a.seq - b.seq);
      const messages = all.slice(-limit);
      return { op: "ok", id: 1, room: ROOM, root: snap.get(1001), messages,
        more: all.length > messages.length };
    };
    const state = opened();
    receiveAll(state, [log[0]]);
    const start = 1 + random(n); // live from seq start + 1 on, the panel opened at start
    receiveAll(state, log.slice(1, start).map((e) => structuredClone(e)));
    let [asked] = requests(openThread(state, 1001));
    const readAt = () => start + random(n - start + 1);
    let live = start + 1;
    let pending = { asked, t: readAt() };
    while (pending || live <= n) {
      if (pending && (live > n || random(2) === 0)) {
        const t = Math.max(pending.t, Math.min(n, live - 1));
        const before = pending.asked.before ?? Infinity;
        apply(state, structuredClone(page(t, before, 3)), { request: pending.asked });
        [asked] = requests(moreThread(state));
        pending = asked ? { asked, t: readAt() } : null;
      } else {
        apply(state, structuredClone(log[live - 1]));
        if (random(4) === 0) apply(state, structuredClone(log[live - 1]));
        live += 1;
      }
    }
    const panel = state.threadPanel;
    const final = at.get(n);
    const want = [...final.values()].filter((m) => m.thread === 1001)
      .sort((a, b) => a.seq - b.seq);
    const canon = (m) => ({ seq: m.seq, text: m.text, deleted: Boolean(m.deleted),
      reactions: m.reactions ?? [], rev: m.rev ?? m.seq });
    assert.deepEqual(panel.items.map(canon), want.map(canon), `seed ${seed}: replies`);
    assert.deepEqual(panel.root.replies ?? null, final.get(1001).replies ?? null,
      `seed ${seed}: root`);
    assert.deepEqual(state.rooms.get(ROOM).messages.get(1).replies ?? null,
      final.get(1001).replies ?? null, `seed ${seed}: the room's root`);
  }
});

test("begin with the room's root shows it at once; received ignores an unasked reply", () => {
  const panel = emptyThread();
  const fields = begin(panel, ROOM, 1001, { root: message(ROOM, 1) });
  assert.equal(panel.root.msg_id, 1001);
  assert.equal(received(panel, { ...fields, before: 3 }, { root: message(ROOM, 2) }), false);
  assert.equal(received(panel, fields, { root: message(ROOM, 1), messages: [], more: false }),
    true);
  assert.equal(panel.status, "done");
});

test("the panel keeps what the thread's page said of following and read_seq", () => {
  const panel = emptyThread();
  const fields = begin(panel, ROOM, 1001);
  assert.equal(panel.said, null);
  received(panel, fields, { root: message(ROOM, 1), messages: [], more: false,
    following: false, read_seq: 7 });
  assert.deepEqual(panel.said, { following: false, readSeq: 7 });
  const old = emptyThread(); // a server that does not say: nothing said
  const asked = begin(old, ROOM, 1001);
  received(old, asked, { root: message(ROOM, 1), messages: [], more: false });
  assert.equal(old.said, null);
});

test("a reply not shown in the room does not stop the read marker; seen in its thread, it is read", () => {
  const { state } = connected([roomInfo(ROOM, { lastSeq: 0 })]);
  apply(state, { op: "ok", id: 2, room: ROOM, messages: [], more: false },
    { request: { op: "history", room: ROOM, limit: 50 } });
  receiveAll(state, [message(ROOM, 1), reply(2, 1), message(ROOM, 3), reply(4, 1)]);
  const room = state.rooms.get(ROOM);
  assert.equal(readUpTo(room, new Set([1]), "ann"), 1, "the reply after it is not seen");
  assert.equal(readUpTo(room, new Set([1, 3]), "ann"), 3, "read with the message after it");
  sighted(state, ROOM, [1, 3]);
  assert.equal(room.readSeq, 3);
  assert.equal(newReplies(room, 1001, "ann"), 1);
  sighted(state, ROOM, [4]); // seen in the thread panel
  assert.equal(room.readSeq, 4);
  assert.equal(newReplies(room, 1001, "ann"), 0);
  assert.equal(room.unread, 0);
});

test("a notification or a search result of a reply the room hides opens its thread", () => {
  const { state } = connected([roomInfo(ROOM, { lastSeq: 0 }), roomInfo("lobby")]);
  receiveAll(state, [message(ROOM, 1), reply(2, 1), reply(3, 1, "Bob", { broadcast: true })]);
  selectRoom(state, "lobby");
  const notified = requests(openResult(state, { room: ROOM, msgId: 1002, seq: 2 }));
  assert.deepEqual(notified.filter((r) => r.op === "thread"),
    [{ op: "thread", room: ROOM, msg_id: 1001, limit: 50 }]);
  assert.equal(state.current, ROOM);
  assert.equal(state.jump.msgId, 1001, "the room shows the thread's root");
  // A broadcast reply is in the timeline: shown there, as any message.
  closeThread(state);
  const shown = requests(openResult(state, { room: ROOM, msgId: 1003, seq: 3 }));
  assert.deepEqual(shown.filter((r) => r.op === "thread"), []);
  assert.equal(state.jump.msgId, 1003);
  // A search result of a reply not held: its thread, not a page back through the room.
  const found = requests(openResult(state, { room: ROOM, msgId: 1090, seq: 90, thread: 1080 }));
  assert.deepEqual(found.filter((r) => r.op !== "who"),
    [{ op: "thread", room: ROOM, msg_id: 1080, limit: 50 }]);
});

test("a quote of a reply the room hides opens its thread at that reply, paging back to it", () => {
  const state = opened();
  // Root 1 with replies 2 and 3 (3 quotes 2), and a room message 4 quoting reply 2.
  receiveAll(state, [message(ROOM, 1), reply(2, 1), reply(3, 1),
    message(ROOM, 4, "Carol", "see that", { reply_to: 1002 })]);
  const jumpTick = state.jump.tick;
  const asked = requests(jumpTo(state, 1002));
  assert.deepEqual(asked, [{ op: "thread", room: ROOM, msg_id: 1001, limit: 50 }],
    "its thread, not a page back through the room");
  assert.equal(state.jump.tick, jumpTick, "the timeline stays where it is");
  const panel = state.threadPanel;
  assert.equal(panel.shown, true);
  const target = panel.target;
  assert.deepEqual(target, { msgId: 1002 });
  // The newest page does not hold it: the panel pages back until it does.
  const more = requests(apply(state, { op: "ok", id: 3, room: ROOM, more: true,
    messages: [reply(3, 1)], root: message(ROOM, 1) }, { request: asked[0] }));
  assert.deepEqual(more, [{ op: "thread", room: ROOM, msg_id: 1001, before: 3, limit: 50 }]);
  const none = requests(apply(state, { op: "ok", id: 4, room: ROOM, more: false,
    messages: [reply(2, 1)], root: message(ROOM, 1) }, { request: more[0] }));
  assert.deepEqual(none.filter((r) => r.op === "thread"), [], "held now");
  assert.equal(panel.target, target, "the view shows it");
  // Pressed again with the thread shown: aimed at anew (highlighted again), nothing asked.
  assert.deepEqual(requests(jumpTo(state, 1002)), []);
  assert.notEqual(panel.target, target);
  assert.deepEqual(panel.target, { msgId: 1002 });
  // A broadcast reply and a plain message: the timeline, as before.
  receiveAll(state, [reply(5, 1, "Bob", { broadcast: true })]);
  assert.deepEqual(requests(jumpTo(state, 1005)), []);
  assert.equal(state.jump.msgId, 1005);
});

test("a quote of a reply not held: found by paging the room back, shown in its thread", () => {
  const { state } = connected([roomInfo(ROOM, { lastSeq: 0 })]);
  // The room's latest page: a message quoting reply 2, older messages remain.
  apply(state, { op: "ok", id: 5, room: ROOM, more: true, last_seq: 60,
    messages: [message(ROOM, 60, "Carol", "see that", { reply_to: 1002 })] },
  { request: { op: "history", room: ROOM, limit: 50 } });
  selectRoom(state, ROOM);
  const [older] = requests(jumpTo(state, 1002));
  assert.equal(older.op, "history");
  const effects = apply(state, { op: "ok", id: 6, room: ROOM, more: false, last_seq: 60,
    messages: [message(ROOM, 1), reply(2, 1)] }, { request: older });
  assert.deepEqual(requests(effects).filter((r) => r.op === "thread"),
    [{ op: "thread", room: ROOM, msg_id: 1001, limit: 50 }]);
  assert.deepEqual(state.threadPanel.target, { msgId: 1002 });
});

test("a notification of a reply the room hides aims the thread panel at it", () => {
  const { state } = connected([roomInfo(ROOM, { lastSeq: 0 }), roomInfo("lobby")]);
  receiveAll(state, [message(ROOM, 1), reply(2, 1)]);
  selectRoom(state, "lobby");
  openResult(state, { room: ROOM, msgId: 1002, seq: 2 });
  assert.deepEqual(state.threadPanel.target, { msgId: 1002 });
});

test("the names on screen include a root's repliers and the thread panel's authors", () => {
  const state = opened();
  receiveAll(state, [message(ROOM, 1, "ann", "m1", { rev: 9,
    replies: { count: 2, last_ts: 1, users: ["dave", "erin"] } })]);
  const [asked] = requests(openThread(state, 1001));
  apply(state, { op: "ok", id: 3, room: ROOM, more: true, messages: [reply(8, 1, "frank")],
    root: held(state, 1) }, { request: asked });
  const names = namesOnScreen(state);
  for (const name of ["dave", "erin", "frank"]) assert.ok(names.includes(name), name);
});

test("new replies stay marked while the room is open, until their thread is shown", () => {
  const { state } = connected([roomInfo(ROOM, { lastSeq: 1, readSeq: 1 }), roomInfo("lobby")]);
  selectRoom(state, "lobby");
  receiveAll(state, [message(ROOM, 1, "ann"), reply(2, 1), reply(3, 1),
    message(ROOM, 4, "carol")]);
  selectRoom(state, ROOM);
  apply(state, { op: "ok", id: 2, room: ROOM, messages: [], more: false },
    { request: { op: "history", room: ROOM, limit: 50 } });
  const room = state.rooms.get(ROOM);
  const fresh = () => shownMessage(state, room, held(state, 1)).replies.fresh;
  assert.equal(fresh(), 2);
  sighted(state, ROOM, [4]); // read with the message after them
  assert.equal(room.readSeq, 4);
  assert.equal(fresh(), 2, "still marked while the room is open");
  requests(openThread(state, 1001));
  assert.equal(fresh(), 0, "shown in the panel");
  closeThread(state);
  assert.equal(fresh(), 0);
  receiveAll(state, [reply(5, 1, "dave")]);
  assert.equal(fresh(), 1, "a reply after the thread was shown");
  // Opened again later: only what came after the marker then.
  selectRoom(state, "lobby");
  sighted(state, ROOM, [5]);
  selectRoom(state, ROOM);
  assert.equal(fresh(), 0);
});

test("a summary's \"last reply … ago\" says when it changes next: the words differ then", () => {
  const MIN = 60_000;
  assert.equal(agoChange(0, 30_000), MIN);
  assert.equal(agoChange(0, 5 * MIN + 1), 6 * MIN);
  assert.equal(agoChange(0, 59 * MIN + 5), 60 * MIN);
  assert.equal(agoChange(0, 90 * MIN), 120 * MIN);
  assert.equal(agoChange(0, 30 * 60 * MIN), 48 * 60 * MIN);
  assert.equal(agoChange(10 * MIN, 0), 11 * MIN); // a clock behind: "just now" until then
  // Across the first days: the same words until the time given, other words at it.
  for (let now = 0; now < 3 * 24 * 60 * MIN; now += 7 * MIN + 13_000) {
    const at = agoChange(0, now);
    assert.ok(at > now);
    assert.equal(ago(0, at - 1), ago(0, now));
    assert.notEqual(ago(0, at), ago(0, now));
  }
});

test("the open room's next summary change is its soonest root's; none without replies", () => {
  const { state } = connected([roomInfo(ROOM, { lastSeq: 0 })]);
  const room = state.rooms.get(ROOM);
  assert.equal(nextSummaryChange(room, 0), null);
  assert.equal(nextSummaryChange(null, 0), null);
  receiveAll(state, [message(ROOM, 1), message(ROOM, 2), reply(3, 1), reply(4, 2)]);
  const last = (seq) => held(state, seq).replies.last_ts;
  const now = Math.max(last(1), last(2)) + 30 * 60_000 + 5;
  assert.equal(nextSummaryChange(room, now),
    Math.min(agoChange(last(1), now), agoChange(last(2), now)));
});

// The followed threads (clients/web/inbox.js): the listing, the counts, the events, and a
// property: whatever the order a thread's replies, its `thread_state` events and a listing's
// page reach the page in, its counts are those of the server's final state.

import assert from "node:assert/strict";
import { test } from "node:test";

import * as inbox from "../../clients/web/inbox.js";
import { generator } from "./fixtures.mjs";

function root(msgId, { rev = msgId, count = 1, lastTs = 5000 } = {}) {
  return { room: "general", seq: msgId, msg_id: msgId, from: "ann", text: `root ${msgId}`,
    ts: 1000, rev, replies: { count, last_ts: lastTs, users: ["bob"] } };
}

function listed(msgId, extra = {}) {
  const { rev, lastTs, ...rest } = extra;
  return { room: "general", root: root(msgId, { rev, lastTs }), following: true, read_seq: 0,
    unread: 0, mentions: 0, ...rest };
}

function reply(seq, rootId, { from = "bob", text = `r${seq}`, mentions = ["ann"], ts = 10_000 + seq } = {}) {
  return { op: "message", room: "general", seq, msg_id: 2000 + seq, from, text, ts,
    thread: rootId, mentions };
}

function listedInbox(threads, { more = false, welcome = 0 } = {}) {
  const box = inbox.emptyInbox();
  const asked = inbox.welcomed(box, welcome);
  assert.ok(inbox.received(box, asked, { threads, more }, "ann"));
  return box;
}

test("the first page after a welcome: the threads, the latest reply first, and the count", () => {
  const box = inbox.emptyInbox();
  const asked = inbox.welcomed(box, 2);
  assert.deepEqual(asked, { limit: inbox.INBOX_PAGE });
  assert.equal(inbox.unreadThreads(box), 2); // the welcome's until the page comes
  assert.ok(inbox.received(box, asked, { threads: [
    listed(10, { lastTs: 9000, rev: 15, read_seq: 12, unread: 3, mentions: 1 }),
    listed(20, { lastTs: 8000, rev: 25, read_seq: 25 }),
  ], more: false }, "ann"));
  const shown = inbox.shownThreads(box);
  assert.deepEqual(shown.map((t) => [t.rootId, t.unread, t.mentions]), [[10, 3, 1], [20, 0, 0]]);
  assert.equal(inbox.unreadThreads(box), 1);
  assert.equal(box.status, "done");
});

test("the welcome's count beyond the first page stays counted until its page comes", () => {
  const box = inbox.emptyInbox();
  const asked = inbox.welcomed(box, 3);
  inbox.received(box, asked, { threads: [listed(10, { lastTs: 9000, unread: 1, rev: 15 })],
    more: true }, "ann");
  assert.equal(inbox.unreadThreads(box), 3); // 1 held, 2 beyond
  const next = inbox.nextPage(box);
  assert.deepEqual(next, { before: 9000, limit: inbox.INBOX_PAGE });
  assert.equal(inbox.nextPage(box), null); // one at a time
  inbox.received(box, next, { threads: [listed(20, { lastTs: 8000, unread: 2, rev: 25 }),
    listed(30, { lastTs: 7000, unread: 1, rev: 35 })], more: false }, "ann");
  assert.equal(inbox.unreadThreads(box), 3);
  assert.equal(box.outside, 0);
  assert.equal(inbox.nextPage(box), null);
});

test("a reply by someone else in a followed thread counts, once, with its mention", () => {
  const box = listedInbox([listed(10, { rev: 15, read_seq: 15 })]);
  assert.equal(inbox.unreadThreads(box), 0);
  inbox.replyEntry(box, "general", reply(16, 10, { text: "hi @ann." }), "ann");
  inbox.replyEntry(box, "general", reply(16, 10, { text: "hi @ann." }), "ann"); // again
  inbox.replyEntry(box, "general", reply(17, 10, { text: "and ann@example.org" }), "ann");
  const [t] = inbox.shownThreads(box);
  assert.deepEqual([t.unread, t.mentions], [2, 1]);
  assert.equal(inbox.unreadThreads(box), 1);
  // A reply the listing counted already (its seq up to the root's rev) is not counted again.
  inbox.replyEntry(box, "general", reply(14, 10), "ann");
  assert.equal(inbox.shownThreads(box)[0].unread, 2);
});

test("replying follows the thread and reads it; a deleted reply no longer counts", () => {
  const box = listedInbox([listed(10, { rev: 15, read_seq: 15, following: false })]);
  inbox.replyEntry(box, "general", reply(16, 10), "ann");
  assert.equal(inbox.unreadThreads(box), 0); // not followed
  inbox.replyEntry(box, "general", reply(17, 10, { from: "Ann" }), "ann");
  const [t] = inbox.shownThreads(box);
  assert.deepEqual([t.following, t.readSeq, t.unread], [true, 17, 0]);
  inbox.replyEntry(box, "general", reply(18, 10), "ann");
  assert.equal(inbox.unreadThreads(box), 1);
  inbox.changeEntry(box, "general", { op: "deleted", seq: 19, msg_id: 2018 });
  assert.equal(inbox.unreadThreads(box), 0);
});

test("a reply naming the person in a thread not held makes it known: the list is asked again", () => {
  const box = listedInbox([]);
  assert.equal(inbox.replyEntry(box, "general", reply(16, 40, { mentions: [] }), "ann"), false);
  assert.equal(inbox.shownThreads(box).length, 0); // not followed: not named
  assert.equal(inbox.replyEntry(box, "general", reply(17, 40), "ann"), true);
  assert.equal(inbox.unreadThreads(box), 1);
  assert.deepEqual(inbox.refresh(box), { limit: inbox.INBOX_PAGE });
});

test("thread_state: following as it says, read_seq only forward", () => {
  const box = listedInbox([listed(10, { rev: 15, read_seq: 12, unread: 2 })]);
  assert.equal(inbox.unreadThreads(box), 1);
  inbox.threadState(box, { op: "thread_state", room: "general", msg_id: 10, following: false,
    read_seq: 12 });
  assert.equal(inbox.unreadThreads(box), 0); // unfollowed: not counted
  assert.equal(inbox.shownThreads(box)[0].unread, 2); // (still listed, with its replies)
  inbox.threadState(box, { room: "general", msg_id: 10, following: true, read_seq: 15 });
  inbox.threadState(box, { room: "general", msg_id: 10, following: true, read_seq: 13 });
  assert.equal(inbox.shownThreads(box)[0].readSeq, 15);
  assert.equal(inbox.unreadThreads(box), 0);
  // A thread not held, unfollowed: held as not followed (a reply of the person's own older than
  // the event does not follow it again; a newer one does).
  inbox.threadState(box, { room: "general", msg_id: 99, following: false, read_seq: 30 });
  inbox.replyEntry(box, "general", reply(30, 99, { from: "ann" }), "ann");
  assert.equal(inbox.isFollowing(box, "general", 99), false);
  inbox.replyEntry(box, "general", reply(31, 99, { from: "ann" }), "ann");
  assert.equal(inbox.isFollowing(box, "general", 99), true);
});

test("read_thread is asked once per seq, forward only, and counts at once", () => {
  const box = listedInbox([listed(10, { rev: 15, read_seq: 12, unread: 2 })]);
  assert.deepEqual(inbox.readRequest(box, "general", 10, 15),
    { room: "general", msg_id: 10, seq: 15 });
  assert.equal(inbox.unreadThreads(box), 0);
  assert.equal(inbox.readRequest(box, "general", 10, 15), null);
  assert.equal(inbox.readRequest(box, "general", 10, 14), null);
  assert.equal(inbox.readRequest(box, "general", 99, 3).seq, 3); // a thread not followed: told too
});

test("follow and unfollow show at once; a later first page drops what is no longer followed", () => {
  const box = listedInbox([listed(10, { rev: 15, unread: 1, lastTs: 9000 })]);
  assert.deepEqual(inbox.followRequest(box, "general", 10, false),
    { room: "general", msg_id: 10, on: false });
  assert.equal(inbox.isFollowing(box, "general", 10), false);
  const asked = inbox.welcomed(box, 0);
  inbox.received(box, asked, { threads: [], more: false }, "ann");
  assert.equal(inbox.shownThreads(box).length, 0);
});

test("a failed listing says why; an old server keeps no followed threads", () => {
  const box = inbox.emptyInbox();
  const asked = inbox.welcomed(box, 0);
  assert.ok(inbox.failed(box, asked, { code: "unknown_op", message: "no" }));
  assert.equal(box.supported, false);
  assert.match(inbox.statusText(box), /does not keep followed threads/);
  assert.equal(inbox.refresh(box), null);
  assert.equal(inbox.readRequest(box, "general", 10, 3), null);
});

test("a reply to a request no longer waited for changes nothing", () => {
  const box = inbox.emptyInbox();
  const first = inbox.welcomed(box, 0);
  inbox.stopped(box);
  assert.equal(inbox.received(box, first, { threads: [listed(10)], more: false }, "ann"), false);
  assert.equal(inbox.shownThreads(box).length, 0);
});

test("namesMe reads mentions as the server does", () => {
  assert.ok(inbox.namesMe("hi @Ann", "ann"));
  assert.ok(inbox.namesMe("@ann.", "ann"));
  assert.ok(!inbox.namesMe("ann@example.org", "ann"));
  assert.ok(!inbox.namesMe("@anna", "ann"));
});

// -- the property ------------------------------------------------------------------------------

/**
 * One thread on a model server, as docs/protocol.md tells it: replies by bob or ann (some of
 * bob's naming ann, which follows it), deletions, ann reading it up to its newest reply,
 * following or not by hand; each a commit with its frames. A listing's reply can be read after
 * any commit.
 */
function scenario(random) {
  const ROOT = 10;
  let seq = ROOT;
  const replies = []; // {seq, from, mention, deleted}
  let following = random(2) === 0;
  let readSeq = ROOT;
  const logFrames = []; // the room's log: replies and deletions, in seq order
  const ownFrames = []; // thread_state events, in the server's order
  const listings = [listingNow()]; // listings[i]: read after i commits
  const state = () => ({ op: "thread_state", room: "general", msg_id: ROOT, following,
    read_seq: readSeq });
  const steps = 4 + random(12);
  for (let i = 0; i < steps; i += 1) {
    const choice = random(6);
    if (choice <= 2) {
      seq += 1;
      const mine = random(4) === 0;
      const mention = !mine && random(3) === 0;
      const r = { seq, from: mine ? "ann" : "bob", mention, deleted: false };
      replies.push(r);
      if (mine) readSeq = seq;
      const changed = !following && (mine || mention);
      if (changed) following = true;
      // The followers are mentioned (and those the text names).
      logFrames.push(reply(seq, ROOT, { from: r.from, text: mention ? "ask @ann" : "ok",
        mentions: following && !mine ? ["ann"] : [], ts: 10_000 + seq }));
      if (changed) ownFrames.push(state());
    } else if (choice === 3 && replies.length) {
      readSeq = Math.max(readSeq, replies[replies.length - 1].seq);
      ownFrames.push(state());
    } else if (choice === 4) {
      following = !following;
      ownFrames.push(state());
    } else if (choice === 5) {
      const alive = replies.filter((r) => !r.deleted && r.from === "bob");
      if (alive.length) {
        const r = random.pick(alive);
        r.deleted = true;
        seq += 1;
        logFrames.push({ op: "deleted", room: "general", seq, msg_id: 2000 + r.seq });
      }
    }
    listings.push(listingNow());
  }
  function listingNow() {
    const unread = replies.filter((r) => r.seq > readSeq && r.from !== "ann" && !r.deleted);
    const last = replies.length ? replies[replies.length - 1] : null;
    // (only followed threads are listed; a root is one from its first reply on)
    return { own: ownFrames.length, reply: {
      threads: following && last ? [{ room: "general", following, read_seq: readSeq,
        unread: unread.length, mentions: unread.filter((r) => r.mention).length,
        root: root(ROOT, { rev: seq, lastTs: 10_000 + last.seq }) }] : [],
      more: false } };
  }
  const unread = replies.filter((r) => r.seq > readSeq && r.from !== "ann" && !r.deleted);
  return { logFrames, ownFrames, listings, last: listings[listings.length - 1],
    final: { following, unread: unread.length, mentions: unread.filter((r) => r.mention).length } };
}

test("any interleaving of replies, reads, follows and a listing gives the final counts", () => {
  for (let seed = 1; seed <= 1000; seed += 1) {
    const random = generator(seed);
    const { logFrames, ownFrames, listings, last, final } = scenario(random);
    const box = inbox.emptyInbox();
    const asked = inbox.welcomed(box, 0);
    // The person's events and the listing's reply come on one connection, in the server's
    // order; the room's log (its replies and deletions) interleaved with them in any way, a
    // reply sometimes twice (a page of history read again).
    const listing = random.pick(listings);
    const own = [...ownFrames];
    own.splice(listing.own, 0, { listing: true });
    const log = [...logFrames];
    while (log.length || own.length) {
      const fromLog = own.length === 0 || (log.length > 0 && random(2) === 0);
      const frame = fromLog ? log.shift() : own.shift();
      if (frame.listing) inbox.received(box, asked, listing.reply, "ann");
      else if (frame.op === "thread_state") inbox.threadState(box, frame);
      else if (frame.op === "deleted") inbox.changeEntry(box, "general", frame);
      else {
        inbox.replyEntry(box, "general", frame, "ann");
        if (random(4) === 0) inbox.replyEntry(box, "general", frame, "ann");
      }
    }
    // A thread that became known without its counts is listed again (the server's state now).
    const again = inbox.wanted(box);
    if (again) inbox.received(box, again, last.reply, "ann");
    const t = inbox.shownThreads(box).find((item) => item.rootId === 10);
    if (final.following) {
      assert.ok(t, `seed ${seed}: the followed thread is held`);
      assert.deepEqual({ following: t.following, unread: t.unread, mentions: t.mentions }, final,
        `seed ${seed}`);
    } else if (t) {
      assert.equal(t.following, false, `seed ${seed}`);
    }
    assert.equal(inbox.unreadThreads(box), final.following && final.unread > 0 ? 1 : 0,
      `seed ${seed}`);
  }
});

test("the next page is asked with the server's cursor (`next`), as scrolling asks", () => {
  const box = inbox.emptyInbox();
  const asked = inbox.welcomed(box, 0);
  inbox.received(box, asked, { threads: [listed(10, { lastTs: 9000 })], more: true,
    next: "9000:10" }, "ann");
  assert.deepEqual(inbox.nextPage(box), { before: "9000:10", limit: inbox.INBOX_PAGE });
  assert.equal(box.status, "paging");
  assert.ok(inbox.failed(box, { before: "9000:10" }, { code: "internal", message: "oops" }));
  assert.match(inbox.statusText(box), /could not be listed: oops/);
  assert.equal(inbox.nextPage(box), null); // (not again by itself: "Try again" lists anew)
  assert.deepEqual(inbox.refresh(box), { limit: inbox.INBOX_PAGE });
});

test("the thread panel's Follow: as held; one not held is followed only past the pages read", () => {
  const box = listedInbox([listed(10, { following: true })], { more: false });
  const own = { msg_id: 20, from: "ann", text: "q" };
  const bobs = [{ from: "bob", text: "a" }];
  assert.equal(inbox.followsShown(box, "general", root(10), [], "ann"), true);
  assert.equal(inbox.followsShown(box, "general", own, bobs, "ann"), false); // the list is whole
  const more = listedInbox([listed(10)], { more: true });
  assert.equal(inbox.followsShown(more, "general", own, bobs, "ann"), true); // wrote the root
  assert.equal(inbox.followsShown(more, "general", { ...own, from: "carol" }, bobs, "ann"), false);
  assert.equal(inbox.followsShown(more, "general", { ...own, from: "carol" },
    [{ from: "bob", text: "@ann?" }], "ann"), true); // named
});

test("the thread panel's Follow: a thread not held (or stale) is as its page said", () => {
  const own = { msg_id: 20, from: "ann", text: "q" };
  const bobs = [{ from: "bob", text: "a" }];
  const more = listedInbox([listed(10)], { more: true });
  // Past the pages read, written by the person, unfollowed elsewhere before the page loaded:
  // the page says so (the rules alone would say "Following").
  assert.equal(inbox.followsShown(more, "general", own, bobs, "ann", { following: false }), false);
  const whole = listedInbox([listed(10)], { more: false });
  assert.equal(inbox.followsShown(whole, "general", own, bobs, "ann", { following: true }), true);
  // Held: the inbox's (its events are newer than a page answered before them) ...
  assert.equal(inbox.followsShown(more, "general", root(10), [], "ann", { following: false }),
    true);
  // ... unless stale (a welcome since, its listing not come yet): the page's.
  inbox.welcomed(more, 0);
  assert.equal(inbox.followsShown(more, "general", root(10), [], "ann", { following: false }),
    false);
});

test("read_thread is not asked for a thread not held its page said was read that far", () => {
  const box = listedInbox([listed(10)]);
  const said = { following: false, readSeq: 40 };
  assert.equal(inbox.readRequest(box, "general", 99, 40, { said }), null);
  assert.deepEqual(inbox.readRequest(box, "general", 99, 41, { said }),
    { room: "general", msg_id: 99, seq: 41 });
});

test("an unfollowed thread stays in the view until the next listing", () => {
  const box = listedInbox([listed(10, { rev: 15 })]);
  inbox.threadState(box, { room: "general", msg_id: 10, following: false, read_seq: 15 });
  assert.deepEqual(inbox.shownThreads(box).map((t) => [t.rootId, t.following]), [[10, false]]);
  const asked = inbox.refresh(box);
  inbox.received(box, asked, { threads: [], more: false }, "ann");
  assert.deepEqual(inbox.shownThreads(box), []);
  // (kept aside: a reply of ann's older than the unfollow does not follow it again)
  inbox.replyEntry(box, "general", reply(14, 10, { from: "ann" }), "ann");
  assert.deepEqual(inbox.shownThreads(box), []);
});

test("threads beyond the first page are counted once: by the welcome, not again by their replies", () => {
  const box = listedInbox([listed(10, { rev: 15, unread: 1, lastTs: 9000 })], { more: true,
    welcome: 3 });
  assert.equal(inbox.unreadThreads(box), 3); // 1 held, 2 beyond
  // A page of history brings an old reply of a thread beyond: the welcome counted it.
  assert.equal(inbox.replyEntry(box, "general", reply(5, 40), "ann", { live: false }), false);
  assert.equal(inbox.unreadThreads(box), 3);
  // A live reply in another thread beyond: known now, and the first page asked again; it had
  // an unread reply before this one, so the welcome counted it too.
  assert.equal(inbox.replyEntry(box, "general", reply(20, 50), "ann"), true);
  const asked = inbox.wanted(box);
  inbox.received(box, asked, { threads: [listed(50, { rev: 20, unread: 2, lastTs: 10_020 }),
    listed(10, { rev: 15, unread: 1, lastTs: 9000 })], more: true, next: "9000:10" }, "ann");
  assert.equal(inbox.unreadThreads(box), 3); // 2 held, 1 beyond
  // One with nothing unread before its live reply was not counted beyond: it adds one.
  inbox.replyEntry(box, "general", reply(21, 60), "ann");
  inbox.received(box, inbox.wanted(box), { threads: [listed(60, { rev: 21, unread: 1,
    lastTs: 10_021 }), listed(50, { rev: 20, unread: 2, lastTs: 10_020 }),
  listed(10, { rev: 15, unread: 1, lastTs: 9000 })], more: true, next: "9000:10" }, "ann");
  assert.equal(inbox.unreadThreads(box), 4);
});

test("after a reconnect the welcome's count stands until the first page says the threads again", () => {
  const box = listedInbox([listed(10, { rev: 15, unread: 1 })], { welcome: 1 });
  assert.equal(inbox.unreadThreads(box), 1);
  const asked = inbox.welcomed(box, 1); // (the same thread, still unread)
  assert.equal(inbox.unreadThreads(box), 1);
  inbox.received(box, asked, { threads: [listed(10, { rev: 15, unread: 1 })], more: false }, "ann");
  assert.equal(inbox.unreadThreads(box), 1);
});

// The outbox: a message is shown at once, sent with a nonce, and leaves when acknowledged;
// what was not acknowledged is sent again, with the same nonce, after a reconnect.

import assert from "node:assert/strict";
import { test } from "node:test";

import * as outbox from "../../clients/web/outbox.js";
import { timeline } from "../../clients/web/select.js";
import {
  actions, apply, compose, connectionChanged, discardSend, openDm, retrySend,
} from "../../clients/web/state.js";
import { connected, message, requests, roomInfo, seqs, welcome } from "./fixtures.mjs";

const ack = (request, seq, extra = {}) => ({
  op: "ok", id: 4, room: request.room || "@ann:bob", seq, msg_id: 100 + seq, ts: 5000 + seq,
  ...extra,
});
const statuses = (state) => state.outbox.map((item) => [item.nonce, item.status]);

test("a message goes into the outbox, out with its nonce, and leaves it when acknowledged", () => {
  const { state } = connected([roomInfo("general", { lastSeq: 7 })]);
  const sent = requests(compose(state, { text: "hi all", nonce: "a-3", now: 1 }));
  assert.deepEqual(sent, [{ op: "send", room: "general", text: "hi all", nonce: "a-3" }]);
  assert.deepEqual(statuses(state), [["a-3", "sending"]]);
  const pending = timeline(state, state.rooms.get("general")).filter((r) => r.kind === "pending");
  assert.deepEqual(pending.map((r) => r.key), ["pa-3"]);
  apply(state, ack(sent[0], 8), { request: sent[0] });
  assert.deepEqual(state.outbox, []);
  assert.deepEqual(seqs(state, "general"), [8]);
  assert.equal(state.rooms.get("general").messages.get(8).nonce, "a-3");
});

test("white space alone is not sent, nor anything without an open room", () => {
  const { state } = connected([]);
  assert.deepEqual(compose(state, { text: "hello", nonce: "x", now: 1 }), []);
  const other = connected([roomInfo("general")]).state;
  assert.deepEqual(compose(other, { text: " \n ", nonce: "y", now: 1 }), []);
  assert.deepEqual(other.outbox, []);
});

test("the message's own event may come before the ack: it is on screen once either way", () => {
  const { state } = connected([roomInfo("general", { lastSeq: 0 })]);
  const [send] = requests(compose(state, { text: "x", nonce: "n1", now: 1 }));
  apply(state, message("general", 1, "ann", "x", { nonce: "n1" }));
  assert.deepEqual(state.outbox, []);
  apply(state, ack(send, 1), { request: send });
  assert.deepEqual(seqs(state, "general"), [1]);
  assert.equal(state.rooms.get("general").unread, 0);
});

test("after a reconnect, every unacknowledged message is sent again, in order, same nonces", () => {
  const { state } = connected([roomInfo("general"), roomInfo("@ann:bob", { peer: "Bob" })]);
  compose(state, { text: "one", nonce: "n1", now: 1 });
  compose(state, { text: "two", nonce: "n2", now: 2 });
  openDm(state, "Bob");
  compose(state, { text: "three", nonce: "n3", now: 3 });
  connectionChanged(state, "waiting");
  assert.deepEqual(statuses(state), [["n1", "failed"], ["n2", "failed"], ["n3", "failed"]]);
  compose(state, { text: "four", nonce: "n4", now: 4 }); // offline: waits, nothing sent
  assert.equal(outbox.find(state.outbox, "n4").error, outbox.OFFLINE_TEXT);
  connectionChanged(state, "connecting", { attempt: 1 });
  connectionChanged(state, "online");
  const effects = apply(state, welcome([roomInfo("general"), roomInfo("@ann:bob",
    { peer: "Bob" })]));
  const sends = requests(effects).filter((r) => r.op === "send" || r.op === "dm");
  assert.deepEqual(sends, [
    { op: "send", room: "general", text: "one", nonce: "n1" },
    { op: "send", room: "general", text: "two", nonce: "n2" },
    { op: "dm", to: "Bob", text: "three", nonce: "n3" },
    { op: "dm", to: "Bob", text: "four", nonce: "n4" },
  ]);
  assert.deepEqual(statuses(state).map(([, status]) => status), Array(4).fill("sending"));
  // Acks may come in any order: each is matched to its entry by the request it answers.
  apply(state, ack(sends[2], 1), { request: sends[2] });
  apply(state, ack(sends[0], 1), { request: sends[0] });
  assert.deepEqual(statuses(state), [["n2", "sending"], ["n4", "sending"]]);
});

test("a resend the server had stored already (duplicate) is acknowledged once", () => {
  const { state } = connected([roomInfo("general", { lastSeq: 0 })]);
  const [send] = requests(compose(state, { text: "x", nonce: "n1", now: 1 }));
  apply(state, ack(send, 1), { request: send });
  apply(state, ack(send, 1, { duplicate: true }), { request: send });
  assert.deepEqual(seqs(state, "general"), [1]);
  // A duplicate naming a room the page does not follow adds no room.
  const [other] = requests(compose(state, { text: "y", nonce: "n2", now: 2 }));
  apply(state, ack(other, 3, { room: "elsewhere", duplicate: true }), { request: other });
  assert.equal(state.rooms.has("elsewhere"), false);
  assert.deepEqual(state.outbox, []);
});

test("a rate-limited send waits and tries again by itself; an acked one is not retried", () => {
  const { state } = connected([roomInfo("general")]);
  const [send] = requests(compose(state, { text: "x", nonce: "n1", now: 1 }));
  const effects = apply(state, { op: "error", id: 4, code: "rate_limited", message: "slow down",
    retry_after: 1500 }, { request: send });
  assert.deepEqual(effects, [{ later: 1500, key: "send:n1", action: "retrySend",
    args: ["n1", { onlyIfFailed: true }] }]);
  assert.equal(outbox.find(state.outbox, "n1").error, outbox.RATE_TEXT);
  assert.deepEqual(requests(actions.retrySend(state, ...effects[0].args)), [send]);
  apply(state, ack(send, 1), { request: send });
  assert.deepEqual(actions.retrySend(state, ...effects[0].args), []);
});

test("a send refused for good stays, is not resent, and can be retried or discarded", () => {
  const { state } = connected([roomInfo("general")]);
  const [send] = requests(compose(state, { text: "x", nonce: "n1", now: 1 }));
  apply(state, { op: "error", id: 4, code: "forbidden", message: "not a member" },
    { request: send });
  assert.deepEqual(statuses(state), [["n1", "rejected"]]);
  assert.equal(outbox.find(state.outbox, "n1").error, "Not sent: not a member");
  connectionChanged(state, "waiting");
  connectionChanged(state, "online");
  const resent = requests(apply(state, welcome([roomInfo("general")])))
    .filter((r) => r.op === "send");
  assert.deepEqual(resent, []);
  assert.deepEqual(requests(retrySend(state, "n1")), [send]);
  discardSend(state, "n1");
  assert.deepEqual(state.outbox, []);
});

test("a send that failed on the server's side is retried while connected", () => {
  const { state } = connected([roomInfo("general")]);
  const [send] = requests(compose(state, { text: "x", nonce: "n1", now: 1 }));
  const effects = apply(state, { op: "error", id: 4, code: "unavailable", message: "db" },
    { request: send });
  assert.equal(effects[0].later, 2000);
  assert.equal(outbox.find(state.outbox, "n1").status, "failed");
  // Dropped with the connection: no timer, the next welcome resends it.
  const [again] = requests(retrySend(state, "n1"));
  connectionChanged(state, "waiting");
  assert.deepEqual(apply(state, { op: "error", id: null, code: "disconnected", message: "x" },
    { request: again }), []);
});

test("the outbox is saved as plain data and restored with what was in flight to resend", () => {
  const items = [outbox.entry({ nonce: "a", room: "general", text: "one", ts: 1 }),
    Object.freeze({ ...outbox.entry({ nonce: "b", room: "@ann:bob", to: "Bob", text: "two",
      ts: 2 }), status: "rejected", error: "Not sent: no" })];
  const restored = outbox.restore(JSON.parse(JSON.stringify(outbox.save(items))));
  assert.deepEqual(restored.map((i) => [i.nonce, i.to, i.status]),
    [["a", null, "failed"], ["b", "Bob", "rejected"]]);
  assert.deepEqual(outbox.restore([{ nonce: 1 }, null, "x", { nonce: "c", room: "r" }]), []);
  assert.deepEqual(outbox.restore({ not: "a list" }), []);
});

test("outbox functions return a new outbox, and the same one when nothing changed", () => {
  const one = outbox.add([], outbox.entry({ nonce: "a", room: "r", text: "t", ts: 0 }));
  assert.equal(outbox.drop(one, "zzz"), one);
  const failed = outbox.offline(one);
  assert.notEqual(failed, one);
  assert.equal(one[0].status, "sending");
  assert.equal(outbox.offline(failed), failed);
});

// A dialog's request (`forward`, `remind`: not an outbox entry) sent until answered.
const replying = (replies, sent) => (op, fields) => {
  sent.push([op, fields]);
  const error = replies.shift();
  return error ? Promise.reject(error) : Promise.resolve({ op: "ok", seq: 7 });
};

test("sendUntilAnswered sends the same request again after each lost connection", async () => {
  const fields = { text: "x", nonce: "n1" };
  const sent = [];
  let waits = 0;
  const reply = await outbox.sendUntilAnswered("remind", fields, {
    ask: replying([{ code: "disconnected" }, { code: "shutting_down" }], sent),
    backOnline: async () => {
      waits += 1;
      return true;
    },
    unconfirmed: "not confirmed",
  });
  assert.deepEqual(reply, { op: "ok", seq: 7 });
  assert.equal(sent.length, 3);
  assert.ok(sent.every(([op, asked]) => op === "remind" && asked === fields), "unchanged");
  assert.equal(waits, 2, "each resend waited for the connection");
});

test("sendUntilAnswered: a refusal is not sent again; giving up while offline abandons",
  async () => {
    for (const code of ["forbidden", "internal", "rate_limited"]) {
      const sent = [];
      await assert.rejects(outbox.sendUntilAnswered("forward", {}, {
        ask: replying([{ code }], sent),
        backOnline: async () => assert.fail("a refusal is not waited on"),
        unconfirmed: "not confirmed",
      }), { code });
      assert.equal(sent.length, 1, code);
    }
    const sent = [];
    await assert.rejects(outbox.sendUntilAnswered("forward", {}, {
      ask: replying([{ code: "disconnected" }], sent),
      backOnline: async () => false,
      unconfirmed: "The forward was not confirmed.",
    }), { code: "abandoned", message: "The forward was not confirmed." });
    assert.equal(sent.length, 1);
    assert.ok(outbox.resends({ code: "disconnected" }));
    assert.ok(outbox.resends({ code: "shutting_down" }));
    assert.ok(!outbox.resends({ code: "internal" }));
    assert.ok(!outbox.resends(null));
  });

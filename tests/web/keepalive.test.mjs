// The keepalive's decisions (socket.js): ping when the server has been quiet, or when the page
// has sent nothing for the server's interval; drop when a ping hears nothing back in time.

import assert from "node:assert/strict";
import { test } from "node:test";

import { IDLE_PING_MS, keepaliveStep, PONG_TIMEOUT_MS } from "../../clients/web/socket.js";

const INTERVAL = 30_000;
const step = (fields) => keepaliveStep({ interval: INTERVAL, pingSentAt: null, ...fields });

test("a quiet connection is asked within seconds, not after the server's interval", () => {
  assert.equal(step({ now: 1000 + IDLE_PING_MS - 1, lastHeard: 1000, lastSent: 1000 }), null);
  assert.equal(step({ now: 1000 + IDLE_PING_MS, lastHeard: 1000, lastSent: 1000 }), "ping");
  assert.ok(IDLE_PING_MS + PONG_TIMEOUT_MS <= 10_000, "a dead network is noticed in 10 s");
});

test("a page that only listens still pings every interval, so the server never finds it idle",
  () => {
    const now = 100_000;
    assert.equal(step({ now, lastHeard: now - 10, lastSent: now - INTERVAL + 1 }), null);
    assert.equal(step({ now, lastHeard: now - 10, lastSent: now - INTERVAL }), "ping");
  });

test("a ping that hears nothing back is a dead connection; anything heard keeps it", () => {
  const sent = 50_000;
  const waiting = { lastHeard: sent - 6000, lastSent: sent, pingSentAt: sent };
  assert.equal(step({ now: sent + PONG_TIMEOUT_MS - 1, ...waiting }), null, "no second ping");
  assert.equal(step({ now: sent + PONG_TIMEOUT_MS, ...waiting }), "drop");
  // A frame (the pong, or any event) came after the ping: alive, whatever the time.
  const heard = { ...waiting, lastHeard: sent + 10 };
  assert.equal(step({ now: sent + PONG_TIMEOUT_MS + 5000, ...heard }), "ping");
  assert.equal(step({ now: sent + 100, ...heard }), null);
});

// The hello (socket.js): a hello the server refuses as a bad request (a server whose largest
// page is below the welcome's page sizes) is sent again at once, as the owner changed it; any
// other refusal waits for the backoff, as before. A fake WebSocket stands for the browser's.

import assert from "node:assert/strict";
import { test } from "node:test";

import { Connection } from "../../clients/web/socket.js";

class FakeSocket {
  static opened = [];

  constructor(url) {
    this.url = url;
    this.sent = [];
    this.listeners = new Map();
    this.closed = false;
    FakeSocket.opened.push(this);
  }

  addEventListener(name, listener) {
    this.listeners.set(name, [...(this.listeners.get(name) || []), listener]);
  }

  send(data) { this.sent.push(JSON.parse(data)); }

  close() { this.closed = true; }

  fire(name, event = {}) {
    for (const listener of this.listeners.get(name) || []) listener(event);
  }

  /** The server answers the last frame sent with `fields` (same id). */
  answer(fields) {
    const { id } = this.sent[this.sent.length - 1];
    this.fire("message", { data: `${JSON.stringify({ id, ...fields })}\n` });
  }
}

function connect({ refused }) {
  FakeSocket.opened = [];
  globalThis.WebSocket = FakeSocket;
  globalThis.location = { protocol: "http:", host: "chat.test" };
  let paged = true;
  const states = [];
  const welcomes = [];
  const conn = new Connection({
    hello: () => ({ token: "t", ...(paged ? { rooms_limit: 30 } : {}) }),
    onWelcome: (frame) => welcomes.push(frame),
    onEvent: () => {},
    onState: (phase) => states.push(phase),
    onAuthFailed: () => {},
    onHelloRefused: (error) => {
      refused.push(error.code);
      const changed = paged;
      paged = false;
      return changed;
    },
  });
  return { conn, states, welcomes };
}

test("a hello refused as a bad request is sent again at once, changed by its owner", () => {
  const refused = [];
  const { conn, states, welcomes } = connect({ refused });
  conn.start();
  const [first] = FakeSocket.opened;
  first.fire("open");
  assert.equal(first.sent[0].op, "hello");
  assert.equal(first.sent[0].rooms_limit, 30);
  first.answer({ op: "error", code: "bad_request", message: "'rooms_limit' must be 1-3" });
  assert.deepEqual(refused, ["bad_request"]);
  assert.equal(first.closed, true);
  assert.equal(FakeSocket.opened.length, 2); // at once, no backoff
  assert.ok(!states.includes("waiting"));
  const second = FakeSocket.opened[1];
  second.fire("open");
  assert.deepEqual(second.sent[0], { op: "hello", id: 2, token: "t" });
  second.answer({ op: "welcome", ping_interval: 30 });
  assert.equal(welcomes.length, 1);
  conn.stop();
});

test("a hello refused again (the owner changed nothing) waits for the backoff", () => {
  const refused = [];
  const { conn, states } = connect({ refused });
  conn.start();
  FakeSocket.opened[0].fire("open");
  FakeSocket.opened[0].answer({ op: "error", code: "bad_request", message: "no" });
  FakeSocket.opened[1].fire("open");
  FakeSocket.opened[1].answer({ op: "error", code: "bad_request", message: "no" });
  assert.deepEqual(refused, ["bad_request", "bad_request"]);
  assert.equal(FakeSocket.opened.length, 2);
  assert.equal(states[states.length - 1], "waiting");
  conn.stop();
});

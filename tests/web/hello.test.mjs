// The hello (socket.js): the server takes page sizes past its largest page as that page, so
// a hello refused as a bad request is not sent again changed: it waits for the backoff, as any
// refusal but `unauthenticated` does, and the next attempt asks the owner's hello afresh. A
// fake WebSocket stands for the browser's.

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

function connect() {
  FakeSocket.opened = [];
  globalThis.WebSocket = FakeSocket;
  globalThis.location = { protocol: "http:", host: "chat.test" };
  let asked = 0;
  const states = [];
  const welcomes = [];
  const conn = new Connection({
    hello: () => {
      asked += 1;
      return { token: "t", rooms_limit: 30, contacts_limit: 30, resume: { general: asked } };
    },
    onWelcome: (frame) => welcomes.push(frame),
    onEvent: () => {},
    onState: (phase) => states.push(phase),
    onAuthFailed: () => {},
  });
  return { conn, states, welcomes, asked: () => asked };
}

test("a hello carries the page sizes, whatever the server's largest page", () => {
  const { conn, welcomes } = connect();
  conn.start();
  const [first] = FakeSocket.opened;
  first.fire("open");
  assert.deepEqual(first.sent[0], { op: "hello", id: 1, token: "t", rooms_limit: 30,
    contacts_limit: 30, resume: { general: 1 } });
  first.answer({ op: "welcome", ping_interval: 30, rooms: [], rooms_more: true });
  assert.equal(welcomes.length, 1);
  conn.stop();
});

test("a hello refused as a bad request waits for the backoff: it is not sent again at once", () => {
  const { conn, states, asked } = connect();
  conn.start();
  FakeSocket.opened[0].fire("open");
  FakeSocket.opened[0].answer({ op: "error", code: "bad_request",
    message: "'resume' must be an object of at most 1000 rooms" });
  assert.equal(FakeSocket.opened[0].closed, true);
  assert.equal(FakeSocket.opened.length, 1); // not again at once
  assert.equal(states[states.length - 1], "waiting");
  assert.equal(asked(), 1);
  conn.stop();
});

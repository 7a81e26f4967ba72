// Load generator for chatd in Node: the scenarios, measurements and handshake of ../harness.js
// (the same code that drives the Socket.IO peer), over chatd's own protocol (docs/protocol.md):
// TCP to the protocol port, one JSON object per line. Node's standard library only.
//
// Like benchmarks/wire.py, a message event is told by its first bytes (the server writes
// compact JSON with "op" first) and parsed only when asked; every other line is parsed, and a
// reply (ok, error, welcome) goes to the request whose id it carries.
"use strict";

const net = require("net");
const { spec, run } = require("../harness.js");

const MESSAGE_PREFIX = '{"op":"message"';
const REPLY_OPS = new Set(["ok", "error", "welcome"]);
const CLOSED = { op: "error", code: "closed", message: "connection closed" };
const host = spec.host || "127.0.0.1";
let lastData = performance.now();

class Conn {
  constructor(socket) {
    this.socket = socket;
    this.buffer = "";
    this.pending = new Map(); // request id -> [fn(reply), whether to fail it on close]
    this.onMessage = null; // [parse, fn]
    this.nextId = 0;
    this.closed = false;
    socket.setEncoding("utf8");
    socket.on("data", (chunk) => this.feed(chunk));
    socket.on("error", () => {}); // "close" follows
    // A send the server closed on stays unanswered (a timeout, as in loadgen.py); hello and
    // join fail.
    socket.on("close", () => {
      this.closed = true;
      for (const [id, [fn, failOnClose]] of [...this.pending]) {
        if (!failOnClose) continue;
        this.pending.delete(id);
        fn(CLOSED);
      }
    });
  }

  feed(chunk) {
    lastData = performance.now();
    let data = this.buffer + chunk;
    let from = 0, at;
    while ((at = data.indexOf("\n", from)) >= 0) {
      const line = data.slice(from, at);
      from = at + 1;
      if (line) this.line(line);
    }
    this.buffer = data.slice(from);
  }

  line(line) {
    if (line.startsWith(MESSAGE_PREFIX)) {
      const on = this.onMessage;
      if (on) on[1](on[0] ? JSON.parse(line) : null);
      return;
    }
    const obj = JSON.parse(line);
    if (!REPLY_OPS.has(obj.op)) return; // joined, presence, ...
    const waiting = this.pending.get(obj.id);
    if (waiting === undefined) return;
    this.pending.delete(obj.id);
    waiting[0](obj);
  }

  // Write a request with a fresh id; fn(reply) when its reply is read.
  request(req, fn, failOnClose = false) {
    const id = ++this.nextId;
    if (this.closed) {
      if (failOnClose) fn(CLOSED);
      return;
    }
    this.pending.set(id, [fn, failOnClose]);
    this.socket.write(JSON.stringify({ op: req.op, id, ...req.fields }) + "\n");
  }

  ask(op, fields) {
    return new Promise((resolve, reject) => {
      this.request({ op, fields }, (reply) => {
        if (reply.op === "error") reject(new Error(`${op}: ${JSON.stringify(reply)}`));
        else resolve(reply);
      }, true);
    });
  }
}

function connect(token) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port: spec.port });
    socket.setNoDelay(true); // as trio's TCP streams
    socket.once("connect", () => {
      socket.removeListener("error", reject);
      const conn = new Conn(socket);
      conn.ask("hello", { token }).then(() => resolve(conn), reject);
    });
    socket.once("error", reject);
  });
}

run({
  connect,
  async join(conn, room) {
    await conn.ask("join", { room });
  },
  send(conn, data, done) {
    conn.request({ op: "send", fields: data }, (reply) => done(reply.op === "ok", reply));
  },
  onMessage(conn, parse, fn) {
    conn.onMessage = [parse, fn];
  },
  // Joining a room of M members announces each join to all of them (M² "joined" events):
  // read until nothing has come for 1 s (at most 300 s), as loadgen.py does.
  async settle() {
    const started = performance.now();
    lastData = started;
    while (performance.now() - lastData < 1000 && performance.now() - started < 300000) {
      await new Promise((r) => setTimeout(r, 200));
    }
  },
  close(conn) {
    conn.socket.destroy();
  },
});

// Load generator for the Socket.IO peer, the counterpart of benchmarks/loadgen.py: the same
// scenario kinds (send, fanout_send, fanout_recv, connect), the same measurements, the same
// handshake with the harness over stdin/stdout (one JSON object per line):
//   worker -> {"ready": {...}}    harness -> {"go": <wall clock s>}
//   harness -> {"stop": true}      worker -> {"done": {...}}
// Latencies are reported as arrays of milliseconds.
"use strict";

const fs = require("fs");
const readline = require("readline");
const { io } = require("socket.io-client");

const spec = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const p = spec.params;
const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
const mono = () => performance.now() / 1000;
const monoFromWall = (wall) => mono() + (wall - Date.now() / 1000);
const sleep = (s) => new Promise((r) => setTimeout(r, Math.max(0, s * 1000)));

const inbox = [];
let waiting = null;
readline.createInterface({ input: process.stdin }).on("line", (line) => {
  const msg = JSON.parse(line);
  if (waiting) { const w = waiting; waiting = null; w(msg); } else inbox.push(msg);
});
const next = () => (inbox.length ? Promise.resolve(inbox.shift()) : new Promise((r) => { waiting = r; }));

function connect(token) {
  return new Promise((resolve, reject) => {
    const socket = io(`http://127.0.0.1:${spec.port}`, {
      transports: ["websocket"], auth: { token }, reconnection: false, forceNew: true,
      timeout: 60000,
    });
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", reject);
  });
}

const emitAck = (socket, event, data) => new Promise((resolve) => socket.emit(event, data, resolve));

async function connectAll() {
  const sockets = new Array(spec.clients.length);
  const limit = p.concurrency || 256;
  let i = 0;
  let first = Infinity, last = 0;
  async function lane() {
    while (i < spec.clients.length) {
      const n = i++;
      const [token, room] = spec.clients[n];
      const t = Date.now() / 1000;
      first = Math.min(first, t);
      const socket = await connect(token);
      last = Math.max(last, Date.now() / 1000);
      if (room) {
        const reply = await emitAck(socket, "join", { room });
        if (!reply.ok) throw new Error(`join ${room}: ${JSON.stringify(reply)}`);
      }
      sockets[n] = socket;
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, spec.clients.length) }, lane));
  return { sockets, first, last };
}

async function runSend(sockets, goAt, stamp) {
  const duration = p.duration, drain = p.drain ?? 10;
  const open = p.mode === "open";
  const perRate = p.rate || 0, window = p.window || 1;
  const text = "x".repeat(p.text_bytes || 64);
  const runId = Math.random().toString(16).slice(2, 10);
  const start = monoFromWall(goAt), end = start + duration;
  const lat = [];
  const c = { sent: 0, acked: 0, acked_in_window: 0, errors: 0, deliveries: 0 };
  const errorSamples = [];
  let outstanding = 0;
  for (const s of sockets) s.on("message", () => { c.deliveries++; });

  async function sender(n, socket, room) {
    let k = 0;
    const interval = open && perRate > 0 ? 1 / perRate : 0;
    let at = open ? start + Math.random() * interval : start;
    await sleep(at - mono());
    const fire = (scheduled) => {
      k++;
      const body = stamp ? `${(Date.now() / 1000).toFixed(6)} ${text}` : text;
      outstanding++; c.sent++;
      return new Promise((resolve) => {
        socket.emit("send", { room, text: body, nonce: `${runId}-${n}-${k}` }, (reply) => {
          const now = mono();
          outstanding--;
          if (reply && reply.ok) {
            c.acked++;
            if (now <= end) c.acked_in_window++;
            lat.push((now - scheduled) * 1000);
          } else {
            c.errors++;
            if (errorSamples.length < 5) errorSamples.push(JSON.stringify(reply));
          }
          resolve();
        });
      });
    };
    if (open) {
      while (at < end) {
        const delay = at - mono();
        if (delay > 0) await sleep(delay);
        fire(at);
        at += interval;
      }
    } else {
      const lanes = [];
      for (let w = 0; w < window; w++) {
        lanes.push((async () => {
          while (mono() < end) await fire(mono());
        })());
      }
      await Promise.all(lanes);
    }
  }

  const senders = sockets.map((s, n) => sender(n, s, spec.clients[n][1]));
  await sleep(end - mono());
  const deadline = mono() + drain;
  await Promise.race([Promise.all(senders), sleep(drain)]);
  while (outstanding > 0 && mono() < deadline) await sleep(0.02);
  return { ...c, timeouts: outstanding, latencies_ms: lat, duration, error_samples: errorSamples };
}

async function runFanoutRecv(sockets, goAt) {
  const start = monoFromWall(goAt), end = start + p.duration;
  const every = p.sample_every || 10;
  const lat = [];
  const c = { deliveries: 0, in_window: 0 };
  sockets.forEach((s, i) => {
    const sampled = i % every === 0;
    s.on("message", (m) => {
      const now = mono();
      c.deliveries++;
      if (now >= start && now <= end) c.in_window++;
      if (sampled) {
        const sent = parseFloat(String(m.text).split(" ", 1)[0]);
        if (!Number.isNaN(sent)) lat.push((Date.now() / 1000 - sent) * 1000);
      }
    });
  });
  await next(); // stop
  return { ...c, latencies_ms: lat, duration: p.duration, sampled_links: Math.ceil(sockets.length / every) };
}

async function main() {
  const t0 = mono();
  const cpu0 = process.cpuUsage();
  const { sockets, first, last } = await connectAll();
  const setupCpu = process.cpuUsage(cpu0);
  out({ ready: { clients: sockets.length, seconds: mono() - t0, first_connect: first, last_welcome: last,
                 cpu: (setupCpu.user + setupCpu.system) / 1e6 } });
  const go = (await next()).go;
  const cpu1 = process.cpuUsage();
  let report;
  if (spec.kind === "send") report = await runSend(sockets, go, false);
  else if (spec.kind === "fanout_send") report = await runSend(sockets, go, true);
  else if (spec.kind === "fanout_recv") report = await runFanoutRecv(sockets, go);
  else if (spec.kind === "connect") { await next(); report = {}; }
  else throw new Error(`unknown kind ${spec.kind}`);
  const used = process.cpuUsage(cpu1);
  report.cpu = (used.user + used.system) / 1e6;
  for (const s of sockets) s.disconnect();
  // A big report goes through a file: a pipe may not be drained before the process exits.
  const path = process.argv[2] + ".out";
  fs.writeFileSync(path, JSON.stringify(report));
  out({ done_file: path });
  setTimeout(() => process.exit(0), 200);
}

main().catch((err) => {
  out({ error: String(err && err.stack || err) });
  process.exit(1);
});

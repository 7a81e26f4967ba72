// What the Node load generators share, the counterpart of benchmarks/loadgen.py: the scenario
// kinds (send, fanout_send, fanout_recv, connect), the measurements, and the handshake with the
// harness over stdin/stdout (one JSON object per line):
//   worker -> {"ready": {...}}    harness -> {"go": <wall clock s>}
//   harness -> {"stop": true}      worker -> {"done": {...}} (through a file: {"done_file": path})
// Latencies are reported as arrays of milliseconds.
//
// A load generator is this module plus a client of one server's protocol (an "adapter"):
//   connect(token) -> Promise<conn>         connected and authenticated
//   join(conn, room) -> Promise<void>       a member of room
//   send(conn, {room, text, nonce}, done)   done(ok, reply) is called synchronously where the
//                                           reply is read (latency is taken in it)
//   onMessage(conn, parse, fn)              fn(message) for every message event (message is
//                                           the parsed event when parse, else may be null)
//   settle(conns) -> Promise (optional)     before ready for fanout_recv: let setup's
//                                           backlog of events go by
//   close(conn)
// peers/socketio/loadgen.js speaks Socket.IO, peers/chatd/loadgen.js chatd's NDJSON over TCP.
"use strict";

const fs = require("fs");
const readline = require("readline");

const spec = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const p = spec.params;
const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
const mono = () => performance.now() / 1000;
// The wall clock in s with sub-ms resolution (Date.now() has whole ms: fan-out latencies, from
// one process's stamp to another's reading, would be whole ms too).
const wall = () => (performance.timeOrigin + performance.now()) / 1000;
const monoFromWall = (at) => mono() + (at - wall());
const sleep = (s) => new Promise((r) => setTimeout(r, Math.max(0, s * 1000)));
// Until mono() >= t, never before: a timer's delay is cut to whole ms and counted from the
// event loop's cached clock, so a timer alone may fire up to a ms early (and a send written
// early would have its latency, counted from its scheduled time, understated).
async function sleepUntil(t) {
  for (let left = t - mono(); left > 0; left = t - mono()) {
    await new Promise((r) => setTimeout(r, Math.ceil(left * 1000)));
  }
}

const inbox = [];
let waiting = null;
readline.createInterface({ input: process.stdin }).on("line", (line) => {
  const msg = JSON.parse(line);
  if (waiting) { const w = waiting; waiting = null; w(msg); } else inbox.push(msg);
});
const next = () => (inbox.length ? Promise.resolve(inbox.shift()) : new Promise((r) => { waiting = r; }));

async function connectAll(adapter) {
  const conns = new Array(spec.clients.length);
  const limit = p.concurrency || 256;
  let i = 0;
  let first = Infinity, last = 0;
  async function lane() {
    while (i < spec.clients.length) {
      const n = i++;
      const [token, room] = spec.clients[n];
      const t = wall();
      first = Math.min(first, t);
      const conn = await adapter.connect(token);
      last = Math.max(last, wall());
      if (room) await adapter.join(conn, room);
      conns[n] = conn;
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, spec.clients.length) }, lane));
  return { conns, first, last };
}

async function runSend(adapter, conns, goAt, stamp) {
  const duration = p.duration, drain = p.drain ?? 10;
  const open = p.mode === "open";
  const perRate = p.rate || 0, window = p.window || 1;
  const count = p.count; // closed loop: stop after this many sends per connection
  const text = "x".repeat(p.text_bytes || 64);
  const runId = Math.random().toString(16).slice(2, 10);
  const start = monoFromWall(goAt), end = start + duration;
  const lat = [];
  const lag = []; // open loop: how late each send was written after its scheduled time
  const c = { sent: 0, acked: 0, acked_in_window: 0, errors: 0, deliveries: 0 };
  const errorSamples = [];
  let outstanding = 0;
  for (const conn of conns) adapter.onMessage(conn, false, () => { c.deliveries++; });

  async function sender(n, conn, room) {
    let k = 0;
    const interval = open && perRate > 0 ? 1 / perRate : 0;
    let at = open ? start + Math.random() * interval : start;
    await sleepUntil(at);
    const fire = (scheduled) => {
      k++;
      const body = stamp ? `${wall().toFixed(6)} ${text}` : text;
      outstanding++; c.sent++;
      if (open) lag.push((mono() - scheduled) * 1000);
      return new Promise((resolve) => {
        adapter.send(conn, { room, text: body, nonce: `${runId}-${n}-${k}` }, (ok, reply) => {
          const now = mono();
          outstanding--;
          if (ok) {
            c.acked++;
            if (now <= end) c.acked_in_window++;
            lat.push((now - scheduled) * 1000);
          } else {
            c.errors++;
            if (errorSamples.length < 5) errorSamples.push(String(JSON.stringify(reply)).slice(0, 200));
          }
          resolve();
        });
      });
    };
    if (open) {
      while (at < end) {
        await sleepUntil(at);
        fire(at);
        at += interval;
      }
    } else {
      const lanes = [];
      for (let w = 0; w < window; w++) {
        lanes.push((async () => {
          while (mono() < end && (count == null || k < count)) await fire(mono());
        })());
      }
      await Promise.all(lanes);
    }
  }

  const senders = conns.map((conn, n) => sender(n, conn, spec.clients[n][1]));
  await sleep(end - mono());
  const deadline = mono() + drain;
  await Promise.race([Promise.all(senders), sleep(drain)]);
  while (outstanding > 0 && mono() < deadline) await sleep(0.02);
  return { ...c, timeouts: outstanding, latencies_ms: lat, send_lag_ms: lag, duration,
           error_samples: errorSamples };
}

async function runFanoutRecv(adapter, conns, goAt) {
  const start = monoFromWall(goAt), end = start + p.duration;
  const every = p.sample_every || 10;
  const lat = [];
  const c = { deliveries: 0, in_window: 0 };
  conns.forEach((conn, i) => {
    const sampled = i % every === 0;
    adapter.onMessage(conn, sampled, (m) => {
      const now = mono();
      c.deliveries++;
      if (now >= start && now <= end) c.in_window++;
      if (sampled) {
        const sent = parseFloat(String(m.text).split(" ", 1)[0]);
        if (!Number.isNaN(sent)) lat.push((wall() - sent) * 1000);
      }
    });
  });
  await next(); // stop
  return { ...c, latencies_ms: lat, duration: p.duration, sampled_links: Math.ceil(conns.length / every) };
}

async function main(adapter) {
  const t0 = mono();
  const cpu0 = process.cpuUsage();
  const { conns, first, last } = await connectAll(adapter);
  if (spec.kind === "fanout_recv" && adapter.settle) await adapter.settle(conns);
  const setupCpu = process.cpuUsage(cpu0);
  out({ ready: { clients: conns.length, seconds: mono() - t0, first_connect: first, last_welcome: last,
                 cpu: (setupCpu.user + setupCpu.system) / 1e6 } });
  const go = (await next()).go;
  const cpu1 = process.cpuUsage();
  let report;
  if (spec.kind === "send") report = await runSend(adapter, conns, go, false);
  else if (spec.kind === "fanout_send") report = await runSend(adapter, conns, go, true);
  else if (spec.kind === "fanout_recv") report = await runFanoutRecv(adapter, conns, go);
  else if (spec.kind === "connect") { await next(); report = {}; }
  else throw new Error(`unknown kind ${spec.kind}`);
  const used = process.cpuUsage(cpu1);
  report.cpu = (used.user + used.system) / 1e6;
  for (const conn of conns) adapter.close(conn);
  // A big report goes through a file: a pipe may not be drained before the process exits.
  const path = process.argv[2] + ".out";
  fs.writeFileSync(path, JSON.stringify(report));
  out({ done_file: path });
  setTimeout(() => process.exit(0), 200);
}

function run(adapter) {
  main(adapter).catch((err) => {
    out({ error: String(err && err.stack || err) });
    process.exit(1);
  });
}

module.exports = { spec, run };

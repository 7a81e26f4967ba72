// The benchmark peer: a chat server written the way a typical Socket.IO + PostgreSQL app is.
//
// It does the work chatd does on the measured path:
// - the JWT (HS256, algorithm pinned) is checked at the handshake (`auth.token`);
// - `join` {room}: the room is created if missing, the membership stored, the socket joins
//   the Socket.IO room; the ack carries the room's last seq;
// - `send` {room, text, nonce}: one transaction per message (bump the room's last_seq under its
//   row lock, insert the message with that seq; (sender, nonce) is unique), acknowledged after
//   COMMIT with {seq, msg_id, ts}, then broadcast to the room as `message`.
// Configuration from the environment: PORT (0 = any), JWT_SECRET, and node-postgres's PGHOST
// (a unix socket folder works), PGPORT, PGUSER, PGDATABASE; PG_POOL (default 10, as chatd).
// Prints "listening: PORT" on stdout once ready.
"use strict";

const http = require("http");
const { Server } = require("socket.io");
const { Pool } = require("pg");
const jwt = require("jsonwebtoken");

const secret = process.env.JWT_SECRET;
if (!secret) throw new Error("JWT_SECRET is required");
const pool = new Pool({ max: Number(process.env.PG_POOL || 10) });

const SCHEMA = `
CREATE TABLE IF NOT EXISTS rooms (
  id bigserial PRIMARY KEY, name text NOT NULL UNIQUE, last_seq bigint NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS memberships (
  room_id bigint NOT NULL REFERENCES rooms (id), user_id bigint NOT NULL,
  PRIMARY KEY (room_id, user_id));
CREATE TABLE IF NOT EXISTS messages (
  id bigserial PRIMARY KEY, room_id bigint NOT NULL REFERENCES rooms (id), seq bigint NOT NULL,
  sender_id bigint NOT NULL, nonce text NOT NULL, text text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (room_id, seq), UNIQUE (sender_id, nonce));
`;

async function joinRoom(userId, name) {
  const { rows } = await pool.query(
    `WITH r AS (
       INSERT INTO rooms (name) VALUES ($1)
       ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name
       RETURNING id, last_seq),
     m AS (INSERT INTO memberships (room_id, user_id) SELECT id, $2 FROM r ON CONFLICT DO NOTHING)
     SELECT id, last_seq FROM r`,
    [name, userId]);
  return rows[0];
}

async function storeMessage(roomId, userId, nonce, text) {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    const bumped = await client.query(
      "UPDATE rooms SET last_seq = last_seq + 1 WHERE id = $1 RETURNING last_seq", [roomId]);
    const seq = Number(bumped.rows[0].last_seq);
    const inserted = await client.query(
      `INSERT INTO messages (room_id, seq, sender_id, nonce, text) VALUES ($1, $2, $3, $4, $5)
       RETURNING id, floor(extract(epoch FROM created_at) * 1000)::bigint AS ts`,
      [roomId, seq, userId, nonce, text]);
    await client.query("COMMIT");
    return { seq, msg_id: Number(inserted.rows[0].id), ts: Number(inserted.rows[0].ts) };
  } catch (err) {
    await client.query("ROLLBACK").catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

async function main() {
  await pool.query(SCHEMA);
  const httpServer = http.createServer();
  const io = new Server(httpServer, { serveClient: false, maxHttpBufferSize: 65536 });

  io.use((socket, next) => {
    const token = socket.handshake.auth && socket.handshake.auth.token;
    jwt.verify(token, secret, { algorithms: ["HS256"] }, (err, claims) => {
      if (err) return next(new Error("unauthenticated"));
      socket.data.user = { id: Number(claims.sub), name: claims.name };
      socket.data.rooms = new Map();
      next();
    });
  });

  io.on("connection", (socket) => {
    const user = socket.data.user;
    socket.on("join", async (req, ack) => {
      try {
        const room = await joinRoom(user.id, String(req.room));
        socket.data.rooms.set(req.room, Number(room.id));
        socket.join(req.room);
        if (typeof ack === "function") ack({ ok: true, room: req.room, last_seq: Number(room.last_seq) });
      } catch (err) {
        if (typeof ack === "function") ack({ ok: false, code: "unavailable" });
      }
    });
    socket.on("send", async (req, ack) => {
      const roomId = socket.data.rooms.get(req.room);
      if (roomId === undefined) {
        if (typeof ack === "function") ack({ ok: false, code: "forbidden" });
        return;
      }
      try {
        const stored = await storeMessage(roomId, user.id, String(req.nonce), String(req.text));
        if (typeof ack === "function") ack({ ok: true, room: req.room, ...stored });
        io.to(req.room).emit("message", {
          room: req.room, seq: stored.seq, msg_id: stored.msg_id, from: user.name,
          text: req.text, ts: stored.ts, nonce: req.nonce,
        });
      } catch (err) {
        if (typeof ack === "function") ack({ ok: false, code: "unavailable" });
      }
    });
  });

  httpServer.listen(Number(process.env.PORT || 0), "127.0.0.1", () => {
    console.log(`listening: ${httpServer.address().port}`);
  });
  const stop = () => {
    io.close();
    pool.end().finally(() => process.exit(0));
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

// Load generator for the Socket.IO peer: the scenarios, measurements and handshake of
// ../harness.js (shared with ../chatd/loadgen.js), over socket.io-client (WebSocket transport).
"use strict";

const { io } = require("socket.io-client");
const { spec, run } = require("../harness.js");

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

run({
  connect,
  async join(socket, room) {
    const reply = await emitAck(socket, "join", { room });
    if (!reply.ok) throw new Error(`join ${room}: ${JSON.stringify(reply)}`);
  },
  send(socket, data, done) {
    socket.emit("send", data, (reply) => done(Boolean(reply && reply.ok), reply));
  },
  onMessage(socket, _parse, fn) {
    socket.on("message", fn);
  },
  close(socket) {
    socket.disconnect();
  },
});

// The socket half: one WebSocket to /ws speaking the NDJSON protocol (docs/protocol.md), with
// request/reply matching by id, keepalive pings, and reconnection with exponential backoff.
//
// The owner supplies `hello()` (the fields of the hello frame: token and resume, asked afresh
// for every attempt) and gets callbacks: `onWelcome(welcome, {sentAt})` (sentAt: when the
// hello went, by the page's clock, in ms), `onEvent(frame)` for every frame
// that is not a reply, `onReply(frame, request)` for every reply (`ok` or `error`) with the
// request it answers (`{op, ...fields}`; when the socket closes first, an `error` frame with
// code "disconnected"), `onState(state, detail)` with state "connecting" | "online" | "waiting"
// (detail: {delay, attempt, reason}) | "stopped", and `onAuthFailed(error)` when the server
// refuses the token (then no more attempts are made). Any other refusal of the hello waits for
// the backoff, as a lost connection does (the server takes page sizes past its largest page as
// that page: the hello has nothing to take back).
//
// Every callback runs as the frame is read, before the next line of the same WebSocket
// message, so the owner sees replies and events in the order the server sent them (a `join`
// reply before the live messages that follow it, the welcome before the resume catch-up).
//
// A dropped network is noticed within seconds: after IDLE_PING_MS without a frame from the
// server the page pings, and a ping that hears nothing back for PONG_TIMEOUT_MS drops the
// socket (a dead TCP connection closes only after minutes); the page also pings at least every
// `ping_interval` of the welcome, so the server never finds it idle. The browser's `offline`
// event drops the socket at once, and `online` reconnects at once (networkChanged).

const BACKOFF_FIRST_MS = 400;
const BACKOFF_MAX_MS = 15000;
const HELLO_TIMEOUT_MS = 15000;
export const IDLE_PING_MS = 5000; // nothing heard for this long: ask
export const PONG_TIMEOUT_MS = 4000; // a ping unanswered this long: the connection is dead
const KEEPALIVE_TICK_MS = 1000;

/**
 * What the keepalive does now (ms times): "drop" when a ping has been waiting PONG_TIMEOUT_MS
 * with nothing heard since it went out; "ping" when none is waiting and nothing was heard for
 * IDLE_PING_MS, or nothing was sent for the server's `interval`; else null.
 */
export function keepaliveStep({ now, lastHeard, lastSent, pingSentAt, interval }) {
  if (pingSentAt !== null && lastHeard < pingSentAt) {
    return now - pingSentAt >= PONG_TIMEOUT_MS ? "drop" : null;
  }
  if (now - lastHeard >= IDLE_PING_MS || now - lastSent >= interval) return "ping";
  return null;
}

/** A refused request: `code` is the protocol's error code ("disconnected" when the socket
 * closed before the reply came). */
export class RequestError extends Error {
  constructor(code, message, retryAfter) {
    super(message || code);
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

export class Connection {
  constructor({ hello, onWelcome, onEvent, onReply = () => {}, onState, onAuthFailed }) {
    this.hello = hello;
    this.onWelcome = onWelcome;
    this.onEvent = onEvent;
    this.onReply = onReply;
    this.onState = onState;
    this.onAuthFailed = onAuthFailed;
    this.ws = null;
    this.ready = false;
    this.stopped = true;
    this.nextId = 1;
    this.pending = new Map(); // id -> {request, resolve, reject}
    this.attempt = 0;
    this.retryTimer = null;
    this.keepaliveTimer = null;
    this.lastHeard = 0;
    this.lastSent = 0;
    this.pingSentAt = null; // when the ping waiting for its answer went out
  }

  /** Start connecting (and keep reconnecting until stop()). */
  start() {
    this.stopped = false;
    this.open();
  }

  /** Close for good: no more reconnects. */
  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.drop("stopped", false);
    this.onState("stopped", {});
  }

  /** Skip the rest of the backoff wait and try now. */
  retryNow() {
    if (this.stopped || this.ws) return;
    clearTimeout(this.retryTimer);
    this.open();
  }

  /**
   * The browser says the network went away (false) or came back (true). Away: the socket is
   * dropped at once (it may look open for minutes). Back: whatever socket there is was opened
   * on the old network, so it is dropped too, and a new one opened at once.
   */
  networkChanged(online) {
    if (this.stopped) return;
    if (!online) {
      if (this.ws) this.drop("the network is offline", true);
      return;
    }
    if (this.ws) this.drop("the network changed", false);
    this.attempt = 0;
    clearTimeout(this.retryTimer);
    this.open();
  }

  /**
   * Send a request; resolves with the `ok` frame, rejects with RequestError. `onReply` has seen
   * the reply by then. Not connected: rejects at once (and `onReply` is not called).
   */
  request(op, fields = {}) {
    if (!this.ws || !this.ready) {
      return Promise.reject(new RequestError("disconnected", "not connected"));
    }
    return new Promise((resolve, reject) => this.sendWith(op, fields, {
      resolve: (frame) => {
        this.onReply(frame, { op, ...fields });
        resolve(frame);
      },
      reject: (error, frame) => {
        this.onReply(frame, { op, ...fields });
        reject(error);
      },
    }));
  }

  /** Whether requests can be sent now. */
  get isOnline() {
    return Boolean(this.ws && this.ready);
  }

  // -- internals ------------------------------------------------------------------------------

  /** Send a request whose reply is handled by `handlers` as soon as it is read. */
  sendWith(op, fields, handlers) {
    const id = this.nextId++;
    this.ws.send(`${JSON.stringify({ op, id, ...fields })}\n`);
    this.lastSent = Date.now();
    this.pending.set(id, handlers);
  }

  open() {
    clearTimeout(this.retryTimer);
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}/ws`);
    this.ws = ws;
    this.ready = false;
    this.onState("connecting", { attempt: this.attempt });
    const helloTimer = setTimeout(() => {
      if (this.ws === ws && !this.ready) this.drop("the server did not answer", true);
    }, HELLO_TIMEOUT_MS);
    ws.addEventListener("open", () => {
      if (this.ws !== ws) return;
      this.lastHeard = Date.now();
      // The welcome is handled synchronously, before the frames read with it (the resume
      // catch-up, a `gap`) are dispatched: those need the welcome's rooms and a ready socket.
      const sentAt = Date.now(); // with the welcome's `now`, the server's clock (clock.js)
      this.sendWith("hello", this.hello(), {
        resolve: (welcome) => {
          clearTimeout(helloTimer);
          if (this.ws !== ws) return;
          this.ready = true;
          this.attempt = 0;
          this.startKeepalive(Number(welcome.ping_interval) || 30);
          this.onState("online", {});
          this.onWelcome(welcome, { sentAt });
        },
        reject: (error) => {
          clearTimeout(helloTimer);
          if (this.ws !== ws) return;
          if (error.code === "unauthenticated") {
            this.stopped = true;
            this.drop("unauthenticated", false);
            this.onAuthFailed(error);
          } else {
            this.drop(error.message, true);
          }
        },
      });
    });
    ws.addEventListener("message", (event) => {
      if (this.ws !== ws) return;
      this.lastHeard = Date.now();
      for (const line of String(event.data).split("\n")) {
        if (!line.trim()) continue;
        let frame;
        try {
          frame = JSON.parse(line);
        } catch {
          continue; // not JSON: ignore the line
        }
        if (frame && typeof frame === "object") this.dispatch(frame);
      }
    });
    ws.addEventListener("close", () => {
      clearTimeout(helloTimer);
      if (this.ws === ws) this.drop("connection closed", true);
    });
  }

  dispatch(frame) {
    const waiting = frame.id !== undefined && frame.id !== null && this.pending.get(frame.id);
    if (waiting && (frame.op === "ok" || frame.op === "error" || frame.op === "welcome")) {
      this.pending.delete(frame.id);
      if (frame.op === "error") {
        waiting.reject(new RequestError(frame.code, frame.message, frame.retry_after), frame);
      } else {
        waiting.resolve(frame);
      }
      return;
    }
    this.onEvent(frame);
  }

  startKeepalive(intervalSeconds) {
    clearInterval(this.keepaliveTimer);
    const interval = Math.max(1, intervalSeconds) * 1000;
    this.pingSentAt = null;
    this.keepaliveTimer = setInterval(() => {
      const step = keepaliveStep({ now: Date.now(), lastHeard: this.lastHeard,
        lastSent: this.lastSent, pingSentAt: this.pingSentAt, interval });
      if (step === "drop") {
        this.drop("no answer to pings", true);
      } else if (step === "ping") {
        const sentAt = Date.now();
        this.pingSentAt = sentAt;
        this.request("ping").then(() => {
          if (this.pingSentAt === sentAt) this.pingSentAt = null;
        }, () => {});
      }
    }, KEEPALIVE_TICK_MS);
  }

  /** Forget the current socket, fail its requests, and maybe schedule the next attempt. */
  drop(reason, reconnect) {
    clearInterval(this.keepaliveTimer);
    const ws = this.ws;
    this.ws = null;
    this.ready = false;
    if (ws) {
      try {
        ws.close();
      } catch {
        // Closing a socket that never opened may throw; it is gone either way.
      }
    }
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const { reject } of pending) {
      reject(new RequestError("disconnected", reason),
        { op: "error", id: null, code: "disconnected", message: reason });
    }
    if (reconnect && !this.stopped) {
      const base = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** this.attempt);
      const delay = Math.round(base * (0.75 + Math.random() * 0.5));
      this.attempt += 1;
      this.onState("waiting", { delay, attempt: this.attempt, reason });
      this.retryTimer = setTimeout(() => this.open(), delay);
    }
  }
}

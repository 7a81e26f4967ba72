// chatd's web client: log in over HTTP, then speak the NDJSON protocol over /ws.
//
// Theory of operation
// -------------------
// `state` holds the user, the rooms (store.js: messages by seq, resume point, unread), the
// presence of the people we know and the outbox of messages not yet acknowledged. Events from
// the socket change the state, then ask for a render; renders are coalesced into one per task
// and reconcile the DOM by key, so existing message nodes are kept (scroll position, focus and
// screen readers are not disturbed) and each message is on screen once, by (room, seq).
//
// Sending: a message goes into the outbox at once (shown as "sending"), is sent with a nonce,
// and leaves the outbox when its ack or its own `message` event arrives. When the connection
// drops, unacknowledged messages stay, marked, and are resent after the next welcome with the
// same nonce, so the server stores each once. The outbox survives a reload (localStorage).
//
// Reconnecting: socket.js reconnects with backoff; the hello names, for every followed room,
// the last seq received without a hole (Room.head), so the server sends exactly what was
// missed, or a `gap` that is filled with `history` after=….
//
// Everything a user typed reaches the page through textContent, never innerHTML. The page's
// CSP forbids inline scripts and styles, so there are none, and no style attributes either.

import * as api from "./api.js";
import { $, colourClass, formatDay, formatFull, formatTime, h, richText } from "./dom.js";
import { Connection } from "./socket.js";
import { dmName, Room } from "./store.js";

const TYPING_SEND_MS = 3000; // at most one `typing` per room this often
const TYPING_SHOW_MS = 5000; // how long someone shows as typing after their last event
const GROUP_GAP_MS = 5 * 60 * 1000; // messages of one author closer than this are grouped
const PAGE = 50;
const GAP_PAGE = 500;
const AT_BOTTOM_PX = 48;
const LOAD_OLDER_PX = 160;
const MAX_TIMER_MS = 2 ** 31 - 1;

const state = {
  session: null, // {token, expires_at, username}
  me: null, // name as registered
  conn: null,
  rooms: new Map(), // name -> Room
  current: null, // room name
  presence: new Map(), // lower-case user -> {user, status}
  contacts: [], // names as registered
  outbox: [], // {nonce, room, to, text, ts, status: "sending"|"failed"|"rejected", error}
  lastTyping: new Map(), // room -> ms of the last typing sent
  pendingRead: null,
  dividerSeq: null, // "new messages" line: after this seq, in the current room
  nodes: new Map(), // key -> element, for the current room's message list
  renderQueued: false,
  scrollToEnd: false,
  expiryTimer: null,
};

// -- start ----------------------------------------------------------------------------------

function start() {
  bindAuth();
  bindChat();
  const session = api.loadSession();
  if (session) enterChat(session);
  else showAuth();
}

// -- log in / register ----------------------------------------------------------------------

let authMode = "login";

function bindAuth() {
  $("tab-login").addEventListener("click", () => setAuthMode("login"));
  $("tab-register").addEventListener("click", () => setAuthMode("register"));
  for (const tab of [$("tab-login"), $("tab-register")]) {
    tab.addEventListener("keydown", (event) => {
      if (event.key === "ArrowLeft" || event.key === "ArrowRight") {
        const next = authMode === "login" ? "register" : "login";
        setAuthMode(next);
        $(next === "login" ? "tab-login" : "tab-register").focus();
      }
    });
  }
  $("auth-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const username = $("auth-username").value.trim();
    const password = $("auth-password").value;
    const submit = $("auth-submit");
    $("auth-error").textContent = "";
    submit.disabled = true;
    const mode = authMode;
    try {
      if (mode === "register") await api.register(username, password);
      const session = await api.login(username, password);
      $("auth-password").value = "";
      enterChat(session);
    } catch (error) {
      $("auth-error").textContent = api.explain(error, mode);
      (error.code === "conflict" ? $("auth-username") : $("auth-password")).focus();
    } finally {
      submit.disabled = false;
    }
  });
}

function setAuthMode(mode) {
  authMode = mode;
  const login = mode === "login";
  $("tab-login").setAttribute("aria-selected", String(login));
  $("tab-register").setAttribute("aria-selected", String(!login));
  $("tab-login").tabIndex = login ? 0 : -1;
  $("tab-register").tabIndex = login ? -1 : 0;
  $("auth-form").setAttribute("aria-labelledby", login ? "tab-login" : "tab-register");
  $("auth-submit").textContent = login ? "Log in" : "Create account";
  $("auth-password").autocomplete = login ? "current-password" : "new-password";
  $("auth-password").minLength = login ? 0 : 8;
  $("auth-password-hint").hidden = login;
  $("auth-error").textContent = "";
}

function showAuth(message = "") {
  $("app").hidden = true;
  $("banner").hidden = true;
  $("auth-view").hidden = false;
  $("auth-error").textContent = message;
  document.title = "chatd";
  setAuthMode(authMode);
  $("auth-username").focus();
}

// -- session --------------------------------------------------------------------------------

function enterChat(session) {
  state.session = session;
  state.me = session.username;
  loadOutbox();
  $("auth-view").hidden = true;
  $("app").hidden = false;
  $("me-name").textContent = state.me;
  $("me-avatar").textContent = initial(state.me);
  $("me-avatar").className = `avatar ${colourClass(state.me)}`;
  clearTimeout(state.expiryTimer);
  state.expiryTimer = setTimeout(() => {
    leaveChat("Your session has expired. Please log in again.");
  }, Math.min(MAX_TIMER_MS, Math.max(0, session.expires_at - Date.now())));
  state.conn = new Connection({
    hello: helloFields,
    onWelcome: welcome,
    onEvent: handleEvent,
    onState: connectionState,
    onAuthFailed: () => leaveChat("Your session has ended. Please log in again."),
  });
  state.conn.start();
  render();
}

async function leaveChat(message = "", { revoke = false } = {}) {
  const session = state.session;
  clearTimeout(state.expiryTimer);
  if (state.conn) state.conn.stop();
  state.conn = null;
  if (revoke) await api.logout(session);
  else api.forgetSession();
  state.session = null;
  state.me = null;
  state.rooms.clear();
  state.current = null;
  state.presence.clear();
  state.contacts = [];
  state.outbox = [];
  state.nodes.clear();
  $("message-list").replaceChildren();
  showAuth(message);
}

function helloFields() {
  const resume = {};
  for (const room of state.rooms.values()) {
    if (room.head !== null && !room.draft) resume[room.name] = room.head;
  }
  return { token: state.session.token, resume };
}

let closeReason = "";

function connectionState(phase, detail) {
  const banner = $("banner");
  const status = $("me-status");
  status.dataset.phase = phase;
  if (phase === "online") {
    closeReason = "";
    banner.hidden = true;
    $("me-status-text").textContent = "online";
    return;
  }
  if (phase === "stopped") {
    banner.hidden = true;
    return;
  }
  $("me-status-text").textContent = phase === "connecting" ? "connecting" : "offline";
  if (phase === "connecting" && detail.attempt === 0) return; // the very first attempt
  banner.hidden = false;
  clearInterval(connectionState.countdown);
  if (phase === "connecting") {
    $("banner-text").textContent = `${closeReason || "Connection lost."} Reconnecting…`;
  } else {
    const until = Date.now() + detail.delay;
    const tick = () => {
      const seconds = Math.max(1, Math.ceil((until - Date.now()) / 1000));
      const why = closeReason || "Connection lost.";
      $("banner-text").textContent = `${why} Reconnecting in ${seconds} s…`;
    };
    tick();
    connectionState.countdown = setInterval(tick, 500);
  }
  markOutboxOffline();
}

// -- the welcome ----------------------------------------------------------------------------

function welcome(frame) {
  clearInterval(connectionState.countdown);
  state.me = frame.user.name;
  $("me-name").textContent = state.me;
  setPresence(state.me, "online"); // presence events never tell us about ourselves
  const listed = new Set();
  for (const info of frame.rooms || []) {
    listed.add(info.room);
    roomFor(info.room).applyInfo(info);
  }
  for (const [name, room] of state.rooms) {
    if (!listed.has(name) && !room.draft) state.rooms.delete(name); // left while away
    else room.members = null; // may have changed while away: asked again when shown
  }
  state.contacts = (frame.contacts || []).map((c) => c.user);
  for (const contact of frame.contacts || []) setPresence(contact.user, contact.status);
  if (state.current && !state.rooms.has(state.current)) state.current = null;
  if (!state.current) {
    const first = sortedRooms("room")[0] || sortedRooms("dm")[0];
    if (first) state.current = first.name;
  }
  if (state.current) openRoom(state.current, { fromWelcome: true });
  resendOutbox();
  render();
}

// -- events ---------------------------------------------------------------------------------

function handleEvent(frame) {
  switch (frame.op) {
    case "message":
      receiveMessages(frame.room, [frame]);
      break;
    case "presence":
      setPresence(frame.user, frame.status);
      render();
      break;
    case "typing": {
      const room = state.rooms.get(frame.room);
      if (room && frame.user !== state.me) {
        room.typing.set(frame.user, Date.now() + TYPING_SHOW_MS);
        setTimeout(render, TYPING_SHOW_MS + 50);
        render();
      }
      break;
    }
    case "read": {
      const room = state.rooms.get(frame.room);
      if (room && room.markRead(frame.seq, state.me)) render();
      break;
    }
    case "joined":
      memberJoined(frame);
      break;
    case "left":
      memberLeft(frame);
      break;
    case "gap":
      fillGap(frame.room, frame.after);
      break;
    case "error":
      // The connection closes after these; the banner tells why while reconnecting.
      if (frame.code === "shutting_down") closeReason = "The server is restarting.";
      else if (frame.code === "slow_consumer") closeReason = "Fell behind the server.";
      else if (frame.message) toast(frame.message);
      break;
    default:
      break; // an event this page does not know: ignore, as the protocol asks
  }
}

function roomFor(name) {
  let room = state.rooms.get(name);
  if (!room) {
    room = new Room(name);
    state.rooms.set(name, room);
  }
  return room;
}

function receiveMessages(name, messages) {
  const known = state.rooms.has(name);
  const room = roomFor(name);
  if (!known) {
    // A conversation someone just started, or a room we were added to: follow it from here.
    const first = Math.min(...messages.map((m) => m.seq));
    room.follow(first - 1);
    if (room.kind === "dm") {
      const other = messages.find((m) => m.from !== state.me);
      if (other) room.peer = other.from;
    }
    refreshRooms();
  } else if (room.draft) {
    room.draft = false;
    room.follow(Math.min(...messages.map((m) => m.seq)) - 1);
    if (state.current === name) openRoom(name); // now it has members to list
  }
  const added = room.add(messages, state.me);
  for (const message of added) {
    if (message.from === state.me) dropFromOutbox(message.nonce);
  }
  if (added.length) render();
}

function memberJoined(frame) {
  const room = state.rooms.get(frame.room);
  if (frame.user === state.me) {
    if (!room) {
      roomFor(frame.room);
      refreshRooms();
      if (frame.by) toast(`${frame.by} added you to #${frame.room}`);
    }
    render();
    return;
  }
  if (!room) return;
  if (room.members && !room.members.some((m) => sameUser(m.user, frame.user))) {
    room.members.push({ user: frame.user });
    room.members.sort((a, b) => a.user.toLowerCase().localeCompare(b.user.toLowerCase()));
  }
  setPresence(frame.user, presenceOf(frame.user) || "online");
  const text = frame.by ? `${frame.by} added ${frame.user}` : `${frame.user} joined`;
  addNotice(room, text);
}

function memberLeft(frame) {
  const room = state.rooms.get(frame.room);
  if (!room) return;
  if (frame.user === state.me) {
    state.rooms.delete(frame.room);
    if (frame.by) toast(`${frame.by} removed you from #${frame.room}`);
    if (state.current === frame.room) {
      state.current = null;
      const next = sortedRooms("room")[0] || sortedRooms("dm")[0];
      if (next) openRoom(next.name);
    }
    render();
    return;
  }
  if (room.members) room.members = room.members.filter((m) => !sameUser(m.user, frame.user));
  addNotice(room, frame.by ? `${frame.by} removed ${frame.user}` : `${frame.user} left`);
}

function addNotice(room, text) {
  const ts = Date.now();
  room.notices.push({ after: room.lastSeq, text, ts, key: `n${ts}-${room.notices.length}` });
  render();
}

let refreshTimer = null;

/** Ask for the room overview soon (coalesced): details of rooms that appeared by events. */
function refreshRooms() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(async () => {
    if (!state.conn || !state.conn.isOnline) return;
    try {
      const reply = await state.conn.request("rooms");
      for (const info of reply.rooms || []) {
        const room = state.rooms.get(info.room);
        if (room && info.member) room.applyInfo(info);
      }
      render();
    } catch {
      // The next welcome brings the same.
    }
  }, 150);
}

async function fillGap(name, after) {
  const room = state.rooms.get(name);
  if (!room) return;
  let from = after;
  try {
    for (;;) {
      const reply = await state.conn.request("history",
        { room: name, after: from, limit: GAP_PAGE });
      const messages = reply.messages || [];
      room.add(messages, state.me);
      render();
      if (!reply.more || !messages.length) break;
      from = messages[messages.length - 1].seq;
    }
  } catch {
    // Disconnected mid-way: the resume point did not pass the hole, the next hello says so.
  }
}

// -- presence -------------------------------------------------------------------------------

function setPresence(user, status) {
  state.presence.set(user.toLowerCase(), { user, status });
}

function presenceOf(user) {
  const known = state.presence.get(user.toLowerCase());
  return known ? known.status : null;
}

function sameUser(a, b) {
  return a.toLowerCase() === b.toLowerCase();
}

function initial(name) {
  return (name.match(/[A-Za-z0-9]/) || ["?"])[0].toUpperCase();
}

// -- opening rooms --------------------------------------------------------------------------

function selectRoom(name) {
  if (state.current !== name) {
    state.current = name;
    state.nodes.clear();
    $("message-list").replaceChildren();
    const room = state.rooms.get(name);
    state.dividerSeq = room && room.unread > 0 ? room.readSeq : null;
    state.scrollToEnd = true;
    openRoom(name);
  }
  closeDrawers();
  render();
  // After the current event (a dialog closing puts focus back on its opener first): the
  // message box, unless a finger chose the room on a phone (no keyboard popping up then).
  setTimeout(() => {
    const phone = matchMedia("(max-width: 760px)").matches;
    if (!phone || lastInput === "keyboard") $("composer-text").focus();
    else $("messages").focus();
  }, 0);
}

let lastInput = "pointer";
document.addEventListener("keydown", () => { lastInput = "keyboard"; }, true);
document.addEventListener("pointerdown", () => { lastInput = "pointer"; }, true);

/** Load what the current room needs: its latest page (once) and its members. */
async function openRoom(name, { fromWelcome = false } = {}) {
  const room = state.rooms.get(name);
  if (!room || room.draft || !state.conn || !state.conn.isOnline) return;
  try {
    if (!room.loaded) {
      const reply = await state.conn.request("history", { room: name, limit: PAGE });
      room.loaded = true;
      room.more = Boolean(reply.more);
      room.add(reply.messages || [], state.me);
      if (state.current === name) state.scrollToEnd = true;
      render();
    }
    if (!room.members || fromWelcome) {
      const who = await state.conn.request("who", { room: name });
      room.members = (who.members || []).map((m) => ({ user: m.user }));
      for (const member of who.members || []) setPresence(member.user, member.status);
      render();
    }
  } catch (error) {
    if (error.code !== "disconnected") toast(`Cannot open ${name}: ${error.message}`);
  }
}

async function loadOlder() {
  const room = state.rooms.get(state.current);
  if (!room || !room.more || room.loadingOlder || !state.conn || !state.conn.isOnline) return;
  const before = room.oldest;
  if (before === null || before <= 1) {
    room.more = false;
    return;
  }
  room.loadingOlder = true;
  $("older-status").textContent = "Loading older messages…";
  try {
    const reply = await state.conn.request("history", { room: room.name, before, limit: PAGE });
    room.more = Boolean(reply.more);
    room.add(reply.messages || [], state.me);
  } catch (error) {
    if (error.code !== "disconnected") toast(`Cannot load older messages: ${error.message}`);
  } finally {
    room.loadingOlder = false;
    render();
  }
}

function sortedRooms(kind) {
  return [...state.rooms.values()]
    .filter((room) => room.kind === kind)
    .sort((a, b) => a.label.toLowerCase().localeCompare(b.label.toLowerCase()));
}

function openDm(user) {
  const name = dmName(state.me, user);
  let room = state.rooms.get(name);
  if (!room) {
    room = roomFor(name);
    room.kind = "dm";
    room.peer = user;
    room.draft = true;
    room.loaded = true;
  }
  selectRoom(name);
}

// -- sending --------------------------------------------------------------------------------

function newNonce() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function outboxKey() {
  return `chatd.outbox.${state.me.toLowerCase()}`;
}

function loadOutbox() {
  try {
    const saved = JSON.parse(localStorage.getItem(outboxKey()) || "[]");
    state.outbox = Array.isArray(saved) ? saved : [];
  } catch {
    state.outbox = [];
  }
  for (const item of state.outbox) if (item.status === "sending") item.status = "failed";
}

function saveOutbox() {
  if (!state.me) return;
  const kept = state.outbox.map(({ nonce, room, to, text, ts, status, error }) => ({
    nonce, room, to, text, ts, status, error,
  }));
  if (kept.length) localStorage.setItem(outboxKey(), JSON.stringify(kept));
  else localStorage.removeItem(outboxKey());
}

function dropFromOutbox(nonce) {
  const before = state.outbox.length;
  state.outbox = state.outbox.filter((item) => item.nonce !== nonce);
  if (state.outbox.length !== before) {
    saveOutbox();
    render();
  }
}

function sendMessage() {
  const box = $("composer-text");
  const text = box.value;
  const room = state.rooms.get(state.current);
  if (!text.trim() || !room) return;
  const item = {
    nonce: newNonce(),
    room: room.name,
    to: room.kind === "dm" ? room.peer : null,
    text,
    ts: Date.now(),
    status: "sending",
    error: "",
  };
  state.outbox.push(item);
  saveOutbox();
  state.lastTyping.delete(room.name); // the next keystroke starts a new "typing"
  box.value = "";
  autosize();
  state.scrollToEnd = true;
  render();
  transmit(item);
}

async function transmit(item) {
  if (!state.conn || !state.conn.isOnline) {
    item.status = "failed";
    item.error = "Offline: will be sent when the connection is back.";
    render();
    return;
  }
  item.status = "sending";
  item.error = "";
  render();
  try {
    const ack = item.to
      ? await state.conn.request("dm", { to: item.to, text: item.text, nonce: item.nonce })
      : await state.conn.request("send", { room: item.room, text: item.text, nonce: item.nonce });
    const message = {
      op: "message", room: ack.room, seq: ack.seq, msg_id: ack.msg_id, from: state.me,
      text: item.text, ts: ack.ts, nonce: item.nonce,
    };
    if (!ack.duplicate || state.rooms.has(ack.room)) receiveMessages(ack.room, [message]);
    dropFromOutbox(item.nonce);
  } catch (error) {
    if (!state.outbox.includes(item)) return;
    if (error.code === "rate_limited") {
      item.status = "failed";
      item.error = "Sending too fast: retrying in a moment.";
      const wait = Math.max(250, Number(error.retryAfter) || 1000);
      setTimeout(() => { if (item.status === "failed") transmit(item); }, wait);
    } else if (["disconnected", "unavailable", "internal", "shutting_down"].includes(error.code)) {
      item.status = "failed";
      item.error = "Not sent yet: will retry when the connection is back.";
      if (error.code !== "disconnected" && state.conn && state.conn.isOnline) {
        setTimeout(() => { if (item.status === "failed") transmit(item); }, 2000);
      }
    } else {
      item.status = "rejected";
      item.error = `Not sent: ${error.message}`;
    }
    saveOutbox();
    render();
  }
}

/** After a welcome: send again, in order and with the same nonces, what was not acked. */
function resendOutbox() {
  for (const item of state.outbox) {
    if (item.status !== "rejected") transmit(item);
  }
}

function markOutboxOffline() {
  let changed = false;
  for (const item of state.outbox) {
    if (item.status === "sending") {
      item.status = "failed";
      item.error = "Not sent yet: will retry when the connection is back.";
      changed = true;
    }
  }
  if (changed) render();
}

function sendTyping() {
  const room = state.rooms.get(state.current);
  if (!room || room.draft || !state.conn || !state.conn.isOnline) return;
  const now = Date.now();
  if (now - (state.lastTyping.get(room.name) || 0) < TYPING_SEND_MS) return;
  state.lastTyping.set(room.name, now);
  state.conn.request("typing", { room: room.name }).catch(() => {});
}

// -- read markers ---------------------------------------------------------------------------

const seen = new IntersectionObserver(
  (entries) => {
    const room = state.rooms.get(state.current);
    if (!room || document.visibilityState !== "visible") return;
    let highest = 0;
    for (const entry of entries) {
      if (!entry.isIntersecting) continue;
      const seq = Number(entry.target.dataset.seq);
      if (entry.target.dataset.room === room.name && seq > highest) highest = seq;
    }
    if (highest > room.readSeq) queueRead(room, highest);
  },
  { threshold: 0.6 },
);

function queueRead(room, seq) {
  const pending = state.pendingRead;
  if (pending && pending.room === room.name && pending.seq >= seq) return;
  state.pendingRead = { room: room.name, seq };
  clearTimeout(queueRead.timer);
  queueRead.timer = setTimeout(flushRead, 300);
}

async function flushRead() {
  const pending = state.pendingRead;
  state.pendingRead = null;
  if (!pending || !state.conn || !state.conn.isOnline) return;
  const room = state.rooms.get(pending.room);
  if (!room) return;
  room.markRead(pending.seq, state.me);
  render();
  try {
    const reply = await state.conn.request("read", { room: pending.room, seq: pending.seq });
    if (room.markRead(reply.seq, state.me)) render();
  } catch {
    // Read markers are a convenience; the next one carries the news.
  }
}

// -- rendering ------------------------------------------------------------------------------

function render() {
  if (state.renderQueued) return;
  state.renderQueued = true;
  queueMicrotask(() => {
    state.renderQueued = false;
    if (!state.me) return;
    renderSidebar();
    renderConversation();
    renderMembers();
    renderTitle();
  });
}

function renderTitle() {
  let total = 0;
  for (const room of state.rooms.values()) if (room.name !== state.current) total += room.unread;
  document.title = total ? `(${total > 999 ? "999+" : total}) chatd` : "chatd";
  const badge = $("menu-badge");
  badge.hidden = total === 0;
  badge.textContent = total > 99 ? "99+" : String(total);
}

function unreadBadge(room) {
  if (!room.unread || room.name === state.current) return null;
  const text = room.unread > 999 ? "999+" : String(room.unread);
  return h("span", { class: "badge", "aria-label": `${text} unread` }, text);
}

function roomItem(room) {
  const current = room.name === state.current;
  const label = room.kind === "dm"
    ? [h("span", { class: `dot ${presenceOf(room.label) || "offline"}`, "aria-hidden": "true" }),
      h("span", { class: "name" }, room.label)]
    : [h("span", { class: "sigil", "aria-hidden": "true" }, room.private ? "🔒" : "#"),
      h("span", { class: "name" }, room.name)];
  const description = room.kind === "dm"
    ? `Conversation with ${room.label}, ${presenceOf(room.label) || "offline"}`
    : `${room.private ? "Private room" : "Room"} ${room.name}`;
  const unread = room.unread && !current ? `, ${room.unread} unread` : "";
  return h("li", { dataset: { room: room.name } },
    h("button", {
      type: "button",
      class: `side-item${current ? " current" : ""}${room.unread && !current ? " unread" : ""}`,
      "aria-current": current ? "page" : null,
      "aria-label": description + unread,
      onclick: () => selectRoom(room.name),
    }, label, unreadBadge(room)));
}

function renderSidebar() {
  const rooms = sortedRooms("room");
  $("room-list").replaceChildren(...(rooms.length
    ? rooms.map(roomItem)
    : [h("li", { class: "side-empty" }, "No rooms yet")]));
  const dms = sortedRooms("dm");
  $("dm-list").replaceChildren(...(dms.length
    ? dms.map(roomItem)
    : [h("li", { class: "side-empty" }, "No conversations yet")]));
  const contacts = [...state.contacts]
    .sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase()));
  $("contact-list").replaceChildren(...(contacts.length
    ? contacts.map((user) => {
      const status = presenceOf(user) || "offline";
      return h("li", { class: "contact", dataset: { user, status } },
        h("button", {
          type: "button", class: "side-item",
          "aria-label": `${user}, ${status}: open conversation`,
          onclick: () => openDm(user),
        },
        h("span", { class: `dot ${status}`, "aria-hidden": "true" }),
        h("span", { class: "name" }, user),
        h("span", { class: "status-text" }, status)),
        h("button", {
          type: "button", class: "icon small remove", "aria-label": `Remove ${user} from contacts`,
          title: "Remove contact", onclick: () => removeContact(user),
        }, "×"));
    })
    : [h("li", { class: "side-empty" }, "Add people to see when they are online")]));
}

function renderMembers() {
  const room = state.rooms.get(state.current);
  const members = room && room.members ? room.members : [];
  const online = members.filter((m) => presenceOf(m.user) === "online");
  $("member-count").textContent = room && room.members ? `${online.length}/${members.length}` : "";
  $("toggle-members").setAttribute("aria-label",
    `Who is here: ${online.length} of ${members.length} online`);
  const ordered = [...online, ...members.filter((m) => presenceOf(m.user) !== "online")];
  $("member-list").replaceChildren(...ordered.map((member) => {
    const status = presenceOf(member.user) || "offline";
    const me = sameUser(member.user, state.me);
    return h("li", { class: `member ${status}`, dataset: { user: member.user, status } },
      h("span", { class: `avatar small ${colourClass(member.user)}`, "aria-hidden": "true" },
        initial(member.user),
        h("span", { class: `dot ${status}` })),
      h("span", { class: "name" }, member.user, me ? h("span", { class: "you" }, " (you)") : null),
      h("span", { class: "visually-hidden" }, `, ${status}`),
      me ? null : h("button", {
        type: "button", class: "icon small", "aria-label": `Message ${member.user}`,
        title: `Message ${member.user}`, onclick: () => openDm(member.user),
      }, "✉"));
  }));
}

function renderConversation() {
  const room = state.rooms.get(state.current);
  const box = $("composer-text");
  $("empty").hidden = Boolean(room);
  box.disabled = !room;
  $("send").disabled = !room;
  $("toggle-members").hidden = !room || room.draft;
  $("invite").hidden = !room || room.kind === "dm";
  $("leave").hidden = !room || room.kind === "dm";
  if (!room) {
    $("conv-title").textContent = state.rooms.size ? "Pick a conversation" : "Welcome to chatd";
    $("conv-topic").textContent = "";
    $("message-list").replaceChildren();
    $("typing").replaceChildren();
    $("older-status").textContent = "";
    return;
  }
  if (room.kind === "dm") {
    $("conv-title").textContent = room.label;
    const status = presenceOf(room.label) || "offline";
    $("conv-topic").textContent = sameUser(room.label, state.me) ? "Notes to yourself" : status;
    box.placeholder = `Message ${room.label}`;
    box.setAttribute("aria-label", `Message ${room.label}`);
  } else {
    $("conv-title").textContent = `${room.private ? "🔒 " : "# "}${room.name}`;
    $("conv-topic").textContent = room.topic;
    box.placeholder = `Message #${room.name}`;
    box.setAttribute("aria-label", `Message #${room.name}`);
  }
  renderMessages(room);
  renderTyping(room);
}

function renderTyping(room) {
  const typers = room.typers();
  if (!typers.length) {
    $("typing").replaceChildren();
    return;
  }
  const who = typers.length === 1 ? `${typers[0]} is`
    : typers.length === 2 ? `${typers[0]} and ${typers[1]} are`
      : "Several people are";
  $("typing").replaceChildren(
    h("span", { class: "dots", "aria-hidden": "true" }, h("i"), h("i"), h("i")),
    h("span", {}, `${who} typing…`));
}

/** The rows the message list should show, in order, each with a stable key. */
function rows(room) {
  const list = [];
  const notices = [...room.notices];
  let previous = null; // the message the next one may be grouped with
  let lastDay = null;
  let divided = false;
  const pushNotices = (upTo) => {
    while (notices.length && notices[0].after <= upTo) {
      const notice = notices.shift();
      pushDay(notice.ts);
      list.push({ key: notice.key, kind: "notice", text: notice.text });
      previous = null;
    }
  };
  const pushDay = (ts) => {
    const day = new Date(ts).toDateString();
    if (day !== lastDay) {
      list.push({ key: `d${day}`, kind: "day", ts });
      lastDay = day;
      previous = null;
    }
  };
  const groups = (message) => Boolean(previous) && previous.from === message.from
    && message.ts - previous.ts < GROUP_GAP_MS;
  for (const message of room.sorted()) {
    pushNotices(message.seq - 1);
    pushDay(message.ts);
    if (!divided && state.dividerSeq !== null && message.seq > state.dividerSeq
        && message.from !== state.me) {
      list.push({ key: "new", kind: "divider" });
      divided = true;
      previous = null;
    }
    list.push({ key: `m${message.seq}`, kind: "message", message, grouped: groups(message) });
    previous = message;
  }
  pushNotices(Infinity);
  for (const item of state.outbox) {
    if (item.room !== room.name) continue;
    pushDay(item.ts);
    const message = { from: state.me, text: item.text, ts: item.ts };
    list.push({ key: `p${item.nonce}`, kind: "pending", message, item, grouped: groups(message) });
    previous = message;
  }
  return list;
}

function messageNode(row, room) {
  const { message } = row;
  const node = h("li", {
    class: "msg",
    dataset: { room: room.name, ...(message.seq ? { seq: String(message.seq) } : {}) },
  },
  h("span", { class: `avatar ${colourClass(message.from)}`, "aria-hidden": "true" },
    initial(message.from)),
  h("div", { class: "msg-body" },
    h("div", { class: "msg-meta" },
      h("span", { class: `author${message.from === state.me ? " me" : ""}` }, message.from),
      h("time", { datetime: new Date(message.ts).toISOString(), title: formatFull(message.ts) },
        formatTime(message.ts))),
    h("div", { class: "msg-text" }, richText(message.text))),
  h("time", { class: "gutter-time", "aria-hidden": "true", title: formatFull(message.ts) },
    formatTime(message.ts)));
  if (message.nonce) node.dataset.nonce = message.nonce;
  return node;
}

function pendingStatus(row) {
  const { item } = row;
  if (item.status === "sending") {
    return h("div", { class: "msg-status" }, "Sending…");
  }
  return h("div", { class: "msg-status failed", role: "alert" },
    h("span", {}, item.error || "Not sent."),
    h("button", { type: "button", class: "link", onclick: () => transmit(item) }, "Retry"),
    h("button", {
      type: "button", class: "link",
      onclick: () => {
        state.outbox = state.outbox.filter((other) => other !== item);
        saveOutbox();
        render();
      },
    }, "Discard"));
}

function rowNode(row, room) {
  switch (row.kind) {
    case "day":
      return h("li", { class: "day", role: "separator" }, h("span", {}, formatDay(row.ts)));
    case "divider":
      return h("li", { class: "new-divider", role: "separator" }, h("span", {}, "New"));
    case "notice":
      return h("li", { class: "notice" }, row.text);
    default:
      return messageNode(row, room);
  }
}

function renderMessages(room) {
  const scroller = $("messages");
  const list = $("message-list");
  const wasAtBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight
    < AT_BOTTOM_PX;
  const firstBefore = list.querySelector("li.msg[data-seq]");
  const anchorTop = firstBefore ? firstBefore.getBoundingClientRect().top : null;
  const lastBefore = list.lastElementChild;

  const wanted = rows(room);
  const keep = new Set(wanted.map((row) => row.key));
  for (const [key, node] of state.nodes) {
    if (!keep.has(key)) {
      seen.unobserve(node);
      node.remove();
      state.nodes.delete(key);
    }
  }
  let cursor = list.firstElementChild;
  let appended = false;
  for (const row of wanted) {
    let node = state.nodes.get(row.key);
    if (!node) {
      node = rowNode(row, room);
      state.nodes.set(row.key, node);
      if (row.kind === "message") seen.observe(node);
      appended = true;
    }
    if (row.kind === "message" || row.kind === "pending") {
      node.classList.toggle("grouped", Boolean(row.grouped));
    }
    if (row.kind === "pending") {
      node.classList.add("pending");
      node.classList.toggle("failed", row.item.status !== "sending");
      node.querySelector(".msg-status")?.remove();
      node.querySelector(".msg-body").append(pendingStatus(row));
    }
    if (node !== cursor) list.insertBefore(node, cursor);
    else cursor = cursor.nextElementSibling;
  }

  $("older-status").textContent = room.loadingOlder ? "Loading older messages…"
    : room.loaded && !room.more && room.messages.size ? `This is the start of ${
      room.kind === "dm" ? `your conversation with ${room.label}` : `#${room.name}`}.`
      : "";

  if (state.scrollToEnd || (wasAtBottom && appended)) {
    scroller.scrollTop = scroller.scrollHeight;
    state.scrollToEnd = false;
  } else if (firstBefore && anchorTop !== null && firstBefore.isConnected) {
    // Older messages came in above: keep what the reader was looking at in place.
    const shift = firstBefore.getBoundingClientRect().top - anchorTop;
    if (shift) scroller.scrollTop += shift;
  }
  const atBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight
    < AT_BOTTOM_PX;
  const grewBelow = Boolean(lastBefore) && list.lastElementChild !== lastBefore
    && lastBefore.isConnected;
  if (atBottom) $("jump").hidden = true;
  else if (grewBelow && !wasAtBottom) $("jump").hidden = false; // new below, reader is up
  // Not enough to scroll yet but more exists: fetch older right away.
  if (room.more && !room.loadingOlder && scroller.scrollHeight <= scroller.clientHeight + 4) {
    loadOlder();
  }
}

// -- dialogs --------------------------------------------------------------------------------

/**
 * Show the dialog with `fields` (elements) and run `submit` on OK; `submit` returns nothing
 * to close, or throws to show the error and stay open.
 */
function dialog({ title, fields, ok = "OK", submit, okHidden = false }) {
  const element = $("dialog");
  $("dialog-title").textContent = title;
  $("dialog-body").replaceChildren(...fields);
  $("dialog-error").textContent = "";
  $("dialog-ok").textContent = ok;
  $("dialog-ok").hidden = okHidden;
  $("dialog-cancel").textContent = okHidden ? "Close" : "Cancel";
  dialog.submit = submit;
  element.showModal();
  const first = element.querySelector("#dialog-body input, #dialog-body button");
  if (first) first.focus();
}

function field(id, label, attrs = {}) {
  return [
    h("label", { for: id }, label),
    h("input", {
      id, name: id, autocomplete: "off", autocapitalize: "off", spellcheck: "false", ...attrs,
    }),
  ];
}

function value(id) {
  return $(id).value.trim();
}

function createRoomDialog() {
  dialog({
    title: "Create a room",
    ok: "Create",
    fields: [
      ...field("new-room-name", "Name", {
        required: true, maxlength: 64, pattern: "[A-Za-z0-9_\\-]{1,64}",
        placeholder: "e.g. design-team",
      }),
      h("small", { class: "hint" }, "Lower-case letters, digits, - and _."),
      ...field("new-room-topic", "Topic (optional)", { maxlength: 256 }),
      h("label", { class: "check" },
        h("input", { id: "new-room-private", type: "checkbox" }),
        " Private: only people you invite can see it"),
    ],
    submit: async () => {
      const reply = await state.conn.request("create_room", {
        room: value("new-room-name").toLowerCase(),
        topic: value("new-room-topic"),
        private: $("new-room-private").checked,
      });
      const room = roomFor(reply.room.room);
      room.applyInfo(reply.room);
      room.loaded = true;
      room.members = [{ user: state.me }];
      selectRoom(room.name);
    },
  });
}

async function joinRoom(name) {
  const reply = await state.conn.request("join", { room: name });
  const room = roomFor(reply.room);
  room.private = Boolean(reply.private);
  room.topic = reply.topic || "";
  room.follow(reply.last_seq);
  room.add(reply.messages || [], state.me);
  room.loaded = true;
  room.more = Boolean(reply.more);
  room.members = null;
  refreshRooms();
  selectRoom(room.name);
}

async function browseRoomsDialog() {
  const list = h("ul", { class: "browse-list", "aria-label": "Public rooms" },
    h("li", { class: "side-empty" }, "Loading…"));
  dialog({
    title: "Join a room",
    ok: "Join",
    fields: [
      ...field("join-room-name", "Room name", {
        maxlength: 64, pattern: "[A-Za-z0-9_\\-]{1,64}", placeholder: "a new name creates it",
      }),
      h("p", { class: "hint" }, "Or pick one:"),
      list,
    ],
    submit: async () => {
      const name = value("join-room-name").toLowerCase();
      if (!name) throw new Error("Type a room name, or pick one from the list.");
      await joinRoom(name);
    },
  });
  try {
    const reply = await state.conn.request("rooms");
    const open = (reply.rooms || []).filter((r) => r.kind === "room");
    list.replaceChildren(...(open.length ? open.map((info) => h("li", {},
      h("span", { class: "sigil", "aria-hidden": "true" }, info.private ? "🔒" : "#"),
      h("span", { class: "name" }, info.room),
      info.topic ? h("span", { class: "topic" }, info.topic) : null,
      info.member
        ? h("span", { class: "hint" }, "joined")
        : h("button", {
          type: "button", class: "small-button", "aria-label": `Join ${info.room}`,
          onclick: async () => {
            try {
              await joinRoom(info.room);
              $("dialog").close();
            } catch (error) {
              $("dialog-error").textContent = error.message;
            }
          },
        }, "Join")))
      : [h("li", { class: "side-empty" }, "No public rooms yet: type a name to create one.")]));
  } catch (error) {
    list.replaceChildren(h("li", { class: "side-empty" }, error.message));
  }
}

function inviteDialog() {
  const room = state.rooms.get(state.current);
  if (!room) return;
  dialog({
    title: `Invite someone to #${room.name}`,
    ok: "Invite",
    fields: field("invite-user", "User name", { required: true, maxlength: 32 }),
    submit: async () => {
      const reply = await state.conn.request("invite",
        { room: room.name, user: value("invite-user") });
      toast(`${reply.user} is now a member of #${room.name}`);
    },
  });
}

function newDmDialog() {
  dialog({
    title: "New direct message",
    ok: "Open",
    fields: field("dm-user", "To (user name)", { required: true, maxlength: 32 }),
    submit: async () => {
      const user = value("dm-user");
      if (!/^[A-Za-z0-9_.-]{1,32}$/.test(user)) throw new Error("That is not a user name.");
      const known = state.contacts.find((c) => sameUser(c, user));
      openDm(known || user);
    },
  });
}

function addContactDialog() {
  dialog({
    title: "Add a contact",
    ok: "Add",
    fields: [
      ...field("contact-user", "User name", { required: true, maxlength: 32 }),
      h("small", { class: "hint" }, "You will see when they are online."),
    ],
    submit: async () => {
      const reply = await state.conn.request("add_contact", { user: value("contact-user") });
      if (!state.contacts.some((c) => sameUser(c, reply.user))) state.contacts.push(reply.user);
      setPresence(reply.user, reply.status);
      render();
    },
  });
}

async function removeContact(user) {
  try {
    await state.conn.request("remove_contact", { user });
    state.contacts = state.contacts.filter((c) => !sameUser(c, user));
    render();
  } catch (error) {
    toast(error.message);
  }
}

async function leaveCurrent() {
  const room = state.rooms.get(state.current);
  if (!room || room.kind === "dm") return;
  try {
    await state.conn.request("leave", { room: room.name });
    state.rooms.delete(room.name);
    state.current = null;
    state.nodes.clear();
    $("message-list").replaceChildren();
    toast(`You left #${room.name}`);
    const next = sortedRooms("room")[0] || sortedRooms("dm")[0];
    if (next) selectRoom(next.name);
    render();
  } catch (error) {
    toast(`Cannot leave: ${error.message}`);
  }
}

// -- small things ---------------------------------------------------------------------------

function toast(text) {
  const item = h("div", { class: "toast" }, text);
  $("toasts").append(item);
  setTimeout(() => item.remove(), 5000);
}

function autosize() {
  const box = $("composer-text");
  box.classList.toggle("multiline", box.value.includes("\n") || box.scrollHeight > 48);
  box.rows = Math.min(8, Math.max(1, box.value.split("\n").length));
}

/** Whether the member list is a column of its own (else a drawer); matches style.css. */
function wideLayout() {
  return matchMedia("(min-width: 1100px)").matches;
}

function closeDrawers() {
  $("app").classList.remove("nav-open", "members-open");
  $("open-sidebar").setAttribute("aria-expanded", "false");
  $("toggle-members").setAttribute("aria-expanded",
    String(wideLayout() && !$("app").classList.contains("members-hidden")));
  $("scrim").hidden = true;
}

function moveRoom(step) {
  const order = [...sortedRooms("room"), ...sortedRooms("dm")].map((room) => room.name);
  if (!order.length) return;
  const index = order.indexOf(state.current);
  const next = order[(index + step + order.length) % order.length];
  selectRoom(next);
}

function guard(action) {
  return () => {
    if (!state.conn || !state.conn.isOnline) {
      toast("Not connected right now; try again in a moment.");
      return;
    }
    action();
  };
}

function bindChat() {
  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    sendMessage();
  });
  $("composer-text").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      sendMessage();
    }
  });
  $("composer-text").addEventListener("input", () => {
    autosize();
    if ($("composer-text").value.trim()) sendTyping();
  });
  $("messages").addEventListener("scroll", () => {
    const scroller = $("messages");
    if (scroller.scrollTop < LOAD_OLDER_PX) loadOlder();
    if (scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < AT_BOTTOM_PX) {
      $("jump").hidden = true;
    }
  });
  $("jump").addEventListener("click", () => {
    $("messages").scrollTop = $("messages").scrollHeight;
    $("jump").hidden = true;
    $("composer-text").focus();
  });
  $("banner-retry").addEventListener("click", () => state.conn && state.conn.retryNow());
  window.addEventListener("online", () => state.conn && state.conn.retryNow());
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") {
      // Messages that arrived while the tab was hidden are read once seen: re-observe them.
      for (const node of state.nodes.values()) {
        if (node.dataset.seq) {
          seen.unobserve(node);
          seen.observe(node);
        }
      }
    }
  });
  $("logout").addEventListener("click", () => leaveChat("", { revoke: true }));
  $("create-room").addEventListener("click", guard(createRoomDialog));
  $("browse-rooms").addEventListener("click", guard(browseRoomsDialog));
  $("new-dm").addEventListener("click", guard(newDmDialog));
  $("add-contact").addEventListener("click", guard(addContactDialog));
  $("invite").addEventListener("click", guard(inviteDialog));
  $("leave").addEventListener("click", guard(leaveCurrent));
  $("open-sidebar").addEventListener("click", () => {
    const open = !$("app").classList.contains("nav-open");
    closeDrawers();
    if (open) {
      $("app").classList.add("nav-open");
      $("open-sidebar").setAttribute("aria-expanded", "true");
      $("scrim").hidden = false;
      const current = $("sidebar").querySelector(".side-item.current")
        || $("sidebar").querySelector(".side-item") || $("browse-rooms");
      current.focus();
    }
  });
  $("toggle-members").addEventListener("click", () => {
    if (wideLayout()) {
      const hidden = $("app").classList.toggle("members-hidden");
      $("toggle-members").setAttribute("aria-expanded", String(!hidden));
      return;
    }
    const open = !$("app").classList.contains("members-open");
    closeDrawers();
    if (open) {
      $("app").classList.add("members-open");
      $("toggle-members").setAttribute("aria-expanded", "true");
      $("scrim").hidden = false;
      $("close-members").focus();
    }
  });
  $("close-members").addEventListener("click", () => {
    if (wideLayout()) $("app").classList.add("members-hidden");
    closeDrawers();
    $("toggle-members").focus();
  });
  $("scrim").addEventListener("click", closeDrawers);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !$("dialog").open) {
      if ($("app").classList.contains("nav-open")) {
        closeDrawers();
        $("open-sidebar").focus();
      } else if ($("app").classList.contains("members-open")) {
        closeDrawers();
        $("toggle-members").focus();
      }
    } else if (event.altKey && (event.key === "ArrowUp" || event.key === "ArrowDown")) {
      if (!state.me) return;
      event.preventDefault();
      moveRoom(event.key === "ArrowUp" ? -1 : 1);
    }
  });
  $("dialog-cancel").addEventListener("click", () => $("dialog").close());
  $("dialog-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const ok = $("dialog-ok");
    ok.disabled = true;
    $("dialog-error").textContent = "";
    try {
      if (!state.conn || !state.conn.isOnline) throw new Error("Not connected right now.");
      await dialog.submit();
      $("dialog").close();
    } catch (error) {
      $("dialog-error").textContent = error.message;
    } finally {
      ok.disabled = false;
    }
  });
  setInterval(() => {
    // Typing indicators expire without an event.
    const room = state.rooms.get(state.current);
    if (room && room.typing.size) render();
  }, 1000);
}

start();

// chatd's minimal web client: log in over HTTP, then speak the NDJSON protocol over /ws.
//
// Everything a user typed reaches the page through textContent, never innerHTML: a message is
// data, not markup. The page's CSP forbids inline scripts and styles, so there are none.

const TOKEN_KEY = "chatd.token";
const RECONNECT_MIN_MS = 1000;
const RECONNECT_MAX_MS = 30000;

const $ = (id) => document.getElementById(id);

const state = {
  token: localStorage.getItem(TOKEN_KEY),
  user: null,
  ws: null,
  nextId: 1,
  pending: new Map(), // request id -> {resolve, reject}
  rooms: new Map(), // room name -> {info, messages: Map(seq -> message), oldest, more}
  current: null,
  pingTimer: null,
  reconnectDelay: RECONNECT_MIN_MS,
  reconnectTimer: null,
  unsent: new Map(), // nonce -> list item of a message not yet echoed back
};

// -- HTTP -----------------------------------------------------------------------------------

async function api(method, path, body) {
  const headers = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error(data.message || `HTTP ${response.status}`);
    error.code = data.code;
    throw error;
  }
  return data;
}

function credentials(form) {
  const data = new FormData(form);
  return { username: String(data.get("username")), password: String(data.get("password")) };
}

async function logIn(creds) {
  const { token } = await api("POST", "/api/login", creds);
  state.token = token;
  localStorage.setItem(TOKEN_KEY, token);
  showChat();
  connect();
}

$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("auth-error").textContent = "";
  try {
    await logIn(credentials(event.target));
  } catch (error) {
    $("auth-error").textContent = error.message;
  }
});

$("register-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("auth-error").textContent = "";
  const creds = credentials(event.target);
  try {
    await api("POST", "/api/register", creds);
    await logIn(creds);
  } catch (error) {
    $("auth-error").textContent = error.message;
  }
});

$("logout").addEventListener("click", async () => {
  try {
    await api("POST", "/api/logout", {});
  } catch {
    // The token may be invalid already; forgetting it is all that is left to do.
  }
  forgetSession();
});

function forgetSession() {
  state.token = null;
  localStorage.removeItem(TOKEN_KEY);
  disconnect();
  state.rooms.clear();
  state.current = null;
  state.user = null;
  $("room-list").replaceChildren();
  $("messages").replaceChildren();
  showAuth();
}

function showAuth() {
  $("auth-view").hidden = false;
  $("chat-view").hidden = true;
  $("logout").hidden = true;
  $("whoami").textContent = "";
}

function showChat() {
  $("auth-view").hidden = true;
  $("chat-view").hidden = false;
  $("logout").hidden = false;
}

// -- the socket -----------------------------------------------------------------------------

function setStatus(text) {
  $("status").textContent = text;
}

function connect() {
  disconnect();
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/ws`);
  state.ws = ws;
  setStatus("connecting");
  ws.addEventListener("open", () => hello(ws));
  ws.addEventListener("message", (event) => {
    for (const line of String(event.data).split("\n")) {
      if (!line.trim()) continue;
      let frame;
      try {
        frame = JSON.parse(line);
      } catch {
        console.warn("not JSON from the server:", line);
        continue;
      }
      handleFrame(frame);
    }
  });
  ws.addEventListener("close", () => {
    if (state.ws !== ws) return; // replaced on purpose
    state.ws = null;
    stopPing();
    failPending("connection lost");
    setStatus("offline");
    if (state.token) scheduleReconnect();
  });
}

function disconnect() {
  clearTimeout(state.reconnectTimer);
  stopPing();
  const ws = state.ws;
  state.ws = null;
  if (ws) ws.close();
  failPending("disconnected");
}

function scheduleReconnect() {
  const delay = state.reconnectDelay;
  state.reconnectDelay = Math.min(delay * 2, RECONNECT_MAX_MS);
  setStatus(`offline, retrying in ${Math.round(delay / 1000)} s`);
  state.reconnectTimer = setTimeout(connect, delay);
}

function stopPing() {
  clearInterval(state.pingTimer);
  state.pingTimer = null;
}

function failPending(reason) {
  for (const { reject } of state.pending.values()) reject(new Error(reason));
  state.pending.clear();
}

function request(op, fields = {}) {
  const ws = state.ws;
  if (!ws || ws.readyState !== WebSocket.OPEN) {
    return Promise.reject(new Error("not connected"));
  }
  const id = state.nextId++;
  ws.send(`${JSON.stringify({ op, id, ...fields })}\n`);
  return new Promise((resolve, reject) => state.pending.set(id, { resolve, reject }));
}

async function hello(ws) {
  try {
    const welcome = await request("hello", { token: state.token });
    if (state.ws !== ws) return;
    state.reconnectDelay = RECONNECT_MIN_MS;
    state.user = welcome.user;
    $("whoami").textContent = welcome.user.name;
    setStatus("online");
    const interval = Math.max(5, Number(welcome.ping_interval) || 30) * 1000;
    state.pingTimer = setInterval(() => request("ping").catch(() => {}), interval);
    for (const info of welcome.rooms || []) roomState(info.room).info = info;
    renderRoomList();
    // Re-join every room: that subscribes this connection and fetches what was missed.
    await Promise.all([...state.rooms.keys()].map((room) => join(room, false)));
    if (!state.current && state.rooms.size) selectRoom([...state.rooms.keys()][0]);
  } catch (error) {
    if (error.code === "unauthenticated") {
      forgetSession();
      $("auth-error").textContent = "Your session has ended; please log in again.";
    } else {
      showError(error.message);
    }
  }
}

function handleFrame(frame) {
  if (frame.id !== undefined && state.pending.has(frame.id)) {
    const { resolve, reject } = state.pending.get(frame.id);
    state.pending.delete(frame.id);
    if (frame.op === "error") {
      const error = new Error(frame.message || frame.code);
      error.code = frame.code;
      reject(error);
    } else {
      resolve(frame);
    }
    return;
  }
  switch (frame.op) {
    case "message":
      addMessages(frame.room, [frame]);
      break;
    case "presence":
      if (state.current) notice(state.current, `${frame.user} is ${frame.status}`);
      break;
    case "joined":
      notice(frame.room, `${frame.user} joined`);
      break;
    case "left":
      notice(frame.room, `${frame.user} left`);
      break;
    case "error":
      showError(frame.message || frame.code);
      if (frame.code === "unauthenticated") forgetSession();
      break;
    default:
      break; // events this page does not show yet
  }
}

// -- rooms and messages ---------------------------------------------------------------------

function roomState(name) {
  let room = state.rooms.get(name);
  if (!room) {
    room = { info: { room: name }, messages: new Map(), notices: [], oldest: null, more: false };
    state.rooms.set(name, room);
  }
  return room;
}

async function join(name, select = true) {
  const reply = await request("join", { room: name });
  const room = roomState(reply.room);
  room.info.last_seq = reply.last_seq;
  room.more = reply.more;
  addMessages(reply.room, reply.messages || []);
  renderRoomList();
  if (select) selectRoom(reply.room);
}

function addMessages(name, messages) {
  const room = roomState(name);
  for (const message of messages) {
    room.messages.set(message.seq, message);
    if (room.oldest === null || message.seq < room.oldest) room.oldest = message.seq;
    const unsent = state.unsent.get(message.nonce);
    if (unsent) {
      unsent.remove();
      state.unsent.delete(message.nonce);
    }
  }
  if (name === state.current) renderMessages();
}

function notice(name, text) {
  if (!state.rooms.has(name)) return;
  const room = roomState(name);
  const seq = Math.max(0, ...room.messages.keys());
  room.notices.push({ after: seq, text });
  if (name === state.current) renderMessages();
}

function renderRoomList() {
  const list = $("room-list");
  list.replaceChildren();
  for (const name of [...state.rooms.keys()].sort()) {
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = `#${name}`;
    if (name === state.current) button.classList.add("current");
    button.addEventListener("click", () => selectRoom(name));
    item.append(button);
    list.append(item);
  }
}

function selectRoom(name) {
  state.current = name;
  const room = roomState(name);
  const topic = room.info.topic ? ` (${room.info.topic})` : "";
  $("room-title").textContent = `#${name}${topic}`;
  $("leave").hidden = false;
  renderRoomList();
  renderMessages();
  $("send-text").focus();
}

function formatTime(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function messageItem(message) {
  const item = document.createElement("li");
  item.className = "message";
  const time = document.createElement("time");
  time.dateTime = new Date(message.ts).toISOString();
  time.textContent = formatTime(message.ts);
  const from = document.createElement("span");
  from.className = "from";
  from.textContent = message.from;
  if (state.user && message.from === state.user.name) from.classList.add("me");
  const text = document.createElement("span");
  text.className = "text";
  text.textContent = message.text;
  item.append(time, " ", from, " ", text);
  return item;
}

function noticeItem(text) {
  const item = document.createElement("li");
  item.className = "notice";
  item.textContent = text;
  return item;
}

function renderMessages() {
  const list = $("messages");
  const room = state.rooms.get(state.current);
  if (!room) {
    list.replaceChildren();
    return;
  }
  const stick = list.scrollTop + list.clientHeight >= list.scrollHeight - 8;
  const items = [];
  const notices = [...room.notices];
  for (const seq of [...room.messages.keys()].sort((a, b) => a - b)) {
    while (notices.length && notices[0].after < seq) items.push(noticeItem(notices.shift().text));
    items.push(messageItem(room.messages.get(seq)));
  }
  for (const { text } of notices) items.push(noticeItem(text));
  for (const [, item] of state.unsent) {
    if (item.dataset.room === state.current) items.push(item);
  }
  list.replaceChildren(...items);
  $("older").hidden = !room.more;
  if (stick) list.scrollTop = list.scrollHeight;
}

$("join-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = event.target.elements.room;
  try {
    await join(input.value.trim().toLowerCase());
    input.value = "";
  } catch (error) {
    showError(error.message);
  }
});

$("leave").addEventListener("click", async () => {
  const name = state.current;
  if (!name) return;
  try {
    await request("leave", { room: name });
    state.rooms.delete(name);
    state.current = null;
    $("room-title").textContent = "no room";
    $("leave").hidden = true;
    $("older").hidden = true;
    renderRoomList();
    renderMessages();
  } catch (error) {
    showError(error.message);
  }
});

$("older").addEventListener("click", async () => {
  const name = state.current;
  const room = state.rooms.get(name);
  if (!room || room.oldest === null) return;
  try {
    const reply = await request("history", { room: name, before: room.oldest, limit: 50 });
    room.more = reply.more;
    addMessages(name, reply.messages || []);
  } catch (error) {
    showError(error.message);
  }
});

async function send() {
  const box = $("send-text");
  const text = box.value;
  if (!text.trim() || !state.current) return;
  const nonce = crypto.randomUUID();
  const room = state.current;
  const item = messageItem({ from: state.user ? state.user.name : "", text, ts: Date.now() });
  item.classList.add("unsent");
  item.dataset.room = room;
  state.unsent.set(nonce, item);
  box.value = "";
  renderMessages();
  try {
    await request("send", { room, text, nonce });
  } catch (error) {
    item.classList.add("failed");
    item.title = error.message;
    showError(`not sent: ${error.message}`);
  }
}

$("send-form").addEventListener("submit", (event) => {
  event.preventDefault();
  send();
});

$("send-text").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    send();
  }
});

function showError(text) {
  $("chat-error").textContent = text;
  setTimeout(() => {
    if ($("chat-error").textContent === text) $("chat-error").textContent = "";
  }, 5000);
}

// -- start ----------------------------------------------------------------------------------

if (state.token) {
  showChat();
  connect();
} else {
  showAuth();
}

// The HTTP half: register, log in, log out; the session kept in localStorage.

import { refusalText } from "./invites.js";

const SESSION_KEY = "chatd.session";

/** An API failure: `code` is the protocol's error code, `status` the HTTP status. */
export class ApiError extends Error {
  constructor(message, code, status, retryAfter) {
    super(message);
    this.code = code;
    this.status = status;
    this.retryAfter = retryAfter; // seconds, for 429/503
  }
}

async function call(method, path, body, token) {
  const headers = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
  } catch {
    throw new ApiError("The server cannot be reached. Check your connection and try again.",
      "network", 0);
  }
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const retry = Number(response.headers.get("Retry-After")) || undefined;
    throw new ApiError(data.message || `HTTP ${response.status}`, data.code || "internal",
      response.status, retry);
  }
  return data;
}

/** A sentence for a person about a failed register or log-in. */
export function explain(error, action) {
  if (!(error instanceof ApiError)) return String(error.message || error);
  switch (error.code) {
    case "conflict":
      return "That user name is taken. Pick another one, or log in if it is yours.";
    case "unauthenticated":
      return "Wrong user name or password.";
    case "rate_limited": {
      const wait = error.retryAfter ? ` Try again in ${error.retryAfter} s.` : " Wait a moment.";
      return `Too many attempts.${wait}`;
    }
    case "bad_request":
      return `${action === "register" ? "Cannot register" : "Cannot log in"}: ${error.message}`;
    case "shutting_down":
    case "unavailable":
      return "The server is busy or restarting. Try again in a few seconds.";
    default:
      // Registering by invitation (invites.js): the link's refusals, the server's mode.
      return refusalText(error.code) || error.message;
  }
}

/**
 * Make an account; with `invitation` (a link's token), one that joins the invitation's rooms:
 * the answer {user, rooms?} (docs/protocol.md, "Invitations").
 */
export async function register(username, password, invitation = null) {
  const body = { username, password };
  if (invitation !== null) body.invitation = invitation;
  return call("POST", "/api/register", body);
}

/** Who may register here (`GET /api/register`): {registration, server, …}. */
export async function registration() {
  return call("GET", "/api/register");
}

/** What an invitation link gives, before registering (`GET /api/join/{token}`). */
export async function lookAtInvitation(token) {
  return call("GET", `/api/join/${encodeURIComponent(token)}`);
}

/**
 * Ask for a password reset link for `user` (a user name or a confirmed address): the server
 * answers 202 whether or not an account matches (docs/protocol.md, "Email").
 */
export async function askPasswordReset(user) {
  return call("POST", "/api/password-reset", { user });
}

/**
 * Set a new password with a reset link's token: the answer (it may name the account), or an
 * ApiError (`bad_token` for a token expired, spent or unknown). The token goes in the body,
 * never in the path, where a proxy's access log would keep it.
 */
export async function resetPassword(token, password) {
  return call("POST", "/api/password-reset/complete", { token, password });
}

/** Log in; returns the session {token, expires_at, username} and stores it. */
export async function login(username, password) {
  const data = await call("POST", "/api/login", { username, password });
  const session = { token: data.token, expires_at: data.expires_at, username };
  localStorage.setItem(SESSION_KEY, JSON.stringify(session));
  return session;
}

/** Revoke the token on the server (best effort) and forget it here. */
export async function logout(session) {
  forgetSession();
  if (!session) return;
  try {
    await call("POST", "/api/logout", {}, session.token);
  } catch {
    // Already invalid or the server is away: forgetting it locally is what matters.
  }
}

/** The stored session, or null when there is none or it has expired. */
export function loadSession() {
  try {
    const session = JSON.parse(localStorage.getItem(SESSION_KEY) || "null");
    if (session && typeof session.token === "string" && session.expires_at > Date.now()) {
      return session;
    }
  } catch {
    // A damaged entry is no session.
  }
  forgetSession();
  return null;
}

export function forgetSession() {
  localStorage.removeItem(SESSION_KEY);
}

// -- files -------------------------------------------------------------------------------------

/**
 * Upload `blob` as `name` to `room` (`POST /api/rooms/{room}/files`, one part named `file`),
 * with an XMLHttpRequest: fetch cannot report an upload's progress. Calls
 * `onProgress(loaded, total)` as the body goes out, then `onDone(file)` with the server's file
 * object or `onFailed({status, code, message})` (status 0: no answer). Returns a function that
 * stops the upload (after which none of them is called).
 */
export function uploadFile(token, room, blob, name, { onProgress, onDone, onFailed }) {
  const xhr = new XMLHttpRequest();
  let stopped = false;
  xhr.open("POST", `/api/rooms/${encodeURIComponent(room)}/files`);
  xhr.setRequestHeader("Authorization", `Bearer ${token}`);
  xhr.responseType = "json";
  xhr.upload.addEventListener("progress", (event) => {
    if (!stopped && event.lengthComputable) onProgress(event.loaded, event.total);
  });
  xhr.addEventListener("load", () => {
    if (stopped) return;
    const body = xhr.response && typeof xhr.response === "object" ? xhr.response : {};
    if (xhr.status === 201 && body.file) onDone(body.file);
    else onFailed({ status: xhr.status, code: body.code || "", message: body.message || "" });
  });
  const lost = () => {
    if (!stopped) onFailed({ status: 0, code: "network", message: "" });
  };
  xhr.addEventListener("error", lost);
  xhr.addEventListener("timeout", lost);
  const form = new FormData();
  form.append("file", blob, name);
  xhr.send(form);
  return () => {
    stopped = true;
    xhr.abort();
  };
}

/**
 * Send the multipart `form` (a picture and its fields) to `path` at once, as `call` sends JSON:
 * the answer's JSON, or an ApiError with the server's code and message.
 */
async function sendForm(method, path, form, token) {
  let response;
  try {
    response = await fetch(path, { method, body: form,
      headers: { Authorization: `Bearer ${token}` }, cache: "no-store" });
  } catch {
    throw new ApiError("The server cannot be reached.", "network", 0);
  }
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new ApiError(data.message || `HTTP ${response.status}`, data.code || "internal",
      response.status, Number(response.headers.get("Retry-After")) || undefined);
  }
  return data;
}

/**
 * Make `blob` the user's picture (`PUT /api/me/avatar`, one part named `file`): the profile
 * as stored (with its `avatar`), or an ApiError with the server's code and message.
 */
export async function setAvatar(token, blob, name) {
  const form = new FormData();
  form.append("file", blob, name || "picture");
  return sendForm("PUT", "/api/me/avatar", form, token);
}

/** Remove the user's picture (`DELETE /api/me/avatar`): the profile as stored. */
export async function removeAvatar(token) {
  return call("DELETE", "/api/me/avatar", undefined, token);
}

/**
 * Add the custom emoji `name` with the picture `blob` (`POST /api/emoji`, parts `name` and
 * `file`): the emoji object, or an ApiError with the server's code and message.
 */
export async function addEmoji(token, name, blob) {
  const form = new FormData();
  form.append("name", name);
  form.append("file", blob, blob.name || "emoji");
  return (await sendForm("POST", "/api/emoji", form, token)).emoji;
}

/** Remove the custom emoji `name` (`DELETE /api/emoji/{name}`, 204). */
export async function removeEmoji(token, name) {
  return call("DELETE", `/api/emoji/${encodeURIComponent(name)}`, undefined, token);
}

/** Signed links to files (`POST /api/files/links`): [{id, url, thumbnail_url, expires_at}]. */
export async function fileLinks(token, ids) {
  const data = await call("POST", "/api/files/links", { ids }, token);
  return Array.isArray(data.links) ? data.links : [];
}

/** A file's bytes with the Bearer token (when no signed link is at hand), as a Blob. */
export async function fetchFile(token, url) {
  let response;
  try {
    response = await fetch(url, { headers: { Authorization: `Bearer ${token}` } });
  } catch {
    throw new ApiError("The server cannot be reached.", "network", 0);
  }
  if (!response.ok) {
    const data = await response.json().catch(() => ({}));
    throw new ApiError(data.message || `HTTP ${response.status}`, data.code || "internal",
      response.status);
  }
  return response.blob();
}

// -- Web Push ----------------------------------------------------------------------------------

/** The server's VAPID public key (base64url), or null when this server sends no pushes. */
export async function pushKey() {
  try {
    const data = await call("GET", "/api/push/key");
    return typeof data.public_key === "string" && data.public_key ? data.public_key : null;
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return null;
    throw error;
  }
}

/** Keep this browser's push subscription ({endpoint, keys: {p256dh, auth}}) for the user. */
export async function addPushSubscription(token, subscription) {
  return call("POST", "/api/push/subscriptions", subscription, token);
}

/** Forget the push subscription with this endpoint. */
export async function removePushSubscription(token, endpoint) {
  return call("DELETE", "/api/push/subscriptions", { endpoint }, token);
}

// -- administration and other Bearer calls -----------------------------------------------------

/** `method` `path` (with a JSON `body`) as the user of `token`: the answer's JSON, or an
 * ApiError with the server's code and message (the admin API, `PUT /api/rooms/…/archived`). */
export async function authed(token, method, path, body) {
  return call(method, path, body, token);
}

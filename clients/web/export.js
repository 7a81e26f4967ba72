// "Download my data" (docs/protocol.md, "Download my data"), the pure half: the dialog's
// state (`GET /api/me/export`, 404 before the first export, kept after a `POST`), what it shows
// of it, when to ask again, and a refusal in words. No DOM, no I/O, no clock: times come in.
//
// The export is made by the server in the background: while it runs, the dialog asks again
// every POLL_MS (the counts of messages and files grow); once ready it offers the download, a
// link signed by the server (its `url`), which a plain <a href> fetches without the token.
// Answers can cross: each ask has a serial, and only the last one's answer is kept.

/** Milliseconds between two asks while an export runs. */
export const POLL_MS = 1500;

const STATES = new Set(["running", "ready", "failed", "expired"]);
const count = (value) => (Number.isSafeInteger(value) && value >= 0 ? value : 0);
const time = (value) => (Number.isSafeInteger(value) && value >= 0 ? value : null);

/** An export object of the server's answer ({export: {...}}), or null when it is none. */
export function parseExport(body) {
  const raw = body && body.export;
  if (!raw || typeof raw !== "object" || !STATES.has(raw.state)) return null;
  return {
    id: count(raw.id),
    state: raw.state,
    startedAt: time(raw.started_at),
    finishedAt: time(raw.finished_at),
    expiresAt: time(raw.expires_at),
    size: time(raw.size),
    messages: count(raw.messages),
    files: count(raw.files),
    error: typeof raw.error === "string" ? raw.error : "",
    // Only a path of this server's API is followed.
    url: typeof raw.url === "string" && raw.url.startsWith("/api/me/export/download?")
      ? raw.url : null,
  };
}

/** Not asked yet. */
export function emptyExport() {
  return { export: null, loaded: false, loading: false, error: "", serial: 0 };
}

/** Ask the server again: returns the serial its answer must bring. */
export function exportAsked(held) {
  held.serial += 1;
  held.loading = true;
  held.error = "";
  return held.serial;
}

/** The answer to the ask `serial` (a 200 or 202 body; null for a 404: none yet). */
export function exportLoaded(held, serial, body) {
  if (serial !== held.serial) return false;
  held.export = body === null ? null : parseExport(body);
  held.loaded = true;
  held.loading = false;
  held.error = "";
  return true;
}

/** The ask `serial` failed (the server cannot be reached, or refused). */
export function exportFailed(held, serial, message) {
  if (serial !== held.serial) return false;
  held.loading = false;
  held.error = message || "The server did not answer.";
  return true;
}

/** Whether to ask again in POLL_MS: while an export runs. */
export function shouldPoll(held) {
  return Boolean(held.export && held.export.state === "running");
}

/** A size in words: "812 bytes", "48 KB", "3.2 MB". */
export function sizeText(bytes) {
  if (!Number.isFinite(bytes) || bytes < 0) return "";
  if (bytes < 1000) return `${bytes} bytes`;
  if (bytes < 1e6) return `${Math.round(bytes / 1000)} KB`;
  if (bytes < 1e9) return `${(bytes / 1e6).toFixed(1)} MB`;
  return `${(bytes / 1e9).toFixed(1)} GB`;
}

const plural = (n, one, many) => `${n.toLocaleString("en")} ${n === 1 ? one : many}`;

/** How long until `at` (ms), in words: "in 23 hours", "in 40 minutes", "in a minute". */
export function untilText(at, now) {
  const minutes = Math.max(1, Math.round((at - now) / 60000));
  if (minutes < 2) return "in a minute";
  if (minutes < 90) return `in ${minutes} minutes`;
  return `in ${Math.round(minutes / 60)} hours`;
}

/**
 * What the dialog shows: {kind, title, detail, canStart, startLabel, url, size}. kind is
 * "loading" (not asked yet), "error", "none", "running", "ready", "failed" or "expired".
 */
export function exportView(held, now) {
  const start = (label) => ({ canStart: true, startLabel: label });
  if (!held.loaded) {
    return held.error
      ? { kind: "error", title: "Your exports could not be read.", detail: held.error,
        ...start("Start export"), url: null }
      : { kind: "loading", title: "Looking for your exports…", detail: "", canStart: false,
        startLabel: "Start export", url: null };
  }
  const found = held.export;
  const what = "Your account, your rooms, every message of your conversations and every "
    + "message you wrote, your saved and scheduled messages, and the files you uploaded, "
    + "as a zip.";
  if (!found) {
    return { kind: "none", title: "You have not exported your data yet.", detail: what,
      ...start("Start export"), url: null };
  }
  const holds = `${plural(found.messages, "message", "messages")}, `
    + `${plural(found.files, "file", "files")}`;
  if (found.state === "running") {
    return { kind: "running", title: "Your export is being made…",
      detail: `${holds} so far. You can close this: it goes on without you.`,
      canStart: false, startLabel: "Start export", url: null };
  }
  if (found.state === "ready") {
    const size = found.size === null ? "" : ` (${sizeText(found.size)})`;
    const ends = found.expiresAt === null ? ""
      : ` It is kept for you: it expires ${untilText(found.expiresAt, now)}.`;
    return { kind: "ready", title: `Your export is ready${size}.`, detail: `${holds}.${ends}`,
      ...start("Start a new export"), url: found.url, size: found.size };
  }
  if (found.state === "failed") {
    return { kind: "failed", title: "Your last export failed.",
      detail: found.error || "Start it again.", ...start("Start export again"), url: null };
  }
  return { kind: "expired", title: "Your last export has expired.",
    detail: "Exports are kept for a day. Start a new one to download your data.",
    ...start("Start a new export"), url: null };
}

/** A refused start in words (an ApiError: {code, message, retryAfter in seconds}). */
export function startRefusal(error) {
  const code = error && error.code;
  if (code === "conflict") return "An export is being made already: wait for it.";
  if (code === "rate_limited") {
    const seconds = error.retryAfter;
    const wait = Number.isFinite(seconds) && seconds > 0
      ? ` Try again ${untilText(seconds * 1000, 0)}.`
      : " Try again later.";
    return `You have started as many exports as you may this hour.${wait}`;
  }
  return (error && error.message) || "The export could not be started.";
}

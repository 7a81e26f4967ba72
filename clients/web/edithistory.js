// A message's edit history (the protocol's `edit_history`), the logic: the word diff between
// two versions (what was added, what was removed, what stayed) and the versions as the
// "Edit history" dialog shows them, oldest first as Zulip's "Message edit history" does: the
// original ("Posted by"), then each edit ("Edited by") with the words it changed marked; while
// it is open, it follows the message: a new edit is added at the end, a deletion empties it
// (`followHistory`). The view is view-edithistory.js; controller.js asks the server and opens it.
//
// Pure: no DOM, no socket.

/** Who may read a message's edit history on this server (the welcome's `edit_history`). */
export const HISTORY_MODES = ["everyone", "moderators", "off"];

/**
 * Whether the user may open a message's edit history, so that "(edited)" is a button:
 * `mode` the welcome's `edit_history` (anything else, as from an older server: "everyone");
 * `moderator` whether they wrote the message or own or moderate its room; `admin` whether
 * they administer the server (who always may).
 */
export function historyShown(mode, moderator, admin) {
  if (admin || !HISTORY_MODES.includes(mode) || mode === "everyone") return true;
  return mode === "moderators" && Boolean(moderator);
}

/** The most words of either text diffed word by word; past it, all removed and all added. */
export const MAX_DIFF_TOKENS = 2000;

/** A text's tokens: its words and the white space between them, in order, nothing lost. */
export function tokens(text) {
  return text.match(/\s+|\S+/gu) || [];
}

/**
 * The word diff turning `before` into `after`: parts {kind: "same" | "removed" | "added",
 * text}, in order, neighbours of one kind merged, a removal before the addition that replaces
 * it. The "same" and "removed" parts spell `before`, the "same" and "added" ones `after`.
 * A longest common subsequence of the tokens (so a word moved is removed then added).
 */
export function wordDiff(before, after) {
  const a = tokens(before);
  const b = tokens(after);
  // The common start and end, taken off first: most edits change a few words in the middle.
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start += 1;
  let end = 0;
  while (end < a.length - start && end < b.length - start
    && a[a.length - 1 - end] === b[b.length - 1 - end]) end += 1;
  const parts = [];
  const push = (kind, text) => {
    if (!text) return;
    const last = parts[parts.length - 1];
    if (last && last.kind === kind) last.text += text;
    else parts.push({ kind, text });
  };
  push("same", a.slice(0, start).join(""));
  const midA = a.slice(start, a.length - end);
  const midB = b.slice(start, b.length - end);
  if (midA.length > MAX_DIFF_TOKENS || midB.length > MAX_DIFF_TOKENS) {
    push("removed", midA.join(""));
    push("added", midB.join(""));
  } else {
    for (const [kind, text] of middle(midA, midB)) push(kind, text);
  }
  push("same", a.slice(a.length - end).join(""));
  return parts;
}

/** The LCS walk of two token lists: [kind, token] pairs, removals before additions. */
function middle(a, b) {
  const n = a.length;
  const m = b.length;
  // lengths[i][j]: the LCS of a[i:] and b[j:], one row of m + 1 per i.
  const lengths = Array.from({ length: n + 1 }, () => new Uint16Array(m + 1));
  for (let i = n - 1; i >= 0; i -= 1) {
    for (let j = m - 1; j >= 0; j -= 1) {
      lengths[i][j] = a[i] === b[j] ? lengths[i + 1][j + 1] + 1
        : Math.max(lengths[i + 1][j], lengths[i][j + 1]);
    }
  }
  const out = [];
  let i = 0;
  let j = 0;
  let removed = [];
  let added = [];
  const flush = () => {
    for (const token of removed) out.push(["removed", token]);
    for (const token of added) out.push(["added", token]);
    removed = [];
    added = [];
  };
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      flush();
      out.push(["same", a[i]]);
      i += 1;
      j += 1;
    } else if (j >= m || (i < n && lengths[i + 1][j] >= lengths[i][j + 1])) {
      removed.push(a[i]);
      i += 1;
    } else {
      added.push(b[j]);
      j += 1;
    }
  }
  flush();
  return out;
}

/** `before` with the diff applied: its "same" and "added" parts (null if it is not `before`'s). */
export function applyDiff(before, parts) {
  const old = parts.filter((p) => p.kind !== "added").map((p) => p.text).join("");
  if (old !== before) return null;
  return parts.filter((p) => p.kind !== "removed").map((p) => p.text).join("");
}

/**
 * The dialog's rows from an `edit_history` answer: {rows, note}. A row: {label ("Posted by" /
 * "Edited by" / "Oldest kept version, by"), by, ts, text, parts (the diff from the row before;
 * null for the first), current (the text now: the last), gap (versions left out just before
 * it, after the first)}. `note`: says the original is not kept, when it is not.
 */
export function historyRows(answer) {
  const versions = Array.isArray(answer?.versions) ? answer.versions.filter(
    (v) => v && typeof v.text === "string") : [];
  const original = answer?.original !== false;
  const omitted = Number.isSafeInteger(answer?.omitted) && answer.omitted > 0
    ? answer.omitted : 0;
  const rows = versions.map((version, index) => ({
    label: index === 0 ? (original ? "Posted by" : "Oldest kept version, by") : "Edited by",
    by: typeof version.by === "string" ? version.by : "",
    ts: Number.isSafeInteger(version.ts) ? version.ts : null,
    text: version.text,
    parts: index === 0 ? null : wordDiff(versions[index - 1].text, version.text),
    current: index === versions.length - 1,
    gap: index === 1 ? omitted : 0,
  }));
  return {
    rows,
    note: original ? "" : "The original text is not kept: this message was edited before "
      + "the server kept the texts edits replace.",
  };
}

// -- following the message while the dialog is open -----------------------------------------
//
// The answer is read in one snapshot (docs/protocol.md `edit_history`): an edit committed
// after it comes as an `edited` entry, whose text is the newest version, and a deletion as a
// `deleted` entry, after which the message has no history to show (its words are gone from the
// server: the dialog drops them too). An entry may come before the answer does, and the
// answer may or may not have it: each version carries its entry's seq, so an edit is added
// only when it is newer than the answer's last version, whichever came first.

/**
 * The dialog open on message `msgId` of room `room`: the server's answer once it came
 * (`answer`, its versions added to as edits come), the edits that came before it (`early`),
 * and whether the message was deleted meanwhile (`gone`).
 */
export function followHistory(room, msgId) {
  return { room, msgId, answer: null, early: [], gone: false };
}

/**
 * The `edit_history` answer came: kept (a copy), with the edits that came before it added;
 * nothing once the message was deleted.
 */
export function historyAnswered(followed, answer) {
  if (followed.gone) return; // deleted meanwhile: its words are not shown
  followed.answer = { ...answer, versions: Array.isArray(answer?.versions)
    ? [...answer.versions] : [] };
  for (const entry of followed.early) addVersion(followed.answer, entry);
  followed.early = [];
}

/**
 * A frame while the dialog is open: an `edited` entry of its message adds the new version
 * (once), a `deleted` one marks the message gone; anything else changes nothing. Returns
 * whether what the dialog shows changed.
 */
export function historyFollows(followed, frame) {
  if (!frame || frame.room !== followed.room || frame.msg_id !== followed.msgId
      || followed.gone) return false;
  if (frame.op === "deleted") {
    followed.gone = true;
    followed.answer = null; // its words are gone from the server: from the dialog too
    followed.early = [];
    return true;
  }
  if (frame.op !== "edited" || typeof frame.text !== "string"
      || !Number.isSafeInteger(frame.seq)) return false;
  if (!followed.answer) {
    followed.early.push(frame);
    return false;
  }
  return addVersion(followed.answer, frame);
}

/** An `edited` entry as the newest version of `answer`, unless the answer has it already. */
function addVersion(answer, entry) {
  const last = answer.versions[answer.versions.length - 1];
  if (last && Number.isSafeInteger(last.seq) && entry.seq <= last.seq) return false;
  answer.versions.push({ text: entry.text, by: typeof entry.from === "string" ? entry.from : "",
    ts: entry.ts, seq: entry.seq });
  return true;
}

/** What the dialog says once the message was deleted while it was open. */
export const GONE_TEXT = "This message was deleted: its versions went with it.";

/** The request for message `msgId` of room `room`'s history. */
export function historyRequest(room, msgId) {
  return { op: "edit_history", room, msg_id: msgId };
}

/** What a refusal of the request says in the dialog. */
export function refusalText(error) {
  if (error?.code === "not_found") return "This message is gone: it has no history to show.";
  if (error?.code === "forbidden") return "You cannot read this room's messages.";
  if (error?.code === "disconnected") return "Not connected right now; try again in a moment.";
  return error?.message || "The history could not be read.";
}

// Notification keywords, the pure part (docs/protocol.md "Notification keywords"): words or
// phrases a person names ("deploy", "on call", their nickname) so that a message containing one
// is to them as a mention is (Slack's "My keywords", Zulip's alert words): marked, its words
// highlighted, and alerted at the room's level as a mention (alerts.js), unless it is their own.
//
// The rule is tests/keyword-cases.json's, shared with the server (chatd/keywords.py, for its
// pushes) and the terminal client, so that the three never disagree on a message: the keyword
// and the text compared lower-cased (toLowerCase, as Python's str.lower), as plain characters
// (no pattern); a match is an occurrence with no word character (a Unicode letter or digit, or
// _) right before it and none right after it, at any occurrence; a keyword is trimmed, and an
// empty one never matches (`matches`). The highlight marks every such occurrence of every
// keyword, overlapping ones joined (`ranges`); markdown.js marks them in text nodes only.
//
// The list is the person's, kept by the server (`set_keywords`; the welcome's `keywords`, the
// `keywords` event to their other devices): `list` is null while the server has not said it (a
// server without keywords says nothing, and the page offers none). A change is shown at once
// (`setList`), and the server's reply says the last word, as for the read receipts' setting
// (receipts.js): a refusal puts back the list it last gave, with its words in `problem`.
//
// The dialog (view-keywords.js) adds what is typed: Enter or a comma adds, several at once
// separated by commas (`splitTyped`, `addWords`); each chip removes its keyword
// (`removeWord`). The limits are said before the server is asked (`limitsText`,
// `addWords`' problems): how many the server takes is its welcome's `keywords_per_user`
// (`limitOf`), MAX_KEYWORDS from a server that does not say it (an older one, whose default
// it is). No DOM, no I/O: tests/web/keywords.test.mjs.

/**
 * How many keywords a person may have when the server does not say (its
 * `limits.keywords_per_user` default, which an older server's welcome does not carry).
 */
export const MAX_KEYWORDS = 50;
/** The longest keyword, in characters (code points, as the server counts). */
export const MAX_CHARS = 64;

const WORD = /[\p{L}\p{N}_]/u;
const CONTROL = /\p{Cc}/u; // what no keyword holds (the server refuses it)

/** A page's keywords: none known, not said by the server yet. */
export function emptyKeywords() {
  return {
    list: null, // as shown ([] for none), or null: not said (the server keeps none)
    confirmed: null, // as the server last said it
    pending: 0, // this page's changes on their way
    // How many the server takes, as its welcome says (`keywords_per_user`: the server's
    // `limits.keywords_per_user`); null: not said (an older server), MAX_KEYWORDS then
    // (`limitOf`). A list past a limit set lower on such a server is refused by the server,
    // in words.
    max: null,
    problem: "", // why the last change was refused, in words, until the next one
  };
}

/** A keyword as compared and stored: trimmed ("" for anything that is not a string). */
export function clean(keyword) {
  return typeof keyword === "string" ? keyword.trim() : "";
}

/** The characters of a keyword as the server counts them (code points). */
export function charCount(keyword) {
  return [...keyword].length;
}

/**
 * A list as the server would store it, from what a frame says: its strings trimmed, empty ones
 * dropped, duplicates (ignoring case) folded into the first, order kept; null when `value` is
 * not a list.
 */
export function listOf(value) {
  if (!Array.isArray(value)) return null;
  const out = [];
  for (const item of value) {
    const word = clean(item);
    if (word && !has(out, word)) out.push(word);
  }
  return out;
}

/** Whether `list` holds `word`, ignoring case. */
export function has(list, word) {
  const lower = clean(word).toLowerCase();
  return list.some((item) => item.toLowerCase() === lower);
}

// -- the rule ----------------------------------------------------------------------------------

/** Whether the code point ending just before `at` in `text` is a word character. */
function wordBefore(text, at) {
  if (at <= 0) return false;
  const low = text.charCodeAt(at - 1);
  const start = low >= 0xdc00 && low <= 0xdfff && at >= 2 ? at - 2 : at - 1;
  return WORD.test(String.fromCodePoint(text.codePointAt(start)));
}

/** Whether the code point starting at `at` in `text` is a word character. */
function wordAfter(text, at) {
  if (at >= text.length) return false;
  return WORD.test(String.fromCodePoint(text.codePointAt(at)));
}

/** The starts of `needle`'s occurrences in `haystack` that stand alone (both lower-cased). */
function* starts(haystack, needle) {
  if (!needle) return;
  let at = haystack.indexOf(needle);
  while (at >= 0) {
    if (!wordBefore(haystack, at) && !wordAfter(haystack, at + needle.length)) yield at;
    at = haystack.indexOf(needle, at + 1);
  }
}

/** Whether `keyword` matches `text` by the rule (see the top of the file). */
export function matches(keyword, text) {
  const word = clean(keyword).toLowerCase();
  if (!word || typeof text !== "string") return false;
  return !starts(text.toLowerCase(), word).next().done;
}

/** The keywords of `keywords` that match `text`, in their order. */
export function matched(keywords, text) {
  if (!Array.isArray(keywords) || !keywords.length || typeof text !== "string" || !text) return [];
  const lower = text.toLowerCase();
  return keywords.filter((keyword) => {
    const word = clean(keyword).toLowerCase();
    return Boolean(word) && !starts(lower, word).next().done;
  });
}

/**
 * The text lower-cased, with where each of its code units came from in `text`: lower-casing may
 * lengthen a character ("İ" is two code units lower-cased), so a match found in the lower-cased
 * text is marked where its characters are in the text.
 */
function lowered(text) {
  const lower = text.toLowerCase();
  if (lower.length === text.length) return { lower, starts: null, ends: null };
  let out = "";
  const startOf = []; // code unit of the lower-cased text -> where its character starts in text
  const endOf = []; // ... and where it ends
  let at = 0;
  for (const char of text) {
    const low = char.toLowerCase();
    for (let i = 0; i < low.length; i += 1) {
      startOf.push(at);
      endOf.push(at + char.length);
    }
    out += low;
    at += char.length;
  }
  return { lower: out, starts: startOf, ends: endOf };
}

/**
 * Where `keywords` match in `text`: [start, end) pairs of UTF-16 offsets into `text`, in order,
 * every occurrence of every keyword, overlapping or touching ones joined into one.
 */
export function ranges(keywords, text) {
  if (!Array.isArray(keywords) || !keywords.length || typeof text !== "string" || !text) return [];
  const lower = lowered(text);
  const found = [];
  for (const keyword of keywords) {
    const word = clean(keyword).toLowerCase();
    for (const start of starts(lower.lower, word)) {
      const end = start + word.length;
      found.push(lower.starts ? [lower.starts[start], lower.ends[end - 1]] : [start, end]);
    }
  }
  found.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const joined = [];
  for (const [start, end] of found) {
    const last = joined[joined.length - 1];
    if (last && start <= last[1]) last[1] = Math.max(last[1], end);
    else joined.push([start, end]);
  }
  return joined;
}

/**
 * The person's keywords that make `message` theirs to hear of: those its text matches, unless
 * it is deleted or the person's own (`own`); [] when none.
 */
export function hits(keywords, message, own) {
  if (!keywords || !Array.isArray(keywords.list) || !keywords.list.length || own || !message
      || message.deleted) return [];
  const text = typeof message.text === "string" ? message.text : "";
  if (!text) return [];
  // (Asked of every message drawn on every render: kept per message object and list.)
  const held = memo.get(message);
  if (held && held.list === keywords.list) return held.hits;
  const found = matched(keywords.list, text);
  memo.set(message, { list: keywords.list, hits: found });
  return found;
}

const memo = new WeakMap(); // message object -> {list, hits}

// -- the list, as the server keeps it ------------------------------------------------------------

/**
 * What a welcome says: its `keywords` (or its user object's), or null when it says none; and
 * how many the server takes (`keywords_per_user`, top level), kept in `max` when it says.
 */
export function welcomed(keywords, frame) {
  const said = frame ? listOf(frame.keywords ?? (frame.user ? frame.user.keywords : undefined))
    : null;
  const max = frame ? frame.keywords_per_user : undefined;
  if (Number.isSafeInteger(max) && max >= 0) keywords.max = max;
  confirm(keywords, said);
  return said;
}

/** How many keywords the server takes: its welcome's word, else MAX_KEYWORDS. */
export function limitOf(keywords) {
  return keywords && Number.isSafeInteger(keywords.max) ? keywords.max : MAX_KEYWORDS;
}

/** The server's word on the list: shown, unless a change of this page's is on its way. */
export function confirm(keywords, list) {
  if (list === null) return;
  keywords.confirmed = list;
  if (!keywords.pending) keywords.list = list;
}

/** Show `list` at once, before the server answers. Returns whether to ask (it changed). */
export function setList(keywords, list) {
  if (keywords.list === null || same(keywords.list, list)) return false;
  keywords.list = list;
  keywords.pending += 1;
  keywords.problem = "";
  return true;
}

/** The server answered a change: its list, or null for a refusal (`problem`: why, in words). */
export function answered(keywords, list, problem = "") {
  keywords.pending = Math.max(0, keywords.pending - 1);
  if (list !== null) keywords.confirmed = list;
  if (problem) keywords.problem = problem;
  if (!keywords.pending && keywords.confirmed !== null) keywords.list = keywords.confirmed;
}

/** Whether two lists hold the same keywords in the same order (case counts: it is shown). */
export function same(a, b) {
  return Array.isArray(a) && Array.isArray(b) && a.length === b.length
    && a.every((word, i) => word === b[i]);
}

/** A refusal of `set_keywords` in words. */
export function refusalText(error) {
  const code = error && error.code;
  if (code === "disconnected") return "Your keywords were not saved: not connected right now.";
  if (code === "unknown_op") return "This server does not keep notification keywords.";
  const why = error && error.message ? String(error.message) : String(code || "refused");
  return `Your keywords were not saved: ${why}`;
}

// -- the dialog --------------------------------------------------------------------------------

/**
 * What the add field holds, read as keywords: `words` are those a comma ended (trimmed, the
 * empty ones dropped), `rest` what follows the last comma, still being typed. With `all` (Enter
 * or Done), the rest is a word too.
 */
export function splitTyped(text, { all = false } = {}) {
  const parts = String(text).split(",");
  const rest = all ? "" : parts.pop();
  return { words: parts.map(clean).filter(Boolean), rest };
}

/**
 * `list` with `words` added at its end, as the dialog adds them: {list, added, left, problem}.
 * One already in it (ignoring case, or twice in `words`) is skipped; one longer than
 * MAX_CHARS, holding a control character (a tab: the server takes none), or past `max`
 * keywords (null: MAX_KEYWORDS, what a server that does not say takes), is not added (it is
 * `left`, for the field to keep), and `problem` says why (the others are); `problem` is ""
 * when all went in.
 */
export function addWords(list, words, max = null) {
  max ??= MAX_KEYWORDS;
  const next = [...list];
  const added = [];
  const left = [];
  const problems = [];
  const skipped = [];
  for (const raw of words) {
    const word = clean(raw);
    if (!word) continue;
    if (has(next, word)) {
      skipped.push(word);
    } else if (charCount(word) > MAX_CHARS) {
      left.push(word);
      problems.push(`"${shortened(word)}" is ${charCount(word)} characters long: a keyword is at `
        + `most ${MAX_CHARS}.`);
    } else if (CONTROL.test(word)) {
      left.push(word);
      problems.push(`"${shortened(word)}" holds a tab or a line break: a keyword cannot.`);
    } else if (next.length >= max) {
      left.push(word);
      problems.push(`"${shortened(word)}" was not added: you have ${max} keywords, the most there `
        + "can be. Remove one first.");
    } else {
      next.push(word);
      added.push(word);
    }
  }
  if (!problems.length && skipped.length && !added.length) {
    problems.push(skipped.length === 1 ? `"${shortened(skipped[0])}" is one of your keywords already.`
      : "Those are your keywords already.");
  }
  return { list: next, added, left, problem: problems.join(" ") };
}

/** `list` without `word` (ignoring case). */
export function removeWord(list, word) {
  const lower = clean(word).toLowerCase();
  return list.filter((item) => item.toLowerCase() !== lower);
}

/** The limits and the rule, as the dialog says them (`max` null: the usual limit). */
export function limitsText(max = null) {
  max ??= MAX_KEYWORDS;
  return `Up to ${max} keywords, each up to ${MAX_CHARS} characters. A message with one of them `
    + "as a whole word or phrase (any case) notifies you as a mention does, at each room's "
    + "notification level; your own messages do not.";
}

/** "You have 3 of 50 keywords." (`max` null: the usual limit). */
export function countText(list, max = null) {
  max ??= MAX_KEYWORDS;
  if (!list || !list.length) return "You have no keywords yet.";
  return `You have ${list.length} of ${max} ${max === 1 ? "keyword" : "keywords"}.`;
}

function shortened(word) {
  const chars = [...word];
  return chars.length > 24 ? `${chars.slice(0, 24).join("")}…` : word;
}

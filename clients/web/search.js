// Searching messages: the query, the pages of results, whether more exist, and what went wrong.
// Pure, like state.js: `state.search` is one of these objects, changed only through the
// functions here (state.js's reducers call them and turn what they give into requests).
//
// A search asks the server (`search` {query, room?, limit, before?}, docs/protocol.md) for
// messages newest first, a page at a time; the next page passes the last result's msg_id as
// `before`. One request is on its way at a time, and only the reply to the request last made
// is taken: a reply to an older query (the person typed another one meanwhile) or to a page of
// a search since replaced changes nothing. Results are kept once each, by room and msg_id.
//
// A result shows `snippet`, the matched part of its text as segments [{text, hit}]: the page
// draws each as text, the hits marked, never as HTML. A result without a usable snippet shows
// the start of its text instead (or its files). The words of the person's notification
// keywords that its text matches (keywords.js `hits`) are marked in them too, as the message
// view marks them (`markKeywords`).

import { ranges } from "./keywords.js";
import { excerpt, filesSummary } from "./select-messages.js";

/** Results per page (the server's default; at most 50). */
export const SEARCH_PAGE = 20;
/** The longest query sent (the server refuses longer ones anyway). */
export const MAX_QUERY_CHARS = 500;
const FALLBACK_CHARS = 160;

/** The query syntax, for the help next to the search box: [example, what it does]. */
export const SYNTAX = Object.freeze([
  ["deploy", "words, each the start of a word: finds “deployment”"],
  ["\"release plan\"", "a phrase, these words in this order"],
  ["from:ann", "messages by ann"],
  ["in:general", "messages in #general (in:@bob: your conversation with bob)"],
  ["after:2026-01-31", "sent after that day (before: for before it; days in UTC)"],
  ["has:file", "with files (has:image, has:link, has:poll too)"],
  ["is:mention", "that mention you (is:saved, is:pinned, is:thread too)"],
  ["-draft", "leave out messages with this word"],
]);

/** A search that has not started: status "idle". */
export function emptySearch() {
  return {
    query: "", // the query of the results shown (or being asked for)
    room: null, // only this room, or null for every room the person may read
    results: [], // message objects with `room` and `snippet`, newest first
    more: false, // older results exist: `nextPage` asks for them
    status: "idle", // "idle" | "loading" (a first page) | "paging" | "done" | "failed"
    error: "", // why the last request failed, for the person
    sent: null, // the request on its way: {query, room, before}
    searches: 0, // how many searches were started (a new one resets the list's scroll)
  };
}

/**
 * Start searching for `query` (in `room`, or everywhere): returns the request's fields, or null
 * when there is nothing to ask (an empty query clears the search).
 */
export function begin(search, query, room = null) {
  const text = typeof query === "string" ? query.trim().slice(0, MAX_QUERY_CHARS) : "";
  Object.assign(search, emptySearch(), { searches: search.searches + 1 });
  if (!text) return null;
  search.query = text;
  search.room = typeof room === "string" && room ? room : null;
  search.status = "loading";
  return ask(search, null);
}

/** The request for the next page, or null (no more, or a request is on its way). */
export function nextPage(search) {
  if (!search.more || search.sent || !search.results.length) return null;
  const last = search.results[search.results.length - 1];
  search.status = "paging";
  return ask(search, last.msg_id);
}

/** The same request again after a failure, or null. */
export function retry(search) {
  if (search.status !== "failed" || !search.query) return null;
  const last = search.results[search.results.length - 1];
  search.status = last ? "paging" : "loading";
  search.error = "";
  return ask(search, last ? last.msg_id : null);
}

function ask(search, before) {
  search.sent = { query: search.query, room: search.room, before };
  const fields = { query: search.query, limit: SEARCH_PAGE };
  if (search.room) fields.room = search.room;
  if (before !== null) fields.before = before;
  return fields;
}

/** Whether `asked` (the fields of a `search` request) is the request this search waits for. */
export function answers(search, asked) {
  const { sent } = search;
  return Boolean(sent) && asked.query === sent.query && (asked.room || null) === sent.room
    && (asked.before ?? null) === sent.before;
}

/**
 * The `ok` reply to `asked`: keep its results (once each) and whether more exist. Returns
 * whether it was taken (false for a reply to a request no longer waited for).
 */
export function received(search, asked, reply) {
  if (!answers(search, asked)) return false;
  search.sent = null;
  const seen = new Set(search.results.map(resultKey));
  for (const item of Array.isArray(reply.messages) ? reply.messages : []) {
    if (!isResult(item) || seen.has(resultKey(item))) continue;
    seen.add(resultKey(item));
    search.results.push(item);
  }
  search.more = reply.more === true && search.results.length > 0;
  search.status = "done";
  search.error = "";
  return true;
}

/** The `error` reply to `asked` ({code, message}). Returns whether it was taken. */
export function failed(search, asked, error) {
  if (!answers(search, asked)) return false;
  search.sent = null;
  search.status = "failed";
  search.error = explain(error);
  return true;
}

/** A sentence for a person about a failed search. */
export function explain(error) {
  const code = error && error.code;
  if (code === "disconnected") return "Not connected: search again once the page is back online.";
  if (code === "unknown_op") return "This server cannot search messages.";
  if (code === "rate_limited") return "Too many searches at once: wait a moment and try again.";
  const message = error && typeof error.message === "string" ? error.message : "";
  if (code === "bad_request") return `The search was not understood${message ? `: ${message}` : "."}`;
  return message ? `The search failed: ${message}` : "The search failed.";
}

/** Whether an item of a reply is a result the page can show and open. */
export function isResult(item) {
  return Boolean(item) && typeof item === "object" && typeof item.room === "string"
    && Number.isSafeInteger(item.msg_id) && Number.isSafeInteger(item.seq)
    && typeof item.from === "string";
}

function resultKey(item) {
  return `${item.room}\n${item.msg_id}`;
}

/**
 * The segments a result shows: its `snippet` ([{text, hit}], kept when well-formed), else the
 * start of its text (or its files) as one segment that is no hit.
 */
export function segments(result) {
  const snippet = Array.isArray(result.snippet) ? result.snippet : null;
  if (snippet && snippet.length && snippet.every((s) => s && typeof s.text === "string")) {
    const kept = snippet.filter((s) => s.text !== "").map((s) => ({ text: s.text, hit: s.hit === true }));
    if (kept.length) return kept;
  }
  const text = typeof result.text === "string" ? excerpt(result.text, FALLBACK_CHARS) : "";
  return [{ text: text || filesSummary(result) || "", hit: false }];
}

/**
 * `parts` (as `segments` gives them) with the words of `keywords` marked: where one stands
 * (keywords.js `ranges`, over the parts' text joined, so that a keyword a search hit cuts
 * through is marked whole), the parts are cut, and the pieces it covers are `keyword: true`
 * (each keeping its `hit`). `parts` as they are when no keyword is there.
 */
export function markKeywords(parts, keywords) {
  if (!Array.isArray(keywords) || !keywords.length) return parts;
  const text = parts.map((part) => part.text).join("");
  const found = ranges(keywords, text);
  if (!found.length) return parts;
  const out = [];
  let start = 0; // where the part starts in `text`
  for (const part of parts) {
    const end = start + part.text.length;
    let at = start;
    for (const [from, to] of found) {
      if (to <= at || from >= end) continue;
      const cut = Math.max(from, at);
      if (cut > at) out.push({ ...part, text: text.slice(at, cut) });
      at = Math.min(to, end);
      out.push({ ...part, text: text.slice(cut, at), keyword: true });
    }
    if (at < end) out.push({ ...part, text: text.slice(at, end) });
    start = end;
  }
  return out;
}

/** A line for the person about the search: "Searching…", "3 results", "No messages match…". */
export function statusText(search) {
  switch (search.status) {
    case "idle":
      return "";
    case "loading":
      return "Searching…";
    case "failed":
      return search.error;
    default: {
      const n = search.results.length;
      if (!n) return `No messages match “${search.query}”.`;
      const more = search.more ? "+" : "";
      return `${n}${more} ${n === 1 && !more ? "result" : "results"}, newest first`;
    }
  }
}

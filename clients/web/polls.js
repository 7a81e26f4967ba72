// Polls (docs/protocol.md "Polls"), as pure functions on plain objects: a poll's rules as the
// server checks them (for the page's dialog), a message's `poll` as kept, what a `voted` or
// `poll_closed` entry makes of it, and how a poll is shown with the person's own vote on its
// way. No DOM, no I/O; entries.js applies the entries by the log's rule (rev), state.js sends.
//
// A poll is a message: its text the question, its `poll` {options: [{text, votes, voters}],
// multiple, closed, closed_by?, closed_ts?}. Every vote and the closing are entries of the
// room's log, so they are applied as reactions are: a `voted` entry says the voter's whole
// choice after the change, and replaces that voter's votes (taken off every option, put on the
// chosen ones); a `poll_closed` entry closes it. Applied once each by the rev rule, in any
// order against pages of history, they end as the server has the poll.

import { MAX_TEXT_CHARS, textLength } from "./textlimit.js";

/** The server's limits (docs/protocol.md "Polls"). */
export const MIN_OPTIONS = 2;
export const MAX_OPTIONS = 10;
export const OPTION_CHARS = 100;

/**
 * What is wrong with a poll about to be sent, as the server would refuse it (a sentence), or
 * null: `question` (the text: not blank, at most `maxText` characters as any message),
 * `options` (2–10 strings, each 1–100 characters once trimmed, distinct ignoring case and
 * surrounding white space). Characters are code points, as the server counts them; case is
 * folded as far as JavaScript can (upper then lower case: "ß" is "ss", as Python's casefold).
 */
export function pollProblem({ question, options, maxText = MAX_TEXT_CHARS }) {
  if (typeof question !== "string" || !question.trim()) return "The question is empty.";
  if (textLength(question) > maxText) {
    return `The question is longer than ${maxText} characters.`;
  }
  if (!Array.isArray(options) || options.length < MIN_OPTIONS) {
    return `A poll needs at least ${MIN_OPTIONS} options.`;
  }
  if (options.length > MAX_OPTIONS) return `A poll has at most ${MAX_OPTIONS} options.`;
  const seen = new Set();
  for (const [index, option] of options.entries()) {
    if (typeof option !== "string" || !option.trim()) return `Option ${index + 1} is empty.`;
    if (textLength(option.trim()) > OPTION_CHARS) {
      return `Option ${index + 1} is longer than ${OPTION_CHARS} characters.`;
    }
    const key = option.trim().toUpperCase().toLowerCase();
    if (seen.has(key)) return `Option ${index + 1} repeats another option.`;
    seen.add(key);
  }
  return null;
}

/**
 * The `poll` field of a send, from what the dialog holds: the options trimmed, as the server
 * keeps them.
 */
export function pollField(options, multiple) {
  return { options: options.map((option) => option.trim()), multiple: multiple === true };
}

/** A new poll's `poll` as its message shows it before the server's copy comes (no votes). */
export function freshPoll(field) {
  return { options: field.options.map((text) => ({ text, votes: 0, voters: [] })),
    multiple: field.multiple === true, closed: false };
}

/**
 * A message's `poll` as kept, or undefined for anything that is not one: options with their
 * text and voters (names, each once), `votes` their count; `closed_by`/`closed_ts` when
 * closed. Returns the object itself when it is well-formed already.
 */
export function pollOf(poll) {
  if (!poll || typeof poll !== "object" || !Array.isArray(poll.options)
      || !poll.options.length) return undefined;
  const options = poll.options.filter((o) => o && typeof o.text === "string");
  if (options.length !== poll.options.length) return undefined;
  const clean = options.map((o) => {
    const voters = Array.isArray(o.voters) ? o.voters.filter((u) => typeof u === "string") : [];
    return voters.length === (o.voters || []).length && o.votes === voters.length ? o
      : { text: o.text, votes: voters.length, voters };
  });
  const same = clean.every((o, i) => o === poll.options[i]) && typeof poll.multiple === "boolean"
    && typeof poll.closed === "boolean";
  if (same) return poll;
  const kept = { options: clean, multiple: poll.multiple === true, closed: poll.closed === true };
  if (kept.closed) closedFields(kept, poll.closed_by, poll.closed_ts);
  return kept;
}

/**
 * The poll after a `voted` entry: `user`'s choice becomes exactly `indexes` (out-of-range ones
 * left out). The voter's whole choice is replaced: off every option, then last on each chosen
 * one, as the server orders voters (by the entry that set their choice, docs/protocol.md).
 */
export function withVote(poll, user, indexes) {
  const chosen = new Set(indexes.filter((i) => Number.isSafeInteger(i)));
  return { ...poll, options: poll.options.map((option, index) => {
    const kept = option.voters.filter((u) => !sameName(u, user));
    const voters = chosen.has(index) ? [...kept, user] : kept;
    const same = voters.length === option.voters.length
      && voters.every((u, at) => u === option.voters[at]);
    return same ? option : { text: option.text, votes: voters.length, voters };
  }) };
}

/** The poll after a `poll_closed` entry (by whom, when). */
export function closed(poll, by, ts) {
  return closedFields({ ...poll, closed: true }, by, ts);
}

/** The option indexes `user` has chosen in `poll`, in order. */
export function choiceOf(poll, user) {
  const chosen = [];
  poll.options.forEach((option, index) => {
    if (option.voters.some((u) => sameName(u, user))) chosen.push(index);
  });
  return chosen;
}

/**
 * How a poll is shown to `me`, with their own vote on its way (`pending`: the indexes of their
 * latest `vote` not yet in the message, or null) and the closing on its way (`closing`):
 * {options: [{index, text, votes, voters, mine, share (0–1 of the voters)}], multiple, closed,
 * closedBy, closedTs, voters (how many people voted), mine (the indexes), saving}.
 */
export function shownPoll(poll, me, { pending = null, closing = false } = {}) {
  const shown = Array.isArray(pending) ? withVote(poll, me, pending) : poll;
  const people = new Set();
  for (const option of shown.options) for (const u of option.voters) people.add(u.toLowerCase());
  const mine = choiceOf(shown, me);
  return {
    options: shown.options.map((option, index) => ({ index, text: option.text,
      votes: option.voters.length, voters: option.voters, mine: mine.includes(index),
      share: people.size ? option.voters.length / people.size : 0 })),
    multiple: poll.multiple === true,
    closed: poll.closed === true || closing,
    closedBy: typeof poll.closed_by === "string" ? poll.closed_by : null,
    closedTs: Number.isFinite(poll.closed_ts) ? poll.closed_ts : null,
    voters: people.size,
    mine,
    saving: Array.isArray(pending) || closing,
  };
}

/**
 * The choice a press on option `index` asks for, given what is shown chosen (`mine`): in a
 * single-choice poll that option alone (pressing the chosen one again takes the vote back),
 * in a multiple-choice one the set with that option toggled.
 */
export function pressed(mine, index, multiple) {
  if (!multiple) return mine.length === 1 && mine[0] === index ? [] : [index];
  return mine.includes(index) ? mine.filter((i) => i !== index)
    : [...mine, index].sort((a, b) => a - b);
}

/** "3 votes · 2 people" and the like, for a poll's footer. */
export function tally(shown) {
  const votes = shown.options.reduce((sum, option) => sum + option.votes, 0);
  const words = `${votes} ${votes === 1 ? "vote" : "votes"}`;
  return shown.multiple && shown.voters !== votes
    ? `${words} · ${shown.voters} ${shown.voters === 1 ? "person" : "people"}` : words;
}

/** The push/preview words of a poll message: "📊 Poll: question". */
export function pollSummary(message) {
  return `📊 Poll: ${message.text}`;
}

function closedFields(poll, by, ts) {
  if (typeof by === "string") poll.closed_by = by;
  if (Number.isFinite(ts)) poll.closed_ts = ts;
  return poll;
}

function sameName(a, b) {
  return typeof a === "string" && typeof b === "string" && a.toLowerCase() === b.toLowerCase();
}

// When a reminder is, as typed after `/remind` (commands.js): the terminal client's forms
// (chatd/client/when.py), read the same way, plus "tomorrow 9:00". Pure: no calendar, no clock.
//
// "in 20m", "20m", "1h30m", "2d", "1w" ("in" optional): that long from now, in seconds (s),
// minutes (m), hours (h), days (d) or weeks (w), the parts of one word added; "tomorrow": 9:00
// the next day (Slack's "Tomorrow"), "tomorrow 17:30" ("at" optional) that time the next day;
// "9:00", "17:30" ("at" optional): the next time the clock shows it, today if it is still
// ahead, else tomorrow. Days and times of day are read on the wall clock of the time zone
// given (the browser's). Anything else, nothing ahead, or more than a year ahead (what the
// server takes) is a problem: a sentence to show.

import { MAX_AHEAD_MS, MORNING_HOUR, reminderProblem, wallClock, zonedTime } from "./saved.js";

/** What the forms are, for a usage line. */
export const WHEN_USAGE = "in 20m, 1h, 1h30m, 2d, 1w, tomorrow (9:00), tomorrow 17:30 or 17:30";

const SPAN = /^(?:[0-9]{1,6}[smhdw])+$/;
const PART = /([0-9]{1,6})([smhdw])/g;
const CLOCK = /^([01]?[0-9]|2[0-3]):([0-5][0-9])$/;
const UNITS = { s: 1_000, m: 60_000, h: 3600_000, d: 86_400_000, w: 7 * 86_400_000 };

/**
 * The time (ms) `words` (the WHEN, split on spaces; any case) name at `now` (ms) in
 * `timeZone` (an IANA name): {at}, or {problem} (a sentence).
 */
export function reminderTime(words, now, timeZone) {
  const read = wordsTime(words, now, timeZone);
  if (read.at === null) return { problem: `A reminder is ${WHEN_USAGE}.` };
  if (read.span !== null && read.span <= 0) return { problem: "A reminder must be ahead." };
  if (read.span !== null && read.span > MAX_AHEAD_MS) {
    return { problem: "A reminder can be at most a year ahead." };
  }
  return read.span !== null ? { at: read.at } : checked(read.at, now);
}

/**
 * The time (ms) `words` name at `now` in `timeZone`, unchecked (what a caller allows is its
 * own: a reminder's, a scheduled message's): {at, span} with `span` the length (ms) of a
 * span's form ("in 2h") and null for a clock's ("tomorrow 9:00"); {at: null} when the words
 * are none of the forms.
 */
export function wordsTime(words, now, timeZone) {
  let rest = words.map((word) => word.toLowerCase());
  if (rest[0] === "in") rest = rest.slice(1);
  let days = 0;
  if (rest[0] === "tomorrow") {
    days = 1;
    rest = rest.slice(1);
    if (!rest.length) return { at: atClock(now, timeZone, 1, MORNING_HOUR, 0), span: null };
  }
  if (rest[0] === "at") rest = rest.slice(1);
  const clock = rest.length === 1 ? CLOCK.exec(rest[0]) : null;
  if (clock) {
    return { at: atClock(now, timeZone, days, Number(clock[1]), Number(clock[2])), span: null };
  }
  if (days || rest.length !== 1 || !SPAN.test(rest[0])) return { at: null, span: null };
  const span = spanMs(rest[0]);
  return { at: now + span, span };
}

/** How long (ms) a span such as "20m", "1h30m" or "2d" is, or null when it is none. */
export function spanMs(word) {
  if (typeof word !== "string" || !SPAN.test(word)) return null;
  let span = 0;
  for (const [, count, unit] of word.matchAll(PART)) span += Number(count) * UNITS[unit];
  return span;
}

/**
 * Split `words` (what follows `/remind`) into the WHEN and the rest: the longest start of
 * them (up to three words) that is a WHEN's form, else the first word alone (its problem is
 * then the one to show). Returns {when, rest} (arrays of words).
 */
export function splitWhen(words) {
  for (let count = Math.min(3, words.length); count > 1; count -= 1) {
    if (isForm(words.slice(0, count))) return { when: words.slice(0, count), rest: words.slice(count) };
  }
  return { when: words.slice(0, 1), rest: words.slice(1) };
}

/** Whether `words` have a WHEN's shape (whatever the time they name). */
function isForm(words) {
  let rest = words.map((word) => word.toLowerCase());
  if (rest[0] === "in") return rest.length === 2 && SPAN.test(rest[1]);
  if (rest[0] === "tomorrow") rest = rest.slice(1);
  if (rest[0] === "at") rest = rest.slice(1);
  return rest.length === 1 && CLOCK.test(rest[0]);
}

/** When the wall clock of `timeZone` shows hour:minute, `days` days after today; a time of
 * today already past is tomorrow's. */
function atClock(now, timeZone, days, hour, minute) {
  const today = wallClock(now, timeZone);
  const on = (ahead) => {
    const day = new Date(Date.UTC(today.year, today.month - 1, today.day + ahead));
    return zonedTime({ year: day.getUTCFullYear(), month: day.getUTCMonth() + 1,
      day: day.getUTCDate(), hour, minute }, timeZone);
  };
  const at = on(days);
  return !days && at <= now ? on(1) : at;
}

function checked(at, now) {
  const problem = reminderProblem(at, now);
  return problem ? { problem } : { at };
}

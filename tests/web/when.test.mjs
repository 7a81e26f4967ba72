// When a `/remind` is (when.js), read as the terminal client reads it (chatd/client/when.py):
// spans from now, tomorrow (9:00, or a time), a time of day (today if ahead, else tomorrow) on
// the wall clock of a time zone, and the problems: another form, nothing ahead, over a year.
// The cases both must read alike are in tests/when-cases.json; those here are the page's own.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { reminderTime, spanMs, splitWhen, WHEN_USAGE } from "../../clients/web/when.js";

// The table of cases the terminal client is tested against too (tests/client/test_when.py).
const TABLE = JSON.parse(readFileSync(new URL("../when-cases.json", import.meta.url), "utf8"));
// What each kind of problem says (the terminal says it in its own words).
const PROBLEMS = { form: /^A reminder is in 20m/, ahead: /must be ahead/, year: /at most a year/ };

test("the usage names the table's forms, word for word", () => {
  assert.equal(WHEN_USAGE, TABLE.usage);
});

test("every case of the shared table reads as the table says", () => {
  for (const c of TABLE.cases) {
    const now = Date.parse(c.now || TABLE.now);
    const words = c.text === "" ? [""] : c.text.split(" ");
    const got = reminderTime(words, now, c.zone || "UTC");
    const name = `${JSON.stringify(c.text)} ${c.zone || "UTC"} ${c.now || ""}`;
    if (c.at) assert.deepEqual(got, { at: Date.parse(c.at) }, name);
    else assert.match(got.problem || "", PROBLEMS[c.problem], name);
  }
});

test("every split of the shared table splits as the table says", () => {
  for (const c of TABLE.splits) {
    const { when, rest } = splitWhen(c.text.split(" "));
    assert.deepEqual([when.join(" "), rest.join(" ")], [c.when, c.rest], c.text);
  }
});

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const NOW = Date.UTC(2026, 11, 7, 13, 10); // Monday 7 December 2026, 13:10 UTC (14:10 Berlin)
const at = (text, zone = "UTC", now = NOW) => reminderTime(text.split(" "), now, zone);

test("spans from now, 'in' optional, the parts of a word added", () => {
  assert.deepEqual(at("in 20m"), { at: NOW + 20 * MINUTE });
  assert.deepEqual(at("20m"), { at: NOW + 20 * MINUTE });
  assert.deepEqual(at("1h30m"), { at: NOW + 90 * MINUTE });
  assert.deepEqual(at("IN 2D"), { at: NOW + 2 * DAY });
  assert.deepEqual(at("1w"), { at: NOW + 7 * DAY });
  assert.deepEqual(at("45s"), { at: NOW + 45_000 });
});

test("tomorrow is 9:00 the next day, or the time given, in the time zone", () => {
  assert.deepEqual(at("tomorrow"), { at: Date.UTC(2026, 11, 8, 9, 0) });
  assert.deepEqual(at("tomorrow", "Europe/Berlin"), { at: Date.UTC(2026, 11, 8, 8, 0) });
  assert.deepEqual(at("tomorrow 17:30"), { at: Date.UTC(2026, 11, 8, 17, 30) });
  assert.deepEqual(at("tomorrow at 7:05", "America/New_York"), { at: Date.UTC(2026, 11, 8, 12, 5) });
});

test("a time of day is today while still ahead, else tomorrow", () => {
  assert.deepEqual(at("17:30"), { at: Date.UTC(2026, 11, 7, 17, 30) });
  assert.deepEqual(at("at 9:00"), { at: Date.UTC(2026, 11, 8, 9, 0) });
  assert.deepEqual(at("13:10"), { at: Date.UTC(2026, 11, 8, 13, 10) }); // now is not ahead
  assert.deepEqual(at("14:30", "Europe/Berlin"), { at: Date.UTC(2026, 11, 7, 13, 30) });
  // The last day of a year: tomorrow is in the next one.
  const eve = Date.UTC(2026, 11, 31, 23, 0);
  assert.deepEqual(at("9:00", "UTC", eve), { at: Date.UTC(2027, 0, 1, 9, 0) });
});

test("anything else, nothing ahead, or over a year ahead is a problem", () => {
  for (const text of ["soon", "in", "tomorrow tomorrow", "25:00", "9:60", "1h 30m", "20x",
    "in in 20m", "tomorrow 20m", "9", "", "1234567m"]) {
    assert.match(at(text).problem, /^A reminder is in 20m/, text);
  }
  assert.match(at("0m").problem, /must be ahead/);
  assert.match(at("53w").problem, /at most a year/);
  assert.deepEqual(at("52w"), { at: NOW + 52 * 7 * DAY });
});

test("splitWhen takes the longest start that is a WHEN, else the first word", () => {
  const split = (text) => {
    const { when, rest } = splitWhen(text.split(" "));
    return [when.join(" "), rest.join(" ")];
  };
  assert.deepEqual(split("in 20m call bob"), ["in 20m", "call bob"]);
  assert.deepEqual(split("tomorrow at 9:00 standup"), ["tomorrow at 9:00", "standup"]);
  assert.deepEqual(split("tomorrow 9:00 standup"), ["tomorrow 9:00", "standup"]);
  assert.deepEqual(split("tomorrow call the bank"), ["tomorrow", "call the bank"]);
  assert.deepEqual(split("17:30 tea"), ["17:30", "tea"]);
  assert.deepEqual(split("at 17:30"), ["at 17:30", ""]);
  assert.deepEqual(split("soon tea"), ["soon", "tea"]);
});

test("spanMs reads a span, and nothing else", () => {
  assert.equal(spanMs("1h30m"), 90 * MINUTE);
  assert.equal(spanMs("off"), null);
  assert.equal(spanMs("1h 2m"), null);
  assert.equal(spanMs(undefined), null);
});

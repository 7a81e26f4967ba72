// Display names and custom statuses (profiles.js, through state.js): the cache learns from the
// welcome, `who`, contacts, `profile` events and `profiles` answers; names shown and not known
// are asked for in batches of at most 100, once, a moment later; a status is gone at its
// `until` by the server's clock; names and ends read as the page shows them; the dialog's
// body; @-completion by display name.

import assert from "node:assert/strict";
import { test } from "node:test";

import {
  avatarOf, BATCH, clearAfter, pictureProblem, readAvatar, endOfDay, endOfWeek, isOneEmoji, lacking, mentionMatches, nameProblem,
  namesOnScreen, profileChange, profileOf, shownStatus, shownUser, statusProblem, statusWords,
  untilText,
} from "../../clients/web/profiles.js";
import { typingText } from "../../clients/web/select.js";
import { mentionSuggestions } from "../../clients/web/select-messages.js";
import {
  actions, apply, askProfiles, connectionChanged, selectRoom, wantProfiles,
} from "../../clients/web/state.js";
import { connected, generator, message, requests, roomInfo, welcome } from "./fixtures.mjs";

const NOW = 1_700_000_000_000;
const MEETING = { emoji: "📅", text: "In a meeting", until: NOW + 3600_000 };

/** The timers among effects, as {key, later, action}. */
function timers(effects) {
  return effects.filter((e) => e.later !== undefined)
    .map(({ key, later, action }) => ({ key, later, action }));
}

test("the welcome tells one's own profile; who and contacts pages tell theirs", () => {
  const state = connected([roomInfo("general")]).state;
  apply(state, { ...welcome([roomInfo("general")], { contacts: [{ user: "Carol",
    status: "online" }] }), contacts_more: true,
  user: { id: 1, name: "ann", display_name: " Ann Lee ", custom_status: MEETING } },
  { now: NOW });
  assert.deepEqual(shownUser(state.profiles, "ann", NOW),
    { user: "ann", name: "Ann Lee", login: "ann", status: MEETING, avatar: null });
  // The welcome's contacts come without profiles: shown, so asked for.
  assert.ok(namesOnScreen(state).includes("Carol"));
  assert.equal(lacking(state.profiles, ["Carol"]), true);
  const page = { op: "contacts", after: "Carol" };
  apply(state, { op: "ok", id: 2, contacts: [{ user: "dan", status: "online",
    display_name: "Dan Park" }, { user: "erin", status: "offline" }], more: false },
  { request: page, now: NOW });
  assert.equal(shownUser(state.profiles, "dan", NOW).name, "Dan Park");
  assert.equal(lacking(state.profiles, ["dan", "erin"]), false, "a page's entries are known");
  const who = { op: "who", room: "general" };
  apply(state, { op: "ok", id: 2, room: "general", members: [
    { user: "Bob", status: "online", display_name: "Bob Stone",
      custom_status: { emoji: "🌴", text: "On holiday", until: null } },
    { user: "dave", status: "offline" }] }, { request: who, now: NOW });
  assert.deepEqual(shownUser(state.profiles, "bob", NOW),
    { user: "bob", name: "Bob Stone", login: "bob",
      status: { emoji: "🌴", text: "On holiday", until: null }, avatar: null });
  // Known without a profile: shown by the user name, and not asked for.
  assert.deepEqual(shownUser(state.profiles, "dave", NOW),
    { user: "dave", name: "dave", login: null, status: null, avatar: null });
  assert.equal(lacking(state.profiles, ["dave", "Bob", "ann"]), false);
});

test("a profile event changes a name or a status, here and in every view's data", () => {
  const { state } = connected([]);
  apply(state, { op: "profile", user: "Bob", display_name: "Bob Stone",
    custom_status: { emoji: "🚌", text: "Commuting", until: NOW + 60_000 } }, { now: NOW });
  assert.equal(shownUser(state.profiles, "Bob", NOW).status.text, "Commuting");
  apply(state, { op: "profile", user: "bob", display_name: null, custom_status: null },
    { now: NOW });
  assert.deepEqual(shownUser(state.profiles, "Bob", NOW),
    { user: "Bob", name: "Bob", login: null, status: null, avatar: null });
});

test("names shown and not known are asked for once, together, a moment later", () => {
  const { state } = connected([roomInfo("general", { lastSeq: 3 }),
    roomInfo("@ann:bob", { peer: "Bob" }), roomInfo("@ann:zed", { peer: "zed" })]);
  apply(state, { op: "ok", id: 3, room: "general", messages: [message("general", 1, "carol"),
    message("general", 2, "Carol"), message("general", 3, "eve", "x",
      { quote: { from: "mallory", text: "y" } })] },
  { request: { op: "history", room: "general", limit: 50 } });
  const names = namesOnScreen(state);
  assert.deepEqual(new Set(names.map((n) => n.toLowerCase())),
    new Set(["bob", "zed", "carol", "eve", "mallory"]));
  const effects = wantProfiles(state, names);
  assert.deepEqual(timers(effects), [{ key: "profiles", later: 80, action: "askProfiles" }]);
  assert.deepEqual(wantProfiles(state, names), [], "wanted already: no second timer");
  const [ask] = requests(actions.askProfiles(state));
  assert.equal(ask.op, "profiles");
  assert.deepEqual(new Set(ask.users), new Set(["bob", "zed", "carol", "eve", "mallory"]));
  assert.deepEqual(wantProfiles(state, names), [], "on their way: not asked again");
  // The answer: zed is no user's name (left out); the others are known now.
  apply(state, { op: "ok", id: 4, profiles: [
    { user: "Bob", display_name: "Bob Stone" }, { user: "carol" }, { user: "eve" },
    { user: "mallory", custom_status: { emoji: "🤒", text: "Out sick", until: NOW + 5 } },
  ] }, { request: ask, now: NOW });
  assert.equal(shownUser(state.profiles, "bob", NOW).name, "Bob Stone");
  assert.equal(lacking(state.profiles, names), false, "zed is not asked for again");
  assert.deepEqual(askProfiles(state), []);
});

test("at most 100 names a request", () => {
  const { state } = connected([]);
  const names = Array.from({ length: 2 * BATCH + 5 }, (_, i) => `user${i}`);
  wantProfiles(state, names);
  const asks = requests(askProfiles(state));
  assert.deepEqual(asks.map((r) => r.users.length), [BATCH, BATCH, 5]);
  assert.equal(new Set(asks.flatMap((r) => r.users)).size, names.length);
});

test("a lost connection asks again after the welcome; a server without profiles is not asked again", () => {
  const { state } = connected([]);
  wantProfiles(state, ["bob", "carol"]);
  const [ask] = requests(askProfiles(state));
  connectionChanged(state, "waiting");
  apply(state, { op: "error", id: null, code: "disconnected", message: "not connected" },
    { request: ask });
  assert.deepEqual(askProfiles(state), [], "not while offline");
  connectionChanged(state, "online");
  const effects = apply(state, welcome([]), { now: NOW });
  assert.deepEqual(timers(effects), [{ key: "profiles", later: 80, action: "askProfiles" }]);
  const [again] = requests(askProfiles(state));
  assert.deepEqual(new Set(again.users), new Set(["bob", "carol"]));
  apply(state, { op: "error", id: 7, code: "unknown_op", message: "unknown op" },
    { request: again });
  assert.deepEqual(wantProfiles(state, ["bob", "carol"]), []);
});

test("what was known before a welcome is shown still, and asked for again once shown", () => {
  const { state } = connected([]);
  apply(state, { op: "profile", user: "bob", display_name: "Bob Stone" });
  assert.equal(lacking(state.profiles, ["bob"]), false);
  apply(state, welcome([]), { now: NOW });
  assert.equal(shownUser(state.profiles, "bob", NOW).name, "Bob Stone", "still shown");
  assert.equal(lacking(state.profiles, ["bob"]), true, "stale: asked for when shown");
  apply(state, { op: "profile", user: "bob", display_name: "Robert" });
  assert.equal(lacking(state.profiles, ["bob"]), false);
});

test("a status is gone at its until, by the server's clock, and a timer draws it then", () => {
  const { state } = connected([]);
  const effects = apply(state, { op: "profile", user: "bob", display_name: null,
    custom_status: MEETING }, { now: NOW });
  assert.deepEqual(timers(effects), [{ key: `status@${MEETING.until}`, later: 3600_000,
    action: "statusesEnded" }]);
  const entry = profileOf(state.profiles, "bob");
  assert.deepEqual(shownStatus(entry, MEETING.until - 1), MEETING);
  assert.equal(shownStatus(entry, MEETING.until), null, "gone at its until, whatever is held");
  // A timer early (the page's clock was set meanwhile) keeps it and waits again.
  assert.deepEqual(timers(actions.statusesEnded(state, MEETING.until - 10)),
    [{ key: `status@${MEETING.until}`, later: 10, action: "statusesEnded" }]);
  assert.deepEqual(actions.statusesEnded(state, MEETING.until), []);
  assert.equal(profileOf(state.profiles, "bob").status, null);
  // A status without an end sets no timer.
  assert.deepEqual(timers(apply(state, { op: "profile", user: "bob",
    custom_status: { emoji: "🌴", text: "", until: null } }, { now: NOW })), []);
});

test("set_profile's answer is one's own profile as stored", () => {
  const { state } = connected([]);
  const asked = { op: "set_profile", display_name: "Ann Lee" };
  apply(state, { op: "ok", id: 5, user: "ann", display_name: "Ann Lee", custom_status: null },
    { request: asked, now: NOW });
  assert.equal(shownUser(state.profiles, "ann", NOW).name, "Ann Lee");
  apply(state, { op: "ok", id: 6, profile: { user: "ann", display_name: null,
    custom_status: { emoji: "", text: "Focusing", until: null } } },
  { request: asked, now: NOW });
  assert.deepEqual(shownUser(state.profiles, "ann", NOW),
    { user: "ann", name: "ann", login: null, status: { emoji: "", text: "Focusing", until: null },
      avatar: null });
});

test("ends read in local time: today, tomorrow, within the week, later", () => {
  const at = new Date(2026, 11, 7, 9, 15).getTime(); // a Monday
  assert.equal(untilText(new Date(2026, 11, 7, 14, 30).getTime(), at), "until 14:30");
  assert.equal(untilText(new Date(2026, 11, 8, 8, 0).getTime(), at), "until tomorrow 08:00");
  assert.equal(untilText(new Date(2026, 11, 10, 17, 5).getTime(), at), "until Thu 17:05");
  assert.equal(untilText(new Date(2027, 0, 3, 12, 0).getTime(), at), "until 3 Jan");
  assert.equal(statusWords({ emoji: "📅", text: "In a meeting", until: null }, at),
    "In a meeting");
  assert.equal(statusWords({ emoji: "🌴", text: "", until: new Date(2026, 11, 7, 18, 0)
    .getTime() }, at), "🌴, until 18:00");
});

test("clear-after choices: durations by the server's clock, today, this week, a custom time", () => {
  const at = new Date(2026, 11, 9, 15, 0).getTime(); // a Wednesday
  assert.deepEqual(clearAfter("never", at), { until: null });
  assert.deepEqual(clearAfter("30m", at), { duration: 1800 });
  assert.deepEqual(clearAfter("4h", at), { duration: 4 * 3600 });
  assert.deepEqual(clearAfter("today", at), { until: new Date(2026, 11, 10).getTime() });
  assert.equal(endOfDay(at), new Date(2026, 11, 10).getTime());
  assert.deepEqual(clearAfter("week", at), { until: new Date(2026, 11, 14).getTime() });
  const sunday = new Date(2026, 11, 13, 23, 0).getTime();
  assert.equal(endOfWeek(sunday), new Date(2026, 11, 14).getTime());
  const monday = new Date(2026, 11, 14, 0, 30).getTime();
  assert.equal(endOfWeek(monday), new Date(2026, 11, 21).getTime());
  assert.deepEqual(clearAfter("custom", at, "2026-12-10T09:30"),
    { until: new Date(2026, 11, 10, 9, 30).getTime() });
  assert.equal(clearAfter("custom", at, "2026-12-09T14:00"), null, "in the past");
  assert.equal(clearAfter("custom", at, "2027-02-01T09:00"), null, "past 30 days");
  assert.equal(clearAfter("custom", at, "soon"), null);
  assert.equal(clearAfter("fortnight", at), null);
});

test("what the server would refuse is said before asking", () => {
  assert.equal(nameProblem("  Ann Lee "), "");
  assert.match(nameProblem("x".repeat(65)), /at most 64/);
  assert.equal(nameProblem("é".repeat(64)), "");
  assert.match(nameProblem("Ann\nLee"), /line breaks/);
  assert.match(nameProblem("Ann\u202eLee"), /invisible/);
  assert.ok(isOneEmoji("📅") && isOneEmoji("🏳️‍🌈") && isOneEmoji("👍🏽") && isOneEmoji("🇫🇷"));
  assert.ok(!isOneEmoji("📅📅") && !isOneEmoji("a") && !isOneEmoji(""));
  assert.equal(statusProblem("", "x".repeat(100)), "");
  assert.match(statusProblem("", "x".repeat(101)), /at most 100/);
  assert.match(statusProblem("ab", "x"), /one emoji/);
});

test("the dialog asks only for what changed", () => {
  const at = NOW;
  const none = null;
  const form = (over) => ({ name: "", emoji: "", text: "", clear: "never", custom: "", ...over });
  assert.deepEqual(profileChange(none, form({}), at), { body: {} });
  assert.deepEqual(profileChange(none, form({ name: " Ann Lee " }), at),
    { body: { display_name: "Ann Lee" } });
  assert.deepEqual(profileChange(none, form({ emoji: "📅", text: "In a meeting", clear: "1h" }),
    at), { body: { custom_status: { emoji: "📅", text: "In a meeting", duration: 3600 } } });
  const entry = { user: "ann", name: "Ann Lee", status: MEETING, deactivated: false };
  assert.deepEqual(profileChange(entry, form({ name: "Ann Lee", emoji: "📅",
    text: "In a meeting", clear: "keep" }), at), { body: {} });
  assert.deepEqual(profileChange(entry, form({ name: "", emoji: "📅", text: "Meeting",
    clear: "keep" }), at), { body: { display_name: null,
    custom_status: { emoji: "📅", text: "Meeting", until: MEETING.until } } });
  assert.deepEqual(profileChange(entry, form({ name: "Ann Lee" }), at),
    { body: { custom_status: null } }, "emptied: cleared");
  assert.deepEqual(profileChange(entry, form({ name: "Ann Lee", emoji: "📅",
    text: "In a meeting", clear: "never" }), at), { body: { custom_status:
    { emoji: "📅", text: "In a meeting", until: null } } });
  assert.match(profileChange(entry, form({ name: "Ann Lee", text: "x", clear: "custom",
    custom: "" }), at).problem, /when the status clears/);
  assert.match(profileChange(entry, form({ name: "A\u0007" }), at).problem, /line breaks/);
});

test("@-completion finds display names by any word, and still offers the user name", () => {
  const { state } = connected([roomInfo("general")]);
  selectRoom(state, "general");
  apply(state, { op: "ok", id: 2, room: "general", members: [
    { user: "ann", status: "online" },
    { user: "bob", status: "online", display_name: "Bob Stone" },
    { user: "zoe", status: "online", display_name: "Zoë Ångström" },
    { user: "carol", status: "online" }] }, { request: { op: "who", room: "general" } });
  const room = state.rooms.get("general");
  assert.deepEqual(mentionSuggestions(state, room, "sto"), ["bob"]);
  assert.deepEqual(mentionSuggestions(state, room, "zo"), ["zoe"]);
  assert.deepEqual(mentionSuggestions(state, room, "angs"), ["zoe"]);
  assert.deepEqual(mentionSuggestions(state, room, "c"), ["carol"]);
  assert.deepEqual(mentionSuggestions(state, room, ""), ["bob", "carol", "zoe"]);
  assert.ok(mentionMatches(state.profiles, "bob", "BOB"));
  assert.ok(!mentionMatches(state.profiles, "bob", "one"));
});

test("notifications and the typing line name people by their display names", () => {
  const { state } = connected([roomInfo("general", { lastSeq: 1 }),
    roomInfo("@ann:bob", { lastSeq: 1, peer: "bob" })]);
  state.alerts = { desktop: true, sound: false, permission: "granted" };
  state.focused = false;
  apply(state, { op: "profile", user: "bob", display_name: "Bob Stone", custom_status: null });
  const told = [message("@ann:bob", 2, "bob", "lunch?"),
    message("general", 2, "bob", "@ann look", { mentions: ["ann"] })]
    .flatMap((frame) => apply(state, frame, { now: 1_000_010 }))
    .filter((effect) => effect.alert).map((effect) => effect.alert.title);
  assert.deepEqual(told, ["Bob Stone", "Bob Stone in #general"]);
  apply(state, { op: "typing", room: "general", user: "bob" }, { now: 1_000_010 });
  assert.equal(typingText(state, 1_000_011), "Bob Stone is typing…");
});

test("a refusal for a limit asks again a moment later; add_contact tells the contact's profile", () => {
  const { state } = connected([]);
  wantProfiles(state, ["bob"]);
  const [ask] = requests(askProfiles(state));
  const effects = apply(state, { op: "error", id: 3, code: "rate_limited", message: "slow down" },
    { request: ask, now: NOW });
  assert.deepEqual(timers(effects), [{ key: "profiles", later: 2000, action: "askProfiles" }]);
  assert.deepEqual(requests(actions.askProfiles(state)), [{ op: "profiles", users: ["bob"] }]);
  apply(state, { op: "ok", id: 4, user: "Carol", status: "online", display_name: "Carol King" },
    { request: { op: "add_contact", user: "carol" }, now: NOW });
  assert.equal(shownUser(state.profiles, "carol", NOW).name, "Carol King");
});

test("whatever is wanted, answered or lost, a name is never on its way twice and none is lost", () => {
  for (let seed = 1; seed <= 40; seed += 1) {
    const next = generator(seed);
    const { state } = connected([]);
    const pool = Array.from({ length: 150 }, (_, i) => (next(2) ? `User${i}` : `user${i}`));
    const wanted = new Set();
    let flying = [];
    for (let step = 0; step < 60; step += 1) {
      const move = next(5);
      if (move === 0 || move === 1) {
        const names = Array.from({ length: next(120) }, () => next.pick(pool));
        wantProfiles(state, names);
        for (const name of names) wanted.add(name.toLowerCase());
      } else if (move === 2) {
        for (const ask of requests(askProfiles(state))) {
          assert.ok(ask.users.length <= BATCH);
          for (const name of ask.users) {
            assert.ok(!flying.some((f) => f.users.includes(name)), `${name} asked twice`);
          }
          flying.push(ask);
        }
      } else if (move === 3 && flying.length) {
        const ask = flying.shift();
        apply(state, { op: "ok", id: 1, profiles: ask.users.map((user) => ({ user,
          display_name: `Name of ${user}` })) }, { request: ask, now: NOW });
      } else if (move === 4 && flying.length) {
        const ask = flying.shift();
        apply(state, { op: "error", id: 1, code: "disconnected", message: "" }, { request: ask });
      }
    }
    // Everything still on its way is answered; what is still wanted is asked and answered.
    for (let round = 0; round < 5; round += 1) {
      for (const ask of [...flying, ...requests(askProfiles(state))]) {
        apply(state, { op: "ok", id: 1, profiles: ask.users.map((user) => ({ user,
          display_name: `Name of ${user}` })) }, { request: ask, now: NOW });
      }
      flying = [];
    }
    for (const name of wanted) {
      assert.equal(shownUser(state.profiles, name, NOW).name, `Name of ${name}`, `seed ${seed}`);
    }
  }
});

const PICTURE = `/api/avatars/${"ab".repeat(32)}`;

test("a picture is learnt from every profile the server tells, and only this server's", () => {
  const state = connected([roomInfo("general")]).state;
  apply(state, { ...welcome([roomInfo("general")]),
    user: { id: 1, name: "ann", avatar: { url: PICTURE } } }, { now: NOW });
  assert.equal(avatarOf(state.profiles, "ANN"), PICTURE);
  assert.equal(shownUser(state.profiles, "ann", NOW).avatar, PICTURE);
  // who: absent is none; a profile event changes it, live, and null removes it.
  apply(state, { op: "ok", id: 2, room: "general", members: [
    { user: "bob", status: "online", avatar: { url: PICTURE } }, { user: "cy", status: "online" }] },
  { request: { op: "who", room: "general" }, now: NOW });
  assert.equal(avatarOf(state.profiles, "bob"), PICTURE);
  assert.equal(avatarOf(state.profiles, "cy"), null);
  const other = `/api/avatars/${"cd".repeat(32)}`;
  apply(state, { op: "profile", user: "Bob", display_name: null, custom_status: null,
    avatar: { url: other } }, { now: NOW });
  assert.equal(shownUser(state.profiles, "bob", NOW).avatar, other);
  apply(state, { op: "profile", user: "bob", display_name: null, custom_status: null,
    avatar: null }, { now: NOW });
  assert.equal(avatarOf(state.profiles, "bob"), null);
  assert.equal(avatarOf(state.profiles, "nobody"), null);
  // Nothing but a path of this server's pictures is ever loaded.
  for (const url of ["https://tracker.example/p.png", "/api/files/1/x.png", "javascript:1",
    `/api/avatars/${"AB".repeat(32)}`, `${PICTURE}?x=1`, `//evil.example${PICTURE}`]) {
    assert.equal(readAvatar({ url }), null, url);
  }
  assert.equal(readAvatar(null), null);
  assert.equal(readAvatar({ url: PICTURE }), PICTURE);
});

test("what may be offered as a picture", () => {
  assert.equal(pictureProblem({ type: "image/png", size: 10 }), null);
  assert.equal(pictureProblem({ type: "image/webp", size: 10 }), null);
  assert.match(pictureProblem({ type: "image/svg+xml", size: 10 }), /PNG, JPEG, GIF or WebP/);
  assert.match(pictureProblem({ type: "application/pdf", size: 10 }), /PNG/);
  assert.match(pictureProblem({ type: "image/jpeg", size: 0 }), /empty/);
  assert.match(pictureProblem(null), /PNG/);
});

// The slash commands' table (commands.js): what each plans for what follows it, in a room and
// in a conversation, the refusals said in words (nothing done, the text kept), "//" and plain
// text, the list for the completion, and the shrug as markdown.js shows it.

import assert from "node:assert/strict";
import { test } from "node:test";

import { COMMANDS, commandsFor, planCommand, remindWhom, SHRUG } from "../../clients/web/commands.js";
import { parse, plainText } from "../../clients/web/markdown.js";
import { generator } from "./fixtures.mjs";

const NOW = Date.UTC(2026, 11, 7, 13, 10);
const HOUR = 3600_000;
const ROOM = { name: "general", kind: "room", notify: null, archived: false };
const DM = { name: "@ann:bob", kind: "dm", notify: null, draft: false, hidden: null };
const context = (extra = {}) => ({ room: ROOM, now: NOW, timeZone: "UTC", maxText: 4000,
  dndUntil: null, profile: null, ...extra });
const plan = (text, extra) => planCommand(text, context(extra));

test("plain text is no command; // sends the text with one slash", () => {
  assert.equal(plan("hello"), null);
  assert.equal(plan("/"), null);
  assert.deepEqual(plan("//shrug"), { do: "send", text: "/shrug" });
});

test("/shrug adds the shrug, which markdown shows as typed", () => {
  assert.deepEqual(plan("/shrug"), { do: "send", text: SHRUG });
  assert.deepEqual(plan("/shrug so it goes"), { do: "send", text: `so it goes ${SHRUG}` });
  assert.equal(plainText(`so ${SHRUG}`), "so ¯\\_(ツ)_/¯");
  assert.doesNotMatch(JSON.stringify(parse(SHRUG)), /"em"/);
});

test("a text to send over the server's limit is refused, as the box refuses it", () => {
  assert.match(plan(`/shrug ${"x".repeat(3990)}`).problem, /too many/);
  assert.match(plan(`//${"x".repeat(10)}`, { maxText: 10 }).problem, /too many/);
  assert.equal(plan(`//${"x".repeat(9)}`, { maxText: 10 }).do, "send");
});

test("/me sends the text in italics; alone it is refused", () => {
  assert.deepEqual(plan("/me waves"), { do: "send", text: "_waves_" });
  assert.match(plan("/me   ").problem, /Write what you do/);
});

test("/topic sets the room's topic (alone: the dialog); not in a conversation, not too long", () => {
  assert.deepEqual(plan("/topic Launch on Friday"), { do: "ask", requests: [
    { op: "set_topic", fields: { room: "general", topic: "Launch on Friday" } }] });
  assert.deepEqual(plan("/topic"), { do: "dialog", name: "topic" });
  assert.match(plan("/topic x", { room: DM }).problem, /conversation has no topic/);
  assert.match(plan(`/topic ${"x".repeat(257)}`).problem, /256/);
});

test("/invite asks once per person named, each once", () => {
  assert.deepEqual(plan("/invite @bob, @Carol bob").requests.map((r) => r.fields.user),
    ["bob", "Carol"]);
  assert.match(plan("/invite").problem, /Name who to invite/);
  assert.match(plan("/invite @bo$b").problem, /not a user name/);
  assert.match(plan("/invite @bob", { room: DM }).problem, /for rooms/);
});

test("/join takes one room, # optional, its name in lower case", () => {
  assert.deepEqual(plan("/join #Design"), { do: "ask", requests: [
    { op: "join", fields: { room: "design" } }] });
  assert.deepEqual(plan("/join random").requests[0].fields, { room: "random" });
  assert.match(plan("/join").problem, /Name one room/);
  assert.match(plan("/join a b").problem, /Name one room/);
  assert.match(plan("/join #dé").problem, /No room can be called/);
});

test("/leave asks first (the dialog); a conversation is closed instead", () => {
  assert.deepEqual(plan("/leave"), { do: "dialog", name: "leave" });
  assert.match(plan("/leave", { room: DM }).problem, /\/close/);
  assert.match(plan("/leave #other").problem, /open the room/);
});

test("/dm opens the conversation with the people named, and sends the rest as typed", () => {
  assert.deepEqual(plan("/dm @bob"), { do: "dm", users: ["bob"], text: "" });
  assert.deepEqual(plan("/dm @bob @carol  hi  there\nline two"),
    { do: "dm", users: ["bob", "carol"], text: "hi  there\nline two" });
  assert.deepEqual(plan("/dm @bob @carol and @dave").users, ["bob", "carol"]);
  assert.match(plan("/dm bob hi").problem, /Name who to write to/);
  assert.match(plan(`/dm ${Array.from({ length: 8 }, (_, i) => `@u${i}`).join(" ")}`).problem,
    /at most 7/);
});

test("/close closes the open conversation, not a room", () => {
  assert.deepEqual(plan("/close", { room: DM }), { do: "close", room: "@ann:bob" });
  assert.match(plan("/close").problem, /Only a conversation/);
  assert.match(plan("/close", { room: { ...DM, draft: true } }).problem, /cannot be closed/);
});

test("/mute and /unmute set the room's level; said when it is so already", () => {
  assert.deepEqual(plan("/mute"), { do: "notify", room: "general", level: "none" });
  assert.deepEqual(plan("/unmute", { room: { ...ROOM, notify: "none" } }),
    { do: "notify", room: "general", level: "mentions" }); // a room's usual level
  assert.deepEqual(plan("/unmute", { room: { ...DM, notify: "none" } }).level, "all");
  assert.equal(plan("/mute", { room: { ...ROOM, notify: "none" } }).do, "note");
  assert.match(plan("/mute now").problem, /nothing more/);
});

test("/dnd pauses for a span, off resumes, alone says where it stands", () => {
  assert.deepEqual(plan("/dnd 1h30m"), { do: "dnd", duration: 5400 });
  assert.deepEqual(plan("/dnd OFF"), { do: "dnd", off: true });
  assert.match(plan("/dnd").text, /Notifications are on/);
  assert.match(plan("/dnd", { dndUntil: NOW + HOUR }).text, /paused until/);
  assert.match(plan("/dnd 8d").problem, /from 1s to 7d/);
  assert.match(plan("/dnd soon").problem, /Say how long/);
});

test("/status sets an emoji and words, as the profile dialog does; alone it clears", () => {
  assert.deepEqual(plan("/status 🌴 On holiday"), { do: "status", body: { custom_status:
    { emoji: "🌴", text: "On holiday", until: null } } });
  assert.deepEqual(plan("/status lunch").body.custom_status.emoji, "");
  const had = { user: "ann", name: null, status: { emoji: "🌴", text: "Away", until: null } };
  assert.deepEqual(plan("/status", { profile: had }), { do: "status", body: { custom_status: null } });
  assert.equal(plan("/status").do, "note");
  assert.match(plan(`/status ${"x".repeat(101)}`).problem, /at most 100/);
});

test("/remind reads its WHEN as the terminal does, then the text", () => {
  assert.deepEqual(plan("/remind in 1h call the bank"),
    { do: "remind", text: "call the bank", remindAt: NOW + HOUR });
  assert.deepEqual(plan("/remind tomorrow 9:00 standup notes"),
    { do: "remind", text: "standup notes", remindAt: Date.UTC(2026, 11, 8, 9, 0) });
  assert.match(plan("/remind").problem, /Say when, then what/);
  assert.match(plan("/remind in 1h").problem, /Say what to be reminded of/);
  assert.match(plan("/remind soon call").problem, /^A reminder is in 20m/);
  assert.match(plan(`/remind 1h ${"x".repeat(4001)}`).problem, /too many/);
});

test("/remind @someone reminds them; me, @me and one's own name are the person", () => {
  assert.deepEqual(plan("/remind @bob in 1h send the report"),
    { do: "remind", text: "send the report", remindAt: NOW + HOUR, user: "bob" });
  assert.deepEqual(plan("/remind @bob to in 1h send the report"),
    { do: "remind", text: "send the report", remindAt: NOW + HOUR, user: "bob" });
  for (const typed of ["/remind me in 1h call", "/remind @me in 1h call", "/remind @Ann in 1h call"]) {
    assert.deepEqual(plan(typed, { me: "ann" }), { do: "remind", text: "call", remindAt: NOW + HOUR });
  }
  assert.match(plan("/remind @ in 1h call").problem, /Who\?/);
  assert.match(plan("/remind @bob!x in 1h call").problem, /Who\?/);
  assert.match(plan("/remind @bob").problem, /Say when, then what/);
  assert.deepEqual(remindWhom("  @bob   tomorrow x", "ann"), { user: "bob", rest: "tomorrow x" });
});

test("/poll sends the quoted question and options; with less it opens the dialog, filled", () => {
  assert.deepEqual(plan('/poll "Lunch?" "Pizza" “Green salad”'),
    { do: "poll", question: "Lunch?", options: ["Pizza", "Green salad"], multiple: false });
  assert.deepEqual(plan("/poll"), { do: "dialog", name: "poll" });
  assert.deepEqual(plan('/poll "Lunch?" "Pizza"'), { do: "dialog", name: "poll",
    prefill: { question: "Lunch?", options: ["Pizza"] } });
  assert.deepEqual(plan("/poll Lunch?").prefill, { question: "Lunch?", options: [] });
  assert.match(plan('/poll "" "a" "b"').problem, /question is empty.*Quote each part/);
  assert.match(plan('/poll "Lunch?" "a" "A"').problem, /Quote each part/);
  assert.match(plan('/poll "Lunch?').problem, /not closed/);
  assert.match(plan('/poll "a" "b" "c"', { room: { ...ROOM, archived: true } }).problem,
    /No poll/);
});

test("/search opens the search with its words; /help lists; an unknown name is refused", () => {
  assert.deepEqual(plan('/search "the plan" from:@bob'), { do: "search", query: '"the plan" from:@bob' });
  assert.match(plan("/search").problem, /what to search/);
  assert.deepEqual(plan("/help"), { do: "help" });
  assert.match(plan("/shurg hi").problem, /^\/shurg is not a command: \/help lists them, and \/\/shurg/);
  assert.match(plan(`/${"a".repeat(5000)}`).problem, /^\/a{32}… is not a command/);
});

test("/drafts opens the Drafts panel", () => {
  assert.deepEqual(plan("/drafts"), { do: "dialog", name: "drafts" });
  assert.deepEqual(commandsFor("dra").map((c) => c.name), ["drafts"]);
});

test("/keywords opens the keywords dialog; words given are ready to add", () => {
  assert.deepEqual(plan("/keywords"), { do: "dialog", name: "keywords" });
  assert.deepEqual(plan("/keywords deploy, on call"),
    { do: "dialog", name: "keywords", prefill: "deploy, on call" });
  assert.deepEqual(plan("/keywords add deploy").prefill, "deploy");
  assert.deepEqual(commandsFor("key").map((c) => c.name), ["keywords"]);
});

test("the list: every command, then those whose name starts so, with usage and help", () => {
  assert.equal(commandsFor("").length, COMMANDS.size);
  assert.deepEqual(commandsFor("d").map((c) => c.name), ["dm", "dnd", "drafts"]);
  assert.deepEqual(commandsFor("zz"), []);
  assert.match(commandsFor("me")[0].help, /italics/);
  for (const { name, usage, help } of commandsFor("")) {
    assert.ok(usage.startsWith(`/${name}`) && help, name);
  }
});

test("random input after each command: a plan or a problem, never a throw", () => {
  const bits = ["x", " ", '"', "@bob", "#r", "1h", "tomorrow", "9:00", "🌴", "\n", "off", "“"];
  for (let seed = 1; seed <= 300; seed += 1) {
    const random = generator(seed);
    for (const name of COMMANDS.keys()) {
      const rest = Array.from({ length: random(12) }, () => random.pick(bits)).join("");
      const made = plan(`/${name} ${rest}`, { room: random(2) ? ROOM : DM });
      assert.ok(made && (typeof made.problem === "string" || typeof made.do === "string"),
        `seed ${seed}: /${name} ${rest}`);
    }
  }
});

// The slash commands of the message boxes (the room's and the thread panel's): the table of
// Slack's and Mattermost's built-in commands that the terminal client has too
// (chatd/client/commands.py), each with its usage and a line of help, and what each means for
// the text after it. Pure: a command is read (slash.js) and planned here into what to do, a
// small record the controller carries out through the page's own operations (the requests
// its dialogs and menus send, its state.js actions): no request of its own.
//
// A plan is {problem} (a sentence shown under the box; nothing done, the text kept) or one
// of these `do`s:
//   send {text}              the text sent from the box, as a message typed there
//   ask {requests}           requests as the dialogs ask them ([{op, fields}], in order;
//                            the reply to `join` opens the room, as the dialog's does)
//   dialog {name, prefill}   a dialog of the page: "topic", "leave", "poll" (`prefill`: the
//                            question and options given, for the poll's), "keywords"
//                            (`prefill`: words to add, typed in its field), "drafts" (the
//                            Drafts panel: the person's drafts, on every device)
//   dm {users, text}         open (or start) the conversation with them; send `text` if any
//   close {room}             close a conversation (hiding.js)
//   readall {}               mark every room read (readmarks.js markAllRead; no question:
//                            the command is asked for by name)
//   section {room, section} | section {room, create}   move the room into one of the person's
//                            sections (`section` its id; null: back to its usual list), or
//                            into a new one named `create`, made first (sections.js)
//   notify {room, level}     the room's notification level
//   dnd {duration} | dnd {off: true}   pause notifications, or resume them
//   status {body}            `set_profile` as the profile dialog sends it
//   remind {text, remindAt, user?}  a reminder of anything (reminders.js), for someone else
//                                  with `user` ("/remind @bob …")
//   poll {question, options} a poll sent from the box
//   search {query}           the search panel, searching that
//   help {}                  the list of commands, shown under the box
//   note {text}              a line shown under the box

import * as alerts from "./alerts.js";
import { isConversation, MAX_OTHERS } from "./conversations.js";
import * as hiding from "./hiding.js";
import { MIN_OPTIONS, pollProblem } from "./polls.js";
import { isOneEmoji, profileChange } from "./profiles.js";
import { readCommand, splitWords } from "./slash.js";
import { named, nameProblem, placeOf, usualList } from "./sections.js";
import { MAX_TEXT_CHARS, textLength, tooLong, topicTooLong } from "./textlimit.js";
import { reminderTime, spanMs, splitWhen, WHEN_USAGE } from "./when.js";

/** What `/shrug` adds: ¯\_(ツ)_/¯, its backslash and underscores escaped from markdown.js. */
export const SHRUG = "¯\\\\\\_(ツ)\\_/¯";

const USER = /^[A-Za-z0-9_.-]{1,32}$/;
const ROOM = /^[A-Za-z0-9_-]{1,64}$/;
const MAX_PAUSE_MS = alerts.MAX_PAUSE_MS;

/**
 * The commands, in the order /help lists them: name -> {usage, help, plan(args, context)}.
 * `args` is {rest (the text after the name, trimmed), words (slash.js splitWords)};
 * `context` is what the page holds (see `planCommand`).
 */
export const COMMANDS = new Map([
  ["shrug", {
    usage: "/shrug [text]",
    help: "send the text with ¯\\_(ツ)_/¯ after it",
    plan: ({ rest }) => ({ do: "send", text: rest ? `${rest} ${SHRUG}` : SHRUG }),
  }],
  ["me", {
    usage: "/me text",
    help: "say what you do, sent in italics (_text_)",
    plan: ({ rest }) => (rest ? { do: "send", text: `_${rest}_` }
      : { problem: "Write what you do: /me waves." }),
  }],
  ["topic", {
    usage: "/topic [text]",
    help: "set the room's topic (alone: its dialog)",
    plan: ({ rest }, { room }) => {
      if (!room || isConversation(room)) return { problem: "A conversation has no topic: /topic is for rooms." };
      if (!rest) return { do: "dialog", name: "topic" };
      const long = topicTooLong(rest);
      return long ? { problem: long }
        : { do: "ask", requests: [{ op: "set_topic", fields: { room: room.name, topic: rest } }] };
    },
  }],
  ["invite", {
    usage: "/invite @name…",
    help: "invite people into this room",
    plan: ({ words }, { room }) => {
      if (!room || isConversation(room)) return { problem: "/invite is for rooms: /dm starts a conversation." };
      const users = namesOf(words, "user");
      if (users.problem) return users;
      if (!users.names.length) return { problem: "Name who to invite: /invite @bob." };
      return { do: "ask", requests: users.names.map((user) => ({ op: "invite",
        fields: { room: room.name, user } })) };
    },
  }],
  ["join", {
    usage: "/join #room",
    help: "join (or create) a room, and open it",
    plan: ({ words }) => {
      if (words.length !== 1) return { problem: "Name one room: /join #design." };
      const name = (words[0].room || words[0].text).toLowerCase();
      if (!ROOM.test(name)) return { problem: `No room can be called ${words[0].text}: names hold a-z 0-9 _ -.` };
      return { do: "ask", requests: [{ op: "join", fields: { room: name } }] };
    },
  }],
  ["leave", {
    usage: "/leave",
    help: "leave this room (asks first)",
    plan: ({ rest }, { room }) => {
      if (rest) return { problem: "/leave leaves this room: open the room to leave first." };
      if (!room || isConversation(room)) return { problem: "A conversation is not left: /close closes it." };
      return { do: "dialog", name: "leave" };
    },
  }],
  ["dm", {
    usage: "/dm @name… [text]",
    help: "open the conversation with them (a group with several), and send the text",
    plan: ({ words, rest }) => {
      const users = [];
      let at = 0;
      while (at < words.length && words[at].user) {
        users.push(words[at].user);
        at += 1;
      }
      if (!users.length) return { problem: "Name who to write to: /dm @bob hello." };
      const wrong = users.find((user) => !USER.test(user));
      if (wrong) return { problem: `@${wrong} is not a user name.` };
      if (new Set(users.map((u) => u.toLowerCase())).size > MAX_OTHERS) {
        return { problem: `A conversation has at most ${MAX_OTHERS} other people.` };
      }
      return { do: "dm", users, text: restAfterWords(rest, at) };
    },
  }],
  ["close", {
    usage: "/close",
    help: "close this conversation: it leaves the list until something new comes",
    plan: ({ rest }, { room }) => {
      if (rest) return { problem: "/close closes the open conversation: it takes nothing more." };
      if (!room || !isConversation(room)) return { problem: "Only a conversation is closed: /leave leaves a room." };
      if (!hiding.canClose(room)) return { problem: "This conversation cannot be closed now." };
      return { do: "close", room: room.name };
    },
  }],
  ["readall", {
    usage: "/readall",
    help: "mark every room and conversation read, on every device (threads keep theirs)",
    plan: ({ rest }) => (rest ? { problem: "/readall marks everything read: it takes nothing more." }
      : { do: "readall" }),
  }],
  ["section", {
    usage: "/section [name]",
    help: "move this room to one of your sidebar sections (a new name makes it); alone, back",
    plan: ({ rest, words }, { room, sections }) => sectionPlan(rest, words, room, sections),
  }],
  ["mute", {
    usage: "/mute",
    help: "no notifications from this room",
    plan: ({ rest }, { room }) => notifyPlan(rest, room, "none"),
  }],
  ["unmute", {
    usage: "/unmute",
    help: "this room's notifications as usual again",
    plan: ({ rest }, { room }) => notifyPlan(rest, room, room ? alerts.defaultLevel(room.kind) : "all"),
  }],
  ["dnd", {
    usage: "/dnd [30m|1h|2h|1d|off]",
    help: "pause every notification for a while, on every device; off resumes them",
    plan: ({ words }, { dndUntil, now }) => {
      if (!words.length) {
        return { do: "note", text: dndUntil !== null && dndUntil > now
          ? `Notifications are paused ${alerts.pauseText(dndUntil, now)}: /dnd off resumes them.`
          : "Notifications are on: /dnd 1h pauses them." };
      }
      const word = words.length === 1 ? words[0].text.toLowerCase() : "";
      if (["off", "on", "resume"].includes(word)) return { do: "dnd", off: true };
      const span = spanMs(word);
      if (span === null) return { problem: "Say how long: /dnd 30m, 1h, 2h, 1d, or /dnd off." };
      if (span < 1000 || span > MAX_PAUSE_MS) return { problem: "A pause is from 1s to 7d." };
      return { do: "dnd", duration: Math.round(span / 1000) };
    },
  }],
  ["status", {
    usage: "/status [emoji] [text]",
    help: "set your status (🌴 On holiday); alone, clears it",
    plan: ({ rest }, { profile, now }) => {
      const [first, ...others] = rest.split(/\s+/u);
      const emoji = first && isOneEmoji(first) ? first : "";
      const text = emoji ? others.join(" ") : rest;
      const change = profileChange(profile, { name: profile && profile.name ? profile.name : "",
        emoji, text, clear: "never" }, now);
      if (change.problem) return { problem: change.problem };
      if (!change.body.custom_status && change.body.custom_status !== null) {
        return { do: "note", text: rest ? "Your status is already that." : "You have no status." };
      }
      return { do: "status", body: { custom_status: change.body.custom_status } };
    },
  }],
  ["remind", {
    usage: "/remind [@someone] when text",
    help: `note the text to yourself (or to @someone you share a room with), and be reminded `
      + `of it then (${WHEN_USAGE})`,
    plan: ({ rest: typed }, { me, now, timeZone, maxText }) => {
      const { user, rest } = remindWhom(typed, me);
      if (user === false) return { problem: "Who? /remind @bob in 20m send the report." };
      const words = rest.split(/\s+/u).filter(Boolean);
      if (!words.length) return { problem: `Say when, then what: /remind in 20m call Bob (${WHEN_USAGE}).` };
      const { when, rest: what } = splitWhen(words);
      const at = reminderTime(when, now, timeZone);
      if (at.problem) return { problem: at.problem };
      const text = restAfterWords(rest, when.length);
      if (!what.length || !text) return { problem: "Say what to be reminded of: /remind in 20m call Bob." };
      if (textLength(text) > maxText) return { problem: tooLong(text, maxText) };
      return user ? { do: "remind", text, remindAt: at.at, user }
        : { do: "remind", text, remindAt: at.at };
    },
  }],
  ["poll", {
    usage: "/poll \"question\" \"option\" \"option\"…",
    help: "send a poll (with less: the poll dialog, filled with what is given)",
    plan: ({ words }, { room, maxText }) => {
      if (!room || room.archived) return { problem: "No poll can be sent here." };
      if (!words.length) return { do: "dialog", name: "poll" };
      const [question, ...options] = words.map((word) => word.text);
      // A question with fewer than two options: the dialog, filled with them, for the rest.
      if (question.trim() && options.length < MIN_OPTIONS) {
        return { do: "dialog", name: "poll", prefill: { question, options } };
      }
      const problem = pollProblem({ question, options, maxText });
      return problem ? { problem: `${problem} Quote each part: /poll "Lunch?" "Pizza" "Salad".` }
        : { do: "poll", question, options, multiple: false };
    },
  }],
  ["keywords", {
    usage: "/keywords [words, …]",
    help: "your notification keywords: words that notify you as a mention does (with words: "
      + "ready to add)",
    plan: ({ rest }) => {
      // ("/keywords add deploy", as the terminal client says it, reads the same.)
      const words = rest.replace(/^add\s+/iu, "");
      return words ? { do: "dialog", name: "keywords", prefill: words }
        : { do: "dialog", name: "keywords" };
    },
  }],
  ["drafts", {
    usage: "/drafts",
    help: "what you typed and did not send yet, in each room, on every device",
    plan: () => ({ do: "dialog", name: "drafts" }),
  }],
  ["search", {
    usage: "/search words",
    help: "search the messages (\"a phrase\", from:@ann, in:#room)",
    plan: ({ rest }) => (rest ? { do: "search", query: rest }
      : { problem: "Say what to search for: /search lunch." }),
  }],
  ["help", {
    usage: "/help",
    help: "this list",
    plan: () => ({ do: "help" }),
  }],
]);

/**
 * The plan for the box's `text` (the whole of it), or null when it is a message to send as it
 * is. "//text" plans to send "/text". `context`: {room (the open room, or null), profile (the
 * person's, profiles.js profileOf), dndUntil (ms or null), now (ms, the server's clock),
 * timeZone, maxText, sections (the state's: sections.js), me (the person's name)}.
 */
export function planCommand(text, context) {
  const read = readCommand(text);
  if (read === null) return null;
  const maxText = context.maxText || MAX_TEXT_CHARS;
  if (read.literal !== undefined) return sending({ do: "send", text: read.literal }, maxText);
  const command = COMMANDS.get(read.name);
  if (!command) return { problem: `/${clip(read.name)} is not a command: /help lists them, and //${clip(read.name)} sends the text as it is.` };
  const split = splitWords(read.rest);
  if (split.problem) return { problem: split.problem };
  return sending(command.plan({ rest: read.rest, words: split.words },
    { dndUntil: null, profile: null, room: null, sections: null, me: null, ...context,
      maxText }),
  maxText);
}

/** A text to send over the server's limit is refused here, as the box refuses it. */
function sending(plan, maxText) {
  return plan.do === "send" && textLength(plan.text) > maxText
    ? { problem: tooLong(plan.text, maxText) } : plan;
}

/** The commands whose name starts with `typed` (lower case), for the completion list. */
export function commandsFor(typed) {
  return [...COMMANDS].filter(([name]) => name.startsWith(typed))
    .map(([name, { usage, help }]) => ({ name, usage, help }));
}

function notifyPlan(rest, room, level) {
  if (rest) return { problem: "It is for the open room: it takes nothing more." };
  if (!room || room.draft) return { problem: "Open a room first." };
  if (alerts.levelOf(room) === level) {
    return { do: "note", text: level === "none" ? "This room is muted already." : "This room is not muted." };
  }
  return { do: "notify", room: room.name, level };
}

/**
 * `/section NAME` (one quoted word, or the words as typed): the open room into the person's
 * section of that name (ignoring case), made first when they have none; alone, back to its
 * usual list.
 */
function sectionPlan(rest, words, room, sections) {
  if (!room || room.draft) return { problem: "Open a room or conversation first." };
  if (!sections || !sections.supported) return { problem: "This server does not keep sections." };
  const here = placeOf(sections, room);
  const shown = sections.shown.find((section) => section.id === here);
  if (!rest) {
    return shown ? { do: "section", room: room.name, section: null, name: usualList(room) }
      : { do: "note",
        text: `It is in ${usualList(room)}: /section NAME moves it to a section of yours.` };
  }
  const name = words.length === 1 && words[0].quoted ? words[0].text.trim() : rest;
  const found = named(sections.shown, name);
  if (found) {
    return found.id === here ? { do: "note", text: `It is in ${found.name} already.` }
      : { do: "section", room: room.name, section: found.id, name: found.name };
  }
  const problem = nameProblem(sections.shown, name);
  return problem ? { problem } : { do: "section", room: room.name, create: name };
}

/** The names of `words` as people ("@bob" or "bob"), each checked: {names} or {problem}. */
function namesOf(words, kind) {
  const names = [];
  for (const word of words) {
    const name = word[kind] || word.text.replace(/,+$/u, "");
    if (!name) continue;
    if (!USER.test(name)) return { problem: `${word.text} is not a user name.` };
    if (!names.some((n) => n.toLowerCase() === name.toLowerCase())) names.push(name);
  }
  return { names };
}

/** The text of `rest` after its first `count` words (as typed: lines and spaces kept). */
/** A user name as the server takes one (1-32 of A-Z a-z 0-9 _ . -). */
const USER_NAME = /^[A-Za-z0-9_.-]{1,32}$/u;

/**
 * Whom `/remind` reminds, from what was typed after it: "@bob …" (and Slack's "@bob to …")
 * names another user ({user: "bob", rest}); "me …", "@me …" or one's own name, or no name,
 * the person ({user: null, rest}); "@" with no valid name after it, {user: false}.
 */
export function remindWhom(typed, me) {
  const trimmed = typed.trim();
  const named = /^@(\S*)\s*(.*)$/su.exec(trimmed);
  const plain = /^me\s+(.*)$/su.exec(trimmed);
  if (!named) return { user: null, rest: plain ? plain[1] : trimmed };
  const [, name, after] = named;
  const rest = after.replace(/^to\s+/u, "");
  if (name === "me" || (typeof me === "string" && name.toLowerCase() === me.toLowerCase())) {
    return { user: null, rest };
  }
  if (!USER_NAME.test(name)) return { user: false, rest };
  return { user: name, rest };
}

function restAfterWords(rest, count) {
  let at = 0;
  for (let i = 0; i < count; i += 1) {
    at = rest.slice(at).search(/\S/u) + at;
    const end = rest.slice(at).search(/\s/u);
    at = end < 0 ? rest.length : at + end;
  }
  return rest.slice(at).trim();
}


/** A name as shown in a problem: at most 32 characters. */
function clip(name) {
  return [...name].length > 32 ? `${[...name].slice(0, 32).join("")}…` : name;
}

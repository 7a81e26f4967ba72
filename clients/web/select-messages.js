// What a message looks like on screen, derived from the state: its text as it is now with the
// person's own changes still on their way shown already, its reactions, the quote of the message
// it answers, and what the person may do with it. Pure, like select.js: no DOM, no I/O, no clock;
// nothing here changes the state.

import { moderates } from "./admin.js";
import { suggestions as emojiSuggestions } from "./emoji.js";
import { historyShown } from "./edithistory.js";
import { hits } from "./keywords.js";
import { mentions, previewFor, QUOTE_CHARS } from "./entries.js";
import { plainText } from "./markdown.js";
import { forwardedSummary } from "./forwarding.js";
import { mentionMatches } from "./profiles.js";
import { pollOf, shownPoll } from "./polls.js";
import { shownItem } from "./saved.js";
import { statusOf } from "./select.js";
import { sameUser } from "./store.js";
import { threadOf as threadOf_, unreadOf } from "./inbox.js";
import { mentionsMe as groupMentionsMe, suggestions as userGroupSuggestions } from "./usergroups.js";
import { draftKey, isReply, newReplies, repliesOf } from "./threads.js";

/** The reactions the picker offers (any emoji already on a message can be added too). */
export const COMMON_EMOJI = Object.freeze(["👍", "❤️", "😂", "🎉", "😮", "😢", "🙏", "👀", "✅",
  "🔥"]);

const MAX_SUGGESTIONS = 8;
const EXCERPT_CHARS = 120;

/** The person's changes to message `msgId` of room `name` not yet in the message, in order. */
export function pendingChanges(state, name, msgId) {
  return state.outbox.filter((item) => item.change && item.room === name
    && item.change.msg_id === msgId);
}

/**
 * How a confirmed message is shown:
 * {message, text, deleted, edited, editedTs, saving, deleting, reactions: [{emoji, users,
 * count, mine}], files, preview, mentionsMe, keywords, own, canEdit, canDelete, canReact,
 * canRemovePreview, quote, editing, pinned, canPin, poll, canVote, canClosePoll, saved,
 * canSave}.
 * `keywords` are the person's notification keywords its text (as confirmed) matches, when
 * by someone else (keywords.js `hits`): it is then a mention to them, its words marked.
 * `files` are the message's file objects (none once it is deleted); `preview` its link's
 * preview (entries.js previewFor), or null.
 * `pinned` is {by, ts} while the message is pinned to the room (the person's own pin or unpin
 * on its way shown already: `by` them, `ts` null), else null.
 * `poll` is a poll's look (polls.js shownPoll: the person's vote or closing on its way shown
 * already), else null; `canVote` and `canClosePoll` what its card and menu offer.
 * `saved` is {remindAt, reminded} while the person has it saved (their own save on its way
 * shown already, saved.js `shownItem`), else null; `canSave` whether its menu offers saving.
 * `quote` is null for a message that answers none, else {msgId, from, text, deleted,
 * held}: from the original when the page holds it (it is the newest), else from the
 * message's `quote`.
 * `replies` is a thread's root's summary {count, last_ts, users, fresh (its replies held after
 * the read marker as the room was opened, by others, not seen in the thread panel: threads.js
 * newReplies)}, else null; `threadOf` is, for a reply,
 * {rootId, text (the root's, "" when not held), deleted}, else null.
 */
export function shownMessage(state, room, message) {
  let { text } = message;
  let reactions = message.reactions || [];
  let deleting = false;
  let pinned = message.pinned ? { by: message.pinned.by, ts: message.pinned.ts ?? null } : null;
  let voting = null; // the person's latest vote on its way (indexes)
  let closing = false;
  for (const item of pendingChanges(state, room.name, message.msg_id)) {
    const { op } = item.change;
    if (op === "delete") deleting = true;
    else if (op === "vote") voting = item.change.options;
    else if (op === "close_poll") closing = true;
    else if (op === "edit") text = item.change.text;
    else if (op === "pin") pinned = item.change.on ? pinned || { by: state.me, ts: null } : null;
    else reactions = toggled(reactions, item.change.emoji, state.me, item.change.on);
  }
  const saving = text !== message.text;
  const own = sameUser(message.from, state.me);
  const deleted = Boolean(message.deleted);
  const editing = Boolean(state.editing && state.editing.room === room.name
    && state.editing.msgId === message.msg_id) && !deleted;
  const held = deleted ? undefined : pollOf(message.poll);
  const poll = held ? shownPoll(held, state.me, { pending: voting, closing }) : null;
  const moderator = own || sameUser(room.owner, state.me) || moderates(room, state.admin);
  const keywords = hits(state.keywords, message, own);
  return {
    message,
    text: deleted ? "" : text,
    deleted,
    edited: !deleted && (Number.isSafeInteger(message.edited_ts) || saving),
    editedTs: Number.isSafeInteger(message.edited_ts) ? message.edited_ts : null,
    historyShown: historyShown(state.editHistory, moderator, state.admin),
    saving,
    deleting: deleting && !deleted,
    reactions: deleted ? [] : reactions.map((r) => ({
      emoji: r.emoji, users: r.users, count: r.users.length,
      mine: r.users.some((u) => sameUser(u, state.me)),
    })),
    files: deleted ? [] : filesOf(message),
    preview: previewFor(message),
    mentionsMe: mentions(message, state.me) || keywords.length > 0
      || Boolean(state.userGroups && groupMentionsMe(state.userGroups, message, state.me)),
    keywords,
    own,
    canEdit: own && !deleted && !deleting && !room.archived,
    canDelete: !deleted && !deleting && (own || sameUser(room.owner, state.me)
      || moderates(room, state.admin)),
    canReact: !deleted && !deleting && !room.draft && !room.archived,
    canRemovePreview: !deleted && !room.draft && (own || sameUser(room.owner, state.me)
      || moderates(room, state.admin)),
    quote: quoteFor(room, message),
    editing,
    pinned: deleted ? null : pinned,
    canPin: !deleted && !deleting && !room.draft && !room.archived,
    poll,
    canVote: Boolean(poll) && !poll.closed && !deleting && !room.draft && !room.archived,
    canClosePoll: Boolean(poll) && !poll.closed && !deleting && moderator && !room.draft
      && !room.archived,
    replies: repliesShown(state, room, message),
    threadOf: threadOf(room, message),
    // "Reply in thread": a root's thread, or the thread of a reply shown in the room.
    canThread: !room.draft && (!deleted || Boolean(repliesOf(message))),
    saved: savedOf(state, room, message),
    canSave: Boolean(state.saved && state.saved.supported) && !room.draft
      && Number.isSafeInteger(message.msg_id) && (!deleted || Boolean(savedOf(state, room,
      message))),
  };
}

/** {remindAt, reminded} of a message the person saved, or null. */
function savedOf(state, room, message) {
  if (!state.saved || !Number.isSafeInteger(message.msg_id)) return null;
  const item = shownItem(state.saved, room.name, message.msg_id);
  return item ? { remindAt: item.remind_at, reminded: Boolean(item.reminded) } : null;
}

/**
 * A root's summary with its new replies: a followed thread's unread ones, as the server keeps
 * them (inbox.js). From a server that keeps no followed threads: since the read marker as the
 * open room was opened (state.js `repliesSince`), but those seen in the thread panel (none while
 * it shows them).
 */
function repliesShown(state, room, message) {
  const replies = repliesOf(message);
  if (!replies) return null;
  // The server keeps what was read of a followed thread (inbox.js): its unread replies, on
  // every device alike; a thread not followed shows none.
  if (state.inbox && state.inbox.supported && state.inbox.listed) {
    const followed = threadOf_(state.inbox, room.name, message.msg_id);
    return { ...replies, fresh: followed && followed.following ? unreadOf(followed) : 0 };
  }
  const panel = state.threadPanel;
  if (panel && panel.shown && panel.room === room.name && panel.rootId === message.msg_id) {
    return { ...replies, fresh: 0 };
  }
  // (A server that keeps no followed threads: since the read marker, but those seen here.)
  const opened = state.current === room.name && Number.isSafeInteger(state.repliesSince)
    ? state.repliesSince : room.readSeq;
  const seen = state.threadsSeen ? state.threadsSeen.get(draftKey(room.name, message.msg_id)) : 0;
  return { ...replies, fresh: newReplies(room, message.msg_id, state.me,
    { since: Math.min(opened, room.readSeq), seen: seen || 0 }) };
}

function threadOf(room, message) {
  if (!isReply(message)) return null;
  const root = room.byMsgId(message.thread);
  return { rootId: message.thread, text: root && !root.deleted ? root.text : "",
    deleted: Boolean(root && root.deleted) };
}

/** `reactions` with `me` put on (or taken off) `emoji`, as a `reaction` entry would. */
function toggled(reactions, emoji, me, on) {
  const index = reactions.findIndex((r) => r.emoji === emoji);
  const has = index >= 0 && reactions[index].users.some((u) => sameUser(u, me));
  if (on === has) return reactions;
  const next = [...reactions];
  if (on && index < 0) next.push({ emoji, users: [me] });
  else if (on) next[index] = { emoji, users: [...next[index].users, me] };
  else {
    const users = next[index].users.filter((u) => !sameUser(u, me));
    if (users.length) next[index] = { emoji, users };
    else next.splice(index, 1);
  }
  return next;
}

/** A string that changes whenever what `shownMessage` gives would draw differently. */
export function signature(view) {
  return JSON.stringify([view.text, view.deleted, view.edited, view.editedTs,
    view.historyShown, view.saving,
    view.deleting, view.reactions.map((r) => [r.emoji, r.users, r.mine]), view.mentionsMe,
    view.keywords,
    view.canEdit, view.canDelete, view.canReact, view.quote, view.editing,
    view.message.mentions || null, view.files.map((file) => file.id), view.preview,
    view.canRemovePreview, view.pinned, view.canPin, view.replies, view.threadOf,
    view.canThread, view.saved, view.canSave, view.poll, view.canVote, view.canClosePoll]);
}

/** A message's file objects (well-formed ones: an id and a name). */
export function filesOf(message) {
  return Array.isArray(message.files) ? message.files.filter((file) => file
    && Number.isSafeInteger(file.id) && typeof file.name === "string") : [];
}

/** What stands for a message with no text but files: "📎 report.pdf" (and how many more). */
export function filesSummary(message) {
  const files = filesOf(message);
  if (!files.length) return "";
  return files.length === 1 ? `📎 ${files[0].name}`
    : `📎 ${files[0].name} and ${files.length - 1} more`;
}

/** The quote of the message `message` answers, or null (see `shownMessage`). */
export function quoteFor(room, message) {
  if (!Number.isSafeInteger(message.reply_to)) return null;
  const original = room.byMsgId(message.reply_to);
  if (original) {
    return { msgId: message.reply_to, from: original.from, deleted: Boolean(original.deleted),
      text: original.deleted ? ""
        : [...(original.text || forwardedSummary(original) || filesSummary(original))]
          .slice(0, QUOTE_CHARS).join(""),
      held: true };
  }
  const quote = message.quote && typeof message.quote === "object" ? message.quote : {};
  return { msgId: message.reply_to, from: typeof quote.from === "string" ? quote.from : null,
    deleted: quote.deleted === true,
    text: typeof quote.text === "string" ? quote.text : "", held: false };
}

/** A short one-line excerpt of a text, its markers left out (for the reply bar and quotes). */
export function excerpt(text, chars = EXCERPT_CHARS) {
  const line = plainText(String(text));
  const points = [...line];
  return points.length > chars ? `${points.slice(0, chars - 1).join("")}…` : line;
}

/**
 * A message's one-line excerpt in a list (the Pins and Saved panels, the Threads view): its
 * text; for a forward without a comment "Forwarded: " and the forwarded text, as notifications
 * and quotes say it (forwarding.js); else its files; "" for none of these.
 */
export function listExcerpt(message, chars = EXCERPT_CHARS) {
  return excerpt(message.text || "", chars) || excerpt(forwardedSummary(message), chars)
    || filesSummary(message) || "";
}

/** What the open room's message box answers: {msgId, from, text} or null. */
export function replyTarget(state, room) {
  if (!room || !Number.isSafeInteger(room.replyTo)) return null;
  const message = room.byMsgId(room.replyTo);
  if (!message) return null;
  return { msgId: room.replyTo, from: message.from,
    text: message.deleted ? "This message was deleted"
      : excerpt(message.text) || filesSummary(message) };
}

/** The person's last message in a room that they may still edit, or null. */
export function lastOwnMessage(state, room) {
  if (!room) return null;
  let last = null;
  for (const message of room.messages.values()) {
    if (!sameUser(message.from, state.me) || message.deleted) continue;
    if (pendingChanges(state, room.name, message.msg_id).some((i) => i.change.op === "delete")) {
      continue;
    }
    if (!last || message.seq > last.seq) last = message;
  }
  return last;
}

/**
 * The members of the open room whose names start with `query` (any case), to complete an
 * @mention: names as registered, the person themselves left out, at most a few.
 */
export function mentionSuggestions(state, room, query) {
  if (!room) return [];
  const prefix = query.toLowerCase();
  const names = room.members ? room.members.map((m) => m.user)
    : room.kind === "dm" && room.peer ? [room.peer] : room.kind === "group" && room.peers
      ? room.peers : [];
  // By user name or any word of the display name (profiles.js); `@name` is what goes in.
  return names
    .filter((name) => !sameUser(name, state.me) && (name.toLowerCase().startsWith(prefix)
      || (state.profiles && mentionMatches(state.profiles, name, query))))
    .sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase()))
    .slice(0, MAX_SUGGESTIONS);
}

/**
 * The group mentions to offer in the open room for `query` (what follows the "@"): `room` and
 * `here` whose words start with it, each with its hint ("notifies 4 members"), where this person
 * may use them: a room (not a conversation) of at most the server's group_mention_members
 * members, or one they moderate. The counts leave the person out: `room` every other member,
 * `here` those online now. None while the room's members are not known.
 */
export function groupSuggestions(state, room, query) {
  if (!room || room.kind !== "room" || room.draft || !room.members) return [];
  const total = Math.max(room.memberCount ?? 0, room.members.length);
  const allowed = moderates(room, state.admin)
    || (state.groupMentionMembers !== null && total <= state.groupMentionMembers);
  if (!allowed) return [];
  const prefix = query.toLowerCase();
  const others = (room.members.some((m) => sameUser(m.user, state.me)) ? total - 1 : total);
  const online = room.members.filter((m) => !sameUser(m.user, state.me)
    && statusOf(state, m.user) === "online").length;
  return [{ name: "room", count: others }, { name: "here", count: online }]
    .filter((group) => group.name.startsWith(prefix))
    .map(({ name, count }) => ({ name, hint: `notifies ${count} ${count === 1 ? "member" : "members"}` }));
}

/** Who put a reaction, for its label: "ann, Bob and 3 others". */
export function reactionUsers(users, me) {
  const names = users.map((u) => (sameUser(u, me) ? "you" : u));
  if (names.length <= 1) return names.join("");
  if (names.length <= 5) return `${names.slice(0, -1).join(", ")} and ${names[names.length - 1]}`;
  return `${names.slice(0, 4).join(", ")} and ${names.length - 4} others`;
}

// "@" and the start of a name, right before the caret, not glued to a word (an e-mail address).
// Any letter: a word of a display name ("@zoë") finds its user too (profiles.js).
const TYPING_MENTION = /(?:^|[^\p{L}\p{N}_.@-])@([\p{L}\p{N}_.-]{0,32})$/u;

/**
 * What a message box of `room` (the room's own or its thread panel's) offers for the text
 * `before` its caret: {kind: "emoji", names, hints, start} for ":par" (the server's custom
 * emoji, emoji.js), {kind: "mention", names, hints, userGroups, start} for "@an" (the group
 * words first, each with its hint in `hints`, then the members, then the server's user groups,
 * usergroups.js, their hints in `hints` too and their names in `userGroups`: not in a 1:1
 * conversation, where `@backend` is plain text), or null (nothing typed so, inside a code
 * span, or nothing matches). `start` is where the word being completed begins.
 */
export function completionFor(state, room, before) {
  if (!room) return null;
  const emoji = emojiSuggestions(state.customEmoji, before);
  if (emoji) return { kind: "emoji", names: emoji.names, hints: new Map(), start: emoji.start };
  const typed = TYPING_MENTION.exec(before);
  // Inside a code span (an odd number of backticks before) nothing is a mention.
  if (!typed || (before.match(/`/g) || []).length % 2 === 1) return null;
  const groups = groupSuggestions(state, room, typed[1]);
  const words = new Set(groups.map((g) => g.name));
  const people = mentionSuggestions(state, room, typed[1]).filter((n) => !words.has(n.toLowerCase()));
  const taken = new Set([...words, ...people.map((n) => n.toLowerCase())]);
  const teams = room.kind === "dm" || !state.userGroups ? []
    : userGroupSuggestions(state.userGroups, typed[1]).filter((g) => !taken.has(g.name));
  const names = [...words, ...people, ...teams.map((g) => g.name)];
  if (!names.length) return null;
  return { kind: "mention", names,
    hints: new Map([...groups, ...teams].map((g) => [g.name, g.hint])),
    userGroups: new Set(teams.map((g) => g.name)),
    start: before.length - typed[1].length - 1 };
}

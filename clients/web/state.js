// The page's state and every change made to it. No DOM, no I/O, no clock, no timers: each
// change is a deterministic function of the state and its input.
//
// Theory of operation
// -------------------
// One plain object (`initialState()`) holds what the page knows: the user, the rooms (store.js:
// messages by seq, resume point, unread), presence and contacts, the outbox of sends not yet
// acknowledged (outbox.js), the read markers not yet sent, and the connection's phase. This
// module is the only code that changes it; views only read it.
//
// Two kinds of change, both written as functions of (state, input) that return *effects*:
//
// - `apply(state, frame, {request, now})` for everything the server sends: events (welcome,
//   message, presence, joined, left, typing, read, gap, error) and the replies (`ok` or
//   `error`) to the requests the page made, given with the request they answer.
// - one reducer per local action: open a room, send a message, a message came into view, the
//   connection dropped, the tab was hidden, and so on.
//
// An effect is data that asks the caller (controller.js) to do I/O, the way the server's actors
// return effects from `apply`:
//
//   {request: {op, ...fields}}   send this request; its reply goes back through `apply` with
//                                the request, in the order replies and events are read
//   {refreshRooms: true}         ask for the user's rooms soon (coalesced): send ROOMS_REFRESH
//   {toast: text}                tell the person something in passing
//   {later: ms, key, action, args}  call `actions[action](state, ...args, now)` after `ms`; a
//                                timer already waiting under the same key is left to run (so
//                                a stream of read markers is sent at most every `ms`)
//   {upload: {key, room}}        upload the file kept under `key` to `room` (HTTP, with
//                                progress); its outcome comes back through uploadProgress,
//                                uploadDone and uploadFailed
//   {fetchLinks: ids}            ask for signed links to these files (at most links.BATCH);
//                                the answer comes back through linksReceived or linksFailed
//   {alert: {...}}               tell the person of a new message: a desktop notification
//                                and/or a sound (alerts.js `alertFor` says what and which)
//   {readElsewhere: {room, seq}} the person read `room` up to `seq` on another connection
//                                (another device or tab): its notification, if it told of
//                                a message up to there, is closed
//   {remind: {room, msgId, seq, title, body}}  a reminder the person set came due: an alert
//                                in the page (with a way to the message) while it is open
//   {checkFiles: {nonce, ids, error}}  a send carrying files `ids` was refused `not_found`:
//                                ask which of them the server still has (signed links are
//                                given for those only); the answer comes back through
//                                filesChecked, or filesUnchecked with the refusal `error`
//
// Time is an argument (`now`, in ms) wherever it matters, so that every change is
// deterministic and can be tested without a clock. It is the server's time as the page
// reckons it (clock.js: the page's clock corrected by the offset each welcome measures, kept
// here as `clockOffset`), since it is compared with the server's `ts` and `expires_at`.
//
// Read markers: a message seen on screen moves the room's marker here at once (the badge and the
// title drop it), and the marker waits in `reads` until the server has acknowledged it: one per
// room, so reading several rooms in a row loses none, and kept across a reconnect (sent again
// after the welcome), so a marker set just before the connection dropped still reaches the
// server. Only "Mark unread" (`markUnread`, the `unread` request) moves a marker back: the
// room is then kept unread while it stays open (nothing on screen reads it), here and in the
// person's other tabs and devices, which follow the `read` event that says `back` (or, for a
// page that was offline, the welcome's lower `read_seq`).
//
// Changes to messages (protocol v2): `edited`, `deleted` and `reaction` entries, live or inside
// pages of history and join replies, go to the room (store.js), which applies them by the
// rules of entries.js. The person's own edits, deletions and reactions wait in the outbox
// (outbox.js) until their entry is in the message, and are shown meanwhile
// (select-messages.js): nothing flickers back to the old text, and after a reconnect what was
// not acknowledged is sent again.
//
// Files: what is attached in a room's message box waits in `uploads` (uploads.js: each entry's
// way from queued to done or failed), a few at a time, and goes out with the room's next message
// once all are up. Signed links for the files drawn on screen are kept in `links` (links.js),
// asked for in batches and renewed before they expire. The files uploaded in a box are kept
// across a reload (drafts.js); one of them that expired on the server meanwhile makes the send
// refused `not_found`: the page asks which files the server still has (`checkFiles`), sends
// the message again without the others, with its text, and says which to attach again.
//
// Notifications (alerts.js): each room has a notification level (all, mentions, none) that the
// server keeps per membership; `setNotify` changes it at once here and asks the server, which
// tells every connection of the person (`notify`), so another device follows; a refusal puts
// back the level the server last gave. A new message the person is not looking at gives an
// `alert` effect when its room's level wants it.
// What came while the page was away, in the rooms it does not replay (missed.js): each room
// object of a welcome (and of its pages) is compared with what the page last saw of the room
// (`seen`), and once the whole list is in, each room that missed what its level wants gives
// an `alert` effect, and a toast says it all in one line. In the rooms it does replay, a
// missed message older than alerts.STALE_MS is counted, not alerted, and the room tells what
// it missed in one `alert` once its replay has caught up (`alertsFor`); a room that missed
// more than the server replays gets a `gap` and pages its history, which alerts nothing: it
// tells what it missed from its counts, as a room not replayed does (`tellSkipped`).
//
// Pins: a message's `pinned` {by, ts} is changed by `pinned` entries as reactions are
// (entries.js), and the person's own pins and unpins wait in the outbox like reactions. Each
// room counts its pins (store.js: the room object's `pins`, moved by the entries after it).
// The "Pinned" panel (pins.js, `state.pinsPanel`) lists the open room's pins a page at a
// time, follows the room when another one is opened, and is kept up to date by the room's
// entries, live or paged in.
//
// Polls (polls.js): a poll is a message with `poll`, sent as any message (`composePoll`: the
// outbox keeps it, and its nonce for a resend); `voted` and `poll_closed` entries change it as
// reactions do (entries.js, the rev rule), and the person's own votes and closings wait in the
// outbox like reactions, shown at once (select-messages.js).
//
// Saved messages and reminders (saved.js, `state.saved`): after each welcome the whole list
// of what the person saved is walked a page at a time (every message's bookmark mark needs
// it), the `saved` and `reminder` events of every device keep it, and the welcome's
// `reminders_due` is the header's count until the list is in. The person's own saves are
// shown at once and wait for their reply; a reminder that comes tells the person (an in-page
// alert, and a desktop notification and sound as their settings say, unless paused).
//
// Scheduled messages (scheduled.js, `state.scheduled`): the welcome's counts are the sidebar's
// badge; when it says there are some, the list is asked for (one reply holds it all), and
// again when the panel opens; the `scheduled` events of every device keep it. A message
// scheduled from a box leaves the box as a sent one does (its draft, its files, the reply it
// quoted; the thread's box as well); a refusal puts the text back in the box when the box is
// still empty, and its files back in the box always.
//
// Favourites (favourites.js): a room's `favourite` mark is the person's, kept by the server and
// told to their other devices (the `favourite` event); `setFavourite` stars or unstars at once
// and asks the server, whose reply says the last word, and a refusal puts back the mark it last
// gave. The sidebar lists favourites in their own section at the top (select.js).
//
// Read receipts (receipts.js, `state.receipts`): the other members' read markers of each
// conversation, asked once a connection when it is shown (`receipts` without a msg_id) and
// moved by `seen` events, say where its "Seen" lines go; the person's own setting (whether
// they share theirs) is the welcome's, changed by `setReadReceipts` at once and kept by the
// `read_receipts` event of every device.
//
// Notification keywords (keywords.js, `state.keywords`): the person's list, the welcome's,
// kept by the `keywords` event of every device, changed by `setKeywords` at once (the reply
// says the last word; a refusal puts back the server's list and says why). A message by
// someone else that matches one is a mention to them: alerted as one (alerts.js kindOf),
// marked and its words highlighted (select-messages.js, and in search results), and counted
// in the room's "@" count and the title's "*": the server's count (names and groups) plus the
// unread messages held that match a keyword (alerts.js mentionCount; the server does not
// count keywords, so after a reload a room not opened counts only what came since).
//
// Sections (sections.js, `state.sections`): the person's own sections of the sidebar, kept by
// the server (the welcome's list, the `sections` and `section` events of every device).
// Collapsing one, moving it up or down (`collapseSection`, `shiftSection`) and moving a room
// into one (`moveToSection`) are shown at once and asked of the server, whose reply says the
// last word, as for a favourite; creating, renaming and deleting one wait for the server in
// their dialogs (controller.js), and their list comes as any other. A deleted section's rooms
// are back in their usual lists.
//
// Search (search.js): `state.search` holds the query, the pages of results and the request on
// its way; `openResult` opens a result's room and shows the message, paging back to it when it
// is not held (as a reply's original is found), in pages sized to reach its seq at once.

import * as alerts from "./alerts.js";
import { corrected } from "./clock.js";
import { isChange, quoteOf, revOf } from "./entries.js";
import * as linkCache from "./links.js";
import * as missed from "./missed.js";
import * as outbox from "./outbox.js";
import * as pinning from "./pins.js";
import * as polling from "./polls.js";
import * as profiling from "./profiles.js";
import * as customEmoji from "./emoji.js";
import { isNoteToSelf } from "./reminders.js";
import * as saving from "./saved.js";
import * as scheduling from "./scheduled.js";
import * as searching from "./search.js";
import * as threading from "./threads.js";
import * as inboxing from "./inbox.js";
import * as uploads from "./uploads.js";
import * as grouping from "./usergroups.js";
import * as hiding from "./hiding.js";
import * as starring from "./favourites.js";
import * as receipting from "./receipts.js";
import * as keywording from "./keywords.js";
import * as sectioning from "./sections.js";
import { allRead, openingPage } from "./readmarks.js";
import * as drafting from "./drafts.js";
import { draftOf, setDraft } from "./drafts.js";
import { MAX_FILES } from "./files.js";
import { firstRoom, resumePoints } from "./select.js";
import { textLength } from "./textlimit.js";
import { HISTORY_MODES } from "./edithistory.js";
import { lastOwnMessage, shownMessage } from "./select-messages.js";
import { dmName, Room, sameUser } from "./store.js";
import { conversationName, isConversation, othersOf, sendTo } from "./conversations.js";

export const TYPING_SEND_MS = 3000; // at most one `typing` per room this often
export const TYPING_SHOW_MS = 5000; // how long someone shows as typing after their last event
export const READ_DELAY_MS = 300; // read markers are sent at most this often
export const PAGE = 50; // messages per page when opening a room or scrolling up
export const GAP_PAGE = 500; // messages per page when filling a gap
export const SEEK_PAGE = 200; // entries per page when paging back to a reply's original
export const SEEK_MAX = 500; // the largest page when paging back to a message of known seq
export const SEEK_CONTEXT = 20; // entries shown before a message paged back to by its seq
const SEEK_BY_SEQ = "by seq"; // room.seeking for a message known by its seq alone (openResult)
// The request that refreshes the user's rooms: only theirs (the public list is paged and
// browsed apart, see browse.js); its reply asks for the next page while there is one.
export const ROOMS_REFRESH = Object.freeze({ op: "rooms", joined: true });
// The paged welcome: the hello asks for the first WELCOME_ROOMS rooms and WELCOME_CONTACTS
// contacts; the rest come at once after it, a page of the server's default size each (100,
// or limits.rooms_page_max if smaller: see "The listing" below).
export const WELCOME_ROOMS = 30;
export const WELCOME_CONTACTS = 30;
export const LIST_RETRY_MS = 2000; // a page refused (not for a lost connection): asked again
export const PARALLEL_UPLOADS = 3; // uploads on their way at once; the others wait, queued
const MAX_LATER_MS = 6 * 3600_000; // a timer this long at most (a later one is set again then)

/**
 * A fresh state for `me` (the name the person logged in with), with a restored outbox, and
 * restored boxes: their drafts and the files uploaded there (drafts.js `restoreBoxes`).
 */
export function initialState({ me = null, outbox: saved = [], visible = true,
  drafts = new Map(), draftTimes = new Map(), draftsSyncedAt = null, draftsUnsaved = new Set(),
  uploads: kept = [],
  focused = true,
  alerts: settings = alerts.defaultSettings(), seen = null } = {}) {
  return {
    me, // the user's name as registered (from the welcome; as typed until then)
    admin: false, // whether the user administers the server (the welcome's user.admin)
    editHistory: "everyone", // who may read edit histories (the welcome's edit_history)
    farewell: "", // why the last room went away (removed, banned, deleted), until one opens
    connection: "connecting", // "connecting" | "online" | "waiting" | "stopped"
    attempt: 0, // connection attempts since the last welcome
    retryAt: null, // while "waiting": when (ms) the next attempt starts
    closeReason: "", // why the server closed the connection, for the banner
    visible, // whether the tab is visible (only then are messages read)
    idle: false, // whether the person stopped using the page (idle.js): the server says away
    saidIdle: false, // what the last hello said of it
    focused, // whether the page's window has the focus (else new messages alert, alerts.js)
    alerts: settings, // {desktop, sound, permission}: how new messages alert (alerts.js)
    search: searching.emptySearch(), // the search and its results (search.js)
    pinsPanel: pinning.emptyPins(), // the open room's pinned messages, while shown (pins.js)
    threadPanel: threading.emptyThread(), // the thread shown beside the room (threads.js)
    saved: saving.emptySaved(), // the messages the person saved, and their reminders (saved.js)
    inbox: inboxing.emptyInbox(), // the threads the person follows, what is unread (inbox.js)
    scheduled: scheduling.emptyScheduled(), // the messages to be sent later (scheduled.js)
    rooms: new Map(), // name -> Room
    current: null, // the open room's name
    divider: null, // the "New" line of the open room goes after this seq
    // The open room's read marker when it was opened: a root's replies after it are "new"
    // while the room is open (threads.js newReplies), even once read with what follows them.
    repliesSince: null,
    threadsSeen: new Map(), // "room#root" -> the room's last seq when its thread was last shown
    presence: new Map(), // lower-case user -> {user, status}
    contacts: [], // names as registered
    listing: null, // the welcome's rooms still being paged in (see "The listing"), or null
    opened: 0, // rooms opened so far: a Room's `opened` is this tick when it was last opened
    resumed: null, // the rooms the last hello resumed (helloResume), until its welcome
    catchingUp: new Set(), // rooms the welcome's hello resumed, until their catch-up starts
    roomsListed: false, // every room of the user has been listed since the last welcome
    contactsListing: null, // {after, waiting, removed}: the welcome's contacts being paged in
    outbox: saved, // see outbox.js
    reads: new Map(), // room -> {seq, sent}: a read marker not yet acknowledged
    lastTyping: new Map(), // room -> ms when `typing` was last sent
    scrollTick: 0, // bumped when the message list should scroll to its end
    editing: null, // {room, msgId}: the message being edited in place
    jump: { room: null, msgId: null, tick: 0 }, // show this message (tick: each time asked)
    drafts, // room -> what its message box holds, not sent yet (drafts.js)
    // The server's copy of the drafts: times, what it has, what is typed now (drafts.js).
    draftSync: drafting.emptySync(draftTimes, draftsSyncedAt, draftsUnsaved),
    sighted: new Map(), // room -> seqs seen on screen, after its read marker (readmarks.js)
    maxText: 4000, // the longest message the server takes (welcome's max_text_chars if given)
    // The largest room where any member may mention a group (welcome's group_mention_members;
    // null: not said, and then only the room's moderators are offered @room and @here).
    groupMentionMembers: null,
    uploads: kept, // files attached in message boxes, by room (uploads.js; kept: drafts.js)
    links: linkCache.emptyLinks(), // signed links to the files drawn (links.js)
    seen, // room -> what the page last saw of it, or null (missed.js)
    away: null, // [{room, missed}]: what the welcome's rooms missed, until the list is in
    late: new Map(), // room -> {mention, dm, message}: counted, not alerted, until caught up
    // ms to add to the page's clock for the server's (clock.js), measured at each welcome:
    // every `now` given to this module is on the server's clock, as every `ts` is.
    clockOffset: 0,
    // ms on the server's clock until which the person's notifications are paused (set_dnd;
    // alerts.js `paused`), or null: the welcome and the `dnd` event say it.
    dndUntil: null,
    // When this connection's welcome was written, on the server's clock (its `now`): a live
    // @here message sent after it mentioned this person, who was online then.
    onlineSince: null,
    // Display names and custom statuses, and the names still to ask for (profiles.js).
    profiles: profiling.emptyProfiles(),
    // The server's custom emoji (emoji.js): asked after each welcome, kept by events.
    customEmoji: customEmoji.emptyEmoji(),
    // The server's user groups (usergroups.js): asked after each welcome, kept by events.
    userGroups: grouping.emptyGroups(),
    // The other members' read markers in conversations, and the person's setting (receipts.js).
    receipts: receipting.emptyReceipts(),
    // The person's own sections of the sidebar, and whether the server keeps them (sections.js).
    sections: sectioning.emptySections(),
    // The person's notification keywords (keywords.js): null until the welcome says them.
    keywords: keywording.emptyKeywords(),
  };
}

const request = (op, fields = {}) => ({ request: { op, ...fields } });
const online = (state) => state.connection === "online";
const isSeq = (value) => Number.isSafeInteger(value) && value >= 0;

// -- server frames ---------------------------------------------------------------------------

/**
 * Apply a frame from the server. `request` is the request a reply (`ok` or `error`) answers,
 * null for an event; `now` is the time in ms, on the server's clock as the page reckons it
 * (clock.js); for a welcome, `sent` is when its hello was sent, on the same clock. Returns
 * the effects to perform. Frames of unknown ops and replies to unknown requests change
 * nothing (the protocol asks clients to ignore what they do not know).
 */
export function apply(state, frame, { request: asked = null, now = 0, sent = null } = {}) {
  if (!frame || typeof frame !== "object") return [];
  if (asked) {
    const table = frame.op === "error" ? REFUSED : ANSWERED;
    const handler = table[asked.op];
    const effects = handler ? handler(state, asked, frame, now) : [];
    return PROFILE_FRAMES.has(asked.op) ? [...effects, ...statusTimer(state, now)] : effects;
  }
  const handler = EVENTS[frame.op];
  // A room's first entry after the welcome starts its catch-up (a resumed room's replay),
  // or follows it: a `gap` of the room from then on is no resume's (`gap`).
  if (LOG_ENTRIES.has(frame.op) && typeof frame.room === "string") {
    state.catchingUp.delete(frame.room);
  }
  const effects = handler ? handler(state, frame, now, sent) : [];
  return PROFILE_FRAMES.has(frame.op) ? [...effects, ...profilesDue(state, frame, now)]
    : effects;
}

/**
 * A live `message` frame, marked `hereMe` when it is an @here of another member sent while
 * this page was connected: the server counted this person among the members online then
 * (entries.js groupMentions). A message replayed from before the welcome is not marked: the
 * room object's count says whether it mentioned them.
 */
export function hereFor(state, frame) {
  if (frame.group !== "here" || typeof frame.from !== "string" || sameUser(frame.from, state.me)
      || state.onlineSince === null || !(frame.ts >= state.onlineSince)) return frame;
  return { ...frame, hereMe: true };
}

/** The ops of the entries of a room's log, as events (docs/protocol.md). */
const LOG_ENTRIES = new Set(["message", "edited", "deleted", "reaction", "topic", "role",
  "banned", "unbanned", "kicked", "archived", "preview", "pinned", "voted", "poll_closed"]);

/**
 * The `resume` of the hello about to be sent (select.js resumePoints), remembered for its
 * welcome: the rooms it does not name are followed afresh then.
 */
export function helloResume(state, most = undefined) {
  const resume = resumePoints(state, most);
  state.resumed = new Set(Object.keys(resume));
  return resume;
}

const EVENTS = {
  welcome(state, frame, now, sent) {
    // The server's clock, as it wrote the welcome: what every `ts` is compared with from now on.
    state.clockOffset = corrected(state.clockOffset, frame.now, sent, now);
    state.onlineSince = Number.isFinite(frame.now) ? frame.now : null;
    state.me = frame.user && typeof frame.user.name === "string" ? frame.user.name : state.me;
    state.admin = Boolean(frame.user && frame.user.admin === true);
    // Before anything below may alert: a pause of notifications silences what was missed too.
    state.dndUntil = alerts.pauseOf(frame.user && frame.user.dnd_until);
    // (The conversations' markers are asked again once shown: connectionChanged forgot them.)
    receipting.confirmShare(state.receipts, receipting.shareOf(frame.user));
    keywording.welcomed(state.keywords, frame); // (before anything below may alert)
    profiling.welcomed(state.profiles);
    if (frame.user && typeof frame.user.name === "string") {
      profiling.learn(state.profiles, frame.user.name, frame.user);
    }
    state.connection = "online";
    state.closeReason = "";
    if (Number.isSafeInteger(frame.group_mention_members) && frame.group_mention_members >= 0) {
      state.groupMentionMembers = frame.group_mention_members;
    }
    if (HISTORY_MODES.includes(frame.edit_history)) state.editHistory = frame.edit_history;
    if (Number.isSafeInteger(frame.max_text_chars) && frame.max_text_chars > 0) {
      state.maxText = frame.max_text_chars;
    }
    // Presence events never tell us about ourselves; idle or not, as the page is now.
    setPresence(state, state.me, state.idle ? "away" : "online");
    // What the page saw of each room, before this welcome's objects say what came since.
    state.seen = missed.remember(state);
    state.away = state.away || []; // what a listing cut short noted stays to be told
    // The rooms the hello did not resume are followed afresh from their room objects (this
    // welcome's, or a later page's), as on a first load: what they held would have a hole.
    const resumed = state.resumed || new Set(Object.keys(resumePoints(state)));
    state.resumed = null;
    state.catchingUp = new Set(resumed);
    for (const room of state.rooms.values()) {
      if (!room.draft && room.head !== null && !resumed.has(room.name)) room.unfollow();
    }
    const listed = new Set();
    const effects = [];
    let last = null;
    for (const info of Array.isArray(frame.rooms) ? frame.rooms : []) {
      if (!info || typeof info.room !== "string") continue;
      listed.add(info.room);
      last = info.room;
      const unseen = replayless(state, info.room);
      const room = roomFor(state, info.room);
      const back = movedBack(state, room, info);
      room.applyInfo(info, { me: state.me });
      if (back) keepUnread(state, room, info.read_seq, info);
      if (unseen) noteMissed(state, room, info);
    }
    // With more pages to come, a room not listed yet may be on one of them: it is gone only
    // once the whole list is in (listingDone).
    const more = frame.rooms_more === true && last !== null;
    const unlisted = new Set();
    for (const [name, room] of state.rooms) {
      if (!listed.has(name) && !room.draft && !more) {
        forgetRoom(state, name); // left or removed while away
        if (!isConversation(room)) effects.push({ toast: `You are no longer a member of #${name}` });
        continue;
      }
      if (!listed.has(name) && !room.draft) unlisted.add(name);
      room.members = null; // may have changed while away: asked again when shown
      room.loading = false;
      room.loadingOlder = false;
    }
    // The person's sections (a server that keeps none says no `sections`): one deleted while
    // away takes its rooms back to their lists (those the welcome listed say so themselves).
    sectioning.emptied(state.rooms.values(), sectioning.welcomed(state.sections, frame));
    state.listing = more ? { after: last, waiting: false, unlisted, gone: new Set(),
      early: new Map(), alerts: [], refresh: false, skipped: new Set() } : null;
    state.roomsListed = !more;
    state.contacts = [];
    for (const contact of Array.isArray(frame.contacts) ? frame.contacts : []) {
      if (!contact || typeof contact.user !== "string") continue;
      state.contacts.push(contact.user);
      setPresence(state, contact.user, contact.status);
    }
    const lastContact = state.contacts.length ? state.contacts[state.contacts.length - 1] : null;
    state.contactsListing = frame.contacts_more === true && lastContact !== null
      ? { after: lastContact, waiting: false, removed: new Set() } : null;
    if (state.current !== null && !state.rooms.has(state.current)) state.current = null;
    // The first room opens (as the sidebar sorts them: rooms, then conversations); when the
    // page lists only conversations (they sort first by name) and more follow, a room may be
    // on a later page: the first one opens once the whole list is in (listingDone).
    const first = state.current === null ? firstRoom(state) : null;
    if (first && !(more && isConversation(first))) {
      state.current = first.name;
      first.opened = (state.opened += 1);
      state.divider = first.unread > 0 ? first.readSeq : null;
      state.repliesSince = first.readSeq;
    }
    if (state.current !== null) effects.push(...loadRoom(state, state.current, { members: true }));
    // What was not acknowledged goes out again, in order, with the same nonces.
    for (const item of outbox.toResend(state.outbox)) effects.push(...transmit(state, item.nonce));
    for (const room of state.rooms.values()) effects.push(...settle(state, room));
    effects.push(...flushReads(state));
    effects.push(...listRooms(state), ...listContacts(state));
    // The pins shown may have changed while away (a room not resumed replays nothing).
    if (state.pinsPanel.shown) effects.push(...openPins(state));
    // So may the thread shown: its first page is asked again.
    if (state.threadPanel.shown && state.threadPanel.room !== null
        && state.rooms.has(state.threadPanel.room)) {
      effects.push(request("thread", threading.begin(state.threadPanel, state.threadPanel.room,
        state.threadPanel.rootId, { root: state.threadPanel.root })));
    }
    // What the person saved (and what was reminded) may have changed while away: walked again.
    // A server that keeps no saved messages says no `reminders_due`: nothing is asked.
    state.saved.supported = Number.isSafeInteger(frame.reminders_due);
    if (state.saved.supported) {
      effects.push(request("saved_items", saving.begin(state.saved, frame.reminders_due)));
    }
    // The followed threads: the first page (the sidebar's count, the Threads view).
    if (state.inbox.supported) {
      effects.push(request("threads", inboxing.welcomed(state.inbox, frame.threads_unread)));
    }
    // The scheduled messages: the counts are the welcome's; the list is asked for if any.
    const listing = scheduling.welcomed(state.scheduled, frame);
    if (listing) effects.push(request("scheduled_items", listing));
    if (!more) effects.push(...tellMissed(state, now));
    effects.push(...pauseEnds(state, now));
    // The person came back (or left) while the hello was on its way: say so now.
    if (state.saidIdle !== state.idle) effects.push(request("idle", { idle: state.idle }));
    // Custom emoji added or removed while away are not replayed: the list is asked again.
    effects.push(request("custom_emoji"));
    // So are drafts saved or sent on other devices: the server's list, merged (drafts.js).
    effects.push(request("drafts"));
    // So are user groups (their `you` says which of a message's groups mention this person).
    effects.push(request("user_groups", grouping.begin(state.userGroups)));
    if (state.userGroups.open) {
      effects.push(request("user_group", grouping.openGroup(state.userGroups,
        state.userGroups.open.name))); // and the members the panel shows
    }
    return effects;
  },

  custom_emoji(state, frame) {
    // One added (its url) or removed (url null), by anyone, on any node.
    customEmoji.changed(state.customEmoji, frame);
    return [];
  },

  user_group(state, frame) {
    // One created, changed or deleted, by anyone, on any node.
    grouping.changed(state.userGroups, frame, state.me);
    return [];
  },

  dnd(state, frame, now) {
    // The person paused or resumed their notifications (here or on another device).
    state.dndUntil = alerts.pauseOf(frame.until);
    return pauseEnds(state, now);
  },

  message(state, frame, now) {
    if (typeof frame.room !== "string" || !isSeq(frame.seq)) return [];
    const known = state.rooms.get(frame.room);
    const fresh = !known || !(known.messages.has(frame.seq) || known.changes.has(frame.seq));
    const effects = receive(state, frame.room,
      [grouping.stamp(state.userGroups, hereFor(state, frame), state.me)]);
    const room = state.rooms.get(frame.room);
    if (!fresh || !room) return effects;
    if (awaited(state, room)) {
      // Its level (and read marker) come with its room object: alert then, if at all.
      state.listing.alerts.push({ room: room.name, seq: frame.seq });
      return effects;
    }
    return [...effects, ...alertsFor(state, room, room.messages.get(frame.seq), now)];
  },

  favourite(state, frame) {
    // The person starred or unstarred a room, on another device or here (this page's own
    // change comes back as this event, with when it was marked, then as its reply).
    const room = state.rooms.get(frame.room);
    if (!room || typeof frame.on !== "boolean") return [];
    starring.confirm(room, frame.on, starring.markedAtOf(frame));
    return [];
  },

  seen(state, frame) {
    // Another member of a conversation read it up to `seq` (receipts.js). One the page does
    // not hold yet: its markers are asked when it is shown.
    if (state.rooms.has(frame.room)) receipting.seenEvent(state.receipts, frame, state.me);
    return [];
  },

  read_receipts(state, frame) {
    // The person turned the sharing of their read receipts on or off (here or elsewhere).
    if (typeof frame.on === "boolean") receipting.confirmShare(state.receipts, frame.on);
    return [];
  },

  draft(state, frame, now) {
    // A draft of the person's was saved on another device, or cleared by a message sent.
    const entry = drafting.draftEntry(frame);
    if (entry) drafting.heard(state, entry.key, entry.text, entry.at, now);
    return [];
  },

  keywords(state, frame) {
    // The person changed their notification keywords (here or on another device).
    keywording.confirm(state.keywords, keywording.listOf(frame.keywords));
    return [];
  },

  sections(state, frame) {
    // The person's list of sections after a change to it (created, renamed, collapsed, moved,
    // deleted), here or on another device: a deleted one's rooms are back in their lists.
    const list = sectioning.listOf(frame);
    if (!list) return [];
    state.sections.supported = true; // (a server that says so keeps them)
    sectioning.emptied(state.rooms.values(), sectioning.confirmList(state.sections, list));
    return [];
  },

  section(state, frame) {
    // The person moved a room into a section, or back to its list (here or on another device).
    const room = state.rooms.get(frame.room);
    if (!room || !("section" in frame)) return [];
    sectioning.confirmRoom(room, sectioning.sectionIdOf(frame));
    return [];
  },

  hidden(state, frame) {
    // The person closed a conversation, or started it again (here or on another device).
    const room = state.rooms.get(frame.room);
    if (!room || !isConversation(room)) return [];
    hiding.setHidden(room, hiding.hiddenSeqOf(frame));
    return leaveClosed(state, room);
  },

  notify(state, frame) {
    // This person's notification level of a room changed (here or on another device).
    const room = state.rooms.get(frame.room);
    if (!alerts.isLevel(frame.notify)) return [];
    if (room) room.setNotify(frame.notify, { confirmed: true });
    else early(state, frame.room).notify = frame.notify; // for its room object, on its way
    return [];
  },

  edited: (state, frame, now) => changed(state, grouping.stamp(state.userGroups, frame,
    state.me), now),
  deleted: changed,
  reaction: changed,
  preview: changed,
  pinned: changed,
  voted: changed,
  poll_closed: changed,
  topic: changed,
  // Moderation entries: a line in the conversation (store.js), and a ban or kick of this user
  // takes the room off the page with a word of why.
  role: changed,
  banned: removedBy,
  unbanned: changed,
  kicked: removedBy,
  archived: changed,

  thread_state(state, frame) {
    // The person followed, unfollowed or read a thread (here or on another device).
    inboxing.threadState(state.inbox, frame);
    return wantedThreads(state);
  },

  saved(state, frame) {
    // The person saved, re-timed or removed a message (here or on another device).
    const held = heldByName(state, frame.room, frame.msg_id);
    return saving.savedEvent(state.saved, frame, held) ? peekSaved(state) : [];
  },

  scheduled(state, frame, now) {
    // A scheduled message of the person's changed (here or on another device); one that could
    // not be sent at its time is told.
    const item = scheduling.scheduledEvent(state.scheduled, frame);
    if (!item || frame.action !== "failed") return [];
    const why = item.error && item.error.message ? `: ${item.error.message}` : "";
    return [{ toast: `Your scheduled message to ${alerts.placeLabel(state, item.room)} could not be `
      + `sent${why}. Edit or delete it in Scheduled.` }];
  },

  reminder(state, frame, now) {
    // A reminder the person set came due: the item is overdue now, and they are told.
    if (typeof frame.room !== "string" || !Number.isSafeInteger(frame.msg_id)) return [];
    const known = saving.shownItem(state.saved, frame.room, frame.msg_id);
    if (known && known.reminded && known.remind_at === frame.remind_at) return []; // told
    const effects = saving.reminderEvent(state.saved, frame) ? peekSaved(state) : [];
    return [...effects, ...remind(state, frame, now)];
  },

  room_deleted(state, frame) {
    if (typeof frame.room !== "string") return [];
    if (!state.rooms.has(frame.room)) {
      if (state.listing) state.listing.gone.add(frame.room); // not to be listed by a late page
      return [];
    }
    forgetRoom(state, frame.room);
    const by = typeof frame.by === "string" && frame.by ? frame.by : "An administrator";
    state.farewell = `${by} deleted #${frame.room}`;
    return [{ toast: state.farewell }, ...openNext(state)];
  },

  presence(state, frame) {
    if (typeof frame.user === "string") setPresence(state, frame.user, frame.status);
    return [];
  },

  profile(state, frame) {
    // Someone's display name or status changed (or one's own, on another device).
    if (typeof frame.user === "string") profiling.learn(state.profiles, frame.user, frame);
    return [];
  },

  typing(state, frame, now) {
    const room = state.rooms.get(frame.room);
    if (room && typeof frame.user === "string" && !sameUser(frame.user, state.me)) {
      for (const [user, until] of room.typing) if (until <= now) room.typing.delete(user);
      room.typing.set(frame.user, now + TYPING_SHOW_MS);
    }
    return [];
  },

  read(state, frame) {
    // Another connection of this user moved the marker.
    const room = state.rooms.get(frame.room);
    if (typeof frame.room !== "string" || !isSeq(frame.seq)) return [];
    if (frame.back === true) {
      // Marked unread there: follow it back, and keep it unread here too.
      if (room) keepUnread(state, room, frame.seq, frame);
      return [];
    }
    if (!room) {
      const held = early(state, frame.room); // for its room object, on its way
      held.read = Math.max(held.read || 0, frame.seq);
      return [];
    }
    // Read on another device after it was marked unread: dealt with there, so read as usual
    // here again.
    if (room.markRead(frame.seq, state.me)) room.keptUnread = false;
    const pending = state.reads.get(frame.room);
    if (pending && pending.sent === null && pending.seq <= frame.seq) {
      state.reads.delete(frame.room); // nothing left to tell the server
    }
    return [{ readElsewhere: { room: frame.room, seq: frame.seq } }];
  },

  joined(state, frame, now) {
    if (typeof frame.room !== "string" || typeof frame.user !== "string") return [];
    const room = state.rooms.get(frame.room);
    if (sameUser(frame.user, state.me)) {
      present(state, frame.room);
      if (room) return [];
      roomFor(state, frame.room).announced = true;
      const effects = refresh(state, frame.room);
      if (frame.by) effects.push({ toast: `${frame.by} added you to #${frame.room}` });
      return effects;
    }
    if (!room) return [];
    if (room.members && !room.members.some((m) => sameUser(m.user, frame.user))) {
      if (room.memberCount !== null) room.memberCount += 1;
      // A partial list (more pages) takes a newcomer only within the pages it has: one who
      // sorts after its last member comes with a later page.
      const last = room.members.length ? room.members[room.members.length - 1].user : "";
      if (!room.membersMore || byName(frame.user, last) < 0) {
        room.members.push({ user: frame.user, role: "member" }); // a newcomer is a member
        room.members.sort((a, b) => byName(a.user, b.user));
      }
    }
    addNotice(room, frame.by ? `${frame.by} added ${frame.user}` : `${frame.user} joined`, now);
    if (presenceOf(state, frame.user) !== null) return [];
    // Someone who joined is connected; someone added by another may not be: ask the room.
    if (!frame.by) {
      setPresence(state, frame.user, "online");
      return [];
    }
    return room.members ? [request("who", { room: frame.room })] : [];
  },

  left(state, frame, now) {
    const room = state.rooms.get(frame.room);
    if (!room && state.listing && typeof frame.room === "string"
        && sameUser(frame.user, state.me)) {
      state.listing.gone.add(frame.room); // not to be listed by a late page
    }
    if (!room || typeof frame.user !== "string") return [];
    if (sameUser(frame.user, state.me)) {
      const removal = room.removal || { banned: false, reason: "" };
      const why = removal.reason ? `: ${removal.reason}` : "";
      const said = frame.by ? `${frame.by} ${removal.banned ? "banned" : "removed"
      } you from #${frame.room}${why}` : "";
      const effects = said ? [{ toast: said }] : [];
      state.farewell = said;
      forgetRoom(state, frame.room);
      return [...effects, ...openNext(state)];
    }
    if (room.members) room.members = room.members.filter((m) => !sameUser(m.user, frame.user));
    if (room.memberCount !== null) room.memberCount = Math.max(0, room.memberCount - 1);
    const told = Boolean(frame.by) && room.removed.delete(frame.user.toLowerCase());
    if (!told) {
      addNotice(room, frame.by ? `${frame.by} removed ${frame.user}` : `${frame.user} left`, now);
    }
    return [];
  },

  gap(state, frame, now) {
    // More was missed than the resume replays: page it in with `history` after=…
    const room = state.rooms.get(frame.room);
    if (!room || !isSeq(frame.after)) return [];
    // The resume's gap (the room's catch-up) tells what the room missed while away; a live
    // one (a node that could not deliver a stretch) does not: that is no absence's news.
    const resumed = state.catchingUp.delete(room.name);
    return [request("history", { room: frame.room, after: frame.after, limit: GAP_PAGE }),
      ...(resumed ? tellSkipped(state, room, null, now) : [])];
  },

  error(state, frame) {
    // An error with no id: the connection closes after these; the banner tells why.
    if (frame.code === "shutting_down") state.closeReason = "The server is restarting.";
    else if (frame.code === "slow_consumer") state.closeReason = "Fell behind the server.";
    else if (frame.message) return [{ toast: String(frame.message) }];
    return [];
  },
};

/** `ok` replies, by the op of the request they answer. */
const ANSWERED = {
  custom_emoji(state, asked, reply) {
    customEmoji.received(state.customEmoji, reply);
    return [];
  },

  user_groups(state, asked, reply) {
    grouping.received(state.userGroups, reply, state.me);
    return [];
  },

  user_group(state, asked, reply) {
    grouping.membersReceived(state.userGroups, asked, reply, state.me);
    return [];
  },

  history(state, asked, reply) {
    const room = state.rooms.get(asked.room);
    if (!room) return [];
    const messages = (Array.isArray(reply.messages) ? reply.messages : [])
      .filter((m) => m && isSeq(m.seq));
    panelEntries(state, room, messages, { live: false });
    if (asked.after !== undefined) {
      // Filling a gap: go on from the last one received while there is more.
      room.add(messages, state.me);
      const effects = settle(state, room);
      if (!reply.more || !messages.length) return effects;
      const after = messages[messages.length - 1].seq;
      return [...effects, request("history", { room: asked.room, after, limit: GAP_PAGE })];
    }
    if (asked.before !== undefined) {
      room.loadingOlder = false;
      room.more = Boolean(reply.more);
      room.add(messages, state.me);
      return [...settle(state, room), ...seekOlder(state, room)];
    }
    room.loading = false;
    room.loaded = true;
    room.more = Boolean(reply.more);
    room.add(messages, state.me);
    if (state.current === room.name) state.scrollTick += 1;
    return [...settle(state, room), ...seekOlder(state, room)];
  },

  who(state, asked, reply) {
    const room = state.rooms.get(asked.room);
    const members = (Array.isArray(reply.members) ? reply.members : [])
      .filter((m) => m && typeof m.user === "string");
    for (const member of members) {
      setPresence(state, member.user, member.status);
      profiling.learn(state.profiles, member.user, member);
    }
    if (!room) return [];
    const page = members.map((m) => ({ user: m.user,
      role: ["owner", "moderator", "member"].includes(m.role) ? m.role : null,
      deactivated: m.deactivated === true }));
    if (asked.after && room.members) {
      // A next page: after the last one this list has (joined/left kept it up to date).
      const known = new Set(room.members.map((m) => m.user.toLowerCase()));
      room.members.push(...page.filter((m) => !known.has(m.user.toLowerCase())));
    } else {
      room.members = page;
    }
    // A server before paging sends every member and no count.
    room.memberCount = Number.isInteger(reply.count) ? reply.count : room.members.length;
    room.membersMore = reply.more === true;
    room.loadingMembers = false;
    return [];
  },

  send: acked,
  dm: acked,
  edit: changeAcked,
  delete: changeAcked,
  react: changeAcked,
  pin: changeAcked,
  vote: changeAcked,
  close_poll: changeAcked,

  thread(state, asked, reply) {
    const taken = threading.received(state.threadPanel, asked, reply);
    const room = state.rooms.get(asked.room);
    // Paging back towards a reply to show (a quote's, a result's), until held.
    const fields = taken ? threading.towardsTarget(state.threadPanel) : null;
    return [...(room ? settle(state, room) : []), ...(fields ? [request("thread", fields)] : [])];
  },

  pins(state, asked, reply) {
    const panel = state.pinsPanel;
    const whole = pinning.answers(panel, asked) && asked.before === undefined
      && reply.more !== true && Array.isArray(reply.messages) && isSeq(reply.last_seq);
    const again = pinning.received(panel, asked, reply);
    const room = state.rooms.get(asked.room);
    if (whole && room) {
      // Every pin of the room, as of its last_seq: the count, as a room object would say it.
      room.countPins({ pins: reply.messages.filter(pinning.isPinned).length,
        last_seq: reply.last_seq });
    }
    return again ? [request("pins", again)] : [];
  },

  read(state, asked, reply) {
    const room = state.rooms.get(asked.room);
    if (room && isSeq(reply.seq)) room.markRead(reply.seq, state.me);
    const pending = state.reads.get(asked.room);
    if (!pending) return [];
    if (pending.seq <= Math.max(asked.seq, isSeq(reply.seq) ? reply.seq : 0)) {
      state.reads.delete(asked.room);
      return [];
    }
    pending.sent = null; // a later marker came while this one was on its way: send it now
    return flushReads(state);
  },

  // "Mark all as read": each room moved, to where the server put it (readmarks.js).
  read_all: (state, asked, reply) => allRead(state, reply),

  unread(state, asked, reply) {
    // Where the server put the marker, with its counts from there: they replace the guess.
    const room = state.rooms.get(asked.room);
    if (room && isSeq(reply.seq)) keepUnread(state, room, reply.seq, reply);
    return [];
  },

  rooms(state, asked, reply, now) {
    const listed = Array.isArray(reply.rooms) ? reply.rooms : [];
    if (isListingPage(state, asked)) return listingPage(state, listed, reply.more === true, now);
    for (const info of listed) {
      const room = info && state.rooms.get(info.room);
      if (room && info.member) room.applyInfo(info, { me: state.me });
    }
    // The list is paged by name: a refresh of one's rooms goes on after the last one.
    const last = listed.length ? listed[listed.length - 1] : null;
    if (asked.joined === true && reply.more === true && last && typeof last.room === "string") {
      return [request("rooms", { joined: true, after: last.room })];
    }
    return [];
  },

  contacts(state, asked, reply) {
    const listing = state.contactsListing;
    if (!listing || !listing.waiting || asked.after !== listing.after) return [];
    listing.waiting = false;
    let last = null;
    for (const contact of Array.isArray(reply.contacts) ? reply.contacts : []) {
      if (!contact || typeof contact.user !== "string") continue;
      last = contact.user;
      if (listing.removed.has(contact.user.toLowerCase())) continue; // removed meanwhile
      if (!state.contacts.some((c) => sameUser(c, contact.user))) state.contacts.push(contact.user);
      setPresence(state, contact.user, contact.status);
      profiling.learn(state.profiles, contact.user, contact);
    }
    if (reply.more === true && last !== null && byName(last, listing.after) > 0) {
      listing.after = last;
      return listContacts(state);
    }
    state.contactsListing = null;
    return [];
  },

  create_room(state, asked, reply) {
    const info = reply.room;
    if (!info || typeof info.room !== "string") return [];
    present(state, info.room);
    const room = roomFor(state, info.room);
    room.applyInfo(info, { me: state.me });
    room.loaded = true;
    room.members = [{ user: state.me }];
    return selectRoom(state, room.name);
  },

  // Joining with a room link (roomlinks.js) is answered as a join is.
  join_link(state, asked, reply) {
    return ANSWERED.join(state, asked, reply);
  },

  join(state, asked, reply) {
    if (typeof reply.room !== "string") return [];
    // New to this page, or only announced by our own `joined` event, which can come before
    // this reply (a room refresh may have filled it in since): a room just joined.
    const known = state.rooms.get(reply.room);
    const joined = !known || (known.announced && !known.loaded);
    present(state, reply.room);
    const room = roomFor(state, reply.room);
    room.private = Boolean(reply.private);
    if (!isSeq(reply.last_seq) || reply.last_seq >= room.topicSeq) {
      room.topic = reply.topic || "";
      room.topicSeq = isSeq(reply.last_seq) ? reply.last_seq : room.topicSeq;
    }
    if (alerts.isLevel(reply.notify)) room.setNotify(reply.notify, { confirmed: true });
    if (!isSeq(reply.last_seq) || reply.last_seq >= room.statusSeq) {
      if (["owner", "moderator", "member"].includes(reply.role)) room.role = reply.role;
      if (typeof reply.archived === "boolean") room.archived = reply.archived;
      if (isSeq(reply.last_seq)) room.statusSeq = reply.last_seq;
    }
    room.follow(isSeq(reply.last_seq) ? reply.last_seq : 0);
    room.add((Array.isArray(reply.messages) ? reply.messages : []).filter((m) => m && isSeq(m.seq)),
      state.me);
    room.loaded = true;
    room.more = Boolean(reply.more);
    room.members = null;
    const effects = [...refresh(state, room.name), ...settle(state, room)];
    if (joined && isSeq(reply.last_seq) && reply.last_seq > room.readSeq) {
      // A room just joined has nothing unread: what was said before is its history.
      room.markRead(reply.last_seq, state.me);
      state.reads.set(room.name, { seq: reply.last_seq, sent: null });
      effects.push(...flushReads(state));
    }
    return [...effects, ...selectRoom(state, room.name)];
  },

  leave(state, asked) {
    forgetRoom(state, asked.room); // the `left` event may have done so already
    return [{ toast: `You left #${asked.room}` }, ...openNext(state)];
  },

  invite(state, asked, reply) {
    return [{ toast: `${reply.user || asked.user} is now a member of #${asked.room}` }];
  },

  add_contact(state, asked, reply) {
    if (typeof reply.user !== "string") return [];
    if (state.contactsListing) state.contactsListing.removed.delete(reply.user.toLowerCase());
    if (!state.contacts.some((c) => sameUser(c, reply.user))) state.contacts.push(reply.user);
    setPresence(state, reply.user, reply.status);
    profiling.learn(state.profiles, reply.user, reply);
    return [];
  },

  remove_contact(state, asked) {
    state.contacts = state.contacts.filter((c) => !sameUser(c, asked.user));
    if (state.contactsListing && typeof asked.user === "string") {
      state.contactsListing.removed.add(asked.user.toLowerCase()); // a late page may list them
    }
    return [];
  },

  hide(state, asked, reply) {
    const room = state.rooms.get(asked.room);
    if (room) hiding.setHidden(room, hiding.hiddenSeqOf(reply));
    return [];
  },

  favourite(state, asked, reply) {
    const room = state.rooms.get(asked.room);
    const on = typeof reply.favourite === "boolean" ? reply.favourite : asked.on === true;
    if (room) starring.answered(room, on);
    return [];
  },

  receipts(state, asked, reply) {
    // The other members' markers of a conversation (the readers of a message are the
    // "Read by…" popup's, controller.js: their names are learnt for it).
    if (asked.msg_id === undefined || asked.msg_id === null) {
      if (state.rooms.has(asked.room)) {
        receipting.positionsReceived(state.receipts, asked.room, reply.positions, state.me);
      }
      return [];
    }
    const users = Array.isArray(reply.users) ? reply.users.filter((u) => typeof u === "string")
      : [];
    return wantProfiles(state, users);
  },

  set_read_receipts(state, asked, reply) {
    receipting.shareAnswered(state.receipts, typeof reply.on === "boolean" ? reply.on
      : asked.on === true);
    return [];
  },

  drafts(state, asked, reply, now) {
    return draftsListed(state, reply, now);
  },

  set_draft(state, asked, reply, now) {
    // Stored as asked (or it was so already): the server has that text now.
    const key = drafting.keyOf(asked.room, asked.thread ?? null);
    const sync = state.draftSync;
    if (asked.text) sync.server.set(key, asked.text);
    else sync.server.delete(key);
    sync.syncedAt = Math.max(sync.syncedAt ?? 0, now);
    // (Its own text: never taken for another device's newer one, whatever its time.)
    sync.serverAt.delete(key);
    if (draftOf(state, key) === asked.text) {
      drafting.markSaved(sync, key, true);
      if (Number.isSafeInteger(reply.updated_at)) sync.times.set(key, reply.updated_at);
    }
    sync.full = false;
    return [];
  },

  set_keywords(state, asked, reply) {
    // The list as stored (trimmed, duplicates folded); as asked, from a reply without it.
    keywording.answered(state.keywords, keywording.listOf(reply.keywords)
      ?? keywording.listOf(asked.keywords));
    return [];
  },

  create_section(state, asked, reply) {
    return sectionsSaid(state, reply);
  },

  edit_section(state, asked, reply) {
    // A collapse or a move was shown already (`pending`); a rename waited in its dialog.
    if (!shownAtOnce(asked)) return sectionsSaid(state, reply);
    sectioning.emptied(state.rooms.values(),
      sectioning.listAnswered(state.sections, asked, sectioning.listOf(reply)));
    return [];
  },

  delete_section(state, asked, reply) {
    return sectionsSaid(state, reply);
  },

  set_section(state, asked, reply) {
    const room = state.rooms.get(asked.room);
    if (room) {
      sectioning.roomAnswered(room, { section: "section" in reply
        ? sectioning.sectionIdOf(reply) : sectioning.sectionIdOf(asked) });
    }
    return [];
  },

  set_notify(state, asked, reply) {
    const room = state.rooms.get(asked.room);
    const level = alerts.isLevel(reply.notify) ? reply.notify : asked.notify;
    if (room && alerts.isLevel(level)) room.setNotify(level, { confirmed: true });
    return [];
  },

  set_dnd(state, asked, reply, now) {
    // (The `dnd` event says the same, before or after this reply.)
    state.dndUntil = alerts.pauseOf(reply.until);
    return pauseEnds(state, now);
  },

  search(state, asked, reply) {
    searching.received(state.search, asked, reply);
    return [];
  },

  saved_items(state, asked, reply) {
    const next = saving.received(state.saved, asked, reply);
    return next ? [request("saved_items", next)] : [];
  },

  threads(state, asked, reply) {
    if (inboxing.received(state.inbox, asked, reply, state.me)) {
      // The roots as the page holds them may be newer than the listing's.
      for (const t of state.inbox.threads.values()) {
        const held = heldByName(state, t.room, t.rootId);
        if (held) inboxing.rootSeen(state.inbox, t.room, held);
      }
    }
    return wantedThreads(state);
  },

  follow_thread(state, asked, reply) {
    inboxing.threadState(state.inbox, { room: asked.room, msg_id: reply.msg_id ?? asked.msg_id,
      following: reply.following, read_seq: reply.read_seq });
    return wantedThreads(state);
  },

  read_thread() {
    return []; // (counted as read when asked; its thread_state says it to the other tabs)
  },

  scheduled_items(state, asked, reply) {
    scheduling.received(state.scheduled, reply);
    return [];
  },

  schedule(state, asked, reply, now) {
    scheduling.released(state.scheduled, asked); // (the item holds them now)
    scheduling.scheduledOk(state.scheduled, asked, reply);
    return [];
  },

  edit_scheduled(state, asked, reply) {
    scheduling.changed(state.scheduled, asked, reply);
    return [];
  },

  cancel_scheduled(state, asked, reply) {
    scheduling.changed(state.scheduled, asked, reply);
    return [];
  },

  save(state, asked, reply) {
    const held = heldByName(state, asked.room, asked.msg_id);
    return saving.acknowledged(state.saved, asked, reply, held) ? peekSaved(state) : [];
  },

  profiles(state, asked, reply) {
    profiling.received(state.profiles, namesAsked(asked), profilesIn(reply));
    return [];
  },

  set_profile(state, asked, reply) {
    // The profile as stored (the `profile` event says the same, before or after this reply).
    const stored = reply.profile && typeof reply.profile === "object" ? reply.profile : reply;
    profiling.learn(state.profiles, typeof stored.user === "string" ? stored.user : state.me,
      stored);
    return [];
  },
};

/** `error` replies, by the op of the request they answer (the others need nothing). */
const REFUSED = {
  user_groups(state, asked, error) {
    // A server without user groups refuses the request: the page has none then.
    grouping.failed(state.userGroups, grouping.messageOf(error));
    return [];
  },

  user_group(state, asked, error) {
    grouping.membersFailed(state.userGroups, asked, error);
    return [];
  },

  history(state, asked, error) {
    const room = state.rooms.get(asked.room);
    if (!room || asked.after !== undefined) return []; // a gap: the resume point stays before it
    const away = error.code === "disconnected";
    if (asked.before !== undefined) {
      room.loadingOlder = false;
      room.seeking = null;
      room.seekSeq = null;
      return away ? [] : [{ toast: `Cannot load older messages: ${error.message}` }];
    }
    room.loading = false;
    return away ? [] : [{ toast: `Cannot open ${asked.room}: ${error.message}` }];
  },

  who(state, asked, error) {
    const room = state.rooms.get(asked.room);
    if (room) room.loadingMembers = false;
    return error.code === "disconnected" ? []
      : [{ toast: `Cannot open ${asked.room}: ${error.message}` }];
  },

  send: sendRefused,
  dm: sendRefused,
  edit: changeRefused,
  delete: changeRefused,
  react: changeRefused,
  pin: changeRefused,
  vote: changeRefused,
  close_poll: changeRefused,

  thread(state, asked, error) {
    threading.failed(state.threadPanel, asked, error);
    return [];
  },

  pins(state, asked, error) {
    pinning.failed(state.pinsPanel, asked, error);
    return [];
  },

  remove_preview(state, asked, error) {
    return error.code === "disconnected" ? []
      : [{ toast: `Cannot remove the preview: ${error.message || error.code}` }];
  },

  read(state, asked, error) {
    const pending = state.reads.get(asked.room);
    if (!pending) return [];
    if (["forbidden", "not_found", "bad_request"].includes(error.code)) {
      state.reads.delete(asked.room); // no marker to keep in a room we cannot read
    } else {
      pending.sent = null; // sent again with the next one, or after the next welcome
    }
    return [];
  },

  read_all(state, asked, error) {
    // Nothing moved here before the answer: nothing to undo.
    return [{ toast: `Cannot mark all as read: ${error.message || error.code}` }];
  },

  unread(state, asked, error) {
    // The room stays where the server has it: its next room object says where (applyInfo
    // takes a marker ahead of the page's).
    const room = state.rooms.get(asked.room);
    if (room) room.keptUnread = false;
    return [{ toast: `Cannot mark it unread: ${error.message || error.code}` },
      { refreshRooms: true }];
  },

  leave(state, asked, error) {
    return [{ toast: `Cannot leave: ${error.message}` }];
  },

  rooms(state, asked, error) {
    if (!isListingPage(state, asked)) return [];
    state.listing.waiting = false;
    // A lost connection lists again from its welcome; anything else is asked again soon.
    return error.code === "disconnected" ? []
      : [{ later: LIST_RETRY_MS, key: "list-rooms", action: "listRooms", args: [] }];
  },

  contacts(state, asked, error) {
    const listing = state.contactsListing;
    if (!listing || !listing.waiting || asked.after !== listing.after) return [];
    listing.waiting = false;
    return error.code === "disconnected" ? []
      : [{ later: LIST_RETRY_MS, key: "list-contacts", action: "listContacts", args: [] }];
  },

  remove_contact(state, asked, error) {
    return [{ toast: String(error.message || error.code) }];
  },

  set_dnd(state, asked, error) {
    const why = error.code === "disconnected" ? "not connected"
      : error.code === "unknown_op" ? "this server cannot pause notifications"
        : String(error.message || error.code);
    return [{ toast: `Notifications were not ${asked.until === null ? "resumed" : "paused"}: ${why}` }];
  },

  hide(state, asked, error) {
    // The marker stays where the server has it: its next room object says where.
    const why = error.code === "disconnected" ? "not connected"
      : String(error.message || error.code);
    return [{ toast: `Could not ${asked.on === false ? "show" : "close"} the conversation: ${why}` },
      { refreshRooms: true }];
  },

  receipts(state, asked, error) {
    // The markers are asked again the next time the conversation is shown (not from a server
    // without receipts: unknown_op); a reader's list is the popup's to tell.
    if ((asked.msg_id === undefined || asked.msg_id === null) && error.code !== "unknown_op") {
      state.receipts.asked.delete(asked.room);
    }
    return [];
  },

  drafts(state, asked, error) {
    // A server that keeps no drafts (unknown_op): the page keeps them alone, as before.
    if (error.code === "unknown_op") state.draftSync.supported = false;
    return [];
  },

  set_draft(state, asked, error) {
    const key = drafting.keyOf(asked.room, asked.thread ?? null);
    if (error.code === "rate_limited") {
      const wait = Number.isSafeInteger(error.retry_after) ? error.retry_after : 2000;
      return [{ later: Math.max(wait, drafting.SAVE_AFTER_MS), key: `draft:${key}`,
        action: "saveDraft", args: [key] }];
    }
    if (error.code === "too_many_drafts" && !state.draftSync.full) {
      state.draftSync.full = true;
      const most = state.draftSync.most ?? "as many";
      return [{ toast: `You have ${most} drafts already: this one is kept in this browser `
        + "only. Send or delete some (Drafts, in the sidebar) to keep it on every device." }];
    }
    return []; // offline (saved after the welcome), or the room is gone (with its drafts)
  },

  set_keywords(state, asked, error) {
    // The list the server last gave is back; why it was refused is said in the dialog.
    keywording.answered(state.keywords, null, keywording.refusalText(error));
    return [];
  },

  set_read_receipts(state, asked, error) {
    receipting.shareAnswered(state.receipts, null); // the setting the server last gave
    const why = error.code === "disconnected" ? "not connected"
      : error.code === "unknown_op" ? "this server has no read receipts"
        : String(error.message || error.code);
    return [{ toast: `Your read receipts were not turned ${asked.on ? "on" : "off"}: ${why}` }];
  },

  edit_section(state, asked, error) {
    // A collapse or a move is put back (a rename's dialog says its refusal itself).
    if (!shownAtOnce(asked)) return [];
    sectioning.listAnswered(state.sections, asked, null, true);
    const section = sectioning.find(state.sections.shown, asked.section);
    const what = typeof asked.collapsed === "boolean"
      ? `${asked.collapsed ? "collapse" : "expand"} ${section ? section.name : "the section"}`
      : `move ${section ? section.name : "the section"}`;
    return [{ toast: `Could not ${what}: ${sectionRefusal(error)}` }];
  },

  set_section(state, asked, error) {
    // The section the server last gave is back (once no other move is on its way).
    const room = state.rooms.get(asked.room);
    if (!room) return [];
    sectioning.roomAnswered(room, null);
    return [{ toast: `Could not move ${alerts.placeLabel(state, room.name)}: ${
      sectionRefusal(error)}` }];
  },

  favourite(state, asked, error) {
    // The mark the server last gave is back (once no other change is on its way).
    const room = state.rooms.get(asked.room);
    if (!room) return [];
    starring.answered(room, null);
    const why = error.code === "disconnected" ? "not connected"
      : error.code === "unknown_op" ? "this server does not keep favourites"
        : String(error.message || error.code);
    return [{ toast: `Could not ${asked.on === false ? "remove" : "add"} ${
      alerts.placeLabel(state, room.name)} ${asked.on === false ? "from" : "to"} favourites: ${
      why}` }];
  },

  set_notify(state, asked, error) {
    const room = state.rooms.get(asked.room);
    if (!room) return [];
    room.notify = room.notifyConfirmed; // the level the server last gave
    const why = error.code === "disconnected" ? "not connected"
      : error.code === "unknown_op" ? "this server does not keep notification settings"
        : String(error.message || error.code);
    return [{ toast: `Could not change the notifications of ${alerts.roomLabel(room)}: ${why}` }];
  },

  search(state, asked, error) {
    searching.failed(state.search, asked, error);
    return [];
  },

  saved_items(state, asked, error) {
    saving.failed(state.saved, asked, error);
    return [];
  },

  threads(state, asked, error) {
    inboxing.failed(state.inbox, asked, error);
    return [];
  },

  follow_thread(state, asked, error) {
    // Taken back: the listing says again what is followed.
    const t = inboxing.threadOf(state.inbox, asked.room, asked.msg_id);
    if (t) t.following = !asked.on;
    const why = error && error.code === "unknown_op" ? "This server does not keep followed threads."
      : `The thread could not be ${asked.on ? "followed" : "unfollowed"}${error && error.message
        ? `: ${error.message}` : "."}`;
    return [{ toast: why }];
  },

  read_thread(state, asked, error) {
    state.inbox.asked.delete(inboxing.keyOf(asked.room, asked.msg_id)); // (told again later)
    if (error && error.code === "unknown_op") state.inbox.supported = false;
    return [];
  },

  scheduled_items(state, asked, error) {
    scheduling.listingFailed(state.scheduled, error);
    return [];
  },

  schedule(state, asked, error) {
    if (error && error.code === "unknown_op") state.scheduled.supported = false;
    // The text goes back into its box when the box is still empty.
    const key = Number.isSafeInteger(asked.thread) ? threading.draftKey(asked.room, asked.thread)
      : asked.room;
    const back = typeof asked.text === "string" && asked.text && !draftOf(state, key);
    if (back) {
      setDraft(state, key, asked.text);
      state.scheduled.restored += 1;
    }
    // Its files go back in the box too (else they wait on the server, unattached, until they
    // expire), whatever the box holds now.
    const files = scheduling.released(state.scheduled, asked);
    if (files.length) state.uploads = uploads.putBack(state.uploads, key, files);
    const what = back && files.length ? "The text and its files are back in the box."
      : back ? "The text is back in the box."
        : files.length ? `${files.length === 1 ? "Its file is" : "Its files are"} back in the box.`
          : "";
    return [{ toast: scheduling.refusal(error) + (what ? ` ${what}` : "") }];
  },

  edit_scheduled(state, asked, error) {
    return [{ toast: scheduling.changeRefused(state.scheduled, asked, error) }];
  },

  cancel_scheduled(state, asked, error) {
    return [{ toast: scheduling.changeRefused(state.scheduled, asked, error) }];
  },

  save(state, asked, error) {
    return [{ toast: saving.refused(state.saved, asked, error) }];
  },

  profiles(state, asked, error) {
    // Lost connection: asked again after the next welcome; a limit: a moment later; a server
    // without profiles (unknown_op) or a refusal: user names are shown, as before.
    const again = ["disconnected", "rate_limited", "internal", "shutting_down"]
      .includes(error.code);
    profiling.failed(state.profiles, namesAsked(asked), again);
    return again && error.code !== "disconnected"
      ? [{ later: LIST_RETRY_MS, key: "profiles", action: "askProfiles", args: [] }] : [];
  },
};

function acked(state, asked, reply) {
  const effects = [];
  if (typeof reply.room === "string" && isSeq(reply.seq)
      && (!reply.duplicate || state.rooms.has(reply.room))) {
    // The message as the ack tells it, kept only if its own event has not come (that one has
    // the mentions the server found, and any change made since).
    const message = {
      op: "message", room: reply.room, seq: reply.seq, msg_id: reply.msg_id, from: state.me,
      text: asked.text, ts: reply.ts, nonce: asked.nonce,
    };
    const item = outbox.find(state.outbox, asked.nonce);
    if (item && item.files) message.files = item.files;
    if (item && item.poll) message.poll = polling.freshPoll(item.poll);
    if (Number.isSafeInteger(asked.thread)) {
      message.thread = asked.thread;
      if (asked.broadcast === true) message.broadcast = true;
    }
    if (Number.isSafeInteger(asked.reply_to)) {
      message.reply_to = asked.reply_to;
      const original = state.rooms.get(reply.room)?.byMsgId(asked.reply_to);
      if (original) message.quote = quoteOf(original);
    }
    effects.push(...receive(state, reply.room, [message], { weak: true }));
  }
  state.outbox = outbox.drop(state.outbox, asked.nonce);
  return effects;
}

function sendRefused(state, asked, error) {
  const item = outbox.find(state.outbox, asked.nonce);
  if (!item) return [];
  // A file the server does not have (any more): an upload kept across a reload that expired
  // (drafts.js). Which one is asked before the message is sent again without it.
  if (error.code === "not_found" && item.files && item.status === "sending") {
    return [{ checkFiles: { nonce: asked.nonce, ids: item.files.map((file) => file.id),
      error: { code: error.code, message: String(error.message || "") } } }];
  }
  return refuse(state, asked.nonce, error);
}

/** The send of `nonce` was refused (`error`): kept, to be tried again or given up. */
function refuse(state, nonce, error) {
  const { status, error: text, retryAfter } = outbox.failure(error, online(state));
  state.outbox = outbox.update(state.outbox, nonce, { status, error: text });
  if (retryAfter === null) return [];
  return [{ later: retryAfter, key: `send:${nonce}`, action: "retrySend",
    args: [nonce, { onlyIfFailed: true }] }];
}

// -- local actions ---------------------------------------------------------------------------

/**
 * The connection's phase changed (socket.js): anything in flight now waits for the next one.
 * `attempt` counts the attempts since the last welcome; `retryAt` (ms) is when the next one
 * starts while "waiting".
 */
export function connectionChanged(state, phase, { attempt = 0, retryAt = null } = {}) {
  state.connection = phase;
  state.attempt = attempt;
  state.retryAt = retryAt;
  if (phase === "online") {
    state.closeReason = "";
    return [];
  }
  state.outbox = outbox.offline(state.outbox);
  saving.stopped(state.saved); // walked again after the next welcome
  inboxing.stopped(state.inbox); // listed again after the next welcome
  scheduling.stopped(state.scheduled); // listed again after the next welcome, if any
  grouping.stopped(state.userGroups); // listed again after the next welcome
  receipting.stopped(state.receipts); // the conversations' markers: asked again once shown
  for (const read of state.reads.values()) read.sent = null;
  for (const room of state.rooms.values()) {
    room.loading = false;
    room.loadingOlder = false;
  }
  return [];
}

/** Open a room: remember where its unread messages begin, and load what it needs. */
export function selectRoom(state, name) {
  if (state.current === name) return [];
  state.current = name;
  state.farewell = "";
  const room = state.rooms.get(name);
  if (room) {
    room.opened = (state.opened += 1);
    room.keptUnread = false; // came back to it: read as usual again (markUnread)
  }
  state.divider = room && room.unread > 0 ? room.readSeq : null;
  state.repliesSince = room ? room.readSeq : null;
  state.scrollTick += 1;
  // The "Pinned" panel, when shown, shows the pins of the room open; a thread is of its room.
  const pins = state.pinsPanel.shown ? openPins(state) : [];
  if (state.threadPanel.room !== null && state.threadPanel.room !== name) {
    threadShown(state);
    threading.clear(state.threadPanel);
  }
  return [...loadRoom(state, name), ...pins];
}

/** Open the conversation with `user`: a draft until the first message creates it. */
export function openDm(state, user) {
  const name = dmName(state.me, user);
  const known = state.rooms.get(name);
  if (known && !known.peer) known.peer = user; // started by a message of one's own
  if (!state.rooms.has(name)) {
    const room = roomFor(state, name);
    room.kind = "dm";
    room.private = true;
    room.peer = user;
    room.draft = true;
    room.loaded = true;
  }
  return [...reopen(state, name), ...selectRoom(state, name)];
}

/**
 * Open the conversation with `users` (the people picked, besides oneself, any case): one with
 * a single person is the 1:1 (`openDm`); with more, the group conversation of them all, found
 * by its canonical name when the page holds it, else a draft until its first message creates
 * it (`dm` with `to` the array: conversations.js `sendTo`).
 */
export function openConversation(state, users) {
  const name = conversationName(state.me, users);
  if (name === null) return [{ toast: "A conversation has at most 8 people." }];
  const others = users.filter((user) => !sameUser(user, state.me));
  if (!name.includes(":", name.indexOf(":") + 1)) {
    return openDm(state, others[0] || state.me); // one other (or oneself): the 1:1
  }
  if (!state.rooms.has(name)) {
    const room = roomFor(state, name);
    room.private = true;
    // As picked (folded: one each), until the server's room object names them as registered.
    const seen = new Set();
    room.peers = others.filter((user) => !seen.has(user.toLowerCase())
      && seen.add(user.toLowerCase()));
    room.draft = true;
    room.loaded = true;
  }
  return [...reopen(state, name), ...selectRoom(state, name)];
}

/**
 * Open room `name` chosen in the quick switcher (switcher.js): a closed conversation found
 * there is started again, listed for good, as from "New direct message"; any other, as a
 * click in the sidebar opens it.
 */
export function openAgain(state, name) {
  return [...reopen(state, name), ...selectRoom(state, name)];
}

/**
 * Started again from "New direct message" or a contact: a closed conversation is listed again
 * for good (its marker cleared here and on the server), not only while it is open (hiding.js).
 */
function reopen(state, name) {
  const room = state.rooms.get(name);
  if (!room || !hiding.reopens(room) || !online(state)) return [];
  hiding.setHidden(room, null);
  return [request("hide", { room: name, on: false })];
}

/**
 * "Close conversation": conversation `name` leaves the sidebar until something new comes in it
 * (hiding.js), here at once and on every device of the person (the `hidden` event); when it is
 * the open room, another one opens.
 */
export function closeConversation(state, name) {
  const room = state.rooms.get(name);
  if (!room || !hiding.canClose(room) || !online(state)) return [];
  hiding.setHidden(room, room.lastSeq); // the server's answer says where, in its reply
  return [request("hide", { room: name, on: true }), ...leaveClosed(state, room)];
}

/**
 * When closed conversation `room` is the open room, open the first room listed instead (not
 * for a favourite: it stays listed, favourites.js).
 */
function leaveClosed(state, room) {
  if (state.current !== room.name || !hiding.isClosed(room) || starring.isFavourite(room)) {
    return [];
  }
  state.current = null;
  const next = firstRoom(state);
  if (!next) {
    state.current = room.name; // nothing else to show: it stays open (and listed)
    return [];
  }
  return selectRoom(state, next.name);
}

/** Load the page of messages older than the oldest one kept in the open room. */
/** The next page of the open room's members (`who` after the last one listed). */
export function moreMembers(state) {
  const room = state.rooms.get(state.current);
  if (!room || !room.members || !room.membersMore || room.loadingMembers || !online(state)) {
    return [];
  }
  room.loadingMembers = true;
  const last = room.members[room.members.length - 1];
  return [request("who", { room: room.name, ...(last ? { after: last.user } : {}) })];
}

/** Names in the order `who` gives them: by code point, ignoring case. */
function byName(a, b) {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  return x < y ? -1 : x > y ? 1 : 0;
}

export function loadOlder(state) {
  const room = state.rooms.get(state.current);
  if (!room || !room.more || room.loadingOlder || !online(state)) return [];
  const before = room.oldest;
  if (before === null || before <= 1) {
    room.more = false;
    return [];
  }
  room.loadingOlder = true;
  return [request("history", { room: room.name, before, limit: PAGE })];
}

/**
 * Send `text` to the open room, with the files attached there: into the outbox at once, then
 * out with `nonce`. With files the text may be empty; while some are still uploading (or
 * failed) nothing is sent.
 */
export function compose(state, { text, nonce, now }) {
  const room = state.rooms.get(state.current);
  if (!room || typeof text !== "string") return [];
  const attached = uploads.readiness(state.uploads, room.name);
  if (attached.count && !attached.ready) {
    return [{ toast: attached.failed ? "Retry or remove the files that failed first."
      : "The files are still uploading: send once they are done." }];
  }
  if (!text.trim() && !attached.files.length) return [];
  room.keptUnread = false; // acting in it: what is on screen is read again (markUnread)
  const to = sendTo(room, state.me); // a conversation's first message creates it: `dm`
  const replyTo = Number.isSafeInteger(room.replyTo) ? room.replyTo : null;
  room.replyTo = null;
  state.uploads = uploads.consume(state.uploads, room.name);
  // In the server's order (by id, that is, in the order they were stored), so that the message
  // does not reorder its files when the server's copy replaces the page's.
  const files = [...attached.files].sort((a, b) => a.id - b.id);
  state.outbox = outbox.add(state.outbox, outbox.entry({ nonce, room: room.name, to, text,
    ts: now, reply_to: replyTo, files }));
  state.lastTyping.delete(room.name); // the next keystroke starts a new "typing"
  state.scrollTick += 1;
  return transmit(state, nonce);
}

/**
 * Send a poll to the open room (polls.js): `question` is its text, `options` its options (as
 * typed), `multiple` whether a voter may choose several; into the outbox with `nonce` as any
 * send (a resend keeps it), with the files attached in the box and the reply it answers.
 * Returns the effects, or a toast when the poll breaks the server's rules (the dialog checks
 * them first).
 */
export function composePoll(state, { question, options, multiple = false, nonce, now }) {
  const room = state.rooms.get(state.current);
  if (!room || room.archived) return [];
  const problem = polling.pollProblem({ question, options, maxText: state.maxText });
  if (problem) return [{ toast: problem }];
  const attached = uploads.readiness(state.uploads, room.name);
  if (attached.count && !attached.ready) {
    return [{ toast: attached.failed ? "Retry or remove the files that failed first."
      : "The files are still uploading: send once they are done." }];
  }
  room.keptUnread = false;
  const to = sendTo(room, state.me); // a conversation's first message creates it: `dm`
  const replyTo = Number.isSafeInteger(room.replyTo) ? room.replyTo : null;
  room.replyTo = null;
  state.uploads = uploads.consume(state.uploads, room.name);
  const files = [...attached.files].sort((a, b) => a.id - b.id);
  state.outbox = outbox.add(state.outbox, outbox.entry({ nonce, room: room.name, to,
    text: question, ts: now, reply_to: replyTo, files,
    poll: polling.pollField(options, multiple) }));
  state.scrollTick += 1;
  return transmit(state, nonce);
}

/**
 * Vote in the poll of message `msgId` of room `name`: the person's choice becomes exactly
 * `options` (indexes; [] takes the vote back), through the outbox as a reaction (`key` names
 * it there). A choice already as asked, or a closed poll, changes nothing.
 */
export function vote(state, { room: name, msgId, options, key, now }) {
  const room = state.rooms.get(name);
  const message = heldMessage(state, room, msgId);
  if (!message || !Array.isArray(options)) return [];
  const shown = shownMessage(state, room, message);
  if (!shown.poll || !shown.canVote) return [];
  const wanted = [...new Set(options)].filter((i) => Number.isSafeInteger(i) && i >= 0
    && i < shown.poll.options.length).sort((a, b) => a - b);
  if (!shown.poll.multiple && wanted.length > 1) return [];
  if (wanted.length === shown.poll.mine.length
      && wanted.every((i, at) => i === shown.poll.mine[at])) return [];
  return queueChange(state, room, message, { op: "vote", options: wanted }, key, now);
}

/** Close the poll of message `msgId` of room `name` (its author, or a moderator of the room). */
export function closePoll(state, { room: name, msgId, key, now }) {
  const room = state.rooms.get(name);
  const message = heldMessage(state, room, msgId);
  if (!message) return [];
  if (!shownMessage(state, room, message).canClosePoll) return [];
  return queueChange(state, room, message, { op: "close_poll" }, key, now);
}

/**
 * The send of `nonce` was refused `not_found`, and of its files the server still has those in
 * `found` (the ids it gave signed links for). Those it does not have (expired uploads) are
 * taken out and the message is sent again without them, with its text (same nonce: nothing
 * was stored), and the person is told which to attach again. When it has them all, the
 * refusal was about something else: the message is refused as any other (`error`).
 */
export function filesChecked(state, nonce, found, error) {
  const item = outbox.find(state.outbox, nonce);
  if (!item || !item.files || item.status !== "sending") return [];
  const have = new Set(found);
  const gone = item.files.filter((file) => !have.has(file.id));
  if (!gone.length) return refuse(state, nonce, error);
  const names = gone.map((file) => file.name).join(", ");
  const told = { toast: `${names} ${gone.length === 1 ? "is" : "are"} no longer on the `
    + `server (an upload not sent in time expires) and ${gone.length === 1 ? "was" : "were"} `
    + `left out of your message: attach ${gone.length === 1 ? "it" : "them"} again.` };
  state.outbox = outbox.withoutFiles(state.outbox, nonce, gone.map((file) => file.id));
  const left = outbox.find(state.outbox, nonce);
  if (!left.text.trim() && !left.files) {
    state.outbox = outbox.drop(state.outbox, nonce); // nothing left to send
    return [told];
  }
  return [told, ...transmit(state, nonce)];
}

/** The files of a send refused `not_found` could not be checked: it is refused (`error`). */
export function filesUnchecked(state, nonce, error) {
  const item = outbox.find(state.outbox, nonce);
  if (!item || item.status !== "sending") return [];
  return refuse(state, nonce, error);
}

/** Send an outbox entry again (same nonce); with onlyIfFailed, only if it is still waiting. */
export function retrySend(state, nonce, { onlyIfFailed = false } = {}) {
  const item = outbox.find(state.outbox, nonce);
  if (!item || (onlyIfFailed && item.status !== "failed")) return [];
  return transmit(state, nonce);
}

/** Give up on an outbox entry. */
export function discardSend(state, nonce) {
  state.outbox = outbox.drop(state.outbox, nonce);
  return [];
}

/** The person typed in the open room at `now`: tell the others, at most every few seconds. */
export function typed(state, now) {
  const room = state.rooms.get(state.current);
  if (!room || room.draft || !online(state)) return [];
  const last = state.lastTyping.get(room.name);
  if (last !== undefined && now - last < TYPING_SEND_MS) return [];
  state.lastTyping.set(room.name, now);
  return [request("typing", { room: room.name })];
}

/** The message `seq` of room `name` was on screen: read up to it (while the tab is visible
 * and the person has not marked the room unread: see `markUnread`). */
export function seen(state, name, seq) {
  const room = state.rooms.get(name);
  if (!state.visible || !room || room.draft || room.keptUnread || !isSeq(seq)
      || seq <= room.readSeq) return [];
  room.markRead(seq, state.me);
  const pending = state.reads.get(name);
  state.reads.set(name, { seq: Math.max(seq, pending ? pending.seq : 0),
    sent: pending ? pending.sent : null });
  return [{ later: READ_DELAY_MS, key: "reads", action: "flushReads", args: [] }];
}

/**
 * Mark room `name` unread from its message `seq` on ("Mark unread"): the marker moves back to
 * just before it at once (the badge, the counts and the "New messages" line come back) and
 * the server is asked (`unread`); its answer brings the exact counts.
 *
 * The room is then kept unread while it stays open, as Slack and Mattermost do: the person
 * asked for it to be unread, so the messages on screen are not read again at once. It is
 * read again as usual once the person opens it again (after leaving it) or sends a message in
 * it. A marker waiting to be sent for the room is dropped: it would undo this.
 */
export function markUnread(state, name, seq) {
  const room = state.rooms.get(name);
  if (!room || room.draft || !isSeq(seq) || seq < 1 || !online(state)) return [];
  keepUnread(state, room, Math.min(room.readSeq, seq - 1), null);
  return [request("unread", { room: name, seq })];
}

/**
 * Remove the link preview of message `msgId` of room `name` (the person's own, or one in a
 * room they moderate): a request of its own; the `preview` entry it makes says it is gone.
 */
export function removePreview(state, name, msgId) {
  const room = state.rooms.get(name);
  if (!room || room.draft || !Number.isSafeInteger(msgId) || !online(state)) return [];
  return [request("remove_preview", { room: name, msg_id: msgId })];
}

/**
 * Whether the welcome's room object `info` says the marker of `room` was moved back while
 * the page was away (an `unread` on another device): its `read_seq` is behind the page's
 * marker, and no read of the page's own explains that. Only the welcome says so: it is read
 * after every move the page heard of, where a later list may have crossed a `read` event.
 */
function movedBack(state, room, info) {
  return isSeq(info.read_seq) && info.read_seq < room.readSeq && !room.draft
    && !state.reads.has(room.name);
}

/** Room `room`'s marker moved back to `seq` (`counts`: the server's, or null): keep it unread
 * while it is open, with its "New messages" line from there. */
function keepUnread(state, room, seq, counts) {
  room.moveBack(seq, counts, state.me);
  room.keptUnread = true;
  state.sighted.delete(room.name);
  const pending = state.reads.get(room.name);
  if (pending && pending.sent === null && pending.seq > room.readSeq) {
    state.reads.delete(room.name);
  }
  if (state.current === room.name) {
    state.divider = room.unread > 0 ? room.readSeq : null;
    state.repliesSince = room.readSeq;
  }
}

/** Send the read markers that wait (one request per room, none while one is on its way). */
export function flushReads(state) {
  if (!online(state)) return [];
  const effects = [];
  for (const [room, read] of state.reads) {
    if (read.sent !== null) continue;
    read.sent = read.seq;
    effects.push(request("read", { room, seq: read.seq }));
  }
  return effects;
}

/** The tab was shown or hidden. */
export function setVisible(state, visible) {
  state.visible = Boolean(visible);
  return [];
}

/**
 * The person stopped using the page (idle.js), or is back: the server is told (the next hello
 * says it when not connected now); the person's own status shows `away` meanwhile.
 */
export function setIdle(state, idle) {
  if (state.idle === Boolean(idle)) return [];
  state.idle = Boolean(idle);
  if (online(state)) setPresence(state, state.me, state.idle ? "away" : "online");
  return online(state) ? [request("idle", { idle: state.idle })] : [];
}

/** The fields the hello adds for idleness: `idle` only when the page is idle now (what it
 * said is kept, for the welcome to tell a change since). */
export function helloIdle(state) {
  if (!state) return {};
  state.saidIdle = state.idle;
  return state.idle ? { idle: true } : {};
}

/** The page's window gained or lost the focus. */
export function setFocused(state, focused) {
  state.focused = Boolean(focused);
  return [];
}

// -- notifications (alerts.js) ---------------------------------------------------------------

/**
 * Change how new messages alert on this device: `changes` has any of {desktop, sound,
 * permission} (the browser's permission, as Notification.permission names it).
 */
export function setAlerts(state, changes) {
  const next = { ...state.alerts };
  if (typeof changes.desktop === "boolean") next.desktop = changes.desktop;
  if (typeof changes.sound === "boolean") next.sound = changes.sound;
  // Whether this browser's push subscription is on the server for the person (install.js):
  // not a setting, not saved; missed.js leaves to the pushes what they told.
  if (typeof changes.pushed === "boolean") next.pushed = changes.pushed;
  if (typeof changes.permission === "string") {
    next.permission = alerts.restoreSettings({}, changes.permission).permission;
    // Allowed just now, after the person asked for it: that is turning them on.
    if (next.permission === "granted" && state.alerts.permission !== "granted") next.desktop = true;
  }
  state.alerts = next;
  return [];
}

/** Set the notification level of room `name` ("all", "mentions" or "none"): here, and on
 * the server (every device of the person follows). */
export function setNotify(state, name, level) {
  const room = state.rooms.get(name);
  if (!room || room.draft || !alerts.isLevel(level) || alerts.levelOf(room) === level) return [];
  room.notify = level;
  return [request("set_notify", { room: name, notify: level })];
}

/**
 * Share the person's read receipts (`on`) or not: shown at once, asked of the server (whose
 * reply, and the `read_receipts` event of every device, say the last word).
 */
export function setReadReceipts(state, on) {
  if (!online(state) || !receipting.setShare(state.receipts, on)) return [];
  return [request("set_read_receipts", { on })];
}

/**
 * Set the person's notification keywords to `list` (keywords.js: checked by the dialog): shown
 * at once, asked of the server (whose reply, and the `keywords` event of every device, say the
 * last word). Offline, nothing changes and the dialog is told why.
 */
export function setKeywords(state, list) {
  const keywords = state.keywords;
  const clean = keywording.listOf(list);
  if (clean === null) return [];
  if (!online(state)) {
    if (keywords.list !== null && !keywording.same(keywords.list, clean)) {
      keywords.problem = keywording.refusalText({ code: "disconnected" });
    }
    return [];
  }
  if (!keywording.setList(keywords, clean)) return [];
  return [request("set_keywords", { keywords: clean })];
}

/** Forget the last refusal of the keywords (their dialog opens anew). */
export function keywordsOpened(state) {
  state.keywords.problem = "";
  return [];
}

/**
 * Star (`on`) or unstar room or conversation `name`: in (or out of) the sidebar's Favourites
 * at once, here, and on the server, which tells the person's other devices (favourites.js).
 */
export function setFavourite(state, name, on) {
  const room = state.rooms.get(name);
  if (!room || typeof on !== "boolean" || !online(state) || !starring.mark(room, on)) return [];
  return [request("favourite", { room: name, on })];
}

// -- sections (sections.js) -------------------------------------------------------------------

/**
 * Move room or conversation `name` into the person's section `id` (null: back to its usual
 * list): there at once, here, and on the server, which tells the person's other devices. A
 * favourite stays listed in Favourites (it shows in its section once unstarred): a toast says so.
 */
export function moveToSection(state, name, id) {
  const room = state.rooms.get(name);
  if (!room || !online(state) || !state.sections.supported) return [];
  // (One just made is in the server's list before it is shown while a change is on its way.)
  if (id !== null && !sectioning.find(state.sections.shown, id)
      && !sectioning.find(state.sections.confirmed, id)) return [];
  if (!sectioning.place(room, id)) return [];
  const effects = [request("set_section", { room: name, section: id })];
  if (starring.isFavourite(room)) {
    // It stays in Favourites (as the server keeps it): the sidebar shows no move, so say it.
    const section = id === null ? null : sectioning.find(state.sections.shown, id)
      || sectioning.find(state.sections.confirmed, id);
    effects.push({ toast: sectioning.favouriteMoved(alerts.roomLabel(room),
      section ? section.name : sectioning.usualList(room)) });
  }
  return effects;
}

/** Collapse (`collapsed`) or expand the person's section `id`, at once and on the server. */
export function collapseSection(state, id, collapsed) {
  if (!online(state) || typeof collapsed !== "boolean"
      || !sectioning.collapse(state.sections, id, collapsed)) return [];
  return [request("edit_section", { section: id, collapsed })];
}

/** Move the person's section `id` up (`by` -1) or down (+1) their list, here and on the server. */
export function shiftSection(state, id, by) {
  if (!online(state)) return [];
  const position = sectioning.shift(state.sections, id, by);
  return position === null ? [] : [request("edit_section", { section: id, position })];
}

/** Whether an `edit_section` was shown before its answer (a collapse or a move: not a rename). */
function shownAtOnce(asked) {
  return typeof asked.collapsed === "boolean" || Number.isSafeInteger(asked.position);
}

/** A reply that carries the list of sections (a creation, a rename, a deletion): kept. */
function sectionsSaid(state, reply) {
  const list = sectioning.listOf(reply);
  if (list) sectioning.emptied(state.rooms.values(), sectioning.confirmList(state.sections, list));
  return [];
}

/** Why the server refused a change to the sections, in words. */
function sectionRefusal(error) {
  return error.code === "disconnected" ? "not connected"
    : error.code === "unknown_op" ? "this server does not keep sections"
      : String(error.message || error.code);
}

// -- do not disturb (alerts.js "Do not disturb") ---------------------------------------------

/**
 * Pause the person's notifications, on every device: for `choice.duration` seconds (counted
 * by the server's clock) or until `choice.until` (ms). The state follows the server's answer.
 */
export function pauseNotifications(state, choice) {
  if (choice && Number.isSafeInteger(choice.duration) && choice.duration > 0) {
    return [request("set_dnd", { duration: choice.duration })];
  }
  if (choice && Number.isSafeInteger(choice.until) && choice.until > 0) {
    return [request("set_dnd", { until: choice.until })];
  }
  return [];
}

/** End the pause now, on every device. */
export function resumeNotifications(state) {
  return [request("set_dnd", { until: null })];
}

/**
 * A timer for the end of the pause, to draw it (`pauseEnded`): keyed by the time, so that
 * another welcome or event with the same pause sets none more.
 */
function pauseEnds(state, now) {
  if (!alerts.paused(state, now)) return [];
  const until = state.dndUntil;
  return [{ later: until - now, key: `dnd@${until}`, action: "pauseEnded", args: [until] }];
}

/**
 * The pause's timer ran (`pauseEnds`): past its time by the server's clock, it is over; a
 * timer early (a clock set meanwhile) waits again. A pause changed since is another's timer.
 */
export function pauseEnded(state, until, now) {
  if (state.dndUntil !== until) return [];
  if (now < until) return pauseEnds(state, now);
  state.dndUntil = null;
  return [];
}

// -- display names and custom statuses (profiles.js) -----------------------------------------

/** The frames (events, and replies by their request's op) that may teach the cache. */
const PROFILE_FRAMES = new Set(["welcome", "profile", "who", "contacts", "add_contact",
  "profiles", "set_profile"]);

/**
 * The names `names` are shown: those the page has not heard of are asked for a moment later,
 * together (`askProfiles`).
 */
export function wantProfiles(state, names) {
  if (!profiling.want(state.profiles, names)) return [];
  return [{ later: profiling.ASK_DELAY_MS, key: "profiles", action: "askProfiles", args: [] }];
}

/** Ask for the wanted profiles, BATCH names a request (after the welcome, when offline). */
export function askProfiles(state) {
  if (!online(state)) return [];
  return profiling.batches(state.profiles).map((users) => request("profiles", { users }));
}

/** A status ended (its timer ran): drop what is over, and wait for the next. */
export function statusesEnded(state, now) {
  profiling.prune(state.profiles, now);
  return statusTimer(state, now);
}

/**
 * After an event that taught the cache: a timer for the first status to end (keyed by its
 * time: one timer for all that end then), and, after a welcome, the names wanted while away.
 */
function profilesDue(state, frame, now) {
  const effects = statusTimer(state, now);
  if (frame.op === "welcome" && state.profiles.wanted.size && online(state)) {
    effects.push({ later: profiling.ASK_DELAY_MS, key: "profiles", action: "askProfiles",
      args: [] });
  }
  return effects;
}

function statusTimer(state, now) {
  const next = profiling.nextExpiry(state.profiles, now);
  if (next === null) return [];
  // (A timer longer than MAX_LATER_MS runs early, finds nothing over and is set again.)
  return [{ later: Math.min(MAX_LATER_MS, next - now), key: `status@${next}`,
    action: "statusesEnded", args: [] }];
}

function namesAsked(asked) {
  return Array.isArray(asked.users) ? asked.users.filter((u) => typeof u === "string") : [];
}

/** The profiles of a `profiles` answer (`profiles`, or `users` as the request names them). */
function profilesIn(reply) {
  if (Array.isArray(reply.profiles)) return reply.profiles;
  return Array.isArray(reply.users) ? reply.users : [];
}

// -- search (search.js) ----------------------------------------------------------------------

/** Search messages for `query` (in room `room` only, if given); an empty query clears. */
export function searchFor(state, query, room = null) {
  const fields = searching.begin(state.search, query, room);
  return fields ? [request("search", fields)] : [];
}

/** Ask for the next page of results. */
export function searchMore(state) {
  const fields = searching.nextPage(state.search);
  return fields ? [request("search", fields)] : [];
}

/** Ask again for what failed. */
export function searchRetry(state) {
  const fields = searching.retry(state.search);
  return fields ? [request("search", fields)] : [];
}

/** Forget the search and its results. */
export function clearSearch(state) {
  searching.begin(state.search, "");
  return [];
}

/**
 * Open a search result (or a notification): room `room` at message `msgId` (seq `seq`, when
 * known; or by `seq` alone, msgId null: a forwarded message's source), shown and highlighted
 * once it is held, paging back to it if needed. A thread's reply
 * the room does not show (held so, or a result with `thread` and no `broadcast`) opens its
 * thread in the panel instead, and the room at the thread's root when held.
 */
export function openResult(state, { room: name, msgId, seq = null, thread = null,
  broadcast = false }) {
  const room = state.rooms.get(name);
  if (!room || room.draft) return [{ toast: `You are not a member of ${name} any more.` }];
  if (!Number.isSafeInteger(msgId) && isSeq(seq)) {
    // Known by its seq alone (a forwarded message's source): by its msg_id once held.
    const atSeq = room.messages.get(seq);
    if (atSeq && Number.isSafeInteger(atSeq.msg_id)) {
      return openResult(state, { room: name, msgId: atSeq.msg_id, seq, thread, broadcast });
    }
    const effects = selectRoom(state, name);
    room.seeking = SEEK_BY_SEQ;
    room.seekSeq = seq;
    if (room.loaded) return [...effects, ...seekOlder(state, room)];
    if (room.loading) return effects;
    room.seeking = null;
    return [...effects, { toast: "Not connected: the message cannot be loaded now." }];
  }
  if (!Number.isSafeInteger(msgId)) return selectRoom(state, name);
  const effects = selectRoom(state, name);
  // A reply the room's timeline does not show: its thread opens, at its root when held.
  const held = room.byMsgId(msgId);
  const rootId = held ? (threading.hiddenInRoom(held) ? held.thread : null)
    : Number.isSafeInteger(thread) && broadcast !== true ? thread : null;
  if (rootId !== null) {
    room.seeking = null;
    if (room.byMsgId(rootId)) state.jump = { room: name, msgId: rootId, tick: state.jump.tick + 1 };
    return [...effects, ...openThreadAt(state, rootId, msgId)];
  }
  if (room.byMsgId(msgId)) {
    room.seeking = null;
    state.jump = { room: name, msgId, tick: state.jump.tick + 1 };
    return effects;
  }
  room.seeking = msgId;
  room.seekSeq = isSeq(seq) ? seq : null;
  if (room.loaded) return [...effects, ...seekOlder(state, room)];
  if (room.loading) return effects; // its latest page is on its way; seeking goes on from there
  room.seeking = null;
  return [...effects, { toast: "Not connected: the message cannot be loaded now." }];
}

// -- saved messages and reminders (saved.js) ------------------------------------------------

/**
 * Save message `msgId` of room `name` (`on`, with a reminder at `remindAt` ms, or null for
 * none), or remove it from the saved messages (`on` false). Shown at once; `now` (ms) checks
 * the reminder's time (a past one, or one more than a year ahead, is not asked: a toast says).
 */
export function saveMessage(state, { room: name, msgId, on = true, remindAt = null, now }) {
  if (typeof name !== "string" || !Number.isSafeInteger(msgId)) return [];
  if (!state.saved.supported) return [{ toast: "This server does not keep saved messages." }];
  if (on && remindAt !== null) {
    const problem = saving.reminderProblem(remindAt, now);
    if (problem) return [{ toast: problem }];
  }
  const shown = saving.shownItem(state.saved, name, msgId);
  if (!on && !shown) return [];
  if (on && shown && shown.remind_at === remindAt) return [];
  if (!online(state)) return [{ toast: "Not connected right now; try again in a moment." }];
  return [request("save", saving.request(state.saved, { room: name, msgId, on, remindAt }))];
}

/** The "Saved" panel opened: it draws its first page, from the top. */
export function openSaved(state) {
  saving.opened(state.saved);
  return [];
}

/** The panel draws another page of the list. */
export function moreSaved(state) {
  saving.showMore(state.saved);
  return [];
}

/** Walk the list again (after a failure). */
export function retrySaved(state) {
  if (!online(state) || state.saved.walk) return [];
  return [request("saved_items", saving.begin(state.saved))];
}

function peekSaved(state) {
  const fields = saving.peek(state.saved);
  return fields ? [request("saved_items", fields)] : [];
}

/** The page's copy of message `msgId` of room `name`, or null. */
function heldByName(state, name, msgId) {
  const room = typeof name === "string" ? state.rooms.get(name) : null;
  return (room && Number.isSafeInteger(msgId) && room.byMsgId(msgId)) || null;
}

/**
 * What a reminder that came tells the person: an in-page alert (`remind`), and a desktop
 * notification and/or the sound as their alert settings say, unless their notifications are
 * paused (alerts.js `paused`, as for mentions).
 */
function remind(state, frame, now) {
  const room = state.rooms.get(frame.room);
  const message = frame.message && typeof frame.message === "object" ? frame.message
    : heldByName(state, frame.room, frame.msg_id) || {};
  const where = room ? alerts.roomLabel(room) : frame.room.startsWith("@") ? "a conversation"
    : `#${frame.room}`;
  const from = typeof message.from === "string" ? profiling.displayName(state.profiles,
    message.from) : "";
  // (A note to self, a reminder of anything: its text says it all.)
  const title = isNoteToSelf(frame.room, state.me) ? "Reminder"
    : from ? `Reminder: ${from} in ${where}` : `Reminder: a message in ${where}`;
  const body = message.deleted ? "The message was deleted." : alerts.bodyOf(message);
  const seq = isSeq(message.seq) ? message.seq : null;
  const told = { room: frame.room, msgId: frame.msg_id, seq, title, body };
  const effects = [{ remind: told }];
  const settings = state.alerts || alerts.defaultSettings();
  const desktop = alerts.desktopOn(settings);
  const sound = Boolean(settings.sound);
  if (alerts.paused(state, now) || (!desktop && !sound)) return effects;
  effects.push({ alert: { ...told, key: `reminder:${frame.room}:${frame.msg_id}:${
    frame.remind_at}`, kind: "reminder", tag: `chatd-reminder:${frame.room}:${frame.msg_id}`,
  desktop, sound } });
  return effects;
}

// -- files: uploads and signed links --------------------------------------------------------

/**
 * Files were attached in room `name`'s box: [{key, name, size, type}] (the controller keeps
 * their bytes under `key`). They upload at once, a few at a time; past MAX_FILES the rest are
 * refused. A conversation not started yet takes none (there is no room to upload to).
 */
export function attachFiles(state, { room: name, files }) {
  // (A thread's box keeps its files under its draft key, "general#1040": threads.js draftKey.)
  const room = state.rooms.get(boxRoom(name));
  if (!room || !Array.isArray(files) || !files.length) return [];
  if (room.draft) {
    return [{ toast: "Send a first message to start the conversation, then attach files." }];
  }
  const { list, refused } = uploads.add(state.uploads, name, files);
  state.uploads = list;
  const effects = refused
    ? [{ toast: `At most ${MAX_FILES} files go with one message: ${refused} left out.` }] : [];
  return [...effects, ...pumpUploads(state)];
}

/** `loaded` of `total` bytes of upload `key` went out. */
export function uploadProgress(state, key, loaded, total) {
  state.uploads = uploads.progress(state.uploads, key, loaded, total);
  return [];
}

/** Upload `key` is stored: `file` is the server's file object. */
export function uploadDone(state, key, file) {
  if (!file || !Number.isSafeInteger(file.id) || typeof file.name !== "string") {
    return uploadFailed(state, key, { status: 500, message: "the server's answer is malformed" });
  }
  state.uploads = uploads.finish(state.uploads, key, file);
  return pumpUploads(state);
}

/** Upload `key` failed: `answer` is {status (0: no answer), code, message}. */
export function uploadFailed(state, key, answer) {
  state.uploads = uploads.fail(state.uploads, key, uploads.failure(answer));
  return pumpUploads(state);
}

/** Upload a failed file again. */
export function retryUpload(state, key) {
  state.uploads = uploads.retry(state.uploads, key);
  return pumpUploads(state);
}

/** Take a file out of the box (stopping its upload; the controller forgets its bytes). */
export function removeUpload(state, key) {
  state.uploads = uploads.remove(state.uploads, key);
  return pumpUploads(state);
}

/** The room of a box: the room's own, or a thread's ("general#1040": its room, "general"). */
function boxRoom(box) {
  const at = box.indexOf("#");
  return at < 0 ? box : box.slice(0, at);
}

/** Start queued uploads while fewer than PARALLEL_UPLOADS are on their way. */
function pumpUploads(state) {
  const effects = [];
  let going = state.uploads.filter((item) => item.status === "uploading").length;
  for (const item of state.uploads) {
    if (going >= PARALLEL_UPLOADS) break;
    if (item.status !== "queued") continue;
    state.uploads = uploads.start(state.uploads, item.key);
    effects.push({ upload: { key: item.key, room: boxRoom(item.room) } });
    going += 1;
  }
  return effects;
}

/** The files `ids` are drawn on screen at `now`: ask for the links they lack. */
export function wantLinks(state, ids, now) {
  return [...fetchLinks(linkCache.want(state.links, ids, now)), ...renewLater(state, now)];
}

/** The links asked for `asked` came: `items` [{id, url, thumbnail_url, expires_at}]. */
export function linksReceived(state, asked, items, now) {
  linkCache.received(state.links, asked, items, now);
  return renewLater(state, now);
}

/** The request for the links of `asked` failed: asked again later. */
export function linksFailed(state, asked, now) {
  linkCache.failed(state.links, asked, now);
  return renewLater(state, now);
}

/** A link of file `id` did not load: ask for a new one. */
export function linkBroken(state, id, now) {
  linkCache.broken(state.links, id);
  return wantLinks(state, [id], now);
}

/** Renew the links about to expire (and retry those that failed) of the files drawn lately. */
export function renewLinks(state, now) {
  return [...fetchLinks(linkCache.due(state.links, now)), ...renewLater(state, now)];
}

function fetchLinks(ids) {
  return linkCache.batches(ids).map((batch) => ({ fetchLinks: batch }));
}

function renewLater(state, now) {
  const at = linkCache.nextDue(state.links);
  if (at === null) return [];
  const later = Math.min(MAX_LATER_MS, Math.max(0, at - now));
  return [{ later, key: `links@${now + later}`, action: "renewLinks", args: [] }];
}

/** The reducers that `later` effects name (called with their args, then the time). */
export const actions = { flushReads, retrySend, renewLinks, listRooms, listContacts,
  pauseEnded, askProfiles, statusesEnded, saveDraft };

// -- drafts on the server (drafts.js) -------------------------------------------------------

/** Whether the server can keep a draft of `key`: its room is one of the person's. */
function draftable(state, key) {
  const room = state.rooms.get(drafting.placeOf(key).room);
  return Boolean(room) && !room.draft;
}

/** The `set_draft` request that gives the server key `key`'s `text` ("" deletes it). */
function draftRequest(key, text) {
  const { room, thread } = drafting.placeOf(key);
  return request("set_draft", { room, ...(thread === null ? {} : { thread }), text });
}

/**
 * The server's drafts (the answer to `drafts`, after each welcome): merged with the boxes,
 * the newer text winning; what the boxes win is saved there.
 */
function draftsListed(state, reply, now) {
  const sync = state.draftSync;
  sync.supported = true;
  sync.most = Number.isSafeInteger(reply.most) ? reply.most : null;
  const merged = drafting.merge(state.drafts, sync.times, reply.drafts, {
    syncedAt: sync.syncedAt,
    typing: (key) => now - (sync.typedAt.get(key) ?? -Infinity) < drafting.TYPING_GUARD_MS,
    pushable: (key) => draftable(state, key),
    unsaved: sync.unsaved,
  });
  state.drafts = merged.drafts;
  sync.times = merged.times;
  sync.server = merged.server;
  sync.serverAt = merged.serverAt;
  sync.syncedAt = now;
  if (merged.changed) sync.pushed += 1;
  for (const key of [...sync.unsaved]) { // what the server has now is no longer unsaved
    if (!merged.push.includes(key) && merged.server.get(key) === merged.drafts.get(key)) {
      drafting.markSaved(sync, key, true);
    }
  }
  return merged.push.map((key) => draftRequest(key, merged.drafts.get(key) || ""));
}

/**
 * Save key `key`'s text on the server once its box is still (drafts.js `saveDue`): the `later`
 * effect of typing comes here, and waits again while the typing goes on.
 */
export function saveDraft(state, key, now) {
  if (!draftable(state, key)) return [];
  const due = drafting.saveDue(state.draftSync, state.drafts, key, now, online(state));
  if (!due) return [];
  if (due.wait !== undefined) {
    return [{ later: due.wait, key: `draft:${key}`, action: "saveDraft", args: [key] }];
  }
  if (due.adopt !== undefined) { // another device's, newer than what was typed here
    setDraft(state, key, due.adopt);
    state.draftSync.times.set(key, state.draftSync.serverAt.get(key));
    drafting.markSaved(state.draftSync, key, true);
    state.draftSync.pushed += 1;
    return [];
  }
  return [draftRequest(key, due.send)];
}

/** Delete the draft of `key` (the Drafts list's delete): its box is emptied, everywhere. */
export function deleteDraft(state, key) {
  if (!draftOf(state, key)) return [];
  setDraft(state, key, "");
  const sync = state.draftSync;
  sync.pushed += 1; // the open box empties too
  sync.typedAt.delete(key);
  if (!sync.supported || !online(state) || !draftable(state, key) || !sync.server.has(key)) {
    return [];
  }
  return [draftRequest(key, "")];
}

// -- changes to messages (protocol v2) -------------------------------------------------------

/** Answer message `msgId` of the open room with the next message sent there. */
export function startReply(state, msgId) {
  const room = state.rooms.get(state.current);
  const message = room && room.byMsgId(msgId);
  if (!message || message.deleted) return [];
  room.replyTo = msgId;
  return [];
}

/** The next message of the open room answers nothing after all. */
export function cancelReply(state) {
  const room = state.rooms.get(state.current);
  if (room) room.replyTo = null;
  return [];
}

/** Edit the person's own message `msgId` of the open room in place. */
export function startEdit(state, msgId) {
  const room = state.rooms.get(state.current);
  const message = heldMessage(state, room, msgId);
  if (!message || !shownMessage(state, room, message).canEdit) return [];
  state.editing = { room: room.name, msgId };
  return [];
}

/** Edit the person's last message in the open room (Up in an empty message box). */
export function editLast(state) {
  const room = state.rooms.get(state.current);
  const last = lastOwnMessage(state, room);
  return last ? startEdit(state, last.msg_id) : [];
}

/** Stop editing without saving. */
export function cancelEdit(state) {
  state.editing = null;
  return [];
}

/**
 * Save the message being edited with `text`: an `edit`, through the outbox (`key` names it
 * there; `now` in ms). The same text again changes nothing; no text is not an edit (delete it).
 */
export function saveEdit(state, { text, key, now }) {
  const editing = state.editing;
  if (!editing || typeof text !== "string") return [];
  const room = state.rooms.get(editing.room);
  const message = heldMessage(state, room, editing.msgId);
  if (!message || message.deleted) {
    state.editing = null;
    return [];
  }
  if (!text.trim()) return [{ toast: "A message cannot be empty: delete it instead." }];
  // Over the server's limit: say so and keep the edit open (sent, it would be refused and
  // the new text lost with the closed box).
  const over = textLength(text) - state.maxText;
  if (over > 0) {
    return [{ toast: `Not saved: a message holds at most ${state.maxText} characters, this `
      + `one has ${over} too many.` }];
  }
  state.editing = null;
  if (text === shownMessage(state, room, message).text) return [];
  return queueChange(state, room, message, { op: "edit", text }, key, now);
}

/** Delete message `msgId` of room `name` (the person confirmed it). */
export function deleteMessage(state, { room: name, msgId, key, now }) {
  const room = state.rooms.get(name);
  const message = heldMessage(state, room, msgId);
  if (!message || !shownMessage(state, room, message).canDelete) return [];
  if (state.editing && state.editing.room === name && state.editing.msgId === msgId) {
    state.editing = null;
  }
  if (room.replyTo === msgId) room.replyTo = null;
  return queueChange(state, room, message, { op: "delete" }, key, now);
}

/** Put (`on`) or take back the person's `emoji` on message `msgId` of the open room. */
export function react(state, { msgId, emoji, on, key, now }) {
  const room = state.rooms.get(state.current);
  const message = heldMessage(state, room, msgId);
  if (!message || typeof emoji !== "string" || !emoji) return [];
  const shown = shownMessage(state, room, message);
  if (!shown.canReact) return [];
  const mine = shown.reactions.some((r) => r.emoji === emoji && r.mine);
  if (mine === Boolean(on)) return [];
  return queueChange(state, room, message, { op: "react", emoji, on: Boolean(on) }, key, now);
}

/**
 * Show message `msgId` of the open room (a reply's original): at once when held, else after
 * paging back until it is found, or say it is not there. A thread's reply the timeline leaves
 * out (threads.js hiddenInRoom) is shown in the thread panel instead, highlighted.
 */
export function jumpTo(state, msgId) {
  const room = state.rooms.get(state.current);
  if (!room || !Number.isSafeInteger(msgId)) return [];
  const held = room.byMsgId(msgId);
  if (held && threading.hiddenInRoom(held)) return openThreadAt(state, held.thread, msgId);
  if (held) {
    state.jump = { room: room.name, msgId, tick: state.jump.tick + 1 };
    return [];
  }
  if (!online(state)) {
    return [{ toast: "Not connected: the original message cannot be loaded now." }];
  }
  room.seeking = msgId;
  room.seekSeq = null;
  return seekOlder(state, room);
}

function queueChange(state, room, message, fields, key, now) {
  state.outbox = outbox.add(state.outbox, outbox.change({ key, room: room.name,
    msgId: message.msg_id, change: fields, ts: now }));
  return transmit(state, key);
}

/** A change entry from the server (live, or on resume); `topic` and moderation entries too. */
function changed(state, frame, now) {
  if (typeof frame.room !== "string" || !isSeq(frame.seq)
      || (isChange(frame) && !Number.isSafeInteger(frame.msg_id))) return [];
  const room = state.rooms.get(frame.room);
  if (!room || room.draft) return []; // a room not followed: its list says what is new
  room.add([frame], state.me);
  panelEntries(state, room, [frame]);
  return [...settle(state, room), ...tellLate(state, room, now)]; // (the last missed, an edit, say)
}

// -- threads (threads.js) ----------------------------------------------------------------------

/**
 * Show the thread of message `msgId` of the open room (a root, or a reply: its root's thread)
 * in the thread panel: its first page is asked for.
 */
export function openThread(state, msgId) {
  const room = state.rooms.get(state.current);
  if (!room || room.draft || !Number.isSafeInteger(msgId)) return [];
  const message = heldMessage(state, room, msgId);
  const rootId = message && threading.isReply(message) ? message.thread : msgId;
  const panel = state.threadPanel;
  if (panel.shown && panel.room === room.name && panel.rootId === rootId
      && panel.status !== "failed") return [];
  const root = room.byMsgId(rootId) || null;
  threadShown(state);
  const fields = threading.begin(panel, room.name, rootId, { root });
  if (!online(state)) {
    threading.failed(panel, fields, { code: "disconnected" });
    return [];
  }
  return [request("thread", fields)];
}

/**
 * Show reply `msgId` of the thread of root `rootId` of the open room in the thread panel,
 * highlighted: the thread opens (if not open already) and pages back to the reply if needed.
 */
function openThreadAt(state, rootId, msgId) {
  const effects = openThread(state, rootId);
  const panel = state.threadPanel;
  if (!panel.shown || panel.rootId !== rootId || msgId === rootId) return effects;
  const fields = threading.aim(panel, msgId);
  return [...effects, ...(fields ? [request("thread", fields)] : [])];
}

/** The thread panel closed: its thread is let go (and an edit of a reply only it held). */
export function closeThread(state) {
  threadShown(state);
  const { editing, threadPanel: panel } = state;
  if (editing && editing.room === panel.room
      && !state.rooms.get(editing.room)?.byMsgId(editing.msgId)) state.editing = null;
  threading.clear(panel);
  return [];
}

/** The thread the panel shows was seen up to the room's last entry (threads.js newReplies). */
function threadShown(state) {
  const panel = state.threadPanel;
  const room = panel.shown && panel.room !== null ? state.rooms.get(panel.room) : null;
  if (!room || !Number.isSafeInteger(panel.rootId)) return;
  state.threadsSeen.set(threading.draftKey(room.name, panel.rootId), room.lastSeq);
}

// -- followed threads (inbox.js) --------------------------------------------------------------

/** The first page of the followed threads again, when a thread became known without it. */
function wantedThreads(state) {
  if (!online(state)) return [];
  const fields = inboxing.wanted(state.inbox);
  return fields ? [request("threads", fields)] : [];
}

/** The Threads view opened: it starts at the top, with the first page asked again. */
export function openThreads(state) {
  inboxing.opened(state.inbox);
  if (!online(state)) return [];
  const fields = inboxing.refresh(state.inbox);
  return fields ? [request("threads", fields)] : [];
}

/**
 * A thread of the Threads view opened: its room, at its root when held, and the thread panel.
 */
export function openFollowed(state, { room: name, rootId }) {
  const room = state.rooms.get(name);
  if (!room || room.draft) return [{ toast: `You are not a member of ${name} any more.` }];
  const effects = state.current === name ? [] : selectRoom(state, name);
  if (room.byMsgId(rootId)) state.jump = { room: name, msgId: rootId, tick: state.jump.tick + 1 };
  return [...effects, ...openThread(state, rootId)];
}

/** The Threads view scrolled to its end: the next page, if any. */
export function moreThreads(state) {
  if (!online(state)) return [];
  const fields = inboxing.nextPage(state.inbox);
  return fields ? [request("threads", fields)] : [];
}

/** Follow (`on`) or unfollow the thread of `room`'s root `rootId`: shown at once. */
export function followThread(state, { room, rootId, on }) {
  if (!state.inbox.supported) return [{ toast: "This server does not keep followed threads." }];
  if (!online(state)) return [{ toast: "Not connected: try again once the page is back online." }];
  return [request("follow_thread", inboxing.followRequest(state.inbox, room, rootId, on))];
}

/**
 * The person saw the thread of `room`'s root `rootId` up to reply `seq` (the panel open at its
 * newest reply, the tab visible): `read_thread`, only forward, once per seq.
 */
export function readThread(state, { room, rootId, seq }) {
  if (!online(state)) return [];
  const panel = state.threadPanel;
  const said = panel && panel.room === room && panel.rootId === rootId ? panel.said : null;
  const fields = inboxing.readRequest(state.inbox, room, rootId, seq, { said });
  return fields ? [request("read_thread", fields)] : [];
}

/** The thread panel's older replies. */
export function moreThread(state) {
  const fields = threading.nextPage(state.threadPanel);
  return fields ? [request("thread", fields)] : [];
}

/** Ask again for the thread that failed. */
export function retryThread(state) {
  const fields = threading.retry(state.threadPanel);
  return fields ? [request("thread", fields)] : [];
}

/** The thread composer's "Also send to the room" was ticked (`on`) or not. */
export function setThreadAlso(state, on) {
  state.threadPanel.also = Boolean(on);
  return [];
}

/**
 * Send `text` as a reply in the thread the panel shows (to the room too when "Also send to the
 * room" is ticked, which then clears): into the outbox at once, then out with `nonce`, as
 * `compose` sends to the room. With `poll` ({options, multiple}: the thread box's "Create a
 * poll"), the reply is a poll and `text` its question, checked as `composePoll` checks it.
 */
export function replyInThread(state, { text, nonce, now, poll = null }) {
  const panel = state.threadPanel;
  const room = panel.room !== null ? state.rooms.get(panel.room) : null;
  if (!room || room.draft || typeof text !== "string") return [];
  // The files attached in the thread's box go with the reply (as the room's box does).
  const box = threading.draftKey(room.name, panel.rootId);
  const attached = uploads.readiness(state.uploads, box);
  if (attached.count && !attached.ready) {
    return [{ toast: attached.failed ? "Retry or remove the files that failed first."
      : "The files are still uploading: send once they are done." }];
  }
  if (!text.trim() && !attached.files.length) return [];
  if (!panel.root) return [{ toast: "The thread is still loading: send once it is shown." }];
  if (panel.root.deleted) return [{ toast: "The thread's first message was deleted: it takes no new replies." }];
  const problem = poll ? polling.pollProblem({ question: text, options: poll.options,
    maxText: state.maxText }) : null;
  if (problem) return [{ toast: problem }];
  const over = textLength(text) - state.maxText;
  if (over > 0) {
    return [{ toast: `Not sent: a message holds at most ${state.maxText} characters, this `
      + `one has ${over} too many.` }];
  }
  room.keptUnread = false; // acting in it (markUnread)
  const broadcast = panel.also;
  panel.also = false;
  state.uploads = uploads.consume(state.uploads, box);
  const files = [...attached.files].sort((a, b) => a.id - b.id); // (as `compose` does)
  state.outbox = outbox.add(state.outbox, outbox.entry({ nonce, room: room.name,
    to: sendTo(room, state.me), text, ts: now, thread: panel.root.msg_id,
    broadcast, files, poll: poll ? polling.pollField(poll.options, poll.multiple) : null }));
  state.lastTyping.delete(room.name);
  if (broadcast) state.scrollTick += 1;
  return transmit(state, nonce);
}

// -- scheduled messages (scheduled.js) ------------------------------------------------------

/**
 * Schedule what the open room's box holds (with its files and the reply it quotes), or with
 * `thread`, what the thread panel's box holds (as a reply of its thread, to the room too when
 * "Also send" is ticked), to be sent at `sendAt` (ms). Leaves the box as a send does: returns
 * the effects, and the box's text is emptied by the caller when a request went (`scheduling`).
 */
export function scheduleMessage(state, { text, sendAt, thread = false, now }) {
  if (!state.scheduled.supported) return [{ toast: "This server does not schedule messages." }];
  if (!online(state)) return [{ toast: "Not connected: the message was not scheduled." }];
  const problem = scheduling.timeProblem(sendAt, now);
  if (problem) return [{ toast: problem }];
  if (typeof text !== "string") return [];
  const over = textLength(text) - state.maxText;
  if (over > 0) {
    return [{ toast: `Not scheduled: a message holds at most ${state.maxText} characters, `
      + `this one has ${over} too many.` }];
  }
  const panel = state.threadPanel;
  const room = thread ? (panel.room !== null ? state.rooms.get(panel.room) : null)
    : state.rooms.get(state.current);
  if (!room || room.draft) return [];
  // The box's files go with it (the thread's box has its own, as `replyInThread` takes them).
  const box = thread ? threading.draftKey(room.name, panel.rootId) : room.name;
  const attached = uploads.readiness(state.uploads, box);
  if (attached.count && !attached.ready) {
    return [{ toast: attached.failed ? "Retry or remove the files that failed first."
      : "The files are still uploading: schedule once they are done." }];
  }
  if (!text.trim() && !attached.files.length) return [];
  if (thread && !panel.root) {
    return [{ toast: "The thread is still loading: schedule once it is shown." }];
  }
  const files = [...attached.files].sort((a, b) => a.id - b.id);
  state.uploads = uploads.consume(state.uploads, box);
  scheduling.holding(state.scheduled, files);
  if (thread) {
    const broadcast = panel.also;
    panel.also = false;
    return [request("schedule", scheduling.scheduleFields({ room: room.name, text, files,
      thread: panel.root.msg_id, broadcast, sendAt }))];
  }
  const replyTo = Number.isSafeInteger(room.replyTo) ? room.replyTo : null;
  room.replyTo = null;
  return [request("schedule", scheduling.scheduleFields({ room: room.name, text, files,
    replyTo, sendAt }))];
}

/** The "Scheduled" panel was opened: the list is asked for again (unless on its way). */
export function openScheduled(state) {
  scheduling.opened(state.scheduled);
  if (!online(state)) return [];
  const fields = scheduling.begin(state.scheduled);
  return fields ? [request("scheduled_items", fields)] : [];
}

// -- user groups (usergroups.js) --------------------------------------------------------------

/**
 * The "User groups" panel opened: its list again when the last listing failed (the welcome's
 * is kept live by the events otherwise), back to the list.
 */
export function openUserGroups(state) {
  grouping.closeGroup(state.userGroups);
  if (!online(state) || state.userGroups.status !== "failed") return [];
  return [request("user_groups", grouping.begin(state.userGroups))];
}

/** The list asked for again (the panel's "Try again"). */
export function listUserGroups(state) {
  if (!online(state)) return [];
  return [request("user_groups", grouping.begin(state.userGroups))];
}

/** Show group `name` in the panel: its members are asked for. */
export function showUserGroup(state, name) {
  const fields = grouping.openGroup(state.userGroups, name);
  return online(state) ? [request("user_group", fields)] : [];
}

/** Back to the list of groups. */
export function closeUserGroup(state) {
  grouping.closeGroup(state.userGroups);
  return [];
}

/** Send scheduled item `id` now. */
export function sendScheduledNow(state, id) {
  return changeScheduled(state, id, "send");
}

/** Send scheduled item `id` at `sendAt` instead (a failed one waits again). */
export function rescheduleItem(state, id, sendAt, now) {
  const problem = scheduling.timeProblem(sendAt, now);
  if (problem) return [{ toast: problem }];
  return changeScheduled(state, id, "edit", { send_at: sendAt });
}

/**
 * Change the text of scheduled item `id`, and its time too when `sendAt` (ms) is given (the
 * editor's "When" box: one `edit_scheduled` with both; a failed item waits again). `now` (ms)
 * checks the time.
 */
export function editScheduledText(state, id, text, { sendAt = null, now = 0 } = {}) {
  if (typeof text !== "string" || !text.trim()) return [{ toast: "A message needs some text: delete it instead." }];
  const over = textLength(text) - state.maxText;
  if (over > 0) {
    return [{ toast: `Not changed: a message holds at most ${state.maxText} characters, `
      + `this one has ${over} too many.` }];
  }
  if (sendAt !== null) {
    const problem = scheduling.timeProblem(sendAt, now);
    if (problem) return [{ toast: problem }];
  }
  return changeScheduled(state, id, "edit", sendAt === null ? { text } : { text, send_at: sendAt });
}

/** Delete scheduled item `id` (it is not sent). */
export function cancelScheduled(state, id) {
  return changeScheduled(state, id, "cancel");
}

function changeScheduled(state, id, what, fields = {}) {
  if (!online(state)) return [{ toast: "Not connected right now; try again in a moment." }];
  if (!state.scheduled.items.some((item) => item.item === id)) return [];
  const { op, fields: asked } = scheduling.change(state.scheduled, id, what, fields);
  return [request(op, asked)];
}


// -- pins (pins.js) --------------------------------------------------------------------------

/**
 * Pin message `msgId` of room `name` to the room (`on`), or unpin it: through the outbox, as a
 * reaction (`key` names it there; `now` in ms). A message already as asked changes nothing.
 */
export function pinMessage(state, { room: name, msgId, on, key, now }) {
  const room = state.rooms.get(name);
  const message = heldMessage(state, room, msgId);
  if (!message || message.deleted || room.draft || room.archived) return [];
  if (pinnedNow(state, room, message) === Boolean(on)) return [];
  return queueChange(state, room, message, { op: "pin", on: Boolean(on) }, key, now);
}

/** Whether a message is pinned as the page shows it: with the person's pins on their way. */
function pinnedNow(state, room, message) {
  let pinned = Boolean(message.pinned);
  for (const item of state.outbox) {
    if (item.change && item.room === room.name && item.change.msg_id === message.msg_id
        && item.change.op === "pin") pinned = item.change.on;
  }
  return pinned;
}

/** Show the "Pinned" panel with the open room's pins (none while no room is open). */
export function openPins(state) {
  const room = state.rooms.get(state.current);
  if (!room || room.draft) {
    pinning.clear(state.pinsPanel, { shown: true });
    return [];
  }
  return listPins(state, room.name);
}

/** The panel closed: its list is let go. */
export function closePins(state) {
  pinning.clear(state.pinsPanel);
  return [];
}

/** The next page of the panel's pins. */
export function morePins(state) {
  const fields = pinning.nextPage(state.pinsPanel);
  return fields ? [request("pins", fields)] : [];
}

/** Ask again for what failed. */
export function retryPins(state) {
  const fields = pinning.retry(state.pinsPanel);
  return fields ? [request("pins", fields)] : [];
}

function listPins(state, name) {
  return [request("pins", pinning.begin(state.pinsPanel, name))];
}

/**
 * The panels' copy of message `msgId` of `room`: the pins panel's, when it shows that room's
 * pins, or the thread panel's, when it shows a thread of that room (a reply the room does not
 * hold).
 */
function panelItem(state, room, msgId) {
  const pinned = state.pinsPanel.room === room.name
    ? pinning.itemOf(state.pinsPanel, msgId) : undefined;
  if (pinned) return pinned;
  return state.threadPanel.room === room.name
    ? threading.itemOf(state.threadPanel, msgId) : undefined;
}

/** Message `msgId` of room `name` as the page holds it (the room, or a panel), or undefined. */
export function messageHeld(state, name, msgId) {
  return heldMessage(state, state.rooms.get(name), msgId);
}

/** Message `msgId` of `room` as held by the room, or else by a panel, or undefined. */
function heldMessage(state, room, msgId) {
  return room ? room.byMsgId(msgId) || panelItem(state, room, msgId) : undefined;
}

/**
 * Entries of `room` (live, or from a page) reach the panel showing its pins: the changes to
 * the messages it lists, and a pin (a message the page does not hold: the first page is asked
 * again, by `settle`).
 */
function panelEntries(state, room, entries, { live = true } = {}) {
  // The followed threads count their replies (inbox.js); `settle` asks what they lack.
  for (const entry of entries) {
    if (entry.op === "deleted") inboxing.changeEntry(state.inbox, room.name, entry);
    else if (threading.isReply(entry)) {
      inboxing.replyEntry(state.inbox, room.name, entry, state.me, { live });
    }
  }
  if (state.threadPanel.room === room.name) {
    for (const entry of entries) threading.applyEntry(state.threadPanel, { room: room.name, ...entry });
  }
  const panel = state.pinsPanel;
  if (panel.room !== room.name) return;
  for (const entry of entries) {
    if (!isChange(entry) || !Number.isSafeInteger(entry.msg_id)) continue;
    if (pinning.applyEntry(panel, entry, room.byMsgId(entry.msg_id))) panel.stale = true;
  }
}

/**
 * After entries reached `room`: the panel's first page asked again when a pin it cannot show
 * came (`panelEntries`), and the room's object when a message deleted may have been pinned
 * (store.js `pinsUnsure`: the object says the count).
 */
function pinsSettled(state, room) {
  const effects = [];
  const panel = state.pinsPanel;
  if (panel.room === room.name && panel.stale) {
    panel.stale = false;
    const fields = pinning.refresh(panel);
    if (fields) effects.push(request("pins", fields));
  }
  if (room.pinsUnsure) {
    room.pinsUnsure = false;
    effects.push(...refresh(state, room.name));
  }
  return effects;
}

/**
 * A `banned` or `kicked` entry: a line in the conversation; when it is about this user, what
 * the `left` event that follows it (live only, never replayed) says: banned or removed, and why.
 */
function removedBy(state, frame, now) {
  const effects = changed(state, frame, now);
  const room = state.rooms.get(frame.room);
  if (room && sameUser(frame.user, state.me)) {
    room.removal = { banned: frame.op === "banned",
      reason: typeof frame.reason === "string" ? frame.reason : "" };
  }
  return effects;
}

function changeAcked(state, asked, reply) {
  const item = outbox.findChange(state.outbox, asked);
  if (!item) return [];
  if (!isSeq(reply.seq)) {
    state.outbox = outbox.drop(state.outbox, item.nonce);
    return [];
  }
  // Done once its entry (or, unchanged, the one that had already made it so) is in the message.
  state.outbox = outbox.update(state.outbox, item.nonce,
    { status: "acked", seq: reply.seq, error: "" });
  const room = state.rooms.get(item.room);
  if (room) return settle(state, room);
  state.outbox = outbox.drop(state.outbox, item.nonce);
  return [];
}

const CHANGE_VERBS = { edit: "edit", delete: "delete", react: "react to", pin: "pin",
  vote: "vote in the poll of", close_poll: "close the poll of" };

function changeRefused(state, asked, error) {
  const item = outbox.findChange(state.outbox, asked);
  if (!item) return [];
  const { status, error: text, retryAfter } = outbox.failure(error, online(state));
  if (status === "rejected") {
    // Refused for good (the message was deleted meanwhile, say): the change is dropped.
    state.outbox = outbox.drop(state.outbox, item.nonce);
    const verb = asked.op === "pin" && asked.on === false ? "unpin"
      : CHANGE_VERBS[asked.op] || asked.op;
    return [{ toast: `Could not ${verb} the message: ${error.message || error.code}` }];
  }
  state.outbox = outbox.update(state.outbox, item.nonce, { status, error: text });
  if (retryAfter === null) return [];
  return [{ later: retryAfter, key: `send:${item.nonce}`, action: "retrySend",
    args: [item.nonce, { onlyIfFailed: true }] }];
}

/**
 * After entries reached `room`: drop the acknowledged changes whose entry is in their message
 * now, stop an edit of a message that was deleted, and show the message being looked for once
 * it is here.
 */
function settle(state, room) {
  const effects = [];
  const done = state.outbox.filter((item) => {
    if (!item.change || item.room !== room.name || item.status !== "acked") return false;
    const message = room.byMsgId(item.change.msg_id) || panelItem(state, room, item.change.msg_id);
    return !message || revOf(message) >= item.seq;
  });
  for (const item of done) state.outbox = outbox.drop(state.outbox, item.nonce);
  if (state.editing && state.editing.room === room.name) {
    const message = heldMessage(state, room, state.editing.msgId);
    if (!message || message.deleted) {
      state.editing = null;
      effects.push({ toast: "The message you were editing was deleted." });
    }
  }
  if (room.replyTo !== null && room.byMsgId(room.replyTo)?.deleted) room.replyTo = null;
  if (room.seeking === SEEK_BY_SEQ && room.messages.has(room.seekSeq)) {
    // Sought by its seq (openResult): found, it is sought by its msg_id from here on.
    room.seeking = room.messages.get(room.seekSeq).msg_id ?? null;
  }
  const found = room.seeking !== null ? room.byMsgId(room.seeking) : null;
  if (found) {
    const msgId = room.seeking;
    room.seeking = null;
    room.seekSeq = null;
    // A thread's reply the timeline leaves out: shown in its thread (jumpTo).
    if (threading.hiddenInRoom(found) && room.name === state.current) {
      effects.push(...openThreadAt(state, found.thread, msgId));
    } else {
      state.jump = { room: room.name, msgId, tick: state.jump.tick + 1 };
    }
  }
  effects.push(...pinsSettled(state, room));
  effects.push(...wantedThreads(state));
  return effects;
}

/**
 * Page back towards the message being looked for, or say it cannot be found. With its seq
 * known (a search result), one page reaches it (up to SEEK_MAX entries a page), with a few
 * entries before it.
 */
function seekOlder(state, room) {
  if (room.seeking === null || room.loadingOlder) return [];
  const before = room.oldest;
  const target = room.seekSeq;
  if (!room.more || before === null || before <= 1 || !online(state)
      || (target !== null && target >= before)) {
    room.seeking = null;
    room.seekSeq = null;
    return [{ toast: target === null ? "The original message is not available."
      : "That message is not available any more." }];
  }
  room.loadingOlder = true;
  const limit = target === null ? SEEK_PAGE
    : Math.min(SEEK_MAX, Math.max(1, before - target + SEEK_CONTEXT));
  return [request("history", { room: room.name, before, limit })];
}

// -- the listing: the welcome's rooms and contacts, paged ------------------------------------
//
// The hello asks for the first WELCOME_ROOMS rooms and WELCOME_CONTACTS contacts; a welcome
// with `rooms_more` (or `contacts_more`) is followed at once by `rooms` {joined, after} (or
// `contacts` {after}) pages, one at a time, until one says there is no more. The pages carry
// no `limit`: the server's default (100, or its largest page if smaller) never exceeds what
// the server takes.
// Meanwhile the connection gets the live events of every room of the user, listed or not:
//
// - A room known before the welcome and not in it may be on a later page: it is forgotten
//   ("no longer a member") only once the last page has come without it (`unlisted` holds those
//   not seen yet; a page, a message of the room, or joining it again takes it out).
// - A page's room unknown here is added. One that went meanwhile (left, removed, deleted:
//   `gone`) is not brought back by a page read before it went.
// - A message of a room not known yet starts following the room from it (as any message of a
//   new room does); its room object then counts what came before it (store.js applyInfo: the
//   object and the live messages neither overlap in `unread` nor lose one). Its alert waits
//   for the object, which says the level and the read marker (`alerts`), as do `read` and
//   `notify` events of a room not known yet (`early`). A room the pages have still to reach
//   (its name sorts after the last one asked for) is not looked up apart.
// - Without `rooms_more` (an older server, or few rooms) the welcome lists everything, as it
//   always did: `roomsListed` is true from it on. controller.js opens a room named by the
//   address or a notification once it is listed, or once the whole list is in without it.

/** Ask the next page of the welcome's rooms (none while one is on its way). */
export function listRooms(state) {
  const listing = state.listing;
  if (!listing || listing.waiting || !online(state)) return [];
  listing.waiting = true;
  return [request("rooms", { joined: true, after: listing.after })];
}

/** Ask the next page of the welcome's contacts (none while one is on its way). */
export function listContacts(state) {
  const listing = state.contactsListing;
  if (!listing || listing.waiting || !online(state)) return [];
  listing.waiting = true;
  return [request("contacts", { after: listing.after })];
}

/**
 * Whether `asked` is the page of the welcome's rooms on its way: a page of one's rooms after
 * its cursor (whoever asked it, what it lists is the listing's next page).
 */
function isListingPage(state, asked) {
  const listing = state.listing;
  return Boolean(listing) && listing.waiting && asked.joined === true
    && asked.query === undefined && asked.after === listing.after;
}

/** A page of the welcome's rooms came (`more`: another follows). */
function listingPage(state, infos, more, now) {
  const listing = state.listing;
  listing.waiting = false;
  const effects = [];
  let last = null;
  for (const info of infos) {
    if (!info || typeof info.room !== "string") continue;
    last = info.room;
    listing.unlisted.delete(info.room);
    if (info.member === false || listing.gone.has(info.room)) continue;
    const unseen = replayless(state, info.room);
    const room = roomFor(state, info.room);
    room.applyInfo(info, { me: state.me });
    const held = listing.early.get(info.room);
    if (held) {
      listing.early.delete(info.room);
      if (isSeq(held.read)) room.markRead(held.read, state.me);
      if (alerts.isLevel(held.notify)) room.setNotify(held.notify, { confirmed: true });
    }
    if (unseen) noteMissed(state, room, info);
    if (listing.skipped.delete(room.name)) effects.push(...tellSkipped(state, room, info, now));
    effects.push(...settle(state, room), ...heldAlerts(state, room.name, now));
  }
  if (more && last !== null && byCodePoint(last, listing.after) > 0) {
    listing.after = last;
    return [...effects, ...listRooms(state)];
  }
  return [...effects, ...listingDone(state, now)];
}

/** The last page came: what was not listed is gone; what is still unknown is looked up. */
function listingDone(state, now) {
  const { unlisted, alerts: waiting } = state.listing;
  state.roomsListed = true;
  const effects = [];
  for (const name of unlisted) {
    const room = state.rooms.get(name);
    if (!room || room.draft) continue;
    forgetRoom(state, name); // left or removed while away
    if (!isConversation(room)) effects.push({ toast: `You are no longer a member of #${name}` });
  }
  for (const { room: name, seq } of waiting) {
    const room = state.rooms.get(name);
    if (room) effects.push(...alertsFor(state, room, room.messages.get(seq), now));
  }
  // A room that came live after the page that would have listed it was read, or a refresh
  // asked for meanwhile.
  if (state.listing.refresh
      || [...state.rooms.values()].some((room) => !room.described && !room.draft)) {
    effects.push({ refreshRooms: true });
  }
  state.listing = null;
  return [...effects, ...openNext(state), ...tellMissed(state, now)];
}

// -- what was missed while away (missed.js) ----------------------------------------------------

/**
 * Whether room `name`'s object is all the page gets of what it missed: a room the hello did
 * not resume (so unfollowed by the welcome) or that is new here. A resumed room replays its
 * entries, and a room that came live during the listing has them: they alert one by one.
 */
function replayless(state, name) {
  const room = state.rooms.get(name);
  return !room || (!room.described && room.messages.size === 0);
}

/**
 * What to tell of `message`, new in `room` at `now`: its alert (alerts.js `alertFor`), if any.
 * A message that would alert but for its age (STALE_MS, by the server's clock: clock.js) is
 * one the page missed: the replay of a room the hello resumed after a long absence (a laptop
 * asleep an hour). Alerting each would ring for hours-old news, and alerting none let a
 * mention in a resumed room go untold (missed.js tells only of the rooms not resumed): so
 * they are counted, and told once per room, as missed.js tells a room's, once the room has
 * caught up (`tellLate`). A room that missed too much to be replayed (a `gap`) is told by
 * its counts instead (`tellSkipped`).
 */
function alertsFor(state, room, message, now) {
  if (!alerts.late(message, now)) {
    const alert = alerts.alertFor(state, room, message, now);
    if (!alert) return tellLate(state, room, now);
    state.late.delete(room.name); // one alert per room: this one stands for what it missed
    return [{ alert }];
  }
  const kind = alerts.alertKind(state, room, message);
  if (kind !== null) {
    const counts = state.late.get(room.name) || { mention: 0, dm: 0, message: 0 };
    counts[kind] += 1;
    state.late.set(room.name, counts);
  }
  return tellLate(state, room, now);
}

/**
 * The alert for what `room` missed (`alertsFor` counted it), once the room has caught up (its
 * entries held up to the last one known): one per room, known across tabs by the room's last
 * entry as missed.js `awayAlert` is, so a live alert of that entry, told already, stands for it.
 */
function tellLate(state, room, now) {
  const counts = state.late.get(room.name);
  if (!counts || room.head === null || room.head < room.lastSeq) return [];
  state.late.delete(room.name);
  // (A group at "all" tells of its messages as a 1:1 does: alerts.js kindOf.)
  const found = isConversation(room) && alerts.levelOf(room) === "all"
    ? { kind: "dm", count: counts.dm + counts.message + counts.mention }
    : counts.mention ? { kind: "mention", count: counts.mention }
      : { kind: "message", count: counts.message };
  const alert = missed.awayAlert(state, room, found, now);
  return alert ? [{ alert }] : [];
}

/**
 * A resumed room that missed more than the server replays (a `gap`): its messages are paged
 * in with `history`, which alerts nothing, so what it missed is told from its counts, as
 * missed.js tells a room not resumed: its room object of this connection (`info`, or as
 * applied to `room`: nothing of the room comes before its catch-up) against what the page saw
 * of it before (`state.seen`), once, in the words of `tellLate`. When its object is on a
 * later page of the listing, that page tells it.
 */
function tellSkipped(state, room, info, now) {
  if (state.listing && state.listing.unlisted.has(room.name)) {
    state.listing.skipped.add(room.name);
    return [];
  }
  if (state.seen === null) return []; // nothing remembered: nothing to compare with
  const object = info || { last_seq: room.lastSeq, read_seq: room.readSeq, unread: room.unread,
    mentions: room.mentions };
  const found = missed.missedOf(room, missed.news(state.seen.get(room.name), object));
  const alert = missed.awayAlert(state, room, found, now);
  return alert ? [{ alert }] : [];
}

/** Room object `info` was applied to `room`: keep what it says was missed, if anything. */
function noteMissed(state, room, info) {
  if (state.seen === null || state.away === null) return;
  const found = missed.missedOf(room, missed.news(state.seen.get(room.name), info));
  if (found) state.away.push({ room: room.name, missed: found });
}

/**
 * The whole list is in (and the room to show chosen): an alert for each room that missed
 * something, but the one looked at, and one line that says it all.
 */
function tellMissed(state, now) {
  const away = state.away || [];
  state.away = null;
  const items = away.map(({ room, missed: found }) => ({ room: state.rooms.get(room),
    missed: found })).filter(({ room }) => room && !alerts.looking(state, room.name));
  const effects = [];
  for (const { room, missed: found } of items) {
    const alert = missed.awayAlert(state, room, found, now);
    if (alert) effects.push({ alert });
  }
  const text = missed.awayText(items);
  if (text) effects.push({ toast: text });
  return effects;
}

/** The alerts that waited for room `name`'s object, now that it came. */
function heldAlerts(state, name, now) {
  const listing = state.listing;
  if (!listing.alerts.some((item) => item.room === name)) return [];
  const room = state.rooms.get(name);
  const effects = [];
  for (const { seq } of listing.alerts.filter((item) => item.room === name)) {
    effects.push(...alertsFor(state, room, room.messages.get(seq), now));
  }
  listing.alerts = listing.alerts.filter((item) => item.room !== name);
  return effects;
}

/**
 * Look room `name`'s object up (ROOMS_REFRESH, coalesced): not while the listing is on its way
 * (a second walk through every room): it lists the room if it sorts after the pages asked, and
 * a refresh follows its end otherwise.
 */
function refresh(state, name) {
  if (!state.listing) return [{ refreshRooms: true }];
  if (!covered(state, name)) state.listing.refresh = true;
  return [];
}

/** Whether the listing on its way will list room `name` (it sorts after the pages asked). */
function covered(state, name) {
  return state.listing !== null && byCodePoint(name, state.listing.after) > 0;
}

/** Whether room `room` waits for its object from the listing (so does its level). */
function awaited(state, room) {
  return !room.described && covered(state, room.name);
}

/** What came for room `name` before it was known: {read, notify}, kept for its object. */
function early(state, name) {
  const listing = state.listing;
  if (typeof name !== "string" || !covered(state, name)) return {}; // nobody keeps it
  if (!listing.early.has(name)) listing.early.set(name, {});
  return listing.early.get(name);
}

/** Room `name` is one's own now (joined, created, a message came): not gone, not unlisted. */
function present(state, name) {
  if (!state.listing) return;
  state.listing.unlisted.delete(name);
  state.listing.gone.delete(name);
}

/** Names in the order of the server's room list: by code point. */
function byCodePoint(a, b) {
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i += 1) {
    const d = x[i].codePointAt(0) - y[i].codePointAt(0);
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

// -- helpers ---------------------------------------------------------------------------------

function roomFor(state, name) {
  let room = state.rooms.get(name);
  if (!room) {
    room = new Room(name);
    if (room.kind === "group") room.peers = othersOf(room, state.me);
    state.rooms.set(name, room);
  }
  return room;
}

function forgetRoom(state, name) {
  state.rooms.delete(name);
  // Its drafts went with the membership on the server; the boxes' copies go too.
  for (const key of [...(state.drafts || new Map()).keys()]) {
    if (drafting.placeOf(key).room === name) setDraft(state, key, "");
  }
  state.late.delete(name);
  if (state.listing) {
    state.listing.unlisted.delete(name);
    state.listing.gone.add(name); // a page read before it went must not bring it back
  }
  if (state.uploads.some((item) => item.room === name)) {
    state.uploads = state.uploads.filter((item) => item.room !== name);
  }
  if (state.outbox.some((item) => item.change && item.room === name)) {
    state.outbox = state.outbox.filter((item) => !(item.change && item.room === name));
  }
  if (state.editing && state.editing.room === name) state.editing = null;
  if (state.threadPanel.room === name) threading.clear(state.threadPanel);
  inboxing.roomGone(state.inbox, name);
  if (state.pinsPanel.room === name) {
    pinning.clear(state.pinsPanel, { shown: state.pinsPanel.shown }); // openNext lists the next
  }
  state.reads.delete(name);
  state.lastTyping.delete(name);
  receipting.forget(state.receipts, name);
  if (state.current === name) state.current = null;
}

/** After the open room went away: open the first one left, if any. */
function openNext(state) {
  if (state.current !== null) return [];
  const next = firstRoom(state);
  return next ? selectRoom(state, next.name) : [];
}

/** What a room needs when it is shown: its latest page (once) and its members. */
function loadRoom(state, name, { members = false } = {}) {
  const room = state.rooms.get(name);
  if (!room || room.draft || !online(state)) return [];
  const effects = [];
  if (!room.loaded && !room.loading) {
    room.loading = true;
    effects.push(request("history", { room: name, limit: openingPage(room) }));
  }
  if (!room.members || members) effects.push(request("who", { room: name }));
  if (receipting.wantsMarkers(state.receipts, room)) {
    // Where the others have read to: the conversation's "Seen" lines (receipts.js).
    receipting.asking(state.receipts, name);
    effects.push(request("receipts", { room: name }));
  }
  return effects;
}

/**
 * Keep messages of room `name` (each once, by seq), as events or from an ack (`weak`: only if
 * the message is not held yet).
 */
function receive(state, name, messages, { weak = false } = {}) {
  const effects = [];
  let room = state.rooms.get(name);
  const first = Math.min(...messages.map((m) => m.seq));
  if (!room) {
    // A conversation someone just started, or a room we were added to: follow it from here.
    room = roomFor(state, name);
    room.follow(first - 1);
    if (room.kind === "dm") {
      const other = messages.find((m) => !sameUser(m.from, state.me));
      if (other) room.peer = other.from;
    }
    // (A group's others, from its name until its room object names them as registered.)
    effects.push(...refresh(state, name));
  } else if (room.draft) {
    room.draft = false; // the first message created the conversation
    room.follow(first - 1);
    effects.push(...refresh(state, name)); // the peer's name as registered, not as typed
    if (state.current === name) effects.push(...loadRoom(state, name)); // now it has members
  }
  present(state, name); // a message of a room proves it is one's own
  panelEntries(state, room, messages);
  for (const message of room.add(messages, state.me, { weak })) {
    if (sameUser(message.from, state.me)) state.outbox = outbox.drop(state.outbox, message.nonce);
  }
  effects.push(...settle(state, room));
  return effects;
}

function transmit(state, nonce) {
  const item = outbox.find(state.outbox, nonce);
  if (!item) return [];
  if (!online(state)) {
    state.outbox = outbox.update(state.outbox, nonce,
      { status: "failed", error: outbox.OFFLINE_TEXT });
    return [];
  }
  state.outbox = outbox.update(state.outbox, nonce, { status: "sending", error: "" });
  return [{ request: outbox.request(item) }];
}

const STATUSES = new Set(["online", "away", "offline"]);

function setPresence(state, user, status) {
  if (typeof user !== "string") return;
  // Only the statuses the protocol has (the status is also a class name in the page).
  state.presence.set(user.toLowerCase(),
    { user, status: STATUSES.has(status) ? status : "offline" });
}

function presenceOf(state, user) {
  const known = state.presence.get(user.toLowerCase());
  return known ? known.status : null;
}

function addNotice(room, text, now) {
  room.notices.push({ after: room.lastSeq, text, ts: now, key: `n${now}-${room.notices.length}` });
}

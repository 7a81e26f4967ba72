// The client's model of one room and its messages. No DOM, no I/O: only state.js calls the
// methods that change a Room (views read it).
//
// Messages are kept per room by seq, so a message that reaches the page twice (a history page
// overlapping live events, a resend) is stored once. `head` is the seq up to which this client
// has received the room's messages without a hole since it started following the room: it is
// what the hello's `resume` names on reconnect, and it only moves forward across contiguous
// seqs, so a hole left by a `gap` keeps the resume point before it until `history` fills it.
//
// Protocol v2: a room's log also holds changes (`edited`, `deleted`, `reaction`, `pinned`), each
// with a seq of its own. Their seqs are kept (`changes`): they are part of the log that `head`
// walks and that `history` pages. A change is applied to its message (by the rules of
// entries.js) once the room is received without a hole up to it (its seq is at most `head`),
// and waits aside until then, as it does while its message is not held. Applied before, it
// could hide an older change to the same message still to come: one in the stretch a `gap`
// left to page, or behind a page of history whose reply overtook the live entries.
//
// Pins: `pins` counts the messages pinned to the room. A room object gives it as of its
// `last_seq` (`pinsSeq`); each entry after that moves it (a `pinned` one by one up or down, the
// `deleted` entry of a pinned message one down), once per seq (`pinMoves`), so an object read
// before entries that came live, or after them, ends on the same count. Whether a deleted
// message was pinned is known from the `pinned` entries seen (`pinState`) or the message held,
// once every entry before the deletion is here: a deletion after a hole (a `gap` being paged
// in) waits (`pinDeletions`), since the pin it undoes may be in the hole. When nothing says,
// `pinsUnsure` asks state.js to look the room's object up again. The server's `deleted`
// entry says `unpinned: true` when the deletion took a pin (docs/protocol.md): that is
// decided at once, hole or not; its absence is not trusted (entries written before the
// server said it), so the rules above decide those.
//
// Threads: a reply (a message with `thread`) is kept as any message (it counts as unread), and
// also changes its root's `replies` summary: the change it stands for (threads.js `replyEntry`)
// waits aside with the change entries and is applied by the same rule, once, in seq order.

import { MODERATION_OPS, moderationText, ROLES } from "./admin.js";
import { applyChange, isChange, mentions, normalise, replaces, revOf } from "./entries.js";
import { replyEntry } from "./threads.js";
import { hiddenSeqOf } from "./hiding.js";
import * as starring from "./favourites.js";
import * as sectioning from "./sections.js";
import { cutList, isConversation, kindOfName, namePeople } from "./conversations.js";

const ASIDE_MAX = 2000; // change entries kept per room, waiting for their message or a hole
const NOTIFY_LEVELS = ["all", "mentions", "none"]; // as alerts.js's LEVELS

/** The canonical name of the 1:1 conversation of two users ("@ann:bob"). */
export function dmName(a, b) {
  const names = [a.toLowerCase(), b.toLowerCase()].sort();
  return `@${names[0]}:${names[1]}`;
}

/** Whether two user names are the same user (names are unique regardless of case). */
export function sameUser(a, b) {
  return typeof a === "string" && typeof b === "string" && a.toLowerCase() === b.toLowerCase();
}

export class Room {
  constructor(name) {
    this.name = name;
    this.kind = kindOfName(name); // "room", "dm" or "group" (conversations.js)
    this.private = isConversation(this);
    this.topic = "";
    this.topicSeq = 0; // the seq the topic is as of (a `topic` entry, or a room object's)
    this.owner = null;
    this.role = null; // this user's role here: "owner" | "moderator" | "member" | null
    this.archived = false; // an archived room is read-only
    this.statusSeq = 0; // the seq the role and archived flag are as of (entries move them)
    this.peer = null; // for a dm: the other user's name as registered
    this.peers = null; // for a group: the other members' names as registered, sorted
    this.draft = false; // a dm not created yet (nothing sent)
    this.messages = new Map(); // seq -> message object
    // Counts the changes to `messages` (one added, replaced, all dropped): what is worked out
    // from them (alerts.js keywordMentions) is kept until it moves.
    this.version = 0;
    this.head = null; // resume point; null: not followed yet
    this.lastSeq = 0; // the highest seq known to exist
    this.readSeq = 0; // this user's read marker
    // Marked unread by the person (here or on another device: `unread`): not read again
    // because it is on screen, until the room is opened again or the person sends in it.
    this.keptUnread = false;
    this.announced = false; // added by a `joined` event of this user, before any reply
    this.unread = 0; // messages by others after readSeq
    this.mentions = 0; // of those, the ones that mention this user
    this.counted = 0; // seqs up to this one are included in `unread`
    this.described = false; // a room object has been applied (else unread counts live entries)
    this.loaded = false; // the latest page has been fetched
    this.opened = 0; // when it was last opened (state.opened's tick then), 0: never
    this.loading = false; // the latest page has been asked for
    this.more = false; // older messages exist before the first one kept
    this.loadingOlder = false;
    this.notices = []; // {after: seq, text, ts, key, msgId?}, in the order of `after`
    this.typing = new Map(); // user -> expiry (ms)
    this.members = null; // [{user}] from `who`, kept up to date by joined/left
    this.memberCount = null; // members in all (`who`'s count), kept up to date by joined/left
    this.membersMore = false; // `who` has more pages after the last member of `members`
    this.loadingMembers = false; // a next page of `who` has been asked for
    this.byId = new Map(); // msg_id -> seq of the messages held
    this.changes = new Set(); // seqs of the change entries seen (v2)
    this.aside = []; // change entries not applied yet (see above), by seq
    this.seeking = null; // the msg_id being looked for by paging back (a reply's original)
    this.seekSeq = null; // its seq, when known (a search result): pages are sized to reach it
    // The notification level (alerts.js): "all" | "mentions" | "none", or null for the
    // default of the room's kind; and the level the server last gave, for a refused change.
    this.notify = null;
    this.notifyConfirmed = null;
    // A conversation the person closed: the room's last_seq then (hiding.js); null: not closed.
    this.hiddenSeq = null;
    // One of the person's favourites (favourites.js): as shown, as the server last gave it, and
    // when it was marked (ms; null: not said), which orders the Favourites section.
    this.favourite = false;
    this.favouriteConfirmed = false;
    this.favouriteAt = null;
    this.favouritePending = 0; // this page's `favourite` requests not answered yet
    // The person's section it is listed in (sections.js; null: its usual list): as shown, as
    // the server last gave it, and this page's moves of it not answered yet.
    this.section = null;
    this.sectionConfirmed = null;
    this.sectionPending = 0;
    this.replyTo = null; // the msg_id the next message sent here answers
    this.removal = null; // {banned, reason}: this user's ban or kick entry, for the `left` after
    this.removed = new Set(); // lower-case users whose ban or kick entry has its line already
    this.pinsBase = 0; // the pins of the last room object (see `pins` and the top of the file)
    this.pinsSeq = 0; // that object's last_seq
    this.pinMoves = new Map(); // seq -> +1 | -1: the entries after pinsSeq that moved `pins`
    this.pinState = new Map(); // msg_id -> {seq, on}: the last `pinned` entry seen of it
    this.pinsUnsure = false; // a deletion after pinsSeq of a message perhaps pinned
    this.pinDeletions = []; // `deleted` entries after a hole, by seq (see the top of the file)
  }

  /**
   * Apply a room object (welcome, rooms, create_room). `me` is this user's name (own messages
   * are not unread).
   *
   * The object's `unread` counts up to its `last_seq`. Entries already here past it (live
   * events that overtook the object: a room listed on a later page of the welcome, or a
   * refresh read before them) are added to its count, once each, when every entry between
   * its `last_seq` and the last one counted here is held, or when the room had no object yet
   * (its count was only what came live); else an older object leaves the count alone.
   */
  applyInfo(info, { follow = true, me = null } = {}) {
    this.kind = info.kind || this.kind;
    this.private = Boolean(info.private);
    if (typeof info.last_seq !== "number" || info.last_seq >= this.topicSeq) {
      this.topic = info.topic || "";
      if (typeof info.last_seq === "number") this.topicSeq = info.last_seq;
    }
    if (typeof info.last_seq !== "number" || info.last_seq >= this.statusSeq) {
      this.owner = info.owner ?? null;
      if (ROLES.includes(info.role) || info.role === null) this.role = info.role;
      if (typeof info.archived === "boolean") this.archived = info.archived;
      if (typeof info.last_seq === "number") this.statusSeq = info.last_seq;
    }
    if (info.peer) this.peer = info.peer;
    if (Array.isArray(info.peers) && info.peers.every((user) => typeof user === "string")) {
      this.peers = [...info.peers];
    }
    this.draft = false;
    if (typeof info.last_seq === "number") {
      this.lastSeq = Math.max(this.lastSeq, info.last_seq);
      if (follow && this.head === null) this.head = info.last_seq;
    }
    const read = typeof info.read_seq === "number" ? info.read_seq : 0;
    if (typeof info.unread === "number" && typeof info.last_seq === "number"
        && info.last_seq >= this.counted) {
      if (read >= this.readSeq) {
        this.unread = info.unread; // the server's count is as new as what we know
        this.mentions = typeof info.mentions === "number" ? info.mentions : 0;
        this.counted = info.last_seq;
      } else if (this.readSeq >= info.last_seq) {
        this.unread = 0; // we read further than the list knew (a `read` crossed it)
        this.mentions = 0;
        this.counted = info.last_seq;
      }
    } else if (typeof info.unread === "number" && typeof info.last_seq === "number"
        && read >= this.readSeq && (!this.described || this.holdsAfter(info.last_seq))) {
      // An object older than entries here: its count, plus what came after it.
      let unread = info.unread;
      let mentioned = typeof info.mentions === "number" ? info.mentions : 0;
      for (const message of this.messages.values()) {
        if (message.seq <= Math.max(info.last_seq, read) || message.seq > this.counted
            || !this.counts(message, me)) continue;
        unread += 1;
        if (mentions(message, me)) mentioned += 1;
      }
      this.unread = unread;
      this.mentions = mentioned;
    }
    this.described = true;
    this.readSeq = Math.max(this.readSeq, read);
    if (NOTIFY_LEVELS.includes(info.notify)) this.setNotify(info.notify, { confirmed: true });
    this.hiddenSeq = hiddenSeqOf(info); // absent: not closed
    starring.confirm(this, starring.markOf(info), starring.markedAtOf(info)); // absent: not one
    sectioning.confirmRoom(this, sectioning.sectionIdOf(info)); // absent: its usual list
    this.countPins(info);
    this.advance();
  }

  /**
   * The room object's pin count (`pins`, left out when 0), as of its `last_seq`, with the moves
   * of the entries after it; an object older than the count held leaves it alone.
   */
  countPins(info) {
    const base = Number.isSafeInteger(info.pins) && info.pins > 0 ? info.pins : 0;
    if (typeof info.last_seq !== "number") {
      if (!this.pinMoves.size) this.pinsBase = base;
      return;
    }
    if (info.last_seq < this.pinsSeq) return;
    this.pinsSeq = info.last_seq;
    this.pinsBase = base;
    for (const seq of this.pinMoves.keys()) if (seq <= info.last_seq) this.pinMoves.delete(seq);
    this.pinsUnsure = false;
  }

  /**
   * How many messages are pinned to the room: the last room object's count and the moves of
   * the entries after it (summed whatever their order: an unpin that came live before the pin
   * that a gap's page brings later cancels it).
   */
  get pins() {
    let pins = this.pinsBase;
    for (const move of this.pinMoves.values()) pins += move;
    return Math.max(0, pins);
  }

  /** Entry `seq` pinned (+1) or unpinned (-1) a message: the count moves, once per entry. */
  movePins(seq, move) {
    if (seq > this.pinsSeq && !this.pinMoves.has(seq)) this.pinMoves.set(seq, move);
  }

  /**
   * Whether message `msgId` was pinned just before entry `seq`: by the last `pinned` entry of
   * it seen before `seq`, or by the message held as it was before `seq`, whichever is newer;
   * null when neither says.
   */
  pinnedBefore(msgId, seq) {
    const told = this.pinState.get(msgId);
    const known = told && told.seq < seq ? told : null;
    const held = this.byMsgId(msgId);
    const rev = held ? revOf(held) : null;
    // (A tombstone says nothing: it carries no pin, and an edit whose words are gone makes one
    // before its `deleted` entry, entries.js.)
    if (held && !held.deleted && rev < seq && (!known || rev > known.seq)) {
      return Boolean(held.pinned);
    }
    if (known) return known.on;
    // Posted after the count's object, with every entry since here: no pin seen, none made.
    return held && held.seq > this.pinsSeq ? false : null;
  }

  /** Whether every entry after `seq`, up to the last one counted, is held. */
  holdsAfter(seq) {
    for (let at = seq + 1; at <= this.counted; at += 1) {
      if (!this.messages.has(at) && !this.changes.has(at)) return false;
    }
    return true;
  }

  /** Take a notification level; `confirmed`: the server gave it. */
  setNotify(level, { confirmed = false } = {}) {
    if (!NOTIFY_LEVELS.includes(level)) return;
    this.notify = level;
    if (confirmed) this.notifyConfirmed = level;
  }

  /**
   * Display name: "general", the peer's name for a 1:1, the others' names for a group ("bob,
   * carol"; the views name them by their display names: conversations.js).
   */
  get label() {
    if (this.kind === "dm") return this.peer || this.name.slice(1).split(":")[0];
    if (this.kind === "group") return cutList(this.peers || namePeople(this.name));
    return this.name;
  }

  /**
   * Keep entries of the room's log: messages (once each by seq; a copy that is not older
   * replaces the one held) and changes (applied to the messages held). Returns the messages
   * that were new. `me` is this user's name, so that own messages do not count as unread.
   * With `weak`, a message already held is left alone (one made up from an ack: the server's
   * own copy has more in it).
   */
  add(messages, me, { weak = false } = {}) {
    const added = [];
    for (const item of messages) {
      if (typeof item.seq !== "number") continue;
      if (item.op !== undefined && item.op !== "message") {
        this.addChange(item, me);
        continue;
      }
      const kept = normalise(item);
      const held = this.messages.get(kept.seq);
      if (held) {
        if (!weak && held !== kept && replaces(kept, held)) this.replace(held, kept, me);
        continue;
      }
      this.messages.set(kept.seq, kept);
      this.version += 1;
      if (Number.isSafeInteger(kept.msg_id)) this.byId.set(kept.msg_id, kept.seq);
      added.push(kept);
      const reply = replyEntry(kept);
      if (reply) this.putAside(reply); // a reply changes its root (threads.js)
      if (kept.seq > this.counted) {
        this.counted = kept.seq;
        // A message the marker has passed already is read: the marker may come before the
        // message (another device's `read`, a `read_all`'s answer: the server's last seq).
        if (kept.seq > this.readSeq && this.counts(kept, me)) {
          this.unread += 1;
          if (mentions(kept, me)) this.mentions += 1;
        }
      }
      this.lastSeq = Math.max(this.lastSeq, kept.seq);
      this.typing.delete(kept.from);
    }
    this.advance();
    this.applyAside(me);
    return added;
  }

  /** The message held with this msg_id, or undefined. */
  byMsgId(msgId) {
    const seq = this.byId.get(msgId);
    return seq === undefined ? undefined : this.messages.get(seq);
  }

  /** A change entry: kept aside, to be applied by `applyAside` (see the top of the file). */
  addChange(entry, me = null) {
    if (this.messages.has(entry.seq) || this.changes.has(entry.seq)) return; // seen already
    this.changes.add(entry.seq);
    this.lastSeq = Math.max(this.lastSeq, entry.seq);
    if (entry.seq > this.counted) this.counted = entry.seq; // a change is never unread
    if (entry.op === "topic" && typeof entry.topic === "string") {
      if (entry.seq > this.topicSeq) {
        this.topic = entry.topic; // the room's topic is an entry of its log too
        this.topicSeq = entry.seq;
      }
      this.addTopicNotice(entry);
    }
    if (MODERATION_OPS.has(entry.op)) this.addModeration(entry, me);
    if (entry.op === "pinned" || entry.op === "deleted") this.addPinChange(entry);
    if (!isChange(entry)) return; // an entry of another op: its seq is all that counts here
    this.putAside(entry);
  }

  /** Keep a change entry (or a reply's change to its root) aside, in seq order. */
  putAside(entry) {
    let at = this.aside.length;
    while (at > 0 && this.aside[at - 1].seq > entry.seq) at -= 1;
    this.aside.splice(at, 0, entry);
    if (this.aside.length > ASIDE_MAX) this.aside.shift();
  }

  /**
   * The line "ann set the topic: …" at the entry's place in the log (once: an entry is seen
   * once), among the notices kept in the order of their place.
   */
  addTopicNotice(entry) {
    if (!Number.isFinite(entry.ts)) return; // no day to show it under
    const who = typeof entry.by === "string" ? entry.by : "Someone";
    const text = entry.topic ? `${who} set the topic: ${entry.topic}` : `${who} cleared the topic`;
    let at = this.notices.length;
    while (at > 0 && this.notices[at - 1].after > entry.seq) at -= 1;
    this.notices.splice(at, 0, { after: entry.seq, text, ts: entry.ts, key: `t${entry.seq}` });
  }

  /**
   * A `pinned` entry: the count moves and the line "ann pinned a message" takes its place in
   * the conversation. A `deleted` entry: a pinned message leaves the pins with it.
   */
  addPinChange(entry) {
    if (!Number.isSafeInteger(entry.msg_id)) return;
    if (entry.op === "deleted") {
      if (entry.unpinned === true) { // the server says it was pinned: no guess, no wait
        this.unpinDeleted(entry);
        return;
      }
      if (this.head !== null && this.head < entry.seq - 1) {
        let at = this.pinDeletions.length;
        while (at > 0 && this.pinDeletions[at - 1].seq > entry.seq) at -= 1;
        this.pinDeletions.splice(at, 0, entry); // decided once the hole before it is filled
        return;
      }
      this.unpinDeleted(entry);
      return;
    }
    const on = entry.on !== false;
    const told = this.pinState.get(entry.msg_id);
    if (!told || told.seq < entry.seq) this.pinState.set(entry.msg_id, { seq: entry.seq, on });
    this.movePins(entry.seq, on ? 1 : -1);
    if (!Number.isFinite(entry.ts)) return; // no day to show it under
    const who = typeof entry.by === "string" ? entry.by : "Someone";
    this.addNoticeAt(entry.seq, `${who} ${on ? "pinned" : "unpinned"} a message`, entry.ts,
      `pin${entry.seq}`, entry.msg_id);
  }

  /** A deleted message leaves the pins if it was pinned (every entry before it is here). */
  unpinDeleted(entry) {
    const pinned = entry.unpinned === true || this.pinnedBefore(entry.msg_id, entry.seq);
    if (pinned) this.movePins(entry.seq, -1);
    else if (pinned === null && this.pins > 0 && entry.seq > this.pinsSeq) this.pinsUnsure = true;
    const told = this.pinState.get(entry.msg_id);
    if (!told || told.seq < entry.seq) {
      this.pinState.set(entry.msg_id, { seq: entry.seq, on: false });
    }
  }

  /**
   * A moderation entry (role, banned, unbanned, kicked, archived): the line it leaves in the
   * conversation, and what it changes of the room as this user sees it (their role, the owner,
   * the members' roles, the archived flag), unless a room object newer than it said otherwise.
   */
  addModeration(entry, me) {
    const text = moderationText(entry);
    if (text && Number.isFinite(entry.ts)) {
      this.addNoticeAt(entry.seq, text, entry.ts, `x${entry.seq}`);
      // The `left` (with `by`) that follows a ban or kick needs no line of its own.
      if ((entry.op === "banned" || entry.op === "kicked") && typeof entry.user === "string") {
        this.removed.add(entry.user.toLowerCase());
      }
    }
    if (entry.seq <= this.statusSeq) return;
    this.statusSeq = entry.seq;
    const mine = typeof me === "string" && typeof entry.user === "string"
      && entry.user.toLowerCase() === me.toLowerCase();
    if (entry.op === "archived" && typeof entry.archived === "boolean") {
      this.archived = entry.archived;
    } else if (entry.op === "role" && ROLES.includes(entry.role)) {
      if (entry.role === "owner") {
        const old = this.owner;
        if (old && typeof me === "string" && old.toLowerCase() === me.toLowerCase()) {
          this.role = "moderator";
        }
        this.setMemberRole(old, "moderator");
        this.owner = entry.user;
      }
      if (mine) this.role = entry.role;
      this.setMemberRole(entry.user, entry.role);
    }
  }

  /** Change the role a member has in the list of `who`, if the list is held. */
  setMemberRole(user, role) {
    if (!this.members || typeof user !== "string") return;
    this.members = this.members.map((m) => (m.user.toLowerCase() === user.toLowerCase()
      ? { ...m, role } : m));
  }

  /**
   * A notice at place `seq` of the log (once, by `key`), among those kept in place order;
   * `msgId`: the message it is about (pressing the line shows it).
   */
  addNoticeAt(seq, text, ts, key, msgId = null) {
    if (this.notices.some((n) => n.key === key)) return;
    let at = this.notices.length;
    while (at > 0 && this.notices[at - 1].after > seq) at -= 1;
    const notice = { after: seq, text, ts, key };
    if (msgId !== null) notice.msgId = msgId;
    this.notices.splice(at, 0, notice);
  }

  /**
   * Apply, in seq order, the changes waiting aside whose message is held and up to which the
   * room has no hole; drop those the message already shows.
   */
  applyAside(me) {
    if (!this.aside.length) return;
    const waiting = [];
    for (const entry of this.aside) {
      const held = this.byMsgId(entry.msg_id);
      if (!held || (this.head !== null && entry.seq > this.head)) {
        waiting.push(entry);
        continue;
      }
      const changed = applyChange(held, entry);
      if (changed) this.replace(held, changed, me);
    }
    this.aside = waiting;
  }

  /** Put `next` in the place of `held`, keeping the unread and mention counts right. */
  replace(held, next, me) {
    // A copy read later (a page of history) does not know it came live to this page.
    if (held.hereMe && next.group === "here" && !next.hereMe) next = { ...next, hereMe: true };
    this.messages.set(held.seq, next);
    this.version += 1;
    if (Number.isSafeInteger(next.msg_id)) this.byId.set(next.msg_id, next.seq);
    if (held.seq > this.readSeq && held.seq <= this.counted) {
      // Counted as unread when it came: a deletion uncounts it, an edit may add or remove a
      // mention of this user.
      this.unread = Math.max(0, this.unread + this.counts(next, me) - this.counts(held, me));
      const mentioned = (message) => Number(this.counts(message, me) && mentions(message, me));
      this.mentions = Math.max(0, this.mentions + mentioned(next) - mentioned(held));
    }
  }

  /** Whether a message counts as unread when after the marker: by another, not deleted. */
  counts(message, me) {
    return Number(message.from !== me && !message.deleted);
  }

  advance() {
    if (this.head === null) return;
    while (this.messages.has(this.head + 1) || this.changes.has(this.head + 1)) this.head += 1;
    // The deletions that waited for the hole before them (see the top of the file).
    while (this.pinDeletions.length && this.pinDeletions[0].seq <= this.head + 1) {
      this.unpinDeleted(this.pinDeletions.shift());
    }
  }

  /**
   * Stop following the room and drop its entries, as a page that never opened it: a room the
   * hello did not resume (select.js resumePoints). Its next room object follows it again from
   * its `last_seq` and gives its counts whole (applyInfo); opening it loads its latest page.
   */
  unfollow() {
    this.head = null;
    this.messages.clear();
    this.version += 1;
    this.byId.clear();
    this.changes.clear();
    this.aside = [];
    this.notices = [];
    this.removed.clear();
    this.pinState.clear();
    this.pinDeletions = [];
    this.loaded = false;
    this.loading = false;
    this.more = false;
    this.loadingOlder = false;
    this.seeking = null;
    this.seekSeq = null;
    this.described = false;
  }

  /** Start following at `seq` if not following yet, then move over what is already here. */
  follow(seq) {
    this.head = this.head === null ? seq : Math.max(this.head, seq);
    this.lastSeq = Math.max(this.lastSeq, seq);
    this.advance();
  }

  /** The seq of the oldest entry kept (message or change), or null. */
  get oldest() {
    let low = null;
    for (const seq of this.messages.keys()) if (low === null || seq < low) low = seq;
    for (const seq of this.changes) if (low === null || seq < low) low = seq;
    return low;
  }

  /**
   * Move the read marker forward and recount unread: exactly when every message after the
   * marker is kept, else at most one per seq after it (own messages are not known apart then).
   */
  markRead(seq, me) {
    if (seq <= this.readSeq) return false;
    this.readSeq = seq;
    if (this.readSeq >= this.counted) {
      this.unread = 0;
      this.mentions = 0;
      return true;
    }
    let count = 0;
    let mentioned = 0;
    let kept = 0;
    for (const message of this.messages.values()) {
      if (message.seq > this.readSeq && message.seq <= this.counted) {
        kept += 1;
        if (this.counts(message, me)) {
          count += 1;
          if (mentions(message, me)) mentioned += 1;
        }
      }
    }
    for (const seq of this.changes) if (seq > this.readSeq && seq <= this.counted) kept += 1;
    const after = this.counted - this.readSeq;
    this.unread = Math.min(this.unread, kept === after ? count : after);
    this.mentions = Math.min(this.mentions, kept === after ? mentioned : this.unread);
    return true;
  }

  /**
   * Move the read marker to `seq` even when that is back (an `unread`, here or on another
   * connection). `counts` ({last_seq, unread, mentions}, from the server) are the room's
   * counts from `seq` up to `last_seq`, as a room object gives them; the messages held after
   * `last_seq` are added. Without counts (before the server answers), the messages held after
   * `seq` are counted: exact when all are held, else at least those.
   */
  moveBack(seq, counts, me) {
    if (!Number.isSafeInteger(seq) || seq < 0) return;
    const served = counts && Number.isSafeInteger(counts.last_seq)
      && Number.isSafeInteger(counts.unread) && Number.isSafeInteger(counts.mentions);
    if (seq > this.readSeq && !served) {
      this.markRead(seq, me);
      return;
    }
    this.readSeq = seq;
    const from = served ? Math.max(seq, counts.last_seq) : seq;
    let unread = served ? counts.unread : 0;
    let mentioned = served ? counts.mentions : 0;
    for (const message of this.messages.values()) {
      if (message.seq <= from || message.seq > this.counted || !this.counts(message, me)) continue;
      unread += 1;
      if (mentions(message, me)) mentioned += 1;
    }
    if (served) {
      this.counted = Math.max(this.counted, counts.last_seq);
      this.lastSeq = Math.max(this.lastSeq, counts.last_seq);
    }
    this.unread = unread;
    this.mentions = mentioned;
  }

  /** Messages in seq order. */
  sorted() {
    return [...this.messages.values()].sort((a, b) => a.seq - b.seq);
  }

  /** Users typing at `now` (ms): those whose last `typing` event has not expired. */
  typers(now) {
    return [...this.typing].filter(([, until]) => until > now).map(([user]) => user);
  }
}

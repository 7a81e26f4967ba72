// The client's model of one room and its messages. No DOM, no I/O: only state.js calls the
// methods that change a Room (views read it).
//
// Messages are kept per room by seq, so a message that reaches the page twice (a history page
// overlapping live events, a resend) is stored once. `head` is the seq up to which this client
// has received the room's messages without a hole since it started following the room: it is
// what the hello's `resume` names on reconnect, and it only moves forward across contiguous
// seqs, so a hole left by a `gap` keeps the resume point before it until `history` fills it.

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
    this.kind = name.startsWith("@") ? "dm" : "room";
    this.private = this.kind === "dm";
    this.topic = "";
    this.owner = null;
    this.peer = null; // for a dm: the other user's name as registered
    this.draft = false; // a dm not created yet (nothing sent)
    this.messages = new Map(); // seq -> message object
    this.head = null; // resume point; null: not followed yet
    this.lastSeq = 0; // the highest seq known to exist
    this.readSeq = 0; // this user's read marker
    this.unread = 0; // messages by others after readSeq
    this.counted = 0; // seqs up to this one are included in `unread`
    this.loaded = false; // the latest page has been fetched
    this.loading = false; // the latest page has been asked for
    this.more = false; // older messages exist before the first one kept
    this.loadingOlder = false;
    this.notices = []; // {after: seq, text, key}
    this.typing = new Map(); // user -> expiry (ms)
    this.members = null; // [{user}] from `who`, kept up to date by joined/left
  }

  /** Apply a room object (welcome, rooms, create_room). */
  applyInfo(info, { follow = true } = {}) {
    this.kind = info.kind || this.kind;
    this.private = Boolean(info.private);
    this.topic = info.topic || "";
    this.owner = info.owner ?? null;
    if (info.peer) this.peer = info.peer;
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
        this.counted = info.last_seq;
      } else if (this.readSeq >= info.last_seq) {
        this.unread = 0; // we read further than the list knew (a `read` crossed it)
        this.counted = info.last_seq;
      }
    }
    this.readSeq = Math.max(this.readSeq, read);
    this.advance();
  }

  /** Display name: "general", or the peer's name for a conversation. */
  get label() {
    if (this.kind === "dm") return this.peer || this.name.slice(1).split(":")[0];
    return this.name;
  }

  /**
   * Keep messages (deduplicated by seq). Returns the ones that were new.
   * `me` is this user's name, so that own messages do not count as unread.
   */
  add(messages, me) {
    const added = [];
    for (const message of messages) {
      if (typeof message.seq !== "number" || this.messages.has(message.seq)) continue;
      this.messages.set(message.seq, message);
      added.push(message);
      if (message.seq > this.counted) {
        this.counted = message.seq;
        if (message.from !== me && message.seq > this.readSeq) this.unread += 1;
      }
      this.lastSeq = Math.max(this.lastSeq, message.seq);
      this.typing.delete(message.from);
    }
    this.advance();
    return added;
  }

  advance() {
    if (this.head === null) return;
    while (this.messages.has(this.head + 1)) this.head += 1;
  }

  /** Start following at `seq` if not following yet, then move over what is already here. */
  follow(seq) {
    this.head = this.head === null ? seq : Math.max(this.head, seq);
    this.lastSeq = Math.max(this.lastSeq, seq);
    this.advance();
  }

  /** The seq of the oldest message kept, or null. */
  get oldest() {
    let low = null;
    for (const seq of this.messages.keys()) if (low === null || seq < low) low = seq;
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
      return true;
    }
    let count = 0;
    let kept = 0;
    for (const message of this.messages.values()) {
      if (message.seq > this.readSeq && message.seq <= this.counted) {
        kept += 1;
        if (message.from !== me) count += 1;
      }
    }
    const after = this.counted - this.readSeq;
    this.unread = Math.min(this.unread, kept === after ? count : after);
    return true;
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

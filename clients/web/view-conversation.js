// The open conversation: its header, the message list, who is typing, and the "New messages
// below" button. Renders from the state; reports what the person does (and which messages came
// into view) to the handlers it is bound to.
//
// The message list is reconciled by key (select.js `timeline`), so existing message nodes are
// kept: scroll position, focus and screen readers are not disturbed, and each message is on
// screen once, by (room, seq). When another room is opened the list starts afresh. What is
// inside a message (its text, quote, reactions, actions) is view-message.js's, drawn again
// when the message changes.
//
// Read receipts (receipts.js): in a conversation, each of the person's own messages holds a
// line for "Seen" ("Seen by Bob, Carol" in a group), empty but under the latest own message
// each other member has read. The line is made empty with its message and only its words
// change as the markers move, so a move adds nothing to the list: the list is a live region
// (role log, additions), and a screen reader told "Seen" at every read would hear of little
// else in a busy group. The line is quiet itself too (aria-live off), read where it is when
// the person reads their messages, and "Read by…" in each message's menu says who, on demand.

import { $, formatDay, h } from "./dom.js";
import { shownUser, statusLine } from "./profiles.js";
import {
  canSetTopic, currentRoom, olderStatus, statusOf, timeline, typingText,
} from "./select.js";
import { Sightings } from "./sightings.js";
import { sameUser } from "./store.js";
import { andList, conversationLabel, isConversation, othersShown } from "./conversations.js";
import { seenLines } from "./receipts.js";
import { canStar, isFavourite } from "./favourites.js";
import { FilesView } from "./view-files.js";
import { MessageView } from "./view-message.js";

const AT_BOTTOM_PX = 48;
const LOAD_OLDER_PX = 160;
const LANDING_MARGIN_PX = 8; // room left above the "New messages" line a room opens at

export class ConversationView {
  constructor() {
    this.nodes = new Map(); // key -> element, for the shown room's message list
    this.shown = null; // the room whose messages the list holds
    this.scrollTick = 0; // the state's scrollTick last acted on
    this.landed = false; // whether the open room was scrolled to where it opens
    this.kept = false; // whether the shown room was kept unread at the last render
    this.seen = new Map(); // seq -> the words of its "Seen" line, as last drawn
    this.on = {};
    this.files = new FilesView(() => this.on);
    this.message = new MessageView(() => this.on, this.files);
    const scroller = $("messages");
    // Which messages were seen on screen (sightings.js). Each node says its own room: an
    // entry delivered after another room was opened still counts.
    this.observer = new Sightings(scroller, (room, seqs) => this.on.sighted(room, seqs));
    scroller.addEventListener("scroll", () => {
      if (scroller.scrollTop < LOAD_OLDER_PX) this.on.loadOlder();
      if (atBottom(scroller)) $("jump").hidden = true;
    });
    $("jump").addEventListener("click", () => {
      scroller.scrollTop = scroller.scrollHeight;
      $("jump").hidden = true;
      $("composer-text").focus();
    });
    $("edit-topic").addEventListener("click", () => this.on.editTopic());
    $("invite").addEventListener("click", () => this.on.invite());
    $("room-link").addEventListener("click", () => this.on.roomLink());
    $("leave").addEventListener("click", () => this.on.leave());
    // The star: the open room into (or out of) the person's favourites, as last drawn.
    this.starred = null; // [room, on] drawn on the star
    $("room-favourite").addEventListener("click", () => {
      if (this.starred) this.on.favourite(this.starred[0], !this.starred[1]);
    });
    $("empty-browse").addEventListener("click", () => this.on.browseRooms());
    $("empty-create").addEventListener("click", () => this.on.createRoom());
  }

  /**
   * Handlers: sighted(room, seqs) for messages seen, loadOlder(), retry(nonce) and
   * discard(nonce) for messages not sent, editTopic() (shown to the room's owner), invite(),
   * roomLink() ("Invite link…") and leave() for the header's buttons, favourite(room, on) for its star, browseRooms()
   * and createRoom() for those of the empty view; for a message (by msg_id):
   * reply(msgId), react(msgId, emoji, on), edit(msgId), saveEdit(text), cancelEdit(),
   * remove(msgId) (asks first), markUnread(seq) (from this message on), jumpTo(msgId),
   * copyLink(room, message) (the message's address on the clipboard),
   * removePreview(msgId), pin(msgId, on) (to the room, or off it), save(msgId, on) (for
   * later, or off the saved messages), remind(msgId, opener) (the reminder menu); for
   * files: wantLinks(ids), linkBroken(id), openImage(file, opener), download(file).
   */
  bind(handlers) { this.on = handlers; }

  /** The header's star (☆, ★ for a favourite): pressed for a favourite, off for a draft. */
  drawStar(room) {
    const star = $("room-favourite");
    star.hidden = !canStar(room);
    const drawn = star.hidden ? null : [room.name, isFavourite(room)];
    if (JSON.stringify(drawn) === JSON.stringify(this.starred)) return;
    this.starred = drawn;
    if (!drawn) return;
    star.textContent = drawn[1] ? "★" : "☆";
    star.setAttribute("aria-pressed", String(drawn[1]));
    star.title = drawn[1] ? "Remove from favourites" : "Add to favourites";
  }

  /** Report the messages on screen again (the tab became visible: they are read now). */
  reobserve() {
    for (const node of this.nodes.values()) {
      if (node.dataset.seq) {
        this.observer.unobserve(node);
        this.observer.observe(node);
      }
    }
  }

  render(state, now) {
    const room = currentRoom(state);
    if (!room || room.name !== this.shown) this.reset(room);
    $("empty").hidden = Boolean(room);
    // Removed from the last room (or it was deleted): the empty view keeps saying why.
    $("empty-why").hidden = Boolean(room) || !state.farewell;
    $("empty-why").textContent = room ? "" : state.farewell;
    $("toggle-members").hidden = !room || room.draft;
    $("edit-topic").hidden = !canSetTopic(state);
    $("invite").hidden = !room || isConversation(room) || room.archived;
    $("room-link").hidden = !room || isConversation(room) || room.archived || Boolean(room.draft);
    $("leave").hidden = !room || isConversation(room);
    this.drawStar(room);
    if (!room) {
      // The open room went away (left, or removed by its owner) with none left to open: the
      // empty view offers what to do next, and takes the focus from the box that is now off.
      if (document.activeElement === $("composer-text")) $("empty-browse").focus();
      $("conv-title").textContent = state.rooms.size ? "Pick a conversation" : "Welcome to chatd";
      $("conv-topic").textContent = "";
      $("typing").replaceChildren();
      $("older-status").textContent = "";
      return;
    }
    if (room.kind === "dm") {
      // The peer's display name, and their status after their presence (profiles.js).
      const peer = shownUser(state.profiles, room.label, now);
      $("conv-title").textContent = peer.name;
      $("conv-title").title = peer.login ? `${peer.name} (${peer.login})` : "";
      const status = peer.status ? ` · ${statusLine(peer.status, now)}` : "";
      $("conv-topic").textContent = sameUser(room.label, state.me) ? `Notes to yourself${status}`
        : `${statusOf(state, room.label)}${status}`;
    } else if (room.kind === "group") {
      // The others by their display names: a button that opens the members list.
      const names = othersShown(state.profiles, room, state.me);
      const label = conversationLabel(state.profiles, room, state.me, names.length);
      const title = $("conv-title");
      let button = title.querySelector(":scope > button.conv-people");
      if (!button) {
        button = h("button", { type: "button", class: "conv-people",
          onclick: () => showMembers() });
        title.replaceChildren(button);
      }
      if (button.textContent !== label) button.textContent = label;
      button.setAttribute("aria-label", `${andList(names)}: show the members`);
      title.title = "";
      $("conv-topic").textContent = `${names.length + 1} people`;
    } else {
      $("conv-title").textContent = `${room.private ? "🔒 " : "# "}${room.name}`;
      $("conv-title").title = "";
      $("conv-topic").textContent = room.topic;
    }
    this.renderMessages(state, room);
    // Kept unread no more (the person sent a message in it): what is on screen is read now.
    if (this.kept && !room.keptUnread) this.observer.again();
    this.kept = room.keptUnread;
    this.files.apply(state.links, now);
    this.message.showJump(state);
    const typing = typingText(state, now);
    $("typing").replaceChildren(...(typing ? [
      h("span", { class: "dots", "aria-hidden": "true" }, h("i"), h("i"), h("i")),
      h("span", {}, typing)] : []));
  }

  reset(room) {
    this.message.closePopup(false);
    for (const node of this.nodes.values()) this.observer.unobserve(node);
    this.nodes.clear();
    this.files.reset();
    $("message-list").replaceChildren();
    $("jump").hidden = true;
    this.shown = room ? room.name : null;
    this.landed = false;
    this.kept = false;
    this.seen = new Map();
  }

  renderMessages(state, room) {
    const scroller = $("messages");
    const list = $("message-list");
    const wasAtBottom = atBottom(scroller);
    const firstBefore = anchorRow(scroller, list);
    const anchorTop = firstBefore ? firstBefore.getBoundingClientRect().top : null;
    const lastBefore = list.lastElementChild;

    const wanted = timeline(state, room);
    const keep = new Set(wanted.map((row) => row.key));
    for (const [key, node] of this.nodes) {
      if (!keep.has(key)) {
        this.observer.unobserve(node);
        node.remove();
        this.nodes.delete(key);
      }
    }
    let cursor = list.firstElementChild;
    let appended = false;
    for (const row of wanted) {
      let node = this.nodes.get(row.key);
      if (!node) {
        node = this.rowNode(row, room, state);
        this.nodes.set(row.key, node);
        if (row.kind === "message") this.observer.observe(node);
        appended = true;
      }
      if (row.kind === "message" || row.kind === "pending") {
        node.classList.toggle("grouped", Boolean(row.grouped));
      }
      if (row.kind === "message") this.message.update(node, row, room, state);
      if (row.kind === "pending") {
        node.classList.add("pending");
        node.classList.toggle("failed", row.item.status !== "sending");
        node.querySelector(".msg-status")?.remove();
        node.querySelector(".msg-body").append(this.pendingStatus(row.item));
      }
      if (node !== cursor) list.insertBefore(node, cursor);
      else cursor = cursor.nextElementSibling;
    }
    this.drawSeen(state, room);

    $("older-status").textContent = olderStatus(room, state);

    if (this.land(state, room, scroller)) {
      // Opened where the unread messages begin.
    } else if (state.scrollTick !== this.scrollTick || (wasAtBottom && appended)) {
      scroller.scrollTop = scroller.scrollHeight;
      this.scrollTick = state.scrollTick;
    } else if (firstBefore && anchorTop !== null && firstBefore.isConnected) {
      // Older messages came in above: keep what the reader was looking at in place.
      const shift = firstBefore.getBoundingClientRect().top - anchorTop;
      if (shift) scroller.scrollTop += shift;
    }
    const grewBelow = Boolean(lastBefore) && list.lastElementChild !== lastBefore
      && lastBefore.isConnected;
    if (atBottom(scroller)) $("jump").hidden = true;
    else if (grewBelow && !wasAtBottom) $("jump").hidden = false; // new below, reader is up
    // Not enough to scroll yet but more exists: fetch older right away.
    if (room.more && !room.loadingOlder && scroller.scrollHeight <= scroller.clientHeight + 4) {
      queueMicrotask(() => this.on.loadOlder());
    }
  }

  /**
   * Once the open room's first page is there: scroll to its "New messages" line (or, with
   * nothing unread, to the end). Returns whether it did.
   */
  land(state, room, scroller) {
    if (this.landed || !room.loaded) return false;
    this.landed = true;
    this.scrollTick = state.scrollTick;
    const divider = this.nodes.get("new");
    if (!divider || !divider.isConnected) {
      scroller.scrollTop = scroller.scrollHeight;
      return true;
    }
    scroller.scrollTop += divider.getBoundingClientRect().top
      - scroller.getBoundingClientRect().top - LANDING_MARGIN_PX;
    $("jump").hidden = atBottom(scroller);
    return true;
  }

  /**
   * The "Seen" lines of `room` (receipts.js), only those whose words changed: the line of a
   * message no longer under a marker is emptied, the one now under it is given its words.
   */
  drawSeen(state, room) {
    const lines = isConversation(room) ? seenLines(state, room) : new Map();
    const write = (seq, words) => {
      const line = this.nodes.get(`m${seq}`)?.querySelector(":scope > .msg-body > .msg-seen");
      if (line && line.textContent !== words) line.textContent = words;
    };
    for (const seq of this.seen.keys()) if (!lines.has(seq)) write(seq, "");
    for (const [seq, words] of lines) write(seq, words);
    this.seen = lines;
  }

  rowNode(row, room, state) {
    switch (row.kind) {
      case "day":
        return h("li", { class: "day" }, h("span", {}, formatDay(row.ts)));
      case "divider":
        return h("li", { class: "new-divider" }, h("span", {}, "New messages"));
      case "notice":
        // A line about a message (a pin): pressing it shows the message, as a quote does.
        return h("li", { class: "notice" }, row.msgId === undefined ? row.text : h("button", {
          type: "button", class: "notice-link", title: "Show the message",
          onclick: () => this.on.jumpTo(row.msgId) }, row.text));
      default: {
        const node = this.message.create(row, room, state);
        // The person's own message in a conversation: its (empty) "Seen" line, made with it.
        if (row.kind === "message" && isConversation(room) && sameUser(row.message.from, state.me)
            && node.chatdBody) {
          node.chatdBody.append(h("p", { class: "msg-seen", "aria-live": "off" }));
        }
        return node;
      }
    }
  }

  pendingStatus(item) {
    if (item.status === "sending") return h("div", { class: "msg-status" }, "Sending…");
    return h("div", { class: "msg-status failed", role: "alert" },
      h("span", {}, item.error || "Not sent."),
      h("button", { type: "button", class: "link", onclick: () => this.on.retry(item.nonce) },
        "Retry"),
      h("button", { type: "button", class: "link", onclick: () => this.on.discard(item.nonce) },
        "Discard"));
  }
}

/**
 * The row to hold in place when rows come in above: the first one wholly below the list's top
 * edge (or else the first one on screen). Not the first message: it changes height when an
 * older page makes it part of a group.
 */
function anchorRow(scroller, list) {
  const rows = list.children;
  if (!rows.length) return null;
  const top = scroller.getBoundingClientRect().top;
  let low = 0;
  let high = rows.length - 1;
  while (low < high) { // the first row whose bottom is below the top edge
    const middle = (low + high) >> 1;
    if (rows[middle].getBoundingClientRect().bottom <= top) low = middle + 1;
    else high = middle;
  }
  const next = rows[low + 1];
  return rows[low].getBoundingClientRect().top < top && next ? next : rows[low];
}

function atBottom(scroller) {
  return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < AT_BOTTOM_PX;
}

/** Show the members list (the header's people of a group open it), or bring the focus to it. */
function showMembers() {
  if ($("toggle-members").getAttribute("aria-expanded") !== "true") $("toggle-members").click();
  else ($("members").querySelector("button") || $("toggle-members")).focus();
}

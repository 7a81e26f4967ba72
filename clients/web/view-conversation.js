// The open conversation: its header, the message list, who is typing, and the "New messages
// below" button. Renders from the state; reports what the person does (and which messages came
// into view) to the handlers it is bound to.
//
// The message list is reconciled by key (select.js `timeline`), so existing message nodes are
// kept: scroll position, focus and screen readers are not disturbed, and each message is on
// screen once, by (room, seq). When another room is opened the list starts afresh. What is
// inside a message (its text, quote, reactions, actions) is view-message.js's, drawn again
// when the message changes.

import { $, formatDay, h } from "./dom.js";
import {
  currentRoom, olderStatus, statusOf, timeline, typingText,
} from "./select.js";
import { sameUser } from "./store.js";
import { MessageView } from "./view-message.js";

const AT_BOTTOM_PX = 48;
const LOAD_OLDER_PX = 160;
const SEEN_RATIO = 0.6; // this much of a message on screen counts as seen

export class ConversationView {
  constructor() {
    this.nodes = new Map(); // key -> element, for the shown room's message list
    this.shown = null; // the room whose messages the list holds
    this.scrollTick = 0; // the state's scrollTick last acted on
    this.on = {};
    this.message = new MessageView(() => this.on);
    // A message is read when most of it has been on screen while the tab is visible. Each
    // node says its own room: an entry delivered after another room was opened still counts.
    this.observer = new IntersectionObserver((entries) => {
      const highest = new Map(); // room -> the highest seq seen
      for (const entry of entries) {
        const { room, seq } = entry.target.dataset;
        if (!entry.isIntersecting || !room || !seq) continue;
        highest.set(room, Math.max(highest.get(room) || 0, Number(seq)));
      }
      for (const [room, seq] of highest) this.on.seen(room, seq);
    }, { threshold: SEEN_RATIO });
    const scroller = $("messages");
    scroller.addEventListener("scroll", () => {
      if (scroller.scrollTop < LOAD_OLDER_PX) this.on.loadOlder();
      if (atBottom(scroller)) $("jump").hidden = true;
    });
    $("jump").addEventListener("click", () => {
      scroller.scrollTop = scroller.scrollHeight;
      $("jump").hidden = true;
      $("composer-text").focus();
    });
    $("invite").addEventListener("click", () => this.on.invite());
    $("leave").addEventListener("click", () => this.on.leave());
  }

  /**
   * Handlers: seen(room, seq) for messages that came into view, loadOlder(), retry(nonce) and
   * discard(nonce) for messages not sent, invite() and leave() for the header's buttons; for
   * a message (by msg_id): reply(msgId), react(msgId, emoji, on), edit(msgId),
   * saveEdit(text), cancelEdit(), remove(msgId) (asks first), jumpTo(msgId).
   */
  bind(handlers) { this.on = handlers; }

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
    $("toggle-members").hidden = !room || room.draft;
    $("invite").hidden = !room || room.kind === "dm";
    $("leave").hidden = !room || room.kind === "dm";
    if (!room) {
      $("conv-title").textContent = state.rooms.size ? "Pick a conversation" : "Welcome to chatd";
      $("conv-topic").textContent = "";
      $("typing").replaceChildren();
      $("older-status").textContent = "";
      return;
    }
    if (room.kind === "dm") {
      $("conv-title").textContent = room.label;
      $("conv-topic").textContent = sameUser(room.label, state.me) ? "Notes to yourself"
        : statusOf(state, room.label);
    } else {
      $("conv-title").textContent = `${room.private ? "🔒 " : "# "}${room.name}`;
      $("conv-topic").textContent = room.topic;
    }
    this.renderMessages(state, room);
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
    $("message-list").replaceChildren();
    $("jump").hidden = true;
    this.shown = room ? room.name : null;
  }

  renderMessages(state, room) {
    const scroller = $("messages");
    const list = $("message-list");
    const wasAtBottom = atBottom(scroller);
    const firstBefore = list.querySelector("li.msg[data-seq]");
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

    $("older-status").textContent = olderStatus(room);

    if (state.scrollTick !== this.scrollTick || (wasAtBottom && appended)) {
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

  rowNode(row, room, state) {
    switch (row.kind) {
      case "day":
        return h("li", { class: "day", role: "separator" }, h("span", {}, formatDay(row.ts)));
      case "divider":
        return h("li", { class: "new-divider", role: "separator" }, h("span", {}, "New"));
      case "notice":
        return h("li", { class: "notice" }, row.text);
      default:
        return this.message.create(row, room, state);
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

function atBottom(scroller) {
  return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < AT_BOTTOM_PX;
}

// Around the message box: the "Create a poll" button beside the files' (its dialog is
// view-poll.js's: this view tells it how its poll's send ended), the "Replying to …" bar,
// @mention and :emoji completion (the
// Completion of view-completion.js, which the thread panel's box has too), and Up in an empty
// box to edit one's last message (as in Slack). The box itself is view-composer.js's; this
// listens on its form first (keydown, capture phase) and takes only the keys it uses, so that
// Enter still sends when no suggestion is open.

import { $, h } from "./dom.js";
import { find } from "./outbox.js";
import { displayName } from "./profiles.js";
import { currentRoom } from "./select.js";
import { replyTarget } from "./select-messages.js";
import { Completion } from "./view-completion.js";

export class ComposerExtrasView {
  constructor() {
    this.on = {};
    this.state = null;
    this.shown = null; // the room the box was last drawn for
    this.completion = new Completion({ box: "composer-text", form: "composer",
      list: "mention-list", prefix: "mention-option" }, (event) => this.keydown(event));
    this.waiting = new Map(); // nonce -> {resolve, reject}: polls whose send a dialog awaits
    $("poll-button").addEventListener("click", () => this.on.createPoll());
    $("reply-cancel").addEventListener("click", () => {
      this.on.cancelReply();
      $("composer-text").focus();
    });
  }

  /** Handlers: editLast(), cancelReply(), createPoll(), discard(nonce). */
  bind(handlers) { this.on = handlers; }

  /**
   * How the send of `nonce` (a poll) ends: resolved once the server stored it, or once it waits
   * for the connection (the outbox sends it again, same nonce); rejected with the server's
   * refusal, which the dialog shows (the refused poll leaves the outbox: the dialog keeps it).
   */
  outcome(nonce) {
    return new Promise((resolve, reject) => {
      this.waiting.set(nonce, { resolve, reject });
      if (this.state) this.settle(this.state);
    });
  }

  settle(state) {
    for (const [nonce, { resolve, reject }] of this.waiting) {
      const item = find(state.outbox, nonce);
      if (item && item.status === "sending") continue;
      this.waiting.delete(nonce);
      if (!item || item.status === "failed") {
        resolve();
      } else {
        reject(new Error(item.error || "Not sent."));
        queueMicrotask(() => this.on.discard(nonce));
      }
    }
  }

  /** The box's keys that no open list takes: Up to edit, Escape to cancel the reply. */
  keydown(event) {
    const box = $("composer-text");
    const take = () => {
      event.preventDefault();
      event.stopPropagation();
    };
    const plain = !event.shiftKey && !event.altKey && !event.ctrlKey && !event.metaKey;
    if (event.key === "ArrowUp" && plain && box.value === "") {
      take();
      this.on.editLast();
    } else if (event.key === "Escape" && $("reply-bar").hidden === false) {
      take();
      this.on.cancelReply();
    }
  }

  render(state) {
    this.state = state;
    this.settle(state);
    this.completion.state = state;
    const room = currentRoom(state);
    const name = room ? room.name : null;
    if (name !== this.shown) {
      this.completion.close();
      this.shown = name;
    } else {
      this.completion.refresh(); // (the room's members may have come since a key was pressed)
    }
    $("poll-button").disabled = !room || Boolean(room.draft) || Boolean(room.archived);
    const target = replyTarget(state, room);
    $("reply-bar").hidden = !target;
    $("reply-text").replaceChildren(...(target
      ? ["Replying to ", h("strong", {}, displayName(state.profiles, target.from)),
        `: ${target.text}`] : []));
    // The box says what it answers, for screen readers (other descriptions are kept).
    const box = $("composer-text");
    const described = (box.getAttribute("aria-describedby") || "").split(/\s+/)
      .filter((id) => id && id !== "reply-text");
    if (target) described.push("reply-text");
    if (described.length) box.setAttribute("aria-describedby", described.join(" "));
    else box.removeAttribute("aria-describedby");
  }
}

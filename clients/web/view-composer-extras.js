// Around the message box: the "Replying to …" bar, @mention and :emoji completion (the
// Completion of view-completion.js, which the thread panel's box has too), and Up in an empty
// box to edit one's last message (as in Slack). The box itself is view-composer.js's; this
// listens on its form first (keydown, capture phase) and takes only the keys it uses, so that
// Enter still sends when no suggestion is open.

import { $, h } from "./dom.js";
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
    $("reply-cancel").addEventListener("click", () => {
      this.on.cancelReply();
      $("composer-text").focus();
    });
  }

  /** Handlers: editLast(), cancelReply(). */
  bind(handlers) { this.on = handlers; }

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
    this.completion.state = state;
    const room = currentRoom(state);
    const name = room ? room.name : null;
    if (name !== this.shown) {
      this.completion.close();
      this.shown = name;
    }
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

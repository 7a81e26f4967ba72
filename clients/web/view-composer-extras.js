// Around the message box: the "Replying to …" bar, @mention completion from the room's
// members, :emoji completion from the server's custom emoji (":par" offers :partyparrot:,
// emoji.js), and Up in an empty box to edit one's last message (as in Slack). The box itself is
// view-composer.js's; this listens on its form first (keydown, capture phase) and takes only the
// keys it uses, so that Enter still sends when no suggestion is open.
//
// Completion follows the ARIA pattern of a textbox with a listbox: the box names the list
// (aria-controls) and the option shown as chosen (aria-activedescendant); Up and Down move,
// Enter or Tab take it, Escape closes the list. Focus stays in the box all along.

import { $, h } from "./dom.js";
import { suggestions as emojiSuggestions } from "./emoji.js";
import { customEmojiImage } from "./markdown.js";
import { avatarOf, displayName } from "./profiles.js";
import { currentRoom } from "./select.js";
import { avatar } from "./view-avatar.js";
import { groupSuggestions, mentionSuggestions, replyTarget } from "./select-messages.js";

// "@" and the start of a name, right before the caret, not glued to a word (an e-mail address).
// Any letter: a word of a display name ("@zoë") finds its user too (profiles.js).
const TYPING_MENTION = /(?:^|[^\p{L}\p{N}_.@-])@([\p{L}\p{N}_.-]{0,32})$/u;

export class ComposerExtrasView {
  constructor() {
    this.on = {};
    this.state = null;
    this.options = []; // the names offered (group words first), or the emoji's names
    this.kind = "mention"; // what is offered: "mention" or "emoji"
    this.hints = new Map(); // a group word offered -> its hint ("notifies 4 members")
    this.active = 0; // which of them Enter takes
    this.range = null; // [start, end) of the "@na" being completed
    this.shown = null; // the room the box was last drawn for
    const box = $("composer-text");
    box.setAttribute("aria-autocomplete", "list");
    box.setAttribute("aria-controls", "mention-list");
    $("composer").addEventListener("keydown", (event) => this.keydown(event), true);
    box.addEventListener("input", () => this.suggest());
    box.addEventListener("click", () => this.suggest());
    box.addEventListener("keyup", (event) => {
      if (["ArrowLeft", "ArrowRight", "Home", "End"].includes(event.key)) this.suggest();
    });
    box.addEventListener("blur", () => this.close());
    $("mention-list").addEventListener("mousedown", (event) => event.preventDefault());
    $("reply-cancel").addEventListener("click", () => {
      this.on.cancelReply();
      box.focus();
    });
  }

  /** Handlers: editLast(), cancelReply(). */
  bind(handlers) { this.on = handlers; }

  keydown(event) {
    const box = $("composer-text");
    if (event.target !== box || event.isComposing) return;
    const take = () => {
      event.preventDefault();
      event.stopPropagation();
    };
    if (this.options.length) {
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        take();
        const step = event.key === "ArrowDown" ? 1 : -1;
        this.active = (this.active + step + this.options.length) % this.options.length;
        this.draw();
      } else if ((event.key === "Enter" && !event.shiftKey) || event.key === "Tab") {
        take();
        this.pick(this.options[this.active]);
      } else if (event.key === "Escape") {
        take();
        this.close();
      }
      return;
    }
    const plain = !event.shiftKey && !event.altKey && !event.ctrlKey && !event.metaKey;
    if (event.key === "ArrowUp" && plain && box.value === "") {
      take();
      this.on.editLast();
    } else if (event.key === "Escape" && $("reply-bar").hidden === false) {
      take();
      this.on.cancelReply();
    }
  }

  /** Offer the members whose names start with what follows the "@" before the caret. */
  suggest() {
    const box = $("composer-text");
    const room = this.state && currentRoom(this.state);
    if (!room || box.selectionStart !== box.selectionEnd) {
      this.close();
      return;
    }
    const before = box.value.slice(0, box.selectionStart);
    const emoji = emojiSuggestions(this.state.customEmoji, before);
    if (emoji) {
      if (this.kind !== "emoji" || emoji.names.join("\n") !== this.options.join("\n")) {
        this.active = 0;
      }
      this.kind = "emoji";
      this.hints = new Map();
      this.options = emoji.names;
      this.range = [emoji.start, before.length];
      this.draw();
      return;
    }
    const typed = TYPING_MENTION.exec(before);
    // Inside a code span (an odd number of backticks before) nothing is a mention.
    if (!typed || (before.match(/`/g) || []).length % 2 === 1) {
      this.close();
      return;
    }
    const groups = groupSuggestions(this.state, room, typed[1]);
    const words = new Set(groups.map((g) => g.name));
    const names = [...words,
      ...mentionSuggestions(this.state, room, typed[1]).filter((n) => !words.has(n.toLowerCase()))];
    this.hints = new Map(groups.map((g) => [g.name, g.hint]));
    if (!names.length) {
      this.close();
      return;
    }
    if (this.kind !== "mention" || names.join("\n") !== this.options.join("\n")) {
      this.active = 0;
    }
    this.kind = "mention";
    this.options = names;
    this.range = [before.length - typed[1].length - 1, before.length];
    this.draw();
  }

  pick(name) {
    const box = $("composer-text");
    const [start, end] = this.range;
    const spaced = box.value[end] === " " ? "" : " ";
    const word = this.kind === "emoji" ? `:${name}:` : `@${name}`;
    box.setRangeText(`${word}${spaced}`, start, end, "end");
    if (!spaced) box.setSelectionRange(start + word.length + 1, start + word.length + 1);
    this.close();
    box.dispatchEvent(new Event("input", { bubbles: true })); // resize, and "typing"
  }

  draw() {
    const list = $("mention-list");
    list.replaceChildren(...this.options.map((name, index) => h("li", {
      id: `mention-option-${index}`, role: "option", class: "mention-option",
      "aria-selected": index === this.active ? "true" : "false",
      onclick: () => this.pick(name),
    },
    ...(this.kind === "emoji" ? this.emojiOption(name) : this.hints.has(name)
      ? [h("span", { class: "avatar small group", "aria-hidden": "true" }, "@"),
        h("span", {}, name), h("span", { class: "mention-hint" }, ` ${this.hints.get(name)}`)]
      : [avatar(name, this.state ? avatarOf(this.state.profiles, name) : null, "small"),
        ...this.named(name)]))));
    list.setAttribute("aria-label", this.kind === "emoji" ? "Custom emoji" : "People to mention");
    list.hidden = false;
    $("composer-text").setAttribute("aria-activedescendant", `mention-option-${this.active}`);
  }

  /** A custom emoji offered: its picture and its :name:. */
  emojiOption(name) {
    const found = this.state && this.state.customEmoji.byName.get(name);
    return [found ? customEmojiImage(found, document) : null, h("span", {}, `:${name}:`)];
  }

  /** A person offered: their display name, with the user name that goes in muted beside it. */
  named(name) {
    const shown = this.state ? displayName(this.state.profiles, name) : name;
    return shown === name ? [h("span", {}, name)]
      : [h("span", {}, shown), h("span", { class: "mention-hint" }, ` @${name}`)];
  }

  close() {
    if (!this.options.length && $("mention-list").hidden) return;
    this.options = [];
    this.range = null;
    $("mention-list").hidden = true;
    $("mention-list").replaceChildren();
    $("composer-text").removeAttribute("aria-activedescendant");
  }

  render(state) {
    this.state = state;
    const room = currentRoom(state);
    const name = room ? room.name : null;
    if (name !== this.shown) {
      this.close();
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

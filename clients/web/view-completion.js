// Completion in a message box: slash commands ("/" at the start of the box offers the
// commands of commands.js, each with its usage and what it does, filtered as the name is
// typed), @mentions of the open room's members (display names beside the
// user names, as profiles.js gives them; group words first) and :emoji of the server's custom
// emoji (":par" offers :partyparrot:, emoji.js), for the room's box (view-composer-extras.js)
// and the thread panel's (view-thread.js). What is offered is select-messages.js's
// `completionFor`; this draws it and takes the keys it uses.
//
// It follows the ARIA pattern of a textbox with a listbox: the box names the list
// (aria-controls) and the option shown as chosen (aria-activedescendant); Up and Down move,
// Enter or Tab take it, Escape closes the list. Focus stays in the box all along. It listens on
// the box's form first (keydown, capture phase) and takes only the keys it uses while a list is
// open, so that Enter still sends when none is.
//
// What is offered may change with no key pressed: the room's members come (`who`, asked as
// the room opens, may answer after the first "@" is typed: the group words wait for them),
// someone joins. So each render offers again (`refresh`) while the box has the focus, unless
// the person closed the list with Escape for the word they are typing.

import { commandsFor } from "./commands.js";
import { $, h } from "./dom.js";
import { customEmojiImage } from "./markdown.js";
import { avatarOf, displayName } from "./profiles.js";
import { currentRoom } from "./select.js";
import { completionFor } from "./select-messages.js";
import { typedName } from "./slash.js";
import { avatar } from "./view-avatar.js";

export class Completion {
  /**
   * For the textarea `box` of the form `form`, offering in the listbox `list` (ids); `prefix`
   * names the options' ids ("mention-option" gives "mention-option-0", …). `keydown(event)`,
   * when given, has the keys the list does not take.
   */
  constructor({ box, form, list, prefix }, keydown = () => {}) {
    this.ids = { box, list, prefix };
    this.state = null;
    this.options = []; // the names offered (group words first), or the emoji's names
    this.kind = "mention"; // what is offered: "mention", "emoji" or "command"
    this.hints = new Map(); // a group word offered -> its hint ("notifies 4 members")
    this.active = 0; // which of them Enter takes
    this.range = null; // [start, end) of the "@na" being completed
    this.escaped = null; // where the word starts whose list Escape closed (not offered again)
    const input = $(box);
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-controls", list);
    $(form).addEventListener("keydown", (event) => {
      if (event.target !== input || event.isComposing) return;
      if (!this.keydown(event)) keydown(event);
    }, true);
    input.addEventListener("input", () => {
      this.escaped = null; // typing asks again
      this.suggest();
    });
    input.addEventListener("click", () => this.suggest());
    input.addEventListener("keyup", (event) => {
      if (["ArrowLeft", "ArrowRight", "Home", "End"].includes(event.key)) this.suggest();
    });
    input.addEventListener("blur", () => this.close());
    $(list).addEventListener("mousedown", (event) => event.preventDefault());
  }

  /** The keys of an open list; true when it is open (the key is its, taken or not). */
  keydown(event) {
    if (!this.options.length) return false;
    if (event.key === "Enter" && !event.shiftKey && this.kind === "command" && this.typedWhole()) {
      this.close(); // "/help" typed whole: Enter runs it (the box's Enter), as Slack's does
      return false;
    }
    const take = () => {
      event.preventDefault();
      event.stopPropagation();
    };
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
      this.escaped = this.range ? this.range[0] : null;
      this.close();
    }
    return true;
  }

  /**
   * Offer what the state offers now for the word being typed (a render: see the top of the
   * file), while the box has the focus; what is drawn already is left alone.
   */
  refresh() {
    if (!this.state || document.activeElement !== $(this.ids.box)) return;
    this.suggest({ again: true });
  }

  /**
   * Offer what completes the word before the caret (completionFor), or close the list.
   * `again`: asked by a render, not by the person (see `refresh`).
   */
  suggest({ again = false } = {}) {
    const box = $(this.ids.box);
    const room = this.state && currentRoom(this.state);
    const before = box.selectionStart === box.selectionEnd
      ? box.value.slice(0, box.selectionStart) : null;
    const found = room && before !== null
      ? commandsFound(before) || completionFor(this.state, room, before) : null;
    if (!found) {
      this.close();
      return;
    }
    if (again && (found.start === this.escaped || (this.range && this.range[0] === found.start
      && this.range[1] === box.selectionStart && offered(found) === offered(this)))) return;
    if (this.kind !== found.kind || found.names.join("\n") !== this.options.join("\n")) {
      this.active = 0;
    }
    this.kind = found.kind;
    this.hints = found.hints;
    this.options = found.names;
    this.range = [found.start, box.selectionStart];
    this.draw();
  }

  /** Whether the command name being completed is typed whole ("/help", not "/he"). */
  typedWhole() {
    const [start, end] = this.range;
    return $(this.ids.box).value.slice(start + 1, end).toLowerCase() === this.options[this.active];
  }

  pick(name) {
    const box = $(this.ids.box);
    const [start, end] = this.range;
    const spaced = box.value[end] === " " ? "" : " ";
    const word = this.kind === "emoji" ? `:${name}:` : this.kind === "command" ? `/${name}`
      : `@${name}`;
    box.setRangeText(`${word}${spaced}`, start, end, "end");
    if (!spaced) box.setSelectionRange(start + word.length + 1, start + word.length + 1);
    this.close();
    box.dispatchEvent(new Event("input", { bubbles: true })); // resize, draft, and "typing"
  }

  draw() {
    const list = $(this.ids.list);
    const { prefix } = this.ids;
    list.replaceChildren(...this.options.map((name, index) => h("li", {
      id: `${prefix}-${index}`, role: "option",
      class: this.kind === "command" ? "mention-option command-option" : "mention-option",
      "aria-selected": index === this.active ? "true" : "false",
      onclick: () => this.pick(name),
    },
    ...(this.kind === "command" ? this.commandOption(name)
      : this.kind === "emoji" ? this.emojiOption(name) : this.hints.has(name)
      ? [h("span", { class: "avatar small group", "aria-hidden": "true" }, "@"),
        h("span", {}, name), h("span", { class: "mention-hint" }, ` ${this.hints.get(name)}`)]
      : [avatar(name, this.state ? avatarOf(this.state.profiles, name) : null, "small"),
        ...this.named(name)]))));
    list.setAttribute("aria-label", this.kind === "emoji" ? "Custom emoji"
      : this.kind === "command" ? "Commands" : "People to mention");
    // The commands' list scrolls: a scrolling region is one a keyboard can reach (WCAG), though
    // here the box keeps the focus (its Tab takes the option) and a click does not move it.
    list.classList.toggle("commands", this.kind === "command");
    if (this.kind === "command") list.setAttribute("tabindex", "0");
    else list.removeAttribute("tabindex");
    list.hidden = false;
    const chosen = list.children[this.active];
    if (chosen && chosen.scrollIntoView) chosen.scrollIntoView({ block: "nearest" });
    $(this.ids.box).setAttribute("aria-activedescendant", `${prefix}-${this.active}`);
  }

  /** A command offered: its usage, and what it does under it. */
  commandOption(name) {
    const { usage, help } = this.hints.get(name);
    return [h("span", { class: "command-usage" }, usage), h("span", { class: "mention-hint" }, help)];
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
    const list = $(this.ids.list);
    if (!this.options.length && list.hidden) return;
    this.options = [];
    this.range = null;
    list.hidden = true;
    list.replaceChildren();
    $(this.ids.box).removeAttribute("aria-activedescendant");
  }
}

/** What a list offers ({kind, names, hints}), as one string to compare. */
function offered({ kind, names, options, hints }) {
  return JSON.stringify([kind, names || options, [...hints].map(([name, hint]) =>
    [name, typeof hint === "string" ? hint : hint.name])]);
}

/** The commands offered for the text `before` the caret ("/" and the start of a name), or null. */
function commandsFound(before) {
  const typed = typedName(before);
  const found = typed === null ? [] : commandsFor(typed);
  if (!found.length) return null;
  return { kind: "command", names: found.map((c) => c.name),
    hints: new Map(found.map((c) => [c.name, c])), start: 0 };
}

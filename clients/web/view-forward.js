// Forwarding a message, the views: the "Forward message" dialog's fields (a preview of the
// message, the destination chooser, the optional comment) and the card a forwarded message
// shows under its comment ("Forwarded from ann", the time, "in #general" when the source is a
// public room, the forwarded text). The logic is forwarding.js's; the dialog itself is
// view-dialogs.js's (its focus stays in it: a modal <dialog>), opened by controller.js.
//
// The chooser is a combobox: typing filters the destinations (forwarding.js `destinations`),
// ArrowDown/ArrowUp move the highlighted one (aria-activedescendant: the focus stays in the
// box), Enter or a click takes it; Backspace in the empty box takes back the last one; Enter
// with nothing typed forwards, as Enter in the comment does (Shift+Enter: a new line there).
// Escape with something typed clears it; else it closes the dialog, as in every dialog.
//
// Like every view, nothing here parses markup: text goes in as text nodes.

import { $, formatFull, formatTime, h } from "./dom.js";
import * as forwarding from "./forwarding.js";
import { parse, render } from "./markdown.js";
import { avatarOf, displayName } from "./profiles.js";
import { excerpt, filesSummary } from "./select-messages.js";
import { avatar } from "./view-avatar.js";

/**
 * The dialog's fields for forwarding `message` of room `name`: {fields, target(), text(),
 * waiting(shown)}. `state` is read as the dialog opens and as the person types.
 */
export function forwardFields(state, name, message) {
  let target = null;
  let choices = [];
  let active = -1; // the highlighted choice
  const input = h("input", { id: "forward-to", name: "forward-to", autocomplete: "off",
    autocapitalize: "off", spellcheck: "false", maxlength: 65, role: "combobox",
    "aria-autocomplete": "list", "aria-controls": "forward-choices", "aria-expanded": "false",
    "aria-describedby": "forward-to-hint", placeholder: "A room, a conversation or people" });
  const chips = h("span", { id: "forward-picked", class: "pick-chips" });
  const box = h("div", { class: "picked", onclick: () => input.focus() }, chips, input);
  const list = h("ul", { id: "forward-choices", class: "pick-list forward-choices",
    role: "listbox", "aria-label": "Where to forward" });
  const comment = h("textarea", { id: "forward-text", name: "forward-text", rows: "2",
    placeholder: "Add a comment (optional)", autocapitalize: "sentences" });
  const wait = h("p", { class: "hint", id: "forward-waiting", role: "status", hidden: true });
  const say = (problem) => {
    $("dialog-error").textContent = problem || "";
  };
  const take = (choice) => {
    const result = forwarding.choose(target, choice, state.me);
    say(result.problem);
    if (result.problem) return;
    target = result.target;
    input.value = "";
    draw();
  };
  const drop = (item) => {
    target = forwarding.unchoose(target, item);
    draw();
    input.focus();
  };
  const highlight = (index) => {
    active = choices.length ? Math.max(0, Math.min(choices.length - 1, index)) : -1;
    [...list.children].forEach((li, at) => li.setAttribute("aria-selected",
      String(at === active)));
    if (active >= 0) {
      input.setAttribute("aria-activedescendant", `forward-choice-${active}`);
      list.children[active].scrollIntoView({ block: "nearest" });
    } else input.removeAttribute("aria-activedescendant");
  };
  const draw = () => {
    const picked = !target ? [] : target.room
      ? [[target.room, forwarding.targetLabel(state, target)]]
      : target.people.map((user) => [user, displayName(state.profiles, user)]);
    chips.replaceChildren(...picked.map(([item, label]) => h("span", { class: "pick-chip",
      dataset: { item } }, label,
    h("button", { type: "button", "aria-label": `Remove ${label}`, title: "Remove",
      onclick: (event) => {
        event.stopPropagation();
        drop(item);
      } }, "×"))));
    choices = forwarding.destinations(state, input.value, { target });
    list.replaceChildren(...choices.map((choice, at) => h("li", {
      id: `forward-choice-${at}`, role: "option", class: `pick-option ${choice.kind}`,
      "aria-selected": "false", dataset: { name: choice.name, kind: choice.kind },
      onpointerdown: (event) => event.preventDefault(), // (the box keeps the focus)
      onclick: () => {
        take(choice);
        input.focus();
      },
    },
    h("span", { class: "pick-kind", "aria-hidden": "true" }, choice.kind === "room" ? "#"
        : choice.kind === "person" ? "@" : "💬"),
    choice.kind === "room" ? choice.label.slice(1) : choice.label)));
    input.setAttribute("aria-expanded", String(choices.length > 0));
    input.placeholder = target ? "" : "A room, a conversation or people";
    highlight(input.value.trim() ? 0 : -1);
  };
  input.addEventListener("input", () => {
    say("");
    draw();
  });
  input.addEventListener("keydown", (event) => {
    if (event.isComposing) return;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      highlight(active + (event.key === "ArrowDown" ? 1 : -1));
    } else if (event.key === "Enter" && (active >= 0 || input.value.trim())) {
      event.preventDefault(); // (not the form's submit: the choice is taken)
      if (active >= 0 && choices[active]) take(choices[active]);
      else say("Nothing matches that: choose a room, a conversation or a person.");
    } else if (event.key === "Backspace" && !input.value && target) {
      event.preventDefault();
      const items = target.room ? [target.room] : target.people;
      drop(items[items.length - 1]);
    } else if (event.key === "Escape" && input.value) {
      event.preventDefault(); // (not the dialog's: what was typed goes)
      input.value = "";
      draw();
    }
  });
  comment.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $("dialog-form").requestSubmit();
    }
  });
  draw();
  return {
    fields: [
      h("div", { class: "forward-preview", "aria-label": "The message to forward",
        role: "group" }, preview(state, message)),
      h("label", { for: "forward-to" }, "Forward to"), box, list,
      h("small", { id: "forward-to-hint", class: "hint" },
        "Type to find a room, a conversation or people (several people: a group "
        + "conversation). Arrow keys and Enter choose."),
      h("label", { for: "forward-text" }, "Comment (optional)"), comment, wait,
    ],
    target: () => target,
    text: () => comment.value,
    waiting: (shown) => {
      wait.hidden = !shown;
      wait.textContent = shown
        ? "Not connected: the message is forwarded once the page is back online." : "";
    },
  };
}

/** The message as the dialog shows it: who wrote it (the original's author), when, its words. */
function preview(state, message) {
  const held = forwarding.forwardedOf(message);
  const from = held ? held.from : message.from;
  const ts = held ? held.ts : message.ts;
  const words = held ? held.text : message.text;
  return [
    h("div", { class: "forward-head" },
      avatar(from, avatarOf(state.profiles, from), "small"),
      h("strong", {}, displayName(state.profiles, from)),
      Number.isFinite(ts) ? h("time", { title: formatFull(ts) }, formatTime(ts)) : null),
    h("div", { class: "forward-words" },
      excerpt(words || "", 300) || (held ? "" : filesSummary(message))),
  ];
}

/**
 * The card under a forward's comment: "Forwarded from ann", the time, "in #general" (a button
 * that opens the source, `open(room, seq)`) when the source is a public room, and the text in
 * the page's Markdown, where no mention is the reader's (it was not written to them).
 */
export function forwardCard(forwarded, state, open) {
  const name = displayName(state.profiles, forwarded.from);
  const source = forwarding.sourceOf(forwarded);
  return h("div", { class: "forward-card", role: "group",
    "aria-label": `Forwarded from ${name}` },
  h("div", { class: "forward-head" },
    avatar(forwarded.from, avatarOf(state.profiles, forwarded.from), "small"),
    h("span", { class: "forward-from" }, "Forwarded from ", h("strong", {}, name)),
    Number.isFinite(forwarded.ts) ? h("time", {
      datetime: new Date(forwarded.ts).toISOString(), title: formatFull(forwarded.ts),
    }, formatTime(forwarded.ts)) : null,
    source ? h("button", { type: "button", class: "forward-source", "data-focus": "source",
      "aria-label": `in #${source.room}: show the original message`,
      onclick: () => open(source.room, source.seq) }, `in #${source.room}`) : null),
  forwarded.text.trim() ? h("div", { class: "msg-text forward-text" },
    render(parse(forwarded.text, { mentions: null, me: null,
      emoji: state.customEmoji ? state.customEmoji.byName : null }))) : null);
}

// The quick switcher ("Jump to…"): Ctrl+K (Cmd+K) from anywhere on the page, the composer
// included, or the sidebar's "Jump to…" button, opens a small dialog with a filter box over
// the rooms, conversations and people (switcher.js: what is listed and in which order). Up and
// Down move the choice (the box keeps the focus: aria-activedescendant), Enter or a click
// opens it, Escape (or Ctrl+K again) closes the dialog; a modal <dialog> that closes gives the
// focus back to where it was.

import { $, h } from "./dom.js";
import { candidates, rank, shortcutHint } from "./switcher.js";

export class SwitcherView {
  constructor() {
    this.on = {};
    this.items = []; // the candidates, taken when the dialog opens
    this.shown = []; // those listed, best first
    this.active = 0; // the index of the one Enter opens
    const dialog = $("switcher");
    const input = $("switcher-input");
    $("switcher-open").addEventListener("click", () => this.open());
    $("switcher-open").querySelector("kbd").textContent = shortcutHint(navigator);
    // Capture: before the composer's and the completion lists' own keys.
    document.addEventListener("keydown", (event) => {
      if (!(event.ctrlKey || event.metaKey) || event.altKey || event.shiftKey
          || event.key.toLowerCase() !== "k") return;
      if ($("app").hidden || $("dialog").open || $("viewer").open) return;
      event.preventDefault();
      event.stopPropagation();
      if (dialog.open) dialog.close();
      else this.open();
    }, true);
    input.addEventListener("input", () => {
      this.active = 0;
      this.draw();
    });
    input.addEventListener("keydown", (event) => {
      const count = this.shown.length;
      if ((event.key === "ArrowDown" || event.key === "ArrowUp") && count) {
        event.preventDefault();
        this.active = (this.active + (event.key === "ArrowDown" ? 1 : -1) + count) % count;
        this.mark();
      } else if (event.key === "Enter") {
        event.preventDefault();
        if (count) this.choose(this.shown[this.active]);
      }
    });
    // A click on the backdrop (outside the dialog's box) closes it.
    dialog.addEventListener("click", (event) => {
      if (event.target === dialog) dialog.close();
    });
  }

  /** Handlers: state() (the page's state, or null), openRoom(name), openPerson(user). */
  bind(handlers) { this.on = handlers; }

  /** Open the dialog with an empty box (the unread and recent ones listed). */
  open() {
    const state = this.on.state();
    const dialog = $("switcher");
    if (!state || dialog.open) return;
    this.items = candidates(state);
    this.active = 0;
    $("switcher-input").value = "";
    this.draw();
    dialog.showModal();
    $("switcher-input").focus();
  }

  close() {
    if ($("switcher").open) $("switcher").close();
  }

  draw() {
    this.shown = rank(this.items, $("switcher-input").value);
    $("switcher-list").replaceChildren(...this.shown.map((item, index) => h("li", {
      id: `switcher-option-${index}`, role: "option", class: `switcher-option${
        item.unread ? " unread" : ""}`, "aria-selected": "false",
      dataset: { key: item.key, kind: item.kind },
      // (mousedown: the box keeps the focus)
      onmousedown: (event) => event.preventDefault(),
      onclick: () => this.choose(item),
    }, h("span", { class: "sigil", "aria-hidden": "true" }, sigil(item)),
    h("span", { class: "name" }, item.label),
    h("span", { class: "what" }, what(item)),
    item.unread ? h("span", { class: `badge${item.mentions ? " mention" : ""}`,
      "aria-label": `${item.unread} unread${item.mentions ? ", mentioning you" : ""}` },
    item.mentions ? "@" : String(item.unread)) : null)));
    $("switcher-empty").hidden = this.shown.length > 0;
    $("switcher-input").setAttribute("aria-expanded", String(this.shown.length > 0));
    this.mark();
  }

  /** Show which option Enter opens. */
  mark() {
    const options = [...$("switcher-list").children];
    options.forEach((option, index) => {
      option.setAttribute("aria-selected", String(index === this.active));
    });
    const current = options[this.active];
    if (current) {
      $("switcher-input").setAttribute("aria-activedescendant", current.id);
      current.scrollIntoView({ block: "nearest" });
    } else {
      $("switcher-input").removeAttribute("aria-activedescendant");
    }
  }

  choose(item) {
    $("switcher").close();
    if (item.kind === "person") this.on.openPerson(item.user);
    else this.on.openRoom(item.room);
  }
}

function sigil(item) {
  if (item.kind === "room") return item.private ? "🔒" : "#";
  return item.kind === "person" ? "+" : "@";
}

/** What an option is, after its name. */
function what(item) {
  if (item.kind === "room") return item.private ? "Private room" : "Room";
  const login = item.user && item.user !== item.label ? `${item.user} · ` : "";
  if (item.kind === "person") return `${login}New conversation`;
  return `${login}${item.closed ? "Closed conversation" : "Conversation"}`;
}

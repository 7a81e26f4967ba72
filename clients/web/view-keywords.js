// The "Notification keywords" dialog, opened from the person's menu ("Notification
// keywords…") or by /keywords: the person's keywords as chips, each with a button that removes
// it, and a field to add more (Enter or a comma adds; several at once separated by commas), as
// Slack's "My keywords" and Zulip's alert words read. The limits are said under the field;
// what cannot be added (too long, one too many, there already) is said at once, and the server's
// refusal in words. Each change is made at once (state.js `setKeywords`: shown here, asked of
// the server); the chips follow the state while the dialog is open, so another device's change
// (the `keywords` event) shows here too. Pure logic is keywords.js's.

import { h } from "./dom.js";
import {
  addWords, countText, limitsText, removeWord, same, splitTyped,
} from "./keywords.js";

export class KeywordsView {
  constructor() {
    this.on = {};
    this.state = null;
    this.chips = null; // the <ul> of the open dialog
    this.count = null; // its line saying how many there are
    this.said = null; // its line for what went wrong
    this.field = null;
    this.limits = null; // its line saying the limits
    this.drawn = null; // the list drawn in it (the state's array)
    this.drawnMax = null; // the server's limit drawn in it (null: not said)
    this.problem = ""; // the state's refusal drawn
    this.focusAt = null; // the chip to focus once drawn (the one after a removed one)
  }

  /**
   * Handlers: dialog(options) (view-dialogs.js `open`), set(list) changes the person's keywords
   * (state.js `setKeywords`), opened() forgets an old refusal (state.js `keywordsOpened`).
   */
  bind(handlers) { this.on = handlers; }

  render(state) {
    this.state = state;
    if (!this.chips || !this.chips.isConnected) {
      this.chips = null;
      return;
    }
    const { list, problem, max } = state.keywords;
    if (list !== this.drawn || max !== this.drawnMax) this.drawChips();
    if (problem !== this.problem) {
      this.problem = problem;
      if (problem) this.say(problem, true);
    }
  }

  /** The dialog, with `prefill` (words typed after /keywords) in its field. */
  open(prefill = "") {
    if (!this.state || this.state.keywords.list === null) return;
    this.on.opened();
    this.problem = "";
    this.limits = h("small", { class: "hint", id: "keyword-limits" });
    this.chips = h("ul", { class: "keyword-chips", id: "keyword-chips",
      "aria-label": "Your keywords" });
    this.count = h("p", { class: "hint keyword-count", id: "keyword-count" });
    this.said = h("p", { class: "keyword-said", id: "keyword-said", role: "status",
      "aria-live": "polite" });
    this.field = h("input", { id: "keyword-add", name: "keyword-add", autocomplete: "off",
      spellcheck: "false", placeholder: "deploy, on call, my nickname",
      "aria-describedby": "keyword-add-hint keyword-limits" });
    this.field.value = prefill;
    this.field.addEventListener("keydown", (event) => {
      if (event.key !== "Enter" || event.isComposing) return;
      event.preventDefault(); // Enter adds (the dialog's Done closes it)
      this.add({ all: true });
    });
    this.field.addEventListener("input", () => {
      if (this.field.value.includes(",")) this.add({ all: false });
    });
    this.drawChips();
    this.on.dialog({
      title: "Notification keywords",
      ok: "Done",
      single: true, // (each change is made at once: nothing to cancel)
      offline: true, // (Done closes it offline too: a change tried then says so here)
      fields: [
        h("p", { class: "hint" }, "Be notified of messages that mention these words, as "
          + "when someone mentions you."),
        this.chips,
        this.count,
        h("label", { for: "keyword-add" }, "Add keywords"),
        this.field,
        h("small", { class: "hint", id: "keyword-add-hint" },
          "Press Enter or type a comma to add; separate several with commas."),
        this.limits,
        this.said,
      ],
      submit: async () => {
        // What is still typed is added before the dialog closes; a problem keeps it open
        // (said once: on the dialog's own line).
        if (this.field.value.trim() && !this.add({ all: true })) {
          const problem = this.said.textContent;
          this.say("", false);
          throw new Error(problem);
        }
      },
    });
    this.field.focus();
  }

  /** Add what the field holds (`all`: the words after its last comma too). */
  add({ all }) {
    const keywords = this.state.keywords;
    const { words, rest } = splitTyped(this.field.value, { all });
    if (!words.length) {
      this.field.value = rest;
      return true;
    }
    const { list, added, left, problem } = addWords(keywords.list, words, keywords.max);
    if (added.length && !this.change(list)) return false; // (the words stay typed)
    // What could not go in stays in the field, to be shortened; what is typed after it too.
    this.field.value = [...left, rest].filter((part) => part.trim()).join(", ");
    this.say(problem || (added.length ? `Added ${added.map((w) => `"${w}"`).join(", ")}.` : ""),
      Boolean(problem));
    return !problem;
  }

  /** Remove `word`: the focus goes to the next chip's button once drawn, or to the field. */
  remove(word, index) {
    this.focusAt = index;
    if (this.change(removeWord(this.state.keywords.list, word))) {
      this.say(`Removed "${word}".`, false);
    } else {
      this.focusAt = null;
    }
  }

  /**
   * Ask for `list`: whether it is shown now (the state takes it at once); when not (offline),
   * the state says why, and render shows it.
   */
  change(list) {
    this.on.set(list);
    return same(this.state.keywords.list, list);
  }

  /** Say what happened under the field (a problem stands out). */
  say(text, problem) {
    this.said.textContent = text;
    this.said.classList.toggle("problem", problem);
  }

  drawChips() {
    const list = this.state.keywords.list || [];
    this.drawn = this.state.keywords.list;
    // The focus stays where it was in the list (a removal's: on the chip after it).
    const focused = this.focusAt ?? (this.chips.contains(document.activeElement)
      ? [...this.chips.querySelectorAll("button")].indexOf(document.activeElement) : -1);
    this.focusAt = null;
    this.chips.replaceChildren(...(list.length ? list.map((word, index) => h("li",
      { class: "keyword-chip" },
      h("span", { class: "keyword-word", title: word }, word),
      h("button", { type: "button", class: "keyword-remove", "aria-label": `Remove ${word}`,
        title: `Remove "${word}"`, onclick: () => this.remove(word, index) }, "×")))
      : [h("li", { class: "hint keyword-none" }, "No keywords yet: add one below.")]));
    // (The server's limit is its welcome's: a new welcome may say another.)
    this.drawnMax = this.state.keywords.max;
    this.count.textContent = countText(list, this.drawnMax);
    this.limits.textContent = limitsText(this.drawnMax);
    if (focused >= 0) {
      const buttons = this.chips.querySelectorAll("button");
      (buttons[focused] || buttons[buttons.length - 1] || this.field).focus();
    }
  }
}

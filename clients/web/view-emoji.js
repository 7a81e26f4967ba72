// The "Custom emoji" dialog, opened from the menu under the person's name: the server's custom
// emoji (each with its picture, its :name: and who added it; "Remove" on the person's own, and
// on every one for an administrator), and a form to add one (a name and a picture). Adding and
// removing go over HTTP (api.js); the `custom_emoji` event that follows changes the state, and
// the list drawn here follows the state while the dialog is open (someone else's changes
// included). Pure logic is emoji.js's.

import { $, h } from "./dom.js";
import { customEmojiImage } from "./markdown.js";
import { addProblem, bareName, mayRemove, PICTURE_TYPES, sortedEmoji } from "./emoji.js";

export class EmojiView {
  constructor() {
    this.on = {};
    this.state = null;
    this.list = null; // the <ul> of the open dialog
    this.drawn = -1; // the list's version drawn in it
    this.said = null; // the dialog's line for what happened
  }

  /**
   * Handlers: dialog(options) (view-dialogs.js `open`), addEmoji(name, file) and
   * removeEmoji(name) → promises (rejected with the server's refusal).
   */
  bind(handlers) { this.on = handlers; }

  render(state) {
    this.state = state;
    if (!this.list || !this.list.isConnected) {
      this.list = null;
      return;
    }
    if (state.customEmoji.version !== this.drawn) this.drawList();
  }

  open() {
    if (!this.state) return;
    this.list = h("ul", { class: "emoji-list", id: "emoji-list", "aria-label": "Custom emoji" });
    this.said = h("small", { class: "hint", id: "emoji-said", role: "status" });
    this.drawList();
    const name = h("input", { id: "emoji-name", name: "emoji-name", autocomplete: "off",
      spellcheck: "false", placeholder: "partyparrot", maxlength: "34",
      "aria-describedby": "emoji-name-hint" });
    const file = h("input", { id: "emoji-file", type: "file", accept: PICTURE_TYPES.join(",") });
    this.on.dialog({
      title: "Custom emoji",
      ok: "Add",
      fields: [
        this.list,
        this.said,
        h("label", { for: "emoji-name" }, "Name"),
        name,
        h("small", { class: "hint", id: "emoji-name-hint" },
          "Typed as :name: in messages and reactions: a-z, 0-9, _, + and -, up to 32."),
        h("label", { for: "emoji-file" }, "Picture"),
        file,
        h("small", { class: "hint" }, "A PNG, JPEG, GIF or WebP image (an animated GIF stays "
          + "animated), shown at most 128×128."),
      ],
      submit: async () => {
        const chosen = file.files && file.files[0];
        const problem = addProblem(this.state.customEmoji, name.value, chosen);
        if (problem) throw new Error(problem);
        await this.on.addEmoji(bareName(name.value), chosen);
      },
    });
  }

  drawList() {
    const state = this.state;
    this.drawn = state.customEmoji.version;
    const all = sortedEmoji(state.customEmoji);
    this.list.replaceChildren(...(all.length ? all.map((emoji) => h("li", {},
      customEmojiImage(emoji, document),
      h("span", { class: "emoji-name" }, `:${emoji.name}:`),
      h("span", { class: "emoji-by" }, emoji.by ? `added by ${emoji.by}` : ""),
      mayRemove(emoji, state.me, state.admin) ? h("button", {
        type: "button", class: "small-button", "aria-label": `Remove :${emoji.name}:`,
        onclick: () => this.remove(emoji.name),
      }, "Remove") : null))
      : [h("li", { class: "hint" }, "No custom emoji yet.")]));
  }

  async remove(name) {
    this.said.textContent = `Removing :${name}:…`;
    try {
      await this.on.removeEmoji(name);
      this.said.textContent = `:${name}: is removed.`;
    } catch (error) {
      this.said.textContent = `:${name}: was not removed: ${error.message}`;
    }
    if (!$("dialog").open) this.list = null;
  }
}

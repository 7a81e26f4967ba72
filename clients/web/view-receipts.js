// "Read by…" (receipts.js): from a message's menu, a small panel under its "More actions"
// button (popup.js `openPanel`, a non-modal dialog as the notification settings are) saying
// how many have read the message and who, by display name with their avatars, "Nobody yet",
// and "…and N more" past the page of names the server gives. The server is asked each time
// it opens (`receipts` {room, msg_id}); the count line is a polite live region, so the answer
// is heard once it comes (on demand, not on every read). Names the page had not heard of are
// asked for (state.js) and the panel draws them again once known.

import { h } from "./dom.js";
import { closePopup, isOpenFrom, openPanel } from "./popup.js";
import { avatarOf } from "./profiles.js";
import { readersText } from "./receipts.js";
import { avatar } from "./view-avatar.js";

export class ReadersPanel {
  constructor() {
    this.open = null; // {element, opener, reply, error, drawn, status, list}
    this.asked = 0; // the last request's number: an answer to an older one is dropped
  }

  /**
   * Open the panel under `opener` for `load()` (a promise of the `receipts` answer, rejected
   * with the refusal); `state` gives the names. Pressing the opener again closes it.
   */
  show(opener, state, load) {
    if (isOpenFrom(opener)) {
      closePopup(true);
      return;
    }
    const element = h("div", { class: "popup readers-panel", role: "dialog",
      "aria-labelledby": "readers-title", tabindex: "-1" });
    const open = { element, opener, reply: null, error: null, drawn: null, status: null,
      list: null };
    this.open = open;
    openPanel(opener, element, () => {
      if (this.open === open) this.open = null;
    });
    this.fill(state);
    element.focus();
    const asked = (this.asked += 1);
    load().then((reply) => {
      open.reply = reply;
    }, (error) => {
      open.error = error && error.code === "unknown_op"
        ? "This server does not keep read receipts."
        : `Could not tell who read it: ${(error && error.message) || "no answer"}.`;
    }).finally(() => {
      if (asked === this.asked && this.open === open) this.fill(state);
    });
  }

  /**
   * Draw the open panel again when what it shows changed (a name learnt since); close it when
   * its message is no longer drawn (another room opened).
   */
  render(state) {
    if (!this.open) return;
    if (!this.open.opener.isConnected) closePopup(false);
    else this.fill(state);
  }

  fill(state) {
    const open = this.open;
    const text = open.reply ? readersText(state.profiles, open.reply) : null;
    const drawn = JSON.stringify([open.error, text, text && text.readers.map((r) =>
      avatarOf(state.profiles, r.user))]);
    if (drawn === open.drawn) return;
    open.drawn = drawn;
    // The heading and the count line stay (the line is a live region: its words change),
    // the list is drawn anew.
    if (!open.status) {
      open.status = h("p", { class: "hint", id: "readers-count", role: "status" });
      open.list = h("div", { class: "readers-names" });
      open.element.replaceChildren(h("h2", { id: "readers-title" }, "Read by"), open.status,
        open.list);
    }
    open.status.textContent = open.error || (text ? text.summary : "Loading…");
    open.status.classList.toggle("error", Boolean(open.error));
    open.list.replaceChildren(...[
      text && text.readers.length ? h("ul", { class: "readers-list",
        "aria-label": "Readers" }, text.readers.map(({ user, name }) => h("li", {
        title: name === user ? null : `${name} (${user})` },
      avatar(user, avatarOf(state.profiles, user), "small"),
      h("span", { class: "name" }, name)))) : null,
      text && text.more ? h("p", { class: "hint", id: "readers-more" }, text.more) : null,
    ].filter(Boolean));
  }
}

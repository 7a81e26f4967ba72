// "Read by…" (receipts.js): from a message's menu, a small panel under its "More actions"
// button (popup.js `openPanel`, a non-modal dialog as the notification settings are) saying
// how many have read the message and who, by display name with their avatars, "Nobody yet",
// and "…and N more" past the page of names the server gives, with "Show more", which asks the
// next page (`after` the last name: receipts.js `nextReaders`) and adds it to the list. The
// server is asked each time it opens (`receipts` {room, msg_id}); the count line is a polite
// live region, so the answer is heard once it comes (on demand, not on every read). Names the
// page had not heard of are asked for (state.js) and the panel draws them again once known.

import { h } from "./dom.js";
import { closePopup, isOpenFrom, openPanel } from "./popup.js";
import { avatarOf } from "./profiles.js";
import {
  emptyReaders, nextReaders, readersAnswered, readersRefused, readersText,
} from "./receipts.js";
import { avatar } from "./view-avatar.js";

export class ReadersPanel {
  constructor() {
    this.open = null; // {element, opener, load, readers, error, drawn, status, list, more}
    this.asked = 0; // the last request's number: an answer to an older one is dropped
  }

  /**
   * Open the panel under `opener` for `load(after)` (a promise of the `receipts` answer for
   * the page of names after `after`, null: the first; rejected with the refusal); `state`
   * gives the names. Pressing the opener again closes it.
   */
  show(opener, state, load) {
    if (isOpenFrom(opener)) {
      closePopup(true);
      return;
    }
    const element = h("div", { class: "popup readers-panel", role: "dialog",
      "aria-labelledby": "readers-title", tabindex: "-1" });
    const open = { element, opener, load, readers: emptyReaders(), error: null, moreError: null,
      drawn: null, status: null, list: null, more: null };
    this.open = open;
    openPanel(opener, element, () => {
      if (this.open === open) this.open = null;
    });
    this.fill(state);
    element.focus();
    const asked = (this.asked += 1);
    load(null).then((reply) => readersAnswered(open.readers, reply), (error) => {
      readersRefused(open.readers);
      open.error = error && error.code === "unknown_op"
        ? "This server does not keep read receipts."
        : `Could not tell who read it: ${(error && error.message) || "no answer"}.`;
    }).finally(() => {
      if (asked === this.asked && this.open === open) this.fill(state);
    });
  }

  /** "Show more": the next page of names, added to the list once it comes. */
  showMore(state) {
    const open = this.open;
    const after = open ? nextReaders(open.readers) : null;
    if (after === null) return;
    open.moreError = null;
    this.fill(state);
    open.load(after).then((reply) => readersAnswered(open.readers, reply), (error) => {
      readersRefused(open.readers);
      open.moreError = `Could not get more names: ${(error && error.message) || "no answer"}.`;
    }).finally(() => {
      if (this.open !== open) return;
      this.fill(state);
      // The button gone (the last page came): the focus stays in the panel.
      if (open.more.hidden && !open.element.contains(document.activeElement)) {
        open.element.focus();
      }
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
    const readers = open.readers;
    const text = readers.loading && !readers.users.length && !readers.after ? null
      : readersText(state.profiles, readers);
    const drawn = JSON.stringify([open.error, open.moreError, readers.loading, readers.more,
      text, text && text.readers.map((r) => avatarOf(state.profiles, r.user))]);
    if (drawn === open.drawn) return;
    open.drawn = drawn;
    // The heading, the count line and "Show more" stay (the line is a live region: its words
    // change; the button keeps the focus), the list is drawn anew.
    if (!open.status) {
      open.status = h("p", { class: "hint", id: "readers-count", role: "status" });
      open.list = h("div", { class: "readers-names" });
      open.more = h("button", { type: "button", class: "link readers-show-more", hidden: true,
        onclick: () => this.showMore(state) }, "Show more");
      open.element.replaceChildren(h("h2", { id: "readers-title" }, "Read by"), open.status,
        open.list, open.more);
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
      open.moreError ? h("p", { class: "hint error", role: "alert" }, open.moreError) : null,
    ].filter(Boolean));
    open.more.hidden = !readers.more;
    // (Not `disabled`: that would take the focus off it while the page is on its way.)
    open.more.setAttribute("aria-disabled", String(readers.loading));
    open.more.textContent = readers.loading && readers.users.length ? "Loading…" : "Show more";
  }
}

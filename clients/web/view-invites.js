// The "Invite people" dialog, opened from the menu under the person's name by those who may
// make invitation links (an administrator; every member when the server lets them): a new
// link (how long it works, for how many people, the rooms it joins, from the person's rooms),
// shown once with a Copy button, and the person's links (an administrator's: every one) with
// their uses and expiry, each working one with "Revoke", asked again in place before it goes;
// "Show more" under them while the server has older ones (it answers a page at a time).
//
// Over HTTP (docs/protocol.md, "Invitations"): POST /api/invitations, GET /api/invitations
// (?before= for the next page), DELETE /api/invitations/{id}. The list is invites.js's: kept
// from the answers of a create and a revoke, asked again each time the dialog opens.
// Everything the server sends reaches the page as text (h(), textContent).

import * as clock from "./clock.js";
import { $, formatFull, h } from "./dom.js";
import {
  actionRefusal, createBody, DEFAULT_EXPIRY, DEFAULT_USES, emptyLinks, EXPIRY_CHOICES,
  expiryText, invitableRooms, linkChanged, linkOf, linksAsked, linksFailed, linksLoaded,
  linksMoreAsked, linksMoreLoaded, linkState, linkTitle, revocable, USES_CHOICES, usesText,
} from "./invites.js";

export class InvitesView {
  constructor() {
    this.on = {};
    this.state = null;
    this.links = emptyLinks();
    this.confirming = null; // the id of the link whose "Revoke" asks again
    this.busy = false;
    this.returnFocus = null;
    $("invite-expiry").replaceChildren(...EXPIRY_CHOICES.map((choice) => h("option",
      { value: choice.key }, choice.label)));
    $("invite-uses").replaceChildren(...USES_CHOICES.map((choice) => h("option",
      { value: choice.key }, choice.label)));
    $("invite-close").addEventListener("click", () => $("invite-dialog").close());
    $("invite-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.create();
    });
    $("invite-copy").addEventListener("click", () => this.copy());
    $("invite-more").addEventListener("click", () => this.loadMore());
    $("invite-dialog").addEventListener("close", () => {
      this.confirming = null;
      const back = this.returnFocus;
      this.returnFocus = null;
      if (back && back.isConnected && !back.closest("[inert]")) back.focus();
    });
  }

  /**
   * Handlers: call(method, path, body) → a promise of the JSON answer (an ApiError with the
   * server's code and message when refused); me() → the person's name.
   */
  bind(handlers) { this.on = handlers; }

  get isOpen() {
    return $("invite-dialog").open;
  }

  render(state) {
    this.state = state;
  }

  /** Open the dialog: the choices at their defaults, the open room ticked, the list asked. */
  open() {
    const state = this.state;
    if (!state || this.isOpen) return;
    const active = document.activeElement;
    this.returnFocus = active && active !== document.body && active.isConnected ? active
      : $("me-name");
    $("invite-expiry").value = DEFAULT_EXPIRY;
    $("invite-uses").value = DEFAULT_USES;
    $("invite-error").textContent = "";
    $("invite-made").hidden = true;
    $("invite-create").textContent = "Create link";
    $("invite-link").value = "";
    $("invite-copied").textContent = "";
    this.drawRooms(state);
    $("invite-list-title").textContent = state.admin ? "All links" : "Your links";
    this.links = emptyLinks();
    this.confirming = null;
    this.drawList();
    $("invite-dialog").showModal();
    $("invite-expiry").focus();
    this.load();
  }

  close() {
    if (this.isOpen) $("invite-dialog").close();
  }

  drawRooms(state) {
    const rooms = invitableRooms(state.rooms.values());
    const list = $("invite-room-list");
    if (!rooms.length) {
      list.replaceChildren(h("p", { class: "hint" }, "You are in no room yet: the link makes "
        + "an account only."));
      return;
    }
    list.replaceChildren(...rooms.map((room) => h("label", { class: "check" },
      h("input", { type: "checkbox", name: "invite-room", value: room,
        checked: room === state.current }),
      `#${room}`)));
  }

  chosenRooms() {
    return [...$("invite-room-list").querySelectorAll("input[name=invite-room]:checked")]
      .map((box) => box.value);
  }

  async load() {
    // (The list of this opening: one opened again since has its own, and its own serials.)
    const links = this.links;
    const serial = linksAsked(links);
    this.drawList();
    try {
      const body = await this.on.call("GET", "/api/invitations");
      linksLoaded(links, serial, body);
    } catch (error) {
      linksFailed(links, serial, actionRefusal(error));
    }
    if (links === this.links) this.drawList();
  }

  /** The next page of the list ("Show more"); the focus goes to its first link once drawn. */
  async loadMore() {
    const links = this.links;
    const asked = linksMoreAsked(links);
    if (!asked) return;
    const first = links.items.length;
    this.drawList();
    try {
      const body = await this.on.call("GET",
        `/api/invitations?before=${encodeURIComponent(asked.before)}`);
      if (!linksMoreLoaded(links, asked.serial, body)) return;
    } catch (error) {
      linksFailed(links, asked.serial, actionRefusal(error));
    }
    if (links !== this.links) return;
    this.drawList();
    const row = $("invite-list").children[first];
    if (row && this.isOpen) {
      row.setAttribute("tabindex", "-1");
      row.focus();
    }
  }

  async create() {
    if (this.busy) return;
    const made = createBody({ expiry: $("invite-expiry").value, uses: $("invite-uses").value,
      rooms: this.chosenRooms() });
    $("invite-error").textContent = "";
    if (made.problem) {
      $("invite-error").textContent = made.problem;
      return;
    }
    this.busy = true;
    $("invite-create").disabled = true;
    try {
      const reply = await this.on.call("POST", "/api/invitations", made.body);
      const link = linkOf(reply, location.href);
      if (!link) throw new Error("The server gave no link.");
      linkChanged(this.links, reply.invitation);
      this.drawList();
      $("invite-link").value = link;
      $("invite-copied").textContent = "";
      $("invite-made").hidden = false;
      $("invite-create").textContent = "Create another link";
      $("invite-link").focus();
      $("invite-link").select();
    } catch (error) {
      $("invite-error").textContent = `No link was made. ${actionRefusal(error)}`;
    } finally {
      this.busy = false;
      $("invite-create").disabled = false;
    }
  }

  async copy() {
    const box = $("invite-link");
    box.select();
    try {
      await navigator.clipboard.writeText(box.value);
      $("invite-copied").textContent = "Copied.";
    } catch {
      $("invite-copied").textContent = "Select it and copy it with the keyboard.";
    }
  }

  drawList() {
    const list = this.links;
    const now = clock.now();
    const me = this.on.me ? this.on.me() : null;
    $("invite-list").replaceChildren(...list.items.map((item) => this.row(item, now, me)));
    let status = "";
    if (list.error) status = `The links could not be listed: ${list.error}`;
    else if (list.loading && !list.items.length) status = "Loading…";
    else if (list.loaded && !list.items.length) status = "No links yet.";
    $("invite-list-status").textContent = status;
    const more = $("invite-more");
    more.hidden = !list.more;
    more.disabled = list.paging;
    more.textContent = list.paging ? "Loading…" : "Show more";
  }

  row(item, now, me) {
    const state = linkState(item, now);
    const label = `the link to ${item.rooms.length ? item.rooms.map((r) => `#${r}`).join(", ")
      : "no rooms"} made ${item.createdAt !== null ? formatFull(item.createdAt) : ""}`.trim();
    let actions = null;
    if (this.confirming === item.id && revocable(item, now)) {
      actions = h("div", { class: "invite-actions", role: "group",
        "aria-label": "Revoke this link?" },
      h("span", { class: "invite-ask" }, "Revoke? Nobody can register with it then."),
      h("button", { type: "button", class: "small-button danger-text", "data-focus": "yes",
        onclick: () => this.revoke(item) }, "Revoke"),
      h("button", { type: "button", class: "small-button", "data-focus": "no",
        onclick: () => this.ask(null) }, "Keep"));
    } else if (revocable(item, now)) {
      actions = h("div", { class: "invite-actions" },
        h("button", { type: "button", class: "small-button", "aria-label": `Revoke ${label}`,
          onclick: () => this.ask(item.id) }, "Revoke"));
    }
    return h("li", { class: `invite-item ${state}`, dataset: { invitation: String(item.id) } },
      h("div", { class: "invite-main" },
        h("strong", { class: "invite-rooms-text" }, linkTitle(item, me)),
        state === "valid" ? null : h("span", { class: "tag off-tag" }, expiryText(item, now))),
      h("div", { class: "hint invite-meta" }, [
        usesText(item),
        state === "valid" ? expiryText(item, now) : null,
        item.createdAt !== null ? `made ${formatFull(item.createdAt)}` : null,
      ].filter(Boolean).join(" · ")),
      actions);
  }

  /** "Revoke" asks again in place (`id`), or stops asking (null). */
  ask(id) {
    this.confirming = id;
    this.drawList();
    const row = $("invite-list").querySelector(`li[data-invitation="${id ?? ""}"]`);
    const focus = row && row.querySelector(id === null ? "button" : "[data-focus=no]");
    if (focus) focus.focus();
    else if (id === null) $("invite-expiry").focus();
  }

  async revoke(item) {
    const id = item.id;
    try {
      const reply = await this.on.call("DELETE", `/api/invitations/${id}`);
      linkChanged(this.links, reply && reply.invitation);
      $("invite-list-status").textContent = "";
    } catch (error) {
      this.confirming = null;
      this.drawList();
      $("invite-list-status").textContent = `The link was not revoked: ${actionRefusal(error)}`;
      return;
    }
    this.confirming = null;
    this.drawList();
    $("invite-list-status").textContent = "The link is revoked.";
    const row = $("invite-list").querySelector(`li[data-invitation="${id}"]`);
    if (row) row.setAttribute("tabindex", "-1");
    if (row) row.focus();
  }
}

// The room's "Invite link…" dialog and the join screen of a link opened (roomlinks.js).
//
// "Invite link…" (the room's header, for a room the person is in, not archived): a new link
// (for how many people, for how long), shown once with a Copy button, and the room's links
// (the person's own, or every one for those who moderate the room) with their uses and until
// when they work, each working one with "Revoke". The join screen: what a link leads to (the
// room's name, topic and size, who made the link) and "Join" ("Open" for a member already), or
// why it does not work.
//
// Everything goes over the socket (`ask(op, fields)`: create_room_link, room_links,
// revoke_room_link, room_link, join_link), so the token never travels in a request line; what
// the server sends is shown as text (h(), textContent). The generic dialog holds both
// (view-dialogs.js `confirm`): its OK is "Done" here (offline: it only closes), or "Join".

import { $, h } from "./dom.js";
import {
  DEFAULT_EXPIRY, DEFAULT_USES, EXPIRIES, joinScreen, linkLine, linkObject, linkOf, linkRequest,
  linksOf, refusal, revocable, USES, withLink,
} from "./roomlinks.js";

export class RoomLinksView {
  /** `dialogs`: the DialogsView whose dialog this borrows. */
  constructor(dialogs) {
    this.dialogs = dialogs;
    this.on = {};
    this.room = null; // the room whose links the dialog shows
    this.links = [];
    this.listed = "idle"; // "loading", "loaded", "failed"
  }

  /**
   * Handlers: ask(op, fields) → a promise of the `ok` frame (rejected with the refusal),
   * now() → ms on the server's clock, base() → the page's address (a link is built on it
   * when the server does not say its own), roomChosen() once a room is joined.
   */
  bind(handlers) { this.on = handlers; }

  /** The "Invite link…" dialog of room `name` (from the header, or from the invite dialog). */
  open(name) {
    if ($("dialog").open) $("dialog").close(); // (opened from the invite dialog)
    this.room = name;
    this.links = [];
    this.listed = "loading";
    const uses = h("select", { id: "room-link-uses", name: "room-link-uses" },
      ...USES.map(({ value, label }) => h("option",
        { value: String(value), selected: value === DEFAULT_USES || null }, label)));
    const expiry = h("select", { id: "room-link-expiry", name: "room-link-expiry" },
      ...EXPIRIES.map(({ value, label }) => h("option",
        { value: String(value), selected: value === DEFAULT_EXPIRY || null }, label)));
    const make = h("button", { type: "button", id: "room-link-make", class: "small-button" },
      "Make a link");
    make.addEventListener("click", () => this.make(make));
    const copy = h("button", { type: "button", id: "room-link-copy", class: "small-button" },
      "Copy");
    copy.addEventListener("click", () => this.copy(copy));
    this.dialogs.confirm({
      single: true,
      title: `Invite link to #${name}`,
      ok: "Done",
      offline: true,
      submit: async () => {},
      fields: [
        h("p", { class: "hint" }, `Anyone with the link who has an account here can join #${name}`
          + ", private or not. Only its hash is kept: the link is shown once."),
        h("div", { class: "room-link-choices" },
          h("label", { for: "room-link-uses" }, "For", uses),
          h("label", { for: "room-link-expiry" }, "Expires after", expiry),
          make),
        h("div", { id: "room-link-made", class: "room-link-made", hidden: true },
          h("input", { id: "room-link-url", readonly: true, "aria-label": "The new link",
            spellcheck: "false" }),
          copy),
        h("h3", { class: "room-link-heading" }, "Links"),
        h("p", { id: "room-link-status", class: "hint", role: "status" }, "Loading…"),
        h("ul", { id: "room-link-list", class: "room-link-list", "aria-label": "Links" }),
      ],
    });
    this.load(name);
  }

  async load(name) {
    try {
      const reply = await this.on.ask("room_links", { room: name });
      if (this.room !== name) return;
      this.links = linksOf(reply);
      this.listed = "loaded";
      this.everyone = reply.all === true;
    } catch (error) {
      if (this.room !== name) return;
      this.listed = "failed";
      this.failure = refusal(error);
    }
    this.render();
  }

  async make(button) {
    const name = this.room;
    button.disabled = true;
    $("dialog-error").textContent = "";
    try {
      const reply = await this.on.ask("create_room_link", linkRequest(name, {
        uses: $("room-link-uses").value, expiresIn: $("room-link-expiry").value }));
      if (this.room !== name || !$("room-link-made")) return;
      $("room-link-url").value = linkOf(reply, this.on.base());
      $("room-link-made").hidden = false;
      $("room-link-copy").textContent = "Copy";
      this.links = withLink(this.links, linkObject(reply.link));
      this.listed = "loaded";
      this.render();
      $("room-link-url").select();
    } catch (error) {
      $("dialog-error").textContent = refusal(error);
    } finally {
      button.disabled = false;
    }
  }

  async copy(button) {
    const input = $("room-link-url");
    try {
      await navigator.clipboard.writeText(input.value);
      button.textContent = "Copied";
    } catch {
      input.select(); // the person copies it themselves
      button.textContent = "Press Ctrl+C";
    }
  }

  async revoke(link, button) {
    button.disabled = true;
    $("dialog-error").textContent = "";
    try {
      const reply = await this.on.ask("revoke_room_link", { link: link.id });
      this.links = withLink(this.links, linkObject(reply.link));
      this.render();
    } catch (error) {
      $("dialog-error").textContent = refusal(error);
      button.disabled = false;
    }
  }

  render() {
    const list = $("room-link-list");
    const status = $("room-link-status");
    if (!list || !status) return; // the dialog was closed or now shows something else
    const now = this.on.now();
    if (this.listed === "failed") {
      status.textContent = this.failure;
    } else if (this.listed === "loading") {
      status.textContent = "Loading…";
    } else {
      status.textContent = this.links.length ? ""
        : "No links yet: make one above, and give it to whoever should come in.";
    }
    status.hidden = !status.textContent;
    list.replaceChildren(...this.links.map((link) => {
      const item = h("li", { class: `room-link${revocable(link, now) ? "" : " spent"}`,
        dataset: { id: String(link.id) } },
      h("span", { class: "room-link-line" }, linkLine(link, now)),
      this.everyone && link.by ? h("span", { class: "room-link-by" }, `by ${link.by}`) : null);
      if (revocable(link, now)) {
        const revoke = h("button", { type: "button", class: "small-button danger",
          "aria-label": `Revoke link ${link.id}` }, "Revoke");
        revoke.addEventListener("click", () => this.revoke(link, revoke));
        item.append(revoke);
      }
      return item;
    }));
  }

  /**
   * The join screen of a link of `token` opened by a signed-in person: asks the server what
   * it leads to, then shows the room and "Join" (or why not, with "Close" alone).
   */
  async showJoin(token) {
    let answer;
    try {
      answer = await this.on.ask("room_link", { token });
    } catch (error) {
      answer = { valid: false, code: error && error.code, message: error && error.message };
    }
    const screen = joinScreen(answer);
    this.room = null;
    this.dialogs.confirm({
      title: screen.title,
      ok: screen.join || "Close",
      single: !screen.join,
      offline: !screen.join,
      fields: [h("div", { id: "join-screen", class: "join-screen" },
        ...screen.lines.map((line, i) => h("p", { class: i === 0 && !screen.join ? "problem"
          : null }, line)))],
      submit: async () => {
        if (!screen.join) return;
        try {
          await this.on.ask("join_link", { token });
        } catch (error) {
          throw new Error(refusal(error));
        }
        this.on.roomChosen();
      },
    });
  }
}

// "For others" (the Saved panel's head): the reminders the person set for other people with
// `/remind @name …` (reminders.js), each "for Bob: … · in 20 min" with Cancel until it fires,
// and whether others may set reminders for the person. Over the socket: reminders_set,
// cancel_reminder, allow_reminders. The generic dialog holds it (view-dialogs.js `confirm`), its
// OK only closing it; what the server sends is shown as text.

import { $, h } from "./dom.js";
import { refusal, setItemsOf, setLine, withoutItem } from "./reminders.js";

export class RemindersSetView {
  /** `dialogs`: the DialogsView whose dialog this borrows. */
  constructor(dialogs) {
    this.dialogs = dialogs;
    this.on = {};
    this.items = [];
    this.opens = 0;
  }

  /** Handlers: ask(op, fields) → a promise of the `ok` frame, now() → ms (server's clock). */
  bind(handlers) { this.on = handlers; }

  open() {
    const opening = ++this.opens;
    this.items = [];
    const allow = h("input", { type: "checkbox", id: "reminders-allow", disabled: true });
    allow.addEventListener("change", () => this.allow(allow));
    this.dialogs.confirm({
      single: true,
      title: "Reminders for others",
      ok: "Done",
      offline: true,
      submit: async () => {},
      fields: [
        h("p", { class: "hint" }, "Set one from the message box: /remind @bob in 1h send the "
          + "report. It is theirs once set: you can cancel it until it fires."),
        h("p", { id: "reminders-set-status", class: "hint", role: "status" }, "Loading…"),
        h("ul", { id: "reminders-set-list", class: "room-link-list",
          "aria-label": "Reminders you set" }),
        h("label", { class: "check", for: "reminders-allow" }, allow,
          " Others may set reminders for me"),
      ],
    });
    this.load(opening);
  }

  async load(opening) {
    try {
      const [listed, allowed] = await Promise.all([this.on.ask("reminders_set", {}),
        this.on.ask("allow_reminders", {})]);
      if (opening !== this.opens || !$("reminders-set-list")) return;
      this.items = setItemsOf(listed);
      $("reminders-allow").checked = allowed.on === true;
      $("reminders-allow").disabled = false;
      this.render();
    } catch (error) {
      if (opening !== this.opens || !$("reminders-set-status")) return;
      $("reminders-set-status").textContent = refusal(error);
    }
  }

  async allow(box) {
    box.disabled = true;
    $("dialog-error").textContent = "";
    try {
      const reply = await this.on.ask("allow_reminders", { on: box.checked });
      box.checked = reply.on === true;
    } catch (error) {
      box.checked = !box.checked;
      $("dialog-error").textContent = refusal(error);
    } finally {
      box.disabled = false;
    }
  }

  async cancel(item, button) {
    button.disabled = true;
    $("dialog-error").textContent = "";
    try {
      await this.on.ask("cancel_reminder", { user: item.user, msg_id: item.msg_id });
      this.items = withoutItem(this.items, item.user, item.msg_id);
      this.render();
    } catch (error) {
      $("dialog-error").textContent = refusal(error, item.user);
      button.disabled = false;
    }
  }

  render() {
    const list = $("reminders-set-list");
    if (!list) return;
    const now = this.on.now();
    const status = $("reminders-set-status");
    status.textContent = this.items.length ? "" : "You have set no reminders for others.";
    status.hidden = !status.textContent;
    list.replaceChildren(...this.items.map((item) => {
      const row = h("li", { class: `room-link${item.reminded ? " spent" : ""}` },
        h("span", { class: "room-link-line" }, setLine(item, now)));
      if (!item.reminded) {
        const cancel = h("button", { type: "button", class: "small-button danger",
          "aria-label": `Cancel the reminder for ${item.user}` }, "Cancel");
        cancel.addEventListener("click", () => this.cancel(item, cancel));
        row.append(cancel);
      }
      return row;
    }));
  }
}

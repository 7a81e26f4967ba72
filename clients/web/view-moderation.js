// Moderation of the open room, for its owner, its moderators and server administrators
// (admin.js `moderates`; others never see these): the header's shield button opens a menu of
// the room's bans (with "Unban"), its audit log (paged with "More") and, for the owner and
// administrators, archive / unarchive; each member of the member list has a menu (make
// moderator / member, hand the room over, remove, ban). Every change is a request on the
// socket; what it changes reaches the page as the room's log entries, as for every member.

import {
  BAN_DURATIONS, banLeft, banRequest, bansInForce, controlsFor, emptyList, listBegin, listFailed,
  listNext, listReceived, moderates, parseAudit, removedText, runs,
} from "./admin.js";
import * as clock from "./clock.js";
import { $, h, toast } from "./dom.js";
import { openMenu } from "./popup.js";
import { currentRoom } from "./select.js";
import { auditRow, purgeChoices } from "./view-admin.js";
import { runInDialog } from "./view-dialogs.js";

export class ModerationView {
  constructor() {
    this.on = {};
    this.state = null;
    $("moderate").addEventListener("click", () => this.roomMenu());
  }

  /**
   * Handlers: ask(op, fields) → the `ok` (rejected with the refusal), dialog(options) (the
   * dialogs' `confirm`), kick(user) (the confirmation of removing someone).
   */
  bind(handlers) { this.on = handlers; }

  render(state) {
    this.state = state;
    const room = currentRoom(state);
    $("moderate").hidden = !moderates(room, state.admin);
  }

  get room() {
    return this.state ? currentRoom(this.state) : null;
  }

  roomMenu() {
    const room = this.room;
    if (!room) return;
    const items = [
      { label: "Bans…", run: () => this.showBans(room.name) },
      { label: "Audit log…", run: () => this.showAudit(room.name) },
    ];
    if (runs(room, this.state.admin)) {
      items.push({ label: room.archived ? "Unarchive the room…" : "Archive the room…",
        run: () => this.archive(room.name, !room.archived) });
    }
    openMenu($("moderate"), { label: `Moderate #${room.name}`, items });
  }

  /** The menu of member `member` ({user, role}) of the open room, under `opener`. */
  memberMenu(member, opener) {
    const room = this.room;
    if (!room) return;
    const can = controlsFor(room, { me: this.state.me, admin: this.state.admin }, member);
    const { user } = member;
    const items = [];
    if (can.makeModerator) {
      items.push({ label: "Make moderator", run: () => this.setRole(room.name, user, "moderator") });
    }
    if (can.makeMember) {
      items.push({ label: "Make member", run: () => this.setRole(room.name, user, "member") });
    }
    if (can.handOver) {
      items.push({ label: "Hand over ownership…", run: () => this.handOver(room.name, user) });
    }
    if (can.kick) items.push({ label: "Remove from the room…", run: () => this.on.kick(user) });
    if (can.ban) items.push({ label: "Ban…", run: () => this.ban(room.name, user) });
    // The member's row may have been drawn anew meanwhile (their role or status changed):
    // the focus goes back to its button of the moment.
    const back = () => (opener.isConnected ? opener : [...document.querySelectorAll(
      "#member-list li[data-user]")].find((li) => li.dataset.user === user)
      ?.querySelector('[data-focus="moderate"]') || $("composer-text"));
    if (items.length) openMenu(opener, { label: `Moderate ${user}`, items, back });
  }

  async setRole(room, user, role) {
    try {
      await this.on.ask("set_role", { room, user, role });
    } catch (error) {
      toast(`Cannot change the role of ${user}: ${error.message}`);
    }
  }

  handOver(room, user) {
    this.on.dialog({
      title: `Hand #${room} over to ${user}?`,
      ok: "Hand over",
      danger: true,
      fields: [h("p", { class: "confirm-text" }, `${user} becomes the owner of #${room}; the `
        + "owner now becomes a moderator. Only the new owner (or an administrator) can hand it "
        + "back.")],
      submit: async () => {
        await this.on.ask("set_role", { room, user, role: "owner" });
      },
    });
  }

  ban(room, user) {
    const choices = BAN_DURATIONS.map((duration, index) => h("label", { class: "check" },
      h("input", { type: "radio", name: "ban-duration", value: duration.key,
        checked: index === 1 }), ` ${duration.label}`));
    this.on.dialog({
      title: `Ban ${user} from #${room}?`,
      ok: "Ban",
      danger: true,
      fields: [
        h("p", { class: "confirm-text" }, `${user} is removed from #${room} at once and cannot `
          + "join it, be invited or read it until the ban ends."),
        h("label", { for: "ban-reason" }, "Reason (optional, shown to the room)"),
        h("input", { id: "ban-reason", maxlength: 256, autocomplete: "off" }),
        h("fieldset", { class: "ban-durations" }, h("legend", {}, "For how long"), ...choices),
        purgeChoices("ban-purge"),
      ],
      submit: async () => {
        const body = $("dialog-body");
        const chosen = body.querySelector("input[name=ban-duration]:checked");
        const purge = body.querySelector("input[name=ban-purge]:checked");
        const reply = await this.on.ask("ban", banRequest(room, user, chosen ? chosen.value : "day",
          $("ban-reason").value, purge ? purge.value : "none"));
        if (reply && "deleted" in reply) toast(removedText(user, "is banned", reply));
      },
    });
  }

  archive(room, archived) {
    this.on.dialog({
      title: archived ? `Archive #${room}?` : `Unarchive #${room}?`,
      ok: archived ? "Archive" : "Unarchive",
      fields: [h("p", { class: "confirm-text" }, archived
        ? `#${room} becomes read-only for everyone: no messages, reactions, edits or new `
          + "members until it is unarchived. Its messages stay."
        : `The members of #${room} can write in it again.`)],
      submit: async () => {
        await this.on.ask("archive", { room, archived });
      },
    });
  }

  /** The bans in force in `room`, each with "Unban". */
  showBans(room) {
    const list = h("ul", { class: "browse-list mod-list", "aria-label": `Bans in #${room}` },
      h("li", { class: "side-empty" }, "Loading…"));
    const load = async () => {
      try {
        const now = clock.now(); // bans expire by the server's clock
        const bans = bansInForce(await this.on.ask("bans", { room }), now);
        list.replaceChildren(...(bans.length ? bans.map((ban) => h("li", {},
          h("span", { class: "name" }, ban.user),
          h("span", { class: "topic" }, `${banLeft(ban.expires_at, now)}${
            ban.by ? `, by ${ban.by}` : ""}${ban.reason ? `: ${ban.reason}` : ""}`),
          h("button", { type: "button", class: "small-button", "aria-label": `Unban ${ban.user}`,
            onclick: () => runInDialog(async () => {
              await this.on.ask("unban", { room, user: ban.user });
              await load();
              list.focus();
            }) }, "Unban")))
          : [h("li", { class: "side-empty" }, "Nobody is banned.")]));
      } catch (error) {
        list.replaceChildren(h("li", { class: "side-empty" }, `Cannot list the bans: ${
          error.message}`));
      }
    };
    list.tabIndex = -1;
    this.on.dialog({ title: `Bans in #${room}`, ok: "Close", single: true, fields: [list],
      submit: async () => {} });
    load();
  }

  /** The audit log of `room`, newest first, a page at a time. */
  showAudit(room) {
    const entries = emptyList();
    const list = h("ol", { class: "browse-list mod-list audit-list",
      "aria-label": `Audit log of #${room}, newest first` });
    const more = h("button", { type: "button", class: "small-button", hidden: true },
      "More entries");
    const note = h("p", { class: "hint", role: "status" }, "Loading…");
    const load = async (params) => {
      if (!params) return;
      more.disabled = true;
      try {
        const { serial, ...fields } = params;
        listReceived(entries, serial, parseAudit(await this.on.ask("audit", { room, ...fields })));
      } catch (error) {
        listFailed(entries, params.serial, error.message);
      }
      list.replaceChildren(...entries.items.map(auditRow));
      note.textContent = entries.error ? `Cannot read the log: ${entries.error}`
        : entries.items.length ? "" : "Nothing was done here yet.";
      more.hidden = !entries.more;
      more.disabled = false;
    };
    more.addEventListener("click", () => load(listNext(entries, "id", "before")));
    this.on.dialog({ title: `Audit log of #${room}`, ok: "Close", single: true,
      fields: [note, list, more], submit: async () => {} });
    load(listBegin(entries, ""));
  }
}

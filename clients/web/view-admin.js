// The administration view, for server administrators (the welcome's `user.admin`): a view of
// its own in the place of the chat, opened from the sidebar's "Administration" button, left
// with "Back to the chat" or Escape.
//
//   live figures  GET /api/admin/stats every STATS_MS while the view is shown and the tab is
//                 visible (connections, messages per second, database size); stopped otherwise
//   Users         GET /api/admin/users (search, "More"); deactivate / reactivate (asks first),
//                 reset the password (the new one shown once, with a copy button), make or
//                 revoke an administrator
//   Rooms         GET /api/admin/rooms (search, "More"); each room's members (`who` on the
//                 socket), archive / unarchive, delete (asks for the room's name to be typed)
//   Audit log     GET /api/admin/audit, newest first, "More"
//   "Invite people…"  the invitation links' dialog (view-invites.js), as from the person's menu
//
// The lists are admin.js's paged lists (a later search wins over an answer still on its way).
// A refusal shows in place: in the list's status line, or in the dialog that asked. Everything
// the server sends reaches the page as text (h(), textContent), never as markup.

import {
  auditText, deactivationBody, emptyList, listBegin, listFailed, listNext, listReceived,
  listRemove, listUpdate, parseAudit, parseRooms, parseStats, parseUsers, PURGE_WINDOWS,
  queryString, removedText,
} from "./admin.js";
import { $, formatFull, h, toast } from "./dom.js";

export const STATS_MS = 5000;
const PAGE = 50;

export class AdminView {
  constructor() {
    this.on = {};
    this.users = emptyList();
    this.rooms = emptyList();
    this.audit = emptyList();
    this.tab = "users";
    this.statsTimer = null;
    this.statsSerial = 0;
    this.shownMembers = new Map(); // room -> [{user, status, role, deactivated}] or an error
    this.returnFocus = null;
    $("admin-open").addEventListener("click", () => this.open());
    $("admin-back").addEventListener("click", () => this.close());
    $("admin-invite").addEventListener("click", () => this.on.invite());
    $("admin-view").addEventListener("keydown", (event) => {
      if (event.key === "Escape" && !event.defaultPrevented && !$("dialog").open) {
        event.preventDefault();
        this.close();
      }
    });
    const tabs = ["users", "rooms", "audit"];
    for (const name of tabs) {
      $(`admin-tab-${name}`).addEventListener("click", () => this.select(name));
    }
    $("admin-view").querySelector("[role=tablist]").addEventListener("keydown", (event) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
      if (!step) return;
      event.preventDefault();
      const next = tabs[(tabs.indexOf(this.tab) + step + tabs.length) % tabs.length];
      this.select(next);
      $(`admin-tab-${next}`).focus();
    });
    $("admin-users-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.loadUsers($("admin-users-query").value);
    });
    $("admin-rooms-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.loadRooms($("admin-rooms-query").value);
    });
    $("admin-users-more").addEventListener("click", () => this.moreUsers());
    $("admin-rooms-more").addEventListener("click", () => this.moreRooms());
    $("admin-audit-more").addEventListener("click", () => this.moreAudit());
    document.addEventListener("visibilitychange", () => this.pollStats());
  }

  /**
   * Handlers: call(method, path, body) → a promise of the JSON answer (an ApiError with the
   * server's message when refused); ask(op, fields) → the socket's `ok` (rejected with the
   * refusal); dialog({title, ok, danger, fields, submit, close}) shows the page's dialog;
   * me() → the person's name; shown(open) when the view opens or closes; mayInvite() →
   * whether the person makes invitation links, invite() opens their dialog.
   */
  bind(handlers) { this.on = handlers; }

  get isOpen() {
    return !$("admin-view").hidden;
  }

  /** Whether the person administers the server: the entry is shown only then. */
  render(state) {
    $("admin-open").hidden = !state.admin;
    $("admin-invite").hidden = !(this.on.mayInvite && this.on.mayInvite());
    if (!state.admin && this.isOpen) this.close({ refocus: false });
  }

  open() {
    if (this.isOpen) return;
    this.returnFocus = document.activeElement;
    $("admin-view").hidden = false;
    $("admin-open").setAttribute("aria-expanded", "true");
    this.on.shown(true);
    this.select(this.tab);
    this.loadUsers($("admin-users-query").value);
    this.loadRooms($("admin-rooms-query").value);
    this.loadAudit();
    this.pollStats();
    $("admin-back").focus();
  }

  close({ refocus = true } = {}) {
    if (!this.isOpen) return;
    $("admin-view").hidden = true;
    $("admin-open").setAttribute("aria-expanded", "false");
    this.pollStats();
    this.on.shown(false);
    const back = this.returnFocus;
    this.returnFocus = null;
    if (refocus && back && back.isConnected && !back.closest("[inert]")) back.focus();
    else if (refocus) $("composer-text").focus();
  }

  select(name) {
    this.tab = name;
    for (const tab of ["users", "rooms", "audit"]) {
      const chosen = tab === name;
      $(`admin-tab-${tab}`).setAttribute("aria-selected", String(chosen));
      $(`admin-tab-${tab}`).tabIndex = chosen ? 0 : -1;
      $(`admin-${tab}`).hidden = !chosen;
    }
  }

  // -- live figures ----------------------------------------------------------------------------

  /** Poll the figures every STATS_MS while the view is shown in a visible tab; else stop. */
  pollStats() {
    const wanted = this.isOpen && document.visibilityState === "visible";
    if (!wanted) {
      clearTimeout(this.statsTimer);
      this.statsTimer = null;
      this.statsSerial += 1; // an answer on its way is not shown, nor polls again
      return;
    }
    if (this.statsTimer !== null) return;
    const serial = ++this.statsSerial;
    const tick = async () => {
      try {
        const stats = parseStats(await this.on.call("GET", "/api/admin/stats"));
        if (serial !== this.statsSerial) return;
        if (!stats) throw new Error("The server's figures are malformed.");
        $("stat-connections").textContent = stats.connections;
        $("stat-rate").textContent = stats.rate;
        $("stat-database").textContent = stats.database;
        $("admin-stats-node").textContent = stats.node ? `(node ${stats.node})` : "";
        $("admin-stats-error").textContent = "";
      } catch (error) {
        if (serial !== this.statsSerial) return;
        $("admin-stats-error").textContent = `Cannot read the figures: ${error.message}`;
      }
      if (serial === this.statsSerial) this.statsTimer = setTimeout(tick, STATS_MS);
    };
    this.statsTimer = setTimeout(tick, 0);
  }

  // -- users -----------------------------------------------------------------------------------

  loadUsers(query) {
    this.fetchPage(this.users, "/api/admin/users", listBegin(this.users, query), parseUsers,
      () => this.showUsers());
  }

  moreUsers() {
    const params = listNext(this.users, "name");
    if (params) this.fetchPage(this.users, "/api/admin/users", params, parseUsers,
      () => this.showUsers());
  }

  /** Ask for a page of `list` with `params`, show it (or the refusal) with `show`. */
  async fetchPage(list, path, params, parse, show) {
    show();
    try {
      const body = await this.on.call("GET", `${path}${queryString({ ...params, limit: PAGE })}`);
      listReceived(list, params.serial, parse(body));
    } catch (error) {
      listFailed(list, params.serial, error.message);
    }
    show();
  }

  showUsers() {
    const list = this.users;
    $("admin-users-list").replaceChildren(...list.items.map((user) => this.userRow(user)));
    status("admin-users", list, list.query ? `No user matches “${list.query}”.` : "No users.",
      "users");
  }

  userRow(user) {
    const me = this.on.me();
    const self = me && me.toLowerCase() === user.name.toLowerCase();
    const badges = [
      user.admin ? h("span", { class: "tag admin-tag" }, "admin") : null,
      user.bot ? h("span", { class: "tag" }, "bot") : null,
      user.deactivated ? h("span", { class: "tag off-tag" }, "deactivated") : null,
      self ? h("span", { class: "tag" }, "you") : null,
    ];
    const button = (label, aria, run, extra = "") => h("button", { type: "button",
      class: `small-button ${extra}`, "aria-label": aria, onclick: run }, label);
    return h("li", { class: `admin-row${user.deactivated ? " deactivated" : ""}`,
      dataset: { user: user.name } },
    h("div", { class: "admin-row-main" },
      h("strong", { class: "admin-name" }, user.name),
      ...badges.flatMap((badge) => (badge ? [" ", badge] : []))),
    h("div", { class: "admin-actions" },
      self ? null : user.deactivated
        ? button("Reactivate", `Reactivate ${user.name}`, () => this.setActive(user, true))
        : button("Deactivate", `Deactivate ${user.name}`, () => this.setActive(user, false),
          "danger-text"),
      button("Reset password", `Reset the password of ${user.name}`,
        () => this.resetPassword(user)),
      self && user.admin ? null : user.admin
        ? button("Revoke admin", `Revoke ${user.name} as administrator`,
          () => this.setAdmin(user, false))
        : button("Make admin", `Make ${user.name} an administrator`,
          () => this.setAdmin(user, true))));
  }

  /** A user's answer (`{user}`) of an action: the row shows it. */
  userChanged(body) {
    const page = parseUsers({ users: [body && body.user] });
    if (page.items.length) listUpdate(this.users, "name", page.items[0]);
    this.showUsers();
    this.loadAudit();
  }

  setActive(user, active) {
    const path = `/api/admin/users/${encodeURIComponent(user.name)}/${
      active ? "reactivate" : "deactivate"}`;
    this.on.dialog({
      title: active ? `Reactivate ${user.name}?` : `Deactivate ${user.name}?`,
      ok: active ? "Reactivate" : "Deactivate",
      danger: !active,
      fields: active
        ? [h("p", { class: "confirm-text" }, `${user.name} will be able to log in again.`)]
        : [h("p", { class: "confirm-text" }, `${user.name} is logged out everywhere at once and `
          + "cannot log in; their memberships stay, and their messages unless you choose "
          + "below."), purgeChoices("deactivate-purge")],
      submit: async () => {
        if (active) {
          this.userChanged(await this.on.call("POST", path));
          return;
        }
        const chosen = $("dialog-body").querySelector("input[name=deactivate-purge]:checked");
        const body = deactivationBody(chosen ? chosen.value : "none");
        const answer = await this.on.call("POST", path, body);
        this.userChanged(answer);
        if (body) toast(removedText(user.name, "is deactivated", answer));
      },
    });
  }

  resetPassword(user) {
    const path = `/api/admin/users/${encodeURIComponent(user.name)}/password`;
    this.on.dialog({
      title: `Reset the password of ${user.name}?`,
      ok: "Reset",
      fields: [h("p", { class: "confirm-text" }, `A new password is made for ${user.name}, and `
        + "their sessions end. It is shown once: pass it on to them.")],
      submit: async () => {
        const body = await this.on.call("POST", path, {});
        if (typeof body.password !== "string") throw new Error("The server gave no password.");
        this.userChanged(body);
        // Shown once the confirmation has closed, in a dialog of its own.
        $("dialog").addEventListener("close", () => this.showPassword(user, body.password),
          { once: true });
      },
    });
  }

  showPassword(user, password) {
    const box = h("input", { id: "new-password", readonly: true, value: password,
      "aria-describedby": "new-password-hint", spellcheck: "false", autocomplete: "off" });
    const copied = h("span", { class: "hint", role: "status" });
    const copy = async () => {
      box.select();
      try {
        await navigator.clipboard.writeText(password);
        copied.textContent = "Copied.";
      } catch {
        copied.textContent = "Select it and copy it with the keyboard.";
      }
    };
    this.on.dialog({
      title: `New password of ${user.name}`,
      ok: "Done",
      fields: [
        h("label", { for: "new-password" }, "Password"),
        h("div", { class: "password-row" }, box,
          h("button", { type: "button", class: "small-button", onclick: copy }, "Copy")),
        h("small", { id: "new-password-hint", class: "hint" },
          "It is not shown again once this closes."),
        copied,
      ],
      submit: async () => {},
      single: true,
    });
  }

  setAdmin(user, admin) {
    const path = `/api/admin/users/${encodeURIComponent(user.name)}/admin`;
    this.on.dialog({
      title: admin ? `Make ${user.name} an administrator?` : `Revoke ${user.name}?`,
      ok: admin ? "Make admin" : "Revoke",
      danger: !admin,
      fields: [h("p", { class: "confirm-text" }, admin
        ? `${user.name} will moderate every room and administer the server.`
        : `${user.name} will no longer administer the server.`)],
      submit: async () => this.userChanged(await this.on.call("POST", path, { admin })),
    });
  }

  // -- rooms -----------------------------------------------------------------------------------

  loadRooms(query) {
    this.fetchPage(this.rooms, "/api/admin/rooms", listBegin(this.rooms, query), parseRooms,
      () => this.showRooms());
  }

  moreRooms() {
    const params = listNext(this.rooms, "room");
    if (params) this.fetchPage(this.rooms, "/api/admin/rooms", params, parseRooms,
      () => this.showRooms());
  }

  showRooms() {
    const list = this.rooms;
    $("admin-rooms-list").replaceChildren(...list.items.map((room) => this.roomRow(room)));
    status("admin-rooms", list, list.query ? `No room matches “${list.query}”.` : "No rooms.",
      "rooms");
  }

  roomRow(room) {
    const members = this.shownMembers.get(room.room);
    const listId = `admin-members-${room.room}`;
    return h("li", { class: `admin-row${room.archived ? " archived" : ""}`,
      dataset: { room: room.room } },
    h("div", { class: "admin-row-main" },
      h("strong", { class: "admin-name" }, `${room.private ? "🔒 " : "# "}${room.room}`),
      room.archived ? h("span", { class: "tag" }, "archived") : null,
      h("span", { class: "hint" }, `${room.members} member${room.members === 1 ? "" : "s"}`),
      h("span", { class: "hint admin-owner" }, room.owner ? `owner ${room.owner}` : "no owner",
        room.ownerDeactivated ? [" ", h("span", { class: "tag off-tag" }, "deactivated")]
          : null)),
    h("div", { class: "admin-actions" },
      h("button", { type: "button", class: "small-button", "aria-expanded": String(Boolean(members)),
        "aria-controls": listId, "aria-label": `Members of #${room.room}`,
        onclick: () => this.toggleMembers(room) }, "Members"),
      h("button", { type: "button", class: "small-button",
        "aria-label": `${room.archived ? "Unarchive" : "Archive"} #${room.room}`,
        onclick: () => this.archive(room, !room.archived) },
      room.archived ? "Unarchive" : "Archive"),
      h("button", { type: "button", class: "small-button danger-text",
        "aria-label": `Delete #${room.room}`, onclick: () => this.deleteRoom(room) }, "Delete")),
    members ? h("ul", { class: "admin-members", id: listId,
      "aria-label": `Members of #${room.room}` },
    typeof members === "string" ? h("li", { class: "form-error" }, members)
      : members.map((m) => h("li", {}, h("span", {}, m.user),
        h("span", { class: "hint" }, ` ${m.role || "member"}, ${m.status}`),
        m.deactivated ? h("span", { class: "tag off-tag" }, "deactivated") : null))) : null);
  }

  async toggleMembers(room) {
    if (this.shownMembers.has(room.room)) {
      this.shownMembers.delete(room.room);
      this.showRooms();
      return;
    }
    try {
      const reply = await this.on.ask("who", { room: room.room });
      this.shownMembers.set(room.room, Array.isArray(reply.members)
        ? reply.members.filter((m) => m && typeof m.user === "string") : []);
    } catch (error) {
      this.shownMembers.set(room.room, `Cannot list the members: ${error.message}`);
    }
    this.showRooms();
    const button = $("admin-rooms-list").querySelector(
      `li[data-room="${CSS.escape(room.room)}"] button[aria-controls]`);
    if (button) button.focus();
  }

  archive(room, archived) {
    this.on.dialog({
      title: archived ? `Archive #${room.room}?` : `Unarchive #${room.room}?`,
      ok: archived ? "Archive" : "Unarchive",
      fields: [h("p", { class: "confirm-text" }, archived
        ? `#${room.room} becomes read-only: nobody can write, react or join until it is `
          + "unarchived. Its messages stay."
        : `The members of #${room.room} can write in it again.`)],
      submit: async () => {
        await this.on.call("PUT", `/api/rooms/${encodeURIComponent(room.room)}/archived`,
          { archived });
        listUpdate(this.rooms, "room", { room: room.room, archived });
        this.showRooms();
        this.loadAudit();
      },
    });
  }

  deleteRoom(room) {
    const hint = h("small", { id: "delete-room-hint", class: "hint" },
      `Type ${room.room} to confirm.`);
    this.on.dialog({
      title: `Delete #${room.room}?`,
      ok: "Delete",
      danger: true,
      fields: [
        h("p", { class: "confirm-text" }, `#${room.room}, its ${room.members} member${
          room.members === 1 ? "" : "s"}' membership, its messages and its files are gone for `
          + "good. This cannot be undone."),
        h("label", { for: "delete-room-name" }, "Room name"),
        h("input", { id: "delete-room-name", autocomplete: "off", autocapitalize: "off",
          spellcheck: "false", "aria-describedby": "delete-room-hint" }),
        hint,
      ],
      submit: async () => {
        if ($("delete-room-name").value.trim().toLowerCase() !== room.room) {
          throw new Error(`Type the room's name, ${room.room}, to delete it.`);
        }
        await this.on.call("DELETE", `/api/admin/rooms/${encodeURIComponent(room.room)}`);
        listRemove(this.rooms, "room", room.room);
        this.shownMembers.delete(room.room);
        this.showRooms();
        this.loadAudit();
      },
    });
  }

  // -- audit log -------------------------------------------------------------------------------

  loadAudit() {
    this.fetchPage(this.audit, "/api/admin/audit", listBegin(this.audit, ""), parseAudit,
      () => this.showAudit());
  }

  moreAudit() {
    const params = listNext(this.audit, "id", "before");
    if (params) this.fetchPage(this.audit, "/api/admin/audit", params, parseAudit,
      () => this.showAudit());
  }

  showAudit() {
    $("admin-audit-list").replaceChildren(...this.audit.items.map(auditRow));
    status("admin-audit", this.audit, "Nothing was done yet.", "entries");
  }
}

/** One entry of an audit log (here, and in a room's moderation dialog). */
export function auditRow(entry) {
  return h("li", { class: "audit-row", dataset: { action: entry.action } },
    entry.ts !== null ? h("time", { class: "hint", title: formatFull(entry.ts) },
      formatFull(entry.ts)) : null,
    h("span", { class: "audit-text" }, auditText(entry)),
    entry.reason ? h("span", { class: "audit-reason" }, `“${entry.reason}”`) : null);
}

/** The status line and "More" button of the list shown in `section`. */
function status(section, list, none, what) {
  const line = $(`${section}-status`);
  line.classList.toggle("failed", Boolean(list.error));
  line.textContent = list.error ? `Cannot load the ${what}: ${list.error}`
    : list.loading && !list.items.length ? "Loading…"
      : list.loaded && !list.items.length ? none : "";
  const more = $(`${section}-more`);
  more.hidden = !list.more && !(list.loading && list.items.length);
  more.disabled = list.loading;
  more.textContent = list.loading && list.items.length ? "Loading…"
    : `More ${what}`;
}

/**
 * The "Also delete their messages from the last: none / hour / 24 hours / 7 days" choice of
 * the ban dialog and the admin's deactivation (radio buttons named `name`; none checked first).
 */
export function purgeChoices(name) {
  return h("fieldset", { class: "ban-durations purge-windows" },
    h("legend", {}, "Also delete their messages from"),
    ...PURGE_WINDOWS.map((window, index) => h("label", { class: "check" },
      h("input", { type: "radio", name, value: window.key, checked: index === 0 }),
      ` ${window.label}`)));
}

// Who is here: the open room's members, online first, and the count on the header's button.
// Each member shows their role (owner, moderator) and a mark when an administrator deactivated
// the account. Those who moderate the room (admin.js `controlsFor`) get, per member they may
// act on, a button to remove them and a menu of the rest (roles, hand-over, ban).

import { controlsFor } from "./admin.js";
import { $, drawKeyed, h } from "./dom.js";
import { shownUser, statusWords } from "./profiles.js";
import { currentRoom, memberList } from "./select.js";
import { avatar } from "./view-avatar.js";

const ROLE_LABELS = { owner: "owner", moderator: "moderator" };

export class MembersView {
  constructor() {
    this.on = {};
  }

  /** Handlers: openDm(user), kick(user) (from the open room), moderate(member, opener),
   * moreMembers(). */
  bind(handlers) { this.on = handlers; }

  render(state, now) {
    const { known, members, online, total, more } = memberList(state);
    const room = currentRoom(state);
    // Online among those listed, of the room's members in all: a large room is listed a
    // page at a time (`who`), so the online count is of the pages listed.
    $("member-count").textContent = known ? `${online}/${total}` : "";
    $("toggle-members").setAttribute("aria-label",
      `Who is here: ${online} of ${total} online`);
    // Drawn keyed by user: a presence or `who` arriving while a keyboard user is on a
    // member's button leaves that button (and an open menu's opener) in place.
    const rows = members.map((member) => {
      const can = room ? controlsFor(room, { me: state.me, admin: state.admin }, member)
        : { menu: false, kick: false };
      // Named by their display name (the user name muted beside it), with their status.
      const profile = shownUser(state.profiles, member.user, now);
      const shown = { ...member, room: room ? room.name : null, kick: can.kick, menu: can.menu,
        profile, words: profile.status ? statusWords(profile.status, now) : "" };
      return { key: `u:${member.user.toLowerCase()}`, sig: JSON.stringify(shown),
        build: () => this.row(member, shown) };
    });
    if (more) {
      const label = `Show more members (${members.length} of ${total} listed)`;
      rows.push({ key: "more", sig: label, build: () => h("li", { class: "member more" },
        h("button", { type: "button", class: "link", dataset: { focus: "more" },
          onclick: () => this.on.moreMembers() }, label)) });
    }
    drawKeyed($("member-list"), rows);
  }

  /** A member's row: `shown` is what it shows (the member, the room, the controls). */
  row(member, shown) {
    const { user, status, me, role, deactivated } = member;
    return h("li",
      { class: `member ${status}${deactivated ? " deactivated" : ""}`,
        dataset: { user, status, role: role || "" } },
      avatar(user, shown.profile.avatar, "small", h("span", { class: `dot ${status}` })),
      h("span", { class: "member-text" },
        h("span", { class: "name" }, shown.profile.name,
          shown.profile.login ? h("span", { class: "login" }, ` ${user}`) : null,
          me ? h("span", { class: "you" }, " (you)") : null),
        // The emoji and the words shown; a screen reader hears the words and the end.
        shown.profile.status ? h("span", { class: "member-status", title: shown.words },
          h("span", { "aria-hidden": "true" }, [shown.profile.status.emoji,
            shown.profile.status.text].filter(Boolean).join(" ")),
          h("span", { class: "visually-hidden" }, `Status: ${shown.words}`)) : null,
        ROLE_LABELS[role] || deactivated ? h("span", { class: "member-tags" },
          ROLE_LABELS[role] ? h("span", { class: `role-tag ${role}` }, ROLE_LABELS[role]) : null,
          deactivated ? h("span", { class: "role-tag off",
            title: "Deactivated by an administrator" }, "deactivated") : null) : null),
      h("span", { class: "visually-hidden" }, `, ${status}`),
      me ? null : h("button", {
        type: "button", class: "icon small", "aria-label": `Message ${user}`,
        title: `Message ${user}`, dataset: { focus: "dm" }, onclick: () => this.on.openDm(user),
      }, "✉"),
      shown.kick ? h("button", {
        type: "button", class: "icon small kick",
        "aria-label": `Remove ${user} from #${shown.room}`,
        title: `Remove ${user} from the room`, dataset: { focus: "kick" },
        onclick: () => this.on.kick(user),
      }, "×") : null,
      shown.menu ? h("button", {
        type: "button", class: "icon small moderate", "aria-label": `Moderate ${user}`,
        title: `Moderate ${user}`, "aria-haspopup": "menu", "aria-expanded": "false",
        dataset: { focus: "moderate" },
        onclick: (event) => this.on.moderate(member, event.currentTarget),
      }, "⋯") : null);
  }
}

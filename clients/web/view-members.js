// Who is here: the open room's members, online first, and the count on the header's button.
// The room's owner gets a button to remove each other member.

import { $, colourClass, h } from "./dom.js";
import { currentRoom, initial, memberList } from "./select.js";
import { sameUser } from "./store.js";

export class MembersView {
  constructor() {
    this.on = {};
  }

  /** Handlers: openDm(user), kick(user) (from the open room), moreMembers(). */
  bind(handlers) { this.on = handlers; }

  render(state) {
    const { known, members, online, total, more } = memberList(state);
    const room = currentRoom(state);
    const owner = Boolean(room) && room.kind !== "dm" && sameUser(room.owner, state.me);
    // Online among those listed, of the room's members in all: a large room is listed a
    // page at a time (`who`), so the online count is of the pages listed.
    $("member-count").textContent = known ? `${online}/${total}` : "";
    $("toggle-members").setAttribute("aria-label",
      `Who is here: ${online} of ${total} online`);
    const rest = more ? [h("li", { class: "member more" }, h("button", {
      type: "button", class: "link", onclick: () => this.on.moreMembers(),
    }, `Show more members (${members.length} of ${total} listed)`))] : [];
    $("member-list").replaceChildren(...members.map(({ user, status, me }) => h("li",
      { class: `member ${status}`, dataset: { user, status } },
      h("span", { class: `avatar small ${colourClass(user)}`, "aria-hidden": "true" },
        initial(user),
        h("span", { class: `dot ${status}` })),
      h("span", { class: "name" }, user, me ? h("span", { class: "you" }, " (you)") : null),
      h("span", { class: "visually-hidden" }, `, ${status}`),
      me ? null : h("button", {
        type: "button", class: "icon small", "aria-label": `Message ${user}`,
        title: `Message ${user}`, onclick: () => this.on.openDm(user),
      }, "✉"),
      owner && !me ? h("button", {
        type: "button", class: "icon small kick", "aria-label": `Remove ${user} from #${room.name}`,
        title: `Remove ${user} from the room`, onclick: () => this.on.kick(user),
      }, "×") : null)), ...rest);
  }
}

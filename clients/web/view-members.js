// Who is here: the open room's members, online first, and the count on the header's button.

import { $, colourClass, h } from "./dom.js";
import { initial, memberList } from "./select.js";

export class MembersView {
  constructor() {
    this.on = {};
  }

  /** Handlers: openDm(user). */
  bind(handlers) { this.on = handlers; }

  render(state) {
    const { known, members, online } = memberList(state);
    $("member-count").textContent = known ? `${online}/${members.length}` : "";
    $("toggle-members").setAttribute("aria-label",
      `Who is here: ${online} of ${members.length} online`);
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
      }, "✉"))));
  }
}

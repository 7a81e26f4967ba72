// The sidebar (who I am, rooms, conversations, contacts) and the unread count of the title
// and the menu button. Renders from the state; reports clicks to the handlers it is bound to.

import { $, colourClass, h } from "./dom.js";
import { badge, initial, sortedRooms, statusOf, unreadTotal } from "./select.js";

export class SidebarView {
  constructor() {
    this.on = {};
    const buttons = {
      "create-room": "createRoom", "browse-rooms": "browseRooms", "new-dm": "newDm",
      "add-contact": "addContact", logout: "logout",
    };
    for (const [id, name] of Object.entries(buttons)) {
      $(id).addEventListener("click", () => this.on[name]());
    }
  }

  /**
   * Handlers: selectRoom(name), openDm(user), removeContact(user), and createRoom(),
   * browseRooms(), newDm(), addContact(), logout() for the buttons.
   */
  bind(handlers) { this.on = handlers; }

  render(state) {
    $("me-name").textContent = state.me;
    $("me-avatar").textContent = initial(state.me);
    $("me-avatar").className = `avatar ${colourClass(state.me)}`;
    this.renderList($("room-list"), sortedRooms(state, "room"), state, "No rooms yet");
    this.renderList($("dm-list"), sortedRooms(state, "dm"), state, "No conversations yet");
    this.renderContacts(state);
    const total = unreadTotal(state);
    document.title = total ? `(${total > 999 ? "999+" : total}) chatd` : "chatd";
    const menu = $("menu-badge");
    menu.hidden = total === 0;
    menu.textContent = total > 99 ? "99+" : String(total);
  }

  renderList(list, rooms, state, empty) {
    list.replaceChildren(...(rooms.length ? rooms.map((room) => this.roomItem(room, state))
      : [h("li", { class: "side-empty" }, empty)]));
  }

  roomItem(room, state) {
    const current = room.name === state.current;
    const count = badge(state, room);
    const status = statusOf(state, room.label);
    const label = room.kind === "dm"
      ? [h("span", { class: `dot ${status}`, "aria-hidden": "true" }),
        h("span", { class: "name" }, room.label)]
      : [h("span", { class: "sigil", "aria-hidden": "true" }, room.private ? "🔒" : "#"),
        h("span", { class: "name" }, room.name)];
    const description = room.kind === "dm"
      ? `Conversation with ${room.label}, ${status}`
      : `${room.private ? "Private room" : "Room"} ${room.name}`;
    const mentioned = count && room.mentions > 0 ? room.mentions : 0;
    return h("li", { dataset: { room: room.name } },
      h("button", {
        type: "button",
        class: `side-item${current ? " current" : ""}${count ? " unread" : ""}`,
        "aria-current": current ? "page" : null,
        "aria-label": description + (count ? `, ${room.unread} unread` : "")
          + (mentioned ? `, ${mentioned} mentioning you` : ""),
        onclick: () => this.on.selectRoom(room.name),
      }, label,
      mentioned ? h("span", { class: "badge mention", title: `${mentioned} mentioning you`,
        "aria-hidden": "true" }, "@") : null,
      count ? h("span", { class: "badge", "aria-label": `${count} unread` }, count)
        : null));
  }

  renderContacts(state) {
    const contacts = [...state.contacts]
      .sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase()));
    $("contact-list").replaceChildren(...(contacts.length
      ? contacts.map((user) => {
        const status = statusOf(state, user);
        return h("li", { class: "contact", dataset: { user, status } },
          h("button", {
            type: "button", class: "side-item",
            "aria-label": `${user}, ${status}: open conversation`,
            onclick: () => this.on.openDm(user),
          },
          h("span", { class: `dot ${status}`, "aria-hidden": "true" }),
          h("span", { class: "name" }, user),
          h("span", { class: "status-text" }, status)),
          h("button", {
            type: "button", class: "icon small remove",
            "aria-label": `Remove ${user} from contacts`, title: "Remove contact",
            onclick: () => this.on.removeContact(user),
          }, "×"));
      })
      : [h("li", { class: "side-empty" }, "Add people to see when they are online")]));
  }
}

// The sidebar (who I am, rooms, conversations, contacts) and the unread count of the title
// and the menu button (alerts.js). Renders from the state; reports clicks to the handlers it is
// bound to. A muted room shows its bell struck out and its count dimmed; a room's menu (its
// notification level) opens on a right click or the context-menu key. A conversation shows the
// other person's avatar (view-avatar.js: their picture, or their initial) with their presence
// dot on it; a group conversation, two of the others' avatars stacked and the others' display
// names, sorted and cut ("Bob, Carol +3": conversations.js). A conversation the person closed
// with nothing new since is not listed unless open (hiding.js, select.js sortedRooms). The
// person's favourites, rooms and conversations together, have their own section at the top,
// shown when there is one, and are not listed again in their usual section (favourites.js).
// The person's own sections (sections.js) come next, in their order, each under a heading
// whose chevron collapses it (aria-expanded; a collapsed one still lists its rooms with
// something unread and the open one) and whose "⋯" (or a right click on it) opens its menu:
// Mark all as read (when something there is unread), Rename…, Move up, Move down, Delete…;
// "New section" under them makes one. A room in one of
// them is not listed again in Rooms or Direct messages. A room may also be dragged onto a
// section, or onto Rooms or Direct messages to leave its section (the menus' "Move to…" does
// the same from the keyboard); a favourite too, from Favourites, where it stays (a toast
// says so: state.js moveToSection), to show in its section once unstarred.

import { levelOf, mentionCount, titleCount, titleText } from "./alerts.js";
import { $, colourClass, drawKeyed, h, svgIcon } from "./dom.js";
import { avatarOf, shownUser, statusWords } from "./profiles.js";
import { avatar, setPicture } from "./view-avatar.js";
import { badge, initial, sectionLists, sortedRooms, statusOf } from "./select.js";
import { bellIcon } from "./view-alerts.js";
import {
  andList, conversationLabel, isConversation, othersOf, othersShown,
} from "./conversations.js";
import { isClosed } from "./hiding.js";
import { canShift, emptyText } from "./sections.js";
import { sectionUnread } from "./readmarks.js";
import { closePopup, isOpenFrom, openMenu } from "./popup.js";

const DRAGGED = "application/x-chatd-room"; // a room's name, dragged from the sidebar
const CHEVRON = "M8 10l4 4 4-4"; // pointing down (expanded); turned by the style when collapsed
const MORE = "M6 12h.01M12 12h.01M18 12h.01";

export class SidebarView {
  constructor() {
    this.on = {};
    this.state = null;
    const buttons = {
      "create-room": "createRoom", "browse-rooms": "browseRooms", "new-dm": "newDm",
      "add-contact": "addContact", logout: "logout", "new-section": "newSection",
    };
    for (const [id, name] of Object.entries(buttons)) {
      $(id).addEventListener("click", () => this.on[name]());
    }
    // Rooms and Direct messages take a room dragged out of a section back.
    for (const list of ["room-list", "dm-list"]) this.dropOnto($(list).closest("section"), null);
    document.addEventListener("dragend", () => {
      for (const target of document.querySelectorAll("#sidebar .drop-target")) {
        target.classList.remove("drop-target");
      }
    });
  }

  /** `target` takes a room dragged onto it into section `id` (null: its usual list). */
  dropOnto(target, id) {
    const carries = (event) => [...(event.dataTransfer?.types || [])].includes(DRAGGED);
    target.addEventListener("dragover", (event) => {
      if (!carries(event)) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "move";
      target.classList.add("drop-target");
    });
    target.addEventListener("dragleave", (event) => {
      if (!target.contains(event.relatedTarget)) target.classList.remove("drop-target");
    });
    target.addEventListener("drop", (event) => {
      if (!carries(event)) return;
      event.preventDefault();
      target.classList.remove("drop-target");
      this.on.dropRoom(event.dataTransfer.getData(DRAGGED), id);
    });
  }

  /**
   * Handlers: selectRoom(name), openDm(user), removeContact(user), roomMenu(name, opener,
   * point) for a room's menu, and createRoom(), browseRooms(), newDm(), addContact(), logout()
   * for the buttons; for the person's sections: newSection(), collapseSection(id, collapsed),
   * readSection(id) (its "Mark all as read"), renameSection(id), shiftSection(id, by) (-1 up, +1 down), deleteSection(id),
   * dropRoom(room, id) (a room dragged onto section `id`, or null: onto its usual list).
   */
  bind(handlers) { this.on = handlers; }

  render(state, now) {
    this.state = state; // (for the menus it opens)
    // (The name itself is view-profile.js's: a button that opens the person's menu.)
    const mine = $("me-avatar");
    if (mine.dataset.user !== state.me) { // (each time would reload the picture)
      mine.dataset.user = state.me;
      mine.textContent = initial(state.me);
      mine.className = `avatar ${colourClass(state.me)}`;
    }
    setPicture(mine, avatarOf(state.profiles, state.me));
    // A room starred or unstarred moves to another list: the focus on it follows it there.
    const held = document.activeElement?.closest?.("#sidebar li[data-room]");
    const focused = held ? { room: held.dataset.room, list: held.parentElement } : null;
    const favourites = sortedRooms(state, "favourite");
    $("favourites").hidden = !favourites.length;
    if (favourites.length) this.renderList($("favourite-list"), favourites, state, "", now);
    else $("favourite-list").replaceChildren();
    const sections = sectionLists(state);
    this.renderSections(sections, state, now);
    $("new-section").hidden = !state.sections.supported;
    // An empty list whose rooms are all starred or in sections says so, not that there are none.
    const elsewhere = [...favourites, ...sections.flatMap(({ rooms }) => rooms)];
    const starred = (kind) => elsewhere.some((room) => (kind === "dm" ? isConversation(room)
      : room.kind === kind));
    this.renderList($("room-list"), sortedRooms(state, "room"), state,
      starred("room") ? "No other rooms" : "No rooms yet", now);
    // Closed conversations (hiding.js) are not listed: the list is empty, not new.
    const closed = [...state.rooms.values()].some(isClosed);
    this.renderList($("dm-list"), sortedRooms(state, "dm"), state,
      starred("dm") ? "No other conversations" : closed ? "No open conversations"
        : "No conversations yet", now);
    this.renderContacts(state, now);
    if (focused) {
      const moved = [...document.querySelectorAll("#sidebar li[data-room]")]
        .find((li) => li.dataset.room === focused.room && li.parentElement !== focused.list);
      moved?.querySelector("button")?.focus({ preventScroll: true });
    }
    const total = titleCount(state).count;
    const title = titleText(state);
    if (document.title !== title) document.title = title;
    const menu = $("menu-badge");
    menu.hidden = total === 0;
    menu.textContent = total > 99 ? "99+" : String(total);
  }

  renderList(list, rooms, state, empty, now) {
    // Drawn keyed by room on every change (a message, a presence): a room's button that did
    // not change stays, with the focus; one drawn anew gets it back (dom.js drawKeyed).
    // (`empty` null: an empty list says nothing, as a collapsed section with nothing unread.)
    drawKeyed(list, rooms.length ? rooms.map((room) => {
      const shown = this.roomShown(room, state, now);
      return { key: `r:${room.name}`, sig: JSON.stringify(shown),
        build: () => this.roomItem(room, shown) };
    }) : empty === null ? []
      : [{ key: "empty", sig: empty, build: () => h("li", { class: "side-empty" }, empty) }]);
  }

  /**
   * The person's sections (select.js sectionLists), keyed by id: a heading drawn again only
   * when its name, its chevron or its menu's moves change (the focus stays on its control),
   * and its list as the others are.
   */
  renderSections(sections, state, now) {
    const count = sections.length;
    drawKeyed($("sections"), sections.map(({ section }, index) => ({
      key: `s:${section.id}`,
      sig: JSON.stringify([section.name, section.collapsed, index === 0, index === count - 1]),
      build: () => this.sectionItem(section),
    })));
    const drawn = [...$("sections").children];
    sections.forEach(({ section, listed, favourites }, index) => {
      this.renderList(drawn[index].querySelector(".side-list"), listed, state,
        section.collapsed ? null : emptyText(favourites), now);
    });
  }

  /** A section of the person's: its heading (chevron, name, menu) and its list. */
  sectionItem(section) {
    const id = `section-${section.id}`;
    const expanded = !section.collapsed;
    const menu = h("button", {
      type: "button", class: "icon small section-menu", "aria-haspopup": "menu",
      "aria-expanded": "false", "aria-label": `Options for the section ${section.name}`,
      title: "Section options", dataset: { focus: "menu" },
      onclick: (event) => this.sectionMenu(section.id, event.currentTarget),
    }, svgIcon(MORE));
    const element = h("section", {
      class: `side-section custom-section${expanded ? "" : " collapsed"}`,
      dataset: { section: String(section.id) }, "aria-labelledby": `${id}-name`,
      oncontextmenu: (event) => {
        if (!event.target.closest(".side-head")) return; // (a room's own menu, below)
        event.preventDefault();
        this.sectionMenu(section.id, menu, event.clientX || event.clientY
          ? { x: event.clientX, y: event.clientY } : null);
      },
    },
    h("div", { class: "side-head" },
      h("h2", {}, h("button", {
        type: "button", class: "section-toggle", "aria-expanded": String(expanded),
        "aria-controls": `${id}-list`, dataset: { focus: "toggle" },
        title: expanded ? "Collapse" : "Expand",
        onclick: () => this.on.collapseSection(section.id, expanded),
      }, h("span", { class: "chevron" }, svgIcon(CHEVRON)),
      h("span", { class: "section-name", id: `${id}-name` }, section.name))),
      menu),
    h("ul", { id: `${id}-list`, class: "side-list" }));
    this.dropOnto(element, section.id);
    return element;
  }

  /** A section's menu, under its "⋯" (or at `point`, for a right click on its heading). */
  sectionMenu(id, opener, point = null) {
    const sections = this.state && this.state.sections;
    const section = sections && sections.shown.find((one) => one.id === id);
    if (!section) return;
    if (!point && isOpenFrom(opener)) {
      closePopup(true);
      return;
    }
    const items = [];
    // (Only when something there is unread: readmarks.js sectionUnread.)
    if (sectionUnread(this.state, id).length) {
      items.push({ label: "Mark all as read", run: () => this.on.readSection(id) });
    }
    items.push({ label: "Rename…", run: () => this.on.renameSection(id) });
    if (canShift(sections, id, -1)) {
      items.push({ label: "Move up", run: () => this.on.shiftSection(id, -1) });
    }
    if (canShift(sections, id, 1)) {
      items.push({ label: "Move down", run: () => this.on.shiftSection(id, 1) });
    }
    items.push({ label: "Delete…", run: () => this.on.deleteSection(id) });
    openMenu(opener, {
      label: `Section ${section.name}`, point, items,
      // Drawn anew meanwhile (moved, renamed): its "⋯" of the moment.
      back: () => (opener.isConnected ? opener : [...document.querySelectorAll(
        "#sections [data-section]")].find((one) => one.dataset.section === String(id))
        ?.querySelector(".section-menu") || $("new-section")),
    });
  }

  /** What a room's item shows. */
  roomShown(room, state, now) {
    const count = badge(state, room);
    // A conversation is named by the peer's display name, with their status (profiles.js).
    const peer = room.kind === "dm" ? shownUser(state.profiles, room.label, now) : null;
    // A group: its others by display name, and the pictures of the first two of them.
    const group = room.kind === "group" ? {
      label: conversationLabel(state.profiles, room, state.me),
      all: andList(othersShown(state.profiles, room, state.me)),
      faces: othersOf(room, state.me).sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase()))
        .slice(0, 2).map((user) => [user, avatarOf(state.profiles, user)]),
    } : null;
    return {
      group,
      peer, peerStatus: peer && peer.status ? statusWords(peer.status, now) : "",
      // The peer's picture (their initial without one), with their presence dot on it.
      picture: room.kind === "dm" ? avatarOf(state.profiles, room.label) : null,
      name: room.name, kind: room.kind, label: room.label, private: room.private,
      current: room.name === state.current, count,
      status: room.kind === "dm" ? statusOf(state, room.label) : null,
      // (A notification keyword's message counts as a mention: alerts.js mentionCount.)
      mentioned: count ? mentionCount(state, room) : 0, unread: room.unread,
      muted: !room.draft && levelOf(room) === "none", draft: room.draft,
    };
  }

  roomItem(room, shown) {
    const { current, count, status, mentioned, muted } = shown;
    const { peer, peerStatus } = shown;
    const { group } = shown;
    const label = group
      ? [h("span", { class: "side-avatars", "aria-hidden": "true" },
        ...group.faces.map(([user, url]) => avatar(user, url, "small side-avatar"))),
      h("span", { class: "name", title: group.all }, group.label)]
      : room.kind === "dm" ? [avatar(room.label, shown.picture, "small side-avatar",
        h("span", { class: `dot ${status}`, "aria-hidden": "true" })),
        h("span", { class: "name", title: peer.login ? `${peer.name} (${peer.login})` : null },
          peer.name),
        statusMark(peer.status, peerStatus)]
      : [h("span", { class: "sigil", "aria-hidden": "true" }, room.private ? "🔒" : "#"),
        h("span", { class: "name" }, room.name)];
    const description = group ? `Conversation with ${group.all}`
      : room.kind === "dm" ? `Conversation with ${peer.name}, ${status}${peerStatus ? `, ${peerStatus}` : ""}`
      : `${room.private ? "Private room" : "Room"} ${room.name}`;
    const item = h("button", {
      type: "button",
      class: `side-item${current ? " current" : ""}${count ? " unread" : ""}${
        muted ? " muted" : ""}`,
      "aria-current": current ? "page" : null,
      "aria-label": description + (muted ? ", muted" : "")
        + (count ? `, ${shown.unread} unread` : "")
        + (mentioned ? `, ${mentioned} mentioning you` : ""),
      onclick: () => this.on.selectRoom(room.name),
      oncontextmenu: (event) => {
        if (room.draft) return;
        event.preventDefault();
        const point = event.clientX || event.clientY ? { x: event.clientX, y: event.clientY }
          : null; // from the keyboard: under the item
        this.on.roomMenu(room.name, item, point);
      },
    }, label,
    muted ? h("span", { class: "muted-icon", title: "Muted" }, bellIcon("none")) : null,
    mentioned ? h("span", { class: "badge mention", title: `${mentioned} mentioning you`,
      "aria-hidden": "true" }, "@") : null,
    count ? h("span", { class: `badge${muted ? " muted" : ""}`, "aria-label": `${count} unread` },
      count) : null);
    // Dragged onto a section (or back to its usual list); a favourite too, as its menu's
    // "Move to…" moves it: it stays listed in Favourites, and a toast says where it is.
    const draggable = !room.draft;
    return h("li", { dataset: { room: room.name }, draggable: draggable ? "true" : null,
      ondragstart: draggable ? (event) => {
        event.dataTransfer.setData(DRAGGED, room.name);
        event.dataTransfer.effectAllowed = "move";
      } : null }, item);
  }

  renderContacts(state, now) {
    const contacts = [...state.contacts]
      .sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase()));
    // Drawn keyed by contact: a presence leaves the other contacts' buttons (and the focus)
    // alone, and the focus on the one whose status changed goes to its button drawn anew.
    drawKeyed($("contact-list"), contacts.length
      ? contacts.map((user) => {
        const status = statusOf(state, user);
        const shown = shownUser(state.profiles, user, now);
        const words = shown.status ? statusWords(shown.status, now) : "";
        return { key: `c:${user.toLowerCase()}`, sig: JSON.stringify([user, status, shown, words]),
          build: () => this.contactItem(user, status, shown, words) };
      })
      : [{ key: "empty", sig: "", build: () => h("li", { class: "side-empty" },
        "Add people to see when they are online") }]);
  }

  contactItem(user, status, shown, words) {
    return h("li", { class: "contact", dataset: { user, status } },
      h("button", {
        type: "button", class: "side-item", dataset: { focus: "open" },
        "aria-label": `${shown.name}${shown.login ? ` (${user})` : ""}, ${status}${
          words ? `, ${words}` : ""}: open conversation`,
        title: shown.login ? `${shown.name} (${user})` : null,
        onclick: () => this.on.openDm(user),
      },
      h("span", { class: `dot ${status}`, "aria-hidden": "true" }),
      h("span", { class: "name" }, shown.name),
      statusMark(shown.status, words),
      h("span", { class: "status-text" }, status)),
      h("button", {
        type: "button", class: "icon small remove", dataset: { focus: "remove" },
        "aria-label": `Remove ${user} from contacts`, title: "Remove contact",
        onclick: () => this.on.removeContact(user),
      }, "×"));
  }
}

/** A status's emoji after a name (its words in the tooltip; the item's label says them). */
export function statusMark(status, words) {
  if (!status) return null;
  return h("span", { class: "status-emoji", title: words, "aria-hidden": "true" },
    status.emoji || "💬");
}

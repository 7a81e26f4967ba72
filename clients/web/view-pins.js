// Pinned messages: the room header's pin button (with the room's count) and the "Pinned" panel
// it opens, as Slack's and Mattermost's pinned lists: the open room's pinned messages, the most
// recently pinned first (sender, time, the start of the text, who pinned it), "More pinned
// messages", and per message an "Unpin" button. A message opens in the conversation, scrolled
// to and highlighted, as a search result does. Renders from the state (pins.js).
//
// The panel takes the search panel's place (view-search.js): a column of its own on a wide
// screen, over the conversation on narrower ones (where opening a message closes it). One of
// the two is open at a time. Escape closes it and puts the focus back where it was.

import { placeLabel } from "./alerts.js";
import { $, drawKeyed, formatDay, formatFull, formatTime, h, svgIcon } from "./dom.js";
import { statusText } from "./pins.js";
import { currentRoom } from "./select.js";
import { listExcerpt, pendingChanges } from "./select-messages.js";
import { SidePanel } from "./view-panel.js";
import { isConversation } from "./conversations.js";

/** The pin drawn on the header's button, in the menus and on a pinned message. */
export const PIN_ICON = "M9 4h6M10 4v5l-3 4h10l-3-4V4M12 13v7";

export class PinsView extends SidePanel {
  constructor() {
    super("pins", "pinning");
    this.shownOpens = -1; // the listing whose items the panel holds
    this.drawn = null; // what the header's button shows: [room, count]
    $("pins-open").addEventListener("click", () => (this.isOpen ? this.close() : this.open()));
    $("pins-more").addEventListener("click", () => this.on.more());
    $("pins-retry").addEventListener("click", () => this.on.retry());
  }

  // Handlers (bind): opened(shown) (list or let go), more(), retry(), openPinned(item),
  // unpin(msgId).

  /** The heading's close button takes the focus (the list follows; Tab reaches its messages). */
  focusFirst() {
    $("pins-close").focus();
  }

  render(state) {
    this.renderButton(state);
    const panel = state.pinsPanel;
    const room = currentRoom(state);
    $("pins-heading").textContent = !room || room.draft ? "Pinned"
      : `Pinned ${isConversation(room) ? "with" : "in"} ${placeLabel(state, room.name)}`;
    const list = $("pins-list");
    if (panel.opens !== this.shownOpens) {
      this.shownOpens = panel.opens;
      list.replaceChildren();
      $("pins-scroll").scrollTop = 0;
    }
    // Keyed by msg_id: an item that did not change keeps its element (and the focus); the
    // focus on an item that went (unpinned) goes to the one in its place.
    const focused = list.contains(document.activeElement);
    drawKeyed(list, panel.items.map((item) => {
      const shown = this.shownItem(state, room, item);
      return { key: `m${item.msg_id}`, sig: JSON.stringify(shown),
        build: () => this.item(item, shown) };
    }));
    if (focused && !list.contains(document.activeElement)) $("pins-close").focus(); // none left
    $("pins-status").textContent = statusText(panel);
    $("pins-status").classList.toggle("failed", panel.status === "failed");
    const more = $("pins-more");
    more.hidden = !panel.more && panel.status !== "paging";
    more.disabled = panel.status === "paging";
    more.textContent = panel.status === "paging" ? "Loading…" : "More pinned messages";
    $("pins-retry").hidden = panel.status !== "failed";
  }

  /** The header's button: shown in a room or conversation, with its count when it has pins. */
  renderButton(state) {
    const room = currentRoom(state);
    const button = $("pins-open");
    button.hidden = !room || room.draft;
    if (button.hidden) return;
    const count = room.pins;
    if (this.drawn && this.drawn[0] === room.name && this.drawn[1] === count) return;
    this.drawn = [room.name, count];
    button.replaceChildren(svgIcon(PIN_ICON), ...(count ? [h("span", { class: "pins-count" },
      count > 999 ? "999+" : String(count))] : []));
    button.setAttribute("aria-label", count
      ? `Pinned messages: ${count}` : "Pinned messages: none yet");
    button.title = "Pinned messages";
  }

  /** What an item shows (its signature): the message, who pinned it, an unpin on its way. */
  shownItem(state, room, item) {
    const changes = room ? pendingChanges(state, room.name, item.msg_id) : [];
    const unpinning = changes.some((change) => change.change.op === "pin" && !change.change.on);
    return { from: item.from, ts: item.ts, text: listExcerpt(item),
      by: item.pinned.by, at: item.pinned.ts, unpinning,
      canUnpin: Boolean(room) && !room.archived && !unpinning };
  }

  item(item, shown) {
    const words = shown.text;
    return h("li", { class: `pin-item${shown.unpinning ? " unpinning" : ""}`,
      dataset: { msgId: String(item.msg_id) } },
    h("button", {
      type: "button", class: "result", dataset: { focus: "open" },
      "aria-label": `${shown.from}: ${words}. Pinned by ${shown.by}. Show it in the conversation`,
      onclick: () => this.on.openPinned(item),
    },
    h("span", { class: "result-head" },
      h("strong", { class: "result-from" }, shown.from),
      Number.isFinite(shown.ts) ? h("time", { title: formatFull(shown.ts) },
        `${formatDay(shown.ts)} ${formatTime(shown.ts)}`) : null),
    h("span", { class: "result-text" }, words),
    h("span", { class: "pin-by" }, svgIcon(PIN_ICON),
      shown.unpinning ? "Unpinning…" : `Pinned by ${shown.by}`)),
    shown.canUnpin ? h("button", {
      type: "button", class: "small-button unpin", dataset: { focus: "unpin" },
      "aria-label": `Unpin the message from ${shown.from}`, title: "Unpin",
      onclick: () => this.on.unpin(item.msg_id),
    }, "Unpin") : null);
  }
}

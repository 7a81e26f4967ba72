// The person's drafts (Zulip's "Drafts" view): the sidebar's "Drafts" entry, with how many
// there are, and the panel it opens: each box with something typed and not sent, the latest
// first, with its room (and "Reply in a thread" for a thread's box), the text's start and when
// it was typed; a click opens it (its room, or its thread, with the text in the box), the
// bin deletes it, on every device. The list is the page's (drafts.js `draftList`): the
// server's drafts merged with this browser's, so it also shows what was typed offline.
//
// The panel takes the search panel's place (view-panel.js), as the Threads view does.

import { placeLabel } from "./alerts.js";
import { $, drawKeyed, formatFull, h, svgIcon } from "./dom.js";
import { draftList } from "./drafts.js";
import { excerpt } from "./select-messages.js";
import { ago } from "./threads.js";
import { SidePanel } from "./view-panel.js";

const BIN = "M5 7h14M10 7V5h4v2M7 7l1 12h8l1-12";

export class DraftsView extends SidePanel {
  constructor() {
    super("drafts", "drafting");
    this.drawn = null; // what the sidebar's entry shows: [shown, count]
    $("drafts-open").addEventListener("click", () => (this.isOpen ? this.close() : this.open()));
  }

  // Handlers (bind): opened(shown), openItem(draft), remove(key).

  focusFirst() {
    $("drafts-close").focus();
  }

  render(state, now) {
    const shown = draftList(state).filter((d) => state.rooms.has(d.room));
    this.renderButton(state, shown.length);
    if (!this.isOpen) return;
    const list = $("drafts-list");
    const focused = list.contains(document.activeElement);
    drawKeyed(list, shown.map((d) => {
      const item = { where: placeLabel(state, d.room), thread: d.thread !== null,
        text: excerpt(d.text, 200), when: d.at === null ? "" : ago(d.at, now), at: d.at };
      return { key: d.key, sig: JSON.stringify(item), build: () => this.item(d, item) };
    }));
    if (focused && !list.contains(document.activeElement)) $("drafts-close").focus();
    $("drafts-status").textContent = shown.length ? ""
      : "No drafts. What you type and do not send is kept here, on every device.";
  }

  /** The sidebar's entry: shown when there is a draft, with how many. */
  renderButton(state, count) {
    const visible = count > 0 || this.isOpen;
    if (this.drawn && this.drawn[0] === visible && this.drawn[1] === count) return;
    this.drawn = [visible, count];
    $("drafts-open").hidden = !visible;
    $("drafts-count").textContent = String(count);
    $("drafts-count").hidden = count === 0;
    $("drafts-open").setAttribute("aria-label", count === 1 ? "Drafts: 1" : `Drafts: ${count}`);
  }

  item(d, shown) {
    const where = shown.thread ? `${shown.where}, in a thread` : shown.where;
    return h("li", { class: "drafts-item", dataset: { key: d.key } },
      h("button", {
        type: "button", class: "result", dataset: { focus: "open" },
        "aria-label": `Draft in ${where}: ${shown.text}. Open it`,
        onclick: () => this.on.openItem(d),
      },
      h("span", { class: "result-head" },
        h("span", { class: "result-room" }, shown.where),
        shown.thread ? h("span", { class: "drafts-thread" }, "Reply in a thread") : null,
        shown.when ? h("span", { class: "drafts-when",
          title: formatFull(shown.at) }, shown.when) : null),
      h("span", { class: "result-text" }, shown.text)),
      h("button", {
        type: "button", class: "icon small drafts-delete",
        "aria-label": `Delete the draft in ${where}`, title: "Delete the draft",
        onclick: () => this.on.remove(d.key),
      }, svgIcon(BIN)));
  }
}

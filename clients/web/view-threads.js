// The followed threads (Slack's "Threads", Mattermost's collapsed reply threads): the sidebar's
// "Threads" entry above the rooms, with the count of followed threads that have unread replies,
// and the "Threads" panel it opens: each thread the person follows, the latest reply first (its
// room, the root's author and text, "N replies · last reply 5 min ago", the unread count and a
// mention badge), bold while it has unread replies, the next page asked as the list is scrolled
// to its end. A thread opens in its room, in the thread panel (view-thread.js). Renders from the
// state (inbox.js).
//
// The panel takes the search panel's place (view-panel.js), as the Saved panel does.

import { placeLabel } from "./alerts.js";
import { $, drawKeyed, formatFull, h } from "./dom.js";
import { shownThreads, statusText, unreadThreads } from "./inbox.js";
import { displayName } from "./profiles.js";
import { listExcerpt } from "./select-messages.js";
import { summaryText } from "./threads.js";
import { SidePanel } from "./view-panel.js";

const NEAR_END_PX = 200; // scrolled this close to the list's end: the next page is asked

export class ThreadsView extends SidePanel {
  constructor() {
    super("threads", "inboxing");
    this.shownOpens = -1; // the opening whose items the panel holds
    this.drawn = null; // what the sidebar's entry shows: [supported, count]
    $("threads-open").addEventListener("click", () => (this.isOpen ? this.close() : this.open()));
    $("threads-more").addEventListener("click", () => this.on.more());
    $("threads-retry").addEventListener("click", () => this.on.retry());
    const scroller = $("threads-scroll");
    scroller.addEventListener("scroll", () => {
      if (scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < NEAR_END_PX) {
        this.on.more();
      }
    }, { passive: true });
  }

  // Handlers (bind): opened(shown), more(), retry(), openItem(thread).

  focusFirst() {
    $("threads-close").focus();
  }

  render(state, now) {
    this.renderButton(state);
    if (!this.isOpen) return;
    const { inbox } = state;
    const list = $("threads-list");
    if (inbox.opens !== this.shownOpens) {
      this.shownOpens = inbox.opens;
      list.replaceChildren();
      $("threads-scroll").scrollTop = 0;
    }
    const focused = list.contains(document.activeElement);
    const items = shownThreads(inbox).map((t) => ({ t, shown: this.shownItem(state, t, now) }))
      .filter(({ shown }) => shown !== null);
    drawKeyed(list, items.map(({ t, shown }) => ({ key: t.key, sig: JSON.stringify(shown),
      build: () => this.item(t, shown) })));
    if (focused && !list.contains(document.activeElement)) $("threads-close").focus();
    $("threads-status").textContent = inbox.status === "paging" ? "Loading more threads…"
      : statusText(inbox);
    $("threads-status").classList.toggle("failed", inbox.status === "failed");
    $("threads-more").hidden = !inbox.more || inbox.status === "paging";
    $("threads-retry").hidden = inbox.status !== "failed";
    // A first page shorter than the panel: the next one is asked without a scroll.
    const scroller = $("threads-scroll");
    if (inbox.more && !inbox.sent && scroller.scrollHeight <= scroller.clientHeight + NEAR_END_PX) {
      queueMicrotask(() => this.on.more());
    }
  }

  /** The sidebar's entry: shown when the server keeps followed threads, with its count. */
  renderButton(state) {
    const button = $("threads-open");
    const { supported } = state.inbox;
    const count = supported ? unreadThreads(state.inbox) : 0;
    if (this.drawn && this.drawn[0] === supported && this.drawn[1] === count) return;
    this.drawn = [supported, count];
    button.hidden = !supported;
    if (!supported && this.isOpen) this.close({ refocus: false });
    button.classList.toggle("unread", count > 0);
    const badge = $("threads-count");
    badge.hidden = count === 0;
    badge.className = "badge threads-count";
    badge.textContent = count > 99 ? "99+" : String(count);
    button.setAttribute("aria-label", count
      ? `Threads: ${count} with unread replies` : "Threads");
  }

  /** What a thread shows (its signature), or null while the page knows nothing of its root. */
  shownItem(state, t, now) {
    const room = state.rooms.get(t.room);
    const held = room && room.byMsgId(t.rootId);
    const root = held && (!t.root || (held.rev ?? held.seq) >= (t.root.rev ?? t.root.seq))
      ? held : t.root;
    if (!root) return null;
    return {
      where: placeLabel(state, t.room),
      from: displayName(state.profiles, root.from),
      text: root.deleted ? "This message was deleted."
        : listExcerpt(root),
      deleted: Boolean(root.deleted),
      summary: summaryText(root, now),
      lastTs: t.lastTs,
      unread: t.following ? t.unread : 0,
      mentions: t.following ? t.mentions : 0,
      following: t.following,
    };
  }

  item(t, shown) {
    const unread = shown.unread > 0;
    const words = [`${shown.from} in ${shown.where}: ${shown.text}`, shown.summary];
    if (unread) words.push(`${shown.unread} unread`);
    if (shown.mentions) words.push(`${shown.mentions} mentioning you`);
    if (!shown.following) words.push("not followed");
    return h("li", { class: `threads-item${unread ? " unread" : ""}`,
      dataset: { room: t.room, msgId: String(t.rootId) } },
    h("button", {
      type: "button", class: "result", dataset: { focus: "open" },
      "aria-label": `${words.join(". ")}. Open the thread`,
      onclick: () => this.on.openItem(t),
    },
    h("span", { class: "result-head" },
      h("span", { class: "result-room" }, shown.where),
      h("strong", { class: "result-from" }, shown.from)),
    h("span", { class: `result-text${shown.deleted ? " deleted-text" : ""}` }, shown.text),
    h("span", { class: "threads-meta" },
      h("span", { class: "threads-summary",
        title: Number.isFinite(shown.lastTs) ? formatFull(shown.lastTs) : null }, shown.summary),
      unread ? h("span", { class: "badge threads-unread", title: "Unread replies" },
        String(shown.unread)) : null,
      shown.mentions ? h("span", { class: "badge mention threads-mentions",
        title: "Replies mentioning you" }, `@${shown.mentions}`) : null,
      shown.following ? null : h("span", { class: "threads-unfollowed" }, "Not followed"))));
  }
}

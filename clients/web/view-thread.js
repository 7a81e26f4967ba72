// The thread panel, as Slack's and Mattermost's: a thread of the open room (threads.js) beside
// the conversation, in the search and pins panels' place (view-panel.js): its root, "N replies",
// the replies oldest first ("Older replies" pages back), each drawn as in the conversation
// (view-message.js, with reactions, edits, deletions and the message menu), the person's
// replies on their way, and a message box of its own with "Also send to #room". Renders from
// the state (`state.threadPanel`).
//
// The panel opens from a root's summary, a reply's "replied to a thread" line or a message's
// "Reply in thread" (controller.js); it closes with Escape or its close button, and when
// another room opens (a thread is of its room). Enter sends, Shift+Enter makes a new line. What
// is typed in the box is kept per thread with the rooms' drafts (drafts.js), across a reload.
// The box completes @names of the room's members and :emoji as the room's box does (the same
// Completion, view-completion.js). It takes files as the room's box does (the paperclip, a
// paste, a drop on the panel): they upload at once, kept under the thread's draft key, and go
// with the reply. Its "Create a poll" opens the room box's dialog (view-poll.js): the poll is
// sent as a reply in the thread.
//
// The header's Follow / Following toggles following the thread (inbox.js). Seeing the thread's
// newest reply (the panel open, the tab visible) tells the server it was read (`read`: the
// controller sends `read_thread`, debounced, only forward).

import { placeLabel, roomLabel } from "./alerts.js";
import { $, drawKeyed, h } from "./dom.js";
import { currentRoom } from "./select.js";
import { draftOf } from "./drafts.js";
import { humanSize, pastedFiles } from "./files.js";
import { followsShown } from "./inbox.js";
import { draftKey, itemOf, statusText } from "./threads.js";
import { fraction, inRoom } from "./uploads.js";
import { clearOutcome, runFromBox } from "./view-commands.js";
import { Completion } from "./view-completion.js";
import { FilesView } from "./view-files.js";
import { MessageView, showAndFlash } from "./view-message.js";
import { SidePanel } from "./view-panel.js";
import { isConversation } from "./conversations.js";

const GROUP_GAP_MS = 5 * 60 * 1000; // as select.js's timeline

export class ThreadView extends SidePanel {
  /**
   * `conversation` is the conversation's view: the panel's messages use its handlers, and a
   * reply not sent shows as a message of the conversation does (Retry, Discard).
   */
  constructor(conversation) {
    super("thread", "threading");
    this.view = conversation;
    this.conversation = () => conversation.on;
    this.nodes = new Map(); // key -> <li>
    this.shownOpens = -1; // the thread the list holds
    this.shownItems = 0; // how many replies were drawn (a new one scrolls to the end)
    this.shownTarget = null; // the last reply aimed at that was shown (threads.js aim)
    this.reported = new Set(); // the seqs of the thread told seen (readmarks.js)
    this.draftKey = null; // where the box's text is kept (threads.js draftKey)
    this.pushed = 0; // the drafts put in from outside (another device), as read (drafts.js)
    this.restored = 0; // the texts of refused schedules put back, as read (scheduled.js)
    const panelHandlers = () => ({
      ...this.conversation(),
      // "Reply" in the panel answers in the thread: its box takes the focus.
      reply: () => $("thread-text").focus(),
      openThread: () => {},
      // A forward's source opens as a result does from a side panel (closing this one on a
      // narrow screen).
      openSource: (room, seq) => this.conversation().openSource(room, seq, this),
    });
    this.files = new FilesView(panelHandlers);
    this.message = new MessageView(panelHandlers, this.files, { inThread: true });
    $("thread-retry").addEventListener("click", () => this.on.retry());
    $("thread-follow").addEventListener("click", (event) => {
      this.on.follow(event.currentTarget.getAttribute("aria-pressed") !== "true");
    });
    this.attached = 0; // files in the box
    this.readTold = null; // the newest reply told read: "opens:seq"
    $("thread-poll").addEventListener("click", () => this.on.createPoll());
    const input = $("thread-attach-input");
    $("thread-attach").addEventListener("click", () => input.click());
    input.addEventListener("change", () => {
      this.take([...input.files]);
      input.value = "";
    });
    $("thread-text").addEventListener("paste", (event) => {
      const files = pastedFiles(event);
      if (files) this.take(files);
    });
    const panel = $("thread-panel");
    const carries = (event) => Boolean(event.dataTransfer)
      && [...event.dataTransfer.types].includes("Files");
    panel.addEventListener("dragover", (event) => {
      if (!carries(event)) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
      panel.classList.add("dropping");
    });
    panel.addEventListener("dragleave", (event) => {
      if (!panel.contains(event.relatedTarget)) panel.classList.remove("dropping");
    });
    panel.addEventListener("drop", (event) => {
      panel.classList.remove("dropping");
      if (!carries(event)) return;
      event.preventDefault();
      event.stopPropagation();
      this.take([...event.dataTransfer.files]);
    });
    $("thread-also").addEventListener("change", (event) => this.on.also(event.target.checked));
    const box = $("thread-text");
    this.completion = new Completion({ box: "thread-text", form: "thread-form",
      list: "thread-mention-list", prefix: "thread-mention-option" });
    $("thread-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.send();
    });
    box.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.send();
      }
    });
    box.addEventListener("input", () => {
      clearOutcome("thread-command");
      box.rows = Math.min(8, Math.max(1, box.value.split("\n").length));
      if (this.draftKey) this.on.draft(this.draftKey, box.value);
      this.on.typed();
    });
  }

  // Handlers (bind): opened(shown), more(), retry(), also(on), send(text), createPoll(),
  // schedule(text, sendAt) → whether asked, command(text) → null for a message, else a promise
  // of what the slash command did (view-commands.js), typed(), draft(key, text) (the box's text, kept
  // per thread: drafts.js), follow(on), read(room, rootId, seq), attach(files, box),
  // removeUpload(key), retryUpload(key).

  /** Files for the reply: kept under the thread's draft key (uploaded to its room). */
  take(files) {
    if (!files.length || !this.draftKey) return;
    this.on.attach(files, this.draftKey);
  }

  focusFirst() {
    $("thread-text").focus();
  }

  send() {
    const box = $("thread-text");
    const key = this.draftKey;
    // A slash command (commands.js) is carried out, not sent; "//text" sends "/text".
    if (runFromBox({ boxId: "thread-text", noteId: "thread-command",
      run: (text) => this.on.command(text), done: () => {
        if (this.draftKey === key) this.sent();
        else if (key) this.on.draft(key, "");
      } })) return;
    if (!box.value.trim() && !this.attached) return;
    if (this.on.send(box.value) !== false) this.sent();
  }

  /** Schedule the reply the box holds for `sendAt` (ms): emptied as on send once asked. */
  scheduleAt(sendAt) {
    const box = $("thread-text");
    if (!box.value.trim()) return;
    if (this.on.schedule(box.value, sendAt)) this.sent();
  }

  sent() {
    const box = $("thread-text");
    box.value = "";
    box.rows = 1;
    if (this.draftKey) this.on.draft(this.draftKey, "");
  }

  render(state, now) {
    this.completion.state = state;
    const panel = state.threadPanel;
    if (!panel.shown && this.isOpen) this.close({ refocus: false });
    if (!panel.shown) {
      this.completion.close();
      return;
    }
    // Shown by the state (a notification or a search result of a reply): the panel opens.
    if (!this.isOpen) this.open();
    const room = currentRoom(state);
    if (!room || room.name !== panel.room) return;
    $("thread-heading").textContent =
      `Thread ${isConversation(room) ? "with" : "in"} ${placeLabel(state, room.name)}`;
    const list = $("thread-list");
    const scroller = $("thread-scroll");
    if (panel.opens !== this.shownOpens) {
      this.shownOpens = panel.opens;
      this.shownItems = 0;
      this.reported = new Set(); // the seqs told seen
      this.message.closePopup(false);
      this.completion.close();
      this.files.reset();
      // The thread's own draft in its box (a half-typed reply stays with its thread).
      this.draftKey = draftKey(panel.room, panel.rootId);
      const box = $("thread-text");
      box.value = draftOf(state, this.draftKey);
      box.rows = Math.min(8, Math.max(1, box.value.split("\n").length));
      this.nodes.clear();
      list.replaceChildren();
    } else {
      this.completion.refresh(); // (the room's members may have come since a key was pressed)
    }
    if (state.draftSync.pushed !== this.pushed) {
      // The thread's draft saved on another device (or cleared by a reply sent there).
      this.pushed = state.draftSync.pushed;
      const box = $("thread-text");
      const text = this.draftKey ? draftOf(state, this.draftKey) : box.value;
      if (box.value !== text) {
        box.value = text;
        box.rows = Math.min(8, Math.max(1, box.value.split("\n").length));
      }
    }
    if (state.scheduled.restored !== this.restored) {
      // A refused schedule's text is back in its draft: shown if the box is empty.
      this.restored = state.scheduled.restored;
      const box = $("thread-text");
      if (!box.value && this.draftKey) box.value = draftOf(state, this.draftKey);
    }
    const atEnd = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 48;
    const rows = [];
    if (panel.root) rows.push({ key: `m${panel.root.seq}`, kind: "message", message: panel.root });
    if (panel.root) {
      const count = panel.root.replies ? panel.root.replies.count : 0;
      rows.push({ key: "count", kind: "count",
        text: count === 1 ? "1 reply" : count ? `${count} replies` : "No replies yet" });
    }
    if (panel.more) rows.push({ key: "older", kind: "older" });
    let previous = null; // replies of one author close in time are grouped, as in the room
    for (const item of panel.items) {
      const grouped = Boolean(previous) && previous.from === item.from
        && item.ts - previous.ts < GROUP_GAP_MS;
      rows.push({ key: `m${item.seq}`, kind: "message", message: item, grouped });
      previous = item;
    }
    const rootId = panel.root ? panel.root.msg_id : null;
    for (const item of state.outbox) {
      if (item.change || item.room !== room.name || item.thread !== rootId || rootId === null) {
        continue;
      }
      rows.push({ key: `p${item.nonce}`, kind: "pending", item,
        message: { from: state.me, text: item.text, ts: item.ts } });
    }
    const keep = new Set(rows.map((row) => row.key));
    for (const [key, node] of this.nodes) {
      if (!keep.has(key)) {
        node.remove();
        this.nodes.delete(key);
      }
    }
    let cursor = list.firstElementChild;
    for (const row of rows) {
      let node = this.nodes.get(row.key);
      if (!node) {
        node = this.rowNode(row, room, state);
        this.nodes.set(row.key, node);
      }
      if (row.kind === "message") {
        node.classList.toggle("grouped", Boolean(row.grouped));
        this.message.update(node, row, room, state);
        node.classList.toggle("thread-root", row.message === panel.root);
      } else if (row.kind === "count") {
        node.textContent = row.text;
      } else if (row.kind === "pending") {
        node.classList.toggle("failed", row.item.status !== "sending");
        node.querySelector(".msg-status")?.remove();
        node.querySelector(".msg-body").append(this.view.pendingStatus(row.item));
      }
      if (node !== cursor) list.insertBefore(node, cursor);
      else cursor = cursor.nextElementSibling;
    }
    const older = this.nodes.get("older");
    if (older) {
      const button = older.querySelector("button");
      button.disabled = panel.status === "paging";
      button.textContent = panel.status === "paging" ? "Loading…" : "Older replies";
    }
    $("thread-status").textContent = statusText(panel);
    $("thread-status").classList.toggle("failed", panel.status === "failed");
    $("thread-retry").hidden = panel.status !== "failed";
    $("thread-also").checked = panel.also;
    $("thread-also-label").textContent = isConversation(room) ? "Also send to the conversation"
      : `Also send to ${roomLabel(room)}`;
    const closed = !panel.root || Boolean(panel.root.deleted) || room.archived;
    $("thread-text").disabled = closed && Boolean(panel.root);
    $("thread-send").disabled = closed;
    $("thread-attach").disabled = closed;
    $("thread-poll").disabled = closed;
    this.files.apply(state.links, now);
    const count = panel.items.length + rows.filter((row) => row.kind === "pending").length;
    if (count > this.shownItems && (atEnd || this.shownItems === 0)) {
      scroller.scrollTop = scroller.scrollHeight;
    }
    this.shownItems = count;
    this.showTarget(panel);
    this.renderFollow(state, panel);
    this.renderFiles(state);
    this.report(state, panel);
  }

  /**
   * Show the reply the state aims at (threads.js `aim`: a quote of it was pressed, or a result
   * named it) once its page is drawn: scrolled to, focused and highlighted, once per aim.
   */
  showTarget(panel) {
    const { target } = panel;
    if (!target || target === this.shownTarget) return;
    const item = itemOf(panel, target.msgId);
    const node = item ? this.nodes.get(`m${item.seq}`) : null;
    if (!node) return; // (its page is on its way)
    this.shownTarget = target;
    showAndFlash(node);
  }

  /** The header's Follow / Following (when the server keeps followed threads). */
  renderFollow(state, panel) {
    const button = $("thread-follow");
    const shown = Boolean(state.inbox && state.inbox.supported && panel.root);
    button.hidden = !shown;
    if (!shown) return;
    const on = followsShown(state.inbox, panel.room, panel.root, panel.items, state.me,
      panel.said);
    button.setAttribute("aria-pressed", String(on));
    button.textContent = on ? "Following" : "Follow";
    button.title = on ? "Stop following: its replies no longer count as unread"
      : "Follow: its replies count in Threads";
  }

  /** The files attached in the thread's box: a chip each (name, size or progress, remove). */
  renderFiles(state) {
    const list = $("thread-attachments");
    const items = this.draftKey ? inRoom(state.uploads, this.draftKey) : [];
    this.attached = items.length;
    list.hidden = items.length === 0;
    drawKeyed(list, items.map((item) => {
      const status = item.status === "done" ? `Ready · ${humanSize(item.size)}`
        : item.status === "failed" ? item.error || "Failed"
          : `Uploading… ${Math.round(fraction(item) * 100)}%`;
      return { key: item.key, sig: JSON.stringify([item.name, item.status, status]),
        build: () => h("li", { class: `attachment${item.status === "failed" ? " failed" : ""}`,
          dataset: { key: item.key } },
        h("span", { class: "att-text" },
          h("span", { class: "att-name", title: item.name }, item.name),
          h("span", { class: "att-status" }, status)),
        item.status === "failed" ? h("button", { type: "button", class: "small-button att-retry",
          onclick: () => this.on.retryUpload(item.key) }, "Retry") : null,
        h("button", { type: "button", class: "icon small att-remove",
          "aria-label": `Remove ${item.name}`, title: "Remove",
          onclick: () => this.on.removeUpload(item.key) }, "×")) };
    }));
    const waiting = items.some((item) => item.status !== "done");
    $("thread-send").disabled = $("thread-send").disabled || waiting;
  }

  /**
   * The replies drawn in the open panel are seen (readmarks.js): each told once; and the
   * thread is read up to its newest reply (inbox.js, only forward).
   */
  report(state, panel) {
    if (!this.isOpen || document.visibilityState !== "visible") return;
    const newest = panel.items.length ? panel.items[panel.items.length - 1].seq : null;
    const told = `${panel.opens}:${newest}`;
    if (newest !== null && panel.root && panel.status !== "loading" && told !== this.readTold) {
      this.readTold = told; // (each newest reply told once; the controller sends it, debounced)
      const { room } = panel;
      const rootId = panel.root.msg_id;
      queueMicrotask(() => this.on.read(room, rootId, newest));
    }
    const fresh = panel.items.map((item) => item.seq).filter((seq) => !this.reported.has(seq));
    if (panel.root && !this.reported.has(panel.root.seq)) fresh.push(panel.root.seq);
    if (!fresh.length) return;
    for (const seq of fresh) this.reported.add(seq);
    const room = panel.room;
    queueMicrotask(() => this.conversation().sighted(room, fresh));
  }

  rowNode(row, room, state) {
    if (row.kind === "count") return h("li", { class: "thread-count-line" });
    if (row.kind === "older") {
      return h("li", { class: "thread-older" }, h("button", { type: "button",
        class: "small-button", onclick: () => this.on.more() }, "Older replies"));
    }
    const node = this.message.create(row, room, state);
    if (row.kind === "pending") node.classList.add("pending");
    return node;
  }
}

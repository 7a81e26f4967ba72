// One message of the open conversation, drawn from the state (select-messages.js): its text in
// the Markdown subset (markdown.js), its files (view-files.js), "(edited)", the tombstone of a
// deleted one, the quote of the message it answers, reaction chips, its link's preview card
// (view-preview.js), and its actions (React, Reply, Edit, Delete, Mark unread, Pin, Remove
// preview), with the two small popups that act on it: the actions menu and the reaction picker.
// A pinned message says so above it ("Pinned by ann"); its menu pins or unpins it.
// Threads (threads.js): a root shows its summary under it ("3 replies · last reply 5 min ago",
// the repliers' avatars, "2 new"), a reply sent also to the room says "replied to a thread: …",
// and "Reply in thread" opens the thread panel; the panel draws its messages with a MessageView
// of its own (`inThread`), without those.
// A poll (polls.js) is drawn as a card under the sender line (view-poll.js): its question (the
// message's text), its options to vote on; its menu offers "Close poll" to its author and the
// room's moderators.
// A message the person saved for later says so on a line above it, at its left as "Pinned by"
// is (the hover toolbar covers the top right corner), "Overdue" too when its reminder is; its
// menu saves it or removes it, and sets a reminder (view-saved.js's presets).
// A forward (forwarding.js) shows its comment as its text and under it the card of what it
// forwards (view-forward.js); any message but a poll offers "Forward…" in its menu.
// Every message sent offers "Read by…" (view-receipts.js: who has read it, on demand).
//
// A message's <li> is made once (view-conversation.js keeps it by key) and its insides are drawn
// again only when what it shows changed (a signature of it), so that focus, an edit in progress
// and the scroll position survive the renders caused by everything else. Actions are reached
// by pointer (a toolbar on hover), by keyboard (one "More actions" button per message, a menu
// with arrow keys) and by touch (that button is always shown where there is no hover).
//
// Like every view, nothing here parses markup: text goes in as text nodes.

import * as clock from "./clock.js";
import { $, formatFull, formatTime, h, svgIcon } from "./dom.js";
import { groupMentions } from "./entries.js";
import { pillsFor } from "./usergroups.js";
import { closePopup as closeAnchored } from "./popup.js";
import { customEmojiImage, parse, render } from "./markdown.js";
import { pictureOf, sortedEmoji } from "./emoji.js";
import { avatarOf, displayName, shownUser, statusWords } from "./profiles.js";
import { avatar, setPicture } from "./view-avatar.js";
import { lengthNote } from "./textlimit.js";
import { previewCard } from "./view-preview.js";
import { canForward, forwardedOf } from "./forwarding.js";
import { forwardCard } from "./view-forward.js";
import { PIN_ICON } from "./view-pins.js";
import { pollCard } from "./view-poll.js";
import { summaryText } from "./threads.js";
import { SAVED_ICON } from "./view-saved.js";
import {
  COMMON_EMOJI, excerpt, quoteFor, reactionUsers, shownMessage, signature,
} from "./select-messages.js";

const FLASH_MS = 2000; // how long the message a quote jumped to stays highlighted

/** Bring `node` (a message of the list or of a thread) into view, focused, and highlight it
 * for FLASH_MS: where a quote, a link, a notification or a search result jumped to. */
export function showAndFlash(node) {
  node.scrollIntoView({ block: "center" });
  node.tabIndex = -1;
  node.focus({ preventScroll: true });
  node.classList.remove("flash");
  void node.offsetWidth; // restart the animation when the same message is shown again
  node.classList.add("flash");
  setTimeout(() => node.classList.remove("flash"), FLASH_MS);
}
const PICKER_COLUMNS = 5;
const ICONS = {
  react: "M12 21a9 9 0 1 1 0-18 9 9 0 0 1 0 18zM8.5 14.5s1.2 1.8 3.5 1.8 3.5-1.8 3.5-1.8"
    + "M9 9.5h.01M15 9.5h.01",
  reply: "M10 8L5 12l5 4M5 12h9a5 5 0 0 1 5 5v1",
  more: "M5 12h.01M12 12h.01M19 12h.01",
  edit: "M4 20h4L19 9l-4-4L4 16v4zM14 6l4 4",
  delete: "M5 7h14M10 7V5h4v2M7 7l1 13h8l1-13",
  unread: "M4 6h16v12H4zM4 6l8 7 8-7",
  unpreview: "M4 5h16v14H4zM4 15l4-4 4 4M6 6l12 12",
  thread: "M4 5h16v10H9l-5 4zM8 9h8M8 12h5",
  pin: PIN_ICON,
  saved: SAVED_ICON,
  remind: "M12 21a8 8 0 1 1 0-16 8 8 0 0 1 0 16zM12 9v4l2.5 2.5M5 3L2 6M19 3l3 3",
  poll: "M5 20V10M12 20V4M19 20v-7",
  link: "M10 14a4 4 0 0 0 5.7 0l3-3a4 4 0 0 0-5.7-5.7l-1 1M14 10a4 4 0 0 0-5.7 0l-3 3a4 4 0 0 0 "
    + "5.7 5.7l1-1",
  forward: "M14 5l6 6-6 6M20 11H10a6 6 0 0 0-6 6v2",
  seen: "M2 12.5l4.5 4.5L15 8.5M11 16l1 1 9.5-9.5",
};

function icon(name) {
  return svgIcon(ICONS[name]);
}

export class MessageView {
  /**
   * `handlers()` gives the conversation's handlers (they are bound after this is made);
   * `files` draws messages' files (view-files.js).
   */
  constructor(handlers, files, { inThread = false } = {}) {
    this.on = handlers;
    this.files = files;
    this.inThread = inThread; // drawing the thread panel's messages
    this.popup = null; // {element, opener, msgId}
    this.state = null; // as last drawn
    this.jumpTick = 0;
    this.focusEdit = false;
    document.addEventListener("pointerdown", (event) => {
      if (this.popup && !this.popup.element.contains(event.target)
          && !this.popup.opener.contains(event.target)) this.closePopup(false);
    }, true);
    $("messages").addEventListener("scroll", () => this.closePopup(false), { passive: true });
    window.addEventListener("resize", () => this.closePopup(false));
  }

  /** A new <li> for a row of the timeline: a message, or one waiting in the outbox. */
  create(row, room, state) {
    const { message } = row;
    const node = h("li", {
      class: "msg",
      dataset: {
        room: room.name,
        ...(message.seq ? { seq: String(message.seq) } : {}),
        ...(Number.isSafeInteger(message.msg_id) ? { msgId: String(message.msg_id) } : {}),
      },
    });
    if (message.nonce) node.dataset.nonce = message.nonce;
    if (row.kind === "pending") node.replaceChildren(...this.pendingParts(row, room, state));
    else this.update(node, row, room, state);
    return node;
  }

  /**
   * Draw again the parts of a message whose look changed (its text, "(edited)", reactions,
   * actions...), and only those: the list is a live region, and a part put back is read out
   * again. An edit in progress and the focus survive.
   */
  update(node, row, room, state) {
    this.state = state; // (the reaction picker offers the custom emoji as they are now)
    const view = shownMessage(state, room, row.message);
    const author = authorOf(state, row.message.from); // (a new name or status redraws it)
    // (A custom emoji added or removed may change how its text and reactions look.)
    // (And a root's "last reply 5 min ago", which changes with the time alone: controller.js
    // renders when it does.)
    // (So may a change to a user group it names: its pill's title, whether it covers the reader.)
    const forwarded = forwardedOf(row.message); // (its author's name and picture too)
    const sig = `${signature(view)}${JSON.stringify(author)}|${state.customEmoji.version}|${
      forwarded ? JSON.stringify([forwarded, displayName(state.profiles, forwarded.from),
        avatarOf(state.profiles, forwarded.from)]) : ""}|${
      row.message.user_groups ? state.userGroups.version : 0}${
      view.replies && !this.inThread ? `|${summaryText(row.message, clock.now())}` : ""}`;
    if (node.chatdSig === sig) return;
    const wasEditing = Boolean(node.chatdEditing);
    node.chatdSig = sig;
    node.chatdEditing = view.editing;
    node.chatdView = view; // what the buttons act on when pressed
    const box = node.querySelector(".edit-box");
    const draft = box && view.editing ? { value: box.value, start: box.selectionStart,
      end: box.selectionEnd, focused: document.activeElement === box } : null;
    const focused = node.contains(document.activeElement) && document.activeElement.dataset
      ? document.activeElement.dataset.focus : null;
    node.classList.toggle("mentions-me", view.mentionsMe);
    node.classList.toggle("deleted", view.deleted);
    node.classList.toggle("editing", view.editing);
    node.classList.toggle("pinned", Boolean(view.pinned));
    node.classList.toggle("saved", Boolean(view.saved));
    const { message } = view;
    if (!node.chatdPieces) {
      node.chatdPieces = new Map();
      node.chatdBody = h("div", { class: "msg-body" });
      node.replaceChildren(
        avatar(message.from, author.avatar),
        node.chatdBody,
        h("time", { class: "gutter-time", "aria-hidden": "true",
          title: formatFull(message.ts) }, formatTime(message.ts)));
    }
    setPicture(node.firstElementChild, author.avatar); // (a new picture redraws it too)
    place(node.chatdBody, node.chatdPieces, [
      ["saved", view.saved, () => (view.saved ? savedMark(view.saved) : null)],
      ["pin", view.pinned, () => (view.pinned ? pinLine(view.pinned, state.me) : null)],
      ["quote", [view.quote, view.quote && displayName(state.profiles, view.quote.from || "")],
        () => (view.quote ? this.quote(view.quote, state) : null)],
      ["threadOf", this.inThread ? null : view.threadOf,
        () => (view.threadOf && !this.inThread ? this.threadLine(view.threadOf) : null)],
      ["meta", author, () => meta(message, state.me, author)],
      ["text", [view.text, view.deleted, view.deleting, view.saving, view.editing,
        message.mentions || null, view.keywords, view.files.length > 0, state.customEmoji.version,
        message.user_groups ? state.userGroups.version : 0],
      () => (view.editing ? this.editor(view, state.maxText)
        : view.poll ? null : text(view, state.me, state.customEmoji.byName,
          view.saving ? null : pillsFor(state.userGroups, message, state.me), forwarded))],
      ["forwarded", forwarded ? [forwarded, displayName(state.profiles, forwarded.from),
        avatarOf(state.profiles, forwarded.from), state.customEmoji.version] : null,
      () => (forwarded ? forwardCard(forwarded, state,
        (room, seq) => this.on().openSource(room, seq)) : null)],
      ["poll", view.poll && !view.editing ? [view.poll, view.canVote, view.text,
        message.mentions || null, view.keywords, state.customEmoji.version,
        message.user_groups ? state.userGroups.version : 0, view.poll.options.map((o) => o.voters
          .map((u) => [displayName(state.profiles, u), avatarOf(state.profiles, u)]))] : null,
      () => (view.poll && !view.editing ? pollCard(view, state,
        text(view, state.me, state.customEmoji.byName,
          view.saving ? null : pillsFor(state.userGroups, message, state.me)),
        (options) => this.on().vote(node.dataset.room, message.msg_id, options)) : null)],
      ["files", view.files.map((file) => file.id), () => this.files.part(view.files)],
      ["preview", view.preview,
        () => (view.preview ? previewCard(view.preview, this.files) : null)],
      // "(edited)" opens the message's versions (edithistory.js; a dialog), once saved, where
      // the server shows them to the user (the welcome's edit_history); else it only says so.
      ["edited", [view.edited && !view.editing, view.saving, view.editedTs, view.historyShown],
        () => (view.edited && !view.editing ? (view.saving ? h("span", {
          class: "msg-edited", title: "Saving your edit" }, "(saving…)") : !view.historyShown
          ? h("span", { class: "msg-edited", title: `Edited ${formatFull(view.editedTs)}` },
            "(edited)") : h("button", {
          type: "button", class: "msg-edited edit-history-open",
          title: `Edited ${formatFull(view.editedTs)}: show the edit history`,
          "aria-haspopup": "dialog",
          onclick: (event) => this.on().editHistory(node.dataset.room, message.msg_id,
            event.currentTarget),
        }, "(edited)")) : null)],
      ["deleting", view.deleting,
        () => (view.deleting ? h("span", { class: "msg-edited" }, "Deleting…") : null)],
      ["reactions", [view.reactions, view.canReact, state.customEmoji.version],
        () => (view.reactions.length ? this.reactions(node, state) : null)],
      ["replies", this.inThread ? null : [view.replies, view.replies && view.replies.users.map(
        (user) => [displayName(state.profiles, user), avatarOf(state.profiles, user)]),
      view.replies && summaryText(message, clock.now())],
      () => (view.replies && !this.inThread ? this.summary(message, view.replies, state)
        : null)],
    ]);
    place(node, node.chatdPieces, [
      ["actions", [view.deleted || view.editing, view.canEdit, view.canDelete, view.canReact,
        view.canThread],
        () => (view.deleted || view.editing ? null : this.actions(node))],
    ], node.querySelector(":scope > .gutter-time"));
    if (view.deleted && this.popup && this.popup.msgId === message.msg_id) {
      this.closePopup(false); // deleted meanwhile: nothing left to act on
    }
    const newBox = node.querySelector(".edit-box");
    if (newBox && draft) {
      if (newBox !== box) {
        newBox.value = draft.value;
        autosize(newBox);
        newBox.setSelectionRange(draft.start, draft.end);
        if (draft.focused) newBox.focus();
      }
    } else if (newBox && !wasEditing) {
      // Editing just began: into the box, caret at the end, the message in view.
      const focus = () => {
        newBox.focus();
        newBox.setSelectionRange(newBox.value.length, newBox.value.length);
        node.scrollIntoView({ block: "nearest" });
      };
      if (node.isConnected) focus();
      else queueMicrotask(focus);
    } else if (focused && !node.contains(document.activeElement)) {
      const again = node.querySelector(`[data-focus="${CSS.escape(focused)}"]`);
      if (again) again.focus();
    }
  }

  pendingParts(row, room, state) {
    const { message, item } = row;
    const quote = Number.isSafeInteger(item.reply_to)
      ? quoteFor(room, { reply_to: item.reply_to }) : null;
    const poll = item.poll ? h("ol", { class: "poll-pending", "aria-label": "Options" },
      item.poll.options.map((option) => h("li", {}, option))) : null;
    return [
      avatar(message.from, avatarOf(state.profiles, message.from)),
      h("div", { class: "msg-body" },
        quote ? this.quote(quote, state) : null,
        meta(message, state.me, authorOf(state, message.from)),
        message.text.trim() || !message.files ? h("div", { class: "msg-text" },
          render(parse(message.text, { mentions: null, me: state.me,
            emoji: state.customEmoji.byName, here: here() }))) : null,
        poll,
        this.files.part(message.files || [])),
      h("time", { class: "gutter-time", "aria-hidden": "true", title: formatFull(message.ts) },
        formatTime(message.ts)),
    ];
  }

  /** "replied to a thread: <the root's words>" above a reply shown in the room. */
  threadLine(of) {
    const words = of.deleted ? "a deleted message" : of.text ? excerpt(of.text) : "a thread";
    return h("button", {
      type: "button", class: "msg-thread-of", "data-focus": "threadOf",
      "aria-label": `Replied to a thread: ${words}. Open the thread`,
      onclick: () => this.on().openThread(of.rootId),
    }, icon("thread"), h("span", {}, "replied to a thread: "),
    h("span", { class: "quote-text" }, words));
  }

  /** Under a thread's root: the repliers' avatars, "3 replies · last reply …", "2 new". */
  summary(message, replies, state) {
    const words = summaryText(message, clock.now());
    const names = replies.users.map((user) => displayName(state.profiles, user));
    return h("button", {
      type: "button", class: `thread-summary${replies.fresh ? " fresh" : ""}`,
      "data-focus": "thread",
      "aria-label": `${words}${replies.fresh ? `, ${replies.fresh} new` : ""}. From ${
        names.join(", ")}. Open the thread`,
      onclick: () => this.on().openThread(message.msg_id),
    },
    h("span", { class: "thread-avatars", "aria-hidden": "true" },
      replies.users.map((user) => avatar(user, avatarOf(state.profiles, user), "small"))),
    h("span", { class: "thread-count" }, words),
    replies.fresh ? h("span", { class: "thread-new" },
      replies.fresh === 1 ? "1 new reply" : `${replies.fresh} new replies`) : null);
  }

  /** The quote of the message a reply answers: pressing it shows the original. */
  quote(quote, state) {
    const words = quote.deleted ? "Original message deleted"
      : quote.text ? excerpt(quote.text) : "Original message";
    const from = quote.from ? displayName(state.profiles, quote.from) : "";
    return h("button", {
      type: "button", class: `msg-quote${quote.deleted ? " gone" : ""}`, "data-focus": "quote",
      "aria-label": `Reply to ${from ? `${from}: ` : ""}${words}. Show the original message`,
      onclick: () => this.on().jumpTo(quote.msgId),
    },
    icon("reply"),
    from ? h("strong", { class: quote.from === state.me ? "me" : "" }, from) : null,
    h("span", { class: "quote-text" }, words));
  }

  reactions(node, state) {
    const view = node.chatdView;
    const { message } = view;
    return h("div", { class: "reactions", role: "group", "aria-label": "Reactions" },
      view.reactions.map((r) => {
        const who = reactionUsers(r.users, state.me);
        return h("button", {
          type: "button", class: `reaction${r.mine ? " mine" : ""}`,
          "aria-pressed": r.mine ? "true" : "false", "data-focus": `r${r.emoji}`,
          title: `${who} reacted with ${r.emoji}`,
          "aria-label": `${r.emoji} ${r.count}: ${who}. ${r.mine ? "Press to take yours back"
            : "Press to add yours"}`,
          disabled: !view.canReact,
          onclick: () => this.on().react(message.msg_id, r.emoji, !r.mine),
        }, reactionFace(state, r.emoji),
        h("span", { class: "count", "aria-hidden": "true" }, String(r.count)));
      }),
      view.canReact ? h("button", {
        type: "button", class: "reaction add", "aria-label": "Add a reaction",
        title: "Add a reaction", "aria-haspopup": "dialog", "data-focus": "radd",
        onclick: (event) => this.openPicker(event.currentTarget, node.chatdView),
      }, icon("react"), "+") : null);
  }

  actions(node) {
    const view = node.chatdView;
    const { message } = view;
    const more = h("button", {
      type: "button", class: "icon small more", "data-focus": "more",
      "aria-label": `Actions for the message from ${message.from}`, title: "More actions",
      "aria-haspopup": "menu", "aria-expanded": "false",
      onclick: (event) => this.openMenu(event.currentTarget, node.chatdView),
    }, icon("more"));
    const popup = this.popup;
    if (popup && popup.msgId === message.msg_id && popup.element.getAttribute("role") === "menu") {
      // Drawn again while its menu is open (the person's rights changed): the new button is
      // the menu's opener now, expanded, and a click on it closes the menu as the old did.
      more.setAttribute("aria-expanded", "true");
      popup.opener = more;
    }
    return h("div", { class: "msg-actions" },
      view.canReact ? h("button", {
        type: "button", class: "icon small", tabindex: "-1", "aria-label": "Add a reaction",
        title: "Add a reaction", "aria-haspopup": "dialog",
        onclick: (event) => this.openPicker(event.currentTarget, node.chatdView),
      }, icon("react")) : null,
      h("button", {
        type: "button", class: "icon small", tabindex: "-1", "aria-label": "Reply",
        title: "Reply", onclick: () => this.on().reply(message.msg_id),
      }, icon("reply")),
      view.canThread && !this.inThread ? h("button", {
        type: "button", class: "icon small", tabindex: "-1", "aria-label": "Reply in thread",
        title: "Reply in thread", onclick: () => this.on().openThread(message.msg_id),
      }, icon("thread")) : null,
      more);
  }

  /**
   * The box that edits a message. No `maxlength`: the browser would count UTF-16 units and cut
   * what is pasted, where the server counts code points up to its own limit (`maxText`, the
   * welcome's); the box keeps everything and counts it as the message box does, and an edit
   * over the limit is refused by the state (textlimit.js) and stays open.
   */
  editor(view, maxText) {
    const box = h("textarea", { class: "edit-box", "aria-label": "Edit message", rows: "1" });
    const limit = h("span", { class: "edit-limit", "aria-live": "polite" });
    const count = () => {
      const note = lengthNote(box.value, maxText);
      limit.textContent = note.text;
      limit.classList.toggle("over", note.over > 0);
      box.setAttribute("aria-invalid", String(note.over > 0));
    };
    box.value = view.text;
    autosize(box);
    count();
    const save = () => this.on().saveEdit(box.value);
    const cancel = () => this.on().cancelEdit();
    box.addEventListener("input", () => {
      autosize(box);
      count();
      // The box grows with its text: keep its end, the count and the buttons in sight.
      box.parentElement.scrollIntoView({ block: "nearest" });
    });
    box.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        save();
      } else if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation();
        cancel();
      }
    });
    return h("form", { class: "msg-edit", onsubmit: (event) => {
      event.preventDefault();
      save();
    } },
    box,
    h("div", { class: "edit-actions" },
      h("span", { class: "hint" }, "Enter to save, Escape to cancel"),
      limit,
      h("button", { type: "button", class: "small-button", onclick: cancel }, "Cancel"),
      h("button", { type: "submit", class: "small-button save" }, "Save")));
  }

  // -- popups ----------------------------------------------------------------------------------

  openMenu(opener, view) {
    if (this.popup && this.popup.opener === opener) {
      this.closePopup(true);
      return;
    }
    const { message } = view;
    const item = (label, name, run) => h("button", {
      type: "button", role: "menuitem", tabindex: "-1", class: "menu-item",
      onclick: () => {
        this.closePopup(false);
        run();
      },
    }, icon(name), label);
    const items = [
      item("Reply", "reply", () => this.on().reply(message.msg_id)),
      view.canThread && !this.inThread ? item("Reply in thread", "thread",
        () => this.on().openThread(message.msg_id)) : null,
      view.canReact ? item("Add a reaction…", "react", () => this.openPicker(opener, view))
        : null,
      // From this message on: back on the person's list (state.js markUnread).
      Number.isSafeInteger(message.seq) && !message.deleted
        ? item("Mark unread", "unread", () => this.on().markUnread(message.seq)) : null,
      view.canPin ? item(view.pinned ? "Unpin" : `Pin to this ${
        opener.closest("li")?.dataset.room?.startsWith("@") ? "conversation" : "room"}`, "pin",
      () => this.on().pin(message.msg_id, !view.pinned)) : null,
      view.canSave && !view.message.deleted ? item(view.saved ? "Remove from saved"
        : "Save for later", "saved", () => this.on().save(message.msg_id, !view.saved)) : null,
      view.canSave && !view.message.deleted ? item(view.saved && view.saved.remindAt !== null
        ? "Change the reminder…" : "Remind me about this…", "remind",
      () => this.on().remind(message.msg_id, opener)) : null,
      view.canSave && view.message.deleted && view.saved ? item("Remove from saved", "saved",
        () => this.on().save(message.msg_id, false)) : null,
      canForward(view) ? item("Forward…", "forward", () => this.on().forward(
        opener.closest("li")?.dataset.room, message.msg_id)) : null,
      view.canClosePoll ? item("Close poll", "poll", () => this.on().closePoll(
        opener.closest("li")?.dataset.room, message.msg_id)) : null,
      // Who has read it (receipts.js), in a small panel under the same button.
      Number.isSafeInteger(message.msg_id) && !message.deleted ? item("Read by…", "seen",
        () => this.on().readBy(opener.closest("li")?.dataset.room, message.msg_id, opener))
        : null,
      // The address that opens the page at this message (webpush.js messageUrl).
      Number.isSafeInteger(message.msg_id) && !message.deleted ? item("Copy link", "link",
        () => this.on().copyLink(opener.closest("li")?.dataset.room, message)) : null,
      view.canEdit ? item("Edit", "edit", () => this.on().edit(message.msg_id)) : null,
      view.canDelete ? item("Delete…", "delete", () => this.on().remove(message.msg_id))
        : null,
      view.preview && view.canRemovePreview
        ? item("Remove preview", "unpreview", () => this.on().removePreview(message.msg_id))
        : null,
    ].filter(Boolean);
    const menu = h("div", { class: "popup menu-popup", role: "menu",
      "aria-label": `Message from ${message.from}` }, items);
    menu.addEventListener("keydown", (event) => {
      const index = items.indexOf(document.activeElement);
      const move = { ArrowDown: index + 1, ArrowUp: index - 1, Home: 0, End: items.length - 1 };
      if (event.key in move) {
        event.preventDefault();
        items[(move[event.key] + items.length) % items.length].focus();
      } else if (event.key === "Tab") {
        this.closePopup(false);
      }
    });
    this.openPopup(opener, menu, message.msg_id);
    items[0].focus();
  }

  openPicker(opener, view) {
    const { message } = view;
    const state = this.state;
    const mine = new Set(view.reactions.filter((r) => r.mine).map((r) => r.emoji));
    const custom = state ? sortedEmoji(state.customEmoji).map((e) => `:${e.name}:`) : [];
    const offered = [...view.reactions.map((r) => r.emoji)
      .filter((e) => !COMMON_EMOJI.includes(e) && !custom.includes(e)), ...COMMON_EMOJI];
    const choice = (emoji) => h("button", {
      type: "button", class: `emoji-choice${mine.has(emoji) ? " mine" : ""}`, tabindex: "-1",
      "aria-label": `${mine.has(emoji) ? "Take back" : "React with"} ${emoji}`, title: emoji,
      "aria-pressed": mine.has(emoji) ? "true" : "false",
      onclick: () => {
        this.closePopup(true);
        this.on().react(message.msg_id, emoji, !mine.has(emoji));
      },
    }, state ? reactionFace(state, emoji) : emoji);
    const common = offered.map(choice);
    const customButtons = custom.map(choice);
    // Arrow keys go through both sections as one grid of PICKER_COLUMNS.
    const buttons = [...common, ...customButtons];
    const picker = h("div", { class: "popup emoji-picker", role: "dialog",
      "aria-label": "Add a reaction" }, ...common,
    ...(customButtons.length ? [
      h("div", { class: "emoji-picker-section", id: "emoji-picker-custom" }, "Custom"),
      h("div", { class: "emoji-picker-custom", role: "group",
        "aria-labelledby": "emoji-picker-custom" }, ...customButtons),
    ] : []));
    picker.addEventListener("keydown", (event) => {
      const index = buttons.indexOf(document.activeElement);
      const move = { ArrowRight: index + 1, ArrowLeft: index - 1,
        ArrowDown: index + PICKER_COLUMNS, ArrowUp: index - PICKER_COLUMNS, Home: 0,
        End: buttons.length - 1 };
      if (event.key in move) {
        event.preventDefault();
        buttons[Math.min(buttons.length - 1, Math.max(0, move[event.key]))].focus();
      } else if (event.key === "Tab") {
        event.preventDefault(); // a small dialog: focus stays in it until Escape or a choice
      }
    });
    this.openPopup(opener, picker, message.msg_id);
    buttons[0].focus();
  }

  openPopup(opener, element, msgId) {
    this.closePopup(false);
    closeAnchored(false); // one popup at a time: "Read by…" of a message too (view-receipts.js)
    document.body.append(element);
    element.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation();
        this.closePopup(true);
      }
    });
    // Below the button, or above it when there is no room below; inside the window. Placed
    // through the CSSOM (the CSP allows no style attributes in markup, not this).
    const at = opener.getBoundingClientRect();
    const size = element.getBoundingClientRect();
    const below = at.bottom + 4 + size.height <= window.innerHeight;
    const top = below ? at.bottom + 4 : Math.max(4, at.top - 4 - size.height);
    const left = Math.min(Math.max(4, at.right - size.width), window.innerWidth - size.width - 4);
    element.style.top = `${Math.round(top)}px`;
    element.style.left = `${Math.round(Math.max(4, left))}px`;
    if (opener.hasAttribute("aria-expanded")) opener.setAttribute("aria-expanded", "true");
    this.popup = { element, opener, msgId };
  }

  /** Close the open popup; with `refocus`, focus goes back to what opened it. */
  closePopup(refocus) {
    const popup = this.popup;
    if (!popup) return;
    this.popup = null;
    popup.element.remove();
    if (popup.opener.hasAttribute("aria-expanded")) {
      popup.opener.setAttribute("aria-expanded", "false");
    }
    if (!refocus) return;
    if (popup.opener.isConnected && popup.opener.tabIndex >= 0) {
      popup.opener.focus();
    } else {
      // Drawn again meanwhile, or an opener kept out of the tab order: the message's button.
      const node = $("message-list").querySelector(`li[data-msg-id="${popup.msgId}"] .more`);
      if (node) node.focus();
      else $("composer-text").focus();
    }
  }

  /** Show the message the state asks to show (a reply's original): scroll to it, highlight. */
  showJump(state) {
    const { jump } = state;
    if (!jump || jump.tick === this.jumpTick) return;
    this.jumpTick = jump.tick;
    if (jump.room !== state.current || jump.msgId === null) return;
    const node = $("message-list").querySelector(`li[data-msg-id="${jump.msgId}"]`);
    if (node) showAndFlash(node);
  }
}

/**
 * Put `pieces` ([key, what it depends on, make]) in `container`, in order, after `start` (or
 * first): a piece is made again only when what it depends on changed; `make` may give null.
 */
function place(container, kept, pieces, start = null) {
  let previous = start;
  for (const [key, depends, make] of pieces) {
    const sig = JSON.stringify(depends ?? null);
    const had = kept.get(key);
    if (had && had.sig === sig) {
      if (had.element) previous = had.element;
      continue;
    }
    const element = make();
    if (had && had.element) {
      if (element) had.element.replaceWith(element);
      else had.element.remove();
    } else if (element) {
      if (previous) previous.after(element);
      else container.prepend(element);
    }
    kept.set(key, { sig, element });
    if (element) previous = element;
  }
}

/** "📌 Pinned by ann" (or by you) above a pinned message, when it was pinned in its title. */
function pinLine(pinned, me) {
  const by = typeof me === "string" && pinned.by.toLowerCase() === me.toLowerCase() ? "you"
    : pinned.by;
  return h("div", { class: "msg-pin", title: Number.isFinite(pinned.ts)
    ? `Pinned ${formatFull(pinned.ts)}` : "Pinning…" }, icon("pin"), `Pinned by ${by}`);
}

/** How a message's author is shown now: their display name and status (profiles.js). */
function authorOf(state, user) {
  const now = clock.now();
  const shown = shownUser(state.profiles, user, now);
  return { ...shown, words: shown.status ? statusWords(shown.status, now) : "" };
}

/**
 * The bookmark of a message the person saved (highlighted when its reminder is overdue): a
 * line above the message at its left, where the hover toolbar (top right) never covers it.
 */
function savedMark(saved) {
  return h("div", {
    class: `saved-mark${saved.reminded ? " overdue" : ""}`, role: "img",
    "aria-label": saved.reminded ? "Saved for later, reminder overdue" : "Saved for later",
    title: saved.reminded ? "Saved for later: the reminder is overdue"
      : Number.isFinite(saved.remindAt) ? `Saved for later: reminder ${formatFull(saved.remindAt)}`
        : "Saved for later",
  }, icon("saved"), saved.reminded ? "Saved for later · Overdue" : "Saved for later");
}

function meta(message, me, author) {
  const { status } = author;
  return h("div", { class: "msg-meta" },
    h("span", { class: `author${message.from === me ? " me" : ""}`,
      title: author.login ? `${author.name} (${author.login})` : null }, author.name),
    author.login ? h("span", { class: "login" }, author.login) : null,
    status ? h("span", { class: "status-emoji", role: "img", title: author.words,
      "aria-label": `Status: ${author.words}` }, status.emoji || "💬") : null,
    h("time", { datetime: new Date(message.ts).toISOString(), title: formatFull(message.ts) },
      formatTime(message.ts)));
}

/** What a reaction shows: a custom emoji's picture when it is one known here, else the emoji
 * (a removed custom emoji's `:name:` as text). */
function reactionFace(state, emoji) {
  const picture = pictureOf(state.customEmoji, emoji);
  return picture ? customEmojiImage(picture, document, "custom-emoji reaction-emoji")
    : h("span", { class: "emoji", "aria-hidden": "true" }, emoji);
}

function text(view, me, emoji, userGroups = null, forwarded = null) {
  if (view.deleted) return h("div", { class: "msg-text deleted-text" }, "This message was deleted");
  // The files say it all; a forward without a comment is its card alone.
  if (!view.text.trim() && (view.files.length || forwarded) && !view.saving) return null;
  // While an edit is on its way, the server has not said whom the new text mentions.
  const mentions = view.saving ? null : view.message.mentions || [];
  const group = view.saving ? null : view.message.group || null;
  return h("div", { class: `msg-text${view.deleting ? " fading" : ""}` },
    render(parse(view.text, { mentions, me, group, groupMe: groupMentions(view.message, me),
      emoji, userGroups, here: here(), keywords: view.keywords })));
}

/** This page's address without its fragment: a message's link to it opens in place. */
function here() {
  return location.origin + location.pathname + location.search;
}

function autosize(box) {
  box.rows = Math.min(10, Math.max(1, box.value.split("\n").length));
}

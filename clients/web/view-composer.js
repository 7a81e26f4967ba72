// The message box: Enter sends, Shift+Enter makes a new line, typing is announced. With a touch
// keyboard (a coarse pointer: a phone, a tablet) Enter makes a new line and the button sends
// (Ctrl or Cmd+Enter too, for a keyboard attached to a tablet). What is
// typed is the open room's draft (drafts.js): reported as it changes, and shown again when the
// room is opened again, so each room keeps its own half-typed message. The box grows with what
// it holds (up to MAX_ROWS, then it scrolls), keeps all of a long paste, counts the characters
// near the server's limit, and does not send a message over it (textlimit.js). Files attached
// in the room (view-attachments.js) go with the message: it may then have no text, and it
// waits (the button is off) until they are all uploaded.

import { $, h } from "./dom.js";
import { draftOf } from "./drafts.js";
import { currentRoom } from "./select.js";
import { lengthNote, MAX_TEXT_CHARS, tooLong } from "./textlimit.js";
import { readiness } from "./uploads.js";
import { isConversation } from "./conversations.js";
import { placeLabel } from "./alerts.js";
import { clearOutcome, runFromBox } from "./view-commands.js";

const MAX_ROWS = 8; // the box grows up to this many lines, then scrolls
const TOUCH = matchMedia("(pointer: coarse)"); // a touch keyboard: its Enter key makes a line

export class ComposerView {
  constructor() {
    this.on = {};
    this.room = null; // the room whose draft the box holds
    this.restored = 0; // the texts of refused schedules put back, as read (scheduled.js)
    this.pushed = 0; // the drafts put in from outside (another device), as read (drafts.js)
    this.maxText = MAX_TEXT_CHARS;
    this.attached = readiness([], null); // where the room's attachments stand
    const box = $("composer-text");
    $("composer").addEventListener("submit", (event) => {
      event.preventDefault();
      this.send();
    });
    box.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        if (TOUCH.matches && !event.ctrlKey && !event.metaKey) return; // a new line
        event.preventDefault();
        this.send();
      }
    });
    this.showEnterKey();
    TOUCH.addEventListener("change", () => this.showEnterKey());
    box.addEventListener("input", () => {
      clearOutcome("composer-command");
      this.autosize();
      this.showLength();
      if (this.room !== null) this.on.draft(this.room, box.value);
      if (box.value.trim()) this.on.typing();
    });
  }

  /**
   * Handlers: send(text, room) → whether it was sent (with the room's files),
   * command(text, room) → null when the text is a message, else a promise of what the slash
   * command did (view-commands.js),
   * schedule(text, room, sendAt) → whether it was asked to be sent then, typing(),
   * draft(room, text) (what the box holds now).
   */
  bind(handlers) { this.on = handlers; }

  /** Say what Enter does: the touch keyboard's key label, and the hint under the box. */
  showEnterKey() {
    const touch = TOUCH.matches;
    $("composer-text").setAttribute("enterkeyhint", touch ? "enter" : "send");
    $("composer-hint").replaceChildren(...(touch
      ? ["Enter makes a new line; the arrow button sends"]
      : [h("kbd", {}, "Enter"), " to send, ", h("kbd", {}, "Shift"), "+", h("kbd", {}, "Enter"),
        " for a new line"]));
  }

  send() {
    const box = $("composer-text");
    const room = this.room;
    // A slash command (commands.js) is carried out, not sent; "//text" sends "/text".
    if (!box.disabled && room !== null && runFromBox({ boxId: "composer-text",
      noteId: "composer-command", run: (text) => this.on.command(text, room),
      done: () => this.commandDone(room) })) return;
    if (!this.ready()) return;
    if (!this.on.send(box.value, room)) return;
    this.sent(room);
  }

  /** A command typed in the box for `room` is done: its text goes (the box's, if still shown). */
  commandDone(room) {
    if (this.room === room) this.sent(room);
    else this.on.draft(room, "");
  }

  /**
   * Schedule what the box holds for `sendAt` (ms), as Send sends it: the box is emptied (its
   * draft too) once the request went.
   */
  scheduleAt(sendAt) {
    if (!this.ready()) return;
    const box = $("composer-text");
    const room = this.room;
    if (!this.on.schedule(box.value, room, sendAt)) return;
    this.sent(room);
  }

  /** Whether what the box holds may go now (else a note under it says why not). */
  ready() {
    const box = $("composer-text");
    const attached = this.attached;
    if (box.disabled || this.room === null) return false;
    if (attached.count && !attached.ready) {
      const note = $("composer-limit");
      note.hidden = false;
      note.classList.remove("over");
      note.textContent = attached.failed
        ? "Retry or remove the files that failed, then send."
        : "The files are still uploading: send once they are done.";
      return false;
    }
    if (!box.value.trim() && !attached.ready) return false;
    if (lengthNote(box.value, this.maxText).over) {
      const note = $("composer-limit");
      note.hidden = false;
      note.textContent = tooLong(box.value, this.maxText);
      box.focus();
      return false;
    }
    return true;
  }

  /** What the box held went (sent or scheduled): it is empty now, and so is its draft. */
  sent(room) {
    const box = $("composer-text");
    box.value = "";
    this.on.draft(room, "");
    this.autosize();
    this.showLength();
  }

  /** Fit the box's height to its text, wrapped lines included: up to MAX_ROWS lines. */
  autosize() {
    const box = $("composer-text");
    box.rows = 1;
    const style = getComputedStyle(box);
    const line = parseFloat(style.lineHeight) || 20;
    const padding = parseFloat(style.paddingTop) + parseFloat(style.paddingBottom);
    const lines = Math.round((box.scrollHeight - padding) / line);
    box.rows = Math.min(MAX_ROWS, Math.max(1, lines));
    box.classList.toggle("multiline", box.rows > 1);
  }

  /** The count of characters near the limit, and past it how many are too many. */
  showLength() {
    const box = $("composer-text");
    const note = lengthNote(box.value, this.maxText);
    $("composer-limit").hidden = !note.shown;
    $("composer-limit").textContent = note.text;
    $("composer-limit").classList.toggle("over", note.over > 0);
    box.setAttribute("aria-invalid", String(note.over > 0));
  }

  render(state) {
    const room = currentRoom(state);
    const box = $("composer-text");
    const name = room ? room.name : null;
    if (state.maxText && state.maxText !== this.maxText) {
      this.maxText = state.maxText;
      this.showLength();
    }
    if (name !== this.room) {
      // Another room: its own draft replaces what the box held (already kept as the other's).
      this.room = name;
      box.value = draftOf(state, name);
      this.autosize();
      this.showLength();
    }
    if (state.draftSync.pushed !== this.pushed) {
      // A draft saved on another device (or cleared by a message sent there): the box shows
      // it, unless it holds it already (drafts.js never puts one in while its box is typed in).
      this.pushed = state.draftSync.pushed;
      const text = draftOf(state, name);
      if (name !== null && box.value !== text) {
        box.value = text;
        this.autosize();
        this.showLength();
      }
    }
    if (state.scheduled.restored !== this.restored) {
      // A refused schedule's text is back in the draft of its box: shown if the box is empty.
      this.restored = state.scheduled.restored;
      if (!box.value) {
        box.value = draftOf(state, name);
        this.autosize();
        this.showLength();
      }
    }
    // An archived room is read-only: the box is off, and says why.
    const archived = Boolean(room) && room.archived === true;
    box.disabled = !room || archived;
    $("composer-archived").hidden = !archived;
    $("composer-archived").textContent = archived
      ? `#${room.name} is archived: it is read-only. Its messages stay to be read.` : "";
    const attached = readiness(state.uploads, name);
    if (attached.ready !== this.attached.ready || attached.count !== this.attached.count) {
      this.showLength(); // a note about the files no longer holds
    }
    this.attached = attached;
    $("send").disabled = !room || archived || (attached.count > 0 && !attached.ready);
    $("send").title = attached.count && !attached.ready
      ? (attached.failed ? "Retry or remove the files that failed" : "Waiting for the uploads")
      : "Send (Enter)";
    const label = !room ? "Message" : archived ? `#${room.name} is archived`
      : isConversation(room) ? `Message ${placeLabel(state, room.name)}` // (display names)
        : `Message #${room.name}`;
    box.placeholder = label;
    box.setAttribute("aria-label", label);
  }

  focus() {
    $("composer-text").focus();
  }

  /** Empty the box and forget whose draft it held (logged out). */
  reset() {
    this.room = null;
    $("composer-text").value = "";
    this.autosize();
    this.showLength();
  }
}

// The message box: Enter sends, Shift+Enter makes a new line, typing is announced. What is
// typed stays in the textarea (the DOM's own state) until it is handed over to be sent.

import { $ } from "./dom.js";
import { currentRoom } from "./select.js";

export class ComposerView {
  constructor() {
    this.on = {};
    const box = $("composer-text");
    $("composer").addEventListener("submit", (event) => {
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
      this.autosize();
      if (box.value.trim()) this.on.typing();
    });
  }

  /** Handlers: send(text), typing(). */
  bind(handlers) { this.on = handlers; }

  send() {
    const box = $("composer-text");
    if (!box.value.trim() || box.disabled) return;
    this.on.send(box.value);
    box.value = "";
    this.autosize();
  }

  autosize() {
    const box = $("composer-text");
    box.classList.toggle("multiline", box.value.includes("\n") || box.scrollHeight > 48);
    box.rows = Math.min(8, Math.max(1, box.value.split("\n").length));
  }

  render(state) {
    const room = currentRoom(state);
    const box = $("composer-text");
    box.disabled = !room;
    $("send").disabled = !room;
    if (!room) return;
    const label = room.kind === "dm" ? `Message ${room.label}` : `Message #${room.name}`;
    box.placeholder = label;
    box.setAttribute("aria-label", label);
  }

  focus() {
    $("composer-text").focus();
  }
}

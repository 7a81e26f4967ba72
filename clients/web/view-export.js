// The "Download my data" dialog, opened from the menu under the person's name: what the latest
// export is (none yet; being made, with the messages and files so far; ready, with its size
// and when it expires, and the download link; failed, and why; expired), "Start export", and a
// refusal in words (one running already, the hour's allowance used).
//
// Over HTTP (docs/protocol.md, "Download my data"): GET /api/me/export when the dialog opens
// (404: none yet) and again every POLL_MS while an export runs and the dialog is open; POST
// /api/me/export starts one (202, its state). The download is a plain link to the signed
// `url` the server gives: the browser saves the zip itself, never through the page's memory.
// The state is export.js's. What the server sends reaches the page as text (h(), textContent).

import * as clock from "./clock.js";
import { $, h } from "./dom.js";
import {
  emptyExport, exportAsked, exportFailed, exportLoaded, exportView, POLL_MS, shouldPoll,
  startRefusal,
} from "./export.js";

export class ExportView {
  constructor() {
    this.on = {};
    this.held = emptyExport();
    this.busy = false;
    this.timer = null;
    this.returnFocus = null;
    $("export-close").addEventListener("click", () => $("export-dialog").close());
    $("export-start").addEventListener("click", () => this.start());
    $("export-dialog").addEventListener("close", () => {
      clearTimeout(this.timer);
      this.timer = null;
      const back = this.returnFocus;
      this.returnFocus = null;
      if (back && back.isConnected && !back.closest("[inert]")) back.focus();
    });
  }

  /**
   * Handlers: call(method, path, body) → a promise of the JSON answer (an ApiError with the
   * server's code, message, status and retryAfter when refused).
   */
  bind(handlers) { this.on = handlers; }

  get isOpen() {
    return $("export-dialog").open;
  }

  /** Open the dialog and ask the server how the latest export goes. */
  open() {
    if (this.isOpen) return;
    const active = document.activeElement;
    this.returnFocus = active && active !== document.body && active.isConnected ? active
      : $("me-name");
    this.held = emptyExport();
    this.say("");
    this.draw();
    $("export-dialog").showModal();
    $("export-close").focus();
    this.load();
  }

  close() {
    if (this.isOpen) $("export-dialog").close();
  }

  /** Ask again; while an export runs, once more in POLL_MS (as long as the dialog is open). */
  async load() {
    clearTimeout(this.timer);
    this.timer = null;
    const serial = exportAsked(this.held);
    try {
      exportLoaded(this.held, serial, await this.on.call("GET", "/api/me/export"));
    } catch (error) {
      if (error && error.status === 404) exportLoaded(this.held, serial, null);
      else exportFailed(this.held, serial, error && error.message);
    }
    if (!this.isOpen) return;
    this.draw();
    if (shouldPoll(this.held)) this.timer = setTimeout(() => this.load(), POLL_MS);
  }

  async start() {
    if (this.busy) return;
    this.busy = true;
    this.say("");
    this.draw();
    const serial = exportAsked(this.held);
    try {
      exportLoaded(this.held, serial, await this.on.call("POST", "/api/me/export"));
    } catch (error) {
      this.say(startRefusal(error));
      this.busy = false;
      this.load(); // (what runs, if one does, is shown)
      return;
    }
    this.busy = false;
    if (!this.isOpen) return;
    this.draw();
    $("export-close").focus();
    if (shouldPoll(this.held)) this.timer = setTimeout(() => this.load(), POLL_MS);
  }

  say(words) {
    $("export-said").textContent = words;
  }

  draw() {
    const view = exportView(this.held, clock.now());
    const box = $("export-state");
    box.dataset.kind = view.kind;
    box.setAttribute("aria-busy", String(view.kind === "running" || view.kind === "loading"));
    box.replaceChildren(h("p", {}, view.title), view.detail ? h("p", {}, view.detail) : null);
    const start = $("export-start");
    start.hidden = !view.canStart;
    start.disabled = this.busy;
    start.textContent = view.startLabel;
    const link = $("export-download");
    link.hidden = !view.url;
    if (view.url) link.href = view.url;
    else link.removeAttribute("href");
  }
}

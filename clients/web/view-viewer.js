// The larger view of an image: a modal <dialog> with the full picture (through its signed
// link), its name and size, a download link, and a close button. Escape, the close button or a
// press on the backdrop close it; focus stays inside while it is open (Tab wraps around) and
// goes back to what opened it after.
//
// Which image is open is this view's own affair (like a popup), not the state's; the link
// comes from the state (links.js) when `render` is called with it.

import * as clock from "./clock.js";
import { $ } from "./dom.js";
import { humanSize } from "./files.js";
import { linkFor } from "./links.js";

export class ViewerView {
  constructor() {
    this.on = {};
    this.file = null; // the file shown
    this.opener = null; // the element to give the focus back to
    this.shownUrl = null; // the signed url the <img> loads
    this.links = null; // the links cache, as of the last render
    const dialog = $("viewer");
    $("viewer-close").addEventListener("click", () => dialog.close());
    dialog.addEventListener("close", () => this.closed());
    dialog.addEventListener("click", (event) => {
      if (event.target === dialog) dialog.close(); // the backdrop (the dialog's own box)
    });
    dialog.addEventListener("keydown", (event) => this.trap(event));
    $("viewer-download").addEventListener("click", (event) => {
      if (!this.file) return;
      if (!this.links || !linkFor(this.links, this.file.id, clock.now())) {
        event.preventDefault();
        this.on.download(this.file);
      }
    });
    $("viewer-image").addEventListener("load", () => {
      $("viewer").classList.remove("loading");
      $("viewer-status").textContent = "";
    });
    $("viewer-image").addEventListener("error", () => {
      if (!this.file || !this.shownUrl) return;
      $("viewer").classList.remove("loading");
      $("viewer-status").textContent = "The image could not be loaded.";
    });
  }

  /** Handlers: wantLinks(ids), download(file). */
  bind(handlers) { this.on = handlers; }

  get isOpen() {
    return this.file !== null;
  }

  /** Show `file` (an image with width and height), opened from `opener`. */
  open(file, opener) {
    const dialog = $("viewer");
    this.file = file;
    this.opener = opener;
    this.shownUrl = null;
    const image = $("viewer-image");
    image.removeAttribute("src");
    image.alt = file.name;
    image.width = file.width;
    image.height = file.height;
    $("viewer-title").textContent = file.name;
    $("viewer-size").textContent = `${humanSize(file.size)} · ${file.width} × ${file.height}`;
    $("viewer-download").href = file.url;
    $("viewer-download").download = file.name;
    $("viewer-status").textContent = "Loading…";
    dialog.classList.add("loading");
    if (!dialog.open) dialog.showModal();
    $("viewer-close").focus();
    this.on.wantLinks([file.id]);
  }

  render(state, now) {
    this.links = state.links;
    if (!this.file) return;
    const link = linkFor(state.links, this.file.id, now);
    if (!link) return;
    $("viewer-download").href = link.url;
    if (this.shownUrl === null) {
      this.shownUrl = link.url;
      $("viewer-image").src = link.url;
    }
  }

  close() {
    if ($("viewer").open) $("viewer").close();
  }

  closed() {
    const opener = this.opener;
    this.file = null;
    this.opener = null;
    this.shownUrl = null;
    $("viewer-image").removeAttribute("src");
    if (opener && opener.isConnected) opener.focus();
    else $("composer-text").focus();
  }

  /** Tab and Shift+Tab go round the dialog's controls. */
  trap(event) {
    if (event.key !== "Tab") return;
    const controls = [...$("viewer").querySelectorAll("a[href], button:not(:disabled)")];
    if (!controls.length) return;
    const first = controls[0];
    const last = controls[controls.length - 1];
    if (event.shiftKey && document.activeElement === first) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && document.activeElement === last) {
      event.preventDefault();
      first.focus();
    }
  }
}

// Attaching files in the message box: the paperclip button (a file input), dropping files on
// the conversation (a drop zone shows while they are dragged over it), and pasting an image (a
// screenshot) into the box. Each attached file is a chip above the text: a small preview for an
// image (drawn here from the local file, as a data: URL, which the page's CSP allows), else its
// type; its name and size; a progress bar while it uploads; why it failed, with Retry when
// another attempt may help; and a button that removes it.
//
// The uploads themselves are the state's (uploads.js) and the controller's (the bytes, the
// XMLHttpRequest): this view hands the files over (`attach`) and draws the chips from the
// state. Chips are kept by key and changed in place, so a progress event does not take the
// focus from a button or read a chip out again; what finished or failed is said once in a
// polite live region.
//
// A file kept across a reload (drafts.js) has no local file to draw: an image's chip shows
// its thumbnail through a signed link, asked for and renewed as the message list does for
// the files it draws (links.js, view-files.js).

import * as clock from "./clock.js";
import { $, h } from "./dom.js";
import { describe, fitBox, humanSize, pastedFiles } from "./files.js";
import { linkFor } from "./links.js";
import { currentRoom } from "./select.js";
import { fraction, inRoom } from "./uploads.js";
import { fileIcon, typeBadge } from "./view-files.js";
import { isConversation } from "./conversations.js";
import { placeLabel } from "./alerts.js";

const PREVIEW_PX = 96; // the longer side of a chip's preview, in device pixels
const PREVIEW_MAX_BYTES = 32 * 1024 * 1024; // larger images get no local preview
const PREVIEW_TYPES = /^image\/(png|jpeg|gif|webp|bmp|avif)$/;

export class AttachmentsView {
  constructor() {
    this.on = {};
    this.room = null; // the open room, if files may be attached there
    this.roomLabel = "";
    this.chips = new Map(); // key -> {li, parts…, status}
    this.previews = new Map(); // key -> data: URL (or null: none), once drawn
    this.linksVersion = -1; // the links cache's version when links were last wanted
    this.wanted = new Set(); // the file ids whose links were last wanted
    this.depth = 0; // dragenter minus dragleave over the conversation
    const input = $("attach-input");
    $("attach").addEventListener("click", () => input.click());
    input.addEventListener("change", () => {
      this.take([...input.files]);
      input.value = ""; // choosing the same file again is a change too
    });
    $("composer-text").addEventListener("paste", (event) => this.paste(event));
    const zone = $("conversation");
    zone.addEventListener("dragenter", (event) => {
      if (!carriesFiles(event)) return;
      event.preventDefault();
      this.depth += 1;
      this.showZone(true);
    });
    zone.addEventListener("dragover", (event) => {
      if (!carriesFiles(event)) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = this.room ? "copy" : "none";
    });
    zone.addEventListener("dragleave", (event) => {
      if (!carriesFiles(event)) return;
      this.depth = Math.max(0, this.depth - 1);
      if (this.depth === 0) this.showZone(false);
    });
    zone.addEventListener("drop", (event) => {
      if (!carriesFiles(event)) return;
      event.preventDefault();
      this.depth = 0;
      this.showZone(false);
      this.take([...event.dataTransfer.files]);
    });
    // A file dropped anywhere else must not make the browser leave the page to show it.
    for (const type of ["dragover", "drop"]) {
      window.addEventListener(type, (event) => {
        if (carriesFiles(event)) event.preventDefault();
      });
    }
    window.addEventListener("dragend", () => {
      this.depth = 0;
      this.showZone(false);
    });
  }

  /**
   * Handlers: attach(files, room) → the keys the files are kept under (in order),
   * remove(key), retry(key), wantLinks(ids), linkBroken(id) (the signed links of the
   * thumbnails of files kept across a reload).
   */
  bind(handlers) { this.on = handlers; }

  showZone(shown) {
    $("drop-zone").hidden = !shown;
    $("drop-zone-text").textContent = this.room
      ? `Drop files to share them in ${this.roomLabel}`
      : "Open a room or a conversation to share files";
  }

  /** A paste into the box: files (a screenshot, copied files) are attached; text is text. */
  paste(event) {
    const files = pastedFiles(event);
    if (files) this.take(files);
  }

  take(files) {
    if (!files.length) return;
    if (!this.room) {
      this.say("Open a room or a conversation to share files.");
      return;
    }
    const keys = this.on.attach(files, this.room) || [];
    files.forEach((file, index) => {
      const key = keys[index];
      if (key && PREVIEW_TYPES.test(file.type) && file.size <= PREVIEW_MAX_BYTES) {
        preview(file).then((url) => {
          this.previews.set(key, url);
          const chip = this.chips.get(key);
          if (chip && url) chip.preview.replaceChildren(h("img", { src: url, alt: "" }));
        });
      }
    });
  }

  render(state, now = clock.now()) {
    const room = currentRoom(state);
    const usable = Boolean(room) && !room.draft && !room.archived;
    this.room = usable ? room.name : null;
    this.roomLabel = !room ? "" : isConversation(room) ? placeLabel(state, room.name)
      : `#${room.name}`;
    $("attach").disabled = !usable;
    $("attach").title = room && room.draft
      ? "Send a first message to start the conversation, then attach files"
      : "Attach files";
    const items = room ? inRoom(state.uploads, room.name) : [];
    const shown = new Set(items.map((item) => item.key));
    let lostFocus = false;
    for (const [key, chip] of this.chips) {
      if (shown.has(key)) continue;
      lostFocus ||= chip.li.contains(document.activeElement);
      chip.li.remove();
      this.chips.delete(key);
    }
    const alive = new Set(state.uploads.map((item) => item.key));
    for (const key of this.previews.keys()) if (!alive.has(key)) this.previews.delete(key);
    const list = $("attachments");
    let cursor = list.firstElementChild;
    const want = new Set();
    for (const item of items) {
      let chip = this.chips.get(item.key);
      if (!chip) {
        chip = this.chip(item);
        this.chips.set(item.key, chip);
      }
      this.update(chip, item);
      this.thumbnail(chip, item, state.links, now, want);
      if (chip.li !== cursor) list.insertBefore(chip.li, cursor);
      else cursor = cursor.nextElementSibling;
    }
    list.hidden = items.length === 0;
    if (lostFocus) this.refocus();
    // Wanted again whenever the cache changed (so that what is drawn is renewed), and for
    // each file newly drawn; never from inside a render.
    const fresh = [...want].some((id) => !this.wanted.has(id));
    if (want.size && (fresh || state.links.version !== this.linksVersion)) {
      this.linksVersion = state.links.version;
      queueMicrotask(() => this.on.wantLinks([...want]));
    }
    this.wanted = want;
  }

  /**
   * An uploaded image with no local preview (kept across a reload): its thumbnail, through a
   * signed link once the state has one (its id goes into `want` meanwhile, and after).
   */
  thumbnail(chip, item, links, now, want) {
    const file = item.file;
    if (!item.kept || !file || !file.thumbnail_url) return;
    want.add(file.id);
    const link = linkFor(links, file.id, now);
    const src = link && link.thumbnail_url;
    if (!src || chip.thumb === src) return;
    chip.thumb = src;
    const img = h("img", { src, alt: "" });
    img.addEventListener("error", () => this.on.linkBroken(file.id), { once: true });
    chip.preview.replaceChildren(img);
  }

  chip(item) {
    const url = this.previews.get(item.key);
    const preview = h("span", { class: "att-preview" },
      url ? h("img", { src: url, alt: "" }) : typeBadge({ name: item.name,
        content_type: item.type }));
    const status = h("span", { class: "att-status" });
    const bar = h("progress", { class: "att-progress", max: "100", value: "0",
      "aria-label": `Uploading ${item.name}` });
    const retry = h("button", {
      type: "button", class: "small-button att-retry", hidden: true,
      "aria-label": `Retry uploading ${item.name}`,
      onclick: () => this.on.retry(item.key),
    }, fileIcon("retry"), "Retry");
    const remove = h("button", {
      type: "button", class: "icon small att-remove", "aria-label": `Remove ${item.name}`,
      title: "Remove", onclick: () => this.on.remove(item.key),
    }, fileIcon("close"));
    const li = h("li", { class: "attachment", dataset: { key: item.key } },
      preview,
      h("span", { class: "att-text" },
        h("span", { class: "att-name", title: item.name }, item.name), status),
      bar, retry, remove);
    return { li, preview, status, bar, retry, remove, shown: null, thumb: null };
  }

  update(chip, item) {
    const percent = Math.round(fraction(item) * 100);
    const size = humanSize(item.size);
    const text = item.status === "failed" ? item.error
      : item.status === "done" ? size
        : item.status === "queued" ? `${size} · waiting`
          : `${size} · ${percent}%`;
    if (chip.status.textContent !== text) chip.status.textContent = text;
    chip.li.className = `attachment ${item.status}${item.status === "failed" && !item.retryable
      ? " final" : ""}`;
    chip.bar.hidden = item.status === "done" || item.status === "failed";
    if (chip.bar.value !== percent) chip.bar.value = percent;
    const wasFocused = document.activeElement === chip.retry;
    chip.retry.hidden = !(item.status === "failed" && item.retryable);
    if (wasFocused && chip.retry.hidden) chip.remove.focus();
    if (chip.shown !== item.status) {
      if (item.status === "done" && chip.shown !== null) this.say(`${item.name} uploaded.`);
      if (item.status === "failed") this.say(`${item.name} was not uploaded. ${item.error}`);
      chip.shown = item.status;
    }
    chip.li.setAttribute("aria-label", item.status === "failed"
      ? `${item.name}: ${item.error}` : describe({ name: item.name, size: item.size }));
  }

  /** After a chip went away with the focus in it: the next chip, else the message box. */
  refocus() {
    const next = $("attachments").querySelector(".att-remove");
    if (next) next.focus();
    else $("composer-text").focus();
  }

  say(text) {
    $("attachments-live").textContent = text;
  }
}

function carriesFiles(event) {
  return Boolean(event.dataTransfer) && [...event.dataTransfer.types].includes("Files");
}

/** A small picture of an image file, as a data: URL (null when it cannot be drawn). */
async function preview(file) {
  try {
    const bitmap = await createImageBitmap(file);
    const box = fitBox(bitmap.width, bitmap.height, PREVIEW_PX, PREVIEW_PX);
    const canvas = document.createElement("canvas");
    canvas.width = box.width;
    canvas.height = box.height;
    canvas.getContext("2d").drawImage(bitmap, 0, 0, box.width, box.height);
    bitmap.close();
    return canvas.toDataURL("image/png");
  } catch {
    return null;
  }
}

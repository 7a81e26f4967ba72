// The files of a message in the conversation: images as previews (the server's thumbnail,
// through a signed link), which open the larger view when pressed; other files as download
// chips with a type icon, their name and size.
//
// A preview's box is sized from the image's width and height before anything loads, so the
// list does not jump when it does. The signed links come from the state (links.js): each file
// element is registered here under its file's id, and `apply` gives it its link once the link
// is there (an <img> its src, once: a renewed link is not worth loading the same picture
// again; a download chip its href, each time). The ids that lack a link are reported to
// `wantLinks`, once per registration or change of the cache, in a microtask (never while the
// views are being drawn). Without a signed link, a download goes through `download(file)` (a
// fetch with the token).
//
// Like every view, nothing here parses markup: a file's name is user data and goes into text
// nodes and attributes only.

import * as clock from "./clock.js";
import { h, svgIcon } from "./dom.js";
import { describe, extensionOf, fileKind, fitBox, humanSize, isPreviewable } from "./files.js";
import { linkFor } from "./links.js";

const ONE_IMAGE = { width: 360, height: 300 }; // the largest box of a message's only image
const SOME_IMAGES = { width: 200, height: 200 }; // each, when a message has several
const ICON_PATHS = {
  download: "M12 4v11M7 10l5 5 5-5M5 20h14",
  close: "M6 6l12 12M18 6L6 18",
  retry: "M4 12a8 8 0 0 1 14-5.3M20 4v4h-4M20 12a8 8 0 0 1-14 5.3M4 20v-4h4",
};

/** An inline SVG icon by name (decorative: hidden from screen readers). */
export function fileIcon(name) {
  return svgIcon(ICON_PATHS[name]);
}

/** The badge that says what kind of file this is: its extension on the kind's colour. */
export function typeBadge(file) {
  const kind = fileKind(file);
  const label = extensionOf(file.name).slice(0, 4).toUpperCase() || kind.toUpperCase().slice(0, 4);
  return h("span", { class: `file-type k-${kind}`, "aria-hidden": "true" }, label);
}

export class FilesView {
  /**
   * `handlers()` gives {wantLinks(ids), linkBroken(id), openImage(file, opener),
   * download(file)}.
   */
  constructor(handlers) {
    this.on = handlers;
    this.targets = new Map(); // file id -> [{kind: "thumb" | "link", el, file, ...}]
    this.fresh = []; // targets registered since the last `apply`
    this.version = -1; // the links cache's version last applied
    this.links = null; // the cache, as of the last `apply`
  }

  /** Forget every registration (the list was emptied). */
  reset() {
    this.targets.clear();
    this.fresh = [];
  }

  /** The element that shows a message's files, or null when it has none. */
  part(files) {
    if (!Array.isArray(files) || !files.length) return null;
    const images = files.filter(isPreviewable);
    const others = files.filter((file) => !isPreviewable(file));
    const most = images.length === 1 ? ONE_IMAGE : SOME_IMAGES;
    return h("div", { class: "msg-files" },
      images.length ? h("div", { class: "file-images" },
        images.map((file) => this.preview(file, most))) : null,
      others.length ? h("ul", { class: "file-list", "aria-label": "Files" },
        others.map((file) => h("li", {}, this.chip(file)))) : null);
  }

  preview(file, most) {
    const box = fitBox(file.width, file.height, most.width, most.height);
    const button = h("button", {
      type: "button", class: "file-image loading", "data-focus": `f${file.id}`,
      "aria-label": `Open the image ${describe(file)}`, title: file.name,
      onclick: (event) => this.on().openImage(file, event.currentTarget),
    });
    // Its size through the CSSOM (the CSP allows no style attributes in markup, but this):
    // the box keeps the image's shape when a narrow screen makes it smaller.
    button.style.width = `${box.width}px`;
    button.style.aspectRatio = `${box.width} / ${box.height}`;
    this.register({ kind: "thumb", el: button, file, box, img: null, retried: false });
    return button;
  }

  chip(file) {
    const link = h("a", {
      class: "file-chip", href: file.url, download: file.name, "data-focus": `f${file.id}`,
      "aria-label": `Download ${describe(file)}`, title: file.name,
    },
    typeBadge(file),
    h("span", { class: "file-text" },
      h("span", { class: "file-name" }, file.name),
      h("span", { class: "file-size" }, humanSize(file.size))),
    fileIcon("download"));
    const target = { kind: "link", el: link, file, signed: false };
    link.addEventListener("click", (event) => {
      // Without a signed link the url needs the token: fetch it with it instead.
      if (!target.signed || !this.links || !linkFor(this.links, file.id, clock.now())) {
        event.preventDefault();
        this.on().download(file);
      }
    });
    this.register(target);
    return link;
  }

  register(target) {
    const list = this.targets.get(target.file.id) || [];
    list.push(target);
    this.targets.set(target.file.id, list);
    this.fresh.push(target);
    if (this.links) this.visit(target, this.links, clock.now(), new Set());
  }

  /**
   * Give the registered elements the links the cache has now, and report the ids that lack
   * one (all the ids drawn, when the cache changed: their links are kept fresh while shown).
   */
  apply(links, now) {
    this.links = links;
    const changed = links.version !== this.version;
    if (!changed && !this.fresh.length) return;
    this.version = links.version;
    const want = new Set();
    if (changed) {
      for (const [id, list] of this.targets) {
        const kept = list.filter((target) => target.el.isConnected);
        if (kept.length) this.targets.set(id, kept);
        else this.targets.delete(id);
        for (const target of kept) this.visit(target, links, now, want);
        if (kept.length) want.add(id);
      }
    } else {
      for (const target of this.fresh) this.visit(target, links, now, want);
    }
    this.fresh = [];
    if (want.size) queueMicrotask(() => this.on().wantLinks([...want]));
  }

  visit(target, links, now, want) {
    const link = linkFor(links, target.file.id, now);
    if (!link) {
      want.add(target.file.id);
      return;
    }
    if (target.kind === "link") {
      target.el.href = link.url;
      target.signed = true;
    } else if (!target.img || target.failed) {
      this.showThumb(target, link.thumbnail_url || link.url);
    }
  }

  showThumb(target, src) {
    const { el: button, file, box } = target;
    const img = h("img", { class: "file-thumb", alt: "", width: box.width, height: box.height,
      decoding: "async", loading: "lazy" });
    img.addEventListener("load", () => {
      button.classList.remove("loading", "broken");
      target.retried = false;
    });
    img.addEventListener("error", () => {
      if (target.img !== img) return;
      if (target.retried) {
        button.classList.remove("loading");
        button.classList.add("broken");
        return;
      }
      // Expired early, or the server's key changed: one new link, then give up.
      target.retried = true;
      target.failed = true;
      this.on().linkBroken(file.id);
    });
    img.src = src;
    if (target.img) target.img.replaceWith(img);
    else button.append(img);
    target.img = img;
    target.failed = false;
  }
}

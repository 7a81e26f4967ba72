// A message's link preview card (docs/protocol.md "Link previews"): the site, the page's title
// as a link (opened in a new tab, with rel=noopener noreferrer and no referrer, so the page
// can neither reach back into this one nor learn which room linked it), the description
// (clamped to two lines by style.css) and the thumbnail the server made of the page's picture.
// The thumbnail is chatd's own file, loaded through a signed link like an attachment's
// (view-files.js registers it and gives it its link): the linked site is never asked for it.
//
// Like every view, nothing here parses markup: the title, site and description are text nodes.

import { h } from "./dom.js";
import { fitBox } from "./files.js";
import { safeHref } from "./markdown.js";

const IMAGE_BOX = { width: 112, height: 84 }; // the largest thumbnail, beside the text

/**
 * The card of `preview` (entries.js previewOf: {url, title, description, site, image}); its
 * picture, if any, is registered with `files` (a FilesView) for its signed link.
 */
export function previewCard(preview, files) {
  const href = safeHref(preview.url);
  const title = href
    ? h("a", { class: "preview-title", href, target: "_blank", rel: "noopener noreferrer",
      referrerpolicy: "no-referrer", "data-focus": "preview" }, preview.title)
    : h("span", { class: "preview-title" }, preview.title);
  let picture = null;
  if (preview.image) {
    const { id, width, height } = preview.image;
    const box = fitBox(width, height, IMAGE_BOX.width, IMAGE_BOX.height);
    picture = h("span", { class: "preview-image loading", "aria-hidden": "true" });
    // Its size through the CSSOM (the CSP allows no style attributes in markup, but this).
    picture.style.width = `${box.width}px`;
    picture.style.aspectRatio = `${box.width} / ${box.height}`;
    files.register({ kind: "thumb", el: picture, file: { id, name: "preview.webp", width, height },
      box, img: null, retried: false });
  }
  return h("div", { class: "msg-preview", role: "group", "aria-label": "Link preview" },
    h("div", { class: "preview-text" },
      preview.site ? h("div", { class: "preview-site" }, preview.site) : null,
      title,
      preview.description ? h("div", { class: "preview-description" }, preview.description)
        : null),
    picture);
}

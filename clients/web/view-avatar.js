// A person's avatar: their picture (profiles.js `avatar`, a url of this server that needs no
// token: docs/protocol.md, "Profile pictures") over their coloured initial, which shows
// when they have none, while it loads, and when it fails to load (the picture is dropped
// then, until the url changes). Drawn again with `setPicture` when the url changes: the old
// <img> goes, so a removed or replaced picture is never shown from a stale element.

import { colourClass, h } from "./dom.js";
import { initial } from "./select.js";

/** An avatar span for `user` (`extra` classes: "small"), with `url`'s picture if any. */
export function avatar(user, url, extra = "", ...children) {
  const span = h("span", { class: ["avatar", extra, colourClass(user)].filter(Boolean).join(" "),
    "aria-hidden": "true" }, initial(user), ...children);
  setPicture(span, url);
  return span;
}

/** Show `url` (or no picture: null) in the avatar `span`; nothing changes for the same url. */
export function setPicture(span, url) {
  const had = span.querySelector(":scope > img.avatar-img");
  if ((had ? had.dataset.src : null) === (url || null)) return;
  if (had) had.remove();
  span.classList.toggle("has-picture", Boolean(url));
  if (!url) return;
  const img = h("img", { class: "avatar-img", src: url, alt: "", decoding: "async",
    dataset: { src: url } });
  img.addEventListener("error", () => {
    // The initial again (the <img> stays, hidden, so the same url is not tried again).
    img.hidden = true;
    span.classList.remove("has-picture");
  });
  span.prepend(img); // under the presence dot, which comes later
}

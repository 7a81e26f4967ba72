// A side panel of the conversation (the search, the pinned messages, a thread): on a wide screen a column
// of its own in the member list's place, which stays open while its items are opened beside
// it; on narrower screens it covers the conversation and closes when an item is opened. One
// of them is open at a time (view-layout.js). Escape closes it and puts the focus back where
// it was.

import { $ } from "./dom.js";

/** Wide enough for the panel to stand beside the conversation. */
export const WIDE = matchMedia("(min-width: 1100px)");

export class SidePanel {
  /**
   * The panel is `#${name}-panel`, opened by `#${name}-open` if there is one (its aria-expanded
   * kept; the thread panel opens from messages) and closed by `#${name}-close`; the app has the class `appClass` while it is open.
   */
  constructor(name, appClass) {
    this.on = {};
    this.returnFocus = null;
    this.panel = `${name}-panel`;
    this.opener = `${name}-open`;
    this.appClass = appClass;
    $(`${name}-close`).addEventListener("click", () => this.close());
    // On a wide screen the panel stands in the member list's place: asking for the list
    // closes the panel and shows it as it was (before view-layout.js's own listener runs).
    $("toggle-members").addEventListener("click", (event) => {
      if (!this.isOpen || !WIDE.matches) return;
      event.stopImmediatePropagation();
      this.close({ refocus: false });
    }, true);
    $(this.panel).addEventListener("keydown", (event) => {
      if (event.key === "Escape" && !event.defaultPrevented) {
        event.preventDefault();
        this.close();
      }
    });
  }

  bind(handlers) { this.on = handlers; }

  get isOpen() {
    return !$(this.panel).hidden;
  }

  /** Show the panel, then put the focus where it starts (`focusFirst`). */
  open() {
    if (!this.isOpen) {
      this.returnFocus = document.activeElement;
      $(this.panel).hidden = false;
      $("app").classList.add(this.appClass);
      $(this.opener)?.setAttribute("aria-expanded", "true");
      this.on.opened(true);
    }
    this.focusFirst();
  }

  /** Where the focus goes when the panel opens: the subclass says. */
  focusFirst() {}

  /** Hide the panel; the focus goes back to where it was before (or the message box). */
  close({ refocus = true } = {}) {
    if (!this.isOpen) return;
    $(this.panel).hidden = true;
    $("app").classList.remove(this.appClass);
    $(this.opener)?.setAttribute("aria-expanded", "false");
    this.on.opened(false);
    const back = this.returnFocus;
    this.returnFocus = null;
    if (!refocus) return;
    if (back && back.isConnected && back !== document.body && !back.closest("[inert]")
        && back.getClientRects().length > 0) { // (not hidden since: the "See all" of a line gone)
      back.focus();
    } else {
      $("composer-text").focus();
    }
  }

  /** One of its items was opened: on a narrow screen the panel gives the conversation its place. */
  itemOpened() {
    if (!WIDE.matches) this.close({ refocus: false });
  }
}

// The page's frame: the sidebar and the member list as drawers on narrow screens (a column of
// their own on wide ones), the keys that move between them, and where focus goes when a room
// is opened. Only the DOM's classes hold this; it is not part of the state.
//
// A closed drawer is `inert` (as well as hidden by style.css): Tab never visits a button that is
// off screen, and a screen reader does not read it. An open drawer makes the conversation
// behind it inert, as a dialog would.

import { $ } from "./dom.js";
import { isReadAllKey } from "./readmarks.js";

export class LayoutView {
  constructor() {
    this.on = {};
    this.lastInput = "pointer";
    for (const query of [PHONE, WIDE]) query.addEventListener("change", () => this.syncInert());
    this.syncInert();
    document.addEventListener("keydown", () => { this.lastInput = "keyboard"; }, true);
    document.addEventListener("pointerdown", () => { this.lastInput = "pointer"; }, true);
    $("open-sidebar").addEventListener("click", () => {
      const open = !$("app").classList.contains("nav-open");
      this.closeDrawers();
      if (open) {
        $("app").classList.add("nav-open");
        $("open-sidebar").setAttribute("aria-expanded", "true");
        $("scrim").hidden = false;
        this.syncInert();
        const current = $("sidebar").querySelector(".side-item.current")
          || $("sidebar").querySelector(".side-item") || $("browse-rooms");
        current.focus();
      }
    });
    $("toggle-members").addEventListener("click", () => {
      if (wideLayout()) {
        const hidden = $("app").classList.toggle("members-hidden");
        $("toggle-members").setAttribute("aria-expanded", String(!hidden));
        this.syncInert();
        return;
      }
      const open = !$("app").classList.contains("members-open");
      this.closeDrawers();
      if (open) {
        $("app").classList.add("members-open");
        $("toggle-members").setAttribute("aria-expanded", "true");
        $("scrim").hidden = false;
        this.syncInert();
        $("close-members").focus();
      }
    });
    $("close-members").addEventListener("click", () => {
      if (wideLayout()) $("app").classList.add("members-hidden");
      this.closeDrawers();
      $("toggle-members").focus();
    });
    $("scrim").addEventListener("click", () => this.closeDrawers());
    document.addEventListener("keydown", (event) => {
      if (isReadAllKey(event)) {
        // Shift+Esc: "Mark all as read", as in Slack, from anywhere in the chat (a dialog
        // takes its Escape first: it closes).
        if ($("app").hidden || $("dialog").open || $("switcher").open) return;
        event.preventDefault();
        this.on.readAll();
      } else if (event.key === "Escape" && !$("dialog").open && !$("switcher").open) {
        if ($("app").classList.contains("nav-open")) {
          this.closeDrawers();
          $("open-sidebar").focus();
        } else if ($("app").classList.contains("members-open")) {
          this.closeDrawers();
          $("toggle-members").focus();
        }
      } else if (event.altKey && (event.key === "ArrowUp" || event.key === "ArrowDown")) {
        if ($("app").hidden) return;
        event.preventDefault();
        this.on.moveRoom(event.key === "ArrowUp" ? -1 : 1);
      }
    });
  }

  /** Handlers: moveRoom(step) (Alt+Up: -1, Alt+Down: 1), readAll() (Shift+Esc). */
  bind(handlers) { this.on = handlers; }

  closeDrawers() {
    $("app").classList.remove("nav-open", "members-open");
    $("open-sidebar").setAttribute("aria-expanded", "false");
    $("toggle-members").setAttribute("aria-expanded",
      String(wideLayout() && !$("app").classList.contains("members-hidden")));
    $("scrim").hidden = true;
    this.syncInert();
  }

  /** Make what is off screen (a closed drawer) or covered (by an open one) inert. */
  syncInert() {
    const app = $("app");
    const navOpen = app.classList.contains("nav-open");
    const membersOpen = app.classList.contains("members-open");
    const sidebarDrawer = PHONE.matches;
    const membersDrawer = !WIDE.matches;
    // On a phone the search panel covers the whole page (view-search.js), as the pinned
    // messages (view-pins.js), a thread (view-thread.js), the saved messages (view-saved.js),
    // the followed threads (view-threads.js), the scheduled ones (view-scheduled.js) and the
    // drafts (view-drafts.js) do, in the same place.
    const panel = app.classList.contains("searching") || app.classList.contains("pinning")
      || app.classList.contains("threading") || app.classList.contains("later")
      || app.classList.contains("inboxing") || app.classList.contains("scheduling")
      || app.classList.contains("drafting");
    const searchCovers = PHONE.matches && panel;
    $("sidebar").inert = (sidebarDrawer && !navOpen) || searchCovers;
    $("members").inert = (membersDrawer ? !membersOpen : app.classList.contains("members-hidden"))
      || panel;
    $("conversation").inert = (sidebarDrawer && navOpen) || (membersDrawer && membersOpen)
      || searchCovers;
  }

  /**
   * A room was chosen: close the drawers, then (after the current event, since a dialog that
   * closes puts focus back on its opener first) focus the message box, unless a finger chose
   * the room on a phone (no keyboard popping up then).
   */
  roomChosen() {
    this.closeDrawers();
    setTimeout(() => {
      const phone = PHONE.matches;
      if (!phone || this.lastInput === "keyboard") $("composer-text").focus();
      else $("messages").focus();
    }, 0);
  }

  /** Show the chat (or, with false, hide it). */
  showChat(shown) {
    $("app").hidden = !shown;
    if (!shown) $("banner").hidden = true;
  }
}

// The layouts of style.css: the sidebar is a drawer on a phone, the member list below WIDE.
const PHONE = matchMedia("(max-width: 760px)");
const WIDE = matchMedia("(min-width: 1100px)");

/** Whether the member list is a column of its own (else a drawer); matches style.css. */
function wideLayout() {
  return WIDE.matches;
}

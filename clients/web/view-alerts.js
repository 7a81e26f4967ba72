// Notification settings: the bell of the sidebar's header (desktop notifications and the sound,
// for this browser), and each room's level (all messages, mentions only, muted) from the bell
// of the room's header or the menu of the room in the sidebar (right click, or the context-menu
// key). Renders from the state (alerts.js); reports choices to the handlers it is bound to.
// The permission is asked for only when the person presses "Enable desktop notifications".

import { roomLabel, levelLabel, levelOf, levelsFor } from "./alerts.js";
import { $, h, svgIcon } from "./dom.js";
import { closePopup, isOpenFrom, openMenu, openPanel } from "./popup.js";
import { currentRoom } from "./select.js";

const BELL = "M6 16V11a6 6 0 0 1 12 0v5l2 2H4l2-2zM10 20a2 2 0 0 0 4 0";
const BELL_OFF = "M6 16V11a6 6 0 0 1 9.4-4.9M18 11v5l2 2H8M10 20a2 2 0 0 0 4 0M3 3l18 18";
const BELL_AT = `${BELL}M12 9.5a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3z`;
const BELL_ALL = `${BELL}M3 7.5a9 9 0 0 1 2.5-4M21 7.5a9 9 0 0 0-2.5-4`;

/** The bell drawn for a level: with waves (all), with a dot (mentions), struck out (none). */
export function bellIcon(level) {
  return svgIcon({ all: BELL_ALL, mentions: BELL_AT, none: BELL_OFF }[level] || BELL);
}

export class AlertsView {
  constructor() {
    this.on = {};
    this.state = null;
    this.drawn = null; // what the room's bell shows: [room, level]
    $("alert-settings").addEventListener("click", () => this.toggleSettings());
    $("room-notify").addEventListener("click", () => {
      const room = this.state && currentRoom(this.state);
      if (room) this.roomMenu(room.name, $("room-notify"));
    });
  }

  /**
   * Handlers: enableDesktop() (asks the browser, from this click), setAlerts({desktop?,
   * sound?}), setNotify(room, level), permission() → the browser's permission now.
   */
  bind(handlers) { this.on = handlers; }

  render(state) {
    this.state = state;
    const room = currentRoom(state);
    const button = $("room-notify");
    button.hidden = !room || room.draft;
    if (room && !room.draft) {
      const level = levelOf(room);
      if (!this.drawn || this.drawn[0] !== room.name || this.drawn[1] !== level) {
        this.drawn = [room.name, level];
        button.replaceChildren(bellIcon(level));
        button.setAttribute("aria-label", `Notifications for ${roomLabel(room)}: ${
          levelLabel(level)}`);
        button.title = `Notifications: ${levelLabel(level)}`;
        button.dataset.level = level;
      }
    }
    if (this.panel && this.panel.isConnected
        && JSON.stringify(state.alerts) !== this.panel.chatdSig) this.fillSettings();
  }

  /** The menu of a room's levels, under `opener` (or at `point` for a context menu). */
  roomMenu(name, opener, point = null) {
    const room = this.state && this.state.rooms.get(name);
    if (!room || room.draft) return;
    if (!point && isOpenFrom(opener)) {
      closePopup(true);
      return;
    }
    const level = levelOf(room);
    openMenu(opener, {
      label: `Notifications for ${roomLabel(room)}`,
      point,
      // The sidebar is drawn anew on every change: its room's button of the moment.
      back: () => (opener.isConnected ? opener : [...document.querySelectorAll(
        "#sidebar li[data-room]")].find((li) => li.dataset.room === name)
        ?.querySelector("button") || $("composer-text")),
      items: levelsFor(room).map((choice) => ({
        label: levelLabel(choice), value: choice, checked: choice === level,
        run: () => this.on.setNotify(room.name, choice),
      })),
    });
  }

  toggleSettings() {
    const opener = $("alert-settings");
    if (isOpenFrom(opener)) {
      closePopup(true);
      return;
    }
    this.panel = h("div", { class: "popup alert-panel", role: "dialog",
      "aria-labelledby": "alert-panel-title" });
    openPanel(opener, this.panel, () => { this.panel = null; });
    this.fillSettings();
    this.panel.querySelector("button, input")?.focus();
  }

  /** Draw the settings panel again from the state (keeping the focus on the same control). */
  fillSettings() {
    const panel = this.panel;
    const settings = this.state.alerts;
    const focused = panel.contains(document.activeElement) ? document.activeElement.id : null;
    const permission = settings.permission;
    panel.chatdSig = JSON.stringify(settings);
    const desktop = [];
    if (permission === "unsupported") {
      desktop.push(h("p", { class: "hint" }, "This browser cannot show notifications."));
    } else if (permission === "denied") {
      desktop.push(h("p", { class: "hint", id: "alert-blocked" },
        "Notifications are blocked for this site: allow them in the browser's site settings, "
        + "then come back here."));
    } else if (permission === "granted") {
      desktop.push(h("label", { class: "check" },
        h("input", { type: "checkbox", id: "alert-desktop", checked: settings.desktop,
          onchange: (event) => this.on.setAlerts({ desktop: event.target.checked }) }),
        " Desktop notifications"));
    } else {
      desktop.push(h("button", { type: "button", class: "primary small-primary",
        id: "alert-enable", onclick: () => this.on.enableDesktop() },
      "Enable desktop notifications"));
    }
    panel.replaceChildren(
      h("h2", { id: "alert-panel-title" }, "Notifications"),
      h("p", { class: "hint" }, "For direct messages and mentions, and every message of the "
        + "rooms set to all messages, on this device."),
      ...desktop,
      h("label", { class: "check" },
        h("input", { type: "checkbox", id: "alert-sound", checked: settings.sound,
          onchange: (event) => this.on.setAlerts({ sound: event.target.checked }) }),
        " Play a sound"),
      h("p", { class: "hint" }, "Each room has its own setting: the bell in its header, or "
        + "its menu in the list (right-click, or a long press)."));
    if (focused && $(focused)) $(focused).focus();
    else if (focused === "alert-enable") panel.querySelector("input, button")?.focus();
  }
}

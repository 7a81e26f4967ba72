// Notification settings: the bell of the sidebar's header (desktop notifications and the sound,
// for this browser), and each room's level (all messages, mentions only, muted) from the bell
// of the room's header or the menu of the room in the sidebar (right click, or the context-menu
// key). Renders from the state (alerts.js); reports choices to the handlers it is bound to.
// The permission is asked for only when the person presses "Enable desktop notifications".
// A conversation's menu (the same, from its header's bell or its item in the sidebar) ends
// with "Add to favourites" (or "Remove from favourites": favourites.js), "Move to…" (the
// person's sections: view-sections.js; a favourite too, as the server allows: it stays listed
// in Favourites, in its section once unstarred) and "Close conversation" (hiding.js; not for a
// favourite).
// The same panel pauses every notification for a while, on every device (do not disturb:
// alerts.js); while paused the sidebar's bell is struck out and "until 14:30" shows under
// the person's name.

import {
  customUntil, levelLabel, levelOf, levelsFor, MAX_PAUSE_MS, MORNING_HOUR, PAUSES, paused,
  pauseText, roomLabel, tomorrowAt,
} from "./alerts.js";
import * as clock from "./clock.js";
import { $, h, svgIcon } from "./dom.js";
import { closePopup, isOpenFrom, openMenu, openPanel } from "./popup.js";
import { currentRoom } from "./select.js";
import { canClose } from "./hiding.js";
import { isFavourite } from "./favourites.js";

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
    this.pauseDrawn = undefined; // what the sidebar's bell and name say of a pause: its text
    $("alert-settings").addEventListener("click", () => this.toggleSettings());
    $("room-notify").addEventListener("click", () => {
      const room = this.state && currentRoom(this.state);
      if (room) this.roomMenu(room.name, $("room-notify"));
    });
  }

  /**
   * Handlers: enableDesktop() (asks the browser, from this click), setAlerts({desktop?,
   * sound?}), setNotify(room, level), favourite(room, on), moveTo(room, opener, point) (its
   * "Move to…" menu), closeConversation(room),
   * permission() → the browser's permission now, pause({duration} | {until}), resume().
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
    this.drawPause(state);
    if (this.panel && this.panel.isConnected && this.signature() !== this.panel.chatdSig) {
      this.fillSettings();
    }
  }

  /** What the settings panel shows depends on: drawn again when it changes. */
  signature() {
    const now = clock.now();
    const until = paused(this.state, now) ? this.state.dndUntil : null;
    return JSON.stringify([this.state.alerts, until]);
  }

  /** The sidebar's bell, struck out while paused, and "until 14:30" under the name. */
  drawPause(state) {
    const now = clock.now();
    const text = paused(state, now) ? pauseText(state.dndUntil, now) : null;
    if (text === this.pauseDrawn) return;
    this.pauseDrawn = text;
    const bell = $("alert-settings");
    bell.replaceChildren(bellIcon(text ? "none" : ""));
    bell.dataset.paused = text ? "true" : "false";
    bell.title = text ? `Notifications paused ${text}` : "Notifications";
    bell.setAttribute("aria-label", text ? `Notification settings: paused ${text}`
      : "Notification settings");
    const line = $("me-dnd");
    line.hidden = !text;
    // Short, beside the struck-out bell: the line is as narrow as the name.
    line.textContent = text || "";
    line.title = text ? `Notifications paused ${text}` : "";
  }

  /**
   * A room's menu ("Options for #general"): its notification levels, then "Add to favourites"
   * (or "Remove…") and, for a conversation, "Close conversation"; under `opener` (or at `point`
   * for a context menu).
   */
  roomMenu(name, opener, point = null) {
    const room = this.state && this.state.rooms.get(name);
    if (!room || room.draft) return;
    if (!point && isOpenFrom(opener)) {
      closePopup(true);
      return;
    }
    const level = levelOf(room);
    const items = levelsFor(room).map((choice) => ({
      label: levelLabel(choice), value: choice, checked: choice === level,
      run: () => this.on.setNotify(room.name, choice),
    }));
    const starred = isFavourite(room);
    items.push({ label: starred ? "Remove from favourites" : "Add to favourites",
      run: () => this.on.favourite(room.name, !starred) });
    if (this.state.sections.supported) {
      // A favourite too: it stays in Favourites, and shows in its section once unstarred.
      items.push({ label: "Move to…", run: () => this.on.moveTo(room.name, opener, point) });
    }
    if (canClose(room)) {
      items.push({ label: "Close conversation", run: () => this.on.closeConversation(room.name) });
    }
    openMenu(opener, {
      // Named for what it holds: the levels, and favourite and close actions.
      label: `Options for ${roomLabel(room)}`,
      point,
      // The sidebar is drawn anew on every change: its room's button of the moment.
      back: () => (opener.isConnected ? opener : [...document.querySelectorAll(
        "#sidebar li[data-room]")].find((li) => li.dataset.room === name)
        ?.querySelector("button") || $("composer-text")),
      items,
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
    panel.chatdSig = this.signature();
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
        + "its menu in the list (right-click, or a long press)."),
      ...this.pauseControls());
    if (focused && $(focused)) $(focused).focus();
    else if (focused && focused.startsWith("dnd-")) {
      panel.querySelector("#dnd-resume, #dnd-30m")?.focus(); // paused or resumed meanwhile
    }
    else if (focused === "alert-enable") panel.querySelector("input, button")?.focus();
  }

  /** "Pause notifications" (every device): the presets and a custom time, or "Resume". */
  pauseControls() {
    const now = clock.now();
    const heading = h("h3", { id: "dnd-title" }, "Pause notifications");
    if (paused(this.state, now)) {
      return [heading,
        h("p", { class: "dnd-state", id: "dnd-state" },
          `Paused on every device ${pauseText(this.state.dndUntil, now)}.`),
        h("button", { type: "button", class: "primary small-primary", id: "dnd-resume",
          onclick: () => this.on.resume() }, "Resume notifications")];
    }
    const ids = ["dnd-30m", "dnd-1h", "dnd-2h"];
    const presets = PAUSES.map((choice, i) => h("button", { type: "button", class: "dnd-choice",
      id: ids[i], onclick: () => this.on.pause({ duration: choice.duration }) }, choice.label));
    const morning = `${String(MORNING_HOUR).padStart(2, "0")}:00`;
    presets.push(h("button", { type: "button", class: "dnd-choice", id: "dnd-tomorrow",
      onclick: () => this.on.pause({ until: tomorrowAt(clock.now()) }) },
    `Until tomorrow ${morning}`));
    // A custom end, local time, within the week the server takes.
    const local = (ms) => {
      const d = new Date(ms);
      const pad = (n) => String(n).padStart(2, "0");
      return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${
        pad(d.getHours())}:${pad(d.getMinutes())}`;
    };
    const input = h("input", { type: "datetime-local", id: "dnd-custom",
      "aria-label": "Pause until", min: local(now), max: local(now + MAX_PAUSE_MS) });
    const custom = h("form", { class: "dnd-custom", onsubmit: (event) => {
      event.preventDefault();
      const until = customUntil(input.value, clock.now());
      if (until === null) {
        input.setCustomValidity("Choose a time ahead, within a week.");
        input.reportValidity();
        return;
      }
      input.setCustomValidity("");
      this.on.pause({ until });
    } }, input, h("button", { type: "submit", id: "dnd-custom-go" }, "Pause"));
    return [heading, h("p", { class: "hint" }, "No notification, sound or push on any device "
      + "until then; rooms keep their settings."),
    h("div", { class: "dnd-choices", role: "group", "aria-labelledby": "dnd-title" }, ...presets),
    custom];
  }
}

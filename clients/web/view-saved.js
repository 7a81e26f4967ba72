// Saved messages ("Later", as Slack calls it): the sidebar's bookmark button, with the count of
// overdue reminders, and the "Saved" panel it opens: what the person saved, the latest saved
// first (room, sender, time, the start of the text, the reminder: "in 2 h", or "Overdue"
// highlighted), "More saved messages", and per item a reminder menu (presets, a custom time,
// none) and "Done" (removed from the saved messages). An item opens its message in its room,
// scrolled to and highlighted, as a search result does. Renders from the state (saved.js).
//
// The panel takes the search panel's place (view-panel.js): a column of its own on a wide
// screen, over the conversation on narrower ones. Also here: the reminder menu the messages'
// menus open, the custom time's field, and the fields of "New reminder" (a reminder of
// anything, written to the notes to self: reminders.js); the dialogs are the controller's.

import { placeLabel } from "./alerts.js";
import { $, drawKeyed, formatDay, formatFull, formatTime, h, svgIcon } from "./dom.js";
import { openMenu } from "./popup.js";
import { displayName } from "./profiles.js";
import {
  dueCount, localValue, PRESETS, presetTime, reminderText, shownItems, statusText,
} from "./saved.js";
import { CUSTOM, isNoteToSelf } from "./reminders.js";
import { listExcerpt } from "./select-messages.js";
import { SidePanel } from "./view-panel.js";

/** The bookmark drawn on the button, in the menus and on a saved message. */
export const SAVED_ICON = "M7 4h10v16l-5-4-5 4z";

/** The person's time zone (an IANA name), as the browser says it; UTC when it says none. */
export function timeZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch {
    return "UTC";
  }
}

/**
 * Open the reminder menu under `opener`: the presets (their times at `now`), "Custom date and
 * time…", and "No reminder" when there is one. `pick(remindAt)` gets the time chosen (ms, or
 * null for none); `custom()` asks for a time of the person's own.
 */
export function reminderMenu(opener, { now, current = null, pick, custom }) {
  const items = presetChoices(now).map(({ label, key, at }) => ({ label, value: key,
    run: () => pick(at) }));
  items.push({ label: "Custom date and time…", value: "custom", run: () => custom() });
  if (current !== null) items.push({ label: "No reminder", value: "none", run: () => pick(null) });
  return openMenu(opener, { label: "Remind me about this", items });
}

/** The reminder presets at `now`, as the menus say them: [{key, label, at}]. */
function presetChoices(now) {
  const zone = timeZone();
  return PRESETS.map((preset) => {
    const at = presetTime(preset.key, now, zone);
    const when = preset.key === "tomorrow" || preset.key === "monday" ? ""
      : ` (${formatTime(at)})`;
    return { key: preset.key, label: `${preset.label}${when}`, at };
  });
}

/**
 * The "New reminder" dialog's fields (a reminder of anything, reminders.js): "Remind me to…"
 * (the text), "When" (the presets at `now`, or "Custom date and time…", which shows the custom
 * time's field), and a line that says when the request waits for the connection. Returns
 * {fields, read() → {text, when, custom}, waiting(shown)}.
 */
export function newReminderFields(now) {
  const text = h("textarea", { id: "reminder-text", name: "reminder-text", rows: "3",
    required: true, placeholder: "e.g. call the bank", autocomplete: "off" });
  const when = h("select", { id: "reminder-when", name: "reminder-when" },
    ...presetChoices(now).map(({ key, label }) => h("option", { value: key }, label)),
    h("option", { value: CUSTOM }, "Custom date and time…"));
  when.value = "1h";
  const { input, fields: customFields } = customField(now);
  const custom = h("div", { class: "reminder-custom", hidden: true }, customFields);
  const showCustom = () => {
    custom.hidden = when.value !== CUSTOM;
    input.disabled = custom.hidden; // (a hidden field is not checked)
  };
  when.addEventListener("change", showCustom);
  showCustom();
  const wait = h("p", { class: "hint", id: "reminder-waiting", role: "status", hidden: true });
  return {
    fields: [h("label", { for: "reminder-text" }, "Remind me to…"), text,
      h("label", { for: "reminder-when" }, "When"), when, custom, wait],
    read: () => ({ text: text.value, when: when.value, custom: input.value }),
    waiting: (shown) => {
      wait.hidden = !shown;
      wait.textContent = shown
        ? "Not connected: the reminder is sent once the page is back online." : "";
    },
  };
}

/** The custom time's field for the dialog: a datetime-local input, tomorrow 9:00 at first. */
export function customField(now, current = null) {
  const zone = timeZone();
  const start = current !== null && current > now ? current : presetTime("tomorrow", now, zone);
  const input = h("input", { type: "datetime-local", id: "reminder-custom", required: true,
    value: localValue(start, zone), min: localValue(now, zone) });
  return { input, fields: [h("label", { for: "reminder-custom" }, "Remind me on"), input,
    h("p", { class: "hint" }, `Your time (${zone}). At most a year ahead.`)] };
}

export class SavedView extends SidePanel {
  constructor() {
    super("saved", "later");
    this.shownOpens = -1; // the opening whose items the panel holds
    this.drawn = null; // what the sidebar's button shows: [supported, count]
    $("saved-open").addEventListener("click", () => (this.isOpen ? this.close() : this.open()));
    $("saved-more").addEventListener("click", () => this.on.more());
    $("saved-retry").addEventListener("click", () => this.on.retry());
    $("saved-new").addEventListener("click", () => this.on.newReminder());
    $("saved-others").addEventListener("click", () => this.on.forOthers());
  }

  // Handlers (bind): opened(shown), more(), retry(), openItem(item), done(item),
  // remind(item, opener), newReminder() (the "New reminder" dialog), forOthers() (the
  // reminders set for others: view-remindersset.js).

  focusFirst() {
    $("saved-close").focus();
  }

  render(state, now) {
    this.renderButton(state);
    if (!this.isOpen) return;
    const { saved } = state;
    const list = $("saved-list");
    if (saved.opens !== this.shownOpens) {
      this.shownOpens = saved.opens;
      list.replaceChildren();
      $("saved-scroll").scrollTop = 0;
    }
    const items = shownItems(saved);
    const focused = list.contains(document.activeElement);
    drawKeyed(list, items.slice(0, saved.shown).map((item) => {
      const shown = this.shownItem(state, item, now);
      return { key: `${item.room}\n${item.msg_id}`, sig: JSON.stringify(shown),
        build: () => this.item(item, shown) };
    }));
    if (focused && !list.contains(document.activeElement)) $("saved-close").focus();
    $("saved-status").textContent = statusText(saved);
    $("saved-status").classList.toggle("failed", saved.status === "failed");
    const more = $("saved-more");
    more.hidden = items.length <= saved.shown;
    $("saved-retry").hidden = saved.status !== "failed";
  }

  /** The sidebar's button: shown when the server keeps saved messages, with the overdue count. */
  renderButton(state) {
    const button = $("saved-open");
    const { supported } = state.saved;
    const count = supported ? dueCount(state.saved) : 0;
    if (this.drawn && this.drawn[0] === supported && this.drawn[1] === count) return;
    this.drawn = [supported, count];
    button.hidden = !supported;
    if (!supported && this.isOpen) this.close({ refocus: false });
    button.replaceChildren(svgIcon(SAVED_ICON), ...(count ? [h("span", { id: "saved-count",
      class: "saved-count" }, count > 99 ? "99+" : String(count))] : []));
    const overdue = `${count} overdue ${count === 1 ? "reminder" : "reminders"}`;
    button.setAttribute("aria-label", count ? `Saved for later: ${overdue}` : "Saved for later");
    button.title = "Saved for later";
    // On a phone the button is in the sidebar's drawer, hidden until it opens: the drawer's
    // own button (the conversation's header) shows the count too, with the bookmark.
    const drawer = $("menu-saved");
    drawer.hidden = !count;
    drawer.replaceChildren(...(count ? [svgIcon(SAVED_ICON),
      count > 99 ? "99+" : String(count)] : []));
    $("open-sidebar").setAttribute("aria-label", count
      ? `Show rooms and people (${overdue})` : "Show rooms and people");
  }

  /** What an item shows (its signature): the message as the page holds it, the reminder. */
  shownItem(state, item, now) {
    const room = state.rooms.get(item.room);
    const held = room && room.byMsgId(item.msg_id);
    const message = held || item.message;
    return {
      where: isNoteToSelf(item.room, state.me) ? "Notes to self" : placeLabel(state, item.room),
      from: message ? displayName(state.profiles, message.from) : "",
      ts: message ? message.ts : null,
      text: !message ? "The message is not loaded yet."
        : message.deleted ? "This message was deleted."
          : listExcerpt(message),
      deleted: Boolean(message && message.deleted),
      remind: reminderText(item, now) + (item.set_by && reminderText(item, now)
        ? ` · set by ${displayName(state.profiles, item.set_by)}` : ""),
      remindAt: item.remind_at,
      reminded: Boolean(item.reminded),
      saving: Boolean(item.saving),
    };
  }

  item(item, shown) {
    const remind = shown.remind ? h("span", {
      class: `saved-remind${shown.reminded ? " overdue" : ""}`,
      title: Number.isFinite(shown.remindAt) ? `Reminder: ${formatFull(shown.remindAt)}` : null,
    }, svgIcon("M12 21a8 8 0 1 1 0-16 8 8 0 0 1 0 16zM12 9v4l2.5 2.5"), shown.remind) : null;
    return h("li", { class: `saved-item${shown.reminded ? " overdue" : ""}`,
      dataset: { room: item.room, msgId: String(item.msg_id) } },
    h("button", {
      type: "button", class: "result", dataset: { focus: "open" },
      "aria-label": `${shown.from} in ${shown.where}: ${shown.text}${shown.remind
        ? `. Reminder: ${shown.remind}` : ""}. Show it in the conversation`,
      onclick: () => this.on.openItem(item),
    },
    h("span", { class: "result-head" },
      h("span", { class: "result-room" }, shown.where),
      shown.from ? h("strong", { class: "result-from" }, shown.from) : null,
      Number.isFinite(shown.ts) ? h("time", { title: formatFull(shown.ts) },
        `${formatDay(shown.ts)} ${formatTime(shown.ts)}`) : null),
    h("span", { class: `result-text${shown.deleted ? " deleted-text" : ""}` }, shown.text),
    remind),
    h("span", { class: "saved-actions" },
      h("button", {
        type: "button", class: "small-button saved-reminder", dataset: { focus: "remind" },
        "aria-haspopup": "menu", title: "Set or change the reminder",
        "aria-label": `Reminder for the message from ${shown.from || "someone"}`,
        onclick: (event) => this.on.remind(item, event.currentTarget),
      }, "Remind"),
      h("button", {
        type: "button", class: "small-button saved-done", dataset: { focus: "done" },
        title: "Done: remove it from the saved messages",
        "aria-label": `Done with the message from ${shown.from || "someone"}`,
        onclick: () => this.on.done(item),
      }, "Done")));
  }
}

/**
 * An alert in the page for a reminder that came (state.js `remind`): its title and the start of
 * the message, "Show" (`open()`) and a close button. It stays until one of them is pressed, and
 * one told again replaces it.
 */
export function showReminder(told, open) {
  const id = `reminder-${told.room}-${told.msgId}`.replace(/[^A-Za-z0-9_-]/g, "_");
  const held = document.getElementById(id);
  if (held) held.remove();
  const close = () => item.remove();
  const item = h("div", { class: "toast reminder-alert", id, role: "alert" },
    svgIcon("M12 21a8 8 0 1 1 0-16 8 8 0 0 1 0 16zM12 9v4l2.5 2.5M5 3L2 6M19 3l3 3"),
    h("span", { class: "reminder-text" }, h("strong", {}, told.title), told.body),
    h("button", { type: "button", class: "small-button reminder-show", onclick: () => {
      close();
      open();
    } }, "Show"),
    h("button", { type: "button", class: "icon small reminder-close",
      "aria-label": "Close the reminder", title: "Close", onclick: close },
    svgIcon("M6 6l12 12M18 6L6 18")));
  $("toasts").append(item);
}

// Scheduled messages: the clock beside Send (in the room's box and in a thread's) opening the
// "Schedule for later" menu (Tomorrow at 9:00, Monday at 9:00, Custom time…, computed in the
// person's time zone), the line under a box once a message is scheduled from it ("Scheduled
// for Tue 9:00 · See all"), the sidebar's button with the count (the failed ones in red), and
// the "Scheduled" panel it opens: the person's scheduled messages, the soonest first (room,
// the start of the text, when), each with Send now, Reschedule…, Edit and Delete, a failed one
// marked with why it was not sent. Renders from the state (scheduled.js).
//
// The panel takes the search panel's place (view-panel.js), as the saved messages do. The
// custom time's fields (a date and a time) are here; the dialogs are the controller's (Delete
// asks first, in the page's dialog, as Slack does).

import { placeLabel } from "./alerts.js";
import { $, drawKeyed, formatFull, h, svgIcon } from "./dom.js";
import { openMenu } from "./popup.js";
import {
  counts, lastFor, presetAt, PRESETS, shownItems, statusText, whenText,
} from "./scheduled.js";
import { localValue } from "./saved.js";
import { excerpt, filesSummary } from "./select-messages.js";
import { timeZone } from "./view-saved.js";
import { SidePanel } from "./view-panel.js";

/** The clock drawn on the buttons. */
export const CLOCK_ICON = "M12 21a8 8 0 1 1 0-16 8 8 0 0 1 0 16zM12 9v4l2.5 2.5";

/**
 * Open the "Schedule for later" menu under `opener`: the presets (their times at `now`), then
 * "Custom time…". `pick(sendAt)` gets the time chosen; `custom()` asks for one.
 */
export function scheduleMenu(opener, { now, label = "Schedule for later", pick, custom }) {
  const zone = timeZone();
  const items = PRESETS.map((preset) => {
    const at = presetAt(preset.key, now, zone);
    return { label: preset.label, value: preset.key, run: () => pick(at) };
  });
  items.push({ label: "Custom time…", value: "custom", run: () => custom() });
  return openMenu(opener, { label, items });
}

/**
 * The custom time's fields for a dialog: a date and a time input, at `start` (ms) at first
 * (tomorrow at 9:00 when none). `read()` gives the time they say (the caller checks it).
 */
export function timeFields(now, start = null) {
  const zone = timeZone();
  const at = start !== null && start > now ? start : presetAt("tomorrow", now, zone);
  const [date, time] = localValue(at, zone).split("T");
  const dateInput = h("input", { type: "date", id: "schedule-date", required: true,
    value: date, min: localValue(now, zone).split("T")[0] });
  const timeInput = h("input", { type: "time", id: "schedule-time", required: true,
    value: time });
  return {
    dateInput,
    timeInput,
    fields: [h("label", { for: "schedule-date" }, "Day"), dateInput,
      h("label", { for: "schedule-time" }, "Time"), timeInput,
      h("p", { class: "hint" }, `Your time (${zone}). At most a year ahead.`)],
  };
}

export class ScheduledView extends SidePanel {
  constructor() {
    super("scheduled", "scheduling");
    this.shownOpens = -1;
    this.drawn = null; // what the sidebar's entry shows: [supported, count, failed, open]
    $("scheduled-open").addEventListener("click", () => (this.isOpen ? this.close()
      : this.open()));
    $("scheduled-retry").addEventListener("click", () => this.on.retry());
    $("schedule").addEventListener("click", (event) => this.on.menu("room",
      event.currentTarget));
    $("thread-schedule").addEventListener("click", (event) => this.on.menu("thread",
      event.currentTarget));
    for (const id of ["composer-scheduled-all", "thread-scheduled-all"]) {
      $(id).addEventListener("click", () => this.open());
    }
  }

  // Handlers (bind): opened(shown), retry(), menu(box, opener) ("room" or "thread"),
  // sendNow(item), reschedule(item, opener), edit(item), remove(item).

  focusFirst() {
    $("scheduled-close").focus();
  }

  render(state, now) {
    const { scheduled } = state;
    const zone = timeZone();
    this.renderButton(scheduled);
    this.renderLines(state, now, zone);
    if (!this.isOpen) return;
    const list = $("scheduled-list");
    if (scheduled.opens !== this.shownOpens) {
      this.shownOpens = scheduled.opens;
      list.replaceChildren();
      $("scheduled-scroll").scrollTop = 0;
    }
    const focused = list.contains(document.activeElement);
    drawKeyed(list, shownItems(scheduled).map((item) => {
      const shown = this.shownItem(state, item, now, zone);
      return { key: String(item.item), sig: JSON.stringify(shown),
        build: () => this.item(item, shown) };
    }));
    if (focused && !list.contains(document.activeElement)) $("scheduled-close").focus();
    $("scheduled-status").textContent = statusText(scheduled);
    $("scheduled-status").classList.toggle("failed", scheduled.status === "failed");
    $("scheduled-retry").hidden = scheduled.status !== "failed";
  }

  /** The sidebar's entry (with the count: red when some failed) and the boxes' clocks. */
  renderButton(scheduled) {
    const { supported } = scheduled;
    $("schedule").hidden = !supported;
    $("schedule").disabled = $("send").disabled;
    $("thread-schedule").hidden = !supported;
    $("thread-schedule").disabled = $("thread-send").disabled || $("thread-text").disabled;
    const { count, failed } = counts(scheduled);
    const open = this.isOpen;
    if (this.drawn && this.drawn.join() === [supported, count, failed, open].join()) return;
    this.drawn = [supported, count, failed, open];
    const button = $("scheduled-open");
    // Under the search, while there is something scheduled (or the panel is open); the focus
    // on it when it goes (the panel closed with nothing left) goes to the message box.
    const hide = !supported || (!count && !open);
    if (hide && document.activeElement === button) $("composer-text").focus();
    button.hidden = hide;
    if (!supported && this.isOpen) this.close({ refocus: false });
    button.replaceChildren(svgIcon(CLOCK_ICON), h("span", { class: "side-search-text" },
      "Scheduled"), ...(count ? [h("span", {
      id: "scheduled-count", class: `scheduled-count${failed ? " failed" : ""}`,
    }, count > 99 ? "99+" : String(count))] : []));
    const words = count === 1 ? "1 message" : `${count} messages`;
    button.setAttribute("aria-label", !count ? "Scheduled messages"
      : `Scheduled messages: ${words}${failed ? `, ${failed} not sent` : ""}`);
    button.title = "Scheduled messages";
  }

  /** "Scheduled for Tue 9:00 · See all" under the room's box and the thread's. */
  renderLines(state, now, zone) {
    const room = state.current;
    const panel = state.threadPanel;
    const inRoom = room !== null ? lastFor(state.scheduled, room) : null;
    const inThread = panel.shown && panel.room !== null && panel.root
      ? lastFor(state.scheduled, panel.room, panel.root.msg_id) : null;
    line("composer-scheduled", inRoom, now, zone);
    line("thread-scheduled", inThread, now, zone);
  }

  /** What an item shows (its signature). */
  shownItem(state, item, now, zone) {
    return {
      where: placeLabel(state, item.room),
      text: excerpt(item.text),
      files: filesSummary(item),
      when: whenText(item.send_at, now, zone),
      full: formatFull(item.send_at),
      thread: item.thread !== null,
      failed: item.state === "failed",
      error: item.error ? item.error.message || item.error.code : "",
      busy: state.scheduled.pending.get(item.item) || "",
    };
  }

  item(item, shown) {
    const about = `the message to ${shown.where}`;
    const button = (name, label, title, run, extra = {}) => h("button", {
      type: "button", class: `small-button scheduled-${name}`, dataset: { focus: name },
      "aria-label": `${label}: ${about}`, title, disabled: shown.busy !== "",
      onclick: (event) => run(event.currentTarget), ...extra,
    }, label);
    return h("li", { class: `saved-item scheduled-item${shown.failed ? " failed" : ""}`,
      dataset: { item: String(item.item) } },
    h("div", { class: "result scheduled-body" },
      h("span", { class: "result-head" },
        h("span", { class: "result-room" }, shown.where),
        shown.thread ? h("span", { class: "scheduled-thread" }, "reply in thread") : null,
        h("time", { title: shown.full }, shown.busy === "send" ? "Sending…" : shown.when)),
      shown.text ? h("span", { class: "result-text" }, shown.text) : null,
      shown.files ? h("span", { class: "scheduled-files" }, shown.files) : null,
      shown.failed ? h("span", { class: "scheduled-error", role: "note" },
        `Not sent: ${shown.error}`) : null),
    h("span", { class: "saved-actions" },
      button("send", "Send now", "Send it now", () => this.on.sendNow(item)),
      button("reschedule", "Reschedule…", "Choose another time",
        (opener) => this.on.reschedule(item, opener), { "aria-haspopup": "menu" }),
      button("edit", "Edit", "Change the text", () => this.on.edit(item)),
      button("delete", "Delete", "Delete it: it is not sent", () => this.on.remove(item))));
  }
}

function line(id, item, now, zone) {
  const node = $(id);
  node.hidden = item === null;
  const text = item ? `Scheduled for ${whenText(item.send_at, now, zone)}` : "";
  const span = node.querySelector(".scheduled-when");
  if (span.textContent !== text) span.textContent = text;
}

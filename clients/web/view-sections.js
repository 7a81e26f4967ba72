// The person's sections, what the sidebar's menus open (sections.js is the pure part): a
// room's "Move to…" menu (the person's sections, its usual list, "New section…"), and the
// fields of the dialogs that name a section (new, rename) and confirm deleting one. The
// controller runs the dialogs (view-dialogs.js) and asks the server; a refusal is shown in
// the dialog, in words (`refusal`).

import { $, h } from "./dom.js";
import { lengthNote } from "./textlimit.js";
import { deleteText, MAX_NAME, placeOf, usualList } from "./sections.js";
import { openMenu } from "./popup.js";

/**
 * The "Move to…" menu of `room`, under `opener` (or at `point`): the person's sections and the
 * room's usual list as choices (the one it is in checked), then "New section…". `move(id)`
 * (null: the usual list) and `newSection()` are what the items do; `back()` gives what takes
 * the focus when it closes.
 */
export function moveMenu(opener, { state, room, point = null, move, newSection, back }) {
  const here = placeOf(state.sections, room);
  const items = state.sections.shown.map((section) => ({
    label: section.name, value: `s${section.id}`, checked: here === section.id,
    run: () => move(section.id),
  }));
  items.push({ label: usualList(room), value: "usual", checked: here === null,
    run: () => move(null) });
  items.push({ label: "New section…", run: () => newSection() });
  return openMenu(opener, { label: `Move ${room.kind === "room" ? `#${room.name}` : "it"} to`,
    point, items, back });
}

/**
 * The fields of a dialog naming a section (`name`: the name it has, for a rename): the box,
 * with a hint that counts as the server does past the limit. `value()` is what it holds.
 */
export function nameFields(name = "") {
  const usual = `At most ${MAX_NAME} characters, not the name of another of your sections.`;
  const hint = h("small", { id: "section-name-hint", class: "hint" }, usual);
  const input = h("input", { id: "section-name", name: "section-name", autocomplete: "off",
    required: true, value: name, "aria-describedby": "section-name-hint",
    placeholder: "e.g. Projects" });
  input.addEventListener("input", () => {
    const note = lengthNote(input.value.trim(), MAX_NAME);
    hint.textContent = note.shown ? note.text : usual;
    $("dialog-error").textContent = ""; // a refusal was about the name before
  });
  return {
    fields: [h("label", { for: "section-name" }, "Name"), input, hint],
    value: () => input.value.trim(),
  };
}

/**
 * What deleting a section does, in words (sections.js deleteText): what it holds, `holds`
 * {rooms, favourites} (select.js sectionHolds), goes back to the usual lists.
 */
export function deleteWords({ rooms, favourites }) {
  return [h("p", {}, deleteText(rooms, favourites)),
    h("p", { class: "hint" }, "This is the same on all your devices.")];
}

/** A refusal of a change to the sections, in words for a dialog. */
export function refusal(error, name = "") {
  switch (error && error.code) {
    case "conflict": return name ? `You have a section called ${name} already.`
      : "You have a section of that name already.";
    case "too_many_sections": return "You have as many sections as you may: delete one first.";
    case "not_found": return "That section is gone (deleted on another device?).";
    case "disconnected": return "Not connected right now.";
    case "unknown_op": return "This server does not keep sections.";
    default: return String((error && (error.message || error.code)) || "It did not work.");
  }
}

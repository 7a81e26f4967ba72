// What a slash command said, under the box it was typed in (the room's or the thread
// panel's): a problem (the command did nothing and its text stays in the box), a line, or
// the list of commands (/help). Shown in the page, never sent; it goes as the box's text
// changes. The commands are commands.js's; the controller carries them out.

import { $, h } from "./dom.js";

/**
 * Carry out the command the box `boxId` holds, through `run` (the controller's: null when the
 * text is a message, else a promise of the outcome), showing its outcome in `noteId`. `done()`
 * empties the box once the command is done, if it still holds what was typed. Returns false
 * when the text is a message (the caller sends it), true when it was a command.
 */
export function runFromBox({ boxId, noteId, run, done }) {
  const box = $(boxId);
  const text = box.value;
  const running = run(text);
  if (running === null || running === undefined) return false;
  Promise.resolve(running).then((outcome) => {
    showOutcome(noteId, outcome || {});
    if (!outcome || !outcome.problem) {
      if (box.value === text) done();
    } else {
      box.focus();
    }
  });
  return true;
}

/** Show `outcome` ({problem}, {note}, {help} or {}: nothing) in the element `noteId`. */
export function showOutcome(noteId, outcome) {
  const note = $(noteId);
  const { problem, help } = outcome;
  const text = problem || outcome.note || "";
  note.classList.toggle("problem", Boolean(problem));
  if (help) {
    note.replaceChildren(h("span", { class: "command-help-title" }, "Commands (// sends a "
      + "text starting with /):"),
    h("dl", { class: "command-help" }, ...help.flatMap(({ usage, help: line }) => [
      h("dt", {}, h("code", {}, usage)), h("dd", {}, line)])));
  } else {
    note.replaceChildren(text);
  }
  note.hidden = !text && !help;
}

/** Take the note away (the box's text changed). */
export function clearOutcome(noteId) {
  const note = $(noteId);
  if (note.hidden) return;
  note.hidden = true;
  note.replaceChildren();
}

// A message's edit history, the view: the "Edit history" dialog's list (edithistory.js makes
// its rows), oldest first, each version with who and when ("Posted by Ann", "Edited by Ann"),
// the words an edit added (<ins>) and removed (<del>) marked, each mark also said in words
// for screen readers ("added:", "removed:"); "(now)" on the text as it is, and a status line
// when an edit came while it was open (edithistory.js follows the message). The dialog itself is
// view-dialogs.js's (a modal <dialog>: the focus stays in it, Escape closes it), opened by
// controller.js, which asks the server.
//
// Like every view, nothing here parses markup: text goes in as text nodes.

import { formatFull, h } from "./dom.js";
import { historyRows } from "./edithistory.js";
import { displayName } from "./profiles.js";

/** The text of a version with its diff from the one before marked (`parts`), or plain. */
function versionText(row) {
  if (!row.parts) return h("p", { class: "edit-version-text" }, row.text);
  return h("p", { class: "edit-version-text" }, ...row.parts.map((part) => {
    if (part.kind === "added") {
      return h("ins", { class: "diff-added" },
        h("span", { class: "visually-hidden" }, "added: "), part.text);
    }
    if (part.kind === "removed") {
      return h("del", { class: "diff-removed" },
        h("span", { class: "visually-hidden" }, "removed: "), part.text);
    }
    return part.text;
  }));
}

/**
 * The dialog's fields for an `edit_history` answer; `profiles` names the authors. With
 * `edited` (an edit came while it was open, and was added last), a status line says so.
 */
export function historyFields(answer, profiles, edited = false) {
  const { rows, note } = historyRows(answer);
  const items = [];
  for (const row of rows) {
    if (row.gap) {
      items.push(h("li", { class: "edit-gap" },
        `${row.gap} earlier version${row.gap === 1 ? "" : "s"} not shown`));
    }
    items.push(h("li", { class: "edit-version" },
      h("p", { class: "edit-version-meta" },
        `${row.label} ${displayName(profiles, row.by)}`,
        row.ts === null ? "" : h("time", { class: "edit-version-time" },
          ` · ${formatFull(row.ts)}`),
        row.current ? h("span", { class: "edit-version-now" }, " (now)") : ""),
      versionText(row)));
  }
  return [
    ...(note ? [h("p", { class: "hint edit-history-note" }, note)] : []),
    ...(edited ? [h("p", { class: "hint", role: "status", id: "edit-history-status" },
      "Edited again while open: the newest version is last.")] : []),
    h("ol", { id: "edit-history", class: "edit-history", "aria-label": "Versions, oldest first" },
      ...items),
  ];
}

/** What the dialog shows while it waits for the server, or when it refused. */
export function historyWaiting(text) {
  return [h("p", { class: "hint", role: "status", id: "edit-history-status" }, text)];
}

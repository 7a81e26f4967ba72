// A poll's card under its sender line (view-message.js draws it for a message with `poll`):
// the question, each option a button with its bar (its share of the voters), its count and a
// few of its voters' pictures (their names on hover and for screen readers), the person's own
// choice marked (aria-pressed); pressing one votes (a single choice moves, a multiple one
// toggles: polls.js `pressed`). A closed poll shows "Final results", its options as plain rows.
// And the "Create a poll" dialog of the room's message box (view-composer-extras.js opens it):
// question, options (two fields to start, "Add option" up to ten, each removable), "Allow more
// than one choice", checked by the server's rules before it is sent.

import { formatFull, h } from "./dom.js";
import {
  MAX_OPTIONS, MIN_OPTIONS, OPTION_CHARS, pollProblem, pressed, tally,
} from "./polls.js";
import { avatarOf, displayName } from "./profiles.js";
import { reactionUsers } from "./select-messages.js";
import { avatar } from "./view-avatar.js";

const PICTURES = 3; // voters' pictures an option shows (the others counted: "+2")

/**
 * The card of `view.poll` (select-messages.js shownMessage): `question` is the question drawn
 * already (the message's text), `vote(options)` sends the person's new choice.
 */
export function pollCard(view, state, question, vote) {
  const poll = view.poll;
  const label = poll.closed ? "Final results" : poll.multiple ? "Poll · choose any"
    : "Poll · choose one";
  if (question) question.classList.add("poll-question");
  const closedWords = poll.closed && poll.closedBy ? `Closed by ${sameName(poll.closedBy,
    state.me) ? "you" : displayName(state.profiles, poll.closedBy)}` : "";
  return h("div", {
    class: `poll${poll.closed ? " closed" : ""}${poll.saving ? " saving" : ""}`,
    role: "group", "aria-label": `Poll: ${view.text}`,
  },
  h("div", { class: "poll-label" }, h("span", { "aria-hidden": "true" }, "📊 "), label),
  question,
  h("ul", { class: "poll-options" },
    poll.options.map((option) => optionRow(option, poll, view, state, vote))),
  h("div", { class: "poll-foot" }, tally(poll),
    closedWords ? h("span", { title: poll.closedTs ? formatFull(poll.closedTs) : null },
      ` · ${closedWords}`) : null));
}

function optionRow(option, poll, view, state, vote) {
  const who = reactionUsers(option.voters.map((u) => displayName(state.profiles, u)),
    displayName(state.profiles, state.me));
  const percent = Math.round(option.share * 100);
  const bar = h("span", { class: "poll-bar", "aria-hidden": "true" });
  bar.style.width = `${percent}%`; // (the CSSOM: the CSP allows no style attributes in markup)
  const count = `${option.votes} ${option.votes === 1 ? "vote" : "votes"}`;
  const parts = [bar,
    h("span", { class: "poll-text" }, option.text),
    option.mine ? h("span", { class: "poll-mine", "aria-hidden": "true" }, "✓") : null,
    h("span", { class: "poll-count", "aria-hidden": "true" }, String(option.votes))];
  const described = `${option.text}: ${count}, ${percent}%${who ? ` (${who})` : ""}${
    option.mine ? ", your choice" : ""}`;
  const row = view.canVote
    ? h("button", {
      type: "button", class: `poll-option${option.mine ? " mine" : ""}`,
      "aria-pressed": option.mine ? "true" : "false", "data-focus": `poll${option.index}`,
      "aria-label": described, title: who ? `${who} chose this` : "No votes yet",
      onclick: () => vote(pressed(poll.mine, option.index, poll.multiple)),
    }, parts)
    : h("div", { class: `poll-option${option.mine ? " mine" : ""}`, role: "img",
      "aria-label": described, title: who ? `${who} chose this` : "No votes" }, parts);
  const pictures = option.voters.slice(0, PICTURES);
  return h("li", { class: "poll-row" }, row,
    option.voters.length ? h("span", { class: "poll-voters", title: who, "aria-hidden": "true" },
      pictures.map((user) => avatar(user, avatarOf(state.profiles, user), "small")),
      option.voters.length > PICTURES ? h("span", { class: "poll-more" },
        `+${option.voters.length - PICTURES}`) : null) : null);
}

/**
 * The "Create a poll" dialog: `dialogs` is the page's DialogsView (its `open` shows a refusal
 * thrown by `submit` in the dialog); `maxText` the longest question the server takes (the
 * welcome's max_text_chars); `send({question, options, multiple})` sends it and
 * resolves once the server took it (or rejects with its refusal). `prefill`: a question and
 * options to start from (`/poll "Lunch?" "Pizza"`, commands.js).
 */
export function openPollDialog(dialogs, maxText, send, { question: asked = "", options: given = [] } = {}) {
  const list = h("ol", { class: "poll-fields", id: "poll-fields" });
  const add = h("button", { type: "button", class: "small-button", id: "poll-add" },
    "Add option");
  const multiple = h("input", { id: "poll-multiple", type: "checkbox" });
  const sync = () => {
    const rows = [...list.children];
    rows.forEach((row, index) => {
      const input = row.querySelector("input");
      input.setAttribute("aria-label", `Option ${index + 1}`);
      input.placeholder = `Option ${index + 1}`;
      const remove = row.querySelector("button");
      remove.setAttribute("aria-label", `Remove option ${index + 1}`);
      remove.disabled = rows.length <= MIN_OPTIONS;
    });
    add.disabled = rows.length >= MAX_OPTIONS;
  };
  const field = () => {
    const input = h("input", { type: "text", class: "poll-field", maxlength: OPTION_CHARS * 2,
      autocomplete: "off" });
    const row = h("li", {}, input, h("button", {
      type: "button", class: "icon small poll-remove", title: "Remove this option",
      onclick: () => {
        const next = row.nextElementSibling || row.previousElementSibling;
        row.remove();
        sync();
        if (next) next.querySelector("input").focus();
      },
    }, "×"));
    return row;
  };
  for (let i = 0; i < Math.max(MIN_OPTIONS, Math.min(given.length, MAX_OPTIONS)); i += 1) {
    const row = field();
    row.querySelector("input").value = given[i] || "";
    list.append(row);
  }
  add.addEventListener("click", () => {
    if (list.children.length >= MAX_OPTIONS) return;
    const row = field();
    list.append(row);
    sync();
    row.querySelector("input").focus();
  });
  sync();
  const question = h("input", { id: "poll-question", type: "text", required: true,
    autocomplete: "off" });
  question.value = asked;
  dialogs.open({
    title: "Create a poll",
    ok: "Create poll",
    fields: [
      h("label", { for: "poll-question" }, "Question"),
      question,
      h("p", { class: "label", id: "poll-options-label" }, "Options"),
      list,
      add,
      h("label", { class: "check" }, multiple, " Allow more than one choice"),
    ],
    submit: async () => {
      const options = [...list.querySelectorAll("input")].map((input) => input.value);
      const problem = pollProblem({ question: question.value, options, maxText });
      if (problem) throw new Error(problem);
      await send({ question: question.value, options, multiple: multiple.checked });
    },
  });
}

function sameName(a, b) {
  return typeof a === "string" && typeof b === "string" && a.toLowerCase() === b.toLowerCase();
}

// User groups (Slack's `@backend`): the "User groups" panel the person's menu opens, as the
// Saved and Scheduled panels are (view-panel.js): the server's groups by name (description,
// member count, the person's own marked "you"), "New group", and a group's page (its members,
// "Edit", "Delete" for who may change it, "All groups" back). Renders from the state
// (usergroups.js, kept live by the `user_group` events); the dialogs (create, edit, the
// confirmation of a deletion) are here too, with a people picker: a field completing the names
// the page knows (room members, contacts, conversations) and the people chosen as chips.

import { $, h, svgIcon } from "./dom.js";
import { displayName } from "./profiles.js";
import {
  countText, MAX_DESCRIPTION, mayChange, nameProblem, sortedGroups,
} from "./usergroups.js";
import { SidePanel } from "./view-panel.js";

/** The people the page knows of, for the picker: members of its rooms, contacts, peers. */
export function knownPeople(state) {
  const seen = new Map();
  const add = (name) => {
    if (typeof name === "string" && name && !seen.has(name.toLowerCase())) {
      seen.set(name.toLowerCase(), name);
    }
  };
  add(state.me);
  for (const room of state.rooms.values()) {
    for (const member of room.members || []) add(member.user);
    if (room.kind === "dm") add(room.peer);
  }
  for (const contact of state.contacts || []) add(typeof contact === "string" ? contact : contact.user);
  return [...seen.values()].sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase()));
}

/**
 * A people picker: a field that completes the names the page knows (a datalist) and the
 * people chosen, each a chip with a remove button. `chosen()` gives the names picked; a name
 * typed and not yet added counts too (so "Create" with it in the field takes it).
 */
export function peoplePicker(state, { id, label, start = [] }) {
  const chosen = [...start];
  const list = h("datalist", { id: `${id}-names` },
    ...knownPeople(state).map((name) => h("option", { value: name },
      displayName(state.profiles, name) === name ? null : displayName(state.profiles, name))));
  const input = h("input", { id, type: "text", list: `${id}-names`, autocomplete: "off",
    autocapitalize: "off", spellcheck: "false", maxlength: 32, placeholder: "Type a name" });
  const chips = h("ul", { class: "people-chips", "aria-label": label });
  const draw = () => chips.replaceChildren(...chosen.map((name) => h("li", { class: "people-chip" },
    h("span", {}, name),
    h("button", { type: "button", class: "icon small", "aria-label": `Remove ${name}`,
      title: `Remove ${name}`, onclick: () => {
        chosen.splice(chosen.indexOf(name), 1);
        draw();
        input.focus();
      } }, svgIcon("M6 6l12 12M18 6L6 18")))));
  const take = () => {
    const name = input.value.trim().replace(/^@/, "");
    if (!name) return false;
    const known = knownPeople(state).find((n) => n.toLowerCase() === name.toLowerCase()) || name;
    if (!chosen.some((n) => n.toLowerCase() === known.toLowerCase())) chosen.push(known);
    input.value = "";
    draw();
    return true;
  };
  input.addEventListener("keydown", (event) => {
    if ((event.key === "Enter" || event.key === ",") && input.value.trim()) {
      event.preventDefault(); // a name, not the dialog's OK
      take();
    }
  });
  // A name picked from the list is taken at once.
  input.addEventListener("input", (event) => {
    if (event.inputType === "insertReplacementText" || event.inputType === undefined) {
      if (knownPeople(state).some((n) => n === input.value)) take();
    }
  });
  const add = h("button", { type: "button", class: "small-button", onclick: () => {
    take();
    input.focus();
  } }, "Add");
  draw();
  return {
    fields: [h("label", { for: id }, label), h("div", { class: "people-picker" }, input, add),
      list, chips],
    chosen: () => {
      take();
      return [...chosen];
    },
  };
}

export class UserGroupsView extends SidePanel {
  constructor() {
    super("usergroups", "grouping");
    this.drawn = null; // the signature of what the panel shows
    $("usergroups-new").addEventListener("click", () => this.on.create());
    $("usergroups-retry").addEventListener("click", () => this.on.retry());
  }

  // Handlers (bind): opened(shown), retry(), create(), show(name), back(), edit(group, members),
  // remove(group).

  focusFirst() {
    $("usergroups-close").focus();
  }

  render(state) {
    if (!this.isOpen) return;
    const groups = state.userGroups;
    const sig = JSON.stringify([groups.version, groups.status, groups.open, state.me,
      state.admin]);
    if (sig === this.drawn) return;
    this.drawn = sig;
    const { open } = groups;
    const list = $("usergroups-list");
    const detail = $("usergroups-detail");
    list.hidden = Boolean(open);
    detail.hidden = !open;
    $("usergroups-new").hidden = Boolean(open);
    const status = $("usergroups-status");
    status.classList.toggle("failed", groups.status === "failed");
    $("usergroups-retry").hidden = groups.status !== "failed";
    if (open) {
      status.textContent = "";
      this.drawGroup(state, open);
      return;
    }
    const all = sortedGroups(groups);
    status.textContent = groups.status === "failed"
      ? `The user groups could not be listed${groups.error ? `: ${groups.error}` : "."}`
      : groups.status === "loading" && !groups.loaded ? "Loading…"
        : all.length ? "" : "No user groups yet. A group is mentioned as one: @name.";
    const focused = list.contains(document.activeElement);
    list.replaceChildren(...all.map((group) => h("li", { class: "usergroup-item",
      dataset: { name: group.name } },
    h("button", { type: "button", class: "result",
      "aria-label": `@${group.name}: ${group.description ? `${group.description}, ` : ""}`
        + `${countText(group.members)}${group.you ? ", you are a member" : ""}`,
      onclick: () => this.on.show(group.name) },
    h("span", { class: "result-head" },
      h("strong", { class: "usergroup-name" }, `@${group.name}`),
      h("span", { class: "usergroup-count" }, countText(group.members)),
      group.you ? h("span", { class: "usergroup-you" }, "you") : null),
    group.description ? h("span", { class: "result-text" }, group.description) : null))));
    if (focused) $("usergroups-new").focus();
  }

  drawGroup(state, open) {
    const group = state.userGroups.byName.get(open.name);
    const back = h("button", { type: "button", class: "link-button usergroups-back",
      onclick: () => this.on.back() }, "← All groups");
    if (open.status === "gone" || (!group && open.status !== "loading")) {
      $("usergroups-detail").replaceChildren(back,
        h("p", { class: "search-status" }, `@${open.name} was deleted.`));
      return;
    }
    const members = open.members;
    const may = group && mayChange(group, state.me, state.admin);
    $("usergroups-detail").replaceChildren(back,
      h("h3", { class: "usergroup-title" }, `@${open.name}`),
      group && group.description ? h("p", { class: "usergroup-description" }, group.description)
        : null,
      h("p", { class: "search-status", role: "status" }, open.status === "failed"
        ? `The members could not be listed: ${open.error}`
        : members === null ? "Loading…" : group ? countText(group.members) : ""),
      members ? h("ul", { class: "usergroup-members", "aria-label": `Members of @${open.name}` },
        ...members.map((name) => h("li", { class: "usergroup-member" },
          h("span", {}, displayName(state.profiles, name)),
          displayName(state.profiles, name) === name ? null
            : h("span", { class: "login" }, ` ${name}`)))) : null,
      may && members ? h("p", { class: "search-actions" },
        h("button", { type: "button", class: "small-button usergroup-edit",
          onclick: () => this.on.edit(group, members) }, "Edit"),
        h("button", { type: "button", class: "small-button danger usergroup-delete",
          onclick: () => this.on.remove(group) }, "Delete")) : null);
  }
}

/** The fields of the "New user group" dialog: {fields, values()} ({name, description, members}). */
export function createFields(state) {
  const picker = peoplePicker(state, { id: "usergroup-members", label: "Members" });
  const name = h("input", { id: "usergroup-name", required: true, maxlength: 33,
    autocomplete: "off", autocapitalize: "off", spellcheck: "false", placeholder: "e.g. backend" });
  const description = h("input", { id: "usergroup-description", maxlength: MAX_DESCRIPTION,
    autocomplete: "off" });
  return {
    fields: [h("label", { for: "usergroup-name" }, "Name"), name,
      h("small", { class: "hint" }, "Mentioned as @name: a-z, 0-9, _, . and -."),
      h("label", { for: "usergroup-description" }, "Description (optional)"), description,
      ...picker.fields,
      h("small", { class: "hint" }, "You are not in it unless you add yourself.")],
    values: () => {
      const problem = nameProblem(state.userGroups, name.value);
      if (problem) throw new Error(problem);
      return { name: name.value.trim().replace(/^@/, "").toLowerCase(),
        description: description.value.trim(), members: picker.chosen() };
    },
  };
}

/** The fields of the "Edit" dialog: the description, people to add, members to remove. */
export function editFields(state, group, members) {
  const description = h("input", { id: "usergroup-description", maxlength: MAX_DESCRIPTION,
    autocomplete: "off", value: group.description });
  const picker = peoplePicker(state, { id: "usergroup-add", label: "Add people" });
  const boxes = members.map((name) => h("input", { type: "checkbox", value: name,
    "aria-label": `Remove ${name}` }));
  return {
    fields: [h("label", { for: "usergroup-description" }, "Description"), description,
      ...picker.fields,
      members.length ? h("fieldset", { class: "usergroup-remove" },
        h("legend", {}, "Remove members"),
        ...members.map((name, index) => h("label", { class: "check" }, boxes[index], ` ${name}`)))
        : null],
    values: () => ({ description: description.value.trim(), add: picker.chosen(),
      remove: boxes.filter((box) => box.checked).map((box) => box.value) }),
  };
}

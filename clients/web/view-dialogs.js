// The dialogs: create a room, join one, invite someone, change a room's topic, start a
// conversation, add a contact, and the confirmations of leaving a room and removing someone
// from it.
// Each asks the server through `ask(op, fields)` (the controller: the reply changes the state
// through state.js before `ask` resolves) and shows a refusal in the dialog itself.

import { nextPage, pageFailed, pageLoaded, searchFor, startBrowse } from "./browse.js";
import { $, h } from "./dom.js";
import { currentRoom } from "./select.js";
import {
  isConversation, knownPeople, MAX_OTHERS, pick, pickSuggestions, typedPerson,
} from "./conversations.js";
import { displayName } from "./profiles.js";
import { sameUser } from "./store.js";
import { lengthNote, MAX_TOPIC_CHARS, topicTooLong } from "./textlimit.js";

const ROOM_PATTERN = "[A-Za-z0-9_\\-]{1,64}";
const SEARCH_DELAY_MS = 200; // the room list is searched once typing pauses this long

export class DialogsView {
  constructor() {
    this.submit = null;
    this.offline = false; // OK closes the open dialog offline too (`open`)
    this.on = {};
    $("dialog-cancel").addEventListener("click", () => $("dialog").close());
    $("dialog-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const ok = $("dialog-ok");
      ok.disabled = true;
      $("dialog-error").textContent = "";
      try {
        if (!this.offline && !this.on.isOnline()) throw new Error("Not connected right now.");
        await this.submit();
        $("dialog").close();
      } catch (error) {
        $("dialog-error").textContent = error.message;
      } finally {
        ok.disabled = false;
      }
    });
  }

  /**
   * Handlers: ask(op, fields) → a promise of the `ok` frame (rejected with the server's
   * refusal), isOnline() → bool, openConversation(users) (the 1:1 with one, the group with
   * more), roomChosen() after a room was created or joined,
   * nonce() → a new nonce for a message, roomLink(room) for "Make an invite link instead…".
   */
  bind(handlers) { this.on = handlers; }

  /**
   * Show the dialog with `fields` (elements) and run `submit` on OK; `submit` returns nothing
   * to close, or throws to show the error and stay open. OK asks nothing of a page offline
   * (not connected: said, and the dialog stays), unless `offline` (its changes are made as
   * they come, and OK only closes it).
   */
  open({ title, fields, ok = "OK", submit, offline = false }) {
    this.offline = offline;
    const element = $("dialog");
    $("dialog-title").textContent = title;
    $("dialog-body").replaceChildren(...fields);
    $("dialog-error").textContent = "";
    $("dialog-ok").textContent = ok;
    $("dialog-ok").hidden = false;
    $("dialog-cancel").textContent = "Cancel";
    $("dialog-cancel").hidden = false;
    this.submit = submit;
    element.showModal();
    const first = element.querySelector("#dialog-body input, #dialog-body button");
    if (first) first.focus();
  }

  /**
   * As `open`, with a red OK for what cannot be undone (`danger`), or with OK alone (`single`:
   * something to read, such as a new password).
   */
  confirm({ danger = false, single = false, ...options }) {
    const ok = $("dialog-ok");
    this.open(options);
    ok.classList.toggle("danger", danger);
    $("dialog-cancel").hidden = single;
    this.whenClosed(() => {
      ok.classList.remove("danger");
      $("dialog-cancel").hidden = false;
    });
  }

  /**
   * Run `closed` once the dialog open now (or about to open) closes, unless another dialog
   * was opened from its closing (its OK opened the next one): that one is shown then.
   */
  whenClosed(closed) {
    $("dialog").addEventListener("close", () => {
      if (!$("dialog").open) closed();
    }, { once: true });
  }

  /**
   * For a dialog opened from a side panel (`panel`: its view, `element` its element) by a
   * button that goes away with it: once the dialog closes, the focus goes back into the
   * panel (its first item) when it is still open and the focus is not in it.
   */
  focusBackIn(panel, element) {
    this.whenClosed(() => {
      if (panel.isOpen && !element.contains(document.activeElement)) panel.focusFirst();
    });
  }

  createRoom() {
    this.open({
      title: "Create a room",
      ok: "Create",
      fields: [
        ...field("new-room-name", "Name", {
          required: true, maxlength: 64, pattern: ROOM_PATTERN, placeholder: "e.g. design-team",
        }),
        h("small", { class: "hint" }, "Lower-case letters, digits, - and _."),
        // No maxlength (UTF-16 units): counted at submit as the server counts, in code points.
        ...field("new-room-topic", "Topic (optional)"),
        h("label", { class: "check" },
          h("input", { id: "new-room-private", type: "checkbox" }),
          " Private: only people you invite can see it"),
      ],
      submit: async () => {
        const tooLong = topicTooLong(value("new-room-topic"));
        if (tooLong) throw new Error(tooLong);
        await this.on.ask("create_room", {
          room: value("new-room-name").toLowerCase(),
          topic: value("new-room-topic"),
          private: $("new-room-private").checked,
        });
        this.on.roomChosen();
      },
    });
  }

  async join(name) {
    await this.on.ask("join", { room: name });
    this.on.roomChosen();
  }

  /**
   * The "Join a room" dialog: a name to join (or create), and the public rooms, a page at a
   * time (more on scrolling to the end, or with the "More rooms" button), searched by what is
   * typed in the name box (browse.js keeps the list).
   */
  browseRooms() {
    const list = h("ul", { class: "browse-list", "aria-label": "Public rooms" });
    const more = h("button", { type: "button", class: "small-button", id: "browse-more",
      hidden: true }, "More rooms");
    let browse = startBrowse();
    let timer = null;
    const row = (info) => h("li", {},
      h("span", { class: "sigil", "aria-hidden": "true" }, info.private ? "🔒" : "#"),
      h("span", { class: "name" }, info.room),
      info.topic ? h("span", { class: "topic" }, info.topic) : null,
      info.member
        ? h("span", { class: "hint" }, "joined")
        : h("button", {
          type: "button", class: "small-button", "aria-label": `Join ${info.room}`,
          onclick: () => runInDialog(async () => {
            await this.join(info.room);
            $("dialog").close();
          }),
        }, "Join"));
    const show = () => {
      const rows = browse.rooms.map(row);
      if (browse.loading) rows.push(h("li", { class: "side-empty" }, "Loading…"));
      else if (browse.error) rows.push(h("li", { class: "side-empty" }, browse.error));
      else if (!rows.length && !browse.more) {
        rows.push(h("li", { class: "side-empty" }, browse.query
          ? "No room matches: this name creates one."
          : "No public rooms yet: type a name to create one."));
      }
      list.replaceChildren(...rows);
      more.hidden = !browse.more || browse.loading;
    };
    const load = async () => {
      const next = nextPage(browse);
      if (!next.request) return;
      browse = next.browse;
      show();
      const { op, ...fields } = next.request;
      try {
        browse = pageLoaded(browse, next.request, await this.on.ask(op, fields));
      } catch (error) {
        browse = pageFailed(browse, next.request, error.message);
      }
      show();
    };
    const search = (text) => {
      const query = searchFor(text);
      if (query === browse.query) return;
      browse = query === null
        ? { ...startBrowse(text), more: false, error: "Room names hold only a-z 0-9 _ -." }
        : startBrowse(query);
      if (query === null) show();
      else load();
    };
    more.addEventListener("click", load);
    list.addEventListener("scroll", () => {
      if (list.scrollTop + list.clientHeight >= list.scrollHeight - 40) load();
    });
    this.open({
      title: "Join a room",
      ok: "Join",
      fields: [
        ...field("join-room-name", "Room name", {
          maxlength: 64, pattern: ROOM_PATTERN, placeholder: "type to search; a new name creates it",
        }),
        h("p", { class: "hint" }, "Or pick one:"),
        list,
        more,
      ],
      submit: async () => {
        const name = value("join-room-name").toLowerCase();
        if (!name) throw new Error("Type a room name, or pick one from the list.");
        await this.join(name);
      },
    });
    $("join-room-name").addEventListener("input", (event) => {
      clearTimeout(timer);
      timer = setTimeout(() => search(event.target.value), SEARCH_DELAY_MS);
    });
    load();
  }

  invite(state) {
    const room = currentRoom(state);
    if (!room) return;
    // Or a link for whoever it is given to (view-roomlinks.js): the only way to it on a
    // phone, whose header has no room for its own button.
    const byLink = h("button", { type: "button", class: "link-button", id: "invite-by-link" },
      "Make an invite link instead…");
    byLink.addEventListener("click", () => this.on.roomLink(room.name));
    this.open({
      title: `Invite someone to #${room.name}`,
      ok: "Invite",
      fields: [...field("invite-user", "User name", { required: true, maxlength: 32 }), byLink],
      submit: async () => {
        await this.on.ask("invite", { room: room.name, user: value("invite-user") });
      },
    });
  }

  /**
   * The owner changes the open room's topic ("" clears it). The dialog closes once the server
   * took it; the header shows it when its `topic` entry comes, as it does for every member.
   */
  editTopic(state) {
    const room = currentRoom(state);
    if (!room || isConversation(room)) return;
    const usual = `At most ${MAX_TOPIC_CHARS} characters; empty clears it.`;
    const hint = h("small", { id: "topic-hint", class: "hint" }, usual);
    this.open({
      title: `Topic of #${room.name}`,
      ok: "Save",
      fields: [
        ...field("topic-text", "Topic", { value: room.topic, "aria-describedby": "topic-hint",
          autocapitalize: "sentences", spellcheck: "true" }),
        hint,
      ],
      submit: async () => {
        const topic = value("topic-text");
        const tooLong = topicTooLong(topic);
        if (tooLong) throw new Error(tooLong);
        await this.on.ask("set_topic", { room: room.name, topic });
      },
    });
    // Counted as the server counts (code points), not by the input's maxlength (UTF-16 units).
    // A refusal was about the text before: it goes once the text changes.
    $("topic-text").addEventListener("input", (event) => {
      const note = lengthNote(event.target.value.trim(), MAX_TOPIC_CHARS);
      hint.textContent = note.shown ? note.text : usual;
      $("dialog-error").textContent = "";
    });
  }

  /** Ask before leaving the open room: a private one takes a new invitation to come back. */
  confirmLeave(state) {
    const room = currentRoom(state);
    if (!room || isConversation(room)) return;
    this.open({
      title: `Leave #${room.name}?`,
      ok: "Leave",
      fields: [h("p", {}, room.private
        ? `#${room.name} is private: to come back, you will need a new invitation from one of `
          + "its members."
        : `You can join #${room.name} again from "Browse rooms".`)],
      submit: async () => {
        await this.on.ask("leave", { room: room.name });
      },
    });
  }

  /** Ask before the owner removes `user` from the open room. */
  confirmKick(state, user) {
    const room = currentRoom(state);
    if (!room || isConversation(room)) return;
    this.open({
      title: `Remove ${user} from #${room.name}?`,
      ok: "Remove",
      fields: [h("p", {}, room.private
        ? `${user} will no longer see #${room.name}; only a new invitation brings them back.`
        : `${user} will no longer get the messages of #${room.name}, until they join again.`),
      ...field("kick-reason", "Reason (optional, shown to the room)", { maxlength: 256 })],
      submit: async () => {
        const reason = value("kick-reason");
        await this.on.ask("kick", { room: room.name, user, ...(reason ? { reason } : {}) });
      },
    });
  }

  /**
   * The "New message" dialog: the people to write to, picked as chips (a name typed, completed
   * from the people the page knows: Enter, Tab or a comma takes it, Backspace in the empty box
   * removes the last one; at most seven), and an optional first message. With a message it is
   * sent from here (`dm`, `to` one name or the array of them): the server says at once whether
   * everyone exists, and only then does the conversation open. Without one, the conversation
   * opens: the one the page holds (its canonical name: conversations.js), else a draft that
   * its first message creates. One nonce per dialog: sending again after an answer was lost
   * stores the message once.
   */
  newDm(state) {
    const nonce = this.on.nonce();
    let picked = [];
    const input = h("input", { id: "dm-user", name: "dm-user", autocomplete: "off",
      autocapitalize: "off", spellcheck: "false", maxlength: 33, role: "combobox",
      "aria-autocomplete": "list", "aria-controls": "dm-suggest", "aria-expanded": "false",
      "aria-describedby": "dm-user-hint" });
    const chips = h("span", { id: "dm-picked", class: "pick-chips" });
    const box = h("div", { class: "picked", onclick: () => input.focus() }, chips, input);
    const list = h("ul", { id: "dm-suggest", class: "pick-list", role: "listbox",
      "aria-label": "People" });
    const hint = h("small", { id: "dm-user-hint", class: "hint" },
      `Up to ${MAX_OTHERS} people: Enter or a comma adds one, Backspace removes the last.`);
    const text = h("textarea", { id: "dm-text", name: "dm-text", rows: 3,
      "aria-describedby": "dm-text-hint" });
    const add = (user) => {
      const result = pick(picked, user, state.me);
      if (result.problem) {
        $("dialog-error").textContent = result.problem;
        return false;
      }
      picked = result.picked;
      input.value = "";
      $("dialog-error").textContent = "";
      draw();
      return true;
    };
    const suggestions = () => (input.value.trim()
      ? pickSuggestions(knownPeople(state), input.value, { me: state.me, picked,
        cache: state.profiles }) : []);
    const draw = () => {
      chips.replaceChildren(...picked.map((user) => h("span", { class: "pick-chip",
        dataset: { user } }, displayName(state.profiles, user),
      h("button", { type: "button", "aria-label": `Remove ${user}`, title: "Remove",
        onclick: (event) => {
          event.stopPropagation();
          picked = picked.filter((one) => one !== user);
          draw();
          input.focus();
        } }, "×"))));
      const found = suggestions();
      list.replaceChildren(...found.map((user) => {
        const shown = displayName(state.profiles, user);
        return h("li", {}, h("button", { type: "button", role: "option", dataset: { user },
          onclick: () => {
            add(user);
            input.focus();
          } }, shown === user ? user : `${shown} (${user})`));
      }));
      input.setAttribute("aria-expanded", String(found.length > 0));
      input.placeholder = picked.length ? "" : "Names of people";
      $("dialog-ok").textContent = text.value.trim() ? "Send" : "Open";
    };
    // The name typed: the one suggestion that completes it, else as typed.
    const typed = () => typedPerson(suggestions(), input.value, state.profiles);
    input.addEventListener("input", () => {
      if (input.value.includes(",")) {
        const parts = input.value.split(",");
        input.value = parts.pop();
        for (const part of parts) if (part.trim()) add(part.trim());
      }
      draw();
    });
    input.addEventListener("keydown", (event) => {
      if ((event.key === "Enter" || event.key === "Tab") && input.value.trim()) {
        event.preventDefault(); // (not the form's submit: the name becomes a chip)
        add(typed());
      } else if (event.key === "Backspace" && !input.value && picked.length) {
        event.preventDefault();
        picked = picked.slice(0, -1);
        draw();
      } else if (event.key === "ArrowDown" && list.querySelector("button")) {
        event.preventDefault();
        list.querySelector("button").focus();
      }
    });
    text.addEventListener("input", () => draw());
    this.open({
      title: "New direct message",
      ok: "Open",
      fields: [
        h("label", { for: "dm-user" }, "To"), box, list, hint,
        h("label", { for: "dm-text" }, "Message (optional)"), text,
        h("small", { id: "dm-text-hint", class: "hint" },
          "Sent at once; without one the conversation opens for you to write in."),
      ],
      submit: async () => {
        if (input.value.trim() && !add(typed())) throw new Error($("dialog-error").textContent);
        if (!picked.length) throw new Error("Pick at least one person to write to.");
        const people = picked.map((user) => state.contacts.find((c) => sameUser(c, user)) || user);
        if (!text.value.trim()) return this.on.openConversation(people);
        await this.on.ask("dm", { to: people.length === 1 ? people[0] : people,
          text: text.value, nonce });
        return this.on.openConversation(people);
      },
    });
    draw();
  }

  addContact() {
    this.open({
      title: "Add a contact",
      ok: "Add",
      fields: [
        ...field("contact-user", "User name", { required: true, maxlength: 32 }),
        h("small", { class: "hint" }, "You will see when they are online."),
      ],
      submit: async () => {
        await this.on.ask("add_contact", { user: value("contact-user") });
      },
    });
  }

  close() {
    if ($("dialog").open) $("dialog").close();
  }
}

/**
 * What a button inside the dialog does (a room's "Join", a ban's "Unban"): `action`, its
 * refusal shown in the dialog, where a refused OK's is.
 */
export async function runInDialog(action) {
  try {
    await action();
  } catch (error) {
    $("dialog-error").textContent = error.message;
  }
}

/**
 * For a dialog's `submit`: what turns a refusal into `words(error)`, shown in the dialog (a
 * `submit` that throws shows its message and stays open): `await ask(…).catch(refusedAs(f))`.
 */
export function refusedAs(words) {
  return (error) => {
    throw new Error(words(error));
  };
}

function field(id, label, attrs = {}) {
  return [
    h("label", { for: id }, label),
    h("input", {
      id, name: id, autocomplete: "off", autocapitalize: "off", spellcheck: "false", ...attrs,
    }),
  ];
}

function value(id) {
  return $(id).value.trim();
}

// The dialogs: create a room, join one, invite someone, change a room's topic, start a
// conversation, add a contact, and the confirmations of leaving a room and removing someone
// from it.
// Each asks the server through `ask(op, fields)` (the controller: the reply changes the state
// through state.js before `ask` resolves) and shows a refusal in the dialog itself.

import { nextPage, pageFailed, pageLoaded, searchFor, startBrowse } from "./browse.js";
import { $, h } from "./dom.js";
import { currentRoom } from "./select.js";
import { dmName, sameUser } from "./store.js";
import { lengthNote, MAX_TOPIC_CHARS, topicTooLong } from "./textlimit.js";

const ROOM_PATTERN = "[A-Za-z0-9_\\-]{1,64}";
const SEARCH_DELAY_MS = 200; // the room list is searched once typing pauses this long

export class DialogsView {
  constructor() {
    this.submit = null;
    this.on = {};
    $("dialog-cancel").addEventListener("click", () => $("dialog").close());
    $("dialog-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const ok = $("dialog-ok");
      ok.disabled = true;
      $("dialog-error").textContent = "";
      try {
        if (!this.on.isOnline()) throw new Error("Not connected right now.");
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
   * refusal), isOnline() → bool, openDm(user), roomChosen() after a room was created or joined,
   * nonce() → a new nonce for a message.
   */
  bind(handlers) { this.on = handlers; }

  /**
   * Show the dialog with `fields` (elements) and run `submit` on OK; `submit` returns nothing
   * to close, or throws to show the error and stay open.
   */
  open({ title, fields, ok = "OK", submit }) {
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
    $("dialog").addEventListener("close", () => {
      if ($("dialog").open) return; // another dialog opened from this one's closing
      ok.classList.remove("danger");
      $("dialog-cancel").hidden = false;
    }, { once: true });
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
          onclick: async () => {
            try {
              await this.join(info.room);
              $("dialog").close();
            } catch (error) {
              $("dialog-error").textContent = error.message;
            }
          },
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
    this.open({
      title: `Invite someone to #${room.name}`,
      ok: "Invite",
      fields: field("invite-user", "User name", { required: true, maxlength: 32 }),
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
    if (!room || room.kind === "dm") return;
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
    if (!room || room.kind === "dm") return;
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
    if (!room || room.kind === "dm") return;
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
   * A new conversation starts with its first message, sent from here: the server says at once
   * whether there is such a user, and only then is the conversation opened (one that exists
   * already opens without a message). One nonce per dialog: sending again after an answer was
   * lost stores the message once.
   */
  newDm(state) {
    const nonce = this.on.nonce();
    this.open({
      title: "New direct message",
      ok: "Send",
      fields: [
        ...field("dm-user", "To (user name)", { required: true, maxlength: 32 }),
        h("label", { for: "dm-text" }, "Message"),
        h("textarea", { id: "dm-text", name: "dm-text", rows: 3,
          "aria-describedby": "dm-text-hint" }),
        h("small", { id: "dm-text-hint", class: "hint" }, "The conversation starts with it."),
      ],
      submit: async () => {
        const user = value("dm-user");
        if (!/^[A-Za-z0-9_.-]{1,32}$/.test(user)) throw new Error("That is not a user name.");
        const to = state.contacts.find((c) => sameUser(c, user)) || user;
        const text = $("dm-text").value;
        const existing = state.rooms.get(dmName(state.me, to));
        if (!text.trim()) {
          if (existing && !existing.draft) return this.on.openDm(to);
          throw new Error("Write a first message: it starts the conversation.");
        }
        await this.on.ask("dm", { to, text, nonce });
        return this.on.openDm(to);
      },
    });
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

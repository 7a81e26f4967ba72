// The person's own name in the sidebar's header, and what it opens: a menu (a preset status in
// one press, "Clear status", "Mark all as read", "Profile and status…", "Custom emoji…", "User
// groups", "Invite people…" for those who may, "Notification keywords…" (view-keywords.js)
// where the server keeps them, "Email notifications…" (view-email.js), "Download my data…"
// (view-export.js), and the read receipts'
// setting, a checkbox: "Let others see when I've read messages", receipts.js) and the
// "Profile and status" dialog: a
// display name, a status (an emoji and words, the presets, when it clears by itself) and
// "Clear status". Renders from the state (profiles.js); asks the server through `ask`
// (`set_profile`: the answer changes the state before `ask` resolves), as the dialogs of
// view-dialogs.js do, and shows a refusal in the dialog itself (or a toast, from the menu).
//
// Statuses end by the server's clock (clock.js): "until 14:30" is said in local time, and a
// status over is gone from here at once (state.js sets the timer that draws it then).

import * as clock from "./clock.js";
import { $, h, toast } from "./dom.js";
import { avatar, setPicture } from "./view-avatar.js";
import { closePopup, isOpenFrom, openMenu } from "./popup.js";
import { readAllHint } from "./readmarks.js";
import {
  avatarOf, CLEAR_AFTER, clearAfter, pictureProblem, PICTURE_TYPES, MAX_NAME_CHARS, MAX_TEXT_CHARS, PRESETS, presetLabel,
  profileChange, profileOf, shownStatus, shownUser, STATUS_EMOJI, statusWords, untilText,
} from "./profiles.js";

export class ProfileView {
  constructor() {
    this.on = {};
    this.state = null;
    this.drawn = null; // what the header shows of the person: JSON of shownUser
    $("me-name").addEventListener("click", () => this.toggleMenu());
  }

  /**
   * Handlers: ask(op, fields) → a promise of the `ok` frame (rejected with the refusal),
   * setAvatar(file) and removeAvatar() → a promise of the profile (rejected likewise),
   * dialog({title, fields, ok, submit}) (view-dialogs.js `open`), isOnline() → bool,
   * customEmoji() opens the "Custom emoji" dialog (view-emoji.js), userGroups() the "User
   * groups" panel (view-usergroups.js), readAll() marks everything read (asking first when
   * much is unread: controller.js `readAll`), readReceipts(on) shares the person's read
   * receipts or stops, mayInvite() → whether the person makes invitation links, invite()
   * opens the "Invite people" dialog (view-invites.js), keywords() the "Notification
   * keywords" dialog (view-keywords.js), email() the "Email notifications" dialog
   * (view-email.js), mailsNot() → whether the server is known to send no email,
   * exportData() the "Download my data" dialog (view-export.js).
   */
  bind(handlers) { this.on = handlers; }

  render(state, now) {
    this.state = state;
    const me = shownUser(state.profiles, state.me, now);
    const sig = JSON.stringify([me, me.status ? statusWords(me.status, now) : ""]);
    if (sig === this.drawn) return;
    this.drawn = sig;
    const button = $("me-name");
    button.textContent = me.name;
    button.title = me.login ? `${me.name} (${me.login})` : me.name;
    button.setAttribute("aria-label", `${me.name}: profile and status`);
    const line = $("me-custom");
    line.hidden = !me.status;
    // The emoji and the words shown; a screen reader hears the words and the end.
    line.replaceChildren(...(me.status ? [
      me.status.emoji ? h("span", { class: "status-emoji", "aria-hidden": "true" },
        me.status.emoji) : null,
      h("span", { class: "me-custom-text", "aria-hidden": "true" }, me.status.text || ""),
      h("span", { class: "visually-hidden" }, `Your status: ${statusWords(me.status, now)}`),
    ] : []));
    line.title = me.status ? statusWords(me.status, now) : "";
  }

  /** The person's menu, under their name. */
  toggleMenu() {
    const opener = $("me-name");
    if (isOpenFrom(opener)) {
      closePopup(true);
      return;
    }
    const now = clock.now();
    const status = this.state ? shownStatus(profileOf(this.state.profiles, this.state.me), now)
      : null;
    const items = [
      { label: "Profile and status…", run: () => this.openDialog() },
      { label: "Custom emoji…", run: () => this.on.customEmoji() },
      { label: "User groups", run: () => this.on.userGroups() },
      ...(this.on.mayInvite && this.on.mayInvite()
        ? [{ label: "Invite people…", run: () => this.on.invite() }] : []),
      // (Where the server sends no email, the item says so; its dialog says more.)
      { label: this.on.mailsNot && this.on.mailsNot()
        ? "Email notifications (not set up on this server)…" : "Email notifications…",
      run: () => this.on.email() },
      { label: "Download my data…", run: () => this.on.exportData() },
      { label: "Mark all as read", run: () => this.on.readAll(), hint: readAllHint(navigator),
        keys: "Shift+Escape" },
      ...(status ? [{ label: "Clear status", run: () => this.change({ custom_status: null }) }]
        : []),
      ...PRESETS.map((preset) => ({
        label: presetLabel(preset),
        run: () => this.change({ custom_status: { emoji: preset.emoji, text: preset.text,
          ...clearAfter(preset.clear, clock.now()) } }),
      })),
    ];
    // The person's notification keywords, where the server keeps them (keywords.js).
    if (this.state && this.state.keywords.list !== null) {
      items.push({ label: "Notification keywords…", run: () => this.on.keywords() });
    }
    // The read receipts' setting, once the server has said it (receipts.js): the person's,
    // on every device.
    const share = this.state ? this.state.receipts.share : null;
    if (share !== null) {
      items.push({ label: "Let others see when I've read messages", toggle: true,
        checked: share, run: () => this.on.readReceipts(!share) });
    }
    openMenu(opener, { label: "Your profile and status", items });
  }

  /** A change from the menu: a refusal is told in passing. */
  async change(body) {
    if (!this.on.isOnline()) {
      toast("Not connected right now; try again in a moment.");
      return;
    }
    try {
      await this.on.ask("set_profile", body);
    } catch (error) {
      toast(`Your status was not changed: ${error.message}`);
    }
  }

  /** The "Profile and status" dialog, filled with the person's profile as it is now. */
  openDialog() {
    const state = this.state;
    if (!state) return;
    const now = clock.now();
    const entry = profileOf(state.profiles, state.me);
    const status = shownStatus(entry, now);
    const name = h("input", { id: "profile-name", name: "profile-name", autocomplete: "name",
      spellcheck: "false", placeholder: state.me, "aria-describedby": "profile-name-hint" });
    name.value = entry && entry.name ? entry.name : "";
    const emoji = h("input", { id: "status-emoji", name: "status-emoji", class: "status-emoji-box",
      autocomplete: "off", "aria-label": "Status emoji", placeholder: "🙂", size: "3" });
    emoji.value = status ? status.emoji : "";
    const text = h("input", { id: "status-text", name: "status-text", autocomplete: "off",
      "aria-label": "Status", placeholder: "What is your status?" });
    text.value = status ? status.text : "";
    const clear = h("select", { id: "status-clear", name: "status-clear" },
      ...(status && status.until !== null ? [h("option", { value: "keep" },
        `As set: ${untilText(status.until, now)}`)] : []),
      ...CLEAR_AFTER.map((choice) => h("option", { value: choice.key }, choice.label)));
    clear.value = status && status.until !== null ? "keep" : "never";
    const custom = h("input", { id: "status-until", type: "datetime-local",
      "aria-label": "Clear the status at", hidden: true });
    const showCustom = () => {
      custom.hidden = clear.value !== "custom";
    };
    clear.addEventListener("change", showCustom);
    const fill = (preset) => {
      emoji.value = preset.emoji;
      text.value = preset.text;
      clear.value = preset.clear;
      showCustom();
      text.focus();
    };
    const presets = h("div", { class: "status-presets", role: "group",
      "aria-labelledby": "status-presets-title" },
    ...PRESETS.map((preset) => h("button", { type: "button", class: "dnd-choice",
      onclick: () => fill(preset) }, presetLabel(preset))));
    const emojis = h("div", { class: "status-emojis", role: "group",
      "aria-label": "Emoji for the status" },
    ...STATUS_EMOJI.map((choice) => h("button", { type: "button", class: "emoji-choice",
      "aria-label": `Use ${choice}`, title: choice, onclick: () => {
        emoji.value = choice;
        text.focus();
      } }, choice)));
    const clearNow = h("button", { type: "button", class: "small-button", id: "status-clear-now",
      onclick: () => {
        emoji.value = "";
        text.value = "";
        clear.value = "never";
        showCustom();
        text.focus();
      } }, "Clear status");
    this.on.dialog({
      title: "Profile and status",
      ok: "Save",
      fields: [
        this.pictureField(state),
        h("label", { for: "profile-name" }, "Display name"),
        name,
        h("small", { class: "hint", id: "profile-name-hint" },
          `Shown instead of your user name, ${state.me} (which @mentions still use). Up to `
          + `${MAX_NAME_CHARS} characters; empty for none.`),
        h("label", { for: "status-text" }, "Status"),
        h("div", { class: "status-row" }, emoji, text),
        emojis,
        h("small", { class: "hint" }, `Up to ${MAX_TEXT_CHARS} characters, seen by the people `
          + "who share a room with you or have you as a contact."),
        h("span", { class: "status-presets-title", id: "status-presets-title" }, "Suggestions"),
        presets,
        h("label", { for: "status-clear" }, "Clear after"),
        h("div", { class: "status-row status-when" }, clear, custom),
        h("p", { class: "status-actions" }, clearNow),
      ],
      submit: async () => {
        const change = profileChange(profileOf(this.state.profiles, this.state.me), {
          name: name.value, emoji: emoji.value, text: text.value, clear: clear.value,
          custom: custom.value }, clock.now());
        if (change.problem) throw new Error(change.problem);
        if (Object.keys(change.body).length) await this.on.ask("set_profile", change.body);
      },
    });
  }

  /**
   * The dialog's picture: a preview, "Upload a picture" (a file input; a file dropped on the
   * preview does the same) and "Remove picture". Each takes effect at once, as Slack's
   * does (not on Save). The preview is the picture the server made (the centred square,
   * as others see it), shown once it is stored: the page's CSP loads images from this
   * server only (no blob: urls). A refusal is said under it.
   */
  pictureField(state) {
    const current = () => avatarOf(this.state.profiles, this.state.me);
    const preview = avatar(state.me, current(), "profile-picture");
    const said = h("small", { class: "hint", id: "profile-picture-said", role: "status" });
    const input = h("input", { id: "profile-picture-file", type: "file", hidden: true,
      accept: PICTURE_TYPES.join(","), "aria-label": "Picture file" });
    const remove = h("button", { type: "button", class: "small-button",
      id: "profile-picture-remove", hidden: !current() }, "Remove picture");
    const send = async (file) => {
      const problem = pictureProblem(file);
      if (problem) {
        said.textContent = problem;
        return;
      }
      said.textContent = "Uploading…";
      try {
        const stored = await this.on.setAvatar(file);
        setPicture(preview, stored.avatar ? stored.avatar.url : current());
        remove.hidden = !stored.avatar;
        said.textContent = "Your picture is changed.";
      } catch (error) {
        said.textContent = `Your picture was not changed: ${error.message}`;
      }
    };
    input.addEventListener("change", () => {
      if (input.files && input.files[0]) send(input.files[0]);
      input.value = "";
    });
    preview.addEventListener("dragover", (event) => event.preventDefault());
    preview.addEventListener("drop", (event) => {
      event.preventDefault();
      const file = event.dataTransfer && event.dataTransfer.files[0];
      if (file) send(file);
    });
    remove.addEventListener("click", async () => {
      said.textContent = "Removing…";
      try {
        await this.on.removeAvatar();
        setPicture(preview, null);
        remove.hidden = true;
        said.textContent = "Your picture is removed.";
      } catch (error) {
        said.textContent = `Your picture was not removed: ${error.message}`;
      }
    });
    return h("div", { class: "profile-picture-row" }, preview,
      h("div", { class: "profile-picture-actions" },
        // A button (the keyboard reaches it) that opens the hidden input's file chooser.
        h("button", { type: "button", class: "small-button", id: "profile-picture-upload",
          onclick: () => input.click() }, "Upload a picture"),
        input, remove, said));
  }
}

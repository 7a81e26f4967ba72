// The "Email notifications" dialog, opened from the menu under the person's name: the address
// and its state (none; waiting for its confirmation, "We sent a link to ann@example.org", with
// Resend; confirmed), a field to set or change it, Remove, and the switch "Email me about
// direct messages and mentions while I'm away" (off, and said why, until the address is
// confirmed). On a server without SMTP (`available` false) it says so instead of offering the
// field. A refusal is said in words next to what was refused.
//
// Over HTTP (docs/protocol.md, "Email"): GET /api/me/email when the dialog opens (and, while
// it is open, when a confirmation link lands on this page, or when the page is shown again
// with the address waiting for its link: the person was reading their mail), PUT /api/me/email {email} (202: a
// link is mailed), DELETE /api/me/email, PUT /api/me/email-notifications {on}. The state is
// email.js's. What the server sends reaches the page as text (h(), textContent).
//
// The confirmation link mailed opens the page at "#confirm-email=TOKEN" (the token in the
// fragment, which no request carries and no proxy's access log keeps): the token is taken off
// the address at once and posted (POST /api/email/confirm {token}, no log-in needed: the link
// may be opened on another device); once confirmed the page goes on to "#email-confirmed",
// where it says so (controller.js), and a link that does not work is said in a toast.

import { authed } from "./api.js";
import { $, h, toast } from "./dom.js";
import {
  addressToSend, emailAsked, emailChanged, emailFailed, emailLoaded, emailRefusal, emailView,
  emptyEmail,
} from "./email.js";

/** The address waiting for its link in an answer (`pending`), or null. */
function pendingOf(body) {
  return body && typeof body.pending === "string" && body.pending ? body.pending : null;
}

const CONFIRM_PREFIX = "#confirm-email=";
const CONFIRM_TOKEN = /^[A-Za-z0-9_-]{16,128}$/;

/** The token of a confirmation link's fragment ("#confirm-email=TOKEN"), or null. */
function confirmationFromHash(hash) {
  if (typeof hash !== "string" || !hash.startsWith(CONFIRM_PREFIX)) return null;
  const token = hash.slice(CONFIRM_PREFIX.length).split("&")[0];
  return CONFIRM_TOKEN.test(token) ? token : null;
}

export class EmailView {
  constructor() {
    this.takeConfirmation();
    window.addEventListener("hashchange", () => this.takeConfirmation());
    this.on = {};
    this.held = emptyEmail();
    this.pending = null; // the new address a confirmed one is being changed to, if any
    this.busy = false;
    this.returnFocus = null;
    $("email-close").addEventListener("click", () => $("email-dialog").close());
    $("email-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.save($("email-address").value);
    });
    $("email-address").addEventListener("input", () => this.fieldError(""));
    $("email-resend").addEventListener("click", () => {
      if (this.held.email !== null) this.save(this.held.email, { resend: true });
    });
    $("email-remove").addEventListener("click", () => this.remove());
    $("email-notify").addEventListener("change", () => this.notify($("email-notify").checked));
    // Back from the mail client (the link opened in another tab or on another device):
    // an address waiting for its confirmation is asked about again.
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible" && this.isOpen && !this.busy
        && emailView(this.held).kind === "pending") this.load();
    });
    $("email-dialog").addEventListener("close", () => {
      const back = this.returnFocus;
      this.returnFocus = null;
      if (back && back.isConnected && !back.closest("[inert]")) back.focus();
    });
  }

  /**
   * Handlers: call(method, path, body) → a promise of the JSON answer (an ApiError with the
   * server's code, message and retryAfter when refused).
   */
  bind(handlers) { this.on = handlers; }

  get isOpen() {
    return $("email-dialog").open;
  }

  /** Open the dialog and ask the server for the address as it is now. */
  open() {
    if (this.isOpen) return;
    const active = document.activeElement;
    this.returnFocus = active && active !== document.body && active.isConnected ? active
      : $("me-name");
    this.held = emptyEmail();
    this.pending = null;
    $("email-address").value = "";
    this.fieldError("");
    this.say("");
    this.draw();
    $("email-dialog").showModal();
    $("email-close").focus();
    this.load({ focus: true });
  }

  close() {
    if (this.isOpen) $("email-dialog").close();
  }

  /** Ask again (`focus`: then move the focus to what the person does first). */
  async load({ focus = false } = {}) {
    const serial = emailAsked(this.held);
    this.draw();
    try {
      const body = await this.on.call("GET", "/api/me/email");
      if (emailLoaded(this.held, serial, body)) this.pending = pendingOf(body);
    } catch (error) {
      emailFailed(this.held, serial, error && error.message);
    }
    if (!this.isOpen) return;
    this.draw();
    if (focus) this.focusFirst();
  }

  /**
   * A confirmation link opened this page ("#confirm-email=TOKEN"): the token off the address
   * (the address bar and the history keep no working token), then posted; confirmed, the page
   * goes on to "#email-confirmed" (said by the controller, which also has the open dialog ask
   * again); refused, the reason is said.
   */
  async takeConfirmation() {
    const token = confirmationFromHash(location.hash);
    if (token === null) return;
    history.replaceState(null, "", location.pathname + location.search);
    try {
      await authed(null, "POST", "/api/email/confirm", { token });
    } catch (error) {
      toast(`Your email address is not confirmed: ${error && error.message
        ? error.message : "the server did not answer."}`);
      return;
    }
    location.replace("#email-confirmed");
  }

  /** A confirmation link landed on this page: the open dialog shows it. */
  confirmedElsewhere() {
    if (this.isOpen) this.load();
  }

  focusFirst() {
    const view = emailView(this.held);
    if (view.kind === "none") $("email-address").focus();
    else if (view.kind === "pending") $("email-resend").focus();
    else if (view.kind === "confirmed") $("email-notify").focus();
  }

  /** Set the address (or send its link again: `resend`). */
  async save(text, { resend = false } = {}) {
    if (this.busy) return;
    const made = addressToSend(text, resend ? null : this.held);
    this.say("");
    if (made.problem) {
      this.fieldError(made.problem);
      $("email-address").focus();
      return;
    }
    this.fieldError("");
    await this.change("PUT", "/api/me/email", { email: made.email }, { email: made.email }, {
      done: () => {
        $("email-address").value = "";
        this.say(resend ? `We sent another link to ${made.email}.`
          : `We sent a link to ${made.email}: open it to confirm the address.`);
        $("email-resend").focus(); // (the address now waits for its link)
      },
      refused: (words) => {
        if (resend) {
          this.say(`No link was sent. ${words}`);
        } else {
          this.fieldError(words);
          $("email-address").focus();
        }
      },
    });
  }

  async remove() {
    const was = this.held.email;
    await this.change("DELETE", "/api/me/email", undefined, { email: null }, {
      done: () => {
        this.say(`${was} is removed: no more email from this server.`);
        $("email-address").focus();
      },
      refused: (words) => this.say(`The address was not removed. ${words}`),
    });
  }

  async notify(on) {
    if (this.busy) {
      this.draw(); // (one change at a time: the switch stays as the state has it)
      return;
    }
    await this.change("PUT", "/api/me/email-notifications", { on }, { notify: on }, {
      done: () => this.say(on ? "Email notifications are on." : "Email notifications are off."),
      refused: (words) => {
        this.say(`Not changed. ${words}`);
        $("email-notify").focus();
      },
    });
  }

  /** One change at a time: asked, then the state kept and drawn, then `done` or `refused`. */
  async change(method, path, body, meant, { done, refused }) {
    if (this.busy) return;
    this.busy = true;
    this.setBusy(true);
    try {
      const answer = await this.on.call(method, path, body);
      emailChanged(this.held, meant, answer);
      this.pending = pendingOf(answer);
      this.busy = false;
      this.setBusy(false);
      this.draw();
      done();
    } catch (error) {
      this.busy = false;
      this.setBusy(false);
      this.draw(); // (the switch back as it was)
      refused(emailRefusal(error));
    }
  }

  setBusy(busy) {
    for (const id of ["email-save", "email-resend", "email-remove"]) $(id).disabled = busy;
    $("email-dialog").setAttribute("aria-busy", String(busy));
  }

  say(text) {
    $("email-said").textContent = text;
  }

  fieldError(text) {
    $("email-error").textContent = text;
    if (text) $("email-address").setAttribute("aria-invalid", "true");
    else $("email-address").removeAttribute("aria-invalid");
  }

  draw() {
    const view = emailView(this.held);
    const state = $("email-state");
    state.dataset.kind = view.kind;
    const lines = [...view.lines];
    if (view.kind === "confirmed" && this.pending && this.pending !== this.held.email) {
      // (the confirmed address stays, and gets the mail, until the new one is confirmed)
      lines.push(`Changing to ${this.pending}: open the link we sent there. Until then, `
        + `mail goes to ${this.held.email}.`);
    }
    state.replaceChildren(...lines.map((line) => h("p", {}, line)));
    $("email-resend").hidden = !view.resend;
    $("email-remove").hidden = !view.remove;
    $("email-field").hidden = !view.field.shown;
    if (view.field.shown) {
      $("email-address-label").textContent = view.field.label;
      $("email-save").textContent = view.field.submit;
    }
    $("email-notify-row").hidden = !view.notify.shown;
    const box = $("email-notify");
    box.checked = view.notify.checked;
    box.disabled = view.notify.disabled;
    $("email-notify-hint").textContent = view.notify.hint;
  }
}

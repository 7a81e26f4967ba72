// Log in or create an account. On success the handler gets the session (api.js).
//
// Invitations (invites.js): a page opened with "#invite=TOKEN" asks the server what the link
// gives (`GET /api/join/{token}`, no account needed), opens on "Create account" and says who
// invited the person and into which rooms, or why the link does not work (expired, used up,
// revoked); the registration sends the token, and the room to open first goes with the
// session. Without an invitation, the server's mode (`GET /api/register`) decides what the
// "Create account" form says: by invitation only, or no new accounts at all, instead of a
// refusal at submit.

import * as api from "./api.js";
import { $, h } from "./dom.js";
import {
  firstInvitedRoom, invitationNotice, invitationToSend, inviteFromHash, parseLook,
  parseRegistration, registerProblem,
} from "./invites.js";

export class AuthView {
  constructor() {
    this.mode = "login";
    this.on = {};
    this.token = null; // the invitation of the address, if any
    this.look = null; // what the server said of it (invites.js parseLook), once it has
    this.lookFailed = false;
    this.registration = null; // the server's auth.registration, once known
    this.asked = 0; // the serial of the last question to the server (a later one wins)
    $("tab-login").addEventListener("click", () => this.setMode("login"));
    $("tab-register").addEventListener("click", () => this.setMode("register"));
    for (const tab of [$("tab-login"), $("tab-register")]) {
      tab.addEventListener("keydown", (event) => {
        if (event.key === "ArrowLeft" || event.key === "ArrowRight") {
          const next = this.mode === "login" ? "register" : "login";
          this.setMode(next);
          $(next === "login" ? "tab-login" : "tab-register").focus();
        }
      });
    }
    window.addEventListener("hashchange", () => {
      if (!$("auth-view").hidden) this.learn();
    });
    $("auth-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const username = $("auth-username").value.trim();
      const password = $("auth-password").value;
      const submit = $("auth-submit");
      $("auth-error").textContent = "";
      submit.disabled = true;
      const mode = this.mode;
      const look = this.look;
      let opened = null;
      try {
        if (mode === "register") {
          const invitation = invitationToSend(this.registration, look, this.token);
          const made = await api.register(username, password, invitation);
          if (invitation !== null) opened = firstInvitedRoom(look, made && made.rooms);
        }
        const session = await api.login(username, password);
        $("auth-password").value = "";
        this.forgetInvitation();
        this.on.loggedIn(session, { room: opened });
      } catch (error) {
        this.refused(error);
        $("auth-error").textContent = api.explain(error, mode);
        (error.code === "conflict" ? $("auth-username") : $("auth-password")).focus();
      } finally {
        this.renderNote();
      }
    });
  }

  /** Handlers: loggedIn(session, {room}) (`room`: the invited room to open first, or null). */
  bind(handlers) { this.on = handlers; }

  setMode(mode) {
    this.mode = mode;
    const login = mode === "login";
    $("tab-login").setAttribute("aria-selected", String(login));
    $("tab-register").setAttribute("aria-selected", String(!login));
    $("tab-login").tabIndex = login ? 0 : -1;
    $("tab-register").tabIndex = login ? -1 : 0;
    $("auth-form").setAttribute("aria-labelledby", login ? "tab-login" : "tab-register");
    $("auth-submit").textContent = login ? "Log in" : "Create account";
    $("auth-password").autocomplete = login ? "current-password" : "new-password";
    $("auth-password").minLength = login ? 0 : 8;
    $("auth-password-hint").hidden = login;
    $("auth-error").textContent = "";
    this.renderNote();
  }

  /** Show the form (with a message saying why, if any). */
  show(message = "") {
    $("auth-view").hidden = false;
    document.title = "chatd";
    this.learn();
    this.setMode(this.mode);
    $("auth-error").textContent = message;
    $("auth-username").focus();
  }

  hide() {
    $("auth-view").hidden = true;
  }

  /**
   * Read the address's invitation and ask the server about it (or, without one, who may
   * register): an invitation opens the form on "Create account".
   */
  async learn() {
    const token = inviteFromHash(location.hash);
    const serial = ++this.asked;
    if (token !== this.token) {
      this.token = token;
      this.look = null;
      this.lookFailed = false;
      if (token !== null) this.setMode("register");
    }
    this.renderInvitation();
    this.renderNote();
    try {
      if (token !== null) {
        const look = parseLook(await api.lookAtInvitation(token));
        if (serial !== this.asked) return;
        this.look = look;
        this.registration = look.registration;
      } else {
        const info = parseRegistration(await api.registration());
        if (serial !== this.asked) return;
        this.registration = info.registration;
      }
    } catch {
      if (serial !== this.asked) return;
      // No answer: the form works as it always did (the server says no at submit, if so).
      this.lookFailed = token !== null;
    }
    this.renderInvitation();
    this.renderNote();
  }

  /** A registration refused for its invitation or the server's mode: the page says so. */
  refused(error) {
    const code = error && error.code;
    if (typeof code !== "string") return;
    if (code.startsWith("invitation_") && code !== "invitation_required" && this.look) {
      this.look = { ...this.look, valid: false, code };
      this.renderInvitation();
    } else if (code === "registration_closed") {
      this.registration = "closed";
    } else if (code === "invitation_required") {
      this.registration = "invite";
    }
  }

  /** Take the invitation off the address once an account is in (it has been used). */
  forgetInvitation() {
    if (inviteFromHash(location.hash) !== null) {
      history.replaceState(null, "", location.pathname + location.search);
    }
    this.token = null;
    this.look = null;
    this.lookFailed = false;
    this.renderInvitation();
  }

  renderInvitation() {
    const box = $("auth-invite");
    box.hidden = this.token === null;
    if (this.token === null) return;
    const notice = invitationNotice(this.look, { failed: this.lookFailed });
    $("auth-invite-title").textContent = notice.title;
    box.classList.toggle("problem", notice.problem);
    $("auth-invite-text").replaceChildren(...notice.lines.map((line) => h("p", {}, line)));
  }

  /** What "Create account" says instead of failing at submit; its button then waits. */
  renderNote() {
    const problem = this.mode === "register"
      ? registerProblem(this.registration, this.look, this.token) : null;
    const note = $("auth-register-note");
    note.hidden = problem === null;
    note.textContent = problem || "";
    $("auth-submit").disabled = problem !== null;
  }
}

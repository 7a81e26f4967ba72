// Log in or create an account. On success the handler gets the session (api.js).
//
// Invitations (invites.js): a page opened with "#invite=TOKEN" asks the server what the link
// gives (`GET /api/join/{token}`, no account needed), opens on "Create account" and says who
// invited the person and into which rooms, or why the link does not work (expired, used up,
// revoked); the registration sends the token, and the room to open first goes with the
// session. Without an invitation, the server's mode (`GET /api/register`) decides what the
// "Create account" form says: by invitation only, or no new accounts at all, instead of a
// refusal at submit.
//
// Passwords by email (email.js): when the server says it can (`password_reset` in
// `GET /api/register`), "Forgot password?" under "Log in" asks for a user name or an address
// and then says a link was sent if an account matches, whatever the server did. A page opened
// with "#reset=TOKEN" (the link) takes the token off the address at once and shows "Choose a
// new password" (typed twice, the registration's rule said: the server's
// `min_password_length`, as "Create account" says it too); the token is posted in the body
// (`POST /api/password-reset/complete`), never in a URL; once set, it logs in with it (the
// answer names the account; if it does not, the same form asks for the user name), or says
// the link has expired, with a way to ask for a new one.

import * as api from "./api.js";
import { $, h } from "./dom.js";
import {
  forgotBody, FORGOT_SENT, MIN_PASSWORD, newPasswordProblem, parseResetInfo, resetFromHash,
  resetRefusal, resetUser,
} from "./email.js";
import {
  firstInvitedRoom, invitationNotice, invitationToSend, inviteFromHash, parseLook,
  parseRegistration, registerProblem,
} from "./invites.js";
import { joinFromHash } from "./roomlinks.js";

export class AuthView {
  constructor() {
    this.mode = "login";
    this.on = {};
    this.token = null; // the invitation of the address, if any
    this.look = null; // what the server said of it (invites.js parseLook), once it has
    this.lookFailed = false;
    this.registration = null; // the server's auth.registration, once known
    this.asked = 0; // the serial of the last question to the server (a later one wins)
    this.panel = "sign"; // "sign" (log in, create account), "forgot", "reset"
    this.resetInfo = { offered: false, minPassword: MIN_PASSWORD }; // (email.js parseResetInfo)
    this.resetToken = null; // a reset link's token, taken off the address, until it is spent
    this.resetStage = "password"; // "password", then "user" (asked for the name) or "expired"
    this.newPassword = null; // the password just set, while the form asks for the user name
    $("auth-forgot").addEventListener("click", () => this.showPanel("forgot"));
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
      if ($("auth-view").hidden) return;
      if (this.takeReset()) this.showPanel("reset");
      this.learn();
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
    this.renderPasswordRule();
    $("auth-password-hint").hidden = login;
    $("auth-error").textContent = "";
    this.renderNote();
    this.renderForgot();
  }

  /**
   * The new password's rule on "Create account" as the server has it (`min_password_length`
   * of `GET /api/register`; 8, the default, until it has said): the field's minimum and the
   * hint under it. "Log in" takes any length (an old password may be shorter).
   */
  renderPasswordRule() {
    const min = this.resetInfo.minPassword;
    $("auth-password").minLength = this.mode === "login" ? 0 : min;
    $("auth-password-hint").textContent = `At least ${min} characters.`;
  }

  /**
   * Show the form (with a message saying why, if any): "Choose a new password" while a reset
   * link's token is held (the address had one), else "Log in".
   */
  show(message = "") {
    $("auth-view").hidden = false;
    document.title = "chatd";
    this.takeReset();
    this.learn();
    this.setMode(this.mode);
    this.showPanel(this.resetToken !== null ? "reset" : "sign");
    $("auth-error").textContent = message;
  }

  /**
   * Take a reset link's token off the address ("#reset=TOKEN": the address bar, and the
   * history, keep no working token) and hold it for the form. True when there was one.
   */
  takeReset() {
    const token = resetFromHash(location.hash);
    if (token === null) return false;
    history.replaceState(null, "", location.pathname + location.search);
    this.resetToken = token;
    this.resetStage = "password";
    this.newPassword = null;
    return true;
  }

  /** Whether a reset link's token waits here (the page, logged in, says how to use it). */
  get holdsReset() {
    return this.resetToken !== null;
  }

  /**
   * Show one of the card's forms: "sign" (the tabs), "forgot", "reset". The last two are in
   * the page only while shown (from their templates): their fields are no others' namesakes.
   */
  showPanel(panel) {
    const sign = panel === "sign";
    if (panel !== this.panel || !sign && !$(`${panel}-form`)) this.mount(panel);
    this.panel = panel;
    $("auth-tabs").hidden = !sign;
    $("auth-form").hidden = !sign;
    $("auth-invite").hidden = !sign || this.token === null;
    if (panel === "forgot") {
      $("forgot-user").value = $("auth-username").value.trim();
      $("forgot-user").focus();
    } else if (panel === "reset") {
      this.renderReset();
      (this.resetStage === "user" ? $("reset-user")
        : this.resetStage === "expired" ? $("reset-ask") : $("reset-password")).focus();
    } else {
      this.renderForgot();
      $("auth-username").focus();
    }
  }

  /** Put the form of `panel` in the card (a fresh one), or none for "sign". */
  mount(panel) {
    const holder = $("auth-panel");
    holder.replaceChildren();
    if (panel === "sign") return;
    holder.append($(`${panel}-template`).content.cloneNode(true));
    $(`${panel}-form`).addEventListener("submit", (event) => {
      event.preventDefault();
      if (panel === "forgot") this.forgot();
      else this.reset();
    });
    // What was said of the fields is gone once they change.
    $(`${panel}-form`).addEventListener("input", () => {
      $(`${panel}-error`).textContent = "";
    });
    $(`${panel}-back`).addEventListener("click", () => {
      if (panel === "reset") { // (the link is let go: opened again, it is taken again)
        this.resetToken = null;
        this.resetStage = "password";
        this.newPassword = null;
      }
      this.showPanel("sign");
    });
    if (panel === "reset") {
      $("reset-ask").addEventListener("click", () => this.showPanel("forgot"));
    }
  }

  /** "Forgot password?" under "Log in", where the server sends reset links. */
  renderForgot() {
    $("auth-forgot").hidden = this.mode !== "login" || !this.resetInfo.offered;
  }

  /**
   * Ask for a reset link; say the same whatever the server did (no account is told). The
   * form's elements are held: the person may go back to "Log in" while it is asked.
   */
  async forgot() {
    const [field, error, sent, submit] = ["forgot-user", "forgot-error", "forgot-sent",
      "forgot-submit"].map((id) => $(id));
    const made = forgotBody(field.value);
    error.textContent = "";
    sent.hidden = true;
    if (made.problem) {
      error.textContent = made.problem;
      field.focus();
      return;
    }
    submit.disabled = true;
    let said = FORGOT_SENT;
    try {
      await api.askPasswordReset(made.body.user);
    } catch (refusal) {
      // Nothing left this browser, the server asks to wait, or it sends no email (any more):
      // say so. Any other answer is the server's, and says nothing of the account either.
      if (refusal.code === "email_disabled") {
        said = null;
        error.textContent = "This server does not send email: ask its administrator to set "
          + "a new password for you.";
      } else if (refusal.code === "network" || refusal.code === "rate_limited") {
        said = null;
        error.textContent = api.explain(refusal, "login");
      }
    } finally {
      submit.disabled = false;
    }
    if (said !== null) {
      sent.textContent = said;
      sent.hidden = false;
    }
  }

  /** "Choose a new password" as its stage has it. */
  renderReset() {
    const stage = this.resetStage;
    $("reset-password-hint").textContent = `At least ${this.resetInfo.minPassword} characters.`;
    $("reset-password-rows").hidden = stage !== "password";
    $("reset-user-row").hidden = stage !== "user";
    $("reset-submit").hidden = stage === "expired";
    $("reset-submit").textContent = stage === "user" ? "Log in" : "Set password and log in";
    $("reset-ask").hidden = stage !== "expired";
    $("reset-done").hidden = stage !== "user";
    $("reset-done").textContent = stage === "user"
      ? "Your password is changed. Enter your user name to log in with it." : "";
  }

  /** Whether `form` is the form shown now (the person did not go back while it was asked). */
  shown(form) {
    return form.isConnected && !$("auth-view").hidden;
  }

  /** Set the new password with the link's token, then log in with it. */
  async reset() {
    const form = $("reset-form");
    const submit = $("reset-submit");
    $("reset-error").textContent = "";
    if (this.resetStage === "user") {
      await this.logInAfterReset($("reset-user").value.trim(), this.newPassword);
      return;
    }
    const token = this.resetToken;
    if (this.resetStage !== "password" || token === null || submit.disabled) return;
    const password = $("reset-password").value;
    const problem = newPasswordProblem(password, $("reset-again").value,
      this.resetInfo.minPassword);
    if (problem) {
      $("reset-error").textContent = problem;
      $("reset-password").focus();
      return;
    }
    submit.disabled = true;
    let answer;
    try {
      answer = await api.resetPassword(token, password);
    } catch (error) {
      submit.disabled = false;
      const refusal = resetRefusal(error);
      if (refusal.expired && this.resetToken === token) {
        this.resetToken = null;
        this.resetStage = "expired";
      }
      if (!this.shown(form)) return;
      $("reset-error").textContent = refusal.text;
      this.renderReset();
      (refusal.expired ? $("reset-ask") : $("reset-password")).focus();
      return;
    }
    submit.disabled = false;
    if (this.resetToken === token) this.resetToken = null; // (spent)
    const user = resetUser(answer);
    if (user === null) {
      // The form asks for the account's name (the password is set: it is kept to log in).
      this.newPassword = password;
      this.resetStage = "user";
      if (!this.shown(form)) return;
      $("reset-password").value = "";
      $("reset-again").value = "";
      this.renderReset();
      $("reset-user").focus();
      return;
    }
    await this.logInAfterReset(user, password);
  }

  /**
   * Log in with the password just set; a wrong name (asked for) is said in the form, any
   * other refusal sends the person to "Log in", their name filled in.
   */
  async logInAfterReset(username, password) {
    const [form, error, field, submit] = ["reset-form", "reset-error", "reset-user",
      "reset-submit"].map((id) => $(id));
    if (!username) {
      error.textContent = "Enter your user name.";
      field.focus();
      return;
    }
    if (submit.disabled) return;
    submit.disabled = true;
    let session;
    try {
      session = await api.login(username, password);
    } catch (refusal) {
      submit.disabled = false;
      if (!this.shown(form)) return;
      if (this.resetStage === "user" && refusal.code === "unauthenticated") {
        error.textContent = "That is not the account whose password was changed: check the "
          + "user name.";
        field.focus();
        return;
      }
      this.newPassword = null;
      this.resetStage = "password";
      this.setMode("login");
      this.showPanel("sign");
      $("auth-username").value = username;
      $("auth-error").textContent = "Your password is changed, but you are not logged in: "
        + `${api.explain(refusal, "login")}`;
      $("auth-password").focus();
      return;
    }
    submit.disabled = false;
    this.newPassword = null;
    this.resetStage = "password";
    this.on.loggedIn(session, { room: null });
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
    $("auth-view").setAttribute("aria-busy", "true"); // (until the server has said)
    try {
      if (token !== null) {
        // (What the server offers besides, for "Log in": its answer may not come.)
        const [body, info] = await Promise.all([api.lookAtInvitation(token),
          api.registration().catch(() => null)]);
        const look = parseLook(body);
        if (serial !== this.asked) return;
        this.look = look;
        this.registration = look.registration;
        if (info) this.resetInfo = parseResetInfo(info);
      } else {
        const body = await api.registration();
        const info = parseRegistration(body);
        if (serial !== this.asked) return;
        this.registration = info.registration;
        this.resetInfo = parseResetInfo(body);
      }
    } catch {
      if (serial !== this.asked) return;
      // No answer: the form works as it always did (the server says no at submit, if so).
      this.lookFailed = token !== null;
    }
    $("auth-view").setAttribute("aria-busy", "false");
    this.renderInvitation();
    this.renderNote();
    this.renderForgot();
    this.renderPasswordRule();
    if (this.panel === "reset" && $("reset-form")) this.renderReset();
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
    // A room link (roomlinks.js) is for an account: the form says so, and keeps it on the
    // address for after the log-in.
    $("auth-join").hidden = joinFromHash(location.hash) === null || this.panel !== "sign";
    const box = $("auth-invite");
    box.hidden = this.token === null || this.panel !== "sign";
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

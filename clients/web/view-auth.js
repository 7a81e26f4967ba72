// Log in or create an account. On success the handler gets the session (api.js).

import * as api from "./api.js";
import { $ } from "./dom.js";

export class AuthView {
  constructor() {
    this.mode = "login";
    this.on = {};
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
    $("auth-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const username = $("auth-username").value.trim();
      const password = $("auth-password").value;
      const submit = $("auth-submit");
      $("auth-error").textContent = "";
      submit.disabled = true;
      const mode = this.mode;
      try {
        if (mode === "register") await api.register(username, password);
        const session = await api.login(username, password);
        $("auth-password").value = "";
        this.on.loggedIn(session);
      } catch (error) {
        $("auth-error").textContent = api.explain(error, mode);
        (error.code === "conflict" ? $("auth-username") : $("auth-password")).focus();
      } finally {
        submit.disabled = false;
      }
    });
  }

  /** Handlers: loggedIn(session). */
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
  }

  /** Show the form (with a message saying why, if any). */
  show(message = "") {
    $("auth-view").hidden = false;
    document.title = "chatd";
    this.setMode(this.mode);
    $("auth-error").textContent = message;
    $("auth-username").focus();
  }

  hide() {
    $("auth-view").hidden = true;
  }
}

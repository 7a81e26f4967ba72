// The connection's state as the person sees it: the dot under their name, and the banner that
// says why the page is offline and when it tries again.

import * as clock from "./clock.js";
import { $ } from "./dom.js";

const COUNTDOWN_MS = 500;

export class ConnectionView {
  constructor() {
    this.countdown = null;
    this.state = null;
    this.on = {};
    $("banner-retry").addEventListener("click", () => this.on.retry());
  }

  /** Handlers: retry() (reconnect now). */
  bind(handlers) { this.on = handlers; }

  render(state, now) {
    const phase = state.connection;
    const away = phase === "online" && state.idle; // (idle.js: the server says so too)
    $("me-status").dataset.phase = away ? "away" : phase;
    $("me-status-text").textContent = away ? "away" : phase === "online" ? "online"
      : phase === "connecting" ? "connecting" : "offline";
    const banner = $("banner");
    const quiet = phase === "online" || phase === "stopped"
      || (phase === "connecting" && state.attempt === 0); // the very first attempt
    banner.hidden = quiet;
    this.state = state;
    if (phase !== "waiting") this.stopCountdown();
    else if (this.countdown === null) {
      // The banner's own clock: the seconds count down while nothing else changes.
      this.countdown = setInterval(() => this.render(this.state, clock.now()), COUNTDOWN_MS);
    }
    if (quiet) return;
    const why = state.closeReason || "Connection lost.";
    if (phase === "connecting" || state.retryAt === null) {
      $("banner-text").textContent = `${why} Reconnecting…`;
    } else {
      const seconds = Math.max(1, Math.ceil((state.retryAt - now) / 1000));
      $("banner-text").textContent = `${why} Reconnecting in ${seconds} s…`;
    }
  }

  stopCountdown() {
    clearInterval(this.countdown);
    this.countdown = null;
  }

  /** Hide everything (logged out). */
  clear() {
    this.stopCountdown();
    $("banner").hidden = true;
  }
}

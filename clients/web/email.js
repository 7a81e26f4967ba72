// Email (docs/protocol.md, "Email"), the pure half: the "Email notifications" dialog's state
// (`GET /api/me/email`, kept after a PUT or a DELETE and what the dialog shows of it), the
// addresses the page opens with ("#email-confirmed", where a confirmation link lands, and
// "#reset=TOKEN", a password reset link), and the rules of the "Forgot password?" and
// "Choose a new password" forms. No DOM, no I/O, no clock.
//
// The address is the person's, on every device: the dialog asks for it each time it opens
// (no event tells a change made elsewhere), and after a change keeps what the answer says
// (or, an answer without the state, what the change means). Answers can cross: each ask has
// a serial, and only the last one's answer is kept.

export const RESET_PREFIX = "#reset=";
export const CONFIRMED_HASH = "#email-confirmed";
/** A reset token as the server makes them (base64url); a client takes 16-128 characters. */
export const TOKEN = /^[A-Za-z0-9_-]{16,128}$/;
/** The longest address (RFC 5321's path: 254 characters). */
export const MAX_ADDRESS = 254;
/** The registration's password rule (`auth.min_password_length`, default 8; at most 1024). */
export const MIN_PASSWORD = 8;
export const MAX_PASSWORD = 1024;

/** What "Forgot password?" says once asked, whatever the server did (no account is told). */
export const FORGOT_SENT = "If an account matches, we sent a link to its email address. "
  + "Open it within an hour to choose a new password.";

// -- the page's address ------------------------------------------------------------------------

/**
 * The token of a password reset link's fragment ("#reset=TOKEN", anything after a "&" left
 * alone), or null for another fragment or a token not of a token's shape.
 */
export function resetFromHash(hash) {
  if (typeof hash !== "string" || !hash.startsWith(RESET_PREFIX)) return null;
  const token = hash.slice(RESET_PREFIX.length).split("&")[0];
  return TOKEN.test(token) ? token : null;
}

/** Whether the fragment is where a confirmation link lands ("#email-confirmed"). */
export function confirmedFromHash(hash) {
  if (typeof hash !== "string") return false;
  return hash === CONFIRMED_HASH || hash.startsWith(`${CONFIRMED_HASH}&`);
}

/** `GET /api/register`: whether "Forgot password?" works here, and the password rule. */
export function parseResetInfo(body) {
  const min = body && Number.isSafeInteger(body.min_password_length)
    && body.min_password_length >= 1 && body.min_password_length <= MAX_PASSWORD
    ? body.min_password_length : MIN_PASSWORD;
  return { offered: Boolean(body && body.password_reset === true), minPassword: min };
}

// -- the dialog's state --------------------------------------------------------------------------

const address = (value) => (typeof value === "string" && value ? value : null);

/** `GET /api/me/email`'s answer: {email, confirmed, notify, available}. */
export function parseEmail(body) {
  const email = address(body && body.email);
  const confirmed = email !== null && body.confirmed === true;
  return {
    email,
    confirmed,
    notify: confirmed && body.notify === true,
    available: !(body && body.available === false),
  };
}

/** Not asked yet. */
export function emptyEmail() {
  return { email: null, confirmed: false, notify: false, available: true, loaded: false,
    loading: false, error: "", serial: 0 };
}

/** Ask the server again: returns the serial its answer must bring. */
export function emailAsked(held) {
  held.serial += 1;
  held.loading = true;
  held.error = "";
  return held.serial;
}

/** `GET /api/me/email` answered the ask of `serial` (an older answer is dropped). */
export function emailLoaded(held, serial, body) {
  if (serial !== held.serial) return false;
  Object.assign(held, parseEmail(body), { loaded: true, loading: false, error: "" });
  return true;
}

/** The ask of `serial` failed with `message`. */
export function emailFailed(held, serial, message) {
  if (serial !== held.serial) return false;
  held.loading = false;
  held.error = message || "The server did not answer.";
  return true;
}

/**
 * A change was answered (a PUT of the address, its DELETE, a PUT of the notifications):
 * `body` the answer, `meant` what the change means when the answer does not carry the state
 * ({email}, {email: null}, {notify}). An ask still on its way is dropped: it may have been
 * answered before the change.
 */
export function emailChanged(held, meant, body) {
  held.serial += 1;
  held.loading = false;
  held.error = "";
  held.loaded = true;
  if (body && typeof body === "object" && "email" in body && "confirmed" in body) {
    Object.assign(held, parseEmail({ available: held.available, ...body }));
    return;
  }
  if ("email" in meant) {
    // A new address waits for its confirmation (and notifications with it); none is none.
    held.email = meant.email;
    held.confirmed = false;
    held.notify = false;
  }
  if ("notify" in meant) held.notify = held.confirmed && Boolean(meant.notify);
}

/**
 * What the dialog shows: `kind` (loading, failed, unavailable, none, pending, confirmed), the
 * state in words (`lines`), the address field (`field`: shown, its label and button),
 * whether Resend and Remove are offered, and the notifications' switch (`notify`: shown,
 * checked, disabled, and the hint that explains it).
 */
export function emailView(held) {
  const off = { shown: false, checked: false, disabled: true, hint: "" };
  const noField = { shown: false, label: "", submit: "" };
  if (!held.loaded) {
    return { kind: held.error ? "failed" : "loading", lines: [held.error
      ? `Your email settings could not be read: ${held.error}` : "Loading…"],
    field: noField, resend: false, remove: false, notify: off };
  }
  if (!held.available) {
    const lines = ["This server does not send email: its administrator has not set it up. "
      + "Direct messages and mentions reach you here and by browser notifications only."];
    if (held.email) lines.push(`Your address on file: ${held.email}.`);
    return { kind: "unavailable", lines, field: noField, resend: false,
      remove: held.email !== null, notify: off };
  }
  if (held.email === null) {
    return { kind: "none", lines: ["No email address is set."],
      field: { shown: true, label: "Email address", submit: "Send confirmation link" },
      resend: false, remove: false,
      notify: { ...off, shown: true, hint: "Add an address and confirm it to get these." } };
  }
  if (!held.confirmed) {
    return { kind: "pending", lines: [`We sent a link to ${held.email}.`,
      "Open it to confirm the address. No link? Check the spam folder, or send it again."],
    field: { shown: true, label: "Use another address", submit: "Send confirmation link" },
    resend: true, remove: true,
    notify: { ...off, shown: true, hint: "Confirm your address first: these are sent to a "
      + "confirmed address only." } };
  }
  return { kind: "confirmed", lines: [`${held.email} is confirmed.`],
    field: { shown: true, label: "Change address", submit: "Send confirmation link" },
    resend: false, remove: true,
    notify: { shown: true, checked: held.notify, disabled: false,
      hint: "When you are away (no device of yours connected) and leave a direct message "
        + "or a mention unread, an email gathers them a few minutes later. Muted rooms and "
        + "Do not disturb are respected." } };
}

// -- what the person types -----------------------------------------------------------------------

/**
 * The address to send, or {problem} in words: the server has the last word (it answers
 * `bad_request` for what it cannot send to); this catches what is plainly no address.
 */
export function addressToSend(text, held = null) {
  const typed = typeof text === "string" ? text.trim() : "";
  if (!typed) return { problem: "Enter an email address." };
  if (typed.length > MAX_ADDRESS) {
    return { problem: `An email address has at most ${MAX_ADDRESS} characters.` };
  }
  if (!/^[^\s@]+@[^\s@]+$/.test(typed)) {
    return { problem: "That is not an email address: it looks like name@example.org." };
  }
  if (held && held.confirmed && held.email === typed) {
    return { problem: "That is already your confirmed address." };
  }
  return { email: typed };
}

/** The sentence for a refused change of the address or the notifications (a code's). */
export function emailRefusal(error) {
  const code = error && error.code;
  switch (code) {
    case "bad_request":
      return "That address cannot be used: check it for typing mistakes.";
    case "email_taken":
      return "Another account already uses that address.";
    case "email_disabled":
      return "This server does not send email: its administrator has not set it up.";
    case "rate_limited": {
      const wait = error.retryAfter ? ` Try again in ${waitText(error.retryAfter)}.`
        : " Try again later.";
      return `Too many confirmation emails lately.${wait}`;
    }
    default:
      return (error && error.message) || "The server did not answer.";
  }
}

/** "40 s", "3 min", "2 h" for a wait in seconds. */
export function waitText(seconds) {
  const s = Math.max(1, Math.round(seconds));
  if (s < 90) return `${s} s`;
  if (s < 90 * 60) return `${Math.round(s / 60)} min`;
  return `${Math.round(s / 3600)} h`;
}

// -- Forgot password? and the new password ---------------------------------------------------

/** The body of `POST /api/password-reset` ({user}: a user name or an address), or {problem}. */
export function forgotBody(text) {
  const typed = typeof text === "string" ? text.trim() : "";
  if (!typed) return { problem: "Enter your user name or email address." };
  if (typed.length > MAX_ADDRESS) return { problem: "That is longer than any user name or address." };
  return { body: { user: typed } };
}

const codePoints = (text) => [...text].length;

/**
 * What stops the new password (typed twice) from being sent, or null: the registration's
 * rule (`min` characters, counted as the server counts, in code points; at most 1024), and
 * the two the same.
 */
export function newPasswordProblem(first, second, min = MIN_PASSWORD) {
  const a = typeof first === "string" ? first : "";
  const b = typeof second === "string" ? second : "";
  if (!a) return "Choose a new password.";
  if (codePoints(a) < min) return `Your new password needs at least ${min} characters.`;
  if (codePoints(a) > MAX_PASSWORD) {
    return `Your new password can have at most ${MAX_PASSWORD} characters.`;
  }
  if (a !== b) return "The two passwords are not the same: type it again.";
  return null;
}

/** The account a reset's answer names (`{user: "ann"}`, `{user: {name}}`, `{username}`), or null. */
export function resetUser(body) {
  if (!body || typeof body !== "object") return null;
  if (typeof body.username === "string" && body.username) return body.username;
  if (typeof body.user === "string" && body.user) return body.user;
  if (body.user && typeof body.user.name === "string" && body.user.name) return body.user.name;
  return null;
}

/**
 * A refused new password in words: {text, expired} (`expired`: the link no longer works, and
 * the form offers to ask for a new one).
 */
export function resetRefusal(error) {
  const code = error && error.code;
  if (code === "bad_token" || code === "not_found") {
    return { expired: true, text: "This link has expired or has been used already. Ask for "
      + "a new one: it works for an hour, once." };
  }
  if (code === "bad_request") {
    return { expired: false, text: `This password cannot be used: ${(error && error.message)
      || "choose another"}.` };
  }
  if (code === "rate_limited") {
    const wait = error.retryAfter ? ` Try again in ${waitText(error.retryAfter)}.` : "";
    return { expired: false, text: `Too many attempts.${wait}` };
  }
  return { expired: false, text: (error && error.message) || "The server did not answer." };
}

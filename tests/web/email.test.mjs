// Email (email.js): the addresses the page opens with (#reset=TOKEN, #email-confirmed), what
// GET /api/register says of password resets, the "Email notifications" dialog's state from
// the GET answer and after each change (answers that cross), what it shows in each state, the
// address typed, the refusals in words, and the forms of "Forgot password?" and "Choose a
// new password".

import assert from "node:assert/strict";
import { test } from "node:test";

import {
  addressToSend, confirmedFromHash, emailAsked, emailChanged, emailFailed, emailLoaded,
  emailRefusal, emailView, emptyEmail, FORGOT_SENT, forgotBody, newPasswordProblem,
  parseEmail, parseResetInfo, resetFromHash, resetRefusal, resetUser, waitText,
} from "../../clients/web/email.js";

const TOKEN = "Zq3J9dWq2x7Yb0Zr5Tn8Lp1Vc4Hs6Mg2A_-x";

/** The dialog's state once GET /api/me/email answered `body`. */
function loaded(body) {
  const held = emptyEmail();
  emailLoaded(held, emailAsked(held), body);
  return held;
}

test("the token of a #reset= address, and nothing from any other", () => {
  assert.equal(resetFromHash(`#reset=${TOKEN}`), TOKEN);
  assert.equal(resetFromHash(`#reset=${TOKEN}&x=1`), TOKEN, "later parts are left alone");
  assert.equal(resetFromHash("#reset="), null);
  assert.equal(resetFromHash("#reset=short"), null, "fewer than 16 characters");
  assert.equal(resetFromHash(`#reset=${"a".repeat(129)}`), null, "more than 128");
  assert.equal(resetFromHash(`#reset=${TOKEN.slice(0, 20)}%2F${TOKEN.slice(20)}`), null);
  assert.equal(resetFromHash(`#invite=${TOKEN}`), null);
  assert.equal(resetFromHash("#room=general"), null);
  assert.equal(resetFromHash(""), null);
  assert.equal(resetFromHash(undefined), null);
});

test("#email-confirmed is where a confirmation link lands; nothing else is", () => {
  assert.equal(confirmedFromHash("#email-confirmed"), true);
  assert.equal(confirmedFromHash("#email-confirmed&x=1"), true);
  assert.equal(confirmedFromHash("#email-confirmedx"), false);
  assert.equal(confirmedFromHash("#email"), false);
  assert.equal(confirmedFromHash(`#reset=${TOKEN}`), false);
  assert.equal(confirmedFromHash(""), false);
  assert.equal(confirmedFromHash(null), false);
});

test("GET /api/register says whether Forgot password? works, and the password rule", () => {
  assert.deepEqual(parseResetInfo({ registration: "open", password_reset: true }),
    { offered: true, minPassword: 8 });
  assert.deepEqual(parseResetInfo({ password_reset: false }), { offered: false, minPassword: 8 });
  assert.deepEqual(parseResetInfo({}), { offered: false, minPassword: 8 }, "an older server");
  assert.deepEqual(parseResetInfo(null), { offered: false, minPassword: 8 });
  assert.deepEqual(parseResetInfo({ password_reset: "yes" }).offered, false, "true only");
  assert.equal(parseResetInfo({ password_reset: true, min_password_length: 12 }).minPassword, 12);
  assert.equal(parseResetInfo({ min_password_length: 0 }).minPassword, 8);
  assert.equal(parseResetInfo({ min_password_length: 2.5 }).minPassword, 8);
});

test("the GET answer: confirmed and notify only with an address, available unless false", () => {
  assert.deepEqual(parseEmail({ email: "ann@example.org", confirmed: true, notify: true,
    available: true }), { email: "ann@example.org", confirmed: true, notify: true,
    available: true });
  assert.deepEqual(parseEmail({ email: null, confirmed: true, notify: true, available: true }),
    { email: null, confirmed: false, notify: false, available: true });
  assert.deepEqual(parseEmail({ email: "ann@example.org", confirmed: false, notify: true }),
    { email: "ann@example.org", confirmed: false, notify: false, available: true },
    "no notifications to an address not confirmed");
  assert.equal(parseEmail({ email: null, available: false }).available, false);
  assert.deepEqual(parseEmail(null), { email: null, confirmed: false, notify: false,
    available: true });
  assert.equal(parseEmail({ email: "" }).email, null);
});

test("what the dialog shows while it asks, and when asking failed", () => {
  const held = emptyEmail();
  emailAsked(held);
  const view = emailView(held);
  assert.equal(view.kind, "loading");
  assert.deepEqual(view.lines, ["Loading…"]);
  assert.equal(view.field.shown, false);
  assert.equal(view.notify.shown, false);
  emailFailed(held, held.serial, "HTTP 500");
  assert.equal(emailView(held).kind, "failed");
  assert.match(emailView(held).lines[0], /could not be read: HTTP 500/);
});

test("no address: the field to set one, the switch off and explained", () => {
  const view = emailView(loaded({ email: null, confirmed: false, notify: false,
    available: true }));
  assert.equal(view.kind, "none");
  assert.deepEqual(view.lines, ["No email address is set."]);
  assert.deepEqual(view.field, { shown: true, label: "Email address",
    submit: "Send confirmation link" });
  assert.equal(view.resend, false);
  assert.equal(view.remove, false);
  assert.equal(view.notify.shown, true);
  assert.equal(view.notify.checked, false);
  assert.equal(view.notify.disabled, true);
  assert.match(view.notify.hint, /confirm/);
});

test("waiting for confirmation: We sent a link to…, Resend, Remove, the switch off", () => {
  const view = emailView(loaded({ email: "ann@example.org", confirmed: false, notify: true,
    available: true }));
  assert.equal(view.kind, "pending");
  assert.equal(view.lines[0], "We sent a link to ann@example.org.");
  assert.equal(view.resend, true);
  assert.equal(view.remove, true);
  assert.equal(view.field.label, "Use another address");
  assert.deepEqual([view.notify.checked, view.notify.disabled], [false, true]);
  assert.match(view.notify.hint, /^Confirm your address first/);
});

test("confirmed: the switch as the server has it, the address changeable and removable", () => {
  const on = emailView(loaded({ email: "ann@example.org", confirmed: true, notify: true,
    available: true }));
  assert.equal(on.kind, "confirmed");
  assert.equal(on.lines[0], "ann@example.org is confirmed.");
  assert.deepEqual([on.notify.shown, on.notify.checked, on.notify.disabled], [true, true, false]);
  assert.equal(on.resend, false);
  assert.equal(on.remove, true);
  assert.equal(on.field.label, "Change address");
  const off = emailView(loaded({ email: "ann@example.org", confirmed: true, notify: false }));
  assert.equal(off.notify.checked, false);
  assert.equal(off.notify.disabled, false);
});

test("a server without SMTP says so instead of offering the field", () => {
  const view = emailView(loaded({ email: null, confirmed: false, notify: false,
    available: false }));
  assert.equal(view.kind, "unavailable");
  assert.match(view.lines[0], /^This server does not send email/);
  assert.equal(view.field.shown, false);
  assert.equal(view.notify.shown, false);
  assert.equal(view.remove, false);
  const kept = emailView(loaded({ email: "ann@example.org", confirmed: true, notify: true,
    available: false }));
  assert.equal(kept.kind, "unavailable");
  assert.equal(kept.remove, true, "an address kept from before can still be removed");
  assert.match(kept.lines[1], /ann@example\.org/);
});

test("an older ask's answer is dropped, after a newer ask or a change", () => {
  const held = emptyEmail();
  const first = emailAsked(held);
  const second = emailAsked(held);
  assert.equal(emailLoaded(held, first, { email: "old@example.org", confirmed: true }), false);
  assert.equal(held.loaded, false);
  assert.equal(emailLoaded(held, second, { email: "ann@example.org", confirmed: true,
    notify: true }), true);
  // A GET asked before a change, answered after it, would show what was before.
  const late = emailAsked(held);
  emailChanged(held, { email: null }, {});
  assert.equal(emailLoaded(held, late, { email: "ann@example.org", confirmed: true }), false);
  assert.equal(held.email, null);
  assert.equal(emailFailed(held, late, "gone"), false, "nor its failure");
  assert.equal(held.error, "");
});

test("after a change: the state the answer carries, else what the change means", () => {
  const held = loaded({ email: "ann@example.org", confirmed: true, notify: true });
  emailChanged(held, { email: "new@example.org" }, {});
  assert.deepEqual([held.email, held.confirmed, held.notify], ["new@example.org", false, false],
    "a new address waits for its link");
  emailChanged(held, { email: "new@example.org" }, { email: "new@example.org",
    confirmed: false, notify: false, available: true });
  assert.equal(emailView(held).kind, "pending");
  emailChanged(held, { email: null }, null);
  assert.equal(emailView(held).kind, "none");

  const on = loaded({ email: "ann@example.org", confirmed: true, notify: true });
  emailChanged(on, { notify: false }, {});
  assert.equal(on.notify, false);
  emailChanged(on, { notify: true }, undefined);
  assert.equal(on.notify, true);
  const pending = loaded({ email: "ann@example.org", confirmed: false });
  emailChanged(pending, { notify: true }, {});
  assert.equal(pending.notify, false, "never on for an address not confirmed");
  // An answer that carries the state wins over what the change meant.
  emailChanged(on, { notify: false }, { email: "ann@example.org", confirmed: true,
    notify: true });
  assert.equal(on.notify, true);
  // An answer's state without `available` keeps the one known.
  const off = loaded({ email: null, available: false });
  emailChanged(off, { email: null }, { email: null, confirmed: false, notify: false });
  assert.equal(off.available, false);
});

test("the address typed: trimmed, plainly an address, not the one already confirmed", () => {
  assert.deepEqual(addressToSend("  ann@example.org "), { email: "ann@example.org" });
  assert.equal(addressToSend("").problem, "Enter an email address.");
  assert.equal(addressToSend("   ").problem, "Enter an email address.");
  assert.match(addressToSend("ann").problem, /not an email address/);
  assert.match(addressToSend("ann@").problem, /not an email address/);
  assert.match(addressToSend("a b@example.org").problem, /not an email address/);
  assert.match(addressToSend(`${"a".repeat(250)}@example.org`).problem, /at most 254/);
  const held = loaded({ email: "ann@example.org", confirmed: true, notify: true });
  assert.match(addressToSend("ann@example.org", held).problem, /already your confirmed/);
  assert.deepEqual(addressToSend("ann@example.org", loaded({ email: "ann@example.org",
    confirmed: false })), { email: "ann@example.org" }, "a pending one is sent again");
});

test("refusals in words, by their codes", () => {
  assert.match(emailRefusal({ code: "bad_request", message: "x" }), /cannot be used/);
  assert.equal(emailRefusal({ code: "email_taken" }), "Another account already uses that "
    + "address.");
  assert.match(emailRefusal({ code: "email_disabled" }), /does not send email/);
  assert.equal(emailRefusal({ code: "rate_limited", retryAfter: 1800 }),
    "Too many confirmation emails lately. Try again in 30 min.");
  assert.equal(emailRefusal({ code: "rate_limited" }),
    "Too many confirmation emails lately. Try again later.");
  assert.equal(emailRefusal({ code: "network", message: "The server cannot be reached." }),
    "The server cannot be reached.");
  assert.equal(emailRefusal(null), "The server did not answer.");
  assert.deepEqual([waitText(5), waitText(89), waitText(90), waitText(7200)],
    ["5 s", "89 s", "2 min", "2 h"]);
});

test("Forgot password?: a user name or an address, trimmed; the same words whatever happens", () => {
  assert.deepEqual(forgotBody(" ann "), { body: { user: "ann" } });
  assert.deepEqual(forgotBody("ann@example.org"), { body: { user: "ann@example.org" } });
  assert.equal(forgotBody("").problem, "Enter your user name or email address.");
  assert.ok(forgotBody("x".repeat(300)).problem);
  assert.match(FORGOT_SENT, /^If an account matches, we sent a link/);
});

test("the new password: the registration's rule, in code points, typed twice the same", () => {
  assert.equal(newPasswordProblem("", ""), "Choose a new password.");
  assert.equal(newPasswordProblem("short", "short"),
    "Your new password needs at least 8 characters.");
  assert.equal(newPasswordProblem("long enough", "long enough"), null);
  assert.equal(newPasswordProblem("long enough", "long enougH"),
    "The two passwords are not the same: type it again.");
  assert.equal(newPasswordProblem("😀😀😀😀", "😀😀😀😀"),
    "Your new password needs at least 8 characters.", "8 UTF-16 units are 4 characters");
  assert.equal(newPasswordProblem("twelve chars", "twelve chars", 13),
    "Your new password needs at least 13 characters.");
  assert.match(newPasswordProblem("x".repeat(1025), "x".repeat(1025)), /at most 1024/);
});

test("the account a reset's answer names, in any of the shapes, or none", () => {
  assert.equal(resetUser({ user: "ann" }), "ann");
  assert.equal(resetUser({ user: { id: 1, name: "ann" } }), "ann");
  assert.equal(resetUser({ username: "ann" }), "ann");
  assert.equal(resetUser({}), null);
  assert.equal(resetUser(null), null);
  assert.equal(resetUser({ user: "" }), null);
});

test("a refused new password: an expired link offers a new one, the rest say why", () => {
  const expired = resetRefusal({ code: "bad_token", message: "bad token" });
  assert.equal(expired.expired, true);
  assert.match(expired.text, /^This link has expired or has been used already/);
  const weak = resetRefusal({ code: "bad_request", message: "too short" });
  assert.deepEqual(weak, { expired: false, text: "This password cannot be used: too short." });
  assert.deepEqual(resetRefusal({ code: "rate_limited", retryAfter: 30 }),
    { expired: false, text: "Too many attempts. Try again in 30 s." });
  assert.deepEqual(resetRefusal({ code: "network", message: "The server cannot be reached." }),
    { expired: false, text: "The server cannot be reached." });
});

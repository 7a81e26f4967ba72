// A reminder of anything (Slack's "Later" → "Create a reminder", its `/remind me`): the Saved
// panel's "New reminder" dialog sends `remind` {text, remind_at, nonce}; the server writes the
// text to the person's notes to self and saves that note with the reminder, and its `message`
// and `saved` events bring it to the conversation and the Saved list as any note and any save.
// Pure: the request built from the dialog's fields, which nonce it carries, the resend of the
// same request after a lost connection, and the words for a refusal.
//
// The nonce: a fresh one for a new note, the same one for the same note again. A request whose
// reply was lost (the connection dropped) is sent again, unchanged, once the page is back
// online: the server answers it as the first ("unchanged"), so one note and one reminder. A
// second press of "Set reminder" after a refusal keeps the nonce while the text is the same (a
// `too_many_saved` wrote the note, unsaved: the same nonce saves that note rather than writing
// another) and takes a fresh one for another text (another note).

import { parseLocal, presetTime, reminderProblem, reminderText } from "./saved.js";
import { dmName } from "./store.js";
import { sendUntilAnswered } from "./outbox.js";
import { MAX_TEXT_CHARS, textLength } from "./textlimit.js";

/** The choice of the dialog's "When" that reads the custom date and time. */
export const CUSTOM = "custom";

/** Whether room `name` is the notes to self of `me` (their conversation with themselves). */
export function isNoteToSelf(name, me) {
  return typeof name === "string" && typeof me === "string" && name === dmName(me, me);
}

/** A dialog's reminder, nothing sent yet: `sent` is the last request's fields. */
export function newReminder() {
  return { sent: null };
}

/**
 * The time (ms) the dialog's "When" means at `now` in `timeZone`: a preset's key (saved.js
 * PRESETS), or CUSTOM with `custom` the datetime-local field's value; null when it means none.
 */
export function chosenTime(when, custom, now, timeZone) {
  return when === CUSTOM ? parseLocal(custom, timeZone) : presetTime(when, now, timeZone);
}

/**
 * The `remind` request's fields for the dialog's fields ({text, when, custom}) at `now` in
 * `timeZone`: {fields} (remembered as sent), or {problem} (a sentence; nothing sent). `fresh()`
 * gives a new nonce, asked only for a new note; `max`: the message box's limit (the server's).
 */
export function reminderRequest(reminder, { text, when, custom = "", now, timeZone, fresh,
  max = MAX_TEXT_CHARS }) {
  const note = typeof text === "string" ? text.trim() : "";
  if (!note) return { problem: "Write what to be reminded of." };
  const over = textLength(note) - max;
  if (over > 0) {
    return { problem: `A reminder holds at most ${max} characters: this one has ${over} too many.` };
  }
  const at = chosenTime(when, custom, now, timeZone);
  const problem = reminderProblem(at, now);
  if (problem) return { problem };
  const { sent } = reminder;
  const nonce = sent && sent.text === note ? sent.nonce : fresh();
  const fields = { text: note, remind_at: at, nonce };
  reminder.sent = fields;
  return { fields };
}

/**
 * Send the `remind` request's `fields` until answered (outbox.js `sendUntilAnswered`: a lost
 * connection sends them again, unchanged, once `backOnline()`). Resolves with the `ok` reply;
 * rejects with the refusal, or with {code: "abandoned"}.
 */
export function sendReminder(fields, { ask, backOnline }) {
  return sendUntilAnswered("remind", fields,
    { ask, backOnline, unconfirmed: "The reminder was not confirmed." });
}

/**
 * A sentence for a person about a refused `remind` (the dialog shows it); `user`: whom it
 * was for, when someone else.
 */
export function refusal(error, user = null) {
  const code = error && error.code;
  if (user && code === "forbidden") {
    return `${user} cannot be reminded by you: you share no room, or they take no reminders `
      + "from others.";
  }
  if (user && code === "not_found") return `There is no user ${user}.`;
  if (code === "too_many_saved") {
    return "You have too many saved messages: mark some as done, then try again. "
      + "The note is in your notes to self.";
  }
  if (code === "rate_limited") return "Too many reminders at once: wait a moment and try again.";
  if (code === "unknown_op") return "This server cannot set reminders of your own.";
  const message = error && typeof error.message === "string" ? error.message : "";
  if (code === "bad_request") {
    return message ? `The reminder was refused: ${message}` : "The reminder was refused.";
  }
  return message ? `The reminder could not be set: ${message}`
    : "The reminder could not be set.";
}

// -- reminders set for others ------------------------------------------------------------------
//
// `/remind @bob …` (commands.js) sets a reminder for someone else: the server writes the note
// as a message to them and saves it for them (`set_by`: the setter). The setter's list
// ("For others" in the Saved panel) is `reminders_set`: items as the saved list's, with `user`
// (whom each is for); one not reminded yet can be cancelled (`cancel_reminder` {user,
// msg_id}); `allow_reminders` {on} says whether others may remind the person.

/** An item of a `reminders_set` reply, checked, or null. */
export function setItemOf(raw) {
  if (!raw || typeof raw !== "object" || typeof raw.user !== "string"
      || !Number.isSafeInteger(raw.msg_id)) return null;
  const message = raw.message && typeof raw.message === "object" ? raw.message : null;
  return { user: raw.user, room: String(raw.room ?? ""), msg_id: raw.msg_id,
    remind_at: Number.isSafeInteger(raw.remind_at) ? raw.remind_at : null,
    reminded: raw.reminded === true,
    text: message && typeof message.text === "string" ? message.text : "" };
}

/** The items of a `reminders_set` reply, checked, in its order (the newest set first). */
export function setItemsOf(reply) {
  const listed = reply && Array.isArray(reply.items) ? reply.items : [];
  return listed.map(setItemOf).filter(Boolean);
}

/** An item's line at `now`: "for Bob: send the report · in 20 min" (or "· reminded"). */
export function setLine(item, now) {
  const when = item.reminded ? "reminded" : reminderText(item, now);
  return `for ${item.user}: ${item.text}${when ? ` · ${when}` : ""}`;
}

/** `items` without the one of `user` (any case) and `msgId`: it was cancelled. */
export function withoutItem(items, user, msgId) {
  return items.filter((item) => item.msg_id !== msgId
    || item.user.toLowerCase() !== String(user).toLowerCase());
}

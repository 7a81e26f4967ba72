// The longest message the server takes, and what the message box says as a text nears it.
// Nothing is ever cut: the box keeps all that was typed or pasted, counts it, and a message
// over the limit is not sent, with words that say so. Pure.
//
// The server counts characters as Python does, in code points (an emoji such as 👍🏽 is two),
// not in the UTF-16 units of a JavaScript string's length.

export const MAX_TEXT_CHARS = 4000; // the server's default (limits.max_text_chars)
export const MAX_TOPIC_CHARS = 256; // a room's topic (the protocol's string(0-256))
export const COUNT_FROM = 0.9; // the count shows from this share of the limit on

/** The length of `text` as the server counts it: code points. */
export function textLength(text) {
  let length = 0;
  for (const _ of text) length += 1; // a string iterates by code point
  return length;
}

/**
 * What the box says about the length of `text` with the limit `max`: {shown, over, text},
 * `over` the characters past the limit (0 when it fits), `text` the words to show.
 */
export function lengthNote(text, max = MAX_TEXT_CHARS) {
  const length = textLength(text);
  if (length > max) {
    const over = length - max;
    return { shown: true, over,
      text: `${over} ${over === 1 ? "character" : "characters"} too long (${length} of ${max})` };
  }
  if (length >= Math.floor(max * COUNT_FROM)) {
    return { shown: true, over: 0, text: `${length} of ${max}` };
  }
  return { shown: false, over: 0, text: "" };
}

/** The words shown when a message over the limit is not sent. */
export function tooLong(text, max = MAX_TEXT_CHARS) {
  const over = textLength(text) - max;
  return `Not sent: a message holds at most ${max} characters, this one has ${over} too many. `
    + "Shorten it, or send it in parts.";
}

/** What to say of a room topic longer than the server takes, or null when it fits. */
export function topicTooLong(topic) {
  const over = textLength(topic) - MAX_TOPIC_CHARS;
  return over > 0
    ? `A topic holds at most ${MAX_TOPIC_CHARS} characters: this one has ${over} too many.`
    : null;
}

// What a message box holds, read as a slash command (Slack's and Mattermost's built-in
// commands; the table is commands.js): its name and its arguments. Pure.
//
// A command is "/" and a name (a letter, then letters, digits, "-" or "_") at the very start
// of the box, then its arguments; "//text" is the text "/text", sent as it is; anything else
// ("hello", "/", "/ 2", "/2x") is a message. The arguments are words split on white space,
// where a "double-quoted" (or “curly-quoted”) run is one word, quotes dropped, and a word
// "@name" or "#room" is also read as a person or a room (their name without the sigil).
// An unclosed quote is a problem, not a guess.

/** The longest command name read (a longer one is unknown all the same). */
export const MAX_NAME = 32;

const NAME = /^\/([\p{L}][\p{L}\p{N}_-]*)(?=\s|$)/u;
const OPEN = { '"': '"', "“": "”", "„": "“" };

/**
 * Read `text` (a box's whole text): null when it is a message (sent as typed),
 * {literal: text} for "//…" (the text to send: one "/" dropped), or {name (lower case),
 * rest (the text after the name, trimmed)}.
 */
export function readCommand(text) {
  if (typeof text !== "string") return null;
  if (text.startsWith("//")) return { literal: text.slice(1) };
  const found = NAME.exec(text);
  if (!found) return null;
  return { name: found[1].toLowerCase(), rest: text.slice(found[0].length).trim() };
}

/**
 * The words of `rest`: {words: [{text, quoted, user, room}]} (`user` and `room`: the name an
 * "@name" or "#room" word gives, else null; a quoted word is neither), or {problem}.
 */
export function splitWords(rest) {
  const words = [];
  let i = 0;
  const text = typeof rest === "string" ? rest : "";
  while (i < text.length) {
    if (/\s/u.test(text[i])) {
      i += 1;
      continue;
    }
    const close = OPEN[text[i]];
    if (close !== undefined) {
      const end = text.indexOf(close, i + 1);
      const other = close === "”" ? text.indexOf('"', i + 1) : -1; // “…" closes too
      const at = end < 0 ? other : other < 0 ? end : Math.min(end, other);
      if (at < 0) return { problem: "A quote is not closed: add the closing \"." };
      words.push({ text: text.slice(i + 1, at), quoted: true, user: null, room: null });
      i = at + 1;
      continue;
    }
    let end = i;
    while (end < text.length && !/\s/u.test(text[end])) end += 1;
    const word = text.slice(i, end);
    words.push({ text: word, quoted: false, user: sigilled(word, "@"), room: sigilled(word, "#") });
    i = end;
  }
  return { words };
}

function sigilled(word, sigil) {
  if (!word.startsWith(sigil) || word.length < 2) return null;
  const name = word.slice(1).replace(/[,;:.!?]+$/u, ""); // "@bob," in "/invite @bob, @carol"
  return name ? name : null;
}

/**
 * The command name being typed for a completion list: the text before the caret is "/" and
 * the start of a name (nothing else in the box before the caret), or null.
 */
export function typedName(before) {
  const found = /^\/([\p{L}\p{N}_-]*)$/u.exec(before);
  return found ? found[1].toLowerCase() : null;
}

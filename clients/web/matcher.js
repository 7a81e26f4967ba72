// How a name matches what is typed, for the lists that filter as one types: the quick switcher
// (switcher.js) and the "Forward message" dialog's destinations (forwarding.js). One matcher,
// so a name is found, and ranked, the same way in both: case and accents folded ("zoe" finds
// "Zoë"), a leading "#" or "@" ignored; a name that starts with what is typed comes first, then
// one with a word that does ("rev" in "design-review"), then one that holds it anywhere.
// No DOM: tests/web/matcher.test.mjs.

/** Where a word of a name starts: after a space, ".", "_", ":" or "-". */
const WORD_BREAK = /[\s._:-]+/;

/** `text` without case or accents ("Zoë" is "zoe"), for matching what is typed. */
export function fold(text) {
  return String(text).normalize("NFD").replace(/\p{M}/gu, "").toLowerCase();
}

/** What is typed, ready to match: trimmed, a leading "#" or "@" left out, folded. */
export function typedOf(query) {
  return fold(String(query ?? "").trim().replace(/^[#@]/, ""));
}

/**
 * How well `typed` (as `typedOf` gives it: not empty) matches the best of `names`: 0, a name
 * starts with it; 1, a word of a name does; 2, a name holds it; null, none matches. What is
 * not a string among `names` is passed over.
 */
export function matchTier(names, typed) {
  let best = null;
  for (const name of names) {
    if (typeof name !== "string") continue;
    const folded = fold(name);
    const tier = folded.startsWith(typed) ? 0
      : folded.split(WORD_BREAK).some((word) => word.startsWith(typed)) ? 1
        : folded.includes(typed) ? 2 : null;
    if (tier !== null && (best === null || tier < best)) best = tier;
    if (best === 0) break;
  }
  return best;
}

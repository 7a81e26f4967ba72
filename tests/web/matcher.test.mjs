// The one matcher (matcher.js) of the quick switcher and the "Forward message" dialog: what is
// typed, folded; how well a name matches it (prefix, a word's prefix, anywhere).

import assert from "node:assert/strict";
import { test } from "node:test";

import { fold, matchTier, typedOf } from "../../clients/web/matcher.js";

test("fold takes case and accents away", () => {
  assert.equal(fold("Zoë BÉRARD"), "zoe berard");
  assert.equal(fold("Ångström"), "angstrom");
});

test("what is typed: trimmed, one leading # or @ left out, folded", () => {
  assert.equal(typedOf("  #Général "), "general");
  assert.equal(typedOf("@Zoë"), "zoe");
  assert.equal(typedOf("##x"), "#x", "only one");
  assert.equal(typedOf(null), "");
  assert.equal(typedOf(undefined), "");
});

test("the start of a name, then of a word, then anywhere; the best of the names", () => {
  assert.equal(matchTier(["review"], "rev"), 0);
  assert.equal(matchTier(["design-review"], "rev"), 1);
  assert.equal(matchTier(["Zoë Bérard"], "berard"), 1, "a word, accents folded");
  assert.equal(matchTier(["a.rev", "b_rev", "c:rev"], "rev"), 1);
  assert.equal(matchTier(["preview"], "rev"), 2);
  assert.equal(matchTier(["preview", "Revue"], "rev"), 0, "the best of them");
  assert.equal(matchTier(["general"], "rev"), null);
  assert.equal(matchTier([null, 7, "rev"], "rev"), 0, "what is not a name passed over");
  assert.equal(matchTier([], "rev"), null);
});

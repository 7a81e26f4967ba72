// ESLint's recommended rules for the page's ES modules (clients/web) and their node tests
// (tests/web), run from the repository's root: `tools/lint/node_modules/.bin/eslint -c
// tools/lint/eslint.config.js clients/web tests/web` (.ci/run). What it is for above all:
// `no-undef`, a name used but not imported, which no node test sees when only a view uses it
// and which throws in the browser on every render.
import js from "@eslint/js";
import globals from "globals";

export default [
  js.configs.recommended,
  {
    files: ["**/*.js", "**/*.mjs"],
    languageOptions: {
      ecmaVersion: 2024,
      sourceType: "module",
      globals: { ...globals.browser },
    },
    rules: {
      // Arguments a caller passes are part of a function's shape (state.js's actions take
      // `now` whether they use it or not); `_name` leaves a part out of a destructuring.
      "no-unused-vars": ["error", { args: "none", varsIgnorePattern: "^_", caughtErrors: "none" }],
      // The page throws its own errors with words for a person from a refusal it caught.
      "preserve-caught-error": "off",
    },
  },
  {
    files: ["clients/web/sw.js"],
    languageOptions: { globals: { ...globals.serviceworker } },
  },
  {
    files: ["tests/web/**"],
    languageOptions: { globals: { ...globals.node } },
  },
];

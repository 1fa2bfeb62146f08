import js from "@eslint/js";
import tseslint from "typescript-eslint";

/*
 * Imports go one way: components ← tools ← harness ← rehearsal (tests may import anything).
 * components/ imports none of the others; tools/ imports components (and itself); harness/ imports
 * components and tools' library modules, never a command; rehearsal/ imports everything but commands.
 */
const importing = (folders, why) => ({
  regex: `^(\\.\\./)+(${folders.join("|")})(/|$)`,
  message: why,
});
const commands = {
  regex: "^(\\.\\./)+tools/(commands(/|$)|cli$)",
  message: "a command is an entry point: import the library module it uses instead",
};
const restrict = (files, patterns) => ({
  files,
  rules: { "no-restricted-imports": ["error", { patterns }] },
});

export default tseslint.config(
  { ignores: ["node_modules/**", "bin/**", ".rehearsal/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { console: "readonly", process: "readonly", Buffer: "readonly" } },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
  restrict(
    ["components/**/*.ts"],
    [
      importing(
        ["tools", "harness", "rehearsal", "test"],
        "components/ (the package) imports none of tools/, harness/, rehearsal/, test/",
      ),
    ],
  ),
  restrict(
    ["tools/**/*.ts"],
    [
      importing(
        ["harness", "rehearsal", "test"],
        "tools/ ships in the package: it imports only components/ and tools/",
      ),
    ],
  ),
  restrict(
    ["tools/restore/**/*.ts", "tools/shared/**/*.ts"],
    [
      importing(
        ["harness", "rehearsal", "test"],
        "tools/ ships in the package: it imports only components/ and tools/",
      ),
      { regex: "^(\\.\\./)+(commands(/|$)|cli$)", message: "a library module never imports a command" },
    ],
  ),
  restrict(
    ["tools/commands/**/*.ts"],
    [
      importing(
        ["harness", "rehearsal", "test"],
        "tools/ ships in the package: it imports only components/ and tools/",
      ),
      { regex: "^\\.\\./cli$", message: "the dispatcher imports the commands, not the other way" },
    ],
  ),
  restrict(
    ["harness/**/*.ts"],
    [
      importing(["rehearsal", "test"], "harness/ is shared by drills and tests: it imports no drill or test"),
      commands,
    ],
  ),
  restrict(
    ["rehearsal/**/*.ts"],
    [
      importing(["test"], "rehearsal/ imports no test code"),
      commands,
      {
        regex: "^(\\./|(\\.\\./)+)cli$",
        message: "drills do not import the rehearse command (rehearsal/cli.ts)",
      },
    ],
  ),
);

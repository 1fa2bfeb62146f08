import js from "@eslint/js";
import tseslint from "typescript-eslint";

/*
 * Imports go one way: components ← tools ← harness ← rehearsal (tests may import anything).
 * components/ imports none of the others; tools/ imports components (and itself); harness/ imports
 * components and tools' library modules, never a command; rehearsal/ imports everything but commands.
 */
const importing = (folders, message) => ({ regex: `^(\\.\\./)+(${folders.join("|")})(/|$)`, message });
const rules = {
  package: importing(
    ["tools", "harness", "rehearsal", "test"],
    "components/ (the package) imports none of tools/, harness/, rehearsal/, test/",
  ),
  shipped: importing(
    ["harness", "rehearsal", "test"],
    "tools/ ships in the package: it imports only components/ and tools/",
  ),
  shared: importing(["rehearsal", "test"], "harness/ is shared by drills and tests: it imports neither"),
  noTests: importing(["test"], "rehearsal/ imports no test code"),
  bench: importing(
    ["rehearsal", "test"],
    "bench/ imports components/, tools/ library modules and harness/, never rehearsal/ or test/",
  ),
  noCommand: {
    regex: "^(\\.\\./)+tools/(commands(/|$)|cli$)",
    message: "a command is an entry point: import the library module it uses instead",
  },
  libraryNoCommand: {
    regex: "^(\\.\\./)+(commands(/|$)|cli$)",
    message: "a library module never imports a command",
  },
  noDispatcher: { regex: "^\\.\\./cli$", message: "the dispatcher imports the commands, not the other way" },
  noRehearseCommand: {
    regex: "^(\\./|(\\.\\./)+)cli$",
    message: "drills do not import the rehearse command (rehearsal/cli.ts)",
  },
};
/** One config object per folder: a later object's no-restricted-imports replaces an earlier one's. */
const restrict = (files, patterns) => ({
  files,
  rules: { "no-restricted-imports": ["error", { patterns }] },
});

export default tseslint.config(
  { ignores: ["node_modules/**", "bin/**", ".rehearsal/**", ".bench/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { console: "readonly", process: "readonly", Buffer: "readonly" } },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
  // The snapshot job's runner: plain CommonJS that node runs from the CronJob's ConfigMap (no build step);
  // the restore's decompression thread, plain CommonJS so a worker runs it as it is under tsx and built.
  {
    files: ["components/backup/runner/*.js", "tools/restore/frameWorker.js"],
    languageOptions: {
      sourceType: "commonjs",
      globals: {
        require: "readonly",
        module: "writable",
        setTimeout: "readonly",
        clearTimeout: "readonly",
        URL: "readonly",
        URLSearchParams: "readonly",
        AbortController: "readonly",
      },
    },
    rules: { "@typescript-eslint/no-require-imports": "off" },
  },
  restrict(["components/**/*.ts"], [rules.package]),
  restrict(["tools/**/*.ts"], [rules.shipped]),
  restrict(
    [
      "tools/restore/**/*.ts",
      "tools/shared/**/*.ts",
      "tools/promote/**/*.ts",
      "tools/bootstrap/**/*.ts",
      "tools/verifyEncryption/**/*.ts",
      "tools/preflight/**/*.ts",
      "tools/encryptionConfigStatus/**/*.ts",
      "tools/preflight/**/*.ts",
    ],
    [rules.shipped, rules.libraryNoCommand],
  ),
  // The program's own modules, the policy pack and the component provider build on the package only.
  restrict(["program/**/*.ts", "policy/**/*.ts", "provider/**/*.ts"], [rules.package]),
  restrict(["tools/commands/**/*.ts"], [rules.shipped, rules.noDispatcher]),
  restrict(["harness/**/*.ts"], [rules.shared, rules.noCommand]),
  restrict(["rehearsal/**/*.ts"], [rules.noTests, rules.noCommand, rules.noRehearseCommand]),
  restrict(["bench/**/*.ts"], [rules.bench, rules.noCommand]),
);

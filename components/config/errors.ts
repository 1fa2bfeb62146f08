import type { z } from "zod";
import { show } from "./fields";

/** One bad value: where it is (e.g. `secure-etcd:members[1].ip`) and what is wrong with it. */
export interface ConfigProblem {
  path: string;
  message: string;
}

/**
 * Thrown before any resource is created when args or stack config are invalid (or, for member Inputs,
 * when they resolve). The message lists every problem on its own line so one `pulumi preview` shows them all.
 */
export class ConfigError extends Error {
  readonly problems: ConfigProblem[];
  /**
   * Marks this as a `pulumi.RunError` (its `RunError.isInstance` reads this field, so it holds across SDK
   * copies without importing the SDK here): `pulumi preview` then prints the message alone, never the
   * program's stack trace — the problem is the config, not the code.
   */
  readonly __pulumiRunError = true;
  constructor(problems: ConfigProblem[], source: string) {
    super(
      `invalid ${source} (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n` +
        problems.map((p) => `  - ${p.path}: ${p.message}`).join("\n"),
    );
    this.name = "ConfigError";
    this.problems = problems;
  }
}

/** `secure-etcd:` + `members`, `[1]`, `ip` → `secure-etcd:members[1].ip`. */
export function formatPath(prefix: string, p: readonly PropertyKey[]): string {
  let out = prefix;
  for (const seg of p)
    out +=
      typeof seg === "number" ? `[${seg}]` : `${out === "" || out.endsWith(":") ? "" : "."}${String(seg)}`;
  return out || "(root)";
}

function issueMessage(iss: z.core.$ZodIssue & { input?: unknown }): string {
  switch (iss.code) {
    case "invalid_type":
      return iss.input === undefined
        ? `is required (expected ${iss.expected})`
        : `${show(iss.input)} has the wrong type; expected ${iss.expected}`;
    case "unrecognized_keys":
      return `unknown key${iss.keys.length > 1 ? "s" : ""} ${iss.keys.map((k) => show(k)).join(", ")}`;
    default:
      return iss.message;
  }
}

/** Parses `raw` with `schema`; throws one ConfigError naming `${prefix}<key>` for every problem. */
export function parseOrThrow<S extends z.ZodType>(
  schema: S,
  raw: unknown,
  prefix: string,
  source: string,
): z.output<S> {
  const parsed = schema.safeParse(raw, { reportInput: true });
  if (parsed.success) return parsed.data;
  throw new ConfigError(
    parsed.error.issues.map((iss) => ({ path: formatPath(prefix, iss.path), message: issueMessage(iss) })),
    source,
  );
}

/** Collects problems found by checks that span fields, then throws them together (if any). */
export class ProblemList {
  readonly problems: ConfigProblem[] = [];
  constructor(private readonly prefix: string) {}
  add(path: string, message: string): void {
    this.problems.push({ path: formatPath(this.prefix, [path]), message });
  }
  throwIfAny(source: string): void {
    if (this.problems.length > 0) throw new ConfigError(this.problems, source);
  }
}

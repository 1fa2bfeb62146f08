import type { Flags } from "./flags";
import { fail, pass, type Finding } from "./types";

/*
 * The three shapes of kube-bench's flag tests, over a process's effective flags. kube-bench's
 * `compare: {op: eq, value: true}` compares text, so only the literal `true` passes, even where Go's
 * ParseBool would also accept `1` or `TRUE`.
 */

const shown = (f: Flags, flag: string) => {
  const src = f.source(flag);
  return `${flag}=${f.get(flag)}${src && src !== "flag" ? ` (from ${src})` : ""}`;
};

/** Every flag set to a non-empty value (kube-bench: `flag: X` with no compare; `bin_op: and`). */
export function allSet(f: Flags, ...flags: string[]): Finding {
  const missing = flags.filter((x) => (f.get(x) ?? "") === "");
  return missing.length
    ? fail(`${missing.join(" and ")} not set`)
    : pass(flags.map((x) => shown(f, x)).join(", "));
}

/** The flag set to exactly `true`. */
export function isTrue(f: Flags, flag: string): Finding {
  const v = f.get(flag);
  if (v === undefined) return fail(`${flag} not set (etcd's default is false)`);
  return v === "true" ? pass(shown(f, flag)) : fail(`${shown(f, flag)}; expected true`);
}

/** The flag unset or exactly `false` (kube-bench: `set: false` or `eq false`, `bin_op: or`). */
export function notTrue(f: Flags, flag: string): Finding {
  const v = f.get(flag);
  if (v === undefined) return pass(`${flag} not set`);
  return v === "false" ? pass(shown(f, flag)) : fail(`${shown(f, flag)}; must be unset or false`);
}

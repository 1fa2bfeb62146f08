import * as path from "node:path";
import { z } from "zod";
import { parseEtcdVersion } from "../etcd/capabilities";

/*
 * Field builders for the config schema: each one refuses a bad value with a message that shows the value
 * and says what is allowed, so every error names key, value and rule.
 */

/** A value as it appears in a message: strings quoted, everything else as JSON. */
export const show = (v: unknown): string =>
  typeof v === "string" ? JSON.stringify(v) : (JSON.stringify(v) ?? String(v));

export function oneOf<T extends string>(values: readonly T[], what: string) {
  return z.string().refine((v) => (values as readonly string[]).includes(v), {
    error: (iss) => `${show(iss.input)} is not a ${what}; allowed: ${values.join(", ")}`,
  }) as unknown as z.ZodType<T>;
}

export function matching(re: RegExp, what: string) {
  return z.string().refine((v) => re.test(v), {
    error: (iss) => `${show(iss.input)} is not a valid ${what}`,
  });
}

/** A string accepted when `problem` returns undefined; otherwise its answer is the message. */
export function checked(problem: (v: string) => string | undefined) {
  return z.string().superRefine((v, ctx) => {
    const p = problem(v);
    if (p) ctx.addIssue({ code: "custom", message: `${show(v)} ${p}` });
  });
}

/** Pulumi passes numbers in stack files as strings; accept both, reject anything else with the value shown. */
function wholeNumber(what: string, unit: string, min: number, max: number) {
  return z.union([z.number(), z.string()]).transform((v, ctx) => {
    const n = typeof v === "number" ? v : /^\s*\d+\s*$/.test(v) ? Number(v) : NaN;
    if (!Number.isInteger(n) || n < min || n > max) {
      ctx.addIssue({
        code: "custom",
        message: `${show(v)} is not a valid ${what}; expected a whole number of ${unit} from ${min} to ${max}`,
      });
      return z.NEVER;
    }
    return n;
  });
}

export const wholeHours = (what: string, max: number) => wholeNumber(what, "hours", 1, max);
export const wholeDays = (what: string, min = 1, max = 36500) => wholeNumber(what, "days", min, max);
export const count = (what: string, min: number, max: number) => wholeNumber(what, "items", min, max);
export const wholeMinutes = (what: string, min: number, max: number) =>
  wholeNumber(what, "minutes", min, max);

export function flag() {
  return z.unknown().transform((v, ctx) => {
    if (v === true || v === "true") return true;
    if (v === false || v === "false") return false;
    ctx.addIssue({ code: "custom", message: `${show(v)} is not a boolean; allowed: true, false` });
    return z.NEVER;
  });
}

/** Node paths end up in shell scripts, systemd units and the node bundle: plain characters only. */
export const absolutePath = z
  .string()
  .refine((v) => path.posix.isAbsolute(v) && !v.includes("..") && /^\/[A-Za-z0-9._/+-]*$/.test(v), {
    error: (iss) =>
      `${show(iss.input)} is not an absolute path of letters, digits and . _ / + - (no spaces, no '..')`,
  });

export const dnsLabel = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
export const dnsName =
  /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$/;

/** A string that is not blank; the message says what was expected. */
export const nonEmpty = (what: string) =>
  checked((v) => (v.trim() === "" ? `is empty; expected ${what}` : undefined));

/** An etcd release version (`3.5.16`, `v3.4.23`), parsed: the caller gets the version the check accepted. */
export const etcdReleaseVersion = () =>
  z.string().transform((v, ctx) => {
    const parsed = parseEtcdVersion(v);
    if (!parsed) {
      ctx.addIssue({ code: "custom", message: `${show(v)} is not an etcd version like 3.5.16` });
      return z.NEVER;
    }
    return parsed;
  });

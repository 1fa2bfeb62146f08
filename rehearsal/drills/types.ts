import { createHash } from "node:crypto";

/** One drill's outcome, as the rehearsal report lists it (`DIR/report.json` → `drills[]`). */
export interface DrillResult {
  name: string;
  passed: boolean;
  seconds: number;
  /** What was proven, or how it failed. */
  detail: string;
}

/** A tool's output as one line for a drill's detail, cut to n characters. */
export function clip(s: string, n = 240): string {
  const one = s.replace(/\s+/g, " ").trim();
  return one.length > n ? `${one.slice(0, n)}…` : one;
}

/**
 * Writes `count` known keys (`<prefix>key-000`, …) through `put`, failing the drill on the first error,
 * and records key → value in `written` so a drill can later prove they came back.
 */
export async function writeKnownKeys(
  put: (key: string, value: string) => Promise<{ code: number | null; output: string }>,
  prefix: string,
  count: number,
  written: Map<string, string>,
): Promise<void> {
  for (let i = 0; i < count; i++) {
    const key = `${prefix}key-${String(i).padStart(3, "0")}`;
    const value = `value-${i}-${createHash("sha256").update(key).digest("hex").slice(0, 16)}`;
    const r = await put(key, value);
    expect(r.code === 0, `put ${key} failed: ${clip(r.output)}`);
    written.set(key, value);
  }
}

export const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");
export const mib = (bytes: number) => `${(bytes / 1_048_576).toFixed(2)} MiB`;
export const secs = (n: number) => `${n.toFixed(2)} s`;

/** Thrown inside a drill to fail it with a message (any other error fails it too). */
export class DrillFailure extends Error {}

/**
 * Runs one drill, timing it. `fn` returns the detail for a pass; any thrown error fails the drill with
 * the error's message as the detail. Never throws.
 */
export async function runDrill(name: string, fn: () => Promise<string> | string): Promise<DrillResult> {
  const started = process.hrtime.bigint();
  const seconds = () => Math.round(Number(process.hrtime.bigint() - started) / 1e6) / 1000;
  try {
    const detail = await fn();
    return { name, passed: true, seconds: seconds(), detail };
  } catch (e) {
    const detail = e instanceof Error ? e.message : String(e);
    return { name, passed: false, seconds: seconds(), detail };
  }
}

/** Fails the current drill unless `condition` holds. */
export function expect(condition: unknown, message: string): asserts condition {
  if (!condition) throw new DrillFailure(message);
}

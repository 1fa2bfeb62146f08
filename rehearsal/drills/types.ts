/** One drill's outcome, as the rehearsal report lists it (`DIR/report.json` → `drills[]`). */
export interface DrillResult {
  name: string;
  passed: boolean;
  seconds: number;
  /** What was proven, or how it failed. */
  detail: string;
}

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

/** One drill's outcome, as printed in the table and written to report.json. */
export interface DrillResult {
  name: string;
  passed: boolean;
  seconds: number;
  detail: string;
}

/** Times a drill; its function returns the detail on success and throws (with the reason) on failure. */
export async function runDrill(name: string, fn: () => Promise<string> | string): Promise<DrillResult> {
  const start = process.hrtime.bigint();
  const seconds = () => Number(process.hrtime.bigint() - start) / 1e9;
  try {
    const detail = await fn();
    return { name, passed: true, seconds: seconds(), detail };
  } catch (e) {
    return { name, passed: false, seconds: seconds(), detail: e instanceof Error ? e.message : String(e) };
  }
}

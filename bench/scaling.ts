/**
 * Section 4: deploy-time scaling. Program time and resource count under Pulumi mocks for 1, 3, 5, 7
 * members, each run in a fresh child process (bench/scalingChild.ts), sizes interleaved run by run.
 * 9 members is not measured: SecureEtcd's constructor validates its args with the schema (odd, 1–7),
 * so it cannot be constructed with 9 without changing the component.
 */
import * as path from "node:path";
import { run } from "../tools/shared/process";
import { median, round, sideBySide } from "./stats";

export interface ScalingRow {
  members: number;
  resources: number;
  medianMs: number;
  runsMs: number[];
  ratioTo3: number;
}

export interface ScalingResult {
  stack: string;
  runs: number;
  rows: ScalingRow[];
  note: string;
}

const sizes = [1, 3, 5, 7] as const;

async function child(n: number): Promise<{ ms: number; resources: number }> {
  const tsx = path.join(__dirname, "..", "node_modules", ".bin", "tsx");
  const r = await run(tsx, [path.join(__dirname, "scalingChild.ts"), String(n)], { timeoutMs: 300_000 });
  if (r.code !== 0) throw new Error(`scaling child (${n} members): ${r.output.slice(-1000)}`);
  return JSON.parse(r.stdout.trim().split("\n").pop()!) as { ms: number; resources: number };
}

export async function runScaling(runs: number, log: (l: string) => void): Promise<ScalingResult> {
  log(`scaling: ${sizes.join("/")} members × ${runs} runs, each in a fresh process…`);
  const byRun = await sideBySide(runs, sizes.map(String), (n) => child(Number(n)));
  const rows = sizes.map((n) => ({
    members: n,
    resources: byRun[String(n)][0].resources,
    medianMs: round(median(byRun[String(n)].map((x) => x.ms)), 0),
    runsMs: byRun[String(n)].map((x) => round(x.ms, 0)),
    ratioTo3: 0,
  }));
  const three = rows.find((r) => r.members === 3)!.medianMs;
  for (const r of rows) r.ratioTo3 = round(r.medianMs / three, 2);
  return {
    stack: "prod",
    runs,
    rows,
    note: "9 members not measured: the SecureEtcd constructor validates args with the schema (odd count 1–7); bypassing it would mean changing the component",
  };
}

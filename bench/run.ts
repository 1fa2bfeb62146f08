/**
 * `npm run bench`: measures what the component costs at run time and deploy time on this machine and
 * writes bench/results.json, bench/results.md and bench/snapshot.svg. Not part of `npm test`.
 *   --only <mtls|snapshot|scaling|cost>   run one section (repeatable)
 *   --quick                               small sizes and short runs, for a smoke run
 *   --check-perf                          also run `etcdctl check perf --load=s` (60 s) on the TLS etcd
 *   --out DIR                             where to write; default bench/ for a full run, .bench/ for a
 *                                         --quick or --only run (so a smoke run never replaces the
 *                                         committed full results)
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseFlags, UsageError } from "../tools/shared/commandLine";
import { run } from "../tools/shared/process";
import { runCost, type CostResult } from "./cost";
import { runMtls, type MtlsResult } from "./mtls";
import { renderMarkdown } from "./report";
import { runScaling, type ScalingResult } from "./scaling";
import { runSnapshotPath, type SnapshotResult } from "./snapshotPath";
import { snapshotSvg } from "./svg";

const sections = ["mtls", "snapshot", "scaling", "cost"] as const;
type Section = (typeof sections)[number];

export interface BenchResults {
  command: string;
  startedAt: string;
  durationSeconds: number;
  quick: boolean;
  machine: { cpuModel: string; cores: number; memoryGiB: number; platform: string };
  versions: { node: string; etcd: string; etcdctl: string; aws: string };
  mtls?: MtlsResult;
  snapshot?: SnapshotResult;
  scaling?: ScalingResult;
  cost?: CostResult;
}

async function firstLine(cmd: string, args: string[], re: RegExp): Promise<string> {
  const r = await run(cmd, args, { timeoutMs: 30_000 });
  return re.exec(r.output)?.[1] ?? r.output.split("\n")[0];
}

async function versions(): Promise<BenchResults["versions"]> {
  return {
    node: process.version,
    etcd: await firstLine("etcd", ["--version"], /etcd Version: (\S+)/),
    etcdctl: await firstLine("etcdctl", ["version"], /etcdctl version: (\S+)/),
    aws: await firstLine("aws", ["--version"], /^(\S+)/),
  };
}

function options(): { only: Set<Section>; quick: boolean; checkPerf: boolean; outDir: string } {
  // The shared repeated-flag rule: each flag once, except --only (repeatable).
  const values = parseFlags(process.argv.slice(2), {
    only: { type: "string", multiple: true },
    quick: { type: "boolean", default: false },
    "check-perf": { type: "boolean", default: false },
    out: { type: "string" },
  } as const);
  const only = new Set((values.only ?? [...sections]) as Section[]);
  for (const s of only)
    if (!sections.includes(s)) throw new Error(`--only ${s}: expected one of ${sections.join(", ")}`);
  const quick = values.quick ?? false;
  const full = !quick && values.only === undefined;
  const outDir = path.resolve(values.out ?? (full ? __dirname : path.join(__dirname, "..", ".bench")));
  return { only, quick, checkPerf: values["check-perf"] ?? false, outDir };
}

async function main(): Promise<void> {
  const o = options();
  const started = Date.now();
  const log = (l: string) => console.log(`[${((Date.now() - started) / 1000).toFixed(0)}s] ${l}`);
  const cpus = os.cpus();
  const results: BenchResults = {
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`,
    startedAt: new Date(started).toISOString(),
    durationSeconds: 0,
    quick: o.quick,
    machine: {
      cpuModel: cpus[0]?.model ?? "unknown",
      cores: cpus.length,
      memoryGiB: Math.round(os.totalmem() / 1024 ** 3),
      platform: `${os.platform()} ${os.release()}`,
    },
    versions: await versions(),
  };
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "secure-etcd-bench-"));
  fs.chmodSync(workDir, 0o700);
  try {
    if (o.only.has("mtls"))
      results.mtls = await runMtls({
        workDir,
        runs: o.quick ? 1 : 3,
        seconds: o.quick ? 1 : 3,
        concurrency: 64,
        checkPerf: o.checkPerf,
        log,
      });
    if (o.only.has("snapshot"))
      results.snapshot = await runSnapshotPath({
        workDir,
        sizesMiB: o.quick ? [8, 32] : [64, 256, 1024],
        runsFor: (mib) => (o.quick ? 1 : mib >= 1024 ? 1 : 3),
        log,
      });
    if (o.only.has("scaling")) results.scaling = await runScaling(o.quick ? 1 : 3, log);
    if (o.only.has("cost")) {
      const sizes = results.snapshot?.sizes ?? [];
      const last = sizes[sizes.length - 1];
      results.cost = runCost(1, last ? last.gzBytes / last.dbBytes : 1);
    }
  } finally {
    fs.rmSync(workDir, { recursive: true, force: true });
  }
  results.durationSeconds = Math.round((Date.now() - started) / 1000);
  const out = o.outDir;
  fs.mkdirSync(out, { recursive: true });
  fs.writeFileSync(path.join(out, "results.json"), `${JSON.stringify(results, null, 2)}\n`);
  fs.writeFileSync(path.join(out, "results.md"), renderMarkdown(results));
  if (results.snapshot) fs.writeFileSync(path.join(out, "snapshot.svg"), snapshotSvg(results.snapshot));
  const rel = path.relative(process.cwd(), out) || ".";
  log(`wrote ${rel}/results.json, ${rel}/results.md${results.snapshot ? `, ${rel}/snapshot.svg` : ""}`);
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    if (e instanceof UsageError) {
      console.error(`bench: ${e.message}`);
      process.exit(2);
    }
    console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
    process.exit(1);
  },
);

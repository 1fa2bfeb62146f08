/**
 * `npm run bench`: measures what the component costs at run time and deploy time on this machine and
 * writes bench/results.json, bench/results.md, bench/snapshot.svg, bench/restore.svg and bench/apiserver.svg. Not part of
 * `npm test`. results.json carries `targets`: issue 20's figures, each with its ratio, target and whether
 * it was met.
 *   --only <mtls|snapshot|big|apiserver|scaling|cost>   run one section (repeatable)
 *   --quick                               small sizes and short runs, for a smoke run
 *   --no-before                           skip the variants as they were at the baseline commit
 *   --big-mib N                           the large DB of the "big" section (default 8192)
 *   --check-perf                          also run `etcdctl check perf --load=s` (60 s) on the TLS etcd
 *   --out DIR                             where to write; default bench/ for a full run, .bench/ for a
 *                                         --quick or --only run (so a smoke run never replaces the
 *                                         committed full results)
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseFlags, UsageError } from "../tools/shared/commandLine";
import { upstreamBinary } from "../harness/upstream";
import { run } from "../tools/shared/process";
import { runApiserver, type ApiserverResult } from "./apiserver";
import { runCost, type CostResult } from "./cost";
import { benchRelease } from "./etcdServers";
import { loadAverage } from "./load";
import { runMtls, type MtlsResult } from "./mtls";
import { renderMarkdown } from "./report";
import { runScaling, type ScalingResult } from "./scaling";
import { runBigSnapshot, runSnapshotPath, type BigSnapshotResult, type SnapshotResult } from "./snapshotPath";
import { apiserverSvg, restoreSvg, snapshotSvg } from "./svg";
import { targetsOf, type Target } from "./targets";

const sections = ["mtls", "snapshot", "big", "apiserver", "scaling", "cost"] as const;
type Section = (typeof sections)[number];

export interface BenchResults {
  command: string;
  startedAt: string;
  durationSeconds: number;
  quick: boolean;
  machine: {
    cpuModel: string;
    cores: number;
    memoryGiB: number;
    platform: string;
    loadAtStart: number;
    loadAtEnd: number;
  };
  versions: { node: string; etcd: string; benchmark: string; aws: string };
  targets: Target[];
  mtls?: MtlsResult;
  snapshot?: SnapshotResult;
  big?: BigSnapshotResult;
  apiserver?: ApiserverResult;
  scaling?: ScalingResult;
  cost?: CostResult;
}

async function firstLine(cmd: string, args: string[], re: RegExp): Promise<string> {
  const r = await run(cmd, args, { timeoutMs: 30_000 }).catch(() => undefined);
  return r ? (re.exec(r.output)?.[1] ?? r.output.split("\n")[0]) : "not installed";
}

async function versions(): Promise<BenchResults["versions"]> {
  const etcd = benchRelease();
  return {
    node: process.version,
    etcd: `${etcd.version} (${etcd.source}: ${etcd.etcd})`,
    benchmark: upstreamBinary("etcd-benchmark", "benchmark"),
    aws: await firstLine("aws", ["--version"], /^(\S+)/),
  };
}

const usage = `usage: npm run bench -- [--quick] [--only ${sections.join("|")}]... [--no-before] [--big-mib N] [--check-perf] [--out DIR]`;

function options() {
  // The shared repeated-flag rule: each flag once, except --only (repeatable).
  const values = parseFlags(process.argv.slice(2), {
    only: { type: "string", multiple: true },
    quick: { type: "boolean", default: false },
    "no-before": { type: "boolean", default: false },
    "big-mib": { type: "string" },
    "check-perf": { type: "boolean", default: false },
    out: { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  } as const);
  if (values.help) return "help" as const;
  const only = new Set((values.only ?? [...sections]) as Section[]);
  for (const s of only)
    if (!sections.includes(s)) throw new UsageError("--only", `${s}: expected one of ${sections.join(", ")}`);
  const quick = values.quick ?? false;
  const full = !quick && values.only === undefined;
  const outDir = path.resolve(values.out ?? (full ? __dirname : path.join(__dirname, "..", ".bench")));
  const bigMib = Number(values["big-mib"] ?? (quick ? 512 : 8192));
  if (!Number.isInteger(bigMib) || bigMib < 64)
    throw new UsageError("--big-mib", `${values["big-mib"]}: expected a whole number of MiB ≥ 64`);
  return {
    only,
    quick,
    before: !values["no-before"],
    bigMib,
    checkPerf: values["check-perf"] ?? false,
    outDir,
  };
}

async function main(): Promise<void> {
  const o = options();
  if (o === "help") return console.log(usage);
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
      loadAtStart: loadAverage(),
      loadAtEnd: 0,
    },
    versions: await versions(),
    targets: [],
  };
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "secure-etcd-bench-"));
  fs.chmodSync(workDir, 0o700);
  try {
    if (o.only.has("mtls"))
      results.mtls = await runMtls({
        workDir: path.join(workDir, "mtls"),
        runs: o.quick ? 1 : 3,
        total: o.quick ? 2_000 : 30_000,
        conns: 8,
        clients: 64,
        handshakeSeconds: o.quick ? 1 : 3,
        checkPerf: o.checkPerf,
        log,
      });
    if (o.only.has("snapshot"))
      results.snapshot = await runSnapshotPath({
        workDir: path.join(workDir, "snapshot"),
        sizesMiB: o.quick ? [8, 64] : [64, 256, 1024],
        runsFor: () => (o.quick ? 1 : 3),
        before: o.before,
        log,
      });
    if (o.only.has("big"))
      results.big = await runBigSnapshot({ workDir: path.join(workDir, "big"), mib: o.bigMib, log });
    if (o.only.has("apiserver"))
      results.apiserver = await runApiserver({
        workDir: path.join(workDir, "apiserver"),
        // Each run is ~10 s (a restart and a few seconds of writes): 5 interleaved runs steady the medians.
        runs: o.quick ? 1 : 5,
        secrets: o.quick ? 200 : 2_000,
        warmup: o.quick ? 20 : 200,
        concurrency: 16,
        valueBytes: 1024,
        log,
      });
    if (o.only.has("scaling")) results.scaling = await runScaling(o.quick ? 1 : 3, log);
    if (o.only.has("cost")) {
      const last = results.snapshot?.sizes.at(-1);
      results.cost = runCost(1, last ? last.objectBytes / last.dbBytes : 1);
    }
  } finally {
    fs.rmSync(workDir, { recursive: true, force: true });
  }
  results.targets = targetsOf(results);
  results.machine.loadAtEnd = loadAverage();
  results.durationSeconds = Math.round((Date.now() - started) / 1000);
  const out = o.outDir;
  fs.mkdirSync(out, { recursive: true });
  fs.writeFileSync(path.join(out, "results.json"), `${JSON.stringify(results, null, 2)}\n`);
  fs.writeFileSync(path.join(out, "results.md"), renderMarkdown(results));
  const written = ["results.json", "results.md"];
  if (results.snapshot) {
    fs.writeFileSync(path.join(out, "snapshot.svg"), snapshotSvg(results.snapshot, results.big));
    fs.writeFileSync(path.join(out, "restore.svg"), restoreSvg(results.snapshot));
    written.push("snapshot.svg", "restore.svg");
  }
  if (results.apiserver) {
    fs.writeFileSync(path.join(out, "apiserver.svg"), apiserverSvg(results.apiserver));
    written.push("apiserver.svg");
  }
  const rel = path.relative(process.cwd(), out) || ".";
  for (const t of results.targets)
    log(
      `${t.name}: ${t.ratio ?? "not measured"} (target ${t.better === "higher" ? "≥" : "≤"} ${t.target}) ${t.met === undefined ? "" : t.met ? "MET" : "NOT MET"}`,
    );
  log(`wrote ${written.map((f) => `${rel}/${f}`).join(", ")}`);
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    if (e instanceof UsageError) {
      console.error(`bench: ${e.message}\n${usage}`);
      process.exit(2);
    }
    console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
    process.exit(1);
  },
);

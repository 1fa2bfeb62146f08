/**
 * Sections 1 and 2: what the component's mutual TLS costs.
 *  1. put and range throughput and p50/p99 under saturation with etcd's own load tool (`benchmark`, built
 *     from etcd's tools/benchmark module like etcd itself), plaintext vs the component's TLS flags and
 *     certs (ECDSA-P256 and RSA-2048), runs interleaved side by side. etcd is pinned to CPU 0 and the load
 *     generator to CPU 1 with taskset, so a ratio measures TLS, not the two fighting over two cores (other
 *     tenants of the machine still share both: the load is recorded). Plus `etcdctl check perf` (paced to
 *     a target rate: a pass/fail, not a throughput) on the TLS server when asked.
 *  2. new client TLS connections per second for every keyAlgorithm the schema offers.
 */
import * as path from "node:path";
import { keyAlgorithms, type KeyAlgorithm } from "../components/config/constants";
import { runEtcdctl } from "../harness/etcdctl";
import { upstreamBinary } from "../harness/upstream";
import { run } from "../tools/shared/process";
import { startComponentTls, startPlaintext, type BenchEtcd } from "./etcdServers";
import { cpuSeconds, loadWindow, type LoadWindow } from "./load";
import { handshakes } from "./loadgen";
import { median, round, sideBySide } from "./stats";

export interface MtlsOptions {
  workDir: string;
  runs: number;
  /** Requests per benchmark run. */
  total: number;
  conns: number;
  clients: number;
  handshakeSeconds: number;
  checkPerf: boolean;
  log: (line: string) => void;
}

export interface OpFigures {
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  runs: number[];
  /** etcd's own CPU per request (µs): with etcd pinned to one core, throughput is about 1 ÷ this. */
  etcdCpuMicrosPerRequest: number;
}

export interface MtlsResult {
  tool: string;
  pinning: { etcd: string; loadGenerator: string };
  conns: number;
  clients: number;
  totalPerRun: number;
  runs: number;
  valueBytes: number;
  servers: Record<string, { put: OpFigures; range: OpFigures; putRatio?: number; rangeRatio?: number }>;
  load: LoadWindow;
  checkPerf?: { server: string; passed: boolean; summary: string };
  handshakes: {
    parallel: number;
    secondsPerRun: number;
    perSec: Record<string, number>;
    ratioToFastest: Record<string, number>;
  };
}

const ETCD_CPU = "0";
const LOAD_CPU = "1";
const loadAlgorithms: KeyAlgorithm[] = ["ECDSA-P256", "RSA-2048"];

interface BenchRun {
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  etcdCpuMicros: number;
}

/** One `benchmark put|range` run against `e`, the tool pinned to LOAD_CPU. */
async function benchmarkRun(e: BenchEtcd, op: "put" | "range", o: MtlsOptions): Promise<BenchRun> {
  const tls = e.tls ? [`--cacert=${e.tls.ca}`, `--cert=${e.tls.cert}`, `--key=${e.tls.key}`] : [];
  const opArgs =
    op === "put"
      ? ["put", "--key-size=8", "--val-size=1024", `--total=${o.total}`, "--key-space-size=10000"]
      : ["range", "/bench-key", `--total=${o.total}`, "--consistency=l"];
  const cpu0 = cpuSeconds(e.proc.pid) ?? 0;
  const r = await run(
    "taskset",
    [
      "-c",
      LOAD_CPU,
      upstreamBinary("etcd-benchmark", "benchmark"),
      `--endpoints=${e.clientUrl}`,
      ...tls,
      `--conns=${o.conns}`,
      `--clients=${o.clients}`,
      ...opArgs,
    ],
    { timeoutMs: 10 * 60_000 },
  );
  const num = (re: RegExp) => Number(re.exec(r.output)?.[1]);
  const res = {
    opsPerSec: num(/Requests\/sec:\s+([\d.]+)/),
    p50Ms: num(/50% in ([\d.]+) secs/) * 1000,
    p99Ms: num(/99% in ([\d.]+) secs/) * 1000,
    etcdCpuMicros: (((cpuSeconds(e.proc.pid) ?? 0) - cpu0) / o.total) * 1e6,
  };
  if (r.code !== 0 || !Number.isFinite(res.opsPerSec))
    throw new Error(`benchmark ${op} against ${e.label} failed: ${r.output.slice(-800)}`);
  return res;
}

const summarize = (xs: BenchRun[]): OpFigures => ({
  opsPerSec: round(median(xs.map((x) => x.opsPerSec)), 0),
  p50Ms: round(median(xs.map((x) => x.p50Ms)), 2),
  p99Ms: round(median(xs.map((x) => x.p99Ms)), 2),
  runs: xs.map((x) => round(x.opsPerSec, 0)),
  etcdCpuMicrosPerRequest: round(median(xs.map((x) => x.etcdCpuMicros)), 1),
});

export async function runMtls(o: MtlsOptions): Promise<MtlsResult> {
  const servers: BenchEtcd[] = [];
  try {
    o.log(`mtls: plaintext and TLS etcd pinned to CPU ${ETCD_CPU}, etcd's benchmark to CPU ${LOAD_CPU}…`);
    servers.push(await startPlaintext(o.workDir, "plaintext", { cpus: ETCD_CPU }));
    for (const a of loadAlgorithms) servers.push(await startComponentTls(o.workDir, a, { cpus: ETCD_CPU }));
    const byLabel = new Map(servers.map((s) => [s.label, s]));
    const targets = ["plaintext", ...loadAlgorithms.map((a) => `tls-${a}`)];
    const window = loadWindow();
    const result: Omit<MtlsResult, "load" | "handshakes"> = {
      tool: `etcd tools/benchmark (${upstreamBinary("etcd-benchmark", "benchmark")})`,
      pinning: { etcd: `taskset -c ${ETCD_CPU}`, loadGenerator: `taskset -c ${LOAD_CPU}` },
      conns: o.conns,
      clients: o.clients,
      totalPerRun: o.total,
      runs: o.runs,
      valueBytes: 1024,
      servers: {},
    };
    for (const op of ["put", "range"] as const) {
      o.log(
        `mtls: benchmark ${op}, ${o.runs} runs × ${o.total} requests, ${o.conns} conns / ${o.clients} clients, side by side…`,
      );
      const runs = await sideBySide(o.runs, targets, (t) => benchmarkRun(byLabel.get(t)!, op, o));
      for (const t of targets) {
        result.servers[t] ??= {} as MtlsResult["servers"][string];
        result.servers[t][op] = summarize(runs[t]);
      }
    }
    const load = window();
    const base = result.servers.plaintext;
    for (const t of targets.filter((x) => x !== "plaintext")) {
      const s = result.servers[t];
      s.putRatio = round(s.put.opsPerSec / base.put.opsPerSec, 3);
      s.rangeRatio = round(s.range.opsPerSec / base.range.opsPerSec, 3);
    }
    const checkPerf = o.checkPerf ? await runCheckPerf(byLabel.get("tls-ECDSA-P256")!, o) : undefined;
    for (const s of servers.splice(0)) await s.stop();
    const hs = await handshakeSection(o);
    return { ...result, load, ...(checkPerf ? { checkPerf } : {}), handshakes: hs };
  } finally {
    for (const s of servers) await s.stop();
  }
}

async function runCheckPerf(e: BenchEtcd, o: MtlsOptions): Promise<MtlsResult["checkPerf"]> {
  o.log(`mtls: etcdctl check perf --load=s against ${e.label} (60 s)…`);
  const r = await runEtcdctl(
    e.release.etcdctl,
    [
      `--endpoints=${e.clientUrl}`,
      ...e.etcdctlTls,
      "check",
      "perf",
      "--load=s",
      "--auto-compact",
      "--auto-defrag",
    ],
    { timeoutMs: 180_000, commandTimeout: "120s" },
  );
  const lines = r.output.split("\n").filter((l) => /PASS|FAIL/.test(l));
  return {
    server: e.label,
    passed: r.code === 0 && /PASS/.test(r.output),
    summary: lines.join("; ").slice(0, 400),
  };
}

/** New TLS connections per second for every key algorithm (each its own server, unpinned). */
async function handshakeSection(o: MtlsOptions): Promise<MtlsResult["handshakes"]> {
  o.log(`mtls: TLS handshakes per second for ${keyAlgorithms.join(", ")}…`);
  const servers: BenchEtcd[] = [];
  try {
    // A directory of its own: the load section's servers rendered and kept data under o.workDir.
    for (const a of keyAlgorithms)
      servers.push(await startComponentTls(path.join(o.workDir, "handshakes"), a));
    const byLabel = new Map(servers.map((s) => [s.label, s]));
    const labels = keyAlgorithms.map((a) => `tls-${a}`);
    const runs = await sideBySide(o.runs, labels, (l) => handshakes(byLabel.get(l)!, o.handshakeSeconds, 4));
    const h: MtlsResult["handshakes"] = {
      parallel: 4,
      secondsPerRun: o.handshakeSeconds,
      perSec: {},
      ratioToFastest: {},
    };
    for (const a of keyAlgorithms) h.perSec[a] = round(median(runs[`tls-${a}`]), 0);
    const fastest = Math.max(...Object.values(h.perSec));
    for (const a of keyAlgorithms) h.ratioToFastest[a] = round(h.perSec[a] / fastest, 3);
    return h;
  } finally {
    for (const s of servers) await s.stop();
  }
}

/**
 * Sections 1 and 2: what the component's mutual TLS costs.
 *  1. put and range throughput and p50/p99 under saturation (many requests in flight), plaintext vs the
 *     component's TLS flags and certs (ECDSA-P256 and RSA-2048), runs interleaved side by side; plus
 *     `etcdctl check perf` (paced to a target rate, so a pass/fail, not a throughput) on the TLS server.
 *  2. new client TLS connections per second for every keyAlgorithm the schema offers.
 */
import { keyAlgorithms, type KeyAlgorithm } from "../components/config/constants";
import { runEtcdctl } from "../harness/etcdctl";
import { clientFor, handshakes, prefill, putLoad, rangeLoad, type LoadResult } from "./loadgen";
import { startComponentTls, startPlaintext, type BenchEtcd } from "./etcdServers";
import { median, round, sideBySide } from "./stats";

export interface MtlsOptions {
  workDir: string;
  runs: number;
  seconds: number;
  concurrency: number;
  checkPerf: boolean;
  log: (line: string) => void;
}

export interface OpFigures {
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  runs: number[];
  errors: number;
}

export interface MtlsResult {
  concurrency: number;
  secondsPerRun: number;
  runs: number;
  valueBytes: number;
  servers: Record<string, { put: OpFigures; range: OpFigures; putRatio?: number; rangeRatio?: number }>;
  checkPerf?: { server: string; passed: boolean; summary: string };
  handshakes: {
    parallel: number;
    secondsPerRun: number;
    perSec: Record<string, number>;
    ratioToFastest: Record<string, number>;
  };
}

const summarize = (xs: LoadResult[]): OpFigures => ({
  opsPerSec: round(median(xs.map((x) => x.opsPerSec)), 0),
  p50Ms: round(median(xs.map((x) => x.p50Ms)), 2),
  p99Ms: round(median(xs.map((x) => x.p99Ms)), 2),
  runs: xs.map((x) => round(x.opsPerSec, 0)),
  errors: xs.reduce((a, x) => a + x.errors, 0),
});

const loadAlgorithms: KeyAlgorithm[] = ["ECDSA-P256", "RSA-2048"];

export async function runMtls(o: MtlsOptions): Promise<MtlsResult> {
  const servers: BenchEtcd[] = [];
  try {
    o.log("mtls: starting plaintext etcd and the component's TLS etcd for each key algorithm…");
    servers.push(await startPlaintext(o.workDir));
    for (const a of keyAlgorithms) servers.push(await startComponentTls(o.workDir, a));
    const byLabel = new Map(servers.map((s) => [s.label, s]));
    const loadTargets = ["plaintext", ...loadAlgorithms.map((a) => `tls-${a}`)];
    const result: MtlsResult = {
      concurrency: o.concurrency,
      secondsPerRun: o.seconds,
      runs: o.runs,
      valueBytes: 1024,
      servers: {},
      handshakes: { parallel: 4, secondsPerRun: o.seconds, perSec: {}, ratioToFastest: {} },
    };
    await loadSection(o, loadTargets, byLabel, result);
    if (o.checkPerf) result.checkPerf = await checkPerf(byLabel.get("tls-ECDSA-P256")!, o);
    await handshakeSection(o, byLabel, result);
    return result;
  } finally {
    for (const s of servers) await s.stop();
  }
}

async function loadSection(
  o: MtlsOptions,
  targets: string[],
  byLabel: Map<string, BenchEtcd>,
  result: MtlsResult,
): Promise<void> {
  const clients = new Map(targets.map((t) => [t, clientFor(byLabel.get(t)!)]));
  try {
    for (const t of targets) await prefill(clients.get(t)!);
    for (const [op, fn] of [
      ["put", putLoad],
      ["range", rangeLoad],
    ] as const) {
      o.log(`mtls: ${op} load, ${o.runs} runs × ${o.seconds}s, ${o.concurrency} in flight, side by side…`);
      const runs = await sideBySide(o.runs, targets, (t) => fn(clients.get(t)!, o.concurrency, o.seconds));
      for (const t of targets) {
        result.servers[t] ??= {} as MtlsResult["servers"][string];
        result.servers[t][op] = summarize(runs[t]);
      }
    }
    const base = result.servers.plaintext;
    for (const t of targets.filter((x) => x !== "plaintext")) {
      const s = result.servers[t];
      s.putRatio = round(s.put.opsPerSec / base.put.opsPerSec, 3);
      s.rangeRatio = round(s.range.opsPerSec / base.range.opsPerSec, 3);
    }
  } finally {
    for (const c of clients.values()) c.close();
  }
}

async function checkPerf(e: BenchEtcd, o: MtlsOptions): Promise<MtlsResult["checkPerf"]> {
  o.log(`mtls: etcdctl check perf --load=s against ${e.label} (60 s)…`);
  const r = await runEtcdctl(
    "etcdctl",
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

async function handshakeSection(o: MtlsOptions, byLabel: Map<string, BenchEtcd>, result: MtlsResult) {
  o.log(`mtls: TLS handshakes per second for ${keyAlgorithms.join(", ")}…`);
  const labels = keyAlgorithms.map((a) => `tls-${a}`);
  const runs = await sideBySide(o.runs, labels, (l) => handshakes(byLabel.get(l)!, o.seconds, 4));
  const h = result.handshakes;
  for (const a of keyAlgorithms) h.perSec[a] = round(median(runs[`tls-${a}`]), 0);
  const fastest = Math.max(...Object.values(h.perSec));
  for (const a of keyAlgorithms) h.ratioToFastest[a] = round(h.perSec[a] / fastest, 3);
}

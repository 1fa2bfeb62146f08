/** bench/results.md: the results as Markdown tables (docs/benchmarks-notes.md copies them). */
import { apiserverProviders } from "./apiserver";
import type { BenchResults } from "./run";
import type { Timed } from "./snapshotPath";

const f = (n: number | undefined | null, d = 2) =>
  n === undefined || n === null || Number.isNaN(n) ? "-" : n.toFixed(d);
const mib = (b: number) => `${f(b / 1024 / 1024, 0)} MiB`;
const cpu = (t?: Timed) => (t?.cpu ? `${f(t.cpu.own, 1)} / ${f(t.cpu.etcd, 1)} / ${f(t.cpu.moto, 1)}` : "-");

function targetsTable(r: BenchResults): string[] {
  const out = [
    "### Targets (issue 20)",
    "",
    "| figure | ratio | target | met | what |",
    "|---|---|---|---|---|",
  ];
  for (const t of r.targets)
    out.push(
      `| ${t.name} | ${f(t.ratio, 3)} | ${t.better === "higher" ? "≥" : "≤"} ${t.target} | ${t.met === undefined ? "not measured" : t.met ? "yes" : "**no**"} | ${t.of}${t.note ? ` — ${t.note}` : ""} |`,
    );
  return [...out, ""];
}

function mtlsTables(r: BenchResults): string[] {
  const m = r.mtls;
  if (!m) return [];
  const out = [
    `### mTLS overhead (etcd's benchmark tool; etcd ${m.pinning.etcd}, load generator ${m.pinning.loadGenerator}; ${m.runs} runs × ${m.totalPerRun} requests, ${m.conns} connections / ${m.clients} clients, ${m.valueBytes} B values; medians)`,
    "",
    "| server | put req/s | put p50 / p99 ms | put ratio TLS ÷ plaintext | etcd CPU µs/put | range req/s | range p50 / p99 ms | range ratio | etcd CPU µs/range |",
    "|---|---|---|---|---|---|---|---|---|",
  ];
  for (const [name, s] of Object.entries(m.servers))
    out.push(
      `| ${name} | ${f(s.put.opsPerSec, 0)} | ${f(s.put.p50Ms)} / ${f(s.put.p99Ms)} | ${f(s.putRatio, 3)} | ${f(s.put.etcdCpuMicrosPerRequest, 0)} | ${f(s.range.opsPerSec, 0)} | ${f(s.range.p50Ms)} / ${f(s.range.p99Ms)} | ${f(s.rangeRatio, 3)} | ${f(s.range.etcdCpuMicrosPerRequest, 0)} |`,
    );
  out.push(
    "",
    `Machine during this section: load ${f(m.load.loadStart)} → ${f(m.load.loadEnd)}, ${f(m.load.busy * 100, 0)}% of CPU time busy (all tenants).`,
  );
  if (m.checkPerf)
    out.push(
      "",
      `\`etcdctl check perf --load=s\` on ${m.checkPerf.server}: ${m.checkPerf.passed ? "PASS" : "FAIL"} (${m.checkPerf.summary})`,
    );
  out.push(
    "",
    `### TLS handshakes (new client connections with the client cert, ${m.handshakes.parallel} in parallel)`,
    "",
  );
  out.push("| key algorithm | handshakes/s | ratio to fastest |", "|---|---|---|");
  for (const [a, v] of Object.entries(m.handshakes.perSec))
    out.push(`| ${a} | ${f(v, 0)} | ${f(m.handshakes.ratioToFastest[a], 3)} |`);
  return [...out, ""];
}

function snapshotTables(r: BenchResults): string[] {
  const s = r.snapshot;
  if (!s) return [];
  const out = [
    `### Snapshot path (etcd ${s.etcd}, ${s.server}, ${s.emulator}; medians; MiB/s of the raw DB)`,
    "",
    "| DB | runs | stored ÷ raw | bare save s (MiB/s) | snapshot job s (MiB/s) | ratio | job before s | before ratio | CPU s bare / job / before (own) |",
    "|---|---|---|---|---|---|---|---|---|",
  ];
  for (const z of s.sizes)
    out.push(
      `| ${mib(z.dbBytes)} | ${z.runs} | ${f(z.objectBytes / z.dbBytes, 2)}${z.objectBytesBefore ? ` (before ${f(z.objectBytesBefore / z.dbBytes, 2)})` : ""} | ${f(z.bareSave.medianSeconds)} (${f(z.bareSave.mibPerSec, 1)}) | ${f(z.job.medianSeconds)} (${f(z.job.mibPerSec, 1)}) | ${f(z.jobRatio)} | ${f(z.jobBefore?.medianSeconds)} | ${f(z.jobBeforeRatio)} | ${f(z.bareSave.cpu?.own, 1)} / ${f(z.job.cpu?.own, 1)} / ${f(z.jobBefore?.cpu?.own, 1)} |`,
    );
  const big = r.big;
  if (big) {
    const b = big;
    out.push(
      `| ${mib(b.dbBytes)} (once) | 1 | ${f(b.objectBytes / b.dbBytes, 2)} | ${f(b.bareSave.medianSeconds)} (${f(b.bareSave.mibPerSec, 1)}) | ${f(b.job.medianSeconds)} (${f(b.job.mibPerSec, 1)}) | ${f(b.jobRatio)} | - | - | ${f(b.bareSave.cpu?.own, 1)} / ${f(b.job.cpu?.own, 1)} / - |`,
    );
  }
  out.push(
    "",
    "CPU seconds per run (median): the variant's own process tree / etcd / moto — the two cores are shared by all three (and other tenants).",
    "",
    "| DB | bare save | snapshot job | job before |",
    "|---|---|---|---|",
  );
  for (const z of s.sizes)
    out.push(`| ${mib(z.dbBytes)} | ${cpu(z.bareSave)} | ${cpu(z.job)} | ${cpu(z.jobBefore)} |`);
  const phases = Object.keys(s.sizes[0]?.jobPhases ?? {});
  out.push(
    "",
    `Snapshot job phases, median seconds: ${phases.join(", ")} (the save, hashing, compression and upload run together in saveAndStream)`,
    "",
    `| DB | ${phases.join(" | ")} |`,
    `|---|${phases.map(() => "---").join("|")}|`,
  );
  for (const z of [...s.sizes, ...(big ? [{ dbBytes: big.dbBytes, jobPhases: big.jobPhases }] : [])])
    out.push(`| ${mib(z.dbBytes)} | ${phases.map((p) => f(z.jobPhases[p])).join(" | ")} |`);
  const before = s.sizes[0]?.jobBeforePhases;
  if (before) {
    const bp = Object.keys(before);
    out.push(
      "",
      `snapshot.sh phases before (${s.baselineCommit}), median seconds`,
      "",
      `| DB | ${bp.join(" | ")} |`,
      `|---|${bp.map(() => "---").join("|")}|`,
    );
    for (const z of s.sizes)
      out.push(`| ${mib(z.dbBytes)} | ${bp.map((p) => f(z.jobBeforePhases?.[p])).join(" | ")} |`);
  }
  out.push(
    "",
    `### Restore (one member, --apply; the tools each in a process of their own, timed inside it; medians)`,
    "",
    "| DB | bare etcdutl restore s | restore tool s | ratio | restore tool before s | before ratio |",
    "|---|---|---|---|---|---|",
  );
  for (const z of s.sizes)
    out.push(
      `| ${mib(z.dbBytes)} | ${f(z.bareRestore.medianSeconds)} | ${f(z.restoreTool.medianSeconds)} | ${f(z.restoreRatio)} | ${f(z.restoreToolBefore?.medianSeconds)} | ${f(z.restoreBeforeRatio)} |`,
    );
  out.push(
    "",
    "Machine during each size (all tenants):",
    "",
    "| DB | load start → end | CPU busy |",
    "|---|---|---|",
  );
  for (const z of s.sizes)
    out.push(
      `| ${mib(z.dbBytes)} | ${f(z.load.loadStart)} → ${f(z.load.loadEnd)} | ${f(z.load.busy * 100, 0)}% |`,
    );
  if (big)
    out.push(
      `| ${mib(big.dbBytes)} | ${f(big.load.loadStart)} → ${f(big.load.loadEnd)} | ${f(big.load.busy * 100, 0)}% |`,
    );
  return [...out, ""];
}

function apiserverTable(r: BenchResults): string[] {
  const a = r.apiserver;
  if (!a) return [];
  const out = [
    `### Secret writes through kube-apiserver ${a.kubeApiserver} per encryption provider (etcd ${a.etcd}, ${a.pinning.etcd}; ${a.runs} interleaved runs × ${a.secretsPerRun} Secrets of ${a.valueBytes} B after ${a.warmup} warm-up, ${a.concurrency} in flight; medians)`,
    "",
    "| provider | Secrets/s | runs min–max Secrets/s | p50 / p99 ms | throughput ÷ identity | p99 ÷ identity | apiserver CPU µs/Secret | CPU ÷ identity | stored in etcd as |",
    "|---|---|---|---|---|---|---|---|---|",
  ];
  for (const p of apiserverProviders) {
    const x = a.providers[p];
    const each = x.runs.map((y) => y.secretsPerSec);
    out.push(
      `| ${p === a.defaultProvider ? `${p} (default)` : p === "kms" ? "kms v2" : p} | ${f(x.secretsPerSec, 0)} | ${f(Math.min(...each), 0)}–${f(Math.max(...each), 0)} | ${f(x.p50Ms)} / ${f(x.p99Ms)} | ${f(x.throughputRatio, 3)} | ${f(x.p99Ratio, 3)} | ${f(x.apiserverCpuMicrosPerSecret, 0)} | ${f(x.cpuRatio, 3)} | \`${x.storedPrefix}\` |`,
    );
  }
  const loads = apiserverProviders.flatMap((p) => a.providers[p].runs.map((x) => x.load.loadStart));
  out.push(
    "",
    `Load average during the runs (all tenants): ${f(Math.min(...loads))}–${f(Math.max(...loads))}. Every run's figures are in results.json.`,
  );
  return [...out, "", "![provider cost](apiserver.svg)", ""];
}

function scalingTable(r: BenchResults): string[] {
  const s = r.scaling;
  if (!s) return [];
  const out = [
    `### Deploy-time scaling (program under mocks, ${s.stack} stack, ${s.runs} fresh processes per size; medians)`,
    "",
    "| members | resources | program ms | ratio to 3 members |",
    "|---|---|---|---|",
  ];
  for (const row of s.rows)
    out.push(`| ${row.members} | ${row.resources} | ${f(row.medianMs, 0)} | ${f(row.ratioTo3)} |`);
  return [...out, "", s.note, ""];
}

function costTable(r: BenchResults): string[] {
  const c = r.cost;
  if (!c) return [];
  const out = [
    `### Monthly AWS cost per environment (DB ${c.dbGiB} GiB, stored ÷ raw ${c.gzipRatio}, prices checked ${c.pricesCheckedOn}, year 1)`,
    "",
    "| environment | members | schedule | retention + noncurrent days | snapshots kept | stored GB | snapshots $/month | secret store $/month | KMS v2 envelope keys $/month | total $/month |",
    "|---|---|---|---|---|---|---|---|---|---|",
  ];
  for (const x of c.rows)
    out.push(
      `| ${x.environment} | ${x.members} | \`${x.schedule}\` | ${x.retentionDays} | ${x.objectsKept} | ${f(x.storedGb, 1)} | $${f(x.snapshotsUsd)} | $${f(x.secretStoreUsd)} | $${f(x.envelopeKeysUsd ?? 0)} | **$${f(x.totalUsd)}** |`,
    );
  return [...out, ""];
}

export function renderMarkdown(r: BenchResults): string {
  const m = r.machine;
  return [
    `Command: \`${r.command}\` — ${r.startedAt}, ${r.durationSeconds} s${r.quick ? " (QUICK smoke run: small sizes, not for comparison)" : ""}`,
    "",
    `Machine: ${m.cpuModel}, ${m.cores} cores (shared with other tenants), ${m.memoryGiB} GiB; load average ${f(m.loadAtStart)} at the start, ${f(m.loadAtEnd)} at the end; node ${r.versions.node}, etcd ${r.versions.etcd}, ${r.versions.aws}`,
    "",
    ...targetsTable(r),
    ...mtlsTables(r),
    ...snapshotTables(r),
    ...apiserverTable(r),
    ...scalingTable(r),
    ...costTable(r),
  ].join("\n");
}

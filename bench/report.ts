/** bench/results.md: the results as Markdown tables (the README's Benchmarks section copies it). */
import type { BenchResults } from "./run";

const f = (n: number | undefined, d = 2) => (n === undefined || Number.isNaN(n) ? "-" : n.toFixed(d));

function mtlsTables(r: BenchResults): string[] {
  const m = r.mtls;
  if (!m) return [];
  const out = [
    `### mTLS overhead (${m.runs} runs × ${m.secondsPerRun} s, ${m.concurrency} requests in flight, ${m.valueBytes} B values; medians)`,
    "",
    "| server | put ops/s | put p50 / p99 ms | put ratio TLS ÷ plaintext | range ops/s | range p50 / p99 ms | range ratio |",
    "|---|---|---|---|---|---|---|",
  ];
  for (const [name, s] of Object.entries(m.servers))
    out.push(
      `| ${name} | ${f(s.put.opsPerSec, 0)} | ${f(s.put.p50Ms)} / ${f(s.put.p99Ms)} | ${f(s.putRatio, 3)} | ${f(s.range.opsPerSec, 0)} | ${f(s.range.p50Ms)} / ${f(s.range.p99Ms)} | ${f(s.rangeRatio, 3)} |`,
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
    `### Snapshot path (${s.server}, local S3; medians; MiB/s of the raw DB)`,
    "",
    "| DB | runs | gzip | bare save s (MiB/s) | snapshot.sh s (MiB/s) | ratio | snapshot.sh before s | before ratio | bare restore s | restore tool s | ratio |",
    "|---|---|---|---|---|---|---|---|---|---|---|",
  ];
  for (const z of s.sizes)
    out.push(
      `| ${f(z.dbBytes / 1024 / 1024, 0)} MiB | ${z.runs} | ${f(z.gzBytes / z.dbBytes, 2)} | ${f(z.bareSave.medianSeconds)} (${f(z.bareSave.mibPerSec, 1)}) | ${f(z.script.medianSeconds)} (${f(z.script.mibPerSec, 1)}) | ${f(z.scriptRatio)} | ${f(z.scriptBefore?.medianSeconds)} | ${f(z.scriptBeforeRatio)} | ${f(z.bareRestore.medianSeconds)} | ${f(z.restoreTool.medianSeconds)} | ${f(z.restoreRatio)} |`,
    );
  const phases = ["health", "save", "status", "compress", "keyCheck", "upload", "verifyAndMarker"];
  out.push(
    "",
    "snapshot.sh phases, median seconds (before → after): health check, save, `snapshot status`, compress + hashes + `gzip -t`, key-free check, upload, head-object check + marker",
    "",
    `| DB | ${phases.join(" | ")} |`,
    `|---|${phases.map(() => "---").join("|")}|`,
  );
  for (const z of s.sizes)
    out.push(
      `| ${f(z.dbBytes / 1024 / 1024, 0)} MiB | ${phases
        .map(
          (p) => `${z.scriptBeforePhases ? `${f(z.scriptBeforePhases[p])} → ` : ""}${f(z.scriptPhases[p])}`,
        )
        .join(" | ")} |`,
    );
  return [...out, ""];
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
    `### Monthly AWS cost per environment (DB ${c.dbGiB} GiB, gzip ratio ${c.gzipRatio}, prices checked ${c.pricesCheckedOn}, year 1)`,
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
    `Machine: ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB; node ${r.versions.node}, etcd ${r.versions.etcd}, etcdctl ${r.versions.etcdctl}, ${r.versions.aws}`,
    "",
    ...mtlsTables(r),
    ...snapshotTables(r),
    ...scalingTable(r),
    ...costTable(r),
  ].join("\n");
}

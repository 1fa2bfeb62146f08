/**
 * Issue 20's targets as results.json carries them: `{ name, ratio, target, met }`, one per figure, from
 * the results of one run. A figure that was not measured in this run has ratio null and no `met`.
 */
import { apiserverProviders } from "./apiserver";
import type { BenchResults } from "./run";

export interface Target {
  name: string;
  /** The measured ratio (null: not measured in this run). */
  ratio: number | null;
  target: number;
  /** Whether the ratio must stay at or below the target, or reach it. */
  better: "lower" | "higher";
  met?: boolean;
  /** What the ratio is of, in words. */
  of: string;
  note?: string;
}

function target(
  name: string,
  ratio: number | undefined,
  t: number,
  better: Target["better"],
  of: string,
  note?: string,
): Target {
  return {
    name,
    ratio: ratio ?? null,
    target: t,
    better,
    ...(ratio === undefined ? {} : { met: better === "lower" ? ratio <= t : ratio >= t }),
    of,
    ...(note ? { note } : {}),
  };
}

export function targetsOf(r: BenchResults): Target[] {
  const size = (mib: number) => r.snapshot?.sizes.find((s) => s.targetMiB === mib);
  const s1g = size(1024);
  const s64 = size(64);
  const tls = r.mtls?.servers["tls-ECDSA-P256"];
  const big = r.big;
  const api = r.apiserver;
  return [
    target(
      "snapshot 1 GiB",
      s1g?.jobRatio,
      1.3,
      "lower",
      "snapshot job ÷ bare etcdctl snapshot save, median, 1 GiB DB",
    ),
    target(
      "snapshot 64 MiB",
      s64?.jobRatio,
      2.0,
      "lower",
      "snapshot job ÷ bare etcdctl snapshot save, median, 64 MiB DB",
    ),
    target(
      "restore 1 GiB",
      s1g?.restoreRatio,
      1.3,
      "lower",
      "restore tool ÷ bare etcdutl snapshot restore, median, 1 GiB DB",
    ),
    target(
      "snapshot 8 GiB",
      big ? Math.round((big.job.medianSeconds / big.windowSeconds) * 1000) / 1000 : undefined,
      1,
      "lower",
      `the whole snapshot job for a ${big ? Math.round(big.dbBytes / 1024 ** 3) : 8} GiB DB ÷ prod's 15-minute schedule (900 s), measured once`,
      big
        ? `${big.job.medianSeconds} s (bare save ${big.bareSave.medianSeconds} s); prod's CronJob deadline is 840 s`
        : undefined,
    ),
    target(
      "mTLS put throughput",
      tls?.putRatio,
      0.9,
      "higher",
      "component mTLS (ECDSA-P256) ÷ plaintext put requests/s, etcd's benchmark tool, etcd and load generator on separate CPUs",
    ),
    target(
      "Secret writes through kube-apiserver (default provider ÷ identity)",
      api?.providers[api.defaultProvider].throughputRatio,
      0.9,
      "higher",
      `Secret creates/s with the default encryption provider (${api?.defaultProvider ?? "secretbox"}) ÷ identity, real kube-apiserver, median of interleaved runs`,
      api
        ? `p99 ${api.providers[api.defaultProvider].p99Ms} ms vs identity ${api.providers.identity.p99Ms} ms (÷ ${api.providers[api.defaultProvider].p99Ratio}); apiserver CPU per Secret ÷ identity ${api.providers[api.defaultProvider].cpuRatio}; throughput ÷ identity of the others: ` +
            apiserverProviders
              .filter((p) => p !== "identity" && p !== api.defaultProvider)
              .map((p) => `${p} ${api.providers[p].throughputRatio}`)
              .join(", ")
        : undefined,
    ),
  ];
}

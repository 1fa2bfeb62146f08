/**
 * Section 5: monthly AWS cost per environment (the shipped dev/staging/prod stacks), from the one price
 * table (components/cost/prices.ts) and the components/cost functions: the secret store, plus snapshot
 * storage at the environment's schedule and retention for a given DB size and the gzip ratio measured
 * in section 3 (or 1.0, no compression, when section 3 did not run).
 */
import { settingsFromStackConfig } from "../components/config";
import { envelopeKeyCostOf, prices, secretStoreCostOf, snapshotStorageCostOf } from "../components/cost";
import { readStackConfig } from "../harness/stackFiles";
import { round } from "./stats";

export interface CostRow {
  environment: string;
  members: number;
  schedule: string;
  retentionDays: string;
  objectsKept: number;
  storedGb: number;
  snapshotsUsd: number;
  secretStoreUsd: number;
  /** The KMS v2 envelope keys and the plugins' requests (0 without kms keys). */
  envelopeKeysUsd?: number;
  totalUsd: number;
}

export interface CostResult {
  dbGiB: number;
  gzipRatio: number;
  pricesCheckedOn: string;
  rows: CostRow[];
}

export function runCost(dbGiB: number, gzipRatio: number): CostResult {
  const rows = ["dev", "staging", "prod"].map((env) => {
    const s = settingsFromStackConfig(readStackConfig(env), env);
    const snap = snapshotStorageCostOf(s, dbGiB * 1024 ** 3 * gzipRatio);
    const store = secretStoreCostOf(s);
    const envelope = envelopeKeyCostOf(s)?.totalFirstYearUsd ?? 0;
    const retention = s.backup.enabled
      ? `${s.backup.retention.days} + ${s.backup.retention.noncurrentVersionDays}`
      : "-";
    return {
      environment: env,
      members: s.members.length,
      schedule: snap?.schedule ?? "off",
      retentionDays: retention,
      objectsKept: round(snap?.objectsKept ?? 0, 0),
      storedGb: round(snap?.storedGb ?? 0, 1),
      snapshotsUsd: round(snap?.totalUsd ?? 0, 2),
      secretStoreUsd: round(store?.totalFirstYearUsd ?? 0, 2),
      envelopeKeysUsd: round(envelope, 2),
      totalUsd: round((snap?.totalUsd ?? 0) + (store?.totalFirstYearUsd ?? 0) + envelope, 2),
    };
  });
  return { dbGiB, gzipRatio: round(gzipRatio, 3), pricesCheckedOn: prices.checkedOn, rows };
}

import type { SecureEtcdSettings } from "../config/schema";
import { prices } from "./prices";

/**
 * Secrets Manager calls one bootstrap run makes: one GetSecretValue (which makes Secrets Manager call
 * KMS Decrypt once). Change it here if the bootstrap's protocol changes.
 */
export const BOOTSTRAP_CALLS_PER_RUN = 1;

export interface SecretStoreCostInput {
  environment: string;
  members: number;
  /** Every secret replicated to another region (under a second KMS key). */
  replicated: boolean;
  bootstrapIntervalMinutes: number;
}

/** Monthly cost of one environment's secret store, in USD, from {@link prices}. */
export interface SecretStoreCost {
  environment: string;
  /** Member secrets and the key archive, replicas included. */
  secrets: number;
  kmsKeys: number;
  /** Secrets Manager calls by the nodes' bootstrap timers (each one also a KMS request). */
  apiCallsPerMonth: number;
  secretsUsd: number;
  /** The first year (one backing key per KMS key). */
  kmsKeysFirstYearUsd: number;
  /** From the third year (two billed rotations per key; later ones are free). */
  kmsKeysFromYear3Usd: number;
  apiCallsUsd: number;
  totalFirstYearUsd: number;
  totalFromYear3Usd: number;
}

/** Pure: the settings that drive the bill in, the monthly figure out. */
export function secretStoreMonthlyCost(c: SecretStoreCostInput): SecretStoreCost {
  const copies = c.replicated ? 2 : 1;
  const secrets = (c.members + 1) * copies;
  const kmsKeys = copies;
  const runsPerMonth = (60 / c.bootstrapIntervalMinutes) * prices.hoursPerMonth;
  const apiCallsPerMonth = Math.round(c.members * runsPerMonth * BOOTSTRAP_CALLS_PER_RUN);
  const secretsUsd = secrets * prices.secretPerMonth;
  const kmsKeysFirstYearUsd = kmsKeys * prices.kmsKeyPerMonth;
  const kmsKeysFromYear3Usd =
    kmsKeys * (prices.kmsKeyPerMonth + prices.kmsBilledRotations * prices.kmsRotatedBackingKeyPerMonth);
  const apiCallsUsd =
    (apiCallsPerMonth / 10_000) * (prices.secretsManagerPer10kCalls + prices.kmsPer10kRequests);
  return {
    environment: c.environment,
    secrets,
    kmsKeys,
    apiCallsPerMonth,
    secretsUsd,
    kmsKeysFirstYearUsd,
    kmsKeysFromYear3Usd,
    apiCallsUsd,
    totalFirstYearUsd: secretsUsd + kmsKeysFirstYearUsd + apiCallsUsd,
    totalFromYear3Usd: secretsUsd + kmsKeysFromYear3Usd + apiCallsUsd,
  };
}

/** The cost of a stack's settings, or undefined when its secret store is off. */
export function secretStoreCostOf(s: SecureEtcdSettings): SecretStoreCost | undefined {
  if (!s.secretStore.enabled) return undefined;
  return secretStoreMonthlyCost({
    environment: s.environment,
    members: s.members.length,
    replicated: s.secretStore.replicaRegion !== undefined,
    bootstrapIntervalMinutes: s.secretStore.bootstrapIntervalMinutes,
  });
}

const usd = (n: number) => `$${n.toFixed(2)}`;

/** The README's cost table (Markdown), one row per environment. */
export function renderCostTable(rows: SecretStoreCost[]): string {
  const lines = [
    "| environment | secrets (incl. replicas) | KMS keys | bootstrap API calls / month | secrets | KMS keys (year 1 → from year 3) | API calls (Secrets Manager + KMS) | total / month (year 1 → from year 3) |",
    "|---|---|---|---|---|---|---|---|",
    ...rows.map((r) =>
      [
        r.environment,
        r.secrets,
        r.kmsKeys,
        r.apiCallsPerMonth.toLocaleString("en-US"),
        usd(r.secretsUsd),
        `${usd(r.kmsKeysFirstYearUsd)} → ${usd(r.kmsKeysFromYear3Usd)}`,
        usd(r.apiCallsUsd),
        `**${usd(r.totalFirstYearUsd)}** → ${usd(r.totalFromYear3Usd)}`,
      ].join(" | "),
    ),
  ];
  return lines.map((l) => (l.startsWith("|") ? l : `| ${l} |`)).join("\n");
}

import type { SecureEtcdSettings } from "../config/schema";
import { kmsPluginPlans } from "../kms/plan";
import { prices } from "./prices";

/*
 * What the KMS v2 envelope keys cost. The request volume is the plugin's, not the cluster's: KMS v2
 * encrypts every object with a local data key, so kube-apiserver calls the plugin's Encrypt only for a
 * new data key seed (at start and when the key id changes) and Decrypt only for seeds it has not cached.
 * What runs all the time is aws-encryption-provider's health check — an Encrypt and a Decrypt — which
 * it repeats at most every 30 s (DefaultHealthCheckPeriod) and which the kubelet's probes (every 10 s)
 * and kube-apiserver's Status polls keep due: 2 requests per 30 s per plugin instance.
 */

/** aws-encryption-provider's DefaultHealthCheckPeriod (pkg/plugin/shared_health_check.go). */
export const KMS_PLUGIN_HEALTH_CHECK_SECONDS = 30;
/** Its health check: one Encrypt, one Decrypt. */
export const KMS_REQUESTS_PER_HEALTH_CHECK = 2;

export interface EnvelopeKeyCostInput {
  environment: string;
  members: number;
  /** AWS keys that exist (archived ones included: they are kept for snapshots and still billed). */
  awsKeys: number;
  /** Keys a plugin serves on every member (primary, staged, retired). */
  servedKeys: number;
}

export interface EnvelopeKeyCost {
  environment: string;
  awsKeys: number;
  /** Plugin instances (members × served keys), each one health-checking. */
  pluginInstances: number;
  requestsPerMonth: number;
  keysFirstYearUsd: number;
  keysFromYear3Usd: number;
  requestsUsd: number;
  totalFirstYearUsd: number;
  totalFromYear3Usd: number;
}

/** Pure: the settings that drive the bill in, the monthly figure out (USD, before the free tier). */
export function envelopeKeyMonthlyCost(c: EnvelopeKeyCostInput): EnvelopeKeyCost {
  const pluginInstances = c.members * c.servedKeys;
  const checksPerMonth = (prices.hoursPerMonth * 3600) / KMS_PLUGIN_HEALTH_CHECK_SECONDS;
  const requestsPerMonth = Math.round(pluginInstances * checksPerMonth * KMS_REQUESTS_PER_HEALTH_CHECK);
  const keysFirstYearUsd = c.awsKeys * prices.kmsKeyPerMonth;
  const keysFromYear3Usd =
    c.awsKeys * (prices.kmsKeyPerMonth + prices.kmsBilledRotations * prices.kmsRotatedBackingKeyPerMonth);
  const requestsUsd = (requestsPerMonth / 10_000) * prices.kmsPer10kRequests;
  return {
    environment: c.environment,
    awsKeys: c.awsKeys,
    pluginInstances,
    requestsPerMonth,
    keysFirstYearUsd,
    keysFromYear3Usd,
    requestsUsd,
    totalFirstYearUsd: keysFirstYearUsd + requestsUsd,
    totalFromYear3Usd: keysFromYear3Usd + requestsUsd,
  };
}

/** The envelope keys' cost of a stack's settings, or undefined when no key uses kms. */
export function envelopeKeyCostOf(s: SecureEtcdSettings): EnvelopeKeyCost | undefined {
  const awsKeys = s.encryption.keys.filter((k) => k.provider === "kms").length;
  if (awsKeys === 0) return undefined;
  return envelopeKeyMonthlyCost({
    environment: s.environment,
    members: s.members.length,
    awsKeys,
    servedKeys: kmsPluginPlans(s.encryption.keys).length,
  });
}

const usd = (n: number) => `$${n.toFixed(2)}`;

/** The envelope keys' cost table (Markdown), one row per environment that uses kms. */
export function renderEnvelopeKeyCostTable(rows: EnvelopeKeyCost[]): string {
  return [
    "| environment | AWS KMS keys | plugin instances | KMS requests / month | keys (year 1 → from year 3) | requests | total / month (year 1 → from year 3) |",
    "|---|---|---|---|---|---|---|",
    ...rows.map(
      (r) =>
        `| ${[
          r.environment,
          r.awsKeys,
          r.pluginInstances,
          r.requestsPerMonth.toLocaleString("en-US"),
          `${usd(r.keysFirstYearUsd)} → ${usd(r.keysFromYear3Usd)}`,
          usd(r.requestsUsd),
          `**${usd(r.totalFirstYearUsd)}** → ${usd(r.totalFromYear3Usd)}`,
        ].join(" | ")} |`,
    ),
  ].join("\n");
}

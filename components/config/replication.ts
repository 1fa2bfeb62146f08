import type { BackupConfig } from "./backup";
import type { SecretStoreConfig } from "./secretStore";
import { show } from "./fields";

/*
 * Replication onto itself: a replica in the stack's own region survives no regional outage (and for
 * Secrets Manager, AWS refuses it), so every replication target is checked against the region the stack
 * deploys to, when that is known: the stack's `aws:region`, or the component's default AWS provider.
 * (A log bucket that is the snapshot bucket itself is refused with the backup settings.)
 */

/** Where the settings are deployed, when known before any resource exists. */
export interface DeploymentContext {
  /** The region the stack's resources go to. */
  stackRegion?: string;
  /** Where that region was read, for messages (`aws:region`, `the default aws provider's region`). */
  stackRegionSource?: string;
}

interface ReplicatedSettings {
  backup: Pick<BackupConfig, "enabled" | "replicaRegion">;
  secretStore: Pick<SecretStoreConfig, "enabled" | "replicaRegion">;
}

/** Every replication target that is the stack's own region, as a problem naming the key. */
export function selfReplicationProblems(
  s: ReplicatedSettings,
  context: DeploymentContext = {},
): { path: string; message: string }[] {
  const region = context.stackRegion;
  if (region === undefined) return [];
  const targets: [string, boolean, string | undefined, string][] = [
    ["backup.replicaRegion", s.backup.enabled, s.backup.replicaRegion, "snapshots"],
    ["secretStore.replicaRegion", s.secretStore.enabled, s.secretStore.replicaRegion, "the secrets"],
  ];
  return targets
    .filter(([, enabled, target]) => enabled && target === region)
    .map(([path, , target, what]) => ({
      path,
      message: `${show(target)} is the stack's own region (${context.stackRegionSource ?? "the stack's region"} is ${show(region)}): ${what} would replicate onto themselves and survive no regional outage; name another region (e.g. ${region === "eu-central-1" ? "eu-west-1" : "eu-central-1"}) or leave replicaRegion out`,
    }));
}

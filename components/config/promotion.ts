import { createHash } from "node:crypto";
import type { SettingsInput, SecureEtcdConfig } from "./schema";
import type { ProgramBackupKeys, ProgramTopKeys } from "./stackConfig";

/*
 * Which settings move between environments. Every config key is either PROMOTABLE — the same code and
 * the same reviewed value go dev → staging → prod — or owned by the ENVIRONMENT: its identity
 * (cluster, members, addresses, names), its key names and rotation states, its bucket names, ARNs and
 * OIDC, its retention and DR choices, anything secret. The table is typed over the schema's keys, so a
 * new key without a class does not compile (and test/promotion.test.ts walks the schema at runtime too).
 */

export type KeyClass = "promotable" | "environment";

/** Key paths down through plain objects; arrays and records are one value (they move, or stay, whole). */
type ClassifiedKeys<T> = T extends readonly unknown[]
  ? never
  : T extends object
    ? {
        [K in keyof T & string]-?: unknown extends T[K]
          ? K
          : NonNullable<T[K]> extends readonly unknown[]
            ? K
            : string extends keyof NonNullable<T[K]> // a record keyed by member: one value
              ? K
              : NonNullable<T[K]> extends object
                ? `${K}.${ClassifiedKeys<NonNullable<T[K]>>}`
                : K;
      }[keyof T & string]
    : never;

/** Every key of the component's schema plus the program's own keys. */
export type ConfigKeyPath =
  | ClassifiedKeys<SettingsInput>
  | `backup.${keyof ProgramBackupKeys & string}`
  | (keyof ProgramTopKeys & string);

export const keyClasses: Readonly<Record<ConfigKeyPath, KeyClass>> = {
  clusterName: "environment",
  environment: "environment",
  members: "environment",
  etcdVersion: "promotable",
  etcdImage: "promotable",
  keyAlgorithm: "promotable",
  caValidityHours: "promotable",
  leafValidityHours: "promotable",
  earlyRenewalHours: "promotable",
  backupClientCommonName: "promotable",
  "encryption.provider": "promotable",
  "encryption.resources": "promotable",
  "encryption.automaticReload": "promotable",
  // The plugin image moves like the etcd image; the deletion window is each environment's safety margin.
  "encryption.kms.pluginImage": "promotable",
  "encryption.kms.keyDeletionWindowDays": "environment",
  // Key names and states are each environment's own: the rotation STEPS move, the names do not.
  "encryption.keys": "environment",
  // A migration aid for one cluster's pre-existing plaintext, not a policy.
  "encryption.identityFallback": "environment",
  "paths.pkiDir": "promotable",
  "paths.manifestDir": "promotable",
  "paths.dataDir": "promotable",
  "paths.encryptionConfigDir": "promotable",
  "tls.minVersion": "promotable",
  "tls.cipherSuites": "promotable",
  // Safety switches never travel: turning one off in dev must not turn it off in prod.
  protectEncryptionKeys: "environment",
  "backup.enabled": "environment",
  "backup.bucketName": "environment",
  // Per-environment defaults exist because these differ on purpose (RPO, how long data is kept).
  "backup.schedule": "environment",
  "backup.retentionDays": "environment",
  "backup.noncurrentVersionDays": "environment",
  "backup.transitionToColdAfterDays": "promotable",
  "backup.coldStorageClass": "promotable",
  // Irreversible, and a compliance decision of the environment that takes it.
  "backup.objectLock.mode": "environment",
  "backup.objectLock.days": "environment",
  "backup.replicaRegion": "environment",
  "backup.accessLogging.targetBucket": "environment",
  "backup.accessLogging.targetPrefix": "environment",
  "backup.oidc.providerArn": "environment",
  "backup.oidc.providerUrl": "environment",
  "backup.oidc.namespace": "environment",
  "backup.oidc.serviceAccount": "environment",
  "backup.kmsKeyDeletionWindowDays": "promotable",
  // Who writes and who restores are roles of the environment's own account.
  "backup.writerRoleArns": "environment",
  "backup.restoreReaderRoleArn": "environment",
  "backup.deployJob": "environment",
  "backup.kubeContext": "environment",
  // The secret store: names, roles and recovery windows are the environment's; mechanics move.
  "secretStore.enabled": "environment",
  "secretStore.recoveryWindowDays": "environment",
  "secretStore.kmsKeyDeletionWindowDays": "promotable",
  "secretStore.replicaRegion": "environment",
  "secretStore.nodeRoles": "environment",
  "secretStore.restoreReaderRoleArn": "environment",
  "secretStore.bootstrapIntervalMinutes": "promotable",
  // A lab's choice that prod refuses: it must never travel.
  "secretStore.offlineCloudInit": "environment",
  // Which names this environment's secrets use (after a rebuild beside retained ones): its own history.
  "secretStore.generation": "environment",
  // Who deploys is the environment's (its CI and break-glass roles, in its account).
  deployerPrincipalArns: "environment",
  promotedFrom: "environment",
};

export const promotableKeys = (Object.keys(keyClasses) as ConfigKeyPath[]).filter(
  (k) => keyClasses[k] === "promotable",
);

/** The class of a key path (e.g. `encryption.keys[1].name` → the class of `encryption.keys`). */
export function classOf(path: string): KeyClass | undefined {
  const plain = path.replace(/\[\d+\]/g, "");
  for (let p = plain; p !== ""; p = p.includes(".") ? p.slice(0, p.lastIndexOf(".")) : "")
    if (p in keyClasses) return keyClasses[p as ConfigKeyPath];
  return undefined;
}

/** The value at a dotted key path of a config object. */
export function valueAt(config: unknown, path: string): unknown {
  let v: unknown = config;
  for (const seg of path.split("."))
    v = v && typeof v === "object" ? (v as Record<string, unknown>)[seg] : undefined;
  return v;
}

/** What a stack's deployment records about its promotable settings, for the next environment's gate. */
export interface PromotionRecord {
  packageVersion: string;
  /** SHA-256 of the package version and the promotable settings, canonical JSON. */
  fingerprint: string;
  /** The promotable settings themselves (nothing secret is promotable), so a gate can name what differs. */
  settings: Record<string, unknown>;
}

export function promotionRecord(config: SecureEtcdConfig, packageVersion: string): PromotionRecord {
  const settings = Object.fromEntries(promotableKeys.map((k) => [k, valueAt(config, k) ?? null]));
  const fingerprint = createHash("sha256").update(JSON.stringify({ packageVersion, settings })).digest("hex");
  return { packageVersion, fingerprint, settings };
}

/**
 * Why a stack promoted from `sourceName` may not deploy: the source never deployed, deployed another
 * package version, or deployed other promotable settings (each named). Empty when the gate opens.
 */
export function promotionGateProblems(
  sourceName: string,
  source: PromotionRecord | undefined,
  target: PromotionRecord,
): string[] {
  if (!source)
    return [
      `${JSON.stringify(sourceName)} has never deployed this package: deploy it there first, then promote`,
    ];
  const out: string[] = [];
  if (source.packageVersion !== target.packageVersion)
    out.push(
      `${JSON.stringify(sourceName)} runs secure-etcd ${source.packageVersion}, this stack ${target.packageVersion}: deploy ${target.packageVersion} to ${sourceName} first`,
    );
  for (const k of promotableKeys) {
    const a = JSON.stringify(source.settings[k] ?? null);
    const b = JSON.stringify(target.settings[k] ?? null);
    if (a !== b)
      out.push(
        `${k} is ${b} here but ${a} in ${JSON.stringify(sourceName)}: promote it, or deploy it there first`,
      );
  }
  return out;
}

import { z } from "zod";
import { DEFAULT_BOOTSTRAP_INTERVAL_MINUTES, secretStoreRow } from "../secretStore/defaults";
import { KEY_ARCHIVE_NAME } from "../secretStore/naming";
import { awsRegion, iamRoleArn } from "./backup";
import type { ProblemList } from "./errors";
import { flag, matching, show, wholeDays, wholeMinutes } from "./fields";

/*
 * Secret-store settings (Secrets Manager under a customer-managed KMS key, node roles, the node
 * bootstrap's timer): validated and resolved HERE, once. Per-environment defaults are data in
 * secretStore/defaults.ts.
 */

/** IAM role names: 1–64 of letters, digits and `+=,.@_-`. */
const iamRoleName = /^[\w+=,.@-]{1,64}$/;

export const secretStoreSchema = z
  .object({
    enabled: flag().default(true),
    recoveryWindowDays: wholeDays("secret recovery window", 7, 30).optional(),
    kmsKeyDeletionWindowDays: wholeDays("KMS key deletion window", 7, 30).default(30),
    replicaRegion: matching(awsRegion, "AWS region (e.g. eu-central-1)").optional(),
    nodeRoles: z
      .record(z.string(), matching(iamRoleName, "IAM role name (1–64 of letters, digits, +=,.@_-)"))
      .optional(),
    restoreReaderRoleArn: matching(
      iamRoleArn,
      "IAM role ARN (arn:aws:iam::<account>:role/<name>)",
    ).optional(),
    bootstrapIntervalMinutes: wholeMinutes("bootstrap interval", 1, 60).default(
      DEFAULT_BOOTSTRAP_INTERVAL_MINUTES,
    ),
    offlineCloudInit: flag().default(false),
    /**
     * 1 (default): secrets are `secure-etcd/<cluster>/<env>/<member>`; N > 1: `…/<env>/g<N>/<member>`. Bump
     * it to rebuild a destroyed stack beside the secrets its earlier deployment retained.
     */
    generation: z
      .union([z.number(), z.string()])
      .transform((v, ctx) => {
        const n = typeof v === "number" ? v : /^\s*\d+\s*$/.test(v) ? Number(v) : NaN;
        if (Number.isInteger(n) && n >= 1 && n <= 99) return n;
        ctx.addIssue({
          code: "custom",
          message: `${show(v)} is not a secret name generation; expected a whole number from 1 to 99`,
        });
        return z.NEVER;
      })
      .default(1),
  })
  .strict();

export type SecretStoreConfig = z.output<typeof secretStoreSchema>;

/** The secret store, resolved for an environment: what SecretStore and the user-data renderer consume. */
export interface ResolvedSecretStore {
  enabled: true;
  recoveryWindowDays: number;
  kmsKeyDeletionWindowDays: number;
  replicaRegion?: string;
  /** Member name → an existing IAM role to attach the member's read policy to (others get a new role). */
  nodeRoles: Record<string, string>;
  restoreReaderRoleArn?: string;
  bootstrapIntervalMinutes: number;
  offlineCloudInit: boolean;
  /** Secret name generation (1: the plain names). */
  generation: number;
  /** Things that work but that the user should know (logged at preview). */
  warnings: string[];
}

/** With the store off nothing is created in AWS; only the opt-in offline user data can reach a node. */
export type SecretStoreSettings = ResolvedSecretStore | { enabled: false; offlineCloudInit: boolean };

/** Resolves the `secretStore` block for an environment and its members; problems are added, not thrown. */
export function resolveSecretStore(
  environment: string,
  memberNames: readonly string[],
  c: SecretStoreConfig,
  backupReplicaRegion: string | undefined,
  problems: ProblemList,
): SecretStoreSettings {
  const row = secretStoreRow(environment);
  if (c.offlineCloudInit && !row.offlineCloudInitAllowed)
    problems.add(
      "secretStore.offlineCloudInit",
      `${show(c.offlineCloudInit)} is refused for environment ${show(environment)}: it puts every private key and the encryption keys into EC2 user data, which anyone with ec2:DescribeInstanceAttribute and every process on the node can read; use nodeUserData (the bootstrap fetches the bundle from Secrets Manager)`,
    );
  if (!c.enabled) return { enabled: false, offlineCloudInit: c.offlineCloudInit };
  memberNames.forEach((m, i) => {
    if (m === KEY_ARCHIVE_NAME)
      problems.add(
        `members[${i}].name`,
        `${show(m)} is reserved: the secret store keeps the key archive under that name`,
      );
  });
  const nodeRoles = c.nodeRoles ?? {};
  for (const member of Object.keys(nodeRoles))
    if (!memberNames.includes(member))
      problems.add(
        `secretStore.nodeRoles.${member}`,
        `${show(member)} is not a member; allowed keys: ${memberNames.map((m) => show(m)).join(", ")}`,
      );
  const warnings: string[] = [];
  if (backupReplicaRegion !== undefined && c.replicaRegion === undefined)
    warnings.push(
      `secretStore.replicaRegion is not set while snapshots replicate to ${backupReplicaRegion}: the key archive stays in one region, and a snapshot restored elsewhere needs its keys`,
    );
  return {
    enabled: true,
    recoveryWindowDays: c.recoveryWindowDays ?? row.recoveryWindowDays,
    kmsKeyDeletionWindowDays: c.kmsKeyDeletionWindowDays,
    replicaRegion: c.replicaRegion,
    nodeRoles,
    restoreReaderRoleArn: c.restoreReaderRoleArn,
    bootstrapIntervalMinutes: c.bootstrapIntervalMinutes,
    offlineCloudInit: c.offlineCloudInit,
    generation: c.generation,
    warnings,
  };
}

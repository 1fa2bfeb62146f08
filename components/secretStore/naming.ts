/*
 * Names in the secret store. Secret names are deterministic, so a secret's ARN pattern is known before
 * the secret exists: the KMS key policy can name it without a resource cycle, and user data can name the
 * secret before Pulumi has written it.
 */

/** The name of the key archive secret; no member may be called so. */
export const KEY_ARCHIVE_NAME = "encryption-keys";

/** Where an account, region and partition put ARNs. */
export interface AwsLocation {
  partition: string;
  region: string;
  accountId: string;
}

/**
 * `secure-etcd/<cluster>/<environment>/` for generation 1, `…/<environment>/g<N>/` after it: a stack
 * rebuilt beside the secrets an earlier deployment retained uses new names instead of colliding with
 * them (`secretStore.generation`).
 */
function secretPath(cluster: string, environment: string, generation: number): string {
  if (!Number.isInteger(generation) || generation < 1)
    throw new Error(`secret store: generation ${generation} must be a whole number from 1`);
  return `secure-etcd/${cluster}/${environment}/${generation > 1 ? `g${generation}/` : ""}`;
}

/** `secure-etcd/<cluster>/<environment>/<member>`: the secret holding that member's node bundle. */
export function memberSecretName(
  cluster: string,
  environment: string,
  member: string,
  generation = 1,
): string {
  return `${secretPath(cluster, environment, generation)}${member}`;
}

/** `secure-etcd/<cluster>/<environment>/encryption-keys`: every local encryption key, for restores. */
export function keyArchiveSecretName(cluster: string, environment: string, generation = 1): string {
  return `${secretPath(cluster, environment, generation)}${KEY_ARCHIVE_NAME}`;
}

/** `alias/secure-etcd/<cluster>-<environment>-secrets` (plus `-replica` for the replica region's key). */
export function secretsKeyAlias(cluster: string, environment: string, replica = false): string {
  return `alias/secure-etcd/${cluster}-${environment}-secrets${replica ? "-replica" : ""}`;
}

/**
 * The ARN of a secret before it exists: Secrets Manager appends `-` and six random characters, which
 * `??????` matches exactly (StringLike), so the pattern matches this secret and no other.
 */
export function secretArnPattern(at: AwsLocation, secretName: string): string {
  return `arn:${at.partition}:secretsmanager:${at.region}:${at.accountId}:secret:${secretName}-??????`;
}

/** The secret name inside a secret ARN (`…:secret:<name>-AbCdEf` → `<name>`), or undefined. */
export function secretNameOfArn(arn: string): string | undefined {
  return /^arn:[^:]+:secretsmanager:[^:]+:\d{12}:secret:(.+)-[A-Za-z0-9]{6}$/.exec(arn)?.[1];
}

/**
 * A regional service endpoint as `kms:ViaService` sees it: `<service>.<region>.<dnsSuffix>` — the
 * partition's DNS suffix (`amazonaws.com`, `amazonaws.com.cn`), never a hard-coded `.amazonaws.com`.
 */
export function viaService(service: "secretsmanager" | "s3", region: string, dnsSuffix: string): string {
  return `${service}.${region}.${dnsSuffix}`;
}

/** The Secrets Manager endpoint that KMS sees as `kms:ViaService`. */
export function secretsManagerService(region: string, dnsSuffix: string): string {
  return viaService("secretsmanager", region, dnsSuffix);
}

/** IAM caps an inline policy's name at 128 characters (letters, digits and `+=,.@_-`). */
export const INLINE_POLICY_NAME_MAX = 128;

/** The inline policy on a member's role that reads its own secret: `secure-etcd-<cluster>-<env>-<member>`. */
export function nodeReadPolicyName(cluster: string, environment: string, member: string): string {
  return `secure-etcd-${cluster}-${environment}-${member}`;
}

/** The inline policy on a member's role that writes snapshots: `…-<member>-snapshots`. */
export function nodeSnapshotWriterPolicyName(cluster: string, environment: string, member: string): string {
  return `${nodeReadPolicyName(cluster, environment, member)}-snapshots`;
}

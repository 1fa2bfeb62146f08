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

/** `secure-etcd/<cluster>/<environment>/<member>`: the secret holding that member's node bundle. */
export function memberSecretName(cluster: string, environment: string, member: string): string {
  return `secure-etcd/${cluster}/${environment}/${member}`;
}

/** `secure-etcd/<cluster>/<environment>/encryption-keys`: every local encryption key, for restores. */
export function keyArchiveSecretName(cluster: string, environment: string): string {
  return `secure-etcd/${cluster}/${environment}/${KEY_ARCHIVE_NAME}`;
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

/** The Secrets Manager endpoint that KMS sees as `kms:ViaService`. */
export function secretsManagerService(region: string): string {
  return `secretsmanager.${region}.amazonaws.com`;
}

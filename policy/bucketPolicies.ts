import { aws, isAwsManagedKey } from "./awsTypes";
import {
  createdBySecureEtcd,
  dependents,
  known,
  UNKNOWN,
  type StackResource,
  type Violation,
} from "./resources";
import type { StackPolicy } from "./types";

/*
 * Snapshot and secret-store buckets: each aws.s3.Bucket the package creates must have its hardening
 * resources (the non-V2 config resources of @pulumi/aws 7). They are separate resources, so these are
 * stack policies that join each bucket to its configs through the `bucket` input's dependencies.
 */

const bucketsOf = (rs: readonly StackResource[]) =>
  rs.filter((r) => r.type === aws.bucket && createdBySecureEtcd(r.urn));

/** One violation per bucket for which `problem` says what is missing, given its config resources of `type`. */
function perBucket(
  rs: readonly StackResource[],
  type: string,
  problem: (configs: StackResource[], bucket: StackResource) => string | undefined,
): Violation[] {
  return bucketsOf(rs).flatMap((b) => {
    const p = problem(dependents(rs, type, "bucket", b), b);
    return p ? [{ urn: b.urn, message: `bucket ${b.name}: ${p}` }] : [];
  });
}

type Rule = { applyServerSideEncryptionByDefault?: { sseAlgorithm?: string; kmsMasterKeyId?: string } };

/** Default SSE-KMS with a customer-managed key: a key from this stack, or a named key that is not `alias/aws/…`. */
export function sseProblem(configs: StackResource[], rs: readonly StackResource[]): string | undefined {
  if (configs.length === 0) return "no BucketServerSideEncryptionConfiguration";
  for (const c of configs) {
    const rules = (c.props.rules as Rule[] | undefined) ?? [];
    const kms = rules.find((r) => /^aws:kms/.test(r.applyServerSideEncryptionByDefault?.sseAlgorithm ?? ""));
    if (!kms)
      return `default encryption is ${rules.map((r) => r.applyServerSideEncryptionByDefault?.sseAlgorithm).join(",") || "unset"}, not aws:kms`;
    const deps = c.propertyDependencies?.rules ?? [];
    if (deps.some((d) => rs.some((r) => r.urn === d.urn && r.type === aws.kmsKey))) continue;
    const keyId = known(() => kms.applyServerSideEncryptionByDefault!.kmsMasterKeyId);
    // Not from a key in this stack and not known yet: read it again so the engine defers the policy.
    const id = keyId === UNKNOWN ? kms.applyServerSideEncryptionByDefault!.kmsMasterKeyId : keyId;
    if (!id)
      return "aws:kms without kmsMasterKeyId uses the AWS-managed aws/s3 key, not a customer-managed key";
    if (isAwsManagedKey(id)) return `kmsMasterKeyId ${id} is an AWS-managed key, not a customer-managed one`;
  }
  return undefined;
}

const blocks = ["blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"] as const;

export function publicAccessProblem(configs: StackResource[]): string | undefined {
  if (configs.length === 0) return "no BucketPublicAccessBlock";
  const off = blocks.filter((k) => !configs.some((c) => c.props[k] === true));
  return off.length ? `public access block without ${off.join(", ")}` : undefined;
}

export function versioningProblem(configs: StackResource[]): string | undefined {
  const statuses = configs.map(
    (c) => (c.props.versioningConfiguration as { status?: string } | undefined)?.status ?? "unset",
  );
  if (statuses.includes("Enabled")) return undefined;
  return configs.length ? `versioning is ${statuses.join(",")}, not Enabled` : "no BucketVersioning";
}

interface Statement {
  Effect?: string;
  Principal?: unknown;
  Action?: string | string[];
  Resource?: string | string[];
  Condition?: Record<string, Record<string, unknown>>;
}
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : v === undefined ? [] : [v]);
const anyone = (p: unknown) => p === "*" || list((p as { AWS?: unknown } | undefined)?.AWS).includes("*");

/** Covers the bucket itself (ListBucket…) and its objects (`…/*`), or everything. */
const coversBucketAndObjects = (resource: unknown) => {
  const rs = list(resource).map(String);
  return rs.includes("*") || (rs.some((r) => r.endsWith("/*")) && rs.some((r) => !r.endsWith("/*")));
};

/** A Deny for everyone, on every S3 action on the bucket and its objects, when `aws:SecureTransport` is false. */
export function deniesInsecureTransport(policy: unknown): boolean {
  const doc = (typeof policy === "string" ? JSON.parse(policy) : policy) as { Statement?: unknown };
  return list(doc?.Statement).some((s) => {
    const st = s as Statement;
    const secure = list(st.Condition?.Bool?.["aws:SecureTransport"]).map(String);
    return (
      st.Effect === "Deny" &&
      anyone(st.Principal) &&
      list(st.Action).some((a) => a === "s3:*" || a === "*") &&
      coversBucketAndObjects(st.Resource) &&
      secure.includes("false")
    );
  });
}

export function tlsPolicyProblem(configs: StackResource[]): string | undefined {
  if (configs.length === 0) return "no BucketPolicy";
  // The policy embeds ARNs: unknown at preview, so this read lets the engine defer the policy to update.
  return configs.some((c) => deniesInsecureTransport(c.props.policy))
    ? undefined
    : "the bucket policy does not Deny s3:* for Principal * when aws:SecureTransport is false";
}

const bucketPolicy = (
  name: string,
  displayName: string,
  remediationSteps: string,
  validate: StackPolicy["validate"],
): StackPolicy => ({
  kind: "stack",
  name,
  displayName,
  description: `${displayName} (every bucket secure-etcd creates: snapshots, replicas, the secret store).`,
  enforcementLevel: "mandatory",
  severity: "high",
  remediationSteps,
  validate,
});

export const bucketPolicies: StackPolicy[] = [
  bucketPolicy(
    "s3-sse-kms-customer-key",
    "S3 buckets encrypt by default with SSE-KMS under a customer-managed key",
    "Add a BucketServerSideEncryptionConfiguration with sseAlgorithm aws:kms and kmsMasterKeyId of an aws.kms.Key.",
    (rs) => perBucket(rs, aws.sse, (c) => sseProblem(c, rs)),
  ),
  bucketPolicy(
    "s3-public-access-blocked",
    "S3 buckets block all four kinds of public access",
    "Add a BucketPublicAccessBlock with blockPublicAcls, blockPublicPolicy, ignorePublicAcls and restrictPublicBuckets true.",
    (rs) => perBucket(rs, aws.publicAccessBlock, publicAccessProblem),
  ),
  bucketPolicy(
    "s3-versioning-enabled",
    "S3 buckets have versioning enabled",
    "Add a BucketVersioning with versioningConfiguration.status Enabled.",
    (rs) => perBucket(rs, aws.versioning, versioningProblem),
  ),
  bucketPolicy(
    "s3-deny-insecure-transport",
    "S3 bucket policies deny every request without TLS",
    'Add a bucket policy statement: Deny, Principal "*", Action s3:*, Condition Bool aws:SecureTransport "false".',
    (rs) => perBucket(rs, aws.bucketPolicy, tlsPolicyProblem),
  ),
];

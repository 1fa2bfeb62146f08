import { aws, isAwsManagedKey } from "./awsTypes";
import { createdBySecureEtcd, known, UNKNOWN, type ResourceInput } from "./resources";
import type { ResourcePolicy } from "./types";

/*
 * KMS keys and Secrets Manager secrets, judged on their inputs (what the program asks for), for every
 * one secure-etcd creates.
 */

/**
 * Symmetric keys rotate their backing key yearly with rotation on; asymmetric and HMAC keys cannot rotate.
 * Read directly: a value not known at preview makes the engine defer the policy rather than pass it.
 */
export function kmsRotationProblems(r: ResourceInput): string[] {
  const spec = r.props.keySpec ?? r.props.customerMasterKeySpec;
  if (typeof spec === "string" && spec !== "SYMMETRIC_DEFAULT")
    return [`KMS key ${r.name} is ${spec}: such keys cannot rotate; use SYMMETRIC_DEFAULT for data keys`];
  const rotation = r.props.enableKeyRotation;
  return rotation === true
    ? []
    : [`KMS key ${r.name} has enableKeyRotation ${String(rotation ?? "unset")}; it must be true`];
}

/**
 * A secret encrypted with a customer-managed key. `kmsKeyId` unset means the AWS-managed
 * `aws/secretsmanager` key, whose policy we cannot scope to the control-plane roles. A value not known
 * at preview is some resource's output (a key ARN), so being set is what decides it.
 */
export function secretKmsProblems(r: ResourceInput): string[] {
  const id = "kmsKeyId" in r.props ? known(() => r.props.kmsKeyId) : undefined;
  if (id === UNKNOWN) return [];
  if (typeof id !== "string" || id === "")
    return [`secret ${r.name} has no kmsKeyId: it would use the AWS-managed aws/secretsmanager key`];
  return isAwsManagedKey(id)
    ? [`secret ${r.name} uses the AWS-managed key ${id}, not a customer-managed one`]
    : [];
}

const scoped =
  (check: (r: ResourceInput) => string[]) =>
  (r: ResourceInput): string[] =>
    createdBySecureEtcd(r.urn) ? check(r) : [];

export const keyPolicies: ResourcePolicy[] = [
  {
    kind: "resource",
    name: "kms-key-rotation",
    displayName: "KMS keys have automatic rotation on",
    description:
      "Every KMS key secure-etcd creates (snapshots, replicas, secret store) is symmetric with rotation on.",
    enforcementLevel: "mandatory",
    severity: "high",
    remediationSteps: "Set enableKeyRotation: true on the aws.kms.Key.",
    types: [aws.kmsKey],
    validate: scoped(kmsRotationProblems),
  },
  {
    kind: "resource",
    name: "secretsmanager-customer-kms-key",
    displayName: "Secrets Manager secrets are encrypted with a customer-managed KMS key",
    description: "Every Secrets Manager secret secure-etcd creates names a customer-managed kmsKeyId.",
    enforcementLevel: "mandatory",
    severity: "high",
    remediationSteps: "Set kmsKeyId to the secret store's aws.kms.Key (its arn or keyId).",
    types: [aws.secret],
    validate: scoped(secretKmsProblems),
  },
];

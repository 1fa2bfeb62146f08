import { OBJECT_READ_ACTIONS } from "../components/backup/policies";
import { SECRET_WRITE_ACTIONS } from "../components/secretStore/policies";
import { aws } from "./awsTypes";
import {
  createdBySecureEtcd,
  dependents,
  type ResourceInput,
  type StackResource,
  type Violation,
} from "./resources";
import type { ResourcePolicy, StackPolicy } from "./types";

/*
 * Who may use the keys, write the secrets and read the snapshots (docs/aws-access.md), on the policies
 * the program asks for. The documents embed ARNs, so they are unknown at preview until those exist:
 * read directly, an unknown value makes the engine defer the policy (advisory at preview), never pass it.
 */

interface Statement {
  Sid?: string;
  Effect?: string;
  Principal?: unknown;
  Action?: string | string[];
  Resource?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}
const list = (v: unknown): string[] =>
  Array.isArray(v) ? v.map(String) : v === undefined ? [] : [String(v)];
const statements = (policy: unknown): Statement[] => {
  const doc = (typeof policy === "string" ? JSON.parse(policy) : policy) as
    { Statement?: unknown } | undefined;
  return list(doc?.Statement).length === 0
    ? []
    : ((Array.isArray(doc?.Statement) ? doc?.Statement : [doc?.Statement]) as Statement[]);
};
const everyone = (p: unknown) => p === "*" || list((p as { AWS?: unknown } | undefined)?.AWS).includes("*");
const glob = (pattern: string, action: string) =>
  new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, "\\$&")
      .replace(/\*/g, ".*")
      .replace(/\?/g, ".")}$`,
    "i",
  ).test(action);
const covers = (s: Statement, action: string) => list(s.Action).some((a) => glob(a, action));
/** A Deny for everyone but the principals a negated `aws:PrincipalArn` condition names. */
const deniesAllBut = (s: Statement) =>
  s.Effect === "Deny" &&
  everyone(s.Principal) &&
  Object.entries(s.Condition ?? {}).some(
    ([op, keys]) => /^(Arn|String)NotEquals/.test(op) && "aws:PrincipalArn" in keys,
  );

const CRYPTO = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom", "kms:CreateGrant"];

/** A key without its own policy, or one whose policy lets IAM (the account root, or everyone) use it. */
export function keyPolicyProblems(r: ResourceInput): string[] {
  const policy = r.props.policy; // unknown at preview: the engine defers
  if (typeof policy !== "string" || policy.trim() === "")
    return [
      `KMS key ${r.name} has no key policy: KMS's default lets any principal with kms:Decrypt on * (AdministratorAccess) use it`,
    ];
  return statements(policy)
    .filter((s) => s.Effect === "Allow" && CRYPTO.some((a) => covers(s, a)))
    .filter(
      (s) =>
        everyone(s.Principal) || list((s.Principal as { AWS?: unknown })?.AWS).some((p) => /:root$/.test(p)),
    )
    .map(
      (s) =>
        `KMS key ${r.name}: statement ${s.Sid ?? "(no Sid)"} lets ${everyone(s.Principal) ? "every principal" : "the account root, so any IAM policy,"} use the key`,
    );
}

/** A secret's resource policy must deny every write, and every read, to all but named principals. */
export function secretPolicyProblems(r: ResourceInput): string[] {
  const policy = r.props.policy;
  const denies = statements(policy).filter(deniesAllBut);
  const problems: string[] = [];
  const unwritable = SECRET_WRITE_ACTIONS.filter((a) => !denies.some((s) => covers(s, a)));
  if (unwritable.length)
    problems.push(
      `secret policy ${r.name} does not deny ${unwritable.join(", ")} to every principal but the deployers`,
    );
  if (!denies.some((s) => covers(s, "secretsmanager:GetSecretValue")))
    problems.push(`secret policy ${r.name} does not deny GetSecretValue to every principal but its readers`);
  if (r.props.blockPublicPolicy !== true)
    problems.push(`secret policy ${r.name} does not set blockPublicPolicy`);
  return problems;
}

/** A snapshot bucket's policy must deny object reads to all but named principals. */
export function objectReadProblem(configs: StackResource[]): string | undefined {
  if (configs.length === 0) return "no BucketPolicy";
  const denies = configs.flatMap((c) => statements(c.props.policy)).filter(deniesAllBut);
  const open = OBJECT_READ_ACTIONS.filter((a) => !denies.some((s) => covers(s, a)));
  return open.length
    ? `the bucket policy does not deny ${open.join(", ")} to every principal but the snapshot writer, the restore readers and replication`
    : undefined;
}

const scoped =
  (check: (r: ResourceInput) => string[]) =>
  (r: ResourceInput): string[] =>
    createdBySecureEtcd(r.urn) ? check(r) : [];

export const accessPolicies: (ResourcePolicy | StackPolicy)[] = [
  {
    kind: "resource",
    name: "kms-key-explicit-policy",
    displayName: "KMS keys have their own key policy, and it does not let IAM use them",
    description:
      "Every KMS key secure-etcd creates names who administers it and who may use it; no statement gives a cryptographic action to the account root or to everyone.",
    enforcementLevel: "mandatory",
    severity: "high",
    remediationSteps:
      "Give the aws.kms.Key a policy: the account root and the deployers administer it (no cryptographic action), and only the roles that need it use it, through the service that needs it.",
    types: [aws.kmsKey],
    validate: scoped(keyPolicyProblems),
  },
  {
    kind: "resource",
    name: "secret-policy-one-writer",
    displayName: "Secrets deny every write and read to all but named principals",
    description:
      "Every secret policy secure-etcd creates denies PutSecretValue, UpdateSecret, UpdateSecretVersionStage, the policy, tag, replication, restore, delete and rotation actions to all but the deployers, and GetSecretValue to all but its readers; BlockPublicPolicy is on.",
    enforcementLevel: "mandatory",
    severity: "critical",
    remediationSteps:
      "Render the secret policy with secretResourcePolicy (components/secretStore/policies.ts) and list every deploying principal in deployerPrincipalArns.",
    types: [aws.secretPolicy],
    validate: scoped(secretPolicyProblems),
  },
  {
    kind: "stack",
    name: "s3-deny-object-reads-to-others",
    displayName: "Snapshot buckets deny object reads to all but the snapshot principals",
    description:
      "Every bucket secure-etcd creates has a bucket policy that denies reading object content to every principal but the snapshot writer, the restore readers and replication.",
    enforcementLevel: "mandatory",
    severity: "high",
    remediationSteps:
      "Render the bucket policy with snapshotBucketPolicy (components/backup/policies.ts), naming the writers and restore readers.",
    validate: (rs) =>
      rs
        .filter((b) => b.type === aws.bucket && createdBySecureEtcd(b.urn))
        .flatMap((b): Violation[] => {
          const p = objectReadProblem(dependents(rs, aws.bucketPolicy, "bucket", b));
          return p ? [{ urn: b.urn, message: `bucket ${b.name}: ${p}` }] : [];
        }),
  },
];
